//! Stage 3, MACs: every fixed MAC checked unique, every other interface given a deterministic
//! locally administered one (stable for a seed); then, while the scenario is assembled, what
//! follows from the MACs: a passthru endpoint and its parent share one, and source-mode lists and
//! static port entries that name a node are resolved to its MAC.

use std::collections::HashMap;

use toml::Spanned;

use super::*;
use crate::delivery::UNKNOWN_UNICAST_MAC;
use crate::scenario::seeded::generated_mac;

impl Builder {
    pub(super) fn macs(&mut self, d: &Drafts) -> Macs {
        let mut owners: HashMap<MacAddr, String> = HashMap::new();
        let fixed = d
            .parent_macs
            .iter()
            .zip(&d.parents)
            .map(|(m, p)| (m.as_ref(), format!("parent {}", p.name)))
            .chain(
                d.endpoints
                    .iter()
                    .map(|e| (e.mac.as_ref(), e.name.clone().unwrap_or_default())),
            )
            .chain(d.peers.iter().map(|p| (p.mac.as_ref(), p.name.clone())))
            .chain(d.shim.iter().map(|s| (s.mac.as_ref(), s.interface.clone())))
            .collect::<Vec<_>>();
        for (mac, owner) in &fixed {
            if let Some(mac) = mac {
                if let Some(first) = owners.get(mac.get_ref()) {
                    self.error(
                        mac.span(),
                        format!("{} is already the MAC of `{first}`", mac.get_ref()),
                        "every interface needs its own MAC; leave `mac` out to get a generated one",
                    );
                } else {
                    owners.insert(*mac.get_ref(), owner.clone());
                }
            }
        }
        let mut generate = |fixed: Option<&Spanned<MacAddr>>, key: String| -> MacAddr {
            if let Some(m) = fixed {
                return *m.get_ref();
            }
            let mut attempt = 0;
            loop {
                let mac = generated_mac(d.seed, &key, attempt);
                if mac != UNKNOWN_UNICAST_MAC && !owners.contains_key(&mac) {
                    owners.insert(mac, key);
                    return mac;
                }
                attempt += 1;
            }
        };
        Macs {
            parents: d
                .parents
                .iter()
                .zip(&d.parent_macs)
                .map(|(p, m)| generate(m.as_ref(), format!("parent/{}", p.name)))
                .collect(),
            endpoints: d
                .endpoints
                .iter()
                .map(|e| {
                    generate(
                        e.mac.as_ref(),
                        format!("node/{}", e.name.clone().unwrap_or_default()),
                    )
                })
                .collect(),
            peers: d
                .peers
                .iter()
                .map(|p| generate(p.mac.as_ref(), format!("node/{}", p.name)))
                .collect(),
            shim: d
                .shim
                .as_ref()
                .map(|s| generate(s.mac.as_ref(), format!("shim/{}", s.interface))),
        }
    }

    /// A passthru macvlan takes its parent's MAC (`eth_hw_addr_inherit` in
    /// `macvlan_common_newlink`), so parent and endpoint share one: the endpoint's when only it
    /// was given (or neither was), the parent's when only the parent's was given.
    pub(super) fn share_passthru_macs(
        &mut self,
        macs: &mut Macs,
        parents: &[Parent],
        networks: &[NetworkDraft],
        endpoints: &[EndpointDraft],
        fixed_parents: &[Option<Spanned<MacAddr>>],
    ) {
        for (n, net) in networks
            .iter()
            .enumerate()
            .filter(|(_, n)| n.network.mode == MacvlanMode::Passthru)
        {
            let Some(e) = endpoints.iter().position(|e| e.network == n) else {
                continue;
            };
            let parent = net.network.parent;
            match (&fixed_parents[parent], &endpoints[e].mac) {
                (Some(pm), Some(em)) if pm.get_ref() != em.get_ref() => self.error(
                    em.span(),
                    format!("a passthru endpoint carries its parent's MAC, but parent `{}` has {} and this endpoint {}", parents[parent].name, pm.get_ref(), em.get_ref()),
                    "give only one of them a MAC",
                ),
                (Some(pm), None) => macs.endpoints[e] = *pm.get_ref(),
                _ => macs.parents[parent] = macs.endpoints[e],
            }
        }
    }

    /// A source-mode list: each entry a lab MAC or the name of a node (its MAC).
    pub(super) fn source_list(
        &mut self,
        raw: &[SpannedStr],
        by_name: &HashMap<String, MacAddr>,
    ) -> Vec<MacAddr> {
        let mut out = Vec::new();
        for entry in raw {
            if let Some(mac) = by_name.get(entry.get_ref()) {
                out.push(*mac);
            } else if entry.get_ref().contains([':', '-']) {
                if let Some(m) = self.mac(Some(entry)) {
                    out.push(*m.get_ref());
                }
            } else {
                self.error(
                    entry.span(),
                    format!("`{}` is neither a MAC nor a node name", entry.get_ref()),
                    "write a MAC like 02:00:00:00:00:01, or the name of an endpoint or peer",
                );
            }
        }
        out
    }

    /// Each port's `static_macs` (MACs, node names, or `host` for a parent's own MAC), each MAC
    /// static on one port only.
    pub(super) fn static_macs(
        &mut self,
        parents: &mut [Parent],
        parent_ports: &[PortExtras],
        peers: &mut [PeerDraft],
        by_name: &HashMap<String, MacAddr>,
    ) {
        let mut owners: HashMap<MacAddr, String> = HashMap::new();
        for (parent, extras) in parents.iter_mut().zip(parent_ports) {
            let mut names = by_name.clone();
            names.insert(HOST_NODE.to_string(), parent.mac);
            self.port_statics(&mut owners, &mut parent.port, &extras.static_macs, &names);
        }
        for peer in peers {
            let raw = std::mem::take(&mut peer.port_extras.static_macs);
            self.port_statics(&mut owners, &mut peer.port, &raw, by_name);
        }
    }

    fn port_statics(
        &mut self,
        owners: &mut HashMap<MacAddr, String>,
        port: &mut Port,
        raw: &[SpannedStr],
        names: &HashMap<String, MacAddr>,
    ) {
        let macs = self.source_list(raw, names);
        for (mac, at) in macs.iter().zip(raw) {
            if let Some(first) = owners.insert(*mac, port.name.clone()) {
                self.error(
                    at.span(),
                    format!("{mac} is already static on port {first}"),
                    "a static entry binds a MAC to one port: list it once",
                );
            }
        }
        port.policy.static_macs = macs;
    }
}
