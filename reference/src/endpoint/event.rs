//! What an endpoint tells its application (RFC 7016 3.5: session life cycle; 3.6.1: flows), as plain data.

use core::net::SocketAddr;

use crate::flow::{FlowEvent, MessageId, RecvFlowId, RejectReason, SendFlowId};
use crate::session::SessionHandle;

/// Why an opening session failed (RFC 7016 3.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpenFailure {
    /// The ultimate open timeout passed (3.5.1.1.1): S_OPEN_FAILED.
    Timeout,
    /// The application closed it while opening (AMB-7016-35): S_OPEN_FAILED.
    Cancelled,
    /// Its responder is already the peer of another session (3.5.1.1.1 step 1): S_CLOSED.
    Duplicate {
        /// The session to use instead.
        existing: SessionHandle,
    },
    /// Glare, and the far end prevailed (3.5.1.3): S_CLOSED; the far end's own
    /// session is accepted instead.
    GlareLost {
        /// The incoming session with the same peer.
        incoming: SessionHandle,
    },
}

/// Why a session left S_OPEN (RFC 7016 3.5.5 and 3.5.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloseReason {
    /// This end closed it in order (S_NEARCLOSE).
    LocalOrderly,
    /// This end closed it abruptly (Close Ack sent, S_CLOSED).
    LocalAbrupt,
    /// The far end sent a Close Request (S_FARCLOSE_LINGER).
    FarClose,
    /// The far end sent a Close Ack: it closed abruptly (S_CLOSED).
    FarAbrupt,
    /// A new session from the same identity overrode it (3.5.1.1.2 step 2.3).
    Overridden {
        /// The new session.
        by: SessionHandle,
    },
    /// Keepalive Pings went unanswered too long (3.5.4.1).
    PeerDead,
}

/// One thing that happened, for the application or a simulator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session this end initiated reached S_OPEN.
    SessionOpened {
        /// The session.
        session: SessionHandle,
    },
    /// A far end opened a session with this end (responder, S_OPEN).
    IncomingSession {
        /// The session.
        session: SessionHandle,
    },
    /// An opening session failed.
    SessionOpenFailed {
        /// The session.
        session: SessionHandle,
        /// Why.
        reason: OpenFailure,
    },
    /// A session left S_OPEN: its flows are gone and it takes no more data.
    SessionClosed {
        /// The session.
        session: SessionHandle,
        /// Why.
        reason: CloseReason,
    },
    /// The far end's address changed, verified by a mobility check (3.5.4.2).
    AddressChanged {
        /// The session.
        session: SessionHandle,
        /// The old DESTADDR.
        from: SocketAddr,
        /// The new DESTADDR.
        to: SocketAddr,
    },
    /// Path MTU probing confirmed a larger packet size (3.5.4.3).
    PacketSizeRaised {
        /// The session.
        session: SessionHandle,
        /// The new largest plain packet.
        packet_len: usize,
    },
    /// The far end opened a flow to this end (3.6.3.1 step 9).
    FlowOpened {
        /// The session.
        session: SessionHandle,
        /// The new receiving flow.
        flow: RecvFlowId,
        /// Its wire flow ID (the far end's choice; never a meaning of its own, 3.6.1.1).
        flow_id: u64,
        /// The User's Per-Flow Metadata.
        metadata: Vec<u8>,
        /// The local sending flow it answers (Return Flow Association), if any.
        association: Option<SendFlowId>,
    },
    /// A complete message (3.6.3.3). Its bytes count against the flow's
    /// receive window until this event is polled.
    Message {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: RecvFlowId,
        /// The sequence number of its first fragment.
        sequence_number: u64,
        /// The message.
        data: Vec<u8>,
    },
    /// Sequence numbers `first..=last` of a receiving flow will never be
    /// delivered: the sender abandoned them (3.6.1.2 gap indication).
    MessagesLost {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: RecvFlowId,
        /// First lost sequence number.
        first: u64,
        /// Last lost sequence number.
        last: u64,
    },
    /// Every message of a receiving flow was delivered and the sender closed it (3.6.3.3).
    RecvFlowComplete {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: RecvFlowId,
    },
    /// This end rejected a receiving flow the application already knew of (3.6.3.2 step 4).
    RecvFlowRejected {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: RecvFlowId,
        /// Why.
        reason: RejectReason,
    },
    /// The far end rejected a sending flow with this exception code (3.6.2.10).
    FlowException {
        /// The session.
        session: SessionHandle,
        /// The sending flow (now closing).
        flow: SendFlowId,
        /// The far end's exception code.
        code: u64,
    },
    /// Every fragment of a message was acknowledged (3.6.2.4).
    MessageDelivered {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: SendFlowId,
        /// The message.
        message: MessageId,
    },
    /// A message was abandoned (lifetime, application, exception or session
    /// close, 3.6.2.7); the receiver may or may not have it.
    MessageAbandoned {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: SendFlowId,
        /// The message.
        message: MessageId,
    },
    /// A closing sending flow had all its sequence numbers acknowledged (3.6.2.11).
    SendFlowComplete {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: SendFlowId,
    },
    /// A sending flow whose send buffer was full has room again.
    SendFlowWritable {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: SendFlowId,
    },
    /// The session left S_OPEN with this sending flow open or closing (3.5.5).
    SendFlowAborted {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: SendFlowId,
    },
    /// The session left S_OPEN with this receiving flow unfinished (3.5.5).
    RecvFlowAborted {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: RecvFlowId,
    },
}

impl Event {
    /// A flow event of `session`'s FlowSet as an endpoint event.
    pub fn from_flow(session: SessionHandle, e: FlowEvent) -> Event {
        match e {
            FlowEvent::RecvFlowOpened {
                flow,
                flow_id,
                metadata,
                association,
            } => Event::FlowOpened {
                session,
                flow,
                flow_id,
                metadata,
                association,
            },
            FlowEvent::Message {
                flow,
                sequence_number,
                data,
            } => Event::Message {
                session,
                flow,
                sequence_number,
                data,
            },
            FlowEvent::MessagesLost { flow, first, last } => Event::MessagesLost {
                session,
                flow,
                first,
                last,
            },
            FlowEvent::RecvFlowComplete { flow } => Event::RecvFlowComplete { session, flow },
            FlowEvent::RecvFlowRejected { flow, reason } => Event::RecvFlowRejected {
                session,
                flow,
                reason,
            },
            FlowEvent::MessageDelivered { flow, message } => Event::MessageDelivered {
                session,
                flow,
                message,
            },
            FlowEvent::MessageAbandoned { flow, message } => Event::MessageAbandoned {
                session,
                flow,
                message,
            },
            FlowEvent::FlowException { flow, code } => Event::FlowException {
                session,
                flow,
                code,
            },
            FlowEvent::SendFlowComplete { flow } => Event::SendFlowComplete { session, flow },
            FlowEvent::SendFlowWritable { flow } => Event::SendFlowWritable { session, flow },
            FlowEvent::SendFlowAborted { flow } => Event::SendFlowAborted { session, flow },
            FlowEvent::RecvFlowAborted { flow } => Event::RecvFlowAborted { session, flow },
        }
    }

    /// The session the event is about.
    pub fn session(&self) -> SessionHandle {
        match self {
            Event::SessionOpened { session }
            | Event::IncomingSession { session }
            | Event::SessionOpenFailed { session, .. }
            | Event::SessionClosed { session, .. }
            | Event::AddressChanged { session, .. }
            | Event::PacketSizeRaised { session, .. }
            | Event::FlowOpened { session, .. }
            | Event::Message { session, .. }
            | Event::MessagesLost { session, .. }
            | Event::RecvFlowComplete { session, .. }
            | Event::RecvFlowRejected { session, .. }
            | Event::FlowException { session, .. }
            | Event::MessageDelivered { session, .. }
            | Event::MessageAbandoned { session, .. }
            | Event::SendFlowComplete { session, .. }
            | Event::SendFlowWritable { session, .. }
            | Event::SendFlowAborted { session, .. }
            | Event::RecvFlowAborted { session, .. } => *session,
        }
    }
}

/// How to close a session (RFC 7016 3.5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// Reliable and orderly: S_NEARCLOSE, Close Requests until acknowledged.
    Orderly,
    /// Immediate: a Close Ack, then S_CLOSED.
    Abrupt,
}

/// A refused application request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No such session (or it was forgotten).
    #[error("no session {0}")]
    UnknownSession(SessionHandle),
    /// The session is not in a state that allows this.
    #[error("session {session} is {state}, which does not allow this")]
    WrongState {
        /// The session.
        session: SessionHandle,
        /// Its state's RFC name.
        state: &'static str,
    },
    /// The endpoint holds as many sessions as configured.
    #[error("session limit of {0} reached")]
    TooManySessions(usize),
    /// The Endpoint Discriminator is too long for an IHello.
    #[error("endpoint discriminator of {0} bytes is too long (at most {max})", max = MAX_EPD_LEN)]
    EndpointDiscriminatorTooLong(usize),
    /// The session's flow layer refused the request (unknown flow, wrong
    /// flow state, buffer full, limits).
    #[error(transparent)]
    Flow(#[from] crate::flow::ApiError),
}

/// The longest Endpoint Discriminator `connect` takes.
pub const MAX_EPD_LEN: usize = 4096;
