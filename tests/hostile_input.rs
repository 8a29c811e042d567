//! Hostile input: every file in `tests/hostile/` (each says on its second line what it tries,
//! the exit code `mvlab check` must give, where the error is and a fragment of its message),
//! files no one should hand mvlab (binary, NUL, huge, 20,000 levels deep, a shell-hostile name),
//! and hostile surroundings (a closed or full standard output, output paths that cannot be
//! written, a user without root). Nothing may panic (exit 101); a refused file names
//! `file:line:col`; `mvlab run` refuses what `check` refuses, with the same words, and leaves no
//! namespace or lab record behind. Needs root (a scratch namespace, a user to drop to); fails,
//! never skips, without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mvlab");

fn mvlab(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run mvlab")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// No panic, whatever the input: a panic is exit 101 and "panicked" on standard error.
fn assert_no_panic(what: &str, out: &Output) {
    let err = stderr(out);
    assert_ne!(out.status.code(), Some(101), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// What a file in `tests/hostile/` expects, from its second line:
/// `# expect: CODE | LINE:COL or - | FRAGMENT`.
struct Expected {
    code: i32,
    at: Option<String>,
    says: String,
}

fn expected(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
    let parts: Vec<&str> = line.split(" | ").collect();
    let [code, at, says] = parts[..] else {
        panic!("{}: `# expect: CODE | AT | FRAGMENT`", path.display());
    };
    Expected {
        code: code.parse().unwrap(),
        at: (at != "-").then(|| at.to_string()),
        says: says.to_string(),
    }
}

fn hostile_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// A refusal: exit 2, the first line `PATH:LINE:COL: error: ...` (or `PATH: error: ...` for a
/// whole-file problem), the fragment somewhere in the message.
fn assert_refused(what: &str, out: &Output, path: &str, at: Option<&str>, says: &str) {
    assert_no_panic(what, out);
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    let first = err.lines().next().unwrap_or_default();
    let located = match at {
        Some(at) => format!("{path}:{at}: error: "),
        None => format!("{path}: error: "),
    };
    assert!(
        first.starts_with(&located),
        "{what}: `{located}` does not start: {err}"
    );
    assert!(err.contains(says), "{what}: `{says}` not in: {err}");
}

#[test]
fn every_hostile_file_is_refused_by_check_where_it_is_wrong() {
    let files = hostile_files();
    assert!(files.len() >= 60, "only {} hostile files", files.len());
    for file in &files {
        let e = expected(file);
        let path = file.to_str().unwrap();
        let out = mvlab(&["check", path]);
        if e.code == 0 {
            assert_no_panic(path, &out);
            assert_eq!(out.status.code(), Some(0), "{path}: {}", stderr(&out));
            assert!(String::from_utf8_lossy(&out.stdout).contains(&e.says));
        } else {
            assert_eq!(e.code, 2, "{path}: hostile files expect 0 or 2");
            assert_refused(path, &out, path, e.at.as_deref(), &e.says);
        }
    }
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn records_with(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/mvlab/labs")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn run_refuses_what_check_refuses_and_builds_nothing() {
    let prefix = format!("mvhst{}", std::process::id());
    for file in hostile_files() {
        let e = expected(&file);
        if e.code != 2 {
            continue;
        }
        let path = file.to_str().unwrap();
        let out = mvlab(&["run", "--prefix", &prefix, path]);
        assert_refused(path, &out, path, e.at.as_deref(), &e.says);
    }
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
    assert_eq!(records_with(&prefix), Vec::<String>::new());
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mvlab-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn files_no_one_should_give_are_refused_for_what_they_are() {
    let dir = scratch_dir("made");
    let deep = format!("seed = {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "elf.toml",
            b"\x7fELF\x02\x01\x01\0\0\0".to_vec(),
            "not a text file",
        ),
        (
            "latin1.toml",
            b"name = \"caf\xe9\"\n".to_vec(),
            "byte 11 is not UTF-8",
        ),
        ("nul.toml", b"seed = 1\n\0".to_vec(), "not a text file"),
        ("huge.toml", vec![b'#'; 17 << 20], "larger than 16 MiB"),
        ("deep.toml", deep.into_bytes(), "recursion"),
    ];
    for (name, bytes, says) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = mvlab(&["check", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_no_panic(name, &out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(says), "{name}: `{says}` not in {err}");
        assert!(err.len() < 2000, "{name}: {} bytes of error", err.len());
    }
    let shell = dir.join("rel bad;$(id).toml");
    std::fs::write(&shell, "").unwrap();
    let out = mvlab(&["check", shell.to_str().unwrap()]);
    assert_refused(
        "a shell-hostile file name",
        &out,
        shell.to_str().unwrap(),
        None,
        "is not a valid scenario name (the file's name)",
    );
    for (path, says) in [
        ("/dev/zero", "larger than 16 MiB"),
        ("/nonexistent/lab.toml", "cannot read scenario"),
        (dir.to_str().unwrap(), "cannot read scenario"),
    ] {
        let out = mvlab(&["check", path]);
        assert_no_panic(path, &out);
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{path}: {}", stderr(&out));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An empty file (nothing, blank lines, only comments) is valid: it is the default lab, as the
/// README says. Every command that reads it says so in a warning at 1:1 on standard error, with
/// a hint, and exits 0 (`check --json` lists it under `warnings`); a file with a setting has none.
#[test]
fn an_empty_file_is_the_default_lab_with_a_warning() {
    let dir = scratch_dir("empty");
    let prefix = format!("mvemp{}", std::process::id());
    let warned = |what: &str, out: &Output, path: &str| {
        assert_no_panic(what, out);
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(0), "{what}: {err}");
        let line = format!("{path}:1:1: warning: the file is empty");
        assert!(err.lines().any(|l| l.starts_with(&line)), "{what}: {err}");
        assert!(err.contains("mvlab import"), "{what}: {err}");
    };
    for (name, text) in [
        ("zero.toml", ""),
        ("blank.toml", "\n  \n\t\n"),
        ("comments.toml", "# my lab\n\n   # to do\n"),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let path = file.to_str().unwrap();
        let check = mvlab(&["check", path]);
        warned(name, &check, path);
        assert!(String::from_utf8_lossy(&check.stdout).contains("2 endpoint(s)"));
        warned(name, &mvlab(&["simulate", path]), path);
        let json = mvlab(&["check", "--json", path]);
        assert_eq!(json.status.code(), Some(0), "{name}: {}", stderr(&json));
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let w = &v["warnings"];
        assert_eq!(w.as_array().map(Vec::len), Some(1), "{name}: {v}");
        assert_eq!(w[0]["severity"], "warning");
        assert_eq!(
            (w[0]["line"].as_u64(), w[0]["column"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(v["endpoints"].as_array().map(Vec::len), Some(2));
    }
    let zero = dir.join("zero.toml");
    let zero = zero.to_str().unwrap();
    warned("run", &mvlab(&["run", "--prefix", &prefix, zero]), zero);
    warned(
        "lab up",
        &mvlab(&["lab", "up", "--prefix", &prefix, zero]),
        zero,
    );
    let down = mvlab(&["lab", "down", "--prefix", &prefix, "zero"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
    let set = dir.join("set.toml");
    std::fs::write(&set, "# a lab\nseed = 7\n").unwrap();
    let json = mvlab(&["check", "--json", set.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(stderr(&json), "");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `mvlab ARGS` with its standard output going to `stdout`.
fn mvlab_to(args: &[&str], stdout: Stdio) -> Output {
    Command::new(BIN)
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run mvlab")
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_device_is_an_error() {
    let scale = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/scale-1000.toml");
    let commands: [&[&str]; 4] = [
        &["check", "--json", scale],
        &["check", scale],
        &["simulate", scale],
        &["lab", "ls"],
    ];
    for args in commands {
        // A reader that reads nothing and goes away: every write after it is EPIPE.
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_no_panic(&format!("{args:?} | (closed)"), &out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = mvlab_to(args, Stdio::from(full));
        assert_no_panic(&format!("{args:?} > /dev/full"), &out);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("writing to standard output: No space left"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn report_paths_that_cannot_be_written_are_refused_before_the_lab_is_built() {
    let dir = scratch_dir("reports");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let prefix = format!("mvhsr{}", std::process::id());
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/bridge.toml");
    let d = dir.to_str().unwrap();
    let f = file.to_str().unwrap();
    let in_file = format!("{f}/j.xml");
    let missing = format!("{d}/no/such/j.xml");
    for (flag, path, says) in [
        ("--json", "/proc/x.json", "cannot write /proc/x.json"),
        ("--junit", missing.as_str(), "does not exist"),
        ("--json", d, "is a directory"),
        ("--junit", in_file.as_str(), "is not a directory"),
        ("--report", f, "is not a directory"),
        ("--pcap", f, "is not a directory"),
    ] {
        let out = mvlab(&["run", "--prefix", &prefix, flag, path, scenario]);
        let what = format!("{flag} {path}");
        assert_no_panic(&what, &out);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{what}: {}", stderr(&out));
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("PASSED"),
            "{what}"
        );
    }
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
    assert_eq!(records_with(&prefix), Vec::<String>::new());
    assert!(!Path::new(&missing).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn traffic_arguments_that_are_the_users_mistake_exit_2() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test makes a scratch namespace: run it as root"
    );
    let ns = format!("mvtest-hostile-{}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .unwrap();
    assert!(made.success());
    let place = ["--netns", ns.as_str(), "--iface", "lo"];
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec![
                "gen",
                "--netns",
                "/proc/self/ns/net",
                "--iface",
                "lo",
                "--count",
                "1",
            ],
            "not a network namespace name",
        ),
        (
            [&["gen"][..], &place, &["--count", "1", "--vlan", "4095"]].concat(),
            "reserved",
        ),
        (
            [&["gen"][..], &place, &["--count", "1", "--vlan", "0"]].concat(),
            "reserved",
        ),
        (
            [
                &["capture"][..],
                &place,
                &["--count", "1", "--ring-mb", "100000000"],
            ]
            .concat(),
            "of memory",
        ),
    ];
    let outs: Vec<(String, Output)> = cases
        .iter()
        .map(|(args, _)| (args.join(" "), mvlab(args)))
        .collect();
    let removed = Command::new("ip")
        .args(["netns", "del", &ns])
        .status()
        .unwrap();
    for ((what, out), (_, says)) in outs.iter().zip(&cases) {
        assert_no_panic(what, out);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(out));
        assert!(stderr(out).contains(says), "{what}: {}", stderr(out));
    }
    assert!(removed.success());
}

/// `mvlab run` with no scenario, tried by a user without root: one "needs root" (exit 2), not a
/// note per macvlan mode that "this kernel lacks" it (exit 3).
#[test]
fn a_user_without_root_is_told_to_use_root_not_that_the_kernel_lacks() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root to drop from"
    );
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([BIN, "run"])
        .output()
        .expect("setpriv");
    let err = stderr(&out);
    assert_no_panic("run as nobody", &out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs root"), "{err}");
    assert!(!err.contains("lacks"), "{err}");
}

/// A lab that needs more open files than the hard limit allows is refused by `check` as by
/// `run`, before anything is built (scale-1000: 1,003 namespaces, 2,262 files).
#[test]
fn a_lab_beyond_the_open_file_limit_is_refused_by_check_as_by_run() {
    let scale = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/scale-1000.toml");
    let prefix = format!("mvhsf{}", std::process::id());
    let limited = |limit: &str, args: &[&str]| {
        Command::new("prlimit")
            .arg(format!("--nofile={limit}:{limit}"))
            .arg(BIN)
            .args(args)
            .output()
            .expect("prlimit")
    };
    let says = "a lab of 1003 namespaces needs 2262 open files, but the hard limit is 1024";
    let out = limited("1024", &["check", scale]);
    assert_refused("check", &out, scale, None, says);
    let out = limited("1024", &["run", "--prefix", &prefix, scale]);
    assert_no_panic("run", &out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(says), "{}", stderr(&out));
    let out = limited("4096", &["check", scale]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
}
