//! What to send: a flow (addresses, MAC and VID sweeps, tags, payload kind, sizes, count or
//! duration, rate and bursts), a send plan (flows, threads, batch, the way frames reach the
//! kernel), and the checks of both that need no interface. Plain data that the CLI, the
//! measurements and the tests build; `tx` sends it. Touches nothing of the OS.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::Serialize;

use super::sweep::MacSweep;
use super::sys::MAX_BATCH;
use super::wire::{self, ETHER_HEADER_LEN, MAX_TAGS, PayloadKind, VLAN_TAG_LEN, VlanTag};
use crate::addr::{MacAddr, VLAN_ID_HINT, VLAN_IDS, is_lab_address};
use crate::units::{FCS_LEN, Layer, Rate};

/// The simple IMIX (7:4:1 of 64, 594 and 1518 bytes with FCS).
pub const IMIX: [(usize, u32); 3] = [(60, 7), (590, 4), (1514, 1)];

/// Where the source MAC of a flow's frames comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacSource {
    /// The sending interface's own MAC.
    Interface,
    Fixed(MacAddr),
    Sweep(MacSweep),
}

/// The IP addresses and UDP ports of IPv4/UDP, IPv6/UDP and ARP frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpEnds {
    pub src4: Ipv4Addr,
    pub dst4: Ipv4Addr,
    pub src6: Ipv6Addr,
    pub dst6: Ipv6Addr,
    pub sport: u16,
    pub dport: u16,
}

impl Default for IpEnds {
    fn default() -> Self {
        IpEnds {
            src4: Ipv4Addr::new(198, 18, 0, 1),
            dst4: Ipv4Addr::new(198, 18, 0, 2),
            src6: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1),
            dst6: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2),
            sport: 49152,
            dport: 9,
        }
    }
}

/// Frame lengths without FCS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameSizes {
    Fixed(usize),
    /// Used in turn.
    List(Vec<usize>),
    /// 60, 590 and 1514 bytes in the ratio 7:4:1, interleaved.
    Imix,
}

impl FrameSizes {
    /// One full cycle of sizes, in sending order.
    pub(super) fn cycle(&self) -> Vec<usize> {
        match self {
            FrameSizes::Fixed(n) => vec![*n],
            FrameSizes::List(v) => v.clone(),
            FrameSizes::Imix => {
                let mut out = Vec::new();
                let mut left: Vec<(usize, u32)> = IMIX.to_vec();
                while left.iter().any(|(_, n)| *n > 0) {
                    for (size, n) in &mut left {
                        if *n > 0 {
                            out.push(*size);
                            *n -= 1;
                        }
                    }
                }
                out
            }
        }
    }
}

/// The bits of one frame of `len` bytes (without FCS) at `layer`.
pub fn frame_bits(len: usize, layer: Layer) -> u64 {
    8 * (len as u64 + u64::from(FCS_LEN + layer.overhead()))
}

/// One flow: a stream of test frames with one flow id and its own sequence numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowSpec {
    pub flow: u32,
    pub dst: MacAddr,
    /// Sweep the destination MAC instead: frame `i` goes to `dst_sweep.mac(i % count)`.
    pub dst_sweep: Option<MacSweep>,
    pub src: MacSource,
    /// Outermost first, at most two.
    pub tags: Vec<VlanTag>,
    /// Sweep the outermost tag's VID over this many values from its VID, one per frame in turn.
    pub vid_sweep: Option<u16>,
    pub kind: PayloadKind,
    pub ip: IpEnds,
    pub sizes: FrameSizes,
    /// Frames to send; `None` until the plan's duration ends.
    pub count: Option<u64>,
    pub rate: Rate,
    /// Frames sent back to back per pacing slot (1 = evenly spaced).
    pub burst: u32,
    /// How long after the send starts the first frame is due: flows of one send interleave
    /// instead of leaving together.
    #[serde(skip_serializing_if = "Duration::is_zero")]
    pub start: Duration,
}

impl FlowSpec {
    /// A flow of `count` raw-EtherType frames of `size` bytes from the interface's MAC to `dst`,
    /// unpaced: the usual starting point, changed field by field.
    pub fn new(flow: u32, dst: MacAddr, size: usize, count: Option<u64>) -> FlowSpec {
        FlowSpec {
            flow,
            dst,
            dst_sweep: None,
            src: MacSource::Interface,
            tags: Vec::new(),
            vid_sweep: None,
            kind: PayloadKind::Raw {
                ethertype: wire::ETHERTYPE_LOCAL_EXPERIMENTAL,
            },
            ip: IpEnds::default(),
            sizes: FrameSizes::Fixed(size),
            count,
            rate: Rate::Max,
            burst: 1,
            start: Duration::ZERO,
        }
    }

    /// Checks everything that does not need the interface; `mtu` checks the sizes.
    pub fn validate(&self, mtu: u32) -> Result<(), String> {
        let flow = self.flow;
        if self.tags.len() > MAX_TAGS {
            return Err(format!("flow {flow}: at most {MAX_TAGS} VLAN tags"));
        }
        for tag in &self.tags {
            if !VLAN_IDS.contains(&tag.vid) || tag.pcp > 7 {
                return Err(format!(
                    "flow {flow}: VLAN tag {tag} is out of range (VID 1..4094, PCP 0..7): {VLAN_ID_HINT}"
                ));
            }
        }
        if let Some(n) = self.vid_sweep {
            let Some(first) = self.tags.first() else {
                return Err(format!(
                    "flow {flow}: a VID sweep needs a VLAN tag to sweep"
                ));
            };
            if n == 0 || u32::from(first.vid) + u32::from(n) - 1 > u32::from(*VLAN_IDS.end()) {
                return Err(format!(
                    "flow {flow}: a sweep of {n} VIDs from {} passes 4094; lower the count or the first VID",
                    first.vid
                ));
            }
        }
        if let Some(s) = &self.dst_sweep {
            s.validate()
                .map_err(|e| format!("flow {flow}: destination {e}"))?;
        }
        match &self.src {
            MacSource::Interface => {}
            MacSource::Fixed(mac) if !mac.is_lab_safe() => {
                return Err(format!(
                    "flow {flow}: source MAC {mac} is not locally administered unicast; lab MACs start with 02:"
                ));
            }
            MacSource::Fixed(_) => {}
            MacSource::Sweep(s) => s.validate().map_err(|e| format!("flow {flow}: {e}"))?,
        }
        if matches!(self.kind, PayloadKind::Ipv4Udp | PayloadKind::Arp)
            && !(is_lab_address(self.ip.src4.into()) && is_lab_address(self.ip.dst4.into()))
        {
            return Err(format!(
                "flow {flow}: IPv4 addresses must be inside 198.18.0.0/15 (the benchmarking range)"
            ));
        }
        if self.kind == PayloadKind::Ipv6Udp
            && !(is_lab_address(self.ip.src6.into()) && is_lab_address(self.ip.dst6.into()))
        {
            return Err(format!(
                "flow {flow}: IPv6 addresses must be inside 2001:2::/48 (the benchmarking range)"
            ));
        }
        let sizes = self.sizes.cycle();
        if sizes.is_empty() {
            return Err(format!("flow {flow}: no frame size given"));
        }
        let min = self.kind.min_frame_len(self.tags.len());
        // The kernel accepts MTU + header, plus one tag's length for a tagged frame.
        let max = mtu as usize
            + ETHER_HEADER_LEN
            + if self.tags.is_empty() {
                0
            } else {
                VLAN_TAG_LEN
            };
        for &size in &sizes {
            if size < min {
                return Err(format!(
                    "flow {flow}: frame size {size} is below the {min} bytes a {} test frame with {} tag(s) needs",
                    self.kind,
                    self.tags.len()
                ));
            }
            if size > max {
                return Err(format!(
                    "flow {flow}: frame size {size} is above the {max} bytes the interface's MTU {mtu} allows; \
                     raise the MTU or send smaller frames"
                ));
            }
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        match self.rate {
            Rate::Max => {}
            Rate::Pps(p) if positive(p) => {}
            Rate::Bits { bps, .. } if positive(bps) => {}
            _ => {
                return Err(format!(
                    "flow {flow}: the rate must be above zero (leave it out to send as fast as possible)"
                ));
            }
        }
        if self.burst == 0 {
            return Err(format!("flow {flow}: a burst is at least 1 frame"));
        }
        if self.count == Some(0) {
            return Err(format!("flow {flow}: the frame count must be above zero"));
        }
        Ok(())
    }
}

/// What one `send` call does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendPlan {
    pub flows: Vec<FlowSpec>,
    /// Sending threads, each with its own socket; flows are dealt to them in turn.
    pub threads: usize,
    /// Stop after this long even if counts are not reached.
    pub duration: Option<Duration>,
    /// Frames per `sendmmsg` at most.
    pub batch: usize,
    /// PACKET_QDISC_BYPASS on every socket. Frames sent this way skip the kernel's packet
    /// taps too: no capture on the sending interface sees them.
    pub qdisc_bypass: bool,
    pub path: TxPath,
}

/// How frames reach the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxPath {
    /// A TPACKET_V2 transmit ring, one `send` per batch (as trafgen does).
    Ring,
    /// `sendmmsg`, one call per batch, each frame copied from a buffer.
    Sendmmsg,
}

impl SendPlan {
    pub fn new(flows: Vec<FlowSpec>) -> SendPlan {
        SendPlan {
            flows,
            threads: 1,
            duration: None,
            batch: 64,
            qdisc_bypass: true,
            path: TxPath::Sendmmsg,
        }
    }

    pub(super) fn validate(&self, mtu: u32) -> Result<(), String> {
        if self.flows.is_empty() {
            return Err("nothing to send: the plan has no flows".into());
        }
        if self.duration.is_none() && self.flows.iter().any(|f| f.count.is_none()) {
            return Err("a flow without a frame count needs a duration".into());
        }
        if self.duration == Some(Duration::ZERO) {
            return Err("the duration must be above zero".into());
        }
        if self.threads == 0 || self.batch == 0 || self.batch > MAX_BATCH {
            return Err(format!(
                "threads must be at least 1 and the batch 1..{MAX_BATCH}"
            ));
        }
        let mut ids: Vec<u32> = self.flows.iter().map(|f| f.flow).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("flow ids must be distinct".into());
        }
        self.flows.iter().try_for_each(|f| f.validate(mtu))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wire::TPID_8021Q;

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let base = FlowSpec::new(1, MacAddr::BROADCAST, 60, Some(10));
        assert!(base.validate(1500).is_ok());
        let small = FlowSpec {
            kind: PayloadKind::Ipv4Udp,
            ..base.clone()
        };
        assert!(small.validate(1500).unwrap_err().contains("below the 74"));
        let big = FlowSpec {
            sizes: FrameSizes::Fixed(1515),
            ..base.clone()
        };
        assert!(big.validate(1500).unwrap_err().contains("MTU 1500"));
        let tagged = FlowSpec {
            sizes: FrameSizes::Fixed(1518),
            tags: vec![VlanTag::from_tci(TPID_8021Q, 5)],
            ..base.clone()
        };
        assert!(tagged.validate(1500).is_ok());
        let reserved = FlowSpec {
            tags: vec![VlanTag::from_tci(TPID_8021Q, 4095)],
            ..base.clone()
        };
        assert!(reserved.validate(1500).unwrap_err().contains("reserved"));
        let zero = FlowSpec {
            rate: Rate::Pps(0.0),
            ..base.clone()
        };
        assert!(zero.validate(1500).unwrap_err().contains("above zero"));
        let sweep = FlowSpec {
            tags: vec![VlanTag::from_tci(TPID_8021Q, 4000)],
            vid_sweep: Some(100),
            ..base.clone()
        };
        assert!(sweep.validate(1500).unwrap_err().contains("passes 4094"));
        let foreign_ip = FlowSpec {
            kind: PayloadKind::Ipv4Udp,
            sizes: FrameSizes::Fixed(100),
            ip: IpEnds {
                dst4: Ipv4Addr::new(10, 0, 0, 1),
                ..IpEnds::default()
            },
            ..base
        };
        assert!(
            foreign_ip
                .validate(1500)
                .unwrap_err()
                .contains("198.18.0.0/15")
        );
    }
}
