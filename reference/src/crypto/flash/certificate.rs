//! Certificates, RFC 7425 sections 4.3.1 to 4.3.4, 4.3.6 and 4.3.7.
//!
//! A certificate is a sequence of Options and Markers. Everything before the
//! first Marker is the canonical section; its SHA-256 hash is the fingerprint
//! (the peer ID). Hostname, Accepts Ancillary Data, Supported Ephemeral DH
//! Group and Static DH Public Key count only inside the canonical section;
//! unknown options are ignored wherever they are.
//!
//! Decisions where RFC 7425 says what a sender must do but not what a
//! receiver does with a violation:
//! - a second Hostname in the canonical section makes the certificate
//!   malformed (`duplicate_option`), so two ends can never read different
//!   hostnames out of one certificate;
//! - static keys and ephemeral groups together make it malformed
//!   (`mixed_key_modes`), since no public key selection of 4.6.1 applies;
//! - several static keys for one group (SHOULD NOT, behaviour undefined): the
//!   first one is used;
//! - a certificate with neither static keys nor ephemeral groups is well formed
//!   (and so authentic, 4.3.4) but no session can be keyed with it
//!   (`no_common_group` at keying time).

use sha2::{Digest, Sha256};

use crate::crypto::error::{CryptoError, Structure};
use crate::wire::option::{self, OptionItem, RtmfpOption};
use crate::wire::{Reader, vlu};

/// Certificate option type codes (RFC 7425 4.3.3).
pub mod option_type {
    /// Hostname (4.3.3.1), canonical section only, at most once.
    pub const HOSTNAME: u64 = 0x00;
    /// Accepts Ancillary Data (4.3.3.2), canonical section only.
    pub const ACCEPTS_ANCILLARY_DATA: u64 = 0x0a;
    /// Extra Randomness (4.3.3.3), anywhere.
    pub const EXTRA_RANDOMNESS: u64 = 0x0e;
    /// Supported Ephemeral Diffie-Hellman Group (4.3.3.4), canonical section only.
    pub const SUPPORTED_EPHEMERAL_GROUP: u64 = 0x15;
    /// Static Diffie-Hellman Public Key (4.3.3.5), canonical section only.
    pub const STATIC_PUBLIC_KEY: u64 = 0x1d;
}

/// The length of a fingerprint: a SHA-256 hash (4.3.2).
pub const FINGERPRINT_LEN: usize = 32;

/// A certificate's fingerprint, also called its peer ID (4.3.2).
pub type Fingerprint = [u8; FINGERPRINT_LEN];

/// How a certificate's holder does Diffie-Hellman (4.3.3.4, 4.3.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Static public keys in the certificate.
    Static,
    /// A fresh key per session, in one of the listed groups.
    Ephemeral,
    /// Neither: the certificate cannot be used for keying.
    None,
}

/// A decoded certificate (RFC 7425 4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The whole encoding, as received.
    pub bytes: Vec<u8>,
    /// The length of the canonical section (4.3.1).
    pub canonical_len: usize,
    /// SHA-256 of the canonical section (4.3.2).
    pub fingerprint: Fingerprint,
    /// The Hostname option (4.3.3.1), if in the canonical section.
    pub hostname: Option<Vec<u8>>,
    /// Whether the canonical section has Accepts Ancillary Data (4.3.3.2).
    pub accepts_ancillary_data: bool,
    /// Supported Ephemeral DH Group IDs in the canonical section, in order (4.3.3.4).
    pub ephemeral_groups: Vec<u64>,
    /// Static DH public keys in the canonical section, in order, as (group ID, key) (4.3.3.5).
    pub static_keys: Vec<(u64, Vec<u8>)>,
}

/// Reads a value that must be exactly one VLU.
pub(crate) fn value_as_single_vlu(
    structure: Structure,
    option: &RtmfpOption,
    what: &'static str,
) -> Result<u64, CryptoError> {
    match vlu::decode(&option.value) {
        Ok((v, len)) if len == option.value.len() => Ok(v),
        Ok(_) => Err(CryptoError::BadOption {
            structure,
            option_type: option.option_type,
            reason: "trailing bytes after the VLU",
        }),
        Err(_) => Err(CryptoError::BadOption {
            structure,
            option_type: option.option_type,
            reason: what,
        }),
    }
}

/// Splits a value into a leading VLU group ID and the rest.
pub(crate) fn value_as_group_and_key(
    structure: Structure,
    option: &RtmfpOption,
) -> Result<(u64, &[u8]), CryptoError> {
    match vlu::decode(&option.value) {
        Ok((group, len)) => Ok((group, &option.value[len..])),
        Err(_) => Err(CryptoError::BadOption {
            structure,
            option_type: option.option_type,
            reason: "group ID is not a VLU",
        }),
    }
}

impl Certificate {
    /// Decodes a certificate; any properly encoded certificate is authentic (4.3.4).
    pub fn decode(bytes: &[u8]) -> Result<Certificate, CryptoError> {
        let structure = Structure::Certificate;
        let mut r = Reader::new(bytes, "certificate");
        let mut canonical_len = None;
        let mut hostname = None;
        let mut accepts_ancillary_data = false;
        let mut ephemeral_groups = Vec::new();
        let mut static_keys: Vec<(u64, Vec<u8>)> = Vec::new();
        while !r.is_empty() {
            let start = r.offset();
            let item =
                option::decode_item(&mut r).map_err(|e| CryptoError::malformed(structure, e))?;
            let option = match item {
                OptionItem::Marker => {
                    canonical_len.get_or_insert(start);
                    continue;
                }
                OptionItem::Option(o) => o,
            };
            if canonical_len.is_some() {
                // Outside the canonical section every option defined so far is
                // either ignored there or carries no meaning (4.3.3).
                continue;
            }
            match option.option_type {
                option_type::HOSTNAME => {
                    if hostname.is_some() {
                        return Err(CryptoError::DuplicateOption {
                            structure,
                            option_type: option.option_type,
                        });
                    }
                    hostname = Some(option.value);
                }
                option_type::ACCEPTS_ANCILLARY_DATA => accepts_ancillary_data = true,
                option_type::SUPPORTED_EPHEMERAL_GROUP => {
                    ephemeral_groups.push(value_as_single_vlu(
                        structure,
                        &option,
                        "group ID is not a VLU",
                    )?);
                }
                option_type::STATIC_PUBLIC_KEY => {
                    let (group, key) = value_as_group_and_key(structure, &option)?;
                    static_keys.push((group, key.to_vec()));
                }
                // Extra Randomness and unknown options: no meaning to decode.
                _ => {}
            }
        }
        if !ephemeral_groups.is_empty() && !static_keys.is_empty() {
            return Err(CryptoError::MixedKeyModes);
        }
        let canonical_len = canonical_len.unwrap_or(bytes.len());
        Ok(Certificate {
            bytes: bytes.to_vec(),
            canonical_len,
            fingerprint: fingerprint_of(&bytes[..canonical_len]),
            hostname,
            accepts_ancillary_data,
            ephemeral_groups,
            static_keys,
        })
    }

    /// The canonical section (4.3.1).
    pub fn canonical_section(&self) -> &[u8] {
        &self.bytes[..self.canonical_len]
    }

    /// How this certificate's holder does Diffie-Hellman.
    pub fn key_mode(&self) -> KeyMode {
        if !self.static_keys.is_empty() {
            KeyMode::Static
        } else if !self.ephemeral_groups.is_empty() {
            KeyMode::Ephemeral
        } else {
            KeyMode::None
        }
    }

    /// The first static public key for `group`, if any.
    pub fn static_key(&self, group: u64) -> Option<&[u8]> {
        self.static_keys
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, k)| k.as_slice())
    }

    /// Whether the holder can key a session in `group`: it has a static key
    /// for it or lists it as an ephemeral group.
    pub fn supports_group(&self, group: u64) -> bool {
        match self.key_mode() {
            KeyMode::Static => self.static_key(group).is_some(),
            KeyMode::Ephemeral => self.ephemeral_groups.contains(&group),
            KeyMode::None => false,
        }
    }

    /// The Canonical Endpoint Discriminator for this certificate (4.4.4).
    pub fn canonical_epd(&self) -> [u8; 34] {
        super::endpoint_discriminator::canonical(&self.fingerprint)
    }
}

/// The fingerprint of a canonical section: its SHA-256 hash (4.3.2).
pub fn fingerprint_of(canonical_section: &[u8]) -> Fingerprint {
    Sha256::digest(canonical_section).into()
}

/// A certificate's contents, to encode (4.3.1, 4.3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateBuilder {
    /// Hostname option.
    pub hostname: Option<Vec<u8>>,
    /// Accepts Ancillary Data option.
    pub accepts_ancillary_data: bool,
    /// Supported Ephemeral DH Group options, in preference order.
    pub ephemeral_groups: Vec<u64>,
    /// Static DH Public Key options, (group ID, public key), in preference order.
    pub static_keys: Vec<(u64, Vec<u8>)>,
    /// Extra Randomness option in the canonical section (makes the fingerprint unique).
    pub extra_randomness: Option<Vec<u8>>,
}

impl CertificateBuilder {
    /// Encodes the canonical section: hostname, accepts ancillary data, key
    /// options, extra randomness. No Marker and nothing after one.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(h) = &self.hostname {
            RtmfpOption::new(option_type::HOSTNAME, h.clone()).encode(&mut out);
        }
        if self.accepts_ancillary_data {
            RtmfpOption::new(option_type::ACCEPTS_ANCILLARY_DATA, Vec::new()).encode(&mut out);
        }
        for &g in &self.ephemeral_groups {
            RtmfpOption::new(option_type::SUPPORTED_EPHEMERAL_GROUP, vlu::to_vec(g))
                .encode(&mut out);
        }
        for (g, key) in &self.static_keys {
            let mut value = vlu::to_vec(*g);
            value.extend_from_slice(key);
            RtmfpOption::new(option_type::STATIC_PUBLIC_KEY, value).encode(&mut out);
        }
        if let Some(x) = &self.extra_randomness {
            RtmfpOption::new(option_type::EXTRA_RANDOMNESS, x.clone()).encode(&mut out);
        }
        out
    }
}

/// Glare resolution (4.3.6): whether the near end prevails as Initiator.
///
/// Bytewise unsigned lexicographic order, a proper prefix first; the near end
/// prevails if its certificate orders before the far one or equals it.
pub fn near_prevails_in_glare(near: &[u8], far: &[u8]) -> bool {
    // Rust's slice ordering is exactly this order.
    near <= far
}

/// Session override (4.3.7): a new session overrides an existing one only if
/// their certificates are identical.
pub fn overrides_session(existing: &[u8], incoming: &[u8]) -> bool {
    existing == incoming
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_section_ends_at_the_first_marker() {
        // RFC 7425 4.3.1: hostname "a", marker, then a hostname that must be ignored.
        let bytes = [0x02, 0x00, b'a', 0x00, 0x02, 0x00, b'b', 0x01, 0x0a];
        let c = Certificate::decode(&bytes).unwrap();
        assert_eq!(c.canonical_len, 3);
        assert_eq!(c.hostname.as_deref(), Some(&b"a"[..]));
        // Accepts Ancillary Data after the marker is ignored (4.3.3.2).
        assert!(!c.accepts_ancillary_data);
        assert_eq!(c.fingerprint, fingerprint_of(&bytes[..3]));
        assert_eq!(c.key_mode(), KeyMode::None);
    }

    #[test]
    fn no_marker_means_all_canonical() {
        let c = Certificate::decode(&[0x01, 0x0a, 0x02, 0x15, 0x02]).unwrap();
        assert_eq!(c.canonical_len, 5);
        assert!(c.accepts_ancillary_data);
        assert_eq!(c.ephemeral_groups, vec![2]);
        assert!(c.supports_group(2));
        assert!(!c.supports_group(14));
    }

    #[test]
    fn violations_are_typed_errors() {
        let dup = [0x02, 0x00, b'a', 0x02, 0x00, b'b'];
        assert_eq!(
            Certificate::decode(&dup).unwrap_err().kind(),
            "duplicate_option"
        );
        let mixed = [0x02, 0x15, 0x02, 0x03, 0x1d, 0x02, 0x07];
        assert_eq!(
            Certificate::decode(&mixed).unwrap_err().kind(),
            "mixed_key_modes"
        );
        let truncated = [0x05, 0x00, b'a'];
        let e = Certificate::decode(&truncated).unwrap_err();
        assert_eq!(e.kind(), "malformed");
        let bad_group = [0x01, 0x15];
        assert_eq!(
            Certificate::decode(&bad_group).unwrap_err().kind(),
            "bad_option"
        );
    }

    #[test]
    fn builder_round_trips() {
        let b = CertificateBuilder {
            hostname: Some(b"host".to_vec()),
            accepts_ancillary_data: true,
            ephemeral_groups: vec![16, 2],
            static_keys: vec![],
            extra_randomness: Some(vec![7; 8]),
        };
        let c = Certificate::decode(&b.encode()).unwrap();
        assert_eq!(c.hostname.as_deref(), Some(&b"host"[..]));
        assert_eq!(c.ephemeral_groups, vec![16, 2]);
        assert_eq!(c.key_mode(), KeyMode::Ephemeral);
    }

    #[test]
    fn glare_order_rfc7425_4_3_6() {
        assert!(near_prevails_in_glare(&[1, 2], &[1, 3]));
        assert!(!near_prevails_in_glare(&[1, 3], &[1, 2]));
        // Shorter first when one is a prefix of the other.
        assert!(near_prevails_in_glare(&[1, 2], &[1, 2, 0]));
        assert!(!near_prevails_in_glare(&[1, 2, 0], &[1, 2]));
        // Bytes are unsigned.
        assert!(near_prevails_in_glare(&[0x7f], &[0x80]));
        // Identical: the near end prevails.
        assert!(near_prevails_in_glare(&[5], &[5]));
        assert!(overrides_session(&[5], &[5]));
        assert!(!overrides_session(&[5], &[5, 0]));
    }
}
