//! Scripted flow scenarios over the in-memory pipe (RFC 7016 3.6): transfer, loss, reordering,
//! duplication, flow control and probes, rejection, associations, priorities, limits, timeouts.

mod flow_support;

use core::time::Duration;

use flow_support::{Fate, Harness, Net, Sent, Side, index_of, payload, sender_outcomes};
use rtmfp::flow::{
    ApiError, DeliveryMode, FlowConfig, FlowEvent, FlowOptions, MessageOptions, Priority,
    RecvFlowId, RecvFlowState, SendFlowId, SendFlowState,
};
use rtmfp::wire::chunk::Chunk;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Messages delivered on side B for its receiving flow `rf`, as payload indexes.
fn delivered(h: &Harness, rf: RecvFlowId) -> Vec<u64> {
    h.b.events()
        .filter_map(|e| match e {
            FlowEvent::Message { flow, data, .. } if *flow == rf => Some(index_of(data)),
            _ => None,
        })
        .collect()
}

fn first_recv_flow(h: &Harness) -> Option<RecvFlowId> {
    h.b.events().find_map(|e| match e {
        FlowEvent::RecvFlowOpened { flow, .. } => Some(*flow),
        _ => None,
    })
}

fn recv_complete(h: &Harness, rf: RecvFlowId) -> bool {
    h.b.events()
        .any(|e| *e == FlowEvent::RecvFlowComplete { flow: rf })
}

fn send_complete(h: &Harness, f: SendFlowId) -> bool {
    h.a.events()
        .any(|e| *e == FlowEvent::SendFlowComplete { flow: f })
}

/// Opens a flow on A, queues `sizes` (reliable), closes it, runs to completion on both sides.
fn transfer(h: &mut Harness, sizes: &[usize], max: Duration) -> (SendFlowId, RecvFlowId) {
    let f =
        h.a.flows
            .open(b"bulk", None, FlowOptions::default())
            .unwrap();
    for (i, &len) in sizes.iter().enumerate() {
        h.a.flows
            .send(
                h.now,
                f,
                &payload(i as u64, len),
                MessageOptions::reliable(),
            )
            .unwrap();
    }
    h.a.flows.close(f).unwrap();
    h.run_until(max, |h| {
        first_recv_flow(h).is_some_and(|rf| recv_complete(h, rf)) && send_complete(h, f)
    })
    .unwrap();
    (f, first_recv_flow(h).unwrap())
}

fn assert_drained(h: &Harness) {
    assert_eq!(h.a.flows.outstanding_bytes(), 0);
    for id in h.a.flows.send_flows() {
        let info = h.a.flows.send_flow_info(id).unwrap();
        assert_eq!((info.queue_len, info.queued_bytes), (0, 0), "{info:?}");
    }
    for id in h.b.flows.recv_flows() {
        assert_eq!(h.b.flows.recv_flow_info(id).unwrap().buffered_size, 0);
    }
    assert!(
        h.a.window_violations.is_empty(),
        "{:?}",
        h.a.window_violations
    );
    assert_eq!((h.a.empty_writes, h.b.empty_writes), (0, 0));
    assert!(h.b.ack_violations.is_empty(), "{:?}", h.b.ack_violations);
}

// RFC 7016 3.6.1.2, 3.6.2, 3.6.3: messages of every size arrive whole, in order; both ends complete.
// spec: 7016-3.6.1.2-a, 7016-3.6.1.2-b, 7016-3.6.3.3-a, 7016-3.6.3.3-c, 7016-3.6.3.3-j, 7016-3.6.3.3-m, 7016-3.6.3.8-a, 7016-3.6.3.8-b, 7016-3.6.2.11-a, 7016-3.6.2.11-d, 7016-3.6.2.2-a, 7016-3.6.2.3-t
#[test]
fn rfc7016_3_6_transfer_on_a_perfect_pipe() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(20)),
    );
    let sizes: Vec<usize> = (0..60)
        .map(|i| [0, 1, 100, 1150, 1200, 5000, 20_000][i % 7])
        .collect();
    let (f, rf) = transfer(&mut h, &sizes, Duration::from_secs(60));
    assert_eq!(delivered(&h, rf), (0..60).collect::<Vec<_>>());
    let (ok, abandoned) = sender_outcomes(&h.a, f);
    assert_eq!((ok.len(), abandoned.len()), (60, 0));
    assert_drained(&h);
    assert_eq!(h.a.flows.stats().retransmissions, 0);
    assert!(h.a.largest_packet <= 1200);
    // 3.6.2.11 / 3.6.3.8: lingering, then closed and reclaimed.
    assert_eq!(
        h.a.flows.send_flow_info(f).unwrap().state,
        SendFlowState::F_COMPLETE_LINGER
    );
    assert_eq!(
        h.b.flows.recv_flow_info(rf).unwrap().state,
        RecvFlowState::RF_COMPLETE_LINGER
    );
    assert!(h.a.flows.is_idle() && h.b.flows.is_idle());
    let end = h.now + Duration::from_secs(131);
    h.run_until(Duration::from_secs(400), |h| h.now >= end).ok();
    assert!(h.a.flows.send_flow_info(f).is_none() && h.b.flows.recv_flow_info(rf).is_none());
    // The round-trip estimate came from the timestamp echoes: 40 ms plus delayed acks.
    let srtt = h.a.rto.srtt().unwrap();
    assert!(srtt >= ms(40) && srtt < ms(300), "{srtt:?}");
}

// RFC 7016 3.6.2.1, 3.6.2.3.1, 2.3.11.1.1: the metadata goes with the first User Data chunk of
// the flow in every packet until acknowledged, never twice in a packet; 3.6.2.3.2: later
// contiguous fragments in the packet are Next User Data.
// spec: 7016-3.6.2.3.1-a, 7016-3.6.2.3.2-a, 7016-3.6.2.3.2-b, 7016-3.6.2.4-b, 7016-3.6.2.2-b, 7016-2.3.11.1.1-b, 7016-2.3.11.1.1-c, 7016-2.3.11.1.1-d, 7016-2.3.11.1.1-e, 7016-2.3.11.1.1-f, 7016-3.6.2.3-k
#[test]
fn rfc7016_3_6_2_3_startup_options_and_next_user_data() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(50)),
    );
    h.keep_trace = true;
    let (_, _) = transfer(&mut h, &[3000, 10, 10, 10, 2500], Duration::from_secs(30));
    let mut first_ack_at = None;
    for Sent {
        at: t,
        from: side,
        chunks,
        ..
    } in &h.trace
    {
        if *side == Side::B
            && chunks
                .iter()
                .any(|c| matches!(c, Chunk::RangeAck(_) | Chunk::BitmapAck(_)))
        {
            first_ack_at.get_or_insert(*t + ms(50));
        }
    }
    let first_ack_at = first_ack_at.unwrap();
    let mut data_packets_before_ack = 0;
    for Sent {
        at: t,
        from: side,
        chunks,
        ..
    } in &h.trace
    {
        if *side != Side::A {
            continue;
        }
        let data: Vec<&Chunk> = chunks
            .iter()
            .filter(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)))
            .collect();
        if data.is_empty() {
            continue;
        }
        assert!(
            matches!(data[0], Chunk::UserData(_)),
            "first fragment in a packet is User Data"
        );
        let with_options = data
            .iter()
            .filter(|c| matches!(c, Chunk::UserData(u) if u.metadata().is_some()))
            .count();
        if *t < first_ack_at {
            data_packets_before_ack += 1;
            assert_eq!(
                with_options, 1,
                "metadata in every packet until acknowledged"
            );
            assert!(matches!(data[0], Chunk::UserData(u) if u.metadata() == Some(&b"bulk"[..])));
        } else {
            assert_eq!(with_options, 0, "no metadata once acknowledged");
        }
        assert!(
            data[1..]
                .iter()
                .all(|c| matches!(c, Chunk::NextUserData(_)))
        );
    }
    assert!(data_packets_before_ack >= 2);
}

// Scripted loss (RFC 7016 3.6.2.5, 3.6.2.6): the first two data packets and the first ack are
// lost; everything still arrives once, in order.
// spec: 7016-3.6.1.2-e
#[test]
fn rfc7016_3_6_2_5_scripted_loss() {
    let mut net = Net::perfect(ms(20));
    net.script = Some(Box::new(|side, index, _| match (side, index) {
        (Side::A, 0 | 1) | (Side::B, 0) => Some(Fate::Arrive(vec![])),
        _ => None,
    }));
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    let sizes = vec![1000; 30];
    let (f, rf) = transfer(&mut h, &sizes, Duration::from_secs(60));
    assert_eq!(delivered(&h, rf), (0..30).collect::<Vec<_>>());
    assert_eq!(sender_outcomes(&h.a, f).0.len(), 30);
    assert!(h.a.flows.stats().retransmissions >= 2);
    assert_drained(&h);
}

// Reordering and duplication (RFC 7016 3.6.3.2 steps 9 and 14): every packet duplicated and
// heavily reordered; each message is delivered once, in order.
// spec: 7016-3.6.3.2-i, 7016-3.6.3.4.1-h
#[test]
fn rfc7016_3_6_3_2_duplication_and_reordering() {
    let net = Net::lossy(7, 0, 1000, ms(10), ms(80));
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    let sizes: Vec<usize> = (0..40).map(|i| 300 + i * 97).collect();
    let (_, rf) = transfer(&mut h, &sizes, Duration::from_secs(120));
    assert_eq!(delivered(&h, rf), (0..40).collect::<Vec<_>>());
    assert!(h.b.flows.stats().duplicates_received > 0);
    assert_drained(&h);
}

// RFC 7016 3.6.3.3 out-of-order delivery: with reordering, messages may arrive out of order,
// but each exactly once.
#[test]
fn rfc7016_3_6_3_3_unordered_delivery() {
    let net = Net::lossy(11, 100, 0, ms(10), ms(60));
    let cfg = FlowConfig {
        default_delivery: DeliveryMode::Unordered,
        ..FlowConfig::default()
    };
    let mut h = Harness::new(FlowConfig::default(), cfg, net);
    let (_, rf) = transfer(&mut h, &[500; 80], Duration::from_secs(300));
    let mut got = delivered(&h, rf);
    let in_order = got.windows(2).all(|w| w[0] < w[1]);
    got.sort_unstable();
    assert_eq!(got, (0..80).collect::<Vec<_>>());
    assert!(
        !in_order,
        "with 10% loss and jitter some messages overtake others"
    );
}

// RFC 7016 3.6.3.5, 3.6.2.9, 3.6.2.9.1: suspended delivery closes the window, the sender stops
// and probes (first within 1 s, then at growing periods of at least max(1 s, ERTO)); resuming
// reopens it.
// spec: 7016-3.6.2.9-a, 7016-3.6.2.9.1-a, 7016-3.6.2.9.1-c, 7016-3.6.2.9.1-d, 7016-3.6.2.9.1-e, 7016-3.6.2.9.1-f, 7016-3.6.2.9.1-g, 7016-3.6.3.5-a, 7016-3.6.3.3-f
#[test]
fn rfc7016_3_6_2_9_flow_control_and_buffer_probes() {
    let cfg_b = FlowConfig {
        default_receive_buffer: 8 * 1024,
        ..FlowConfig::default()
    };
    let mut h = Harness::new(FlowConfig::default(), cfg_b, Net::perfect(ms(20)));
    h.keep_trace = true;
    let f = h.a.flows.open(b"fc", None, FlowOptions::default()).unwrap();
    for i in 0..40 {
        h.a.flows
            .send(h.now, f, &payload(i, 1000), MessageOptions::reliable())
            .unwrap();
    }
    h.a.flows.close(f).unwrap();
    // Suspend B's delivery as soon as the flow opens.
    let mut suspended_at = None;
    let resume_after = Duration::from_secs(40);
    h.run_until(Duration::from_secs(200), |h| {
        let Some(rf) = first_recv_flow(h) else {
            return false;
        };
        if suspended_at.is_none() {
            h.b.flows.suspend_delivery(rf).unwrap();
            suspended_at = Some(h.now);
        }
        if suspended_at.is_some_and(|t| h.now >= t + resume_after) {
            h.b.flows.resume_delivery(rf).unwrap();
        }
        recv_complete(h, rf) && send_complete(h, f)
    })
    .unwrap();
    let rf = first_recv_flow(&h).unwrap();
    assert_eq!(delivered(&h, rf), (0..40).collect::<Vec<_>>());
    // The window closed: a zero advertisement went out.
    let zero_at =
        h.trace
            .iter()
            .find(
                |Sent {
                     from: side, chunks, ..
                 }| {
                    *side == Side::B && chunks.iter().any(|c| {
                        matches!(c, Chunk::RangeAck(a) if a.buffer_blocks_available == 0)
                            || matches!(c, Chunk::BitmapAck(a) if a.buffer_blocks_available == 0)
                    })
                },
            )
            .map(|sent| sent.at + ms(20))
            .expect("zero window advertised");
    let probes: Vec<_> = h
        .trace
        .iter()
        .filter(|sent| {
            sent.from == Side::A
                && sent
                    .chunks
                    .iter()
                    .any(|c| matches!(c, Chunk::BufferProbe(_)))
        })
        .map(|sent| sent.at)
        .collect();
    assert!(probes.len() >= 4, "{probes:?}");
    assert!(probes[0] - zero_at <= Duration::from_secs(1));
    let gaps: Vec<Duration> = probes.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter()
            .all(|g| *g >= Duration::from_secs(1) && *g <= Duration::from_secs(60)),
        "{gaps:?}"
    );
    assert!(
        gaps.windows(2).all(|w| w[1] >= w[0]),
        "periods grow: {gaps:?}"
    );
    // While the window was closed no data went out beyond the last advertisement.
    assert_drained(&h);
}

// RFC 7016 3.6.3.7, 3.6.2.10: the receiver rejects; every acknowledgement is preceded by a Flow
// Exception Report; the sender reports the code, abandons its messages and both ends complete.
// spec: 7016-3.6.3.7-a, 7016-3.6.3.7-c, 7016-3.6.3.7-f, 7016-3.6.2.10-a, 7016-3.6.2.10-b, 7016-3.6.2.10-c, 7016-3.6.1.3-c, 7016-3.6.1.3-g, 7016-3.6.1.3-h, 7016-3.6.3.4.3-b, 7016-2.3.16-a, 7016-2.3.16-b, 7016-2.3.16-f
#[test]
fn rfc7016_3_6_3_7_rejection() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(20)),
    );
    h.keep_trace = true;
    let f =
        h.a.flows
            .open(b"unwanted", None, FlowOptions::default())
            .unwrap();
    for i in 0..50 {
        h.a.flows
            .send(h.now, f, &payload(i, 1000), MessageOptions::reliable())
            .unwrap();
    }
    let mut rejected = false;
    h.run_until(Duration::from_secs(60), |h| {
        if let Some(rf) = first_recv_flow(h)
            && !rejected
        {
            h.b.flows.reject(rf, 42).unwrap();
            rejected = true;
        }
        first_recv_flow(h).is_some_and(|rf| {
            h.b.flows.recv_flow_info(rf).unwrap().state == RecvFlowState::RF_COMPLETE_LINGER
        }) && send_complete(h, f)
    })
    .unwrap();
    assert!(
        h.a.events()
            .any(|e| *e == FlowEvent::FlowException { flow: f, code: 42 })
    );
    let (ok, abandoned) = sender_outcomes(&h.a, f);
    assert_eq!(ok.len() + abandoned.len(), 50);
    assert!(!abandoned.is_empty());
    // After the rejection, every ack of B is right after a Flow Exception Report for the flow,
    // the ones sent after the flow completed included.
    let mut seen_report = false;
    let mut acks_after = 0;
    for Sent { chunks, .. } in h.trace.iter().filter(|sent| sent.from == Side::B) {
        let mut previous: Option<&Chunk> = None;
        for c in chunks {
            if let Chunk::FlowExceptionReport(r) = c {
                assert_eq!(r.exception, 42);
                seen_report = true;
            }
            if seen_report && matches!(c, Chunk::RangeAck(_) | Chunk::BitmapAck(_)) {
                assert!(
                    matches!(previous, Some(Chunk::FlowExceptionReport(_))),
                    "{chunks:?}"
                );
                acks_after += 1;
            }
            previous = Some(c);
        }
    }
    assert!(seen_report && acks_after > 0);
    assert_eq!(
        h.a.flows.send_flow_info(f).unwrap().state,
        SendFlowState::F_COMPLETE_LINGER
    );
    assert_eq!(
        h.a.flows.send(h.now, f, b"x", MessageOptions::reliable()),
        Err(ApiError::SendFlowNotOpen {
            flow: f,
            state: SendFlowState::F_COMPLETE_LINGER
        })
    );
}

// RFC 7016 3.6.1.1, 3.6.2.1, 3.6.3.1 steps 6, 7, 9: return flow association.
// spec: 7016-3.6.2.1-c, 7016-3.6.2.1-d, 7016-3.6.3.1-e, 7016-3.6.3.1-j
#[test]
fn rfc7016_3_6_3_1_return_flow_association() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(20)),
    );
    let f =
        h.a.flows
            .open(b"request", None, FlowOptions::default())
            .unwrap();
    h.a.flows
        .send(h.now, f, b"hello", MessageOptions::reliable())
        .unwrap();
    h.run_until(Duration::from_secs(5), |h| first_recv_flow(h).is_some())
        .unwrap();
    let rf = first_recv_flow(&h).unwrap();
    // B answers on a flow associated with A's flow.
    let back =
        h.b.flows
            .open(b"reply", Some(rf), FlowOptions::default())
            .unwrap();
    h.b.flows
        .send(h.now, back, b"world", MessageOptions::reliable())
        .unwrap();
    h.run_until(Duration::from_secs(5), |h| {
        h.a.events().any(|e| matches!(e, FlowEvent::Message { .. }))
    })
    .unwrap();
    let opened =
        h.a.events()
            .find_map(|e| match e {
                FlowEvent::RecvFlowOpened {
                    metadata,
                    association,
                    ..
                } => Some((metadata.clone(), *association)),
                _ => None,
            })
            .unwrap();
    assert_eq!(opened, (b"reply".to_vec(), Some(f)));
    // 3.6.2.1: a return association must name an RF_OPEN receiving flow.
    assert_eq!(
        h.b.flows
            .open(b"x", Some(RecvFlowId(999)), FlowOptions::default()),
        Err(ApiError::AssociationNotOpen(RecvFlowId(999)))
    );
    h.b.flows.reject(rf, 1).unwrap();
    assert_eq!(
        h.b.flows.open(b"x", Some(rf), FlowOptions::default()),
        Err(ApiError::AssociationNotOpen(rf))
    );
}

// RFC 7016 3.6.3.1 step 7: an association naming a sending flow that is no longer F_OPEN makes the
// receiver reject the new flow with code 0.
// spec: 7016-3.6.3.1-h, 7016-2.3.11.1.2-g, 7016-2.3.16-e
#[test]
fn rfc7016_3_6_3_1_association_to_a_closed_flow_is_rejected() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(20)),
    );
    let f =
        h.a.flows
            .open(b"request", None, FlowOptions::default())
            .unwrap();
    h.a.flows
        .send(h.now, f, b"hello", MessageOptions::reliable())
        .unwrap();
    h.run_until(Duration::from_secs(5), |h| first_recv_flow(h).is_some())
        .unwrap();
    let rf = first_recv_flow(&h).unwrap();
    let back =
        h.b.flows
            .open(b"reply", Some(rf), FlowOptions::default())
            .unwrap();
    h.a.flows.close(f).unwrap();
    h.b.flows
        .send(h.now, back, b"world", MessageOptions::reliable())
        .unwrap();
    h.run_until(Duration::from_secs(10), |h| {
        h.b.events()
            .any(|e| matches!(e, FlowEvent::FlowException { .. }))
    })
    .unwrap();
    assert!(h.b.events().any(|e| *e
        == FlowEvent::FlowException {
            flow: back,
            code: 0
        }));
    assert!(
        !h.a.events()
            .any(|e| matches!(e, FlowEvent::RecvFlowOpened { .. }))
    );
    assert_eq!(h.a.flows.stats().flows_rejected, 1);
}

// RFC 7016 3.6.2.3 (prioritization), 2.2.4 (TC flag): a time critical flow goes ahead of bulk
// data already queued; bulk flows share packets round robin.
// spec: 7016-3.6.2.3-c, 7016-3.6.2.3-aa
#[test]
fn rfc7016_3_6_2_3_priorities() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(20)),
    );
    h.keep_trace = true;
    let bulk1 =
        h.a.flows
            .open(b"bulk1", None, FlowOptions::default())
            .unwrap();
    let bulk2 =
        h.a.flows
            .open(b"bulk2", None, FlowOptions::default())
            .unwrap();
    let tc =
        h.a.flows
            .open(
                b"live",
                None,
                FlowOptions {
                    priority: Priority::TIME_CRITICAL,
                    ..Default::default()
                },
            )
            .unwrap();
    for i in 0..30 {
        h.a.flows
            .send(h.now, bulk1, &payload(i, 1100), MessageOptions::reliable())
            .unwrap();
        h.a.flows
            .send(h.now, bulk2, &payload(i, 1100), MessageOptions::reliable())
            .unwrap();
    }
    h.a.flows
        .send(h.now, tc, &payload(0, 200), MessageOptions::reliable())
        .unwrap();
    h.run_until(Duration::from_secs(30), |h| {
        h.b.events()
            .filter(|e| matches!(e, FlowEvent::Message { .. }))
            .count()
            == 61
    })
    .unwrap();
    let flows_of = |chunks: &[Chunk]| -> Vec<u64> {
        chunks
            .iter()
            .filter_map(|c| match c {
                Chunk::UserData(u) => Some(u.flow_id),
                _ => None,
            })
            .collect()
    };
    let a_packets: Vec<&Sent> = h
        .trace
        .iter()
        .filter(|sent| sent.from == Side::A && !flows_of(&sent.chunks).is_empty())
        .collect();
    // The first packet carries the time critical message, first, and has the TC flag;
    // packets with bulk data only do not.
    assert_eq!(flows_of(&a_packets[0].chunks)[0], tc.0);
    assert!(a_packets[0].time_critical);
    assert!(a_packets[1..].iter().all(|p| !p.time_critical));
    // Bulk packets alternate between the two bulk flows (round robin by packets).
    let firsts: Vec<u64> = a_packets[1..7]
        .iter()
        .map(|p| flows_of(&p.chunks)[0])
        .collect();
    assert!(firsts.windows(2).all(|w| w[0] != w[1]), "{firsts:?}");
    // A time critical message on a bulk flow jumps ahead of other bulk data.
    for i in 0..10 {
        h.a.flows
            .send(
                h.now,
                bulk1,
                &payload(100 + i, 1100),
                MessageOptions::reliable(),
            )
            .unwrap();
    }
    let urgent = MessageOptions {
        time_critical: true,
        ..Default::default()
    };
    h.a.flows
        .send(h.now, bulk2, &payload(200, 100), urgent)
        .unwrap();
    let rto = rtmfp::congestion::Rto::new();
    let w = h.a.flows.write(h.now, 1195, &rto);
    assert_eq!(flows_of(&w.chunks)[0], bulk2.0);
    assert!(w.time_critical);
}

// Bounded send buffers: a clear error when full, and a writable event once there is room.
#[test]
fn send_buffer_limit_and_writable_event() {
    let cfg = FlowConfig {
        max_send_buffer_per_flow: 20_000,
        ..FlowConfig::default()
    };
    let mut h = Harness::new(cfg, FlowConfig::default(), Net::perfect(ms(20)));
    let f = h.a.flows.open(b"b", None, FlowOptions::default()).unwrap();
    let mut queued = 0;
    let err = loop {
        match h
            .a
            .flows
            .send(h.now, f, &payload(queued, 3000), MessageOptions::reliable())
        {
            Ok(_) => queued += 1,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, ApiError::BufferFull { flow, len: 3000, .. } if flow == f),
        "{err:?}"
    );
    assert_eq!(queued, 6);
    assert!(matches!(
        h.a.flows
            .send(h.now, f, &[0; 30_000], MessageOptions::reliable()),
        Err(ApiError::MessageTooLarge { len: 30_000, .. })
    ));
    h.run_until(Duration::from_secs(10), |h| {
        h.a.events()
            .any(|e| *e == FlowEvent::SendFlowWritable { flow: f })
    })
    .unwrap();
    assert!(
        h.a.flows
            .send(h.now, f, &payload(queued, 3000), MessageOptions::reliable())
            .is_ok()
    );
}

// RFC 7016 3.6.2.7, 3.6.1.2: a message whose lifetime runs out while the path is down is
// abandoned; the receiver gets a gap indication and the later messages.
// spec: 7016-3.6.1.2-c, 7016-3.6.1.2-f
#[test]
fn rfc7016_3_6_2_7_lifetime_and_gap_indication() {
    let mut net = Net::perfect(ms(20));
    // A's packets 1..=20 are lost (the second message's first transmissions among them).
    net.script = Some(Box::new(|side, index, _| {
        (side == Side::A && (1..=20).contains(&index)).then(|| Fate::Arrive(vec![]))
    }));
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    let f =
        h.a.flows
            .open(b"live", None, FlowOptions::default())
            .unwrap();
    h.a.flows
        .send(h.now, f, &payload(0, 100), MessageOptions::reliable())
        .unwrap();
    h.run_until(Duration::from_secs(5), |h| {
        h.a.flows.outstanding_bytes() == 0
    })
    .unwrap();
    let doomed =
        h.a.flows
            .send(
                h.now,
                f,
                &payload(1, 3000),
                MessageOptions::with_lifetime(ms(500)),
            )
            .unwrap();
    h.a.flows
        .send(h.now, f, &payload(2, 100), MessageOptions::reliable())
        .unwrap();
    h.a.flows.close(f).unwrap();
    h.run_until(Duration::from_secs(120), |h| {
        first_recv_flow(h).is_some_and(|rf| recv_complete(h, rf)) && send_complete(h, f)
    })
    .unwrap();
    let rf = first_recv_flow(&h).unwrap();
    assert_eq!(delivered(&h, rf), [0, 2]);
    let lost: Vec<_> =
        h.b.events()
            .filter(|e| matches!(e, FlowEvent::MessagesLost { .. }))
            .collect();
    assert_eq!(lost.len(), 1);
    assert!(h.a.events().any(|e| *e
        == FlowEvent::MessageAbandoned {
            flow: f,
            message: doomed
        }));
    assert!(h.a.flows.stats().timeouts_with_loss > 0);
}

// RFC 7016 3.6.2.6, 3.5.2.2: a long outage: timeouts back ERTO off (capped at 10 s), then the
// transfer completes.
// spec: 7016-3.6.2.6-a, 7016-3.6.2.6-d, 7016-3.6.2.6-f, 7016-3.6.2.6-g, 7016-3.5.2.2-x, 7016-A.2-d
#[test]
fn rfc7016_3_6_2_6_timeout_backoff_and_recovery() {
    let mut net = Net::perfect(ms(20));
    net.script = Some(Box::new(|side, index, _| {
        (side == Side::A && (3..40).contains(&index)).then(|| Fate::Arrive(vec![]))
    }));
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    let (_, rf) = transfer(&mut h, &[1000; 20], Duration::from_secs(300));
    assert_eq!(delivered(&h, rf), (0..20).collect::<Vec<_>>());
    let s = h.a.flows.stats();
    assert!(s.timeouts_with_loss >= 5, "{s:?}");
    assert!(h.a.rto.erto() <= Duration::from_secs(10));
    assert_drained(&h);
}

// RFC 7016 3.5.2.3: at most six packets with user data between acknowledgements.
// spec: 7016-3.5.2.3-a, 7016-3.5.2.3-c, 7016-3.5.2.3-d
#[test]
fn rfc7016_3_5_2_3_burst_avoidance() {
    let mut fs = rtmfp::flow::FlowSet::with_appendix_a(FlowConfig::default());
    let rto = rtmfp::congestion::Rto::new();
    let f = fs.open(b"b", None, FlowOptions::default()).unwrap();
    let now = rtmfp::time::Instant::ZERO;
    for i in 0..100 {
        fs.send(now, f, &payload(i, 50), MessageOptions::reliable())
            .unwrap();
    }
    let mut packets = 0;
    while fs.wants_to_send(now) && packets < 100 {
        // Small packets so the congestion window is not what stops us.
        let w = fs.write(now, 200, &rto);
        assert!(w.user_data);
        packets += 1;
    }
    assert_eq!(packets, 6);
    assert!(fs.outstanding_bytes() < 4380);
}

// RFC 7016 3.6.3.1 steps 5 and 8, 2.3.11.1: missing metadata or an unknown option below 8192
// rejects the flow with exception code 0; an unknown option from 8192 up is ignored.
// spec: 7016-3.6.3.1-f, 7016-3.6.3.1-g, 7016-3.6.3.1-i, 7016-3.6.3.1-l, 7016-2.3.11.1-b, 7016-2.3.11.1-c, 7016-2.3.11.1.2-g, 7016-2.3.16-e, 7016-3.6.3.2-a
#[test]
fn rfc7016_3_6_3_1_startup_rejections() {
    use rtmfp::flow::ReceivedFragment;
    use rtmfp::wire::chunk::user_data::{UserDataFlags, UserDataOption};
    use rtmfp::wire::option::RtmfpOption;
    let now = rtmfp::time::Instant::ZERO;
    let rto = rtmfp::congestion::Rto::new();
    let frag = |flow_id, options: Option<Vec<UserDataOption>>| ReceivedFragment {
        flow_id,
        sequence_number: 1,
        forward_sequence_number: 0,
        flags: UserDataFlags::default(),
        options,
        data: b"x".to_vec(),
    };
    let md = UserDataOption::PerFlowMetadata(b"m".to_vec());
    let cases = [
        (1, None, Some(0)),
        (
            2,
            Some(vec![
                md.clone(),
                UserDataOption::Other(RtmfpOption::new(0x1fff, vec![])),
            ]),
            Some(0),
        ),
        (
            3,
            Some(vec![
                md.clone(),
                UserDataOption::Other(RtmfpOption::new(0x2000, vec![])),
            ]),
            None,
        ),
        (
            4,
            Some(vec![md.clone(), UserDataOption::ReturnFlowAssociation(77)]),
            Some(0),
        ),
        (5, Some(vec![md.clone()]), None),
        // spec/ambiguities.md AMB-7016-16: two return associations.
        (
            6,
            Some(vec![
                md,
                UserDataOption::ReturnFlowAssociation(1),
                UserDataOption::ReturnFlowAssociation(1),
            ]),
            Some(0),
        ),
        (
            7,
            Some(vec![
                UserDataOption::PerFlowMetadata(vec![]),
                UserDataOption::ReturnFlowAssociation(1),
            ]),
            None,
        ),
    ];
    for (flow_id, options, want) in cases {
        let mut fs = rtmfp::flow::FlowSet::with_appendix_a(FlowConfig::default());
        // A sending flow with wire ID 1 for the associations to name.
        fs.open(
            b"s",
            None,
            FlowOptions {
                flow_id: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        fs.begin_packet(now, false);
        fs.on_user_data(now, frag(flow_id, options));
        fs.end_packet(now, &rto);
        // 3.6.3.1 step 11: acknowledged at once.
        assert!(fs.wants_to_send(now));
        let w = fs.write(now, 1000, &rto);
        let report = w.chunks.iter().find_map(|c| match c {
            Chunk::FlowExceptionReport(r) => Some(r.exception),
            _ => None,
        });
        assert_eq!(report, want, "flow {flow_id}");
        let opened = std::iter::from_fn(|| fs.poll_event())
            .any(|e| matches!(e, FlowEvent::RecvFlowOpened { .. }));
        assert_eq!(opened, want.is_none(), "flow {flow_id}");
    }
}

// Bounded memory against a sender that ignores the window: fragments beyond the hard limit are
// dropped and counted, never stored.
#[test]
fn misbehaving_sender_cannot_grow_the_receive_buffer() {
    use rtmfp::flow::ReceivedFragment;
    use rtmfp::wire::chunk::user_data::{FragmentControl, UserDataFlags, UserDataOption};
    let cfg = FlowConfig {
        max_receive_buffer_per_flow: 100_000,
        ..FlowConfig::default()
    };
    let mut fs = rtmfp::flow::FlowSet::with_appendix_a(cfg);
    let now = rtmfp::time::Instant::ZERO;
    let rto = rtmfp::congestion::Rto::new();
    // Sequence number 1 never arrives, so nothing can be delivered; 2.. are begin fragments.
    for seq in 2..2000u64 {
        fs.begin_packet(now, false);
        fs.on_user_data(
            now,
            ReceivedFragment {
                flow_id: 9,
                sequence_number: seq,
                forward_sequence_number: 0,
                flags: UserDataFlags {
                    fragment_control: FragmentControl::Begin,
                    ..Default::default()
                },
                options: (seq == 2).then(|| vec![UserDataOption::PerFlowMetadata(vec![])]),
                data: vec![0; 1000],
            },
        );
        fs.end_packet(now, &rto);
        while fs.wants_to_send(now) {
            fs.write(now, 1195, &rto);
        }
    }
    let rf = fs.recv_flows().next().unwrap();
    let info = fs.recv_flow_info(rf).unwrap();
    assert!(info.buffered_size <= 100_000, "{info:?}");
    assert!(fs.stats().dropped_flow_buffer_full > 1800);
}

// RFC 7016 3.5.5: when the session leaves S_OPEN every flow ends; undelivered messages are
// reported abandoned.
#[test]
fn abort_all_reports_everything() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(20)),
    );
    let f = h.a.flows.open(b"b", None, FlowOptions::default()).unwrap();
    for i in 0..5 {
        h.a.flows
            .send(h.now, f, &payload(i, 5000), MessageOptions::reliable())
            .unwrap();
    }
    h.run_until(Duration::from_secs(5), |h| first_recv_flow(h).is_some())
        .unwrap();
    h.a.flows.abort_all();
    h.b.flows.abort_all();
    while let Some(e) = h.a.flows.poll_event() {
        h.a.log.push((h.now, e));
    }
    while let Some(e) = h.b.flows.poll_event() {
        h.b.log.push((h.now, e));
    }
    let (ok, abandoned) = sender_outcomes(&h.a, f);
    assert_eq!(ok.len() + abandoned.len(), 5);
    assert!(
        h.a.events()
            .any(|e| *e == FlowEvent::SendFlowAborted { flow: f })
    );
    assert!(
        h.b.events()
            .any(|e| matches!(e, FlowEvent::RecvFlowAborted { .. }))
    );
    assert!(h.a.flows.is_idle() && h.b.flows.is_idle());
    assert_eq!(h.a.flows.poll_timeout(), None);
}

// Same seed, same run: the harness and the flow layer are deterministic.
#[test]
fn deterministic_replay() {
    let run = || {
        let net = Net::lossy(1234, 150, 50, ms(15), ms(30));
        let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
        h.keep_trace = true;
        transfer(&mut h, &[700; 50], Duration::from_secs(300));
        (h.now, format!("{:?}", h.trace), format!("{:?}", h.b.log))
    };
    assert_eq!(run(), run());
}

// RFC 7016 3.6.3.2 step 15, 3.6.3.4.4: a lone data packet is acknowledged when DELACK_ALARM fires,
// 200 ms later; 3.6.3.6: a Buffer Probe is acknowledged at once.
// spec: 7016-3.6.3.2-o, 7016-3.6.3.4.4-a, 7016-3.6.3.4.1-a, 7016-3.6.3.4.1-e, 7016-3.6.3.4.1-m, 7016-3.6.3.6-a, 7016-3.6.3.6-c, 7016-3.6.3.6-d, 7016-2.3.15-c, 7016-3.6.3.5-h, 7016-3.6.3.4.3-d, 7016-3.6.3.6-b
#[test]
fn rfc7016_3_6_3_4_4_delayed_ack_and_probe() {
    use rtmfp::congestion::Rto;
    use rtmfp::flow::{FlowSet, ReceivedFragment};
    use rtmfp::time::Instant;
    use rtmfp::wire::chunk::user_data::{UserDataFlags, UserDataOption};
    let mut fs = FlowSet::with_appendix_a(FlowConfig::default());
    let mut rto = Rto::new();
    let frag = |seq: u64| ReceivedFragment {
        flow_id: 4,
        sequence_number: seq,
        forward_sequence_number: seq - 1,
        flags: UserDataFlags::default(),
        options: (seq == 1).then(|| vec![UserDataOption::PerFlowMetadata(vec![])]),
        data: vec![1, 2, 3],
    };
    let t0 = Instant::from_millis(1000);
    fs.begin_packet(t0, false);
    fs.on_user_data(t0, frag(1));
    fs.end_packet(t0, &rto);
    // A new flow: acknowledged at once (3.6.3.1 step 11).
    assert!(fs.wants_to_send(t0));
    assert!(!fs.write(t0, 1000, &rto).chunks.is_empty());
    let t1 = t0 + ms(50);
    fs.begin_packet(t1, false);
    fs.on_user_data(t1, frag(2));
    fs.end_packet(t1, &rto);
    assert!(!fs.wants_to_send(t1));
    assert_eq!(fs.poll_timeout(), Some(t1 + ms(200)));
    fs.handle_timeout(t1 + ms(199), &mut rto);
    assert!(!fs.wants_to_send(t1 + ms(199)));
    fs.handle_timeout(t1 + ms(200), &mut rto);
    assert!(fs.wants_to_send(t1 + ms(200)));
    let w = fs.write(t1 + ms(200), 1000, &rto);
    assert!(matches!(&w.chunks[..], [Chunk::BitmapAck(a)] if a.cumulative_ack == 2));
    assert!(!fs.wants_to_send(t1 + ms(200)));
    assert_eq!(fs.poll_timeout(), None);
    // Buffer Probe: an acknowledgement right away, even with nothing new.
    let t2 = t1 + ms(1000);
    fs.begin_packet(t2, false);
    fs.on_buffer_probe(4);
    fs.end_packet(t2, &rto);
    assert!(fs.wants_to_send(t2));
    let w = fs.write(t2, 1000, &rto);
    assert!(
        matches!(&w.chunks[..], [Chunk::BitmapAck(a)] if a.cumulative_ack == 2 && a.buffer_blocks_available == 64)
    );
    // A probe for an unknown flow is ignored.
    fs.on_buffer_probe(99);
    assert!(!fs.wants_to_send(t2));
}

// RFC 7016 3.6.2.7: abandoning a message abandons all its fragments; its sequence numbers are
// skipped with an FSN and reported to the receiver as a gap.
// spec: 7016-3.6.2.7-a, 7016-3.6.1.2-d
#[test]
fn rfc7016_3_6_2_7_abandon_whole_message() {
    let mut h = Harness::new(
        FlowConfig::default(),
        FlowConfig::default(),
        Net::perfect(ms(20)),
    );
    let f = h.a.flows.open(b"m", None, FlowOptions::default()).unwrap();
    h.a.flows
        .send(h.now, f, &payload(0, 100), MessageOptions::reliable())
        .unwrap();
    let big =
        h.a.flows
            .send(h.now, f, &payload(1, 10_000), MessageOptions::reliable())
            .unwrap();
    h.a.flows
        .send(h.now, f, &payload(2, 100), MessageOptions::reliable())
        .unwrap();
    let queue = h.a.flows.send_queue(f).unwrap();
    assert_eq!(queue.len(), 1 + 9 + 1);
    h.a.flows.abandon(f, big).unwrap();
    let queue = h.a.flows.send_queue(f).unwrap();
    let abandoned: Vec<u64> = queue
        .iter()
        .filter(|e| e.abandoned)
        .map(|e| e.sequence_number)
        .collect();
    assert_eq!(abandoned, (2..=10).collect::<Vec<_>>());
    h.a.flows.close(f).unwrap();
    h.run_until(Duration::from_secs(10), |h| {
        first_recv_flow(h).is_some_and(|rf| recv_complete(h, rf)) && send_complete(h, f)
    })
    .unwrap();
    let rf = first_recv_flow(&h).unwrap();
    assert_eq!(delivered(&h, rf), [0, 2]);
    assert!(h.b.events().any(|e| *e
        == FlowEvent::MessagesLost {
            flow: rf,
            first: 2,
            last: 10
        }));
    assert!(h.a.events().any(|e| *e
        == FlowEvent::MessageAbandoned {
            flow: f,
            message: big
        }));
    assert_drained(&h);
}

// RFC 7016 2.3.11.1.1 (metadata SHOULD NOT exceed 512 bytes) and 3.6.2.2 (a fragment must fit a
// packet with the largest header and STARTUP_OPTIONS): clear errors from `open`.
// spec: 7016-3.6.2.2-b, 7016-3.6.1.1-a, 7016-2.3.11.1.1-g
#[test]
fn open_errors() {
    let mut fs = rtmfp::flow::FlowSet::with_appendix_a(FlowConfig::default());
    assert_eq!(
        fs.open(&[0; 513], None, FlowOptions::default()),
        Err(ApiError::MetadataTooLarge { len: 513, max: 512 })
    );
    assert!(fs.open(&[0; 512], None, FlowOptions::default()).is_ok());
    let f = fs
        .open(
            b"x",
            None,
            FlowOptions {
                flow_id: Some(77),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(fs.send_flow_info(f).unwrap().flow_id, 77);
    assert_eq!(
        fs.open(
            b"x",
            None,
            FlowOptions {
                flow_id: Some(77),
                ..Default::default()
            }
        ),
        Err(ApiError::FlowIdInUse(77))
    );
    let mut small = rtmfp::flow::FlowSet::with_appendix_a(FlowConfig {
        max_packet_size: 40,
        ..FlowConfig::default()
    });
    assert!(matches!(
        small.open(&[0; 20], None, FlowOptions::default()),
        Err(ApiError::PacketTooSmall {
            max_packet_size: 40,
            ..
        })
    ));
    assert!(small.open(b"", None, FlowOptions::default()).is_ok());
}

// RFC 7016 2.3.11 (spec/ambiguities.md AMB-7016-15): a fragment that is not abandoned but not
// above its FSN (fsnOffset 0, or sequence number 0) is malformed and ignored.
#[test]
fn rfc7016_2_3_11_malformed_fragment_ignored() {
    use rtmfp::flow::ReceivedFragment;
    use rtmfp::wire::chunk::user_data::{UserDataFlags, UserDataOption};
    let now = rtmfp::time::Instant::ZERO;
    let rto = rtmfp::congestion::Rto::new();
    let mut fs = rtmfp::flow::FlowSet::with_appendix_a(FlowConfig::default());
    for (seq, fsn) in [(5, 5), (0, 0)] {
        fs.begin_packet(now, false);
        fs.on_user_data(
            now,
            ReceivedFragment {
                flow_id: 1,
                sequence_number: seq,
                forward_sequence_number: fsn,
                flags: UserDataFlags::default(),
                options: Some(vec![UserDataOption::PerFlowMetadata(vec![])]),
                data: b"x".to_vec(),
            },
        );
        fs.end_packet(now, &rto);
    }
    assert_eq!(fs.stats().malformed_fragments, 2);
    assert_eq!(fs.recv_flows().count(), 0);
    assert!(fs.poll_event().is_none());
}
