//! Property tests: whatever arrives, an endpoint in any state never panics,
//! never creates a session without a valid cookie (RFC 7016 3.5.1.1.2), and
//! keeps its state within its limits (section 5).

mod common;

use std::net::SocketAddr;

use common::*;
use proptest::prelude::*;
use rtmfp::endpoint::{CloseKind, SessionHandle};
use rtmfp::session::SessionState;
use rtmfp::wire::Chunk;
use rtmfp::wire::chunk::{self, IHello};
use rtmfp::wire::packet::{Header, Mode, Packet};

/// The state the endpoint under test (node 1, "bob") is brought to.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    Fresh,
    IHelloSent,
    KeyingSent,
    Open,
    NearClose,
    FarCloseLinger,
}

const SCENARIOS: [Scenario; 6] = [
    Scenario::Fresh,
    Scenario::IHelloSent,
    Scenario::KeyingSent,
    Scenario::Open,
    Scenario::NearClose,
    Scenario::FarCloseLinger,
];

/// Builds the scenario; returns the net and Bob's session, if any.
fn build(s: Scenario) -> (Net, Option<SessionHandle>) {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    let h = match s {
        Scenario::Fresh => None,
        Scenario::IHelloSent => {
            let now = net.now;
            Some(
                net.ep(1)
                    .connect(now, b"carol".to_vec(), &[addr("198.51.100.1:1")])
                    .unwrap(),
            )
        }
        Scenario::KeyingSent => {
            net.set_hook(|d, _| {
                if d.has(chunk::IIKEYING) {
                    Verdict::Drop
                } else {
                    Verdict::Deliver
                }
            });
            let h = net.connect(1, 0);
            net.run_for(ms(100));
            assert_eq!(net.state(1, h), SessionState::S_KEYING_SENT);
            Some(h)
        }
        Scenario::Open | Scenario::NearClose | Scenario::FarCloseLinger => {
            let (_, b) = net.open(0, 1);
            net.set_hook(|d, _| {
                if d.has(chunk::CLOSE_ACK) {
                    Verdict::Drop
                } else {
                    Verdict::Deliver
                }
            });
            let now = net.now;
            match s {
                Scenario::NearClose => net.ep(1).close(now, b, CloseKind::Orderly).unwrap(),
                Scenario::FarCloseLinger => {
                    let a = net.only_session(0).unwrap();
                    net.ep(0).close(now, a, CloseKind::Orderly).unwrap();
                }
                _ => {}
            }
            net.run_for(ms(100));
            Some(b)
        }
    };
    net.clear_hook();
    (net, h)
}

/// Datagrams of a full run between a *different* Bob (another cookie secret)
/// and Alice: handshake, pings, close.
fn capture() -> Vec<Vec<u8>> {
    let mut net = Net::new();
    net.add(
        "alice",
        "192.0.2.1:1000",
        config(),
        transparent("alice"),
        101,
    );
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 102);
    let (a, _) = net.open(0, 1);
    net.ping(0);
    net.ping(1);
    net.run_for(secs(1));
    let now = net.now;
    net.ep(0).close(now, a, CloseKind::Orderly).unwrap();
    net.run_for(secs(1));
    net.log.iter().map(|l| l.data.clone()).collect()
}

#[derive(Debug, Clone)]
enum Input {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// Arbitrary plain bytes under a valid framing, with session ID 0 or one
    /// of the endpoint's receive IDs (index), so they reach the packet parser.
    Plain { sid: u8, flags: u8, body: Vec<u8> },
    /// A captured datagram with bytes flipped, cut or extended.
    Mutated {
        which: usize,
        flips: Vec<(usize, u8)>,
        cut: Option<usize>,
        extra: Vec<u8>,
    },
    /// A well-formed IIKeying with an arbitrary cookie.
    IIKeying { cookie: Vec<u8>, isid: u32 },
    /// Let time pass.
    Wait(u16),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Input::Raw),
        (
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..96)
        )
            .prop_map(|(sid, flags, body)| Input::Plain { sid, flags, body }),
        (
            any::<usize>(),
            prop::collection::vec((any::<usize>(), 1u8..), 0..4),
            prop::option::of(any::<usize>()),
            prop::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(which, flips, cut, extra)| Input::Mutated {
                which,
                flips,
                cut,
                extra
            }),
        (prop::collection::vec(any::<u8>(), 0..48), any::<u32>())
            .prop_map(|(cookie, isid)| Input::IIKeying { cookie, isid }),
        (0u16..5000).prop_map(Input::Wait),
    ]
}

fn sources() -> [SocketAddr; 3] {
    [
        addr("192.0.2.1:1000"),
        addr("198.51.100.7:7"),
        addr("[2001:db8::9]:9"),
    ]
}

fn throw(net: &mut Net, captured: &[Vec<u8>], inputs: &[(u8, Input)]) {
    let bob = net.public(1);
    let ids: Vec<u32> = net.nodes[1]
        .ep
        .sessions()
        .iter()
        .map(|h| net.info(1, *h).receive_session_id)
        .collect();
    for (src, i) in inputs {
        let from = sources()[usize::from(*src) % 3];
        let data = match i {
            Input::Raw(b) => b.clone(),
            Input::Plain { sid, flags, body } => {
                let id = if *sid == 0 || ids.is_empty() {
                    0
                } else {
                    ids[usize::from(*sid) % ids.len()]
                };
                let mut plain = vec![*flags];
                plain.extend_from_slice(body);
                craft_raw(id, &plain)
            }
            Input::Mutated {
                which,
                flips,
                cut,
                extra,
            } => {
                let mut d = captured[which % captured.len()].clone();
                for (at, x) in flips {
                    if !d.is_empty() {
                        let n = d.len();
                        d[at % n] ^= x;
                    }
                }
                if let Some(c) = cut {
                    d.truncate(c % (d.len() + 1));
                }
                d.extend_from_slice(extra);
                d
            }
            Input::IIKeying { cookie, isid } => {
                let mut p = Packet::new(Header::new(Mode::Startup));
                p.chunks.push(Chunk::IIKeying(rtmfp::wire::chunk::IIKeying {
                    initiator_session_id: *isid,
                    cookie_echo: cookie.clone(),
                    initiator_certificate: b"mallory".to_vec(),
                    session_key_initiator_component: vec![1; 8],
                    signature: Vec::new(),
                }));
                craft(0, &p)
            }
            Input::Wait(ms_) => {
                net.run_for(ms(u64::from(*ms_)));
                continue;
            }
        };
        net.inject(from, bob, data);
    }
    net.run_for(secs(2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // spec: 7016-3.5.1.1.2-b, 7016-3.5.1.1.2-c, 7016-3.5.1.1.2-j, 7016-2.3-e, 7016-5-f
    #[test]
    fn arbitrary_datagrams_in_every_state(
        which in 0usize..SCENARIOS.len(),
        inputs in prop::collection::vec((any::<u8>(), input()), 1..24),
    ) {
        let captured = capture();
        let (mut net, h) = build(SCENARIOS[which]);
        let before = net.nodes[1].ep.footprint().sessions;
        let accepted = net.nodes[1].ep.stats().sessions_accepted;
        throw(&mut net, &captured, &inputs);
        let ep = &net.nodes[1].ep;
        // No session without a valid cookie: none of these carries one.
        prop_assert_eq!(ep.stats().sessions_accepted, accepted);
        prop_assert!(ep.footprint().sessions <= before);
        let fp = ep.footprint();
        prop_assert!(fp.reassembly_buffers <= ep.config().reassembly.startup_buffers + 4);
        prop_assert!(fp.reassembly_bytes <= 65536 * fp.reassembly_buffers.max(1));
        prop_assert!(fp.queued_startup_datagrams <= ep.config().startup_rate.queue);
        if let Some(h) = h {
            // The session is still known and in a legal state.
            let s = net.info(1, h).state;
            prop_assert!(SessionState::ALL.contains(&s));
        }
    }
}

// spec: 7016-3.5.1.1.2-b, 7016-5-f
#[test]
fn an_ihello_flood_creates_no_state() {
    let mut net = Net::new();
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    // The whole flood arrives before Bob gets to send anything.
    net.transmit_between_deliveries = false;
    let bob = net.public(0);
    for i in 0..1000u32 {
        let mut p = Packet::new(Header::new(Mode::Startup));
        p.chunks.push(Chunk::IHello(IHello {
            endpoint_discriminator: b"bob".to_vec(),
            tag: i.to_be_bytes().to_vec(),
        }));
        let from = SocketAddr::from(([10, (i >> 8) as u8, i as u8, 1], 5000));
        net.inject(from, bob, craft(0, &p));
    }
    net.run_for(ms(20));
    let fp = net.nodes[0].ep.footprint();
    assert_eq!(fp.sessions, 0);
    assert_eq!(fp.reassembly_buffers, 0);
    assert!(fp.queued_startup_datagrams <= 256);
    let stats = net.nodes[0].ep.stats();
    // The startup queue is bounded: what does not fit is dropped and counted.
    let full = stats
        .drops
        .get(rtmfp::endpoint::DropReason::StartupQueueFull);
    assert_eq!(stats.rhellos_sent, 256);
    assert_eq!(stats.rhellos_sent + full, 1000);
    net.run_for(secs(1));
    let fp = net.nodes[0].ep.footprint();
    assert_eq!((fp.sessions, fp.queued_startup_datagrams), (0, 0));
    assert!(fp.paced_destinations <= 1000);
}
