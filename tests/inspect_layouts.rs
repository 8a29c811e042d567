//! `mvlab inspect` on layouts built with plain `ip` scripts (every macvlan mode on one bridge,
//! a shim, a VLAN sub-interface where the kernel has 8021q) and with Debian's CNI macvlan plugin
//! invoked by hand: what it finds is held to `ip -d -j link`, what it predicts to pings and
//! captures; and it changes nothing (links, addresses, counters and the namespace list are the
//! same before and after, and a capture sees no frame from it).

mod exhaust_support;
mod inspect_support;

use std::process::Command;

use exhaust_support::Tcpdump;
use inspect_support::{Layout, predicted};
use serde_json::Value;

fn ip_json(ns: &str, args: &str) -> Value {
    let out = Command::new("sh")
        .args(["-c", &format!("ip -j -d -n {ns} {args}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every mode on one Linux bridge: bridge (b1, b2, and the host's shim), vepa (v1, v2, port
/// hairpin off), private (r1, r2, port hairpin on), passthru (t1), a peer on the bridge subnet.
fn every_mode() -> Layout {
    let mut l = Layout::new("modes");
    l.add(&["h", "s", "p", "b1", "b2", "v1", "v2", "r1", "r2", "t1"]);
    l.sh(r#"
ip -n $P-s link add br0 type bridge; ip -n $P-s link set br0 up
for x in br ve pr pt; do
  ip -n $P-s link add p$x type veth peer name u$x netns $P-h
  ip -n $P-s link set p$x master br0; ip -n $P-s link set p$x up; ip -n $P-h link set u$x up
done
ip -n $P-s link add pp type veth peer name eth0 netns $P-p
ip -n $P-s link set pp master br0; ip -n $P-s link set pp up; ip -n $P-p link set eth0 up
ip -n $P-s link set ppr type bridge_slave hairpin on
ip -n $P-p addr add 198.18.10.200/24 dev eth0
ip -n $P-h addr add 198.18.10.1/24 dev ubr
mk() { # node parent mode address
  ip -n $P-h link add tmp$1 link $2 netns $P-$1 type macvlan mode $3
  ip -n $P-$1 link set tmp$1 name eth0; ip -n $P-$1 addr add $4/24 dev eth0; ip -n $P-$1 link set eth0 up
}
mk b1 ubr bridge 198.18.10.10; mk b2 ubr bridge 198.18.10.11
mk v1 uve vepa 198.18.11.10; mk v2 uve vepa 198.18.11.11
mk r1 upr private 198.18.12.10; mk r2 upr private 198.18.12.11
mk t1 upt passthru 198.18.13.10
ip -n $P-h link add shim link ubr type macvlan mode bridge
ip -n $P-h addr add 198.18.10.250/32 dev shim; ip -n $P-h link set shim up
ip -n $P-h route add 198.18.10.8/29 dev shim
"#);
    l
}

#[test]
fn every_mode_is_found_as_ip_shows_it_and_predicted_as_pings_see_it() {
    let l = every_mode();
    let i = l.inspect();
    let name = |node: &str| format!("{}:eth0", l.ns(node));
    // Found: the mode, parent and MAC of every endpoint, as `ip -d -j link` says.
    for (node, parent) in [
        ("b1", "ubr"),
        ("b2", "ubr"),
        ("v1", "uve"),
        ("v2", "uve"),
        ("r1", "upr"),
        ("r2", "upr"),
        ("t1", "upt"),
    ] {
        let ip = &ip_json(&l.ns(node), "link show dev eth0")[0];
        let found = i
            .links
            .iter()
            .find(|x| x.netns == l.ns(node) && x.name == "eth0")
            .unwrap_or_else(|| panic!("inspect did not find {node}"));
        assert_eq!(found.kind, "macvlan");
        assert_eq!(
            found.mode.as_deref(),
            ip["linkinfo"]["info_data"]["mode"].as_str(),
            "{node}"
        );
        assert_eq!(
            found.mac.map(|m| m.to_string()).as_deref(),
            ip["address"].as_str(),
            "{node}"
        );
        let p = found.parent.as_ref().expect("a parent");
        assert_eq!(
            (p.netns.as_str(), p.name.as_str()),
            (l.ns("h").as_str(), parent),
            "{node}"
        );
    }
    for parent in ["ubr", "upt"] {
        let ip = &ip_json(&l.ns("h"), &format!("link show dev {parent}"))[0];
        let found = i
            .links
            .iter()
            .find(|x| x.netns == l.ns("h") && x.name == parent)
            .unwrap();
        assert_eq!(
            Some(u64::from(found.promiscuity)),
            ip["promiscuity"].as_u64(),
            "{parent}"
        );
    }
    // Predicted, then pinged.
    let host = format!("{}:ubr", l.ns("h"));
    let shim = format!("{}:shim", l.ns("h"));
    // (from, to, the pinging node, the interface it pings out of, the address)
    let pairs = [
        (name("b1"), name("b2"), "b1", None, "198.18.10.11"),
        (name("v1"), name("v2"), "v1", None, "198.18.11.11"),
        (name("r1"), name("r2"), "r1", None, "198.18.12.11"),
        (name("b1"), name("p"), "b1", None, "198.18.10.200"),
        (host.clone(), name("b1"), "h", Some("ubr"), "198.18.10.10"),
        (shim.clone(), name("b2"), "h", Some("shim"), "198.18.10.11"),
        (name("p"), name("b2"), "p", None, "198.18.10.11"),
    ];
    let mut mismatches = Vec::new();
    for (from, to, node, dev, ip) in &pairs {
        let p = predicted(&i, from, to, "ipv4");
        let pinged = l.ping_via(node, *dev, ip);
        if p != pinged {
            mismatches.push(format!("{from} -> {to}: predicted {p}, ping {pinged}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:?}");
    assert!(
        predicted(&i, &name("b1"), &name("b2"), "ipv4"),
        "bridge siblings reach each other"
    );
    assert!(
        !predicted(&i, &host, &name("b1"), "ipv4"),
        "the host does not reach its endpoints"
    );
    let kinds: Vec<&str> = i.warnings.iter().map(|w| w.kind.as_str()).collect();
    for k in [
        "shim-present",
        "vepa-needs-hairpin",
        "private-gets-unicast",
        "passthru",
        "promiscuous-parent",
    ] {
        assert!(kinds.contains(&k), "{k} not in {kinds:?}");
    }
}

#[test]
fn private_siblings_behind_a_hairpin_get_raw_unicast_as_predicted() {
    let l = every_mode();
    let i = l.inspect();
    let (r1, r2) = (
        format!("{}:eth0", l.ns("r1")),
        format!("{}:eth0", l.ns("r2")),
    );
    assert!(
        predicted(&i, &r1, &r2, "unicast"),
        "the model says the hairpin brings r1's unicast to r2"
    );
    assert!(
        !predicted(&i, &r1, &r2, "broadcast"),
        "and drops its broadcast"
    );
    // The capture: r1 sends unicast to r2's MAC (no ARP: static neighbour entries both ways).
    let mac = |node: &str| {
        ip_json(&l.ns(node), "link show dev eth0")[0]["address"]
            .as_str()
            .unwrap()
            .to_string()
    };
    l.sh(&format!(
        "ip -n $P-r1 neigh add 198.18.12.11 lladdr {} dev eth0\nip -n $P-r2 neigh add 198.18.12.10 lladdr {} dev eth0",
        mac("r2"),
        mac("r1")
    ));
    let dir = std::env::temp_dir().join(format!("{}-cap", l.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = Tcpdump::start(
        &l.ns("r2"),
        "eth0",
        "icmp and src 198.18.12.10",
        &dir.join("r2.pcap"),
    );
    let pinged = l.ping("r1", "198.18.12.11");
    let seen = cap.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(seen.received_by_filter > 0, "r2 saw none of r1's unicast");
    assert!(
        pinged,
        "with static neighbours, private siblings behind a hairpin ping each other"
    );
}

/// Removes the bridge's running timers (`gc_timer`, `hello_timer`, ...), which tick by
/// themselves, from `ip -d` output.
fn drop_timers(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.ends_with("_timer"));
            map.values_mut().for_each(drop_timers);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_timers),
        _ => {}
    }
}

#[test]
fn inspect_changes_nothing_and_sends_nothing() {
    let l = every_mode();
    // The bridge device's own IPv4 stack sends an IGMP report now and then; without multicast
    // on the bridge device the layout is silent (forwarding is the ports' business).
    l.sh("ip -n $P-s link set br0 multicast off");
    let nodes = ["h", "s", "p", "b1", "b2", "v1", "v2", "r1", "r2", "t1"];
    let snapshot = || -> Vec<String> {
        // The namespaces of this layout (the other tests of this file make and remove their own
        // meanwhile).
        let mut out = vec![
            String::from_utf8_lossy(
                &Command::new("ip")
                    .args(["netns", "list"])
                    .output()
                    .unwrap()
                    .stdout,
            )
            .lines()
            .filter(|n| n.starts_with(&format!("{}-", l.prefix)))
            .collect::<Vec<_>>()
            .join("\n"),
        ];
        for n in nodes {
            for what in ["-s link show", "addr show", "route show"] {
                let mut v = ip_json(&l.ns(n), what);
                drop_timers(&mut v);
                out.push(v.to_string());
            }
        }
        out
    };
    // The layout's own start-up frames (a neighbour's first packets) settle first: the state
    // inspect starts from is one that stayed the same for a second.
    let mut before = snapshot();
    for _ in 0..30 {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let again = snapshot();
        if again == before {
            break;
        }
        before = again;
    }
    let dir = std::env::temp_dir().join(format!("{}-cap", l.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let caps = [("h", "any"), ("p", "eth0"), ("s", "any")]
        .map(|(n, i)| Tcpdump::start(&l.ns(n), i, "", &dir.join(format!("{n}.pcap"))));
    let out = Command::new(env!("CARGO_BIN_EXE_mvlab"))
        .args(["inspect", "--netns", &format!("{}-*", l.prefix), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Vec<u64> = caps
        .into_iter()
        .map(|c| c.stop().received_by_filter)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let after = snapshot();
    assert_eq!(seen, vec![0, 0, 0], "frames seen while inspect ran");
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a);
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["links", "namespaces", "reach", "warnings"]);
    let link = json["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "macvlan")
        .unwrap();
    let mut fields: Vec<&str> = link
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "ipv4",
            "ipv6",
            "kind",
            "mac",
            "mode",
            "name",
            "netns",
            "parent",
            "promiscuity"
        ]
    );
}

#[test]
fn a_vlan_sub_interface_is_followed_to_its_parent_where_the_kernel_has_8021q() {
    let mut l = Layout::new("vlan");
    l.add(&["h", "p", "e1", "e2"]);
    l.sh("ip -n $P-h link add up0 type veth peer name eth0 netns $P-p\nip -n $P-h link set up0 up\nip -n $P-p link set eth0 up");
    let made = Command::new("ip")
        .args([
            "-n",
            &l.ns("h"),
            "link",
            "add",
            "link",
            "up0",
            "name",
            "up0.10",
            "type",
            "vlan",
            "id",
            "10",
        ])
        .output()
        .unwrap();
    if !made.status.success() {
        // This kernel has no 8021q (the kernel matrix runs this on Debian's, which do): the
        // refusal is the kernel's, as mvlab's own probe finds.
        use mvlab::lab::probe::{Feature, probe};
        let vlan = probe(&[Feature::Vlan]).remove(0);
        assert!(
            !vlan.available,
            "ip refused a vlan link ({}) but mvlab's probe finds 8021q: {vlan:?}",
            String::from_utf8_lossy(&made.stderr)
        );
        return;
    }
    l.sh(r#"
ip -n $P-h link set up0.10 up
ip -n $P-p link add link eth0 name eth0.10 type vlan id 10; ip -n $P-p link set eth0.10 up
ip -n $P-p addr add 198.18.20.200/24 dev eth0.10
for e in e1 e2; do
  ip -n $P-h link add tmp$e link up0.10 netns $P-$e type macvlan mode bridge
  ip -n $P-$e link set tmp$e name eth0; ip -n $P-$e link set eth0 up
done
ip -n $P-e1 addr add 198.18.20.10/24 dev eth0; ip -n $P-e2 addr add 198.18.20.11/24 dev eth0
"#);
    let i = l.inspect();
    let r = &i.scenarios[0];
    let s = r
        .scenario
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}\n{}", r.text));
    assert_eq!(s.networks.len(), 1);
    assert_eq!(s.networks[0].vlan, Some(10));
    assert_eq!(s.parents[0].name, "up0");
    // The siblings on the sub-interface: the model's answer against a real ping. (The peer's
    // own eth0.10 is a tagged station, which a scenario cannot describe: inspect models the
    // peer as the untagged far end of the wire, eth0, which has no address.)
    let e1 = format!("{}:eth0", l.ns("e1"));
    let e2 = format!("{}:eth0", l.ns("e2"));
    assert!(predicted(&i, &e1, &e2, "ipv4"));
    assert!(l.ping("e1", "198.18.20.11"));
}

#[test]
fn a_cni_macvlan_plugin_layout_is_found_and_predicted() {
    let mut l = Layout::new("cni");
    l.add(&["h", "p", "c1", "c2"]);
    l.sh(r#"
ip -n $P-h link add up0 type veth peer name eth0 netns $P-p
ip -n $P-h link set up0 up; ip -n $P-p link set eth0 up
ip -n $P-p addr add 198.18.71.200/24 dev eth0
ip -n $P-h addr add 198.18.71.254/24 dev up0
"#);
    let data = std::env::temp_dir().join(format!("{}-ipam", l.prefix));
    for c in ["c1", "c2"] {
        let conf = format!(
            r#"{{"cniVersion":"0.4.0","name":"mvtest","type":"macvlan","master":"up0","mode":"bridge","ipam":{{"type":"host-local","dataDir":"{}","ranges":[[{{"subnet":"198.18.71.0/24","rangeStart":"198.18.71.10","rangeEnd":"198.18.71.20"}}]]}}}}"#,
            data.display()
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &l.ns("h"), "/usr/lib/cni/macvlan"])
            .env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", format!("{}-{c}", l.prefix))
            .env("CNI_NETNS", format!("/run/netns/{}", l.ns(c)))
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", "/usr/lib/cni")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the CNI macvlan plugin (containernetworking-plugins)");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "CNI ADD {c}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let _ = std::fs::remove_dir_all(&data);
    let i = l.inspect();
    let (c1, c2) = (
        format!("{}:eth0", l.ns("c1")),
        format!("{}:eth0", l.ns("c2")),
    );
    for c in ["c1", "c2"] {
        let ip = &ip_json(&l.ns(c), "link show dev eth0")[0];
        let found = i
            .links
            .iter()
            .find(|x| x.netns == l.ns(c) && x.name == "eth0")
            .unwrap();
        assert_eq!(
            found.mode.as_deref(),
            ip["linkinfo"]["info_data"]["mode"].as_str()
        );
        assert_eq!(found.parent.as_ref().map(|p| p.name.as_str()), Some("up0"));
        assert_eq!(found.ipv4.len(), 1, "host-local gave one address");
    }
    let c2_ip = i
        .links
        .iter()
        .find(|x| x.netns == l.ns("c2") && x.name == "eth0")
        .unwrap()
        .ipv4[0]
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let host = format!("{}:up0", l.ns("h"));
    let peer = format!("{}:eth0", l.ns("p"));
    let checks = [
        (c1.clone(), c2.clone(), "c1", c2_ip.clone()),
        (c1.clone(), peer.clone(), "c1", "198.18.71.200".to_string()),
        (host.clone(), c2.clone(), "h", c2_ip.clone()),
    ];
    for (from, to, node, ip) in checks {
        assert_eq!(
            predicted(&i, &from, &to, "ipv4"),
            l.ping(node, &ip),
            "{from} -> {to}"
        );
    }
    assert!(
        i.warnings.iter().any(|w| w.kind == "host-unreachable"),
        "{:?}",
        i.warnings
    );
}
