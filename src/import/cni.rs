//! CNI's macvlan plugin: a netconf (`"type": "macvlan"`, `master`, `mode`, and `ipam` of type
//! `host-local` with `subnet`/`rangeStart`/`rangeEnd`/`gateway` or `ranges`, and `routes`), a
//! conflist holding one (the other plugins of the chain are left out with a note), or Multus
//! NetworkAttachmentDefinitions, whose `spec.config` is such a netconf in a string (read as a
//! file of its own: errors inside it name `FILE (NAME spec.config):line:col`). A netconf names
//! no containers; the scenario gets mvlab's default endpoints.

use std::sync::Arc;

use ipnetwork::IpNetwork;

use super::compose::field;
use super::tree::{Node, Reader};
use super::{At, Engine, Imported, Network, Pool, node_name, tree};
use crate::diag::{Diagnostics, Source};

pub fn read_netconf(source: &Arc<Source>, doc: &Node) -> Result<Imported, Diagnostics> {
    let mut r = Reader::new(source.clone());
    let mut notes = Vec::new();
    let mut networks = Vec::new();
    let name = doc
        .get("name")
        .and_then(Node::as_scalar)
        .unwrap_or("cni")
        .to_string();
    netconf(&mut r, &mut notes, &mut networks, doc, &name);
    r.diags.into_result(Imported {
        engine: Engine::Cni,
        format: "a CNI netconf",
        networks,
        notes,
    })
}

pub fn read_nad(source: &Arc<Source>, docs: &[Node]) -> Result<Imported, Diagnostics> {
    let mut r = Reader::new(source.clone());
    let mut notes = Vec::new();
    let mut networks = Vec::new();
    let mut inner_diags = Diagnostics::default();
    for doc in docs {
        if doc.get("kind").and_then(Node::as_scalar) != Some("NetworkAttachmentDefinition") {
            continue;
        }
        let name = doc
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::as_scalar)
            .unwrap_or("network");
        let Some(config) = doc.get("spec").and_then(|s| s.get("config")) else {
            r.error(
                doc.span.clone(),
                format!("NetworkAttachmentDefinition `{name}` has no spec.config"),
                "put the macvlan netconf (JSON) in spec.config",
            );
            continue;
        };
        let Some(text) = r.string(config, "spec.config") else {
            continue;
        };
        let inner = Source::new(
            format!("{} ({name} spec.config)", source.path.display()),
            text,
        );
        match tree::parse(&inner) {
            Ok(docs) if !docs.is_empty() => {
                let mut ir = Reader::new(inner.clone());
                netconf(&mut ir, &mut notes, &mut networks, &docs[0], name);
                inner_diags.0.extend(ir.diags.0);
            }
            Ok(_) => r.error(
                config.span.clone(),
                "spec.config is empty",
                "put the macvlan netconf (JSON) in it",
            ),
            Err(e) => inner_diags.0.extend(e.0),
        }
    }
    r.diags.0.extend(inner_diags.0);
    r.diags.into_result(Imported {
        engine: Engine::Cni,
        format: "Multus NetworkAttachmentDefinitions",
        networks,
        notes,
    })
}

/// One netconf, or the macvlan plugin of a conflist, as the network `name`.
fn netconf(
    r: &mut Reader,
    notes: &mut Vec<String>,
    networks: &mut Vec<Network>,
    doc: &Node,
    name: &str,
) {
    let conf = match doc.get("plugins") {
        Some(plugins) => {
            for p in plugins.items() {
                if let Some(t) = p
                    .get("type")
                    .and_then(Node::as_scalar)
                    .filter(|t| *t != "macvlan")
                {
                    notes.push(format!("conflist `{name}`: plugin `{t}` is left out"));
                }
            }
            match plugins
                .items()
                .iter()
                .find(|p| p.get("type").and_then(Node::as_scalar) == Some("macvlan"))
            {
                Some(p) => p,
                None => {
                    r.error(
                        plugins.span.clone(),
                        format!("conflist `{name}` has no macvlan plugin"),
                        "mvlab imports CNI's macvlan plugin",
                    );
                    return;
                }
            }
        }
        None => doc,
    };
    if let Some(t) = conf
        .get("type")
        .filter(|t| t.as_scalar() != Some("macvlan"))
    {
        r.error(
            t.span.clone(),
            format!(
                "`{}` is not the macvlan plugin",
                t.as_scalar().unwrap_or("")
            ),
            "mvlab imports CNI's macvlan plugin",
        );
        return;
    }
    let text = |r: &mut Reader, key: &str| {
        conf.get(key)
            .and_then(|n| Some(At::new(r.string(n, key)?, n.span.clone())))
    };
    let parent = text(r, "master");
    let mode = text(r, "mode");
    if conf.get("mac").is_some() {
        notes.push(format!(
            "netconf `{name}`: its `mac` would go to every container; mvlab draws one per endpoint"
        ));
    }
    let Some(ipam) = conf.get("ipam") else {
        r.error(
            conf.span.clone(),
            format!("netconf `{name}` has no ipam"),
            "give it \"ipam\": {\"type\": \"host-local\", ...}",
        );
        return;
    };
    if let Some(t) = ipam
        .get("type")
        .filter(|t| t.as_scalar() != Some("host-local"))
    {
        r.error(
            t.span.clone(),
            format!("IPAM `{}` is not host-local", t.as_scalar().unwrap_or("")),
            "mvlab models host-local IPAM",
        );
        return;
    }
    let mut pools = Vec::new();
    if ipam.get("subnet").is_some() {
        pools.push(range(r, ipam));
    }
    let mut families = Vec::new();
    for set in ipam.get("ranges").map_or(&[][..], Node::items) {
        let set_pools: Vec<Pool> = set.items().iter().map(|n| range(r, n)).collect();
        let v6 = set_pools
            .first()
            .and_then(|p| p.subnet.as_ref())
            .is_some_and(|s| s.value.is_ipv6());
        if families.contains(&v6) {
            notes.push(format!("netconf `{name}`: a second range set of one family is left out (mvlab gives an endpoint one address per family)"));
            continue;
        }
        families.push(v6);
        pools.extend(set_pools);
    }
    let mut routes = Vec::new();
    for route in ipam.get("routes").map_or(&[][..], Node::items) {
        if let Some(dst) = route.get("dst") {
            routes.extend(
                r.parsed::<IpNetwork>(dst, "a route destination", "0.0.0.0/0")
                    .map(|d| At::new(d, dst.span.clone())),
            );
        }
        if route.get("gw").is_some() {
            notes.push(format!("netconf `{name}`: a route's own gw is left out; the range's gateway is the next hop"));
        }
    }
    networks.push(Network {
        name: node_name(name),
        parent,
        mode,
        internal: false,
        enable_ipv4: None,
        enable_ipv6: None,
        pools,
        routes,
        containers: Vec::new(),
        span: conf.span.clone(),
    });
}

/// One range (or the legacy top-level `subnet` of `ipam`).
fn range(r: &mut Reader, n: &Node) -> Pool {
    Pool {
        subnet: field(r, n, "subnet", "a subnet", "192.168.1.0/24"),
        gateway: field(r, n, "gateway", "a gateway address", "192.168.1.1"),
        range_start: field(r, n, "rangeStart", "an address", "192.168.1.100"),
        range_end: field(r, n, "rangeEnd", "an address", "192.168.1.200"),
        ..Pool::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read;

    #[test]
    fn a_netconf_and_a_conflist() {
        let text = r#"{"cniVersion":"1.0.0","name":"n1","type":"macvlan","master":"eth0.10","mode":"vepa",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.1.0.0/24","rangeStart":"10.1.0.10"}],[{"subnet":"fd00::/64"}]],
 "routes":[{"dst":"0.0.0.0/0"}]}}"#;
        let imported = read(&Source::new("n1.conf", text)).unwrap();
        let n = &imported.networks[0];
        assert_eq!(imported.engine, Engine::Cni);
        assert_eq!(n.parent.as_ref().unwrap().value, "eth0.10");
        assert_eq!(n.pools.len(), 2);
        assert_eq!(
            n.pools[0].range_start.as_ref().unwrap().value.to_string(),
            "10.1.0.10"
        );
        assert_eq!(n.routes[0].value.to_string(), "0.0.0.0/0");
        let list = r#"{"cniVersion":"1.0.0","name":"l","plugins":[{"type":"macvlan","master":"eth0","ipam":{"type":"host-local","subnet":"10.2.0.0/24"}},{"type":"tuning"}]}"#;
        let imported = read(&Source::new("l.conflist", list)).unwrap();
        assert_eq!(
            imported.networks[0].pools[0]
                .subnet
                .as_ref()
                .unwrap()
                .value
                .to_string(),
            "10.2.0.0/24"
        );
        assert!(imported.notes[0].contains("`tuning` is left out"));
    }

    #[test]
    fn a_network_attachment_definition_locates_errors_inside_its_config() {
        let text = "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: macnet\nspec:\n  config: |\n    {\"cniVersion\": \"0.3.1\", \"type\": \"macvlan\", \"master\": \"eth0\",\n     \"ipam\": {\"type\": \"host-local\", \"subnet\": \"10.3.0.0/33\"}}\n";
        let err = read(&Source::new("nad.yaml", text)).unwrap_err();
        let d = &err.0[0];
        let (file, line, _) = d.location().unwrap();
        let file = file.display().to_string();
        assert!(file.contains("nad.yaml (macnet spec.config)"), "{file}");
        assert_eq!(line, 2);
        let ok = text.replace("/33", "/24");
        let imported = read(&Source::new("nad.yaml", &ok)).unwrap();
        assert_eq!(imported.networks[0].name, "macnet");
    }
}
