//! MAC sweeps: `count` distinct lab MACs under one first octet, in order or in a seeded
//! permutation, and the way back from a MAC to its index. The sender puts the `i`-th MAC of a
//! sweep in its `i`-th frame; a receiver counts a sweep's frames per index in a dense array.
//! Pure arithmetic on 40-bit integers: no sockets, no allocation.

use serde::Serialize;

use crate::addr::MacAddr;

/// Bits of a swept MAC that vary: all but the first octet (which keeps the locally administered
/// bit and the unicast bit of the base).
const SWEEP_BITS: u32 = 40;
const SWEEP_SPACE: u64 = 1 << SWEEP_BITS;

/// `count` distinct MACs under `base`'s first octet, one per frame in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MacSweep {
    pub base: MacAddr,
    pub count: u64,
    pub order: SweepOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweepOrder {
    /// base, base+1, ... (the low 40 bits count up).
    Sequential,
    /// A seeded permutation of the 40-bit space: distinct, repeatable, scattered.
    Random { seed: u64 },
}

impl MacSweep {
    /// The `index`-th MAC of the sweep (`index < count`).
    pub fn mac(&self, index: u64) -> MacAddr {
        let low = match self.order {
            SweepOrder::Sequential => low40(self.base) + index,
            SweepOrder::Random { seed } => scramble40(index, seed),
        };
        let mut m = self.base.0;
        m[1..].copy_from_slice(&low.to_be_bytes()[3..]);
        MacAddr(m)
    }

    /// The index `i` with `self.mac(i) == mac`, when `mac` is one of the sweep's: a receiver
    /// counts a sweep's frames per index in a dense array instead of a table keyed by MAC.
    pub fn index_of(&self, mac: MacAddr) -> Option<u64> {
        if mac.0[0] != self.base.0[0] {
            return None;
        }
        let index = match self.order {
            SweepOrder::Sequential => low40(mac).checked_sub(low40(self.base))?,
            SweepOrder::Random { seed } => unscramble40(low40(mac), seed),
        };
        (index < self.count).then_some(index)
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self.count == 0 {
            return Err("a MAC sweep needs at least one address".into());
        }
        if !self.base.is_lab_safe() {
            return Err(format!(
                "sweep base {} is not a locally administered unicast MAC; start it with 02:",
                self.base
            ));
        }
        let room = match self.order {
            SweepOrder::Sequential => SWEEP_SPACE - low40(self.base),
            SweepOrder::Random { .. } => SWEEP_SPACE,
        };
        if self.count > room {
            return Err(format!(
                "a sweep of {} MACs from {} does not fit the {room} addresses left under its first octet; \
                 lower the count or the base",
                self.count, self.base
            ));
        }
        Ok(())
    }
}

fn low40(mac: MacAddr) -> u64 {
    let mut b = [0u8; 8];
    b[3..].copy_from_slice(&mac.0[1..]);
    u64::from_be_bytes(b)
}

/// The odd multiplier of `scramble40`'s rounds.
const SCRAMBLE_MUL: u64 = 0x5851_f42d_4c95_7f2d | 1;

fn scramble_key(seed: u64) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}

/// `SCRAMBLE_MUL`'s inverse mod 2^64 (so mod 2^40 too), computed once at compile time: Newton's
/// iteration doubles the correct low bits each step, and 6 steps pass 64.
const SCRAMBLE_MUL_INVERSE: u64 = {
    let mut inverse = SCRAMBLE_MUL;
    let mut step = 0;
    while step < 6 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(SCRAMBLE_MUL.wrapping_mul(inverse)));
        step += 1;
    }
    inverse
};

/// A bijection of [0, 2^40): xorshift-multiply rounds keyed by `seed`, each invertible mod 2^40.
fn scramble40(x: u64, seed: u64) -> u64 {
    let mask = SWEEP_SPACE - 1;
    let mut v = x & mask;
    let key = scramble_key(seed);
    for round in 0..3u64 {
        v = (v ^ (key.rotate_left(round as u32 * 13) & mask)) & mask;
        v = v.wrapping_mul(SCRAMBLE_MUL) & mask;
        v ^= v >> 19;
    }
    v
}

/// The inverse of `scramble40`: its rounds undone in reverse order (a 19-bit xorshift of a
/// 40-bit value is undone by two more; an odd multiplier by its inverse mod 2^40).
fn unscramble40(y: u64, seed: u64) -> u64 {
    let mask = SWEEP_SPACE - 1;
    let key = scramble_key(seed);
    let mut v = y & mask;
    for round in (0..3u64).rev() {
        v ^= (v >> 19) ^ (v >> 38);
        v = v.wrapping_mul(SCRAMBLE_MUL_INVERSE) & mask;
        v ^= key.rotate_left(round as u32 * 13) & mask;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> MacAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sequential_and_random_sweeps_are_distinct_and_lab_safe() {
        let seq = MacSweep {
            base: mac("02:00:00:00:00:fe"),
            count: 4,
            order: SweepOrder::Sequential,
        };
        let got: Vec<String> = (0..4).map(|i| seq.mac(i).to_string()).collect();
        assert_eq!(
            got,
            [
                "02:00:00:00:00:fe",
                "02:00:00:00:00:ff",
                "02:00:00:00:01:00",
                "02:00:00:00:01:01"
            ]
        );
        let rnd = MacSweep {
            base: mac("06:00:00:00:00:00"),
            count: 100_000,
            order: SweepOrder::Random { seed: 9 },
        };
        let mut all: Vec<MacAddr> = (0..rnd.count).map(|i| rnd.mac(i)).collect();
        assert!(all.iter().all(|m| m.is_lab_safe() && m.0[0] == 0x06));
        assert_eq!(rnd.mac(5), rnd.mac(5));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 100_000);
    }

    #[test]
    fn a_sweep_finds_the_index_of_each_of_its_macs_and_only_those() {
        for order in [SweepOrder::Sequential, SweepOrder::Random { seed: 77 }] {
            let s = MacSweep {
                base: mac("02:00:00:00:ff:f0"),
                count: 50_000,
                order,
            };
            for i in (0..s.count).step_by(7).chain([s.count - 1]) {
                assert_eq!(s.index_of(s.mac(i)), Some(i), "{order:?} index {i}");
            }
            let longer = MacSweep { count: 60_000, ..s };
            let outside = (50_000..60_000)
                .filter(|&i| s.index_of(longer.mac(i)).is_some())
                .count();
            assert_eq!(
                outside, 0,
                "{order:?}: a MAC past the sweep's end is not in it"
            );
            let other_octet = MacAddr([0x06, 0, 0, 0, 0xff, 0xf0]);
            assert_eq!(s.index_of(other_octet), None);
        }
        let first = MacSweep {
            base: mac("02:00:00:00:00:10"),
            count: 4,
            order: SweepOrder::Sequential,
        };
        assert_eq!(first.index_of(mac("02:00:00:00:00:0f")), None);
        assert_eq!(first.index_of(mac("02:00:00:00:00:13")), Some(3));
        assert_eq!(first.index_of(mac("02:00:00:00:00:14")), None);
    }

    #[test]
    fn sweeps_larger_than_the_mac_space_are_refused() {
        let s = MacSweep {
            base: mac("02:ff:ff:ff:ff:f0"),
            count: 17,
            order: SweepOrder::Sequential,
        };
        assert!(s.validate().unwrap_err().contains("does not fit"));
        assert!(MacSweep { count: 16, ..s }.validate().is_ok());
        let r = MacSweep {
            count: SWEEP_SPACE + 1,
            order: SweepOrder::Random { seed: 1 },
            ..s
        };
        assert!(r.validate().is_err());
        let vendor = MacSweep {
            base: mac("00:11:22:00:00:00"),
            count: 1,
            order: SweepOrder::Sequential,
        };
        assert!(
            vendor
                .validate()
                .unwrap_err()
                .contains("locally administered")
        );
    }
}
