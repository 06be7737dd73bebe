//! Session Close Request chunk (0x0c), RFC 7016 section 2.3.17: no payload.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;

/// A Close chunk. It has no payload; any payload bytes a peer sends are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Close;

impl ChunkPayload for Close {
    const TYPE: u8 = super::CLOSE;
    const NAME: &'static str = "Close chunk";

    fn decode_from(_r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Close)
    }

    fn encode(&self, _out: &mut Vec<u8>) {}

    fn encoded_len(&self) -> usize {
        0
    }
}

impl Fields for Close {
    fn fields(&self) -> Record {
        Record::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::Chunk;

    // RFC 7016 2.3.17: the chunk is its 3-byte header with chunkLength 0.
    // spec: 7016-2.3.17-b
    #[test]
    fn encodes_to_a_bare_header() {
        let mut out = Vec::new();
        Chunk::Close(Close).encode(&mut out).unwrap();
        assert_eq!(out, [super::super::CLOSE, 0, 0]);
        assert_eq!(Close::decode(&[1, 2]).unwrap(), Close);
    }
}
