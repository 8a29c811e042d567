//! From the file as written (`schema`) to one typed `Scenario`: defaults, names, cross-field rules,
//! Docker-style IPAM and deterministic MACs. Every problem becomes a `Diagnostic` on the offending
//! value, with a hint; the problems of one stage are reported together (a later stage only runs
//! when the earlier ones found nothing, since it depends on their results). Reads the scenario file
//! and nothing else.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use ipnetwork::{Ipv4Network, Ipv6Network};
use toml::Spanned;

use super::ipam::{Family, Pool, PoolExhausted, Refusal};
use super::schema::*;
use super::*;
use crate::addr::{LAB_NET4, LAB_NET6};
use crate::delivery::UNKNOWN_UNICAST_MAC;
use crate::diag::{Diagnostic, Diagnostics, Source, Span};

/// Most endpoints one group may ask for.
const MAX_COUNT: u32 = 100_000;
/// Longest node name (it becomes part of a namespace name).
const NODE_NAME_MAX: usize = 40;

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, Diagnostics> {
    let text = fs::read_to_string(path).map_err(|e| {
        Diagnostic::whole(
            None,
            format!("cannot read scenario {}: {e}", path.display()),
        )
        .hint("check the path; `mvlab check FILE` validates a scenario without touching the kernel")
    })?;
    parse(Source::new(path, text))
}

/// Validates scenario text.
pub fn parse(source: Arc<Source>) -> Result<Scenario, Diagnostics> {
    let raw: RawScenario = toml::from_str(&source.text).map_err(|e| toml_error(&source, &e))?;
    Builder {
        source: source.clone(),
        diags: Diagnostics::default(),
    }
    .build(raw)
}

fn toml_error(source: &Arc<Source>, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_string();
    let hint = if message.starts_with("unknown field") {
        "fix the key's spelling or remove it; the keys allowed here are listed above (README: Scenario reference)"
    } else if message.starts_with("unknown variant") {
        "use one of the values listed above"
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        "give the value the type shown above (quote addresses and names, write numbers bare)"
    } else if message.starts_with("duplicate key") {
        "each key may appear once per table"
    } else {
        "this is not valid TOML here"
    };
    let d = match e.span() {
        Some(span) => Diagnostic::at(source, span, message),
        None => Diagnostic::whole(Some(source), message),
    };
    d.hint(hint)
}

/// An endpoint before addresses and MACs are assigned.
struct EndpointDraft {
    name: Option<String>,
    network: usize,
    ip: Option<Spanned<Ipv4Addr>>,
    ip6: Option<Spanned<Ipv6Addr>>,
    mac: Option<Spanned<MacAddr>>,
    source_macs: Option<Vec<SpannedStr>>,
    span: Span,
}

/// A peer before addresses and MACs are assigned.
struct PeerDraft {
    name: String,
    network: usize,
    ip: Option<Spanned<Ipv4Addr>>,
    ip6: Option<Spanned<Ipv6Addr>>,
    mac: Option<Spanned<MacAddr>>,
    port: Port,
    port_span: Option<Span>,
    port_extras: PortExtras,
    span: Span,
}

/// What a `port` table says beyond the typed `Port`, kept until the switch kind and the nodes'
/// MACs are known.
#[derive(Default)]
struct PortExtras {
    /// The first VLAN membership key (`vlan`, `trunk`, `native_vlan`): the emulated switch and
    /// a Linux bridge (which then filters by VLAN) take them, a bare wire does not.
    vlan_key: Option<(&'static str, Span)>,
    /// The first key only the emulated switch understands, for the error on any other switch.
    emulated_only: Option<(&'static str, Span)>,
    /// `static_macs` as written: MACs or node names.
    static_macs: Vec<SpannedStr>,
    /// `max_macs`, where it was written.
    max_macs_span: Option<Span>,
}

struct ShimDraft {
    network: usize,
    interface: String,
    ip: Option<Spanned<Ipv4Addr>>,
    ip6: Option<Spanned<Ipv6Addr>>,
    mac: Option<Spanned<MacAddr>>,
    span: Span,
}

struct HostDraft {
    network: usize,
    ip: Option<Spanned<Ipv4Addr>>,
    ip6: Option<Spanned<Ipv6Addr>>,
}

/// Network facts kept beside the typed `Network` until addresses are assigned.
struct NetworkDraft {
    network: Network,
    raw_source_macs: Vec<SpannedStr>,
    endpoints_span: Span,
    groups: Option<Vec<Spanned<RawEndpoints>>>,
}

/// Everything the structural stage settles.
struct Drafts {
    name: String,
    description: String,
    seed: u64,
    switch: Switch,
    parents: Vec<Parent>,
    parent_macs: Vec<Option<Spanned<MacAddr>>>,
    parent_ports: Vec<PortExtras>,
    networks: Vec<NetworkDraft>,
    endpoints: Vec<EndpointDraft>,
    peers: Vec<PeerDraft>,
    host: Option<HostDraft>,
    shim: Option<ShimDraft>,
}

/// One node's addresses after IPAM.
#[derive(Clone, Copy)]
struct Assigned {
    ipv4: Ipv4Addr,
    ipv6: Option<Ipv6Addr>,
}

struct Addresses {
    endpoints: Vec<Assigned>,
    peers: Vec<Assigned>,
    shim: Option<Assigned>,
}

struct Macs {
    parents: Vec<MacAddr>,
    endpoints: Vec<MacAddr>,
    peers: Vec<MacAddr>,
    shim: Option<MacAddr>,
}

pub(super) struct Builder {
    pub(super) source: Arc<Source>,
    diags: Diagnostics,
}

fn spanned<T>(v: &Spanned<T>) -> Span {
    v.span()
}

fn default_port() -> Port {
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

/// The default subnet of the network at `index`: consecutive /24s of 198.18.0.0/15.
fn default_subnet(index: usize) -> (Ipv4Addr, u8) {
    let i = (index % 512) as u32;
    (Ipv4Addr::from(u32::from(LAB_NET4.0) + (i << 8)), 24)
}

/// A deterministic, locally administered unicast MAC for `key` (FNV-1a, then a SplitMix64
/// finaliser): stable across versions and platforms for a given seed.
pub(super) fn generated_mac(seed: u64, key: &str, attempt: u32) -> MacAddr {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in key.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let b = h.to_be_bytes();
    MacAddr([0x02, b[0], b[1], b[2], b[3], b[4]])
}

fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name != "."
        && name != ".."
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

pub(super) fn valid_node_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= NODE_NAME_MAX
}

/// Docker's refusal when a network's pool has fewer addresses than asked for, and the hint:
/// one wording for `mvlab check` and for the ip_exhaustion test that reports it.
pub(super) fn exhaustion_message(
    network: &Network,
    key: &str,
    range: &str,
    available: u128,
    asked: u128,
) -> (String, String) {
    let ipam = &network.ipv4;
    (
        format!(
            "network `{}` needs {asked} addresses from its pool {range}, which has {available} left (after the network and broadcast addresses, the gateway {}, {} aux address(es) and the fixed addresses)",
            network.name,
            ipam.gateway,
            ipam.aux_addresses.len()
        ),
        format!("widen `subnet`/`{key}`, or ask for at most {available} endpoints"),
    )
}

impl Builder {
    pub(super) fn error(
        &mut self,
        span: Span,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::at(&self.source, span, message).hint(hint));
    }

    /// Ends a stage: the problems it collected, if any.
    fn stage(&mut self) -> Result<(), Diagnostics> {
        std::mem::take(&mut self.diags).into_result(())
    }

    fn build(mut self, mut raw: RawScenario) -> Result<Scenario, Diagnostics> {
        let raw_tests = raw.tests.take().unwrap_or_default();
        let drafts = self.structure(raw);
        self.stage()?;
        let addresses = self.addresses(&drafts);
        self.stage()?;
        let macs = self.macs(&drafts);
        self.stage()?;
        let mut scenario = self.assemble(drafts, addresses, macs);
        self.stage()?;
        scenario.tests = self.tests(raw_tests, &scenario);
        self.stage()?;
        Ok(scenario)
    }

    // ----- stage 1: structure, names and values -----

    fn structure(&mut self, raw: RawScenario) -> Drafts {
        let name = match raw.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.error(
                    n.span(),
                    "the scenario name is empty",
                    "write a short name, or leave `name` out to use the file name",
                );
                String::new()
            }
            Some(n) => n.into_inner(),
            None => self
                .source
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scenario")
                .to_string(),
        };
        let switch = self.switch(raw.switch);
        let (mut parents, parent_macs, parent_ports) = self.parents(raw.parents);
        let mut networks = self.networks(raw.networks, &parents);
        let mut endpoints = self.endpoints(&mut networks);
        let mut peers = self.peers(raw.peers, &networks);
        let (host, shim) = self.host(raw.host, &networks);
        self.node_names(&mut endpoints, &peers);
        let mut switch = switch;
        self.port_policies(&mut switch, &mut parents, &parent_ports, &mut peers);
        self.wiring(
            &switch,
            &mut parents,
            &networks,
            &endpoints,
            &mut peers,
            shim.as_ref(),
        );
        Drafts {
            name,
            description: raw.description.unwrap_or_default(),
            seed: raw.seed.unwrap_or(1),
            switch,
            parents,
            parent_macs,
            parent_ports,
            networks,
            endpoints,
            peers,
            host,
            shim,
        }
    }

    fn switch(&mut self, raw: Option<Spanned<RawSwitch>>) -> Switch {
        let Some(raw) = raw else {
            return Switch::Bridge(Bridge {
                name: "br0".into(),
                ageing_time: 300,
                fdb_max_learned: None,
                multicast_snooping: true,
                span: 0..0,
                fdb_max_learned_span: None,
                vlan_filtering: false,
                vlan_span: None,
            });
        };
        let span = raw.span();
        let r = raw.into_inner();
        let kind_span = r.kind.as_ref().map_or(span.clone(), spanned);
        let kind = r
            .kind
            .as_ref()
            .map_or(RawSwitchKind::Bridge, |k| *k.get_ref());
        // Keys that mean nothing to this kind: (key, where, what the key needs).
        let foreign: Vec<(&str, Option<Span>, &str)> = match kind {
            RawSwitchKind::None => vec![
                ("name", r.name.as_ref().map(spanned), "a bridge switch"),
                (
                    "ageing_time",
                    r.ageing_time.as_ref().map(spanned),
                    "a bridge or emulated switch",
                ),
                (
                    "fdb_max_learned",
                    r.fdb_max_learned.as_ref().map(spanned),
                    "a bridge or emulated switch",
                ),
                (
                    "multicast_snooping",
                    r.multicast_snooping.as_ref().map(spanned),
                    "a bridge switch",
                ),
                (
                    "learning_rate",
                    r.learning_rate.as_ref().map(spanned),
                    "the emulated switch",
                ),
            ],
            RawSwitchKind::Bridge => vec![(
                "learning_rate",
                r.learning_rate.as_ref().map(spanned),
                "the emulated switch",
            )],
            RawSwitchKind::Emulated => vec![
                ("name", r.name.as_ref().map(spanned), "a bridge switch"),
                (
                    "multicast_snooping",
                    r.multicast_snooping.as_ref().map(spanned),
                    "a bridge switch",
                ),
            ],
        };
        for (key, at, needs) in foreign {
            if let Some(at) = at {
                let hint = match needs {
                    "a bridge switch" if kind == RawSwitchKind::Emulated => {
                        "remove it: the emulated switch has no bridge device and floods every group frame (as a bridge snooping with no querier does)"
                    }
                    "the emulated switch" => "remove it, or set `kind = \"emulated\"`",
                    _ => "remove it, or set `kind = \"bridge\"`",
                };
                self.error(at, format!("`{key}` only applies to {needs}"), hint);
            }
        }
        if kind == RawSwitchKind::None {
            return Switch::None { span: kind_span };
        }
        let ageing_time = r.ageing_time.as_ref().map_or(300, |a| *a.get_ref());
        if let Some(a) = &r.ageing_time
            && ageing_time > 1_000_000
        {
            self.error(
                a.span(),
                format!("ageing time {ageing_time} s is beyond the kernel's limit"),
                "use seconds from 0 to 1000000 (the kernel default is 300)",
            );
        }
        let fdb_max_learned = r
            .fdb_max_learned
            .as_ref()
            .map(|v| *v.get_ref())
            .filter(|&v| v != 0);
        if kind == RawSwitchKind::Emulated {
            if let Some(rate) = &r.learning_rate
                && *rate.get_ref() == 0
            {
                self.error(
                    rate.span(),
                    "a learning rate of 0 would never learn",
                    "give new entries per second (at least 1), or set ageing_time = 0 to turn learning off",
                );
            }
            return Switch::Emulated(Emulated {
                ageing_time,
                fdb_max_learned,
                learning_rate: r.learning_rate.as_ref().map(|v| *v.get_ref()),
                span: kind_span,
            });
        }
        let name = match r.name {
            Some(n) => {
                self.ifname(n.get_ref(), n.span(), "the bridge");
                n.into_inner()
            }
            None => "br0".into(),
        };
        Switch::Bridge(Bridge {
            name,
            ageing_time,
            fdb_max_learned,
            multicast_snooping: r.multicast_snooping.is_none_or(|m| *m.get_ref()),
            span: kind_span,
            fdb_max_learned_span: r.fdb_max_learned.as_ref().map(spanned),
            vlan_filtering: false,
            vlan_span: None,
        })
    }

    /// A VLAN id written in a port table.
    fn vid(&mut self, raw: &Spanned<i64>) -> Option<u16> {
        let id = *raw.get_ref();
        if (1..=4094).contains(&id) {
            Some(id as u16)
        } else {
            self.error(
                raw.span(),
                format!("VLAN id {id} is outside 1..4094"),
                "802.1Q ids 0 and 4095 are reserved; use 1 to 4094",
            );
            None
        }
    }

    /// A `port` table: the bridge-port flags and what only the emulated switch does.
    fn port(&mut self, raw: Option<Spanned<RawPort>>) -> (Port, Option<Span>, PortExtras) {
        let Some(raw) = raw else {
            return (default_port(), None, PortExtras::default());
        };
        let span = raw.span();
        let r = raw.into_inner();
        let d = default_port();
        let vlan_key = [
            ("vlan", r.vlan.as_ref().map(spanned)),
            ("trunk", r.trunk.as_ref().map(spanned)),
            ("native_vlan", r.native_vlan.as_ref().map(spanned)),
        ]
        .into_iter()
        .find_map(|(key, at)| at.map(|at| (key, at)));
        let emulated_only = [
            ("outer_tags", r.outer_tags.as_ref().map(spanned)),
            ("mac_limit", r.mac_limit.as_ref().map(spanned)),
            ("max_macs", r.max_macs.as_ref().map(spanned)),
            ("violation", r.violation.as_ref().map(spanned)),
            ("sticky", r.sticky.as_ref().map(spanned)),
            ("static_macs", r.static_macs.as_ref().map(spanned)),
        ]
        .into_iter()
        .find_map(|(key, at)| at.map(|at| (key, at)));
        let vlan = match (&r.vlan, &r.trunk) {
            (Some(v), Some(t)) => {
                self.error(
                    t.span(),
                    "a port is either an access port (`vlan`) or a trunk (`trunk`), not both",
                    "keep one of them",
                );
                self.vid(v)
                    .map_or(PortVlan::Transparent, |vid| PortVlan::Access { vid })
            }
            (Some(v), None) => self
                .vid(v)
                .map_or(PortVlan::Transparent, |vid| PortVlan::Access { vid }),
            (None, Some(t)) => {
                let mut allowed: Vec<u16> = Vec::new();
                for id in t.get_ref() {
                    if let Some(vid) = self.vid(id) {
                        if allowed.contains(&vid) {
                            self.error(
                                id.span(),
                                format!("VLAN {vid} is listed twice"),
                                "list each VLAN once",
                            );
                        }
                        allowed.push(vid);
                    }
                }
                let native = r.native_vlan.as_ref().and_then(|n| self.vid(n));
                if allowed.is_empty() && native.is_none() {
                    self.error(
                        t.span(),
                        "a trunk with no VLAN carries nothing",
                        "list the VLANs it carries tagged, e.g. trunk = [10, 20], and/or give `native_vlan`",
                    );
                }
                allowed.sort_unstable();
                PortVlan::Trunk { allowed, native }
            }
            (None, None) => PortVlan::Transparent,
        };
        if let (Some(n), None) = (&r.native_vlan, &r.trunk) {
            self.error(
                n.span(),
                "`native_vlan` only applies to a trunk port",
                "add `trunk = [...]`, or use `vlan` for an access port",
            );
        }
        let positive = |b: &mut Self, v: &Option<Spanned<u32>>, key: &str| -> Option<u32> {
            let v = v.as_ref()?;
            if *v.get_ref() == 0 {
                b.error(
                    v.span(),
                    format!("`{key} = 0` would refuse every source"),
                    format!("give at least 1, or remove `{key}`"),
                );
                return None;
            }
            Some(*v.get_ref())
        };
        let mac_limit = positive(self, &r.mac_limit, "mac_limit");
        let max_macs = positive(self, &r.max_macs, "max_macs");
        let learning = r.learning.unwrap_or(d.learning);
        if r.max_macs.is_none() {
            for (key, at) in [
                ("violation", r.violation.as_ref().map(spanned)),
                ("sticky", r.sticky.as_ref().map(spanned)),
            ] {
                if let Some(at) = at {
                    self.error(
                        at,
                        format!("`{key}` belongs to port security, which `max_macs` turns on"),
                        "add `max_macs = N`, or remove it",
                    );
                }
            }
        }
        if let (Some(m), false) = (&r.max_macs, learning) {
            self.error(
                m.span(),
                "port security learns the port's secure addresses, but `learning = false`",
                "remove `learning = false`, or list the allowed sources in `static_macs`",
            );
        }
        let static_macs = r.static_macs.map(|l| l.into_inner()).unwrap_or_default();
        if let (Some(max), Some(m)) = (max_macs, &r.max_macs)
            && static_macs.len() > max as usize
        {
            self.error(
                m.span(),
                format!(
                    "{} static MACs are more than the {max} secure addresses `max_macs` allows",
                    static_macs.len()
                ),
                "raise `max_macs`, or list fewer `static_macs` (they count as secure addresses)",
            );
        }
        let security = max_macs.map(|max_macs| PortSecurity {
            max_macs,
            violation: match r.violation.as_ref().map(|v| *v.get_ref()) {
                Some(RawViolation::Protect) => Violation::Protect,
                Some(RawViolation::Restrict) => Violation::Restrict,
                Some(RawViolation::Shutdown) | None => Violation::Shutdown,
            },
            sticky: r.sticky.as_ref().is_some_and(|s| *s.get_ref()),
        });
        let port = Port {
            name: String::new(),
            hairpin: r.hairpin.unwrap_or(d.hairpin),
            learning,
            unicast_flood: r.unicast_flood.unwrap_or(d.unicast_flood),
            multicast_flood: r.multicast_flood.unwrap_or(d.multicast_flood),
            broadcast_flood: r.broadcast_flood.unwrap_or(d.broadcast_flood),
            policy: PortPolicy {
                vlan,
                outer_tags: match r.outer_tags.as_ref().map(|o| *o.get_ref()) {
                    Some(RawOuterTags::Drop) => OuterTags::Drop,
                    Some(RawOuterTags::Pass) | None => OuterTags::Pass,
                },
                mac_limit,
                security,
                static_macs: Vec::new(),
            },
        };
        let extras = PortExtras {
            vlan_key,
            emulated_only,
            static_macs,
            max_macs_span: r.max_macs.as_ref().map(spanned),
        };
        (port, Some(span), extras)
    }

    fn ifname(&mut self, name: &str, span: Span, what: &str) -> bool {
        if valid_ifname(name) {
            return true;
        }
        let hint = if name.len() > IFNAME_MAX {
            format!(
                "interface names are at most {IFNAME_MAX} bytes (this one has {}); pick a shorter name",
                name.len()
            )
        } else {
            "interface names are 1 to 15 bytes without '/', ':' or spaces".to_string()
        };
        self.error(span, format!("`{name}` cannot be the name of {what}"), hint);
        false
    }

    fn mac(&mut self, raw: Option<&SpannedStr>) -> Option<Spanned<MacAddr>> {
        let raw = raw?;
        match raw.get_ref().parse::<MacAddr>() {
            Ok(mac) => {
                if !mac.is_lab_safe() {
                    self.error(
                        raw.span(),
                        format!("{mac} is not a locally administered unicast MAC"),
                        format!(
                            "lab MACs must have the 0x02 bit set and the 0x01 bit clear in the first octet, e.g. {}",
                            mac.into_lab_safe()
                        ),
                    );
                    return None;
                }
                if mac == UNKNOWN_UNICAST_MAC {
                    self.error(
                        raw.span(),
                        format!("{mac} is reserved as the matrix's unknown-unicast destination"),
                        "pick another MAC",
                    );
                    return None;
                }
                Some(Spanned::new(raw.span(), mac))
            }
            Err(e) => {
                self.error(
                    raw.span(),
                    e.to_string(),
                    "write six hex octets like 02:00:00:00:00:01",
                );
                None
            }
        }
    }

    fn parse_addr<A: FromStr>(
        &mut self,
        raw: Option<&SpannedStr>,
        family: &str,
        example: &str,
    ) -> Option<Spanned<A>> {
        let raw = raw?;
        match raw.get_ref().parse::<A>() {
            Ok(a) => Some(Spanned::new(raw.span(), a)),
            Err(_) => {
                self.error(
                    raw.span(),
                    format!("`{}` is not an {family} address", raw.get_ref()),
                    format!("write it like {example}"),
                );
                None
            }
        }
    }

    fn ipv4(&mut self, raw: Option<&SpannedStr>) -> Option<Spanned<Ipv4Addr>> {
        self.parse_addr(raw, "IPv4", "198.18.0.10")
    }

    fn ipv6(&mut self, raw: Option<&SpannedStr>) -> Option<Spanned<Ipv6Addr>> {
        self.parse_addr(raw, "IPv6", "2001:2::10")
    }

    /// A subnet that is its own network address and lies inside the benchmarking range.
    fn subnet<A: Family, N>(
        &mut self,
        raw: &SpannedStr,
        lab: (A, u8),
        max_prefix: u8,
        family: &str,
    ) -> Option<(A, u8)>
    where
        N: FromStr + Copy,
        N: SubnetParts<A>,
    {
        let Ok(net) = raw.get_ref().parse::<N>() else {
            self.error(
                raw.span(),
                format!("`{}` is not an {family} subnet", raw.get_ref()),
                format!("write it as address/prefix, e.g. {}/24", lab.0),
            );
            return None;
        };
        let (addr, prefix) = net.parts();
        let base = Pool::base((addr, prefix));
        if base != addr {
            self.error(
                raw.span(),
                format!("`{}` has host bits set", raw.get_ref()),
                format!("did you mean {base}/{prefix}?"),
            );
            return None;
        }
        if prefix > max_prefix {
            self.error(
                raw.span(),
                format!("/{prefix} leaves no room for endpoints"),
                format!("use a prefix of at most /{max_prefix}"),
            );
            return None;
        }
        if !Pool::nests(lab, (addr, prefix)) {
            self.error(
                raw.span(),
                format!("{addr}/{prefix} is outside the benchmarking range {}/{}", lab.0, lab.1),
                format!(
                    "lab addresses must come from {}/{} (RFC 2544) or {}/{} (RFC 5180), so lab traffic can never reach a real network",
                    LAB_NET4.0, LAB_NET4.1, LAB_NET6.0, LAB_NET6.1
                ),
            );
            return None;
        }
        Some((addr, prefix))
    }

    fn parents(
        &mut self,
        raw: Option<Vec<Spanned<RawParent>>>,
    ) -> (Vec<Parent>, Vec<Option<Spanned<MacAddr>>>, Vec<PortExtras>) {
        let raw = raw.unwrap_or_else(|| {
            vec![Spanned::new(
                0..0,
                RawParent {
                    name: None,
                    kind: None,
                    interface: None,
                    mtu: None,
                    mac: None,
                    port: None,
                },
            )]
        });
        if raw.is_empty() {
            self.diags.push(
                Diagnostic::whole(
                    Some(&self.source),
                    "`parents = []` leaves the networks nothing to attach to",
                )
                .hint("remove `parents` to get one veth parent `eth0`, or list at least one"),
            );
        }
        let mut parents = Vec::new();
        let mut macs = Vec::new();
        let mut ports = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for (i, raw) in raw.into_iter().enumerate() {
            let span = raw.span();
            let r = raw.into_inner();
            let name = r
                .name
                .as_ref()
                .map_or_else(|| format!("eth{i}"), |n| n.get_ref().clone());
            let name_span = r.name.as_ref().map_or(span.clone(), spanned);
            self.ifname(&name, name_span.clone(), "a parent");
            if seen.insert(name.clone(), name_span.clone()).is_some() {
                self.error(
                    name_span,
                    format!("parent `{name}` is declared twice"),
                    "give each parent its own name",
                );
            }
            let kind_span = r.kind.as_ref().map_or(span.clone(), spanned);
            let kind = match r
                .kind
                .map(|k| k.into_inner())
                .unwrap_or(RawParentKind::Veth)
            {
                RawParentKind::Veth => ParentKind::Veth,
                RawParentKind::Dummy => ParentKind::Dummy,
                RawParentKind::Existing => match &r.interface {
                    Some(iface) => {
                        self.ifname(iface.get_ref(), iface.span(), "an existing interface");
                        ParentKind::Existing {
                            interface: iface.get_ref().clone(),
                        }
                    }
                    None => {
                        self.error(
                            kind_span.clone(),
                            "an existing parent needs `interface`",
                            "name the root-namespace interface, e.g. interface = \"enp3s0\" (and run with --use-real-parent)",
                        );
                        ParentKind::Existing {
                            interface: String::new(),
                        }
                    }
                },
            };
            if let (Some(iface), false) =
                (&r.interface, matches!(kind, ParentKind::Existing { .. }))
            {
                self.error(
                    iface.span(),
                    "`interface` only applies to kind = \"existing\"",
                    "remove it: a veth or dummy parent is created by the lab",
                );
            }
            let mtu = r.mtu.as_ref().map_or(1500, |m| *m.get_ref());
            if let Some(m) = &r.mtu
                && !(68..=65535).contains(&mtu)
            {
                self.error(
                    m.span(),
                    format!("MTU {mtu} is out of range"),
                    "use 68 to 65535 (1500 is Ethernet's default)",
                );
            }
            macs.push(self.mac(r.mac.as_ref()));
            let (port, port_span, extras) = self.port(r.port);
            ports.push(extras);
            if let (Some(at), false) = (port_span, kind == ParentKind::Veth) {
                self.error(
                    at,
                    "only a veth parent has a switch port",
                    "remove `port` from this parent",
                );
            }
            parents.push(Parent {
                name,
                kind,
                port,
                mtu,
                mac: MacAddr::default(),
                span,
                kind_span,
            });
        }
        (parents, macs, ports)
    }

    fn networks(
        &mut self,
        raw: Option<Vec<Spanned<RawNetwork>>>,
        parents: &[Parent],
    ) -> Vec<NetworkDraft> {
        let raw = raw.unwrap_or_else(|| vec![Spanned::new(0..0, RawNetwork::default())]);
        let mut out = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for (i, raw) in raw.into_iter().enumerate() {
            let span = raw.span();
            let r = raw.into_inner();
            let name = r
                .name
                .as_ref()
                .map_or_else(|| format!("net{i}"), |n| n.get_ref().clone());
            if let Some(n) = &r.name {
                if !valid_node_name(&name) {
                    self.error(
                        n.span(),
                        format!("`{name}` is not a usable network name"),
                        "use letters, digits, '-' and '_', starting with a letter or digit",
                    );
                }
                if seen.insert(name.clone(), ()).is_some() {
                    self.error(
                        n.span(),
                        format!("network `{name}` is declared twice"),
                        "give each network its own name",
                    );
                }
            }
            let parent = match &r.parent {
                Some(p) => parents
                    .iter()
                    .position(|x| &x.name == p.get_ref())
                    .unwrap_or_else(|| {
                        let known: Vec<&str> = parents.iter().map(|x| x.name.as_str()).collect();
                        self.error(
                            p.span(),
                            format!("there is no parent `{}`", p.get_ref()),
                            format!(
                                "declare it under [[parents]] or use one of: {}",
                                known.join(", ")
                            ),
                        );
                        0
                    }),
                None if parents.len() > 1 => {
                    let known: Vec<&str> = parents.iter().map(|x| x.name.as_str()).collect();
                    self.error(
                        span.clone(),
                        format!("network `{name}` does not say which parent it uses"),
                        format!("add `parent = \"...\"`, one of: {}", known.join(", ")),
                    );
                    0
                }
                None => 0,
            };
            let mode_span = r.mode.as_ref().map_or(span.clone(), spanned);
            let mode = match r
                .mode
                .as_ref()
                .map(|m| *m.get_ref())
                .unwrap_or(RawMode::Bridge)
            {
                RawMode::Bridge => MacvlanMode::Bridge,
                RawMode::Vepa => MacvlanMode::Vepa,
                RawMode::Private => MacvlanMode::Private,
                RawMode::Passthru => MacvlanMode::Passthru,
                RawMode::Source => MacvlanMode::Source,
            };
            let vid = r.vlan.as_ref().and_then(|v| {
                let id = *v.get_ref();
                if (1..=4094).contains(&id) {
                    Some(id as u16)
                } else {
                    self.error(
                        v.span(),
                        format!("VLAN id {id} is outside 1..4094"),
                        "802.1Q ids 0 and 4095 are reserved; use 1 to 4094",
                    );
                    None
                }
            });
            let tagged_frames = r.tagged_frames.as_ref().is_some_and(|t| *t.get_ref());
            if let (Some(t), None) = (&r.tagged_frames, &r.vlan)
                && tagged_frames
            {
                self.error(
                    t.span(),
                    "`tagged_frames` needs the network's `vlan`",
                    "add `vlan = ID` (the tag the endpoints put on their frames), or remove it",
                );
            }
            let (vlan, frame_vlan) = if tagged_frames {
                (None, vid)
            } else {
                (vid, None)
            };
            let parent_name = parents.get(parent).map_or("eth0", |p| p.name.as_str());
            let link = match vlan {
                Some(v) => format!("{parent_name}.{v}"),
                None => parent_name.to_string(),
            };
            if let (Some(v), Some(at)) = (vlan, r.vlan.as_ref()) {
                if link.len() > IFNAME_MAX {
                    self.error(at.span(), format!("the sub-interface name `{link}` is longer than {IFNAME_MAX} bytes"), format!("shorten the parent's name `{parent_name}` so that `{parent_name}.{v}` fits"));
                }
            }
            for (key, flag, wanted) in [
                ("nopromisc", &r.nopromisc, MacvlanMode::Passthru),
                ("nodst", &r.nodst, MacvlanMode::Source),
            ] {
                if let Some(f) = flag
                    && *f.get_ref()
                    && mode != wanted
                {
                    self.error(
                        f.span(),
                        format!("`{key}` only has an effect in {wanted} mode"),
                        format!("remove it, or use mode = \"{wanted}\""),
                    );
                }
            }
            if let Some(list) = &r.source_macs
                && mode != MacvlanMode::Source
            {
                self.error(
                    list.span(),
                    "`source_macs` only applies to mode = \"source\"",
                    "remove it, or use mode = \"source\"",
                );
            }
            let ipv4 = self.ipam4(&r, i);
            let ipv6 = self.ipam6(&r);
            let network = Network {
                name,
                parent,
                mode,
                nopromisc: r.nopromisc.as_ref().is_some_and(|f| *f.get_ref()),
                nodst: r.nodst.as_ref().is_some_and(|f| *f.get_ref()),
                source_macs: Vec::new(),
                vlan,
                frame_vlan,
                link,
                bcqueuelen: r.bcqueuelen.as_ref().map(|v| *v.get_ref()),
                bc_cutoff: r.bc_cutoff.as_ref().map(|v| *v.get_ref()),
                ipv4,
                ipv6,
                span: span.clone(),
                mode_span,
                vlan_span: r.vlan.as_ref().map(spanned),
                bc_cutoff_span: r.bc_cutoff.as_ref().map(spanned),
            };
            out.push(NetworkDraft {
                network,
                raw_source_macs: r.source_macs.map(|l| l.into_inner()).unwrap_or_default(),
                endpoints_span: span,
                groups: r.endpoints,
            });
        }
        out
    }

    fn ipam4(&mut self, r: &RawNetwork, index: usize) -> Ipam<Ipv4Network, Ipv4Addr> {
        let subnet = r
            .subnet
            .as_ref()
            .and_then(|s| self.subnet::<Ipv4Addr, Ipv4Network>(s, LAB_NET4, 30, "IPv4"))
            .unwrap_or_else(|| default_subnet(index));
        let (gateway, ip_range, aux) = self.pool_settings::<Ipv4Addr, Ipv4Network>(
            subnet,
            r.gateway.as_ref(),
            r.ip_range.as_ref(),
            r.aux_addresses.as_ref(),
            LAB_NET4,
            "IPv4",
            "198.18.0.10",
        );
        Ipam {
            subnet: Ipv4Network::new(subnet.0, subnet.1).expect("validated prefix"),
            gateway,
            ip_range: Ipv4Network::new(ip_range.0, ip_range.1).expect("validated prefix"),
            aux_addresses: aux,
        }
    }

    fn ipam6(&mut self, r: &RawNetwork) -> Option<Ipam<Ipv6Network, Ipv6Addr>> {
        let Some(raw_subnet) = &r.subnet6 else {
            for (key, v) in [
                ("gateway6", r.gateway6.as_ref()),
                ("ip_range6", r.ip_range6.as_ref()),
            ] {
                if let Some(v) = v {
                    self.error(
                        v.span(),
                        format!("`{key}` needs `subnet6`"),
                        "add subnet6 = \"2001:2:0:N::/64\" or remove this key",
                    );
                }
            }
            if r.aux_addresses6.is_some() {
                self.diags.push(
                    Diagnostic::whole(Some(&self.source), "`aux_addresses6` needs `subnet6`")
                        .hint("add subnet6 or remove aux_addresses6"),
                );
            }
            return None;
        };
        let subnet = self.subnet::<Ipv6Addr, Ipv6Network>(raw_subnet, LAB_NET6, 126, "IPv6")?;
        let (gateway, ip_range, aux) = self.pool_settings::<Ipv6Addr, Ipv6Network>(
            subnet,
            r.gateway6.as_ref(),
            r.ip_range6.as_ref(),
            r.aux_addresses6.as_ref(),
            LAB_NET6,
            "IPv6",
            "2001:2::10",
        );
        Some(Ipam {
            subnet: Ipv6Network::new(subnet.0, subnet.1).expect("validated prefix"),
            gateway,
            ip_range: Ipv6Network::new(ip_range.0, ip_range.1).expect("validated prefix"),
            aux_addresses: aux,
        })
    }

    /// Gateway, ip_range and aux addresses of one family, checked against the subnet.
    #[allow(clippy::too_many_arguments)]
    fn pool_settings<A, N>(
        &mut self,
        subnet: (A, u8),
        gateway: Option<&SpannedStr>,
        ip_range: Option<&SpannedStr>,
        aux: Option<&BTreeMap<String, SpannedStr>>,
        lab: (A, u8),
        family: &str,
        example: &str,
    ) -> (A, (A, u8), BTreeMap<String, A>)
    where
        A: Family + FromStr,
        N: FromStr + Copy + SubnetParts<A>,
    {
        let probe = Pool::new(subnet, subnet, Pool::first_host(subnet), []);
        let gw = match self.parse_addr::<A>(gateway, family, example) {
            Some(g) => {
                if let Err(r) = Pool::new(subnet, subnet, *g.get_ref(), []).check_gateway() {
                    self.error(
                        g.span(),
                        format!("gateway {} {}", g.get_ref(), r.describe()),
                        format!("pick a host address inside {}/{}", subnet.0, subnet.1),
                    );
                }
                *g.get_ref()
            }
            None => Pool::first_host(subnet),
        };
        let range = match ip_range {
            Some(raw) => match self.subnet::<A, N>(raw, lab, A::BITS, family) {
                Some(range) if Pool::nests(subnet, range) => range,
                Some(_) => {
                    self.error(
                        raw.span(),
                        format!(
                            "ip_range {} is not inside the subnet {}/{}",
                            raw.get_ref(),
                            subnet.0,
                            subnet.1
                        ),
                        "ip_range narrows the subnet: pick a block inside it",
                    );
                    subnet
                }
                None => subnet,
            },
            None => subnet,
        };
        let mut aux_out = BTreeMap::new();
        for (name, raw) in aux.into_iter().flatten() {
            if let Some(a) = self.parse_addr::<A>(Some(raw), family, example) {
                if let Err(r) = probe.check_aux(*a.get_ref()) {
                    self.error(
                        a.span(),
                        format!("aux address `{name}` = {} {}", a.get_ref(), r.describe()),
                        format!("pick a host address inside {}/{}", subnet.0, subnet.1),
                    );
                }
                aux_out.insert(name.clone(), *a.get_ref());
            }
        }
        (gw, range, aux_out)
    }

    fn endpoints(&mut self, networks: &mut [NetworkDraft]) -> Vec<EndpointDraft> {
        let mut out = Vec::new();
        for (n, draft) in networks.iter_mut().enumerate() {
            let groups = draft.groups.take().unwrap_or_else(|| {
                vec![Spanned::new(
                    draft.endpoints_span.clone(),
                    RawEndpoints {
                        count: Some(Spanned::new(draft.endpoints_span.clone(), 2)),
                        ..RawEndpoints::default()
                    },
                )]
            });
            for group in groups {
                let span = group.span();
                let g = group.into_inner();
                let count = g.count.as_ref().map_or(1, |c| *c.get_ref());
                if let Some(c) = &g.count
                    && count > MAX_COUNT
                {
                    self.error(
                        c.span(),
                        format!("{count} endpoints in one group is more than {MAX_COUNT}"),
                        format!("split the group, or ask for at most {MAX_COUNT}"),
                    );
                    continue;
                }
                if count > 1 {
                    let fixed = [
                        ("ip", g.ip.as_ref()),
                        ("ip6", g.ip6.as_ref()),
                        ("mac", g.mac.as_ref()),
                    ];
                    for (key, v) in fixed {
                        if let Some(v) = v {
                            self.error(
                                v.span(),
                                format!(
                                    "`{key}` is fixed for one endpoint, but this group has {count}"
                                ),
                                "give fixed addresses in single-endpoint entries (no `count`)",
                            );
                        }
                    }
                }
                if let Some(pattern) = &g.name
                    && count > 1
                    && !pattern.get_ref().contains("{n}")
                {
                    self.error(
                        pattern.span(),
                        format!(
                            "the name `{}` would be given to {count} endpoints",
                            pattern.get_ref()
                        ),
                        "put {n} in the pattern, e.g. name = \"web{n}\"",
                    );
                    continue;
                }
                let start = g.start.as_ref().map_or(1, |s| *s.get_ref());
                let ip = self.ipv4(g.ip.as_ref());
                let ip6 = self.ipv6(g.ip6.as_ref());
                let mac = self.mac(g.mac.as_ref());
                let source_macs = g.source_macs.map(|l| l.into_inner());
                if source_macs.is_some() && draft.network.mode != MacvlanMode::Source {
                    self.error(
                        span.clone(),
                        "`source_macs` only applies to endpoints of a source-mode network",
                        "remove it, or set mode = \"source\" on the network",
                    );
                }
                for k in 0..count {
                    out.push(EndpointDraft {
                        name: g
                            .name
                            .as_ref()
                            .map(|p| p.get_ref().replace("{n}", &(start + k).to_string())),
                        network: n,
                        ip: if count == 1 { ip.clone() } else { None },
                        ip6: if count == 1 { ip6.clone() } else { None },
                        mac: if count == 1 { mac.clone() } else { None },
                        source_macs: source_macs.clone(),
                        span: g.name.as_ref().map_or(span.clone(), spanned),
                    });
                }
            }
        }
        out
    }

    fn network_named(&mut self, raw: Option<&SpannedStr>, networks: &[NetworkDraft]) -> usize {
        let Some(raw) = raw else { return 0 };
        networks
            .iter()
            .position(|n| &n.network.name == raw.get_ref())
            .unwrap_or_else(|| {
                let known: Vec<&str> = networks.iter().map(|n| n.network.name.as_str()).collect();
                self.error(
                    raw.span(),
                    format!("there is no network `{}`", raw.get_ref()),
                    format!("use one of: {}", known.join(", ")),
                );
                0
            })
    }

    fn peers(
        &mut self,
        raw: Option<Vec<Spanned<RawPeer>>>,
        networks: &[NetworkDraft],
    ) -> Vec<PeerDraft> {
        let raw = match raw {
            Some(list) => list,
            None if networks.is_empty() => Vec::new(),
            None => vec![Spanned::new(
                0..0,
                RawPeer {
                    name: None,
                    network: None,
                    ip: None,
                    ip6: None,
                    mac: None,
                    port: None,
                },
            )],
        };
        let mut out = Vec::new();
        for (i, raw) in raw.into_iter().enumerate() {
            let span = raw.span();
            let r = raw.into_inner();
            let name = r.name.as_ref().map_or_else(
                || {
                    if i == 0 {
                        "peer".to_string()
                    } else {
                        format!("peer{}", i + 1)
                    }
                },
                |n| n.get_ref().clone(),
            );
            let network = self.network_named(r.network.as_ref(), networks);
            let (port, port_span, port_extras) = self.port(r.port);
            out.push(PeerDraft {
                name,
                network,
                ip: self.ipv4(r.ip.as_ref()),
                ip6: self.ipv6(r.ip6.as_ref()),
                mac: self.mac(r.mac.as_ref()),
                port,
                port_span,
                port_extras,
                span: r.name.as_ref().map_or(span, spanned),
            });
        }
        out
    }

    fn host(
        &mut self,
        raw: Option<Spanned<RawHost>>,
        networks: &[NetworkDraft],
    ) -> (Option<HostDraft>, Option<ShimDraft>) {
        let Some(raw) = raw else { return (None, None) };
        let r = raw.into_inner();
        let network = self.network_named(r.network.as_ref(), networks);
        let host = (r.ip.is_some() || r.ip6.is_some()).then(|| HostDraft {
            network,
            ip: self.ipv4(r.ip.as_ref()),
            ip6: self.ipv6(r.ip6.as_ref()),
        });
        let shim = r.shim.map(|s| {
            let span = s.span();
            let s = s.into_inner();
            let interface = s
                .name
                .as_ref()
                .map_or_else(|| "shim0".to_string(), |n| n.get_ref().clone());
            if let Some(n) = &s.name {
                self.ifname(&interface, n.span(), "the shim");
            }
            ShimDraft {
                network: match s.network.as_ref() {
                    Some(_) => self.network_named(s.network.as_ref(), networks),
                    None => network,
                },
                interface,
                ip: self.ipv4(s.ip.as_ref()),
                ip6: self.ipv6(s.ip6.as_ref()),
                mac: self.mac(s.mac.as_ref()),
                span,
            }
        });
        (host, shim)
    }

    /// Checks every given node name, then names the unnamed endpoints `e1`, `e2`, ... skipping
    /// names already in use.
    fn node_names(&mut self, endpoints: &mut [EndpointDraft], peers: &[PeerDraft]) {
        let mut seen: HashSet<String> = HashSet::new();
        let given = endpoints
            .iter()
            .filter_map(|e| e.name.as_ref().map(|n| (n.clone(), e.span.clone())))
            .chain(peers.iter().map(|p| (p.name.clone(), p.span.clone())))
            .collect::<Vec<_>>();
        for (name, span) in given {
            if name == HOST_NODE || name == SWITCH_NODE {
                self.error(
                    span,
                    format!("`{name}` is the name of the lab's {name} node"),
                    "pick another name",
                );
            } else if !valid_node_name(&name) {
                self.error(span, format!("`{name}` is not a usable node name"), format!("use up to {NODE_NAME_MAX} letters, digits, '-' and '_', starting with a letter or digit"));
            } else if !seen.insert(name.clone()) {
                self.error(
                    span,
                    format!("the name `{name}` is used twice"),
                    "every endpoint and peer needs its own name",
                );
            }
        }
        let mut n = 0u64;
        for e in endpoints.iter_mut().filter(|e| e.name.is_none()) {
            let name = loop {
                n += 1;
                let candidate = format!("e{n}");
                if !seen.contains(&candidate) {
                    break candidate;
                }
            };
            seen.insert(name.clone());
            e.name = Some(name);
        }
    }

    /// What only the emulated switch does is refused on any other switch, and VLAN membership
    /// on a bare wire; on the emulated one, port security needs learning. Once one port has
    /// VLAN membership every port without it becomes an access port of VLAN 1 (a VLAN-aware
    /// switch's default VLAN), and a Linux bridge filters by VLAN (`vlan_filtering`).
    fn port_policies(
        &mut self,
        switch: &mut Switch,
        parents: &mut [Parent],
        parent_ports: &[PortExtras],
        peers: &mut [PeerDraft],
    ) {
        let extras: Vec<&PortExtras> = parent_ports
            .iter()
            .chain(peers.iter().map(|p| &p.port_extras))
            .collect();
        let refused: Vec<(&str, Span, &str)> = match switch {
            Switch::Emulated(_) => Vec::new(),
            Switch::Bridge(_) => extras
                .iter()
                .filter_map(|e| e.emulated_only.clone())
                .map(|(k, at)| {
                    (
                        k,
                        at,
                        "a Linux bridge (it has no port security or table limits per port)",
                    )
                })
                .collect(),
            Switch::None { .. } => extras
                .iter()
                .filter_map(|e| e.vlan_key.clone().or_else(|| e.emulated_only.clone()))
                .map(|(k, at)| (k, at, "a bare wire"))
                .collect(),
        };
        for (key, at, kind) in refused {
            self.error(
                at,
                format!("`{key}` needs the emulated switch, but the switch is {kind}"),
                "set `kind = \"emulated\"` under [switch], or remove the key",
            );
        }
        let ageing_time = match switch {
            Switch::Emulated(e) => e.ageing_time,
            Switch::Bridge(b) => {
                b.vlan_span = extras
                    .iter()
                    .find_map(|e| e.vlan_key.clone())
                    .map(|(_, at)| at);
                b.vlan_filtering = b.vlan_span.is_some();
                b.ageing_time
            }
            Switch::None { .. } => return,
        };
        if ageing_time == 0 {
            let found: Vec<Span> = extras
                .iter()
                .filter_map(|e| e.max_macs_span.clone())
                .collect();
            for at in found {
                self.error(
                    at,
                    "port security learns the port's secure addresses, but `ageing_time = 0` turns learning off",
                    "give the switch an ageing_time, or remove `max_macs`",
                );
            }
        }
        let ports = parents
            .iter_mut()
            .filter(|p| p.kind == ParentKind::Veth)
            .map(|p| &mut p.port)
            .chain(peers.iter_mut().map(|p| &mut p.port));
        let ports: Vec<&mut Port> = ports.collect();
        if ports.iter().any(|p| p.policy.vlan != PortVlan::Transparent) {
            for port in ports {
                if port.policy.vlan == PortVlan::Transparent {
                    port.policy.vlan = PortVlan::Access { vid: DEFAULT_VLAN };
                }
            }
        }
    }

    /// Rules about what plugs into what: the switch, ports, passthru exclusivity, overlapping
    /// subnets. Names the switch ports.
    fn wiring(
        &mut self,
        switch: &Switch,
        parents: &mut [Parent],
        networks: &[NetworkDraft],
        endpoints: &[EndpointDraft],
        peers: &mut [PeerDraft],
        shim: Option<&ShimDraft>,
    ) {
        if let Switch::None { span } = switch {
            if parents.len() != 1 || parents[0].kind != ParentKind::Veth {
                self.error(
                    span.clone(),
                    "a switch of kind \"none\" is a bare wire from one veth parent to one peer",
                    "declare exactly one veth parent, or use kind = \"bridge\"",
                );
            }
            if peers.len() != 1 {
                self.error(
                    span.clone(),
                    format!(
                        "a bare wire joins the parent to exactly one peer, but there are {}",
                        peers.len()
                    ),
                    "declare exactly one [[peers]] entry, or use kind = \"bridge\"",
                );
            }
            for p in peers.iter().filter_map(|p| p.port_span.clone()) {
                self.error(
                    p,
                    "with no switch there are no switch ports",
                    "remove `port`, or use kind = \"bridge\"",
                );
            }
        }
        for peer in peers.iter() {
            let Some(net) = networks.get(peer.network) else {
                continue;
            };
            let parent = &parents[net.network.parent];
            if parent.kind != ParentKind::Veth {
                self.error(peer.span.clone(), format!("peer `{}` is on network `{}`, whose parent `{}` has no wire a peer could plug into", peer.name, net.network.name, parent.name), "put the peer on a network with a veth parent");
            }
        }
        for (i, a) in networks.iter().enumerate() {
            let a = &a.network;
            if a.mode == MacvlanMode::Passthru {
                let count = endpoints.iter().filter(|e| e.network == i).count();
                if count > 1 {
                    self.error(a.mode_span.clone(), format!("passthru gives the whole parent to one endpoint, but network `{}` has {count}", a.name), "use one endpoint, or another mode");
                }
                if let Some(s) = shim.filter(|s| networks[s.network].network.link == a.link) {
                    self.error(s.span.clone(), format!("the shim would be a second macvlan on `{}`, which passthru network `{}` owns", a.link, a.name), "put the shim on another network, or use another mode");
                }
            }
            for b in &networks[i + 1..] {
                let b = &b.network;
                if a.link == b.link
                    && (a.mode == MacvlanMode::Passthru || b.mode == MacvlanMode::Passthru)
                {
                    self.error(
                        b.span.clone(),
                        format!(
                            "networks `{}` and `{}` share `{}`, but passthru needs it alone",
                            a.name, b.name, a.link
                        ),
                        "give one of them another parent or a VLAN",
                    );
                }
                let (sa, sb) = (&a.ipv4.subnet, &b.ipv4.subnet);
                if Pool::overlap((sa.ip(), sa.prefix()), (sb.ip(), sb.prefix())) {
                    self.error(
                        b.span.clone(),
                        format!(
                            "the subnet {sb} of `{}` overlaps {sa} of `{}`",
                            b.name, a.name
                        ),
                        "give every network its own subnet",
                    );
                }
                if let (Some(x), Some(y)) = (&a.ipv6, &b.ipv6)
                    && Pool::overlap(
                        (x.subnet.ip(), x.subnet.prefix()),
                        (y.subnet.ip(), y.subnet.prefix()),
                    )
                {
                    self.error(
                        b.span.clone(),
                        format!(
                            "the subnet {} of `{}` overlaps {} of `{}`",
                            y.subnet, b.name, x.subnet, a.name
                        ),
                        "give every network its own subnet6",
                    );
                }
            }
        }
        if switch.has_ports() {
            let mut next = 0;
            for parent in parents.iter_mut().filter(|p| p.kind == ParentKind::Veth) {
                parent.port.name = format!("p{next}");
                next += 1;
            }
            for peer in peers.iter_mut() {
                peer.port.name = format!("p{next}");
                next += 1;
            }
        }
    }

    // ----- stage 2: addresses -----

    fn addresses(&mut self, d: &Drafts) -> Addresses {
        let mut endpoints = vec![
            Assigned {
                ipv4: Ipv4Addr::UNSPECIFIED,
                ipv6: None
            };
            d.endpoints.len()
        ];
        let mut peers = vec![
            Assigned {
                ipv4: Ipv4Addr::UNSPECIFIED,
                ipv6: None
            };
            d.peers.len()
        ];
        let mut shim = d.shim.as_ref().map(|_| Assigned {
            ipv4: Ipv4Addr::UNSPECIFIED,
            ipv6: None,
        });
        for (n, net) in d.networks.iter().enumerate() {
            let ipam = &net.network.ipv4;
            let mut pool4 = ipam.pool();
            let mut pool6 = net.network.ipv6.as_ref().map(Ipam::pool);
            let subnet4 = ipam.subnet.to_string();
            let subnet6 = net.network.ipv6.as_ref().map(|v| v.subnet.to_string());
            let mut owners4: HashMap<Ipv4Addr, String> = HashMap::new();
            let mut owners6: HashMap<Ipv6Addr, String> = HashMap::new();

            // Fixed addresses first, endpoints under Docker's rules.
            let ep_fixed = d
                .endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.network == n);
            for (i, e) in ep_fixed {
                let name = e.name.clone().unwrap_or_default();
                if let Some(ip) = &e.ip {
                    self.take(&mut pool4, &mut owners4, ip, true, &name, &subnet4);
                    endpoints[i].ipv4 = *ip.get_ref();
                }
                if let Some(ip6) = &e.ip6 {
                    if let (Some(pool), Some(s6)) = (pool6.as_mut(), subnet6.as_deref()) {
                        self.take(pool, &mut owners6, ip6, true, &name, s6);
                        endpoints[i].ipv6 = Some(*ip6.get_ref());
                    } else {
                        self.no_subnet6(ip6.span(), &net.network.name);
                    }
                }
            }
            let lab_only = d
                .peers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.network == n)
                .map(|(i, p)| (Some(i), p.name.clone(), p.ip.as_ref(), p.ip6.as_ref()))
                .chain(
                    d.host
                        .iter()
                        .filter(|h| h.network == n)
                        .map(|h| (None, HOST_NODE.to_string(), h.ip.as_ref(), h.ip6.as_ref())),
                )
                .chain(
                    d.shim
                        .iter()
                        .filter(|s| s.network == n)
                        .map(|s| (None, s.interface.clone(), s.ip.as_ref(), s.ip6.as_ref())),
                )
                .collect::<Vec<_>>();
            for (_, name, ip, ip6) in &lab_only {
                if let Some(ip) = ip {
                    self.take(&mut pool4, &mut owners4, ip, false, name, &subnet4);
                }
                if let Some(ip6) = ip6 {
                    match (pool6.as_mut(), subnet6.as_deref()) {
                        (Some(pool), Some(s6)) => {
                            self.take(pool, &mut owners6, ip6, false, name, s6)
                        }
                        _ => self.no_subnet6(ip6.span(), &net.network.name),
                    }
                }
            }

            // Then the dynamic pool, checked whole before anything is handed out.
            let dynamic4 = d
                .endpoints
                .iter()
                .filter(|e| e.network == n && e.ip.is_none())
                .count() as u128;
            if let Err(PoolExhausted { available, asked }) = pool4.reserve_dynamic(dynamic4) {
                self.exhausted(
                    net,
                    "ip_range",
                    &ipam.ip_range.to_string(),
                    available,
                    asked,
                );
                continue;
            }
            if let Some(pool) = &pool6 {
                let dynamic6 = d
                    .endpoints
                    .iter()
                    .filter(|e| e.network == n && e.ip6.is_none())
                    .count() as u128;
                if let Err(PoolExhausted { available, asked }) = pool.reserve_dynamic(dynamic6) {
                    let range = net
                        .network
                        .ipv6
                        .as_ref()
                        .map(|v| v.ip_range.to_string())
                        .unwrap_or_default();
                    self.exhausted(net, "ip_range6", &range, available, asked);
                    continue;
                }
            }
            for (i, e) in d
                .endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.network == n)
            {
                if e.ip.is_none() {
                    endpoints[i].ipv4 = pool4.next_low().expect("pool size checked");
                }
                if let (None, Some(pool)) = (&e.ip6, pool6.as_mut()) {
                    endpoints[i].ipv6 = Some(pool.next_low().expect("pool size checked"));
                }
            }
            for (peer, name, ip, ip6) in lab_only {
                let ipv4 = match ip {
                    Some(ip) => Some(*ip.get_ref()),
                    None if name == HOST_NODE => None,
                    None => pool4.next_high(),
                };
                let ipv6 = match (ip6, pool6.as_mut()) {
                    (Some(ip6), _) => Some(*ip6.get_ref()),
                    (None, Some(pool)) if name != HOST_NODE => pool.next_high(),
                    _ => None,
                };
                let Some(ipv4) = ipv4 else {
                    if name != HOST_NODE {
                        self.error(
                            net.network.span.clone(),
                            format!(
                                "network `{}` has no free address left for `{name}`",
                                net.network.name
                            ),
                            "widen the subnet, or give the node a fixed `ip`",
                        );
                    }
                    continue;
                };
                let assigned = Assigned { ipv4, ipv6 };
                match peer {
                    Some(i) => peers[i] = assigned,
                    None if name != HOST_NODE => shim = Some(assigned),
                    None => {}
                }
            }
        }
        Addresses {
            endpoints,
            peers,
            shim,
        }
    }

    fn take<A: Family + std::hash::Hash>(
        &mut self,
        pool: &mut Pool<A>,
        owners: &mut HashMap<A, String>,
        ip: &Spanned<A>,
        docker_managed: bool,
        name: &str,
        subnet: &str,
    ) {
        let a = *ip.get_ref();
        match pool.take(a, docker_managed) {
            Ok(()) => {
                owners.insert(a, name.to_string());
            }
            Err(Refusal::Taken) => {
                let owner = owners.get(&a).cloned().unwrap_or_default();
                self.error(
                    ip.span(),
                    format!("{a} is already given to `{owner}`"),
                    "every node needs its own address",
                );
            }
            Err(r @ (Refusal::Gateway | Refusal::Aux)) => self.error(
                ip.span(),
                format!(
                    "{a} {}, and Docker never gives it to a container",
                    r.describe()
                ),
                "pick another address, or leave `ip` out to get one from the pool",
            ),
            Err(r) => self.error(
                ip.span(),
                format!("{a} {} {subnet}", r.describe()),
                format!("pick a host address inside {subnet}"),
            ),
        }
    }

    fn no_subnet6(&mut self, span: Span, network: &str) {
        self.error(
            span,
            format!("network `{network}` has no IPv6 subnet"),
            "add `subnet6` to the network, or remove `ip6`",
        );
    }

    fn exhausted(
        &mut self,
        net: &NetworkDraft,
        key: &str,
        range: &str,
        available: u128,
        asked: u128,
    ) {
        let (message, hint) = exhaustion_message(&net.network, key, range, available, asked);
        self.error(net.endpoints_span.clone(), message, hint);
    }

    // ----- stage 3: MACs -----

    fn macs(&mut self, d: &Drafts) -> Macs {
        let mut owners: HashMap<MacAddr, String> = HashMap::new();
        let fixed = d
            .parent_macs
            .iter()
            .zip(&d.parents)
            .map(|(m, p)| (m.as_ref(), format!("parent {}", p.name)))
            .chain(
                d.endpoints
                    .iter()
                    .map(|e| (e.mac.as_ref(), e.name.clone().unwrap_or_default())),
            )
            .chain(d.peers.iter().map(|p| (p.mac.as_ref(), p.name.clone())))
            .chain(d.shim.iter().map(|s| (s.mac.as_ref(), s.interface.clone())))
            .collect::<Vec<_>>();
        for (mac, owner) in &fixed {
            if let Some(mac) = mac {
                if let Some(first) = owners.get(mac.get_ref()) {
                    self.error(
                        mac.span(),
                        format!("{} is already the MAC of `{first}`", mac.get_ref()),
                        "every interface needs its own MAC; leave `mac` out to get a generated one",
                    );
                } else {
                    owners.insert(*mac.get_ref(), owner.clone());
                }
            }
        }
        let mut generate = |fixed: Option<&Spanned<MacAddr>>, key: String| -> MacAddr {
            if let Some(m) = fixed {
                return *m.get_ref();
            }
            let mut attempt = 0;
            loop {
                let mac = generated_mac(d.seed, &key, attempt);
                if mac != UNKNOWN_UNICAST_MAC && !owners.contains_key(&mac) {
                    owners.insert(mac, key);
                    return mac;
                }
                attempt += 1;
            }
        };
        Macs {
            parents: d
                .parents
                .iter()
                .zip(&d.parent_macs)
                .map(|(p, m)| generate(m.as_ref(), format!("parent/{}", p.name)))
                .collect(),
            endpoints: d
                .endpoints
                .iter()
                .map(|e| {
                    generate(
                        e.mac.as_ref(),
                        format!("node/{}", e.name.clone().unwrap_or_default()),
                    )
                })
                .collect(),
            peers: d
                .peers
                .iter()
                .map(|p| generate(p.mac.as_ref(), format!("node/{}", p.name)))
                .collect(),
            shim: d
                .shim
                .as_ref()
                .map(|s| generate(s.mac.as_ref(), format!("shim/{}", s.interface))),
        }
    }

    /// A passthru macvlan takes its parent's MAC (`eth_hw_addr_inherit` in
    /// `macvlan_common_newlink`), so parent and endpoint share one: the endpoint's when only it
    /// was given (or neither was), the parent's when only the parent's was given.
    fn share_passthru_macs(
        &mut self,
        macs: &mut Macs,
        parents: &[Parent],
        networks: &[NetworkDraft],
        endpoints: &[EndpointDraft],
        fixed_parents: &[Option<Spanned<MacAddr>>],
    ) {
        for (n, net) in networks
            .iter()
            .enumerate()
            .filter(|(_, n)| n.network.mode == MacvlanMode::Passthru)
        {
            let Some(e) = endpoints.iter().position(|e| e.network == n) else {
                continue;
            };
            let parent = net.network.parent;
            match (&fixed_parents[parent], &endpoints[e].mac) {
                (Some(pm), Some(em)) if pm.get_ref() != em.get_ref() => self.error(
                    em.span(),
                    format!("a passthru endpoint carries its parent's MAC, but parent `{}` has {} and this endpoint {}", parents[parent].name, pm.get_ref(), em.get_ref()),
                    "give only one of them a MAC",
                ),
                (Some(pm), None) => macs.endpoints[e] = *pm.get_ref(),
                _ => macs.parents[parent] = macs.endpoints[e],
            }
        }
    }

    /// A source-mode list: each entry a lab MAC or the name of a node (its MAC).
    fn source_list(
        &mut self,
        raw: &[SpannedStr],
        by_name: &HashMap<String, MacAddr>,
    ) -> Vec<MacAddr> {
        let mut out = Vec::new();
        for entry in raw {
            if let Some(mac) = by_name.get(entry.get_ref()) {
                out.push(*mac);
            } else if entry.get_ref().contains([':', '-']) {
                if let Some(m) = self.mac(Some(entry)) {
                    out.push(*m.get_ref());
                }
            } else {
                self.error(
                    entry.span(),
                    format!("`{}` is neither a MAC nor a node name", entry.get_ref()),
                    "write a MAC like 02:00:00:00:00:01, or the name of an endpoint or peer",
                );
            }
        }
        out
    }

    /// Each port's `static_macs` (MACs, node names, or `host` for a parent's own MAC), each MAC
    /// static on one port only.
    fn static_macs(
        &mut self,
        parents: &mut [Parent],
        parent_ports: &[PortExtras],
        peers: &mut [PeerDraft],
        by_name: &HashMap<String, MacAddr>,
    ) {
        let mut owners: HashMap<MacAddr, String> = HashMap::new();
        for (parent, extras) in parents.iter_mut().zip(parent_ports) {
            let mut names = by_name.clone();
            names.insert(HOST_NODE.to_string(), parent.mac);
            self.port_statics(&mut owners, &mut parent.port, &extras.static_macs, &names);
        }
        for peer in peers {
            let raw = std::mem::take(&mut peer.port_extras.static_macs);
            self.port_statics(&mut owners, &mut peer.port, &raw, by_name);
        }
    }

    fn port_statics(
        &mut self,
        owners: &mut HashMap<MacAddr, String>,
        port: &mut Port,
        raw: &[SpannedStr],
        names: &HashMap<String, MacAddr>,
    ) {
        let macs = self.source_list(raw, names);
        for (mac, at) in macs.iter().zip(raw) {
            if let Some(first) = owners.insert(*mac, port.name.clone()) {
                self.error(
                    at.span(),
                    format!("{mac} is already static on port {first}"),
                    "a static entry binds a MAC to one port: list it once",
                );
            }
        }
        port.policy.static_macs = macs;
    }

    fn assemble(&mut self, d: Drafts, addresses: Addresses, macs: Macs) -> Scenario {
        let Drafts {
            name,
            description,
            seed,
            switch,
            mut parents,
            networks,
            endpoints: endpoint_drafts,
            peers: mut peer_drafts,
            host,
            shim,
            ..
        } = d;
        let mut macs = macs;
        self.share_passthru_macs(
            &mut macs,
            &parents,
            &networks,
            &endpoint_drafts,
            &d.parent_macs,
        );
        for (p, mac) in parents.iter_mut().zip(&macs.parents) {
            p.mac = *mac;
        }
        let mut by_name: HashMap<String, MacAddr> = endpoint_drafts
            .iter()
            .zip(&macs.endpoints)
            .map(|(e, m)| (e.name.clone().unwrap_or_default(), *m))
            .chain(
                peer_drafts
                    .iter()
                    .zip(&macs.peers)
                    .map(|(p, m)| (p.name.clone(), *m)),
            )
            .collect();
        if let (Some(s), Some(m)) = (&shim, macs.shim) {
            by_name.insert(s.interface.clone(), m);
        }
        self.static_macs(&mut parents, &d.parent_ports, &mut peer_drafts, &by_name);
        let mut typed_networks = Vec::new();
        let mut network_lists = Vec::new();
        for draft in networks {
            let mut by_name = by_name.clone();
            by_name.insert(HOST_NODE.to_string(), parents[draft.network.parent].mac);
            let list = self.source_list(&draft.raw_source_macs, &by_name);
            let mut network = draft.network;
            network.source_macs = list.clone();
            network_lists.push(by_name);
            typed_networks.push(network);
        }
        let mut endpoints = Vec::new();
        for ((e, a), mac) in endpoint_drafts
            .into_iter()
            .zip(addresses.endpoints)
            .zip(macs.endpoints)
        {
            let source_macs = match &e.source_macs {
                Some(raw) => self.source_list(raw, &network_lists[e.network]),
                None => typed_networks[e.network].source_macs.clone(),
            };
            endpoints.push(Endpoint {
                name: e.name.unwrap_or_default(),
                network: e.network,
                interface: "eth0".into(),
                mac,
                ipv4: a.ipv4,
                ipv6: a.ipv6,
                source_macs,
                span: e.span,
            });
        }
        let peers = peer_drafts
            .into_iter()
            .zip(addresses.peers)
            .zip(macs.peers)
            .map(|((p, a), mac)| Peer {
                name: p.name,
                network: p.network,
                interface: "eth0".into(),
                mac,
                ipv4: a.ipv4,
                ipv6: a.ipv6,
                port: p.port,
                span: p.span,
            })
            .collect();
        let shim = match (shim, addresses.shim, macs.shim) {
            (Some(s), Some(a), Some(mac)) => Some(Shim {
                network: s.network,
                interface: s.interface,
                mac,
                ipv4: a.ipv4,
                ipv6: a.ipv6,
                span: s.span,
            }),
            _ => None,
        };
        let addresses = host
            .map(|h| HostAddress {
                network: h.network,
                ipv4: h.ip.map(|ip| ip.into_inner()),
                ipv6: h.ip6.map(|ip| ip.into_inner()),
            })
            .into_iter()
            .collect();
        Scenario {
            source: self.source.clone(),
            name,
            description,
            seed,
            switch,
            parents,
            networks: typed_networks,
            endpoints,
            peers,
            host: Host { addresses, shim },
            tests: Vec::new(),
        }
    }
}

/// Address and prefix of a parsed subnet, for both families.
trait SubnetParts<A> {
    fn parts(&self) -> (A, u8);
}

impl SubnetParts<Ipv4Addr> for Ipv4Network {
    fn parts(&self) -> (Ipv4Addr, u8) {
        (self.ip(), self.prefix())
    }
}

impl SubnetParts<Ipv6Addr> for Ipv6Network {
    fn parts(&self) -> (Ipv6Addr, u8) {
        (self.ip(), self.prefix())
    }
}
