//! Every shipped scenario through `mvlab run` on the real kernel (as root; fails without it):
//! each holds every claim its file makes, and the model's prediction of every matrix cell, or
//! exits 3 naming exactly the features this kernel lacks (probed here, independently of the
//! run). `scenarios/` is the conformance suite; this keeps it honest.

mod lab_support;

use std::process::Command;

use lab_support::{load, require_root, scenario_path, scratch_dir, unique};
use mvlab::run::RunResult;
use mvlab::scenario::TestKind;

/// Runs one scenario; a missing kernel feature is accepted only with exit 3 and the feature named.
fn passes(name: &str) {
    require_root();
    let scenario = load(name);
    let lab = unique(&format!("sc{}", name.len()));
    let json = scratch_dir(&lab).join("result.json");
    let out = Command::new(env!("CARGO_BIN_EXE_mvlab"))
        .arg("run")
        .arg(scenario_path(name))
        .args(["--name", &lab, "--json"])
        .arg(&json)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let missing = mvlab::lab::probe::missing(&scenario);
    match out.status.code() {
        Some(0) => {
            assert!(
                missing.is_empty(),
                "{name}: ran although the kernel lacks {missing:?}"
            );
            let result: RunResult = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
            for test in &scenario.tests {
                let judged: Vec<_> = result
                    .expectations
                    .iter()
                    .filter(|e| e.test == test.name)
                    .collect();
                for claim in &test.expect {
                    assert!(
                        judged.iter().any(|e| e.text == claim.text && e.passed),
                        "{name}: the claim `{}` was not checked and held: {judged:?}",
                        claim.text
                    );
                }
                if matches!(test.kind, TestKind::Matrix(_)) {
                    assert!(
                        judged
                            .iter()
                            .any(|e| e.text.contains("packet-path model") && e.passed),
                        "{name}: {} was not held to the model",
                        test.name
                    );
                }
            }
            assert!(result.passed && !result.expectations.is_empty(), "{stdout}");
        }
        Some(3) => {
            assert!(
                !missing.is_empty(),
                "{name}: exit 3 on a kernel with everything it needs: {stderr}"
            );
            for (_, probe) in &missing {
                assert!(
                    stderr.contains(&format!("this kernel lacks {}", probe.description)),
                    "{name}: exit 3 without naming {}: {stderr}",
                    probe.description
                );
            }
        }
        code => panic!("{name}: exit {code:?}\n{stdout}\n{stderr}"),
    }
    let left: Vec<String> = mvlab::netns::list_named()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(&format!("mvlab-{lab}-")))
        .collect();
    assert!(left.is_empty(), "{name} left {left:?}");
}

macro_rules! scenario_tests {
    ($($test:ident => $file:literal),* $(,)?) => {
        $(#[test] fn $test() { passes($file); })*

        #[test]
        fn every_shipped_scenario_has_a_test() {
            let covered = [$($file),*];
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
                assert!(covered.contains(&stem.as_str()), "scenarios/{stem}.toml is not run by tests/run_scenarios.rs");
            }
        }
    };
}

scenario_tests! {
    default_scenario => "default",
    bridge => "bridge",
    vepa => "vepa",
    vepa_hairpin => "vepa-hairpin",
    private => "private",
    private_hairpin => "private-hairpin",
    passthru => "passthru",
    source => "source",
    host_shim => "host-shim",
    vlan_trunk => "vlan-trunk",
    bridge_vlan_trunk => "bridge-vlan-trunk",
    dummy_parent => "dummy-parent",
    scale_1000 => "scale-1000",
    rfc2544 => "rfc2544",
    latency => "latency",
    address_caching => "address-caching",
    address_learning_rate => "address-learning-rate",
    endpoint_ramp => "endpoint-ramp",
    endpoint_ramp_bcqueue => "endpoint-ramp-bcqueue",
    mac_sweep => "mac-sweep",
    ip_exhaustion => "ip-exhaustion",
    switch_vlans => "switch-vlans",
    switch_native_vlan => "switch-native-vlan",
    switch_port_security => "switch-port-security",
    docker_macvlan => "docker-macvlan",
}
