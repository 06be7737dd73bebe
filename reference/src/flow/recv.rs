//! The receiving side of a flow, RFC 7016 section 3.6.3: startup, receiving data, reassembly and delivery, flow control, rejection and close.
//!
//! A [`RecvFlow`] holds the context of 3.6.3 (RF_FLOW_ID, SEQUENCE_SET,
//! RF_FINAL_SN, RECV_BUFFER, BUFFERED_SIZE, BUFFER_CAPACITY, PREV_RWND,
//! SHOULD_ACK, EXCEPTION_CODE and the state). Session-wide state (ACK_NOW,
//! DELACK_ALARM, the session's buffered bytes and the event queue) is passed in.
//!
//! Memory is bounded: RECV_BUFFER has a hard per-flow and per-session limit
//! (a fragment that would exceed either is dropped, counted and not
//! acknowledged, so a correct sender retransmits it), and SEQUENCE_SET a limit
//! on its number of ranges (same treatment). A correct sender stays within
//! the advertised window and never meets these limits unless messages are
//! larger than the hard limit; such messages cannot be received.
//!
//! Gaps (3.6.1.2): sequence numbers that can no longer be delivered (the CSN
//! has passed them and they are not part of a message still in progress) are
//! reported as [`FlowEvent::MessagesLost`] ranges, in order with the messages.
//! The abandoned final sequence number a sender queues when it closes a flow
//! (3.6.2.11 step 3) is not reported: it carries no message. An abandoned
//! sequence number a sender uses to start a flow without data (3.6.2.1) is
//! indistinguishable from an abandoned message and is reported.

use std::collections::BTreeMap;

use core::time::Duration;

use super::Shared;
use super::api::{DeliveryMode, FlowEvent, RecvFlowId, RejectReason, SendFlowId};
use super::sequence_set::SequenceSet;
use crate::time::Instant;
use crate::wire::chunk::next_user_data::{FlowPosition, NextUserData};
use crate::wire::chunk::user_data::{FragmentControl, UserData, UserDataFlags, UserDataOption};

/// How long a complete receiving flow keeps its flow ID (3.6.3.8).
pub const RF_COMPLETE_LINGER_PERIOD: Duration = Duration::from_secs(120);
/// The receive window unit (3.6.3.5).
pub const BLOCK: usize = 1024;
/// Bytes counted in BUFFERED_SIZE for each buffered fragment on top of its data (3.6.3).
pub const FRAGMENT_OVERHEAD: usize = 32;

/// The state of a receiving flow (3.6.3, Figure 22). Variant names are the RFC's.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecvFlowState {
    /// Receiving and delivering.
    RF_OPEN,
    /// Rejected: acknowledging with a Flow Exception Report until complete.
    RF_REJECTED,
    /// Every sequence number received; holding the flow ID for 120 s.
    RF_COMPLETE_LINGER,
    /// Gone; the far end may reuse the flow ID.
    RF_CLOSED,
}

impl RecvFlowState {
    /// Every state, in the order of Figure 22.
    pub const ALL: [RecvFlowState; 4] = [
        RecvFlowState::RF_OPEN,
        RecvFlowState::RF_REJECTED,
        RecvFlowState::RF_COMPLETE_LINGER,
        RecvFlowState::RF_CLOSED,
    ];

    /// The RFC's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            RecvFlowState::RF_OPEN => "RF_OPEN",
            RecvFlowState::RF_REJECTED => "RF_REJECTED",
            RecvFlowState::RF_COMPLETE_LINGER => "RF_COMPLETE_LINGER",
            RecvFlowState::RF_CLOSED => "RF_CLOSED",
        }
    }
}

/// One received User Data or Next User Data fragment, resolved to its flow position (2.3.11, 2.3.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFragment {
    /// `flowID`.
    pub flow_id: u64,
    /// `sequenceNumber`.
    pub sequence_number: u64,
    /// `forwardSequenceNumber`.
    pub forward_sequence_number: u64,
    /// `FRA`, `ABN`, `FIN`.
    pub flags: UserDataFlags,
    /// The option list, if `OPT` was set.
    pub options: Option<Vec<UserDataOption>>,
    /// `userData`.
    pub data: Vec<u8>,
}

impl ReceivedFragment {
    /// From a decoded User Data chunk.
    pub fn from_user_data(chunk: UserData) -> Self {
        ReceivedFragment {
            flow_id: chunk.flow_id,
            sequence_number: chunk.sequence_number,
            forward_sequence_number: chunk.forward_sequence_number(),
            flags: chunk.flags,
            options: chunk.options,
            data: chunk.data,
        }
    }

    /// From a decoded Next User Data chunk and the position the packet's
    /// [`Resolver`](crate::wire::chunk::next_user_data::Resolver) gave it.
    pub fn from_next_user_data(chunk: NextUserData, position: FlowPosition) -> Self {
        ReceivedFragment {
            flow_id: position.flow_id,
            sequence_number: position.sequence_number,
            forward_sequence_number: position.forward_sequence_number,
            flags: chunk.flags,
            options: chunk.options,
            data: chunk.data,
        }
    }

    /// The per-flow metadata option, if any.
    pub fn metadata(&self) -> Option<&[u8]> {
        self.options.iter().flatten().find_map(|o| match o {
            UserDataOption::PerFlowMetadata(m) => Some(m.as_slice()),
            _ => None,
        })
    }

    /// How many Return Flow Association options the fragment carries.
    pub fn association_count(&self) -> usize {
        self.options
            .iter()
            .flatten()
            .filter(|o| matches!(o, UserDataOption::ReturnFlowAssociation(_)))
            .count()
    }

    /// Whether the fragment breaks the 2.3.11 rules a receiver can check: a
    /// non-abandoned fragment needs a sequence number above its FSN (fsnOffset
    /// not 0, which also rules out sequence number 0). Such a chunk is ignored
    /// as malformed (spec/ambiguities.md AMB-7016-15).
    pub fn is_malformed(&self) -> bool {
        !self.flags.abandon && self.forward_sequence_number >= self.sequence_number
    }

    /// The return flow association option, if any.
    pub fn association(&self) -> Option<u64> {
        self.options.iter().flatten().find_map(|o| match o {
            UserDataOption::ReturnFlowAssociation(id) => Some(*id),
            _ => None,
        })
    }

    /// The type of the first option the receiver must reject the flow for (2.3.11.1).
    pub fn unknown_mandatory_option(&self) -> Option<u64> {
        self.options.iter().flatten().find_map(|o| match o {
            UserDataOption::Other(o)
                if o.option_type < crate::wire::chunk::user_data::MANDATORY_OPTION_LIMIT =>
            {
                Some(o.option_type)
            }
            _ => None,
        })
    }
}

/// A RECV_BUFFER entry (its SEQUENCE_NUMBER is the buffer's key).
#[derive(Debug, Clone)]
struct Fragment {
    fra: FragmentControl,
    data: Vec<u8>,
}

impl Fragment {
    fn cost(&self) -> usize {
        self.data.len() + FRAGMENT_OVERHEAD
    }
}

/// The hard memory limits a receiving flow works under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvLimits {
    pub flow_buffer: usize,
    pub session_buffer: usize,
    pub ranges: usize,
}

/// A snapshot of a receiving flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvFlowInfo {
    /// The state.
    pub state: RecvFlowState,
    /// RF_FLOW_ID.
    pub flow_id: u64,
    /// The CSN (3.6.3.3).
    pub csn: Option<u64>,
    /// RF_FINAL_SN.
    pub final_sn: Option<u64>,
    /// BUFFERED_SIZE.
    pub buffered_size: usize,
    /// BUFFER_CAPACITY.
    pub buffer_capacity: usize,
    /// Bytes of delivered messages an endpoint's application has not taken
    /// yet; they count against the window as BUFFERED_SIZE does.
    pub unconsumed_bytes: usize,
    /// Whether delivery is suspended.
    pub suspended: bool,
    /// The delivery mode.
    pub delivery: DeliveryMode,
    /// PREV_RWND.
    pub prev_rwnd: Option<u64>,
    /// SHOULD_ACK.
    pub should_ack: bool,
    /// Ranges in SEQUENCE_SET.
    pub sequence_ranges: usize,
    /// The metadata the flow opened with.
    pub metadata: Vec<u8>,
    /// The local sending flow it answers.
    pub association: Option<SendFlowId>,
}

/// The receiving side of one flow (3.6.3).
#[derive(Debug, Clone)]
pub struct RecvFlow {
    handle: RecvFlowId,
    /// RF_FLOW_ID.
    flow_id: u64,
    /// SEQUENCE_SET.
    sequence_set: SequenceSet,
    /// RF_FINAL_SN.
    final_sn: Option<u64>,
    /// RECV_BUFFER.
    buffer: BTreeMap<u64, Fragment>,
    /// BUFFERED_SIZE.
    buffered_size: usize,
    /// BUFFER_CAPACITY.
    capacity: usize,
    /// Bytes of delivered messages the application has not taken yet (see
    /// [`FlowSet::take_event`](super::FlowSet::take_event)); they count
    /// against the window and the hard limits like RECV_BUFFER does.
    held: usize,
    /// PREV_RWND.
    prev_rwnd: Option<u64>,
    /// SHOULD_ACK.
    should_ack: bool,
    /// EXCEPTION_CODE.
    exception_code: u64,
    /// Whether the flow was rejected (it stays so through RF_COMPLETE_LINGER).
    rejected: bool,
    state: RecvFlowState,
    suspended: bool,
    mode: DeliveryMode,
    /// Sequence numbers delivered or reported lost (0 always: it carries no message).
    accounted: SequenceSet,
    complete_notified: bool,
    linger_until: Option<Instant>,
    metadata: Vec<u8>,
    association: Option<SendFlowId>,
}

impl RecvFlow {
    /// A new RF_OPEN flow (3.6.3.1 step 2).
    pub(crate) fn new(
        handle: RecvFlowId,
        flow_id: u64,
        capacity: usize,
        mode: DeliveryMode,
    ) -> Self {
        let mut accounted = SequenceSet::new();
        accounted.insert(0);
        RecvFlow {
            handle,
            flow_id,
            sequence_set: SequenceSet::new(),
            final_sn: None,
            buffer: BTreeMap::new(),
            buffered_size: 0,
            capacity,
            held: 0,
            prev_rwnd: None,
            should_ack: false,
            exception_code: 0,
            rejected: false,
            state: RecvFlowState::RF_OPEN,
            suspended: false,
            mode,
            accounted,
            complete_notified: false,
            linger_until: None,
            metadata: Vec::new(),
            association: None,
        }
    }

    /// The state.
    pub fn state(&self) -> RecvFlowState {
        self.state
    }

    /// RF_FLOW_ID.
    pub fn flow_id(&self) -> u64 {
        self.flow_id
    }

    /// SEQUENCE_SET.
    pub fn sequence_set(&self) -> &SequenceSet {
        &self.sequence_set
    }

    /// SHOULD_ACK, for a flow that is not RF_CLOSED (3.6.3.2).
    pub(crate) fn ready_to_ack(&self) -> bool {
        self.should_ack && self.state != RecvFlowState::RF_CLOSED
    }

    /// The exception code to report with every acknowledgement, once rejected
    /// (3.6.3.7). A rejected flow that completes keeps reporting it in
    /// RF_COMPLETE_LINGER: 3.6.3.4.3 names only RF_REJECTED, but the
    /// acknowledgement that completes the flow may be the first the sender
    /// sees, and without the report it would take the discarded messages for
    /// delivered (spec/state-machines/receiving_flow.yaml does the same).
    pub(crate) fn rejection(&self) -> Option<u64> {
        self.rejected.then_some(self.exception_code)
    }

    /// An acknowledgement with `blocks` went out (3.6.3.4.5 steps 5 and 6).
    pub(crate) fn on_ack_sent(&mut self, blocks: u64) {
        self.should_ack = false;
        self.prev_rwnd = Some(blocks);
    }

    /// Whether nothing is left to hand to the user, nor held for it.
    pub(crate) fn is_drained(&self) -> bool {
        self.buffer.is_empty() && self.held == 0
    }

    /// BUFFERED_SIZE plus what the application has not taken yet: the bytes
    /// the window and the hard limits count.
    fn occupied(&self) -> usize {
        self.buffered_size + self.held
    }

    /// A delivered message of `bytes` (its cost) is held until the application takes it.
    pub(crate) fn hold(&mut self, bytes: usize, shared: &mut Shared) {
        self.held += bytes;
        shared.recv_buffered += bytes;
    }

    /// The application took `bytes` held by [`hold`](Self::hold): they leave
    /// the window, which may reopen (3.6.3.5).
    pub(crate) fn release(&mut self, bytes: usize, shared: &mut Shared) {
        let bytes = bytes.min(self.held);
        self.held -= bytes;
        shared.recv_buffered -= bytes;
        self.window_may_have_opened(shared);
    }

    /// A snapshot.
    pub fn info(&self) -> RecvFlowInfo {
        RecvFlowInfo {
            state: self.state,
            flow_id: self.flow_id,
            csn: self.sequence_set.csn(),
            final_sn: self.final_sn,
            buffered_size: self.buffered_size,
            buffer_capacity: self.capacity,
            unconsumed_bytes: self.held,
            suspended: self.suspended,
            delivery: self.mode,
            prev_rwnd: self.prev_rwnd,
            should_ack: self.should_ack,
            sequence_ranges: self.sequence_set.range_count(),
            metadata: self.metadata.clone(),
            association: self.association,
        }
    }

    /// Records what the flow opened with and announces it (3.6.3.1 step 9).
    pub(crate) fn opened(
        &mut self,
        metadata: Vec<u8>,
        association: Option<SendFlowId>,
        shared: &mut Shared,
    ) {
        self.metadata = metadata.clone();
        self.association = association;
        shared.events.push_back(FlowEvent::RecvFlowOpened {
            flow: self.handle,
            flow_id: self.flow_id,
            metadata,
            association,
        });
    }

    /// Rejects an RF_OPEN flow (3.6.3.7).
    pub(crate) fn reject(&mut self, code: u64, shared: &mut Shared) {
        if self.state != RecvFlowState::RF_OPEN {
            return;
        }
        self.state = RecvFlowState::RF_REJECTED;
        self.rejected = true;
        shared.recv_buffered -= self.buffered_size;
        self.buffered_size = 0;
        self.buffer.clear();
        self.exception_code = code;
        self.should_ack = true;
        shared.ack.ack_now = true;
    }

    /// ADVERTISE_BLOCKS (3.6.3.5), with the bytes further limited by what the
    /// session's hard limit has left (a resource limit 3.6.3.5 allows).
    pub(crate) fn advertised_blocks(&self, session_room: usize) -> u64 {
        let bytes = self
            .capacity
            .saturating_sub(self.occupied())
            .min(session_room);
        let mut blocks = bytes.div_ceil(BLOCK) as u64;
        // An endpoint application holding a whole BUFFER_CAPACITY of
        // delivered messages it has not taken counts as suspended: no
        // minimum block (spec/ambiguities.md AMB-7016-42).
        let stalled = self.held > 0 && self.held >= self.capacity;
        if blocks == 0 && self.capacity > 0 && !self.suspended && !stalled {
            blocks = 1;
        }
        blocks
    }

    /// Sets BUFFER_CAPACITY; asks for an acknowledgement when that reopens a
    /// window the sender last saw at under two blocks.
    pub(crate) fn set_capacity(&mut self, bytes: usize, shared: &mut Shared) {
        self.capacity = bytes;
        self.window_may_have_opened(shared);
    }

    fn window_may_have_opened(&mut self, shared: &mut Shared) {
        let room = self.capacity.saturating_sub(self.occupied());
        if self.state == RecvFlowState::RF_OPEN
            && self.prev_rwnd.is_some_and(|w| w < 2)
            && room >= 2 * BLOCK
        {
            self.should_ack = true;
            shared.ack.ack_now = true;
        }
    }

    /// A Buffer Probe for this flow (3.6.3.6 steps 3 and 4).
    pub(crate) fn probed(&mut self, shared: &mut Shared) {
        self.should_ack = true;
        shared.ack.ack_now = true;
    }

    /// Suspends delivery (3.6.3.3).
    pub(crate) fn suspend(&mut self) {
        self.suspended = true;
    }

    /// Resumes delivery and delivers what is complete.
    pub(crate) fn resume(&mut self, shared: &mut Shared) {
        if !self.suspended {
            return;
        }
        self.suspended = false;
        self.deliver(None, true, shared);
        self.window_may_have_opened(shared);
    }

    /// Changes the delivery mode.
    pub(crate) fn set_delivery_mode(&mut self, mode: DeliveryMode, shared: &mut Shared) {
        self.mode = mode;
        self.deliver(None, true, shared);
    }

    /// Receives one User Data or Next User Data fragment (3.6.3.2 steps 3 to 16).
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        frag: ReceivedFragment,
        limits: RecvLimits,
        shared: &mut Shared,
    ) {
        let seq = frag.sequence_number;
        let fsn = frag.forward_sequence_number;
        let flags = frag.flags;
        shared.stats.fragments_received += 1;
        // Step 3.
        self.should_ack = true;
        // Step 4.
        if self.state == RecvFlowState::RF_OPEN
            && let Some(option_type) = frag.unknown_mandatory_option()
        {
            self.reject(0, shared);
            shared.stats.flows_rejected += 1;
            shared.events.push_back(FlowEvent::RecvFlowRejected {
                flow: self.handle,
                reason: RejectReason::UnknownOption(option_type),
            });
        }
        let mut ack_now = false;
        // Step 5.
        ack_now |= self.state != RecvFlowState::RF_OPEN;
        // Step 6.
        ack_now |= self.prev_rwnd.is_some_and(|w| w < 2);
        // Step 7.
        ack_now |= flags.abandon;
        // Step 8.
        ack_now |= self.sequence_set.has_gaps();
        // Step 9.
        let duplicate = self.sequence_set.contains(seq);
        if duplicate {
            ack_now = true;
            shared.stats.duplicates_received += 1;
        }
        // Step 10. An abandoned final sequence number carries no message: it is
        // accounted for without a gap indication.
        if !duplicate && flags.fin && self.final_sn.is_none() {
            self.final_sn = Some(seq);
            if flags.abandon {
                self.accounted.insert(seq);
            }
            ack_now = true;
        }
        // Step 12 (before 11 and 13 only so the range limit is checked on the
        // final set; step 11 still uses `duplicate`, computed before it).
        self.sequence_set.insert_range(0, fsn);
        let mut keep = !duplicate;
        if keep
            && self.sequence_set.would_add_range(seq, seq)
            && self.sequence_set.range_count() >= limits.ranges
        {
            shared.stats.dropped_too_many_ranges += 1;
            keep = false;
        }
        // Step 11, within the hard buffer limits.
        if keep && self.state == RecvFlowState::RF_OPEN && !flags.abandon {
            let fragment = Fragment {
                fra: flags.fragment_control,
                data: frag.data,
            };
            let cost = fragment.cost();
            if self.occupied() + cost > limits.flow_buffer {
                shared.stats.dropped_flow_buffer_full += 1;
                keep = false;
            } else if shared.recv_buffered + cost > limits.session_buffer {
                shared.stats.dropped_session_buffer_full += 1;
                keep = false;
            } else {
                self.buffered_size += cost;
                shared.recv_buffered += cost;
                self.buffer.insert(seq, fragment);
            }
        }
        // Step 13.
        if keep {
            self.sequence_set.insert(seq);
        }
        // Step 14.
        ack_now |= self.sequence_set.has_gaps();
        // 3.6.3.4.1: less than one block of room left.
        ack_now |= self.capacity < self.occupied() + BLOCK;
        if ack_now {
            shared.ack.ack_now = true;
        }
        // Step 15.
        if !shared.ack.ack_now {
            shared.ack.arm_delack(now);
        }
        // Step 16.
        self.deliver(keep.then_some(seq), false, shared);
        self.check_complete(now, shared);
    }

    /// 3.6.3.8: complete when RF_FINAL_SN is known and 0..=RF_FINAL_SN all seen.
    fn check_complete(&mut self, now: Instant, shared: &mut Shared) {
        if !matches!(
            self.state,
            RecvFlowState::RF_OPEN | RecvFlowState::RF_REJECTED
        ) {
            return;
        }
        if let Some(f) = self.final_sn
            && self.sequence_set.contains_range(0, f)
        {
            self.state = RecvFlowState::RF_COMPLETE_LINGER;
            self.linger_until = Some(now + RF_COMPLETE_LINGER_PERIOD);
            self.should_ack = true;
            shared.ack.ack_now = true;
            self.deliver(None, false, shared);
        }
    }

    /// Removes entries `from..=to` from RECV_BUFFER, returning their data in order.
    fn take(&mut self, from: u64, to: u64, shared: &mut Shared) -> Vec<u8> {
        let seqs: Vec<u64> = self.buffer.range(from..=to).map(|(&s, _)| s).collect();
        let mut data = Vec::new();
        for s in seqs {
            if let Some(f) = self.buffer.remove(&s) {
                self.buffered_size -= f.cost();
                shared.recv_buffered -= f.cost();
                if data.is_empty() {
                    data = f.data;
                } else {
                    data.extend_from_slice(&f.data);
                }
            }
        }
        data
    }

    /// The last entry of the message segment starting at buffered entry `start`
    /// (contiguous 3-middle fragments ending at a 2-end, 3.6.3.3), and whether
    /// the segment is a complete message.
    fn segment_from(&self, start: u64) -> Option<(u64, bool)> {
        let first = self.buffer.get(&start)?;
        if first.fra == FragmentControl::Whole {
            return Some((start, true));
        }
        let mut last = start;
        let mut last_fra = first.fra;
        for (&s, f) in self.buffer.range(start.saturating_add(1)..) {
            let continues = Some(s) == last.checked_add(1)
                && matches!(last_fra, FragmentControl::Begin | FragmentControl::Middle)
                && matches!(f.fra, FragmentControl::Middle | FragmentControl::End);
            if !continues {
                break;
            }
            last = s;
            last_fra = f.fra;
        }
        let complete = first.fra == FragmentControl::Begin && last_fra == FragmentControl::End;
        Some((last, complete))
    }

    /// The first entry of the segment containing buffered entry `seq`.
    fn segment_start(&self, seq: u64) -> Option<u64> {
        let mut cur = seq;
        let mut fra = self.buffer.get(&seq)?.fra;
        while matches!(fra, FragmentControl::Middle | FragmentControl::End) {
            let Some(prev_seq) = cur.checked_sub(1) else {
                break;
            };
            match self.buffer.get(&prev_seq) {
                Some(p) if matches!(p.fra, FragmentControl::Begin | FragmentControl::Middle) => {
                    cur = prev_seq;
                    fra = p.fra;
                }
                _ => break,
            }
        }
        Some(cur)
    }

    fn deliver_message(&mut self, from: u64, to: u64, shared: &mut Shared) {
        if self.mode == DeliveryMode::Ordered {
            self.report_lost_until(from.saturating_sub(1), shared);
        }
        let data = self.take(from, to, shared);
        self.accounted.insert_range(from, to);
        shared.events.push_back(FlowEvent::Message {
            flow: self.handle,
            sequence_number: from,
            data,
        });
    }

    /// Reports every sequence number up to `through` not yet delivered or reported.
    fn report_lost_until(&mut self, through: u64, shared: &mut Shared) {
        for (first, last) in self.accounted.missing_in(0, through) {
            self.accounted.insert_range(first, last);
            shared.events.push_back(FlowEvent::MessagesLost {
                flow: self.handle,
                first,
                last,
            });
        }
    }

    /// Delivers complete messages and discards abandoned segments (3.6.3.3).
    /// `touched` is a fragment just buffered (for out-of-order delivery);
    /// `full` scans the whole buffer for complete messages (after a resume).
    fn deliver(&mut self, touched: Option<u64>, full: bool, shared: &mut Shared) {
        if self.suspended || self.state == RecvFlowState::RF_REJECTED {
            return;
        }
        let Some(csn) = self.sequence_set.csn() else {
            return;
        };
        if self.mode == DeliveryMode::Unordered {
            let mut starts: Vec<u64> = Vec::new();
            if full {
                starts.extend(self.buffer.keys().copied());
            } else if let Some(s) = touched.and_then(|t| self.segment_start(t)) {
                starts.push(s);
            }
            for s in starts {
                if let Some((last, true)) = self.segment_from(s) {
                    self.deliver_message(s, last, shared);
                }
            }
        }
        // The method of 3.6.3.3, over entries at or below the CSN.
        while let Some((&seq, first)) = self.buffer.first_key_value() {
            if seq > csn {
                break;
            }
            match first.fra {
                FragmentControl::Whole => self.deliver_message(seq, seq, shared),
                FragmentControl::End | FragmentControl::Middle => {
                    self.take(seq, seq, shared);
                }
                FragmentControl::Begin => {
                    let Some((last, complete)) = self.segment_from(seq) else {
                        break;
                    };
                    if complete {
                        self.deliver_message(seq, last, shared);
                    } else if last < csn {
                        self.take(seq, last, shared);
                    } else {
                        break;
                    }
                }
            }
        }
        let lost_through = match self.buffer.first_key_value() {
            Some((&s, _)) if s <= csn => s.saturating_sub(1),
            _ => csn,
        };
        self.report_lost_until(lost_through, shared);
        if let Some(f) = self.final_sn
            && csn >= f
            && self.buffer.is_empty()
            && !self.complete_notified
        {
            self.complete_notified = true;
            shared
                .events
                .push_back(FlowEvent::RecvFlowComplete { flow: self.handle });
        }
    }

    /// When RF_COMPLETE_LINGER ends.
    pub(crate) fn linger_deadline(&self) -> Option<Instant> {
        self.linger_until
    }

    /// Moves to RF_CLOSED when the linger period is over (3.6.3.8).
    pub(crate) fn on_linger_timeout(&mut self, now: Instant) -> bool {
        if self.state == RecvFlowState::RF_COMPLETE_LINGER
            && self.linger_until.is_some_and(|t| t <= now)
        {
            self.state = RecvFlowState::RF_CLOSED;
            self.linger_until = None;
            self.should_ack = false;
            true
        } else {
            false
        }
    }

    /// The session left S_OPEN: drop everything.
    pub(crate) fn abort(&mut self, shared: &mut Shared) {
        let unfinished = matches!(
            self.state,
            RecvFlowState::RF_OPEN | RecvFlowState::RF_REJECTED
        ) || !self.complete_notified;
        shared.recv_buffered -= self.buffered_size + self.held;
        self.buffered_size = 0;
        self.held = 0;
        self.buffer.clear();
        self.state = RecvFlowState::RF_CLOSED;
        self.should_ack = false;
        self.linger_until = None;
        if unfinished {
            shared
                .events
                .push_back(FlowEvent::RecvFlowAborted { flow: self.handle });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RecvLimits = RecvLimits {
        flow_buffer: 1 << 20,
        session_buffer: 1 << 20,
        ranges: 64,
    };

    fn frag(seq: u64, fsn: u64, fra: FragmentControl, data: &[u8]) -> ReceivedFragment {
        ReceivedFragment {
            flow_id: 3,
            sequence_number: seq,
            forward_sequence_number: fsn,
            flags: UserDataFlags {
                fragment_control: fra,
                ..Default::default()
            },
            options: None,
            data: data.to_vec(),
        }
    }

    fn new_flow(mode: DeliveryMode) -> (RecvFlow, Shared) {
        (
            RecvFlow::new(RecvFlowId(1), 3, 65_536, mode),
            Shared::default(),
        )
    }

    fn events(s: &mut Shared) -> Vec<String> {
        s.events
            .drain(..)
            .map(|e| match e {
                FlowEvent::Message {
                    sequence_number,
                    data,
                    ..
                } => {
                    format!("msg {sequence_number} {}", String::from_utf8_lossy(&data))
                }
                FlowEvent::MessagesLost { first, last, .. } => format!("lost {first}-{last}"),
                FlowEvent::RecvFlowComplete { .. } => "complete".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn state_names_are_the_rfcs() {
        let names: Vec<_> = RecvFlowState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            ["RF_OPEN", "RF_REJECTED", "RF_COMPLETE_LINGER", "RF_CLOSED"]
        );
    }

    use FragmentControl::{Begin, End, Middle, Whole};

    // RFC 7016 3.6.3.3: complete messages in order; abandoned segments discarded; gaps reported.
    // spec: 7016-3.6.3.3-h, 7016-3.6.3.3-i, 7016-3.6.3.3-j, 7016-3.6.3.3-k, 7016-3.6.1.2-f
    #[test]
    fn ordered_delivery_with_gaps() {
        let (mut f, mut s) = new_flow(DeliveryMode::Ordered);
        let t = Instant::ZERO;
        f.receive(t, frag(1, 0, Whole, b"a"), LIMITS, &mut s);
        f.receive(t, frag(3, 0, Begin, b"c1"), LIMITS, &mut s);
        f.receive(t, frag(4, 0, End, b"c2"), LIMITS, &mut s);
        assert_eq!(events(&mut s), ["msg 1 a"]);
        // 2 was the middle of nothing... the sender abandons it: FSN 2 arrives with 5.
        f.receive(t, frag(6, 2, Middle, b"x"), LIMITS, &mut s);
        assert_eq!(events(&mut s), ["lost 2-2", "msg 3 c1c2"]);
        // 5 lost and abandoned; 6 is a middle without its begin: discarded once the CSN passes.
        f.receive(t, frag(7, 6, Whole, b"d"), LIMITS, &mut s);
        assert_eq!(events(&mut s), ["lost 5-6", "msg 7 d"]);
        assert_eq!(f.info().buffered_size, 0);
    }

    // RFC 7016 3.6.3.3, out-of-order mode: complete messages at once, gaps when the CSN passes them.
    #[test]
    fn unordered_delivery() {
        let (mut f, mut s) = new_flow(DeliveryMode::Unordered);
        let t = Instant::ZERO;
        f.receive(t, frag(3, 0, Whole, b"c"), LIMITS, &mut s);
        f.receive(t, frag(5, 0, End, b"e2"), LIMITS, &mut s);
        assert_eq!(events(&mut s), ["msg 3 c"]);
        f.receive(t, frag(4, 0, Begin, b"e1"), LIMITS, &mut s);
        assert_eq!(events(&mut s), ["msg 4 e1e2"]);
        f.receive(t, frag(6, 2, Whole, b"f"), LIMITS, &mut s);
        assert_eq!(events(&mut s), ["msg 6 f", "lost 1-2"]);
    }

    // RFC 7016 3.6.3.8 / 2.3.11: an abandoned final marker completes the flow without a gap report.
    // spec: 7016-3.6.3.8-a, 7016-3.6.3.8-b, 7016-3.6.3.8-c
    #[test]
    fn completion_with_abandoned_final_marker() {
        let (mut f, mut s) = new_flow(DeliveryMode::Ordered);
        let t = Instant::ZERO;
        f.receive(t, frag(1, 0, Whole, b"a"), LIMITS, &mut s);
        let mut fin = frag(2, 2, Whole, b"");
        fin.flags.abandon = true;
        fin.flags.fin = true;
        f.receive(t, fin, LIMITS, &mut s);
        assert_eq!(events(&mut s), ["msg 1 a", "complete"]);
        assert_eq!(f.state(), RecvFlowState::RF_COMPLETE_LINGER);
        assert!(s.ack.ack_now && f.ready_to_ack());
        assert!(!f.on_linger_timeout(Instant::from_millis(119_999)));
        assert!(f.on_linger_timeout(Instant::from_millis(120_000)));
    }

    // RFC 7016 3.6.3.5: window in 1024-byte blocks, at least one unless suspended or capacity 0.
    // spec: 7016-3.6.3.5-a, 7016-3.6.3.5-b, 7016-3.6.3.5-d, 7016-3.6.3.5-e, 7016-3.6.3.5-f, 7016-3.6.3.5-g
    #[test]
    fn window_calculation() {
        let (mut f, mut s) = new_flow(DeliveryMode::Ordered);
        assert_eq!(f.advertised_blocks(usize::MAX), 64);
        f.capacity = 1025;
        assert_eq!(f.advertised_blocks(usize::MAX), 2);
        f.capacity = 1024;
        assert_eq!(f.advertised_blocks(usize::MAX), 1);
        f.suspend();
        f.receive(Instant::ZERO, frag(2, 0, Whole, &[0; 2000]), LIMITS, &mut s);
        assert!(f.info().buffered_size > f.capacity);
        assert_eq!(f.advertised_blocks(usize::MAX), 0);
        f.resume(&mut s);
        assert_eq!(
            f.advertised_blocks(usize::MAX),
            1,
            "not suspended: at least one block"
        );
        f.capacity = 0;
        assert_eq!(f.advertised_blocks(usize::MAX), 0);
    }

    // Bounded memory: fragments beyond the hard limit are dropped and not acknowledged.
    #[test]
    fn hard_limits_drop_and_count() {
        let (mut f, mut s) = new_flow(DeliveryMode::Ordered);
        let limits = RecvLimits {
            flow_buffer: 3 * (100 + FRAGMENT_OVERHEAD),
            session_buffer: 1 << 20,
            ranges: 3,
        };
        for seq in [2, 3, 4, 5] {
            f.receive(
                Instant::ZERO,
                frag(seq, 0, Whole, &[1; 100]),
                limits,
                &mut s,
            );
        }
        assert_eq!(s.stats.dropped_flow_buffer_full, 1);
        assert!(!f.sequence_set().contains(5));
        // Range limit: {0}, {2..4} and one more range allowed (abandoned
        // fragments, which take no buffer).
        for seq in [9, 12] {
            let mut abandoned = frag(seq, 0, Whole, b"");
            abandoned.flags.abandon = true;
            f.receive(Instant::ZERO, abandoned, limits, &mut s);
        }
        assert_eq!(s.stats.dropped_too_many_ranges, 1);
        assert!(f.sequence_set().contains(9) && !f.sequence_set().contains(12));
    }
}
