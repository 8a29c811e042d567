//! One scenario on several kernels: this one (`this`) through `run`, any other booted as a
//! guest (`guest`) that runs this same binary on the same scenario and hands back the same
//! result; then what differs between them (`diff`). The entry point of `mvlab run --kernel`.
//! It prints nothing: progress goes to the caller's closure, results come back as plain data.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diag::Outcome;
use crate::diff::{self, Compared, Comparison};
use crate::guest::{Accel, Guest, GuestKernel};
use crate::lab::probe;

use crate::run::{self, RunOptions, RunResult};
use crate::scenario::Scenario;
use crate::stop::Stop;

/// The name of the kernel mvlab runs on, as `--kernel` takes it.
pub const THIS_KERNEL: &str = "this";

/// How one kernel's run went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelRun {
    /// The kernel's release (`uname -r` inside).
    pub kernel: String,
    /// What `--kernel` named: an image, a release, or `this`.
    pub source: String,
    /// How the guest ran (`None`: on this kernel, no guest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accel: Option<Accel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// Seconds from starting the guest to the command starting inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_s: Option<f64>,
    /// Seconds this kernel took in all (booting included).
    pub duration_s: f64,
    /// The run's exit code (`mvlab run`'s meaning).
    pub exit: u8,
    /// Why there is no result, or what went wrong after it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RunResult>,
}

/// A scenario run on several kernels, and what differs between them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelMatrix {
    pub scenario: String,
    pub runs: Vec<KernelRun>,
    /// Between the kernels that produced a result (in `runs` order).
    pub comparison: Comparison,
}

impl KernelMatrix {
    /// The exit code of the whole: the most severe of the kernels'.
    pub fn exit(&self) -> u8 {
        self.runs.iter().map(|r| r.exit).max().unwrap_or(0)
    }
}

/// What to run on each kernel.
pub struct KernelOptions<'a> {
    /// The scenario file (`None`: the built-in scenario, narrowed on each kernel to the modes it
    /// has).
    pub file: Option<PathBuf>,
    pub name: Option<String>,
    pub prefix: String,
    pub no_model: bool,
    pub progress: &'a (dyn Fn(&str) + Sync),
    /// Requested by a signal: the kernel running stops (a guest's qemu is killed) and no
    /// other starts.
    pub stop: &'a Stop,
}

/// The modules a guest loads for `scenario`: those of every feature it needs.
pub fn modules_for(scenario: &Scenario) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = probe::needs(scenario)
        .iter()
        .filter_map(|n| n.feature.module())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The modules of every feature mvlab can use (what a guest loads for `doctor` or a command).
pub fn every_module() -> Vec<&'static str> {
    let mut modules: Vec<&'static str> = probe::Feature::all()
        .into_iter()
        .filter_map(probe::Feature::module)
        .collect();
    modules.sort_unstable();
    modules.dedup();
    modules
}

/// Runs `scenario` (loaded from `options.file`) on each of `kernels`, one after the other.
pub fn run_on(
    scenario: &Scenario,
    kernels: &[String],
    options: &KernelOptions<'_>,
) -> KernelMatrix {
    let mut runs = Vec::with_capacity(kernels.len());
    for spec in kernels {
        if options.stop.requested() {
            break;
        }
        let started = std::time::Instant::now();
        let mut run = if spec == THIS_KERNEL {
            on_this_kernel(scenario, options)
        } else {
            in_guest(scenario, spec, options)
        };
        run.duration_s = started.elapsed().as_secs_f64();
        runs.push(run);
    }
    let compared: Vec<Compared<'_>> = runs
        .iter()
        .filter_map(|r| {
            r.result.as_ref().map(|result| Compared {
                label: r.kernel.clone(),
                result,
            })
        })
        .collect();
    let comparison = diff::compare(&compared, diff::DEFAULT_TOLERANCE_PCT);
    KernelMatrix {
        scenario: scenario.name.clone(),
        runs,
        comparison,
    }
}

fn on_this_kernel(scenario: &Scenario, options: &KernelOptions<'_>) -> KernelRun {
    (options.progress)(&format!("{}: running on this kernel", probe::release()));
    let finished = run::run(
        scenario,
        RunOptions {
            lab: crate::lab::LabOptions {
                name: options.name.clone(),
                prefix: options.prefix.clone(),
                use_real_parent: false,
                force_interfaces: Vec::new(),
                persistent: false,
                interrupt: Some(options.stop.clone()),
                engine: crate::lab::Engine::Native,
            },
            keep: false,
            no_model: options.no_model,
            max_pps: None,
            pcap_dir: None,
            stop: options.stop,
            progress: options.progress,
        },
    );
    let exit = finished.outcome().code();
    let mut error = String::new();
    if let Err(e) = &finished.measured {
        error = e.message.clone();
    }
    if let Err(e) = &finished.ended {
        error = e.message.clone();
    }
    KernelRun {
        kernel: probe::release(),
        source: THIS_KERNEL.into(),
        accel: None,
        cpus: None,
        boot_s: None,
        duration_s: 0.0,
        exit,
        error,
        result: finished.measured.ok(),
    }
}

fn failed(kernel: String, source: &str, outcome: Outcome, error: String) -> KernelRun {
    KernelRun {
        kernel,
        source: source.to_string(),
        accel: None,
        cpus: None,
        boot_s: None,
        duration_s: 0.0,
        exit: outcome.code(),
        error,
        result: None,
    }
}

fn in_guest(scenario: &Scenario, spec: &str, options: &KernelOptions<'_>) -> KernelRun {
    let kernel = match GuestKernel::resolve(spec) {
        Ok(k) => k,
        Err(e) => return failed(spec.to_string(), spec, e.outcome(), e.to_string()),
    };
    let release = kernel.release.clone();
    let guest = match Guest::new(kernel) {
        Ok(g) => g,
        Err(e) => return failed(release, spec, e.outcome(), e.to_string()),
    };
    let json = guest.dir().join("result.json");
    let mut args: Vec<OsString> = vec!["run".into()];
    if let Some(file) = &options.file {
        args.push(absolute(file).into_os_string());
    }
    args.extend(["--json".into(), json.clone().into_os_string()]);
    args.extend(["--prefix".into(), options.prefix.clone().into()]);
    if let Some(name) = &options.name {
        args.extend(["--name".into(), name.into()]);
    }
    if options.no_model {
        args.push("--no-model".into());
    }
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            return failed(
                release,
                spec,
                Outcome::RuntimeFailure,
                format!("finding this mvlab binary: {e}"),
            );
        }
    };
    let output = match guest.run(
        &program,
        &args,
        &modules_for(scenario),
        &[],
        options.progress,
        options.stop,
    ) {
        Ok(o) => o,
        Err(e) => return failed(release, spec, e.outcome(), e.to_string()),
    };
    let result: Option<RunResult> = std::fs::read(&json)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let exit = u8::try_from(output.exit).unwrap_or(Outcome::RuntimeFailure.code());
    let error = if result.is_some() && exit <= Outcome::ExpectationFailed.code() {
        String::new()
    } else {
        output.stderr.trim().to_string()
    };
    KernelRun {
        kernel: release,
        source: spec.to_string(),
        accel: Some(output.accel),
        cpus: Some(output.cpus),
        boot_s: Some(output.boot_s),
        duration_s: 0.0,
        exit,
        error,
        result,
    }
}

fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// What `doctor` found on one kernel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelDoctor {
    pub kernel: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accel: Option<Accel>,
    /// Why there is no report.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<probe::Report>,
}

/// Probes every feature on each of `kernels` (`this` probes here; others in a guest, with the
/// modules of every probed feature loaded).
pub fn doctor_on(
    kernels: &[String],
    progress: &(dyn Fn(&str) + Sync),
    stop: &Stop,
) -> Vec<KernelDoctor> {
    kernels
        .iter()
        .map(|spec| {
            if spec == THIS_KERNEL {
                let report = probe::report();
                return KernelDoctor {
                    kernel: report.release.clone(),
                    source: spec.clone(),
                    accel: None,
                    error: String::new(),
                    report: Some(report),
                };
            }
            let fail = |kernel: String, error: String| KernelDoctor {
                kernel,
                source: spec.clone(),
                accel: None,
                error,
                report: None,
            };
            let kernel = match GuestKernel::resolve(spec) {
                Ok(k) => k,
                Err(e) => return fail(spec.clone(), e.to_string()),
            };
            let release = kernel.release.clone();
            let modules = every_module();
            let output = std::env::current_exe()
                .map_err(|e| format!("finding this mvlab binary: {e}"))
                .and_then(|program| {
                    let guest = Guest::new(kernel).map_err(|e| e.to_string())?;
                    let args: Vec<OsString> = vec!["doctor".into(), "--json".into()];
                    guest
                        .run(&program, &args, &modules, &[], progress, stop)
                        .map_err(|e| e.to_string())
                });
            match output {
                Ok(out) => match serde_json::from_str::<probe::Report>(&out.stdout) {
                    Ok(report) => KernelDoctor {
                        kernel: release,
                        source: spec.clone(),
                        accel: Some(out.accel),
                        error: String::new(),
                        report: Some(report),
                    },
                    Err(e) => fail(
                        release,
                        format!(
                            "the guest's doctor gave no report ({e}): {}",
                            out.stderr.trim()
                        ),
                    ),
                },
                Err(e) => fail(release, e),
            }
        })
        .collect()
}
