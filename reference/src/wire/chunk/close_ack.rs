//! Session Close Acknowledgement chunk (0x4c), RFC 7016 section 2.3.18: no payload.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;

/// A Close Ack chunk. It has no payload; any payload bytes a peer sends are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CloseAck;

impl ChunkPayload for CloseAck {
    const TYPE: u8 = super::CLOSE_ACK;
    const NAME: &'static str = "Close Ack chunk";

    fn decode_from(_r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(CloseAck)
    }

    fn encode(&self, _out: &mut Vec<u8>) {}

    fn encoded_len(&self) -> usize {
        0
    }
}

impl Fields for CloseAck {
    fn fields(&self) -> Record {
        Record::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::Chunk;

    // RFC 7016 2.3.18: the chunk is its 3-byte header with chunkLength 0.
    // spec: 7016-2.3.18-b
    #[test]
    fn encodes_to_a_bare_header() {
        let mut out = Vec::new();
        Chunk::CloseAck(CloseAck).encode(&mut out).unwrap();
        assert_eq!(out, [super::super::CLOSE_ACK, 0, 0]);
        assert_eq!(CloseAck::decode(&[1, 2]).unwrap(), CloseAck);
    }
}
