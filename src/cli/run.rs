//! `mvlab run`: build a scenario's lab, run its tests, hold the kernel to the model and to the
//! scenario's expectations, write the reports asked for, tear the lab down, and exit with the
//! verdict (0 all held, 1 an expectation failed, 2 bad input, 3 the kernel lacks a feature, 4 the
//! run could not complete or a signal arrived before its result was written).

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::interfaces::{DEFAULT_MAX_RATE, MaxRateArgs, RealInterfaceArgs};
use super::output::{self, OutputFile};
use super::signals;
use crate::diag::Outcome;
use crate::kernels::{self, KernelOptions};
use crate::lab::probe::{self, Feature};
use crate::lab::{DEFAULT_PREFIX, Engine, LabOptions};
use crate::push::{Gateway, Group};
use crate::report;
use crate::run::{self, Ended, RunError, RunOptions, RunResult};
use crate::scenario::{self, MacvlanMode, Scenario};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mvlab run                                  the built-in conformance pass over every macvlan mode
  mvlab run scenarios/vepa.toml              one scenario: conclusions, who hears whom, verdict
  mvlab run scenarios/vepa.toml --detail     ... and the grid of every frame class and pass
  mvlab run scenarios/bridge.toml --json out.json --junit junit.xml --prom metrics.prom
  mvlab run scenarios/private-hairpin.toml --keep --name dbg    keep the lab to poke at it
  mvlab run scenarios/rfc2544.toml --report html/               charts in html/index.html
  mvlab run scenarios/docker-macvlan.toml --engine docker
                                             Docker (DOCKER_HOST) makes the networks and
                                             containers; mvlab measures them
  mvlab run --push http://pushgateway:9091   metrics to a Prometheus Pushgateway (per scenario,
                                             host and kernel)
  mvlab run scenarios/vepa.toml --kernel this --kernel /srv/k/boot/vmlinuz-6.1.0-57-amd64
                                             the same scenario on this kernel and Debian's 6.1
                                             (booted under qemu), side by side

Exit codes: 0 every expectation held; 1 one did not; 2 bad input; 3 the kernel lacks a feature
the scenario needs; 4 the run could not complete, or SIGINT/SIGTERM arrived before its result
was written (no report is written then). The lab is removed in every case but --keep.")]
pub struct RunArgs {
    /// Scenario file; the built-in default scenario (every macvlan mode side by side) when omitted.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// Name of the lab (namespaces are PREFIX-NAME-NODE); the scenario's name by default.
    #[arg(long)]
    pub name: Option<String>,
    /// Prefix of every namespace the lab creates.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub prefix: String,
    /// Write the result as JSON to FILE (`-` for standard output, which then carries only JSON).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write JUnit XML (one testcase per expectation) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write Prometheus text exposition to FILE.
    #[arg(long, value_name = "FILE")]
    pub prom: Option<PathBuf>,
    /// Write one pcapng per receiving station and test into DIR.
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<PathBuf>,
    /// Write a self-contained HTML page with charts to DIR/index.html.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Push the Prometheus metrics to a Pushgateway at URL (http://HOST[:PORT][/PATH]), grouped
    /// by job `mvlab`, scenario, instance (this host) and kernel.
    #[arg(long, value_name = "URL")]
    pub push: Option<String>,
    /// The `instance` label of --push: this machine's name by default (e.g. a Kubernetes node's
    /// name where the pod's own name would say less).
    #[arg(long, value_name = "NAME", requires = "push")]
    pub push_instance: Option<String>,
    /// Show every matrix's full grid per frame class and pass after its conclusions (the HTML
    /// report and the JSON always have them).
    #[arg(long)]
    pub detail: bool,
    /// Keep the lab afterwards (remove it with `mvlab lab down NAME`).
    #[arg(long)]
    pub keep: bool,
    /// Do not hold the kernel to the packet-path model (only the scenario's own expectations).
    #[arg(long)]
    pub no_model: bool,
    /// Who makes the endpoints: mvlab itself, or a Docker Engine (DOCKER_HOST's unix socket or
    /// /var/run/docker.sock) whose macvlan networks and containers mvlab then measures.
    #[arg(long, value_enum, default_value_t = Engine::Native)]
    pub engine: Engine,
    #[command(flatten)]
    pub real: RealInterfaceArgs,
    #[command(flatten)]
    pub rate: MaxRateArgs,
    /// Run on this kernel instead: a kernel image (its modules where `dpkg -x` puts them), the
    /// release of an installed kernel or of one `scripts/kernels` fetched, or `this`. Booted
    /// with virtme-ng, this host's filesystem read-only; repeat it to compare kernels.
    #[arg(long, value_name = "KERNEL")]
    pub kernel: Vec<String>,
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// The reports asked for, each file opened (each directory made) before the lab is built, so a
/// path that cannot be written is refused before anything runs.
struct Reports {
    /// `--json -`: standard output carries the JSON result and nothing else.
    json_to_stdout: bool,
    json: Option<OutputFile>,
    junit: Option<OutputFile>,
    prom: Option<OutputFile>,
    /// `--report DIR`: DIR/index.html.
    html: Option<OutputFile>,
    /// `--detail`: the terminal report shows every matrix's full grid.
    detail: bool,
}

impl Reports {
    fn open(args: &RunArgs) -> Result<Reports, Outcome> {
        let json_to_stdout = args.json.as_deref() == Some(Path::new("-"));
        let file = |path: &Option<PathBuf>| path.as_deref().map(OutputFile::open).transpose();
        if let Some(dir) = &args.pcap {
            output::output_dir(dir)?;
        }
        let html = match &args.report {
            Some(dir) => {
                output::output_dir(dir)?;
                Some(OutputFile::open(&dir.join("index.html"))?)
            }
            None => None,
        };
        Ok(Reports {
            json_to_stdout,
            json: file(&args.json.clone().filter(|_| !json_to_stdout))?,
            junit: file(&args.junit)?,
            prom: file(&args.prom)?,
            html,
            detail: args.detail,
        })
    }

    /// Writes the result: to the terminal (or the JSON to standard output), then every file,
    /// each rendered by `render` from its kind.
    fn write(
        self,
        terminal: &dyn Fn() -> String,
        render: &dyn Fn(Kind) -> String,
    ) -> Result<(), Outcome> {
        if self.json_to_stdout {
            output::stdout_line(&render(Kind::Json))?;
        } else {
            output::stdout(&terminal())?;
        }
        for (file, kind) in [
            (self.json, Kind::Json),
            (self.junit, Kind::Junit),
            (self.prom, Kind::Prom),
            (self.html, Kind::Html),
        ] {
            if let Some(file) = file {
                file.write(&render(kind))?;
            }
        }
        Ok(())
    }
}

/// The kinds of report `Reports` writes.
#[derive(Clone, Copy)]
enum Kind {
    Json,
    Junit,
    Prom,
    Html,
}

/// The built-in scenario narrowed to the macvlan modes this kernel supports (each probed by
/// creating a throwaway macvlan), saying which it left out.
fn default_for_this_kernel() -> Result<Scenario, Outcome> {
    if !probe::privileged() {
        stderr!(
            "error: building a lab needs root: CAP_NET_ADMIN and CAP_SYS_ADMIN are not both effective\n  hint: run it as root: `{}`",
            crate::diag::sudo_line()
        );
        return Err(Outcome::BadInput);
    }
    let features: Vec<Feature> = MacvlanMode::ALL
        .iter()
        .map(|&m| Feature::Macvlan(m))
        .collect();
    let probes = probe::probe(&features);
    let supported = |mode: MacvlanMode| {
        probes
            .iter()
            .any(|p| p.feature == Feature::Macvlan(mode) && p.available)
    };
    for p in probes.iter().filter(|p| !p.available) {
        stderr!(
            "note: this kernel lacks {} ({}); the built-in scenario leaves it out",
            p.description,
            p.detail
        );
    }
    scenario::default_scenario_with(supported).ok_or_else(|| {
        stderr!(
            "error: this kernel supports no macvlan mode\n  hint: load the macvlan module (`sudo modprobe macvlan`); `mvlab doctor` says what this kernel has"
        );
        Outcome::MissingFeature
    })
}

pub fn run(args: RunArgs) -> Outcome {
    let scenario = match &args.scenario {
        Some(_) => super::load_scenario(args.scenario.as_deref()),
        None => default_for_this_kernel(),
    };
    let scenario = match scenario {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    let gateway = match args.push.as_deref().map(Gateway::parse).transpose() {
        Ok(g) => g,
        Err(e) => {
            stderr!("error: --push: {e}");
            return Outcome::BadInput;
        }
    };
    let reports = match Reports::open(&args) {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    if !args.kernel.is_empty() {
        return on_kernels(&args, &scenario, gateway.as_ref(), reports);
    }
    let max_pps = max_pps(&scenario, &args.rate);
    if args.real.use_real_parent
        && let Some(notice) = report::exposure::render(&scenario, max_pps)
    {
        stderr!("{notice}");
    }
    let bar = progress_bar();
    let show = |msg: &str| bar.set_message(msg.to_string());
    let options = RunOptions {
        lab: LabOptions {
            name: args.name.clone(),
            prefix: args.prefix.clone(),
            use_real_parent: args.real.use_real_parent,
            force_interfaces: args.real.force_interface.clone(),
            persistent: false,
            interrupt: Some(signals::STOP.clone()),
            engine: args.engine,
        },
        keep: args.keep,
        no_model: args.no_model,
        pcap_dir: args.pcap.clone(),
        max_pps,
        stop: &signals::STOP,
        progress: &show,
    };
    let finished = run::run(&scenario, options);
    bar.finish_and_clear();
    let outcome = match &run::unless_stopped(finished.measured, &signals::STOP) {
        Ok(result) => worst(
            write_reports(reports, result),
            push(&args, gateway.as_ref(), result),
        ),
        Err(e) => {
            stderr!("{}", e.message);
            e.outcome
        }
    };
    match finished.ended {
        Ok(Ended::Kept(name)) => {
            stderr!("lab `{name}` kept; remove it with `mvlab lab down {name}`");
            outcome
        }
        Ok(Ended::Removed | Ended::NotBuilt) => outcome,
        Err(e) => {
            stderr!("{}", e.message);
            Outcome::RuntimeFailure
        }
    }
}

/// The cap on every station's frames per second: `--max-rate`, or with existing interfaces its
/// default. A bit rate is held for the largest frames (1518 bytes), the fewest frames per second.
fn max_pps(scenario: &Scenario, args: &MaxRateArgs) -> Option<f64> {
    let cap = match args.max_rate {
        Some(rate) => rate,
        None if !scenario.existing_interfaces().is_empty() => DEFAULT_MAX_RATE,
        None => return None,
    };
    cap.pps(1518)
}

/// `--kernel`: the scenario on each kernel named, then what differs between them.
fn on_kernels(
    args: &RunArgs,
    scenario: &Scenario,
    gateway: Option<&Gateway>,
    reports: Reports,
) -> Outcome {
    for (given, flag) in [
        (args.keep, "--keep"),
        (args.real.use_real_parent, "--use-real-parent"),
        (args.pcap.is_some(), "--pcap"),
        (args.engine == Engine::Docker, "--engine docker"),
    ] {
        if given {
            stderr!(
                "error: {flag} cannot be used with --kernel: a guest's lab and interfaces end with the guest; run on this kernel to use it"
            );
            return Outcome::BadInput;
        }
    }
    let bar = progress_bar();
    let show = |msg: &str| bar.set_message(msg.to_string());
    let options = KernelOptions {
        file: args.scenario.clone(),
        name: args.name.clone(),
        prefix: args.prefix.clone(),
        no_model: args.no_model,
        progress: &show,
        stop: &signals::STOP,
    };
    let matrix = kernels::run_on(scenario, &args.kernel, &options);
    bar.finish_and_clear();
    if signals::STOP.requested() {
        stderr!("{}", RunError::interrupted().message);
        return Outcome::RuntimeFailure;
    }
    let pushed = matrix
        .runs
        .iter()
        .filter_map(|r| r.result.as_ref())
        .map(|result| push(args, gateway, result))
        .fold(Outcome::Passed, worst);
    if let [only] = matrix.runs.as_slice() {
        return match &only.result {
            Some(result) => {
                let outcome = worst(write_reports(reports, result), pushed);
                if only.exit > outcome.code() {
                    stderr!("{}", only.error);
                    return Outcome::from_code(only.exit);
                }
                outcome
            }
            None => {
                stderr!("{}: {}", only.kernel, only.error);
                Outcome::from_code(only.exit)
            }
        };
    }
    let results: Vec<(&str, &RunResult)> = matrix
        .runs
        .iter()
        .filter_map(|r| r.result.as_ref().map(|res| (r.kernel.as_str(), res)))
        .collect();
    let written = reports.write(
        &|| report::comparison::render_kernels(&matrix, report::paint::Paint::for_stdout()),
        &|kind| match kind {
            Kind::Json => serde_json::to_string_pretty(&matrix).expect("results serialise"),
            Kind::Junit => report::junit::render_kernels(&results),
            Kind::Prom => report::prom::render_kernels(&results),
            Kind::Html => report::comparison::render_kernels_html(&matrix),
        },
    );
    match written {
        Ok(()) => worst(Outcome::from_code(matrix.exit()), pushed),
        Err(outcome) => outcome,
    }
}

/// The outcome with the higher exit code (a failure to write or push outranks the verdict).
fn worst(a: Outcome, b: Outcome) -> Outcome {
    if b.code() > a.code() { b } else { a }
}

/// `--push`: the run's metrics to the Pushgateway, under its own group.
fn push(args: &RunArgs, gateway: Option<&Gateway>, result: &RunResult) -> Outcome {
    let Some(gateway) = gateway else {
        return Outcome::Passed;
    };
    let group = Group::of(
        &result.scenario,
        &result.kernel,
        args.push_instance.as_deref(),
    );
    match gateway.push(&group, &report::prom::render(result)) {
        Ok(()) => {
            stderr!("pushed the metrics to {}", gateway.group_url(&group));
            Outcome::Passed
        }
        Err(e) => {
            stderr!("error: --push: {e}");
            Outcome::RuntimeFailure
        }
    }
}

fn write_reports(reports: Reports, result: &RunResult) -> Outcome {
    let detail = reports.detail;
    let written = reports.write(
        &|| report::text::render(result, report::paint::Paint::for_stdout(), detail),
        &|kind| match kind {
            Kind::Json => serde_json::to_string_pretty(result).expect("results serialise"),
            Kind::Junit => report::junit::render(result),
            Kind::Prom => report::prom::render(result),
            Kind::Html => report::html::render(result),
        },
    );
    match written {
        Err(outcome) => outcome,
        Ok(()) if result.passed => Outcome::Passed,
        Ok(()) => Outcome::ExpectationFailed,
    }
}
