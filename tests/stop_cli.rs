//! SIGINT and SIGTERM end every long-running command promptly, whatever it waits for: a run
//! whose latency test sends at the slowest rate there is (0.001pps: a frame every 1000 s), `gen`
//! at that rate between its first frame and its second, a capture and a reflector given 1000 s.
//! Each exits 4 (interrupted; a capture given no end of its own exits 0) within a generous bound, far sooner than the wait it was in would
//! have ended, and leaves no namespace, lab record or process behind. No timing threshold: how
//! fast they react is measured by `scripts/bench-stop.sh`, not asserted. Needs root; fails
//! without it.

mod engine_common;
mod lab_support;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a signalled command may take to end: far less than the waits it is in (1000 s), far
/// more than it needs.
const BOUND: Duration = Duration::from_secs(20);

/// Waits until `until` holds, at most a minute (the machine may be slow to start things).
fn wait_for(what: &str, until: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !until() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True once `pid` catches both SIGINT and SIGTERM (its handlers are in place: a signal now
/// asks it to stop instead of killing it).
fn catches_signals(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    let bit = |s: Signal| 1u64 << (s as u32 - 1);
    caught & bit(Signal::SIGINT) != 0 && caught & bit(Signal::SIGTERM) != 0
}

/// Sends `signal` to `child`, then waits at most `BOUND` for it to end (killing it and failing
/// if it does not) and returns what it said.
fn signal_and_wait(mut child: Child, signal: Signal, what: &str) -> Output {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let deadline = Instant::now() + BOUND;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} still ran {BOUND:?} after {signal}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The exit of an interrupted command: 4, and a word on standard error saying why.
fn assert_interrupted(out: &Output, signal: Signal, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{what}, {signal}: {stderr}");
    assert!(stderr.contains("interrupted"), "{what}, {signal}: {stderr}");
}

/// `ip -s` packet counter of `eth0` in namespace `ns`, `direction` "rx" or "tx"; none while
/// the namespace or the link does not exist yet.
fn packets(ns: &str, direction: &str) -> Option<u64> {
    let out = Command::new("ip")
        .args(["-n", ns, "-j", "-s", "link", "show", "eth0"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v[0]["stats64"][direction]["packets"].as_u64()
}

fn spawn(args: &[&str]) -> Child {
    lab_support::mvlab()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mvlab")
}

/// `gen` at 0.001pps sends its first frame at once and would send the second 1000 s later; a
/// signal while it waits ends it with what it sent: one frame.
fn gen_between_frames(signal: Signal) {
    let lab = engine_common::Lab::new();
    let e1 = lab.ns("e1");
    let e2_mac = engine_common::E2_MAC.to_string();
    let before = packets(&e1, "tx").expect("e1's counters");
    let child = spawn(&[
        "gen", "--netns", &e1, "--iface", "eth0", "--dst", &e2_mac, "--rate", "0.001pps",
        "--count", "2", "--json",
    ]);
    wait_for("gen's first frame", || {
        packets(&e1, "tx").is_some_and(|n| n > before)
    });
    let out = signal_and_wait(child, signal, "gen");
    assert_interrupted(&out, signal, "gen");
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).expect("gen --json");
    assert_eq!(sent["frames"], 1, "only the first frame left");
}

#[test]
fn sigint_ends_gen_between_frames_1000_s_apart() {
    gen_between_frames(Signal::SIGINT);
}

#[test]
fn sigterm_ends_gen_between_frames_1000_s_apart() {
    gen_between_frames(Signal::SIGTERM);
}

/// `capture` or `reflect` for 1000 s on e2, signalled once its handlers are in place: it still
/// prints its result (JSON), and exits 4.
fn listener(command: &str, signal: Signal) {
    let lab = engine_common::Lab::new();
    let e2 = lab.ns("e2");
    let child = spawn(&[
        command,
        "--netns",
        &e2,
        "--iface",
        "eth0",
        "--duration",
        "1000s",
        "--json",
    ]);
    let pid = child.id();
    wait_for("the handlers", || catches_signals(pid));
    let out = signal_and_wait(child, signal, command);
    assert_interrupted(&out, signal, command);
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json result");
    assert_eq!(result["iface"], "eth0", "{command} printed its result");
}

#[test]
fn sigint_ends_a_1000_s_capture() {
    listener("capture", Signal::SIGINT);
}

#[test]
fn sigterm_ends_a_1000_s_capture() {
    listener("capture", Signal::SIGTERM);
}

#[test]
fn sigint_ends_a_1000_s_reflector() {
    listener("reflect", Signal::SIGINT);
}

#[test]
fn sigterm_ends_a_1000_s_reflector() {
    listener("reflect", Signal::SIGTERM);
}

/// A capture given neither a duration nor a count ends at Ctrl-C, as tcpdump's does: its result,
/// and exit 0.
#[test]
fn ctrl_c_is_the_end_of_a_capture_given_no_other() {
    let lab = engine_common::Lab::new();
    let e2 = lab.ns("e2");
    let child = spawn(&["capture", "--netns", &e2, "--iface", "eth0", "--json"]);
    let pid = child.id();
    wait_for("the handlers", || catches_signals(pid));
    let out = signal_and_wait(child, Signal::SIGINT, "capture");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json result");
    assert_eq!(result["iface"], "eth0");
}

/// A scenario whose latency test sends a frame every 1000 s (the slowest rate there is) for
/// longer than that.
const SLOW: &str = r#"
description = "a latency test paced at a frame every 1000 s"

[[networks]]
mode = "bridge"

[[networks.endpoints]]
count = 2

[[tests]]
kind = "latency"
from = "e1"
to = "e2"
rate = "0.001pps"
duration = "2000s"
"#;

/// `mvlab run` of `SLOW`, signalled once its first frame left: exit 4, no result, and the lab
/// is gone.
fn slow_run(signal: Signal) {
    lab_support::require_root();
    let lab = lab_support::unique("slow");
    let dir = lab_support::scratch_dir("slow");
    let file = dir.join("slow.toml");
    std::fs::write(&file, SLOW).unwrap();
    let json = dir.join("result.json");
    let child = lab_support::mvlab()
        .arg("run")
        .arg(&file)
        .args(["--name", &lab, "--json"])
        .arg(&json)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mvlab");
    // e1 sends nothing but test frames (the network has no IPv6): its first one means the
    // latency test is under way, waiting for its next pacing slot.
    let e1 = format!("mvlab-{lab}-e1");
    wait_for("the run's first frame", || {
        packets(&e1, "tx").is_some_and(|n| n > 0)
    });
    let out = signal_and_wait(child, signal, "run");
    assert_interrupted(&out, signal, "run");
    assert!(!json.exists(), "an interrupted run writes no result");
    lab_support::assert_gone(&lab);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigint_ends_a_run_paced_at_a_frame_every_1000_s() {
    slow_run(Signal::SIGINT);
}

#[test]
fn sigterm_ends_a_run_paced_at_a_frame_every_1000_s() {
    slow_run(Signal::SIGTERM);
}
