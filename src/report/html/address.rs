//! The RFC 2889 address sections, address caching and address learning rate: the searches' trials
//! in one table shape, the capacity or rate found, and charts of each search.

use std::fmt::Write;

use super::markup::{charts, esc, int, optional, pace, table, whole};
use crate::measure::address_caching::{AddressCachingResult, AddressTrial};
use crate::measure::address_learning_rate::AddressLearningRateResult;
use crate::report::svg::{Axis, LineChart, Point, Series};

fn address_trials(out: &mut String, trials: &[AddressTrial]) {
    table(
        out,
        true,
        &[
            "trial",
            "addresses",
            "learning (pps)",
            "switch learned",
            "test frames",
            "flooded to the monitor",
            "delivered to the learning port",
            "capture drops",
            "result",
        ],
        trials.iter().enumerate().map(|(i, t)| {
            vec![
                (i + 1).to_string(),
                int(u64::from(t.addresses)),
                whole(t.learning_pps),
                optional(t.switch_learned),
                int(t.test_sent),
                int(t.flooded),
                int(t.delivered),
                int(t.capture_drops),
                if t.passed {
                    "<span class=\"ok\">all learned</span>".into()
                } else {
                    "<span class=\"bad\">flooded</span>".into()
                },
            ]
        }),
    );
}

/// A search's trials in order: the value each tried, failed ones as an X.
fn search_series(name: &str, trials: &[AddressTrial], value: fn(&AddressTrial) -> f64) -> Series {
    Series::new(
        name,
        trials
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let n = (i + 1) as f64;
                if t.passed {
                    Point::new(n, value(t))
                } else {
                    Point::failed(n, value(t))
                }
            })
            .collect(),
    )
}

pub(super) fn address_caching(out: &mut String, r: &AddressCachingResult) {
    let _ = write!(
        out,
        "<p>Learning port {}, test port {}, monitor port {}; up to {} addresses, frames at {}. A test frame that reaches the monitor port was flooded: its destination was not learned.</p><p><strong>Capacity: {}{} addresses.</strong> The switch's own limit: {}; the switch said it learned {} at the capacity.</p>",
        esc(&r.learning),
        esc(&r.test),
        esc(&r.monitor),
        int(u64::from(r.max_addresses)),
        pace(r.rate_pps),
        if r.at_least { "at least " } else { "" },
        int(u64::from(r.capacity)),
        r.switch_limit.map_or("none".into(), |l| int(u64::from(l))),
        optional(r.switch_learned)
    );
    address_trials(out, &r.trials);
    let mut search = LineChart::new(
        format!("{}/search", r.name),
        "binary search for the capacity",
        Axis::linear("trial"),
        Axis::from_zero("addresses"),
    )
    .series(search_series("addresses tried", &r.trials, |t| {
        f64::from(t.addresses)
    }));
    let mut by_size: Vec<Point> = r
        .trials
        .iter()
        .filter_map(|t| {
            t.switch_learned
                .map(|l| Point::new(f64::from(t.addresses), f64::from(l)))
        })
        .collect();
    by_size.sort_by(|a, b| a.x.total_cmp(&b.x));
    let mut learned = LineChart::new(
        format!("{}/learned", r.name),
        "what the switch learned, by addresses sent",
        Axis::from_zero("addresses sent by the learning port"),
        Axis::from_zero("addresses the switch says it learned"),
    )
    .series(Series::new("switch learned", by_size));
    match r.switch_limit {
        Some(limit) if limit == r.capacity => {
            search = search.rule(f64::from(limit), "capacity = switch limit");
        }
        Some(limit) => {
            search = search
                .rule(f64::from(r.capacity), "capacity")
                .rule(f64::from(limit), "switch limit");
        }
        None => search = search.rule(f64::from(r.capacity), "capacity"),
    }
    if let Some(limit) = r.switch_limit {
        learned = learned.rule(f64::from(limit), "switch limit");
    }
    charts(out, [search.render(), learned.render()]);
}

pub(super) fn learning_rate(out: &mut String, r: &AddressLearningRateResult) {
    let _ = write!(
        out,
        "<p>Learning port {}, test port {}, monitor port {}; {} addresses. <strong>Learning rate: {}{} pps</strong> (the first trial offered {} pps; search resolution {}%).</p>",
        esc(&r.learning),
        esc(&r.test),
        esc(&r.monitor),
        int(u64::from(r.addresses)),
        if r.at_least { "at least " } else { "" },
        whole(r.learning_rate_pps),
        whole(r.max_offered_pps),
        r.resolution_percent
    );
    address_trials(out, &r.trials);
    charts(
        out,
        [LineChart::new(
            format!("{}/search", r.name),
            "binary search for the learning rate",
            Axis::linear("trial"),
            Axis::from_zero("learning frames offered (pps)"),
        )
        .series(search_series("offered", &r.trials, |t| t.learning_pps))
        .rule(r.learning_rate_pps, "learning rate")
        .render()],
    );
}
