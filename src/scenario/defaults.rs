//! The built-in default scenario: the lab `mvlab run` and `mvlab lab up` build when given no file.
//! Its text is `scenarios/default.toml`, compiled in, so the shipped example and the built-in
//! default can never drift apart. `run` narrows it to the macvlan modes the kernel supports.

use super::{MacvlanMode, Scenario, parse};
use crate::diag::Source;

/// What diagnostics call the built-in scenario.
pub const DEFAULT_NAME: &str = "<built-in default scenario>";
pub const DEFAULT_TEXT: &str = include_str!("../../scenarios/default.toml");

pub fn default_scenario() -> Scenario {
    parse(Source::new(DEFAULT_NAME, DEFAULT_TEXT)).expect("the built-in scenario is valid (tested)")
}

/// The default scenario with only the networks whose mode `keep` accepts, and their parents.
/// Peers of a dropped network move to the first network left. `None` when no network is left.
pub fn default_scenario_with(keep: impl Fn(MacvlanMode) -> bool) -> Option<Scenario> {
    let full = default_scenario();
    let mut table: toml::Table = DEFAULT_TEXT.parse().expect("the built-in scenario is TOML");
    let kept: Vec<&super::Network> = full.networks.iter().filter(|n| keep(n.mode)).collect();
    let first = kept.first()?.name.clone();
    let names: Vec<&str> = kept.iter().map(|n| n.name.as_str()).collect();
    let parents: Vec<&str> = kept
        .iter()
        .map(|n| full.parent_of(n).name.as_str())
        .collect();
    let retain = |key: &str, field: &str, wanted: &[&str], table: &mut toml::Table| {
        if let Some(toml::Value::Array(items)) = table.get_mut(key) {
            items.retain(|item| {
                item.get(field)
                    .and_then(toml::Value::as_str)
                    .is_some_and(|v| wanted.contains(&v))
            });
        }
    };
    retain("networks", "name", &names, &mut table);
    retain("parents", "name", &parents, &mut table);
    if let Some(toml::Value::Array(peers)) = table.get_mut("peers") {
        for peer in peers.iter_mut().filter_map(toml::Value::as_table_mut) {
            let on = peer
                .get("network")
                .and_then(toml::Value::as_str)
                .unwrap_or_default();
            if !names.contains(&on) {
                peer.insert("network".into(), toml::Value::String(first.clone()));
            }
        }
    }
    let text = toml::to_string(&table).expect("a table serialises");
    Some(
        parse(Source::new(DEFAULT_NAME, text))
            .expect("a narrowed built-in scenario is valid (tested)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_keeps_only_supported_modes_and_their_parents() {
        let s = default_scenario_with(|m| m != MacvlanMode::Bridge && m != MacvlanMode::Source)
            .unwrap();
        let modes: Vec<MacvlanMode> = s.networks.iter().map(|n| n.mode).collect();
        assert_eq!(
            modes,
            [
                MacvlanMode::Vepa,
                MacvlanMode::Private,
                MacvlanMode::Passthru
            ]
        );
        assert_eq!(s.parents.len(), 3);
        assert_eq!(s.networks[s.peers[0].network].name, "vepa");
        assert!(
            s.endpoints
                .iter()
                .all(|e| !e.name.starts_with("br") && !e.name.starts_with("so"))
        );
        assert_eq!(default_scenario_with(|_| true).unwrap().networks.len(), 5);
        assert!(default_scenario_with(|_| false).is_none());
    }
}
