//! Labs as text: what `lab up` built, the labs `lab ls` finds, what `clean` removed, and what
//! `doctor` found this kernel can do.

use std::fmt::Write;

use crate::lab::probe;
use crate::lab::{CleanReport, Inventory, LabSummary};
use crate::scenario::Role;

/// Nodes listed one interface a line up to this many; bigger labs get counts only.
const LISTED_NODES: usize = 24;

/// What `lab up` built: the lab, and each node's interfaces (counts only for big labs).
pub fn summary(inventory: &Inventory) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lab `{}` is up ({} namespaces); remove it with `mvlab lab down {}`",
        inventory.lab,
        inventory.nodes.len(),
        inventory.lab
    );
    if inventory.nodes.len() > LISTED_NODES {
        let endpoints = inventory
            .nodes
            .iter()
            .filter(|n| n.role == Role::Endpoint)
            .count();
        let _ = writeln!(
            out,
            "  {endpoints} endpoints; `mvlab lab ls --json` lists every node, namespace, MAC and address"
        );
        return out;
    }
    for node in &inventory.nodes {
        for iface in &node.interfaces {
            let addrs: Vec<String> = iface
                .ipv4
                .iter()
                .map(ToString::to_string)
                .chain(iface.ipv6.iter().map(ToString::to_string))
                .collect();
            let mode = iface.mode.map(|m| m.as_str()).unwrap_or(&iface.kind);
            let _ = writeln!(
                out,
                "  {:<10} {:<24} {:<12} {} {:<8} {}",
                node.name,
                node.netns,
                iface.name,
                iface.mac,
                mode,
                addrs.join(" ")
            );
        }
    }
    out
}

/// `lab ls`: one line per lab.
pub fn labs(labs: &[LabSummary]) -> String {
    let mut out = String::new();
    if labs.is_empty() {
        out.push_str("no labs\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<20} {:<8} {:<13} {:<16} {:>10} {:>8}",
        "LAB", "PREFIX", "STATUS", "SCENARIO", "NAMESPACES", "OWNER"
    );
    for l in labs {
        let _ = writeln!(
            out,
            "{:<20} {:<8} {:<13} {:<16} {:>10} {:>8}",
            l.lab,
            l.prefix,
            l.status.as_str(),
            l.scenario,
            l.namespaces,
            l.owner_pid
        );
    }
    out
}

/// `clean`: what was removed (or, with `dry_run`, would be) and what was kept.
pub fn cleaned(report: &CleanReport, tracers: &[String], dry_run: bool) -> String {
    let mut out = String::new();
    let verb = if dry_run { "would remove" } else { "removed" };
    for c in &report.removed {
        let _ = writeln!(out, "{verb} lab `{}` ({})", c.lab, c.status.as_str());
    }
    for k in &report.kept {
        let _ = writeln!(out, "kept lab `{}` ({})", k.lab, k.status.as_str());
    }
    for t in tracers {
        let _ = writeln!(
            out,
            "{verb} drop-trace instance {t} of a process that is gone"
        );
    }
    if report.removed.is_empty() && tracers.is_empty() {
        out.push_str("nothing to clean\n");
    }
    out
}

/// What `doctor` found: the kernel's release, then one feature a line.
pub fn doctor(report: &probe::Report) -> String {
    let mut out = format!("kernel {}\n", report.release);
    for p in &report.features {
        let mark = if p.available { "yes" } else { "NO " };
        let _ = writeln!(out, "{mark}  {:<28} {}", p.description, p.detail);
    }
    out
}
