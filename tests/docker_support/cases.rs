//! One case, two judges: a set of macvlan networks and containers written once (`Net`, `Ctr`),
//! turned into a scenario for `mvlab check` and into Engine API requests for a real Docker, and
//! the two held to each other: the same networks and containers refused in the same words (the
//! IDs Docker draws at random aside), and every container that starts with the addresses,
//! gateway, MAC, default routes and IPv6 state mvlab predicts. Then `docker network inspect` of
//! what Docker made goes through `mvlab import` and must give the same scenario back.

use std::collections::BTreeMap;
use std::process::Command;

use ipnetwork::IpNetwork;
use mvlab::diag::Source;
use mvlab::import::{self, Options};
use mvlab::scenario::{self, Scenario};
use serde_json::{Value, json};

use super::Engine;

#[derive(Debug, Clone, Default)]
pub struct Pool {
    pub subnet: &'static str,
    pub range: Option<&'static str>,
    pub gateway: Option<&'static str>,
    pub aux: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Clone, Default)]
pub struct Ctr {
    pub name: &'static str,
    pub ip: Option<&'static str>,
    pub ip6: Option<&'static str>,
    pub mac: Option<&'static str>,
}

#[derive(Debug, Clone, Default)]
pub struct Net {
    pub name: &'static str,
    /// `-o parent=`; empty: none (Docker makes a dummy).
    pub parent: &'static str,
    /// `-o macvlan_mode=`; empty: none.
    pub mode: &'static str,
    pub pools: Vec<Pool>,
    pub ipv6: bool,
    pub internal: bool,
    pub ctrs: Vec<Ctr>,
}

/// A pool of a subnet alone.
pub fn subnet(s: &'static str) -> Pool {
    Pool {
        subnet: s,
        ..Pool::default()
    }
}

/// `n` containers `PREFIX1` ... without fixed addresses.
pub fn dynamic(prefix: &str, n: usize) -> Vec<Ctr> {
    (1..=n)
        .map(|i| Ctr {
            name: Box::leak(format!("{prefix}{i}").into_boxed_str()),
            ..Ctr::default()
        })
        .collect()
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

/// The scenario of a case, under `[docker] version`, with the parents the engine's namespace
/// has (`veths`).
pub fn scenario_text(version: &str, nets: &[Net], veths: &[&str]) -> String {
    let mut out = format!("peers = []\n[docker]\nversion = {}\n", q(version));
    let mut parents: Vec<&str> = nets
        .iter()
        .map(|n| n.parent.split('.').next().unwrap_or(""))
        .filter(|p| veths.contains(p))
        .collect();
    parents.dedup();
    let mut seen = Vec::new();
    for p in parents {
        if !seen.contains(&p) {
            out += &format!("[[parents]]\nname = {}\n", q(p));
            seen.push(p);
        }
    }
    for n in nets {
        out += &format!("[[networks]]\nname = {}\n", q(n.name));
        if !n.parent.is_empty() {
            out += &format!("parent = {}\n", q(n.parent));
        }
        if !n.mode.is_empty() {
            out += &format!("mode = {}\n", q(n.mode));
        }
        if n.internal {
            out += "internal = true\n";
        }
        let v6 = |p: &&Pool| p.subnet.contains(':');
        let v6_written = n.pools.iter().any(|p| v6(&p));
        if n.ipv6 != v6_written {
            out += &format!("enable_ipv6 = {}\n", n.ipv6);
        }
        let first4 = n.pools.iter().position(|p| !v6(&p));
        let first6 = n.pools.iter().position(|p| v6(&p));
        let keys = |p: &Pool, suffix: &str| {
            let mut out = format!("subnet{suffix} = {}\n", q(p.subnet));
            if let Some(r) = p.range {
                out += &format!("ip_range{suffix} = {}\n", q(r));
            }
            if let Some(g) = p.gateway {
                out += &format!("gateway{suffix} = {}\n", q(g));
            }
            if !p.aux.is_empty() {
                let aux: Vec<String> = p
                    .aux
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", q(v)))
                    .collect();
                out += &format!("aux_addresses{suffix} = {{ {} }}\n", aux.join(", "));
            }
            out
        };
        for (i, p) in n.pools.iter().enumerate() {
            if Some(i) == first4 {
                out += &keys(p, "");
            } else if Some(i) == first6 {
                out += &keys(p, "6");
            }
        }
        for (i, p) in n.pools.iter().enumerate() {
            if Some(i) != first4 && Some(i) != first6 {
                out += "[[networks.subnets]]\n";
                out += &keys(p, "");
            }
        }
        if n.ctrs.is_empty() {
            out += "endpoints = []\n";
        }
        for c in &n.ctrs {
            out += &format!("[[networks.endpoints]]\nname = {}\n", q(c.name));
            for (k, v) in [("ip", c.ip), ("ip6", c.ip6), ("mac", c.mac)] {
                if let Some(v) = v {
                    out += &format!("{k} = {}\n", q(v));
                }
            }
        }
    }
    out
}

/// The Engine API request that creates `n` (`POST /networks/create`), pools in their order.
pub fn request(n: &Net) -> Value {
    let mut options = json!({});
    if !n.parent.is_empty() {
        options["parent"] = json!(n.parent);
    }
    if !n.mode.is_empty() {
        options["macvlan_mode"] = json!(n.mode);
    }
    let config: Vec<Value> = n
        .pools
        .iter()
        .map(|p| {
            let mut c = json!({ "Subnet": p.subnet });
            if let Some(r) = p.range {
                c["IPRange"] = json!(r);
            }
            if let Some(g) = p.gateway {
                c["Gateway"] = json!(g);
            }
            if !p.aux.is_empty() {
                let aux: BTreeMap<&str, &str> = p.aux.iter().copied().collect();
                c["AuxiliaryAddresses"] = json!(aux);
            }
            c
        })
        .collect();
    json!({
        "Name": n.name, "Driver": "macvlan", "CheckDuplicate": true,
        "Internal": n.internal, "EnableIPv6": n.ipv6, "Options": options,
        "IPAM": { "Driver": "default", "Config": config },
    })
}

/// Who a diagnostic of `text` is about: the container whose entry holds its line, or else the
/// network.
fn owner(text: &str, line: usize) -> String {
    let (mut network, mut container, mut in_entry) = (String::new(), None, false);
    for l in text.lines().take(line) {
        if l == "[[networks]]" {
            (container, in_entry) = (None, false);
        } else if l == "[[networks.endpoints]]" {
            in_entry = true;
        } else if l.starts_with('[') {
            in_entry = false;
        } else if let Some(name) = l.strip_prefix("name = ") {
            let name = name.trim_matches('"').to_string();
            if in_entry {
                container = Some(name);
            } else {
                network = name;
            }
        }
    }
    container.unwrap_or(network)
}

/// The words with the IDs Docker draws at random (and the name of an aux address, which
/// Docker picks in Go's random map order where several are refused alike) set aside.
pub fn normalised(words: &str) -> String {
    let mut out = String::new();
    let mut hex = String::new();
    for c in words.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            hex.push(c);
            continue;
        }
        out += if hex.len() == 64 || hex.len() == 12 {
            "<ID>"
        } else {
            &hex
        };
        hex.clear();
        out.push(c);
    }
    let out = out.trim_end().to_string();
    match out.split_once("secondary ip address (") {
        Some((head, tail)) => match tail.split_once(':') {
            Some((_, rest)) => format!("{head}secondary ip address (<AUX>:{rest}"),
            None => out,
        },
        None => out,
    }
}

/// What a case came to on both sides, for the test's tally.
#[derive(Debug, Default)]
pub struct Tally {
    pub networks: usize,
    pub containers: usize,
    pub refusals: usize,
    pub round_trips: usize,
}

/// mvlab's verdict on a case: each refused network or container with its words, and the
/// scenario of what is left (what `mvlab check --json` prints for it).
fn mvlab_side(
    version: &str,
    case: &[Net],
    veths: &[&str],
) -> (Vec<(String, String)>, String, Value, Scenario) {
    let mut nets = case.to_vec();
    let mut refused = Vec::new();
    for _ in 0..10 {
        let text = scenario_text(version, &nets, veths);
        match scenario::parse(Source::new("case.toml", text.clone())) {
            Ok(s) => {
                let path =
                    std::env::temp_dir().join(format!("mvtest-case-{}.toml", std::process::id()));
                std::fs::write(&path, &text).unwrap();
                let out = Command::new(env!("CARGO_BIN_EXE_mvlab"))
                    .args(["check", "--json"])
                    .arg(&path)
                    .output()
                    .unwrap();
                let _ = std::fs::remove_file(&path);
                assert!(
                    out.status.success(),
                    "mvlab check: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return (
                    refused,
                    text,
                    serde_json::from_slice(&out.stdout).unwrap(),
                    s,
                );
            }
            Err(diags) => {
                for d in &diags.0 {
                    let (_, line, _) = d
                        .location()
                        .unwrap_or_else(|| panic!("an unlocated problem: {d}"));
                    let who = owner(&text, line);
                    refused.push((who.clone(), d.message.clone()));
                    nets.retain(|n| n.name != who);
                    for n in &mut nets {
                        n.ctrs.retain(|c| c.name != who);
                    }
                }
            }
        }
    }
    panic!("mvlab kept refusing: {refused:?}")
}

/// The prefix length of the case's subnet that holds `ip`.
fn prefix_of(net: &Net, ip: &str) -> u64 {
    let ip: std::net::IpAddr = ip.parse().unwrap();
    net.pools
        .iter()
        .filter_map(|p| p.subnet.parse::<IpNetwork>().ok())
        .find(|s| {
            IpNetwork::new(s.network(), s.prefix())
                .unwrap()
                .contains(ip)
        })
        .map_or(0, |s| u64::from(s.prefix()))
}

/// Runs `case` on `engine` (whose namespace has the parents `veths`) and holds it to mvlab's
/// prediction under `version`; returns every difference (empty: they agree).
pub fn judge(
    engine: &Engine,
    version: &str,
    case: &[Net],
    veths: &[&str],
    tally: &mut Tally,
) -> Vec<String> {
    engine.reset();
    let (mvlab_refused, text, json, s) = mvlab_side(version, case, veths);
    let mut diffs = Vec::new();
    let mut docker_refused = Vec::new();
    let mut made = Vec::new();
    for n in case {
        tally.networks += 1;
        match engine.create_network(&request(n)) {
            Ok(_) => made.push(n.name),
            Err(words) => docker_refused.push((n.name.to_string(), words)),
        }
    }
    for n in case.iter().filter(|n| made.contains(&n.name)) {
        for c in &n.ctrs {
            tally.containers += 1;
            match engine.run(c.name, n.name, c.ip, c.ip6, c.mac) {
                Err(words) => docker_refused.push((c.name.to_string(), words)),
                Ok(inspect) => {
                    diffs.extend(compare_container(engine, n, c.name, &inspect, &json));
                }
            }
        }
    }
    let norm = |v: &[(String, String)]| {
        let mut v: Vec<(String, String)> =
            v.iter().map(|(w, m)| (w.clone(), normalised(m))).collect();
        v.sort();
        v
    };
    tally.refusals += docker_refused.len();
    if norm(&mvlab_refused) != norm(&docker_refused) {
        diffs.push(format!(
            "refusals: mvlab {:?}, Docker {:?}",
            norm(&mvlab_refused),
            norm(&docker_refused)
        ));
    }
    if !made.is_empty() {
        tally.round_trips += made.len();
        diffs.extend(round_trip(engine, version, &made, &s));
    }
    if !diffs.is_empty() {
        diffs.insert(0, format!("the case:\n{text}"));
    }
    diffs
}

/// One running container against mvlab's prediction in `json` (`mvlab check --json`).
fn compare_container(
    engine: &Engine,
    n: &Net,
    name: &str,
    inspect: &Value,
    json: &Value,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let Some(e) = json["endpoints"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == name))
    else {
        return vec![format!(
            "{name}: Docker started it, mvlab predicts it refused"
        )];
    };
    let ep = &inspect["NetworkSettings"]["Networks"][n.name];
    let str_of = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let mut same = |what: &str, docker: Option<String>, mine: Option<String>| {
        if docker != mine {
            diffs.push(format!("{name} {what}: Docker {docker:?}, mvlab {mine:?}"));
        }
    };
    same("IPv4", str_of(&ep["IPAddress"]), str_of(&e["ipv4"]));
    if let Some(ip) = str_of(&e["ipv4"]) {
        same(
            "prefix",
            ep["IPPrefixLen"].as_u64().map(|p| p.to_string()),
            Some(prefix_of(n, &ip).to_string()),
        );
    }
    same("gateway", str_of(&ep["Gateway"]), str_of(&e["gateway4"]));
    same("MAC", str_of(&ep["MacAddress"]), str_of(&e["mac"]));
    same("IPv6", str_of(&ep["GlobalIPv6Address"]), str_of(&e["ipv6"]));
    same(
        "IPv6 gateway",
        str_of(&ep["IPv6Gateway"]),
        str_of(&e["gateway6"]),
    );
    let routes = |family: &str| -> Option<String> {
        let text = engine.in_container(inspect, &["ip", "-j", family, "route", "show", "default"]);
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        v.as_array()?.first()?["gateway"]
            .as_str()
            .map(str::to_string)
    };
    same("default route", routes("-4"), str_of(&e["gateway4"]));
    same("IPv6 default route", routes("-6"), str_of(&e["gateway6"]));
    // IPv6 off in the whole namespace for an IPv4-only container (Docker before 26), on the
    // interface with an IPv6 address.
    let sysctl = |dev: &str| {
        engine
            .in_container(
                inspect,
                &[
                    "cat",
                    &format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"),
                ],
            )
            .trim()
            .to_string()
    };
    let off = if e["ipv6"].is_null() { "1" } else { "0" };
    same(
        "disable_ipv6 of eth0",
        Some(sysctl("eth0")),
        Some(off.into()),
    );
    same("disable_ipv6 of lo", Some(sysctl("lo")), Some(off.into()));
    diffs
}

/// `docker network inspect` of the networks Docker made, through `mvlab import`: the same
/// networks as written, and the containers at the addresses they got.
fn round_trip(engine: &Engine, version: &str, made: &[&str], s: &Scenario) -> Vec<String> {
    let json = engine.inspect_networks(made);
    let options = Options {
        docker_version: Some(version.to_string()),
    };
    let toml = match import::import(&Source::new("inspect.json", json.clone()), &options) {
        Ok(t) => t,
        Err(d) => {
            return vec![format!(
                "mvlab import of the inspect output failed: {d}\n{json}"
            )];
        }
    };
    let back = match scenario::parse(Source::new("imported.toml", toml.clone())) {
        Ok(b) => b,
        Err(d) => return vec![format!("the imported scenario is refused: {d}\n{toml}")],
    };
    let mut diffs = Vec::new();
    for name in made {
        let (Some(a), Some(b)) = (
            s.networks.iter().find(|n| &n.name == name),
            back.networks.iter().find(|n| &n.name == name),
        ) else {
            diffs.push(format!("round trip: network {name} is missing"));
            continue;
        };
        let (da, db) = (
            serde_json::to_value(&a.docker).unwrap(),
            serde_json::to_value(&b.docker).unwrap(),
        );
        for key in ["parent", "internal", "enable_ipv6", "ipam"] {
            if da[key] != db[key] {
                diffs.push(format!(
                    "round trip of {name}: {key} {} became {}",
                    da[key], db[key]
                ));
            }
        }
        let ips = |sc: &Scenario, n: &str| {
            let i = sc.networks.iter().position(|x| x.name == n).unwrap();
            let mut v: Vec<String> = sc
                .endpoints
                .iter()
                .filter(|e| e.network == i)
                .map(|e| format!("{} {:?} {:?}", e.name, e.ipv4, e.ipv6))
                .collect();
            v.sort();
            v
        };
        if ips(s, name) != ips(&back, name) {
            diffs.push(format!(
                "round trip of {name}: containers {:?} became {:?}",
                ips(s, name),
                ips(&back, name)
            ));
        }
    }
    diffs
}
