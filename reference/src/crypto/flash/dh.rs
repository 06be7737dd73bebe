//! Diffie-Hellman key agreement, RFC 7425 sections 4.2 and 4.6.2.
//!
//! MODP groups 2 (RFC 7296 appendix B.2, mandatory), 5 and 14 (RFC 3526,
//! recommended) and 16 (RFC 3526; rtmfp-cpp prefers it), all with generator 2.
//! The primes are the published constants; `vectors/crypto/dh_groups.yaml`
//! recomputes them from their defining formula
//! `2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k)`.
//!
//! Private exponents are drawn from the injected generator and are shorter than
//! the modulus, as RFC 3526 section 8 allows: twice the group's estimated
//! strength in bits (RFC 3526's upper estimates: 240 for group 5, 320 for 14,
//! 480 for 16), and never below 256 bits, with the top bit set so the size is
//! exact. Group 2 thus gets 256. Short exponents keep a 4096-bit handshake in
//! milliseconds while brute force on the exponent costs at least 2^128.

use std::sync::OnceLock;

use num_bigint::BigUint;
use num_traits::Zero;

use crate::crypto::error::CryptoError;
use crate::random::Random;

const MODP_1024: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
);

const MODP_1536: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
);

const MODP_2048: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

const MODP_4096: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8",
    "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2",
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
);

/// A Diffie-Hellman MODP group this profile supports (RFC 7425 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DhGroup {
    /// Group 2: 1024-bit MODP (RFC 7296 B.2). Every implementation must support it.
    Modp1024,
    /// Group 5: 1536-bit MODP (RFC 3526 section 2).
    Modp1536,
    /// Group 14: 2048-bit MODP (RFC 3526 section 3).
    Modp2048,
    /// Group 16: 4096-bit MODP (RFC 3526 section 5).
    Modp4096,
}

/// The generator of every MODP group here.
pub const GENERATOR: u32 = 2;

/// The smallest acceptable public key and the margin below the prime: 2^24 (RFC 7425 4.6.2).
pub const PUBLIC_KEY_MARGIN: u32 = 1 << 24;

/// At least this many one bits, and this many zero bits below the top one bit (RFC 7425 4.6.2).
pub const PUBLIC_KEY_MIN_BITS: u64 = 16;

impl DhGroup {
    /// Every supported group, strongest first.
    pub const ALL: [DhGroup; 4] = [
        DhGroup::Modp4096,
        DhGroup::Modp2048,
        DhGroup::Modp1536,
        DhGroup::Modp1024,
    ];

    /// The group ID carried in certificates and keying components.
    pub fn id(self) -> u64 {
        match self {
            DhGroup::Modp1024 => 2,
            DhGroup::Modp1536 => 5,
            DhGroup::Modp2048 => 14,
            DhGroup::Modp4096 => 16,
        }
    }

    /// The group with this ID, if supported.
    pub fn from_id(id: u64) -> Option<DhGroup> {
        match id {
            2 => Some(DhGroup::Modp1024),
            5 => Some(DhGroup::Modp1536),
            14 => Some(DhGroup::Modp2048),
            16 => Some(DhGroup::Modp4096),
            _ => None,
        }
    }

    /// The size of the prime in bits.
    pub fn bits(self) -> usize {
        match self {
            DhGroup::Modp1024 => 1024,
            DhGroup::Modp1536 => 1536,
            DhGroup::Modp2048 => 2048,
            DhGroup::Modp4096 => 4096,
        }
    }

    /// The size of private exponents generated here, in bits (see the module comment).
    pub fn private_exponent_bits(self) -> usize {
        match self {
            DhGroup::Modp1024 | DhGroup::Modp1536 => 256,
            DhGroup::Modp2048 => 320,
            DhGroup::Modp4096 => 480,
        }
    }

    /// The group's prime modulus.
    pub fn prime(self) -> &'static BigUint {
        static PRIMES: [OnceLock<BigUint>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let (slot, hex) = match self {
            DhGroup::Modp1024 => (&PRIMES[0], MODP_1024),
            DhGroup::Modp1536 => (&PRIMES[1], MODP_1536),
            DhGroup::Modp2048 => (&PRIMES[2], MODP_2048),
            DhGroup::Modp4096 => (&PRIMES[3], MODP_4096),
        };
        slot.get_or_init(|| {
            // The constants above are valid hex by construction (checked by a test).
            BigUint::parse_bytes(hex.as_bytes(), 16).unwrap_or_default()
        })
    }
}

/// Why a public key is unacceptable (RFC 7425 4.6.2); the names are stable.
fn unacceptable(reason: &'static str) -> CryptoError {
    CryptoError::UnacceptablePublicKey { reason }
}

/// Checks a far public key against RFC 7425 4.6.2 and returns its value.
///
/// The checks run in this order and the first failure is reported:
/// `too_small` (below 2^24), `too_large` (above p - 2^24), `too_few_ones`
/// (fewer than 16 one bits), `too_few_zeros` (fewer than 16 zero bits below the
/// most significant one bit; leading zero bytes of the encoding do not count).
pub fn check_public_key(group: DhGroup, public_key: &[u8]) -> Result<BigUint, CryptoError> {
    let y = BigUint::from_bytes_be(public_key);
    let margin = BigUint::from(PUBLIC_KEY_MARGIN);
    if y < margin {
        return Err(unacceptable("too_small"));
    }
    // p > 2^24 for every group, so this cannot underflow.
    if y > group.prime() - &margin {
        return Err(unacceptable("too_large"));
    }
    let ones = y.count_ones();
    if ones < PUBLIC_KEY_MIN_BITS {
        return Err(unacceptable("too_few_ones"));
    }
    let zeros = y.bits() - ones;
    if zeros < PUBLIC_KEY_MIN_BITS {
        return Err(unacceptable("too_few_zeros"));
    }
    Ok(y)
}

/// Encodes a shared secret as DH_SECRET: big-endian with no leading zero bytes (RFC 7425 4.6.2).
pub fn encode_secret(secret: &BigUint) -> Vec<u8> {
    if secret.is_zero() {
        // Unreachable with checked keys; an empty encoding would be ambiguous, so keep one byte.
        return vec![0];
    }
    secret.to_bytes_be()
}

/// A Diffie-Hellman private key in one group, with its public key.
#[derive(Clone)]
pub struct PrivateKey {
    group: DhGroup,
    exponent: BigUint,
    public_key: Vec<u8>,
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// How many fresh exponents [`generate`](Self::generate) tries before giving up.
    /// Each try fails the 4.6.2 checks with probability below 2^-20.
    const GENERATE_ATTEMPTS: usize = 64;

    /// Draws a private exponent of [`DhGroup::private_exponent_bits`] bits from `rng`
    /// and computes the public key, retrying if the public key would fail the
    /// checks of RFC 7425 4.6.2 (a far end would refuse it).
    ///
    /// Returns `None` only if the generator keeps producing unusable keys (a
    /// broken generator, such as one that returns only zeros).
    pub fn generate(group: DhGroup, rng: &mut dyn Random) -> Option<PrivateKey> {
        let len = group.private_exponent_bits() / 8;
        let mut bytes = vec![0u8; len];
        for _ in 0..Self::GENERATE_ATTEMPTS {
            rng.fill(&mut bytes);
            bytes[0] |= 0x80;
            let key = PrivateKey::from_exponent(group, &bytes);
            if check_public_key(group, &key.public_key).is_ok() {
                return Some(key);
            }
        }
        None
    }

    /// A private key with the given big-endian exponent (for test vectors and
    /// for loading a stored static key).
    pub fn from_exponent(group: DhGroup, exponent: &[u8]) -> PrivateKey {
        let exponent = BigUint::from_bytes_be(exponent);
        let public = BigUint::from(GENERATOR).modpow(&exponent, group.prime());
        PrivateKey {
            group,
            exponent,
            public_key: public.to_bytes_be(),
        }
    }

    /// The group.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// The public key, big-endian with no leading zero bytes.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The exponent, big-endian (for key logs and tests; handle with care).
    pub fn exponent_bytes(&self) -> Vec<u8> {
        self.exponent.to_bytes_be()
    }

    /// Checks `far_public_key` (RFC 7425 4.6.2) and computes DH_SECRET with it.
    pub fn shared_secret(&self, far_public_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let y = check_public_key(self.group, far_public_key)?;
        let secret = y.modpow(&self.exponent, self.group.prime());
        Ok(encode_secret(&secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;
    use num_traits::One;

    #[test]
    fn primes_parse_and_have_their_sizes() {
        for g in DhGroup::ALL {
            let p = g.prime();
            assert_eq!(p.bits() as usize, g.bits(), "group {}", g.id());
            // Every MODP prime starts and ends with 64 one bits.
            let bytes = p.to_bytes_be();
            assert!(bytes[..8].iter().all(|&b| b == 0xff));
            assert!(bytes[bytes.len() - 8..].iter().all(|&b| b == 0xff));
            assert_eq!(DhGroup::from_id(g.id()), Some(g));
        }
        assert_eq!(DhGroup::from_id(1), None);
    }

    #[test]
    fn rfc7425_4_6_2_secret_example() {
        // RFC 7425 4.6.2: 4886718345 encodes as 01 23 45 67 89.
        assert_eq!(
            encode_secret(&BigUint::from(4_886_718_345u64)),
            [0x01, 0x23, 0x45, 0x67, 0x89]
        );
    }

    #[test]
    fn both_ends_agree() {
        let mut rng = SeededRandom::new(1);
        for g in [DhGroup::Modp1024, DhGroup::Modp2048] {
            let a = PrivateKey::generate(g, &mut rng).unwrap();
            let b = PrivateKey::generate(g, &mut rng).unwrap();
            assert_eq!(a.exponent_bytes().len() * 8, g.private_exponent_bits());
            let s1 = a.shared_secret(b.public_key()).unwrap();
            let s2 = b.shared_secret(a.public_key()).unwrap();
            assert_eq!(s1, s2);
            assert_ne!(s1.first(), Some(&0));
        }
    }

    #[test]
    fn public_key_checks_in_order() {
        let g = DhGroup::Modp1024;
        let reason = |bytes: &[u8]| match check_public_key(g, bytes) {
            Err(CryptoError::UnacceptablePublicKey { reason }) => reason,
            Ok(_) => "ok",
            Err(e) => panic!("unexpected {e}"),
        };
        assert_eq!(reason(&[]), "too_small");
        assert_eq!(reason(&[0xff, 0xff, 0xff]), "too_small");
        // 2^24 passes the size rule but has a single one bit.
        assert_eq!(reason(&[1, 0, 0, 0]), "too_few_ones");
        // 16 ones then 16 zeros: the smallest shape that passes.
        assert_eq!(reason(&[0xff, 0xff, 0, 0]), "ok");
        assert_eq!(reason(&[0xff, 0xff, 0x80, 0]), "too_few_zeros");
        assert_eq!(reason(&[0xff, 0xfe, 0, 0]), "too_few_ones");
        // Leading zero bytes are not zero bits.
        assert_eq!(reason(&[0, 0, 0xff, 0xff, 0x80, 0]), "too_few_zeros");
        let p = g.prime();
        let top = p - BigUint::from(PUBLIC_KEY_MARGIN);
        assert_eq!(reason(&top.to_bytes_be()), "ok");
        assert_eq!(reason(&(top + BigUint::one()).to_bytes_be()), "too_large");
        assert_eq!(reason(&p.to_bytes_be()), "too_large");
    }

    #[test]
    fn degenerate_exponents_do_not_panic() {
        // Exponents 0 and 1 can come from a stored key or a vector file.
        for e in [&[][..], &[0], &[1]] {
            let k = PrivateKey::from_exponent(DhGroup::Modp1024, e);
            let far = PrivateKey::from_exponent(DhGroup::Modp1024, &[0xff; 32]);
            let _ = k.shared_secret(far.public_key());
            let _ = far.shared_secret(k.public_key());
        }
    }
}
