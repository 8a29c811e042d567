//! The emulated switch's life beside its lab: a lab held by a process (a run, a test) forwards
//! on a thread of that process, stopped before the lab is torn down; a persistent lab (`lab up`,
//! `run --keep`) forwards in a process of its own, `mvlab switch serve --lab NAME`, started
//! detached from the terminal, recorded in the lab's registry record and stopped by `lab down`
//! and `clean` before anything else is removed. The serving process writes the switch's report
//! to `/run/mvlab/switch/<prefix>-<lab>.json` every second, which `mvlab switch show` reads.
//! `mvlab switch serve --port IF ...` runs the same switch between existing interfaces of the
//! namespace it is started in, outside any lab (`serve_interfaces`): a switch under test for a
//! tester on real ports, after the same safety checks a lab's existing interfaces pass.
//! This module starts, stops and finds forwarders; it must not forward (that is `crate::switch`)
//! nor remove anything of a lab but the forwarder's own process and files.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::registry::{self, Owner};
use super::rtnl::Rtnl;
use super::{Lab, LabError, LabName, SWITCH_NODE, registry_dir};
use crate::stop::Stop;
use crate::switch::{Forwarder, SwitchConfig, SwitchReport};

/// Where serving processes keep their state file and log.
pub const DIR: &str = "/run/mvlab/switch";
/// What `switch serve` prints on standard output once it forwards.
pub const READY: &str = "forwarding";
/// How long `switch serve` may take to open its ports.
const START_WAIT: Duration = Duration::from_secs(10);
/// How often a serving process writes its report.
const STATE_EVERY: Duration = Duration::from_secs(1);
/// How often a serving process looks at its lab and its forwarder (a stop ends the wait at once).
const POLL: Duration = Duration::from_millis(50);
/// How long a stopped forwarder gets before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How a lab's emulated switch runs.
#[derive(Debug, Default)]
pub enum Running {
    /// No emulated switch (or nobody forwards for it yet).
    #[default]
    None,
    /// A thread of this process.
    Thread(Forwarder),
    /// A `mvlab switch serve` process.
    Process(Owner),
}

fn state_path(name: &LabName) -> PathBuf {
    Path::new(DIR).join(format!("{}-{}.json", name.prefix, name.lab))
}

fn log_path(name: &LabName) -> PathBuf {
    Path::new(DIR).join(format!("{}-{}.log", name.prefix, name.lab))
}

/// Starts a forwarder thread in the lab's switch namespace.
pub(super) fn start_thread(lab: &Lab, config: SwitchConfig) -> Result<Forwarder, LabError> {
    let netns = lab.netns_of(SWITCH_NODE)?;
    Ok(Forwarder::start(netns, config)?)
}

/// Starts `EXE switch serve` for the lab, detached (its own process group, so a Ctrl-C at the
/// terminal does not reach it), and returns once it forwards. `exe` is this program.
pub(super) fn spawn(name: &LabName, exe: &Path) -> Result<Owner, LabError> {
    fs::create_dir_all(DIR).map_err(LabError::io(format!("creating {DIR}")))?;
    let log_file = log_path(name);
    let log = fs::File::create(&log_file)
        .map_err(LabError::io(format!("creating {}", log_file.display())))?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(exe)
            .args([
                "switch",
                "serve",
                "--lab",
                &name.lab,
                "--prefix",
                &name.prefix,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(LabError::io(format!(
                "starting `{} switch serve`",
                exe.display()
            )))?
    };
    // The child prints one line once it forwards, or exits (EOF) after writing its log.
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            // The receiver may have given up waiting.
            let _ = tx.send(line);
        });
    }
    let line = rx.recv_timeout(START_WAIT).unwrap_or_default();
    if line.trim() != READY {
        let _ = child.kill();
        let _ = child.wait();
        let why = fs::read_to_string(&log_file).unwrap_or_default();
        // Its content goes into the error; the lab's teardown will not look for it.
        let _ = fs::remove_file(&log_file);
        return Err(LabError::Io {
            what: format!(
                "the emulated switch's forwarder did not start (it said: {})",
                why.trim()
            ),
            source: io::Error::other("forwarder exited"),
        });
    }
    let owner = Owner::of(child.id())
        .map_err(LabError::io("reading the forwarder's /proc entry"))?
        .ok_or_else(|| LabError::Io {
            what: "the emulated switch's forwarder exited right after starting".into(),
            source: io::Error::other("forwarder exited"),
        })?;
    let mut record =
        registry::read(registry_dir(), &name.prefix, &name.lab)?.ok_or(LabError::Unknown {
            lab: name.lab.clone(),
            prefix: name.prefix.clone(),
        })?;
    record.forwarder = Some(owner);
    registry::update(registry_dir(), &record)?;
    Ok(owner)
}

/// Stops a serving process (SIGTERM, then SIGKILL after a grace period) and removes its state
/// file. A process that is already gone is fine.
pub(super) fn stop_process(name: &LabName, owner: Owner) {
    let pid = Pid::from_raw(owner.pid as i32);
    if owner.is_alive() && kill(pid, Signal::SIGTERM).is_ok() {
        let deadline = Instant::now() + STOP_GRACE;
        while owner.is_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if owner.is_alive() {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
    for path in [state_path(name), log_path(name)] {
        if let Err(e) = fs::remove_file(&path)
            && e.kind() != io::ErrorKind::NotFound
        {
            // Not eprintln!: a closed standard error must not turn a teardown into a panic.
            let _ = writeln!(io::stderr(), "mvlab: removing {}: {e}", path.display());
        }
    }
}

/// The report a serving process last wrote.
pub(super) fn read_state(name: &LabName) -> Result<Option<SwitchReport>, LabError> {
    let path = state_path(name);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| LabError::Io {
                what: format!("reading {}", path.display()),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LabError::io(format!("reading {}", path.display()))(e)),
    }
}

fn write_state(name: &LabName, report: &SwitchReport) -> io::Result<()> {
    let path = state_path(name);
    let staging = path.with_extension("json.tmp");
    let mut f = fs::File::create(&staging)?;
    f.write_all(
        serde_json::to_string(report)
            .expect("reports serialise")
            .as_bytes(),
    )?;
    fs::rename(staging, path)
}

/// `mvlab switch serve`: forwards for the persistent lab `lab` until `stop` is requested (a
/// signal) or the lab goes away, writing the report every second. `ready` runs once the
/// switch forwards. Returns the final report.
pub fn serve(
    lab: &str,
    prefix: &str,
    ready: impl FnOnce(),
    stop: &Stop,
) -> Result<SwitchReport, LabError> {
    let attached = Lab::attach(lab, prefix)?;
    let record = attached.record()?;
    let refuse = |message: String, hint: &str| {
        LabError::BadInput(
            crate::diag::Diagnostic::whole(None, message)
                .hint(hint)
                .into(),
        )
    };
    if !record.persistent {
        return Err(refuse(
            format!(
                "lab `{lab}` is held by process {}, which forwards its switch itself",
                record.owner.pid
            ),
            "only a persistent lab (`mvlab lab up`) is served by `switch serve`",
        ));
    }
    if let Some(other) = record.forwarder.filter(|o| o.is_alive()) {
        return Err(refuse(
            format!(
                "lab `{lab}`'s switch is already forwarded by process {}",
                other.pid
            ),
            "two forwarders would send every frame twice; stop that one first",
        ));
    }
    let Some(config) = attached.switch_config.clone() else {
        return Err(refuse(
            format!("lab `{lab}` has no emulated switch"),
            "only labs of scenarios with `[switch] kind = \"emulated\"` have one",
        ));
    };
    fs::create_dir_all(DIR).map_err(LabError::io(format!("creating {DIR}")))?;
    let forwarder = start_thread(&attached, config)?;
    ready();
    let name = attached.name.clone();
    let switch_ns = attached.netns_of(SWITCH_NODE)?.id().ok();
    let mut written: Option<Instant> = None;
    while !stop.requested() {
        if written.is_none_or(|t| t.elapsed() >= STATE_EVERY) {
            let report = forwarder.report()?;
            write_state(&name, &report).map_err(LabError::io("writing the switch's state"))?;
            written = Some(Instant::now());
            let same_switch = crate::netns::Netns::open(&name.netns(SWITCH_NODE))
                .and_then(|n| n.id())
                .ok()
                == switch_ns;
            let registered = registry::read(registry_dir(), prefix, lab)?.is_some();
            if !(same_switch && registered && forwarder.is_running()) {
                break;
            }
        }
        stop.sleep(POLL);
    }
    let report = forwarder.stop()?;
    write_state(&name, &report).map_err(LabError::io("writing the switch's state"))?;
    Ok(report)
}

/// `mvlab switch serve --port IF ...`: forwards between the named interfaces of this namespace,
/// with `config`'s table settings and port policies (its ports, in order, become the named
/// interfaces), until `stop` is requested. An interface that is down, addressed, the machine's
/// way out or a bridge member is refused unless `forced` names it. Returns the final report.
pub fn serve_interfaces(
    interfaces: &[String],
    mut config: SwitchConfig,
    forced: &[String],
    ready: impl FnOnce(),
    stop: &Stop,
) -> Result<SwitchReport, LabError> {
    let refuse = |message: String, hint: String| {
        LabError::BadInput(
            crate::diag::Diagnostic::whole(None, message)
                .hint(hint)
                .into(),
        )
    };
    if interfaces.len() != config.ports.len() {
        return Err(refuse(
            format!(
                "{} interface(s) named, but the switch has {} port(s)",
                interfaces.len(),
                config.ports.len()
            ),
            "name one --port per port of the scenario (its parents', then its peers', in file order)".into(),
        ));
    }
    let (links, addresses, routes) = super::with_runtime(|runtime| {
        let socket = Rtnl::open(runtime.handle())
            .map_err(LabError::io("opening a netlink socket in this namespace"))?;
        let read = runtime.block_on(super::exposure::read(&socket));
        runtime.block_on(socket.close());
        Ok(read?)
    })?;
    for iface in interfaces {
        let why = super::exposure::judge(iface, &links, &addresses, &routes).ok_or_else(|| {
            refuse(
                format!("there is no interface `{iface}` in this namespace"),
                "`ip link` lists the interfaces".into(),
            )
        })?;
        if !why.is_empty() && !forced.contains(iface) {
            return Err(refuse(
                format!("mvlab will not forward on `{iface}`: {}", why.join("; ")),
                format!(
                    "use interfaces wired only to the tester; if you are sure, pass --force-interface {iface}"
                ),
            ));
        }
    }
    for (port, iface) in config.ports.iter_mut().zip(interfaces) {
        port.name = iface.clone();
    }
    let netns =
        crate::netns::Netns::current().map_err(LabError::io("opening this network namespace"))?;
    let forwarder = Forwarder::start(&netns, config)?;
    ready();
    while !stop.requested() && forwarder.is_running() {
        stop.sleep(POLL);
    }
    Ok(forwarder.stop()?)
}
