//! `mvlab check`: validate scenario files without touching the kernel, and show what in a valid
//! file was probably not meant (warnings: exit 0). Beside the file itself it asks one thing of
//! this machine: whether its open-file limit can hold the lab.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::output;
use crate::diag::{Diagnostic, Outcome};
use crate::lab;
use crate::report;
use crate::scenario::{self, Loaded, Scenario};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mvlab check scenarios/vepa.toml\n  mvlab check scenarios/*.toml\n  mvlab check --json scenarios/bridge.toml | jq '.endpoints[].ipv4'"
)]
pub struct CheckArgs {
    /// Scenario files to validate.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Print each valid scenario, with every default and generated address filled in, as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The file at `path` if it is valid and this machine can hold its lab; else what to print and
/// the outcome.
fn checked(path: &Path) -> Result<Loaded, (String, Outcome)> {
    let loaded = scenario::load(path).map_err(|diags| (diags.to_string(), Outcome::BadInput))?;
    match lab::check_fd_limit(loaded.scenario.nodes().len()) {
        Ok(_) => Ok(loaded),
        Err(e) => Err((format!("{}: {}", path.display(), e.report()), e.outcome())),
    }
}

/// What `check --json` prints of a valid file: the scenario with every default filled in, and
/// its warnings.
#[derive(Serialize)]
struct Checked<'a> {
    #[serde(flatten)]
    scenario: &'a Scenario,
    warnings: &'a [Diagnostic],
}

pub fn run(args: CheckArgs) -> Outcome {
    let mut outcome = Outcome::Passed;
    for path in &args.scenarios {
        let printed = match checked(path) {
            Ok(loaded) if args.json => output::stdout_json(&Checked {
                scenario: &loaded.scenario,
                warnings: &loaded.warnings.0,
            }),
            Ok(loaded) => {
                if !loaded.warnings.is_empty() {
                    stderr!("{}", loaded.warnings);
                }
                output::stdout(&format!(
                    "{}: ok\n{}",
                    path.display(),
                    report::scenario::summary(&loaded.scenario)
                ))
            }
            Err((text, refused)) => {
                stderr!("{text}");
                if refused.code() > outcome.code() {
                    outcome = refused;
                }
                Ok(())
            }
        };
        if let Err(failed) = printed {
            return failed;
        }
    }
    outcome
}
