//! RFC 2889 section 5.8, address learning rate: the highest rate at which the lab's switch still
//! learns every one of N addresses. Each trial is an address-caching trial (`AddressBench`)
//! with the learning frames sent at a given rate and the test frames at a gentle fixed pace, so
//! a flooded test frame can only mean an address that was not learned. The first trial sends
//! the learning frames as fast as the sender can (or at `max_rate`); when it fails, the rate is
//! bisected between 0 and that rate until the bounds are within `resolution` percent of it
//! (RFC 2544's throughput search, `rfc2544::search_throughput`). The learning rate is the
//! highest offered rate of a passing trial. It never judges a result nor formats one.

use serde::{Deserialize, Serialize};

use super::address_caching::{AddressBench, AddressTrial, pps};
use super::rfc2544::{RateTrial, search_throughput};
use super::{Bench, MeasureError};
use crate::scenario::AddressLearningRateTest;

/// The test frames' pace: far below what any switch forwards, so only learning is measured.
const TEST_PPS: f64 = 10_000.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressLearningRateResult {
    pub name: String,
    pub learning: String,
    pub test: String,
    pub monitor: String,
    pub addresses: u32,
    /// The rate the first trial offered: `max_rate`, or what the sender managed unthrottled.
    pub max_offered_pps: f64,
    /// The highest offered learning rate at which every address was learned; 0 when none.
    pub learning_rate_pps: f64,
    /// The first trial passed: the switch learns at least as fast as the sender sends.
    pub at_least: bool,
    pub resolution_percent: f64,
    /// Every trial, in the order run; `learning_pps` is each one's offered rate.
    pub trials: Vec<AddressTrial>,
}

impl RateTrial for AddressTrial {
    fn offered_pps(&self) -> f64 {
        self.learning_pps
    }

    fn passed(&self) -> bool {
        self.passed
    }
}

/// Runs address-learning-rate test `name`.
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &AddressLearningRateTest,
) -> Result<AddressLearningRateResult, MeasureError> {
    let mut ports = AddressBench::open(bench, &test.ports)?;
    let n = test.addresses;
    (bench.progress)(&format!("{name}: {n} addresses at {}", test.max_rate));
    let first = ports.trial(n, pps(test.max_rate), Some(TEST_PPS))?;
    let max = first.learning_pps;
    let at_least = first.passed;
    let (learning_rate_pps, trials) = search_throughput(first, max, test.resolution, |rate| {
        (bench.progress)(&format!("{name}: {n} addresses at {rate:.0} pps"));
        ports.trial(n, Some(rate), Some(TEST_PPS))
    })?;
    Ok(AddressLearningRateResult {
        name: name.to_string(),
        learning: test.ports.learning.clone(),
        test: test.ports.test.clone(),
        monitor: test.ports.monitor.clone(),
        addresses: n,
        max_offered_pps: max,
        learning_rate_pps,
        at_least,
        resolution_percent: test.resolution,
        trials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trial at `rate` on a switch that learns up to `limit` addresses a second; the offered
    /// rate comes out 2% low, as a real sender's does.
    fn at(rate: f64, limit: f64) -> AddressTrial {
        AddressTrial {
            addresses: 100,
            learning_pps: rate * 0.98,
            passed: rate * 0.98 <= limit,
            ..AddressTrial::default()
        }
    }

    #[test]
    fn the_search_keeps_the_offered_learning_rate_of_the_best_trial() {
        let (rate, trials) = search_throughput(at(100_000.0, 30_000.0), 98_000.0, 5.0, |r| {
            Ok::<_, ()>(at(r, 30_000.0))
        })
        .unwrap();
        assert!(
            rate <= 30_000.0 && rate > 30_000.0 - 98_000.0 * 0.05,
            "{rate}"
        );
        assert!(trials.len() <= 7, "{}", trials.len());
        assert!(!trials[0].passed);
        assert_eq!(
            trials
                .iter()
                .filter(|t| t.passed)
                .map(|t| t.learning_pps)
                .fold(0.0, f64::max),
            rate
        );
    }
}
