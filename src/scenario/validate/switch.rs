//! The `[switch]` table and every `port` table: the switch's kind and settings (each key checked
//! against the kind it applies to), a port's bridge flags, VLAN membership and port security, and
//! once every port is read, the rules between the switch and its ports (what only the emulated
//! switch does, VLAN filtering on a bridge, the default VLAN). Part of the structural stage; knows
//! nothing of addresses.

use toml::Spanned;

use super::{Builder, PeerDraft, PortExtras, spanned};
use crate::diag::Span;
use crate::scenario::schema::*;
use crate::scenario::*;

impl Builder {
    pub(super) fn switch(&mut self, raw: Option<Spanned<RawSwitch>>) -> Switch {
        let Some(raw) = raw else {
            return Switch::Bridge(Bridge {
                name: "br0".into(),
                ageing_time: 300,
                fdb_max_learned: None,
                multicast_snooping: true,
                span: 0..0,
                fdb_max_learned_span: None,
                vlan_filtering: false,
                vlan_span: None,
            });
        };
        let span = raw.span();
        let r = raw.into_inner();
        let kind_span = r.kind.as_ref().map_or(span.clone(), spanned);
        let kind = r
            .kind
            .as_ref()
            .map_or(RawSwitchKind::Bridge, |k| *k.get_ref());
        // Keys that mean nothing to this kind: (key, where, what the key needs).
        let mut foreign: Vec<(&str, Option<Span>, &str)> = match kind {
            RawSwitchKind::None => vec![
                ("name", r.name.as_ref().map(spanned), "a bridge switch"),
                (
                    "ageing_time",
                    r.ageing_time.as_ref().map(spanned),
                    "a bridge or emulated switch",
                ),
                (
                    "fdb_max_learned",
                    r.fdb_max_learned.as_ref().map(spanned),
                    "a bridge or emulated switch",
                ),
                (
                    "multicast_snooping",
                    r.multicast_snooping.as_ref().map(spanned),
                    "a bridge switch",
                ),
                (
                    "learning_rate",
                    r.learning_rate.as_ref().map(spanned),
                    "the emulated switch",
                ),
            ],
            RawSwitchKind::Bridge => vec![(
                "learning_rate",
                r.learning_rate.as_ref().map(spanned),
                "the emulated switch",
            )],
            RawSwitchKind::Emulated => vec![
                ("name", r.name.as_ref().map(spanned), "a bridge switch"),
                (
                    "multicast_snooping",
                    r.multicast_snooping.as_ref().map(spanned),
                    "a bridge switch",
                ),
            ],
            RawSwitchKind::External => vec![
                ("name", r.name.as_ref().map(spanned), "a bridge switch"),
                (
                    "multicast_snooping",
                    r.multicast_snooping.as_ref().map(spanned),
                    "a bridge switch",
                ),
                (
                    "learning_rate",
                    r.learning_rate.as_ref().map(spanned),
                    "the emulated switch",
                ),
            ],
        };
        if kind != RawSwitchKind::External {
            foreign.push((
                "table_full",
                r.table_full.as_ref().map(spanned),
                "an external switch",
            ));
        }
        for (key, at, needs) in foreign {
            if let Some(at) = at {
                let hint = match needs {
                    "a bridge switch" if kind == RawSwitchKind::Emulated => {
                        "remove it: the emulated switch has no bridge device and floods every group frame (as a bridge snooping with no querier does)"
                    }
                    "the emulated switch" => "remove it, or set `kind = \"emulated\"`",
                    "an external switch" => {
                        "remove it: a switch mvlab builds says what it does when full itself"
                    }
                    "a bridge switch" if kind == RawSwitchKind::External => {
                        "remove it: the switch under test is configured outside mvlab"
                    }
                    _ => "remove it, or set `kind = \"bridge\"`",
                };
                self.error(at, format!("`{key}` only applies to {needs}"), hint);
            }
        }
        if kind == RawSwitchKind::None {
            return Switch::None { span: kind_span };
        }
        let ageing_time = r.ageing_time.as_ref().map_or(300, |a| *a.get_ref());
        if let Some(a) = &r.ageing_time
            && ageing_time > 1_000_000
        {
            self.error(
                a.span(),
                format!("ageing time {ageing_time} s is beyond the kernel's limit"),
                "use seconds from 0 to 1000000 (the kernel default is 300)",
            );
        }
        let fdb_max_learned = r
            .fdb_max_learned
            .as_ref()
            .map(|v| *v.get_ref())
            .filter(|&v| v != 0);
        if kind == RawSwitchKind::External {
            return Switch::External(External {
                ageing_time,
                table_full: match r.table_full.as_ref().map(|t| *t.get_ref()) {
                    Some(RawTableFull::EvictOldest) => TableFull::EvictOldest,
                    Some(RawTableFull::StopLearning) | None => TableFull::StopLearning,
                },
                fdb_max_learned,
                span: kind_span,
            });
        }
        if kind == RawSwitchKind::Emulated {
            if let Some(rate) = &r.learning_rate
                && *rate.get_ref() == 0
            {
                self.error(
                    rate.span(),
                    "a learning rate of 0 would never learn",
                    "give new entries per second (at least 1), or set ageing_time = 0 to turn learning off",
                );
            }
            return Switch::Emulated(Emulated {
                ageing_time,
                fdb_max_learned,
                learning_rate: r.learning_rate.as_ref().map(|v| *v.get_ref()),
                span: kind_span,
            });
        }
        let name = match r.name {
            Some(n) => {
                self.ifname(n.get_ref(), n.span(), "the bridge");
                n.into_inner()
            }
            None => "br0".into(),
        };
        Switch::Bridge(Bridge {
            name,
            ageing_time,
            fdb_max_learned,
            multicast_snooping: r.multicast_snooping.is_none_or(|m| *m.get_ref()),
            span: kind_span,
            fdb_max_learned_span: r.fdb_max_learned.as_ref().map(spanned),
            vlan_filtering: false,
            vlan_span: None,
        })
    }

    /// A `port` table: the bridge-port flags and what only the emulated switch does.
    pub(super) fn port(
        &mut self,
        raw: Option<Spanned<RawPort>>,
    ) -> (Port, Option<Span>, PortExtras) {
        let Some(raw) = raw else {
            return (Port::default(), None, PortExtras::default());
        };
        let span = raw.span();
        let r = raw.into_inner();
        let d = Port::default();
        let vlan_key = [
            ("vlan", r.vlan.as_ref().map(spanned)),
            ("trunk", r.trunk.as_ref().map(spanned)),
            ("native_vlan", r.native_vlan.as_ref().map(spanned)),
        ]
        .into_iter()
        .find_map(|(key, at)| at.map(|at| (key, at)));
        let emulated_only = [
            ("outer_tags", r.outer_tags.as_ref().map(spanned)),
            ("mac_limit", r.mac_limit.as_ref().map(spanned)),
            ("max_macs", r.max_macs.as_ref().map(spanned)),
            ("violation", r.violation.as_ref().map(spanned)),
            ("sticky", r.sticky.as_ref().map(spanned)),
            ("static_macs", r.static_macs.as_ref().map(spanned)),
        ]
        .into_iter()
        .find_map(|(key, at)| at.map(|at| (key, at)));
        let vlan = match (&r.vlan, &r.trunk) {
            (Some(v), Some(t)) => {
                self.error(
                    t.span(),
                    "a port is either an access port (`vlan`) or a trunk (`trunk`), not both",
                    "keep one of them",
                );
                self.vid(v)
                    .map_or(PortVlan::Transparent, |vid| PortVlan::Access { vid })
            }
            (Some(v), None) => self
                .vid(v)
                .map_or(PortVlan::Transparent, |vid| PortVlan::Access { vid }),
            (None, Some(t)) => {
                let mut allowed: Vec<u16> = Vec::new();
                for id in t.get_ref() {
                    if let Some(vid) = self.vid(id) {
                        if allowed.contains(&vid) {
                            self.error(
                                id.span(),
                                format!("VLAN {vid} is listed twice"),
                                "list each VLAN once",
                            );
                        }
                        allowed.push(vid);
                    }
                }
                let native = r.native_vlan.as_ref().and_then(|n| self.vid(n));
                if allowed.is_empty() && native.is_none() {
                    self.error(
                        t.span(),
                        "a trunk with no VLAN carries nothing",
                        "list the VLANs it carries tagged, e.g. trunk = [10, 20], and/or give `native_vlan`",
                    );
                }
                allowed.sort_unstable();
                PortVlan::Trunk { allowed, native }
            }
            (None, None) => PortVlan::Transparent,
        };
        if let (Some(n), None) = (&r.native_vlan, &r.trunk) {
            self.error(
                n.span(),
                "`native_vlan` only applies to a trunk port",
                "add `trunk = [...]`, or use `vlan` for an access port",
            );
        }
        let positive = |b: &mut Self, v: &Option<Spanned<u32>>, key: &str| -> Option<u32> {
            let v = v.as_ref()?;
            if *v.get_ref() == 0 {
                b.error(
                    v.span(),
                    format!("`{key} = 0` would refuse every source"),
                    format!("give at least 1, or remove `{key}`"),
                );
                return None;
            }
            Some(*v.get_ref())
        };
        let mac_limit = positive(self, &r.mac_limit, "mac_limit");
        let max_macs = positive(self, &r.max_macs, "max_macs");
        let learning = r.learning.unwrap_or(d.learning);
        if r.max_macs.is_none() {
            for (key, at) in [
                ("violation", r.violation.as_ref().map(spanned)),
                ("sticky", r.sticky.as_ref().map(spanned)),
            ] {
                if let Some(at) = at {
                    self.error(
                        at,
                        format!("`{key}` belongs to port security, which `max_macs` turns on"),
                        "add `max_macs = N`, or remove it",
                    );
                }
            }
        }
        if let (Some(m), false) = (&r.max_macs, learning) {
            self.error(
                m.span(),
                "port security learns the port's secure addresses, but `learning = false`",
                "remove `learning = false`, or list the allowed sources in `static_macs`",
            );
        }
        let static_macs = r.static_macs.map(|l| l.into_inner()).unwrap_or_default();
        if let (Some(max), Some(m)) = (max_macs, &r.max_macs)
            && static_macs.len() > max as usize
        {
            self.error(
                m.span(),
                format!(
                    "{} static MACs are more than the {max} secure addresses `max_macs` allows",
                    static_macs.len()
                ),
                "raise `max_macs`, or list fewer `static_macs` (they count as secure addresses)",
            );
        }
        let security = max_macs.map(|max_macs| PortSecurity {
            max_macs,
            violation: match r.violation.as_ref().map(|v| *v.get_ref()) {
                Some(RawViolation::Protect) => Violation::Protect,
                Some(RawViolation::Restrict) => Violation::Restrict,
                Some(RawViolation::Shutdown) | None => Violation::Shutdown,
            },
            sticky: r.sticky.as_ref().is_some_and(|s| *s.get_ref()),
        });
        let port = Port {
            name: String::new(),
            hairpin: r.hairpin.unwrap_or(d.hairpin),
            learning,
            unicast_flood: r.unicast_flood.unwrap_or(d.unicast_flood),
            multicast_flood: r.multicast_flood.unwrap_or(d.multicast_flood),
            broadcast_flood: r.broadcast_flood.unwrap_or(d.broadcast_flood),
            policy: PortPolicy {
                vlan,
                outer_tags: match r.outer_tags.as_ref().map(|o| *o.get_ref()) {
                    Some(RawOuterTags::Drop) => OuterTags::Drop,
                    Some(RawOuterTags::Pass) | None => OuterTags::Pass,
                },
                mac_limit,
                security,
                static_macs: Vec::new(),
            },
        };
        let extras = PortExtras {
            vlan_key,
            emulated_only,
            static_macs,
            max_macs_span: r.max_macs.as_ref().map(spanned),
        };
        (port, Some(span), extras)
    }

    /// What only the emulated switch does is refused on any other switch, and VLAN membership
    /// on a bare wire; on the emulated one, port security needs learning. Once one port has
    /// VLAN membership every port without it becomes an access port of VLAN 1 (a VLAN-aware
    /// switch's default VLAN), and a Linux bridge filters by VLAN (`vlan_filtering`).
    pub(super) fn port_policies(
        &mut self,
        switch: &mut Switch,
        parents: &mut [Parent],
        parent_ports: &[PortExtras],
        peers: &mut [PeerDraft],
    ) {
        let extras: Vec<&PortExtras> = parent_ports
            .iter()
            .chain(peers.iter().map(|p| &p.port_extras))
            .collect();
        let refused: Vec<(&str, Span, &str)> = match switch {
            Switch::Emulated(_) => Vec::new(),
            Switch::Bridge(_) => extras
                .iter()
                .filter_map(|e| e.emulated_only.clone())
                .map(|(k, at)| {
                    (
                        k,
                        at,
                        "a Linux bridge (it has no port security or table limits per port)",
                    )
                })
                .collect(),
            Switch::None { .. } => extras
                .iter()
                .filter_map(|e| e.vlan_key.clone().or_else(|| e.emulated_only.clone()))
                .map(|(k, at)| (k, at, "a bare wire"))
                .collect(),
            Switch::External(_) => Vec::new(),
        };
        for (key, at, kind) in refused {
            self.error(
                at,
                format!("`{key}` needs the emulated switch, but the switch is {kind}"),
                "set `kind = \"emulated\"` under [switch], or remove the key",
            );
        }
        let ageing_time = match switch {
            Switch::Emulated(e) => e.ageing_time,
            Switch::Bridge(b) => {
                b.vlan_span = extras
                    .iter()
                    .find_map(|e| e.vlan_key.clone())
                    .map(|(_, at)| at);
                b.vlan_filtering = b.vlan_span.is_some();
                b.ageing_time
            }
            Switch::None { .. } | Switch::External(_) => return,
        };
        if ageing_time == 0 {
            let found: Vec<Span> = extras
                .iter()
                .filter_map(|e| e.max_macs_span.clone())
                .collect();
            for at in found {
                self.error(
                    at,
                    "port security learns the port's secure addresses, but `ageing_time = 0` turns learning off",
                    "give the switch an ageing_time, or remove `max_macs`",
                );
            }
        }
        let ports = parents
            .iter_mut()
            .filter(|p| p.kind == ParentKind::Veth)
            .map(|p| &mut p.port)
            .chain(peers.iter_mut().map(|p| &mut p.port));
        let ports: Vec<&mut Port> = ports.collect();
        if ports.iter().any(|p| p.policy.vlan != PortVlan::Transparent) {
            for port in ports {
                if port.policy.vlan == PortVlan::Transparent {
                    port.policy.vlan = PortVlan::Access { vid: DEFAULT_VLAN };
                }
            }
        }
    }
}
