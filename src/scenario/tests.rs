//! The scenario parser: defaults, IPAM, MACs, and one test per kind of bad input, each checking
//! the message, the location and the hint.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;
use crate::diag::Diagnostics;

pub(super) fn parse_text(text: &str) -> Result<Scenario, Diagnostics> {
    parse(Source::new("t.toml", text))
}

/// The single diagnostic of a bad file, as (line, col, message, hint).
pub(super) fn only_error(text: &str) -> (usize, usize, String, String) {
    let diags = parse_text(text).expect_err("the file is invalid");
    assert_eq!(diags.0.len(), 1, "expected one problem, got: {diags}");
    let d = &diags.0[0];
    let (_, line, col) = d.location().expect("located");
    (
        line,
        col,
        d.message.clone(),
        d.hint.clone().unwrap_or_default(),
    )
}

#[test]
fn an_empty_file_is_a_useful_lab() {
    let s = parse_text("").unwrap();
    assert_eq!(s.name, "t");
    assert!(matches!(s.switch, Switch::Bridge(ref b) if b.name == "br0" && b.ageing_time == 300));
    assert_eq!(s.parents.len(), 1);
    assert_eq!(s.parents[0].name, "eth0");
    assert_eq!(s.parents[0].port.name, "p0");
    assert_eq!(s.networks.len(), 1);
    assert_eq!(s.networks[0].mode, MacvlanMode::Bridge);
    assert_eq!(s.networks[0].ipv4.subnet.to_string(), "198.18.0.0/24");
    let names: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e1", "e2"]);
    assert_eq!(s.endpoints[0].ipv4, Some(Ipv4Addr::new(198, 18, 0, 2)));
    assert_eq!(s.endpoints[1].ipv4, Some(Ipv4Addr::new(198, 18, 0, 3)));
    assert_eq!(s.peers.len(), 1);
    assert_eq!(s.peers[0].name, "peer");
    assert_eq!(s.peers[0].ipv4, Ipv4Addr::new(198, 18, 0, 254));
    assert_eq!(s.peers[0].port.name, "p1");
    assert!(s.endpoints.iter().all(|e| e.ipv6.is_none()));
    assert!(parse_text("peers = []").unwrap().peers.is_empty());
}

#[test]
fn docker_ipam_rules() {
    let s = parse_text(
        r#"
peers = []
[[networks]]
subnet = "198.18.4.0/24"
gateway = "198.18.4.129"
ip_range = "198.18.4.128/30"
aux_addresses = { router = "198.18.4.130" }
subnet6 = "2001:2:0:4::/64"
[[networks.endpoints]]
count = 1
[[networks.endpoints]]
name = "fixed"
ip = "198.18.4.7"
[[networks.endpoints]]
name = "last"
"#,
    )
    .unwrap();
    // The /30 range holds .128-.131: .128 is the lowest free (the subnet's network address is
    // .0), .129 the gateway, .130 aux; the fixed address lies outside the range.
    let got: Vec<String> = s
        .endpoints
        .iter()
        .map(|e| e.ipv4.unwrap().to_string())
        .collect();
    assert_eq!(got, ["198.18.4.128", "198.18.4.7", "198.18.4.131"]);
    let v6: Vec<String> = s
        .endpoints
        .iter()
        .map(|e| e.ipv6.unwrap().to_string())
        .collect();
    assert_eq!(v6, ["2001:2:0:4::2", "2001:2:0:4::3", "2001:2:0:4::4"]);
}

#[test]
fn pool_too_small_states_size_and_count() {
    let (line, col, msg, hint) = only_error(
        r#"
[[networks]]
subnet = "198.18.0.0/24"
ip_range = "198.18.0.0/28"
aux_addresses = { a = "198.18.0.5" }
[[networks.endpoints]]
count = 20
"#,
    );
    assert_eq!((line, col), (2, 1));
    // 16 in the range, minus the network address, the gateway and one aux address.
    assert!(
        msg.contains("needs 20 addresses") && msg.contains("has 13 left"),
        "{msg}"
    );
    assert!(hint.contains("at most 13"), "{hint}");
}

#[test]
fn unknown_keys_and_wrong_types_point_at_the_key() {
    let (line, col, msg, _) = only_error("[[networks]]\nmod = \"vepa\"\n");
    assert_eq!((line, col), (2, 1));
    assert!(
        msg.contains("unknown field `mod`") && msg.contains("`mode`"),
        "{msg}"
    );
    let (line, col, msg, _) = only_error("[[networks]]\nvlan = \"ten\"\n");
    assert_eq!((line, col), (2, 8));
    assert!(msg.contains("invalid type"), "{msg}");
    let (line, _, msg, _) = only_error("[switch]\nkind = \"hub\"\n");
    assert_eq!(line, 2);
    assert!(msg.contains("`bridge`"), "{msg}");
}

#[test]
fn address_outside_subnet_duplicates_and_reserved() {
    let base = "[[networks]]\nsubnet = \"198.18.0.0/24\"\naux_addresses = { r = \"198.18.0.9\" }\n[[networks.endpoints]]\nname = \"a\"\n";
    let (line, col, msg, hint) = only_error(&format!("{base}ip = \"198.18.1.5\"\n"));
    assert_eq!((line, col), (6, 6));
    assert!(msg.contains("outside the subnet 198.18.0.0/24"), "{msg}");
    assert!(hint.contains("198.18.0.0/24"));
    let (_, _, msg, _) = only_error(&format!("{base}ip = \"198.18.0.1\"\n"));
    assert!(
        msg.contains("gateway") && msg.contains("Docker never"),
        "{msg}"
    );
    let (_, _, msg, _) = only_error(&format!("{base}ip = \"198.18.0.9\"\n"));
    assert!(msg.contains("aux address"), "{msg}");
    let (line, _, msg, _) = only_error(&format!(
        "{base}ip = \"198.18.0.5\"\n[[networks.endpoints]]\nname = \"b\"\nip = \"198.18.0.5\"\n"
    ));
    assert_eq!(line, 9);
    assert!(msg.contains("already given to `a`"), "{msg}");
    // A peer may be the router; an endpoint may not.
    let s = parse_text(&format!(
        "{base}[[peers]]\nname = \"router\"\nip = \"198.18.0.1\"\n"
    ))
    .unwrap();
    assert_eq!(s.peers[0].ipv4, Ipv4Addr::new(198, 18, 0, 1));
}

#[test]
fn addresses_must_be_benchmarking_addresses() {
    let (_, _, msg, hint) = only_error("[[networks]]\nsubnet = \"10.0.0.0/24\"\n");
    assert!(
        msg.contains("outside the benchmarking range 198.18.0.0/15"),
        "{msg}"
    );
    assert!(hint.contains("RFC 2544"));
    let (_, _, msg, _) = only_error("[[networks]]\nsubnet6 = \"fd00::/64\"\n");
    assert!(msg.contains("2001:2::/48"), "{msg}");
}

#[test]
fn duplicate_and_unsafe_macs() {
    let (line, _, msg, _) = only_error(
        "[[networks]]\n[[networks.endpoints]]\nname = \"a\"\nmac = \"02:00:00:00:00:01\"\n[[networks.endpoints]]\nname = \"b\"\nmac = \"02:00:00:00:00:01\"\n",
    );
    assert_eq!(line, 7);
    assert!(msg.contains("already the MAC of `a`"), "{msg}");
    let (_, _, msg, hint) = only_error(
        "[[networks]]\n[[networks.endpoints]]\nname = \"a\"\nmac = \"01:00:00:00:00:01\"\n",
    );
    assert!(msg.contains("not a locally administered unicast"), "{msg}");
    assert!(
        hint.contains("03:00:00:00:00:01") || hint.contains("02:00:00:00:00:01"),
        "{hint}"
    );
}

#[test]
fn vlan_range_and_sub_interface_names() {
    let (line, col, msg, _) = only_error("[[networks]]\nvlan = 0\n");
    assert_eq!((line, col), (2, 8));
    assert!(msg.contains("outside 1..4094"));
    let s = parse_text("[[networks]]\nvlan = 4094\n").unwrap();
    assert_eq!(s.networks[0].link, "eth0.4094");
    assert!(s.networks[0].vlan_span.is_some());
    let (_, _, msg, hint) =
        only_error("[[parents]]\nname = \"enp0s31f6abc\"\n[[networks]]\nvlan = 4094\n");
    assert!(msg.contains("enp0s31f6abc.4094"), "{msg}");
    assert!(hint.contains("shorten"), "{hint}");
}

#[test]
fn interface_names_over_fifteen_bytes() {
    let (line, col, msg, hint) = only_error("[[parents]]\nname = \"averyveryverylongname\"\n");
    assert_eq!((line, col), (2, 8));
    assert!(msg.contains("averyveryverylongname"));
    assert!(
        hint.contains("at most 15 bytes (this one has 21)"),
        "{hint}"
    );
}

#[test]
fn passthru_takes_the_parent_alone() {
    let (_, _, msg, _) =
        only_error("[[networks]]\nmode = \"passthru\"\n[[networks.endpoints]]\ncount = 2\n");
    assert!(msg.contains("passthru") && msg.contains("has 2"), "{msg}");
    let (_, _, msg, _) = only_error(
        "[[networks]]\nname = \"a\"\nmode = \"passthru\"\n[[networks.endpoints]]\nname = \"x\"\n[[networks]]\nname = \"b\"\nsubnet = \"198.18.9.0/24\"\n[[networks.endpoints]]\nname = \"y\"\n",
    );
    assert!(msg.contains("share `eth0`"), "{msg}");
}

#[test]
fn names_and_patterns() {
    let s = parse_text("[[networks]]\n[[networks.endpoints]]\nname = \"e1\"\n[[networks.endpoints]]\ncount = 2\n[[networks.endpoints]]\ncount = 2\nname = \"web{n}\"\nstart = 10\n").unwrap();
    let names: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e1", "e2", "e3", "web10", "web11"]);
    let (_, _, msg, hint) =
        only_error("[[networks]]\n[[networks.endpoints]]\ncount = 2\nname = \"web\"\n");
    assert!(msg.contains("given to 2 endpoints"), "{msg}");
    assert!(hint.contains("{n}"));
    let (_, _, msg, _) = only_error("[[networks]]\n[[networks.endpoints]]\nname = \"peer\"\n");
    assert!(msg.contains("used twice"), "{msg}");
}

/// The scenario's name names the lab and its namespaces, so `check` refuses one `run` could not
/// use, whether written or taken from the file's name.
#[test]
fn a_name_that_cannot_name_a_lab_is_refused() {
    let (line, col, msg, _) = only_error("name = \"my lab\"\n");
    assert_eq!((line, col), (1, 8));
    assert!(
        msg.contains("`my lab` is not a valid scenario name"),
        "{msg}"
    );
    let diags = parse(Source::new("rel bad;$(id).toml", "")).unwrap_err();
    let text = diags.to_string();
    assert!(
        text.starts_with("rel bad;$(id).toml: error: `rel bad;$(id)` is not a valid scenario name"),
        "{text}"
    );
    assert!(text.contains("rename the file"), "{text}");
    assert_eq!(
        parse(Source::new("rel bad;$(id).toml", "name = \"ok\"\n"))
            .unwrap()
            .name,
        "ok"
    );
}

#[test]
fn source_mode_lists_resolve_node_names() {
    let s = parse_text(
        "[[networks]]\nmode = \"source\"\nsource_macs = [\"peer\", \"02:00:00:00:00:aa\"]\n[[networks.endpoints]]\nname = \"a\"\n[[networks.endpoints]]\nname = \"b\"\nsource_macs = [\"a\"]\n",
    )
    .unwrap();
    let peer = s.peers[0].mac;
    assert_eq!(
        s.networks[0].source_macs,
        [peer, "02:00:00:00:00:aa".parse().unwrap()]
    );
    assert_eq!(s.endpoints[0].source_macs, s.networks[0].source_macs);
    assert_eq!(s.endpoints[1].source_macs, [s.endpoints[0].mac]);
    let (_, _, msg, _) =
        only_error("[[networks]]\nmode = \"source\"\nsource_macs = [\"nobody\"]\n");
    assert!(msg.contains("neither a MAC nor a node name"), "{msg}");
    let (_, _, msg, _) = only_error("[[networks]]\nsource_macs = [\"peer\"]\n");
    assert!(msg.contains("only applies to mode = \"source\""), "{msg}");
}

#[test]
fn switch_none_is_one_wire() {
    let s = parse_text("[switch]\nkind = \"none\"\n").unwrap();
    assert!(matches!(s.switch, Switch::None { .. }));
    assert!(s.parents[0].port.name.is_empty());
    let (_, _, msg, _) =
        only_error("[switch]\nkind = \"none\"\n[[peers]]\nname = \"a\"\n[[peers]]\nname = \"b\"\n");
    assert!(msg.contains("exactly one peer, but there are 2"), "{msg}");
    let (_, _, msg, _) = only_error("[switch]\nkind = \"none\"\nfdb_max_learned = 10\n");
    assert!(msg.contains("only applies to a bridge"), "{msg}");
}

#[test]
fn host_and_shim() {
    let s = parse_text("[host]\nip = \"198.18.0.10\"\nshim = { ip = \"198.18.0.11\" }\n").unwrap();
    assert_eq!(
        s.host.addresses[0].ipv4,
        Some(Ipv4Addr::new(198, 18, 0, 10))
    );
    let shim = s.host.shim.as_ref().unwrap();
    assert_eq!(shim.interface, "shim0");
    assert_eq!(shim.ipv4, Ipv4Addr::new(198, 18, 0, 11));
    let (_, _, msg, _) =
        only_error("[host]\nip = \"198.18.0.10\"\nshim = { ip = \"198.18.0.10\" }\n");
    assert!(msg.contains("already given to `host`"), "{msg}");
}

#[test]
fn macs_are_deterministic_from_the_seed() {
    let a = parse_text("seed = 7").unwrap();
    let b = parse_text("seed = 7").unwrap();
    let c = parse_text("seed = 8").unwrap();
    assert_eq!(a.endpoints[0].mac, b.endpoints[0].mac);
    assert_ne!(a.endpoints[0].mac, c.endpoints[0].mac);
    // The name, not the position, decides the MAC: adding an endpoint renumbers nobody.
    let d = parse_text("seed = 7\n[[networks]]\n[[networks.endpoints]]\ncount = 3\n").unwrap();
    assert_eq!(a.endpoints[1].mac, d.endpoints[1].mac);
    assert_eq!(a.peers[0].ipv4, d.peers[0].ipv4);
}

#[test]
fn every_shipped_example_and_the_default_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path).unwrap_or_else(|d| panic!("{}: {d}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 11, "only {seen} examples");
    let d = default_scenario();
    let modes: HashSet<MacvlanMode> = d.networks.iter().map(|n| n.mode).collect();
    assert_eq!(modes.len(), MacvlanMode::ALL.len());
    assert_eq!(
        load(std::path::Path::new("scenarios/scale-1000.toml"))
            .unwrap()
            .scenario
            .endpoints
            .len(),
        1000
    );
}

#[test]
fn unreadable_file_names_the_path() {
    let err = load(std::path::Path::new("/nonexistent/lab.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/lab.toml"));
}

#[test]
fn a_wrong_type_is_valid_toml_and_said_in_the_scenarios_words() {
    for (text, says) in [
        ("[[networks]]\nmode = 5\n", "expected a string"),
        ("parents = 3\n", "expected a list"),
        ("seed = \"x\"\n", "expected a whole number"),
        (
            "name = 1979-05-27\n",
            "date `1979-05-27`, expected a string",
        ),
    ] {
        let (_, _, msg, hint) = only_error(text);
        assert!(msg.contains(says), "{text}: {msg}");
        assert!(
            !msg.contains("Raw") && !msg.contains("u64"),
            "{text}: {msg}"
        );
        assert!(hint.starts_with("the TOML is valid"), "{text}: {hint}");
    }
    let (_, _, _, hint) = only_error("[[networks]]\nmode = \n");
    assert!(hint.contains("not valid TOML"), "{hint}");
}

#[test]
fn a_file_that_is_not_text_or_far_too_large_is_refused_for_what_it_is() {
    let dir = std::env::temp_dir().join(format!("mvlab-notext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "binary.toml",
            vec![0x7f, b'E', b'L', b'F', 0xff, 0xfe],
            "not a text file (byte 4",
        ),
        (
            "nul.toml",
            b"name = \"a\"\n\0".to_vec(),
            "not a text file (byte 11",
        ),
        (
            "huge.toml",
            vec![b'#'; (16 << 20) + 1],
            "larger than 16 MiB",
        ),
    ];
    for (name, bytes, says) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains(says) && err.contains(name), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What `run` cannot do (the kernel would refuse it, or a test would measure nothing) is
/// refused by `check`, located, with what to do instead.
#[test]
fn check_refuses_what_run_cannot_do() {
    let matrix = "[[tests]]\nkind = \"matrix\"\n";
    let latency = "[[tests]]\nkind = \"latency\"\nfrom = \"e1\"\nto = \"e2\"\n";
    let cases: Vec<(String, (usize, usize), &str, &str)> = vec![
        (
            "[[parents]]\nname = \"eth0\"\nmtu = 1000\n[[networks]]\nsubnet6 = \"2001:2::/64\"\n".into(),
            (5, 11),
            "IPv6 needs an MTU of at least 1280",
            "raise the parent's mtu",
        ),
        (
            format!("[[parents]]\nname = \"eth0\"\nmtu = 68\n{matrix}classes = [\"unicast\", \"multicast6\"]\n"),
            (6, 23),
            "multicast6 frames reach no one",
            "leave multicast6 out",
        ),
        (
            "[[networks]]\nbcqueuelen = 0\n".into(),
            (2, 14),
            "drop every broadcast and multicast frame",
            "use 1 or more",
        ),
        (format!("{matrix}classes = []\n"), (1, 1), "sends nothing", "leave `classes` out"),
        (
            format!("{matrix}classes = [\"unicast\"]\nexpect = [\"e1 -> e2 broadcast: all\"]\n"),
            (4, 11),
            "never sends broadcast frames",
            "claim a class it sends: unicast",
        ),
        (
            format!("{matrix}promiscuous = \"off\"\nexpect = [\"e1 -> e2 unicast promiscuous: all\"]\n"),
            (4, 11),
            "runs no promiscuous pass",
            "both",
        ),
        (
            format!("{matrix}senders = [\"e1\"]\nexpect = [\"e2 -> e1 unicast: all\"]\n"),
            (4, 11),
            "`e2` is not among this test's senders",
            "add it to `senders`",
        ),
        (
            format!("{latency}rate = \"0.001pps\"\nduration = \"1ns\"\n"),
            (6, 12),
            "this test sends no frame",
            "at least 1000 s",
        ),
        (
            "[[networks]]\nsubnet = \"198.18.0.0/24\"\ngateway = \"198.18.0.1\"\naux_addresses = { a = \"198.18.0.1\" }\n".into(),
            (4, 23),
            "aux address `a` = 198.18.0.1 is the gateway",
            "reserved already",
        ),
        (
            "[[networks]]\naux_addresses = { a = \"198.18.0.9\", b = \"198.18.0.9\" }\n".into(),
            (2, 41),
            "aux address `b` = 198.18.0.9 is also aux address `a`",
            "its own address",
        ),
        (
            "[[networks]]\nmode = \"source\"\n".into(),
            (2, 8),
            "lists no source MACs",
            "source_macs",
        ),
        (
            "[[networks]]\n[[networks.endpoints]]\ncount = 0\n".into(),
            (3, 9),
            "a group of 0 endpoints",
            "count = 1 or more",
        ),
    ];
    for (text, at, says, hint_says) in cases {
        let (line, col, msg, hint) = only_error(&text);
        assert_eq!((line, col), at, "{text}: {msg}");
        assert!(msg.contains(says), "{text}: {msg}");
        assert!(hint.contains(hint_says), "{text}: {hint}");
    }
    let text = parse_text("parents = []\n").unwrap_err().to_string();
    assert!(
        text.contains("`parents = []` leaves the networks"),
        "{text}"
    );
    let text = parse_text("networks = []\n").unwrap_err().to_string();
    assert!(
        text.contains("`networks = []` leaves the lab without"),
        "{text}"
    );
}

/// Below IPv6's minimum MTU nothing joins ff02::1: the default matrix leaves multicast6 out.
#[test]
fn a_lab_without_ipv6_sends_no_multicast6_by_default() {
    let s = parse_text("[[parents]]\nname = \"eth0\"\nmtu = 1000\n").unwrap();
    let TestKind::Matrix(m) = &s.tests[0].kind else {
        panic!("the default test is a matrix");
    };
    assert_eq!(m.spec.classes.len(), 8);
    assert!(
        m.spec
            .classes
            .iter()
            .all(|c| c.addressing != crate::delivery::Addressing::Multicast6)
    );
    let s = parse_text("").unwrap();
    let TestKind::Matrix(m) = &s.tests[0].kind else {
        panic!("the default test is a matrix");
    };
    assert_eq!(m.spec.classes.len(), 10);
}

proptest! {
    /// Whatever the group sizes, addresses and MACs are unique, inside their subnet, and lab-safe.
    #[test]
    fn assignments_are_unique_and_in_range(groups in proptest::collection::vec(1u32..40, 1..4), peers in 0usize..3, seed in any::<u64>()) {
        let top = if peers == 0 { "peers = []\n" } else { "" };
        let mut text = format!("{top}seed = {seed}\n[[networks]]\nsubnet = \"198.18.0.0/24\"\nsubnet6 = \"2001:2::/64\"\n");
        for (i, c) in groups.iter().enumerate() {
            text += &format!("[[networks.endpoints]]\ncount = {c}\nname = \"g{i}n{{n}}\"\n");
        }
        for p in 0..peers {
            text += &format!("[[peers]]\nname = \"p{p}\"\n");
        }
        let s = parse_text(&text).unwrap();
        let net = &s.networks[0].ipv4;
        let mut ips = HashSet::new();
        let mut macs = HashSet::new();
        for (ip, mac) in s.endpoints.iter().map(|e| (e.ipv4.unwrap(), e.mac)).chain(s.peers.iter().map(|p| (p.ipv4, p.mac))) {
            prop_assert!(net.subnet.contains(ip) && ip != net.subnet.network() && ip != net.subnet.broadcast() && Some(ip) != net.gateway);
            prop_assert!(ips.insert(ip));
            prop_assert!(mac.is_lab_safe());
            prop_assert!(macs.insert(mac));
        }
        prop_assert_eq!(s.endpoints.len() as u32, groups.iter().sum::<u32>());
    }
}

#[test]
fn tests_have_defaults_per_kind() {
    let s = parse_text(
        r#"
[[tests]]
kind = "matrix"
expect = ["e1 -> e2 unicast: all", "endpoints -> peers broadcast-tagged not-promiscuous: none"]

[[tests]]
kind = "latency"
from = "e1"
to = "peer"
expect = ["p99 < 200us"]

[[tests]]
kind = "rfc2544"
from = "e1"
to = "host:eth0"
trial = "200ms"
frame_sizes = [64, 1518]
expect = ["throughput@64 > 10kpps"]

[[tests]]
kind = "latency"
from = "peer"
to = "e2"
method = "round-trip"
"#,
    )
    .unwrap();
    let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["matrix", "latency", "rfc2544", "latency2"]);
    let TestKind::Matrix(m) = &s.tests[0].kind else {
        panic!()
    };
    assert_eq!(m.spec.classes.len(), 10);
    assert_eq!(m.spec.promiscuous, [false, true]);
    assert_eq!(m.spec.frames, 10);
    assert_eq!(s.tests[0].expect.len(), 2);
    let TestKind::Latency(l) = &s.tests[1].kind else {
        panic!()
    };
    assert_eq!(
        (l.frame_size, l.rate, l.method),
        (64, Rate::Pps(1000.0), LatencyMethod::OneWay)
    );
    let TestKind::Rfc2544(r) = &s.tests[2].kind else {
        panic!()
    };
    assert_eq!(r.frame_sizes, [64, 1518]);
    assert_eq!(r.trial, std::time::Duration::from_millis(200));
    assert_eq!((r.loss_tolerance, r.resolution), (0.0, 1.0));
    let stations: Vec<String> = s.stations().into_iter().map(|st| st.name).collect();
    assert_eq!(stations, ["host:eth0", "e1", "e2", "peer"]);
}

#[test]
fn bad_tests_are_located() {
    let (line, col, msg, _) =
        only_error("[[tests]]\nkind = \"latency\"\nfrom = \"e1\"\nto = \"e9\"\n");
    assert_eq!((line, col), (4, 6));
    assert!(msg.contains("no station `e9`"), "{msg}");
    let (line, _, msg, hint) = only_error("[[tests]]\nkind = \"matrix\"\nrate = \"10kpps\"\n");
    assert_eq!(line, 3);
    assert!(
        msg.contains("`rate` does not apply to a matrix test"),
        "{msg}"
    );
    assert!(hint.contains("latency/throughput"), "{hint}");
    let (line, col, msg, _) = only_error(
        "[[tests]]\nkind = \"latency\"\nfrom = \"e1\"\nto = \"e2\"\nexpect = [\"p99 < 200 parsecs\"]\n",
    );
    assert_eq!((line, col), (5, 17));
    assert!(msg.contains("parsecs"), "{msg}");
    let (_, _, msg, _) = only_error(
        "[[tests]]\nkind = \"throughput\"\nfrom = \"e1\"\nto = \"e2\"\nframe_sizes = [64, 9000]\n",
    );
    assert!(msg.contains("9000-byte frame does not fit"), "{msg}");
    let (_, _, msg, _) =
        only_error("[[tests]]\nkind = \"matrix\"\nexpect = [\"e1 -> nobody unicast: all\"]\n");
    assert!(msg.contains("no station `nobody`"), "{msg}");
    let (_, _, msg, _) = only_error(
        "[[tests]]\nkind = \"throughput\"\nfrom = \"e1\"\nto = \"e2\"\nrate = \"0pps\"\n",
    );
    assert!(msg.contains("zero"), "{msg}");
}

#[test]
fn unit_values_out_of_bounds_are_located_with_the_bounds() {
    let latency = "[[tests]]\nkind = \"latency\"\nfrom = \"e1\"\nto = \"e2\"\n";
    for (key, value, says, bound) in [
        ("duration", "1e99s", "longer than 168h", "168h"),
        (
            "duration",
            "99999999999999999999s",
            "longer than 168h",
            "168h",
        ),
        ("duration", "2", "has no unit", "`2s`"),
        ("duration", "0s", "zero", "1ns"),
        ("rate", "1000", "has no unit", "`1000pps`"),
        ("rate", "0.0001pps", "slower than 0.001 pps", "10Gpps"),
        ("rate", "1e99Mbit", "faster than", "10Tbit"),
    ] {
        let (line, col, msg, hint) = only_error(&format!("{latency}{key} = \"{value}\"\n"));
        assert_eq!((line, col), (5, key.len() + 4), "{key} = {value}");
        assert!(msg.contains(says), "{key} = {value}: {msg}");
        assert!(hint.contains(bound), "{key} = {value}: {hint}");
    }
    let rfc = "[[tests]]\nkind = \"rfc2544\"\nfrom = \"e1\"\nto = \"e2\"\n";
    let (line, _, msg, _) = only_error(&format!("{rfc}loss_tolerance = \"101%\"\n"));
    assert_eq!(line, 5);
    assert!(msg.contains("from 0% to 100%"), "{msg}");
    let (line, col, msg, _) = only_error(&format!("{latency}expect = [\"p99 < 1e99s\"]\n"));
    assert_eq!((line, col), (5, 17));
    assert!(msg.contains("longer than 168h"), "{msg}");
}

#[test]
fn an_unknown_metric_is_located_and_the_known_ones_listed() {
    let (line, col, msg, hint) = only_error(
        "[[tests]]\nkind = \"throughput\"\nfrom = \"e1\"\nto = \"e2\"\nexpect = [\"jitter < 1us\"]\n",
    );
    assert_eq!((line, col), (5, 12));
    assert!(
        msg.contains("`jitter` is not a metric of this test"),
        "{msg}"
    );
    assert!(
        hint.contains("loss, rx_rate, reordered, duplicates"),
        "{hint}"
    );
}

#[test]
fn a_passthru_endpoint_shares_its_parents_mac() {
    let s = parse_text("[[networks]]\nmode = \"passthru\"\n[[networks.endpoints]]\nname = \"pt\"\nmac = \"02:00:00:00:00:33\"\n").unwrap();
    assert_eq!(s.parents[0].mac, s.endpoints[0].mac);
    assert_eq!(s.endpoints[0].mac.to_string(), "02:00:00:00:00:33");
    let s = parse_text("[[parents]]\nmac = \"02:00:00:00:00:44\"\n[[networks]]\nmode = \"passthru\"\n[[networks.endpoints]]\nname = \"pt\"\n").unwrap();
    assert_eq!(s.endpoints[0].mac.to_string(), "02:00:00:00:00:44");
    let s =
        parse_text("[[networks]]\nmode = \"passthru\"\n[[networks.endpoints]]\nname = \"pt\"\n")
            .unwrap();
    assert_eq!(s.parents[0].mac, s.endpoints[0].mac);
    let (_, _, msg, _) = only_error(
        "[[parents]]\nmac = \"02:00:00:00:00:44\"\n[[networks]]\nmode = \"passthru\"\n[[networks.endpoints]]\nname = \"pt\"\nmac = \"02:00:00:00:00:33\"\n",
    );
    assert!(msg.contains("carries its parent's MAC"), "{msg}");
}
