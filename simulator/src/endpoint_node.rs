//! A simulated host running the reference RTMFP endpoint (RFC 7016 3.3) and its workload.
//!
//! [`EndpointNode`] wraps one [`Endpoint`] per host: it feeds it the datagrams and timers the
//! engine hands over, tells it when the host's address changes
//! ([`Endpoint::near_address_changed`]), runs the host's timed workload actions (connect,
//! close) at their simulated times, and turns every endpoint event and session state
//! transition into a trace note. What happened to each session is kept in
//! [`SessionRecord`]s, read after the run to check expectations.
//!
//! Randomness comes from the node's own seeded stream (`user:node:HOST`), so identities,
//! tags, session IDs and keys are the same for the same seed. Each session's keys are
//! registered in the shared [`KeyBook`] the moment it opens, before its first packet under
//! them, so the trace can decrypt everything.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;

use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::dh::DhGroup;
use rtmfp::crypto::flash::endpoint_discriminator::{EndpointDiscriminator, canonical};
use rtmfp::crypto::flash::{DhKeyMode, FlashConfig, FlashProfile};
use rtmfp::crypto::transparent::TransparentProfile;
use rtmfp::endpoint::{
    CloseKind, CloseReason, Endpoint, EndpointConfig, Event, IntroductionService, OpenFailure,
    SessionHandle,
};
use rtmfp::random::SeededRandom;
use rtmfp::session::{Role, SessionState};
use rtmfp::time::Instant;

use crate::node::{Node, Transmit};
use crate::packets::KeyBook;
use crate::rng::SimRng;
use crate::workload::{Action, Epd, HostSetup, ProfileKind};

/// A host's identity, as other hosts name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Its canonical EPD (Flash: `0x21 0x0f` + fingerprint; transparent: the host name).
    pub canonical_epd: Vec<u8>,
    /// Its Flash certificate fingerprint.
    pub fingerprint: Option<[u8; 32]>,
}

/// Why an EPD could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownHost(pub String);

/// The bytes of a checked EPD, given every host's identity.
pub fn epd_bytes(
    epd: &Epd,
    profile: ProfileKind,
    identities: &BTreeMap<String, Identity>,
) -> Result<Vec<u8>, UnknownHost> {
    if let Some(raw) = &epd.raw {
        return Ok(raw.clone());
    }
    let host = |h: &String| identities.get(h).ok_or_else(|| UnknownHost(h.clone()));
    match profile {
        ProfileKind::Transparent => match &epd.fingerprint {
            Some(h) => Ok(host(h)?.canonical_epd.clone()),
            None => Ok(Vec::new()),
        },
        ProfileKind::Flash => {
            let fingerprint = match &epd.fingerprint {
                Some(h) => host(h)?.fingerprint,
                None => None,
            };
            Ok(EndpointDiscriminator {
                required_hostname: epd.hostname.as_ref().map(|h| h.as_bytes().to_vec()),
                ancillary_data: epd.url.as_ref().map(|u| u.as_bytes().to_vec()),
                fingerprint,
            }
            .encode())
        }
    }
}

/// What happened to one session, from one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The endpoint's handle.
    pub handle: SessionHandle,
    /// The workload's label, for sessions this end opened.
    pub name: Option<String>,
    /// Initiator (opened by a `connect`) or responder.
    pub role: Role,
    /// When it was created (connect, or incoming S_OPEN).
    pub created: Instant,
    /// When it reached S_OPEN.
    pub opened: Option<Instant>,
    /// When and why opening failed.
    pub failed: Option<(Instant, OpenFailure)>,
    /// When and why it left S_OPEN.
    pub closed: Option<(Instant, CloseReason)>,
    /// Verified changes of the far address (RFC 7016 3.5.4.2): when, from, to.
    pub address_changes: Vec<(Instant, SocketAddr, SocketAddr)>,
    /// The far end, by host name (from its certificate), once known.
    pub far: Option<String>,
    /// The host a `connect` meant to reach.
    pub intended: Option<String>,
    /// The far address at the end (DESTADDR).
    pub far_address: Option<SocketAddr>,
    /// The state at the end of the run (or when last seen).
    pub state: SessionState,
    /// Session ID the far end sends with.
    pub receive_id: u32,
    /// Session ID this end sends with.
    pub send_id: u32,
}

/// One host's endpoint and workload.
pub struct EndpointNode {
    name: String,
    endpoint: Option<Endpoint>,
    profile: ProfileKind,
    identity: Option<Identity>,
    setup: HostSetup,
    local: SocketAddr,
    actions: Vec<(Instant, Action)>,
    next_action: usize,
    book: Rc<RefCell<KeyBook>>,
    notes: VecDeque<String>,
    labels: BTreeMap<String, SessionHandle>,
    sessions: BTreeMap<SessionHandle, SessionRecord>,
    /// Sessions in an opening or closing state, polled for transitions.
    watching: BTreeSet<SessionHandle>,
    identities: Rc<BTreeMap<String, Identity>>,
}

impl core::fmt::Debug for EndpointNode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EndpointNode")
            .field("name", &self.name)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

/// Why a node could not be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The Flash profile refused its configuration.
    #[error("host {host}: Flash profile: {why}")]
    Profile {
        /// Host.
        host: String,
        /// Why.
        why: String,
    },
    /// A name could not be resolved.
    #[error("host {host}: no identity for host {unknown}")]
    UnknownHost {
        /// Host.
        host: String,
        /// The name.
        unknown: String,
    },
}

impl EndpointNode {
    /// Makes host `name`'s endpoint (its identity included) with randomness from `seed`'s
    /// stream `user:node:NAME`. Actions and redirects are added by [`EndpointNode::configure`]
    /// once every host's identity exists.
    pub fn new(
        name: &str,
        address: SocketAddr,
        setup: &HostSetup,
        profile: ProfileKind,
        seed: u64,
        book: Rc<RefCell<KeyBook>>,
    ) -> Result<EndpointNode, SetupError> {
        let mut node = EndpointNode::off(name, address, book);
        node.profile = profile;
        node.setup = setup.clone();
        let mut key = [0u8; 32];
        SimRng::stream(seed, &format!("user:node:{name}")).fill_bytes(&mut key);
        let mut rng = SeededRandom::from_key(key);
        let mut config = EndpointConfig::default();
        if let Some(t) = setup.open_timeout {
            config.open_timeout = t;
        }
        if let Some(t) = setup.keepalive {
            config.keepalive.idle = Some(t);
        }
        if let Some(t) = setup.dead_after {
            config.keepalive.dead_after = Some(t);
        }
        config.fihello_policy = setup.fihello;
        if setup.introduction {
            config.introduction = IntroductionService::enabled();
        }
        let (crypto, identity): (Box<dyn CryptoProfile>, Identity) = match profile {
            ProfileKind::Flash => {
                let group = DhGroup::from_id(setup.dh_group).unwrap_or(DhGroup::Modp1024);
                let flash = FlashConfig {
                    groups: vec![group],
                    key_mode: if setup.static_keys {
                        DhKeyMode::Static
                    } else {
                        DhKeyMode::Ephemeral
                    },
                    hostname: setup.hostname.as_ref().map(|h| h.as_bytes().to_vec()),
                    accepts_ancillary_data: setup.accepts_ancillary,
                    ..FlashConfig::default()
                };
                let p = FlashProfile::new(flash, &mut rng).map_err(|e| SetupError::Profile {
                    host: name.to_string(),
                    why: e.to_string(),
                })?;
                let fp = *p.fingerprint();
                let identity = Identity {
                    canonical_epd: canonical(&fp).to_vec(),
                    fingerprint: Some(fp),
                };
                (Box::new(p), identity)
            }
            ProfileKind::Transparent => (
                Box::new(TransparentProfile::new(name.as_bytes().to_vec())),
                Identity {
                    canonical_epd: name.as_bytes().to_vec(),
                    fingerprint: None,
                },
            ),
        };
        // A host that is off still has an identity (others may name it), but no endpoint.
        if !setup.off {
            node.endpoint = Some(Endpoint::new(config, crypto, Box::new(rng)));
        }
        node.identity = Some(identity);
        Ok(node)
    }

    /// A host without an endpoint.
    pub fn off(name: &str, address: SocketAddr, book: Rc<RefCell<KeyBook>>) -> EndpointNode {
        EndpointNode {
            name: name.to_string(),
            endpoint: None,
            profile: ProfileKind::Transparent,
            identity: None,
            setup: HostSetup::off(),
            local: address,
            actions: Vec::new(),
            next_action: 0,
            book,
            notes: VecDeque::new(),
            labels: BTreeMap::new(),
            sessions: BTreeMap::new(),
            watching: BTreeSet::new(),
            identities: Rc::new(BTreeMap::new()),
        }
    }

    /// This host's identity (`None` only for a node made with [`EndpointNode::off`]).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds the redirect table and the timed actions, now that every identity is known.
    pub fn configure(
        &mut self,
        identities: Rc<BTreeMap<String, Identity>>,
    ) -> Result<(), SetupError> {
        let unknown = |e: UnknownHost| SetupError::UnknownHost {
            host: self.name.clone(),
            unknown: e.0,
        };
        if let Some(ep) = self.endpoint.as_mut() {
            for (epd, to) in &self.setup.redirects {
                let bytes = epd_bytes(epd, self.profile, &identities).map_err(unknown)?;
                ep.set_redirect(bytes, to.clone());
            }
        }
        for (_, a) in &self.setup.actions {
            if let Action::Connect { epd, .. } = a {
                epd_bytes(epd, self.profile, &identities).map_err(unknown)?;
            }
        }
        self.actions = self.setup.actions.clone();
        self.identities = identities;
        Ok(())
    }

    /// The endpoint (`None` for a host that is off).
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// Every session this end took part in, in handle order, with states as of the last call.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionRecord> {
        self.sessions.values()
    }

    /// Refreshes every session's final state and far address (call after the run).
    pub fn finish(&mut self) {
        let Some(ep) = self.endpoint.as_ref() else {
            return;
        };
        for r in self.sessions.values_mut() {
            if let Some(info) = ep.session(r.handle) {
                r.state = info.state;
                r.far_address = info.far_address;
                r.receive_id = info.receive_session_id;
                r.send_id = info.send_session_id;
            }
        }
    }

    fn label(&self, h: SessionHandle) -> String {
        match self.sessions.get(&h).and_then(|r| r.name.as_ref()) {
            Some(n) => format!("{h}({n})"),
            None => h.to_string(),
        }
    }

    fn far_name(&self, canonical: Option<&[u8]>) -> Option<String> {
        let c = canonical?;
        self.book.borrow().host_of(c).map(str::to_string)
    }

    /// Runs the actions due at `now`.
    fn run_actions(&mut self, now: Instant) {
        while let Some((at, action)) = self.actions.get(self.next_action).cloned() {
            if at > now {
                break;
            }
            self.next_action += 1;
            self.act(now, action);
        }
    }

    fn act(&mut self, now: Instant, action: Action) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        match action {
            Action::Connect {
                name,
                epd,
                candidates,
                peer,
            } => {
                let bytes = epd_bytes(&epd, self.profile, &self.identities).unwrap_or_default();
                let epd_text = describe_epd(&epd);
                match ep.connect(now, bytes, &candidates) {
                    Ok(h) => {
                        let list: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
                        self.sessions.insert(
                            h,
                            SessionRecord {
                                handle: h,
                                name: Some(name.clone()),
                                role: Role::Initiator,
                                created: now,
                                opened: None,
                                failed: None,
                                closed: None,
                                address_changes: Vec::new(),
                                far: None,
                                intended: peer,
                                far_address: None,
                                state: SessionState::S_IHELLO_SENT,
                                receive_id: 0,
                                send_id: 0,
                            },
                        );
                        self.labels.insert(name.clone(), h);
                        self.watching.insert(h);
                        self.notes.push_back(format!(
                            "{h}({name}) connect epd={epd_text} candidates={}",
                            list.join(",")
                        ));
                    }
                    Err(e) => self.notes.push_back(format!("connect {name} refused: {e}")),
                }
            }
            Action::Close { name, how } => {
                if let Some(&h) = self.labels.get(&name) {
                    self.close(now, h, how);
                }
            }
            Action::Flow(plan) => self.notes.push_back(format!(
                "flow {} cannot open: this endpoint has no flows yet",
                plan.name
            )),
            Action::ClosePeer { peer, how } => {
                let with: Vec<SessionHandle> = self
                    .sessions
                    .values()
                    .filter(|r| r.far.as_deref() == Some(peer.as_str()))
                    .map(|r| r.handle)
                    .collect();
                for h in with {
                    self.close(now, h, how);
                }
            }
        }
    }

    fn close(&mut self, now: Instant, h: SessionHandle, how: CloseKind) {
        let how_text = match how {
            CloseKind::Orderly => "orderly",
            CloseKind::Abrupt => "abrupt",
        };
        let label = self.label(h);
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        match ep.close(now, h, how) {
            Ok(()) => self.notes.push_back(format!("{label} close {how_text}")),
            Err(e) => self
                .notes
                .push_back(format!("{label} close {how_text} refused: {e}")),
        }
        self.watching.insert(h);
    }

    /// Turns the endpoint's events into records and notes, then notes state transitions.
    fn after_call(&mut self, now: Instant) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        let mut events = Vec::new();
        while let Some(e) = ep.poll_event() {
            events.push(e);
        }
        for e in events {
            self.on_event(now, e);
        }
        let watched: Vec<SessionHandle> = self.watching.iter().copied().collect();
        for h in watched {
            let Some(info) = self.endpoint.as_ref().and_then(|ep| ep.session(h)) else {
                self.watching.remove(&h);
                continue;
            };
            let label = self.label(h);
            if let Some(r) = self.sessions.get_mut(&h)
                && r.state != info.state
            {
                self.notes
                    .push_back(format!("{label} {} -> {}", r.state, info.state));
                r.state = info.state;
            }
            if !(info.state.is_opening()
                || matches!(
                    info.state,
                    SessionState::S_NEARCLOSE | SessionState::S_FARCLOSE_LINGER
                ))
            {
                self.watching.remove(&h);
            }
        }
    }

    fn on_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::SessionOpened { session: h } | Event::IncomingSession { session: h } => {
                let incoming = matches!(e, Event::IncomingSession { .. });
                let Some(info) = self.endpoint.as_ref().and_then(|ep| ep.session(h)) else {
                    return;
                };
                self.book.borrow_mut().register(&info);
                let far = self.far_name(info.far_canonical_epd.as_deref());
                let record = self.sessions.entry(h).or_insert(SessionRecord {
                    handle: h,
                    name: None,
                    role: info.role,
                    created: now,
                    opened: None,
                    failed: None,
                    closed: None,
                    address_changes: Vec::new(),
                    far: None,
                    intended: None,
                    far_address: None,
                    state: info.state,
                    receive_id: 0,
                    send_id: 0,
                });
                record.opened = Some(now);
                record.far.clone_from(&far);
                let before = record.state;
                record.state = info.state;
                record.far_address = info.far_address;
                record.receive_id = info.receive_session_id;
                record.send_id = info.send_session_id;
                let who = far.unwrap_or_else(|| "an unknown endpoint".into());
                let at = info
                    .far_address
                    .map_or_else(|| "?".to_string(), |a| a.to_string());
                let label = self.label(h);
                if !incoming && before != info.state {
                    self.notes
                        .push_back(format!("{label} {before} -> {}", info.state));
                }
                if incoming {
                    self.notes
                        .push_back(format!("{label} incoming from {who} at {at}"));
                } else {
                    self.notes
                        .push_back(format!("{label} opened with {who} at {at}"));
                }
            }
            Event::SessionOpenFailed { session: h, reason } => {
                let label = self.label(h);
                let why = failure_name(reason);
                if let Some(r) = self.sessions.get_mut(&h) {
                    r.failed = Some((now, reason));
                }
                self.notes.push_back(format!("{label} open failed: {why}"));
            }
            Event::SessionClosed { session: h, reason } => {
                let label = self.label(h);
                if let Some(r) = self.sessions.get_mut(&h) {
                    r.closed = Some((now, reason));
                }
                self.watching.insert(h);
                self.notes
                    .push_back(format!("{label} closed: {}", close_name(reason)));
            }
            Event::AddressChanged {
                session: h,
                from,
                to,
            } => {
                let label = self.label(h);
                if let Some(r) = self.sessions.get_mut(&h) {
                    r.address_changes.push((now, from, to));
                    r.far_address = Some(to);
                }
                self.notes
                    .push_back(format!("{label} far address {from} -> {to}"));
            }
            Event::PacketSizeRaised {
                session: h,
                packet_len,
            } => {
                let label = self.label(h);
                self.notes
                    .push_back(format!("{label} packet size raised to {packet_len}"));
            }
        }
    }

    fn next_action_at(&self) -> Option<Instant> {
        self.actions.get(self.next_action).map(|(at, _)| *at)
    }
}

/// A failure's name in traces and scenario files.
pub fn failure_name(f: OpenFailure) -> &'static str {
    match f {
        OpenFailure::Timeout => "timeout",
        OpenFailure::Cancelled => "cancelled",
        OpenFailure::Duplicate { .. } => "duplicate",
        OpenFailure::GlareLost { .. } => "glare-lost",
    }
}

/// A close reason's name in traces and scenario files.
pub fn close_name(r: CloseReason) -> &'static str {
    match r {
        CloseReason::LocalOrderly => "local-orderly",
        CloseReason::LocalAbrupt => "local-abrupt",
        CloseReason::FarClose => "far-close",
        CloseReason::FarAbrupt => "far-abrupt",
        CloseReason::Overridden { .. } => "overridden",
        CloseReason::PeerDead => "peer-dead",
    }
}

fn describe_epd(epd: &Epd) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &epd.fingerprint {
        parts.push(format!("fp({f})"));
    }
    if let Some(h) = &epd.hostname {
        parts.push(format!("host({h})"));
    }
    if let Some(u) = &epd.url {
        parts.push(format!("url({u})"));
    }
    if let Some(r) = &epd.raw {
        parts.push(format!("{} bytes", r.len()));
    }
    parts.join("+")
}

impl Node for EndpointNode {
    fn handle_datagram(&mut self, now: Instant, _local: SocketAddr, from: SocketAddr, data: &[u8]) {
        if let Some(ep) = self.endpoint.as_mut() {
            ep.handle_datagram(now, from, data);
            self.after_call(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.run_actions(now);
        if let Some(ep) = self.endpoint.as_mut() {
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
            }
            self.after_call(now);
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let t = self.endpoint.as_mut()?.poll_transmit(now)?;
        Some(Transmit {
            local: self.local,
            destination: t.destination,
            contents: t.contents,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let ep = self.endpoint.as_ref()?;
        [ep.poll_timeout(), self.next_action_at()]
            .into_iter()
            .flatten()
            .min()
    }

    fn addresses_changed(&mut self, now: Instant, addrs: &[SocketAddr]) {
        match addrs.first() {
            Some(a) => {
                self.local = *a;
                self.notes.push_back(format!("address now {a}"));
                if let Some(ep) = self.endpoint.as_mut() {
                    ep.near_address_changed(now);
                    self.after_call(now);
                }
            }
            None => self.notes.push_back("offline".to_string()),
        }
    }

    fn poll_note(&mut self) -> Option<String> {
        self.notes.pop_front()
    }
}
