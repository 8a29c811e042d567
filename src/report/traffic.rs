//! The frame engine's results by hand (`mvlab gen`, `capture`, `reflect`) as text: what was
//! sent, what arrived per flow (loss, duplicates, reordering, tags, latency), what was reflected.
//! `--json` prints the same results as data.

use std::fmt::Write;

use crate::engine::account::Latency;
use crate::engine::reflect::ReflectReport;
use crate::engine::rx::CaptureReport;
use crate::engine::tx::SendReport;

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// What `mvlab gen` sent.
pub fn send(r: &SendReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sent {} frames ({} bytes) on {} in {:.3} s with {} thread(s)",
        r.frames,
        r.bytes,
        r.iface,
        secs(r.elapsed_ns),
        r.threads
    );
    let _ = writeln!(
        out,
        "  {:.0} frames/s, {:.1} Mbit/s at L2, {:.1} Mbit/s at L1, {} retries",
        r.frames_per_second,
        r.l2_bits_per_second / 1e6,
        r.l1_bits_per_second / 1e6,
        r.retries
    );
    for f in &r.flows {
        let _ = writeln!(
            out,
            "  flow {}: {} frames, {} bytes, {} source MAC(s)",
            f.flow, f.frames, f.bytes, f.source_macs
        );
    }
    out
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn latency_line(l: &Latency) -> String {
    if l.samples == 0 {
        return "no latency samples".into();
    }
    format!(
        "latency us: min {:.1} p50 {:.1} p90 {:.1} p99 {:.1} max {:.1} ({} samples)",
        us(l.min_ns),
        us(l.p50_ns),
        us(l.p90_ns),
        us(l.p99_ns),
        us(l.max_ns),
        l.samples
    )
}

/// What `mvlab capture` counted; `sources` lists every source MAC.
pub fn capture(r: &CaptureReport, sources: bool) -> String {
    let mut out = String::new();
    let rec = &r.received;
    let _ = writeln!(
        out,
        "captured on {} for {:.3} s: {} frames read, {} test frames, {} foreign ({} damaged), {} outgoing",
        r.iface,
        secs(r.elapsed_ns),
        r.frames,
        rec.test_frames,
        rec.foreign.not_test + rec.foreign.damaged,
        rec.foreign.damaged,
        rec.outgoing
    );
    let _ = writeln!(
        out,
        "  kernel: {} packets, {} ring drops{}",
        r.kernel.packets,
        r.kernel.drops,
        if r.kernel.drops > 0 {
            " (the capture fell behind: these frames were delivered but not counted)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  tags: {} untagged, {} single, {} double ({} recovered from metadata)",
        r.tag_depths.untagged,
        r.tag_depths.single,
        r.tag_depths.double,
        r.tag_depths.recovered_from_metadata
    );
    let _ = writeln!(out, "  {}", latency_line(&r.latency));
    for f in &rec.flows {
        let tags: Vec<String> = f
            .tags
            .iter()
            .map(|t| format!("{} x{}", t.tags, t.frames))
            .collect();
        let _ = writeln!(
            out,
            "  flow {}: {} received ({} unique), lost {}, duplicates {}, reordered {}, highest seq {}; {}",
            f.flow,
            f.received,
            f.unique,
            f.lost,
            f.duplicates,
            f.reordered,
            f.highest_sequence,
            latency_line(&f.latency)
        );
        let _ = writeln!(
            out,
            "    from {}, types host {} broadcast {} multicast {} otherhost {}; tags {}",
            f.source
                .map_or("several MACs".to_string(), |m| m.to_string()),
            f.pkttypes.host,
            f.pkttypes.broadcast,
            f.pkttypes.multicast,
            f.pkttypes.otherhost,
            tags.join(", ")
        );
    }
    let _ = writeln!(out, "  {} source MAC(s)", rec.sources.len());
    if sources {
        for s in &rec.sources {
            let _ = writeln!(out, "    {}: {} frames, {} bytes", s.mac, s.frames, s.bytes);
        }
    }
    if let Some(p) = &r.pcap {
        let _ = writeln!(out, "  wrote {} frames to {}", r.pcap_frames, p.display());
    }
    out
}

/// What `mvlab reflect` sent back.
pub fn reflect(r: &ReflectReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "reflected {} of {} test frames on {} in {:.3} s ({} dropped by the kernel, {} send failures, {} foreign, {} damaged)",
        r.reflected,
        r.received,
        r.iface,
        secs(r.elapsed_ns),
        r.dropped,
        r.send_failures,
        r.foreign.not_test,
        r.foreign.damaged
    );
    out
}
