//! The lab commands as a user runs them (the real binary): `lab up --json` inventory names, `lab
//! ls`, `lab down`, `doctor`, and the bad-input exits (2) that must create nothing: a second lab
//! of one name, an existing parent without `--use-real-parent`, no privileges. Needs root; fails
//! without it.

mod lab_support;

use std::process::Command;

use lab_support::*;
use serde_json::Value;

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[test]
fn lab_up_json_prints_the_documented_inventory_and_ls_and_down_agree() {
    require_root();
    let name = unique("cli");
    let inventory = json_of(&run(mvlab()
        .args(["lab", "up", "--json", "--name", &name])
        .arg(scenario_path("vepa"))));
    assert_eq!(inventory["lab"], name.as_str());
    let nodes = inventory["nodes"].as_array().unwrap();
    let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["host", "switch", "endpoint", "endpoint", "peer"]);
    let e1 = nodes.iter().find(|n| n["name"] == "e1").unwrap();
    assert_eq!(e1["netns"], netns(&name, "e1").as_str());
    let iface = &e1["interfaces"][0];
    for key in ["name", "mac", "ipv4", "ipv6", "mode", "vlan"] {
        assert!(iface.get(key).is_some(), "interface lacks `{key}`: {iface}");
    }
    assert_eq!(iface["mode"], "vepa");
    let ns = netns(&name, "e1");
    let ifname = iface["name"].as_str().unwrap();
    assert_eq!(link(&ns, ifname)["address"], iface["mac"]);
    assert_eq!(addresses(&ns, ifname), [iface["ipv4"][0].as_str().unwrap()]);
    let switch = nodes.iter().find(|n| n["role"] == "switch").unwrap();
    for port in switch["interfaces"].as_array().unwrap() {
        let l = link(&netns(&name, "switch"), port["name"].as_str().unwrap());
        assert_eq!(
            l["address"], port["mac"],
            "kernel-chosen MACs are read back"
        );
    }

    let listed = json_of(&run(mvlab().args(["lab", "ls", "--json"])));
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == name.as_str())
        .expect("lab ls lists the lab");
    assert_eq!(entry["status"], "up");
    assert_eq!(entry["inventory"], inventory);

    let again = run(mvlab()
        .args(["lab", "up", "--name", &name])
        .arg(scenario_path("vepa")));
    assert_eq!(again.status.code(), Some(2), "a second lab of one name");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let down = run(mvlab().args(["lab", "down", &name]));
    assert!(down.status.success());
    assert_gone(&name);
    let unknown = run(mvlab().args(["lab", "down", &name]));
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn existing_parent_needs_the_explicit_flag() {
    require_root();
    let dir = scratch_dir("real");
    let file = dir.join("real.toml");
    std::fs::write(
        &file,
        "peers = []\n[[parents]]\nname = \"eth0\"\nkind = \"existing\"\ninterface = \"eth0\"\n[[networks]]\n",
    )
    .unwrap();
    let name = unique("real");
    let out = run(mvlab().args(["lab", "up", "--name", &name]).arg(&file));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--use-real-parent"), "{stderr}");
    assert!(
        stderr.contains("real.toml:4:"),
        "points at the kind: {stderr}"
    );
    assert_gone(&name);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_privileges_lab_up_is_bad_input_and_creates_nothing() {
    require_root();
    let name = unique("nobody");
    let out = run(Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_mvlab"))
        .args(["lab", "up", "--name", &name])
        .arg(scenario_path("bridge")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("root"), "{stderr}");
    assert_gone(&name);
}

/// Whether `ip` can make a link of `kind` (in a namespace of the test's own).
fn ip_can_create(kind: &[&str]) -> bool {
    in_scratch_netns("doctor", |ns| {
        let lower = run(Command::new("ip").args([
            "-n", ns, "link", "add", "low0", "type", "veth", "peer", "name", "low1",
        ]));
        assert!(lower.status.success());
        run(Command::new("ip")
            .args([
                "-n", ns, "link", "add", "link", "low0", "name", "probe0", "type",
            ])
            .args(kind))
        .status
        .success()
    })
}

/// Whether `ip link add probe0 type KIND` (no lower device) works in a throwaway namespace.
fn ip_can_create_alone(kind: &[&str]) -> bool {
    in_scratch_netns("doctor", |ns| {
        run(Command::new("ip")
            .args(["-n", ns, "link", "add", "probe0", "type"])
            .args(kind))
        .status
        .success()
    })
}

#[test]
fn doctor_reports_what_ip_can_create() {
    require_root();
    let doctor = json_of(&run(mvlab().args(["doctor", "--json"])));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(doctor["release"], release.trim());
    let probes = &doctor["features"];
    let available = |id: &str| -> bool {
        probes
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["feature"] == id)
            .unwrap_or_else(|| panic!("doctor has no `{id}`: {probes}"))["available"]
            .as_bool()
            .unwrap()
    };
    assert!(available("privileges") && available("netns") && available("veth"));
    assert_eq!(available("vlan"), ip_can_create(&["vlan", "id", "10"]));
    assert_eq!(
        available("macvlan-private"),
        ip_can_create(&["macvlan", "mode", "private"])
    );
    assert_eq!(available("ipvlan"), ip_can_create(&["ipvlan"]));
    assert_eq!(available("macvtap"), ip_can_create(&["macvtap"]));
    assert_eq!(available("dummy"), ip_can_create_alone(&["dummy"]));
}

#[test]
fn dummy_parent_is_refused_naming_the_feature_or_built_where_the_kernel_has_it() {
    require_root();
    let dir = scratch_dir("dummy");
    let file = dir.join("dummy.toml");
    std::fs::write(
        &file,
        "peers = []\n[[parents]]\nname = \"dum0\"\nkind = \"dummy\"\n[[networks]]\n",
    )
    .unwrap();
    let has_dummy = in_scratch_netns("dummy", |ns| {
        run(Command::new("ip").args(["-n", ns, "link", "add", "d0", "type", "dummy"]))
            .status
            .success()
    });
    let name = unique("dummy");
    let out = run(mvlab().args(["lab", "up", "--name", &name]).arg(&file));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if has_dummy {
        assert!(out.status.success(), "{stderr}");
        let parent = link(&netns(&name, "host"), "dum0");
        assert_eq!(parent["linkinfo"]["info_kind"], "dummy");
        assert!(run(mvlab().args(["lab", "down", &name])).status.success());
    } else {
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains("dummy links"), "{stderr}");
        assert!(
            stderr.contains("dummy.toml:4:"),
            "points at the kind: {stderr}"
        );
    }
    assert_gone(&name);
    std::fs::remove_dir_all(&dir).unwrap();
}
