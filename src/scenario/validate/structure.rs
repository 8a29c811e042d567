//! Stage 1: the lab's shape from the file as written. Parents, networks, endpoint groups, peers,
//! the host and its shim become drafts with their names settled (unnamed endpoints get `e1`,
//! `e2`, ...), and the rules between them are checked: which parent and network a node names,
//! passthru exclusivity, overlapping subnets, what a bare wire allows; the switch ports are
//! named. Addresses and MACs given in the file are parsed here but assigned by the later stages.

use std::collections::HashMap;

use toml::Spanned;

use ipnetwork::IpNetwork;

use super::addresses::default_subnet;
use super::pools::WrittenIpam;
use super::values::{NODE_NAME_MAX, check_lab_word};
use super::*;
use crate::scenario::ipam::{Family, Pool};
use crate::scenario::seeded::docker_network_id;

/// Most endpoints one group may ask for.
const MAX_COUNT: u32 = 100_000;

/// The smallest MTU the kernel keeps IPv6 on for (RFC 8200); below it a link has no IPv6
/// addresses and joins no IPv6 group.
pub(in crate::scenario) const IPV6_MIN_MTU: u32 = 1280;

impl Builder {
    pub(super) fn structure(&mut self, mut raw: RawScenario) -> Drafts {
        self.seed = raw.seed.unwrap_or(1);
        self.rules = self.read_rules(raw.docker.take(), raw.cni.take());
        self.address_map = self.address_mappings(raw.address_map.take());
        self.docker.lab_v6 = written_v6_blocks(raw.networks.as_deref().unwrap_or_default());
        let name = match raw.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.error(
                    n.span(),
                    "the scenario name is empty",
                    "write a short name, or leave `name` out to use the file name",
                );
                String::new()
            }
            Some(n) => {
                if let Err(e) = check_lab_word("scenario name", n.get_ref()) {
                    self.error(
                        n.span(),
                        e,
                        "it names the lab and its namespaces (mvlab-NAME-e1) unless `run --name` says otherwise; put prose in `description`",
                    );
                }
                n.into_inner()
            }
            None => {
                let stem = self
                    .source
                    .path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("scenario")
                    .to_string();
                if let Err(e) = check_lab_word("scenario name (the file's name)", &stem) {
                    self.diags.push(
                        Diagnostic::whole(Some(&self.source), e).hint(
                            "the file's name names the lab and its namespaces (mvlab-NAME-e1): rename the file, or write `name = \"...\"` at its top",
                        ),
                    );
                }
                stem
            }
        };
        let switch = self.switch(raw.switch);
        let (mut parents, mut parent_macs, mut parent_ports) = self.parents(raw.parents);
        let mut networks = self.networks(
            raw.networks,
            &mut parents,
            &mut parent_macs,
            &mut parent_ports,
        );
        let mut endpoints = self.endpoints(&mut networks);
        if self.rules == Rules::Mvlab {
            self.source_lists(&networks, &endpoints);
        }
        let mut peers = self.peers(raw.peers, &networks, &parents);
        let (host, shim) = self.host(raw.host, &networks);
        self.node_names(&mut endpoints, &peers);
        let mut switch = switch;
        self.port_policies(&mut switch, &mut parents, &parent_ports, &mut peers);
        self.wiring(
            &switch,
            &mut parents,
            &networks,
            &endpoints,
            &mut peers,
            shim.as_ref(),
        );
        Drafts {
            name,
            description: raw.description.unwrap_or_default(),
            seed: self.seed,
            switch,
            parents,
            parent_macs,
            parent_ports,
            networks,
            endpoints,
            peers,
            host,
            shim,
        }
    }

    fn parents(
        &mut self,
        raw: Option<Vec<Spanned<RawParent>>>,
    ) -> (Vec<Parent>, Vec<Option<Spanned<MacAddr>>>, Vec<PortExtras>) {
        let raw = raw.unwrap_or_else(|| {
            vec![Spanned::new(
                0..0,
                RawParent {
                    name: None,
                    kind: None,
                    interface: None,
                    mtu: None,
                    mac: None,
                    port: None,
                },
            )]
        });
        if raw.is_empty() {
            self.diags.push(
                Diagnostic::whole(
                    Some(&self.source),
                    "`parents = []` leaves the networks nothing to attach to",
                )
                .hint("remove `parents` to get one veth parent `eth0`, or list at least one"),
            );
        }
        let mut parents = Vec::new();
        let mut macs = Vec::new();
        let mut ports = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for (i, raw) in raw.into_iter().enumerate() {
            let span = raw.span();
            let r = raw.into_inner();
            let name = r
                .name
                .as_ref()
                .map_or_else(|| format!("eth{i}"), |n| n.get_ref().clone());
            let name_span = r.name.as_ref().map_or(span.clone(), spanned);
            self.ifname(&name, name_span.clone(), "a parent");
            if seen.insert(name.clone(), name_span.clone()).is_some() {
                self.error(
                    name_span,
                    format!("parent `{name}` is declared twice"),
                    "give each parent its own name",
                );
            }
            let kind_span = r.kind.as_ref().map_or(span.clone(), spanned);
            let kind = match r
                .kind
                .map(|k| k.into_inner())
                .unwrap_or(RawParentKind::Veth)
            {
                RawParentKind::Veth => ParentKind::Veth,
                RawParentKind::Dummy => ParentKind::Dummy,
                RawParentKind::Existing => match &r.interface {
                    Some(iface) => {
                        self.ifname(iface.get_ref(), iface.span(), "an existing interface");
                        ParentKind::Existing {
                            interface: iface.get_ref().clone(),
                        }
                    }
                    None => {
                        self.error(
                            kind_span.clone(),
                            "an existing parent needs `interface`",
                            "name the root-namespace interface, e.g. interface = \"enp3s0\" (and run with --use-real-parent)",
                        );
                        ParentKind::Existing {
                            interface: String::new(),
                        }
                    }
                },
            };
            if let (Some(iface), false) =
                (&r.interface, matches!(kind, ParentKind::Existing { .. }))
            {
                self.error(
                    iface.span(),
                    "`interface` only applies to kind = \"existing\"",
                    "remove it: a veth or dummy parent is created by the lab",
                );
            }
            let mtu = r.mtu.as_ref().map_or(1500, |m| *m.get_ref());
            if let Some(m) = &r.mtu
                && !(68..=65535).contains(&mtu)
            {
                self.error(
                    m.span(),
                    format!("MTU {mtu} is out of range"),
                    "use 68 to 65535 (1500 is Ethernet's default)",
                );
            }
            macs.push(self.mac(r.mac.as_ref()));
            let (port, port_span, extras) = self.port(r.port);
            ports.push(extras);
            if let (Some(at), false) = (port_span, kind == ParentKind::Veth) {
                self.error(
                    at,
                    "only a veth parent has a switch port",
                    "remove `port` from this parent",
                );
            }
            parents.push(Parent {
                name,
                kind,
                port,
                mtu,
                mac: MacAddr::default(),
                span,
                kind_span,
            });
        }
        (parents, macs, ports)
    }

    fn networks(
        &mut self,
        raw: Option<Vec<Spanned<RawNetwork>>>,
        parents: &mut Vec<Parent>,
        parent_macs: &mut Vec<Option<Spanned<MacAddr>>>,
        parent_ports: &mut Vec<PortExtras>,
    ) -> Vec<NetworkDraft> {
        let raw = raw.unwrap_or_else(|| vec![Spanned::new(0..0, RawNetwork::default())]);
        if raw.is_empty() {
            self.diags.push(
                Diagnostic::whole(
                    Some(&self.source),
                    "`networks = []` leaves the lab without a macvlan endpoint to test",
                )
                .hint("remove `networks` to get one bridge-mode network, or list at least one"),
            );
        }
        let mut out = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for (i, raw) in raw.into_iter().enumerate() {
            let span = raw.span();
            let r = raw.into_inner();
            let name = r
                .name
                .as_ref()
                .map_or_else(|| format!("net{i}"), |n| n.get_ref().clone());
            if let Some(n) = &r.name {
                if !valid_node_name(&name) {
                    self.error(
                        n.span(),
                        format!("`{name}` is not a usable network name"),
                        "use letters, digits, '-' and '_', starting with a letter or digit",
                    );
                }
                if seen.insert(name.clone(), ()).is_some() {
                    self.error(
                        n.span(),
                        format!("network `{name}` is declared twice"),
                        "give each network its own name",
                    );
                }
            }
            let docker_id = docker_network_id(self.seed, &name);
            self.parent_failed = false;
            let (parent, named_vlan) = self.network_parent(
                &r,
                &name,
                &docker_id,
                span.clone(),
                parents,
                parent_macs,
                parent_ports,
            );
            let mode_span = r.mode.as_ref().map_or(span.clone(), spanned);
            let mode = match r
                .mode
                .as_ref()
                .map(|m| *m.get_ref())
                .unwrap_or(RawMode::Bridge)
            {
                RawMode::Bridge => MacvlanMode::Bridge,
                RawMode::Vepa => MacvlanMode::Vepa,
                RawMode::Private => MacvlanMode::Private,
                RawMode::Passthru => MacvlanMode::Passthru,
                RawMode::Source => MacvlanMode::Source,
            };
            let vid = match (r.vlan.as_ref(), named_vlan) {
                (Some(v), Some(_)) => {
                    self.error(
                        v.span(),
                        "the parent's name already says the VLAN",
                        "write either parent = \"BASE.VID\" or parent = \"BASE\" with vlan = VID",
                    );
                    named_vlan
                }
                (Some(v), None) => self.vid(v),
                (None, named) => named,
            };
            let tagged_frames = r.tagged_frames.as_ref().is_some_and(|t| *t.get_ref());
            if let (Some(t), None) = (&r.tagged_frames, vid)
                && tagged_frames
            {
                self.error(
                    t.span(),
                    "`tagged_frames` needs the network's `vlan`",
                    "add `vlan = ID` (the tag the endpoints put on their frames), or remove it",
                );
            }
            let (vlan, frame_vlan) = if tagged_frames {
                (None, vid)
            } else {
                (vid, None)
            };
            let parent_name = parents.get(parent).map_or("eth0", |p| p.name.as_str());
            let link = match vlan {
                Some(v) => format!("{parent_name}.{v}"),
                None => parent_name.to_string(),
            };
            let vlan_at = r
                .vlan
                .as_ref()
                .map(spanned)
                .or(r.parent.as_ref().map(spanned));
            if let (Some(v), Some(at)) = (vlan, vlan_at.clone()) {
                if link.len() > IFNAME_MAX {
                    self.error(at, format!("the sub-interface name `{link}` is longer than {IFNAME_MAX} bytes"), format!("shorten the parent's name `{parent_name}` so that `{parent_name}.{v}` fits"));
                }
            }
            if self.rules == Rules::Mvlab {
                self.mvlab_only(&r, mode);
            }
            let (ipv4, ipv6, written) = match self.rules {
                Rules::Mvlab => (self.ipam4(&r, i), self.ipam6(&r), None),
                _ => {
                    let mut written = self.written_ipam(&r, i);
                    match self.rules {
                        Rules::Docker { version } => self.docker_network(
                            version,
                            &r,
                            mode,
                            mode_span.clone(),
                            &mut written,
                            span.clone(),
                        ),
                        _ => self.cni_network(&r, mode, mode_span.clone(), &written),
                    }
                    let first4 = written.v4.first().map_or(default_subnet(i), |p| p.base());
                    let ipv4 = provisional(first4);
                    let ipv6 = written.v6.first().map(|p| provisional(p.base()));
                    (ipv4, ipv6, Some(written))
                }
            };
            if let (Some(s6), Some(p)) = (&r.subnet6, parents.get(parent))
                && p.mtu < IPV6_MIN_MTU
            {
                self.error(
                    s6.span(),
                    format!(
                        "IPv6 needs an MTU of at least {IPV6_MIN_MTU}, and parent `{}` has mtu = {}",
                        p.name, p.mtu
                    ),
                    "raise the parent's mtu to 1280 or more, or remove subnet6 (the kernel turns IPv6 off on a smaller link)",
                );
            }
            if let Some(b) = &r.bcqueuelen
                && *b.get_ref() == 0
            {
                self.error(
                    b.span(),
                    "bcqueuelen = 0 makes the kernel drop every broadcast and multicast frame that comes in through the parent",
                    "use 1 or more (the kernel's default is 1000), or leave bcqueuelen out",
                );
            }
            let parentless = r.parent.is_none();
            let (internal, docker) = match (self.rules, &written) {
                (Rules::Docker { version }, Some(w)) => {
                    let asked = w.internal.as_ref().is_some_and(|f| f.value);
                    if !self.parent_failed {
                        self.docker_parent(
                            version,
                            &link,
                            &docker_id,
                            mode == MacvlanMode::Passthru,
                            r.parent.as_ref().map_or(span.clone(), spanned),
                        );
                    }
                    let internal = asked || (parentless && version.parentless_is_internal());
                    let docker = DockerNetwork {
                        id: docker_id.clone(),
                        parent: r.parent.as_ref().map(|p| match vlan {
                            Some(v) if !p.get_ref().contains('.') => format!("{}.{v}", p.get_ref()),
                            _ => p.get_ref().clone(),
                        }),
                        internal: asked,
                        enable_ipv4: w.ipv4_on(),
                        enable_ipv6: w.ipv6_on(),
                        ipam: docker_ipam_config(w),
                    };
                    (internal, Some(docker))
                }
                (Rules::Cni, Some(w)) => (w.routes.is_empty(), None),
                _ => (false, None),
            };
            let network = Network {
                name,
                parent,
                mode,
                nopromisc: r.nopromisc.as_ref().is_some_and(|f| *f.get_ref()),
                nodst: r.nodst.as_ref().is_some_and(|f| *f.get_ref()),
                source_macs: Vec::new(),
                vlan,
                frame_vlan,
                link,
                bcqueuelen: r.bcqueuelen.as_ref().map(|v| *v.get_ref()),
                bc_cutoff: r.bc_cutoff.as_ref().map(|v| *v.get_ref()),
                ipv4,
                ipv6,
                more_ipv4: Vec::new(),
                more_ipv6: Vec::new(),
                internal,
                docker,
                span: span.clone(),
                mode_span,
                vlan_span: vlan_at,
                bc_cutoff_span: r.bc_cutoff.as_ref().map(spanned),
            };
            out.push(NetworkDraft {
                network,
                raw_source_macs: r.source_macs.map(|l| l.into_inner()).unwrap_or_default(),
                endpoints_span: span,
                groups: r.endpoints,
                written,
            });
        }
        out
    }

    /// A source-mode endpoint receives from the parent only frames from the MACs it lists: a
    /// source-mode network none of whose endpoints lists one receives nothing from outside. (Under
    /// `[docker]` or `[cni]` source mode is refused in the engine's own words instead.)
    fn source_lists(&mut self, networks: &[NetworkDraft], endpoints: &[EndpointDraft]) {
        for (n, draft) in networks.iter().enumerate() {
            let listed = !draft.raw_source_macs.is_empty()
                || endpoints.iter().any(|e| {
                    e.network == n && e.source_macs.as_ref().is_some_and(|l| !l.is_empty())
                });
            if draft.network.mode == MacvlanMode::Source && !listed {
                self.error(
                    draft.network.mode_span.clone(),
                    format!(
                        "source-mode network `{}` lists no source MACs, so its endpoints receive nothing from the parent",
                        draft.network.name
                    ),
                    "add `source_macs = [\"peer\"]` (node names or MACs whose frames the endpoints receive), or use another mode",
                );
            }
        }
    }

    /// The kernel's own flags, and what only `[docker]` or `[cni]` understand, on a network of
    /// mvlab's own rules.
    fn mvlab_only(&mut self, r: &RawNetwork, mode: MacvlanMode) {
        for (key, flag, wanted) in [
            ("nopromisc", &r.nopromisc, MacvlanMode::Passthru),
            ("nodst", &r.nodst, MacvlanMode::Source),
        ] {
            if let Some(f) = flag
                && *f.get_ref()
                && mode != wanted
            {
                self.error(
                    f.span(),
                    format!("`{key}` only has an effect in {wanted} mode"),
                    format!("remove it, or use mode = \"{wanted}\""),
                );
            }
        }
        if let Some(list) = &r.source_macs
            && mode != MacvlanMode::Source
        {
            self.error(
                list.span(),
                "`source_macs` only applies to mode = \"source\"",
                "remove it, or use mode = \"source\"",
            );
        }
        let engine_keys = [
            ("internal", r.internal.as_ref().map(spanned), "[docker]"),
            (
                "enable_ipv4",
                r.enable_ipv4.as_ref().map(spanned),
                "[docker]",
            ),
            (
                "enable_ipv6",
                r.enable_ipv6.as_ref().map(spanned),
                "[docker]",
            ),
            (
                "subnets",
                r.subnets.as_ref().and_then(|l| l.first()).map(spanned),
                "[docker] or [cni]",
            ),
            ("range_start", r.range_start.as_ref().map(spanned), "[cni]"),
            ("range_end", r.range_end.as_ref().map(spanned), "[cni]"),
            (
                "range_start6",
                r.range_start6.as_ref().map(spanned),
                "[cni]",
            ),
            ("range_end6", r.range_end6.as_ref().map(spanned), "[cni]"),
            (
                "routes",
                r.routes.as_ref().and_then(|l| l.first()).map(spanned),
                "[cni]",
            ),
        ];
        for (key, at, section) in engine_keys {
            if let Some(at) = at {
                self.error(
                    at,
                    format!("`{key}` is a key of networks under {section}"),
                    format!("add the {section} section the scenario follows, or remove `{key}`"),
                );
            }
        }
    }

    /// Which parent a network hangs off, and the VLAN its name asks for (`eth0.10`: Docker
    /// makes that sub-interface when no parent has the name). With `[docker]`, a network
    /// without `parent` gets a dummy link of its own, named as Docker names it.
    #[allow(clippy::too_many_arguments)]
    fn network_parent(
        &mut self,
        r: &RawNetwork,
        name: &str,
        docker_id: &str,
        span: Span,
        parents: &mut Vec<Parent>,
        parent_macs: &mut Vec<Option<Spanned<MacAddr>>>,
        parent_ports: &mut Vec<PortExtras>,
    ) -> (usize, Option<u16>) {
        let docker = self.rules.docker();
        let known = |parents: &[Parent]| {
            parents
                .iter()
                .map(|x| x.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(p) = &r.parent else {
            if docker.is_some() {
                let (port, _, extras) = self.port(None);
                parents.push(Parent {
                    name: format!("dm-{}", &docker_id[..12]),
                    kind: ParentKind::Dummy,
                    port,
                    mtu: 1500,
                    mac: MacAddr::default(),
                    span: span.clone(),
                    kind_span: span,
                });
                parent_macs.push(None);
                parent_ports.push(extras);
                return (parents.len() - 1, None);
            }
            if parents.len() > 1 {
                let known = known(parents);
                self.error(
                    span,
                    format!("network `{name}` does not say which parent it uses"),
                    format!("add `parent = \"...\"`, one of: {known}"),
                );
            }
            return (0, None);
        };
        let wanted = p.get_ref();
        if let Some(at) = parents.iter().position(|x| &x.name == wanted) {
            return (at, None);
        }
        if let Some(v) = docker
            && wanted == "lo"
        {
            self.error(
                p.span(),
                v.loopback_parent(),
                "give the network a parent of the lab",
            );
            self.parent_failed = true;
            return (0, None);
        }
        let known = known(parents);
        let mut refuse = |words: Option<String>, mine: String, hint: String| {
            self.error(p.span(), words.unwrap_or(mine), hint);
            self.parent_failed = true;
            (0, None)
        };
        let declare =
            |name: &str| format!("declare `{name}` under [[parents]] or use one of: {known}");
        if !wanted.contains('.') {
            return refuse(
                docker.map(|v| v.parent_missing(wanted)),
                format!("there is no parent `{wanted}`"),
                format!(
                    "{}; BASE.VID names a VLAN sub-interface of BASE",
                    declare(wanted)
                ),
            );
        }
        let parts: Vec<&str> = wanted.split('.').collect();
        let [base, vid] = parts[..] else {
            return refuse(
                docker.map(|v| v.vlan_name_format(wanted)),
                format!("`{wanted}` is neither a parent nor BASE.VID"),
                "a VLAN sub-interface is named BASE.VID, with one dot".into(),
            );
        };
        let Ok(vid) = vid.parse::<i64>() else {
            return refuse(
                docker.map(|v| v.vlan_unparsable(vid)),
                format!("`{vid}` in `{wanted}` is not a VLAN id"),
                "write the VLAN id as a number, e.g. eth0.10".into(),
            );
        };
        let Some(at) = parents.iter().position(|x| x.name == base) else {
            return refuse(
                docker.map(|v| v.parent_base_missing(base)),
                format!("there is no parent `{base}`"),
                declare(base),
            );
        };
        if !(1..=4094).contains(&vid) {
            return refuse(
                docker.map(|v| v.vlan_out_of_range(vid)),
                format!("VLAN id {vid} is outside 1..4094"),
                "802.1Q ids 0 and 4095 are reserved; use 1 to 4094".into(),
            );
        }
        (at, Some(vid as u16))
    }

    fn endpoints(&mut self, networks: &mut [NetworkDraft]) -> Vec<EndpointDraft> {
        let mut out = Vec::new();
        for (n, draft) in networks.iter_mut().enumerate() {
            let groups = draft.groups.take().unwrap_or_else(|| {
                vec![Spanned::new(
                    draft.endpoints_span.clone(),
                    RawEndpoints {
                        count: Some(Spanned::new(draft.endpoints_span.clone(), 2)),
                        ..RawEndpoints::default()
                    },
                )]
            });
            for group in groups {
                let span = group.span();
                let g = group.into_inner();
                let count = g.count.as_ref().map_or(1, |c| *c.get_ref());
                if let Some(c) = &g.count
                    && count > MAX_COUNT
                {
                    self.error(
                        c.span(),
                        format!("{count} endpoints in one group is more than {MAX_COUNT}"),
                        format!("split the group, or ask for at most {MAX_COUNT}"),
                    );
                    continue;
                }
                if let Some(c) = &g.count
                    && count == 0
                {
                    self.error(
                        c.span(),
                        "a group of 0 endpoints adds nothing",
                        "use count = 1 or more, or remove the group",
                    );
                    continue;
                }
                if count > 1 {
                    let fixed = [
                        ("ip", g.ip.as_ref()),
                        ("ip6", g.ip6.as_ref()),
                        ("mac", g.mac.as_ref()),
                    ];
                    for (key, v) in fixed {
                        if let Some(v) = v {
                            self.error(
                                v.span(),
                                format!(
                                    "`{key}` is fixed for one endpoint, but this group has {count}"
                                ),
                                "give fixed addresses in single-endpoint entries (no `count`)",
                            );
                        }
                    }
                }
                if let Some(pattern) = &g.name
                    && count > 1
                    && !pattern.get_ref().contains("{n}")
                {
                    self.error(
                        pattern.span(),
                        format!(
                            "the name `{}` would be given to {count} endpoints",
                            pattern.get_ref()
                        ),
                        "put {n} in the pattern, e.g. name = \"web{n}\"",
                    );
                    continue;
                }
                let start = g.start.as_ref().map_or(1, |s| *s.get_ref());
                let ip = self.ipv4(g.ip.as_ref());
                let ip6 = self.ipv6(g.ip6.as_ref());
                let mac = self.mac(g.mac.as_ref());
                let source_macs = g.source_macs.map(|l| l.into_inner());
                if source_macs.is_some() && draft.network.mode != MacvlanMode::Source {
                    self.error(
                        span.clone(),
                        "`source_macs` only applies to endpoints of a source-mode network",
                        "remove it, or set mode = \"source\" on the network",
                    );
                }
                for k in 0..count {
                    out.push(EndpointDraft {
                        name: g
                            .name
                            .as_ref()
                            .map(|p| p.get_ref().replace("{n}", &(start + k).to_string())),
                        network: n,
                        ip: if count == 1 { ip.clone() } else { None },
                        ip6: if count == 1 { ip6.clone() } else { None },
                        mac: if count == 1 { mac.clone() } else { None },
                        written_mac: if count == 1 {
                            mac.as_ref().map(|m| *m.get_ref())
                        } else {
                            None
                        },
                        source_macs: source_macs.clone(),
                        span: g.name.as_ref().map_or(span.clone(), spanned),
                    });
                }
            }
        }
        out
    }

    fn network_named(&mut self, raw: Option<&SpannedStr>, networks: &[NetworkDraft]) -> usize {
        let Some(raw) = raw else { return 0 };
        networks
            .iter()
            .position(|n| &n.network.name == raw.get_ref())
            .unwrap_or_else(|| {
                let known: Vec<&str> = networks.iter().map(|n| n.network.name.as_str()).collect();
                self.error(
                    raw.span(),
                    format!("there is no network `{}`", raw.get_ref()),
                    format!("use one of: {}", known.join(", ")),
                );
                0
            })
    }

    /// The peers; by default one on the first network whose parent has a wire.
    fn peers(
        &mut self,
        raw: Option<Vec<Spanned<RawPeer>>>,
        networks: &[NetworkDraft],
        parents: &[Parent],
    ) -> Vec<PeerDraft> {
        let wired = networks.iter().find(|n| {
            parents
                .get(n.network.parent)
                .is_some_and(|p| p.kind == ParentKind::Veth)
        });
        let raw = match (raw, wired) {
            (Some(list), _) => list,
            (None, None) => Vec::new(),
            (None, Some(net)) => vec![Spanned::new(
                0..0,
                RawPeer {
                    name: None,
                    interface: None,
                    network: Some(Spanned::new(0..0, net.network.name.clone())),
                    ip: None,
                    ip6: None,
                    mac: None,
                    port: None,
                },
            )],
        };
        let mut out = Vec::new();
        for (i, raw) in raw.into_iter().enumerate() {
            let span = raw.span();
            let r = raw.into_inner();
            let name = r.name.as_ref().map_or_else(
                || {
                    if i == 0 {
                        "peer".to_string()
                    } else {
                        format!("peer{}", i + 1)
                    }
                },
                |n| n.get_ref().clone(),
            );
            let network = self.network_named(r.network.as_ref(), networks);
            let (port, port_span, port_extras) = self.port(r.port);
            if let Some(iface) = &r.interface {
                self.ifname(iface.get_ref(), iface.span(), "an existing interface");
            }
            out.push(PeerDraft {
                name,
                network,
                ip: self.ipv4(r.ip.as_ref()),
                ip6: self.ipv6(r.ip6.as_ref()),
                mac: self.mac(r.mac.as_ref()),
                existing: r.interface,
                port,
                port_span,
                port_extras,
                span: r.name.as_ref().map_or(span, spanned),
            });
        }
        out
    }

    fn host(
        &mut self,
        raw: Option<Spanned<RawHost>>,
        networks: &[NetworkDraft],
    ) -> (Option<HostDraft>, Option<ShimDraft>) {
        let Some(raw) = raw else { return (None, None) };
        let r = raw.into_inner();
        let network = self.network_named(r.network.as_ref(), networks);
        let host = (r.ip.is_some() || r.ip6.is_some()).then(|| HostDraft {
            network,
            ip: self.ipv4(r.ip.as_ref()),
            ip6: self.ipv6(r.ip6.as_ref()),
        });
        let shim = r.shim.map(|s| {
            let span = s.span();
            let s = s.into_inner();
            let interface = s
                .name
                .as_ref()
                .map_or_else(|| "shim0".to_string(), |n| n.get_ref().clone());
            if let Some(n) = &s.name {
                self.ifname(&interface, n.span(), "the shim");
            }
            ShimDraft {
                network: match s.network.as_ref() {
                    Some(_) => self.network_named(s.network.as_ref(), networks),
                    None => network,
                },
                interface,
                ip: self.ipv4(s.ip.as_ref()),
                ip6: self.ipv6(s.ip6.as_ref()),
                mac: self.mac(s.mac.as_ref()),
                span,
            }
        });
        (host, shim)
    }

    /// Checks every given node name, then names the unnamed endpoints `e1`, `e2`, ... skipping
    /// names already in use.
    fn node_names(&mut self, endpoints: &mut [EndpointDraft], peers: &[PeerDraft]) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        let given = endpoints
            .iter()
            .filter_map(|e| e.name.as_ref().map(|n| (n.clone(), e.span.clone())))
            .chain(peers.iter().map(|p| (p.name.clone(), p.span.clone())))
            .collect::<Vec<_>>();
        for (name, span) in given {
            if name == HOST_NODE || name == SWITCH_NODE {
                self.error(
                    span,
                    format!("`{name}` is the name of the lab's {name} node"),
                    "pick another name",
                );
            } else if !valid_node_name(&name) {
                self.error(span, format!("`{name}` is not a usable node name"), format!("use up to {NODE_NAME_MAX} letters, digits, '-' and '_', starting with a letter or digit"));
            } else if let Some(first) = seen.insert(name.clone(), span.clone()) {
                // The built-in peer is written nowhere: point at the name that is.
                let at = if span.is_empty() { first } else { span };
                self.error(
                    at,
                    format!("the name `{name}` is used twice"),
                    "every endpoint and peer needs its own name",
                );
            }
        }
        let mut n = 0u64;
        for e in endpoints.iter_mut().filter(|e| e.name.is_none()) {
            let name = loop {
                n += 1;
                let candidate = format!("e{n}");
                if !seen.contains_key(&candidate) {
                    break candidate;
                }
            };
            seen.insert(name.clone(), e.span.clone());
            e.name = Some(name);
        }
    }

    /// Rules about what plugs into what: the switch, ports, passthru exclusivity, overlapping
    /// subnets. Names the switch ports.
    fn wiring(
        &mut self,
        switch: &Switch,
        parents: &mut [Parent],
        networks: &[NetworkDraft],
        endpoints: &[EndpointDraft],
        peers: &mut [PeerDraft],
        shim: Option<&ShimDraft>,
    ) {
        if let Switch::None { span } = switch {
            if parents.len() != 1 || parents[0].kind != ParentKind::Veth {
                self.error(
                    span.clone(),
                    "a switch of kind \"none\" is a bare wire from one veth parent to one peer",
                    "declare exactly one veth parent, or use kind = \"bridge\"",
                );
            }
            if peers.len() != 1 {
                self.error(
                    span.clone(),
                    format!(
                        "a bare wire joins the parent to exactly one peer, but there are {}",
                        peers.len()
                    ),
                    "declare exactly one [[peers]] entry, or use kind = \"bridge\"",
                );
            }
            for p in peers.iter().filter_map(|p| p.port_span.clone()) {
                self.error(
                    p,
                    "with no switch there are no switch ports",
                    "remove `port`, or use kind = \"bridge\"",
                );
            }
        }
        if let Switch::External(_) = switch {
            self.external_wiring(parents, peers);
        } else {
            for peer in peers.iter() {
                if let Some(iface) = &peer.existing {
                    self.error(
                        iface.span(),
                        "`interface` on a peer names a tester port of an external switch",
                        "remove it, or set `kind = \"external\"` under [switch]",
                    );
                }
            }
        }
        let external = matches!(switch, Switch::External(_));
        // With `parents = []` (already refused) a network's parent index points nowhere.
        for peer in peers.iter().filter(|_| !external) {
            let Some(net) = networks.get(peer.network) else {
                continue;
            };
            let Some(parent) = parents.get(net.network.parent) else {
                continue;
            };
            if parent.kind != ParentKind::Veth {
                self.error(peer.span.clone(), format!("peer `{}` is on network `{}`, whose parent `{}` has no wire a peer could plug into", peer.name, net.network.name, parent.name), "put the peer on a network with a veth parent");
            }
        }
        // With [docker], Docker's own rules judge passthru and overlapping subnets (stages 1
        // and 2, in its words).
        let docker = self.rules.docker().is_some();
        for (i, a) in networks.iter().enumerate() {
            let a = &a.network;
            if a.mode == MacvlanMode::Passthru {
                let count = endpoints.iter().filter(|e| e.network == i).count();
                if count > 1 && !docker {
                    self.error(a.mode_span.clone(), format!("passthru gives the whole parent to one endpoint, but network `{}` has {count}", a.name), "use one endpoint, or another mode");
                }
                if let Some(s) = shim.filter(|s| networks[s.network].network.link == a.link) {
                    self.error(s.span.clone(), format!("the shim would be a second macvlan on `{}`, which passthru network `{}` owns", a.link, a.name), "put the shim on another network, or use another mode");
                }
            }
            for b in networks[i + 1..].iter().filter(|_| !docker) {
                let b = &b.network;
                if a.link == b.link
                    && (a.mode == MacvlanMode::Passthru || b.mode == MacvlanMode::Passthru)
                {
                    self.error(
                        b.span.clone(),
                        format!(
                            "networks `{}` and `{}` share `{}`, but passthru needs it alone",
                            a.name, b.name, a.link
                        ),
                        "give one of them another parent or a VLAN",
                    );
                }
                let (sa, sb) = (&a.ipv4.subnet, &b.ipv4.subnet);
                if Pool::overlap((sa.ip(), sa.prefix()), (sb.ip(), sb.prefix())) {
                    self.error(
                        b.span.clone(),
                        format!(
                            "the subnet {sb} of `{}` overlaps {sa} of `{}`",
                            b.name, a.name
                        ),
                        "give every network its own subnet",
                    );
                }
                if let (Some(x), Some(y)) = (&a.ipv6, &b.ipv6)
                    && Pool::overlap(
                        (x.subnet.ip(), x.subnet.prefix()),
                        (y.subnet.ip(), y.subnet.prefix()),
                    )
                {
                    self.error(
                        b.span.clone(),
                        format!(
                            "the subnet {} of `{}` overlaps {} of `{}`",
                            y.subnet, b.name, x.subnet, a.name
                        ),
                        "give every network its own subnet6",
                    );
                }
            }
        }
        if let Switch::External(_) = switch {
            // The switch under test's ports have no names mvlab knows: traces name them after
            // the tester interface wired to each.
            for parent in parents.iter_mut() {
                if let ParentKind::Existing { interface } = &parent.kind {
                    parent.port.name = interface.clone();
                }
            }
            for peer in peers.iter_mut() {
                if let Some(iface) = &peer.existing {
                    peer.port.name = iface.get_ref().clone();
                }
            }
        } else if switch.has_ports() {
            let mut next = 0;
            for parent in parents.iter_mut().filter(|p| p.kind == ParentKind::Veth) {
                parent.port.name = format!("p{next}");
                next += 1;
            }
            for peer in peers.iter_mut() {
                peer.port.name = format!("p{next}");
                next += 1;
            }
        }
    }

    /// With an external switch every parent and every peer is an existing interface wired to a
    /// port of its own: mvlab builds no wire, and two stations sharing a tester interface
    /// would reach each other without the switch.
    fn external_wiring(&mut self, parents: &[Parent], peers: &[PeerDraft]) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for parent in parents {
            match &parent.kind {
                ParentKind::Existing { interface } => {
                    seen.insert(interface.clone(), parent.kind_span.clone());
                }
                _ => self.error(
                    parent.kind_span.clone(),
                    format!("parent `{}` is not wired to the switch under test", parent.name),
                    "with an external switch every parent is an existing interface: kind = \"existing\", interface = \"t0\"",
                ),
            }
            if parent.port != Port::default() {
                self.error(
                    parent.span.clone(),
                    format!(
                        "parent `{}` sets flags of a port mvlab does not configure",
                        parent.name
                    ),
                    "the switch under test is configured outside mvlab: remove `port`",
                );
            }
        }
        for peer in peers {
            let Some(iface) = &peer.existing else {
                self.error(
                    peer.span.clone(),
                    format!("peer `{}` has no tester interface", peer.name),
                    "with an external switch every peer names the existing interface wired to its port: interface = \"t1\"",
                );
                continue;
            };
            if let Some(first) = seen.insert(iface.get_ref().clone(), iface.span()) {
                let line = self.source.line_col(first.start).0;
                self.error(
                    iface.span(),
                    format!(
                        "`{}` is already a tester interface (line {line})",
                        iface.get_ref()
                    ),
                    "give every parent and peer an interface (a switch port) of its own",
                );
            }
            if let Some(at) = &peer.port_span {
                self.error(
                    at.clone(),
                    format!(
                        "peer `{}` sets flags of a port mvlab does not configure",
                        peer.name
                    ),
                    "the switch under test is configured outside mvlab: remove `port`",
                );
            }
        }
    }
}

/// A pool whose gateway and range stage 2 fills in.
fn provisional<N, A>(subnet: (A, u8)) -> Ipam<N, A>
where
    A: Family,
    N: super::addresses::SubnetParts<A>,
{
    Ipam {
        subnet: N::from_parts(subnet),
        gateway: None,
        ip_range: N::from_parts(subnet),
        aux_addresses: Default::default(),
        range_start: None,
        range_end: None,
    }
}

/// `IPAM.Config` of a Docker network: what the scenario wrote (IPv4, then IPv6), and the lab's
/// stand-in for a derived ULA /64 (a real engine must be given it to stay in the lab range).
fn docker_ipam_config(w: &WrittenIpam) -> Vec<DockerIpamConfig> {
    fn entries<A: Family + Into<std::net::IpAddr>>(
        pools: &[super::pools::WrittenPool<A>],
    ) -> impl Iterator<Item = DockerIpamConfig> + '_ {
        pools.iter().map(|p| DockerIpamConfig {
            subnet: IpNetwork::new(p.subnet.value.0.into(), p.subnet.value.1)
                .expect("a parsed subnet"),
            ip_range: p
                .ip_range
                .as_ref()
                .and_then(|r| IpNetwork::new(r.value.0.into(), r.value.1).ok()),
            gateway: p.gateway.as_ref().map(|g| g.value.into()),
            aux_addresses: p
                .aux
                .iter()
                .map(|(n, a)| (n.clone(), a.value.into()))
                .collect(),
        })
    }
    let v4 = if w.default_v4 { &[][..] } else { &w.v4[..] };
    entries(v4).chain(entries(&w.v6)).collect()
}

/// Every IPv6 block the networks write (the lab blocks a derived ULA must not take).
fn written_v6_blocks(networks: &[Spanned<RawNetwork>]) -> Vec<IpNetwork> {
    networks
        .iter()
        .flat_map(|n| {
            let n = n.get_ref();
            n.subnet6
                .iter()
                .chain(n.subnets.iter().flatten().map(|p| &p.get_ref().subnet))
                .filter_map(|s| s.get_ref().parse::<IpNetwork>().ok())
                .filter(IpNetwork::is_ipv6)
                .collect::<Vec<_>>()
        })
        .collect()
}
