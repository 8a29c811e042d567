//! `mvlab simulate`: the model's prediction for a scenario, without root and without the kernel:
//! the delivery matrix, the switch's table, promiscuity, reachability and the host's reach, or
//! with `--trace` the hop-by-hop path of one frame.

use std::path::PathBuf;

use clap::Args;

use super::output;
use crate::delivery::FrameClass;
use crate::diag::Outcome;
use crate::model::{self, TraceRequest};
use crate::report;
use crate::scenario::{Scenario, TestKind};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mvlab simulate scenarios/vepa-hairpin.toml\n  mvlab simulate scenarios/private.toml --trace e1 e2 broadcast\n  mvlab simulate scenarios/scale-1000.toml --json | jq '.host_reach'"
)]
pub struct SimulateArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Print the result as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Trace one frame: sender station, receiving station, frame class (e.g. `e1 e2 broadcast-tagged`).
    #[arg(long, num_args = 3, value_names = ["FROM", "TO", "CLASS"])]
    pub trace: Option<Vec<String>>,
    /// With --trace: follow the frame through the promiscuous pass.
    #[arg(long, requires = "trace")]
    pub promiscuous: bool,
}

/// The matrix the scenario's first matrix test asks for, else the model's default.
fn spec_of(s: &Scenario) -> crate::delivery::MatrixSpec {
    s.tests
        .iter()
        .find_map(|t| match &t.kind {
            TestKind::Matrix(m) => Some(m.spec.clone()),
            _ => None,
        })
        .unwrap_or_else(model::default_spec)
}

pub fn run(args: SimulateArgs) -> Outcome {
    let s = match super::load_file(&args.scenario) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let spec = spec_of(&s);
    let output = match &args.trace {
        Some(t) => {
            let class = match t[2].parse::<FrameClass>() {
                Ok(c) => c,
                Err(e) => {
                    stderr!("error: {e}");
                    return Outcome::BadInput;
                }
            };
            let request = TraceRequest {
                from: t[0].clone(),
                to: t[1].clone(),
                class,
                promiscuous: args.promiscuous,
                vlan: spec.vlan,
            };
            model::trace(&s, &request).map(|trace| {
                if args.json {
                    serde_json::to_string_pretty(&trace).expect("traces serialise")
                } else {
                    report::simulation::render_trace(&trace)
                }
            })
        }
        None => model::simulate(&s, &spec).map(|sim| {
            if args.json {
                serde_json::to_string_pretty(&sim).expect("simulations serialise")
            } else {
                report::simulation::render(&sim)
            }
        }),
    };
    match output {
        Ok(text) => match output::stdout_line(text.trim_end()) {
            Ok(()) => Outcome::Passed,
            Err(failed) => failed,
        },
        Err(e) => {
            stderr!("error: {e}");
            Outcome::BadInput
        }
    }
}
