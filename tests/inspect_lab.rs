//! `lab up X`, then `inspect --scenario Y`: Y describes the same lab as X (parents and their
//! switch ports' flags, networks and their modes, endpoints with their addresses and MACs,
//! peers, the host's address and shim), and Y is a scenario `mvlab check` accepts.

mod lab_support;

use lab_support::*;
use mvlab::inspect::{self, InspectOptions};
use mvlab::scenario::{self, Scenario};

/// What a lab is made of, in a form two scenarios can be compared by.
fn structure(s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for p in &s.parents {
        out.push(format!(
            "parent {} hairpin={} learning={}",
            p.name, p.port.hairpin, p.port.learning
        ));
    }
    for n in &s.networks {
        let mut eps: Vec<String> = s
            .endpoints
            .iter()
            .filter(|e| s.networks[e.network].name == n.name)
            .map(|e| format!("{} {:?} {}", e.name, e.ipv4, e.mac))
            .collect();
        eps.sort();
        out.push(format!(
            "network on {} mode {} subnet {} endpoints {eps:?}",
            s.parents[n.parent].name, n.mode, n.ipv4.subnet
        ));
    }
    for p in &s.peers {
        out.push(format!(
            "peer {} {} {} hairpin={}",
            p.name, p.ipv4, p.mac, p.port.hairpin
        ));
    }
    for a in &s.host.addresses {
        out.push(format!("host address {:?}", a.ipv4));
    }
    if let Some(shim) = &s.host.shim {
        out.push(format!(
            "shim {} {} {}",
            shim.interface, shim.ipv4, shim.mac
        ));
    }
    out
}

fn round_trip(name: &str) {
    let x = load(name);
    let lab = up(&x, name);
    let i = inspect::inspect(&InspectOptions {
        netns: vec![format!("mvlab-{}-*", lab.name())],
        docker_socket: Some("/nonexistent/docker.sock".into()),
    })
    .expect("inspect reads the lab");
    assert_eq!(i.scenarios.len(), 1, "one segment");
    let r = &i.scenarios[0];
    let y = r
        .scenario
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}\n{}", r.text));
    let file = std::env::temp_dir().join(format!("{}.toml", lab.name()));
    std::fs::write(&file, &r.text).unwrap();
    let checked = scenario::load(&file);
    let _ = std::fs::remove_file(&file);
    assert!(checked.is_ok(), "mvlab check refuses Y:\n{}", r.text);
    assert_eq!(structure(y), structure(&x), "Y:\n{}", r.text);
}

#[test]
fn a_lab_with_a_host_address_and_a_shim_is_described_as_built() {
    round_trip("host-shim");
}

#[test]
fn a_vepa_lab_behind_a_hairpin_is_described_as_built() {
    round_trip("vepa-hairpin");
}

#[test]
fn a_private_lab_is_described_as_built() {
    round_trip("private");
}
