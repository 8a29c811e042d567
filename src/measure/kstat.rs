//! The kernel's own accounts, as the exhaustion tests read them: memory (/proc/meminfo,
//! /proc/slabinfo), the per-CPU input backlog (/proc/net/softnet_stat), the neighbour tables'
//! statistics and limits (/proc/net/stat/{arp,ndisc}_cache, the gc_thresh sysctls), and the
//! `skb:kfree_skb` tracepoint with its drop reasons and locations, read through a tracefs
//! instance of our own. Owns the parsing of those files (pure, unit-tested on captured text) and
//! the tracer's lifecycle (its instance is removed on every path out). It only reads: it never
//! writes a sysctl, and it mounts nothing (without tracefs the tracer says how to mount it).
//! Every figure here is machine-wide, so a measurement reads them before and after its own
//! traffic and reports the difference.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

/// Memory figures of /proc/meminfo, in kB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    pub available_kb: u64,
    /// Slab allocator, reclaimable and not.
    pub slab_kb: u64,
    pub unreclaimable_slab_kb: u64,
    pub percpu_kb: u64,
}

/// Parses /proc/meminfo text; missing lines read as 0.
pub fn parse_meminfo(text: &str) -> Memory {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        available_kb: field("MemAvailable"),
        slab_kb: field("Slab"),
        unreclaimable_slab_kb: field("SUnreclaim"),
        percpu_kb: field("Percpu"),
    }
}

pub fn memory() -> Memory {
    parse_meminfo(&fs::read_to_string("/proc/meminfo").unwrap_or_default())
}

/// Bytes held by each slab cache (objects times object size), from /proc/slabinfo.
pub fn parse_slabinfo(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter(|l| !l.starts_with("slabinfo") && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next()?.to_string();
            let _active: u64 = f.next()?.parse().ok()?;
            let objects: u64 = f.next()?.parse().ok()?;
            let size: u64 = f.next()?.parse().ok()?;
            Some((name, objects * size))
        })
        .collect()
}

/// The slab caches; empty when /proc/slabinfo cannot be read (it needs root).
pub fn slabs() -> HashMap<String, u64> {
    parse_slabinfo(&fs::read_to_string("/proc/slabinfo").unwrap_or_default())
}

/// One slab cache's growth between two readings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlabGrowth {
    pub cache: String,
    /// Bytes added (negative when it shrank).
    pub bytes: i64,
}

/// The `n` caches that grew most from `before` to `after`, largest first.
pub fn slab_growth(
    before: &HashMap<String, u64>,
    after: &HashMap<String, u64>,
    n: usize,
) -> Vec<SlabGrowth> {
    let mut grown: Vec<SlabGrowth> = after
        .iter()
        .map(|(cache, &bytes)| SlabGrowth {
            cache: cache.clone(),
            bytes: bytes as i64 - before.get(cache).copied().unwrap_or(0) as i64,
        })
        .filter(|g| g.bytes > 0)
        .collect();
    grown.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.cache.cmp(&b.cache)));
    grown.truncate(n);
    grown
}

/// The input backlog's counters summed over every CPU (/proc/net/softnet_stat).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Softnet {
    /// Frames refused because a CPU's backlog held `netdev_max_backlog` already.
    pub dropped: u64,
    /// Times the receive softirq ran out of budget with work left.
    pub time_squeeze: u64,
}

impl Softnet {
    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Softnet) -> Softnet {
        Softnet {
            dropped: self.dropped.saturating_sub(before.dropped),
            time_squeeze: self.time_squeeze.saturating_sub(before.time_squeeze),
        }
    }
}

fn hex(field: Option<&str>) -> u64 {
    field
        .and_then(|f| u64::from_str_radix(f, 16).ok())
        .unwrap_or(0)
}

pub fn parse_softnet(text: &str) -> Softnet {
    let mut total = Softnet::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        // The first column counts frames processed: nothing here needs it.
        f.next();
        total.dropped += hex(f.next());
        total.time_squeeze += hex(f.next());
    }
    total
}

pub fn softnet() -> Softnet {
    parse_softnet(&fs::read_to_string("/proc/net/softnet_stat").unwrap_or_default())
}

/// A neighbour table's statistics (/proc/net/stat/arp_cache or ndisc_cache): `entries` is the
/// table's size now, the rest are counts since boot summed over every CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighbourStats {
    pub entries: u64,
    pub allocs: u64,
    pub destroys: u64,
    pub res_failed: u64,
    pub forced_gc_runs: u64,
    pub unresolved_discards: u64,
    /// Entries the kernel refused to create because the table held `gc_thresh3` and a forced
    /// garbage collection freed nothing.
    pub table_fulls: u64,
}

impl NeighbourStats {
    /// The counts between `before` and `self`; `entries` stays the current size.
    pub fn since(&self, before: &NeighbourStats) -> NeighbourStats {
        NeighbourStats {
            entries: self.entries,
            allocs: self.allocs.saturating_sub(before.allocs),
            destroys: self.destroys.saturating_sub(before.destroys),
            res_failed: self.res_failed.saturating_sub(before.res_failed),
            forced_gc_runs: self.forced_gc_runs.saturating_sub(before.forced_gc_runs),
            unresolved_discards: self
                .unresolved_discards
                .saturating_sub(before.unresolved_discards),
            table_fulls: self.table_fulls.saturating_sub(before.table_fulls),
        }
    }
}

pub fn parse_neighbour_stats(text: &str) -> NeighbourStats {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return NeighbourStats::default();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let mut s = NeighbourStats::default();
    for (i, line) in lines.enumerate() {
        let values: Vec<u64> = line.split_whitespace().map(|v| hex(Some(v))).collect();
        let get = |name: &str| at(name).and_then(|c| values.get(c).copied()).unwrap_or(0);
        if i == 0 {
            // The table's size is global: every CPU's line repeats it.
            s.entries = get("entries");
        }
        s.allocs += get("allocs");
        s.destroys += get("destroys");
        s.res_failed += get("res_failed");
        s.forced_gc_runs += get("forced_gc_runs");
        s.unresolved_discards += get("unresolved_discards");
        s.table_fulls += get("table_fulls");
    }
    s
}

/// An address family's neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeighbourTable {
    /// IPv4 ARP (`arp_cache`).
    Arp,
    /// IPv6 neighbour discovery (`ndisc_cache`).
    Ndisc,
}

impl NeighbourTable {
    pub fn as_str(self) -> &'static str {
        match self {
            NeighbourTable::Arp => "arp",
            NeighbourTable::Ndisc => "ndisc",
        }
    }

    fn stat_file(self) -> &'static str {
        match self {
            NeighbourTable::Arp => "/proc/net/stat/arp_cache",
            NeighbourTable::Ndisc => "/proc/net/stat/ndisc_cache",
        }
    }

    fn sysctl_dir(self) -> &'static str {
        match self {
            NeighbourTable::Arp => "/proc/sys/net/ipv4/neigh/default",
            NeighbourTable::Ndisc => "/proc/sys/net/ipv6/neigh/default",
        }
    }

    pub fn stats(self) -> NeighbourStats {
        parse_neighbour_stats(&fs::read_to_string(self.stat_file()).unwrap_or_default())
    }

    /// `gc_thresh1`, `gc_thresh2`, `gc_thresh3`: global to the machine, read, never written.
    pub fn thresholds(self) -> [u64; 3] {
        let read = |n: u32| {
            read_number(&Path::new(self.sysctl_dir()).join(format!("gc_thresh{n}"))).unwrap_or(0)
        };
        [read(1), read(2), read(3)]
    }
}

fn read_number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `net.core.netdev_max_backlog`: frames a CPU's input backlog holds.
pub fn netdev_max_backlog() -> Option<u64> {
    read_number(Path::new("/proc/sys/net/core/netdev_max_backlog"))
}

/// Where the kernel freed frames it did not deliver, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropSite {
    /// The kernel function that dropped them (`macvlan_broadcast_enqueue`).
    pub location: String,
    /// The drop reason (`NOT_SPECIFIED`, `CPU_BACKLOG`, ...).
    pub reason: String,
    pub frames: u64,
}

impl DropSite {
    /// A broadcast the macvlan port's queue refused: freed in `macvlan_broadcast_enqueue`,
    /// which the compiler may inline into `macvlan_handle_frame` (whose other frees are of
    /// source-mode frames and of frames for a device that is down).
    pub fn is_macvlan_queue_refusal(&self) -> bool {
        self.location == "macvlan_broadcast_enqueue"
            || (self.location == "macvlan_handle_frame" && self.reason == "NOT_SPECIFIED")
    }

    /// What the drop means, as "lost at X because Y".
    pub fn explain(&self) -> (String, String) {
        let (at, because) = match (self.location.as_str(), self.reason.as_str()) {
            _ if self.is_macvlan_queue_refusal() => (
                "the parent's macvlan broadcast queue",
                "the queue already held `bcqueuelen` frames waiting for the broadcast worker",
            ),
            (_, "CPU_BACKLOG") => (
                "a CPU's input backlog",
                "it already held net.core.netdev_max_backlog frames",
            ),
            (_, "QDISC_DROP" | "QDISC_OVERLIMIT") => {
                ("a transmit queue (qdisc)", "the queue was full")
            }
            (_, "NOMEM") => ("an allocation", "the kernel was out of memory"),
            (_, "FULL_RING") => ("a packet socket's ring", "the ring was full"),
            (_, "SOCKET_RCVBUFF") => ("a socket's receive buffer", "it was full"),
            (_, "OTHERHOST") => (
                "the receiving stack",
                "the frame was addressed to another host",
            ),
            (_, "NEIGH_CREATEFAIL") => (
                "neighbour resolution",
                "the neighbour table could not take another entry",
            ),
            _ => ("", ""),
        };
        if at.is_empty() {
            (
                self.location.clone(),
                format!("drop reason {}", self.reason),
            )
        } else {
            (format!("{at} ({})", self.location), because.to_string())
        }
    }
}

/// What a tracer saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropReport {
    /// Drop sites, most frames first.
    pub sites: Vec<DropSite>,
    /// Events the trace buffer could not hold (the sites then undercount).
    pub lost_events: u64,
}

/// The reason numbers of `skb:kfree_skb`, from its format file's `__print_symbolic` list.
pub fn parse_reasons(format: &str) -> HashMap<String, u32> {
    let Some(start) = format.find("__print_symbolic(REC->reason") else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for pair in format[start..].split('{').skip(1) {
        let Some((number, rest)) = pair.split_once(',') else {
            continue;
        };
        let name = rest.split('"').nth(1);
        if let (Ok(n), Some(name)) = (number.trim().parse::<u32>(), name) {
            out.insert(name.to_string(), n);
        }
    }
    out
}

/// Drop sites counted from `trace` text of `kfree_skb` events.
pub fn parse_trace(text: &str) -> Vec<DropSite> {
    let mut counts: HashMap<(String, String), u64> = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(event) = line.split_once("kfree_skb:").map(|(_, e)| e) else {
            continue;
        };
        let location = event
            .split_whitespace()
            .find_map(|w| w.strip_prefix("location="))
            .map(|l| l.split('+').next().unwrap_or(l).to_string());
        let reason = event
            .split_once("reason: ")
            .map(|(_, r)| r.split_whitespace().next().unwrap_or("").to_string());
        if let (Some(location), Some(reason)) = (location, reason) {
            *counts.entry((location, reason)).or_default() += 1;
        }
    }
    let mut sites: Vec<DropSite> = counts
        .into_iter()
        .map(|((location, reason), frames)| DropSite {
            location,
            reason,
            frames,
        })
        .collect();
    sites.sort_by(|a, b| {
        b.frames
            .cmp(&a.frames)
            .then_with(|| a.location.cmp(&b.location))
    });
    sites
}

/// Where tracefs is mounted.
const TRACEFS: &str = "/sys/kernel/tracing";
/// Per-CPU trace buffer of our instance (kB): room for about 80,000 events a CPU.
const BUFFER_KB: u32 = 8192;

/// The `skb:kfree_skb` tracepoint, enabled in a tracefs instance of our own for frames of one
/// EtherType; reasons listed as ignored are filtered out in the kernel. Dropping it removes the
/// instance.
#[derive(Debug)]
pub struct DropTracer {
    dir: PathBuf,
}

impl DropTracer {
    /// Starts tracing drops of frames whose `skb->protocol` is one of `protocols`, except those
    /// with a reason in `ignore` (e.g. `UNHANDLED_PROTO`: a frame no protocol wanted, after every
    /// packet socket saw it). `Err` says why tracing is not possible and how to fix it.
    pub fn start(protocols: &[u16], ignore: &[&str]) -> Result<DropTracer, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let root = Path::new(TRACEFS);
        let event = root.join("events/skb/kfree_skb");
        let format = fs::read_to_string(event.join("format")).map_err(|e| {
            format!(
                "the skb:kfree_skb tracepoint is not readable at {} ({e}); mount tracefs there (mount -t tracefs nodev {TRACEFS}) as root",
                event.display()
            )
        })?;
        let reasons = parse_reasons(&format);
        let wanted: Vec<String> = protocols
            .iter()
            .map(|p| format!("protocol == {p}"))
            .collect();
        let mut filter = format!("({})", wanted.join(" || "));
        for name in ignore {
            let n = reasons.get(*name).ok_or_else(|| {
                format!("this kernel's skb:kfree_skb has no drop reason {name}, so the trace could not leave those drops out")
            })?;
            filter.push_str(&format!(" && reason != {n}"));
        }
        let dir = root.join("instances").join(format!(
            "mvlab-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&dir)
            .map_err(|e| format!("creating the tracefs instance {}: {e}", dir.display()))?;
        let tracer = DropTracer { dir };
        let write = |file: &str, value: &str| {
            fs::write(tracer.dir.join(file), value)
                .map_err(|e| format!("writing `{value}` to {file} of our tracefs instance: {e}"))
        };
        write("buffer_size_kb", &BUFFER_KB.to_string())?;
        write("events/skb/kfree_skb/filter", &filter)?;
        write("events/skb/kfree_skb/enable", "1")?;
        Ok(tracer)
    }

    /// Stops tracing and counts what was seen.
    pub fn stop(self) -> Result<DropReport, String> {
        let _ = fs::write(self.dir.join("events/skb/kfree_skb/enable"), "0");
        let trace = fs::read_to_string(self.dir.join("trace"))
            .map_err(|e| format!("reading the drop trace: {e}"))?;
        let mut lost_events = 0;
        if let Ok(cpus) = fs::read_dir(self.dir.join("per_cpu")) {
            for cpu in cpus.flatten() {
                let stats = fs::read_to_string(cpu.path().join("stats")).unwrap_or_default();
                lost_events += stats
                    .lines()
                    .filter_map(|l| l.strip_prefix("overrun:"))
                    .filter_map(|v| v.trim().parse::<u64>().ok())
                    .sum::<u64>();
            }
        }
        Ok(DropReport {
            sites: parse_trace(&trace),
            lost_events,
        })
    }
}

/// The tracefs instances (`instances/mvlab-<pid>-<n>`) of drop tracers whose process is gone: a
/// killed run's, whose `Drop` never ran (their kfree_skb event stays enabled and their buffers
/// allocated). Removes them unless `dry_run`; returns their names, or why they could not be
/// removed. Without tracefs there is nothing to find.
pub fn orphaned_tracers(dry_run: bool) -> (Vec<String>, Vec<String>) {
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    let Ok(entries) = fs::read_dir(Path::new(TRACEFS).join("instances")) else {
        return (found, errors);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("mvlab-")
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, n)| n.parse::<u32>().ok().and(pid.parse::<u32>().ok()))
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if !dry_run {
            let _ = fs::write(entry.path().join("events/skb/kfree_skb/enable"), "0");
            if let Err(e) = fs::remove_dir(entry.path()) {
                errors.push(format!("removing the tracefs instance {name}: {e}"));
                continue;
            }
        }
        found.push(name);
    }
    (found, errors)
}

impl Drop for DropTracer {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("events/skb/kfree_skb/enable"), "0");
        // The instance is ours; removing it frees its buffers.
        let _ = fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_fields_in_kb() {
        let m = parse_meminfo(
            "MemTotal:       24684164 kB\nMemAvailable:   22901100 kB\nSlab:             515620 kB\nSReclaimable:     453916 kB\nSUnreclaim:        61704 kB\nPercpu:             2184 kB\n",
        );
        assert_eq!(
            m,
            Memory {
                available_kb: 22_901_100,
                slab_kb: 515_620,
                unreclaimable_slab_kb: 61_704,
                percpu_kb: 2_184
            }
        );
        assert_eq!(parse_meminfo(""), Memory::default());
    }

    #[test]
    fn slab_caches_and_their_growth() {
        let header = "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> ...\n";
        let before = parse_slabinfo(&format!(
            "{header}kmalloc-1k   10   16   1024   16    4 : tunables 0 0 0 : slabdata 1 1 0\nnet_namespace  2  3  8192  3  8 : tunables 0 0 0 : slabdata 1 1 0\n"
        ));
        assert_eq!(before["kmalloc-1k"], 16 * 1024);
        let after = parse_slabinfo(&format!(
            "{header}kmalloc-1k   40   48   1024   16    4 : tunables 0 0 0 : slabdata 3 3 0\nnet_namespace  9  9  8192  3  8 : tunables 0 0 0 : slabdata 3 3 0\nnew_cache 1 1 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n"
        ));
        let g = slab_growth(&before, &after, 2);
        assert_eq!(
            g,
            [
                SlabGrowth {
                    cache: "net_namespace".into(),
                    bytes: 6 * 8192
                },
                SlabGrowth {
                    cache: "kmalloc-1k".into(),
                    bytes: 32 * 1024
                }
            ]
        );
    }

    #[test]
    fn softnet_sums_every_cpu_in_hex() {
        let s = parse_softnet(
            "0000000a 00000002 00000001 00000000\n00000010 00000003 00000000 00000000\n",
        );
        assert_eq!(
            s,
            Softnet {
                dropped: 5,
                time_squeeze: 1
            }
        );
        assert_eq!(s.since(&Softnet { dropped: 1, ..s }).dropped, 4);
    }

    #[test]
    fn neighbour_stats_keep_entries_once_and_sum_the_rest() {
        let text = "entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls\n\
00000400 000002ab 000002e7 00000001   0002157e 000000ff 00000004   00000000         00000000         000001e2         00000003       00000001            00000007\n\
00000400 000002f9 000002bb 00000000   0002d920 0000012f 00000005   00000000         00000000         00000000         00000002       00000000            00000001\n";
        let s = parse_neighbour_stats(text);
        assert_eq!(s.entries, 1024);
        assert_eq!(s.allocs, 0x2ab + 0x2f9);
        assert_eq!(s.res_failed, 9);
        assert_eq!(s.forced_gc_runs, 5);
        assert_eq!(s.unresolved_discards, 1);
        assert_eq!(s.table_fulls, 8);
        let before = NeighbourStats {
            table_fulls: 6,
            ..s
        };
        assert_eq!(s.since(&before).table_fulls, 2);
        assert_eq!(s.since(&before).entries, 1024);
    }

    #[test]
    fn drop_reasons_come_from_the_format_file() {
        let format = r#"print fmt: "skbaddr=%p rx_sk=%p protocol=%u location=%pS reason: %s", REC->skbaddr, REC->rx_sk, REC->protocol, REC->location, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 71, "CPU_BACKLOG" }, { 74, "UNHANDLED_PROTO" })"#;
        let r = parse_reasons(format);
        assert_eq!(r["UNHANDLED_PROTO"], 74);
        assert_eq!(r["NOT_SPECIFIED"], 2);
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn trace_lines_count_per_location_and_reason() {
        let text = "# tracer: nop\n#\n\
kworker/u8:1-77 [001] ..s1. 100.000001: kfree_skb: skbaddr=00000000a1 rx_sk=0000000000000000 protocol=34997 location=macvlan_broadcast_enqueue+0x9c/0x150 [macvlan] reason: NOT_SPECIFIED\n\
kworker/u8:1-77 [001] ..s1. 100.000002: kfree_skb: skbaddr=00000000a2 rx_sk=0000000000000000 protocol=34997 location=macvlan_broadcast_enqueue+0x9c/0x150 [macvlan] reason: NOT_SPECIFIED\n\
kworker/u8:1-77 [000] ..s1. 100.000003: kfree_skb: skbaddr=00000000a3 rx_sk=0000000000000000 protocol=34997 location=enqueue_to_backlog+0x1a0/0x3c0 reason: CPU_BACKLOG\n";
        let sites = parse_trace(text);
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].location, "macvlan_broadcast_enqueue");
        assert_eq!(
            (sites[0].reason.as_str(), sites[0].frames),
            ("NOT_SPECIFIED", 2)
        );
        assert_eq!(sites[1].reason, "CPU_BACKLOG");
        let (at, because) = sites[0].explain();
        assert!(at.contains("broadcast queue"), "{at}");
        assert!(because.contains("bcqueuelen"), "{because}");
        let odd = DropSite {
            location: "some_fn".into(),
            reason: "XDP".into(),
            frames: 1,
        };
        assert_eq!(odd.explain(), ("some_fn".into(), "drop reason XDP".into()));
    }
}
