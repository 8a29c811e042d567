//! Network namespaces. Owns the `ip netns` layout (a bind mount per named namespace under
//! `/run/netns`, so `ip netns exec NAME ...` works on a live lab), creating, opening and removing
//! namespaces, and running work on a thread that has entered one. It is the only module that calls
//! `unshare`, `setns` or `mount`: anything that must act inside a namespace (netlink sockets, packet
//! sockets, /proc/sys writes) goes through `Netns::run`, `Netns::spawn` or `create_named`'s `init`.
//! Entering is per thread (`setns` affects only the calling thread), so a caller's thread never
//! changes namespace.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces live, as with `ip netns`.
pub const RUN_DIR: &str = "/run/netns";

/// An open handle on a network namespace. The namespace stays alive while the handle is open.
#[derive(Debug)]
pub struct Netns {
    file: File,
    name: Option<String>,
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// The file a named namespace is bound to.
pub fn path_of(name: &str) -> PathBuf {
    PathBuf::from(RUN_DIR).join(name)
}

fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{name}` is not a valid namespace name"),
        ));
    }
    Ok(())
}

impl Netns {
    /// Opens the named namespace `/run/netns/NAME`.
    pub fn open(name: &str) -> io::Result<Netns> {
        check_name(name)?;
        let file = File::open(path_of(name)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "network namespace `{name}` ({}): {e}",
                    path_of(name).display()
                ),
            )
        })?;
        Ok(Netns {
            file,
            name: Some(name.to_string()),
        })
    }

    /// Opens the namespace a file stands for (`/proc/PID/ns/net`, a bind mount elsewhere) without
    /// a name: for reading namespaces mvlab did not make.
    pub fn open_path(path: &std::path::Path) -> io::Result<Netns> {
        let file = File::open(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("network namespace {}: {e}", path.display()),
            )
        })?;
        Ok(Netns { file, name: None })
    }

    /// The namespace the calling thread is in.
    pub fn current() -> io::Result<Netns> {
        Ok(Netns {
            file: File::open("/proc/thread-self/ns/net")?,
            name: None,
        })
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The namespace's identity (its nsfs inode): equal for two handles on the same namespace.
    pub fn id(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.ino())
    }

    /// Runs `f` to completion on a new thread entered into this namespace and returns its value.
    /// `f` may borrow from the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                enter(self.as_fd())?;
                Ok(f())
            })
            .join()
            .map_err(|_| io::Error::other("a thread running in a network namespace panicked"))?
        })
    }

    /// Starts `f` on a new named thread entered into this namespace: for long-running work such
    /// as packet loops. Entering happens before `spawn` returns, so its failure is reported here
    /// and `f` never runs outside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        thread_name: impl Into<String>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<NsThread<T>> {
        let fd = self.file.try_clone()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
        let handle = std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || {
                let entered = enter(fd.as_fd());
                drop(fd);
                let ok = entered.is_ok();
                // The spawner waits for exactly this one message.
                let _ = tx.send(entered);
                ok.then(f)
            })?;
        let entered = rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("namespace thread ended before entering")));
        match entered {
            Ok(()) => Ok(NsThread(handle)),
            Err(e) => {
                let _ = handle.join();
                Err(e)
            }
        }
    }
}

/// A thread started by `Netns::spawn`, inside its namespace.
#[derive(Debug)]
pub struct NsThread<T>(JoinHandle<Option<T>>);

impl<T> NsThread<T> {
    /// Waits for the thread's value; `Err` carries a panic's payload, as `JoinHandle::join`.
    pub fn join(self) -> std::thread::Result<T> {
        self.0
            .join()
            .map(|v| v.expect("a thread that entered its namespace ran its work"))
    }

    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn enter(fd: BorrowedFd<'_>) -> io::Result<()> {
    setns(fd, CloneFlags::CLONE_NEWNET).map_err(errno)
}

/// A new namespace with no name: it lives as long as the returned handle and anything inside it,
/// and vanishes with the process even after `kill -9`. Used for throwaway probes.
pub fn create_unnamed() -> io::Result<Netns> {
    std::thread::scope(|s| {
        s.spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).map_err(errno)?;
            Netns::current()
        })
        .join()
        .map_err(|_| io::Error::other("namespace creation thread panicked"))?
    })
}

/// Makes `/run/netns` a shared mount point, as `ip netns add` does, so bind mounts under it
/// propagate to every mount namespace. Done once per process.
fn prepare_run_dir() -> io::Result<()> {
    static DONE: OnceLock<Result<(), (io::ErrorKind, String)>> = OnceLock::new();
    DONE.get_or_init(|| {
        let go = || -> io::Result<()> {
            fs::create_dir_all(RUN_DIR)?;
            let shared = || {
                mount(
                    None::<&str>,
                    RUN_DIR,
                    None::<&str>,
                    MsFlags::MS_SHARED | MsFlags::MS_REC,
                    None::<&str>,
                )
            };
            match shared() {
                Ok(()) => Ok(()),
                Err(Errno::EINVAL) => {
                    mount(
                        Some(RUN_DIR),
                        RUN_DIR,
                        Some("none"),
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None::<&str>,
                    )
                    .map_err(errno)?;
                    shared().map_err(errno)
                }
                Err(e) => Err(errno(e)),
            }
        };
        go().map_err(|e| (e.kind(), format!("preparing {RUN_DIR}: {e}")))
    })
    .clone()
    .map_err(|(kind, msg)| io::Error::new(kind, msg))
}

/// Creates the named namespaces `names` (each bound at `/run/netns/NAME`) on up to `threads`
/// threads. For each one, `init` runs on the creating thread while that thread is inside the new
/// namespace, so sockets it opens and /proc/sys files it writes belong to that namespace.
/// Results come back in the order of `names`; a name that already exists is an `AlreadyExists`
/// error and is left untouched.
pub fn create_named<T: Send>(
    names: &[String],
    threads: usize,
    init: impl Fn(&Netns) -> io::Result<T> + Sync,
) -> Vec<io::Result<(Netns, T)>> {
    if let Err(e) = prepare_run_dir() {
        return names
            .iter()
            .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
            .collect();
    }
    let next = AtomicUsize::new(0);
    type Slot<T> = Option<io::Result<(Netns, T)>>;
    let results: Mutex<Vec<Slot<T>>> = Mutex::new(names.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, names.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(name) = names.get(i) else { break };
                    let made = create_one(name).and_then(|ns| {
                        let value = init(&ns)?;
                        Ok((ns, value))
                    });
                    results.lock().expect("results lock")[i] = Some(made);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every name was handled"))
        .collect()
}

/// On the calling (worker) thread: a new namespace, bound to `/run/netns/NAME`; the thread stays
/// inside it.
fn create_one(name: &str) -> io::Result<Netns> {
    bind_named(
        name,
        "/proc/thread-self/ns/net",
        || unshare(CloneFlags::CLONE_NEWNET),
        "creating network namespace",
    )?;
    let mut ns = Netns::current()?;
    ns.name = Some(name.to_string());
    Ok(ns)
}

/// Creates `/run/netns/NAME` (a taken name is refused), runs `prepare`, and bind-mounts the
/// namespace file `source` on it; on failure the file goes again.
fn bind_named(
    name: &str,
    source: &str,
    prepare: impl FnOnce() -> nix::Result<()>,
    what: &str,
) -> io::Result<()> {
    check_name(name)?;
    let path = path_of(name);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", path.display())))?;
    let bound = prepare().and_then(|()| {
        mount(
            Some(source),
            &path,
            Some("none"),
            MsFlags::MS_BIND,
            None::<&str>,
        )
    });
    if let Err(e) = bound {
        let _ = fs::remove_file(&path);
        return Err(io::Error::new(
            errno(e).kind(),
            format!("{what} `{name}`: {}", errno(e)),
        ));
    }
    Ok(())
}

/// Names the network namespace process `pid` is in `/run/netns/NAME` (a bind mount, as `ip netns
/// attach` makes), so the lab reaches a namespace someone else made (a container's) as it
/// reaches its own; `remove_named` unbinds it, and the namespace lives on while its process does.
pub fn attach_named(name: &str, pid: u32) -> io::Result<Netns> {
    prepare_run_dir()?;
    let source = format!("/proc/{pid}/ns/net");
    bind_named(name, &source, || Ok(()), &format!("naming {source}"))?;
    Netns::open(name)
}

/// Removes the named namespace's bind mount and file. The kernel frees the namespace (and every
/// interface left in it) once nothing else holds it. Returns false when there was nothing to
/// remove. A file left by a creation that was killed before mounting is removed too.
pub fn remove_named(name: &str) -> io::Result<bool> {
    check_name(name)?;
    let path = path_of(name);
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(errno(e)),
    }
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The names under `/run/netns` (empty when the directory does not exist).
pub fn list_named() -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(RUN_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        if let Some(name) = entry?.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}
