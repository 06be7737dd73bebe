//! Decrypting captured datagrams offline (RFC 7016 2.2.2 multiplex, RFC 7425 4.1 and 4.7), for the CLI and the simulator.
//!
//! A captured UDP payload is a Multiplex packet: a scrambled session ID, then
//! the encrypted packet. [`decrypt_datagram`] unscrambles the session ID and
//! tries the keys it is given: the Default Session Key for session ID 0 (and,
//! after the others fail, for any session ID, since RIKeying and RHello
//! Cookie Change travel under it with a non-zero ID), raw 16-byte AES keys in
//! checksum mode, and key-log entries in both directions. When a key log does
//! not say how long an HMAC is, every length in 4..=32 that leaves whole
//! cipher blocks is tried; a wrong length fails the HMAC with overwhelming
//! probability. Nothing here keeps replay state.

use super::error::CryptoError;
use super::flash::keylog::KeyLog;
use super::flash::packet::{BLOCK, DirectionSettings, PacketKey};
use crate::wire::Multiplex;

/// Which key opened a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsed {
    /// The Default Session Key (RFC 7425 4.1).
    Default,
    /// The raw key at this index.
    Raw(usize),
    /// The key log at `index`, for packets its end sent (`sent == true`) or received.
    KeyLog { index: usize, sent: bool },
}

/// Keys to try on captured datagrams.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// AES-128 keys used in checksum mode without sequence numbers.
    pub raw: Vec<[u8; 16]>,
    /// Parsed key-log lines.
    pub key_logs: Vec<KeyLog>,
}

/// A datagram that one of the keys opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedDatagram {
    /// The unscrambled session ID.
    pub session_id: u32,
    /// The key that worked.
    pub key: KeyUsed,
    /// How that key verifies packets.
    pub settings: DirectionSettings,
    /// The session sequence number, if the packet has one.
    pub sequence: Option<u64>,
    /// The plain RTMFP packet, padding included.
    pub plain: Vec<u8>,
}

/// Why no key opened a datagram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// Shorter than the 4-byte scrambled session ID.
    #[error("datagram of {0} byte(s) is shorter than a scrambled session ID")]
    TooShort(usize),
    /// Every key failed; each attempt and its error, in the order tried.
    #[error("no key opens session ID {session_id:#010x} ({} key(s) tried)", attempts.len())]
    NoKey {
        /// The unscrambled session ID.
        session_id: u32,
        /// The keys tried and why each failed.
        attempts: Vec<(KeyUsed, CryptoError)>,
    },
}

/// HMAC lengths for which `len` bytes split into whole blocks and the HMAC.
fn hmac_length_candidates(len: usize) -> impl Iterator<Item = usize> {
    (4..=32).filter(move |h| len >= BLOCK + h && (len - h).is_multiple_of(BLOCK))
}

fn try_key(key: &PacketKey, encrypted: &[u8]) -> Result<(Option<u64>, Vec<u8>), CryptoError> {
    let mut plain = Vec::new();
    let opened = key.open(encrypted, &mut plain)?;
    plain.drain(..opened.packet_start);
    Ok((opened.sequence, plain))
}

/// Decrypts and verifies one captured datagram with the first key that works.
///
/// Order: the Default Session Key first if the session ID is 0; then the raw
/// keys; then each key log as sender and as receiver; then the Default
/// Session Key for a non-zero session ID.
pub fn decrypt_datagram(datagram: &[u8], keys: &Keys) -> Result<DecryptedDatagram, InspectError> {
    let mux = Multiplex::decode(datagram).map_err(|_| InspectError::TooShort(datagram.len()))?;
    let (session_id, encrypted) = (mux.session_id(), mux.encrypted_packet);
    let mut attempts = Vec::new();
    let mut candidates: Vec<(KeyUsed, PacketKey)> = Vec::new();
    let default = || (KeyUsed::Default, PacketKey::default_key());
    if session_id == 0 {
        candidates.push(default());
    }
    for (i, raw) in keys.raw.iter().enumerate() {
        candidates.push((
            KeyUsed::Raw(i),
            PacketKey::new(raw, &[], DirectionSettings::DEFAULT),
        ));
    }
    for (index, log) in keys.key_logs.iter().enumerate() {
        for sent in [true, false] {
            let (uses_hmac, logged_len) = if sent {
                (log.hmac_send, log.hmac_send_len)
            } else {
                (log.hmac_recv, log.hmac_recv_len)
            };
            let lengths: Vec<usize> = match (uses_hmac, logged_len) {
                (false, _) => vec![0],
                (true, Some(l)) => vec![l],
                (true, None) => hmac_length_candidates(encrypted.len()).collect(),
            };
            for l in lengths {
                let key = if sent {
                    log.send_key(l)
                } else {
                    log.receive_key(l)
                };
                candidates.push((KeyUsed::KeyLog { index, sent }, key));
            }
        }
    }
    if session_id != 0 {
        candidates.push(default());
    }
    for (used, key) in candidates {
        match try_key(&key, encrypted) {
            Ok((sequence, plain)) => {
                return Ok(DecryptedDatagram {
                    session_id,
                    key: used,
                    settings: key.settings(),
                    sequence,
                    plain,
                });
            }
            Err(e) => attempts.push((used, e)),
        }
    }
    Err(InspectError::NoKey {
        session_id,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::multiplex;

    #[test]
    fn default_key_opens_startup_packets() {
        let mut enc = Vec::new();
        PacketKey::default_key().encrypt(None, &[0x0b, 0, 0, 0x30], &mut enc);
        let mut d = Vec::new();
        multiplex::encode(0, &enc, &mut d);
        let got = decrypt_datagram(&d, &Keys::default()).unwrap();
        assert_eq!(got.key, KeyUsed::Default);
        assert_eq!(&got.plain[..4], &[0x0b, 0, 0, 0x30]);
        // Under a non-zero session ID it is tried last, after the others.
        d.clear();
        multiplex::encode(9, &enc, &mut d);
        let keys = Keys {
            raw: vec![[1; 16]],
            ..Keys::default()
        };
        let got = decrypt_datagram(&d, &keys).unwrap();
        assert_eq!(got.session_id, 9);
        assert_eq!(got.key, KeyUsed::Default);
        d[6] ^= 1;
        match decrypt_datagram(&d, &keys) {
            Err(InspectError::NoKey { attempts, .. }) => assert_eq!(attempts.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
