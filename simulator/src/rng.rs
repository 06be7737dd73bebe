//! Seeded randomness: one independent ChaCha stream per named part of the network.
//!
//! The scenario seed is the only source of randomness. Each link direction, NAT or node that
//! needs random numbers gets its own stream, chosen by a stable hash of its name (for example
//! `link:alice@internet:up`). Adding a host therefore adds streams but never shifts the numbers
//! another link draws, and the same seed replays the same run on every platform: ChaCha8's
//! output and `seed_from_u64` are both specified bit for bit by their crates.

use core::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// A deterministic random stream owned by one part of the network.
#[derive(Clone, Debug)]
pub struct SimRng(ChaCha8Rng);

/// FNV-1a, 64 bits: a fixed, portable hash of a stream's name.
fn stream_id(label: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl SimRng {
    /// The stream named `label` under `seed`.
    pub fn stream(seed: u64, label: &str) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream_id(label));
        SimRng(rng)
    }

    /// A uniform `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Fills `dest` with random bytes (for nodes that need keys or nonces).
    pub fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`. Draws nothing when `p` is zero, so a fault that is switched
    /// off costs no randomness and leaves the stream where it was.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A uniform integer in `0..n` (zero when `n` is zero), by widening multiplication.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform duration in `0..=max`, to the microsecond. Draws nothing when `max` is zero.
    pub fn up_to(&mut self, max: Duration) -> Duration {
        let micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        if micros == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.below(micros.saturating_add(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_give_the_same_stream() {
        let mut a = SimRng::stream(7, "link:a:up");
        let mut b = SimRng::stream(7, "link:a:up");
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn names_and_seeds_select_different_streams() {
        let first = |seed, label| SimRng::stream(seed, label).next_u64();
        assert_ne!(first(7, "link:a:up"), first(7, "link:a:down"));
        assert_ne!(first(7, "link:a:up"), first(8, "link:a:up"));
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = SimRng::stream(1, "t");
        for _ in 0..1000 {
            assert!(r.below(10) < 10);
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.up_to(Duration::from_micros(5)) <= Duration::from_micros(5));
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn a_zero_probability_draws_nothing() {
        let mut a = SimRng::stream(3, "x");
        let mut b = SimRng::stream(3, "x");
        assert!(!a.chance(0.0));
        assert_eq!(a.up_to(Duration::ZERO), Duration::ZERO);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn chance_matches_its_probability_roughly() {
        let mut r = SimRng::stream(42, "stat");
        let hits = (0..100_000).filter(|_| r.chance(0.25)).count();
        // Binomial(100000, 0.25): sd is about 137; allow about 7 sd.
        assert!((24_000..26_000).contains(&hits), "{hits}");
    }
}
