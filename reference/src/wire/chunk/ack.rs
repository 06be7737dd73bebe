//! Data Acknowledgement, RFC 7016 sections 2.3.13 and 2.3.14: what Bitmap Ack and Range Ack share.
//!
//! Both acknowledge every sequence number up to `cumulativeAck` and then some
//! further sequence numbers. Here those are sorted inclusive ranges;
//! [`normalize`] brings any set of ranges into the canonical form both
//! encodings use, and [`most_compact`] picks the shorter encoding, as the RFC
//! recommends (2.3.13, 2.3.14).

use core::ops::RangeInclusive;

use super::{BitmapAck, Chunk, RangeAck};

/// An inclusive range of sequence numbers.
pub type SeqRange = RangeInclusive<u64>;

/// Brings a cumulative ack and any ranges into canonical form: ranges sorted,
/// merged when they overlap or touch, everything at or below the cumulative
/// ack dropped, and a range starting right after the cumulative ack absorbed
/// into it. Every returned range starts at least 2 above the returned
/// cumulative ack and at least 2 above the end of the range before it.
pub fn normalize(cumulative_ack: u64, ranges: &[SeqRange]) -> (u64, Vec<SeqRange>) {
    let mut sorted: Vec<(u64, u64)> = ranges
        .iter()
        .filter(|r| r.start() <= r.end())
        .map(|r| (*r.start(), *r.end()))
        .collect();
    sorted.sort_unstable();
    let mut cum = cumulative_ack;
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (start, end) in sorted {
        if end <= cum {
            continue;
        }
        // cum < end <= u64::MAX, so cum + 1 cannot overflow.
        let start = start.max(cum + 1);
        match out.last_mut() {
            None if start == cum + 1 => cum = end,
            // last.1 < end <= u64::MAX here when merging, so last.1 + 1 cannot overflow.
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    (cum, out.into_iter().map(|(s, e)| s..=e).collect())
}

/// Adds `seq` to sorted ranges, merging with the last one when adjacent.
pub(crate) fn push_seq(ranges: &mut Vec<SeqRange>, seq: u64) {
    push_range(ranges, seq, seq);
}

/// Adds `start..=end` (beyond every existing range) to sorted ranges, merging when adjacent.
pub(crate) fn push_range(ranges: &mut Vec<SeqRange>, start: u64, end: u64) {
    if let Some(last) = ranges.last_mut()
        && last.end().checked_add(1) == Some(start)
    {
        *last = *last.start()..=end;
        return;
    }
    ranges.push(start..=end);
}

/// The shorter of the two acknowledgement encodings for the same information
/// (Bitmap Ack when they are the same size).
pub fn most_compact(
    flow_id: u64,
    buffer_blocks_available: u64,
    cumulative_ack: u64,
    ranges: &[SeqRange],
) -> Chunk {
    let range = RangeAck::from_ranges(flow_id, buffer_blocks_available, cumulative_ack, ranges);
    match BitmapAck::from_ranges(flow_id, buffer_blocks_available, cumulative_ack, ranges) {
        Some(bitmap) if bitmap.encoded_len() <= range.encoded_len() => Chunk::BitmapAck(bitmap),
        _ => Chunk::RangeAck(range),
    }
}

use super::ChunkPayload as _;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every sequence number in `ranges`, for small test sets.
    pub(crate) fn expand(ranges: &[SeqRange]) -> Vec<u64> {
        ranges.iter().flat_map(|r| r.clone()).collect()
    }

    #[test]
    fn normalize_merges_and_absorbs() {
        assert_eq!(
            normalize(16, &[21..=24, 18..=18, 22..=23]),
            (16, vec![18..=18, 21..=24])
        );
        assert_eq!(normalize(16, &[17..=18, 20..=20]), (18, vec![20..=20]));
        assert_eq!(
            normalize(16, &[3..=5, 10..=17, 19..=19, 20..=22]),
            (17, vec![19..=22])
        );
        assert_eq!(
            normalize(u64::MAX - 1, &[u64::MAX..=u64::MAX]),
            (u64::MAX, vec![])
        );
        #[allow(clippy::reversed_empty_ranges)]
        let empty = 9..=3;
        assert_eq!(normalize(0, &[empty]), (0, vec![]));
    }

    #[test]
    fn most_compact_prefers_the_shorter() {
        // Figure 4 / Figure 5 content: bitmap is 5 bytes of payload, ranges 7.
        let c = most_compact(5, 127, 16, &[18..=18, 21..=24, 27..=28]);
        assert!(matches!(c, Chunk::BitmapAck(_)));
        // One far range: a bitmap would be long.
        let c = most_compact(5, 127, 16, &[1000..=1001]);
        assert!(matches!(c, Chunk::RangeAck(_)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn normalize_keeps_the_same_set(cum in 0u64..40, ranges in proptest::collection::vec((0u64..80, 0u64..6), 0..6)) {
            let ranges: Vec<SeqRange> = ranges.into_iter().map(|(s, l)| s..=s + l).collect();
            let (ncum, nranges) = normalize(cum, &ranges);
            let mut want: Vec<u64> = (0..=cum).chain(expand(&ranges)).collect();
            want.sort_unstable();
            want.dedup();
            let got: Vec<u64> = (0..=ncum).chain(expand(&nranges)).collect();
            prop_assert_eq!(got, want);
            let mut prev_end = ncum;
            for r in &nranges {
                prop_assert!(*r.start() >= prev_end + 2);
                prev_end = *r.end();
            }
        }
    }
}
