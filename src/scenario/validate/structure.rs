//! Stage 1: the lab's shape from the file as written. Parents, networks, endpoint groups, peers,
//! the host and its shim become drafts with their names settled (unnamed endpoints get `e1`,
//! `e2`, ...), and the rules between them are checked: which parent and network a node names,
//! passthru exclusivity, overlapping subnets, what a bare wire allows; the switch ports are
//! named. Addresses and MACs given in the file are parsed here but assigned by the later stages.

use std::collections::{HashMap, HashSet};

use toml::Spanned;

use super::values::NODE_NAME_MAX;
use super::*;
use crate::scenario::ipam::Pool;

/// Most endpoints one group may ask for.
const MAX_COUNT: u32 = 100_000;

impl Builder {
    pub(super) fn structure(&mut self, raw: RawScenario) -> Drafts {
        let name = match raw.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.error(
                    n.span(),
                    "the scenario name is empty",
                    "write a short name, or leave `name` out to use the file name",
                );
                String::new()
            }
            Some(n) => n.into_inner(),
            None => self
                .source
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scenario")
                .to_string(),
        };
        let switch = self.switch(raw.switch);
        let (mut parents, parent_macs, parent_ports) = self.parents(raw.parents);
        let mut networks = self.networks(raw.networks, &parents);
        let mut endpoints = self.endpoints(&mut networks);
        let mut peers = self.peers(raw.peers, &networks);
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
            seed: raw.seed.unwrap_or(1),
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
        parents: &[Parent],
    ) -> Vec<NetworkDraft> {
        let raw = raw.unwrap_or_else(|| vec![Spanned::new(0..0, RawNetwork::default())]);
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
            let parent = match &r.parent {
                Some(p) => parents
                    .iter()
                    .position(|x| &x.name == p.get_ref())
                    .unwrap_or_else(|| {
                        let known: Vec<&str> = parents.iter().map(|x| x.name.as_str()).collect();
                        self.error(
                            p.span(),
                            format!("there is no parent `{}`", p.get_ref()),
                            format!(
                                "declare it under [[parents]] or use one of: {}",
                                known.join(", ")
                            ),
                        );
                        0
                    }),
                None if parents.len() > 1 => {
                    let known: Vec<&str> = parents.iter().map(|x| x.name.as_str()).collect();
                    self.error(
                        span.clone(),
                        format!("network `{name}` does not say which parent it uses"),
                        format!("add `parent = \"...\"`, one of: {}", known.join(", ")),
                    );
                    0
                }
                None => 0,
            };
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
            let vid = r.vlan.as_ref().and_then(|v| self.vid(v));
            let tagged_frames = r.tagged_frames.as_ref().is_some_and(|t| *t.get_ref());
            if let (Some(t), None) = (&r.tagged_frames, &r.vlan)
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
            if let (Some(v), Some(at)) = (vlan, r.vlan.as_ref()) {
                if link.len() > IFNAME_MAX {
                    self.error(at.span(), format!("the sub-interface name `{link}` is longer than {IFNAME_MAX} bytes"), format!("shorten the parent's name `{parent_name}` so that `{parent_name}.{v}` fits"));
                }
            }
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
            let ipv4 = self.ipam4(&r, i);
            let ipv6 = self.ipam6(&r);
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
                span: span.clone(),
                mode_span,
                vlan_span: r.vlan.as_ref().map(spanned),
                bc_cutoff_span: r.bc_cutoff.as_ref().map(spanned),
            };
            out.push(NetworkDraft {
                network,
                raw_source_macs: r.source_macs.map(|l| l.into_inner()).unwrap_or_default(),
                endpoints_span: span,
                groups: r.endpoints,
            });
        }
        out
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

    fn peers(
        &mut self,
        raw: Option<Vec<Spanned<RawPeer>>>,
        networks: &[NetworkDraft],
    ) -> Vec<PeerDraft> {
        let raw = match raw {
            Some(list) => list,
            None if networks.is_empty() => Vec::new(),
            None => vec![Spanned::new(
                0..0,
                RawPeer {
                    name: None,
                    interface: None,
                    network: None,
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
        let mut seen: HashSet<String> = HashSet::new();
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
            } else if !seen.insert(name.clone()) {
                self.error(
                    span,
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
                if !seen.contains(&candidate) {
                    break candidate;
                }
            };
            seen.insert(name.clone());
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
        for peer in peers.iter().filter(|_| !external) {
            let Some(net) = networks.get(peer.network) else {
                continue;
            };
            let parent = &parents[net.network.parent];
            if parent.kind != ParentKind::Veth {
                self.error(peer.span.clone(), format!("peer `{}` is on network `{}`, whose parent `{}` has no wire a peer could plug into", peer.name, net.network.name, parent.name), "put the peer on a network with a veth parent");
            }
        }
        for (i, a) in networks.iter().enumerate() {
            let a = &a.network;
            if a.mode == MacvlanMode::Passthru {
                let count = endpoints.iter().filter(|e| e.network == i).count();
                if count > 1 {
                    self.error(a.mode_span.clone(), format!("passthru gives the whole parent to one endpoint, but network `{}` has {count}", a.name), "use one endpoint, or another mode");
                }
                if let Some(s) = shim.filter(|s| networks[s.network].network.link == a.link) {
                    self.error(s.span.clone(), format!("the shim would be a second macvlan on `{}`, which passthru network `{}` owns", a.link, a.name), "put the shim on another network, or use another mode");
                }
            }
            for b in &networks[i + 1..] {
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
