//! Stateless responder cookies, RFC 7016 sections 3.5.1.1.2 and 3.5.1.2.
//!
//! A responder answers an IHello without keeping any state (3.5.1.1.2), so
//! everything it needs to accept the later IIKeying travels in the cookie.
//! The cookie has two parts, both HMAC-SHA256 under a secret drawn from the
//! endpoint's injected generator:
//!
//! ```text
//! version (1) | issued, ms on the endpoint clock (8) | auth (16) | bind (16)
//! auth = HMAC(secret, "auth" | version | issued)                 -- address-independent
//! bind = HMAC(secret, "bind" | version | issued | auth | address)  -- address-bound
//! ```
//!
//! `auth` proves the cookie was made here and when; `bind` ties it to the
//! address the IHello came from. A cookie whose `auth` verifies but whose
//! `bind` does not was made here for another address: that is the case for a
//! Cookie Change (3.5.1.2). Cookies expire after a configured lifetime, at
//! least the 95 s ultimate open timeout (3.5.1.1.2).

use core::net::SocketAddr;
use core::time::Duration;

use hmac::{KeyInit, Mac};

use crate::crypto::flash::HmacSha256;
use crate::random::Random;
use crate::time::Instant;
use crate::wire::{Address, AddressOrigin};

/// The cookie format version byte.
pub const VERSION: u8 = 1;
/// Length of each HMAC part.
pub const PART_LEN: usize = 16;
/// Length of a cookie made here.
pub const COOKIE_LEN: usize = 1 + 8 + PART_LEN + PART_LEN;
/// The shortest lifetime RFC 7016 3.5.1.1.2 allows (the recommended open timeout).
pub const MIN_LIFETIME: Duration = Duration::from_secs(95);

/// What a received cookie turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCheck {
    /// Made here, for this address, and still valid.
    Valid,
    /// Made here but too old (or dated in the future).
    Expired,
    /// Made here and unexpired, but for another address: send a Cookie Change (3.5.1.2).
    WrongAddress,
    /// Not a cookie this endpoint made.
    NotAuthentic,
}

/// Makes and checks cookies; holds only the secret and the lifetime.
#[derive(Clone)]
pub struct CookieFactory {
    secret: [u8; 32],
    lifetime: Duration,
}

impl core::fmt::Debug for CookieFactory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CookieFactory")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

fn mac(secret: &[u8; 32]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

fn address_bytes(addr: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(19);
    Address::new(addr, AddressOrigin::Unknown).encode(&mut out);
    out
}

impl CookieFactory {
    /// A factory with a fresh 256-bit secret from `rng`. A lifetime shorter
    /// than 95 s is raised to 95 s.
    pub fn new(rng: &mut dyn Random, lifetime: Duration) -> Self {
        let mut secret = [0u8; 32];
        rng.fill(&mut secret);
        CookieFactory {
            secret,
            lifetime: lifetime.max(MIN_LIFETIME),
        }
    }

    /// The lifetime in use.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn auth(&self, issued: &[u8; 8]) -> HmacSha256 {
        let mut m = mac(&self.secret);
        m.update(b"auth");
        m.update(&[VERSION]);
        m.update(issued);
        m
    }

    fn bind(&self, issued: &[u8; 8], auth: &[u8], addr: SocketAddr) -> HmacSha256 {
        let mut m = mac(&self.secret);
        m.update(b"bind");
        m.update(&[VERSION]);
        m.update(issued);
        m.update(auth);
        m.update(&address_bytes(addr));
        m
    }

    /// A cookie for an IHello (or FIHello reply address) `addr`, issued at `now`.
    pub fn make(&self, now: Instant, addr: SocketAddr) -> Vec<u8> {
        let issued = (now.as_micros() / 1000).to_be_bytes();
        let auth = self.auth(&issued).finalize().into_bytes();
        let bind = self
            .bind(&issued, &auth[..PART_LEN], addr)
            .finalize()
            .into_bytes();
        let mut cookie = Vec::with_capacity(COOKIE_LEN);
        cookie.push(VERSION);
        cookie.extend_from_slice(&issued);
        cookie.extend_from_slice(&auth[..PART_LEN]);
        cookie.extend_from_slice(&bind[..PART_LEN]);
        cookie
    }

    /// Checks a cookie echoed in an IIKeying from `addr`.
    pub fn check(&self, now: Instant, cookie: &[u8], addr: SocketAddr) -> CookieCheck {
        let Some((&version, rest)) = cookie.split_first() else {
            return CookieCheck::NotAuthentic;
        };
        if version != VERSION || rest.len() != COOKIE_LEN - 1 {
            return CookieCheck::NotAuthentic;
        }
        let (issued, rest) = rest.split_at(8);
        let (auth, bind) = rest.split_at(PART_LEN);
        let issued: [u8; 8] = issued.try_into().unwrap_or([0; 8]);
        if self.auth(&issued).verify_truncated_left(auth).is_err() {
            return CookieCheck::NotAuthentic;
        }
        let issued_ms = u64::from_be_bytes(issued);
        let now_ms = now.as_micros() / 1000;
        let lifetime_ms = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        if issued_ms > now_ms || now_ms - issued_ms > lifetime_ms {
            return CookieCheck::Expired;
        }
        if self
            .bind(&issued, auth, addr)
            .verify_truncated_left(bind)
            .is_err()
        {
            return CookieCheck::WrongAddress;
        }
        CookieCheck::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    // spec: 7016-3.5.1.1.2-c, 7016-3.5.1.1.2-d
    #[test]
    fn a_cookie_is_valid_for_its_address_only() {
        let f = CookieFactory::new(&mut SeededRandom::new(1), Duration::from_secs(120));
        let t = Instant::from_millis(5_000);
        let c = f.make(t, addr("192.0.2.1:1000"));
        assert_eq!(c.len(), COOKIE_LEN);
        assert_eq!(f.check(t, &c, addr("192.0.2.1:1000")), CookieCheck::Valid);
        assert_eq!(
            f.check(t, &c, addr("192.0.2.1:1001")),
            CookieCheck::WrongAddress
        );
        assert_eq!(
            f.check(t, &c, addr("[2001:db8::1]:1000")),
            CookieCheck::WrongAddress
        );
    }

    // spec: 7016-3.5.1.1.2-e, 7016-3.5.1.1.2-f
    #[test]
    fn cookies_expire_after_their_lifetime_never_below_95_s() {
        let f = CookieFactory::new(&mut SeededRandom::new(1), Duration::from_secs(10));
        assert_eq!(f.lifetime(), Duration::from_secs(95));
        let a = addr("192.0.2.1:1000");
        let t = Instant::from_millis(1_000);
        let c = f.make(t, a);
        assert_eq!(
            f.check(t + Duration::from_secs(95), &c, a),
            CookieCheck::Valid
        );
        assert_eq!(
            f.check(t + Duration::from_millis(95_001), &c, a),
            CookieCheck::Expired
        );
        // Dated in the future of this clock.
        assert_eq!(f.check(Instant::ZERO, &c, a), CookieCheck::Expired);
    }

    // spec: 7016-3.5.1.1.2-c
    #[test]
    fn forged_and_foreign_cookies_are_not_authentic() {
        let mut rng = SeededRandom::new(1);
        let f = CookieFactory::new(&mut rng, Duration::from_secs(120));
        let other = CookieFactory::new(&mut rng, Duration::from_secs(120));
        let a = addr("192.0.2.1:1000");
        let t = Instant::from_millis(1_000);
        assert_eq!(f.check(t, &other.make(t, a), a), CookieCheck::NotAuthentic);
        let mut c = f.make(t, a);
        c[3] ^= 1; // the issue time, covered by auth
        assert_eq!(f.check(t, &c, a), CookieCheck::NotAuthentic);
        for bad in [&[][..], &[1u8][..], &c[..20]] {
            assert_eq!(f.check(t, bad, a), CookieCheck::NotAuthentic);
        }
        let mut c = f.make(t, a);
        let last = c.len() - 1;
        c[last] ^= 1; // the address part only
        assert_eq!(f.check(t, &c, a), CookieCheck::WrongAddress);
    }
}
