//! The scenario of an import: every block of the user's outside the benchmarking ranges mapped
//! block for block into them (a block inside another mapped one follows it; blocks already in
//! the lab ranges stay), every address moved with its block, keeping its offset, and the whole
//! written as scenario TOML with the mapping under `[[address_map]]` and the notes as comments.

use std::collections::HashSet;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;

use ipnetwork::IpNetwork;

use super::{At, Engine, Imported, Network, Options, Pool};
use crate::diag::{Diagnostic, Diagnostics, Source};
use crate::scenario::address_map::{AddressMap, AddressMapping, free_lab_block, in_lab_range};
use crate::scenario::{DockerVersion, cni};

/// Names the scenario keeps for its own nodes.
const RESERVED: [&str; 3] = ["host", "switch", "peer"];

/// A TOML string.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The block a subnet stands for (host bits dropped).
fn block(net: IpNetwork) -> IpNetwork {
    IpNetwork::new(net.network(), net.prefix()).expect("a prefix it already had")
}

struct Writer<'a> {
    source: &'a Arc<Source>,
    map: AddressMap,
    diags: Diagnostics,
    names: HashSet<String>,
}

impl Writer<'_> {
    fn error(&mut self, span: crate::diag::Span, message: String, hint: &str) {
        self.diags
            .push(Diagnostic::at(self.source, span, message).hint(hint));
    }

    /// Maps every subnet of the file: those in the lab ranges stay, the rest take the lowest
    /// free lab block of their size, largest first (a block inside a mapped one follows it).
    fn map_subnets(&mut self, networks: &[Network]) {
        let mut subnets: Vec<At<IpNetwork>> = networks
            .iter()
            .flat_map(|n| n.pools.iter().filter_map(|p| p.subnet.clone()))
            .map(|s| At::new(block(s.value), s.span))
            .collect();
        let mut used: Vec<IpNetwork> = subnets
            .iter()
            .map(|s| s.value)
            .filter(|s| in_lab_range(*s))
            .collect();
        subnets.sort_by_key(|s| s.value.prefix());
        for s in subnets {
            if in_lab_range(s.value) || self.map.lab(s.value.ip()).is_some() {
                continue;
            }
            match free_lab_block(s.value, &used) {
                Some(lab) => {
                    used.push(lab);
                    self.map.0.push(AddressMapping {
                        yours: s.value,
                        lab,
                    });
                }
                None => self.error(
                    s.span,
                    format!("no block of the benchmarking ranges is left for {}", s.value),
                    "the lab maps into 198.18.0.0/15 and 2001:2::/48: a block must be at most that large, and all of them must fit together",
                ),
            }
        }
    }

    /// An address in the lab: moved with its block, or kept when it is a lab address.
    fn addr(&mut self, a: &At<IpAddr>, what: &str) -> Option<IpAddr> {
        if let Some(lab) = self.map.lab(a.value) {
            return Some(lab);
        }
        let host = IpNetwork::new(a.value, if a.value.is_ipv4() { 32 } else { 128 }).ok()?;
        if in_lab_range(host) {
            return Some(a.value);
        }
        self.error(
            a.span.clone(),
            format!("{what} {} lies in none of the file's subnets", a.value),
            "an address has a place in the lab only inside a subnet of the file (Docker refuses it outside its subnet too)",
        );
        None
    }

    fn block(&mut self, b: &At<IpNetwork>, what: &str) -> Option<IpNetwork> {
        let lab = self.addr(&At::new(b.value.ip(), b.span.clone()), what)?;
        IpNetwork::new(lab, b.value.prefix()).ok()
    }

    /// A name of the scenario not yet taken.
    fn unique(&mut self, name: &str) -> String {
        let mut candidate = name.to_string();
        let mut n = 2;
        while RESERVED.contains(&candidate.as_str()) || !self.names.insert(candidate.clone()) {
            candidate = format!("{name}-{n}");
            n += 1;
        }
        candidate
    }
}

/// `KEY = "lab address"` lines of one pool, with `suffix` (`""` or `"6"`) on the keys.
fn pool_keys(w: &mut Writer<'_>, p: &Pool, suffix: &str, first: bool) -> String {
    let mut out = String::new();
    let key = |k: &str| {
        if first {
            format!("{k}{suffix}")
        } else {
            k.to_string()
        }
    };
    if let Some(s) = &p.subnet
        && let Some(lab) = w.block(s, "the subnet")
    {
        let _ = writeln!(out, "{} = {}", key("subnet"), q(&lab.to_string()));
    }
    if let Some(g) = &p.gateway
        && let Some(lab) = w.addr(g, "the gateway")
    {
        let _ = writeln!(out, "{} = {}", key("gateway"), q(&lab.to_string()));
    }
    if let Some(r) = &p.ip_range
        && let Some(lab) = w.block(r, "the ip_range")
    {
        let _ = writeln!(out, "{} = {}", key("ip_range"), q(&lab.to_string()));
    }
    for (k, v) in [("range_start", &p.range_start), ("range_end", &p.range_end)] {
        if let Some(a) = v
            && let Some(lab) = w.addr(a, "the range bound")
        {
            let _ = writeln!(out, "{} = {}", key(k), q(&lab.to_string()));
        }
    }
    if !p.aux.is_empty() {
        let entries: Vec<String> = p
            .aux
            .iter()
            .filter_map(|(name, a)| {
                Some(format!(
                    "{} = {}",
                    q(name),
                    q(&w.addr(a, "the aux address")?.to_string())
                ))
            })
            .collect();
        let _ = writeln!(
            out,
            "{} = {{ {} }}",
            key("aux_addresses"),
            entries.join(", ")
        );
    }
    out
}

fn network(w: &mut Writer<'_>, engine: Engine, net: &Network, parents: &mut Vec<String>) -> String {
    let mut out = String::new();
    let name = w.unique(&net.name);
    let _ = writeln!(out, "\n[[networks]]\nname = {}", q(&name));
    if let Some(p) = &net.parent {
        let (base, vlan) = match p.value.split_once('.') {
            Some((base, vid)) if vid.parse::<u16>().is_ok_and(|v| (1..=4094).contains(&v)) => {
                (base.to_string(), Some(vid.to_string()))
            }
            _ => (p.value.clone(), None),
        };
        if !parents.contains(&base) {
            parents.push(base.clone());
        }
        let _ = writeln!(out, "parent = {}", q(&base));
        if let Some(vid) = vlan {
            let _ = writeln!(out, "vlan = {vid}");
        }
    }
    if let Some(m) = net.mode.as_ref().filter(|m| !m.value.is_empty()) {
        if ["bridge", "vepa", "private", "passthru", "source"].contains(&m.value.as_str()) {
            let _ = writeln!(out, "mode = {}", q(&m.value));
        } else {
            let words = match engine {
                Engine::Docker => DockerVersion::parse("29")
                    .expect("a version")
                    .bad_mode(&m.value),
                Engine::Cni => cni::bad_mode(&m.value),
            };
            w.error(
                m.span.clone(),
                words,
                "use bridge, private, vepa or passthru (lower case)",
            );
        }
    }
    if net.internal {
        let _ = writeln!(out, "internal = true");
    }
    if let Some(v) = net.enable_ipv4 {
        let _ = writeln!(out, "enable_ipv4 = {v}");
    }
    if let Some(v) = net.enable_ipv6 {
        let _ = writeln!(out, "enable_ipv6 = {v}");
    }
    let v6 = |p: &&Pool| p.subnet.as_ref().is_some_and(|s| s.value.is_ipv6());
    let first4 = net.pools.iter().position(|p| !v6(&p));
    let first6 = net.pools.iter().position(|p| v6(&p));
    for at in [first4, first6].into_iter().flatten() {
        let suffix = if Some(at) == first6 { "6" } else { "" };
        out += &pool_keys(w, &net.pools[at], suffix, true);
    }
    if !net.routes.is_empty() {
        let routes: Vec<String> = net
            .routes
            .iter()
            .filter_map(|r| {
                let lab = if r.value.prefix() == 0 {
                    Some(r.value)
                } else {
                    w.block(r, "the route")
                };
                lab.map(|l| q(&l.to_string()))
            })
            .collect();
        let _ = writeln!(out, "routes = [{}]", routes.join(", "));
    }
    match (engine, net.containers.is_empty()) {
        (Engine::Docker, true) => {
            let _ = writeln!(out, "endpoints = []");
        }
        (Engine::Cni, _) => {
            let _ = writeln!(
                out,
                "# a netconf names no containers: mvlab's default of two endpoints"
            );
        }
        _ => {}
    }
    for (i, p) in net.pools.iter().enumerate() {
        if Some(i) != first4 && Some(i) != first6 {
            let _ = writeln!(out, "[[networks.subnets]]");
            out += &pool_keys(w, p, "", false);
        }
    }

    for c in &net.containers {
        let _ = writeln!(out, "[[networks.endpoints]]");
        if c.count > 1 {
            let pattern = w.unique(&format!("{}-{{n}}", c.name));
            let _ = writeln!(out, "name = {}\ncount = {}", q(&pattern), c.count);
            continue;
        }
        let name = w.unique(&c.name);
        let _ = writeln!(out, "name = {}", q(&name));
        let ip4 = c
            .ipv4
            .as_ref()
            .and_then(|a| w.addr(&At::new(a.value.into(), a.span.clone()), "the address"));
        let ip6 = c
            .ipv6
            .as_ref()
            .and_then(|a| w.addr(&At::new(a.value.into(), a.span.clone()), "the address"));
        for (key, a) in [("ip", ip4), ("ip6", ip6)] {
            if let Some(a) = a {
                let _ = writeln!(out, "{key} = {}", q(&a.to_string()));
            }
        }
        if let Some(m) = &c.mac {
            if m.value.is_lab_safe() {
                let _ = writeln!(out, "mac = {}", q(&m.value.to_string()));
            } else {
                let lab = m.value.into_lab_safe();
                let _ = writeln!(
                    out,
                    "# {} is not locally administered: the lab uses {lab}",
                    m.value
                );
                let _ = writeln!(out, "mac = {}", q(&lab.to_string()));
            }
        }
    }
    out
}

/// The scenario TOML of an import.
pub fn scenario(
    source: &Arc<Source>,
    imported: &Imported,
    options: &Options,
) -> Result<String, Diagnostics> {
    let mut w = Writer {
        source,
        map: AddressMap::default(),
        diags: Diagnostics::default(),
        names: HashSet::new(),
    };
    if imported.networks.is_empty() {
        w.diags.push(
            Diagnostic::whole(Some(source), "the file describes no macvlan network")
                .hint("mvlab imports macvlan networks (driver: macvlan, \"type\": \"macvlan\")"),
        );
        return Err(w.diags);
    }
    w.map_subnets(&imported.networks);
    let mut parents = Vec::new();
    let networks: Vec<String> = imported
        .networks
        .iter()
        .map(|n| network(&mut w, imported.engine, n, &mut parents))
        .collect();
    let mut out = String::new();
    let stem = source
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("imported");
    let _ = writeln!(
        out,
        "# Imported by `mvlab import` from {} ({}).",
        source.path.display(),
        imported.format
    );
    for note in &imported.notes {
        let _ = writeln!(out, "# note: {note}");
    }
    let _ = writeln!(out, "name = {}", q(&crate::import::node_name(stem)));
    let _ = writeln!(
        out,
        "# The file names no host beside the containers: add [[peers]] for one on a network's LAN.\npeers = []"
    );
    match imported.engine {
        Engine::Docker => {
            let _ = writeln!(out, "\n[docker]");
            match &options.docker_version {
                Some(v) => {
                    let _ = writeln!(out, "version = {}", q(v));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "# The Docker version whose rules apply (20.10, 23.0 to 29.x): set yours.\nversion = \"29\""
                    );
                }
            }
        }
        Engine::Cni => {
            let _ = writeln!(out, "\n[cni]\nipam = \"host-local\"");
        }
    }
    if !w.map.is_empty() {
        let _ = writeln!(
            out,
            "\n# Your addresses and the lab blocks that stand for them, host for host."
        );
    }
    for m in &w.map.0 {
        let _ = writeln!(
            out,
            "[[address_map]]\nyours = {}\nlab = {}",
            q(&m.yours.to_string()),
            q(&m.lab.to_string())
        );
    }
    for p in &parents {
        let _ = writeln!(out, "\n[[parents]]\nname = {}", q(p));
    }
    for n in networks {
        out += &n;
    }
    w.diags.into_result(out)
}

#[cfg(test)]
mod tests {
    use super::super::import;
    use super::*;
    use crate::scenario;

    #[test]
    fn a_compose_file_becomes_a_valid_scenario_with_its_addresses_mapped() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/import/compose.yaml"
        ))
        .unwrap();
        let source = Source::new("compose.yaml", text);
        let toml = import(
            &source,
            &Options {
                docker_version: Some("27".into()),
            },
        )
        .unwrap();
        let s = scenario::parse(Source::new("out.toml", toml.clone()))
            .unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let lan = &s.networks[0];
        assert_eq!((lan.link.as_str(), lan.vlan), ("eth0.10", Some(10)));
        let web = s.endpoint("web").unwrap();
        let ip = web.ipv4.unwrap();
        assert_eq!(
            s.address_map.yours(ip.into()).unwrap().to_string(),
            "192.168.1.50"
        );
        assert_eq!(ip.octets()[3], 50, "the host keeps its offset");
        assert!(toml.contains("yours = \"192.168.1.0/24\""), "{toml}");
    }

    #[test]
    fn an_address_outside_every_subnet_is_located() {
        let text = "networks:\n  lan:\n    driver: macvlan\n    ipam:\n      config:\n        - subnet: 10.0.0.0/24\n          gateway: 10.9.9.1\n";
        let err = import(&Source::new("c.yaml", text), &Options::default()).unwrap_err();
        let (_, line, col) = err.0[0].location().unwrap();
        assert_eq!((line, col), (7, 20));
    }
}
