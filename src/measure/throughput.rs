//! Throughput tests: for each frame size, one trial offering `rate` (or as much as the sender
//! can) for `duration`, captured at the receiver: offered load against received rate, loss,
//! reordering and duplicates, per flow and per source MAC, with the capture's own ring drops
//! kept apart from the path's loss. Owns the throughput result types and how a trial's counts
//! become them. It never judges a result (the verdict does) nor formats one (the reports do).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::path::{Encapsulation, Length, Missing, Path, TrialOutcome, TrialSpec};
use super::{Bench, MeasureError};
use crate::scenario::ThroughputTest;
use crate::units::L1_OVERHEAD;

/// What one flow (one source MAC) delivered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowCounts {
    pub flow: u32,
    pub source_mac: String,
    pub sent: u64,
    pub received: u64,
    pub reordered: u64,
    pub duplicates: u64,
}

/// What a received rate was computed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RxRateBasis {
    /// The receiver's first to last arrival (kernel timestamps): frames after the first one
    /// divided by that span. Used whenever at least two frames arrived over a span.
    #[default]
    Arrivals,
    /// The trial's length: fewer than two frames arrived, so there is no span to divide by.
    Trial,
}

/// One frame size's trial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThroughputPoint {
    /// Bytes on the wire including the FCS.
    pub frame_size: u32,
    /// What carried the payload.
    pub encapsulation: Encapsulation,
    /// The rate asked for; `None` with `max` (as fast as the sender can).
    pub requested_pps: Option<f64>,
    /// Frames sent divided by the trial's length: the load really offered.
    pub offered_pps: f64,
    pub sent: u64,
    /// Distinct frames that arrived (duplicates are counted in `duplicates`).
    pub received: u64,
    pub rx_pps: f64,
    pub rx_rate_basis: RxRateBasis,
    /// Received bits per second counting each frame's bytes with FCS (L2).
    pub rx_bps_l2: f64,
    /// Received bits per second counting preamble and inter-frame gap too (L1).
    pub rx_bps_l1: f64,
    pub reordered: u64,
    pub duplicates: u64,
    /// Frames the receiving socket's ring dropped (PACKET_STATISTICS): lost by the measurement,
    /// not by the path.
    pub capture_drops: u64,
    pub flows: Vec<FlowCounts>,
}

impl ThroughputPoint {
    /// Frames the path lost, as a percentage of those sent. Frames the capture's ring dropped
    /// are not the path's: they are left out (see `path::Missing`), so while `capture_drops` is
    /// above zero this is a lower bound.
    pub fn loss_percent(&self) -> f64 {
        Missing::of(self.sent, self.received, self.capture_drops).path_percent(self.sent)
    }

    pub(super) fn of(
        frame_size: u32,
        requested_pps: Option<f64>,
        duration: Duration,
        o: &TrialOutcome,
    ) -> ThroughputPoint {
        let (rx_pps, rx_rate_basis) = received_rate(o.received, o.arrivals, duration);
        let bits = |extra: u32| rx_pps * 8.0 * f64::from(frame_size + extra);
        ThroughputPoint {
            frame_size,
            encapsulation: o.encapsulation,
            requested_pps,
            offered_pps: o.sent as f64 / duration.as_secs_f64(),
            sent: o.sent,
            received: o.received,
            rx_pps,
            rx_rate_basis,
            rx_bps_l2: bits(0),
            rx_bps_l1: bits(L1_OVERHEAD),
            reordered: o.reordered,
            duplicates: o.duplicates,
            capture_drops: o.capture_drops,
            flows: vec![FlowCounts {
                flow: o.flow,
                source_mac: o.source.to_string(),
                sent: o.sent,
                received: o.received,
                reordered: o.reordered,
                duplicates: o.duplicates,
            }],
        }
    }
}

/// Frames a second that arrived: over the span from the first to the last arrival when there
/// is one, else over the trial's length.
fn received_rate(
    received: u64,
    arrivals: Option<(u64, u64)>,
    trial: Duration,
) -> (f64, RxRateBasis) {
    match arrivals {
        Some((first, last)) if received >= 2 && last > first => (
            (received - 1) as f64 * 1e9 / (last - first) as f64,
            RxRateBasis::Arrivals,
        ),
        _ => (received as f64 / trial.as_secs_f64(), RxRateBasis::Trial),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputResult {
    pub name: String,
    pub from: String,
    pub to: String,
    pub duration_s: f64,
    pub points: Vec<ThroughputPoint>,
}

/// Runs throughput test `name`: one trial per frame size, in the order given. With `--pcap`,
/// each size's capture goes to its own file (`NAME@SIZE-STATION.pcapng`).
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &ThroughputTest,
) -> Result<ThroughputResult, MeasureError> {
    let path = Path::open(bench, &test.from, &test.to)?;
    let mut points = Vec::with_capacity(test.frame_sizes.len());
    for &size in &test.frame_sizes {
        (bench.progress)(&format!(
            "{name}: {size} B {} -> {} at {}",
            test.from, test.to, test.rate
        ));
        let pps = test.rate.pps(size);
        let outcome = path.trial(&TrialSpec {
            frame_size: size,
            pps,
            length: Length::For(test.duration),
            round_trip: false,
            pcap: bench.pcap_path(&format!("{name}@{size}"), &test.to),
        })?;
        points.push(ThroughputPoint::of(size, pps, test.duration, &outcome));
    }
    Ok(ThroughputResult {
        name: name.to_string(),
        from: test.from.clone(),
        to: test.to.clone(),
        duration_s: test.duration.as_secs_f64(),
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stats::LatencyStats;

    fn outcome(sent: u64, received: u64, arrivals: Option<(u64, u64)>) -> TrialOutcome {
        TrialOutcome {
            encapsulation: Encapsulation::Ipv4Udp,
            flow: 7,
            sent,
            received,
            duplicates: 1,
            reordered: 2,
            capture_drops: 0,
            arrivals,
            source: "02:00:00:00:00:01".parse().unwrap(),
            latency: LatencyStats::default(),
        }
    }

    #[test]
    fn received_rate_spans_first_to_last_arrival() {
        // 1001 frames 1 ms apart: 1000 intervals in 1 s.
        let o = outcome(1001, 1001, Some((5_000_000_000, 6_000_000_000)));
        let p = ThroughputPoint::of(128, Some(1000.0), Duration::from_secs(2), &o);
        assert_eq!(p.rx_rate_basis, RxRateBasis::Arrivals);
        assert_eq!(p.rx_pps, 1000.0);
        assert_eq!(p.rx_bps_l2, 1000.0 * 128.0 * 8.0);
        assert_eq!(p.rx_bps_l1, 1000.0 * 148.0 * 8.0);
        assert_eq!(p.offered_pps, 500.5);
        assert_eq!(p.loss_percent(), 0.0);
        assert_eq!(p.flows.len(), 1);
        assert_eq!(p.flows[0].source_mac, "02:00:00:00:00:01");
        assert_eq!((p.flows[0].duplicates, p.flows[0].reordered), (1, 2));
    }

    #[test]
    fn without_a_span_the_trial_length_is_the_basis() {
        let one = ThroughputPoint::of(
            64,
            None,
            Duration::from_millis(500),
            &outcome(10, 1, Some((7, 7))),
        );
        assert_eq!((one.rx_pps, one.rx_rate_basis), (2.0, RxRateBasis::Trial));
        let none = ThroughputPoint::of(64, None, Duration::from_secs(1), &outcome(10, 0, None));
        assert_eq!((none.rx_pps, none.rx_rate_basis), (0.0, RxRateBasis::Trial));
        assert_eq!(none.loss_percent(), 100.0);
    }

    #[test]
    fn a_capture_that_dropped_frames_is_never_the_paths_loss() {
        let mut o = outcome(1000, 900, Some((0, 1_000_000)));
        o.capture_drops = 100;
        let p = ThroughputPoint::of(64, None, Duration::from_secs(1), &o);
        assert_eq!(p.capture_drops, 100);
        assert_eq!(p.loss_percent(), 0.0);
        o.capture_drops = 60;
        let p = ThroughputPoint::of(64, None, Duration::from_secs(1), &o);
        assert_eq!(p.loss_percent(), 4.0);
    }
}
