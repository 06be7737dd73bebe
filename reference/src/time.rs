//! Injected time (RFC 7016 section 3.5.2.2 measures everything against the caller's clock).
//!
//! The reference never reads a clock. Callers pass an [`Instant`]: a point on
//! their own monotonic timeline, counted in microseconds from an arbitrary origin.
//! A simulator starts at zero; the UDP driver maps `std::time::Instant` onto it.

use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time, in microseconds since the caller's arbitrary origin.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The caller's origin.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis.saturating_mul(1000))
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let micros = u64::try_from(d.as_micros()).ok()?;
        self.0.checked_add(micros).map(Instant)
    }

    /// `self - d`, or `None` if that would precede the origin.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        let micros = u64::try_from(d.as_micros()).ok()?;
        self.0.checked_sub(micros).map(Instant)
    }

    /// The low 16 bits of a 250 Hz clock (4 ms per tick) at this instant,
    /// as carried in the packet header's timestamp fields (RFC 7016 section 2.2.4).
    pub const fn timestamp_ticks(self) -> u16 {
        ((self.0 / 4000) & 0xffff) as u16
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of time rather than overflowing.
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant(u64::MAX))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero when `rhs` is later than `self`.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl core::fmt::Display for Instant {
    /// Seconds with microsecond precision, e.g. `12.000250`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_a_250hz_clock_that_wraps_at_16_bits() {
        assert_eq!(Instant::from_millis(0).timestamp_ticks(), 0);
        assert_eq!(Instant::from_millis(3).timestamp_ticks(), 0);
        assert_eq!(Instant::from_millis(4).timestamp_ticks(), 1);
        // 65536 ticks of 4 ms = 262.144 s wraps to zero.
        assert_eq!(Instant::from_millis(262_144).timestamp_ticks(), 0);
        assert_eq!(Instant::from_millis(262_148).timestamp_ticks(), 1);
    }

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let t = Instant::from_micros(10);
        assert_eq!(t - Instant::from_micros(20), Duration::ZERO);
        assert_eq!(
            Instant::from_micros(u64::MAX) + Duration::from_secs(1),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(t.checked_sub(Duration::from_micros(11)), None);
        assert_eq!(format!("{}", Instant::from_micros(12_000_250)), "12.000250");
    }
}
