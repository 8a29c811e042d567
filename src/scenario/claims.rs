//! Expectations as claims: the one-line strings a scenario lists under a test's `expect`, parsed
//! into typed checks. Two shapes:
//!
//! - delivery claims of a matrix test, `FROM -> TO CLASS[ promiscuous| not-promiscuous][ leaked]:
//!   COUNT`, e.g. `"e1 -> e2 unicast: all"`, `"endpoints -> endpoints broadcast: none"`,
//!   `"peer -> e1 unknown-unicast promiscuous: >= 1"`; FROM and TO are a node name or a group
//!   (`endpoints`, `peers`, `host`, `all`); COUNT is `all` (every frame sent), `none`, or a
//!   comparison with a number;
//! - metric claims of the other tests, `METRIC[@SIZE] OP QUANTITY`, e.g. `"p99 < 200us"`,
//!   `"loss <= 0.01%"`, `"throughput@64 > 100kpps"`: METRIC one of the test kind's (`metrics`),
//!   QUANTITY in the units grammar (`crate::units`).
//!
//! Parsing only; evaluating a claim against results is the verdict's job.

use serde::Serialize;

use super::metrics::{Metric, MetricSet};
use crate::delivery::FrameClass;
use crate::units::{self, Quantity};

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
}

impl Op {
    pub fn holds(self, measured: f64, bound: f64) -> bool {
        match self {
            Op::Lt => measured < bound,
            Op::Le => measured <= bound,
            Op::Eq => measured == bound,
            Op::Ge => measured >= bound,
            Op::Gt => measured > bound,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }
}

/// Why a claim does not parse; `at` is a byte range inside the claim text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimError {
    pub at: std::ops::Range<usize>,
    pub message: String,
    pub hint: String,
}

fn err(
    at: std::ops::Range<usize>,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> ClaimError {
    ClaimError {
        at,
        message: message.into(),
        hint: hint.into(),
    }
}

/// A group of nodes a delivery claim speaks of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeSet {
    Node(String),
    Endpoints,
    Peers,
    /// The host's interfaces (its parents and shim).
    Host,
    All,
}

impl NodeSet {
    fn parse(word: &str) -> NodeSet {
        match word {
            "endpoints" => NodeSet::Endpoints,
            "peers" => NodeSet::Peers,
            "host" => NodeSet::Host,
            "all" => NodeSet::All,
            other => NodeSet::Node(other.to_string()),
        }
    }
}

/// How many frames a delivery claim expects in each matching cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CountCheck {
    /// Every frame sent (the cell's `sent`).
    All,
    None,
    Compare(Op, u64),
}

/// One parsed claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "shape", rename_all = "kebab-case")]
pub enum Claim {
    Delivery {
        from: NodeSet,
        to: NodeSet,
        class: FrameClass,
        /// `None`: both passes.
        promiscuous: Option<bool>,
        /// Speaks of `leaked` instead of `received`.
        leaked: bool,
        count: CountCheck,
    },
    Metric {
        metric: Metric,
        /// `@SIZE`: the frame size (bytes, FCS included) the metric is read at.
        frame_size: Option<u32>,
        op: Op,
        bound: Quantity,
    },
}

fn parse_op(s: &str) -> Option<(Op, usize)> {
    [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("==", Op::Eq),
        ("=", Op::Eq),
    ]
    .into_iter()
    .find(|(tok, _)| s.starts_with(tok))
    .map(|(tok, op)| (op, tok.len()))
}

/// Where `needle` (a sub-slice of `text`) sits in `text`.
fn offset(text: &str, needle: &str) -> std::ops::Range<usize> {
    let start = needle.as_ptr() as usize - text.as_ptr() as usize;
    start..start + needle.len()
}

/// Parses a delivery claim of a matrix test.
pub fn parse_delivery(text: &str) -> Result<Claim, ClaimError> {
    const SHAPE: &str = "write it as `FROM -> TO CLASS[ promiscuous| not-promiscuous][ leaked]: COUNT`, e.g. `e1 -> e2 unicast: all`";
    if !text.contains("->") && text.contains(['<', '>', '=']) {
        return Err(err(
            0..text.len(),
            "this compares a metric, but a matrix test's claims are about delivery",
            format!(
                "{SHAPE}; metrics (loss, p99, ...) are claimed by latency, throughput and the other measuring tests"
            ),
        ));
    }
    // Station names may hold a colon (`host:eth0`); the count never does.
    let Some((lhs, rhs)) = text.rsplit_once(':') else {
        return Err(err(
            0..text.len(),
            "a delivery claim needs `: COUNT` at the end",
            SHAPE,
        ));
    };
    let Some((from, rest)) = lhs.split_once("->") else {
        return Err(err(
            offset(text, lhs),
            "a delivery claim needs `FROM -> TO`",
            SHAPE,
        ));
    };
    let from = from.trim();
    if from.is_empty() || from.contains(char::is_whitespace) {
        return Err(err(
            offset(text, lhs),
            "name one sender or group before `->`",
            SHAPE,
        ));
    }
    let mut words = rest.split_whitespace();
    let (Some(to), Some(class_word)) = (words.next(), words.next()) else {
        return Err(err(
            offset(text, rest),
            "a delivery claim needs a receiver and a frame class after `->`",
            SHAPE,
        ));
    };
    let class: FrameClass = class_word
        .parse()
        .map_err(|e: crate::delivery::BadFrameClass| {
            err(offset(text, class_word), e.to_string(), SHAPE)
        })?;
    let mut promiscuous = None;
    let mut leaked = false;
    for w in words {
        match w {
            "promiscuous" => promiscuous = Some(true),
            "not-promiscuous" => promiscuous = Some(false),
            "leaked" => leaked = true,
            other => {
                return Err(err(
                    offset(text, other),
                    format!("`{other}` is not a qualifier"),
                    "qualifiers are `promiscuous`, `not-promiscuous` and `leaked`",
                ));
            }
        }
    }
    let count_text = rhs.trim();
    let count = match count_text {
        "all" => CountCheck::All,
        "none" => CountCheck::None,
        c => {
            let (op, skip) = parse_op(c).unwrap_or((Op::Eq, 0));
            let n = c[skip..].trim().parse::<u64>().map_err(|_| {
                err(
                    offset(text, rhs),
                    format!("`{count_text}` is not a frame count"),
                    "write `all`, `none`, a number, or a comparison like `>= 1`",
                )
            })?;
            CountCheck::Compare(op, n)
        }
    };
    if leaked && count == CountCheck::All {
        return Err(err(
            offset(text, rhs),
            "`leaked: all` has no meaning",
            "a leak count is `none` or a comparison like `<= 2`",
        ));
    }
    Ok(Claim::Delivery {
        from: NodeSet::parse(from),
        to: NodeSet::parse(to),
        class,
        promiscuous,
        leaked,
        count,
    })
}

/// Parses a metric claim of a test of the kind `metrics` names.
pub fn parse_metric(text: &str, metrics: MetricSet) -> Result<Claim, ClaimError> {
    let shape = format!(
        "write it as `METRIC[@SIZE] OP VALUE`, with METRIC one of {}",
        metrics.names().join(", ")
    );
    let t = text.trim_start();
    let name_end = t
        .find(|c: char| c.is_whitespace() || "<>=".contains(c))
        .unwrap_or(t.len());
    let head = &t[..name_end];
    let (name, size) = match head.split_once('@') {
        Some((m, s)) => {
            let size = s.parse::<u32>().map_err(|_| {
                err(
                    offset(text, s),
                    format!("`{s}` is not a frame size"),
                    "write the size in bytes with FCS, e.g. throughput@64",
                )
            })?;
            (m, Some(size))
        }
        None => (head, None),
    };
    let Some(metric) = metrics.parse(name) else {
        return Err(err(
            offset(text, name),
            format!("`{name}` is not a metric of this test"),
            shape,
        ));
    };
    let rest = t[name_end..].trim_start();
    let Some((op, skip)) = parse_op(rest) else {
        return Err(err(
            offset(text, rest),
            "a metric claim needs a comparison (<, <=, =, >=, >)",
            shape,
        ));
    };
    let value = &rest[skip..];
    let bound =
        units::parse_quantity(value).map_err(|e| err(offset(text, value), e.message, e.hint))?;
    Ok(Claim::Metric {
        metric,
        frame_size: size,
        op,
        bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Addressing;

    #[test]
    fn delivery_claims() {
        assert_eq!(
            parse_delivery("e1 -> e2 unicast: all").unwrap(),
            Claim::Delivery {
                from: NodeSet::Node("e1".into()),
                to: NodeSet::Node("e2".into()),
                class: FrameClass::untagged(Addressing::Unicast),
                promiscuous: None,
                leaked: false,
                count: CountCheck::All
            }
        );
        let c =
            parse_delivery("endpoints -> peers broadcast-tagged promiscuous leaked: <= 3").unwrap();
        assert!(matches!(
            c,
            Claim::Delivery {
                from: NodeSet::Endpoints,
                to: NodeSet::Peers,
                promiscuous: Some(true),
                leaked: true,
                count: CountCheck::Compare(Op::Le, 3),
                ..
            }
        ));
        for metric in ["loss = 0%", "p99 < 1ms", "throughput >= 1Gbit"] {
            let e = parse_delivery(metric).unwrap_err();
            assert!(e.message.contains("compares a metric"), "{metric}: {e:?}");
            assert_eq!(e.at, 0..metric.len());
        }
        let c = parse_delivery("host:eth0 -> host:shim0 broadcast: none").unwrap();
        assert!(
            matches!(c, Claim::Delivery { from: NodeSet::Node(ref f), to: NodeSet::Node(ref t), count: CountCheck::None, .. } if f == "host:eth0" && t == "host:shim0")
        );
        let e = parse_delivery("e1 -> e2 anycast: all").unwrap_err();
        assert_eq!(&"e1 -> e2 anycast: all"[e.at.clone()], "anycast");
        let e = parse_delivery("e1 -> e2 unicast: lots").unwrap_err();
        assert!(e.message.contains("lots"));
        assert!(parse_delivery("e1 e2 unicast: all").is_err());
        assert!(parse_delivery("e1 -> e2 unicast loudly: all").is_err());
    }

    #[test]
    fn metric_claims() {
        use crate::scenario::metrics::{LatencyMetric, Rfc2544Metric};
        let m = MetricSet::Latency;
        assert_eq!(
            parse_metric("p99 < 200us", m).unwrap(),
            Claim::Metric {
                metric: Metric::Latency(LatencyMetric::P99),
                frame_size: None,
                op: Op::Lt,
                bound: Quantity::Time(200_000.0)
            }
        );
        assert_eq!(
            parse_metric("throughput@64 >= 100kpps", MetricSet::Rfc2544).unwrap(),
            Claim::Metric {
                metric: Metric::Rfc2544(Rfc2544Metric::Throughput),
                frame_size: Some(64),
                op: Op::Ge,
                bound: Quantity::Pps(100_000.0)
            }
        );
        assert_eq!(
            parse_metric("loss<=0.01%", m).unwrap(),
            Claim::Metric {
                metric: Metric::Latency(LatencyMetric::Loss),
                frame_size: None,
                op: Op::Le,
                bound: Quantity::Percent(0.01)
            }
        );
        let text = "jitter < 1us";
        let e = parse_metric(text, m).unwrap_err();
        assert_eq!(&text[e.at.clone()], "jitter");
        assert!(e.hint.contains("p99"));
        let text = "p99 < 200 parsecs";
        let e = parse_metric(text, m).unwrap_err();
        assert_eq!(&text[e.at.clone()], " 200 parsecs");
        assert!(parse_metric("p99 200us", m).is_err());
    }

    #[test]
    fn out_of_bounds_values_are_refused_at_the_value() {
        let m = MetricSet::Latency;
        for text in ["p99 < 1e99s", "p99 < 99999999999999999999s", "loss < 101%"] {
            let e = parse_metric(text, m).unwrap_err();
            let value = &text[text.find('<').unwrap() + 1..];
            assert_eq!(&text[e.at.clone()], value, "{text}");
            assert!(!e.hint.is_empty());
        }
        let e = parse_metric("p99 < 1e99s", m).unwrap_err();
        assert!(e.message.contains("longer than 168h"), "{}", e.message);
        let e = parse_metric("p99 < 0.1ns", m).unwrap_err();
        assert!(e.message.contains("shorter than 1ns"), "{}", e.message);
    }
}
