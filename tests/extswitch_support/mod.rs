//! Shared rig of the external-switch tests: a throwaway "tester" namespace whose interfaces
//! `t0`, `t1`, ... are veths into a throwaway "switch under test" namespace (`s0`, `s1`, ...),
//! mvlab run inside the tester namespace (so it meets interfaces it did not create), and the
//! switches under test with their own counters: a Linux bridge, Open vSwitch's userspace
//! datapath, and mvlab's `switch serve`. Every process started here is stopped and every
//! namespace removed when its guard drops, on every exit path. Needs root; never skips.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mvlab::lab::rtnl::{BridgeSpec, LinkKind, LinkSpec, Request, Rtnl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the external-switch tests build network namespaces and must run as root"
    );
}

/// A name unique to this test process: `xs<pid><n>`, short enough for namespace prefixes.
pub fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "xs{}{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `program args` and returns its output, panicking when it cannot start.
pub fn sh(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// Runs a command that must succeed.
pub fn must(program: &str, args: &[&str]) -> String {
    let out = sh(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The tester and the switch under test, wired port by port: `tN` in the tester is `sN` in
/// the switch's namespace. IPv6 is off in both, so no background frame teaches the switch an
/// address. Dropping it removes both namespaces.
pub struct Rig {
    pub id: String,
    pub tester: String,
    pub sut: String,
    pub dir: PathBuf,
}

impl Rig {
    pub fn new(ports: usize) -> Rig {
        require_root();
        let id = unique();
        let rig = Rig {
            tester: format!("{id}-tester"),
            sut: format!("{id}-sut"),
            dir: std::env::temp_dir().join(&id),
            id,
        };
        std::fs::create_dir_all(&rig.dir).unwrap();
        for ns in [&rig.tester, &rig.sut] {
            must("ip", &["netns", "add", ns]);
            must(
                "ip",
                &[
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
            );
        }
        for i in 0..ports {
            let (t, s) = (format!("t{i}"), format!("s{i}"));
            must(
                "ip",
                &[
                    "link",
                    "add",
                    &t,
                    "netns",
                    &rig.tester,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &s,
                    "netns",
                    &rig.sut,
                ],
            );
            must("ip", &["-n", &rig.tester, "link", "set", &t, "up"]);
            must("ip", &["-n", &rig.sut, "link", "set", &s, "up"]);
        }
        rig
    }

    /// Runs `ip ARGS` in the switch's namespace.
    pub fn sut_ip(&self, program: &str, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.sut, program];
        all.extend_from_slice(args);
        must("ip", &all)
    }

    /// Writes `text` as a scenario file of the rig's directory; returns its path.
    pub fn scenario(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `mvlab ARGS` run inside the tester namespace (its network namespace only: `nsenter`
    /// keeps the mount namespace, so the labs mvlab makes are visible to `ip netns`).
    pub fn mvlab(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.tester))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_mvlab"))
            .args(args)
            .output()
            .expect("nsenter mvlab")
    }

    /// `mvlab run SCENARIO --use-real-parent ARGS --json FILE` in the tester; the exit code and
    /// the result.
    pub fn run(&self, scenario: &Path, args: &[&str]) -> (i32, Value, String) {
        let json = self.dir.join("result.json");
        let _ = std::fs::remove_file(&json);
        let mut all = vec![
            "run",
            scenario.to_str().unwrap(),
            "--use-real-parent",
            "--prefix",
            &self.id,
            "--json",
            json.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let out = self.mvlab(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let result = std::fs::read_to_string(&json)
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or_else(|_| {
                panic!(
                    "no result: {stderr}\n{}",
                    String::from_utf8_lossy(&out.stdout)
                )
            });
        (out.status.code().unwrap_or(-1), result, stderr)
    }

    /// The flags and promiscuity of each tester interface (what mvlab must leave as it found).
    pub fn tester_flags(&self) -> Vec<(String, String, u64)> {
        let out = must("ip", &["-n", &self.tester, "-d", "-j", "link", "show"]);
        let links: Value = serde_json::from_str(&out).unwrap();
        links
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["ifname"].as_str().unwrap().to_string(),
                    l["flags"].to_string(),
                    l["promiscuity"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Namespaces of this rig's labs that are still there.
    pub fn leftovers(&self) -> Vec<String> {
        must("ip", &["netns", "list"])
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .filter(|n| {
                n.starts_with(&format!("{}-", self.id)) && n != &self.tester && n != &self.sut
            })
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for ns in [&self.tester, &self.sut] {
            let _ = sh("ip", &["netns", "del", ns]);
        }
        for ns in self.leftovers() {
            let _ = sh("ip", &["netns", "del", &ns]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Makes a Linux bridge `br0` of `s0`..`sN` in the switch's namespace, with `ageing` seconds
/// and, where the kernel has it, `fdb_max_learned` (detected by reading it back). Returns
/// whether the limit holds.
pub fn linux_bridge(rig: &Rig, ports: usize, ageing: u32, limit: u32) -> bool {
    let ns = mvlab::netns::Netns::open(&rig.sut).unwrap();
    let limited = ns
        .run(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let socket = Rtnl::open(runtime.handle()).unwrap();
                let spec = LinkSpec {
                    name: "br0".into(),
                    up: true,
                    ..LinkSpec::default()
                };
                let kind = LinkKind::Bridge(BridgeSpec {
                    ageing_time: Some(ageing),
                    fdb_max_learned: Some(limit),
                    multicast_snooping: Some(false),
                    vlan_filtering: None,
                });
                socket.run(Request::new_link(&spec, &kind)).await.unwrap();
                let state = socket.link("br0").await.unwrap().unwrap();
                state.fdb_max_learned == Some(limit)
            })
        })
        .unwrap();
    for i in 0..ports {
        must(
            "ip",
            &[
                "-n",
                &rig.sut,
                "link",
                "set",
                &format!("s{i}"),
                "master",
                "br0",
            ],
        );
    }
    limited
}

/// The dynamic entries of the bridge's table whose MAC starts with `prefix` (`bridge fdb`).
pub fn bridge_entries(rig: &Rig, prefix: &str) -> usize {
    rig.sut_ip("bridge", &["fdb", "show", "br", "br0", "dynamic"])
        .lines()
        .filter(|l| l.starts_with(prefix))
        .count()
}

/// Open vSwitch with a userspace-datapath bridge `br0` of `s0`..`sN`, its table capped at
/// `size` entries that age after `ageing` seconds. The daemons run as children of the test
/// (no `--detach`: a detached daemon is reparented to init, and its exit may leave a zombie
/// nobody reaps), their pid files, control sockets, database and logs in a directory of the
/// rig's; dropping the guard stops both and waits for them.
pub struct Ovs {
    dir: PathBuf,
    daemons: Vec<Child>,
}

impl Ovs {
    pub fn start(rig: &Rig, ports: usize, size: u32, ageing: u32) -> Ovs {
        let dir = rig.dir.join("ovs");
        std::fs::create_dir_all(&dir).unwrap();
        let path = |f: &str| dir.join(f).to_str().unwrap().to_string();
        must(
            "ovsdb-tool",
            &[
                "create",
                &path("conf.db"),
                "/usr/share/openvswitch/vswitch.ovsschema",
            ],
        );
        let mut ovs = Ovs {
            dir: dir.clone(),
            daemons: Vec::new(),
        };
        let spawn = |args: Vec<String>| {
            Command::new("ip")
                .args(["netns", "exec", &rig.sut])
                .args(args)
                .env("OVS_RUNDIR", &dir)
                .env("OVS_DBDIR", &dir)
                .env("OVS_LOGDIR", &dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("an Open vSwitch daemon (apt-get install openvswitch-switch)")
        };
        ovs.daemons.push(spawn(vec![
            "ovsdb-server".into(),
            path("conf.db"),
            format!("--remote=punix:{}", path("db.sock")),
            format!("--pidfile={}", path("ovsdb-server.pid")),
            format!("--unixctl={}", path("ovsdb-server.ctl")),
            format!("--log-file={}", path("ovsdb-server.log")),
        ]));
        wait_for(&dir.join("db.sock"));
        ovs.daemons.push(spawn(vec![
            "ovs-vswitchd".into(),
            format!("unix:{}", path("db.sock")),
            format!("--pidfile={}", path("ovs-vswitchd.pid")),
            format!("--unixctl={}", path("ovs-vswitchd.ctl")),
            format!("--log-file={}", path("ovs-vswitchd.log")),
        ]));
        wait_for(&dir.join("ovs-vswitchd.ctl"));
        let mut vsctl = vec![
            format!("--db=unix:{}", path("db.sock")),
            "add-br".into(),
            "br0".into(),
            "--".into(),
            "set".into(),
            "bridge".into(),
            "br0".into(),
            "datapath_type=netdev".into(),
            format!("other_config:mac-table-size={size}"),
            format!("other_config:mac-aging-time={ageing}"),
        ];
        for i in 0..ports {
            vsctl.extend([
                "--".into(),
                "add-port".into(),
                "br0".into(),
                format!("s{i}"),
            ]);
        }
        let args: Vec<&str> = vsctl.iter().map(String::as_str).collect();
        must("ovs-vsctl", &args);
        ovs
    }

    /// `ovs-appctl ARGS` against this ovs-vswitchd.
    pub fn appctl(&self, args: &[&str]) -> String {
        let ctl = self.dir.join("ovs-vswitchd.ctl");
        let mut all = vec!["-t", ctl.to_str().unwrap()];
        all.extend_from_slice(args);
        must("ovs-appctl", &all)
    }

    /// The entries of `fdb/show br0`.
    pub fn entries(&self) -> usize {
        self.appctl(&["fdb/show", "br0"]).lines().skip(1).count()
    }

    /// A counter of `fdb/stats-show br0`, by the start of its line.
    pub fn stat(&self, name: &str) -> u64 {
        self.appctl(&["fdb/stats-show", "br0"])
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().split('/').next().map(str::to_string))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` in fdb/stats-show"))
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        for child in self.daemons.iter_mut().rev() {
            // `ip netns exec` execs the daemon: the child is the daemon itself.
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `mvlab switch serve --port s0 ...` in the switch's namespace, with a scenario's emulated
/// switch settings; stopped (SIGTERM, then waited for) when dropped.
pub struct Serve {
    child: Child,
}

impl Serve {
    pub fn start(rig: &Rig, ports: usize, settings: &Path) -> Serve {
        let mut args: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            rig.sut.clone(),
            env!("CARGO_BIN_EXE_mvlab").into(),
            "switch".into(),
            "serve".into(),
            "--scenario".into(),
            settings.to_str().unwrap().into(),
        ];
        for i in 0..ports {
            args.extend(["--port".into(), format!("s{i}")]);
        }
        let mut child = Command::new("ip")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mvlab switch serve");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "forwarding", "switch serve did not start");
        Serve { child }
    }

    /// Stops it and returns what it printed: its counters, drops and table.
    pub fn stop(mut self) -> String {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        }
        let _ = self.child.wait();
        out
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// The named test's result of a run.
pub fn test<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no test `{name}` in {result}"))
}

/// The ways the matrix says the switch under test differs from the reference, each with the
/// `from -> to` of its cells.
pub fn deviations(result: &Value) -> Vec<(String, Vec<String>)> {
    result["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let behaviour = e["text"].as_str()?.strip_prefix("switch under test: ")?;
            let detail = e["detail"].as_str().unwrap_or_default();
            let cells = detail
                .split_once("cells: ")
                .map(|(_, c)| c)
                .unwrap_or_default()
                .split("; ")
                .filter_map(|c| {
                    let mut w = c.split_whitespace();
                    Some(format!("{} -> {}", w.next()?, w.nth(1)?))
                })
                .collect();
            Some((behaviour.to_string(), cells))
        })
        .collect()
}
