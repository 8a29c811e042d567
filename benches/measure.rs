//! End-to-end speed of the latency, throughput and RFC 2544 measurements on a real lab (macvlan
//! bridge-mode siblings e1, e2 and a peer behind a Linux bridge), in a release build: what
//! `mvlab run` reports for them, and how long each test takes on the wall clock (RFC 2544 with
//! the scenario defaults of 1 s trials and 1% resolution). Needs root:
//!
//!     sudo cargo bench --bench measure
//!
//! Under `cargo test` (which builds benches too) it does nothing. The lab is removed on exit.

use std::time::Instant;

use mvlab::diag::Source;
use mvlab::lab::{Lab, LabOptions};
use mvlab::measure::{Bench, TestResult, latency, rfc2544, throughput};
use mvlab::report::paint::Paint;
use mvlab::report::text;
use mvlab::run::RunResult;
use mvlab::scenario::{self, TestKind};
use mvlab::stop::Stop;

const SCENARIO: &str = r#"
name = "bench-measure"

[[networks]]
mode = "bridge"

[[tests]]
kind = "latency"
name = "one-way-e1-e2"
from = "e1"
to = "e2"
rate = "1kpps"
duration = "3s"

[[tests]]
kind = "latency"
name = "round-trip-e1-e2"
method = "round-trip"
from = "e1"
to = "e2"
rate = "1kpps"
duration = "3s"

[[tests]]
kind = "latency"
name = "one-way-e1-peer"
from = "e1"
to = "peer"
rate = "1kpps"
duration = "3s"

[[tests]]
kind = "throughput"
name = "max-e1-e2"
from = "e1"
to = "e2"
frame_sizes = [64, 1518]
duration = "2s"

[[tests]]
kind = "throughput"
name = "max-e1-peer"
from = "e1"
to = "peer"
frame_sizes = [64, 1518]
duration = "2s"

[[tests]]
kind = "rfc2544"
name = "rfc2544-e1-peer"
from = "e1"
to = "peer"
frame_sizes = [64, 1518]
"#;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "the measurement benchmark builds a lab and needs root: sudo cargo bench --bench measure"
    );
    let scenario = scenario::parse(Source::new("bench-measure.toml", SCENARIO))
        .unwrap_or_else(|d| panic!("{d}"));
    let lab_name = format!("mvbench-measure-{}", std::process::id());
    let lab = Lab::up(
        &scenario,
        LabOptions {
            name: Some(lab_name.clone()),
            ..LabOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("lab up: {e}"));
    let stop = Stop::new();
    let bench = Bench {
        lab: &lab,
        scenario: &scenario,
        stop: &stop,
        max_pps: None,
        pcap_dir: None,
        progress: &|_: &str| {},
    };
    let started = Instant::now();
    let mut tests = Vec::new();
    let mut walls = Vec::new();
    for spec in &scenario.tests {
        let t0 = Instant::now();
        let result = match &spec.kind {
            TestKind::Latency(t) => {
                latency::measure(&bench, &spec.name, t).map(TestResult::Latency)
            }
            TestKind::Throughput(t) => {
                throughput::measure(&bench, &spec.name, t).map(TestResult::Throughput)
            }
            TestKind::Rfc2544(t) => {
                rfc2544::measure(&bench, &spec.name, t).map(TestResult::Rfc2544)
            }
            _ => continue,
        };
        let result = result.unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        walls.push((spec.name.clone(), t0.elapsed().as_secs_f64()));
        tests.push(result);
    }
    let run = RunResult {
        scenario: scenario.name.clone(),
        description: String::new(),
        lab: lab_name,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        mvlab_version: env!("CARGO_PKG_VERSION").to_string(),
        started: String::new(),
        duration_s: started.elapsed().as_secs_f64(),
        passed: true,
        tests,
        summary: Vec::new(),
        expectations: Vec::new(),
        switch: None,
        addresses: Vec::new(),
        docker: None,
    };
    print!("{}", text::render(&run, Paint(false), false));
    println!("\nwall clock per test:");
    for (name, secs) in walls {
        println!("  {name:<20} {secs:>6.1} s");
    }
    for t in &run.tests {
        if let TestResult::Rfc2544(r) = t {
            for s in &r.sizes {
                println!(
                    "  {} {} B: {} search trials, {} loss steps, {} bursts",
                    r.name,
                    s.frame_size,
                    s.search.len(),
                    s.frame_loss.len(),
                    s.back_to_back.as_ref().map_or(0, |b| b.bursts)
                );
            }
        }
    }
    lab.down().unwrap_or_else(|e| panic!("lab down: {e}"));
}
