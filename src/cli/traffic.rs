//! The traffic commands `gen`, `capture` and `reflect`: their flags (rates, durations and sizes
//! in the units grammar of `crate::units`) and the parsing of frame-size lists and tags; their
//! results are rendered by `report::traffic` (`--json` prints the same results as data). All
//! sending and receiving is the engine's.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::signals;
use crate::addr::MacAddr;
use crate::diag::Outcome;
use crate::engine::account::Limits;
use crate::engine::reflect::{ReflectSpec, Reflector};
use crate::engine::rx::{Capture, CaptureSpec, DEFAULT_SNAPLEN};
use crate::engine::tx::{
    self, FlowSpec, FrameSizes, IpEnds, MacSource, MacSweep, SendPlan, SweepOrder, TxPath,
};
use crate::engine::wire::{PayloadKind, TPID_8021Q, VlanTag};
use crate::engine::{Attachment, EngineError};
use crate::lab::{DEFAULT_PREFIX, Lab};
use crate::report;
use crate::units::{self, Layer, Rate};

/// Where a command acts: an interface in a network namespace, named directly or as a node of a
/// lab that `mvlab lab up` built.
#[derive(Debug, Args)]
pub struct Place {
    /// The network namespace (as in `ip netns list`). Required unless --lab and --node are
    /// given, so that nothing ever touches the root namespace by accident.
    #[arg(
        long,
        value_name = "NS",
        required_unless_present = "lab",
        conflicts_with = "lab"
    )]
    pub netns: Option<String>,
    /// A running lab (`mvlab lab ls`); with --node instead of --netns.
    #[arg(long, requires = "node")]
    pub lab: Option<String>,
    /// The lab node (e1, peer, host, ...).
    #[arg(long, requires = "lab")]
    pub node: Option<String>,
    /// The lab's namespace prefix.
    #[arg(long, default_value = DEFAULT_PREFIX, requires = "lab")]
    pub prefix: String,
    /// The interface; with --node it defaults to the node's only lab interface.
    #[arg(long, value_name = "IF", required_unless_present = "lab")]
    pub iface: Option<String>,
}

impl Place {
    fn open(&self) -> Result<Attachment, Outcome> {
        let (netns, iface) = match (&self.netns, &self.lab, &self.node) {
            (Some(ns), _, _) => (ns.clone(), self.iface.clone().unwrap_or_default()),
            (None, Some(lab), Some(node)) => self.resolve(lab, node)?,
            _ => {
                return Err(bad_input(
                    "say where: --netns NS --iface IF, or --lab LAB --node NODE",
                ));
            }
        };
        Attachment::open(&netns, &iface).map_err(|e| fail(&e))
    }

    /// The namespace and interface of `node` in the registered lab `lab`.
    fn resolve(&self, lab: &str, node: &str) -> Result<(String, String), Outcome> {
        let lab_handle = Lab::attach(lab, &self.prefix).map_err(|e| {
            stderr!("error: {e}");
            e.outcome()
        })?;
        let Some(found) = lab_handle.node(node) else {
            let nodes: Vec<&str> = lab_handle
                .nodes()
                .map(|n| n.inventory.name.as_str())
                .collect();
            return Err(bad_input(&format!(
                "lab `{lab}` has no node `{node}`; its nodes are {}",
                nodes.join(", ")
            )));
        };
        let names: Vec<&str> = found
            .inventory
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        let iface = match (&self.iface, names.as_slice()) {
            (Some(iface), _) => iface.clone(),
            (None, [only]) => (*only).to_string(),
            (None, _) => {
                return Err(bad_input(&format!(
                    "node `{node}` has the interfaces {}; pick one with --iface",
                    names.join(", ")
                )));
            }
        };
        Ok((found.inventory.netns.clone(), iface))
    }
}

/// Send test frames: addresses, tags, payload kind, sizes, count or duration, rate.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # 100000 raw 60-byte frames, as fast as possible, broadcast
  mvlab gen --netns mvlab-lab-e1 --iface eth0 --count 100000
  # IPv4/UDP to e2's MAC at 10000 frames/s for 5 s, tagged 802.1Q VID 100 priority 5
  mvlab gen --netns mvlab-lab-e1 --iface eth0 --dst 02:00:00:00:00:02 --kind ipv4 \\
      --size 128 --rate 10kpps --duration 5s --vlan 100:5
  # QinQ (802.1ad 10 outside, 802.1Q 20 inside), IMIX at 100 Mbit/s on the wire (L1)
  mvlab gen --netns NS --iface eth0 --vlan 10 --vlan 20 --size imix --rate 100Mbit --l1 --duration 2s
  # 1000 source MACs in a seeded random order, each frame from the next one
  mvlab gen --netns NS --iface eth0 --src-sweep 1000 --sweep-seed 7 --count 1000
  # two sending threads (flows 1 and 2), 1514-byte frames, JSON result
  mvlab gen --netns NS --iface eth0 --size 1514 --duration 10s --cpus 2 --json
  # from node e1 of a lab that `mvlab lab up` built (its only interface)
  mvlab gen --lab mylab --node e1 --dst 02:00:00:00:00:02 --count 1000

Rates: frames/s as 1000pps, 10kpps, 1.5Mpps; bits/s as 100Mbit (also 100Mbps, 100Mbit/s), counted
at L2 with the FCS unless --l1 (or the suffix -l1, as in 1Gbit-l1) adds preamble and gap; `max`
is as fast as possible. A rate always has its unit: from 0.001pps to 10Gpps, 1bit to 10Tbit.
Durations: 750ns, 200us, 500ms, 10s, 2m, 1h, from 1ns to 168h. Sizes: bytes without the FCS
(60..MTU+14). The whole grammar: README, Units.")]
pub struct GenArgs {
    #[command(flatten)]
    pub place: Place,
    /// Destination MAC.
    #[arg(long, default_value = "ff:ff:ff:ff:ff:ff")]
    pub dst: MacAddr,
    /// Source MAC (default: the interface's own). Must be locally administered.
    #[arg(long, conflicts_with = "src_sweep")]
    pub src: Option<MacAddr>,
    /// Send from N distinct source MACs, one per frame in turn.
    #[arg(long, value_name = "N")]
    pub src_sweep: Option<u64>,
    /// First MAC of the sweep (its first octet is kept by a random sweep).
    #[arg(long, default_value = "02:5a:00:00:00:00", requires = "src_sweep")]
    pub sweep_base: MacAddr,
    /// Sweep in a seeded random (but repeatable, duplicate-free) order instead of counting up.
    #[arg(long, requires = "src_sweep")]
    pub sweep_seed: Option<u64>,
    /// A VLAN tag VID[:PCP[:DEI]], outermost first; give it twice for QinQ.
    #[arg(long, value_name = "VID[:PCP[:DEI]]")]
    pub vlan: Vec<String>,
    /// TPID of the outer tag of a double-tagged frame (88a8 is 802.1ad; 8100 old-style QinQ).
    #[arg(long, default_value = "88a8", value_parser = parse_hex16)]
    pub outer_tpid: u16,
    /// Sweep the outer tag's VID over N values from its VID, one per frame in turn.
    #[arg(long, value_name = "N")]
    pub vid_sweep: Option<u16>,
    /// What carries the test payload: raw (after an EtherType), ipv4, ipv6 (UDP) or arp.
    #[arg(long, default_value = "raw")]
    pub kind: KindArg,
    /// The EtherType of raw frames.
    #[arg(long, default_value = "88b5", value_parser = parse_hex16)]
    pub ethertype: u16,
    /// Source IP of ipv4/ipv6/arp frames (lab ranges only).
    #[arg(long)]
    pub ip_src: Option<IpAddr>,
    /// Destination IP of ipv4/ipv6/arp frames (lab ranges only).
    #[arg(long)]
    pub ip_dst: Option<IpAddr>,
    #[arg(long, default_value_t = 49152)]
    pub sport: u16,
    #[arg(long, default_value_t = 9)]
    pub dport: u16,
    /// Frame size(s) in bytes without FCS: `60`, a list `60,590,1514` used in turn, or `imix`.
    #[arg(long, default_value = "60")]
    pub size: SizesArg,
    /// Frames to send (split over --cpus).
    #[arg(long)]
    pub count: Option<u64>,
    /// How long to send, e.g. 500ms, 10s, 2m (a unit is required; 1ns to 168h).
    #[arg(long, value_parser = units::parse_duration)]
    pub duration: Option<Duration>,
    /// Rate, e.g. 10kpps or 100Mbit (see below); default: max, as fast as possible.
    #[arg(long, value_parser = units::parse_rate)]
    pub rate: Option<Rate>,
    /// Count bit rates at layer 1 (with preamble and inter-frame gap), as the suffix -l1 does.
    #[arg(long)]
    pub l1: bool,
    /// Frames sent back to back per pacing slot.
    #[arg(long, default_value_t = 1)]
    pub burst: u32,
    /// Sending threads; thread i sends flow FLOW+i with its share of count and rate.
    #[arg(long, default_value_t = 1)]
    pub cpus: usize,
    /// Flow id written in every frame's payload.
    #[arg(long, default_value_t = 1)]
    pub flow: u32,
    /// Frames per sendmmsg call.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Send through the qdisc layer instead of straight to the driver (then captures on the
    /// sending interface see the frames as outgoing; bypassed frames skip the packet taps).
    #[arg(long)]
    pub no_qdisc_bypass: bool,
    /// How frames reach the kernel: sendmmsg (measured fastest here), or a TPACKET_V2 ring.
    #[arg(long, default_value = "sendmmsg")]
    pub tx: TxArg,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TxArg {
    Ring,
    Sendmmsg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Raw,
    Ipv4,
    Ipv6,
    Arp,
}

#[derive(Debug, Clone)]
pub struct SizesArg(FrameSizes);

impl FromStr for SizesArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("imix") {
            return Ok(SizesArg(FrameSizes::Imix));
        }
        let sizes = s
            .split(',')
            .map(|p| {
                // Sizes past the address space are as refused as any above the MTU, by the engine.
                units::parse_size(p)
                    .map(|bytes| usize::try_from(bytes).unwrap_or(usize::MAX))
                    .map_err(|e| format!("{e} (sizes: 60, 60,590,1514 or imix)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SizesArg(match sizes.as_slice() {
            [one] => FrameSizes::Fixed(*one),
            _ => FrameSizes::List(sizes),
        }))
    }
}

fn parse_hex16(s: &str) -> Result<u16, String> {
    u16::from_str_radix(s.trim_start_matches("0x"), 16)
        .map_err(|_| format!("`{s}` is not a 16-bit hex number like 88b5"))
}

fn parse_tag(s: &str, tpid: u16) -> Result<VlanTag, String> {
    let bad =
        || format!("`{s}` is not a VLAN tag; write VID, VID:PCP or VID:PCP:DEI (e.g. 100:5:1)");
    let mut parts = s.split(':');
    let vid: u16 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let pcp: u8 = parts.next().map_or(Ok(0), str::parse).map_err(|_| bad())?;
    let dei = match parts.next() {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(bad()),
    };
    if parts.next().is_some() || pcp > 7 {
        return Err(bad());
    }
    let vid = crate::addr::vlan_id(i64::from(vid))
        .map_err(|e| format!("--vlan {s}: {e}; {}", crate::addr::VLAN_ID_HINT))?;
    Ok(VlanTag {
        tpid,
        pcp,
        dei,
        vid,
    })
}

impl GenArgs {
    /// The plan this command line asks for.
    pub fn plan(&self) -> Result<SendPlan, String> {
        if self.vlan.len() > 2 {
            return Err("at most two --vlan tags (QinQ)".into());
        }
        let n = self.vlan.len();
        let tags = self
            .vlan
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let tpid = if n == 2 && i == 0 {
                    self.outer_tpid
                } else {
                    TPID_8021Q
                };
                parse_tag(s, tpid)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.cpus == 0 {
            return Err("--cpus must be at least 1".into());
        }
        if self.count.is_none() && self.duration.is_none() {
            return Err("say how much to send: --count N or --duration TIME".into());
        }
        let kind = match self.kind {
            KindArg::Raw => PayloadKind::Raw {
                ethertype: self.ethertype,
            },
            KindArg::Ipv4 => PayloadKind::Ipv4Udp,
            KindArg::Ipv6 => PayloadKind::Ipv6Udp,
            KindArg::Arp => PayloadKind::Arp,
        };
        let mut ip = IpEnds {
            sport: self.sport,
            dport: self.dport,
            ..IpEnds::default()
        };
        for (given, is_src) in [(self.ip_src, true), (self.ip_dst, false)] {
            match (given, is_src) {
                (Some(IpAddr::V4(a)), true) => ip.src4 = a,
                (Some(IpAddr::V4(a)), false) => ip.dst4 = a,
                (Some(IpAddr::V6(a)), true) => ip.src6 = a,
                (Some(IpAddr::V6(a)), false) => ip.dst6 = a,
                (None, _) => {}
            }
        }
        let src = match (self.src, self.src_sweep) {
            (Some(mac), _) => MacSource::Fixed(mac),
            (None, Some(count)) => MacSource::Sweep(MacSweep {
                base: self.sweep_base,
                count,
                order: match self.sweep_seed {
                    Some(seed) => SweepOrder::Random { seed },
                    None => SweepOrder::Sequential,
                },
            }),
            (None, None) => MacSource::Interface,
        };
        let cpus = self.cpus as u64;
        let rate = match self.rate {
            Some(Rate::Bits { bps, .. }) if self.l1 => Rate::Bits {
                bps,
                layer: Layer::L1,
            },
            given => given.unwrap_or(Rate::Max),
        };
        if self.count.is_some_and(|c| c < cpus) {
            return Err(format!("--count must be at least --cpus ({cpus})"));
        }
        let flows = (0..cpus)
            .map(|i| {
                let count = self.count.map(|c| c / cpus + u64::from(i < c % cpus));
                let flow = self
                    .flow
                    .checked_add(i as u32)
                    .ok_or_else(|| "--flow plus --cpus passes the largest flow id".to_string())?;
                Ok(FlowSpec {
                    flow,
                    dst: self.dst,
                    dst_sweep: None,
                    src: src.clone(),
                    tags: tags.clone(),
                    vid_sweep: self.vid_sweep,
                    kind,
                    ip: ip.clone(),
                    sizes: self.size.0.clone(),
                    count,
                    rate: rate.scaled(1.0 / cpus as f64),
                    burst: self.burst,
                    start: Duration::ZERO,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(SendPlan {
            threads: self.cpus,
            duration: self.duration,
            batch: self.batch,
            qdisc_bypass: !self.no_qdisc_bypass,
            path: match self.tx {
                TxArg::Ring => TxPath::Ring,
                TxArg::Sendmmsg => TxPath::Sendmmsg,
            },
            ..SendPlan::new(flows)
        })
    }
}

/// Receive on an interface and count test frames per flow and per source MAC.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # count for 5 s, then print per-flow loss, reordering, duplicates and latency
  mvlab capture --netns mvlab-lab-e2 --iface eth0 --duration 5s
  # stop after 100000 test frames; write every frame to a pcapng file tcpdump/tshark read
  mvlab capture --netns NS --iface eth0 --count 100000 --pcap /tmp/e2.pcapng
  # promiscuous, per-source-MAC table, JSON
  mvlab capture --netns NS --iface eth0 --duration 2s --promisc --sources --json
  # on node peer of a running lab
  mvlab capture --lab mylab --node peer --duration 5s

Only frames that arrived are counted (packet types host, broadcast, multicast, otherhost); the
host's own outgoing frames never are. Kernel ring drops (PACKET_STATISTICS) are reported.")]
pub struct CaptureArgs {
    #[command(flatten)]
    pub place: Place,
    #[command(flatten)]
    pub end: End,
    /// Put the interface in promiscuous mode while capturing.
    #[arg(long)]
    pub promisc: bool,
    /// Also read this host's own outgoing frames (counted apart, never as received).
    #[arg(long)]
    pub outgoing: bool,
    /// Write every frame read to this pcapng file (nanosecond timestamps, tags restored).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Bytes kept of each frame (default: 256, or whole frames with --pcap).
    #[arg(long)]
    pub snaplen: Option<u32>,
    /// Receive threads (PACKET_FANOUT); 1 when writing a pcap file.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Ring size per thread in MiB (1 MiB blocks).
    #[arg(long, default_value_t = 32)]
    pub ring_mb: usize,
    /// Most source MACs tracked (memory stays bounded; the rest are counted as untracked).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_macs: usize,
    /// List every source MAC in the human output.
    #[arg(long)]
    pub sources: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// When a capture or a reflector stops (at the first of the two; without either, at Ctrl-C).
#[derive(Debug, Args)]
pub struct End {
    /// How long to run, e.g. 500ms, 10s, 2m (a unit is required; 1ns to 168h; default: until
    /// --count or Ctrl-C; a signal before either of those two prints the result so far and
    /// exits 4; without either, Ctrl-C is the end and exits 0).
    #[arg(long, value_parser = units::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many test frames (captured, or reflected).
    #[arg(long)]
    pub count: Option<u64>,
}

impl End {
    /// Whether only a signal ends it.
    fn unbounded(&self) -> bool {
        self.duration.is_none() && self.count.is_none()
    }
}

/// Send every test frame that arrives back to where it came from (MACs swapped).
#[derive(Debug, Args)]
#[command(after_help = "\
Example (round-trip latency e1 -> e2 -> e1):
  mvlab reflect --netns mvlab-lab-e2 --iface eth0 --duration 12s &
  mvlab capture --netns mvlab-lab-e1 --iface eth0 --duration 11s &
  mvlab gen --netns mvlab-lab-e1 --iface eth0 --dst E2_MAC --rate 1000pps --duration 10s
The capture on e1 reports the round trip as latency: receive time minus the send time stamped
in the frame.")]
pub struct ReflectArgs {
    #[command(flatten)]
    pub place: Place,
    #[command(flatten)]
    pub end: End,
    /// Spin on the socket instead of sleeping: lower round trips, one core kept busy.
    #[arg(long)]
    pub busy_poll: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn fail(e: &EngineError) -> Outcome {
    stderr!("error: {e}");
    e.outcome()
}

fn bad_input(msg: &str) -> Outcome {
    stderr!("error: {msg}");
    Outcome::BadInput
}

/// Prints a command's result. A signal before the end the command was given makes it exit 4
/// (the result covers what was done until then); for a capture or reflector given no end, the
/// signal is its end, as tcpdump's is.
fn finish<R: Serialize>(
    done: Result<R, EngineError>,
    json: bool,
    ends_on_signal: bool,
    text: impl FnOnce(&R) -> String,
) -> Outcome {
    let result = match done {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let interrupted = signals::STOP.requested();
    let printed = if json {
        super::output::stdout_json(&result)
    } else {
        super::output::stdout(&text(&result))
    };
    let printed = match printed {
        Ok(()) => Outcome::Passed,
        Err(outcome) => outcome,
    };
    if interrupted && !ends_on_signal && printed == Outcome::Passed {
        stderr!("interrupted by a signal: the result covers what was done until then");
        return Outcome::RuntimeFailure;
    }
    printed
}

pub fn gen_command(args: &GenArgs) -> Outcome {
    let plan = match args.plan() {
        Ok(p) => p,
        Err(e) => return bad_input(&e),
    };
    let at = match args.place.open() {
        Ok(a) => a,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    finish(
        tx::send(&at, &plan, &signals::STOP),
        args.json,
        false,
        report::traffic::send,
    )
}

pub fn capture_command(args: &CaptureArgs) -> Outcome {
    if args.ring_mb == 0 {
        return bad_input("--ring-mb must be at least 1");
    }
    let spec = CaptureSpec {
        duration: args.end.duration,
        count: args.end.count,
        promiscuous: args.promisc,
        include_outgoing: args.outgoing,
        pcap: args.pcap.clone(),
        snaplen: match (args.snaplen, &args.pcap) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_SNAPLEN),
        },
        threads: args.threads,
        ring_blocks: args.ring_mb,
        limits: Limits {
            max_macs: args.max_macs,
            ..Limits::default()
        },
        ..CaptureSpec::default()
    };
    let at = match args.place.open() {
        Ok(a) => a,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    let report = Capture::start(&at, spec, &signals::STOP).and_then(|h| h.wait());
    finish(report, args.json, args.end.unbounded(), |r| {
        report::traffic::capture(r, args.sources)
    })
}

pub fn reflect_command(args: &ReflectArgs) -> Outcome {
    let spec = ReflectSpec {
        duration: args.end.duration,
        count: args.end.count,
        busy_poll: args.busy_poll,
        ..ReflectSpec::default()
    };
    let at = match args.place.open() {
        Ok(a) => a,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = signals::catch() {
        return outcome;
    }
    let report = Reflector::start(&at, spec, &signals::STOP).and_then(|h| h.wait());
    finish(
        report,
        args.json,
        args.end.unbounded(),
        report::traffic::reflect,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wire::ETHERTYPE_LOCAL_EXPERIMENTAL;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        g: GenArgs,
    }

    fn gen_args(extra: &[&str]) -> GenArgs {
        let mut v = vec!["t", "--netns", "n", "--iface", "eth0"];
        v.extend(extra);
        T::try_parse_from(v).unwrap().g
    }

    #[test]
    fn rates_durations_sizes_and_tags_parse() {
        let rate = |extra: &[&str]| gen_args(&[&["--count", "1"], extra].concat()).plan();
        let first = |extra: &[&str]| rate(extra).unwrap().flows[0].rate;
        assert_eq!(first(&["--rate", "10kpps"]), Rate::Pps(10_000.0));
        let l2 = Rate::Bits {
            bps: 1.5e9,
            layer: Layer::L2,
        };
        assert_eq!(first(&["--rate", "1.5Gbit"]), l2);
        assert_eq!(first(&["--rate", "1.5Gbps"]), l2);
        let l1 = Rate::Bits {
            bps: 1.5e9,
            layer: Layer::L1,
        };
        assert_eq!(first(&["--rate", "1.5Gbit", "--l1"]), l1);
        assert_eq!(first(&["--rate", "1.5Gbit-l1"]), l1);
        assert_eq!(first(&["--rate", "max"]), Rate::Max);
        assert_eq!(first(&[]), Rate::Max);
        let parsed = |v: Vec<&str>| T::try_parse_from(v).map(|t| t.g);
        let base = ["t", "--netns", "n", "--iface", "eth0", "--count", "1"];
        for (flag, bad, says) in [
            ("--rate", "250", "`250` has no unit"),
            ("--rate", "fast", "not a rate"),
            ("--rate", "10furlongs", "not a rate"),
            ("--duration", "soon", "not a duration"),
            ("--duration", "2", "`2` has no unit"),
            ("--duration", "1e99s", "longer than 168h"),
        ] {
            let e = parsed([&base[..], &[flag, bad]].concat()).unwrap_err();
            assert!(e.to_string().contains(says), "{flag} {bad}: {e}");
        }
        let duration = |d: &str| gen_args(&["--duration", d]).duration.unwrap();
        assert_eq!(duration("500ms"), Duration::from_millis(500));
        assert_eq!(duration("2m"), Duration::from_secs(120));
        assert!(matches!(
            "60,1514B".parse::<SizesArg>().unwrap().0,
            FrameSizes::List(v) if v == [60, 1514]
        ));
        assert!("60,1.5B".parse::<SizesArg>().is_err());
        assert!(matches!(
            "imix".parse::<SizesArg>().unwrap().0,
            FrameSizes::Imix
        ));
        assert!(
            matches!("60,1514".parse::<SizesArg>().unwrap().0, FrameSizes::List(v) if v == [60, 1514])
        );
        let t = parse_tag("100:5:1", 0x8100).unwrap();
        assert_eq!((t.vid, t.pcp, t.dei), (100, 5, true));
        assert!(parse_tag("5000", 0x8100).is_err());
        assert!(parse_tag("1:9", 0x8100).is_err());
    }

    /// `gen --vlan` takes the VLAN ids a scenario takes (`crate::addr::VLAN_IDS`), no others.
    #[test]
    fn reserved_vlan_ids_are_refused_as_scenarios_refuse_them() {
        for vid in ["0", "4095", "0:3"] {
            let e = parse_tag(vid, 0x8100).unwrap_err();
            assert!(
                e.contains("outside 1..4094") && e.contains("reserved"),
                "{e}"
            );
        }
        assert_eq!(parse_tag("4094", 0x8100).unwrap().vid, 4094);
        assert_eq!(parse_tag("1", 0x8100).unwrap().vid, 1);
    }

    #[test]
    fn cpus_split_count_and_rate_into_flows() {
        let plan = gen_args(&[
            "--count", "11", "--cpus", "2", "--rate", "1000pps", "--flow", "5",
        ])
        .plan()
        .unwrap();
        assert_eq!(plan.threads, 2);
        let ids: Vec<u32> = plan.flows.iter().map(|f| f.flow).collect();
        assert_eq!(ids, [5, 6]);
        assert_eq!(plan.flows[0].count, Some(6));
        assert_eq!(plan.flows[1].count, Some(5));
        assert_eq!(plan.flows[0].rate, Rate::Pps(500.0));
    }

    #[test]
    fn two_tags_make_qinq_with_the_outer_tpid() {
        let plan = gen_args(&["--count", "1", "--vlan", "10", "--vlan", "20:3"])
            .plan()
            .unwrap();
        let tags = &plan.flows[0].tags;
        assert_eq!((tags[0].tpid, tags[0].vid), (0x88a8, 10));
        assert_eq!((tags[1].tpid, tags[1].vid, tags[1].pcp), (0x8100, 20, 3));
        let one = gen_args(&["--count", "1", "--vlan", "7"]).plan().unwrap();
        assert_eq!(one.flows[0].tags[0].tpid, 0x8100);
    }

    #[test]
    fn nothing_to_stop_on_is_refused() {
        assert!(gen_args(&[]).plan().unwrap_err().contains("--count"));
        assert!(gen_args(&["--count", "1", "--cpus", "0"]).plan().is_err());
    }

    #[test]
    fn default_raw_ethertype_is_local_experimental() {
        let plan = gen_args(&["--count", "1"]).plan().unwrap();
        assert_eq!(
            plan.flows[0].kind,
            PayloadKind::Raw {
                ethertype: ETHERTYPE_LOCAL_EXPERIMENTAL
            }
        );
    }
}
