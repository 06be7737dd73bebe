//! Injected randomness (RFC 7016 3.5.1.1.1 tags, session IDs; RFC 7425 4.5.2.2 and DH keys).
//!
//! Library code never reaches for a global generator: every function that needs
//! random bytes takes a `&mut dyn Random`. Simulations and tests pass a
//! [`SeededRandom`], whose output depends only on its seed on every platform, so
//! the same seed replays the same run byte for byte; the CLI and the UDP driver
//! pass an [`OsRandom`].

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng, UnwrapErr};

/// A source of random bytes.
///
/// Implemented for every `rand_core` 0.10 [`CryptoRng`], so any cryptographically
/// strong generator can be passed where a `&mut dyn Random` is asked for.
pub trait Random {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

impl<R: CryptoRng + ?Sized> Random for R {
    fn fill(&mut self, dest: &mut [u8]) {
        self.fill_bytes(dest);
    }
}

/// A deterministic generator for tests and simulation: ChaCha20 keyed from a seed.
///
/// ChaCha20's output is fixed by its specification, so a seed gives the same
/// bytes on every platform and in every build.
#[derive(Debug, Clone)]
pub struct SeededRandom(ChaCha20Rng);

impl SeededRandom {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRandom(ChaCha20Rng::seed_from_u64(seed))
    }

    /// A generator keyed directly with a 32-byte ChaCha20 key.
    pub fn from_key(key: [u8; 32]) -> Self {
        SeededRandom(ChaCha20Rng::from_seed(key))
    }
}

impl Random for SeededRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        use rand_core::Rng;
        self.0.fill_bytes(dest);
    }
}

/// The operating system's generator (getrandom), for real endpoints.
///
/// If the operating system cannot supply random bytes at all, this panics: no
/// key, tag or session ID could be made safely, so there is nothing sensible to
/// carry on with. That is a failure of the host, never of input.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        use rand_core::Rng;
        UnwrapErr(getrandom::SysRng).fill_bytes(dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_output_depends_only_on_the_seed() {
        let mut a = SeededRandom::new(7);
        let mut b = SeededRandom::new(7);
        let mut c = SeededRandom::new(8);
        let (mut x, mut y, mut z) = ([0u8; 40], [0u8; 40], [0u8; 40]);
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn seeded_chacha20_matches_its_specification() {
        // RFC 8439 section 2.3.2 uses a nonce; rand_chacha uses a zero nonce and
        // counter 0. The all-zero key's first keystream block is the well-known
        // ChaCha20 test vector (e.g. RFC 7539 appendix A.1, test vector #1).
        let mut r = SeededRandom::from_key([0u8; 32]);
        let mut out = [0u8; 16];
        r.fill(&mut out);
        assert_eq!(hex::encode(out), "76b8e0ada0f13d90405d6ae55386bd28");
    }

    #[test]
    fn os_random_fills() {
        let mut r = OsRandom;
        let mut out = [0u8; 32];
        r.fill(&mut out);
        // 2^-256 chance of a false failure.
        assert_ne!(out, [0u8; 32]);
    }

    #[test]
    fn any_crypto_rng_is_a_random() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let r: &mut dyn Random = &mut rng;
        let mut out = [0u8; 8];
        r.fill(&mut out);
        assert_ne!(out, [0u8; 8]);
    }
}
