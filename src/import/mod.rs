//! `mvlab import`: a scenario from what users already have. Each input format has a file of its
//! own that reads it into one neutral description (`Imported`: networks with their pools and
//! containers, in the user's own addresses); `emit` maps those addresses into the benchmarking
//! ranges and writes the scenario's TOML, with the mapping under `[[address_map]]`. Pure: text
//! in, text out; the CLI reads and writes the files. Every problem with the input is located at
//! its `file:line:col` with a hint; the scenario written is then validated like any other.
//!
//! Formats: a compose file (`compose`), `docker network inspect` output (`inspect`), a shell file
//! of `docker network create` / `docker run` / `docker network connect` lines (`shell`), a CNI
//! macvlan netconf or conflist, or a Multus NetworkAttachmentDefinition (`cni`). YAML and JSON
//! are read through `tree`, which keeps every node's place.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnetwork::IpNetwork;

use crate::addr::MacAddr;
use crate::diag::{Diagnostic, Diagnostics, Source, Span};

mod cni;
mod compose;
mod emit;
mod inspect;
mod shell;
pub mod tree;

/// A value and where the input wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub span: Span,
}

impl<T> At<T> {
    pub fn new(value: T, span: Span) -> At<T> {
        At { value, span }
    }
}

/// Whose rules the imported networks follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Cni,
}

/// One address pool as the input has it (Docker's `IPAM.Config` entry, CNI's range).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pool {
    pub subnet: Option<At<IpNetwork>>,
    pub ip_range: Option<At<IpNetwork>>,
    pub gateway: Option<At<IpAddr>>,
    pub aux: Vec<(String, At<IpAddr>)>,
    pub range_start: Option<At<IpAddr>>,
    pub range_end: Option<At<IpAddr>>,
}

/// A container (or a group of identical ones) on a network.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub name: String,
    /// More than one: replicas named `NAME-1`, `NAME-2`, ... (compose's `scale`).
    pub count: u32,
    pub ipv4: Option<At<Ipv4Addr>>,
    pub ipv6: Option<At<Ipv6Addr>>,
    pub mac: Option<At<MacAddr>>,
}

/// A macvlan network as the input describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    /// `parent` / `master` as written (`eth0`, `eth0.10`); none: Docker's dummy.
    pub parent: Option<At<String>>,
    pub mode: Option<At<String>>,
    pub internal: bool,
    pub enable_ipv4: Option<bool>,
    pub enable_ipv6: Option<bool>,
    pub pools: Vec<Pool>,
    /// CNI: route destinations through the gateway.
    pub routes: Vec<At<IpNetwork>>,
    pub containers: Vec<Container>,
    pub span: Span,
}

/// What an input file describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub engine: Engine,
    /// What kind of file it was, for the scenario's header.
    pub format: &'static str,
    pub networks: Vec<Network>,
    /// What the scenario leaves out, and why (written as comments).
    pub notes: Vec<String>,
}

/// Choices the input cannot make.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The Docker version whose rules the scenario follows (`[docker] version`).
    pub docker_version: Option<String>,
}

/// Reads `source` in whichever format it is, and writes the scenario.
pub fn import(source: &Arc<Source>, options: &Options) -> Result<String, Diagnostics> {
    let imported = read(source)?;
    emit::scenario(source, &imported, options)
}

/// Reads `source` into the neutral description.
pub fn read(source: &Arc<Source>) -> Result<Imported, Diagnostics> {
    if shell::looks_like(&source.text) {
        return shell::read(source);
    }
    let docs = tree::parse(source)?;
    let first = docs.first();
    let is = |key: &str| docs.iter().any(|d| d.get(key).is_some());
    let kind = |d: &tree::Node| {
        d.get("kind")
            .and_then(|k| k.as_scalar())
            .map(str::to_string)
    };
    if docs
        .iter()
        .any(|d| kind(d).as_deref() == Some("NetworkAttachmentDefinition"))
    {
        return cni::read_nad(source, &docs);
    }
    if let Some(d) = first.filter(|d| d.items().iter().any(|n| n.get("IPAM").is_some())) {
        return inspect::read(source, d);
    }
    if let Some(d) = first.filter(|_| is("type") || is("plugins")) {
        return cni::read_netconf(source, d);
    }
    if let Some(d) = first.filter(|_| is("services") || is("networks")) {
        return compose::read(source, d);
    }
    Err(Diagnostics(vec![
        Diagnostic::whole(
            Some(source),
            "this is neither a compose file, `docker network inspect` output, a file of docker commands, nor a CNI netconf or NetworkAttachmentDefinition",
        )
        .hint("give mvlab import one of those (README: Docker and CNI)"),
    ]))
}

/// A name made fit for a node or network of the scenario: letters, digits, `-` and `_`,
/// starting with a letter or digit, at most 40 bytes.
pub fn node_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'n');
    }
    name.truncate(40);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_fit_for_namespaces() {
        assert_eq!(node_name("web.app"), "web-app");
        assert_eq!(node_name("_db"), "n_db");
        assert_eq!(node_name(&"x".repeat(50)).len(), 40);
    }

    #[test]
    fn an_unknown_file_says_what_it_expected() {
        let err = read(&Source::new("x.yaml", "hello: world\n")).unwrap_err();
        assert!(err.0[0].message.contains("neither a compose file"));
    }
}
