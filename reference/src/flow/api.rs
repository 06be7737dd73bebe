//! What the flow layer shows its user (RFC 7016 section 3.6.1): handles, options, events, errors, limits and counters.

use core::time::Duration;

use super::priority::Priority;
use super::recv::RecvFlowState;
use super::send::SendFlowState;

/// A sending flow of this FlowSet. Never reused; it is also the default wire flow ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendFlowId(pub u64);

/// A receiving flow of this FlowSet. Never reused, unlike the far end's flow IDs (3.6.3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecvFlowId(pub u64);

/// A message queued on a sending flow; unique within its FlowSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

/// Options for opening a sending flow (3.6.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowOptions {
    /// Scheduling priority (3.6.2.3 leaves prioritization to the implementation).
    pub priority: Priority,
    /// The wire flow ID to use instead of the next free one (for tests and
    /// conformance tooling). It must not belong to a flow in F_OPEN, F_CLOSING
    /// or F_COMPLETE_LINGER (3.6.2.1).
    pub flow_id: Option<u64>,
}

/// Options for one message (3.6.2.2, 3.6.2.7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageOptions {
    /// Abandon the message when it has not been fully acknowledged this long
    /// after it was queued (3.6.2.7); `None` sends it reliably.
    pub lifetime: Option<Duration>,
    /// Send this message's fragments as time critical even on a bulk flow
    /// (they go ahead of bulk flows and set the packet's TC flag, 3.6.2.3 step 18).
    pub time_critical: bool,
}

impl MessageOptions {
    /// A reliable, bulk message.
    pub fn reliable() -> Self {
        Self::default()
    }

    /// A message abandoned after `lifetime`.
    pub fn with_lifetime(lifetime: Duration) -> Self {
        MessageOptions {
            lifetime: Some(lifetime),
            time_critical: false,
        }
    }
}

/// How a receiving flow hands messages to the user (3.6.3.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeliveryMode {
    /// Complete messages in original queuing order, as 3.6.3.3 describes.
    #[default]
    Ordered,
    /// Every complete message as soon as it is complete, possibly out of
    /// order. Gaps are reported as in ordered mode, as sequence number ranges
    /// that will never be delivered, once the CSN has passed them; in this
    /// mode a gap may be reported after messages that were queued after it.
    Unordered,
}

/// Why the implementation rejected a receiving flow by itself (3.6.3.1, 3.6.3.2 step 4; exception code 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The opening User Data chunk had no User's Per-Flow Metadata option.
    NoMetadata,
    /// The Return Flow Association named no sending flow of this session.
    UnknownAssociation(u64),
    /// The Return Flow Association named a sending flow that was not F_OPEN.
    AssociationNotOpen(u64),
    /// An option the implementation does not know, with a type below 8192.
    UnknownOption(u64),
    /// More than one Return Flow Association option (3.6.1.1 forbids it to the
    /// sender; spec/ambiguities.md AMB-7016-16).
    TwoAssociations,
}

/// Something the user should know; plain data, so a simulator can log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowEvent {
    /// A new receiving flow opened (3.6.3.1 step 9).
    RecvFlowOpened {
        /// The new flow.
        flow: RecvFlowId,
        /// Its wire flow ID (the far end's choice).
        flow_id: u64,
        /// The User's Per-Flow Metadata.
        metadata: Vec<u8>,
        /// The local sending flow it answers (Return Flow Association), if any.
        association: Option<SendFlowId>,
    },
    /// A complete message (3.6.3.3).
    Message {
        /// The receiving flow.
        flow: RecvFlowId,
        /// The sequence number of the message's first fragment.
        sequence_number: u64,
        /// The message.
        data: Vec<u8>,
    },
    /// Sequence numbers `first..=last` will never be delivered: the sender
    /// abandoned them (3.6.1.2 gap indication). They may hold any number of
    /// whole or partial messages.
    MessagesLost {
        /// The receiving flow.
        flow: RecvFlowId,
        /// First lost sequence number.
        first: u64,
        /// Last lost sequence number.
        last: u64,
    },
    /// Every message of the flow was delivered and the sender closed it (3.6.3.3).
    RecvFlowComplete {
        /// The receiving flow.
        flow: RecvFlowId,
    },
    /// The implementation rejected a flow the user already knew of (3.6.3.2 step 4).
    RecvFlowRejected {
        /// The receiving flow.
        flow: RecvFlowId,
        /// Why.
        reason: RejectReason,
    },
    /// All of a message's fragments were acknowledged (3.6.2.4).
    MessageDelivered {
        /// The sending flow.
        flow: SendFlowId,
        /// The message.
        message: MessageId,
    },
    /// The message was abandoned (lifetime, exception or abort, 3.6.2.7); the
    /// receiver may or may not have received it.
    MessageAbandoned {
        /// The sending flow.
        flow: SendFlowId,
        /// The message.
        message: MessageId,
    },
    /// The receiver rejected the flow with this exception code (3.6.2.10).
    FlowException {
        /// The sending flow.
        flow: SendFlowId,
        /// The far end's exception code.
        code: u64,
    },
    /// A closing sending flow had all its sequence numbers acknowledged (3.6.2.11).
    SendFlowComplete {
        /// The sending flow.
        flow: SendFlowId,
    },
    /// A flow whose [`ApiError::BufferFull`] refused a message now has room for it.
    SendFlowWritable {
        /// The sending flow.
        flow: SendFlowId,
    },
    /// The session left S_OPEN with this sending flow unfinished (3.5.5).
    SendFlowAborted {
        /// The sending flow.
        flow: SendFlowId,
    },
    /// The session left S_OPEN with this receiving flow unfinished (3.5.5).
    RecvFlowAborted {
        /// The receiving flow.
        flow: RecvFlowId,
    },
}

/// Errors of the application interface. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No such sending flow (never opened, or closed and reclaimed).
    #[error("unknown sending flow {0:?}")]
    UnknownSendFlow(SendFlowId),
    /// No such receiving flow.
    #[error("unknown receiving flow {0:?}")]
    UnknownRecvFlow(RecvFlowId),
    /// The sending flow does not accept this in its state.
    #[error("sending flow {flow:?} is {state:?}, not F_OPEN")]
    SendFlowNotOpen {
        /// The flow.
        flow: SendFlowId,
        /// Its state.
        state: SendFlowState,
    },
    /// The receiving flow does not accept this in its state.
    #[error("receiving flow {flow:?} is {state:?}, not RF_OPEN")]
    RecvFlowNotOpen {
        /// The flow.
        flow: RecvFlowId,
        /// Its state.
        state: RecvFlowState,
    },
    /// A return association must name an RF_OPEN receiving flow (3.6.2.1).
    #[error("return association {0:?} is not an RF_OPEN receiving flow")]
    AssociationNotOpen(RecvFlowId),
    /// The metadata is longer than allowed (2.3.11.1.1 recommends at most 512 bytes).
    #[error("metadata is {len} bytes; at most {max} allowed")]
    MetadataTooLarge {
        /// The metadata length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The configured packet size leaves no room for data next to the largest
    /// header and this flow's STARTUP_OPTIONS (3.6.2.2).
    #[error("packets of {max_packet_size} bytes are too small for this flow: {needed} needed")]
    PacketTooSmall {
        /// The configured largest plain packet.
        max_packet_size: usize,
        /// The smallest packet that holds one byte of data with this flow's startup options.
        needed: usize,
    },
    /// The requested wire flow ID belongs to a flow that is not yet F_CLOSED (3.6.2.1).
    #[error("flow ID {0} is in use")]
    FlowIdInUse(u64),
    /// Too many sending flows.
    #[error("too many sending flows (limit {max})")]
    TooManyFlows {
        /// The limit.
        max: usize,
    },
    /// The message can never fit the send buffer.
    #[error("message of {len} bytes is larger than the send buffer limit of {max}")]
    MessageTooLarge {
        /// The message length.
        len: usize,
        /// The per-flow or per-session limit that it exceeds.
        max: usize,
    },
    /// The send buffer is full now; a [`FlowEvent::SendFlowWritable`] follows when it has room.
    #[error(
        "send buffer full for {flow:?}: {queued} bytes queued in the flow, {session_queued} in the session, message of {len} bytes"
    )]
    BufferFull {
        /// The flow.
        flow: SendFlowId,
        /// Bytes queued on the flow.
        queued: usize,
        /// Bytes queued on the whole session.
        session_queued: usize,
        /// The refused message's length.
        len: usize,
    },
    /// A receive buffer size above the configured hard limit.
    #[error("receive buffer of {requested} bytes exceeds the limit of {max}")]
    ReceiveBufferTooLarge {
        /// The requested capacity.
        requested: usize,
        /// The limit.
        max: usize,
    },
}

/// Limits and defaults of a FlowSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// The largest plain packet (common header included, before encryption)
    /// the session sends; fragments are sized to fit it (3.6.2.2).
    pub max_packet_size: usize,
    /// The longest metadata accepted by `open` (2.3.11.1.1: SHOULD NOT exceed 512).
    pub max_metadata_len: usize,
    /// Bytes of user data a sending flow may hold unacknowledged.
    pub max_send_buffer_per_flow: usize,
    /// Bytes of user data all sending flows together may hold.
    pub max_send_buffer_per_session: usize,
    /// Sending flows that may exist at once (any state before F_CLOSED).
    pub max_send_flows: usize,
    /// BUFFER_CAPACITY of a new receiving flow (3.6.3.1 step 9); the user can change it.
    pub default_receive_buffer: usize,
    /// Hard limit on a receiving flow's RECV_BUFFER; fragments beyond it are dropped and counted.
    pub max_receive_buffer_per_flow: usize,
    /// Hard limit on all receiving flows' RECV_BUFFERs together.
    pub max_receive_buffer_per_session: usize,
    /// Receiving flows that may exist at once (any state before RF_CLOSED);
    /// User Data for further new flows is dropped and counted.
    pub max_recv_flows: usize,
    /// Ranges a receiving flow's SEQUENCE_SET may hold; a fragment that
    /// would add one more is dropped and counted.
    pub max_sequence_ranges: usize,
    /// How new receiving flows deliver messages.
    pub default_delivery: DeliveryMode,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_packet_size: 1200,
            max_metadata_len: 512,
            max_send_buffer_per_flow: 1 << 20,
            max_send_buffer_per_session: 4 << 20,
            max_send_flows: 1024,
            default_receive_buffer: 65_536,
            max_receive_buffer_per_flow: 1 << 20,
            max_receive_buffer_per_session: 4 << 20,
            max_recv_flows: 1024,
            max_sequence_ranges: 1024,
            default_delivery: DeliveryMode::Ordered,
        }
    }
}

/// Counters of a FlowSet (plain fields; nothing here is keyed by a hash).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// User Data / Next User Data chunks sent, first transmissions and retransmissions.
    pub data_chunks_sent: u64,
    /// Of those, retransmissions.
    pub retransmissions: u64,
    /// Of those, abandoned ones (FSN updates and final markers included).
    pub abandoned_chunks_sent: u64,
    /// Acknowledgement chunks sent.
    pub acks_sent: u64,
    /// Acknowledgement chunks that had to be truncated (3.6.3.4.2).
    pub acks_truncated: u64,
    /// Flow Exception Reports sent.
    pub exception_reports_sent: u64,
    /// Buffer Probes sent.
    pub probes_sent: u64,
    /// Buffer Probes received.
    pub probes_received: u64,
    /// Negative acknowledgements inferred (3.6.2.5).
    pub naks: u64,
    /// Fragments declared lost after three NAKs (3.6.2.5).
    pub losses: u64,
    /// TIMEOUT_ALARM firings (3.6.2.6).
    pub timeouts: u64,
    /// Timeouts that found fragments in flight.
    pub timeouts_with_loss: u64,
    /// User Data fragments received (duplicates included).
    pub fragments_received: u64,
    /// Duplicate fragments received.
    pub duplicates_received: u64,
    /// Fragments dropped because the flow's receive buffer hit its hard limit.
    pub dropped_flow_buffer_full: u64,
    /// Fragments dropped because the session's receive buffers hit their hard limit.
    pub dropped_session_buffer_full: u64,
    /// Fragments dropped because the SEQUENCE_SET would exceed its range limit.
    pub dropped_too_many_ranges: u64,
    /// Fragments for a new flow dropped because of the receiving flow limit.
    pub dropped_too_many_flows: u64,
    /// Fragments ignored as malformed: not abandoned, yet not above their FSN (2.3.11).
    pub malformed_fragments: u64,
    /// Receiving flows rejected by the implementation (3.6.3.1, 3.6.3.2 step 4).
    pub flows_rejected: u64,
    /// Acknowledgements for unknown or finished sending flows, ignored.
    pub acks_ignored: u64,
}
