//! Capturing test frames. Owns the capture lifecycle (`Capture::start` opens the ring inside the
//! namespace and returns only once it listens, so a caller may send right after; `stop`/`wait`
//! end it and return a `CaptureReport`; the caller's `Stop` ends it too), the receive loop over a TPACKET_V3 ring (kernel
//! timestamps, tags recovered from the ring header, packet types so a host's own OUTGOING
//! frames are never counted as arrivals), optional fanout over several threads whose tallies
//! are merged at the end, the kernel's drop counters, and optional pcapng output. Counting
//! itself is `account`'s; parsing is `wire`'s.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::account::{Arrival, Latency, Limits, Received, Tally};
use super::pcap::PcapWriter;
use super::sweep::MacSweep;
use super::sys::{self, Listen, RingConfig, RingStatistics, RxRing, pkttype};
use super::wire::{VLAN_TAG_LEN, VlanTag, parse_test_frame};
use super::{Attachment, EngineError};
use crate::stop::Stop;

/// Enough for every header the parser reads and the test payload after them.
pub const DEFAULT_SNAPLEN: u32 = 256;

/// What a capture does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureSpec {
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many test frames.
    pub count: Option<u64>,
    /// Hold PACKET_MR_PROMISC on the interface while capturing.
    pub promiscuous: bool,
    /// Also read the host's own outgoing frames (counted apart, written to the pcap file);
    /// without it the kernel does not even copy them (PACKET_IGNORE_OUTGOING).
    pub include_outgoing: bool,
    /// Write every frame read to this pcapng file.
    pub pcap: Option<PathBuf>,
    /// Keep only this many bytes of each frame (headers and payload fit in 256): the ring then
    /// holds several times more frames and the kernel copies less. `None` keeps whole frames.
    pub snaplen: Option<u32>,
    /// Receive threads (PACKET_FANOUT by flow hash) on 1; no pcap with more than one.
    pub threads: usize,
    pub ring_block_size: usize,
    pub ring_blocks: usize,
    /// How long the kernel holds a partly filled ring block.
    pub ring_block_timeout: Duration,
    pub limits: Limits,
    /// Count this sweep's source MACs by index (see `account`): bounded memory for sweeps of
    /// up to `account::MAX_SWEEP_COUNTED` MACs.
    pub sweep: Option<MacSweep>,
}

impl CaptureSpec {
    /// An empty tally as this capture counts.
    fn tally(&self) -> Tally {
        let tally = Tally::new(self.limits);
        match self.sweep {
            Some(s) => tally.counting_sweep(s),
            None => tally,
        }
    }
}

impl Default for CaptureSpec {
    fn default() -> Self {
        CaptureSpec {
            duration: None,
            count: None,
            promiscuous: false,
            include_outgoing: false,
            pcap: None,
            snaplen: Some(DEFAULT_SNAPLEN),
            threads: 1,
            ring_block_size: 1 << 20,
            ring_blocks: 32,
            ring_block_timeout: Duration::from_millis(10),
            limits: Limits::default(),
            sweep: None,
        }
    }
}

/// The kernel's own counters of the capture sockets (PACKET_STATISTICS, summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KernelCounters {
    /// Frames the kernel had for the sockets: read from the rings plus dropped.
    pub packets: u64,
    /// Frames the kernel dropped because a ring was full: lost to the capture, not the network.
    pub drops: u64,
    pub freeze_q: u64,
}

/// VLAN tag stacks seen on test frames over the whole capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TagDepths {
    pub untagged: u64,
    pub single: u64,
    pub double: u64,
    /// Of the tagged ones: frames whose outer tag the kernel had moved into metadata.
    pub recovered_from_metadata: u64,
}

/// What a capture saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureReport {
    pub iface: String,
    pub elapsed_ns: u64,
    /// Every frame read from the rings (test frames, foreign ones, and outgoing ones if asked).
    pub frames: u64,
    pub kernel: KernelCounters,
    #[serde(flatten)]
    pub received: Received,
    pub tag_depths: TagDepths,
    /// One-way latency over all flows: kernel receive time minus the payload's send time.
    pub latency: Latency,
    pub pcap: Option<PathBuf>,
    pub pcap_frames: u64,
    pub promiscuous: bool,
}

/// Starts captures.
#[derive(Debug)]
pub struct Capture;

/// A running capture.
#[derive(Debug)]
pub struct CaptureHandle {
    iface: String,
    spec: CaptureSpec,
    /// Set by `stop` (or a drop) of this capture alone.
    ended: Stop,
    /// Test frames counted so far by every thread.
    counted: Arc<AtomicU64>,
    started: Instant,
    threads: Vec<JoinHandle<Result<LoopResult, EngineError>>>,
}

struct LoopResult {
    tally: Tally,
    frames: u64,
    kernel: RingStatistics,
    tag_depths: TagDepths,
    pcap_frames: u64,
}

/// `bytes * count` in MiB, for messages.
fn ring_size(bytes: usize, count: usize) -> String {
    format!("{} MiB", bytes as u128 * count as u128 / (1 << 20))
}

/// Refuses rings that together ask for more memory than the machine has: the kernel would
/// refuse them (ENOMEM) or take the memory every other process needs.
fn check_ring_memory(spec: &CaptureSpec) -> Result<(), EngineError> {
    let asked = (spec.ring_block_size as u128)
        .saturating_mul(spec.ring_blocks as u128)
        .saturating_mul(spec.threads as u128);
    match sys::physical_memory() {
        Some(memory) if asked > u128::from(memory) => Err(EngineError::BadSpec(format!(
            "{} receive ring(s) of {} each are more than this machine's {} MiB of memory; ask for a smaller ring or fewer threads",
            spec.threads,
            ring_size(spec.ring_block_size, spec.ring_blocks),
            memory >> 20
        ))),
        _ => Ok(()),
    }
}

impl Capture {
    /// Opens the ring(s) on `at` and starts reading. When this returns, the capture listens.
    /// It reads until its duration or count, its handle's `stop`, or `stop` here.
    pub fn start(
        at: &Attachment,
        spec: CaptureSpec,
        stop: &Stop,
    ) -> Result<CaptureHandle, EngineError> {
        if spec.threads == 0 || (spec.threads > 1 && spec.pcap.is_some()) {
            return Err(EngineError::BadSpec(
                "a capture needs at least one thread, and exactly one when it writes a pcap file"
                    .into(),
            ));
        }
        if spec.snaplen.is_some_and(|n| n < DEFAULT_SNAPLEN / 2) {
            return Err(EngineError::BadSpec(format!(
                "a snap length below {} bytes could cut test payloads short",
                DEFAULT_SNAPLEN / 2
            )));
        }
        if spec
            .sweep
            .is_some_and(|s| s.count > super::account::MAX_SWEEP_COUNTED)
        {
            return Err(EngineError::BadSpec(format!(
                "a capture counts at most {} swept MACs by index",
                super::account::MAX_SWEEP_COUNTED
            )));
        }
        if spec.duration == Some(Duration::ZERO) || spec.count == Some(0) {
            return Err(EngineError::BadSpec(
                "a capture's duration and count must be above zero".into(),
            ));
        }
        if spec.ring_blocks == 0
            || !spec.ring_block_size.is_power_of_two()
            || spec.ring_block_size < 4096
        {
            return Err(EngineError::BadSpec(
                "ring blocks must be a power of two of at least 4096 bytes, and at least one"
                    .into(),
            ));
        }
        check_ring_memory(&spec)?;
        let mut pcap = match &spec.pcap {
            Some(path) => Some(
                PcapWriter::create(path, &at.iface)
                    .map_err(|e| EngineError::BadSpec(format!("pcap file: {e}")))?,
            ),
            None => None,
        };
        let group = (std::process::id() as u16) ^ (sys::realtime_ns() as u16);
        let mut rings = Vec::with_capacity(spec.threads);
        for _ in 0..spec.threads {
            let socket = at.socket(Listen::Nothing)?;
            if !spec.include_outgoing {
                socket
                    .set_ignore_outgoing()
                    .map_err(|e| EngineError::Unsupported {
                        what: "PACKET_IGNORE_OUTGOING".into(),
                        source: e,
                    })?;
            }
            let ring = RxRing::new(
                socket,
                RingConfig {
                    block_size: spec.ring_block_size,
                    block_count: spec.ring_blocks,
                    block_timeout: spec.ring_block_timeout,
                },
            )
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::Unsupported => EngineError::Unsupported {
                    what: "a TPACKET_V3 receive ring".into(),
                    source: e,
                },
                std::io::ErrorKind::OutOfMemory => EngineError::BadSpec(format!(
                    "the kernel cannot give a receive ring of {} ({e}); ask for a smaller ring",
                    ring_size(spec.ring_block_size, spec.ring_blocks)
                )),
                _ => EngineError::io("setting up the receive ring")(e),
            })?;
            if let Some(bytes) = spec.snaplen {
                ring.socket()
                    .set_snaplen(bytes)
                    .map_err(EngineError::io("setting the snap length"))?;
            }
            if spec.promiscuous {
                ring.socket()
                    .set_promiscuous()
                    .map_err(EngineError::io("making the interface promiscuous"))?;
            }
            ring.socket()
                .listen_all()
                .map_err(EngineError::io("binding the capture socket"))?;
            if spec.threads > 1 {
                ring.socket()
                    .join_fanout(group)
                    .map_err(|e| EngineError::Unsupported {
                        what: "PACKET_FANOUT".into(),
                        source: e,
                    })?;
            }
            rings.push(ring);
        }
        let counted = Arc::new(AtomicU64::new(0));
        // The handle exists before its threads: a thread that cannot start drops it, which
        // stops and joins those already reading.
        let mut handle = CaptureHandle {
            iface: at.iface.clone(),
            threads: Vec::with_capacity(rings.len()),
            spec,
            ended: Stop::new(),
            counted: counted.clone(),
            started: Instant::now(),
        };
        for (i, ring) in rings.into_iter().enumerate() {
            let ctx = LoopContext {
                ended: handle.ended.clone(),
                stop: stop.clone(),
                counted: counted.clone(),
                spec: handle.spec.clone(),
                started: handle.started,
                pcap: pcap.take(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("capture-{}-{i}", at.iface))
                .spawn(move || ctx.run(ring))
                .map_err(EngineError::io("starting a capture thread"))?;
            handle.threads.push(thread);
        }
        Ok(handle)
    }
}

impl Drop for CaptureHandle {
    /// A capture given up without `stop` or `wait` (an error elsewhere, a panic) still ends:
    /// its threads stop and are joined, so its sockets, ring and promiscuity are released and
    /// no namespace is held open by them.
    fn drop(&mut self) {
        self.ended.request();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// How long captures must count nothing new before `settle` calls the path quiet: well past a
/// ring block's timeout, after which the kernel hands over a partly filled block.
const QUIET: Duration = Duration::from_millis(150);
/// How often `settle` looks.
const SETTLE_POLL: Duration = Duration::from_millis(25);

/// Frames waiting in the CPUs' input backlogs, summed (/proc/net/softnet_stat's twelfth column,
/// printed by kernels from 5.10 on; 0 where it is absent).
fn parse_backlog_queued(softnet_stat: &str) -> u64 {
    softnet_stat
        .lines()
        .filter_map(|l| l.split_whitespace().nth(11))
        .filter_map(|f| u64::from_str_radix(f, 16).ok())
        .sum()
}

fn backlog_queued() -> u64 {
    parse_backlog_queued(&std::fs::read_to_string("/proc/net/softnet_stat").unwrap_or_default())
}

/// Waits until `captures` have counted no new test frame for a while and no CPU's input backlog
/// holds a frame (the kernel has delivered what was sent, wherever it queued it, and handed
/// over every partly filled block), at most `limit`, or until `stop` is requested. A fixed
/// pause is too short on a slow or emulated machine and needlessly long on a fast one; quiet
/// captures alone are not enough where the softirq that empties the backlogs waits behind busy
/// threads. Returns how long it waited.
pub fn settle(captures: &[&CaptureHandle], limit: Duration, stop: &Stop) -> Duration {
    let started = Instant::now();
    let quiet = QUIET.max(captures.iter().fold(Duration::ZERO, |q, c| {
        q.max(3 * c.spec.ring_block_timeout + 2 * POLL)
    }));
    let total = || -> u64 { captures.iter().map(|c| c.arrivals()).sum() };
    let (mut last, mut since) = (total(), Instant::now());
    while started.elapsed() < limit {
        if stop.sleep(SETTLE_POLL) {
            break;
        }
        let now = total();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet && backlog_queued() == 0 {
            break;
        }
    }
    started.elapsed()
}

impl CaptureHandle {
    /// Test frames counted so far.
    pub fn arrivals(&self) -> u64 {
        self.counted.load(Ordering::Relaxed)
    }

    /// Ends the capture now (after the kernel hands over its last partly filled block).
    pub fn stop(self) -> Result<CaptureReport, EngineError> {
        self.ended.request();
        self.wait()
    }

    /// Waits for the capture's own end: its duration, its count, or the `Stop` it was given.
    pub fn wait(mut self) -> Result<CaptureReport, EngineError> {
        let mut tally: Option<Tally> = None;
        let mut frames = 0;
        let mut kernel = KernelCounters::default();
        let mut tag_depths = TagDepths::default();
        let mut pcap_frames = 0;
        // In order (a pcap writer is on the first); threads not yet joined when one fails
        // are stopped and joined by the drop.
        while !self.threads.is_empty() {
            let thread = self.threads.remove(0);
            let r = thread.join().map_err(|_| {
                EngineError::io("capture")(std::io::Error::other("a capture thread panicked"))
            })??;
            frames += r.frames;
            kernel.packets += r.kernel.packets;
            kernel.drops += r.kernel.drops;
            kernel.freeze_q += r.kernel.freeze_q;
            tag_depths.untagged += r.tag_depths.untagged;
            tag_depths.single += r.tag_depths.single;
            tag_depths.double += r.tag_depths.double;
            tag_depths.recovered_from_metadata += r.tag_depths.recovered_from_metadata;
            pcap_frames += r.pcap_frames;
            match &mut tally {
                Some(t) => t.merge(r.tally),
                None => tally = Some(r.tally),
            }
        }
        let received = tally.unwrap_or_else(|| self.spec.tally()).finish();
        Ok(CaptureReport {
            iface: std::mem::take(&mut self.iface),
            elapsed_ns: self.started.elapsed().as_nanos() as u64,
            frames,
            kernel,
            latency: received.overall_latency(),
            received,
            tag_depths,
            pcap: self.spec.pcap.clone(),
            pcap_frames,
            promiscuous: self.spec.promiscuous,
        })
    }
}

struct LoopContext {
    /// This capture's own end (`CaptureHandle::stop`).
    ended: Stop,
    /// The caller's stop.
    stop: Stop,
    counted: Arc<AtomicU64>,
    spec: CaptureSpec,
    started: Instant,
    pcap: Option<PcapWriter<std::io::BufWriter<std::fs::File>>>,
}

/// How long one wait on the ring lasts before the loop checks whether to stop.
const POLL: Duration = Duration::from_millis(20);

impl LoopContext {
    fn should_stop(&self) -> bool {
        self.ended.requested()
            || self.stop.requested()
            || self
                .spec
                .duration
                .is_some_and(|d| self.started.elapsed() >= d)
            || self
                .spec
                .count
                .is_some_and(|c| self.counted.load(Ordering::Relaxed) >= c)
    }

    fn run(mut self, mut ring: RxRing) -> Result<LoopResult, EngineError> {
        let mut tally = self.spec.tally();
        let mut frames = 0u64;
        let mut tag_depths = TagDepths::default();
        let mut pcap_error = None;
        let mut drain_until: Option<Instant> = None;
        let mut late_blocks = 0;
        loop {
            if drain_until.is_none() && self.should_stop() {
                // The kernel hands over a partly filled block after its timeout: wait for it.
                drain_until = Some(Instant::now() + 3 * self.spec.ring_block_timeout + POLL);
            }
            if drain_until.is_some_and(|t| Instant::now() >= t) {
                // A thread kept off the CPU through the whole drain (a loaded emulated machine
                // left 210 frames of a sweep unread that way) still reads what the ring holds,
                // at most one ring's worth, so traffic that keeps coming cannot hold it open.
                if ring.nothing_pending() || late_blocks >= self.spec.ring_blocks {
                    break;
                }
                late_blocks += 1;
            }
            // The caller's stop (a signal) ends the drain once the ring holds nothing more,
            // without waiting out block timeouts for frames that are not there.
            if drain_until.is_some() && self.stop.requested() && ring.nothing_pending() {
                break;
            }
            let counted_before = tally.arrivals();
            ring.next_block(POLL, |f| {
                frames += 1;
                let stripped = f.vlan.map(|(tpid, tci)| VlanTag::from_tci(tpid, tci));
                if let (Some(pcap), None) = (&mut self.pcap, &pcap_error) {
                    if let Err(e) = pcap.write_frame(f.timestamp_ns, f.data, f.wire_len, stripped) {
                        pcap_error = Some(e);
                    }
                }
                if f.pkttype == pkttype::OUTGOING {
                    tally.outgoing += 1;
                    return;
                }
                match parse_test_frame(f.data, stripped) {
                    Ok(frame) => {
                        let depth = frame.header.tags.len();
                        match depth {
                            0 => tag_depths.untagged += 1,
                            1 => tag_depths.single += 1,
                            _ => tag_depths.double += 1,
                        }
                        if stripped.is_some() {
                            tag_depths.recovered_from_metadata += 1;
                        }
                        tally.record(&Arrival {
                            frame: &frame,
                            len: f.wire_len + if stripped.is_some() { VLAN_TAG_LEN } else { 0 },
                            rx_ns: f.timestamp_ns,
                            pkttype: f.pkttype,
                        });
                    }
                    Err(e) if e.is_damaged() => tally.foreign.damaged += 1,
                    Err(_) => tally.foreign.not_test += 1,
                }
            })
            .map_err(EngineError::io("reading the receive ring"))?;
            let new = tally.arrivals() - counted_before;
            if new > 0 {
                self.counted.fetch_add(new, Ordering::Relaxed);
            }
        }
        let kernel = ring
            .socket()
            .take_statistics()
            .map_err(EngineError::io("reading the capture's kernel counters"))?;
        let mut pcap_frames = 0;
        if let Some(pcap) = self.pcap.take() {
            if let Some(e) = pcap_error {
                return Err(EngineError::io("writing the pcap file")(e));
            }
            pcap_frames = pcap
                .finish()
                .map_err(EngineError::io("writing the pcap file"))?;
        }
        Ok(LoopResult {
            tally,
            frames,
            kernel,
            tag_depths,
            pcap_frames,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Outcome;

    /// Two CPUs of a 6.1 kernel's softnet_stat (13 columns: the twelfth is the backlog's
    /// length, the thirteenth the CPU), and a line of an older kernel without them.
    #[test]
    fn the_backlog_length_is_summed_over_every_cpu() {
        let cpu = |queued: &str, index: &str| {
            format!(
                "00022777 00000000 00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 {queued} {index}\n"
            )
        };
        let text = cpu("0000001f", "00000000") + &cpu("00000002", "00000001");
        assert_eq!(parse_backlog_queued(&text), 33);
        assert_eq!(parse_backlog_queued(&cpu("00000000", "00000001")), 0);
        assert_eq!(
            parse_backlog_queued("0000000a 00000002 00000001 00000000\n"),
            0
        );
    }

    #[test]
    fn rings_larger_than_the_machine_are_a_bad_request() {
        let fits = CaptureSpec::default();
        assert!(check_ring_memory(&fits).is_ok());
        for (blocks, threads) in [
            (1_000_000, 1),
            (usize::MAX, 1),
            (32, usize::MAX),
            (usize::MAX, usize::MAX),
        ] {
            let huge = CaptureSpec {
                ring_blocks: blocks,
                threads,
                ..CaptureSpec::default()
            };
            let e = check_ring_memory(&huge).unwrap_err();
            assert_eq!(e.outcome(), Outcome::BadInput, "{e}");
            assert!(e.to_string().contains("of memory"), "{e}");
        }
    }
}
