//! `mvlab inspect`: reads this machine's macvlan setup (read-only) and prints the answer, or
//! writes it as JSON, a trace, or scenario files.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::delivery::FrameClass;
use crate::diag::Outcome;
use crate::inspect::{self, InspectOptions};
use crate::report;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  sudo mvlab inspect\n  sudo mvlab inspect --netns 'mvlab-demo-*' --scenario demo.toml\n  sudo mvlab inspect --trace web:eth0 db:eth0 broadcast\n  sudo mvlab inspect --json | jq '.warnings'"
)]
pub struct InspectArgs {
    /// Only this namespace (repeatable; `PREFIX*` selects by prefix). Names as `inspect` shows
    /// them: /run/netns names, Docker container names, `pid-PID`, `host` for its own.
    #[arg(long = "netns", value_name = "NS")]
    pub netns: Vec<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write a scenario that reproduces this machine in a lab (one file per segment: FILE, then
    /// FILE-2.toml, ...).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Trace one frame: sender, receiver (`NETNS:IFACE`), frame class.
    #[arg(long, num_args = 3, value_names = ["FROM", "TO", "CLASS"])]
    pub trace: Option<Vec<String>>,
    /// With --trace: follow the frame as promiscuous receivers see it.
    #[arg(long, requires = "trace")]
    pub promiscuous: bool,
    /// The Docker API socket that names containers.
    #[arg(long, value_name = "PATH", default_value = "/var/run/docker.sock")]
    pub docker_socket: PathBuf,
}

/// FILE for the first segment, FILE-N.toml for the others.
fn scenario_path(base: &Path, index: usize) -> PathBuf {
    if index == 0 {
        return base.to_path_buf();
    }
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "inspected".into());
    base.with_file_name(format!("{stem}-{}.toml", index + 1))
}

pub fn run(args: InspectArgs) -> Outcome {
    let options = InspectOptions {
        netns: args.netns.clone(),
        docker_socket: Some(args.docker_socket.clone()),
    };
    let inspection = match inspect::inspect(&options) {
        Ok(i) => i,
        Err(e) => {
            stderr!("error: {e}");
            return match e {
                inspect::InspectError::UnknownNetns(..) => Outcome::BadInput,
                inspect::InspectError::Read(_) => Outcome::RuntimeFailure,
            };
        }
    };
    if let Some(base) = &args.scenario {
        if inspection.scenarios.is_empty() {
            stderr!(
                "error: no macvlan link was found, so there is no scenario to write\n  hint: `mvlab inspect` without --scenario lists what it read; --netns names the namespaces to look in"
            );
            return Outcome::BadInput;
        }
        for (i, r) in inspection.scenarios.iter().enumerate() {
            let path = scenario_path(base, i);
            if let Err(e) = std::fs::write(&path, &r.text) {
                stderr!(
                    "error: writing {}: {e}\n  hint: give a path in a directory you can write",
                    path.display()
                );
                return Outcome::RuntimeFailure;
            }
            if let Err(e) = &r.scenario {
                stderr!(
                    "error: the scenario written to {} does not validate (a bug of inspect):\n{e}",
                    path.display()
                );
                return Outcome::RuntimeFailure;
            }
            stderr!("wrote {}", path.display());
        }
    }
    let text = match &args.trace {
        Some(t) => {
            let class = match t[2].parse::<FrameClass>() {
                Ok(c) => c,
                Err(e) => {
                    stderr!("error: {e}");
                    return Outcome::BadInput;
                }
            };
            match inspect::trace(&inspection, &t[0], &t[1], class, args.promiscuous) {
                Ok(trace) if args.json => {
                    serde_json::to_string_pretty(&trace).expect("traces serialise")
                }
                Ok(trace) => report::simulation::render_trace(&trace),
                Err(e) => {
                    stderr!("error: {e}");
                    return Outcome::BadInput;
                }
            }
        }
        None if args.json => {
            serde_json::to_string_pretty(&inspection).expect("inspections serialise")
        }
        None => report::inspect::render(&inspection),
    };
    match super::output::stdout_line(text.trim_end()) {
        Ok(()) => Outcome::Passed,
        Err(o) => o,
    }
}
