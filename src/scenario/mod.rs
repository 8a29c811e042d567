//! Scenarios: what a lab is made of, as one typed, validated value. Owns the TOML schema, its
//! validation (every problem located at file:line:col with a hint), the defaults that make a
//! ten-line file a useful lab, Docker-style IPAM and deterministic MACs, and the built-in default
//! scenario. It reads the scenario file and nothing else: no kernel calls, no other I/O.
//!
//! Everything downstream (model, lab, measure) reads only the types below: every endpoint has its
//! addresses and MAC already assigned, every switch port its name and flags, so the lab and the
//! model can never disagree about what the scenario meant.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;
use crate::delivery::MatrixSpec;
use crate::diag::{Source, Span};
use crate::units::Rate;
use metrics::MetricSet;

pub use address_map::{AddressMap, AddressMapping};
pub use claims::{Claim, CountCheck, NodeSet, Op};
pub use docker::{DockerVersion, Ipv6Off};

pub mod address_map;
pub mod claims;
pub mod cni;
mod defaults;
pub mod docker;
mod ipam;
pub mod metrics;
mod schema;
mod seeded;
mod test_specs;
mod validate;

pub use defaults::{DEFAULT_NAME, DEFAULT_TEXT, default_scenario, default_scenario_with};
pub use schema::json_schema;
pub use validate::{Loaded, check_lab_word, load, parse};

#[cfg(test)]
mod emulated_tests;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
pub(crate) mod external_tests;
#[cfg(test)]
mod tests;

/// The VLAN every port of a VLAN-aware switch is in unless it says otherwise (a bridge's
/// `default_pvid`).
pub const DEFAULT_VLAN: u16 = 1;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// A validated scenario: the single input of the model and the lab.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// The file it came from (kept for diagnostics raised after parsing).
    #[serde(skip)]
    pub source: Arc<Source>,
    pub name: String,
    pub description: String,
    /// Seed of every random choice (generated MACs).
    pub seed: u64,
    pub switch: Switch,
    pub parents: Vec<Parent>,
    pub networks: Vec<Network>,
    /// Every endpoint, fully expanded from counts and patterns, in declaration order.
    pub endpoints: Vec<Endpoint>,
    pub peers: Vec<Peer>,
    pub host: Host,
    /// What `mvlab run` measures, in file order.
    pub tests: Vec<TestSpec>,
    /// Whose rules gave the endpoints their addresses, MACs and routes.
    pub rules: Rules,
    /// The user's own address blocks and the lab blocks that stand for them.
    #[serde(skip_serializing_if = "AddressMap::is_empty")]
    pub address_map: AddressMap,
}

/// Whose rules a scenario's endpoints follow: mvlab's own (the kernel's full macvlan
/// vocabulary), a Docker Engine's (`[docker]`), or CNI's macvlan plugin with host-local IPAM
/// (`[cni]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Rules {
    Mvlab,
    Docker { version: DockerVersion },
    Cni,
}

impl Rules {
    /// How an endpoint whose network gives it no IPv6 address loses IPv6. CNI's macvlan plugin
    /// leaves a namespace's IPv6 alone unless it adds an address (it then enables it).
    pub fn ipv6_off(self) -> Ipv6Off {
        match self {
            Rules::Mvlab => Ipv6Off::Namespace,
            Rules::Docker { version } => version.ipv6_off(),
            Rules::Cni => Ipv6Off::Nothing,
        }
    }

    pub fn docker(self) -> Option<DockerVersion> {
        match self {
            Rules::Docker { version } => Some(version),
            _ => None,
        }
    }
}

/// How the lab treats IPv6 in one node's namespace: kept when the node has an IPv6 address,
/// otherwise switched off the way `off` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Setting {
    pub wanted: bool,
    pub off: Ipv6Off,
}

impl Ipv6Setting {
    /// The switch's namespace, and any node the lab does not make: IPv6 off everywhere.
    pub const OFF: Ipv6Setting = Ipv6Setting {
        wanted: false,
        off: Ipv6Off::Namespace,
    };

    /// The lab's interfaces there keep IPv6: each gets a link-local address (`addr_gen_mode`
    /// eui64) and, when it comes up, sends frames of its own (duplicate address detection, MLD
    /// reports, router solicitations) from its MAC.
    pub fn on(self) -> bool {
        self.wanted || self.off == Ipv6Off::Nothing
    }
}

/// What sits on the other side of every parent.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Switch {
    /// A bare wire: the single parent's veth peer is the single peer's interface.
    None {
        #[serde(skip)]
        span: Span,
    },
    /// A Linux bridge in the switch namespace.
    Bridge(Bridge),
    /// mvlab's own switch: the switch namespace holds the ports (`p0`, `p1`, ...) and no bridge;
    /// mvlab forwards frames between them itself (`crate::switch`), with VLAN membership, MAC
    /// table limits and port security per port (`Port::policy`).
    Emulated(Emulated),
    /// A switch outside the machine, under test: mvlab builds none. Every parent and peer is
    /// an existing interface wired to one of its ports; the model's learning bridge is the
    /// reference the switch is held to.
    External(External),
}

impl Switch {
    /// Whether the lab has a switch namespace with ports `p0`, `p1`, ...
    pub fn has_ports(&self) -> bool {
        matches!(self, Switch::Bridge(_) | Switch::Emulated(_))
    }
}

/// What the tester knows about an external switch under test: how the measurements wait for it
/// to forget, and what the reference bridge it is held to does.
#[derive(Debug, Clone, Serialize)]
pub struct External {
    /// Seconds after which the switch forgets an address it no longer sees (802.1D's default:
    /// 300). Address trials on a switch that stops learning when full wait this out.
    pub ageing_time: u32,
    /// What the switch does with a new source once its table is full.
    pub table_full: TableFull,
    /// The table size the switch is configured with, when the tester knows it (what address
    /// caching's capacity is compared with).
    pub fdb_max_learned: Option<u32>,
    #[serde(skip)]
    pub span: Span,
}

/// What a switch does with a new source address once its table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableFull {
    /// The new source is not learned (frames to it are flooded): a Linux bridge's
    /// `fdb_max_learned`, most hardware switches.
    StopLearning,
    /// The oldest entry makes room for it (Open vSwitch evicts the least recently used entry
    /// of the port holding the most).
    EvictOldest,
}

impl TableFull {
    pub fn as_str(self) -> &'static str {
        match self {
            TableFull::StopLearning => "stop-learning",
            TableFull::EvictOldest => "evict-oldest",
        }
    }
}

/// The emulated switch's table settings (the per-port ones are in `Port::policy`).
#[derive(Debug, Clone, Serialize)]
pub struct Emulated {
    /// Seconds a learned entry lives without being seen (the bridge's meaning: 0 never learns).
    pub ageing_time: u32,
    /// The table's capacity in learned entries (sticky ones included, static ones not), as the
    /// bridge's `fdb_max_learned`: once full, new sources are not learned.
    pub fdb_max_learned: Option<u32>,
    /// New entries learned per second at most (a bucket of one second's worth, full at start).
    pub learning_rate: Option<u32>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bridge {
    /// The bridge device's name inside the switch namespace.
    pub name: String,
    /// FDB ageing time in seconds (kernel default 300).
    pub ageing_time: u32,
    /// IFLA_BR_FDB_MAX_LEARNED; `None` is unlimited.
    pub fdb_max_learned: Option<u32>,
    /// IGMP/MLD snooping (kernel default on).
    pub multicast_snooping: bool,
    /// The bridge filters by VLAN (`vlan_filtering`, 802.1Q): set when a port has VLAN
    /// membership (`vlan`, `trunk`); each port is then a member of its VLANs (an access port
    /// `vid V pvid untagged`, a trunk its VIDs tagged and its native one `pvid untagged`), and
    /// every port without membership an access port of VLAN 1.
    pub vlan_filtering: bool,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub fdb_max_learned_span: Option<Span>,
    /// Where the first port's VLAN membership is written (what needs `vlan_filtering`).
    #[serde(skip)]
    pub vlan_span: Option<Span>,
}

/// Per-port bridge flags (`ip link set DEV type bridge_slave ...`), with the kernel's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// The port's interface name in the switch namespace (`p0`, `p1`, ...).
    pub name: String,
    /// Reflective relay: frames may leave by the port they came in on (VEPA needs it).
    pub hairpin: bool,
    pub learning: bool,
    /// Flooding of unknown unicast to this port.
    pub unicast_flood: bool,
    pub multicast_flood: bool,
    pub broadcast_flood: bool,
    /// What only the emulated switch does per port (all defaults on a bridge).
    pub policy: PortPolicy,
}

/// The kernel's defaults for a new bridge port: learning, every class flooded, no hairpin, no
/// policy; no name yet.
impl Default for Port {
    fn default() -> Port {
        Port {
            name: String::new(),
            hairpin: false,
            learning: true,
            unicast_flood: true,
            multicast_flood: true,
            broadcast_flood: true,
            policy: PortPolicy::default(),
        }
    }
}

/// Per-port settings of the emulated switch. The defaults are a plain VLAN-unaware port with no
/// limits, which is what a Linux bridge port without vlan_filtering is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPolicy {
    pub vlan: PortVlan,
    /// What happens to frames whose outer tag is an 802.1ad (S-)tag.
    pub outer_tags: OuterTags,
    /// Most entries the table learns on this port; further sources are not learned.
    pub mac_limit: Option<u32>,
    pub security: Option<PortSecurity>,
    /// Entries of this port that never age and are never moved (in every VLAN of the port).
    pub static_macs: Vec<MacAddr>,
}

/// VLAN membership of a port. A switch is VLAN-aware as soon as one port is an access or trunk
/// port; validation then makes every `Transparent` port an access port of VLAN 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum PortVlan {
    /// VLAN-unaware: frames keep whatever tags they carry, learning ignores them.
    #[default]
    Transparent,
    /// Untagged frames belong to `vid`; tagged frames are dropped; frames leave untagged.
    Access { vid: u16 },
    /// Frames tagged with an `allowed` id belong to it and leave tagged; untagged frames belong
    /// to `native` (dropped without one) and leave untagged.
    Trunk {
        allowed: Vec<u16>,
        native: Option<u16>,
    },
}

/// The policy for frames whose outer tag is an 802.1ad S-tag (TPID 0x88a8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OuterTags {
    /// Forwarded as payload: the S-tag does not classify the frame and leaves with it.
    #[default]
    Pass,
    /// Dropped on ingress.
    Drop,
}

/// Port security: at most `max_macs` source addresses (static ones included) per port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSecurity {
    pub max_macs: u32,
    pub violation: Violation,
    /// Secure addresses learned on the port never age.
    pub sticky: bool,
}

/// What a frame from one source too many does, as switches name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Violation {
    /// The frame is dropped; no violation is counted or logged.
    Protect,
    /// The frame is dropped, the violation counted and logged.
    Restrict,
    /// The port stops: every later frame in or out of it is dropped.
    Shutdown,
}

impl Violation {
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Protect => "protect",
            Violation::Restrict => "restrict",
            Violation::Shutdown => "shutdown",
        }
    }
}

/// A macvlan parent ("lower device") in the host namespace.
#[derive(Debug, Clone, Serialize)]
pub struct Parent {
    /// The interface name in the host namespace (Docker's `parent`, e.g. `eth0`).
    pub name: String,
    pub kind: ParentKind,
    /// The switch port facing this parent (unused when `switch` is `None`).
    pub port: Port,
    pub mtu: u32,
    /// The parent's own MAC (the host's address on this segment).
    pub mac: MacAddr,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub kind_span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ParentKind {
    /// A veth pair made by the lab: this end in the host namespace, the other on the switch.
    Veth,
    /// A dummy link (no wire, no switch): macvlan traffic stays on the host.
    Dummy,
    /// An interface that already exists in the root namespace. Only with an explicit opt-in flag.
    Existing { interface: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacvlanMode {
    Bridge,
    Vepa,
    Private,
    Passthru,
    Source,
}

impl MacvlanMode {
    pub const ALL: [MacvlanMode; 5] = [
        MacvlanMode::Bridge,
        MacvlanMode::Vepa,
        MacvlanMode::Private,
        MacvlanMode::Passthru,
        MacvlanMode::Source,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Private => "private",
            MacvlanMode::Passthru => "passthru",
            MacvlanMode::Source => "source",
        }
    }
}

impl std::fmt::Display for MacvlanMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Docker-style macvlan network: one mode, one parent (or its VLAN sub-interface), one subnet.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub name: String,
    /// Index into `Scenario::parents`.
    pub parent: usize,
    pub mode: MacvlanMode,
    /// MACVLAN_FLAG_NOPROMISC: do not put the parent in promiscuous mode (passthru).
    pub nopromisc: bool,
    /// MACVLAN_FLAG_NODST: a source-mode device does not also receive by destination MAC.
    pub nodst: bool,
    /// Source mode: the source MACs every endpoint of this network accepts frames from.
    pub source_macs: Vec<MacAddr>,
    /// 802.1Q VLAN id of the `PARENT.VID` sub-interface the endpoints sit on (needs 8021q);
    /// `None` in tagged-frame mode.
    pub vlan: Option<u16>,
    /// Tagged-frame mode (`tagged_frames = true`): the network's VLAN id, which its endpoints,
    /// peers and shim put on every frame they send and look for on every frame they receive,
    /// themselves, sitting on the untagged parent (for kernels without 8021q).
    pub frame_vlan: Option<u16>,
    /// The host-namespace interface endpoints attach to: the parent, or `PARENT.VID`.
    pub link: String,
    /// IFLA_MACVLAN_BC_QUEUE_LEN, when set.
    pub bcqueuelen: Option<u32>,
    /// IFLA_MACVLAN_BC_CUTOFF, when set.
    pub bc_cutoff: Option<i32>,
    /// The first address pool of each family (with `enable_ipv4 = false` the IPv4 one serves
    /// only the lab's own nodes: the endpoints get no IPv4 address).
    pub ipv4: Ipam<Ipv4Network, Ipv4Addr>,
    pub ipv6: Option<Ipam<Ipv6Network, Ipv6Addr>>,
    /// Further pools, tried in order when the first is full (Docker's several subnets of a
    /// family, CNI's ranges of a range set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_ipv4: Vec<Ipam<Ipv4Network, Ipv4Addr>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_ipv6: Vec<Ipam<Ipv6Network, Ipv6Addr>>,
    /// Its endpoints get no default route (Docker's `--internal`, a parentless network from
    /// Docker 26.1, a CNI network whose `routes` hold no default).
    pub internal: bool,
    /// What Docker is asked to make (with `[docker]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerNetwork>,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub mode_span: Span,
    #[serde(skip)]
    pub vlan_span: Option<Span>,
    #[serde(skip)]
    pub bc_cutoff_span: Option<Span>,
}

/// One address pool of a network, after defaults.
#[derive(Debug, Clone, Serialize)]
pub struct Ipam<N, A> {
    pub subnet: N,
    /// The gateway address, reserved; none where Docker allocates none (29 without
    /// `gateway`, 28 on an internal network).
    pub gateway: Option<A>,
    /// The dynamic pool (`--ip-range`); the whole subnet when not given.
    pub ip_range: N,
    /// Addresses reserved by name (`--aux-address`), never handed out.
    pub aux_addresses: BTreeMap<String, A>,
    /// CNI host-local's first and last address to hand out (instead of `ip_range`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_start: Option<A>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_end: Option<A>,
}

impl<N: ipam::Subnet<A>, A: ipam::Family> Ipam<N, A> {
    /// mvlab's pool of this family for the network, before any address is taken.
    fn pool(&self) -> ipam::Pool<A> {
        ipam::Pool::new(
            self.subnet.base(),
            self.ip_range.base(),
            self.gateway
                .unwrap_or_else(|| ipam::Pool::base(self.subnet.base())),
            self.aux_addresses.values().copied(),
        )
    }
}

/// A Docker network as Docker is asked to make it: what `docker network create` (or a compose
/// file) says, in the lab's addresses. `--engine docker` sends exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct DockerNetwork {
    /// The ID mvlab gives the network (64 hex digits from the seed and the name; a real engine
    /// draws its own at random).
    pub id: String,
    /// `-o parent=` as given: `eth0`, `eth0.10`; none: Docker makes a dummy link named `dm-` and
    /// the ID's first 12 digits, which is then the network's `link`.
    pub parent: Option<String>,
    /// `--internal` as written.
    pub internal: bool,
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
    /// `IPAM.Config`: only what the scenario wrote, in its order (IPv4 first).
    pub ipam: Vec<DockerIpamConfig>,
}

/// One entry of `IPAM.Config`.
#[derive(Debug, Clone, Serialize)]
pub struct DockerIpamConfig {
    pub subnet: ipnetwork::IpNetwork,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<ipnetwork::IpNetwork>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<std::net::IpAddr>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, std::net::IpAddr>,
}

/// What a container asks Docker for (`--ip`, `--ip6`, `--mac-address`), as written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContainerRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<Ipv6Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<MacAddr>,
}

impl Network {
    /// The IPv4 pool an address belongs to (the first when none holds it).
    pub fn ipam4_of(&self, a: Ipv4Addr) -> &Ipam<Ipv4Network, Ipv4Addr> {
        self.more_ipv4
            .iter()
            .find(|p| p.subnet.contains(a))
            .unwrap_or(&self.ipv4)
    }

    /// The IPv6 pool an address belongs to (the first when none holds it).
    pub fn ipam6_of(&self, a: Ipv6Addr) -> Option<&Ipam<Ipv6Network, Ipv6Addr>> {
        let first = self.ipv6.as_ref()?;
        Some(
            self.more_ipv6
                .iter()
                .find(|p| p.subnet.contains(a))
                .unwrap_or(first),
        )
    }
}

/// One "container": a namespace with one macvlan interface.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub name: String,
    /// Index into `Scenario::networks`.
    pub network: usize,
    /// The macvlan's name inside the endpoint namespace.
    pub interface: String,
    pub mac: MacAddr,
    /// None only on a Docker network with `enable_ipv4 = false`.
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Its default routes' next hops (none on an internal network, or without a gateway).
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
    /// Source mode: allowed source MACs (the network's list unless the endpoint gives its own).
    pub source_macs: Vec<MacAddr>,
    /// What the container asks Docker for (with `[docker]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<ContainerRequest>,
    #[serde(skip)]
    pub span: Span,
}

/// A host on its own switch port (or, with no switch, at the far end of the wire).
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub name: String,
    /// Index into `Scenario::networks`: the segment and subnet it is addressed from.
    pub network: usize,
    pub interface: String,
    pub mac: MacAddr,
    pub ipv4: Ipv4Addr,
    pub ipv6: Option<Ipv6Addr>,
    /// With an external switch: the existing interface of this machine wired to a port of the
    /// switch under test, on which the peer sends and receives with raw sockets (as a tester's
    /// port does: any source MAC out, everything arriving in). It has no namespace of its own.
    pub existing: Option<String>,
    /// The switch port facing this peer.
    pub port: Port,
    #[serde(skip)]
    pub span: Span,
}

/// The host namespace: it holds the parents and, optionally, the host's own addresses and the
/// "shim" macvlan that lets the host reach its own endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// The host's own addresses, on the parent of each listed network (Docker host's LAN address).
    pub addresses: Vec<HostAddress>,
    pub shim: Option<Shim>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostAddress {
    pub network: usize,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

/// The host-side macvlan of the Docker documentation's workaround: a bridge-mode macvlan on the
/// parent with a /32 address and a route to the network's ip_range through it.
#[derive(Debug, Clone, Serialize)]
pub struct Shim {
    pub network: usize,
    pub interface: String,
    pub mac: MacAddr,
    pub ipv4: Ipv4Addr,
    pub ipv6: Option<Ipv6Addr>,
    #[serde(skip)]
    pub span: Span,
}

/// What a node is in the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Endpoint,
    Peer,
    Switch,
    Host,
}

/// The reserved node names of the host and the switch.
pub const HOST_NODE: &str = "host";
pub const SWITCH_NODE: &str = "switch";

/// A lab interface that sends and receives test frames: the rows and columns of the delivery
/// matrix, and the `from`/`to` of every traffic test. Endpoints and peers are named by their node
/// name; the host's interfaces (each parent, the shim) as `host:IFACE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Station {
    pub name: String,
    /// The node whose namespace holds the interface.
    pub node: String,
    pub role: Role,
    pub interface: String,
    pub mac: MacAddr,
}

/// One `[[tests]]` entry: what to measure and the claims its results must satisfy.
#[derive(Debug, Clone, Serialize)]
pub struct TestSpec {
    /// Unique within the scenario (defaults to the kind, numbered when repeated).
    pub name: String,
    pub kind: TestKind,
    pub expect: Vec<Expectation>,
    #[serde(skip)]
    pub span: Span,
}

/// A claim as written, with its parsed form.
#[derive(Debug, Clone, Serialize)]
pub struct Expectation {
    pub text: String,
    pub claim: Claim,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TestKind {
    Matrix(MatrixTest),
    Latency(LatencyTest),
    Throughput(ThroughputTest),
    Rfc2544(Rfc2544Test),
    #[serde(rename = "address_caching")]
    AddressCaching(AddressCachingTest),
    #[serde(rename = "address_learning_rate")]
    AddressLearningRate(AddressLearningRateTest),
    #[serde(rename = "endpoint_ramp")]
    EndpointRamp(EndpointRampTest),
    #[serde(rename = "mac_sweep")]
    MacSweep(MacSweepTest),
    #[serde(rename = "ip_exhaustion")]
    IpExhaustion(IpExhaustionTest),
}

impl TestKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TestKind::Matrix(_) => "matrix",
            TestKind::Latency(_) => "latency",
            TestKind::Throughput(_) => "throughput",
            TestKind::Rfc2544(_) => "rfc2544",
            TestKind::AddressCaching(_) => "address_caching",
            TestKind::AddressLearningRate(_) => "address_learning_rate",
            TestKind::EndpointRamp(_) => "endpoint_ramp",
            TestKind::MacSweep(_) => "mac_sweep",
            TestKind::IpExhaustion(_) => "ip_exhaustion",
        }
    }

    /// The metrics its claims may name; `None` for a matrix, whose claims are delivery claims.
    pub fn metrics(&self) -> Option<MetricSet> {
        Some(match self {
            TestKind::Matrix(_) => return None,
            TestKind::Latency(_) => MetricSet::Latency,
            TestKind::Throughput(_) => MetricSet::Throughput,
            TestKind::Rfc2544(_) => MetricSet::Rfc2544,
            TestKind::AddressCaching(_) => MetricSet::AddressCaching,
            TestKind::AddressLearningRate(_) => MetricSet::AddressLearningRate,
            TestKind::EndpointRamp(_) => MetricSet::EndpointRamp,
            TestKind::MacSweep(_) => MetricSet::MacSweep,
            TestKind::IpExhaustion(_) => MetricSet::IpExhaustion,
        })
    }
}

/// The delivery and leak matrix (see `delivery` for what a cell counts).
#[derive(Debug, Clone, Serialize)]
pub struct MatrixTest {
    pub spec: MatrixSpec,
    /// Station names; when the scenario names none, every station but the host's parents.
    pub senders: Vec<String>,
    /// Station names; every station when the scenario names none.
    pub receivers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LatencyMethod {
    /// Sender and receiver share the clock: receive time minus the send time in the payload.
    OneWay,
    /// The receiver reflects each frame back; the sender measures the round trip.
    RoundTrip,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyTest {
    pub from: String,
    pub to: String,
    pub method: LatencyMethod,
    pub rate: Rate,
    /// Bytes on the wire including the 4-byte FCS (RFC 2544 sizes: 64 is the minimum).
    pub frame_size: u32,
    pub duration: std::time::Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThroughputTest {
    pub from: String,
    pub to: String,
    /// Bytes on the wire including the FCS.
    pub frame_sizes: Vec<u32>,
    pub rate: Rate,
    pub duration: std::time::Duration,
}

/// RFC 2544 sections 26.1 (throughput), 26.2 (latency), 26.3 (frame loss rate), 26.4 (back-to-back).
#[derive(Debug, Clone, Serialize)]
pub struct Rfc2544Test {
    pub from: String,
    pub to: String,
    /// Bytes on the wire including the FCS; the RFC's Ethernet sizes by default.
    pub frame_sizes: Vec<u32>,
    pub trial: std::time::Duration,
    /// Loss (percent) a trial may show and still count as "no loss".
    pub loss_tolerance: f64,
    /// The binary search stops when its bounds are this close (percent of the maximum rate).
    pub resolution: f64,
    /// The search's upper bound; `Max` measures what the sender can offer.
    pub max_rate: Rate,
    pub frame_loss_steps: bool,
    pub back_to_back: bool,
}

/// The three switch ports of RFC 2889's address tests, by the station on each.
#[derive(Debug, Clone, Serialize)]
pub struct AddressPorts {
    /// Sends frames from the addresses to learn.
    pub learning: String,
    /// Sends frames to those addresses.
    pub test: String,
    /// Listens on a third port: a test frame arriving there was flooded, so its destination
    /// was not learned.
    pub monitor: String,
}

/// RFC 2889 section 5.7: how many addresses the switch caches, by binary search on the number
/// of addresses learned.
#[derive(Debug, Clone, Serialize)]
pub struct AddressCachingTest {
    pub ports: AddressPorts,
    /// The search's upper bound.
    pub max_addresses: u32,
    /// Pace of the learning and of the test frames.
    pub rate: Rate,
}

/// RFC 2889 section 5.8: the highest rate at which the switch still learns every one of
/// `addresses`, by binary search on the learning frames' rate.
#[derive(Debug, Clone, Serialize)]
pub struct AddressLearningRateTest {
    pub ports: AddressPorts,
    pub addresses: u32,
    /// The search's upper bound; `Max` measures what the sender can offer.
    pub max_rate: Rate,
    /// The search stops when its bounds are this close (percent of the maximum rate).
    pub resolution: f64,
}

/// Endpoints added to one network's parent while the lab runs: 1, 2, 4, ... up to the last
/// step, each step measured.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointRampTest {
    /// Index into `Scenario::networks`.
    pub network: usize,
    /// The endpoint count of each step, increasing; the last is the maximum.
    pub steps: Vec<u32>,
    /// Every endpoint the ramp may add, in order, addressed from the network's pool and given
    /// MACs like the scenario's own (named `TEST-N`).
    pub endpoints: Vec<Endpoint>,
    /// The station that sends the broadcasts and is the unicast peer.
    pub from: String,
    /// Broadcast frames sent at each step.
    pub broadcasts: u32,
    /// Their pace.
    pub rate: Rate,
    /// Unicast frame size (bytes with FCS) of the latency and throughput trials.
    pub frame_size: u32,
    /// Length of each unicast trial.
    pub duration: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacOrder {
    /// base, base+1, ...
    Sequential,
    /// A permutation seeded by the scenario's `seed`.
    Random,
}

/// Frames from `macs` unique source MACs out of one socket, counted per MAC at each receiver.
#[derive(Debug, Clone, Serialize)]
pub struct MacSweepTest {
    pub from: String,
    /// The frames' destination.
    pub to: String,
    pub macs: u32,
    pub order: MacOrder,
    pub rate: Rate,
    /// Stations that capture (`to` first).
    pub receivers: Vec<String>,
}

/// Docker's IPAM asked for more containers than its pool may hold, answered without a kernel.
#[derive(Debug, Clone, Serialize)]
pub struct IpamRequest {
    /// Containers asked for.
    pub asked: u64,
    /// Addresses the pool had left for them.
    pub available: u64,
    /// Docker's refusal (the same words `mvlab check` uses), when the pool ran dry.
    pub refusal: Option<String>,
}

/// Address exhaustion: the IPAM pool's refusal, and every endpoint of a network resolving one
/// peer over ARP (and ND with an IPv6 subnet) against the machine's neighbour tables.
#[derive(Debug, Clone, Serialize)]
pub struct IpExhaustionTest {
    /// Index into `Scenario::networks`.
    pub network: usize,
    /// The peer every endpoint resolves.
    pub peer: String,
    pub ipam: Option<IpamRequest>,
    /// Resolve over ND too (the network and the peer have IPv6).
    pub ipv6: bool,
}

/// A node's address in the lab and the user's own it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedAddress {
    pub node: String,
    pub lab: std::net::IpAddr,
    pub yours: std::net::IpAddr,
}

impl Scenario {
    /// Every endpoint's and peer's address that stands for one of the user's, in node order.
    pub fn mapped_addresses(&self) -> Vec<MappedAddress> {
        let endpoints = self.endpoints.iter().map(|e| (&e.name, e.ipv4, e.ipv6));
        let peers = self.peers.iter().map(|p| (&p.name, Some(p.ipv4), p.ipv6));
        endpoints
            .chain(peers)
            .flat_map(|(node, v4, v6)| {
                let v4 = v4.map(std::net::IpAddr::from);
                let v6 = v6.map(std::net::IpAddr::from);
                v4.into_iter().chain(v6).filter_map(|lab| {
                    Some(MappedAddress {
                        node: node.clone(),
                        lab,
                        yours: self.address_map.yours(lab)?,
                    })
                })
            })
            .collect()
    }

    /// The existing interfaces of this machine the lab uses: existing parents, then the peers'
    /// interfaces on an external switch, each with the scenario line naming it.
    pub fn existing_interfaces(&self) -> Vec<(&str, Span)> {
        let parents = self.parents.iter().filter_map(|p| match &p.kind {
            ParentKind::Existing { interface } => Some((interface.as_str(), p.kind_span.clone())),
            _ => None,
        });
        let peers = self
            .peers
            .iter()
            .filter_map(|p| Some((p.existing.as_deref()?, p.span.clone())));
        parents.chain(peers).collect()
    }

    /// Every node that gets its own namespace, with its role, in a stable order: host, switch
    /// (when there is one), endpoints, peers.
    pub fn nodes(&self) -> Vec<(&str, Role)> {
        let mut nodes = vec![(HOST_NODE, Role::Host)];
        if self.switch.has_ports() {
            nodes.push((SWITCH_NODE, Role::Switch));
        }
        nodes.extend(
            self.endpoints
                .iter()
                .map(|e| (e.name.as_str(), Role::Endpoint)),
        );
        nodes.extend(
            self.peers
                .iter()
                .filter(|p| p.existing.is_none())
                .map(|p| (p.name.as_str(), Role::Peer)),
        );
        nodes
    }

    /// How the lab treats IPv6 in `node`'s namespace (see `host_ipv6`, `endpoint_ipv6`,
    /// `peer_ipv6`; the switch's has it off).
    pub fn node_ipv6(&self, node: &str, role: Role) -> Ipv6Setting {
        match role {
            Role::Host => self.host_ipv6(),
            Role::Switch => Ipv6Setting::OFF,
            Role::Endpoint => self
                .endpoint(node)
                .map_or(Ipv6Setting::OFF, |e| self.endpoint_ipv6(e)),
            Role::Peer => self
                .peer(node)
                .map_or(Ipv6Setting::OFF, |p| self.peer_ipv6(p)),
        }
    }

    /// The host's namespace (its parents, their VLAN sub-interfaces, the shim) keeps IPv6 when
    /// any network has an IPv6 subnet.
    pub fn host_ipv6(&self) -> Ipv6Setting {
        Ipv6Setting {
            wanted: self.networks.iter().any(|n| n.ipv6.is_some()),
            off: Ipv6Off::Namespace,
        }
    }

    /// An endpoint's namespace keeps IPv6 when the endpoint has an IPv6 address; otherwise it
    /// loses it as the scenario's rules say (`Rules::ipv6_off`).
    pub fn endpoint_ipv6(&self, e: &Endpoint) -> Ipv6Setting {
        Ipv6Setting {
            wanted: e.ipv6.is_some(),
            off: self.rules.ipv6_off(),
        }
    }

    /// A peer's namespace keeps IPv6 when its network has an IPv6 subnet; a peer on an existing
    /// interface has no namespace of the lab's.
    pub fn peer_ipv6(&self, p: &Peer) -> Ipv6Setting {
        if p.existing.is_some() {
            return Ipv6Setting::OFF;
        }
        Ipv6Setting {
            wanted: self.networks[p.network].ipv6.is_some(),
            off: Ipv6Off::Namespace,
        }
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    pub fn peer(&self, name: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.name == name)
    }

    /// Every station, in a stable order: the host's parents, the shim, endpoints, peers.
    pub fn stations(&self) -> Vec<Station> {
        let host = |interface: &str, mac: MacAddr| Station {
            name: format!("{HOST_NODE}:{interface}"),
            node: HOST_NODE.to_string(),
            role: Role::Host,
            interface: interface.to_string(),
            mac,
        };
        let mut out: Vec<Station> = self
            .parents
            .iter()
            .filter(|p| !matches!(p.kind, ParentKind::Existing { .. }))
            .map(|p| host(&p.name, p.mac))
            .collect();
        out.extend(self.host.shim.iter().map(|s| host(&s.interface, s.mac)));
        out.extend(self.endpoints.iter().map(|e| Station {
            name: e.name.clone(),
            node: e.name.clone(),
            role: Role::Endpoint,
            interface: e.interface.clone(),
            mac: e.mac,
        }));
        out.extend(self.peers.iter().map(|p| Station {
            name: p.name.clone(),
            node: p.name.clone(),
            role: Role::Peer,
            interface: p.existing.clone().unwrap_or_else(|| p.interface.clone()),
            mac: p.mac,
        }));
        out
    }

    /// The VLAN id the station puts on every frame it sends and looks for on every frame it
    /// receives (tagged-frame mode), by station name.
    pub fn frame_vlan(&self, station: &str) -> Option<u16> {
        let network = match self.endpoint(station) {
            Some(e) => e.network,
            None => match self.peer(station) {
                Some(p) => p.network,
                None => {
                    let shim = self.host.shim.as_ref()?;
                    if station != format!("{HOST_NODE}:{}", shim.interface) {
                        return None;
                    }
                    shim.network
                }
            },
        };
        self.networks.get(network)?.frame_vlan
    }

    /// The parent a network's endpoints hang off.
    pub fn parent_of(&self, network: &Network) -> &Parent {
        &self.parents[network.parent]
    }
}
