//! Data Acknowledgement Ranges chunk (0x51), RFC 7016 section 2.3.14.
//!
//! After `cumulativeAck`, pairs of VLUs give run lengths (minus one) of
//! missing and then received sequence numbers. If the chunk ends inside the
//! last pair (Figure 6), that pair is dropped and the rest of the chunk still
//! counts; the dropped bytes are kept in [`RangeAck::truncated_tail`]. A VLU
//! too large for 64 bits in a pair is treated the same way: the RFC's note
//! covers any parse error in the ranges.

use super::ChunkPayload;
use super::ack::{SeqRange, normalize, push_range};
use super::bitmap_ack::ranges_value;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record, Value};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// One run: `holesMinusOne` missing, then `receivedMinusOne` + 1 received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AckRange {
    /// `#holes-1`.
    pub holes_minus_one: u64,
    /// `#recv-1`.
    pub received_minus_one: u64,
}

/// A Range Ack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RangeAck {
    /// `flowID`.
    pub flow_id: u64,
    /// `bufferBlocksAvailable`: free receive buffer in 1024-byte blocks.
    pub buffer_blocks_available: u64,
    /// `cumulativeAck`.
    pub cumulative_ack: u64,
    /// The complete ranges, in order.
    pub ranges: Vec<AckRange>,
    /// Bytes after the last complete range that do not form one (normally empty).
    pub truncated_tail: Vec<u8>,
}

impl RangeAck {
    /// Builds a Range Ack for a cumulative ack and further received ranges (in
    /// any order; see [`normalize`]).
    pub fn from_ranges(
        flow_id: u64,
        buffer_blocks_available: u64,
        cumulative_ack: u64,
        ranges: &[SeqRange],
    ) -> Self {
        let (cumulative_ack, ranges) = normalize(cumulative_ack, ranges);
        let mut cursor = cumulative_ack;
        let ranges = ranges
            .iter()
            .map(|r| {
                // Normalized: r.start() >= cursor + 2.
                let run = AckRange {
                    holes_minus_one: r.start() - cursor - 2,
                    received_minus_one: r.end() - r.start(),
                };
                cursor = *r.end();
                run
            })
            .collect();
        RangeAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            ranges,
            truncated_tail: Vec::new(),
        }
    }

    /// `bufferBytesAvailable`: the buffer in bytes (saturating).
    pub fn buffer_bytes_available(&self) -> u64 {
        self.buffer_blocks_available.saturating_mul(1024)
    }

    /// Every acknowledged sequence number as sorted, disjoint inclusive ranges,
    /// starting with `0..=cumulativeAck`. Ranges that would reach above
    /// 2^64 - 1 end the list.
    pub fn acknowledged_ranges(&self) -> Vec<SeqRange> {
        let mut out = vec![0..=self.cumulative_ack];
        let mut cursor = self.cumulative_ack;
        for run in &self.ranges {
            // The RFC's procedure: ackCursor++; from = ackCursor + holes-1 + 1; to = from + recv-1.
            let Some(from) = cursor
                .checked_add(1)
                .and_then(|c| c.checked_add(run.holes_minus_one))
                .and_then(|c| c.checked_add(1))
            else {
                break;
            };
            let Some(to) = from.checked_add(run.received_minus_one) else {
                break;
            };
            push_range(&mut out, from, to);
            cursor = to;
        }
        out
    }
}

impl ChunkPayload for RangeAck {
    const TYPE: u8 = super::RANGE_ACK;
    const NAME: &'static str = "Range Ack chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let flow_id = r.vlu("flowID")?;
        let buffer_blocks_available = r.vlu("bufferBlocksAvailable")?;
        let cumulative_ack = r.vlu("cumulativeAck")?;
        // Each range takes at least two input bytes, so this vector stays
        // proportional to the input.
        let mut ranges = Vec::new();
        let mut truncated_tail = Vec::new();
        while !r.is_empty() {
            let mut attempt = r.clone();
            let pair = attempt
                .vlu("holesMinusOne")
                .and_then(|h| Ok((h, attempt.vlu("receivedMinusOne")?)));
            match pair {
                Ok((holes_minus_one, received_minus_one)) => {
                    ranges.push(AckRange {
                        holes_minus_one,
                        received_minus_one,
                    });
                    *r = attempt;
                }
                Err(_) => {
                    // RFC 7016 2.3.14 (Figure 6): process up to the last complete range.
                    truncated_tail = r.rest().to_vec();
                }
            }
        }
        Ok(RangeAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            ranges,
            truncated_tail,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
        vlu::encode(self.buffer_blocks_available, out);
        vlu::encode(self.cumulative_ack, out);
        for run in &self.ranges {
            vlu::encode(run.holes_minus_one, out);
            vlu::encode(run.received_minus_one, out);
        }
        out.extend_from_slice(&self.truncated_tail);
    }

    fn encoded_len(&self) -> usize {
        vlu::encoded_len(self.flow_id)
            + vlu::encoded_len(self.buffer_blocks_available)
            + vlu::encoded_len(self.cumulative_ack)
            + self
                .ranges
                .iter()
                .map(|r| {
                    vlu::encoded_len(r.holes_minus_one) + vlu::encoded_len(r.received_minus_one)
                })
                .sum::<usize>()
            + self.truncated_tail.len()
    }
}

impl Fields for RangeAck {
    fn fields(&self) -> Record {
        let ranges: Vec<Value> = self
            .ranges
            .iter()
            .map(|r| {
                Value::Record(
                    Record::new()
                        .with("holesMinusOne", r.holes_minus_one)
                        .with("receivedMinusOne", r.received_minus_one),
                )
            })
            .collect();
        Record::new()
            .with("flowID", self.flow_id)
            .with("bufferBlocksAvailable", self.buffer_blocks_available)
            .with("cumulativeAck", self.cumulative_ack)
            .with("ranges", ranges)
            .with("truncatedTail", &self.truncated_tail)
            .with("acknowledged", ranges_value(&self.acknowledged_ranges()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::ack::tests::expand;
    use crate::wire::chunk::testing::*;
    use proptest::prelude::*;

    // RFC 7016 2.3.14 Figure 5: acknowledges 0-16, 18, 21-24.
    // spec: 7016-2.3.14-c
    #[test]
    fn figure_5() {
        let a = RangeAck::decode(&[0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x03]).unwrap();
        assert_eq!(a.ranges.len(), 2);
        assert!(a.truncated_tail.is_empty());
        assert_eq!(a.acknowledged_ranges(), vec![0..=16, 18..=18, 21..=24]);
        assert_eq!(RangeAck::from_ranges(5, 127, 16, &[18..=18, 21..=24]), a);
    }

    // RFC 7016 2.3.14 Figure 6: the last range is cut inside its second VLU.
    // spec: 7016-2.3.14-e
    #[test]
    fn figure_6_truncated_range_is_dropped() {
        let a = RangeAck::decode(&[0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x83]).unwrap();
        assert_eq!(
            a.ranges,
            vec![AckRange {
                holes_minus_one: 0,
                received_minus_one: 0
            }]
        );
        assert_eq!(a.truncated_tail, [0x01, 0x83]);
        assert_eq!(a.acknowledged_ranges(), vec![0..=16, 18..=18]);
    }

    // spec: 7016-2-e, 7016-2.3.14-e
    #[test]
    fn errors_and_edges() {
        // A truncated header field is still an error.
        let e = RangeAck::decode_at(&[0x05, 0x7f, 0x90], 3).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind.name()),
            ("cumulativeAck", 5, "truncated")
        );
        // A lone holes VLU is a truncated range.
        let a = RangeAck::decode(&[0x05, 0x7f, 0x10, 0x04]).unwrap();
        assert!(a.ranges.is_empty());
        assert_eq!(a.truncated_tail, [0x04]);
        // Ranges reaching past 2^64 - 1 end the list.
        let a = RangeAck {
            cumulative_ack: u64::MAX - 3,
            ranges: vec![
                AckRange {
                    holes_minus_one: 0,
                    received_minus_one: 0,
                },
                AckRange {
                    holes_minus_one: 0,
                    received_minus_one: 5,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            a.acknowledged_ranges(),
            vec![0..=u64::MAX - 3, u64::MAX - 1..=u64::MAX - 1]
        );
    }

    payload_props!(RangeAck, arb_range_ack());

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        // spec: 7016-2.3.14-c
        #[test]
        fn from_ranges_acknowledges_exactly_the_normalized_set(cum in 0u64..1000, ranges in proptest::collection::vec((0u64..1100, 0u64..20), 0..6)) {
            let ranges: Vec<SeqRange> = ranges.into_iter().map(|(s, l)| s..=s + l).collect();
            let (ncum, nranges) = normalize(cum, &ranges);
            let a = RangeAck::from_ranges(1, 2, cum, &ranges);
            let mut want = vec![0..=ncum];
            want.extend(nranges);
            prop_assert_eq!(expand(&a.acknowledged_ranges()), expand(&want));
            prop_assert_eq!(a.acknowledged_ranges(), want);
        }
    }
}
