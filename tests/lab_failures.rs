//! The paths that can leave kernel state behind: a kernel refusal half-way through a build, SIGINT
//! and SIGTERM during `lab up`, SIGKILL at random points followed by `mvlab clean`, two labs at
//! once, and `clean` next to live labs and foreign namespaces named like ours. Each checks with
//! `ip` that nothing is left (or that what must stay, stays). Needs root; fails without it.

mod lab_support;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lab_support::*;
use mvlab::addr::MacAddr;
use mvlab::diag::Outcome;
use mvlab::lab::{BuildFailure, Lab, LabError, LabOptions, Rollback};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A pseudo-random number below `bound` (the test only needs spread, not quality).
fn jitter(bound: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % bound.max(1)
}

fn refused_half_way(s: &mvlab::scenario::Scenario, tag: &str) -> (String, String) {
    require_root();
    let name = unique(tag);
    let err = Lab::up(
        s,
        LabOptions {
            name: Some(name.clone()),
            ..LabOptions::default()
        },
    )
    .expect_err("the kernel refuses this lab half-way");
    assert_eq!(err.outcome(), Outcome::RuntimeFailure);
    let LabError::Build {
        cause: BuildFailure::Kernel(refusal),
        rollback: Rollback::Done,
        ..
    } = &err
    else {
        panic!("expected a kernel refusal rolled back, got {err}");
    };
    assert_gone(&name);
    (refusal.to_string(), err.to_string())
}

#[test]
fn passthru_on_a_parent_that_has_a_macvlan_rolls_everything_back() {
    // Validation refuses this, so the parsed scenario is edited: a second passthru endpoint.
    let mut s = load("passthru");
    let mut e2 = s.endpoints[0].clone();
    e2.name = "e2".into();
    e2.mac = MacAddr([0x02, 0, 0, 0x77, 0, 2]);
    e2.ipv4 = Some(std::net::Ipv4Addr::new(198, 18, 0, 77));
    s.endpoints.push(e2);
    let (refusal, message) = refused_half_way(&s, "passthru2");
    assert!(refusal.contains("macvlan eth0 in mvlab-"), "{refusal}");
    assert!(
        refusal.contains("-e2"),
        "the failing step names e2: {refusal}"
    );
    assert!(
        message.contains("everything created has been removed"),
        "{message}"
    );
}

#[test]
fn name_collision_inside_the_host_namespace_rolls_everything_back() {
    // The shim gets the parent's name: the host namespace already has an `eth0` when the shim
    // is created, after the parent, the switch and every endpoint's macvlan.
    let mut s = load("host-shim");
    let parent = s.parents[0].name.clone();
    s.host.shim.as_mut().unwrap().interface = parent;
    let (refusal, _) = refused_half_way(&s, "collide");
    assert!(refusal.contains("File exists"), "{refusal}");
}

/// Sends `signal` to `lab up` of the 1000-endpoint lab while it builds; retries sooner when the
/// build won the race.
fn signal_during_build(signal: Signal) {
    require_root();
    for attempt in 0..4u64 {
        let name = unique("sig");
        let child = mvlab()
            .args(["lab", "up", "--name", &name])
            .arg(scenario_path("scale-1000"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Inside the namespace creation (~0.5 s here, much longer under emulation): once the
        // first namespace exists, the handlers are in place.
        assert!(
            wait_for_namespace(&format!("mvlab-{name}-")),
            "lab up never started"
        );
        std::thread::sleep(Duration::from_millis(jitter(200) >> attempt.min(2)));
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            assert!(run(mvlab().args(["lab", "down", &name])).status.success());
            continue;
        }
        assert_eq!(out.status.code(), Some(4), "{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            stderr.contains("everything created has been removed"),
            "{stderr}"
        );
        assert_gone(&name);
        return;
    }
    panic!("lab up finished before {signal} every time");
}

#[test]
fn sigint_during_lab_up_leaves_nothing() {
    signal_during_build(Signal::SIGINT);
}

#[test]
fn sigterm_during_lab_up_leaves_nothing() {
    signal_during_build(Signal::SIGTERM);
}

#[test]
fn sigkill_at_random_points_then_clean_leaves_nothing() {
    require_root();
    for round in 0..5u64 {
        let name = unique("kill");
        let mut child = mvlab()
            .args(["lab", "up", "--name", &name])
            .arg(scenario_path("scale-1000"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(round * 200 + jitter(200)));
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        let status = child.wait().unwrap();
        if status.success() {
            // It finished first: a persistent lab, which `clean` must keep.
            let out = run(mvlab().arg("clean"));
            assert!(out.status.success());
            assert!(namespaces_with(&format!("mvlab-{name}-")).len() > 1000);
            assert!(run(mvlab().args(["lab", "down", &name])).status.success());
        } else {
            let out = run(mvlab().arg("clean"));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_gone(&name);
    }
}

#[test]
fn two_labs_built_at_once_do_not_disturb_each_other() {
    let s = load("bridge");
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| up(&s, "twin"));
        let b = scope.spawn(|| up(&s, "twin"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let e2 = s.endpoint("e2").unwrap().ipv4.unwrap().to_string();
    let peer = s.peer("peer").unwrap().ipv4.to_string();
    for lab in [&a, &b] {
        assert!(ping(&netns(lab.name(), "e1"), &e2));
        assert!(ping(&netns(lab.name(), "e1"), &peer));
    }
    let b_name = b.name().to_string();
    b.down().unwrap();
    assert_gone(&b_name);
    assert!(
        ping(&netns(a.name(), "e1"), &e2),
        "a still works after b is gone"
    );
    assert!(ping(&netns(a.name(), "e2"), &peer));
    a.down().unwrap();
}

fn netns_add(name: &str) {
    assert!(
        run(Command::new("ip").args(["netns", "add", name]))
            .status
            .success()
    );
}

fn netns_del(name: &str) {
    assert!(
        run(Command::new("ip").args(["netns", "del", name]))
            .status
            .success()
    );
}

#[test]
fn clean_leaves_live_and_persistent_labs_and_foreign_namespaces_alone() {
    let s = load("bridge");
    let live = up(&s, "live");
    let kept = unique("kept");
    let out = run(mvlab()
        .args(["lab", "up", "--name", &kept])
        .arg(scenario_path("bridge")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Named like a lab's namespaces, but no lab registered them.
    let foreign = netns(&unique("foreign"), "e1");
    let lookalike = netns(live.name(), "e9");
    netns_add(&foreign);
    netns_add(&lookalike);

    let dry = run(mvlab().args(["clean", "--all", "--dry-run"]));
    assert!(dry.status.success());
    let listed = String::from_utf8_lossy(&dry.stdout);
    assert!(
        listed.contains(&format!("would remove lab `{kept}`")),
        "{listed}"
    );
    let out = run(mvlab().arg("clean"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let e2 = s.endpoint("e2").unwrap().ipv4.unwrap().to_string();
    assert!(
        ping(&netns(live.name(), "e1"), &e2),
        "the live lab still works"
    );
    assert!(
        ping(&netns(&kept, "e1"), &e2),
        "the persistent lab still works"
    );
    let names = namespaces_with("mvlab-");
    assert!(names.contains(&foreign) && names.contains(&lookalike));

    netns_del(&foreign);
    netns_del(&lookalike);
    assert!(run(mvlab().args(["lab", "down", &kept])).status.success());
    assert_gone(&kept);
    let live_name = live.name().to_string();
    drop(live);
    assert_gone(&live_name);
}
