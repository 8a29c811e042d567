//! Labs: the kernel objects a scenario describes, built in network namespaces and removed on
//! every exit path. Owns the public lab API (`Lab::up`, `Lab::attach`, `Lab::down`, `down`,
//! `list`, `clean`, `probe`), lab naming (`<prefix>-<lab>-<node>` namespaces, links marked with
//! the alias `mvlab:<lab>`), and the order of a `lab up`: check privileges and flags, probe the
//! features the scenario needs, plan, register, build, and on any failure or signal roll back.
//! The parts live in submodules: `rtnl` (the only rtnetlink code in mvlab), `build` (plan and
//! execution), `teardown`, `registry`, `clean`, `probe`, `inventory`, `grow` (endpoints added to
//! a live lab), `table` (the switch's forwarding table as measurements read it) and `background`
//! (the wait for the lab's own IPv6 frames to reach the switch). It never
//! parses scenarios, sends test frames or formats reports.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::addr::MacAddr;
use crate::diag::{Diagnostic, Diagnostics, Outcome};
use crate::netns::Netns;
use crate::scenario::{SWITCH_NODE, Scenario, check_lab_word};
use crate::stop::Stop;
use crate::switch::{EntryKind, SwitchConfig, SwitchError, SwitchReport};

mod background;
mod build;
mod clean;
mod docker;
mod exposure;
pub mod forwarder;
mod grow;
pub mod inventory;
mod plan;
pub mod probe;
pub mod registry;
pub mod rtnl;
mod table;
mod teardown;

pub use build::BuildFailure;
pub use clean::{CleanOptions, CleanReport, clean};
pub use docker::{Container as DockerContainer, DockerMade, DockerRecord};
pub use grow::Growth;
pub use inventory::{InterfaceInventory, Inventory, NodeInventory};
pub use registry::{Record, Status};
pub use rtnl::{LinkState, Neighbour};
pub use table::{PortCounters, SwitchTable};
pub use teardown::{TeardownError, TeardownReport};

use plan::{Plan, RealParents};
use registry::{Owner, Phase, RegistryError};
use rtnl::{Rtnl, RtnlError};
use teardown::Doomed;

/// The namespace prefix unless `--prefix` says otherwise.
pub const DEFAULT_PREFIX: &str = "mvlab";

/// A lab's validated name and prefix, and the names derived from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabName {
    pub prefix: String,
    pub lab: String,
}

impl LabName {
    pub fn new(prefix: &str, lab: &str) -> Result<LabName, String> {
        check_lab_word("prefix", prefix)?;
        check_lab_word("lab name", lab)?;
        Ok(LabName {
            prefix: prefix.to_string(),
            lab: lab.to_string(),
        })
    }

    /// The namespace of `node`: `<prefix>-<lab>-<node>`.
    pub fn netns(&self, node: &str) -> String {
        format!("{}-{}-{node}", self.prefix, self.lab)
    }

    /// `<prefix>-<lab>`: the label of everything a Docker Engine makes for the lab.
    pub fn label(&self) -> String {
        format!("{}-{}", self.prefix, self.lab)
    }

    /// The IFLA_IFALIAS every link of the lab carries.
    pub fn alias(&self) -> String {
        format!("mvlab:{}", self.lab)
    }
}

/// How to bring a lab up.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The lab's name; the scenario's name when `None`.
    pub name: Option<String>,
    pub prefix: String,
    /// Allow existing interfaces of this machine: `kind = "existing"` parents, and the tester
    /// interfaces of an external switch.
    pub use_real_parent: bool,
    /// Existing interfaces the user vouches for: not refused for being down, addressed, the
    /// machine's way out or a bridge member.
    pub force_interfaces: Vec<String>,
    /// Keep the lab after the process exits (`lab up`); otherwise dropping the `Lab` removes it.
    pub persistent: bool,
    /// Checked between build steps: once requested (by a SIGINT/SIGTERM handler), the build
    /// stops and everything created so far is removed.
    pub interrupt: Option<Stop>,
    /// Who makes the endpoints.
    pub engine: Engine,
}

/// Who makes a lab's endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// mvlab, through rtnetlink.
    #[default]
    Native,
    /// A Docker Engine (DOCKER_HOST or the default socket): its macvlan networks and containers.
    Docker,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            name: None,
            prefix: DEFAULT_PREFIX.to_string(),
            use_real_parent: false,
            force_interfaces: Vec::new(),
            persistent: false,
            interrupt: None,
            engine: Engine::Native,
        }
    }
}

/// Whether a failed build's rollback removed everything.
#[derive(Debug)]
pub enum Rollback {
    Done,
    Failed(TeardownError),
    /// The lab's kernel objects are gone, but the Docker Engine could not remove everything
    /// it made (its words); the record stays.
    DockerLeft(String),
}

impl std::fmt::Display for Rollback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rollback::Done => f.write_str("everything created has been removed"),
            Rollback::Failed(e) => write!(
                f,
                "removing what was created also failed ({e}); run `mvlab clean` to finish"
            ),
            Rollback::DockerLeft(e) => write!(
                f,
                "the Docker Engine did not remove everything it made ({e}); run `mvlab clean` to finish"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Bad scenario, flags, name or permissions: nothing was created.
    #[error("{0}")]
    BadInput(Diagnostics),
    /// The kernel lacks a feature the scenario needs: nothing was created.
    #[error("{0}")]
    MissingFeature(Diagnostics),
    #[error("building lab `{lab}` failed: {cause}; {rollback}")]
    Build {
        lab: String,
        cause: BuildFailure,
        rollback: Rollback,
    },
    #[error("there is no lab `{lab}` with prefix `{prefix}`; `mvlab lab ls` lists the labs")]
    Unknown { lab: String, prefix: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("tearing down lab `{lab}`: {source}")]
    Teardown {
        lab: String,
        #[source]
        source: TeardownError,
    },
    #[error(transparent)]
    Kernel(#[from] RtnlError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Switch(#[from] SwitchError),
    /// The Docker Engine refused a request, in its own words.
    #[error("{0}")]
    DockerRefused(String),
}

impl LabError {
    /// The exit code class of this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            LabError::BadInput(_) | LabError::Unknown { .. } | LabError::DockerRefused(_) => {
                Outcome::BadInput
            }
            LabError::Build {
                cause: BuildFailure::Docker { refused: true, .. },
                ..
            } => Outcome::BadInput,
            LabError::MissingFeature(_) => Outcome::MissingFeature,
            LabError::Switch(e) => e.outcome(),
            _ => Outcome::RuntimeFailure,
        }
    }

    /// The error as a person reads it: `error: ...` (diagnostics say it themselves).
    pub fn report(&self) -> String {
        match self {
            LabError::BadInput(d) | LabError::MissingFeature(d) => d.to_string(),
            other => format!("error: {other}"),
        }
    }

    fn bad(message: impl Into<String>, hint: impl Into<String>) -> LabError {
        LabError::BadInput(Diagnostic::whole(None, message).hint(hint).into())
    }

    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
        move |source| LabError::Io {
            what: what.into(),
            source,
        }
    }
}

fn registry_dir() -> &'static Path {
    Path::new(registry::DIR)
}

/// Runs `f` with a fresh single-threaded runtime on a thread of its own, so the lab API can be
/// called from plain threads and from inside another runtime alike.
fn with_runtime<T: Send>(
    f: impl FnOnce(&tokio::runtime::Runtime) -> Result<T, LabError> + Send,
) -> Result<T, LabError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(LabError::io("starting the netlink runtime"))?;
            f(&runtime)
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A netlink socket opened inside `netns` (`what` names the namespace in errors).
fn socket_in(
    runtime: &tokio::runtime::Runtime,
    netns: &Netns,
    what: &str,
) -> Result<Rtnl, LabError> {
    netns
        .run(|| Rtnl::open(runtime.handle()))
        .and_then(|r| r)
        .map_err(LabError::io(format!("opening a netlink socket in {what}")))
}

/// Runs netlink queries on a socket opened inside `netns`, then closes it.
fn query_in<T: Send>(
    runtime: &tokio::runtime::Runtime,
    netns: &Netns,
    what: &str,
    queries: impl AsyncFnOnce(&Rtnl) -> Result<T, RtnlError> + Send,
) -> Result<T, LabError> {
    let socket = socket_in(runtime, netns, what)?;
    let answer = runtime.block_on(queries(&socket));
    runtime.block_on(socket.close());
    Ok(answer?)
}

/// A lab: its inventory and a handle on every node's namespace. Unless persistent, dropping it
/// tears it down.
#[derive(Debug)]
pub struct Lab {
    name: LabName,
    inventory: Inventory,
    /// One per inventory node, in the same order.
    namespaces: Vec<Netns>,
    first_deleted: Vec<(String, String)>,
    persistent: bool,
    /// Set once torn down (or handed over), so `Drop` does nothing.
    done: bool,
    /// The emulated switch's settings, when the lab has one.
    switch_config: Option<SwitchConfig>,
    /// Who forwards for the emulated switch.
    switch: forwarder::Running,
    /// What a Docker Engine made, for a lab made with `--engine docker`.
    docker: Option<DockerMade>,
    /// The interfaces whose own IPv6 frames `await_ipv6_background` waits for.
    ipv6_talkers: Vec<background::Talker>,
    /// Every talker was heard since the switch began forwarding (`await_ipv6_background`).
    ipv6_heard: std::sync::atomic::AtomicBool,
}

/// A node of a live lab: what it is and its namespace.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub inventory: &'a NodeInventory,
    pub netns: &'a Netns,
}

impl Lab {
    /// Builds `scenario`. Nothing is created when the input is bad (exit class 2) or the kernel
    /// lacks a feature (class 3); a kernel refusal or a signal half-way removes everything
    /// created so far before the error returns.
    pub fn up(scenario: &Scenario, options: LabOptions) -> Result<Lab, LabError> {
        let name = LabName::new(
            &options.prefix,
            options.name.as_deref().unwrap_or(&scenario.name),
        )
        .map_err(|m| LabError::bad(m, "choose another name with --name (or --prefix)"))?;
        if !probe::privileged() {
            return Err(LabError::bad(
                "building a lab needs root: CAP_NET_ADMIN and CAP_SYS_ADMIN are not both effective",
                format!("run it as root: `{}`", crate::diag::sudo_line()),
            ));
        }
        check_real_parents(scenario, options.use_real_parent)?;
        refuse_missing(scenario)?;
        // With Docker, mvlab plans everything but the endpoints; the engine makes those.
        let (engine, native) = match options.engine {
            Engine::Native => (None, None),
            Engine::Docker => {
                docker::refuse(scenario).map_err(LabError::BadInput)?;
                let mut native = scenario.clone();
                native.endpoints.clear();
                (Some(docker::Engine::connect()?), Some(native))
            }
        };
        let planned = native.as_ref().unwrap_or(scenario);
        with_runtime(|runtime| {
            let root = open_root_socket(scenario, runtime)?;
            let real = match &root {
                Some(socket) => {
                    let real = resolve_real_parents(scenario, socket, runtime)?;
                    refuse_exposed(scenario, socket, runtime, &options.force_interfaces)?;
                    real
                }
                None => RealParents::default(),
            };
            let plan = Plan::new(planned, &name, &real).map_err(LabError::BadInput)?;
            let first_deleted: Vec<(String, String)> = plan
                .first_deleted
                .iter()
                .map(|(ns, link)| (plan.namespaces[*ns].netns.clone(), link.clone()))
                .collect();
            raise_fd_limit(plan.namespaces.len())?;
            let adopted: Vec<String> = match &engine {
                Some(_) => scenario
                    .endpoints
                    .iter()
                    .map(|e| name.netns(&e.name))
                    .collect(),
                None => Vec::new(),
            };
            let mut record = register(scenario, &name, &plan, &adopted, &first_deleted)?;
            record.docker = engine.as_ref().map(docker::Engine::record);
            if record.docker.is_some() {
                registry::update(registry_dir(), &record)?;
            }
            let built = build::build(&plan, runtime, root.as_ref(), options.interrupt.as_ref());
            if let Some(root) = root {
                runtime.block_on(root.close());
            }
            let built = built.and_then(|mut built| {
                let Some(engine) = &engine else {
                    return Ok((built, None));
                };
                let host = &built.namespaces[0];
                match engine.make(
                    scenario,
                    &name,
                    &plan,
                    host,
                    runtime,
                    options.interrupt.as_ref(),
                ) {
                    Ok(adopted) => {
                        built.inventory.nodes.extend(adopted.nodes);
                        built.namespaces.extend(adopted.namespaces);
                        Ok((built, Some(adopted.made)))
                    }
                    Err(e) => {
                        // The containers' names are among the namespaces to remove.
                        let named = adopted.iter().map(|n| Doomed {
                            name: n.clone(),
                            netns: None,
                        });
                        let doomed = Doomed::all(built.namespaces, named.collect());
                        let refused = matches!(e, LabError::DockerRefused(_));
                        let message = e.to_string();
                        Err((BuildFailure::Docker { message, refused }, doomed))
                    }
                }
            });
            let (built, made) = match built {
                Ok(built) => built,
                Err((cause, doomed)) => {
                    // What a Docker Engine made goes first, as in `remove`; what it cannot
                    // remove keeps the record, so `clean` tries again.
                    let docker_left = record
                        .docker
                        .as_ref()
                        .and_then(|d| docker::remove(d, &name.label()).err());
                    let rollback = match (
                        teardown::teardown(runtime, doomed, &first_deleted),
                        docker_left,
                    ) {
                        (Ok(_), None) => {
                            registry::remove(registry_dir(), &name.prefix, &name.lab)?;
                            Rollback::Done
                        }
                        (Ok(_), Some(left)) => Rollback::DockerLeft(left),
                        (Err(e), _) => Rollback::Failed(e),
                    };
                    return Err(LabError::Build {
                        lab: name.lab.clone(),
                        cause,
                        rollback,
                    });
                }
            };
            record.phase = Phase::Up;
            record.persistent = options.persistent;
            record.made = made.clone();
            record.inventory = Some(built.inventory.clone());
            record.switch = SwitchConfig::of(scenario);
            // Until the record says so and the switch forwards, the lab is not persistent: if
            // either fails, dropping `lab` removes what was built.
            let mut lab = Lab {
                name: name.clone(),
                inventory: built.inventory,
                namespaces: built.namespaces,
                first_deleted,
                persistent: false,
                done: false,
                switch_config: record.switch.clone(),
                switch: forwarder::Running::None,
                docker: made,
                ipv6_talkers: Vec::new(),
                ipv6_heard: Default::default(),
            };
            registry::update(registry_dir(), &record)?;
            lab.start_switch(options.persistent)?;
            lab.note_ipv6_talkers(scenario)?;
            lab.persistent = options.persistent;
            Ok(lab)
        })
    }

    /// Opens a built lab registered under `prefix` (a persistent one, or one another process
    /// holds). Dropping the returned value leaves the lab alone; `down` removes it.
    pub fn attach(lab: &str, prefix: &str) -> Result<Lab, LabError> {
        let name = LabName::new(prefix, lab).map_err(|m| LabError::bad(m, "check the name"))?;
        let record = registry::read(registry_dir(), prefix, lab)?.ok_or(LabError::Unknown {
            lab: lab.to_string(),
            prefix: prefix.to_string(),
        })?;
        let status = record.status();
        let (Some(inventory), Status::Up | Status::Held) = (record.inventory, status) else {
            return Err(LabError::bad(
                format!("lab `{lab}` is not up (it is {})", status.as_str()),
                "wait for `lab up` to finish, or remove it with `mvlab lab down` / `mvlab clean`",
            ));
        };
        let namespaces = inventory
            .nodes
            .iter()
            .map(|n| Netns::open(&n.netns))
            .collect::<io::Result<Vec<Netns>>>()
            .map_err(LabError::io(format!(
                "opening the namespaces of lab `{lab}`"
            )))?;
        Ok(Lab {
            name,
            inventory,
            namespaces,
            first_deleted: record.first_deleted,
            persistent: true,
            done: false,
            switch_config: record.switch,
            switch: record
                .forwarder
                .map_or(forwarder::Running::None, forwarder::Running::Process),
            docker: record.made,
            ipv6_talkers: Vec::new(),
            ipv6_heard: Default::default(),
        })
    }

    /// Starts forwarding for an emulated switch: on a thread of this process, or for a lab that
    /// outlives it, in a `switch serve` process.
    fn start_switch(&mut self, persistent: bool) -> Result<(), LabError> {
        let Some(config) = self.switch_config.clone() else {
            return Ok(());
        };
        self.switch = if persistent {
            let exe = std::env::current_exe()
                .map_err(LabError::io("finding this program to run `switch serve`"))?;
            forwarder::Running::Process(forwarder::spawn(&self.name, &exe)?)
        } else {
            forwarder::Running::Thread(forwarder::start_thread(self, config)?)
        };
        Ok(())
    }

    /// The emulated switch's counters, table and events now (`None` without one).
    pub fn switch_report(&self) -> Result<Option<SwitchReport>, LabError> {
        match &self.switch {
            forwarder::Running::None => Ok(None),
            forwarder::Running::Thread(f) => Ok(Some(f.report()?)),
            forwarder::Running::Process(_) => forwarder::read_state(&self.name),
        }
    }

    /// Stops a forwarder thread (a serving process is stopped by `remove`); its final report.
    fn stop_switch(&mut self) -> Option<SwitchReport> {
        match std::mem::take(&mut self.switch) {
            forwarder::Running::Thread(f) => f.stop().ok(),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name.lab
    }

    pub fn prefix(&self) -> &str {
        &self.name.prefix
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// What a Docker Engine made, for a lab made with `--engine docker`.
    pub fn docker(&self) -> Option<&DockerMade> {
        self.docker.as_ref()
    }

    /// The node called `name` (an endpoint, a peer, `host` or `switch`).
    pub fn node(&self, name: &str) -> Option<Node<'_>> {
        self.inventory
            .nodes
            .iter()
            .zip(&self.namespaces)
            .find(|(n, _)| n.name == name)
            .map(|(inventory, netns)| Node { inventory, netns })
    }

    pub fn nodes(&self) -> impl Iterator<Item = Node<'_>> {
        self.inventory
            .nodes
            .iter()
            .zip(&self.namespaces)
            .map(|(inventory, netns)| Node { inventory, netns })
    }

    fn netns_of(&self, node: &str) -> Result<&Netns, LabError> {
        self.node(node).map(|n| n.netns).ok_or_else(|| {
            LabError::bad(
                format!("lab `{}` has no node `{node}`", self.name.lab),
                "`mvlab lab ls --json` shows the nodes",
            )
        })
    }

    /// Runs netlink queries on a socket opened in `node`'s namespace.
    fn query<T: Send>(
        &self,
        node: &str,
        queries: impl AsyncFnOnce(&Rtnl) -> Result<T, RtnlError> + Send,
    ) -> Result<T, LabError> {
        let netns = self.netns_of(node)?;
        with_runtime(|runtime| query_in(runtime, netns, node, queries))
    }

    /// Every link in `node`'s namespace, with counters (promiscuity, rx/tx packets, bytes and
    /// drops) and, for the bridge, its learned-FDB count.
    pub fn links(&self, node: &str) -> Result<Vec<LinkState>, LabError> {
        self.query(node, async |socket| socket.links().await)
    }

    /// What the bridge in `node`'s namespace learned: (port name, MAC) pairs; for the switch
    /// node of a lab with an emulated switch, the entries that switch learned.
    pub fn learned_fdb(&self, node: &str) -> Result<Vec<(String, MacAddr)>, LabError> {
        if node == SWITCH_NODE && self.switch_config.is_some() {
            let table = self.switch_report()?.map(|r| r.table).unwrap_or_default();
            return Ok(table
                .into_iter()
                .filter(|e| e.kind != EntryKind::Static)
                .map(|e| (e.port, e.mac))
                .collect());
        }
        self.query(node, async |socket| {
            let fdb = socket.learned_fdb().await?;
            let links = socket.links().await?;
            let port = |index: u32| {
                links
                    .iter()
                    .find(|l| l.index == index)
                    .map_or_else(|| index.to_string(), |l| l.name.clone())
            };
            Ok(fdb
                .into_iter()
                .map(|(index, mac)| (port(index), mac))
                .collect())
        })
    }

    /// Every neighbour (ARP and ND) entry of `node`'s namespace.
    pub fn neighbours(&self, node: &str) -> Result<Vec<Neighbour>, LabError> {
        self.query(node, async |socket| {
            let mut all = socket
                .neighbours(netlink_packet_route::AddressFamily::Inet)
                .await?;
            all.extend(
                socket
                    .neighbours(netlink_packet_route::AddressFamily::Inet6)
                    .await?,
            );
            Ok(all)
        })
    }

    /// One link's state, by interface name.
    pub fn link_state(&self, node: &str, interface: &str) -> Result<LinkState, LabError> {
        self.links(node)?
            .into_iter()
            .find(|l| l.name == interface)
            .ok_or_else(|| {
                LabError::bad(
                    format!("node `{node}` has no interface `{interface}`"),
                    "`mvlab lab ls --json` shows the interfaces",
                )
            })
    }

    /// Keeps the lab after this value is dropped and the process exits. An emulated switch
    /// forwarding on a thread of this process is handed over to a `switch serve` process.
    pub fn persist(&mut self) -> Result<(), LabError> {
        let mut record = self.record()?;
        record.persistent = true;
        registry::update(registry_dir(), &record)?;
        self.persistent = true;
        if matches!(self.switch, forwarder::Running::Thread(_)) {
            self.stop_switch();
            self.start_switch(true)?;
        }
        Ok(())
    }

    fn record(&self) -> Result<Record, LabError> {
        registry::read(registry_dir(), &self.name.prefix, &self.name.lab)?.ok_or(
            LabError::Unknown {
                lab: self.name.lab.clone(),
                prefix: self.name.prefix.clone(),
            },
        )
    }

    /// Removes the lab, returning once the kernel has destroyed its namespaces.
    pub fn down(mut self) -> Result<TeardownReport, LabError> {
        self.done = true;
        self.stop_switch();
        let namespaces = std::mem::take(&mut self.namespaces);
        remove(
            &self.name,
            namespaces
                .into_iter()
                .map(|ns| Doomed {
                    name: ns.name().unwrap_or_default().to_string(),
                    netns: Some(ns),
                })
                .collect(),
            &self.first_deleted,
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.done || self.persistent {
            return;
        }
        self.stop_switch();
        let namespaces = std::mem::take(&mut self.namespaces);
        let doomed = namespaces
            .into_iter()
            .map(|ns| Doomed {
                name: ns.name().unwrap_or_default().to_string(),
                netns: Some(ns),
            })
            .collect();
        if let Err(e) = remove(&self.name, doomed, &self.first_deleted) {
            // Not eprintln!: a closed standard error must not turn a teardown into a panic.
            let _ = writeln!(io::stderr(), "mvlab: {e}");
        }
    }
}

/// Marks the record as being torn down by this process, tears down, and removes the record.
fn remove(
    name: &LabName,
    doomed: Vec<Doomed>,
    first_deleted: &[(String, String)],
) -> Result<TeardownReport, LabError> {
    let dir = registry_dir();
    let mut docker_left = None;
    if let Some(mut record) = registry::read(dir, &name.prefix, &name.lab)? {
        if let Some(owner) = record.forwarder.take() {
            forwarder::stop_process(name, owner);
        }
        if let Some(engine) = &record.docker {
            docker_left = docker::remove(engine, &name.label()).err();
        }
        record.phase = Phase::TearingDown;
        record.persistent = false;
        record.owner = Owner::current().map_err(LabError::io("reading /proc/self/stat"))?;
        registry::update(dir, &record)?;
    }
    let report = with_runtime(|runtime| {
        teardown::teardown(runtime, doomed, first_deleted).map_err(|source| LabError::Teardown {
            lab: name.lab.clone(),
            source,
        })
    })?;
    // What the engine could not remove keeps the record, so `clean` tries again.
    if let Some(e) = docker_left {
        return Err(LabError::Io {
            what: format!("removing lab `{}`'s containers and networks", name.lab),
            source: io::Error::other(e),
        });
    }
    registry::remove(dir, &name.prefix, &name.lab)?;
    Ok(report)
}

/// Removes the registered lab `lab` (`mvlab lab down`). A lab that a live process is building or
/// holding is refused: that process removes it itself.
pub fn down(lab: &str, prefix: &str) -> Result<TeardownReport, LabError> {
    let name = LabName::new(prefix, lab).map_err(|m| LabError::bad(m, "check the name"))?;
    let record = registry::read(registry_dir(), prefix, lab)?.ok_or(LabError::Unknown {
        lab: lab.to_string(),
        prefix: prefix.to_string(),
    })?;
    match record.status() {
        Status::Up | Status::Orphaned => {}
        status => {
            return Err(LabError::bad(
                format!(
                    "lab `{lab}` is {} by process {}",
                    match status {
                        Status::Building => "being built",
                        Status::TearingDown => "being removed",
                        _ => "held",
                    },
                    record.owner.pid
                ),
                "that process removes it when it ends; stop it (Ctrl-C) to remove it sooner",
            ));
        }
    }
    remove_record(&name, &record)
}

fn remove_record(name: &LabName, record: &Record) -> Result<TeardownReport, LabError> {
    let doomed = record
        .namespaces
        .iter()
        .map(|n| Doomed {
            name: n.clone(),
            netns: None,
        })
        .collect();
    remove(name, doomed, &record.first_deleted)
}

/// One registered lab as `lab ls` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LabSummary {
    pub lab: String,
    pub prefix: String,
    pub status: Status,
    pub scenario: String,
    pub owner_pid: u32,
    pub persistent: bool,
    /// Unix time of `lab up`.
    pub created: u64,
    pub namespaces: usize,
    pub inventory: Option<Inventory>,
}

/// Every registered lab (of `prefix`, or of every prefix), and the records that cannot be read.
pub fn list(prefix: Option<&str>) -> Result<(Vec<LabSummary>, Vec<RegistryError>), LabError> {
    let mut labs = Vec::new();
    let mut unreadable = Vec::new();
    for entry in registry::list(registry_dir())? {
        match entry {
            Ok(r) if prefix.is_none_or(|p| p == r.prefix) => labs.push(LabSummary {
                status: r.status(),
                lab: r.lab,
                prefix: r.prefix,
                scenario: r.scenario,
                owner_pid: r.owner.pid,
                persistent: r.persistent,
                created: r.created,
                namespaces: r.namespaces.len(),
                inventory: r.inventory,
            }),
            Ok(_) => {}
            Err(e) => unreadable.push(e),
        }
    }
    Ok((labs, unreadable))
}

/// Descriptors a build holds at once beside two per namespace (the namespace and its netlink
/// socket).
const FD_SPARE: u64 = 256;

/// Refuses a lab of `namespaces` namespaces that this machine's hard RLIMIT_NOFILE cannot hold
/// (`mvlab check` asks it of a scenario, `up` before anything is created); the soft and hard
/// limits and the number needed when it fits.
pub fn check_fd_limit(namespaces: usize) -> Result<(u64, u64, u64), LabError> {
    use nix::sys::resource::{Resource, getrlimit};
    let needed = 2 * namespaces as u64 + FD_SPARE;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| LabError::io("reading RLIMIT_NOFILE")(e.into()))?;
    if hard < needed {
        return Err(LabError::bad(
            format!(
                "a lab of {namespaces} namespaces needs {needed} open files, but the hard limit is {hard}"
            ),
            "raise it (ulimit -Hn, or LimitNOFILE= in a systemd unit) or build a smaller lab",
        ));
    }
    Ok((soft, hard, needed))
}

/// Raises the soft RLIMIT_NOFILE as far as a build of `namespaces` namespaces needs, refusing a
/// lab that cannot fit before anything is created.
fn raise_fd_limit(namespaces: usize) -> Result<(), LabError> {
    let (soft, hard, needed) = check_fd_limit(namespaces)?;
    if soft >= needed {
        return Ok(());
    }
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, needed, hard)
        .map_err(|e| LabError::io("raising RLIMIT_NOFILE")(e.into()))
}

/// Existing interfaces (parents, an external switch's tester interfaces) need the user's
/// explicit opt-in.
fn check_real_parents(s: &Scenario, allowed: bool) -> Result<(), LabError> {
    if allowed {
        return Ok(());
    }
    let mut diags = Diagnostics::default();
    for (interface, span) in s.existing_interfaces() {
        diags.push(
            Diagnostic::at(
                &s.source,
                span,
                format!("`{interface}` is an existing interface of this machine"),
            )
            .hint("pass --use-real-parent to send test frames through a real interface, or use kind = \"veth\""),
        );
    }
    diags.into_result(()).map_err(LabError::BadInput)
}

/// Refuses an existing interface that is down, addressed, the machine's way out or a bridge
/// member (`exposure::judge`), unless the user forced it.
fn refuse_exposed(
    s: &Scenario,
    root: &Rtnl,
    runtime: &tokio::runtime::Runtime,
    forced: &[String],
) -> Result<(), LabError> {
    let (links, addresses, routes) = runtime.block_on(exposure::read(root))?;
    let mut diags = Diagnostics::default();
    for (interface, span) in s.existing_interfaces() {
        if forced.iter().any(|f| f == interface) {
            continue;
        }
        let why = exposure::judge(interface, &links, &addresses, &routes).unwrap_or_default();
        if why.is_empty() {
            continue;
        }
        diags.push(
            Diagnostic::at(
                &s.source,
                span,
                format!("mvlab will not send on `{interface}`: {}", why.join("; ")),
            )
            .hint(format!(
                "wire a port of the switch under test to an interface of its own; if you are sure, pass --force-interface {interface}"
            )),
        );
    }
    diags.into_result(()).map_err(LabError::BadInput)
}

/// Probes the features the scenario needs; a missing one is an error at the line asking for it.
fn refuse_missing(s: &Scenario) -> Result<(), LabError> {
    let mut diags = Diagnostics::default();
    for (need, probe) in probe::missing(s) {
        let message = format!(
            "this kernel lacks {} ({}), which this lab needs: {}",
            need.feature, probe.detail, need.why
        );
        let d = match need.span {
            Some(span) => Diagnostic::at(&s.source, span, message),
            None => Diagnostic::whole(Some(&s.source), message),
        };
        diags.push(d.hint(need.feature.hint()));
    }
    diags.into_result(()).map_err(LabError::MissingFeature)
}

fn open_root_socket(
    s: &Scenario,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Rtnl>, LabError> {
    if s.existing_interfaces().is_empty() {
        return Ok(None);
    }
    Rtnl::open(runtime.handle()).map(Some).map_err(LabError::io(
        "opening a netlink socket in the root namespace",
    ))
}

/// The root-namespace index of every existing interface the scenario names.
fn resolve_real_parents(
    s: &Scenario,
    root: &Rtnl,
    runtime: &tokio::runtime::Runtime,
) -> Result<RealParents, LabError> {
    let links = runtime.block_on(root.links())?;
    let mut out = RealParents {
        index: BTreeMap::new(),
        next_free: links.iter().map(|l| l.index).max().unwrap_or(1) + 1,
    };
    let mut diags = Diagnostics::default();
    for (interface, span) in s.existing_interfaces() {
        match links.iter().find(|l| l.name == interface) {
            Some(link) => {
                out.index.insert(interface.to_string(), link.index);
            }
            None => diags.push(
                Diagnostic::at(
                    &s.source,
                    span,
                    format!("there is no interface `{interface}` in this namespace"),
                )
                .hint("`ip link` lists the interfaces"),
            ),
        }
    }
    diags.into_result(out).map_err(LabError::BadInput)
}

/// Writes the lab's record before anything exists; refuses names taken by another lab or by an
/// existing namespace.
fn register(
    s: &Scenario,
    name: &LabName,
    plan: &Plan,
    adopted: &[String],
    first_deleted: &[(String, String)],
) -> Result<Record, LabError> {
    let mut namespaces = plan.netns_names();
    namespaces.extend_from_slice(adopted);
    let existing = crate::netns::list_named().map_err(LabError::io("listing /run/netns"))?;
    if let Some(taken) = namespaces.iter().find(|n| existing.contains(n)) {
        return Err(LabError::bad(
            format!("namespace `{taken}` already exists"),
            "another lab (or a user) uses this name: `mvlab lab ls` / `ip netns list`; pick another --name",
        ));
    }
    let record = Record {
        lab: name.lab.clone(),
        prefix: name.prefix.clone(),
        scenario: s.name.clone(),
        owner: Owner::current().map_err(LabError::io("reading /proc/self/stat"))?,
        phase: Phase::Building,
        persistent: false,
        created: registry::now(),
        namespaces,
        first_deleted: first_deleted.to_vec(),
        inventory: None,
        switch: None,
        forwarder: None,
        docker: None,
        made: None,
    };
    let dir = registry_dir();
    match registry::create(dir, &record) {
        Ok(()) => {}
        Err(RegistryError::Exists(lab)) => {
            return Err(LabError::bad(
                format!("lab `{lab}` already exists"),
                "`mvlab lab ls` lists the labs; `mvlab lab down NAME` removes one (`mvlab clean` if its owner died); or choose another --name",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // Two labs whose names overlap (`a` with node `b-e1`, `a-b` with node `e1`) would share a
    // namespace name: the later one to register backs out.
    for other in registry::list(dir)?.into_iter().flatten() {
        if other.lab == record.lab && other.prefix == record.prefix {
            continue;
        }
        if let Some(shared) = other
            .namespaces
            .iter()
            .find(|n| record.namespaces.contains(n))
        {
            registry::remove(dir, &record.prefix, &record.lab)?;
            return Err(LabError::bad(
                format!(
                    "namespace `{shared}` would belong to both this lab and lab `{}`",
                    other.lab
                ),
                "choose another --name",
            ));
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_names_make_namespace_names_and_aliases() {
        let n = LabName::new("mvlab", "my-lab_1").unwrap();
        assert_eq!(n.netns("e1"), "mvlab-my-lab_1-e1");
        assert_eq!(n.alias(), "mvlab:my-lab_1");
        for bad in ["", "-x", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(LabName::new("mvlab", bad).is_err(), "{bad:?}");
        }
        assert!(LabName::new("a/b", "x").is_err());
    }
}
