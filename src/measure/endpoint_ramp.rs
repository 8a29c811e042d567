//! The endpoint ramp: macvlan endpoints added to one network's parent while the lab runs (1, 2,
//! 4, ... up to the maximum, each a namespace with one macvlan, through `Lab::grow`), and at
//! every step: how long the kernel took to create the new ones, the memory its objects took
//! (/proc/meminfo around their creation, and the slab caches that grew most), broadcast
//! delivery (each endpoint should get one copy of every broadcast `from` sends), and unicast
//! latency and throughput between `from` and the newest endpoint. The curve, the first step
//! where anything degrades and why, and for every lost broadcast copy where the kernel lost it
//! and the counter or drop event that says so: "lost at X because Y".
//!
//! How broadcast copies are counted and attributed (drivers/net/macvlan.c): a broadcast from
//! outside reaches the parent, whose macvlan handler queues it on the port's broadcast queue
//! (`macvlan_broadcast_enqueue`, inlined into `macvlan_handle_frame` here: when the queue
//! already holds `bcqueuelen` frames it is freed, and the parent's rx_dropped counts it); a
//! worker clones it to every endpoint with
//! `netif_rx` (which fails when the CPU's backlog holds `netdev_max_backlog` frames: the
//! endpoint's rx_errors count it, softnet_stat's dropped column too). Each endpoint's rx_packets
//! counts the copies it got. A capture on the parent counts the broadcasts that reached it, and
//! the `skb:kfree_skb` tracepoint (frames of the test EtherType; `UNHANDLED_PROTO`, the end of
//! every delivered copy no protocol wants, left out) names the drop sites. Every figure is a
//! difference of readings taken around the step's traffic. The counters of the parent and the
//! endpoints also count frames no protocol took (the test EtherType has none): rx_dropped
//! there is not loss, and is read only where the arithmetic says what it holds.
//!
//! It never judges a result (the verdict does) nor formats one (the reports do).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::kstat::{self, DropReport, DropTracer, Memory, SlabGrowth};
use super::path::{Encapsulation, End, Length, Missing, Path, TrialSpec};
use super::stats::LatencyStats;
use super::throughput::ThroughputPoint;
use super::{Bench, MeasureError};
use crate::addr::MacAddr;
use crate::engine::Attachment;
use crate::engine::rx::{Capture, CaptureSpec};
use crate::engine::tx::{self, FlowSpec, SendPlan};
use crate::engine::wire::ETHERTYPE_LOCAL_EXPERIMENTAL;
use crate::lab::{Growth, LinkState, Node, PortCounters};
use crate::scenario::{EndpointRampTest, HOST_NODE, Role, Station};
use crate::units::{FCS_LEN, Rate};

/// Broadcast frames are the Ethernet minimum.
const FRAME_LEN: usize = 60;
/// The one-way latency trial's pace.
const LATENCY_PPS: f64 = 1000.0;
/// A step degrades when its unicast median latency passes this multiple of the first step's
/// (the median: a short trial's p99 is a handful of frames, at the mercy of the machine)...
const LATENCY_FACTOR: f64 = 3.0;
/// ... or its unicast throughput falls below this fraction of the first step's.
const THROUGHPUT_FACTOR: f64 = 0.5;
/// How often the endpoints' counters are read while the broadcast worker catches up, and how
/// long at most it gets.
const POLL: Duration = Duration::from_millis(200);
const DRAIN_MAX: Duration = Duration::from_secs(30);
/// Slab caches listed per step.
const SLABS_LISTED: usize = 5;
/// IPv4: unicast trials of larger frames carry IPv4/UDP.
const ETHERTYPE_IPV4: u16 = 0x0800;

/// The broadcasts' rate in frames a second (`None`: as fast as the sender can).
fn broadcast_pps(test: &EndpointRampTest) -> Option<f64> {
    test.rate.pps(FRAME_LEN as u32 + FCS_LEN)
}

/// Flow ids of the ramp's broadcasts: their own range.
static NEXT_FLOW: AtomicU32 = AtomicU32::new(0xbca5_0000);

/// Kernel memory the endpoints took. Machine-wide figures read just before and just after a
/// step's endpoints were created, so other work on the machine moves them only in that window;
/// the kernel objects (unreclaimable slab and per-CPU memory) move little with other work,
/// while MemAvailable also moves with every page cache. Slabs grow by whole pages, so a step of
/// a few endpoints may read 0 or a page's worth: the figure means something from tens of
/// endpoints on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryUse {
    /// Unreclaimable slab plus per-CPU memory the step's creation took.
    pub kernel_kb: i64,
    pub unreclaimable_slab_kb: i64,
    pub slab_kb: i64,
    pub percpu_kb: i64,
    /// How far MemAvailable fell while the step's endpoints were created.
    pub available_drop_kb: i64,
    /// `kernel_kb` per endpoint the step added, in bytes.
    pub per_endpoint_bytes: i64,
    /// Unreclaimable slab plus per-CPU memory since the ramp began (every endpoint so far).
    pub total_kernel_kb: i64,
    /// The slab caches that grew most while the step's endpoints were created.
    pub slabs: Vec<SlabGrowth>,
}

impl MemoryUse {
    fn of_step(
        start: &Memory,
        before: &Memory,
        after: &Memory,
        slabs: Vec<SlabGrowth>,
        added: u32,
    ) -> MemoryUse {
        let delta = |from: &Memory, f: fn(&Memory) -> u64| f(after) as i64 - f(from) as i64;
        let kernel =
            |from: &Memory| delta(from, |m| m.unreclaimable_slab_kb) + delta(from, |m| m.percpu_kb);
        let kernel_kb = kernel(before);
        MemoryUse {
            kernel_kb,
            unreclaimable_slab_kb: delta(before, |m| m.unreclaimable_slab_kb),
            slab_kb: delta(before, |m| m.slab_kb),
            percpu_kb: delta(before, |m| m.percpu_kb),
            available_drop_kb: -delta(before, |m| m.available_kb),
            per_endpoint_bytes: kernel_kb * 1024 / i64::from(added.max(1)),
            total_kernel_kb: kernel(start),
            slabs,
        }
    }
}

/// Where some frames were lost, and what says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossCause {
    /// Where: a device, a queue, a kernel function.
    pub at: String,
    /// Why, in the kernel's terms.
    pub because: String,
    /// Broadcast copies (or unicast frames) lost there.
    pub frames: u64,
    /// The counters and drop events behind it.
    pub evidence: String,
}

/// Counter differences around a broadcast trial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastCounters {
    /// The parent's rx_dropped: broadcasts the broadcast queue refused, plus every broadcast
    /// the parent itself had no protocol for.
    pub parent_rx_dropped: u64,
    /// Copies `netif_rx` refused, summed over the endpoints.
    pub endpoints_rx_errors: u64,
    /// Frames refused by a full CPU backlog, machine-wide.
    pub softnet_dropped: u64,
    /// Times a receive softirq ran out of budget with frames left, machine-wide.
    #[serde(default)]
    pub softnet_time_squeeze: u64,
    /// The switch ports' drops.
    pub ports: Vec<PortCounters>,
}

/// One step's broadcasts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BroadcastTrial {
    pub sent: u64,
    /// The rate the broadcasts really left at (frames over the sending time).
    pub offered_pps: f64,
    /// Broadcasts that reached the parent (its capture counted them).
    pub at_parent: u64,
    /// One copy of each broadcast sent per endpoint.
    pub expected: u64,
    pub delivered: u64,
    /// Copies each endpoint got, in the order the endpoints were added.
    pub per_endpoint: Vec<u64>,
    pub loss_percent: f64,
    pub causes: Vec<LossCause>,
    /// Copies lost that no counter or drop event accounts for.
    pub unattributed: u64,
    pub counters: BroadcastCounters,
    /// What the drop tracer saw; `None` when it could not run (see `tracer_note`).
    pub drops: Option<DropReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracer_note: Option<String>,
    /// How long the endpoints took to receive every copy after the last broadcast left.
    pub drain_s: f64,
}

/// One step's unicast trials between `from` and the newest endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnicastTrials {
    pub to: String,
    /// One-way latency at `LATENCY_PPS`.
    pub latency: LatencyStats,
    pub latency_sent: u64,
    pub latency_received: u64,
    /// Frames of the latency trial the capture's ring dropped: they arrived, uncounted.
    #[serde(default)]
    pub latency_capture_drops: u64,
    /// As fast as the sender can.
    pub throughput: ThroughputPoint,
    pub causes: Vec<LossCause>,
}

impl UnicastTrials {
    /// Frames the path lost over both trials (never those the capture's ring dropped).
    pub fn lost(&self) -> u64 {
        let t = &self.throughput;
        Missing::of(
            self.latency_sent,
            self.latency_received,
            self.latency_capture_drops,
        )
        .path
            + Missing::of(t.sent, t.received, t.capture_drops).path
    }

    /// `lost` as a percentage of the frames sent.
    pub fn loss_percent(&self) -> f64 {
        let sent = self.latency_sent + self.throughput.sent;
        if sent == 0 {
            0.0
        } else {
            100.0 * self.lost() as f64 / sent as f64
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RampStep {
    /// Endpoints the ramp has on the parent at this step.
    pub endpoints: u32,
    /// Endpoints added for this step, and how long the kernel took.
    pub added: u32,
    pub create_s: f64,
    pub create_per_endpoint_s: f64,
    pub memory: MemoryUse,
    pub broadcast: BroadcastTrial,
    pub unicast: UnicastTrials,
    /// What got worse at this step (empty: nothing).
    pub degraded: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointRampResult {
    pub name: String,
    pub network: String,
    /// The parent, `host:eth0`.
    pub parent: String,
    pub from: String,
    /// The scenario's own endpoints on the same parent (they get every broadcast too).
    pub others_on_parent: u32,
    /// The broadcast queue length the parent's macvlans use, and its cutoff when set.
    pub bc_queue_len: Option<u32>,
    pub bc_cutoff: Option<i32>,
    /// net.core.netdev_max_backlog.
    pub netdev_max_backlog: Option<u64>,
    pub broadcasts: u32,
    pub rate_pps: Option<f64>,
    pub frame_size: u32,
    pub steps: Vec<RampStep>,
    /// The endpoint count of the first step where anything degraded.
    pub first_degraded: Option<u32>,
}

/// Copies lost at each place the kernel says it lost them, and what is left unexplained.
/// `n` endpoints each should have got every one of `sent` broadcasts.
struct Attribution<'a> {
    n: u64,
    sent: u64,
    at_parent: u64,
    delivered: u64,
    counters: &'a BroadcastCounters,
    drops: Option<&'a DropReport>,
    parent: &'a str,
    bc_queue_len: Option<u32>,
    netdev_max_backlog: Option<u64>,
}

impl Attribution<'_> {
    /// Broadcasts the parent's broadcast queue refused, by the drop trace.
    fn queue_refusals(&self) -> Option<u64> {
        self.drops.map(|d| {
            d.sites
                .iter()
                .filter(|s| s.is_macvlan_queue_refusal())
                .map(|s| s.frames)
                .sum()
        })
    }

    fn causes(&self) -> (Vec<LossCause>, u64) {
        let lost = (self.sent * self.n).saturating_sub(self.delivered);
        let mut left = lost;
        let mut causes = Vec::new();
        let mut blame = |at: String, because: String, frames: u64, evidence: String| {
            let frames = frames.min(left);
            if frames > 0 {
                left -= frames;
                causes.push(LossCause {
                    at,
                    because,
                    frames,
                    evidence,
                });
            }
        };
        let ports: Vec<String> = self
            .counters
            .ports
            .iter()
            .filter(|p| p.rx_dropped + p.tx_dropped > 0)
            .map(|p| {
                format!(
                    "{} rx_dropped +{}, tx_dropped +{}",
                    p.port, p.rx_dropped, p.tx_dropped
                )
            })
            .collect();
        let never = self.sent.saturating_sub(self.at_parent);
        blame(
            format!("the way to {}", self.parent),
            "the broadcasts never reached the parent".into(),
            never * self.n,
            format!(
                "{never} of {} broadcasts missing from the parent's capture{}",
                self.sent,
                if ports.is_empty() {
                    "; no switch port counted a drop".into()
                } else {
                    format!("; {}", ports.join(", "))
                }
            ),
        );
        // Queue refusals: what the parent's rx_dropped holds beyond the broadcasts the parent
        // itself had no protocol for (this lab's own counter); the drop trace, machine-wide,
        // confirms it.
        let refused = self
            .counters
            .parent_rx_dropped
            .saturating_sub(self.at_parent);
        let traced = self.queue_refusals();
        blame(
            format!(
                "{} (the macvlan broadcast queue, bcqueuelen {})",
                self.parent,
                self.bc_queue_len.map_or("unknown".into(), |q| q.to_string())
            ),
            "the queue was full: the broadcast worker had not yet cloned the earlier broadcasts to every endpoint".into(),
            refused * self.n,
            format!(
                "{refused} broadcasts refused, each a copy for all {} endpoints; {}; {} rx_dropped +{} ({} of them broadcasts the parent itself had no protocol for)",
                self.n,
                match traced {
                    Some(t) => format!(
                        "kfree_skb: {t} in the queue's enqueue, machine-wide{}",
                        self.drops.map_or(String::new(), |d| if d.lost_events > 0 {
                            format!(" (the trace buffer lost {} events: it undercounts)", d.lost_events)
                        } else {
                            String::new()
                        })
                    ),
                    None => "no drop trace".into(),
                },
                self.parent,
                self.counters.parent_rx_dropped,
                self.at_parent
            ),
        );
        let backlog = self.drops.map(|d| {
            d.sites
                .iter()
                .filter(|s| s.reason == "CPU_BACKLOG")
                .map(|s| s.frames)
                .sum::<u64>()
        });
        blame(
            format!(
                "the endpoints' receive path (netif_rx into a CPU backlog of netdev_max_backlog {})",
                self.netdev_max_backlog
                    .map_or("unknown".into(), |b| b.to_string())
            ),
            "the backlog was full: copies were queued to the CPU faster than it delivered them"
                .into(),
            self.counters.endpoints_rx_errors,
            format!(
                "endpoints' rx_errors +{}; softnet_stat dropped +{}, time_squeeze +{}{}",
                self.counters.endpoints_rx_errors,
                self.counters.softnet_dropped,
                self.counters.softnet_time_squeeze,
                backlog.map_or(String::new(), |b| format!("; kfree_skb: {b} CPU_BACKLOG"))
            ),
        );
        // Any other drop site the trace names. Not a packet socket's own (a full capture ring
        // loses no endpoint's copy), and not again the broadcasts that never reached the
        // parent, which a site before it also traced and `never` already blamed for every
        // endpoint: their events are discounted first, so nothing is blamed twice.
        let mut blamed_before_parent = never;
        for site in self.drops.iter().flat_map(|d| &d.sites).filter(|s| {
            !s.is_macvlan_queue_refusal()
                && !matches!(
                    s.reason.as_str(),
                    "CPU_BACKLOG" | "FULL_RING" | "SOCKET_RCVBUFF"
                )
        }) {
            let discount = blamed_before_parent.min(site.frames);
            blamed_before_parent -= discount;
            let (at, because) = site.explain();
            blame(
                at,
                because,
                site.frames - discount,
                format!(
                    "kfree_skb: {} at {} ({})",
                    site.frames, site.location, site.reason
                ),
            );
        }
        (causes, left)
    }
}

/// The reasons each step degraded, against the first step.
fn degradation(steps: &[RampStep]) -> Vec<Vec<String>> {
    let Some(first) = steps.first() else {
        return Vec::new();
    };
    let base_p50 = first.unicast.latency.p50_ns as f64;
    let base_rate = first.unicast.throughput.rx_pps;
    steps
        .iter()
        .map(|s| {
            let mut why = Vec::new();
            if s.broadcast.loss_percent > 0.0 {
                why.push(format!(
                    "{:.3}% of broadcast copies lost ({} of {})",
                    s.broadcast.loss_percent,
                    s.broadcast.expected - s.broadcast.delivered.min(s.broadcast.expected),
                    s.broadcast.expected
                ));
            }
            let unicast_loss = s.unicast.loss_percent();
            if unicast_loss > 0.0 {
                why.push(format!("{unicast_loss:.3}% of unicast frames lost"));
            }
            let p50 = s.unicast.latency.p50_ns as f64;
            if base_p50 > 0.0 && p50 > LATENCY_FACTOR * base_p50 {
                why.push(format!(
                    "unicast median latency {:.1} us is {:.1}x the first step's",
                    p50 / 1e3,
                    p50 / base_p50
                ));
            }
            let rate = s.unicast.throughput.rx_pps;
            if base_rate > 0.0 && rate < THROUGHPUT_FACTOR * base_rate {
                why.push(format!(
                    "unicast throughput {rate:.0} pps is {:.2}x the first step's",
                    rate / base_rate
                ));
            }
            why
        })
        .collect()
}

/// Each added endpoint's macvlan state, in the order added.
fn endpoint_links(growth: &Growth<'_>) -> Result<Vec<LinkState>, MeasureError> {
    let names: Vec<String> = growth
        .nodes()
        .map(|n| n.inventory.interfaces[0].name.clone())
        .collect();
    Ok(growth
        .links()?
        .into_iter()
        .zip(names)
        .map(|(links, name)| {
            links
                .into_iter()
                .find(|l| l.name == name)
                .unwrap_or_default()
        })
        .collect())
}

fn delivered(before: &[LinkState], after: &[LinkState], cap: u64) -> Vec<u64> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.rx_packets.saturating_sub(b.rx_packets).min(cap))
        .collect()
}

/// Everything a step's broadcast trial works with.
struct Ramp<'a> {
    bench: &'a Bench<'a>,
    test: &'a EndpointRampTest,
    sender: Attachment,
    parent: Attachment,
    parent_name: String,
    parent_label: String,
}

impl Ramp<'_> {
    fn parent_state(&self) -> Result<LinkState, MeasureError> {
        Ok(self.bench.lab.link_state(HOST_NODE, &self.parent_name)?)
    }

    fn broadcast(
        &self,
        growth: &Growth<'_>,
        bc_queue_len: Option<u32>,
        netdev_max_backlog: Option<u64>,
    ) -> Result<BroadcastTrial, MeasureError> {
        let bench = self.bench;
        let n = growth.len() as u64;
        let before = endpoint_links(growth)?;
        let parent_before = self.parent_state()?;
        let ports_before = bench
            .lab
            .switch_table()?
            .map(|t| t.ports)
            .unwrap_or_default();
        let softnet_before = kstat::softnet();
        let tracer = DropTracer::start(&[ETHERTYPE_LOCAL_EXPERIMENTAL], &["UNHANDLED_PROTO"]);
        let capture = Capture::start(
            &self.parent,
            CaptureSpec {
                ring_block_size: 1 << 18,
                ring_blocks: 8,
                ..CaptureSpec::default()
            },
            bench.stop,
        )?;
        let id = NEXT_FLOW.fetch_add(1, Ordering::Relaxed);
        let flow = FlowSpec {
            rate: broadcast_pps(self.test).map_or(Rate::Max, Rate::Pps),
            ..FlowSpec::new(
                id,
                MacAddr::BROADCAST,
                FRAME_LEN,
                Some(u64::from(self.test.broadcasts)),
            )
        };
        let sent = tx::send(&self.sender, &SendPlan::new(vec![flow]), bench.stop);
        let drained = Instant::now();
        let waited = sent.as_ref().map_err(|_| ()).and_then(|s| {
            let expected = s.frames * n;
            let mut last = u64::MAX;
            // A stop ends the wait; the check after the capture turns it into `Interrupted`.
            while !bench.stop.sleep(POLL) {
                let Ok(now) = endpoint_links(growth) else {
                    return Err(());
                };
                let got: u64 = delivered(&before, &now, s.frames).iter().sum();
                if got >= expected || got == last || drained.elapsed() > DRAIN_MAX {
                    return Ok(now);
                }
                last = got;
            }
            Err(())
        });
        let drain_s = drained.elapsed().as_secs_f64();
        let captured = capture.stop();
        let (drops, tracer_note) = match tracer.map(DropTracer::stop) {
            Ok(Ok(report)) => (Some(report), None),
            Ok(Err(e)) | Err(e) => (None, Some(e)),
        };
        let sent = sent?;
        let offered_pps = sent.frames_per_second;
        let sent = sent.frames;
        let after = match waited {
            Ok(links) => links,
            Err(()) => endpoint_links(growth)?,
        };
        let captured = captured?;
        bench.check_stop()?;
        let parent_after = self.parent_state()?;
        let softnet = kstat::softnet().since(&softnet_before);
        let ports_after = bench
            .lab
            .switch_table()?
            .map(|t| t.ports)
            .unwrap_or_default();
        let at_parent = captured
            .received
            .flows
            .iter()
            .find(|f| f.flow == id)
            .map_or(0, |f| f.unique)
            + captured.kernel.drops;
        let per_endpoint = delivered(&before, &after, sent);
        let counters = BroadcastCounters {
            parent_rx_dropped: parent_after
                .rx_dropped
                .saturating_sub(parent_before.rx_dropped),
            endpoints_rx_errors: before
                .iter()
                .zip(&after)
                .map(|(b, a)| a.rx_errors.saturating_sub(b.rx_errors))
                .sum(),
            softnet_dropped: softnet.dropped,
            softnet_time_squeeze: softnet.time_squeeze,
            ports: ports_after
                .iter()
                .map(|a| {
                    let b = ports_before.iter().find(|b| b.port == a.port);
                    let d = |f: fn(&PortCounters) -> u64| f(a).saturating_sub(b.map_or(0, f));
                    PortCounters {
                        port: a.port.clone(),
                        rx_packets: d(|p| p.rx_packets),
                        tx_packets: d(|p| p.tx_packets),
                        rx_dropped: d(|p| p.rx_dropped),
                        tx_dropped: d(|p| p.tx_dropped),
                    }
                })
                .collect(),
        };
        let delivered: u64 = per_endpoint.iter().sum();
        let expected = sent * n;
        let (causes, unattributed) = Attribution {
            n,
            sent,
            at_parent: at_parent.min(sent),
            delivered,
            counters: &counters,
            drops: drops.as_ref(),
            parent: &self.parent_label,
            bc_queue_len,
            netdev_max_backlog,
        }
        .causes();
        Ok(BroadcastTrial {
            sent,
            offered_pps,
            at_parent: at_parent.min(sent),
            expected,
            delivered,
            per_endpoint,
            loss_percent: if expected == 0 {
                0.0
            } else {
                100.0 * expected.saturating_sub(delivered) as f64 / expected as f64
            },
            causes,
            unattributed,
            counters,
            drops,
            tracer_note,
            drain_s,
        })
    }

    /// Latency and throughput from `from` to `node`.
    fn unicast(&self, node: Node<'_>) -> Result<UnicastTrials, MeasureError> {
        let bench = self.bench;
        let iface = &node.inventory.interfaces[0];
        let to = End {
            station: Station {
                name: node.inventory.name.clone(),
                node: node.inventory.name.clone(),
                role: Role::Endpoint,
                interface: iface.name.clone(),
                mac: iface.mac,
            },
            attachment: Attachment::open(&node.inventory.netns, &iface.name)?,
            ipv4: iface.ipv4.first().map(|n| n.ip()),
        };
        let from = End::of(bench, &self.test.from)?;
        let carried = Encapsulation::choose(
            from.ipv4.is_some() && to.ipv4.is_some(),
            (self.test.frame_size - FCS_LEN) as usize,
        );
        let path = Path::between(bench, from, to);
        // Frames no protocol or socket wanted reached their station: not losses.
        let tracer = DropTracer::start(
            &[match carried {
                Encapsulation::Ipv4Udp => ETHERTYPE_IPV4,
                Encapsulation::Raw => ETHERTYPE_LOCAL_EXPERIMENTAL,
            }],
            &["UNHANDLED_PROTO", "NO_SOCKET"],
        );
        let trial = |pps: Option<f64>| {
            path.trial(&TrialSpec {
                frame_size: self.test.frame_size,
                pps,
                length: Length::For(self.test.duration),
                round_trip: false,
                pcap: None,
            })
        };
        let latency = trial(Some(LATENCY_PPS));
        let throughput = latency.as_ref().ok().map(|_| trial(None));
        let drops = tracer.ok().and_then(|t| t.stop().ok());
        let latency = latency?;
        let throughput = throughput.expect("run after the latency trial")?;
        let mut trials = UnicastTrials {
            to: node.inventory.name.clone(),
            latency: latency.latency.clone(),
            latency_sent: latency.sent,
            latency_received: latency.received,
            latency_capture_drops: latency.capture_drops,
            throughput: ThroughputPoint::of(
                self.test.frame_size,
                None,
                self.test.duration,
                &throughput,
            ),
            causes: Vec::new(),
        };
        // The trace is machine-wide: it explains this path's losses, never more than them.
        let mut left = trials.lost();
        for site in drops.iter().flat_map(|d| &d.sites) {
            let frames = site.frames.min(left);
            if frames == 0 {
                continue;
            }
            left -= frames;
            let (at, because) = site.explain();
            trials.causes.push(LossCause {
                at,
                because,
                frames,
                evidence: format!(
                    "kfree_skb: {} at {} ({})",
                    site.frames, site.location, site.reason
                ),
            });
        }
        Ok(trials)
    }
}

/// Runs endpoint-ramp test `name`. Every endpoint it adds is removed before it returns.
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &EndpointRampTest,
) -> Result<EndpointRampResult, MeasureError> {
    let scenario = bench.scenario;
    let net = &scenario.networks[test.network];
    let host = bench
        .lab
        .node(HOST_NODE)
        .ok_or_else(|| MeasureError::NoStation(HOST_NODE.into()))?;
    let ramp = Ramp {
        bench,
        test,
        sender: bench.attach(&bench.station(&test.from)?)?,
        parent: Attachment::open(&host.inventory.netns, &net.link)?,
        parent_name: net.link.clone(),
        parent_label: format!("{HOST_NODE}:{}", net.link),
    };
    let others_on_parent = scenario
        .endpoints
        .iter()
        .filter(|e| scenario.networks[e.network].link == net.link)
        .count() as u32;
    let netdev_max_backlog = kstat::netdev_max_backlog();
    let mut growth = bench.lab.grow(bench.stop);
    let memory_start = kstat::memory();
    let mut steps: Vec<RampStep> = Vec::with_capacity(test.steps.len());
    let (mut bc_queue_len, mut bc_cutoff) = (None, None);
    let mut have = 0usize;
    for &target in &test.steps {
        bench.check_stop()?;
        let new = &test.endpoints[have..target as usize];
        (bench.progress)(&format!(
            "{name}: adding {} endpoint(s), {target} in all",
            new.len()
        ));
        let (memory_before, slabs_before) = (kstat::memory(), kstat::slabs());
        // A stop cuts the addition short (and removes what it made): that is an interruption.
        let took = growth
            .add(scenario, new)
            .map_err(|e| match bench.check_stop() {
                Ok(()) => e.into(),
                Err(interrupted) => interrupted,
            })?;
        have = target as usize;
        let memory_after = kstat::memory();
        let memory = MemoryUse::of_step(
            &memory_start,
            &memory_before,
            &memory_after,
            kstat::slab_growth(&slabs_before, &kstat::slabs(), SLABS_LISTED),
            new.len() as u32,
        );
        if bc_queue_len.is_none() {
            let first = endpoint_links(&growth)?;
            bc_queue_len = first.first().and_then(|l| l.macvlan_bc_queue_len_used);
            bc_cutoff = first.first().and_then(|l| l.macvlan_bc_cutoff);
        }
        (bench.progress)(&format!(
            "{name}: {target} endpoints, {} broadcasts",
            test.broadcasts
        ));
        let broadcast = ramp.broadcast(&growth, bc_queue_len, netdev_max_backlog)?;
        (bench.progress)(&format!("{name}: {target} endpoints, unicast"));
        let newest = growth
            .nodes()
            .last()
            .expect("a step adds at least one endpoint");
        let unicast = ramp.unicast(newest)?;
        steps.push(RampStep {
            endpoints: target,
            added: new.len() as u32,
            create_s: took.as_secs_f64(),
            create_per_endpoint_s: took.as_secs_f64() / new.len().max(1) as f64,
            memory,
            broadcast,
            unicast,
            degraded: Vec::new(),
        });
    }
    growth.remove()?;
    let why = degradation(&steps);
    for (step, why) in steps.iter_mut().zip(why) {
        step.degraded = why;
    }
    Ok(EndpointRampResult {
        name: name.to_string(),
        network: net.name.clone(),
        parent: ramp.parent_label,
        from: test.from.clone(),
        others_on_parent,
        bc_queue_len,
        bc_cutoff,
        netdev_max_backlog,
        broadcasts: test.broadcasts,
        rate_pps: broadcast_pps(test),
        frame_size: test.frame_size,
        first_degraded: steps
            .iter()
            .find(|s| !s.degraded.is_empty())
            .map(|s| s.endpoints),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::kstat::DropSite;

    fn counters(parent_rx_dropped: u64, endpoints_rx_errors: u64) -> BroadcastCounters {
        BroadcastCounters {
            parent_rx_dropped,
            endpoints_rx_errors,
            softnet_dropped: endpoints_rx_errors,
            softnet_time_squeeze: 0,
            ports: Vec::new(),
        }
    }

    fn attribution<'a>(
        counters: &'a BroadcastCounters,
        drops: Option<&'a DropReport>,
        at_parent: u64,
        delivered: u64,
    ) -> Attribution<'a> {
        Attribution {
            n: 10,
            sent: 100,
            at_parent,
            delivered,
            counters,
            drops,
            parent: "host:eth0",
            bc_queue_len: Some(1000),
            netdev_max_backlog: Some(1000),
        }
    }

    #[test]
    fn queue_refusals_cost_a_copy_per_endpoint_and_backlog_refusals_one() {
        // 100 broadcasts reached the parent; 7 were refused by the queue (70 copies) and 5
        // copies by a backlog: 925 of 1000 copies arrived.
        let c = counters(100 + 7, 5);
        let drops = DropReport {
            sites: vec![
                // The enqueue is inlined into the receive handler on this kernel.
                DropSite {
                    location: "macvlan_handle_frame".into(),
                    reason: "NOT_SPECIFIED".into(),
                    frames: 4,
                },
                DropSite {
                    location: "macvlan_broadcast_enqueue".into(),
                    reason: "NOT_SPECIFIED".into(),
                    frames: 3,
                },
                DropSite {
                    location: "enqueue_to_backlog".into(),
                    reason: "CPU_BACKLOG".into(),
                    frames: 5,
                },
            ],
            lost_events: 0,
        };
        let (causes, left) = attribution(&c, Some(&drops), 100, 925).causes();
        assert_eq!(left, 0);
        assert_eq!(causes.len(), 2, "{causes:?}");
        assert_eq!(causes[0].frames, 70);
        assert!(
            causes[0].at.contains("broadcast queue, bcqueuelen 1000"),
            "{}",
            causes[0].at
        );
        assert!(
            causes[0]
                .evidence
                .contains("kfree_skb: 7 in the queue's enqueue")
        );
        assert_eq!(causes[1].frames, 5);
        assert!(causes[1].at.contains("netdev_max_backlog 1000"));
        // Without the tracer, rx_dropped beyond the parent's own arrivals tells the same.
        let (causes, left) = attribution(&c, None, 100, 925).causes();
        assert_eq!((causes[0].frames, left), (70, 0));
        assert!(causes[0].evidence.contains("no drop trace"));
    }

    #[test]
    fn broadcasts_that_never_reached_the_parent_and_unexplained_losses() {
        let c = counters(98, 0);
        let (causes, left) = attribution(&c, None, 98, 975).causes();
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].frames, 20, "2 broadcasts x 10 endpoints");
        assert!(causes[0].evidence.contains("2 of 100 broadcasts missing"));
        assert_eq!(left, 5, "five copies lost with nothing to say where");
        let none = counters(100, 0);
        assert_eq!(
            attribution(&none, None, 100, 1000).causes(),
            (Vec::new(), 0)
        );
    }

    #[test]
    fn trace_sites_blame_nothing_twice_and_capture_rings_lose_no_copies() {
        // 2 broadcasts dropped before the parent (20 copies, blamed as never reaching it, and
        // also seen by the trace at their qdisc), the parent's capture ring full for 3 frames
        // (no endpoint's copy), and 4 copies lost at a site the counters do not cover.
        let c = counters(98, 0);
        let drops = DropReport {
            sites: vec![
                DropSite {
                    location: "__dev_queue_xmit".into(),
                    reason: "QDISC_DROP".into(),
                    frames: 2,
                },
                DropSite {
                    location: "tpacket_rcv".into(),
                    reason: "FULL_RING".into(),
                    frames: 3,
                },
                DropSite {
                    location: "macvlan_forward_source".into(),
                    reason: "NOMEM".into(),
                    frames: 4,
                },
            ],
            lost_events: 0,
        };
        let (causes, left) = attribution(&c, Some(&drops), 98, 971).causes();
        let frames: Vec<u64> = causes.iter().map(|c| c.frames).collect();
        assert_eq!(frames, [20, 4], "{causes:?}");
        assert!(causes[1].at.contains("an allocation"), "{}", causes[1].at);
        assert_eq!(left, 5, "5 copies lost with nothing to say where");
    }

    #[test]
    fn blame_never_exceeds_what_was_lost() {
        // Machine-wide counters saw more than this trial lost.
        let c = counters(500, 300);
        let (causes, left) = attribution(&c, None, 100, 990).causes();
        assert_eq!(causes.iter().map(|c| c.frames).sum::<u64>(), 10);
        assert_eq!(left, 0);
    }

    fn step(endpoints: u32, bc_loss: f64, p50: u64, rx_pps: f64) -> RampStep {
        RampStep {
            endpoints,
            broadcast: BroadcastTrial {
                loss_percent: bc_loss,
                expected: 1000,
                delivered: 1000 - (bc_loss * 10.0) as u64,
                ..BroadcastTrial::default()
            },
            unicast: UnicastTrials {
                latency: LatencyStats {
                    p50_ns: p50,
                    ..LatencyStats::default()
                },
                throughput: ThroughputPoint {
                    rx_pps,
                    ..ThroughputPoint::default()
                },
                ..UnicastTrials::default()
            },
            ..RampStep::default()
        }
    }

    #[test]
    fn unicast_loss_leaves_out_what_either_capture_ring_dropped() {
        let trials = UnicastTrials {
            latency_sent: 100,
            latency_received: 90,
            latency_capture_drops: 6,
            throughput: ThroughputPoint {
                sent: 1000,
                received: 990,
                capture_drops: 4,
                ..ThroughputPoint::default()
            },
            ..UnicastTrials::default()
        };
        assert_eq!(
            trials.lost(),
            4 + 6,
            "4 lost in the latency trial, 6 in the throughput one"
        );
    }

    #[test]
    fn a_step_degrades_on_loss_or_against_the_first_step() {
        let steps = [
            step(1, 0.0, 10_000, 100_000.0),
            step(2, 0.0, 25_000, 60_000.0),
            step(4, 0.0, 40_000, 100_000.0),
            step(8, 0.0, 10_000, 40_000.0),
            step(16, 1.5, 10_000, 100_000.0),
        ];
        let why = degradation(&steps);
        assert!(why[0].is_empty() && why[1].is_empty(), "{why:?}");
        assert_eq!(why[2].len(), 1);
        assert!(why[2][0].contains("4.0x the first step's"), "{}", why[2][0]);
        assert!(why[3][0].contains("0.40x"), "{}", why[3][0]);
        assert!(
            why[4][0].starts_with("1.500% of broadcast copies lost (15 of 1000)"),
            "{}",
            why[4][0]
        );
    }
}
