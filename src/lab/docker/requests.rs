//! What a Docker lab asks the engine, as JSON in the words of the API version it speaks: a
//! macvlan network per scenario network (`POST /networks/create`) and a container per endpoint
//! (`POST /containers/create`), plus the temporary names of the links lent to the daemon. With
//! `[docker]` the requests hold exactly what the scenario wrote, so Docker's own IPAM and MAC
//! rules decide the rest; without it, every address and MAC is mvlab's and is asked for
//! explicitly. Pure: it builds values and sends nothing.

use serde_json::{Map, Value, json};

use super::LABEL;
use super::pause;
use crate::lab::LabName;
use crate::scenario::{Endpoint, Ipam, Network, Scenario};

/// The first API version whose endpoint settings carry the MAC address (Docker 25.0); before
/// it, only the container's `MacAddress` does.
const ENDPOINT_MAC_API: (u32, u32) = (1, 44);
/// The first API version that reads `EnableIPv4` (Docker 28.0).
const ENABLE_IPV4_API: (u32, u32) = (1, 48);

/// The name link number `i` of lab `name` has while lent to the daemon: `mvl` and eight hex
/// digits of the lab's namespace prefix, then `i` (15 characters at most).
pub fn lent_name(name: &LabName, i: usize) -> String {
    let id = name.netns("");
    let hash = id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("mvl{hash:08x}{i}")
}

/// `POST /networks/create` for network `n`, named `name`, on the lent link `parent`.
pub fn network(
    s: &Scenario,
    n: &Network,
    name: &str,
    parent: &str,
    label: &str,
    api: (u32, u32),
) -> Value {
    let (internal, ipv4, ipv6, config) = match &n.docker {
        Some(d) => (
            d.internal,
            d.enable_ipv4,
            d.enable_ipv6,
            d.ipam
                .iter()
                .map(|c| {
                    pool(
                        c.subnet.to_string(),
                        c.ip_range.map(|r| r.to_string()),
                        c.gateway.map(|g| g.to_string()),
                        c.aux_addresses
                            .iter()
                            .map(|(k, a)| (k.clone(), a.to_string())),
                    )
                })
                .collect(),
        ),
        None => {
            let mut config: Vec<Value> = std::iter::once(&n.ipv4)
                .chain(&n.more_ipv4)
                .map(mvlab_pool)
                .collect();
            config.extend(n.ipv6.iter().chain(&n.more_ipv6).map(mvlab_pool));
            (n.internal, true, n.ipv6.is_some(), config)
        }
    };
    let mut body = json!({
        "Name": name,
        "CheckDuplicate": true,
        "Driver": "macvlan",
        "Internal": internal,
        "EnableIPv6": ipv6,
        "IPAM": { "Driver": "default", "Config": config },
        "Options": { "parent": parent, "macvlan_mode": n.mode.as_str() },
        "Labels": { LABEL: label, "org.mvlab.scenario": s.name },
    });
    if !ipv4 && api >= ENABLE_IPV4_API {
        body["EnableIPv4"] = json!(false);
    }
    body
}

/// One `IPAM.Config` entry of mvlab's own pool.
fn mvlab_pool<N, A>(p: &Ipam<N, A>) -> Value
where
    N: ToString + PartialEq,
    A: ToString,
{
    pool(
        p.subnet.to_string(),
        (p.ip_range != p.subnet).then(|| p.ip_range.to_string()),
        p.gateway.as_ref().map(ToString::to_string),
        p.aux_addresses
            .iter()
            .map(|(k, a)| (k.clone(), a.to_string())),
    )
}

fn pool(
    subnet: String,
    range: Option<String>,
    gateway: Option<String>,
    aux: impl Iterator<Item = (String, String)>,
) -> Value {
    let mut entry = Map::new();
    entry.insert("Subnet".into(), json!(subnet));
    if let Some(r) = range {
        entry.insert("IPRange".into(), json!(r));
    }
    if let Some(g) = gateway {
        entry.insert("Gateway".into(), json!(g));
    }
    let aux: Map<String, Value> = aux.map(|(k, a)| (k, json!(a))).collect();
    if !aux.is_empty() {
        entry.insert("AuxiliaryAddresses".into(), Value::Object(aux));
    }
    Value::Object(entry)
}

/// `POST /containers/create` for endpoint `e` on the Docker network `network`: mvlab's pause
/// image, no capabilities, a read-only root, nothing but its network. Where the engine
/// confines containers with AppArmor, the container runs unconfined: the profile needs a
/// loader a lab machine may lack, and the program inside makes one system call.
pub fn container(
    s: &Scenario,
    e: &Endpoint,
    network: &str,
    label: &str,
    api: (u32, u32),
    apparmor: bool,
) -> Value {
    let (ipv4, ipv6, mac) = match &e.docker {
        Some(r) => (r.ipv4_address, r.ipv6_address, r.mac_address),
        None => (e.ipv4, e.ipv6, Some(e.mac)),
    };
    let mut ipam = Map::new();
    if let Some(a) = ipv4 {
        ipam.insert("IPv4Address".into(), json!(a.to_string()));
    }
    if let Some(a) = ipv6 {
        ipam.insert("IPv6Address".into(), json!(a.to_string()));
    }
    let mut endpoint = json!({ "IPAMConfig": ipam });
    let mut security = vec!["no-new-privileges"];
    if apparmor {
        security.push("apparmor=unconfined");
    }
    let mut body = json!({
        "Image": pause::IMAGE,
        "Cmd": [pause::COMMAND],
        "Labels": { LABEL: label, "org.mvlab.scenario": s.name, "org.mvlab.endpoint": e.name },
        "HostConfig": {
            "NetworkMode": network,
            "CapDrop": ["ALL"],
            "ReadonlyRootfs": true,
            "SecurityOpt": security,
        },
    });
    if let Some(mac) = mac {
        if api >= ENDPOINT_MAC_API {
            endpoint["MacAddress"] = json!(mac.to_string());
        } else {
            body["MacAddress"] = json!(mac.to_string());
        }
    }
    body["NetworkingConfig"] = json!({ "EndpointsConfig": { network: endpoint } });
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::scenario::parse;

    fn parse_str(text: &str, file: &str) -> Result<Scenario, crate::diag::Diagnostics> {
        parse(Source::new(file, text))
    }

    const DOCKER_20: &str = r#"
[docker]
version = "20.10"
[[networks]]
name = "n"
mode = "vepa"
subnet = "198.18.5.0/24"
ip_range = "198.18.5.128/25"
aux_addresses = { router = "198.18.5.2" }
[[networks.endpoints]]
name = "e1"
mac = "02:00:00:00:00:09"
[[networks.endpoints]]
name = "e2"
"#;

    fn name() -> LabName {
        LabName::new("mvlab", "t").unwrap()
    }

    #[test]
    fn with_docker_rules_only_what_the_scenario_wrote_is_asked() {
        let s = parse_str(DOCKER_20, "t.toml").unwrap();
        let net = network(&s, &s.networks[0], "mvlab-t-n", "mvl0", "mvlab-t", (1, 41));
        assert_eq!(
            net["Options"],
            json!({ "parent": "mvl0", "macvlan_mode": "vepa" })
        );
        assert_eq!(
            net["IPAM"]["Config"],
            json!([{ "Subnet": "198.18.5.0/24", "IPRange": "198.18.5.128/25",
                     "AuxiliaryAddresses": { "router": "198.18.5.2" } }])
        );
        assert!(net.get("EnableIPv4").is_none());
        let e1 = container(&s, &s.endpoints[0], "mvlab-t-n", "mvlab-t", (1, 41), false);
        // API 1.41 reads the MAC from the container, not the endpoint.
        assert_eq!(e1["MacAddress"], json!("02:00:00:00:00:09"));
        assert_eq!(
            e1["NetworkingConfig"]["EndpointsConfig"]["mvlab-t-n"],
            json!({ "IPAMConfig": {} })
        );
        let e2 = container(&s, &s.endpoints[1], "mvlab-t-n", "mvlab-t", (1, 44), true);
        assert!(e2.get("MacAddress").is_none());
        assert_eq!(
            e2["HostConfig"]["SecurityOpt"],
            json!(["no-new-privileges", "apparmor=unconfined"])
        );
    }

    #[test]
    fn with_mvlab_rules_every_address_and_mac_is_asked_for() {
        let s = parse_str(
            "[[networks]]\nname = \"n\"\nmode = \"bridge\"\nsubnet = \"198.18.7.0/24\"\n[[networks.endpoints]]\nname = \"e1\"\n",
            "t.toml",
        )
        .unwrap();
        let e = &s.endpoints[0];
        let body = container(&s, e, "mvlab-t-n", "mvlab-t", (1, 47), false);
        let endpoint = &body["NetworkingConfig"]["EndpointsConfig"]["mvlab-t-n"];
        assert_eq!(endpoint["MacAddress"], json!(e.mac.to_string()));
        assert_eq!(
            endpoint["IPAMConfig"]["IPv4Address"],
            json!(e.ipv4.unwrap().to_string())
        );
        let net = network(&s, &s.networks[0], "mvlab-t-n", "mvl0", "mvlab-t", (1, 47));
        assert_eq!(net["IPAM"]["Config"][0]["Subnet"], json!("198.18.7.0/24"));
    }

    #[test]
    fn lent_names_fit_an_interface_name_and_differ_per_lab() {
        let a = lent_name(&name(), 12);
        let b = lent_name(&LabName::new("mvlab", "u").unwrap(), 12);
        assert!(a.len() <= 15, "{a}");
        assert_ne!(a, b);
    }
}
