//! The endpoint: one UDP socket's worth of RTMFP, RFC 7016 section 3.3.
//!
//! An [`Endpoint`] owns every session, the startup pseudo-session (session ID
//! 0), the reassembly buffers, statistics, configuration, the cryptography
//! profile and the random generator. It is sans-IO in the manner of
//! quinn-proto: the caller feeds it datagrams and time and takes datagrams,
//! events and its next deadline back.
//!
//! ```text
//! loop {
//!     endpoint.handle_datagram(now, from, &bytes);   // or handle_timeout(now) at poll_timeout()
//!     while let Some(e) = endpoint.poll_event() { ... }   // may call open_flow, send, ...
//!     while let Some(t) = endpoint.poll_transmit(now) { send(t.destination, &t.contents) }
//! }
//! ```
//!
//! Flows (3.6) live in the S_OPEN sessions; the application reaches them
//! through the methods of [`flows`] (`open_flow`, `send`, `close_flow`,
//! `reject_flow`, ...) and hears of them through flow [`Event`]s carrying the
//! session's handle. Anything the application does, and polling a
//! [`Event::Message`] (which may reopen a receive window), can make data
//! ready: call `poll_transmit` after it.
//!
//! Memory stays bounded when the application falls behind: received messages
//! count against their flow's receive window until polled (the sender is
//! held back, AMB-7016-42), and with [`EndpointConfig::max_pending_events`]
//! events waiting, arriving datagrams are dropped unprocessed.
//!
//! Receive path (3.3): the unscrambled session ID selects the session and key.
//! Session ID 0 is startup under the profile's Default Session Key; a session
//! in S_KEYING_SENT also takes Default-Key packets under its receive ID (the
//! RIKeying and Cookie Change, 2.2.3); every other session decrypts with its
//! own keys. Then the mode rules of 2.2.4, then chunk by chunk (2.3: a bad
//! chunk is ignored and counted, the rest processed).

pub mod config;
pub mod event;
pub mod flows;
pub mod stats;

use core::net::SocketAddr;
use std::collections::{BTreeMap, VecDeque};

use crate::crypto::{CryptoProfile, PacketCipher};
use crate::random::Random;
use crate::session::cookie::CookieFactory;
use crate::session::fragmentation::{
    FragmentRefusal, Queued, Reassembled, Reassembly, Source, StartupPacer, fragment,
};
use crate::session::startup::Opening;
use crate::session::{Role, Session, SessionState};
use crate::time::Instant;
use crate::wire::chunk::{self, Chunk, ChunkPayload, IIKeying, PacketFragment, RIKeying};
use crate::wire::packet::{Mode, PlainPacket};
use crate::wire::{Multiplex, WireErrorKind, multiplex};

pub use crate::session::{SessionHandle, SessionInfo};
pub use config::{EndpointConfig, FIHelloPolicy, IntroductionService};
pub use event::{ApiError, CloseKind, CloseReason, Event, OpenFailure};
pub use stats::{DropReason, Drops, EndpointStats, SessionStats};

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The UDP payload.
    pub contents: Vec<u8>,
}

/// How much state an endpoint holds (for tests and monitoring: floods must not grow it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Sessions not yet closed (opening, open, closing).
    pub sessions: usize,
    /// Closed sessions remembered for queries.
    pub closed_remembered: usize,
    /// Reassembly buffers in use.
    pub reassembly_buffers: usize,
    /// Bytes held in them.
    pub reassembly_bytes: usize,
    /// Startup datagrams waiting for the rate limit.
    pub queued_startup_datagrams: usize,
    /// Destinations the startup rate limit remembers.
    pub paced_destinations: usize,
}

/// Remembers the latest time-critical packets received, by session, to set
/// TCR on the others (RFC 7016 2.2.4, 3.5.2.1; AMB-7016-28).
#[derive(Debug, Clone, Default)]
pub(crate) struct TcTracker {
    // [0]: the latest; [1]: the latest from a session other than [0]'s.
    recent: [Option<(SessionHandle, Instant)>; 2],
}

impl TcTracker {
    fn note(&mut self, h: SessionHandle, now: Instant) {
        match self.recent[0] {
            Some((latest, _)) if latest == h => self.recent[0] = Some((h, now)),
            other => {
                self.recent[1] = other;
                self.recent[0] = Some((h, now));
            }
        }
    }

    /// Whether a session other than `h` got a TC packet within `window`.
    pub(crate) fn others_within(
        &self,
        h: SessionHandle,
        now: Instant,
        window: core::time::Duration,
    ) -> bool {
        self.recent
            .iter()
            .flatten()
            .any(|(s, t)| *s != h && now.saturating_duration_since(*t) < window)
    }
}

/// The endpoint-wide part that sessions work with.
pub(crate) struct Core {
    pub(crate) config: EndpointConfig,
    pub(crate) profile: Box<dyn CryptoProfile>,
    pub(crate) rng: Box<dyn Random + Send>,
    pub(crate) default_cipher: Box<dyn PacketCipher>,
    pub(crate) cookies: CookieFactory,
    pub(crate) pacer: StartupPacer,
    pub(crate) reassembly: Reassembly,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: EndpointStats,
    pub(crate) redirects: BTreeMap<Vec<u8>, Vec<SocketAddr>>,
    pub(crate) tc: TcTracker,
    /// When a TC packet last went out on any session (Appendix A.2 FASTGROW_ALLOWED).
    pub(crate) tc_sent_at: Option<Instant>,
    pub(crate) to_reap: Vec<SessionHandle>,
    next_packet_id: u64,
}

impl Core {
    pub(crate) fn emit(&mut self, e: Event) {
        self.events.push_back(e);
    }

    pub(crate) fn next_packet_id(&mut self) -> u64 {
        self.next_packet_id = self.next_packet_id.wrapping_add(1);
        self.next_packet_id
    }

    /// Sends a startup packet (mode 3, Default Session Key) to `to` under
    /// session ID `session_id`: whole if the datagram fits
    /// [`EndpointConfig::max_startup_datagram`], else as Packet Fragments
    /// (3.4), all through the startup rate limit. Returns whether every
    /// datagram was queued.
    pub(crate) fn send_startup(
        &mut self,
        _now: Instant,
        to: SocketAddr,
        session_id: u32,
        plain: &[u8],
        packet_id: Option<u64>,
    ) -> bool {
        let limit = self.default_cipher.max_plain_len(
            self.config
                .max_startup_datagram
                .saturating_sub(multiplex::SESSION_ID_LEN),
        );
        let packets = if plain.len() <= limit {
            vec![plain.to_vec()]
        } else {
            let id = packet_id.unwrap_or_else(|| self.next_packet_id());
            self.stats.packets_fragmented += 1;
            fragment(plain, Mode::Startup, id, limit)
        };
        let mut encrypted = Vec::new();
        let mut all = !packets.is_empty();
        for p in packets {
            if self.default_cipher.encrypt(&p, &mut encrypted).is_err() {
                self.stats.drops.count(DropReason::SendFailed);
                all = false;
                continue;
            }
            let mut contents = Vec::with_capacity(encrypted.len() + 4);
            multiplex::encode(session_id, &encrypted, &mut contents);
            if !self.pacer.push(Queued {
                destination: to,
                contents,
            }) {
                self.stats.drops.count(DropReason::StartupQueueFull);
                all = false;
            }
        }
        all
    }
}

/// The sessions, by handle, receive session ID and opening tag.
pub(crate) struct SessionTable {
    pub(crate) live: BTreeMap<SessionHandle, Session>,
    pub(crate) by_receive_id: BTreeMap<u32, SessionHandle>,
    pub(crate) by_tag: BTreeMap<Vec<u8>, SessionHandle>,
    closed: BTreeMap<SessionHandle, Session>,
    closed_order: VecDeque<SessionHandle>,
    next_handle: u64,
    cursor: Option<SessionHandle>,
}

impl SessionTable {
    /// A handle never used before.
    pub(crate) fn new_handle(&mut self) -> SessionHandle {
        self.next_handle += 1;
        SessionHandle(self.next_handle)
    }

    /// A random, non-zero receive session ID no live session uses (3.3, 3.5.1.1.1, 3.5.1.1.2).
    pub(crate) fn new_receive_id(&self, rng: &mut dyn Random) -> u32 {
        let mut b = [0u8; 4];
        for _ in 0..64 {
            rng.fill(&mut b);
            let id = u32::from_be_bytes(b);
            if id != 0 && !self.by_receive_id.contains_key(&id) {
                return id;
            }
        }
        // Practically unreachable: probe upward from a random start.
        let mut id = u32::from_be_bytes(b).max(1);
        while self.by_receive_id.contains_key(&id) {
            id = id.wrapping_add(1).max(1);
        }
        id
    }
}

/// One UDP socket's worth of RTMFP (RFC 7016 3.3).
pub struct Endpoint {
    pub(crate) core: Core,
    pub(crate) table: SessionTable,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("profile", &self.core.profile.name())
            .field("sessions", &self.table.live.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint with this configuration, identity (profile) and randomness.
    pub fn new(
        config: EndpointConfig,
        profile: Box<dyn CryptoProfile>,
        mut rng: Box<dyn Random + Send>,
    ) -> Self {
        let cookies = CookieFactory::new(&mut *rng, config.cookie_lifetime);
        let core = Core {
            pacer: StartupPacer::new(config.startup_rate),
            reassembly: Reassembly::new(config.reassembly),
            default_cipher: profile.default_cipher(),
            config,
            profile,
            rng,
            cookies,
            events: VecDeque::new(),
            stats: EndpointStats::default(),
            redirects: BTreeMap::new(),
            tc: TcTracker::default(),
            tc_sent_at: None,
            to_reap: Vec::new(),
            next_packet_id: 0,
        };
        Endpoint {
            core,
            table: SessionTable {
                live: BTreeMap::new(),
                by_receive_id: BTreeMap::new(),
                by_tag: BTreeMap::new(),
                closed: BTreeMap::new(),
                closed_order: VecDeque::new(),
                next_handle: 0,
                cursor: None,
            },
        }
    }

    /// An endpoint with the Flash profile (RFC 7425), the default profile:
    /// makes the identity (certificate, static keys if configured) from `rng`,
    /// which the endpoint then keeps.
    pub fn flash(
        config: EndpointConfig,
        flash: crate::crypto::flash::FlashConfig,
        mut rng: Box<dyn Random + Send>,
    ) -> Result<Self, crate::crypto::flash::ConfigError> {
        let profile = crate::crypto::flash::FlashProfile::new(flash, &mut *rng)?;
        Ok(Endpoint::new(config, Box::new(profile), rng))
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.core.config
    }

    /// The cryptography profile (the near identity).
    pub fn profile(&self) -> &dyn CryptoProfile {
        &*self.core.profile
    }

    /// Endpoint statistics.
    pub fn stats(&self) -> &EndpointStats {
        &self.core.stats
    }

    /// How much state the endpoint holds.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            sessions: self
                .table
                .live
                .values()
                .filter(|s| !s.state.is_closed())
                .count(),
            closed_remembered: self.table.closed.len(),
            reassembly_buffers: self.core.reassembly.buffers(),
            reassembly_bytes: self.core.reassembly.bytes(),
            queued_startup_datagrams: self.core.pacer.queued(),
            paced_destinations: self.core.pacer.tracked_destinations(),
        }
    }

    // ------------------------------------------------------------ I/O

    /// A datagram arrived from `from`.
    ///
    /// While the application leaves
    /// [`EndpointConfig::max_pending_events`] events unpolled, datagrams are
    /// dropped unprocessed (counted as [`DropReason::EventQueueFull`]): the
    /// event queue never grows without bound.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.core.stats.datagrams_received += 1;
        self.core.stats.bytes_received += data.len() as u64;
        if self.core.events.len() >= self.core.config.max_pending_events {
            return self.core.stats.drops.count(DropReason::EventQueueFull);
        }
        let Ok(m) = Multiplex::decode(data) else {
            return self.core.stats.drops.count(DropReason::TooShort);
        };
        let session_id = m.session_id();
        let mut plain = Vec::with_capacity(m.encrypted_packet.len());
        if session_id == 0 {
            // 2.2.2, 3.3: the startup pseudo-session and the Default Session Key.
            if let Err(e) = self
                .core
                .default_cipher
                .decrypt(m.encrypted_packet, &mut plain)
            {
                self.core.stats.drops.count(DropReason::Crypto(e.kind()));
            } else {
                self.on_startup_packet(now, from, &plain, None, false);
            }
        } else if let Some(&h) = self.table.by_receive_id.get(&session_id) {
            let core = &mut self.core;
            if let Some(s) = self.table.live.get_mut(&h) {
                if s.state == SessionState::S_KEYING_SENT {
                    // 2.2.3: RIKeying and Cookie Change come under the Default Session Key.
                    match core.default_cipher.decrypt(m.encrypted_packet, &mut plain) {
                        Err(e) => s.drop(core, DropReason::Crypto(e.kind())),
                        Ok(_) => self.on_startup_packet(now, from, &plain, Some(h), false),
                    }
                } else if let Some(keys) = s.keys.as_mut() {
                    match keys.cipher.decrypt(m.encrypted_packet, &mut plain) {
                        Err(e) => s.drop(core, DropReason::Crypto(e.kind())),
                        Ok(_) => self.on_session_packet(now, from, h, &plain, false),
                    }
                } else {
                    s.drop(core, DropReason::SessionState);
                }
            }
        } else {
            self.core.stats.drops.count(DropReason::UnknownSessionId);
        }
        self.reap();
    }

    /// Handles a Packet Fragment chunk; returns the reassembled packet, if complete.
    fn on_fragment(
        &mut self,
        now: Instant,
        source: Source,
        mode: Mode,
        f: &PacketFragment,
        reassembled: bool,
    ) -> Option<Vec<u8>> {
        if reassembled {
            self.count(source, DropReason::NestedFragment);
            return None;
        }
        let expired = self.core.reassembly.expire(now);
        for _ in 0..expired {
            self.core.stats.drops.count(DropReason::ReassemblyExpired);
        }
        let reason = match self.core.reassembly.add(now, source, mode, f) {
            Reassembled::Pending => return None,
            Reassembled::Complete(bytes, packet_mode) => {
                // 3.4: the reassembled packet's mode must match its fragments'.
                match PlainPacket::decode(&bytes) {
                    Ok(p) if p.header.mode == packet_mode => {
                        self.core.stats.packets_reassembled += 1;
                        return Some(bytes);
                    }
                    Ok(_) => DropReason::ReassembledModeMismatch,
                    Err(_) => DropReason::ReassembledMalformed,
                }
            }
            Reassembled::Refused(r) => match r {
                FragmentRefusal::Empty => DropReason::EmptyFragment,
                FragmentRefusal::ModeMismatch => DropReason::FragmentModeMismatch,
                FragmentRefusal::TooManyBuffers => DropReason::ReassemblyBuffersFull,
                FragmentRefusal::TooLarge => DropReason::ReassemblyTooLarge,
                FragmentRefusal::Inconsistent => DropReason::FragmentInconsistent,
                FragmentRefusal::Duplicate => DropReason::FragmentDuplicate,
            },
        };
        self.count(source, reason);
        None
    }

    fn count(&mut self, source: Source, reason: DropReason) {
        match source {
            Source::Session(h) => {
                if let Some(s) = self.table.live.get_mut(&h) {
                    s.drop(&mut self.core, reason);
                    return;
                }
                self.core.stats.drops.count(reason);
            }
            Source::Startup(_) => self.core.stats.drops.count(reason),
        }
    }

    fn decode_header<'a>(&mut self, source: Source, plain: &'a [u8]) -> Option<PlainPacket<'a>> {
        match PlainPacket::decode(plain) {
            Ok(p) => Some(p),
            Err(e) => {
                let reason = if e.field == "mode" && matches!(e.kind, WireErrorKind::Invalid(_)) {
                    // 2.2.4: mode 0 MUST be discarded.
                    DropReason::ModeZero
                } else {
                    DropReason::MalformedHeader
                };
                self.count(source, reason);
                None
            }
        }
    }

    /// A plain packet under the Default Session Key: session ID 0 (`keying`
    /// `None`) or an S_KEYING_SENT session's receive ID.
    fn on_startup_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        plain: &[u8],
        keying: Option<SessionHandle>,
        reassembled: bool,
    ) {
        let source = keying.map_or(Source::Startup(from), Source::Session);
        let Some(packet) = self.decode_header(source, plain) else {
            return;
        };
        let mode = packet.header.mode;
        for raw in packet.chunks() {
            if raw.chunk_type == chunk::PACKET_FRAGMENT {
                match PacketFragment::decode_at(raw.payload, raw.payload_offset()) {
                    Ok(f) => {
                        if let Some(whole) = self.on_fragment(now, source, mode, &f, reassembled) {
                            self.on_startup_packet(now, from, &whole, keying, true);
                        }
                    }
                    Err(e) => self.count(source, fragment_error(&e)),
                }
                continue;
            }
            if !chunk::allowed_in(raw.chunk_type, mode) {
                // 2.3: a chunk in a packet of the wrong mode is ignored.
                self.count(source, DropReason::ChunkWrongMode);
                continue;
            }
            match (keying, raw.chunk_type) {
                (None, chunk::IIKEYING) => {
                    match IIKeying::decode_signed(raw.payload, raw.payload_offset()) {
                        Ok((c, signed)) => self.on_iikeying(now, from, c, signed),
                        Err(_) => self.count(source, DropReason::MalformedChunk),
                    }
                    continue;
                }
                (Some(h), chunk::RIKEYING) => {
                    match RIKeying::decode_signed(raw.payload, raw.payload_offset()) {
                        Ok((c, portion)) => self.on_rikeying(now, h, c, portion),
                        Err(_) => self.count(source, DropReason::MalformedChunk),
                    }
                    continue;
                }
                _ => {}
            }
            let Ok(c) = raw.decode() else {
                self.count(source, DropReason::MalformedChunk);
                continue;
            };
            match (keying, c) {
                (None, Chunk::IHello(c)) => self.on_ihello(now, from, c),
                (None, Chunk::RHello(c)) => self.on_rhello(now, from, c),
                (None, Chunk::Redirect(c)) => self.on_redirect(now, from, c),
                (Some(h), Chunk::RHelloCookieChange(c)) => self.on_cookie_change(now, h, c),
                (_, Chunk::Padding(_)) => {}
                (_, Chunk::Unknown(_)) => self.count(source, DropReason::UnknownChunk),
                // AMB-7016-12: startup chunks under the wrong session ID, and
                // session chunks under the Default Session Key.
                _ => self.count(source, DropReason::ChunkWrongSession),
            }
        }
    }

    /// A plain packet under a session's own keys.
    fn on_session_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        h: SessionHandle,
        plain: &[u8],
        reassembled: bool,
    ) {
        let source = Source::Session(h);
        let Some(packet) = self.decode_header(source, plain) else {
            return;
        };
        let header = packet.header;
        {
            let core = &mut self.core;
            let Some(s) = self.table.live.get_mut(&h) else {
                return;
            };
            match (header.mode, s.role) {
                (Mode::Startup, _) => return s.drop(core, DropReason::StartupModeInSession),
                // 2.2.4: an end ignores packets marked with its own role's mode.
                (Mode::Initiator, Role::Initiator) | (Mode::Responder, Role::Responder) => {
                    return s.drop(core, DropReason::OwnMode);
                }
                _ => {}
            }
            if !reassembled {
                s.stats.packets_received += 1;
                if s.state == SessionState::S_OPEN {
                    s.timing
                        .on_receive(now, header.timestamp, header.timestamp_echo);
                    s.keepalive.on_packet(now);
                    if header.time_critical {
                        core.tc.note(h, now);
                    }
                    if header.time_critical_reverse {
                        s.far_tcr_at = Some(now);
                    }
                    s.begin_flow_packet(core, now, header.time_critical_reverse);
                }
            }
        }
        for dc in packet.decoded_chunks() {
            if dc.raw.chunk_type == chunk::PACKET_FRAGMENT {
                match dc.chunk {
                    Ok(Chunk::PacketFragment(f)) => {
                        if let Some(whole) =
                            self.on_fragment(now, source, header.mode, &f, reassembled)
                        {
                            self.on_session_packet(now, from, h, &whole, true);
                        }
                    }
                    Err(e) => self.count(source, fragment_error(&e)),
                    Ok(_) => {}
                }
                continue;
            }
            if !chunk::allowed_in(dc.raw.chunk_type, header.mode) {
                self.count(source, DropReason::ChunkWrongMode);
                continue;
            }
            let Ok(c) = dc.chunk else {
                self.count(source, DropReason::MalformedChunk);
                continue;
            };
            let core = &mut self.core;
            let Some(s) = self.table.live.get_mut(&h) else {
                return;
            };
            s.on_chunk(core, now, from, c, dc.position);
        }
        // A reassembled packet's chunks count as part of the packet whose
        // fragment completed it: one begin/end pair for both.
        if !reassembled && let Some(s) = self.table.live.get_mut(&h) {
            s.end_flow_packet(&mut self.core, now);
            s.after_packet(&mut self.core, now, from);
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired = self.core.reassembly.expire(now);
        for _ in 0..expired {
            self.core.stats.drops.count(DropReason::ReassemblyExpired);
        }
        let due: Vec<SessionHandle> = self
            .table
            .live
            .values()
            .filter(|s| s.deadline(&self.core).is_some_and(|d| d <= now))
            .map(|s| s.handle)
            .collect();
        for h in due {
            if let Some(s) = self.table.live.get_mut(&h) {
                s.on_timeout(&mut self.core, now);
            }
        }
        self.reap();
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let t = self.next_transmit(now);
        if let Some(t) = &t {
            self.core.stats.datagrams_sent += 1;
            self.core.stats.bytes_sent += t.contents.len() as u64;
        }
        self.reap();
        t
    }

    fn next_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let Some(q) = self.core.pacer.pop(now) {
            return Some(Transmit {
                destination: q.destination,
                contents: q.contents,
            });
        }
        // Sessions take turns, starting after the one that sent last.
        let order: Vec<SessionHandle> = {
            let after = self.table.cursor;
            let (tail, head): (Vec<_>, Vec<_>) = self
                .table
                .live
                .iter()
                .filter(|(_, s)| s.has_output(now))
                .map(|(h, _)| *h)
                .partition(|h| after.is_some_and(|a| *h > a));
            tail.into_iter().chain(head).collect()
        };
        for h in order {
            let core = &mut self.core;
            let Some(s) = self.table.live.get_mut(&h) else {
                continue;
            };
            let Some((to, plain)) = s.poll_packet(core, now) else {
                continue;
            };
            let Some(keys) = s.keys.as_mut() else {
                continue;
            };
            let mut encrypted = Vec::with_capacity(plain.len() + 32);
            if keys.cipher.encrypt(&plain, &mut encrypted).is_err() {
                s.drop(core, DropReason::SendFailed);
                continue;
            }
            let mut contents = Vec::with_capacity(encrypted.len() + 4);
            multiplex::encode(s.send_id, &encrypted, &mut contents);
            self.table.cursor = Some(h);
            return Some(Transmit {
                destination: to,
                contents,
            });
        }
        None
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sessions = self
            .table
            .live
            .values()
            .filter_map(|s| s.deadline(&self.core));
        [
            self.core.pacer.next_ready(),
            self.core.reassembly.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .chain(sessions)
        .min()
    }

    /// The next event for the application.
    ///
    /// A [`Event::Message`]'s bytes count against its flow's receive window
    /// until it is polled here, so an application that stops polling closes
    /// its windows instead of growing this queue. Polling one may reopen a
    /// window: call [`poll_transmit`](Self::poll_transmit) after polling events.
    pub fn poll_event(&mut self) -> Option<Event> {
        let e = self.core.events.pop_front()?;
        if let Event::Message {
            session,
            flow,
            data,
            ..
        } = &e
            && let Some(f) = self
                .table
                .live
                .get_mut(session)
                .and_then(|s| s.flows.as_mut())
        {
            f.message_consumed(*flow, data.len());
        }
        Some(e)
    }

    /// Removes closed sessions from the ID tables; keeps the latest few for queries.
    fn reap(&mut self) {
        let mut pending = core::mem::take(&mut self.core.to_reap);
        pending.sort();
        pending.dedup();
        for h in pending {
            let Some(s) = self.table.live.get(&h) else {
                continue;
            };
            if !s.state.is_closed() {
                continue;
            }
            if self.table.by_receive_id.get(&s.receive_id) == Some(&h) {
                self.table.by_receive_id.remove(&s.receive_id);
            }
            if let Some(o) = s.opening.as_ref()
                && self.table.by_tag.get(&o.tag) == Some(&h)
            {
                self.table.by_tag.remove(&o.tag);
            }
            self.core.reassembly.forget_session(h);
            if s.has_session_output() {
                // A final Close Ack still to go; reaped again once sent.
                continue;
            }
            if let Some(s) = self.table.live.remove(&h) {
                self.table.closed.insert(h, s);
                self.table.closed_order.push_back(h);
            }
            while self.table.closed_order.len() > self.core.config.closed_sessions_remembered {
                if let Some(old) = self.table.closed_order.pop_front() {
                    self.table.closed.remove(&old);
                }
            }
        }
    }

    // ------------------------------------------------------------ sessions

    /// Opens a session to the endpoint named by `epd`, starting with
    /// `candidates` (more can be added with [`add_candidate`](Self::add_candidate)).
    /// The session starts in S_IHELLO_SENT (RFC 7016 3.5.1.1.1).
    pub fn connect(
        &mut self,
        now: Instant,
        epd: Vec<u8>,
        candidates: &[SocketAddr],
    ) -> Result<SessionHandle, ApiError> {
        if epd.len() > event::MAX_EPD_LEN {
            return Err(ApiError::EndpointDiscriminatorTooLong(epd.len()));
        }
        if self.table.live.len() >= self.core.config.max_sessions {
            return Err(ApiError::TooManySessions(self.core.config.max_sessions));
        }
        // A new, unique, pseudorandom tag (3.5.1.1.1).
        let mut tag = vec![0u8; self.core.config.tag_len.max(1)];
        for _ in 0..64 {
            self.core.rng.fill(&mut tag);
            if !self.table.by_tag.contains_key(&tag) {
                break;
            }
        }
        let h = self.table.new_handle();
        let mut s = Session::new(
            &mut self.core,
            h,
            Role::Initiator,
            SessionState::S_IHELLO_SENT,
            now,
        );
        s.epd = Some(epd);
        s.opening = Some(Opening::new(tag.clone()));
        for &c in candidates {
            s.add_candidate(&mut self.core, now, c);
        }
        self.table.by_tag.insert(tag, h);
        self.table.live.insert(h, s);
        Ok(h)
    }

    fn live_mut(&mut self, h: SessionHandle) -> Result<&mut Session, ApiError> {
        self.table
            .live
            .get_mut(&h)
            .ok_or(ApiError::UnknownSession(h))
    }

    /// Adds a candidate address to a session in S_IHELLO_SENT.
    pub fn add_candidate(
        &mut self,
        now: Instant,
        h: SessionHandle,
        addr: SocketAddr,
    ) -> Result<(), ApiError> {
        let core = &mut self.core;
        let s = self
            .table
            .live
            .get_mut(&h)
            .ok_or(ApiError::UnknownSession(h))?;
        if s.state != SessionState::S_IHELLO_SENT {
            return Err(ApiError::WrongState {
                session: h,
                state: s.state.name(),
            });
        }
        s.add_candidate(core, now, addr);
        Ok(())
    }

    /// Closes a session (RFC 7016 3.5.5); an opening session is abandoned.
    pub fn close(
        &mut self,
        now: Instant,
        h: SessionHandle,
        how: CloseKind,
    ) -> Result<(), ApiError> {
        if self.table.closed.contains_key(&h) {
            return Ok(());
        }
        let core = &mut self.core;
        let s = self
            .table
            .live
            .get_mut(&h)
            .ok_or(ApiError::UnknownSession(h))?;
        s.close(core, now, how)?;
        self.reap();
        Ok(())
    }

    /// A snapshot of a session, live or recently closed.
    pub fn session(&self, h: SessionHandle) -> Option<SessionInfo> {
        self.table
            .live
            .get(&h)
            .or_else(|| self.table.closed.get(&h))
            .map(Session::info)
    }

    /// The sessions not yet closed, in handle order.
    pub fn sessions(&self) -> Vec<SessionHandle> {
        self.table
            .live
            .values()
            .filter(|s| !s.state.is_closed())
            .map(|s| s.handle)
            .collect()
    }

    /// Redirector table (RFC 7016 3.5.1.4): an IHello whose Endpoint
    /// Discriminator is exactly `epd` (and does not select this endpoint) is
    /// answered with a Redirect to `addresses`. An empty list removes the entry.
    pub fn set_redirect(&mut self, epd: Vec<u8>, addresses: Vec<SocketAddr>) {
        if addresses.is_empty() {
            self.core.redirects.remove(&epd);
        } else {
            self.core.redirects.insert(epd, addresses);
        }
    }

    /// Turns the introduction service (RFC 7016 3.5.1.6) on or off.
    pub fn set_introduction_service(&mut self, service: IntroductionService) {
        self.core.config.introduction = service;
    }

    /// Addresses an S_OPEN peer registered (for example its directly attached
    /// ones, learned over a flow), listed after its DESTADDR in Redirects
    /// (RFC 7016 3.5.1.6).
    pub fn register_addresses(
        &mut self,
        h: SessionHandle,
        addresses: Vec<SocketAddr>,
    ) -> Result<(), ApiError> {
        let s = self.live_mut(h)?;
        s.registered = addresses;
        Ok(())
    }

    /// How to answer FIHellos arriving over this session (`None`: the endpoint's policy).
    pub fn set_fihello_policy(
        &mut self,
        h: SessionHandle,
        policy: Option<FIHelloPolicy>,
    ) -> Result<(), ApiError> {
        self.live_mut(h)?.fihello_policy = policy;
        Ok(())
    }

    /// The near end's own address changed (for example a new network): every
    /// S_OPEN session pings promptly so the far end verifies the new address
    /// (RFC 7016 3.5.4.1, 3.5.4.2).
    pub fn near_address_changed(&mut self, now: Instant) {
        for s in self.table.live.values_mut() {
            s.near_address_changed(now);
        }
    }
}

/// The drop reason for a Packet Fragment chunk that does not decode.
fn fragment_error(e: &crate::wire::WireError) -> DropReason {
    if e.field == "packetFragment" {
        // 2.3.1, 3.4: an empty fragment MUST be discarded.
        DropReason::EmptyFragment
    } else {
        DropReason::MalformedChunk
    }
}
