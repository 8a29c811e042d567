//! The scenario file as written: serde structs that mirror the TOML one to one, every key optional,
//! unknown keys refused, and a source span kept on every value a later check may complain about.
//! Owns the spelling of keys and enumerations; owns no defaults and no cross-field rules (those
//! live in `validate`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string with the place it was written.
pub type SpannedStr = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<SpannedStr>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub switch: Option<Spanned<RawSwitch>>,
    pub parents: Option<Vec<Spanned<RawParent>>>,
    pub networks: Option<Vec<Spanned<RawNetwork>>>,
    pub peers: Option<Vec<Spanned<RawPeer>>>,
    pub host: Option<Spanned<RawHost>>,
    pub tests: Option<Vec<Spanned<RawTest>>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawSwitchKind {
    Bridge,
    None,
    Emulated,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwitch {
    pub kind: Option<Spanned<RawSwitchKind>>,
    pub name: Option<SpannedStr>,
    pub ageing_time: Option<Spanned<u32>>,
    pub fdb_max_learned: Option<Spanned<u32>>,
    pub multicast_snooping: Option<Spanned<bool>>,
    pub learning_rate: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPort {
    pub hairpin: Option<bool>,
    pub learning: Option<bool>,
    pub unicast_flood: Option<bool>,
    pub multicast_flood: Option<bool>,
    pub broadcast_flood: Option<bool>,
    pub vlan: Option<Spanned<i64>>,
    pub trunk: Option<Spanned<Vec<Spanned<i64>>>>,
    pub native_vlan: Option<Spanned<i64>>,
    pub outer_tags: Option<Spanned<RawOuterTags>>,
    pub mac_limit: Option<Spanned<u32>>,
    pub max_macs: Option<Spanned<u32>>,
    pub violation: Option<Spanned<RawViolation>>,
    pub sticky: Option<Spanned<bool>>,
    pub static_macs: Option<Spanned<Vec<SpannedStr>>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawOuterTags {
    Pass,
    Drop,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawViolation {
    Protect,
    Restrict,
    Shutdown,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawParentKind {
    Veth,
    Dummy,
    Existing,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParent {
    pub name: Option<SpannedStr>,
    pub kind: Option<Spanned<RawParentKind>>,
    pub interface: Option<SpannedStr>,
    pub mtu: Option<Spanned<u32>>,
    pub mac: Option<SpannedStr>,
    pub port: Option<Spanned<RawPort>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawMode {
    Bridge,
    Vepa,
    Private,
    Passthru,
    Source,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub name: Option<SpannedStr>,
    pub parent: Option<SpannedStr>,
    pub mode: Option<Spanned<RawMode>>,
    pub subnet: Option<SpannedStr>,
    pub gateway: Option<SpannedStr>,
    pub ip_range: Option<SpannedStr>,
    pub aux_addresses: Option<BTreeMap<String, SpannedStr>>,
    pub subnet6: Option<SpannedStr>,
    pub gateway6: Option<SpannedStr>,
    pub ip_range6: Option<SpannedStr>,
    pub aux_addresses6: Option<BTreeMap<String, SpannedStr>>,
    pub vlan: Option<Spanned<i64>>,
    pub tagged_frames: Option<Spanned<bool>>,
    pub nopromisc: Option<Spanned<bool>>,
    pub nodst: Option<Spanned<bool>>,
    pub source_macs: Option<Spanned<Vec<SpannedStr>>>,
    pub bcqueuelen: Option<Spanned<u32>>,
    pub bc_cutoff: Option<Spanned<i32>>,
    pub endpoints: Option<Vec<Spanned<RawEndpoints>>>,
}

/// A group of endpoints (`count`, a `name` pattern with `{n}`, `start`) or a single endpoint
/// (`name` and optional fixed addresses).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoints {
    pub count: Option<Spanned<u32>>,
    pub name: Option<SpannedStr>,
    pub start: Option<Spanned<u32>>,
    pub ip: Option<SpannedStr>,
    pub ip6: Option<SpannedStr>,
    pub mac: Option<SpannedStr>,
    pub source_macs: Option<Spanned<Vec<SpannedStr>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeer {
    pub name: Option<SpannedStr>,
    pub network: Option<SpannedStr>,
    pub ip: Option<SpannedStr>,
    pub ip6: Option<SpannedStr>,
    pub mac: Option<SpannedStr>,
    pub port: Option<Spanned<RawPort>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub network: Option<SpannedStr>,
    pub ip: Option<SpannedStr>,
    pub ip6: Option<SpannedStr>,
    pub shim: Option<Spanned<RawShim>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShim {
    pub network: Option<SpannedStr>,
    pub name: Option<SpannedStr>,
    pub ip: Option<SpannedStr>,
    pub ip6: Option<SpannedStr>,
    pub mac: Option<SpannedStr>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
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

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawMacOrder {
    Sequential,
    Random,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawPromiscuous {
    Off,
    On,
    Both,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawLatencyMethod {
    OneWay,
    RoundTrip,
}

/// One `[[tests]]` entry. The keys of every kind live in one table so that spans survive (serde's
/// tagged enums lose them); `test_specs` refuses keys that do not belong to the entry's kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub kind: Spanned<RawTestKind>,
    pub name: Option<SpannedStr>,
    pub frames: Option<Spanned<u32>>,
    pub classes: Option<Vec<SpannedStr>>,
    pub vlan: Option<Spanned<i64>>,
    pub promiscuous: Option<Spanned<RawPromiscuous>>,
    pub senders: Option<Vec<SpannedStr>>,
    pub receivers: Option<Vec<SpannedStr>>,
    pub from: Option<SpannedStr>,
    pub to: Option<SpannedStr>,
    pub method: Option<Spanned<RawLatencyMethod>>,
    pub rate: Option<SpannedStr>,
    pub frame_size: Option<Spanned<u32>>,
    pub frame_sizes: Option<Spanned<Vec<Spanned<u32>>>>,
    pub duration: Option<SpannedStr>,
    pub trial: Option<SpannedStr>,
    pub loss_tolerance: Option<SpannedStr>,
    pub resolution: Option<SpannedStr>,
    pub max_rate: Option<SpannedStr>,
    pub frame_loss_steps: Option<Spanned<bool>>,
    pub back_to_back: Option<Spanned<bool>>,
    pub learning: Option<SpannedStr>,
    pub test: Option<SpannedStr>,
    pub monitor: Option<SpannedStr>,
    pub addresses: Option<Spanned<u32>>,
    pub network: Option<SpannedStr>,
    pub max_endpoints: Option<Spanned<u32>>,
    pub broadcasts: Option<Spanned<u32>>,
    pub macs: Option<Spanned<u32>>,
    pub order: Option<Spanned<RawMacOrder>>,
    pub containers: Option<Spanned<u32>>,
    pub peer: Option<SpannedStr>,
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
