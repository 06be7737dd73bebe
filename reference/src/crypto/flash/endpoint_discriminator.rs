//! Endpoint Discriminators, RFC 7425 section 4.4.
//!
//! An EPD is a sequence of Options: Required Hostname (0x00), Ancillary Data
//! (0x0a) and Fingerprint (0x0f), each at most once. Unknown options are
//! ignored. RFC 7425 calls an EPD a sequence of Options only; a Marker in one
//! is skipped, as rtmfp-cpp does. A second copy of one of the three options
//! (which the sender must not send) makes the EPD malformed
//! (`duplicate_option`), and a Fingerprint that is not 32 bytes is a
//! `bad_option`: neither can select anything.

use crate::crypto::error::{CryptoError, Structure};
use crate::wire::Reader;
use crate::wire::option::{self, OptionItem, RtmfpOption};

use super::certificate::{Certificate, FINGERPRINT_LEN, Fingerprint};

/// EPD option type codes (RFC 7425 4.4.2).
pub mod option_type {
    /// Required Hostname (4.4.2.1).
    pub const REQUIRED_HOSTNAME: u64 = 0x00;
    /// Ancillary Data (4.4.2.2): for Flash, the server URI.
    pub const ANCILLARY_DATA: u64 = 0x0a;
    /// Fingerprint (4.4.2.3).
    pub const FINGERPRINT: u64 = 0x0f;
}

/// The length of a Canonical Endpoint Discriminator (4.4.4).
pub const CANONICAL_LEN: usize = 2 + FINGERPRINT_LEN;

/// A decoded Endpoint Discriminator (RFC 7425 4.4.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointDiscriminator {
    /// Required Hostname (4.4.2.1).
    pub required_hostname: Option<Vec<u8>>,
    /// Ancillary Data (4.4.2.2).
    pub ancillary_data: Option<Vec<u8>>,
    /// Fingerprint (4.4.2.3).
    pub fingerprint: Option<Fingerprint>,
}

impl EndpointDiscriminator {
    /// Decodes an EPD.
    pub fn decode(bytes: &[u8]) -> Result<EndpointDiscriminator, CryptoError> {
        let structure = Structure::EndpointDiscriminator;
        let mut r = Reader::new(bytes, "endpoint discriminator");
        let mut epd = EndpointDiscriminator::default();
        while !r.is_empty() {
            let item =
                option::decode_item(&mut r).map_err(|e| CryptoError::malformed(structure, e))?;
            let OptionItem::Option(o) = item else {
                continue;
            };
            let option_type = o.option_type;
            let seen_before = match option_type {
                option_type::REQUIRED_HOSTNAME => epd.required_hostname.replace(o.value).is_some(),
                option_type::ANCILLARY_DATA => epd.ancillary_data.replace(o.value).is_some(),
                option_type::FINGERPRINT => {
                    let fp: Fingerprint =
                        o.value
                            .as_slice()
                            .try_into()
                            .map_err(|_| CryptoError::BadOption {
                                structure,
                                option_type,
                                reason: "fingerprint is not 32 bytes",
                            })?;
                    epd.fingerprint.replace(fp).is_some()
                }
                _ => false,
            };
            if seen_before {
                return Err(CryptoError::DuplicateOption {
                    structure,
                    option_type,
                });
            }
        }
        Ok(epd)
    }

    /// Encodes the EPD: Fingerprint, Ancillary Data, Required Hostname, in that order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(fp) = &self.fingerprint {
            RtmfpOption::new(option_type::FINGERPRINT, fp.to_vec()).encode(&mut out);
        }
        if let Some(a) = &self.ancillary_data {
            RtmfpOption::new(option_type::ANCILLARY_DATA, a.clone()).encode(&mut out);
        }
        if let Some(h) = &self.required_hostname {
            RtmfpOption::new(option_type::REQUIRED_HOSTNAME, h.clone()).encode(&mut out);
        }
        out
    }

    /// Whether this EPD selects `certificate`: the algorithm of RFC 7425 4.4.3, Figure 1.
    pub fn selects(&self, certificate: &Certificate) -> bool {
        if let Some(fp) = &self.fingerprint {
            // A Fingerprint decides alone, whatever else the EPD holds.
            return *fp == certificate.fingerprint;
        }
        if let Some(required) = &self.required_hostname
            && certificate.hostname.as_ref() != Some(required)
        {
            return false;
        }
        if self.ancillary_data.is_some() {
            return certificate.accepts_ancillary_data;
        }
        // Without any of the three options an EPD selects nothing.
        self.required_hostname.is_some()
    }
}

/// The Canonical Endpoint Discriminator of a fingerprint (4.4.4): exactly
/// `0x21 0x0f` and the 32 bytes, with both VLUs in their one-byte form.
pub fn canonical(fingerprint: &Fingerprint) -> [u8; CANONICAL_LEN] {
    let mut out = [0u8; CANONICAL_LEN];
    out[0] = 0x21;
    out[1] = option_type::FINGERPRINT as u8;
    out[2..].copy_from_slice(fingerprint);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::flash::certificate::CertificateBuilder;

    fn cert(hostname: Option<&str>, ancillary: bool) -> Certificate {
        let b = CertificateBuilder {
            hostname: hostname.map(|h| h.as_bytes().to_vec()),
            accepts_ancillary_data: ancillary,
            ephemeral_groups: vec![2],
            ..Default::default()
        };
        Certificate::decode(&b.encode()).unwrap()
    }

    #[test]
    fn figure_1_cases() {
        let server = cert(Some("h"), true);
        let other = cert(Some("g"), false);
        let epd = |h: Option<&str>, a: bool, fp: Option<Fingerprint>| EndpointDiscriminator {
            required_hostname: h.map(|h| h.as_bytes().to_vec()),
            ancillary_data: a.then(|| b"rtmfp://x/app".to_vec()),
            fingerprint: fp,
        };
        // Empty EPD selects nothing.
        assert!(!epd(None, false, None).selects(&server));
        // Fingerprint decides alone, even against a mismatching hostname.
        assert!(epd(Some("zz"), false, Some(server.fingerprint)).selects(&server));
        assert!(!epd(Some("h"), true, Some(other.fingerprint)).selects(&server));
        // Hostname must match exactly.
        assert!(epd(Some("h"), false, None).selects(&server));
        assert!(!epd(Some("g"), false, None).selects(&server));
        assert!(!epd(Some("h"), false, None).selects(&cert(None, true)));
        // Ancillary data needs Accepts Ancillary Data.
        assert!(epd(None, true, None).selects(&server));
        assert!(!epd(None, true, None).selects(&other));
        // Both: both must hold.
        assert!(epd(Some("h"), true, None).selects(&server));
        assert!(!epd(Some("g"), true, None).selects(&other));
    }

    #[test]
    fn canonical_epd_is_34_bytes() {
        let c = cert(None, false);
        let e = c.canonical_epd();
        assert_eq!(e.len(), 34);
        assert_eq!(&e[..2], &[0x21, 0x0f]);
        let d = EndpointDiscriminator::decode(&e).unwrap();
        assert_eq!(d.fingerprint, Some(c.fingerprint));
        assert!(d.selects(&c));
        assert_eq!(d.encode(), e);
    }

    #[test]
    fn malformed_epds() {
        assert_eq!(
            EndpointDiscriminator::decode(&[0x03, 0x0f, 1, 2])
                .unwrap_err()
                .kind(),
            "bad_option"
        );
        assert_eq!(
            EndpointDiscriminator::decode(&[0x02, 0x00, b'a', 0x02, 0x00, b'a'])
                .unwrap_err()
                .kind(),
            "duplicate_option"
        );
        assert_eq!(
            EndpointDiscriminator::decode(&[0x09, 0x0a])
                .unwrap_err()
                .kind(),
            "malformed"
        );
        // Unknown options and markers are skipped.
        let d = EndpointDiscriminator::decode(&[0x02, 0x33, 0x01, 0x00, 0x02, 0x00, b'a']).unwrap();
        assert_eq!(d.required_hostname.as_deref(), Some(&b"a"[..]));
    }
}
