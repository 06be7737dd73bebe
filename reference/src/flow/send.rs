//! The sending side of a flow, RFC 7016 section 3.6.2: SEND_QUEUE, the FSN, acknowledgements, loss, flow control, exceptions and close.
//!
//! A [`SendFlow`] holds the context of 3.6.2 (F_FLOW_ID, STARTUP_OPTIONS,
//! SEND_QUEUE with its entries, F_OUTSTANDING_BYTES, RX_BUFFER_SIZE, NEXT_SN,
//! F_FINAL_SN, EXCEPTION and the state) and the messages the user queued on
//! it. Session-wide state (the TSNs, the timeout alarm, the session's byte
//! counts and the event queue) lives in the [`FlowSet`](super::FlowSet) and
//! is passed in.
//!
//! Two choices go beyond the letter of 3.6.2 (both listed as ambiguities):
//!
//! * Trimming (3.6.2.3 step 1) stops at an abandoned, not-in-flight head
//!   entry when nothing later in the queue would be sent to carry the new FSN
//!   to the receiver. That entry is then sent as a Forward Sequence Number
//!   Update (abandoned, `fsnOffset` 0, 3.6.2.7.1). Trimming it literally would
//!   leave the receiver waiting for it whenever no new data follows, and the
//!   RFC's own Figure 21 line 25 shows the update being sent in exactly that
//!   situation.
//! * A closing flow is complete when SEND_QUEUE is empty (3.6.2.11), but
//!   trimming removes abandoned entries the receiver may never have heard of:
//!   if every chunk that carried the new FSN is lost while earlier
//!   transmissions of the same fragments are acknowledged, the queue empties
//!   with the receiver still waiting for the trimmed numbers (found by the
//!   property tests; the literal RFC method has the same hole). So when the
//!   queue empties before the cumulative acknowledgement has reached the
//!   highest trimmed number, that number is queued again, abandoned, and sent
//!   as an FSN Update.
//! * An acknowledgement removes an entry that was sent but is no longer in
//!   flight (declared lost, or timed out) too, instead of only in-flight ones
//!   (3.6.2.4 step 4): the receiver has it, so retransmitting it is waste.
//!   Only in-flight entries count as acknowledged bytes and move MAX_TSN_ACK.

use std::collections::{BTreeMap, BTreeSet};

use core::time::Duration;

use super::Shared;
use super::api::{FlowEvent, MessageId, MessageOptions, RecvFlowId, SendFlowId};
use super::priority::Priority;
use crate::time::Instant;
use crate::wire::chunk::ack::SeqRange;
use crate::wire::chunk::next_user_data::NextUserData;
use crate::wire::chunk::user_data::{FragmentControl, UserData, UserDataFlags, UserDataOption};
use crate::wire::chunk::{self, Chunk};
use crate::wire::packet::MAX_HEADER_LEN;
use crate::wire::vlu;

/// RX_BUFFER_SIZE before the first acknowledgement (3.6.2).
pub const INITIAL_RX_BUFFER_SIZE: u64 = 65_536;
/// How long a complete sending flow keeps its flow ID (3.6.2.11: at least 130 s).
pub const F_COMPLETE_LINGER_PERIOD: Duration = Duration::from_secs(130);
/// Delay of the first Buffer Probe after the window closes (3.6.2.9.1: within one second).
pub const FIRST_PROBE_DELAY: Duration = Duration::from_millis(500);
/// Lower bound of the probe period, with ERTO (3.6.2.9.1).
pub const MIN_PROBE_PERIOD: Duration = Duration::from_secs(1);
/// Upper bound of the probe period, with ERTO (3.6.2.9.1).
pub const MAX_PROBE_PERIOD: Duration = Duration::from_secs(60);
/// Bytes counted for each queued fragment on top of its data, in the send buffer limits.
pub const FRAGMENT_OVERHEAD: usize = 32;

/// The state of a sending flow (3.6.2, Figure 19). Variant names are the RFC's.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SendFlowState {
    /// Open: the user may queue messages.
    F_OPEN,
    /// Closed by the user or by an exception; sending what is left.
    F_CLOSING,
    /// Every sequence number acknowledged; holding the flow ID for 130 s.
    F_COMPLETE_LINGER,
    /// Gone; the flow ID may be reused.
    F_CLOSED,
}

impl SendFlowState {
    /// Every state, in the order of Figure 19.
    pub const ALL: [SendFlowState; 4] = [
        SendFlowState::F_OPEN,
        SendFlowState::F_CLOSING,
        SendFlowState::F_COMPLETE_LINGER,
        SendFlowState::F_CLOSED,
    ];

    /// The RFC's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            SendFlowState::F_OPEN => "F_OPEN",
            SendFlowState::F_CLOSING => "F_CLOSING",
            SendFlowState::F_COMPLETE_LINGER => "F_COMPLETE_LINGER",
            SendFlowState::F_CLOSED => "F_CLOSED",
        }
    }
}

/// A SEND_QUEUE entry (3.6.2); its SEQUENCE_NUMBER is the queue's key.
#[derive(Debug, Clone)]
struct Entry {
    /// DATA.
    data: Vec<u8>,
    /// FRA.
    fra: FragmentControl,
    /// ABANDONED.
    abandoned: bool,
    /// SENT_ABANDONED.
    sent_abandoned: bool,
    /// EVER_SENT.
    ever_sent: bool,
    /// NAK_COUNT.
    nak_count: u32,
    /// IN_FLIGHT.
    in_flight: bool,
    /// TRANSMIT_SIZE.
    transmit_size: u64,
    /// TSN (3.6.2.5).
    tsn: u64,
    /// The user's message, or `None` for the abandoned final entry of a close.
    message: Option<MessageId>,
    /// Time critical (flow priority or message option).
    time_critical: bool,
}

impl Entry {
    fn cost(&self) -> usize {
        self.data.len() + FRAGMENT_OVERHEAD
    }
}

/// A queued user message.
#[derive(Debug, Clone)]
struct Message {
    first_sn: u64,
    last_sn: u64,
    /// Its fragments still in SEND_QUEUE.
    remaining: usize,
    abandoned: bool,
    deadline: Option<Instant>,
}

/// Buffer Probe schedule of a suspended flow (3.6.2.9.1).
#[derive(Debug, Clone, Copy)]
struct ProbeTimer {
    next_at: Instant,
    /// The period used after the last probe; zero before the first.
    period: Duration,
}

/// A snapshot of a sending flow for the user, tests and statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFlowInfo {
    /// The state.
    pub state: SendFlowState,
    /// F_FLOW_ID.
    pub flow_id: u64,
    /// The scheduling priority.
    pub priority: Priority,
    /// F_OUTSTANDING_BYTES.
    pub outstanding_bytes: u64,
    /// RX_BUFFER_SIZE.
    pub rx_buffer_size: u64,
    /// Bytes counted against the send buffer limits.
    pub queued_bytes: usize,
    /// SEND_QUEUE entries.
    pub queue_len: usize,
    /// NEXT_SN.
    pub next_sn: u64,
    /// F_FINAL_SN.
    pub final_sn: Option<u64>,
    /// EXCEPTION.
    pub exception: bool,
    /// Whether STARTUP_OPTIONS is still being sent (no acknowledgement yet).
    pub starting: bool,
    /// Whether the flow is suspended (RX_BUFFER_SIZE zero, no exception) and probing.
    pub suspended: bool,
}

/// A SEND_QUEUE entry's fields (3.6.2), for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendQueueEntry {
    /// SEQUENCE_NUMBER.
    pub sequence_number: u64,
    /// FRA.
    pub fra: FragmentControl,
    /// Length of DATA.
    pub len: usize,
    /// ABANDONED.
    pub abandoned: bool,
    /// SENT_ABANDONED.
    pub sent_abandoned: bool,
    /// EVER_SENT.
    pub ever_sent: bool,
    /// NAK_COUNT.
    pub nak_count: u32,
    /// IN_FLIGHT.
    pub in_flight: bool,
    /// TRANSMIT_SIZE.
    pub transmit_size: u64,
    /// TSN.
    pub tsn: u64,
}

/// What one flow put into a packet.
#[derive(Debug, Default)]
pub(crate) struct Assembled {
    pub chunks: Vec<Chunk>,
    pub time_critical: bool,
}

/// The sending side of one flow (3.6.2).
#[derive(Debug, Clone)]
pub struct SendFlow {
    handle: SendFlowId,
    /// F_FLOW_ID.
    flow_id: u64,
    /// STARTUP_OPTIONS.
    startup_options: Vec<UserDataOption>,
    /// The receiving flow named by the Return Flow Association, while starting up.
    association: Option<RecvFlowId>,
    /// SEND_QUEUE, by SEQUENCE_NUMBER.
    queue: BTreeMap<u64, Entry>,
    /// The entries that are neither IN_FLIGHT nor ABANDONED.
    sendable: BTreeSet<u64>,
    /// F_OUTSTANDING_BYTES.
    outstanding: u64,
    /// RX_BUFFER_SIZE.
    rx_buffer_size: u64,
    /// NEXT_SN.
    next_sn: u64,
    /// F_FINAL_SN.
    final_sn: Option<u64>,
    /// EXCEPTION.
    exception: bool,
    state: SendFlowState,
    priority: Priority,
    queued_bytes: usize,
    messages: BTreeMap<MessageId, Message>,
    probe: Option<ProbeTimer>,
    linger_until: Option<Instant>,
    /// The cost of a message refused for lack of buffer, until there is room for it.
    pub(crate) blocked: Option<usize>,
    /// The highest sequence number trimmed from SEND_QUEUE without being acknowledged.
    trimmed_through: u64,
    /// The highest cumulative acknowledgement received.
    cumulative_acked: u64,
}

impl SendFlow {
    /// A new F_OPEN flow (3.6.2.1) with STARTUP_OPTIONS holding the metadata and
    /// the return association `(local receiving flow, its wire ID)`, if any.
    pub(crate) fn new(
        handle: SendFlowId,
        flow_id: u64,
        metadata: Vec<u8>,
        association: Option<(RecvFlowId, u64)>,
        priority: Priority,
    ) -> Self {
        let mut startup_options = vec![UserDataOption::PerFlowMetadata(metadata)];
        if let Some((_, wire)) = association {
            startup_options.push(UserDataOption::ReturnFlowAssociation(wire));
        }
        SendFlow {
            handle,
            flow_id,
            startup_options,
            association: association.map(|(id, _)| id),
            queue: BTreeMap::new(),
            sendable: BTreeSet::new(),
            outstanding: 0,
            rx_buffer_size: INITIAL_RX_BUFFER_SIZE,
            next_sn: 1,
            final_sn: None,
            exception: false,
            state: SendFlowState::F_OPEN,
            priority,
            queued_bytes: 0,
            messages: BTreeMap::new(),
            probe: None,
            linger_until: None,
            blocked: None,
            trimmed_through: 0,
            cumulative_acked: 0,
        }
    }

    /// The state.
    pub fn state(&self) -> SendFlowState {
        self.state
    }

    /// F_FLOW_ID.
    pub fn flow_id(&self) -> u64 {
        self.flow_id
    }

    /// F_OUTSTANDING_BYTES.
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }

    /// Bytes counted against the send buffer limits.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The receiving flow named in STARTUP_OPTIONS while they are still sent.
    pub(crate) fn pending_association(&self) -> Option<RecvFlowId> {
        if self.startup_options.is_empty() {
            None
        } else {
            self.association
        }
    }

    /// A snapshot.
    pub fn info(&self) -> SendFlowInfo {
        SendFlowInfo {
            state: self.state,
            flow_id: self.flow_id,
            priority: self.priority,
            outstanding_bytes: self.outstanding,
            rx_buffer_size: self.rx_buffer_size,
            queued_bytes: self.queued_bytes,
            queue_len: self.queue.len(),
            next_sn: self.next_sn,
            final_sn: self.final_sn,
            exception: self.exception,
            starting: !self.startup_options.is_empty(),
            suspended: self.probe.is_some(),
        }
    }

    /// SEND_QUEUE, in sequence number order.
    pub fn queue_entries(&self) -> Vec<SendQueueEntry> {
        self.queue
            .iter()
            .map(|(&seq, e)| SendQueueEntry {
                sequence_number: seq,
                fra: e.fra,
                len: e.data.len(),
                abandoned: e.abandoned,
                sent_abandoned: e.sent_abandoned,
                ever_sent: e.ever_sent,
                nak_count: e.nak_count,
                in_flight: e.in_flight,
                transmit_size: e.transmit_size,
                tsn: e.tsn,
            })
            .collect()
    }

    /// The encoded size of STARTUP_OPTIONS as an option list (with its Marker), or 0.
    fn startup_options_len(&self) -> usize {
        if self.startup_options.is_empty() {
            0
        } else {
            self.startup_options
                .iter()
                .map(|o| o.to_option().encoded_len())
                .sum::<usize>()
                + 1
        }
    }

    /// The largest fragment for sequence number `seq` such that a packet with
    /// the largest common header, this User Data chunk's header and
    /// STARTUP_OPTIONS still fits `max_packet_size` (3.6.2.2). `fsnOffset` is
    /// at most `seq`, so its VLU is no longer than the sequence number's.
    pub(crate) fn max_fragment_len(&self, seq: u64, max_packet_size: usize) -> usize {
        max_packet_size
            .saturating_sub(self.fragment_overhead(seq))
            .max(1)
    }

    /// The bytes around a fragment with sequence number `seq` in a packet: the
    /// largest common header, the User Data chunk header and fields, and
    /// STARTUP_OPTIONS (3.6.2.2).
    pub(crate) fn fragment_overhead(&self, seq: u64) -> usize {
        MAX_HEADER_LEN
            + chunk::HEADER_LEN
            + 1
            + vlu::encoded_len(self.flow_id)
            + 2 * vlu::encoded_len(seq)
            + self.startup_options_len()
    }

    /// The send buffer cost of a message of `len` bytes.
    pub(crate) fn message_cost(&self, len: usize, max_packet_size: usize) -> usize {
        // Fragment count with the smallest fragment size this flow can use (seq of 2^64 - 1).
        let fragment = self.max_fragment_len(u64::MAX, max_packet_size);
        len + len.div_ceil(fragment).max(1) * FRAGMENT_OVERHEAD
    }

    /// Queues a message in fragments (3.6.2.2).
    pub(crate) fn queue_message(
        &mut self,
        now: Instant,
        id: MessageId,
        data: &[u8],
        opts: MessageOptions,
        max_packet_size: usize,
        shared: &mut Shared,
    ) {
        let first_sn = self.next_sn;
        let time_critical = opts.time_critical || self.priority.is_time_critical();
        let mut offset = 0;
        let mut count = 0;
        loop {
            let seq = self.next_sn;
            let room = self.max_fragment_len(seq, max_packet_size);
            let take = room.min(data.len() - offset);
            let first = offset == 0;
            let last = offset + take == data.len();
            let fra = match (first, last) {
                (true, true) => FragmentControl::Whole,
                (true, false) => FragmentControl::Begin,
                (false, true) => FragmentControl::End,
                (false, false) => FragmentControl::Middle,
            };
            let entry = Entry {
                data: data[offset..offset + take].to_vec(),
                fra,
                abandoned: false,
                sent_abandoned: false,
                ever_sent: false,
                nak_count: 0,
                in_flight: false,
                transmit_size: 0,
                tsn: 0,
                message: Some(id),
                time_critical,
            };
            let cost = entry.cost();
            self.queued_bytes += cost;
            shared.send_queued += cost;
            self.queue.insert(seq, entry);
            self.sendable.insert(seq);
            self.next_sn += 1;
            offset += take;
            count += 1;
            if last {
                break;
            }
        }
        let deadline = opts.lifetime.map(|l| now + l);
        if let Some(d) = deadline {
            shared.lifetimes.insert((d, self.handle, id));
        }
        self.messages.insert(
            id,
            Message {
                first_sn,
                last_sn: self.next_sn - 1,
                remaining: count,
                abandoned: false,
                deadline,
            },
        );
    }

    /// Closes an F_OPEN flow (3.6.2.11 steps 1 to 3).
    pub(crate) fn close(&mut self, shared: &mut Shared) {
        if self.state != SendFlowState::F_OPEN {
            return;
        }
        self.state = SendFlowState::F_CLOSING;
        match self.queue.last_key_value() {
            Some((&seq, e)) if seq == self.next_sn - 1 && !e.ever_sent => {
                self.final_sn = Some(seq);
            }
            _ => {
                let seq = self.next_sn;
                self.next_sn += 1;
                let entry = Entry {
                    data: Vec::new(),
                    fra: FragmentControl::Whole,
                    abandoned: true,
                    sent_abandoned: false,
                    ever_sent: false,
                    nak_count: 0,
                    in_flight: false,
                    transmit_size: 0,
                    tsn: 0,
                    message: None,
                    time_critical: self.priority.is_time_critical(),
                };
                let cost = entry.cost();
                self.queued_bytes += cost;
                shared.send_queued += cost;
                self.queue.insert(seq, entry);
                self.final_sn = Some(seq);
            }
        }
    }

    /// Abandons a message: every fragment still queued (3.6.2.7). Never undone.
    pub(crate) fn abandon_message(&mut self, id: MessageId, shared: &mut Shared) {
        let Some(m) = self.messages.get_mut(&id) else {
            return;
        };
        if m.abandoned {
            return;
        }
        m.abandoned = true;
        if let Some(d) = m.deadline.take() {
            shared.lifetimes.remove(&(d, self.handle, id));
        }
        for (seq, e) in self.queue.range_mut(m.first_sn..=m.last_sn) {
            e.abandoned = true;
            self.sendable.remove(seq);
        }
        shared.events.push_back(FlowEvent::MessageAbandoned {
            flow: self.handle,
            message: id,
        });
    }

    /// Abandons every queued message and entry (3.6.2.10 step 3, 3.5.5).
    fn abandon_all(&mut self, shared: &mut Shared) {
        let ids: Vec<MessageId> = self.messages.keys().copied().collect();
        for id in ids {
            self.abandon_message(id, shared);
        }
        for e in self.queue.values_mut() {
            e.abandoned = true;
        }
        self.sendable.clear();
    }

    /// Removes a SEQUENCE_NUMBER from SEND_QUEUE and settles its message.
    fn remove_entry(&mut self, seq: u64, shared: &mut Shared) {
        let Some(e) = self.queue.remove(&seq) else {
            return;
        };
        self.sendable.remove(&seq);
        if e.in_flight {
            self.outstanding -= e.transmit_size;
            shared.outstanding -= e.transmit_size;
            shared.loss.forget(e.tsn);
        }
        self.queued_bytes -= e.cost();
        shared.send_queued -= e.cost();
        let Some(id) = e.message else {
            return;
        };
        let Some(m) = self.messages.get_mut(&id) else {
            return;
        };
        m.remaining -= 1;
        if m.remaining == 0 {
            let abandoned = m.abandoned;
            if let Some(d) = m.deadline {
                shared.lifetimes.remove(&(d, self.handle, id));
            }
            self.messages.remove(&id);
            if !abandoned {
                shared.events.push_back(FlowEvent::MessageDelivered {
                    flow: self.handle,
                    message: id,
                });
            }
        }
    }

    /// Whether sending is allowed by the receive window (3.6.2.3, 3.6.2.9).
    fn window_open(&self) -> bool {
        self.exception || self.rx_buffer_size > self.outstanding
    }

    /// The first entry eligible to send (3.6.2.3): not IN_FLIGHT, and not
    /// ABANDONED unless it is the first entry or the final one.
    fn first_eligible(&self) -> Option<u64> {
        let head = self
            .queue
            .first_key_value()
            .filter(|(_, e)| !e.in_flight)
            .map(|(&s, _)| s);
        let next = self.sendable.first().copied();
        let fin = self
            .final_sn
            .filter(|f| self.queue.get(f).is_some_and(|e| !e.in_flight));
        [head, next, fin].into_iter().flatten().min()
    }

    /// Whether the flow is ready to transmit (3.6.2.3).
    pub(crate) fn is_ready(&self) -> bool {
        matches!(self.state, SendFlowState::F_OPEN | SendFlowState::F_CLOSING)
            && self.window_open()
            && self.first_eligible().is_some()
    }

    /// The priority of the flow with `next` as its next fragment: raised to
    /// time critical while that belongs to a time critical message.
    fn priority_of(&self, next: Option<u64>) -> Priority {
        let tc = next
            .and_then(|s| self.queue.get(&s))
            .is_some_and(|e| e.time_critical);
        if tc {
            self.priority.max(Priority::TIME_CRITICAL)
        } else {
            self.priority
        }
    }

    /// The priority this flow is scheduled at now, if it
    /// [`is_ready`](Self::is_ready), in one look at the queue.
    pub(crate) fn ready_priority(&self) -> Option<Priority> {
        if !matches!(self.state, SendFlowState::F_OPEN | SendFlowState::F_CLOSING)
            || !self.window_open()
        {
            return None;
        }
        let next = self.first_eligible()?;
        Some(self.priority_of(Some(next)))
    }

    /// Whether some entry after `head` would be sent and so carry a new FSN.
    fn has_carrier_after(&self, head: u64) -> bool {
        let Some(after) = head.checked_add(1) else {
            return false;
        };
        self.sendable.range(after..).next().is_some()
            || self
                .final_sn
                .is_some_and(|f| f > head && self.queue.get(&f).is_some_and(|e| !e.in_flight))
    }

    /// Trims abandoned entries from the front of SEND_QUEUE (3.6.2.3 step 1,
    /// but keeping the last one when nothing else would carry the FSN; see
    /// the module documentation).
    fn trim(&mut self, shared: &mut Shared) {
        while self.queue.len() >= 2 {
            let mut it = self.queue.iter();
            let (Some((&head, h)), Some((_, second))) = (it.next(), it.next()) else {
                return;
            };
            if h.in_flight || !h.abandoned {
                return;
            }
            let second_trimmable = !second.in_flight && second.abandoned;
            if !(second_trimmable || self.has_carrier_after(head)) {
                return;
            }
            self.trimmed_through = self.trimmed_through.max(head);
            self.remove_entry(head, shared);
        }
    }

    /// Requeues an FSN Update when SEND_QUEUE has emptied but the receiver has
    /// not acknowledged through the sequence numbers trimmed from it: the
    /// chunks that carried the new FSN may all have been lost while earlier
    /// transmissions of the same fragments were acknowledged. Without this the
    /// receiver would wait for those numbers forever (and a closing flow would
    /// count as complete while the receiver is not; see the module documentation).
    fn owe_fsn_update(&mut self, shared: &mut Shared) {
        if !self.queue.is_empty() || self.cumulative_acked >= self.trimmed_through {
            return;
        }
        let entry = Entry {
            data: Vec::new(),
            fra: FragmentControl::Whole,
            abandoned: true,
            sent_abandoned: false,
            ever_sent: false,
            nak_count: 0,
            in_flight: false,
            transmit_size: 0,
            tsn: 0,
            message: None,
            time_critical: self.priority.is_time_critical(),
        };
        let cost = entry.cost();
        self.queued_bytes += cost;
        shared.send_queued += cost;
        self.queue.insert(self.trimmed_through, entry);
    }

    /// The Forward Sequence Number (3.6.2.3 steps 2 to 4), after trimming.
    pub(crate) fn forward_sequence_number(&self) -> Option<u64> {
        let (&seq, e) = self.queue.first_key_value()?;
        Some(if !e.abandoned || (e.in_flight && !e.sent_abandoned) {
            seq - 1
        } else {
            seq
        })
    }

    /// Encodes entry `seq` as User Data, or as Next User Data after `prev` (3.6.2.3 steps 2 to 10).
    fn encode_entry(&self, seq: u64, fsn: u64, prev: Option<u64>) -> Option<Chunk> {
        let e = self.queue.get(&seq)?;
        let flags = UserDataFlags {
            fragment_control: e.fra,
            abandon: e.abandoned,
            fin: self.final_sn == Some(seq),
            reserved: 0,
        };
        let data = if e.abandoned {
            Vec::new()
        } else {
            e.data.clone()
        };
        Some(match prev {
            // 3.6.2.3.2: contiguous after a fragment of this flow in this packet.
            Some(p) if p.checked_add(1) == Some(seq) => Chunk::NextUserData(NextUserData {
                flags,
                options: None,
                data,
            }),
            _ => Chunk::UserData(UserData {
                flow_id: self.flow_id,
                sequence_number: seq,
                fsn_offset: seq - fsn,
                flags,
                // 3.6.2.3.1: STARTUP_OPTIONS with the first User Data chunk of the flow in a packet.
                options: (prev.is_none() && !self.startup_options.is_empty())
                    .then(|| self.startup_options.clone()),
                data,
            }),
        })
    }

    /// Assembles this flow's chunks into a packet with `budget` bytes left (3.6.2.3).
    /// `association_alive` is false when the receiving flow named by the Return Flow
    /// Association has closed: STARTUP_OPTIONS are then dropped rather than naming a
    /// flow ID the far end may already use for another flow.
    pub(crate) fn assemble(
        &mut self,
        budget: &mut usize,
        association_alive: bool,
        shared: &mut Shared,
    ) -> Assembled {
        let mut out = Assembled::default();
        if !association_alive && self.pending_association().is_some() {
            self.startup_options.clear();
        }
        self.trim(shared);
        let Some(fsn) = self.forward_sequence_number() else {
            return out;
        };
        let mut prev = None;
        while self.window_open() {
            let Some(seq) = self.first_eligible() else {
                break;
            };
            let Some(chunk) = self.encode_entry(seq, fsn, prev) else {
                break;
            };
            let size = chunk.encoded_len();
            if size > *budget {
                break;
            }
            *budget -= size;
            let tsn = shared.loss.transmitted(self.handle, seq);
            let Some(e) = self.queue.get_mut(&seq) else {
                break;
            };
            shared.stats.data_chunks_sent += 1;
            if e.ever_sent {
                shared.stats.retransmissions += 1;
            }
            if e.abandoned {
                shared.stats.abandoned_chunks_sent += 1;
            }
            e.in_flight = true;
            e.ever_sent = true;
            e.nak_count = 0;
            e.sent_abandoned = e.abandoned;
            e.transmit_size = size as u64;
            e.tsn = tsn;
            out.time_critical |= e.time_critical;
            self.sendable.remove(&seq);
            self.outstanding += size as u64;
            shared.outstanding += size as u64;
            out.chunks.push(chunk);
            prev = Some(seq);
        }
        out
    }

    /// Processes an acknowledgement (3.6.2.4); returns the in-flight bytes it acknowledged.
    pub(crate) fn on_ack(
        &mut self,
        now: Instant,
        buffer_bytes_available: u64,
        acknowledged: &[SeqRange],
        shared: &mut Shared,
    ) -> u64 {
        if !matches!(self.state, SendFlowState::F_OPEN | SendFlowState::F_CLOSING) {
            shared.stats.acks_ignored += 1;
            return 0;
        }
        let pre_ack_outstanding = self.outstanding;
        self.startup_options.clear();
        self.rx_buffer_size = buffer_bytes_available;
        self.update_probe(now);
        if let Some(cumulative) = acknowledged
            .iter()
            .find(|r| *r.start() == 0)
            .map(|r| *r.end())
        {
            self.cumulative_acked = self.cumulative_acked.max(cumulative);
        }
        let mut acked = Vec::new();
        for r in acknowledged.iter().filter(|r| r.start() <= r.end()) {
            for (&seq, e) in self.queue.range(r.clone()) {
                if e.ever_sent || e.abandoned {
                    acked.push(seq);
                }
            }
        }
        for seq in acked {
            if let Some(e) = self.queue.get(&seq)
                && e.in_flight
            {
                shared.loss.acknowledged(e.tsn);
            }
            self.remove_entry(seq, shared);
        }
        self.owe_fsn_update(shared);
        self.check_complete(now, shared);
        pre_ack_outstanding - self.outstanding
    }

    /// F_CLOSING and SEND_QUEUE empty: complete (3.6.2.11).
    fn check_complete(&mut self, now: Instant, shared: &mut Shared) {
        if self.state == SendFlowState::F_CLOSING && self.queue.is_empty() {
            self.state = SendFlowState::F_COMPLETE_LINGER;
            self.linger_until = Some(now + F_COMPLETE_LINGER_PERIOD);
            self.probe = None;
            shared
                .events
                .push_back(FlowEvent::SendFlowComplete { flow: self.handle });
        }
    }

    /// One negative acknowledgement for in-flight entry `seq` (3.6.2.5).
    /// Returns the entry's TRANSMIT_SIZE when this makes it lost.
    pub(crate) fn on_nak(&mut self, seq: u64, shared: &mut Shared) -> Option<u64> {
        let e = self.queue.get_mut(&seq)?;
        if !e.in_flight {
            return None;
        }
        e.nak_count += 1;
        if e.nak_count >= super::loss::NAKS_FOR_LOSS {
            shared.stats.losses += 1;
            Some(self.leave_flight(seq, shared))
        } else {
            None
        }
    }

    /// Entry `seq` is no longer in flight (lost or timed out); returns its TRANSMIT_SIZE.
    pub(crate) fn leave_flight(&mut self, seq: u64, shared: &mut Shared) -> u64 {
        let Some(e) = self.queue.get_mut(&seq) else {
            return 0;
        };
        if !e.in_flight {
            return 0;
        }
        e.in_flight = false;
        self.outstanding -= e.transmit_size;
        shared.outstanding -= e.transmit_size;
        shared.loss.forget(e.tsn);
        if !e.abandoned {
            self.sendable.insert(seq);
        }
        e.transmit_size
    }

    /// A Flow Exception Report arrived (3.6.2.10).
    pub(crate) fn on_exception(&mut self, code: u64, shared: &mut Shared) {
        if !matches!(self.state, SendFlowState::F_OPEN | SendFlowState::F_CLOSING) {
            return;
        }
        if self.state == SendFlowState::F_OPEN {
            self.close(shared);
            shared.events.push_back(FlowEvent::FlowException {
                flow: self.handle,
                code,
            });
        }
        self.exception = true;
        self.probe = None;
        self.abandon_all(shared);
    }

    /// Starts, keeps or stops the Buffer Probe schedule after a window update (3.6.2.9.1).
    fn update_probe(&mut self, now: Instant) {
        if self.rx_buffer_size == 0 && !self.exception {
            if self.probe.is_none() {
                self.probe = Some(ProbeTimer {
                    next_at: now + FIRST_PROBE_DELAY,
                    period: Duration::ZERO,
                });
            }
        } else {
            self.probe = None;
        }
    }

    /// When the next Buffer Probe is due, while suspended.
    pub(crate) fn probe_deadline(&self) -> Option<Instant> {
        self.probe.map(|p| p.next_at)
    }

    /// Whether a Buffer Probe should go out now.
    pub(crate) fn probe_due(&self, now: Instant) -> bool {
        self.probe.is_some_and(|p| p.next_at <= now)
    }

    /// A Buffer Probe went out: schedule the next one, the period growing from
    /// max(1 s, ERTO) by doubling up to max(60 s, ERTO) (3.6.2.9.1).
    pub(crate) fn on_probe_sent(&mut self, now: Instant, erto: Duration) {
        if let Some(p) = &mut self.probe {
            let floor = MIN_PROBE_PERIOD.max(erto);
            let cap = MAX_PROBE_PERIOD.max(erto);
            p.period = if p.period.is_zero() {
                floor
            } else {
                (p.period * 2).min(cap).max(floor)
            };
            p.next_at = now + p.period;
        }
    }

    /// When F_COMPLETE_LINGER ends.
    pub(crate) fn linger_deadline(&self) -> Option<Instant> {
        self.linger_until
    }

    /// Moves to F_CLOSED when the linger period is over (3.6.2.11).
    pub(crate) fn on_linger_timeout(&mut self, now: Instant) -> bool {
        if self.state == SendFlowState::F_COMPLETE_LINGER
            && self.linger_until.is_some_and(|t| t <= now)
        {
            self.state = SendFlowState::F_CLOSED;
            self.linger_until = None;
            true
        } else {
            false
        }
    }

    /// The session left S_OPEN: abandon everything, take it all out of flight, close.
    pub(crate) fn abort(&mut self, shared: &mut Shared) {
        let unfinished = matches!(self.state, SendFlowState::F_OPEN | SendFlowState::F_CLOSING);
        self.abandon_all(shared);
        let seqs: Vec<u64> = self.queue.keys().copied().collect();
        for seq in seqs {
            self.remove_entry(seq, shared);
        }
        self.state = SendFlowState::F_CLOSED;
        self.probe = None;
        self.linger_until = None;
        if unfinished {
            shared
                .events
                .push_back(FlowEvent::SendFlowAborted { flow: self.handle });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> (SendFlow, Shared) {
        (
            SendFlow::new(SendFlowId(1), 3, b"md".to_vec(), None, Priority::BULK),
            Shared::default(),
        )
    }

    fn queue(f: &mut SendFlow, s: &mut Shared, id: u64, len: usize) {
        f.queue_message(
            Instant::ZERO,
            MessageId(id),
            &vec![7; len],
            MessageOptions::reliable(),
            1200,
            s,
        );
    }

    fn summary(chunks: &[Chunk]) -> Vec<(char, u64, u64, bool)> {
        chunks
            .iter()
            .map(|c| match c {
                Chunk::UserData(u) => ('U', u.sequence_number, u.fsn_offset, u.flags.abandon),
                Chunk::NextUserData(n) => ('N', 0, 0, n.flags.abandon),
                _ => ('?', 0, 0, false),
            })
            .collect()
    }

    #[test]
    fn state_names_are_the_rfcs() {
        let names: Vec<_> = SendFlowState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            ["F_OPEN", "F_CLOSING", "F_COMPLETE_LINGER", "F_CLOSED"]
        );
        assert_eq!(
            format!("{:?}", SendFlowState::F_COMPLETE_LINGER),
            "F_COMPLETE_LINGER"
        );
    }

    // RFC 7016 3.6.2.2: each fragment fits a maximum-size packet with STARTUP_OPTIONS.
    // spec: 7016-3.6.2.2-b, 7016-3.6.2.2-c, 7016-3.6.2.3.1-a, 7016-3.6.2.3.2-b
    #[test]
    fn fragments_fit_the_packet_with_startup_options() {
        let (mut f, mut s) = flow();
        queue(&mut f, &mut s, 1, 5000);
        let mut budget = 100_000;
        let out = f.assemble(&mut budget, true, &mut s);
        assert!(out.chunks.len() > 1);
        for c in &out.chunks {
            let mut with_options = c.clone();
            if let Chunk::NextUserData(n) = c {
                // As a User Data chunk with the same fields it must fit too.
                with_options = Chunk::UserData(UserData {
                    flow_id: 3,
                    sequence_number: 5,
                    fsn_offset: 5,
                    flags: n.flags,
                    options: Some(f.startup_options.clone()),
                    data: n.data.clone(),
                });
            }
            assert!(with_options.encoded_len() + MAX_HEADER_LEN <= 1200);
        }
        // 3.6.2.3.1: options on the first chunk only; later ones Next User Data.
        assert!(matches!(&out.chunks[0], Chunk::UserData(u) if u.options.is_some()));
        assert!(
            out.chunks[1..]
                .iter()
                .all(|c| matches!(c, Chunk::NextUserData(_)))
        );
        let fra: Vec<_> = out
            .chunks
            .iter()
            .map(|c| match c {
                Chunk::UserData(u) => u.flags.fragment_control,
                Chunk::NextUserData(n) => n.flags.fragment_control,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(fra.first(), Some(&FragmentControl::Begin));
        assert_eq!(fra.last(), Some(&FragmentControl::End));
        assert!(
            fra[1..fra.len() - 1]
                .iter()
                .all(|x| *x == FragmentControl::Middle)
        );
    }

    // RFC 7016 3.6.2.11: close marks an unsent tail final, or queues an abandoned final entry.
    // spec: 7016-3.6.2.11-a, 7016-3.6.2.11-b, 7016-3.6.2.11-c, 7016-3.6.2.11-d, 7016-3.6.2.11-e, 7016-3.6.2.11-f
    #[test]
    fn close_sets_final_sn() {
        let (mut f, mut s) = flow();
        queue(&mut f, &mut s, 1, 10);
        f.close(&mut s);
        assert_eq!((f.state(), f.final_sn), (SendFlowState::F_CLOSING, Some(1)));

        let (mut f, mut s) = flow();
        queue(&mut f, &mut s, 1, 10);
        let mut budget = 1000;
        f.assemble(&mut budget, true, &mut s);
        f.close(&mut s);
        assert_eq!(f.final_sn, Some(2));
        let mut budget = 1000;
        let out = f.assemble(&mut budget, true, &mut s);
        // The abandoned final entry: FIN and ABN set, no data, fsnOffset from FSN 0.
        match &out.chunks[..] {
            [Chunk::UserData(u)] => {
                assert!(u.flags.fin && u.flags.abandon && u.data.is_empty());
                assert_eq!((u.sequence_number, u.fsn_offset), (2, 2));
            }
            other => panic!("{other:?}"),
        }
        // Both acknowledged: complete.
        f.on_ack(Instant::ZERO, 65536, &[0..=2], &mut s);
        assert_eq!(f.state(), SendFlowState::F_COMPLETE_LINGER);
        assert!(s.events.contains(&FlowEvent::SendFlowComplete {
            flow: SendFlowId(1)
        }));
        assert!(!f.on_linger_timeout(Instant::ZERO + Duration::from_secs(129)));
        assert!(f.on_linger_timeout(Instant::ZERO + Duration::from_secs(130)));
        assert_eq!(f.state(), SendFlowState::F_CLOSED);
    }

    // RFC 7016 3.6.2.3: FSN rules and trimming; 3.6.2.7.1 FSN Update.
    // spec: 7016-3.6.2.3-d, 7016-3.6.2.3-e, 7016-3.6.2.3-f, 7016-3.6.2.3-g, 7016-3.6.2.7.1-a
    #[test]
    fn fsn_and_trimming() {
        let (mut f, mut s) = flow();
        for id in 1..=3 {
            queue(&mut f, &mut s, id, 10);
        }
        let mut budget = 10_000;
        f.assemble(&mut budget, true, &mut s);
        assert_eq!(f.forward_sequence_number(), Some(0));
        // Abandon 1 while in flight: FSN stays 0 (in flight, not sent abandoned).
        f.abandon_message(MessageId(1), &mut s);
        assert_eq!(f.forward_sequence_number(), Some(0));
        // 1 times out: not in flight, abandoned; 2 and 3 still in flight, nothing
        // else to carry a new FSN: an FSN Update for 1 (fsnOffset 0).
        f.leave_flight(1, &mut s);
        let mut budget = 10_000;
        let out = f.assemble(&mut budget, true, &mut s);
        assert_eq!(summary(&out.chunks), vec![('U', 1, 0, true)]);
        // A new message queued behind an abandoned head that is not in flight:
        // the head is trimmed and the new fragment carries FSN 1.
        f.leave_flight(1, &mut s);
        queue(&mut f, &mut s, 4, 10);
        let mut budget = 10_000;
        let out = f.assemble(&mut budget, true, &mut s);
        assert_eq!(summary(&out.chunks), vec![('U', 4, 3, false)]);
        assert_eq!(f.forward_sequence_number(), Some(1));
    }

    // RFC 7016 3.6.2.9: no new data while F_OUTSTANDING_BYTES >= RX_BUFFER_SIZE, unless EXCEPTION.
    // spec: 7016-3.6.2.9-a, 7016-3.6.2.10-a, 7016-3.6.2.10-b, 7016-3.6.2.10-c
    #[test]
    fn flow_control_and_exception() {
        let (mut f, mut s) = flow();
        for id in 1..=3 {
            queue(&mut f, &mut s, id, 100);
        }
        let mut budget = 10_000;
        f.assemble(&mut budget, true, &mut s);
        f.on_ack(Instant::ZERO, 0, &[0..=0], &mut s);
        assert!(!f.is_ready());
        assert!(f.info().suspended);
        queue(&mut f, &mut s, 4, 100);
        assert!(!f.is_ready());
        // 3.6.2.10: exception closes, abandons and ignores the window.
        s.events.clear();
        f.on_exception(9, &mut s);
        assert_eq!(f.state(), SendFlowState::F_CLOSING);
        assert!(f.is_ready() && !f.info().suspended);
        assert_eq!(
            s.events.front(),
            Some(&FlowEvent::FlowException {
                flow: SendFlowId(1),
                code: 9
            })
        );
        let abandoned = s
            .events
            .iter()
            .filter(|e| matches!(e, FlowEvent::MessageAbandoned { .. }))
            .count();
        assert_eq!(abandoned, 4);
    }

    // RFC 7016 3.6.2.9.1: probe within 1 s, then periods from max(1 s, ERTO) doubling to max(60 s, ERTO).
    // spec: 7016-3.6.2.9.1-c, 7016-3.6.2.9.1-d, 7016-3.6.2.9.1-e, 7016-3.6.2.9.1-f, 7016-3.6.2.9.1-g
    #[test]
    fn probe_schedule() {
        let (mut f, mut s) = flow();
        let t0 = Instant::from_millis(1000);
        f.on_ack(t0, 0, &[0..=0], &mut s);
        let first = f.probe_deadline().unwrap();
        assert!(first - t0 <= Duration::from_secs(1));
        let erto = Duration::from_millis(300);
        let mut now = first;
        let mut periods = Vec::new();
        for _ in 0..9 {
            assert!(f.probe_due(now));
            f.on_probe_sent(now, erto);
            let next = f.probe_deadline().unwrap();
            periods.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(periods, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        f.on_ack(now, 1024, &[0..=0], &mut s);
        assert_eq!(f.probe_deadline(), None);
    }
}
