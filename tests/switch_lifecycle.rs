//! The emulated switch's life beside a persistent lab, through the CLI: `lab up` starts a
//! `switch serve` process (recorded in the lab's registry record) that forwards until `lab down`
//! or `clean` stops it, `run --keep` hands its in-process switch over to one, and `switch show`
//! reads what it counted. Traffic is checked with `ping` through the switch, process state
//! through /proc. Each test uses its own namespace prefix, so `clean --all` touches nothing else.
//! Needs root; fails without it.

mod lab_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab_support::{mvlab, namespaces_with, ping, require_root, scenario_path, unique};
use mvlab::lab::registry::Owner;
use serde_json::Value;

const SCENARIO: &str = r#"
[switch]
kind = "emulated"
[[networks]]
mode = "bridge"
[[networks.endpoints]]
count = 1
[[peers]]
name = "peer"
"#;

struct Persistent {
    prefix: String,
    lab: String,
    file: PathBuf,
}

impl Persistent {
    fn new(tag: &str) -> Persistent {
        require_root();
        // A prefix of its own: `clean --all --prefix` then touches this test's lab only.
        let prefix = format!("mvt{tag}{}", std::process::id());
        let lab = unique(tag);
        let file = std::env::temp_dir().join(format!("{prefix}-{lab}.toml"));
        std::fs::write(&file, SCENARIO).unwrap();
        Persistent { prefix, lab, file }
    }

    fn netns(&self, node: &str) -> String {
        format!("{}-{}-{node}", self.prefix, self.lab)
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        let out = mvlab()
            .args(args)
            .args(["--prefix", &self.prefix])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mvlab {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn up(&self) {
        let file = self.file.to_str().unwrap().to_string();
        self.cli(&["lab", "up", &file, "--name", &self.lab]);
    }

    fn record(&self) -> Value {
        let path = PathBuf::from(mvlab::lab::registry::DIR)
            .join(format!("{}-{}.json", self.prefix, self.lab));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The pid of the recorded `switch serve` process, checked through /proc.
    fn forwarder(&self) -> u32 {
        let pid = self.record()["forwarder"]["pid"]
            .as_u64()
            .expect("the record names the forwarder") as u32;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            cmdline.contains(&format!(
                "switch serve --lab {} --prefix {}",
                self.lab, self.prefix
            )),
            "{cmdline}"
        );
        pid
    }

    /// `switch show --json`, once the forwarder has written a state that satisfies `ready`
    /// (it writes one a second).
    fn show_when(&self, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = mvlab()
                .args([
                    "switch",
                    "show",
                    "--lab",
                    &self.lab,
                    "--prefix",
                    &self.prefix,
                    "--json",
                ])
                .output()
                .unwrap();
            if out.status.success() {
                let report: Value = serde_json::from_slice(&out.stdout).unwrap();
                if ready(&report) {
                    return report;
                }
                assert!(Instant::now() < deadline, "switch show: {report:#}");
            } else {
                assert!(
                    Instant::now() < deadline,
                    "switch show: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn assert_gone(&self, pid: u32) {
        assert_eq!(
            Owner::of(pid).unwrap(),
            None,
            "the forwarder {pid} still runs"
        );
        let left = namespaces_with(&format!("{}-{}-", self.prefix, self.lab));
        assert!(left.is_empty(), "{left:?}");
        for ext in ["json", "log"] {
            let state = PathBuf::from(mvlab::lab::forwarder::DIR)
                .join(format!("{}-{}.{ext}", self.prefix, self.lab));
            assert!(!state.exists(), "{} left", state.display());
        }
    }
}

impl Drop for Persistent {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        // A failed test must not leave its lab: down is a no-op when it is already gone.
        let _ = mvlab()
            .args(["lab", "down", &self.lab, "--prefix", &self.prefix])
            .output();
    }
}

/// Rx frames the switch counted on port `p` in a `switch show` report.
fn rx(report: &Value, port: &str) -> u64 {
    report["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == port)
        .unwrap()["rx_frames"]
        .as_u64()
        .unwrap()
}

#[test]
fn lab_up_forwards_in_a_process_that_lab_down_stops() {
    let lab = Persistent::new("swl");
    lab.up();
    let pid = lab.forwarder();
    assert!(
        ping(&lab.netns("e1"), "198.18.0.254"),
        "e1 reaches the peer through the switch"
    );
    let second = mvlab()
        .args([
            "switch",
            "serve",
            "--lab",
            &lab.lab,
            "--prefix",
            &lab.prefix,
        ])
        .output()
        .unwrap();
    assert_eq!(
        second.status.code(),
        Some(2),
        "a second forwarder is refused"
    );
    assert!(
        String::from_utf8_lossy(&second.stderr)
            .contains(&format!("already forwarded by process {pid}")),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    // Two echo requests in, two replies out, at least.
    lab.show_when(|r| rx(r, "p0") >= 2 && rx(r, "p1") >= 2);
    let text = mvlab()
        .args(["switch", "show", "--lab", &lab.lab, "--prefix", &lab.prefix])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("emulated switch (VLAN-unaware"));
    lab.cli(&["lab", "down", &lab.lab]);
    lab.assert_gone(pid);
}

#[test]
fn a_killed_forwarder_stops_forwarding_and_down_still_cleans_up() {
    let lab = Persistent::new("swk");
    lab.up();
    let pid = lab.forwarder();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while PathBuf::from(format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !ping(&lab.netns("e1"), "198.18.0.254"),
        "nothing forwards any more"
    );
    lab.cli(&["lab", "down", &lab.lab]);
    lab.assert_gone(pid);
}

#[test]
fn clean_all_stops_the_forwarder_of_a_persistent_lab() {
    let lab = Persistent::new("swc");
    lab.up();
    let pid = lab.forwarder();
    lab.cli(&["clean", "--all"]);
    lab.assert_gone(pid);
}

#[test]
fn run_keep_hands_the_switch_to_a_serving_process() {
    let lab = Persistent::new("swr");
    let out = mvlab()
        .arg("run")
        .arg(scenario_path("switch-native-vlan"))
        .args([
            "--name",
            &lab.lab,
            "--prefix",
            &lab.prefix,
            "--keep",
            "--json",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        result["switch"]["ports"].as_array().unwrap().len() == 3,
        "{result:#}"
    );
    let pid = lab.forwarder();
    // The serving switch has the scenario's VLANs.
    lab.show_when(|r| r["vlan_aware"] == true);
    lab.cli(&["lab", "down", &lab.lab]);
    lab.assert_gone(pid);
}
