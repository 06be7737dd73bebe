//! In-process bulk transfer between two endpoints, printing MB/s (RFC 7016 3.6 over real sessions).
//!
//! Two sans-IO [`Endpoint`]s joined by an in-memory link with a fixed one-way
//! delay on a virtual clock: one opens a session and a flow and sends
//! `--megabytes` (100 by default) of reliable messages; the other takes every
//! message. Both the transparent profile (no cryptography: the cost of the
//! protocol machinery) and the Flash profile (RFC 7425: AES-128-CBC and
//! HMAC-SHA256 on every packet) are measured. Wall-clock throughput is the
//! cost of the implementation, both ends on one thread; virtual throughput is
//! what the protocol achieves on the simulated link. Nothing is asserted.
//!
//! ```text
//! cargo run --release -p rtmfp --example throughput [-- --megabytes 100 --message 16384 --delay-us 1000]
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::crypto::flash::FlashConfig;
use rtmfp::crypto::flash::dh::DhGroup;
use rtmfp::crypto::transparent::TransparentProfile;
use rtmfp::endpoint::{ApiError, Endpoint, EndpointConfig, Event, SessionHandle};
use rtmfp::flow::{FlowOptions, MessageOptions, SendFlowId};
use rtmfp::random::SeededRandom;
use rtmfp::session::SessionState;
use rtmfp::time::Instant;

struct Options {
    megabytes: u64,
    message: usize,
    delay: Duration,
    flows: usize,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        megabytes: 100,
        message: 16 * 1024,
        delay: Duration::from_millis(1),
        flows: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .ok_or(format!("{name} needs a value"))?
                .parse()
                .map_err(|e| format!("{name}: {e}"))
        };
        match a.as_str() {
            "--megabytes" => o.megabytes = value("--megabytes")?,
            "--message" => o.message = value("--message")?.max(1) as usize,
            "--delay-us" => o.delay = Duration::from_micros(value("--delay-us")?),
            "--flows" => o.flows = value("--flows")?.max(1) as usize,
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other}; expected --megabytes N, --message BYTES, --delay-us N, --flows N"
                ));
            }
        }
    }
    Ok(o)
}

/// Two endpoints and the datagrams between them.
struct Link {
    now: Instant,
    delay: Duration,
    ends: [(SocketAddr, Endpoint); 2],
    in_flight: BTreeMap<(Instant, u64), (usize, SocketAddr, Vec<u8>)>,
    seq: u64,
    datagrams: u64,
    /// Bytes and messages the receiving end's application has taken.
    received: u64,
    messages: u64,
}

impl Link {
    fn endpoint(&mut self, i: usize) -> &mut Endpoint {
        &mut self.ends[i].1
    }

    /// The applications take their events: the sender's are dropped, the
    /// receiver's messages counted (taking them frees receive window).
    fn poll_events(&mut self) {
        while self.ends[0].1.poll_event().is_some() {}
        while let Some(e) = self.ends[1].1.poll_event() {
            if let Event::Message { data, .. } = e {
                self.received += data.len() as u64;
                self.messages += 1;
            }
        }
    }

    /// Sends what both ends want to send now.
    fn flush(&mut self) {
        for i in 0..2 {
            let now = self.now;
            while let Some(t) = self.ends[i].1.poll_transmit(now) {
                let to = usize::from(t.destination == self.ends[1].0);
                let from = self.ends[i].0;
                self.seq += 1;
                self.datagrams += 1;
                self.in_flight
                    .insert((now + self.delay, self.seq), (to, from, t.contents));
            }
        }
    }

    /// Moves the clock to the next arrival or timer and handles it.
    fn step(&mut self) -> bool {
        let next = [
            self.in_flight.keys().next().map(|(t, _)| *t),
            self.ends[0].1.poll_timeout(),
            self.ends[1].1.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        let now = self.now;
        while let Some(e) = self.in_flight.first_entry() {
            if e.key().0 > now {
                break;
            }
            let (to, from, data) = e.remove();
            self.ends[to].1.handle_datagram(now, from, &data);
            // As an event loop does: events, then what they made ready to send.
            self.poll_events();
            self.flush();
        }
        for i in 0..2 {
            if self.ends[i].1.poll_timeout().is_some_and(|t| t <= now) {
                self.ends[i].1.handle_timeout(now);
            }
        }
        true
    }
}

fn run(name: &str, a: Endpoint, b: Endpoint, o: &Options) -> Result<(), String> {
    let mut link = Link {
        now: Instant::from_millis(1000),
        delay: o.delay,
        ends: [
            ("10.0.0.1:1935".parse().map_err(|e| format!("{e}"))?, a),
            ("10.0.0.2:1935".parse().map_err(|e| format!("{e}"))?, b),
        ],
        in_flight: BTreeMap::new(),
        seq: 0,
        datagrams: 0,
        received: 0,
        messages: 0,
    };
    let epd = {
        let p = link.ends[1].1.profile();
        p.canonical_epd(p.near_certificate())
            .map_err(|e| e.to_string())?
    };
    let to = link.ends[1].0;
    let now = link.now;
    let s: SessionHandle = link
        .endpoint(0)
        .connect(now, epd, &[to])
        .map_err(|e| e.to_string())?;
    for _ in 0..100_000 {
        link.flush();
        if link.ends[0].1.session(s).map(|i| i.state) == Some(SessionState::S_OPEN) {
            break;
        }
        if !link.step() {
            return Err("handshake stalled".into());
        }
    }
    while link.endpoint(0).poll_event().is_some() {}
    let now = link.now;
    let mut flows: Vec<SendFlowId> = Vec::new();
    for _ in 0..o.flows {
        flows.push(
            link.endpoint(0)
                .open_flow(now, s, b"bulk", None, FlowOptions::default())
                .map_err(|e| e.to_string())?,
        );
    }
    let total = o.megabytes * 1_000_000;
    let message = vec![0x5a; o.message];
    let mut queued = 0u64;
    let mut closed = false;
    let mut next_flow = 0u64;
    let wall = std::time::Instant::now();
    let start = link.now;
    let mut steps = 0u64;
    while link.received < total {
        steps += 1;
        if steps > 100_000_000 {
            return Err("transfer did not finish".into());
        }
        let now = link.now;
        let mut full = 0;
        while queued < total && full < flows.len() {
            let len = (total - queued).min(o.message as u64) as usize;
            let flow = flows[(next_flow % flows.len() as u64) as usize];
            next_flow += 1;
            match link
                .endpoint(0)
                .send(now, s, flow, &message[..len], MessageOptions::reliable())
            {
                Ok(_) => {
                    queued += len as u64;
                    full = 0;
                }
                Err(ApiError::Flow(rtmfp::flow::ApiError::BufferFull { .. })) => full += 1,
                Err(e) => return Err(e.to_string()),
            }
        }
        if queued == total && !closed {
            for &flow in &flows {
                link.endpoint(0)
                    .close_flow(now, s, flow)
                    .map_err(|e| e.to_string())?;
            }
            closed = true;
        }
        link.poll_events();
        link.flush();
        if link.received < total && !link.step() {
            return Err(format!("stalled after {} bytes", link.received));
        }
    }
    let wall = wall.elapsed().as_secs_f64();
    let virt = (link.now - start).as_secs_f64();
    let stats = link.ends[0].1.flow_stats(s).unwrap_or_default();
    println!(
        "{name:>11}: {:.0} MB in {} messages of {} bytes on {} flows: {wall:.2} s wall = {:.1} MB/s \
         (both ends, one thread); {virt:.2} s virtual = {:.1} MB/s on a {} us one-way link; \
         {} datagrams, {} retransmissions",
        total as f64 / 1e6,
        link.messages,
        o.message,
        o.flows,
        total as f64 / 1e6 / wall,
        total as f64 / 1e6 / virt,
        o.delay.as_micros(),
        link.datagrams,
        stats.retransmissions,
    );
    Ok(())
}

fn main() -> Result<(), String> {
    let o = parse()?;
    let cfg = EndpointConfig::default();
    let transparent = |name: &str| Box::new(TransparentProfile::new(name.as_bytes().to_vec()));
    run(
        "transparent",
        Endpoint::new(
            cfg.clone(),
            transparent("a"),
            Box::new(SeededRandom::new(1)),
        ),
        Endpoint::new(
            cfg.clone(),
            transparent("b"),
            Box::new(SeededRandom::new(2)),
        ),
        &o,
    )?;
    let flash = || FlashConfig {
        groups: vec![DhGroup::Modp1024],
        ..FlashConfig::default()
    };
    let a = Endpoint::flash(cfg.clone(), flash(), Box::new(SeededRandom::new(3)))
        .map_err(|e| e.to_string())?;
    let b =
        Endpoint::flash(cfg, flash(), Box::new(SeededRandom::new(4))).map_err(|e| e.to_string())?;
    run("flash", a, b, &o)
}
