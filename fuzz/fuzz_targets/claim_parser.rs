//! Fuzz target: the claims grammar and the units grammar must never panic, whatever the text; a
//! refused claim points inside its text, and every value either grammar accepts lies within the
//! units' bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mvlab::scenario::claims::{self, Claim, ClaimError};
use mvlab::scenario::metrics::MetricSet;
use mvlab::units::{
    self, MAX_BPS, MAX_BYTES, MAX_DURATION, MAX_PPS, MIN_BPS, MIN_DURATION, MIN_PPS, Rate,
};

fn points_inside(text: &str, e: &ClaimError) {
    assert!(
        e.at.start <= e.at.end && e.at.end <= text.len(),
        "{e:?} in {text:?}"
    );
    assert!(!e.message.is_empty() && !e.hint.is_empty());
}

fn bounded(q: &units::Quantity) {
    let v = q.value();
    assert!(v.is_finite() && v >= 0.0, "{q:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = claims::parse_delivery(text) {
        points_inside(text, &e);
    }
    for set in MetricSet::ALL {
        match claims::parse_metric(text, set) {
            Ok(Claim::Metric { metric, bound, .. }) => {
                assert_eq!(set.parse(metric.name()), Some(metric));
                bounded(&bound);
            }
            Ok(other) => panic!("a metric claim parsed as {other:?}"),
            Err(e) => points_inside(text, &e),
        }
    }
    if let Ok(d) = units::parse_duration(text) {
        assert!((MIN_DURATION..=MAX_DURATION).contains(&d), "{d:?}");
    }
    match units::parse_rate(text) {
        Ok(Rate::Pps(p)) => assert!((MIN_PPS..=MAX_PPS).contains(&p), "{p}"),
        Ok(Rate::Bits { bps, .. }) => assert!((MIN_BPS..=MAX_BPS).contains(&bps), "{bps}"),
        Ok(Rate::Max) | Err(_) => {}
    }
    if let Ok(b) = units::parse_size(text) {
        assert!(b <= MAX_BYTES);
    }
    if let Ok(p) = units::parse_percent(text) {
        assert!((0.0..=100.0).contains(&p));
    }
    if let Ok(q) = units::parse_quantity(text) {
        bounded(&q);
    }
});
