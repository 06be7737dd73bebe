//! The simple checksum, RFC 7425 section 4.7.3.1.
//!
//! The 16-bit ones' complement of the ones' complement sum of the big-endian
//! 16-bit words of the data. When the length is odd, RFC 7425 takes the last
//! byte as the *low* 8 bits of a final word whose high 8 bits are zero. That
//! differs from RFC 1071, which RFC 7425 cites as the same algorithm but which
//! pads the odd byte on the right (making it the high 8 bits). We follow RFC
//! 7425's explicit words, as rtmfp-cpp does; the difference only shows when a
//! packet uses session sequence numbers without HMAC and the sequence number's
//! VLU has an odd length.

/// The simple checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        // RFC 7425 4.7.3.1: the odd byte is the low 8 bits of a zero-topped word.
        sum += u64::from(*last);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7425_4_7_3_1_worked_by_hand() {
        // Empty data: sum 0, complement 0xffff.
        assert_eq!(checksum(&[]), 0xffff);
        // 0x0102 + 0x0304 + 0x05 (odd byte as low bits) = 0x040b.
        assert_eq!(checksum(&[1, 2, 3, 4, 5]), !0x040b);
        // End-around carry: 0xffff + 0x0001 = 0x1_0000 -> 0x0001.
        assert_eq!(checksum(&[0xff, 0xff, 0x00, 0x01]), !0x0001);
        // A single odd byte 0xab is 0x00ab, not 0xab00 as RFC 1071 would have it.
        assert_eq!(checksum(&[0xab]), !0x00ab);
    }

    #[test]
    fn long_inputs_fold_every_carry() {
        // 40000 words of 0xffff: a ones' complement sum of all-ones is 0xffff.
        let data = vec![0xffu8; 80_000];
        assert_eq!(checksum(&data), 0x0000);
    }
}
