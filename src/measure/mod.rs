//! Measurements: each kind of test turns a scenario's test entry into sends and captures on the
//! frame engine, over a live lab, and returns a typed result. One file per kind; this file holds
//! the union of their results (`TestResult`) and the bench they measure on. Measurements never
//! decide pass/fail (that is the verdict's job) and never format output (the report's).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diag::Outcome;
use crate::engine::{Attachment, EngineError};
use crate::lab::{Lab, LabError};
use crate::scenario::{Scenario, Station, TestKind};
use crate::stop::Stop;

pub mod address_caching;
pub mod address_learning_rate;
pub mod endpoint_ramp;
pub mod ip_exhaustion;
pub mod kstat;
pub mod latency;
pub mod mac_sweep;
pub mod matrix;
pub mod path;
pub mod rfc2544;
pub mod stats;
pub mod throughput;

/// One test's measured result, tagged by kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TestResult {
    Matrix(crate::delivery::MatrixResult),
    Latency(latency::LatencyResult),
    Throughput(throughput::ThroughputResult),
    Rfc2544(rfc2544::Rfc2544Result),
    #[serde(rename = "address_caching")]
    AddressCaching(address_caching::AddressCachingResult),
    #[serde(rename = "address_learning_rate")]
    AddressLearningRate(address_learning_rate::AddressLearningRateResult),
    #[serde(rename = "endpoint_ramp")]
    EndpointRamp(endpoint_ramp::EndpointRampResult),
    #[serde(rename = "mac_sweep")]
    MacSweep(mac_sweep::MacSweepResult),
    #[serde(rename = "ip_exhaustion")]
    IpExhaustion(ip_exhaustion::IpExhaustionResult),
}

impl TestResult {
    pub fn name(&self) -> &str {
        match self {
            TestResult::Matrix(r) => &r.name,
            TestResult::Latency(r) => &r.name,
            TestResult::Throughput(r) => &r.name,
            TestResult::Rfc2544(r) => &r.name,
            TestResult::AddressCaching(r) => &r.name,
            TestResult::AddressLearningRate(r) => &r.name,
            TestResult::EndpointRamp(r) => &r.name,
            TestResult::MacSweep(r) => &r.name,
            TestResult::IpExhaustion(r) => &r.name,
        }
    }
}

/// What every measurement works with: the live lab, the scenario it was built from, the stop a
/// signal requests (every send, capture and wait of a measurement ends on it), and where to
/// write captures.
pub struct Bench<'a> {
    pub lab: &'a Lab,
    pub scenario: &'a Scenario,
    pub stop: &'a Stop,
    /// `--max-rate`: the most frames per second any one station may send (an external switch
    /// under test is held to it); `None`: as fast as each test asks.
    pub max_pps: Option<f64>,
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

    /// The engine's handle on a station's interface, inside its namespace; a peer of an
    /// external switch is its tester interface in mvlab's own namespace, sending as the peer.
    pub fn attach(&self, station: &Station) -> Result<Attachment, MeasureError> {
        let attachment = match self.lab.node(&station.node) {
            Some(node) => Attachment::open(&node.inventory.netns, &station.interface)?,
            None if self
                .scenario
                .peer(&station.name)
                .is_some_and(|p| p.existing.is_some()) =>
            {
                Attachment::here(&station.interface, station.mac)?
            }
            None => return Err(MeasureError::NoStation(station.name.clone())),
        };
        Ok(attachment.capped(self.max_pps))
    }

    /// `Err(Interrupted)` once a signal asked the run to stop.
    pub fn check_stop(&self) -> Result<(), MeasureError> {
        if self.stop.requested() {
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
    #[error(
        "{test}: the machine lost frames of its own accord in each of {attempts} attempts, the last time because {why}; it is too slow or too loaded for this test: name fewer `senders`/`receivers`, or run it on a less loaded machine"
    )]
    Overloaded {
        test: String,
        why: String,
        attempts: u32,
    },
}

impl MeasureError {
    pub fn outcome(&self) -> Outcome {
        match self {
            MeasureError::NoStation(_) => Outcome::BadInput,
            MeasureError::Engine(e) => e.outcome(),
            MeasureError::Lab(e) => e.outcome(),
            MeasureError::Interrupted | MeasureError::Overloaded { .. } => Outcome::RuntimeFailure,
        }
    }
}

/// Runs every test of the scenario on the bench's lab, in file order.
pub fn run_tests(bench: &Bench) -> Result<Vec<TestResult>, MeasureError> {
    let mut results = Vec::with_capacity(bench.scenario.tests.len());
    for test in &bench.scenario.tests {
        bench.check_stop()?;
        (bench.progress)(&format!("{}: starting", test.name));
        results.push(match &test.kind {
            TestKind::Matrix(t) => TestResult::Matrix(matrix::measure(bench, &test.name, t)?),
            TestKind::Latency(t) => TestResult::Latency(latency::measure(bench, &test.name, t)?),
            TestKind::Throughput(t) => {
                TestResult::Throughput(throughput::measure(bench, &test.name, t)?)
            }
            TestKind::Rfc2544(t) => TestResult::Rfc2544(rfc2544::measure(bench, &test.name, t)?),
            TestKind::AddressCaching(t) => {
                TestResult::AddressCaching(address_caching::measure(bench, &test.name, t)?)
            }
            TestKind::AddressLearningRate(t) => TestResult::AddressLearningRate(
                address_learning_rate::measure(bench, &test.name, t)?,
            ),
            TestKind::EndpointRamp(t) => {
                TestResult::EndpointRamp(endpoint_ramp::measure(bench, &test.name, t)?)
            }
            TestKind::MacSweep(t) => {
                TestResult::MacSweep(mac_sweep::measure(bench, &test.name, t)?)
            }
            TestKind::IpExhaustion(t) => {
                TestResult::IpExhaustion(ip_exhaustion::measure(bench, &test.name, t)?)
            }
        });
    }
    Ok(results)
}

/// A moment as RFC 3339 in UTC, e.g. `2026-11-22T14:05:09Z`.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            super::rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_359_909)),
            "2026-11-22T15:05:09Z"
        );
    }
}
