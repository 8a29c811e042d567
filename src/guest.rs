//! Other kernels, for real: boots a kernel image under qemu with virtme-ng (`vng`), with this
//! host's root filesystem read-only, and runs this very mvlab binary inside on the arguments it
//! is given; what the guest writes comes back through one directory shared read-write. Owns
//! finding the kernel (an image, or an installed or cached kernel's release) and its modules,
//! the accelerator (KVM when it runs a guest, TCG otherwise), the guest's vCPUs (one when a
//! kernel oopses under TCG with two), the script the guest runs (the modules to load, the
//! command, its exit code), and stopping qemu on every exit path. Both choices are made by
//! trying, never by assumption. It knows nothing of scenarios or results beyond the files the
//! guest writes.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::diag::Outcome;
use crate::stop::Stop;

/// What a guest is given.
const GUEST_MEMORY: &str = "4G";
/// vCPUs under TCG: two, and one for a kernel that oopses with two (seen: Debian's 6.12.111
/// hits `Oops: int3` while patching its text).
const TCG_CPUS: u32 = 2;
/// The guest script's first lines: two tracefs instances that keep `skb:kfree_skb` enabled
/// (with a filter no frame passes) for the guest's life, and no recording of task names (which
/// switches the scheduler's tracepoints on and off with every event). Under multi-threaded TCG
/// the guest's live text patching can lock the kernel up (seen: 6.1 stuck in `text_poke_bp`,
/// called from `tracepoint_probe_unregister`, when a drop tracer switched the event off). A
/// tracepoint's code is patched only when its probe count moves between 0, 1 and 2; with two
/// probes held, the run's own drop tracers add and remove a third and nothing is patched. Their
/// names are not a drop tracer's (`mvlab-PID-N`), so `mvlab clean` leaves them.
const HOLD_TRACEPOINTS: &str = r#"t=/sys/kernel/tracing
[ -d $t/events ] || mount -t tracefs nodev $t 2>/dev/null
echo 0 >$t/options/record-cmd 2>/dev/null
for h in 1 2; do
  d=$t/instances/guest-hold-$h
  mkdir $d && echo 1 >$d/buffer_size_kb &&
    echo 'protocol == 0 && protocol == 1' >$d/events/skb/kfree_skb/filter &&
    echo 1 >$d/events/skb/kfree_skb/enable
done 2>/dev/null
"#;
/// What a guest kernel prints when a CPU is stuck: the guest will not finish.
const LOCKUP: [&str; 3] = ["soft lockup", "self-detected stall", "hard LOCKUP"];
/// Console lines kept to explain a guest that failed.
const CONSOLE_TAIL: usize = 40;
/// How often the runner looks at the guest and the clock (a stop request wakes it at once).
const POLL: Duration = Duration::from_millis(100);
/// How long qemu gets to exit after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);
/// What virtme-ng's init prints when it hands over to the command.
const SCRIPT_STARTED: &str = "starting script";

/// A kernel to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestKernel {
    /// The bootable image (a bzImage).
    pub image: PathBuf,
    /// Its release, as `uname -r` will say inside.
    pub release: String,
    /// Its modules (`lib/modules/RELEASE` beside the image's `boot/`), when there are any.
    pub modules: Option<PathBuf>,
}

/// Why a guest could not run (the command inside may still have failed: that is its exit code).
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("{0}")]
    NoKernel(String),
    #[error(
        "virtme-ng (`vng`) was not found: install it (`sudo scripts/setup` does, into ~/.cache/mvlab/venv; or `pip install virtme-ng`), or name it with MVLAB_VNG"
    )]
    NoVng,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the guest running {release} ended without an exit code ({why}); its console ended with:\n{console}"
    )]
    Failed {
        release: String,
        why: String,
        console: String,
    },
    #[error("interrupted by a signal; the guest was stopped")]
    Interrupted,
}

impl GuestError {
    pub fn outcome(&self) -> Outcome {
        match self {
            GuestError::NoKernel(_) => Outcome::BadInput,
            GuestError::NoVng => Outcome::MissingFeature,
            GuestError::Io { .. } | GuestError::Failed { .. } | GuestError::Interrupted => {
                Outcome::RuntimeFailure
            }
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> GuestError {
    let what = what.into();
    move |source| GuestError::Io { what, source }
}

/// Where `scripts/kernels` (and a user) keep unpacked Debian kernels: one directory per
/// package, as `dpkg -x` lays it out.
pub fn kernel_cache() -> PathBuf {
    std::env::var_os("MVLAB_KERNEL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/mvlab/kernels"))
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// The release a bzImage carries in its setup header (the `kernel_version` pointer at 0x20e,
/// relative to 0x200, to a NUL-terminated string whose first word is the release).
pub fn release_of_image(image: &[u8]) -> Option<String> {
    if image.get(0x202..0x206) != Some(b"HdrS") {
        return None;
    }
    let pointer = u16::from_le_bytes([*image.get(0x20e)?, *image.get(0x20f)?]);
    let start = 0x200 + usize::from(pointer);
    let text = image.get(start..start.checked_add(256)?.min(image.len()))?;
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let release = std::str::from_utf8(&text[..end])
        .ok()?
        .split_whitespace()
        .next()?;
    (!release.is_empty()).then(|| release.to_string())
}

impl GuestKernel {
    /// `spec` is a kernel image (with its modules where `dpkg -x` lays them out), or the
    /// release of an installed kernel (`/boot/vmlinuz-RELEASE`) or of one in the kernel cache.
    pub fn resolve(spec: &str) -> Result<GuestKernel, GuestError> {
        let path = Path::new(spec);
        let image = if path.is_file() {
            path.to_path_buf()
        } else {
            let candidates = [
                PathBuf::from(format!("/boot/vmlinuz-{spec}")),
                PathBuf::from(format!("/usr/lib/modules/{spec}/vmlinuz")),
                kernel_cache()
                    .join(format!("linux-image-{spec}"))
                    .join(format!("boot/vmlinuz-{spec}")),
            ];
            candidates
                .into_iter()
                .find(|c| c.is_file())
                .ok_or_else(|| {
                    GuestError::NoKernel(format!(
                        "`{spec}` is neither a kernel image nor the release of an installed kernel or of one in {}; `scripts/kernels` fetches Debian's into that cache",
                        kernel_cache().display()
                    ))
                })?
        };
        let image = image
            .canonicalize()
            .map_err(io(format!("reading {}", image.display())))?;
        let bytes = std::fs::read(&image).map_err(io(format!("reading {}", image.display())))?;
        let release = release_of_image(&bytes).ok_or_else(|| {
            GuestError::NoKernel(format!(
                "{} is not a bootable x86 kernel image (no setup header with a version)",
                image.display()
            ))
        })?;
        let modules = image.parent().and_then(Path::parent).and_then(|root| {
            ["lib/modules", "usr/lib/modules"]
                .iter()
                .map(|m| root.join(m).join(&release))
                .find(|m| m.is_dir())
        });
        Ok(GuestKernel {
            image,
            release,
            modules,
        })
    }
}

/// How qemu runs the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The accelerator found to work in this process (`None`: not tried yet).
static ACCEL: OnceLock<Accel> = OnceLock::new();

/// The `vng` to run: MVLAB_VNG, else one on PATH, else the one `scripts/setup` installs.
fn vng() -> Result<PathBuf, GuestError> {
    if let Some(v) = std::env::var_os("MVLAB_VNG") {
        return Ok(PathBuf::from(v));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("vng"));
    on_path
        .chain([home().join(".cache/mvlab/venv/bin/vng")])
        .find(|p| p.is_file())
        .ok_or(GuestError::NoVng)
}

/// A directory the guest writes into (the host's, shared read-write), removed when dropped.
#[derive(Debug)]
pub struct SharedDir {
    path: PathBuf,
}

impl SharedDir {
    fn new() -> Result<SharedDir, GuestError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "mvlab-guest-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).map_err(io(format!("creating {}", path.display())))?;
        Ok(SharedDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What ran inside.
#[derive(Debug)]
pub struct GuestOutput {
    /// The command's exit code.
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
    pub accel: Accel,
    pub cpus: u32,
    /// From starting qemu to the command starting inside.
    pub boot_s: f64,
    /// From starting qemu to qemu's end.
    pub total_s: f64,
}

/// One guest: a kernel, and the directory it shares with this host.
#[derive(Debug)]
pub struct Guest {
    pub kernel: GuestKernel,
    shared: SharedDir,
}

/// Single-quotes `s` for sh.
fn quote(s: &std::ffi::OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

/// How one boot went.
enum Attempt {
    Done(GuestOutput),
    /// KVM did not run the guest: try TCG.
    WithoutKvm,
    /// The kernel oopsed with several vCPUs: try one.
    OneCpu,
    Failed(GuestError),
}

impl Guest {
    pub fn new(kernel: GuestKernel) -> Result<Guest, GuestError> {
        Ok(Guest {
            kernel,
            shared: SharedDir::new()?,
        })
    }

    /// The directory the guest's command writes its files into (the same path inside).
    pub fn dir(&self) -> &Path {
        self.shared.path()
    }

    /// Boots the kernel, loads `modules` (those it lacks are skipped: the command's own probes
    /// name what is missing), runs `program args` in this directory inside, and returns its
    /// exit code and output. Besides `dir()`, the guest may write into each of `shared` (host
    /// directories, at the same paths inside). `progress` hears the phase; `stop` (a signal)
    /// stops qemu.
    pub fn run(
        &self,
        program: &Path,
        args: &[OsString],
        modules: &[&str],
        shared: &[PathBuf],
        progress: &(dyn Fn(&str) + Sync),
        stop: &Stop,
    ) -> Result<GuestOutput, GuestError> {
        let dir = self.shared.path();
        let cwd = std::env::current_dir().map_err(io("reading the working directory"))?;
        let mut script = String::from("#!/bin/sh\n");
        script.push_str(HOLD_TRACEPOINTS);
        for m in modules {
            script.push_str(&format!("modprobe -q {m} 2>/dev/null\n"));
        }
        script.push_str(&format!("cd {} || exit 125\n", quote(cwd.as_os_str())));
        let mut command = quote(program.as_os_str());
        for a in args {
            command.push(' ');
            command.push_str(&quote(a));
        }
        let file = |name: &str| quote(dir.join(name).as_os_str());
        script.push_str(&format!(
            "{command} >{} 2>{}\necho $? >{}\n",
            file("stdout"),
            file("stderr"),
            file("exit")
        ));
        let script_path = dir.join("guest.sh");
        std::fs::write(&script_path, script)
            .map_err(io(format!("writing {}", script_path.display())))?;
        let vng = vng()?;
        let mut accel = *ACCEL.get().unwrap_or(&Accel::Kvm);
        let mut cpus = match accel {
            Accel::Kvm => num_cpus(),
            Accel::Tcg => TCG_CPUS,
        };
        loop {
            match self.attempt(&vng, &script_path, shared, (accel, cpus), progress, stop)? {
                Attempt::Done(output) => {
                    let _ = ACCEL.set(accel);
                    return Ok(output);
                }
                Attempt::WithoutKvm => {
                    accel = Accel::Tcg;
                    cpus = TCG_CPUS;
                    let _ = ACCEL.set(Accel::Tcg);
                }
                Attempt::OneCpu => cpus = 1,
                Attempt::Failed(failure) => return Err(failure),
            }
        }
    }

    /// One boot.
    fn attempt(
        &self,
        vng: &Path,
        script: &Path,
        shared: &[PathBuf],
        (accel, cpus): (Accel, u32),
        progress: &(dyn Fn(&str) + Sync),
        stop: &Stop,
    ) -> Result<Attempt, GuestError> {
        if stop.requested() {
            return Err(GuestError::Interrupted);
        }
        let dir = self.shared.path();
        let _ = std::fs::remove_file(dir.join("exit"));
        let release = &self.kernel.release;
        progress(&format!(
            "{release}: booting ({}, {cpus} vCPU{})",
            accel.as_str(),
            if cpus == 1 { "" } else { "s" }
        ));
        let mut cmd = Command::new(vng);
        cmd.args(["-v", "--force-9p", "--disable-microvm", "--user", "root"])
            .arg("--cpus")
            .arg(cpus.to_string())
            .args(["--memory", GUEST_MEMORY])
            .arg("--rwdir")
            .arg(dir);
        for d in shared {
            cmd.arg("--rwdir").arg(d);
        }
        cmd.arg("-r").arg(&self.kernel.image);
        if accel == Accel::Tcg {
            cmd.arg("--disable-kvm");
        }
        cmd.arg("--")
            .arg(format!("sh {}", quote(script.as_os_str())));
        // vng runs its helpers (virtme-run) by name from its own directory.
        if let Some(bin) = vng.parent() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![bin.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            if let Ok(joined) = std::env::join_paths(dirs) {
                cmd.env("PATH", joined);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let started = Instant::now();
        let child = cmd
            .spawn()
            .map_err(io(format!("starting {}", vng.display())))?;
        let mut qemu = Qemu { child };
        let console = Arc::new(Mutex::new(Console::default()));
        let readers: Vec<_> = [
            qemu.child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            qemu.child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let console = console.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    console.lock().expect("console lock").push(line, started);
                }
            })
        })
        .collect();
        let mut announced = false;
        let status = loop {
            if stop.requested() {
                qemu.kill();
                return Err(GuestError::Interrupted);
            }
            if let Some(status) = qemu.child.try_wait().map_err(io("waiting for the guest"))? {
                break status;
            }
            if console.lock().expect("console lock").lockup {
                // Let the kernel finish printing where it is stuck (unless a stop cuts the wait
                // short), then stop it.
                stop.sleep(KILL_GRACE);
                qemu.kill();
                for r in readers {
                    let _ = r.join();
                }
                let console = console.lock().expect("console lock");
                return Ok(Attempt::Failed(GuestError::Failed {
                    release: release.clone(),
                    why: "its kernel locked up".into(),
                    console: Vec::from(console.tail.clone()).join("\n"),
                }));
            }
            if !announced && console.lock().expect("console lock").started.is_some() {
                announced = true;
                progress(&format!("{release}: running inside"));
            }
            stop.sleep(POLL);
        };
        for r in readers {
            let _ = r.join();
        }
        let total_s = started.elapsed().as_secs_f64();
        let console = console.lock().expect("console lock");
        let exit = std::fs::read_to_string(dir.join("exit"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let Some(exit) = exit else {
            return Ok(if accel == Accel::Kvm && console.started.is_none() {
                Attempt::WithoutKvm
            } else if console.oops && cpus > 1 {
                Attempt::OneCpu
            } else {
                Attempt::Failed(GuestError::Failed {
                    release: release.clone(),
                    why: format!("qemu exited with {status}"),
                    console: Vec::from(console.tail.clone()).join("\n"),
                })
            });
        };
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        Ok(Attempt::Done(GuestOutput {
            exit,
            stdout: read("stdout"),
            stderr: read("stderr"),
            accel,
            cpus,
            boot_s: console.started.unwrap_or(total_s),
            total_s,
        }))
    }
}

fn num_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// What the guest printed on its console: the last lines, when the command started, and
/// whether the kernel oopsed or a CPU locked up.
#[derive(Debug, Default)]
struct Console {
    tail: std::collections::VecDeque<String>,
    started: Option<f64>,
    oops: bool,
    lockup: bool,
}

impl Console {
    fn push(&mut self, line: String, t0: Instant) {
        if self.started.is_none() && line.contains(SCRIPT_STARTED) {
            self.started = Some(t0.elapsed().as_secs_f64());
        }
        self.oops |= line.contains("Oops") || line.contains("Kernel panic");
        self.lockup |= LOCKUP.iter().any(|l| line.contains(l));
        if self.tail.len() == CONSOLE_TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

/// qemu (through vng) in its own process group: stopped with the whole group when dropped.
struct Qemu {
    child: Child,
}

impl Qemu {
    fn kill(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + KILL_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(POLL);
        }
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_with(version: &str) -> Vec<u8> {
        let mut image = vec![0u8; 0x1000];
        image[0x202..0x206].copy_from_slice(b"HdrS");
        let at = 0x400usize;
        image[0x20e..0x210].copy_from_slice(&((at - 0x200) as u16).to_le_bytes());
        image[at..at + version.len()].copy_from_slice(version.as_bytes());
        image
    }

    #[test]
    fn the_release_comes_from_the_setup_header() {
        let image = image_with("6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP");
        assert_eq!(release_of_image(&image).as_deref(), Some("6.1.0-57-amd64"));
        assert_eq!(release_of_image(&[0u8; 0x300]), None);
        let mut truncated = image_with("6.12.118+deb12-amd64");
        truncated[0x20e..0x210].copy_from_slice(&0xffffu16.to_le_bytes());
        assert_eq!(release_of_image(&truncated), None);
    }

    #[test]
    fn a_stuck_cpu_on_the_console_is_a_lockup_and_an_oops_is_not() {
        let t0 = Instant::now();
        let mut console = Console::default();
        console.push(
            "[   92.1] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI".into(),
            t0,
        );
        assert!(console.oops && !console.lockup);
        console.push(
            "[  184.6] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [sh:212]".into(),
            t0,
        );
        assert!(console.lockup);
        let mut stall = Console::default();
        stall.push(
            "[  496.4] rcu: INFO: rcu_preempt self-detected stall on CPU".into(),
            t0,
        );
        assert!(stall.lockup && !stall.oops);
    }

    #[test]
    fn arguments_are_quoted_for_sh() {
        assert_eq!(quote("a b".as_ref()), "'a b'");
        assert_eq!(quote("it's".as_ref()), r"'it'\''s'");
    }

    #[test]
    fn an_unknown_kernel_is_bad_input_naming_the_cache() {
        let e = GuestKernel::resolve("0.0.0-none").unwrap_err();
        assert_eq!(e.outcome(), Outcome::BadInput);
        assert!(e.to_string().contains("scripts/kernels"), "{e}");
    }
}
