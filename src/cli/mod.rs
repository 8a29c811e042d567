//! The command line: clap definitions of every `mvlab` command and the wiring from each to the
//! library. No logic of its own beyond parsing arguments, calling one library entry point, and
//! turning its result into output and an exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diag::Outcome;

pub mod traffic;

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
    /// Send test frames from an interface in a namespace (batched, paced, swept, tagged).
    Gen(traffic::GenArgs),
    /// Capture on an interface in a namespace: per-flow loss, reordering, duplicates, latency.
    Capture(traffic::CaptureArgs),
    /// Send every arriving test frame back with its MACs swapped (round-trip latency).
    Reflect(traffic::ReflectArgs),
}

pub fn main() -> ExitCode {
    ExitCode::from(run(Cli::parse().command).code())
}

fn run(command: Command) -> Outcome {
    match command {
        Command::Gen(args) => traffic::gen_command(&args),
        Command::Capture(args) => traffic::capture_command(&args),
        Command::Reflect(args) => traffic::reflect_command(&args),
    }
}
