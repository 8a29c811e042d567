//! Safety before the first frame on an existing interface: an interface of this machine that a
//! scenario names (an existing parent, a peer's tester interface) is refused when sending test
//! frames through it could hurt the machine or its network: it is down or has no carrier, it
//! carries an address reachable beyond the link, a default route leaves by it (it is the
//! machine's way out), it is a member of a bridge or bond, or a device stacked on it is one of
//! those. `--force-interface IF` names an interface the user vouches for. This module decides
//! from what rtnetlink says (`judge`, pure); it changes nothing.

use std::net::IpAddr;

use netlink_packet_route::AddressFamily;

use super::rtnl::{AddressEntry, LinkState, Rtnl, RtnlError};

/// A default route of the main table and the link it leaves by.
#[derive(Debug, Clone, Copy)]
pub(super) struct DefaultRoute {
    pub ipv6: bool,
    pub oif: u32,
}

/// Reachable beyond the link: neither loopback nor link-local.
fn global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !a.is_loopback() && !a.is_link_local(),
        IpAddr::V6(a) => !a.is_loopback() && !a.is_unicast_link_local(),
    }
}

/// What `judge` reads of a namespace: its links, addresses and default routes (of either
/// family: the family is the dump's, since a route without a gateway names none).
pub(super) async fn read(
    socket: &Rtnl,
) -> Result<(Vec<LinkState>, Vec<AddressEntry>, Vec<DefaultRoute>), RtnlError> {
    let mut routes = Vec::new();
    for (family, ipv6) in [(AddressFamily::Inet, false), (AddressFamily::Inet6, true)] {
        routes.extend(
            socket
                .routes(family)
                .await?
                .into_iter()
                .filter(|r| r.prefix == 0)
                .filter_map(|r| r.oif.map(|oif| DefaultRoute { ipv6, oif })),
        );
    }
    Ok((socket.links().await?, socket.addresses().await?, routes))
}

/// Why `name` must not be sent on, from the namespace's links, addresses and default routes;
/// empty when it may be. `None` when there is no such interface.
pub(super) fn judge(
    name: &str,
    links: &[LinkState],
    addresses: &[AddressEntry],
    routes: &[DefaultRoute],
) -> Option<Vec<String>> {
    let link = links.iter().find(|l| l.name == name)?;
    let name_of = |index: u32| {
        links
            .iter()
            .find(|l| l.index == index)
            .map_or_else(|| format!("#{index}"), |l| l.name.clone())
    };
    let mut why = Vec::new();
    if !link.up {
        why.push("it is down".to_string());
    } else if !link.carrier {
        why.push("it has no carrier (nothing is plugged in, or the far end is down)".to_string());
    }
    if let Some(master) = link.master {
        why.push(format!(
            "it is a member of `{}` (a bridge or bond: frames sent on it are that device's traffic)",
            name_of(master)
        ));
    }
    // The interface itself and every device stacked on it (VLANs, macvlans of the machine).
    let mut carriers = vec![link.index];
    carriers.extend(
        links
            .iter()
            .filter(|l| l.lower == Some(link.index))
            .map(|l| l.index),
    );
    for index in carriers {
        let on = if index == link.index {
            "it".to_string()
        } else {
            format!("`{}` on it", name_of(index))
        };
        for a in addresses
            .iter()
            .filter(|a| a.index == index && global(a.ip))
        {
            why.push(format!(
                "{on} carries the address {}/{}: the machine is reachable through it",
                a.ip, a.prefix
            ));
        }
        if let Some(r) = routes.iter().find(|r| r.oif == index) {
            why.push(format!(
                "the {} default route leaves by {on}: it is this machine's way out",
                if r.ipv6 { "IPv6" } else { "IPv4" }
            ));
        }
    }
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str) -> LinkState {
        LinkState {
            index,
            name: name.into(),
            up: true,
            carrier: true,
            ..LinkState::default()
        }
    }

    fn address(index: u32, ip: &str) -> AddressEntry {
        AddressEntry {
            index,
            ip: ip.parse().unwrap(),
            prefix: 24,
        }
    }

    fn default_route(oif: u32, ipv6: bool) -> DefaultRoute {
        DefaultRoute { ipv6, oif }
    }

    #[test]
    fn a_quiet_wired_interface_passes() {
        let links = [link(2, "eth0"), link(3, "t0")];
        let addresses = [address(2, "192.0.2.10"), address(3, "fe80::1")];
        let routes = [default_route(2, false)];
        assert_eq!(judge("t0", &links, &addresses, &routes), Some(vec![]));
        assert_eq!(judge("t9", &links, &addresses, &routes), None);
    }

    #[test]
    fn the_way_out_is_refused_for_each_reason() {
        let mut down = link(4, "t1");
        down.up = false;
        let mut unplugged = link(5, "t2");
        unplugged.carrier = false;
        let mut member = link(6, "t3");
        member.master = Some(7);
        let mut vlan = link(8, "eth0.10");
        vlan.lower = Some(2);
        let links = [
            link(2, "eth0"),
            down,
            unplugged,
            member,
            link(7, "br0"),
            vlan,
        ];
        let addresses = [address(2, "192.0.2.10"), address(8, "198.51.100.1")];
        let routes = [default_route(8, true)];
        let eth0 = judge("eth0", &links, &addresses, &routes).unwrap();
        assert_eq!(eth0.len(), 3, "{eth0:?}");
        assert!(eth0[0].contains("192.0.2.10/24"));
        assert!(eth0[1].contains("`eth0.10` on it carries the address 198.51.100.1"));
        assert!(eth0[2].contains("IPv6 default route leaves by `eth0.10` on it"));
        assert_eq!(
            judge("t1", &links, &addresses, &routes).unwrap(),
            ["it is down"]
        );
        assert!(judge("t2", &links, &addresses, &routes).unwrap()[0].contains("no carrier"));
        assert!(judge("t3", &links, &addresses, &routes).unwrap()[0].contains("member of `br0`"));
    }
}
