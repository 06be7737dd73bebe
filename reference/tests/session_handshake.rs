//! The normal handshake (RFC 7016 3.5.1.1) between two sans-IO endpoints,
//! with the transparent profile and the Flash profile (RFC 7425 section 4).

mod common;

use common::*;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::{FlashConfig, NegotiationPolicy};
use rtmfp::crypto::inspect::{self, Keys};
use rtmfp::endpoint::{DropReason, Event};
use rtmfp::session::{Role, SessionState};
use rtmfp::wire::chunk;

fn two_transparent() -> Net {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    net
}

// spec: 7016-3.5.1.1-a, 7016-3.5.1.1.1-a, 7016-3.5.1.1.1-g, 7016-3.5.1.1.1-p, 7016-3.5.1.1.1-q, 7016-3.5.1.1.1-w, 7016-3.5.1.1.2-a, 7016-3.5.1.1.2-r, 7016-3.5.1.1.2-s, 7016-2.3.8-d, 7016-2.3.8-e, 7016-2.3.8-f, 7016-2.3.7-f, 7016-3.3-c, 7016-3.5-a
#[test]
fn normal_handshake_transparent() {
    let mut net = two_transparent();
    let h = net.connect(0, 1);
    assert_eq!(net.state(0, h), SessionState::S_IHELLO_SENT);
    assert!(net.run_until(secs(1), |n| n.state(0, h) == SessionState::S_OPEN));
    let r = net.incoming(1).unwrap();
    let a = net.info(0, h);
    let b = net.info(1, r);
    assert_eq!(
        (a.state, b.state),
        (SessionState::S_OPEN, SessionState::S_OPEN)
    );
    assert_eq!((a.role, b.role), (Role::Initiator, Role::Responder));
    // Each end sends with the ID the other asked for; neither is 0.
    assert_eq!(a.send_session_id, b.receive_session_id);
    assert_eq!(b.send_session_id, a.receive_session_id);
    assert!(a.receive_session_id != 0 && b.receive_session_id != 0);
    assert_eq!(a.far_address, Some(net.public(1)));
    assert_eq!(b.far_address, Some(net.public(0)));
    assert_eq!(a.far_certificate.as_deref(), Some(&b"bob"[..]));
    assert_eq!(b.far_certificate.as_deref(), Some(&b"alice"[..]));
    assert_eq!(a.far_canonical_epd.as_deref(), Some(&b"bob"[..]));
    // Nonces mirror (RFC 7016 3.5: near nonce = far end's far nonce).
    assert_eq!(a.near_nonce, b.far_nonce);
    assert_eq!(a.far_nonce, b.near_nonce);
    assert!(a.near_nonce.is_some());
    assert_eq!(net.events(0), vec![Event::SessionOpened { session: h }]);
    assert_eq!(net.events(1), vec![Event::IncomingSession { session: r }]);
    // Exactly the four handshake datagrams: IHello, RHello, IIKeying, RIKeying.
    let kinds: Vec<u8> = net
        .log
        .iter()
        .map(|l| l.chunks.as_ref().unwrap()[0])
        .collect();
    assert_eq!(
        kinds,
        [
            chunk::IHELLO,
            chunk::RHELLO,
            chunk::IIKEYING,
            chunk::RIKEYING
        ]
    );
    // RIKeying goes to the initiator's session ID under the default key; the rest under 0.
    let sids: Vec<u32> = net.log.iter().map(|l| l.session_id).collect();
    assert_eq!(sids, [0, 0, 0, a.receive_session_id]);
    for i in 0..2 {
        assert_eq!(net.nodes[i].ep.stats().drops.total(), 0, "node {i}");
    }
    assert_eq!(net.nodes[0].ep.stats().sessions_opened, 1);
    assert_eq!(net.nodes[1].ep.stats().sessions_accepted, 1);
}

// spec: 7016-2.3.9-a, 7016-2.3.10-a, 7016-2.3.10-b, 7016-3.5.4-a, 7016-2.2.4-k, 7016-2.2.4-m
#[test]
fn open_sessions_exchange_pings_in_their_modes() {
    let mut net = two_transparent();
    let (h, r) = net.open(0, 1);
    let start = net.log.len();
    net.ping(0);
    net.ping(1);
    net.run_for(secs(1));
    let after: Vec<_> = net.log[start..].to_vec();
    assert!(!after.is_empty());
    for l in &after {
        let (_, p) = open_transparent(&l.data).unwrap();
        // Initiator packets are mode 1, responder packets mode 2 (2.2.4).
        let mode = if l.sender == 0 { 1 } else { 2 };
        assert_eq!(p.header.mode.bits(), mode);
    }
    assert_eq!(net.info(0, h).stats.ping_replies_received, 1);
    assert_eq!(net.info(1, r).stats.ping_replies_received, 1);
    assert_eq!(net.info(1, r).stats.ping_replies_sent, 1);
}

fn flash_pair(
    a: FlashConfig,
    b: FlashConfig,
) -> (
    Net,
    rtmfp::endpoint::SessionHandle,
    rtmfp::endpoint::SessionHandle,
) {
    let mut net = Net::new();
    let pa = flash(a, 11);
    let pb = flash(b, 12);
    net.add("alice", "192.0.2.1:1000", config(), Box::new(pa), 1);
    net.add("bob", "192.0.2.2:2000", config(), Box::new(pb), 2);
    let (h, r) = net.open(0, 1);
    // Traffic both ways under the session keys.
    net.ping(0);
    net.ping(1);
    net.run_for(secs(1));
    assert_eq!(net.info(0, h).stats.ping_replies_received, 1);
    assert_eq!(net.info(1, r).stats.ping_replies_received, 1);
    for i in 0..2 {
        assert_eq!(net.nodes[i].ep.stats().drops.total(), 0, "node {i}");
    }
    (net, h, r)
}

fn key_logs(
    net: &Net,
    h: rtmfp::endpoint::SessionHandle,
    r: rtmfp::endpoint::SessionHandle,
) -> (KeyLog, KeyLog) {
    let a = KeyLog::parse(&net.info(0, h).key_log.unwrap()).unwrap();
    let b = KeyLog::parse(&net.info(1, r).key_log.unwrap()).unwrap();
    assert_eq!(a.enc_key, b.dec_key);
    assert_eq!(a.dec_key, b.enc_key);
    assert_eq!(a.near_nonce, net.info(0, h).near_nonce.unwrap());
    (a, b)
}

/// Every datagram of the run opens with the default key or the logged keys,
/// as a simulator decrypting its own traces would do it.
fn all_datagrams_decrypt(net: &Net, logs: Vec<KeyLog>) {
    let keys = Keys {
        raw: Vec::new(),
        key_logs: logs,
    };
    for l in &net.log {
        inspect::decrypt_datagram(&l.data, &keys).expect("key log opens the trace");
    }
}

// spec: 7425-4.6.1.1-a, 7425-4.6.1.1-b, 7425-4.6.4-c, 7425-4.6.6-e, 7425-4.6.3-a, 7016-2.2.3-e, 7016-2.2.3-f
#[test]
fn flash_ephemeral_handshake_with_hmac_and_sequence_numbers() {
    let (net, h, r) = flash_pair(small_flash(), small_flash());
    let (a, b) = key_logs(&net, h, r);
    assert!(a.hmac_send && a.hmac_recv && a.sseq_send && a.sseq_recv);
    assert!(b.hmac_send && b.sseq_send);
    assert_eq!(a.dh_group, 2);
    all_datagrams_decrypt(&net, vec![a, b]);
}

// spec: 7425-4.6.4-h, 7425-4.6.4-e, 7425-4.6.6-g
#[test]
fn flash_handshake_with_checksums_and_no_sequence_numbers() {
    let off = FlashConfig {
        hmac: NegotiationPolicy::off(),
        sseq: NegotiationPolicy::off(),
        ..small_flash()
    };
    let (net, h, r) = flash_pair(off.clone(), off);
    let (a, b) = key_logs(&net, h, r);
    assert!(!a.hmac_send && !a.hmac_recv && !a.sseq_send && !a.sseq_recv);
    assert!(!b.hmac_send && !b.sseq_send);
    all_datagrams_decrypt(&net, vec![a, b]);
}

// The profile is the point: RFC 7425's presets, static keys in the client's
// certificate (section 7), DH group 16 as rtmfp-cpp negotiates.
// spec: 7425-4.6.1.3-a, 7425-4.6.1.3-b, 7425-4.6.1.3-c
#[test]
fn flash_static_client_to_ephemeral_server_group_16() {
    let (net, h, r) = flash_pair(FlashConfig::client(), FlashConfig::server());
    let (a, b) = key_logs(&net, h, r);
    assert_eq!((a.dh_group, b.dh_group), (16, 16));
    // The client certificate holds four static keys: over 1 KB, still sent whole.
    assert!(net.info(1, r).far_certificate.unwrap().len() > 1000);
    assert_eq!(net.nodes[0].ep.stats().packets_fragmented, 0);
    all_datagrams_decrypt(&net, vec![a, b]);
}

// spec: 7425-4.6.1.1-a
#[test]
fn flash_default_ephemeral_group_16() {
    let (net, h, r) = flash_pair(FlashConfig::default(), FlashConfig::default());
    let (a, _) = key_logs(&net, h, r);
    assert_eq!(a.dh_group, 16);
}

// spec: 7016-3.5.1.1.1-n, 7016-3.5.1.1.2-a
#[test]
fn an_ihello_for_someone_else_gets_no_answer() {
    let mut net = two_transparent();
    let now = net.now;
    let to = net.public(1);
    let h = net.ep(0).connect(now, b"carol".to_vec(), &[to]).unwrap();
    net.run_for(secs(5));
    assert_eq!(net.state(0, h), SessionState::S_IHELLO_SENT);
    assert_eq!(net.sent_count(1, chunk::RHELLO), 0);
    assert!(
        net.nodes[1]
            .ep
            .stats()
            .drops
            .get(DropReason::IHelloNotForUs)
            >= 2
    );
    assert_eq!(net.nodes[1].ep.footprint().sessions, 0);
}

// What each handshake chunk carries (RFC 7016 2.3.2 to 2.3.8, 3.5.1.1.1, 3.5.1.1.2).
// spec: 7016-2.3.2-a, 7016-2.3.4-a, 7016-2.3.4-b, 7016-2.3.4-d, 7016-2.3.7-a, 7016-2.3.7-b, 7016-2.3.7-d, 7016-2.3.8-a, 7016-2.2.2-d, 7016-3.5.1.1.1-d, 7016-3.5.1.1.1-e, 7016-3.5.1.1.1-f, 7016-3.5.1.1.1-r, 7016-3.5.1.1.2-q
#[test]
fn handshake_chunks_carry_what_the_rfc_says() {
    use rtmfp::wire::Chunk;
    let mut net = two_transparent();
    // A second, concurrent opening session gets a different tag.
    let now = net.now;
    let other = net
        .ep(0)
        .connect(now, b"carol".to_vec(), &[addr("198.51.100.1:1")])
        .unwrap();
    let h = net.connect(0, 1);
    assert!(net.run_until(secs(1), |n| n.state(0, h) == SessionState::S_OPEN));
    let r = net.incoming(1).unwrap();
    let (a, b) = (net.info(0, h), net.info(1, r));
    let find = |t: u8| {
        net.log
            .iter()
            .find(|l| l.has(t) && l.to != addr("198.51.100.1:1"))
            .unwrap()
    };
    let (ih, rh, ik, rk) = (
        find(chunk::IHELLO),
        find(chunk::RHELLO),
        find(chunk::IIKEYING),
        find(chunk::RIKEYING),
    );
    for l in [ih, rh, ik, rk] {
        let (_, p) = open_transparent(&l.data).unwrap();
        assert_eq!(p.header.mode, rtmfp::wire::Mode::Startup);
    }
    assert_eq!((ih.session_id, rh.session_id, ik.session_id), (0, 0, 0));
    let [Chunk::IHello(ihello)] = &chunks_of(&ih.data)[..] else {
        panic!()
    };
    let [Chunk::RHello(rhello)] = &chunks_of(&rh.data)[..] else {
        panic!()
    };
    let [Chunk::IIKeying(iik)] = &chunks_of(&ik.data)[..] else {
        panic!()
    };
    let [Chunk::RIKeying(rik)] = &chunks_of(&rk.data)[..] else {
        panic!()
    };
    assert_eq!(ihello.endpoint_discriminator, b"bob");
    assert_eq!(ihello.tag.len(), 16);
    let other_tag = net
        .log
        .iter()
        .find(|l| l.to == addr("198.51.100.1:1"))
        .map(|l| match &chunks_of(&l.data)[0] {
            Chunk::IHello(i) => i.tag.clone(),
            _ => unreachable!(),
        })
        .unwrap();
    assert_ne!(other_tag, ihello.tag);
    assert_eq!(net.state(0, other), SessionState::S_IHELLO_SENT);
    assert_eq!(rhello.tag_echo, ihello.tag);
    assert_eq!(rhello.responder_certificate, b"bob");
    assert_eq!(iik.cookie_echo, rhello.cookie);
    assert_eq!(iik.initiator_session_id, a.receive_session_id);
    assert_eq!(iik.initiator_certificate, b"alice");
    assert_eq!(iik.session_key_initiator_component.len(), 8);
    assert_eq!(rik.responder_session_id, b.receive_session_id);
    assert_eq!(rk.session_id, iik.initiator_session_id);
    // The transparent profile's nonces are the keying components.
    assert_eq!(
        a.near_nonce.as_deref(),
        Some(&iik.session_key_initiator_component[..])
    );
    assert_eq!(
        a.far_nonce.as_deref(),
        Some(&rik.session_key_responder_component[..])
    );
}

fn passworded(id: &str, secret: &str) -> FlashConfig {
    use rtmfp::crypto::flash::signature::{Password, SignaturePolicy};
    let p = Password::new(id.as_bytes().to_vec(), secret.as_bytes().to_vec());
    FlashConfig {
        signature: SignaturePolicy {
            sign_with: vec![p.clone()],
            verify_with: vec![p],
            require: true,
        },
        ..small_flash()
    }
}

// Signatures are checked on both keying chunks (RFC 7425 4.3.5 Simple Password).
// spec: 7016-2.3.7-e, 7016-2.3.8-c, 7016-3.5.1.1.2-l, 7016-3.5.1.1.1-v
#[test]
fn keying_signatures_are_verified_both_ways() {
    // Same password: opens.
    let mut net = Net::new();
    net.add(
        "a",
        "192.0.2.1:1000",
        config(),
        Box::new(flash(passworded("k", "s"), 1)),
        1,
    );
    net.add(
        "b",
        "192.0.2.2:2000",
        config(),
        Box::new(flash(passworded("k", "s"), 2)),
        2,
    );
    let (h, _) = net.open(0, 1);
    assert_eq!(net.state(0, h), SessionState::S_OPEN);

    // The initiator signs wrongly: the responder ignores its IIKeying.
    let mut net = Net::new();
    net.add(
        "a",
        "192.0.2.1:1000",
        config(),
        Box::new(flash(passworded("k", "wrong"), 1)),
        1,
    );
    net.add(
        "b",
        "192.0.2.2:2000",
        config(),
        Box::new(flash(passworded("k", "s"), 2)),
        2,
    );
    let h = net.connect(0, 1);
    net.run_for(secs(3));
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    assert!(net.nodes[1].ep.stats().drops.get(DropReason::BadSignature) >= 2);
    assert_eq!(net.nodes[1].ep.footprint().sessions, 0);
    // (Both ends hold the password, so the responder's RIKeying would be fine;
    // now the other way round.)
    let mut net = Net::new();
    let strict = passworded("k", "s");
    let mut lax = passworded("k", "wrong");
    lax.signature.require = false;
    lax.signature.verify_with.clear();
    net.add(
        "a",
        "192.0.2.1:1000",
        config(),
        Box::new(flash(strict, 1)),
        1,
    );
    net.add("b", "192.0.2.2:2000", config(), Box::new(flash(lax, 2)), 2);
    let h = net.connect(0, 1);
    net.run_for(secs(3));
    // Bob accepted (he requires nothing) but his RIKeying fails Alice's check.
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    assert!(net.info(0, h).stats.drops.get(DropReason::BadSignature) >= 2);
    assert_eq!(net.nodes[1].ep.stats().sessions_accepted, 1);
}

// spec: 7016-3.5.1.1.2-q, 7016-3.5.1.1.1-q, 7016-3.3-c
#[test]
fn receive_session_ids_and_handles_are_unique() {
    let mut net = Net::new();
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    for i in 0..20u16 {
        let name: &'static str = Box::leak(format!("peer{i}").into_boxed_str());
        let at = format!("192.0.2.{}:1000", 10 + i);
        let n = net.add(name, &at, config(), transparent(name), 100 + u64::from(i));
        net.connect(n, 0);
    }
    net.run_for(secs(2));
    let bob = &net.nodes[0].ep;
    let handles = bob.sessions();
    assert_eq!(handles.len(), 20);
    let ids: std::collections::BTreeSet<u32> = handles
        .iter()
        .map(|h| bob.session(*h).unwrap().receive_session_id)
        .collect();
    assert_eq!(ids.len(), 20);
    assert!(!ids.contains(&0));
    // Handles are never reused, even after sessions close.
    let now = net.now;
    for h in &handles {
        net.ep(0)
            .close(now, *h, rtmfp::endpoint::CloseKind::Abrupt)
            .unwrap();
    }
    net.run_for(secs(1));
    let n = net.add(
        "late",
        "192.0.2.99:1000",
        config(),
        transparent("late"),
        999,
    );
    net.connect(n, 0);
    net.run_for(secs(1));
    let new = net.nodes[0].ep.sessions();
    assert_eq!(new.len(), 1);
    assert!(new[0] > *handles.iter().max().unwrap());
}

#[test]
fn an_endpoint_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<rtmfp::endpoint::Endpoint>();
}

// The Flash profile as the endpoint's default, built from the endpoint's own generator.
#[test]
fn flash_endpoint_constructor() {
    use rtmfp::endpoint::Endpoint;
    use rtmfp::random::SeededRandom;
    let ep = Endpoint::flash(config(), small_flash(), Box::new(SeededRandom::new(5))).unwrap();
    assert_eq!(ep.profile().name(), "flash");
    let bad = FlashConfig {
        groups: Vec::new(),
        ..FlashConfig::default()
    };
    assert!(Endpoint::flash(config(), bad, Box::new(SeededRandom::new(5))).is_err());
}
