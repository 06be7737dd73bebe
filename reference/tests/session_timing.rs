//! Timestamps and RTT (RFC 7016 3.5.2.2), keepalive and dead peers (3.5.4.1),
//! address mobility (3.5.3, 3.5.4.2), path MTU probing (3.5.4.3) and TCR (2.2.4).

mod common;

use common::*;
use rtmfp::endpoint::{CloseReason, DropReason, Event};
use rtmfp::session::SessionState;
use rtmfp::session::mtu::MtuProbeConfig;
use rtmfp::time::Instant;
use rtmfp::wire::chunk::{Ping, PingReply};
use rtmfp::wire::packet::{Header, Mode, Packet};
use rtmfp::wire::{Chunk, chunk};

fn pair_with(cfg: rtmfp::endpoint::EndpointConfig) -> Net {
    let mut net = Net::new();
    net.add(
        "alice",
        "192.0.2.1:1000",
        cfg.clone(),
        transparent("alice"),
        1,
    );
    net.add("bob", "192.0.2.2:2000", cfg, transparent("bob"), 2);
    net
}

// spec: 7016-3.5.2.2-c, 7016-3.5.4-b, 7016-2.3.9-c, 7016-3.5.2.2-d, 7016-3.5.2.2-e, 7016-3.5.2.2-f, 7016-3.5.2.2-i, 7016-3.5.2.2-j, 7016-3.5.2.2-m, 7016-3.5.2.2-n, 7016-3.5.2.2-q, 7016-3.5.2.2-s, 7016-3.5.2.2-u, 7016-2.2.4-g
#[test]
fn timestamps_and_echoes_measure_the_round_trip() {
    let mut net = pair_with(config());
    let (h, r) = net.open(0, 1);
    assert_eq!(net.info(0, h).srtt, None);
    let start = net.log.len();
    net.ping(0);
    net.run_for(secs(1));
    let sent: Vec<_> = net.log[start..].to_vec();
    assert_eq!(sent.len(), 2, "a ping and its reply");
    let (_, ping) = open_transparent(&sent[0].data).unwrap();
    let (_, reply) = open_transparent(&sent[1].data).unwrap();
    // The first packet of the session: a timestamp, nothing to echo yet.
    assert_eq!(ping.header.timestamp, Some(sent[0].at.timestamp_ticks()));
    assert_eq!(ping.header.timestamp_echo, None);
    // The reply echoes it, 0 ticks later: answered as soon as it arrived.
    assert_eq!(sent[1].at, sent[0].at + net.latency);
    assert_eq!(reply.header.timestamp_echo, ping.header.timestamp);
    assert_eq!(reply.header.timestamp, Some(sent[1].at.timestamp_ticks()));
    // 10 ms each way: 20 ms; ERTO = max(20 + 40 + 200, 250) ms.
    let a = net.info(0, h);
    assert_eq!(a.srtt, Some(ms(20)));
    assert_eq!(a.rttvar, ms(10));
    assert_eq!(a.erto, ms(260));
    assert!(a.erto >= a.srtt.unwrap());
    // Bob has no sample until Alice echoes his timestamp.
    assert_eq!(net.info(1, r).srtt, None);
    net.ping(0);
    net.run_for(secs(1));
    assert_eq!(net.info(1, r).srtt, Some(ms(20)));
}

// spec: 7016-3.5.4.1-a, 7016-3.5.4.1-b, 7016-3.5.4-a, 7016-3.5.4-d
#[test]
fn idle_sessions_send_empty_keepalive_pings() {
    let mut net = pair_with(config());
    let (h, r) = net.open(0, 1);
    let opened = net.now;
    net.run_for(secs(95));
    let pings: Vec<_> = net.log.iter().filter(|l| l.has(chunk::PING)).collect();
    assert!(pings.len() >= 3);
    for p in &pings {
        for c in chunks_of(&p.data) {
            if let Chunk::Ping(ping) = c {
                assert!(ping.message.is_empty());
            }
        }
    }
    // The first one after 30 s of silence.
    assert!(pings[0].at - opened >= secs(29));
    let replies =
        net.info(0, h).stats.ping_replies_received + net.info(1, r).stats.ping_replies_received;
    assert_eq!(replies as usize, pings.len());
    assert_eq!(net.state(0, h), SessionState::S_OPEN);
    assert_eq!(net.state(1, r), SessionState::S_OPEN);
}

// spec: 7016-3.5.4.1-b, 7016-3.5.4.1-c
#[test]
fn a_silent_peer_is_declared_dead() {
    let mut net = pair_with(config());
    let (h, r) = net.open(0, 1);
    let cut = net.now;
    net.set_hook(|_, _| Verdict::Drop);
    net.run_for(secs(200));
    for (i, s) in [(0, h), (1, r)] {
        assert_eq!(net.state(i, s), SessionState::S_CLOSED);
        let died = net.nodes[i]
            .events
            .iter()
            .find_map(|(t, e)| match e {
                Event::SessionClosed {
                    reason: CloseReason::PeerDead,
                    ..
                } => Some(*t),
                _ => None,
            })
            .unwrap();
        // 30 s idle, then 90 s of unanswered pings.
        assert!(
            (secs(119)..=secs(121)).contains(&(died - cut)),
            "{:?}",
            died - cut
        );
        // Pings at most once per ERTO, spacing growing to the 10 s cap.
        let times: Vec<Instant> = net.sent_times(i, chunk::PING);
        let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() >= 8);
        assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{gaps:?}");
        assert!(gaps[0] >= secs(3) && *gaps.last().unwrap() <= secs(10));
    }
}

// spec: 7016-3.5.3-a, 7016-3.5.4.2-c, 7016-3.5.4.2-d, 7016-3.5.4.2-e, 7016-3.5.4.2-f, 7016-3.5.4.2-g, 7016-3.5.4.2-h, 7016-3.5.4.2-i, 7016-3.3-b
#[test]
fn address_change_verified_by_a_mobility_ping() {
    let mut net = pair_with(config());
    let (h, r) = net.open(0, 1);
    let old = net.public(0);
    let new = addr("192.0.2.50:1000");
    // Alice's address changes (her old one stops working); she tells her endpoint.
    net.nodes[0].addr = new;
    net.ping(0);
    net.run_for(secs(5));
    let b = net.info(1, r);
    assert_eq!(b.far_address, Some(new));
    assert_eq!(b.stats.mobility_checks_sent, 1);
    assert!(net.events(1).contains(&Event::AddressChanged {
        session: r,
        from: old,
        to: new
    }));
    // The check went to the new address, with the 'M' marking.
    let check = net
        .log
        .iter()
        .find(|l| l.sender == 1 && l.to == new && l.has(chunk::PING))
        .unwrap();
    let Chunk::Ping(p) = &chunks_of(&check.data)[0] else {
        panic!()
    };
    assert_eq!(p.message[0], b'M');
    // And traffic now flows both ways at the new address.
    net.ping(1);
    net.run_for(secs(1));
    assert!(net.info(1, r).stats.ping_replies_received >= 2);
    assert_eq!(net.state(0, h), SessionState::S_OPEN);
}

// spec: 7016-3.5.3-a, 7016-3.5.4.2-c, 7016-3.5.4.2-g
#[test]
fn a_spoofed_source_is_not_adopted() {
    let mut net = pair_with(config());
    let (_, r) = net.open(0, 1);
    let alice = net.public(0);
    let bob = net.public(1);
    net.ping(0);
    net.run_for(secs(1));
    let valid = net
        .log
        .iter()
        .rev()
        .find(|l| l.sender == 0 && l.has(chunk::PING))
        .unwrap()
        .data
        .clone();
    let attacker = addr("198.51.100.66:6666");
    // A replay from the attacker's address, twice within a second.
    net.inject(attacker, bob, valid.clone());
    net.inject(attacker, bob, valid);
    // A forged mobility answer from the attacker (the transparent profile
    // lets anyone build session packets; only MOB_SECRET protects).
    let sid = net.info(0, net.only_session(0).unwrap()).send_session_id;
    let mut forged = Packet::new(Header::new(Mode::Initiator));
    let mut msg = vec![b'M'];
    msg.extend_from_slice(&net.now.as_micros().to_be_bytes());
    msg.extend_from_slice(&[0x55; 16]);
    forged
        .chunks
        .push(Chunk::PingReply(PingReply { message_echo: msg }));
    net.inject(attacker, bob, craft(sid, &forged));
    net.run_for(secs(130));
    let b = net.info(1, r);
    assert_eq!(b.far_address, Some(alice));
    assert_eq!(b.stats.mobility_checks_sent, 1);
    assert!(
        !net.events(1)
            .iter()
            .any(|e| matches!(e, Event::AddressChanged { .. }))
    );
}

// With HMAC and session sequence numbers, a replayed packet never gets as far as mobility.
// spec: 7016-5-e, 7016-2.2.3-c
#[test]
fn flash_replays_from_another_address_are_dropped() {
    let mut net = Net::new();
    net.add(
        "alice",
        "192.0.2.1:1000",
        config(),
        Box::new(flash(small_flash(), 1)),
        1,
    );
    net.add(
        "bob",
        "192.0.2.2:2000",
        config(),
        Box::new(flash(small_flash(), 2)),
        2,
    );
    let (_, r) = net.open(0, 1);
    net.ping(0);
    net.run_for(secs(1));
    let last = net
        .log
        .iter()
        .rev()
        .find(|l| l.sender == 0)
        .unwrap()
        .data
        .clone();
    let bob = net.public(1);
    net.inject(addr("198.51.100.66:6666"), bob, last);
    net.run_for(secs(1));
    let b = net.info(1, r);
    assert_eq!(b.stats.mobility_checks_sent, 0);
    assert_eq!(
        b.stats.drops.get(DropReason::Crypto("duplicate_sequence")),
        1
    );
}

// spec: 7016-3.5.4.3-a, 7016-3.5.4.3-b
#[test]
fn path_mtu_probing_raises_the_packet_size() {
    let mut cfg = config();
    cfg.mtu.probe = Some(MtuProbeConfig::default());
    for (path, lo, hi) in [(None, 1420, 1420), (Some(1300), 1300 - 6 - 16, 1300 - 6)] {
        let mut net = pair_with(cfg.clone());
        net.mtu = path;
        let (h, r) = net.open(0, 1);
        net.run_for(secs(60));
        for (i, s) in [(0, h), (1, r)] {
            let len = net.info(i, s).packet_len;
            assert!((lo..=hi).contains(&len), "path {path:?}: {len}");
            assert!(net.events(i).contains(&Event::PacketSizeRaised {
                session: s,
                packet_len: len
            }));
        }
        // Probes: padding first, then the Ping; exactly the size tried.
        let probes: Vec<_> = net
            .log
            .iter()
            .filter(|l| l.has(chunk::PADDING_00))
            .collect();
        assert!(!probes.is_empty());
        for p in probes {
            assert_eq!(
                p.chunks.as_deref(),
                Some(&[chunk::PADDING_00, chunk::PING][..])
            );
        }
    }
}

// spec: 7016-2.2.4-f
#[test]
fn time_critical_packets_on_one_session_set_tcr_on_the_others() {
    let mut net = pair_with(config());
    net.add("carol", "192.0.2.3:3000", config(), transparent("carol"), 3);
    net.open(0, 1);
    let (c, _) = net.open(2, 1);
    // Carol sends Bob a time-critical packet.
    let sid = net.info(2, c).send_session_id;
    let mut p = Packet::new(Header::new(Mode::Initiator));
    p.header.time_critical = true;
    p.chunks.push(Chunk::Ping(Ping::default()));
    let (carol, bob) = (net.public(2), net.public(1));
    net.inject(carol, bob, craft(sid, &p));
    net.run_for(ms(100));
    let tcr_to_alice = |net: &Net, from: usize| -> Vec<bool> {
        net.log[from..]
            .iter()
            .filter(|l| l.sender == 1 && l.to == net.public(0))
            .map(|l| {
                open_transparent(&l.data)
                    .unwrap()
                    .1
                    .header
                    .time_critical_reverse
            })
            .collect()
    };
    let start = net.log.len();
    net.ping(0);
    net.run_for(ms(100));
    assert_eq!(tcr_to_alice(&net, start), [true]);
    // Not to Carol herself, and not after 800 ms.
    net.run_for(secs(1));
    let start = net.log.len();
    net.ping(0);
    net.run_for(ms(100));
    assert_eq!(tcr_to_alice(&net, start), [false]);
}
