//! What the workload's flows send and what arrives (RFC 7016 3.6), as the endpoint node keeps
//! it: the messages a flow generates, and per flow end the counts, times and SHA-256 digests
//! that expectations check.
//!
//! Every message starts with a 16-byte header, its index and its send time in microseconds
//! (both big-endian), so a receiver can tell late messages from timely ones; the rest is drawn
//! from the sending flow's own random stream (`user:data:HOST:FLOW`), so the bytes depend only
//! on the seed. The digests cover every byte of every message in the order sent (sender) or
//! delivered (receiver): for a reliable, ordered flow they match exactly when the data arrived
//! intact.

use core::time::Duration;

use rtmfp::endpoint::SessionHandle;
use rtmfp::flow::{RecvFlowId, SendFlowId};
use rtmfp::time::Instant;
use sha2::{Digest, Sha256};

use crate::rng::SimRng;
use crate::workload::{FlowKind, FlowPlan, MESSAGE_HEADER};

/// What happened to a flow this host sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendRecord {
    /// The flow's name.
    pub name: String,
    /// The session it went on, once open.
    pub session: Option<SessionHandle>,
    /// Its handle, once open.
    pub flow: Option<SendFlowId>,
    /// When it opened.
    pub opened: Option<Instant>,
    /// Messages the flow was planned to send.
    pub planned: u64,
    /// Messages queued on it.
    pub queued: u64,
    /// Bytes queued on it.
    pub bytes: u64,
    /// Stream messages the send buffer refused (a live source skips them).
    pub refused: u64,
    /// Messages fully acknowledged (3.6.2.4).
    pub delivered: u64,
    /// Messages abandoned (3.6.2.7).
    pub abandoned: u64,
    /// When the flow completed (3.6.2.11), if it did.
    pub complete: Option<Instant>,
    /// The far end's exception code, if it rejected the flow (3.6.2.10).
    pub exception: Option<u64>,
    /// Whether the session went away with the flow unfinished (3.5.5).
    pub aborted: bool,
    /// Why it could not open or send, if it could not.
    pub error: Option<String>,
    /// SHA-256 of every byte queued, in order.
    pub digest: [u8; 32],
}

/// What arrived on a flow this host received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvRecord {
    /// The session.
    pub session: SessionHandle,
    /// The receiving flow.
    pub flow: RecvFlowId,
    /// The sending host (from the session's far certificate).
    pub from: Option<String>,
    /// The workload flow it is (found by sender and metadata), if any.
    pub flow_name: Option<String>,
    /// For a return flow: the name of this host's flow it answers (an echo).
    pub echo_of: Option<String>,
    /// Its metadata.
    pub metadata: Vec<u8>,
    /// When it opened.
    pub opened: Instant,
    /// Messages delivered.
    pub messages: u64,
    /// Bytes delivered.
    pub bytes: u64,
    /// Messages that arrived later than the stream's deadline after they were sent.
    pub late: u64,
    /// The longest time from send to delivery.
    pub max_latency: Duration,
    /// Messages whose index was not the next expected one (gaps or disorder).
    pub out_of_sequence: u64,
    /// Sequence numbers the sender abandoned, as the receiver was told (3.6.1.2).
    pub lost_sequence_numbers: u64,
    /// The longest time between two consecutive deliveries.
    pub max_gap: Duration,
    /// When the first and the last message arrived.
    pub first_at: Option<Instant>,
    /// When the last message arrived.
    pub last_at: Option<Instant>,
    /// When the flow completed (3.6.3.3), if it did.
    pub complete: Option<Instant>,
    /// Whether the session went away with the flow unfinished.
    pub aborted: bool,
    /// SHA-256 of every byte delivered, in order.
    pub digest: [u8; 32],
}

/// A flow being sent.
pub(crate) struct Sender {
    pub(crate) record: SendRecord,
    pub(crate) plan: FlowPlan,
    rng: SimRng,
    hasher: Sha256,
    /// Index of the next message to generate.
    next: u64,
    /// A generated message the send buffer refused, to offer again.
    pub(crate) held: Option<Vec<u8>>,
    /// The next stream message's time.
    pub(crate) next_at: Option<Instant>,
    /// Whether close_flow was called.
    pub(crate) closed: bool,
}

impl Sender {
    pub(crate) fn new(plan: FlowPlan, seed: u64) -> Sender {
        let planned = match plan.kind {
            FlowKind::Bulk { bytes, message } => bytes.div_ceil(message as u64),
            FlowKind::Stream { count, .. } => count,
        };
        Sender {
            record: SendRecord {
                name: plan.name.clone(),
                session: None,
                flow: None,
                opened: None,
                planned,
                queued: 0,
                bytes: 0,
                refused: 0,
                delivered: 0,
                abandoned: 0,
                complete: None,
                exception: None,
                aborted: false,
                error: None,
                digest: [0; 32],
            },
            rng: SimRng::stream(seed, &format!("user:data:{}:{}", plan.host, plan.name)),
            plan,
            hasher: Sha256::new(),
            next: 0,
            held: None,
            next_at: None,
            closed: false,
        }
    }

    /// Whether every planned message has been generated.
    pub(crate) fn exhausted(&self) -> bool {
        self.next >= self.record.planned && self.held.is_none()
    }

    /// The next message, sent at `now`.
    pub(crate) fn generate(&mut self, now: Instant) -> Vec<u8> {
        let len = match self.plan.kind {
            FlowKind::Bulk { bytes, message } => {
                let done = self.next.saturating_mul(message as u64);
                usize::try_from(bytes.saturating_sub(done).min(message as u64)).unwrap_or(message)
            }
            FlowKind::Stream { size, .. } => size,
        };
        let mut m = vec![0u8; len.max(MESSAGE_HEADER)];
        m[..8].copy_from_slice(&self.next.to_be_bytes());
        m[8..MESSAGE_HEADER].copy_from_slice(&now.as_micros().to_be_bytes());
        self.rng.fill_bytes(&mut m[MESSAGE_HEADER..]);
        m.truncate(len);
        self.next += 1;
        m
    }

    /// Records that `m` was queued on the flow.
    pub(crate) fn queued(&mut self, m: &[u8]) {
        self.record.queued += 1;
        self.record.bytes += m.len() as u64;
        self.hasher.update(m);
    }

    /// The record with its digest.
    pub(crate) fn finish(&self) -> SendRecord {
        let mut r = self.record.clone();
        r.digest = self.hasher.clone().finalize().into();
        r
    }
}

/// A flow being received.
pub(crate) struct Receiver {
    pub(crate) record: RecvRecord,
    hasher: Sha256,
    /// Messages later than this after their send time are late.
    deadline: Option<Duration>,
    expected_index: u64,
}

impl Receiver {
    pub(crate) fn new(record: RecvRecord, deadline: Option<Duration>) -> Receiver {
        Receiver {
            record,
            hasher: Sha256::new(),
            deadline,
            expected_index: 0,
        }
    }

    /// A message arrived at `now`.
    pub(crate) fn message(&mut self, now: Instant, data: &[u8]) {
        let r = &mut self.record;
        r.messages += 1;
        r.bytes += data.len() as u64;
        r.first_at.get_or_insert(now);
        if let Some(last) = r.last_at {
            r.max_gap = r.max_gap.max(now.saturating_duration_since(last));
        }
        r.last_at = Some(now);
        self.hasher.update(data);
        let (Some(index), Some(sent)) = (
            data.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()),
            data.get(8..MESSAGE_HEADER)
                .and_then(|b| <[u8; 8]>::try_from(b).ok()),
        ) else {
            return;
        };
        let (index, sent) = (u64::from_be_bytes(index), u64::from_be_bytes(sent));
        if index != self.expected_index {
            r.out_of_sequence += 1;
        }
        self.expected_index = index.saturating_add(1);
        let latency = now.saturating_duration_since(Instant::from_micros(sent));
        r.max_latency = r.max_latency.max(latency);
        if self.deadline.is_some_and(|d| latency > d) {
            r.late += 1;
        }
    }

    /// The record with its digest.
    pub(crate) fn finish(&self) -> RecvRecord {
        let mut r = self.record.clone();
        r.digest = self.hasher.clone().finalize().into();
        r
    }
}

/// The deadline of a flow plan, for its receiver.
pub(crate) fn deadline_of(plan: &FlowPlan) -> Option<Duration> {
    match plan.kind {
        FlowKind::Stream { deadline, .. } => Some(deadline),
        FlowKind::Bulk { .. } => None,
    }
}
