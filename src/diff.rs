//! What differs between results of the same scenario: from other kernels, other hosts, or other
//! versions of the scenario. Compares delivery cells (what each receiver got), expectations
//! (held or not) and metrics (every value a claim could name, beyond a relative tolerance), and
//! says which differences are deliveries. Pure: it reads results and returns plain data for
//! the renderers; `mvlab diff` and `mvlab run --kernel A --kernel B` both use it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::delivery::{Cell, FrameClass};
use crate::measure::TestResult;
use crate::run::RunResult;
use crate::verdict;

/// The default relative tolerance on metrics, in percent.
pub const DEFAULT_TOLERANCE_PCT: f64 = 10.0;

/// One result being compared, by a label (a kernel release, a file name).
#[derive(Debug, Clone)]
pub struct Compared<'a> {
    pub label: String,
    pub result: &'a RunResult,
}

/// A cell that is not the same in every result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellDiff {
    pub test: String,
    pub from: String,
    pub to: String,
    pub class: FrameClass,
    pub promiscuous: bool,
    /// Per result, in input order: (received, leaked), `None` where the result has no such cell.
    pub values: Vec<Option<(u64, u64)>>,
}

/// An expectation that did not come out the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationDiff {
    pub test: String,
    pub text: String,
    /// Per result: held or not, `None` where it was not checked.
    pub passed: Vec<Option<bool>>,
    /// Per result: what was measured.
    pub measured: Vec<Option<String>>,
}

/// A metric whose values differ by more than the tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDiff {
    pub test: String,
    /// The metric as a claim names it, with its frame size or step (`throughput@64`).
    pub metric: String,
    pub values: Vec<Option<f64>>,
    /// The largest relative difference from the smallest value, in percent.
    pub spread_pct: f64,
}

/// Everything that differs between the results, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub labels: Vec<String>,
    pub scenarios: Vec<String>,
    pub tolerance_pct: f64,
    pub cells_compared: usize,
    pub cells: Vec<CellDiff>,
    /// Cells that differ only by what the kernel's multicast filter hash let through (an
    /// unjoined group at a non-promiscuous macvlan: 0 in one result, all in another; each is
    /// as the model allows, and none is counted as a delivery difference).
    pub hash_dependent: Vec<CellDiff>,
    pub expectations: Vec<ExpectationDiff>,
    pub metrics: Vec<MetricDiff>,
}

impl Comparison {
    /// Whether any delivery differs (the exit status of `mvlab diff`).
    pub fn deliveries_differ(&self) -> bool {
        !self.cells.is_empty()
    }

    /// Whether nothing at all differs.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.expectations.is_empty() && self.metrics.is_empty()
    }
}

type CellKey = (String, String, String, FrameClass, bool);
/// Per result: whether an expectation held, and what was measured.
type Outcomes = Vec<Option<(bool, String)>>;

fn matrix_cells(result: &RunResult) -> impl Iterator<Item = (CellKey, &Cell)> {
    result.tests.iter().flat_map(|t| match t {
        TestResult::Matrix(m) => m
            .cells
            .iter()
            .map(|c| {
                (
                    (
                        m.name.clone(),
                        c.from.clone(),
                        c.to.clone(),
                        c.class,
                        c.promiscuous,
                    ),
                    c,
                )
            })
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    })
}

/// Whether `a` and `b` differ by more than `tolerance_pct` of the larger.
fn beyond(a: f64, b: f64, tolerance_pct: f64) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return false;
    }
    let scale = a.abs().max(b.abs());
    !scale.is_finite() || (a - b).abs() > scale * tolerance_pct / 100.0
}

/// Compares `inputs` (two or more results of one scenario, or of versions of it).
pub fn compare(inputs: &[Compared<'_>], tolerance_pct: f64) -> Comparison {
    let n = inputs.len();
    let mut cells: BTreeMap<CellKey, Vec<Option<&Cell>>> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        for (key, cell) in matrix_cells(input.result) {
            cells.entry(key).or_insert_with(|| vec![None; n])[i] = Some(cell);
        }
    }
    let mut out = Comparison {
        labels: inputs.iter().map(|c| c.label.clone()).collect(),
        scenarios: inputs.iter().map(|c| c.result.scenario.clone()).collect(),
        tolerance_pct,
        cells_compared: cells.len(),
        cells: Vec::new(),
        hash_dependent: Vec::new(),
        expectations: Vec::new(),
        metrics: Vec::new(),
    };
    for ((test, from, to, class, promiscuous), found) in cells {
        let values: Vec<Option<(u64, u64)>> = found
            .iter()
            .map(|c| c.map(|c| (c.received, c.leaked)))
            .collect();
        if values.windows(2).all(|w| w[0] == w[1]) {
            continue;
        }
        let diff = CellDiff {
            test,
            from,
            to,
            class,
            promiscuous,
            values,
        };
        if found.iter().all(|c| c.is_some_and(verdict::hash_dependent)) {
            out.hash_dependent.push(diff);
        } else {
            out.cells.push(diff);
        }
    }
    let mut expectations: BTreeMap<(String, String), Outcomes> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        for e in &input.result.expectations {
            expectations
                .entry((e.test.clone(), e.text.clone()))
                .or_insert_with(|| vec![None; n])[i] = Some((e.passed, e.measured.clone()));
        }
    }
    for ((test, text), found) in expectations {
        let passed: Vec<Option<bool>> = found.iter().map(|f| f.as_ref().map(|f| f.0)).collect();
        if passed.windows(2).all(|w| w[0] == w[1]) {
            continue;
        }
        out.expectations.push(ExpectationDiff {
            test,
            text,
            passed,
            measured: found.into_iter().map(|f| f.map(|f| f.1)).collect(),
        });
    }
    let mut metrics: BTreeMap<(String, String), Vec<Option<f64>>> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        for test in &input.result.tests {
            for (metric, value) in verdict::metrics_of(test) {
                metrics
                    .entry((test.name().to_string(), metric))
                    .or_insert_with(|| vec![None; n])[i] = Some(value);
            }
        }
    }
    for ((test, metric), values) in metrics {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let missing = present.len() < n;
        let differs = present
            .iter()
            .any(|&a| present.iter().any(|&b| beyond(a, b, tolerance_pct)));
        if !missing && !differs {
            continue;
        }
        let (lo, hi) = present
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let spread_pct = if present.is_empty() || hi == lo {
            0.0
        } else if lo.abs() > 0.0 {
            (hi - lo) / lo.abs() * 100.0
        } else {
            f64::INFINITY
        };
        out.metrics.push(MetricDiff {
            test,
            metric,
            values,
            spread_pct,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::MatrixResult;
    use crate::delivery::{Addressing, MatrixSpec};
    use crate::verdict::ExpectationResult;

    fn cell(to: &str, class: FrameClass, received: u64, expected: u64) -> Cell {
        Cell {
            from: "e1".into(),
            to: to.into(),
            class,
            promiscuous: false,
            sent: 10,
            received,
            leaked: 0,
            expected: Some(expected),
            expected_leaked: Some(0),
        }
    }

    fn result(cells: Vec<Cell>, passed: bool) -> RunResult {
        RunResult {
            scenario: "s".into(),
            description: String::new(),
            lab: "s".into(),
            kernel: "k".into(),
            mvlab_version: "0".into(),
            started: String::new(),
            duration_s: 1.0,
            passed,
            tests: vec![TestResult::Matrix(MatrixResult {
                name: "matrix".into(),
                spec: MatrixSpec {
                    frames: 10,
                    classes: FrameClass::all(),
                    vlan: 100,
                    promiscuous: vec![false],
                },
                senders: vec![],
                receivers: vec![],
                cells,
                promiscuity: vec![],
                fdb: vec![],
                passes_repeated: 0,
            })],
            summary: Vec::new(),
            expectations: vec![ExpectationResult {
                test: "matrix".into(),
                text: "e1 -> e2 unicast: all".into(),
                expected: "10".into(),
                measured: if passed { "10" } else { "0" }.into(),
                passed,
                detail: String::new(),
            }],
            switch: None,
            addresses: Vec::new(),
            docker: None,
        }
    }

    #[test]
    fn deliveries_expectations_and_hash_luck_are_told_apart() {
        let unicast = FrameClass::untagged(Addressing::Unicast);
        let group = FrameClass::untagged(Addressing::Multicast4);
        let a = result(
            vec![cell("e2", unicast, 10, 10), cell("e3", group, 0, 0)],
            true,
        );
        let b = result(
            vec![cell("e2", unicast, 0, 10), cell("e3", group, 10, 0)],
            false,
        );
        let same = compare(
            &[
                Compared {
                    label: "a".into(),
                    result: &a,
                },
                Compared {
                    label: "a again".into(),
                    result: &a,
                },
            ],
            DEFAULT_TOLERANCE_PCT,
        );
        assert!(same.is_empty() && !same.deliveries_differ());
        let c = compare(
            &[
                Compared {
                    label: "a".into(),
                    result: &a,
                },
                Compared {
                    label: "b".into(),
                    result: &b,
                },
            ],
            DEFAULT_TOLERANCE_PCT,
        );
        assert_eq!(c.cells_compared, 2);
        assert_eq!(c.cells.len(), 1);
        assert_eq!(c.cells[0].to, "e2");
        assert_eq!(c.cells[0].values, [Some((10, 0)), Some((0, 0))]);
        assert_eq!(c.hash_dependent.len(), 1, "{c:?}");
        assert_eq!(c.expectations.len(), 1);
        assert_eq!(c.expectations[0].passed, [Some(true), Some(false)]);
        assert!(c.deliveries_differ());
    }

    #[test]
    fn metrics_differ_only_beyond_the_tolerance() {
        assert!(!beyond(100.0, 105.0, 10.0));
        assert!(beyond(100.0, 120.0, 10.0));
        assert!(beyond(0.0, 0.5, 10.0));
        assert!(!beyond(0.0, 0.0, 10.0));
    }
}
