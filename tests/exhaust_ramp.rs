//! The endpoint ramp on real labs (as root; fails without it): endpoints added to a live lab
//! exist as `ip` sees them, answer ping, are in the lab's registry record while they live and
//! are gone (namespaces and record entries) when the growth ends, also when a signal cuts the
//! ramp short; and a broadcast queue made too small loses copies that the ramp attributes, every
//! one, to that queue, with tcpdump on the parent and `ip -s` as outside witnesses. A run
//! killed mid-ramp leaves what `mvlab clean` removes, and one interrupted removes it itself.

mod exhaust_support;
mod lab_support;

use std::path::Path;

use exhaust_support::Tcpdump;
use lab_support::{
    addresses, assert_gone, bench, ip_json, kill_then_clean, link, mvlab, namespaces_with, netns,
    ping, require_root, scenario_path, unique, up,
};
use mvlab::diag::Source;
use mvlab::lab::Lab;
use mvlab::measure::{Bench, MeasureError, endpoint_ramp};
use mvlab::scenario::{self, EndpointRampTest, Scenario, TestKind};
use mvlab::stop::Stop;
use serde_json::Value;

fn scenario(network: &str, ramp: &str) -> Scenario {
    let text = format!(
        "[[networks]]\nname = \"n\"\nendpoints = []\n{network}[[peers]]\nname = \"peer\"\n[[tests]]\nkind = \"endpoint_ramp\"\nname = \"grow\"\n{ramp}"
    );
    scenario::parse(Source::new("ramp.toml", text)).unwrap_or_else(|d| panic!("{d}"))
}

fn ramp_of(s: &Scenario) -> &EndpointRampTest {
    match &s.tests[0].kind {
        TestKind::EndpointRamp(t) => t,
        _ => unreachable!(),
    }
}

/// The namespaces the lab's registry record lists.
fn registered(lab: &Lab) -> Vec<String> {
    let path = format!("{}/mvlab-{}.json", mvlab::lab::registry::DIR, lab.name());
    let record: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    record["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn grown_endpoints_are_real_reachable_registered_and_removed() {
    require_root();
    let s = scenario("", "max_endpoints = 3\n");
    let t = ramp_of(&s);
    let lab = up(&s, "xgrow");
    let mut growth = lab.grow(&Stop::new());
    growth.add(&s, &t.endpoints[..1]).unwrap();
    growth.add(&s, &t.endpoints[1..]).unwrap();
    assert_eq!(growth.len(), 3);
    for e in &t.endpoints {
        let ns = netns(lab.name(), &e.name);
        let l = link(&ns, "eth0");
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], "bridge", "{l}");
        assert_eq!(l["address"], e.mac.to_string());
        assert_eq!(l["ifalias"], format!("mvlab:{}", lab.name()));
        assert_eq!(addresses(&ns, "eth0"), [format!("{}/24", e.ipv4.unwrap())]);
        assert!(registered(&lab).contains(&ns), "{ns} is in the record");
    }
    let peer = s.peer("peer").unwrap().ipv4.to_string();
    assert!(ping(&netns(lab.name(), "grow-3"), &peer));
    let links = growth.links().unwrap();
    assert_eq!(links.len(), 3);
    assert!(
        links
            .iter()
            .all(|l| l.iter().any(|l| l.name == "eth0" && l.up))
    );
    drop(growth);
    let prefix = format!("mvlab-{}-grow-", lab.name());
    assert!(namespaces_with(&prefix).is_empty());
    assert!(registered(&lab).iter().all(|n| !n.starts_with(&prefix)));
    lab.down().unwrap();
}

/// The parent's rx_dropped as `ip -s` reads it in the host namespace.
fn parent_rx_dropped(lab: &str) -> u64 {
    let l = ip_json(
        Some(&netns(lab, "host")),
        &["-s", "link", "show", "dev", "eth0"],
    );
    l[0]["stats64"]["rx"]["dropped"].as_u64().unwrap()
}

#[test]
fn copies_a_full_broadcast_queue_loses_are_all_attributed_to_it() {
    require_root();
    let s = scenario(
        "bcqueuelen = 10\n",
        "max_endpoints = 4\nbroadcasts = 1000\nrate = \"max\"\nduration = \"50ms\"\n",
    );
    let lab = up(&s, "xbcq");
    let host = netns(lab.name(), "host");
    let dump = Tcpdump::start(&host, "eth0", "ether broadcast", Path::new("/dev/null"));
    let dropped_before = parent_rx_dropped(lab.name());
    let stop = Stop::new();
    let bench = bench(&lab, &s, &stop);
    let r = endpoint_ramp::measure(&bench, "grow", ramp_of(&s)).unwrap();
    let dropped = parent_rx_dropped(lab.name()) - dropped_before;
    std::thread::sleep(std::time::Duration::from_millis(200));
    let seen = dump.stop().received_by_filter;
    assert_eq!(r.bc_queue_len, Some(10));
    assert_eq!(
        r.steps.iter().map(|s| s.endpoints).collect::<Vec<_>>(),
        [1, 2, 4]
    );
    assert!(
        r.steps.iter().any(|s| s.broadcast.loss_percent > 0.0),
        "a 10-frame queue under an unpaced burst loses copies: {:?}",
        r.steps
            .iter()
            .map(|s| s.broadcast.loss_percent)
            .collect::<Vec<_>>()
    );
    for step in &r.steps {
        let b = &step.broadcast;
        let lost = b.expected - b.delivered;
        assert_eq!(b.unattributed, 0, "{b:?}");
        assert_eq!(b.causes.iter().map(|c| c.frames).sum::<u64>(), lost);
        assert_eq!(b.per_endpoint.len() as u32, step.endpoints);
        if lost > 0 {
            assert!(
                b.causes[0].at.contains("broadcast queue, bcqueuelen 10"),
                "{:?}",
                b.causes
            );
            assert_eq!(
                lost % u64::from(step.endpoints),
                0,
                "a refusal costs every endpoint a copy"
            );
        }
        assert_eq!(b.at_parent, b.sent, "every broadcast reached the parent");
    }
    let sent: u64 = r.steps.iter().map(|s| s.broadcast.sent).sum();
    assert_eq!(seen, sent, "tcpdump on the parent saw every broadcast sent");
    let counted: u64 = r
        .steps
        .iter()
        .map(|s| s.broadcast.counters.parent_rx_dropped)
        .sum();
    assert_eq!(dropped, counted, "`ip -s` and the ramp read the same drops");
    // Independently of the ramp's own arithmetic: the parent's rx_dropped (ip -s) counts each
    // broadcast it had no protocol for (every one tcpdump saw) plus each one the queue refused,
    // and every refusal costs each endpoint of its step one copy (their rx_packets).
    let lost_broadcasts: u64 = r
        .steps
        .iter()
        .map(|s| (s.broadcast.expected - s.broadcast.delivered) / u64::from(s.endpoints))
        .sum();
    assert_eq!(
        lost_broadcasts,
        dropped - seen,
        "copies lost per endpoint = broadcasts refused, by ip -s and tcpdump"
    );
    assert!(namespaces_with(&format!("mvlab-{}-grow-", lab.name())).is_empty());
    lab.down().unwrap();
}

#[test]
fn an_interrupted_ramp_removes_what_it_added() {
    require_root();
    let s = scenario(
        "",
        "max_endpoints = 8\nbroadcasts = 10\nduration = \"20ms\"\n",
    );
    let lab = up(&s, "xstop");
    let stop = Stop::new();
    let progress = |what: &str| {
        if what.contains("4 in all") {
            stop.request();
        }
    };
    let bench = Bench {
        lab: &lab,
        scenario: &s,
        stop: &stop,
        max_pps: None,
        pcap_dir: None,
        progress: &progress,
    };
    let r = endpoint_ramp::measure(&bench, "grow", ramp_of(&s));
    assert!(matches!(r, Err(MeasureError::Interrupted)), "{r:?}");
    let prefix = format!("mvlab-{}-grow-", lab.name());
    assert!(namespaces_with(&prefix).is_empty());
    assert!(registered(&lab).iter().all(|n| !n.starts_with(&prefix)));
    lab.down().unwrap();
}

/// `mvlab run scenarios/endpoint-ramp.toml` as lab `lab`, once it has grown endpoints.
fn ramp_run_that_grew(lab: &str) -> std::process::Child {
    let child = mvlab()
        .arg("run")
        .arg(scenario_path("endpoint-ramp"))
        .args(["--name", lab])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let grown = format!("mvlab-{lab}-endpoint_ramp-");
    let started = std::time::Instant::now();
    while namespaces_with(&grown).len() < 2 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the ramp never grew"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[test]
fn a_ramp_killed_mid_way_leaves_only_what_clean_removes() {
    require_root();
    let lab = unique("xkill");
    let run = ramp_run_that_grew(&lab);
    let traces = format!("mvlab-{}-", run.id());
    kill_then_clean(run, &lab);
    let left: Vec<_> = std::fs::read_dir("/sys/kernel/tracing/instances")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&traces))
        .collect();
    assert!(
        left.is_empty(),
        "its drop-trace instances are left: {left:?}"
    );
}

#[test]
fn a_ramp_interrupted_mid_way_removes_everything_itself() {
    require_root();
    let lab = unique("xint");
    let child = ramp_run_that_grew(&lab);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_gone(&lab);
}

/// A killed run never runs its drop tracer's `Drop`: `mvlab clean` removes the tracefs instance
/// of a process that is gone (with its kfree_skb event on) and keeps a live process's.
#[test]
fn clean_removes_the_drop_trace_instances_of_dead_runs_only() {
    require_root();
    let instances = std::path::Path::new("/sys/kernel/tracing/instances");
    let mut ended = std::process::Command::new("true").spawn().unwrap();
    let dead = ended.id();
    ended.wait().unwrap();
    let orphan = instances.join(format!("mvlab-{dead}-0"));
    let live = instances.join(format!("mvlab-{}-999", std::process::id()));
    std::fs::create_dir(&orphan).unwrap();
    std::fs::create_dir(&live).unwrap();
    std::fs::write(orphan.join("events/skb/kfree_skb/enable"), "1").unwrap();
    let out = mvlab().args(["clean", "--json"]).output().unwrap();
    let kept = live.exists();
    std::fs::remove_dir(&live).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["trace_instances"].is_array(), "{report}");
    assert!(!orphan.exists(), "the dead run's instance is still there");
    assert!(kept, "a live process's instance was removed");
}
