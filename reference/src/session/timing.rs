//! Timestamps and timestamp echo, RFC 7016 section 3.5.2.2.
//!
//! [`Timing`] owns the per-session timestamp bookkeeping (TS_RX, TS_RX_TIME,
//! TS_ECHO_TX, TS_TX, TS_ECHO_RX) that every S_OPEN session must keep, and
//! feeds the round-trip samples its timestamp echoes give to the session's
//! one retransmission timeout estimator, [`crate::congestion::rto::Rto`]
//! (the optional SRTT/RTTVAR/MRTO/ERTO method of the same section), which
//! the flow layer then reads and backs off.

use core::time::Duration;

use crate::congestion::rto::{Rto, RtoConfig, rtt_sample};
use crate::time::Instant;

pub use crate::congestion::rto::TICK;

/// After this long without a new far timestamp, stop echoing (3.5.2.2 step 1).
pub const TS_RX_STALE: Duration = Duration::from_secs(128);

/// `d` times `factor` (for the handshake's retransmission backoff); a
/// configured factor that is negative or not a number leaves `d` unchanged,
/// and an overflow gives the longest duration (no panic).
pub fn scale(d: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor < 0.0 {
        return d;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// The timestamp and timestamp echo state of one S_OPEN session (RFC 7016 3.5.2.2).
///
/// `None` stands for "no value"; a `None` TS_RX_TIME is negative infinity.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    ts_rx: Option<u16>,
    ts_rx_time: Option<Instant>,
    ts_echo_tx: Option<u16>,
    ts_tx: Option<u16>,
    ts_echo_rx: Option<u16>,
    /// The retransmission timeout estimator.
    pub rto: Rto,
}

impl Timing {
    /// The state of a session entering S_OPEN: TS_RX_TIME negative infinity,
    /// TS_RX, TS_ECHO_TX, TS_TX and TS_ECHO_RX without value.
    pub fn new(config: RtoConfig) -> Self {
        Timing {
            ts_rx: None,
            ts_rx_time: None,
            ts_echo_tx: None,
            ts_tx: None,
            ts_echo_rx: None,
            rto: Rto::with_config(config),
        }
    }

    /// Header timestamps of a received packet. Returns the round-trip sample
    /// taken, if the echo gave a valid one.
    pub fn on_receive(
        &mut self,
        now: Instant,
        timestamp: Option<u16>,
        timestamp_echo: Option<u16>,
    ) -> Option<Duration> {
        if let Some(ts) = timestamp
            && self.ts_rx != Some(ts)
        {
            self.ts_rx = Some(ts);
            self.ts_rx_time = Some(now);
        }
        let echo = timestamp_echo?;
        if self.ts_echo_rx == Some(echo) {
            return None;
        }
        self.ts_echo_rx = Some(echo);
        // A negative or implausibly old measurement gives no sample (step 3).
        let rtt = rtt_sample(now.timestamp_ticks(), echo)?;
        self.rto.on_rtt_sample(rtt);
        Some(rtt)
    }

    /// The timestamp and timestamp echo for a packet sent now; updates TS_TX
    /// and TS_ECHO_TX. Each is `None` when the header should leave it out.
    pub fn stamp(&mut self, now: Instant) -> (Option<u16>, Option<u16>) {
        let ts = now.timestamp_ticks();
        let timestamp = if self.ts_tx != Some(ts) {
            self.ts_tx = Some(ts);
            Some(ts)
        } else {
            None
        };
        (timestamp, self.echo(now))
    }

    fn echo(&mut self, now: Instant) -> Option<u16> {
        let (ts_rx, since) = (self.ts_rx?, self.ts_rx_time?);
        let elapsed = now.saturating_duration_since(since);
        if elapsed > TS_RX_STALE {
            self.ts_rx = None;
            self.ts_echo_tx = None;
            return None;
        }
        let ticks = (elapsed.as_micros() / TICK.as_micros()) as u64;
        let echo = (u64::from(ts_rx) + ticks) as u16;
        if self.ts_echo_tx == Some(echo) {
            return None;
        }
        self.ts_echo_tx = Some(echo);
        Some(echo)
    }

    /// The last far timestamp and when it was first seen, if any.
    pub fn ts_rx(&self) -> Option<(u16, Instant)> {
        Some((self.ts_rx?, self.ts_rx_time?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn scale_never_panics() {
        assert_eq!(scale(ms(10), 2.0), ms(20));
        assert_eq!(scale(ms(10), f64::NAN), ms(10));
        assert_eq!(scale(ms(10), -1.0), ms(10));
        assert_eq!(scale(Duration::MAX, 2.0), Duration::MAX);
    }

    // spec: 7016-3.5.2.2-e, 7016-3.5.2.2-f, 7016-3.5.2.2-h, 7016-3.5.2.2-i, 7016-3.5.2.2-j, 7016-3.5.2.2-m
    #[test]
    fn echo_follows_elapsed_ticks_and_is_sent_once_per_value() {
        let mut t = Timing::new(RtoConfig::default());
        let t0 = Instant::from_millis(1000);
        // Nothing received yet: timestamp only, no echo.
        assert_eq!(t.stamp(t0), (Some(250), None));
        // Same tick again: no timestamp either.
        assert_eq!(t.stamp(t0 + ms(1)), (None, None));
        t.on_receive(t0, Some(7000), None);
        // 10 ms later: 2 whole ticks elapsed.
        assert_eq!(t.stamp(t0 + ms(10)), (Some(252), Some(7002)));
        // Same echo value again is left out.
        assert_eq!(t.stamp(t0 + ms(11)), (None, None));
        // A repeated far timestamp does not reset TS_RX_TIME.
        t.on_receive(t0 + ms(20), Some(7000), None);
        assert_eq!(t.stamp(t0 + ms(40)), (Some(260), Some(7010)));
        // Wraps modulo 65536.
        t.on_receive(t0 + ms(100), Some(65535), None);
        assert_eq!(t.stamp(t0 + ms(108)).1, Some(1));
    }

    // spec: 7016-3.5.2.2-g
    #[test]
    fn stale_far_timestamp_stops_the_echo() {
        let mut t = Timing::new(RtoConfig::default());
        let t0 = Instant::from_millis(0);
        t.on_receive(t0, Some(1), None);
        assert!(t.stamp(t0 + Duration::from_secs(128)).1.is_some());
        assert_eq!(t.stamp(t0 + Duration::from_secs(129)).1, None);
        assert_eq!(t.ts_rx(), None);
    }

    // spec: 7016-3.5.2.2-n, 7016-3.5.2.2-o, 7016-3.5.2.2-p, 7016-3.5.2.2-q
    #[test]
    fn echo_gives_rtt_samples_once_and_rejects_negative_ones() {
        let mut t = Timing::new(RtoConfig::default());
        let now = Instant::from_millis(4000); // tick 1000
        assert_eq!(t.on_receive(now, None, Some(975)), Some(ms(100)));
        // Same echo again: no new sample.
        assert_eq!(t.on_receive(now, None, Some(975)), None);
        // An echo from "the future" gives RTT_TICKS > 32767: discarded.
        assert_eq!(t.on_receive(now, None, Some(1001)), None);
        assert_eq!(t.rto.srtt(), Some(ms(100)));
    }
}
