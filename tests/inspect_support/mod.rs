//! Layouts for the inspect tests, built with plain `ip` (nothing of mvlab's): namespaces with a
//! unique `mvtest-PID-N` prefix, removed when the `Layout` is dropped, a panicking test
//! included. Also `inspect` run through the library on those namespaces only, and pings.

#![allow(dead_code)] // each test binary uses its own subset

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use mvlab::inspect::{self, InspectOptions, Inspection};

/// Namespaces made for one test, deleted on drop.
pub struct Layout {
    pub prefix: String,
    made: Vec<String>,
}

impl Layout {
    pub fn new(tag: &str) -> Layout {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the inspect tests build network namespaces and must run as root"
        );
        static N: AtomicUsize = AtomicUsize::new(0);
        Layout {
            prefix: format!(
                "mvtest-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
            made: Vec::new(),
        }
    }

    /// The full name of node `node`.
    pub fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.prefix)
    }

    /// Makes namespaces for `nodes` with `lo` up and IPv6 off (no background frames).
    pub fn add(&mut self, nodes: &[&str]) {
        for n in nodes {
            let ns = self.ns(n);
            sh(&format!("ip netns add {ns}"));
            self.made.push(ns.clone());
            sh(&format!(
                "ip -n {ns} link set lo up && ip netns exec {ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"
            ));
        }
    }

    /// Runs `script` with `$P` set to the prefix (so `$P-h` names node h's namespace).
    pub fn sh(&self, script: &str) {
        sh(&format!("P={}\n{script}", self.prefix));
    }

    /// `inspect` of this layout's namespaces only.
    pub fn inspect(&self) -> Inspection {
        inspect::inspect(&InspectOptions {
            netns: vec![format!("{}-*", self.prefix)],
            docker_socket: Some("/nonexistent/docker.sock".into()),
        })
        .expect("inspect reads the layout")
    }

    /// Whether `ping` from node `from` to `ip` gets an answer.
    pub fn ping(&self, from: &str, ip: &str) -> bool {
        self.ping_via(from, None, ip)
    }

    /// The same, out of interface `dev` (SO_BINDTODEVICE) whatever the routes say.
    pub fn ping_via(&self, from: &str, dev: Option<&str>, ip: &str) -> bool {
        let ns = self.ns(from);
        let mut args = vec![
            "netns", "exec", &ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1",
        ];
        if let Some(d) = dev {
            args.extend(["-I", d]);
        }
        args.push(ip);
        Command::new("ip")
            .args(args)
            .output()
            .expect("ping")
            .status
            .success()
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        for ns in &self.made {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs a shell script with `set -e`, failing the test with its output.
pub fn sh(script: &str) {
    let out = Command::new("sh")
        .args(["-ec", script])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The model's IPv4 answer for a pair (`NETNS:IFACE`).
pub fn predicted(i: &Inspection, from: &str, to: &str, class: &str) -> bool {
    i.reach
        .iter()
        .find(|r| r.from == from && r.to == to && r.class == class)
        .unwrap_or_else(|| panic!("inspect has no {class} entry {from} -> {to}"))
        .delivered
}
