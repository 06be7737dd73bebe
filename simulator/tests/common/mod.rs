//! Small test nodes for the simulator's own tests: they speak plain text, not RTMFP.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::time::Instant;
use rtmfp_sim::{HostInfo, Limits, Node, Scenario, Sim, Transmit};

/// A node that sends `count` datagrams to `peer`, one every `interval` from `start`, and
/// answers every datagram it receives with `re: <payload>` if `echo` is set.
#[derive(Debug, Clone)]
pub struct Chatter {
    pub name: String,
    pub local: SocketAddr,
    pub peer: Option<SocketAddr>,
    pub count: u64,
    pub start: Instant,
    pub interval: Duration,
    /// Payload padding, to make datagrams a given size.
    pub pad: usize,
    /// Datagrams per tick.
    pub burst: u64,
    pub echo: bool,
    /// Send from the wildcard address (as a socket bound to 0.0.0.0 would).
    pub wildcard: bool,
    /// Follow address changes (else keep sending from the old address).
    pub follow_moves: bool,
    pub sent: u64,
    pub received: Vec<(Instant, SocketAddr, SocketAddr, Vec<u8>)>,
    pub address_changes: Vec<(Instant, Vec<SocketAddr>)>,
    next: Option<Instant>,
    outbox: VecDeque<Transmit>,
}

impl Chatter {
    pub fn new(info: &HostInfo) -> Chatter {
        Chatter {
            name: info.name.clone(),
            local: info.address,
            peer: None,
            count: 0,
            start: Instant::ZERO,
            interval: Duration::from_millis(100),
            pad: 0,
            burst: 1,
            echo: false,
            wildcard: false,
            follow_moves: true,
            sent: 0,
            received: Vec::new(),
            address_changes: Vec::new(),
            next: None,
            outbox: VecDeque::new(),
        }
    }

    /// Send `count` datagrams to `peer` every `interval` from `start`.
    pub fn talk(mut self, peer: &str, count: u64, start_ms: u64, interval: Duration) -> Chatter {
        self.peer = Some(peer.parse().expect("peer address"));
        self.count = count;
        self.start = Instant::from_millis(start_ms);
        self.interval = interval;
        self.next = (count > 0).then_some(self.start);
        self
    }

    pub fn echoing(mut self) -> Chatter {
        self.echo = true;
        self
    }

    pub fn padded(mut self, pad: usize) -> Chatter {
        self.pad = pad;
        self
    }

    fn source(&self) -> SocketAddr {
        if self.wildcard {
            let unspecified: std::net::IpAddr = if self.local.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            };
            SocketAddr::new(unspecified, self.local.port())
        } else {
            self.local
        }
    }

    /// Queues one datagram (use through `Sim::with_node`).
    pub fn send(&mut self, to: &str, text: &str) {
        let destination = to.parse().expect("destination");
        self.outbox.push_back(Transmit {
            local: self.source(),
            destination,
            contents: text.as_bytes().to_vec(),
        });
    }

    pub fn received_texts(&self) -> Vec<String> {
        self.received
            .iter()
            .map(|r| String::from_utf8_lossy(&r.3).into_owned())
            .collect()
    }
}

impl Node for Chatter {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        self.received.push((now, local, from, data.to_vec()));
        if self.echo && !data.starts_with(b"re: ") {
            let mut reply = b"re: ".to_vec();
            reply.extend_from_slice(data);
            self.outbox.push_back(Transmit {
                local: self.source(),
                destination: from,
                contents: reply,
            });
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some(next) = self.next else { return };
        if now < next {
            return;
        }
        if let Some(peer) = self.peer {
            for _ in 0..self.burst.max(1) {
                let mut text = format!("{} {}", self.name, self.sent).into_bytes();
                text.resize(text.len() + self.pad, b'.');
                self.outbox.push_back(Transmit {
                    local: self.source(),
                    destination: peer,
                    contents: text,
                });
                self.sent += 1;
            }
        }
        self.next = (self.sent < self.count).then(|| next + self.interval);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    fn addresses_changed(&mut self, now: Instant, addrs: &[SocketAddr]) {
        self.address_changes.push((now, addrs.to_vec()));
        if self.follow_moves
            && let Some(a) = addrs.first()
        {
            self.local = *a;
        }
    }
}

/// Parses an inline scenario, panicking with the error's text (test helper).
pub fn scenario(text: &str) -> Scenario {
    match Scenario::parse("inline.yaml", text) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Runs `text` with nodes from `make`, a text summariser, to the scenario's limits.
pub fn run(text: &str, seed: u64, make: impl FnMut(&HostInfo) -> Chatter) -> Sim<Chatter> {
    let s = scenario(text);
    let mut sim = Sim::new(&s.topology, seed, make);
    sim.trace_mut().set_summarizer(Box::new(|d: &[u8]| {
        String::from_utf8_lossy(d).trim_end_matches('.').to_string()
    }));
    let limits = Limits {
        until: s.duration.map(|d| Instant::ZERO + d),
        max_events: Some(10_000_000),
    };
    sim.run(limits);
    sim
}

/// The node on host `name`.
pub fn node<'a>(sim: &'a Sim<Chatter>, name: &str) -> &'a Chatter {
    sim.node(sim.host_id(name).expect("host")).expect("node")
}

/// Trace lines containing `needle`.
pub fn lines_with(sim: &Sim<Chatter>, needle: &str) -> Vec<String> {
    sim.trace()
        .to_text()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Runs `sim` up to `ms` milliseconds.
pub fn run_to(sim: &mut Sim<Chatter>, ms: u64) {
    sim.run(Limits {
        until: Some(Instant::from_millis(ms)),
        max_events: None,
    });
}

/// Makes `host` send `text` to `to` now.
pub fn send(sim: &mut Sim<Chatter>, host: &str, to: &str, text: &str) {
    let id = sim.host_id(host).expect("host");
    sim.with_node(id, |n, _| n.send(to, text));
}
