//! Responder Initial Keying chunk (0x78), RFC 7016 section 2.3.8: the responder's signed keying parameters.
//!
//! The signature covers `responderSignedParameters`: the payload up to the
//! signature (`responderSignedParametersPortion`, exactly as sent) followed
//! by the `sessionKeyInitiatorComponent` of the IIKeying being answered; see
//! [`responder_signed_parameters`].

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// An RIKeying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RIKeying {
    /// `responderSessionID`: the session ID the initiator is to send with.
    pub responder_session_id: u32,
    /// `sessionKeyResponderComponent`.
    pub session_key_responder_component: Vec<u8>,
    /// `signature` over `responderSignedParameters`.
    pub signature: Vec<u8>,
}

impl RIKeying {
    /// Decodes a payload at absolute offset `base` and also returns the exact
    /// `responderSignedParametersPortion` bytes of that payload.
    pub fn decode_signed(payload: &[u8], base: usize) -> Result<(Self, &[u8]), WireError> {
        let mut r = Reader::with_base(payload, base, Self::NAME);
        let start = r.clone();
        let responder_session_id = r.u32("responderSessionID")?;
        let session_key_responder_component = r
            .vlu_prefixed("skrcLength", "sessionKeyResponderComponent")?
            .to_vec();
        let portion_len = r.offset() - start.offset();
        let portion = start
            .clone()
            .bytes(portion_len, "responderSignedParametersPortion")?;
        let signature = r.rest().to_vec();
        Ok((
            RIKeying {
                responder_session_id,
                session_key_responder_component,
                signature,
            },
            portion,
        ))
    }

    /// Appends `responderSignedParametersPortion` as [`encode`](ChunkPayload::encode) writes it.
    pub fn encode_signed_parameters_portion(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.responder_session_id.to_be_bytes());
        vlu::encode(self.session_key_responder_component.len() as u64, out);
        out.extend_from_slice(&self.session_key_responder_component);
    }

    /// `responderSignedParametersPortion` as this value encodes it.
    pub fn signed_parameters_portion(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.portion_len());
        self.encode_signed_parameters_portion(&mut out);
        out
    }

    fn portion_len(&self) -> usize {
        let k = self.session_key_responder_component.len();
        4 + vlu::encoded_len(k as u64) + k
    }
}

/// `responderSignedParameters`: the portion followed by the IIKeying's
/// `sessionKeyInitiatorComponent` (RFC 7016 section 2.3.8).
pub fn responder_signed_parameters(
    portion: &[u8],
    session_key_initiator_component: &[u8],
) -> Vec<u8> {
    [portion, session_key_initiator_component].concat()
}

impl ChunkPayload for RIKeying {
    const TYPE: u8 = super::RIKEYING;
    const NAME: &'static str = "RIKeying chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let base = r.offset();
        let payload = r.rest();
        Ok(RIKeying::decode_signed(payload, base)?.0)
    }

    fn decode_at(payload: &[u8], base: usize) -> Result<Self, WireError> {
        Ok(RIKeying::decode_signed(payload, base)?.0)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_signed_parameters_portion(out);
        out.extend_from_slice(&self.signature);
    }

    fn encoded_len(&self) -> usize {
        self.portion_len() + self.signature.len()
    }
}

impl Fields for RIKeying {
    fn fields(&self) -> Record {
        Record::new()
            .with("responderSessionID", self.responder_session_id)
            .with("skrcLength", self.session_key_responder_component.len())
            .with(
                "sessionKeyResponderComponent",
                &self.session_key_responder_component,
            )
            .with("signature", &self.signature)
            .with(
                "responderSignedParametersPortion",
                self.signed_parameters_portion(),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // RFC 7016 2.3.8: the portion runs up to the signature; the signed
    // parameters append the initiator's component.
    // spec: 7016-2-e, 7016-2.1.1-a, 7016-2.3.8-b, 7016-2.3.8-c
    #[test]
    fn signed_portion_and_parameters() {
        let bytes = [0x01, 0x02, 0x03, 0x04, 0x02, 0xaa, 0xbb, 0x5a];
        let (k, portion) = RIKeying::decode_signed(&bytes, 0).unwrap();
        assert_eq!(k.responder_session_id, 0x0102_0304);
        assert_eq!(portion, &bytes[..7]);
        assert_eq!(k.signed_parameters_portion(), portion);
        assert_eq!(
            responder_signed_parameters(portion, &[0xcc]),
            [0x01, 0x02, 0x03, 0x04, 0x02, 0xaa, 0xbb, 0xcc]
        );
        let e = RIKeying::decode_at(&bytes[..6], 3).unwrap_err();
        assert_eq!((e.field, e.offset), ("sessionKeyResponderComponent", 8));
    }

    payload_props!(RIKeying, arb_rikeying());
}
