//! Buffer Probe chunk (0x18), RFC 7016 section 2.3.15: asks the flow receiver for an acknowledgement.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// A Buffer Probe for one flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BufferProbe {
    /// `flowID`.
    pub flow_id: u64,
}

impl ChunkPayload for BufferProbe {
    const TYPE: u8 = super::BUFFER_PROBE;
    const NAME: &'static str = "Buffer Probe chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let flow_id = r.vlu("flowID")?;
        // Bytes after flowID are ignored (see the chunk module documentation).
        r.rest();
        Ok(BufferProbe { flow_id })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
    }

    fn encoded_len(&self) -> usize {
        vlu::encoded_len(self.flow_id)
    }
}

impl Fields for BufferProbe {
    fn fields(&self) -> Record {
        Record::new().with("flowID", self.flow_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-e, 7016-2.3.15-b
    #[test]
    fn layout_and_errors() {
        assert_eq!(BufferProbe::decode(&[0x81, 0x00]).unwrap().flow_id, 128);
        let e = BufferProbe::decode_at(&[], 7).unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset),
            ("Buffer Probe chunk", "flowID", 7)
        );
    }

    payload_props!(BufferProbe, arb_buffer_probe());
}
