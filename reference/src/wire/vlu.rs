//! Variable Length Unsigned integer, RFC 7016 section 2.1.2.
//!
//! Seven bits per byte, most significant group first; a set high bit means
//! another byte follows. The RFC asks for at least 64 bits of range, which is
//! exactly what this module handles. Encodings with redundant leading `0x80`
//! groups are legal on the wire and decode to the same value; [`encode`]
//! always writes the shortest form.

use super::error::WireErrorKind;

/// The longest minimal encoding of a `u64`: ceil(64 / 7) bytes.
pub const MAX_LEN: usize = 10;

/// Decodes one VLU from the front of `buf`, returning its value and encoded length.
pub fn decode(buf: &[u8]) -> Result<(u64, usize), WireErrorKind> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate() {
        let digit = u64::from(byte & 0x7f);
        if value > (u64::MAX >> 7) {
            return Err(WireErrorKind::VluOverflow);
        }
        value = (value << 7) | digit;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    // Ran out of input while the continuation bit was still set.
    Err(WireErrorKind::Truncated {
        needed: buf.len() + 1,
        available: buf.len(),
    })
}

/// The number of bytes [`encode`] writes for `value`.
pub fn encoded_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends the shortest encoding of `value` to `out`.
pub fn encode(value: u64, out: &mut Vec<u8>) {
    let len = encoded_len(value);
    for i in (0..len).rev() {
        let digit = ((value >> (7 * i)) & 0x7f) as u8;
        out.push(if i == 0 { digit } else { digit | 0x80 });
    }
}

/// The shortest encoding of `value` as a new vector.
pub fn to_vec(value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(value));
    encode(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Values and bytes worked out by hand from the rule in section 2.1.2.
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x81, 0x00]),
            (16383, &[0xff, 0x7f]),
            (16384, &[0x81, 0x80, 0x00]),
            (
                u64::MAX,
                &[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            ),
        ];
        for &(value, bytes) in cases {
            assert_eq!(to_vec(value), bytes, "encode {value}");
            assert_eq!(decode(bytes), Ok((value, bytes.len())), "decode {value}");
        }
    }

    #[test]
    fn redundant_leading_groups_are_accepted() {
        assert_eq!(decode(&[0x80, 0x80, 0x05]), Ok((5, 3)));
    }

    // spec: 7425-3-e
    #[test]
    fn overflow_and_truncation_are_errors() {
        // 2^64 needs 65 bits.
        let too_big = [0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(decode(&too_big), Err(WireErrorKind::VluOverflow));
        assert_eq!(
            decode(&[]),
            Err(WireErrorKind::Truncated {
                needed: 1,
                available: 0
            })
        );
        assert_eq!(
            decode(&[0x81]),
            Err(WireErrorKind::Truncated {
                needed: 2,
                available: 1
            })
        );
    }

    proptest! {
        #[test]
        fn round_trip(value: u64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = to_vec(value);
            prop_assert_eq!(bytes.len(), encoded_len(value));
            prop_assert!(bytes.len() <= MAX_LEN);
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(decode(&bytes), Ok((value, encoded_len(value))));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok((_, len)) = decode(&bytes) {
                prop_assert!(len <= bytes.len());
            }
        }
    }
}
