//! Latency statistics every measurement that times frames shares: the quantiles of one flow's
//! distribution and its log-spaced histogram (`LatencyStats`), from what the capture measured.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::engine::account::FlowReceived;

/// The histogram's first bucket holds everything up to this (ns)...
const FIRST_BUCKET_NS: u64 = 100;
/// ... and each later bucket is this much wider than the one before.
const BUCKET_GROWTH: f64 = 1.1;

/// Quantiles of a latency distribution, in nanoseconds, with its histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub samples: u64,
    pub min_ns: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    /// `(upper bound ns, count)` buckets, ascending, empty buckets left out.
    pub histogram: Vec<(u64, u64)>,
}

impl LatencyStats {
    /// The latency of one received flow, as the capture measured it.
    pub fn of_flow(flow: &FlowReceived) -> LatencyStats {
        let l = &flow.latency;
        LatencyStats {
            samples: l.samples,
            min_ns: l.min_ns,
            mean_ns: l.mean_ns,
            p50_ns: l.p50_ns,
            p90_ns: l.p90_ns,
            p99_ns: l.p99_ns,
            p999_ns: l.p999_ns,
            max_ns: l.max_ns,
            histogram: buckets(flow.latency_histogram()),
        }
    }
}

/// Log-spaced buckets of a histogram: the first up to `FIRST_BUCKET_NS`, each next one
/// `BUCKET_GROWTH` times wider; empty ones left out.
fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_log(FIRST_BUCKET_NS, BUCKET_GROWTH)
        .filter(|v| v.count_since_last_iteration() > 0)
        .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_every_sample_in_ascending_log_spaced_bounds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
        let samples = [50, 3_000, 3_100, 3_200, 9_000, 9_500, 40_000, 2_000_000];
        for s in samples {
            h.record(s).unwrap();
        }
        let b = buckets(&h);
        assert_eq!(b.iter().map(|&(_, n)| n).sum::<u64>(), samples.len() as u64);
        assert!(b.windows(2).all(|w| w[0].0 < w[1].0), "{b:?}");
        assert!(b[0].0 < FIRST_BUCKET_NS && b[0].1 == 1);
        let bucket_of = |s: u64| b.iter().position(|&(bound, _)| s <= bound).unwrap();
        for s in samples.into_iter().filter(|&s| s >= FIRST_BUCKET_NS) {
            let bound = b[bucket_of(s)].0;
            assert!(
                bound as f64 <= s as f64 * BUCKET_GROWTH * 1.02,
                "{s} in {bound}"
            );
        }
        // Samples far apart never share a bucket; close ones may.
        let far = [50, 3_000, 9_000, 40_000, 2_000_000].map(bucket_of);
        assert!(far.windows(2).all(|w| w[0] < w[1]), "{b:?}");
        assert_eq!(bucket_of(9_000), bucket_of(9_500), "{b:?}");
        assert!(buckets(&Histogram::<u64>::new(2).unwrap()).is_empty());
    }
}
