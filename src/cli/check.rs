//! `mvlab check`: validate scenario files without touching the kernel.

use std::path::PathBuf;

use clap::Args;

use super::output;
use crate::diag::Outcome;
use crate::report;
use crate::scenario;

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

pub fn run(args: CheckArgs) -> Outcome {
    let mut outcome = Outcome::Passed;
    for path in &args.scenarios {
        let printed = match scenario::load(path) {
            Ok(s) if args.json => output::stdout_json(&s),
            Ok(s) => output::stdout(&format!(
                "{}: ok\n{}",
                path.display(),
                report::scenario::summary(&s)
            )),
            Err(diags) => {
                stderr!("{diags}");
                outcome = Outcome::BadInput;
                Ok(())
            }
        };
        if let Err(failed) = printed {
            return failed;
        }
    }
    outcome
}
