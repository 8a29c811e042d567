//! The `[[tests]]` entries: per kind, the keys that apply, their defaults, and checks against the
//! lab (station names exist, frame sizes fit the MTU, address tests' stations sit on ports of
//! their own), plus each test's `expect` claims. Also settles what an exhaustion test needs from
//! the scenario's pools: the endpoints a ramp may add (addresses after the scenario's own nodes,
//! MACs generated like theirs) and Docker's answer to an IPAM request, in `check`'s words. Runs
//! after the lab part of the scenario is settled, since it needs the stations and addresses.

use std::collections::HashSet;
use std::time::Duration;

use toml::Spanned;

use super::claims::{self, Claim, NodeSet};
use super::ipam::Continuation;
use super::schema::{
    RawLatencyMethod, RawMacOrder, RawPromiscuous, RawTest, RawTestKind, SpannedStr,
};
use super::seeded::generated_mac;
use super::validate::{Builder, IPV6_MIN_MTU, refusal, valid_node_name};
use super::*;
use crate::delivery::{Addressing, FrameClass, MatrixSpec, UNKNOWN_UNICAST_MAC};
use crate::diag::Span;
use crate::units::{self, UnitError};

/// Largest address count of RFC 2889's address tests.
const MAX_ADDRESSES: u32 = 1 << 20;
/// Most endpoints a ramp may add.
const MAX_RAMP: u32 = 16_384;
/// Most source MACs a sweep may use (what a receiver counts by index: 64 MB of counters).
const MAX_SWEEP_MACS: u32 = 1 << 24;

/// RFC 2544 section 9.1's Ethernet frame sizes.
pub const RFC2544_SIZES: [u32; 7] = [64, 128, 256, 512, 1024, 1280, 1518];

/// Ethernet header plus FCS: a frame of `size` bytes carries `size - 18` bytes of L3.
const ETH_OVERHEAD: u32 = 18;

fn present<T>(v: &Option<Spanned<T>>) -> Option<Span> {
    v.as_ref().map(|s| s.span())
}

/// The smallest MTU of the scenario's parents: every test frame must fit it.
fn min_mtu(s: &Scenario) -> u32 {
    s.parents.iter().map(|p| p.mtu).min().unwrap_or(1500)
}

/// Why a delivery claim about matrix test `m` speaks of frames the test never sends, if it
/// does (a claim about no frames would pass or fail on nothing measured).
fn never_sent(m: &MatrixTest, claim: &Claim, stations: &[String]) -> Option<(String, String)> {
    let Claim::Delivery {
        from,
        to,
        class,
        promiscuous,
        ..
    } = claim
    else {
        return None;
    };
    if !m.spec.classes.contains(class) {
        let sent: Vec<String> = m.spec.classes.iter().map(ToString::to_string).collect();
        return Some((
            format!("this test never sends {class} frames"),
            format!(
                "add \"{class}\" to `classes`, or claim a class it sends: {}",
                sent.join(", ")
            ),
        ));
    }
    if let Some(p) = promiscuous
        && !m.spec.promiscuous.contains(p)
    {
        let pass = if *p { "promiscuous" } else { "not-promiscuous" };
        return Some((
            format!("this test runs no {pass} pass"),
            "set `promiscuous = \"both\"`, or leave the qualifier out".into(),
        ));
    }
    for (set, list, key) in [
        (from, &m.senders, "senders"),
        (to, &m.receivers, "receivers"),
    ] {
        if let NodeSet::Node(n) = set
            && stations.contains(n)
            && !list.is_empty()
            && !list.contains(n)
        {
            return Some((
                format!("`{n}` is not among this test's {key}"),
                format!(
                    "add it to `{key}`, or claim about one of: {}",
                    list.join(", ")
                ),
            ));
        }
    }
    None
}

fn kind_word(kind: RawTestKind) -> &'static str {
    match kind {
        RawTestKind::Matrix => "matrix",
        RawTestKind::Latency => "latency",
        RawTestKind::Throughput => "throughput",
        RawTestKind::Rfc2544 => "rfc2544",
        RawTestKind::AddressCaching => "address_caching",
        RawTestKind::AddressLearningRate => "address_learning_rate",
        RawTestKind::EndpointRamp => "endpoint_ramp",
        RawTestKind::MacSweep => "mac_sweep",
        RawTestKind::IpExhaustion => "ip_exhaustion",
    }
}

/// 1, 2, 4, ... below `max`, then `max`.
fn doubling(max: u32) -> Vec<u32> {
    let mut steps: Vec<u32> = std::iter::successors(Some(1u32), |n| n.checked_mul(2))
        .take_while(|&n| n < max)
        .collect();
    steps.push(max);
    steps
}

/// The switch port a station's frames enter by: a peer's own, else its parent's.
fn switch_port(s: &Scenario, station: &str) -> Option<String> {
    if let Some(p) = s.peer(station) {
        return Some(p.port.name.clone());
    }
    let network = match (s.endpoint(station), station.strip_prefix("host:")) {
        (Some(e), _) => &s.networks[e.network],
        (None, Some(iface)) => {
            if let Some(p) = s.parents.iter().find(|p| p.name == iface) {
                return Some(p.port.name.clone());
            }
            let shim = s.host.shim.as_ref().filter(|sh| sh.interface == iface)?;
            &s.networks[shim.network]
        }
        (None, None) => return None,
    };
    Some(s.parent_of(network).port.name.clone())
}

impl Builder {
    /// The scenario's tests; a scenario that lists none gets one matrix test with the defaults,
    /// held to the model, so every lab is a conformance test of the kernel.
    pub(super) fn tests(&mut self, raw: Vec<Spanned<RawTest>>, s: &Scenario) -> Vec<TestSpec> {
        if raw.is_empty() {
            let stations: Vec<String> = s.stations().into_iter().map(|st| st.name).collect();
            let matrix = RawTest::of_kind(RawTestKind::Matrix);
            return vec![TestSpec {
                name: "matrix".into(),
                kind: TestKind::Matrix(self.matrix(&matrix, &stations, 0..0, min_mtu(s))),
                expect: Vec::new(),
                span: 0..0,
            }];
        }
        let stations: Vec<String> = s.stations().into_iter().map(|st| st.name).collect();
        let min_mtu = min_mtu(s);
        let mut names = HashSet::new();
        let mut out = Vec::new();
        for raw in raw {
            let span = raw.span();
            let r = raw.into_inner();
            let kind_word = kind_word(*r.kind.get_ref());
            let name = match &r.name {
                Some(n) => n.get_ref().clone(),
                None => {
                    let taken = out
                        .iter()
                        .filter(|t: &&TestSpec| t.kind.as_str() == kind_word)
                        .count();
                    if taken == 0 {
                        kind_word.to_string()
                    } else {
                        format!("{kind_word}{}", taken + 1)
                    }
                }
            };
            if !names.insert(name.clone()) {
                self.error(
                    r.name.as_ref().map_or(span.clone(), |n| n.span()),
                    format!("two tests are named `{name}`"),
                    "give each test its own `name`",
                );
            }
            self.refuse_foreign_keys(&r, kind_word);
            if matches!(s.switch, Switch::External(_))
                && matches!(
                    r.kind.get_ref(),
                    RawTestKind::EndpointRamp | RawTestKind::IpExhaustion
                )
            {
                self.error(
                    r.kind.span(),
                    format!("`{kind_word}` measures the lab's own parent and peers, not a switch under test"),
                    "run it in a lab scenario (kind = \"bridge\"); an external switch's peers are raw sockets, with no addresses to resolve",
                );
            }
            let kind = match *r.kind.get_ref() {
                RawTestKind::Matrix => {
                    TestKind::Matrix(self.matrix(&r, &stations, span.clone(), min_mtu))
                }
                RawTestKind::Latency => {
                    let (from, to) = self.pair(&r, &stations, span.clone());
                    let test = LatencyTest {
                        from,
                        to,
                        method: match r.method.as_ref().map(|m| *m.get_ref()) {
                            Some(RawLatencyMethod::RoundTrip) => LatencyMethod::RoundTrip,
                            _ => LatencyMethod::OneWay,
                        },
                        rate: self.rate(r.rate.as_ref(), Rate::Pps(1000.0)),
                        frame_size: self.frame_size(r.frame_size.as_ref(), 64, min_mtu),
                        duration: self.duration(r.duration.as_ref(), Duration::from_secs(2)),
                    };
                    self.sends_a_frame(&r, test.rate, test.frame_size, test.duration, &span);
                    TestKind::Latency(test)
                }
                RawTestKind::Throughput => {
                    let (from, to) = self.pair(&r, &stations, span.clone());
                    let test = ThroughputTest {
                        from,
                        to,
                        frame_sizes: self.frame_sizes(&r, &[64, 1518], min_mtu),
                        rate: self.rate(r.rate.as_ref(), Rate::Max),
                        duration: self.duration(r.duration.as_ref(), Duration::from_secs(2)),
                    };
                    if let Some(&largest) = test.frame_sizes.iter().max() {
                        self.sends_a_frame(&r, test.rate, largest, test.duration, &span);
                    }
                    TestKind::Throughput(test)
                }
                RawTestKind::Rfc2544 => {
                    let (from, to) = self.pair(&r, &stations, span.clone());
                    TestKind::Rfc2544(Rfc2544Test {
                        from,
                        to,
                        frame_sizes: self.frame_sizes(&r, &RFC2544_SIZES, min_mtu),
                        trial: self.duration(r.trial.as_ref(), Duration::from_secs(1)),
                        loss_tolerance: self.percent(r.loss_tolerance.as_ref(), 0.0),
                        resolution: self.percent(r.resolution.as_ref(), 1.0).max(0.01),
                        max_rate: self.rate(r.max_rate.as_ref(), Rate::Max),
                        frame_loss_steps: r.frame_loss_steps.as_ref().is_none_or(|b| *b.get_ref()),
                        back_to_back: r.back_to_back.as_ref().is_none_or(|b| *b.get_ref()),
                    })
                }
                RawTestKind::AddressCaching => TestKind::AddressCaching(AddressCachingTest {
                    ports: self.address_ports(&r, s, &stations, span.clone()),
                    max_addresses: self.count(
                        r.addresses.as_ref(),
                        1024,
                        MAX_ADDRESSES,
                        "addresses",
                    ),
                    rate: self.rate(r.rate.as_ref(), Rate::Pps(10_000.0)),
                }),
                RawTestKind::AddressLearningRate => {
                    TestKind::AddressLearningRate(AddressLearningRateTest {
                        ports: self.address_ports(&r, s, &stations, span.clone()),
                        addresses: self.count(
                            r.addresses.as_ref(),
                            1000,
                            MAX_ADDRESSES,
                            "addresses",
                        ),
                        max_rate: self.rate(r.max_rate.as_ref(), Rate::Max),
                        resolution: self.percent(r.resolution.as_ref(), 5.0).max(0.01),
                    })
                }
                RawTestKind::EndpointRamp => TestKind::EndpointRamp(self.ramp(
                    &r,
                    s,
                    &stations,
                    &name,
                    span.clone(),
                    min_mtu,
                )),
                RawTestKind::MacSweep => {
                    let (from, to) = self.pair(&r, &stations, span.clone());
                    let mut receivers = vec![to.clone()];
                    for n in r.receivers.iter().flatten() {
                        let name = self.station(n, &stations);
                        if !receivers.contains(&name) {
                            receivers.push(name);
                        }
                    }
                    if receivers.contains(&from) {
                        self.error(
                            span.clone(),
                            format!("`{from}` both sends the sweep and captures it"),
                            "capture on stations other than `from`",
                        );
                    }
                    TestKind::MacSweep(MacSweepTest {
                        from,
                        to,
                        macs: self.count(r.macs.as_ref(), 10_000, MAX_SWEEP_MACS, "macs"),
                        order: match r.order.as_ref().map(|o| *o.get_ref()) {
                            Some(RawMacOrder::Sequential) => MacOrder::Sequential,
                            _ => MacOrder::Random,
                        },
                        rate: self.rate(r.rate.as_ref(), Rate::Pps(100_000.0)),
                        receivers,
                    })
                }
                RawTestKind::IpExhaustion => {
                    TestKind::IpExhaustion(self.ip_exhaustion(&r, s, span.clone()))
                }
            };
            let expect = self.claims(r.expect.unwrap_or_default(), &kind, &stations);
            out.push(TestSpec {
                name,
                kind,
                expect,
                span,
            });
        }
        out
    }

    /// Keys of other kinds are refused, with the kinds they belong to.
    fn refuse_foreign_keys(&mut self, r: &RawTest, kind: &str) {
        const ADDRESS: &[&str] = &["address_caching", "address_learning_rate"];
        let first = |list: &Option<Vec<SpannedStr>>| {
            list.as_ref().and_then(|c| c.first()).map(|c| c.span())
        };
        let keys: [(&str, Option<Span>, &[&str]); 28] = [
            ("frames", present(&r.frames), &["matrix"]),
            ("classes", first(&r.classes), &["matrix"]),
            ("vlan", present(&r.vlan), &["matrix"]),
            ("promiscuous", present(&r.promiscuous), &["matrix"]),
            ("senders", first(&r.senders), &["matrix"]),
            ("receivers", first(&r.receivers), &["matrix", "mac_sweep"]),
            (
                "from",
                present(&r.from),
                &[
                    "latency",
                    "throughput",
                    "rfc2544",
                    "endpoint_ramp",
                    "mac_sweep",
                ],
            ),
            (
                "to",
                present(&r.to),
                &["latency", "throughput", "rfc2544", "mac_sweep"],
            ),
            ("method", present(&r.method), &["latency"]),
            (
                "rate",
                present(&r.rate),
                &[
                    "latency",
                    "throughput",
                    "address_caching",
                    "endpoint_ramp",
                    "mac_sweep",
                ],
            ),
            (
                "frame_size",
                present(&r.frame_size),
                &["latency", "endpoint_ramp"],
            ),
            (
                "frame_sizes",
                present(&r.frame_sizes),
                &["throughput", "rfc2544"],
            ),
            (
                "duration",
                present(&r.duration),
                &["latency", "throughput", "endpoint_ramp"],
            ),
            ("trial", present(&r.trial), &["rfc2544"]),
            ("loss_tolerance", present(&r.loss_tolerance), &["rfc2544"]),
            (
                "max_rate",
                present(&r.max_rate),
                &["rfc2544", "address_learning_rate"],
            ),
            (
                "resolution",
                present(&r.resolution),
                &["rfc2544", "address_learning_rate"],
            ),
            (
                "frame_loss_steps",
                present(&r.frame_loss_steps).or(present(&r.back_to_back)),
                &["rfc2544"],
            ),
            ("learning", present(&r.learning), ADDRESS),
            ("test", present(&r.test), ADDRESS),
            ("monitor", present(&r.monitor), ADDRESS),
            ("addresses", present(&r.addresses), ADDRESS),
            (
                "network",
                present(&r.network),
                &["endpoint_ramp", "ip_exhaustion"],
            ),
            (
                "max_endpoints",
                present(&r.max_endpoints).or(present(&r.broadcasts)),
                &["endpoint_ramp"],
            ),
            ("macs", present(&r.macs), &["mac_sweep"]),
            ("order", present(&r.order), &["mac_sweep"]),
            ("containers", present(&r.containers), &["ip_exhaustion"]),
            ("peer", present(&r.peer), &["ip_exhaustion"]),
        ];
        for (key, at, kinds) in keys {
            if let Some(at) = at
                && !kinds.contains(&kind)
            {
                self.error(
                    at,
                    format!("`{key}` does not apply to a {kind} test"),
                    format!("it belongs to {} tests; remove it here", kinds.join("/")),
                );
            }
        }
    }

    /// A count key between 1 and `max`.
    fn count(&mut self, raw: Option<&Spanned<u32>>, default: u32, max: u32, key: &str) -> u32 {
        match raw {
            Some(v) if (1..=max).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                self.error(
                    v.span(),
                    format!("`{key}` is {}", v.get_ref()),
                    format!("give a number from 1 to {max}"),
                );
                default
            }
            None => default,
        }
    }

    /// The network named by `network` (the first one when not given).
    fn network(&mut self, raw: Option<&SpannedStr>, s: &Scenario) -> usize {
        let Some(name) = raw else { return 0 };
        match s.networks.iter().position(|n| n.name == *name.get_ref()) {
            Some(i) => i,
            None => {
                let names: Vec<&str> = s.networks.iter().map(|n| n.name.as_str()).collect();
                self.error(
                    name.span(),
                    format!("there is no network `{}`", name.get_ref()),
                    format!("name one of: {}", names.join(", ")),
                );
                0
            }
        }
    }

    /// The learning, test and monitor stations of an RFC 2889 address test: each named, each
    /// on a switch port of its own.
    fn address_ports(
        &mut self,
        r: &RawTest,
        s: &Scenario,
        stations: &[String],
        span: Span,
    ) -> AddressPorts {
        if let Switch::None { .. } = s.switch {
            self.error(
                span.clone(),
                "an address test needs a switch, and this lab is a bare wire",
                "remove `[switch] kind = \"none\"`: the test measures the bridge's forwarding table",
            );
        }
        let mut pick = |key: &str, raw: &Option<SpannedStr>| match raw {
            Some(name) => Some((self.station(name, stations), name.span())),
            None => {
                self.error(
                    span.clone(),
                    format!("this test needs `{key}`"),
                    "name three stations on three switch ports: learning, test and monitor (peers have ports of their own)",
                );
                None
            }
        };
        let learning = pick("learning", &r.learning);
        let test = pick("test", &r.test);
        let monitor = pick("monitor", &r.monitor);
        let named = [
            ("learning", &learning),
            ("test", &test),
            ("monitor", &monitor),
        ];
        for (i, (key, a)) in named.iter().enumerate() {
            for (other, b) in &named[i + 1..] {
                let (Some((a, _)), Some((b, at))) = (a, b) else {
                    continue;
                };
                let (pa, pb) = (switch_port(s, a), switch_port(s, b));
                if pa.is_some() && pa == pb {
                    self.error(
                        at.clone(),
                        format!(
                            "`{key}` ({a}) and `{other}` ({b}) enter the switch by the same port {}",
                            pa.unwrap_or_default()
                        ),
                        "put each on a port of its own: every peer has one, endpoints share their parent's",
                    );
                }
            }
        }
        let name = |n: Option<(String, Span)>| n.map(|(n, _)| n).unwrap_or_default();
        AddressPorts {
            learning: name(learning),
            test: name(test),
            monitor: name(monitor),
        }
    }

    /// An endpoint ramp: its network, steps, the endpoints it may add and its traffic.
    fn ramp(
        &mut self,
        r: &RawTest,
        s: &Scenario,
        stations: &[String],
        name: &str,
        span: Span,
        mtu: u32,
    ) -> EndpointRampTest {
        let network = self.network(r.network.as_ref(), s);
        let max = self.count(r.max_endpoints.as_ref(), 1024, MAX_RAMP, "max_endpoints");
        let at = r.max_endpoints.as_ref().map_or(span.clone(), |m| m.span());
        let from = match &r.from {
            Some(f) => self.station(f, stations),
            None => match s.peers.iter().find(|p| p.network == network) {
                Some(p) => p.name.clone(),
                None => {
                    self.error(
                        span.clone(),
                        "this ramp has no station to send its broadcasts",
                        "name one with `from`, or add a peer on the ramp's network",
                    );
                    String::new()
                }
            },
        };
        if !valid_node_name(&format!("{name}-{max}")) {
            self.error(
                r.name.as_ref().map_or(span.clone(), |n| n.span()),
                format!("the ramp's endpoints would be named `{name}-N`, which is not a node name"),
                "name the test with letters, digits, `-` and `_` (its endpoints become namespaces)",
            );
        }
        let endpoints = self.ramp_endpoints(s, network, name, max, at);
        EndpointRampTest {
            network,
            steps: doubling(max),
            endpoints,
            from,
            broadcasts: self.count(r.broadcasts.as_ref(), 1000, 10_000_000, "broadcasts"),
            rate: self.rate(r.rate.as_ref(), Rate::Pps(10_000.0)),
            frame_size: self.frame_size(r.frame_size.as_ref(), 64, mtu),
            duration: self.duration(r.duration.as_ref(), Duration::from_millis(200)),
        }
    }

    /// `max` endpoints `NAME-1` ... `NAME-max` on `network`: addresses from its pool after the
    /// scenario's nodes (refused, in Docker's words, when they do not fit), MACs generated as
    /// the scenario's are and distinct from all of them.
    fn ramp_endpoints(
        &mut self,
        s: &Scenario,
        network: usize,
        name: &str,
        max: u32,
        at: Span,
    ) -> Vec<Endpoint> {
        let net = &s.networks[network];
        let mut next = Continuation::of(s, network, true);
        let available = next.available();
        if u128::from(max) > available {
            let (message, hint) = refusal(s, network, available, u128::from(max));
            self.error(at, message, hint);
            return Vec::new();
        }
        let nodes: HashSet<&str> = s.nodes().into_iter().map(|(n, _)| n).collect();
        let mut macs: HashSet<MacAddr> = s
            .parents
            .iter()
            .map(|p| p.mac)
            .chain(s.endpoints.iter().map(|e| e.mac))
            .chain(s.peers.iter().map(|p| p.mac))
            .chain(s.host.shim.iter().map(|sh| sh.mac))
            .chain([UNKNOWN_UNICAST_MAC])
            .collect();
        let mut out = Vec::with_capacity(max as usize);
        for n in 1..=max {
            let node = format!("{name}-{n}");
            if nodes.contains(node.as_str()) {
                self.error(
                    at,
                    format!(
                        "the ramp would add `{node}`, but the scenario has a node of that name"
                    ),
                    "rename the test or the node",
                );
                return Vec::new();
            }
            let Some(addresses) = next.next() else {
                let (message, hint) = refusal(s, network, u128::from(n - 1), u128::from(max));
                self.error(at, message, hint);
                return Vec::new();
            };
            let key = format!("node/{node}");
            let derived = match (s.rules.docker(), addresses.ipv4) {
                (Some(v), Some(ip)) if !v.random_macs() => {
                    let o = ip.octets();
                    Some(MacAddr([0x02, 0x42, o[0], o[1], o[2], o[3]]))
                }
                _ => None,
            };
            let mac = derived
                .filter(|m| macs.insert(*m))
                .or_else(|| {
                    (0..)
                        .map(|attempt| generated_mac(s.seed, &key, attempt))
                        .find(|m| macs.insert(*m))
                })
                .expect("a free MAC among 2^40");
            out.push(Endpoint {
                name: node,
                network,
                interface: "eth0".into(),
                mac,
                ipv4: addresses.ipv4,
                ipv6: addresses.ipv6,
                gateway4: addresses.gateway4,
                gateway6: addresses.gateway6,
                source_macs: net.source_macs.clone(),
                docker: s.rules.docker().map(|_| ContainerRequest::default()),
                span: at.clone(),
            });
        }
        out
    }

    /// The IPAM request and the neighbour-resolution part of an ip_exhaustion test.
    fn ip_exhaustion(&mut self, r: &RawTest, s: &Scenario, span: Span) -> IpExhaustionTest {
        let network = self.network(r.network.as_ref(), s);
        let net = &s.networks[network];
        let peer = match &r.peer {
            Some(p) => match s.peer(p.get_ref()) {
                Some(found) if found.network == network => found.name.clone(),
                Some(_) => {
                    self.error(
                        p.span(),
                        format!("peer `{}` is not on network `{}`", p.get_ref(), net.name),
                        "the endpoints resolve a peer of their own subnet",
                    );
                    String::new()
                }
                None => {
                    self.error(
                        p.span(),
                        format!("there is no peer `{}`", p.get_ref()),
                        "name one of the scenario's [[peers]]",
                    );
                    String::new()
                }
            },
            None => match s.peers.iter().find(|p| p.network == network) {
                Some(p) => p.name.clone(),
                None => {
                    self.error(
                        span.clone(),
                        format!(
                            "network `{}` has no peer for its endpoints to resolve",
                            net.name
                        ),
                        "add a [[peers]] entry on that network, or name one with `peer`",
                    );
                    String::new()
                }
            },
        };
        let ipam = r.containers.as_ref().map(|c| {
            let asked = u128::from(*c.get_ref());
            let available = Continuation::of(s, network, s.rules == Rules::Mvlab).available();
            IpamRequest {
                asked: asked as u64,
                available: available.min(u128::from(u64::MAX)) as u64,
                refusal: (asked > available).then(|| refusal(s, network, available, asked).0),
            }
        });
        if ipam.is_none() && !s.endpoints.iter().any(|e| e.network == network) {
            self.error(
                span,
                format!("network `{}` has no endpoints to resolve the peer and the test asks IPAM for no containers", net.name),
                "add endpoints to the network, or ask for `containers`",
            );
        }
        IpExhaustionTest {
            network,
            ipv6: net.ipv6.is_some() && s.peer(&peer).is_some_and(|p| p.ipv6.is_some()),
            peer,
            ipam,
        }
    }

    fn station(&mut self, raw: &SpannedStr, stations: &[String]) -> String {
        let name = raw.get_ref();
        if !stations.contains(name) {
            self.error(
                raw.span(),
                format!("there is no station `{name}`"),
                format!(
                    "use an endpoint, a peer, or a host interface: {}",
                    stations.join(", ")
                ),
            );
        }
        name.clone()
    }

    fn pair(&mut self, r: &RawTest, stations: &[String], span: Span) -> (String, String) {
        let (Some(from), Some(to)) = (&r.from, &r.to) else {
            self.error(
                span,
                "this test needs `from` and `to`",
                "name the sending and the receiving station, e.g. from = \"e1\", to = \"peer\"",
            );
            return (String::new(), String::new());
        };
        let pair = (self.station(from, stations), self.station(to, stations));
        if pair.0 == pair.1 {
            self.error(
                to.span(),
                "`from` and `to` are the same station",
                "measure between two different stations",
            );
        }
        pair
    }

    /// A latency or throughput test at `rate` for `duration` must send at least one frame (of
    /// `frame_size` bytes), or its loss and latency claims pass with nothing measured.
    fn sends_a_frame(
        &mut self,
        r: &RawTest,
        rate: Rate,
        frame_size: u32,
        duration: Duration,
        span: &Span,
    ) {
        let Some(pps) = rate.pps(frame_size) else {
            return;
        };
        if pps * duration.as_secs_f64() >= 1.0 {
            return;
        }
        let at = r
            .duration
            .as_ref()
            .or(r.rate.as_ref())
            .map_or(span.clone(), |v| v.span());
        self.error(
            at,
            format!(
                "this test sends no frame: {rate} for {} s is less than one frame",
                duration.as_secs_f64()
            ),
            format!(
                "send for at least {} s at this rate, or faster",
                (1000.0 / pps).ceil() / 1000.0
            ),
        );
    }

    /// The matrix test `r` (`span` is where it is written). Below IPv6's minimum MTU the
    /// kernel turns IPv6 off, so no interface joins the all-nodes group `multicast6` frames go
    /// to: the default classes leave them out, and naming them is refused.
    fn matrix(&mut self, r: &RawTest, stations: &[String], span: Span, min_mtu: u32) -> MatrixTest {
        let ipv6_on = min_mtu >= IPV6_MIN_MTU;
        let classes: Vec<FrameClass> = match &r.classes {
            Some(list) => list
                .iter()
                .filter_map(|c| match c.get_ref().parse::<FrameClass>() {
                    Ok(class) if class.addressing == Addressing::Multicast6 && !ipv6_on => {
                        self.error(
                            c.span(),
                            format!("{class} frames reach no one: an MTU of {min_mtu} turns IPv6 off, so no interface joins ff02::1"),
                            format!("raise the parents' mtu to {IPV6_MIN_MTU} or more, or leave {class} out"),
                        );
                        None
                    }
                    Ok(class) => Some(class),
                    Err(e) => {
                        self.error(c.span(), e.to_string(), "see README: Output, frame classes");
                        None
                    }
                })
                .collect(),
            None => FrameClass::all()
                .into_iter()
                .filter(|c| ipv6_on || c.addressing != Addressing::Multicast6)
                .collect(),
        };
        if r.classes.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                span,
                "`classes = []`: this matrix test sends nothing",
                "list the classes to send, e.g. classes = [\"unicast\", \"broadcast\"], or leave `classes` out for all ten",
            );
        }
        let vlan = match &r.vlan {
            Some(v) => crate::addr::vlan_id(*v.get_ref()).unwrap_or_else(|e| {
                self.error(v.span(), e, crate::addr::VLAN_ID_HINT);
                100
            }),
            None => 100,
        };
        let frames = r.frames.as_ref().map_or(10, |f| *f.get_ref());
        if let Some(f) = &r.frames
            && !(1..=100_000).contains(&frames)
        {
            self.error(
                f.span(),
                format!("{frames} frames per cell"),
                "send from 1 to 100000 frames per sender, class and destination",
            );
        }
        let promiscuous = match r.promiscuous.as_ref().map(|p| *p.get_ref()) {
            Some(RawPromiscuous::Off) => vec![false],
            Some(RawPromiscuous::On) => vec![true],
            Some(RawPromiscuous::Both) | None => vec![false, true],
        };
        let mut names = |list: &Option<Vec<SpannedStr>>| {
            list.iter()
                .flatten()
                .map(|n| self.station(n, stations))
                .collect::<Vec<_>>()
        };
        let senders = names(&r.senders);
        let receivers = names(&r.receivers);
        MatrixTest {
            spec: MatrixSpec {
                frames,
                classes,
                vlan,
                promiscuous,
            },
            senders,
            receivers,
        }
    }

    fn located<T>(&mut self, raw: &SpannedStr, parsed: Result<T, UnitError>) -> Option<T> {
        parsed
            .map_err(|e| self.error(raw.span(), e.message, e.hint))
            .ok()
    }

    fn rate(&mut self, raw: Option<&SpannedStr>, default: Rate) -> Rate {
        raw.and_then(|r| self.located(r, units::parse_rate(r.get_ref())))
            .unwrap_or(default)
    }

    fn duration(&mut self, raw: Option<&SpannedStr>, default: Duration) -> Duration {
        raw.and_then(|r| self.located(r, units::parse_duration(r.get_ref())))
            .unwrap_or(default)
    }

    fn percent(&mut self, raw: Option<&SpannedStr>, default: f64) -> f64 {
        raw.and_then(|r| self.located(r, units::parse_percent(r.get_ref())))
            .unwrap_or(default)
    }

    fn one_size(&mut self, size: u32, at: Span, mtu: u32) -> bool {
        let max = mtu + ETH_OVERHEAD;
        if size < 64 || size > max {
            self.error(at, format!("a {size}-byte frame does not fit"), format!("frame sizes count the Ethernet header and FCS: from 64 to {max} bytes with an MTU of {mtu}"));
            return false;
        }
        true
    }

    fn frame_size(&mut self, raw: Option<&Spanned<u32>>, default: u32, mtu: u32) -> u32 {
        match raw {
            Some(s) if self.one_size(*s.get_ref(), s.span(), mtu) => *s.get_ref(),
            _ => default,
        }
    }

    fn frame_sizes(&mut self, r: &RawTest, default: &[u32], mtu: u32) -> Vec<u32> {
        let Some(list) = &r.frame_sizes else {
            return default
                .iter()
                .copied()
                .filter(|&s| s <= mtu + ETH_OVERHEAD)
                .collect();
        };
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                "no frame sizes",
                "list at least one size, e.g. [64, 1518]",
            );
        }
        list.get_ref()
            .iter()
            .filter(|s| self.one_size(*s.get_ref(), s.span(), mtu))
            .map(|s| *s.get_ref())
            .collect()
    }

    fn claims(
        &mut self,
        raw: Vec<SpannedStr>,
        kind: &TestKind,
        stations: &[String],
    ) -> Vec<Expectation> {
        let mut out = Vec::new();
        for text in raw {
            let parsed = match kind.metrics() {
                None => claims::parse_delivery(text.get_ref()),
                Some(metrics) => claims::parse_metric(text.get_ref(), metrics),
            };
            let claim = match parsed {
                Ok(c) => c,
                Err(e) => {
                    let at = self.inside(&text, e.at);
                    self.error(at, e.message, e.hint);
                    continue;
                }
            };
            if let Claim::Metric {
                frame_size: Some(_),
                ..
            } = &claim
                && matches!(
                    kind,
                    TestKind::AddressCaching(_)
                        | TestKind::AddressLearningRate(_)
                        | TestKind::MacSweep(_)
                        | TestKind::IpExhaustion(_)
                )
            {
                self.error(
                    text.span(),
                    format!(
                        "a {} test has no frame sizes or steps to pick with `@`",
                        kind.as_str()
                    ),
                    "leave `@...` out (an endpoint_ramp takes `@N` for its step of N endpoints)",
                );
                continue;
            }
            if let Claim::Metric { metric, bound, .. } = &claim
                && !metric.measure().accepts(bound)
            {
                self.error(
                    text.span(),
                    format!("`{}` is not measured in {}", metric.name(), bound.kind()),
                    format!("compare it with {}", metric.measure().example()),
                );
                continue;
            }
            if let Claim::Delivery { from, to, .. } = &claim {
                for set in [from, to] {
                    if let NodeSet::Node(n) = set
                        && !stations.contains(n)
                    {
                        self.error(
                            text.span(),
                            format!("there is no station `{n}`"),
                            format!(
                                "name a station ({}) or a group: endpoints, peers, host, all",
                                stations.join(", ")
                            ),
                        );
                    }
                }
            }
            if let TestKind::Matrix(m) = kind
                && let Some((message, hint)) = never_sent(m, &claim, stations)
            {
                self.error(text.span(), message, hint);
                continue;
            }
            out.push(Expectation {
                text: text.get_ref().clone(),
                claim,
                span: text.span(),
            });
        }
        out
    }

    /// The file span of a byte range inside a string value: exact for a plain quoted string,
    /// the whole value when escapes make offsets differ.
    fn inside(&self, value: &SpannedStr, at: std::ops::Range<usize>) -> Span {
        let span = value.span();
        let raw = &self.source.text[span.clone()];
        let plain = raw.len() == value.get_ref().len() + 2 && !raw.contains('\\');
        if plain {
            span.start + 1 + at.start..span.start + 1 + at.end.max(at.start + 1)
        } else {
            span
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::scenario::parse;

    const THREE_PEERS: &str = "[[networks]]\nname = \"n\"\n[[networks.endpoints]]\ncount = 2\n[[peers]]\nname = \"a\"\n[[peers]]\nname = \"b\"\n[[peers]]\nname = \"c\"\n";

    fn ok(text: &str) -> Scenario {
        parse(Source::new("t.toml", text)).unwrap_or_else(|d| panic!("{d}"))
    }

    fn refused(text: &str) -> String {
        match parse(Source::new("t.toml", text)) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn steps_double_up_to_the_maximum() {
        assert_eq!(doubling(1), [1]);
        assert_eq!(doubling(5), [1, 2, 4, 5]);
        assert_eq!(doubling(8), [1, 2, 4, 8]);
    }

    #[test]
    fn address_tests_need_three_stations_on_three_ports() {
        let s = ok(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"address_caching\"\nlearning = \"a\"\ntest = \"b\"\nmonitor = \"c\"\nexpect = [\"capacity = 100\"]\n"
        ));
        let TestKind::AddressCaching(t) = &s.tests[0].kind else {
            unreachable!()
        };
        assert_eq!((t.max_addresses, t.rate), (1024, Rate::Pps(10_000.0)));
        assert_eq!(t.ports.monitor, "c");
        let shared = refused(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"address_caching\"\nlearning = \"e1\"\ntest = \"e2\"\nmonitor = \"c\"\n"
        ));
        assert!(
            shared.contains("enter the switch by the same port p0"),
            "{shared}"
        );
        let missing = refused(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"address_learning_rate\"\nlearning = \"a\"\ntest = \"b\"\n"
        ));
        assert!(missing.contains("this test needs `monitor`"), "{missing}");
        let wire = refused(
            "[switch]\nkind = \"none\"\n[[networks]]\n[[peers]]\nname = \"a\"\n[[tests]]\nkind = \"address_caching\"\nlearning = \"a\"\ntest = \"e1\"\nmonitor = \"e2\"\n",
        );
        assert!(wire.contains("needs a switch"), "{wire}");
    }

    #[test]
    fn ramp_endpoints_come_after_the_scenarios_own() {
        let s = ok(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"endpoint_ramp\"\nname = \"grow\"\nmax_endpoints = 5\n"
        ));
        let TestKind::EndpointRamp(t) = &s.tests[0].kind else {
            unreachable!()
        };
        assert_eq!(t.steps, [1, 2, 4, 5]);
        assert_eq!(t.from, "a", "the first peer of the network sends");
        let names: Vec<&str> = t.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["grow-1", "grow-2", "grow-3", "grow-4", "grow-5"]);
        assert_eq!(
            t.endpoints[0].ipv4.unwrap().to_string(),
            "198.18.0.4",
            "after e1 and e2"
        );
        let mut macs: Vec<MacAddr> = t.endpoints.iter().map(|e| e.mac).collect();
        macs.extend(s.stations().iter().map(|st| st.mac));
        let all = macs.len();
        macs.sort();
        macs.dedup();
        assert_eq!(macs.len(), all, "no MAC is used twice");
        assert!(
            t.endpoints
                .iter()
                .all(|e| e.mac.is_lab_safe() && e.interface == "eth0")
        );
    }

    #[test]
    fn a_ramp_the_pool_cannot_hold_is_refused_in_dockers_words() {
        let e = refused(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"endpoint_ramp\"\nmax_endpoints = 300\n"
        ));
        assert!(
            e.contains("needs 300 addresses from its pool 198.18.0.0/24, which has 248 left"),
            "{e}"
        );
        let taken = refused(&format!(
            "{THREE_PEERS}[[networks.endpoints]]\nname = \"r-1\"\n[[tests]]\nkind = \"endpoint_ramp\"\nname = \"r\"\nmax_endpoints = 2\n"
        ));
        assert!(taken.contains("would add `r-1`"), "{taken}");
    }

    #[test]
    fn ipam_requests_are_answered_with_the_pool_size() {
        let s = ok(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"ip_exhaustion\"\ncontainers = 300\npeer = \"b\"\n"
        ));
        let TestKind::IpExhaustion(t) = &s.tests[0].kind else {
            unreachable!()
        };
        let ipam = t.ipam.as_ref().unwrap();
        assert_eq!((ipam.asked, ipam.available), (300, 248));
        assert!(
            ipam.refusal
                .as_ref()
                .unwrap()
                .contains("which has 248 left")
        );
        assert_eq!(t.peer, "b");
        assert!(!t.ipv6);
        let fits = ok(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"ip_exhaustion\"\ncontainers = 10\n"
        ));
        let TestKind::IpExhaustion(t) = &fits.tests[0].kind else {
            unreachable!()
        };
        assert_eq!(t.ipam.as_ref().unwrap().refusal, None);
        let stranger = refused(&format!(
            "{THREE_PEERS}[[tests]]\nkind = \"ip_exhaustion\"\npeer = \"e1\"\n"
        ));
        assert!(stranger.contains("there is no peer `e1`"), "{stranger}");
    }

    #[test]
    fn claims_of_the_exhaustion_kinds() {
        let test = |kind: &str, extra: &str, claim: &str| {
            format!("{THREE_PEERS}[[tests]]\nkind = \"{kind}\"\n{extra}expect = [\"{claim}\"]\n")
        };
        let ports = "learning = \"a\"\ntest = \"b\"\nmonitor = \"c\"\n";
        ok(&test("address_caching", ports, "learned >= 100"));
        ok(&test(
            "address_learning_rate",
            ports,
            "learning_rate > 10kpps",
        ));
        ok(&test(
            "endpoint_ramp",
            "max_endpoints = 4\n",
            "broadcast_loss@4 = 0%",
        ));
        ok(&test(
            "endpoint_ramp",
            "max_endpoints = 4\n",
            "create_time < 5ms",
        ));
        ok(&test(
            "mac_sweep",
            "from = \"a\"\nto = \"e1\"\n",
            "missing = 0",
        ));
        ok(&test("ip_exhaustion", "", "table_fulls6 = 0"));
        ok(&test(
            "endpoint_ramp",
            "max_endpoints = 4\n",
            "memory@4 < 300KiB",
        ));
        ok(&test(
            "endpoint_ramp",
            "max_endpoints = 4\n",
            "memory < 307200",
        ));
        let size = refused(&test("address_caching", ports, "capacity = 1KiB"));
        assert!(size.contains("is not measured in a size"), "{size}");
        let sized = refused(&test("address_caching", ports, "capacity@64 = 100"));
        assert!(sized.contains("no frame sizes or steps"), "{sized}");
        let unit = refused(&test("endpoint_ramp", "", "broadcast_loss < 5us"));
        assert!(unit.contains("is not measured in a time"), "{unit}");
        let unknown = refused(&test(
            "mac_sweep",
            "from = \"a\"\nto = \"e1\"\n",
            "capacity = 1",
        ));
        assert!(
            unknown.contains("`capacity` is not a metric of this test"),
            "{unknown}"
        );
        let foreign = refused(&test(
            "mac_sweep",
            "from = \"a\"\nto = \"e1\"\nmax_endpoints = 4\n",
            "missing = 0",
        ));
        assert!(
            foreign.contains("`max_endpoints` does not apply to a mac_sweep test"),
            "{foreign}"
        );
        let own = refused(&test(
            "mac_sweep",
            "from = \"a\"\nto = \"e1\"\nreceivers = [\"a\"]\n",
            "missing = 0",
        ));
        assert!(
            own.contains("both sends the sweep and captures it"),
            "{own}"
        );
    }

    #[test]
    fn every_full_size_scenario_is_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/full");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            load(&path).unwrap_or_else(|d| panic!("{}: {d}", path.display()));
            seen += 1;
        }
        assert!(seen >= 6, "only {seen} full-size scenarios");
    }
}
