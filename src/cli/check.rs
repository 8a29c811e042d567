//! `mvlab check`: validate scenario files without touching the kernel. Beside the file itself it
//! asks one thing of this machine: whether its open-file limit can hold the lab.

use std::path::{Path, PathBuf};

use clap::Args;

use super::output;
use crate::diag::Outcome;
use crate::lab;
use crate::report;
use crate::scenario::{self, Scenario};

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

/// The scenario at `path` if it is valid and this machine can hold its lab; else what to print
/// and the outcome.
fn checked(path: &Path) -> Result<Scenario, (String, Outcome)> {
    let s = scenario::load(path).map_err(|diags| (diags.to_string(), Outcome::BadInput))?;
    match lab::check_fd_limit(s.nodes().len()) {
        Ok(_) => Ok(s),
        Err(e) => Err((format!("{}: {}", path.display(), e.report()), e.outcome())),
    }
}

pub fn run(args: CheckArgs) -> Outcome {
    let mut outcome = Outcome::Passed;
    for path in &args.scenarios {
        let printed = match checked(path) {
            Ok(s) if args.json => output::stdout_json(&s),
            Ok(s) => output::stdout(&format!(
                "{}: ok\n{}",
                path.display(),
                report::scenario::summary(&s)
            )),
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
