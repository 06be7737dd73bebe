//! Responder Hello chunk (0x70), RFC 7016 section 2.3.4: the responder's cookie and certificate.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// An RHello.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RHello {
    /// `tagEcho`: the IHello's tag, unaltered.
    pub tag_echo: Vec<u8>,
    /// `cookie`: responder state, to be echoed in the IIKeying.
    pub cookie: Vec<u8>,
    /// `responderCertificate`: interpreted by the cryptography profile.
    pub responder_certificate: Vec<u8>,
}

impl ChunkPayload for RHello {
    const TYPE: u8 = super::RHELLO;
    const NAME: &'static str = "RHello chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let tag_echo = r.vlu_prefixed("tagLength", "tagEcho")?.to_vec();
        let cookie = r.vlu_prefixed("cookieLength", "cookie")?.to_vec();
        let responder_certificate = r.rest().to_vec();
        Ok(RHello {
            tag_echo,
            cookie,
            responder_certificate,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.tag_echo.len() as u64, out);
        out.extend_from_slice(&self.tag_echo);
        vlu::encode(self.cookie.len() as u64, out);
        out.extend_from_slice(&self.cookie);
        out.extend_from_slice(&self.responder_certificate);
    }

    fn encoded_len(&self) -> usize {
        let (t, c) = (self.tag_echo.len(), self.cookie.len());
        vlu::encoded_len(t as u64)
            + t
            + vlu::encoded_len(c as u64)
            + c
            + self.responder_certificate.len()
    }
}

impl Fields for RHello {
    fn fields(&self) -> Record {
        Record::new()
            .with("tagLength", self.tag_echo.len())
            .with("tagEcho", &self.tag_echo)
            .with("cookieLength", self.cookie.len())
            .with("cookie", &self.cookie)
            .with("responderCertificate", &self.responder_certificate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-e, 7016-2.3.4-c
    #[test]
    fn layout_and_errors() {
        let r = RHello::decode(&[0x01, 0x11, 0x02, 0x22, 0x33, 0x44]).unwrap();
        assert_eq!(
            (r.tag_echo, r.cookie, r.responder_certificate),
            (vec![0x11], vec![0x22, 0x33], vec![0x44])
        );
        let e = RHello::decode(&[0x01, 0x11]).unwrap_err();
        assert_eq!((e.field, e.offset), ("cookieLength", 2));
    }

    payload_props!(RHello, arb_rhello());
}
