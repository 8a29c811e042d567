//! `mvlab simulate` end to end as a user runs it: no root needed, exit codes, JSON that parses
//! and says what the model found, a trace that names the rule that stopped the frame, and the
//! model's prediction of every shipped scenario holding that scenario's own delivery claims
//! (each was checked on real kernels, so a rule that changes breaks this without root).

use std::process::Command;

use mvlab::measure::TestResult;
use mvlab::scenario::{self, TestKind};

fn mvlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mvlab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the mvlab binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn simulate_prints_the_matrix_and_the_host_reach() {
    let (code, out, err) = mvlab(&["simulate", "scenarios/host-shim.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("matrix, non-promiscuous pass"), "{out}");
    // The answer, not just its heading: the host's own address cannot reach its macvlans (the
    // ARP broadcast from the parent never reaches them), the shim can.
    let reach = out
        .lines()
        .skip_while(|l| !l.contains("can the host reach its endpoints"))
        .nth(2)
        .unwrap_or_else(|| panic!("no host-reach row: {out}"));
    assert!(reach.contains("no: the ARP request"), "{reach}");
    assert!(reach.trim_end().ends_with("yes"), "{reach}");
    let (_, json, _) = mvlab(&["simulate", "scenarios/host-shim.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["host_reach"][0]["direct"]["reachable"], false);
    assert_eq!(v["host_reach"][0]["shim"]["reachable"], true);
}

#[test]
fn the_model_predicts_what_every_shipped_scenario_claims() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let s = scenario::load(&path)
            .unwrap_or_else(|d| panic!("{d}"))
            .scenario;
        let mut predicted: Vec<TestResult> = Vec::new();
        let mut matrices = Vec::new();
        for test in &s.tests {
            if let TestKind::Matrix(m) = &test.kind {
                let p = mvlab::model::predict_matrix(&s, &test.name, m)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                predicted.push(TestResult::Matrix(p));
                matrices.push(test.name.clone());
            }
        }
        let claims: usize = s
            .tests
            .iter()
            .filter(|t| matrices.contains(&t.name))
            .map(|t| t.expect.len())
            .sum();
        let judged: Vec<_> = mvlab::verdict::judge(&s, &mut predicted)
            .into_iter()
            .filter(|e| matrices.contains(&e.test))
            .collect();
        assert_eq!(judged.len(), claims, "{}", path.display());
        let failed: Vec<_> = judged.iter().filter(|e| !e.passed).collect();
        assert!(failed.is_empty(), "{}: {failed:#?}", path.display());
        checked += claims;
    }
    assert!(
        checked > 100,
        "the shipped scenarios make {checked} delivery claims"
    );
}

#[test]
fn simulate_json_is_the_result_data() {
    let (code, out, err) = mvlab(&["simulate", "scenarios/vepa.toml", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let cells = v["cells"].as_array().expect("small labs list every cell");
    let e1_e2_unicast = cells
        .iter()
        .find(|c| {
            c["from"] == "e1"
                && c["to"] == "e2"
                && c["class"] == "unicast"
                && c["promiscuous"] == false
        })
        .expect("a cell e1 -> e2 unicast");
    assert_eq!(
        e1_e2_unicast["received"], 0,
        "vepa without hairpin: {e1_e2_unicast}"
    );
}

#[test]
fn trace_names_the_hairpin_rule() {
    let (code, out, err) = mvlab(&[
        "simulate",
        "scenarios/vepa.toml",
        "--trace",
        "e1",
        "e2",
        "unicast",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("hairpin off: not sent back on the port it came from"),
        "{out}"
    );
    assert!(out.contains("e2 receives nothing"), "{out}");
}

#[test]
fn bad_input_exits_2_with_a_hint() {
    let (code, _, err) = mvlab(&[
        "simulate",
        "scenarios/vepa.toml",
        "--trace",
        "e1",
        "nobody",
        "unicast",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("there is no node `nobody`"), "{err}");
    let (code, _, err) = mvlab(&[
        "simulate",
        "scenarios/vepa.toml",
        "--trace",
        "e1",
        "e2",
        "anycast",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not a frame class"), "{err}");
    let (code, _, _) = mvlab(&["simulate", "scenarios/does-not-exist.toml"]);
    assert_eq!(code, 2);
}
