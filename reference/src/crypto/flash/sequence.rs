//! Session sequence numbers and the anti-replay window, RFC 7425 sections 4.6.6 and 4.7.3.3.
//!
//! A sender numbers its packets 0, 1, 2, ... A receiver must accept packets
//! reordered by up to at least 32 and must discard any number it has already
//! seen, or one below its window. This window is a 128-bit bitmap below the
//! highest number seen (the RFC 4303 / RFC 6479 method), so it tolerates
//! reordering by up to 127.

use crate::crypto::error::CryptoError;

/// How many sequence numbers, ending at the highest seen, the window tracks.
pub const WINDOW: u64 = 128;

/// The receive side's record of session sequence numbers seen (RFC 7425 4.7.3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The highest number accepted so far.
    highest: Option<u64>,
    /// Bit `i` is set if `highest - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// An empty window: nothing seen yet.
    pub fn new() -> Self {
        ReplayWindow::default()
    }

    /// The lowest number the window can still accept (0 until 128 numbers have passed).
    pub fn lowest(&self) -> u64 {
        self.highest.map_or(0, |h| h.saturating_sub(WINDOW - 1))
    }

    /// Whether `seq` would be accepted, without recording it.
    pub fn check(&self, seq: u64) -> Result<(), CryptoError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if seq > highest {
            return Ok(());
        }
        let behind = highest - seq;
        if behind >= WINDOW {
            return Err(CryptoError::StaleSequence {
                seq,
                lowest: self.lowest(),
            });
        }
        if self.seen & (1u128 << behind) != 0 {
            return Err(CryptoError::DuplicateSequence { seq });
        }
        Ok(())
    }

    /// Records `seq` as received. Call only after [`check`](Self::check) passed and
    /// the packet was verified.
    pub fn accept(&mut self, seq: u64) {
        match self.highest {
            None => {
                self.highest = Some(seq);
                self.seen = 1;
            }
            Some(highest) if seq > highest => {
                let ahead = seq - highest;
                self.seen = if ahead >= WINDOW {
                    0
                } else {
                    self.seen << ahead
                } | 1;
                self.highest = Some(seq);
            }
            Some(highest) => {
                let behind = highest - seq;
                if behind < WINDOW {
                    self.seen |= 1u128 << behind;
                }
            }
        }
    }

    /// [`check`](Self::check) then [`accept`](Self::accept).
    pub fn check_and_accept(&mut self, seq: u64) -> Result<(), CryptoError> {
        self.check(seq)?;
        self.accept(seq);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn duplicates_are_rejected_rfc7425_4_7_3_3() {
        let mut w = ReplayWindow::new();
        w.check_and_accept(0).unwrap();
        assert_eq!(w.check(0).unwrap_err().kind(), "duplicate_sequence");
        w.check_and_accept(5).unwrap();
        w.check_and_accept(3).unwrap();
        assert_eq!(w.check(3).unwrap_err().kind(), "duplicate_sequence");
        assert_eq!(w.check(5).unwrap_err().kind(), "duplicate_sequence");
        w.check_and_accept(4).unwrap();
    }

    #[test]
    fn reordering_by_32_is_accepted_rfc7425_4_7_3_3() {
        let mut w = ReplayWindow::new();
        // Send 0..=40 but deliver 32 first, then the rest.
        w.check_and_accept(40).unwrap();
        for s in (0..40).rev() {
            if s >= 8 {
                w.check_and_accept(s).unwrap();
            }
        }
        // 40 - 127 < 0: everything still in the window.
        w.check_and_accept(0).unwrap();
        w.check_and_accept(1000).unwrap();
        assert_eq!(w.check(1000 - 128).unwrap_err().kind(), "stale_sequence");
        w.check_and_accept(1000 - 127).unwrap();
        assert_eq!(w.lowest(), 1000 - 127);
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        let mut w = ReplayWindow::new();
        w.check_and_accept(u64::MAX).unwrap();
        assert!(w.check(u64::MAX).is_err());
        w.check_and_accept(u64::MAX - 1).unwrap();
        assert!(w.check(0).is_err());
    }

    proptest! {
        /// Every number is accepted at most once; any permutation of a block of
        /// 33 consecutive numbers (reordering by 32) is accepted in full.
        #[test]
        fn never_accepts_twice(seqs in proptest::collection::vec(0u64..300, 0..400)) {
            let mut w = ReplayWindow::new();
            let mut accepted = std::collections::BTreeSet::new();
            for s in seqs {
                if w.check_and_accept(s).is_ok() {
                    prop_assert!(accepted.insert(s), "accepted {} twice", s);
                }
            }
        }

        #[test]
        fn reordered_blocks_are_accepted(base in 0u64..1_000_000, perm in Just((0u64..33).collect::<Vec<_>>()).prop_shuffle()) {
            let mut w = ReplayWindow::new();
            if base > 0 {
                w.check_and_accept(base - 1).unwrap();
            }
            for p in perm {
                prop_assert!(w.check_and_accept(base + p).is_ok());
            }
        }
    }
}
