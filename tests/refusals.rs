//! Every refusal says what to do: one row per way each command turns a user away (bad input,
//! missing privileges, a busy or unknown name, an unwritable place; a feature the kernel lacks
//! is `tests/run_cli.rs`'s, which checks the 8021q advice),
//! with the exit code it must give and the words of the advice its message must hold. Runs as
//! root (rows marked `nobody` drop to uid 65534 with no capabilities, as a user without sudo
//! would run); nothing is left behind.

mod lab_support;

use std::path::Path;
use std::process::{Command, Output};

use lab_support::{mvlab, require_root, scenario_path, scratch_dir, unique};

/// Who runs the command.
#[derive(Clone, Copy, PartialEq)]
enum As {
    Root,
    Nobody,
}

struct Refusal {
    command: Vec<String>,
    who: As,
    exit: i32,
    /// Each must appear in standard error.
    says: Vec<String>,
}

fn row(who: As, exit: i32, command: &[&str], says: &[&str]) -> Refusal {
    Refusal {
        command: command.iter().map(|s| s.to_string()).collect(),
        who,
        exit,
        says: says.iter().map(|s| s.to_string()).collect(),
    }
}

fn run(r: &Refusal) -> Output {
    let mut cmd = match r.who {
        As::Root => mvlab(),
        As::Nobody => {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(env!("CARGO_BIN_EXE_mvlab"));
            c
        }
    };
    cmd.args(&r.command)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

/// Runs `cmd`, which must succeed.
fn succeed(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A lab held up for the test's length (so its name is busy), brought down however it ends.
struct Held(String);

impl Held {
    fn up(scenario: &str) -> Held {
        let held = Held(unique("busy"));
        succeed(mvlab().args(["lab", "up", scenario, "--name", &held.0]));
        held
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = mvlab().args(["lab", "down", &self.0]).output();
    }
}

/// A namespace of the test's own with nothing in it, deleted however the test ends.
struct Empty(String);

impl Empty {
    fn new() -> Empty {
        let ns = Empty(format!("mvtest-{}", unique("empty")));
        succeed(Command::new("ip").args(["netns", "add", &ns.0]));
        ns
    }
}

impl Drop for Empty {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_refusal_of_every_command_says_what_to_do() {
    require_root();
    let dir = scratch_dir("refusals");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[networks]]\nmode = \"vepa\"\nvlan = 9999\n").unwrap();
    let one = dir.join("one.json");
    std::fs::write(&one, include_str!("data/one-result.json")).unwrap();
    let missing = dir.join("missing.toml");
    // A switch under test wired to interfaces this machine does not have.
    let external = dir.join("external.toml");
    std::fs::write(
        &external,
        "[switch]\nkind = \"external\"\n[[parents]]\nname = \"up0\"\nkind = \"existing\"\ninterface = \"mvtest-no-if0\"\n[[networks]]\nmode = \"vepa\"\n[[peers]]\nname = \"far\"\ninterface = \"mvtest-no-if1\"\n",
    )
    .unwrap();
    let bridge = scenario_path("bridge");
    let compose = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/import/compose.yaml"
    );
    let (bridge, bad, one, missing) = (path(&bridge), path(&bad), path(&one), path(&missing));
    let external = path(&external);
    let binary = env!("CARGO_BIN_EXE_mvlab");
    let sudo_run = format!("sudo {binary} run {bridge}");
    let held = Held::up(bridge);
    let empty = Empty::new();
    let empty = empty.0.as_str();
    let busy = held.0.as_str();
    #[rustfmt::skip]
    let table = vec![
        // check
        row(As::Root, 2, &["check", missing], &["check the path"]),
        row(As::Root, 2, &["check", bad], &["bad.toml:3:8", "hint:"]),
        // run
        row(As::Root, 2, &["run", missing], &["check the path", "mvlab check FILE"]),
        row(As::Nobody, 2, &["run", bridge], &["needs root", &sudo_run]),
        row(As::Nobody, 2, &["run"], &["needs root", &format!("sudo {binary} run`")]),
        row(As::Root, 2, &["run", bridge, "--name", busy], &["already exists", "mvlab lab ls", "another --name"]),
        row(As::Root, 2, &["run", bridge, "--name", "a b"], &["not a valid lab name", "--name"]),
        row(As::Root, 2, &["run", bridge, "--push", "https://gw"], &["plain http only", "http://"]),
        row(As::Root, 2, &["run", bridge, "--report", "/proc/mvlab"], &["cannot create", "a directory you can write"]),
        row(As::Root, 2, &["run", bridge, "--kernel", "this", "--keep"], &["--keep cannot be used with --kernel", "run on this kernel"]),
        row(As::Root, 2, &["run", external], &["external.toml:5:8", "existing interface", "pass --use-real-parent"]),
        row(As::Root, 2, &["run", external, "--use-real-parent"], &["no interface `mvtest-no-if0`", "no interface `mvtest-no-if1`", "`ip link` lists the interfaces"]),
        // lab
        row(As::Nobody, 2, &["lab", "up", bridge], &["needs root", &format!("sudo {binary} lab up {bridge}")]),
        row(As::Root, 2, &["lab", "up", bridge, "--name", busy], &["already exists", "mvlab lab ls"]),
        row(As::Root, 2, &["lab", "down", "no-such-lab"], &["no lab `no-such-lab`", "mvlab lab ls"]),
        // doctor
        row(As::Nobody, 2, &["doctor"], &["not privileged", &format!("sudo {binary} doctor")]),
        // diff
        row(As::Root, 2, &["diff", missing, one], &["missing.toml", "mvlab run --json FILE"]),
        row(As::Root, 2, &["diff", one], &["nothing to compare", "give two or more"]),
        // simulate
        row(As::Root, 2, &["simulate", missing], &["check the path"]),
        row(As::Root, 2, &["simulate", bridge, "--trace", "e1", "e9", "broadcast"], &["no node `e9`", "nodes are: "]),
        // the frame engine
        row(As::Root, 2, &["gen", "--netns", "x", "--iface", "eth0"], &["--count N or --duration TIME"]),
        row(As::Nobody, 2, &["gen", "--netns", "x", "--iface", "eth0", "--count", "1"], &["need root", &format!("sudo {binary} gen")]),
        row(As::Root, 2, &["capture", "--netns", "mvlab-no-such-ns", "--iface", "eth0", "--duration", "1s"], &["does not exist", "ip netns list"]),
        row(As::Root, 2, &["reflect", "--netns", "mvlab-no-such-ns", "--iface", "eth0", "--duration", "1s"], &["does not exist", "ip netns list"]),
        // inspect
        row(As::Root, 2, &["inspect", "--netns", "mvlab-no-such-ns"], &["no namespace is called", "namespaces here: "]),
        row(As::Root, 2, &["inspect", "--netns", empty, "--scenario", "/tmp/mvlab-refusal.toml"], &["no macvlan link was found", "--netns names"]),
        row(As::Root, 2, &["inspect", "--trace", "a:eth0", "b:eth0", "anycast"], &["not a frame class", "use unicast"]),
        // import
        row(As::Root, 2, &["import", missing], &["cannot read", "check the path"]),
        row(As::Root, 2, &["import", bad], &["bad.toml:2:1", "hint:"]),
        row(As::Root, 2, &["import", "-", "--docker-version", "22"], &["not `22`", "give 20.10, 23 ... 29"]),
        row(As::Root, 2, &["import", compose, "-o", "/proc/mvlab/lab.toml"], &["cannot write", "a directory you can write"]),
        // switch
        row(As::Root, 2, &["switch", "show", "--lab", "no-such-lab"], &["no lab `no-such-lab`", "mvlab lab ls"]),
        row(As::Root, 2, &["switch", "serve", "--port", "mvtest-no-if0"], &["no interface `mvtest-no-if0`", "`ip link` lists the interfaces"]),
        row(As::Root, 2, &["switch", "serve", "--port", "mvtest-no-if0", "--scenario", bridge], &["has no emulated switch", "kind = \"emulated\""]),
        // guest
        row(As::Root, 2, &["guest", "--kernel", "/no/such/vmlinuz", "--", "true"], &["neither a kernel image", "scripts/kernels"]),
        // the ecosystem's conventions
        row(As::Root, 2, &["man", "/proc/mvlab/man"], &["cannot write man pages", "a directory you can write"]),
        row(As::Root, 2, &["completions", "tcsh"], &["possible values: bash"]),
    ];
    let mut failures = Vec::new();
    for r in &table {
        let out = run(r);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let missing: Vec<&String> = r
            .says
            .iter()
            .filter(|s| !stderr.contains(s.as_str()))
            .collect();
        if out.status.code() != Some(r.exit) || !missing.is_empty() {
            failures.push(format!(
                "mvlab {}: exit {:?} (want {}), missing {missing:?} in:\n{stderr}",
                r.command.join(" "),
                out.status.code(),
                r.exit
            ));
        }
    }
    let down = mvlab().args(["lab", "down", busy]).output().unwrap();
    assert!(down.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
