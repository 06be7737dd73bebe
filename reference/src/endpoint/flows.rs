//! The application's side of flows, RFC 7016 section 3.6.1: opening, writing, closing and rejecting flows of an S_OPEN session.
//!
//! Each call names the session by its [`SessionHandle`] and is delegated to
//! that session's [`FlowSet`]; the events it causes (abandoned messages, a
//! writable flow, deliveries after a resume) join the endpoint's event queue
//! at once, in order. A session that is not S_OPEN has no flows (3.5.5):
//! calls on it fail with [`ApiError::WrongState`], and calls naming an
//! unknown session with [`ApiError::UnknownSession`]. Flow-level refusals
//! (unknown flow, wrong flow state, full buffers, limits) come as
//! [`ApiError::Flow`]; nothing changes when an error is returned.
//!
//! After any of these calls, call [`Endpoint::poll_transmit`]: they may have
//! made data, an acknowledgement or a window update ready to send.

use super::{ApiError, Endpoint};
use crate::flow::{
    DeliveryMode, FlowOptions, FlowSet, FlowStats, MessageId, MessageOptions, RecvFlowId,
    RecvFlowInfo, SendFlowId, SendFlowInfo,
};
use crate::session::{SessionHandle, SessionState};
use crate::time::Instant;

impl Endpoint {
    /// Runs `f` on session `h`'s FlowSet and queues the events it caused.
    fn with_flows<T>(
        &mut self,
        h: SessionHandle,
        f: impl FnOnce(&mut FlowSet) -> Result<T, crate::flow::ApiError>,
    ) -> Result<T, ApiError> {
        let core = &mut self.core;
        let Some(s) = self.table.live.get_mut(&h) else {
            return Err(match self.table.closed.get(&h) {
                Some(s) => ApiError::WrongState {
                    session: h,
                    state: s.state.name(),
                },
                None => ApiError::UnknownSession(h),
            });
        };
        let state = s.state;
        let Some(flows) = s.flows.as_mut() else {
            return Err(ApiError::WrongState {
                session: h,
                state: state.name(),
            });
        };
        let result = f(flows);
        s.drain_flow_events(core);
        Ok(result?)
    }

    /// The FlowSet of an S_OPEN session, for the read-only accessors.
    fn flows(&self, h: SessionHandle) -> Option<&FlowSet> {
        self.table.live.get(&h).and_then(|s| s.flows.as_ref())
    }

    /// Opens a sending flow on S_OPEN session `h` (3.6.2.1) with the user's
    /// per-flow `metadata` (at most [`FlowConfig::max_metadata_len`](crate::flow::FlowConfig::max_metadata_len)
    /// bytes), in return to receiving flow `return_for` if given (which must
    /// be RF_OPEN, 3.6.2.1). The far end hears of it with the first data
    /// (or close) sent on it.
    pub fn open_flow(
        &mut self,
        _now: Instant,
        h: SessionHandle,
        metadata: &[u8],
        return_for: Option<RecvFlowId>,
        opts: FlowOptions,
    ) -> Result<SendFlowId, ApiError> {
        self.with_flows(h, |f| f.open(metadata, return_for, opts))
    }

    /// Queues a message on F_OPEN sending flow `flow` (3.6.2.2), reliable or
    /// with a lifetime, bulk or time critical. Fails with
    /// [`crate::flow::ApiError::BufferFull`] when the flow's or session's send
    /// buffer is full; an [`Event::SendFlowWritable`](super::Event::SendFlowWritable)
    /// follows once it has room.
    pub fn send(
        &mut self,
        now: Instant,
        h: SessionHandle,
        flow: SendFlowId,
        data: &[u8],
        opts: MessageOptions,
    ) -> Result<MessageId, ApiError> {
        self.with_flows(h, |f| f.send(now, flow, data, opts))
    }

    /// Abandons a queued message (3.6.2.7): what is not yet acknowledged is
    /// never sent again, and the receiver sees a gap.
    pub fn abandon(
        &mut self,
        _now: Instant,
        h: SessionHandle,
        flow: SendFlowId,
        message: MessageId,
    ) -> Result<(), ApiError> {
        self.with_flows(h, |f| f.abandon(flow, message))
    }

    /// Closes sending flow `flow` (3.6.2.11): what is queued is still sent;
    /// [`Event::SendFlowComplete`](super::Event::SendFlowComplete) follows
    /// when the receiver has acknowledged everything.
    pub fn close_flow(
        &mut self,
        _now: Instant,
        h: SessionHandle,
        flow: SendFlowId,
    ) -> Result<(), ApiError> {
        self.with_flows(h, |f| f.close(flow))
    }

    /// Rejects RF_OPEN receiving flow `flow` with exception `code` (3.6.3.7):
    /// its messages are discarded and the sender gets a Flow Exception Report.
    pub fn reject_flow(
        &mut self,
        _now: Instant,
        h: SessionHandle,
        flow: RecvFlowId,
        code: u64,
    ) -> Result<(), ApiError> {
        self.with_flows(h, |f| f.reject(flow, code))
    }

    /// Sets receiving flow `flow`'s BUFFER_CAPACITY (3.6.3.5), at most
    /// [`FlowConfig::max_receive_buffer_per_flow`](crate::flow::FlowConfig::max_receive_buffer_per_flow).
    pub fn set_receive_buffer(
        &mut self,
        h: SessionHandle,
        flow: RecvFlowId,
        bytes: usize,
    ) -> Result<(), ApiError> {
        self.with_flows(h, |f| f.set_receive_buffer(flow, bytes))
    }

    /// Stops delivering messages of receiving flow `flow` (3.6.3.3); they
    /// stay buffered and the window closes as the buffer fills.
    pub fn suspend_delivery(&mut self, h: SessionHandle, flow: RecvFlowId) -> Result<(), ApiError> {
        self.with_flows(h, |f| f.suspend_delivery(flow))
    }

    /// Resumes delivery on receiving flow `flow`; complete messages are delivered now.
    pub fn resume_delivery(&mut self, h: SessionHandle, flow: RecvFlowId) -> Result<(), ApiError> {
        self.with_flows(h, |f| f.resume_delivery(flow))
    }

    /// Chooses ordered (the default) or out-of-order delivery for receiving flow `flow`.
    pub fn set_delivery_mode(
        &mut self,
        h: SessionHandle,
        flow: RecvFlowId,
        mode: DeliveryMode,
    ) -> Result<(), ApiError> {
        self.with_flows(h, |f| f.set_delivery_mode(flow, mode))
    }

    /// A snapshot of sending flow `flow` of S_OPEN session `h`.
    pub fn send_flow_info(&self, h: SessionHandle, flow: SendFlowId) -> Option<SendFlowInfo> {
        self.flows(h)?.send_flow_info(flow)
    }

    /// A snapshot of receiving flow `flow` of S_OPEN session `h`.
    pub fn recv_flow_info(&self, h: SessionHandle, flow: RecvFlowId) -> Option<RecvFlowInfo> {
        self.flows(h)?.recv_flow_info(flow)
    }

    /// The sending flows of S_OPEN session `h` not yet reclaimed, in handle order.
    pub fn send_flows(&self, h: SessionHandle) -> Vec<SendFlowId> {
        self.flows(h)
            .map(|f| f.send_flows().collect())
            .unwrap_or_default()
    }

    /// The receiving flows of S_OPEN session `h` not yet reclaimed, in handle order.
    pub fn recv_flows(&self, h: SessionHandle) -> Vec<RecvFlowId> {
        self.flows(h)
            .map(|f| f.recv_flows().collect())
            .unwrap_or_default()
    }

    /// The flow layer's counters of S_OPEN session `h`.
    pub fn flow_stats(&self, h: SessionHandle) -> Option<FlowStats> {
        self.flows(h).map(|f| f.stats().clone())
    }

    /// Whether S_OPEN session `h` has no flow open or closing either way and
    /// no acknowledgement pending (3.5.5: a session with no open flows for a
    /// while is a candidate for closing).
    pub fn flows_idle(&self, h: SessionHandle) -> Option<bool> {
        let s = self.table.live.get(&h)?;
        if s.state != SessionState::S_OPEN {
            return None;
        }
        s.flows.as_ref().map(FlowSet::is_idle)
    }
}
