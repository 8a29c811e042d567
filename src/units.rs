//! Units: the one grammar of rates, durations, sizes, percentages and counts that the command
//! line, the scenario files (their keys and their claims) and the engine share, the one `Rate`
//! type they all use, and the bounds every value must lie within.
//!
//! A number is plain decimal digits (`_` may group them), an optional fraction and an optional
//! exponent (`1e3`), never signed. A rate and a duration always carry their unit (a bare `2`
//! could be seconds or milliseconds, frames or bits); a size may (it is bytes without one); a
//! number without a unit is a count. Parsing never panics: a value out of bounds is refused with
//! the bounds in the message and a hint saying what to write instead. Pure: no I/O, and no
//! knowledge of who asks (the callers add the file position or the flag name).

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// Ethernet's frame check sequence: counted in every frame size and bit rate.
pub const FCS_LEN: u32 = 4;
/// Preamble, start delimiter and inter-frame gap: what a line (L1) rate counts beyond the frame.
pub const L1_OVERHEAD: u32 = 20;

/// The shortest duration: one nanosecond, the resolution of every clock mvlab reads.
pub const MIN_DURATION: Duration = Duration::from_nanos(1);
/// The longest duration: a week (168 h). No measurement mvlab makes runs that long; a capture or
/// a reflector meant to run longer is started without a duration and stopped with Ctrl-C.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The slowest frame rate: one frame in about 17 minutes. No test mvlab runs would see a frame
/// at a slower one; such a number is a slip of the unit (pps for kpps), not a plan.
pub const MIN_PPS: f64 = 1e-3;
/// The fastest frame rate: 10 Gpps, eight times what 800 Gbit/s Ethernet carries in its
/// smallest frames (1.19 Gpps): beyond it the number is a typo, not a plan.
pub const MAX_PPS: f64 = 1e10;
/// The slowest bit rate: 1 bit/s, one 64-byte frame in about 9 minutes.
pub const MIN_BPS: f64 = 1.0;
/// The fastest bit rate: 10 Tbit/s, more than ten times any Ethernet link.
pub const MAX_BPS: f64 = 1e13;
/// The largest size: 1 TiB, far above any frame, ring or memory figure mvlab deals with.
pub const MAX_BYTES: u64 = 1 << 40;
/// The largest count: 2^53, the last whole number a claim's bound holds exactly.
pub const MAX_COUNT: f64 = 9_007_199_254_740_992.0;

const DURATION_HINT: &str = "write a number and a unit (ns, us, ms, s, m or h), e.g. 200us or 2s, from 1ns to 168h (7 days)";
const RATE_HINT: &str = "write `max`, a frame rate like 1000pps, 10kpps or 1.5Mpps, or a bit rate like 100Mbit (the frame with its FCS) or 1Gbit-l1 (line rate); frame rates run from 0.001pps to 10Gpps, bit rates from 1bit to 10Tbit";
const SIZE_HINT: &str = "write a number of bytes, bare or with B, kB, MB, GB, KiB, MiB or GiB, e.g. 1514 or 256KiB, at most 1024GiB";
const PERCENT_HINT: &str = "write a percentage from 0% to 100%, e.g. 0.01%";
const COUNT_HINT: &str = "write a number of 0 or more, at most 2^53 (9007199254740992)";
const QUANTITY_HINT: &str =
    "write a number with its unit, e.g. 200us, 0.01%, 100kpps, 1Gbit, 256KiB, or a count like 0";

/// Why a text is not the value asked for: what is wrong and how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}; {hint}")]
pub struct UnitError {
    pub message: String,
    pub hint: String,
}

fn refuse(message: impl Into<String>, hint: impl Into<String>) -> UnitError {
    UnitError {
        message: message.into(),
        hint: hint.into(),
    }
}

/// Which bits a bit rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// The frame with its FCS.
    L2,
    /// The frame, FCS, preamble and inter-frame gap (20 bytes more), as a link's line rate does.
    L1,
}

impl Layer {
    /// The bytes a frame takes at this layer beyond its Ethernet bytes (header to FCS).
    pub fn overhead(self) -> u32 {
        match self {
            Layer::L2 => 0,
            Layer::L1 => L1_OVERHEAD,
        }
    }
}

/// A frame rate: frames per second, bits per second counted at a layer, or as fast as the
/// sender can.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Max,
    /// Frames per second.
    Pps(f64),
    /// Bits per second, counted at `layer`.
    Bits {
        bps: f64,
        layer: Layer,
    },
}

impl Rate {
    /// Frames per second for frames of `frame_size` bytes (Ethernet header to FCS); `None` for
    /// `Max`.
    pub fn pps(self, frame_size: u32) -> Option<f64> {
        match self {
            Rate::Max => None,
            Rate::Pps(p) => Some(p),
            Rate::Bits { bps, layer } => {
                Some(bps / (8.0 * f64::from(frame_size + layer.overhead())))
            }
        }
    }

    /// This rate times `factor` (a sender's share of it); `Max` stays `Max`.
    pub fn scaled(self, factor: f64) -> Rate {
        match self {
            Rate::Max => Rate::Max,
            Rate::Pps(p) => Rate::Pps(p * factor),
            Rate::Bits { bps, layer } => Rate::Bits {
                bps: bps * factor,
                layer,
            },
        }
    }
}

/// `"max"`, `{"pps": 1000}`, `{"bps-l2": 1e8}` or `{"bps-l1": 1e9}`.
impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (key, value) = match *self {
            Rate::Max => return serializer.serialize_str("max"),
            Rate::Pps(p) => ("pps", p),
            Rate::Bits {
                bps,
                layer: Layer::L2,
            } => ("bps-l2", bps),
            Rate::Bits {
                bps,
                layer: Layer::L1,
            } => ("bps-l1", bps),
        };
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(key, &value)?;
        map.end()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rate::Max => f.write_str("max"),
            Rate::Pps(p) => write!(f, "{} pps", whole(p)),
            Rate::Bits {
                bps,
                layer: Layer::L2,
            } => write!(f, "{} bit/s (L2)", whole(bps)),
            Rate::Bits {
                bps,
                layer: Layer::L1,
            } => write!(f, "{} bit/s (L1)", whole(bps)),
        }
    }
}

fn whole(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A value with its unit, as a claim compares a measurement with it.
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
    Bytes(f64),
    Count(f64),
}

impl Quantity {
    /// What kind of value it is, as a sentence says it ("a time").
    pub fn kind(&self) -> &'static str {
        match self {
            Quantity::Time(_) => "a time",
            Quantity::Percent(_) => "a percentage",
            Quantity::Pps(_) | Quantity::Bps(_) => "a rate",
            Quantity::Bytes(_) => "a size",
            Quantity::Count(_) => "a count",
        }
    }

    /// The number, in the unit measurements use (ns, percent, pps, bit/s, bytes, count).
    pub fn value(&self) -> f64 {
        match *self {
            Quantity::Time(v)
            | Quantity::Percent(v)
            | Quantity::Pps(v)
            | Quantity::Bps(v)
            | Quantity::Bytes(v)
            | Quantity::Count(v) => v,
        }
    }

    /// `v` in this quantity's unit.
    pub fn with_value(&self, v: f64) -> Quantity {
        match self {
            Quantity::Time(_) => Quantity::Time(v),
            Quantity::Percent(_) => Quantity::Percent(v),
            Quantity::Pps(_) => Quantity::Pps(v),
            Quantity::Bps(_) => Quantity::Bps(v),
            Quantity::Bytes(_) => Quantity::Bytes(v),
            Quantity::Count(_) => Quantity::Count(v),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: f64 = 1024.0;
        match *self {
            Quantity::Time(ns) if ns >= 1e9 => write!(f, "{} s", short(ns / 1e9)),
            Quantity::Time(ns) if ns >= 1e6 => write!(f, "{} ms", short(ns / 1e6)),
            Quantity::Time(ns) if ns >= 1e3 => write!(f, "{} us", short(ns / 1e3)),
            Quantity::Time(ns) => write!(f, "{} ns", short(ns)),
            Quantity::Percent(p) => write!(f, "{}%", short(p)),
            Quantity::Pps(p) => write!(f, "{} pps", short(p)),
            Quantity::Bps(b) => write!(f, "{} bit/s", short(b)),
            Quantity::Bytes(b) if b >= KIB * KIB * KIB => {
                write!(f, "{} GiB", short(b / KIB.powi(3)))
            }
            Quantity::Bytes(b) if b >= KIB * KIB => write!(f, "{} MiB", short(b / KIB.powi(2))),
            Quantity::Bytes(b) if b >= KIB => write!(f, "{} KiB", short(b / KIB)),
            Quantity::Bytes(b) => write!(f, "{} B", short(b)),
            Quantity::Count(c) => write!(f, "{}", short(c)),
        }
    }
}

fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Splits a trimmed text into its leading number and what follows it (trimmed): the unit.
/// `None` when it does not start with a number. The number is never NaN nor negative (it may be
/// infinite, which every bound refuses), so the bounds below compare it plainly.
fn number(text: &str) -> Option<(f64, &str)> {
    let b = text.as_bytes();
    // Digits, `_` allowed between them.
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && (b[*i].is_ascii_digit() || (*i > start && b[*i] == b'_')) {
            *i += 1;
        }
        *i > start
    };
    let mut end = 0;
    let whole = digits(&mut end);
    let mut fraction = false;
    if b.get(end) == Some(&b'.') {
        end += 1;
        fraction = digits(&mut end);
    }
    if !whole && !fraction {
        return None;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let mut at = end + 1;
        if matches!(b.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let first = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at > first {
            end = at;
        }
    }
    let plain: String = text[..end].chars().filter(|&c| c != '_').collect();
    let value = plain.parse::<f64>().ok()?;
    Some((value, text[end..].trim_start()))
}

/// The number and unit of `text`, or why there is no number: `what` is the kind of value asked
/// for ("a duration"), `hint` how to write one.
fn scan<'a>(text: &'a str, what: &str, hint: &str) -> Result<(f64, &'a str), UnitError> {
    if text.starts_with('-') {
        return Err(refuse(format!("`{text}` is negative"), hint));
    }
    number(text).ok_or_else(|| refuse(format!("`{text}` is not {what}"), hint))
}

fn time_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return None,
    })
}

/// What a rate's unit counts.
#[derive(Clone, Copy)]
enum Counted {
    Frames,
    Bits(Layer),
    /// `pps-l1`: a layer given to a frame rate, which has none.
    FramesAtLayer,
}

/// A rate's unit: its scale and what it counts.
fn rate_unit(unit: &str) -> Option<(f64, Counted)> {
    let split = unit.len().saturating_sub(3);
    let (base, layer) = match unit.get(split..) {
        Some(s) if s.eq_ignore_ascii_case("-l1") => (&unit[..split], Some(Layer::L1)),
        Some(s) if s.eq_ignore_ascii_case("-l2") => (&unit[..split], Some(Layer::L2)),
        _ => (unit, None),
    };
    let (prefix, counted) = match (base.strip_suffix("pps"), layer) {
        (Some(p), None) => (p, Counted::Frames),
        (Some(p), Some(_)) => (p, Counted::FramesAtLayer),
        (None, _) => (
            ["bit/s", "bit", "bps"]
                .iter()
                .find_map(|u| base.strip_suffix(u))?,
            Counted::Bits(layer.unwrap_or(Layer::L2)),
        ),
    };
    let scale = match prefix {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" | "m" => 1e6,
        "G" | "g" => 1e9,
        "T" | "t" => 1e12,
        _ => return None,
    };
    Some((scale, counted))
}

fn size_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "" | "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

/// The error for a number whose unit is missing (`bare` says how to add one) or not one of
/// `what`'s.
fn bad_unit(text: &str, unit: &str, what: &str, hint: &str, bare: String) -> UnitError {
    if unit.is_empty() {
        refuse(format!("`{text}` has no unit"), bare)
    } else {
        refuse(
            format!("`{text}` is not {what}: `{unit}` is not one of its units"),
            hint,
        )
    }
}

/// Parses a duration: `750ns`, `200us` (or `µs`), `1.5ms`, `2s`, `2m` (or `min`), `1h`; from 1 ns
/// to 168 h, rounded to the nanosecond.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let t = text.trim();
    let (value, unit) = scan(t, "a duration", DURATION_HINT)?;
    match time_unit(unit) {
        Some(scale) => duration_of(t, value * scale),
        // Zero is zero in every unit.
        None if value == 0.0 && unit.is_empty() => Err(zero_duration()),
        None => Err(bad_unit(
            t,
            unit,
            "a duration",
            DURATION_HINT,
            format!("write `{t}s` for seconds, or another unit: ns, us, ms, m or h"),
        )),
    }
}

fn zero_duration() -> UnitError {
    refuse(
        "a duration of zero measures nothing",
        "give a duration from 1ns to 168h (7 days), e.g. 2s",
    )
}

fn duration_of(text: &str, ns: f64) -> Result<Duration, UnitError> {
    let max = MAX_DURATION.as_nanos() as f64;
    if ns == 0.0 {
        return Err(zero_duration());
    }
    if ns > max {
        return Err(refuse(
            format!("`{text}` is longer than 168h (7 days), the longest duration mvlab takes"),
            DURATION_HINT,
        ));
    }
    let ns = ns.round();
    if ns < 1.0 {
        return Err(refuse(
            format!("`{text}` is shorter than 1ns, the finest a clock here tells apart"),
            DURATION_HINT,
        ));
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// Parses a rate: `max`; frames per second `1000pps`, `10kpps`, `1.5Mpps`; bits per second
/// `100Mbit`, `100Mbit/s` or `100Mbps` (the frame with its FCS, or with `-l2`), `1Gbit-l1` (the
/// line rate: preamble and gap too). Prefixes k, M, G, T (also written K, m, g, t). Frame rates
/// from 0.001 pps to 10 Gpps, bit rates from 1 bit/s to 10 Tbit/s.
pub fn parse_rate(text: &str) -> Result<Rate, UnitError> {
    let t = text.trim();
    if t == "max" {
        return Ok(Rate::Max);
    }
    let (value, unit) = scan(t, "a rate", RATE_HINT)?;
    match rate_unit(unit) {
        Some((scale, counted)) => {
            let v = rate_of(t, value * scale, counted)?;
            Ok(match counted {
                Counted::Bits(layer) => Rate::Bits { bps: v, layer },
                Counted::Frames | Counted::FramesAtLayer => Rate::Pps(v),
            })
        }
        None if value == 0.0 && unit.is_empty() => Err(zero_rate(t)),
        None => Err(bad_unit(
            t,
            unit,
            "a rate",
            RATE_HINT,
            format!("write `{t}pps` for frames per second, or a bit rate like `{t}Mbit`"),
        )),
    }
}

fn zero_rate(text: &str) -> UnitError {
    refuse(
        format!("a rate must be above zero (`{text}` sends nothing)"),
        RATE_HINT,
    )
}

/// The value of a rate in its base unit (pps or bit/s), checked against the bounds of what it
/// counts.
fn rate_of(text: &str, v: f64, counted: Counted) -> Result<f64, UnitError> {
    let (low, high, name) = match counted {
        Counted::Frames => (MIN_PPS, MAX_PPS, "pps"),
        Counted::Bits(_) => (MIN_BPS, MAX_BPS, "bit/s"),
        Counted::FramesAtLayer => {
            return Err(refuse(
                format!("`{text}`: a frame rate has no layer"),
                "`-l1` and `-l2` say which bits a bit rate counts: write e.g. 1Gbit-l1, or the frame rate alone",
            ));
        }
    };
    if v == 0.0 {
        return Err(zero_rate(text));
    }
    if v > high {
        return Err(refuse(
            format!(
                "`{text}` is faster than {} {name}, the fastest rate mvlab takes",
                whole(high)
            ),
            RATE_HINT,
        ));
    }
    if v < low {
        return Err(refuse(
            format!("`{text}` is slower than {low} {name}, the slowest rate mvlab takes"),
            RATE_HINT,
        ));
    }
    Ok(v)
}

/// Parses a size in bytes: `1514`, `1514B`, `64kB`, `256KiB`, `1MiB`, ...: a whole number of bytes,
/// at most 1024 GiB.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let t = text.trim();
    let (value, unit) = scan(t, "a size", SIZE_HINT)?;
    let scale = size_unit(unit).ok_or_else(|| {
        refuse(
            format!("`{t}` is not a size: `{unit}` is not one of its units"),
            SIZE_HINT,
        )
    })?;
    size_of(t, value * scale)
}

fn size_of(text: &str, bytes: f64) -> Result<u64, UnitError> {
    if bytes > MAX_BYTES as f64 {
        return Err(refuse(
            format!("`{text}` is larger than 1024GiB, the largest size mvlab takes"),
            SIZE_HINT,
        ));
    }
    if bytes.fract() != 0.0 {
        return Err(refuse(
            format!("`{text}` is not a whole number of bytes"),
            SIZE_HINT,
        ));
    }
    Ok(bytes as u64)
}

/// Parses a percentage, `0.01%`, from 0% to 100%.
pub fn parse_percent(text: &str) -> Result<f64, UnitError> {
    let t = text.trim();
    let (value, unit) = scan(t, "a percentage", PERCENT_HINT)?;
    match unit {
        "%" => percent_of(t, value),
        _ => Err(bad_unit(
            t,
            unit,
            "a percentage",
            PERCENT_HINT,
            format!("write `{t}%` for a percentage"),
        )),
    }
}

fn percent_of(text: &str, value: f64) -> Result<f64, UnitError> {
    if value > 100.0 {
        return Err(refuse(
            format!("`{text}` is not a percentage from 0% to 100%"),
            PERCENT_HINT,
        ));
    }
    Ok(value)
}

fn count_of(text: &str, value: f64) -> Result<f64, UnitError> {
    if value > MAX_COUNT {
        return Err(refuse(
            format!("`{text}` is larger than 2^53, the largest count mvlab compares exactly"),
            COUNT_HINT,
        ));
    }
    Ok(value)
}

/// Parses a claim's right-hand side: a duration, percentage, rate or size by its unit, or a count
/// without one, each within its bounds.
pub fn parse_quantity(text: &str) -> Result<Quantity, UnitError> {
    let t = text.trim();
    let (value, unit) = scan(
        t,
        "a number, duration, percentage, rate or size",
        QUANTITY_HINT,
    )?;
    if unit.is_empty() {
        return count_of(t, value).map(Quantity::Count);
    }
    if unit == "%" {
        return percent_of(t, value).map(Quantity::Percent);
    }
    if let Some(scale) = time_unit(unit) {
        return duration_of(t, value * scale).map(|d| Quantity::Time(d.as_nanos() as f64));
    }
    if let Some((scale, counted)) = rate_unit(unit) {
        let v = rate_of(t, value * scale, counted)?;
        return Ok(match counted {
            Counted::Bits(_) => Quantity::Bps(v),
            Counted::Frames | Counted::FramesAtLayer => Quantity::Pps(v),
        });
    }
    if let Some(scale) = size_unit(unit) {
        return size_of(t, value * scale).map(|b| Quantity::Bytes(b as f64));
    }
    Err(refuse(
        format!(
            "`{t}` is not a number, duration, percentage, rate or size: `{unit}` is not a unit"
        ),
        QUANTITY_HINT,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says(e: Result<impl fmt::Debug, UnitError>, what: &str) {
        let e = e.expect_err(what);
        assert!(e.message.contains(what), "{what:?} not in {e:?}");
        assert!(!e.hint.is_empty());
    }

    #[test]
    fn every_time_unit() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("750ns"), Duration::from_nanos(750));
        assert_eq!(d("200us"), Duration::from_micros(200));
        assert_eq!(d("200µs"), Duration::from_micros(200));
        assert_eq!(d("1.5ms"), Duration::from_micros(1500));
        assert_eq!(d("2s"), Duration::from_secs(2));
        assert_eq!(d("2m"), Duration::from_secs(120));
        assert_eq!(d("2min"), Duration::from_secs(120));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        assert_eq!(d(" 200 us "), Duration::from_micros(200));
        assert_eq!(d("1_000ms"), Duration::from_secs(1));
        assert_eq!(d("1e3ms"), Duration::from_secs(1));
        assert_eq!(d(".5s"), Duration::from_millis(500));
    }

    #[test]
    fn durations_are_bounded_and_need_a_unit() {
        assert_eq!(parse_duration("1ns").unwrap(), MIN_DURATION);
        assert_eq!(parse_duration("168h").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration("604800s").unwrap(), MAX_DURATION);
        says(parse_duration("604800.000001s"), "longer than 168h");
        // What used to panic on the command line, or silently saturate in a scenario.
        for huge in [
            "1e99s",
            "1e20s",
            "18446744073709551616s",
            "99999999999999999999s",
            "1e400s",
        ] {
            says(parse_duration(huge), "longer than 168h");
        }
        says(parse_duration("0.4ns"), "shorter than 1ns");
        says(parse_duration("0"), "zero");
        says(parse_duration("0s"), "zero");
        says(parse_duration("-1s"), "negative");
        let e = parse_duration("2").unwrap_err();
        assert!(
            e.message.contains("no unit") && e.hint.contains("`2s`"),
            "{e:?}"
        );
        says(
            parse_duration("2 parsecs"),
            "`parsecs` is not one of its units",
        );
        says(parse_duration("soon"), "not a duration");
    }

    #[test]
    fn every_rate_unit() {
        let r = |s| parse_rate(s).unwrap();
        let bits = |bps, layer| Rate::Bits { bps, layer };
        assert_eq!(r("max"), Rate::Max);
        assert_eq!(r("1000pps"), Rate::Pps(1000.0));
        assert_eq!(r("1_000pps"), Rate::Pps(1000.0));
        assert_eq!(r("10kpps"), Rate::Pps(1e4));
        assert_eq!(r("10Kpps"), Rate::Pps(1e4));
        assert_eq!(r("1.5Mpps"), Rate::Pps(1.5e6));
        assert_eq!(r("1.5mpps"), Rate::Pps(1.5e6));
        assert_eq!(r("1Gpps"), Rate::Pps(1e9));
        assert_eq!(r("500bit"), bits(500.0, Layer::L2));
        assert_eq!(r("64kbit"), bits(64e3, Layer::L2));
        assert_eq!(r("100Mbit"), bits(1e8, Layer::L2));
        assert_eq!(r("100Mbit/s"), bits(1e8, Layer::L2));
        assert_eq!(r("100Mbps"), bits(1e8, Layer::L2));
        assert_eq!(r("100mbit"), bits(1e8, Layer::L2));
        assert_eq!(r("1Gbit-l2"), bits(1e9, Layer::L2));
        assert_eq!(r("1Gbit-l1"), bits(1e9, Layer::L1));
        assert_eq!(r("1Gbps-L1"), bits(1e9, Layer::L1));
        assert_eq!(r("1Tbit"), bits(1e12, Layer::L2));
        assert_eq!(r("1e3pps"), Rate::Pps(1000.0));
    }

    #[test]
    fn rates_are_bounded_and_need_a_unit() {
        assert_eq!(parse_rate("0.001pps").unwrap(), Rate::Pps(MIN_PPS));
        assert_eq!(parse_rate("10Gpps").unwrap(), Rate::Pps(MAX_PPS));
        says(parse_rate("0.0009pps"), "slower than 0.001 pps");
        says(parse_rate("10.1Gpps"), "faster than 10000000000 pps");
        says(parse_rate("1e99pps"), "faster");
        says(parse_rate("18446744073709551616kpps"), "faster");
        assert!(parse_rate("1bit").is_ok() && parse_rate("10Tbit").is_ok());
        says(parse_rate("0.5bit"), "slower than 1 bit/s");
        says(parse_rate("11Tbit"), "faster than 10000000000000 bit/s");
        says(parse_rate("0"), "above zero");
        says(parse_rate("0pps"), "above zero");
        says(parse_rate("0Mbit"), "above zero");
        says(parse_rate("-5pps"), "negative");
        let e = parse_rate("250").unwrap_err();
        assert!(
            e.message.contains("no unit") && e.hint.contains("`250pps`"),
            "{e:?}"
        );
        says(parse_rate("10kpps-l1"), "a frame rate has no layer");
        says(parse_rate("fast"), "not a rate");
        says(parse_rate("10furlongs"), "not a rate");
        says(parse_rate("10Xbit"), "not a rate");
    }

    #[test]
    fn a_rate_in_frames_a_second() {
        // 1 Gbit/s line rate carries 1,488,095 64-byte frames a second.
        let line = Rate::Bits {
            bps: 1e9,
            layer: Layer::L1,
        };
        assert_eq!(line.pps(64).unwrap().floor(), 1_488_095.0);
        let l2 = Rate::Bits {
            bps: 512e3,
            layer: Layer::L2,
        };
        assert_eq!(l2.pps(64).unwrap(), 1000.0);
        assert_eq!(Rate::Pps(7.0).pps(64), Some(7.0));
        assert_eq!(Rate::Max.pps(64), None);
        assert_eq!(Rate::Pps(1000.0).scaled(0.5), Rate::Pps(500.0));
        assert_eq!(Rate::Max.scaled(0.5), Rate::Max);
    }

    #[test]
    fn rates_print_and_serialise_as_before() {
        let json = |r: Rate| serde_json::to_string(&r).unwrap();
        assert_eq!(json(Rate::Max), "\"max\"");
        assert_eq!(json(Rate::Pps(1000.0)), "{\"pps\":1000.0}");
        let l1 = Rate::Bits {
            bps: 1e9,
            layer: Layer::L1,
        };
        assert_eq!(json(l1), "{\"bps-l1\":1000000000.0}");
        assert_eq!(l1.to_string(), "1000000000 bit/s (L1)");
        assert_eq!(Rate::Pps(1000.0).to_string(), "1000 pps");
    }

    #[test]
    fn every_size_unit_and_bound() {
        let b = |s| parse_size(s).unwrap();
        assert_eq!(b("1514"), 1514);
        assert_eq!(b("1514B"), 1514);
        assert_eq!(b("64kB"), 64_000);
        assert_eq!(b("1MB"), 1_000_000);
        assert_eq!(b("1GB"), 1_000_000_000);
        assert_eq!(b("256KiB"), 256 * 1024);
        assert_eq!(b("1.5KiB"), 1536);
        assert_eq!(b("1MiB"), 1 << 20);
        assert_eq!(b("1GiB"), 1 << 30);
        assert_eq!(b("0"), 0);
        assert_eq!(b("1024GiB"), MAX_BYTES);
        says(parse_size("1025GiB"), "larger than 1024GiB");
        says(parse_size("1e99"), "larger than 1024GiB");
        says(parse_size("1.5B"), "not a whole number of bytes");
        says(parse_size("-1"), "negative");
        says(parse_size("1KB"), "`KB` is not one of its units");
    }

    #[test]
    fn percentages_and_counts() {
        assert_eq!(parse_percent("0.01%").unwrap(), 0.01);
        assert_eq!(parse_percent("0%").unwrap(), 0.0);
        assert_eq!(parse_percent("100%").unwrap(), 100.0);
        says(parse_percent("100.1%"), "from 0% to 100%");
        says(parse_percent("1e99%"), "from 0% to 100%");
        let e = parse_percent("5").unwrap_err();
        assert!(e.hint.contains("`5%`"), "{e:?}");
        says(parse_percent("-1%"), "negative");
        assert_eq!(
            parse_quantity("9007199254740992"),
            Ok(Quantity::Count(MAX_COUNT))
        );
        says(parse_quantity("1e16"), "larger than 2^53");
        says(parse_quantity("99999999999999999999"), "larger than 2^53");
    }

    #[test]
    fn a_quantity_is_known_by_its_unit() {
        let q = |s| parse_quantity(s).unwrap();
        assert_eq!(q("200us"), Quantity::Time(200_000.0));
        assert_eq!(q("0.01%"), Quantity::Percent(0.01));
        assert_eq!(q("100kpps"), Quantity::Pps(1e5));
        assert_eq!(q("1Gbit-l1"), Quantity::Bps(1e9));
        assert_eq!(q("300KiB"), Quantity::Bytes(307_200.0));
        assert_eq!(q("1500B"), Quantity::Bytes(1500.0));
        assert_eq!(q("12"), Quantity::Count(12.0));
        says(parse_quantity("200 parsecs"), "`parsecs` is not a unit");
        says(parse_quantity("1e99s"), "longer than 168h");
        says(parse_quantity("0pps"), "above zero");
        says(parse_quantity("lots"), "not a number");
    }

    #[test]
    fn quantities_print_in_readable_units() {
        assert_eq!(Quantity::Time(200_000.0).to_string(), "200 us");
        assert_eq!(Quantity::Time(1_500_000.0).to_string(), "1.5 ms");
        assert_eq!(Quantity::Percent(0.01).to_string(), "0.01%");
        assert_eq!(Quantity::Pps(100_000.0).to_string(), "100000 pps");
        assert_eq!(Quantity::Bytes(307_200.0).to_string(), "300 KiB");
        assert_eq!(Quantity::Bytes(512.0).to_string(), "512 B");
    }

    #[test]
    fn odd_texts_are_refused_without_a_panic() {
        for text in [
            "", " ", ".", "_", "e5", "1e", "1e+", "1e-", "1.e5", "µ", "1µ", "🙂", "1🙂", "-l1",
            "1-l1", "pps", "1.2.3s", "1__0s", "nan", "inf", "1e-400s", "+1s", "1 e3s",
        ] {
            let _ = parse_duration(text);
            let _ = parse_rate(text);
            let _ = parse_size(text);
            let _ = parse_percent(text);
            let _ = parse_quantity(text);
        }
        says(parse_duration("nan"), "not a duration");
        says(parse_rate("inf"), "not a rate");
    }
}
