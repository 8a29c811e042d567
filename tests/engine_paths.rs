//! Known frame sets across a real lab (macvlan bridge mode e1 -> e2, and e1 -> peer through the
//! bridge): exact counts, loss 0, order, tags, packet types, per-source-MAC counts, and pcapng
//! files read back by tcpdump and tshark. Each count is checked against an independent one
//! where the kernel or a peer tool gives it. Needs root; fails without it.

mod engine_common;

use std::time::Duration;

use engine_common::{E1_MAC, E2_MAC, Lab, PEER_MAC, run};
use mvlab::addr::MacAddr;
use mvlab::engine::rx::{self, Capture, CaptureHandle, CaptureReport, CaptureSpec};
use mvlab::engine::tx::{
    self, FlowSpec, FrameSizes, MacSource, MacSweep, SendPlan, SweepOrder, TxPath,
};
use mvlab::engine::wire::{PayloadKind, TPID_8021AD, TPID_8021Q, TestPayload, VlanTag};
use mvlab::engine::{Listen, PacketSocket};
use mvlab::stop::Stop;
use mvlab::units::Rate;

fn capture(lab: &Lab, node: &str, spec: CaptureSpec) -> CaptureHandle {
    Capture::start(&lab.at(node), spec, &Stop::new()).expect("start capture")
}

/// Stops a capture once the frames in flight have arrived (no fixed pause: an emulated
/// machine delivers late).
fn settled(capture: CaptureHandle) -> CaptureReport {
    rx::settle(&[&capture], Duration::from_secs(10), &Stop::new());
    capture.stop().expect("stop capture")
}

fn send(lab: &Lab, node: &str, flows: Vec<FlowSpec>) -> tx::SendReport {
    tx::send(&lab.at(node), &SendPlan::new(flows), &Stop::new()).expect("send")
}

fn paced(flow: u32, dst: MacAddr, size: usize, count: u64) -> FlowSpec {
    FlowSpec {
        rate: Rate::Pps(50_000.0),
        ..FlowSpec::new(flow, dst, size, Some(count))
    }
}

fn flow(r: &CaptureReport, id: u32) -> &mvlab::engine::account::FlowReceived {
    r.received
        .flows
        .iter()
        .find(|f| f.flow == id)
        .unwrap_or_else(|| panic!("flow {id} not received: {r:#?}"))
}

#[test]
fn macvlan_bridge_delivers_every_frame_in_order_and_never_counts_outgoing() {
    let lab = Lab::new();
    let rx_before = lab.rx_packets("e2");
    let on_e2 = capture(&lab, "e2", CaptureSpec::default());
    let on_e1 = capture(
        &lab,
        "e1",
        CaptureSpec {
            include_outgoing: true,
            ..CaptureSpec::default()
        },
    );
    // Through the qdisc layer: frames sent with PACKET_QDISC_BYPASS skip the kernel's packet
    // taps, so no socket on the sender would see them at all.
    let plan = SendPlan {
        qdisc_bypass: false,
        ..SendPlan::new(vec![paced(10, E2_MAC, 60, 5_000)])
    };
    let sent = tx::send(&lab.at("e1"), &plan, &Stop::new()).unwrap();
    assert_eq!(sent.frames, 5_000);
    let e2 = settled(on_e2);
    let e1 = settled(on_e1);

    let f = flow(&e2, 10);
    assert_eq!(f.received, 5_000);
    assert_eq!(
        (f.unique, f.lost, f.duplicates, f.reordered),
        (5_000, 0, 0, 0)
    );
    assert_eq!(f.highest_sequence, 4_999);
    assert_eq!(f.pkttypes.host, 5_000);
    assert_eq!(f.source, Some(E1_MAC));
    assert_eq!(f.latency.samples, 5_000);
    assert!(f.latency.min_ns > 0);
    assert_eq!(e2.kernel.drops, 0);
    assert_eq!(e2.received.sources.len(), 1);
    assert_eq!(e2.received.sources[0].frames, 5_000);
    // The kernel's own interface counter saw at least these frames (plus background noise).
    let rx_delta = lab.rx_packets("e2") - rx_before;
    assert!(rx_delta >= 5_000, "ip -s counted {rx_delta}");
    assert!(rx_delta < 5_000 + 100, "ip -s counted {rx_delta}");

    // The sender's own frames show up on its interface only as outgoing, never as arrivals.
    assert_eq!(e1.received.test_frames, 0);
    assert!(e1.received.flows.is_empty());
    assert!(e1.received.outgoing >= 5_000);
}

#[test]
fn the_transmit_ring_path_delivers_the_same_frames_from_two_threads() {
    let lab = Lab::new();
    let on_e2 = capture(&lab, "e2", CaptureSpec::default());
    let plan = SendPlan {
        threads: 2,
        path: TxPath::Ring,
        ..SendPlan::new(vec![
            paced(1, E2_MAC, 60, 3_000),
            FlowSpec {
                kind: PayloadKind::Ipv4Udp,
                ..paced(2, E2_MAC, 1514, 2_000)
            },
        ])
    };
    let sent = tx::send(&lab.at("e1"), &plan, &Stop::new()).unwrap();
    assert_eq!((sent.frames, sent.threads), (5_000, 2));
    let r = settled(on_e2);
    assert_eq!((flow(&r, 1).received, flow(&r, 1).lost), (3_000, 0));
    assert_eq!((flow(&r, 2).received, flow(&r, 2).lost), (2_000, 0));
    assert_eq!(flow(&r, 2).bytes, 2_000 * 1514);
    assert_eq!(flow(&r, 1).reordered + flow(&r, 2).reordered, 0);
}

#[test]
fn single_and_double_tags_survive_the_bridge_and_the_pcap() {
    let lab = Lab::new();
    let pcap = std::env::temp_dir().join(format!("mvtest-eng-{}-tags.pcapng", std::process::id()));
    let on_peer = capture(
        &lab,
        "peer",
        CaptureSpec {
            pcap: Some(pcap.clone()),
            ..CaptureSpec::default()
        },
    );
    let q = VlanTag {
        tpid: TPID_8021Q,
        pcp: 5,
        dei: true,
        vid: 100,
    };
    let outer = VlanTag {
        tpid: TPID_8021AD,
        pcp: 0,
        dei: false,
        vid: 300,
    };
    let inner = VlanTag {
        tpid: TPID_8021Q,
        pcp: 2,
        dei: false,
        vid: 30,
    };
    let single = FlowSpec {
        tags: vec![q],
        kind: PayloadKind::Ipv4Udp,
        ..paced(1, PEER_MAC, 128, 200)
    };
    let double = FlowSpec {
        tags: vec![outer, inner],
        vid_sweep: Some(4),
        ..paced(2, PEER_MAC, 64, 400)
    };
    send(&lab, "e1", vec![single, double]);
    let r = settled(on_peer);

    let one = flow(&r, 1);
    assert_eq!((one.received, one.lost), (200, 0));
    assert_eq!(one.tags.len(), 1);
    assert_eq!(one.tags[0].tags.as_slice(), &[q]);
    let two = flow(&r, 2);
    assert_eq!((two.received, two.lost), (400, 0));
    let mut vids: Vec<(u16, u16, u64)> = two
        .tags
        .iter()
        .map(|t| (t.tags.as_slice()[0].vid, t.tags.as_slice()[1].vid, t.frames))
        .collect();
    vids.sort();
    assert_eq!(
        vids,
        [
            (300, 30, 100),
            (301, 30, 100),
            (302, 30, 100),
            (303, 30, 100)
        ]
    );
    assert_eq!(r.tag_depths.single, 200);
    assert_eq!(r.tag_depths.double, 400);
    // The kernel moved every outer tag into metadata; the capture put it back.
    assert_eq!(r.tag_depths.recovered_from_metadata, 600);

    // tshark reads the file: the same frames, the same tags, nanosecond times.
    let out = run(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "eth.src == 02:00:00:00:e1:01",
            "-T",
            "fields",
            "-e",
            "ieee8021ad.id",
            "-e",
            "vlan.id",
            "-e",
            "frame.time_epoch",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 600);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("\t100\t")).count(),
        200
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("302\t30\t")).count(),
        100
    );
    let frac = lines[0]
        .split('\t')
        .nth(2)
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    assert_eq!(frac.len(), 9, "nanosecond resolution: {}", lines[0]);
    // tcpdump agrees, and shows the 802.1ad outer tag.
    let out = run(
        "tcpdump",
        &[
            "-nn",
            "-e",
            "-r",
            pcap.to_str().unwrap(),
            "ether src 02:00:00:00:e1:01",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // One line per frame; tcpdump adds hex-dump lines (indented) for unknown EtherTypes.
    let frames: Vec<&str> = text.lines().filter(|l| !l.starts_with('\t')).collect();
    assert_eq!(frames.len(), 600);
    let qinq_301 = frames
        .iter()
        .filter(|l| l.contains("802.1Q-QinQ") && l.contains("vlan 301,"))
        .count();
    assert_eq!(qinq_301, 100);
    let single = frames
        .iter()
        .filter(|l| l.contains("vlan 100, p 5, DEI"))
        .count();
    assert_eq!(single, 200);
    std::fs::remove_file(&pcap).unwrap();
}

#[test]
fn a_mac_sweep_is_counted_per_source_through_the_bridge() {
    let lab = Lab::new();
    let on_peer = capture(&lab, "peer", CaptureSpec::default());
    let seq = FlowSpec {
        src: MacSource::Sweep(MacSweep {
            base: "02:5a:00:00:00:00".parse().unwrap(),
            count: 500,
            order: SweepOrder::Sequential,
        }),
        ..paced(1, PEER_MAC, 60, 2_000)
    };
    let random = MacSweep {
        base: "06:00:00:00:00:00".parse().unwrap(),
        count: 300,
        order: SweepOrder::Random { seed: 42 },
    };
    let rnd = FlowSpec {
        src: MacSource::Sweep(random),
        ..paced(2, PEER_MAC, 60, 600)
    };
    send(&lab, "e1", vec![seq, rnd]);
    let r = settled(on_peer);
    assert_eq!(flow(&r, 1).received, 2_000);
    assert_eq!(flow(&r, 2).received, 600);
    assert_eq!(flow(&r, 1).source, None);
    let sources = &r.received.sources;
    assert_eq!(sources.len(), 800);
    for s in sources {
        let expected = if s.mac.0[0] == 0x02 { 4 } else { 2 };
        assert_eq!(s.frames, expected, "{}", s.mac);
    }
    for i in 0..300 {
        let mac = random.mac(i);
        assert!(sources.iter().any(|s| s.mac == mac), "{mac} missing");
    }
    // The bridge learned every source: its own table is an independent count.
    let fdb = run("bridge", &["-n", &lab.ns("sw"), "fdb", "show", "br", "br0"]);
    let learned = String::from_utf8(fdb.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("02:5a:") || l.starts_with("06:"))
        // A port's own random MAC may start with 06 too: its entries are permanent.
        .filter(|l| !l.contains("permanent"))
        .count();
    assert_eq!(learned, 800);
}

#[test]
fn every_payload_kind_arrives_and_broadcasts_are_typed_so() {
    let lab = Lab::new();
    let on_e2 = capture(&lab, "e2", CaptureSpec::default());
    let kinds = [
        (1, PayloadKind::Ipv4Udp, E2_MAC, 100),
        (2, PayloadKind::Ipv6Udp, E2_MAC, 200),
        (3, PayloadKind::Arp, MacAddr::BROADCAST, 74),
        (4, PayloadKind::Raw { ethertype: 0x88b6 }, E2_MAC, 1514),
    ];
    let flows = kinds
        .iter()
        .map(|&(id, kind, dst, size)| FlowSpec {
            kind,
            sizes: FrameSizes::List(vec![size, 1000]),
            ..paced(id, dst, size, 300)
        })
        .collect();
    send(&lab, "e1", flows);
    let r = settled(on_e2);
    for (id, _, dst, size) in kinds {
        let f = flow(&r, id);
        assert_eq!((f.received, f.lost, f.reordered), (300, 0, 0), "flow {id}");
        assert_eq!(f.bytes, 150 * (size as u64 + 1000), "flow {id}");
        if dst.is_broadcast() {
            assert_eq!(f.pkttypes.broadcast, 300);
        } else {
            assert_eq!(f.pkttypes.host, 300);
        }
    }
}

#[test]
fn damaged_and_foreign_frames_are_counted_apart_and_never_crash_the_capture() {
    let lab = Lab::new();
    let on_e2 = capture(&lab, "e2", CaptureSpec::default());
    let mut good = vec![0u8; 60];
    good[..6].copy_from_slice(&E2_MAC.0);
    good[6..12].copy_from_slice(&E1_MAC.0);
    good[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    let mut view = TestPayload::new_unchecked_mut(&mut good[14..46]).unwrap();
    view.emit_header(PayloadKind::Raw { ethertype: 0x88b5 });
    view.stamp(9, 0, 1);
    let mut damaged = good.clone();
    damaged[30] ^= 0xff;
    let mut foreign = good.clone();
    foreign[14..18].copy_from_slice(b"XXXX");
    let e1 = lab.at("e1");
    e1.netns
        .run(|| {
            let s = PacketSocket::open("eth0", Listen::Nothing).unwrap();
            for frame in [&good, &damaged, &foreign] {
                let frames: Vec<&[u8]> = (0..10).map(|_| frame.as_slice()).collect();
                assert_eq!(s.send_batch(&frames).unwrap(), 10);
            }
        })
        .unwrap();
    let r = settled(on_e2);
    let f = flow(&r, 9);
    assert_eq!((f.received, f.duplicates), (10, 9));
    assert_eq!(r.received.foreign.damaged, 10);
    assert!(r.received.foreign.not_test >= 10);
}

#[test]
fn a_promiscuous_capture_sees_flooded_unknown_unicast_as_otherhost() {
    let lab = Lab::new();
    // `ip -d` shows the kernel's promiscuity count (a packet socket's request does not set the
    // PROMISC flag that plain `ip link` shows).
    let promiscuity = || {
        let out = run("ip", &["-n", &lab.ns("peer"), "-d", "link", "show", "eth0"]).stdout;
        let text = String::from_utf8(out).unwrap();
        let after = text
            .split("promiscuity ")
            .nth(1)
            .expect("promiscuity in ip -d output");
        after
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(promiscuity(), 0);
    let on_peer = capture(
        &lab,
        "peer",
        CaptureSpec {
            promiscuous: true,
            ..CaptureSpec::default()
        },
    );
    // The kernel's own view: the interface is promiscuous while the capture runs, and only then.
    assert_eq!(promiscuity(), 1);
    let unknown: MacAddr = "02:00:00:ff:ff:fe".parse().unwrap();
    send(&lab, "e1", vec![paced(3, unknown, 60, 250)]);
    let r = settled(on_peer);
    assert!(r.promiscuous);
    let f = flow(&r, 3);
    assert_eq!(
        (f.received, f.pkttypes.otherhost, f.pkttypes.host),
        (250, 250, 0)
    );
    assert_eq!(promiscuity(), 0);
}

#[test]
fn fanout_threads_merge_into_exact_totals() {
    let lab = Lab::new();
    let on_e2 = capture(
        &lab,
        "e2",
        CaptureSpec {
            threads: 2,
            ..CaptureSpec::default()
        },
    );
    let flows = (1..=4)
        .map(|id| FlowSpec {
            kind: PayloadKind::Ipv4Udp,
            ip: tx::IpEnds {
                sport: 40_000 + id as u16,
                ..tx::IpEnds::default()
            },
            ..paced(id, E2_MAC, 100, 1_000)
        })
        .collect();
    send(&lab, "e1", flows);
    let r = settled(on_e2);
    assert_eq!(r.received.test_frames, 4_000);
    for id in 1..=4 {
        let f = flow(&r, id);
        assert_eq!(
            (f.received, f.unique, f.lost, f.duplicates),
            (1_000, 1_000, 0, 0),
            "flow {id}"
        );
        assert_eq!(f.latency.samples, 1_000);
    }
    assert_eq!(r.latency.samples, 4_000);
    assert_eq!(r.kernel.drops, 0);
}

#[test]
fn ring_drops_are_reported_and_every_frame_is_read_or_dropped() {
    let lab = Lab::new();
    // One 4 KiB block: a few dozen frames of room against an unpaced sender.
    let tiny = CaptureSpec {
        ring_block_size: 4096,
        ring_blocks: 1,
        ..CaptureSpec::default()
    };
    let on_e2 = capture(&lab, "e2", tiny);
    let sent = send(&lab, "e1", vec![FlowSpec::new(1, E2_MAC, 60, Some(20_000))]);
    let r = settled(on_e2);
    assert!(r.kernel.drops > 0, "{:?}", r.kernel);
    // What arrived first (a frame more than was sent would be a resend, or a stranger), then
    // that each was read or dropped.
    let seen = format!(
        "{:?}; sender retries {}; foreign {:?}",
        r.kernel, sent.retries, r.received.foreign
    );
    assert_eq!(r.kernel.packets, sent.frames, "{seen}");
    assert_eq!(r.frames + r.kernel.drops, sent.frames, "{seen}");
    assert_eq!(r.received.test_frames, r.frames);
    // What the ring dropped shows up as gaps in the flow, never as a wrong count.
    let f = flow(&r, 1);
    assert_eq!(f.unique, r.frames);
    assert!(f.lost > 0 && f.lost <= r.kernel.drops);
}

/// A capture dropped without `stop` (what an error elsewhere does to it) still ends: the
/// kernel's promiscuity count of the interface, read with `ip`, falls back as its reading
/// threads end and close their sockets.
#[test]
fn a_dropped_capture_releases_its_socket_and_thread() {
    let lab = Lab::new();
    let promiscuity = || -> u64 {
        let out = run(
            "ip",
            &["-n", &lab.ns("e2"), "-j", "-d", "link", "show", "eth0"],
        );
        let links: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        links[0]["promiscuity"].as_u64().unwrap()
    };
    let before = promiscuity();
    let handle = capture(
        &lab,
        "e2",
        CaptureSpec {
            promiscuous: true,
            threads: 2,
            ..CaptureSpec::default()
        },
    );
    assert_eq!(
        promiscuity(),
        before + 2,
        "each ring's socket holds promiscuity"
    );
    drop(handle);
    assert_eq!(
        promiscuity(),
        before,
        "the sockets are closed: their threads ended"
    );
}

/// A capture ended by the stop it was given (what a signal does) still counts every frame the
/// kernel had put in its ring, even in a block the kernel has not handed over yet: with a
/// block timeout of a second, the 100 frames sit in the open block when the stop comes, and
/// the capture waits for that block rather than ending without it.
#[test]
fn a_capture_ended_by_its_stop_counts_the_frames_of_the_open_block() {
    let lab = Lab::new();
    let stop = Stop::new();
    let before = lab.rx_packets("e2");
    let handle = Capture::start(
        &lab.at("e2"),
        CaptureSpec {
            ring_block_timeout: Duration::from_secs(1),
            ..CaptureSpec::default()
        },
        &stop,
    )
    .expect("start capture");
    send(&lab, "e1", vec![paced(1, E2_MAC, 60, 100)]);
    // e2's own counter says they arrived (an independent count): they are in the ring.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lab.rx_packets("e2") < before + 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "e2 never received them"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.request();
    let r = handle.wait().expect("capture");
    assert_eq!(r.received.test_frames, 100);
    assert_eq!(flow(&r, 1).unique, 100);
}
