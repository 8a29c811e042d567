//! The emulated switch's data path: one thread entered into the switch namespace holds a raw
//! socket on every port (promiscuous, as a bridge's ports are; deaf to its own sends; stripped
//! VLAN tags recovered from packet metadata), waits for any of them to have frames, takes up to
//! a batch from a ready port with one `recvmmsg`, asks `forward` where each frame goes, and sends
//! each egress port its share with one `sendmmsg`, every frame gathered from a rewritten header
//! (`frame`: MACs, the pushed tag, the restored outer tag, EtherType) and the rest of the frame
//! where it was received: no frame is copied in user space and nothing is allocated per frame. Once a second
//! it ages the table and reads each socket's kernel drop counter (frames the kernel could not
//! queue for it), so those drops are counted too.
//!
//! One thread, not one per port: on two cores the kernel's work of delivering each forwarded
//! frame to its receiver runs on the sending thread anyway, the table needs no lock, and
//! `recvmmsg` rather than a TPACKET_V3 ring because a ring hands a block over only when it fills
//! or its timeout (at least 1 ms) expires, which would add a millisecond to every frame at low
//! rates (docs/switch.md has the measurements). It must not decide anything about forwarding.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::time::{Duration, Instant};

use super::forward::{Forwarding, Plan};
use super::frame::Received;
use super::report::{DropReason, SwitchReport};
use super::table::PortIdx;
use super::{SwitchConfig, SwitchError};
use crate::engine::wire::MAX_HEADER_LEN;
use crate::engine::{self, Listen, MAX_BATCH, PacketSocket, RecvMeta};
use crate::netns::{Netns, NsThread};

/// Most ports one forwarder serves (one `poll` over all of them).
pub const MAX_PORTS: usize = 1024;
/// How long the thread sleeps in `poll` before it looks at its stop flag and requests.
const POLL: Duration = Duration::from_millis(10);
/// How often the table ages and the kernel's drop counters are read.
const TICK: Duration = Duration::from_secs(1);
/// Frames sent with one `sendmmsg` (the gather list lives on the stack).
const GATHER: usize = 64;
/// The receive buffer holds at most this many bytes of slots.
const RX_BUFFER: usize = 8 << 20;
/// Each port socket's kernel queue.
const SOCKET_BUFFER: usize = 4 << 20;

/// A running emulated switch. Dropping it stops the thread.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    requests: Sender<SyncSender<SwitchReport>>,
    thread: Option<NsThread<Result<SwitchReport, SwitchError>>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("running", &self.is_running())
            .finish()
    }
}

impl Forwarder {
    /// Opens a socket on every port inside `netns` and starts forwarding; returns once every
    /// port listens.
    pub fn start(netns: &Netns, config: SwitchConfig) -> Result<Forwarder, SwitchError> {
        if !engine::is_root() {
            return Err(SwitchError::NotRoot);
        }
        if config.ports.len() > MAX_PORTS {
            return Err(SwitchError::TooManyPorts(config.ports.len()));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (requests, inbox) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let flag = stop.clone();
        let thread = netns.spawn("mvlab-switch", move || {
            let sockets = match open_ports(&config) {
                Ok(s) => s,
                Err(e) => {
                    // The starter waits for exactly one message.
                    let _ = ready_tx.send(Err(e));
                    return Err(SwitchError::Stopped);
                }
            };
            let _ = ready_tx.send(Ok(()));
            Loop::new(config, sockets).run(&flag, &inbox)
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Forwarder {
                stop,
                requests,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(SwitchError::Stopped),
        }
    }

    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// The switch's counters, table and events as they are now.
    pub fn report(&self) -> Result<SwitchReport, SwitchError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.requests.send(tx).map_err(|_| SwitchError::Stopped)?;
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|_| SwitchError::Stopped)
    }

    /// Stops forwarding; returns the final report.
    pub fn stop(mut self) -> Result<SwitchReport, SwitchError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<SwitchReport, SwitchError> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| SwitchError::Stopped)?,
            None => Err(SwitchError::Stopped),
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // A switch stopped by dropping has nobody to report to.
            let _ = self.finish();
        }
    }
}

/// A socket on every port, set up before it hears anything.
fn open_ports(config: &SwitchConfig) -> Result<Vec<PacketSocket>, SwitchError> {
    config
        .ports
        .iter()
        .map(|port| {
            let setup = || -> io::Result<PacketSocket> {
                let s = PacketSocket::open(&port.name, Listen::Nothing)?;
                s.set_ignore_outgoing()?;
                s.set_auxdata()?;
                s.set_qdisc_bypass()?;
                s.set_promiscuous()?;
                s.set_receive_buffer(SOCKET_BUFFER)?;
                s.set_send_buffer(SOCKET_BUFFER)?;
                s.listen_all()?;
                Ok(s)
            };
            setup().map_err(|source| SwitchError::Port {
                port: port.name.clone(),
                source,
            })
        })
        .collect()
}

struct Loop {
    forwarding: Forwarding,
    sockets: Vec<PacketSocket>,
    slot: usize,
    buf: Vec<u8>,
    meta: Vec<RecvMeta>,
    received: Vec<Received>,
    /// Per egress port: (frame index in the batch, TCI to push).
    queues: Vec<Vec<(u16, Option<u16>)>>,
    plan: Plan,
    origin: Instant,
}

impl Loop {
    fn new(config: SwitchConfig, sockets: Vec<PacketSocket>) -> Loop {
        let mtu = sockets
            .iter()
            .filter_map(|s| s.mtu().ok())
            .max()
            .unwrap_or(1500) as usize;
        // Ethernet header, two tags (one may be in-band), and room to tell an oversized frame.
        let slot = (mtu + 14 + 8 + 1).next_multiple_of(64);
        let batch = (RX_BUFFER / slot).clamp(1, MAX_BATCH);
        let ports = config.ports.len();
        Loop {
            forwarding: Forwarding::new(config, 0),
            slot,
            buf: vec![0; batch * slot],
            meta: vec![RecvMeta::default(); batch],
            received: vec![Received::default(); batch],
            queues: (0..ports).map(|_| Vec::with_capacity(batch)).collect(),
            plan: Plan {
                keep_outer: false,
                egress: Vec::with_capacity(ports),
            },
            sockets,
            origin: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    fn run(
        mut self,
        stop: &AtomicBool,
        requests: &Receiver<SyncSender<SwitchReport>>,
    ) -> Result<SwitchReport, SwitchError> {
        let mut ready = vec![false; self.sockets.len()];
        let mut next_tick = TICK;
        while !stop.load(Ordering::Relaxed) {
            while let Ok(reply) = requests.try_recv() {
                self.kernel_drops();
                // The requester may have given up waiting.
                let _ = reply.send(self.forwarding.report(self.now()));
            }
            let n = engine::poll_readable(&self.sockets, POLL, &mut ready)?;
            if n > 0 {
                for (port, _) in ready.iter().enumerate().filter(|(_, r)| **r) {
                    self.forward_batch(port as PortIdx)?;
                }
            }
            if self.origin.elapsed() >= next_tick {
                next_tick = self.origin.elapsed() + TICK;
                self.forwarding.age(self.now());
                self.kernel_drops();
            }
        }
        self.kernel_drops();
        Ok(self.forwarding.report(self.now()))
    }

    /// Frames the kernel dropped because a port's socket queue was full.
    fn kernel_drops(&mut self) {
        for (port, socket) in self.sockets.iter().enumerate() {
            if let Ok(stats) = socket.take_statistics() {
                self.forwarding
                    .drop_at(port as PortIdx, DropReason::RxOverrun, stats.drops);
            }
        }
    }

    /// Receives what `port` has (one batch) and sends every copy on its way.
    fn forward_batch(&mut self, port: PortIdx) -> io::Result<()> {
        let socket = &self.sockets[usize::from(port)];
        let got = socket.recv_batch(&mut self.buf, self.slot, 0, &mut self.meta, false)?;
        if got == 0 {
            return Ok(());
        }
        let now = self.now();
        for i in 0..got {
            let m = self.meta[i];
            let data = &self.buf[i * self.slot..i * self.slot + m.len];
            let mut received = match Received::read(data, m) {
                Ok(r) => r,
                Err(reason) => {
                    self.forwarding.drop_at(port, reason, 1);
                    continue;
                }
            };
            if !self
                .forwarding
                .ingress(port, &received.ingress, now, &mut self.plan)
            {
                continue;
            }
            received.keep_outer = self.plan.keep_outer;
            self.received[i] = received;
            for &(to, push) in &self.plan.egress {
                self.queues[usize::from(to)].push((i as u16, push));
            }
        }
        for to in 0..self.queues.len() {
            if !self.queues[to].is_empty() {
                self.send(to as PortIdx);
            }
        }
        Ok(())
    }

    /// Sends `to`'s queue, `GATHER` frames per `sendmmsg`, counting what the kernel took and
    /// what it refused.
    fn send(&mut self, to: PortIdx) {
        let queue = std::mem::take(&mut self.queues[usize::from(to)]);
        let socket = &self.sockets[usize::from(to)];
        let (mut sent, mut bytes, mut failed) = (0u64, 0u64, 0u64);
        for chunk in queue.chunks(GATHER) {
            let mut heads = [[0u8; MAX_HEADER_LEN]; GATHER];
            let mut lens = [0usize; GATHER];
            for (k, &(i, push)) in chunk.iter().enumerate() {
                lens[k] = self.received[usize::from(i)].egress_header(push, &mut heads[k]);
            }
            let mut parts: [[&[u8]; 2]; GATHER] = [[&[], &[]]; GATHER];
            for (k, &(i, _)) in chunk.iter().enumerate() {
                let r = &self.received[usize::from(i)];
                let base = usize::from(i) * self.slot;
                parts[k] = [&heads[k][..lens[k]], &self.buf[base + r.rest..base + r.len]];
            }
            let n = chunk.len();
            let mut off = 0;
            while off < n {
                match socket.send_gather(&parts[off..n]) {
                    Ok(0) => break,
                    Ok(m) => {
                        for p in &parts[off..off + m] {
                            bytes += (p[0].len() + p[1].len()) as u64;
                        }
                        sent += m as u64;
                        off += m;
                    }
                    // `sendmmsg` fails only when the first frame fails: count it, go on.
                    Err(_) => {
                        failed += 1;
                        off += 1;
                    }
                }
            }
            failed += (n - off) as u64;
        }
        self.forwarding.sent(to, sent, bytes);
        if failed > 0 {
            self.forwarding
                .drop_at(to, DropReason::EgressFailed, failed);
        }
        let mut queue = queue;
        queue.clear();
        self.queues[usize::from(to)] = queue;
    }
}
