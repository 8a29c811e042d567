//! `docker network inspect` output: a JSON array of networks. The macvlan ones become networks
//! (`Options.parent` and `macvlan_mode`, `IPAM.Config`, `EnableIPv4`, `EnableIPv6`, `Internal`),
//! and the containers they list become endpoints with the addresses Docker gave them, so the
//! scenario reproduces the running system. A MAC is kept only where Docker did not derive it
//! from the IPv4 address (02:42 and the address, up to Docker 27).

use std::net::IpAddr;
use std::sync::Arc;

use ipnetwork::IpNetwork;

use super::compose::pool_with;
use super::tree::{Node, Reader};
use super::{At, Container, Engine, Imported, Network, node_name};
use crate::addr::MacAddr;
use crate::diag::{Diagnostics, Source};

pub fn read(source: &Arc<Source>, doc: &Node) -> Result<Imported, Diagnostics> {
    let mut r = Reader::new(source.clone());
    let mut notes = Vec::new();
    let mut networks = Vec::new();
    for net in doc.items() {
        let name = net
            .get("Name")
            .and_then(Node::as_scalar)
            .unwrap_or("network");
        let driver = net.get("Driver").and_then(Node::as_scalar).unwrap_or("");
        if driver != "macvlan" {
            notes.push(format!(
                "network `{name}` uses the {driver} driver, not macvlan: left out"
            ));
            continue;
        }
        let option = |key: &str| {
            net.get("Options")
                .and_then(|o| o.get(key))
                .filter(|n| n.as_scalar().is_some_and(|s| !s.is_empty()))
                .map(|n| {
                    At::new(
                        n.as_scalar().unwrap_or_default().to_string(),
                        n.span.clone(),
                    )
                })
        };
        let flag = |r: &mut Reader, key: &str| net.get(key).and_then(|n| r.boolean(n, key));
        let pools = net
            .get("IPAM")
            .and_then(|i| i.get("Config"))
            .map_or(&[][..], Node::items)
            .iter()
            .map(|c| {
                pool_with(
                    &mut r,
                    &without_prefix(c),
                    ["Subnet", "IPRange", "Gateway", "AuxiliaryAddresses"],
                )
            })
            .collect();
        let containers = net
            .get("Containers")
            .map_or(&[][..], Node::entries)
            .iter()
            .filter_map(|(_, c)| container(&mut r, c))
            .collect();
        networks.push(Network {
            name: node_name(name),
            parent: option("parent"),
            mode: option("macvlan_mode"),
            internal: flag(&mut r, "Internal").unwrap_or(false),
            enable_ipv4: flag(&mut r, "EnableIPv4"),
            enable_ipv6: flag(&mut r, "EnableIPv6"),
            pools,
            routes: Vec::new(),
            containers,
            span: net.span.clone(),
        });
    }
    r.diags.into_result(Imported {
        engine: Engine::Docker,
        format: "`docker network inspect` output",
        networks,
        notes,
    })
}

/// An IPAM entry with a gateway printed with its prefix length (`2001:2::1/64`, as inspect shows
/// a gateway Docker chose from a default pool) read as the address alone.
fn without_prefix(c: &Node) -> Node {
    let mut c = c.clone();
    if let super::tree::Value::Map(entries) = &mut c.value {
        for (k, v) in entries.iter_mut() {
            if k.as_scalar() == Some("Gateway")
                && let super::tree::Value::Scalar(s, _) = &mut v.value
                && let Some((a, _)) = s.split_once('/')
            {
                *s = a.to_string();
            }
        }
    }
    c
}

/// One entry of `Containers`: its name and the addresses Docker gave it.
fn container(r: &mut Reader, c: &Node) -> Option<Container> {
    let name = c.get("Name").and_then(Node::as_scalar)?;
    let addr = |r: &mut Reader, key: &str| -> Option<At<IpAddr>> {
        let n = c
            .get(key)
            .filter(|n| n.as_scalar().is_some_and(|s| !s.is_empty()))?;
        let net: IpNetwork = r.parsed(n, "an address with its prefix length", "198.18.1.2/24")?;
        Some(At::new(net.ip(), n.span.clone()))
    };
    let v4 = addr(r, "IPv4Address");
    let v6 = addr(r, "IPv6Address");
    let mac = c
        .get("MacAddress")
        .filter(|n| n.as_scalar().is_some_and(|s| !s.is_empty()))
        .and_then(|n| {
            Some(At::new(
                r.parsed::<MacAddr>(n, "a MAC address", "02:42:c6:12:01:02")?,
                n.span.clone(),
            ))
        });
    let ipv4 = v4.and_then(|a| match a.value {
        IpAddr::V4(v) => Some(At::new(v, a.span)),
        IpAddr::V6(_) => None,
    });
    let derived = ipv4.as_ref().map(|a| {
        let o = a.value.octets();
        MacAddr([0x02, 0x42, o[0], o[1], o[2], o[3]])
    });
    Some(Container {
        name: node_name(name),
        count: 1,
        ipv4,
        ipv6: v6.and_then(|a| match a.value {
            IpAddr::V6(v) => Some(At::new(v, a.span)),
            IpAddr::V4(_) => None,
        }),
        mac: mac.filter(|m| Some(m.value) != derived),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_their_containers() {
        let text = r#"[{"Name": "nB", "Id": "abc", "Driver": "macvlan", "EnableIPv6": false, "Internal": false,
 "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "198.18.2.0/24", "IPRange": "198.18.2.128/26"}]},
 "Containers": {"f00": {"Name": "b1", "MacAddress": "02:42:c6:12:02:81", "IPv4Address": "198.18.2.129/24", "IPv6Address": ""}},
 "Options": {"parent": "up0"}}, {"Name": "bridge", "Driver": "bridge", "IPAM": {"Config": []}}]"#;
        let imported = super::super::read(&Source::new("inspect.json", text)).unwrap();
        assert_eq!(imported.networks.len(), 1);
        let n = &imported.networks[0];
        assert_eq!(n.parent.as_ref().unwrap().value, "up0");
        assert_eq!(
            n.pools[0].ip_range.as_ref().unwrap().value.to_string(),
            "198.18.2.128/26"
        );
        let c = &n.containers[0];
        assert_eq!(c.ipv4.as_ref().unwrap().value.to_string(), "198.18.2.129");
        assert_eq!(c.mac, None, "derived from the address");
    }
}
