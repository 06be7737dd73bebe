//! One chunk (RFC 7016 2.3): the first byte is the chunk type, the rest the payload.
//!
//! Checks re-encoding round trips and, for acks, that rebuilding an ack from
//! its acknowledged ranges acknowledges the same sequence numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp::wire::chunk::{BitmapAck, Chunk, RangeAck};
use rtmfp::wire::fields::Fields;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk_type, payload)) = data.split_first() else {
        return;
    };
    let _ = Chunk::decode_one(data, 0);
    match Chunk::decode(chunk_type, payload, 3) {
        Ok(chunk) => {
            assert_eq!(chunk.chunk_type(), chunk_type);
            let _ = chunk.fields();
            if payload.len() <= 0xffff {
                let mut out = Vec::new();
                chunk.encode(&mut out).expect("payload fits");
                let (again, used) = Chunk::decode_one(&out, 0).expect("re-encoded chunk decodes");
                assert_eq!(used, out.len());
                assert_eq!(again, chunk);
            }
            match &chunk {
                Chunk::BitmapAck(a) => {
                    let acked = a.acknowledged_ranges();
                    if let Some(b) =
                        BitmapAck::from_ranges(a.flow_id, 0, a.cumulative_ack, &acked[1..])
                    {
                        assert_eq!(b.acknowledged_ranges(), acked);
                    }
                    let r = RangeAck::from_ranges(a.flow_id, 0, a.cumulative_ack, &acked[1..]);
                    assert_eq!(r.acknowledged_ranges(), acked);
                }
                Chunk::RangeAck(a) => {
                    let acked = a.acknowledged_ranges();
                    let r = RangeAck::from_ranges(a.flow_id, 0, a.cumulative_ack, &acked[1..]);
                    assert_eq!(r.acknowledged_ranges(), acked);
                }
                _ => {}
            }
        }
        Err(e) => assert!(e.offset >= 3 && e.offset <= 3 + payload.len()),
    }
});
