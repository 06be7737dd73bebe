//! Far-end address change verification, RFC 7016 sections 3.5.3 and 3.5.4.2.
//!
//! A valid packet from an address other than DESTADDR only *suggests* the far
//! end moved. The session answers it with a Ping to that address, at most once
//! a second, whose message is
//!
//! ```text
//! 'M' | MOB_TX_TS (u64 µs on the endpoint clock) | HMAC-SHA256(MOB_SECRET, 'M' | MOB_TX_TS | address)[..16]
//! ```
//!
//! and moves DESTADDR only when a Ping Reply carrying that message comes back
//! from that very address within 120 s. Only the far end holds the session
//! keys, so only it can answer; a spoofed or replayed source address never
//! becomes DESTADDR.

use core::net::SocketAddr;
use core::time::Duration;

use hmac::{KeyInit, Mac};

use crate::crypto::flash::HmacSha256;
use crate::random::Random;
use crate::time::Instant;
use crate::wire::{Address, AddressOrigin};

/// The first byte of a mobility check message.
pub const MARK: u8 = b'M';
/// Length of the hash in the message.
pub const HASH_LEN: usize = 16;
/// Length of a mobility check message.
pub const MESSAGE_LEN: usize = 1 + 8 + HASH_LEN;

/// Mobility settings (RFC 7016 3.5.4.2), overridable for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MobilityConfig {
    /// Whether to verify and follow address changes at all.
    pub enabled: bool,
    /// Least time between two checks: 1 s.
    pub min_interval: Duration,
    /// How long a check stays answerable: 120 s.
    pub reply_lifetime: Duration,
}

impl Default for MobilityConfig {
    fn default() -> Self {
        MobilityConfig {
            enabled: true,
            min_interval: Duration::from_secs(1),
            reply_lifetime: Duration::from_secs(120),
        }
    }
}

/// MOB_TX_TS, MOB_RX_TS, MOB_SECRET and a check waiting to be sent.
#[derive(Clone)]
pub struct Mobility {
    secret: [u8; 16],
    tx_ts: Option<Instant>,
    rx_ts: Option<Instant>,
    pending: Option<(SocketAddr, Vec<u8>)>,
}

impl core::fmt::Debug for Mobility {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mobility")
            .field("tx_ts", &self.tx_ts)
            .field("rx_ts", &self.rx_ts)
            .field("pending", &self.pending.as_ref().map(|p| p.0))
            .finish_non_exhaustive()
    }
}

fn hash(secret: &[u8; 16], ts: &[u8; 8], addr: SocketAddr) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(&[MARK]);
    m.update(ts);
    let mut a = Vec::with_capacity(19);
    Address::new(addr, AddressOrigin::Unknown).encode(&mut a);
    m.update(&a);
    m
}

impl Mobility {
    /// MOB_TX_TS and MOB_RX_TS at negative infinity; a fresh 128-bit MOB_SECRET.
    pub fn new(rng: &mut dyn Random) -> Self {
        let mut secret = [0u8; 16];
        rng.fill(&mut secret);
        Mobility {
            secret,
            tx_ts: None,
            rx_ts: None,
            pending: None,
        }
    }

    /// After all chunks of a packet of an (still) S_OPEN session: if it came
    /// from elsewhere than DESTADDR and the last check is at least
    /// `min_interval` old, prepares a check Ping to `from`. Returns whether one was prepared.
    pub fn on_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        destaddr: SocketAddr,
        config: &MobilityConfig,
    ) -> bool {
        if !config.enabled || from == destaddr {
            return false;
        }
        if self
            .tx_ts
            .is_some_and(|t| now.saturating_duration_since(t) < config.min_interval)
        {
            return false;
        }
        self.tx_ts = Some(now);
        let ts = now.as_micros().to_be_bytes();
        let mut message = Vec::with_capacity(MESSAGE_LEN);
        message.push(MARK);
        message.extend_from_slice(&ts);
        message
            .extend_from_slice(&hash(&self.secret, &ts, from).finalize().into_bytes()[..HASH_LEN]);
        self.pending = Some((from, message));
        true
    }

    /// The check Ping to send (address and message), if one is waiting.
    pub fn take_pending(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.pending.take()
    }

    /// Whether a check Ping is waiting to be sent.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether `message` looks like one of this end's checks (by its mark and length).
    pub fn is_mobility_message(message: &[u8]) -> bool {
        message.len() == MESSAGE_LEN && message.first() == Some(&MARK)
    }

    /// A Ping Reply in an S_OPEN session: `true` when it answers a check from
    /// `from` that is valid, so DESTADDR should become `from` (MOB_RX_TS is updated).
    pub fn on_ping_reply(
        &mut self,
        now: Instant,
        message: &[u8],
        from: SocketAddr,
        config: &MobilityConfig,
    ) -> bool {
        if !Self::is_mobility_message(message) {
            return false;
        }
        let (ts, mac) = message[1..].split_at(8);
        let ts: [u8; 8] = ts.try_into().unwrap_or([0; 8]);
        let sent = Instant::from_micros(u64::from_be_bytes(ts));
        if sent > now || now.saturating_duration_since(sent) > config.reply_lifetime {
            return false;
        }
        if self.rx_ts.is_some_and(|rx| sent <= rx) {
            return false;
        }
        if hash(&self.secret, &ts, from)
            .verify_truncated_left(mac)
            .is_err()
        {
            return false;
        }
        self.rx_ts = Some(sent);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    // spec: 7016-3.5.4.2-b, 7016-3.5.4.2-c, 7016-3.5.4.2-d, 7016-3.5.4.2-e, 7016-3.5.4.2-g, 7016-3.5.4.2-h
    #[test]
    fn check_is_answerable_only_from_its_address_once_and_in_time() {
        let cfg = MobilityConfig::default();
        let mut m = Mobility::new(&mut SeededRandom::new(5));
        let dest = a("192.0.2.1:1");
        let new = a("192.0.2.9:7");
        let t0 = Instant::from_millis(10_000);
        assert!(!m.on_packet(t0, dest, dest, &cfg));
        assert!(m.on_packet(t0, new, dest, &cfg));
        // At most once per second.
        assert!(!m.on_packet(t0 + Duration::from_millis(999), new, dest, &cfg));
        let (to, msg) = m.take_pending().unwrap();
        assert_eq!((to, msg.len(), msg[0]), (new, MESSAGE_LEN, b'M'));
        // From another address: refused.
        assert!(!m.on_ping_reply(t0, &msg, a("192.0.2.10:7"), &cfg));
        // Tampered: refused.
        let mut bad = msg.clone();
        bad[20] ^= 1;
        assert!(!m.on_ping_reply(t0, &bad, new, &cfg));
        // Too late: refused.
        assert!(!m.on_ping_reply(t0 + Duration::from_secs(121), &msg, new, &cfg));
        assert!(m.on_ping_reply(t0 + Duration::from_secs(120), &msg, new, &cfg));
        // Not newer than MOB_RX_TS: refused.
        assert!(!m.on_ping_reply(t0 + Duration::from_secs(1), &msg, new, &cfg));
        assert!(!m.on_ping_reply(t0, b"", new, &cfg));
        let off = MobilityConfig {
            enabled: false,
            ..cfg
        };
        assert!(!m.on_packet(t0 + Duration::from_secs(5), new, dest, &off));
    }
}
