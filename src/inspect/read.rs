//! Reads what each namespace holds, through one rtnetlink socket per namespace (the `lab/rtnl`
//! readers: link, address, route and neighbour dumps, and RTM_GETNSID look-ups, all GETs), and
//! resolves every link's IFLA_LINK into the namespace it points at. Also the neighbour tables'
//! thresholds from /proc/sys. Sends no frame and changes nothing.

use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;
use std::os::fd::AsFd;

use netlink_packet_route::AddressFamily;

use super::docker::{self, Container};
use super::{
    Found, FoundLink, FoundNamespace, FoundRoute, InspectError, InspectOptions, LinkRef,
    NeighbourUse, discover,
};
use crate::lab::rtnl::{AddressEntry, LinkDetail, RouteEntry, Rtnl};
use crate::netns::Netns;

/// What one namespace's socket answered.
struct Dumped {
    links: Vec<LinkDetail>,
    addresses: Vec<AddressEntry>,
    routes: Vec<RouteEntry>,
    neighbours4: usize,
    neighbours6: usize,
}

/// Whether the namespace called `name` is one `patterns` selects (`NAME`, or `PREFIX*`).
fn selected(name: &str, patterns: &[String]) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == p,
        })
}

fn threshold(family: &str, n: u8) -> Option<u32> {
    fs::read_to_string(format!("/proc/sys/net/{family}/neigh/default/gc_thresh{n}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The kernel's defaults, when the files cannot be read (a child namespace has none).
const DEFAULT_THRESHOLDS: [u32; 3] = [128, 512, 1024];

fn thresholds(family: &str) -> Option<[u32; 3]> {
    Some([
        threshold(family, 1)?,
        threshold(family, 2)?,
        threshold(family, 3)?,
    ])
}

pub fn read(options: &InspectOptions) -> Result<Found, InspectError> {
    let mut notes = Vec::new();
    let socket = options
        .docker_socket
        .clone()
        .unwrap_or_else(|| docker::DEFAULT_SOCKET.into());
    let containers: Vec<Container> = if socket.exists() {
        docker::containers(&socket).unwrap_or_else(|e| {
            notes.push(format!(
                "Docker at {} did not say which container is which ({e}); container namespaces are named by pid",
                socket.display()
            ));
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let all = discover::namespaces(&containers);
    for p in &options.netns {
        if !all
            .iter()
            .any(|n| selected(&n.name, std::slice::from_ref(p)))
        {
            let names: Vec<&str> = all.iter().map(|n| n.name.as_str()).collect();
            return Err(InspectError::UnknownNetns(p.clone(), names.join(", ")));
        }
    }
    let mut opened: Vec<(FoundNamespace, Netns)> = Vec::new();
    for ns in all
        .into_iter()
        .filter(|n| selected(&n.name, &options.netns))
    {
        match Netns::open_path(&ns.path) {
            Ok(handle) => opened.push((ns, handle)),
            Err(e) => notes.push(format!("namespace {} not read: {e}", ns.name)),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| InspectError::Read(format!("starting the netlink runtime: {e}")))?;
    let mut sockets: Vec<Option<Rtnl>> = Vec::new();
    for (ns, handle) in &opened {
        match handle.run(|| Rtnl::open(runtime.handle())).and_then(|r| r) {
            Ok(s) => sockets.push(Some(s)),
            Err(e) => {
                // Not a namespace (a stale file in /run/netns), or gone since it was listed.
                notes.push(format!("namespace {} not read: {e}", ns.name));
                sockets.push(None);
            }
        }
    }
    let dumped: Vec<Option<Dumped>> = runtime.block_on(async {
        let mut out = Vec::new();
        for (i, s) in sockets.iter().enumerate() {
            let Some(s) = s else {
                out.push(None);
                continue;
            };
            let answer = async {
                Ok::<_, crate::lab::rtnl::RtnlError>(Dumped {
                    links: s.link_details().await?,
                    addresses: s.addresses().await?,
                    routes: {
                        let mut r = s.routes(AddressFamily::Inet).await?;
                        r.extend(s.routes(AddressFamily::Inet6).await?);
                        r
                    },
                    neighbours4: count(s.neighbours(AddressFamily::Inet).await?),
                    neighbours6: count(s.neighbours(AddressFamily::Inet6).await?),
                })
            }
            .await;
            match answer {
                Ok(d) => out.push(Some(d)),
                Err(e) => {
                    notes.push(format!("namespace {} not read: {e}", opened[i].0.name));
                    out.push(None);
                }
            }
        }
        out
    });
    // (namespace, nsid as that namespace numbers it) -> namespace, for every id a link names.
    let mut nsids: HashMap<(usize, i32), usize> = HashMap::new();
    runtime.block_on(async {
        for (a, d) in dumped.iter().enumerate() {
            let Some(d) = d else { continue };
            let wanted: Vec<i32> = d.links.iter().filter_map(|l| l.link_netnsid).collect();
            if wanted.is_empty() {
                continue;
            }
            let Some(socket) = &sockets[a] else { continue };
            for (b, (_, handle)) in opened.iter().enumerate() {
                if b == a || dumped[b].is_none() {
                    continue;
                }
                if let Ok(Some(id)) = socket.nsid_of(handle.as_fd()).await
                    && wanted.contains(&id)
                {
                    nsids.insert((a, id), b);
                }
            }
        }
        for s in sockets.into_iter().flatten() {
            s.close().await;
        }
    });
    let mut found = Found {
        notes,
        neighbours: NeighbourUse {
            ipv4_thresholds: thresholds("ipv4").unwrap_or(DEFAULT_THRESHOLDS),
            ipv6_thresholds: thresholds("ipv6").unwrap_or(DEFAULT_THRESHOLDS),
            ..NeighbourUse::default()
        },
        ..Found::default()
    };
    let name_of = |ns: usize, index: u32| -> Option<String> {
        dumped[ns]
            .as_ref()?
            .links
            .iter()
            .find(|l| l.index == index)
            .map(|l| l.name.clone())
    };
    for (a, d) in dumped.iter().enumerate() {
        let Some(d) = d else { continue };
        let ns = &opened[a].0.name;
        found.neighbours.ipv4_entries += d.neighbours4;
        found.neighbours.ipv6_entries += d.neighbours6;
        for l in &d.links {
            let lower = l.link.and_then(|index| {
                let b = match l.link_netnsid {
                    Some(id) => *nsids.get(&(a, id))?,
                    None => a,
                };
                Some(LinkRef {
                    netns: opened[b].0.name.clone(),
                    name: name_of(b, index)?,
                })
            });
            let mut link = FoundLink {
                netns: ns.clone(),
                detail: l.clone(),
                ipv4: Vec::new(),
                ipv6: Vec::new(),
                lower,
                master: l.master.and_then(|m| name_of(a, m)),
            };
            for addr in d.addresses.iter().filter(|x| x.index == l.index) {
                match addr.ip {
                    IpAddr::V4(ip) => link.ipv4.push((ip, addr.prefix)),
                    IpAddr::V6(ip) => link.ipv6.push((ip, addr.prefix)),
                }
            }
            found.links.push(link);
        }
        for r in &d.routes {
            found.routes.push(FoundRoute {
                netns: ns.clone(),
                destination: r.destination.map(|ip| (ip, r.prefix)),
                gateway: r.gateway,
                dev: r.oif.and_then(|i| name_of(a, i)),
            });
        }
    }
    found.namespaces = opened
        .into_iter()
        .zip(&dumped)
        .filter(|(_, d)| d.is_some())
        .map(|((ns, _), _)| ns)
        .collect();
    Ok(found)
}

/// Entries that count against gc_thresh (permanent ones are exempt from garbage collection).
fn count(entries: Vec<crate::lab::rtnl::Neighbour>) -> usize {
    entries.iter().filter(|n| n.state != "permanent").count()
}
