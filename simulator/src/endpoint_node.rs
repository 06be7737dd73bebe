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
    ApiError, CloseKind, CloseReason, Endpoint, EndpointConfig, Event, IntroductionService,
    OpenFailure, SessionHandle,
};
use rtmfp::flow::{FlowOptions, MessageOptions, RecvFlowId, SendFlowId};
use rtmfp::random::SeededRandom;
use rtmfp::session::{Role, SessionState};
use rtmfp::time::Instant;

use crate::node::{Node, Transmit};
use crate::packets::KeyBook;
use crate::rng::SimRng;
use crate::traffic::{Receiver, RecvRecord, SendRecord, Sender, deadline_of};
use crate::workload::{Action, Epd, FlowKind, FlowPlan, HostSetup, ProfileKind, SessionRef};

/// Every flow of the workload, by (sending host, metadata): how receivers recognise them.
pub type FlowCatalogue = BTreeMap<(String, Vec<u8>), FlowPlan>;

/// Who a sending flow of this node belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SendOwner {
    /// A workload flow, by name.
    Flow(String),
    /// The echo of a receiving flow.
    Echo(SessionHandle, RecvFlowId),
}

/// A return flow echoing a receiving flow.
struct Echo {
    flow: SendFlowId,
    pending: VecDeque<Vec<u8>>,
    /// The flow it echoes completed: close once `pending` is sent.
    finished: bool,
    closed: bool,
}

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
    seed: u64,
    catalogue: Rc<FlowCatalogue>,
    senders: BTreeMap<String, Sender>,
    send_owners: BTreeMap<(SessionHandle, SendFlowId), SendOwner>,
    /// Flows waiting for their session to open.
    waiting: Vec<FlowPlan>,
    receivers: BTreeMap<(SessionHandle, RecvFlowId), Receiver>,
    echoes: BTreeMap<(SessionHandle, RecvFlowId), Echo>,
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
        node.seed = seed;
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
            seed: 0,
            catalogue: Rc::new(BTreeMap::new()),
            senders: BTreeMap::new(),
            send_owners: BTreeMap::new(),
            waiting: Vec::new(),
            receivers: BTreeMap::new(),
            echoes: BTreeMap::new(),
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
        catalogue: Rc<FlowCatalogue>,
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
        self.catalogue = catalogue;
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
            Action::Flow(plan) => self.start_flow(now, plan),
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
        if !self.waiting.is_empty() {
            self.retry_waiting(now);
            // Opening flows and sending may have produced events.
            let mut more = Vec::new();
            if let Some(ep) = self.endpoint.as_mut() {
                while let Some(e) = ep.poll_event() {
                    more.push(e);
                }
            }
            for e in more {
                self.on_event(now, e);
            }
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
            other => self.on_flow_event(now, other),
        }
    }

    fn next_action_at(&self) -> Option<Instant> {
        self.actions.get(self.next_action).map(|(at, _)| *at)
    }
}

// ---------------------------------------------------------------------------------------
// Flows (RFC 7016 3.6): the workload's bulk transfers and streams, and echoes.

impl EndpointNode {
    /// The open session a flow goes on, if there is one now.
    fn session_for(&self, on: &SessionRef) -> Option<SessionHandle> {
        let open = |r: &&SessionRecord| r.opened.is_some() && r.closed.is_none();
        match on {
            SessionRef::Named(label) => {
                let h = *self.labels.get(label)?;
                self.sessions.get(&h).filter(open).map(|r| r.handle)
            }
            SessionRef::Peer(peer) => self
                .sessions
                .values()
                .filter(open)
                .find(|r| r.far.as_deref() == Some(peer.as_str()))
                .map(|r| r.handle),
        }
    }

    /// Opens a workload flow now, or when its session opens.
    fn start_flow(&mut self, now: Instant, plan: FlowPlan) {
        let Some(h) = self.session_for(&plan.on) else {
            self.notes
                .push_back(format!("flow {} waits for its session", plan.name));
            self.waiting.push(plan);
            return;
        };
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        let name = plan.name.clone();
        let mut sender = Sender::new(plan, self.seed);
        match ep.open_flow(now, h, &sender.plan.metadata, None, FlowOptions::default()) {
            Ok(flow) => {
                sender.record.session = Some(h);
                sender.record.flow = Some(flow);
                sender.record.opened = Some(now);
                if let FlowKind::Stream { .. } = sender.plan.kind {
                    sender.next_at = Some(now);
                }
                self.send_owners
                    .insert((h, flow), SendOwner::Flow(name.clone()));
                let label = self.label(h);
                self.notes.push_back(format!(
                    "{label} flow {name} opened ({})",
                    describe_kind(&sender.plan.kind)
                ));
                self.senders.insert(name.clone(), sender);
                self.pump(now, &name);
            }
            Err(e) => {
                sender.record.error = Some(e.to_string());
                self.notes
                    .push_back(format!("flow {name} cannot open: {e}"));
                self.senders.insert(name, sender);
            }
        }
    }

    /// Tries the flows that wait for a session.
    fn retry_waiting(&mut self, now: Instant) {
        let waiting = core::mem::take(&mut self.waiting);
        for plan in waiting {
            if self.session_for(&plan.on).is_some() {
                self.start_flow(now, plan);
            } else {
                self.waiting.push(plan);
            }
        }
    }

    /// Queues what a bulk flow can queue now, and closes it once everything is queued.
    fn pump(&mut self, now: Instant, name: &str) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        let Some(sender) = self.senders.get_mut(name) else {
            return;
        };
        let (Some(h), Some(flow)) = (sender.record.session, sender.record.flow) else {
            return;
        };
        if sender.record.aborted || sender.record.exception.is_some() || sender.closed {
            return;
        }
        if let FlowKind::Bulk { .. } = sender.plan.kind {
            while !sender.exhausted() {
                let m = match sender.held.take() {
                    Some(m) => m,
                    None => sender.generate(now),
                };
                match ep.send(now, h, flow, &m, MessageOptions::reliable()) {
                    Ok(_) => sender.queued(&m),
                    Err(ApiError::Flow(rtmfp::flow::ApiError::BufferFull { .. })) => {
                        sender.held = Some(m);
                        return;
                    }
                    Err(e) => {
                        let text = e.to_string();
                        sender.record.error = Some(text.clone());
                        self.notes
                            .push_back(format!("flow {name} cannot send: {text}"));
                        return;
                    }
                }
            }
        }
        if sender.exhausted() && !sender.closed {
            sender.closed = true;
            if let Err(e) = ep.close_flow(now, h, flow) {
                self.notes
                    .push_back(format!("flow {name} cannot close: {e}"));
            }
        }
    }

    /// Sends the stream messages due at `now`.
    fn stream_due(&mut self, now: Instant) {
        let due: Vec<String> = self
            .senders
            .iter()
            .filter(|(_, s)| s.next_at.is_some_and(|t| t <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let Some(ep) = self.endpoint.as_mut() else {
                return;
            };
            let Some(sender) = self.senders.get_mut(&name) else {
                continue;
            };
            let FlowKind::Stream {
                interval, lifetime, ..
            } = sender.plan.kind
            else {
                continue;
            };
            let (Some(h), Some(flow)) = (sender.record.session, sender.record.flow) else {
                continue;
            };
            while sender.next_at.is_some_and(|t| t <= now) && !sender.exhausted() {
                if sender.record.aborted || sender.record.exception.is_some() {
                    sender.next_at = None;
                    break;
                }
                let m = sender.generate(now);
                let opts = match lifetime {
                    Some(l) => MessageOptions::with_lifetime(l),
                    None => MessageOptions::reliable(),
                };
                match ep.send(now, h, flow, &m, opts) {
                    Ok(_) => sender.queued(&m),
                    Err(ApiError::Flow(rtmfp::flow::ApiError::BufferFull { .. })) => {
                        sender.record.refused += 1;
                    }
                    Err(e) => {
                        sender.record.error = Some(e.to_string());
                        sender.next_at = None;
                        break;
                    }
                }
                sender.next_at = sender.next_at.map(|t| t + interval);
            }
            if sender.exhausted() {
                sender.next_at = None;
            }
            self.pump(now, &name);
        }
    }

    /// Sends what an echo holds, and closes it after the flow it echoes finished.
    fn pump_echo(&mut self, now: Instant, key: (SessionHandle, RecvFlowId)) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        let Some(echo) = self.echoes.get_mut(&key) else {
            return;
        };
        while let Some(m) = echo.pending.front() {
            match ep.send(now, key.0, echo.flow, m, MessageOptions::reliable()) {
                Ok(_) => {
                    echo.pending.pop_front();
                }
                Err(ApiError::Flow(rtmfp::flow::ApiError::BufferFull { .. })) => return,
                Err(_) => {
                    echo.pending.clear();
                    break;
                }
            }
        }
        if echo.finished && !echo.closed {
            echo.closed = true;
            let _ = ep.close_flow(now, key.0, echo.flow);
        }
    }

    fn flow_label(&self, h: SessionHandle, flow: SendFlowId) -> String {
        match self.send_owners.get(&(h, flow)) {
            Some(SendOwner::Flow(n)) => n.clone(),
            Some(SendOwner::Echo(..)) => format!("echo {}", flow.0),
            None => format!("{}", flow.0),
        }
    }

    fn recv_label(&self, key: (SessionHandle, RecvFlowId)) -> String {
        match self.receivers.get(&key) {
            Some(r) => match (&r.record.flow_name, &r.record.echo_of) {
                (_, Some(e)) => format!("echo of {e}"),
                (Some(n), None) => n.clone(),
                (None, None) => format!("in {}", key.1.0),
            },
            None => format!("in {}", key.1.0),
        }
    }

    fn on_flow_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::FlowOpened {
                session: h,
                flow,
                metadata,
                association,
                ..
            } => {
                let far = self.sessions.get(&h).and_then(|r| r.far.clone());
                let echo_of = association.and_then(|a| match self.send_owners.get(&(h, a)) {
                    Some(SendOwner::Flow(n)) => Some(n.clone()),
                    _ => None,
                });
                let plan = far
                    .as_ref()
                    .and_then(|f| self.catalogue.get(&(f.clone(), metadata.clone())));
                let flow_name = if echo_of.is_some() {
                    None
                } else {
                    plan.map(|p| p.name.clone())
                };
                let deadline = if echo_of.is_some() {
                    None
                } else {
                    plan.and_then(deadline_of)
                };
                let record = RecvRecord {
                    session: h,
                    flow,
                    from: far.clone(),
                    flow_name,
                    echo_of,
                    metadata: metadata.clone(),
                    opened: now,
                    messages: 0,
                    bytes: 0,
                    late: 0,
                    max_latency: core::time::Duration::ZERO,
                    out_of_sequence: 0,
                    lost_sequence_numbers: 0,
                    max_gap: core::time::Duration::ZERO,
                    first_at: None,
                    last_at: None,
                    complete: None,
                    aborted: false,
                    digest: [0; 32],
                };
                let is_echo = record.echo_of.is_some();
                self.receivers
                    .insert((h, flow), Receiver::new(record, deadline));
                let label = self.label(h);
                let what = self.recv_label((h, flow));
                self.notes.push_back(format!(
                    "{label} flow {what} arrives from {} (metadata {:?})",
                    far.as_deref().unwrap_or("?"),
                    String::from_utf8_lossy(&metadata)
                ));
                if self.setup.echo && !is_echo {
                    let Some(ep) = self.endpoint.as_mut() else {
                        return;
                    };
                    match ep.open_flow(now, h, &metadata, Some(flow), FlowOptions::default()) {
                        Ok(back) => {
                            self.send_owners.insert((h, back), SendOwner::Echo(h, flow));
                            self.echoes.insert(
                                (h, flow),
                                Echo {
                                    flow: back,
                                    pending: VecDeque::new(),
                                    finished: false,
                                    closed: false,
                                },
                            );
                        }
                        Err(e) => self
                            .notes
                            .push_back(format!("{label} cannot echo {what}: {e}")),
                    }
                }
            }
            Event::Message {
                session: h,
                flow,
                data,
                ..
            } => {
                if let Some(r) = self.receivers.get_mut(&(h, flow)) {
                    r.message(now, &data);
                }
                if let Some(echo) = self.echoes.get_mut(&(h, flow)) {
                    echo.pending.push_back(data);
                    self.pump_echo(now, (h, flow));
                }
            }
            Event::MessagesLost {
                session: h,
                flow,
                first,
                last,
            } => {
                if let Some(r) = self.receivers.get_mut(&(h, flow)) {
                    r.record.lost_sequence_numbers += last.saturating_sub(first) + 1;
                }
            }
            Event::RecvFlowComplete { session: h, flow } => {
                if let Some(r) = self.receivers.get_mut(&(h, flow)) {
                    r.record.complete = Some(now);
                }
                let label = self.label(h);
                let what = self.recv_label((h, flow));
                let got = self
                    .receivers
                    .get(&(h, flow))
                    .map_or(0, |r| r.record.messages);
                self.notes
                    .push_back(format!("{label} flow {what} complete: {got} messages"));
                if let Some(echo) = self.echoes.get_mut(&(h, flow)) {
                    echo.finished = true;
                    self.pump_echo(now, (h, flow));
                }
            }
            Event::RecvFlowRejected {
                session: h,
                flow,
                reason,
            } => {
                let label = self.label(h);
                let what = self.recv_label((h, flow));
                self.notes
                    .push_back(format!("{label} flow {what} rejected: {reason:?}"));
            }
            Event::RecvFlowAborted { session: h, flow } => {
                if let Some(r) = self.receivers.get_mut(&(h, flow)) {
                    r.record.aborted = true;
                }
                let label = self.label(h);
                let what = self.recv_label((h, flow));
                self.notes.push_back(format!("{label} flow {what} aborted"));
            }
            Event::FlowException {
                session: h,
                flow,
                code,
            } => {
                if let Some(SendOwner::Flow(n)) = self.send_owners.get(&(h, flow))
                    && let Some(s) = self.senders.get_mut(n)
                {
                    s.record.exception = Some(code);
                }
                let label = self.label(h);
                let what = self.flow_label(h, flow);
                self.notes.push_back(format!(
                    "{label} flow {what} rejected by the far end: code {code}"
                ));
            }
            Event::MessageDelivered {
                session: h, flow, ..
            } => {
                if let Some(SendOwner::Flow(n)) = self.send_owners.get(&(h, flow))
                    && let Some(s) = self.senders.get_mut(n)
                {
                    s.record.delivered += 1;
                }
            }
            Event::MessageAbandoned {
                session: h, flow, ..
            } => {
                if let Some(SendOwner::Flow(n)) = self.send_owners.get(&(h, flow))
                    && let Some(s) = self.senders.get_mut(n)
                {
                    s.record.abandoned += 1;
                }
            }
            Event::SendFlowComplete { session: h, flow } => {
                if let Some(SendOwner::Flow(n)) = self.send_owners.get(&(h, flow))
                    && let Some(s) = self.senders.get_mut(n)
                {
                    s.record.complete = Some(now);
                }
                let label = self.label(h);
                let what = self.flow_label(h, flow);
                self.notes
                    .push_back(format!("{label} flow {what} acknowledged to the end"));
            }
            Event::SendFlowWritable { session: h, flow } => {
                match self.send_owners.get(&(h, flow)).cloned() {
                    Some(SendOwner::Flow(n)) => self.pump(now, &n),
                    Some(SendOwner::Echo(s, r)) => self.pump_echo(now, (s, r)),
                    None => {}
                }
            }
            Event::SendFlowAborted { session: h, flow } => {
                if let Some(SendOwner::Flow(n)) = self.send_owners.get(&(h, flow))
                    && let Some(s) = self.senders.get_mut(n)
                {
                    s.record.aborted = true;
                    s.next_at = None;
                }
                let label = self.label(h);
                let what = self.flow_label(h, flow);
                self.notes.push_back(format!("{label} flow {what} aborted"));
            }
            _ => {}
        }
    }

    /// The flows this host sent, with their digests.
    pub fn sent_flows(&self) -> Vec<SendRecord> {
        self.senders.values().map(Sender::finish).collect()
    }

    /// The flows this host received, with their digests, in (session, flow) order.
    pub fn received_flows(&self) -> Vec<RecvRecord> {
        self.receivers.values().map(Receiver::finish).collect()
    }

    fn next_stream_at(&self) -> Option<Instant> {
        self.senders.values().filter_map(|s| s.next_at).min()
    }
}

fn describe_kind(k: &FlowKind) -> String {
    match k {
        FlowKind::Bulk { bytes, message } => format!("bulk {bytes} bytes in messages of {message}"),
        FlowKind::Stream {
            count,
            size,
            interval,
            lifetime,
            ..
        } => {
            let mut s = format!(
                "stream of {count} messages of {size} bytes every {}ms",
                interval.as_millis()
            );
            if let Some(l) = lifetime {
                s.push_str(&format!(", lifetime {}ms", l.as_millis()));
            }
            s
        }
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
        self.stream_due(now);
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
        [
            ep.poll_timeout(),
            self.next_action_at(),
            self.next_stream_at(),
        ]
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
