//! `mvlab simulate` end to end as a user runs it: no root needed, exit codes, JSON that parses,
//! and a trace that names the rule that stopped the frame.

use std::process::Command;

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
    assert!(out.contains("can the host reach its endpoints"), "{out}");
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
