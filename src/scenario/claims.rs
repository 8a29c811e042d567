//! Expectations as claims: the one-line strings a scenario lists under a test's `expect`, parsed
//! into typed checks. Two shapes:
//!
//! - delivery claims of a matrix test, `FROM -> TO CLASS[ promiscuous| not-promiscuous][ leaked]:
//!   COUNT`, e.g. `"e1 -> e2 unicast: all"`, `"endpoints -> endpoints broadcast: none"`,
//!   `"peer -> e1 unknown-unicast promiscuous: >= 1"`; FROM and TO are a node name or a group
//!   (`endpoints`, `peers`, `host`, `all`); COUNT is `all` (every frame sent), `none`, or a
//!   comparison with a number;
//! - metric claims of the other tests, `METRIC[@SIZE] OP QUANTITY`, e.g. `"p99 < 200us"`,
//!   `"loss <= 0.01%"`, `"throughput@64 > 100kpps"`.
//!
//! Also owns the quantities those claims and the test settings are written in: durations (`ns`,
//! `us`, `ms`, `s`), rates (`pps`, `kpps`, `Mpps`, `bit/s` forms `kbit`, `Mbit`, `Gbit`), percents
//! and counts. Parsing only; evaluating a claim against results is the verdict's job.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::delivery::FrameClass;

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

/// A frame rate: frames per second, bits per second (counted at layer 1 or 2), or as fast as
/// the sender can.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rate {
    Max,
    Pps(f64),
    /// Bits per second counting each frame's Ethernet bytes (header to FCS).
    BpsL2(f64),
    /// Bits per second counting preamble, start delimiter and inter-frame gap too (20 bytes more a
    /// frame), as a link's line rate does.
    BpsL1(f64),
}

impl Rate {
    /// Frames per second for frames of `frame_size` bytes (FCS included); `None` for `Max`.
    pub fn pps(self, frame_size: u32) -> Option<f64> {
        match self {
            Rate::Max => None,
            Rate::Pps(p) => Some(p),
            Rate::BpsL2(b) => Some(b / (8.0 * f64::from(frame_size))),
            Rate::BpsL1(b) => Some(b / (8.0 * f64::from(frame_size + 20))),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Max => f.write_str("max"),
            Rate::Pps(p) => write!(f, "{} pps", trim(*p)),
            Rate::BpsL2(b) => write!(f, "{} bit/s (L2)", trim(*b)),
            Rate::BpsL1(b) => write!(f, "{} bit/s (L1)", trim(*b)),
        }
    }
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A value with its unit, as written in a claim.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "unit", content = "value", rename_all = "kebab-case")]
pub enum Quantity {
    /// Nanoseconds.
    Time(f64),
    /// Percent (0 to 100).
    Percent(f64),
    /// Frames per second.
    Pps(f64),
    /// Bits per second.
    Bps(f64),
    Count(f64),
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Quantity::Time(ns) if ns >= 1e9 => write!(f, "{} s", trim_f(ns / 1e9)),
            Quantity::Time(ns) if ns >= 1e6 => write!(f, "{} ms", trim_f(ns / 1e6)),
            Quantity::Time(ns) if ns >= 1e3 => write!(f, "{} us", trim_f(ns / 1e3)),
            Quantity::Time(ns) => write!(f, "{} ns", trim_f(ns)),
            Quantity::Percent(p) => write!(f, "{}%", trim_f(p)),
            Quantity::Pps(p) => write!(f, "{} pps", trim_f(p)),
            Quantity::Bps(b) => write!(f, "{} bit/s", trim_f(b)),
            Quantity::Count(c) => write!(f, "{}", trim_f(c)),
        }
    }
}

fn trim_f(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Why a quantity, rate or claim does not parse; `at` is a byte range inside the claim text.
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

/// Splits `12.5kpps` into (12.5, "kpps").
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let number: String = s[..end].chars().filter(|&c| c != '_').collect();
    let value = number.parse::<f64>().ok()?;
    Some((value, s[end..].trim()))
}

const DURATION_HINT: &str = "write a number with ns, us, ms or s, e.g. 200us or 2s";
const RATE_HINT: &str = "write `max`, a frame rate like 100kpps or 1.5Mpps, or a bit rate like 100Mbit (L2) or 1Gbit-l1 (line rate)";

/// Parses `2s`, `500ms`, `200us`, `750ns`.
pub fn parse_duration(s: &str) -> Result<Duration, ClaimError> {
    let whole = 0..s.len();
    let (v, unit) = number_and_unit(s.trim()).ok_or_else(|| {
        err(
            whole.clone(),
            format!("`{s}` is not a duration"),
            DURATION_HINT,
        )
    })?;
    let ns = match unit {
        "ns" => v,
        "us" | "µs" => v * 1e3,
        "ms" => v * 1e6,
        "s" => v * 1e9,
        "m" | "min" => v * 60e9,
        _ => return Err(err(whole, format!("`{s}` has no time unit"), DURATION_HINT)),
    };
    Ok(Duration::from_nanos(ns.round() as u64))
}

/// Parses `max`, `1000pps`, `10kpps`, `1.5Mpps`, `100Mbit` (L2), `1Gbit-l1` (line rate).
pub fn parse_rate(s: &str) -> Result<Rate, ClaimError> {
    let whole = 0..s.len();
    if s.trim() == "max" {
        return Ok(Rate::Max);
    }
    let (v, unit) = number_and_unit(s.trim())
        .ok_or_else(|| err(whole.clone(), format!("`{s}` is not a rate"), RATE_HINT))?;
    let (unit, l1) = match unit.strip_suffix("-l1") {
        Some(u) => (u, true),
        None => (unit.strip_suffix("-l2").unwrap_or(unit), false),
    };
    let scale = |prefix: &str| match prefix {
        "" => Some(1.0),
        "k" => Some(1e3),
        "M" => Some(1e6),
        "G" => Some(1e9),
        _ => None,
    };
    let rate = if let Some(p) = unit.strip_suffix("pps") {
        scale(p).filter(|_| !l1).map(|m| Rate::Pps(v * m))
    } else if let Some(p) = unit
        .strip_suffix("bit")
        .or_else(|| unit.strip_suffix("bit/s"))
    {
        scale(p).map(|m| {
            if l1 {
                Rate::BpsL1(v * m)
            } else {
                Rate::BpsL2(v * m)
            }
        })
    } else {
        None
    };
    match rate {
        Some(Rate::Pps(p) | Rate::BpsL1(p) | Rate::BpsL2(p)) if p <= 0.0 => {
            Err(err(whole, "a rate of zero sends nothing", RATE_HINT))
        }
        Some(r) => Ok(r),
        None => Err(err(whole, format!("`{s}` is not a rate"), RATE_HINT)),
    }
}

/// Parses a claim's right-hand side: a duration, percent, rate or bare count.
pub fn parse_quantity(s: &str) -> Result<Quantity, ClaimError> {
    let whole = 0..s.len();
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        return p.trim().parse::<f64>().map(Quantity::Percent).map_err(|_| {
            err(
                whole,
                format!("`{s}` is not a percentage"),
                "write it like 0.01%",
            )
        });
    }
    if let Ok(d) = parse_duration(t) {
        return Ok(Quantity::Time(d.as_nanos() as f64));
    }
    match parse_rate(t) {
        Ok(Rate::Pps(p)) => return Ok(Quantity::Pps(p)),
        Ok(Rate::BpsL2(b) | Rate::BpsL1(b)) => return Ok(Quantity::Bps(b)),
        _ => {}
    }
    match number_and_unit(t) {
        Some((v, "")) => Ok(Quantity::Count(v)),
        _ => Err(err(
            whole,
            format!("`{s}` is not a number, duration, percentage or rate"),
            "write e.g. 200us, 0.01%, 100kpps or 0",
        )),
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
        metric: String,
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

/// Parses a metric claim; `metrics` are the names this test kind knows.
pub fn parse_metric(text: &str, metrics: &[&str]) -> Result<Claim, ClaimError> {
    let shape = format!(
        "write it as `METRIC[@SIZE] OP VALUE`, with METRIC one of {}",
        metrics.join(", ")
    );
    let t = text.trim_start();
    let name_end = t
        .find(|c: char| c.is_whitespace() || "<>=".contains(c))
        .unwrap_or(t.len());
    let head = &t[..name_end];
    let (metric, size) = match head.split_once('@') {
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
    if !metrics.contains(&metric) {
        return Err(err(
            offset(text, metric),
            format!("`{metric}` is not a metric of this test"),
            shape,
        ));
    }
    let rest = t[name_end..].trim_start();
    let Some((op, skip)) = parse_op(rest) else {
        return Err(err(
            offset(text, rest),
            "a metric claim needs a comparison (<, <=, =, >=, >)",
            shape,
        ));
    };
    let value = &rest[skip..];
    let bound = parse_quantity(value).map_err(|mut e| {
        let base = offset(text, value).start;
        e.at = base + e.at.start..base + e.at.end;
        e
    })?;
    Ok(Claim::Metric {
        metric: metric.to_string(),
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
    fn durations_and_rates() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("200us").unwrap(), Duration::from_micros(200));
        assert_eq!(
            parse_duration("1.5ms").unwrap(),
            Duration::from_micros(1500)
        );
        assert!(parse_duration("2").is_err());
        assert_eq!(parse_rate("max").unwrap(), Rate::Max);
        assert_eq!(parse_rate("10kpps").unwrap(), Rate::Pps(10_000.0));
        assert_eq!(parse_rate("1_000pps").unwrap(), Rate::Pps(1000.0));
        assert_eq!(parse_rate("100Mbit").unwrap(), Rate::BpsL2(1e8));
        assert_eq!(parse_rate("1Gbit-l1").unwrap(), Rate::BpsL1(1e9));
        assert!(parse_rate("0pps").unwrap_err().message.contains("zero"));
        assert!(parse_rate("fast").is_err());
        // 1 Gbit/s line rate carries 1,488,095 64-byte frames a second.
        assert_eq!(Rate::BpsL1(1e9).pps(64).unwrap().floor(), 1_488_095.0);
        assert_eq!(Rate::BpsL2(512e3).pps(64).unwrap(), 1000.0);
    }

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
        let m = ["p50", "p99", "loss", "throughput"];
        assert_eq!(
            parse_metric("p99 < 200us", &m).unwrap(),
            Claim::Metric {
                metric: "p99".into(),
                frame_size: None,
                op: Op::Lt,
                bound: Quantity::Time(200_000.0)
            }
        );
        assert_eq!(
            parse_metric("throughput@64 >= 100kpps", &m).unwrap(),
            Claim::Metric {
                metric: "throughput".into(),
                frame_size: Some(64),
                op: Op::Ge,
                bound: Quantity::Pps(100_000.0)
            }
        );
        assert_eq!(
            parse_metric("loss<=0.01%", &m).unwrap(),
            Claim::Metric {
                metric: "loss".into(),
                frame_size: None,
                op: Op::Le,
                bound: Quantity::Percent(0.01)
            }
        );
        let text = "jitter < 1us";
        let e = parse_metric(text, &m).unwrap_err();
        assert_eq!(&text[e.at.clone()], "jitter");
        assert!(e.hint.contains("p99"));
        let text = "p99 < 200 parsecs";
        let e = parse_metric(text, &m).unwrap_err();
        assert_eq!(&text[e.at.clone()], " 200 parsecs");
        assert!(parse_metric("p99 200us", &m).is_err());
    }

    #[test]
    fn quantities_print_in_readable_units() {
        assert_eq!(Quantity::Time(200_000.0).to_string(), "200 us");
        assert_eq!(Quantity::Time(1_500_000.0).to_string(), "1.5 ms");
        assert_eq!(Quantity::Percent(0.01).to_string(), "0.01%");
        assert_eq!(Quantity::Pps(100_000.0).to_string(), "100000 pps");
    }
}
