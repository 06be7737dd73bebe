//! The example congestion control algorithm of RFC 7016 Appendix A (Figures 24 and 25), with the 3.5.2.1 rules.
//!
//! A window-based algorithm: user data may be sent while S_OUTSTANDING_BYTES
//! is below CWND (3.5.2). Slow start and congestion avoidance are tuned by two
//! indications that last 800 ms: TC_SENT (this session sent a Time Critical
//! Forward Notification) and FASTGROW_ALLOWED (false when a Time Critical
//! Reverse Notification arrived on this session, or any session of the
//! endpoint sent a Time Critical Forward Notification).
//!
//! The 3.5.2.1 rule "behave as though SSTHRESH were 0 after a TCR, unless
//! sending time critical data ourselves" is what the FASTGROW_ALLOWED = false
//! branch of Figure 25 does: without TC_SENT it never takes the slow start
//! branch, and its additive increase (24 bytes per AITHRESH acknowledged bytes
//! with AITHRESH <= 4800) is 384 bytes or 0.5% per round trip, whichever is
//! greater, which is the 3.5.2.1 limit.
//!
//! Arithmetic is on integers; `x * 3/4` is `x * 3 / 4` rounded down, and
//! SSTHRESH "positive infinity" is `u64::MAX`.

use core::time::Duration;

use super::{CongestionController, TIME_CRITICAL_WINDOW};
use crate::time::Instant;

/// SMSS, the sender maximum segment size (Appendix A.2 example value).
pub const SMSS: u64 = 1460;
/// CWND_INIT, the initial congestion window (Appendix A.2 example value, RFC 5681 IW).
pub const CWND_INIT: u64 = 4380;
/// CWND_TIMEDOUT, the window after a timeout with loss: 1 * SMSS (Appendix A.2).
pub const CWND_TIMEDOUT: u64 = SMSS;
/// Above this many bytes outstanding a loss cuts the window by one eighth instead of half
/// (when FASTGROW_ALLOWED): seven eighths of 76800 (Appendix A.1).
pub const SCALABLE_THRESHOLD: u64 = 67_200;
/// SSTHRESH's initial value, positive infinity.
pub const SSTHRESH_INFINITY: u64 = u64::MAX;

/// The Appendix A controller's state (the session variables of A.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendixA {
    /// CWND.
    cwnd: u64,
    /// SSTHRESH.
    ssthresh: u64,
    /// ACKED_BYTES_ACCUMULATOR.
    acked_bytes_accumulator: u64,
    /// ACKED_BYTES_THIS_PACKET.
    acked_bytes_this_packet: u64,
    /// PRE_ACK_OUTSTANDING.
    pre_ack_outstanding: u64,
    /// ANY_LOSS.
    any_loss: bool,
    /// ANY_NAKS.
    any_naks: bool,
    /// ANY_ACKS.
    any_acks: bool,
    /// When a TCR flag last arrived on this session.
    tcr_received_at: Option<Instant>,
    /// When this session last sent the TC flag.
    tc_sent_here_at: Option<Instant>,
    /// When any session of the endpoint (this one included) last sent the TC flag.
    tc_sent_anywhere_at: Option<Instant>,
}

impl Default for AppendixA {
    fn default() -> Self {
        Self::new()
    }
}

fn within(at: Option<Instant>, now: Instant, window: Duration) -> bool {
    at.is_some_and(|t| t <= now && now < t + window)
}

impl AppendixA {
    /// CWND = CWND_INIT, SSTHRESH = infinity, everything else zero or false.
    pub fn new() -> Self {
        AppendixA {
            cwnd: CWND_INIT,
            ssthresh: SSTHRESH_INFINITY,
            acked_bytes_accumulator: 0,
            acked_bytes_this_packet: 0,
            pre_ack_outstanding: 0,
            any_loss: false,
            any_naks: false,
            any_acks: false,
            tcr_received_at: None,
            tc_sent_here_at: None,
            tc_sent_anywhere_at: None,
        }
    }

    /// CWND.
    pub fn cwnd(&self) -> u64 {
        self.cwnd
    }

    /// SSTHRESH (`u64::MAX` for infinity).
    pub fn ssthresh(&self) -> u64 {
        self.ssthresh
    }

    /// ACKED_BYTES_ACCUMULATOR.
    pub fn acked_bytes_accumulator(&self) -> u64 {
        self.acked_bytes_accumulator
    }

    /// FASTGROW_ALLOWED at `now`: no TCR received here and no TC sent anywhere in the last 800 ms.
    pub fn fastgrow_allowed(&self, now: Instant) -> bool {
        !within(self.tcr_received_at, now, TIME_CRITICAL_WINDOW)
            && !within(self.tc_sent_anywhere_at, now, TIME_CRITICAL_WINDOW)
    }

    /// TC_SENT at `now`: this session sent the TC flag in the last 800 ms.
    pub fn tc_sent(&self, now: Instant) -> bool {
        within(self.tc_sent_here_at, now, TIME_CRITICAL_WINDOW)
    }

    /// Additive increase: `step` bytes for every AITHRESH bytes accumulated.
    fn additive_increase(&mut self, cap: u64, step: u64) -> u64 {
        self.acked_bytes_accumulator = self
            .acked_bytes_accumulator
            .saturating_add(self.acked_bytes_this_packet);
        let aithresh = (self.cwnd / 16).max(64).min(cap);
        // The figure's `while ACCUMULATOR >= AITHRESH` loop, as a division.
        let steps = self.acked_bytes_accumulator / aithresh;
        self.acked_bytes_accumulator -= steps * aithresh;
        steps.saturating_mul(step)
    }
}

impl CongestionController for AppendixA {
    /// "Before processing each received packet": steps 1 to 4 of A.2, and
    /// ANY_ACKS cleared too: the RFC never resets it, but without a reset one
    /// acknowledgement would count as "acknowledgements in this packet" for
    /// every later packet (listed as an ambiguity).
    fn on_packet_begin(&mut self, _now: Instant, outstanding: u64) {
        self.any_loss = false;
        self.any_naks = false;
        self.any_acks = false;
        self.acked_bytes_this_packet = 0;
        self.pre_ack_outstanding = outstanding;
    }

    fn on_ack(&mut self, bytes: u64) {
        self.any_acks = true;
        self.acked_bytes_this_packet = self.acked_bytes_this_packet.saturating_add(bytes);
    }

    fn on_nak(&mut self) {
        self.any_naks = true;
    }

    fn on_loss(&mut self, _bytes: u64) {
        self.any_loss = true;
    }

    /// Figure 25.
    fn on_packet_end(&mut self, now: Instant) {
        let fastgrow = self.fastgrow_allowed(now);
        let tc_sent = self.tc_sent(now);
        let pre = self.pre_ack_outstanding;
        if self.any_loss {
            self.ssthresh = if tc_sent || (pre > SCALABLE_THRESHOLD && fastgrow) {
                (pre.saturating_mul(7) / 8).max(CWND_INIT)
            } else {
                (pre / 2).max(CWND_INIT)
            };
            self.cwnd = self.ssthresh;
            self.acked_bytes_accumulator = 0;
        } else if self.any_acks && !self.any_naks && pre >= self.cwnd {
            let increase = if fastgrow {
                if self.cwnd < self.ssthresh {
                    self.acked_bytes_this_packet
                } else {
                    self.additive_increase(4800, 48)
                }
            } else if self.cwnd < self.ssthresh && tc_sent {
                self.acked_bytes_this_packet.div_ceil(4)
            } else {
                let cap = if tc_sent { 2400 } else { 4800 };
                self.additive_increase(cap, 24)
            };
            self.cwnd = self.cwnd.saturating_add(increase.min(SMSS)).max(CWND_INIT);
        }
    }

    /// Figure 24.
    fn on_timeout(&mut self, _now: Instant, was_loss: bool) {
        self.ssthresh = self.ssthresh.max(self.cwnd.saturating_mul(3) / 4);
        self.acked_bytes_accumulator = 0;
        self.cwnd = if was_loss { CWND_TIMEDOUT } else { CWND_INIT };
    }

    fn on_time_critical_sent(&mut self, now: Instant, this_session: bool) {
        self.tc_sent_anywhere_at = Some(now);
        if this_session {
            self.tc_sent_here_at = Some(now);
        }
    }

    fn on_time_critical_reverse(&mut self, now: Instant) {
        self.tcr_received_at = Some(now);
    }

    /// Transmission is allowed while S_OUTSTANDING_BYTES is below CWND (3.5.2);
    /// the size of what is about to be sent does not matter, so a packet may
    /// take the outstanding bytes past CWND by less than one packet.
    fn may_send(&self, _now: Instant, outstanding: u64, _bytes: u64) -> bool {
        outstanding < self.cwnd
    }

    fn window(&self) -> u64 {
        self.cwnd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// One received packet acknowledging `acked` bytes with `outstanding` in flight before it.
    fn ack_packet(cc: &mut AppendixA, now: Instant, outstanding: u64, acked: u64) {
        cc.on_packet_begin(now, outstanding);
        cc.on_ack(acked);
        cc.on_packet_end(now);
    }

    // RFC 7016 A.2: initial values.
    // spec: 7016-A.2-a, 7016-3.5.2-e, 7016-3.5.2-d
    #[test]
    fn a2_initial_state() {
        let cc = AppendixA::new();
        assert_eq!(cc.cwnd(), 4380);
        assert_eq!(cc.ssthresh(), u64::MAX);
        assert!(cc.may_send(t(0), 4379, 1));
        assert!(!cc.may_send(t(0), 4380, 1));
    }

    // RFC 7016 A.2 Figure 25, slow start branch: INCREASE = ACKED_BYTES_THIS_PACKET, capped at SMSS.
    // spec: 7016-A.2-n, 7016-A.2-o, 7016-A.2-s, 7016-A.2-k, 7016-A.2-l
    #[test]
    fn a2_figure_25_slow_start() {
        let mut cc = AppendixA::new();
        ack_packet(&mut cc, t(1000), 4380, 1000);
        assert_eq!(cc.cwnd(), 5380);
        ack_packet(&mut cc, t(1000), 5380, 3000);
        assert_eq!(cc.cwnd(), 5380 + 1460, "increase capped at SMSS");
        // Not using the window (PRE_ACK_OUTSTANDING < CWND): no growth.
        ack_packet(&mut cc, t(1000), 100, 100);
        assert_eq!(cc.cwnd(), 6840);
        // A NAK in the packet: no growth.
        cc.on_packet_begin(t(1000), 7000);
        cc.on_ack(1000);
        cc.on_nak();
        cc.on_packet_end(t(1000));
        assert_eq!(cc.cwnd(), 6840);
    }

    // RFC 7016 A.2 Figure 25, loss: SSTHRESH = MAX(PRE_ACK_OUTSTANDING / 2, CWND_INIT), or 7/8
    // above 67200 bytes with FASTGROW_ALLOWED, or 7/8 whenever TC_SENT.
    // spec: 7016-A.2-m, 7016-A.2-i, 7016-A.2-j
    #[test]
    fn a2_figure_25_loss() {
        let mut cc = AppendixA::new();
        cc.on_packet_begin(t(0), 20_000);
        cc.on_loss(1200);
        cc.on_packet_end(t(0));
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 10_000));

        cc.on_packet_begin(t(0), 5000);
        cc.on_loss(1200);
        cc.on_packet_end(t(0));
        assert_eq!(cc.cwnd(), CWND_INIT, "never below CWND_INIT");

        cc.on_packet_begin(t(0), 80_000);
        cc.on_loss(1200);
        cc.on_packet_end(t(0));
        assert_eq!(cc.cwnd(), 70_000, "scalable decrease: 80000 * 7/8");

        // Same outstanding but a TCR in the last 800 ms: FASTGROW_ALLOWED false, halve.
        cc.on_time_critical_reverse(t(100));
        cc.on_packet_begin(t(500), 80_000);
        cc.on_loss(1200);
        cc.on_packet_end(t(500));
        assert_eq!(cc.cwnd(), 40_000);

        // Sending time critical data (TC_SENT): 7/8 even below 67200.
        cc.on_time_critical_sent(t(1000), true);
        cc.on_packet_begin(t(1000), 16_000);
        cc.on_loss(1200);
        cc.on_packet_end(t(1000));
        assert_eq!(cc.cwnd(), 14_000);
    }

    // RFC 7016 A.2 Figure 25, congestion avoidance with FASTGROW_ALLOWED: 48 bytes per AITHRESH.
    // spec: 7016-A.2-p
    #[test]
    fn a2_figure_25_congestion_avoidance() {
        let mut cc = AppendixA::new();
        cc.on_packet_begin(t(0), 16_000);
        cc.on_loss(1);
        cc.on_packet_end(t(0));
        assert_eq!((cc.cwnd(), cc.ssthresh()), (8000, 8000));
        // AITHRESH = MIN(MAX(8000/16, 64), 4800) = 500: 1200 bytes give 2 steps of 48, 200 left.
        ack_packet(&mut cc, t(0), 8000, 1200);
        assert_eq!(cc.cwnd(), 8096);
        assert_eq!(cc.acked_bytes_accumulator(), 200);
        // AITHRESH = 8096/16 = 506: 200 + 400 = 600 -> one step, 94 left.
        ack_packet(&mut cc, t(0), 8096, 400);
        assert_eq!((cc.cwnd(), cc.acked_bytes_accumulator()), (8144, 94));
    }

    // RFC 7016 3.5.2.1 and A.2: a TCR within 800 ms disables slow start (SSTHRESH behaves as 0)
    // and limits growth to 24 bytes per AITHRESH (384 bytes or 0.5% per round trip).
    // spec: 7016-3.5.2.1-a, 7016-3.5.2.1-b, 7016-A.2-b, 7016-A.2-r
    #[test]
    fn tcr_clamps_slow_start() {
        let mut cc = AppendixA::new();
        cc.on_time_critical_reverse(t(1000));
        assert!(!cc.fastgrow_allowed(t(1799)));
        // CWND < SSTHRESH (infinite) but no slow start: AITHRESH = MAX(4380/16, 64) = 273.
        ack_packet(&mut cc, t(1500), 4380, 1460);
        assert_eq!(cc.cwnd(), 4380 + 5 * 24);
        assert_eq!(cc.acked_bytes_accumulator(), 1460 - 5 * 273);
        // 800 ms later the notification has expired: slow start again.
        assert!(cc.fastgrow_allowed(t(1800)));
        let before = cc.cwnd();
        ack_packet(&mut cc, t(1800), before, 1000);
        assert_eq!(cc.cwnd(), before + 1000);
        // Over one round trip of a large window the clamped increase is 0.5%.
        let mut cc = AppendixA::new();
        cc.on_packet_begin(t(0), 400_000);
        cc.on_loss(1);
        cc.on_packet_end(t(0));
        assert_eq!(cc.cwnd(), 350_000);
        cc.on_time_critical_reverse(t(10));
        let start = cc.cwnd();
        for _ in 0..(start / 1000) {
            let w = cc.cwnd();
            ack_packet(&mut cc, t(20), w, 1000);
        }
        let grown = cc.cwnd() - start;
        assert!(grown <= (start / 200).max(384) + 24, "grew {grown}");
        assert!(grown >= (start / 200) - 48, "grew {grown}");
    }

    // RFC 7016 3.5.2.1: unless this session sends time critical data itself, in which case
    // slow start runs at a quarter rate (CEIL(ACKED / 4)).
    // spec: 7016-A.2-c, 7016-A.2-q
    #[test]
    fn tc_sender_slow_starts_at_a_quarter() {
        let mut cc = AppendixA::new();
        cc.on_time_critical_reverse(t(0));
        cc.on_time_critical_sent(t(0), true);
        ack_packet(&mut cc, t(100), 4380, 1001);
        assert_eq!(cc.cwnd(), 4380 + 251);
        // TC sent on another session only: FASTGROW_ALLOWED false, TC_SENT false: additive.
        let mut cc = AppendixA::new();
        cc.on_time_critical_sent(t(0), false);
        assert!(!cc.tc_sent(t(1)) && !cc.fastgrow_allowed(t(1)));
        ack_packet(&mut cc, t(100), 4380, 1001);
        assert_eq!(cc.cwnd(), 4380 + 3 * 24);
    }

    // RFC 7016 A.2 Figure 24: timeout.
    // spec: 7016-A.2-e
    #[test]
    fn a2_figure_24_timeout() {
        let mut cc = AppendixA::new();
        for _ in 0..4 {
            let w = cc.cwnd();
            ack_packet(&mut cc, t(0), w, 1460);
        }
        assert_eq!(cc.cwnd(), 4380 + 4 * 1460);
        cc.on_timeout(t(0), true);
        assert_eq!(cc.cwnd(), CWND_TIMEDOUT);
        assert_eq!(cc.ssthresh(), u64::MAX, "MAX(infinity, ...) stays infinite");
        // With a finite SSTHRESH: MAX(SSTHRESH, CWND * 3/4).
        cc.on_packet_begin(t(0), 40_000);
        cc.on_loss(1);
        cc.on_packet_end(t(0));
        assert_eq!(cc.ssthresh(), 20_000);
        ack_packet(&mut cc, t(0), 20_000, 0);
        cc.on_timeout(t(0), false);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (20_000, CWND_INIT));
        // After a timeout with loss the next acknowledgement restores CWND_INIT.
        cc.on_timeout(t(0), true);
        ack_packet(&mut cc, t(0), 1460, 100);
        assert_eq!(cc.cwnd(), CWND_INIT);
    }

    // RFC 7016 A.2: ANY_LOSS, ANY_NAKS and the bytes acknowledged belong to one received packet:
    // a loss or a NAK in one packet does not count again in the next, and acknowledged bytes do
    // not add up across packets.
    // spec: 7016-A.2-f, 7016-A.2-g, 7016-A.2-h
    #[test]
    fn a2_per_packet_state_starts_afresh() {
        let mut cc = AppendixA::new();
        // Slow start: 1000 bytes in each of two packets grow CWND by 1000 each time (summed
        // across packets the second would grow by SMSS, 1460).
        ack_packet(&mut cc, t(0), 4380, 1000);
        assert_eq!(cc.cwnd(), 5380);
        ack_packet(&mut cc, t(0), 5380, 1000);
        assert_eq!(cc.cwnd(), 6380);
        // A packet with a NAK does not grow CWND; the next packet, without one, does.
        cc.on_packet_begin(t(0), 6380);
        cc.on_ack(500);
        cc.on_nak();
        cc.on_packet_end(t(0));
        assert_eq!(cc.cwnd(), 6380);
        ack_packet(&mut cc, t(0), 6380, 500);
        assert_eq!(cc.cwnd(), 6880);
        // A packet with a loss: SSTHRESH = CWND = 20000 / 2. The next packet, without loss and
        // with 30000 bytes outstanding, is congestion avoidance (AITHRESH 625: one step of 48),
        // not a second decrease to 15000.
        cc.on_packet_begin(t(0), 20_000);
        cc.on_loss(1000);
        cc.on_packet_end(t(0));
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 10_000));
        ack_packet(&mut cc, t(0), 30_000, 1000);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 10_048));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        // RFC 7016 3.5.2: never more aggressive than slow start (RFC 5681 3.1): per packet CWND
        // grows by at most SMSS, and in total by at most the bytes acknowledged (additive
        // increase may spend bytes accumulated over earlier packets), except for the step back
        // up to CWND_INIT after a timeout.
        // spec: 7016-3.5.2-c, 7016-3.5.2-b
        #[test]
        fn growth_never_exceeds_slow_start(events in proptest::collection::vec((0u8..8, 0u64..100_000, 0u64..5000, 0u64..2000), 1..200)) {
            let mut cc = AppendixA::new();
            let mut now = 0u64;
            let mut acked_total = 0u64;
            let mut grown_total = 0u64;
            for (kind, outstanding, acked, dt) in events {
                now += dt;
                let before = cc.cwnd();
                match kind {
                    0 => cc.on_timeout(t(now), acked % 2 == 0),
                    1 => cc.on_time_critical_reverse(t(now)),
                    2 => cc.on_time_critical_sent(t(now), acked % 2 == 0),
                    _ => {
                        cc.on_packet_begin(t(now), outstanding);
                        cc.on_ack(acked);
                        acked_total += acked;
                        if kind == 3 { cc.on_nak(); }
                        if kind == 4 { cc.on_loss(acked); }
                        cc.on_packet_end(t(now));
                        let after = cc.cwnd();
                        if kind != 4 && after > before && after != CWND_INIT {
                            prop_assert!(after - before <= SMSS, "cwnd {} -> {}", before, after);
                            grown_total += after - before;
                            prop_assert!(grown_total <= acked_total,
                                "grew {} in total for {} acknowledged bytes", grown_total, acked_total);
                        }
                        if kind == 3 {
                            prop_assert_eq!(after, before, "no growth in a packet with NAKs");
                        }
                        if kind == 4 {
                            prop_assert!(after <= before.max(outstanding * 7 / 8).max(CWND_INIT));
                        }
                    }
                }
                prop_assert!(cc.cwnd() >= CWND_TIMEDOUT);
            }
        }
    }
}
