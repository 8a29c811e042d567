//! Fuzz target: the emulated switch's ingress parse must never panic, whatever the bytes, the
//! tag the kernel claims to have stripped and the truncation flag; a frame it accepts leaves,
//! when forwarded with its outer tag kept and nothing pushed, exactly as it was on the wire, and
//! with a pushed 802.1Q tag it reads back with that tag outermost.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mvlab::engine::RecvMeta;
use mvlab::engine::wire::{EthernetFrame, MAX_HEADER_LEN, TPID_8021Q, VlanTag};
use mvlab::switch::Received;

fuzz_target!(|data: &[u8]| {
    let Some((&meta, frame)) = data.split_first() else {
        return;
    };
    // The first byte picks the metadata tag (none, or one with a TCI from the next bytes) and
    // whether the kernel cut the frame short.
    let vlan = (meta & 1 == 1).then(|| {
        let tci = u16::from_be_bytes([meta, frame.first().copied().unwrap_or(0)]);
        (if meta & 2 == 0 { 0x8100 } else { 0x88a8 }, tci)
    });
    let m = RecvMeta {
        len: frame.len(),
        pkttype: 0,
        vlan,
        truncated: meta & 4 != 0,
    };
    let Ok(mut r) = Received::read(frame, m) else {
        return;
    };
    assert!(!m.truncated);
    assert!(r.rest <= r.len && r.len == frame.len());
    r.keep_outer = true;
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = r.egress_header(None, &mut head);
    let out = [&head[..n], &frame[r.rest..]].concat();
    let mut wire = frame.to_vec();
    if let Some((tpid, tci)) = vlan {
        wire.splice(12..12, VlanTag::from_tci(tpid, tci).to_bytes());
    }
    assert_eq!(out, wire);
    assert_eq!(out.len(), r.ingress.len);

    let tci = u16::from(meta) << 4;
    let n = r.egress_header(Some(tci), &mut head);
    let out = [&head[..n], &frame[r.rest..]].concat();
    let pushed = EthernetFrame::new_checked(&out[..]).expect("a whole header");
    let (outer, _) = pushed.outer_tag().expect("the pushed tag");
    assert_eq!(outer, VlanTag::from_tci(TPID_8021Q, tci));
    assert_eq!((pushed.dst(), pushed.src()), (r.ingress.dst, r.ingress.src));
});
