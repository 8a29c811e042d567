//! Link-layer addresses and the lab's address rules. Owns `MacAddr` (parse, print, serde), the
//! locally-administered / unicast checks, the 802.1Q VLAN ids a VLAN may have (one rule for
//! scenarios, tests and `gen`), and the benchmarking ranges every lab address must come from
//! (198.18.0.0/15, RFC 2544; 2001:2::/48, RFC 5180). No I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The group bit (I/G, bit 0 of the first octet): broadcast and multicast.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// The U/L bit (bit 1 of the first octet): an address not assigned by a vendor.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// A locally administered unicast address: what every lab MAC must be.
    pub fn is_lab_safe(&self) -> bool {
        self.is_local() && !self.is_multicast()
    }

    /// Forces the address to be locally administered and unicast, keeping the other 46 bits.
    pub fn into_lab_safe(mut self) -> MacAddr {
        self.0[0] = (self.0[0] | 0x02) & !0x01;
        self
    }

    /// The Ethernet multicast address an IPv4 group maps to (RFC 1112: 01:00:5e + low 23 bits).
    pub fn for_ipv4_multicast(group: Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }

    /// The Ethernet multicast address an IPv6 group maps to (RFC 2464: 33:33 + low 32 bits).
    pub fn for_ipv6_multicast(group: Ipv6Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a MAC address; write six hex octets like 02:00:00:00:00:01")]
pub struct BadMac(pub String);

impl FromStr for MacAddr {
    type Err = BadMac;

    /// Accepts `02:00:5e:10:00:01` and `02-00-5E-10-00-01`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMac(s.to_string());
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The VLAN ids a VLAN may have: 802.1Q reserves 0 (a priority tag, no VLAN) and 4095.
pub const VLAN_IDS: std::ops::RangeInclusive<u16> = 1..=4094;

/// The hint that goes with a VLAN id outside `VLAN_IDS`.
pub const VLAN_ID_HINT: &str = "802.1Q ids 0 and 4095 are reserved; use 1 to 4094";

/// `id` as a VLAN id, or why it is not one (see `VLAN_IDS`).
pub fn vlan_id(id: i64) -> Result<u16, String> {
    u16::try_from(id)
        .ok()
        .filter(|v| VLAN_IDS.contains(v))
        .ok_or_else(|| format!("VLAN id {id} is outside 1..4094"))
}

/// The RFC 2544 IPv4 benchmarking range, 198.18.0.0/15.
pub const LAB_NET4: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 18, 0, 0), 15);
/// The RFC 5180 IPv6 benchmarking range, 2001:2::/48.
pub const LAB_NET6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48);

/// True when `ip` is inside the benchmarking ranges that lab traffic may use.
pub fn is_lab_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            u32::from(a) >> (32 - LAB_NET4.1) == u32::from(LAB_NET4.0) >> (32 - LAB_NET4.1)
        }
        IpAddr::V6(a) => {
            u128::from(a) >> (128 - LAB_NET6.1) == u128::from(LAB_NET6.0) >> (128 - LAB_NET6.1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        let m: MacAddr = "02-AB-cd-00-00-01".parse().unwrap();
        assert_eq!(m.to_string(), "02:ab:cd:00:00:01");
        assert_eq!(m.to_string().parse::<MacAddr>().unwrap(), m);
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:00:00",
            "2:00:00:00:00:00",
            "zz:00:00:00:00:00",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lab_safety_bits() {
        let vendor: MacAddr = "00:11:22:33:44:55".parse().unwrap();
        assert!(!vendor.is_lab_safe());
        let safe = vendor.into_lab_safe();
        assert!(safe.is_lab_safe());
        assert_eq!(safe.0[1..], vendor.0[1..]);
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::BROADCAST.into_lab_safe().is_multicast());
    }

    #[test]
    fn multicast_mappings() {
        assert_eq!(
            MacAddr::for_ipv4_multicast(Ipv4Addr::new(239, 200, 1, 2)).to_string(),
            "01:00:5e:48:01:02"
        );
        assert_eq!(
            MacAddr::for_ipv6_multicast("ff02::1".parse().unwrap()).to_string(),
            "33:33:00:00:00:01"
        );
    }

    #[test]
    fn benchmarking_ranges() {
        assert!(is_lab_address("198.18.0.1".parse().unwrap()));
        assert!(is_lab_address("198.19.255.255".parse().unwrap()));
        assert!(!is_lab_address("198.20.0.0".parse().unwrap()));
        assert!(!is_lab_address("10.0.0.1".parse().unwrap()));
        assert!(is_lab_address("2001:2:0:ffff::1".parse().unwrap()));
        assert!(!is_lab_address("2001:3::1".parse().unwrap()));
    }
}
