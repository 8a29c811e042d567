//! The built-in default scenario: the lab `mvlab run` and `mvlab lab up` build when given no file.
//! Its text is `scenarios/default.toml`, compiled in, so the shipped example and the built-in
//! default can never drift apart.

use super::{Scenario, parse};
use crate::diag::Source;

/// What diagnostics call the built-in scenario.
pub const DEFAULT_NAME: &str = "<built-in default scenario>";
pub const DEFAULT_TEXT: &str = include_str!("../../scenarios/default.toml");

pub fn default_scenario() -> Scenario {
    parse(Source::new(DEFAULT_NAME, DEFAULT_TEXT)).expect("the built-in scenario is valid (tested)")
}
