//! The emulated switch's reading and writing of frame bytes, through the engine's Ethernet view:
//! on ingress the MACs and the outermost VLAN tag (in-band, or moved into packet metadata by the
//! kernel); on egress the header a copy leaves with (the classifying 802.1Q tag pushed, the outer
//! tag kept or popped), while the rest of the frame is sent from where it was received. Pure, and
//! like every parser of outside bytes it never panics (`fuzz/fuzz_targets/switch_ingress.rs`
//! holds it to that). It decides nothing about forwarding and does no I/O.

use super::forward::Ingress;
use super::report::DropReason;
use crate::engine::RecvMeta;
use crate::engine::wire::{
    ETHER_HEADER_LEN, EthernetFrame, EthernetHeader, MAX_HEADER_LEN, TPID_8021Q, Tags,
    VLAN_TAG_LEN, VlanTag,
};

/// A received frame, from its arrival until its copies are sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Received {
    /// What forwarding decides on.
    pub ingress: Ingress,
    /// Bytes received (without a tag the kernel moved into metadata).
    pub len: usize,
    /// Where the bytes after the Ethernet header (and after an in-band outer tag) start.
    pub rest: usize,
    /// The EtherType after the outer tag.
    ethertype: u16,
    /// The outer tag leaves with the frame (the forwarding decision's `Plan::keep_outer`).
    pub keep_outer: bool,
}

impl Received {
    /// The header fields of `data`, received with `meta`, or why it cannot be forwarded.
    pub fn read(data: &[u8], meta: RecvMeta) -> Result<Received, DropReason> {
        if meta.truncated {
            return Err(DropReason::Oversize);
        }
        let frame = EthernetFrame::new_checked(data).map_err(|_| DropReason::Runt)?;
        // A tag the kernel moved into metadata adds 4 bytes on the wire; an in-band one is
        // popped, and put back on egress if the frame keeps it.
        let (outer, ethertype, rest, stripped) = match (meta.vlan, frame.outer_tag()) {
            (Some((tpid, tci)), _) => (
                Some(VlanTag::from_tci(tpid, tci)),
                frame.ethertype(),
                ETHER_HEADER_LEN,
                VLAN_TAG_LEN,
            ),
            (None, Some((tag, next))) => (Some(tag), next, ETHER_HEADER_LEN + VLAN_TAG_LEN, 0),
            (None, None) => (None, frame.ethertype(), ETHER_HEADER_LEN, 0),
        };
        Ok(Received {
            ingress: Ingress {
                dst: frame.dst(),
                src: frame.src(),
                outer,
                len: data.len() + stripped,
            },
            len: data.len(),
            rest,
            ethertype,
            keep_outer: false,
        })
    }

    /// Writes the header a copy leaves with into `out` and returns its length: the 802.1Q tag
    /// with TCI `push` outermost, then the outer tag if the frame keeps it.
    pub fn egress_header(&self, push: Option<u16>, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        let pushed = push.map(|tci| VlanTag::from_tci(TPID_8021Q, tci));
        let kept = self.ingress.outer.filter(|_| self.keep_outer);
        EthernetHeader {
            dst: self.ingress.dst,
            src: self.ingress.src,
            tags: Tags::new([pushed, kept]),
            ethertype: self.ethertype,
        }
        .emit(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::MacAddr;
    use crate::engine::wire::TPID_8021AD;

    fn frame(tags: &[VlanTag], len: usize) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend([0x02, 0, 0, 0, 0, 1]);
        for tag in tags {
            f.extend(tag.to_bytes());
        }
        f.extend(0x88b5u16.to_be_bytes());
        f.resize(len, 0xab);
        f
    }

    fn meta(vlan: Option<VlanTag>) -> RecvMeta {
        RecvMeta {
            vlan: vlan.map(|t| (t.tpid, t.tci())),
            ..RecvMeta::default()
        }
    }

    /// The frame a copy leaves as: its header, then the bytes after `rest`.
    fn egress(r: &Received, data: &[u8], push: Option<u16>) -> Vec<u8> {
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = r.egress_header(push, &mut head);
        [&head[..n], &data[r.rest..]].concat()
    }

    #[test]
    fn the_outer_tag_is_read_in_band_or_from_metadata() {
        let s = VlanTag::from_tci(TPID_8021AD, 300);
        let q = VlanTag::from_tci(TPID_8021Q, (3 << 13) | 10);
        let in_band = frame(&[s, q], 64);
        let r = Received::read(&in_band, meta(None)).unwrap();
        assert_eq!((r.ingress.outer, r.ingress.len, r.rest), (Some(s), 64, 18));
        assert_eq!(r.ingress.src, MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(r.ingress.dst, MacAddr::BROADCAST);
        let stripped = frame(&[q], 60);
        let r = Received::read(&stripped, meta(Some(s))).unwrap();
        assert_eq!((r.ingress.outer, r.ingress.len, r.rest), (Some(s), 64, 14));
        let untagged = frame(&[], 60);
        let r = Received::read(&untagged, meta(None)).unwrap();
        assert_eq!((r.ingress.outer, r.ingress.len, r.rest), (None, 60, 14));
    }

    #[test]
    fn short_and_oversized_frames_are_refused_and_a_cut_tag_is_no_tag() {
        let f = frame(&[VlanTag::from_tci(TPID_8021Q, 5)], 60);
        for len in 0..ETHER_HEADER_LEN {
            assert_eq!(
                Received::read(&f[..len], meta(None)).unwrap_err(),
                DropReason::Runt
            );
        }
        for len in ETHER_HEADER_LEN..ETHER_HEADER_LEN + VLAN_TAG_LEN {
            let r = Received::read(&f[..len], meta(None)).unwrap();
            assert_eq!((r.ingress.outer, r.rest), (None, ETHER_HEADER_LEN));
        }
        let cut = RecvMeta {
            truncated: true,
            ..meta(None)
        };
        assert_eq!(Received::read(&f, cut).unwrap_err(), DropReason::Oversize);
    }

    #[test]
    fn egress_pushes_the_vlan_tag_and_keeps_or_pops_the_outer_one() {
        let s = VlanTag::from_tci(TPID_8021AD, 300);
        let q = VlanTag::from_tci(TPID_8021Q, 10);
        let data = frame(&[s], 64);
        let mut r = Received::read(&data, meta(None)).unwrap();
        assert_eq!(egress(&r, &data, None), frame(&[], 60), "popped");
        assert_eq!(
            egress(&r, &data, Some(10)),
            frame(&[q], 64),
            "popped, pushed"
        );
        r.keep_outer = true;
        assert_eq!(egress(&r, &data, None), data, "kept: as it came");
        assert_eq!(egress(&r, &data, Some(10)), frame(&[q, s], 68));
        let stripped = frame(&[], 60);
        let mut r = Received::read(&stripped, meta(Some(s))).unwrap();
        r.keep_outer = true;
        assert_eq!(egress(&r, &stripped, None), frame(&[s], 64), "put back");
    }
}
