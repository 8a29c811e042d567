//! RFC 2889 section 5.7, address caching capacity: how many addresses the lab's switch holds.
//! One trial with N addresses: the switch forgets what it learned; the learning port sends one
//! frame from each of N fresh source MACs (a seeded sweep, new every trial) to the test port;
//! once the switch has settled its table is read; the test port sends one frame to each of the
//! N MACs while the learning and monitor ports capture. A test frame that reaches the monitor
//! port was flooded: its destination was not learned. A trial passes when no test frame was
//! flooded and every one reached the learning port. The capacity is the largest N that passes,
//! by binary search below `max_addresses` (the largest N tried when even that passes).
//!
//! Also owns the RFC 2889 trial itself (`AddressBench`), which the learning-rate test
//! (`address_learning_rate`) runs at varying learning rates. It never judges a result (the
//! verdict does) nor formats one (the reports do); the switch is read and flushed only through
//! the lab (`Lab::switch_table`, `Lab::flush_switch_table`), whatever switch the lab has.
//!
//! An external switch under test can be neither read nor flushed: its learned count is unknown,
//! and a trial makes it forget as the scenario says it does. One that stops learning when full
//! is left quiet for its `ageing_time` (plus a second) before every trial, since the last
//! trial's entries would otherwise take room the new ones need; one that evicts when full is
//! left quiet only before the first trial (so it forgets the lab's other stations, whose entries
//! an evicting switch may keep at the learning addresses' expense: Open vSwitch evicts from the
//! port holding the most), after which the fresh addresses push the last trial's out. An
//! evicting switch also keeps the test port's own address (learned from the test frames, at the
//! expense of a learning address when the table is full), so its table holds the capacity plus
//! that one entry.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Bench, MeasureError};
use crate::addr::MacAddr;
use crate::engine::Attachment;
use crate::engine::rx::{self, Capture, CaptureHandle, CaptureSpec};
use crate::engine::tx::{self, FlowSpec, MacSource, MacSweep, SendPlan, SweepOrder};
use crate::scenario::{AddressCachingTest, AddressPorts, Station, Switch, TableFull};
use crate::units::Rate;

/// Frames of the address tests carry no more than the Ethernet minimum.
const FRAME_LEN: usize = 60;
/// The longest the switch gets to process what was sent before it is read or the captures stop
/// (a trial waits only until both captures have been quiet for a while: `rx::settle`).
const SETTLE_MAX: Duration = Duration::from_secs(10);
/// What an external switch's ageing may take beyond its `ageing_time`.
const AGEING_MARGIN: Duration = Duration::from_secs(1);
/// The first octet of every address the tests make up: locally administered and unicast, and
/// never the first octet of a lab MAC (those start with 0x02).
const ADDRESS_OCTET: u8 = 0x06;

/// Flow ids of the address tests: their own range, so no other measurement's late frame counts.
static NEXT_FLOW: AtomicU32 = AtomicU32::new(0x2889_0000);

/// What one trial did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressTrial {
    pub addresses: u32,
    /// Learning frames sent, and the rate they went at (frames over the sending time).
    pub learning_sent: u64,
    pub learning_pps: f64,
    /// The switch's learned-address count once the learning frames were processed.
    pub switch_learned: Option<u32>,
    /// Test frames sent (one to each address).
    pub test_sent: u64,
    /// Test frames that reached the monitor port: flooded, their destination unknown.
    pub flooded: u64,
    /// Test frames that reached the learning port.
    pub delivered: u64,
    /// Frames the capturing sockets' rings dropped (they reached the port, the capture missed
    /// them; a trial with any does not pass).
    pub capture_drops: u64,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressCachingResult {
    pub name: String,
    pub learning: String,
    pub test: String,
    pub monitor: String,
    pub max_addresses: u32,
    /// The pace of learning and test frames; `None` as fast as the sender could.
    pub rate_pps: Option<f64>,
    /// The largest number of addresses learned without flooding; 0 when even one flooded.
    pub capacity: u32,
    /// Every number tried passed: the capacity is at least `max_addresses`.
    pub at_least: bool,
    /// The switch's configured limit on learned addresses, when it has one.
    pub switch_limit: Option<u32>,
    /// The switch's own learned count in the trial at the capacity; `None`: unknown (an
    /// external switch cannot be read).
    pub switch_learned: Option<u32>,
    /// An external switch that evicts when full: the entries it held at the capacity, the
    /// learning addresses and the test port's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_entries: Option<u32>,
    /// Every trial, in the order run.
    pub trials: Vec<AddressTrial>,
}

/// The RFC 2889 ports of a live lab, opened once for every trial.
pub struct AddressBench<'a> {
    bench: &'a Bench<'a>,
    test_station: Station,
    learning: Attachment,
    test: Attachment,
    monitor: Attachment,
    trials: u32,
}

impl<'a> AddressBench<'a> {
    pub fn open(
        bench: &'a Bench<'a>,
        ports: &AddressPorts,
    ) -> Result<AddressBench<'a>, MeasureError> {
        let open = |name: &str| bench.station(name).and_then(|s| Ok((bench.attach(&s)?, s)));
        let (learning, _) = open(&ports.learning)?;
        let (test, test_station) = open(&ports.test)?;
        let (monitor, _) = open(&ports.monitor)?;
        Ok(AddressBench {
            bench,
            test_station,
            learning,
            test,
            monitor,
            trials: 0,
        })
    }

    fn capture(&self, at: &Attachment) -> Result<CaptureHandle, MeasureError> {
        let spec = CaptureSpec {
            promiscuous: true,
            ring_block_size: 1 << 20,
            ring_blocks: 8,
            ..CaptureSpec::default()
        };
        Ok(Capture::start(at, spec, self.bench.stop)?)
    }

    /// One trial with `addresses` fresh addresses: learning frames at `learning_rate`
    /// (`None`: as fast as the sender can), test frames at `test_rate`.
    pub fn trial(
        &mut self,
        addresses: u32,
        learning_rate: Option<f64>,
        test_rate: Option<f64>,
    ) -> Result<AddressTrial, MeasureError> {
        let bench = self.bench;
        bench.check_stop()?;
        self.trials += 1;
        let sweep = MacSweep {
            base: MacAddr([ADDRESS_OCTET, 0, 0, 0, 0, 0]),
            count: u64::from(addresses),
            order: SweepOrder::Random {
                seed: bench.scenario.seed ^ u64::from(self.trials).rotate_left(32),
            },
        };
        bench.lab.flush_switch_table(bench.stop)?;
        bench.check_stop()?;
        forget_external(bench, self.trials == 1)?;
        let captures = [self.capture(&self.monitor)?, self.capture(&self.learning)?];
        let run = || -> Result<(tx::SendReport, Option<u32>, tx::SendReport), MeasureError> {
            let pace = |rate: Option<f64>| rate.map_or(Rate::Max, Rate::Pps);
            let learning = FlowSpec {
                src: MacSource::Sweep(sweep),
                rate: pace(learning_rate),
                ..FlowSpec::new(
                    NEXT_FLOW.fetch_add(1, Ordering::Relaxed),
                    self.test_station.mac,
                    FRAME_LEN,
                    Some(sweep.count),
                )
            };
            let learned = tx::send(&self.learning, &SendPlan::new(vec![learning]), bench.stop)?;
            bench.check_stop()?;
            rx::settle(&[&captures[0], &captures[1]], SETTLE_MAX, bench.stop);
            let switch_learned = bench.lab.switch_table()?.map(|t| t.learned);
            let test = FlowSpec {
                dst_sweep: Some(sweep),
                rate: pace(test_rate),
                ..FlowSpec::new(
                    NEXT_FLOW.fetch_add(1, Ordering::Relaxed),
                    sweep.base,
                    FRAME_LEN,
                    Some(sweep.count),
                )
            };
            let tested = tx::send(&self.test, &SendPlan::new(vec![test]), bench.stop)?;
            bench.check_stop()?;
            rx::settle(&[&captures[0], &captures[1]], SETTLE_MAX, bench.stop);
            Ok((learned, switch_learned, tested))
        };
        let sent = run();
        let [monitor, learning] = captures.map(|c| c.stop());
        let (learned, switch_learned, tested) = sent?;
        let (monitor, learning) = (monitor?, learning?);
        let test_flow = tested.flows.first().map_or(0, |f| f.flow);
        let frames_of = |r: &crate::engine::rx::CaptureReport| {
            r.received
                .flows
                .iter()
                .find(|f| f.flow == test_flow)
                .map_or(0, |f| f.unique)
        };
        let (flooded, delivered) = (frames_of(&monitor), frames_of(&learning));
        let capture_drops = monitor.kernel.drops + learning.kernel.drops;
        Ok(AddressTrial {
            addresses,
            learning_sent: learned.frames,
            learning_pps: learned.frames_per_second,
            switch_learned,
            test_sent: tested.frames,
            flooded,
            delivered,
            capture_drops,
            passed: flooded == 0 && delivered == tested.frames && capture_drops == 0,
        })
    }
}

/// Makes an external switch forget what it learned, before every trial when it stops learning
/// once full, before the first when it evicts: nothing is sent for its ageing time (plus a
/// margin), watching the stop flag.
fn forget_external(bench: &Bench<'_>, first: bool) -> Result<(), MeasureError> {
    let Switch::External(x) = &bench.scenario.switch else {
        return Ok(());
    };
    if x.table_full == TableFull::EvictOldest && !first {
        return Ok(());
    }
    let quiet = Duration::from_secs(u64::from(x.ageing_time)) + AGEING_MARGIN;
    (bench.progress)(&format!(
        "waiting {} s for the switch under test to forget the last addresses (ageing_time)",
        quiet.as_secs()
    ));
    if bench.stop.sleep(quiet) {
        return Err(MeasureError::Interrupted);
    }
    Ok(())
}

/// Section 5.7's search: `trial(n)` tells whether `n` addresses were all learned. Tries `max`
/// first; when it fails, bisects between 0 (nothing to learn always passes) and `max`. Returns
/// the largest passing `n` (0 when none passed) and whether `max` itself passed.
fn search_capacity<E>(
    max: u32,
    mut trial: impl FnMut(u32) -> Result<bool, E>,
) -> Result<(u32, bool), E> {
    if trial(max)? {
        return Ok((max, true));
    }
    let (mut low, mut high) = (0, max);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if trial(mid)? {
            low = mid;
        } else {
            high = mid;
        }
    }
    Ok((low, false))
}

/// A scenario rate as a frame rate of the address tests' 64-byte frames (`None`: as fast as
/// possible).
pub(super) fn pps(rate: Rate) -> Option<f64> {
    rate.pps(FRAME_LEN as u32 + 4)
}

/// Runs address-caching test `name`.
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &AddressCachingTest,
) -> Result<AddressCachingResult, MeasureError> {
    let mut ports = AddressBench::open(bench, &test.ports)?;
    let rate = pps(test.rate);
    let mut trials = Vec::new();
    let (capacity, at_least) = search_capacity(test.max_addresses, |n| {
        (bench.progress)(&format!("{name}: learning {n} addresses"));
        let t = ports.trial(n, rate, rate)?;
        let passed = t.passed;
        trials.push(t);
        Ok::<bool, MeasureError>(passed)
    })?;
    let external = match &bench.scenario.switch {
        Switch::External(x) => Some(x),
        _ => None,
    };
    let switch_limit = match external {
        Some(x) => x.fdb_max_learned,
        None => bench.lab.switch_table()?.and_then(|t| t.limit),
    };
    let table_entries = external
        .filter(|x| x.table_full == TableFull::EvictOldest && capacity > 0)
        .map(|_| capacity + 1);
    let switch_learned = trials
        .iter()
        .find(|t| t.addresses == capacity)
        .and_then(|t| t.switch_learned);
    Ok(AddressCachingResult {
        name: name.to_string(),
        learning: test.ports.learning.clone(),
        test: test.ports.test.clone(),
        monitor: test.ports.monitor.clone(),
        max_addresses: test.max_addresses,
        rate_pps: rate,
        capacity,
        at_least,
        switch_limit,
        switch_learned,
        table_entries,
        trials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A switch that learns up to `limit` addresses, recording what was tried.
    fn run(limit: u32, max: u32) -> ((u32, bool), Vec<u32>) {
        let mut tried = Vec::new();
        let found = search_capacity(max, |n| {
            tried.push(n);
            Ok::<bool, ()>(n <= limit)
        })
        .unwrap();
        (found, tried)
    }

    #[test]
    fn the_search_finds_the_exact_limit() {
        for limit in [1, 2, 99, 100, 101, 511, 512, 1000] {
            let ((capacity, at_least), tried) = run(limit, 1024);
            assert_eq!((capacity, at_least), (limit, false), "limit {limit}");
            assert!(tried.len() <= 12, "{tried:?}");
            assert_eq!(tried[0], 1024);
        }
    }

    #[test]
    fn a_switch_that_learns_everything_or_nothing() {
        assert_eq!(run(5000, 1024).0, (1024, true));
        assert_eq!(run(5000, 1024).1, [1024]);
        assert_eq!(run(0, 1024).0, (0, false));
        assert_eq!(run(0, 1).0, (0, false));
    }
}
