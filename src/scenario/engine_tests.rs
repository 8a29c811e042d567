//! Scenarios under `[docker]` and `[cni]`: what each version hands out and how it refuses,
//! held to the rules read from moby's source (cited as in `scenario::docker`: `L` is the tag's
//! libnetwork directory) and to what Docker 20.10 and the CNI plugin were measured to do
//! (research/measure/NN, and tests/docker_engine.rs, tests/cni_plugin.rs on the real ones).

use super::tests::parse_text;
use super::*;

/// A scenario of one veth parent `up0` and no peers, under `[docker] version`, with `body`.
fn docker(version: &str, body: &str) -> Result<Scenario, crate::diag::Diagnostics> {
    parse_text(&format!(
        "peers = []\n[docker]\nversion = \"{version}\"\n[[parents]]\nname = \"up0\"\n{body}"
    ))
}

/// Each problem's message and hint.
fn problems(version: &str, body: &str) -> Vec<(String, String)> {
    let diags = docker(version, body).expect_err("Docker refuses it");
    diags
        .0
        .iter()
        .map(|d| (d.message.clone(), d.hint.clone().unwrap_or_default()))
        .collect()
}

fn messages(version: &str, body: &str) -> Vec<String> {
    problems(version, body).into_iter().map(|p| p.0).collect()
}

/// Every endpoint as "name ipv4 gateway4 mac".
fn handed_out(s: &Scenario) -> Vec<String> {
    s.endpoints
        .iter()
        .map(|e| {
            let show = |a: Option<std::net::Ipv4Addr>| a.map_or("-".to_string(), |a| a.to_string());
            format!("{} {} {} {}", e.name, show(e.ipv4), show(e.gateway4), e.mac)
        })
        .collect()
}

const RANGE_NO_GATEWAY: &str = r#"
[[networks]]
name = "nB"
parent = "up0"
subnet = "198.18.2.0/24"
ip_range = "198.18.2.128/26"
[[networks.endpoints]]
count = 2
"#;

/// Up to 28 the gateway is the range's first free address (v20.10.24:L/ipam/allocator.go:565-602;
/// measured 01 B); MACs are 02:42 and the IPv4 address up to 27.
#[test]
fn the_gateway_comes_from_the_range_until_29_and_macs_from_the_address_until_28() {
    let s = docker("20.10", RANGE_NO_GATEWAY).unwrap();
    assert_eq!(
        handed_out(&s),
        [
            "e1 198.18.2.129 198.18.2.128 02:42:c6:12:02:81",
            "e2 198.18.2.130 198.18.2.128 02:42:c6:12:02:82"
        ]
    );
    assert_eq!(
        s.networks[0].ipv4.gateway,
        Some("198.18.2.128".parse().unwrap())
    );
    // 28: the same addresses, MACs random (v28.5.2:L/drivers/macvlan/macvlan_endpoint.go:34-38;
    // mvlab draws them from the seed).
    let s = docker("28", RANGE_NO_GATEWAY).unwrap();
    assert_eq!(s.endpoints[0].ipv4, Some("198.18.2.129".parse().unwrap()));
    assert!(!s.endpoints[0].mac.to_string().starts_with("02:42:"));
    // 29: no gateway unless one is given (docker-v29.7.2:L/drivers/macvlan/macvlan_network.go:65-70):
    // the first container takes the range's first address and gets no default route.
    let s = docker("29", RANGE_NO_GATEWAY).unwrap();
    assert_eq!(s.networks[0].ipv4.gateway, None);
    assert_eq!(
        handed_out(&s)[0].split(' ').take(3).collect::<Vec<_>>(),
        ["e1", "198.18.2.128", "-"]
    );
    let given = RANGE_NO_GATEWAY.replace("ip_range", "gateway = \"198.18.2.1\"\nip_range");
    let s = docker("29", &given).unwrap();
    assert_eq!(s.endpoints[0].gateway4, Some("198.18.2.1".parse().unwrap()));
    assert_eq!(s.endpoints[0].ipv4, Some("198.18.2.128".parse().unwrap()));
}

/// 28 allocates no gateway for an internal network (v28.5.2:L/drivers/macvlan/macvlan_network.go:64-71);
/// earlier versions reserve one but set no route (measured 06 M).
#[test]
fn internal_networks_reserve_a_gateway_until_28() {
    let body = "[[networks]]\nparent = \"up0\"\nsubnet = \"198.18.42.0/24\"\ninternal = true\n[[networks.endpoints]]\ncount = 1\n";
    let s = docker("27", body).unwrap();
    assert_eq!(handed_out(&s)[0], "e1 198.18.42.2 - 02:42:c6:12:2a:02");
    let s = docker("28", body).unwrap();
    assert_eq!(s.endpoints[0].ipv4, Some("198.18.42.1".parse().unwrap()));
    assert_eq!(s.endpoints[0].gateway4, None);
}

/// Without a parent Docker makes a dummy `dm-` + 12 hex of the network ID
/// (v20.10.24:L/drivers/macvlan/macvlan_network.go:53-55); it is internal from 26.1
/// (v27.5.1:L/drivers/macvlan/macvlan_network.go:31-34), not before (measured 14 DUMMY-1).
#[test]
fn a_network_without_parent_gets_a_dummy_and_is_internal_from_26_1() {
    let body = "[[networks]]\nname = \"nd\"\nsubnet = \"198.18.65.0/24\"\n[[networks.endpoints]]\ncount = 1\n";
    for (version, route) in [
        ("20.10", true),
        ("26.0", true),
        ("26.1", false),
        ("27", false),
    ] {
        let s = docker(version, body).unwrap();
        let net = &s.networks[0];
        let id = &net.docker.as_ref().unwrap().id;
        assert_eq!(net.link, format!("dm-{}", &id[..12]));
        assert_eq!(s.parent_of(net).kind, ParentKind::Dummy);
        assert_eq!(s.endpoints[0].gateway4.is_some(), route, "{version}");
    }
}

/// One network per parent up to 26 (v20.10.24:L/drivers/macvlan/macvlan_network.go:80-90,
/// measured 05 H); any number from 27 unless passthru (v27.5.1:...:56-76).
#[test]
fn networks_share_a_parent_from_27_unless_passthru() {
    let two = |mode: &str| {
        format!(
            "[[networks]]\nname = \"a\"\nparent = \"up0\"\nsubnet = \"198.18.1.0/24\"\n[[networks]]\nname = \"b\"\nparent = \"up0\"\nsubnet = \"198.18.2.0/24\"\nmode = \"{mode}\"\n"
        )
    };
    let s = docker("26.1", &two("bridge")).expect_err("refused");
    let first = docker("27", &two("bridge")).unwrap().networks[0]
        .docker
        .clone()
        .unwrap()
        .id;
    assert_eq!(
        s.0[0].message,
        format!(
            "network dm-{} is already using parent interface up0",
            &first[..12]
        )
    );
    assert!(docker("27", &two("bridge")).is_ok());
    assert_eq!(
        messages("27", &two("passthru")),
        [format!(
            "cannot use mode passthru, macvlan network {first} is already using parent interface up0"
        )]
    );
    // A VLAN sub-interface is another parent: BASE.VID becomes the parent with the VLAN.
    let vlan = two("bridge").replacen(
        "parent = \"up0\"\nsubnet = \"198.18.2.0/24\"",
        "parent = \"up0.10\"\nsubnet = \"198.18.2.0/24\"",
        1,
    );
    let s = docker("20.10", &vlan).unwrap();
    assert_eq!(
        (s.networks[1].link.as_str(), s.networks[1].vlan),
        ("up0.10", Some(10))
    );
}

/// /30: gateway and one container (measured 02 E); /31 and /32 keep no address before 23.0
/// (measured 03 F) and none of theirs are reserved from it (v27.5.1:L/ipams/defaultipam/allocator.go:213-239).
#[test]
fn small_pools_run_dry_container_by_container() {
    let body = |subnet: &str, n: u32| {
        format!(
            "[[networks]]\nname = \"nE\"\nparent = \"up0\"\nsubnet = \"{subnet}\"\n[[networks.endpoints]]\ncount = {n}\n"
        )
    };
    let p = problems("20.10", &body("198.18.8.0/30", 3));
    assert_eq!(
        p.len(),
        1,
        "one problem for the run of refused containers: {p:?}"
    );
    assert!(
        p[0].0
            .starts_with("no available IPv4 addresses on this network's address pools: nE (")
    );
    assert!(
        p[0].1.contains("starts `e1`") && p[0].1.contains("`e2` and `e3`"),
        "{}",
        p[0].1
    );
    assert_eq!(
        messages("20.10", &body("198.18.10.0/31", 1)),
        ["failed to allocate gateway (): No available addresses on this pool"]
    );
    let s = docker("27", &body("198.18.10.0/31", 1)).unwrap();
    assert_eq!(
        handed_out(&s)[0],
        "e1 198.18.10.1 198.18.10.0 02:42:c6:12:0a:01"
    );
    let s = docker("29", &body("198.18.10.0/31", 2)).unwrap();
    assert_eq!(s.endpoints[1].ipv4, Some("198.18.10.1".parse().unwrap()));
    assert!(
        messages("27", &body("198.18.10.4/32", 1))[0].starts_with("no available IPv4 addresses")
    );
}

/// Aux addresses come after the gateway and may not repeat it or each other
/// (v20.10.24:L/network.go:1672-1689, measured 02 D and 03); outside the subnet 20.10's daemon
/// says "must belong to the master pool" (L/network.go:1682), from 25 `ValidateIPAM` refuses it.
#[test]
fn aux_addresses_may_not_be_the_gateway_or_outside_the_subnet() {
    let aux = |a: &str| {
        format!(
            "[[networks]]\nname = \"n\"\nparent = \"up0\"\nsubnet = \"198.18.12.0/24\"\naux_addresses = {{ a = \"{a}\" }}\n"
        )
    };
    assert_eq!(
        messages("20.10", &aux("198.18.12.1")),
        ["failed to allocate secondary ip address (a:198.18.12.1): Address already in use"]
    );
    assert_eq!(
        messages("20.10", &aux("198.18.13.9")),
        ["auxiliary address: (a:198.18.13.9) must belong to the master pool: 198.18.12.0/24"]
    );
    assert_eq!(
        messages("27", &aux("198.18.13.9")),
        [
            "invalid network config:\ninvalid auxiliary address a: parent subnet 198.18.12.0/24 doesn't contain this address"
        ]
    );
    let s = docker(
        "20.10",
        &format!("{}[[networks.endpoints]]\ncount = 1\n", aux("198.18.12.2")),
    )
    .unwrap();
    assert_eq!(s.endpoints[0].ipv4, Some("198.18.12.3".parse().unwrap()));
}

/// One subnet split by ip_range between two networks is one pool (measured 05 I); the same
/// subnet twice without ranges overlaps, in each version's words.
#[test]
fn one_subnet_two_networks() {
    let split = r#"
[[parents]]
name = "up1"
[[networks]]
name = "a"
parent = "up0"
subnet = "198.18.32.0/24"
ip_range = "198.18.32.0/25"
[[networks.endpoints]]
name = "i1"
[[networks]]
name = "b"
parent = "up1"
subnet = "198.18.32.0/24"
ip_range = "198.18.32.128/25"
[[networks.endpoints]]
name = "i2"
"#;
    let s = docker("20.10", split).unwrap();
    assert_eq!(
        s.networks[1].ipv4.gateway,
        Some("198.18.32.128".parse().unwrap())
    );
    assert_eq!(s.endpoints[1].ipv4, Some("198.18.32.129".parse().unwrap()));
    let taken = split.replace("name = \"i2\"", "name = \"i2\"\nip = \"198.18.32.2\"");
    assert_eq!(messages("20.10", &taken), ["Address already in use"]);
    let plain = split.replace("ip_range = \"198.18.32.128/25\"\n", "");
    assert_eq!(
        messages("20.10", &plain),
        ["Pool overlaps with other one on this address space"]
    );
    assert_eq!(
        messages("27", &plain),
        ["invalid pool request: Pool overlaps with other one on this address space"]
    );
}

/// Fixed addresses: outside every subnet, in each version's words (v20.10.24:L/endpoint.go:1154;
/// v27.5.1:api/types/network/endpoint.go:116; docker-v29.7.2:daemon/container_operations.go:640).
#[test]
fn a_fixed_address_outside_the_subnets() {
    let body = "[[networks]]\nparent = \"up0\"\nsubnet = \"198.18.90.0/24\"\n[[networks.endpoints]]\nname = \"s\"\nip = \"198.18.91.5\"\n";
    assert_eq!(
        messages("20.10", body),
        ["Invalid address 198.18.91.5: It does not belong to any of this network's subnets"]
    );
    assert_eq!(
        messages("28", body),
        [
            "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address 198.18.91.5"
        ]
    );
    assert_eq!(
        messages("29.1", body),
        ["invalid endpoint settings:\nno configured subnet contains IP address 198.18.91.5"]
    );
    let none = "[[networks]]\nparent = \"up0\"\n[[networks.endpoints]]\nname = \"s\"\nip = \"198.18.0.9\"\n";
    assert_eq!(
        messages("20.10", none),
        [
            "user specified IP address is supported only when connecting to networks with user configured subnets"
        ]
    );
}

/// Several subnets of a family: the first with a free address wins (v20.10.24:L/endpoint.go:1137-1156;
/// measured 06 P).
#[test]
fn the_next_subnet_takes_over_when_the_first_is_full() {
    let body = r#"
[[networks]]
parent = "up0"
subnet = "198.18.44.0/30"
[[networks.subnets]]
subnet = "198.18.45.0/24"
gateway = "198.18.45.254"
[[networks.endpoints]]
count = 2
"#;
    let s = docker("20.10", body).unwrap();
    assert_eq!(
        handed_out(&s),
        [
            "e1 198.18.44.2 198.18.44.1 02:42:c6:12:2c:02",
            "e2 198.18.45.1 198.18.45.254 02:42:c6:12:2d:01"
        ]
    );
    assert_eq!(
        s.networks[0]
            .ipam4_of("198.18.45.1".parse().unwrap())
            .subnet
            .prefix(),
        24
    );
}

/// IPv6: before 27 `enable_ipv6` needs a subnet (measured 04 G2); from 27 Docker derives a ULA
/// /64 (v27.5.1:daemon/daemon.go:1503-1543), which the lab maps into 2001:2::/48.
#[test]
fn ipv6_needs_a_subnet_before_27_and_gets_a_ula_after() {
    let body = "[[networks]]\nparent = \"up0\"\nsubnet = \"198.18.21.0/24\"\nenable_ipv6 = true\n[[networks.endpoints]]\ncount = 1\n";
    assert_eq!(
        messages("20.10", body),
        [
            "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
        ]
    );
    let s = docker("27", body).unwrap();
    let e = &s.endpoints[0];
    let v6 = e.ipv6.unwrap();
    assert_eq!(v6.segments()[..3], [0x2001, 2, 0], "{v6} is a lab address");
    let yours = s.address_map.yours(v6.into()).unwrap().to_string();
    assert!(yours.starts_with("fd") && yours.ends_with("::2"), "{yours}");
    assert_eq!(e.gateway6.map(|g| g.segments()[7]), Some(1));
    // No default route on 29 (no gateway), and per-version IPv6 switch-off.
    assert_eq!(docker("29", body).unwrap().endpoints[0].gateway6, None);
    assert_eq!(
        docker("20.10", RANGE_NO_GATEWAY).unwrap().rules.ipv6_off(),
        Ipv6Off::Namespace
    );
    assert_eq!(
        docker("27", RANGE_NO_GATEWAY).unwrap().rules.ipv6_off(),
        Ipv6Off::Interface
    );
}

/// `--ipv4=false` (28+): no IPv4 for containers, random MACs; unknown before.
#[test]
fn ipv6_only_networks_from_28() {
    let body = "[[networks]]\nparent = \"up0\"\nenable_ipv4 = false\nsubnet6 = \"2001:2:0:5::/64\"\n[[networks.endpoints]]\ncount = 1\n";
    let s = docker("28", body).unwrap();
    assert_eq!(s.endpoints[0].ipv4, None);
    assert_eq!(s.endpoints[0].ipv6, Some("2001:2:0:5::2".parse().unwrap()));
    assert!(messages("27", body)[0].contains("has no `--ipv4=false`"));
}

/// 20.10 drops host bits and folds an ip_range into its subnet (measured 06 W); 25 refuses both.
#[test]
fn host_bits_and_stray_ranges_by_version() {
    let body = "[[networks]]\nparent = \"up0\"\nsubnet = \"198.18.54.1/24\"\nip_range = \"198.18.60.0/25\"\n[[networks.endpoints]]\ncount = 1\n";
    let s = docker("20.10", body).unwrap();
    // The range lands on 198.18.54.0/25: .0 is the network address, .1 the gateway.
    assert_eq!(
        handed_out(&s)[0],
        "e1 198.18.54.2 198.18.54.1 02:42:c6:12:36:02"
    );
    let m = messages("25", body);
    assert!(
        m.contains(
            &"invalid network config:\ninvalid subnet 198.18.54.1/24: it should be 198.18.54.0/24"
                .to_string()
        ),
        "{m:?}"
    );
    assert!(m.contains(&"invalid network config:\ninvalid ip-range 198.18.60.0/25: parent subnet 198.18.54.1/24 doesn't contain ip-range".to_string()), "{m:?}");
}

/// Without [docker] the kernel's vocabulary stays; with it, what Docker cannot do is refused.
#[test]
fn the_kernels_vocabulary_lives_outside_docker() {
    let source = "[[networks]]\nmode = \"source\"\nnodst = true\nbcqueuelen = 10\nsource_macs = [\"peer\"]\n";
    assert!(parse_text(source).is_ok());
    let m = problems(
        "20.10",
        &source.replace("[[networks]]", "[[networks]]\nparent = \"up0\""),
    );
    assert_eq!(
        m[0].0,
        "requested macvlan mode 'source' is not valid, 'bridge' mode is the macvlan driver default"
    );
    assert!(m[1].0.contains("`nodst` cannot be had through Docker"));
    assert!(m[2].0.contains("`bcqueuelen` cannot be had through Docker"));
    let err = parse_text("[[networks]]\ninternal = true\n").unwrap_err();
    assert!(
        err.0[0]
            .message
            .contains("`internal` is a key of networks under [docker]")
    );
}

#[test]
fn the_default_version_is_the_current_major() {
    let s = parse_text("[docker]\n[[networks]]\nparent = \"eth0\"\n").unwrap();
    assert_eq!(
        s.rules,
        Rules::Docker {
            version: DockerVersion::parse("29").unwrap()
        }
    );
    assert!(parse_text("[docker]\nversion = \"22.06\"\n").is_err());
}

/// Exhaustion tests ask the engine: Docker's words with [docker].
#[test]
fn ip_exhaustion_refuses_in_dockers_words() {
    let s = parse_text(
        "[docker]\nversion = \"20.10\"\n[[networks]]\nname = \"m\"\nparent = \"eth0\"\nsubnet = \"198.18.0.0/28\"\n[[networks.endpoints]]\ncount = 4\n[[tests]]\nkind = \"ip_exhaustion\"\ncontainers = 20\n",
    )
    .unwrap();
    let TestKind::IpExhaustion(t) = &s.tests[0].kind else {
        unreachable!()
    };
    let ipam = t.ipam.as_ref().unwrap();
    // 16 - network - broadcast - gateway - 4 containers; Docker does not know the peer.
    assert_eq!(ipam.available, 9);
    assert!(
        ipam.refusal
            .as_ref()
            .unwrap()
            .starts_with("no available IPv4 addresses on this network's address pools: m (")
    );
}

/// host-local: the gateway is skipped, never reserved; addresses go in order; a full range set
/// refuses in the plugin's words (measured 10-12).
#[test]
fn cni_host_local_hands_out_in_order_and_refuses_in_its_words() {
    let body = |n: u32| {
        format!(
            "peers = []\n[cni]\n[[networks]]\nname = \"c\"\nsubnet = \"198.18.71.0/24\"\nrange_start = \"198.18.71.10\"\nrange_end = \"198.18.71.11\"\nroutes = [\"0.0.0.0/0\"]\n[[networks.endpoints]]\ncount = {n}\n"
        )
    };
    let s = parse_text(&body(2)).unwrap();
    let got: Vec<String> = s
        .endpoints
        .iter()
        .map(|e| format!("{} {}", e.ipv4.unwrap(), e.gateway4.unwrap()))
        .collect();
    assert_eq!(
        got,
        ["198.18.71.10 198.18.71.1", "198.18.71.11 198.18.71.1"]
    );
    let err = parse_text(&body(3)).unwrap_err();
    assert_eq!(
        err.0[0].message,
        "failed to allocate for range 0: no IP addresses available in range set: 198.18.71.10-198.18.71.11"
    );
    let no_route = parse_text(&body(1).replace("routes = [\"0.0.0.0/0\"]\n", "")).unwrap();
    assert_eq!(no_route.endpoints[0].gateway4, None);
    let bad = parse_text("[cni]\n[[networks]]\nsubnet = \"198.18.74.0/31\"\n").unwrap_err();
    assert_eq!(
        bad.0[0].message,
        "invalid range set 0: Network 198.18.74.0/31 too small to allocate from"
    );
}
