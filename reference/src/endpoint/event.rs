//! What an endpoint tells its application (RFC 7016 3.5: session life cycle), as plain data.

use core::net::SocketAddr;

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
}

/// The longest Endpoint Discriminator `connect` takes.
pub const MAX_EPD_LEN: usize = 4096;
