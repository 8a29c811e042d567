//! The packet-path model against the real kernel: the full delivery matrix (every frame class,
//! tagged and untagged, promiscuous and not) for every macvlan mode behind a switch port with
//! hairpin off and on, plus mixed modes on one parent and a bare wire. The kernel is the judge:
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
