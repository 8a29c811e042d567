//! Prometheus text exposition (format 0.0.4) of a run, for a textfile collector or a push gateway:
//! the verdict, each expectation, per-station frames sent and received, matrix cells, latency
//! quantiles, throughput and loss, RFC 2544 throughput, the exhaustion tests' figures, and the
//! emulated switch's counters (per port, per drop reason, per VLAN), table and event log. Every
//! series carries `scenario`; the names follow Prometheus conventions (base units: seconds,
//! ratios, bits; counters end in `_total`).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::measure::TestResult;
use crate::measure::stats::LatencyStats;
use crate::run::RunResult;
use crate::switch::{EntryKind, PortReport, SwitchReport, VlanReport};

/// Escapes a label value: backslash, double quote and newline.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric family being written: HELP and TYPE once, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
    }
}

fn latency_summary(f: &mut Family<'_>, name: &str, base: &[(&str, &str)], s: &LatencyStats) {
    for (q, v) in [
        ("0.5", s.p50_ns),
        ("0.9", s.p90_ns),
        ("0.99", s.p99_ns),
        ("0.999", s.p999_ns),
    ] {
        let mut labels = base.to_vec();
        labels.push(("quantile", q));
        f.sample(name, &labels, v as f64 / 1e9);
    }
    f.sample(
        &format!("{name}_sum"),
        base,
        s.mean_ns * s.samples as f64 / 1e9,
    );
    f.sample(&format!("{name}_count"), base, s.samples as f64);
}

/// A scenario's results on several kernels in one exposition: each family once, every series
/// labelled with the kernel it was measured on.
pub fn render_kernels(results: &[(&str, &RunResult)]) -> String {
    // Family name -> (HELP and TYPE lines, samples), in first-seen order.
    let mut families: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for (kernel, r) in results {
        let mut current = None;
        for line in render(r).lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or_default().to_string();
                let i = match families.iter().position(|f| f.0 == name) {
                    Some(i) => i,
                    None => {
                        families.push((name, vec![line.to_string()], Vec::new()));
                        families.len() - 1
                    }
                };
                current = Some(i);
            } else if line.starts_with("# TYPE ") {
                if let Some(i) = current
                    && families[i].1.len() == 1
                {
                    families[i].1.push(line.to_string());
                }
            } else if let Some(i) = current {
                families[i].2.push(with_kernel(line, kernel));
            }
        }
    }
    let mut out = String::new();
    for (_, head, samples) in families {
        for line in head.iter().chain(&samples) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A sample line with `kernel="..."` among its labels, unless it has one.
fn with_kernel(sample: &str, kernel: &str) -> String {
    match sample.split_once('{') {
        Some((_, labels)) if labels.starts_with("kernel=\"") || labels.contains(",kernel=\"") => {
            sample.to_string()
        }
        Some((name, labels)) if labels.starts_with('}') => {
            format!("{name}{{kernel=\"{}\"{labels}", label(kernel))
        }
        Some((name, labels)) => format!("{name}{{kernel=\"{}\",{labels}", label(kernel)),
        None => match sample.split_once(' ') {
            Some((name, value)) => format!("{name}{{kernel=\"{}\"}} {value}", label(kernel)),
            None => sample.to_string(),
        },
    }
}

pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    let sc = r.scenario.as_str();
    Family::new(
        &mut out,
        "mvlab_run_passed",
        "gauge",
        "Whether every expectation of the run held (1) or not (0).",
    )
    .sample(
        "mvlab_run_passed",
        &[
            ("scenario", sc),
            ("kernel", &r.kernel),
            ("mvlab", &r.mvlab_version),
        ],
        f64::from(u8::from(r.passed)),
    );
    let mut f = Family::new(
        &mut out,
        "mvlab_expectation_passed",
        "gauge",
        "Whether one expectation held (1) or not (0).",
    );
    for e in &r.expectations {
        f.sample(
            "mvlab_expectation_passed",
            &[
                ("scenario", sc),
                ("test", &e.test),
                ("expectation", &e.text),
            ],
            f64::from(u8::from(e.passed)),
        );
    }

    // Per station: frames sent and received over every matrix cell.
    let mut sent: BTreeMap<&str, u64> = BTreeMap::new();
    let mut received: BTreeMap<&str, u64> = BTreeMap::new();
    for t in &r.tests {
        if let TestResult::Matrix(m) = t {
            for c in &m.cells {
                *sent.entry(&c.from).or_default() += c.sent;
                *received.entry(&c.to).or_default() += c.received + c.leaked;
            }
        }
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_station_tx_frames",
        "gauge",
        "Test frames a station sent during the matrix tests.",
    );
    for (station, n) in &sent {
        f.sample(
            "mvlab_station_tx_frames",
            &[("scenario", sc), ("station", station)],
            *n as f64,
        );
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_station_rx_frames",
        "gauge",
        "Test frames a station received during the matrix tests (leaks included).",
    );
    for (station, n) in &received {
        f.sample(
            "mvlab_station_rx_frames",
            &[("scenario", sc), ("station", station)],
            *n as f64,
        );
    }

    let cells = || {
        r.tests.iter().flat_map(|t| match t {
            TestResult::Matrix(m) => m
                .cells
                .iter()
                .map(|c| (m.name.as_str(), c))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
    };
    for (name, help, leaked) in [
        (
            "mvlab_matrix_received_frames",
            "Frames of one matrix cell that arrived at the receiver addressed to it.",
            false,
        ),
        (
            "mvlab_matrix_leaked_frames",
            "Frames of one matrix cell that reached a receiver they were not addressed to.",
            true,
        ),
    ] {
        let mut f = Family::new(&mut out, name, "gauge", help);
        for (test, c) in cells().filter(|(_, c)| !leaked || c.leaked > 0) {
            let class = c.class.to_string();
            let promiscuous = if c.promiscuous { "true" } else { "false" };
            let value = if leaked { c.leaked } else { c.received };
            f.sample(
                name,
                &[
                    ("scenario", sc),
                    ("test", test),
                    ("from", &c.from),
                    ("to", &c.to),
                    ("class", &class),
                    ("promiscuous", promiscuous),
                ],
                value as f64,
            );
        }
    }

    let mut f = Family::new(
        &mut out,
        "mvlab_latency_seconds",
        "summary",
        "Latency between two stations.",
    );
    for t in &r.tests {
        if let TestResult::Latency(l) = t {
            let method = serde_json::to_value(l.method)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            latency_summary(
                &mut f,
                "mvlab_latency_seconds",
                &[
                    ("scenario", sc),
                    ("test", &l.name),
                    ("from", &l.from),
                    ("to", &l.to),
                    ("method", &method),
                ],
                &l.stats,
            );
        }
    }

    let mut f = Family::new(
        &mut out,
        "mvlab_loss_ratio",
        "gauge",
        "Frames lost over frames sent, per test and frame size.",
    );
    for t in &r.tests {
        match t {
            TestResult::Latency(l) => {
                let size = l.frame_size.to_string();
                f.sample(
                    "mvlab_loss_ratio",
                    &[
                        ("scenario", sc),
                        ("test", &l.name),
                        ("from", &l.from),
                        ("to", &l.to),
                        ("frame_size", &size),
                    ],
                    l.loss_percent() / 100.0,
                );
            }
            TestResult::Throughput(tp) => {
                for p in &tp.points {
                    let size = p.frame_size.to_string();
                    f.sample(
                        "mvlab_loss_ratio",
                        &[
                            ("scenario", sc),
                            ("test", &tp.name),
                            ("from", &tp.from),
                            ("to", &tp.to),
                            ("frame_size", &size),
                        ],
                        p.loss_percent() / 100.0,
                    );
                }
            }
            _ => {}
        }
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_throughput_rx_frames_per_second",
        "gauge",
        "Received frame rate of a throughput trial.",
    );
    for t in &r.tests {
        if let TestResult::Throughput(tp) = t {
            for p in &tp.points {
                let size = p.frame_size.to_string();
                f.sample(
                    "mvlab_throughput_rx_frames_per_second",
                    &[
                        ("scenario", sc),
                        ("test", &tp.name),
                        ("from", &tp.from),
                        ("to", &tp.to),
                        ("frame_size", &size),
                    ],
                    p.rx_pps,
                );
            }
        }
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_rfc2544_throughput_frames_per_second",
        "gauge",
        "RFC 2544 zero-loss throughput (frame sizes include the FCS).",
    );
    for t in &r.tests {
        if let TestResult::Rfc2544(rf) = t {
            for s in &rf.sizes {
                let size = s.frame_size.to_string();
                f.sample(
                    "mvlab_rfc2544_throughput_frames_per_second",
                    &[
                        ("scenario", sc),
                        ("test", &rf.name),
                        ("from", &rf.from),
                        ("to", &rf.to),
                        ("frame_size", &size),
                    ],
                    s.throughput_pps,
                );
            }
        }
    }
    exhaustion(&mut out, r);
    if let Some(sw) = &r.switch {
        switch(&mut out, &r.scenario, sw);
    }
    out
}

/// Labels of a sample: the scenario, the test, and more.
type Labels<'a> = Vec<(&'a str, String)>;

/// One family of `kind` (gauge, counter) with its samples; nothing is written when there are none.
fn family(out: &mut String, kind: &str, name: &str, help: &str, samples: Vec<(Labels<'_>, f64)>) {
    if samples.is_empty() {
        return;
    }
    let mut f = Family::new(out, name, kind, help);
    for (labels, value) in samples {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        f.sample(name, &labels, value);
    }
}

/// The exhaustion tests' figures: address capacity and learning rate, the endpoint ramp per
/// step, MAC sweeps per receiver, the IPAM pool and the neighbour tables.
fn exhaustion(out: &mut String, r: &RunResult) {
    let base = |test: &str| -> Labels<'_> {
        vec![("scenario", r.scenario.clone()), ("test", test.to_string())]
    };
    let with = |test: &str, more: &[(&'static str, String)]| -> Labels<'_> {
        let mut l = base(test);
        l.extend(more.iter().cloned());
        l
    };
    let mut capacity = Vec::new();
    let mut learned = Vec::new();
    let mut learning = Vec::new();
    let mut bc_loss = Vec::new();
    let mut create = Vec::new();
    let mut memory = Vec::new();
    let mut p99 = Vec::new();
    let mut unicast = Vec::new();
    let mut degraded = Vec::new();
    let mut sweep_frames = Vec::new();
    let mut sweep_macs = Vec::new();
    let mut sweep_missing = Vec::new();
    let mut sweep_rss = Vec::new();
    let mut ipam = Vec::new();
    let mut resolved = Vec::new();
    let mut failed = Vec::new();
    let mut fulls = Vec::new();
    let mut entries = Vec::new();
    for t in &r.tests {
        match t {
            TestResult::AddressCaching(c) => {
                capacity.push((base(&c.name), f64::from(c.capacity)));
                if let Some(l) = c.switch_learned {
                    learned.push((base(&c.name), f64::from(l)));
                }
            }
            TestResult::AddressLearningRate(l) => {
                learning.push((base(&l.name), l.learning_rate_pps));
            }
            TestResult::EndpointRamp(e) => {
                for s in &e.steps {
                    let at = with(&e.name, &[("endpoints", s.endpoints.to_string())]);
                    bc_loss.push((at.clone(), s.broadcast.loss_percent / 100.0));
                    create.push((at.clone(), s.create_per_endpoint_s));
                    memory.push((at.clone(), s.memory.per_endpoint_bytes as f64));
                    p99.push((at.clone(), s.unicast.latency.p99_ns as f64 / 1e9));
                    unicast.push((at, s.unicast.throughput.rx_pps));
                }
                if let Some(n) = e.first_degraded {
                    degraded.push((base(&e.name), f64::from(n)));
                }
            }
            TestResult::MacSweep(m) => {
                for x in &m.receivers {
                    let at = with(&m.name, &[("receiver", x.station.clone())]);
                    sweep_frames.push((at.clone(), x.frames as f64));
                    sweep_macs.push((at.clone(), x.macs as f64));
                    sweep_missing.push((at, x.missing as f64));
                }
                if let Some(b) = m.peak_rss_bytes {
                    sweep_rss.push((base(&m.name), b as f64));
                }
            }
            TestResult::IpExhaustion(i) => {
                if let Some(p) = &i.ipam {
                    for (what, v) in [
                        ("available", p.available),
                        ("allocated", p.allocated),
                        ("refused", p.refused),
                    ] {
                        ipam.push((with(&i.name, &[("state", what.to_string())]), v as f64));
                    }
                }
                for n in &i.neighbours {
                    let at = with(&i.name, &[("table", n.table.as_str().to_string())]);
                    resolved.push((at.clone(), f64::from(n.resolved)));
                    failed.push((at.clone(), f64::from(n.failed)));
                    fulls.push((at.clone(), n.stats.table_fulls as f64));
                    entries.push((at, n.entries_after as f64));
                }
            }
            _ => {}
        }
    }
    let families = [
        (
            "mvlab_address_capacity",
            "Addresses the switch caches (RFC 2889 5.7).",
            capacity,
        ),
        (
            "mvlab_address_switch_learned",
            "Addresses the switch said it learned at the measured capacity.",
            learned,
        ),
        (
            "mvlab_address_learning_rate_frames_per_second",
            "Highest rate at which the switch learned every address (RFC 2889 5.8).",
            learning,
        ),
        (
            "mvlab_ramp_broadcast_loss_ratio",
            "Broadcast copies lost over copies due, per endpoint-ramp step.",
            bc_loss,
        ),
        (
            "mvlab_ramp_create_seconds_per_endpoint",
            "Time the kernel took to create one endpoint, per ramp step.",
            create,
        ),
        (
            "mvlab_ramp_memory_bytes_per_endpoint",
            "Kernel memory per endpoint (MemAvailable drop since the ramp began), per step.",
            memory,
        ),
        (
            "mvlab_ramp_unicast_p99_seconds",
            "99th percentile one-way unicast latency to the newest endpoint, per step.",
            p99,
        ),
        (
            "mvlab_ramp_unicast_rx_frames_per_second",
            "Unicast frames per second received by the newest endpoint, per step.",
            unicast,
        ),
        (
            "mvlab_ramp_first_degraded_endpoints",
            "Endpoint count of the first ramp step where anything degraded.",
            degraded,
        ),
        (
            "mvlab_mac_sweep_frames",
            "Frames of a MAC sweep that reached a receiver.",
            sweep_frames,
        ),
        (
            "mvlab_mac_sweep_macs",
            "Source MACs of a sweep seen at a receiver.",
            sweep_macs,
        ),
        (
            "mvlab_mac_sweep_missing_macs",
            "Source MACs of a sweep with no frame at a receiver.",
            sweep_missing,
        ),
        (
            "mvlab_mac_sweep_peak_resident_bytes",
            "mvlab's peak resident memory during a MAC sweep.",
            sweep_rss,
        ),
        (
            "mvlab_ipam_addresses",
            "Docker IPAM pool addresses: available, allocated and refused of a request.",
            ipam,
        ),
        (
            "mvlab_neighbour_resolved",
            "Endpoints whose neighbour entry for the peer resolved.",
            resolved,
        ),
        (
            "mvlab_neighbour_failed",
            "Endpoints whose neighbour entry for the peer did not resolve.",
            failed,
        ),
        (
            "mvlab_neighbour_table_fulls",
            "Neighbour entries the kernel refused (table full) during the test.",
            fulls,
        ),
        (
            "mvlab_neighbour_entries",
            "Entries in the machine's neighbour table at the end of the test.",
            entries,
        ),
    ];
    for (name, help, samples) in families {
        family(out, "gauge", name, help, samples);
    }
}

/// The emulated switch's counters since it started: per port (frames and bytes each way, floods,
/// learning, violations, whether it is up), every drop by port and reason, per VLAN, the table by
/// entry kind, and the event log by event kind.
fn switch(out: &mut String, scenario: &str, sw: &SwitchReport) {
    let at = |more: &[(&'static str, String)]| -> Labels<'_> {
        let mut l = vec![("scenario", scenario.to_string())];
        l.extend(more.iter().cloned());
        l
    };
    let port_counter = |value: fn(&PortReport) -> u64| -> Vec<(Labels<'_>, f64)> {
        sw.ports
            .iter()
            .map(|p| (at(&[("port", p.name.clone())]), value(p) as f64))
            .collect()
    };
    let vlan_counter = |value: fn(&VlanReport) -> u64| -> Vec<(Labels<'_>, f64)> {
        sw.vlans
            .iter()
            .map(|v| (at(&[("vlan", v.vid.to_string())]), value(v) as f64))
            .collect()
    };
    let dropped = sw
        .ports
        .iter()
        .flat_map(|p| {
            p.drops.iter().map(|d| {
                (
                    at(&[
                        ("port", p.name.clone()),
                        ("reason", d.reason.as_str().to_string()),
                    ]),
                    d.frames as f64,
                )
            })
        })
        .collect();
    let entries = [EntryKind::Dynamic, EntryKind::Sticky, EntryKind::Static]
        .into_iter()
        .map(|k| {
            let n = sw.table.iter().filter(|e| e.kind == k).count();
            (at(&[("kind", k.as_str().to_string())]), n as f64)
        })
        .collect();
    let mut events: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &sw.events {
        *events.entry(e.kind.as_str()).or_default() += 1;
    }
    let events = events
        .into_iter()
        .map(|(k, n)| (at(&[("kind", k.to_string())]), n as f64))
        .collect();
    let counters = [
        (
            "mvlab_switch_port_rx_frames_total",
            "Frames the emulated switch read from a port.",
            port_counter(|p| p.rx_frames),
        ),
        (
            "mvlab_switch_port_rx_bytes_total",
            "Bytes the emulated switch read from a port.",
            port_counter(|p| p.rx_bytes),
        ),
        (
            "mvlab_switch_port_tx_frames_total",
            "Frames the emulated switch sent out of a port.",
            port_counter(|p| p.tx_frames),
        ),
        (
            "mvlab_switch_port_tx_bytes_total",
            "Bytes the emulated switch sent out of a port.",
            port_counter(|p| p.tx_bytes),
        ),
        (
            "mvlab_switch_port_flooded_frames_total",
            "Copies sent out of a port by flooding.",
            port_counter(|p| p.flooded),
        ),
        (
            "mvlab_switch_port_learned_total",
            "Table entries learned on a port (moves included).",
            port_counter(|p| p.learned),
        ),
        (
            "mvlab_switch_port_not_learned_total",
            "Sources seen on a port and not learned (capacity, mac_limit, learning rate).",
            port_counter(|p| p.not_learned),
        ),
        (
            "mvlab_switch_port_violations_total",
            "Port-security violations counted on a port (restrict and shutdown).",
            port_counter(|p| p.violations),
        ),
        (
            "mvlab_switch_dropped_frames_total",
            "Frames the emulated switch dropped, by port and reason.",
            dropped,
        ),
        (
            "mvlab_switch_vlan_rx_frames_total",
            "Frames classified into a VLAN (0 on a VLAN-unaware switch).",
            vlan_counter(|v| v.rx_frames),
        ),
        (
            "mvlab_switch_vlan_flooded_frames_total",
            "Frames flooded in a VLAN.",
            vlan_counter(|v| v.flooded),
        ),
        (
            "mvlab_switch_vlan_dropped_frames_total",
            "Frames of a VLAN dropped after classification.",
            vlan_counter(|v| v.dropped),
        ),
        (
            "mvlab_switch_events_total",
            "Events in the emulated switch's log, by kind (events past the log's size are in mvlab_switch_events_lost_total).",
            events,
        ),
    ];
    for (name, help, samples) in counters {
        family(out, "counter", name, help, samples);
    }
    family(
        out,
        "counter",
        "mvlab_switch_events_lost_total",
        "Events past the emulated switch's log size, counted but not kept.",
        vec![(at(&[]), sw.events_lost as f64)],
    );
    family(
        out,
        "gauge",
        "mvlab_switch_port_up",
        "Whether a port forwards (1) or a port-security shutdown stopped it (0).",
        sw.ports
            .iter()
            .map(|p| {
                (
                    at(&[("port", p.name.clone())]),
                    f64::from(u8::from(p.state == "up")),
                )
            })
            .collect(),
    );
    family(
        out,
        "gauge",
        "mvlab_switch_table_entries",
        "Entries in the emulated switch's MAC table at the end of the run, by kind.",
        entries,
    );
}
