//! IP exhaustion, two ways. Docker's IPAM: when the test asks the network's pool for more
//! containers than it holds, the answer (computed at validation from Docker's rules, without
//! the kernel) is reported with the pool's size and Docker's words for the refusal. The
//! neighbour tables: one by one, every endpoint of the network sends a datagram to one peer, so
//! its kernel resolves the peer over ARP (and ND when the network has IPv6) and the peer learns
//! the endpoint back; the tables and their gc_thresh1/2/3 are shared by every namespace of the
//! machine. Reported: how many endpoints resolved, how many did not, the first endpoint whose
//! send the kernel refused and the table's size then, the table's size after each endpoint, and
//! the kernel's own counters (/proc/net/stat/{arp,ndisc}_cache: table_fulls, forced_gc_runs,
//! ...), as differences around the test. The thresholds are read, never written. It never
//! judges a result nor formats one.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::kstat::{NeighbourStats, NeighbourTable};
use super::{Bench, MeasureError};
use crate::addr::MacAddr;
use crate::lab::Neighbour;
use crate::scenario::{IpExhaustionTest, IpamRequest};

/// The discard port: the peer drops the datagram (and answers with an ICMP error at most).
const DISCARD_PORT: u16 = 9;
/// How often unresolved entries are looked at, and how long they get: past ARP's and ND's
/// three probes a second apart, every entry is resolved or failed.
const POLL: Duration = Duration::from_millis(100);
const SETTLE_MAX: Duration = Duration::from_secs(5);

/// Docker's IPAM asked for more containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamOutcome {
    pub asked: u64,
    /// Addresses the pool had left.
    pub available: u64,
    pub allocated: u64,
    pub refused: u64,
    /// Docker's refusal, stating the pool's size.
    pub refusal: Option<String>,
}

impl IpamOutcome {
    fn of(r: &IpamRequest) -> IpamOutcome {
        let allocated = r.asked.min(r.available);
        IpamOutcome {
            asked: r.asked,
            available: r.available,
            allocated,
            refused: r.asked - allocated,
            refusal: r.refusal.clone(),
        }
    }
}

/// The first endpoint whose datagram the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstRefusal {
    pub endpoint: String,
    /// 1 for the first endpoint that sent.
    pub position: u32,
    pub error: String,
    /// The table's size then.
    pub entries: u64,
}

/// One family's resolutions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighbourFill {
    pub table: NeighbourTable,
    pub peer_ip: IpAddr,
    pub endpoints: u32,
    /// gc_thresh1, gc_thresh2, gc_thresh3 of the table (global to the machine).
    pub thresholds: [u64; 3],
    /// The table's size before the first endpoint sent and once every entry settled.
    pub entries_before: u64,
    pub entries_after: u64,
    /// The table's size after each endpoint sent, in order.
    pub entries: Vec<u64>,
    /// Endpoints whose datagram the kernel refused outright (no neighbour entry to queue it on).
    pub refused: u32,
    pub first_refusal: Option<FirstRefusal>,
    /// The first endpoint after whose send the table counted a refusal (its own entry, or the
    /// peer's entry for it).
    pub first_table_full: Option<u32>,
    /// Endpoints whose entry for the peer holds the peer's MAC.
    pub resolved: u32,
    /// Endpoints whose entry did not resolve (refused, unanswered, failed).
    pub failed: u32,
    /// The peer's entries for the endpoints (it learns each one that asked).
    pub peer_entries: u32,
    /// The kernel's counters over the test (`entries` is the size at the end).
    pub stats: NeighbourStats,
    pub settle_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IpExhaustionResult {
    pub name: String,
    pub network: String,
    pub peer: String,
    pub ipam: Option<IpamOutcome>,
    /// ARP, then ND when the network has IPv6.
    pub neighbours: Vec<NeighbourFill>,
}

impl IpExhaustionResult {
    pub fn table(&self, table: NeighbourTable) -> Option<&NeighbourFill> {
        self.neighbours.iter().find(|n| n.table == table)
    }
}

/// Sends one datagram to `peer` from inside `netns`: the kernel resolves `peer` first.
fn poke(netns: &crate::netns::Netns, peer: IpAddr) -> io::Result<()> {
    netns.run(|| {
        let local: SocketAddr = match peer {
            IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.send_to(&[0], (peer, DISCARD_PORT)).map(|_| ())
    })?
}

/// Whether `entries` hold a resolved entry for `ip` with `mac`, or one still being resolved.
fn entry_state(entries: &[Neighbour], ip: IpAddr, mac: MacAddr) -> (bool, bool) {
    let entry = entries.iter().find(|n| n.ip == ip);
    let resolved = entry.is_some_and(|n| n.resolved() && n.mac == Some(mac));
    let pending =
        entry.is_some_and(|n| matches!(n.state.as_str(), "incomplete" | "probe" | "delay"));
    (resolved, pending)
}

fn fill(
    bench: &Bench<'_>,
    name: &str,
    table: NeighbourTable,
    endpoints: &[(&str, IpAddr)],
    peer: &str,
    peer_ip: IpAddr,
    peer_mac: MacAddr,
) -> Result<NeighbourFill, MeasureError> {
    let lab = bench.lab;
    let before = table.stats();
    let mut entries = Vec::with_capacity(endpoints.len());
    let mut refused = 0;
    let mut first_refusal = None;
    let mut first_table_full = None;
    for (i, (endpoint, _)) in endpoints.iter().enumerate() {
        bench.check_stop()?;
        if i % 64 == 0 {
            (bench.progress)(&format!(
                "{name}: {} endpoint {} of {} resolves {peer}",
                table.as_str(),
                i + 1,
                endpoints.len()
            ));
        }
        let node = lab
            .node(endpoint)
            .ok_or_else(|| MeasureError::NoStation(endpoint.to_string()))?;
        let sent = poke(node.netns, peer_ip);
        let now = table.stats();
        if let Err(e) = sent {
            refused += 1;
            first_refusal.get_or_insert(FirstRefusal {
                endpoint: endpoint.to_string(),
                position: i as u32 + 1,
                error: e.to_string(),
                entries: now.entries,
            });
        }
        if now.table_fulls > before.table_fulls {
            first_table_full.get_or_insert(i as u32 + 1);
        }
        entries.push(now.entries);
    }
    let started = Instant::now();
    let states = loop {
        if bench.stop.sleep(POLL) {
            return Err(MeasureError::Interrupted);
        }
        let states: Vec<(bool, bool)> = endpoints
            .iter()
            .map(|(e, _)| Ok(entry_state(&lab.neighbours(e)?, peer_ip, peer_mac)))
            .collect::<Result<_, MeasureError>>()?;
        if states.iter().all(|(_, pending)| !pending) || started.elapsed() > SETTLE_MAX {
            break states;
        }
    };
    let resolved = states.iter().filter(|(r, _)| *r).count() as u32;
    let ips: Vec<IpAddr> = endpoints.iter().map(|(_, ip)| *ip).collect();
    let peer_entries = lab
        .neighbours(peer)?
        .iter()
        .filter(|n| ips.contains(&n.ip) && n.mac.is_some())
        .count() as u32;
    let after = table.stats();
    Ok(NeighbourFill {
        table,
        peer_ip,
        endpoints: endpoints.len() as u32,
        thresholds: table.thresholds(),
        entries_before: before.entries,
        entries_after: after.entries,
        entries,
        refused,
        first_refusal,
        first_table_full,
        resolved,
        failed: endpoints.len() as u32 - resolved,
        peer_entries,
        stats: after.since(&before),
        settle_s: started.elapsed().as_secs_f64(),
    })
}

/// Runs ip-exhaustion test `name`.
pub fn measure(
    bench: &Bench<'_>,
    name: &str,
    test: &IpExhaustionTest,
) -> Result<IpExhaustionResult, MeasureError> {
    let scenario = bench.scenario;
    let peer = scenario
        .peer(&test.peer)
        .ok_or_else(|| MeasureError::NoStation(test.peer.clone()))?;
    let members: Vec<&crate::scenario::Endpoint> = scenario
        .endpoints
        .iter()
        .filter(|e| e.network == test.network)
        .collect();
    let mut neighbours = Vec::new();
    let v4: Vec<(&str, IpAddr)> = members
        .iter()
        .filter_map(|e| Some((e.name.as_str(), IpAddr::V4(e.ipv4?))))
        .collect();
    if !v4.is_empty() {
        neighbours.push(fill(
            bench,
            name,
            NeighbourTable::Arp,
            &v4,
            &peer.name,
            IpAddr::V4(peer.ipv4),
            peer.mac,
        )?);
    }
    if let (true, Some(peer_ip)) = (test.ipv6, peer.ipv6) {
        let v6: Vec<(&str, IpAddr)> = members
            .iter()
            .filter_map(|e| e.ipv6.map(|ip| (e.name.as_str(), IpAddr::V6(ip))))
            .collect();
        if !v6.is_empty() {
            neighbours.push(fill(
                bench,
                name,
                NeighbourTable::Ndisc,
                &v6,
                &peer.name,
                IpAddr::V6(peer_ip),
                peer.mac,
            )?);
        }
    }
    Ok(IpExhaustionResult {
        name: name.to_string(),
        network: scenario.networks[test.network].name.clone(),
        peer: peer.name.clone(),
        ipam: test.ipam.as_ref().map(IpamOutcome::of),
        neighbours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(ip: &str, mac: Option<&str>, state: &str) -> Neighbour {
        Neighbour {
            ifindex: 2,
            ip: ip.parse().unwrap(),
            mac: mac.map(|m| m.parse().unwrap()),
            state: state.into(),
        }
    }

    #[test]
    fn an_entry_resolves_only_to_the_peers_mac() {
        let peer: IpAddr = "198.18.0.254".parse().unwrap();
        let mac: MacAddr = "02:00:00:00:00:fe".parse().unwrap();
        let table = [
            n("198.18.0.1", Some("02:00:00:00:00:01"), "reachable"),
            n("198.18.0.254", Some("02:00:00:00:00:fe"), "stale"),
        ];
        assert_eq!(entry_state(&table, peer, mac), (true, false));
        let wrong = [n("198.18.0.254", Some("02:00:00:00:00:aa"), "reachable")];
        assert_eq!(entry_state(&wrong, peer, mac), (false, false));
        let waiting = [n("198.18.0.254", None, "incomplete")];
        assert_eq!(entry_state(&waiting, peer, mac), (false, true));
        let failed = [n("198.18.0.254", None, "failed")];
        assert_eq!(entry_state(&failed, peer, mac), (false, false));
        assert_eq!(entry_state(&[], peer, mac), (false, false));
    }

    #[test]
    fn ipam_outcomes_split_what_was_asked() {
        let o = IpamOutcome::of(&IpamRequest {
            asked: 300,
            available: 252,
            refusal: Some("network `n` needs 300 addresses ... which has 252 left".into()),
        });
        assert_eq!((o.allocated, o.refused), (252, 48));
        let fits = IpamOutcome::of(&IpamRequest {
            asked: 10,
            available: 252,
            refusal: None,
        });
        assert_eq!((fits.allocated, fits.refused), (10, 0));
    }
}
