//! Startup variants (RFC 7016 3.5.1.1 to 3.5.1.6): cookies and Cookie Change,
//! glare, duplicates, session override, Redirector, Forwarder and the
//! introduction service through NATs.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use rtmfp::crypto::CryptoProfile;
use rtmfp::endpoint::{
    CloseReason, DropReason, Event, FIHelloPolicy, IntroductionService, OpenFailure,
};
use rtmfp::session::{Role, SessionState};
use rtmfp::wire::Chunk;
use rtmfp::wire::chunk;

fn pair() -> Net {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    net
}

// ------------------------------------------------------------ cookies

/// Alice's IIKeyings leave from other interfaces than her IHellos (RFC 7016
/// Figure 10): the n-th IIKeying from `aliases[min(n, len - 1)]`.
fn iikeying_from(net: &mut Net, aliases: Vec<&str>) {
    let aliases: Vec<_> = aliases.into_iter().map(addr).collect();
    net.nodes[0].aliases = aliases.clone();
    let n = Rc::new(Cell::new(0usize));
    net.set_hook(move |d, _| {
        if d.sender == 0 && d.has(chunk::IIKEYING) {
            d.from = aliases[n.get().min(aliases.len() - 1)];
            n.set(n.get() + 1);
        }
        Verdict::Deliver
    });
}

// spec: 7016-3.5.1.1.2-d, 7016-3.5.1.1.2-k, 7016-3.5.1.2-a, 7016-3.5.1.2-b, 7016-2.3.6-a, 7016-2.3.6-b, 7016-2.3.6-d
#[test]
fn cookie_change_when_the_iikeying_comes_from_another_address() {
    let mut net = pair();
    iikeying_from(&mut net, vec!["192.0.2.11:1001"]);
    let h = net.connect(0, 1);
    assert!(net.run_until(secs(5), |n| n.state(0, h) == SessionState::S_OPEN));
    let r = net.incoming(1).unwrap();
    assert_eq!(net.nodes[1].ep.stats().cookie_changes_sent, 1);
    // The responder's session goes to the address the IIKeying came from.
    assert_eq!(net.info(1, r).far_address, Some(addr("192.0.2.11:1001")));
    // The Cookie Change went to that address under Alice's session ID.
    let cc = net
        .log
        .iter()
        .find(|l| l.has(chunk::RHELLO_COOKIE_CHANGE))
        .unwrap();
    assert_eq!(cc.to, addr("192.0.2.11:1001"));
    assert_eq!(cc.session_id, net.info(0, h).receive_session_id);
    // Two IIKeyings, the second with the new cookie.
    let cookies: Vec<Vec<u8>> = net
        .log
        .iter()
        .filter(|l| l.has(chunk::IIKEYING))
        .map(|l| match &chunks_of(&l.data)[0] {
            Chunk::IIKeying(k) => k.cookie_echo.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(cookies.len(), 2);
    let Chunk::RHelloCookieChange(change) = &chunks_of(&cc.data)[0] else {
        panic!()
    };
    assert_eq!(
        (&cookies[0], &cookies[1]),
        (&change.old_cookie, &change.new_cookie)
    );
    assert_ne!(cookies[0], cookies[1]);
}

// spec: 7016-3.5.1.2-c
#[test]
fn a_second_cookie_change_is_refused() {
    let mut net = pair();
    iikeying_from(
        &mut net,
        vec!["192.0.2.11:1001", "192.0.2.12:1001", "192.0.2.13:1001"],
    );
    let h = net.connect(0, 1);
    net.run_for(secs(20));
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    assert!(net.nodes[1].ep.stats().cookie_changes_sent >= 2);
    assert!(
        net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::CookieChangeRefused)
            >= 1
    );
    // After the one change, every IIKeying carries the same (second) cookie.
    let cookies: Vec<Vec<u8>> = net
        .log
        .iter()
        .filter(|l| l.has(chunk::IIKEYING))
        .map(|l| match &chunks_of(&l.data)[0] {
            Chunk::IIKeying(k) => k.cookie_echo.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert!(cookies.len() >= 4);
    assert!(cookies[1..].windows(2).all(|w| w[0] == w[1]));
    assert_eq!(net.nodes[1].ep.footprint().sessions, 0);
}

// spec: 7016-3.5.1.1.2-e, 7016-3.5.1.1.2-f, 7016-3.5.1.1.2-j
#[test]
fn an_expired_cookie_is_ignored() {
    let mut net = Net::new();
    let mut slow = config();
    slow.open_timeout = secs(300);
    net.add("alice", "192.0.2.1:1000", slow, transparent("alice"), 1);
    let mut short = config();
    short.cookie_lifetime = secs(95);
    net.add("bob", "192.0.2.2:2000", short, transparent("bob"), 2);
    let start = net.now;
    // Hold back every IIKeying for the first 96 s.
    net.set_hook(move |d, now| {
        if d.has(chunk::IIKEYING) && now - start < secs(96) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let h = net.connect(0, 1);
    net.run_for(secs(150));
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    assert!(net.nodes[1].ep.stats().drops.get(DropReason::CookieExpired) >= 1);
    assert_eq!(net.nodes[1].ep.footprint().sessions, 0);
}

// spec: 7016-3.5.1.1.2-c, 7016-3.5.1.1.2-j
#[test]
fn a_forged_cookie_is_ignored() {
    let mut net = pair();
    net.set_hook(|d, _| {
        if d.has(chunk::IIKEYING) {
            rewrite_transparent(&mut d.data, |p| {
                if let Chunk::IIKeying(k) = &mut p.chunks[0] {
                    k.cookie_echo[5] ^= 0x40;
                }
            });
        }
        Verdict::Deliver
    });
    let h = net.connect(0, 1);
    net.run_for(secs(10));
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    let drops = &net.nodes[1].ep.stats().drops;
    assert_eq!(
        drops.get(DropReason::CookieNotAuthentic),
        net.sent_count(0, chunk::IIKEYING) as u64
    );
    assert_eq!(net.nodes[1].ep.stats().cookie_changes_sent, 0);
    assert_eq!(net.nodes[1].ep.footprint().sessions, 0);
}

// ------------------------------------------------------------ glare

/// Checks that exactly one S_OPEN session joins the two ends, with Alice
/// (whose certificate sorts first) as initiator.
fn one_session_alice_initiates(net: &Net) {
    let a = net.nodes[0].ep.sessions();
    let b = net.nodes[1].ep.sessions();
    assert_eq!((a.len(), b.len()), (1, 1), "{a:?} {b:?}");
    let (ia, ib) = (net.info(0, a[0]), net.info(1, b[0]));
    assert_eq!(
        (ia.state, ib.state),
        (SessionState::S_OPEN, SessionState::S_OPEN)
    );
    assert_eq!((ia.role, ib.role), (Role::Initiator, Role::Responder));
    assert_eq!(ia.send_session_id, ib.receive_session_id);
    assert_eq!(ib.send_session_id, ia.receive_session_id);
    // Bob's own opening session lost the glare.
    assert!(net.events(1).iter().any(|e| matches!(
        e,
        Event::SessionOpenFailed {
            reason: OpenFailure::GlareLost { .. },
            ..
        }
    )));
}

// spec: 7016-3.5.1.3-a, 7016-3.5.1.3-b, 7016-3.5.1.3-c, 7016-3.5.1.3-d, 7016-3.5.1.3-e, 7016-3.5.1.3-f, 7016-3.5.1.1.2-m, 7016-3.2-h
#[test]
fn glare_in_s_keying_sent() {
    let mut net = pair();
    net.connect(0, 1);
    net.connect(1, 0);
    net.run_for(secs(5));
    one_session_alice_initiates(&net);
    assert_eq!(
        net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::GlareNearPrevails),
        1
    );
}

// The far end prevails while the near session is still in S_IHELLO_SENT:
// it is aborted since its EPD selects the far certificate (AMB-7016-02).
// spec: 7016-3.5.1.3-a, 7016-3.5.1.3-e, 7016-3.5.1.3-f
#[test]
fn glare_loser_in_s_ihello_sent() {
    let mut net = pair();
    drop_first_from(&mut net, 1, chunk::IHELLO);
    net.connect(0, 1);
    net.connect(1, 0);
    net.run_for(secs(5));
    one_session_alice_initiates(&net);
}

// The near end prevails while in S_IHELLO_SENT: it discards the far IIKeying
// and goes on; the far end gives way when the near IIKeying arrives.
// spec: 7016-3.5.1.3-d, 7016-3.5.1.3-e
#[test]
fn glare_winner_in_s_ihello_sent() {
    let mut net = pair();
    drop_first_from(&mut net, 0, chunk::IHELLO);
    net.connect(0, 1);
    net.connect(1, 0);
    net.run_for(secs(5));
    one_session_alice_initiates(&net);
    // Bob's first IIKeying and its retransmission, both discarded.
    assert_eq!(
        net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::GlareNearPrevails),
        2
    );
}

fn drop_first_from(net: &mut Net, sender: usize, chunk_type: u8) {
    let done = Rc::new(Cell::new(false));
    net.set_hook(move |d, _| {
        if d.sender == sender && d.has(chunk_type) && !done.get() {
            done.set(true);
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
}

// With the Flash profile, the certificate order decides (RFC 7425 4.3.6).
// spec: 7016-3.2-h, 7425-4.3.6-c, 7425-4.3.6-d
#[test]
fn glare_with_flash_certificates() {
    let mut net = Net::new();
    let pa = flash(small_flash(), 21);
    let pb = flash(small_flash(), 22);
    let a_prevails = pa.near_prevails_in_glare(pb.near_certificate());
    assert_ne!(a_prevails, pb.near_prevails_in_glare(pa.near_certificate()));
    net.add("alice", "192.0.2.1:1000", config(), Box::new(pa), 1);
    net.add("bob", "192.0.2.2:2000", config(), Box::new(pb), 2);
    net.connect(0, 1);
    net.connect(1, 0);
    net.run_for(secs(5));
    let a = net.nodes[0].ep.sessions();
    let b = net.nodes[1].ep.sessions();
    assert_eq!((a.len(), b.len()), (1, 1));
    let (winner, loser) = if a_prevails { (0, 1) } else { (1, 0) };
    let w = net.info(winner, net.nodes[winner].ep.sessions()[0]);
    let l = net.info(loser, net.nodes[loser].ep.sessions()[0]);
    assert_eq!((w.role, l.role), (Role::Initiator, Role::Responder));
    assert_eq!(
        (w.state, l.state),
        (SessionState::S_OPEN, SessionState::S_OPEN)
    );
}

// ------------------------------------------------------------ duplicates and override

// spec: 7016-3.5.1.1.1-o
#[test]
fn a_second_session_to_the_same_peer_is_a_duplicate() {
    let mut net = pair();
    let (h1, _) = net.open(0, 1);
    let h2 = net.connect(0, 1);
    net.run_for(secs(3));
    assert_eq!(net.state(0, h2), SessionState::S_CLOSED);
    assert!(net.events(0).contains(&Event::SessionOpenFailed {
        session: h2,
        reason: OpenFailure::Duplicate { existing: h1 }
    }));
    // No IIKeying for the duplicate.
    assert_eq!(net.sent_count(0, chunk::IIKEYING), 1);
    assert_eq!(net.nodes[1].ep.sessions().len(), 1);
}

// spec: 7016-3.5.1.1.2-p, 7016-3.2-i, 7425-4.3.7-a, 7016-3.5.5-d
#[test]
fn session_override_by_a_restarted_peer() {
    let mut net = pair();
    let (_, r1) = net.open(0, 1);
    // Alice restarts: same identity, same address, new endpoint.
    net.nodes[0].up = false;
    net.add(
        "alice2",
        "192.0.2.1:1000",
        config(),
        transparent("alice"),
        9,
    );
    let (h2, r2) = net.open(2, 1);
    assert_ne!(r1, r2);
    assert_eq!(net.state(1, r1), SessionState::S_CLOSED);
    assert!(net.events(1).contains(&Event::SessionClosed {
        session: r1,
        reason: CloseReason::Overridden { by: r2 }
    }));
    assert_eq!(net.state(2, h2), SessionState::S_OPEN);
    assert_eq!(net.nodes[1].ep.sessions(), vec![r2]);
}

// spec: 7016-3.5.1.1.2-o
#[test]
fn another_identity_at_the_same_address_does_not_override() {
    let mut net = pair();
    let (_, r1) = net.open(0, 1);
    net.nodes[0].up = false;
    net.add(
        "mallory",
        "192.0.2.1:1000",
        config(),
        transparent("mallory"),
        9,
    );
    let h = net.connect(2, 1);
    net.run_for(secs(10));
    assert_eq!(net.state(2, h), SessionState::S_KEYING_SENT);
    assert_eq!(net.state(1, r1), SessionState::S_OPEN);
    assert_eq!(
        net.nodes[1].ep.stats().drops.get(DropReason::NotOverriding),
        net.sent_count(2, chunk::IIKEYING) as u64
    );
}

// ------------------------------------------------------------ redirector

// spec: 7016-3.5.1.4-a, 7016-3.5.1.4-b, 7016-3.5.1.1.1-l, 7016-2.3.5-a, 7016-2.3.5-d
#[test]
fn redirector_sends_the_initiator_to_the_responder() {
    let mut net = pair();
    let rd = net.add(
        "redirector",
        "192.0.2.3:3000",
        config(),
        transparent("rd"),
        3,
    );
    let bob = net.public(1);
    net.ep(rd).set_redirect(b"bob".to_vec(), vec![bob]);
    let now = net.now;
    let via = net.public(rd);
    let h = net.ep(0).connect(now, b"bob".to_vec(), &[via]).unwrap();
    assert!(net.run_until(secs(5), |n| n.state(0, h) == SessionState::S_OPEN));
    assert_eq!(net.info(0, h).far_address, Some(bob));
    let redirect = net.log.iter().find(|l| l.has(chunk::REDIRECT)).unwrap();
    let Chunk::Redirect(r) = &chunks_of(&redirect.data)[0] else {
        panic!()
    };
    assert_eq!(
        r.destinations.iter().map(|a| a.socket).collect::<Vec<_>>(),
        [bob]
    );
    assert_eq!(redirect.session_id, 0);
    assert_eq!(net.nodes[rd].ep.sessions().len(), 0);
}

// spec: 7016-3.5.1.1.1-l, 7016-3.5.1.1.1-m
#[test]
fn redirects_stop_at_redirect_threshold() {
    let mut net = pair();
    let rd = net.add(
        "redirector",
        "192.0.2.3:3000",
        config(),
        transparent("rd"),
        3,
    );
    let many: Vec<_> = (0..30u16)
        .map(|i| addr(&format!("198.51.100.{}:7", i + 1)))
        .collect();
    net.ep(rd).set_redirect(b"carol".to_vec(), many);
    let now = net.now;
    let via = net.public(rd);
    let h = net.ep(0).connect(now, b"carol".to_vec(), &[via]).unwrap();
    net.run_for(secs(3));
    let c = net.info(0, h).candidates;
    assert_eq!(c.len(), 24);
    assert_eq!(c[0], via);
    // Each redirected candidate got an IHello at once.
    let distinct: std::collections::BTreeSet<_> = net
        .log
        .iter()
        .filter(|l| l.sender == 0 && l.has(chunk::IHELLO))
        .map(|l| l.to)
        .collect();
    assert_eq!(distinct.len(), 24);
}

// ------------------------------------------------------------ forwarder

/// Initiator 0, responder 1, forwarder 2 (responder registered with it).
fn forwarding(policy: FIHelloPolicy) -> (Net, rtmfp::endpoint::SessionHandle) {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    let mut bob = config();
    bob.fihello_policy = policy;
    net.add("bob", "192.0.2.2:2000", bob, transparent("bob"), 2);
    let mut fwd = config();
    fwd.introduction = IntroductionService {
        redirect: false,
        forward: true,
    };
    let f = net.add("forwarder", "192.0.2.3:3000", fwd, transparent("fwd"), 3);
    net.open(1, f);
    let now = net.now;
    let via = net.public(f);
    let h = net.ep(0).connect(now, b"bob".to_vec(), &[via]).unwrap();
    (net, h)
}

// spec: 7016-3.5.1.5-a, 7016-3.5.1.5-b, 7016-3.5.1.5-c, 7016-2.3.3-a, 7016-2.3.3-b, 7016-2.3.3-e, 7016-3.5.1.1.2-g, 7016-3.5.1.1.2-h
#[test]
fn forwarder_fihello_answered_with_rhello() {
    let (mut net, h) = forwarding(FIHelloPolicy::RHello);
    assert!(net.run_until(secs(5), |n| n.state(0, h) == SessionState::S_OPEN));
    assert_eq!(net.info(0, h).far_address, Some(net.public(1)));
    assert!(net.nodes[2].ep.stats().fihellos_sent >= 1);
    // The FIHello went over the forwarder's session with Bob (mode 2: responder).
    let fi = net.log.iter().find(|l| l.has(chunk::FIHELLO)).unwrap();
    assert_ne!(fi.session_id, 0);
    let Chunk::FIHello(f) = &chunks_of(&fi.data)[0] else {
        panic!()
    };
    assert_eq!(f.reply_address.socket, net.public(0));
    assert_eq!(f.endpoint_discriminator, b"bob");
    // Bob's RHello went straight to Alice.
    let rh = net
        .log
        .iter()
        .find(|l| l.sender == 1 && l.has(chunk::RHELLO) && l.to == net.public(0))
        .unwrap();
    assert_eq!(rh.session_id, 0);
}

// spec: 7016-2.3.3-c, 7016-3.5.1.1.2-i, 7016-2.3.5-c
#[test]
fn forwarder_fihello_answered_with_implied_redirect() {
    let (mut net, h) = forwarding(FIHelloPolicy::ImpliedRedirect);
    assert!(net.run_until(secs(5), |n| n.state(0, h) == SessionState::S_OPEN));
    let bob = net.public(1);
    assert_eq!(net.info(0, h).far_address, Some(bob));
    let redirect = net.log.iter().find(|l| l.has(chunk::REDIRECT)).unwrap();
    assert_eq!((redirect.sender, redirect.to), (1, net.public(0)));
    let Chunk::Redirect(r) = &chunks_of(&redirect.data)[0] else {
        panic!()
    };
    assert!(r.is_implied());
    // Alice then sent an IHello to Bob directly.
    assert!(
        net.log
            .iter()
            .any(|l| l.sender == 0 && l.has(chunk::IHELLO) && l.to == bob)
    );
}

// spec: 7016-3.5.1.1.2-g
#[test]
fn forwarder_fihello_ignored_by_default() {
    let (mut net, h) = forwarding(FIHelloPolicy::Ignore);
    net.run_for(secs(5));
    assert_eq!(net.state(0, h), SessionState::S_IHELLO_SENT);
    assert!(
        net.nodes[1]
            .ep
            .stats()
            .drops
            .get(DropReason::FIHelloIgnored)
            >= 1
    );
    assert_eq!(net.sent_count(1, chunk::RHELLO), 0);
}

// ------------------------------------------------------------ introduction service

// Figure 17: initiator and responder each behind an address-restricted NAT.
// spec: 7016-3.5.1.6-a, 7016-3.5.1.6-b, 7016-3.5.1.5-c, 7016-3.5.1.4-b
#[test]
fn introduction_service_through_two_nats() {
    let mut net = Net::new();
    let i = net.add("alice", "10.0.0.1:1000", config(), transparent("alice"), 1);
    let mut bob = config();
    bob.fihello_policy = FIHelloPolicy::RHello;
    let r = net.add("bob", "10.1.0.1:2000", bob, transparent("bob"), 2);
    let mut intro = config();
    intro.introduction = IntroductionService::enabled();
    let s = net.add("intro", "192.0.2.100:1935", intro, transparent("intro"), 3);
    net.nat(i, "203.0.113.1:40000");
    net.nat(r, "203.0.113.2:50000");
    // Bob registers: an S_OPEN session to the service, which sees his public address.
    let (_, at_service) = net.open(r, s);
    assert_eq!(net.info(s, at_service).far_address, Some(net.public(r)));
    let bob_local = addr("10.1.0.1:2000");
    net.ep(s)
        .register_addresses(at_service, vec![bob_local])
        .unwrap();

    let now = net.now;
    let via = net.public(s);
    let h = net.ep(i).connect(now, b"bob".to_vec(), &[via]).unwrap();
    assert!(net.run_until(secs(10), |n| n.state(i, h) == SessionState::S_OPEN));
    let b = net.incoming(r).unwrap();
    // Each end talks to the other's public NAT address.
    assert_eq!(net.info(i, h).far_address, Some(net.public(r)));
    assert_eq!(net.info(r, b).far_address, Some(net.public(i)));
    // The Redirect listed Bob's public address first, then what he registered.
    let redirect = net.log.iter().find(|l| l.has(chunk::REDIRECT)).unwrap();
    let Chunk::Redirect(rd) = &chunks_of(&redirect.data)[0] else {
        panic!()
    };
    let listed: Vec<_> = rd.destinations.iter().map(|a| a.socket).collect();
    assert_eq!(listed, [net.public(r), bob_local]);
    // The FIHello carried Alice's public address.
    let fi = net.log.iter().find(|l| l.has(chunk::FIHELLO)).unwrap();
    let Chunk::FIHello(f) = &chunks_of(&fi.data)[0] else {
        panic!()
    };
    assert_eq!(f.reply_address.socket, net.public(i));
}
