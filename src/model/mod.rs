//! The packet-path model: a pure function of a `Scenario` that predicts, without root and
//! without a kernel, what the matrix measurement will count — every (sender, receiver, frame
//! class, promiscuous) cell — plus the switch's forwarding table, the promiscuity of parents and
//! switch ports, IP reachability between nodes and the host's reach into its endpoints, and a
//! hop-by-hop trace of any one frame.
//!
//! The rules mirror the kernel (Linux 6.18): `macvlan.rs` (drivers/net/macvlan.c), `switch.rs`
//! (net/bridge/), `walk.rs` (veth wires, the parent's receive path, packet sockets). Each is
//! written once and names the kernel function it follows; where the kernel and the model
//! disagree, the model is wrong until shown otherwise (see docs/model.md for the findings).
//!
//! It must not do I/O, read the clock or call the kernel; results are plain serde data that the
//! `simulate` command renders and `run` compares with measurements.

mod emulated;
mod fabric;
mod fdb;
mod frame;
mod macvlan;
mod matrix;
mod reach;
mod switch;
mod walk;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;
use crate::delivery::{Addressing, Cell, FrameClass, MatrixSpec};
use crate::delivery::{MatrixResult, Promiscuity};
use crate::scenario::{MacvlanMode, MatrixTest, Scenario};

pub use matrix::{Group, GroupCell};
pub use reach::{HostReach, Reach, ReachPair};
pub use walk::{Action, Hop};

use fabric::{Fabric, NodeId, NodeKind, Segment};
use frame::Frame;
use walk::{Recorder, Walk};

/// Why the model cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("there is no node `{name}` in this scenario; nodes are: {known}")]
    UnknownNode { name: String, known: String },
    #[error("`{0}` is both the sender and the receiver; name two different nodes")]
    SameNode(String),
    #[error("the scenario cannot be built as written: {0}")]
    Inconsistent(String),
}

/// The matrix a scenario gets when it does not say: one frame per destination, every class,
/// tagged classes on VLAN 100, a non-promiscuous then a promiscuous pass.
pub fn default_spec() -> MatrixSpec {
    MatrixSpec {
        frames: 1,
        classes: FrameClass::all(),
        vlan: 100,
        promiscuous: vec![false, true],
    }
}

/// Every matrix cell in the measurement's order (see `matrix::predict_cells`), with the
/// prediction in `received` and `leaked`: every station but the host's parents sends, every
/// station receives. Assumes the lab's own IPv6 frames reached the switch and it was primed
/// before each pass: every sender, in station order, sent one frame to `UNKNOWN_UNICAST_MAC`
/// (see docs/model.md).
pub fn predict(scenario: &Scenario, spec: &MatrixSpec) -> Result<Vec<Cell>, ModelError> {
    let fabric = Fabric::compile(scenario)?;
    let all: Vec<NodeId> = (0..fabric.nodes.len()).collect();
    Ok(matrix::predict_cells(
        &fabric,
        spec,
        &fabric.senders(),
        &all,
    ))
}

/// The predicted result of one `[[tests]]` matrix, in the measurement's own type: cells (for
/// the test's senders and receivers, every station when it names none; the host's parents send
/// only when named), each parent's and bridge port's promiscuity, and the learned FDB.
pub fn predict_matrix(
    scenario: &Scenario,
    name: &str,
    test: &MatrixTest,
) -> Result<MatrixResult, ModelError> {
    let fabric = Fabric::compile(scenario)?;
    let (senders, receivers) = test_nodes(&fabric, test)?;
    let fdb = matrix::primed_fdb(&fabric, &senders);
    let names = |ids: &[NodeId]| ids.iter().map(|&n| fabric.nodes[n].name.clone()).collect();
    Ok(MatrixResult {
        name: name.to_string(),
        spec: test.spec.clone(),
        senders: names(&senders),
        receivers: names(&receivers),
        cells: matrix::predict_cells(&fabric, &test.spec, &senders, &receivers),
        promiscuity: promiscuity(&fabric, &test.spec),
        fdb: switch::fdb_entries(&fabric, &fdb, &test.spec.promiscuous),
        passes_repeated: 0,
    })
}

/// A matrix test's senders and receivers: those it names, or by default every station but
/// the host's parents sends and every station receives.
fn test_nodes(
    fabric: &Fabric,
    test: &MatrixTest,
) -> Result<(Vec<NodeId>, Vec<NodeId>), ModelError> {
    let pick =
        |names: &[String], default: &dyn Fn(NodeId) -> bool| -> Result<Vec<NodeId>, ModelError> {
            if names.is_empty() {
                Ok((0..fabric.nodes.len()).filter(|&n| default(n)).collect())
            } else {
                let mut ids = names
                    .iter()
                    .map(|n| fabric.node(n))
                    .collect::<Result<Vec<_>, _>>()?;
                ids.sort_unstable();
                ids.dedup();
                Ok(ids)
            }
        };
    Ok((
        pick(&test.senders, &|n| fabric.is_sender(n))?,
        pick(&test.receivers, &|_| true)?,
    ))
}

/// How many copies each frame of one pass of a matrix makes over the whole lab (every
/// interface, not only the test's receivers): the work it gives the kernel's input backlogs.
/// A broadcast on a parent with 1,000 bridge-mode endpoints makes 1,000.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameCopies(HashMap<(String, FrameClass, Option<String>), u32>);

impl FrameCopies {
    /// Copies of a frame of `class` from `from` to `to` (ignored for a class with a fixed
    /// destination); `None` for a flow the pass does not send.
    pub fn get(&self, from: &str, class: FrameClass, to: &str) -> Option<u32> {
        let to = (class.addressing == Addressing::Unicast).then(|| to.to_string());
        self.0.get(&(from.to_string(), class, to)).copied()
    }
}

/// The copies every frame of the `promiscuous` pass of `test` makes (see `FrameCopies`).
pub fn frame_copies(
    scenario: &Scenario,
    test: &MatrixTest,
    promiscuous: bool,
) -> Result<FrameCopies, ModelError> {
    let fabric = Fabric::compile(scenario)?;
    let (senders, receivers) = test_nodes(&fabric, test)?;
    let name = |n: NodeId| fabric.nodes[n].name.clone();
    Ok(FrameCopies(
        matrix::frame_copies(&fabric, &test.spec, &senders, &receivers, promiscuous)
            .into_iter()
            .map(|(from, class, to, n)| ((name(from), class, to.map(name)), n))
            .collect(),
    ))
}

/// What to trace: one frame of `class` from `from`; `to` is the unicast destination and the
/// receiver whose copies the trace counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRequest {
    pub from: String,
    pub to: String,
    pub class: FrameClass,
    pub promiscuous: bool,
    /// The VLAN id of a tagged class.
    pub vlan: u16,
}

/// A number of copies one node got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copies {
    pub node: String,
    pub copies: u64,
}

/// The hop-by-hop path of one frame, and every copy it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub request: TraceRequest,
    pub src: MacAddr,
    pub dst: MacAddr,
    /// 802.1Q ids on the frame as sent, outermost first.
    pub tags: Vec<u16>,
    pub hops: Vec<Hop>,
    /// Copies at `to`.
    pub received: u64,
    /// Copies at every node that got one, in matrix node order; the sender appears when the
    /// kernel sends a frame back to it.
    pub copies: Vec<Copies>,
    pub summary: String,
}

pub fn trace(scenario: &Scenario, request: &TraceRequest) -> Result<Trace, ModelError> {
    let fabric = Fabric::compile(scenario)?;
    let from = fabric.node(&request.from)?;
    let to = fabric.node(&request.to)?;
    if from == to {
        return Err(ModelError::SameNode(request.from.clone()));
    }
    let mut fdb = matrix::primed_fdb(&fabric, &fabric.senders());
    let frame = fabric.sent_by(
        from,
        Frame::of_class(
            fabric.nodes[from].mac,
            request.class,
            fabric.nodes[to].mac,
            request.vlan,
        ),
    );
    let mut recorder = Recorder::default();
    Walk {
        fabric: &fabric,
        fdb: &mut fdb,
        sink: &mut recorder,
        promiscuous: request.promiscuous,
    }
    .send(from, frame);
    let mut per_node = vec![0u64; fabric.nodes.len()];
    for &n in &recorder.socket {
        per_node[n] += 1;
    }
    let copies: Vec<Copies> = per_node
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(n, c)| Copies {
            node: fabric.nodes[n].name.clone(),
            copies: *c,
        })
        .collect();
    let received = per_node[to];
    let mut summary = match received {
        0 => format!("{} receives nothing", request.to),
        1 => format!("{} receives the frame once", request.to),
        n => format!("{} receives {n} copies", request.to),
    };
    if per_node[from] > 0 {
        summary.push_str(&format!(
            "; the kernel also hands it back to the sender {}",
            request.from
        ));
    }
    Ok(Trace {
        request: request.clone(),
        src: frame.src,
        dst: frame.dst,
        tags: frame.tags.as_slice().to_vec(),
        hops: recorder.hops,
        received,
        copies,
        summary,
    })
}

/// Everything `mvlab simulate` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    pub scenario: String,
    pub spec: MatrixSpec,
    /// Nodes grouped by what the rules can tell apart.
    pub groups: Vec<Group>,
    /// The matrix by group.
    pub matrix: Vec<GroupCell>,
    /// The matrix cell by cell, for labs of at most `FULL_MATRIX_NODES` nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<Vec<Cell>>,
    /// The switch's learned forwarding table after a pass (per pass, as measured).
    pub fdb: Vec<crate::delivery::FdbEntry>,
    /// Source MACs the switch saw but did not learn (its table was full).
    pub fdb_not_learned: Vec<String>,
    pub promiscuity: Vec<Promiscuity>,
    pub reachability: Vec<ReachPair>,
    pub host_reach: Vec<HostReach>,
    /// Where the real kernel may differ from the prediction, for this scenario.
    pub notes: Vec<String>,
}

/// Up to this many nodes, `simulate` also lists the matrix cell by cell.
pub const FULL_MATRIX_NODES: usize = 64;

pub fn simulate(scenario: &Scenario, spec: &MatrixSpec) -> Result<Simulation, ModelError> {
    let fabric = Fabric::compile(scenario)?;
    let senders = fabric.senders();
    let fdb = matrix::primed_fdb(&fabric, &senders);
    let network_names: Vec<String> = scenario.networks.iter().map(|n| n.name.clone()).collect();
    let groups = matrix::group_nodes(&fabric, &fdb, &network_names);
    let grouped = matrix::predict_groups(&fabric, &fdb, &groups, spec);
    let cells = (fabric.nodes.len() <= FULL_MATRIX_NODES).then(|| {
        let all: Vec<NodeId> = (0..fabric.nodes.len()).collect();
        matrix::predict_cells(&fabric, spec, &senders, &all)
    });
    let mut walker = matrix::Walker::new(&fabric, fdb.clone());
    let reachability = reach::reach_pairs(&mut walker, &groups);
    let host_reach = reach::host_reach(&mut walker, &groups);
    Ok(Simulation {
        scenario: scenario.name.clone(),
        spec: spec.clone(),
        promiscuity: promiscuity(&fabric, spec),
        fdb: switch::fdb_entries(&fabric, &fdb, &spec.promiscuous),
        fdb_not_learned: switch::not_learned(&fabric, &fdb),
        notes: notes(scenario, &fabric, spec),
        groups,
        matrix: grouped,
        cells,
        reachability,
        host_reach,
    })
}

fn promiscuity(fabric: &Fabric, spec: &MatrixSpec) -> Vec<Promiscuity> {
    let mut out = Vec::new();
    for &pass in &spec.promiscuous {
        for parent in 0..fabric.parents.len() {
            let count = macvlan::parent_promiscuity(fabric, parent, pass);
            out.push(Promiscuity {
                device: fabric.parent_label(parent),
                promiscuous_pass: pass,
                promiscuity: count,
            });
        }
        // `br_manage_promisc`: with vlan_filtering off every bridge port is promiscuous.
        if let Segment::Bridge(b) = &fabric.segment {
            for port in 0..b.ports.len() {
                out.push(Promiscuity {
                    device: fabric.port_label(port),
                    promiscuous_pass: pass,
                    promiscuity: 1,
                });
            }
        }
    }
    out
}

/// The places where this scenario's real numbers may legitimately differ from the prediction.
fn notes(scenario: &Scenario, fabric: &Fabric, spec: &MatrixSpec) -> Vec<String> {
    let mut notes = Vec::new();
    let group_classes = spec.classes.iter().any(|c| frame::is_group(c.addressing));
    if spec
        .classes
        .iter()
        .any(|c| c.addressing == Addressing::Multicast4)
        && spec.promiscuous.contains(&false)
    {
        notes.push("multicast4, non-promiscuous pass: each macvlan's multicast filter is a 256-bucket hash salted by the device's kernel address; the unjoined group passes a device when it collides with one of the few groups the device joined (a few percent per device, different on every run)".into());
    }
    for net in &scenario.networks {
        let queue = net.bcqueuelen.unwrap_or(1000);
        if group_classes && spec.frames > queue {
            notes.push(format!(
                "network {}: {} group frames per sender exceed the broadcast queue ({queue}); copies beyond it are dropped (rx_dropped of the parent) unless the sender paces them",
                net.name, spec.frames
            ));
        }
        if let Some(vid) = net.vlan {
            notes.push(format!("network {}: its endpoints sit on the sub-interface {} (8021q), which takes only frames tagged {vid} and removes the tag; a kernel without 8021q refuses the scenario", net.name, net.link));
        }
        if net.mode == MacvlanMode::Passthru {
            notes.push(format!("network {}: a passthru device takes its parent's MAC (eth_hw_addr_inherit); frames to the endpoint and to the host are the same frames", net.name));
        }
    }
    for net in scenario.networks.iter().filter(|n| n.frame_vlan.is_some()) {
        notes.push(format!("network {}: tagged-frame mode: test frames carry the VLAN tag and receivers count only frames with it; IP between its nodes is untagged and not modelled", net.name));
    }
    if let Segment::Bridge(b) = &fabric.segment
        && let fabric::SwitchKind::Emulated { learning_rate } = b.kind
    {
        notes.push("emulated switch: ageing is not modelled (a pass is assumed shorter than ageing_time), nor 802.1ad outer tags (matrix frames carry only 802.1Q tags)".into());
        if let Some(rate) = learning_rate {
            notes.push(format!("emulated switch: learning_rate {rate}/s is modelled as {rate} new entries for the whole run (the bucket starts full and priming is assumed to take under a second)"));
        }
    }
    if let Segment::Bridge(b) = &fabric.segment {
        if b.ageing_time > 0 && b.ageing_time < 30 {
            notes.push(format!("bridge ageing_time {} s: entries learned while priming may age out during a long pass, turning known unicast into flooded unknown unicast", b.ageing_time));
        }
    }
    if fabric
        .nodes
        .iter()
        .any(|n| matches!(n.kind, NodeKind::Endpoint(_)) && n.ipv6_on)
    {
        notes.push("endpoints with IPv6 send DAD, router and MLD frames of their own: counts include test frames only".into());
    }
    if matrix::ipv6_background_order_matters(fabric) {
        notes.push(format!("IPv6: {} lab interfaces send frames of their own (DAD, MLD, router solicitations) while the lab comes up, in an order the kernel's timers decide, and the switch's limits (fdb_max_learned, a port's mac_limit or max_macs, the learning rate) cannot take every source: which it learns depends on that order; the model assumes station order", fabric.ipv6_background().len()));
    }
    notes
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
