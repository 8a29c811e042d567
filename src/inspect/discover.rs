//! Which network namespaces the machine has: the one `inspect` runs in, the named ones in
//! /run/netns, and those of running processes (/proc/PID/ns/net), one entry per namespace
//! (deduplicated by nsfs inode), named after the Docker container that owns it when Docker says
//! so. Reads only: stats and directory listings.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::docker::Container;
use super::{FoundNamespace, NsOrigin};
use crate::netns::RUN_DIR;

/// The name `inspect` gives the namespace it runs in.
pub const OWN: &str = "host";

fn inode(path: &std::path::Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}

/// Every namespace, in a stable order: `inspect`'s own, the named ones by name, containers by
/// name, then other processes' by pid. `containers` names process namespaces.
pub fn namespaces(containers: &[Container]) -> Vec<FoundNamespace> {
    let mut out: Vec<FoundNamespace> = Vec::new();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let own_path = PathBuf::from("/proc/self/ns/net");
    if let Some(ino) = inode(&own_path) {
        seen.insert(ino, 0);
        out.push(FoundNamespace {
            name: OWN.to_string(),
            inode: ino,
            origin: NsOrigin::Own,
            path: PathBuf::from(format!("/proc/{}/ns/net", std::process::id())),
            pid: Some(std::process::id()),
        });
    }
    let mut named: Vec<(String, PathBuf)> = fs::read_dir(RUN_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    named.sort();
    for (name, path) in named {
        let Some(ino) = inode(&path) else { continue };
        // A file in /run/netns that is not (or no longer) a namespace's bind mount has the inode
        // of a plain file: only nsfs files open as namespaces, which `read` finds out.
        if seen.contains_key(&ino) {
            continue;
        }
        seen.insert(ino, out.len());
        out.push(FoundNamespace {
            name,
            inode: ino,
            origin: NsOrigin::Named,
            path,
            pid: None,
        });
    }
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let by_pid: HashMap<u32, &Container> = containers.iter().map(|c| (c.pid, c)).collect();
    let by_sandbox: HashMap<u64, &Container> = containers
        .iter()
        .filter_map(|c| Some((inode(c.sandbox.as_ref()?)?, c)))
        .collect();
    let mut processes: Vec<FoundNamespace> = Vec::new();
    for pid in pids {
        let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let Some(ino) = inode(&path) else { continue };
        if let Some(&i) = seen.get(&ino) {
            if let Some(ns) = out.get_mut(i).filter(|ns| ns.pid.is_none()) {
                ns.pid = Some(pid);
            }
            continue;
        }
        let container = by_pid.get(&pid).or_else(|| by_sandbox.get(&ino));
        let (name, origin) = match container {
            Some(c) => (c.name.clone(), NsOrigin::Docker),
            None => (format!("pid-{pid}"), NsOrigin::Process),
        };
        // Past the end of `out`: a process namespace, whose first pid is the one kept.
        seen.insert(ino, usize::MAX);
        processes.push(FoundNamespace {
            name,
            inode: ino,
            origin,
            path,
            pid: Some(pid),
        });
    }
    // Containers first (by name), then bare processes (by pid).
    processes.sort_by_key(|n| (n.origin != NsOrigin::Docker, n.name.clone()));
    out.extend(processes);
    out
}
