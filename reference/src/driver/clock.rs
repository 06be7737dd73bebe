//! The driver's clock: tokio's monotonic clock mapped onto [`crate::time::Instant`] (RFC 7016 3.5.2.2).
//!
//! [`tokio::time::Instant`] is `std::time::Instant` underneath, except that a
//! paused tokio runtime (tests, turmoil simulations) advances it virtually; so
//! the same driver runs in real time on a real socket and in simulated time on
//! a simulated one.

use core::time::Duration;

use crate::time::Instant;

/// Maps tokio instants to microseconds since the clock was made, and back.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    /// A clock whose origin ([`Instant::ZERO`]) is now.
    pub fn new() -> Self {
        Clock {
            origin: tokio::time::Instant::now(),
        }
    }

    /// The current time on the endpoint's timeline.
    pub fn now(&self) -> Instant {
        self.instant_of(tokio::time::Instant::now())
    }

    /// `t` on the endpoint's timeline (the origin if `t` precedes it).
    pub fn instant_of(&self, t: tokio::time::Instant) -> Instant {
        let micros = t.saturating_duration_since(self.origin).as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The tokio instant of `t`, or `None` if it lies beyond what tokio can represent.
    pub fn tokio_instant(&self, t: Instant) -> Option<tokio::time::Instant> {
        self.origin
            .checked_add(Duration::from_micros(t.as_micros()))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_tokio_instants() {
        let c = Clock::new();
        let t = Instant::from_millis(1500);
        let back = c.tokio_instant(t).map(|k| c.instant_of(k));
        assert_eq!(back, Some(t));
        // Before the origin saturates to the origin.
        let early = c.origin.checked_sub(Duration::from_secs(1));
        if let Some(early) = early {
            assert_eq!(c.instant_of(early), Instant::ZERO);
        }
        // The endpoint's end of time (saturated arithmetic) maps to a far
        // future that tokio's timers accept, never to a panic.
        let end = c.tokio_instant(Instant::from_micros(u64::MAX));
        assert!(end.is_none_or(|e| e > c.origin + Duration::from_secs(1 << 40)));
    }
}
