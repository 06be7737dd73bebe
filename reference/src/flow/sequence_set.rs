//! SEQUENCE_SET, RFC 7016 sections 3.6.3 and 3.6.3.3: the sequence numbers a receiving flow has seen, as sorted ranges, and its CSN.
//!
//! A set of `u64` kept as sorted, disjoint, non-adjacent inclusive ranges, so
//! its size grows with the number of gaps, not with the number of sequence
//! numbers. The owner bounds the number of ranges ([`SequenceSet::would_add_range`]
//! lets it refuse an insertion that would create one more).

use core::ops::RangeInclusive;

/// Sorted, disjoint, non-adjacent inclusive ranges of sequence numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequenceSet {
    ranges: Vec<(u64, u64)>,
}

impl SequenceSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The number of disjoint ranges.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// The ranges, in ascending order.
    pub fn ranges(&self) -> impl Iterator<Item = RangeInclusive<u64>> + '_ {
        self.ranges.iter().map(|&(s, e)| s..=e)
    }

    /// Index of the first range that ends at or after `seq`.
    fn first_ending_at_or_after(&self, seq: u64) -> usize {
        self.ranges.partition_point(|&(_, end)| end < seq)
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        let i = self.first_ending_at_or_after(seq);
        self.ranges.get(i).is_some_and(|&(start, _)| start <= seq)
    }

    /// Whether every number of `start..=end` is in the set.
    pub fn contains_range(&self, start: u64, end: u64) -> bool {
        let i = self.first_ending_at_or_after(end);
        self.ranges.get(i).is_some_and(|&(s, _)| s <= start)
    }

    /// Whether inserting `start..=end` would add a new range (rather than
    /// extend or merge existing ones).
    pub fn would_add_range(&self, start: u64, end: u64) -> bool {
        let (i, j) = self.touching(start, end);
        i >= j
    }

    /// The ranges `i..j` that overlap or touch `start..=end`.
    fn touching(&self, start: u64, end: u64) -> (usize, usize) {
        let i = self
            .ranges
            .partition_point(|&(_, e)| e.saturating_add(1) < start);
        let j = self
            .ranges
            .partition_point(|&(s, _)| s <= end.saturating_add(1));
        (i, j)
    }

    /// Adds `seq`; returns whether it was new.
    pub fn insert(&mut self, seq: u64) -> bool {
        self.insert_range(seq, seq)
    }

    /// Adds `start..=end` (nothing when `start > end`); returns whether any number was new.
    pub fn insert_range(&mut self, start: u64, end: u64) -> bool {
        if start > end {
            return false;
        }
        let (i, j) = self.touching(start, end);
        if i >= j {
            self.ranges.insert(i, (start, end));
            return true;
        }
        let (first_start, _) = self.ranges[i];
        let (_, last_end) = self.ranges[j - 1];
        let merged = (first_start.min(start), last_end.max(end));
        let changed = !(j - i == 1 && first_start <= start && last_end >= end);
        self.ranges.splice(i..j, [merged]);
        changed
    }

    /// The Cumulative Acknowledgement Sequence Number (3.6.3.3): the top of
    /// the contiguous range starting at 0, if 0 is in the set.
    pub fn csn(&self) -> Option<u64> {
        match self.ranges.first() {
            Some(&(0, end)) => Some(end),
            _ => None,
        }
    }

    /// The highest number in the set.
    pub fn highest(&self) -> Option<u64> {
        self.ranges.last().map(|&(_, e)| e)
    }

    /// Whether the set misses some number between 0 and its highest number (3.6.3.2 steps 8 and 14).
    pub fn has_gaps(&self) -> bool {
        match self.ranges.as_slice() {
            [] => false,
            [(start, _)] => *start != 0,
            _ => true,
        }
    }

    /// The ranges above the CSN (or all ranges when 0 is missing), for an acknowledgement.
    pub fn ranges_above_csn(&self) -> Vec<RangeInclusive<u64>> {
        let skip = usize::from(self.csn().is_some());
        self.ranges.iter().skip(skip).map(|&(s, e)| s..=e).collect()
    }

    /// The numbers of `start..=end` missing from the set, as ranges.
    pub fn missing_in(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let mut cursor = start;
        let i = self.first_ending_at_or_after(start);
        for &(s, e) in &self.ranges[i..] {
            if s > end {
                break;
            }
            if s > cursor {
                out.push((cursor, s - 1));
            }
            match e.checked_add(1) {
                Some(next) => cursor = cursor.max(next),
                None => return out,
            }
            if cursor > end {
                return out;
            }
        }
        out.push((cursor, end));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    // RFC 7016 3.6.3.3: {0, 1, 2, 3, 5, 6} has CSN 3.
    #[test]
    fn csn_example_of_3_6_3_3() {
        let mut s = SequenceSet::new();
        for n in [0, 1, 2, 3, 5, 6] {
            s.insert(n);
        }
        assert_eq!(s.csn(), Some(3));
        assert!(s.has_gaps());
        assert_eq!(s.ranges_above_csn(), vec![5..=6]);
        assert_eq!(s.missing_in(0, 8), vec![(4, 4), (7, 8)]);
        s.insert(4);
        assert_eq!(
            (s.csn(), s.has_gaps(), s.range_count()),
            (Some(6), false, 1)
        );
    }

    #[test]
    fn merging_and_edges() {
        let mut s = SequenceSet::new();
        assert!(s.insert_range(10, 20));
        assert!(!s.insert_range(12, 15));
        assert!(s.would_add_range(30, 30));
        assert!(!s.would_add_range(21, 25));
        assert!(s.insert_range(u64::MAX - 1, u64::MAX));
        assert!(s.insert_range(0, 9));
        assert_eq!(
            s.ranges().collect::<Vec<_>>(),
            vec![0..=20, u64::MAX - 1..=u64::MAX]
        );
        assert!(s.contains(u64::MAX) && !s.contains(21));
        assert!(s.contains_range(3, 20) && !s.contains_range(3, 21));
        assert_eq!(s.missing_in(15, u64::MAX), vec![(21, u64::MAX - 2)]);
        assert!(s.insert_range(0, u64::MAX));
        assert_eq!(s.range_count(), 1);
        assert_eq!(s.csn(), Some(u64::MAX));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u64..60, 0u64..5), 0..40)) {
            let mut s = SequenceSet::new();
            let mut model = BTreeSet::new();
            for (start, len) in ops {
                let end = start + len;
                let new = (start..=end).any(|n| !model.contains(&n));
                prop_assert_eq!(s.insert_range(start, end), new);
                model.extend(start..=end);
            }
            let flat: BTreeSet<u64> = s.ranges().flatten().collect();
            prop_assert_eq!(&flat, &model);
            let mut prev: Option<u64> = None;
            for r in s.ranges() {
                if let Some(p) = prev { prop_assert!(*r.start() > p + 1); }
                prev = Some(*r.end());
            }
            let csn = if model.contains(&0) { Some((0..).take_while(|n| model.contains(n)).last().unwrap()) } else { None };
            prop_assert_eq!(s.csn(), csn);
            let missing: BTreeSet<u64> = s.missing_in(0, 70).into_iter().flat_map(|(a, b)| a..=b).collect();
            let want: BTreeSet<u64> = (0..=70).filter(|n| !model.contains(n)).collect();
            prop_assert_eq!(missing, want);
        }
    }
}
