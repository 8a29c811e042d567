//! The emulated switch's MAC table: learned entries keyed by (VLAN, MAC) with the port and when
//! each was last seen, static entries keyed by MAC alone, and the limits on learning: the table's
//! capacity, each port's `mac_limit`, and a learning rate (a token bucket holding one second's
//! worth, full at start). Pure: time is a parameter, nothing here reads a clock or a socket, and
//! it decides nothing about forwarding.

use crate::addr::MacAddr;
use crate::engine::account::FastMap;

/// A port of the switch, by its position in the switch's port list.
pub type PortIdx = u16;

/// (VLAN, MAC) packed into one integer: the VLAN in the top 16 bits.
fn key(vlan: u16, mac: MacAddr) -> u64 {
    let mut b = [0u8; 8];
    b[..2].copy_from_slice(&vlan.to_be_bytes());
    b[2..].copy_from_slice(&mac.0);
    u64::from_be_bytes(b)
}

fn unkey(key: u64) -> (u16, MacAddr) {
    let b = key.to_be_bytes();
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&b[2..]);
    (u16::from_be_bytes([b[0], b[1]]), MacAddr(mac))
}

/// A learned entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub port: PortIdx,
    /// Monotonic ns when a frame from it last arrived.
    pub last_seen: u64,
    /// Never ages (sticky port security).
    pub sticky: bool,
}

/// Why a source was not learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The table holds `fdb_max_learned` entries.
    Capacity,
    /// The port holds its `mac_limit`.
    PortLimit,
    /// The learning rate's bucket is empty.
    Rate,
}

/// What `learn` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Already there on this port: refreshed.
    Known,
    New,
    Moved {
        from: PortIdx,
    },
    Refused(Refusal),
}

/// New entries per second at most: a bucket of one second's worth of tokens.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: u64,
}

impl Bucket {
    fn take(&mut self, now: u64) -> bool {
        let elapsed = now.saturating_sub(self.last) as f64 / 1e9;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Clone)]
pub struct MacTable {
    learned: FastMap<u64, Entry>,
    statics: FastMap<u64, PortIdx>,
    per_port: Vec<u32>,
    limits: Vec<Option<u32>>,
    capacity: Option<u32>,
    bucket: Option<Bucket>,
}

impl MacTable {
    /// A table for ports with these `mac_limit`s; `statics` are (port, MAC) pairs.
    pub fn new(
        limits: Vec<Option<u32>>,
        capacity: Option<u32>,
        learning_rate: Option<u32>,
        statics: impl IntoIterator<Item = (PortIdx, MacAddr)>,
        now: u64,
    ) -> MacTable {
        MacTable {
            learned: FastMap::default(),
            statics: statics
                .into_iter()
                .map(|(port, mac)| (key(0, mac), port))
                .collect(),
            per_port: vec![0; limits.len()],
            limits,
            capacity,
            bucket: learning_rate.map(|r| Bucket {
                rate: f64::from(r),
                tokens: f64::from(r),
                last: now,
            }),
        }
    }

    /// The port `mac` is learned on in `vlan`.
    pub fn lookup(&self, vlan: u16, mac: MacAddr) -> Option<PortIdx> {
        self.learned.get(&key(vlan, mac)).map(|e| e.port)
    }

    /// The port `mac` is static on, in whatever VLAN.
    pub fn static_port(&self, mac: MacAddr) -> Option<PortIdx> {
        self.statics.get(&key(0, mac)).copied()
    }

    /// Learned entries on `port`.
    pub fn learned_on(&self, port: PortIdx) -> u32 {
        self.per_port[usize::from(port)]
    }

    /// Static entries on `port`.
    pub fn statics_on(&self, port: PortIdx) -> u32 {
        self.statics.values().filter(|&&p| p == port).count() as u32
    }

    /// Records that `mac` sent a frame into `port` in `vlan`: refreshes a known entry, moves
    /// one learned elsewhere (a move needs room under the new port's `mac_limit` only), or adds
    /// a new one if the capacity, the port's limit and the learning rate allow.
    pub fn learn(
        &mut self,
        vlan: u16,
        mac: MacAddr,
        port: PortIdx,
        now: u64,
        sticky: bool,
    ) -> Learned {
        let k = key(vlan, mac);
        let here = usize::from(port);
        let room_on_port = self.limits[here].is_none_or(|l| self.per_port[here] < l);
        if let Some(e) = self.learned.get_mut(&k) {
            if e.port == port {
                e.last_seen = now;
                return Learned::Known;
            }
            if !room_on_port {
                return Learned::Refused(Refusal::PortLimit);
            }
            let from = e.port;
            self.per_port[usize::from(from)] -= 1;
            self.per_port[here] += 1;
            *e = Entry {
                port,
                last_seen: now,
                sticky,
            };
            return Learned::Moved { from };
        }
        if !room_on_port {
            return Learned::Refused(Refusal::PortLimit);
        }
        if self
            .capacity
            .is_some_and(|c| self.learned.len() >= c as usize)
        {
            return Learned::Refused(Refusal::Capacity);
        }
        if let Some(bucket) = &mut self.bucket
            && !bucket.take(now)
        {
            return Learned::Refused(Refusal::Rate);
        }
        self.learned.insert(
            k,
            Entry {
                port,
                last_seen: now,
                sticky,
            },
        );
        self.per_port[here] += 1;
        Learned::New
    }

    /// Removes the entries learned on `port` (a port that stopped), returning how many.
    pub fn forget_port(&mut self, port: PortIdx) -> u32 {
        let before = self.learned.len();
        self.learned.retain(|_, e| e.port != port);
        self.per_port[usize::from(port)] = 0;
        (before - self.learned.len()) as u32
    }

    /// Removes every non-sticky entry unseen for `ageing_ns`, calling `aged` for each.
    pub fn age(&mut self, now: u64, ageing_ns: u64, mut aged: impl FnMut(u16, MacAddr, PortIdx)) {
        let per_port = &mut self.per_port;
        self.learned.retain(|&k, e| {
            let keep = e.sticky || now.saturating_sub(e.last_seen) < ageing_ns;
            if !keep {
                let (vlan, mac) = unkey(k);
                per_port[usize::from(e.port)] -= 1;
                aged(vlan, mac, e.port);
            }
            keep
        });
    }

    /// Every learned entry as (VLAN, MAC, entry), in no particular order.
    pub fn learned(&self) -> impl Iterator<Item = (u16, MacAddr, Entry)> + '_ {
        self.learned.iter().map(|(&k, &e)| {
            let (vlan, mac) = unkey(k);
            (vlan, mac, e)
        })
    }

    /// Every static entry as (MAC, port).
    pub fn statics(&self) -> impl Iterator<Item = (MacAddr, PortIdx)> + '_ {
        self.statics.iter().map(|(&k, &p)| (unkey(k).1, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, n])
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn keys_round_trip_and_vlans_are_separate() {
        let k = key(4094, mac(7));
        assert_eq!(unkey(k), (4094, mac(7)));
        let mut t = MacTable::new(vec![None, None], None, None, [], 0);
        assert_eq!(t.learn(10, mac(1), 0, 0, false), Learned::New);
        assert_eq!(t.learn(20, mac(1), 1, 0, false), Learned::New);
        assert_eq!(t.lookup(10, mac(1)), Some(0));
        assert_eq!(t.lookup(20, mac(1)), Some(1));
        assert_eq!(t.lookup(30, mac(1)), None);
        assert_eq!(t.learn(10, mac(1), 0, 5, false), Learned::Known);
        assert_eq!(t.learn(10, mac(1), 1, 6, false), Learned::Moved { from: 0 });
        assert_eq!((t.learned_on(0), t.learned_on(1)), (0, 2));
    }

    #[test]
    fn capacity_and_port_limits_refuse_new_sources() {
        let mut t = MacTable::new(vec![Some(1), None], Some(2), None, [], 0);
        assert_eq!(t.learn(0, mac(1), 0, 0, false), Learned::New);
        assert_eq!(
            t.learn(0, mac(2), 0, 0, false),
            Learned::Refused(Refusal::PortLimit)
        );
        assert_eq!(t.learn(0, mac(3), 1, 0, false), Learned::New);
        assert_eq!(
            t.learn(0, mac(4), 1, 0, false),
            Learned::Refused(Refusal::Capacity)
        );
        // A move needs room on the new port only, not in the table.
        assert_eq!(
            t.learn(0, mac(3), 0, 0, false),
            Learned::Refused(Refusal::PortLimit)
        );
        assert_eq!(t.learn(0, mac(1), 1, 0, false), Learned::Moved { from: 0 });
        assert_eq!(t.learned().count(), 2);
    }

    #[test]
    fn the_learning_rate_refills_a_second_worth() {
        let mut t = MacTable::new(vec![None], None, Some(2), [], 0);
        assert_eq!(t.learn(0, mac(1), 0, 0, false), Learned::New);
        assert_eq!(t.learn(0, mac(2), 0, 0, false), Learned::New);
        assert_eq!(
            t.learn(0, mac(3), 0, 0, false),
            Learned::Refused(Refusal::Rate)
        );
        // Known sources cost nothing.
        assert_eq!(t.learn(0, mac(1), 0, 1, false), Learned::Known);
        assert_eq!(t.learn(0, mac(3), 0, S / 2, false), Learned::New);
        assert_eq!(
            t.learn(0, mac(4), 0, S / 2, false),
            Learned::Refused(Refusal::Rate)
        );
        // Ten idle seconds refill no more than one second's worth.
        assert_eq!(t.learn(0, mac(4), 0, 11 * S, false), Learned::New);
        assert_eq!(t.learn(0, mac(5), 0, 11 * S, false), Learned::New);
        assert_eq!(
            t.learn(0, mac(6), 0, 11 * S, false),
            Learned::Refused(Refusal::Rate)
        );
    }

    #[test]
    fn ageing_spares_sticky_entries_and_statics_are_apart() {
        let mut t = MacTable::new(vec![None, None], None, None, [(1, mac(9))], 0);
        t.learn(0, mac(1), 0, 0, false);
        t.learn(0, mac(2), 0, 0, true);
        t.learn(0, mac(3), 1, 200 * S, false);
        let mut aged = Vec::new();
        t.age(301 * S, 300 * S, |v, m, p| aged.push((v, m, p)));
        assert_eq!(aged, [(0, mac(1), 0)]);
        assert_eq!(t.learned_on(0), 1);
        assert_eq!(t.lookup(0, mac(2)), Some(0));
        assert_eq!(t.static_port(mac(9)), Some(1));
        assert_eq!(t.lookup(0, mac(9)), None);
        assert_eq!(t.statics_on(1), 1);
        assert_eq!(t.forget_port(1), 1);
        assert_eq!(t.learned_on(1), 0);
    }
}
