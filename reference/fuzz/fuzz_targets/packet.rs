//! Datagram -> Multiplex (RFC 7016 2.2.2) -> plain packet (2.2.4) -> every chunk (2.3).
//!
//! Besides "never panics", checks that framing accounts for every byte, that
//! error offsets stay inside the input, and that a packet whose chunks all
//! decode re-encodes to a packet that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp::wire::Multiplex;
use rtmfp::wire::fields::Fields;
use rtmfp::wire::packet::{Packet, PlainPacket};

fn check_packet(bytes: &[u8]) {
    let Ok(p) = PlainPacket::decode(bytes) else {
        return;
    };
    let mut end = p.header.encoded_len();
    for d in p.decoded_chunks() {
        assert_eq!(d.raw.offset, end);
        end += 3 + d.raw.payload.len();
        if let Err(e) = &d.chunk {
            assert!(e.offset <= bytes.len());
        }
        let _ = d.fields();
    }
    let (pad_at, pad) = p.padding();
    assert_eq!(pad_at, end);
    assert_eq!(pad_at + pad.len(), bytes.len());
    if let Ok(packet) = p.to_packet() {
        let mut out = Vec::new();
        packet
            .encode(&mut out)
            .expect("decoded chunks fit their length field");
        let again = Packet::decode(&out).expect("re-encoded packet decodes");
        assert_eq!(again, packet);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Multiplex::decode(data) {
        let _ = m.session_id();
        check_packet(m.encrypted_packet);
    }
    check_packet(data);
});
