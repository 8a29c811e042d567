//! `--engine docker`: a lab whose endpoints a real Docker Engine makes. mvlab builds everything
//! else as usual (host, switch, parents, peers); then, for each network, it lends the link the
//! network's macvlans hang on (the parent, or `PARENT.VID`) to the daemon's namespace, down and
//! under a temporary name, asks Docker for the macvlan network and one container per endpoint
//! (running mvlab's one-file pause image), takes the link back under its own name and index,
//! and names each container's network namespace like a lab node's (`/run/netns/<prefix>-<lab>-
//! <endpoint>`), so every measurement enters it as it enters its own. A macvlan keeps working
//! when its lower device changes namespace (the kernel ignores those moves in macvlan's
//! notifier), and a link that is down sends nothing: the daemon's namespace, the machine's own
//! on most hosts, never carries a frame of the lab.
//!
//! Owns the refusals of what Docker's macvlan driver cannot make, the requests (in the words
//! of the engine's API version), what Docker handed out, and removing what it made (every
//! container and network carries the label `org.mvlab.lab=<prefix>-<lab>`; removal goes by the
//! label, so a lab killed half-way is cleaned up too). It never plans or builds the native part.

mod pause;
mod requests;

use std::os::fd::AsFd;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::inventory::{InterfaceInventory, NodeInventory};
use super::plan::{Op, Plan, Sender};
use super::rtnl::{Request, Rtnl};
use super::{LabError, LabName, query_in, socket_in};
use crate::addr::MacAddr;
use crate::diag::{Diagnostic, Diagnostics};
use crate::docker_api::{self, ApiError, Client};
use crate::netns::{self, Netns};
use crate::scenario::{MacvlanMode, ParentKind, Role, Rules, Scenario, Switch, TestKind};
use crate::stop::Stop;

/// The label every container and network of a lab carries, valued `<prefix>-<lab>`.
pub const LABEL: &str = "org.mvlab.lab";

/// How long one API request may take (an emulated machine starts a container in seconds).
const TIMEOUT: Duration = Duration::from_secs(120);

/// What the registry keeps of a Docker lab: where to find the engine to remove what it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerRecord {
    pub socket: String,
}

/// The engine a lab is made with.
#[derive(Debug)]
pub(super) struct Engine {
    client: Client,
    /// `Version` and `ApiVersion` as the engine says.
    pub version: String,
    pub api: String,
    /// The daemon's network namespace.
    daemon: Netns,
    apparmor: bool,
}

/// One endpoint as Docker made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub endpoint: String,
    pub name: String,
    pub id: String,
    pub interface: String,
    pub mac: MacAddr,
    pub ipv4: Option<std::net::Ipv4Addr>,
    pub ipv6: Option<std::net::Ipv6Addr>,
}

/// What Docker made for a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerMade {
    /// The engine's version and API version.
    pub engine: String,
    pub api: String,
    pub containers: Vec<Container>,
}

/// What the Docker phase hands the lab: the endpoints' nodes and namespaces, and the record.
pub(super) struct Adopted {
    pub nodes: Vec<NodeInventory>,
    pub namespaces: Vec<Netns>,
    pub made: DockerMade,
}

/// What of `s` Docker's macvlan driver cannot make, each at its place in the file.
pub(super) fn refuse(s: &Scenario) -> Result<(), Diagnostics> {
    let mut d = Diagnostics::default();
    let hint = "drop it, or run without --engine docker (the native lab makes it)";
    if matches!(s.rules, Rules::Cni) {
        d.push(
            Diagnostic::whole(
                Some(&s.source),
                "a [cni] scenario follows the CNI plugin's rules, not Docker's",
            )
            .hint("run it without --engine docker, or write [docker] instead"),
        );
    }
    if let Switch::External(_) = s.switch {
        d.push(
            Diagnostic::whole(
                Some(&s.source),
                "--engine docker builds its own lab; an external switch is not one",
            )
            .hint("run it without --engine docker"),
        );
    }
    for p in &s.parents {
        if p.kind == ParentKind::Dummy {
            d.push(
                Diagnostic::at(
                    &s.source,
                    p.kind_span.clone(),
                    format!("parent `{}` is a dummy link; lent to the daemon it has no wire to be deleted with, so a killed run could leave it in the daemon's namespace", p.name),
                )
                .hint("make it a veth parent (the default), or run without --engine docker"),
            );
        }
        if let ParentKind::Existing { interface } = &p.kind {
            d.push(
                Diagnostic::at(
                    &s.source,
                    p.kind_span.clone(),
                    format!("parent `{}` is this machine's `{interface}`; --engine docker lends each parent to the daemon, and never one of the machine's own", p.name),
                )
                .hint(hint),
            );
        }
    }
    for n in &s.networks {
        let beyond = [
            (n.mode == MacvlanMode::Source, "source mode"),
            (n.nopromisc, "nopromisc"),
            (n.nodst, "nodst"),
            (n.bcqueuelen.is_some(), "bcqueuelen"),
            (n.bc_cutoff.is_some(), "bc_cutoff"),
        ];
        for (_, what) in beyond.iter().filter(|(set, _)| *set) {
            d.push(
                Diagnostic::at(
                    &s.source,
                    n.span.clone(),
                    format!(
                        "network `{}` asks for {what}, which Docker's macvlan driver cannot make",
                        n.name
                    ),
                )
                .hint(hint),
            );
        }
        if n.docker.as_ref().is_some_and(|dn| dn.parent.is_none()) {
            d.push(
                Diagnostic::at(
                    &s.source,
                    n.span.clone(),
                    format!("network `{}` has no parent: Docker would make a dummy link in its own namespace, where mvlab does not measure", n.name),
                )
                .hint("give it a parent"),
            );
        }
    }
    for t in &s.tests {
        if let TestKind::EndpointRamp(_) = t.kind {
            d.push(
                Diagnostic::at(
                    &s.source,
                    t.span.clone(),
                    format!("test `{}` is an endpoint ramp: it adds endpoints of mvlab's own while it runs, which a Docker lab's endpoints are not", t.name),
                )
                .hint("run it without --engine docker"),
            );
        }
    }
    if !pause::runs_here() {
        d.push(
            Diagnostic::whole(
                Some(&s.source),
                "mvlab's container image is an x86-64 program",
            )
            .hint("run --engine docker on an x86-64 machine"),
        );
    }
    d.into_result(())
}

impl Engine {
    /// The engine DOCKER_HOST (or the default socket) names: version negotiated, its
    /// namespace open, mvlab's image imported unless it is there.
    pub(super) fn connect() -> Result<Engine, LabError> {
        let socket = docker_api::socket_from_env().map_err(no_engine)?;
        let mut client = Client::new(&socket, TIMEOUT);
        let (version, api) = client.negotiate().map_err(no_engine)?;
        let pid = client.daemon_pid().map_err(no_engine)?;
        let daemon = Netns::open_path(std::path::Path::new(&format!("/proc/{pid}/ns/net")))
            .map_err(LabError::io(format!(
                "opening the Docker daemon's namespace (pid {pid})"
            )))?;
        let info = client.get_json("/info").map_err(no_engine)?;
        let apparmor = info["SecurityOptions"].as_array().is_some_and(|o| {
            o.iter()
                .any(|v| v.as_str().is_some_and(|s| s.contains("apparmor")))
        });
        let engine = Engine {
            client,
            version,
            api,
            daemon,
            apparmor,
        };
        engine.import_image()?;
        Ok(engine)
    }

    pub(super) fn record(&self) -> DockerRecord {
        DockerRecord {
            socket: self.client.socket().display().to_string(),
        }
    }

    fn import_image(&self) -> Result<(), LabError> {
        match self
            .client
            .get_json(&format!("/images/{}/json", pause::IMAGE))
        {
            Ok(_) => return Ok(()),
            Err(ApiError::Refused { status: 404, .. }) => {}
            Err(e) => return Err(refused("looking for mvlab's image")(e)),
        }
        let (repo, tag) = pause::IMAGE.split_once(':').expect("the image has a tag");
        let changes = format!("CMD [\"{}\"]", pause::COMMAND);
        let path = format!(
            "/images/create?fromSrc=-&repo={repo}&tag={tag}&changes={}",
            percent(&changes)
        );
        let answer = self
            .client
            .post_raw(&path, "application/x-tar", &pause::rootfs())
            .map_err(refused("importing mvlab's image"))?;
        // The answer is a stream of JSON messages; a failure is one with `error`.
        for line in answer.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line)
                && let Some(e) = v["error"].as_str()
            {
                return Err(refused("importing mvlab's image")(ApiError::Refused {
                    status: 500,
                    message: e.to_string(),
                }));
            }
        }
        Ok(())
    }

    /// Makes `s`'s networks and endpoints. `host` is the lab's host namespace with `socket`
    /// open in it; `plan` is the native part's plan (its host steps are replayed on each link
    /// that comes back). What is made is recorded by label before it exists, so a failure
    /// part-way is removed by `remove`.
    pub(super) fn make(
        &self,
        s: &Scenario,
        name: &LabName,
        plan: &Plan,
        host: &Netns,
        runtime: &tokio::runtime::Runtime,
        interrupt: Option<&Stop>,
    ) -> Result<Adopted, LabError> {
        let label = name.label();
        let host_socket = socket_in(runtime, host, "the host namespace")?;
        let daemon_socket = socket_in(runtime, &self.daemon, "the Docker daemon's namespace")?;
        // Whatever was lent comes back, whether or not Docker made everything.
        let mut lent = Vec::new();
        let made = self
            .lend(s, name, plan, &host_socket, runtime, &mut lent)
            .and_then(|()| {
                self.networks_and_containers(s, name, &label, &lent, runtime, interrupt)
            });
        let back = self.take_back(&lent, plan, host, &host_socket, &daemon_socket, runtime);
        let made = made
            .and_then(|made| back.map(|()| made))
            .map_err(|e| match e {
                // Docker names a lent link by the name it had there: say which link it is.
                LabError::DockerRefused(words) => {
                    LabError::DockerRefused(lent.iter().fold(words, |w, l| {
                        w.replace(
                            &l.temporary,
                            &format!("{} (lent as {})", l.link, l.temporary),
                        )
                    }))
                }
                e => e,
            });
        runtime.block_on(async {
            host_socket.close().await;
            daemon_socket.close().await;
        });
        made
    }

    /// Moves each network's link into the daemon's namespace under a temporary name, adding
    /// each to `lent` once it is there.
    fn lend(
        &self,
        s: &Scenario,
        name: &LabName,
        plan: &Plan,
        host: &Rtnl,
        runtime: &tokio::runtime::Runtime,
        lent: &mut Vec<Lent>,
    ) -> Result<(), LabError> {
        for n in &s.networks {
            if lent.iter().any(|l| l.link == n.link) {
                continue;
            }
            // The plan chose every host link's index.
            let state = plan.inventory.nodes[0].interface(&n.link).ok_or_else(|| {
                LabError::bad(
                    format!("the host has no link `{}`", n.link),
                    "this is a bug in mvlab",
                )
            })?;
            let temporary = requests::lent_name(name, lent.len());
            runtime.block_on(host.run(Request::move_link(
                state.index,
                self.daemon.as_fd(),
                &temporary,
                None,
                format!("lending {} to the Docker daemon as {temporary}", n.link),
            )))?;
            lent.push(Lent {
                link: n.link.clone(),
                index: state.index,
                temporary,
            });
        }
        Ok(())
    }

    /// Gives every lent link back under its own name and index, then replays the plan's host
    /// steps on it (up, addresses, routes: a move takes them away).
    fn take_back(
        &self,
        lent: &[Lent],
        plan: &Plan,
        host: &Netns,
        host_socket: &Rtnl,
        daemon_socket: &Rtnl,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<(), LabError> {
        for l in lent {
            let Some(state) = runtime.block_on(daemon_socket.link(&l.temporary))? else {
                continue;
            };
            runtime.block_on(daemon_socket.run(Request::move_link(
                state.index,
                host.as_fd(),
                &l.link,
                Some(l.index),
                format!("taking {} back from the Docker daemon", l.link),
            )))?;
        }
        let indexes: Vec<u32> = lent.iter().map(|l| l.index).collect();
        let replay = plan
            .phases
            .iter()
            .flatten()
            .filter(|step| step.sender == Sender::Lab(0))
            .filter(|step| match &step.op {
                Op::Up { index, .. } | Op::Address { index, .. } | Op::Route { index, .. } => {
                    indexes.contains(index)
                }
                _ => false,
            })
            .map(|step| step.request(&plan.namespaces, &[]))
            .collect();
        runtime.block_on(host_socket.run_all(replay))?;
        Ok(())
    }

    fn networks_and_containers(
        &self,
        s: &Scenario,
        name: &LabName,
        label: &str,
        lent: &[Lent],
        runtime: &tokio::runtime::Runtime,
        interrupt: Option<&Stop>,
    ) -> Result<Adopted, LabError> {
        let api = self.client.api();
        for n in &s.networks {
            let parent = lent
                .iter()
                .find(|l| l.link == n.link)
                .map(|l| l.temporary.as_str())
                .expect("every network's link was lent");
            let body = requests::network(s, n, &name.netns(&n.name), parent, label, api);
            self.client
                .post_json("/networks/create", Some(&body))
                .map_err(refused(&format!("Docker making network `{}`", n.name)))?;
        }
        let mut adopted = Adopted {
            nodes: Vec::new(),
            namespaces: Vec::new(),
            made: DockerMade {
                engine: self.version.clone(),
                api: self.api.clone(),
                containers: Vec::new(),
            },
        };
        for e in &s.endpoints {
            if interrupt.is_some_and(Stop::requested) {
                return Err(LabError::Io {
                    what: "making the containers".into(),
                    source: std::io::Error::other("interrupted by a signal"),
                });
            }
            let container = name.netns(&e.name);
            let network = name.netns(&s.networks[e.network].name);
            let body = requests::container(s, e, &network, label, api, self.apparmor);
            let what = format!(
                "Docker making container `{container}` for endpoint `{}`",
                e.name
            );
            let created = self
                .client
                .post_json(&format!("/containers/create?name={container}"), Some(&body))
                .map_err(refused(&what))?;
            let id = created["Id"].as_str().unwrap_or_default().to_string();
            self.client
                .post_json(&format!("/containers/{id}/start"), None)
                .map_err(refused(&what))?;
            let inspect = self
                .client
                .get_json(&format!("/containers/{id}/json"))
                .map_err(refused(&what))?;
            let pid = inspect["State"]["Pid"].as_u64().unwrap_or(0) as u32;
            let ns = netns::attach_named(&container, pid).map_err(LabError::io(format!(
                "naming the namespace of container {container}"
            )))?;
            let settings = &inspect["NetworkSettings"]["Networks"][&network];
            let (node, made) = endpoint_node(s, e, &container, &id, settings, &ns, runtime)?;
            adopted.nodes.push(node);
            adopted.namespaces.push(ns);
            adopted.made.containers.push(made);
        }
        Ok(adopted)
    }
}

/// A link lent to the daemon.
struct Lent {
    link: String,
    index: u32,
    temporary: String,
}

/// The endpoint's node as the kernel and Docker have it: its interface (the only macvlan in the
/// container), the addresses Docker handed out.
fn endpoint_node(
    s: &Scenario,
    e: &crate::scenario::Endpoint,
    container: &str,
    id: &str,
    settings: &Value,
    ns: &Netns,
    runtime: &tokio::runtime::Runtime,
) -> Result<(NodeInventory, Container), LabError> {
    let links = query_in(runtime, ns, container, async |socket| socket.links().await)?;
    let link = links
        .into_iter()
        .find(|l| l.kind.as_deref() == Some("macvlan"))
        .ok_or_else(|| LabError::Io {
            what: format!("container {container}"),
            source: std::io::Error::other("it has no macvlan interface"),
        })?;
    let text = |key: &str| settings[key].as_str().filter(|a| !a.is_empty());
    let ipv4: Option<std::net::Ipv4Addr> = text("IPAddress").and_then(|a| a.parse().ok());
    let ipv6: Option<std::net::Ipv6Addr> = text("GlobalIPv6Address").and_then(|a| a.parse().ok());
    let prefix4 = settings["IPPrefixLen"].as_u64().unwrap_or(32) as u8;
    let prefix6 = settings["GlobalIPv6PrefixLen"].as_u64().unwrap_or(128) as u8;
    let net = &s.networks[e.network];
    let mac = link.mac.ok_or_else(|| LabError::Io {
        what: format!("container {container}"),
        source: std::io::Error::other("its macvlan interface has no MAC address"),
    })?;
    let node = NodeInventory {
        name: e.name.clone(),
        role: Role::Endpoint,
        netns: container.to_string(),
        interfaces: vec![InterfaceInventory {
            name: link.name.clone(),
            index: link.index,
            kind: "macvlan".into(),
            mac,
            ipv4: ipv4
                .and_then(|a| ipnetwork::Ipv4Network::new(a, prefix4).ok())
                .into_iter()
                .collect(),
            ipv6: ipv6
                .and_then(|a| ipnetwork::Ipv6Network::new(a, prefix6).ok())
                .into_iter()
                .collect(),
            mode: Some(net.mode),
            vlan: net.vlan,
            link: Some(format!("host:{}", net.link)),
            network: Some(net.name.clone()),
        }],
    };
    let made = Container {
        endpoint: e.name.clone(),
        name: container.to_string(),
        id: id.to_string(),
        interface: link.name,
        mac,
        ipv4,
        ipv6,
    };
    Ok((node, made))
}

/// Removes every container, then every network, labelled as lab `label`'s at the engine of
/// `record`.
pub(super) fn remove(record: &DockerRecord, label: &str) -> Result<(), String> {
    let client = Client::new(std::path::Path::new(&record.socket), TIMEOUT);
    let filter = percent(&json!({ "label": [format!("{LABEL}={label}")] }).to_string());
    let listed = |what: &str| -> Result<Vec<String>, String> {
        let v = client
            .get_json(&format!("/{what}?all=1&filters={filter}"))
            .map_err(|e| format!("listing the lab's {what} at {}: {e}", record.socket))?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Id"].as_str().map(str::to_string))
            .collect())
    };
    for id in listed("containers/json")? {
        client
            .delete(&format!("/containers/{id}?force=1&v=1"))
            .map_err(|e| format!("removing container {id}: {e}"))?;
    }
    for id in listed("networks")? {
        client
            .delete(&format!("/networks/{id}"))
            .map_err(|e| format!("removing network {id}: {e}"))?;
    }
    Ok(())
}

fn no_engine(e: ApiError) -> LabError {
    LabError::bad(
        format!("--engine docker needs a Docker Engine: {e}"),
        "start dockerd, or point DOCKER_HOST at its socket (unix://PATH)",
    )
}

/// A failed request about `what`: refused in Docker's words when the engine answered no (what
/// the scenario asks, this Docker version will not make; 20.10 answers most such refusals with
/// a 500), otherwise a failure to talk to it.
fn refused(what: &str) -> impl FnOnce(ApiError) -> LabError {
    let what = what.to_string();
    move |e| match e {
        ApiError::Refused { message, .. } => LabError::DockerRefused(format!(
            "{what}: Docker refused: {message} (`mvlab check` with [docker] version = \"...\" says what each version refuses)"
        )),
        e => LabError::Io {
            what,
            source: std::io::Error::other(e.to_string()),
        },
    }
}

/// `s` for a URL's query: everything but unreserved characters percent-encoded.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;

    fn refusals(text: &str) -> String {
        let s = crate::scenario::parse(Source::new("d.toml", text)).unwrap();
        refuse(&s)
            .map(|()| String::new())
            .unwrap_or_else(|d| d.to_string())
    }

    #[test]
    fn what_dockers_driver_cannot_make_is_refused_at_its_line() {
        assert_eq!(
            refusals(
                "[[networks]]\nname = \"n\"\nmode = \"vepa\"\n[[networks.endpoints]]\nname = \"e1\"\n"
            ),
            ""
        );
        let source = refusals(
            "[[networks]]\nname = \"n\"\nmode = \"source\"\nsource_macs = [\"02:00:00:00:00:01\"]\n[[networks.endpoints]]\nname = \"e1\"\n",
        );
        assert!(
            source.contains("d.toml:1:1: error: network `n` asks for source mode"),
            "{source}"
        );
        let dummy = refusals(
            "[[parents]]\nname = \"eth0\"\nkind = \"dummy\"\n[[networks]]\nname = \"n\"\n[[networks.endpoints]]\nname = \"e1\"\n",
        );
        assert!(dummy.contains("parent `eth0` is a dummy link"), "{dummy}");
        let ramp = refusals(
            "[[networks]]\nname = \"n\"\n[[networks.endpoints]]\nname = \"e1\"\n[[peers]]\nname = \"p\"\n[[tests]]\nname = \"ramp\"\nkind = \"endpoint_ramp\"\nnetwork = \"n\"\nmax_endpoints = 4\n",
        );
        assert!(ramp.contains("test `ramp` is an endpoint ramp"), "{ramp}");
    }
}
