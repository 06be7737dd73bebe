//! Handshake packets lost at each step, retransmission schedules, the open
//! timeout and several candidate addresses (RFC 7016 3.5.1.1.1, 3.5.1.1.2, 3.5.1.7).

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use rtmfp::endpoint::{DropReason, Event, OpenFailure};
use rtmfp::session::SessionState;
use rtmfp::time::Instant;
use rtmfp::wire::chunk;

fn pair() -> Net {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    net
}

/// Drops the first `n` datagrams carrying `chunk_type`.
fn drop_first(net: &mut Net, chunk_type: u8, n: u32) -> Rc<Cell<u32>> {
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    net.set_hook(move |dg, _| {
        if dg.has(chunk_type) && d.get() < n {
            d.set(d.get() + 1);
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    dropped
}

fn intervals(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

fn opens_after_losing(chunk_type: u8, n: u32) -> Net {
    let mut net = pair();
    let dropped = drop_first(&mut net, chunk_type, n);
    let h = net.connect(0, 1);
    assert!(
        net.run_until(secs(60), |n| n.state(0, h) == SessionState::S_OPEN),
        "not open after losing {n} of chunk {chunk_type:#x}"
    );
    assert_eq!(dropped.get(), n);
    let r = net.incoming(1).unwrap();
    assert_eq!(net.state(1, r), SessionState::S_OPEN);
    assert_eq!(net.nodes[1].ep.stats().sessions_accepted, 1);
    net
}

// spec: 7016-3.5.1.1.1-h, 7016-3.5.1.1.1-i, 7016-3.5.1.1.1-j
#[test]
fn ihello_lost_once_and_repeatedly() {
    let net = opens_after_losing(chunk::IHELLO, 1);
    assert_eq!(intervals(&net.sent_times(0, chunk::IHELLO)), [secs(1)]);
    let net = opens_after_losing(chunk::IHELLO, 4);
    // AMB-7016-03: 1 s, then the larger of x1.5 and +1.5 s.
    assert_eq!(
        intervals(&net.sent_times(0, chunk::IHELLO)),
        [secs(1), ms(2500), secs(4), secs(6)]
    );
}

// spec: 7016-3.5.1.1.1-h, 7016-3.5.1.1.2-b
#[test]
fn rhello_lost_once_and_repeatedly() {
    let net = opens_after_losing(chunk::RHELLO, 1);
    assert_eq!(net.sent_count(0, chunk::IHELLO), 2);
    let net = opens_after_losing(chunk::RHELLO, 3);
    assert_eq!(net.sent_count(0, chunk::IHELLO), 4);
    // Each IHello got its own RHello, and the responder kept no state for them.
    assert_eq!(net.sent_count(1, chunk::RHELLO), 4);
}

// spec: 7016-3.5.1.1.1-s, 7016-3.5.1.1.1-t, 7016-3.5.1.1.1-u
#[test]
fn iikeying_lost_once_and_repeatedly() {
    let net = opens_after_losing(chunk::IIKEYING, 1);
    assert_eq!(intervals(&net.sent_times(0, chunk::IIKEYING)), [secs(1)]);
    let net = opens_after_losing(chunk::IIKEYING, 3);
    assert_eq!(
        intervals(&net.sent_times(0, chunk::IIKEYING)),
        [secs(1), ms(2500), secs(4)]
    );
    // Retransmissions are the same IIKeying.
    let bodies: Vec<_> = net
        .log
        .iter()
        .filter(|l| l.sender == 0 && l.has(chunk::IIKEYING))
        .map(|l| l.data.clone())
        .collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

// spec: 7016-3.5.1.1.2-n
#[test]
fn rikeying_lost_once_and_repeatedly_is_resent_for_the_retransmitted_iikeying() {
    for n in [1, 3] {
        let net = opens_after_losing(chunk::RIKEYING, n);
        let stats = net.nodes[1].ep.stats();
        assert_eq!(stats.rikeyings_sent, u64::from(n) + 1);
        assert_eq!(stats.sessions_accepted, 1);
        assert_eq!(net.nodes[1].ep.sessions().len(), 1);
        // The resent RIKeying is the one sent first.
        let rik: Vec<_> = net
            .log
            .iter()
            .filter(|l| l.has(chunk::RIKEYING))
            .map(|l| l.data.clone())
            .collect();
        assert!(rik.windows(2).all(|w| w[0] == w[1]));
    }
}

// spec: 7016-3.5.1.1.1-b, 7016-3.5.1.1.1-c, 7016-3.5.1.1.1-h, 7016-3.5.1.1.1-i, 7016-3.5.1.1.1-j
#[test]
fn open_timeout_ends_in_s_open_failed_after_95_s() {
    let mut net = pair();
    let start = net.now;
    let now = net.now;
    let h = net
        .ep(0)
        .connect(now, b"bob".to_vec(), &[addr("198.51.100.1:1")])
        .unwrap();
    net.run_for(secs(200));
    assert_eq!(net.state(0, h), SessionState::S_OPEN_FAILED);
    let failed_at = net.nodes[0]
        .events
        .iter()
        .find_map(|(t, e)| match e {
            Event::SessionOpenFailed {
                reason: OpenFailure::Timeout,
                ..
            } => Some(*t),
            _ => None,
        })
        .unwrap();
    assert_eq!(failed_at - start, secs(95));
    let times = net.sent_times(0, chunk::IHELLO);
    // 0, 1, 3.5, 7.5, 13.5, 22.5, 36, 56.25, 86.625 s: nine IHellos, then nothing.
    assert_eq!(times.len(), 9);
    assert_eq!(*times.last().unwrap() - start, ms(86_625));
    assert!(net.ep(0).sessions().is_empty());
    assert_eq!(net.nodes[0].ep.stats().sessions_failed, 1);
}

// spec: 7016-3.5.1.1.1-b
#[test]
fn open_timeout_counts_from_creation_even_in_s_keying_sent() {
    let mut net = pair();
    drop_first(&mut net, chunk::IIKEYING, u32::MAX);
    let start = net.now;
    let h = net.connect(0, 1);
    net.run_for(secs(100));
    assert_eq!(net.state(0, h), SessionState::S_OPEN_FAILED);
    let times = net.sent_times(0, chunk::IIKEYING);
    assert!(times.iter().all(|t| *t - start < secs(95)));
    assert!(times.len() >= 8);
    assert_eq!(net.nodes[1].ep.footprint().sessions, 0);
}

// spec: 7016-3.5.1.1.1-a, 7016-3.5.1.1.1-h
#[test]
fn several_candidates_with_one_dead() {
    for order in [0, 1] {
        let mut net = pair();
        let dead = addr("198.51.100.1:1");
        let bob = net.public(1);
        let candidates = if order == 0 { [dead, bob] } else { [bob, dead] };
        let now = net.now;
        let h = net
            .ep(0)
            .connect(now, b"bob".to_vec(), &candidates)
            .unwrap();
        assert!(net.run_until(secs(5), |n| n.state(0, h) == SessionState::S_OPEN));
        net.run_for(secs(10));
        // One IHello each, at once; none repeated once keying started.
        let to: Vec<_> = net
            .log
            .iter()
            .filter(|l| l.has(chunk::IHELLO))
            .map(|l| l.to)
            .collect();
        assert_eq!(to.len(), 2);
        assert!(to.contains(&dead) && to.contains(&bob));
        assert_eq!(net.info(0, h).far_address, Some(bob));
    }
}

// spec: 7016-3.5.1.1.1-k
#[test]
fn each_candidate_has_its_own_ihello_schedule() {
    let mut net = pair();
    let (d1, d2) = (addr("198.51.100.1:1"), addr("198.51.100.2:1"));
    let start = net.now;
    let now = net.now;
    let h = net.ep(0).connect(now, b"bob".to_vec(), &[d1]).unwrap();
    net.run_for(secs(5));
    let now = net.now;
    net.ep(0).add_candidate(now, h, d2).unwrap();
    // Adding the same candidate again changes nothing.
    net.ep(0).add_candidate(now, h, d2).unwrap();
    net.run_for(secs(10));
    let at = |to| -> Vec<Duration> {
        net.log
            .iter()
            .filter(|l| l.has(chunk::IHELLO) && l.to == to)
            .map(|l| l.at - start)
            .collect()
    };
    assert_eq!(at(d1), [secs(0), secs(1), ms(3500), ms(7500), ms(13_500)]);
    assert_eq!(at(d2), [secs(5), secs(6), ms(8500), ms(12_500)]);
    assert_eq!(net.info(0, h).candidates, [d1, d2]);
}

// Two responders with the same identity: the first RHello wins, the later one is ignored.
// spec: 7016-3.5.1.1-a
#[test]
fn first_rhello_wins() {
    let mut net = pair();
    net.add("bob2", "192.0.2.3:2000", config(), transparent("bob"), 3);
    // Bob's answers take 15 ms longer: his RHello arrives in S_KEYING_SENT.
    net.set_hook(|d, _| {
        if d.sender == 1 {
            Verdict::Delay(ms(15))
        } else {
            Verdict::Deliver
        }
    });
    let now = net.now;
    let (b1, b2) = (net.public(1), net.public(2));
    let h = net.ep(0).connect(now, b"bob".to_vec(), &[b1, b2]).unwrap();
    assert!(net.run_until(secs(5), |n| n.state(0, h) == SessionState::S_OPEN));
    assert_eq!(net.info(0, h).far_address, Some(b2));
    net.run_for(secs(1));
    assert_eq!(
        net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::LateStartupReply),
        1
    );
    assert_eq!(net.nodes[1].ep.sessions().len(), 0);
}
