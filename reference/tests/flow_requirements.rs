//! Flow requirements of RFC 7016 (2.3.11-2.3.16, 3.6) that no other test checked on its own:
//! the User Data numbering and option rules seen on a sender's packets, when a receiver
//! acknowledges at once and what it piggybacks, how it reassembles and abandons fragment runs,
//! and which packets may carry flow chunks. Each test names the requirement ids it checks.
//!
//! The receiver and sender tests drive one `FlowSet` directly on a virtual clock; the trace tests
//! use the in-memory pipe of `flow_support`; the last test runs real (transparent) sessions.

mod common;
mod flow_support;

use std::collections::{BTreeMap, BTreeSet};

use core::time::Duration;

use flow_support::{Fate, Harness, Net, Sent, Side, index_of, payload};
use rtmfp::congestion::Rto;
use rtmfp::flow::{
    FlowConfig, FlowEvent, FlowOptions, FlowSet, MessageOptions, ReceivedFragment, RecvFlowId,
    RecvFlowState, RejectReason, SendFlowId,
};
use rtmfp::time::Instant;
use rtmfp::wire::chunk::user_data::{FragmentControl, UserDataFlags, UserDataOption};
use rtmfp::wire::chunk::{BitmapAck, Chunk, ChunkPayload, RangeAck};
use rtmfp::wire::option::RtmfpOption;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const BUDGET: usize = 1195;

/// A fragment as a receiver sees it after Next User Data resolution.
fn frag(flow_id: u64, seq: u64, fsn: u64, fra: FragmentControl, data: &[u8]) -> ReceivedFragment {
    ReceivedFragment {
        flow_id,
        sequence_number: seq,
        forward_sequence_number: fsn,
        flags: UserDataFlags {
            fragment_control: fra,
            ..Default::default()
        },
        options: (seq == 1).then(|| vec![UserDataOption::PerFlowMetadata(b"m".to_vec())]),
        data: data.to_vec(),
    }
}

/// A whole message fragment.
fn whole(flow_id: u64, seq: u64, fsn: u64, data: &[u8]) -> ReceivedFragment {
    frag(flow_id, seq, fsn, FragmentControl::Whole, data)
}

/// A flow receiver on a virtual clock.
struct Rx {
    fs: FlowSet,
    rto: Rto,
    now: Instant,
    events: Vec<FlowEvent>,
}

impl Rx {
    fn new() -> Self {
        Rx {
            fs: FlowSet::with_appendix_a(FlowConfig::default()),
            rto: Rto::new(),
            now: Instant::from_millis(1000),
            events: Vec::new(),
        }
    }

    /// Advances the clock by `n` ms (10 ms if 0 is given would be meaningless), running timers.
    fn tick(&mut self, n: u64) {
        self.now += ms(n);
        while let Some(d) = self.fs.poll_timeout() {
            if d > self.now {
                break;
            }
            self.fs.handle_timeout(self.now, &mut self.rto);
        }
    }

    /// One packet holding `frags`, 10 ms after the previous step.
    fn packet(&mut self, frags: Vec<ReceivedFragment>) {
        self.tick(10);
        self.fs.begin_packet(self.now, false);
        for f in frags {
            self.fs.on_user_data(self.now, f);
        }
        self.fs.end_packet(self.now, &self.rto);
        self.events
            .extend(std::iter::from_fn(|| self.fs.poll_event()));
    }

    /// True if an acknowledgement goes out now, without waiting for the delayed-ack alarm.
    fn acks_now(&self) -> bool {
        self.fs.wants_to_send(self.now)
    }

    /// The packet written now.
    fn write(&mut self) -> Vec<Chunk> {
        assert!(self.acks_now());
        self.fs.write(self.now, BUDGET, &self.rto).chunks
    }

    /// Opens flow `flow_id` with a small first message and writes its acknowledgement.
    fn open(&mut self, flow_id: u64) -> RecvFlowId {
        self.packet(vec![whole(flow_id, 1, 0, b"first")]);
        self.write();
        self.flow(flow_id)
    }

    fn flow(&self, flow_id: u64) -> RecvFlowId {
        self.fs
            .recv_flows()
            .find(|rf| self.fs.recv_flow_info(*rf).unwrap().flow_id == flow_id)
            .unwrap()
    }

    /// The messages delivered so far on `rf`, as (sequence number, data).
    fn messages(&self, rf: RecvFlowId) -> Vec<(u64, Vec<u8>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                FlowEvent::Message {
                    flow,
                    sequence_number,
                    data,
                } if *flow == rf => Some((*sequence_number, data.clone())),
                _ => None,
            })
            .collect()
    }
}

/// The flow ID, buffer blocks and cumulative ack of an acknowledgement chunk.
fn ack_of(c: &Chunk) -> Option<(u64, u64, u64)> {
    match c {
        Chunk::BitmapAck(a) => Some((a.flow_id, a.buffer_blocks_available, a.cumulative_ack)),
        Chunk::RangeAck(a) => Some((a.flow_id, a.buffer_blocks_available, a.cumulative_ack)),
        _ => None,
    }
}

fn acked_flows(chunks: &[Chunk]) -> Vec<u64> {
    chunks.iter().filter_map(ack_of).map(|a| a.0).collect()
}

// RFC 7016 3.6.3.2 step 5, 3.6.3.4.1, 3.6.3.7 steps 4-5: a rejection is reported at once, with
// no new data, as a Flow Exception Report ahead of the acknowledgement; later data on the
// rejected flow is acknowledged at once, where the same data on an open flow would wait for the
// delayed-ack alarm.
// spec: 7016-3.6.3.2-e, 7016-3.6.3.4.1-b, 7016-3.6.3.7-d, 7016-3.6.3.7-e, 7016-3.6.3.4.5-a
#[test]
fn rejected_flows_are_acknowledged_at_once() {
    let mut rx = Rx::new();
    let rf = rx.open(7);
    // Control: an in-order data packet on the open flow waits for DELACK_ALARM (200 ms).
    rx.packet(vec![whole(7, 2, 1, b"two")]);
    assert!(!rx.acks_now());
    assert_eq!(rx.fs.poll_timeout(), Some(rx.now + ms(200)));
    rx.tick(200);
    assert_eq!(acked_flows(&rx.write()), [7]);
    assert!(!rx.acks_now() && rx.fs.poll_timeout().is_none());
    // The application rejects: nothing new arrived, yet the report goes out now.
    rx.fs.reject(rf, 9).unwrap();
    assert!(rx.acks_now());
    let w = rx.write();
    assert!(
        matches!(&w[..], [Chunk::FlowExceptionReport(r), ack] if r.flow_id == 7 && r.exception == 9 && ack_of(ack).is_some_and(|a| a.0 == 7 && a.2 == 2)),
        "{w:?}"
    );
    // Data on the rejected flow: acknowledged at once (the same data as the control above).
    rx.packet(vec![whole(7, 3, 2, b"three")]);
    assert!(rx.acks_now());
    let w = rx.write();
    assert!(
        matches!(&w[..], [Chunk::FlowExceptionReport(_), ack] if ack_of(ack).is_some_and(|a| a.2 == 3)),
        "{w:?}"
    );
    assert_eq!(
        rx.messages(rf).len(),
        2,
        "nothing delivered after the rejection"
    );
}

// RFC 7016 3.6.3.4.1 and 3.6.3.2 step 6: data arriving when the last advertisement was under two
// blocks, or leaving under one block (1024 bytes) of room, is acknowledged at once; 3.6.3.4.5:
// the advertisement sent is remembered for the next decision.
// spec: 7016-3.6.3.2-f, 7016-3.6.3.4.1-f, 7016-3.6.3.4.1-g, 7016-3.6.3.4.5-g
#[test]
fn small_windows_are_acknowledged_at_once() {
    let mut rx = Rx::new();
    let rf = rx.open(5);
    assert_eq!(rx.fs.recv_flow_info(rf).unwrap().prev_rwnd, Some(64));
    rx.fs.suspend_delivery(rf).unwrap();
    let buffered = |rx: &Rx| rx.fs.recv_flow_info(rf).unwrap().buffered_size;
    // Lowering the capacity to 1000 bytes of room does not by itself call for an acknowledgement.
    rx.fs.set_receive_buffer(rf, buffered(&rx) + 1000).unwrap();
    assert!(!rx.acks_now());
    // Under one block of room after this chunk (the previous advertisement was 64 blocks, the
    // packet is the first since the last acknowledgement, no gap): acknowledged at once.
    rx.packet(vec![whole(5, 2, 1, b"x")]);
    assert!(rx.acks_now(), "under 1024 bytes of room");
    let w = rx.write();
    assert_eq!(ack_of(&w[0]).map(|a| a.1), Some(1));
    assert_eq!(rx.fs.recv_flow_info(rf).unwrap().prev_rwnd, Some(1));
    // Room for 2000 bytes, still under the two blocks that would reopen the window by itself.
    rx.fs.set_receive_buffer(rf, buffered(&rx) + 2000).unwrap();
    assert!(!rx.acks_now());
    // More than one block of room remains after this chunk, but the last advertisement was
    // one block: acknowledged at once, now advertising two.
    rx.packet(vec![whole(5, 3, 2, b"y")]);
    assert!(buffered(&rx) + 1024 < rx.fs.recv_flow_info(rf).unwrap().buffer_capacity);
    assert!(rx.acks_now(), "last advertisement under two blocks");
    let w = rx.write();
    assert_eq!(ack_of(&w[0]).map(|a| a.1), Some(2));
    assert_eq!(rx.fs.recv_flow_info(rf).unwrap().prev_rwnd, Some(2));
    // Control: with two blocks advertised and more than a block of room, the next chunk waits.
    rx.packet(vec![whole(5, 4, 3, b"z")]);
    assert!(!rx.acks_now());
}

// RFC 7016 3.6.3.2 steps 7 and 10, 3.6.3.4.1: an abandoned chunk and the first FIN are
// acknowledged at once; the first FIN received fixes the final sequence number.
// spec: 7016-3.6.3.2-g, 7016-3.6.3.2-j, 7016-3.6.3.4.1-i
#[test]
fn abandoned_and_final_chunks_are_acknowledged_at_once() {
    let mut rx = Rx::new();
    let rf = rx.open(3);
    // An in-order abandoned chunk (an FSN Update: fsnOffset 0).
    let mut abn = whole(3, 2, 2, b"");
    abn.flags.abandon = true;
    rx.packet(vec![abn]);
    assert!(rx.acks_now());
    assert_eq!(ack_of(&rx.write()[0]).map(|a| a.2), Some(2));
    // Control: an ordinary in-order chunk waits.
    rx.packet(vec![whole(3, 3, 2, b"three")]);
    assert!(!rx.acks_now());
    rx.tick(200);
    rx.write();
    // The FIN: at once, and the flow completes at it.
    let mut fin = whole(3, 4, 3, b"four");
    fin.flags.fin = true;
    rx.packet(vec![fin]);
    assert!(rx.acks_now());
    let info = rx.fs.recv_flow_info(rf).unwrap();
    assert_eq!(info.final_sn, Some(4));
    assert_eq!(info.state, RecvFlowState::RF_COMPLETE_LINGER);

    // A second, higher FIN does not move the final sequence number.
    let rf = rx.open(8);
    let mut first = whole(8, 3, 1, b"three");
    first.flags.fin = true;
    rx.packet(vec![first]);
    assert!(rx.acks_now());
    rx.write();
    let mut second = whole(8, 5, 1, b"five");
    second.flags.fin = true;
    rx.packet(vec![second]);
    rx.write();
    assert_eq!(rx.fs.recv_flow_info(rf).unwrap().final_sn, Some(3));
    rx.packet(vec![whole(8, 2, 1, b"two")]);
    assert_eq!(
        rx.fs.recv_flow_info(rf).unwrap().state,
        RecvFlowState::RF_COMPLETE_LINGER,
        "complete once 0..=3 are in"
    );
}

// RFC 7016 3.6.3.4.1, 3.6.3.4.5, 3.6.3.4.6: acknowledgements of every ready flow go out in one
// packet; an acknowledgement waiting for the delayed-ack alarm rides along when another flow's
// acknowledgement is due; afterwards nothing is pending (ACK_NOW clear, count 0, alarm off).
// spec: 7016-3.6.3.4.1-k, 7016-3.6.3.4.5-h, 7016-3.6.3.4.6-a, 7016-3.6.3.4.6-d, 7016-3.6.3.4.6-g, 7016-3.6.3.2-r
// spec: 7016-3.6.3.2-b, 7016-3.6.3.4.5-b, 7016-3.6.3.4.5-d, 7016-3.6.3.4.5-f, 7016-3.6.3.4.5-i, 7016-3.6.3.4.6-b, 7016-3.6.3.4.6-e, 7016-3.6.3.4.6-f
#[test]
fn acknowledgements_of_several_flows_share_a_packet() {
    let mut rx = Rx::new();
    // Three new flows in one packet: three acknowledgements in one packet.
    rx.packet(vec![
        whole(1, 1, 0, b"a"),
        whole(2, 1, 0, b"b"),
        whole(3, 1, 0, b"c"),
    ]);
    let mut flows = acked_flows(&rx.write());
    flows.sort_unstable();
    assert_eq!(flows, [1, 2, 3]);
    assert!(!rx.acks_now());
    // Flow 1 gets an in-order chunk: its acknowledgement waits...
    rx.packet(vec![whole(1, 2, 1, b"a2")]);
    assert!(!rx.acks_now());
    assert!(rx.fs.ack_state().delack_alarm.is_some());
    // ...until flow 2's gap calls for an immediate acknowledgement: both go out together, in a
    // packet of their own (nothing else was being sent), each acknowledging its own flow's data.
    rx.packet(vec![whole(2, 3, 1, b"b3")]);
    let w = rx.write();
    let mut acks: Vec<(u64, u64)> = w.iter().filter_map(ack_of).map(|a| (a.0, a.2)).collect();
    acks.sort_unstable();
    assert_eq!(acks, [(1, 2), (2, 1)], "{w:?}");
    assert_eq!(w.len(), 2, "{w:?}");
    // Each flow is marked as acknowledged and remembers the window it advertised.
    for rf in rx.fs.recv_flows() {
        let info = rx.fs.recv_flow_info(rf).unwrap();
        assert!(!info.should_ack);
        if let Some(a) = w.iter().filter_map(ack_of).find(|a| a.0 == info.flow_id) {
            assert_eq!(info.prev_rwnd, Some(a.1));
        }
    }
    let state = rx.fs.ack_state();
    assert!(!state.ack_now && state.rx_data_packets == 0 && state.delack_alarm.is_none());
    assert!(!rx.acks_now() && rx.fs.poll_timeout().is_none());
}

// RFC 7016 3.6.3.4.1, 3.6.3.4.6: a pending acknowledgement rides in a packet of user data.
// spec: 7016-3.6.3.4.1-l, 7016-3.6.3.4.6-a
#[test]
fn acknowledgements_ride_on_user_data() {
    let mut rx = Rx::new();
    rx.open(4);
    let f = rx.fs.open(b"back", None, FlowOptions::default()).unwrap();
    rx.packet(vec![whole(4, 2, 1, b"two")]);
    assert!(rx.fs.ack_state().delack_alarm.is_some());
    rx.fs
        .send(rx.now, f, b"reply", MessageOptions::reliable())
        .unwrap();
    let w = rx.write();
    assert!(w.iter().any(|c| matches!(c, Chunk::UserData(_))), "{w:?}");
    assert_eq!(acked_flows(&w), [4]);
    assert!(rx.fs.ack_state().delack_alarm.is_none());
}

// RFC 7016 3.6.3.3: a begin fragment whose run reaches the CSN without its end holds delivery
// back; a run whose end the FSN passed is abandoned (reported as lost, never delivered) and its
// buffer space is freed, so the advertised window grows back.
// spec: 7016-3.6.3.3-d, 7016-3.6.3.3-e, 7016-3.6.3.3-l
#[test]
fn incomplete_fragment_runs_wait_or_are_abandoned() {
    use FragmentControl::{Begin, End, Middle};
    let mut rx = Rx::new();
    let rf = rx.open(6);
    // In progress: 2 (begin) and 3 (middle) reach the CSN with no end; 5 arrives whole.
    rx.packet(vec![
        frag(6, 2, 1, Begin, b"b2"),
        frag(6, 3, 1, Middle, b"m3"),
    ]);
    rx.packet(vec![whole(6, 5, 1, b"w5")]);
    assert_eq!(rx.fs.recv_flow_info(rf).unwrap().csn, Some(3));
    assert_eq!(rx.messages(rf).len(), 1, "only message 1");
    assert!(
        !rx.events
            .iter()
            .any(|e| matches!(e, FlowEvent::MessagesLost { .. }))
    );
    // The end arrives: the message, then the one queued after it.
    rx.packet(vec![frag(6, 4, 1, End, b"e4")]);
    assert_eq!(
        rx.messages(rf)[1..],
        [(2, b"b2m3e4".to_vec()), (5, b"w5".to_vec())]
    );
    while rx.acks_now() {
        rx.write();
    }
    // Abandoned: 6 (begin, 1000 bytes) arrives; the sender gives up on 7 and moves the FSN to 7.
    rx.packet(vec![frag(6, 6, 5, Begin, &[6; 1000])]);
    let held = rx.fs.recv_flow_info(rf).unwrap().buffered_size;
    assert!(held >= 1000);
    rx.tick(200);
    let before = rx.write();
    assert_eq!(ack_of(&before[0]).map(|a| a.1), Some(63));
    rx.packet(vec![whole(6, 8, 7, b"w8")]);
    assert_eq!(rx.messages(rf)[3..], [(8, b"w8".to_vec())]);
    assert!(rx.events.contains(&FlowEvent::MessagesLost {
        flow: rf,
        first: 6,
        last: 7
    }));
    assert_eq!(rx.fs.recv_flow_info(rf).unwrap().buffered_size, 0);
    rx.tick(200);
    let after = rx.write();
    assert_eq!(ack_of(&after[0]).map(|a| (a.1, a.2)), Some((64, 8)));
}

// RFC 7016 3.6.3.2 step 4: a later chunk of an open flow carrying an unknown option with a type
// below 8192 gets the flow rejected with code 0; one of 8192 or more is ignored.
// spec: 7016-3.6.3.2-d
#[test]
fn unknown_mandatory_option_on_a_later_chunk_rejects_the_flow() {
    let mut rx = Rx::new();
    let rf = rx.open(2);
    let mut ignorable = whole(2, 2, 1, b"two");
    ignorable.options = Some(vec![UserDataOption::Other(RtmfpOption::new(
        0x2000,
        vec![1],
    ))]);
    rx.packet(vec![ignorable]);
    assert_eq!(
        rx.fs.recv_flow_info(rf).unwrap().state,
        RecvFlowState::RF_OPEN
    );
    let mut unknown = whole(2, 3, 2, b"three");
    unknown.options = Some(vec![UserDataOption::Other(RtmfpOption::new(
        0x0100,
        vec![],
    ))]);
    rx.packet(vec![unknown]);
    assert_eq!(
        rx.fs.recv_flow_info(rf).unwrap().state,
        RecvFlowState::RF_REJECTED
    );
    assert!(rx.events.contains(&FlowEvent::RecvFlowRejected {
        flow: rf,
        reason: RejectReason::UnknownOption(0x0100)
    }));
    let w = rx.write();
    assert!(
        matches!(&w[0], Chunk::FlowExceptionReport(r) if r.flow_id == 2 && r.exception == 0),
        "{w:?}"
    );
    assert_eq!(rx.messages(rf).len(), 2);
}

// RFC 7016 3.6.1.1: no flow ID means anything by itself; flows under IDs 0, 1, 2^32 and 2^63
// with the same metadata are all opened and delivered alike.
// spec: 7016-3.6.1.1-b
#[test]
fn flow_ids_carry_no_meaning() {
    let mut rx = Rx::new();
    let ids = [0, 1, 1 << 32, 1 << 63];
    rx.packet(ids.iter().map(|&id| whole(id, 1, 0, b"hello")).collect());
    let opened: Vec<(u64, Vec<u8>)> = rx
        .events
        .iter()
        .filter_map(|e| match e {
            FlowEvent::RecvFlowOpened {
                flow_id, metadata, ..
            } => Some((*flow_id, metadata.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        opened,
        ids.iter()
            .map(|&id| (id, b"m".to_vec()))
            .collect::<Vec<_>>()
    );
    for id in ids {
        assert_eq!(rx.messages(rx.flow(id)), [(1, b"hello".to_vec())]);
    }
    let mut flows = acked_flows(&rx.write());
    flows.sort_unstable();
    assert_eq!(flows, ids);
}

// RFC 7016 2.3.11: the data of a chunk with the abandon flag set is ignored, whatever it holds.
// spec: 7016-2.3.11-f
#[test]
fn abandoned_chunks_deliver_nothing() {
    let mut rx = Rx::new();
    let rf = rx.open(9);
    let mut abn = whole(9, 2, 1, b"must not be delivered");
    abn.flags.abandon = true;
    rx.packet(vec![abn]);
    rx.packet(vec![whole(9, 3, 2, b"three")]);
    assert_eq!(
        rx.messages(rf),
        [(1, b"first".to_vec()), (3, b"three".to_vec())]
    );
    assert_eq!(rx.fs.recv_flow_info(rf).unwrap().buffered_size, 0);
}

/// A receiving flow `flow_id` that has seen 1..=10 and then every third number up to `top`.
fn with_holes(rx: &mut Rx, flow_id: u64, top: u64) {
    rx.packet(vec![whole(flow_id, 1, 0, b"1")]);
    for seq in (2..=10).chain((13..=top).step_by(3)) {
        rx.packet(vec![whole(flow_id, seq, 0, b"x")]);
    }
}

// RFC 7016 3.6.3.4.5, 3.6.3.4.6: an acknowledgement too long for the packet is truncated to fit
// (keeping the cumulative ack); another flow's acknowledgement that no longer fits is left for
// the next packet.
// spec: 7016-3.6.3.4.5-e, 7016-3.6.3.4.6-c
#[test]
fn acknowledgements_fit_the_packet() {
    let mut rx = Rx::new();
    // About 500 holes each: longer than the packet in either format.
    with_holes(&mut rx, 1, 1500);
    with_holes(&mut rx, 2, 1500);
    let budget = 120;
    let w = rx.fs.write(rx.now, budget, &rx.rto).chunks;
    let len: usize = w.iter().map(|c| c.encoded_len()).sum();
    assert!(len <= budget, "{len} bytes");
    let first = acked_flows(&w);
    assert_eq!(first.len(), 1, "{w:?}");
    assert_eq!(ack_of(&w[0]).map(|a| a.2), Some(10));
    assert!(rx.fs.stats().acks_truncated >= 1);
    // The other flow's acknowledgement goes in the next packet.
    assert!(rx.acks_now());
    let w = rx.fs.write(rx.now, budget, &rx.rto).chunks;
    let second = acked_flows(&w);
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);
    assert!(w.iter().map(|c| c.encoded_len()).sum::<usize>() <= budget);
}

/// A flow sender fed acknowledgements by hand.
struct Tx {
    fs: FlowSet,
    rto: Rto,
    now: Instant,
    flow: SendFlowId,
}

impl Tx {
    fn new() -> Self {
        let mut fs = FlowSet::with_appendix_a(FlowConfig::default());
        let flow = fs
            .open(
                b"tx",
                None,
                FlowOptions {
                    flow_id: Some(1),
                    ..Default::default()
                },
            )
            .unwrap();
        Tx {
            fs,
            rto: Rto::new(),
            now: Instant::from_millis(1000),
            flow,
        }
    }

    fn queue(&mut self, n: usize) {
        for _ in 0..n {
            self.fs
                .send(self.now, self.flow, b"data", MessageOptions::reliable())
                .unwrap();
        }
    }

    /// One packet acknowledging 0..=cumulative and `ranges`.
    fn ack(&mut self, cumulative: u64, ranges: &[(u64, u64)]) {
        self.now += ms(10);
        let rest: Vec<_> = ranges.iter().map(|&(a, b)| a..=b).collect();
        let chunk = Chunk::RangeAck(RangeAck::from_ranges(1, 64, cumulative, &rest));
        self.fs.begin_packet(self.now, false);
        self.fs.handle_chunk(self.now, chunk, None).unwrap();
        self.fs.end_packet(self.now, &self.rto);
    }

    /// The sequence numbers of the data chunks of the packet written now (empty if none).
    fn write(&mut self) -> Vec<u64> {
        self.now += ms(10);
        if !self.fs.wants_to_send(self.now) {
            return Vec::new();
        }
        let mut seq = 0;
        self.fs
            .write(self.now, BUDGET, &self.rto)
            .chunks
            .iter()
            .filter_map(|c| match c {
                Chunk::UserData(u) => {
                    seq = u.sequence_number;
                    Some(seq)
                }
                Chunk::NextUserData(_) => {
                    seq += 1;
                    Some(seq)
                }
                _ => None,
            })
            .collect()
    }

    fn nak_count(&self, seq: u64) -> (u32, bool) {
        let q = self.fs.send_queue(self.flow).unwrap();
        let e = q.iter().find(|e| e.sequence_number == seq).unwrap();
        (e.nak_count, e.in_flight)
    }
}

// RFC 7016 3.6.2: before any acknowledgement the receive window is taken as 65536 bytes and
// numbering starts at 1; 3.6.2.3: a lost entry at the head of the queue goes out before new
// ones, and a retransmission resets its NAK count, so it takes three fresh NAKs to resend again.
// spec: 7016-3.6.2-a, 7016-3.6.2.3-j, 7016-3.6.2.3-w
#[test]
fn retransmissions_go_first_and_need_three_fresh_naks() {
    let mut tx = Tx::new();
    assert_eq!(
        tx.fs.send_flow_info(tx.flow).unwrap().rx_buffer_size,
        65_536
    );
    tx.queue(5);
    assert_eq!(tx.write(), [1, 2, 3, 4, 5]);
    // 1 is missing from three acknowledgements: lost.
    tx.ack(0, &[(2, 2)]);
    tx.ack(0, &[(2, 3)]);
    tx.ack(0, &[(2, 4)]);
    assert_eq!(tx.nak_count(1), (3, false));
    tx.queue(1);
    assert_eq!(
        tx.write(),
        [1, 6],
        "the retransmission first, then new data"
    );
    assert_eq!(tx.nak_count(1), (0, true));
    tx.queue(3);
    assert_eq!(tx.write(), [7, 8, 9]);
    // Acknowledgements of data sent after the retransmission NAK it again: three are needed.
    tx.ack(0, &[(2, 6)]);
    tx.ack(0, &[(2, 7)]);
    assert_eq!(tx.nak_count(1), (2, true));
    assert_eq!(tx.write(), Vec::<u64>::new());
    tx.ack(0, &[(2, 8)]);
    assert_eq!(tx.nak_count(1), (3, false));
    assert_eq!(tx.write(), [1]);
}

// RFC 7016 3.6.2.3: abandoned entries that neither head the queue nor carry the final sequence
// number are not sent; the next eligible entry goes out instead.
// spec: 7016-3.6.2.3-b
#[test]
fn abandoned_entries_in_the_middle_are_not_sent() {
    let mut tx = Tx::new();
    let ids: Vec<_> = (0..5)
        .map(|_| {
            tx.fs
                .send(tx.now, tx.flow, b"data", MessageOptions::reliable())
                .unwrap()
        })
        .collect();
    tx.fs.abandon(tx.flow, ids[1]).unwrap();
    tx.fs.abandon(tx.flow, ids[2]).unwrap();
    assert_eq!(tx.write(), [1, 4, 5]);
}

/// Appendix A congestion control that records the bytes each acknowledgement notification carries.
#[derive(Debug)]
struct Recording {
    inner: rtmfp::congestion::AppendixA,
    acked: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
}

impl rtmfp::congestion::CongestionController for Recording {
    fn on_packet_begin(&mut self, now: Instant, outstanding: u64) {
        self.inner.on_packet_begin(now, outstanding)
    }
    fn on_ack(&mut self, bytes: u64) {
        self.acked.lock().unwrap().push(bytes);
        self.inner.on_ack(bytes)
    }
    fn on_nak(&mut self) {
        self.inner.on_nak()
    }
    fn on_loss(&mut self, bytes: u64) {
        self.inner.on_loss(bytes)
    }
    fn on_packet_end(&mut self, now: Instant) {
        self.inner.on_packet_end(now)
    }
    fn on_timeout(&mut self, now: Instant, was_loss: bool) {
        self.inner.on_timeout(now, was_loss)
    }
    fn on_time_critical_sent(&mut self, now: Instant, this_session: bool) {
        self.inner.on_time_critical_sent(now, this_session)
    }
    fn on_time_critical_reverse(&mut self, now: Instant) {
        self.inner.on_time_critical_reverse(now)
    }
    fn may_send(&self, now: Instant, outstanding: u64, bytes: u64) -> bool {
        self.inner.may_send(now, outstanding, bytes)
    }
    fn window(&self) -> u64 {
        self.inner.window()
    }
}

// RFC 7016 3.6.2.3: each entry counts its encoded chunk size (header included) as outstanding;
// 3.6.2.4: an acknowledgement tells the congestion control how many outstanding bytes it cleared.
// spec: 7016-3.6.2.3-y, 7016-3.6.2.4-a, 7016-3.6.2.4-e
#[test]
fn acknowledged_bytes_reach_the_congestion_control() {
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let cc = Recording {
        inner: rtmfp::congestion::AppendixA::new(),
        acked: acked.clone(),
    };
    let mut fs = FlowSet::new(FlowConfig::default(), Box::new(cc));
    let rto = Rto::new();
    let f = fs.open(b"cc", None, FlowOptions::default()).unwrap();
    let wire = fs.send_flow_info(f).unwrap().flow_id;
    let mut now = Instant::from_millis(1000);
    for len in [10, 100, 1000] {
        fs.send(now, f, &vec![7; len], MessageOptions::reliable())
            .unwrap();
    }
    let w = fs.write(now, BUDGET, &rto);
    let sizes: Vec<u64> = w
        .chunks
        .iter()
        .filter(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)))
        .map(|c| c.encoded_len() as u64)
        .collect();
    assert_eq!(sizes.len(), 3);
    assert_eq!(fs.outstanding_bytes(), sizes.iter().sum::<u64>());
    let mut ack = |fs: &mut FlowSet, cumulative: u64| {
        now += ms(10);
        let chunk = Chunk::RangeAck(RangeAck::from_ranges(wire, 64, cumulative, &[]));
        fs.begin_packet(now, false);
        fs.handle_chunk(now, chunk, None).unwrap();
        fs.end_packet(now, &rto);
    };
    ack(&mut fs, 2);
    assert_eq!(
        acked.lock().unwrap().iter().sum::<u64>(),
        sizes[0] + sizes[1]
    );
    assert_eq!(fs.outstanding_bytes(), sizes[2]);
    ack(&mut fs, 3);
    assert_eq!(
        acked.lock().unwrap().iter().sum::<u64>(),
        sizes.iter().sum::<u64>()
    );
    // A repeated acknowledgement clears nothing and reports nothing more.
    ack(&mut fs, 3);
    assert_eq!(
        acked.lock().unwrap().iter().sum::<u64>(),
        sizes.iter().sum::<u64>()
    );
}

/// The data chunks of a trace with Next User Data resolved: (packet index, flow ID, sequence
/// number, FSN, fragment control, ABN, FIN, options, data).
#[derive(Debug, Clone)]
struct DataChunk {
    packet: usize,
    flow_id: u64,
    seq: u64,
    fsn: u64,
    fsn_offset: u64,
    fra: FragmentControl,
    abandon: bool,
    fin: bool,
    options: Option<Vec<UserDataOption>>,
    data: Vec<u8>,
}

fn data_chunks(trace: &[Sent], from: Side) -> Vec<DataChunk> {
    let mut out: Vec<DataChunk> = Vec::new();
    for (i, sent) in trace.iter().enumerate().filter(|(_, s)| s.from == from) {
        let mut prev: Option<DataChunk> = None;
        for c in &sent.chunks {
            let d = match c {
                Chunk::UserData(u) => DataChunk {
                    packet: i,
                    flow_id: u.flow_id,
                    seq: u.sequence_number,
                    fsn: u.forward_sequence_number(),
                    fsn_offset: u.fsn_offset,
                    fra: u.flags.fragment_control,
                    abandon: u.flags.abandon,
                    fin: u.flags.fin,
                    options: u.options.clone(),
                    data: u.data.clone(),
                },
                Chunk::NextUserData(n) => {
                    let p = prev.clone().expect("Next User Data follows a data chunk");
                    DataChunk {
                        packet: i,
                        flow_id: p.flow_id,
                        seq: p.seq + 1,
                        fsn: p.fsn,
                        fsn_offset: p.fsn_offset + 1,
                        fra: n.flags.fragment_control,
                        abandon: n.flags.abandon,
                        fin: n.flags.fin,
                        options: n.options.clone(),
                        data: n.data.clone(),
                    }
                }
                _ => {
                    prev = None;
                    continue;
                }
            };
            prev = Some(d.clone());
            out.push(d);
        }
    }
    out
}

/// Runs `h` until `f` completes at A and A's peer saw the flow complete.
fn run_to_completion(h: &mut Harness, f: SendFlowId, max: Duration) {
    h.run_until(max, |h| {
        h.a.events()
            .any(|e| *e == FlowEvent::SendFlowComplete { flow: f })
            && h.b
                .events()
                .any(|e| matches!(e, FlowEvent::RecvFlowComplete { .. }))
    })
    .unwrap();
}

// RFC 7016 2.3.11 and 3.6.2.3 on a sender's packets over a lossy, duplicating, reordering pipe:
// the first sequence number is 1, numbers are contiguous and first sent in increasing order,
// each message's fragments are whole or begin, middle..., end on contiguous numbers, every
// retransmission repeats its number's fragment control and data, FIN is on the final number only
// (on every copy of it), nothing at or below an announced FSN is sent again except the
// abandoned FSN Update at exactly the FSN, and OPT marks exactly the chunks with options.
// spec: 7016-2.3.11-d, 7016-2.3.11-e, 7016-2.3.11-g, 7016-2.3.11-h, 7016-2.3.11-l, 7016-2.3.11-m, 7016-3.6.2.3-m, 7016-3.6.2.3-o, 7016-3.6.2.3-q, 7016-3.6.2.3-r
#[test]
fn sender_numbering_and_fragment_rules_under_loss() {
    for seed in [1, 2, 3] {
        let net = Net::lossy(seed, 150, 50, ms(10), ms(30));
        let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
        h.keep_trace = true;
        let f =
            h.a.flows
                .open(b"rules", None, FlowOptions::default())
                .unwrap();
        let sizes: Vec<usize> = (0..40).map(|i| [10, 1500, 4000, 300][i % 4]).collect();
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
        run_to_completion(&mut h, f, Duration::from_secs(300));
        assert!(h.a.flows.stats().retransmissions > 0, "seed {seed}: loss");

        // OPT is set exactly on the chunks that carry options (which the pipe's decoder then
        // read up to their Marker).
        for c in h
            .trace
            .iter()
            .filter(|s| s.from == Side::A)
            .flat_map(|s| &s.chunks)
        {
            let options = match c {
                Chunk::UserData(u) => u.options.is_some(),
                Chunk::NextUserData(n) => n.options.is_some(),
                _ => continue,
            };
            let mut bytes = Vec::new();
            c.encode(&mut bytes).unwrap();
            // Type, 16-bit length, then the flags byte.
            assert_eq!(bytes[3] & 0x80 != 0, options, "{c:?}");
        }
        let chunks = data_chunks(&h.trace, Side::A);
        assert_eq!(chunks[0].seq, 1, "first sequence number");
        let mut by_seq: BTreeMap<u64, &DataChunk> = BTreeMap::new();
        let mut first_order = Vec::new();
        let mut fsn_high = 0;
        for c in &chunks {
            assert!(c.fsn_offset <= c.seq, "{c:?}");
            // Nothing at or below an announced FSN, but the FSN Update itself.
            assert!(
                c.seq > fsn_high || (c.abandon && c.seq == fsn_high && c.fsn_offset == 0),
                "seed {seed}: {c:?} after FSN {fsn_high}"
            );
            fsn_high = fsn_high.max(c.fsn);
            match by_seq.get(&c.seq) {
                None => {
                    first_order.push(c.seq);
                    by_seq.insert(c.seq, c);
                }
                Some(orig) if !orig.abandon && !c.abandon => {
                    assert_eq!((orig.fra, &orig.data), (c.fra, &c.data), "seed {seed}");
                    assert_eq!(orig.fin, c.fin, "seed {seed}: FIN on every copy");
                }
                Some(_) => {}
            }
        }
        let last = *by_seq.keys().last().unwrap();
        assert_eq!(
            by_seq.keys().copied().collect::<Vec<_>>(),
            (1..=last).collect::<Vec<_>>()
        );
        assert!(first_order.windows(2).all(|w| w[0] < w[1]), "seed {seed}");
        for c in &chunks {
            assert_eq!(
                c.fin,
                c.seq == last,
                "seed {seed}: FIN only on the final number"
            );
        }
        // Fragment control in number order: whole | begin middle* end, one message each.
        let mut messages: Vec<Vec<u8>> = Vec::new();
        let mut open: Option<Vec<u8>> = None;
        for c in by_seq.values().filter(|c| !c.abandon) {
            match (c.fra, open.take()) {
                (FragmentControl::Whole, None) => messages.push(c.data.clone()),
                (FragmentControl::Begin, None) => open = Some(c.data.clone()),
                (FragmentControl::Middle, Some(mut m)) => {
                    m.extend_from_slice(&c.data);
                    open = Some(m);
                }
                (FragmentControl::End, Some(mut m)) => {
                    m.extend_from_slice(&c.data);
                    messages.push(m);
                }
                (fra, o) => panic!(
                    "seed {seed}: {fra:?} at {} (run open: {})",
                    c.seq,
                    o.is_some()
                ),
            }
        }
        assert!(open.is_none());
        let indexes: Vec<u64> = messages.iter().map(|m| index_of(m)).collect();
        assert_eq!(indexes, (0..40).collect::<Vec<_>>(), "seed {seed}");
        for (m, &len) in messages.iter().zip(&sizes) {
            assert_eq!(m.len(), len.max(8));
        }
    }
}

// RFC 7016 2.3.11.1.2: a return flow names its association in its very first User Data chunk and
// in the first chunk of the flow in every packet until acknowledged, once per packet and once
// per chunk, and never after; a flow opened without one never gains one. 3.6.1.1: closing the
// flow a return flow answers does not close the return flow.
// spec: 7016-2.3.11.1.2-b, 7016-2.3.11.1.2-c, 7016-2.3.11.1.2-d, 7016-2.3.11.1.2-e, 7016-2.3.11.1.2-f, 7016-3.6.1.1-e
#[test]
fn return_association_option_rules() {
    let mut net = Net::perfect(ms(20));
    // B's first three packets with user data are lost, so B repeats its startup options.
    let mut dropped = 0;
    net.script = Some(Box::new(move |side, _, chunks: &[Chunk]| {
        let data = chunks.iter().any(|c| matches!(c, Chunk::UserData(_)));
        (side == Side::B && data && dropped < 3).then(|| {
            dropped += 1;
            Fate::Arrive(vec![])
        })
    }));
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    h.keep_trace = true;
    let f =
        h.a.flows
            .open(b"request", None, FlowOptions::default())
            .unwrap();
    h.a.flows
        .send(h.now, f, b"hello", MessageOptions::reliable())
        .unwrap();
    h.run_until(Duration::from_secs(5), |h| {
        h.b.events()
            .any(|e| matches!(e, FlowEvent::RecvFlowOpened { .. }))
    })
    .unwrap();
    let rf = h.b.flows.recv_flows().next().unwrap();
    let back =
        h.b.flows
            .open(b"reply", Some(rf), FlowOptions::default())
            .unwrap();
    let plain =
        h.b.flows
            .open(b"plain", None, FlowOptions::default())
            .unwrap();
    for i in 0..6 {
        h.b.flows
            .send(h.now, back, &payload(i, 700), MessageOptions::reliable())
            .unwrap();
        h.b.flows
            .send(h.now, plain, &payload(i, 700), MessageOptions::reliable())
            .unwrap();
    }
    h.run_until(Duration::from_secs(30), |h| {
        h.a.events()
            .filter(|e| matches!(e, FlowEvent::Message { .. }))
            .count()
            == 12
    })
    .unwrap();
    // 3.6.1.1: A closes the flow B's return flow answers; the return flow keeps working.
    h.a.flows.close(f).unwrap();
    for i in 6..10 {
        h.b.flows
            .send(h.now, back, &payload(i, 700), MessageOptions::reliable())
            .unwrap();
    }
    h.run_until(Duration::from_secs(30), |h| {
        h.a.events()
            .filter(|e| matches!(e, FlowEvent::Message { .. }))
            .count()
            == 16
    })
    .unwrap();
    let back_rx =
        h.a.events()
            .find_map(|e| match e {
                FlowEvent::RecvFlowOpened {
                    flow, association, ..
                } if *association == Some(f) => Some(*flow),
                _ => None,
            })
            .unwrap();
    assert!(
        h.a.flows.recv_flow_info(back_rx).unwrap().state == RecvFlowState::RF_OPEN,
        "the return flow outlives the flow it answers"
    );
    assert!(
        !h.a.events()
            .any(|e| matches!(e, FlowEvent::RecvFlowRejected { .. }))
    );

    let f_wire = h.a.flows.send_flow_info(f).unwrap().flow_id;
    let back_wire = h.b.flows.send_flow_info(back).unwrap().flow_id;
    let plain_wire = h.b.flows.send_flow_info(plain).unwrap().flow_id;
    // When the first acknowledgement of the return flow reached B.
    let acked_at = h
        .trace
        .iter()
        .find(|s| {
            s.from == Side::A
                && s.chunks
                    .iter()
                    .any(|c| ack_of(c).is_some_and(|a| a.0 == back_wire))
        })
        .map(|s| s.at + ms(20))
        .unwrap();
    let associations = |c: &DataChunk| {
        c.options
            .iter()
            .flatten()
            .filter(|o| matches!(o, UserDataOption::ReturnFlowAssociation(_)))
            .count()
    };
    let chunks = data_chunks(&h.trace, Side::B);
    let first_back = chunks.iter().find(|c| c.flow_id == back_wire).unwrap();
    assert!(
        first_back
            .options
            .iter()
            .flatten()
            .any(|o| *o == UserDataOption::ReturnFlowAssociation(f_wire)),
        "{first_back:?}"
    );
    let mut packets_before_ack = BTreeSet::new();
    for (i, sent) in h
        .trace
        .iter()
        .enumerate()
        .filter(|(_, s)| s.from == Side::B)
    {
        let of_back: Vec<&DataChunk> = chunks
            .iter()
            .filter(|c| c.packet == i && c.flow_id == back_wire)
            .collect();
        for c in chunks.iter().filter(|c| c.packet == i) {
            assert!(associations(c) <= 1);
            if c.flow_id == plain_wire {
                assert_eq!(associations(c), 0, "a flow never gains an association");
            }
        }
        if of_back.is_empty() {
            continue;
        }
        let in_packet: usize = of_back.iter().map(|c| associations(c)).sum();
        // (A packet sent at the very instant the acknowledgement arrives may have been written
        // before it was processed: either is fine there.)
        if sent.at < acked_at {
            packets_before_ack.insert(i);
            assert_eq!(in_packet, 1, "until acknowledged, once per packet");
            assert_eq!(associations(of_back[0]), 1, "on the flow's first chunk");
        } else if sent.at > acked_at {
            assert_eq!(
                in_packet,
                0,
                "not after the acknowledgement at {acked_at}: packet {i} at {} {}",
                sent.at,
                flow_support::describe(&sent.chunks)
            );
        }
    }
    assert!(packets_before_ack.len() >= 3, "{packets_before_ack:?}");
}

// RFC 7016 3.6.2.6 (and the REQUIRED condition on its timeout method): with every
// acknowledgement lost, the sender keeps retransmitting what it already sent but puts no new
// fragment into the network.
// spec: 7016-3.6.2.6-c
#[test]
fn no_acknowledgements_no_new_fragments() {
    let mut net = Net::perfect(ms(20));
    net.script = Some(Box::new(|side, _, _| {
        (side == Side::B).then(|| Fate::Arrive(vec![]))
    }));
    let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
    h.keep_trace = true;
    let f =
        h.a.flows
            .open(b"void", None, FlowOptions::default())
            .unwrap();
    for i in 0..200 {
        h.a.flows
            .send(h.now, f, &payload(i, 1000), MessageOptions::reliable())
            .unwrap();
    }
    let end = Instant::ZERO + Duration::from_secs(120);
    h.run_until(Duration::from_secs(121), |h| h.now >= end).ok();
    let highest_by = |t: Instant| {
        data_chunks(&h.trace, Side::A)
            .iter()
            .filter(|c| h.trace[c.packet].at <= t)
            .map(|c| c.seq)
            .max()
            .unwrap()
    };
    let early = highest_by(Instant::ZERO + Duration::from_secs(1));
    assert!(
        early <= 6,
        "the first flight stays within the initial window: {early}"
    );
    assert_eq!(
        highest_by(end),
        early,
        "no new sequence numbers without acknowledgements"
    );
    assert!(h.a.flows.stats().retransmissions >= 5);
}

// RFC 7016 2.3.13, 2.3.14: each acknowledgement uses whichever of Bitmap Ack and Range Ack is
// shorter for what it acknowledges.
// spec: 7016-2.3.13-b, 7016-2.3.14-b
#[test]
fn acknowledgements_use_the_more_compact_format() {
    let mut seen = (0, 0);
    for seed in [4, 5] {
        let net = Net::lossy(seed, 250, 0, ms(10), ms(40));
        let mut h = Harness::new(FlowConfig::default(), FlowConfig::default(), net);
        h.keep_trace = true;
        let f =
            h.a.flows
                .open(b"acks", None, FlowOptions::default())
                .unwrap();
        for i in 0..150 {
            h.a.flows
                .send(h.now, f, &payload(i, 400), MessageOptions::reliable())
                .unwrap();
        }
        h.a.flows.close(f).unwrap();
        run_to_completion(&mut h, f, Duration::from_secs(600));
        for c in h
            .trace
            .iter()
            .filter(|s| s.from == Side::B)
            .flat_map(|s| &s.chunks)
        {
            // (Payload lengths: both chunk types have the same 3-byte chunk header.)
            let (flow_id, blocks, cumulative, ranges, len) = match c {
                Chunk::BitmapAck(a) => {
                    seen.0 += 1;
                    let r = a.acknowledged_ranges();
                    (
                        a.flow_id,
                        a.buffer_blocks_available,
                        a.cumulative_ack,
                        r,
                        a.encoded_len(),
                    )
                }
                Chunk::RangeAck(a) => {
                    seen.1 += 1;
                    let r = a.acknowledged_ranges();
                    (
                        a.flow_id,
                        a.buffer_blocks_available,
                        a.cumulative_ack,
                        r,
                        a.encoded_len(),
                    )
                }
                _ => continue,
            };
            let rest = &ranges[1..];
            let range = RangeAck::from_ranges(flow_id, blocks, cumulative, rest).encoded_len();
            let bitmap = BitmapAck::from_ranges(flow_id, blocks, cumulative, rest)
                .map_or(usize::MAX, |b| b.encoded_len());
            assert!(
                len <= range.min(bitmap),
                "{c:?}: {len} bytes; Range Ack {range}, Bitmap Ack {bitmap}"
            );
        }
    }
    assert!(seen.0 > 0 && seen.1 > 0, "both formats used: {seen:?}");
}

// RFC 7016 2.3.11, 2.3.13-2.3.16: User Data, Next User Data, Bitmap Ack, Range Ack, Buffer Probe
// and Flow Exception Report travel only in packets of an established session (a non-zero session
// ID) marked with mode 1 or 2.
// spec: 7016-2.3.11-a, 7016-2.3.13-a, 7016-2.3.14-a, 7016-2.3.15-a, 7016-2.3.16-c
#[test]
fn flow_chunks_only_in_established_sessions_with_mode_1_or_2() {
    use common::{Verdict, config, transparent};
    use rtmfp::wire::chunk;
    use rtmfp::wire::packet::Mode;
    let mut cfg = config();
    cfg.flow.default_receive_buffer = 8 * 1024;
    let mut net = common::Net::new();
    net.add(
        "alice",
        "192.0.2.1:1000",
        cfg.clone(),
        transparent("alice"),
        1,
    );
    net.add("bob", "192.0.2.2:2000", cfg, transparent("bob"), 2);
    let (a, b) = net.open(0, 1);
    // Some of Alice's data packets are lost, one at a time (short holes, which Bitmap Acks
    // encode best) and seven in a row (a long hole, for Range Acks).
    let mut n = 0;
    net.set_hook(move |d, _| {
        if d.sender == 0 && d.has(chunk::USER_DATA) {
            n += 1;
            if n % 5 == 0 || (12..19).contains(&n) {
                return Verdict::Drop;
            }
        }
        Verdict::Deliver
    });
    let bulk = net.open_flow(0, a, b"bulk");
    let unwanted = net.open_flow(0, a, b"unwanted");
    for i in 0..60u64 {
        net.send(0, a, bulk, &payload(i, 250));
    }
    net.send(0, a, unwanted, b"no thanks");
    // Bob rejects the unwanted flow and stops delivering the bulk one, so Alice probes.
    net.run_until_mut(common::secs(5), |net| {
        let now = net.now;
        let opened = net.opened_flows(1, b);
        for (rf, metadata) in opened.iter().map(|o| (o.0, o.1.clone())) {
            let ep = &mut net.nodes[1].ep;
            if metadata == b"unwanted" {
                ep.reject_flow(now, b, rf, 5).ok();
            } else {
                ep.suspend_delivery(b, rf).ok();
            }
        }
        false
    });
    let rf = net
        .opened_flows(1, b)
        .iter()
        .find(|o| o.1 == b"bulk")
        .unwrap()
        .0;
    net.run_for(common::secs(5));
    net.nodes[1].ep.resume_delivery(b, rf).unwrap();
    assert!(net.run_until(common::secs(60), |n| n.payloads(1, b, rf).len() == 60));

    let mut seen: BTreeMap<u8, usize> = BTreeMap::new();
    let flow_types = [
        chunk::USER_DATA,
        chunk::NEXT_USER_DATA,
        chunk::BITMAP_ACK,
        chunk::RANGE_ACK,
        chunk::BUFFER_PROBE,
        chunk::FLOW_EXCEPTION_REPORT,
    ];
    for l in &net.log {
        let Some((session_id, packet)) = common::open_transparent(&l.data) else {
            continue;
        };
        for t in flow_types.iter().copied().filter(|t| l.has(*t)) {
            *seen.entry(t).or_default() += 1;
            assert_ne!(session_id, 0, "chunk type {t:#x} under session ID 0");
            assert!(
                matches!(packet.header.mode, Mode::Initiator | Mode::Responder),
                "chunk type {t:#x} in a {:?} packet",
                packet.header.mode
            );
        }
    }
    for t in flow_types {
        assert!(
            seen.get(&t).is_some_and(|n| *n > 0),
            "no chunk of type {t:#x}: {seen:?}"
        );
    }
}
