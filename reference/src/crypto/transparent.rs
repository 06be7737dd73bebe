//! A transparent Cryptography Profile for tests (RFC 7016 2.2.3 and 3.2, without secrecy).
//!
//! Packets are framed exactly as the session layer expects but not encrypted:
//! the "encrypted" packet is the plain packet followed by its 16-bit simple
//! checksum (RFC 7425 4.7.3.1), so traces stay readable and corruption is
//! still caught. Certificates are opaque identities: an Endpoint
//! Discriminator selects a certificate when it equals it, and a certificate is
//! its own canonical EPD. Signatures are empty. Keying components are 8 random
//! bytes each, and become the session nonces. Everything is deterministic
//! given the injected generator.

use crate::crypto::error::CryptoError;
use crate::crypto::flash::checksum::checksum;
use crate::crypto::profile::{
    CryptoProfile, Decrypted, InitiatorKeying, PacketCipher, ResponderKeying, SessionKeys,
};
use crate::random::Random;

/// The length of a transparent keying component.
pub const COMPONENT_LEN: usize = 8;

/// A profile whose identity is an arbitrary byte string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparentProfile {
    certificate: Vec<u8>,
}

impl TransparentProfile {
    /// A profile whose certificate (and canonical EPD) is `identity`.
    pub fn new(identity: impl Into<Vec<u8>>) -> Self {
        TransparentProfile {
            certificate: identity.into(),
        }
    }
}

/// The transparent packet framing: plain packet, then its checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransparentCipher;

impl PacketCipher for TransparentCipher {
    fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        out.clear();
        out.extend_from_slice(plain);
        out.extend_from_slice(&checksum(plain).to_be_bytes());
        Ok(())
    }

    fn decrypt(&mut self, encrypted: &[u8], plain: &mut Vec<u8>) -> Result<Decrypted, CryptoError> {
        plain.clear();
        let Some(body_len) = encrypted.len().checked_sub(2) else {
            return Err(CryptoError::TooShort {
                len: encrypted.len(),
                min: 2,
            });
        };
        let (body, sum) = encrypted.split_at(body_len);
        let found = u16::from_be_bytes([sum[0], sum[1]]);
        let computed = checksum(body);
        if found != computed {
            return Err(CryptoError::BadChecksum { found, computed });
        }
        plain.extend_from_slice(body);
        Ok(Decrypted::default())
    }

    fn max_plain_len(&self, max_encrypted: usize) -> usize {
        max_encrypted.saturating_sub(2)
    }
}

struct TransparentInitiator {
    skic: Vec<u8>,
}

impl InitiatorKeying for TransparentInitiator {
    fn skic(&self) -> &[u8] {
        &self.skic
    }

    fn complete(&self, skrc: &[u8]) -> Result<SessionKeys, CryptoError> {
        check_component(skrc)?;
        Ok(SessionKeys {
            cipher: Box::new(TransparentCipher),
            near_nonce: self.skic.clone(),
            far_nonce: skrc.to_vec(),
            key_log: None,
        })
    }
}

fn check_component(c: &[u8]) -> Result<(), CryptoError> {
    if c.len() == COMPONENT_LEN {
        Ok(())
    } else {
        Err(CryptoError::BadOption {
            structure: crate::crypto::Structure::KeyingComponent,
            option_type: 0,
            reason: "a transparent keying component is 8 bytes",
        })
    }
}

fn component(rng: &mut dyn Random) -> Vec<u8> {
    let mut c = vec![0u8; COMPONENT_LEN];
    rng.fill(&mut c);
    c
}

impl CryptoProfile for TransparentProfile {
    fn name(&self) -> &'static str {
        "transparent"
    }

    fn near_certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn check_certificate(&self, _certificate: &[u8]) -> Result<(), CryptoError> {
        Ok(())
    }

    fn epd_selects_certificate(&self, epd: &[u8], certificate: &[u8]) -> Result<bool, CryptoError> {
        Ok(epd == certificate)
    }

    fn epd_selects_near(&self, epd: &[u8]) -> Result<bool, CryptoError> {
        Ok(epd == self.certificate)
    }

    fn canonical_epd(&self, certificate: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(certificate.to_vec())
    }

    fn sign(&self, _parts: &[&[u8]], _far_certificate: &[u8]) -> Vec<u8> {
        Vec::new()
    }

    fn verify(
        &self,
        _far_certificate: &[u8],
        _parts: &[&[u8]],
        _signature: &[u8],
    ) -> Result<(), CryptoError> {
        Ok(())
    }

    fn near_prevails_in_glare(&self, far_certificate: &[u8]) -> bool {
        self.certificate.as_slice() <= far_certificate
    }

    fn overrides_session(&self, existing: &[u8], incoming: &[u8]) -> bool {
        existing == incoming
    }

    fn default_cipher(&self) -> Box<dyn PacketCipher> {
        Box::new(TransparentCipher)
    }

    fn initiator_keying(
        &self,
        _responder_certificate: &[u8],
        rng: &mut dyn Random,
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError> {
        Ok(Box::new(TransparentInitiator {
            skic: component(rng),
        }))
    }

    fn responder_keying(
        &self,
        _initiator_certificate: &[u8],
        skic: &[u8],
        rng: &mut dyn Random,
    ) -> Result<ResponderKeying, CryptoError> {
        check_component(skic)?;
        let skrc = component(rng);
        Ok(ResponderKeying {
            keys: SessionKeys {
                cipher: Box::new(TransparentCipher),
                near_nonce: skrc.clone(),
                far_nonce: skic.to_vec(),
                key_log: None,
            },
            skrc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn packets_stay_readable_and_checked() {
        let mut c = TransparentCipher;
        let mut enc = Vec::new();
        c.encrypt(b"\x0b hello", &mut enc).unwrap();
        assert_eq!(&enc[..7], b"\x0b hello");
        let mut plain = Vec::new();
        c.decrypt(&enc, &mut plain).unwrap();
        assert_eq!(plain, b"\x0b hello");
        enc[1] ^= 1;
        assert_eq!(
            c.decrypt(&enc, &mut plain).unwrap_err().kind(),
            "bad_checksum"
        );
        assert_eq!(c.decrypt(&[1], &mut plain).unwrap_err().kind(), "too_short");
    }

    #[test]
    fn keying_gives_mirrored_nonces() {
        let a = TransparentProfile::new("alice");
        let b = TransparentProfile::new("bob");
        let mut rng = SeededRandom::new(3);
        let i = a.initiator_keying(b"bob", &mut rng).unwrap();
        let r = b.responder_keying(b"alice", i.skic(), &mut rng).unwrap();
        let k = i.complete(&r.skrc).unwrap();
        assert_eq!(k.near_nonce, r.keys.far_nonce);
        assert_eq!(k.far_nonce, r.keys.near_nonce);
        assert!(a.epd_selects_near(b"alice").unwrap());
        assert!(!a.epd_selects_near(b"bob").unwrap());
        assert!(a.near_prevails_in_glare(b"bob"));
        assert!(!b.near_prevails_in_glare(b"alice"));
    }
}
