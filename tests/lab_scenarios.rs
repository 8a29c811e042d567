//! Every example scenario brought up for real and checked by independent means: `ip -j -d` for
//! MACs, addresses, routes, macvlan modes, bridge and port settings and the lab's link marks;
//! `ping` for who reaches whom, as KERNEL.md's table says for each mode and hairpin setting;
//! `bridge fdb` for the learned-entry limit. Needs root; fails without it.

mod lab_support;

use lab_support::*;
use mvlab::lab::Lab;
use mvlab::lab::probe::{self, Feature};
use mvlab::scenario::{MacvlanMode, Port, Scenario, Switch};
use serde_json::Value;

/// Checks every kernel object of `lab` against the scenario (not against the lab's inventory).
fn check_objects(lab: &Lab, s: &Scenario) {
    let name = lab.name();
    let alias = format!("mvlab:{name}");
    let marked = |l: &Value, what: &str| {
        assert_eq!(l["ifalias"], alias.as_str(), "{what} is not marked: {l}");
        let flags = l["flags"].as_array().unwrap();
        assert!(flags.iter().any(|f| f == "UP"), "{what} is down: {l}");
    };
    for e in &s.endpoints {
        let ns = netns(name, &e.name);
        let net = &s.networks[e.network];
        let l = link(&ns, &e.interface);
        marked(&l, &e.name);
        assert_eq!(l["address"], e.mac.to_string().as_str(), "{} MAC", e.name);
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], net.mode.as_str());
        if net.mode == MacvlanMode::Source {
            let listed: Vec<String> = l["linkinfo"]["info_data"]["macaddr_data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect();
            let wanted: Vec<String> = e.source_macs.iter().map(|m| m.to_string()).collect();
            assert_eq!(listed, wanted, "{} source MACs", e.name);
        }
        let mut wanted = vec![format!("{}/{}", e.ipv4.unwrap(), net.ipv4.subnet.prefix())];
        if let (Some(ip), Some(ipam)) = (e.ipv6, &net.ipv6) {
            wanted.push(format!("{ip}/{}", ipam.subnet.prefix()));
        }
        assert_eq!(addresses(&ns, &e.interface), wanted);
        let routes = ip_json(Some(&ns), &["route"]);
        assert!(
            routes
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["dst"] == "default"
                    && r["gateway"] == net.ipv4.gateway.unwrap().to_string().as_str()),
            "{} has no default route via the gateway: {routes}",
            e.name
        );
        let lo = link(&ns, "lo");
        assert!(lo["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
        assert_eq!(
            ipv6_disabled(&ns),
            net.ipv6.is_none(),
            "{}: IPv6 is off exactly when the network has no IPv6 subnet",
            e.name
        );
    }
    for p in &s.peers {
        let ns = netns(name, &p.name);
        let net = &s.networks[p.network];
        let l = link(&ns, &p.interface);
        marked(&l, &p.name);
        assert_eq!(l["address"], p.mac.to_string().as_str());
        let addressed = match net.vlan {
            Some(vid) => format!("{}.{vid}", p.interface),
            None => p.interface.clone(),
        };
        let mut wanted = vec![format!("{}/{}", p.ipv4, net.ipv4.subnet.prefix())];
        if let (Some(ip), Some(ipam)) = (p.ipv6, &net.ipv6) {
            wanted.push(format!("{ip}/{}", ipam.subnet.prefix()));
        }
        assert_eq!(addresses(&ns, &addressed), wanted);
    }
    let host = netns(name, "host");
    for (i, parent) in s.parents.iter().enumerate() {
        let l = link(&host, &parent.name);
        marked(&l, &parent.name);
        // A passthru macvlan takes its lower device's MAC, so the lab gives the parent the
        // endpoint's MAC (and the endpoint keeps the MAC the scenario gives it).
        let passthru = s
            .networks
            .iter()
            .position(|n| n.parent == i && n.vlan.is_none() && n.mode == MacvlanMode::Passthru);
        let mac = match passthru.and_then(|n| s.endpoints.iter().find(|e| e.network == n)) {
            Some(e) => e.mac,
            None => parent.mac,
        };
        assert_eq!(
            l["address"],
            mac.to_string().as_str(),
            "{} MAC",
            parent.name
        );
        assert_eq!(l["mtu"], parent.mtu);
    }
    if let Switch::Bridge(b) = &s.switch {
        let switch = netns(name, "switch");
        let br = link(&switch, &b.name);
        marked(&br, &b.name);
        assert_eq!(br["linkinfo"]["info_kind"], "bridge");
        let data = &br["linkinfo"]["info_data"];
        assert_eq!(data["ageing_time"], u64::from(b.ageing_time) * 100);
        assert_eq!(data["mcast_snooping"], u64::from(b.multicast_snooping));
        let ports: Vec<&Port> = s
            .parents
            .iter()
            .map(|p| &p.port)
            .chain(s.peers.iter().map(|p| &p.port))
            .collect();
        for port in ports {
            let l = link(&switch, &port.name);
            marked(&l, &port.name);
            assert_eq!(l["master"], b.name.as_str(), "port {}", port.name);
            let flags = &l["linkinfo"]["info_slave_data"];
            assert_eq!(flags["hairpin"], port.hairpin, "{} hairpin", port.name);
            assert_eq!(flags["learning"], port.learning);
            assert_eq!(flags["flood"], port.unicast_flood);
            assert_eq!(flags["mcast_flood"], port.multicast_flood);
            assert_eq!(flags["bcast_flood"], port.broadcast_flood);
        }
    }
}

/// `net.ipv6.conf.all.disable_ipv6` inside `ns`.
fn ipv6_disabled(ns: &str) -> bool {
    let out = run(std::process::Command::new("ip").args([
        "netns",
        "exec",
        ns,
        "cat",
        "/proc/sys/net/ipv6/conf/all/disable_ipv6",
    ]));
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim() == "1"
}

/// Pings from endpoint `from` to `to`'s address (an endpoint or a peer) in `lab`.
fn reaches(lab: &Lab, s: &Scenario, from: &str, to: &str) -> bool {
    let ip = s
        .endpoint(to)
        .map(|e| e.ipv4.unwrap())
        .or_else(|| s.peer(to).map(|p| p.ipv4))
        .unwrap_or_else(|| panic!("no node {to}"));
    ping(&netns(lab.name(), from), &ip.to_string())
}

/// Brings the example up, checks its objects and the reachability KERNEL.md gives for it, tears
/// it down and checks nothing is left.
fn example(file: &str, siblings_reach: bool) {
    let s = load(file);
    let lab = up(&s, file);
    let name = lab.name().to_string();
    check_objects(&lab, &s);
    assert!(reaches(&lab, &s, "e1", "peer"), "{file}: e1 -> peer");
    assert_eq!(
        reaches(&lab, &s, "e1", "e2"),
        siblings_reach,
        "{file}: e1 -> e2"
    );
    lab.down().expect("lab down");
    assert_gone(&name);
}

#[test]
fn bridge_siblings_and_peer_reach() {
    example("bridge", true);
}

#[test]
fn vepa_without_hairpin_isolates_siblings() {
    example("vepa", false);
}

#[test]
fn vepa_with_hairpin_reaches_siblings_through_the_switch() {
    example("vepa-hairpin", true);
}

#[test]
fn private_isolates_siblings() {
    example("private", false);
}

#[test]
fn private_isolates_siblings_even_with_hairpin() {
    example("private-hairpin", false);
}

#[test]
fn source_mode_accepts_the_listed_peer_only() {
    example("source", false);
}

#[test]
fn passthru_endpoint_owns_the_parent_and_reaches_the_peer() {
    let s = load("passthru");
    let lab = up(&s, "passthru");
    check_objects(&lab, &s);
    assert!(reaches(&lab, &s, "e1", "peer"));
    let name = lab.name().to_string();
    drop(lab);
    assert_gone(&name);
}

#[test]
fn host_reaches_its_endpoints_only_through_the_shim() {
    let s = load("host-shim");
    let lab = up(&s, "shim");
    check_objects(&lab, &s);
    let host = netns(lab.name(), "host");
    let shim = s.host.shim.as_ref().unwrap();
    let net = &s.networks[shim.network];
    let l = link(&host, &shim.interface);
    assert_eq!(l["linkinfo"]["info_data"]["mode"], "bridge");
    assert_eq!(
        addresses(&host, &shim.interface),
        [format!("{}/32", shim.ipv4)]
    );
    let host_ip = s.host.addresses[0].ipv4.unwrap();
    assert_eq!(
        addresses(&host, &s.parents[0].name),
        [format!("{host_ip}/{}", net.ipv4.subnet.prefix())]
    );
    let e1 = s.endpoint("e1").unwrap().ipv4.unwrap().to_string();
    assert!(ping(&host, &e1), "host -> e1 through the shim");
    let range = net.ipv4.ip_range.to_string();
    let del = run(std::process::Command::new("ip").args([
        "-n",
        &host,
        "route",
        "del",
        &range,
        "dev",
        &shim.interface,
    ]));
    assert!(del.status.success());
    assert!(
        !ping(&host, &e1),
        "without the shim route, the parent cannot reach its own macvlans"
    );
    let add = run(std::process::Command::new("ip").args([
        "-n",
        &host,
        "route",
        "add",
        &range,
        "dev",
        &shim.interface,
    ]));
    assert!(add.status.success());
    assert!(ping(&host, &e1), "host -> e1 again with the shim route");
    lab.down().unwrap();
}

#[test]
fn default_scenario_shows_every_mode_side_by_side() {
    let s = mvlab::scenario::default_scenario();
    let lab = up(&s, "default");
    check_objects(&lab, &s);
    assert!(reaches(&lab, &s, "br1", "br2"), "bridge siblings");
    assert!(
        !reaches(&lab, &s, "ve1", "ve2"),
        "vepa siblings, no hairpin"
    );
    assert!(!reaches(&lab, &s, "pr1", "pr2"), "private siblings");
    assert!(reaches(&lab, &s, "br1", "peer"), "bridge endpoint -> peer");
    lab.down().unwrap();
}

#[test]
fn scale_1000_lab_comes_up_and_goes_down() {
    let s = load("scale-1000");
    let lab = up(&s, "scale");
    let name = lab.name().to_string();
    assert_eq!(
        namespaces_with(&format!("mvlab-{name}-")).len(),
        s.endpoints.len() + 3
    );
    for e in [
        &s.endpoints[0],
        &s.endpoints[499],
        s.endpoints.last().unwrap(),
    ] {
        let ns = netns(&name, &e.name);
        assert_eq!(
            link(&ns, &e.interface)["address"],
            e.mac.to_string().as_str()
        );
        assert_eq!(addresses(&ns, &e.interface).len(), 1);
    }
    let last = &s.endpoints.last().unwrap().name;
    assert!(reaches(&lab, &s, "e1", last));
    assert!(reaches(&lab, &s, last, "peer"));
    lab.down().unwrap();
    assert_gone(&name);
}

#[test]
fn vlan_trunk_is_refused_naming_8021q_or_built_where_the_kernel_has_it() {
    require_root();
    let has_8021q = probe::probe(&[Feature::Vlan])[0].available;
    let name = unique("trunk");
    let out = run(mvlab()
        .args(["lab", "up", "--name", &name])
        .arg(scenario_path("vlan-trunk")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if has_8021q {
        assert!(out.status.success(), "{stderr}");
        let s = load("vlan-trunk");
        let host = netns(&name, "host");
        for net in &s.networks {
            let sub = link(&host, &net.link);
            assert_eq!(sub["linkinfo"]["info_kind"], "vlan");
            assert_eq!(sub["linkinfo"]["info_data"]["id"], net.vlan.unwrap());
        }
        assert!(ping(
            &netns(&name, "a1"),
            &s.peer("peer10").unwrap().ipv4.to_string()
        ));
        assert!(run(mvlab().args(["lab", "down", &name])).status.success());
    } else {
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("8021q"),
            "the error names the feature: {stderr}"
        );
        assert!(
            stderr.contains("vlan-trunk.toml:"),
            "and the line asking for it: {stderr}"
        );
    }
    assert_gone(&name);
}

#[test]
fn fdb_max_learned_caps_what_the_bridge_learns() {
    let mut s = load("bridge");
    let Switch::Bridge(b) = &mut s.switch else {
        unreachable!("bridge.toml has a bridge")
    };
    b.fdb_max_learned = Some(2);
    if refused_here(&s, "fdbmax") {
        return;
    }
    let lab = up(&s, "fdbmax");
    let switch = netns(lab.name(), "switch");
    assert!(reaches(&lab, &s, "e1", "peer"));
    assert!(reaches(&lab, &s, "e2", "peer"));
    let fdb = ip_json_bridge_fdb(&switch);
    let learned = fdb
        .iter()
        .filter(|e| {
            !e["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == "self"))
                && e["state"] != "permanent"
        })
        .count();
    assert_eq!(learned, 2, "three MACs talked, two were learned: {fdb:?}");
    let state = lab.link_state("switch", "br0").unwrap();
    assert_eq!(state.fdb_max_learned, Some(2));
    assert_eq!(state.fdb_learned, Some(2));
    lab.down().unwrap();
}

fn ip_json_bridge_fdb(ns: &str) -> Vec<Value> {
    let out = run(
        std::process::Command::new("bridge").args(["-n", ns, "-j", "fdb", "show", "br", "br0"])
    );
    assert!(out.status.success());
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn link_state_reads_promiscuity_and_counters() {
    let s = load("bridge");
    let lab = up(&s, "state");
    assert!(reaches(&lab, &s, "e1", "peer"));
    let e1 = lab.link_state("e1", "eth0").unwrap();
    assert!(e1.up);
    assert!(e1.tx_packets >= 2 && e1.rx_packets >= 2, "{e1:?}");
    assert_eq!(e1.macvlan_mode, Some(MacvlanMode::Bridge));
    let independent = link(&netns(lab.name(), "host"), "eth0");
    let parent = lab.link_state("host", "eth0").unwrap();
    assert_eq!(
        u64::from(parent.promiscuity),
        independent["promiscuity"].as_u64().unwrap()
    );
    lab.down().unwrap();
}

#[test]
fn a_persisted_lab_outlives_its_value_and_is_attached_by_name() {
    let s = load("bridge");
    let mut lab = up(&s, "attach");
    let name = lab.name().to_string();
    lab.persist().unwrap();
    let e1_id = lab.node("e1").unwrap().netns.id().unwrap();
    drop(lab);
    let e2 = s.endpoint("e2").unwrap().ipv4.unwrap().to_string();
    assert!(
        ping(&netns(&name, "e1"), &e2),
        "still up after the value is gone"
    );

    let attached = Lab::attach(&name, "mvlab").unwrap();
    assert_eq!(attached.prefix(), "mvlab");
    let listed: Vec<&str> = attached
        .nodes()
        .map(|n| n.inventory.name.as_str())
        .collect();
    assert_eq!(listed, ["host", "switch", "e1", "e2", "peer"]);
    for node in attached.nodes() {
        assert_eq!(
            node.netns.id().unwrap(),
            mvlab::netns::Netns::open(&node.inventory.netns)
                .unwrap()
                .id()
                .unwrap(),
            "{} holds its own namespace",
            node.inventory.name
        );
    }
    let e1 = attached.node("e1").unwrap();
    assert_eq!(e1.netns.id().unwrap(), e1_id);
    let inside = e1
        .netns
        .run(|| mvlab::netns::Netns::current().unwrap().id().unwrap())
        .unwrap();
    assert_eq!(inside, e1_id, "work runs inside the node's namespace");
    assert_eq!(
        e1.inventory.interfaces[0].mac,
        s.endpoint("e1").unwrap().mac
    );
    assert!(attached.link_state("e1", "eth0").unwrap().up);
    drop(attached);
    assert!(
        ping(&netns(&name, "e1"), &e2),
        "dropping an attached lab leaves it up"
    );

    Lab::attach(&name, "mvlab").unwrap().down().unwrap();
    assert_gone(&name);
    assert!(matches!(
        Lab::attach(&name, "mvlab"),
        Err(mvlab::lab::LabError::Unknown { .. })
    ));
}

#[test]
fn ipv6_networks_get_addresses_and_default_routes() {
    let text = r#"
[[networks]]
subnet = "198.18.0.0/24"
subnet6 = "2001:2:0:1::/64"
[[networks.endpoints]]
count = 2
[[peers]]
name = "peer"
"#;
    let s = mvlab::scenario::parse(mvlab::diag::Source::new("v6.toml", text)).unwrap();
    let lab = up(&s, "v6");
    check_objects(&lab, &s);
    let e1 = netns(lab.name(), "e1");
    let gateway = s.networks[0]
        .ipv6
        .as_ref()
        .unwrap()
        .gateway
        .unwrap()
        .to_string();
    let routes = ip_json(Some(&e1), &["-6", "route"]);
    assert!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["dst"] == "default" && r["gateway"] == gateway.as_str()),
        "{routes}"
    );
    for to in [s.endpoint("e2").unwrap().ipv6, s.peer("peer").unwrap().ipv6] {
        assert!(ping(&e1, &to.unwrap().to_string()), "ping6 e1 -> {to:?}");
    }
    lab.down().unwrap();
}
