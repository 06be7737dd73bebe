//! Flow Exception Report chunk (0x5e), RFC 7016 section 2.3.16: the receiver asks the sender to close a flow.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// A Flow Exception Report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FlowExceptionReport {
    /// `flowID`.
    pub flow_id: u64,
    /// `exception`: application-defined; 0 when the RTMFP rejects a flow by itself.
    pub exception: u64,
}

impl ChunkPayload for FlowExceptionReport {
    const TYPE: u8 = super::FLOW_EXCEPTION_REPORT;
    const NAME: &'static str = "Flow Exception Report chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let flow_id = r.vlu("flowID")?;
        let exception = r.vlu("exception")?;
        // Bytes after the exception code are ignored (see the chunk module documentation).
        r.rest();
        Ok(FlowExceptionReport { flow_id, exception })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.flow_id, out);
        vlu::encode(self.exception, out);
    }

    fn encoded_len(&self) -> usize {
        vlu::encoded_len(self.flow_id) + vlu::encoded_len(self.exception)
    }
}

impl Fields for FlowExceptionReport {
    fn fields(&self) -> Record {
        Record::new()
            .with("flowID", self.flow_id)
            .with("exception", self.exception)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-e, 7016-2.3.16-d
    #[test]
    fn layout_and_errors() {
        let f = FlowExceptionReport::decode(&[0x05, 0x00]).unwrap();
        assert_eq!((f.flow_id, f.exception), (5, 0));
        let e = FlowExceptionReport::decode_at(&[0x05], 20).unwrap_err();
        assert_eq!((e.field, e.offset), ("exception", 21));
    }

    payload_props!(FlowExceptionReport, arb_flow_exception_report());
}
