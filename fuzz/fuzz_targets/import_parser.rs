//! Fuzz target: `mvlab import` must never panic, whatever the file (YAML, JSON, docker
//! commands); a refused file's problems point inside it, and a scenario it writes is TOML the
//! scenario parser reads without a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mvlab::diag::Source;
use mvlab::import::{self, Options};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = Source::new("fuzz.yaml", text);
    match import::import(&source, &Options::default()) {
        Ok(toml) => {
            let _ = mvlab::scenario::parse(Source::new("out.toml", toml));
        }
        Err(diags) => {
            for d in &diags.0 {
                if let Some(span) = &d.span {
                    assert!(span.start <= span.end, "{d:?}");
                }
                assert!(d.hint.is_some(), "{d:?}");
            }
        }
    }
});
