//! `mvlab switch serve|show`: the emulated switch of a persistent lab. `serve` is what `lab up`
//! starts in the background (it forwards until `lab down`, `clean` or a signal stops it);
//! `serve --port IF ...` runs it between existing interfaces of this namespace instead, outside
//! any lab; `show` prints the counters, table and events a serving switch last wrote. Argument
//! parsing and one call into `crate::lab::forwarder` each.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{output, signals};
use crate::diag::Outcome;
use crate::lab::{DEFAULT_PREFIX, Lab, forwarder};
use crate::report;
use crate::switch::SwitchConfig;

#[derive(Debug, Args)]
pub struct SwitchArgs {
    #[command(subcommand)]
    pub command: SwitchCommand,
}

#[derive(Debug, Subcommand)]
pub enum SwitchCommand {
    /// Forward for a persistent lab's emulated switch (`lab up` starts this), or between named
    /// interfaces of this namespace, until stopped.
    #[command(
        after_help = "`mvlab lab up` of a scenario with `[switch] kind = \"emulated\"` runs this in the
background and `mvlab lab down` stops it; run it by hand only to restart a forwarder that
was killed. With --port instead of --lab it is a switch between existing interfaces of the
namespace it runs in (a switch under test for a tester on real ports), with the table and
port settings of --scenario's emulated switch (its ports in file order: parents', then
peers'). It prints `forwarding` once every port listens, and its counters when stopped.

Examples:
  mvlab switch serve --lab demo &
  mvlab switch serve --port s0 --port s1 --port s2
  mvlab switch serve --port s0 --port s1 --scenario port-security.toml"
    )]
    Serve(ServeArgs),
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
#[command(group = clap::ArgGroup::new("what").required(true).args(["lab", "port"]))]
pub struct ServeArgs {
    /// The persistent lab whose emulated switch to forward for.
    #[arg(long)]
    pub lab: Option<String>,
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub prefix: String,
    /// An existing interface of this namespace to forward between (repeat for each port).
    #[arg(long, value_name = "IF", conflicts_with = "lab")]
    pub port: Vec<String>,
    /// With --port: the scenario whose `[switch] kind = "emulated"` table and port settings the
    /// switch takes; a plain learning switch without it.
    #[arg(long, value_name = "FILE", requires = "port")]
    pub scenario: Option<PathBuf>,
    /// With --port: forward on this interface even though it is down, addressed, the machine's
    /// way out or a bridge member (repeatable).
    #[arg(long, value_name = "IF", requires = "port")]
    pub force_interface: Vec<String>,
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
        SwitchCommand::Serve(args) => match &args.lab {
            Some(lab) => serve(&LabRef {
                lab: lab.clone(),
                prefix: args.prefix.clone(),
            }),
            None => serve_ports(&args),
        },
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

fn serve_ports(args: &ServeArgs) -> Outcome {
    let config = match &args.scenario {
        None => SwitchConfig::plain(args.port.len()),
        Some(path) => {
            let scenario = match super::load_scenario(Some(path)) {
                Ok(s) => s,
                Err(outcome) => return outcome,
            };
            match SwitchConfig::of(&scenario) {
                Some(c) => c,
                None => {
                    stderr!(
                        "error: {} has no emulated switch\n  hint: set `kind = \"emulated\"` under [switch]",
                        path.display()
                    );
                    return Outcome::BadInput;
                }
            }
        }
    };
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    let ready = || {
        let _ = output::stdout_line(forwarder::READY);
    };
    match forwarder::serve_interfaces(
        &args.port,
        config,
        &args.force_interface,
        ready,
        &signals::STOP,
    ) {
        Ok(report) => output::stdout(&report::switch::render(&report))
            .err()
            .unwrap_or(Outcome::Passed),
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
