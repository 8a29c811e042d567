//! Counting what a receiver got. Owns the per-flow tallies (frames, bytes, loss, reordering and
//! duplicates from sequence numbers, one-way latency in an hdrhistogram, packet types, VLAN tags
//! seen), the per-source-MAC tallies with a bound on how many MACs are tracked, the counts of
//! foreign frames, the merge of per-thread tallies, and the plain-data results they become. A
//! receiver told which MAC sweep to expect counts that sweep's sources in a dense array indexed
//! by sweep position (4 bytes a MAC, allocated once) instead of its table keyed by MAC, so a
//! million-MAC sweep costs 4 MB however the table would grow. It does no I/O: a receive loop
//! feeds it parsed frames.
//!
//! Sequence rules: a flow's sequence starts at 0. A frame above the highest seen so far is new
//! (a jump leaves a gap); one at or below it, inside a sliding window of `WINDOW` sequences, is
//! a duplicate if already seen, else a late (reordered) frame that fills a gap. `lost` is the gap
//! count left up to the highest sequence seen: frames after the last one received are invisible
//! to a receiver, so a caller compares `received` with what it sent.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::sweep::MacSweep;
use super::sys::pkttype;
use super::wire::{Tags, TestFrame};
use crate::addr::MacAddr;

/// Sequences remembered behind the highest one, for duplicate detection.
pub const WINDOW: u64 = 4096;
/// Distinct tag stacks remembered per flow.
const TAG_STACKS_PER_FLOW: usize = 16;
/// Largest latency the histograms hold (60 s, in ns); larger values are clamped.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// Most MACs a sweep counted by index may hold: 64 MB of counters.
pub const MAX_SWEEP_COUNTED: u64 = 1 << 24;

/// Limits that keep a receiver's memory bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Flows tracked; frames of further flows count in `untracked_flow_frames`.
    pub max_flows: usize,
    /// Source MACs tracked; frames from further MACs count in `untracked_mac_frames`.
    pub max_macs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 65_536,
            max_macs: 1 << 20,
        }
    }
}

/// Frames by the packet type the kernel gave them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PacketTypes {
    /// Addressed to this interface's MAC.
    pub host: u64,
    pub broadcast: u64,
    pub multicast: u64,
    /// Addressed to another MAC (seen in promiscuous mode, or flooded to us).
    pub otherhost: u64,
}

impl PacketTypes {
    fn add(&mut self, t: u8) {
        match t {
            pkttype::HOST => self.host += 1,
            pkttype::BROADCAST => self.broadcast += 1,
            pkttype::MULTICAST => self.multicast += 1,
            _ => self.otherhost += 1,
        }
    }

    fn merge(&mut self, o: &PacketTypes) {
        self.host += o.host;
        self.broadcast += o.broadcast;
        self.multicast += o.multicast;
        self.otherhost += o.otherhost;
    }
}

/// One arrival, as the receive loop saw it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub frame: &'a TestFrame,
    /// Frame length including any tag the kernel stripped.
    pub len: usize,
    /// Kernel receive time, CLOCK_REALTIME ns.
    pub rx_ns: u64,
    pub pkttype: u8,
}

#[derive(Debug, Clone)]
struct FlowTally {
    frames: u64,
    bytes: u64,
    unique: u64,
    duplicates: u64,
    reordered: u64,
    /// Frames older than the window: counted once, not checked for duplicates.
    too_late: u64,
    highest: u64,
    /// Bit i set: sequence `highest - i` seen.
    window: Box<[u64; (WINDOW / 64) as usize]>,
    latency: Histogram<u64>,
    latency_sum: u128,
    /// Frames whose receive time was before their send time (clock stepped).
    negative_latency: u64,
    first_rx_ns: u64,
    last_rx_ns: u64,
    pkttypes: PacketTypes,
    tags: Vec<(Tags, u64)>,
    other_tags: u64,
    first_source: MacAddr,
    distinct_source: bool,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 2).expect("static histogram bounds are valid")
}

impl FlowTally {
    fn new(first: &Arrival<'_>) -> FlowTally {
        FlowTally {
            frames: 0,
            bytes: 0,
            unique: 0,
            duplicates: 0,
            reordered: 0,
            too_late: 0,
            highest: first.frame.sequence,
            window: Box::new([0; (WINDOW / 64) as usize]),
            latency: histogram(),
            latency_sum: 0,
            negative_latency: 0,
            first_rx_ns: first.rx_ns,
            last_rx_ns: first.rx_ns,
            pkttypes: PacketTypes::default(),
            tags: Vec::new(),
            other_tags: 0,
            first_source: first.frame.header.src,
            distinct_source: false,
        }
    }

    fn bit(&mut self, behind: u64) -> (usize, u64) {
        ((behind / 64) as usize, 1u64 << (behind % 64))
    }

    fn shift(&mut self, by: u64) {
        let words = self.window.len();
        if by >= WINDOW {
            self.window.fill(0);
            return;
        }
        let (w, b) = ((by / 64) as usize, (by % 64) as u32);
        for i in (0..words).rev() {
            let lo = i.checked_sub(w).map_or(0, |j| self.window[j]);
            let lower = i.checked_sub(w + 1).map_or(0, |j| self.window[j]);
            self.window[i] = if b == 0 {
                lo
            } else {
                (lo << b) | (lower >> (64 - b))
            };
        }
    }

    fn count_tags(&mut self, tags: Tags, n: u64) {
        if let Some((_, m)) = self.tags.iter_mut().find(|(t, _)| *t == tags) {
            *m += n;
        } else if self.tags.len() < TAG_STACKS_PER_FLOW {
            self.tags.push((tags, n));
        } else {
            self.other_tags += n;
        }
    }

    fn record(&mut self, a: &Arrival<'_>) {
        let seq = a.frame.sequence;
        self.frames += 1;
        self.bytes += a.len as u64;
        self.pkttypes.add(a.pkttype);
        self.first_rx_ns = self.first_rx_ns.min(a.rx_ns);
        self.last_rx_ns = self.last_rx_ns.max(a.rx_ns);
        if a.frame.header.src != self.first_source {
            self.distinct_source = true;
        }
        self.count_tags(a.frame.header.tags, 1);
        match a.rx_ns.checked_sub(a.frame.timestamp_ns) {
            Some(ns) => {
                self.latency.saturating_record(ns.clamp(1, LATENCY_MAX_NS));
                self.latency_sum += u128::from(ns);
            }
            None => self.negative_latency += 1,
        }
        if self.unique == 0 && self.frames == 1 {
            self.highest = seq;
            self.window[0] = 1;
            self.unique = 1;
        } else if seq > self.highest {
            self.shift(seq - self.highest);
            self.highest = seq;
            self.window[0] |= 1;
            self.unique += 1;
        } else if self.highest - seq < WINDOW {
            let (w, m) = self.bit(self.highest - seq);
            if self.window[w] & m != 0 {
                self.duplicates += 1;
            } else {
                self.window[w] |= m;
                self.unique += 1;
                self.reordered += 1;
            }
        } else {
            self.unique += 1;
            self.reordered += 1;
            self.too_late += 1;
        }
    }

    /// Folds another thread's tally of the same flow into this one. Sequence windows of two
    /// threads cannot be merged: duplicates and reordering are summed as each thread saw them.
    fn merge(&mut self, o: FlowTally) {
        self.frames += o.frames;
        self.bytes += o.bytes;
        self.unique += o.unique;
        self.duplicates += o.duplicates;
        self.reordered += o.reordered;
        self.too_late += o.too_late;
        self.highest = self.highest.max(o.highest);
        let _ = self.latency.add(&o.latency);
        self.latency_sum += o.latency_sum;
        self.negative_latency += o.negative_latency;
        self.first_rx_ns = self.first_rx_ns.min(o.first_rx_ns);
        self.last_rx_ns = self.last_rx_ns.max(o.last_rx_ns);
        self.pkttypes.merge(&o.pkttypes);
        for (tags, n) in o.tags {
            self.count_tags(tags, n);
        }
        self.other_tags += o.other_tags;
        self.distinct_source |= o.distinct_source || o.first_source != self.first_source;
    }
}

/// A multiply-rotate hasher for the small integer keys of the hot path (flow ids, MACs packed in
/// a u64): several times cheaper than SipHash; these keys come from the lab, not an attacker.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

fn mac_key(mac: MacAddr) -> u64 {
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(&mac.0);
    u64::from_be_bytes(b)
}

fn mac_of(key: u64) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(&key.to_be_bytes()[2..]);
    MacAddr(m)
}

#[derive(Debug, Clone, Copy, Default)]
struct MacTally {
    frames: u64,
    bytes: u64,
}

/// Why frames were not counted as test frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Foreign {
    /// Frames without a test payload (background traffic, other tools).
    pub not_test: u64,
    /// Frames that carried the magic but failed the version, kind or check, or were cut short.
    pub damaged: u64,
}

/// Frames per source MAC of a known sweep, by sweep index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReceived {
    pub sweep: MacSweep,
    /// `frames[i]`: frames from `sweep.mac(i)` (saturating at `u32::MAX`).
    pub frames: Vec<u32>,
}

impl SweepReceived {
    fn new(sweep: MacSweep) -> SweepReceived {
        SweepReceived {
            sweep,
            frames: vec![0; sweep.count.min(MAX_SWEEP_COUNTED) as usize],
        }
    }

    /// Heap bytes the counters take.
    pub fn memory_bytes(&self) -> u64 {
        (self.frames.capacity() * std::mem::size_of::<u32>()) as u64
    }

    fn merge(&mut self, other: &SweepReceived) {
        for (mine, theirs) in self.frames.iter_mut().zip(&other.frames) {
            *mine = mine.saturating_add(*theirs);
        }
    }
}

/// Everything one receive loop counted.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    limits: Limits,
    flows: FastMap<u32, FlowTally>,
    macs: FastMap<u64, MacTally>,
    sweep: Option<SweepReceived>,
    pub foreign: Foreign,
    /// Test frames the host sent itself, seen on the way out: never counted as received.
    pub outgoing: u64,
    untracked_flow_frames: u64,
    untracked_mac_frames: u64,
    arrivals: u64,
}

impl Tally {
    pub fn new(limits: Limits) -> Tally {
        Tally {
            limits,
            ..Tally::default()
        }
    }

    /// Counts the sources of `sweep` by index (see the module comment); other sources still go
    /// to the table. Sweeps beyond `MAX_SWEEP_COUNTED` MACs count their first that many.
    pub fn counting_sweep(mut self, sweep: MacSweep) -> Tally {
        self.sweep = Some(SweepReceived::new(sweep));
        self
    }

    /// Counts one test frame that arrived (not an OUTGOING one).
    pub fn record(&mut self, a: &Arrival<'_>) {
        self.arrivals += 1;
        let flows = self.flows.len();
        match self.flows.get_mut(&a.frame.flow) {
            Some(t) => t.record(a),
            None if flows < self.limits.max_flows => {
                let mut t = FlowTally::new(a);
                t.record(a);
                self.flows.insert(a.frame.flow, t);
            }
            None => self.untracked_flow_frames += 1,
        }
        if let Some(s) = &mut self.sweep
            && let Some(i) = s.sweep.index_of(a.frame.header.src)
            && let Some(n) = s.frames.get_mut(i as usize)
        {
            *n = n.saturating_add(1);
            return;
        }
        let macs = self.macs.len();
        let src = mac_key(a.frame.header.src);
        match self.macs.get_mut(&src) {
            Some(m) => {
                m.frames += 1;
                m.bytes += a.len as u64;
            }
            None if macs < self.limits.max_macs => {
                self.macs.insert(
                    src,
                    MacTally {
                        frames: 1,
                        bytes: a.len as u64,
                    },
                );
            }
            None => self.untracked_mac_frames += 1,
        }
    }

    /// Folds another thread's tally into this one.
    pub fn merge(&mut self, other: Tally) {
        for (flow, t) in other.flows {
            let full = self.flows.len() >= self.limits.max_flows;
            match self.flows.get_mut(&flow) {
                Some(mine) => mine.merge(t),
                None if !full => {
                    self.flows.insert(flow, t);
                }
                None => self.untracked_flow_frames += t.frames,
            }
        }
        for (mac, m) in other.macs {
            let full = self.macs.len() >= self.limits.max_macs;
            match self.macs.get_mut(&mac) {
                Some(mine) => {
                    mine.frames += m.frames;
                    mine.bytes += m.bytes;
                }
                None if !full => {
                    self.macs.insert(mac, m);
                }
                None => self.untracked_mac_frames += m.frames,
            }
        }
        match (&mut self.sweep, other.sweep) {
            (Some(mine), Some(theirs)) => mine.merge(&theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
        self.foreign.not_test += other.foreign.not_test;
        self.foreign.damaged += other.foreign.damaged;
        self.outgoing += other.outgoing;
        self.untracked_flow_frames += other.untracked_flow_frames;
        self.untracked_mac_frames += other.untracked_mac_frames;
        self.arrivals += other.arrivals;
    }

    /// Test frames recorded so far.
    pub fn arrivals(&self) -> u64 {
        self.arrivals
    }

    /// The results, flows and sources sorted.
    pub fn finish(self) -> Received {
        let mut flows: Vec<FlowReceived> = self
            .flows
            .into_iter()
            .map(|(flow, t)| FlowReceived::from_tally(flow, t))
            .collect();
        flows.sort_by_key(|f| f.flow);
        let mut sources: Vec<SourceReceived> = self
            .macs
            .into_iter()
            .map(|(key, m)| SourceReceived {
                mac: mac_of(key),
                frames: m.frames,
                bytes: m.bytes,
            })
            .collect();
        sources.sort_by_key(|s| s.mac);
        Received {
            test_frames: self.arrivals,
            flows,
            sources,
            sweep: self.sweep,
            foreign: self.foreign,
            outgoing: self.outgoing,
            untracked_flow_frames: self.untracked_flow_frames,
            untracked_mac_frames: self.untracked_mac_frames,
        }
    }
}

/// One-way latency summary, ns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub min_ns: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    /// Frames that went into the figures above.
    pub samples: u64,
    /// Frames received "before" they were sent (the clock stepped): left out of the figures.
    pub negative: u64,
}

impl Latency {
    fn from_histogram(h: &Histogram<u64>, sum: u128, negative: u64) -> Latency {
        let samples = h.len();
        if samples == 0 {
            return Latency {
                negative,
                ..Latency::default()
            };
        }
        Latency {
            min_ns: h.min(),
            mean_ns: sum as f64 / samples as f64,
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
            samples,
            negative,
        }
    }
}

/// How often a flow's frames carried one stack of VLAN tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagsSeen {
    pub tags: Tags,
    pub frames: u64,
}

/// What a receiver got of one flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowReceived {
    pub flow: u32,
    /// Every arrival, duplicates included.
    pub received: u64,
    pub bytes: u64,
    /// Distinct sequence numbers received.
    pub unique: u64,
    /// Gaps left up to the highest sequence seen (see the module comment).
    pub lost: u64,
    pub duplicates: u64,
    /// Frames that arrived after a higher sequence had.
    pub reordered: u64,
    pub highest_sequence: u64,
    pub latency: Latency,
    pub first_rx_ns: u64,
    pub last_rx_ns: u64,
    pub pkttypes: PacketTypes,
    /// Tag stacks seen, outermost tag first (at most 16 listed; the rest in `other_tags`).
    pub tags: Vec<TagsSeen>,
    pub other_tags: u64,
    /// The one source MAC of the flow, or `None` when it came from several (a sweep).
    pub source: Option<MacAddr>,
    #[serde(skip)]
    histogram: Histogram<u64>,
}

impl FlowReceived {
    /// The flow's one-way latency histogram (ns), behind the summary in `latency`.
    pub fn latency_histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    fn from_tally(flow: u32, t: FlowTally) -> FlowReceived {
        FlowReceived {
            flow,
            received: t.frames,
            bytes: t.bytes,
            unique: t.unique,
            lost: (t.highest + 1).saturating_sub(t.unique),
            duplicates: t.duplicates,
            reordered: t.reordered,
            highest_sequence: t.highest,
            latency: Latency::from_histogram(&t.latency, t.latency_sum, t.negative_latency),
            first_rx_ns: t.first_rx_ns,
            last_rx_ns: t.last_rx_ns,
            pkttypes: t.pkttypes,
            tags: t
                .tags
                .into_iter()
                .map(|(tags, frames)| TagsSeen { tags, frames })
                .collect(),
            other_tags: t.other_tags,
            source: (!t.distinct_source).then_some(t.first_source),
            histogram: t.latency,
        }
    }
}

/// What a receiver got from one source MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceReceived {
    pub mac: MacAddr,
    pub frames: u64,
    pub bytes: u64,
}

/// The accounting part of a capture's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Received {
    /// Test frames that arrived (never the host's own OUTGOING frames).
    pub test_frames: u64,
    pub flows: Vec<FlowReceived>,
    /// Per source MAC, sorted; without the sources of `sweep`.
    pub sources: Vec<SourceReceived>,
    /// Frames per MAC of the sweep the receiver was told to expect, by sweep index.
    #[serde(skip)]
    pub sweep: Option<SweepReceived>,
    pub foreign: Foreign,
    /// The host's own outgoing frames seen on the interface (only when asked for).
    pub outgoing: u64,
    pub untracked_flow_frames: u64,
    pub untracked_mac_frames: u64,
}

impl Received {
    /// Latency over every flow, merged from the per-flow histograms.
    pub fn overall_latency(&self) -> Latency {
        let mut h = histogram();
        let mut sum = 0u128;
        let mut negative = 0;
        for f in &self.flows {
            let _ = h.add(&f.histogram);
            sum += (f.latency.mean_ns * f.latency.samples as f64) as u128;
            negative += f.latency.negative;
        }
        Latency::from_histogram(&h, sum, negative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wire::{FrameHeader, PayloadKind};

    fn frame(flow: u32, seq: u64, src: u8) -> TestFrame {
        TestFrame {
            header: FrameHeader {
                dst: MacAddr::BROADCAST,
                src: MacAddr([2, 0, 0, 0, 0, src]),
                tags: Tags::NONE,
                ethertype: 0x88b5,
                kind: PayloadKind::Raw { ethertype: 0x88b5 },
                payload_offset: 14,
            },
            flow,
            sequence: seq,
            timestamp_ns: 1_000,
        }
    }

    fn feed(t: &mut Tally, flow: u32, seqs: &[u64]) {
        for &s in seqs {
            let f = frame(flow, s, 1);
            t.record(&Arrival {
                frame: &f,
                len: 60,
                rx_ns: 1_000 + 500 * (s + 1),
                pkttype: pkttype::HOST,
            });
        }
    }

    #[test]
    fn in_order_stream_has_no_loss_dup_or_reorder() {
        let mut t = Tally::new(Limits::default());
        feed(&mut t, 1, &(0..10_000).collect::<Vec<_>>());
        let r = t.finish();
        let f = &r.flows[0];
        assert_eq!(
            (f.received, f.unique, f.lost, f.duplicates, f.reordered),
            (10_000, 10_000, 0, 0, 0)
        );
        assert_eq!(f.latency.min_ns, 500);
        assert_eq!(f.pkttypes.host, 10_000);
        assert_eq!(r.sources[0].frames, 10_000);
    }

    #[test]
    fn gaps_duplicates_and_late_frames() {
        let mut t = Tally::new(Limits::default());
        // 3 lost at first, then filled late; 7 duplicated; 9 never arrives.
        feed(&mut t, 1, &[0, 1, 2, 4, 5, 6, 7, 7, 3, 8, 10]);
        let f = &t.finish().flows[0];
        assert_eq!(f.received, 11);
        assert_eq!(f.unique, 10);
        assert_eq!(f.duplicates, 1);
        assert_eq!(f.reordered, 1);
        assert_eq!(f.lost, 1);
        assert_eq!(f.highest_sequence, 10);
    }

    #[test]
    fn window_shifts_across_words_and_far_jumps() {
        let mut t = Tally::new(Limits::default());
        feed(&mut t, 1, &[0, 100, 50, 100, 5000, 4999, 904, 903]);
        let f = &t.finish().flows[0];
        // 100 repeats: a duplicate; 50 and 4999 fill gaps late; 904 and 903 are older than the
        // window: counted as late, not checked for duplicates.
        assert_eq!(f.duplicates, 1);
        assert_eq!(f.reordered, 4);
        assert_eq!(f.unique, 7);
        assert_eq!(f.lost, 5001 - 7);
    }

    #[test]
    fn limits_bound_flows_and_macs() {
        let mut t = Tally::new(Limits {
            max_flows: 2,
            max_macs: 3,
        });
        for i in 0..5u8 {
            let f = frame(u32::from(i), 0, i);
            t.record(&Arrival {
                frame: &f,
                len: 60,
                rx_ns: 2_000,
                pkttype: pkttype::BROADCAST,
            });
        }
        let r = t.finish();
        assert_eq!(r.flows.len(), 2);
        assert_eq!(r.untracked_flow_frames, 3);
        assert_eq!(r.sources.len(), 3);
        assert_eq!(r.untracked_mac_frames, 2);
        assert_eq!(r.test_frames, 5);
    }

    #[test]
    fn a_known_sweep_is_counted_by_index_beside_the_table() {
        let sweep = MacSweep {
            base: MacAddr([2, 0, 0, 0, 0, 0]),
            count: 4,
            order: crate::engine::sweep::SweepOrder::Sequential,
        };
        let mut a = Tally::new(Limits::default()).counting_sweep(sweep);
        let mut b = Tally::new(Limits::default()).counting_sweep(sweep);
        // Sources 02:..:00 to 02:..:05: the first four are the sweep's.
        for src in [0u8, 1, 1, 3, 5] {
            let f = frame(1, u64::from(src), src);
            a.record(&Arrival {
                frame: &f,
                len: 60,
                rx_ns: 2_000,
                pkttype: pkttype::HOST,
            });
        }
        let f = frame(1, 9, 2);
        b.record(&Arrival {
            frame: &f,
            len: 60,
            rx_ns: 2_000,
            pkttype: pkttype::HOST,
        });
        a.merge(b);
        let r = a.finish();
        let counted = r.sweep.as_ref().unwrap();
        assert_eq!(counted.frames, [1, 2, 1, 1]);
        assert_eq!(counted.memory_bytes(), 16);
        assert_eq!(r.sources.len(), 1, "only 02:..:05 is outside the sweep");
        assert_eq!(r.sources[0].mac, MacAddr([2, 0, 0, 0, 0, 5]));
        assert_eq!(r.test_frames, 6);
        assert_eq!(r.flows[0].received, 6);
    }

    #[test]
    fn a_million_swept_macs_take_four_megabytes_and_no_table() {
        let sweep = MacSweep {
            base: MacAddr([6, 0, 0, 0, 0, 0]),
            count: 1_000_000,
            order: crate::engine::sweep::SweepOrder::Random { seed: 3 },
        };
        let mut t = Tally::new(Limits::default()).counting_sweep(sweep);
        let mut f = frame(1, 0, 0);
        for i in 0..sweep.count {
            f.header.src = sweep.mac(i);
            f.sequence = i;
            t.record(&Arrival {
                frame: &f,
                len: 60,
                rx_ns: 2_000,
                pkttype: pkttype::HOST,
            });
        }
        let r = t.finish();
        let counted = r.sweep.unwrap();
        assert_eq!(counted.memory_bytes(), 4_000_000);
        assert!(counted.frames.iter().all(|&n| n == 1));
        assert!(r.sources.is_empty());
        assert_eq!(r.untracked_mac_frames, 0);
    }

    #[test]
    fn merged_threads_add_up() {
        let mut a = Tally::new(Limits::default());
        let mut b = Tally::new(Limits::default());
        feed(&mut a, 1, &[0, 2, 4]);
        feed(&mut b, 1, &[1, 3, 5]);
        feed(&mut b, 2, &[0]);
        a.merge(b);
        let r = a.finish();
        assert_eq!(r.flows.len(), 2);
        let f = &r.flows[0];
        assert_eq!((f.received, f.unique, f.lost), (6, 6, 0));
        assert_eq!(f.latency.samples, 6);
        assert_eq!(r.overall_latency().samples, 7);
    }
}
