//! Latency tests: one-way (sender and receiver share the clock: the receiver's kernel timestamp
//! minus the send stamp in the payload) and round-trip (an engine reflector at the receiver, the
//! capture back at the sender) between two stations at a given rate and frame size, as a
//! histogram and its quantiles (`stats`). Owns the latency test's result. It never judges a
//! latency (the verdict does) nor formats one (the reports do).

use serde::{Deserialize, Serialize};

use super::path::{Encapsulation, Length, Missing, Path, TrialSpec};
use super::stats::LatencyStats;
use super::{Bench, MeasureError};
use crate::scenario::{LatencyMethod, LatencyTest};

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
