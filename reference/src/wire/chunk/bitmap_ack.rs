//! Data Acknowledgement Bitmap chunk (0x50), RFC 7016 section 2.3.13.
//!
//! After `cumulativeAck`, each bit of the bitmap (least significant bit of
//! each byte first) stands for one sequence number, starting at
//! `cumulativeAck + 2`; `cumulativeAck + 1` needs no bit, since if it had been
//! received it would be covered by the cumulative ack.

use super::ack::{SeqRange, normalize, push_seq};
use super::{ChunkPayload, MAX_PAYLOAD_LEN};
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record, Value};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// A Bitmap Ack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BitmapAck {
    /// `flowID`.
    pub flow_id: u64,
    /// `bufferBlocksAvailable`: free receive buffer in 1024-byte blocks.
    pub buffer_blocks_available: u64,
    /// `cumulativeAck`: every sequence number up to this one is acknowledged.
    pub cumulative_ack: u64,
    /// The bit field (possibly empty).
    pub bitmap: Vec<u8>,
}

impl BitmapAck {
    /// Builds a Bitmap Ack for a cumulative ack and further received ranges (in
    /// any order; see [`normalize`]). `None` when the bitmap would not fit in a chunk.
    pub fn from_ranges(
        flow_id: u64,
        buffer_blocks_available: u64,
        cumulative_ack: u64,
        ranges: &[SeqRange],
    ) -> Option<Self> {
        let (cumulative_ack, ranges) = normalize(cumulative_ack, ranges);
        let mut ack = BitmapAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            bitmap: Vec::new(),
        };
        if let Some(last) = ranges.last() {
            // Normalized ranges start at cumulative_ack + 2 or later.
            let first_bit_seq = cumulative_ack + 2;
            let bits = last.end().checked_sub(first_bit_seq)?.checked_add(1)?;
            let bytes = usize::try_from(bits.div_ceil(8)).ok()?;
            if bytes > MAX_PAYLOAD_LEN.saturating_sub(ack.encoded_len()) {
                return None;
            }
            ack.bitmap = vec![0; bytes];
            for r in &ranges {
                for seq in r.clone() {
                    let bit = seq - first_bit_seq;
                    let byte = ack.bitmap.get_mut((bit / 8) as usize)?;
                    *byte |= 1 << (bit % 8);
                }
            }
        }
        Some(ack)
    }

    /// `bufferBytesAvailable`: the buffer in bytes (saturating).
    pub fn buffer_bytes_available(&self) -> u64 {
        self.buffer_blocks_available.saturating_mul(1024)
    }

    /// Every acknowledged sequence number as sorted, disjoint inclusive ranges,
    /// starting with `0..=cumulativeAck`. Bits that would name a sequence
    /// number above 2^64 - 1 are ignored.
    pub fn acknowledged_ranges(&self) -> Vec<SeqRange> {
        let mut out = vec![0..=self.cumulative_ack];
        // ackCursor of the RFC's procedure: the bit at position p (1 = least
        // significant) of each byte names ackCursor + p.
        let mut cursor = self.cumulative_ack.checked_add(1);
        for byte in &self.bitmap {
            let Some(c) = cursor else { break };
            for bit in 0..8u64 {
                if byte & (1 << bit) != 0
                    && let Some(seq) = c.checked_add(bit + 1)
                {
                    push_seq(&mut out, seq);
                }
            }
            cursor = c.checked_add(8);
        }
        out
    }
}

impl ChunkPayload for BitmapAck {
    const TYPE: u8 = super::BITMAP_ACK;
    const NAME: &'static str = "Bitmap Ack chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(BitmapAck {
            flow_id: r.vlu("flowID")?,
            buffer_blocks_available: r.vlu("bufferBlocksAvailable")?,
            cumulative_ack: r.vlu("cumulativeAck")?,
            bitmap: r.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
        vlu::encode(self.buffer_blocks_available, out);
        vlu::encode(self.cumulative_ack, out);
        out.extend_from_slice(&self.bitmap);
    }

    fn encoded_len(&self) -> usize {
        vlu::encoded_len(self.flow_id)
            + vlu::encoded_len(self.buffer_blocks_available)
            + vlu::encoded_len(self.cumulative_ack)
            + self.bitmap.len()
    }
}

/// Ranges as `[first, last]` pairs for the field view.
pub(crate) fn ranges_value(ranges: &[SeqRange]) -> Value {
    Value::List(
        ranges
            .iter()
            .map(|r| Value::List(vec![Value::Uint(*r.start()), Value::Uint(*r.end())]))
            .collect(),
    )
}

impl Fields for BitmapAck {
    fn fields(&self) -> Record {
        Record::new()
            .with("flowID", self.flow_id)
            .with("bufferBlocksAvailable", self.buffer_blocks_available)
            .with("cumulativeAck", self.cumulative_ack)
            .with("bitmap", &self.bitmap)
            .with("acknowledged", ranges_value(&self.acknowledged_ranges()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::ack::tests::expand;
    use crate::wire::chunk::testing::*;
    use proptest::prelude::*;

    // RFC 7016 2.3.13 Figure 4: acknowledges 0-16, 18, 21-24, 27, 28.
    // spec: 7016-2.3.13-c
    #[test]
    fn figure_4() {
        let a = BitmapAck::decode(&[0x05, 0x7f, 0x10, 0x79, 0x06]).unwrap();
        assert_eq!(
            (a.flow_id, a.buffer_bytes_available(), a.cumulative_ack),
            (5, 127 * 1024, 16)
        );
        assert_eq!(
            a.acknowledged_ranges(),
            vec![0..=16, 18..=18, 21..=24, 27..=28]
        );
        let built = BitmapAck::from_ranges(5, 127, 16, &[18..=18, 21..=24, 27..=28]).unwrap();
        assert_eq!(built, a);
    }

    // spec: 7016-2-e, 7016-2.3.13-c
    #[test]
    fn errors_and_edges() {
        let e = BitmapAck::decode_at(&[0x05, 0x7f], 3).unwrap_err();
        assert_eq!((e.field, e.offset), ("cumulativeAck", 5));
        // Bits beyond 2^64 - 1 are ignored.
        let a = BitmapAck {
            cumulative_ack: u64::MAX - 2,
            bitmap: vec![0xff, 0xff],
            ..Default::default()
        };
        assert_eq!(
            a.acknowledged_ranges(),
            vec![0..=u64::MAX - 2, u64::MAX..=u64::MAX]
        );
        assert_eq!(
            BitmapAck::from_ranges(1, 1, 0, &[(1 << 40)..=(1 << 40)]),
            None
        );
    }

    payload_props!(BitmapAck, arb_bitmap_ack());

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        // spec: 7016-2.3.13-c
        #[test]
        fn from_ranges_acknowledges_exactly_the_normalized_set(cum in 0u64..1000, ranges in proptest::collection::vec((0u64..1100, 0u64..20), 0..6)) {
            let ranges: Vec<SeqRange> = ranges.into_iter().map(|(s, l)| s..=s + l).collect();
            let (ncum, nranges) = normalize(cum, &ranges);
            let a = BitmapAck::from_ranges(1, 2, cum, &ranges).unwrap();
            let mut want = vec![0..=ncum];
            want.extend(nranges);
            prop_assert_eq!(expand(&a.acknowledged_ranges()), expand(&want));
            prop_assert_eq!(a.acknowledged_ranges(), want);
        }
    }
}
