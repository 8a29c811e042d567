//! The pcapng writer. Owns the file layout (a section header, one Ethernet interface with
//! nanosecond timestamps, `if_tsresol` = 9, and an enhanced packet block per frame) and the
//! re-insertion of a VLAN tag the kernel moved into metadata, so tcpdump and tshark show the
//! frame as it was on the wire. Writes through a buffer; it never reads or parses files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::wire::{VLAN_TAG_LEN, VlanTag};

const LINKTYPE_ETHERNET: u16 = 1;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const BLOCK_SHB: u32 = 0x0a0d_0d0a;
const BLOCK_IDB: u32 = 0x0000_0001;
const BLOCK_EPB: u32 = 0x0000_0006;
const OPT_END: u16 = 0;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_SHB_USERAPPL: u16 = 4;
const SNAPLEN: u32 = 262_144;

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// A pcapng file being written.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    frames: u64,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates `path` for a capture on `iface`.
    pub fn create(path: &Path, iface: &str) -> io::Result<Self> {
        let file = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", path.display())))?;
        PcapWriter::new(BufWriter::with_capacity(1 << 20, file), iface)
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the section header and the interface description to `out`.
    pub fn new(mut out: W, iface: &str) -> io::Result<Self> {
        let appl = b"mvlab";
        let shb_opts = 4 + pad4(appl.len()) + 4;
        let shb_len = 28 + shb_opts;
        out.write_all(&BLOCK_SHB.to_le_bytes())?;
        out.write_all(&(shb_len as u32).to_le_bytes())?;
        out.write_all(&BYTE_ORDER_MAGIC.to_le_bytes())?;
        out.write_all(&1u16.to_le_bytes())?;
        out.write_all(&0u16.to_le_bytes())?;
        out.write_all(&(-1i64).to_le_bytes())?;
        write_option(&mut out, OPT_SHB_USERAPPL, appl)?;
        write_option(&mut out, OPT_END, &[])?;
        out.write_all(&(shb_len as u32).to_le_bytes())?;

        let name = iface.as_bytes();
        let idb_opts = 4 + pad4(name.len()) + 4 + 4 + 4;
        let idb_len = 20 + idb_opts;
        out.write_all(&BLOCK_IDB.to_le_bytes())?;
        out.write_all(&(idb_len as u32).to_le_bytes())?;
        out.write_all(&LINKTYPE_ETHERNET.to_le_bytes())?;
        out.write_all(&0u16.to_le_bytes())?;
        out.write_all(&SNAPLEN.to_le_bytes())?;
        write_option(&mut out, OPT_IF_NAME, name)?;
        write_option(&mut out, OPT_IF_TSRESOL, &[9])?;
        write_option(&mut out, OPT_END, &[])?;
        out.write_all(&(idb_len as u32).to_le_bytes())?;
        Ok(PcapWriter { out, frames: 0 })
    }

    /// Appends one frame received at `ts_ns` (ns since the epoch). `stripped` is the tag the
    /// kernel moved out of the frame; it goes back in after the MAC addresses. `wire_len` is the
    /// frame's original length without that tag.
    pub fn write_frame(
        &mut self,
        ts_ns: u64,
        data: &[u8],
        wire_len: usize,
        stripped: Option<VlanTag>,
    ) -> io::Result<()> {
        let extra = if stripped.is_some() && data.len() >= 12 {
            VLAN_TAG_LEN
        } else {
            0
        };
        let caplen = data.len() + extra;
        let block_len = 28 + pad4(caplen) + 4;
        self.out.write_all(&BLOCK_EPB.to_le_bytes())?;
        self.out.write_all(&(block_len as u32).to_le_bytes())?;
        self.out.write_all(&0u32.to_le_bytes())?;
        self.out.write_all(&((ts_ns >> 32) as u32).to_le_bytes())?;
        self.out.write_all(&(ts_ns as u32).to_le_bytes())?;
        self.out.write_all(&(caplen as u32).to_le_bytes())?;
        self.out
            .write_all(&((wire_len + extra) as u32).to_le_bytes())?;
        match stripped {
            Some(tag) if extra > 0 => {
                self.out.write_all(&data[..12])?;
                self.out.write_all(&tag.to_bytes())?;
                self.out.write_all(&data[12..])?;
            }
            _ => self.out.write_all(data)?,
        }
        self.out.write_all(&[0u8; 3][..pad4(caplen) - caplen])?;
        self.out.write_all(&(block_len as u32).to_le_bytes())?;
        self.frames += 1;
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.frames)
    }
}

fn write_option(out: &mut impl Write, code: u16, value: &[u8]) -> io::Result<()> {
    out.write_all(&code.to_le_bytes())?;
    out.write_all(&(value.len() as u16).to_le_bytes())?;
    out.write_all(value)?;
    out.write_all(&[0u8; 3][..pad4(value.len()) - value.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wire::TPID_8021Q;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// Walks the blocks by their lengths: every block's leading and trailing lengths agree and
    /// the walk ends exactly at the end of the file.
    #[test]
    fn blocks_are_well_formed_and_the_tag_goes_back_in() {
        let mut w = PcapWriter::new(Vec::new(), "eth0").unwrap();
        let frame: Vec<u8> = (0..61u8).collect();
        let tag = VlanTag::from_tci(TPID_8021Q, 100);
        w.write_frame(1_700_000_000_123_456_789, &frame, 61, Some(tag))
            .unwrap();
        w.write_frame(5, &frame[..60], 60, None).unwrap();
        let bytes = w.out;
        let mut at = 0;
        let mut types = Vec::new();
        while at < bytes.len() {
            let len = u32_at(&bytes, at + 4) as usize;
            assert_eq!(len % 4, 0);
            assert_eq!(u32_at(&bytes, at + len - 4) as usize, len);
            types.push(u32_at(&bytes, at));
            at += len;
        }
        assert_eq!(at, bytes.len());
        assert_eq!(types, [BLOCK_SHB, BLOCK_IDB, BLOCK_EPB, BLOCK_EPB]);
        let epb = bytes.len() - (28 + 68 + 4) - (28 + 60 + 4);
        let ts = (u64::from(u32_at(&bytes, epb + 12)) << 32) | u64::from(u32_at(&bytes, epb + 16));
        assert_eq!(ts, 1_700_000_000_123_456_789);
        assert_eq!(u32_at(&bytes, epb + 20), 65);
        let data = &bytes[epb + 28..epb + 28 + 65];
        assert_eq!(&data[..12], &frame[..12]);
        assert_eq!(&data[12..16], &[0x81, 0x00, 0x00, 100]);
        assert_eq!(&data[16..], &frame[12..]);
    }
}
