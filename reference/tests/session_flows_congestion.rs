//! Congestion control of flows over real sessions (RFC 7016 3.5.2, Appendix
//! A): the TC and TCR header flags across the sessions of one endpoint and
//! what they do to the other sessions' congestion windows (3.5.2.1, A.2), the
//! window and burst limits on the first flights (3.5.2, 3.5.2.3), and the
//! retransmission timeout measured and backed off in a session (3.5.2.2,
//! 3.6.2.6). Transparent sessions, so the test can read every header.

mod common;

use common::*;
use rtmfp::endpoint::Event;
use rtmfp::flow::{FlowOptions, MessageOptions, Priority, SendFlowId};
use rtmfp::time::Instant;
use rtmfp::wire::chunk;
use rtmfp::wire::packet::Header;

fn header(l: &Logged) -> Header {
    open_transparent(&l.data).unwrap().1.header
}

/// Alice (0), Bob (1) and a third node (2), all transparent.
fn three() -> Net {
    let mut net = Net::new();
    net.add("alice", "192.0.2.1:1000", config(), transparent("alice"), 1);
    net.add("bob", "192.0.2.2:2000", config(), transparent("bob"), 2);
    net.add(
        "xavier",
        "192.0.2.3:3000",
        config(),
        transparent("xavier"),
        3,
    );
    net
}

// RFC 7016 2.2.4, 3.6.2.3 step 18: a packet with time critical user data
// (a time critical flow, or a message sent as time critical on a bulk flow)
// has TC set, other packets do not; the receiving endpoint sets TCR on its
// packets of OTHER sessions for 800 ms, not on the session the TC came on.
// spec: 7016-2.2.4-f, 7016-3.6.2.3-aa
#[test]
fn time_critical_data_sets_tc_and_tcr_on_the_other_sessions() {
    let mut net = three();
    let (ab, _) = net.open(0, 1);
    let (xb, _) = net.open(2, 1);
    let now = net.now;
    let tc = FlowOptions {
        priority: Priority::TIME_CRITICAL,
        ..FlowOptions::default()
    };
    let media = net.ep(0).open_flow(now, ab, b"media", None, tc).unwrap();
    let bulk = net.open_flow(0, ab, b"bulk");
    let from = net.log.len();
    net.send(0, ab, bulk, b"bulk first");
    net.run_for(ms(300));
    let mid = net.log.len();
    net.send(0, ab, media, b"frame");
    net.run_for(ms(100));
    let alice_tc: Vec<(bool, bool)> = net.log[from..]
        .iter()
        .filter(|l| l.sender == 0)
        .map(|l| (l.has(chunk::USER_DATA), header(l).time_critical))
        .collect();
    // Data of the bulk message: no TC; data of the frame: TC; acknowledgements: no TC.
    let before: Vec<bool> = net.log[from..mid]
        .iter()
        .filter(|l| l.sender == 0 && l.has(chunk::USER_DATA))
        .map(|l| header(l).time_critical)
        .collect();
    assert_eq!(before, [false]);
    assert!(alice_tc.contains(&(true, true)), "{alice_tc:?}");
    assert!(alice_tc.iter().all(|(data, tc)| *data || !*tc));
    // Bob's packets within 800 ms: TCR towards Xavier, not towards Alice.
    let tcr = |net: &Net, start: usize, to: usize| -> Vec<bool> {
        net.log[start..]
            .iter()
            .filter(|l| l.sender == 1 && l.to == net.public(to))
            .map(|l| header(l).time_critical_reverse)
            .collect()
    };
    let start = net.log.len();
    net.ping(1);
    net.run_for(ms(100));
    assert_eq!(tcr(&net, start, 2), [true]);
    assert!(tcr(&net, start, 0).iter().all(|t| !t));
    // A time critical message on the bulk flow is TC too.
    net.run_for(secs(1));
    let start = net.log.len();
    let o = MessageOptions {
        time_critical: true,
        ..MessageOptions::default()
    };
    let now = net.now;
    net.ep(0).send(now, ab, bulk, b"urgent", o).unwrap();
    net.run_for(ms(100));
    assert!(
        net.log[start..]
            .iter()
            .any(|l| l.sender == 0 && l.has(chunk::USER_DATA) && header(l).time_critical)
    );
    // Over 800 ms later: no TCR.
    net.run_for(secs(1));
    let start = net.log.len();
    net.ping(1);
    net.run_for(ms(100));
    assert_eq!(tcr(&net, start, 2), [false]);
    let _ = xb;
}

/// Outcome of a bulk transfer run next to Alice's periodic flow to Bob.
#[derive(Debug)]
struct Bulk {
    cwnd: u64,
    srtt: core::time::Duration,
    elapsed: core::time::Duration,
}

/// A 200 KB bulk transfer while Alice sends Bob a small message every 100 ms
/// on a flow that is time critical or not. `via_tcr`: the bulk goes from
/// Xavier to Bob, whose packets to Xavier carry TCR while Alice's TC packets
/// arrive (3.5.2.1); otherwise from Alice to Xavier, on the same endpoint
/// that sends TC to Bob (Appendix A.2 FASTGROW_ALLOWED).
fn bulk_next_to(time_critical: bool, via_tcr: bool) -> Bulk {
    let mut net = three();
    let (ab, _) = net.open(0, 1);
    let (sender, s, receiver, r) = if via_tcr {
        let (xb, bx) = net.open(2, 1);
        (2, xb, 1, bx)
    } else {
        let (ax, xa) = net.open(0, 2);
        (0, ax, 2, xa)
    };
    let now = net.now;
    let opts = FlowOptions {
        priority: if time_critical {
            Priority::TIME_CRITICAL
        } else {
            Priority::BULK
        },
        ..FlowOptions::default()
    };
    let periodic: SendFlowId = net.ep(0).open_flow(now, ab, b"media", None, opts).unwrap();
    let bulk = net.open_flow(sender, s, b"bulk");
    let messages: Vec<Vec<u8>> = (0..200u64)
        .map(|k| {
            let mut m = k.to_be_bytes().to_vec();
            m.resize(1000, k as u8);
            m
        })
        .collect();
    let start = net.now;
    let mut next_periodic = start;
    let mut next = 0;
    let done = net.run_until_mut(secs(120), |net| {
        if net.now >= next_periodic {
            net.send(0, ab, periodic, &[0; 200]);
            next_periodic = net.now + ms(100);
        }
        while next < messages.len() {
            let now = net.now;
            match net.nodes[sender].ep.send(
                now,
                s,
                bulk,
                &messages[next],
                MessageOptions::reliable(),
            ) {
                Ok(_) => next += 1,
                Err(_) => break,
            }
        }
        net.messages(receiver, r).len() == messages.len()
    });
    assert!(done);
    let got: Vec<Vec<u8>> = net.messages(receiver, r).into_iter().map(|m| m.2).collect();
    assert_messages(&got, &messages);
    let info = net.info(sender, s);
    Bulk {
        cwnd: info.congestion_window.unwrap(),
        srtt: info.srtt.unwrap(),
        elapsed: net.now - start,
    }
}

// RFC 7016 3.5.2.1: while TCR arrives from the far end, a sender that is not
// itself sending time critical data grows its window by no more than 384
// bytes or 0.5% per round trip (no slow start). Appendix A.2: the same while
// any session of the sender's own endpoint sends TC. Compared with the same
// transfers next to a bulk (non time critical) periodic flow.
// spec: 7016-3.5.2.1-a, 7016-3.5.2.1-b, 7016-A.2-b, 7016-A.2-c, 7016-A.2-o, 7016-A.2-r, 7016-3.5.2-c
#[test]
fn time_critical_traffic_slows_window_growth_on_other_sessions() {
    for via_tcr in [true, false] {
        let control = bulk_next_to(false, via_tcr);
        let limited = bulk_next_to(true, via_tcr);
        // Round trips the limited transfer took, at least.
        let rounds = limited.elapsed.as_micros() / limited.srtt.as_micros().max(1);
        let bound = 4380 + 384 * (rounds as u64 + 2);
        assert!(
            limited.cwnd <= bound,
            "via_tcr {via_tcr}: {limited:?} above {bound}"
        );
        assert!(
            control.cwnd > 2 * limited.cwnd,
            "via_tcr {via_tcr}: control {control:?}, limited {limited:?}"
        );
    }
}

// RFC 7016 3.5.2 and Appendix A.2: the first flight stops once the session's
// outstanding bytes reach the initial window (4380 bytes); with every
// acknowledgement lost, the fragments time out after ERTO (3.6.2.6), ERTO
// backs off by 1.4142 (3.5.2.2) and the window restarts at one SMSS.
// spec: 7016-3.5.2-e, 7016-A.2-a, 7016-A.2-e, 7016-3.5.2.2-v, 7016-3.5.2.2-w, 7016-3.6.2.6-a, 7016-3.6.2.6-d, 7016-3.6.2.6-f, 7016-3.6.2.6-g, 7016-3.5.2.3-f
#[test]
fn first_flight_window_and_retransmission_timeouts() {
    let mut net = three();
    let (ab, _) = net.open(0, 1);
    // Let a few pings give the session a round-trip estimate.
    for _ in 0..3 {
        net.ping(0);
        net.run_for(ms(300));
    }
    let erto = net.info(0, ab).erto;
    assert!(erto >= ms(250) && erto < secs(1), "{erto:?}");
    net.set_hook(|d, _| {
        if d.sender == 1 {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let f = net.open_flow(0, ab, b"bulk");
    net.send(0, ab, f, &[7; 20_000]);
    let start = net.log.len();
    net.run_for(secs(3));
    let data: Vec<(Instant, Vec<usize>)> = net.log[start..]
        .iter()
        .filter(|l| l.sender == 0 && l.has(chunk::USER_DATA))
        .map(|l| {
            let sizes = chunks_of(&l.data)
                .iter()
                .filter(|c| {
                    matches!(
                        c,
                        rtmfp::wire::Chunk::UserData(_) | rtmfp::wire::Chunk::NextUserData(_)
                    )
                })
                .map(|c| c.encoded_len())
                .collect();
            (l.at, sizes)
        })
        .collect();
    let t0 = data[0].0;
    let flight = |at: Instant| -> Vec<usize> {
        data.iter()
            .filter(|(t, _)| *t == at)
            .flat_map(|(_, s)| s.clone())
            .collect()
    };
    // First flight: below 4380 bytes before the last fragment, not after it.
    let first = flight(t0);
    let total: usize = first.iter().sum();
    let last = *first.last().unwrap();
    assert!(total - last < 4380 && total >= 4380, "{first:?}");
    // Nothing more until ERTO after it.
    let times: Vec<Instant> = data.iter().map(|(t, _)| *t).collect();
    let second = *times.iter().find(|t| **t > t0).unwrap();
    assert_eq!(second, t0 + erto);
    // After the timeout: CWND_TIMEDOUT (1460) bytes, so below it before the last fragment.
    let again = flight(second);
    let sum: usize = again.iter().sum();
    assert!(
        sum - again.last().unwrap() < 1460 && sum >= 1460,
        "{again:?}"
    );
    // The next timeout comes 1.4142 ERTO later (backed off, 3.5.2.2).
    let third = *times.iter().find(|t| **t > second).unwrap();
    let backed_off = core::time::Duration::from_micros(erto.as_micros() as u64 * 14_142 / 10_000);
    assert_eq!(third, second + backed_off);
}

// RFC 7016 3.5.2.3: whatever the window, at most six packets with user data
// go out between acknowledgements (or timeouts).
// spec: 7016-3.5.2.3-a, 7016-3.5.2.3-c, 7016-3.5.2.3-d, 7016-3.5.2.3-e
#[test]
fn burst_avoidance_six_data_packets_between_acknowledgements() {
    let mut net = three();
    let (ab, ba) = net.open(0, 1);
    let f = net.open_flow(0, ab, b"bulk");
    // Grow the window well past six packets first.
    let messages: Vec<Vec<u8>> = (0..300u64)
        .map(|k| {
            let mut m = k.to_be_bytes().to_vec();
            m.resize(1000, 1);
            m
        })
        .collect();
    let got = net.transfer((0, ab, f), (1, ba), &messages, secs(60));
    assert_messages(&got, &messages);
    // Until the last acknowledgement is in (and before an idle ERTO would
    // time out and shrink the window again, Appendix A.2 Figure 24).
    assert!(net.run_until(secs(5), |n| {
        n.count_events(0, |e| matches!(e, Event::MessageDelivered { .. })) == 300
    }));
    let cwnd = net.info(0, ab).congestion_window.unwrap();
    assert!(cwnd > 10 * 1200, "{cwnd}");
    // Now every packet from Bob is lost: no acknowledgement resets the count.
    net.set_hook(|d, _| {
        if d.sender == 1 {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let erto = net.info(0, ab).erto;
    let start = net.log.len();
    let t0 = net.now;
    net.send(0, ab, f, &vec![9; 30_000]);
    net.run_for(erto - ms(1));
    let burst = net.log[start..]
        .iter()
        .filter(|l| l.sender == 0 && l.has(chunk::USER_DATA))
        .count();
    assert_eq!(burst, 6);
    assert!(net.log[start..].iter().all(|l| l.at == t0 || l.sender != 0));
    // With acknowledgements flowing again the rest goes through.
    net.clear_hook();
    assert!(net.run_until(secs(30), |n| {
        n.has_event(0, |e| matches!(e, Event::MessageDelivered { .. }))
            && n.messages(1, ba).len() == 301
    }));
}
