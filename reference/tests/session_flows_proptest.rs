//! Property test: flows over a real session (RFC 7016 3.5 and 3.6) under
//! random loss, duplication and reordering of every datagram, the handshake
//! included. Whatever the schedule, the session opens, every reliable message
//! in both directions arrives exactly once and in order, every one is reported
//! delivered to its sender, and all of it ends within bounded virtual time.

mod common;

use common::*;
use proptest::prelude::*;
use rtmfp::endpoint::{Event, SessionHandle};
use rtmfp::flow::{MessageOptions, SendFlowId};
use rtmfp::session::SessionState;

/// A datagram's fate: a pure function of the schedule's seed and the datagram's number.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    seed: u64,
    loss: u64,
    duplicate: u64,
    reorder: u64,
    max_delay_ms: u64,
}

impl Schedule {
    fn roll(&self, seq: u64, salt: u64) -> u64 {
        // splitmix64 of (seed, seq, salt).
        let mut z = self
            .seed
            .wrapping_add(seq.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_add(salt.wrapping_mul(0xbf58_476d_1ce4_e5b9));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn verdict(&self, seq: u64) -> Verdict {
        if self.roll(seq, 1) % 1000 < self.loss {
            Verdict::Drop
        } else if self.roll(seq, 2) % 1000 < self.duplicate {
            Verdict::Duplicate
        } else if self.roll(seq, 3) % 1000 < self.reorder {
            Verdict::Delay(ms(1 + self.roll(seq, 4) % self.max_delay_ms))
        } else {
            Verdict::Deliver
        }
    }
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (any::<u64>(), 0u64..250, 0u64..100, 0u64..300, 1u64..80).prop_map(
        |(seed, loss, duplicate, reorder, max_delay_ms)| Schedule {
            seed,
            loss,
            duplicate,
            reorder,
            max_delay_ms,
        },
    )
}

/// Queues `messages` on `(node, session, flow)` from `*next` on, while the send buffer takes them.
fn feed(
    net: &mut Net,
    (i, s, f): (usize, SessionHandle, SendFlowId),
    messages: &[Vec<u8>],
    next: &mut usize,
) {
    while *next < messages.len() {
        let now = net.now;
        match net.nodes[i]
            .ep
            .send(now, s, f, &messages[*next], MessageOptions::reliable())
        {
            Ok(_) => *next += 1,
            Err(_) => break,
        }
    }
}

fn run(flash: bool, sched: Schedule, count: usize) -> Result<(), TestCaseError> {
    let mut net = Net::new();
    if flash {
        net.add_flash("alice", "192.0.2.1:1000", config(), 21);
        net.add_flash("bob", "192.0.2.2:2000", config(), 22);
    } else {
        net.add(
            "alice",
            "192.0.2.1:1000",
            config(),
            transparent("alice"),
            21,
        );
        net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 22);
    }
    net.set_hook(move |d, _| sched.verdict(d.seq));
    let a = net.connect(0, 1);
    let opened = net.run_until(secs(95), |n| {
        n.state(0, a) == SessionState::S_OPEN && n.incoming(1).is_some()
    });
    prop_assert!(opened, "session did not open");
    let b = net.incoming(1).unwrap();
    let to_bob = numbered_messages(count, sched.seed % 1000);
    let to_alice = numbered_messages(count / 2 + 1, sched.seed % 1000 + 1);
    let f = net.open_flow(0, a, b"to bob");
    let g = net.open_flow(1, b, b"to alice");
    let (mut next_f, mut next_g) = (0, 0);
    let delivered =
        |net: &Net, i: usize| net.count_events(i, |e| matches!(e, Event::MessageDelivered { .. }));
    let done = net.run_until_mut(secs(600), |net| {
        feed(net, (0, a, f), &to_bob, &mut next_f);
        feed(net, (1, b, g), &to_alice, &mut next_g);
        net.messages(1, b).len() >= to_bob.len()
            && net.messages(0, a).len() >= to_alice.len()
            && delivered(net, 0) == to_bob.len()
            && delivered(net, 1) == to_alice.len()
    });
    let got_bob: Vec<Vec<u8>> = net.messages(1, b).into_iter().map(|m| m.2).collect();
    let got_alice: Vec<Vec<u8>> = net.messages(0, a).into_iter().map(|m| m.2).collect();
    prop_assert!(
        done,
        "not done in 600 s: bob has {}/{}, alice {}/{}, delivered {}/{} and {}/{}",
        got_bob.len(),
        to_bob.len(),
        got_alice.len(),
        to_alice.len(),
        delivered(&net, 0),
        to_bob.len(),
        delivered(&net, 1),
        to_alice.len()
    );
    assert_messages(&got_bob, &to_bob);
    assert_messages(&got_alice, &to_alice);
    prop_assert_eq!(net.state(0, a), SessionState::S_OPEN);
    prop_assert_eq!(net.state(1, b), SessionState::S_OPEN);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    // spec: 7016-3.6.1.2-e, 7016-3.6.1.3-a, 7016-3.6.3.3-a, 7016-3.6.3.3-g, 7016-3.6.2.4-d, 7016-3.6.2.5-d, 7016-3.6.2.6-f, 7016-3.5.2-f
    #[test]
    fn transparent_sessions_deliver_exactly_once_in_order(sched in schedule(), count in 1usize..60) {
        run(false, sched, count)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    // spec: 7016-3.6.1.2-e, 7016-3.6.3.3-g, 7016-5-h
    #[test]
    fn flash_sessions_deliver_exactly_once_in_order(sched in schedule(), count in 1usize..30) {
        run(true, sched, count)?;
    }
}
