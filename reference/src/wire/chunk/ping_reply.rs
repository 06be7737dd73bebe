//! Ping Reply chunk (0x41), RFC 7016 section 2.3.10: the echo of a Ping's message.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;

/// A Ping Reply: the Ping's message, unaltered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PingReply {
    /// `messageEcho`.
    pub message_echo: Vec<u8>,
}

impl ChunkPayload for PingReply {
    const TYPE: u8 = super::PING_REPLY;
    const NAME: &'static str = "Ping Reply chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(PingReply {
            message_echo: r.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.message_echo);
    }

    fn encoded_len(&self) -> usize {
        self.message_echo.len()
    }
}

impl Fields for PingReply {
    fn fields(&self) -> Record {
        Record::new().with("messageEcho", &self.message_echo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    #[test]
    fn the_whole_payload_is_the_echo() {
        assert_eq!(PingReply::decode(&[9]).unwrap().message_echo, [9]);
    }

    payload_props!(PingReply, arb_ping_reply());
}
