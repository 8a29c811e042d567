//! The sentences follow the cells: on the model's prediction of a lab (the kernel's own view is
//! held to it by the lab tests; `tests/run_cli.rs` does the same on a real lab), changing the lab
//! (a hairpinning port, another mode) or a cell changes the sentences.

use super::*;
use crate::diag::Source;
use crate::scenario::{DEFAULT_TEXT, TestKind, parse};

fn scenario(text: &str) -> Scenario {
    parse(Source::new("t.toml", text)).unwrap_or_else(|d| panic!("{d}"))
}

/// The model's matrix of the scenario's first matrix test (the default one when it has none).
fn predicted(s: &Scenario) -> MatrixResult {
    let spec = s
        .tests
        .iter()
        .find(|t| matches!(t.kind, TestKind::Matrix(_)))
        .expect("a matrix test");
    let TestKind::Matrix(test) = &spec.kind else {
        unreachable!()
    };
    crate::model::predict_matrix(s, &spec.name, test).unwrap()
}

fn texts(summary: &MatrixSummary) -> Vec<String> {
    summary
        .conclusions
        .iter()
        .map(|c| format!("{} | {}", c.networks.join(","), c.text))
        .collect()
}

fn about<'a>(summary: &'a MatrixSummary, network: &str, needle: &str) -> Option<&'a Conclusion> {
    summary
        .conclusions
        .iter()
        .find(|c| c.networks.iter().any(|n| n == network) && c.text.contains(needle))
}

/// With the default scenario's port flags turned on for one parent.
fn default_with_port(parent: &str, port: &str) -> Scenario {
    let from = format!("[[parents]]\nname = \"{parent}\"\n");
    assert!(DEFAULT_TEXT.contains(&from));
    scenario(&DEFAULT_TEXT.replace(&from, &format!("{from}port = {{ {port} }}\n")))
}

#[test]
fn the_default_lab_in_words() {
    let s = scenario(DEFAULT_TEXT);
    let summary = summarise(&s, &predicted(&s));
    let all = texts(&summary).join("\n");
    let bridge = about(&summary, "bridge", "reach each other").expect(&all);
    assert_eq!(bridge.tone, Tone::Reaches);
    assert_eq!(bridge.rule, "macvlan_queue_xmit");
    assert!(
        bridge.cells.iter().any(|c| c == "br1→br2 unicast 10/10"),
        "{:?}",
        bridge.cells
    );
    let vepa = about(&summary, "vepa", "do not reach each other").expect(&all);
    assert!(
        vepa.text.contains("need a hairpinning switch port p1"),
        "{}",
        vepa.text
    );
    assert!(vepa.rule.contains("should_deliver"), "{}", vepa.rule);
    assert_eq!(vepa.tone, Tone::Blocked);
    assert!(
        about(&summary, "private", "are isolated").is_some(),
        "{all}"
    );
    let host = about(&summary, "vepa", "the host cannot reach").expect(&all);
    assert!(host.text.contains("shim"), "{}", host.text);
    assert_eq!(
        host.networks,
        ["bridge", "vepa", "private", "source"],
        "one sentence for every network whose host cannot reach it"
    );
    let passthru = about(&summary, "passthru", "takes eth3's MAC").expect(&all);
    assert!(passthru.text.contains("every frame that arrives"), "{all}");
    let source = about(&summary, "source", "hear only peer").expect(&all);
    assert_eq!(source.rule, "macvlan_forward_source");
    assert!(
        about(&summary, "bridge", "turn promiscuous on their own").is_some(),
        "{all}"
    );
    assert!(
        about(&summary, "bridge", "sees br1 and br2's unicast").is_some(),
        "{all}"
    );
}

#[test]
fn a_hairpinning_port_changes_what_vepa_and_private_siblings_do() {
    let plain = scenario(DEFAULT_TEXT);
    let plain = summarise(&plain, &predicted(&plain));
    let vepa = default_with_port("eth1", "hairpin = true");
    let vepa = summarise(&vepa, &predicted(&vepa));
    let all = texts(&vepa).join("\n");
    let reach = about(&vepa, "vepa", "reach each other").expect(&all);
    assert_eq!(reach.tone, Tone::Reaches);
    assert!(reach.text.contains("hairpinning switch port p1"), "{all}");
    assert!(about(&vepa, "vepa", "do not reach").is_none(), "{all}");
    // Behind a hairpinning port the host hears its VEPA containers too.
    assert!(about(&vepa, "vepa", "the host hears").is_some(), "{all}");
    assert_ne!(texts(&plain), texts(&vepa));

    let private = default_with_port("eth2", "hairpin = true");
    let private = summarise(&private, &predicted(&private));
    let all = texts(&private).join("\n");
    let raw = about(&private, "private", "still get each other's raw unicast").expect(&all);
    assert!(raw.text.contains("no broadcast"), "{}", raw.text);
    assert!(raw.text.contains("p2"), "{}", raw.text);
}

#[test]
fn another_mode_says_other_things() {
    let text = "[[networks]]\nmode = \"MODE\"\n[[peers]]\nname = \"peer\"\n";
    let said = |mode: &str| {
        let s = scenario(&text.replace("MODE", mode));
        texts(&summarise(&s, &predicted(&s)))
    };
    let (bridge, vepa) = (said("bridge"), said("vepa"));
    assert!(
        bridge
            .iter()
            .any(|t| t.contains("e1 and e2 reach each other")),
        "{bridge:?}"
    );
    assert!(
        vepa.iter().any(|t| t.contains("e1 and e2 do not reach")),
        "{vepa:?}"
    );
}

#[test]
fn the_sentences_follow_the_cells_not_the_scenario() {
    let s = scenario(DEFAULT_TEXT);
    let mut m = predicted(&s);
    // As if the kernel had hairpinned after all: every VEPA sibling cell delivered.
    for c in m
        .cells
        .iter_mut()
        .filter(|c| c.from.starts_with("ve") && c.to.starts_with("ve") && c.from != c.to)
    {
        c.received = c.sent;
    }
    let summary = summarise(&s, &m);
    let all = texts(&summary).join("\n");
    let vepa = about(&summary, "vepa", "reach each other").expect(&all);
    assert_eq!(vepa.tone, Tone::Reaches);
    assert!(about(&summary, "vepa", "do not reach").is_none(), "{all}");
}

#[test]
fn every_cell_named_is_a_cell_of_the_matrix() {
    let s = scenario(DEFAULT_TEXT);
    let m = predicted(&s);
    let summary = summarise(&s, &m);
    let known: Vec<String> = m.cells.iter().map(cell_text).collect();
    for c in &summary.conclusions {
        assert!(!c.rule.is_empty() && !c.why.is_empty(), "{c:?}");
        assert!(c.cells_total >= c.cells.len(), "{c:?}");
        for cell in c.cells.iter().filter(|x| x.contains('→')) {
            assert!(known.contains(cell), "{cell} is not a cell of the matrix");
        }
    }
}

#[test]
fn who_hears_whom_groups_stations_by_network() {
    let s = scenario(DEFAULT_TEXT);
    let h = summarise(&s, &predicted(&s)).hearing;
    let names: Vec<&str> = h.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bridge", "vepa", "private", "passthru", "source", "host", "peer"
        ]
    );
    let at = |from: &str, to: &str| {
        let f = names.iter().position(|n| *n == from).unwrap();
        let t = names.iter().position(|n| *n == to).unwrap();
        h.cells[f][t].clone()
    };
    let heard = |from: &str, to: &str, class: FrameClass| {
        at(from, to).map_or(0, |c| {
            c.classes
                .iter()
                .filter(|x| x.class == class && !x.promiscuous)
                .map(|x| x.pairs)
                .sum()
        })
    };
    let unicast = FrameClass::untagged(crate::delivery::Addressing::Unicast);
    assert_eq!(heard("bridge", "bridge", unicast), 2);
    assert_eq!(heard("vepa", "vepa", unicast), 0);
    assert_eq!(at("vepa", "vepa").unwrap().pairs, 2);
    // The host column of a network is its own parent only.
    assert_eq!(at("bridge", "host").unwrap().pairs, 2);
    assert!(
        at("passthru", "passthru").is_none(),
        "one station has no pair"
    );
    assert!(
        h.cells[names.iter().position(|n| *n == "host").unwrap()]
            .iter()
            .all(Option::is_none),
        "the host's parents do not send by default"
    );
}

#[test]
fn several_peers_take_the_plural() {
    let one = "[[networks]]\nmode = \"bridge\"\n[[peers]]\nname = \"far\"\n";
    let said = |text: &str| {
        let s = scenario(text);
        texts(&summarise(&s, &predicted(&s)))
    };
    let (one, two) = (
        said(one),
        said(&format!("{one}[[peers]]\nname = \"mon\"\n")),
    );
    assert!(
        one.iter().any(|t| t.contains("far reaches e1 and e2")),
        "{one:?}"
    );
    assert!(
        two.iter()
            .any(|t| t.contains("far and mon reach e1 and e2 through the switch")),
        "{two:?}"
    );
}
