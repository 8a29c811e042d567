//! Latency tests: one-way (sender and receiver share the clock: the receiver's kernel timestamp
//! minus the send stamp in the payload) and round-trip (an engine reflector at the receiver, the
//! capture back at the sender) between two stations at a given rate and frame size, as a
//! histogram and its quantiles. Owns the latency result types and how a flow's histogram becomes
//! them. It never judges a latency (the verdict does) nor formats one (the reports do).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::path::{Encapsulation, Length, Missing, Path, TrialSpec};
use super::{Bench, MeasureError};
use crate::engine::account::FlowReceived;
use crate::scenario::{LatencyMethod, LatencyTest};

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
    /// The value of a latency metric by its claim name (`p99`, `mean`, ...), in nanoseconds.
    pub fn metric_ns(&self, metric: &str) -> Option<f64> {
        Some(match metric {
            "min" => self.min_ns as f64,
            "mean" => self.mean_ns,
            "p50" => self.p50_ns as f64,
            "p90" => self.p90_ns as f64,
            "p99" => self.p99_ns as f64,
            "p99.9" => self.p999_ns as f64,
            "max" => self.max_ns as f64,
            _ => return None,
        })
    }

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyResult {
    pub name: String,
    pub from: String,
    pub to: String,
    pub method: LatencyMethod,
    /// Bytes on the wire including the FCS.
    pub frame_size: u32,
    /// What carried the payload.
    pub encapsulation: Encapsulation,
    /// The rate asked for, or with `max` the rate the sender reached (frames sent / duration).
    pub rate_pps: f64,
    pub sent: u64,
    /// Frames that arrived (one-way) or came back (round trip), each counted once.
    pub received: u64,
    /// Frames the capturing socket's ring dropped: they arrived, the capture missed them; never
    /// counted as the path's loss.
    pub capture_drops: u64,
    pub stats: LatencyStats,
}

impl LatencyResult {
    /// Frames the path lost, as a percentage of those sent (see `path::Missing`).
    pub fn loss_percent(&self) -> f64 {
        Missing::of(self.sent, self.received, self.capture_drops).path_percent(self.sent)
    }
}

/// Lost frames as a percentage of those sent (0 when nothing was sent).
pub fn loss_percent(sent: u64, received: u64) -> f64 {
    if sent == 0 {
        0.0
    } else {
        100.0 * sent.saturating_sub(received) as f64 / sent as f64
    }
}

/// Runs latency test `name`: one trial of `test.duration` at `test.rate`. A one-way capture
/// (and its pcap) is at `to`; a round trip's is back at `from`.
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &LatencyTest,
) -> Result<LatencyResult, MeasureError> {
    let path = Path::open(bench, &test.from, &test.to)?;
    let (round_trip, listener, method) = match test.method {
        LatencyMethod::OneWay => (false, &test.to, "one-way"),
        LatencyMethod::RoundTrip => (true, &test.from, "round-trip"),
    };
    (bench.progress)(&format!(
        "{name}: {method} latency {} -> {}, {} B at {}",
        test.from, test.to, test.frame_size, test.rate
    ));
    let pps = test.rate.pps(test.frame_size);
    let outcome = path.trial(&TrialSpec {
        frame_size: test.frame_size,
        pps,
        length: Length::For(test.duration),
        round_trip,
        pcap: bench.pcap_path(name, listener),
    })?;
    Ok(LatencyResult {
        name: name.to_string(),
        from: test.from.clone(),
        to: test.to.clone(),
        method: test.method,
        frame_size: test.frame_size,
        encapsulation: outcome.encapsulation,
        rate_pps: pps.unwrap_or(outcome.sent as f64 / test.duration.as_secs_f64()),
        sent: outcome.sent,
        received: outcome.received,
        capture_drops: outcome.capture_drops,
        stats: outcome.latency,
    })
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

    #[test]
    fn loss_leaves_out_what_the_capture_dropped() {
        let result = LatencyResult {
            name: "l".into(),
            from: "e1".into(),
            to: "e2".into(),
            method: LatencyMethod::OneWay,
            frame_size: 64,
            encapsulation: Encapsulation::Raw,
            rate_pps: 1000.0,
            sent: 1000,
            received: 950,
            capture_drops: 30,
            stats: LatencyStats::default(),
        };
        assert_eq!(result.loss_percent(), 2.0);
        assert_eq!(loss_percent(1000, 950), 5.0);
    }
}
