//! Retransmission timeout, RFC 7016 section 3.5.2.2: SRTT, RTTVAR, MRTO and ERTO from round-trip samples, and ERTO backoff.
//!
//! The one round-trip estimator of a session. The session owns the
//! timestamps (TS_TX, TS_RX, TS_ECHO_TX, TS_ECHO_RX, see
//! [`crate::session::timing`]) and turns each new timestamp echo into a
//! round-trip sample with [`rtt_sample`]; it feeds the samples to
//! [`Rto::on_rtt_sample`]. The flow layer reads [`Rto::erto`] for its
//! TIMEOUT_ALARM and buffer probe periods and calls [`Rto::backoff`] when a
//! timeout finds data in flight (3.6.2.6); keepalive backs it off too
//! (3.5.4.1). The constants are the RFC's, overridable through [`RtoConfig`]
//! for tests and experiments. Arithmetic saturates: no configuration panics.

use core::time::Duration;

/// Initial ERTO (3.5.2.2).
pub const INITIAL_ERTO: Duration = Duration::from_secs(3);
/// Initial MRTO, and the floor for ERTO (3.5.2.2).
pub const MIN_ERTO: Duration = Duration::from_millis(250);
/// The receiver's delayed acknowledgement allowance added to MRTO (3.5.2.2, 3.6.3.4.4).
pub const DELACK_ALLOWANCE: Duration = Duration::from_millis(200);
/// The ultimate backoff cap (3.5.2.2).
pub const MAX_ERTO: Duration = Duration::from_secs(10);
/// The backoff factor 1.4142, as a fraction of 10000.
pub const BACKOFF_PER_10000: u32 = 14_142;
/// One timestamp tick: the header timestamps count 4 ms periods (2.2.4).
pub const TICK: Duration = Duration::from_millis(4);

/// The round-trip time for a timestamp echo, per 3.5.2.2 steps 2 to 4:
/// `(current send timestamp - timestampEcho) mod 65536` ticks of 4 ms, or
/// `None` when that is above 32767 ticks (the measurement is invalid).
pub fn rtt_sample(current_timestamp: u16, timestamp_echo: u16) -> Option<Duration> {
    let ticks = current_timestamp.wrapping_sub(timestamp_echo);
    (ticks <= 32_767).then(|| TICK * u32::from(ticks))
}

/// The retransmission timeout's constants (RFC 7016 3.5.2.2); the defaults are the RFC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoConfig {
    /// MRTO before any measurement: 250 ms.
    pub initial_mrto: Duration,
    /// ERTO before any measurement: 3 s.
    pub initial_erto: Duration,
    /// The floor of ERTO: 250 ms.
    pub min_erto: Duration,
    /// The cap of a backed-off ERTO: 10 s.
    pub max_erto: Duration,
    /// The backoff multiplier in units of 1/10000: 14142 (1.4142).
    pub backoff_per_10000: u32,
    /// Added to SRTT + 4 RTTVAR for the far end's delayed acknowledgement: 200 ms.
    pub delayed_ack_allowance: Duration,
}

impl Default for RtoConfig {
    fn default() -> Self {
        RtoConfig {
            initial_mrto: MIN_ERTO,
            initial_erto: INITIAL_ERTO,
            min_erto: MIN_ERTO,
            max_erto: MAX_ERTO,
            backoff_per_10000: BACKOFF_PER_10000,
            delayed_ack_allowance: DELACK_ALLOWANCE,
        }
    }
}

/// The round-trip estimator (the optional method of 3.5.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rto {
    config: RtoConfig,
    srtt: Option<Duration>,
    rttvar: Duration,
    mrto: Duration,
    erto: Duration,
}

impl Default for Rto {
    fn default() -> Self {
        Self::new()
    }
}

impl Rto {
    /// SRTT unset, RTTVAR 0, MRTO 250 ms, ERTO 3 s.
    pub fn new() -> Self {
        Self::with_config(RtoConfig::default())
    }

    /// SRTT unset, RTTVAR 0, MRTO and ERTO at the configured initial values.
    pub fn with_config(config: RtoConfig) -> Self {
        Rto {
            config,
            srtt: None,
            rttvar: Duration::ZERO,
            mrto: config.initial_mrto,
            erto: config.initial_erto,
        }
    }

    /// The constants in use.
    pub fn config(&self) -> &RtoConfig {
        &self.config
    }

    /// Takes a round-trip sample (3.5.2.2 steps 5 to 8).
    pub fn on_rtt_sample(&mut self, rtt: Duration) {
        let srtt = match self.srtt {
            Some(srtt) => {
                let delta = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar.saturating_mul(3).saturating_add(delta) / 4;
                srtt.saturating_mul(7).saturating_add(rtt) / 8
            }
            None => {
                self.rttvar = rtt / 2;
                rtt
            }
        };
        self.srtt = Some(srtt);
        self.mrto = srtt
            .saturating_add(self.rttvar.saturating_mul(4))
            .saturating_add(self.config.delayed_ack_allowance);
        self.erto = self.mrto.max(self.config.min_erto);
    }

    /// ERTO backoff after a timeout with loss (3.5.2.2): times 1.4142, at most
    /// 10 s, never below MRTO.
    pub fn backoff(&mut self) {
        let micros = self.erto.as_micros() * u128::from(self.config.backoff_per_10000) / 10_000;
        let backed_off = Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    // RFC 7016 3.5.2.2: initial values.
    // spec: 7016-3.5.2.2-l
    #[test]
    fn initial_values() {
        let r = Rto::new();
        assert_eq!((r.erto(), r.mrto(), r.srtt()), (ms(3000), ms(250), None));
    }

    // RFC 7016 3.5.2.2 steps 5-8, computed by hand.
    // spec: 7016-3.5.2.2-a, 7016-3.5.2.2-r, 7016-3.5.2.2-s, 7016-3.5.2.2-t, 7016-3.5.2.2-u
    #[test]
    fn samples() {
        let mut r = Rto::new();
        r.on_rtt_sample(ms(100));
        // SRTT 100, RTTVAR 50, MRTO = 100 + 200 + 200.
        assert_eq!(
            (r.srtt(), r.rttvar(), r.mrto(), r.erto()),
            (Some(ms(100)), ms(50), ms(500), ms(500))
        );
        r.on_rtt_sample(ms(20));
        // delta 80; RTTVAR (150 + 80) / 4 = 57.5; SRTT (700 + 20) / 8 = 90.
        assert_eq!(r.rttvar(), Duration::from_micros(57_500));
        assert_eq!(r.srtt(), Some(ms(90)));
        assert_eq!(r.mrto(), ms(90 + 230 + 200));
        // A tiny, steady RTT: ERTO floors at 250 ms.
        let mut r = Rto::new();
        for _ in 0..50 {
            r.on_rtt_sample(ms(4));
        }
        assert!(r.mrto() < ms(250));
        assert_eq!(r.erto(), ms(250));
    }

    // RFC 7016 3.5.2.2: backoff by 1.4142, capped at 10 s, never below MRTO.
    // spec: 7016-3.5.2.2-w, 7016-3.5.2.2-x, 7016-3.5.2.2-y
    #[test]
    fn backoff() {
        let mut r = Rto::new();
        r.backoff();
        assert_eq!(r.erto(), Duration::from_micros(4_242_600));
        for _ in 0..10 {
            r.backoff();
        }
        assert_eq!(r.erto(), ms(10_000));
        // MRTO above the cap wins.
        let mut r = Rto::new();
        r.on_rtt_sample(ms(8000));
        assert_eq!(r.mrto(), ms(8000 + 16_000 + 200));
        r.backoff();
        assert_eq!(r.erto(), r.mrto());
    }

    // RFC 7016 3.5.2.2 steps 2-4: modular tick difference, invalid above 32767.
    // spec: 7016-3.5.2.2-o, 7016-3.5.2.2-p, 7016-3.5.2.2-q
    #[test]
    fn rtt_from_timestamp_echo() {
        assert_eq!(rtt_sample(110, 100), Some(ms(40)));
        assert_eq!(rtt_sample(5, 65_530), Some(ms(44)));
        assert_eq!(rtt_sample(32_767, 0), Some(ms(131_068)));
        assert_eq!(rtt_sample(32_768, 0), None);
    }

    // Odd configurations never panic (huge samples, huge factors).
    #[test]
    fn arithmetic_saturates() {
        let mut r = Rto::with_config(RtoConfig {
            backoff_per_10000: u32::MAX,
            max_erto: Duration::MAX,
            ..RtoConfig::default()
        });
        r.on_rtt_sample(Duration::MAX);
        r.on_rtt_sample(Duration::ZERO);
        for _ in 0..100 {
            r.backoff();
        }
        assert!(r.erto() >= r.mrto());
    }
}
