//! The path between two stations that the latency, throughput and RFC 2544 measurements drive.
//! Owns the choice of test frames (IPv4/UDP between the stations' lab addresses when both have
//! one and the frame is long enough for the headers, the raw test EtherType otherwise), one trial
//! (a capture at the receiver, a reflector for round trips, a paced or unthrottled send for a
//! time or a burst of a given length, each trial on a flow id of its own so late frames of an
//! earlier trial never count), the plain counts a trial yields, and how missing frames split
//! between the capture and the path. It never decides what a trial means (rates, pass/fail,
//! search steps): each measurement does. It opens no socket itself: the engine does.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::stats::LatencyStats;
use super::{Bench, MeasureError};
use crate::addr::MacAddr;
use crate::engine::Attachment;
use crate::engine::reflect::{ReflectSpec, Reflector};
use crate::engine::rx::{Capture, CaptureSpec};
use crate::engine::tx::{self, FlowSpec, IpEnds, SendPlan};
use crate::engine::wire::{PayloadKind, VlanTag};
use crate::scenario::Station;
use crate::units::{FCS_LEN, Rate};

/// What carries the test payload of a measurement's frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encapsulation {
    /// IPv4/UDP from the sender's lab address to the receiver's (UDP port 9, discard).
    Ipv4Udp,
    /// The test EtherType right after the Ethernet header: one side has no IPv4 address, or the
    /// frame is too short for IPv4 and UDP headers before the payload (64 bytes with FCS).
    #[default]
    Raw,
}

impl Encapsulation {
    /// IPv4/UDP when both ends have an address and `frame_len` (without FCS) holds the headers
    /// and the test payload; raw otherwise.
    pub fn choose(ipv4_ends: bool, frame_len: usize) -> Encapsulation {
        if ipv4_ends && frame_len >= PayloadKind::Ipv4Udp.min_frame_len(0) {
            Encapsulation::Ipv4Udp
        } else {
            Encapsulation::Raw
        }
    }
}

/// Frames sent but not received, split: those the receiving capture's ring dropped (they reached
/// the receiver) and those the path lost. Frames the capture dropped are never blamed on the
/// path, so `path` is a lower bound of the path's loss while `capture` is above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    pub capture: u64,
    pub path: u64,
}

impl Missing {
    pub fn of(sent: u64, received: u64, capture_drops: u64) -> Missing {
        let missing = sent.saturating_sub(received);
        let capture = capture_drops.min(missing);
        Missing {
            capture,
            path: missing - capture,
        }
    }

    /// The path's loss as a percentage of `sent` (0 when nothing was sent).
    pub fn path_percent(self, sent: u64) -> f64 {
        if sent == 0 {
            0.0
        } else {
            100.0 * self.path as f64 / sent as f64
        }
    }
}

/// How much a trial sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Length {
    /// Until this much time has passed.
    For(Duration),
    /// Exactly this many frames (a burst).
    Frames(u64),
}

/// One trial's traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSpec {
    /// Bytes on the wire including the FCS.
    pub frame_size: u32,
    /// Frames a second; `None` sends as fast as the sender can.
    pub pps: Option<f64>,
    pub length: Length,
    /// Reflect at the receiver and capture back at the sender.
    pub round_trip: bool,
    /// Write the capture to this pcapng file.
    pub pcap: Option<PathBuf>,
}

/// What one trial did, as plain counts of its own flow.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialOutcome {
    pub encapsulation: Encapsulation,
    pub flow: u32,
    pub sent: u64,
    /// Distinct frames of the flow that arrived (duplicates are counted apart).
    pub received: u64,
    pub duplicates: u64,
    /// Frames that arrived after a later one of the flow had.
    pub reordered: u64,
    /// Frames the capturing socket's ring dropped (PACKET_STATISTICS, any frame of the
    /// interface): they reached the receiver, the measurement missed them.
    pub capture_drops: u64,
    /// Kernel receive times (ns) of the flow's first and last arrival, when any arrived.
    pub arrivals: Option<(u64, u64)>,
    /// The arriving frames' source MAC (the sending station's, or the reflecting one's).
    pub source: MacAddr,
    /// Send stamp to kernel receive time of every arrival.
    pub latency: LatencyStats,
}

impl TrialOutcome {
    pub fn missing(&self) -> Missing {
        Missing::of(self.sent, self.received, self.capture_drops)
    }
}

/// Two stations of a live lab, opened once for every trial between them.
pub struct Path<'a> {
    bench: &'a Bench<'a>,
    from: Station,
    to: Station,
    sender: Attachment,
    receiver: Attachment,
    /// The lab IPv4 addresses of sender and receiver, when both have one.
    ipv4: Option<(Ipv4Addr, Ipv4Addr)>,
}

/// The flow id of the next trial, process-wide: no two trials of a run share one, so a frame
/// of an earlier trial (or measurement) arriving late is never counted in a later one. Starts
/// at a value easy to spot in a capture.
static NEXT_FLOW: AtomicU32 = AtomicU32::new(0x2544_0000);

/// One end of a path: a station, the engine's handle on its interface, and its lab IPv4
/// address when it has one.
pub struct End {
    pub station: Station,
    pub attachment: Attachment,
    pub ipv4: Option<Ipv4Addr>,
}

impl End {
    /// The scenario station `name` of the bench's lab.
    pub fn of(bench: &Bench<'_>, name: &str) -> Result<End, MeasureError> {
        let station = bench.station(name)?;
        Ok(End {
            attachment: bench.attach(&station)?,
            ipv4: lab_ipv4(bench, &station),
            station,
        })
    }
}

impl<'a> Path<'a> {
    pub fn open(bench: &'a Bench<'a>, from: &str, to: &str) -> Result<Path<'a>, MeasureError> {
        Ok(Path::between(
            bench,
            End::of(bench, from)?,
            End::of(bench, to)?,
        ))
    }

    /// A path between two ends resolved by the caller (an endpoint added to a live lab).
    pub fn between(bench: &'a Bench<'a>, from: End, to: End) -> Path<'a> {
        Path {
            bench,
            ipv4: from.ipv4.zip(to.ipv4),
            from: from.station,
            to: to.station,
            sender: from.attachment,
            receiver: to.attachment,
        }
    }

    pub fn bench(&self) -> &'a Bench<'a> {
        self.bench
    }

    /// The frames a trial of `frame_size` bytes (with FCS) sends.
    fn flow(&self, flow: u32, spec: &TrialSpec) -> (FlowSpec, Encapsulation) {
        let len = spec.frame_size.saturating_sub(FCS_LEN) as usize;
        let count = match spec.length {
            Length::For(_) => None,
            Length::Frames(n) => Some(n),
        };
        let mut flow = FlowSpec {
            rate: spec.pps.map_or(Rate::Max, Rate::Pps),
            ..FlowSpec::new(flow, self.to.mac, len, count)
        };
        // Tagged-frame mode: the sender's network VLAN rides on every frame.
        flow.tags = self
            .bench
            .scenario
            .frame_vlan(&self.from.name)
            .map(|vid| VlanTag {
                tpid: 0x8100,
                pcp: 0,
                dei: false,
                vid,
            })
            .into_iter()
            .collect();
        // A tagged frame's IP stack would not see it: tagged-frame mode sends raw frames.
        let encapsulation = Encapsulation::choose(self.ipv4.is_some() && flow.tags.is_empty(), len);
        if let (Encapsulation::Ipv4Udp, Some((src4, dst4))) = (encapsulation, self.ipv4) {
            flow.kind = PayloadKind::Ipv4Udp;
            flow.ip = IpEnds {
                src4,
                dst4,
                ..IpEnds::default()
            };
        }
        (flow, encapsulation)
    }

    /// Runs one trial: listens (and reflects) first, sends, then collects what arrived of this
    /// trial's flow. A signal (`Bench::stop`) cuts the send short and returns `Interrupted`;
    /// every thread the trial started is stopped on every path out.
    pub fn trial(&self, spec: &TrialSpec) -> Result<TrialOutcome, MeasureError> {
        self.bench.check_stop()?;
        let id = NEXT_FLOW.fetch_add(1, Ordering::Relaxed);
        let (flow, encapsulation) = self.flow(id, spec);
        let (listener, reflector_at) = if spec.round_trip {
            (&self.sender, Some(&self.receiver))
        } else {
            (&self.receiver, None)
        };
        let reflector = reflector_at
            .map(|at| Reflector::start(at, ReflectSpec::default(), self.bench.stop))
            .transpose()?;
        let capture_spec = CaptureSpec {
            pcap: spec.pcap.clone(),
            ..CaptureSpec::default()
        };
        let capture = match Capture::start(listener, capture_spec, self.bench.stop) {
            Ok(c) => c,
            Err(e) => {
                if let Some(r) = reflector {
                    let _ = r.stop();
                }
                return Err(e.into());
            }
        };
        let plan = SendPlan {
            duration: match spec.length {
                Length::For(d) => Some(d),
                Length::Frames(_) => None,
            },
            ..SendPlan::new(vec![flow])
        };
        let sent = tx::send(&self.sender, &plan, self.bench.stop);
        // The capture drains what is still in flight before it returns; the reflector keeps
        // answering meanwhile.
        let captured = capture.stop();
        let reflected = reflector.map(|r| r.stop()).transpose();
        let (sent, captured) = (sent?, captured?);
        reflected?;
        self.bench.check_stop()?;
        let arrived = captured.received.flows.iter().find(|f| f.flow == id);
        let default_source = if spec.round_trip {
            self.to.mac
        } else {
            self.from.mac
        };
        Ok(TrialOutcome {
            encapsulation,
            flow: id,
            sent: sent.frames,
            received: arrived.map_or(0, |f| f.unique),
            duplicates: arrived.map_or(0, |f| f.duplicates),
            reordered: arrived.map_or(0, |f| f.reordered),
            capture_drops: captured.kernel.drops,
            arrivals: arrived.map(|f| (f.first_rx_ns, f.last_rx_ns)),
            source: arrived.and_then(|f| f.source).unwrap_or(default_source),
            latency: arrived.map(LatencyStats::of_flow).unwrap_or_default(),
        })
    }
}

/// The first IPv4 address the lab gave a station's interface.
fn lab_ipv4(bench: &Bench<'_>, station: &Station) -> Option<Ipv4Addr> {
    let node = bench.lab.node(&station.node)?;
    let interface = node.inventory.interface(&station.interface)?;
    interface.ipv4.first().map(|net| net.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_only_when_both_ends_have_an_address_and_the_headers_fit() {
        // 64 bytes with FCS: 60 to the kernel, 14 + 20 + 8 + 32 = 74 needed.
        assert_eq!(Encapsulation::choose(true, 60), Encapsulation::Raw);
        assert_eq!(Encapsulation::choose(true, 73), Encapsulation::Raw);
        assert_eq!(Encapsulation::choose(true, 74), Encapsulation::Ipv4Udp);
        assert_eq!(Encapsulation::choose(true, 1514), Encapsulation::Ipv4Udp);
        assert_eq!(Encapsulation::choose(false, 1514), Encapsulation::Raw);
    }

    #[test]
    fn missing_frames_go_to_the_capture_first_never_beyond_what_is_missing() {
        assert_eq!(
            Missing::of(1000, 1000, 0),
            Missing {
                capture: 0,
                path: 0
            }
        );
        assert_eq!(
            Missing::of(1000, 900, 0),
            Missing {
                capture: 0,
                path: 100
            }
        );
        assert_eq!(
            Missing::of(1000, 900, 40),
            Missing {
                capture: 40,
                path: 60
            }
        );
        // More ring drops than missing frames (background frames were dropped too): the
        // capture explains the missing ones, and no more.
        assert_eq!(
            Missing::of(1000, 990, 500),
            Missing {
                capture: 10,
                path: 0
            }
        );
        // Duplicates never make a negative loss.
        assert_eq!(
            Missing::of(10, 12, 0),
            Missing {
                capture: 0,
                path: 0
            }
        );
        assert_eq!(Missing::of(1000, 900, 40).path_percent(1000), 6.0);
        assert_eq!(Missing::of(0, 0, 0).path_percent(0), 0.0);
    }
}
