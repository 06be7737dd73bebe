//! Sessions, RFC 7016 section 3.5: one session's state machine, role, IDs, keys and DESTADDR.
//!
//! A [`Session`] is owned by its [`crate::endpoint::Endpoint`], which
//! demultiplexes packets to it and asks it for packets to send. The handshake
//! that creates sessions spans several of them (glare, duplicates, override)
//! and lives in [`startup`]; the rest of section 3.5 is one module per concept:
//! [`cookie`] (3.5.1.1.2), [`fragmentation`] (3.4), [`timing`] (3.5.2.2),
//! [`keepalive`] (3.5.4.1), [`mobility`] (3.5.3, 3.5.4.2), [`mtu`] (3.5.4.3)
//! and [`close`] (3.5.5).
//!
//! An S_OPEN session owns a [`FlowSet`] (section 3.6): the flow chunks of
//! its verified packets go there between `begin_packet` and `end_packet`,
//! every packet it sends is filled by `FlowSet::write` after the session's
//! own chunks, the flow timers are part of its deadline, and leaving S_OPEN
//! aborts every flow (3.5.5). The FlowSet's events become endpoint
//! [`Event`]s carrying the session's handle.

pub mod close;
pub mod cookie;
pub mod fragmentation;
pub mod keepalive;
pub mod mobility;
pub mod mtu;
pub mod startup;
pub mod timing;

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;

use crate::crypto::SessionKeys;
use crate::endpoint::Core;
use crate::endpoint::config::FIHelloPolicy;
use crate::endpoint::event::{CloseReason, Event, OpenFailure};
use crate::endpoint::stats::{DropReason, SessionStats};
use crate::flow::{FlowSet, FlowStats};
use crate::time::Instant;
use crate::wire::chunk::next_user_data::FlowPosition;
use crate::wire::chunk::{FIHello, Padding, PaddingType, Ping, PingReply};
use crate::wire::packet::{Header, MAX_HEADER_LEN, Mode, Packet};
use crate::wire::{Address, AddressOrigin, Chunk};

use keepalive::{Keepalive, KeepaliveTimeout};
use mobility::Mobility;
use mtu::Mtu;
use startup::Opening;
use timing::Timing;

/// An application's name for a session: opaque and never reused by an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionHandle(pub(crate) u64);

impl SessionHandle {
    /// The number behind the handle (for logs and traces).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl core::fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// The session states of RFC 7016 3.5 (Figure 8), named exactly as the RFC names them.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionState {
    /// Initiator: IHellos going out to the candidate addresses.
    S_IHELLO_SENT,
    /// Initiator: IIKeying going out to DESTADDR.
    S_KEYING_SENT,
    /// Open.
    S_OPEN,
    /// Closing in order: Close Requests going out.
    S_NEARCLOSE,
    /// The far end closed; lingering to answer its repeated Close Requests.
    S_FARCLOSE_LINGER,
    /// Over.
    S_CLOSED,
    /// Opening failed.
    S_OPEN_FAILED,
}

impl SessionState {
    /// Every state, in the order of RFC 7016 3.5.
    pub const ALL: [SessionState; 7] = [
        SessionState::S_IHELLO_SENT,
        SessionState::S_KEYING_SENT,
        SessionState::S_OPEN,
        SessionState::S_NEARCLOSE,
        SessionState::S_FARCLOSE_LINGER,
        SessionState::S_CLOSED,
        SessionState::S_OPEN_FAILED,
    ];

    /// The RFC's name, e.g. `"S_OPEN"`.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::S_IHELLO_SENT => "S_IHELLO_SENT",
            SessionState::S_KEYING_SENT => "S_KEYING_SENT",
            SessionState::S_OPEN => "S_OPEN",
            SessionState::S_NEARCLOSE => "S_NEARCLOSE",
            SessionState::S_FARCLOSE_LINGER => "S_FARCLOSE_LINGER",
            SessionState::S_CLOSED => "S_CLOSED",
            SessionState::S_OPEN_FAILED => "S_OPEN_FAILED",
        }
    }

    /// S_IHELLO_SENT or S_KEYING_SENT.
    pub fn is_opening(self) -> bool {
        matches!(
            self,
            SessionState::S_IHELLO_SENT | SessionState::S_KEYING_SENT
        )
    }

    /// S_CLOSED or S_OPEN_FAILED.
    pub fn is_closed(self) -> bool {
        matches!(self, SessionState::S_CLOSED | SessionState::S_OPEN_FAILED)
    }
}

impl core::fmt::Display for SessionState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which end of the session this is (RFC 7016 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sent the IIKeying; marks its packets with mode 1.
    Initiator,
    /// Sent the RIKeying; marks its packets with mode 2.
    Responder,
}

impl Role {
    /// The packet mode this end sends with (RFC 7016 2.2.4).
    pub fn mode(self) -> Mode {
        match self {
            Role::Initiator => Mode::Initiator,
            Role::Responder => Mode::Responder,
        }
    }

    /// `"initiator"` or `"responder"`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Initiator => "initiator",
            Role::Responder => "responder",
        }
    }
}

/// A snapshot of one session for the application, a driver or a simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The handle.
    pub handle: SessionHandle,
    /// The state.
    pub state: SessionState,
    /// This end's role.
    pub role: Role,
    /// When the session was created.
    pub created: Instant,
    /// DESTADDR, once known.
    pub far_address: Option<SocketAddr>,
    /// The candidate addresses of an opening session.
    pub candidates: Vec<SocketAddr>,
    /// The Endpoint Discriminator the initiator asked for.
    pub endpoint_discriminator: Option<Vec<u8>>,
    /// The far end's certificate, once known.
    pub far_certificate: Option<Vec<u8>>,
    /// The far certificate's Canonical Endpoint Discriminator.
    pub far_canonical_epd: Option<Vec<u8>>,
    /// The near nonce (RFC 7425 4.6.5), once open.
    pub near_nonce: Option<Vec<u8>>,
    /// The far nonce, once open.
    pub far_nonce: Option<Vec<u8>>,
    /// The profile's key-log line, once open, for writing a key-log file.
    pub key_log: Option<String>,
    /// The session ID the far end sends with (0 until chosen).
    pub receive_session_id: u32,
    /// The session ID this end sends with (0 until known).
    pub send_session_id: u32,
    /// The effective retransmission timeout.
    pub erto: Duration,
    /// The measured retransmission timeout.
    pub mrto: Duration,
    /// The smoothed round-trip time, once measured.
    pub srtt: Option<Duration>,
    /// The round-trip time variance.
    pub rttvar: Duration,
    /// The largest plain packet this session sends.
    pub packet_len: usize,
    /// The congestion window (3.5.2), while S_OPEN.
    pub congestion_window: Option<u64>,
    /// S_OUTSTANDING_BYTES, the user data in flight (3.5.2), while S_OPEN.
    pub outstanding_bytes: Option<u64>,
    /// The flow layer's counters, while S_OPEN.
    pub flow_stats: Option<FlowStats>,
    /// Statistics.
    pub stats: SessionStats,
}

/// What a responder keeps to recognise a retransmitted IIKeying (RFC 7016 3.5.1.1.2 step 2.1).
pub(crate) struct Answered {
    /// The Session Key Initiator Component of the IIKeying answered.
    pub(crate) skic: Vec<u8>,
    /// The RIKeying packet sent (plain, mode 3), to send again.
    pub(crate) rikeying_packet: Vec<u8>,
}

/// Timers of the closing states (RFC 7016 3.5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closing {
    pub(crate) since: Instant,
    pub(crate) next_close: Option<Instant>,
}

/// One session (RFC 7016 3.5).
pub struct Session {
    pub(crate) handle: SessionHandle,
    pub(crate) role: Role,
    pub(crate) state: SessionState,
    pub(crate) created: Instant,
    pub(crate) receive_id: u32,
    pub(crate) send_id: u32,
    pub(crate) destaddr: Option<SocketAddr>,
    pub(crate) epd: Option<Vec<u8>>,
    pub(crate) far_certificate: Option<Vec<u8>>,
    pub(crate) far_canonical_epd: Option<Vec<u8>>,
    pub(crate) opening: Option<Opening>,
    pub(crate) keys: Option<SessionKeys>,
    pub(crate) answered: Option<Answered>,
    pub(crate) timing: Timing,
    pub(crate) keepalive: Keepalive,
    pub(crate) mobility: Mobility,
    pub(crate) mtu: Mtu,
    pub(crate) closing: Option<Closing>,
    pub(crate) ping_replies: VecDeque<Vec<u8>>,
    pub(crate) fihellos: VecDeque<FIHello>,
    pub(crate) close_due: bool,
    pub(crate) close_ack_due: bool,
    pub(crate) registered: Vec<SocketAddr>,
    pub(crate) fihello_policy: Option<FIHelloPolicy>,
    /// When the far end last set TCR (RFC 7016 3.5.2.1: for the congestion controller).
    pub(crate) far_tcr_at: Option<Instant>,
    /// The flows, while S_OPEN (3.5.5: flows only exist in S_OPEN sessions).
    pub(crate) flows: Option<FlowSet>,
    /// The latest time a TC packet went out on any session of the endpoint
    /// that this session's congestion controller has been told of (Appendix A.2).
    pub(crate) tc_anywhere_told: Option<Instant>,
    pub(crate) stats: SessionStats,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("handle", &self.handle)
            .field("role", &self.role)
            .field("state", &self.state)
            .field("receive_id", &self.receive_id)
            .field("send_id", &self.send_id)
            .field("destaddr", &self.destaddr)
            .finish_non_exhaustive()
    }
}

/// FIHellos waiting to be forwarded over one session.
const MAX_PENDING_FIHELLOS: usize = 8;

impl Session {
    pub(crate) fn new(
        core: &mut Core,
        handle: SessionHandle,
        role: Role,
        state: SessionState,
        now: Instant,
    ) -> Self {
        Session {
            handle,
            role,
            state,
            created: now,
            receive_id: 0,
            send_id: 0,
            destaddr: None,
            epd: None,
            far_certificate: None,
            far_canonical_epd: None,
            opening: None,
            keys: None,
            answered: None,
            timing: Timing::new(core.config.rto),
            keepalive: Keepalive::new(now),
            mobility: Mobility::new(&mut *core.rng),
            mtu: Mtu::new(now, &core.config.mtu),
            closing: None,
            ping_replies: VecDeque::new(),
            fihellos: VecDeque::new(),
            close_due: false,
            close_ack_due: false,
            registered: Vec::new(),
            fihello_policy: None,
            far_tcr_at: None,
            flows: None,
            tc_anywhere_told: None,
            stats: SessionStats::default(),
        }
    }

    /// The handle.
    pub fn handle(&self) -> SessionHandle {
        self.handle
    }

    /// The state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Counts a drop in this session's and the endpoint's statistics.
    pub(crate) fn drop(&mut self, core: &mut Core, reason: DropReason) {
        self.stats.drops.count(reason);
        core.stats.drops.count(reason);
    }

    /// Moves to `state`; a closed state queues the session for removal from the ID table.
    pub(crate) fn enter(&mut self, core: &mut Core, state: SessionState) {
        self.state = state;
        if state.is_closed() {
            core.to_reap.push(self.handle);
        }
    }

    /// Enters S_OPEN with negotiated keys (RFC 7016 3.5.1.1.1, 3.5.1.1.2):
    /// timestamps start afresh (3.5.2.2), as do keepalive and MTU probing,
    /// and the session gets its (empty) set of flows with a new congestion
    /// controller (3.5.2, 3.6).
    pub(crate) fn open(&mut self, core: &mut Core, now: Instant, keys: SessionKeys, send_id: u32) {
        self.keys = Some(keys);
        self.send_id = send_id;
        self.opening = None;
        self.timing = Timing::new(core.config.rto);
        self.keepalive = Keepalive::new(now);
        self.mtu = Mtu::new(now, &core.config.mtu);
        let mut flow_config = core.config.flow.clone();
        flow_config.max_packet_size = self.mtu.packet_len();
        self.flows = Some(FlowSet::new(flow_config, core.config.congestion.make()));
        self.tc_anywhere_told = None;
        self.enter(core, SessionState::S_OPEN);
    }

    /// Hands the FlowSet's pending events to the application, as endpoint events.
    pub(crate) fn drain_flow_events(&mut self, core: &mut Core) {
        if let Some(f) = self.flows.as_mut() {
            while let Some(e) = f.take_event() {
                core.emit(Event::from_flow(self.handle, e));
            }
        }
    }

    /// Tells this session's congestion controller about the latest TC packet
    /// sent on any session of the endpoint (FASTGROW_ALLOWED, Appendix A.2).
    fn sync_time_critical(&mut self, core: &Core) {
        if let (Some(at), Some(f)) = (core.tc_sent_at, self.flows.as_mut())
            && self.tc_anywhere_told.is_none_or(|t| t < at)
        {
            f.congestion_mut().on_time_critical_sent(at, false);
            self.tc_anywhere_told = Some(at);
        }
    }

    /// Flow layer: before the chunks of a verified packet of this S_OPEN
    /// session, with its TCR flag (3.5.2.1, Appendix A.2).
    pub(crate) fn begin_flow_packet(&mut self, core: &Core, now: Instant, tcr: bool) {
        self.sync_time_critical(core);
        if let Some(f) = self.flows.as_mut() {
            f.begin_packet(now, tcr);
        }
    }

    /// Flow layer: after all chunks of the packet (acknowledgements, loss,
    /// congestion window; 3.6.2.5, Appendix A.2).
    pub(crate) fn end_flow_packet(&mut self, core: &mut Core, now: Instant) {
        if let Some(f) = self.flows.as_mut() {
            f.end_packet(now, &self.timing.rto);
        }
        self.drain_flow_events(core);
    }

    /// Leaves S_OPEN for a closing or closed state: all flows end (RFC 7016
    /// 3.5.5: flows only exist in S_OPEN sessions), pending session chunks are
    /// dropped, and the application hears why.
    pub(crate) fn leave_open(
        &mut self,
        core: &mut Core,
        now: Instant,
        next: SessionState,
        reason: CloseReason,
    ) {
        if self.state != SessionState::S_OPEN {
            return;
        }
        // 3.5.5: every open or closing flow ends now; the application hears
        // of each (aborted flows, abandoned messages) before SessionClosed.
        self.drain_flow_events(core);
        if let Some(mut f) = self.flows.take() {
            f.abort_all();
            while let Some(e) = f.take_event() {
                core.emit(Event::from_flow(self.handle, e));
            }
        }
        self.ping_replies.clear();
        self.fihellos.clear();
        let _ = self.mobility.take_pending();
        self.closing = Some(Closing {
            since: now,
            next_close: None,
        });
        self.enter(core, next);
        core.emit(Event::SessionClosed {
            session: self.handle,
            reason,
        });
    }

    /// Ends an opening session (RFC 7016 3.5.1): S_OPEN_FAILED for a timeout
    /// or cancellation, S_CLOSED when another session replaces it (AMB-7016-02).
    pub(crate) fn fail(&mut self, core: &mut Core, reason: OpenFailure) {
        let state = match reason {
            OpenFailure::Timeout | OpenFailure::Cancelled => SessionState::S_OPEN_FAILED,
            OpenFailure::Duplicate { .. } | OpenFailure::GlareLost { .. } => SessionState::S_CLOSED,
        };
        self.enter(core, state);
        core.stats.sessions_failed += 1;
        core.emit(Event::SessionOpenFailed {
            session: self.handle,
            reason,
        });
    }

    /// A snapshot for the application.
    pub(crate) fn info(&self) -> SessionInfo {
        SessionInfo {
            handle: self.handle,
            state: self.state,
            role: self.role,
            created: self.created,
            far_address: self.destaddr,
            candidates: self
                .opening
                .as_ref()
                .map(|o| o.candidates.iter().map(|c| c.addr).collect())
                .unwrap_or_default(),
            endpoint_discriminator: self.epd.clone(),
            far_certificate: self.far_certificate.clone(),
            far_canonical_epd: self.far_canonical_epd.clone(),
            near_nonce: self.keys.as_ref().map(|k| k.near_nonce.clone()),
            far_nonce: self.keys.as_ref().map(|k| k.far_nonce.clone()),
            key_log: self.keys.as_ref().and_then(|k| k.key_log.clone()),
            receive_session_id: self.receive_id,
            send_session_id: self.send_id,
            erto: self.timing.rto.erto(),
            mrto: self.timing.rto.mrto(),
            srtt: self.timing.rto.srtt(),
            rttvar: self.timing.rto.rttvar(),
            packet_len: self.mtu.packet_len(),
            congestion_window: self.flows.as_ref().map(|f| f.congestion().window()),
            outstanding_bytes: self.flows.as_ref().map(FlowSet::outstanding_bytes),
            flow_stats: self.flows.as_ref().map(|f| f.stats().clone()),
            stats: self.stats.clone(),
        }
    }

    /// Whether a packet is waiting to be built at `now`: session chunks, or
    /// what the flows want to send (acknowledgements, probes, user data the
    /// windows allow).
    pub(crate) fn has_output(&self, now: Instant) -> bool {
        self.has_session_output() || self.flows.as_ref().is_some_and(|f| f.wants_to_send(now))
    }

    /// Whether a session chunk (not a flow chunk) is waiting to be sent.
    pub(crate) fn has_session_output(&self) -> bool {
        match self.state {
            SessionState::S_OPEN => {
                !self.ping_replies.is_empty()
                    || !self.fihellos.is_empty()
                    || self.keepalive.is_due()
                    || self.mobility.has_pending()
                    || self.mtu.has_probe_due()
            }
            SessionState::S_NEARCLOSE => self.close_due || self.close_ack_due,
            SessionState::S_FARCLOSE_LINGER | SessionState::S_CLOSED => self.close_ack_due,
            _ => false,
        }
    }

    /// The next time [`on_timeout`](Self::on_timeout) has work, the flow timers included.
    pub(crate) fn deadline(&self, core: &Core) -> Option<Instant> {
        let cfg = &core.config;
        match self.state {
            SessionState::S_IHELLO_SENT | SessionState::S_KEYING_SENT => {
                let open_timeout = self.created + cfg.open_timeout;
                let rtx = self.opening.as_ref().and_then(|o| o.next_retransmission());
                Some(rtx.map_or(open_timeout, |r| r.min(open_timeout)))
            }
            SessionState::S_OPEN => [
                self.keepalive.deadline(&cfg.keepalive),
                self.mtu.deadline(),
                self.flows.as_ref().and_then(FlowSet::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min(),
            SessionState::S_NEARCLOSE | SessionState::S_FARCLOSE_LINGER => self
                .closing
                .map(|c| close::deadline(self.state, &c, &cfg.close)),
            SessionState::S_CLOSED | SessionState::S_OPEN_FAILED => None,
        }
    }

    /// Runs whatever timers are due at `now`.
    pub(crate) fn on_timeout(&mut self, core: &mut Core, now: Instant) {
        match self.state {
            SessionState::S_IHELLO_SENT | SessionState::S_KEYING_SENT => {
                self.opening_timeout(core, now);
            }
            SessionState::S_OPEN => {
                match self
                    .keepalive
                    .on_timeout(now, &core.config.keepalive, &mut self.timing.rto)
                {
                    KeepaliveTimeout::Dead => {
                        self.leave_open(core, now, SessionState::S_CLOSED, CloseReason::PeerDead);
                        return;
                    }
                    KeepaliveTimeout::Ping | KeepaliveTimeout::Nothing => {}
                }
                self.mtu.on_timeout(now, self.timing.rto.erto());
                if let Some(f) = self.flows.as_mut() {
                    f.handle_timeout(now, &mut self.timing.rto);
                }
                self.drain_flow_events(core);
            }
            SessionState::S_NEARCLOSE | SessionState::S_FARCLOSE_LINGER => {
                self.closing_timeout(core, now);
            }
            SessionState::S_CLOSED | SessionState::S_OPEN_FAILED => {}
        }
    }

    /// One chunk of a verified packet of this session (not a Packet Fragment,
    /// not a startup chunk: the endpoint deals with those).
    pub(crate) fn on_chunk(
        &mut self,
        core: &mut Core,
        now: Instant,
        from: SocketAddr,
        chunk: Chunk,
        position: Option<FlowPosition>,
    ) {
        let open = self.state == SessionState::S_OPEN;
        match chunk {
            Chunk::Ping(p) => {
                self.stats.pings_received += 1;
                if !open {
                    // AMB-7016-24: Pings are answered only in S_OPEN.
                    return self.drop(core, DropReason::PingNotOpen);
                }
                if self.ping_replies.len() >= core.config.max_pending_ping_replies {
                    return self.drop(core, DropReason::PingReplyDropped);
                }
                // 3.5.4: the reply copies the message unaltered, uninterpreted.
                self.ping_replies.push_back(p.message);
            }
            Chunk::PingReply(r) => {
                self.stats.ping_replies_received += 1;
                if !open {
                    return self.drop(core, DropReason::UnexpectedPingReply);
                }
                self.on_ping_reply(core, now, from, &r.message_echo);
            }
            Chunk::Close(_) => self.on_close_request(core, now),
            Chunk::CloseAck(_) => self.on_close_ack(core, now),
            Chunk::FIHello(f) => {
                if !open {
                    return self.drop(core, DropReason::FIHelloIgnored);
                }
                let policy = self.fihello_policy.unwrap_or(core.config.fihello_policy);
                core.on_fihello(now, policy, f);
            }
            Chunk::UserData(_)
            | Chunk::NextUserData(_)
            | Chunk::BitmapAck(_)
            | Chunk::RangeAck(_)
            | Chunk::BufferProbe(_)
            | Chunk::FlowExceptionReport(_) => {
                if !open {
                    // 3.5.5: flows exist only in S_OPEN sessions.
                    return self.drop(core, DropReason::FlowChunkNotOpen);
                }
                self.on_flow_chunk(core, now, chunk, position);
            }
            Chunk::Padding(_) => {}
            Chunk::Unknown(_) => self.drop(core, DropReason::UnknownChunk),
            // Startup chunks never reach here (mode 3 packets are refused
            // under session keys), nor do fragments.
            Chunk::PacketFragment(_)
            | Chunk::IHello(_)
            | Chunk::RHello(_)
            | Chunk::Redirect(_)
            | Chunk::RHelloCookieChange(_)
            | Chunk::IIKeying(_)
            | Chunk::RIKeying(_) => self.drop(core, DropReason::ChunkWrongSession),
        }
    }

    /// THE place where flow chunks enter the session (RFC 7016 3.6): User
    /// Data and Next User Data (with the flow position the packet's resolver
    /// gave it, 2.3.12), Bitmap and Range Acks, Buffer Probes and Flow
    /// Exception Reports of an S_OPEN session go to its FlowSet. Their events
    /// reach the application at the end of the packet.
    fn on_flow_chunk(
        &mut self,
        core: &mut Core,
        now: Instant,
        chunk: Chunk,
        position: Option<FlowPosition>,
    ) {
        self.stats.flow_chunks_received += 1;
        let Some(f) = self.flows.as_mut() else {
            return self.drop(core, DropReason::FlowChunkNotOpen);
        };
        if f.handle_chunk(now, chunk, position).is_err() {
            // Not a flow chunk after all (on_chunk routes only flow chunks here).
            self.drop(core, DropReason::ChunkWrongSession);
        }
    }

    /// A Ping Reply in S_OPEN: liveness (3.5.4.1), mobility (3.5.4.2) or an MTU probe (3.5.4.3).
    fn on_ping_reply(&mut self, core: &mut Core, now: Instant, from: SocketAddr, message: &[u8]) {
        self.keepalive.on_ping_reply();
        if Mobility::is_mobility_message(message) {
            if self
                .mobility
                .on_ping_reply(now, message, from, &core.config.mobility)
                && let Some(old) = self.destaddr
                && old != from
            {
                self.destaddr = Some(from);
                core.emit(Event::AddressChanged {
                    session: self.handle,
                    from: old,
                    to: from,
                });
            }
        } else if Mtu::is_probe_message(message) {
            if let Some(packet_len) = self.mtu.on_ping_reply(now, message) {
                if let Some(f) = self.flows.as_mut() {
                    f.set_max_packet_size(packet_len);
                }
                core.emit(Event::PacketSizeRaised {
                    session: self.handle,
                    packet_len,
                });
            }
        } else if !message.is_empty() {
            // This end only sends empty, mobility and probe Pings.
            self.drop(core, DropReason::UnexpectedPingReply);
        }
    }

    /// After all chunks of a packet (3.5.4.2): a packet from elsewhere than
    /// DESTADDR starts a mobility check if the session is still S_OPEN.
    pub(crate) fn after_packet(&mut self, core: &mut Core, now: Instant, from: SocketAddr) {
        if self.state != SessionState::S_OPEN {
            return;
        }
        if let Some(dest) = self.destaddr {
            self.mobility
                .on_packet(now, from, dest, &core.config.mobility);
        }
    }

    /// Whether the far end set TCR within `window` (RFC 7016 3.5.2.1: 800 ms),
    /// for the congestion controller.
    pub fn far_time_critical_within(&self, now: Instant, window: Duration) -> bool {
        self.far_tcr_at
            .is_some_and(|t| now.saturating_duration_since(t) < window)
    }

    /// Queues an FIHello to forward over this session (RFC 7016 3.5.1.5).
    pub(crate) fn forward_fihello(&mut self, f: FIHello) -> bool {
        if self.state != SessionState::S_OPEN || self.fihellos.len() >= MAX_PENDING_FIHELLOS {
            return false;
        }
        self.fihellos.push_back(f);
        true
    }

    fn header(&mut self, core: &Core, now: Instant) -> Header {
        let mut h = Header::new(self.role.mode());
        if self.state == SessionState::S_OPEN {
            let (ts, tse) = self.timing.stamp(now);
            h.timestamp = ts;
            h.timestamp_echo = tse;
            h.time_critical_reverse =
                core.tc
                    .others_within(self.handle, now, core.config.time_critical_window);
        }
        h
    }

    /// Builds the next plain packet this session wants to send: destination
    /// and bytes. The endpoint encrypts it.
    pub(crate) fn poll_packet(
        &mut self,
        core: &mut Core,
        now: Instant,
    ) -> Option<(SocketAddr, Vec<u8>)> {
        if !self.has_output(now) {
            return None;
        }
        let dest = self.destaddr?;
        let budget = self.mtu.packet_len();
        let mut packet;
        let mut to = dest;
        match self.state {
            SessionState::S_OPEN => {
                if let Some((addr, message)) = self.mobility.take_pending() {
                    // 3.5.4.2: the check goes to the new address, not DESTADDR.
                    packet = Packet::new(self.header(core, now));
                    packet.chunks.push(Chunk::Ping(Ping { message }));
                    to = addr;
                    self.stats.mobility_checks_sent += 1;
                } else if let Some((size, message)) = self.mtu.take_probe() {
                    packet = Packet::new(self.header(core, now));
                    // 3.5.4.3: padding first, the Ping last.
                    let ping = Chunk::Ping(Ping { message });
                    let fill = size
                        .saturating_sub(packet.encoded_len() + ping.encoded_len())
                        .saturating_sub(crate::wire::chunk::HEADER_LEN);
                    packet.chunks.push(Chunk::Padding(Padding {
                        chunk_type: PaddingType::Zero,
                        payload: vec![0; fill],
                    }));
                    packet.chunks.push(ping);
                    self.stats.mtu_probes_sent += 1;
                } else {
                    // Session chunks first, then the flows fill the rest
                    // (3.6.2.3); the header is made last, once the packet is
                    // known not to be empty, so that no timestamp echo is
                    // spent on a packet never sent (3.5.2.2).
                    let room = budget.saturating_sub(MAX_HEADER_LEN);
                    let mut chunks = Vec::new();
                    let mut used = 0;
                    while let Some(message) = self.ping_replies.front() {
                        let reply = Chunk::PingReply(PingReply {
                            message_echo: message.clone(),
                        });
                        if used + reply.encoded_len() > room {
                            if chunks.is_empty() {
                                // Too big for any packet of ours: unanswerable.
                                self.ping_replies.pop_front();
                                self.drop(core, DropReason::PingReplyDropped);
                                continue;
                            }
                            break;
                        }
                        self.ping_replies.pop_front();
                        used += reply.encoded_len();
                        chunks.push(reply);
                        self.stats.ping_replies_sent += 1;
                    }
                    while let Some(f) = self.fihellos.front() {
                        let c = Chunk::FIHello(f.clone());
                        if used + c.encoded_len() > room {
                            if chunks.is_empty() {
                                self.fihellos.pop_front();
                                continue;
                            }
                            break;
                        }
                        self.fihellos.pop_front();
                        used += c.encoded_len();
                        chunks.push(c);
                        core.stats.fihellos_sent += 1;
                    }
                    let ping = Chunk::Ping(Ping::default());
                    if self.keepalive.is_due() && used + ping.encoded_len() <= room {
                        // 3.5.4.1: a keepalive Ping has an empty message.
                        self.keepalive.take_due(now);
                        used += ping.encoded_len();
                        chunks.push(ping);
                        self.stats.keepalives_sent += 1;
                    }
                    // Acknowledgements, probes and user data (3.6.2.3,
                    // 3.6.3.4.5), within the congestion window.
                    self.sync_time_critical(core);
                    let mut time_critical = false;
                    if let Some(f) = self.flows.as_mut() {
                        let w = f.write(now, room - used, &self.timing.rto);
                        time_critical = w.time_critical;
                        self.stats.flow_chunks_sent += w.chunks.len() as u64;
                        chunks.extend(w.chunks);
                    }
                    self.drain_flow_events(core);
                    if chunks.is_empty() {
                        return None;
                    }
                    let mut header = self.header(core, now);
                    if time_critical {
                        // 2.2.4: real-time user data sets TC; the other
                        // sessions' controllers learn of it (Appendix A.2).
                        header.time_critical = true;
                        core.tc_sent_at = Some(now);
                        self.tc_anywhere_told = Some(now);
                    }
                    packet = Packet { header, chunks };
                }
            }
            SessionState::S_NEARCLOSE
            | SessionState::S_FARCLOSE_LINGER
            | SessionState::S_CLOSED => {
                packet = Packet::new(self.header(core, now));
                if core::mem::take(&mut self.close_due) {
                    packet.chunks.push(Chunk::Close(Default::default()));
                    self.stats.closes_sent += 1;
                }
                if core::mem::take(&mut self.close_ack_due) {
                    packet.chunks.push(Chunk::CloseAck(Default::default()));
                    self.stats.close_acks_sent += 1;
                }
                if self.state == SessionState::S_CLOSED {
                    // The final Close Ack of an abrupt close is out: nothing left to send.
                    core.to_reap.push(self.handle);
                }
            }
            _ => return None,
        }
        let mut plain = Vec::with_capacity(packet.encoded_len());
        if packet.encode(&mut plain).is_err() {
            self.drop(core, DropReason::SendFailed);
            return None;
        }
        self.stats.packets_sent += 1;
        Some((to, plain))
    }

    /// The near end's address changed: ping promptly so the far end notices (3.5.4.1).
    pub(crate) fn near_address_changed(&mut self, now: Instant) {
        if self.state == SessionState::S_OPEN {
            self.keepalive.ping_soon(now, self.timing.rto.erto());
        }
    }

    /// The wire address form of DESTADDR and the registered addresses, for a Redirect (3.5.1.6).
    pub(crate) fn introduction_addresses(&self) -> Vec<Address> {
        let mut out = Vec::new();
        if let Some(d) = self.destaddr {
            out.push(Address::new(d, AddressOrigin::Reflexive));
        }
        for a in &self.registered {
            if Some(*a) != self.destaddr {
                out.push(Address::new(*a, AddressOrigin::Local));
            }
        }
        out
    }
}
