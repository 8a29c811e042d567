//! Endpoints added to a live lab (`Lab::grow`), for measurements that grow a network while it
//! runs (the endpoint ramp). A `Growth` writes every namespace it is about to create into the
//! lab's registry record before the namespace exists (so `mvlab clean` finds them after a
//! crash), creates the namespaces, hangs one macvlan per endpoint on its network's link in the
//! host namespace (one pipelined request each on the host's socket, created directly in the
//! endpoint's namespace, as `build` does), gives each its alias, addresses, default route and
//! `lo`, and removes all of it through `teardown` when it is dropped or `remove`d, then takes
//! the names off the record. A stop requested while it adds ends the addition between chunks of
//! namespaces, and what the addition created is removed. It never touches the lab's own nodes and never decides which
//! endpoints to add: the caller hands it fully addressed `Endpoint`s.

use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};

use super::build::{BuildFailure, Made, SOCKETS_IN_FLIGHT, create_namespaces, ipv6_knobs};
use super::inventory::{InterfaceInventory, NodeInventory};
use super::plan::{default_destination, macvlan_of, v4, v6};
use super::rtnl::{LinkKind, LinkSpec, LinkState, Request, Rtnl, RtnlError};
use super::teardown::{self, Doomed, TeardownReport};
use super::{Lab, LabError, Node, Rollback, registry, registry_dir, with_runtime};
use crate::netns::{self, Netns};
use crate::scenario::{Endpoint, HOST_NODE, Role, Scenario};
use crate::stop::Stop;

/// Endpoints added to a lab; dropping it removes them.
#[derive(Debug)]
pub struct Growth<'a> {
    lab: &'a Lab,
    nodes: Vec<GrownNode>,
    /// Checked while namespaces are created (`build`'s chunks).
    stop: Stop,
}

#[derive(Debug)]
struct GrownNode {
    inventory: NodeInventory,
    netns: Netns,
}

impl Lab {
    /// Starts adding endpoints to this lab; everything added goes when the `Growth` does.
    /// A growth of this lab whose additions end early once `stop` is requested.
    pub fn grow(&self, stop: &Stop) -> Growth<'_> {
        Growth {
            lab: self,
            nodes: Vec::new(),
            stop: stop.clone(),
        }
    }
}

impl Growth<'_> {
    /// The endpoints added so far, in the order they were added.
    pub fn nodes(&self) -> impl Iterator<Item = Node<'_>> {
        self.nodes.iter().map(|n| Node {
            inventory: &n.inventory,
            netns: &n.netns,
        })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds `endpoints` (of `scenario`'s networks, with their addresses and MACs assigned),
    /// each in a namespace of its own named like the lab's (`<prefix>-<lab>-<name>`). Returns how
    /// long the kernel took to create them, from the first namespace to the last address. On
    /// failure, what this call created is removed before the error returns.
    pub fn add(
        &mut self,
        scenario: &Scenario,
        endpoints: &[Endpoint],
    ) -> Result<Duration, LabError> {
        let lab = self.lab;
        let host = lab.node(HOST_NODE).ok_or_else(|| {
            LabError::bad(
                format!("lab `{}` has no host node to grow from", lab.name()),
                "grow labs built from a scenario",
            )
        })?;
        let mut parents = Vec::with_capacity(endpoints.len());
        let added: HashSet<&str> = self
            .nodes
            .iter()
            .map(|n| n.inventory.name.as_str())
            .collect();
        for e in endpoints {
            let link = &scenario.networks[e.network].link;
            let Some(parent) = host.inventory.interface(link) else {
                return Err(LabError::bad(
                    format!(
                        "endpoint `{}` needs `{link}`, which the lab's host does not have",
                        e.name
                    ),
                    "grow a lab built from the same scenario",
                ));
            };
            if lab.node(&e.name).is_some() || added.contains(e.name.as_str()) {
                return Err(LabError::bad(
                    format!("lab `{}` already has a node `{}`", lab.name(), e.name),
                    "give added endpoints names of their own",
                ));
            }
            parents.push(parent.index);
        }
        let names: Vec<String> = endpoints.iter().map(|e| lab.name.netns(&e.name)).collect();
        let existing: HashSet<String> = netns::list_named()
            .map_err(LabError::io("listing /run/netns"))?
            .into_iter()
            .collect();
        if let Some(taken) = names.iter().find(|n| existing.contains(*n)) {
            return Err(LabError::bad(
                format!("namespace `{taken}` already exists"),
                "`ip netns list` shows who has it; remove it or rename the endpoints",
            ));
        }
        super::raise_fd_limit(lab.namespaces.len() + self.nodes.len() + endpoints.len())?;
        self.set_registered(&names, true)?;
        let started = Instant::now();
        let created = match with_runtime(|runtime| {
            Ok(create(
                runtime, self, &host, scenario, endpoints, &parents, &names,
            ))
        }) {
            Ok(created) => created,
            Err(e) => {
                // Nothing was created: the names come off the record again.
                self.set_registered(&names, false)?;
                return Err(e);
            }
        };
        match created {
            Ok((made, index)) => {
                let elapsed = started.elapsed();
                for (e, netns) in endpoints.iter().zip(made) {
                    self.nodes.push(GrownNode {
                        inventory: inventory_of(
                            scenario,
                            e,
                            netns.name().unwrap_or_default(),
                            index,
                        ),
                        netns,
                    });
                }
                Ok(elapsed)
            }
            Err((cause, doomed)) => {
                let rollback = with_runtime(|runtime| {
                    Ok(match teardown::teardown(runtime, doomed, &[]) {
                        Ok(_) => Rollback::Done,
                        Err(e) => Rollback::Failed(e),
                    })
                })?;
                if matches!(rollback, Rollback::Done) {
                    self.set_registered(&names, false)?;
                }
                Err(LabError::Build {
                    lab: lab.name().to_string(),
                    cause,
                    rollback,
                })
            }
        }
    }

    /// Adds `names` to the lab's record (before they exist) or takes them off (once gone).
    fn set_registered(&self, names: &[String], present: bool) -> Result<(), LabError> {
        let mut record = self.lab.record()?;
        if present {
            record.namespaces.extend(names.iter().cloned());
        } else {
            let gone: HashSet<&String> = names.iter().collect();
            record.namespaces.retain(|n| !gone.contains(n));
        }
        registry::update(registry_dir(), &record)?;
        Ok(())
    }

    /// Every link of each added endpoint's namespace, in the order the endpoints were added.
    pub fn links(&self) -> Result<Vec<Vec<LinkState>>, LabError> {
        with_runtime(|runtime| {
            let mut out = Vec::with_capacity(self.nodes.len());
            for chunk in self.nodes.chunks(SOCKETS_IN_FLIGHT) {
                let mut sockets = Vec::with_capacity(chunk.len());
                for n in chunk {
                    let socket = n
                        .netns
                        .run(|| Rtnl::open(runtime.handle()))
                        .and_then(|r| r)
                        .map_err(LabError::io(format!(
                            "opening a netlink socket in {}",
                            n.inventory.name
                        )));
                    match socket {
                        Ok(s) => sockets.push(s),
                        Err(e) => {
                            runtime.block_on(close_all(sockets));
                            return Err(e);
                        }
                    }
                }
                let answers: Vec<Result<Vec<LinkState>, RtnlError>> = runtime.block_on(
                    stream::iter(&sockets)
                        .map(|s| s.links())
                        .buffered(SOCKETS_IN_FLIGHT)
                        .collect(),
                );
                runtime.block_on(close_all(sockets));
                for answer in answers {
                    out.push(answer?);
                }
            }
            Ok(out)
        })
    }

    /// Removes every added endpoint, returning once the kernel destroyed their namespaces.
    pub fn remove(mut self) -> Result<TeardownReport, LabError> {
        self.remove_all()
    }

    fn remove_all(&mut self) -> Result<TeardownReport, LabError> {
        if self.nodes.is_empty() {
            return Ok(TeardownReport {
                namespaces: 0,
                names: 0,
            });
        }
        let nodes = std::mem::take(&mut self.nodes);
        let names: Vec<String> = nodes.iter().map(|n| n.inventory.netns.clone()).collect();
        let doomed = nodes
            .into_iter()
            .map(|n| Doomed {
                name: n.inventory.netns,
                netns: Some(n.netns),
            })
            .collect();
        let report = with_runtime(|runtime| {
            teardown::teardown(runtime, doomed, &[]).map_err(|source| LabError::Teardown {
                lab: self.lab.name().to_string(),
                source,
            })
        })?;
        self.set_registered(&names, false)?;
        Ok(report)
    }
}

impl Drop for Growth<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.remove_all() {
            // Not eprintln!: a closed standard error must not turn a teardown into a panic.
            let _ = writeln!(
                std::io::stderr(),
                "mvlab: removing the endpoints added to lab `{}`: {e}",
                self.lab.name()
            );
        }
    }
}

async fn close_all(sockets: Vec<Rtnl>) {
    for s in sockets {
        s.close().await;
    }
}

/// The inventory entry of an added endpoint, whose macvlan has ifindex `index`.
fn inventory_of(scenario: &Scenario, e: &Endpoint, netns: &str, index: u32) -> NodeInventory {
    let net = &scenario.networks[e.network];
    NodeInventory {
        name: e.name.clone(),
        role: Role::Endpoint,
        netns: netns.to_string(),
        interfaces: vec![InterfaceInventory {
            name: e.interface.clone(),
            index,
            kind: "macvlan".into(),
            mac: e.mac,
            ipv4: e
                .ipv4
                .map(|ip| v4(ip, net.ipam4_of(ip).subnet.prefix()))
                .into_iter()
                .collect(),
            ipv6: e
                .ipv6
                .and_then(|ip| Some(v6(ip, net.ipam6_of(ip)?.subnet.prefix())))
                .into_iter()
                .collect(),
            mode: Some(net.mode),
            vlan: net.vlan,
            link: Some(format!("{HOST_NODE}:{}", net.link)),
            network: Some(net.name.clone()),
        }],
    }
}

/// The requests an added endpoint's own socket sends for its macvlan `index`: alias, addresses,
/// default routes, `lo`.
fn endpoint_requests(scenario: &Scenario, e: &Endpoint, alias: &str, index: u32) -> Vec<Request> {
    let net = &scenario.networks[e.network];
    let mut out = vec![Request::set_alias(
        index,
        alias,
        format!("marking {} as {alias}", e.name),
    )];
    if let Some(ip) = e.ipv4 {
        out.push(Request::add_address(
            index,
            IpAddr::V4(ip),
            net.ipam4_of(ip).subnet.prefix(),
            format!("adding {ip} to {}", e.name),
        ));
    }
    if let Some(gw) = e.gateway4 {
        out.push(Request::add_route(
            index,
            default_destination(gw.into()),
            Some(gw.into()),
            format!("adding the default route of {}", e.name),
        ));
    }
    if let Some((ip, ipam)) = e.ipv6.and_then(|ip| Some((ip, net.ipam6_of(ip)?))) {
        out.push(Request::add_address(
            index,
            IpAddr::V6(ip),
            ipam.subnet.prefix(),
            format!("adding {ip} to {}", e.name),
        ));
    }
    if let Some(gw) = e.gateway6 {
        out.push(Request::add_route(
            index,
            default_destination(gw.into()),
            Some(gw.into()),
            format!("adding the IPv6 default route of {}", e.name),
        ));
    }
    out.push(Request::set_up(1, format!("bringing lo up in {}", e.name)));
    out
}

/// Creates the namespaces `names` and the endpoints in them; returns the namespaces and the
/// ifindex every added macvlan has in its own. On failure returns why, and every namespace this
/// call created, for the caller to remove.
fn create(
    runtime: &tokio::runtime::Runtime,
    growth: &Growth<'_>,
    host: &Node<'_>,
    scenario: &Scenario,
    endpoints: &[Endpoint],
    parents: &[u32],
    names: &[String],
) -> Result<(Vec<Netns>, u32), (BuildFailure, Vec<Doomed>)> {
    let handle = runtime.handle();
    let host_socket = host
        .netns
        .run(|| Rtnl::open(handle))
        .and_then(|r| r)
        .map_err(|source| {
            let name = host.inventory.netns.clone();
            (BuildFailure::Namespace { name, source }, Vec::new())
        })?;
    // The host's socket creates each macvlan directly in its endpoint's namespace, so the index
    // must be free in the host's as well (`plan`'s module comment says why): one above its
    // largest.
    let index = match runtime.block_on(host_socket.links()) {
        Ok(links) => links.iter().map(|l| l.index).max().unwrap_or(1) + 1,
        Err(e) => {
            runtime.block_on(host_socket.close());
            return Err((e.into(), Vec::new()));
        }
    };
    let wanted: Vec<(String, &[&str])> = names
        .iter()
        .zip(endpoints)
        .map(|(n, e)| (n.clone(), ipv6_knobs(scenario.endpoint_ipv6(e))))
        .collect();
    let Made {
        made,
        strays,
        mut failure,
    } = create_namespaces(&wanted, handle, Some(&growth.stop));
    if failure.is_none() {
        let alias = growth.lab.name.alias();
        let links: Vec<Request> = endpoints
            .iter()
            .zip(&made)
            .zip(parents)
            .map(|((e, (ns, _)), &parent)| {
                let spec = LinkSpec {
                    index,
                    mac: Some(e.mac),
                    up: true,
                    lower: Some(parent),
                    netns: Some(ns.as_fd().as_raw_fd()),
                    ..LinkSpec::new(e.interface.clone())
                };
                let net = &scenario.networks[e.network];
                let mut r = Request::new_link(
                    &spec,
                    &LinkKind::Macvlan(macvlan_of(net, e.source_macs.clone())),
                );
                r.describe(format!(
                    "creating macvlan {} of {} on {}",
                    e.interface, e.name, net.link
                ));
                r
            })
            .collect();
        let created = runtime
            .block_on(host_socket.run_all(links))
            .map_err(BuildFailure::from)
            .and_then(|()| {
                runtime
                    .block_on(
                        stream::iter(endpoints.iter().zip(&made))
                            .map(|(e, (_, socket))| {
                                socket.run_all(endpoint_requests(scenario, e, &alias, index))
                            })
                            .buffer_unordered(SOCKETS_IN_FLIGHT)
                            .try_collect::<Vec<()>>(),
                    )
                    .map_err(BuildFailure::from)
            });
        if let Err(e) = created {
            failure = Some(e);
        }
    }
    let (namespaces, sockets): (Vec<Netns>, Vec<Rtnl>) = made.into_iter().unzip();
    runtime.block_on(close_all(sockets));
    runtime.block_on(host_socket.close());
    match failure {
        None => Ok((namespaces, index)),
        Some(f) => Err((f, Doomed::all(namespaces, strays))),
    }
}
