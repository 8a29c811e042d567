//! Fuzz target: the scenario parser must never panic, whatever the file says; a problem is a
//! located diagnostic, and a valid file gives a scenario whose every address and MAC is lab-safe.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mvlab::addr::is_lab_address;
use mvlab::diag::Source;
use mvlab::scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match scenario::parse(Source::new("fuzz.toml", text)) {
        Ok(s) => {
            for e in &s.endpoints {
                assert!(e.ipv4.is_none_or(|a| is_lab_address(a.into())));
                assert!(e.ipv6.is_none_or(|a| is_lab_address(a.into())));
                assert!(e.mac.is_lab_safe());
            }
        }
        Err(diags) => {
            assert!(!diags.0.is_empty());
            let _ = diags.to_string();
        }
    }
});
