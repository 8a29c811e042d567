//! The scenario file as written: serde structs that mirror the TOML one to one, every key optional,
//! unknown keys refused, and a source span kept on every value a later check may complain about.
//! Owns the spelling of keys and enumerations; owns no defaults and no cross-field rules (those
//! live in `validate`). The same types, through `schemars`, are the JSON Schema of the format
//! (`mvlab schema`, committed as `schema/scenario.schema.json` for editors and other validators).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// A string with the place it was written.
pub type SpannedStr = Spanned<String>;

/// The JSON Schema of a scenario file, as `mvlab schema` prints it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawScenario);
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "mvlab scenario",
    description = "A lab of macvlan networks, the switch their parents plug into, peers, and the tests to run (README, \"Scenario reference\"). Every key is optional."
)]
pub struct RawScenario {
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    #[schemars(with = "Option<RawSwitch>")]
    pub switch: Option<Spanned<RawSwitch>>,
    #[schemars(with = "Option<Vec<RawParent>>")]
    pub parents: Option<Vec<Spanned<RawParent>>>,
    #[schemars(with = "Option<Vec<RawNetwork>>")]
    pub networks: Option<Vec<Spanned<RawNetwork>>>,
    #[schemars(with = "Option<Vec<RawPeer>>")]
    pub peers: Option<Vec<Spanned<RawPeer>>>,
    #[schemars(with = "Option<RawHost>")]
    pub host: Option<Spanned<RawHost>>,
    #[schemars(with = "Option<Vec<RawTest>>")]
    pub tests: Option<Vec<Spanned<RawTest>>>,
    #[schemars(with = "Option<RawDocker>")]
    pub docker: Option<Spanned<RawDocker>>,
    #[schemars(with = "Option<RawCni>")]
    pub cni: Option<Spanned<RawCni>>,
    #[schemars(with = "Option<Vec<RawMapping>>")]
    pub address_map: Option<Vec<Spanned<RawMapping>>>,
}

/// `[docker]`: the endpoints are containers of this Docker Engine version's macvlan driver.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Docker")]
pub struct RawDocker {
    #[schemars(with = "Option<String>")]
    pub version: Option<SpannedStr>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "CniIpam")]
pub enum RawCniIpam {
    HostLocal,
}

/// `[cni]`: the endpoints are made by CNI's macvlan plugin with this IPAM plugin.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Cni")]
pub struct RawCni {
    #[schemars(with = "Option<RawCniIpam>")]
    pub ipam: Option<Spanned<RawCniIpam>>,
}

/// `[[address_map]]`: a block of the user's and the lab block that stands for it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AddressMapping")]
pub struct RawMapping {
    #[schemars(with = "String")]
    pub yours: SpannedStr,
    #[schemars(with = "String")]
    pub lab: SpannedStr,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "SwitchKind")]
pub enum RawSwitchKind {
    Bridge,
    None,
    Emulated,
    External,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Switch")]
pub struct RawSwitch {
    #[schemars(with = "Option<RawSwitchKind>")]
    pub kind: Option<Spanned<RawSwitchKind>>,
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    #[schemars(with = "Option<u32>")]
    pub ageing_time: Option<Spanned<u32>>,
    #[schemars(with = "Option<u32>")]
    pub fdb_max_learned: Option<Spanned<u32>>,
    #[schemars(with = "Option<bool>")]
    pub multicast_snooping: Option<Spanned<bool>>,
    #[schemars(with = "Option<u32>")]
    pub learning_rate: Option<Spanned<u32>>,
    #[schemars(with = "Option<RawTableFull>")]
    pub table_full: Option<Spanned<RawTableFull>>,
}

/// What an external switch under test does with a new source once its table is full.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "TableFull")]
pub enum RawTableFull {
    StopLearning,
    EvictOldest,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Port")]
pub struct RawPort {
    pub hairpin: Option<bool>,
    pub learning: Option<bool>,
    pub unicast_flood: Option<bool>,
    pub multicast_flood: Option<bool>,
    pub broadcast_flood: Option<bool>,
    #[schemars(with = "Option<i64>")]
    pub vlan: Option<Spanned<i64>>,
    #[schemars(with = "Option<Vec<i64>>")]
    pub trunk: Option<Spanned<Vec<Spanned<i64>>>>,
    #[schemars(with = "Option<i64>")]
    pub native_vlan: Option<Spanned<i64>>,
    #[schemars(with = "Option<RawOuterTags>")]
    pub outer_tags: Option<Spanned<RawOuterTags>>,
    #[schemars(with = "Option<u32>")]
    pub mac_limit: Option<Spanned<u32>>,
    #[schemars(with = "Option<u32>")]
    pub max_macs: Option<Spanned<u32>>,
    #[schemars(with = "Option<RawViolation>")]
    pub violation: Option<Spanned<RawViolation>>,
    #[schemars(with = "Option<bool>")]
    pub sticky: Option<Spanned<bool>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub static_macs: Option<Spanned<Vec<SpannedStr>>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "OuterTags")]
pub enum RawOuterTags {
    Pass,
    Drop,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "Violation")]
pub enum RawViolation {
    Protect,
    Restrict,
    Shutdown,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "ParentKind")]
pub enum RawParentKind {
    Veth,
    Dummy,
    Existing,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Parent")]
pub struct RawParent {
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    #[schemars(with = "Option<RawParentKind>")]
    pub kind: Option<Spanned<RawParentKind>>,
    #[schemars(with = "Option<String>")]
    pub interface: Option<SpannedStr>,
    #[schemars(with = "Option<u32>")]
    pub mtu: Option<Spanned<u32>>,
    #[schemars(with = "Option<String>")]
    pub mac: Option<SpannedStr>,
    #[schemars(with = "Option<RawPort>")]
    pub port: Option<Spanned<RawPort>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "Mode")]
pub enum RawMode {
    Bridge,
    Vepa,
    Private,
    Passthru,
    Source,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Network")]
pub struct RawNetwork {
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub parent: Option<SpannedStr>,
    #[schemars(with = "Option<RawMode>")]
    pub mode: Option<Spanned<RawMode>>,
    #[schemars(with = "Option<String>")]
    pub subnet: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub gateway: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip_range: Option<SpannedStr>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub aux_addresses: Option<BTreeMap<String, SpannedStr>>,
    #[schemars(with = "Option<String>")]
    pub subnet6: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub gateway6: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip_range6: Option<SpannedStr>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub aux_addresses6: Option<BTreeMap<String, SpannedStr>>,
    #[schemars(with = "Option<i64>")]
    pub vlan: Option<Spanned<i64>>,
    #[schemars(with = "Option<bool>")]
    pub tagged_frames: Option<Spanned<bool>>,
    #[schemars(with = "Option<bool>")]
    pub nopromisc: Option<Spanned<bool>>,
    #[schemars(with = "Option<bool>")]
    pub nodst: Option<Spanned<bool>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub source_macs: Option<Spanned<Vec<SpannedStr>>>,
    #[schemars(with = "Option<u32>")]
    pub bcqueuelen: Option<Spanned<u32>>,
    #[schemars(with = "Option<i32>")]
    pub bc_cutoff: Option<Spanned<i32>>,
    #[schemars(with = "Option<Vec<RawEndpoints>>")]
    pub endpoints: Option<Vec<Spanned<RawEndpoints>>>,
    #[schemars(with = "Option<bool>")]
    pub internal: Option<Spanned<bool>>,
    #[schemars(with = "Option<bool>")]
    pub enable_ipv4: Option<Spanned<bool>>,
    #[schemars(with = "Option<bool>")]
    pub enable_ipv6: Option<Spanned<bool>>,
    #[schemars(with = "Option<Vec<RawPool>>")]
    pub subnets: Option<Vec<Spanned<RawPool>>>,
    #[schemars(with = "Option<String>")]
    pub range_start: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub range_end: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub range_start6: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub range_end6: Option<SpannedStr>,
    #[schemars(with = "Option<Vec<String>>")]
    pub routes: Option<Vec<SpannedStr>>,
}

/// One more address pool of a network (`[[networks.subnets]]`), of either family: Docker's
/// further `IPAM.Config` entries, CNI's further ranges.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Pool")]
pub struct RawPool {
    #[schemars(with = "String")]
    pub subnet: SpannedStr,
    #[schemars(with = "Option<String>")]
    pub gateway: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip_range: Option<SpannedStr>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub aux_addresses: Option<BTreeMap<String, SpannedStr>>,
    #[schemars(with = "Option<String>")]
    pub range_start: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub range_end: Option<SpannedStr>,
}

/// A group of endpoints (`count`, a `name` pattern with `{n}`, `start`) or a single endpoint
/// (`name` and optional fixed addresses).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Endpoints")]
pub struct RawEndpoints {
    #[schemars(with = "Option<u32>")]
    pub count: Option<Spanned<u32>>,
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    #[schemars(with = "Option<u32>")]
    pub start: Option<Spanned<u32>>,
    #[schemars(with = "Option<String>")]
    pub ip: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip6: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub mac: Option<SpannedStr>,
    #[schemars(with = "Option<Vec<String>>")]
    pub source_macs: Option<Spanned<Vec<SpannedStr>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Peer")]
pub struct RawPeer {
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub interface: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub network: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip6: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub mac: Option<SpannedStr>,
    #[schemars(with = "Option<RawPort>")]
    pub port: Option<Spanned<RawPort>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Host")]
pub struct RawHost {
    #[schemars(with = "Option<String>")]
    pub network: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip6: Option<SpannedStr>,
    #[schemars(with = "Option<RawShim>")]
    pub shim: Option<Spanned<RawShim>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Shim")]
pub struct RawShim {
    #[schemars(with = "Option<String>")]
    pub network: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub ip6: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub mac: Option<SpannedStr>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "TestKind")]
pub enum RawTestKind {
    Matrix,
    Latency,
    Throughput,
    Rfc2544,
    #[serde(rename = "address_caching")]
    AddressCaching,
    #[serde(rename = "address_learning_rate")]
    AddressLearningRate,
    #[serde(rename = "endpoint_ramp")]
    EndpointRamp,
    #[serde(rename = "mac_sweep")]
    MacSweep,
    #[serde(rename = "ip_exhaustion")]
    IpExhaustion,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "MacOrder")]
pub enum RawMacOrder {
    Sequential,
    Random,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "Promiscuous")]
pub enum RawPromiscuous {
    Off,
    On,
    Both,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "LatencyMethod")]
pub enum RawLatencyMethod {
    OneWay,
    RoundTrip,
}

/// One `[[tests]]` entry. The keys of every kind live in one table so that spans survive (serde's
/// tagged enums lose them); `test_specs` refuses keys that do not belong to the entry's kind.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "Test",
    description = "A test: `kind` says what it measures; each kind takes its own keys (README, \"`[[tests]]`\"), and `expect` lists the claims its result must hold."
)]
pub struct RawTest {
    #[schemars(with = "RawTestKind")]
    pub kind: Spanned<RawTestKind>,
    #[schemars(with = "Option<String>")]
    pub name: Option<SpannedStr>,
    #[schemars(with = "Option<u32>")]
    pub frames: Option<Spanned<u32>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub classes: Option<Vec<SpannedStr>>,
    #[schemars(with = "Option<i64>")]
    pub vlan: Option<Spanned<i64>>,
    #[schemars(with = "Option<RawPromiscuous>")]
    pub promiscuous: Option<Spanned<RawPromiscuous>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub senders: Option<Vec<SpannedStr>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub receivers: Option<Vec<SpannedStr>>,
    #[schemars(with = "Option<String>")]
    pub from: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub to: Option<SpannedStr>,
    #[schemars(with = "Option<RawLatencyMethod>")]
    pub method: Option<Spanned<RawLatencyMethod>>,
    #[schemars(with = "Option<String>")]
    pub rate: Option<SpannedStr>,
    #[schemars(with = "Option<u32>")]
    pub frame_size: Option<Spanned<u32>>,
    #[schemars(with = "Option<Vec<u32>>")]
    pub frame_sizes: Option<Spanned<Vec<Spanned<u32>>>>,
    #[schemars(with = "Option<String>")]
    pub duration: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub trial: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub loss_tolerance: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub resolution: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub max_rate: Option<SpannedStr>,
    #[schemars(with = "Option<bool>")]
    pub frame_loss_steps: Option<Spanned<bool>>,
    #[schemars(with = "Option<bool>")]
    pub back_to_back: Option<Spanned<bool>>,
    #[schemars(with = "Option<String>")]
    pub learning: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub test: Option<SpannedStr>,
    #[schemars(with = "Option<String>")]
    pub monitor: Option<SpannedStr>,
    #[schemars(with = "Option<u32>")]
    pub addresses: Option<Spanned<u32>>,
    #[schemars(with = "Option<String>")]
    pub network: Option<SpannedStr>,
    #[schemars(with = "Option<u32>")]
    pub max_endpoints: Option<Spanned<u32>>,
    #[schemars(with = "Option<u32>")]
    pub broadcasts: Option<Spanned<u32>>,
    #[schemars(with = "Option<u32>")]
    pub macs: Option<Spanned<u32>>,
    #[schemars(with = "Option<RawMacOrder>")]
    pub order: Option<Spanned<RawMacOrder>>,
    #[schemars(with = "Option<u32>")]
    pub containers: Option<Spanned<u32>>,
    #[schemars(with = "Option<String>")]
    pub peer: Option<SpannedStr>,
    #[schemars(with = "Option<Vec<String>>")]
    pub expect: Option<Vec<SpannedStr>>,
}

impl RawTest {
    /// An entry of `kind` with every other key left out (its defaults).
    pub fn of_kind(kind: RawTestKind) -> RawTest {
        RawTest {
            kind: Spanned::new(0..0, kind),
            name: None,
            frames: None,
            classes: None,
            vlan: None,
            promiscuous: None,
            senders: None,
            receivers: None,
            from: None,
            to: None,
            method: None,
            rate: None,
            frame_size: None,
            frame_sizes: None,
            duration: None,
            trial: None,
            loss_tolerance: None,
            resolution: None,
            max_rate: None,
            frame_loss_steps: None,
            back_to_back: None,
            learning: None,
            test: None,
            monitor: None,
            addresses: None,
            network: None,
            max_endpoints: None,
            broadcasts: None,
            macs: None,
            order: None,
            containers: None,
            peer: None,
            expect: None,
        }
    }
}
