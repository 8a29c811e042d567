//! `mvlab switch serve|show`: the emulated switch of a persistent lab. `serve` is what `lab up`
//! starts in the background (it forwards until `lab down`, `clean` or a signal stops it);
//! `show` prints the counters, table and events a serving switch last wrote. Argument parsing
//! and one call into `crate::lab::forwarder` each.

use clap::{Args, Subcommand};

use super::{output, signals};
use crate::diag::Outcome;
use crate::lab::{DEFAULT_PREFIX, Lab, forwarder};
use crate::report;

#[derive(Debug, Args)]
pub struct SwitchArgs {
    #[command(subcommand)]
    pub command: SwitchCommand,
}

#[derive(Debug, Subcommand)]
pub enum SwitchCommand {
    /// Forward for a persistent lab's emulated switch until stopped (`lab up` starts this).
    #[command(
        after_help = "`mvlab lab up` of a scenario with `[switch] kind = \"emulated\"` runs this in the
background and `mvlab lab down` stops it; run it by hand only to restart a forwarder that
was killed. It prints `forwarding` once every port listens.

Example:
  mvlab switch serve --lab demo &"
    )]
    Serve(LabRef),
    /// Print a persistent lab's emulated switch: counters, drops by reason, table, events.
    #[command(
        after_help = "Examples:\n  mvlab switch show --lab demo\n  mvlab switch show --lab demo --json | jq '.ports[] | {name, drops}'"
    )]
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct LabRef {
    /// The lab's name.
    #[arg(long)]
    pub lab: String,
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub prefix: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub lab: LabRef,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SwitchArgs) -> Outcome {
    match args.command {
        SwitchCommand::Serve(lab) => serve(&lab),
        SwitchCommand::Show(args) => show(&args),
    }
}

fn serve(lab: &LabRef) -> Outcome {
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    let ready = || {
        let _ = output::stdout_line(forwarder::READY);
    };
    match forwarder::serve(&lab.lab, &lab.prefix, ready, &signals::STOP) {
        Ok(report) => {
            stderr!(
                "mvlab switch serve: stopped after {:.1} s, {} frame(s) dropped (each counted with its reason)",
                report.uptime_s,
                report.dropped
            );
            Outcome::Passed
        }
        Err(e) => {
            stderr!("error: {e}");
            e.outcome()
        }
    }
}

fn show(args: &ShowArgs) -> Outcome {
    let report = Lab::attach(&args.lab.lab, &args.lab.prefix).and_then(|l| l.switch_report());
    match report {
        Ok(Some(r)) => {
            let shown = if args.json {
                output::stdout_json(&r)
            } else {
                output::stdout(&report::switch::render(&r))
            };
            shown.err().unwrap_or(Outcome::Passed)
        }
        Ok(None) => {
            stderr!(
                "error: lab `{}` has no emulated switch forwarding in a process of its own\n  hint: a lab held by `mvlab run` reports its switch in the run's result; only `lab up` labs have a `switch serve` process",
                args.lab.lab
            );
            Outcome::BadInput
        }
        Err(e) => {
            stderr!("{}", e.report().trim_end());
            e.outcome()
        }
    }
}
