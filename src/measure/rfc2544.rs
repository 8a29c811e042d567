//! RFC 2544 benchmarks between two stations (section 26): for each frame size, throughput (26.1:
//! the highest offered rate whose loss stays within the tolerance, by binary search below the
//! maximum rate), latency at that rate (26.2), frame loss rate at 100%, 90%, ... of the maximum
//! until two successive trials lose nothing (26.3), and back-to-back bursts (26.4: the longest
//! burst at the maximum rate that crosses without loss, by binary search on its length, over a
//! few repetitions, averaged). Frame sizes are Ethernet sizes with the 4-byte FCS, as in the
//! RFC; mvlab hands the kernel the frame without FCS (64 bytes on the wire = 60 bytes sent).
//!
//! Bounded in time for CI: every trial lasts `trial` (a burst at most as long), the search stops
//! once its bounds are within `resolution` percent of the maximum (at most
//! log2(100 / resolution) + 1 trials), the loss steps are at most ten, the bursts at most
//! `B2B_REPEATS` searches of the same kind. The result lists every trial run.
//!
//! Loss here is always the path's: frames the receiving capture's ring dropped reached the
//! receiver and are never held against the path (each trial shows them in `capture_drops`).
//! This file owns the RFC 2544 result types and the three searches, which are pure functions of
//! a trial runner (unit-tested with synthetic paths); it never judges nor formats a result.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::path::{Encapsulation, Length, Path, TrialOutcome, TrialSpec};
use super::stats::LatencyStats;
use super::{Bench, MeasureError};
use crate::scenario::Rfc2544Test;
use crate::units::L1_OVERHEAD;

/// Back-to-back searches per frame size (the RFC asks for 50; CI cannot wait that long).
pub const B2B_REPEATS: usize = 3;

/// One trial of the search or of the loss steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Frames sent divided by the trial's length: the load really offered.
    pub offered_pps: f64,
    pub sent: u64,
    pub received: u64,
    /// Frames the path lost, as a percentage of those sent; frames the capture's ring dropped
    /// are left out (see `capture_drops`).
    pub loss_percent: f64,
    /// Something was sent and the path's loss is within the tolerance.
    pub passed: bool,
    /// Frames the receiving socket's ring dropped during the trial: they reached the receiver,
    /// the measurement missed them.
    pub capture_drops: u64,
}

impl Trial {
    fn of(o: &TrialOutcome, length: Duration, tolerance: f64) -> Trial {
        let loss_percent = o.missing().path_percent(o.sent);
        Trial {
            offered_pps: o.sent as f64 / length.as_secs_f64(),
            sent: o.sent,
            received: o.received,
            loss_percent,
            passed: o.sent > 0 && loss_percent <= tolerance,
            capture_drops: o.capture_drops,
        }
    }

    fn lost_nothing(&self) -> bool {
        self.sent > 0 && self.loss_percent == 0.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackToBack {
    /// The longest burst (frames at the maximum rate) that crossed without loss, averaged over
    /// the trials.
    pub frames: f64,
    /// The longest burst each repetition found.
    pub trials: Vec<u64>,
    /// The search's upper bound: the frames one trial length at the maximum rate holds.
    pub longest_tried: u64,
    /// Bursts sent over all repetitions.
    pub bursts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rfc2544Size {
    /// Bytes on the wire including the FCS.
    pub frame_size: u32,
    /// What carried the payload.
    pub encapsulation: Encapsulation,
    /// The search's upper bound: `max_rate`, or with `max` the rate an unthrottled trial offered.
    pub max_offered_pps: f64,
    /// The zero-loss (within tolerance) throughput: the highest offered rate of a passing trial,
    /// 0 when none passed.
    pub throughput_pps: f64,
    pub throughput_bps_l1: f64,
    /// Every trial of the search, in order; the first is at the maximum rate.
    pub search: Vec<Trial>,
    /// One-way latency at the throughput rate (none when the throughput is 0).
    pub latency: Option<LatencyStats>,
    /// Section 26.3: trials at 100%, 90%, ... of the maximum rate (the first is the search's
    /// first trial).
    pub frame_loss: Vec<Trial>,
    pub back_to_back: Option<BackToBack>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rfc2544Result {
    pub name: String,
    pub from: String,
    pub to: String,
    pub trial_s: f64,
    pub loss_tolerance_percent: f64,
    /// The search stopped once its bounds were this close, in percent of the maximum rate.
    pub resolution_percent: f64,
    pub sizes: Vec<Rfc2544Size>,
}

/// A trial of a rate search: the rate it really offered, and whether it passed.
pub(super) trait RateTrial {
    fn offered_pps(&self) -> f64;
    fn passed(&self) -> bool;
}

impl RateTrial for Trial {
    fn offered_pps(&self) -> f64 {
        self.offered_pps
    }

    fn passed(&self) -> bool {
        self.passed
    }
}

/// Section 26.1: `first` is the trial at the maximum rate `max`; when it fails, `trial(rate)`
/// bisects between 0 and `max` until the bounds are within `resolution` percent of `max`.
/// Returns the throughput (the highest offered rate of a passing trial, 0 when none passed) and
/// every trial, `first` included. RFC 2889's learning rate is searched the same way.
pub(super) fn search_throughput<T: RateTrial, E>(
    first: T,
    max: f64,
    resolution: f64,
    mut trial: impl FnMut(f64) -> Result<T, E>,
) -> Result<(f64, Vec<T>), E> {
    let mut trials = vec![first];
    if !trials[0].passed() {
        let (mut low, mut high) = (0.0, max);
        let close_enough = max * resolution / 100.0;
        while high - low > close_enough {
            let rate = (low + high) / 2.0;
            let t = trial(rate)?;
            if t.passed() {
                low = rate;
            } else {
                high = rate;
            }
            trials.push(t);
        }
    }
    let throughput = trials
        .iter()
        .filter(|t| t.passed())
        .map(|t| t.offered_pps())
        .fold(0.0, f64::max);
    Ok((throughput, trials))
}

/// Section 26.3: `first` is the trial at 100% of `max`; then 90%, 80%, ... down to 10%, until
/// two successive trials lose nothing.
fn frame_loss_steps<E>(
    first: Trial,
    max: f64,
    mut trial: impl FnMut(f64) -> Result<Trial, E>,
) -> Result<Vec<Trial>, E> {
    let mut steps = vec![first];
    for tenths in (1..=9).rev() {
        let quiet = steps.len() >= 2 && steps[steps.len() - 2..].iter().all(Trial::lost_nothing);
        if quiet {
            break;
        }
        steps.push(trial(max * f64::from(tenths) / 10.0)?);
    }
    Ok(steps)
}

/// Section 26.4: `repeats` times, the longest burst of at most `longest` frames for which
/// `crosses(frames)` holds (a burst that length lost nothing), by binary search until the bounds
/// are within `resolution` percent of `longest` (or one frame).
fn back_to_back<E>(
    longest: u64,
    resolution: f64,
    repeats: usize,
    mut crosses: impl FnMut(u64) -> Result<bool, E>,
) -> Result<BackToBack, E> {
    let close_enough = ((longest as f64 * resolution / 100.0) as u64).max(1);
    let mut trials = Vec::with_capacity(repeats);
    let mut bursts = 0;
    for _ in 0..repeats {
        bursts += 1;
        let found = if crosses(longest)? {
            longest
        } else {
            let (mut low, mut high) = (0, longest);
            while high - low > close_enough {
                let mid = low + (high - low) / 2;
                bursts += 1;
                if crosses(mid)? {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            low
        };
        trials.push(found);
    }
    let frames = if trials.is_empty() {
        0.0
    } else {
        trials.iter().sum::<u64>() as f64 / trials.len() as f64
    };
    Ok(BackToBack {
        frames,
        trials,
        longest_tried: longest,
        bursts,
    })
}

fn rate_label(pps: Option<f64>) -> String {
    pps.map_or_else(|| "max".to_string(), |p| format!("{p:.0} pps"))
}

/// One frame size: every trial of sections 26.1 to 26.4 that the test asks for.
fn measure_size(
    path: &Path<'_>,
    name: &str,
    test: &Rfc2544Test,
    size: u32,
) -> Result<Rfc2544Size, MeasureError> {
    let bench = path.bench();
    let max_rate = test.max_rate.pps(size);
    let mut encapsulation = Encapsulation::default();
    let mut run = |what: &str, pps: Option<f64>| -> Result<Trial, MeasureError> {
        (bench.progress)(&format!("{name}: {size} B, {what} at {}", rate_label(pps)));
        let outcome = path.trial(&TrialSpec {
            frame_size: size,
            pps,
            length: Length::For(test.trial),
            round_trip: false,
            pcap: None,
        })?;
        encapsulation = outcome.encapsulation;
        Ok(Trial::of(&outcome, test.trial, test.loss_tolerance))
    };
    let first = run("maximum rate", max_rate)?;
    let max = max_rate.unwrap_or(first.offered_pps);
    let (throughput_pps, search) = search_throughput(first.clone(), max, test.resolution, |pps| {
        run("throughput search", Some(pps))
    })?;
    let frame_loss = if test.frame_loss_steps {
        frame_loss_steps(first, max, |pps| run("frame loss step", Some(pps)))?
    } else {
        Vec::new()
    };
    let latency = if throughput_pps > 0.0 {
        (bench.progress)(&format!(
            "{name}: {size} B, latency at {}",
            rate_label(Some(throughput_pps))
        ));
        let outcome = path.trial(&TrialSpec {
            frame_size: size,
            pps: Some(throughput_pps),
            length: Length::For(test.trial),
            round_trip: false,
            pcap: bench.pcap_path(&format!("{name}@{size}"), &test.to),
        })?;
        Some(outcome.latency)
    } else {
        None
    };
    let back_to_back = if test.back_to_back {
        let longest = ((max * test.trial.as_secs_f64()).round() as u64).max(1);
        let found = back_to_back(longest, test.resolution, B2B_REPEATS, |frames| {
            (bench.progress)(&format!("{name}: {size} B, burst of {frames} frames"));
            let outcome = path.trial(&TrialSpec {
                frame_size: size,
                pps: max_rate,
                length: Length::Frames(frames),
                round_trip: false,
                pcap: None,
            })?;
            Ok::<bool, MeasureError>(outcome.sent > 0 && outcome.missing().path == 0)
        })?;
        Some(found)
    } else {
        None
    };
    Ok(Rfc2544Size {
        frame_size: size,
        encapsulation,
        max_offered_pps: max,
        throughput_pps,
        throughput_bps_l1: throughput_pps * 8.0 * f64::from(size + L1_OVERHEAD),
        search,
        latency,
        frame_loss,
        back_to_back,
    })
}

/// Runs RFC 2544 test `name` between `from` and `to`, frame size after frame size. With
/// `--pcap`, the capture of each size's latency trial goes to `NAME@SIZE-STATION.pcapng` (the
/// other trials' captures are not written).
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &Rfc2544Test,
) -> Result<Rfc2544Result, MeasureError> {
    let path = Path::open(bench, &test.from, &test.to)?;
    let sizes = test
        .frame_sizes
        .iter()
        .map(|&size| measure_size(&path, name, test, size))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rfc2544Result {
        name: name.to_string(),
        from: test.from.clone(),
        to: test.to.clone(),
        trial_s: test.trial.as_secs_f64(),
        loss_tolerance_percent: test.loss_tolerance,
        resolution_percent: test.resolution,
        sizes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// A synthetic path: every rate up to `capacity` crosses; above it, the excess is lost.
    fn trial_on(capacity: f64, tolerance: f64) -> impl FnMut(f64) -> Result<Trial, Infallible> {
        move |rate: f64| {
            let sent = rate.round() as u64;
            let received = sent.min(capacity.round() as u64);
            let loss_percent = 100.0 * (sent - received) as f64 / sent.max(1) as f64;
            Ok(Trial {
                offered_pps: rate,
                sent,
                received,
                loss_percent,
                passed: sent > 0 && loss_percent <= tolerance,
                capture_drops: 0,
            })
        }
    }

    #[test]
    fn search_converges_below_the_capacity_within_the_resolution() {
        let mut path = trial_on(300_000.0, 0.0);
        let first = path(1_000_000.0).unwrap();
        let mut count = 0;
        let (throughput, trials) = search_throughput(first, 1_000_000.0, 1.0, |r| {
            count += 1;
            path(r)
        })
        .unwrap();
        assert!(
            throughput <= 300_000.0 && throughput > 300_000.0 - 10_000.0,
            "{throughput}"
        );
        // 1% of 1 Mpps from a 1 Mpps wide interval: 7 halvings.
        assert_eq!(count, 7);
        assert_eq!(trials.len(), 8);
        // Every failing trial lies above the throughput, every passing one at or below it.
        for t in &trials {
            assert_eq!(t.passed, t.offered_pps <= throughput, "{t:?}");
        }
    }

    #[test]
    fn search_stops_at_once_when_the_maximum_passes_and_finds_zero_when_nothing_does() {
        let mut open = trial_on(f64::INFINITY, 0.0);
        let (t, trials) = search_throughput(
            open(500.0).unwrap(),
            500.0,
            1.0,
            trial_on(f64::INFINITY, 0.0),
        )
        .unwrap();
        assert_eq!((t, trials.len()), (500.0, 1));

        let mut closed = trial_on(0.0, 0.0);
        let (t, trials) =
            search_throughput(closed(500.0).unwrap(), 500.0, 10.0, trial_on(0.0, 0.0)).unwrap();
        assert_eq!(t, 0.0);
        // 100% -> 50 -> 25 -> 12.5 -> 6.25: four halvings to get within 10%.
        assert_eq!(trials.len(), 5);
        assert!(trials.iter().all(|t| !t.passed));
    }

    #[test]
    fn a_loss_tolerance_lets_a_slightly_lossy_rate_pass() {
        // 1% over the capacity loses under 1%.
        let first = trial_on(100_000.0, 1.0)(101_000.0).unwrap();
        assert!(first.passed && first.loss_percent > 0.0);
        let (t, trials) =
            search_throughput(first, 101_000.0, 1.0, trial_on(100_000.0, 1.0)).unwrap();
        assert_eq!((t, trials.len()), (101_000.0, 1));
    }

    #[test]
    fn loss_steps_stop_after_two_quiet_trials() {
        let mut path = trial_on(75.0, 0.0);
        let steps = frame_loss_steps(path(100.0).unwrap(), 100.0, trial_on(75.0, 0.0)).unwrap();
        let rates: Vec<u64> = steps.iter().map(|t| t.offered_pps.round() as u64).collect();
        assert_eq!(rates, [100, 90, 80, 70, 60]);
        let mut dead = trial_on(0.0, 0.0);
        let steps = frame_loss_steps(dead(100.0).unwrap(), 100.0, trial_on(0.0, 0.0)).unwrap();
        assert_eq!(steps.len(), 10);
        assert_eq!(steps.last().unwrap().offered_pps.round(), 10.0);
        let mut open = trial_on(f64::INFINITY, 0.0);
        let steps =
            frame_loss_steps(open(100.0).unwrap(), 100.0, trial_on(f64::INFINITY, 0.0)).unwrap();
        assert_eq!(steps.len(), 2);
    }

    #[test]
    fn back_to_back_finds_the_longest_burst_and_averages_repetitions() {
        let mut run = 0;
        // A queue of 1000 frames the first time, 1100 the second, 1200 the third.
        let b = back_to_back(10_000, 0.01, 3, |frames| {
            if frames == 10_000 {
                run += 1;
            }
            Ok::<bool, Infallible>(frames <= 900 + 100 * run)
        })
        .unwrap();
        assert_eq!(b.trials, [1000, 1100, 1200]);
        assert_eq!(b.frames, 1100.0);
        assert_eq!(b.longest_tried, 10_000);
        assert!(b.bursts > 3);

        let all = back_to_back(500, 1.0, 2, |_| Ok::<bool, Infallible>(true)).unwrap();
        assert_eq!((all.frames, all.bursts), (500.0, 2));
        let none = back_to_back(500, 1.0, 2, |_| Ok::<bool, Infallible>(false)).unwrap();
        assert_eq!((none.frames, none.trials.clone()), (0.0, vec![0, 0]));
    }
}
