//! MAC sweeps: one socket sends one frame from each of N unique source MACs (up to 16 million;
//! a seeded permutation or in order) to one station, at a rate, while every receiver counts
//! per source MAC what reached it. Each receiver counts the sweep's sources in the engine's
//! dense per-index array (4 bytes a MAC, allocated once), so a million MACs cost 4 MB a
//! receiver, not a hash table that grows by doubling; the result says what each receiver's
//! counters took and what the process's peak resident memory was. Also read: the switch's
//! learned-address count before and after (a sweep through a Linux bridge fills its forwarding
//! table). It never judges a result nor formats one.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Bench, MeasureError};
use crate::addr::MacAddr;
use crate::engine::rx::{self, Capture, CaptureHandle, CaptureSpec};
use crate::engine::tx::{self, FlowSpec, MacSource, MacSweep, SendPlan, SweepOrder};
use crate::scenario::{MacOrder, MacSweepTest};
use crate::units::Rate;

/// Frames of a sweep are the Ethernet minimum.
const FRAME_LEN: usize = 60;
/// The longest the kernel gets to deliver what is in flight once the last frame left (the
/// sweep waits only until every receiver has been quiet for a while: `rx::settle`).
const DRAIN_MAX: Duration = Duration::from_secs(10);
/// The first octet of every swept MAC: locally administered, unicast, never a lab MAC's.
const SWEEP_OCTET: u8 = 0x06;
/// Each receiver's ring: 8 MiB in many blocks. The kernel hands a block over when it is full
/// or after its timeout (10 ms), so a ring of 8 blocks was full after 80 ms of a receiving
/// thread kept off the CPU: a loaded emulated machine's rings dropped up to 562 frames of a
/// 3,000-frame sweep at 10kpps. 64 blocks ride out 640 ms and hold as many frames.
const RING_BLOCK_SIZE: usize = 1 << 17;
const RING_BLOCKS: usize = 64;
/// Frame counts per MAC up to this are tallied one by one; more land in the last bucket.
const HISTOGRAM_TOP: usize = 8;

/// Flow ids of sweeps: their own range.
static NEXT_FLOW: AtomicU32 = AtomicU32::new(0x5eed_0000);

/// What one receiver got of the sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReceiver {
    pub station: String,
    /// Frames of the sweep that arrived.
    pub frames: u64,
    /// Sweep MACs with at least one frame here.
    pub macs: u64,
    /// Sweep MACs with none.
    pub missing: u64,
    /// Sweep MACs with more than one.
    pub repeated: u64,
    /// `histogram[k]`: MACs with exactly k frames here (the last entry: k or more).
    pub histogram: Vec<u64>,
    /// The first few missing MACs, for a person to look for.
    pub missing_examples: Vec<String>,
    /// Frames the capture's ring dropped (they reached the station, the count missed them).
    pub capture_drops: u64,
    /// Bytes the per-MAC counters took.
    pub counter_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MacSweepResult {
    pub name: String,
    pub from: String,
    pub to: String,
    pub macs: u32,
    pub order: MacOrder,
    pub rate_pps: Option<f64>,
    pub sent: u64,
    pub offered_pps: f64,
    /// `to` first.
    pub receivers: Vec<SweepReceiver>,
    /// The switch's learned-address count before and after the sweep, and its limit.
    pub switch_learned_before: Option<u32>,
    pub switch_learned_after: Option<u32>,
    pub switch_limit: Option<u32>,
    /// This process's peak resident memory during the sweep (VmHWM, reset at its start).
    pub peak_rss_bytes: Option<u64>,
}

impl MacSweepResult {
    /// The destination's counts.
    pub fn destination(&self) -> Option<&SweepReceiver> {
        self.receivers.iter().find(|r| r.station == self.to)
    }

    /// Sweep frames that reached receivers other than the destination.
    pub fn leaked(&self) -> u64 {
        self.receivers
            .iter()
            .filter(|r| r.station != self.to)
            .map(|r| r.frames)
            .sum()
    }
}

/// A receiver's tally of per-index counts.
fn summarise(station: &str, sweep: &MacSweep, counts: &[u32]) -> SweepReceiver {
    let mut histogram = vec![0u64; HISTOGRAM_TOP + 1];
    let mut out = SweepReceiver {
        station: station.to_string(),
        ..SweepReceiver::default()
    };
    for (i, &n) in counts.iter().enumerate() {
        histogram[(n as usize).min(HISTOGRAM_TOP)] += 1;
        out.frames += u64::from(n);
        match n {
            0 => {
                out.missing += 1;
                if out.missing_examples.len() < 5 {
                    out.missing_examples.push(sweep.mac(i as u64).to_string());
                }
            }
            1 => out.macs += 1,
            _ => {
                out.macs += 1;
                out.repeated += 1;
            }
        }
    }
    while histogram.len() > 2 && histogram.last() == Some(&0) {
        histogram.pop();
    }
    out.histogram = histogram;
    out
}

/// Peak resident memory of this process, and a way to restart its measurement.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn reset_peak_rss() {
    // "5" resets the peak resident set size of our own process (proc(5), clear_refs); without
    // it the peak is the process's whole life, which still bounds the sweep's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs MAC-sweep test `name`.
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &MacSweepTest,
) -> Result<MacSweepResult, MeasureError> {
    let from = bench.station(&test.from)?;
    let to = bench.station(&test.to)?;
    let sender = bench.attach(&from)?;
    let sweep = MacSweep {
        base: MacAddr([SWEEP_OCTET, 0, 0, 0, 0, 0]),
        count: u64::from(test.macs),
        order: match test.order {
            MacOrder::Sequential => SweepOrder::Sequential,
            MacOrder::Random => SweepOrder::Random {
                seed: bench.scenario.seed,
            },
        },
    };
    let table = bench.lab.switch_table()?;
    reset_peak_rss();
    let mut captures = Vec::with_capacity(test.receivers.len());
    for r in &test.receivers {
        let station = bench.station(r)?;
        let spec = CaptureSpec {
            promiscuous: true,
            sweep: Some(sweep),
            ring_block_size: RING_BLOCK_SIZE,
            ring_blocks: RING_BLOCKS,
            pcap: bench.pcap_path(name, r),
            ..CaptureSpec::default()
        };
        captures.push((
            r.clone(),
            Capture::start(&bench.attach(&station)?, spec, bench.stop)?,
        ));
    }
    (bench.progress)(&format!(
        "{name}: {} source MACs {} -> {}",
        test.macs, test.from, test.to
    ));
    let id = NEXT_FLOW.fetch_add(1, Ordering::Relaxed);
    let rate = test.rate.pps(FRAME_LEN as u32 + 4);
    let flow = FlowSpec {
        src: MacSource::Sweep(sweep),
        rate: rate.map_or(Rate::Max, Rate::Pps),
        ..FlowSpec::new(id, to.mac, FRAME_LEN, Some(sweep.count))
    };
    let sent = tx::send(&sender, &SendPlan::new(vec![flow]), bench.stop);
    let listening: Vec<&CaptureHandle> = captures.iter().map(|(_, c)| c).collect();
    rx::settle(&listening, DRAIN_MAX, bench.stop);
    let mut receivers = Vec::with_capacity(captures.len());
    let mut failure = None;
    for (station, capture) in captures {
        match capture.stop() {
            Ok(report) => {
                let counted = report.received.sweep.as_ref();
                let mut r = summarise(
                    &station,
                    &sweep,
                    counted.map_or(&[][..], |s| s.frames.as_slice()),
                );
                r.capture_drops = report.kernel.drops;
                r.counter_bytes = counted.map_or(0, |s| s.memory_bytes());
                receivers.push(r);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    let peak_rss_bytes = peak_rss();
    let sent = sent?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    bench.check_stop()?;
    let after = bench.lab.switch_table()?;
    Ok(MacSweepResult {
        name: name.to_string(),
        from: test.from.clone(),
        to: test.to.clone(),
        macs: test.macs,
        order: test.order,
        rate_pps: rate,
        sent: sent.frames,
        offered_pps: sent.frames_per_second,
        receivers,
        switch_learned_before: table.as_ref().map(|t| t.learned),
        switch_learned_after: after.as_ref().map(|t| t.learned),
        switch_limit: after.and_then(|t| t.limit),
        peak_rss_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_index_counts_become_seen_missing_repeated_and_a_histogram() {
        let sweep = MacSweep {
            base: MacAddr([SWEEP_OCTET, 0, 0, 0, 0, 0]),
            count: 6,
            order: SweepOrder::Sequential,
        };
        let r = summarise("e1", &sweep, &[1, 0, 2, 1, 0, 12]);
        assert_eq!((r.frames, r.macs, r.missing, r.repeated), (16, 4, 2, 2));
        assert_eq!(r.histogram, [2, 2, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            r.missing_examples,
            ["06:00:00:00:00:01", "06:00:00:00:00:04"]
        );
        let all = summarise("e1", &sweep, &[1; 6]);
        assert_eq!(all.histogram, [0, 6]);
        let none = summarise("peer", &sweep, &[0; 6]);
        assert_eq!(
            (none.macs, none.missing, none.missing_examples.len()),
            (0, 6, 5)
        );
        assert_eq!(none.histogram, [6, 0]);
    }
}
