//! Running one scenario end to end on this kernel: build its lab, run its tests, judge them (the
//! scenario's claims, and the packet-path model for every matrix), and remove the lab (or keep
//! it). The one entry point `mvlab run`, the integration tests and the guest runner all call. It
//! prints nothing and writes no file: progress goes to the caller's closure, the result comes
//! back as plain data (`RunResult`, the single input of every renderer).

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::diag::Outcome;
use crate::lab::{DockerMade, Lab, LabError, LabOptions};
use serde::{Deserialize, Serialize};

use crate::conclusions::{self, MatrixSummary};
use crate::measure::{self, Bench, TestResult};
use crate::scenario::{Scenario, TestKind};
use crate::stop::Stop;
use crate::verdict::ExpectationResult;
use crate::{model, verdict};

/// Everything one `mvlab run` produced: the single input of every renderer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub scenario: String,
    pub description: String,
    /// The lab's name (namespaces are `mvlab-<lab>-<node>`).
    pub lab: String,
    /// `uname -r` of the kernel that was measured.
    pub kernel: String,
    pub mvlab_version: String,
    /// When the run started, RFC 3339 in UTC.
    pub started: String,
    pub duration_s: f64,
    /// Every expectation held.
    pub passed: bool,
    pub tests: Vec<TestResult>,
    /// Each matrix test's conclusions in words and its who-hears-whom (`conclusions`).
    #[serde(default)]
    pub summary: Vec<MatrixSummary>,
    pub expectations: Vec<ExpectationResult>,
    /// The emulated switch's counters, table and event log over the run (none with a bridge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<crate::switch::SwitchReport>,
    /// Every node's lab address beside the user's own, where the scenario maps one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<crate::scenario::MappedAddress>,
    /// With `--engine docker`: the engine, what it handed out, and where that differs from
    /// what the scenario predicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerRun>,
}

/// What a Docker Engine made for a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DockerRun {
    #[serde(flatten)]
    pub made: DockerMade,
    /// The Docker version whose rules the scenario follows (`[docker] version`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// Each address or MAC Docker handed out that the scenario predicted otherwise, in words.
    pub differences: Vec<String>,
}

impl DockerRun {
    /// What `made` differs in from the scenario's prediction (`mvlab check`'s table).
    fn of(scenario: &Scenario, made: &DockerMade) -> DockerRun {
        let mut differences = Vec::new();
        for c in &made.containers {
            let Some(e) = scenario.endpoint(&c.endpoint) else {
                continue;
            };
            let mut differ = |what: &str, predicted: String, got: String| {
                if predicted != got {
                    differences.push(format!(
                        "{}: Docker gave {what} {got}, the scenario predicts {predicted}",
                        c.endpoint
                    ));
                }
            };
            let shown = |a: Option<String>| a.unwrap_or_else(|| "none".into());
            differ("MAC", e.mac.to_string(), c.mac.to_string());
            differ(
                "IPv4",
                shown(e.ipv4.map(|a| a.to_string())),
                shown(c.ipv4.map(|a| a.to_string())),
            );
            differ(
                "IPv6",
                shown(e.ipv6.map(|a| a.to_string())),
                shown(c.ipv6.map(|a| a.to_string())),
            );
        }
        DockerRun {
            made: made.clone(),
            rules: scenario.rules.docker().map(|v| v.to_string()),
            differences,
        }
    }
}

/// `scenario` with each endpoint as the Docker Engine made it (interface, MAC, addresses), so
/// measurements and the model work with what is really there.
fn as_made(scenario: &Scenario, made: &DockerMade) -> Scenario {
    let mut s = scenario.clone();
    for c in &made.containers {
        if let Some(e) = s.endpoints.iter_mut().find(|e| e.name == c.endpoint) {
            e.interface = c.interface.clone();
            e.mac = c.mac;
            e.ipv4 = c.ipv4;
            e.ipv6 = c.ipv6;
        }
    }
    s
}

/// How to run a scenario.
pub struct RunOptions<'a> {
    pub lab: LabOptions,
    /// Keep the lab afterwards (`mvlab lab down NAME` removes it).
    pub keep: bool,
    /// Judge only the scenario's own claims, not the model's prediction of every cell.
    pub no_model: bool,
    /// Write one pcapng per receiving station and test here.
    pub pcap_dir: Option<PathBuf>,
    /// The most frames per second any one station sends (`--max-rate`); `None`: no cap.
    pub max_pps: Option<f64>,
    /// Requested by a signal handler: every send, capture and wait of the run ends on it, the
    /// lab is removed, and the run has no result.
    pub stop: &'a Stop,
    /// Reports progress (a short phrase) to whoever shows it.
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// Why a run produced no result, or could not clean up after one: a message and the exit
/// class it belongs to.
#[derive(Debug, Clone)]
pub struct RunError {
    pub message: String,
    pub outcome: Outcome,
}

impl RunError {
    /// What a run a signal arrived during has instead of a result.
    pub fn interrupted() -> RunError {
        RunError {
            message: format!("error: {}", measure::MeasureError::Interrupted),
            outcome: Outcome::RuntimeFailure,
        }
    }
}

/// `measured`, unless `stop` was requested by now: a signal that arrives before a run's result
/// is written makes the run interrupted (exit 4), however far it got.
pub fn unless_stopped(
    measured: Result<RunResult, RunError>,
    stop: &Stop,
) -> Result<RunResult, RunError> {
    match measured {
        Ok(_) if stop.requested() => Err(RunError::interrupted()),
        other => other,
    }
}

impl From<LabError> for RunError {
    fn from(e: LabError) -> RunError {
        RunError {
            message: e.report().trim_end().to_string(),
            outcome: e.outcome(),
        }
    }
}

/// What became of the lab after the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It could not be built: nothing is left.
    NotBuilt,
    Removed,
    /// Kept, under this name.
    Kept(String),
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    /// The result, or why the lab could not be built or measured.
    pub measured: Result<RunResult, RunError>,
    /// Removing or keeping the lab afterwards.
    pub ended: Result<Ended, RunError>,
}

impl Run {
    /// The exit class of the whole run: a failure to build, measure or clean up first, then
    /// the verdict.
    pub fn outcome(&self) -> Outcome {
        match (&self.measured, &self.ended) {
            (Err(e), _) => e.outcome,
            (Ok(_), Err(e)) => e.outcome,
            (Ok(r), Ok(_)) if r.passed => Outcome::Passed,
            (Ok(_), Ok(_)) => Outcome::ExpectationFailed,
        }
    }
}

/// Builds `scenario`'s lab, runs its tests, judges them and removes (or keeps) the lab.
pub fn run(scenario: &Scenario, options: RunOptions<'_>) -> Run {
    let started = SystemTime::now();
    let clock = Instant::now();
    (options.progress)(&format!("building lab for {}", scenario.name));
    let mut lab = match Lab::up(scenario, options.lab) {
        Ok(lab) => lab,
        Err(e) => {
            return Run {
                measured: Err(e.into()),
                ended: Ok(Ended::NotBuilt),
            };
        }
    };
    let docker = lab.docker().map(|made| DockerRun::of(scenario, made));
    let made = lab.docker().map(|made| as_made(scenario, made));
    let scenario = made.as_ref().unwrap_or(scenario);
    let bench = Bench {
        lab: &lab,
        scenario,
        stop: options.stop,
        max_pps: options.max_pps,
        pcap_dir: options.pcap_dir,
        progress: options.progress,
    };
    let measured = measure::run_tests(&bench)
        .map_err(|e| (e.to_string(), e.outcome()))
        .and_then(|tests| {
            let switch = lab
                .switch_report()
                .map_err(|e| (e.to_string(), e.outcome()))?;
            Ok((tests, switch))
        })
        .map_err(|(message, outcome)| RunError {
            message: format!("error: {message}"),
            outcome,
        })
        .map(|(mut tests, switch)| {
            let expectations = judge(scenario, &mut tests, options.no_model);
            let summary = tests
                .iter()
                .filter_map(|t| match t {
                    TestResult::Matrix(m) => Some(conclusions::summarise(scenario, m)),
                    _ => None,
                })
                .collect();
            RunResult {
                scenario: scenario.name.clone(),
                description: scenario.description.clone(),
                lab: lab.name().to_string(),
                kernel: crate::lab::probe::release(),
                mvlab_version: env!("CARGO_PKG_VERSION").to_string(),
                started: measure::rfc3339(started),
                duration_s: clock.elapsed().as_secs_f64(),
                passed: expectations.iter().all(|e| e.passed),
                tests,
                summary,
                expectations,
                switch,
                addresses: scenario.mapped_addresses(),
                docker,
            }
        });
    let ended = if options.keep {
        lab.persist()
            .map(|()| Ended::Kept(lab.name().to_string()))
            .map_err(RunError::from)
    } else {
        lab.down().map(|_| Ended::Removed).map_err(RunError::from)
    };
    Run {
        measured: unless_stopped(measured, options.stop),
        ended,
    }
}

/// The scenario's expectations and, unless turned off, the model's prediction of every matrix.
fn judge(scenario: &Scenario, tests: &mut [TestResult], no_model: bool) -> Vec<ExpectationResult> {
    let mut expectations = verdict::judge(scenario, tests);
    if no_model {
        return expectations;
    }
    for (spec, result) in scenario.tests.iter().zip(tests.iter_mut()) {
        if let (TestKind::Matrix(test), TestResult::Matrix(measured)) = (&spec.kind, result) {
            match model::predict_matrix(scenario, &spec.name, test) {
                Ok(predicted) => {
                    expectations.extend(verdict::conform(scenario, measured, &predicted))
                }
                Err(e) => expectations.push(ExpectationResult {
                    test: spec.name.clone(),
                    text: "the kernel delivers every cell as the packet-path model predicts".into(),
                    expected: "a prediction".into(),
                    measured: "none".into(),
                    passed: false,
                    detail: format!("the model cannot predict this matrix: {e}"),
                }),
            }
        }
    }
    expectations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed() -> RunResult {
        RunResult {
            scenario: "s".into(),
            description: String::new(),
            lab: "s".into(),
            kernel: "6.18".into(),
            mvlab_version: "0".into(),
            started: String::new(),
            duration_s: 1.0,
            passed: true,
            tests: Vec::new(),
            summary: Vec::new(),
            expectations: Vec::new(),
            switch: None,
            addresses: Vec::new(),
            docker: None,
        }
    }

    #[test]
    fn a_signal_before_the_result_is_written_makes_a_passed_run_interrupted() {
        let stop = Stop::new();
        let whole = Run {
            measured: unless_stopped(Ok(passed()), &stop),
            ended: Ok(Ended::Removed),
        };
        assert_eq!(whole.outcome(), Outcome::Passed);
        stop.request();
        let late = Run {
            measured: unless_stopped(Ok(passed()), &stop),
            ended: Ok(Ended::Removed),
        };
        assert_eq!(late.outcome(), Outcome::RuntimeFailure);
        let message = late.measured.unwrap_err().message;
        assert_eq!(message, "error: interrupted by a signal");
        // A run that had already failed keeps its own reason.
        let bad = RunError {
            message: "error: no such station".into(),
            outcome: Outcome::BadInput,
        };
        let failed = unless_stopped(Err(bad), &stop).unwrap_err();
        assert_eq!(failed.outcome, Outcome::BadInput);
    }
}
