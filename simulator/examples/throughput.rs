//! Measures the engine: events per second and simulated time per wall-clock second for a
//! heavy run, two nodes exchanging 100 000 datagrams of 1000 bytes over a lossy link whose
//! 10 Mbit/s bottleneck alice overdrives (one datagram every 0.7 ms is 11.7 Mbit/s).
//!
//! `cargo run --release -p rtmfp-sim --example throughput`
//!
//! This is a measurement tool, not a test: it reads the wall clock and prints numbers.

use std::net::SocketAddr;
use std::time::{Duration, Instant as WallClock};

use rtmfp::time::Instant;
use rtmfp_sim::{Limits, Node, Scenario, Sim, Trace, Transmit};

const SCENARIO: &str = "
hosts:
  alice:
    address: 192.0.2.1:1935
    link:
      latency: 20ms
      jitter: 2ms
      loss: 0.01
      up: { rate: 10Mbit/s, queue: 64KiB }
  bob:
    address: 192.0.2.2:1935
    link: { latency: 15ms, burst_loss: { p_good_to_bad: 0.001, p_bad_to_good: 0.2 }, duplicate: 0.001 }
";

/// Sends `count` datagrams of `size` bytes to `peer`, one every `interval`.
struct Sender {
    local: SocketAddr,
    peer: SocketAddr,
    left: u64,
    size: usize,
    interval: Duration,
    next: Option<Instant>,
    pending: bool,
    received: u64,
}

impl Node for Sender {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {
        self.received += 1;
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.next.is_some_and(|t| now >= t) && self.left > 0 {
            self.pending = true;
            self.left -= 1;
            self.next = (self.left > 0).then(|| now + self.interval);
        }
    }

    fn poll_transmit(&mut self, _: Instant) -> Option<Transmit> {
        if !std::mem::take(&mut self.pending) {
            return None;
        }
        Some(Transmit {
            local: self.local,
            destination: self.peer,
            contents: vec![0x5a; self.size],
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

fn run(keep_trace: bool) {
    let scenario: Scenario = Scenario::parse("throughput", SCENARIO).expect("valid scenario");
    let addrs: Vec<SocketAddr> = scenario
        .topology
        .hosts()
        .iter()
        .map(|h| h.address)
        .collect();
    let mut sim = Sim::new(&scenario.topology, 1, |h| {
        let peer = addrs
            .iter()
            .copied()
            .find(|a| *a != h.address)
            .expect("two hosts");
        Sender {
            local: h.address,
            peer,
            left: 50_000,
            size: 1000,
            interval: Duration::from_micros(700),
            next: Some(Instant::ZERO),
            pending: false,
            received: 0,
        }
    });
    if !keep_trace {
        sim.set_trace(Trace::counting_only());
    }
    let started = WallClock::now();
    let stop = sim.run(Limits::default());
    let wall = started.elapsed();
    let stats = sim.trace().stats();
    let simulated = Duration::from_micros(sim.now().as_micros());
    println!(
        "trace {}: {stop:?} after {} events; sent {}, delivered {}, dropped {} ({:?})",
        if keep_trace { "kept" } else { "counting only" },
        sim.events_run(),
        stats.sent,
        stats.delivered,
        stats.total_dropped(),
        stats.dropped,
    );
    println!(
        "  wall {:.3} s, simulated {:.3} s: {:.0} events/s, {:.0} datagrams/s, simulated/wall {:.1}",
        wall.as_secs_f64(),
        simulated.as_secs_f64(),
        sim.events_run() as f64 / wall.as_secs_f64(),
        stats.sent as f64 / wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64(),
    );
    if keep_trace {
        let started = WallClock::now();
        let text = sim.trace().to_text();
        println!(
            "  trace: {} lines, {} bytes, formatted in {:.3} s",
            sim.trace().records().len(),
            text.len(),
            started.elapsed().as_secs_f64()
        );
    }
}

fn main() {
    run(false);
    run(true);
}
