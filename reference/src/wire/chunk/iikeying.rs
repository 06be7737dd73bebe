//! Initiator Initial Keying chunk (0x38), RFC 7016 section 2.3.7: the initiator's signed keying parameters.
//!
//! The signature covers `initiatorSignedParameters`: the payload up to the
//! signature, exactly as sent. [`IIKeying::decode_signed`] returns those bytes
//! from a received payload (a peer may encode a length VLU in a longer form
//! than ours, so re-encoding is not enough to verify); a sender signs
//! [`IIKeying::signed_parameters`].

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// An IIKeying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IIKeying {
    /// `initiatorSessionID`: the session ID the responder is to send with.
    pub initiator_session_id: u32,
    /// `cookieEcho`: the RHello's cookie, unaltered.
    pub cookie_echo: Vec<u8>,
    /// `initiatorCertificate`.
    pub initiator_certificate: Vec<u8>,
    /// `sessionKeyInitiatorComponent`.
    pub session_key_initiator_component: Vec<u8>,
    /// `signature` over `initiatorSignedParameters`.
    pub signature: Vec<u8>,
}

impl IIKeying {
    /// Decodes a payload at absolute offset `base` and also returns the exact
    /// `initiatorSignedParameters` bytes of that payload (what the signature covers).
    pub fn decode_signed(payload: &[u8], base: usize) -> Result<(Self, &[u8]), WireError> {
        let mut r = Reader::with_base(payload, base, Self::NAME);
        let start = r.clone();
        let initiator_session_id = r.u32("initiatorSessionID")?;
        let cookie_echo = r.vlu_prefixed("cookieLength", "cookieEcho")?.to_vec();
        let initiator_certificate = r
            .vlu_prefixed("certLength", "initiatorCertificate")?
            .to_vec();
        let session_key_initiator_component = r
            .vlu_prefixed("skicLength", "sessionKeyInitiatorComponent")?
            .to_vec();
        let signed_len = r.offset() - start.offset();
        let signed = start
            .clone()
            .bytes(signed_len, "initiatorSignedParameters")?;
        let signature = r.rest().to_vec();
        Ok((
            IIKeying {
                initiator_session_id,
                cookie_echo,
                initiator_certificate,
                session_key_initiator_component,
                signature,
            },
            signed,
        ))
    }

    /// Appends `initiatorSignedParameters` as [`encode`](ChunkPayload::encode) writes them.
    pub fn encode_signed_parameters(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.initiator_session_id.to_be_bytes());
        for field in [
            &self.cookie_echo,
            &self.initiator_certificate,
            &self.session_key_initiator_component,
        ] {
            vlu::encode(field.len() as u64, out);
            out.extend_from_slice(field);
        }
    }

    /// `initiatorSignedParameters` as this value encodes them: what a sender signs.
    pub fn signed_parameters(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.signed_parameters_len());
        self.encode_signed_parameters(&mut out);
        out
    }

    fn signed_parameters_len(&self) -> usize {
        4 + [
            &self.cookie_echo,
            &self.initiator_certificate,
            &self.session_key_initiator_component,
        ]
        .iter()
        .map(|f| vlu::encoded_len(f.len() as u64) + f.len())
        .sum::<usize>()
    }
}

impl ChunkPayload for IIKeying {
    const TYPE: u8 = super::IIKEYING;
    const NAME: &'static str = "IIKeying chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let base = r.offset();
        let payload = r.rest();
        Ok(IIKeying::decode_signed(payload, base)?.0)
    }

    fn decode_at(payload: &[u8], base: usize) -> Result<Self, WireError> {
        Ok(IIKeying::decode_signed(payload, base)?.0)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_signed_parameters(out);
        out.extend_from_slice(&self.signature);
    }

    fn encoded_len(&self) -> usize {
        self.signed_parameters_len() + self.signature.len()
    }
}

impl Fields for IIKeying {
    fn fields(&self) -> Record {
        Record::new()
            .with("initiatorSessionID", self.initiator_session_id)
            .with("cookieLength", self.cookie_echo.len())
            .with("cookieEcho", &self.cookie_echo)
            .with("certLength", self.initiator_certificate.len())
            .with("initiatorCertificate", &self.initiator_certificate)
            .with("skicLength", self.session_key_initiator_component.len())
            .with(
                "sessionKeyInitiatorComponent",
                &self.session_key_initiator_component,
            )
            .with("signature", &self.signature)
            .with("initiatorSignedParameters", self.signed_parameters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // RFC 7016 2.3.7: initiatorSignedParameters runs up to the signature.
    // spec: 7016-2.1.1-a, 7016-2.3.7-c, 7016-2.3.7-e
    #[test]
    fn signed_parameters_are_the_bytes_before_the_signature() {
        let bytes = [
            0x00, 0x00, 0x00, 0x2a, // initiatorSessionID 42
            0x01, 0xc0, // cookie
            0x02, 0xce, 0xce, // certificate
            0x01, 0x5c, // skic
            0x51, 0x51, // signature
        ];
        let (k, signed) = IIKeying::decode_signed(&bytes, 0).unwrap();
        assert_eq!(k.initiator_session_id, 42);
        assert_eq!(signed, &bytes[..11]);
        assert_eq!(k.signature, [0x51, 0x51]);
        assert_eq!(k.signed_parameters(), signed);
    }

    // spec: 7016-2.1.2-a, 7016-2.3.7-e
    #[test]
    fn a_long_form_length_is_kept_in_the_signed_bytes() {
        // cookieLength written as 0x80 0x01 (a redundant leading group is legal).
        let bytes = [0, 0, 0, 1, 0x80, 0x01, 0xc0, 0x00, 0x00, 0x99];
        let (k, signed) = IIKeying::decode_signed(&bytes, 0).unwrap();
        assert_eq!(signed, &bytes[..9]);
        assert_ne!(k.signed_parameters(), signed);
    }

    // spec: 7016-2-e, 7016-2.3.7-c
    #[test]
    fn errors_name_each_field() {
        let e = IIKeying::decode_at(&[0, 0, 0], 10).unwrap_err();
        assert_eq!((e.field, e.offset), ("initiatorSessionID", 10));
        let e = IIKeying::decode(&[0, 0, 0, 1, 0x00, 0x05, 0x01]).unwrap_err();
        assert_eq!((e.field, e.offset), ("initiatorCertificate", 6));
        let e = IIKeying::decode(&[0, 0, 0, 1, 0x00, 0x00]).unwrap_err();
        assert_eq!((e.field, e.offset), ("skicLength", 6));
    }

    payload_props!(IIKeying, arb_iikeying());
}
