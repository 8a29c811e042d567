//! `mvlab diff`: what differs between result files (`mvlab run --json`, or `run --kernel ...
//! --json`, whose every kernel counts as one result).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::diag::Outcome;
use crate::diff::{self, Compared};
use crate::kernels::KernelMatrix;
use crate::report;
use crate::run::RunResult;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mvlab diff laptop.json ci.json                 cells, expectations and metrics that differ
  mvlab diff a.json b.json c.json --tolerance 25 metrics may differ by 25 % before they count
  mvlab diff kernels.json --json                 every kernel of one `run --kernel` result

Exit codes: 0 no delivery differs; 1 some delivery differs; 2 bad input.")]
pub struct DiffArgs {
    /// Result files (JSON of `mvlab run`, or of `mvlab run --kernel A --kernel B`).
    #[arg(value_name = "RESULT", required = true)]
    pub files: Vec<PathBuf>,
    /// Print the differences as JSON.
    #[arg(long)]
    pub json: bool,
    /// Metrics differ when they are further apart than this, in percent of the larger.
    #[arg(long, value_name = "PERCENT", default_value_t = diff::DEFAULT_TOLERANCE_PCT)]
    pub tolerance: f64,
}

/// The results in `path`, each with its label.
fn load(path: &Path) -> Result<Vec<(String, RunResult)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let file = path.display().to_string();
    if value.get("runs").is_some() {
        let matrix: KernelMatrix = serde_json::from_value(value)
            .map_err(|e| format!("{file}: not a result of `mvlab run --kernel`: {e}"))?;
        return Ok(matrix
            .runs
            .into_iter()
            .filter_map(|r| r.result.map(|res| (format!("{file}:{}", r.kernel), res)))
            .collect());
    }
    let result: RunResult = serde_json::from_value(value)
        .map_err(|e| format!("{file}: not a result of `mvlab run --json`: {e}"))?;
    Ok(vec![(file, result)])
}

pub fn run(args: DiffArgs) -> Outcome {
    if !(args.tolerance.is_finite() && args.tolerance >= 0.0) {
        stderr!("error: --tolerance must be a percentage of 0 or more");
        return Outcome::BadInput;
    }
    let mut results = Vec::new();
    for f in &args.files {
        match load(f) {
            Ok(r) => results.extend(r),
            Err(e) => {
                stderr!(
                    "error: {e}\n  hint: give result files written by `mvlab run --json FILE` (or `--kernel ... --json FILE`)"
                );
                return Outcome::BadInput;
            }
        }
    }
    if results.len() < 2 {
        stderr!(
            "error: there is nothing to compare: the files hold {} result(s); give two or more",
            results.len()
        );
        return Outcome::BadInput;
    }
    let compared: Vec<Compared<'_>> = results
        .iter()
        .map(|(label, result)| Compared {
            label: label.clone(),
            result,
        })
        .collect();
    let comparison = diff::compare(&compared, args.tolerance);
    let text = if args.json {
        serde_json::to_string_pretty(&comparison).expect("a comparison serialises") + "\n"
    } else {
        report::comparison::render_text(&comparison, report::paint::Paint::for_stdout())
    };
    if let Err(outcome) = super::output::stdout(&text) {
        return outcome;
    }
    if comparison.deliveries_differ() {
        Outcome::ExpectationFailed
    } else {
        Outcome::Passed
    }
}
