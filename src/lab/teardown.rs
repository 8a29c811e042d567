//! Teardown: removing a lab's kernel objects, and knowing when they are gone. Owns the one removal
//! path that `Lab::down`, rollback after a failed build, `lab down` and `clean` all share. It
//! removes only the namespaces and links it is given; it decides nothing about which lab to remove
//! (that is `clean` and the registry) and builds nothing.
//!
//! How "gone" is known, against the kernel source (net/core/net_namespace.c, rtnetlink.c):
//! 1. The links that carry everything else (parents, the bridge, peer ports) are deleted with
//!    RTM_DELLINK. Deleting a parent unregisters every macvlan and VLAN stacked on it in the same
//!    `unregister_netdevice_many` batch (one RCU grace period), and the acknowledgement is sent only
//!    after `rtnl_unlock` has run `netdev_run_todo`, i.e. after those devices are unregistered.
//! 2. Each namespace gets an nsid in a private unnamed watcher namespace (RTM_NEWNSID), whose
//!    socket listens to RTNLGRP_NSID. Then the names (bind mounts) and every handle are dropped.
//! 3. The kernel destroys namespaces in batches on a workqueue (`cleanup_net`); it first unhashes
//!    each one from every peer's nsid table (`unhash_nsid`), sending RTM_DELNSID to the watcher,
//!    then runs the per-namespace exit methods (which free what is left inside, such as `lo`).
//!    Teardown returns once every namespace's RTM_DELNSID has arrived: no name, no link of the lab
//!    remains, and no process can reach its namespaces any more. A lost notification (buffer
//!    overrun) or a quiet spell triggers a dump of the watcher's nsid table to resynchronise.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::rtnl::{Request, Rtnl, RtnlError};
use crate::netns::{self, Netns};

/// A namespace to remove: its name, and an open handle when the caller has one.
#[derive(Debug)]
pub(crate) struct Doomed {
    pub name: String,
    pub netns: Option<Netns>,
}

impl Doomed {
    /// Everything a build that failed half-way leaves: the namespaces it made (held open), then
    /// the names it recorded but could not open (`strays`).
    pub fn all(namespaces: Vec<Netns>, strays: Vec<Doomed>) -> Vec<Doomed> {
        namespaces
            .into_iter()
            .map(|ns| Doomed {
                name: ns.name().unwrap_or_default().to_string(),
                netns: Some(ns),
            })
            .chain(strays)
            .collect()
    }
}

/// What a teardown removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TeardownReport {
    /// Namespaces confirmed destroyed.
    pub namespaces: usize,
    /// Namespace names removed from `/run/netns` (including stray files of killed creations).
    pub names: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Kernel(#[from] RtnlError),
    #[error(
        "namespaces {} are still alive {}s after their names were removed: a process still holds them (see `lsof | grep nsfs`); they vanish when it exits",
        .names.join(", "), STUCK.as_secs()
    )]
    Stuck { names: Vec<String> },
}

/// Silence after which the watcher's nsid table is re-read.
const RESYNC: Duration = Duration::from_millis(250);
/// No namespace destroyed for this long: something holds the rest.
const STUCK: Duration = Duration::from_secs(20);
/// Linux's NSFS_MAGIC: the filesystem of namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> TeardownError {
    move |source| TeardownError::Io {
        what: what.into(),
        source,
    }
}

/// Removes the namespaces `doomed` after deleting `first_deleted` (namespace name, link name)
/// links, and returns once the kernel has destroyed the namespaces. Missing namespaces and
/// links are skipped, so a teardown can be repeated after it was interrupted.
pub(crate) fn teardown(
    runtime: &tokio::runtime::Runtime,
    doomed: Vec<Doomed>,
    first_deleted: &[(String, String)],
) -> Result<TeardownReport, TeardownError> {
    let mut names = 0;
    let mut open: Vec<Netns> = Vec::new();
    for d in doomed {
        let ns = match d.netns {
            Some(ns) => ns,
            None => match Netns::open(&d.name) {
                Ok(ns) => ns,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(format!("opening namespace {}", d.name))(e)),
            },
        };
        if is_namespace(&ns) {
            open.push(ns);
        } else {
            // A file left by a creation killed before it was mounted: nothing to destroy.
            names += usize::from(
                netns::remove_named(&d.name).map_err(io_error(format!("removing {}", d.name)))?,
            );
        }
    }
    // Past this point every step is attempted even when an earlier one failed: removing the
    // names is what matters most, and a second teardown can finish the rest.
    let links = delete_links(runtime, &open, first_deleted);
    let watcher = open_watcher(runtime);
    let ids = match &watcher {
        Ok((_, socket)) => runtime.block_on(assign_nsids(socket, &open)),
        Err(_) => HashSet::new(),
    };
    let mut watched: HashMap<i32, String> = HashMap::new();
    let mut removal = Ok(());
    for (i, ns) in open.into_iter().enumerate() {
        let name = ns.name().unwrap_or_default().to_string();
        if ids.contains(&(i as i32)) {
            watched.insert(i as i32, name.clone());
        }
        drop(ns);
        match netns::remove_named(&name) {
            Ok(removed) => names += usize::from(removed),
            Err(e) => {
                if removal.is_ok() {
                    removal = Err(io_error(format!("removing {name}"))(e));
                }
            }
        }
    }
    let destroyed = watched.len();
    let waited = watcher.and_then(|(watcher_ns, mut socket)| {
        let waited = runtime.block_on(wait_destroyed(&mut socket, &mut watched));
        runtime.block_on(socket.close());
        drop(watcher_ns);
        waited
    });
    links?;
    removal?;
    waited?;
    Ok(TeardownReport {
        namespaces: destroyed,
        names,
    })
}

/// A private unnamed namespace and a socket in it subscribed to nsid notifications.
fn open_watcher(runtime: &tokio::runtime::Runtime) -> Result<(Netns, Rtnl), TeardownError> {
    let ns = netns::create_unnamed().map_err(io_error("creating the watcher namespace"))?;
    let socket = ns
        .run(|| Rtnl::open_nsid_watcher(runtime.handle()))
        .and_then(|r| r)
        .map_err(io_error("opening the watcher socket"))?;
    Ok((ns, socket))
}

fn is_namespace(ns: &Netns) -> bool {
    nix::sys::statfs::fstatfs(ns.as_fd()).is_ok_and(|s| s.filesystem_type().0 == NSFS_MAGIC)
}

/// Deletes the carrying links, one socket per namespace that has any.
fn delete_links(
    runtime: &tokio::runtime::Runtime,
    open: &[Netns],
    first_deleted: &[(String, String)],
) -> Result<(), TeardownError> {
    let mut by_ns: BTreeMap<&str, Vec<Request>> = BTreeMap::new();
    for (netns, link) in first_deleted {
        by_ns
            .entry(netns.as_str())
            .or_default()
            .push(Request::del_link(link));
    }
    for (name, requests) in by_ns {
        let Some(ns) = open.iter().find(|n| n.name() == Some(name)) else {
            continue;
        };
        let socket = ns
            .run(|| Rtnl::open(runtime.handle()))
            .and_then(|r| r)
            .map_err(io_error(format!("opening a netlink socket in {name}")))?;
        let deleted = runtime.block_on(socket.run_all_ignoring_missing(requests));
        runtime.block_on(socket.close());
        deleted?;
    }
    Ok(())
}

/// Gives namespace `open[i]` the nsid `i` in the watcher's namespace; returns the ids given (a
/// namespace already being destroyed refuses one, and needs no waiting).
async fn assign_nsids(watcher: &Rtnl, open: &[Netns]) -> HashSet<i32> {
    stream::iter(open.iter().enumerate())
        .map(|(i, ns)| async move {
            let id = i as i32;
            let request = Request::new_nsid(ns.as_fd(), id, "assigning an nsid");
            watcher.run(request).await.ok().map(|()| id)
        })
        .buffered(super::rtnl::WINDOW)
        .filter_map(|id| async move { id })
        .collect()
        .await
}

async fn wait_destroyed(
    watcher: &mut Rtnl,
    pending: &mut HashMap<i32, String>,
) -> Result<(), TeardownError> {
    let mut progress = Instant::now();
    while !pending.is_empty() {
        match tokio::time::timeout(RESYNC, watcher.next_deleted_nsid()).await {
            Ok(Some(Some(id))) => {
                if pending.remove(&id).is_some() {
                    progress = Instant::now();
                }
            }
            Ok(None) => {
                return Err(TeardownError::Io {
                    what: "waiting for namespaces to be destroyed".into(),
                    source: io::Error::new(io::ErrorKind::BrokenPipe, "the watcher socket closed"),
                });
            }
            Ok(Some(None)) | Err(_) => {
                let alive: HashSet<i32> = watcher.nsids().await?.into_iter().collect();
                let before = pending.len();
                pending.retain(|id, _| alive.contains(id));
                if pending.len() < before {
                    progress = Instant::now();
                } else if progress.elapsed() > STUCK {
                    let mut names: Vec<String> = pending.values().cloned().collect();
                    names.sort();
                    return Err(TeardownError::Stuck { names });
                }
            }
        }
    }
    Ok(())
}
