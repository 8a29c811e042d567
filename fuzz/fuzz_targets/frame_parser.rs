//! Fuzz target: the frame and test-payload parser must never panic, whatever the bytes and
//! whatever tag the kernel claims to have stripped; a frame it accepts must re-parse the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mvlab::engine::wire::{TestPayload, VlanTag, parse_header, parse_test_frame};

fuzz_target!(|data: &[u8]| {
    let Some((&meta, frame)) = data.split_first() else {
        return;
    };
    // The first byte picks the metadata tag: none, or one with a TCI from the next bytes.
    let stripped = (meta & 1 == 1).then(|| {
        let tci = u16::from_be_bytes([meta, frame.first().copied().unwrap_or(0)]);
        VlanTag::from_tci(if meta & 2 == 0 { 0x8100 } else { 0x88a8 }, tci)
    });
    let _ = parse_header(frame, stripped);
    let _ = TestPayload::new_checked(frame);
    if let Ok(t) = parse_test_frame(frame, stripped) {
        assert_eq!(parse_test_frame(frame, stripped), Ok(t));
        assert!(t.header.payload_offset <= frame.len());
    }
});
