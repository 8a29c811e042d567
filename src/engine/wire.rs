//! Frame layouts and the test payload, as zero-copy views over byte buffers. Owns the Ethernet
//! view (`EthernetFrame`: MACs, up to two 802.1Q / 802.1ad tags, the EtherType after them, and
//! the rewrites senders, the reflector and the emulated switch make: MACs, swap, tag rewrite and
//! push) with its plain-data header (`EthernetHeader`), the crate's one VLAN tag type, the payload
//! format (magic, version, kind, flow, sequence, send timestamp, check), and the parser that finds
//! a test payload after 0, 1 or 2 VLAN tags and IPv4/UDP, IPv6/UDP, ARP or a raw EtherType. It
//! does no I/O.
//!
//! The rule of this module: parsing never panics and never reads out of bounds, whatever the
//! bytes. Every accessor is checked; short, foreign or damaged input is an `Err`, never a crash
//! (the fuzz targets in `fuzz/` hold it to that).
//!
//! The test payload (32 bytes, big-endian), placed right after the headers of its kind:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `MVLB` |
//! | 4 | 1 | version (1) |
//! | 5 | 1 | kind of the frame carrying it (1 IPv4/UDP, 2 IPv6/UDP, 3 ARP, 4 raw EtherType) |
//! | 6 | 2 | reserved, 0 |
//! | 8 | 4 | flow id |
//! | 12 | 8 | sequence number, from 0 within a flow |
//! | 20 | 8 | send time, ns since the epoch on CLOCK_REALTIME |
//! | 28 | 4 | check: a hash of bytes 0..28 |
//!
//! CLOCK_REALTIME because it is the clock of the kernel's packet timestamps (skb->tstamp), so
//! one-way latency is receive timestamp minus send timestamp on one clock when sender and
//! receiver share a machine, as every lab's namespaces do.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::addr::MacAddr;

pub const ETHER_HEADER_LEN: usize = 14;
pub const VLAN_TAG_LEN: usize = 4;
pub const TPID_8021Q: u16 = 0x8100;
pub const TPID_8021AD: u16 = 0x88a8;
/// The pre-standard QinQ TPID some switches still use.
pub const TPID_QINQ_LEGACY: u16 = 0x9100;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// IEEE 802 "local experimental EtherType 1": the default for raw test frames.
pub const ETHERTYPE_LOCAL_EXPERIMENTAL: u16 = 0x88b5;
/// Smallest Ethernet frame without FCS.
pub const MIN_FRAME_LEN: usize = 60;
pub const MAX_TAGS: usize = 2;
/// The longest Ethernet header: MACs, `MAX_TAGS` tags, EtherType.
pub const MAX_HEADER_LEN: usize = ETHER_HEADER_LEN + MAX_TAGS * VLAN_TAG_LEN;

const IPV4_MIN_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;
const IP_PROTO_UDP: u8 = 17;

pub const PAYLOAD_MAGIC: [u8; 4] = *b"MVLB";
pub const PAYLOAD_VERSION: u8 = 1;
pub const PAYLOAD_LEN: usize = 32;

/// Offsets in an Ethernet header; a tag `d` places from the outside has its TPID where the
/// EtherType would be, shifted by `d` tags.
mod eth_field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
}

mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const VERSION: usize = 4;
    pub const KIND: usize = 5;
    pub const RESERVED: Range<usize> = 6..8;
    pub const FLOW: Range<usize> = 8..12;
    pub const SEQUENCE: Range<usize> = 12..20;
    pub const TIMESTAMP: Range<usize> = 20..28;
    pub const CHECK: Range<usize> = 28..32;
}

/// What carries a test payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum PayloadKind {
    /// IPv4, UDP, then the payload.
    Ipv4Udp,
    /// IPv6, UDP, then the payload.
    Ipv6Udp,
    /// An Ethernet/IPv4 ARP request, the payload in the bytes after it.
    Arp,
    /// The payload right after this EtherType.
    Raw { ethertype: u16 },
}

impl PayloadKind {
    fn code(self) -> u8 {
        match self {
            PayloadKind::Ipv4Udp => 1,
            PayloadKind::Ipv6Udp => 2,
            PayloadKind::Arp => 3,
            PayloadKind::Raw { .. } => 4,
        }
    }

    pub fn ethertype(self) -> u16 {
        match self {
            PayloadKind::Ipv4Udp => ETHERTYPE_IPV4,
            PayloadKind::Ipv6Udp => ETHERTYPE_IPV6,
            PayloadKind::Arp => ETHERTYPE_ARP,
            PayloadKind::Raw { ethertype } => ethertype,
        }
    }

    /// Bytes between the last EtherType and the test payload.
    pub fn l3_len(self) -> usize {
        match self {
            PayloadKind::Ipv4Udp => IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN,
            PayloadKind::Ipv6Udp => IPV6_HEADER_LEN + UDP_HEADER_LEN,
            PayloadKind::Arp => ARP_ETH_IPV4_LEN,
            PayloadKind::Raw { .. } => 0,
        }
    }

    /// The shortest frame (without FCS) that carries a whole test payload with `tags` tags.
    pub fn min_frame_len(self, tags: usize) -> usize {
        (ETHER_HEADER_LEN + tags * VLAN_TAG_LEN + self.l3_len() + PAYLOAD_LEN).max(MIN_FRAME_LEN)
    }
}

impl fmt::Display for PayloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadKind::Ipv4Udp => f.write_str("ipv4-udp"),
            PayloadKind::Ipv6Udp => f.write_str("ipv6-udp"),
            PayloadKind::Arp => f.write_str("arp"),
            PayloadKind::Raw { ethertype } => write!(f, "raw-{ethertype:04x}"),
        }
    }
}

const ARP_ETH_IPV4_LEN: usize = 28;

/// One 802.1Q / 802.1ad tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct VlanTag {
    /// The tag protocol identifier (0x8100 802.1Q, 0x88a8 802.1ad).
    pub tpid: u16,
    /// Priority code point, 0..7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN id, 0..4095.
    pub vid: u16,
}

impl VlanTag {
    pub fn from_tci(tpid: u16, tci: u16) -> VlanTag {
        VlanTag {
            tpid,
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    pub fn tci(self) -> u16 {
        (u16::from(self.pcp & 7) << 13) | (u16::from(self.dei) << 12) | (self.vid & 0x0fff)
    }

    /// The tag as it sits in a frame: TPID then TCI.
    pub fn to_bytes(self) -> [u8; VLAN_TAG_LEN] {
        let [a, b] = self.tpid.to_be_bytes();
        let [c, d] = self.tci().to_be_bytes();
        [a, b, c, d]
    }
}

impl fmt::Display for VlanTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{}", self.tpid, self.vid)?;
        if self.pcp != 0 {
            write!(f, "/p{}", self.pcp)?;
        }
        if self.dei {
            f.write_str("/dei")?;
        }
        Ok(())
    }
}

/// The VLAN tags of a frame, outermost first: zero, one or two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Tags {
    len: u8,
    tags: [VlanTag; MAX_TAGS],
}

impl Tags {
    pub const NONE: Tags = Tags {
        len: 0,
        tags: [VlanTag {
            tpid: 0,
            pcp: 0,
            dei: false,
            vid: 0,
        }; MAX_TAGS],
    };

    /// Those of `tags` that are there, outermost first.
    pub fn new(tags: [Option<VlanTag>; MAX_TAGS]) -> Tags {
        let mut out = Tags::NONE;
        for tag in tags.into_iter().flatten() {
            out.tags[usize::from(out.len)] = tag;
            out.len += 1;
        }
        out
    }

    /// `tags`, outermost first; more than `MAX_TAGS` is an error.
    pub fn from_slice(tags: &[VlanTag]) -> Result<Tags, ParseError> {
        let mut out = Tags::NONE;
        for &tag in tags {
            out.push(tag)?;
        }
        Ok(out)
    }

    fn push(&mut self, tag: VlanTag) -> Result<(), ParseError> {
        let slot = self
            .tags
            .get_mut(usize::from(self.len))
            .ok_or(ParseError::TooManyTags)?;
        *slot = tag;
        self.len += 1;
        Ok(())
    }

    pub fn as_slice(&self) -> &[VlanTag] {
        &self.tags[..usize::from(self.len)]
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl fmt::Display for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("untagged");
        }
        for (i, tag) in self.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{tag}")?;
        }
        Ok(())
    }
}

/// Why bytes are not a test frame. Each is counted as foreign by a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("frame ends inside the {0} header")]
    Truncated(&'static str),
    #[error("more than {MAX_TAGS} VLAN tags")]
    TooManyTags,
    #[error("IP packet that is not an unfragmented UDP datagram")]
    NotUdp,
    #[error("no test payload magic")]
    NoMagic,
    #[error("test payload version {0} is not {PAYLOAD_VERSION}")]
    Version(u8),
    #[error("test payload check does not match (damaged or truncated)")]
    Check,
    #[error("test payload says kind {0}, the frame is another kind")]
    KindMismatch(u8),
}

impl ParseError {
    /// The frame carried the test magic but is damaged: cut short, wrong version, wrong kind
    /// or a failed check (as opposed to background traffic that is simply not ours).
    pub fn is_damaged(self) -> bool {
        matches!(
            self,
            ParseError::Truncated("test payload")
                | ParseError::Version(_)
                | ParseError::Check
                | ParseError::KindMismatch(_)
        )
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Whether an EtherType field names a VLAN tag: 802.1Q, 802.1ad, or the pre-standard QinQ TPID.
fn is_tpid(ethertype: u16) -> bool {
    matches!(ethertype, TPID_8021Q | TPID_8021AD | TPID_QINQ_LEGACY)
}

fn mac_at(b: &[u8], at: std::ops::Range<usize>) -> MacAddr {
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&b[at]);
    MacAddr(mac)
}

/// A read-only or writable view of an Ethernet II frame: the MACs, the VLAN tags after them and
/// the EtherType after those. `new_checked` makes sure of the untagged header (14 bytes); what
/// lies beyond it (tags) is checked by each accessor.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// A view over `buffer` once it holds at least an untagged Ethernet header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>, ParseError> {
        if buffer.as_ref().len() < ETHER_HEADER_LEN {
            return Err(ParseError::Truncated("Ethernet"));
        }
        Ok(EthernetFrame { buffer })
    }

    pub fn dst(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), eth_field::DST)
    }

    pub fn src(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), eth_field::SRC)
    }

    /// The type field after the MACs: the outermost tag's TPID when the frame is tagged.
    pub fn ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[eth_field::ETHERTYPE], b[eth_field::ETHERTYPE + 1]])
    }

    /// The outermost in-band tag and the type field after it, when the frame has one whole.
    pub fn outer_tag(&self) -> Option<(VlanTag, u16)> {
        let tpid = self.ethertype();
        if !is_tpid(tpid) {
            return None;
        }
        self.tag_at(0, tpid).ok()
    }

    /// The tag `depth` places from the outside, whose TPID (already read) is `tpid`, and the
    /// type field after it.
    fn tag_at(&self, depth: usize, tpid: u16) -> Result<(VlanTag, u16), ParseError> {
        let b = self.buffer.as_ref();
        let tci_at = eth_field::ETHERTYPE + depth * VLAN_TAG_LEN + 2;
        let tci = be16(b, tci_at).ok_or(ParseError::Truncated("VLAN"))?;
        let next = be16(b, tci_at + 2).ok_or(ParseError::Truncated("VLAN"))?;
        Ok((VlanTag::from_tci(tpid, tci), next))
    }

    /// The whole header: MACs, every tag outermost first (`stripped`, one the kernel moved out
    /// of the bytes into packet metadata, first of all), and the EtherType after the tags.
    pub fn header(&self, stripped: Option<VlanTag>) -> Result<EthernetHeader, ParseError> {
        let mut tags = Tags::NONE;
        if let Some(tag) = stripped {
            tags.push(tag)?;
        }
        let mut ethertype = self.ethertype();
        let mut depth = 0;
        while is_tpid(ethertype) {
            let (tag, next) = self.tag_at(depth, ethertype)?;
            tags.push(tag)?;
            ethertype = next;
            depth += 1;
        }
        Ok(EthernetHeader {
            dst: self.dst(),
            src: self.src(),
            tags,
            ethertype,
        })
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// `buffer` is a frame after `VLAN_TAG_LEN` bytes of room: puts `tag` outermost by moving
    /// the MACs into that room (the rest of the frame stays where it is). The view covers the
    /// whole buffer, now the tagged frame.
    pub fn push_tag(mut buffer: T, tag: VlanTag) -> Result<EthernetFrame<T>, ParseError> {
        let b = buffer.as_mut();
        if b.len() < VLAN_TAG_LEN + ETHER_HEADER_LEN {
            return Err(ParseError::Truncated("Ethernet"));
        }
        b.copy_within(VLAN_TAG_LEN..VLAN_TAG_LEN + eth_field::ETHERTYPE, 0);
        b[eth_field::ETHERTYPE..eth_field::ETHERTYPE + VLAN_TAG_LEN]
            .copy_from_slice(&tag.to_bytes());
        Ok(EthernetFrame { buffer })
    }

    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[eth_field::DST].copy_from_slice(&mac.0);
    }

    pub fn set_src(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[eth_field::SRC].copy_from_slice(&mac.0);
    }

    /// Swaps destination and source: the frame is addressed back to where it came from.
    pub fn swap_macs(&mut self) {
        let (dst, rest) = self.buffer.as_mut().split_at_mut(eth_field::SRC.start);
        dst.swap_with_slice(&mut rest[..eth_field::SRC.len()]);
    }

    /// Writes `tag` (TPID and TCI) as the tag `depth` places from the outside; `Err` when the
    /// frame is too short to hold it and the type field after it.
    pub fn set_tag(&mut self, depth: usize, tag: VlanTag) -> Result<(), ParseError> {
        let at = eth_field::ETHERTYPE + depth * VLAN_TAG_LEN;
        self.buffer
            .as_mut()
            .get_mut(at..at + VLAN_TAG_LEN + 2)
            .ok_or(ParseError::Truncated("VLAN"))?[..VLAN_TAG_LEN]
            .copy_from_slice(&tag.to_bytes());
        Ok(())
    }
}

/// An Ethernet header as plain data: what `EthernetFrame::header` reads, and what `emit` writes
/// in front of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    /// Outermost first.
    pub tags: Tags,
    /// The EtherType after the tags.
    pub ethertype: u16,
}

impl EthernetHeader {
    /// Its length on the wire: where the payload starts (a tag the kernel stripped, counted
    /// here, is not in the bytes a receiver reads).
    pub fn header_len(&self) -> usize {
        ETHER_HEADER_LEN + self.tags.len() * VLAN_TAG_LEN
    }

    /// Writes the header at the start of `out`; returns its length.
    pub fn emit(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        let mut frame = EthernetFrame {
            buffer: &mut out[..],
        };
        frame.set_dst(self.dst);
        frame.set_src(self.src);
        let mut at = eth_field::ETHERTYPE;
        for tag in self.tags.as_slice() {
            out[at..at + VLAN_TAG_LEN].copy_from_slice(&tag.to_bytes());
            at += VLAN_TAG_LEN;
        }
        out[at..at + 2].copy_from_slice(&self.ethertype.to_be_bytes());
        at + 2
    }
}

/// A read-only or writable view of a 32-byte test payload.
#[derive(Debug, Clone, Copy)]
pub struct TestPayload<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TestPayload<T> {
    /// A view over `buffer` after checking its length, magic, version and check.
    pub fn new_checked(buffer: T) -> Result<TestPayload<T>, ParseError> {
        let b = buffer.as_ref();
        if b.len() < PAYLOAD_LEN {
            return Err(
                if b.starts_with(&PAYLOAD_MAGIC[..b.len().min(4)]) && !b.is_empty() {
                    ParseError::Truncated("test payload")
                } else {
                    ParseError::NoMagic
                },
            );
        }
        if b[field::MAGIC] != PAYLOAD_MAGIC {
            return Err(ParseError::NoMagic);
        }
        if b[field::VERSION] != PAYLOAD_VERSION {
            return Err(ParseError::Version(b[field::VERSION]));
        }
        let view = TestPayload { buffer };
        if view.check() != check_of(&view.buffer.as_ref()[..field::CHECK.start]) {
            return Err(ParseError::Check);
        }
        Ok(view)
    }

    fn u32_at(&self, r: std::ops::Range<usize>) -> u32 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&self.buffer.as_ref()[r]);
        u32::from_be_bytes(a)
    }

    fn u64_at(&self, r: std::ops::Range<usize>) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.buffer.as_ref()[r]);
        u64::from_be_bytes(a)
    }

    pub fn kind_code(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }

    pub fn flow(&self) -> u32 {
        self.u32_at(field::FLOW)
    }

    pub fn sequence(&self) -> u64 {
        self.u64_at(field::SEQUENCE)
    }

    pub fn timestamp_ns(&self) -> u64 {
        self.u64_at(field::TIMESTAMP)
    }

    fn check(&self) -> u32 {
        self.u32_at(field::CHECK)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TestPayload<T> {
    /// A writable view for building; `None` when `buffer` is shorter than a payload.
    pub fn new_unchecked_mut(buffer: T) -> Option<TestPayload<T>> {
        (buffer.as_ref().len() >= PAYLOAD_LEN).then_some(TestPayload { buffer })
    }

    /// Writes the fixed part (magic, version, kind) once into a template.
    pub fn emit_header(&mut self, kind: PayloadKind) {
        let b = self.buffer.as_mut();
        b[field::MAGIC].copy_from_slice(&PAYLOAD_MAGIC);
        b[field::VERSION] = PAYLOAD_VERSION;
        b[field::KIND] = kind.code();
        b[field::RESERVED].fill(0);
    }

    /// Patches flow, sequence and timestamp and seals the check: the per-frame work of a sender.
    pub fn stamp(&mut self, flow: u32, sequence: u64, timestamp_ns: u64) {
        let b = self.buffer.as_mut();
        b[field::FLOW].copy_from_slice(&flow.to_be_bytes());
        b[field::SEQUENCE].copy_from_slice(&sequence.to_be_bytes());
        b[field::TIMESTAMP].copy_from_slice(&timestamp_ns.to_be_bytes());
        let check = check_of(&b[..field::CHECK.start]);
        b[field::CHECK].copy_from_slice(&check.to_be_bytes());
    }
}

/// FNV-1a over 32-bit words, folded to 32 bits: cheap, and any damaged or foreign bytes fail it.
fn check_of(bytes: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in bytes.chunks(4) {
        let mut w = [0u8; 4];
        w[..word.len()].copy_from_slice(word);
        h = (h ^ u64::from(u32::from_be_bytes(w))).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// The link-layer facts of a frame and where its test payload would start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    /// Every tag, outermost first, including one the kernel moved into packet metadata.
    pub tags: Tags,
    /// The EtherType after the tags.
    pub ethertype: u16,
    pub kind: PayloadKind,
    /// Offset of the test payload in the frame bytes as given (without a stripped tag).
    pub payload_offset: usize,
}

/// A frame that carries a valid test payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestFrame {
    pub header: FrameHeader,
    pub flow: u32,
    pub sequence: u64,
    pub timestamp_ns: u64,
}

/// Parses the Ethernet, VLAN and L3/L4 headers of `frame`. `stripped` is a tag the kernel moved
/// out of the frame into metadata (it was the outermost one).
pub fn parse_header(frame: &[u8], stripped: Option<VlanTag>) -> Result<FrameHeader, ParseError> {
    let eth = EthernetFrame::new_checked(frame)?.header(stripped)?;
    // The bytes as given lack a stripped tag.
    let offset = eth.header_len() - stripped.map_or(0, |_| VLAN_TAG_LEN);
    let (kind, payload_offset) = match eth.ethertype {
        ETHERTYPE_IPV4 => (PayloadKind::Ipv4Udp, after_ipv4_udp(frame, offset)?),
        ETHERTYPE_IPV6 => (PayloadKind::Ipv6Udp, after_ipv6_udp(frame, offset)?),
        ETHERTYPE_ARP => (PayloadKind::Arp, after_arp(frame, offset)?),
        other => (PayloadKind::Raw { ethertype: other }, offset),
    };
    Ok(FrameHeader {
        dst: eth.dst,
        src: eth.src,
        tags: eth.tags,
        ethertype: eth.ethertype,
        kind,
        payload_offset,
    })
}

fn after_ipv4_udp(frame: &[u8], at: usize) -> Result<usize, ParseError> {
    let ip = frame
        .get(at..at + IPV4_MIN_HEADER_LEN)
        .ok_or(ParseError::Truncated("IPv4"))?;
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let fragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    if ip[0] >> 4 != 4 || header_len < IPV4_MIN_HEADER_LEN || ip[9] != IP_PROTO_UDP || fragmented {
        return Err(ParseError::NotUdp);
    }
    let udp = at + header_len;
    frame
        .get(udp..udp + UDP_HEADER_LEN)
        .ok_or(ParseError::Truncated("UDP"))?;
    Ok(udp + UDP_HEADER_LEN)
}

fn after_ipv6_udp(frame: &[u8], at: usize) -> Result<usize, ParseError> {
    let ip = frame
        .get(at..at + IPV6_HEADER_LEN)
        .ok_or(ParseError::Truncated("IPv6"))?;
    if ip[0] >> 4 != 6 || ip[6] != IP_PROTO_UDP {
        return Err(ParseError::NotUdp);
    }
    let udp = at + IPV6_HEADER_LEN;
    frame
        .get(udp..udp + UDP_HEADER_LEN)
        .ok_or(ParseError::Truncated("UDP"))?;
    Ok(udp + UDP_HEADER_LEN)
}

fn after_arp(frame: &[u8], at: usize) -> Result<usize, ParseError> {
    let arp = frame.get(at..at + 8).ok_or(ParseError::Truncated("ARP"))?;
    let end = at + 8 + 2 * usize::from(arp[4]) + 2 * usize::from(arp[5]);
    if frame.len() < end {
        return Err(ParseError::Truncated("ARP"));
    }
    Ok(end)
}

/// Parses a whole frame and its test payload.
pub fn parse_test_frame(frame: &[u8], stripped: Option<VlanTag>) -> Result<TestFrame, ParseError> {
    let header = parse_header(frame, stripped)?;
    let payload = TestPayload::new_checked(&frame[header.payload_offset..])?;
    if payload.kind_code() != header.kind.code() {
        return Err(ParseError::KindMismatch(payload.kind_code()));
    }
    Ok(TestFrame {
        header,
        flow: payload.flow(),
        sequence: payload.sequence(),
        timestamp_ns: payload.timestamp_ns(),
    })
}

/// Ones' complement sum of big-endian 16-bit words (an odd last byte is padded), unfolded.
pub fn ones_complement_sum(bytes: &[u8]) -> u32 {
    let mut sum = 0u32;
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a 32-bit ones' complement sum to 16 bits.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw_frame(tags: &[VlanTag]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend([0x02, 0, 0, 0, 0, 1]);
        for tag in tags {
            f.extend(tag.to_bytes());
        }
        f.extend(ETHERTYPE_LOCAL_EXPERIMENTAL.to_be_bytes());
        let mut payload = [0u8; PAYLOAD_LEN];
        let mut view = TestPayload::new_unchecked_mut(&mut payload[..]).unwrap();
        view.emit_header(PayloadKind::Raw {
            ethertype: ETHERTYPE_LOCAL_EXPERIMENTAL,
        });
        view.stamp(7, 42, 1_700_000_000_000_000_123);
        f.extend(payload);
        f.resize(64, 0);
        f
    }

    #[test]
    fn payload_round_trips_after_zero_one_or_two_tags() {
        let q = VlanTag::from_tci(TPID_8021Q, (5 << 13) | 0x1000 | 100);
        let s = VlanTag {
            tpid: TPID_8021AD,
            pcp: 0,
            dei: false,
            vid: 3000,
        };
        for tags in [&[][..], &[q][..], &[s, q][..]] {
            let f = raw_frame(tags);
            let t = parse_test_frame(&f, None).unwrap();
            assert_eq!(t.flow, 7);
            assert_eq!(t.sequence, 42);
            assert_eq!(t.timestamp_ns, 1_700_000_000_000_000_123);
            assert_eq!(t.header.tags.as_slice(), tags);
            assert_eq!(t.header.src.to_string(), "02:00:00:00:00:01");
        }
        assert_eq!(q.pcp, 5);
        assert!(q.dei);
        assert_eq!(q.vid, 100);
    }

    #[test]
    fn a_tag_the_kernel_stripped_comes_first() {
        let inner = VlanTag::from_tci(TPID_8021Q, 20);
        let outer = VlanTag::from_tci(TPID_8021AD, 10);
        let f = raw_frame(&[inner]);
        let t = parse_test_frame(&f, Some(outer)).unwrap();
        assert_eq!(t.header.tags.as_slice(), &[outer, inner]);
        let three = raw_frame(&[outer, inner]);
        assert_eq!(
            parse_test_frame(&three, Some(outer)),
            Err(ParseError::TooManyTags)
        );
    }

    #[test]
    fn damaged_truncated_and_foreign_frames_are_refused() {
        let f = raw_frame(&[]);
        for cut in 0..ETHER_HEADER_LEN + PAYLOAD_LEN {
            assert!(parse_test_frame(&f[..cut], None).is_err(), "cut {cut}");
        }
        for byte in ETHER_HEADER_LEN..ETHER_HEADER_LEN + PAYLOAD_LEN {
            let mut g = f.clone();
            g[byte] ^= 0x10;
            assert!(parse_test_frame(&g, None).is_err(), "flip at {byte}");
        }
        let mut other_raw = f.clone();
        other_raw[12..14].copy_from_slice(&0x1234u16.to_be_bytes());
        assert_eq!(parse_test_frame(&other_raw, None).unwrap().flow, 7);
        let mut ipv4 = f.clone();
        ipv4[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        assert!(parse_test_frame(&ipv4, None).is_err());
    }

    #[test]
    fn minimum_frame_lengths_per_kind() {
        let raw = PayloadKind::Raw { ethertype: 0x88b5 };
        assert_eq!(raw.min_frame_len(0), 60);
        assert_eq!(raw.min_frame_len(2), 60);
        assert_eq!(PayloadKind::Ipv4Udp.min_frame_len(0), 74);
        assert_eq!(PayloadKind::Ipv6Udp.min_frame_len(1), 98);
        assert_eq!(PayloadKind::Arp.min_frame_len(0), 74);
    }

    #[test]
    fn tci_round_trip_and_display() {
        let tag = VlanTag {
            tpid: TPID_8021Q,
            pcp: 7,
            dei: true,
            vid: 4094,
        };
        assert_eq!(VlanTag::from_tci(TPID_8021Q, tag.tci()), tag);
        assert_eq!(tag.to_string(), "8100:4094/p7/dei");
        assert_eq!(Tags::NONE.to_string(), "untagged");
    }

    fn header(tags: &[VlanTag]) -> EthernetHeader {
        EthernetHeader {
            dst: MacAddr([0x02, 0, 0, 0, 0, 2]),
            src: MacAddr([0x02, 0, 0, 0, 0, 1]),
            tags: Tags::from_slice(tags).unwrap(),
            ethertype: ETHERTYPE_IPV6,
        }
    }

    fn emitted(h: &EthernetHeader) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.emit(&mut out);
        out[..n].to_vec()
    }

    #[test]
    fn an_ethernet_header_round_trips_with_zero_one_or_two_tags() {
        let q = VlanTag::from_tci(TPID_8021Q, (3 << 13) | 0x1000 | 10);
        let s = VlanTag::from_tci(TPID_8021AD, 300);
        let legacy = VlanTag::from_tci(TPID_QINQ_LEGACY, 7);
        for tags in [&[][..], &[q], &[s, q], &[legacy, q]] {
            let h = header(tags);
            let mut bytes = emitted(&h);
            assert_eq!(bytes.len(), h.header_len());
            let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
            assert_eq!(frame.header(None), Ok(h));
            assert_eq!((frame.dst(), frame.src()), (h.dst, h.src));
            let next = tags.get(1).map_or(ETHERTYPE_IPV6, |t| t.tpid);
            assert_eq!(frame.outer_tag(), tags.first().map(|&t| (t, next)));
            bytes.extend([0xab; 50]);
            let with_payload = EthernetFrame::new_checked(&bytes[..]).unwrap();
            assert_eq!(with_payload.header(None), Ok(h), "the payload is not read");
        }
        let untagged = header(&[]);
        assert_eq!(
            emitted(&untagged),
            [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]
        );
        let tagged = emitted(&header(&[q]));
        assert_eq!(&tagged[12..18], &[0x81, 0x00, 0x70, 10, 0x86, 0xdd]);
    }

    #[test]
    fn every_cut_of_a_header_is_refused_never_read_past() {
        let q = VlanTag::from_tci(TPID_8021Q, 10);
        let s = VlanTag::from_tci(TPID_8021AD, 300);
        let bytes = emitted(&header(&[s, q]));
        for cut in 0..bytes.len() {
            let part = &bytes[..cut];
            match EthernetFrame::new_checked(part) {
                Err(e) => {
                    assert!(cut < ETHER_HEADER_LEN, "cut {cut}");
                    assert_eq!(e, ParseError::Truncated("Ethernet"));
                }
                Ok(frame) => {
                    assert!(cut >= ETHER_HEADER_LEN);
                    assert_eq!(frame.header(None), Err(ParseError::Truncated("VLAN")));
                    let outer_whole = cut >= ETHER_HEADER_LEN + VLAN_TAG_LEN;
                    assert_eq!(frame.outer_tag().is_some(), outer_whole, "cut {cut}");
                }
            }
        }
        assert!(EthernetFrame::new_checked(&bytes[..]).is_ok());
    }

    #[test]
    fn a_stripped_tag_counts_toward_the_two_a_header_holds() {
        let q = VlanTag::from_tci(TPID_8021Q, 10);
        let s = VlanTag::from_tci(TPID_8021AD, 300);
        let one = emitted(&header(&[q]));
        let frame = EthernetFrame::new_checked(&one[..]).unwrap();
        assert_eq!(frame.header(Some(s)), Ok(header(&[s, q])));
        let two = emitted(&header(&[s, q]));
        let frame = EthernetFrame::new_checked(&two[..]).unwrap();
        assert_eq!(frame.header(Some(s)), Err(ParseError::TooManyTags));
        let mut three = two[..12].to_vec();
        three.extend(s.to_bytes());
        three.extend(&two[12..]);
        let frame = EthernetFrame::new_checked(&three[..]).unwrap();
        assert_eq!(frame.header(None), Err(ParseError::TooManyTags));
        assert_eq!(frame.outer_tag(), Some((s, TPID_8021AD)));
        assert_eq!(Tags::from_slice(&[s, s, q]), Err(ParseError::TooManyTags));
        assert_eq!(Tags::new([None, Some(q)]).as_slice(), &[q]);
        assert_eq!(Tags::new([Some(s), Some(q)]).as_slice(), &[s, q]);
    }

    #[test]
    fn setters_rewrite_macs_and_tags_in_place() {
        let q = VlanTag::from_tci(TPID_8021Q, 10);
        let s = VlanTag::from_tci(TPID_8021AD, 300);
        let mut bytes = emitted(&header(&[s, q]));
        let mut frame = EthernetFrame::new_checked(&mut bytes[..]).unwrap();
        frame.swap_macs();
        let moved = VlanTag { vid: 4000, ..q };
        frame.set_tag(1, moved).unwrap();
        assert_eq!(
            frame.set_tag(2, q),
            Err(ParseError::Truncated("VLAN")),
            "no room for a third tag and the type after it"
        );
        let mut want = header(&[s, moved]);
        (want.dst, want.src) = (want.src, want.dst);
        assert_eq!(frame.header(None), Ok(want));
        frame.set_dst(MacAddr::BROADCAST);
        frame.set_src(MacAddr([0x02, 9, 9, 9, 9, 9]));
        let got = frame.header(None).unwrap();
        assert_eq!(
            (got.dst, got.src),
            (MacAddr::BROADCAST, MacAddr([0x02, 9, 9, 9, 9, 9]))
        );
    }

    #[test]
    fn a_pushed_tag_goes_outermost_and_the_rest_stays_put() {
        let q = VlanTag::from_tci(TPID_8021Q, 10);
        let s = VlanTag::from_tci(TPID_8021AD, 300);
        let mut inner = emitted(&header(&[q]));
        inner.extend([0xab; 40]);
        let mut room = vec![0xee; VLAN_TAG_LEN];
        room.extend(&inner);
        let frame = EthernetFrame::push_tag(&mut room[..], s).unwrap();
        assert_eq!(frame.header(None), Ok(header(&[s, q])));
        let mut want = emitted(&header(&[s, q]));
        want.extend([0xab; 40]);
        assert_eq!(room, want);
        for len in 0..VLAN_TAG_LEN + ETHER_HEADER_LEN {
            let mut short = vec![0x5a; len];
            assert!(EthernetFrame::push_tag(&mut short[..], s).is_err());
            assert!(short.iter().all(|&b| b == 0x5a), "left alone");
        }
    }

    proptest! {
        #[test]
        fn any_header_round_trips(dst: [u8; 6], src: [u8; 6], tcis in proptest::collection::vec(any::<u16>(), 0..=MAX_TAGS),
                                  ethertype in any::<u16>().prop_filter("not a TPID", |t| !is_tpid(*t))) {
            let tags: Vec<VlanTag> = tcis.iter().map(|&t| VlanTag::from_tci(TPID_8021Q, t)).collect();
            let h = EthernetHeader { dst: MacAddr(dst), src: MacAddr(src), tags: Tags::from_slice(&tags).unwrap(), ethertype };
            let bytes = emitted(&h);
            prop_assert_eq!(EthernetFrame::new_checked(&bytes[..]).unwrap().header(None), Ok(h));
        }

        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                tci in proptest::option::of(any::<u16>())) {
            let _ = parse_test_frame(&bytes, tci.map(|t| VlanTag::from_tci(TPID_8021Q, t)));
        }

        #[test]
        fn a_stamped_payload_reads_back(flow: u32, seq: u64, ts: u64) {
            let mut buf = [0u8; PAYLOAD_LEN];
            let mut view = TestPayload::new_unchecked_mut(&mut buf[..]).unwrap();
            view.emit_header(PayloadKind::Ipv4Udp);
            view.stamp(flow, seq, ts);
            let read = TestPayload::new_checked(&buf[..]).unwrap();
            prop_assert_eq!((read.flow(), read.sequence(), read.timestamp_ns()), (flow, seq, ts));
        }
    }
}
