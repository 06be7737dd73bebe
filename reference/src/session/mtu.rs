//! Path MTU: a conservative packet size and optional probing, RFC 7016 section 3.5.4.3.
//!
//! Every session starts with [`MtuConfig::packet_len`] (1200 plain bytes by
//! default, AMB-7016-20: room for the session ID, the profile's padding and
//! MAC and UDP/IPv6 headers within IPv6's 1280-byte minimum MTU).
//!
//! With [`MtuConfig::probe`] set, an S_OPEN session searches upward in the
//! manner of RFC 4821 (PLPMTUD): a probe is a packet of exactly the size
//! tried, made of a Padding chunk followed by a Ping (the Ping last, so a
//! truncated probe is never answered). The Ping message is
//! `'P' | probe number (u32) | size tried (u16)`. A Ping Reply carrying the
//! current probe's message confirms the size, which becomes the session's
//! packet size; a probe unanswered after ERTO (at least 1 s) is tried again,
//! and after [`MtuProbeConfig::attempts`] failures the size counts as too big.
//! The configured maximum is tried first; if it fails, the search bisects
//! between the confirmed size and the smallest failed one, ending when the two
//! are within [`MtuProbeConfig::precision`].

use core::time::Duration;

use crate::time::Instant;

/// The first byte of a probe's Ping message.
pub const MARK: u8 = b'P';
/// Length of a probe's Ping message.
pub const MESSAGE_LEN: usize = 1 + 4 + 2;

/// Probing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtuProbeConfig {
    /// The largest plain packet to try.
    pub max_packet_len: usize,
    /// Unanswered probes of one size before it counts as too big: 3.
    pub attempts: u32,
    /// Stop when the confirmed size is within this many bytes of the smallest failed one: 16.
    pub precision: usize,
    /// Wait this long after the session opens before the first probe: 1 s.
    pub start_after: Duration,
}

impl Default for MtuProbeConfig {
    fn default() -> Self {
        MtuProbeConfig {
            // A 1500-byte Ethernet path: 1472 bytes of UDP payload over IPv4,
            // less the session ID and the profile's framing (block padding, MAC).
            max_packet_len: 1420,
            attempts: 3,
            precision: 16,
            start_after: Duration::from_secs(1),
        }
    }
}

/// Path MTU settings (RFC 7016 3.5.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtuConfig {
    /// The plain packet size every session starts with: 1200 bytes.
    pub packet_len: usize,
    /// Probing for a larger size; off by default.
    pub probe: Option<MtuProbeConfig>,
}

impl Default for MtuConfig {
    fn default() -> Self {
        MtuConfig {
            packet_len: 1200,
            probe: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Search {
    config: MtuProbeConfig,
    /// Largest confirmed size.
    lo: usize,
    /// Largest size not yet known to fail.
    hi: usize,
    /// The probe in flight: size, attempts so far, when it times out.
    target: Option<(usize, u32, Instant)>,
    /// When the next probe goes out.
    next_at: Instant,
    seq: u32,
    due: bool,
    /// Whether the maximum itself has been tried (it is tried first).
    tried_max: bool,
}

/// One session's path MTU state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mtu {
    packet_len: usize,
    search: Option<Search>,
}

impl Mtu {
    /// The configured start; probing begins `start_after` after `now` if configured.
    pub fn new(now: Instant, config: &MtuConfig) -> Self {
        let search = config.probe.and_then(|p| {
            (p.max_packet_len > config.packet_len).then(|| Search {
                config: p,
                lo: config.packet_len,
                hi: p.max_packet_len,
                target: None,
                next_at: now + p.start_after,
                seq: 0,
                due: false,
                tried_max: false,
            })
        });
        Mtu {
            packet_len: config.packet_len,
            search,
        }
    }

    /// The plain packet size in use.
    pub fn packet_len(&self) -> usize {
        self.packet_len
    }

    /// Whether a search is still going on.
    pub fn is_probing(&self) -> bool {
        self.search.is_some()
    }

    fn next_size(s: &mut Search) -> Option<usize> {
        if !s.tried_max {
            // Most paths take the configured maximum: try it first.
            s.tried_max = true;
            return Some(s.hi);
        }
        (s.hi >= s.lo + s.config.precision).then(|| s.lo + (s.hi - s.lo).div_ceil(2))
    }

    /// The next timer.
    pub fn deadline(&self) -> Option<Instant> {
        let s = self.search.as_ref()?;
        Some(match s.target {
            Some((_, _, timeout)) => timeout,
            None => s.next_at,
        })
    }

    /// Runs the probe timers.
    pub fn on_timeout(&mut self, now: Instant, erto: Duration) {
        let Some(s) = self.search.as_mut() else {
            return;
        };
        match s.target {
            Some((size, attempts, timeout)) if now >= timeout => {
                if attempts >= s.config.attempts {
                    // Too big: search below it.
                    s.hi = size - 1;
                    s.target = None;
                    s.next_at = now;
                } else {
                    s.target = Some((size, attempts, now + erto.max(Duration::from_secs(1))));
                    s.due = true;
                }
            }
            None if now >= s.next_at => match Self::next_size(s) {
                Some(size) => {
                    s.target = Some((size, 0, now + erto.max(Duration::from_secs(1))));
                    s.due = true;
                }
                None => self.search = None,
            },
            _ => {}
        }
    }

    /// The probe to send now, if one is due: the total plain packet size and
    /// the Ping message. Counts the attempt.
    pub fn take_probe(&mut self) -> Option<(usize, Vec<u8>)> {
        let s = self.search.as_mut()?;
        if !core::mem::take(&mut s.due) {
            return None;
        }
        let (size, attempts, timeout) = s.target?;
        s.seq = s.seq.wrapping_add(1);
        s.target = Some((size, attempts + 1, timeout));
        let mut message = Vec::with_capacity(MESSAGE_LEN);
        message.push(MARK);
        message.extend_from_slice(&s.seq.to_be_bytes());
        message.extend_from_slice(&u16::try_from(size).unwrap_or(u16::MAX).to_be_bytes());
        Some((size, message))
    }

    /// Whether a probe is waiting to be sent.
    pub fn has_probe_due(&self) -> bool {
        self.search.as_ref().is_some_and(|s| s.due)
    }

    /// A Ping Reply: if it answers the current probe, the probed size becomes
    /// the packet size; returns the new size.
    pub fn on_ping_reply(&mut self, now: Instant, message: &[u8]) -> Option<usize> {
        let s = self.search.as_mut()?;
        if message.len() != MESSAGE_LEN || message[0] != MARK {
            return None;
        }
        let seq = u32::from_be_bytes([message[1], message[2], message[3], message[4]]);
        let size = usize::from(u16::from_be_bytes([message[5], message[6]]));
        let (target, _, _) = s.target?;
        if seq != s.seq || size != target {
            return None;
        }
        s.lo = target;
        s.target = None;
        s.next_at = now;
        self.packet_len = target;
        if s.hi < s.lo + s.config.precision || target == s.hi {
            self.search = None;
        }
        Some(target)
    }

    /// Whether a Ping message is one of this end's probes (by mark and length).
    pub fn is_probe_message(message: &[u8]) -> bool {
        message.len() == MESSAGE_LEN && message.first() == Some(&MARK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(path_mtu: usize) -> (usize, u32) {
        let config = MtuConfig {
            packet_len: 1200,
            probe: Some(MtuProbeConfig::default()),
        };
        let mut now = Instant::from_millis(0);
        let mut m = Mtu::new(now, &config);
        let mut probes = 0;
        for _ in 0..200 {
            let Some(at) = m.deadline() else { break };
            now = now.max(at);
            m.on_timeout(now, Duration::from_millis(300));
            if let Some((size, msg)) = m.take_probe() {
                probes += 1;
                if size <= path_mtu {
                    m.on_ping_reply(now, &msg);
                }
            }
        }
        assert!(!m.is_probing());
        (m.packet_len(), probes)
    }

    // spec: 7016-3.5.4.3-a
    #[test]
    fn bisection_finds_the_path_mtu_within_precision() {
        let (len, _) = run(1420);
        assert_eq!(len, 1420);
        let (len, probes) = run(1300);
        assert!((1300 - 16..=1300).contains(&len), "{len}");
        assert!(probes < 40);
        let (len, _) = run(1000);
        assert_eq!(len, 1200);
    }

    #[test]
    fn stale_or_foreign_replies_do_not_raise() {
        let config = MtuConfig {
            packet_len: 1200,
            probe: Some(MtuProbeConfig::default()),
        };
        let t = Instant::from_millis(0);
        let mut m = Mtu::new(t, &config);
        m.on_timeout(t + Duration::from_secs(1), Duration::from_secs(1));
        let (_, msg) = m.take_probe().unwrap();
        let mut other = msg.clone();
        other[4] ^= 1;
        assert_eq!(m.on_ping_reply(t, &other), None);
        assert_eq!(m.on_ping_reply(t, b"P"), None);
        assert_eq!(m.on_ping_reply(t, &msg), Some(1420));
        assert_eq!(m.on_ping_reply(t, &msg), None);
        assert_eq!(Mtu::new(t, &MtuConfig::default()).deadline(), None);
    }
}
