//! Flow selection, RFC 7016 section 3.6.2.3 ("according to the implementation's prioritization scheme"): time critical first, round robin among equals.
//!
//! Every sending flow has a [`Priority`] from 0 to 7; 4 and above are time
//! critical (real-time), and a time critical message on a lower flow lifts its
//! flow to [`Priority::TIME_CRITICAL`] while that message is next to send. The
//! highest priority that has a flow ready to transmit goes first. Flows of the
//! same priority take turns packet by packet: each new packet starts with the
//! next ready flow after the one that started the previous packet (by flow
//! handle order, wrapping), and a flow fills what it can of a packet before the
//! next one gets the rest. So sharing is fair by packets, not by bytes.

use std::collections::BTreeMap;

use super::api::SendFlowId;

/// A sending flow's scheduling priority: 0 (lowest) to 7 (highest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    /// Bulk data (the default).
    pub const BULK: Priority = Priority(0);
    /// The lowest time critical priority.
    pub const TIME_CRITICAL: Priority = Priority(4);
    /// The highest priority.
    pub const HIGHEST: Priority = Priority(7);

    /// The priority `level`, or `None` above 7.
    pub const fn new(level: u8) -> Option<Priority> {
        if level <= 7 {
            Some(Priority(level))
        } else {
            None
        }
    }

    /// The level, 0 to 7.
    pub const fn level(self) -> u8 {
        self.0
    }

    /// Whether data at this priority is time critical (sets the TC flag, 2.2.4).
    pub const fn is_time_critical(self) -> bool {
        self.0 >= Self::TIME_CRITICAL.0
    }
}

/// The round-robin cursor per priority level.
#[derive(Debug, Clone, Default)]
pub struct RoundRobin {
    last: BTreeMap<Priority, SendFlowId>,
}

impl RoundRobin {
    /// A cursor with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Picks among `ready` flows (in any order): the highest priority, and
    /// among those the first after the last one [`served`](Self::served) at
    /// that priority. Picking alone does not move the cursor.
    pub fn pick(
        &mut self,
        ready: impl IntoIterator<Item = (SendFlowId, Priority)>,
    ) -> Option<SendFlowId> {
        let mut best: Option<Priority> = None;
        let mut candidates: Vec<SendFlowId> = Vec::new();
        for (id, p) in ready {
            match best {
                Some(b) if p < b => continue,
                Some(b) if p == b => candidates.push(id),
                _ => {
                    best = Some(p);
                    candidates.clear();
                    candidates.push(id);
                }
            }
        }
        let level = best?;
        candidates.sort_unstable();
        match self.last.get(&level) {
            Some(last) => candidates
                .iter()
                .find(|id| *id > last)
                .or(candidates.first())
                .copied(),
            None => candidates.first().copied(),
        }
    }

    /// Every flow of `ready` in the order [`pick`](Self::pick) would choose
    /// them if each were [`served`](Self::served) in turn and then left out:
    /// highest priority first, and within a priority starting after the last
    /// one served there, wrapping. One sort instead of a pick per flow.
    pub fn order(
        &self,
        ready: impl IntoIterator<Item = (SendFlowId, Priority)>,
    ) -> Vec<SendFlowId> {
        let mut levels: BTreeMap<Priority, Vec<SendFlowId>> = BTreeMap::new();
        for (id, p) in ready {
            levels.entry(p).or_default().push(id);
        }
        let mut out = Vec::new();
        for (p, mut ids) in levels.into_iter().rev() {
            ids.sort_unstable();
            let split = match self.last.get(&p) {
                Some(last) => ids.partition_point(|id| id <= last),
                None => 0,
            };
            out.extend_from_slice(&ids[split..]);
            out.extend_from_slice(&ids[..split]);
        }
        out
    }

    /// Records that `flow` at `priority` got to send, so the next turn at that
    /// priority starts after it.
    pub fn served(&mut self, flow: SendFlowId, priority: Priority) {
        self.last.insert(priority, flow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: u64) -> SendFlowId {
        SendFlowId(n)
    }

    #[test]
    fn levels() {
        assert!(Priority::new(8).is_none());
        assert!(!Priority::new(3).unwrap().is_time_critical());
        assert!(Priority::TIME_CRITICAL.is_time_critical());
        assert_eq!(Priority::default(), Priority::BULK);
    }

    // RFC 7016 3.6.1.2 / 3.6.2.3: higher priority first, round robin among equals.
    #[test]
    fn time_critical_first_then_round_robin() {
        let mut rr = RoundRobin::new();
        let bulk = Priority::BULK;
        let tc = Priority::TIME_CRITICAL;
        assert_eq!(
            rr.pick([(f(1), bulk), (f(2), tc), (f(3), bulk)]),
            Some(f(2))
        );
        let order: Vec<_> = (0..5)
            .map(|_| {
                let id = rr.pick([(f(3), bulk), (f(1), bulk), (f(5), bulk)]).unwrap();
                rr.served(id, bulk);
                id
            })
            .collect();
        assert_eq!(order, [f(1), f(3), f(5), f(1), f(3)]);
        // Picking without sending does not move the turn.
        assert_eq!(rr.pick([(f(1), bulk), (f(5), bulk)]), Some(f(5)));
        assert_eq!(rr.pick([(f(1), bulk), (f(5), bulk)]), Some(f(5)));
        // The one served last is no longer ready: the next one after it.
        rr.served(f(3), bulk);
        assert_eq!(rr.pick([(f(1), bulk), (f(5), bulk)]), Some(f(5)));
        assert_eq!(rr.pick(std::iter::empty()), None);
    }

    // `order` lists flows as repeated picks would, each served and left out.
    #[test]
    fn order_matches_repeated_picks() {
        let levels = [Priority::BULK, Priority::TIME_CRITICAL, Priority::HIGHEST];
        let mut rr = RoundRobin::new();
        for round in 0..20u64 {
            let ready: Vec<(SendFlowId, Priority)> = (1..=9)
                .filter(|n| (n * 7 + round) % 3 != 0)
                .map(|n| (f(n), levels[((n + round) % 3) as usize]))
                .collect();
            let order = rr.order(ready.clone());
            let mut picks = Vec::new();
            let mut left = ready;
            let mut model = rr.clone();
            while let Some(id) = model.pick(left.clone()) {
                let p = left.iter().find(|(x, _)| *x == id).unwrap().1;
                model.served(id, p);
                left.retain(|(x, _)| *x != id);
                picks.push(id);
            }
            assert_eq!(order, picks, "round {round}");
            // Serve the first two, as a packet might.
            for id in order.iter().take(2) {
                let p = levels[((id.0 + round) % 3) as usize];
                rr.served(*id, p);
            }
        }
    }
}
