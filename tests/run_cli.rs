//! `mvlab run` end to end on real labs (as root; fails without it): exit codes, the reports read
//! back by their consumers, the matrix checked against an independent capture (tshark reading
//! the pcap files), a wrong expectation caught, and nothing left behind.

mod lab_support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use lab_support::{mvlab, require_root, scenario_path, scratch_dir as tmpdir, unique};
use mvlab::delivery::{Addressing, UNKNOWN_UNICAST_MAC};
use mvlab::measure::TestResult;
use mvlab::run::RunResult;
use serde_json::Value;

fn namespaces_of(lab: &str) -> Vec<String> {
    mvlab::netns::list_named()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(&format!("mvlab-{lab}-")))
        .collect()
}

/// Test frames of one pcapng file, as tshark decodes them: (src MAC, dst MAC, VLAN id, flow id).
/// Other frames the capture saw (IPv6 neighbour discovery and the like) are left out.
fn tshark_frames(file: &Path) -> Vec<(String, String, Option<u16>, u32)> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(file)
        .args([
            "-T",
            "fields",
            "-e",
            "eth.src",
            "-e",
            "eth.dst",
            "-e",
            "vlan.id",
            "-e",
            "data.data",
        ])
        .output()
        .expect("tshark (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let payload = f.get(3).filter(|d| d.starts_with("4d564c42"))?;
            let flow = u32::from_str_radix(&payload[16..24], 16).unwrap();
            Some((f[0].to_string(), f[1].to_string(), f[2].parse().ok(), flow))
        })
        .collect()
}

#[test]
fn run_writes_every_report_and_the_pcaps_agree_with_the_cells() {
    require_root();
    let lab = unique("runall");
    let dir = tmpdir("runall");
    let out = mvlab()
        .arg("run")
        .arg(scenario_path("vepa-hairpin"))
        .args(["--name", &lab])
        .arg("--json")
        .arg(dir.join("r.json"))
        .arg("--junit")
        .arg(dir.join("r.xml"))
        .arg("--prom")
        .arg(dir.join("r.prom"))
        .arg("--pcap")
        .arg(dir.join("pcap"))
        .arg("--report")
        .arg(dir.join("html"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PASSED"), "{stdout}");
    assert!(namespaces_of(&lab).is_empty(), "run left namespaces behind");

    let json: Value = serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["scenario"], "vepa-hairpin");
    let result: RunResult = serde_json::from_value(json).unwrap();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit.xsd");
    let xml = Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(dir.join("r.xml"))
        .output()
        .unwrap();
    assert!(
        xml.status.success(),
        "{}",
        String::from_utf8_lossy(&xml.stderr)
    );
    let prom = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(dir.join("r.prom")).unwrap())
        .output()
        .unwrap();
    assert!(
        prom.status.success(),
        "{}",
        String::from_utf8_lossy(&prom.stderr)
    );
    assert!(
        std::fs::read_to_string(dir.join("html/index.html"))
            .unwrap()
            .contains("<svg")
    );

    // Every cell against tshark's reading of the receiver's capture: frames from the sender's
    // MAC to the class's destination (to the receiver's own MAC for unicast; leaks are unicast
    // to any other station), tagged or not. Priming frames (to the unknown MAC, class bits 15)
    // are left out.
    let TestResult::Matrix(m) = &result.tests[0] else {
        panic!("a matrix first")
    };
    let scenario = mvlab::scenario::load(&scenario_path("vepa-hairpin"))
        .unwrap()
        .scenario;
    let mac: HashMap<String, String> = scenario
        .stations()
        .into_iter()
        .map(|s| (s.name, s.mac.to_string()))
        .collect();
    let mut checked = 0;
    for pass in ["not-promiscuous", "promiscuous"] {
        for to in &m.receivers {
            let file = dir
                .join("pcap")
                .join(format!("matrix-{pass}-{}.pcapng", to.replace(':', "_")));
            let frames: Vec<_> = tshark_frames(&file)
                .into_iter()
                .filter(|f| (f.3 >> 16) & 0xf != 15)
                .collect();
            for cell in m
                .cells
                .iter()
                .filter(|c| &c.to == to && c.promiscuous == (pass == "promiscuous"))
            {
                let vlan = cell.class.tagged.then_some(m.spec.vlan);
                let from = &mac[&cell.from];
                let mine = |dst: &str| {
                    frames
                        .iter()
                        .filter(|f| &f.0 == from && f.1 == dst && f.2 == vlan)
                        .count() as u64
                };
                let (received, leaked) = match cell.class.addressing {
                    Addressing::Unicast => {
                        let others: u64 = m
                            .receivers
                            .iter()
                            .filter(|r| *r != to && **r != cell.from)
                            .map(|r| mine(&mac[r]))
                            .sum();
                        (mine(&mac[to]), others)
                    }
                    other => (mine(&other.fixed_destination().unwrap().to_string()), 0),
                };
                assert_eq!((cell.received, cell.leaked), (received, leaked), "{cell:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, m.cells.len());
    assert!(m.cells.iter().any(|c| c.received > 0) && m.cells.iter().any(|c| c.leaked > 0));
    assert_ne!(UNKNOWN_UNICAST_MAC.to_string(), mac["e1"]);
}

#[test]
fn a_wrong_expectation_fails_the_run_with_a_clear_message() {
    require_root();
    let dir = tmpdir("wrong");
    let file = dir.join("wrong.toml");
    std::fs::write(
        &file,
        r#"
[[networks]]
mode = "bridge"
[[tests]]
kind = "matrix"
classes = ["unicast", "broadcast"]
promiscuous = "off"
# Wrong on purpose: bridge-mode siblings do reach each other (macvlan_queue_xmit).
expect = ["e1 -> e2 unicast: none", "e1 -> e2 broadcast: all"]
"#,
    )
    .unwrap();
    let lab = unique("wrong");
    let out = mvlab()
        .arg("run")
        .arg(&file)
        .args(["--name", &lab])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  [matrix] e1 -> e2 unicast: none"),
        "{stdout}"
    );
    assert!(
        stdout.contains("e1 -> e2 unicast not-promiscuous: 10 of 10"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pass  [matrix] e1 -> e2 broadcast: all"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED: 1 of 3 expectation(s) did not hold"),
        "{stdout}"
    );
    assert!(namespaces_of(&lab).is_empty());
}

#[test]
fn bad_input_and_missing_features_create_nothing() {
    require_root();
    let dir = tmpdir("badrun");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[[networks]]\nmode = \"vepa\"\nvlan = 9999\n").unwrap();
    let out = mvlab().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml:3:8: error: VLAN id 9999"));

    let lab = unique("vlan");
    let out = mvlab()
        .arg("run")
        .arg(scenario_path("vlan-trunk"))
        .args(["--name", &lab])
        .output()
        .unwrap();
    let has_8021q = Command::new(env!("CARGO_BIN_EXE_mvlab"))
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let doctor: Value = serde_json::from_slice(&has_8021q.stdout).unwrap();
    let vlan_ok = doctor["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["feature"] == "vlan" && x["available"] == true);
    if vlan_ok {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    } else {
        assert_eq!(out.status.code(), Some(3));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("8021q"));
        // What to do: the module, where it ships, and the ways around it.
        for says in [
            "sudo modprobe 8021q",
            "linux-image-$(uname -r)",
            "--kernel",
            "tagged_frames = true",
        ] {
            assert!(stderr.contains(says), "`{says}` missing:\n{stderr}");
        }
    }
    assert!(namespaces_of(&lab).is_empty());
}

/// A pseudo-random number below `bound` (spread, not quality).
fn jitter(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % bound.max(1)
}

fn spawn_run(lab: &str) -> std::process::Child {
    mvlab()
        .arg("run")
        .arg(scenario_path("latency"))
        .args(["--name", lab])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal_during_run(signal: nix::sys::signal::Signal) {
    require_root();
    let lab = unique("runsig");
    let child = spawn_run(&lab);
    // Inside the build or the first latency test (1 s of traffic): the handlers are in place
    // once the lab's first namespace exists, however slow the machine.
    assert!(
        lab_support::wait_for_namespace(&format!("mvlab-{lab}-")),
        "the run never started"
    );
    std::thread::sleep(std::time::Duration::from_millis(300 + jitter(1200)));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{signal}: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    lab_support::assert_gone(&lab);
}

#[test]
fn sigint_during_a_run_removes_the_lab() {
    signal_during_run(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sigterm_during_a_run_removes_the_lab() {
    signal_during_run(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sigkill_of_a_run_at_random_points_then_clean_leaves_nothing() {
    require_root();
    for round in 0..4u64 {
        let lab = unique("runkill");
        let child = spawn_run(&lab);
        std::thread::sleep(std::time::Duration::from_millis(round * 700 + jitter(700)));
        lab_support::kill_then_clean(child, &lab);
    }
}
