//! The `gen`, `capture` and `reflect` commands as a user runs them: bad input exits 2 with a
//! message that says what is wrong, `--json` is data, and a capture's pcapng file is read back
//! by tcpdump. Needs root (the non-root case drops privileges itself); fails without it.

mod engine_common;

use std::process::{Command, Output, Stdio};

use engine_common::{E2_MAC, Lab, run};
use mvlab::addr::MacAddr;

const BIN: &str = env!("CARGO_BIN_EXE_mvlab");

fn mvlab(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run mvlab")
}

fn gen_in(lab: &Lab, extra: &[&str]) -> Output {
    let ns = lab.ns("e1");
    let mut v = vec!["gen", "--netns", ns.as_str(), "--iface", "eth0"];
    v.extend(extra);
    mvlab(&v)
}

fn assert_bad_input(out: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(says), "`{says}` not in: {stderr}");
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let lab = Lab::new();
    assert_bad_input(
        &mvlab(&[
            "gen",
            "--netns",
            "mvtest-no-such-ns",
            "--iface",
            "eth0",
            "--count",
            "1",
        ]),
        "does not exist",
    );
    let ns = lab.ns("e1");
    assert_bad_input(
        &mvlab(&["gen", "--netns", &ns, "--iface", "nope0", "--count", "1"]),
        "interface `nope0` does not exist",
    );
    assert_bad_input(
        &mvlab(&[
            "capture", "--netns", &ns, "--iface", "nope0", "--count", "1",
        ]),
        "interface `nope0` does not exist",
    );
    assert_bad_input(
        &gen_in(&lab, &["--count", "1", "--size", "59"]),
        "below the 60",
    );
    assert_bad_input(
        &gen_in(&lab, &["--count", "1", "--size", "1515"]),
        "MTU 1500",
    );
    assert_bad_input(
        &gen_in(&lab, &["--count", "1", "--rate", "0"]),
        "above zero",
    );
    assert_bad_input(
        &gen_in(
            &lab,
            &[
                "--count",
                "1",
                "--src-sweep",
                "17",
                "--sweep-base",
                "02:ff:ff:ff:ff:f0",
            ],
        ),
        "does not fit",
    );
    assert_bad_input(
        &gen_in(&lab, &["--count", "1", "--src", "00:11:22:33:44:55"]),
        "locally administered",
    );
    assert_bad_input(&gen_in(&lab, &[]), "--count N or --duration");
    assert_bad_input(
        &gen_in(&lab, &["--count", "1", "--rate", "fast"]),
        "not a rate",
    );
}

#[test]
fn units_out_of_bounds_exit_2_before_any_lab_is_needed() {
    // Argument parsing refuses these before the namespace is looked up: no lab, no root needed.
    let place = ["--netns", "mvtest-no-such-ns", "--iface", "eth0"];
    for command in ["gen", "capture", "reflect"] {
        for duration in ["1e99s", "1e20s", "18446744073709551616s"] {
            let arg = format!("--duration={duration}");
            let out = mvlab(&[&[command][..], &place, &[arg.as_str()]].concat());
            assert_bad_input(&out, "longer than 168h");
        }
        let out = mvlab(&[&[command][..], &place, &["--duration", "5"]].concat());
        assert_bad_input(&out, "`5s`");
    }
    let gen_with = |extra: &[&str]| mvlab(&[&["gen"][..], &place, extra].concat());
    assert_bad_input(&gen_with(&["--count", "1", "--rate", "1e99pps"]), "faster");
    assert_bad_input(&gen_with(&["--count", "1", "--rate", "1000"]), "`1000pps`");
}

#[test]
fn a_non_root_user_is_told_to_use_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root to drop from"
    );
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["gen", "--netns", "any", "--iface", "eth0", "--count", "1"])
        .output()
        .expect("setpriv");
    assert_bad_input(&out, "need root");
}

#[test]
fn json_results_and_a_pcap_that_tcpdump_reads() {
    let lab = Lab::new();
    let pcap = std::env::temp_dir().join(format!("mvtest-eng-cli-{}.pcapng", std::process::id()));
    let e2 = lab.ns("e2");
    let capture = Command::new(BIN)
        .args([
            "capture", "--netns", &e2, "--iface", "eth0", "--count", "300", "--json",
        ])
        .args(["--duration", "20s", "--pcap", pcap.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let sent = gen_in(
        &lab,
        &[
            "--dst",
            &E2_MAC.to_string(),
            "--count",
            "300",
            "--rate",
            "10kpps",
            "--cpus",
            "2",
            "--json",
        ],
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(sent["frames"], 300);
    assert_eq!(sent["flows"].as_array().unwrap().len(), 2);
    let got = capture.wait_with_output().unwrap();
    assert!(got.status.success());
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(got["test_frames"], 300);
    assert_eq!(got["kernel"]["drops"], 0);
    let flows = got["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    for f in flows {
        assert_eq!(f["lost"], 0);
        assert_eq!(f["received"], 150);
    }
    let read = run(
        "tcpdump",
        &["-nn", "-r", pcap.to_str().unwrap(), "ether proto 0x88b5"],
    );
    let lines = String::from_utf8(read.stdout).unwrap();
    assert_eq!(lines.lines().filter(|l| !l.starts_with('\t')).count(), 300);
    std::fs::remove_file(&pcap).unwrap();
}

/// A lab built by `mvlab lab up` (prefix `mvtest`), taken down on drop.
struct BuiltLab {
    name: String,
    inventory: serde_json::Value,
}

impl BuiltLab {
    fn up(scenario: &str) -> BuiltLab {
        let name = format!("eng{}", std::process::id());
        let file = std::env::temp_dir().join(format!("mvtest-{name}.toml"));
        std::fs::write(&file, scenario).unwrap();
        let out = mvlab(&[
            "lab",
            "up",
            file.to_str().unwrap(),
            "--name",
            &name,
            "--prefix",
            "mvtest",
            "--json",
        ]);
        std::fs::remove_file(&file).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let inventory = serde_json::from_slice(&out.stdout).expect("lab up --json");
        BuiltLab { name, inventory }
    }

    fn mac(&self, node: &str) -> MacAddr {
        let nodes = self.inventory["nodes"].as_array().unwrap();
        let n = nodes.iter().find(|n| n["name"] == node).unwrap();
        n["interfaces"][0]["mac"].as_str().unwrap().parse().unwrap()
    }
}

impl Drop for BuiltLab {
    fn drop(&mut self) {
        let _ = mvlab(&["lab", "down", &self.name, "--prefix", "mvtest"]);
    }
}

#[test]
fn lab_nodes_are_addressed_by_name() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "building a lab needs root"
    );
    let lab = BuiltLab::up(
        "[[networks]]\nmode = \"bridge\"\n[[networks.endpoints]]\ncount = 2\n[[peers]]\nname = \"peer\"\n",
    );
    let at = |node: &str| {
        vec!["--lab", lab.name.as_str(), "--prefix", "mvtest", "--node"]
            .into_iter()
            .chain([node])
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let mut capture_args = vec!["capture".to_string()];
    capture_args.extend(at("peer"));
    capture_args.extend(["--count", "400", "--duration", "20s", "--json"].map(String::from));
    let capture = Command::new(BIN)
        .args(&capture_args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut gen_args = vec!["gen".to_string()];
    gen_args.extend(at("e1"));
    gen_args.extend(
        [
            "--dst",
            &lab.mac("peer").to_string(),
            "--count",
            "400",
            "--rate",
            "20kpps",
        ]
        .map(String::from),
    );
    let sent = Command::new(BIN).args(&gen_args).output().unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let got = capture.wait_with_output().unwrap();
    assert!(got.status.success());
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(got["test_frames"], 400);
    assert_eq!(got["flows"][0]["lost"], 0);
    assert_eq!(got["flows"][0]["source"], lab.mac("e1").to_string());

    let mut no_node = vec!["gen".to_string()];
    no_node.extend(at("nobody"));
    no_node.extend(["--count", "1"].map(String::from));
    assert_bad_input(
        &Command::new(BIN).args(&no_node).output().unwrap(),
        "has no node `nobody`",
    );
}
