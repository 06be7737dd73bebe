//! Packet Multiplex: the scrambled session ID in front of every encrypted packet, RFC 7016 section 2.2.2.
//!
//! A datagram is a 32-bit scrambled session ID followed by the encrypted packet.
//! The session ID is scrambled by XOR with the first two 32-bit words of the
//! encrypted packet (zero-padded to 8 bytes when shorter), so that a fixed
//! session ID does not show up as a fixed pattern on the wire. Scrambling and
//! unscrambling are the same operation. Session ID 0 means the startup
//! pseudo-session and its Default Session Key (section 2.2.3).

use super::error::WireError;
use super::reader::Reader;

/// Size of the scrambled session ID field.
pub const SESSION_ID_LEN: usize = 4;

/// A datagram split into its two parts, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multiplex<'a> {
    /// The session ID as it appears on the wire (`scrambledSessionID`).
    pub scrambled_session_id: u32,
    /// Everything after the scrambled session ID (may be empty).
    pub encrypted_packet: &'a [u8],
}

impl<'a> Multiplex<'a> {
    /// Splits a datagram. Fails only when it is shorter than the 4-byte session ID field.
    pub fn decode(datagram: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(datagram, "Multiplex");
        let scrambled_session_id = r.u32("scrambledSessionID")?;
        Ok(Multiplex {
            scrambled_session_id,
            encrypted_packet: r.rest(),
        })
    }

    /// The session ID this datagram is addressed to (selects the decryption key).
    pub fn session_id(&self) -> u32 {
        scramble(self.scrambled_session_id, self.encrypted_packet)
    }
}

/// The XOR of the first two 32-bit words of `encrypted_packet`, zero-padded to 8 bytes.
pub fn scrambling_mask(encrypted_packet: &[u8]) -> u32 {
    let mut first = [0u8; 8];
    for (dst, src) in first.iter_mut().zip(encrypted_packet) {
        *dst = *src;
    }
    let word0 = u32::from_be_bytes([first[0], first[1], first[2], first[3]]);
    let word1 = u32::from_be_bytes([first[4], first[5], first[6], first[7]]);
    word0 ^ word1
}

/// Scrambles a session ID for `encrypted_packet` (and, being an XOR, unscrambles it too).
pub fn scramble(session_id: u32, encrypted_packet: &[u8]) -> u32 {
    session_id ^ scrambling_mask(encrypted_packet)
}

/// Appends a datagram: the scrambled `session_id`, then `encrypted_packet`.
pub fn encode(session_id: u32, encrypted_packet: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&scramble(session_id, encrypted_packet).to_be_bytes());
    out.extend_from_slice(encrypted_packet);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 7016 2.2.2: SSID = sessionID XOR first32[0] XOR first32[1].
    // spec: 7016-2.1.1-a, 7016-2.2.2-a
    #[test]
    fn scrambles_with_the_first_two_words() {
        let packet = [0x01, 0x02, 0x03, 0x04, 0x10, 0x20, 0x30, 0x40, 0xaa];
        // 0x01020304 ^ 0x10203040 = 0x11223344; ^ 0x00000007 = 0x11223343.
        let mut out = Vec::new();
        encode(7, &packet, &mut out);
        assert_eq!(&out[..4], &[0x11, 0x22, 0x33, 0x43]);
        let m = Multiplex::decode(&out).unwrap();
        assert_eq!(m.scrambled_session_id, 0x1122_3343);
        assert_eq!(m.session_id(), 7);
        assert_eq!(m.encrypted_packet, &packet);
    }

    // RFC 7016 2.2.2: a packet shorter than 8 bytes is end-padded with zeros.
    // spec: 7016-2.2.2-b
    #[test]
    fn short_packets_are_zero_padded() {
        assert_eq!(scrambling_mask(&[]), 0);
        assert_eq!(scrambling_mask(&[0xab]), 0xab00_0000);
        assert_eq!(scrambling_mask(&[1, 2, 3, 4, 5]), 0x0102_0304 ^ 0x0500_0000);
    }

    // spec: 7016-2-e
    #[test]
    fn a_datagram_shorter_than_the_session_id_is_an_error() {
        let e = Multiplex::decode(&[1, 2, 3]).unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset, e.kind.name()),
            ("Multiplex", "scrambledSessionID", 0, "truncated")
        );
        let m = Multiplex::decode(&[0, 0, 0, 5]).unwrap();
        assert_eq!((m.session_id(), m.encrypted_packet.len()), (5, 0));
    }

    proptest! {
        // spec: 7016-2.2.2-a
        #[test]
        fn round_trip(session_id: u32, packet in proptest::collection::vec(any::<u8>(), 0..24)) {
            let mut out = Vec::new();
            encode(session_id, &packet, &mut out);
            let m = Multiplex::decode(&out).unwrap();
            prop_assert_eq!(m.session_id(), session_id);
            prop_assert_eq!(m.encrypted_packet, &packet[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(m) = Multiplex::decode(&bytes) {
                prop_assert_eq!(m.encrypted_packet.len() + 4, bytes.len());
            }
        }
    }
}
