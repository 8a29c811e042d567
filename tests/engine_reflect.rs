//! The reflector across a real lab: e1 sends to e2, e2 reflects, a capture on e1 counts every
//! frame back with the MACs swapped, the tags kept, and a round-trip latency per frame. Needs
//! root; fails without it.

mod engine_common;

use engine_common::{E2_MAC, Lab};
use mvlab::engine::reflect::{ReflectSpec, Reflector};
use mvlab::engine::rx::{self, Capture, CaptureSpec};
use mvlab::engine::tx::{self, FlowSpec, SendPlan};
use mvlab::engine::wire::{TPID_8021Q, VlanTag};
use mvlab::stop::Stop;
use mvlab::units::Rate;

#[test]
fn reflected_frames_come_back_swapped_tagged_and_timed() {
    let lab = Lab::new();
    let reflector = Reflector::start(&lab.at("e2"), ReflectSpec::default(), &Stop::new()).unwrap();
    let back = Capture::start(&lab.at("e1"), CaptureSpec::default(), &Stop::new()).unwrap();
    let tag = VlanTag {
        tpid: TPID_8021Q,
        pcp: 3,
        dei: false,
        vid: 42,
    };
    let plain = FlowSpec {
        rate: Rate::Pps(2_000.0),
        ..FlowSpec::new(1, E2_MAC, 60, Some(1_000))
    };
    let tagged = FlowSpec {
        tags: vec![tag],
        rate: Rate::Pps(2_000.0),
        ..FlowSpec::new(2, E2_MAC, 200, Some(500))
    };
    tx::send(
        &lab.at("e1"),
        &SendPlan::new(vec![plain, tagged]),
        &Stop::new(),
    )
    .unwrap();
    // Until the reflections stop arriving (no fixed pause: an emulated machine is slow).
    rx::settle(&[&back], std::time::Duration::from_secs(10), &Stop::new());
    let reflected = reflector.stop().unwrap();
    let r = back.stop().unwrap();

    assert_eq!(reflected.dropped, 0);
    assert_eq!(reflected.received, 1_500);
    assert_eq!(reflected.reflected, 1_500);
    assert_eq!(reflected.send_failures, 0);
    let plain = r.received.flows.iter().find(|f| f.flow == 1).unwrap();
    assert_eq!(
        (plain.received, plain.lost, plain.duplicates),
        (1_000, 0, 0)
    );
    assert_eq!(plain.source, Some(E2_MAC));
    assert_eq!(plain.pkttypes.host, 1_000);
    assert_eq!(plain.latency.samples, 1_000);
    let tagged = r.received.flows.iter().find(|f| f.flow == 2).unwrap();
    assert_eq!((tagged.received, tagged.lost), (500, 0));
    assert_eq!(tagged.tags.len(), 1);
    assert_eq!(tagged.tags[0].tags.as_slice(), &[tag]);
    assert_eq!(tagged.bytes, 500 * 200);
    // Only e2's reflections arrived at e1; e1's own frames were never counted.
    assert_eq!(r.received.sources.len(), 1);
    assert_eq!(r.received.sources[0].mac, E2_MAC);
    assert_eq!(r.received.test_frames, 1_500);
}
