//! The Default Session Key, RFC 7425 section 4.1.
//!
//! Used for session ID 0 and for a session's startup packets (RFC 7016 2.2.3).
//! It is public, so it protects nothing (RFC 7016 section 5): it scrambles
//! startup packets and keeps applications with different keys apart. Packets
//! under it use the simple checksum and no session sequence numbers.

/// The 16 bytes of "Adobe Systems 02" in UTF-8, the AES-128 key for startup packets.
pub const DEFAULT_SESSION_KEY: [u8; 16] = *b"Adobe Systems 02";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_key_bytes_match_rfc7425_4_1() {
        // RFC 7425 4.1 prints the key in hex.
        assert_eq!(
            hex::encode(DEFAULT_SESSION_KEY),
            "41646f62652053797374656d73203032"
        );
    }
}
