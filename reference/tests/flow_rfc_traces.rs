//! The example traces of RFC 7016: the sender traces of 3.6.2.8 (Figures 20 and 21) and the
//! receiver trace of 3.6.3.4.7 (Figure 23), replayed chunk by chunk against a FlowSet.
//!
//! Each test drives one FlowSet with exactly the chunks the figure shows arriving and checks
//! every chunk it sends against the figure, line by line. Where the figure elides lines ("..."),
//! the test supplies the obvious traffic and says so.

use core::time::Duration;

use rtmfp::congestion::Rto;
use rtmfp::flow::{
    FlowConfig, FlowEvent, FlowOptions, FlowSet, MessageId, MessageOptions, ReceivedFragment,
    SendFlowId,
};
use rtmfp::time::Instant;
use rtmfp::wire::chunk::Chunk;
use rtmfp::wire::chunk::RangeAck;
use rtmfp::wire::chunk::user_data::{UserData, UserDataFlags, UserDataOption};

const BUDGET: usize = 1195;

/// A flow sender, fed acknowledgements and asked to write, on a virtual clock.
struct Sender {
    fs: FlowSet,
    rto: Rto,
    flow: SendFlowId,
    flow_id: u64,
    now: Instant,
    messages: Vec<MessageId>,
}

impl Sender {
    fn new(flow_id: u64) -> Self {
        let mut fs = FlowSet::with_appendix_a(FlowConfig::default());
        let flow = fs
            .open(
                b"trace",
                None,
                FlowOptions {
                    flow_id: Some(flow_id),
                    ..Default::default()
                },
            )
            .unwrap();
        Sender {
            fs,
            rto: Rto::new(),
            flow,
            flow_id,
            now: Instant::ZERO,
            messages: Vec::new(),
        }
    }

    /// Advances the clock 10 ms, running due timers.
    fn tick(&mut self) {
        self.now += Duration::from_millis(10);
        while let Some(d) = self.fs.poll_timeout() {
            if d > self.now {
                break;
            }
            self.fs.handle_timeout(self.now, &mut self.rto);
        }
    }

    /// Queues a one-fragment message; its sequence number is its index.
    fn queue(&mut self, lifetime_ms: Option<u64>) {
        let opts = match lifetime_ms {
            Some(ms) => MessageOptions::with_lifetime(Duration::from_millis(ms)),
            None => MessageOptions::reliable(),
        };
        let id = self.fs.send(self.now, self.flow, b"data", opts).unwrap();
        self.messages.push(id);
    }

    /// A packet holding one acknowledgement of `ranges` (first range 0..=cumulative).
    fn ack(&mut self, ranges: &[(u64, u64)]) {
        self.tick();
        let cumulative = ranges[0].1;
        let rest: Vec<_> = ranges[1..].iter().map(|&(a, b)| a..=b).collect();
        let chunk = Chunk::RangeAck(RangeAck::from_ranges(self.flow_id, 64, cumulative, &rest));
        self.fs.begin_packet(self.now, false);
        self.fs.handle_chunk(self.now, chunk, None).unwrap();
        self.fs.end_packet(self.now, &self.rto);
    }

    /// Writes one packet.
    fn write_chunks(&mut self) -> Vec<Chunk> {
        self.tick();
        assert!(self.fs.wants_to_send(self.now));
        self.fs.write(self.now, BUDGET, &self.rto).chunks
    }

    /// Writes one packet and returns its data chunks as (seq#, fsnOffset, ABN).
    fn write(&mut self) -> Vec<(u64, u64, bool)> {
        self.write_chunks()
            .iter()
            .map(|c| match c {
                Chunk::UserData(u) => {
                    assert_eq!(u.flow_id, self.flow_id);
                    (u.sequence_number, u.fsn_offset, u.flags.abandon)
                }
                other => panic!("unexpected chunk {other:?}"),
            })
            .collect()
    }

    /// Queues a message and writes it: one "Data" line of a figure.
    fn data(&mut self, lifetime_ms: Option<u64>) -> Vec<(u64, u64, bool)> {
        self.tick();
        self.queue(lifetime_ms);
        self.write()
    }

    fn nak_counts(&self) -> Vec<(u64, u32, bool)> {
        self.fs
            .send_queue(self.flow)
            .unwrap()
            .iter()
            .filter(|e| e.nak_count > 0 || (e.ever_sent && !e.in_flight))
            .map(|e| (e.sequence_number, e.nak_count, e.in_flight))
            .collect()
    }

    fn in_flight(&self) -> Vec<u64> {
        self.fs
            .send_queue(self.flow)
            .unwrap()
            .iter()
            .filter(|e| e.in_flight)
            .map(|e| e.sequence_number)
            .collect()
    }

    /// Sends messages 1..=n in one packet and acknowledges 1..=acked: the state before line 1.
    fn prime(&mut self, n: u64, acked: u64) {
        for _ in 0..n {
            self.queue(None);
        }
        // One User Data chunk, then Next User Data chunks (3.6.2.3.2).
        let w = self.write_chunks();
        assert_eq!(w.len() as u64, n);
        assert!(
            matches!(&w[0], Chunk::UserData(u) if u.sequence_number == 1 && u.options.is_some())
        );
        assert!(w[1..].iter().all(|c| matches!(c, Chunk::NextUserData(_))));
        self.ack(&[(0, acked)]);
        assert!(!self.fs.wants_to_send(self.now));
    }
}

// RFC 7016 3.6.2.8 Figure 20: normal flow with no loss, flow ID 2.
// spec: 7016-3.6.2.3-e, 7016-3.6.2.3-n, 7016-3.6.2.3.1-a, 7016-3.6.2.3.2-a, 7016-3.6.2.3.2-b, 7016-3.6.2-b, 7016-2.3.11-h, 7016-2.3.11-i, 7016-2.3.11-k, 7016-2.3.11-l, 7016-3.6.2.3-k, 7016-3.6.2.3-l, 7016-3.6.2.3-u, 7016-3.6.2.3-z
#[test]
fn rfc7016_3_6_2_8_figure_20_normal_flow() {
    let mut s = Sender::new(2);
    s.prime(24, 15);
    // 1 |<--- Ack ID=2, seq:0-16
    s.ack(&[(0, 16)]);
    // 2 |---> Data ID=2, seq#=25, fsnOff=9 (fsn=16)
    assert_eq!(s.data(None), [(25, 9, false)]);
    // "There are 9 sequence numbers in flight with delayed acknowledgements."
    assert_eq!(s.in_flight(), (17..=25).collect::<Vec<_>>());
    // 3 |---> Data ID=2, seq#=26, fsnOff=10 (fsn=16)
    assert_eq!(s.data(None), [(26, 10, false)]);
    // 4 |<--- Ack ID=2, seq:0-18
    s.ack(&[(0, 18)]);
    // 5 |---> Data ID=2, seq#=27, fsnOff=9 (fsn=18)
    assert_eq!(s.data(None), [(27, 9, false)]);
    // 6 |---> Data ID=2, seq#=28, fsnOff=10 (fsn=18)
    assert_eq!(s.data(None), [(28, 10, false)]);
    assert_eq!(s.fs.stats().naks, 0);
}

// RFC 7016 3.6.2.8 Figure 21: sequence numbers 31, 33 and 60 lost; 33 retransmitted; 31 and 60
// abandoned (their messages have lifetimes that expire before the loss is detected); line 25 is
// a Forward Sequence Number Update (3.6.2.7.1).
// spec: 7016-3.6.2.3-d, 7016-3.6.2.3-f, 7016-3.6.2.3-g, 7016-3.6.2.3-h, 7016-3.6.2.3-i, 7016-3.6.2.3-n, 7016-3.6.2.3-p, 7016-3.6.2.3-s, 7016-3.6.2.4-d, 7016-3.6.2.5-a, 7016-3.6.2.5-b, 7016-3.6.2.5-d, 7016-3.6.2.5-e, 7016-3.6.2.5-f, 7016-3.6.2.5-g, 7016-3.6.2.7.1-a, 7016-2.3.11-k, 7016-2.3.11-l, 7016-2.3.11-m, 7016-3.6.2.3-l, 7016-3.6.2.3-m
#[test]
fn rfc7016_3_6_2_8_figure_21_flow_with_loss() {
    let mut s = Sender::new(3);
    // Messages 1..=44 sent, 1..=29 acknowledged; message 31 lives 60 ms.
    for n in 1..=44u64 {
        s.queue(if n == 31 { Some(60) } else { None });
    }
    assert_eq!(s.write_chunks().len(), 44);
    s.ack(&[(0, 29)]);

    // 1 |<--- Ack ID=3, seq:0-30
    s.ack(&[(0, 30)]);
    // 2 |---> Data ID=3, seq#=45, fsnOff=15 (fsn=30)
    assert_eq!(s.data(None), [(45, 15, false)]);
    // 3 |<--- Ack ID=3, seq:0-30, 32 (nack 31:1)
    s.ack(&[(0, 30), (32, 32)]);
    assert_eq!(s.nak_counts(), [(31, 1, true)]);
    // 4 |---> Data ID=3, seq#=46, fsnOff=16 (fsn=30)
    assert_eq!(s.data(None), [(46, 16, false)]);
    // 5 |<--- Ack ID=3, seq:0-30, 32, 34 (nack 31:2, 33:1)
    s.ack(&[(0, 30), (32, 32), (34, 34)]);
    assert_eq!(s.nak_counts(), [(31, 2, true), (33, 1, true)]);
    assert!(!s.fs.wants_to_send(s.now));
    // 6 |<--- Ack ID=3, seq:0-30, 32, 34-35 (nack 31:3=lost, 33:2)
    s.ack(&[(0, 30), (32, 32), (34, 35)]);
    assert_eq!(s.nak_counts(), [(31, 3, false), (33, 2, true)]);
    // Message 31's lifetime ran out while it was in flight.
    let mut events: Vec<_> = std::iter::from_fn(|| s.fs.poll_event()).collect();
    let abandoned: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, FlowEvent::MessageAbandoned { .. }))
        .cloned()
        .collect();
    assert_eq!(
        abandoned,
        [FlowEvent::MessageAbandoned {
            flow: s.flow,
            message: s.messages[30]
        }]
    );
    // 7 |---> Data ID=3, seq#=47, fsnOff=15 (fsn=32, abandon 31)
    assert_eq!(s.data(None), [(47, 15, false)]);
    assert_eq!(
        s.fs.send_queue(s.flow).unwrap()[0].sequence_number,
        33,
        "31 trimmed"
    );
    // 8 |<--- Ack ID=3, seq:0-30, 32, 34-36 (nack 33:3=lost)
    s.ack(&[(0, 30), (32, 32), (34, 36)]);
    assert_eq!(s.nak_counts(), [(33, 3, false)]);
    // 9 |---> Data ID=3, seq#=33, fsnOff=1 (fsn=32, retransmit 33)
    assert_eq!(s.write(), [(33, 1, false)]);
    // 10 |<--- Ack ID=3, seq:0-30, 32, 34-37
    s.ack(&[(0, 30), (32, 32), (34, 37)]);
    assert!(!s.fs.wants_to_send(s.now));
    // 11 |---> Data ID=3, seq#=48, fsnOff=16 (fsn=32)
    assert_eq!(s.data(None), [(48, 16, false)]);
    // (continues through seq#=59): elided in the figure. Here acknowledgements of 38..=45
    // arrive before 49..=56, then 57..=59 go out back to back.
    for seq in 49..=59u64 {
        if seq <= 56 {
            s.ack(&[(0, 30), (32, 32), (34, seq - 11)]);
        }
        assert_eq!(s.data(None), [(seq, seq - 32, false)]);
    }
    // 12 |---> Data ID=3, seq#=60, fsnOff=28 (fsn=32); message 60 lives 150 ms.
    assert_eq!(s.data(Some(150)), [(60, 28, false)]);
    // 13 |<--- Ack ID=3, seq:0-30, 34-46  (as printed: 32 is missing from this line, but
    //      it was acknowledged and removed at line 3, so it makes no difference here)
    s.ack(&[(0, 30), (34, 46)]);
    // 14 |---> Data ID=3, seq#=61, fsnOff=29 (fsn=32)
    assert_eq!(s.data(None), [(61, 29, false)]);
    // 15 |<--- Ack ID=3, seq:0-32, 34-47
    s.ack(&[(0, 32), (34, 47)]);
    // 16 |---> Data ID=3, seq#=62, fsnOff=30 (fsn=32)
    assert_eq!(s.data(None), [(62, 30, false)]);
    // 17 |<--- Ack ID=3, seq:0-47
    s.ack(&[(0, 47)]);
    // 18 |---> Data ID=3, seq#=63, fsnOff=16 (fsn=47)
    assert_eq!(s.data(None), [(63, 16, false)]);
    // 19 |<--- Ack ID=3, seq:0-49
    s.ack(&[(0, 49)]);
    // 20 |---> Data ID=3, seq#=64, fsnOff=15 (fsn=49)
    assert_eq!(s.data(None), [(64, 15, false)]);
    // 21 |<--- Ack ID=3, seq:0-59
    s.ack(&[(0, 59)]);
    // 22 |<--- Ack ID=3, seq:0-59, 61 (nack 60:1)
    s.ack(&[(0, 59), (61, 61)]);
    assert_eq!(s.nak_counts(), [(60, 1, true)]);
    // 23 |<--- Ack ID=3, seq:0-59, 61-62 (nack 60:2)
    s.ack(&[(0, 59), (61, 62)]);
    assert_eq!(s.nak_counts(), [(60, 2, true)]);
    // 24 |<--- Ack ID=3, seq:0-59, 61-63 (nack 60:3=lost)
    s.ack(&[(0, 59), (61, 63)]);
    assert_eq!(s.nak_counts(), [(60, 3, false)]);
    // 25 |---> Data ID=3, ABN=1, seq#=60, fsnOff=0 (fsn=60, abandon 60)
    assert_eq!(s.write(), [(60, 0, true)]);
    // 26 |<--- Ack ID=3, seq:0-59, 61-64
    s.ack(&[(0, 59), (61, 64)]);
    assert!(!s.fs.wants_to_send(s.now));
    // 27 |<--- Ack ID=3, seq:0-64
    s.ack(&[(0, 64)]);
    assert!(s.fs.send_queue(s.flow).unwrap().is_empty());
    events.extend(std::iter::from_fn(|| s.fs.poll_event()));
    let delivered = events
        .iter()
        .filter(|e| matches!(e, FlowEvent::MessageDelivered { .. }))
        .count();
    assert_eq!(delivered, 64 - 2);
    assert!(events.contains(&FlowEvent::MessageAbandoned {
        flow: s.flow,
        message: s.messages[59]
    }));
    assert_eq!(s.fs.stats().losses, 3);
    // Sent again: 33 (with data) and 60 (as the FSN Update).
    assert_eq!(s.fs.stats().retransmissions, 2);
    assert_eq!(s.fs.stats().abandoned_chunks_sent, 1);
}

/// A flow receiver, fed User Data chunks and asked to write acknowledgements.
struct Receiver {
    fs: FlowSet,
    rto: Rto,
    now: Instant,
}

impl Receiver {
    fn new() -> Self {
        Receiver {
            fs: FlowSet::with_appendix_a(FlowConfig::default()),
            rto: Rto::new(),
            now: Instant::ZERO,
        }
    }

    fn tick(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        while let Some(d) = self.fs.poll_timeout() {
            if d > self.now {
                break;
            }
            self.fs.handle_timeout(self.now, &mut self.rto);
        }
    }

    /// A packet with one User Data chunk of flow 3.
    fn data(&mut self, seq: u64, fsn_offset: u64) {
        self.tick(10);
        let options = (seq == 1).then(|| vec![UserDataOption::PerFlowMetadata(b"trace".to_vec())]);
        let chunk = UserData {
            flow_id: 3,
            sequence_number: seq,
            fsn_offset,
            flags: UserDataFlags::default(),
            options,
            data: seq.to_be_bytes().to_vec(),
        };
        self.fs.begin_packet(self.now, false);
        self.fs
            .on_user_data(self.now, ReceivedFragment::from_user_data(chunk));
        self.fs.end_packet(self.now, &self.rto);
    }

    /// The acknowledgement the receiver sends now, as acknowledged ranges; `None` if it sends nothing.
    fn ack(&mut self) -> Option<Vec<(u64, u64)>> {
        if !self.fs.wants_to_send(self.now) {
            return None;
        }
        let w = self.fs.write(self.now, BUDGET, &self.rto);
        match &w.chunks[..] {
            [Chunk::BitmapAck(a)] if a.flow_id == 3 => Some(flat(a.acknowledged_ranges())),
            [Chunk::RangeAck(a)] if a.flow_id == 3 => Some(flat(a.acknowledged_ranges())),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn flat(r: Vec<core::ops::RangeInclusive<u64>>) -> Vec<(u64, u64)> {
    r.into_iter().map(|r| (*r.start(), *r.end())).collect()
}

// RFC 7016 3.6.3.4.7 Figure 23: the receiver's side of Figure 21's loss of 31 and 33.
// spec: 7016-3.6.3.2-h, 7016-3.6.3.2-l, 7016-3.6.3.2-m, 7016-3.6.3.2-n, 7016-3.6.3.2-q, 7016-3.6.3.4.1-c, 7016-3.6.3.4.1-d, 7016-3.6.3.4.1-j, 7016-3.6.3.3-g, 7016-3.6.1.2-f, 7016-3.6.1.3-b, 7016-3.6.3.3-b, 7016-3.6.3.4-a, 7016-3.6.3.2-c, 7016-3.6.3.2-k, 7016-3.6.3.2-p
#[test]
fn rfc7016_3_6_3_4_7_figure_23_receiver() {
    let mut r = Receiver::new();
    // Before the figure: 1..=28 received, everything acknowledged.
    for seq in 1..=28 {
        r.data(seq, seq);
        r.ack();
    }
    r.tick(300);
    r.ack();
    assert!(!r.fs.wants_to_send(r.now) && r.fs.ack_state().rx_data_packets == 0);

    // 1 |<--- Data ID=3, seq#=29, fsnOff=11 (fsn=18): delayed (first data packet).
    r.data(29, 11);
    assert_eq!(r.ack(), None);
    // 2 |<--- Data ID=3, seq#=30, fsnOff=12 (fsn=18)
    r.data(30, 12);
    // 3 |---> Ack ID=3, seq:0-30 (every second data packet)
    assert_eq!(r.ack(), Some(vec![(0, 30)]));
    // 4 |<--- Data ID=3, seq#=32, fsnOff=12 (fsn=20)
    r.data(32, 12);
    // 5 |---> Ack ID=3, seq:0-30, 32 (a gap: immediately)
    assert_eq!(r.ack(), Some(vec![(0, 30), (32, 32)]));
    // 6 |<--- Data ID=3, seq#=34, fsnOff=12 (fsn=22)
    r.data(34, 12);
    // 7 |---> Ack ID=3, seq:0-30, 32, 34
    assert_eq!(r.ack(), Some(vec![(0, 30), (32, 32), (34, 34)]));
    // Elided: 35..=45, each acknowledged at once because of the gaps; the FSN
    // rises with fsnOffset 12 but not past 30.
    for seq in 35..=45 {
        r.data(seq, seq - (seq - 12).min(30));
        assert_eq!(r.ack(), Some(vec![(0, 30), (32, 32), (34, seq)]));
    }
    // 8 |<--- Data ID=3, seq#=46, fsnOff=16 (fsn=30)
    r.data(46, 16);
    // 9 |---> Ack ID=3, seq:0-30, 32, 34-46
    assert_eq!(r.ack(), Some(vec![(0, 30), (32, 32), (34, 46)]));
    // 10 |<--- Data ID=3, seq#=47, fsnOff=15 (fsn=32)
    r.data(47, 15);
    // 11 |---> Ack ID=3, seq:0-32, 34-47
    assert_eq!(r.ack(), Some(vec![(0, 32), (34, 47)]));
    // 12 |<--- Data ID=3, seq#=33, fsnOff=1 (fsn=32)
    r.data(33, 1);
    // 13 |---> Ack ID=3, seq#=0-47
    assert_eq!(r.ack(), Some(vec![(0, 47)]));
    // 14 |<--- Data ID=3, seq#=48, fsnOff=16 (fsn=32)
    r.data(48, 16);
    assert_eq!(r.ack(), None);
    // 15 |<--- Data ID=3, seq#=49, fsnOff=17 (fsn=32)
    r.data(49, 17);
    // 16 |---> Ack ID=3, seq#=0-49
    assert_eq!(r.ack(), Some(vec![(0, 49)]));

    // What the user saw: 1..=30 in order, a gap for 31 (abandoned by the sender), then 32..=49.
    let mut seen = Vec::new();
    while let Some(e) = r.fs.poll_event() {
        match e {
            FlowEvent::Message {
                sequence_number,
                data,
                ..
            } => {
                assert_eq!(data, sequence_number.to_be_bytes());
                seen.push(format!("{sequence_number}"));
            }
            FlowEvent::MessagesLost { first, last, .. } => {
                seen.push(format!("lost {first}-{last}"))
            }
            FlowEvent::RecvFlowOpened { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut want: Vec<String> = (1..=30).map(|n| n.to_string()).collect();
    want.push("lost 31-31".into());
    want.extend((32..=49).map(|n| n.to_string()));
    assert_eq!(seen, want);
}
