//! Keepalive pings and dead-peer detection, RFC 7016 section 3.5.4.1.
//!
//! When nothing has arrived from the far end for [`KeepaliveConfig::idle`],
//! an S_OPEN session sends an empty Ping. While no Ping Reply comes back, it
//! pings again once per ERTO, backing ERTO off each time (3.5.4.1 refers to
//! 3.5.2's backoff; AMB-7016-29), and gives the session up as dead once
//! pings have gone unanswered for [`KeepaliveConfig::dead_after`].

use core::time::Duration;

use crate::time::Instant;

use crate::congestion::rto::Rto;

/// Keepalive settings; `None` switches a mechanism off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepaliveConfig {
    /// Silence from the far end before the first keepalive Ping: 30 s by
    /// default (short enough to hold common NAT bindings open).
    pub idle: Option<Duration>,
    /// How long keepalive Pings may go unanswered before the session is
    /// declared dead and closed: 90 s by default.
    pub dead_after: Option<Duration>,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        KeepaliveConfig {
            idle: Some(Duration::from_secs(30)),
            dead_after: Some(Duration::from_secs(90)),
        }
    }
}

/// What a keepalive timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepaliveTimeout {
    /// Nothing due.
    Nothing,
    /// Send an empty Ping.
    Ping,
    /// The far end has not answered for too long.
    Dead,
}

/// One session's keepalive state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keepalive {
    last_rx: Instant,
    outstanding_since: Option<Instant>,
    next_ping: Option<Instant>,
    last_sent: Option<Instant>,
    due: bool,
}

impl Keepalive {
    /// A session that just opened (counts as having just heard from the far end).
    pub fn new(now: Instant) -> Self {
        Keepalive {
            last_rx: now,
            outstanding_since: None,
            next_ping: None,
            last_sent: None,
            due: false,
        }
    }

    /// An authenticated packet arrived from the far end.
    pub fn on_packet(&mut self, now: Instant) {
        self.last_rx = now;
    }

    /// Any Ping Reply arrived: the far end is alive both ways.
    pub fn on_ping_reply(&mut self) {
        self.outstanding_since = None;
        self.next_ping = None;
    }

    /// Whether keepalive Pings are going unanswered.
    pub fn is_pinging(&self) -> bool {
        self.outstanding_since.is_some()
    }

    /// Asks for a Ping soon, e.g. because the near address changed (3.5.4.1:
    /// hastens the far end's detection), but never more than once per ERTO.
    pub fn ping_soon(&mut self, now: Instant, erto: Duration) {
        let earliest = self.last_sent.map_or(now, |t| (t + erto).max(now));
        if self.outstanding_since.is_none() {
            self.outstanding_since = Some(now);
        }
        self.next_ping = Some(self.next_ping.map_or(earliest, |n| n.min(earliest)));
    }

    /// The next time [`on_timeout`](Self::on_timeout) has something to do.
    pub fn deadline(&self, config: &KeepaliveConfig) -> Option<Instant> {
        match self.outstanding_since {
            Some(since) => {
                let dead = config.dead_after.map(|d| since + d);
                match (self.next_ping, dead) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            None => config.idle.map(|idle| self.last_rx + idle),
        }
    }

    /// Runs the timers.
    pub fn on_timeout(
        &mut self,
        now: Instant,
        config: &KeepaliveConfig,
        rto: &mut Rto,
    ) -> KeepaliveTimeout {
        match self.outstanding_since {
            Some(since) => {
                if config.dead_after.is_some_and(|d| now >= since + d) {
                    return KeepaliveTimeout::Dead;
                }
                match self.next_ping {
                    Some(at) if now >= at => {
                        // A Ping already sent went unanswered for ERTO: back off.
                        if self.last_sent.is_some() {
                            rto.backoff();
                        }
                        self.due = true;
                        self.next_ping = Some(now + rto.erto());
                        KeepaliveTimeout::Ping
                    }
                    _ => KeepaliveTimeout::Nothing,
                }
            }
            None => match config.idle {
                Some(idle) if now >= self.last_rx + idle => {
                    self.outstanding_since = Some(now);
                    self.due = true;
                    self.next_ping = Some(now + rto.erto());
                    KeepaliveTimeout::Ping
                }
                _ => KeepaliveTimeout::Nothing,
            },
        }
    }

    /// Whether a keepalive Ping should go into the next packet; clears the flag.
    pub fn take_due(&mut self, now: Instant) -> bool {
        let due = core::mem::take(&mut self.due);
        if due {
            self.last_sent = Some(now);
        }
        due
    }

    /// Whether a keepalive Ping is waiting to be sent.
    pub fn is_due(&self) -> bool {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    // spec: 7016-3.5.4.1-b, 7016-3.5.4.1-c
    #[test]
    #[allow(clippy::approx_constant)] // RFC 7016 3.5.2.2's factor, 1.4142
    fn idle_ping_then_backoff_then_dead() {
        let cfg = KeepaliveConfig::default();
        let mut rto = Rto::new();
        let t0 = Instant::from_millis(0);
        let mut k = Keepalive::new(t0);
        assert_eq!(k.deadline(&cfg), Some(t0 + s(30)));
        assert_eq!(
            k.on_timeout(t0 + s(29), &cfg, &mut rto),
            KeepaliveTimeout::Nothing
        );
        let t1 = t0 + s(30);
        assert_eq!(k.on_timeout(t1, &cfg, &mut rto), KeepaliveTimeout::Ping);
        assert!(k.take_due(t1));
        assert!(!k.take_due(t1));
        // Next ping one ERTO (3 s) later, with ERTO backed off.
        assert_eq!(k.deadline(&cfg), Some(t1 + s(3)));
        assert_eq!(
            k.on_timeout(t1 + s(3), &cfg, &mut rto),
            KeepaliveTimeout::Ping
        );
        assert_eq!(rto.erto(), Duration::from_secs_f64(3.0 * 1.4142));
        // A Ping Reply ends it.
        k.on_ping_reply();
        k.on_packet(t1 + s(4));
        assert_eq!(k.deadline(&cfg), Some(t1 + s(34)));
        // Unanswered from t2 on: dead 90 s later.
        let t2 = t1 + s(34);
        let mut t = t2;
        let mut pings = 0;
        loop {
            match k.on_timeout(t, &cfg, &mut rto) {
                KeepaliveTimeout::Dead => break,
                KeepaliveTimeout::Ping => {
                    pings += 1;
                    k.take_due(t);
                }
                KeepaliveTimeout::Nothing => {}
            }
            t = k.deadline(&cfg).unwrap();
            assert!(t <= t2 + s(90));
        }
        assert_eq!(t, t2 + s(90));
        assert!(pings >= 9, "{pings} pings");
    }

    #[test]
    fn ping_soon_respects_erto() {
        let cfg = KeepaliveConfig::default();
        let mut rto = Rto::new();
        let t0 = Instant::from_millis(0);
        let mut k = Keepalive::new(t0);
        k.ping_soon(t0, rto.erto());
        assert_eq!(k.on_timeout(t0, &cfg, &mut rto), KeepaliveTimeout::Ping);
        k.take_due(t0);
        k.ping_soon(t0 + s(1), rto.erto());
        assert!(k.deadline(&cfg).unwrap() >= t0 + s(3));
        let off = KeepaliveConfig {
            idle: None,
            dead_after: None,
        };
        assert_eq!(Keepalive::new(t0).deadline(&off), None);
    }
}
