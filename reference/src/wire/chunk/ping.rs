//! Ping chunk (0x01), RFC 7016 section 2.3.9: a message the peer echoes in a Ping Reply.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;

/// A Ping: the (possibly empty) message to be echoed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ping {
    /// `message`.
    pub message: Vec<u8>,
}

impl ChunkPayload for Ping {
    const TYPE: u8 = super::PING;
    const NAME: &'static str = "Ping chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Ping {
            message: r.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.message);
    }

    fn encoded_len(&self) -> usize {
        self.message.len()
    }
}

impl Fields for Ping {
    fn fields(&self) -> Record {
        Record::new().with("message", &self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2.3.9-b
    #[test]
    fn the_whole_payload_is_the_message() {
        assert_eq!(Ping::decode(&[1, 2, 3]).unwrap().message, [1, 2, 3]);
        assert_eq!(Ping::decode(&[]).unwrap(), Ping::default());
    }

    payload_props!(Ping, arb_ping());
}
