//! Values a scenario derives from its `seed` instead of drawing them at random, so the same file
//! always gives the same lab: generated MACs (also where Docker 28+ and the kernel would pick
//! random ones), the IDs mvlab gives Docker networks, and the ULA prefix of a modelled Docker
//! engine. One keyed hash under all of them (FNV-1a, then SplitMix64's finaliser): stable across
//! versions and platforms. Pure.

use std::net::Ipv6Addr;

use crate::addr::MacAddr;

/// 64 well-mixed bits of `key` under `seed`; `attempt` picks another value for the same key.
fn hash(seed: u64, key: &str, attempt: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in key.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A deterministic, locally administered unicast MAC for `key`.
pub(in crate::scenario) fn generated_mac(seed: u64, key: &str, attempt: u32) -> MacAddr {
    let b = hash(seed, key, attempt).to_be_bytes();
    MacAddr([0x02, b[0], b[1], b[2], b[3], b[4]])
}

/// The ID mvlab gives the Docker network `name`: 64 hex digits, as Docker's are (Docker draws
/// its own at random, so a real engine's differ; only the words that quote an ID show it).
pub(in crate::scenario) fn docker_network_id(seed: u64, name: &str) -> String {
    (0..4)
        .map(|part| {
            format!(
                "{:016x}",
                hash(seed, &format!("docker-network/{name}"), part)
            )
        })
        .collect()
}

/// The ULA /48 a modelled Docker engine (27 and later) derives its IPv6 pools from: `fd` and 40
/// bits. Docker takes the 40 bits from the SHA-256 of its engine ID (`<data-root>/engine-id`, a
/// random UUID made at first start); mvlab takes them from the seed, so the prefix is stable for
/// a scenario but differs from any real engine's.
pub(in crate::scenario) fn docker_ula_prefix(seed: u64) -> Ipv6Addr {
    let global_id = u128::from(hash(seed, "docker-engine-id", 0) & ((1 << 40) - 1));
    Ipv6Addr::from((0xfdu128 << 120) | (global_id << 80))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_are_stable_and_well_formed() {
        let mac = generated_mac(1, "node/e1", 0);
        assert!(mac.is_lab_safe());
        assert_eq!(mac, generated_mac(1, "node/e1", 0));
        assert_ne!(mac, generated_mac(2, "node/e1", 0));
        let id = docker_network_id(1, "net0");
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, docker_network_id(1, "net1"));
        let ula = docker_ula_prefix(1).segments();
        assert_eq!(ula[0] >> 8, 0xfd);
        assert_eq!(&ula[3..], &[0; 5]);
    }
}
