//! Acknowledging data, RFC 7016 section 3.6.3.4: ACK_NOW, DELACK_ALARM, RX_DATA_PACKETS, and building (and truncating) acknowledgements.
//!
//! When to acknowledge: the receiving flows set SHOULD_ACK and the session's
//! ACK_NOW on the "as soon as practical" triggers of 3.6.3.4.1 (see
//! [`RecvFlow::receive`](super::recv::RecvFlow)), a Buffer Probe (3.6.3.6), a
//! rejection (3.6.3.7) or completion (3.6.3.8); otherwise DELACK_ALARM makes
//! the acknowledgement wait at most 200 ms, and every second packet with user
//! data forces one. What to send: [`assemble`] encodes a flow's SEQUENCE_SET
//! as the more compact of a Bitmap and a Range Ack (3.6.3.4.3), preceded by a
//! Flow Exception Report when the flow is rejected, and truncates it to fit
//! the packet when it is the packet's first acknowledgement (3.6.3.4.2).

use core::time::Duration;

use super::sequence_set::SequenceSet;
use crate::time::Instant;
use crate::wire::chunk::ack::most_compact;
use crate::wire::chunk::{Chunk, FlowExceptionReport};

/// The longest an acknowledgement may be delayed (3.6.3.4.4).
pub const DELACK_PERIOD: Duration = Duration::from_millis(200);
/// Packets with user data after which an acknowledgement is due (3.6.3.2).
pub const ACK_EVERY_DATA_PACKETS: u32 = 2;

/// The session's acknowledgement timing state (3.6.3.2, 3.6.3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckState {
    /// ACK_NOW.
    pub ack_now: bool,
    /// DELACK_ALARM.
    pub delack_alarm: Option<Instant>,
    /// RX_DATA_PACKETS.
    pub rx_data_packets: u32,
}

impl AckState {
    /// 3.6.3.2 step 15: with ACK_NOW false and no alarm set, fire in 200 ms.
    pub fn arm_delack(&mut self, now: Instant) {
        if !self.ack_now && self.delack_alarm.is_none() {
            self.delack_alarm = Some(now + DELACK_PERIOD);
        }
    }

    /// After a packet with at least one User Data chunk: RX_DATA_PACKETS + 1,
    /// and ACK_NOW at two (3.6.3.2).
    pub fn on_data_packet(&mut self) {
        self.rx_data_packets = self.rx_data_packets.saturating_add(1);
        if self.rx_data_packets >= ACK_EVERY_DATA_PACKETS {
            self.ack_now = true;
        }
    }

    /// DELACK_ALARM fired: ACK_NOW (3.6.3.4.4).
    pub fn on_timeout(&mut self, now: Instant) {
        if self.delack_alarm.is_some_and(|t| t <= now) {
            self.delack_alarm = None;
            self.ack_now = true;
        }
    }

    /// No receiving flow is ready to acknowledge any more: clear ACK_NOW,
    /// RX_DATA_PACKETS and DELACK_ALARM (3.6.3.4.5 step 2, 3.6.3.4.6 step 6).
    pub fn all_acknowledged(&mut self) {
        self.ack_now = false;
        self.rx_data_packets = 0;
        self.delack_alarm = None;
    }
}

/// An assembled acknowledgement: its chunks (a Flow Exception Report first
/// when rejected) and whether ranges had to be left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledAck {
    /// The chunks, in packet order.
    pub chunks: Vec<Chunk>,
    /// Their encoded size, chunk headers included.
    pub len: usize,
    /// Whether the acknowledgement was truncated to fit.
    pub truncated: bool,
}

/// Builds the acknowledgement of `set` for wire flow `flow_id` with a window
/// of `blocks` (3.6.3.4.3), preceded by a Flow Exception Report with
/// `rejection` when that is `Some` (3.6.3.7). The cumulative acknowledgement
/// is the CSN, which is never below the highest FSN received because every
/// FSN puts 0..=FSN into the set (3.6.3.2 step 12).
///
/// `None` when it does not fit in `budget` bytes. With `may_truncate` (the
/// first acknowledgement of a packet sent for acknowledgements, 3.6.3.4.2)
/// the highest ranges are left out until it fits; otherwise it is all or nothing.
pub fn assemble(
    flow_id: u64,
    rejection: Option<u64>,
    set: &SequenceSet,
    blocks: u64,
    budget: usize,
    may_truncate: bool,
) -> Option<AssembledAck> {
    let mut chunks = Vec::new();
    let mut len = 0;
    if let Some(code) = rejection {
        let fer = Chunk::FlowExceptionReport(FlowExceptionReport {
            flow_id,
            exception: code,
        });
        len += fer.encoded_len();
        chunks.push(fer);
    }
    let room = budget.checked_sub(len)?;
    let cumulative = set.csn().unwrap_or(0);
    let ranges = set.ranges_above_csn();
    let build = |n: usize| most_compact(flow_id, blocks, cumulative, &ranges[..n]);
    let full = build(ranges.len());
    let (ack, truncated) = if full.encoded_len() <= room {
        (full, false)
    } else if may_truncate {
        // The largest prefix of ranges that fits (the size grows with the prefix).
        let (mut lo, mut hi) = (0usize, ranges.len());
        if build(0).encoded_len() > room {
            return None;
        }
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if build(mid).encoded_len() <= room {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        (build(lo), true)
    } else {
        return None;
    };
    len += ack.encoded_len();
    chunks.push(ack);
    Some(AssembledAck {
        chunks,
        len,
        truncated,
    })
}

/// The bufferBlocksAvailable of an acknowledgement chunk.
pub fn blocks_of(chunk: &Chunk) -> Option<u64> {
    match chunk {
        Chunk::BitmapAck(a) => Some(a.buffer_blocks_available),
        Chunk::RangeAck(a) => Some(a.buffer_blocks_available),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::ChunkPayload;

    fn acked(chunk: &Chunk) -> Vec<core::ops::RangeInclusive<u64>> {
        match chunk {
            Chunk::BitmapAck(a) => a.acknowledged_ranges(),
            Chunk::RangeAck(a) => a.acknowledged_ranges(),
            other => panic!("{other:?}"),
        }
    }

    // RFC 7016 3.6.3.2, 3.6.3.4.4, 3.6.3.4.5: the timing state.
    // spec: 7016-3.6.3.2-o, 7016-3.6.3.2-q, 7016-3.6.3.4.4-a, 7016-3.6.3.4.5-c
    #[test]
    fn timing_state() {
        let mut a = AckState::default();
        a.arm_delack(Instant::from_millis(10));
        a.arm_delack(Instant::from_millis(50));
        assert_eq!(a.delack_alarm, Some(Instant::from_millis(210)));
        a.on_timeout(Instant::from_millis(209));
        assert!(!a.ack_now);
        a.on_timeout(Instant::from_millis(210));
        assert!(a.ack_now && a.delack_alarm.is_none());
        a.all_acknowledged();
        a.on_data_packet();
        assert!(!a.ack_now);
        a.on_data_packet();
        assert!(a.ack_now);
        a.all_acknowledged();
        assert_eq!(a, AckState::default());
    }

    // RFC 7016 3.6.3.4.3: the more compact encoding; 3.6.3.7: Flow Exception Report first.
    // spec: 7016-3.6.3.4.3-a, 7016-3.6.3.4.3-b, 7016-3.6.3.4.3-c
    #[test]
    fn construct() {
        let mut set = SequenceSet::new();
        set.insert_range(0, 16);
        for n in [18, 21, 22, 23, 24, 27, 28] {
            set.insert(n);
        }
        let a = assemble(5, None, &set, 127, 1000, false).unwrap();
        // Figure 4's content: the Bitmap Ack is shorter than the Range Ack.
        assert!(matches!(&a.chunks[..], [Chunk::BitmapAck(b)] if b.bitmap == [0x79, 0x06]));
        assert!(!a.truncated);
        let r = assemble(5, Some(7), &set, 0, 1000, false).unwrap();
        assert!(matches!(&r.chunks[0], Chunk::FlowExceptionReport(f) if f.exception == 7));
        assert_eq!(
            r.len,
            r.chunks.iter().map(|c| c.encoded_len()).sum::<usize>()
        );
    }

    // RFC 7016 3.6.3.4.2: truncation keeps the cumulative ack and the lowest ranges.
    // spec: 7016-3.6.3.4.2-a, 7016-3.6.3.4.2-b
    #[test]
    fn truncation() {
        let mut set = SequenceSet::new();
        set.insert_range(0, 10);
        for n in (0..200).map(|i| 20 + i * 1000) {
            set.insert(n);
        }
        let full = assemble(1, None, &set, 4, 10_000, false).unwrap();
        assert!(full.len > 100);
        assert_eq!(assemble(1, None, &set, 4, 100, false), None);
        let cut = assemble(1, None, &set, 4, 100, true).unwrap();
        assert!(cut.truncated && cut.len <= 100);
        let got = acked(&cut.chunks[0]);
        assert_eq!(got[0], 0..=10);
        assert!(got.len() > 5);
        // Every acknowledged number is in the set: nothing unreceived is acknowledged.
        for r in &got {
            assert!(set.contains_range(*r.start(), *r.end()));
        }
        // One byte more would have fit one more range? At least: the next prefix is too long.
        let Chunk::RangeAck(r) = &cut.chunks[0] else {
            panic!()
        };
        assert!(r.encoded_len() + 3 <= 100);
        assert_eq!(assemble(1, None, &set, 4, 5, true), None);
    }
}
