//! What an endpoint drops, ignores and counts (RFC 7016 2.2.2 to 2.3, 3.3):
//! mode violations, unknown session IDs, malformed and unknown chunks, chunks
//! under the wrong session ID, failed verification.

mod common;

use common::*;
use rtmfp::endpoint::{DropReason, SessionHandle};
use rtmfp::session::SessionState;
use rtmfp::wire::chunk::{BufferProbe, IHello, Ping, RHello, Unknown, UserData};
use rtmfp::wire::packet::{Header, Mode, Packet};
use rtmfp::wire::{Chunk, chunk};

struct Open {
    net: Net,
    alice: SessionHandle,
    bob: SessionHandle,
}

fn open() -> Open {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    let (alice, bob) = net.open(0, 1);
    Open { net, alice, bob }
}

fn packet(mode: Mode, chunks: Vec<Chunk>) -> Packet {
    let mut p = Packet::new(Header::new(mode));
    p.chunks = chunks;
    p
}

fn ping(m: &[u8]) -> Chunk {
    Chunk::Ping(Ping {
        message: m.to_vec(),
    })
}

impl Open {
    /// Sends a crafted datagram from Bob's address to Alice (Alice is the initiator).
    fn send_alice(&mut self, data: Vec<u8>) {
        let (bob, alice) = (self.net.public(1), self.net.public(0));
        self.net.inject(bob, alice, data);
        self.net.run_for(ms(100));
    }

    fn alice_sid(&self) -> u32 {
        self.net.info(1, self.bob).send_session_id
    }

    fn alice_drops(&self, r: DropReason) -> u64 {
        self.net.info(0, self.alice).stats.drops.get(r)
    }

    fn replies(&self) -> u64 {
        self.net.info(0, self.alice).stats.ping_replies_sent
    }
}

// spec: 7016-3.3-b, 7016-2.2.2-c
#[test]
fn unknown_session_ids_and_short_datagrams_are_dropped() {
    let mut o = open();
    let p = packet(Mode::Responder, vec![ping(b"x")]);
    let wrong = o.alice_sid().wrapping_add(1);
    o.send_alice(craft(wrong, &p));
    o.send_alice(vec![1, 2, 3]);
    let s = o.net.nodes[0].ep.stats();
    assert_eq!(s.drops.get(DropReason::UnknownSessionId), 1);
    assert_eq!(s.drops.get(DropReason::TooShort), 1);
    assert_eq!(o.replies(), 0);
    // The right ID works (control).
    let sid = o.alice_sid();
    o.send_alice(craft(sid, &p));
    assert_eq!(o.replies(), 1);
}

// spec: 7016-2.2.3-d
#[test]
fn packets_failing_verification_are_dropped() {
    let mut o = open();
    let sid = o.alice_sid();
    // Long enough that the checksum is not part of the session ID scrambling.
    let mut d = craft(sid, &packet(Mode::Responder, vec![ping(b"0123456789")]));
    let last = d.len() - 1;
    d[last] ^= 1;
    o.send_alice(d);
    assert_eq!(o.alice_drops(DropReason::Crypto("bad_checksum")), 1);
    let mut d = craft(0, &packet(Mode::Startup, vec![ping(b"0123456789")]));
    let last = d.len() - 1;
    d[last] ^= 1;
    o.send_alice(d);
    assert_eq!(
        o.net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::Crypto("bad_checksum")),
        2
    );
    assert_eq!(o.replies(), 0);
}

// spec: 7016-2.2.4-j, 7016-2.2.4-l, 7016-2.2.4-n
#[test]
fn mode_0_and_own_mode_packets_are_ignored() {
    let mut o = open();
    let sid = o.alice_sid();
    // Mode 0: the flags byte 0x00 then a Ping.
    let mut plain = vec![0x00];
    ping(b"x").encode(&mut plain).unwrap();
    o.send_alice(craft_raw(sid, &plain));
    assert_eq!(o.alice_drops(DropReason::ModeZero), 1);
    // Alice initiated: mode 1 packets in her session are ignored.
    o.send_alice(craft(sid, &packet(Mode::Initiator, vec![ping(b"x")])));
    assert_eq!(o.alice_drops(DropReason::OwnMode), 1);
    // Bob is the responder: mode 2 packets to him are ignored.
    let bob_sid = o.net.info(0, o.alice).send_session_id;
    let (a, b) = (o.net.public(0), o.net.public(1));
    o.net.inject(
        a,
        b,
        craft(bob_sid, &packet(Mode::Responder, vec![ping(b"x")])),
    );
    o.net.run_for(ms(100));
    assert_eq!(o.net.info(1, o.bob).stats.drops.get(DropReason::OwnMode), 1);
    assert_eq!(o.replies(), 0);
    assert_eq!(o.net.info(1, o.bob).stats.ping_replies_sent, 0);
    // Mode 3 under the session's keys.
    o.send_alice(craft(sid, &packet(Mode::Startup, vec![ping(b"x")])));
    assert_eq!(o.alice_drops(DropReason::StartupModeInSession), 1);
    assert_eq!(o.replies(), 0);
}

// spec: 7016-2.2.4-o, 7016-2.2.4-p, 7016-2.3-d
#[test]
fn chunks_in_the_wrong_mode_or_under_the_wrong_session_are_ignored() {
    let mut o = open();
    let ihello = Chunk::IHello(IHello {
        endpoint_discriminator: b"alice".to_vec(),
        tag: vec![1; 16],
    });
    // An IHello in a mode 1 packet under session ID 0: wrong mode, no RHello.
    o.send_alice(craft(0, &packet(Mode::Responder, vec![ihello.clone()])));
    // A Ping in a startup packet: wrong mode.
    o.send_alice(craft(0, &packet(Mode::Startup, vec![ping(b"x")])));
    // A Ping in a mode 2 packet under session ID 0: wrong session (AMB-7016-12).
    o.send_alice(craft(0, &packet(Mode::Responder, vec![ping(b"x")])));
    let s = o.net.nodes[0].ep.stats();
    assert_eq!(s.drops.get(DropReason::ChunkWrongMode), 2);
    assert_eq!(s.drops.get(DropReason::ChunkWrongSession), 1);
    assert_eq!(s.rhellos_sent, 0);
    assert_eq!(o.replies(), 0);
    // The same IHello in mode 3 is answered (control).
    o.send_alice(craft(0, &packet(Mode::Startup, vec![ihello])));
    assert_eq!(o.net.nodes[0].ep.stats().rhellos_sent, 1);
}

// spec: 7016-2.3-c, 7016-2.3-e, 7016-2.3-f, 7016-2.3-b, 7016-2.2.4-a
#[test]
fn malformed_and_unknown_chunks_do_not_lose_the_rest_of_the_packet() {
    let mut o = open();
    let sid = o.alice_sid();
    // A Buffer Probe whose flow ID VLU is cut short, an unknown chunk type,
    // a padding chunk, then a Ping, then 0xff padding.
    let mut plain = vec![0x02];
    plain.extend_from_slice(&[chunk::BUFFER_PROBE, 0, 1, 0x81]);
    Chunk::Unknown(Unknown {
        chunk_type: 0x99,
        payload: vec![1, 2, 3],
    })
    .encode(&mut plain)
    .unwrap();
    plain.extend_from_slice(&[0x00, 0, 2, 0, 0]);
    ping(b"still here").encode(&mut plain).unwrap();
    plain.extend_from_slice(&[0xff; 7]);
    o.send_alice(craft_raw(sid, &plain));
    assert_eq!(o.alice_drops(DropReason::MalformedChunk), 1);
    assert_eq!(o.alice_drops(DropReason::UnknownChunk), 1);
    assert_eq!(o.replies(), 1);
    let reply = o.net.log.iter().rev().find(|l| l.sender == 0).unwrap();
    assert_eq!(
        chunks_of(&reply.data),
        vec![Chunk::PingReply(rtmfp::wire::chunk::PingReply {
            message_echo: b"still here".to_vec()
        })]
    );
}

// The one place flow chunks enter a session: an S_OPEN session hands them to
// its flows. A flow opened without metadata is rejected (3.6.3.1) and
// answered with a Flow Exception Report before its acknowledgement (3.6.3.7).
// spec: 7016-3.6.3.1-a, 7016-3.6.3.1-f, 7016-3.6.1.3-c
#[test]
fn flow_chunks_reach_the_flow_layer() {
    let mut o = open();
    let sid = o.alice_sid();
    let ud = Chunk::UserData(UserData {
        flow_id: 1,
        sequence_number: 1,
        fsn_offset: 1,
        ..UserData::default()
    });
    let probe = Chunk::BufferProbe(BufferProbe { flow_id: 1 });
    let sent_before = o.net.log.len();
    o.send_alice(craft(sid, &packet(Mode::Responder, vec![ud, probe])));
    let a = o.net.info(0, o.alice);
    assert_eq!(a.stats.flow_chunks_received, 2);
    assert_eq!(a.stats.drops.total(), 0);
    assert_eq!(a.flow_stats.as_ref().unwrap().flows_rejected, 1);
    assert_eq!(a.state, SessionState::S_OPEN);
    let answer: Vec<Chunk> = o.net.log[sent_before..]
        .iter()
        .filter(|l| l.sender == 0)
        .flat_map(|l| chunks_of(&l.data))
        .collect();
    let report = answer
        .iter()
        .position(|c| matches!(c, Chunk::FlowExceptionReport(r) if r.flow_id == 1))
        .expect("a Flow Exception Report");
    assert!(
        matches!(
            answer.get(report + 1),
            Some(Chunk::BitmapAck(_) | Chunk::RangeAck(_))
        ),
        "{answer:?}"
    );
    // The application never hears of the rejected flow.
    assert!(
        !o.net
            .events(0)
            .iter()
            .any(|e| matches!(e, rtmfp::endpoint::Event::FlowOpened { .. }))
    );
}

// spec: 7016-3.5.1.1.1-n
#[test]
fn unmatched_startup_replies_are_ignored() {
    let mut o = open();
    let rhello = Chunk::RHello(RHello {
        tag_echo: vec![9; 16],
        cookie: vec![1; 8],
        responder_certificate: b"bob".to_vec(),
    });
    o.send_alice(craft(0, &packet(Mode::Startup, vec![rhello])));
    assert_eq!(
        o.net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::UnmatchedTag),
        1
    );
    assert_eq!(o.net.nodes[0].ep.sessions().len(), 1);
}

// AMB-7016-18: an IIKeying asking for session ID 0 is refused.
// spec: 7016-3.3-c
#[test]
fn an_iikeying_asking_for_session_id_0_is_refused() {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    net.set_hook(|d, _| {
        if d.has(chunk::IIKEYING) {
            rewrite_transparent(&mut d.data, |p| {
                if let Chunk::IIKeying(k) = &mut p.chunks[0] {
                    k.initiator_session_id = 0;
                }
            });
        }
        Verdict::Deliver
    });
    let h = net.connect(0, 1);
    net.run_for(secs(3));
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    assert!(net.nodes[1].ep.stats().drops.get(DropReason::SessionIdZero) >= 1);
    assert_eq!(net.nodes[1].ep.footprint().sessions, 0);
}

// AMB-7016-12: RIKeying and Cookie Change only under an S_KEYING_SENT
// session's receive ID; IHello, RHello, Redirect and IIKeying only under 0.
// spec: 7016-2.2.3-f, 7016-2.3.6-b, 7016-2.3.8-a
#[test]
fn startup_chunks_only_under_their_session_ids() {
    use rtmfp::wire::chunk::{RHelloCookieChange, RIKeying};
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    net.set_hook(|d, _| {
        if d.has(chunk::IIKEYING) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let h = net.connect(0, 1);
    net.run_for(ms(100));
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    let rid = net.info(0, h).receive_session_id;
    let (bob, alice) = (net.public(1), net.public(0));
    let rik = Chunk::RIKeying(RIKeying {
        responder_session_id: 7,
        session_key_responder_component: vec![1; 8],
        signature: Vec::new(),
    });
    let cc = Chunk::RHelloCookieChange(RHelloCookieChange {
        old_cookie: vec![1],
        new_cookie: vec![2],
    });
    let ihello = Chunk::IHello(IHello {
        endpoint_discriminator: b"alice".to_vec(),
        tag: vec![3; 16],
    });
    // Under session ID 0: RIKeying and Cookie Change are out of place.
    net.inject(
        bob,
        alice,
        craft(0, &packet(Mode::Startup, vec![rik.clone(), cc])),
    );
    // Under the keying session's ID: an IHello is out of place; a Ping too.
    net.inject(bob, alice, craft(rid, &packet(Mode::Startup, vec![ihello])));
    net.inject(
        bob,
        alice,
        craft(rid, &packet(Mode::Responder, vec![ping(b"x")])),
    );
    net.run_for(ms(100));
    let ep = net.nodes[0].ep.stats();
    assert_eq!(ep.drops.get(DropReason::ChunkWrongSession), 4);
    assert_eq!(ep.drops.get(DropReason::ChunkWrongMode), 0);
    assert_eq!(ep.rhellos_sent, 0);
    assert_eq!(net.state(0, h), SessionState::S_KEYING_SENT);
    // In its place (the transparent profile authenticates nothing) the RIKeying opens it.
    net.inject(bob, alice, craft(rid, &packet(Mode::Startup, vec![rik])));
    net.run_for(ms(100));
    assert_eq!(net.state(0, h), SessionState::S_OPEN);
    assert_eq!(net.info(0, h).send_session_id, 7);
}
