//! The lab registry: one JSON record per lab under `/run/mvlab/labs/<prefix>-<lab>.json`, saying
//! what the lab will create (every namespace name, the links to delete first), who owns it (pid and
//! process start time, so a reused pid is not mistaken for the owner), whether it outlives its
//! owner (`persistent`), and once built, its inventory. A record is written before the first kernel
//! object exists, atomically and exclusively (a complete file is hard-linked into place, so two
//! `lab up` of one name cannot both start and a reader never sees half a record), and removed last.
//! This module only reads and writes records; deciding what to remove is `clean`'s job.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::inventory::Inventory;
use crate::switch::SwitchConfig;

/// Where records live.
pub const DIR: &str = "/run/mvlab/labs";

/// The process that owns a lab, identified beyond its pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat (clock ticks after boot).
    pub start_time: u64,
}

impl Owner {
    pub fn current() -> io::Result<Owner> {
        let pid = std::process::id();
        let start_time = start_time(pid)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "cannot read /proc/self/stat")
        })?;
        Ok(Owner { pid, start_time })
    }

    /// The running process `pid`, identified by its start time; `None` when there is none.
    pub fn of(pid: u32) -> io::Result<Option<Owner>> {
        Ok(start_time(pid)?.map(|start_time| Owner { pid, start_time }))
    }

    /// True while the owning process runs (a new process with the same pid does not count).
    pub fn is_alive(&self) -> bool {
        matches!(start_time(self.pid), Ok(Some(t)) if t == self.start_time)
    }
}

/// The start time of `pid`, `None` when there is no such process or it has exited (a zombie
/// waiting to be reaped still has a /proc entry, but no longer holds anything).
fn start_time(pid: u32) -> io::Result<Option<u64>> {
    let stat = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(parse_stat(&stat).and_then(|(state, start)| (!matches!(state, "Z" | "X")).then_some(start)))
}

/// The state (field 3) and start time (field 22) of a /proc/PID/stat line; the command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Where a lab is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// `lab up` is creating it.
    Building,
    /// Built; the owner (or nobody, when persistent) holds it.
    Up,
    /// Being removed.
    TearingDown,
}

/// What the registry knows about one lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub lab: String,
    pub prefix: String,
    pub scenario: String,
    pub owner: Owner,
    pub phase: Phase,
    /// Kept after the owner exits (`lab up`); only `lab down` or `clean --all` remove it.
    pub persistent: bool,
    /// Unix time of `lab up`.
    pub created: u64,
    /// Every namespace the lab creates, planned before the first one exists.
    pub namespaces: Vec<String>,
    /// (namespace, link) pairs deleted first at teardown.
    pub first_deleted: Vec<(String, String)>,
    /// Set once the lab is built.
    pub inventory: Option<Inventory>,
    /// The emulated switch's settings, when the lab has one (`mvlab switch serve` reads them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<SwitchConfig>,
    /// The `mvlab switch serve` process forwarding a persistent lab's emulated switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarder: Option<Owner>,
    /// The Docker Engine of a lab made with `--engine docker`, written before it makes anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<super::DockerRecord>,
    /// What that engine made, once the lab is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<super::DockerMade>,
}

/// How a lab looks from outside, for `lab ls` and `clean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Built and persistent: it stays until `lab down`.
    Up,
    /// Built and held by a live process (a test, a run), removed when that process is done.
    Held,
    /// Being built by a live process.
    Building,
    /// Being removed by a live process.
    TearingDown,
    /// Its owner is gone and it is not persistent: `clean` removes it.
    Orphaned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Held => "held",
            Status::Building => "building",
            Status::TearingDown => "tearing-down",
            Status::Orphaned => "orphaned",
        }
    }
}

impl Record {
    pub fn status(&self) -> Status {
        if self.persistent && self.phase == Phase::Up {
            return Status::Up;
        }
        if !self.owner.is_alive() {
            return Status::Orphaned;
        }
        match self.phase {
            Phase::Building => Status::Building,
            Phase::Up => Status::Held,
            Phase::TearingDown => Status::TearingDown,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("lab `{0}` already exists (see `mvlab lab ls`)")]
    Exists(String),
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a lab record ({source}); remove it if no lab of that name is alive", .path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The record file of lab `lab` under `prefix`.
pub fn path(dir: &Path, prefix: &str, lab: &str) -> PathBuf {
    dir.join(format!("{prefix}-{lab}.json"))
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RegistryError + use<> {
    let path = path.to_path_buf();
    move |source| RegistryError::Io { what, path, source }
}

/// A complete temporary copy of `record`, named after this process so `clean` can tell a stale
/// one from a live one.
fn write_temp(dir: &Path, record: &Record) -> Result<PathBuf, RegistryError> {
    fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    let tmp = dir.join(format!(
        ".{}-{}.{}.tmp",
        record.prefix,
        record.lab,
        std::process::id()
    ));
    let text = serde_json::to_vec_pretty(record).expect("records serialise");
    let mut file = fs::File::create(&tmp).map_err(io_err("writing", &tmp))?;
    file.write_all(&text)
        .and_then(|()| file.sync_data())
        .map_err(io_err("writing", &tmp))?;
    Ok(tmp)
}

/// Registers a new lab; fails with `Exists` when a record of that name is already there.
pub fn create(dir: &Path, record: &Record) -> Result<(), RegistryError> {
    let tmp = write_temp(dir, record)?;
    let dest = path(dir, &record.prefix, &record.lab);
    let linked = fs::hard_link(&tmp, &dest);
    // The temporary name is only a staging area; failing to remove it leaves a file `clean` removes.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(RegistryError::Exists(record.lab.clone()))
        }
        Err(e) => Err(io_err("registering", &dest)(e)),
    }
}

/// Replaces an existing record atomically.
pub fn update(dir: &Path, record: &Record) -> Result<(), RegistryError> {
    let tmp = write_temp(dir, record)?;
    let dest = path(dir, &record.prefix, &record.lab);
    fs::rename(&tmp, &dest).map_err(io_err("updating", &dest))
}

/// Removes a record; a missing one is not an error.
pub fn remove(dir: &Path, prefix: &str, lab: &str) -> Result<(), RegistryError> {
    let p = path(dir, prefix, lab);
    match fs::remove_file(&p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("removing", &p)(e)),
        _ => Ok(()),
    }
}

/// Reads one record; `None` when there is none.
pub fn read(dir: &Path, prefix: &str, lab: &str) -> Result<Option<Record>, RegistryError> {
    read_path(&path(dir, prefix, lab))
}

fn read_path(p: &Path) -> Result<Option<Record>, RegistryError> {
    let text = match fs::read(p) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("reading", p)(e)),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|source| RegistryError::Corrupt {
            path: p.to_path_buf(),
            source,
        })
}

/// Every record (sorted by file name), with unreadable ones reported in place.
pub fn list(dir: &Path) -> Result<Vec<Result<Record, RegistryError>>, RegistryError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("listing", dir)(e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|p| read_path(p).transpose())
        .collect())
}

/// Removes staging files left by processes that died between writing and linking them; returns
/// how many.
pub fn remove_stale_temporaries(dir: &Path) -> Result<usize, RegistryError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err("listing", dir)(e)),
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_owner(&name) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The pid in a staging file name `.<prefix>-<lab>.<pid>.tmp`.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    rest.rsplit_once('.')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(lab: &str) -> Record {
        Record {
            lab: lab.into(),
            prefix: "mvlab".into(),
            scenario: "bridge".into(),
            owner: Owner::current().unwrap(),
            phase: Phase::Building,
            persistent: false,
            created: now(),
            namespaces: vec![format!("mvlab-{lab}-host")],
            first_deleted: vec![(format!("mvlab-{lab}-host"), "eth0".into())],
            inventory: None,
            switch: None,
            forwarder: None,
            docker: None,
            made: None,
        }
    }

    fn scratch_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mvlab-registry-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn state_and_start_time_are_read_even_with_odd_command_names() {
        let stat = "123 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21";
        assert_eq!(parse_stat(stat), Some(("S", 987654)));
        assert_eq!(parse_stat("garbage"), None);
        let me = Owner::current().unwrap();
        assert!(me.is_alive());
        let impostor = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!impostor.is_alive(), "a reused pid is not the owner");
    }

    #[test]
    fn an_exited_but_unreaped_owner_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start_time = loop {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            match parse_stat(&stat) {
                Some(("Z", start)) => break start,
                _ => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        };
        assert!(!Owner { pid, start_time }.is_alive());
        child.wait().unwrap();
    }

    #[test]
    fn create_is_exclusive_and_update_replaces() {
        let dir = scratch_dir("excl");
        let mut r = record("a");
        create(&dir, &r).unwrap();
        assert!(matches!(create(&dir, &r), Err(RegistryError::Exists(_))));
        r.phase = Phase::Up;
        r.persistent = true;
        update(&dir, &r).unwrap();
        assert_eq!(read(&dir, "mvlab", "a").unwrap(), Some(r.clone()));
        assert_eq!(r.status(), Status::Up);
        let listed = list(&dir).unwrap();
        assert_eq!(listed.len(), 1, "staging files are not records");
        remove(&dir, "mvlab", "a").unwrap();
        remove(&dir, "mvlab", "a").unwrap();
        assert_eq!(read(&dir, "mvlab", "a").unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn status_follows_owner_and_persistence() {
        let mut r = record("b");
        assert_eq!(r.status(), Status::Building);
        r.phase = Phase::Up;
        assert_eq!(r.status(), Status::Held);
        r.owner.start_time += 1;
        assert_eq!(r.status(), Status::Orphaned);
        r.persistent = true;
        assert_eq!(r.status(), Status::Up);
        r.phase = Phase::TearingDown;
        assert_eq!(r.status(), Status::Orphaned);
    }

    #[test]
    fn stale_staging_files_of_dead_processes_are_removed() {
        let dir = scratch_dir("stale");
        fs::create_dir_all(&dir).unwrap();
        let dead = dir.join(".mvlab-x.4000000000.tmp");
        let live = dir.join(format!(".mvlab-y.{}.tmp", std::process::id()));
        fs::write(&dead, "{}").unwrap();
        fs::write(&live, "{}").unwrap();
        assert_eq!(temp_owner(".mvlab-a.b.77.tmp"), Some(77));
        assert_eq!(remove_stale_temporaries(&dir).unwrap(), 1);
        assert!(!dead.exists() && live.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
