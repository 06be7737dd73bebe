//! Flows, RFC 7016 section 3.6: the [`FlowSet`] holding every flow of one S_OPEN session.
//!
//! The session hands the FlowSet the flow chunks of each verified packet
//! between [`FlowSet::begin_packet`] and [`FlowSet::end_packet`], asks it to
//! [`write`](FlowSet::write) chunks into each packet it sends, and drives its
//! timers with [`poll_timeout`](FlowSet::poll_timeout) and
//! [`handle_timeout`](FlowSet::handle_timeout). The application opens,
//! writes, closes and rejects flows through the FlowSet and takes
//! [`FlowEvent`]s from [`poll_event`](FlowSet::poll_event). The flow layer
//! never sees addresses, keys or session IDs, so two FlowSets joined by an
//! in-memory pipe make a complete test bed.
//!
//! Session-wide pieces owned here: ACK_NOW, DELACK_ALARM and RX_DATA_PACKETS
//! ([`ack`]), NEXT_TSN, MAX_TSN_ACK and TIMEOUT_ALARM ([`loss`]),
//! S_OUTSTANDING_BYTES, burst avoidance and the congestion controller
//! ([`crate::congestion`]). The round-trip estimator ([`crate::congestion::Rto`])
//! belongs to the session, which feeds it timestamp echoes; it is passed in.
//!
//! Events queue up inside the FlowSet until polled. With
//! [`poll_event`](FlowSet::poll_event) a delivered message leaves the
//! receive window at once, so an application that stops polling should
//! suspend delivery (which closes the window). An endpoint instead takes
//! events with [`take_event`](FlowSet::take_event), which keeps a delivered
//! message's bytes counted against its flow's window and the session's
//! receive limit until [`message_consumed`](FlowSet::message_consumed) says
//! the application has it: an application that does not poll closes the
//! window by itself.

pub mod ack;
pub mod api;
pub mod loss;
pub mod priority;
pub mod recv;
pub mod send;
pub mod sequence_set;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use api::{
    ApiError, DeliveryMode, FlowConfig, FlowEvent, FlowOptions, FlowStats, MessageId,
    MessageOptions, RecvFlowId, RejectReason, SendFlowId,
};
pub use priority::Priority;
pub use recv::{ReceivedFragment, RecvFlowInfo, RecvFlowState};
pub use send::{SendFlowInfo, SendFlowState, SendQueueEntry};

use crate::congestion::{AppendixA, BurstAvoidance, CongestionController, Rto};
use crate::time::Instant;
use crate::wire::chunk::ack::SeqRange;
use crate::wire::chunk::next_user_data::FlowPosition;
use crate::wire::chunk::{BufferProbe, Chunk};
use ack::AckState;
use loss::Loss;
use priority::RoundRobin;
use recv::{RecvFlow, RecvLimits};
use send::SendFlow;

/// The smallest User Data chunk: chunk header, flags, one-byte flow ID,
/// sequence number and FSN offset, no data. Below this much room no flow
/// can add anything to a packet.
const MIN_DATA_CHUNK: usize = crate::wire::chunk::HEADER_LEN + 4;

/// What a delivered message held for the application counts in the receive limits.
fn held_cost(len: usize) -> usize {
    len + recv::FRAGMENT_OVERHEAD
}

/// Session-wide state the flows update directly.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) events: VecDeque<FlowEvent>,
    pub(crate) loss: Loss,
    /// Message lifetimes: (deadline, flow, message).
    pub(crate) lifetimes: BTreeSet<(Instant, SendFlowId, MessageId)>,
    /// Bytes counted against the session's send buffer limit.
    pub(crate) send_queued: usize,
    /// S_OUTSTANDING_BYTES: the sum of every sending flow's F_OUTSTANDING_BYTES.
    pub(crate) outstanding: u64,
    /// Bytes in every receiving flow's RECV_BUFFER.
    pub(crate) recv_buffered: usize,
    pub(crate) ack: AckState,
    pub(crate) stats: FlowStats,
}

/// What [`FlowSet::write`] put into a packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The chunks, in order.
    pub chunks: Vec<Chunk>,
    /// Their encoded size, chunk headers included.
    pub len: usize,
    /// Set the packet's TC flag: it carries time critical user data (3.6.2.3 step 18).
    pub time_critical: bool,
    /// It carries at least one User Data chunk.
    pub user_data: bool,
}

/// Per received packet bookkeeping.
#[derive(Debug, Clone, Copy, Default)]
struct PacketMarks {
    any_ack: bool,
    any_user_data: bool,
}

/// Every flow of one S_OPEN session, and the session-wide flow state (3.6).
#[derive(Debug)]
pub struct FlowSet {
    config: FlowConfig,
    shared: Shared,
    cc: Box<dyn CongestionController>,
    burst: BurstAvoidance,
    round_robin: RoundRobin,
    send: BTreeMap<SendFlowId, SendFlow>,
    send_by_wire: BTreeMap<u64, SendFlowId>,
    next_send: u64,
    recv: BTreeMap<RecvFlowId, RecvFlow>,
    /// Receiving flows in RF_OPEN, RF_REJECTED or RF_COMPLETE_LINGER, by wire flow ID.
    recv_by_wire: BTreeMap<u64, RecvFlowId>,
    next_recv: u64,
    next_message: u64,
    packet: PacketMarks,
}

impl FlowSet {
    /// An empty FlowSet with `cc` as the session's congestion controller.
    pub fn new(config: FlowConfig, cc: Box<dyn CongestionController>) -> Self {
        FlowSet {
            config,
            shared: Shared::default(),
            cc,
            burst: BurstAvoidance::new(),
            round_robin: RoundRobin::new(),
            send: BTreeMap::new(),
            send_by_wire: BTreeMap::new(),
            next_send: 1,
            recv: BTreeMap::new(),
            recv_by_wire: BTreeMap::new(),
            next_recv: 1,
            next_message: 1,
            packet: PacketMarks::default(),
        }
    }

    /// An empty FlowSet using the Appendix A congestion controller.
    pub fn with_appendix_a(config: FlowConfig) -> Self {
        Self::new(config, Box::new(AppendixA::new()))
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// Changes the largest plain packet (path MTU changes, 3.5.4.3); messages
    /// queued later are fragmented for it.
    pub fn set_max_packet_size(&mut self, bytes: usize) {
        self.config.max_packet_size = bytes;
    }

    /// Counters.
    pub fn stats(&self) -> &FlowStats {
        &self.shared.stats
    }

    /// The congestion controller.
    pub fn congestion(&self) -> &dyn CongestionController {
        self.cc.as_ref()
    }

    /// The congestion controller, for the session's notifications (TC sent on
    /// other sessions, 3.5.2.1).
    pub fn congestion_mut(&mut self) -> &mut dyn CongestionController {
        self.cc.as_mut()
    }

    /// S_OUTSTANDING_BYTES.
    pub fn outstanding_bytes(&self) -> u64 {
        self.shared.outstanding
    }

    /// ACK_NOW, DELACK_ALARM and RX_DATA_PACKETS (3.6.3.4), for inspection.
    pub fn ack_state(&self) -> &AckState {
        &self.shared.ack
    }

    /// The next event for the user; a [`FlowEvent::Message`] counts as
    /// handed over (its bytes leave the receive window).
    pub fn poll_event(&mut self) -> Option<FlowEvent> {
        self.shared.events.pop_front()
    }

    /// The next event, for a caller that queues events for its user: a
    /// [`FlowEvent::Message`] stays counted against its flow's receive window
    /// and the session's receive limit (as `data.len()` plus
    /// [`recv::FRAGMENT_OVERHEAD`]) until
    /// [`message_consumed`](Self::message_consumed) is called for it.
    pub fn take_event(&mut self) -> Option<FlowEvent> {
        let e = self.shared.events.pop_front()?;
        if let FlowEvent::Message { flow, data, .. } = &e
            && let Some(f) = self.recv.get_mut(flow)
        {
            f.hold(held_cost(data.len()), &mut self.shared);
        }
        Some(e)
    }

    /// The user took a message of `len` bytes of receiving flow `flow` that
    /// [`take_event`](Self::take_event) returned: its bytes leave the window,
    /// which may reopen (an acknowledgement is then due, 3.6.3.5). Nothing
    /// happens for a flow that is gone.
    pub fn message_consumed(&mut self, flow: RecvFlowId, len: usize) {
        if let Some(f) = self.recv.get_mut(&flow) {
            f.release(held_cost(len), &mut self.shared);
            self.reclaim_recv(flow);
        }
    }

    // ---- receive side -------------------------------------------------------

    /// Before the chunks of a received packet (Appendix A.2); `time_critical_reverse`
    /// is the packet header's TCR flag (3.5.2.1).
    pub fn begin_packet(&mut self, now: Instant, time_critical_reverse: bool) {
        self.packet = PacketMarks::default();
        self.cc.on_packet_begin(now, self.shared.outstanding);
        if time_critical_reverse {
            self.cc.on_time_critical_reverse(now);
        }
    }

    /// Dispatches one decoded chunk of the packet. Returns the chunk back
    /// when it is not a flow chunk. A Next User Data chunk needs the
    /// `position` its packet's resolver gave it (2.3.12); without one it is ignored.
    pub fn handle_chunk(
        &mut self,
        now: Instant,
        chunk: Chunk,
        position: Option<FlowPosition>,
    ) -> Result<(), Chunk> {
        match chunk {
            Chunk::UserData(ud) => self.on_user_data(now, ReceivedFragment::from_user_data(ud)),
            Chunk::NextUserData(nud) => {
                if let Some(p) = position {
                    self.on_user_data(now, ReceivedFragment::from_next_user_data(nud, p));
                }
            }
            Chunk::BitmapAck(a) => {
                let ranges = a.acknowledged_ranges();
                self.on_ack(now, a.flow_id, a.buffer_bytes_available(), &ranges);
            }
            Chunk::RangeAck(a) => {
                let ranges = a.acknowledged_ranges();
                self.on_ack(now, a.flow_id, a.buffer_bytes_available(), &ranges);
            }
            Chunk::BufferProbe(p) => self.on_buffer_probe(p.flow_id),
            Chunk::FlowExceptionReport(f) => self.on_exception_report(f.flow_id, f.exception),
            other => return Err(other),
        }
        Ok(())
    }

    fn recv_limits(&self) -> RecvLimits {
        RecvLimits {
            flow_buffer: self.config.max_receive_buffer_per_flow,
            session_buffer: self.config.max_receive_buffer_per_session,
            ranges: self.config.max_sequence_ranges,
        }
    }

    /// A User Data or Next User Data fragment (3.6.3.2; 3.6.3.1 for a new flow).
    pub fn on_user_data(&mut self, now: Instant, frag: ReceivedFragment) {
        self.packet.any_user_data = true;
        if frag.is_malformed() {
            self.shared.stats.malformed_fragments += 1;
            return;
        }
        let limits = self.recv_limits();
        if let Some(id) = self.recv_by_wire.get(&frag.flow_id).copied() {
            if let Some(flow) = self.recv.get_mut(&id) {
                flow.receive(now, frag, limits, &mut self.shared);
            }
            return;
        }
        // 3.6.3.1 Startup.
        if self.recv.len() >= self.config.max_recv_flows {
            self.shared.stats.dropped_too_many_flows += 1;
            return;
        }
        let id = RecvFlowId(self.next_recv);
        self.next_recv += 1;
        let mut flow = RecvFlow::new(
            id,
            frag.flow_id,
            self.config.default_receive_buffer,
            self.config.default_delivery,
        );
        let mut association = None;
        let reason = match (frag.metadata(), frag.association()) {
            (None, _) => Some(RejectReason::NoMetadata),
            (Some(_), Some(_)) if frag.association_count() > 1 => {
                Some(RejectReason::TwoAssociations)
            }
            (Some(_), Some(wire)) => match self.send_by_wire.get(&wire) {
                None => Some(RejectReason::UnknownAssociation(wire)),
                Some(sid) => {
                    association = Some(*sid);
                    match self.send.get(sid).map(SendFlow::state) {
                        Some(SendFlowState::F_OPEN) => None,
                        _ => Some(RejectReason::AssociationNotOpen(wire)),
                    }
                }
            },
            (Some(_), None) => None,
        }
        .or(frag
            .unknown_mandatory_option()
            .map(RejectReason::UnknownOption));
        match reason {
            Some(_) => {
                self.shared.stats.flows_rejected += 1;
                flow.reject(0, &mut self.shared);
            }
            None => {
                let metadata = frag.metadata().unwrap_or_default().to_vec();
                flow.opened(metadata, association, &mut self.shared);
            }
        }
        flow.receive(now, frag, limits, &mut self.shared);
        self.shared.ack.ack_now = true;
        self.recv_by_wire.insert(flow.flow_id(), id);
        self.recv.insert(id, flow);
    }

    /// An acknowledgement chunk for wire flow `flow_id` (3.6.2.4), given as the
    /// sorted ranges it acknowledges (see `acknowledged_ranges` of the Bitmap
    /// and Range Ack chunks).
    pub fn on_ack(
        &mut self,
        now: Instant,
        flow_id: u64,
        buffer_bytes_available: u64,
        acknowledged: &[SeqRange],
    ) {
        self.packet.any_ack = true;
        self.burst.on_ack_received();
        let Some(flow) = self
            .send_by_wire
            .get(&flow_id)
            .and_then(|id| self.send.get_mut(id))
        else {
            self.shared.stats.acks_ignored += 1;
            return;
        };
        let acked = flow.on_ack(now, buffer_bytes_available, acknowledged, &mut self.shared);
        self.cc.on_ack(acked);
    }

    /// A Buffer Probe (3.6.3.6).
    pub fn on_buffer_probe(&mut self, flow_id: u64) {
        self.shared.stats.probes_received += 1;
        if let Some(flow) = self
            .recv_by_wire
            .get(&flow_id)
            .and_then(|id| self.recv.get_mut(id))
        {
            flow.probed(&mut self.shared);
        }
    }

    /// A Flow Exception Report (3.6.2.10).
    pub fn on_exception_report(&mut self, flow_id: u64, code: u64) {
        if let Some(flow) = self
            .send_by_wire
            .get(&flow_id)
            .and_then(|id| self.send.get_mut(id))
        {
            flow.on_exception(code, &mut self.shared);
        }
    }

    /// After every chunk of the packet: negative acknowledgements and losses
    /// (3.6.2.5), the timeout alarm (3.6.2.6), RX_DATA_PACKETS (3.6.3.2) and
    /// the congestion window (Appendix A.2).
    pub fn end_packet(&mut self, now: Instant, rto: &Rto) {
        // The packet's timestamp echo may have lowered ERTO (3.5.2.2).
        self.shared.loss.retime(now, rto.erto());
        if self.packet.any_ack {
            for (_, id, seq) in self.shared.loss.nak_candidates() {
                let Some(flow) = self.send.get_mut(&id) else {
                    continue;
                };
                self.shared.stats.naks += 1;
                self.cc.on_nak();
                if let Some(bytes) = flow.on_nak(seq, &mut self.shared) {
                    self.cc.on_loss(bytes);
                }
            }
            self.shared.loss.rearm_if_set(now, rto.erto());
        }
        if self.packet.any_user_data {
            self.shared.ack.on_data_packet();
        }
        self.cc.on_packet_end(now);
        self.packet = PacketMarks::default();
        self.settle_acks();
        self.check_writable();
    }

    /// ACK_NOW with no receiving flow ready to acknowledge means there is no
    /// work to do: clear it with RX_DATA_PACKETS and DELACK_ALARM (3.6.3.4.5 step 2).
    fn settle_acks(&mut self) {
        if self.shared.ack.ack_now && !self.any_ready_to_ack() {
            self.shared.ack.all_acknowledged();
        }
    }

    // ---- transmit side ------------------------------------------------------

    fn any_ready_to_ack(&self) -> bool {
        self.recv.values().any(RecvFlow::ready_to_ack)
    }

    fn data_allowed(&self, now: Instant) -> bool {
        self.burst.allows() && self.cc.may_send(now, self.shared.outstanding, 0)
    }

    /// Whether [`write`](Self::write) has something to send now: obligatory
    /// acknowledgements, a due Buffer Probe, or user data the windows allow.
    pub fn wants_to_send(&self, now: Instant) -> bool {
        (self.shared.ack.ack_now && self.any_ready_to_ack())
            || self.send.values().any(|f| f.probe_due(now))
            || (self.data_allowed(now) && self.send.values().any(SendFlow::is_ready))
    }

    /// Fills a packet with up to `budget` bytes of flow chunks: obligatory
    /// acknowledgements when ACK_NOW (3.6.3.4.5), due Buffer Probes
    /// (3.6.2.9.1), user data by priority within the congestion window, burst
    /// avoidance and each flow's receive window (3.6.2.3), then piggybacked
    /// acknowledgements (3.6.3.4.6). The session adds the header, with the TC
    /// flag when [`Written::time_critical`], and sends it; it also tells other
    /// sessions' controllers about the TC flag if it wants them to know.
    pub fn write(&mut self, now: Instant, budget: usize, rto: &Rto) -> Written {
        self.expire_lifetimes(now);
        let mut w = Written::default();
        let mut room = budget;
        if self.shared.ack.ack_now {
            self.write_acks(&mut room, true, &mut w);
        }
        // Buffer Probes for suspended flows.
        let due: Vec<SendFlowId> = self
            .send
            .iter()
            .filter(|(_, f)| f.probe_due(now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(flow) = self.send.get_mut(&id) else {
                continue;
            };
            let probe = Chunk::BufferProbe(BufferProbe {
                flow_id: flow.flow_id(),
            });
            if probe.encoded_len() > room {
                break;
            }
            room -= probe.encoded_len();
            w.chunks.push(probe);
            flow.on_probe_sent(now, rto.erto());
            self.shared.stats.probes_sent += 1;
        }
        // User data, flow by flow in priority and round-robin order, while
        // the congestion window and burst avoidance allow and a chunk may fit.
        let ready: Vec<(SendFlowId, Priority)> = self
            .send
            .iter()
            .filter_map(|(id, f)| Some((*id, f.ready_priority()?)))
            .collect();
        let priorities: BTreeMap<SendFlowId, Priority> = ready.iter().copied().collect();
        for id in self.round_robin.order(ready) {
            if room < MIN_DATA_CHUNK || !self.data_allowed(now) {
                break;
            }
            let association_alive = self
                .send
                .get(&id)
                .and_then(SendFlow::pending_association)
                .is_none_or(|rid| {
                    self.recv
                        .get(&rid)
                        .is_some_and(|r| r.state() != RecvFlowState::RF_CLOSED)
                });
            let Some(flow) = self.send.get_mut(&id) else {
                continue;
            };
            let out = flow.assemble(&mut room, association_alive, &mut self.shared);
            if !out.chunks.is_empty() {
                if let Some(p) = priorities.get(&id) {
                    self.round_robin.served(id, *p);
                }
                w.user_data = true;
                w.time_critical |= out.time_critical;
                w.chunks.extend(out.chunks);
            }
        }
        if w.user_data {
            self.burst.on_data_packet_sent();
            self.shared.loss.arm(now, rto.erto());
        }
        if !w.chunks.is_empty() {
            self.write_acks(&mut room, false, &mut w);
        }
        if w.time_critical {
            self.cc.on_time_critical_sent(now, true);
        }
        w.len = budget - room;
        self.check_writable();
        w
    }

    /// Acknowledgements for every receiving flow that is ready, while they
    /// fit. `obligatory`: the first one may be truncated (3.6.3.4.2).
    fn write_acks(&mut self, room: &mut usize, obligatory: bool, w: &mut Written) {
        let session_room = self
            .config
            .max_receive_buffer_per_session
            .saturating_sub(self.shared.recv_buffered);
        let mut may_truncate = obligatory && !w.chunks.iter().any(|c| ack::blocks_of(c).is_some());
        for flow in self.recv.values_mut().filter(|f| f.ready_to_ack()) {
            let blocks = flow.advertised_blocks(session_room);
            let Some(a) = ack::assemble(
                flow.flow_id(),
                flow.rejection(),
                flow.sequence_set(),
                blocks,
                *room,
                may_truncate,
            ) else {
                break;
            };
            *room -= a.len;
            self.shared.stats.acks_sent += 1;
            self.shared.stats.acks_truncated += u64::from(a.truncated);
            self.shared.stats.exception_reports_sent += u64::from(flow.rejection().is_some());
            flow.on_ack_sent(blocks);
            w.chunks.extend(a.chunks);
            may_truncate = false;
        }
        if !self.any_ready_to_ack() {
            self.shared.ack.all_acknowledged();
        }
    }

    /// The earliest timer: DELACK_ALARM, TIMEOUT_ALARM, a message lifetime, a
    /// Buffer Probe or the end of a linger period.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let send = self
            .send
            .values()
            .flat_map(|f| [f.probe_deadline(), f.linger_deadline()]);
        let recv = self.recv.values().map(RecvFlow::linger_deadline);
        [
            self.shared.ack.delack_alarm,
            self.shared.loss.timeout_alarm(),
            self.shared.lifetimes.first().map(|(t, _, _)| *t),
        ]
        .into_iter()
        .chain(send)
        .chain(recv)
        .flatten()
        .min()
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, rto: &mut Rto) {
        self.shared.ack.on_timeout(now);
        if self.shared.loss.take_due_alarm(now) {
            // 3.6.2.6.
            let in_flight = self.shared.loss.take_all_in_flight();
            let was_loss = !in_flight.is_empty();
            for (_, id, seq) in in_flight {
                if let Some(flow) = self.send.get_mut(&id) {
                    flow.leave_flight(seq, &mut self.shared);
                }
            }
            self.shared.stats.timeouts += 1;
            if was_loss {
                self.shared.stats.timeouts_with_loss += 1;
                rto.backoff();
            }
            self.cc.on_timeout(now, was_loss);
            self.burst.on_timeout();
        }
        self.expire_lifetimes(now);
        let closed: Vec<SendFlowId> = self
            .send
            .iter_mut()
            .filter_map(|(id, f)| f.on_linger_timeout(now).then_some(*id))
            .collect();
        for id in closed {
            if let Some(f) = self.send.remove(&id) {
                self.send_by_wire.remove(&f.flow_id());
            }
        }
        let closed: Vec<RecvFlowId> = self
            .recv
            .iter_mut()
            .filter_map(|(id, f)| f.on_linger_timeout(now).then_some(*id))
            .collect();
        for id in closed {
            self.reclaim_recv(id);
        }
        self.settle_acks();
        self.check_writable();
    }

    /// Forgets an RF_CLOSED flow's ID, and the flow once its messages are delivered.
    fn reclaim_recv(&mut self, id: RecvFlowId) {
        let Some(f) = self.recv.get(&id) else {
            return;
        };
        if f.state() != RecvFlowState::RF_CLOSED {
            return;
        }
        if self.recv_by_wire.get(&f.flow_id()) == Some(&id) {
            self.recv_by_wire.remove(&f.flow_id());
        }
        if f.is_drained() {
            self.recv.remove(&id);
        }
    }

    fn expire_lifetimes(&mut self, now: Instant) {
        while let Some(&(t, flow, message)) = self.shared.lifetimes.first() {
            if t > now {
                break;
            }
            self.shared.lifetimes.pop_first();
            if let Some(f) = self.send.get_mut(&flow) {
                f.abandon_message(message, &mut self.shared);
            }
        }
    }

    fn check_writable(&mut self) {
        let session_queued = self.shared.send_queued;
        for (id, f) in &mut self.send {
            let Some(want) = f.blocked else {
                continue;
            };
            if f.state() != SendFlowState::F_OPEN {
                f.blocked = None;
            } else if f.queued_bytes() + want <= self.config.max_send_buffer_per_flow
                && session_queued + want <= self.config.max_send_buffer_per_session
            {
                f.blocked = None;
                self.shared
                    .events
                    .push_back(FlowEvent::SendFlowWritable { flow: *id });
            }
        }
    }

    // ---- application --------------------------------------------------------

    /// Opens a sending flow (3.6.2.1) with `metadata`, optionally in return
    /// to receiving flow `return_for`, which must be RF_OPEN.
    pub fn open(
        &mut self,
        metadata: &[u8],
        return_for: Option<RecvFlowId>,
        opts: FlowOptions,
    ) -> Result<SendFlowId, ApiError> {
        if metadata.len() > self.config.max_metadata_len {
            return Err(ApiError::MetadataTooLarge {
                len: metadata.len(),
                max: self.config.max_metadata_len,
            });
        }
        if self.send.len() >= self.config.max_send_flows {
            return Err(ApiError::TooManyFlows {
                max: self.config.max_send_flows,
            });
        }
        let association = match return_for {
            None => None,
            Some(rid) => match self.recv.get(&rid) {
                Some(r) if r.state() == RecvFlowState::RF_OPEN => Some((rid, r.flow_id())),
                _ => return Err(ApiError::AssociationNotOpen(rid)),
            },
        };
        let wire = match opts.flow_id {
            Some(w) if self.send_by_wire.contains_key(&w) => return Err(ApiError::FlowIdInUse(w)),
            Some(w) => w,
            None => {
                let mut w = self.next_send;
                while self.send_by_wire.contains_key(&w) {
                    w += 1;
                }
                w
            }
        };
        let handle = SendFlowId(self.next_send);
        self.next_send += 1;
        let flow = SendFlow::new(handle, wire, metadata.to_vec(), association, opts.priority);
        // A packet must have room for at least one byte of data next to the
        // largest header and STARTUP_OPTIONS (3.6.2.2).
        let needed = flow.fragment_overhead(u64::MAX) + 1;
        if needed > self.config.max_packet_size {
            return Err(ApiError::PacketTooSmall {
                max_packet_size: self.config.max_packet_size,
                needed,
            });
        }
        self.send_by_wire.insert(wire, handle);
        self.send.insert(handle, flow);
        Ok(handle)
    }

    /// Queues a message on an F_OPEN flow (3.6.2.2).
    pub fn send(
        &mut self,
        now: Instant,
        flow: SendFlowId,
        data: &[u8],
        opts: MessageOptions,
    ) -> Result<MessageId, ApiError> {
        let max_packet_size = self.config.max_packet_size;
        let per_flow = self.config.max_send_buffer_per_flow;
        let per_session = self.config.max_send_buffer_per_session;
        let session_queued = self.shared.send_queued;
        let f = self
            .send
            .get_mut(&flow)
            .ok_or(ApiError::UnknownSendFlow(flow))?;
        if f.state() != SendFlowState::F_OPEN {
            return Err(ApiError::SendFlowNotOpen {
                flow,
                state: f.state(),
            });
        }
        let cost = f.message_cost(data.len(), max_packet_size);
        if cost > per_flow.min(per_session) {
            return Err(ApiError::MessageTooLarge {
                len: data.len(),
                max: per_flow.min(per_session),
            });
        }
        if f.queued_bytes() + cost > per_flow || session_queued + cost > per_session {
            f.blocked = Some(cost);
            return Err(ApiError::BufferFull {
                flow,
                queued: f.queued_bytes(),
                session_queued,
                len: data.len(),
            });
        }
        let id = MessageId(self.next_message);
        self.next_message += 1;
        f.queue_message(now, id, data, opts, max_packet_size, &mut self.shared);
        Ok(id)
    }

    /// Abandons a queued message (3.6.2.7); nothing happens if it is already
    /// delivered or abandoned.
    pub fn abandon(&mut self, flow: SendFlowId, message: MessageId) -> Result<(), ApiError> {
        let f = self
            .send
            .get_mut(&flow)
            .ok_or(ApiError::UnknownSendFlow(flow))?;
        f.abandon_message(message, &mut self.shared);
        Ok(())
    }

    /// Closes a sending flow (3.6.2.11); closing one that is already closing does nothing.
    pub fn close(&mut self, flow: SendFlowId) -> Result<(), ApiError> {
        let f = self
            .send
            .get_mut(&flow)
            .ok_or(ApiError::UnknownSendFlow(flow))?;
        f.close(&mut self.shared);
        Ok(())
    }

    /// Rejects an RF_OPEN receiving flow with an exception code (3.6.3.7).
    pub fn reject(&mut self, flow: RecvFlowId, code: u64) -> Result<(), ApiError> {
        let f = self
            .recv
            .get_mut(&flow)
            .ok_or(ApiError::UnknownRecvFlow(flow))?;
        if f.state() != RecvFlowState::RF_OPEN {
            return Err(ApiError::RecvFlowNotOpen {
                flow,
                state: f.state(),
            });
        }
        f.reject(code, &mut self.shared);
        Ok(())
    }

    fn recv_mut(&mut self, flow: RecvFlowId) -> Result<&mut RecvFlow, ApiError> {
        self.recv
            .get_mut(&flow)
            .ok_or(ApiError::UnknownRecvFlow(flow))
    }

    /// Sets a receiving flow's BUFFER_CAPACITY (3.6.3.5).
    pub fn set_receive_buffer(&mut self, flow: RecvFlowId, bytes: usize) -> Result<(), ApiError> {
        let max = self.config.max_receive_buffer_per_flow;
        if bytes > max {
            return Err(ApiError::ReceiveBufferTooLarge {
                requested: bytes,
                max,
            });
        }
        let f = self
            .recv
            .get_mut(&flow)
            .ok_or(ApiError::UnknownRecvFlow(flow))?;
        f.set_capacity(bytes, &mut self.shared);
        Ok(())
    }

    /// Suspends delivery on a receiving flow (3.6.3.3).
    pub fn suspend_delivery(&mut self, flow: RecvFlowId) -> Result<(), ApiError> {
        self.recv_mut(flow)?.suspend();
        Ok(())
    }

    /// Resumes delivery on a receiving flow (3.6.3.3).
    pub fn resume_delivery(&mut self, flow: RecvFlowId) -> Result<(), ApiError> {
        let f = self
            .recv
            .get_mut(&flow)
            .ok_or(ApiError::UnknownRecvFlow(flow))?;
        f.resume(&mut self.shared);
        self.reclaim_recv(flow);
        Ok(())
    }

    /// Chooses ordered or out-of-order delivery for a receiving flow.
    pub fn set_delivery_mode(
        &mut self,
        flow: RecvFlowId,
        mode: DeliveryMode,
    ) -> Result<(), ApiError> {
        let f = self
            .recv
            .get_mut(&flow)
            .ok_or(ApiError::UnknownRecvFlow(flow))?;
        f.set_delivery_mode(mode, &mut self.shared);
        Ok(())
    }

    /// A sending flow's snapshot.
    pub fn send_flow_info(&self, flow: SendFlowId) -> Option<SendFlowInfo> {
        self.send.get(&flow).map(SendFlow::info)
    }

    /// A sending flow's SEND_QUEUE, for inspection.
    pub fn send_queue(&self, flow: SendFlowId) -> Option<Vec<SendQueueEntry>> {
        self.send.get(&flow).map(SendFlow::queue_entries)
    }

    /// A receiving flow's snapshot.
    pub fn recv_flow_info(&self, flow: RecvFlowId) -> Option<RecvFlowInfo> {
        self.recv.get(&flow).map(RecvFlow::info)
    }

    /// Every sending flow not yet reclaimed, in handle order.
    pub fn send_flows(&self) -> impl Iterator<Item = SendFlowId> + '_ {
        self.send.keys().copied()
    }

    /// Every receiving flow not yet reclaimed, in handle order.
    pub fn recv_flows(&self) -> impl Iterator<Item = RecvFlowId> + '_ {
        self.recv.keys().copied()
    }

    /// The session left S_OPEN (3.5.5): every flow ends now. Undelivered
    /// messages are reported abandoned, unfinished flows aborted.
    pub fn abort_all(&mut self) {
        for f in self.send.values_mut() {
            f.abort(&mut self.shared);
        }
        for f in self.recv.values_mut() {
            f.abort(&mut self.shared);
        }
        self.send.clear();
        self.send_by_wire.clear();
        self.recv.clear();
        self.recv_by_wire.clear();
        self.shared.loss = Loss::new();
        self.shared.lifetimes.clear();
        self.shared.ack = AckState::default();
        self.shared.outstanding = 0;
        self.shared.send_queued = 0;
        self.shared.recv_buffered = 0;
    }

    /// No flow is open or closing in either direction and no acknowledgement
    /// is pending (flows lingering after completion do not count).
    pub fn is_idle(&self) -> bool {
        self.send.values().all(|f| {
            matches!(
                f.state(),
                SendFlowState::F_COMPLETE_LINGER | SendFlowState::F_CLOSED
            )
        }) && self.recv.values().all(|f| {
            matches!(
                f.state(),
                RecvFlowState::RF_COMPLETE_LINGER | RecvFlowState::RF_CLOSED
            )
        }) && !self.any_ready_to_ack()
    }
}
