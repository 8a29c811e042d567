//! `--engine docker` against a real Docker Engine (Debian's 20.10, started in a throwaway
//! namespace by tests/docker_support): every mode scenario gives, cell for cell, the matrix the
//! native lab gives, with endpoints Docker made; what Docker made is what `docker inspect`
//! shows and `ping` (not mvlab) reaches; `lab down`, and `clean` after a SIGKILL, leave no
//! container, network, namespace or lent link; what Docker refuses is refused in its words.
//! Needs root.

mod docker_support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use docker_support::Engine;
use mvlab::measure::TestResult;
use mvlab::run::RunResult;
use mvlab::verdict::hash_dependent;

const BIN: &str = env!("CARGO_BIN_EXE_mvlab");

/// `mvlab ARGS` with DOCKER_HOST naming `engine`, and a prefix of this test's own.
fn mvlab(engine: &Engine, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DOCKER_HOST", engine.docker_host())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every matrix cell of a run: (test, from, to, class, promiscuous) -> (received, leaked), or
/// `None` where the multicast filter's per-device hash decides the count
/// (`verdict::hash_dependent`: different on every run, native or not).
type Cells = BTreeMap<(String, String, String, String, bool), Option<(u64, u64)>>;

fn cells(r: &RunResult) -> Cells {
    let mut out = Cells::new();
    for t in &r.tests {
        if let TestResult::Matrix(m) = t {
            for c in &m.cells {
                out.insert(
                    (
                        m.name.clone(),
                        c.from.clone(),
                        c.to.clone(),
                        format!("{:?}", c.class),
                        c.promiscuous,
                    ),
                    (!hash_dependent(c)).then_some((c.received, c.leaked)),
                );
            }
        }
    }
    out
}

fn run(engine: &Engine, scenario: &str, lab: &str, docker: bool) -> RunResult {
    let file = format!("scenarios/{scenario}.toml");
    let mut args = vec![
        "run", &file, "--name", lab, "--prefix", "mvtest", "--json", "-",
    ];
    if docker {
        args.extend(["--engine", "docker"]);
    }
    let out = mvlab(engine, &args);
    assert!(
        out.status.success(),
        "{scenario} (docker: {docker}): {}",
        text(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Names of what is left of lab `lab` (prefix mvtest): namespaces (as `ip` lists them), its
/// registry record, and at the engine the containers and networks carrying its label.
fn leftovers(engine: &Engine, lab: &str) -> Vec<String> {
    let mut left: Vec<String> = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .filter(|l| l.starts_with(&format!("mvtest-{lab}-")))
    .map(str::to_string)
    .collect();
    let record = mvlab::lab::registry::path(
        std::path::Path::new(mvlab::lab::registry::DIR),
        "mvtest",
        lab,
    );
    if record.exists() {
        left.push(format!("record {}", record.display()));
    }
    let filter = format!("label=org.mvlab.lab=mvtest-{lab}");
    for what in [vec!["ps", "-aq"], vec!["network", "ls", "-q"]] {
        let mut args = what.clone();
        args.extend(["--filter", &filter]);
        let out = engine.cli(&args);
        left.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| format!("{} {l}", what[0])),
        );
    }
    // Links lent to the daemon and never taken back.
    let links = Command::new("ip")
        .args(["-n", &engine.ns, "-br", "link"])
        .output()
        .unwrap();
    left.extend(
        String::from_utf8_lossy(&links.stdout)
            .lines()
            .filter(|l| l.starts_with("mvl"))
            .map(|l| format!("link {l}")),
    );
    left
}

#[test]
fn docker_engine_labs() {
    let engine = Engine::start("lab");
    every_mode_scenario_gives_the_native_matrix(&engine);
    what_docker_made_is_what_docker_and_ping_see_and_down_removes_it(&engine);
    a_killed_run_is_removed_by_clean(&engine);
    what_docker_refuses_is_refused_in_its_words_and_leaves_nothing(&engine);
}

fn every_mode_scenario_gives_the_native_matrix(engine: &Engine) {
    let scenarios = [
        "bridge",
        "vepa",
        "private",
        "passthru",
        "vepa-hairpin",
        "private-hairpin",
        "host-shim",
        "docker-macvlan",
    ];
    for s in scenarios {
        let native = run(engine, s, "dknative", false);
        let docker = run(engine, s, "dkdocker", true);
        assert!(native.passed && docker.passed, "{s}: both runs pass");
        let made = docker
            .docker
            .as_ref()
            .expect("a Docker run says what Docker made");
        let scenario = mvlab::scenario::load(std::path::Path::new(&format!("scenarios/{s}.toml")))
            .unwrap()
            .scenario;
        assert_eq!(made.made.containers.len(), scenario.endpoints.len(), "{s}");
        assert!(
            made.made.engine.starts_with("20.10"),
            "{}",
            made.made.engine
        );
        if s == "docker-macvlan" {
            // A [docker] version = "20.10" scenario: Docker's IPAM and MACs, as predicted.
            assert_eq!(made.differences, Vec::<String>::new());
        }
        let (n, d) = (cells(&native), cells(&docker));
        assert!(!n.is_empty(), "{s} has a matrix");
        assert!(n.keys().eq(d.keys()), "{s}: the same cells");
        let differ: Vec<_> = n
            .iter()
            .filter_map(|(k, v)| match (v, d[k]) {
                (Some(a), Some(b)) if *a != b => Some(format!("{k:?}: native {a:?}, docker {b:?}")),
                _ => None,
            })
            .collect();
        assert!(differ.is_empty(), "{s}: {differ:#?}");
        assert_eq!(leftovers(engine, "dkdocker"), Vec::<String>::new());
    }
}

fn what_docker_made_is_what_docker_and_ping_see_and_down_removes_it(engine: &Engine) {
    let out = mvlab(
        engine,
        &[
            "lab",
            "up",
            "scenarios/bridge.toml",
            "--name",
            "dkup",
            "--prefix",
            "mvtest",
            "--engine",
            "docker",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let inventory: mvlab::lab::Inventory = serde_json::from_slice(&out.stdout).unwrap();
    let mut addresses = Vec::new();
    for e in ["e1", "e2"] {
        let node = inventory.node(e).unwrap();
        let iface = &node.interfaces[0];
        let inspect = engine.cli(&["inspect", &format!("mvtest-dkup-{e}")]);
        let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        let net = &inspect[0]["NetworkSettings"]["Networks"]["mvtest-dkup-macnet"];
        assert_eq!(net["MacAddress"], iface.mac.to_string(), "{e}");
        assert_eq!(net["IPAddress"], iface.ipv4[0].ip().to_string(), "{e}");
        assert_eq!(
            inspect[0]["Config"]["Labels"]["org.mvlab.lab"],
            "mvtest-dkup"
        );
        // The endpoint's namespace is the container's own, not one mvlab made beside it.
        let pid = inspect[0]["State"]["Pid"].as_u64().unwrap();
        let inode = |path: String| std::fs::metadata(&path).unwrap().ino();
        assert_eq!(
            inode(format!("/run/netns/{}", node.netns)),
            inode(format!("/proc/{pid}/ns/net")),
            "{e}"
        );
        addresses.push(iface.ipv4[0].ip().to_string());
    }
    // Docker's containers reach each other through the lab's parent, as ping (not mvlab) sees.
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            "mvtest-dkup-e1",
            "ping",
            "-c",
            "2",
            "-W",
            "5",
            &addresses[1],
        ])
        .output()
        .unwrap();
    assert!(ping.status.success(), "{}", text(&ping));
    assert_ne!(leftovers(engine, "dkup"), Vec::<String>::new());
    let down = mvlab(engine, &["lab", "down", "dkup", "--prefix", "mvtest"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(leftovers(engine, "dkup"), Vec::<String>::new());
}

fn a_killed_run_is_removed_by_clean(engine: &Engine) {
    let mut child = Command::new(BIN)
        .args([
            "run",
            "scenarios/latency.toml",
            "--name",
            "dkkill",
            "--prefix",
            "mvtest",
            "--engine",
            "docker",
        ])
        .env("DOCKER_HOST", engine.docker_host())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once Docker has made both containers (the run then measures for seconds).
    let until = Instant::now() + Duration::from_secs(120);
    while leftovers(engine, "dkkill")
        .iter()
        .filter(|l| l.starts_with("ps "))
        .count()
        < 2
    {
        assert!(Instant::now() < until, "the containers never came");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(leftovers(engine, "dkkill"), Vec::<String>::new());
    let clean = mvlab(engine, &["clean", "--prefix", "mvtest"]);
    assert!(clean.status.success(), "{}", text(&clean));
    assert_eq!(leftovers(engine, "dkkill"), Vec::<String>::new());
}

/// `mvlab run scenarios/SCENARIO.toml --engine docker` that must be refused (exit 2) and leave
/// nothing: what it said.
fn refused(engine: &Engine, scenario: &str) -> String {
    let file = format!("scenarios/{scenario}.toml");
    let out = mvlab(
        engine,
        &[
            "run", &file, "--name", "dkno", "--prefix", "mvtest", "--engine", "docker",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(leftovers(engine, "dkno"), Vec::<String>::new());
    text(&out)
}

fn what_docker_refuses_is_refused_in_its_words_and_leaves_nothing(engine: &Engine) {
    // Two networks on one parent: Docker 20.10 allows one macvlan network per parent.
    let said = refused(engine, "switch-vlans");
    assert!(
        said.contains("Docker refused") && said.contains("is already using parent interface eth0"),
        "{said}"
    );
    // What Docker's driver cannot make is refused before anything exists, at its line.
    let said = refused(engine, "source");
    assert!(
        said.contains("scenarios/source.toml:5:1: error: network `srcnet` asks for source mode"),
        "{said}"
    );
}
