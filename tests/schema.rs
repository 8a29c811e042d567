//! The scenario format's JSON Schema: `mvlab schema` prints exactly the committed
//! `schema/scenario.schema.json` (regenerate it with `mvlab schema > schema/scenario.schema.json`
//! when the format changes), and a validator that shares nothing with mvlab (Python's tomllib and
//! the `jsonschema` package, in the virtualenv `scripts/setup` makes) accepts every shipped
//! scenario and refuses what mvlab refuses for its shape. No root needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn committed() -> PathBuf {
    root().join("schema/scenario.schema.json")
}

/// `scripts/validate-scenarios SCHEMA FILES...` with the virtualenv's Python.
fn validate(files: &[PathBuf]) -> Output {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let python = Path::new(&home).join(".cache/mvlab/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `sudo scripts/setup` makes the virtualenv with jsonschema",
        python.display()
    );
    Command::new(python)
        .arg(root().join("scripts/validate-scenarios"))
        .arg(committed())
        .args(files)
        .output()
        .expect("python runs")
}

fn shipped() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/full"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_committed_schema_is_the_one_mvlab_generates() {
    let out = Command::new(env!("CARGO_BIN_EXE_mvlab"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(committed()).unwrap();
    assert!(
        generated == committed,
        "schema/scenario.schema.json is stale: run `mvlab schema > schema/scenario.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    let network = &schema["$defs"]["Network"]["properties"]["mode"];
    assert!(network.to_string().contains("Mode"), "{network}");
    let modes = &schema["$defs"]["Mode"]["enum"];
    assert_eq!(
        modes,
        &serde_json::json!(["bridge", "vepa", "private", "passthru", "source"])
    );
}

#[test]
fn every_shipped_scenario_validates_against_it_independently() {
    let files = shipped();
    assert!(files.len() > 20, "found the scenarios: {files:?}");
    let out = validate(&files);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": ok")).count(),
        files.len()
    );
}

#[test]
fn the_independent_validator_refuses_what_mvlab_refuses() {
    let dir = std::env::temp_dir().join(format!("mvlab-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "unknown-key",
            "[[networks]]\nmode = \"bridge\"\ncolour = \"red\"\n",
        ),
        ("bad-mode", "[[networks]]\nmode = \"ipvlan\"\n"),
        (
            "wrong-type",
            "[[networks]]\nmode = \"bridge\"\nnopromisc = \"yes\"\n",
        ),
        ("test-without-kind", "[[tests]]\nframes = 3\n"),
    ];
    for (name, text) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let check = Command::new(env!("CARGO_BIN_EXE_mvlab"))
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(2), "mvlab refuses {name}");
        let out = validate(std::slice::from_ref(&file));
        assert_eq!(
            out.status.code(),
            Some(1),
            "the schema refuses {name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
