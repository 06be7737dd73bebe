//! Session close from either side, orderly and abrupt, with losses (RFC 7016 3.5.5).

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use rtmfp::endpoint::{CloseKind, CloseReason, DropReason, Event, OpenFailure};
use rtmfp::session::SessionState;
use rtmfp::time::Instant;
use rtmfp::wire::Chunk;
use rtmfp::wire::chunk;
use rtmfp::wire::chunk::Ping;
use rtmfp::wire::packet::{Header, Mode, Packet};

fn pair() -> Net {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    net
}

fn closed_at(net: &Net, i: usize, h: rtmfp::endpoint::SessionHandle) -> Option<Instant> {
    net.nodes[i].events.iter().find_map(|(t, e)| match e {
        Event::SessionClosed { session, .. } if *session == h => Some(*t),
        _ => None,
    })
}

// spec: 7016-3.5.5-a, 7016-3.5.5-b, 7016-3.5.5-g, 7016-3.5.5-h, 7016-3.5.5-i, 7016-3.5.5-j, 7016-2.3.17-a, 7016-2.3.18-a
#[test]
fn orderly_close_from_either_side() {
    for closer in [0, 1] {
        let mut net = pair();
        let (h, r) = net.open(0, 1);
        let (mine, theirs, other) = if closer == 0 { (h, r, 1) } else { (r, h, 0) };
        let t0 = net.now;
        net.ep(closer).close(t0, mine, CloseKind::Orderly).unwrap();
        assert_eq!(net.state(closer, mine), SessionState::S_NEARCLOSE);
        net.run_for(secs(1));
        assert_eq!(net.state(closer, mine), SessionState::S_CLOSED);
        assert_eq!(net.state(other, theirs), SessionState::S_FARCLOSE_LINGER);
        assert!(net.events(closer).contains(&Event::SessionClosed {
            session: mine,
            reason: CloseReason::LocalOrderly
        }));
        assert!(net.events(other).contains(&Event::SessionClosed {
            session: theirs,
            reason: CloseReason::FarClose
        }));
        // One Close, one Close Ack, in the session's packets (mode 1 or 2).
        assert_eq!(net.sent_count(closer, chunk::CLOSE), 1);
        assert_eq!(net.sent_count(other, chunk::CLOSE_ACK), 1);
        for l in net
            .log
            .iter()
            .filter(|l| l.has(chunk::CLOSE) || l.has(chunk::CLOSE_ACK))
        {
            assert_ne!(l.session_id, 0);
            let (_, p) = open_transparent(&l.data).unwrap();
            assert_ne!(p.header.mode, Mode::Startup);
        }
        // The far end lingers 19 s.
        let got_close = closed_at(&net, other, theirs).unwrap();
        assert!(net.run_until(secs(30), |n| n.state(other, theirs)
            == SessionState::S_CLOSED));
        assert_eq!(net.now - got_close, secs(19));
        assert!(net.ep(0).sessions().is_empty() && net.ep(1).sessions().is_empty());
    }
}

// spec: 7016-3.5.5-b
#[test]
fn a_lost_close_is_repeated_every_5_s() {
    let mut net = pair();
    let (h, r) = net.open(0, 1);
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    net.set_hook(move |dg, _| {
        if dg.has(chunk::CLOSE) && d.get() < 2 {
            d.set(d.get() + 1);
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let t0 = net.now;
    net.ep(0).close(t0, h, CloseKind::Orderly).unwrap();
    assert!(net.run_until(secs(20), |n| n.state(0, h) == SessionState::S_CLOSED));
    let times: Vec<_> = net
        .sent_times(0, chunk::CLOSE)
        .iter()
        .map(|t| *t - t0)
        .collect();
    assert_eq!(times, [secs(0), secs(5), secs(10)]);
    assert_eq!(net.state(1, r), SessionState::S_FARCLOSE_LINGER);
}

// spec: 7016-3.5.5-b, 7016-3.5.5-c, 7016-3.5.5-g, 7016-3.5.5-i
#[test]
fn close_acks_lost_nearclose_gives_up_after_90_s() {
    let mut net = pair();
    let (h, r) = net.open(0, 1);
    net.set_hook(|dg, _| {
        if dg.has(chunk::CLOSE_ACK) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let t0 = net.now;
    net.ep(0).close(t0, h, CloseKind::Orderly).unwrap();
    net.run_for(secs(89));
    assert_eq!(net.state(0, h), SessionState::S_NEARCLOSE);
    net.run_for(secs(2));
    assert_eq!(net.state(0, h), SessionState::S_CLOSED);
    // Close at 0, 5, ..., 85 s.
    assert_eq!(net.sent_count(0, chunk::CLOSE), 18);
    // Bob answered every Close while lingering (0, 5, 10, 15 s), then forgot the session.
    assert_eq!(net.sent_count(1, chunk::CLOSE_ACK), 4);
    assert_eq!(net.state(1, r), SessionState::S_CLOSED);
    assert_eq!(
        net.nodes[1]
            .ep
            .stats()
            .drops
            .get(DropReason::UnknownSessionId),
        14
    );
}

// spec: 7016-3.5.5-f, 7016-3.5.5-j, 7016-3.5.5-d
#[test]
fn abrupt_close_from_either_side() {
    for closer in [0, 1] {
        let mut net = pair();
        let (h, r) = net.open(0, 1);
        let (mine, theirs, other) = if closer == 0 { (h, r, 1) } else { (r, h, 0) };
        let t0 = net.now;
        net.ep(closer).close(t0, mine, CloseKind::Abrupt).unwrap();
        assert_eq!(net.state(closer, mine), SessionState::S_CLOSED);
        net.run_for(secs(1));
        assert_eq!(net.sent_count(closer, chunk::CLOSE_ACK), 1);
        assert_eq!(net.sent_count(closer, chunk::CLOSE), 0);
        assert_eq!(net.state(other, theirs), SessionState::S_CLOSED);
        assert!(net.events(other).contains(&Event::SessionClosed {
            session: theirs,
            reason: CloseReason::FarAbrupt
        }));
        assert!(net.events(closer).contains(&Event::SessionClosed {
            session: mine,
            reason: CloseReason::LocalAbrupt
        }));
    }
}

// Both ends close at once: each answers the other's Close from S_NEARCLOSE.
// spec: 7016-3.5.5-g, 7016-3.5.5-j
#[test]
fn simultaneous_orderly_close() {
    let mut net = pair();
    let (h, r) = net.open(0, 1);
    let t0 = net.now;
    net.ep(0).close(t0, h, CloseKind::Orderly).unwrap();
    net.ep(1).close(t0, r, CloseKind::Orderly).unwrap();
    net.run_for(secs(1));
    assert_eq!(net.state(0, h), SessionState::S_CLOSED);
    assert_eq!(net.state(1, r), SessionState::S_CLOSED);
    assert_eq!(net.sent_count(0, chunk::CLOSE_ACK), 1);
    assert_eq!(net.sent_count(1, chunk::CLOSE_ACK), 1);
}

// AMB-7016-24: no Ping Replies outside S_OPEN.
// spec: 7016-3.5.4-a, 7016-3.5.5-e
#[test]
fn closing_sessions_answer_only_close_requests() {
    let mut net = pair();
    let (h, r) = net.open(0, 1);
    // Bob's Close Acks are lost, so Alice stays in S_NEARCLOSE.
    net.set_hook(|dg, _| {
        if dg.has(chunk::CLOSE_ACK) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let t0 = net.now;
    net.ep(0).close(t0, h, CloseKind::Orderly).unwrap();
    net.run_for(secs(1));
    let sid = net.info(1, r).send_session_id;
    let mut p = Packet::new(Header::new(Mode::Responder));
    p.chunks.push(Chunk::Ping(Ping {
        message: b"hi".to_vec(),
    }));
    let (bob, alice) = (net.public(1), net.public(0));
    net.inject(bob, alice, craft(sid, &p));
    net.run_for(secs(1));
    let a = net.info(0, h);
    assert_eq!(a.state, SessionState::S_NEARCLOSE);
    assert_eq!(a.stats.drops.get(DropReason::PingNotOpen), 1);
    assert_eq!(a.stats.ping_replies_sent, 0);
}

// spec: 7016-3.5.1.1.1-b
#[test]
fn closing_an_opening_session_cancels_it() {
    let mut net = pair();
    let now = net.now;
    let h = net
        .ep(0)
        .connect(now, b"nobody".to_vec(), &[addr("198.51.100.1:1")])
        .unwrap();
    net.run_for(secs(2));
    let before = net.sent_count(0, chunk::IHELLO);
    let now = net.now;
    net.ep(0).close(now, h, CloseKind::Orderly).unwrap();
    assert_eq!(net.state(0, h), SessionState::S_OPEN_FAILED);
    net.run_for(secs(20));
    assert!(net.events(0).contains(&Event::SessionOpenFailed {
        session: h,
        reason: OpenFailure::Cancelled
    }));
    assert_eq!(net.sent_count(0, chunk::IHELLO), before);
    // Closing again is harmless.
    let now = net.now;
    net.ep(0).close(now, h, CloseKind::Abrupt).unwrap();
}
