//! The discrete-event engine: virtual time, the event queue, and the rules that move
//! datagrams between nodes, links, networks and NATs.
//!
//! Time jumps from one event to the next, so an idle simulated hour costs nothing. Events are
//! ordered by (time, insertion sequence), so two events at the same instant always run in the
//! order they were scheduled; at time zero every node is serviced (in host-name order)
//! before the scenario's timed events at zero. The only randomness is the scenario seed, split into one stream
//! per link direction and NAT (see [`crate::rng`]). A run stops when nothing is left to do, at
//! a simulated deadline, or when an event budget is spent.
//!
//! A datagram's journey: a node's [`Transmit`] enters its host's link `up`; coming out, it is
//! routed in that network: to a host there (its link `down`), to a NAT's outside address there
//! (the NAT's link `down`, then inbound translation and routing in the private network), or,
//! in a private network, out through its NAT (outbound translation, the NAT's link `up`, then
//! routing in the parent network). A host that sends to its own NAT's outside address is
//! hairpinned inside the NAT if the NAT allows it. A datagram remembers the members (its
//! sending host, then each NAT) it has passed through; each time it is handed to another
//! member, it is dropped if an active partition puts that member on a different side from
//! any of them. So `sides: [[alice], [bob]]` cuts alice from bob even through their NATs, and
//! `sides: [[home], [bob]]` cuts everything behind the NAT `home` from bob.

use core::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rtmfp::time::Instant;

use crate::host::{Attachment, Host, HostInfo};
use crate::link::{Alteration, Datagram, Direction, Link, LinkDirection};
use crate::nat::{Nat, NatNote};
use crate::node::{Node, Transmit};
use crate::pcap::{Capture, CapturedPacket};
use crate::rng::SimRng;
use crate::topology::{Action, HostId, LinkId, Member, NetworkId, Topology, Via};
use crate::trace::{DropReason, NatWay, Trace, TraceEvent};

/// The most datagrams one node may hand over in one go before the engine stops taking them
/// (a guard against a node whose `poll_transmit` never returns `None`).
pub const MAX_TRANSMIT_BURST: u64 = 1_000_000;

/// When a run stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Run events up to and including this instant, then stop with the clock there.
    pub until: Option<Instant>,
    /// Stop after this many events in total (counting every event since the start).
    pub max_events: Option<u64>,
}

impl Limits {
    /// The event budget when none is given: a run always ends, even with a node that keeps
    /// asking for timers (a few seconds of wall-clock time at the measured speed).
    pub const DEFAULT_MAX_EVENTS: u64 = 100_000_000;

    /// No deadline and no budget: the run ends only when nothing is left to do.
    pub const UNBOUNDED: Limits = Limits {
        until: None,
        max_events: None,
    };
}

impl Default for Limits {
    /// No deadline, [`Limits::DEFAULT_MAX_EVENTS`].
    fn default() -> Limits {
        Limits {
            until: None,
            max_events: Some(Limits::DEFAULT_MAX_EVENTS),
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Nothing is scheduled: no datagram in flight, no timer, no timed event.
    Idle,
    /// The simulated deadline was reached.
    Deadline,
    /// The event budget was spent.
    EventBudget,
}

#[derive(Debug)]
enum EventKind {
    /// Let a node send and set its timer (at the start, and after [`Sim::with_node`]).
    Service(HostId),
    /// A node's deadline.
    NodeTimer { host: HostId, generation: u64 },
    /// A datagram comes out of a link direction.
    LinkExit {
        link: LinkId,
        dir: Direction,
        datagram: Datagram,
    },
    /// A NAT mapping's deadline.
    NatExpiry { nat: NetworkId, mapping: u64 },
    /// The topology's timed event with this index.
    Timed(usize),
}

#[derive(Debug)]
struct Scheduled {
    at: Instant,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A link during a run.
#[derive(Debug)]
struct LinkState {
    link: Link,
    owner: Member,
    network: NetworkId,
    /// Trace names of the two directions: `alice@home/up`, `alice@home/down`.
    up_place: Arc<str>,
    down_place: Arc<str>,
}

impl LinkState {
    fn place(&self, dir: Direction) -> &Arc<str> {
        match dir {
            Direction::Up => &self.up_place,
            Direction::Down => &self.down_place,
        }
    }
}

/// A network during a run.
#[derive(Debug)]
struct NetworkState {
    name: Arc<str>,
    /// Trace name for drops in this network: `net home`.
    place: Arc<str>,
    /// Who holds each address: attached hosts, and NATs whose outside is here.
    by_ip: BTreeMap<IpAddr, Member>,
    /// The NAT in front of this network (none for the internet).
    nat: Option<NatState>,
}

#[derive(Debug)]
struct NatState {
    nat: Nat,
    link: LinkId,
    /// Trace name for drops in the NAT: `nat home`.
    place: Arc<str>,
}

/// A simulated network with a node on every host.
pub struct Sim<N> {
    now: Instant,
    seed: u64,
    queue: BinaryHeap<Scheduled>,
    next_seq: u64,
    events_run: u64,
    next_datagram: u64,
    topology: Topology,
    networks: Vec<NetworkState>,
    hosts: Vec<Host<N>>,
    links: Vec<LinkState>,
    partitions: BTreeMap<usize, Vec<Vec<Member>>>,
    outages: BTreeMap<usize, Vec<(LinkId, Direction)>>,
    trace: Trace,
    capture: Option<Capture>,
    notes: Vec<NatNote>,
}

impl<N: Node> Sim<N> {
    /// Sets up `topology` with randomness from `seed`, asking `make_node` for each host's
    /// node (in host-name order). Nothing runs until [`Sim::run`] or [`Sim::step`].
    pub fn new(
        topology: &Topology,
        seed: u64,
        mut make_node: impl FnMut(&HostInfo) -> N,
    ) -> Sim<N> {
        let links: Vec<LinkState> = topology
            .links
            .iter()
            .map(|def| {
                let stream = |dir: &str| SimRng::stream(seed, &format!("link:{}:{dir}", def.name));
                LinkState {
                    link: Link {
                        name: def.name.as_str().into(),
                        up: LinkDirection::new(def.up.clone(), stream("up")),
                        down: LinkDirection::new(def.down.clone(), stream("down")),
                    },
                    owner: def.owner,
                    network: def.network,
                    up_place: format!("{}/up", def.name).into(),
                    down_place: format!("{}/down", def.name).into(),
                }
            })
            .collect();
        let mut networks: Vec<NetworkState> = topology
            .networks
            .iter()
            .map(|def| NetworkState {
                name: def.name.as_str().into(),
                place: format!("net {}", def.name).into(),
                by_ip: BTreeMap::new(),
                nat: def.nat.as_ref().map(|n| NatState {
                    nat: Nat::new(
                        n.config.clone(),
                        n.external,
                        SimRng::stream(seed, &format!("nat:{}", def.name)),
                    ),
                    link: n.link,
                    place: format!("nat {}", def.name).into(),
                }),
            })
            .collect();
        for (i, def) in topology.networks.iter().enumerate() {
            if let Some(nat) = &def.nat {
                networks[nat.parent.0]
                    .by_ip
                    .insert(nat.external, Member::Nat(NetworkId(i)));
            }
        }
        let mut hosts = Vec::new();
        for (i, def) in topology.hosts.iter().enumerate() {
            networks[def.network.0]
                .by_ip
                .insert(def.address.ip(), Member::Host(HostId(i)));
            let info = HostInfo {
                name: def.name.clone(),
                network: topology.networks[def.network.0].name.clone(),
                address: def.address,
            };
            hosts.push(Host {
                name: def.name.as_str().into(),
                node: make_node(&info),
                attachment: Some(Attachment {
                    network: def.network,
                    address: def.address,
                    link: def.link,
                }),
                last_link: def.link,
                timer: None,
                timer_generation: 0,
            });
        }
        let mut sim = Sim {
            now: Instant::ZERO,
            seed,
            queue: BinaryHeap::new(),
            next_seq: 0,
            events_run: 0,
            next_datagram: 1,
            topology: topology.clone(),
            networks,
            hosts,
            links,
            partitions: BTreeMap::new(),
            outages: BTreeMap::new(),
            trace: Trace::new(),
            capture: None,
            notes: Vec::new(),
        };
        for i in 0..sim.hosts.len() {
            sim.schedule(Instant::ZERO, EventKind::Service(HostId(i)));
        }
        for (i, event) in topology.events.iter().enumerate() {
            sim.schedule(event.at, EventKind::Timed(i));
        }
        sim
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The seed the run uses.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Events run so far.
    pub fn events_run(&self) -> u64 {
        self.events_run
    }

    /// The topology being run.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The trace, to set a summariser.
    pub fn trace_mut(&mut self) -> &mut Trace {
        &mut self.trace
    }

    /// Replaces the trace (e.g. with [`Trace::counting_only`] for heavy runs).
    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = trace;
    }

    /// Starts capturing what crosses every link (see [`crate::pcap`]).
    pub fn enable_capture(&mut self) {
        self.capture.get_or_insert_with(Capture::new);
    }

    /// The capture, if enabled.
    pub fn capture(&self) -> Option<&Capture> {
        self.capture.as_ref()
    }

    /// A random stream for the caller, independent of every network stream, e.g.
    /// `sim.rng("node:alice")` to seed a node's own randomness from the scenario seed.
    pub fn rng(&self, label: &str) -> SimRng {
        SimRng::stream(self.seed, &format!("user:{label}"))
    }

    /// The host called `name`.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.topology.host_id(name)
    }

    /// All hosts' ids, in name order.
    pub fn host_ids(&self) -> impl Iterator<Item = HostId> + use<N> {
        (0..self.hosts.len()).map(HostId)
    }

    /// A host's name.
    pub fn host_name(&self, host: HostId) -> Option<&str> {
        self.hosts.get(host.0).map(|h| &*h.name)
    }

    /// A host's current address, or `None` while it is offline (or if `host` is unknown).
    pub fn host_address(&self, host: HostId) -> Option<SocketAddr> {
        self.hosts.get(host.0)?.attachment.map(|a| a.address)
    }

    /// The node on `host`.
    pub fn node(&self, host: HostId) -> Option<&N> {
        self.hosts.get(host.0).map(|h| &h.node)
    }

    /// The node on `host`, to inspect or update after a run. Nothing it sends is taken and its
    /// timer is not re-armed: use [`Sim::with_node`] to make calls that should have effects.
    pub fn node_mut(&mut self, host: HostId) -> Option<&mut N> {
        self.hosts.get_mut(host.0).map(|h| &mut h.node)
    }

    /// Runs `f` on `host`'s node at the current instant (e.g. to make an application call),
    /// then takes what it wants to send and its new deadline. `None` if `host` is unknown.
    pub fn with_node<R>(
        &mut self,
        host: HostId,
        f: impl FnOnce(&mut N, Instant) -> R,
    ) -> Option<R> {
        let now = self.now;
        let h = self.hosts.get_mut(host.0)?;
        let r = f(&mut h.node, now);
        self.service(host);
        Some(r)
    }

    /// The outside address NAT `nat` currently maps `internal` to when talking to `remote`.
    pub fn nat_mapping(
        &self,
        nat: &str,
        internal: SocketAddr,
        remote: SocketAddr,
    ) -> Option<SocketAddr> {
        let network = self.networks.iter().find(|n| &*n.name == nat)?;
        network
            .nat
            .as_ref()?
            .nat
            .mapping_for(self.now, internal, remote)
    }

    /// When the next event is due, if any.
    pub fn next_event(&self) -> Option<Instant> {
        self.queue.peek().map(|e| e.at)
    }

    /// Runs one event; `false` if there was none.
    pub fn step(&mut self) -> bool {
        let Some(event) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(event.at);
        self.events_run += 1;
        self.dispatch(event.kind);
        true
    }

    /// Runs until `limits` stop it or nothing is left to do.
    pub fn run(&mut self, limits: Limits) -> Stop {
        loop {
            if limits.max_events.is_some_and(|max| self.events_run >= max) {
                return Stop::EventBudget;
            }
            let Some(next) = self.next_event() else {
                if let Some(until) = limits.until {
                    self.now = self.now.max(until);
                }
                return Stop::Idle;
            };
            if let Some(until) = limits.until
                && next > until
            {
                self.now = self.now.max(until);
                return Stop::Deadline;
            }
            self.step();
        }
    }

    fn schedule(&mut self, at: Instant, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Scheduled {
            at: at.max(self.now),
            seq,
            kind,
        });
    }

    fn record(&mut self, event: TraceEvent, payload: Option<&[u8]>) {
        self.trace.record(self.now, event, payload);
    }

    fn drop_datagram(&mut self, datagram: &Datagram, reason: DropReason, place: Arc<str>) {
        let event = TraceEvent::Dropped {
            id: datagram.id,
            origin: self.origin(datagram),
            reason,
            place,
            src: datagram.src,
            dst: datagram.dst,
            len: datagram.data.len(),
        };
        self.record(event, Some(&datagram.data));
    }

    /// The name of the host that sent `datagram`.
    fn origin(&self, datagram: &Datagram) -> Arc<str> {
        match datagram.via.members().next() {
            Some(Member::Host(h)) => self
                .hosts
                .get(h.0)
                .map_or_else(|| "?".into(), |h| h.name.clone()),
            _ => "?".into(),
        }
    }

    /// Records the node's notes (see [`Node::poll_note`]).
    fn take_notes(&mut self, host: HostId) {
        loop {
            let Some(h) = self.hosts.get_mut(host.0) else {
                return;
            };
            let Some(text) = h.node.poll_note() else {
                return;
            };
            let name = h.name.clone();
            self.record(TraceEvent::Note { host: name, text }, None);
        }
    }

    fn dispatch(&mut self, kind: EventKind) {
        match kind {
            EventKind::Service(host) => self.service(host),
            EventKind::NodeTimer { host, generation } => {
                let now = self.now;
                let Some(h) = self.hosts.get_mut(host.0) else {
                    return;
                };
                if h.timer_generation != generation {
                    return; // the node asked for another deadline since
                }
                h.timer = None;
                h.node.handle_timeout(now);
                self.service(host);
            }
            EventKind::LinkExit {
                link,
                dir,
                datagram,
            } => self.link_exit(link, dir, datagram),
            EventKind::NatExpiry { nat, mapping } => {
                let now = self.now;
                let mut notes = std::mem::take(&mut self.notes);
                let next = self.networks[nat.0]
                    .nat
                    .as_mut()
                    .and_then(|n| n.nat.check_expiry(now, mapping, &mut notes));
                self.notes = notes;
                self.nat_notes(nat);
                if let Some(deadline) = next {
                    self.schedule(deadline, EventKind::NatExpiry { nat, mapping });
                }
            }
            EventKind::Timed(i) => self.timed(i),
        }
    }

    /// Records the node's notes, takes everything it wants to send, then (re)arms its timer.
    fn service(&mut self, host: HostId) {
        self.take_notes(host);
        let mut taken = 0u64;
        loop {
            let now = self.now;
            let Some(h) = self.hosts.get_mut(host.0) else {
                return;
            };
            if taken >= MAX_TRANSMIT_BURST {
                let name = h.name.clone();
                self.record(TraceEvent::NodeFlood { host: name, taken }, None);
                break;
            }
            let Some(transmit) = h.node.poll_transmit(now) else {
                break;
            };
            taken += 1;
            self.emit(host, transmit);
        }
        self.take_notes(host);
        let Some(h) = self.hosts.get_mut(host.0) else {
            return;
        };
        let wanted = h.node.poll_timeout();
        if wanted != h.timer {
            h.timer = wanted;
            h.timer_generation += 1;
            let generation = h.timer_generation;
            if let Some(at) = wanted {
                self.schedule(at, EventKind::NodeTimer { host, generation });
            }
        }
    }

    /// A node's datagram enters its host's link.
    fn emit(&mut self, host: HostId, transmit: Transmit) {
        let id = self.next_datagram;
        self.next_datagram += 1;
        let h = &self.hosts[host.0];
        let name = h.name.clone();
        let attachment = h.attachment;
        let src = match attachment {
            Some(a) if transmit.local == a.address => Some(a.address),
            Some(a)
                if transmit.local.ip().is_unspecified()
                    && transmit.local.port() == a.address.port()
                    && transmit.local.is_ipv4() == a.address.is_ipv4() =>
            {
                Some(a.address)
            }
            _ => None,
        };
        let datagram = Datagram {
            id,
            src: src.unwrap_or(transmit.local),
            dst: transmit.destination,
            data: transmit.contents,
            via: Via::from(Member::Host(host)),
        };
        let sent = TraceEvent::Sent {
            id,
            host: name.clone(),
            src: datagram.src,
            dst: datagram.dst,
            len: datagram.data.len(),
        };
        self.record(sent, Some(&datagram.data));
        match (attachment, src) {
            (None, _) => self.drop_datagram(
                &datagram,
                DropReason::HostOffline,
                format!("host {name}").into(),
            ),
            (Some(_), None) => self.drop_datagram(
                &datagram,
                DropReason::BadSource,
                format!("host {name}").into(),
            ),
            (Some(a), Some(_)) => self.enter_link(a.link, Direction::Up, datagram),
        }
    }

    /// A datagram enters one direction of a link.
    fn enter_link(&mut self, link: LinkId, dir: Direction, datagram: Datagram) {
        let now = self.now;
        let wire_size = datagram.wire_size();
        let state = &mut self.links[link.0];
        let place = state.place(dir).clone();
        let direction = state.link.direction_mut(dir);
        let departs = match direction.admit(now, wire_size) {
            Ok(departs) => departs,
            Err(reason) => return self.drop_datagram(&datagram, reason, place),
        };
        let Datagram {
            id,
            src,
            dst,
            data,
            via,
        } = datagram;
        let passages = direction.pass(departs, data);
        for passage in passages {
            let id = if passage.duplicate {
                let copy = self.next_datagram;
                self.next_datagram += 1;
                self.record(
                    TraceEvent::Duplicated {
                        id,
                        copy,
                        place: place.clone(),
                    },
                    None,
                );
                copy
            } else {
                id
            };
            for alteration in &passage.altered {
                let event = match *alteration {
                    Alteration::BitFlipped { bit } => TraceEvent::Corrupted {
                        id,
                        bit,
                        place: place.clone(),
                    },
                    Alteration::Truncated { from, to } => TraceEvent::Truncated {
                        id,
                        from,
                        to,
                        place: place.clone(),
                    },
                };
                self.record(event, None);
            }
            if passage.reordered {
                let extra = self.links[link.0]
                    .link
                    .direction_mut(dir)
                    .config()
                    .reorder
                    .map(|r| r.delay)
                    .unwrap_or_default();
                self.record(
                    TraceEvent::Reordered {
                        id,
                        extra,
                        place: place.clone(),
                    },
                    None,
                );
            }
            let datagram = Datagram {
                id,
                src,
                dst,
                data: passage.data,
                via,
            };
            self.schedule(
                passage.arrives,
                EventKind::LinkExit {
                    link,
                    dir,
                    datagram,
                },
            );
        }
    }

    /// A datagram comes out of a link direction.
    fn link_exit(&mut self, link: LinkId, dir: Direction, datagram: Datagram) {
        let state = &self.links[link.0];
        let (owner, network) = (state.owner, state.network);
        if let Some(capture) = &mut self.capture {
            let packet = CapturedPacket {
                at: self.now,
                src: datagram.src,
                dst: datagram.dst,
                data: datagram.data.clone(),
            };
            capture.record(&state.link.name, packet);
        }
        match (owner, dir) {
            (_, Direction::Up) => self.route(network, datagram),
            (Member::Host(host), Direction::Down) => self.deliver(host, link, datagram),
            (Member::Nat(nat), Direction::Down) => self.nat_inbound(nat, datagram),
        }
    }

    /// Whether an active partition puts `a` and `b` on different sides.
    fn partitioned(&self, a: Member, b: Member) -> bool {
        a != b
            && self.partitions.values().any(|sides| {
                let side_of = |m: Member| sides.iter().position(|s| s.contains(&m));
                matches!((side_of(a), side_of(b)), (Some(x), Some(y)) if x != y)
            })
    }

    /// Passes a datagram in network `net` to member `to`, or drops it if a partition separates
    /// `to` from anything the datagram has passed through.
    fn hand_over(&mut self, net: NetworkId, to: Member, datagram: &mut Datagram) -> bool {
        if !self.partitions.is_empty() && datagram.via.members().any(|m| self.partitioned(m, to)) {
            let place = self.networks[net.0].place.clone();
            self.drop_datagram(datagram, DropReason::Partition, place);
            return false;
        }
        datagram.via.push(to);
        true
    }

    /// Routes a datagram that came into network `net`.
    fn route(&mut self, net: NetworkId, mut datagram: Datagram) {
        if datagram.src.is_ipv4() != datagram.dst.is_ipv4() {
            let place = self.networks[net.0].place.clone();
            return self.drop_datagram(&datagram, DropReason::NoRoute, place);
        }
        let network = &self.networks[net.0];
        match network.by_ip.get(&datagram.dst.ip()).copied() {
            Some(Member::Host(host)) => {
                let Some(attachment) = self.hosts[host.0].attachment else {
                    let place = network.place.clone();
                    return self.drop_datagram(&datagram, DropReason::NoRoute, place);
                };
                if self.hand_over(net, Member::Host(host), &mut datagram) {
                    self.enter_link(attachment.link, Direction::Down, datagram);
                }
            }
            Some(Member::Nat(nat)) => {
                let Some(link) = self.networks[nat.0].nat.as_ref().map(|n| n.link) else {
                    return;
                };
                if self.hand_over(net, Member::Nat(nat), &mut datagram) {
                    self.enter_link(link, Direction::Down, datagram);
                }
            }
            None => match &network.nat {
                Some(nat) if nat.nat.external_ip() == datagram.dst.ip() => {
                    self.hairpin(net, datagram);
                }
                Some(_) => self.nat_outbound(net, datagram),
                None => {
                    let place = network.place.clone();
                    self.drop_datagram(&datagram, DropReason::NoRoute, place);
                }
            },
        }
    }

    /// Translates the source of a datagram leaving private network `net` and sends it up the
    /// NAT's link.
    fn nat_outbound(&mut self, net: NetworkId, mut datagram: Datagram) {
        if !self.hand_over(net, Member::Nat(net), &mut datagram) {
            return;
        }
        let Some(new_src) = self.translate_out(net, &datagram, false) else {
            return;
        };
        datagram.src = new_src;
        if let Some(link) = self.networks[net.0].nat.as_ref().map(|n| n.link) {
            self.enter_link(link, Direction::Up, datagram);
        }
    }

    /// Outbound translation with its trace lines; `None` if the NAT refused (already traced).
    fn translate_out(
        &mut self,
        net: NetworkId,
        datagram: &Datagram,
        hairpin: bool,
    ) -> Option<SocketAddr> {
        let now = self.now;
        let mut notes = std::mem::take(&mut self.notes);
        let state = self.networks[net.0].nat.as_mut()?;
        let result = state
            .nat
            .outbound(now, datagram.src, datagram.dst, &mut notes);
        let place = state.place.clone();
        self.notes = notes;
        self.nat_notes(net);
        match result {
            Ok(new_src) => {
                let event = TraceEvent::NatTranslated {
                    id: datagram.id,
                    nat: self.networks[net.0].name.clone(),
                    way: NatWay::Out,
                    before: datagram.src,
                    after: new_src,
                    hairpin,
                };
                self.record(event, None);
                Some(new_src)
            }
            Err(reason) => {
                self.drop_datagram(datagram, reason, place);
                None
            }
        }
    }

    /// Inbound translation with its trace lines; `None` if the NAT refused (already traced).
    fn translate_in(
        &mut self,
        net: NetworkId,
        datagram: &Datagram,
        hairpin: bool,
    ) -> Option<SocketAddr> {
        let now = self.now;
        let mut notes = std::mem::take(&mut self.notes);
        let state = self.networks[net.0].nat.as_mut()?;
        let result = state
            .nat
            .inbound(now, datagram.dst.port(), datagram.src, &mut notes);
        let place = state.place.clone();
        self.notes = notes;
        self.nat_notes(net);
        match result {
            Ok(internal) => {
                let event = TraceEvent::NatTranslated {
                    id: datagram.id,
                    nat: self.networks[net.0].name.clone(),
                    way: NatWay::In,
                    before: datagram.dst,
                    after: internal,
                    hairpin,
                };
                self.record(event, None);
                Some(internal)
            }
            Err(reason) => {
                self.drop_datagram(datagram, reason, place);
                None
            }
        }
    }

    /// A datagram from inside `net` to its own NAT's outside address.
    fn hairpin(&mut self, net: NetworkId, mut datagram: Datagram) {
        let Some(state) = self.networks[net.0].nat.as_ref() else {
            return;
        };
        if !state.nat.config().hairpinning {
            let place = state.place.clone();
            return self.drop_datagram(&datagram, DropReason::HairpinOff, place);
        }
        if !self.hand_over(net, Member::Nat(net), &mut datagram) {
            return;
        }
        let Some(new_src) = self.translate_out(net, &datagram, true) else {
            return;
        };
        datagram.src = new_src;
        let Some(internal) = self.translate_in(net, &datagram, true) else {
            return;
        };
        datagram.dst = internal;
        self.route_inside(net, datagram);
    }

    /// A datagram came down a NAT's link to its outside address.
    fn nat_inbound(&mut self, net: NetworkId, mut datagram: Datagram) {
        let Some(internal) = self.translate_in(net, &datagram, false) else {
            return;
        };
        datagram.dst = internal;
        self.route_inside(net, datagram);
    }

    /// Routes a datagram the NAT of `net` translated inwards: its destination is an inside
    /// address, so if no host holds it now (the host left the network), it is dropped there
    /// rather than sent back out through the NAT.
    fn route_inside(&mut self, net: NetworkId, datagram: Datagram) {
        let network = &self.networks[net.0];
        if !network.by_ip.contains_key(&datagram.dst.ip()) {
            let place = network.place.clone();
            return self.drop_datagram(&datagram, DropReason::NoRoute, place);
        }
        self.route(net, datagram);
    }

    /// A datagram came down a host's link.
    fn deliver(&mut self, host: HostId, link: LinkId, datagram: Datagram) {
        let now = self.now;
        let h = &mut self.hosts[host.0];
        let name = h.name.clone();
        let reason = match h.attachment {
            Some(a) if a.link == link && a.address == datagram.dst => None,
            Some(a) if a.link == link && a.address.ip() == datagram.dst.ip() => {
                Some(DropReason::PortUnreachable)
            }
            _ => Some(DropReason::NotAttached),
        };
        if let Some(reason) = reason {
            return self.drop_datagram(&datagram, reason, format!("host {name}").into());
        }
        let event = TraceEvent::Delivered {
            id: datagram.id,
            origin: self.origin(&datagram),
            host: name,
            src: datagram.src,
            dst: datagram.dst,
            len: datagram.data.len(),
        };
        self.trace.record(now, event, Some(&datagram.data));
        let h = &mut self.hosts[host.0];
        h.node
            .handle_datagram(now, datagram.dst, datagram.src, &datagram.data);
        self.service(host);
    }

    /// Traces what NAT `net` did to its table and schedules new mappings' expiry.
    fn nat_notes(&mut self, net: NetworkId) {
        let notes = std::mem::take(&mut self.notes);
        let nat_name = self.networks[net.0].name.clone();
        for note in &notes {
            let event = match *note {
                NatNote::Mapped {
                    id,
                    internal,
                    external,
                    remote,
                } => {
                    let deadline = self.networks[net.0]
                        .nat
                        .as_ref()
                        .and_then(|n| n.nat.deadline(id));
                    if let Some(deadline) = deadline {
                        self.schedule(
                            deadline,
                            EventKind::NatExpiry {
                                nat: net,
                                mapping: id,
                            },
                        );
                    }
                    TraceEvent::NatMapped {
                        nat: nat_name.clone(),
                        internal,
                        external,
                        remote: remote.describe(),
                    }
                }
                NatNote::Expired {
                    internal,
                    external,
                    why,
                } => TraceEvent::NatExpired {
                    nat: nat_name.clone(),
                    internal,
                    external,
                    why,
                },
                NatNote::Rebound { internal, old, new } => TraceEvent::NatRebound {
                    nat: nat_name.clone(),
                    internal,
                    old,
                    new,
                },
            };
            self.record(event, None);
        }
        let mut notes = notes;
        notes.clear();
        self.notes = notes;
    }

    /// The link `member` uses now (a host's last link while it is offline).
    fn current_link(&self, member: Member) -> Option<LinkId> {
        match member {
            Member::Host(h) => self
                .hosts
                .get(h.0)
                .map(|h| h.attachment.map_or(h.last_link, |a| a.link)),
            Member::Nat(n) => self.networks.get(n.0)?.nat.as_ref().map(|n| n.link),
        }
    }

    fn member_name(&self, member: Member) -> Arc<str> {
        match member {
            Member::Host(h) => self.hosts[h.0].name.clone(),
            Member::Nat(n) => self.networks[n.0].name.clone(),
        }
    }

    fn sides_text(&self, sides: &[Vec<Member>]) -> String {
        sides
            .iter()
            .map(|side| {
                let names: Vec<Arc<str>> = side.iter().map(|m| self.member_name(*m)).collect();
                format!("[{}]", names.join(" "))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Runs the topology's timed event `i`.
    fn timed(&mut self, i: usize) {
        let Some(event) = self.topology.events.get(i) else {
            return;
        };
        let action = event.action.clone();
        let now = self.now;
        match action {
            Action::OutageBegins { target, dirs } => {
                let Some(link) = self.current_link(target) else {
                    return;
                };
                let mut downed = Vec::new();
                for &dir in dirs.list() {
                    self.links[link.0].link.direction_mut(dir).begin_outage();
                    let place = self.links[link.0].place(dir).clone();
                    self.record(TraceEvent::OutageBegins { place }, None);
                    downed.push((link, dir));
                }
                self.outages.insert(i, downed);
            }
            Action::OutageEnds { begins } => {
                for (link, dir) in self.outages.remove(&begins).unwrap_or_default() {
                    self.links[link.0].link.direction_mut(dir).end_outage();
                    let place = self.links[link.0].place(dir).clone();
                    self.record(TraceEvent::OutageEnds { place }, None);
                }
            }
            Action::PartitionBegins { id, sides } => {
                let text = self.sides_text(&sides);
                self.partitions.insert(id, sides);
                self.record(TraceEvent::PartitionBegins { sides: text }, None);
            }
            Action::PartitionEnds { id } => {
                if let Some(sides) = self.partitions.remove(&id) {
                    let text = self.sides_text(&sides);
                    self.record(TraceEvent::PartitionEnds { sides: text }, None);
                }
            }
            Action::Rebind { nat, host } => {
                let only = match host {
                    Some(h) => match self.hosts[h.0].attachment {
                        Some(a) if a.network == nat => Some(a.address.ip()),
                        _ => return, // the host is not behind this NAT now: nothing to rebind
                    },
                    None => None,
                };
                let mut notes = std::mem::take(&mut self.notes);
                if let Some(state) = self.networks[nat.0].nat.as_mut() {
                    state.nat.rebind(now, only, &mut notes);
                }
                self.notes = notes;
                self.nat_notes(nat);
            }
            Action::Flush { nat } => {
                let mut notes = std::mem::take(&mut self.notes);
                if let Some(state) = self.networks[nat.0].nat.as_mut() {
                    state.nat.flush(&mut notes);
                }
                self.notes = notes;
                self.nat_notes(nat);
            }
            Action::Detach { host } => {
                if self.detach(host) {
                    let now = self.now;
                    self.hosts[host.0].node.addresses_changed(now, &[]);
                    self.service(host);
                }
            }
            Action::Attach {
                host,
                network,
                address,
                link,
            } => {
                self.detach(host);
                let member = Member::Host(host);
                self.networks[network.0].by_ip.insert(address.ip(), member);
                let h = &mut self.hosts[host.0];
                h.attachment = Some(Attachment {
                    network,
                    address,
                    link,
                });
                h.last_link = link;
                let event = TraceEvent::Attached {
                    host: h.name.clone(),
                    network: self.networks[network.0].name.clone(),
                    addr: address,
                };
                self.record(event, None);
                self.hosts[host.0].node.addresses_changed(now, &[address]);
                self.service(host);
            }
            Action::SetFaults {
                target,
                dirs,
                config,
            } => {
                let Some(link) = self.current_link(target) else {
                    return;
                };
                for &dir in dirs.list() {
                    self.links[link.0]
                        .link
                        .direction_mut(dir)
                        .set_config(config.clone());
                    let place = self.links[link.0].place(dir).clone();
                    self.record(TraceEvent::FaultsChanged { place }, None);
                }
            }
        }
    }

    /// Takes `host` off its network; `false` if it was not on one.
    fn detach(&mut self, host: HostId) -> bool {
        let Some(a) = self.hosts[host.0].attachment.take() else {
            return false;
        };
        let member = Member::Host(host);
        let by_ip = &mut self.networks[a.network.0].by_ip;
        if by_ip.get(&a.address.ip()) == Some(&member) {
            by_ip.remove(&a.address.ip());
        }
        let event = TraceEvent::Detached {
            host: self.hosts[host.0].name.clone(),
            network: self.networks[a.network.0].name.clone(),
            addr: a.address,
        };
        self.record(event, None);
        true
    }
}

impl<N> core::fmt::Debug for Sim<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("seed", &self.seed)
            .field("pending", &self.queue.len())
            .field("events_run", &self.events_run)
            .finish()
    }
}
