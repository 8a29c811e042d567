//! Measurements: each kind of test turns a scenario's test entry into sends and captures on the
//! frame engine, over a live lab, and returns a typed result. One file per kind; this file holds
//! the run-level result every renderer reads. Measurements never decide pass/fail (that is the
//! verdict's job) and never format output (the report's).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::diag::Outcome;
use crate::engine::{Attachment, EngineError};
use crate::lab::{Lab, LabError};
use crate::scenario::{Scenario, Station};

pub mod latency;
pub mod matrix;
pub mod rfc2544;
pub mod throughput;

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
    pub expectations: Vec<ExpectationResult>,
    /// The emulated switch's counters, table and event log over the run (none with a bridge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<crate::switch::SwitchReport>,
}

/// One test's measured result, tagged by kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TestResult {
    Matrix(matrix::MatrixResult),
    Latency(latency::LatencyResult),
    Throughput(throughput::ThroughputResult),
    Rfc2544(rfc2544::Rfc2544Result),
}

impl TestResult {
    pub fn name(&self) -> &str {
        match self {
            TestResult::Matrix(r) => &r.name,
            TestResult::Latency(r) => &r.name,
            TestResult::Throughput(r) => &r.name,
            TestResult::Rfc2544(r) => &r.name,
        }
    }
}

/// One expectation, checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// The test it belongs to.
    pub test: String,
    /// The claim as written (or, for a model/kernel comparison, the cell it is about).
    pub text: String,
    pub expected: String,
    pub measured: String,
    pub passed: bool,
    /// Why it failed, in a sentence or a trace; empty when it passed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What every measurement works with: the live lab, the scenario it was built from, the flag a
/// signal handler sets to stop early, and where to write captures.
pub struct Bench<'a> {
    pub lab: &'a Lab,
    pub scenario: &'a Scenario,
    pub stop: &'a AtomicBool,
    /// `--pcap DIR`: captures write one pcapng per receiving station and test there.
    pub pcap_dir: Option<PathBuf>,
    /// Reports progress (a short phrase) to whoever shows it.
    pub progress: &'a (dyn Fn(&str) + Sync),
}

impl Bench<'_> {
    /// The station named `name`.
    pub fn station(&self, name: &str) -> Result<Station, MeasureError> {
        self.scenario
            .stations()
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| MeasureError::NoStation(name.to_string()))
    }

    /// The engine's handle on a station's interface, inside its namespace.
    pub fn attach(&self, station: &Station) -> Result<Attachment, MeasureError> {
        let node = self
            .lab
            .node(&station.node)
            .ok_or_else(|| MeasureError::NoStation(station.name.clone()))?;
        Ok(Attachment::open(&node.inventory.netns, &station.interface)?)
    }

    /// `Err(Interrupted)` once a signal asked the run to stop.
    pub fn check_stop(&self) -> Result<(), MeasureError> {
        if self.stop.load(Ordering::SeqCst) {
            Err(MeasureError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// The pcapng file for `station`'s capture in `test`, when `--pcap` asked for them.
    pub fn pcap_path(&self, test: &str, station: &str) -> Option<PathBuf> {
        self.pcap_dir
            .as_ref()
            .map(|d| d.join(format!("{test}-{}.pcapng", station.replace(':', "_"))))
    }
}

/// Why a measurement could not complete.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("the lab has no station `{0}`")]
    NoStation(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("interrupted by a signal")]
    Interrupted,
}

impl MeasureError {
    pub fn outcome(&self) -> Outcome {
        match self {
            MeasureError::NoStation(_) => Outcome::BadInput,
            MeasureError::Engine(e) => e.outcome(),
            MeasureError::Lab(e) => e.outcome(),
            MeasureError::Interrupted => Outcome::RuntimeFailure,
        }
    }
}
