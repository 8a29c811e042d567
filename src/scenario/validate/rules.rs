//! The start of stage 1: whose rules the scenario follows (`[docker] version`, `[cni] ipam`,
//! or mvlab's own), and the user's address blocks with the lab blocks that stand for them
//! (`[[address_map]]`). Every later check asks `Builder::rules`.

use ipnetwork::IpNetwork;
use toml::Spanned;

use super::*;
use crate::scenario::address_map::{AddressMapping, in_lab_range};
use crate::scenario::docker::{DEFAULT_VERSION, DockerVersion};

/// The network keys of the kernel's macvlan vocabulary that neither Docker's driver nor CNI's
/// plugin has, each with where it is written.
pub(super) fn kernel_only_keys(r: &RawNetwork) -> [(&'static str, Option<Span>); 5] {
    [
        ("nopromisc", r.nopromisc.as_ref().map(|s| s.span())),
        ("nodst", r.nodst.as_ref().map(|s| s.span())),
        ("bcqueuelen", r.bcqueuelen.as_ref().map(|s| s.span())),
        ("bc_cutoff", r.bc_cutoff.as_ref().map(|s| s.span())),
        ("source_macs", r.source_macs.as_ref().map(|s| s.span())),
    ]
}

impl Builder {
    /// `[docker]` or `[cni]` (not both), or mvlab's own rules.
    pub(super) fn read_rules(
        &mut self,
        docker: Option<Spanned<RawDocker>>,
        cni: Option<Spanned<RawCni>>,
    ) -> Rules {
        if let (Some(d), Some(_)) = (&docker, &cni) {
            self.error(
                d.span(),
                "a scenario follows Docker's rules or CNI's, not both",
                "keep [docker] or [cni]",
            );
        }
        if let Some(d) = docker {
            let version = match &d.get_ref().version {
                Some(v) => DockerVersion::parse(v.get_ref()).unwrap_or_else(|why| {
                    self.error(
                        v.span(),
                        why,
                        "write \"20.10\", \"23\" ... \"29\", or a minor release such as \"26.1\" (the rules change at 23.0, 25.0, 26.0, 26.1, 27.0, 28.0, 29.0 and 29.1)",
                    );
                    DEFAULT_VERSION
                }),
                None => DEFAULT_VERSION,
            };
            return Rules::Docker { version };
        }
        if let Some(c) = cni {
            return match c.into_inner().ipam.map(|i| i.into_inner()) {
                None | Some(RawCniIpam::HostLocal) => Rules::Cni,
            };
        }
        Rules::Mvlab
    }

    /// `[[address_map]]`: each pair the same family and size, the lab block inside the
    /// benchmarking ranges, no block mapped twice.
    pub(super) fn address_mappings(&mut self, raw: Option<Vec<Spanned<RawMapping>>>) -> AddressMap {
        let mut out: Vec<AddressMapping> = Vec::new();
        for m in raw.into_iter().flatten() {
            let m = m.into_inner();
            let net = |b: &mut Builder, raw: &SpannedStr| match raw.get_ref().parse::<IpNetwork>() {
                Ok(n) if n.ip() == n.network() => Some(n),
                Ok(n) => {
                    b.error(
                        raw.span(),
                        format!("`{}` has host bits set", raw.get_ref()),
                        format!("did you mean {}/{}?", n.network(), n.prefix()),
                    );
                    None
                }
                Err(_) => {
                    b.error(
                        raw.span(),
                        format!("`{}` is not an address block", raw.get_ref()),
                        "write it as address/prefix, e.g. 192.168.1.0/24",
                    );
                    None
                }
            };
            let (Some(yours), Some(lab)) = (net(self, &m.yours), net(self, &m.lab)) else {
                continue;
            };
            if yours.is_ipv4() != lab.is_ipv4() || yours.prefix() != lab.prefix() {
                self.error(
                    m.lab.span(),
                    format!("{lab} does not have the family and size of {yours}"),
                    "a lab block stands for a block of yours of the same size, host for host",
                );
                continue;
            }
            if !in_lab_range(lab) {
                self.error(
                    m.lab.span(),
                    format!("{lab} is outside the benchmarking ranges"),
                    "map into 198.18.0.0/15 or 2001:2::/48",
                );
                continue;
            }
            let clash =
                |a: IpNetwork, b: IpNetwork| a.contains(b.network()) || b.contains(a.network());
            if let Some(other) = out
                .iter()
                .find(|o| clash(o.yours, yours) || clash(o.lab, lab))
            {
                self.error(
                    m.yours.span(),
                    format!("{yours} -> {lab} overlaps {} -> {}", other.yours, other.lab),
                    "map every block once, into a lab block of its own",
                );
                continue;
            }
            out.push(AddressMapping { yours, lab });
        }
        AddressMap(out)
    }
}
