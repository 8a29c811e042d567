//! The verdict: every expectation of a scenario checked against the measured results, each with
//! what was expected, what was measured and whether it held. Delivery claims also write their
//! expected value into the matrix cells they cover, so reports show expected beside measured.
//! Pure: it reads results and the scenario, and never measures or formats output.

use serde::{Deserialize, Serialize};

use crate::delivery::MatrixResult;
use crate::delivery::{Addressing, Cell};
use crate::measure::TestResult;
use crate::measure::endpoint_ramp::{EndpointRampResult, RampStep};
use crate::measure::ip_exhaustion::IpExhaustionResult;
use crate::measure::kstat::NeighbourTable;
use crate::measure::latency::LatencyResult;
use crate::measure::mac_sweep::MacSweepResult;
use crate::measure::path::Missing;
use crate::measure::rfc2544::{Rfc2544Result, Rfc2544Size};
use crate::measure::stats::LatencyStats;
use crate::measure::throughput::{ThroughputPoint, ThroughputResult};
use crate::model::{self, TraceRequest};
use crate::scenario::metrics::{
    AddressCachingMetric, IpExhaustionMetric, LatencyMetric, LearningRateMetric, MacSweepMetric,
    Metric, MetricSet, RampMetric, Rfc2544Metric, ThroughputMetric,
};
use crate::scenario::{Claim, CountCheck, NodeSet, Op, Role, Scenario, Station};
use crate::units::{L1_OVERHEAD, Quantity};

/// One expectation, checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// The test it belongs to.
    pub test: String,
    /// The claim as written (or, for a model/kernel comparison, the cell it is about).
    pub text: String,
    pub expected: String,
    pub measured: String,
    pub passed: bool,
    /// Why it failed, in a sentence or a trace; empty when it passed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// How many failing cells a delivery claim's `measured` text names before summarising.
const CELLS_SHOWN: usize = 4;
/// How many model/kernel disagreements get an expectation (and a trace) of their own.
const DISAGREEMENTS_SHOWN: usize = 20;

/// Whether a measured cell may differ from the model's exact prediction for a reason the model
/// cannot know: an unjoined IPv4 group passes a non-promiscuous macvlan whose 256-bucket
/// multicast filter (salted per device, `mc_hash`) collides with a group it joined.
fn filter_collision(predicted: &Cell, measured: &Cell) -> bool {
    predicted.class.addressing == Addressing::Multicast4
        && !predicted.promiscuous
        && predicted.received == 0
        && measured.received == measured.sent
}

/// Whether a judged cell is one whose count the multicast filter's hash decides: expected
/// none of an unjoined group, and got none or all of it (see `filter_collision`).
pub fn hash_dependent(cell: &Cell) -> bool {
    cell.class.addressing == Addressing::Multicast4
        && !cell.promiscuous
        && cell.expected == Some(0)
        && cell.leaked == 0
        && (cell.received == 0 || cell.received == cell.sent)
}

/// Every metric a claim could name on `result`, with its frame size or step where it has one
/// (`throughput@64`), rates in frames per second: what `diff` compares.
pub fn metrics_of(result: &TestResult) -> Vec<(String, f64)> {
    let set = match result {
        TestResult::Matrix(_) => return Vec::new(),
        TestResult::Latency(_) => MetricSet::Latency,
        TestResult::Throughput(_) => MetricSet::Throughput,
        TestResult::Rfc2544(_) => MetricSet::Rfc2544,
        TestResult::AddressCaching(_) => MetricSet::AddressCaching,
        TestResult::AddressLearningRate(_) => MetricSet::AddressLearningRate,
        TestResult::EndpointRamp(_) => MetricSet::EndpointRamp,
        TestResult::MacSweep(_) => MetricSet::MacSweep,
        TestResult::IpExhaustion(_) => MetricSet::IpExhaustion,
    };
    let per_second = Quantity::Pps(0.0);
    set.all()
        .into_iter()
        .filter_map(|metric| {
            metric_values(result, metric, None, &per_second)
                .ok()
                .map(|v| (metric.name(), v))
        })
        .flat_map(|(name, values)| {
            values
                .into_iter()
                .map(move |(label, v)| (format!("{name}{label}"), v))
        })
        .collect()
}

/// Holds the kernel to the model: fills the `expected` values of cells no claim covered with the
/// model's prediction, and turns every cell where the kernel and the model disagree into a failed
/// expectation carrying the model's hop-by-hop trace of that cell's frame. One summary
/// expectation says how many cells were compared.
pub fn conform(
    scenario: &Scenario,
    measured: &mut MatrixResult,
    predicted: &MatrixResult,
) -> Vec<ExpectationResult> {
    let mut compared = 0usize;
    let mut disagreements = Vec::new();
    for cell in &mut measured.cells {
        let Some(p) = predicted.cells.iter().find(|p| {
            p.from == cell.from
                && p.to == cell.to
                && p.class == cell.class
                && p.promiscuous == cell.promiscuous
        }) else {
            continue;
        };
        compared += 1;
        cell.expected.get_or_insert(p.received);
        cell.expected_leaked.get_or_insert(p.leaked);
        if (cell.received != p.received || cell.leaked != p.leaked) && !filter_collision(p, cell) {
            disagreements.push((cell.clone(), p.clone()));
        }
    }
    if let crate::scenario::Switch::External(_) = scenario.switch {
        return against_reference(scenario, &measured.name, compared, &disagreements);
    }
    let mut out = vec![ExpectationResult {
        test: measured.name.clone(),
        text: "the kernel delivers every cell as the packet-path model predicts".into(),
        expected: format!("{compared} cell(s) as modelled"),
        measured: format!("{} cell(s) differ", disagreements.len()),
        passed: disagreements.is_empty() && compared > 0,
        detail: match (compared, disagreements.len()) {
            (0, _) => "no measured cell has a prediction".into(),
            (_, 0) => String::new(),
            (_, n) if n > DISAGREEMENTS_SHOWN => format!(
                "the first {DISAGREEMENTS_SHOWN} follow with their traces; `mvlab simulate --trace` shows any other"
            ),
            _ => "each follows with the model's trace".into(),
        },
    }];
    for (cell, p) in disagreements.into_iter().take(DISAGREEMENTS_SHOWN) {
        let request = TraceRequest {
            from: cell.from.clone(),
            to: cell.to.clone(),
            class: cell.class,
            promiscuous: cell.promiscuous,
            vlan: measured.spec.vlan,
        };
        let detail = match model::trace(scenario, &request) {
            Ok(t) => {
                let hops: Vec<String> = t
                    .hops
                    .iter()
                    .map(|h| format!("{} [{}] {}", h.device, h.kernel, h.text))
                    .collect();
                format!("model: {}; path: {}", t.summary, hops.join(" | "))
            }
            Err(e) => format!("no trace: {e}"),
        };
        out.push(ExpectationResult {
            test: measured.name.clone(),
            text: format!("model: {}", describe(&cell)),
            expected: format!("{} received, {} leaked", p.received, p.leaked),
            measured: format!("{} received, {} leaked", cell.received, cell.leaked),
            passed: false,
            detail,
        });
    }
    out
}

/// An external switch held to the reference: one line for the whole matrix, then one per way it
/// differs (`reference::deviations`), each with why it matters and its cells.
fn against_reference(
    scenario: &Scenario,
    test: &str,
    compared: usize,
    differing: &[(Cell, Cell)],
) -> Vec<ExpectationResult> {
    let found = crate::reference::deviations(scenario, differing);
    let mut out = vec![ExpectationResult {
        test: test.to_string(),
        text: "the switch under test forwards every cell as the 802.1D learning bridge (the reference) does".into(),
        expected: format!("{compared} cell(s) as the reference"),
        measured: format!(
            "{} cell(s) differ, in {} way(s)",
            differing.len(),
            found.len()
        ),
        passed: differing.is_empty() && compared > 0,
        detail: if compared == 0 {
            "no measured cell has a reference prediction".into()
        } else {
            String::new()
        },
    }];
    for d in found {
        let shown: Vec<&String> = d.cells.iter().take(DISAGREEMENTS_SHOWN).collect();
        out.push(ExpectationResult {
            test: test.to_string(),
            text: format!("switch under test: {}", d.behaviour),
            expected: "as the reference".into(),
            measured: format!("{} cell(s)", d.cells.len()),
            passed: false,
            detail: format!(
                "why it matters: {}; cells: {}{}",
                d.why,
                shown
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                if d.cells.len() > shown.len() {
                    format!(" (and {} more)", d.cells.len() - shown.len())
                } else {
                    String::new()
                }
            ),
        });
    }
    out
}

/// Checks every expectation of `scenario` against `results` (matched by test name), filling the
/// `expected` fields of the matrix cells that delivery claims cover.
pub fn judge(scenario: &Scenario, results: &mut [TestResult]) -> Vec<ExpectationResult> {
    let stations = scenario.stations();
    let mut out = Vec::new();
    for test in &scenario.tests {
        let Some(result) = results.iter_mut().find(|r| r.name() == test.name) else {
            for e in &test.expect {
                out.push(ExpectationResult {
                    test: test.name.clone(),
                    text: e.text.clone(),
                    expected: String::new(),
                    measured: "not measured".into(),
                    passed: false,
                    detail: "the test produced no result".into(),
                });
            }
            continue;
        };
        for e in &test.expect {
            let (expected, measured, passed, detail) = match (&e.claim, &mut *result) {
                (Claim::Delivery { .. }, TestResult::Matrix(m)) => {
                    delivery(&e.claim, &stations, &mut m.cells)
                }
                (
                    Claim::Metric {
                        metric,
                        frame_size,
                        op,
                        bound,
                    },
                    r,
                ) => {
                    let values = metric_values(r, *metric, *frame_size, bound);
                    compare(values, *op, bound)
                }
                (Claim::Delivery { .. }, _) => (
                    String::new(),
                    String::new(),
                    false,
                    "a delivery claim needs a matrix test".into(),
                ),
            };
            out.push(ExpectationResult {
                test: test.name.clone(),
                text: e.text.clone(),
                expected,
                measured,
                passed,
                detail,
            });
        }
    }
    out
}

fn in_set(set: &NodeSet, name: &str, stations: &[Station]) -> bool {
    let role = stations.iter().find(|s| s.name == name).map(|s| s.role);
    match set {
        NodeSet::Node(n) => n == name,
        NodeSet::Endpoints => role == Some(Role::Endpoint),
        NodeSet::Peers => role == Some(Role::Peer),
        NodeSet::Host => role == Some(Role::Host),
        NodeSet::All => role.is_some(),
    }
}

fn count_text(count: CountCheck) -> String {
    match count {
        CountCheck::All => "all".into(),
        CountCheck::None => "none".into(),
        CountCheck::Compare(Op::Eq, n) => n.to_string(),
        CountCheck::Compare(op, n) => format!("{} {n}", op.as_str()),
    }
}

fn describe(cell: &Cell) -> String {
    format!(
        "{} -> {} {}{}",
        cell.from,
        cell.to,
        cell.class,
        if cell.promiscuous {
            " promiscuous"
        } else {
            " not-promiscuous"
        }
    )
}

/// A delivery claim over every cell it covers.
fn delivery(
    claim: &Claim,
    stations: &[Station],
    cells: &mut [Cell],
) -> (String, String, bool, String) {
    let Claim::Delivery {
        from,
        to,
        class,
        promiscuous,
        leaked,
        count,
    } = claim
    else {
        unreachable!("called for delivery claims only")
    };
    let mut matched = 0usize;
    let mut failures = Vec::new();
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for cell in cells.iter_mut().filter(|c| {
        c.class == *class
            && promiscuous.is_none_or(|p| p == c.promiscuous)
            && in_set(from, &c.from, stations)
            && in_set(to, &c.to, stations)
    }) {
        matched += 1;
        let value = if *leaked { cell.leaked } else { cell.received };
        let (ok, exact) = match *count {
            CountCheck::All => (value == cell.sent, Some(cell.sent)),
            CountCheck::None => (value == 0, Some(0)),
            CountCheck::Compare(op, n) => (
                op.holds(value as f64, n as f64),
                (op == Op::Eq).then_some(n),
            ),
        };
        if let Some(exact) = exact {
            if *leaked {
                cell.expected_leaked = Some(exact);
            } else {
                cell.expected = Some(exact);
            }
        }
        lo = lo.min(value);
        hi = hi.max(value);
        if !ok {
            failures.push(format!("{}: {value} of {}", describe(cell), cell.sent));
        }
    }
    let what = if *leaked { "leaked" } else { "received" };
    let expected = format!("{} {what} in each cell", count_text(*count));
    if matched == 0 {
        return (expected, "no cell".into(), false, "no measured cell matches this claim: check the names, the class, and the test's classes, senders and receivers".into());
    }
    let spread = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo} to {hi}")
    };
    let measured = format!("{spread} {what} across {matched} cell(s)");
    if failures.is_empty() {
        return (expected, measured, true, String::new());
    }
    let shown: Vec<&str> = failures
        .iter()
        .take(CELLS_SHOWN)
        .map(String::as_str)
        .collect();
    let more = failures.len().saturating_sub(CELLS_SHOWN);
    let detail = format!(
        "{} of {matched} cell(s) break it: {}{}",
        failures.len(),
        shown.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    );
    (expected, measured, false, detail)
}

/// A metric's measured values, labelled (`@64`), in the bound's unit; `Err` says why there are none.
type Values = Result<Vec<(String, f64)>, String>;

fn metric_values(
    result: &TestResult,
    metric: Metric,
    size: Option<u32>,
    bound: &Quantity,
) -> Values {
    let one = |v: Result<f64, String>| v.map(|v| vec![(String::new(), v)]);
    match (result, metric) {
        (TestResult::Latency(l), Metric::Latency(m)) => one(latency_value(l, m)),
        (TestResult::Throughput(t), Metric::Throughput(m)) => throughput_values(t, m, size, bound),
        (TestResult::Rfc2544(r), Metric::Rfc2544(m)) => rfc2544_values(r, m, size, bound),
        (TestResult::AddressCaching(r), Metric::AddressCaching(m)) => one(match m {
            AddressCachingMetric::Capacity => Ok(f64::from(r.capacity)),
            AddressCachingMetric::Learned => r
                .switch_learned
                .map(f64::from)
                .ok_or_else(|| "the switch did not say how many addresses it learned".into()),
        }),
        (TestResult::AddressLearningRate(r), Metric::AddressLearningRate(m)) => one(match m {
            // The rate found as a share of what the first, unthrottled trial offered: 100% when
            // the switch learned everything as fast as one sender could send.
            LearningRateMetric::OfOffered if r.max_offered_pps > 0.0 => {
                Ok(r.learning_rate_pps / r.max_offered_pps * 100.0)
            }
            LearningRateMetric::OfOffered => Err("the first trial offered nothing".into()),
            // RFC 2889's frames are 64 bytes with FCS; a bit rate counts them at layer 1.
            LearningRateMetric::LearningRate => Ok(rate_in(
                bound,
                r.learning_rate_pps,
                r.learning_rate_pps * f64::from((64 + L1_OVERHEAD) * 8),
            )),
        }),
        (TestResult::EndpointRamp(r), Metric::EndpointRamp(m)) => ramp_values(r, m, size, bound),
        (TestResult::MacSweep(r), Metric::MacSweep(m)) => one(sweep_value(r, m)),
        (TestResult::IpExhaustion(r), Metric::IpExhaustion(m)) => one(exhaustion_value(r, m)),
        (TestResult::Matrix(_), _) => {
            Err("a matrix test has no metrics; use a delivery claim".into())
        }
        // A claim is parsed for its own test's kind, so this is a result of another test.
        (_, m) => Err(format!("`{}` is not a metric of this test", m.name())),
    }
}

fn ramp_values(
    r: &EndpointRampResult,
    metric: RampMetric,
    size: Option<u32>,
    bound: &Quantity,
) -> Values {
    type StepValue = fn(&RampStep, &Quantity) -> Result<f64, String>;
    let value: StepValue = match metric {
        RampMetric::DegradedAt => {
            return Ok(vec![match r.first_degraded {
                Some(n) => (size_label(n), f64::from(n)),
                None => ("(no step degraded)".into(), f64::INFINITY),
            }]);
        }
        RampMetric::BroadcastLoss => |s, _| Ok(s.broadcast.loss_percent),
        RampMetric::Unattributed => |s, _| Ok(s.broadcast.unattributed as f64),
        RampMetric::CreateTime => |s, _| Ok(s.create_per_endpoint_s * 1e9),
        RampMetric::Memory => |s, _| Ok(s.memory.per_endpoint_bytes as f64),
        RampMetric::P50 => |s, _| step_latency(s).map(|l| l.p50_ns as f64),
        RampMetric::P99 => |s, _| step_latency(s).map(|l| l.p99_ns as f64),
        RampMetric::RxRate => |s, bound| {
            let t = &s.unicast.throughput;
            Ok(rate_in(bound, t.rx_pps, t.rx_bps_l1))
        },
        RampMetric::Loss => |s, _| Ok(s.unicast.loss_percent()),
    };
    let steps = points(&r.steps, size, |s: &RampStep| s.endpoints).map_err(|_| {
        let all: Vec<String> = r.steps.iter().map(|s| s.endpoints.to_string()).collect();
        format!(
            "the ramp has no step of {} endpoints; its steps are {}",
            size.unwrap_or(0),
            all.join(", ")
        )
    })?;
    steps
        .into_iter()
        .map(|s| Ok((size_label(s.endpoints), value(s, bound)?)))
        .collect()
}

/// The unicast latency of a ramp's step, when a frame arrived to time.
fn step_latency(s: &RampStep) -> Result<&LatencyStats, String> {
    if s.unicast.latency.samples == 0 {
        return Err(format!(
            "no unicast frame arrived at {} endpoints, so there is no latency",
            s.endpoints
        ));
    }
    Ok(&s.unicast.latency)
}

fn sweep_value(r: &MacSweepResult, metric: MacSweepMetric) -> Result<f64, String> {
    let to = || {
        r.destination()
            .ok_or_else(|| format!("`{}` captured nothing", r.to))
    };
    Ok(match metric {
        MacSweepMetric::Macs => to()?.macs as f64,
        MacSweepMetric::Missing => to()?.missing as f64,
        MacSweepMetric::Loss => {
            let to = to()?;
            Missing::of(r.sent, to.frames, to.capture_drops).path_percent(r.sent)
        }
        MacSweepMetric::Leaked => r.leaked() as f64,
        MacSweepMetric::Learned => r
            .switch_learned_after
            .map(f64::from)
            .ok_or("the lab has no switch to learn the sweep")?,
    })
}

fn exhaustion_value(r: &IpExhaustionResult, metric: IpExhaustionMetric) -> Result<f64, String> {
    let ipam = || {
        r.ipam
            .as_ref()
            .ok_or("the test asked the IPAM pool for no `containers`")
    };
    let fill = |table: NeighbourTable| {
        r.table(table).ok_or_else(|| {
            format!(
                "nothing was resolved over {}",
                if table == NeighbourTable::Arp {
                    "ARP"
                } else {
                    "ND (the network or the peer has no IPv6)"
                }
            )
        })
    };
    let (arp, nd) = (NeighbourTable::Arp, NeighbourTable::Ndisc);
    Ok(match metric {
        IpExhaustionMetric::Pool => ipam()?.available as f64,
        IpExhaustionMetric::Allocated => ipam()?.allocated as f64,
        IpExhaustionMetric::Refused => ipam()?.refused as f64,
        IpExhaustionMetric::Resolved => f64::from(fill(arp)?.resolved),
        IpExhaustionMetric::Resolved6 => f64::from(fill(nd)?.resolved),
        IpExhaustionMetric::Failed => f64::from(fill(arp)?.failed),
        IpExhaustionMetric::Failed6 => f64::from(fill(nd)?.failed),
        IpExhaustionMetric::TableFulls => fill(arp)?.stats.table_fulls as f64,
        IpExhaustionMetric::TableFulls6 => fill(nd)?.stats.table_fulls as f64,
    })
}

fn latency_value(l: &LatencyResult, metric: LatencyMetric) -> Result<f64, String> {
    let stats = &l.stats;
    let ns = match metric {
        LatencyMetric::Loss => return Ok(l.loss_percent()),
        LatencyMetric::Min => stats.min_ns as f64,
        LatencyMetric::Mean => stats.mean_ns,
        LatencyMetric::P50 => stats.p50_ns as f64,
        LatencyMetric::P90 => stats.p90_ns as f64,
        LatencyMetric::P99 => stats.p99_ns as f64,
        LatencyMetric::P999 => stats.p999_ns as f64,
        LatencyMetric::Max => stats.max_ns as f64,
    };
    if stats.samples == 0 {
        return Err("no frame arrived, so there is no latency".into());
    }
    Ok(ns)
}

fn size_label(size: u32) -> String {
    format!("@{size}")
}

fn rate_in(bound: &Quantity, pps: f64, bps: f64) -> f64 {
    if matches!(bound, Quantity::Bps(_)) {
        bps
    } else {
        pps
    }
}

fn points<T>(
    items: &[T],
    size: Option<u32>,
    size_of: impl Fn(&T) -> u32,
) -> Result<Vec<&T>, String> {
    let chosen: Vec<&T> = items
        .iter()
        .filter(|p| size.is_none_or(|s| size_of(p) == s))
        .collect();
    match (chosen.is_empty(), size) {
        (true, Some(s)) => Err(format!("the test measured no {s}-byte frames")),
        (true, None) => Err("the test measured nothing".into()),
        _ => Ok(chosen),
    }
}

fn throughput_values(
    t: &ThroughputResult,
    metric: ThroughputMetric,
    size: Option<u32>,
    bound: &Quantity,
) -> Values {
    let chosen = points(&t.points, size, |p: &ThroughputPoint| p.frame_size)?;
    chosen
        .into_iter()
        .map(|p| {
            let v = match metric {
                ThroughputMetric::Loss => p.loss_percent(),
                ThroughputMetric::RxRate => rate_in(bound, p.rx_pps, p.rx_bps_l2),
                ThroughputMetric::Reordered => p.reordered as f64,
                ThroughputMetric::Duplicates => p.duplicates as f64,
            };
            Ok((size_label(p.frame_size), v))
        })
        .collect()
}

fn rfc2544_values(
    r: &Rfc2544Result,
    metric: Rfc2544Metric,
    size: Option<u32>,
    bound: &Quantity,
) -> Values {
    let chosen = points(&r.sizes, size, |s: &Rfc2544Size| s.frame_size)?;
    chosen
        .into_iter()
        .map(|s| {
            let v = match metric {
                Rfc2544Metric::Throughput => rate_in(bound, s.throughput_pps, s.throughput_bps_l1),
                Rfc2544Metric::Latency => s
                    .latency
                    .as_ref()
                    .map(|l| l.mean_ns)
                    .ok_or("latency was not measured at this size")?,
                Rfc2544Metric::Loss => s
                    .frame_loss
                    .first()
                    .map(|t| t.loss_percent)
                    .ok_or("the frame loss steps were not run")?,
                Rfc2544Metric::BackToBack => s
                    .back_to_back
                    .as_ref()
                    .map(|b| b.frames)
                    .ok_or("back-to-back was not run")?,
            };
            Ok((size_label(s.frame_size), v))
        })
        .collect()
}

fn compare(values: Values, op: Op, bound: &Quantity) -> (String, String, bool, String) {
    let expected = format!("{} {bound}", op.as_str());
    let values = match values {
        Ok(v) => v,
        Err(why) => return (expected, "not measured".into(), false, why),
    };
    let b = bound.value();
    let measured = values
        .iter()
        .map(|(label, v)| {
            format!(
                "{}{}",
                bound.with_value(*v),
                if label.is_empty() {
                    String::new()
                } else {
                    format!(" {label}")
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let broken: Vec<String> = values
        .iter()
        .filter(|(_, v)| !op.holds(*v, b))
        .map(|(label, v)| {
            format!(
                "{}{label} is {}",
                if label.is_empty() { "" } else { "the value" },
                bound.with_value(*v)
            )
        })
        .collect();
    let passed = broken.is_empty();
    let detail = if passed {
        String::new()
    } else {
        format!("expected {expected}, but {}", broken.join("; "))
    };
    (expected, measured, passed, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::MatrixResult;
    use crate::delivery::{Addressing, FrameClass, MatrixSpec};
    use crate::diag::Source;
    use crate::measure::stats::LatencyStats;
    use crate::scenario::{LatencyMethod, parse};

    fn scenario(tests: &str) -> Scenario {
        parse(Source::new("v.toml", tests)).unwrap()
    }

    fn cell(from: &str, to: &str, class: FrameClass, promiscuous: bool, received: u64) -> Cell {
        Cell {
            from: from.into(),
            to: to.into(),
            class,
            promiscuous,
            sent: 10,
            received,
            leaked: 0,
            expected: None,
            expected_leaked: None,
        }
    }

    fn matrix(cells: Vec<Cell>) -> TestResult {
        TestResult::Matrix(MatrixResult {
            name: "matrix".into(),
            spec: MatrixSpec {
                frames: 10,
                classes: FrameClass::all(),
                vlan: 100,
                promiscuous: vec![false, true],
            },
            senders: vec![],
            receivers: vec![],
            cells,
            promiscuity: vec![],
            fdb: vec![],
            passes_repeated: 0,
        })
    }

    #[test]
    fn delivery_claims_cover_groups_and_fill_expected() {
        let s = scenario(
            "[[tests]]\nkind = \"matrix\"\nexpect = [\"e1 -> e2 unicast: all\", \"endpoints -> endpoints broadcast: none\", \"e1 -> peer multicast4: all\"]\n",
        );
        let bc = FrameClass::untagged(Addressing::Broadcast);
        let uc = FrameClass::untagged(Addressing::Unicast);
        let mut results = vec![matrix(vec![
            cell("e1", "e2", uc, false, 10),
            cell("e1", "e2", uc, true, 10),
            cell("e1", "e2", bc, false, 0),
            cell("e2", "e1", bc, false, 3),
            cell("e1", "peer", bc, false, 10),
        ])];
        let v = judge(&s, &mut results);
        assert_eq!(v.len(), 3);
        assert!(v[0].passed, "{v:?}");
        assert_eq!(v[0].measured, "10 received across 2 cell(s)");
        assert!(!v[1].passed);
        assert!(
            v[1].detail
                .contains("e2 -> e1 broadcast not-promiscuous: 3 of 10"),
            "{}",
            v[1].detail
        );
        // A claim that matches nothing fails rather than passing vacuously.
        assert!(!v[2].passed);
        assert_eq!(v[2].measured, "no cell");
        let TestResult::Matrix(m) = &results[0] else {
            unreachable!()
        };
        assert_eq!(m.cells[0].expected, Some(10));
        assert_eq!(m.cells[3].expected, Some(0));
        // The peer's cell is not an endpoint-to-endpoint cell.
        assert_eq!(m.cells[4].expected, None);
    }

    #[test]
    fn metric_claims_compare_in_the_bound_unit() {
        let s = scenario(
            "[[tests]]\nkind = \"latency\"\nfrom = \"e1\"\nto = \"peer\"\nexpect = [\"p99 < 200us\", \"loss <= 0.01%\", \"max < 1us\"]\n",
        );
        let mut results = vec![TestResult::Latency(LatencyResult {
            name: "latency".into(),
            from: "e1".into(),
            to: "peer".into(),
            method: LatencyMethod::OneWay,
            frame_size: 64,
            encapsulation: Default::default(),
            rate_pps: 1000.0,
            sent: 1000,
            received: 1000,
            capture_drops: 0,
            stats: LatencyStats {
                samples: 1000,
                p99_ns: 150_000,
                max_ns: 400_000,
                ..LatencyStats::default()
            },
        })];
        let v = judge(&s, &mut results);
        assert!(v[0].passed && v[1].passed, "{v:?}");
        assert_eq!(v[0].measured, "150 us");
        assert_eq!(v[0].expected, "< 200 us");
        assert!(!v[2].passed);
        assert_eq!(v[2].measured, "400 us");
    }

    #[test]
    fn the_model_fills_unclaimed_cells_and_reports_disagreements_with_a_trace() {
        let s =
            scenario("[[parents]]\nport = { hairpin = false }\n[[networks]]\nmode = \"vepa\"\n");
        let test = crate::scenario::MatrixTest {
            spec: MatrixSpec {
                frames: 10,
                classes: vec![
                    FrameClass::untagged(Addressing::Unicast),
                    FrameClass::untagged(Addressing::Multicast4),
                ],
                vlan: 100,
                promiscuous: vec![false],
            },
            senders: vec![],
            receivers: vec![],
        };
        let predicted = model::predict_matrix(&s, "matrix", &test).unwrap();
        let mut measured = predicted.clone();
        // VEPA without hairpin: e1's unicast to e2 never comes back; pretend the kernel delivered it.
        let wrong = measured
            .cells
            .iter()
            .position(|c| {
                c.from == "e1" && c.to == "e2" && c.class.addressing == Addressing::Unicast
            })
            .unwrap();
        assert_eq!(measured.cells[wrong].received, 0);
        measured.cells[wrong].received = 10;
        // An unjoined group passing a device's hashed filter is tolerated.
        let mc = measured
            .cells
            .iter()
            .position(|c| {
                c.to == "e2" && c.class.addressing == Addressing::Multicast4 && c.received == 0
            })
            .unwrap();
        measured.cells[mc].received = 10;
        let v = conform(&s, &mut measured, &predicted);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(!v[0].passed);
        assert_eq!(v[0].measured, "1 cell(s) differ");
        assert_eq!(v[1].text, "model: e1 -> e2 unicast not-promiscuous");
        assert_eq!(v[1].expected, "0 received, 0 leaked");
        assert!(
            v[1].detail.contains("macvlan_queue_xmit"),
            "{}",
            v[1].detail
        );
        assert!(measured.cells.iter().all(|c| c.expected.is_some()));
        let mut same = predicted.clone();
        assert!(conform(&s, &mut same, &predicted)[0].passed);
    }

    #[test]
    fn a_missing_result_fails_every_claim_of_the_test() {
        let s = scenario("[[tests]]\nkind = \"matrix\"\nexpect = [\"e1 -> e2 unicast: all\"]\n");
        let v = judge(&s, &mut []);
        assert!(!v[0].passed);
        assert_eq!(v[0].measured, "not measured");
    }

    #[test]
    fn sized_metrics_pick_their_frame_size() {
        let s = scenario(
            "[[tests]]\nkind = \"throughput\"\nfrom = \"e1\"\nto = \"peer\"\nexpect = [\"loss@64 = 0%\", \"rx_rate > 1kpps\", \"loss@128 = 0%\"]\n",
        );
        let point = |size: u32, received: u64| ThroughputPoint {
            frame_size: size,
            sent: 100,
            received,
            rx_pps: 2000.0,
            ..ThroughputPoint::default()
        };
        let mut results = vec![TestResult::Throughput(ThroughputResult {
            name: "throughput".into(),
            from: "e1".into(),
            to: "peer".into(),
            duration_s: 1.0,
            points: vec![point(64, 100), point(1518, 90)],
        })];
        let v = judge(&s, &mut results);
        assert!(v[0].passed, "{v:?}");
        assert_eq!(v[1].measured, "2000 pps @64, 2000 pps @1518");
        assert!(v[1].passed);
        assert!(!v[2].passed);
        assert!(v[2].detail.contains("no 128-byte frames"));
    }

    #[test]
    fn learning_rate_claims_read_the_rate_and_its_share_of_the_offered_rate() {
        use crate::measure::address_learning_rate::AddressLearningRateResult;
        let s = scenario(
            "[[peers]]\nname = \"a\"\n[[peers]]\nname = \"b\"\n[[peers]]\nname = \"c\"\n[[tests]]\nkind = \"address_learning_rate\"\nname = \"rate\"\nlearning = \"a\"\ntest = \"b\"\nmonitor = \"c\"\nexpect = [\"of_offered = 100%\", \"learning_rate >= 50kpps\", \"learning_rate < 40Mbit\"]\n",
        );
        let result = |learned: f64| {
            vec![TestResult::AddressLearningRate(AddressLearningRateResult {
                name: "rate".into(),
                learning: "a".into(),
                test: "b".into(),
                monitor: "c".into(),
                addresses: 1000,
                max_offered_pps: 100_000.0,
                learning_rate_pps: learned,
                at_least: learned == 100_000.0,
                resolution_percent: 5.0,
                trials: Vec::new(),
            })]
        };
        let kept_up = judge(&s, &mut result(100_000.0));
        assert!(kept_up[0].passed, "{kept_up:?}");
        assert!(kept_up[1].passed);
        // 100 kpps of 64-byte frames with preamble and gap is 67.2 Mbit/s.
        assert!(!kept_up[2].passed, "{:?}", kept_up[2]);
        let slower = judge(&s, &mut result(50_000.0));
        assert!(!slower[0].passed);
        assert_eq!(slower[0].measured, "50%");
        assert!(slower[1].passed);
    }

    #[test]
    fn exhaustion_metrics_read_their_results() {
        use crate::measure::endpoint_ramp::{BroadcastTrial, EndpointRampResult, RampStep};
        use crate::measure::ip_exhaustion::{IpExhaustionResult, IpamOutcome};
        use crate::measure::mac_sweep::{MacSweepResult, SweepReceiver};
        let s = scenario(
            "[[peers]]\nname = \"peer\"\n[[tests]]\nkind = \"endpoint_ramp\"\nname = \"ramp\"\nmax_endpoints = 4\nexpect = [\"broadcast_loss@2 = 0%\", \"broadcast_loss = 0%\", \"broadcast_loss@3 = 0%\", \"degraded_at > 4\"]\n[[tests]]\nkind = \"mac_sweep\"\nname = \"sweep\"\nfrom = \"peer\"\nto = \"e1\"\nreceivers = [\"e2\"]\nexpect = [\"missing = 0\", \"loss = 0%\", \"leaked = 0\"]\n[[tests]]\nkind = \"ip_exhaustion\"\nname = \"ip\"\ncontainers = 9\nexpect = [\"refused = 0\", \"resolved6 = 2\"]\n",
        );
        let step = |endpoints: u32, loss: f64| RampStep {
            endpoints,
            broadcast: BroadcastTrial {
                loss_percent: loss,
                ..BroadcastTrial::default()
            },
            ..RampStep::default()
        };
        let ramp = EndpointRampResult {
            name: "ramp".into(),
            network: "net0".into(),
            parent: "host:eth0".into(),
            from: "peer".into(),
            others_on_parent: 2,
            bc_queue_len: Some(1000),
            bc_cutoff: None,
            netdev_max_backlog: Some(1000),
            broadcasts: 10,
            rate_pps: None,
            frame_size: 64,
            steps: vec![step(1, 0.0), step(2, 0.0), step(4, 12.5)],
            first_degraded: None,
        };
        let receiver = |station: &str, frames: u64, missing: u64| SweepReceiver {
            station: station.into(),
            frames,
            macs: frames,
            missing,
            ..SweepReceiver::default()
        };
        let sweep = MacSweepResult {
            name: "sweep".into(),
            from: "peer".into(),
            to: "e1".into(),
            macs: 100,
            order: crate::scenario::MacOrder::Random,
            rate_pps: None,
            sent: 100,
            offered_pps: 1000.0,
            receivers: vec![receiver("e1", 98, 2), receiver("e2", 3, 97)],
            switch_learned_before: Some(0),
            switch_learned_after: Some(100),
            switch_limit: None,
            peak_rss_bytes: None,
        };
        let ip = IpExhaustionResult {
            name: "ip".into(),
            network: "net0".into(),
            peer: "peer".into(),
            ipam: Some(IpamOutcome {
                asked: 9,
                available: 250,
                allocated: 9,
                refused: 0,
                refusal: None,
            }),
            neighbours: Vec::new(),
        };
        let mut results = vec![
            TestResult::EndpointRamp(ramp),
            TestResult::MacSweep(sweep),
            TestResult::IpExhaustion(ip),
        ];
        let v = judge(&s, &mut results);
        let by = |text: &str| v.iter().find(|e| e.text == text).unwrap();
        assert!(by("broadcast_loss@2 = 0%").passed);
        let every = by("broadcast_loss = 0%");
        assert!(!every.passed);
        assert_eq!(every.measured, "0% @1, 0% @2, 12.5% @4");
        let absent = by("broadcast_loss@3 = 0%");
        assert!(
            absent.detail.contains("its steps are 1, 2, 4"),
            "{}",
            absent.detail
        );
        let degraded = by("degraded_at > 4");
        assert!(degraded.passed, "nothing degraded: {degraded:?}");
        assert!(!by("missing = 0").passed);
        assert_eq!(by("loss = 0%").measured, "2%");
        assert_eq!(by("leaked = 0").measured, "3");
        assert!(by("refused = 0").passed);
        assert!(
            by("resolved6 = 2")
                .detail
                .contains("nothing was resolved over ND")
        );
    }
}
