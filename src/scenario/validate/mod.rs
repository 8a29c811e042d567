//! From the file as written (`schema`) to one typed `Scenario`: defaults, names, cross-field rules,
//! Docker-style IPAM and deterministic MACs. Every problem becomes a `Diagnostic` on the offending
//! value, with a hint; the problems of one stage are reported together (a later stage only runs
//! when the earlier ones found nothing, since it depends on their results). Reads the scenario file
//! and nothing else.
//!
//! The stages live in files of their own: `structure` (stage 1: the lab's shape, names and
//! cross-field rules) with `switch` (the switch and its ports) and `values` (one value at a time:
//! interface and node names, MACs, addresses); `addresses` (subnets and pools as written, then
//! stage 2, Docker-style IPAM); `macs` (stage 3: fixed and generated MACs, and the lists that name
//! a node for its MAC). This file holds the pipeline: the drafts one stage hands the next, and
//! the assembly of the typed `Scenario` at the end.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use super::schema::*;
use super::*;
use crate::diag::{Diagnostic, Diagnostics, Source, Span};

mod addresses;
mod cni;
mod docker;
mod macs;
mod pools;
mod rules;
mod structure;
mod switch;
mod values;

pub(super) use addresses::refusal;
pub(super) use structure::IPV6_MIN_MTU;
pub use values::check_lab_word;
pub(super) use values::valid_node_name;

/// Largest scenario file read: far more than any lab needs (endpoints come in groups), small
/// enough that `/dev/zero` or a disk image given by mistake is refused, not read into memory.
const FILE_MAX: u64 = 16 << 20;

/// A valid scenario file: the scenario, and what in the file is valid but probably not what was
/// meant (`warnings`).
#[derive(Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    pub warnings: Diagnostics,
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let cannot_read = |e: &dyn std::fmt::Display| {
        Diagnostic::whole(
            None,
            format!("cannot read scenario {}: {e}", path.display()),
        )
        .hint("check the path; `mvlab check FILE` validates a scenario without touching the kernel")
    };
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(FILE_MAX + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot_read(&e))?;
    if bytes.len() as u64 > FILE_MAX {
        return Err(Diagnostic::whole(
            None,
            format!(
                "{} is larger than {} MiB: not a scenario",
                path.display(),
                FILE_MAX >> 20
            ),
        )
        .hint("a scenario is a short TOML file; endpoints come in groups (`count = 1000`)")
        .into());
    }
    let text =
        String::from_utf8(bytes).map_err(|e| not_text(path, e.utf8_error().valid_up_to()))?;
    if let Some(at) = text.find('\0') {
        return Err(not_text(path, at).into());
    }
    let scenario = parse(Source::new(path, text))?;
    let warnings = warnings(&scenario.source);
    Ok(Loaded { scenario, warnings })
}

/// What a valid file says that was probably not meant: nothing at all (no setting, only blank
/// lines and comments) gives the default lab, useful to try mvlab but rarely what a file given
/// on purpose wants.
fn warnings(source: &Arc<Source>) -> Diagnostics {
    let mut warnings = Diagnostics::default();
    let blank = |line: &str| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    };
    if source.text.lines().all(blank) {
        warnings.push(
            Diagnostic::at(
                source,
                0..0,
                "the file is empty (no setting, at most comments); mvlab uses the default lab: one bridge-mode network of two endpoints on parent eth0 behind a Linux bridge, a peer, and the full matrix test",
            )
            .hint("describe your lab with `[[networks]]`, `[[peers]]` and `[[tests]]` (README: Scenario reference), or start from Docker's or CNI's setup with `mvlab import`")
            .warning(),
        );
    }
    warnings
}

/// The error for a file that is not UTF-8 text (TOML is), naming the first bad byte.
fn not_text(path: &Path, at: usize) -> Diagnostic {
    Diagnostic::whole(
        None,
        format!(
            "{} is not a text file (byte {at} is not UTF-8 text), so it cannot be a TOML scenario",
            path.display()
        ),
    )
    .hint("give a scenario file: UTF-8 TOML text, e.g. one of scenarios/*.toml")
}

/// Validates scenario text.
pub fn parse(source: Arc<Source>) -> Result<Scenario, Diagnostics> {
    let raw: RawScenario = toml::from_str(&source.text).map_err(|e| toml_error(&source, &e))?;
    Builder {
        source: source.clone(),
        diags: Diagnostics::default(),
        rules: Rules::Mvlab,
        seed: 1,
        address_map: AddressMap::default(),
        docker: docker::DockerBook::default(),
        parent_failed: false,
    }
    .build(raw)
}

/// A deserializer's message in the scenario's words: `expected struct RawPort` is a table to a
/// reader, `expected u32` a whole number, `wanted string or table` a string (every choice of
/// values is a string).
fn plain_message(message: &str) -> String {
    if message == "wanted string or table" {
        return "invalid type: expected a string (one of the values the README lists for this key)"
            .into();
    }
    message
        .split(' ')
        .map(|word| {
            let end = word
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or(word.len());
            let (bare, tail) = word.split_at(end);
            let plain = match bare {
                "struct" => "a",
                _ if bare.starts_with("Raw") => "table",
                "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" => {
                    "a whole number"
                }
                "f32" | "f64" => "a number",
                "sequence" => "list",
                other => other,
            };
            format!("{plain}{tail}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn toml_error(source: &Arc<Source>, e: &toml::de::Error) -> Diagnostic {
    let mut message = plain_message(e.message().trim());
    // A TOML date reaches serde as a map: name it for what was written.
    let written = e.span().and_then(|span| source.text.get(span));
    if let Some(date) = written.filter(|w| w.parse::<toml::value::Datetime>().is_ok()) {
        message = message.replacen("map,", &format!("date `{date}`,"), 1);
    }
    let valid_toml = source.text.parse::<toml::Table>().is_ok();
    let hint = if !valid_toml {
        "this is not valid TOML here (toml.io shows the syntax)"
    } else if message.starts_with("unknown field") {
        "fix the key's spelling or remove it; the keys allowed here are listed above (README: Scenario reference)"
    } else if message.starts_with("unknown variant") {
        "use one of the values listed above"
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        "the TOML is valid, but this value has the wrong type: quote names, addresses and values with units (\"2s\"), write counts and booleans bare"
    } else if message.starts_with("duplicate key") {
        "each key may appear once per table"
    } else {
        "the TOML is valid, but this value does not fit here (README: Scenario reference)"
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
    /// The MAC as written (`mac` may be filled by an engine's rules later).
    written_mac: Option<MacAddr>,
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
    /// `interface`: the existing interface it hangs on (an external switch's tester port).
    existing: Option<Spanned<String>>,
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
    /// The pools as written, for a Docker or CNI network (stage 2 judges them).
    written: Option<pools::WrittenIpam>,
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

/// One node's addresses after IPAM, and the next hops of its default routes.
#[derive(Clone, Copy, Default)]
struct Assigned {
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    gateway4: Option<Ipv4Addr>,
    gateway6: Option<Ipv6Addr>,
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
    /// Whose rules the scenario follows (set first).
    rules: Rules,
    /// The scenario's seed (set first).
    seed: u64,
    /// The user's blocks: written under [[address_map]], and derived ones added.
    address_map: AddressMap,
    /// What earlier Docker networks left for later ones to be judged against.
    docker: docker::DockerBook,
    /// The network being read names a parent that does not exist (no rules between parents).
    parent_failed: bool,
}

fn spanned<T>(v: &Spanned<T>) -> Span {
    v.span()
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
        let mut drafts = self.structure(raw);
        self.stage()?;
        let addresses = self.addresses(&mut drafts);
        self.stage()?;
        let macs = self.macs(&drafts);
        self.stage()?;
        let mut scenario = self.assemble(drafts, addresses, macs);
        self.stage()?;
        scenario.tests = self.tests(raw_tests, &scenario);
        self.stage()?;
        Ok(scenario)
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
            let docker = self.rules.docker().map(|_| ContainerRequest {
                ipv4_address: e.ip.as_ref().map(|ip| *ip.get_ref()),
                ipv6_address: e.ip6.as_ref().map(|ip| *ip.get_ref()),
                mac_address: e.written_mac,
            });
            endpoints.push(Endpoint {
                name: e.name.unwrap_or_default(),
                network: e.network,
                interface: "eth0".into(),
                mac,
                ipv4: a.ipv4,
                ipv6: a.ipv6,
                gateway4: a.gateway4,
                gateway6: a.gateway6,
                source_macs,
                docker,
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
                ipv4: a.ipv4.unwrap_or(Ipv4Addr::UNSPECIFIED),
                ipv6: a.ipv6,
                existing: p.existing.map(Spanned::into_inner),
                port: p.port,
                span: p.span,
            })
            .collect();
        let shim = match (shim, addresses.shim, macs.shim) {
            (Some(s), Some(a), Some(mac)) => Some(Shim {
                network: s.network,
                interface: s.interface,
                mac,
                ipv4: a.ipv4.unwrap_or(Ipv4Addr::UNSPECIFIED),
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
            rules: self.rules,
            address_map: std::mem::take(&mut self.address_map),
        }
    }
}
