//! The verdict: every expectation of a scenario checked against the measured results, each with
//! what was expected, what was measured and whether it held. Delivery claims also write their
//! expected value into the matrix cells they cover, so reports show expected beside measured.
//! Pure: it reads results and the scenario, and never measures or formats output.

use crate::delivery::{Addressing, Cell};
use crate::measure::latency::LatencyResult;
use crate::measure::matrix::MatrixResult;
use crate::measure::rfc2544::{Rfc2544Result, Rfc2544Size};
use crate::measure::throughput::{ThroughputPoint, ThroughputResult};
use crate::measure::{ExpectationResult, TestResult};
use crate::model::{self, TraceRequest};
use crate::scenario::{Claim, CountCheck, NodeSet, Op, Quantity, Role, Scenario, Station};

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
                    let values = metric_values(r, metric, *frame_size, bound);
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

fn metric_values(result: &TestResult, metric: &str, size: Option<u32>, bound: &Quantity) -> Values {
    match result {
        TestResult::Latency(l) => latency_value(l, metric).map(|v| vec![(String::new(), v)]),
        TestResult::Throughput(t) => throughput_values(t, metric, size, bound),
        TestResult::Rfc2544(r) => rfc2544_values(r, metric, size, bound),
        TestResult::Matrix(_) => Err("a matrix test has no metrics; use a delivery claim".into()),
    }
}

fn latency_value(l: &LatencyResult, metric: &str) -> Result<f64, String> {
    if metric == "loss" {
        return Ok(l.loss_percent());
    }
    if l.stats.samples == 0 {
        return Err("no frame arrived, so there is no latency".into());
    }
    l.stats
        .metric_ns(metric)
        .ok_or_else(|| format!("`{metric}` is not a latency metric"))
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
    metric: &str,
    size: Option<u32>,
    bound: &Quantity,
) -> Values {
    let chosen = points(&t.points, size, |p: &ThroughputPoint| p.frame_size)?;
    chosen
        .into_iter()
        .map(|p| {
            let v = match metric {
                "loss" => p.loss_percent(),
                "rx_rate" => rate_in(bound, p.rx_pps, p.rx_bps_l2),
                "reordered" => p.reordered as f64,
                "duplicates" => p.duplicates as f64,
                other => return Err(format!("`{other}` is not a throughput metric")),
            };
            Ok((size_label(p.frame_size), v))
        })
        .collect()
}

fn rfc2544_values(r: &Rfc2544Result, metric: &str, size: Option<u32>, bound: &Quantity) -> Values {
    let chosen = points(&r.sizes, size, |s: &Rfc2544Size| s.frame_size)?;
    chosen
        .into_iter()
        .map(|s| {
            let v = match metric {
                "throughput" => rate_in(bound, s.throughput_pps, s.throughput_bps_l1),
                "latency" => s
                    .latency
                    .as_ref()
                    .map(|l| l.mean_ns)
                    .ok_or("latency was not measured at this size")?,
                "loss" => s
                    .frame_loss
                    .first()
                    .map(|t| t.loss_percent)
                    .ok_or("the frame loss steps were not run")?,
                "back_to_back" => s
                    .back_to_back
                    .as_ref()
                    .map(|b| b.frames)
                    .ok_or("back-to-back was not run")?,
                other => return Err(format!("`{other}` is not an RFC 2544 metric")),
            };
            Ok((size_label(s.frame_size), v))
        })
        .collect()
}

/// The bound's value in the unit measurements use (ns, percent, pps, bit/s, count).
fn bound_value(bound: &Quantity) -> f64 {
    match *bound {
        Quantity::Time(v)
        | Quantity::Percent(v)
        | Quantity::Pps(v)
        | Quantity::Bps(v)
        | Quantity::Count(v) => v,
    }
}

/// The measured value printed in the bound's unit.
fn in_unit(bound: &Quantity, v: f64) -> String {
    match bound {
        Quantity::Time(_) => Quantity::Time(v),
        Quantity::Percent(_) => Quantity::Percent(v),
        Quantity::Pps(_) => Quantity::Pps(v),
        Quantity::Bps(_) => Quantity::Bps(v),
        Quantity::Count(_) => Quantity::Count(v),
    }
    .to_string()
}

fn compare(values: Values, op: Op, bound: &Quantity) -> (String, String, bool, String) {
    let expected = format!("{} {bound}", op.as_str());
    let values = match values {
        Ok(v) => v,
        Err(why) => return (expected, "not measured".into(), false, why),
    };
    let b = bound_value(bound);
    let measured = values
        .iter()
        .map(|(label, v)| {
            format!(
                "{}{}",
                in_unit(bound, *v),
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
                in_unit(bound, *v)
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
    use crate::delivery::{Addressing, FrameClass, MatrixSpec};
    use crate::diag::Source;
    use crate::measure::latency::LatencyStats;
    use crate::measure::matrix::MatrixResult;
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
}
