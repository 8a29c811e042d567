//! The packet-path model against the real kernel: the full delivery matrix (every frame class,
//! tagged and untagged, promiscuous and not) for every macvlan mode behind a switch port with
//! hairpin off and on, plus mixed modes on one parent, a bare wire, and labs with IPv6 on, whose
//! interfaces teach the switch by themselves. The kernel is the judge:
//! any cell where it and the model disagree fails the test with the model's trace.

mod lab_support;

use lab_support::{require_root, unique};
use mvlab::diag::Source;
use mvlab::lab::{Lab, LabOptions};
use mvlab::measure::{Bench, matrix};
use mvlab::scenario::{self, TestKind};
use mvlab::stop::Stop;
use mvlab::{model, verdict};

/// Brings the scenario up, measures its matrix, and returns every disagreement with the model.
fn disagreements(text: &str) -> Vec<String> {
    require_root();
    let s =
        scenario::parse(Source::new("conformance.toml", text)).unwrap_or_else(|d| panic!("{d}"));
    let lab = Lab::up(
        &s,
        LabOptions {
            name: Some(unique("conf")),
            prefix: "mvtest".into(),
            ..LabOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let stop = Stop::new();
    let quiet = |_: &str| {};
    let bench = Bench {
        lab: &lab,
        scenario: &s,
        stop: &stop,
        max_pps: None,
        pcap_dir: None,
        progress: &quiet,
    };
    let test = &s.tests[0];
    let TestKind::Matrix(spec) = &test.kind else {
        unreachable!("the default test is a matrix")
    };
    let mut measured = matrix::measure(&bench, &test.name, spec).unwrap_or_else(|e| panic!("{e}"));
    let predicted = model::predict_matrix(&s, &test.name, spec).unwrap();
    assert_eq!(measured.cells.len(), predicted.cells.len());
    let verdicts = verdict::conform(&s, &mut measured, &predicted);
    lab.down().unwrap();
    lab_support::failed(verdicts)
}

fn mode_behind_port(mode: &str, hairpin: bool, endpoints: u32) -> String {
    let source = if mode == "source" {
        "source_macs = [\"peer\", \"e1\"]\n"
    } else {
        ""
    };
    format!(
        "[[parents]]\nport = {{ hairpin = {hairpin} }}\n[[networks]]\nmode = \"{mode}\"\n{source}[[networks.endpoints]]\ncount = {endpoints}\n[[peers]]\nname = \"peer\"\n"
    )
}

fn check(mode: &str, endpoints: u32) {
    for hairpin in [false, true] {
        let wrong = disagreements(&mode_behind_port(mode, hairpin, endpoints));
        assert!(
            wrong.is_empty(),
            "{mode}, hairpin {hairpin}: the kernel and the model disagree:\n{}",
            wrong.join("\n")
        );
    }
}

#[test]
fn bridge_mode() {
    check("bridge", 2);
}

#[test]
fn vepa_mode() {
    check("vepa", 2);
}

#[test]
fn private_mode() {
    check("private", 2);
}

#[test]
fn passthru_mode() {
    check("passthru", 1);
}

#[test]
fn source_mode() {
    check("source", 2);
}

/// With `subnet6` every interface of the lab keeps IPv6 and, as it comes up, sends frames of its
/// own (DAD, MLD, router solicitations) that teach the switch its MAC: the host's parent, which
/// sends no test frame, is known on its port before the first one.
#[test]
fn the_labs_own_ipv6_frames_teach_the_switch_in_every_mode() {
    for (mode, endpoints) in [
        ("bridge", 2),
        ("vepa", 2),
        ("private", 2),
        ("passthru", 1),
        ("source", 2),
    ] {
        let text = mode_behind_port(mode, false, endpoints).replace(
            "[[networks]]\n",
            "[[networks]]\nsubnet6 = \"2001:2::/64\"\n",
        );
        let wrong = disagreements(&text);
        assert!(
            wrong.is_empty(),
            "{mode} with IPv6: the kernel and the model disagree:\n{}",
            wrong.join("\n")
        );
    }
}

/// Only peer2 sends, so the switch (the emulated one: it learns only once its forwarder runs)
/// knows the endpoints, the host's parent and the other peer from their own IPv6 frames alone.
#[test]
fn the_emulated_switch_learns_the_labs_own_ipv6_frames() {
    let text = r#"
[switch]
kind = "emulated"
[[networks]]
mode = "bridge"
subnet6 = "2001:2::/64"
[[networks.endpoints]]
count = 2
[[peers]]
name = "peer"
[[peers]]
name = "peer2"
[[tests]]
kind = "matrix"
senders = ["peer2"]
"#;
    let wrong = disagreements(text);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn mixed_modes_on_one_parent_and_a_host_shim() {
    let text = r#"
[[parents]]
port = { hairpin = true }
[[networks]]
name = "b"
mode = "bridge"
[[networks.endpoints]]
count = 2
name = "b{n}"
[[networks]]
name = "v"
mode = "vepa"
subnet = "198.18.1.0/24"
[[networks.endpoints]]
count = 2
name = "v{n}"
[[peers]]
name = "peer"
network = "b"
[host]
network = "b"
ip = "198.18.0.250"
shim = { ip = "198.18.0.251" }
"#;
    let wrong = disagreements(text);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn bare_wire_without_a_switch() {
    let wrong = disagreements("[switch]\nkind = \"none\"\n[[networks]]\nmode = \"vepa\"\n");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
