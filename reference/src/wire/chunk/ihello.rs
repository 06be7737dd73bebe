//! Initiator Hello chunk (0x30), RFC 7016 section 2.3.2: the first message of session startup.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// An IHello: whom the initiator wants to reach, and a tag to match the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IHello {
    /// `endpointDiscriminator` (its length is the VLU `epdLength`).
    pub endpoint_discriminator: Vec<u8>,
    /// `tag`: echoed in the RHello's `tagEcho`.
    pub tag: Vec<u8>,
}

impl ChunkPayload for IHello {
    const TYPE: u8 = super::IHELLO;
    const NAME: &'static str = "IHello chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let endpoint_discriminator = r
            .vlu_prefixed("epdLength", "endpointDiscriminator")?
            .to_vec();
        let tag = r.rest().to_vec();
        Ok(IHello {
            endpoint_discriminator,
            tag,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.endpoint_discriminator.len() as u64, out);
        out.extend_from_slice(&self.endpoint_discriminator);
        out.extend_from_slice(&self.tag);
    }

    fn encoded_len(&self) -> usize {
        let epd = self.endpoint_discriminator.len();
        vlu::encoded_len(epd as u64) + epd + self.tag.len()
    }
}

impl Fields for IHello {
    fn fields(&self) -> Record {
        Record::new()
            .with("epdLength", self.endpoint_discriminator.len())
            .with("endpointDiscriminator", &self.endpoint_discriminator)
            .with("tag", &self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-e, 7016-2.3.2-b
    #[test]
    fn layout_and_errors() {
        let h = IHello::decode(&[0x02, 0xaa, 0xbb, 0x01, 0x02]).unwrap();
        assert_eq!(h.endpoint_discriminator, [0xaa, 0xbb]);
        assert_eq!(h.tag, [0x01, 0x02]);
        let e = IHello::decode_at(&[0x05, 0xaa], 4).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind.name()),
            ("endpointDiscriminator", 5, "truncated")
        );
        let e = IHello::decode(&[]).unwrap_err();
        assert_eq!(e.field, "epdLength");
    }

    payload_props!(IHello, arb_ihello());
}
