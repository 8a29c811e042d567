//! CNI's macvlan plugin with host-local IPAM (containernetworking/plugins v1.1.1, Debian's
//! containernetworking-plugins): the words `CNI_COMMAND=ADD` fails with. A `[cni]` section picks
//! these rules; the allocator itself is `ipam::host_local`. Pure strings. `P:` is the plugins
//! repository at v1.1.1; every text was also seen from /usr/lib/cni/macvlan (tests/cni_plugin.rs).

use std::net::IpAddr;

use super::ipam::host_local::{RangeProblem, Refused};

/// A mode the plugin does not know (P:plugins/main/macvlan/macvlan.go:131-144).
pub fn bad_mode(mode: &str) -> String {
    format!("unknown macvlan mode: {mode:?}")
}

/// A range the plugin refuses to build, `set` being the range set's index
/// (P:plugins/ipam/host-local/backend/allocator/range.go:34-85, config.go).
pub fn bad_range(set: usize, problem: &RangeProblem, subnet: &str, prefix: u8) -> String {
    let why = match problem {
        RangeProblem::TooSmall => format!("Network {subnet} too small to allocate from"),
        RangeProblem::HostBits { network } => format!(
            "Network has host bits set. For a subnet mask of length {prefix} the network address is {network}"
        ),
        RangeProblem::StartOutside(a) => format!("RangeStart {a} not in network {subnet}"),
        RangeProblem::EndOutside(a) => format!("RangeEnd {a} not in network {subnet}"),
        RangeProblem::Empty => format!("the range of {subnet} ends before it starts"),
    };
    format!("invalid range set {set}: {why}")
}

/// An ADD that got no address from range set `set` (P:plugins/ipam/host-local/main.go:112 around
/// allocator.go:52-110's reasons).
pub fn refused(set: usize, why: Refused, requested: Option<IpAddr>, range_set: &str) -> String {
    let ip = requested.map_or(String::new(), |a| a.to_string());
    let why = match why {
        Refused::Exhausted => format!("no IP addresses available in range set: {range_set}"),
        Refused::Gateway => format!("requested ip {ip} is subnet's gateway"),
        Refused::Taken => {
            format!("requested IP address {ip} is not available in range set {range_set}")
        }
        Refused::NotInSet => return format!("failed to allocate all requested IPs: {ip}"),
    };
    format!("failed to allocate for range {set}: {why}")
}
