//! Flows over real sessions (RFC 7016 3.6 inside 3.5): the endpoint's flow
//! interface, flow life cycles, rejection, abandonment, flow aborts when the
//! session closes (3.5.5), scripted loss, handshake loss, keepalive and
//! address changes under data, and the limits the application meets.
//! Transparent sessions where the test reads or rewrites chunks; Flash
//! sessions (group 2) where cryptography is in the path but not the point.

mod common;

use common::*;
use rtmfp::endpoint::{
    ApiError, CloseKind, CloseReason, DropReason, EndpointConfig, Event, SessionHandle,
};
use rtmfp::flow::{self, FlowOptions, MessageOptions, RecvFlowId, RecvFlowState, SendFlowState};
use rtmfp::session::SessionState;
use rtmfp::wire::chunk::user_data::UserDataOption;
use rtmfp::wire::{Chunk, chunk};

/// Alice (0) and Bob (1), Flash or transparent, with a session open: (net, Alice's handle, Bob's).
fn pair(flash: bool, cfg: EndpointConfig) -> (Net, SessionHandle, SessionHandle) {
    let mut net = Net::new();
    if flash {
        net.add_flash("alice", "192.0.2.1:1000", cfg.clone(), 1);
        net.add_flash("bob", "192.0.2.2:2000", cfg, 2);
    } else {
        net.add(
            "alice",
            "192.0.2.1:1000",
            cfg.clone(),
            transparent("alice"),
            1,
        );
        net.add("bob", "192.0.2.2:2000", cfg, transparent("bob"), 2);
    }
    let (a, b) = net.open(0, 1);
    (net, a, b)
}

/// The only flow the far end opened to node `i` on session `s`.
fn only_opened(net: &Net, i: usize, s: SessionHandle) -> RecvFlowId {
    let opened = net.opened_flows(i, s);
    assert_eq!(opened.len(), 1, "{opened:?}");
    opened[0].0
}

fn is_flow_error(
    r: Result<impl std::fmt::Debug, ApiError>,
    want: impl Fn(&flow::ApiError) -> bool,
) {
    match r {
        Err(ApiError::Flow(e)) if want(&e) => {}
        other => panic!("unexpected {other:?}"),
    }
}

// RFC 7016 3.6.2.1, 3.6.3.1: metadata and the return association reach the
// far end's application with the flow; both directions carry messages.
// spec: 7016-3.6.2.1-a, 7016-3.6.2.1-c, 7016-3.6.3.1-c, 7016-3.6.3.1-d, 7016-3.6.3.1-e, 7016-3.6.3.1-j, 7016-3.6.3.1-k, 7016-3.6.1.1-c, 7016-3.6.1.1-d
#[test]
fn open_flow_with_metadata_and_a_return_association() {
    for flash in [false, true] {
        let (mut net, a, b) = pair(flash, config());
        let f = net.open_flow(0, a, b"chat");
        net.send(0, a, f, b"hello");
        net.run_for(secs(1));
        let opened = net.opened_flows(1, b);
        assert_eq!(opened.len(), 1, "flash {flash}");
        let (rf, metadata, association) = opened[0].clone();
        assert_eq!((metadata.as_slice(), association), (&b"chat"[..], None));
        assert_eq!(net.payloads(1, b, rf), [b"hello".to_vec()]);
        let info = net.nodes[1].ep.recv_flow_info(b, rf).unwrap();
        assert_eq!(info.state, RecvFlowState::RF_OPEN);
        assert_eq!(info.metadata, b"chat");

        // Bob answers in return to Alice's flow.
        let now = net.now;
        let back = net.nodes[1]
            .ep
            .open_flow(now, b, b"reply", Some(rf), FlowOptions::default())
            .unwrap();
        net.send(1, b, back, b"hi");
        net.run_for(secs(1));
        let opened = net.opened_flows(0, a);
        assert_eq!(opened.len(), 1);
        let (ra, metadata, association) = opened[0].clone();
        assert_eq!((metadata.as_slice(), association), (&b"reply"[..], Some(f)));
        assert_eq!(net.payloads(0, a, ra), [b"hi".to_vec()]);
        assert!(net.has_event(0, |e| matches!(e,
            Event::MessageDelivered { session, flow, .. } if *session == a && *flow == f)));
        assert_eq!(net.nodes[0].ep.send_flows(a), [f]);
        assert_eq!(net.nodes[0].ep.recv_flows(a), [ra]);
    }
}

// RFC 7016 3.6.3.1: a Return Flow Association naming no sending flow of the
// session, or one that is no longer F_OPEN, gets the new flow rejected (code
// 0); the sender hears of it as a Flow Exception. 3.6.2.1: the application
// cannot answer a receiving flow that is no longer RF_OPEN.
// spec: 7016-3.6.3.1-g, 7016-3.6.3.1-h, 7016-3.6.3.7-c, 7016-3.6.2.10-a, 7016-3.6.2.1-d
#[test]
fn an_association_naming_no_open_flow_is_rejected() {
    // Unknown flow ID: Bob's association is rewritten on the wire to name flow 99.
    let (mut net, a, b) = pair(false, config());
    let f = net.open_flow(0, a, b"x");
    net.send(0, a, f, b"x");
    net.run_for(secs(1));
    let rf = only_opened(&net, 1, b);
    net.set_hook(|d, _| {
        if d.sender == 1 && d.has(chunk::USER_DATA) {
            rewrite_transparent(&mut d.data, |p| {
                for c in &mut p.chunks {
                    if let Chunk::UserData(u) = c {
                        for o in u.options.iter_mut().flatten() {
                            if let UserDataOption::ReturnFlowAssociation(id) = o {
                                *id = 99;
                            }
                        }
                    }
                }
            });
        }
        Verdict::Deliver
    });
    let now = net.now;
    let back = net.nodes[1]
        .ep
        .open_flow(now, b, b"reply", Some(rf), FlowOptions::default())
        .unwrap();
    net.send(1, b, back, b"y");
    net.run_for(secs(2));
    assert!(net.opened_flows(0, a).is_empty());
    assert_eq!(net.nodes[0].ep.flow_stats(a).unwrap().flows_rejected, 1);
    assert!(net.nodes[1].events.iter().any(|(_, e)| *e
        == Event::FlowException {
            session: b,
            flow: back,
            code: 0
        }));
    let now = net.now;
    is_flow_error(
        net.nodes[1]
            .ep
            .send(now, b, back, b"z", MessageOptions::reliable()),
        |e| {
            matches!(e, flow::ApiError::SendFlowNotOpen { state, .. }
                if *state != SendFlowState::F_OPEN)
        },
    );

    // A flow that is closing by the time the association arrives: Bob's
    // packets take 500 ms longer than Alice needs to close hers.
    let (mut net, a, b) = pair(false, config());
    let f = net.open_flow(0, a, b"x");
    net.send(0, a, f, b"x");
    net.run_for(secs(1));
    let rf = only_opened(&net, 1, b);
    net.set_hook(|d, _| {
        if d.sender == 1 {
            Verdict::Delay(ms(500))
        } else {
            Verdict::Deliver
        }
    });
    let now = net.now;
    let back = net.nodes[1]
        .ep
        .open_flow(now, b, b"reply", Some(rf), FlowOptions::default())
        .unwrap();
    net.send(1, b, back, b"y");
    net.ep(0).close_flow(now, a, f).unwrap();
    net.run_for(secs(3));
    assert!(net.opened_flows(0, a).is_empty());
    assert!(net.has_event(1, |e| matches!(e,
        Event::FlowException { flow, code: 0, .. } if *flow == back)));
    // Bob's receiving flow is complete now: no new flow may answer it.
    assert_eq!(
        net.nodes[1].ep.recv_flow_info(b, rf).unwrap().state,
        RecvFlowState::RF_COMPLETE_LINGER
    );
    let now = net.now;
    is_flow_error(
        net.nodes[1]
            .ep
            .open_flow(now, b, b"late", Some(rf), FlowOptions::default()),
        |e| *e == flow::ApiError::AssociationNotOpen(rf),
    );
}

// RFC 7016 3.6.1.2, 3.6.2.5, 3.6.3.2, 3.6.3.3: scripted loss, duplication and
// reordering of data packets and a lost acknowledgement; every message
// arrives once, in order, and every message is reported delivered.
// spec: 7016-3.6.1.2-a, 7016-3.6.1.2-b, 7016-3.6.1.2-e, 7016-3.6.3.2-i, 7016-3.6.3.3-a, 7016-3.6.3.3-g, 7016-3.6.3.3-j, 7016-3.6.1.3-a, 7016-3.6.2.4-d
#[test]
fn reliable_delivery_in_order_through_scripted_loss_duplication_and_reordering() {
    let (mut net, a, b) = pair(false, config());
    let mut data_packets = 0;
    let mut acks = 0;
    net.set_hook(move |d, _| {
        if d.sender == 0 && d.has(chunk::USER_DATA) {
            data_packets += 1;
            return match data_packets {
                1 | 5 | 8 | 9 => Verdict::Drop,
                2 | 12 => Verdict::Duplicate,
                3 | 13 => Verdict::Delay(ms(30)),
                _ => Verdict::Deliver,
            };
        }
        if d.sender == 1 && (d.has(chunk::BITMAP_ACK) || d.has(chunk::RANGE_ACK)) {
            acks += 1;
            if acks == 2 {
                return Verdict::Drop;
            }
        }
        Verdict::Deliver
    });
    let f = net.open_flow(0, a, b"bulk");
    let messages = numbered_messages(40, 3);
    let got = net.transfer((0, a, f), (1, b), &messages, secs(60));
    assert_messages(&got, &messages);
    let rf = only_opened(&net, 1, b);
    assert_eq!(net.payloads(1, b, rf).len(), 40);
    net.run_for(secs(2));
    assert_eq!(
        net.count_events(0, |e| matches!(e, Event::MessageDelivered { .. })),
        40
    );
    assert!(net.nodes[0].ep.flow_stats(a).unwrap().retransmissions >= 4);
    assert!(net.nodes[1].ep.flow_stats(b).unwrap().duplicates_received >= 2);
    // Fragments of a message carry increasing sequence numbers, and every
    // message's first one is above the previous message's (3.6.1.2).
    let seqs: Vec<u64> = net.messages(1, b).iter().map(|(_, s, _)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

// The same over a Flash session (HMAC and session sequence numbers): one
// session packet in eight either way is lost and one in eight duplicated
// (pseudorandomly; the duplicates fail the anti-replay check and are dropped).
// spec: 7016-3.6.1.2-e, 7016-3.6.3.3-g, 7016-5-h
#[test]
fn reliable_delivery_over_a_lossy_flash_session() {
    let (mut net, a, b) = pair(true, config());
    net.set_hook(|d, _| {
        if d.session_id == 0 {
            return Verdict::Deliver;
        }
        match d.seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 61 {
            0 => Verdict::Drop,
            1 => Verdict::Duplicate,
            _ => Verdict::Deliver,
        }
    });
    let f = net.open_flow(0, a, b"bulk");
    let back = net.open_flow(1, b, b"bulk back");
    let messages = numbered_messages(30, 5);
    let got = net.transfer((0, a, f), (1, b), &messages, secs(120));
    assert_messages(&got, &messages);
    let got = net.transfer((1, b, back), (0, a), &messages, secs(120));
    assert_messages(&got, &messages);
    let drops = net.info(1, b).stats.drops.total();
    assert!(drops > 0, "duplicates are dropped by the Flash profile");
}

// RFC 7016 3.6.1.2, 3.6.2.7: messages whose lifetime runs out while the
// network is down, and one the application abandons before it is ever sent,
// are abandoned; the receiver hears of the gap before the next message.
// spec: 7016-3.6.1.2-c, 7016-3.6.1.2-d, 7016-3.6.1.2-f, 7016-3.6.2.7-a, 7016-3.6.2.7-b, 7016-3.6.3.3-k
#[test]
fn lifetimes_and_abandonment_give_gap_reports() {
    let (mut net, a, b) = pair(false, config());
    let f = net.open_flow(0, a, b"media");
    net.send(0, a, f, b"first");
    net.run_for(secs(1));
    let rf = only_opened(&net, 1, b);
    let t0 = net.now;
    net.set_hook(move |d, now| {
        if d.sender == 0 && d.has(chunk::USER_DATA) && now < t0 + secs(1) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let mut expiring = Vec::new();
    for k in 0..5u8 {
        let big = vec![k; 2000]; // two fragments each
        let o = MessageOptions::with_lifetime(ms(300));
        expiring.push(net.ep(0).send(t0, a, f, &big, o).unwrap());
    }
    let abandoned = net.send(0, a, f, b"never sent");
    net.ep(0).abandon(t0, a, f, abandoned).unwrap();
    net.run_for(ms(1500));
    net.send(0, a, f, b"last");
    net.run_for(secs(2));
    assert_eq!(
        net.payloads(1, b, rf),
        [b"first".to_vec(), b"last".to_vec()]
    );
    for m in expiring.iter().chain([&abandoned]) {
        assert!(net.has_event(0, |e| *e
            == Event::MessageAbandoned {
                session: a,
                flow: f,
                message: *m
            }));
        assert!(!net.has_event(0, |e| matches!(e,
            Event::MessageDelivered { message, .. } if message == m)));
    }
    // Sequence numbers 2..=12 (five two-fragment messages, then the one
    // abandoned before sending) were reported lost, before "last" (13).
    let mut lost = Vec::new();
    let mut saw_last = false;
    for (_, e) in &net.nodes[1].events {
        match e {
            Event::MessagesLost { first, last, .. } => {
                assert!(!saw_last, "gap reported after a later message");
                lost.extend(*first..=*last);
            }
            Event::Message { data, .. } if data == b"last" => saw_last = true,
            _ => {}
        }
    }
    assert_eq!(lost, (2..=12).collect::<Vec<u64>>());
}

// RFC 7016 3.6.3.7, 3.6.2.10: the receiving application rejects a flow with
// its own exception code; the sender hears the code, its flow closes, its
// queued messages are abandoned, and it still completes.
// spec: 7016-3.6.3.7-a, 7016-3.6.3.7-b, 7016-3.6.3.7-c, 7016-3.6.3.7-f, 7016-3.6.2.10-a, 7016-3.6.2.10-c, 7016-3.6.1.3-c, 7016-3.6.1.3-g, 7016-3.6.1.3-h, 7016-3.6.2.11-a
#[test]
fn rejecting_a_flow_reports_the_exception_code_to_the_sender() {
    let (mut net, a, b) = pair(true, config());
    let f = net.open_flow(0, a, b"unwanted");
    let messages = numbered_messages(10, 9);
    for m in &messages {
        net.send(0, a, f, m);
    }
    let mut rejected = None;
    net.run_until_mut(secs(5), |net| {
        if rejected.is_none()
            && let Some((rf, _, _)) = net.opened_flows(1, b).first().cloned()
        {
            let now = net.now;
            net.ep(1).reject_flow(now, b, rf, 42).unwrap();
            rejected = Some(rf);
        }
        net.has_event(0, |e| matches!(e, Event::SendFlowComplete { .. }))
    });
    let rf = rejected.expect("the flow opened");
    assert!(net.has_event(0, |e| *e
        == Event::FlowException {
            session: a,
            flow: f,
            code: 42
        }));
    let delivered = net.count_events(0, |e| matches!(e, Event::MessageDelivered { .. }));
    let abandoned = net.count_events(0, |e| matches!(e, Event::MessageAbandoned { .. }));
    assert_eq!(delivered + abandoned, 10);
    assert!(abandoned > 0);
    // Bob delivered nothing after rejecting (at most what came with the opening packet).
    let received = net.payloads(1, b, rf).len();
    assert!(received < 10, "{received}");
    let state = net.nodes[1].ep.recv_flow_info(b, rf).unwrap().state;
    assert!(matches!(
        state,
        RecvFlowState::RF_REJECTED | RecvFlowState::RF_COMPLETE_LINGER
    ));
    assert_eq!(
        net.nodes[0].ep.send_flow_info(a, f).unwrap().state,
        SendFlowState::F_COMPLETE_LINGER
    );
    let now = net.now;
    is_flow_error(
        net.ep(0)
            .send(now, a, f, b"more", MessageOptions::reliable()),
        |e| matches!(e, flow::ApiError::SendFlowNotOpen { .. }),
    );
    let now = net.now;
    is_flow_error(net.ep(1).reject_flow(now, b, rf, 1), |e| {
        matches!(e, flow::ApiError::RecvFlowNotOpen { .. })
    });
}

// RFC 7016 3.6.2.11, 3.6.3.8, 3.6.1.3: a flow closed by its sender completes
// at both ends, lingers (130 s sending, 120 s receiving) holding its flow
// ID, ignores late duplicates meanwhile, and then frees the ID for a new flow.
// spec: 7016-3.6.1.3-d, 7016-3.6.1.3-e, 7016-3.6.1.3-f, 7016-3.6.2.11-a, 7016-3.6.2.11-b, 7016-3.6.2.11-d, 7016-3.6.2.11-e, 7016-3.6.2.11-f, 7016-3.6.2.11-g, 7016-3.6.3.8-a, 7016-3.6.3.8-b, 7016-3.6.3.8-c, 7016-3.6.3.8-d, 7016-3.6.3.3-m, 7016-3.6.2.1-b, 7016-3.6.3.1-a
#[test]
fn closing_a_flow_completes_both_ends_then_lingers() {
    let (mut net, a, b) = pair(false, config());
    let f = net.open_flow(0, a, b"three");
    for m in [&b"one"[..], b"two", b"three"] {
        net.send(0, a, f, m);
    }
    let now = net.now;
    net.ep(0).close_flow(now, a, f).unwrap();
    let first_data = net.log.len();
    net.run_for(secs(1));
    let rf = only_opened(&net, 1, b);
    assert_eq!(net.payloads(1, b, rf).len(), 3);
    let complete = |net: &Net, i: usize| {
        net.nodes[i].events.iter().find_map(|(t, e)| match e {
            Event::RecvFlowComplete { .. } | Event::SendFlowComplete { .. } => Some(*t),
            _ => None,
        })
    };
    let (t_recv, t_send) = (complete(&net, 1).unwrap(), complete(&net, 0).unwrap());
    // The last message was unsent when the flow closed: it carries FIN.
    let fin = net.log[first_data..]
        .iter()
        .filter(|l| l.sender == 0)
        .flat_map(|l| chunks_of(&l.data))
        .any(|c| match c {
            Chunk::UserData(u) => u.flags.fin && u.data == b"three",
            Chunk::NextUserData(n) => n.flags.fin && n.data == b"three",
            _ => false,
        });
    assert!(fin);
    let wire = net.nodes[0].ep.send_flow_info(a, f).unwrap().flow_id;
    assert_eq!(
        net.nodes[0].ep.send_flow_info(a, f).unwrap().state,
        SendFlowState::F_COMPLETE_LINGER
    );
    assert_eq!(
        net.nodes[1].ep.recv_flow_info(b, rf).unwrap().state,
        RecvFlowState::RF_COMPLETE_LINGER
    );
    // The flow ID stays taken while lingering.
    let now = net.now;
    let reuse = FlowOptions {
        flow_id: Some(wire),
        ..FlowOptions::default()
    };
    is_flow_error(net.ep(0).open_flow(now, a, b"again", None, reuse), |e| {
        *e == flow::ApiError::FlowIdInUse(wire)
    });
    // A late duplicate of the opening packet opens nothing new.
    let old = net.log[first_data..]
        .iter()
        .find(|l| l.sender == 0 && l.has(chunk::USER_DATA))
        .unwrap()
        .data
        .clone();
    let (from, to) = (net.public(0), net.public(1));
    net.inject(from, to, old);
    net.run_for(secs(1));
    assert_eq!(net.opened_flows(1, b).len(), 1);
    assert_eq!(net.payloads(1, b, rf).len(), 3);

    // 120 s: the receiving flow is gone; 130 s: the sending flow too.
    let wait = (t_recv + secs(119)) - net.now;
    net.run_for(wait);
    assert!(net.nodes[1].ep.recv_flow_info(b, rf).is_some());
    net.run_for(secs(2));
    assert!(net.nodes[1].ep.recv_flow_info(b, rf).is_none());
    let wait = (t_send + secs(129)) - net.now;
    net.run_for(wait);
    assert!(net.nodes[0].ep.send_flow_info(a, f).is_some());
    net.run_for(secs(2));
    assert!(net.nodes[0].ep.send_flow_info(a, f).is_none());
    // The ID is free again: a new flow with it opens a new receiving flow.
    let now = net.now;
    let g = net.ep(0).open_flow(now, a, b"again", None, reuse).unwrap();
    net.send(0, a, g, b"four");
    net.run_for(secs(1));
    let opened = net.opened_flows(1, b);
    assert_eq!(opened.len(), 2);
    assert_ne!(opened[1].0, rf);
    assert_eq!(net.payloads(1, b, opened[1].0), [b"four".to_vec()]);
    assert_eq!(net.state(0, a), SessionState::S_OPEN);
}

/// Alice and Bob with a flow each way carrying one delivered message, and
/// then two more of Alice's messages that never arrive (her data is lost).
fn flows_both_ways() -> (
    Net,
    SessionHandle,
    SessionHandle,
    flow::SendFlowId,
    flow::SendFlowId,
) {
    let (mut net, a, b) = pair(false, config());
    let f = net.open_flow(0, a, b"a2b");
    let g = net.open_flow(1, b, b"b2a");
    net.send(0, a, f, b"m1");
    net.send(1, b, g, b"n1");
    net.run_for(secs(1));
    net.set_hook(|d, _| {
        if d.sender == 0 && d.has(chunk::USER_DATA) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    net.send(0, a, f, b"m2");
    net.send(0, a, f, b"m3");
    net.run_for(ms(100));
    (net, a, b, f, g)
}

/// Node `i`'s events about session `s` from the first flow abort on.
fn close_events(net: &Net, i: usize, s: SessionHandle) -> Vec<Event> {
    let all: Vec<Event> = net
        .events(i)
        .into_iter()
        .filter(|e| e.session() == s)
        .collect();
    let start = all
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::MessageAbandoned { .. }
                    | Event::SendFlowAborted { .. }
                    | Event::RecvFlowAborted { .. }
                    | Event::SessionClosed { .. }
            )
        })
        .unwrap_or(all.len());
    all[start..].to_vec()
}

// RFC 7016 3.5.5: leaving S_OPEN aborts every open flow at once, at both
// ends, orderly or abrupt; the application hears of each flow (and each
// undelivered message) before the session's close; flows are gone after.
// spec: 7016-3.5.5-a, 7016-3.5.5-d, 7016-3.5.5-f, 7016-3.5.5-h, 7016-3.5.5-j
#[test]
fn closing_the_session_aborts_flows_at_both_ends() {
    for how in [CloseKind::Orderly, CloseKind::Abrupt] {
        let (mut net, a, b, f, g) = flows_both_ways();
        let rg = only_opened(&net, 0, a);
        let rf = only_opened(&net, 1, b);
        let now = net.now;
        net.ep(0).close(now, a, how).unwrap();
        net.run_for(secs(1));
        let (near, far) = match how {
            CloseKind::Orderly => (CloseReason::LocalOrderly, CloseReason::FarClose),
            CloseKind::Abrupt => (CloseReason::LocalAbrupt, CloseReason::FarAbrupt),
        };
        let alice = close_events(&net, 0, a);
        assert_eq!(
            alice.last(),
            Some(&Event::SessionClosed {
                session: a,
                reason: near
            }),
            "{how:?}"
        );
        for e in [
            Event::SendFlowAborted {
                session: a,
                flow: f,
            },
            Event::RecvFlowAborted {
                session: a,
                flow: rg,
            },
        ] {
            assert!(alice.contains(&e), "{how:?}: {alice:?}");
        }
        assert_eq!(
            alice
                .iter()
                .filter(|e| matches!(e, Event::MessageAbandoned { .. }))
                .count(),
            2,
            "m2 and m3"
        );
        let bob = close_events(&net, 1, b);
        assert_eq!(
            bob.last(),
            Some(&Event::SessionClosed {
                session: b,
                reason: far
            })
        );
        for e in [
            Event::SendFlowAborted {
                session: b,
                flow: g,
            },
            Event::RecvFlowAborted {
                session: b,
                flow: rf,
            },
        ] {
            assert!(bob.contains(&e), "{how:?}: {bob:?}");
        }
        // No flows any more; the flow interface says why.
        assert!(net.nodes[0].ep.send_flows(a).is_empty());
        assert!(net.nodes[0].ep.send_flow_info(a, f).is_none());
        let now = net.now;
        match net
            .ep(0)
            .open_flow(now, a, b"late", None, FlowOptions::default())
        {
            Err(ApiError::WrongState { session, .. }) => assert_eq!(session, a),
            other => panic!("{other:?}"),
        }
        match net
            .ep(1)
            .send(now, b, g, b"late", MessageOptions::reliable())
        {
            Err(ApiError::WrongState { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}

// RFC 7016 3.5.5: flows exist only in S_OPEN sessions; a data packet that
// arrives after the session left S_OPEN is not processed, only counted.
// spec: 7016-3.5.5-e
#[test]
fn data_after_the_session_closed_is_not_processed() {
    let (mut net, a, b, _, _) = flows_both_ways();
    let late = net
        .log
        .iter()
        .rev()
        .find(|l| l.sender == 0 && l.has(chunk::USER_DATA))
        .unwrap()
        .data
        .clone();
    let now = net.now;
    net.ep(0).close(now, a, CloseKind::Orderly).unwrap();
    net.run_for(secs(1));
    assert_eq!(net.state(1, b), SessionState::S_FARCLOSE_LINGER);
    let flow_chunks = chunks_of(&late).len() as u64;
    assert!(flow_chunks >= 1);
    let (from, to) = (net.public(0), net.public(1));
    net.inject(from, to, late);
    net.run_for(secs(1));
    let info = net.info(1, b);
    assert_eq!(
        info.stats.drops.get(DropReason::FlowChunkNotOpen),
        flow_chunks
    );
    assert!(info.flow_stats.is_none());
    assert!(!net.has_event(
        1,
        |e| matches!(e, Event::Message { data, .. } if data == b"m3")
    ));
}

// RFC 7016 3.5.1 then 3.6: handshake packets lost at each step (IHello,
// IIKeying, RIKeying), then data flows normally; no flow before S_OPEN.
// spec: 7016-3.6.2.1-a, 7016-3.6.1.2-e
#[test]
fn handshake_losses_then_data() {
    for flash in [false, true] {
        let mut net = Net::new();
        if flash {
            net.add_flash("alice", "192.0.2.1:1000", config(), 11);
            net.add_flash("bob", "192.0.2.2:2000", config(), 12);
        } else {
            net.add(
                "alice",
                "192.0.2.1:1000",
                config(),
                transparent("alice"),
                11,
            );
            net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 12);
        }
        let mut dropped = [false; 3];
        net.set_hook(move |d, _| {
            for (k, t) in [chunk::IHELLO, chunk::IIKEYING, chunk::RIKEYING]
                .into_iter()
                .enumerate()
            {
                if d.has(t) && !dropped[k] {
                    dropped[k] = true;
                    return Verdict::Drop;
                }
            }
            Verdict::Deliver
        });
        let a = net.connect(0, 1);
        let now = net.now;
        match net
            .ep(0)
            .open_flow(now, a, b"early", None, FlowOptions::default())
        {
            Err(ApiError::WrongState { state, .. }) => assert_eq!(state, "S_IHELLO_SENT"),
            other => panic!("{other:?}"),
        }
        assert!(
            net.run_until(secs(60), |n| n.state(0, a) == SessionState::S_OPEN
                && n.incoming(1).is_some())
        );
        let b = net.incoming(1).unwrap();
        assert!(net.nodes[0].ep.stats().ihellos_sent >= 2);
        let f = net.open_flow(0, a, b"after");
        let messages = numbered_messages(20, 1);
        let got = net.transfer((0, a, f), (1, b), &messages, secs(30));
        assert_messages(&got, &messages);
    }
}

// RFC 7016 3.5.4.1: keepalive Pings on a session whose data comes in bursts
// with idle gaps do not disturb the data, and a steady transfer needs none.
// spec: 7016-3.5.4.1-a, 7016-3.5.4.1-b
#[test]
fn keepalive_does_not_interfere_with_data() {
    let mut cfg = config();
    cfg.keepalive.idle = Some(secs(1));
    cfg.keepalive.dead_after = Some(secs(10));
    let (mut net, a, b) = pair(false, cfg);
    let f = net.open_flow(0, a, b"ticks");
    // A steady transfer: no keepalive needed on either side.
    let messages = numbered_messages(60, 2);
    let got = net.transfer((0, a, f), (1, b), &messages, secs(30));
    assert_messages(&got, &messages);
    let quiet = net.info(0, a).stats.keepalives_sent + net.info(1, b).stats.keepalives_sent;
    assert_eq!(quiet, 0);
    // One message every 3 s for 30 s: both sides ping in the gaps.
    let start = net.now;
    let mut sent = 0u64;
    net.run_until_mut(secs(40), |net| {
        if sent < 10 && net.now >= start + secs(3 * sent) {
            net.send(0, a, f, &sent.to_be_bytes());
            sent += 1;
        }
        net.now >= start + secs(35)
    });
    let rf = only_opened(&net, 1, b);
    let got: Vec<Vec<u8>> = net.payloads(1, b, rf).into_iter().skip(60).collect();
    let want: Vec<Vec<u8>> = (0..10u64).map(|k| k.to_be_bytes().to_vec()).collect();
    assert_eq!(got, want);
    for (i, s) in [(0, a), (1, b)] {
        let info = net.info(i, s);
        assert_eq!(info.state, SessionState::S_OPEN);
        assert!(info.stats.keepalives_sent > 0, "node {i}");
        assert!(
            info.erto < secs(1),
            "keepalive backoff left ERTO at {:?}",
            info.erto
        );
    }
}

// RFC 7016 3.5.3, 3.5.4.2: Alice's address changes in the middle of a
// transfer; Bob verifies the new address, moves DESTADDR there, and the
// transfer completes in order.
// spec: 7016-3.5.3-a, 7016-3.5.4.2-c, 7016-3.5.4.2-f, 7016-3.5.4.2-i, 7016-3.6.1.2-e
#[test]
fn address_change_in_the_middle_of_a_transfer() {
    let (mut net, a, b) = pair(false, config());
    let old = net.public(0);
    let new = addr("192.0.2.77:7777");
    let f = net.open_flow(0, a, b"moving");
    let messages = numbered_messages(60, 4);
    let mut next = 0;
    let mut moved = false;
    net.run_until_mut(secs(60), |net| {
        while next < messages.len() {
            let now = net.now;
            match net.nodes[0]
                .ep
                .send(now, a, f, &messages[next], MessageOptions::reliable())
            {
                Ok(_) => next += 1,
                Err(_) => break,
            }
        }
        let received = net.messages(1, b).len();
        if received >= 20 && !moved {
            net.nodes[0].addr = new;
            moved = true;
        }
        received == messages.len()
    });
    let rf = only_opened(&net, 1, b);
    assert_messages(&net.payloads(1, b, rf), &messages);
    assert!(net.has_event(1, |e| *e
        == Event::AddressChanged {
            session: b,
            from: old,
            to: new
        }));
    assert_eq!(net.info(1, b).far_address, Some(new));
    assert!(net.info(1, b).stats.mobility_checks_sent >= 1);
    net.run_for(secs(2));
    assert_eq!(
        net.count_events(0, |e| matches!(e, Event::MessageDelivered { .. })),
        60
    );
}

// Limits the application meets (RFC 7016 section 5: bounded resources),
// each an error that changes nothing: send buffers per flow and per session
// (with a writable event once there is room), message too large, receive
// buffer above the limit, too many flows, metadata too long, unknown
// sessions and flows.
// spec: 7016-5-f
#[test]
fn limits_return_errors() {
    let mut cfg = config();
    cfg.flow.max_send_buffer_per_flow = 12_000;
    cfg.flow.max_send_buffer_per_session = 20_000;
    cfg.flow.max_send_flows = 2;
    let (mut net, a, b) = pair(false, cfg.clone());
    let now = net.now;
    let f = net.open_flow(0, a, b"one");
    let g = net.open_flow(0, a, b"two");
    is_flow_error(
        net.ep(0)
            .open_flow(now, a, b"three", None, FlowOptions::default()),
        |e| *e == flow::ApiError::TooManyFlows { max: 2 },
    );
    is_flow_error(
        net.ep(0)
            .open_flow(now, a, &[0; 513], None, FlowOptions::default()),
        |e| matches!(e, flow::ApiError::MetadataTooLarge { len: 513, .. }),
    );
    is_flow_error(
        net.ep(0)
            .send(now, a, f, &[0; 30_000], MessageOptions::reliable()),
        |e| matches!(e, flow::ApiError::MessageTooLarge { .. }),
    );
    // Per flow: two 5000-byte messages fit, the third does not.
    for _ in 0..2 {
        net.send(0, a, f, &[1; 5000]);
    }
    is_flow_error(
        net.ep(0)
            .send(now, a, f, &[1; 5000], MessageOptions::reliable()),
        |e| matches!(e, flow::ApiError::BufferFull { flow, .. } if *flow == f),
    );
    // Per session: the other flow has room for one more only.
    net.send(0, a, g, &[2; 5000]);
    is_flow_error(
        net.ep(0)
            .send(now, a, g, &[2; 5000], MessageOptions::reliable()),
        |e| matches!(e, flow::ApiError::BufferFull { session_queued, .. } if *session_queued > 15_000),
    );
    // Room comes back as the far end acknowledges.
    net.run_for(secs(1));
    assert!(net.has_event(0, |e| *e
        == Event::SendFlowWritable {
            session: a,
            flow: f
        }));
    assert!(net.has_event(0, |e| *e
        == Event::SendFlowWritable {
            session: a,
            flow: g
        }));
    net.send(0, a, f, &[1; 5000]);
    // Receive side.
    let rf = net.opened_flows(1, b)[0].0;
    is_flow_error(net.ep(1).set_receive_buffer(b, rf, (16 << 20) + 1), |e| {
        matches!(e, flow::ApiError::ReceiveBufferTooLarge { .. })
    });
    net.ep(1).set_receive_buffer(b, rf, 16 << 20).unwrap();
    // Wrong handles.
    let bogus = RecvFlowId(999);
    is_flow_error(net.ep(1).set_receive_buffer(b, bogus, 1), |e| {
        *e == flow::ApiError::UnknownRecvFlow(bogus)
    });
    // Handles are per endpoint: one Bob never had, one not yet open.
    let stray = net
        .ep(0)
        .connect(now, vec![1, 2, 3], &[addr("192.0.2.99:1")])
        .unwrap();
    match net.ep(1).close_flow(now, stray, f) {
        Err(ApiError::UnknownSession(h)) => assert_eq!(h, stray),
        other => panic!("{other:?}"),
    }
    match net
        .ep(0)
        .open_flow(now, stray, b"x", None, FlowOptions::default())
    {
        Err(ApiError::WrongState { state, .. }) => assert_eq!(state, "S_IHELLO_SENT"),
        other => panic!("{other:?}"),
    }
    is_flow_error(net.ep(1).close_flow(now, b, f), |e| {
        *e == flow::ApiError::UnknownSendFlow(f)
    });
}

// An application that stops polling its events (RFC 7016 section 5): the
// messages it has not taken stay counted against the receive window, so the
// sender stops, and nothing is lost; once it polls, the transfer completes.
// Beyond max_pending_events, datagrams are dropped unprocessed.
// spec: 7016-5-f, 7016-3.6.3.5-d, 7016-3.6.2.9-a, 7016-3.6.2.9.1-a
#[test]
fn an_application_that_stops_polling_closes_its_window() {
    let mut cfg = config();
    cfg.flow.default_receive_buffer = 32 * 1024;
    let (mut net, a, b) = pair(false, cfg);
    let f = net.open_flow(0, a, b"flood");
    net.nodes[1].polls_events = false;
    let messages = numbered_messages(200, 6); // about 300 KB
    let mut next = 0;
    let mut step = |net: &mut Net| {
        while next < messages.len() {
            let now = net.now;
            match net.nodes[0]
                .ep
                .send(now, a, f, &messages[next], MessageOptions::reliable())
            {
                Ok(_) => next += 1,
                Err(_) => break,
            }
        }
        false
    };
    net.run_until_mut(secs(10), &mut step);
    // Bob's window closed at about 32 KB of unconsumed messages; Alice probes.
    let rf = net.nodes[1].ep.recv_flows(b)[0];
    let info = net.nodes[1].ep.recv_flow_info(b, rf).unwrap();
    assert!(
        (24 * 1024..48 * 1024).contains(&info.unconsumed_bytes),
        "{}",
        info.unconsumed_bytes
    );
    let sending = net.nodes[0].ep.send_flow_info(a, f).unwrap();
    assert!(sending.suspended, "{sending:?}");
    assert!(net.nodes[0].ep.flow_stats(a).unwrap().probes_sent > 0);
    assert_eq!(net.info(1, b).state, SessionState::S_OPEN);
    // Bob polls again: everything arrives, in order.
    net.nodes[1].polls_events = true;
    net.run_until_mut(secs(60), |net| {
        step(net);
        net.messages(1, b).len() == messages.len()
    });
    assert_messages(&net.payloads(1, b, rf), &messages);

    // A tiny event queue: datagrams wait for the application to poll.
    let mut cfg = config();
    cfg.max_pending_events = 5;
    let (mut net, a, b) = pair(false, cfg);
    let f = net.open_flow(0, a, b"events");
    net.nodes[1].polls_events = false;
    for m in numbered_messages(20, 7) {
        net.send(0, a, f, &m);
    }
    net.run_for(secs(2));
    let stats = net.nodes[1].ep.stats().clone();
    assert!(stats.drops.get(DropReason::EventQueueFull) > 0);
    net.nodes[1].polls_events = true;
    assert!(net.run_until(secs(60), |n| n.messages(1, b).len() == 20));
}
