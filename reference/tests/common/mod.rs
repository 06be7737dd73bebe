//! A deterministic network for sans-IO endpoints: virtual time, addresses,
//! fixed latency, NAT-like address translation and per-datagram hooks that
//! drop, duplicate, delay or rewrite. Every loop is bounded.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::crypto::flash::dh::DhGroup;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::crypto::transparent::{TransparentCipher, TransparentProfile};
use rtmfp::crypto::{CryptoProfile, PacketCipher};
use rtmfp::endpoint::{ApiError, Endpoint, EndpointConfig, Event, SessionHandle, SessionInfo};
use rtmfp::flow::{FlowOptions, MessageId, MessageOptions, RecvFlowId, SendFlowId};
use rtmfp::random::SeededRandom;
use rtmfp::session::SessionState;
use rtmfp::time::Instant;
use rtmfp::wire::packet::{Packet, PlainPacket};
use rtmfp::wire::{Chunk, multiplex};

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A NAT in front of one node: its public address and the far addresses the
/// node has sent to (address-restricted filtering: only those may answer).
#[derive(Debug, Clone)]
pub struct Nat {
    pub public: SocketAddr,
    pub allowed: BTreeSet<SocketAddr>,
    pub filtered: u64,
}

/// One endpoint on the network.
pub struct Node {
    pub name: &'static str,
    /// The address the endpoint's socket is bound to.
    pub addr: SocketAddr,
    /// More addresses that reach this node (second interfaces, rebinding).
    pub aliases: Vec<SocketAddr>,
    pub nat: Option<Nat>,
    pub ep: Endpoint,
    pub events: Vec<(Instant, Event)>,
    /// Whether the node is running (a stopped node neither sends nor receives).
    pub up: bool,
    /// Whether the harness polls the node's events (an application that
    /// stops polling leaves them queued in the endpoint).
    pub polls_events: bool,
}

/// A datagram in flight.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub data: Vec<u8>,
    /// Index of the sending node.
    pub sender: usize,
    /// The chunk types of the plain packet, when a default key (or the
    /// transparent profile) opens it.
    pub chunks: Option<Vec<u8>>,
    /// The unscrambled session ID.
    pub session_id: u32,
    /// Sequence number of this datagram in the run (0-based).
    pub seq: u64,
}

impl Datagram {
    pub fn has(&self, chunk_type: u8) -> bool {
        self.chunks
            .as_ref()
            .is_some_and(|c| c.contains(&chunk_type))
    }
}

/// What a hook decides for a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Deliver,
    Drop,
    /// Deliver twice.
    Duplicate,
    /// Deliver after this much extra delay.
    Delay(Duration),
}

/// One line of the network log.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub len: usize,
    pub sender: usize,
    pub chunks: Option<Vec<u8>>,
    pub session_id: u32,
    pub verdict: Verdict,
    pub data: Vec<u8>,
}

impl Logged {
    pub fn has(&self, chunk_type: u8) -> bool {
        self.chunks
            .as_ref()
            .is_some_and(|c| c.contains(&chunk_type))
    }
}

pub type Hook = Box<dyn FnMut(&mut Datagram, Instant) -> Verdict>;

pub struct Net {
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub latency: Duration,
    /// Datagrams longer than this are dropped (a path MTU).
    pub mtu: Option<usize>,
    in_flight: BTreeMap<(Instant, u64), Datagram>,
    seq: u64,
    hook: Option<Hook>,
    classifier: Box<dyn PacketCipher>,
    pub log: Vec<Logged>,
    pub black_holed: u64,
    /// Let the nodes send after each delivered datagram (true, as an event
    /// loop does), or only once every datagram due at an instant was
    /// delivered (false: a burst is processed before any answer goes out).
    pub transmit_between_deliveries: bool,
}

/// The transparent profile with identity `name`.
pub fn transparent(name: &str) -> Box<dyn CryptoProfile> {
    Box::new(TransparentProfile::new(name.as_bytes().to_vec()))
}

/// A cheap Flash configuration: ephemeral keys in group 2 only.
pub fn small_flash() -> FlashConfig {
    FlashConfig {
        groups: vec![DhGroup::Modp1024],
        ..FlashConfig::default()
    }
}

pub fn flash(config: FlashConfig, seed: u64) -> FlashProfile {
    FlashProfile::new(config, &mut SeededRandom::new(seed)).unwrap()
}

/// A config with the defaults; tests change what they test.
pub fn config() -> EndpointConfig {
    EndpointConfig::default()
}

impl Net {
    pub fn new() -> Self {
        Net {
            now: Instant::from_millis(1_000),
            nodes: Vec::new(),
            latency: ms(10),
            mtu: None,
            in_flight: BTreeMap::new(),
            seq: 0,
            hook: None,
            classifier: Box::new(TransparentCipher),
            log: Vec::new(),
            black_holed: 0,
            transmit_between_deliveries: true,
        }
    }

    /// Adds a node; returns its index. The first node's profile decides how
    /// the log classifies datagrams.
    pub fn add(
        &mut self,
        name: &'static str,
        at: &str,
        config: EndpointConfig,
        profile: Box<dyn CryptoProfile>,
        seed: u64,
    ) -> usize {
        if self.nodes.is_empty() {
            self.classifier = profile.default_cipher();
        }
        let ep = Endpoint::new(config, profile, Box::new(SeededRandom::new(seed)));
        self.nodes.push(Node {
            name,
            addr: addr(at),
            aliases: Vec::new(),
            nat: None,
            ep,
            events: Vec::new(),
            up: true,
            polls_events: true,
        });
        self.nodes.len() - 1
    }

    /// Adds a node with a cheap Flash profile (group 2, see [`small_flash`]).
    pub fn add_flash(
        &mut self,
        name: &'static str,
        at: &str,
        config: EndpointConfig,
        seed: u64,
    ) -> usize {
        self.add(name, at, config, Box::new(flash(small_flash(), seed)), seed)
    }

    pub fn set_hook(&mut self, hook: impl FnMut(&mut Datagram, Instant) -> Verdict + 'static) {
        self.hook = Some(Box::new(hook));
    }

    pub fn clear_hook(&mut self) {
        self.hook = None;
    }

    /// Puts node `i` behind a NAT with public address `public`.
    pub fn nat(&mut self, i: usize, public: &str) {
        self.nodes[i].nat = Some(Nat {
            public: addr(public),
            allowed: BTreeSet::new(),
            filtered: 0,
        });
    }

    pub fn ep(&mut self, i: usize) -> &mut Endpoint {
        &mut self.nodes[i].ep
    }

    /// Tells node `i` its address changed, which makes its open sessions ping.
    pub fn ping(&mut self, i: usize) {
        let now = self.now;
        self.nodes[i].ep.near_address_changed(now);
    }

    /// The address others reach node `i` at.
    pub fn public(&self, i: usize) -> SocketAddr {
        match &self.nodes[i].nat {
            Some(n) => n.public,
            None => self.nodes[i].addr,
        }
    }

    /// The canonical Endpoint Discriminator of node `i`.
    pub fn epd(&self, i: usize) -> Vec<u8> {
        let p = self.nodes[i].ep.profile();
        p.canonical_epd(p.near_certificate()).unwrap()
    }

    fn classify(&mut self, data: &[u8]) -> (u32, Option<Vec<u8>>) {
        let Ok(m) = multiplex::Multiplex::decode(data) else {
            return (0, None);
        };
        let (sid, enc) = (m.session_id(), m.encrypted_packet);
        let mut plain = Vec::new();
        if self.classifier.decrypt(enc, &mut plain).is_err() {
            return (sid, None);
        }
        let Ok(p) = PlainPacket::decode(&plain) else {
            return (sid, None);
        };
        (sid, Some(p.chunks().map(|c| c.chunk_type).collect()))
    }

    /// Sends everything the nodes want to send now and collects their events.
    fn flush(&mut self) {
        self.transmit_all();
        if self.poll_events() {
            // Taking messages may reopen receive windows: send the updates.
            self.transmit_all();
        }
    }

    /// Collects the events of the nodes that poll; returns whether there were any.
    fn poll_events(&mut self) -> bool {
        let mut polled = false;
        for n in self.nodes.iter_mut().filter(|n| n.polls_events) {
            while let Some(e) = n.ep.poll_event() {
                n.events.push((self.now, e));
                polled = true;
            }
        }
        polled
    }

    /// Sends everything the nodes want to send now.
    fn transmit_all(&mut self) {
        for i in 0..self.nodes.len() {
            for _ in 0..100_000 {
                if !self.nodes[i].up {
                    break;
                }
                let now = self.now;
                let Some(t) = self.nodes[i].ep.poll_transmit(now) else {
                    break;
                };
                let mut from = self.nodes[i].addr;
                if let Some(nat) = self.nodes[i].nat.as_mut() {
                    from = nat.public;
                    nat.allowed.insert(t.destination);
                }
                let (session_id, chunks) = self.classify(&t.contents);
                let mut d = Datagram {
                    from,
                    to: t.destination,
                    data: t.contents,
                    sender: i,
                    chunks,
                    session_id,
                    seq: self.seq,
                };
                self.seq += 1;
                let verdict = match self.hook.as_mut() {
                    Some(h) => h(&mut d, now),
                    None => Verdict::Deliver,
                };
                let verdict = match self.mtu {
                    Some(mtu) if d.data.len() > mtu => Verdict::Drop,
                    _ => verdict,
                };
                self.log.push(Logged {
                    at: now,
                    from: d.from,
                    to: d.to,
                    len: d.data.len(),
                    sender: i,
                    chunks: d.chunks.clone(),
                    session_id: d.session_id,
                    verdict,
                    data: d.data.clone(),
                });
                let at = now + self.latency;
                match verdict {
                    Verdict::Drop => {}
                    Verdict::Deliver => self.schedule(at, d),
                    Verdict::Duplicate => {
                        self.schedule(at, d.clone());
                        self.schedule(at, d);
                    }
                    Verdict::Delay(extra) => self.schedule(at + extra, d),
                }
            }
        }
    }

    fn schedule(&mut self, at: Instant, d: Datagram) {
        self.seq += 1;
        self.in_flight.insert((at, self.seq), d);
    }

    /// Injects a datagram as if it had been sent now (for crafted packets).
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let (session_id, chunks) = self.classify(&data);
        let d = Datagram {
            from,
            to,
            data,
            sender: usize::MAX,
            chunks,
            session_id,
            seq: self.seq,
        };
        let at = self.now + self.latency;
        self.schedule(at, d);
    }

    fn deliver(&mut self, d: Datagram) {
        let now = self.now;
        // A NAT's public address first.
        for n in self.nodes.iter_mut().filter(|n| n.up) {
            if let Some(nat) = n.nat.as_mut()
                && nat.public == d.to
            {
                if !nat.allowed.contains(&d.from) {
                    nat.filtered += 1;
                    return;
                }
                n.ep.handle_datagram(now, d.from, &d.data);
                return;
            }
        }
        for n in self.nodes.iter_mut().filter(|n| n.up) {
            if n.nat.is_none() && (n.addr == d.to || n.aliases.contains(&d.to)) {
                n.ep.handle_datagram(now, d.from, &d.data);
                return;
            }
        }
        self.black_holed += 1;
    }

    /// Runs until `done` holds or `max` of virtual time passes; returns whether `done` held.
    pub fn run_until(&mut self, max: Duration, mut done: impl FnMut(&Net) -> bool) -> bool {
        self.run_until_mut(max, |n| done(n))
    }

    /// Like `run_until`, but `step` may act on the network (queue messages,
    /// close flows) each time it is called: after every instant, and again
    /// at the same instant while what it did makes the nodes send.
    pub fn run_until_mut(&mut self, max: Duration, mut step: impl FnMut(&mut Net) -> bool) -> bool {
        let deadline = self.now + max;
        for _ in 0..1_000_000 {
            self.flush();
            let before = (self.seq, self.event_count());
            if step(self) {
                return true;
            }
            self.flush();
            if (self.seq, self.event_count()) != before {
                continue;
            }
            let next_delivery = self.in_flight.keys().next().map(|(t, _)| *t);
            let next_timer = self
                .nodes
                .iter()
                .filter(|n| n.up)
                .filter_map(|n| n.ep.poll_timeout())
                .min();
            let next = match (next_delivery, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => {
                        self.now = deadline;
                        return step(self);
                    }
                },
            };
            if next > deadline {
                self.now = deadline;
                self.flush();
                return step(self);
            }
            self.now = self.now.max(next);
            // One datagram at a time, each followed by a chance to send, as
            // an event loop around a socket does (a receiver acknowledges
            // every second data packet even when a whole flight arrives at once).
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let d = entry.remove();
                self.deliver(d);
                if self.transmit_between_deliveries {
                    self.transmit_all();
                }
            }
            let now = self.now;
            for n in &mut self.nodes {
                if n.up && n.ep.poll_timeout().is_some_and(|t| t <= now) {
                    n.ep.handle_timeout(now);
                }
            }
        }
        panic!("harness loop bound reached");
    }

    fn event_count(&self) -> usize {
        self.nodes.iter().map(|n| n.events.len()).sum()
    }

    /// Runs for exactly `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    pub fn info(&self, i: usize, h: SessionHandle) -> SessionInfo {
        self.nodes[i].ep.session(h).expect("session known")
    }

    pub fn state(&self, i: usize, h: SessionHandle) -> SessionState {
        self.info(i, h).state
    }

    /// The handle of node `i`'s only live session, if it has exactly one.
    pub fn only_session(&self, i: usize) -> Option<SessionHandle> {
        let s = self.nodes[i].ep.sessions();
        (s.len() == 1).then(|| s[0])
    }

    /// Node `i` connects to node `j` (by its canonical EPD and public address).
    pub fn connect(&mut self, i: usize, j: usize) -> SessionHandle {
        let epd = self.epd(j);
        let to = self.public(j);
        let now = self.now;
        self.nodes[i].ep.connect(now, epd, &[to]).unwrap()
    }

    /// Connects `i` to `j` and runs until both ends are S_OPEN; returns both handles.
    pub fn open(&mut self, i: usize, j: usize) -> (SessionHandle, SessionHandle) {
        let h = self.connect(i, j);
        assert!(
            self.run_until(secs(30), |n| n.state(i, h) == SessionState::S_OPEN
                && n.incoming(j).is_some()),
            "session did not open"
        );
        let r = self.incoming(j).unwrap();
        (h, r)
    }

    /// The latest IncomingSession of node `j`.
    pub fn incoming(&self, j: usize) -> Option<SessionHandle> {
        self.nodes[j]
            .events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                Event::IncomingSession { session } => Some(*session),
                _ => None,
            })
    }

    pub fn events(&self, i: usize) -> Vec<Event> {
        self.nodes[i]
            .events
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Times at which node `i` sent datagrams carrying `chunk_type`.
    pub fn sent_times(&self, i: usize, chunk_type: u8) -> Vec<Instant> {
        self.log
            .iter()
            .filter(|l| l.sender == i && l.has(chunk_type))
            .map(|l| l.at)
            .collect()
    }

    /// Datagrams node `i` sent carrying `chunk_type`.
    pub fn sent_count(&self, i: usize, chunk_type: u8) -> usize {
        self.sent_times(i, chunk_type).len()
    }

    /// The messages node `i` received on session `s`, in delivery order:
    /// (receiving flow, sequence number, data).
    pub fn messages(&self, i: usize, s: SessionHandle) -> Vec<(RecvFlowId, u64, Vec<u8>)> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message {
                    session,
                    flow,
                    sequence_number,
                    data,
                } if *session == s => Some((*flow, *sequence_number, data.clone())),
                _ => None,
            })
            .collect()
    }

    /// The message payloads node `i` received on receiving flow `f` of session `s`.
    pub fn payloads(&self, i: usize, s: SessionHandle, f: RecvFlowId) -> Vec<Vec<u8>> {
        self.messages(i, s)
            .into_iter()
            .filter(|(flow, _, _)| *flow == f)
            .map(|(_, _, d)| d)
            .collect()
    }

    /// The flows the far end opened to node `i` on session `s`:
    /// (receiving flow, metadata, association).
    pub fn opened_flows(
        &self,
        i: usize,
        s: SessionHandle,
    ) -> Vec<(RecvFlowId, Vec<u8>, Option<SendFlowId>)> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::FlowOpened {
                    session,
                    flow,
                    metadata,
                    association,
                    ..
                } if *session == s => Some((*flow, metadata.clone(), *association)),
                _ => None,
            })
            .collect()
    }

    /// Whether node `i` has an event matching `pred`.
    pub fn has_event(&self, i: usize, pred: impl Fn(&Event) -> bool) -> bool {
        self.nodes[i].events.iter().any(|(_, e)| pred(e))
    }

    /// How many events of node `i` match `pred`.
    pub fn count_events(&self, i: usize, pred: impl Fn(&Event) -> bool) -> usize {
        self.nodes[i].events.iter().filter(|(_, e)| pred(e)).count()
    }

    /// Node `i` opens a sending flow on session `s` with `metadata`.
    pub fn open_flow(&mut self, i: usize, s: SessionHandle, metadata: &[u8]) -> SendFlowId {
        let now = self.now;
        self.nodes[i]
            .ep
            .open_flow(now, s, metadata, None, FlowOptions::default())
            .unwrap()
    }

    /// Node `i` queues a reliable message.
    pub fn send(&mut self, i: usize, s: SessionHandle, f: SendFlowId, data: &[u8]) -> MessageId {
        let now = self.now;
        self.nodes[i]
            .ep
            .send(now, s, f, data, MessageOptions::reliable())
            .unwrap()
    }

    /// Node `i` queues `messages` on flow `f` (waiting whenever the send
    /// buffer is full) and runs until node `j` has received them all on
    /// session `r` or `max` passes; returns the payloads `j` received on
    /// the flow that carried them.
    pub fn transfer(
        &mut self,
        (i, s, f): (usize, SessionHandle, SendFlowId),
        (j, r): (usize, SessionHandle),
        messages: &[Vec<u8>],
        max: Duration,
    ) -> Vec<Vec<u8>> {
        let mut next = 0;
        let first_event = self.nodes[j].events.len();
        self.run_until_mut(max, |net| {
            while next < messages.len() {
                let now = net.now;
                match net.nodes[i]
                    .ep
                    .send(now, s, f, &messages[next], MessageOptions::reliable())
                {
                    Ok(_) => next += 1,
                    Err(ApiError::Flow(rtmfp::flow::ApiError::BufferFull { .. })) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            net.nodes[j].events[first_event..]
                .iter()
                .filter(|(_, e)| matches!(e, Event::Message { session, .. } if *session == r))
                .count()
                >= messages.len()
        });
        self.nodes[j].events[first_event..]
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message { session, data, .. } if *session == r => Some(data.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Asserts that `got` are exactly the messages `want`, in order, with a
/// short description of the first difference (not megabytes of bytes).
#[track_caller]
pub fn assert_messages(got: &[Vec<u8>], want: &[Vec<u8>]) {
    let index = |m: &Vec<u8>| {
        m.get(..8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap()))
    };
    if let Some(k) = (0..got.len().max(want.len())).find(|&k| got.get(k) != want.get(k)) {
        panic!(
            "{} messages received, {} expected; first difference at {k}: got index {:?} ({} bytes), expected index {:?} ({} bytes); received indexes {:?}",
            got.len(),
            want.len(),
            got.get(k).and_then(index),
            got.get(k).map_or(0, Vec::len),
            want.get(k).and_then(index),
            want.get(k).map_or(0, Vec::len),
            got.iter().map(index).collect::<Vec<_>>(),
        );
    }
}

/// `n` message payloads of various sizes (some larger than a packet), each
/// starting with its index.
pub fn numbered_messages(n: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let len = 8 + ((k as u64 * 7919 + seed * 104_729) % 3000) as usize;
            let mut m = (k as u64).to_be_bytes().to_vec();
            m.extend((0..len - 8).map(|b| (b as u64 ^ seed ^ k as u64) as u8));
            m
        })
        .collect()
}

/// Builds a datagram under the transparent profile (or any checksum-only
/// default key with the transparent framing): session ID, then plain packet
/// and its checksum.
pub fn craft(session_id: u32, packet: &Packet) -> Vec<u8> {
    let mut plain = Vec::new();
    packet.encode(&mut plain).unwrap();
    craft_raw(session_id, &plain)
}

pub fn craft_raw(session_id: u32, plain: &[u8]) -> Vec<u8> {
    let mut enc = Vec::new();
    TransparentCipher.encrypt(plain, &mut enc).unwrap();
    let mut out = Vec::new();
    multiplex::encode(session_id, &enc, &mut out);
    out
}

/// Opens a transparent-profile datagram into its session ID and packet.
pub fn open_transparent(data: &[u8]) -> Option<(u32, Packet)> {
    let m = multiplex::Multiplex::decode(data).ok()?;
    let (sid, enc) = (m.session_id(), m.encrypted_packet);
    let mut plain = Vec::new();
    TransparentCipher.decrypt(enc, &mut plain).ok()?;
    Some((sid, Packet::decode(&plain).ok()?))
}

/// Rewrites a transparent-profile datagram's packet.
pub fn rewrite_transparent(data: &mut Vec<u8>, f: impl FnOnce(&mut Packet)) {
    if let Some((sid, mut p)) = open_transparent(data) {
        f(&mut p);
        *data = craft(sid, &p);
    }
}

/// Every chunk of a transparent-profile datagram.
pub fn chunks_of(data: &[u8]) -> Vec<Chunk> {
    open_transparent(data)
        .map(|(_, p)| p.chunks)
        .unwrap_or_default()
}
