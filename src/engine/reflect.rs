//! The reflector: receives test frames on an interface, swaps their MAC addresses and sends each
//! back untouched otherwise (payload, sequence and send timestamp included), so the sender's own
//! capture measures round-trip latency and loss. It reflects only frames that arrived (never its
//! own outgoing ones) and only valid test frames; anything else is counted as foreign and left
//! alone. A tag the kernel moved into metadata is put back before sending. Latency-minded: it
//! blocks in `recvmmsg` (or spins on it) rather than reading a block-timed ring.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::account::Foreign;
use super::sys::{Listen, MAX_BATCH, PacketSocket, RecvMeta, pkttype};
use super::wire::{EthernetFrame, VLAN_TAG_LEN, VlanTag, parse_test_frame};
use super::{Attachment, EngineError};
use crate::stop::Stop;

/// What a reflector does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReflectSpec {
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after reflecting this many frames.
    pub count: Option<u64>,
    /// Frames per `recvmmsg`/`sendmmsg` at most.
    pub batch: usize,
    /// Largest frame handled; longer ones are counted as damaged.
    pub max_frame: usize,
    /// Spin on the socket instead of sleeping until a frame arrives: a few microseconds less
    /// per round trip (no wake-up), for a whole core.
    pub busy_poll: bool,
}

impl Default for ReflectSpec {
    fn default() -> Self {
        ReflectSpec {
            duration: None,
            count: None,
            batch: 64,
            max_frame: 9216,
            busy_poll: false,
        }
    }
}

/// What a reflector did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReflectReport {
    pub iface: String,
    pub elapsed_ns: u64,
    /// Valid test frames that arrived.
    pub received: u64,
    /// Of those, sent back.
    pub reflected: u64,
    /// Frames the kernel refused to send back (no buffer space).
    pub send_failures: u64,
    /// Frames the kernel dropped before the reflector read them: its socket buffer was full
    /// (PACKET_STATISTICS).
    pub dropped: u64,
    pub foreign: Foreign,
}

/// Starts reflectors.
#[derive(Debug)]
pub struct Reflector;

/// A running reflector.
#[derive(Debug)]
pub struct ReflectHandle {
    /// Set by `stop` of this reflector alone.
    ended: Stop,
    thread: JoinHandle<Result<ReflectReport, EngineError>>,
}

impl Reflector {
    /// Opens the socket on `at` and starts reflecting. When this returns, it listens. It
    /// reflects until its duration or count, its handle's `stop`, or `stop` here.
    pub fn start(
        at: &Attachment,
        spec: ReflectSpec,
        stop: &Stop,
    ) -> Result<ReflectHandle, EngineError> {
        if spec.batch == 0 || spec.batch > MAX_BATCH || spec.count == Some(0) {
            return Err(EngineError::BadSpec(format!(
                "the reflector's batch must be 1..{MAX_BATCH} and its count above zero"
            )));
        }
        let socket = at.socket(Listen::Nothing)?;
        let setup = socket
            .set_ignore_outgoing()
            .and_then(|()| socket.set_auxdata())
            .and_then(|()| socket.set_qdisc_bypass());
        let setup = setup.and_then(|()| socket.set_receive_timeout(STOP_CHECK));
        setup.map_err(|e| EngineError::Unsupported {
            what: "PACKET_IGNORE_OUTGOING / PACKET_AUXDATA / PACKET_QDISC_BYPASS".into(),
            source: e,
        })?;
        socket
            .set_receive_buffer(SOCKET_BUFFER)
            .and_then(|()| socket.set_send_buffer(SOCKET_BUFFER))
            .map_err(EngineError::io("sizing the reflector's socket buffers"))?;
        socket
            .listen_all()
            .map_err(EngineError::io("binding the reflector socket"))?;
        let ended = Stop::new();
        let stops = [ended.clone(), stop.clone()];
        let iface = at.iface.clone();
        let thread = std::thread::Builder::new()
            .name(format!("reflect-{iface}"))
            .spawn(move || run(socket, spec, iface, &stops))
            .map_err(EngineError::io("starting the reflector thread"))?;
        Ok(ReflectHandle { ended, thread })
    }
}

impl ReflectHandle {
    pub fn stop(self) -> Result<ReflectReport, EngineError> {
        self.ended.request();
        self.wait()
    }

    /// Waits for the reflector's own end: duration, count, or the `Stop` it was given.
    pub fn wait(self) -> Result<ReflectReport, EngineError> {
        self.thread.join().map_err(|_| {
            EngineError::io("reflector")(std::io::Error::other("the reflector thread panicked"))
        })?
    }
}

/// How often a reflector waiting for frames checks whether to stop.
const STOP_CHECK: Duration = Duration::from_millis(20);
/// Room for a burst while the reflector's thread waits to be scheduled (a slow or emulated
/// machine, a busy core): about 5,000 minimum-size frames, as the default 208 KiB holds 270.
const SOCKET_BUFFER: usize = 4 << 20;
/// Receive slots leave room in front of each frame for a tag to be put back.
const HEADROOM: usize = VLAN_TAG_LEN;

fn run(
    socket: PacketSocket,
    spec: ReflectSpec,
    iface: String,
    stops: &[Stop; 2],
) -> Result<ReflectReport, EngineError> {
    let slot = spec.max_frame + HEADROOM;
    let mut buf = vec![0u8; slot * spec.batch];
    let mut meta = [RecvMeta::default(); MAX_BATCH];
    let mut out: [(usize, usize); MAX_BATCH] = [(0, 0); MAX_BATCH];
    let started = Instant::now();
    let mut report = ReflectReport {
        iface,
        ..ReflectReport::default()
    };
    loop {
        let done = stops.iter().any(Stop::requested)
            || spec.duration.is_some_and(|d| started.elapsed() >= d)
            || spec.count.is_some_and(|c| report.reflected >= c);
        if done {
            break;
        }
        let got = socket
            .recv_batch(
                &mut buf,
                slot,
                HEADROOM,
                &mut meta[..spec.batch],
                !spec.busy_poll,
            )
            .map_err(EngineError::io("receiving frames to reflect"))?;
        let mut n = 0;
        for (i, m) in meta[..got].iter().enumerate() {
            if m.pkttype == pkttype::OUTGOING {
                continue;
            }
            let base = i * slot;
            let frame = &buf[base + HEADROOM..base + HEADROOM + m.len];
            let stripped = m.vlan.map(|(tpid, tci)| VlanTag::from_tci(tpid, tci));
            if m.truncated {
                report.foreign.damaged += 1;
                continue;
            }
            match parse_test_frame(frame, stripped) {
                Ok(_) => {}
                Err(e) if e.is_damaged() => {
                    report.foreign.damaged += 1;
                    continue;
                }
                Err(_) => {
                    report.foreign.not_test += 1;
                    continue;
                }
            }
            let room = &mut buf[base..base + HEADROOM + m.len];
            let (reply, start, len) = match stripped {
                Some(tag) => (
                    EthernetFrame::push_tag(room, tag),
                    base,
                    m.len + VLAN_TAG_LEN,
                ),
                None => (
                    EthernetFrame::new_checked(&mut room[HEADROOM..]),
                    base + HEADROOM,
                    m.len,
                ),
            };
            // A test frame holds a whole Ethernet header, so there always is a reply to send.
            let Ok(mut reply) = reply else {
                report.foreign.damaged += 1;
                continue;
            };
            reply.swap_macs();
            report.received += 1;
            out[n] = (start, len);
            n += 1;
        }
        let mut frames: [&[u8]; MAX_BATCH] = [&[]; MAX_BATCH];
        for (k, &(start, len)) in out[..n].iter().enumerate() {
            frames[k] = &buf[start..start + len];
        }
        let mut sent = 0;
        let mut tries = 0;
        while sent < n {
            match socket.send_batch(&frames[sent..n]) {
                Ok(k) if k > 0 => sent += k,
                Ok(_) | Err(_) if tries < 3 => {
                    tries += 1;
                    std::thread::yield_now();
                }
                Ok(_) | Err(_) => {
                    report.send_failures += (n - sent) as u64;
                    break;
                }
            }
        }
        report.reflected += sent as u64;
    }
    report.elapsed_ns = started.elapsed().as_nanos() as u64;
    report.dropped = socket
        .take_statistics()
        .map_err(EngineError::io("reading the reflector's drops"))?
        .drops;
    Ok(report)
}
