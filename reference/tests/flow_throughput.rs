//! Measurements through the in-memory harness (printed, never asserted on time). Run with
//! `cargo test -p rtmfp --release --test flow_throughput -- --ignored --nocapture`.
//!
//! * bulk: one reliable flow of 1000-byte messages over a 20 ms one-way pipe, at 0% and 10%
//!   loss: messages per second of wall clock (the cost of the flow layer, both ends, plus the
//!   packet codec) and per second of virtual time (what the protocol achieves on that pipe).
//! * partial reliability: a time critical flow of 1000-byte messages every 20 ms with a 300 ms
//!   lifetime (media-like), 10% loss each way: how many were delivered, abandoned and reported
//!   to the receiver as gaps.

mod flow_support;

use core::time::Duration;

use flow_support::{Harness, Net, payload};
use rtmfp::flow::{FlowConfig, FlowEvent, FlowOptions, MessageOptions, Priority};
use rtmfp::time::Instant;

fn bulk(loss_per_mille: u32, messages: u64) {
    let net = Net::lossy(
        42,
        loss_per_mille,
        0,
        Duration::from_millis(20),
        Duration::ZERO,
    );
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    let f =
        h.a.flows
            .open(b"bulk", None, FlowOptions::default())
            .unwrap();
    let wall = std::time::Instant::now();
    let mut queued = 0u64;
    let mut delivered = 0u64;
    let mut seen = 0;
    h.run_until(Duration::from_secs(100_000), |h| {
        while queued < messages {
            match h
                .a
                .flows
                .send(h.now, f, &payload(queued, 1000), MessageOptions::reliable())
            {
                Ok(_) => queued += 1,
                Err(_) => break,
            }
            if queued == messages {
                h.a.flows.close(f).unwrap();
            }
        }
        delivered += h.b.log[seen..]
            .iter()
            .filter(|(_, e)| matches!(e, FlowEvent::Message { .. }))
            .count() as u64;
        seen = h.b.log.len();
        delivered == messages
    })
    .unwrap();
    let wall = wall.elapsed().as_secs_f64();
    let virt = (h.now - Instant::ZERO).as_secs_f64();
    println!(
        "bulk, {:>4.1}% loss: {messages} messages of 1000 bytes in {wall:.3} s wall = {:.0} msg/s; \
         {virt:.1} s virtual = {:.0} msg/s ({:.2} Mbit/s goodput); packets A->B {} B->A {}, \
         retransmissions {}, timeouts {}",
        f64::from(loss_per_mille) / 10.0,
        messages as f64 / wall,
        messages as f64 / virt,
        messages as f64 * 8000.0 / virt / 1e6,
        h.a.sent,
        h.b.sent,
        h.a.flows.stats().retransmissions,
        h.a.flows.stats().timeouts,
    );
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn measure_bulk_throughput() {
    bulk(0, 20_000);
    bulk(100, 20_000);
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn measure_partial_reliability_at_10_percent_loss() {
    let net = Net::lossy(
        7,
        100,
        0,
        Duration::from_millis(30),
        Duration::from_millis(5),
    );
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    let opts = FlowOptions {
        priority: Priority::TIME_CRITICAL,
        ..Default::default()
    };
    let f = h.a.flows.open(b"media", None, opts).unwrap();
    let total = 1500u64; // 30 s at 50 messages per second
    let period = Duration::from_millis(20);
    let mut next = 0u64;
    let mut closed = false;
    h.wake_at(Instant::ZERO);
    h.run_until(Duration::from_secs(600), |h| {
        while next < total && h.now >= Instant::ZERO + period * next as u32 {
            let o = MessageOptions::with_lifetime(Duration::from_millis(300));
            h.a.flows.send(h.now, f, &payload(next, 1000), o).unwrap();
            next += 1;
            h.wake_at(Instant::ZERO + period * next as u32);
        }
        if next == total && !closed {
            h.a.flows.close(f).unwrap();
            closed = true;
        }
        h.b.events()
            .any(|e| matches!(e, FlowEvent::RecvFlowComplete { .. }))
            && h.a
                .events()
                .any(|e| matches!(e, FlowEvent::SendFlowComplete { .. }))
    })
    .unwrap();
    let count = |p: &flow_support::Peer, pred: &dyn Fn(&FlowEvent) -> bool| {
        p.events().filter(|e| pred(e)).count()
    };
    let received = count(&h.b, &|e| matches!(e, FlowEvent::Message { .. }));
    let gaps = count(&h.b, &|e| matches!(e, FlowEvent::MessagesLost { .. }));
    let lost_seqs: u64 =
        h.b.events()
            .map(|e| match e {
                FlowEvent::MessagesLost { first, last, .. } => last - first + 1,
                _ => 0,
            })
            .sum();
    let acked = count(&h.a, &|e| matches!(e, FlowEvent::MessageDelivered { .. }));
    let abandoned = count(&h.a, &|e| matches!(e, FlowEvent::MessageAbandoned { .. }));
    println!(
        "partial reliability, 10% loss each way, 30 ms one-way, 300 ms lifetime: {total} sent; \
         receiver: {received} delivered, {gaps} gap reports covering {lost_seqs} sequence numbers; \
         sender: {acked} acknowledged, {abandoned} abandoned; retransmissions {}, timeouts {}",
        h.a.flows.stats().retransmissions,
        h.a.flows.stats().timeouts,
    );
    assert_eq!(
        received as u64 + lost_seqs,
        total,
        "every message delivered or in a gap"
    );
}
