//! Loss detection, RFC 7016 sections 3.6.2.5 and 3.6.2.6: Transmission Sequence Numbers, the three-NAK rule and TIMEOUT_ALARM.
//!
//! Session-wide state shared by all sending flows: every transmission of a
//! fragment gets the next TSN; an acknowledgement of an in-flight fragment
//! raises MAX_TSN_ACK; after all acknowledgements of a packet, every fragment
//! still in flight with a lower TSN gets one more negative acknowledgement,
//! and is lost at three. The in-flight fragments are indexed by TSN so that
//! finding them takes no scan of the send queues.

use std::collections::BTreeMap;

use core::time::Duration;

use super::api::SendFlowId;
use crate::time::Instant;

/// Negative acknowledgements after which a fragment is considered lost (3.6.2.5).
pub const NAKS_FOR_LOSS: u32 = 3;

/// NEXT_TSN, MAX_TSN_ACK, the fragments in flight and TIMEOUT_ALARM.
#[derive(Debug, Clone)]
pub struct Loss {
    next_tsn: u64,
    max_tsn_ack: u64,
    in_flight: BTreeMap<u64, (SendFlowId, u64)>,
    timeout_alarm: Option<Instant>,
    /// When TIMEOUT_ALARM was last set, so a smaller ERTO can shorten it.
    alarm_set_at: Option<Instant>,
}

impl Default for Loss {
    fn default() -> Self {
        Self::new()
    }
}

impl Loss {
    /// NEXT_TSN = 1, MAX_TSN_ACK = 0, nothing in flight, alarm unset.
    pub fn new() -> Self {
        Loss {
            next_tsn: 1,
            max_tsn_ack: 0,
            in_flight: BTreeMap::new(),
            timeout_alarm: None,
            alarm_set_at: None,
        }
    }

    /// Records the transmission of fragment `seq` of `flow` and returns its TSN.
    pub fn transmitted(&mut self, flow: SendFlowId, seq: u64) -> u64 {
        let tsn = self.next_tsn;
        self.next_tsn += 1;
        self.in_flight.insert(tsn, (flow, seq));
        tsn
    }

    /// The fragment with this TSN was acknowledged while in flight.
    pub fn acknowledged(&mut self, tsn: u64) {
        if self.in_flight.remove(&tsn).is_some() {
            self.max_tsn_ack = self.max_tsn_ack.max(tsn);
        }
    }

    /// The fragment with this TSN left flight without an acknowledgement
    /// (declared lost, or its flow went away).
    pub fn forget(&mut self, tsn: u64) {
        self.in_flight.remove(&tsn);
    }

    /// The in-flight fragments sent before the highest acknowledged one: each
    /// gets a negative acknowledgement (3.6.2.5).
    pub fn nak_candidates(&self) -> Vec<(u64, SendFlowId, u64)> {
        self.in_flight
            .range(..self.max_tsn_ack)
            .map(|(&tsn, &(flow, seq))| (tsn, flow, seq))
            .collect()
    }

    /// Takes every in-flight fragment out of flight (3.6.2.6 step 2).
    pub fn take_all_in_flight(&mut self) -> Vec<(u64, SendFlowId, u64)> {
        core::mem::take(&mut self.in_flight)
            .into_iter()
            .map(|(tsn, (flow, seq))| (tsn, flow, seq))
            .collect()
    }

    /// Whether any fragment is in flight.
    pub fn any_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// MAX_TSN_ACK.
    pub fn max_tsn_ack(&self) -> u64 {
        self.max_tsn_ack
    }

    /// NEXT_TSN.
    pub fn next_tsn(&self) -> u64 {
        self.next_tsn
    }

    /// A packet with user data was sent: set or reset TIMEOUT_ALARM to now + ERTO (3.6.2.6).
    pub fn arm(&mut self, now: Instant, erto: Duration) {
        self.timeout_alarm = Some(now + erto);
        self.alarm_set_at = Some(now);
    }

    /// A packet with acknowledgements arrived: reset TIMEOUT_ALARM, if set, to now + ERTO (3.6.2.6).
    pub fn rearm_if_set(&mut self, now: Instant, erto: Duration) {
        if self.timeout_alarm.is_some() {
            self.timeout_alarm = Some(now + erto);
            self.alarm_set_at = Some(now);
        }
    }

    /// ERTO may have fallen since the alarm was set (a fresh round-trip sample
    /// after backoff, 3.5.2.2): the timeout is due once the data has been
    /// outstanding for the current ERTO, so the alarm moves earlier, never
    /// later and never into the past. Without this a session that backed off
    /// to 10 s during an outage would wait out the old timer even though
    /// Pings already show the path is back (AMB-7016-44).
    pub fn retime(&mut self, now: Instant, erto: Duration) {
        if let (Some(alarm), Some(set_at)) = (self.timeout_alarm, self.alarm_set_at) {
            let due = (set_at + erto).max(now);
            if due < alarm {
                self.timeout_alarm = Some(due);
            }
        }
    }

    /// When TIMEOUT_ALARM fires.
    pub fn timeout_alarm(&self) -> Option<Instant> {
        self.timeout_alarm
    }

    /// Takes the alarm if it is due.
    pub fn take_due_alarm(&mut self, now: Instant) -> bool {
        if self.timeout_alarm.is_some_and(|t| t <= now) {
            self.timeout_alarm = None;
            self.alarm_set_at = None;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7016 3.6.2.5: fragments sent before the highest acknowledged one are NAK candidates.
    // spec: 7016-3.6.2.5-d, 7016-3.6.2.5-e, 7016-3.6.2.5-f
    #[test]
    fn nak_candidates_are_below_max_tsn_ack() {
        let mut l = Loss::new();
        let f = SendFlowId(1);
        let a = l.transmitted(f, 31);
        let b = l.transmitted(f, 32);
        let c = l.transmitted(f, 33);
        assert_eq!((a, b, c), (1, 2, 3));
        l.acknowledged(b);
        assert_eq!(l.max_tsn_ack(), 2);
        assert_eq!(l.nak_candidates(), vec![(1, f, 31)]);
        l.acknowledged(c);
        assert_eq!(l.nak_candidates(), vec![(1, f, 31)]);
        l.forget(a);
        assert!(!l.any_in_flight());
        // Acknowledging something not in flight does not move MAX_TSN_ACK.
        l.acknowledged(99);
        assert_eq!(l.max_tsn_ack(), 3);
    }

    // spec: 7016-3.6.2.6-d, 7016-3.6.2.6-e
    #[test]
    fn alarm() {
        let mut l = Loss::new();
        l.rearm_if_set(Instant::from_millis(5), Duration::from_secs(1));
        assert_eq!(l.timeout_alarm(), None);
        l.arm(Instant::from_millis(5), Duration::from_secs(1));
        l.rearm_if_set(Instant::from_millis(10), Duration::from_secs(1));
        assert_eq!(l.timeout_alarm(), Some(Instant::from_millis(1010)));
        assert!(!l.take_due_alarm(Instant::from_millis(1009)));
        assert!(l.take_due_alarm(Instant::from_millis(1010)));
        assert_eq!(l.timeout_alarm(), None);
    }

    // RFC 7016 3.5.2.2: the timeout is due when the data has been outstanding for ERTO, so a
    // smaller ERTO (a new round-trip sample after backoff) brings a backed-off alarm forward.
    // spec: 7016-3.5.2.2-v
    #[test]
    fn a_smaller_erto_brings_the_alarm_forward_but_never_back_or_into_the_past() {
        let mut l = Loss::new();
        l.retime(Instant::from_millis(0), Duration::from_secs(1));
        assert_eq!(l.timeout_alarm(), None, "no alarm, nothing to retime");
        l.arm(Instant::from_millis(1000), Duration::from_secs(10));
        // A larger ERTO does not push it later.
        l.retime(Instant::from_millis(2000), Duration::from_secs(20));
        assert_eq!(l.timeout_alarm(), Some(Instant::from_millis(11_000)));
        // ERTO back to 300 ms at 3 s: due at once (1.3 s has passed).
        l.retime(Instant::from_millis(3000), Duration::from_millis(300));
        assert_eq!(l.timeout_alarm(), Some(Instant::from_millis(3000)));
        // Set again at 5 s with 4 s; ERTO 1 s at 5.2 s: due at 6 s.
        l.arm(Instant::from_millis(5000), Duration::from_secs(4));
        l.retime(Instant::from_millis(5200), Duration::from_secs(1));
        assert_eq!(l.timeout_alarm(), Some(Instant::from_millis(6000)));
        assert!(l.take_due_alarm(Instant::from_millis(6000)));
        l.retime(Instant::from_millis(6100), Duration::from_millis(1));
        assert_eq!(l.timeout_alarm(), None, "a fired alarm stays unset");
    }
}
