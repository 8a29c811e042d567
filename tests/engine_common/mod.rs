//! The fixture of the engine's integration tests, built with `ip` until the lab builder lands:
//! a `host` namespace whose veth parent `eth0` is port p0 of bridge br0 in a `sw` namespace, two
//! bridge-mode macvlan endpoints `e1`, `e2` on that parent (each `eth0` in its own namespace),
//! and a `peer` on port p1. Every namespace is `mvtest-eng-<pid>-<n>-<node>` and is removed when
//! the fixture drops, whatever way the test ends. IPv6 is off, so the only frames are the
//! tests' own. Needs root: without it the test fails.

// Each test file uses a different part of this fixture.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use mvlab::addr::MacAddr;
use mvlab::engine::Attachment;

pub const E1_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0xe1, 0x01]);
pub const E2_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0xe2, 0x02]);
pub const PEER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0xfe, 0x03]);

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The lab of the module comment.
pub struct Lab {
    prefix: String,
}

impl Lab {
    pub fn new() -> Lab {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the engine's integration tests build namespaces and need root"
        );
        let prefix = format!(
            "mvtest-eng-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let lab = Lab { prefix };
        lab.build();
        lab
    }

    pub fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.prefix)
    }

    fn ip(&self, node: &str, args: &[&str]) {
        let ns = self.ns(node);
        let mut v = vec!["-n", ns.as_str()];
        v.extend(args);
        run("ip", &v);
    }

    fn build(&self) {
        for node in ["host", "sw", "e1", "e2", "peer"] {
            let ns = self.ns(node);
            run("ip", &["netns", "add", &ns]);
            // No IPv6 background (DAD, router and MLD solicitations): exact counts by tshark.
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    &ns,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
            );
        }
        let (host, peer, e1, e2) = (
            self.ns("host"),
            self.ns("peer"),
            self.ns("e1"),
            self.ns("e2"),
        );
        self.ip("sw", &["link", "add", "br0", "type", "bridge"]);
        self.ip(
            "sw",
            &[
                "link", "add", "p0", "type", "veth", "peer", "name", "eth0", "netns", &host,
            ],
        );
        self.ip(
            "sw",
            &[
                "link", "add", "p1", "type", "veth", "peer", "name", "eth0", "netns", &peer,
            ],
        );
        for port in ["p0", "p1"] {
            self.ip("sw", &["link", "set", port, "master", "br0", "up"]);
        }
        self.ip("sw", &["link", "set", "br0", "up"]);
        self.ip("host", &["link", "set", "eth0", "up"]);
        // Each macvlan is made under a name the host does not have, then renamed in its own
        // namespace: kernels up to 6.12 look a new link's name up in the sending namespace
        // first, where `eth0` (the parent) exists, and refuse it with EEXIST.
        for (node, ns, mac) in [("e1", &e1, E1_MAC), ("e2", &e2, E2_MAC)] {
            let mac = mac.to_string();
            let temporary = format!("mv-{node}");
            self.ip(
                "host",
                &[
                    "link", "add", "link", "eth0", "name", &temporary, "netns", ns, "address",
                    &mac, "type", "macvlan", "mode", "bridge",
                ],
            );
            self.ip(node, &["link", "set", &temporary, "name", "eth0"]);
        }
        self.ip(
            "peer",
            &["link", "set", "eth0", "address", &PEER_MAC.to_string()],
        );
        for node in ["e1", "e2", "peer"] {
            self.ip(node, &["link", "set", "eth0", "up"]);
        }
    }

    pub fn at(&self, node: &str) -> Attachment {
        Attachment::open(&self.ns(node), "eth0").expect("open attachment")
    }

    /// `ip -s` receive packet counter of `eth0` in `node`: an independent count.
    pub fn rx_packets(&self, node: &str) -> u64 {
        let out = run(
            "ip",
            &["-n", &self.ns(node), "-j", "-s", "link", "show", "eth0"],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j output");
        v[0]["stats64"]["rx"]["packets"]
            .as_u64()
            .expect("rx packets")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for node in ["e1", "e2", "peer", "host", "sw"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(node)])
                .output();
        }
    }
}
