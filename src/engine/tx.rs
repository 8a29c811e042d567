//! Sending test frames (what a flow is lives in `flow`). Owns the per-flow frame templates (built once: the
//! Ethernet header through `wire`, IP/UDP/ARP with etherparse; per frame only the MACs, VID,
//! sequence, timestamp, check and UDP checksum are patched in place), pacing, and the batched
//! send loop: frames are written into a buffer for `sendmmsg` (or straight into a TPACKET_V2
//! transmit ring) and sent with one syscall per batch, with PACKET_QDISC_BYPASS, one socket per
//! thread. It allocates nothing per frame and never receives: a send-only socket has no receive
//! queue at all.

use std::time::{Duration, Instant};

use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpNumber, Ipv4Header, Ipv6FlowLabel,
    Ipv6Header, UdpHeader,
};
use serde::Serialize;

use super::sys::{self, Listen, MAX_BATCH, PacketSocket, TxRing};
use super::wire::{
    self, EthernetFrame, EthernetHeader, MAX_HEADER_LEN, PAYLOAD_LEN, ParseError, PayloadKind,
    Tags, TestPayload, VlanTag,
};
use super::{Attachment, EngineError};
use crate::addr::MacAddr;
use crate::stop::Stop;
use crate::units::{FCS_LEN, L1_OVERHEAD, Rate};

/// What a send is made of, where the callers of `send` have always found it.
pub use super::flow::{
    FlowSpec, FrameSizes, IMIX, IpEnds, MacSource, SendPlan, TxPath, frame_bits,
};
pub use super::sweep::{MacSweep, SweepOrder};

/// What one flow sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlowSent {
    pub flow: u32,
    pub frames: u64,
    pub bytes: u64,
    /// Distinct source MACs used.
    pub source_macs: u64,
}

/// What a `send` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SendReport {
    pub iface: String,
    pub threads: usize,
    pub frames: u64,
    /// Frame bytes without FCS.
    pub bytes: u64,
    /// From the start to the last frame handed to the kernel (the slowest thread's).
    pub elapsed_ns: u64,
    pub frames_per_second: f64,
    /// Bits per second counting the FCS.
    pub l2_bits_per_second: f64,
    /// Bits per second counting FCS, preamble and inter-frame gap.
    pub l1_bits_per_second: f64,
    /// Times the kernel refused a frame for lack of buffer space; each was sent again.
    pub retries: u64,
    pub flows: Vec<FlowSent>,
}

/// A frame built once; per frame only fixed offsets change.
#[derive(Debug)]
struct Template {
    bytes: Vec<u8>,
    payload_at: usize,
    /// Offset of the UDP checksum and the unfolded sum of everything it covers but the payload.
    udp_checksum: Option<(usize, u32)>,
}

fn build_template(spec: &FlowSpec, src: MacAddr, size: usize) -> Result<Template, String> {
    let err = |e: &dyn std::fmt::Display| format!("flow {}: building a frame: {e}", spec.flow);
    let header = EthernetHeader {
        dst: spec.dst,
        src,
        tags: Tags::from_slice(&spec.tags).map_err(|e| err(&e))?,
        ethertype: spec.kind.ethertype(),
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let l2 = header.emit(&mut head);
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&head[..l2]);
    let udp_len = size.saturating_sub(l2 + spec.kind.l3_len()) + UdpHeader::LEN;
    let zero_payload = vec![0u8; udp_len - UdpHeader::LEN];
    let mut udp_checksum = None;
    match spec.kind {
        PayloadKind::Ipv4Udp => {
            let mut ip = Ipv4Header::new(
                udp_len as u16,
                64,
                IpNumber::UDP,
                spec.ip.src4.octets(),
                spec.ip.dst4.octets(),
            )
            .map_err(|e| err(&e))?;
            ip.header_checksum = ip.calc_header_checksum();
            let udp =
                UdpHeader::with_ipv4_checksum(spec.ip.sport, spec.ip.dport, &ip, &zero_payload)
                    .map_err(|e| err(&e))?;
            bytes.extend(ip.to_bytes());
            udp_checksum = Some((bytes.len() + 6, u32::from(!udp.checksum)));
            bytes.extend(udp.to_bytes());
        }
        PayloadKind::Ipv6Udp => {
            let ip = Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::ZERO,
                payload_length: udp_len as u16,
                next_header: IpNumber::UDP,
                hop_limit: 64,
                source: spec.ip.src6.octets(),
                destination: spec.ip.dst6.octets(),
            };
            let udp =
                UdpHeader::with_ipv6_checksum(spec.ip.sport, spec.ip.dport, &ip, &zero_payload)
                    .map_err(|e| err(&e))?;
            bytes.extend(ip.to_bytes());
            udp_checksum = Some((bytes.len() + 6, u32::from(!udp.checksum)));
            bytes.extend(udp.to_bytes());
        }
        PayloadKind::Arp => {
            let arp = ArpPacket::new(
                ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                ArpOperation::REQUEST,
                &src.0,
                &spec.ip.src4.octets(),
                &[0; 6],
                &spec.ip.dst4.octets(),
            )
            .map_err(|e| err(&e))?;
            bytes.extend(arp.to_bytes());
        }
        PayloadKind::Raw { .. } => {}
    }
    let payload_at = bytes.len();
    bytes.resize(size, 0);
    let mut view = TestPayload::new_unchecked_mut(&mut bytes[payload_at..])
        .ok_or_else(|| err(&"frame too short for the test payload"))?;
    view.emit_header(spec.kind);
    Ok(Template {
        bytes,
        payload_at,
        udp_checksum,
    })
}

/// A flow being sent by one thread.
struct FlowRun {
    flow: u32,
    templates: Vec<Template>,
    /// Index into `templates` per frame, in turn.
    size_cycle: Vec<usize>,
    sweep: Option<MacSweep>,
    dst_sweep: Option<MacSweep>,
    /// The outermost tag and how many VIDs from its own it sweeps.
    vid_sweep: Option<(VlanTag, u16)>,
    rate: Rate,
    /// The attachment's cap, as this flow's smallest gap between frames (ns).
    min_gap: f64,
    burst: u64,
    remaining: Option<u64>,
    seq: u64,
    /// Nanoseconds after the start at which the current burst is due.
    burst_due: f64,
    /// Pacing time used so far.
    paced: f64,
    bytes: u64,
}

impl FlowRun {
    fn new(spec: &FlowSpec, own_mac: MacAddr, min_gap: f64) -> Result<FlowRun, String> {
        let src = match &spec.src {
            MacSource::Interface => own_mac,
            MacSource::Fixed(m) => *m,
            MacSource::Sweep(s) => s.mac(0),
        };
        let cycle = spec.sizes.cycle();
        let mut distinct: Vec<usize> = cycle.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let templates = distinct
            .iter()
            .map(|&size| build_template(spec, src, size))
            .collect::<Result<Vec<_>, _>>()?;
        let size_cycle = cycle
            .iter()
            .map(|s| distinct.binary_search(s).unwrap_or(0))
            .collect();
        Ok(FlowRun {
            flow: spec.flow,
            templates,
            size_cycle,
            sweep: match &spec.src {
                MacSource::Sweep(s) => Some(*s),
                _ => None,
            },
            dst_sweep: spec.dst_sweep,
            vid_sweep: spec
                .vid_sweep
                .zip(spec.tags.first())
                .map(|(n, tag)| (*tag, n)),
            rate: spec.rate,
            min_gap,
            burst: u64::from(spec.burst),
            remaining: spec.count,
            seq: 0,
            burst_due: spec.start.as_nanos() as f64,
            paced: spec.start.as_nanos() as f64,
            bytes: 0,
        })
    }

    fn active(&self) -> bool {
        self.remaining != Some(0)
    }

    /// The next frame's swept source and destination MACs and outermost VID, written into
    /// `frame` (a copy of a template, which holds every tag).
    fn rewrite_header(&self, frame: &mut [u8]) -> Result<(), ParseError> {
        let mut eth = EthernetFrame::new_checked(frame)?;
        if let Some(s) = &self.sweep {
            eth.set_src(s.mac(self.seq % s.count));
        }
        if let Some(s) = &self.dst_sweep {
            eth.set_dst(s.mac(self.seq % s.count));
        }
        if let Some((tag, n)) = self.vid_sweep {
            let swept = VlanTag {
                vid: tag.vid + (self.seq % u64::from(n)) as u16,
                ..tag
            };
            eth.set_tag(0, swept)?;
        }
        Ok(())
    }

    /// Writes the next frame into `slot`, stamped with `now_ns`; returns its length. `held`
    /// says which template the slot already holds (this flow is `me`): when it is the same one,
    /// only the per-frame fields are written, not the whole frame.
    fn emit(&mut self, slot: &mut [u8], now_ns: u64, held: &mut Held, me: usize) -> usize {
        let which = self.size_cycle[(self.seq % self.size_cycle.len() as u64) as usize];
        let t = &self.templates[which];
        let len = t.bytes.len();
        let (payload_at, udp_checksum) = (t.payload_at, t.udp_checksum);
        if *held != Some((me, which)) {
            slot[..len].copy_from_slice(&t.bytes);
            *held = Some((me, which));
        }
        let rewritten = self.rewrite_header(&mut slot[..len]);
        debug_assert!(rewritten.is_ok(), "a template holds its whole header");
        let payload = &mut slot[payload_at..payload_at + PAYLOAD_LEN];
        if let Some(mut view) = TestPayload::new_unchecked_mut(&mut *payload) {
            view.stamp(self.flow, self.seq, now_ns);
        }
        if let Some((at, base)) = udp_checksum {
            let c = !wire::fold(base + wire::ones_complement_sum(payload));
            slot[at..at + 2].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
        }
        let gap = match self.rate {
            Rate::Max => 0.0,
            Rate::Pps(p) => 1e9 / p,
            Rate::Bits { bps, layer } => frame_bits(len, layer) as f64 * 1e9 / bps,
        };
        self.paced += gap.max(self.min_gap);
        self.seq += 1;
        if self.seq % self.burst == 0 {
            self.burst_due = self.paced;
        }
        if let Some(r) = &mut self.remaining {
            *r -= 1;
        }
        self.bytes += len as u64;
        len
    }
}

/// Sends `plan` from `at`. Returns when every flow reached its count, the duration ended, or
/// `stop` was requested (a wait for the next frame ends the moment it is).
pub fn send(at: &Attachment, plan: &SendPlan, stop: &Stop) -> Result<SendReport, EngineError> {
    let threads = plan.threads.min(plan.flows.len()).max(1);
    let mut sockets = Vec::with_capacity(threads);
    for _ in 0..threads {
        sockets.push(at.socket(Listen::Nothing)?);
    }
    let mtu = sockets[0]
        .mtu()
        .map_err(EngineError::io("reading the interface MTU"))?;
    let own_mac = match at.mac {
        Some(mac) => mac,
        None => sockets[0]
            .mac()
            .map_err(EngineError::io("reading the interface MAC"))?,
    };
    plan.validate(mtu).map_err(EngineError::BadSpec)?;
    let mut lanes: Vec<Vec<FlowRun>> = (0..threads).map(|_| Vec::new()).collect();
    // A cap on the attachment is shared evenly by its flows.
    let min_gap = at
        .max_pps
        .map_or(0.0, |cap| 1e9 * plan.flows.len() as f64 / cap);
    for (i, spec) in plan.flows.iter().enumerate() {
        lanes[i % threads]
            .push(FlowRun::new(spec, own_mac, min_gap).map_err(EngineError::BadSpec)?);
    }
    let mut sinks = Vec::with_capacity(threads);
    for (socket, lane) in sockets.into_iter().zip(&lanes) {
        let largest = lane
            .iter()
            .flat_map(|f| f.templates.iter().map(|t| t.bytes.len()))
            .max()
            .unwrap_or(0);
        sinks.push(Sink::new(socket, plan, largest)?);
    }
    let started = Instant::now();
    let cpus = if threads > 1 {
        allowed_cpus()
    } else {
        Vec::new()
    };
    let results: Vec<Result<LaneResult, EngineError>> = std::thread::scope(|s| {
        let handles: Vec<_> = lanes
            .into_iter()
            .zip(sinks)
            .enumerate()
            .map(|(i, (lane, sink))| {
                let cpu = (!cpus.is_empty()).then(|| cpus[i % cpus.len()]);
                s.spawn(move || {
                    if let Some(cpu) = cpu {
                        pin_to(cpu);
                    }
                    run_lane(sink, lane, plan, started, stop)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(EngineError::io("sending")(std::io::Error::other(
                        "a sending thread panicked",
                    )))
                })
            })
            .collect()
    });
    let mut report = SendReport {
        iface: at.iface.clone(),
        threads,
        ..SendReport::default()
    };
    let mut l1_bits = 0u64;
    for result in results {
        let lane = result?;
        report.retries += lane.retries;
        report.elapsed_ns = report.elapsed_ns.max(lane.done.as_nanos() as u64);
        for run in lane.flows {
            let frames = run.seq;
            report.frames += frames;
            report.bytes += run.bytes;
            l1_bits += 8 * (run.bytes + frames * u64::from(FCS_LEN + L1_OVERHEAD));
            report.flows.push(FlowSent {
                flow: run.flow,
                frames,
                bytes: run.bytes,
                source_macs: run.sweep.as_ref().map_or(1, |s| s.count.min(frames)),
            });
        }
    }
    report.flows.sort_by_key(|f| f.flow);
    let secs = (report.elapsed_ns as f64 / 1e9).max(1e-9);
    report.frames_per_second = report.frames as f64 / secs;
    report.l2_bits_per_second =
        8.0 * (report.bytes + report.frames * u64::from(FCS_LEN)) as f64 / secs;
    report.l1_bits_per_second = l1_bits as f64 / secs;
    Ok(report)
}

/// Transmit ring slots per batch: the kernel drains earlier batches while later ones are written.
const RING_BATCHES: usize = 8;
/// How far ahead of its due time a frame may join a batch.
const LOOKAHEAD_NS: f64 = 20_000.0;
/// Below this wait the thread spins; above it, it sleeps until this close.
const SPIN_NS: f64 = 10_000.0;

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    use nix::sched::{CpuSet, sched_getaffinity};
    use nix::unistd::Pid;
    sched_getaffinity(Pid::from_raw(0)).map_or_else(
        |_| Vec::new(),
        |set| {
            (0..CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .collect()
        },
    )
}

/// Keeps the calling thread on `cpu`: with several senders, each one and the kernel work its
/// frames cause (which runs on the sending CPU) stay off the others' CPU, as trafgen does.
/// Failure only costs speed.
fn pin_to(cpu: usize) {
    use nix::sched::{CpuSet, sched_setaffinity};
    use nix::unistd::Pid;
    let mut set = CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = sched_setaffinity(Pid::from_raw(0), &set);
    }
}

/// Which (flow, template) a slot's bytes came from, if any.
type Held = Option<(usize, usize)>;

/// Where a sending thread puts its frames: a transmit ring, or a buffer for `sendmmsg`.
/// Each keeps, per slot, which (flow, template) the slot's bytes came from, so a frame that
/// reuses a slot rewrites only the fields that change.
enum Sink {
    Ring {
        ring: TxRing,
        held: Vec<Held>,
    },
    Batch {
        socket: PacketSocket,
        buf: Vec<u8>,
        slot: usize,
        lens: Vec<usize>,
        held: Vec<Held>,
    },
}

impl Sink {
    fn new(socket: PacketSocket, plan: &SendPlan, largest: usize) -> Result<Sink, EngineError> {
        if plan.qdisc_bypass {
            socket
                .set_qdisc_bypass()
                .map_err(EngineError::io("setting PACKET_QDISC_BYPASS"))?;
        }
        socket
            .set_send_buffer(4 << 20)
            .map_err(EngineError::io("sizing the send buffer"))?;
        Ok(match plan.path {
            TxPath::Ring => {
                let ring =
                    TxRing::new(socket, largest, RING_BATCHES * plan.batch).map_err(|e| {
                        EngineError::Unsupported {
                            what: "a TPACKET_V2 transmit ring (try the sendmmsg path)".into(),
                            source: e,
                        }
                    })?;
                let held = vec![None; ring.capacity()];
                Sink::Ring { ring, held }
            }
            TxPath::Sendmmsg => Sink::Batch {
                socket,
                buf: vec![0; largest * plan.batch],
                slot: largest,
                lens: Vec::with_capacity(plan.batch),
                held: vec![None; plan.batch],
            },
        })
    }

    /// Room for the next frame and what it holds, or `None` until a flush.
    fn slot(&mut self) -> Option<(&mut [u8], &mut Held)> {
        match self {
            Sink::Ring { ring, held } => {
                let index = ring.next_index();
                Some((ring.next_slot()?, &mut held[index]))
            }
            Sink::Batch {
                buf,
                slot,
                lens,
                held,
                ..
            } => {
                let index = lens.len();
                let at = index * *slot;
                Some((buf.get_mut(at..at + *slot)?, held.get_mut(index)?))
            }
        }
    }

    fn commit(&mut self, len: usize) {
        match self {
            Sink::Ring { ring, .. } => ring.commit(len),
            Sink::Batch { lens, .. } => lens.push(len),
        }
    }

    /// Sends what was committed; `wait` until the kernel took it all (a ring otherwise only
    /// starts sending). Frames the kernel refuses for lack of buffer space are offered again
    /// (each such refusal counts in `retries`).
    fn flush(&mut self, wait: bool, retries: &mut u64) -> Result<(), EngineError> {
        match self {
            Sink::Ring { ring, .. } => ring.flush(wait).map_err(EngineError::io("sending frames")),
            Sink::Batch {
                socket,
                buf,
                slot,
                lens,
                ..
            } => {
                let mut frames: [&[u8]; MAX_BATCH] = [&[]; MAX_BATCH];
                for (k, (frame, len)) in frames.iter_mut().zip(lens.iter()).enumerate() {
                    *frame = &buf[k * *slot..k * *slot + len];
                }
                let n = lens.len();
                let mut done = 0;
                while done < n {
                    match socket.send_batch(&frames[done..n]) {
                        Ok(k) if k > 0 => done += k,
                        Ok(_) => *retries += 1,
                        Err(e)
                            if matches!(
                                e.raw_os_error(),
                                Some(libc::ENOBUFS | libc::EAGAIN | libc::EINTR)
                            ) =>
                        {
                            *retries += 1;
                            std::thread::yield_now();
                        }
                        Err(e) => return Err(EngineError::io("sending frames")(e)),
                    }
                }
                lens.clear();
                Ok(())
            }
        }
    }
}

fn run_lane(
    mut sink: Sink,
    mut flows: Vec<FlowRun>,
    plan: &SendPlan,
    started: Instant,
    stop: &Stop,
) -> Result<LaneResult, EngineError> {
    // Shorter sleeps keep pacing close; failure only costs precision.
    let _ = nix::sys::prctl::set_timerslack(1_000);
    let deadline = plan.duration.map(|d| d.as_nanos() as f64);
    let mut retries = 0u64;
    loop {
        if stop.requested() {
            break;
        }
        let now = started.elapsed().as_nanos() as f64;
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        // One clock read per batch: every frame of it leaves with the same flush.
        let stamp_ns = sys::realtime_ns();
        let mut n = 0;
        let mut next_due = f64::INFINITY;
        let mut full = false;
        while n < plan.batch {
            let pick = flows
                .iter_mut()
                .enumerate()
                .filter(|(_, f)| f.active())
                .min_by(|a, b| a.1.burst_due.total_cmp(&b.1.burst_due));
            let Some((me, flow)) = pick else { break };
            if flow.burst_due > now + LOOKAHEAD_NS {
                next_due = flow.burst_due;
                break;
            }
            let Some((slot, held)) = sink.slot() else {
                full = true;
                break;
            };
            let len = flow.emit(slot, stamp_ns, held, me);
            sink.commit(len);
            n += 1;
        }
        if n > 0 || full {
            // A full ring waits for the kernel; otherwise it keeps sending while we fill.
            sink.flush(full, &mut retries)?;
            continue;
        }
        if next_due.is_infinite() {
            break;
        }
        // Never past the end of the duration: the loop ends there whatever is due.
        let wait = next_due.min(deadline.unwrap_or(f64::INFINITY)) - now;
        if wait > SPIN_NS {
            // A wait on the stop: it ends the moment one is requested, however slow the rate.
            stop.sleep(Duration::from_nanos((wait - SPIN_NS / 2.0) as u64));
        } else {
            std::hint::spin_loop();
        }
    }
    // Whatever a ring still holds leaves before the socket closes.
    sink.flush(true, &mut retries)?;
    let done = started.elapsed();
    // Closing a packet socket waits for an RCU grace period: not sending time.
    drop(sink);
    Ok(LaneResult {
        flows,
        retries,
        done,
    })
}

/// What one sending thread did, and when it sent its last frame.
struct LaneResult {
    flows: Vec<FlowRun>,
    retries: u64,
    done: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wire::{
        ETHER_HEADER_LEN, TPID_8021AD, TPID_8021Q, VLAN_TAG_LEN, parse_test_frame,
    };
    use crate::units::Layer;

    fn mac(s: &str) -> MacAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_destination_sweep_addresses_each_frame_to_the_next_mac() {
        let sweep = MacSweep {
            base: mac("02:00:00:00:30:00"),
            count: 3,
            order: SweepOrder::Random { seed: 4 },
        };
        let spec = FlowSpec {
            dst_sweep: Some(sweep),
            ..FlowSpec::new(9, mac("02:00:00:00:00:02"), 60, Some(5))
        };
        spec.validate(1500).unwrap();
        let mut run = FlowRun::new(&spec, mac("02:00:00:00:00:01"), 0.0).unwrap();
        let mut slot = vec![0u8; 60];
        let mut held = None;
        for seq in 0..5u64 {
            let len = run.emit(&mut slot, 0, &mut held, 0);
            let t = parse_test_frame(&slot[..len], None).unwrap();
            assert_eq!(t.header.dst, sweep.mac(seq % 3));
            assert_eq!(t.header.src, mac("02:00:00:00:00:01"));
        }
        let vendor = FlowSpec {
            dst_sweep: Some(MacSweep {
                base: mac("00:11:22:00:00:00"),
                ..sweep
            }),
            ..spec
        };
        assert!(vendor.validate(1500).unwrap_err().contains("destination"));
    }

    #[test]
    fn imix_cycle_is_7_4_1_interleaved() {
        let c = FrameSizes::Imix.cycle();
        assert_eq!(c.len(), 12);
        assert_eq!(c.iter().filter(|&&s| s == 60).count(), 7);
        assert_eq!(c.iter().filter(|&&s| s == 590).count(), 4);
        assert_eq!(&c[..3], &[60, 590, 1514]);
    }

    /// Every kind, tag depth and size: the emitted frame parses back with its stamp, and the
    /// UDP checksum verifies (checked independently by etherparse's own calculation).
    #[test]
    fn emitted_frames_parse_back_with_valid_checksums() {
        let q = VlanTag::from_tci(TPID_8021Q, 100);
        let s = VlanTag::from_tci(TPID_8021AD, 200);
        for kind in [
            PayloadKind::Ipv4Udp,
            PayloadKind::Ipv6Udp,
            PayloadKind::Arp,
            PayloadKind::Raw { ethertype: 0x88b5 },
        ] {
            for tags in [vec![], vec![q], vec![s, q]] {
                let spec = FlowSpec {
                    kind,
                    tags: tags.clone(),
                    sizes: FrameSizes::List(vec![kind.min_frame_len(2), 333, 1514]),
                    src: MacSource::Sweep(MacSweep {
                        base: mac("02:00:00:00:10:00"),
                        count: 3,
                        order: SweepOrder::Sequential,
                    }),
                    vid_sweep: (!tags.is_empty()).then_some(2),
                    ..FlowSpec::new(77, mac("02:00:00:00:00:02"), 60, Some(6))
                };
                spec.validate(1500).unwrap();
                let mut run = FlowRun::new(&spec, mac("02:00:00:00:00:01"), 0.0).unwrap();
                let mut slot = vec![0u8; 1514];
                let mut held = None;
                for seq in 0..6u64 {
                    let len = run.emit(&mut slot, 1_000 + seq, &mut held, 0);
                    let frame = &slot[..len];
                    let t = parse_test_frame(frame, None).unwrap();
                    assert_eq!((t.flow, t.sequence, t.timestamp_ns), (77, seq, 1_000 + seq));
                    assert_eq!(t.header.kind, kind);
                    assert_eq!(t.header.src, spec_src(&spec, seq));
                    if let Some(first) = t.header.tags.as_slice().first() {
                        assert_eq!(first.vid, tags[0].vid + (seq % 2) as u16);
                    }
                    assert_eq!(t.header.tags.len(), tags.len());
                    verify_udp_checksum(frame, t.header.tags.len());
                }
                assert_eq!(run.remaining, Some(0));
            }
        }
    }

    #[test]
    fn a_reused_slot_gets_the_same_bytes_as_a_fresh_one() {
        let spec = FlowSpec {
            kind: PayloadKind::Ipv4Udp,
            tags: vec![VlanTag::from_tci(TPID_8021Q, 7)],
            vid_sweep: Some(3),
            src: MacSource::Sweep(MacSweep {
                base: mac("02:00:00:00:20:00"),
                count: 5,
                order: SweepOrder::Random { seed: 3 },
            }),
            ..FlowSpec::new(5, mac("02:00:00:00:00:02"), 300, Some(10))
        };
        let own = mac("02:00:00:00:00:01");
        let (mut reusing, mut fresh) = (
            FlowRun::new(&spec, own, 0.0).unwrap(),
            FlowRun::new(&spec, own, 0.0).unwrap(),
        );
        let mut slot = vec![0u8; 300];
        let mut held = None;
        for seq in 0..10u64 {
            let a = reusing.emit(&mut slot, 40 + seq, &mut held, 0);
            let mut clean = vec![0u8; 300];
            let b = fresh.emit(&mut clean, 40 + seq, &mut None, 0);
            assert_eq!(slot[..a], clean[..b], "frame {seq}");
        }
        assert_eq!(held, Some((0, 0)));
    }

    fn spec_src(spec: &FlowSpec, seq: u64) -> MacAddr {
        match &spec.src {
            MacSource::Sweep(s) => s.mac(seq % s.count),
            _ => unreachable!(),
        }
    }

    fn verify_udp_checksum(frame: &[u8], tags: usize) {
        let l3 = &frame[ETHER_HEADER_LEN + tags * VLAN_TAG_LEN..];
        match etherparse::IpSlice::from_slice(l3) {
            Ok(etherparse::IpSlice::Ipv4(ip)) => {
                let udp = etherparse::UdpSlice::from_slice(ip.payload().payload).unwrap();
                let h = udp.to_header();
                let want = h
                    .calc_checksum_ipv4(&ip.header().to_header(), udp.payload())
                    .unwrap();
                assert_eq!(h.checksum, want);
            }
            Ok(etherparse::IpSlice::Ipv6(ip)) => {
                let udp = etherparse::UdpSlice::from_slice(ip.payload().payload).unwrap();
                let h = udp.to_header();
                let want = h
                    .calc_checksum_ipv6(&ip.header().to_header(), udp.payload())
                    .unwrap();
                assert_eq!(h.checksum, want);
            }
            _ => {}
        }
    }

    /// When each of a flow's first `n` frames is due, under a cap of one frame per `min_gap` ns.
    fn capped_due_times(spec: FlowSpec, n: usize, min_gap: f64) -> Vec<f64> {
        let mut run = FlowRun::new(&spec, mac("02:00:00:00:00:01"), min_gap).unwrap();
        let mut slot = vec![0u8; 1514];
        let mut held = None;
        (0..n)
            .map(|_| {
                let due = run.burst_due;
                run.emit(&mut slot, 0, &mut held, 0);
                due
            })
            .collect()
    }

    /// A cap on the attachment (`--max-rate`) slows an unpaced or faster flow to it, and leaves
    /// a slower one alone.
    #[test]
    fn a_cap_holds_every_flow_to_its_share() {
        let flat_out = FlowSpec::new(1, MacAddr::BROADCAST, 60, None);
        assert_eq!(capped_due_times(flat_out, 3, 1e5), [0.0, 1e5, 2e5]);
        let slow = FlowSpec {
            rate: Rate::Pps(1_000.0),
            ..FlowSpec::new(1, MacAddr::BROADCAST, 60, None)
        };
        assert_eq!(capped_due_times(slow, 3, 1e5), [0.0, 1e6, 2e6]);
    }

    /// The schedule a flow keeps: every frame `1/rate` after the last, or a burst of `burst`
    /// frames due together every `burst/rate`; bit rates space frames by their size; a flow
    /// with a `start` keeps the same spacing from then.
    #[test]
    fn pacing_schedule_spaces_frames_and_bursts() {
        let due_times = |spec: FlowSpec, n: usize| capped_due_times(spec, n, 0.0);
        let even = FlowSpec {
            rate: Rate::Pps(1_000.0),
            ..FlowSpec::new(1, MacAddr::BROADCAST, 60, None)
        };
        assert_eq!(due_times(even.clone(), 3), [0.0, 1e6, 2e6]);
        let bursts = FlowSpec {
            burst: 4,
            ..even.clone()
        };
        assert_eq!(
            due_times(bursts, 9),
            [0.0, 0.0, 0.0, 0.0, 4e6, 4e6, 4e6, 4e6, 8e6]
        );
        let bits = FlowSpec {
            rate: Rate::Bits {
                bps: 1e6,
                layer: Layer::L1,
            },
            sizes: FrameSizes::List(vec![60, 1514]),
            ..FlowSpec::new(1, MacAddr::BROADCAST, 60, None)
        };
        // 60 bytes are 672 bits at L1: 672 us at 1 Mbit/s; the 1514-byte frame then 12_304 us.
        assert_eq!(due_times(bits, 3), [0.0, 672e3, 672e3 + 12_304e3]);
        let later = FlowSpec {
            start: Duration::from_micros(250),
            ..even
        };
        assert_eq!(due_times(later, 2), [250e3, 250e3 + 1e6]);
    }

    #[test]
    fn bit_rates_count_fcs_and_l1_overhead() {
        assert_eq!(frame_bits(60, Layer::L2), 512);
        assert_eq!(frame_bits(60, Layer::L1), 672);
    }
}
