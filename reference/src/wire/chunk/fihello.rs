//! Forwarded Initiator Hello chunk (0x0f), RFC 7016 section 2.3.3: an IHello relayed by a Forwarder.

use super::ChunkPayload;
use crate::wire::address::Address;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// An FIHello: the original IHello's discriminator and tag, and where to answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FIHello {
    /// `endpointDiscriminator`, copied from the IHello.
    pub endpoint_discriminator: Vec<u8>,
    /// `replyAddress`: the initiator's address as the Forwarder saw it.
    pub reply_address: Address,
    /// `tag`, copied from the IHello.
    pub tag: Vec<u8>,
}

impl ChunkPayload for FIHello {
    const TYPE: u8 = super::FIHELLO;
    const NAME: &'static str = "FIHello chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let endpoint_discriminator = r
            .vlu_prefixed("epdLength", "endpointDiscriminator")?
            .to_vec();
        let reply_address = Address::decode(r)?;
        let tag = r.rest().to_vec();
        Ok(FIHello {
            endpoint_discriminator,
            reply_address,
            tag,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.endpoint_discriminator.len() as u64, out);
        out.extend_from_slice(&self.endpoint_discriminator);
        self.reply_address.encode(out);
        out.extend_from_slice(&self.tag);
    }

    fn encoded_len(&self) -> usize {
        let epd = self.endpoint_discriminator.len();
        vlu::encoded_len(epd as u64) + epd + self.reply_address.encoded_len() + self.tag.len()
    }
}

impl Fields for FIHello {
    fn fields(&self) -> Record {
        Record::new()
            .with("epdLength", self.endpoint_discriminator.len())
            .with("endpointDiscriminator", &self.endpoint_discriminator)
            .with("replyAddress", self.reply_address.fields())
            .with("tag", &self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::address::AddressOrigin;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-e, 7016-2-f, 7016-2.3.3-d
    #[test]
    fn layout_and_errors() {
        let bytes = [0x01, 0xee, 0x02, 192, 0, 2, 1, 0x07, 0x8f, 0x77];
        let f = FIHello::decode(&bytes).unwrap();
        assert_eq!(f.endpoint_discriminator, [0xee]);
        assert_eq!(
            f.reply_address,
            Address::new("192.0.2.1:1935".parse().unwrap(), AddressOrigin::Reflexive)
        );
        assert_eq!(f.tag, [0x77]);
        let e = FIHello::decode_at(&bytes[..5], 3).unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset),
            ("FIHello chunk", "ipAddress", 6)
        );
    }

    payload_props!(FIHello, arb_fihello());
}
