//! The Docker 20.10 cases that need kernel features some kernels lack, held to mvlab's
//! prediction as tests/docker_engine.rs holds the rest: a `BASE.VID` parent (Docker makes the
//! 802.1Q link) and a network without parent (Docker makes a dummy named `dm-` and the first 12
//! digits of the network's ID). On a kernel without 8021q or dummy, Docker must refuse the
//! network with the kernel's "operation not supported", and mvlab's probe must find the feature
//! missing (`mvlab run` then refuses the scenario with exit 3). Runs in the kernel matrix, where
//! Debian's kernels have both.

mod docker_support;

use docker_support::Engine;
use docker_support::cases::{Net, Tally, dynamic, judge, scenario_text, subnet};
use mvlab::diag::Source;

fn ip_json(ns: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("ip")
        .args(["-j", "-d", "-n", ns])
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[test]
fn docker_20_10_makes_vlan_and_dummy_parents_as_mvlab_predicts() {
    let engine = Engine::start("kernel");
    let veths = ["up0"];
    engine.veth("up0");
    let cases = [
        (
            "a VLAN sub-interface made by Docker",
            Net {
                name: "nL",
                parent: "up0.10",
                pools: vec![subnet("198.18.60.0/24")],
                ctrs: dynamic("l", 1),
                ..Net::default()
            },
        ),
        (
            "a network without parent: a dummy of its own",
            Net {
                name: "nZ",
                pools: vec![subnet("198.18.65.0/24")],
                ctrs: dynamic("z", 1),
                ..Net::default()
            },
        ),
    ];
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (what, net) in cases {
        let text = scenario_text("20.10", std::slice::from_ref(&net), &veths);
        let s = mvlab::scenario::parse(Source::new("case.toml", text)).expect("mvlab accepts it");
        let missing = mvlab::lab::probe::missing(&s);
        if !missing.is_empty() {
            engine.reset();
            tally.networks += 1;
            tally.refusals += 1;
            match engine.create_network(&docker_support::cases::request(&net)) {
                Err(words) if words.contains("operation not supported") => {}
                other => failures.push(format!(
                    "{what}: this kernel lacks {missing:?}, yet Docker answered {other:?}"
                )),
            }
            continue;
        }
        let diffs = judge(
            &engine,
            "20.10",
            std::slice::from_ref(&net),
            &veths,
            &mut tally,
        );
        if !diffs.is_empty() {
            failures.push(format!("{what}:\n  {}", diffs.join("\n  ")));
            continue;
        }
        let (_, inspect) = engine.api("GET", &format!("/networks/{}", net.name), None);
        let link = match net.parent {
            "" => format!("dm-{}", &inspect["Id"].as_str().unwrap_or_default()[..12]),
            p => p.to_string(),
        };
        let l = &ip_json(&engine.ns, &["link", "show", "dev", &link])[0];
        let kind = l["linkinfo"]["info_kind"].as_str().unwrap_or_default();
        let want = if net.parent.is_empty() {
            "dummy"
        } else {
            "vlan"
        };
        if kind != want {
            failures.push(format!(
                "{what}: Docker's parent {link} is a {kind:?} link, not {want}"
            ));
        }
        if want == "vlan" && l["linkinfo"]["info_data"]["id"] != 10 {
            failures.push(format!("{what}: {link} is not VLAN 10: {l}"));
        }
        let predicted = &s.networks[0].link;
        if !predicted.starts_with(&link[..link.len().min(3)]) || predicted.len() != link.len() {
            failures.push(format!(
                "{what}: mvlab names the parent {predicted}, Docker {link}"
            ));
        }
    }
    eprintln!(
        "docker 20.10 kernel cases: {} networks, {} containers, {} refusals; {} differ",
        tally.networks,
        tally.containers,
        tally.refusals,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
