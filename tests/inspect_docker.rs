//! `mvlab inspect` on a layout Docker made: Debian's Docker Engine 20.10 (docker.io) in a
//! throwaway namespace (tests/docker_support), two macvlan networks created with `docker network
//! create -d macvlan` on veth parents whose other ends lie in a peer namespace (`nb`, bridge mode,
//! on `up0`, which carries the host's address; `nv`, vepa, on `up1`), and four containers. What
//! inspect finds (container namespaces named through the Docker API, links, modes, parents across
//! namespaces, MACs and addresses) is held to `docker inspect` and `ip -d -j link`, what it
//! predicts to pings (`docker exec ... ping` between containers and to the peer, and from the
//! host's namespace), and it changes nothing (links, addresses, routes, counters and the namespace
//! list are the same before and after). Needs root; fails, not skips, when dockerd cannot run.

mod docker_support;

use std::process::Command;

use docker_support::Engine;
use serde_json::Value;

/// A namespace made by the test, deleted on drop.
struct Peer(String);

impl Peer {
    fn new(name: String) -> Peer {
        sh(&format!(
            "ip netns add {name}\nip -n {name} link set lo up\nip netns exec {name} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"
        ));
        Peer(name)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs a shell script with `set -e`, failing the test with its output.
fn sh(script: &str) -> String {
    let out = Command::new("sh").args(["-ec", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ip -j -d ARGS` in the namespace that `ns_file` opens.
fn ip_json(ns_file: &str, args: &str) -> Value {
    serde_json::from_str(&sh(&format!("nsenter --net={ns_file} ip -j -d {args}"))).unwrap()
}

/// Whether `ping` from the named namespace `ns` to `ip` gets an answer.
fn ping_from_ns(ns: &str, ip: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-W", "1", ip,
        ])
        .output()
        .unwrap()
        .status
        .success()
}

/// Whether `docker exec CONTAINER ping` to `ip` gets an answer (busybox's ping).
fn ping_from_container(engine: &Engine, container: &str, ip: &str) -> bool {
    engine
        .cli(&[
            "exec",
            container,
            "/bin/busybox",
            "ping",
            "-c",
            "2",
            "-W",
            "1",
            ip,
        ])
        .status
        .success()
}

/// The model's IPv4 answer for a pair in inspect's JSON.
fn predicted(json: &Value, from: &str, to: &str) -> bool {
    json["reach"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["from"] == from && r["to"] == to && r["class"] == "ipv4")
        .unwrap_or_else(|| panic!("inspect has no ipv4 entry {from} -> {to}"))["delivered"]
        .as_bool()
        .unwrap()
}

#[test]
fn a_docker_made_layout_is_found_as_docker_shows_it_and_predicted_as_pings_see_it() {
    let engine = Engine::start("inspect");
    let host = engine.ns.clone();
    let peer = Peer::new(format!("{host}-peer"));
    let at = |ns: &str, link: &str| format!("{ns}:{link}");
    // The parents: veths whose other ends are in the peer namespace, no IPv6 (no frames of their
    // own), the host's address on up0 (Docker's gateway address), the peer's on each far end.
    sh(&format!(
        r#"
ip netns exec {host} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
for i in 0 1; do
  ip -n {host} link add up$i type veth peer name up${{i}}p netns {p}
  ip -n {host} link set up$i up; ip -n {p} link set up${{i}}p up
done
ip -n {host} addr add 198.18.80.1/24 dev up0
ip -n {p} addr add 198.18.80.200/24 dev up0p
ip -n {p} addr add 198.18.81.200/24 dev up1p
"#,
        p = peer.0
    ));
    for (net, subnet, parent, mode) in [
        ("nb", "198.18.80.0/24", "up0", "bridge"),
        ("nv", "198.18.81.0/24", "up1", "vepa"),
    ] {
        let out = engine.cli(&[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            subnet,
            "-o",
            &format!("parent={parent}"),
            "-o",
            &format!("macvlan_mode={mode}"),
            net,
        ]);
        assert!(
            out.status.success(),
            "docker network create {net}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // (container, network, parent, mode)
    let containers = [
        ("b1", "nb", "up0", "bridge"),
        ("b2", "nb", "up0", "bridge"),
        ("v1", "nv", "up1", "vepa"),
        ("v2", "nv", "up1", "vepa"),
    ];
    let name = |c: &str| format!("{host}-{c}");
    let mut docker = std::collections::HashMap::new();
    for (c, net, ..) in containers {
        let inspected = engine
            .run(&name(c), net, None, None, None)
            .unwrap_or_else(|e| panic!("docker run {c}: {e}"));
        docker.insert(c, inspected);
    }
    let ns_file = |c: &str| format!("/proc/{}/ns/net", docker[c]["State"]["Pid"]);
    let addr = |c: &str| {
        docker[c]["NetworkSettings"]["Networks"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .clone()
    };
    let ipv4 = |c: &str| addr(c)["IPAddress"].as_str().unwrap().to_string();

    // The state inspect starts from: the same for a second (the layout's start-up settled).
    let mut files = vec![
        format!("/run/netns/{host}"),
        format!("/run/netns/{}", peer.0),
    ];
    files.extend(containers.iter().map(|(c, ..)| ns_file(c)));
    let snapshot = || -> Vec<String> {
        let mut out = vec![sh("ip netns list")];
        for f in &files {
            for what in ["-s link show", "addr show", "route show"] {
                out.push(ip_json(f, what).to_string());
            }
        }
        out
    };
    let mut before = snapshot();
    for _ in 0..30 {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let again = snapshot();
        if again == before {
            break;
        }
        before = again;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mvlab"))
        .args(["inspect", "--json", "--netns", &format!("{host}*")])
        .arg("--docker-socket")
        .arg(engine.dir.join("docker.sock"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = snapshot();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "inspect changed something");
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Found: the containers' namespaces by their Docker names, and each container's link as
    // `docker inspect` and `ip -d -j link` show it.
    let namespaces: Vec<&str> = json["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for (c, ..) in containers {
        assert!(
            namespaces.contains(&name(c).as_str()),
            "{c} not named: {namespaces:?}"
        );
    }
    for (c, _, parent, mode) in containers {
        let link = json["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["netns"] == name(c) && l["name"] == "eth0")
            .unwrap_or_else(|| panic!("inspect did not find {c}'s eth0"));
        let ip = &ip_json(&ns_file(c), "link show dev eth0")[0];
        assert_eq!(link["kind"], "macvlan", "{c}");
        assert_eq!(link["mode"], mode, "{c}");
        assert_eq!(link["mode"], ip["linkinfo"]["info_data"]["mode"], "{c}");
        assert_eq!(
            (&link["parent"]["netns"], &link["parent"]["name"]),
            (&Value::from(host.as_str()), &Value::from(parent)),
            "{c}"
        );
        let d = addr(c);
        assert_eq!(link["mac"], d["MacAddress"], "{c}");
        assert_eq!(link["mac"], ip["address"], "{c}");
        assert_eq!(
            link["ipv4"],
            serde_json::json!([format!(
                "{}/{}",
                d["IPAddress"].as_str().unwrap(),
                d["IPPrefixLen"]
            )]),
            "{c}"
        );
    }

    // Predicted, then pinged: (from, to, the address of `to`, how to ping from `from`).
    let eth0 = |c: &str| at(&name(c), "eth0");
    let pairs = [
        (eth0("b1"), eth0("b2"), ipv4("b2"), Some("b1")),
        (eth0("b2"), eth0("b1"), ipv4("b1"), Some("b2")),
        (
            eth0("b1"),
            at(&peer.0, "up0p"),
            "198.18.80.200".into(),
            Some("b1"),
        ),
        (eth0("v1"), eth0("v2"), ipv4("v2"), Some("v1")),
        (
            eth0("v2"),
            at(&peer.0, "up1p"),
            "198.18.81.200".into(),
            Some("v2"),
        ),
        (at(&peer.0, "up0p"), eth0("b2"), ipv4("b2"), None),
        (at(&host, "up0"), eth0("b1"), ipv4("b1"), None),
    ];
    let mut mismatches = Vec::new();
    let mut tally = Vec::new();
    for (from, to, ip, container) in &pairs {
        let p = predicted(&json, from, to);
        let pinged = match container {
            Some(c) => ping_from_container(&engine, &name(c), ip),
            None => ping_from_ns(from.split(':').next().unwrap(), ip),
        };
        tally.push(format!("{from} -> {to}: predicted {p}, ping {pinged}"));
        if p != pinged {
            mismatches.push(tally.last().unwrap().clone());
        }
    }
    eprintln!("{}", tally.join("\n"));
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    // The answers themselves, not only their agreement.
    assert!(
        predicted(&json, &eth0("b1"), &eth0("b2")),
        "bridge siblings"
    );
    assert!(!predicted(&json, &eth0("v1"), &eth0("v2")), "vepa siblings");
    assert!(
        !predicted(&json, &at(&host, "up0"), &eth0("b1")),
        "the host does not reach its containers"
    );
    let warnings = json["warnings"].as_array().unwrap();
    let warned = |kind: &str| warnings.iter().find(|w| w["kind"] == kind);
    let unreachable = warned("host-unreachable").unwrap_or_else(|| panic!("{warnings:#?}"));
    assert!(
        unreachable["message"]
            .as_str()
            .unwrap()
            .contains(&at(&host, "up0")),
        "{unreachable}"
    );
    assert!(warned("vepa-needs-hairpin").is_some(), "{warnings:#?}");
}
