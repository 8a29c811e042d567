//! Safety before the first frame on interfaces mvlab did not create, checked from inside a
//! throwaway tester namespace: without `--use-real-parent` nothing is touched; an interface
//! that is down, carries a global address, holds the default route or is a bridge member is
//! refused (each named, nothing created) unless `--force-interface` names it; every station's
//! sends stay under `--max-rate`; and a Ctrl-C in the middle of a run leaves every tester
//! interface with the flags and promiscuity it had, and no namespace behind. Needs root.

mod extswitch_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use extswitch_support::{Rig, linux_bridge, must, test};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const TWO_PORTS: &str = r#"name = "safe"
[switch]
kind = "external"
ageing_time = 1
[[parents]]
name = "up0"
kind = "existing"
interface = "t0"
[[networks]]
mode = "vepa"
[[peers]]
name = "far"
interface = "t1"
"#;

#[test]
fn an_exposed_interface_is_refused_before_anything_is_created() {
    let rig = Rig::new(4);
    let path = rig.scenario("safe", TWO_PORTS);
    let up = |extra: &[&str]| {
        let mut args = vec!["lab", "up", path.to_str().unwrap(), "--prefix", &rig.id];
        args.extend_from_slice(extra);
        rig.mvlab(&args)
    };
    let out = up(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--use-real-parent"));

    let t = |args: &[&str]| {
        let mut all = vec!["-n", rig.tester.as_str()];
        all.extend_from_slice(args);
        must("ip", &all);
    };
    t(&["addr", "add", "198.18.99.1/24", "dev", "t0"]);
    t(&["link", "set", "t1", "down"]);
    let out = up(&["--use-real-parent"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("will not send on `t0`: it carries the address 198.18.99.1/24"),
        "{stderr}"
    );
    assert!(
        stderr.contains("will not send on `t1`: it is down"),
        "{stderr}"
    );
    assert!(stderr.contains("--force-interface t0"), "{stderr}");
    assert!(
        rig.leftovers().is_empty(),
        "refused before anything was created"
    );

    t(&["link", "set", "t1", "up"]);
    t(&["route", "add", "default", "dev", "t1"]);
    let out = up(&["--use-real-parent", "--force-interface", "t0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("`t0`"), "t0 is forced: {stderr}");
    assert!(
        stderr.contains("the IPv4 default route leaves by it: it is this machine's way out"),
        "{stderr}"
    );

    t(&["route", "del", "default"]);
    t(&["link", "add", "br9", "type", "bridge"]);
    t(&["link", "set", "t1", "master", "br9"]);
    let out = up(&["--use-real-parent", "--force-interface", "t0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("it is a member of `br9`"));

    let out = up(&[
        "--use-real-parent",
        "--force-interface",
        "t0",
        "--force-interface",
        "t1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rig.mvlab(&["lab", "down", "safe", "--prefix", &rig.id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rig.leftovers().is_empty());
}

#[test]
fn sends_stay_under_the_rate_cap() {
    let rig = Rig::new(2);
    linux_bridge(&rig, 2, 300, 0);
    let text = format!(
        "{TWO_PORTS}[[tests]]\nkind = \"throughput\"\nfrom = \"far\"\nto = \"e1\"\nframe_sizes = [64]\nduration = \"1s\"\n"
    );
    let (code, result, stderr) = rig.run(&rig.scenario("capped", &text), &["--max-rate", "2kpps"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("at most 2000 frames/s from each station"),
        "{stderr}"
    );
    let point = &test(&result, "throughput")["points"][0];
    let offered = point["offered_pps"].as_f64().unwrap();
    // Pacing only ever delays a frame: the sender cannot run ahead of the cap.
    assert!(offered > 0.0 && offered <= 2000.0 * 1.05, "{point}");
}

#[test]
fn ctrl_c_mid_run_restores_every_interface_and_leaves_nothing() {
    let rig = Rig::new(2);
    linux_bridge(&rig, 2, 300, 0);
    let text =
        format!("{TWO_PORTS}[[tests]]\nkind = \"matrix\"\nframes = 5000\npromiscuous = \"on\"\n");
    let path = rig.scenario("long", &text);
    let before = rig.tester_flags();
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", rig.tester))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_mvlab"))
        .args([
            "run",
            path.to_str().unwrap(),
            "--use-real-parent",
            "--prefix",
            &rig.id,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the matrix's promiscuous captures hold the tester's interface.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !rig
        .tester_flags()
        .iter()
        .any(|(n, _, p)| n == "t1" && *p > 0)
    {
        assert!(
            Instant::now() < deadline,
            "the run never took t1 promiscuous"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    eprintln!("mvlab stopped {:?} after Ctrl-C", asked.elapsed());
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(4), "interrupted: {stderr}");
    assert_eq!(
        rig.tester_flags(),
        before,
        "flags and promiscuity as they were"
    );
    assert!(rig.leftovers().is_empty(), "{:?}", rig.leftovers());
}
