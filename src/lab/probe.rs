//! Feature probes: what this kernel and this user can do, found out by creating and deleting a
//! throwaway object inside a throwaway (unnamed) namespace, never by reading configuration. Owns
//! the list of features (`Feature`), the probes (`probe`), and what a scenario needs (`needs`),
//! with the scenario location that asks for each feature so a refusal points at the line. It never
//! touches a named namespace or the root namespace's links.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::rtnl::{BridgeSpec, LinkKind, LinkSpec, MacvlanSpec, Request, Rtnl, RtnlError};
use crate::diag::Span;
use crate::netns::{self, Netns};
use crate::scenario::{MacvlanMode, ParentKind, Scenario, Switch};

/// A kernel or permission feature a lab may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// Effective CAP_NET_ADMIN and CAP_SYS_ADMIN (root).
    Privileges,
    Netns,
    Veth,
    Dummy,
    Bridge,
    BridgeVlanFiltering,
    BridgeFdbMaxLearned,
    Macvlan(MacvlanMode),
    /// A macvlan's broadcast cutoff (IFLA_MACVLAN_BC_CUTOFF).
    MacvlanBcCutoff,
    Macvtap,
    /// 802.1Q VLAN links (8021q).
    Vlan,
    Ipvlan,
}

impl Feature {
    /// Every feature, in the order `doctor` reports them.
    pub fn all() -> Vec<Feature> {
        let mut all = vec![
            Feature::Privileges,
            Feature::Netns,
            Feature::Veth,
            Feature::Dummy,
            Feature::Bridge,
            Feature::BridgeVlanFiltering,
            Feature::BridgeFdbMaxLearned,
        ];
        all.extend(MacvlanMode::ALL.map(Feature::Macvlan));
        all.extend([
            Feature::MacvlanBcCutoff,
            Feature::Macvtap,
            Feature::Vlan,
            Feature::Ipvlan,
        ]);
        all
    }

    /// A short stable identifier (`doctor --json`).
    pub fn id(self) -> String {
        match self {
            Feature::Privileges => "privileges".into(),
            Feature::Netns => "netns".into(),
            Feature::Veth => "veth".into(),
            Feature::Dummy => "dummy".into(),
            Feature::Bridge => "bridge".into(),
            Feature::BridgeVlanFiltering => "bridge-vlan-filtering".into(),
            Feature::BridgeFdbMaxLearned => "bridge-fdb-max-learned".into(),
            Feature::Macvlan(m) => format!("macvlan-{m}"),
            Feature::MacvlanBcCutoff => "macvlan-bc-cutoff".into(),
            Feature::Macvtap => "macvtap".into(),
            Feature::Vlan => "vlan".into(),
            Feature::Ipvlan => "ipvlan".into(),
        }
    }

    /// The kernel module that provides it, where it is one (what a guest loads for it).
    pub fn module(self) -> Option<&'static str> {
        match self {
            Feature::Privileges | Feature::Netns => None,
            Feature::Veth => Some("veth"),
            Feature::Dummy => Some("dummy"),
            Feature::Bridge | Feature::BridgeVlanFiltering | Feature::BridgeFdbMaxLearned => {
                Some("bridge")
            }
            Feature::Macvlan(_) | Feature::MacvlanBcCutoff => Some("macvlan"),
            Feature::Macvtap => Some("macvtap"),
            Feature::Vlan => Some("8021q"),
            Feature::Ipvlan => Some("ipvlan"),
        }
    }

    /// What to do when it is missing.
    pub fn hint(self) -> &'static str {
        match self {
            Feature::Privileges => {
                "run it as root, with sudo (mvlab needs CAP_NET_ADMIN and CAP_SYS_ADMIN)"
            }
            Feature::Netns => "the kernel needs CONFIG_NET_NS",
            Feature::Veth => "load the veth module (`sudo modprobe veth`) or build CONFIG_VETH",
            Feature::Dummy => {
                "load the dummy module (`sudo modprobe dummy`), or use kind = \"veth\" parents"
            }
            Feature::Bridge => {
                "load the bridge module (`sudo modprobe bridge`), or use a switch of kind \"none\""
            }
            Feature::BridgeVlanFiltering => {
                "the kernel needs CONFIG_BRIDGE_VLAN_FILTERING (Debian's and Ubuntu's kernels have it): run on such a kernel (`mvlab run --kernel ...`), or use `[switch] kind = \"emulated\"`"
            }
            Feature::BridgeFdbMaxLearned => {
                "fdb_max_learned needs Linux 6.7 or later; remove it to run without a limit"
            }
            Feature::Macvlan(_) => {
                "load the macvlan module (`sudo modprobe macvlan`), or use another mode"
            }
            Feature::MacvlanBcCutoff => {
                "this kernel ignores `bc_cutoff` (Debian's 6.1 does; 6.12 has it): remove it, and broadcasts are queued as the kernel always did"
            }
            Feature::Macvtap => "load the macvtap module (`sudo modprobe macvtap`)",
            Feature::Vlan => {
                "load the 8021q module (`sudo modprobe 8021q`; Debian and Ubuntu ship it with the kernel, in linux-image-$(uname -r) or linux-modules-$(uname -r)); a kernel built without CONFIG_VLAN_8021Q cannot: run on another (`mvlab run --kernel ...`), or set `tagged_frames = true` on the network (its endpoints then tag their frames themselves), or remove `vlan`"
            }
            Feature::Ipvlan => "load the ipvlan module (`sudo modprobe ipvlan`)",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::Privileges => f.write_str("root / CAP_NET_ADMIN"),
            Feature::Netns => f.write_str("network namespaces"),
            Feature::Veth => f.write_str("veth links"),
            Feature::Dummy => f.write_str("dummy links"),
            Feature::Bridge => f.write_str("Linux bridge"),
            Feature::BridgeVlanFiltering => f.write_str("bridge vlan_filtering"),
            Feature::BridgeFdbMaxLearned => f.write_str("bridge fdb_max_learned"),
            Feature::Macvlan(m) => write!(f, "macvlan {m} mode"),
            Feature::MacvlanBcCutoff => f.write_str("macvlan bc_cutoff"),
            Feature::Macvtap => f.write_str("macvtap"),
            Feature::Vlan => f.write_str("802.1Q vlan links (8021q)"),
            Feature::Ipvlan => f.write_str("ipvlan"),
        }
    }
}

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    #[serde(
        rename = "feature",
        serialize_with = "feature_id",
        deserialize_with = "feature_of_id"
    )]
    pub feature: Feature,
    pub description: String,
    pub available: bool,
    /// Why not, or what was checked.
    pub detail: String,
}

fn feature_id<S: serde::Serializer>(f: &Feature, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&f.id())
}

fn feature_of_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Feature, D::Error> {
    let id = String::deserialize(d)?;
    Feature::all()
        .into_iter()
        .find(|f| f.id() == id)
        .ok_or_else(|| serde::de::Error::custom(format!("`{id}` is not a feature mvlab probes")))
}

/// What `doctor` found on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The kernel's release (`uname -r`).
    pub release: String,
    pub features: Vec<Probe>,
}

/// The running kernel's release (`uname -r`).
pub fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_string())
}

/// Probes every feature on the running kernel.
pub fn report() -> Report {
    Report {
        release: release(),
        features: probe(&Feature::all()),
    }
}

/// A feature a scenario needs, and where the scenario asks for it (`None`: the whole lab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub feature: Feature,
    pub span: Option<Span>,
    pub why: String,
}

/// What `scenario` needs from the kernel, each feature once, at its first mention.
pub fn needs(s: &Scenario) -> Vec<Need> {
    let mut out: Vec<Need> = Vec::new();
    let mut need = |feature: Feature, span: Option<Span>, why: String| {
        if !out.iter().any(|n| n.feature == feature) {
            out.push(Need { feature, span, why });
        }
    };
    need(
        Feature::Netns,
        None,
        "every lab node is a network namespace".into(),
    );
    for p in &s.parents {
        match p.kind {
            ParentKind::Veth => need(
                Feature::Veth,
                Some(p.kind_span.clone()),
                format!("parent `{}` is a veth pair", p.name),
            ),
            ParentKind::Dummy => need(
                Feature::Dummy,
                Some(p.kind_span.clone()),
                format!("parent `{}` is a dummy link", p.name),
            ),
            ParentKind::Existing { .. } => {}
        }
    }
    if let Some(p) = s.peers.first() {
        need(
            Feature::Veth,
            Some(p.span.clone()),
            format!("peer `{}` is wired with a veth pair", p.name),
        );
    }
    if let Switch::Bridge(b) = &s.switch {
        need(
            Feature::Bridge,
            Some(b.span.clone()),
            "the switch is a Linux bridge".into(),
        );
        if b.vlan_filtering {
            need(
                Feature::BridgeVlanFiltering,
                b.vlan_span.clone(),
                "a port has VLAN membership: the bridge filters by VLAN".into(),
            );
        }
        if b.fdb_max_learned.is_some() {
            need(
                Feature::BridgeFdbMaxLearned,
                b.fdb_max_learned_span.clone(),
                "the bridge limits learned FDB entries".into(),
            );
        }
    }
    for n in &s.networks {
        need(
            Feature::Macvlan(n.mode),
            Some(n.mode_span.clone()),
            format!("network `{}` uses macvlan {} mode", n.name, n.mode),
        );
        if n.bc_cutoff.is_some() {
            need(
                Feature::MacvlanBcCutoff,
                n.bc_cutoff_span.clone(),
                format!("network `{}` sets the broadcast cutoff", n.name),
            );
        }
        if let (Some(vid), Some(span)) = (n.vlan, &n.vlan_span) {
            need(
                Feature::Vlan,
                Some(span.clone()),
                format!("network `{}` sits on VLAN {vid} (`{}`)", n.name, n.link),
            );
        }
    }
    if let Some(shim) = &s.host.shim {
        need(
            Feature::Macvlan(MacvlanMode::Bridge),
            Some(shim.span.clone()),
            format!(
                "the host shim `{}` is a bridge-mode macvlan",
                shim.interface
            ),
        );
    }
    out
}

/// True when the process has CAP_NET_ADMIN and CAP_SYS_ADMIN in its effective set.
pub fn privileged() -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0 && caps & (1 << CAP_SYS_ADMIN) != 0)
}

/// Probes `features` (all of them for `doctor`) in one throwaway namespace. Features that cannot
/// be probed because a prerequisite is missing are reported unavailable, saying which.
pub fn probe(features: &[Feature]) -> Vec<Probe> {
    let report = |feature: Feature, available: bool, detail: String| Probe {
        feature,
        description: feature.to_string(),
        available,
        detail,
    };
    if !privileged() {
        return features
            .iter()
            .map(|&f| {
                let detail = if f == Feature::Privileges {
                    "CAP_NET_ADMIN and CAP_SYS_ADMIN are not both effective".to_string()
                } else {
                    "not probed: needs root".to_string()
                };
                report(f, false, detail)
            })
            .collect();
    }
    let ns = match netns::create_unnamed() {
        Ok(ns) => ns,
        Err(e) => {
            return features
                .iter()
                .map(|&f| match f {
                    Feature::Privileges => report(f, true, "effective".into()),
                    Feature::Netns => report(f, false, format!("unshare(CLONE_NEWNET): {e}")),
                    _ => report(f, false, "not probed: no namespace to probe in".into()),
                })
                .collect();
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return features
                .iter()
                .map(|&f| report(f, false, format!("not probed: {e}")))
                .collect();
        }
    };
    let prober = match ns.run(|| Rtnl::open(runtime.handle())).and_then(|r| r) {
        Ok(socket) => Prober { socket, ns: &ns },
        Err(e) => {
            return features
                .iter()
                .map(|&f| report(f, false, format!("not probed: netlink socket: {e}")))
                .collect();
        }
    };
    let out = runtime.block_on(async {
        let lower = prober.lower().await;
        let mut out = Vec::new();
        for &f in features {
            let (available, detail) = prober.check(f, &lower).await;
            out.push(report(f, available, detail));
        }
        prober.socket.close().await;
        out
    });
    drop(ns);
    out
}

/// The lower device macvlan, macvtap, VLAN and ipvlan probes stack on: a veth end, else a dummy.
struct Lower {
    index: Option<u32>,
    detail: String,
}

struct Prober<'a> {
    socket: Rtnl,
    ns: &'a Netns,
}

fn outcome(result: Result<String, RtnlError>) -> (bool, String) {
    match result {
        Ok(detail) => (true, detail),
        Err(e) => (false, e.source.to_string()),
    }
}

impl Prober<'_> {
    /// Creates `kind` as `spec`, then deletes it.
    async fn create_delete(&self, spec: &LinkSpec, kind: &LinkKind) -> Result<String, RtnlError> {
        self.socket.run(Request::new_link(spec, kind)).await?;
        self.socket.run(Request::del_link(&spec.name)).await?;
        Ok(format!("created and deleted a {} link", kind.name()))
    }

    async fn lower(&self) -> Lower {
        let spec = LinkSpec::new("probe-low0");
        let veth = self
            .socket
            .run(Request::new_link(
                &spec,
                &LinkKind::Veth(LinkSpec::new("probe-low1")),
            ))
            .await;
        let dummy = match veth {
            Ok(()) => Ok(()),
            Err(_) => {
                self.socket
                    .run(Request::new_link(&spec, &LinkKind::Dummy))
                    .await
            }
        };
        match dummy {
            Ok(()) => match self.socket.link(&spec.name).await {
                Ok(Some(link)) => Lower {
                    index: Some(link.index),
                    detail: String::new(),
                },
                Ok(None) => Lower {
                    index: None,
                    detail: "the probe's lower device vanished".into(),
                },
                Err(e) => Lower {
                    index: None,
                    detail: e.to_string(),
                },
            },
            Err(e) => Lower {
                index: None,
                detail: format!("no veth or dummy lower device to probe on: {}", e.source),
            },
        }
    }

    async fn check(&self, feature: Feature, lower: &Lower) -> (bool, String) {
        let on_lower = |name: &str| {
            let mut spec = LinkSpec::new(name);
            spec.lower = lower.index;
            spec
        };
        match feature {
            Feature::Privileges => (true, "effective".into()),
            Feature::Netns => (self.ns.id().is_ok(), "created a throwaway namespace".into()),
            Feature::Veth => outcome(
                self.create_delete(
                    &LinkSpec::new("probe-veth0"),
                    &LinkKind::Veth(LinkSpec::new("probe-veth1")),
                )
                .await,
            ),
            Feature::Dummy => outcome(
                self.create_delete(&LinkSpec::new("probe-dummy"), &LinkKind::Dummy)
                    .await,
            ),
            Feature::Bridge => outcome(
                self.create_delete(
                    &LinkSpec::new("probe-br"),
                    &LinkKind::Bridge(BridgeSpec::default()),
                )
                .await,
            ),
            Feature::BridgeVlanFiltering => outcome(
                self.create_delete(
                    &LinkSpec::new("probe-brvf"),
                    &LinkKind::Bridge(BridgeSpec {
                        vlan_filtering: Some(true),
                        ..BridgeSpec::default()
                    }),
                )
                .await,
            ),
            Feature::BridgeFdbMaxLearned => self.fdb_max_learned().await,
            _ if lower.index.is_none() => (false, format!("not probed: {}", lower.detail)),
            Feature::Macvlan(mode) => outcome(
                self.create_delete(
                    &on_lower("probe-mv"),
                    &LinkKind::Macvlan(MacvlanSpec::new(mode)),
                )
                .await,
            ),
            Feature::MacvlanBcCutoff => self.bc_cutoff(&on_lower("probe-mvbc")).await,
            Feature::Macvtap => outcome(
                self.create_delete(
                    &on_lower("probe-mvt"),
                    &LinkKind::Macvtap(MacvlanMode::Bridge),
                )
                .await,
            ),
            Feature::Vlan => outcome(
                self.create_delete(&on_lower("probe-vlan"), &LinkKind::Vlan(10))
                    .await,
            ),
            Feature::Ipvlan => outcome(
                self.create_delete(&on_lower("probe-ipvl"), &LinkKind::Ipvlan)
                    .await,
            ),
        }
    }

    /// Kernels without IFLA_MACVLAN_BC_CUTOFF ignore it silently, so the value is read back.
    async fn bc_cutoff(&self, spec: &LinkSpec) -> (bool, String) {
        const CUTOFF: i32 = 7;
        let kind = LinkKind::Macvlan(MacvlanSpec {
            bc_cutoff: Some(CUTOFF),
            ..MacvlanSpec::new(MacvlanMode::Bridge)
        });
        if let Err(e) = self.socket.run(Request::new_link(spec, &kind)).await {
            return (false, e.source.to_string());
        }
        let read = self.socket.link(&spec.name).await;
        let deleted = self.socket.run(Request::del_link(&spec.name)).await;
        match (read, deleted) {
            (Ok(Some(link)), Ok(())) if link.macvlan_bc_cutoff == Some(CUTOFF) => {
                (true, format!("set to {CUTOFF} and read back"))
            }
            (Ok(Some(link)), Ok(())) => (
                false,
                format!(
                    "the kernel ignored it (read back {:?})",
                    link.macvlan_bc_cutoff
                ),
            ),
            (Ok(None), _) => (false, "the probe macvlan vanished".into()),
            (Err(e), _) | (_, Err(e)) => (false, e.to_string()),
        }
    }

    /// Old kernels ignore IFLA_BR_FDB_MAX_LEARNED silently, so the value is read back.
    async fn fdb_max_learned(&self) -> (bool, String) {
        const LIMIT: u32 = 7;
        let spec = LinkSpec::new("probe-brmax");
        let kind = LinkKind::Bridge(BridgeSpec {
            fdb_max_learned: Some(LIMIT),
            ..BridgeSpec::default()
        });
        if let Err(e) = self.socket.run(Request::new_link(&spec, &kind)).await {
            return (false, e.source.to_string());
        }
        let read = self.socket.link(&spec.name).await;
        let deleted = self.socket.run(Request::del_link(&spec.name)).await;
        match (read, deleted) {
            (Ok(Some(link)), Ok(())) if link.fdb_max_learned == Some(LIMIT) => {
                (true, format!("set to {LIMIT} and read back"))
            }
            (Ok(Some(link)), Ok(())) => (
                false,
                format!(
                    "the kernel ignored it (read back {:?})",
                    link.fdb_max_learned
                ),
            ),
            (Ok(None), _) => (false, "the probe bridge vanished".into()),
            (Err(e), _) | (_, Err(e)) => (false, e.to_string()),
        }
    }
}

/// Probes what `scenario` needs; returns the missing features with where they are asked for.
pub fn missing(s: &Scenario) -> Vec<(Need, Probe)> {
    let needs = needs(s);
    let features: Vec<Feature> = needs.iter().map(|n| n.feature).collect();
    needs
        .into_iter()
        .zip(probe(&features))
        .filter(|(_, p)| !p.available)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::scenario;

    #[test]
    fn a_vlan_scenario_needs_8021q_at_its_vlan_key() {
        let text = "[[networks]]\nmode = \"vepa\"\nvlan = 10\n[[peers]]\nname = \"peer\"\n";
        let s = scenario::parse(Source::new("v.toml", text)).unwrap();
        let needs = needs(&s);
        let features: Vec<Feature> = needs.iter().map(|n| n.feature).collect();
        assert_eq!(
            features,
            [
                Feature::Netns,
                Feature::Veth,
                Feature::Bridge,
                Feature::Macvlan(MacvlanMode::Vepa),
                Feature::Vlan
            ]
        );
        let vlan = needs.iter().find(|n| n.feature == Feature::Vlan).unwrap();
        let span = vlan.span.clone().unwrap();
        assert_eq!(&text[span], "10");
        assert!(vlan.why.contains("eth0.10"));
    }

    #[test]
    fn feature_ids_are_unique() {
        let mut ids: Vec<String> = Feature::all().into_iter().map(Feature::id).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(ids.contains(&"macvlan-passthru".to_string()));
    }
}
