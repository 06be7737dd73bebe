//! Hostile input (RFC 7016 3.6 receiving paths): a FlowSet fed arbitrary flow chunks from a
//! misbehaving or malicious far end never panics, never grows past its limits, and keeps
//! answering. Chunks are well-formed on the wire (the codec rejects the rest) but their
//! contents are arbitrary: sequence numbers up to 2^64 - 1, FSNs jumping around, acks for
//! numbers never sent, unknown options, exceptions for unknown flows.

use core::time::Duration;

use proptest::prelude::*;
use rtmfp::congestion::Rto;
use rtmfp::flow::{FlowConfig, FlowOptions, FlowSet, MessageOptions};
use rtmfp::time::Instant;
use rtmfp::wire::chunk::next_user_data::FlowPosition;
use rtmfp::wire::chunk::user_data::{FragmentControl, UserData, UserDataFlags, UserDataOption};
use rtmfp::wire::chunk::{
    BitmapAck, BufferProbe, Chunk, FlowExceptionReport, NextUserData, RangeAck,
};
use rtmfp::wire::option::RtmfpOption;

#[derive(Debug, Clone)]
enum Input {
    Data {
        flow: u64,
        seq: u64,
        fsn_back: u64,
        fra: u8,
        abandon: bool,
        fin: bool,
        options: u8,
        len: usize,
        next: u8,
    },
    Ack {
        flow: u64,
        blocks: u64,
        cumulative: u64,
        ranges: Vec<(u64, u64)>,
        bitmap: bool,
    },
    Probe(u64),
    Exception(u64, u64),
    Tick(u64),
    Send(usize),
}

fn seq() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..64,
        0u64..5000,
        Just(u64::MAX),
        Just(u64::MAX - 1),
        any::<u64>()
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (0u64..4, seq(), seq(), 0u8..4, any::<bool>(), any::<bool>(), 0u8..5, 0usize..2000, 0u8..3).prop_map(
            |(flow, seq, fsn_back, fra, abandon, fin, options, len, next)| Input::Data { flow, seq, fsn_back, fra, abandon, fin, options, len, next }
        ),
        3 => (0u64..4, prop_oneof![0u64..100, any::<u64>()], seq(), proptest::collection::vec((seq(), 0u64..50), 0..6), any::<bool>()).prop_map(
            |(flow, blocks, cumulative, ranges, bitmap)| Input::Ack { flow, blocks, cumulative, ranges, bitmap }
        ),
        1 => (0u64..5).prop_map(Input::Probe),
        1 => (0u64..5, any::<u64>()).prop_map(|(f, c)| Input::Exception(f, c)),
        2 => (0u64..3000).prop_map(Input::Tick),
        1 => (0usize..5000).prop_map(Input::Send),
    ]
}

fn chunk_of(input: &Input) -> Vec<(Chunk, Option<FlowPosition>)> {
    match input {
        Input::Data {
            flow,
            seq,
            fsn_back,
            fra,
            abandon,
            fin,
            options,
            len,
            next,
        } => {
            let options = match options {
                0 => None,
                1 => Some(vec![UserDataOption::PerFlowMetadata(b"m".to_vec())]),
                2 => Some(vec![
                    UserDataOption::PerFlowMetadata(vec![]),
                    UserDataOption::ReturnFlowAssociation(*flow),
                ]),
                3 => Some(vec![UserDataOption::Other(RtmfpOption::new(0x44, vec![1]))]),
                _ => Some(vec![
                    UserDataOption::PerFlowMetadata(vec![]),
                    UserDataOption::Other(RtmfpOption::new(0x2001, vec![])),
                ]),
            };
            let flags = UserDataFlags {
                fragment_control: FragmentControl::from_bits(*fra),
                abandon: *abandon,
                fin: *fin,
                reserved: 0,
            };
            let ud = UserData {
                flow_id: *flow,
                sequence_number: *seq,
                fsn_offset: (*fsn_back).min(*seq),
                flags,
                options,
                data: vec![7; *len],
            };
            let mut out = vec![(Chunk::UserData(ud.clone()), None)];
            // Next User Data chunks continue from it, as a packet's resolver would say.
            for i in 1..=u64::from(*next) {
                let Some(s) = seq.checked_add(i) else { break };
                let position = FlowPosition {
                    flow_id: *flow,
                    sequence_number: s,
                    forward_sequence_number: ud.forward_sequence_number(),
                };
                let nud = NextUserData {
                    flags,
                    options: None,
                    data: vec![8; *len / 2],
                };
                out.push((Chunk::NextUserData(nud), Some(position)));
            }
            out
        }
        Input::Ack {
            flow,
            blocks,
            cumulative,
            ranges,
            bitmap,
        } => {
            let ranges: Vec<_> = ranges
                .iter()
                .map(|&(s, l)| s..=s.saturating_add(l))
                .collect();
            let chunk = if *bitmap {
                match BitmapAck::from_ranges(*flow, *blocks, *cumulative, &ranges) {
                    Some(b) => Chunk::BitmapAck(b),
                    None => {
                        Chunk::RangeAck(RangeAck::from_ranges(*flow, *blocks, *cumulative, &ranges))
                    }
                }
            } else {
                Chunk::RangeAck(RangeAck::from_ranges(*flow, *blocks, *cumulative, &ranges))
            };
            vec![(chunk, None)]
        }
        Input::Probe(f) => vec![(Chunk::BufferProbe(BufferProbe { flow_id: *f }), None)],
        Input::Exception(f, c) => vec![(
            Chunk::FlowExceptionReport(FlowExceptionReport {
                flow_id: *f,
                exception: *c,
            }),
            None,
        )],
        Input::Tick(_) | Input::Send(_) => vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn hostile_flow_chunks_never_panic_and_stay_bounded(inputs in proptest::collection::vec(input(), 1..120)) {
        let cfg = FlowConfig {
            max_receive_buffer_per_flow: 20_000,
            max_receive_buffer_per_session: 30_000,
            max_recv_flows: 3,
            max_sequence_ranges: 16,
            max_send_buffer_per_flow: 50_000,
            ..FlowConfig::default()
        };
        let mut fs = FlowSet::with_appendix_a(cfg);
        let mut rto = Rto::new();
        let mut now = Instant::ZERO;
        let flows: Vec<_> = (0..2).map(|_| fs.open(b"s", None, FlowOptions::default()).unwrap()).collect();
        for input in &inputs {
            match input {
                Input::Tick(ms) => now += Duration::from_millis(*ms),
                Input::Send(len) => {
                    let _ = fs.send(now, flows[len % 2], &vec![1; *len], MessageOptions::with_lifetime(Duration::from_millis(500)));
                }
                _ => {}
            }
            fs.begin_packet(now, false);
            for (chunk, position) in chunk_of(input) {
                prop_assert!(fs.handle_chunk(now, chunk, position).is_ok());
            }
            fs.end_packet(now, &rto);
            if fs.poll_timeout().is_some_and(|t| t <= now) {
                fs.handle_timeout(now, &mut rto);
            }
            let mut packets = 0;
            while fs.wants_to_send(now) && packets < 50 {
                let w = fs.write(now, 1195, &rto);
                prop_assert!(w.len <= 1195);
                packets += 1;
            }
            while fs.poll_event().is_some() {}
            // Bounds.
            let mut total = 0;
            let mut count = 0;
            for rf in fs.recv_flows() {
                let info = fs.recv_flow_info(rf).unwrap();
                prop_assert!(info.buffered_size <= 20_000);
                prop_assert!(info.sequence_ranges <= 17, "{}", info.sequence_ranges);
                total += info.buffered_size;
                count += 1;
            }
            prop_assert!(total <= 30_000);
            prop_assert!(count <= 3);
            for f in fs.send_flows() {
                prop_assert!(fs.send_flow_info(f).unwrap().queued_bytes <= 50_000);
            }
        }
        fs.abort_all();
        prop_assert!(fs.is_idle());
        prop_assert_eq!(fs.outstanding_bytes(), 0);
    }
}
