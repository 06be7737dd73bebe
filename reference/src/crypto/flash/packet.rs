//! Packet encryption and verification, RFC 7425 sections 4.7.1 to 4.7.3.
//!
//! The encrypted packet is AES-128-CBC cipher blocks with a zero IV, followed
//! by a truncated HMAC-SHA256 of those blocks when HMAC is in use. Inside the
//! blocks: the session sequence number (VLU) when in use, the simple checksum
//! when HMAC is not in use, then the plain RTMFP packet padded with 0xff to a
//! whole number of blocks. The checksum covers everything after itself,
//! padding included.
//!
//! [`PacketKey`] is one direction's key and settings with no state: it
//! encrypts with whatever sequence number it is given and verifies without
//! replay protection, which is what a conformance tester crafting odd packets
//! needs. [`FlashPacketCipher`] pairs a sending and a receiving key with the
//! sending counter and the receiving [`ReplayWindow`].

use aes::Aes128;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use hmac::Mac;

use crate::crypto::error::CryptoError;
use crate::crypto::profile::{Decrypted, PacketCipher};
use crate::wire::{Reader, vlu};

use super::HmacSha256;
use super::checksum::checksum;
use super::default_key::DEFAULT_SESSION_KEY;
use super::sequence::ReplayWindow;

/// The AES block size.
pub const BLOCK: usize = 16;

/// How one direction of a session verifies its packets (RFC 7425 4.6.4, 4.6.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionSettings {
    /// `Some(n)`: an `n`-byte truncated HMAC (4..=32); `None`: the simple checksum.
    pub hmac_length: Option<usize>,
    /// Whether packets carry a session sequence number.
    pub sequence_numbers: bool,
}

impl DirectionSettings {
    /// The Default Session Key's settings: checksum, no sequence numbers (RFC 7425 4.1).
    pub const DEFAULT: DirectionSettings = DirectionSettings {
        hmac_length: None,
        sequence_numbers: false,
    };
}

/// One direction's key: AES-128 key, optional HMAC key, and settings.
#[derive(Clone)]
pub struct PacketKey {
    aes: Aes128,
    hmac: Option<(HmacSha256, usize)>,
    sequence_numbers: bool,
}

impl core::fmt::Debug for PacketKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketKey")
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

/// A verified, decrypted packet: where the plain RTMFP packet starts in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// Offset of the plain RTMFP packet (after the sequence number and checksum).
    pub packet_start: usize,
    /// The session sequence number, if the settings use them.
    pub sequence: Option<u64>,
}

impl PacketKey {
    /// A key for `settings`. `hmac_key` is used only if the settings use HMAC;
    /// an HMAC length outside 4..=32 is clamped into it.
    pub fn new(aes_key: &[u8; 16], hmac_key: &[u8], settings: DirectionSettings) -> PacketKey {
        let hmac = settings.hmac_length.map(|len| {
            let mac = <HmacSha256 as KeyInit>::new_from_slice(hmac_key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            (mac, len.clamp(4, 32))
        });
        PacketKey {
            aes: Aes128::new(aes_key.into()),
            hmac,
            sequence_numbers: settings.sequence_numbers,
        }
    }

    /// The Default Session Key (RFC 7425 4.1).
    pub fn default_key() -> PacketKey {
        PacketKey::new(&DEFAULT_SESSION_KEY, &[], DirectionSettings::DEFAULT)
    }

    /// This key's settings.
    pub fn settings(&self) -> DirectionSettings {
        DirectionSettings {
            hmac_length: self.hmac.as_ref().map(|(_, l)| *l),
            sequence_numbers: self.sequence_numbers,
        }
    }

    /// The plain-side bytes before the RTMFP packet when sending `sequence`.
    fn prefix_len(&self, sequence: Option<u64>) -> usize {
        sequence.map_or(0, vlu::encoded_len) + if self.hmac.is_none() { 2 } else { 0 }
    }

    /// The encrypted length of a `plain_len`-byte packet sent with `sequence`.
    pub fn encrypted_len(&self, plain_len: usize, sequence: Option<u64>) -> usize {
        let inner = (self.prefix_len(sequence) + plain_len).max(1);
        inner.div_ceil(BLOCK) * BLOCK + self.hmac.as_ref().map_or(0, |(_, l)| *l)
    }

    /// The largest plain packet that encrypts into `max_encrypted` bytes with
    /// `sequence` (0 when not even an empty packet fits).
    pub fn max_plain_len(&self, max_encrypted: usize, sequence: Option<u64>) -> usize {
        let hmac = self.hmac.as_ref().map_or(0, |(_, l)| *l);
        let blocks = max_encrypted.saturating_sub(hmac) / BLOCK;
        (blocks * BLOCK).saturating_sub(self.prefix_len(sequence))
    }

    /// Encrypts `plain` into `out` (cleared first), with session sequence
    /// number `sequence` if this key's settings use them (RFC 7425 4.7.2).
    ///
    /// `sequence` is ignored when the settings have no sequence numbers and
    /// taken as 0 when they do and it is `None`, so any number, repeated or
    /// not, can be sent.
    pub fn encrypt(&self, sequence: Option<u64>, plain: &[u8], out: &mut Vec<u8>) {
        let sequence = self.sequence_numbers.then(|| sequence.unwrap_or(0));
        out.clear();
        out.reserve(self.encrypted_len(plain.len(), sequence));
        if let Some(s) = sequence {
            vlu::encode(s, out);
        }
        let checksum_at = out.len();
        if self.hmac.is_none() {
            out.extend_from_slice(&[0, 0]);
        }
        out.extend_from_slice(plain);
        // Pad with 0xff to whole blocks, and to at least one block (RFC 7425 4.7.2).
        let padded = out.len().max(1).div_ceil(BLOCK) * BLOCK;
        out.resize(padded, 0xff);
        if self.hmac.is_none() {
            let sum = checksum(&out[checksum_at + 2..]);
            out[checksum_at..checksum_at + 2].copy_from_slice(&sum.to_be_bytes());
        }
        self.cbc_encrypt(out);
        if let Some((mac, len)) = &self.hmac {
            let mut mac = mac.clone();
            mac.update(out);
            let tag = mac.finalize().into_bytes();
            out.extend_from_slice(&tag[..*len]);
        }
    }

    /// Verifies `encrypted` and decrypts it into `plain` (cleared first),
    /// without any replay check (RFC 7425 4.7.2, 4.7.3.1, 4.7.3.2).
    ///
    /// `plain` receives every decrypted byte; [`Opened::packet_start`] says
    /// where the RTMFP packet begins.
    pub fn open(&self, encrypted: &[u8], plain: &mut Vec<u8>) -> Result<Opened, CryptoError> {
        plain.clear();
        let hmac_len = self.hmac.as_ref().map_or(0, |(_, l)| *l);
        let min = BLOCK + hmac_len;
        if encrypted.len() < min {
            return Err(CryptoError::TooShort {
                len: encrypted.len(),
                min,
            });
        }
        let (blocks, tag) = encrypted.split_at(encrypted.len() - hmac_len);
        if !blocks.len().is_multiple_of(BLOCK) {
            return Err(CryptoError::NotBlockAligned { len: blocks.len() });
        }
        if let Some((mac, _)) = &self.hmac {
            let mut mac = mac.clone();
            mac.update(blocks);
            mac.verify_truncated_left(tag)
                .map_err(|_| CryptoError::BadHmac)?;
        }
        plain.extend_from_slice(blocks);
        self.cbc_decrypt(plain);

        let mut r = Reader::new(plain, "Flash profile plain packet");
        let sequence = if self.sequence_numbers {
            Some(
                r.vlu("sessionSequenceNumber")
                    .map_err(CryptoError::BadSequenceNumber)?,
            )
        } else {
            None
        };
        if self.hmac.is_none() {
            let found = r
                .u16("checksum")
                .map_err(|_| CryptoError::PlainTooShort { field: "checksum" })?;
            let computed = checksum(&plain[r.offset()..]);
            if found != computed {
                return Err(CryptoError::BadChecksum { found, computed });
            }
        }
        Ok(Opened {
            packet_start: r.offset(),
            sequence,
        })
    }

    fn cbc_encrypt(&self, buf: &mut [u8]) {
        let mut mode =
            cbc::Encryptor::<Aes128>::inner_iv_init(self.aes.clone(), &Default::default());
        let (blocks, tail) = aes::Block::slice_as_chunks_mut(buf);
        debug_assert!(tail.is_empty());
        mode.encrypt_blocks(blocks);
    }

    fn cbc_decrypt(&self, buf: &mut [u8]) {
        let mut mode =
            cbc::Decryptor::<Aes128>::inner_iv_init(self.aes.clone(), &Default::default());
        let (blocks, tail) = aes::Block::slice_as_chunks_mut(buf);
        debug_assert!(tail.is_empty());
        mode.decrypt_blocks(blocks);
    }
}

/// A session's packet cipher: a sending key with its sequence counter and a
/// receiving key with its anti-replay window (RFC 7425 4.7).
#[derive(Debug, Clone)]
pub struct FlashPacketCipher {
    send: PacketKey,
    receive: PacketKey,
    next_sequence: Option<u64>,
    window: ReplayWindow,
}

impl FlashPacketCipher {
    /// A cipher sending with `send` and receiving with `receive`. Session
    /// sequence numbers start at 0 (RFC 7425 4.6.6).
    pub fn new(send: PacketKey, receive: PacketKey) -> Self {
        FlashPacketCipher {
            send,
            receive,
            next_sequence: Some(0),
            window: ReplayWindow::new(),
        }
    }

    /// The Default Session Key in both directions (RFC 7425 4.1).
    pub fn default_key() -> Self {
        FlashPacketCipher::new(PacketKey::default_key(), PacketKey::default_key())
    }

    /// The sending key.
    pub fn send_key(&self) -> &PacketKey {
        &self.send
    }

    /// The receiving key.
    pub fn receive_key(&self) -> &PacketKey {
        &self.receive
    }

    /// The sequence number the next packet will carry, if the sending side uses them.
    pub fn next_sequence(&self) -> Option<u64> {
        if self.send.sequence_numbers {
            self.next_sequence
        } else {
            None
        }
    }

    /// The receive side's anti-replay window.
    pub fn window(&self) -> &ReplayWindow {
        &self.window
    }
}

impl PacketCipher for FlashPacketCipher {
    fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let sequence = if self.send.sequence_numbers {
            let s = self.next_sequence.ok_or(CryptoError::SequenceExhausted)?;
            self.next_sequence = s.checked_add(1);
            Some(s)
        } else {
            None
        };
        self.send.encrypt(sequence, plain, out);
        Ok(())
    }

    fn decrypt(&mut self, encrypted: &[u8], plain: &mut Vec<u8>) -> Result<Decrypted, CryptoError> {
        let opened = self.receive.open(encrypted, plain)?;
        if let Some(seq) = opened.sequence {
            self.window.check_and_accept(seq)?;
        }
        plain.drain(..opened.packet_start);
        Ok(Decrypted {
            session_sequence_number: opened.sequence,
        })
    }

    fn max_plain_len(&self, max_encrypted: usize) -> usize {
        self.send.max_plain_len(max_encrypted, self.next_sequence())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hmac: Option<usize>, sseq: bool) -> DirectionSettings {
        DirectionSettings {
            hmac_length: hmac,
            sequence_numbers: sseq,
        }
    }

    #[test]
    fn padding_and_checksum_layout_rfc7425_4_7_2() {
        // A 3-byte packet under the default key: checksum, packet, 11 bytes of 0xff.
        let key = PacketKey::default_key();
        let mut enc = Vec::new();
        key.encrypt(None, &[0x0b, 0x01, 0x02], &mut enc);
        assert_eq!(enc.len(), 16);
        let mut plain = Vec::new();
        let o = key.open(&enc, &mut plain).unwrap();
        assert_eq!(o.packet_start, 2);
        assert_eq!(&plain[2..5], &[0x0b, 0x01, 0x02]);
        assert!(plain[5..].iter().all(|&b| b == 0xff));
        assert_eq!(
            u16::from_be_bytes([plain[0], plain[1]]),
            checksum(&plain[2..])
        );
    }

    #[test]
    fn every_configuration_round_trips() {
        for hmac in [None, Some(4), Some(10), Some(16), Some(32)] {
            for sseq in [false, true] {
                let s = settings(hmac, sseq);
                let key = PacketKey::new(&[7; 16], &[9; 32], s);
                let mut c = FlashPacketCipher::new(key.clone(), key);
                for len in [0usize, 1, 13, 14, 15, 16, 17, 100, 1200] {
                    let packet: Vec<u8> = (0..len).map(|i| i as u8).collect();
                    let mut enc = Vec::new();
                    c.encrypt(&packet, &mut enc).unwrap();
                    assert_eq!(
                        enc.len(),
                        c.send_key()
                            .encrypted_len(len, c.next_sequence().map(|n| n - 1))
                    );
                    let mut plain = Vec::new();
                    let d = c.decrypt(&enc, &mut plain).unwrap();
                    assert_eq!(&plain[..len], &packet[..], "{s:?} len {len}");
                    assert!(plain[len..].iter().all(|&b| b == 0xff));
                    assert_eq!(d.session_sequence_number.is_some(), sseq);
                    // Replays are refused when sequence numbers are on.
                    let again = c.decrypt(&enc, &mut plain);
                    assert_eq!(again.is_err(), sseq);
                }
            }
        }
    }

    #[test]
    fn max_plain_len_fits() {
        for hmac in [None, Some(4), Some(32)] {
            for sseq in [None, Some(0), Some(200), Some(u64::MAX)] {
                let key = PacketKey::new(&[1; 16], &[2; 32], settings(hmac, sseq.is_some()));
                for budget in [16usize, 40, 1200, 1472] {
                    let n = key.max_plain_len(budget, sseq);
                    if key.encrypted_len(0, sseq) > budget {
                        assert_eq!(n, 0);
                        continue;
                    }
                    assert!(key.encrypted_len(n, sseq) <= budget);
                    assert!(key.encrypted_len(n + 1, sseq) > budget);
                }
            }
        }
    }

    #[test]
    fn bad_packets_are_typed_errors() {
        let key = PacketKey::new(&[3; 16], &[4; 32], settings(Some(8), true));
        let mut enc = Vec::new();
        key.encrypt(Some(1), b"hello, world: two blocks or more", &mut enc);
        assert_eq!(enc.len(), 48 + 8);
        let mut plain = Vec::new();
        let kind = |e: &[u8], k: &PacketKey| k.open(e, &mut Vec::new()).unwrap_err().kind();
        assert_eq!(kind(&enc[..23], &key), "too_short");
        assert_eq!(kind(&enc[1..], &key), "not_block_aligned");
        let mut flipped = enc.clone();
        flipped[3] ^= 1;
        assert_eq!(kind(&flipped, &key), "bad_hmac");
        let mut tag = enc.clone();
        *tag.last_mut().unwrap() ^= 0x80;
        assert_eq!(kind(&tag, &key), "bad_hmac");
        key.open(&enc, &mut plain).unwrap();

        let ck = PacketKey::new(&[3; 16], &[], settings(None, false));
        ck.encrypt(None, b"hello", &mut enc);
        let mut flipped = enc.clone();
        flipped[15] ^= 1;
        assert_eq!(kind(&flipped, &ck), "bad_checksum");
    }

    #[test]
    fn odd_checksum_lengths_with_sequence_numbers() {
        // Sequence 0 is one VLU byte, so the checksum covers 13 bytes of a 16-byte block.
        let key = PacketKey::new(&[5; 16], &[], settings(None, true));
        let mut enc = Vec::new();
        key.encrypt(Some(0), &[0x8d, 1, 2], &mut enc);
        let mut plain = Vec::new();
        let o = key.open(&enc, &mut plain).unwrap();
        assert_eq!(o.packet_start, 3);
        assert_eq!(o.sequence, Some(0));
        assert_eq!(
            u16::from_be_bytes([plain[1], plain[2]]),
            checksum(&plain[3..])
        );
    }
}
