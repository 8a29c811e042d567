//! Docker Engine versions: which of the macvlan driver's and libnetwork's rules each version
//! follows, and the exact words it refuses with. A `[docker] version` in a scenario picks one;
//! validation asks it what that Docker would do (allocate a gateway? derive MACs from addresses?
//! allow two networks on a parent?) and how it would say no. Pure: a version in, rules and
//! strings out; it allocates nothing (that is `ipam`'s) and knows nothing of scenario files.
//!
//! Every rule cites the moby source it was read from, as `TAG:PATH:LINE` (libnetwork is vendored
//! under `vendor/github.com/docker/libnetwork/` in v20.10.24, at `libnetwork/` from v23.0 and at
//! `daemon/libnetwork/` from docker-v29.0; `L` below stands for that directory). The rules of
//! 20.10 were also measured against Debian's docker.io 20.10.24 (`tests/docker_engine.rs`).
//! Where a rule changed between the versions studied in full (20.10.24, 27.5.1, 28.5.2,
//! docker-v29.7.2), the release that changed it was found by reading the tags in between.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// A Docker Engine release line: major and minor (`20.10`, `26.1`, `29.0`). Patch releases
/// within a minor do not change the rules mvlab models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DockerVersion {
    major: u16,
    minor: u16,
}

/// The version when a `[docker]` section names none: the current major.
pub const DEFAULT_VERSION: DockerVersion = DockerVersion {
    major: 29,
    minor: 0,
};

/// The oldest and newest majors mvlab models (Docker went from 20.10 to 23.0: 21 and 22 were
/// never released).
const OLDEST: DockerVersion = DockerVersion {
    major: 20,
    minor: 10,
};
const NEWEST_MAJOR: u16 = 29;

/// How a container's interfaces lose IPv6 when its network gives it none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ipv6Off {
    /// `net.ipv6.conf.all.disable_ipv6=1` in the whole namespace: `lo` loses `::1`, no interface
    /// has a link-local address (Docker up to 25.0; mvlab's own lab without `[docker]`).
    Namespace,
    /// Nothing is switched off: every interface keeps its link-local address (Docker 26.0).
    Nothing,
    /// Only the container's interface of an IPv4-only network (Docker 26.1 and later): `lo`
    /// keeps `::1`.
    Interface,
}

impl DockerVersion {
    /// Parses `MAJOR`, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`; `Err` says why in a sentence.
    pub fn parse(text: &str) -> Result<DockerVersion, String> {
        let mut parts = text.split('.');
        let number = |p: Option<&str>| -> Result<Option<u16>, String> {
            match p {
                None => Ok(None),
                Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("`{text}` is not a Docker version")),
                Some(_) => Err(format!("`{text}` is not a Docker version")),
            }
        };
        let major = number(parts.next())?.ok_or(format!("`{text}` is not a Docker version"))?;
        let minor = number(parts.next())?;
        let _patch = number(parts.next())?;
        if parts.next().is_some() {
            return Err(format!("`{text}` is not a Docker version"));
        }
        let v = DockerVersion {
            major,
            minor: minor.unwrap_or(if major == 20 { 10 } else { 0 }),
        };
        if v < OLDEST || v.major == 21 || v.major == 22 || v.major > NEWEST_MAJOR {
            return Err(format!(
                "mvlab knows the rules of Docker 20.10 and 23.0 to {NEWEST_MAJOR}.x, not `{text}`"
            ));
        }
        Ok(v)
    }

    fn at_least(self, major: u16, minor: u16) -> bool {
        self >= DockerVersion { major, minor }
    }

    /// IPv4 /31 and /32 subnets lose their network and broadcast address too, which leaves
    /// nothing (v20.10.24:L/ipam/allocator.go:355-365); from 23.0 only prefixes up to /30 do
    /// (v23.0.0:libnetwork/ipam/allocator.go; v27.5.1:L/ipams/defaultipam/allocator.go:213-239).
    pub fn reserves_ends_of_tiny_subnets(self) -> bool {
        !self.at_least(23, 0)
    }

    /// The daemon checks `IPAM.Config` before anything is allocated (`ValidateIPAM`, intro 25.0:
    /// v25.0.0:api/types/network/ipam.go:56; v27.5.1:api/types/network/ipam.go:35-134). Before,
    /// host bits in a subnet were dropped and an ip_range outside its subnet was folded into it
    /// (v20.10.24:L/ipam/utils.go:18-37).
    pub fn validates_ipam(self) -> bool {
        self.at_least(25, 0)
    }

    /// One macvlan network per parent (v20.10.24:L/drivers/macvlan/macvlan_network.go:80-90);
    /// from 27.0 any number unless one is passthru (v27.5.1:L/drivers/macvlan/macvlan_network.go:56-76).
    pub fn one_network_per_parent(self) -> bool {
        !self.at_least(27, 0)
    }

    /// A network without `parent` is internal (no default route) from 26.1
    /// (v26.1.0:libnetwork/drivers/macvlan/macvlan_network.go; v27.5.1:L/drivers/macvlan/macvlan_network.go:31-34).
    pub fn parentless_is_internal(self) -> bool {
        self.at_least(26, 1)
    }

    /// `enable_ipv6` without an IPv6 subnet takes a /64 of a ULA prefix derived from the engine
    /// (v27.5.1:daemon/daemon.go:1503-1543); before 27.0 it is refused.
    pub fn derives_ula(self) -> bool {
        self.at_least(27, 0)
    }

    /// Container MACs are random (v28.5.2:L/drivers/macvlan/macvlan_endpoint.go:34-38); before
    /// 28.0 they are `02:42` and the IPv4 address (v20.10.24:L/netutils/utils.go:97-114).
    pub fn random_macs(self) -> bool {
        self.at_least(28, 0)
    }

    /// `--ipv4=false` exists (v28.5.2:daemon/network.go:314-325).
    pub fn can_disable_ipv4(self) -> bool {
        self.at_least(28, 0)
    }

    /// Whether a network gets a gateway address from IPAM: always up to 27
    /// (v20.10.24:L/network.go:1660-1670); from 28.0 not for internal networks unless one is
    /// given (v28.5.2:L/drivers/macvlan/macvlan_network.go:64-71); from 29.0 only when given
    /// (docker-v29.7.2:L/drivers/macvlan/macvlan_network.go:65-70).
    pub fn allocates_gateway(self, internal: bool, given: bool) -> bool {
        if self.at_least(29, 0) {
            given
        } else if self.at_least(28, 0) {
            given || !internal
        } else {
            true
        }
    }

    /// How an IPv4-only container loses IPv6 (v20.10.24:L/osl/namespace_linux.go:224-233;
    /// v26.0.0 disables nothing; v27.5.1:L/osl/interface_linux.go:433-434 per interface, from 26.1).
    pub fn ipv6_off(self) -> Ipv6Off {
        if self.at_least(26, 1) {
            Ipv6Off::Interface
        } else if self.at_least(26, 0) {
            Ipv6Off::Nothing
        } else {
            Ipv6Off::Namespace
        }
    }

    // The words. Each is the daemon's error text as `docker` prints it after
    // "Error response from daemon: " (`docker run` adds a period at the end).

    /// v20.10.24:L/drivers/macvlan/macvlan_network.go:46 (all versions).
    pub fn bad_mode(self, mode: &str) -> String {
        format!(
            "requested macvlan mode '{mode}' is not valid, 'bridge' mode is the macvlan driver default"
        )
    }

    /// A second network on `parent`, refused by this version: `other_id` is the first network's
    /// ID. `None` when this version allows it (27.0 and later, unless passthru is involved:
    /// v27.5.1:L/drivers/macvlan/macvlan_network.go:63-71; before, v20.10.24:...:83).
    pub fn parent_in_use(
        self,
        other_id: &str,
        parent: &str,
        this_passthru: bool,
        other_passthru: bool,
    ) -> Option<String> {
        if self.one_network_per_parent() {
            Some(format!(
                "network dm-{} is already using parent interface {parent}",
                &other_id[..12]
            ))
        } else if this_passthru {
            Some(format!(
                "cannot use mode passthru, macvlan network {other_id} is already using parent interface {parent}"
            ))
        } else if other_passthru {
            Some(format!(
                "macvlan network {other_id} is already using parent interface {parent} in mode passthru"
            ))
        } else {
            None
        }
    }

    /// `-o parent=BASE.VID` with more or fewer than one dot (v20.10.24:L/drivers/macvlan/macvlan_setup.go:145).
    pub fn vlan_name_format(self, name: &str) -> String {
        format!(
            "required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received {name}"
        )
    }

    /// The VID of `BASE.VID` is not a number (…/macvlan_setup.go:151).
    pub fn vlan_unparsable(self, vid: &str) -> String {
        format!("unable to parse a valid vlan id from: {vid} (ex. eth0.10 for vlan 10)")
    }

    /// `BASE` of `BASE.VID` does not exist (…/macvlan_setup.go:155; the typo went in 23.0).
    pub fn parent_base_missing(self, base: &str) -> String {
        if self.at_least(23, 0) {
            format!("-o parent interface was not found on the host: {base}")
        } else {
            format!("-o parent interface does was not found on the host: {base}")
        }
    }

    /// The VID is outside 1..4094 (…/macvlan_setup.go:84).
    pub fn vlan_out_of_range(self, vid: i64) -> String {
        format!("vlan id must be between 1-4094, received: {vid}")
    }

    /// A parent that does not exist and has no dot (…/macvlan_setup.go:110).
    pub fn parent_missing(self, name: &str) -> String {
        format!("invalid subinterface vlan name {name}, example formatting is eth0.10")
    }

    /// `parent = "lo"` (…/macvlan_network.go:50).
    pub fn loopback_parent(self) -> String {
        "loopback interface is not a valid macvlan parent link".into()
    }

    /// A subnet overlapping another network's (v20.10.24:L/ipamapi/contract.go:55;
    /// v27.5.1:L/ipams/defaultipam/allocator.go:173 adds the prefix).
    pub fn pool_overlap(self) -> String {
        let text = "Pool overlaps with other one on this address space";
        if self.at_least(27, 0) {
            format!("invalid pool request: {text}")
        } else {
            text.into()
        }
    }

    /// IPAM's "no address left" (v20.10.24:L/ipamapi/contract.go:51; lower case from 25.0).
    pub fn pool_full(self) -> &'static str {
        if self.at_least(25, 0) {
            "no available addresses on this pool"
        } else {
            "No available addresses on this pool"
        }
    }

    /// IPAM's "taken" (…/ipamapi/contract.go:53, all versions).
    pub fn in_use(self) -> &'static str {
        "Address already in use"
    }

    /// IPAM's "outside the pool" (…/ipamapi/contract.go:54; lower case from 25.0).
    pub fn out_of_range(self) -> &'static str {
        if self.at_least(25, 0) {
            "requested address is out of range"
        } else {
            "Requested address is out of range"
        }
    }

    /// The gateway could not be allocated (v20.10.24:L/network.go:1668; v27.5.1:L/network.go:1604).
    pub fn gateway_failed(self, given: Option<IpAddr>, why: &str) -> String {
        let given = given.map_or(String::new(), |g| g.to_string());
        format!("failed to allocate gateway ({given}): {why}")
    }

    /// An aux address could not be reserved (v20.10.24:L/network.go:1686).
    pub fn aux_failed(self, name: &str, ip: IpAddr, why: &str) -> String {
        format!("failed to allocate secondary ip address ({name}:{ip}): {why}")
    }

    /// An aux address outside its subnet, before `ValidateIPAM` (v20.10.24:L/network.go:1682;
    /// the docker CLI says `no matching subnet for aux-address IP` before asking the daemon).
    pub fn aux_outside(self, name: &str, ip: IpAddr, subnet: &str) -> String {
        format!("auxiliary address: ({name}:{ip}) must belong to the master pool: {subnet}")
    }

    /// One problem `ValidateIPAM` finds, as the daemon says it when it is the only one
    /// (v27.5.1:api/types/network/ipam.go:44-130).
    pub fn invalid_config(self, problem: &str) -> String {
        format!("invalid network config:\n{problem}")
    }

    /// A container the pools have no address left for (v20.10.24:L/endpoint.go:1156; the same
    /// words in every version: docker-v29.7.2:L/endpoint.go:1257).
    pub fn no_addresses(self, ipv6: bool, network: &str, id: &str) -> String {
        let family = if ipv6 { 6 } else { 4 };
        format!(
            "no available IPv{family} addresses on this network's address pools: {network} ({id})"
        )
    }

    /// A fixed container address in none of the network's subnets (v20.10.24:L/endpoint.go:1154;
    /// checked by the daemon first from 25.0: v27.5.1:api/types/network/endpoint.go:116; new words
    /// in 29.1: docker-v29.7.2:daemon/container_operations.go:640).
    pub fn not_in_subnets(self, ip: IpAddr) -> String {
        if self.at_least(29, 1) {
            format!("invalid endpoint settings:\nno configured subnet contains IP address {ip}")
        } else if self.at_least(25, 0) {
            format!(
                "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address {ip}"
            )
        } else {
            format!("Invalid address {ip}: It does not belong to any of this network's subnets")
        }
    }

    /// A fixed address on a network whose subnet of that family the user did not configure
    /// (v20.10.24:runconfig/errors.go:29; checked up front from 25.0:
    /// v27.5.1:api/types/network/endpoint.go:119; allowed from 29.1 for a subnet the engine
    /// picked itself: docker-v29.7.2:daemon/container_operations.go:558-563).
    pub fn no_user_subnet(self) -> String {
        let text = "user specified IP address is supported only when connecting to networks with user configured subnets";
        if self.at_least(25, 0) {
            format!("invalid endpoint settings:\n{text}")
        } else {
            text.into()
        }
    }

    /// Whether a fixed address may sit in a subnet the engine picked from its default pools.
    pub fn static_ip_in_default_pool(self) -> bool {
        self.at_least(29, 1)
    }

    /// `enable_ipv6` with no IPv6 subnet before 27.0: the default pools hold none
    /// (v20.10.24:L/ipam/allocator.go:447).
    pub fn no_ipv6_pool(self) -> String {
        "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network".into()
    }

    /// A second container on a passthru network: the kernel's EINVAL when the macvlan is made
    /// (v20.10.24:L/drivers/macvlan/macvlan_setup.go:43; measured).
    pub fn passthru_taken(self) -> String {
        "failed to create the macvlan port: invalid argument".into()
    }
}

impl fmt::Display for DockerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for DockerVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DockerVersion {
        DockerVersion::parse(s).unwrap()
    }

    #[test]
    fn versions_parse_and_map_to_their_release_line() {
        assert_eq!(v("20.10").to_string(), "20.10");
        assert_eq!(v("20.10.24").to_string(), "20.10");
        assert_eq!(v("20").to_string(), "20.10");
        assert_eq!(v("26.1").to_string(), "26.1");
        assert_eq!(v("29").to_string(), "29.0");
        assert_eq!(v("29.7.2").to_string(), "29.7");
        for bad in [
            "19.03", "21", "22.06", "30", "v29", "29.", "2a", "29.1.2.3", "",
        ] {
            assert!(DockerVersion::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_rules_change_where_the_source_changed() {
        assert!(v("20.10").reserves_ends_of_tiny_subnets());
        assert!(!v("23").reserves_ends_of_tiny_subnets());
        assert!(!v("24.0").validates_ipam() && v("25").validates_ipam());
        assert!(v("26.1").one_network_per_parent() && !v("27").one_network_per_parent());
        assert!(!v("26.0").parentless_is_internal() && v("26.1").parentless_is_internal());
        assert_eq!(v("25.0").ipv6_off(), Ipv6Off::Namespace);
        assert_eq!(v("26.0").ipv6_off(), Ipv6Off::Nothing);
        assert_eq!(v("26.1").ipv6_off(), Ipv6Off::Interface);
        assert!(!v("27").random_macs() && v("28").random_macs());
        // Gateways: always up to 27; not for internal networks in 28; only when given from 29.
        assert!(v("27").allocates_gateway(true, false));
        assert!(!v("28").allocates_gateway(true, false) && v("28").allocates_gateway(false, false));
        assert!(!v("29").allocates_gateway(false, false) && v("29").allocates_gateway(true, true));
    }

    #[test]
    fn the_words_follow_the_version() {
        assert_eq!(
            v("20.10").pool_overlap(),
            "Pool overlaps with other one on this address space"
        );
        assert_eq!(
            v("27").pool_overlap(),
            "invalid pool request: Pool overlaps with other one on this address space"
        );
        assert_eq!(v("24").pool_full(), "No available addresses on this pool");
        assert_eq!(v("25").pool_full(), "no available addresses on this pool");
        let id = "65c539aed63c72240a94ac2c541ee7201bd8e1647dee9e57fb6a280a98364a49";
        assert_eq!(
            v("20.10").parent_in_use(id, "up0", false, false).unwrap(),
            "network dm-65c539aed63c is already using parent interface up0"
        );
        assert_eq!(v("27").parent_in_use(id, "up0", false, false), None);
        assert!(
            v("28")
                .parent_in_use(id, "up0", true, false)
                .unwrap()
                .starts_with("cannot use mode passthru, macvlan network 65c5")
        );
        let ip: IpAddr = "198.18.91.5".parse().unwrap();
        assert_eq!(
            v("20.10").not_in_subnets(ip),
            "Invalid address 198.18.91.5: It does not belong to any of this network's subnets"
        );
        assert!(
            v("29.0")
                .not_in_subnets(ip)
                .ends_with("or ip-range contain the IP address 198.18.91.5")
        );
        assert!(
            v("29.1")
                .not_in_subnets(ip)
                .ends_with("no configured subnet contains IP address 198.18.91.5")
        );
        assert_eq!(
            v("20.10").parent_base_missing("nope0"),
            "-o parent interface does was not found on the host: nope0"
        );
        assert_eq!(
            v("23").parent_base_missing("nope0"),
            "-o parent interface was not found on the host: nope0"
        );
    }
}
