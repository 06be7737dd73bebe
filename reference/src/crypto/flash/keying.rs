//! Session Keying Components and their negotiation, RFC 7425 sections 4.5, 4.6.4 and 4.6.6.
//!
//! The Session Key Initiator Component (SKIC) and Session Key Responder
//! Component (SKRC) share one format: a sequence of Options. Unknown options
//! are ignored (4.5.2); a Marker is skipped. Ephemeral DH Public Key and DH
//! Group Select must not be sent twice: a second copy makes the component
//! malformed. For Extra Randomness, HMAC Negotiation and Session Sequence
//! Number Negotiation, which have no such rule, the first copy counts.
//! Reserved flag bits are ignored. An option whose value does not have its
//! defined shape (a missing VLU, trailing bytes) is a `bad_option`.

use crate::crypto::error::{CryptoError, Structure};
use crate::wire::option::{self, OptionItem, RtmfpOption};
use crate::wire::{Reader, vlu};

use super::certificate::{value_as_group_and_key, value_as_single_vlu};
use super::packet::DirectionSettings;

/// Keying component option type codes (RFC 7425 4.5.2).
pub mod option_type {
    /// Ephemeral Diffie-Hellman Public Key (4.5.2.1).
    pub const EPHEMERAL_PUBLIC_KEY: u64 = 0x0d;
    /// Extra Randomness (4.5.2.2).
    pub const EXTRA_RANDOMNESS: u64 = 0x0e;
    /// Diffie-Hellman Group Select (4.5.2.3).
    pub const GROUP_SELECT: u64 = 0x1d;
    /// HMAC Negotiation (4.5.2.4).
    pub const HMAC_NEGOTIATION: u64 = 0x1a;
    /// Session Sequence Number Negotiation (4.5.2.5).
    pub const SSEQ_NEGOTIATION: u64 = 0x1e;
}

/// The shortest and longest HMAC an end may negotiate to send (4.5.2.4).
pub const HMAC_LENGTHS: core::ops::RangeInclusive<u64> = 4..=32;

/// The three flags of HMAC and Session Sequence Number Negotiation (4.5.2.4, 4.5.2.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NegotiationFlags {
    /// SND: the sender will always send it.
    pub send_always: bool,
    /// SOR: the sender will send it if the other end requests it.
    pub send_on_request: bool,
    /// REQ: the sender asks the other end to send it.
    pub request: bool,
}

impl NegotiationFlags {
    const SND: u8 = 0x04;
    const SOR: u8 = 0x02;
    const REQ: u8 = 0x01;

    /// Reads the flags from their byte, ignoring the five reserved bits.
    pub fn from_byte(b: u8) -> Self {
        NegotiationFlags {
            send_always: b & Self::SND != 0,
            send_on_request: b & Self::SOR != 0,
            request: b & Self::REQ != 0,
        }
    }

    /// The flags byte, reserved bits zero.
    pub fn to_byte(self) -> u8 {
        (if self.send_always { Self::SND } else { 0 })
            | (if self.send_on_request { Self::SOR } else { 0 })
            | (if self.request { Self::REQ } else { 0 })
    }

    /// Whether an end with these flags sends, given the other end's flags (4.6.4, 4.6.6).
    pub fn sends_to(self, other: NegotiationFlags) -> bool {
        self.send_always || (self.send_on_request && other.request)
    }
}

/// An HMAC Negotiation option (4.5.2.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HmacNegotiation {
    /// SND, SOR and REQ.
    pub flags: NegotiationFlags,
    /// The length of the HMAC the sender will send, if it sends one.
    pub hmac_length: u64,
}

/// A decoded Session Keying Component (RFC 7425 4.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyingComponent {
    /// Ephemeral DH Public Key (4.5.2.1): group ID and public key.
    pub ephemeral_public_key: Option<(u64, Vec<u8>)>,
    /// Extra Randomness (4.5.2.2).
    pub extra_randomness: Option<Vec<u8>>,
    /// DH Group Select (4.5.2.3).
    pub group_select: Option<u64>,
    /// HMAC Negotiation (4.5.2.4). Absent means all flags clear.
    pub hmac: Option<HmacNegotiation>,
    /// Session Sequence Number Negotiation (4.5.2.5). Absent means all flags clear.
    pub sseq: Option<NegotiationFlags>,
}

impl KeyingComponent {
    /// Decodes a keying component.
    pub fn decode(bytes: &[u8]) -> Result<KeyingComponent, CryptoError> {
        let structure = Structure::KeyingComponent;
        let mut r = Reader::new(bytes, "session keying component");
        let mut c = KeyingComponent::default();
        while !r.is_empty() {
            let item =
                option::decode_item(&mut r).map_err(|e| CryptoError::malformed(structure, e))?;
            let OptionItem::Option(o) = item else {
                continue;
            };
            let duplicate = CryptoError::DuplicateOption {
                structure,
                option_type: o.option_type,
            };
            match o.option_type {
                option_type::EPHEMERAL_PUBLIC_KEY => {
                    let (group, key) = value_as_group_and_key(structure, &o)?;
                    if c.ephemeral_public_key
                        .replace((group, key.to_vec()))
                        .is_some()
                    {
                        return Err(duplicate);
                    }
                }
                option_type::GROUP_SELECT => {
                    let group = value_as_single_vlu(structure, &o, "group ID is not a VLU")?;
                    if c.group_select.replace(group).is_some() {
                        return Err(duplicate);
                    }
                }
                option_type::EXTRA_RANDOMNESS => {
                    c.extra_randomness.get_or_insert(o.value);
                }
                option_type::HMAC_NEGOTIATION => {
                    let h = decode_hmac_negotiation(&o)?;
                    c.hmac.get_or_insert(h);
                }
                option_type::SSEQ_NEGOTIATION => {
                    let [flags] = o.value.as_slice() else {
                        return Err(CryptoError::BadOption {
                            structure,
                            option_type: o.option_type,
                            reason: "value is not exactly one flags byte",
                        });
                    };
                    c.sseq.get_or_insert(NegotiationFlags::from_byte(*flags));
                }
                _ => {}
            }
        }
        Ok(c)
    }

    /// Encodes the component: public key or group select, extra randomness,
    /// HMAC negotiation, session sequence number negotiation.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some((group, key)) = &self.ephemeral_public_key {
            let mut v = vlu::to_vec(*group);
            v.extend_from_slice(key);
            RtmfpOption::new(option_type::EPHEMERAL_PUBLIC_KEY, v).encode(&mut out);
        }
        if let Some(group) = self.group_select {
            RtmfpOption::new(option_type::GROUP_SELECT, vlu::to_vec(group)).encode(&mut out);
        }
        if let Some(x) = &self.extra_randomness {
            RtmfpOption::new(option_type::EXTRA_RANDOMNESS, x.clone()).encode(&mut out);
        }
        if let Some(h) = &self.hmac {
            let mut v = vec![h.flags.to_byte()];
            vlu::encode(h.hmac_length, &mut v);
            RtmfpOption::new(option_type::HMAC_NEGOTIATION, v).encode(&mut out);
        }
        if let Some(f) = &self.sseq {
            RtmfpOption::new(option_type::SSEQ_NEGOTIATION, vec![f.to_byte()]).encode(&mut out);
        }
        out
    }

    fn hmac_or_default(&self) -> HmacNegotiation {
        self.hmac.unwrap_or_default()
    }

    fn sseq_or_default(&self) -> NegotiationFlags {
        self.sseq.unwrap_or_default()
    }
}

fn decode_hmac_negotiation(o: &RtmfpOption) -> Result<HmacNegotiation, CryptoError> {
    let bad = |reason| CryptoError::BadOption {
        structure: Structure::KeyingComponent,
        option_type: o.option_type,
        reason,
    };
    let Some((&flags, rest)) = o.value.split_first() else {
        return Err(bad("missing flags byte"));
    };
    let (hmac_length, len) = vlu::decode(rest).map_err(|_| bad("hmacLength is not a VLU"))?;
    if len != rest.len() {
        return Err(bad("trailing bytes after hmacLength"));
    }
    Ok(HmacNegotiation {
        flags: NegotiationFlags::from_byte(flags),
        hmac_length,
    })
}

/// What the near end must have from the far end (its "configured to require" of 4.6.4 and 4.6.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Reject a far end that will not send an HMAC.
    pub hmac: bool,
    /// Reject a far end that will not send session sequence numbers.
    pub sequence_numbers: bool,
}

/// The per-direction packet settings both ends arrive at (RFC 7425 4.6.4, 4.6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// How the near end sends.
    pub send: DirectionSettings,
    /// How the near end receives (how the far end sends).
    pub receive: DirectionSettings,
}

/// Combines the near component (as sent) with the far one (as received).
///
/// An end sends an HMAC (or session sequence numbers) if its SND flag is set,
/// or its SOR flag is set and the other end's REQ flag is. A far end that will
/// send an HMAC must announce a length in 4..=32. A far end that will not send
/// what the near end requires is refused.
pub fn negotiate(
    near: &KeyingComponent,
    far: &KeyingComponent,
    require: Requirements,
) -> Result<Negotiated, CryptoError> {
    let (near_hmac, far_hmac) = (near.hmac_or_default(), far.hmac_or_default());
    let (near_sseq, far_sseq) = (near.sseq_or_default(), far.sseq_or_default());

    let far_sends_sseq = far_sseq.sends_to(near_sseq);
    if require.sequence_numbers && !far_sends_sseq {
        return Err(CryptoError::SequenceNumbersRefused);
    }
    let far_sends_hmac = far_hmac.flags.sends_to(near_hmac.flags);
    if require.hmac && !far_sends_hmac {
        return Err(CryptoError::HmacRefused);
    }
    let receive_hmac = if far_sends_hmac {
        if !HMAC_LENGTHS.contains(&far_hmac.hmac_length) {
            return Err(CryptoError::BadHmacLength {
                length: far_hmac.hmac_length,
            });
        }
        Some(far_hmac.hmac_length as usize)
    } else {
        None
    };
    let send_hmac = if near_hmac.flags.sends_to(far_hmac.flags) {
        // Our own length is checked when the configuration is made; clamp anyway.
        Some(near_hmac.hmac_length.clamp(4, 32) as usize)
    } else {
        None
    };
    Ok(Negotiated {
        send: DirectionSettings {
            hmac_length: send_hmac,
            sequence_numbers: near_sseq.sends_to(far_sseq),
        },
        receive: DirectionSettings {
            hmac_length: receive_hmac,
            sequence_numbers: far_sends_sseq,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(hmac: Option<(u8, u64)>, sseq: Option<u8>) -> KeyingComponent {
        KeyingComponent {
            hmac: hmac.map(|(f, l)| HmacNegotiation {
                flags: NegotiationFlags::from_byte(f),
                hmac_length: l,
            }),
            sseq: sseq.map(NegotiationFlags::from_byte),
            ..Default::default()
        }
    }

    #[test]
    fn rtmfp_cpp_skic_decodes() {
        // The tail of the SKIC in the captured IIKeying: HMAC negotiation
        // SND|SOR|REQ with length 16, then SSEQ negotiation SND|SOR|REQ.
        let c = KeyingComponent::decode(&[0x03, 0x1a, 0x07, 0x10, 0x02, 0x1e, 0x07]).unwrap();
        let h = c.hmac.unwrap();
        assert!(h.flags.send_always && h.flags.send_on_request && h.flags.request);
        assert_eq!(h.hmac_length, 16);
        assert_eq!(c.sseq.unwrap().to_byte(), 0x07);
        assert_eq!(c.encode(), [0x03, 0x1a, 0x07, 0x10, 0x02, 0x1e, 0x07]);
    }

    #[test]
    fn on_request_sends_only_when_requested() {
        // RFC 7425 4.6.4: SOR alone sends iff the other end sets REQ.
        let near = comp(Some((0x02, 10)), Some(0x02));
        let far_requests = comp(Some((0x01, 0)), Some(0x01));
        let n = negotiate(&near, &far_requests, Requirements::default()).unwrap();
        assert_eq!(n.send.hmac_length, Some(10));
        assert!(n.send.sequence_numbers);
        assert_eq!(n.receive.hmac_length, None);
        assert!(!n.receive.sequence_numbers);
        let far_silent = comp(None, None);
        let n = negotiate(&near, &far_silent, Requirements::default()).unwrap();
        assert_eq!(n.send.hmac_length, None);
        assert!(!n.send.sequence_numbers);
    }

    #[test]
    fn requirements_and_lengths() {
        let near = comp(Some((0x07, 16)), Some(0x07));
        let req = Requirements {
            hmac: true,
            sequence_numbers: true,
        };
        assert_eq!(
            negotiate(&near, &comp(None, Some(0x04)), req)
                .unwrap_err()
                .kind(),
            "hmac_refused"
        );
        assert_eq!(
            negotiate(&near, &comp(Some((0x04, 8)), None), req)
                .unwrap_err()
                .kind(),
            "sequence_numbers_refused"
        );
        for bad in [0, 3, 33] {
            assert_eq!(
                negotiate(
                    &near,
                    &comp(Some((0x04, bad)), None),
                    Requirements::default()
                )
                .unwrap_err()
                .kind(),
                "bad_hmac_length"
            );
        }
        // A bad length from an end that will not send is harmless.
        negotiate(
            &comp(None, None),
            &comp(Some((0x02, 99)), None),
            Requirements::default(),
        )
        .unwrap();
    }

    #[test]
    fn malformed_components() {
        let cases: &[(&[u8], &str)] = &[
            (&[0x01, 0x1a], "bad_option"),
            (&[0x03, 0x1a, 0x07, 0x80], "bad_option"),
            (&[0x03, 0x1e, 0x07, 0x00], "bad_option"),
            (&[0x02, 0x1d, 0x02, 0x02, 0x1d, 0x02], "duplicate_option"),
            (&[0x04, 0x0d], "malformed"),
        ];
        for (bytes, kind) in cases {
            assert_eq!(
                KeyingComponent::decode(bytes).unwrap_err().kind(),
                *kind,
                "{bytes:02x?}"
            );
        }
    }
}
