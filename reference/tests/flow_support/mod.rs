//! Test bed for the flow layer: two FlowSets joined by an in-memory packet pipe on virtual time.
//!
//! Each side stands in for a session: it encodes what its FlowSet writes into a real plain
//! packet (common header with timestamps and the TC flag, chunks; RFC 7016 2.2.4), the pipe
//! loses, duplicates and delays (hence reorders) packets by a seeded generator or a script, and
//! the other side decodes the packet with `wire::packet` (Next User Data resolution included)
//! and hands the chunks to its FlowSet between `begin_packet` and `end_packet`. Round trips are
//! measured with the timestamp echo of RFC 7016 3.5.2.2 and fed to the side's `Rto`. Nothing
//! reads a clock; every loop is bounded.

#![allow(dead_code)]

use std::collections::BTreeMap;

use core::time::Duration;

use rtmfp::congestion::Rto;
use rtmfp::congestion::rto::rtt_sample;
use rtmfp::flow::{FlowConfig, FlowEvent, FlowSet, SendFlowId};
use rtmfp::time::Instant;
use rtmfp::wire::chunk::Chunk;
use rtmfp::wire::packet::{Header, MAX_HEADER_LEN, Mode, Packet, PlainPacket};

/// SplitMix64: a small, seedable, deterministic generator for test schedules.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability per_mille / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }
}

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// What the pipe does with one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Arrives after each of these delays (empty: lost; two: duplicated).
    Arrive(Vec<Duration>),
}

/// A scripted fate: (sending side, index of the packet that side sent, its chunks) -> fate.
pub type Script = Box<dyn FnMut(Side, u64, &[Chunk]) -> Option<Fate>>;

/// The network between the two sides.
pub struct Net {
    pub rng: Rng,
    /// Loss probability in per mille, each direction.
    pub loss_per_mille: u32,
    /// Duplication probability in per mille.
    pub dup_per_mille: u32,
    /// One-way delay.
    pub delay: Duration,
    /// Extra uniform delay 0..jitter per packet (reorders packets).
    pub jitter: Duration,
    /// Overrides the random fate when it returns Some.
    pub script: Option<Script>,
}

impl Net {
    pub fn perfect(delay: Duration) -> Self {
        Net {
            rng: Rng::new(0),
            loss_per_mille: 0,
            dup_per_mille: 0,
            delay,
            jitter: Duration::ZERO,
            script: None,
        }
    }

    pub fn lossy(
        seed: u64,
        loss_per_mille: u32,
        dup_per_mille: u32,
        delay: Duration,
        jitter: Duration,
    ) -> Self {
        Net {
            rng: Rng::new(seed),
            loss_per_mille,
            dup_per_mille,
            delay,
            jitter,
            script: None,
        }
    }

    fn one_delay(&mut self) -> Duration {
        let j = self.jitter.as_micros() as u64;
        let extra = if j == 0 { 0 } else { self.rng.below(j + 1) };
        self.delay + Duration::from_micros(extra)
    }

    fn fate(&mut self, side: Side, index: u64, chunks: &[Chunk]) -> Fate {
        if let Some(script) = &mut self.script
            && let Some(f) = script(side, index, chunks)
        {
            return f;
        }
        if self.rng.chance(self.loss_per_mille) {
            return Fate::Arrive(vec![]);
        }
        let first = self.one_delay();
        if self.rng.chance(self.dup_per_mille) {
            let second = self.one_delay();
            Fate::Arrive(vec![first, second])
        } else {
            Fate::Arrive(vec![first])
        }
    }
}

/// One side: a FlowSet with the session duties a test bed needs (timestamps, RTO, packets).
pub struct Peer {
    pub flows: FlowSet,
    pub rto: Rto,
    /// Every event, with the time it was polled.
    pub log: Vec<(Instant, FlowEvent)>,
    /// TS_RX and TS_RX_TIME (3.5.2.2).
    ts_rx: Option<(u16, Instant)>,
    /// TS_ECHO_RX.
    ts_echo_rx: Option<u16>,
    /// Packets sent.
    pub sent: u64,
    /// Packets received.
    pub received: u64,
    /// write() calls after wants_to_send that produced nothing.
    pub empty_writes: u64,
    /// The largest packet sent.
    pub largest_packet: usize,
    /// Per sending flow: the last bufferBytesAvailable this side received for it (by wire ID).
    pub last_window: BTreeMap<u64, u64>,
    /// Window violations seen (a data chunk sent while F_OUTSTANDING_BYTES >= the last
    /// received window, without EXCEPTION): must stay empty.
    pub window_violations: Vec<String>,
    /// Per receiving flow (wire ID): the highest FSN received.
    pub highest_fsn: BTreeMap<u64, u64>,
    /// Acknowledgements sent with a cumulative ack below the highest FSN received
    /// (RFC 7016 3.6.3.2 step 12), and User Data chunks breaking 2.3.11 (sequence number 0,
    /// fsnOffset 0 without the abandon flag): must stay empty.
    pub ack_violations: Vec<String>,
}

impl Peer {
    pub fn new(config: FlowConfig) -> Self {
        Peer {
            flows: FlowSet::with_appendix_a(config),
            rto: Rto::new(),
            log: Vec::new(),
            ts_rx: None,
            ts_echo_rx: None,
            sent: 0,
            received: 0,
            empty_writes: 0,
            largest_packet: 0,
            last_window: BTreeMap::new(),
            window_violations: Vec::new(),
            highest_fsn: BTreeMap::new(),
            ack_violations: Vec::new(),
        }
    }

    fn drain_events(&mut self, now: Instant) {
        while let Some(e) = self.flows.poll_event() {
            self.log.push((now, e));
        }
    }

    /// Builds one packet if the FlowSet has something to send.
    fn transmit(&mut self, now: Instant) -> Option<(Vec<u8>, Vec<Chunk>, bool)> {
        if !self.flows.wants_to_send(now) {
            return None;
        }
        let max = self.flows.config().max_packet_size;
        // F_OUTSTANDING_BYTES and the window of every sending flow before writing.
        let before: BTreeMap<u64, (u64, u64, bool)> = self
            .flows
            .send_flows()
            .filter_map(|id| self.flows.send_flow_info(id))
            .map(|i| {
                (
                    i.flow_id,
                    (i.outstanding_bytes, i.rx_buffer_size, i.exception),
                )
            })
            .collect();
        let w = self.flows.write(now, max - MAX_HEADER_LEN, &self.rto);
        if w.chunks.is_empty() {
            self.empty_writes += 1;
            return None;
        }
        // RFC 7016 3.6.2.9: each new data chunk only while outstanding < window (or EXCEPTION).
        let mut added: BTreeMap<u64, u64> = BTreeMap::new();
        let mut current_flow = None;
        for c in &w.chunks {
            let flow_id = match c {
                Chunk::UserData(u) => Some(u.flow_id),
                Chunk::NextUserData(_) => current_flow,
                _ => None,
            };
            let Some(flow_id) = flow_id else { continue };
            current_flow = Some(flow_id);
            if let Some(&(outstanding, rx, exception)) = before.get(&flow_id) {
                let so_far = outstanding + added.get(&flow_id).copied().unwrap_or(0);
                let advertised = self.last_window.get(&flow_id).copied().unwrap_or(65_536);
                if rx != advertised {
                    self.window_violations.push(format!(
                        "flow {flow_id}: RX_BUFFER_SIZE {rx} but last advertisement received {advertised}"
                    ));
                }
                if !exception && so_far >= advertised {
                    self.window_violations.push(format!(
                        "flow {flow_id}: sent with {so_far} outstanding, window {advertised}"
                    ));
                }
                *added.entry(flow_id).or_default() += c.encoded_len() as u64;
            }
        }
        for c in &w.chunks {
            if let Chunk::UserData(u) = c
                && (u.sequence_number == 0 || (u.fsn_offset == 0 && !u.flags.abandon))
            {
                self.ack_violations
                    .push(format!("User Data breaking 2.3.11: {u:?}"));
            }
            let (flow_id, cumulative) = match c {
                Chunk::BitmapAck(a) => (a.flow_id, a.cumulative_ack),
                Chunk::RangeAck(a) => (a.flow_id, a.cumulative_ack),
                _ => continue,
            };
            if let Some(&fsn) = self.highest_fsn.get(&flow_id)
                && cumulative < fsn
            {
                self.ack_violations.push(format!(
                    "flow {flow_id}: cumulative ack {cumulative} below FSN {fsn}"
                ));
            }
        }
        let (ts, echo) = self.timestamps(now);
        let header = Header {
            time_critical: w.time_critical,
            time_critical_reverse: false,
            reserved: 0,
            mode: Mode::Initiator,
            timestamp: Some(ts),
            timestamp_echo: echo,
        };
        let packet = Packet {
            header,
            chunks: w.chunks,
        };
        let mut bytes = Vec::new();
        packet.encode(&mut bytes).expect("chunks fit");
        assert!(
            bytes.len() <= max,
            "packet of {} bytes exceeds {}",
            bytes.len(),
            max
        );
        self.largest_packet = self.largest_packet.max(bytes.len());
        self.sent += 1;
        Some((bytes, packet.chunks, header.time_critical))
    }

    /// TS and TSE for a packet sent now (3.5.2.2).
    fn timestamps(&self, now: Instant) -> (u16, Option<u16>) {
        let echo = self.ts_rx.and_then(|(ts, at)| {
            let elapsed = now - at;
            (elapsed <= Duration::from_secs(128)).then(|| {
                let ticks = (elapsed.as_micros() / 4000) as u16;
                ts.wrapping_add(ticks)
            })
        });
        (now.timestamp_ticks(), echo)
    }

    /// Decodes a packet and feeds its chunks to the FlowSet.
    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        let p = PlainPacket::decode(bytes).expect("our own packets decode");
        self.received += 1;
        if let Some(ts) = p.header.timestamp
            && self.ts_rx.map(|(t, _)| t) != Some(ts)
        {
            self.ts_rx = Some((ts, now));
        }
        if let Some(echo) = p.header.timestamp_echo
            && self.ts_echo_rx != Some(echo)
        {
            self.ts_echo_rx = Some(echo);
            if let Some(rtt) = rtt_sample(now.timestamp_ticks(), echo) {
                self.rto.on_rtt_sample(rtt);
            }
        }
        self.flows.begin_packet(now, p.header.time_critical_reverse);
        for d in p.decoded_chunks() {
            let chunk = d.chunk.expect("our own chunks decode");
            if let Some(pos) = d.position {
                let fsn = self.highest_fsn.entry(pos.flow_id).or_default();
                *fsn = (*fsn).max(pos.forward_sequence_number);
            }
            match &chunk {
                Chunk::BitmapAck(a) => {
                    self.last_window
                        .insert(a.flow_id, a.buffer_bytes_available());
                }
                Chunk::RangeAck(a) => {
                    self.last_window
                        .insert(a.flow_id, a.buffer_bytes_available());
                }
                _ => {}
            }
            if let Err(other) = self.flows.handle_chunk(now, chunk, d.position) {
                panic!("non-flow chunk {other:?}");
            }
        }
        self.flows.end_packet(now, &self.rto);
    }

    /// Events of this side, without times.
    pub fn events(&self) -> impl Iterator<Item = &FlowEvent> {
        self.log.iter().map(|(_, e)| e)
    }
}

/// A packet one side sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// When.
    pub at: Instant,
    /// By which side.
    pub from: Side,
    /// Its chunks.
    pub chunks: Vec<Chunk>,
    /// The header's TC flag.
    pub time_critical: bool,
    /// How many copies the pipe delivers (0: lost).
    pub copies: usize,
}

/// A packet on its way.
struct InTransit {
    to: Side,
    bytes: Vec<u8>,
}

/// Two peers and the pipe between them, on a virtual clock.
pub struct Harness {
    pub a: Peer,
    pub b: Peer,
    pub net: Net,
    pub now: Instant,
    in_transit: BTreeMap<(Instant, u64), InTransit>,
    next_packet: u64,
    sent_index: [u64; 2],
    /// Every packet sent, when `keep_trace`.
    pub trace: Vec<Sent>,
    pub keep_trace: bool,
    pub steps: u64,
    /// Times at which the test's `step` wants to run even if nothing else happens.
    wakeups: std::collections::BTreeSet<Instant>,
}

impl Harness {
    pub fn new(a: FlowConfig, b: FlowConfig, net: Net) -> Self {
        Harness {
            a: Peer::new(a),
            b: Peer::new(b),
            net,
            now: Instant::ZERO,
            in_transit: BTreeMap::new(),
            next_packet: 0,
            sent_index: [0, 0],
            trace: Vec::new(),
            keep_trace: false,
            steps: 0,
            wakeups: std::collections::BTreeSet::new(),
        }
    }

    /// Makes `run_until` call its `step` at `at` (an application timer).
    pub fn wake_at(&mut self, at: Instant) {
        self.wakeups.insert(at);
    }

    pub fn peer(&mut self, side: Side) -> &mut Peer {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Lets both sides send everything they want to send now.
    fn transmit_all(&mut self) -> Result<(), String> {
        for side in [Side::A, Side::B] {
            let mut count = 0;
            while let Some((bytes, chunks, time_critical)) = {
                let now = self.now;
                self.peer(side).transmit(now)
            } {
                count += 1;
                if count > 10_000 {
                    return Err(format!("{side:?} keeps sending at {}", self.now));
                }
                let index = self.sent_index[side as usize];
                self.sent_index[side as usize] += 1;
                let Fate::Arrive(delays) = self.net.fate(side, index, &chunks);
                if self.keep_trace {
                    self.trace.push(Sent {
                        at: self.now,
                        from: side,
                        chunks,
                        time_critical,
                        copies: delays.len(),
                    });
                }
                for d in delays {
                    self.in_transit.insert(
                        (self.now + d, self.next_packet),
                        InTransit {
                            to: side.other(),
                            bytes: bytes.clone(),
                        },
                    );
                    self.next_packet += 1;
                }
            }
        }
        Ok(())
    }

    fn drain_events(&mut self) {
        let now = self.now;
        self.a.drain_events(now);
        self.b.drain_events(now);
    }

    /// Runs until `step` returns true (called after every instant), or fails after
    /// `max_time` of virtual time or too many steps. `step` may act on the peers
    /// (queue messages, close flows); it sees their event logs.
    pub fn run_until(
        &mut self,
        max_time: Duration,
        mut step: impl FnMut(&mut Harness) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::ZERO + max_time;
        loop {
            self.steps += 1;
            if self.steps > 2_000_000 {
                return Err(format!("too many steps at {}", self.now));
            }
            self.transmit_all()?;
            self.drain_events();
            let before = (self.a.log.len(), self.b.log.len(), self.a.sent, self.b.sent);
            if step(self) {
                return Ok(());
            }
            self.transmit_all()?;
            self.drain_events();
            if before != (self.a.log.len(), self.b.log.len(), self.a.sent, self.b.sent) {
                // What `step` did had effects: let it look again before time moves on.
                continue;
            }
            // Next instant: a packet arrival or a timer.
            let now = self.now;
            self.wakeups.retain(|t| *t > now);
            let next = [
                self.in_transit.keys().next().map(|(t, _)| *t),
                self.a.flows.poll_timeout(),
                self.b.flows.poll_timeout(),
                self.wakeups.first().copied(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else {
                // Nothing will ever happen again unless `step` acts.
                if step(self) {
                    return Ok(());
                }
                return Err(format!("quiescent and not done at {}", self.now));
            };
            if next > deadline {
                return Err(format!("not done by {} (next event at {next})", deadline));
            }
            self.now = self.now.max(next);
            let now = self.now;
            // One datagram at a time, each followed by a chance to send, as an
            // event loop around a socket would do.
            while let Some(entry) = self.in_transit.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let p = entry.remove();
                self.peer(p.to).receive(now, &p.bytes);
                self.transmit_all()?;
            }
            for side in [Side::A, Side::B] {
                let peer = self.peer(side);
                if peer.flows.poll_timeout().is_some_and(|t| t <= now) {
                    peer.flows.handle_timeout(now, &mut peer.rto);
                }
            }
        }
    }
}

/// Message payloads that carry their own index, so the receiver can check order and integrity.
pub fn payload(index: u64, len: usize) -> Vec<u8> {
    let mut v = index.to_be_bytes().to_vec();
    let mut x = index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    while v.len() < len.max(8) {
        x = x.rotate_left(7) ^ 0x5555;
        v.push(x as u8);
    }
    v
}

/// The index of a payload made by [`payload`], after checking the rest of it.
pub fn index_of(data: &[u8]) -> u64 {
    let index = u64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
    assert_eq!(
        payload(index, data.len()),
        data,
        "payload {index} corrupted"
    );
    index
}

/// The sending flow's events on side `side`: (delivered, abandoned) message ids, exceptions.
pub fn sender_outcomes(peer: &Peer, flow: SendFlowId) -> (Vec<u64>, Vec<u64>) {
    let mut delivered = Vec::new();
    let mut abandoned = Vec::new();
    for e in peer.events() {
        match e {
            FlowEvent::MessageDelivered { flow: f, message } if *f == flow => {
                delivered.push(message.0)
            }
            FlowEvent::MessageAbandoned { flow: f, message } if *f == flow => {
                abandoned.push(message.0)
            }
            _ => {}
        }
    }
    (delivered, abandoned)
}

/// A compact description of chunks for debugging output.
pub fn describe(chunks: &[Chunk]) -> String {
    chunks
        .iter()
        .map(|c| match c {
            Chunk::UserData(u) => format!(
                "UD(f{} #{} fsn{}{}{}{})",
                u.flow_id,
                u.sequence_number,
                u.forward_sequence_number(),
                if u.flags.fin { " FIN" } else { "" },
                if u.flags.abandon { " ABN" } else { "" },
                if u.options.is_some() { " OPT" } else { "" }
            ),
            Chunk::NextUserData(n) => format!(
                "NUD({}{})",
                if n.flags.fin { "FIN" } else { "" },
                if n.flags.abandon { " ABN" } else { "" }
            ),
            Chunk::BitmapAck(a) => format!(
                "ACK(f{} w{} {:?})",
                a.flow_id,
                a.buffer_blocks_available,
                a.acknowledged_ranges()
            ),
            Chunk::RangeAck(a) => format!(
                "ACK(f{} w{} {:?})",
                a.flow_id,
                a.buffer_blocks_available,
                a.acknowledged_ranges()
            ),
            Chunk::BufferProbe(p) => format!("PROBE(f{})", p.flow_id),
            Chunk::FlowExceptionReport(r) => format!("FER(f{} {})", r.flow_id, r.exception),
            other => other.name().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
