//! A compose file (the Compose Specification, as `docker compose` reads it): the top-level
//! `networks` with `driver: macvlan` (`driver_opts` `parent` and `macvlan_mode`, `ipam.config`
//! entries with `subnet`, `ip_range`, `gateway`, `aux_addresses`, `enable_ipv4`, `enable_ipv6`,
//! `internal`), and the services attached to them (`ipv4_address`, `ipv6_address`,
//! `mac_address`, `container_name`, `scale` / `deploy.replicas`). Other networks and services
//! are left out with a note.

use std::sync::Arc;

use super::tree::{Node, Reader, Value};
use super::{At, Container, Engine, Imported, Network, Pool, node_name};
use crate::addr::MacAddr;
use crate::diag::{Diagnostics, Source};

pub fn read(source: &Arc<Source>, doc: &Node) -> Result<Imported, Diagnostics> {
    let mut r = Reader::new(source.clone());
    let mut notes = Vec::new();
    let mut networks = Vec::new();
    for (key, net) in doc.get("networks").map_or(&[][..], Node::entries) {
        let Some(name) = r.string(key, "a network name") else {
            continue;
        };
        let driver = net
            .get("driver")
            .and_then(Node::as_scalar)
            .unwrap_or("bridge");
        if net
            .get("external")
            .is_some_and(|e| e.as_scalar() == Some("true"))
        {
            notes.push(format!("network `{name}` is external: describe it with `docker network inspect {name}` and import that"));
            continue;
        }
        if driver != "macvlan" {
            notes.push(format!(
                "network `{name}` uses the {driver} driver, not macvlan: left out"
            ));
            continue;
        }
        networks.push(network(&mut r, &mut notes, &name, net));
    }
    for (key, svc) in doc.get("services").map_or(&[][..], Node::entries) {
        let Some(service) = r.string(key, "a service name") else {
            continue;
        };
        attach(&mut r, &mut notes, &mut networks, &service, svc);
    }
    r.diags.into_result(Imported {
        engine: Engine::Docker,
        format: "a compose file",
        networks,
        notes,
    })
}

fn network(r: &mut Reader, notes: &mut Vec<String>, name: &str, net: &Node) -> Network {
    let opts = net.get("driver_opts");
    let opt = |key: &str| opts.and_then(|o| o.get(key));
    for (k, _) in opts.map_or(&[][..], Node::entries) {
        if let Some(k) = k
            .as_scalar()
            .filter(|k| !["parent", "macvlan_mode"].contains(k))
        {
            notes.push(format!("network `{name}`: driver option `{k}` is stored and ignored by Docker's macvlan driver"));
        }
    }
    let text = |r: &mut Reader, n: Option<&Node>, what: &str| {
        n.and_then(|n| Some(At::new(r.string(n, what)?, n.span.clone())))
    };
    let flag = |r: &mut Reader, key: &str| net.get(key).and_then(|n| r.boolean(n, key));
    let ipam = net.get("ipam");
    if let Some(d) = ipam
        .and_then(|i| i.get("driver"))
        .and_then(Node::as_scalar)
        .filter(|d| *d != "default")
    {
        notes.push(format!(
            "network `{name}`: IPAM driver `{d}` is not Docker's default; mvlab models the default"
        ));
    }
    let pools = ipam
        .and_then(|i| i.get("config"))
        .map_or(&[][..], Node::items)
        .iter()
        .map(|c| pool(r, c))
        .collect();
    Network {
        name: node_name(net.get("name").and_then(Node::as_scalar).unwrap_or(name)),
        parent: text(r, opt("parent"), "parent"),
        mode: text(r, opt("macvlan_mode"), "macvlan_mode"),
        internal: flag(r, "internal").unwrap_or(false),
        enable_ipv4: flag(r, "enable_ipv4"),
        enable_ipv6: flag(r, "enable_ipv6"),
        pools,
        routes: Vec::new(),
        containers: Vec::new(),
        span: net.span.clone(),
    }
}

/// One `ipam.config` entry (also `docker network inspect`'s, with its capitalised keys).
pub(super) fn pool_with(r: &mut Reader, c: &Node, keys: [&str; 4]) -> super::Pool {
    let [subnet, range, gateway, aux] = keys;
    Pool {
        subnet: field(r, c, subnet, "a subnet", "192.168.1.0/24"),
        ip_range: field(r, c, range, "an ip_range", "192.168.1.128/25"),
        gateway: field(r, c, gateway, "a gateway address", "192.168.1.1"),
        aux: c
            .get(aux)
            .map_or(&[][..], Node::entries)
            .iter()
            .filter_map(|(k, v)| {
                let name = r.string(k, "an aux address name")?;
                Some((
                    name,
                    At::new(
                        r.parsed(v, "an aux address", "192.168.1.2")?,
                        v.span.clone(),
                    ),
                ))
            })
            .collect(),
        range_start: None,
        range_end: None,
    }
}

/// The value of `key` in `c` (absent when missing, null or empty).
pub(super) fn field<T: std::str::FromStr>(
    r: &mut Reader,
    c: &Node,
    key: &str,
    what: &str,
    example: &str,
) -> Option<At<T>> {
    let n = c.get(key).filter(|n| !n.is_null())?;
    if r.string(n, what)?.is_empty() {
        return None;
    }
    Some(At::new(r.parsed(n, what, example)?, n.span.clone()))
}

fn pool(r: &mut Reader, c: &Node) -> Pool {
    pool_with(r, c, ["subnet", "ip_range", "gateway", "aux_addresses"])
}

/// Puts a service's containers on the macvlan networks it names.
fn attach(
    r: &mut Reader,
    notes: &mut Vec<String>,
    networks: &mut [Network],
    service: &str,
    svc: &Node,
) {
    let name = node_name(
        svc.get("container_name")
            .and_then(Node::as_scalar)
            .unwrap_or(service),
    );
    let count = svc
        .get("scale")
        .or_else(|| svc.get("deploy").and_then(|d| d.get("replicas")))
        .and_then(|n| r.parsed::<u32>(n, "a number of replicas", "3"))
        .unwrap_or(1);
    let service_mac = svc.get("mac_address");
    let attached: Vec<(String, Option<&Node>)> = match svc.get("networks").map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|n| Some((n.as_scalar()?.to_string(), None)))
            .collect(),
        Some(Value::Map(entries)) => entries
            .iter()
            .filter_map(|(k, v)| Some((k.as_scalar()?.to_string(), Some(v))))
            .collect(),
        _ => Vec::new(),
    };
    let mut first = true;
    for (net_name, settings) in attached {
        let Some(net) = networks.iter_mut().find(|n| n.name == node_name(&net_name)) else {
            continue;
        };
        let setting = |key: &str| settings.and_then(|s| s.get(key)).filter(|n| !n.is_null());
        let ipv4 = setting("ipv4_address").and_then(|n| {
            Some(At::new(
                r.parsed(n, "an IPv4 address", "192.168.1.50")?,
                n.span.clone(),
            ))
        });
        let ipv6 = setting("ipv6_address").and_then(|n| {
            Some(At::new(
                r.parsed(n, "an IPv6 address", "fd00:1::50")?,
                n.span.clone(),
            ))
        });
        let mac_node = setting("mac_address").or(if first { service_mac } else { None });
        let mac = mac_node.and_then(|n| {
            Some(At::new(
                r.parsed::<MacAddr>(n, "a MAC address", "02:42:c0:a8:01:32")?,
                n.span.clone(),
            ))
        });
        if count > 1 && (ipv4.is_some() || ipv6.is_some() || mac.is_some()) {
            notes.push(format!(
                "service `{service}` has {count} replicas and fixed addresses: one container kept"
            ));
        }
        let fixed = ipv4.is_some() || ipv6.is_some() || mac.is_some();
        net.containers.push(Container {
            name: if first {
                name.clone()
            } else {
                node_name(&format!("{name}-{net_name}"))
            },
            count: if fixed { 1 } else { count },
            ipv4,
            ipv6,
            mac,
        });
        if !first {
            notes.push(format!("service `{service}` is on several macvlan networks: mvlab makes one endpoint per network"));
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_services_and_their_addresses() {
        let text = "services:\n  web:\n    scale: 2\n    networks: [lan]\n  db:\n    networks:\n      lan:\n        ipv4_address: 192.168.1.50\n        mac_address: 02:11:22:33:44:55\nnetworks:\n  lan:\n    driver: macvlan\n    driver_opts:\n      parent: eth0.10\n      mtu: 1400\n    ipam:\n      config:\n        - subnet: 192.168.1.0/24\n          gateway: 192.168.1.1\n  other:\n    driver: bridge\n";
        let source = Source::new("compose.yaml", text);
        let imported = super::super::read(&source).unwrap();
        assert_eq!(imported.networks.len(), 1);
        let lan = &imported.networks[0];
        assert_eq!(lan.parent.as_ref().unwrap().value, "eth0.10");
        assert_eq!(
            lan.pools[0].gateway.as_ref().unwrap().value.to_string(),
            "192.168.1.1"
        );
        assert_eq!(lan.containers[0].count, 2);
        assert_eq!(
            lan.containers[1].ipv4.as_ref().unwrap().value.to_string(),
            "192.168.1.50"
        );
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains("`mtu` is stored and ignored"))
        );
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains("`other` uses the bridge driver"))
        );
    }

    #[test]
    fn a_bad_address_is_located() {
        let text = "networks:\n  lan:\n    driver: macvlan\n    ipam:\n      config:\n        - subnet: 192.168.1/24\n";
        let source = Source::new("compose.yaml", text);
        let err = super::super::read(&source).unwrap_err();
        let (_, line, col) = err.0[0].location().unwrap();
        assert_eq!((line, col), (6, 19));
        assert!(err.0[0].message.contains("is not a subnet"));
    }
}
