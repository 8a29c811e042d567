//! The command line: clap definitions of every `mvlab` command and the wiring from each to the
//! library. No logic of its own beyond parsing arguments, calling one library entry point, and
//! turning its result into output and an exit code.

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diag::Outcome;
use crate::scenario::{self, Scenario};

#[macro_use]
mod output;

mod check;
mod completions;
mod diff;
mod guest;
mod import;
mod inspect;
mod interfaces;
mod lab;
mod run;
mod schema;
mod signals;
mod simulate;
mod switch;
mod traffic;

/// Build macvlan labs in network namespaces, predict every frame's path, and measure what the
/// kernel really does.
#[derive(Debug, Parser)]
#[command(name = "mvlab", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate scenario files without touching the kernel.
    Check(check::CheckArgs),
    /// Write a scenario from a compose file, `docker network inspect` output, docker commands or
    /// a CNI netconf, your addresses mapped into the lab ranges.
    Import(import::ImportArgs),
    /// Probe what this kernel and user can do (each feature by creating a throwaway object).
    Doctor(lab::DoctorArgs),
    /// Bring labs up and down, and list them.
    #[command(
        after_help = "Examples:\n  mvlab lab up scenarios/vepa.toml --name demo\n  ip netns exec mvlab-demo-e1 ip -br addr\n  mvlab lab ls\n  mvlab lab down demo"
    )]
    Lab(lab::LabArgs),
    /// Remove what killed labs left behind (and only that).
    Clean(lab::CleanArgs),
    /// Build a scenario's lab, run its tests, check every expectation, tear the lab down.
    Run(run::RunArgs),
    /// Compare results (other kernels, hosts, versions): cells, expectations, metrics.
    Diff(diff::DiffArgs),
    /// Run a command on another kernel, booted under qemu with this host's filesystem.
    Guest(guest::GuestArgs),
    /// Predict every delivery of a scenario with the packet-path model (no root, no kernel).
    Simulate(simulate::SimulateArgs),
    /// Read this machine's macvlan setup (read-only) and say who reaches whom, and why.
    Inspect(inspect::InspectArgs),
    /// Send test frames from an interface in a namespace (batched, paced, swept, tagged).
    Gen(traffic::GenArgs),
    /// Capture on an interface in a namespace: per-flow loss, reordering, duplicates, latency.
    Capture(traffic::CaptureArgs),
    /// Send every arriving test frame back with its MACs swapped (round-trip latency).
    Reflect(traffic::ReflectArgs),
    /// The emulated switch of a persistent lab: serve it, show its counters and events.
    #[command(
        after_help = "Examples:\n  mvlab lab up scenarios/switch-vlans.toml --name demo\n  mvlab switch show --lab demo\n  mvlab lab down demo"
    )]
    Switch(switch::SwitchArgs),
    /// Print the JSON Schema of the scenario format (for editors and other validators).
    Schema(schema::SchemaArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Write man pages for mvlab and every command into a directory.
    Man(completions::ManArgs),
}

pub fn main() -> ExitCode {
    ExitCode::from(run(Cli::parse().command))
}

/// The exit code: the outcome's, or for `guest` the guest command's own.
fn run(command: Command) -> u8 {
    let outcome = match command {
        Command::Guest(args) => return guest::run(args),
        Command::Check(args) => check::run(args),
        Command::Import(args) => import::run(args),
        Command::Doctor(args) => lab::doctor(args),
        Command::Lab(args) => lab::run(args),
        Command::Clean(args) => lab::clean(args),
        Command::Run(args) => run::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Gen(args) => traffic::gen_command(&args),
        Command::Capture(args) => traffic::capture_command(&args),
        Command::Reflect(args) => traffic::reflect_command(&args),
        Command::Switch(args) => switch::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    };
    outcome.code()
}

/// The scenario at `path`, or the built-in default; its warnings are printed, and its problems,
/// with the outcome to exit with.
fn load_scenario(path: Option<&Path>) -> Result<Scenario, Outcome> {
    match path {
        Some(path) => load_file(path),
        None => Ok(scenario::default_scenario()),
    }
}

/// The scenario at `path`, its warnings printed; or its problems printed, and exit 2.
fn load_file(path: &Path) -> Result<Scenario, Outcome> {
    match scenario::load(path) {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                stderr!("{}", loaded.warnings);
            }
            Ok(loaded.scenario)
        }
        Err(diags) => {
            stderr!("{diags}");
            Err(Outcome::BadInput)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and command group shows examples after its help, as the README promises.
    #[test]
    fn every_command_has_examples() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                let examples = sub
                    .get_after_help()
                    .is_some_and(|h| h.to_string().contains("Example"));
                if !examples {
                    missing.push(name.clone());
                }
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "mvlab", &mut missing);
        assert!(missing.is_empty(), "no examples in --help of {missing:?}");
    }
}
