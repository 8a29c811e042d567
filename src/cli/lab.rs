//! `mvlab doctor`, `mvlab lab up|down|ls` and `mvlab clean`: argument parsing, one call into
//! `crate::lab` each (`clean` also removes dead runs' drop-trace instances, which
//! `crate::measure::kstat` owns), and printing the result (rendered by `report::lab` and
//! `report::comparison`, or JSON with `--json`). The only logic here is installing the SIGINT/SIGTERM handler whose flag `lab up`
//! checks between steps.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{output, signals};
use crate::diag::Outcome;
use crate::kernels;
use crate::lab::probe;
use crate::lab::{self, CleanOptions, DEFAULT_PREFIX, Engine, Lab, LabError, LabOptions};
use crate::measure::kstat;
use crate::report;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mvlab doctor\n  mvlab doctor --json | jq '.features[] | select(.available | not)'\n  mvlab doctor --kernel this --kernel 6.1.0-57-amd64    this kernel beside Debian's 6.1 (booted under qemu)"
)]
pub struct DoctorArgs {
    /// Print the probe results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Probe this kernel instead (as `mvlab run --kernel` takes it); repeat it to compare.
    #[arg(long, value_name = "KERNEL")]
    pub kernel: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build a lab from a scenario and leave it up (`ip netns exec <prefix>-<lab>-<node> ...`).
    #[command(
        after_help = "Examples:\n  mvlab lab up\n  mvlab lab up scenarios/vepa.toml --name demo\n  mvlab lab up scenarios/bridge.toml --json | jq '.nodes[].netns'\n  mvlab lab up scenarios/bridge.toml --engine docker    containers made by Docker (DOCKER_HOST)"
    )]
    Up(UpArgs),
    /// Remove a lab, returning once the kernel has destroyed its namespaces.
    #[command(after_help = "Examples:\n  mvlab lab down demo\n  mvlab lab down demo --prefix ci")]
    Down(DownArgs),
    /// List the registered labs and their state.
    #[command(after_help = "Examples:\n  mvlab lab ls\n  mvlab lab ls --json | jq '.[] | .lab'")]
    Ls(LsArgs),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The scenario file; the built-in default scenario when omitted.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// The lab's name (default: the scenario's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Print the inventory (nodes, namespaces, interfaces, MACs, addresses) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Who makes the endpoints: mvlab itself, or a Docker Engine (DOCKER_HOST's unix socket or
    /// /var/run/docker.sock) whose macvlan networks and containers the lab then holds.
    #[arg(long, value_enum, default_value_t = Engine::Native)]
    pub engine: Engine,
    #[command(flatten)]
    pub real: super::interfaces::RealInterfaceArgs,
    /// Namespace name prefix.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub prefix: String,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// The lab's name.
    pub name: String,
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub prefix: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print the labs (with their inventories) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only labs with this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Removes labs whose owner process is gone (killed `lab up`, crashed test) and that are not persistent, and only those: a user's own namespaces and live labs are never touched.\n\nExamples:\n  mvlab clean --dry-run\n  mvlab clean\n  mvlab clean --all"
)]
pub struct CleanArgs {
    /// Also remove persistent labs (those made by `lab up`).
    #[arg(long)]
    pub all: bool,
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Only labs with this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn fail(e: &LabError) -> Outcome {
    stderr!("{}", e.report());
    e.outcome()
}

/// `outcome`, unless printing failed first.
fn printed(printed: Result<(), Outcome>, outcome: Outcome) -> Outcome {
    printed.err().unwrap_or(outcome)
}

pub fn doctor(args: DoctorArgs) -> Outcome {
    if !probe::privileged() {
        if args.json
            && let Err(outcome) = output::stdout_json(&probe::report())
        {
            return outcome;
        }
        stderr!(
            "error: not privileged: probing the kernel creates throwaway links in a throwaway namespace\n  hint: run it as root: `{}`",
            crate::diag::sudo_line()
        );
        return Outcome::BadInput;
    }
    if args.kernel.is_empty() {
        let report = probe::report();
        let shown = if args.json {
            output::stdout_json(&report)
        } else {
            output::stdout(&report::lab::doctor(&report))
        };
        return printed(shown, Outcome::Passed);
    }
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let show = |msg: &str| bar.set_message(msg.to_string());
    let found = kernels::doctor_on(&args.kernel, &show, &signals::STOP);
    bar.finish_and_clear();
    let shown = if args.json {
        output::stdout_json(&found)
    } else {
        output::stdout(&report::comparison::render_doctors(&found))
    };
    if found.iter().all(|d| d.report.is_some()) {
        printed(shown, Outcome::Passed)
    } else {
        Outcome::RuntimeFailure
    }
}

pub fn run(args: LabArgs) -> Outcome {
    match args.command {
        LabCommand::Up(a) => up(a),
        LabCommand::Down(a) => match lab::down(&a.name, &a.prefix) {
            Ok(report) => printed(
                output::stdout_line(&format!(
                    "lab `{}` is down: {} namespaces destroyed",
                    a.name, report.namespaces
                )),
                Outcome::Passed,
            ),
            Err(e) => fail(&e),
        },
        LabCommand::Ls(a) => ls(a),
    }
}

fn up(args: UpArgs) -> Outcome {
    let scenario = match super::load_scenario(args.scenario.as_deref()) {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    let options = LabOptions {
        name: args.name,
        prefix: args.prefix,
        use_real_parent: args.real.use_real_parent,
        force_interfaces: args.real.force_interface.clone(),
        persistent: true,
        interrupt: Some(signals::STOP.clone()),
        engine: args.engine,
    };
    let lab = match Lab::up(&scenario, options) {
        Ok(lab) => lab,
        Err(e) => return fail(&e),
    };
    let inventory = lab.inventory();
    let shown = if args.json {
        output::stdout_json(inventory)
    } else {
        output::stdout(&report::lab::summary(inventory))
    };
    printed(shown, Outcome::Passed)
}

fn ls(args: LsArgs) -> Outcome {
    let (labs, unreadable) = match lab::list(args.prefix.as_deref()) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    for e in &unreadable {
        stderr!("warning: {e}");
    }
    let shown = if args.json {
        output::stdout_json(&labs)
    } else {
        output::stdout(&report::lab::labs(&labs))
    };
    printed(shown, Outcome::Passed)
}

/// `clean --json`: the labs' report, and the drop-trace instances of dead runs.
#[derive(serde::Serialize)]
struct CleanOutput<'a> {
    #[serde(flatten)]
    labs: &'a lab::CleanReport,
    trace_instances: &'a [String],
}

pub fn clean(args: CleanArgs) -> Outcome {
    let options = CleanOptions {
        all: args.all,
        dry_run: args.dry_run,
        prefix: args.prefix,
    };
    let mut report = match lab::clean(&options) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let (tracers, errors) = kstat::orphaned_tracers(args.dry_run);
    report.errors.extend(errors);
    let shown = if args.json {
        output::stdout_json(&CleanOutput {
            labs: &report,
            trace_instances: &tracers,
        })
    } else {
        output::stdout(&report::lab::cleaned(&report, &tracers, args.dry_run))
    };
    if let Err(outcome) = shown {
        return outcome;
    }
    for e in &report.errors {
        stderr!("error: {e}");
    }
    if report.errors.is_empty() {
        Outcome::Passed
    } else {
        Outcome::RuntimeFailure
    }
}
