//! Measurements: each kind of test turns a scenario's test entry into sends and captures on the
//! frame engine, over a live lab, and returns a typed result. One file per kind; this file holds
//! the run-level result every renderer reads. Measurements never decide pass/fail (that is the
//! verdict's job) and never format output (the report's).

use serde::{Deserialize, Serialize};

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
