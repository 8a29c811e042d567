//! The `[[tests]]` entries: per kind, the keys that apply, their defaults, and checks against the
//! lab (station names exist, frame sizes fit the MTU), plus each test's `expect` claims. Runs after
//! the lab part of the scenario is settled, since it needs the stations.

use std::collections::HashSet;
use std::time::Duration;

use toml::Spanned;

use super::claims::{self, Claim, ClaimError, NodeSet};
use super::schema::{RawLatencyMethod, RawPromiscuous, RawTest, RawTestKind, SpannedStr};
use super::validate::Builder;
use super::*;
use crate::delivery::{FrameClass, MatrixSpec};
use crate::diag::Span;

/// Metrics each kind's claims may name.
pub const LATENCY_METRICS: &[&str] = &["min", "mean", "p50", "p90", "p99", "p99.9", "max", "loss"];
pub const THROUGHPUT_METRICS: &[&str] = &["loss", "rx_rate", "reordered", "duplicates"];
pub const RFC2544_METRICS: &[&str] = &["throughput", "latency", "loss", "back_to_back"];

/// RFC 2544 section 9.1's Ethernet frame sizes.
pub const RFC2544_SIZES: [u32; 7] = [64, 128, 256, 512, 1024, 1280, 1518];

/// Ethernet header plus FCS: a frame of `size` bytes carries `size - 18` bytes of L3.
const ETH_OVERHEAD: u32 = 18;

/// When a metric cannot be compared with the bound's unit: (the bound's kind, what fits).
fn wrong_unit(
    kind: &TestKind,
    metric: &str,
    bound: &Quantity,
) -> Option<(&'static str, &'static str)> {
    let time = ("a time", "a duration such as 200us");
    let percent = ("a percentage", "a percentage such as 0.01%");
    let rate = ("a rate", "a rate such as 100kpps or 1Gbit");
    let count = ("a count", "a plain number");
    let wanted = match (kind, metric) {
        (_, "loss") => percent,
        (TestKind::Latency(_), _) | (TestKind::Rfc2544(_), "latency") => time,
        (_, "rx_rate" | "throughput") => rate,
        _ => count,
    };
    let fits = match bound {
        Quantity::Time(_) => wanted == time,
        Quantity::Percent(_) => wanted == percent,
        Quantity::Pps(_) | Quantity::Bps(_) => wanted == rate,
        Quantity::Count(_) => wanted == count,
    };
    let given = match bound {
        Quantity::Time(_) => "a time",
        Quantity::Percent(_) => "a percentage",
        Quantity::Pps(_) | Quantity::Bps(_) => "a rate",
        Quantity::Count(_) => "a count",
    };
    (!fits).then_some((given, wanted.1))
}

fn present<T>(v: &Option<Spanned<T>>) -> Option<Span> {
    v.as_ref().map(|s| s.span())
}

impl Builder {
    /// The scenario's tests; a scenario that lists none gets one matrix test with the defaults,
    /// held to the model, so every lab is a conformance test of the kernel.
    pub(super) fn tests(&mut self, raw: Vec<Spanned<RawTest>>, s: &Scenario) -> Vec<TestSpec> {
        if raw.is_empty() {
            let stations: Vec<String> = s.stations().into_iter().map(|st| st.name).collect();
            let matrix = RawTest::of_kind(RawTestKind::Matrix);
            return vec![TestSpec {
                name: "matrix".into(),
                kind: TestKind::Matrix(self.matrix(&matrix, &stations)),
                expect: Vec::new(),
                span: 0..0,
            }];
        }
        let stations: Vec<String> = s.stations().into_iter().map(|st| st.name).collect();
        let min_mtu = s.parents.iter().map(|p| p.mtu).min().unwrap_or(1500);
        let mut names = HashSet::new();
        let mut out = Vec::new();
        for raw in raw {
            let span = raw.span();
            let r = raw.into_inner();
            let kind_word = match *r.kind.get_ref() {
                RawTestKind::Matrix => "matrix",
                RawTestKind::Latency => "latency",
                RawTestKind::Throughput => "throughput",
                RawTestKind::Rfc2544 => "rfc2544",
            };
            let name = match &r.name {
                Some(n) => n.get_ref().clone(),
                None => {
                    let taken = out
                        .iter()
                        .filter(|t: &&TestSpec| t.kind.as_str() == kind_word)
                        .count();
                    if taken == 0 {
                        kind_word.to_string()
                    } else {
                        format!("{kind_word}{}", taken + 1)
                    }
                }
            };
            if !names.insert(name.clone()) {
                self.error(
                    r.name.as_ref().map_or(span.clone(), |n| n.span()),
                    format!("two tests are named `{name}`"),
                    "give each test its own `name`",
                );
            }
            self.refuse_foreign_keys(&r, kind_word);
            let kind = match *r.kind.get_ref() {
                RawTestKind::Matrix => TestKind::Matrix(self.matrix(&r, &stations)),
                RawTestKind::Latency => {
                    let (from, to) = self.pair(&r, &stations, span.clone());
                    TestKind::Latency(LatencyTest {
                        from,
                        to,
                        method: match r.method.as_ref().map(|m| *m.get_ref()) {
                            Some(RawLatencyMethod::RoundTrip) => LatencyMethod::RoundTrip,
                            _ => LatencyMethod::OneWay,
                        },
                        rate: self.rate(r.rate.as_ref(), Rate::Pps(1000.0)),
                        frame_size: self.frame_size(r.frame_size.as_ref(), 64, min_mtu),
                        duration: self.duration(r.duration.as_ref(), Duration::from_secs(2)),
                    })
                }
                RawTestKind::Throughput => {
                    let (from, to) = self.pair(&r, &stations, span.clone());
                    TestKind::Throughput(ThroughputTest {
                        from,
                        to,
                        frame_sizes: self.frame_sizes(&r, &[64, 1518], min_mtu),
                        rate: self.rate(r.rate.as_ref(), Rate::Max),
                        duration: self.duration(r.duration.as_ref(), Duration::from_secs(2)),
                    })
                }
                RawTestKind::Rfc2544 => {
                    let (from, to) = self.pair(&r, &stations, span.clone());
                    TestKind::Rfc2544(Rfc2544Test {
                        from,
                        to,
                        frame_sizes: self.frame_sizes(&r, &RFC2544_SIZES, min_mtu),
                        trial: self.duration(r.trial.as_ref(), Duration::from_secs(1)),
                        loss_tolerance: self.percent(r.loss_tolerance.as_ref(), 0.0),
                        resolution: self.percent(r.resolution.as_ref(), 1.0).max(0.01),
                        max_rate: self.rate(r.max_rate.as_ref(), Rate::Max),
                        frame_loss_steps: r.frame_loss_steps.as_ref().is_none_or(|b| *b.get_ref()),
                        back_to_back: r.back_to_back.as_ref().is_none_or(|b| *b.get_ref()),
                    })
                }
            };
            let expect = self.claims(r.expect.unwrap_or_default(), &kind, &stations);
            out.push(TestSpec {
                name,
                kind,
                expect,
                span,
            });
        }
        out
    }

    /// Keys of other kinds are refused, with the kinds they belong to.
    fn refuse_foreign_keys(&mut self, r: &RawTest, kind: &str) {
        let keys: [(&str, Option<Span>, &[&str]); 16] = [
            ("frames", present(&r.frames), &["matrix"]),
            (
                "classes",
                r.classes.as_ref().and_then(|c| c.first()).map(|c| c.span()),
                &["matrix"],
            ),
            ("vlan", present(&r.vlan), &["matrix"]),
            ("promiscuous", present(&r.promiscuous), &["matrix"]),
            (
                "senders",
                r.senders.as_ref().and_then(|c| c.first()).map(|c| c.span()),
                &["matrix"],
            ),
            (
                "receivers",
                r.receivers
                    .as_ref()
                    .and_then(|c| c.first())
                    .map(|c| c.span()),
                &["matrix"],
            ),
            (
                "from",
                present(&r.from),
                &["latency", "throughput", "rfc2544"],
            ),
            ("to", present(&r.to), &["latency", "throughput", "rfc2544"]),
            ("method", present(&r.method), &["latency"]),
            ("rate", present(&r.rate), &["latency", "throughput"]),
            ("frame_size", present(&r.frame_size), &["latency"]),
            (
                "frame_sizes",
                present(&r.frame_sizes),
                &["throughput", "rfc2544"],
            ),
            ("duration", present(&r.duration), &["latency", "throughput"]),
            ("trial", present(&r.trial), &["rfc2544"]),
            ("loss_tolerance", present(&r.loss_tolerance), &["rfc2544"]),
            (
                "max_rate",
                present(&r.max_rate)
                    .or(present(&r.resolution))
                    .or(present(&r.frame_loss_steps))
                    .or(present(&r.back_to_back)),
                &["rfc2544"],
            ),
        ];
        for (key, at, kinds) in keys {
            if let Some(at) = at
                && !kinds.contains(&kind)
            {
                self.error(
                    at,
                    format!("`{key}` does not apply to a {kind} test"),
                    format!("it belongs to {} tests; remove it here", kinds.join("/")),
                );
            }
        }
    }

    fn station(&mut self, raw: &SpannedStr, stations: &[String]) -> String {
        let name = raw.get_ref();
        if !stations.contains(name) {
            self.error(
                raw.span(),
                format!("there is no station `{name}`"),
                format!(
                    "use an endpoint, a peer, or a host interface: {}",
                    stations.join(", ")
                ),
            );
        }
        name.clone()
    }

    fn pair(&mut self, r: &RawTest, stations: &[String], span: Span) -> (String, String) {
        let (Some(from), Some(to)) = (&r.from, &r.to) else {
            self.error(
                span,
                "this test needs `from` and `to`",
                "name the sending and the receiving station, e.g. from = \"e1\", to = \"peer\"",
            );
            return (String::new(), String::new());
        };
        let pair = (self.station(from, stations), self.station(to, stations));
        if pair.0 == pair.1 {
            self.error(
                to.span(),
                "`from` and `to` are the same station",
                "measure between two different stations",
            );
        }
        pair
    }

    fn matrix(&mut self, r: &RawTest, stations: &[String]) -> MatrixTest {
        let classes = match &r.classes {
            Some(list) => list
                .iter()
                .filter_map(|c| match c.get_ref().parse::<FrameClass>() {
                    Ok(class) => Some(class),
                    Err(e) => {
                        self.error(c.span(), e.to_string(), "see README: Output, frame classes");
                        None
                    }
                })
                .collect(),
            None => FrameClass::all(),
        };
        let vlan = match &r.vlan {
            Some(v) if (1..=4094).contains(v.get_ref()) => *v.get_ref() as u16,
            Some(v) => {
                self.error(
                    v.span(),
                    format!("VLAN id {} is outside 1..4094", v.get_ref()),
                    "tagged classes need an id from 1 to 4094",
                );
                100
            }
            None => 100,
        };
        let frames = r.frames.as_ref().map_or(10, |f| *f.get_ref());
        if let Some(f) = &r.frames
            && !(1..=100_000).contains(&frames)
        {
            self.error(
                f.span(),
                format!("{frames} frames per cell"),
                "send from 1 to 100000 frames per sender, class and destination",
            );
        }
        let promiscuous = match r.promiscuous.as_ref().map(|p| *p.get_ref()) {
            Some(RawPromiscuous::Off) => vec![false],
            Some(RawPromiscuous::On) => vec![true],
            Some(RawPromiscuous::Both) | None => vec![false, true],
        };
        let mut names = |list: &Option<Vec<SpannedStr>>| {
            list.iter()
                .flatten()
                .map(|n| self.station(n, stations))
                .collect::<Vec<_>>()
        };
        let senders = names(&r.senders);
        let receivers = names(&r.receivers);
        MatrixTest {
            spec: MatrixSpec {
                frames,
                classes,
                vlan,
                promiscuous,
            },
            senders,
            receivers,
        }
    }

    fn located<T>(&mut self, raw: &SpannedStr, parsed: Result<T, ClaimError>) -> Option<T> {
        parsed
            .map_err(|e| self.error(raw.span(), e.message, e.hint))
            .ok()
    }

    fn rate(&mut self, raw: Option<&SpannedStr>, default: Rate) -> Rate {
        raw.and_then(|r| self.located(r, claims::parse_rate(r.get_ref())))
            .unwrap_or(default)
    }

    fn duration(&mut self, raw: Option<&SpannedStr>, default: Duration) -> Duration {
        let Some(r) = raw else { return default };
        match self.located(r, claims::parse_duration(r.get_ref())) {
            Some(d) if d.is_zero() => {
                self.error(
                    r.span(),
                    "a duration of zero measures nothing",
                    "give a positive duration like 2s",
                );
                default
            }
            Some(d) => d,
            None => default,
        }
    }

    fn percent(&mut self, raw: Option<&SpannedStr>, default: f64) -> f64 {
        let Some(r) = raw else { return default };
        match self.located(r, claims::parse_quantity(r.get_ref())) {
            Some(Quantity::Percent(p)) if (0.0..=100.0).contains(&p) => p,
            Some(_) => {
                self.error(
                    r.span(),
                    format!("`{}` is not a percentage from 0 to 100", r.get_ref()),
                    "write it like 0.5%",
                );
                default
            }
            None => default,
        }
    }

    fn one_size(&mut self, size: u32, at: Span, mtu: u32) -> bool {
        let max = mtu + ETH_OVERHEAD;
        if size < 64 || size > max {
            self.error(at, format!("a {size}-byte frame does not fit"), format!("frame sizes count the Ethernet header and FCS: from 64 to {max} bytes with an MTU of {mtu}"));
            return false;
        }
        true
    }

    fn frame_size(&mut self, raw: Option<&Spanned<u32>>, default: u32, mtu: u32) -> u32 {
        match raw {
            Some(s) if self.one_size(*s.get_ref(), s.span(), mtu) => *s.get_ref(),
            _ => default,
        }
    }

    fn frame_sizes(&mut self, r: &RawTest, default: &[u32], mtu: u32) -> Vec<u32> {
        let Some(list) = &r.frame_sizes else {
            return default
                .iter()
                .copied()
                .filter(|&s| s <= mtu + ETH_OVERHEAD)
                .collect();
        };
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                "no frame sizes",
                "list at least one size, e.g. [64, 1518]",
            );
        }
        list.get_ref()
            .iter()
            .filter(|s| self.one_size(*s.get_ref(), s.span(), mtu))
            .map(|s| *s.get_ref())
            .collect()
    }

    fn claims(
        &mut self,
        raw: Vec<SpannedStr>,
        kind: &TestKind,
        stations: &[String],
    ) -> Vec<Expectation> {
        let mut out = Vec::new();
        for text in raw {
            let parsed = match kind {
                TestKind::Matrix(_) => claims::parse_delivery(text.get_ref()),
                TestKind::Latency(_) => claims::parse_metric(text.get_ref(), LATENCY_METRICS),
                TestKind::Throughput(_) => claims::parse_metric(text.get_ref(), THROUGHPUT_METRICS),
                TestKind::Rfc2544(_) => claims::parse_metric(text.get_ref(), RFC2544_METRICS),
            };
            let claim = match parsed {
                Ok(c) => c,
                Err(e) => {
                    let at = self.inside(&text, e.at);
                    self.error(at, e.message, e.hint);
                    continue;
                }
            };
            if let Claim::Metric { metric, bound, .. } = &claim
                && let Some(unit) = wrong_unit(kind, metric, bound)
            {
                self.error(
                    text.span(),
                    format!("`{metric}` is not measured in {}", unit.0),
                    format!("compare it with {}", unit.1),
                );
                continue;
            }
            if let Claim::Delivery { from, to, .. } = &claim {
                for set in [from, to] {
                    if let NodeSet::Node(n) = set
                        && !stations.contains(n)
                    {
                        self.error(
                            text.span(),
                            format!("there is no station `{n}`"),
                            format!(
                                "name a station ({}) or a group: endpoints, peers, host, all",
                                stations.join(", ")
                            ),
                        );
                    }
                }
            }
            out.push(Expectation {
                text: text.get_ref().clone(),
                claim,
                span: text.span(),
            });
        }
        out
    }

    /// The file span of a byte range inside a string value: exact for a plain quoted string,
    /// the whole value when escapes make offsets differ.
    fn inside(&self, value: &SpannedStr, at: std::ops::Range<usize>) -> Span {
        let span = value.span();
        let raw = &self.source.text[span.clone()];
        let plain = raw.len() == value.get_ref().len() + 2 && !raw.contains('\\');
        if plain {
            span.start + 1 + at.start..span.start + 1 + at.end.max(at.start + 1)
        } else {
            span
        }
    }
}
