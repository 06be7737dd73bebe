//! Timestamps, timestamp echo and the retransmission timeout, RFC 7016 section 3.5.2.2.
//!
//! [`Timing`] owns the per-session timestamp bookkeeping (TS_RX, TS_RX_TIME,
//! TS_ECHO_TX, TS_TX, TS_ECHO_RX) that every S_OPEN session must keep, and
//! feeds round-trip samples to an [`Rto`], the optional SRTT/RTTVAR/MRTO/ERTO
//! method of the same section. `Rto` is deliberately small and separate so it
//! can be swapped for the congestion module's own estimator if that one lands
//! with the same arithmetic.

use core::time::Duration;

use crate::time::Instant;

/// One tick of the 250 Hz header clock (RFC 7016 2.2.4).
pub const TICK: Duration = Duration::from_millis(4);

/// After this long without a new far timestamp, stop echoing (3.5.2.2 step 1).
pub const TS_RX_STALE: Duration = Duration::from_secs(128);

/// The retransmission timeout's constants (RFC 7016 3.5.2.2), overridable for tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtoConfig {
    /// MRTO before any measurement: 250 ms.
    pub initial_mrto: Duration,
    /// ERTO before any measurement: 3 s.
    pub initial_erto: Duration,
    /// The floor of ERTO: 250 ms.
    pub min_erto: Duration,
    /// The cap of a backed-off ERTO: 10 s.
    pub max_erto: Duration,
    /// The backoff multiplier: 1.4142.
    pub backoff_factor: f64,
    /// Added to SRTT + 4 RTTVAR for the far end's delayed acknowledgement: 200 ms.
    pub delayed_ack_allowance: Duration,
}

impl Default for RtoConfig {
    // RFC 7016 3.5.2.2 writes the factor as 1.4142, not as the square root of 2.
    #[allow(clippy::approx_constant)]
    fn default() -> Self {
        RtoConfig {
            initial_mrto: Duration::from_millis(250),
            initial_erto: Duration::from_secs(3),
            min_erto: Duration::from_millis(250),
            max_erto: Duration::from_secs(10),
            backoff_factor: 1.4142,
            delayed_ack_allowance: Duration::from_millis(200),
        }
    }
}

/// `d` times `factor`; a configured factor that is negative or not a number
/// leaves `d` unchanged, and an overflow gives the longest duration (no panic).
pub fn scale(d: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor < 0.0 {
        return d;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// SRTT, RTTVAR, MRTO and ERTO (RFC 7016 3.5.2.2, the optional method).
#[derive(Debug, Clone, PartialEq)]
pub struct Rto {
    config: RtoConfig,
    srtt: Option<Duration>,
    rttvar: Duration,
    mrto: Duration,
    erto: Duration,
}

impl Rto {
    /// MRTO 250 ms, ERTO 3 s, no SRTT, RTTVAR 0.
    pub fn new(config: RtoConfig) -> Self {
        Rto {
            config,
            srtt: None,
            rttvar: Duration::ZERO,
            mrto: config.initial_mrto,
            erto: config.initial_erto,
        }
    }

    /// Takes one round-trip sample (steps 5 to 8).
    pub fn on_rtt_sample(&mut self, rtt: Duration) {
        match self.srtt {
            Some(srtt) => {
                let delta = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        self.mrto = srtt
            .saturating_add(self.rttvar.saturating_mul(4))
            .saturating_add(self.config.delayed_ack_allowance);
        self.erto = self.mrto.max(self.config.min_erto);
    }

    /// Exponential backoff after a timeout: times 1.4142, at most 10 s, never below MRTO.
    pub fn backoff(&mut self) {
        let backed_off = scale(self.erto, self.config.backoff_factor);
        self.erto = backed_off.min(self.config.max_erto).max(self.mrto);
    }

    /// The effective retransmission timeout.
    pub fn erto(&self) -> Duration {
        self.erto
    }

    /// The measured retransmission timeout.
    pub fn mrto(&self) -> Duration {
        self.mrto
    }

    /// The smoothed round-trip time, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The round-trip time variance.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }
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
            rto: Rto::new(config),
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
        let ticks = now.timestamp_ticks().wrapping_sub(echo);
        if ticks > 32767 {
            // A negative or implausibly old measurement (step 3).
            return None;
        }
        let rtt = TICK * u32::from(ticks);
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

    // spec: 7016-3.5.2.2-l, 7016-3.5.2.2-s, 7016-3.5.2.2-t, 7016-3.5.2.2-u
    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut r = Rto::new(RtoConfig::default());
        assert_eq!((r.mrto(), r.erto(), r.srtt()), (ms(250), ms(3000), None));
        r.on_rtt_sample(ms(100));
        // SRTT 100, RTTVAR 50, MRTO = 100 + 200 + 200 = 500.
        assert_eq!((r.srtt(), r.rttvar()), (Some(ms(100)), ms(50)));
        assert_eq!((r.mrto(), r.erto()), (ms(500), ms(500)));
    }

    // spec: 7016-3.5.2.2-r, 7016-3.5.2.2-u, 7016-3.5.2.2-a
    #[test]
    fn later_samples_smooth_and_erto_has_a_floor() {
        let mut r = Rto::new(RtoConfig::default());
        r.on_rtt_sample(ms(100));
        r.on_rtt_sample(ms(20));
        // delta 80: RTTVAR (150 + 80) / 4 = 57.5; SRTT (700 + 20) / 8 = 90.
        assert_eq!(r.rttvar(), Duration::from_micros(57_500));
        assert_eq!(r.srtt(), Some(ms(90)));
        assert_eq!(r.mrto(), ms(90 + 230 + 200));
        for _ in 0..50 {
            r.on_rtt_sample(Duration::ZERO);
        }
        // SRTT and RTTVAR tend to 0, MRTO to 200 ms: ERTO stays at 250 ms.
        assert!(r.mrto() < ms(250));
        assert_eq!(r.erto(), ms(250));
    }

    #[test]
    fn scale_never_panics() {
        assert_eq!(scale(ms(10), 2.0), ms(20));
        assert_eq!(scale(ms(10), f64::NAN), ms(10));
        assert_eq!(scale(ms(10), -1.0), ms(10));
        assert_eq!(scale(Duration::MAX, 2.0), Duration::MAX);
    }

    // spec: 7016-3.5.2.2-w, 7016-3.5.2.2-x, 7016-3.5.2.2-y
    #[test]
    #[allow(clippy::approx_constant)]
    fn backoff_multiplies_caps_and_respects_mrto() {
        let mut r = Rto::new(RtoConfig::default());
        r.backoff();
        assert_eq!(r.erto(), Duration::from_secs_f64(3.0 * 1.4142));
        for _ in 0..10 {
            r.backoff();
        }
        assert_eq!(r.erto(), ms(10_000));
        // An MRTO above the cap wins (never below MRTO).
        let mut r = Rto::new(RtoConfig::default());
        r.on_rtt_sample(ms(8000));
        assert_eq!(r.mrto(), ms(8000 + 16000 + 200));
        r.backoff();
        assert_eq!(r.erto(), r.mrto());
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
