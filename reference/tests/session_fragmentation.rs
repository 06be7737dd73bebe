//! Packet fragmentation and reassembly between endpoints (RFC 7016 3.4, 2.3.1).

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use common::*;
use rtmfp::crypto::flash::dh::DhGroup;
use rtmfp::crypto::flash::{DhKeyMode, FlashConfig};
use rtmfp::endpoint::{DropReason, EndpointConfig};
use rtmfp::session::SessionState;
use rtmfp::session::fragmentation::fragment;
use rtmfp::wire::chunk::{IHello, PacketFragment, Ping};
use rtmfp::wire::packet::{Header, Mode, Packet};
use rtmfp::wire::{Chunk, chunk};

fn big(name: &str, len: usize) -> String {
    let mut s = name.to_string();
    while s.len() < len {
        s.push('x');
    }
    s
}

/// Alice and Bob with certificates (identities) of `len` bytes and startup datagrams limited to `limit`.
fn big_pair(len: usize, limit: usize) -> Net {
    let mut cfg = config();
    cfg.max_startup_datagram = limit;
    let mut net = Net::new();
    net.add(
        "alice",
        "192.0.2.1:1000",
        cfg.clone(),
        transparent(&big("alice", len)),
        1,
    );
    net.add(
        "bob",
        "192.0.2.2:2000",
        cfg,
        transparent(&big("bob", len)),
        2,
    );
    net
}

// spec: 7016-3.4-a, 7016-3.4-b, 7016-3.4-c, 7016-3.4-d, 7016-2.3.1-b, 7016-2.3.1-c, 7016-2.3.1-d, 7016-2.3.1-e
#[test]
fn large_certificates_fragment_rhello_and_iikeying() {
    let mut net = big_pair(3000, 1472);
    let (h, r) = net.open(0, 1);
    assert_eq!(net.state(0, h), SessionState::S_OPEN);
    assert_eq!(net.state(1, r), SessionState::S_OPEN);
    for l in &net.log {
        assert!(l.len <= 1472, "datagram of {} bytes", l.len);
    }
    // IHello (the EPD is the 3000-byte identity), RHello and IIKeying went in pieces.
    for i in 0..2 {
        let s = net.nodes[i].ep.stats();
        assert!(
            s.packets_fragmented >= 1 && s.packets_reassembled >= 1,
            "node {i}: {s:?}"
        );
    }
    assert_eq!(net.nodes[0].ep.stats().packets_fragmented, 2); // IHello, IIKeying
    assert_eq!(net.nodes[1].ep.stats().packets_fragmented, 1); // RHello
    // Fragments are numbered from 0, only the last has M clear, none is empty.
    let mut by_packet: BTreeMap<(usize, u64), Vec<PacketFragment>> = BTreeMap::new();
    for l in net.log.iter().filter(|l| l.has(chunk::PACKET_FRAGMENT)) {
        let (_, p) = open_transparent(&l.data).unwrap();
        assert_eq!(p.header.mode, Mode::Startup);
        assert_eq!(l.session_id, 0);
        let Chunk::PacketFragment(f) = &p.chunks[0] else {
            panic!()
        };
        by_packet
            .entry((l.sender, f.packet_id))
            .or_default()
            .push(f.clone());
    }
    assert_eq!(by_packet.len(), 3);
    for frags in by_packet.values() {
        for (i, f) in frags.iter().enumerate() {
            assert_eq!(f.fragment_num, i as u64);
            assert_eq!(f.more_fragments, i + 1 < frags.len());
            assert!(!f.fragment.is_empty());
        }
    }
    // Session packets are never fragmented (3.4-c): pings go whole.
    let before = net.log.len();
    net.ping(0);
    net.run_for(secs(1));
    assert!(
        net.log[before..]
            .iter()
            .all(|l| !l.has(chunk::PACKET_FRAGMENT))
    );
}

// spec: 7016-3.4-k, 7016-3.4-l, 7016-3.4-m
#[test]
fn startup_traffic_is_rate_limited_per_destination() {
    let mut net = big_pair(4000, 300);
    let (h, _) = net.open(0, 1);
    assert_eq!(net.state(0, h), SessionState::S_OPEN);
    let startup: Vec<_> = net
        .log
        .iter()
        .filter(|l| l.session_id == 0 || l.has(chunk::RIKEYING))
        .collect();
    assert!(startup.len() > 40, "{} startup datagrams", startup.len());
    // The limit showed: sending the fragments took several 200 ms windows.
    let span = startup.last().unwrap().at - startup[0].at;
    assert!(span >= ms(1200), "{span:?}");
    for (i, l) in startup.iter().enumerate() {
        let window: Vec<_> = startup[i..]
            .iter()
            .filter(|m| m.sender == l.sender && m.to == l.to && m.at - l.at < ms(200))
            .collect();
        assert!(window.len() <= 4, "{} datagrams in 200 ms", window.len());
        let bytes: usize = window.iter().map(|m| m.len).sum();
        assert!(bytes <= 4380, "{bytes} bytes in 200 ms");
    }
}

// spec: 7016-3.4-d
#[test]
fn reordered_and_duplicated_fragments() {
    let mut net = big_pair(4000, 800);
    let n = Rc::new(Cell::new(0u64));
    net.set_hook(move |d, _| {
        if d.has(chunk::PACKET_FRAGMENT) {
            n.set(n.get() + 1);
            // Later fragments overtake earlier ones; every third arrives twice.
            if n.get().is_multiple_of(3) {
                Verdict::Duplicate
            } else {
                Verdict::Delay(ms(100 - (n.get() % 10) * 10))
            }
        } else {
            Verdict::Deliver
        }
    });
    let h = net.connect(0, 1);
    assert!(net.run_until(secs(10), |n| n.state(0, h) == SessionState::S_OPEN));
    let dup: u64 = (0..2)
        .map(|i| {
            net.nodes[i]
                .ep
                .stats()
                .drops
                .get(DropReason::FragmentDuplicate)
        })
        .sum();
    assert!(dup >= 1);
    assert_eq!(net.nodes[1].ep.sessions().len(), 1);
}

// A lost fragment of the IIKeying is filled in by its retransmission, which
// keeps the packet ID.
// spec: 7016-3.4-d, 7016-3.4-f
#[test]
fn a_lost_fragment_is_filled_by_the_retransmission() {
    let mut net = big_pair(3000, 1000);
    let n = Rc::new(Cell::new(0u32));
    net.set_hook(move |d, _| {
        if d.sender == 0
            && d.has(chunk::PACKET_FRAGMENT)
            && let Some((_, p)) = open_transparent(&d.data)
            && let Chunk::PacketFragment(f) = &p.chunks[0]
            && f.fragment_num == 1
        {
            n.set(n.get() + 1);
            // The IHello's second fragment goes through; the IIKeying's, once, not.
            if n.get() == 2 {
                return Verdict::Drop;
            }
        }
        Verdict::Deliver
    });
    let h = net.connect(0, 1);
    assert!(net.run_until(secs(10), |n| n.state(0, h) == SessionState::S_OPEN));
    assert_eq!(net.sent_count(0, chunk::PACKET_FRAGMENT) % 2, 0);
    let s = net.nodes[1].ep.stats();
    assert!(s.drops.get(DropReason::FragmentDuplicate) >= 1);
    assert_eq!(s.sessions_accepted, 1);
}

// spec: 7016-3.4-a
#[test]
fn flash_static_certificates_fragment_under_a_small_limit() {
    let client = FlashConfig {
        key_mode: DhKeyMode::Static,
        groups: vec![DhGroup::Modp2048, DhGroup::Modp1024],
        ..FlashConfig::default()
    };
    let mut cfg = config();
    cfg.max_startup_datagram = 500;
    let mut net = Net::new();
    net.add(
        "client",
        "192.0.2.1:1000",
        cfg.clone(),
        Box::new(flash(client, 31)),
        1,
    );
    net.add(
        "server",
        "192.0.2.2:2000",
        cfg,
        Box::new(flash(small_flash(), 32)),
        2,
    );
    let (h, _) = net.open(0, 1);
    assert_eq!(net.state(0, h), SessionState::S_OPEN);
    assert!(net.nodes[0].ep.stats().packets_fragmented >= 1);
    assert!(net.nodes[1].ep.stats().packets_reassembled >= 1);
    assert!(net.log.iter().all(|l| l.len <= 500));
}

// ------------------------------------------------------------ reassembly rules, with crafted packets

fn victim(cfg: EndpointConfig) -> Net {
    let mut net = Net::new();
    net.add("bob", "192.0.2.2:2000", cfg, transparent("bob"), 2);
    net
}

fn frag_packet(mode: Mode, f: PacketFragment) -> Vec<u8> {
    let mut p = Packet::new(Header::new(mode));
    p.chunks.push(Chunk::PacketFragment(f));
    craft(0, &p)
}

fn frag(id: u64, num: u64, more: bool, bytes: &[u8]) -> PacketFragment {
    PacketFragment {
        more_fragments: more,
        reserved: 0,
        packet_id: id,
        fragment_num: num,
        fragment: bytes.to_vec(),
    }
}

fn ihello_plain(epd: &[u8]) -> Vec<u8> {
    let mut p = Packet::new(Header::new(Mode::Startup));
    p.chunks.push(Chunk::IHello(IHello {
        endpoint_discriminator: epd.to_vec(),
        tag: vec![7; 16],
    }));
    let mut out = Vec::new();
    p.encode(&mut out).unwrap();
    out
}

fn send_all(net: &mut Net, from: &str, packets: Vec<Vec<u8>>) {
    let to = net.public(0);
    for p in packets {
        net.inject(addr(from), to, p);
    }
    net.run_for(ms(50));
}

// spec: 7016-3.4-d, 7016-3.4-e
#[test]
fn a_crafted_fragmented_ihello_is_answered_and_sources_are_kept_apart() {
    let mut net = victim(config());
    let parts = fragment(&ihello_plain(b"bob"), Mode::Startup, 5, 12);
    assert!(parts.len() > 2);
    let (first, rest) = parts.split_at(1);
    // The first fragment from one address, the rest from another: no packet.
    send_all(
        &mut net,
        "198.51.100.1:1",
        first.iter().map(|p| craft_raw(0, p)).collect(),
    );
    send_all(
        &mut net,
        "198.51.100.2:1",
        rest.iter().map(|p| craft_raw(0, p)).collect(),
    );
    assert_eq!(net.nodes[0].ep.stats().rhellos_sent, 0);
    assert_eq!(net.nodes[0].ep.footprint().reassembly_buffers, 2);
    // The missing first fragment from the second address completes it there.
    send_all(
        &mut net,
        "198.51.100.2:1",
        first.iter().map(|p| craft_raw(0, p)).collect(),
    );
    assert_eq!(net.nodes[0].ep.stats().rhellos_sent, 1);
    assert_eq!(net.nodes[0].ep.stats().packets_reassembled, 1);
    assert_eq!(net.nodes[0].ep.footprint().reassembly_buffers, 1);
}

// spec: 7016-3.4-g
#[test]
fn empty_fragments_are_discarded() {
    let mut net = victim(config());
    send_all(
        &mut net,
        "198.51.100.1:1",
        vec![frag_packet(Mode::Startup, frag(1, 0, false, b""))],
    );
    assert_eq!(
        net.nodes[0].ep.stats().drops.get(DropReason::EmptyFragment),
        1
    );
    assert_eq!(net.nodes[0].ep.footprint().reassembly_buffers, 0);
}

// spec: 7016-3.4-h, 7016-3.4-i, 7016-3.4-j
#[test]
fn mode_rules_for_fragments_and_reassembled_packets() {
    let mut net = victim(config());
    let plain = ihello_plain(b"bob");
    let (a, b) = plain.split_at(plain.len() / 2);
    // Second fragment in another mode than the first: discarded.
    send_all(
        &mut net,
        "198.51.100.1:1",
        vec![
            frag_packet(Mode::Startup, frag(1, 0, true, a)),
            frag_packet(Mode::Initiator, frag(1, 1, false, b)),
        ],
    );
    let stats = net.nodes[0].ep.stats().clone();
    assert_eq!(stats.drops.get(DropReason::FragmentModeMismatch), 1);
    assert_eq!(stats.rhellos_sent, 0);
    // A mode-3 packet carried in mode-1 fragments: reassembled, then discarded.
    send_all(
        &mut net,
        "198.51.100.1:1",
        vec![
            frag_packet(Mode::Initiator, frag(2, 0, true, a)),
            frag_packet(Mode::Initiator, frag(2, 1, false, b)),
        ],
    );
    let stats = net.nodes[0].ep.stats();
    assert_eq!(stats.drops.get(DropReason::ReassembledModeMismatch), 1);
    assert_eq!(stats.rhellos_sent, 0);
}

#[test]
fn fragments_inside_a_reassembled_packet_are_ignored() {
    let mut net = victim(config());
    let mut inner = Packet::new(Header::new(Mode::Startup));
    inner.chunks.push(Chunk::PacketFragment(frag(
        9,
        0,
        false,
        &ihello_plain(b"bob"),
    )));
    let mut plain = Vec::new();
    inner.encode(&mut plain).unwrap();
    let parts = fragment(&plain, Mode::Startup, 8, 40);
    send_all(
        &mut net,
        "198.51.100.1:1",
        parts.iter().map(|p| craft_raw(0, p)).collect(),
    );
    let stats = net.nodes[0].ep.stats();
    assert_eq!(stats.drops.get(DropReason::NestedFragment), 1);
    assert_eq!(stats.rhellos_sent, 0);
}

// spec: 7016-3.4-n, 7016-3.4-o
#[test]
fn buffer_count_and_size_are_limited() {
    let mut cfg = config();
    cfg.reassembly.startup_buffers = 8;
    let mut net = victim(cfg);
    let packets: Vec<_> = (0..20)
        .map(|id| frag_packet(Mode::Startup, frag(id, 0, true, b"abc")))
        .collect();
    send_all(&mut net, "198.51.100.1:1", packets);
    assert_eq!(net.nodes[0].ep.footprint().reassembly_buffers, 8);
    assert_eq!(
        net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::ReassemblyBuffersFull),
        12
    );
    // One buffer past 64 KiB is dropped whole.
    let chunk = vec![0u8; 1400];
    let packets: Vec<_> = (0..48)
        .map(|n| frag_packet(Mode::Startup, frag(0, n + 1, true, &chunk)))
        .collect();
    send_all(&mut net, "198.51.100.1:1", packets);
    let fp = net.nodes[0].ep.footprint();
    assert!(fp.reassembly_bytes <= 65536);
    assert!(
        net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::ReassemblyTooLarge)
            >= 1
    );
    // Stalled buffers go after 5 s without progress.
    net.run_for(secs(6));
    assert_eq!(net.nodes[0].ep.footprint().reassembly_buffers, 0);
    assert!(
        net.nodes[0]
            .ep
            .stats()
            .drops
            .get(DropReason::ReassemblyExpired)
            >= 8
    );
}

// A fragment that is not a startup packet: session packets under session ID 0 are ignored whole.
// spec: 7016-2.3-d
#[test]
fn a_reassembled_ping_under_session_0_is_ignored() {
    let mut net = victim(config());
    let mut p = Packet::new(Header::new(Mode::Initiator));
    p.chunks.push(Chunk::Ping(Ping {
        message: vec![1; 30],
    }));
    let mut plain = Vec::new();
    p.encode(&mut plain).unwrap();
    let parts = fragment(&plain, Mode::Initiator, 3, 20);
    send_all(
        &mut net,
        "198.51.100.1:1",
        parts.iter().map(|p| craft_raw(0, p)).collect(),
    );
    let stats = net.nodes[0].ep.stats();
    assert_eq!(stats.packets_reassembled, 1);
    assert_eq!(stats.drops.get(DropReason::ChunkWrongSession), 1);
}
