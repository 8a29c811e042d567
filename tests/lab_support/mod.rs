//! Shared helpers of the lab integration tests: unique names, scenario loading, independent views
//! of the kernel through `ip -j` and `ping`, and checks that a lab left nothing behind. Everything
//! here needs root: the helpers fail loudly without it, they never skip.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use mvlab::lab::{Lab, LabOptions};
use mvlab::scenario::{self, Scenario};
use serde_json::Value;

/// Fails the test (never skips it) when not running as root.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the lab integration tests build network namespaces and must run as root (sudo scripts/test)"
    );
}

/// A lab name unique to this test run: `<tag>-<pid>-<n>`.
pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

pub fn load(name: &str) -> Scenario {
    scenario::load(&scenario_path(name))
        .unwrap_or_else(|d| panic!("scenario {name}: {d}"))
        .scenario
}

/// On a kernel that lacks a feature `s` needs (probed as `mvlab doctor` probes), building it
/// must be refused as a missing feature (exit class 3) naming each one, leaving nothing: then
/// this checks that and returns true, and the caller's test of the feature itself is done. On a
/// kernel with everything `s` needs it returns false. (The kernel matrix runs every test on
/// Debian's 6.1, which lacks `fdb_max_learned`, as well as on kernels that have it.)
pub fn refused_here(s: &Scenario, tag: &str) -> bool {
    require_root();
    let missing = mvlab::lab::probe::missing(s);
    if missing.is_empty() {
        return false;
    }
    let name = unique(tag);
    let e = Lab::up(
        s,
        LabOptions {
            name: Some(name.clone()),
            ..LabOptions::default()
        },
    )
    .expect_err("a lab that needs what the kernel lacks must not build");
    assert_eq!(e.outcome(), mvlab::diag::Outcome::MissingFeature, "{e}");
    for (need, probe) in &missing {
        assert!(
            e.to_string().contains(&probe.description),
            "the refusal names {}: {e}",
            need.feature
        );
    }
    assert_gone(&name);
    true
}

/// Brings `s` up under a unique name through the library (held by this process).
pub fn up(s: &Scenario, tag: &str) -> Lab {
    require_root();
    Lab::up(
        s,
        LabOptions {
            name: Some(unique(tag)),
            ..LabOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("lab up {tag}: {e}"))
}

pub fn netns(lab: &str, node: &str) -> String {
    format!("mvlab-{lab}-{node}")
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// `ip -j -d [-n NS] ARGS` parsed.
pub fn ip_json(ns: Option<&str>, args: &[&str]) -> Value {
    let mut cmd = Command::new("ip");
    cmd.args(["-j", "-d"]);
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    cmd.args(args);
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{cmd:?} output: {e}"))
}

/// The `ip -j -d link` entry of `ifname` in `ns`.
pub fn link(ns: &str, ifname: &str) -> Value {
    ip_json(Some(ns), &["link", "show", "dev", ifname])[0].clone()
}

/// The `local/prefixlen` addresses of `ifname` in `ns` (global scope only).
pub fn addresses(ns: &str, ifname: &str) -> Vec<String> {
    ip_json(Some(ns), &["addr", "show", "dev", ifname])[0]["addr_info"]
        .as_array()
        .expect("addr_info")
        .iter()
        .filter(|a| a["scope"] == "global")
        .map(|a| {
            format!(
                "{}/{}",
                a["local"].as_str().unwrap(),
                a["prefixlen"].as_u64().unwrap()
            )
        })
        .collect()
}

/// True when `ping` from namespace `ns` to `ip` gets an answer.
pub fn ping(ns: &str, ip: &str) -> bool {
    run(Command::new("ip").args([
        "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", ip,
    ]))
    .status
    .success()
}

/// Namespaces under /run/netns whose name starts with `prefix`.
pub fn namespaces_with(prefix: &str) -> Vec<String> {
    mvlab::netns::list_named()
        .expect("list /run/netns")
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Waits until a namespace whose name starts with `prefix` exists (a child mvlab has started
/// building: its signal handlers are in place by then), at most a minute; false if none came.
pub fn wait_for_namespace(prefix: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if !namespaces_with(prefix).is_empty() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

/// Asserts that lab `lab` left no namespace, no registry record and no marked link in the root
/// namespace.
pub fn assert_gone(lab: &str) {
    let left = namespaces_with(&format!("mvlab-{lab}-"));
    assert!(left.is_empty(), "lab {lab} left namespaces {left:?}");
    let record = PathBuf::from(mvlab::lab::registry::DIR).join(format!("mvlab-{lab}.json"));
    assert!(!record.exists(), "lab {lab} left {}", record.display());
    let alias = format!("mvlab:{lab}");
    let root = ip_json(None, &["link"]);
    let marked: Vec<&Value> = root
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["ifalias"] == alias.as_str())
        .collect();
    assert!(marked.is_empty(), "lab {lab} left links {marked:?}");
}

pub fn mvlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mvlab"))
}

/// Kills a running mvlab with SIGKILL (nothing of its own cleanup runs), then `mvlab clean`
/// must remove every trace of `lab`.
pub fn kill_then_clean(mut child: std::process::Child, lab: &str) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    let out = run(mvlab().arg("clean"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_gone(lab);
}

/// The entries bridge `br0` of a lab learned for made-up test addresses (`06:...`: address
/// tests and MAC sweeps), per `bridge -j fdb show` in the switch namespace.
pub fn learned_test_macs(lab: &str) -> usize {
    let out = run(Command::new("ip").args([
        "netns",
        "exec",
        &netns(lab, "switch"),
        "bridge",
        "-j",
        "fdb",
        "show",
        "br",
        "br0",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    entries
        .iter()
        .filter(|e| e["mac"].as_str().is_some_and(|m| m.starts_with("06:")))
        .filter(|e| e["state"].as_str() != Some("permanent"))
        .count()
}

/// One field of every frame of a capture file, as tshark reads it (`-T fields -e FIELD`).
pub fn tshark_field(file: &std::path::Path, field: &str) -> Vec<String> {
    let out = run(Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-T", "fields", "-e", field]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A fresh directory of the test's own under the system's temporary directory.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `f` with the name of a throwaway namespace (`mvtest-...`), removed afterwards.
pub fn in_scratch_netns<T>(tag: &str, f: impl FnOnce(&str) -> T) -> T {
    let ns = format!("mvtest-{}", unique(tag));
    assert!(
        run(Command::new("ip").args(["netns", "add", &ns]))
            .status
            .success()
    );
    let out = f(&ns);
    assert!(
        run(Command::new("ip").args(["netns", "del", &ns]))
            .status
            .success()
    );
    out
}

/// What a measurement needs of a live lab: no pcap files, no progress lines.
pub fn bench<'a>(
    lab: &'a Lab,
    scenario: &'a Scenario,
    stop: &'a mvlab::stop::Stop,
) -> mvlab::measure::Bench<'a> {
    mvlab::measure::Bench {
        lab,
        scenario,
        stop,
        max_pps: None,
        pcap_dir: None,
        progress: &|_: &str| {},
    }
}

/// The expectations that failed, one line each: what was claimed, expected, measured, and why.
pub fn failed(verdicts: Vec<mvlab::verdict::ExpectationResult>) -> Vec<String> {
    verdicts
        .into_iter()
        .filter(|v| !v.passed)
        .map(|v| {
            format!(
                "{}: expected {}, measured {}; {}",
                v.text, v.expected, v.measured, v.detail
            )
        })
        .collect()
}
