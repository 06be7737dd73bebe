//! Next User Data chunk (0x11), RFC 7016 section 2.3.12: a User Data chunk that takes its flow position from the one before it.
//!
//! A Next User Data chunk belongs to the flow of the most recent User Data or
//! Next User Data chunk in the same packet, with the same Forward Sequence
//! Number and the next sequence number. [`Resolver`] keeps that position while
//! a packet's chunks are walked in order;
//! [`PlainPacket::decoded_chunks`](crate::wire::packet::PlainPacket::decoded_chunks) uses it.
//!
//! A User Data or Next User Data chunk that fails to decode is, per section
//! 2.3, ignored "as though it was not present", so it does not change the
//! position: a following Next User Data chunk continues from the last good
//! one. This is the literal reading, and what rtmfp-cpp does; it can attach
//! data to the wrong sequence number after a malformed chunk, which only a
//! faulty sender can cause (listed as an ambiguity).

use super::ChunkPayload;
use super::user_data::{
    UserData, UserDataFlags, UserDataOption, decode_options, encode_options, options_fields,
    options_len,
};
use crate::wire::error::{WireError, WireErrorKind};
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;

/// A Next User Data chunk: flags, optional options and data; no flow ID or sequence number of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NextUserData {
    /// `FRA`, `ABN`, `FIN` and the reserved bits.
    pub flags: UserDataFlags,
    /// The option list: `None` when `OPT` is clear.
    pub options: Option<Vec<UserDataOption>>,
    /// `userData`.
    pub data: Vec<u8>,
}

impl ChunkPayload for NextUserData {
    const TYPE: u8 = super::NEXT_USER_DATA;
    const NAME: &'static str = "Next User Data chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (flags, options_present) = UserDataFlags::from_byte(r.u8("flags")?);
        let options = if options_present {
            Some(decode_options(r)?)
        } else {
            None
        };
        Ok(NextUserData {
            flags,
            options,
            data: r.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.flags.to_byte(self.options.is_some()));
        if let Some(options) = &self.options {
            encode_options(options, out);
        }
        out.extend_from_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        1 + self.options.as_deref().map_or(0, options_len) + self.data.len()
    }
}

impl Fields for NextUserData {
    fn fields(&self) -> Record {
        let mut rec = Record::new();
        rec.push("optionsPresent", self.options.is_some());
        rec.push("fragmentControl", self.flags.fragment_control.name());
        rec.push("abandon", self.flags.abandon);
        rec.push("final", self.flags.fin);
        rec.push("reserved", self.flags.reserved);
        rec.push("options", options_fields(&self.options));
        rec.push("userData", &self.data);
        rec
    }
}

/// Where a User Data fragment sits in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowPosition {
    /// The flow identifier.
    pub flow_id: u64,
    /// The fragment's sequence number.
    pub sequence_number: u64,
    /// The Forward Sequence Number.
    pub forward_sequence_number: u64,
}

impl Fields for FlowPosition {
    fn fields(&self) -> Record {
        Record::new()
            .with("flowID", self.flow_id)
            .with("sequenceNumber", self.sequence_number)
            .with("forwardSequenceNumber", self.forward_sequence_number)
    }
}

/// Tracks the flow position of the last User Data or Next User Data chunk of one packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolver {
    last: Option<FlowPosition>,
}

impl Resolver {
    /// A resolver at the start of a packet.
    pub fn new() -> Self {
        Resolver { last: None }
    }

    /// Records a (well-formed) User Data chunk and returns its position.
    pub fn user_data(&mut self, chunk: &UserData) -> FlowPosition {
        let position = FlowPosition {
            flow_id: chunk.flow_id,
            sequence_number: chunk.sequence_number,
            forward_sequence_number: chunk.forward_sequence_number(),
        };
        self.last = Some(position);
        position
    }

    /// Records a User Data or Next User Data chunk that failed to decode: the
    /// Next User Data chunks after it have no position until the next valid
    /// User Data chunk (spec/ambiguities.md AMB-7016-13), rather than attaching
    /// to an earlier chunk, possibly of another flow.
    pub fn malformed(&mut self) {
        self.last = None;
    }

    /// Resolves a (well-formed) Next User Data chunk that starts at absolute
    /// `offset`. Fails when no User Data or Next User Data precedes it in the
    /// packet, or when its sequence number would exceed 2^64 - 1.
    pub fn next_user_data(&mut self, offset: usize) -> Result<FlowPosition, WireError> {
        let error = |why| WireError {
            structure: NextUserData::NAME,
            field: "precedingUserData",
            offset,
            kind: WireErrorKind::Invalid(why),
        };
        let last = self.last.ok_or_else(|| {
            error("no User Data or Next User Data chunk precedes it in this packet")
        })?;
        let sequence_number = last
            .sequence_number
            .checked_add(1)
            .ok_or_else(|| error("the next sequence number would exceed 2^64 - 1"))?;
        let position = FlowPosition {
            sequence_number,
            ..last
        };
        self.last = Some(position);
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::Chunk;
    use crate::wire::chunk::testing::*;
    use crate::wire::packet::PlainPacket;

    // RFC 7016 2.3.12 with 2.3: a Next User Data after a malformed User Data has no
    // position (AMB-7016-13) until the next valid User Data chunk.
    // spec: 7016-2.3.12-a
    #[test]
    fn next_user_data_after_a_malformed_user_data_is_an_orphan() {
        let packet = [
            0x01, // mode 1, no timestamps
            0x10, 0x00, 0x01, 0x00, // User Data cut after its flags: malformed
            0x11, 0x00, 0x02, 0x00, 0xaa, // Next User Data: orphan
            0x10, 0x00, 0x05, 0x00, 0x02, 0x05, 0x03, 0xbb, // User Data flow 2 seq 5 fsn 2
            0x11, 0x00, 0x02, 0x00, 0xcc, // Next User Data: flow 2 seq 6
        ];
        let p = PlainPacket::decode(&packet).unwrap();
        let d: Vec<_> = p.decoded_chunks().collect();
        assert_eq!(d.len(), 4);
        assert!(d[0].chunk.is_err());
        let orphan = d[1].chunk.as_ref().unwrap_err();
        assert_eq!((orphan.field, orphan.offset), ("precedingUserData", 5));
        assert!(d[1].position.is_none());
        assert_eq!(
            d[3].position.map(|p| (p.flow_id, p.sequence_number)),
            Some((2, 6))
        );
    }

    // RFC 7016 2.3.12 Figure 3: User Data (flow 2, seq 5, fsn 2) then two Next User Data chunks.
    // spec: 7016-2.3.12-b, 7016-2.3.12-c
    #[test]
    fn figure_3_sequence() {
        let bytes = [
            0x01, // packet header: mode 1
            0x10, 0x00, 0x07, 0x00, 0x02, 0x05, 0x03, 0x00, 0x01, 0x02, //
            0x11, 0x00, 0x04, 0x00, 0x03, 0x04, 0x05, //
            0x11, 0x00, 0x04, 0x00, 0x06, 0x07, 0x08,
        ];
        let p = PlainPacket::decode(&bytes).unwrap();
        let got: Vec<_> = p
            .decoded_chunks()
            .map(|d| {
                let pos = d.position.unwrap();
                (
                    pos.flow_id,
                    pos.sequence_number,
                    pos.forward_sequence_number,
                )
            })
            .collect();
        assert_eq!(got, [(2, 5, 2), (2, 6, 2), (2, 7, 2)]);
        let last = p.decoded_chunks().last().unwrap();
        assert_eq!(
            last.chunk,
            Ok(Chunk::NextUserData(NextUserData {
                data: vec![6, 7, 8],
                ..Default::default()
            }))
        );
    }

    // spec: 7016-2.3-e, 7016-2.3-f, 7016-2.3.12-c
    #[test]
    fn next_user_data_without_a_predecessor_is_an_error_for_that_chunk() {
        // Next User Data, then a Ping that must still decode.
        let bytes = [0x02, 0x11, 0x00, 0x02, 0x00, 0xaa, 0x01, 0x00, 0x00];
        let p = PlainPacket::decode(&bytes).unwrap();
        let d: Vec<_> = p.decoded_chunks().collect();
        let e = d[0].chunk.clone().unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset, e.kind.name()),
            ("Next User Data chunk", "precedingUserData", 1, "invalid")
        );
        assert_eq!(d[0].position, None);
        assert!(d[1].chunk.is_ok());
    }

    // spec: 7016-2.3.11-j, 7016-2.3.12-c
    #[test]
    fn malformed_user_data_does_not_move_the_position() {
        let mut r = Resolver::new();
        let ud = UserData {
            flow_id: 4,
            sequence_number: u64::MAX,
            fsn_offset: 1,
            ..Default::default()
        };
        r.user_data(&ud);
        let e = r.next_user_data(9).unwrap_err();
        assert_eq!(e.kind.name(), "invalid");
        let ud = UserData {
            flow_id: 4,
            sequence_number: 10,
            fsn_offset: 1,
            ..Default::default()
        };
        r.user_data(&ud);
        assert_eq!(r.next_user_data(0).unwrap().sequence_number, 11);
        assert_eq!(r.next_user_data(0).unwrap().sequence_number, 12);
    }

    // RFC 7016 2.3.12: a Next User Data chunk's flags (and option list) mean
    // what they mean in User Data. For every flags byte, both chunk types read
    // the same flags and the same options from the same bytes.
    // spec: 7016-2.3.12-b, 7016-2.3.12-d
    #[test]
    fn flags_and_options_read_as_in_user_data() {
        // Option list used when OPT (0x80) is set: metadata "m", then a marker.
        let options = [0x02, 0x00, b'm', 0x00];
        for byte in 0..=255u8 {
            let tail: &[u8] = if byte & 0x80 != 0 { &options } else { &[] };
            let mut ud = vec![byte, 0x01, 0x09, 0x01];
            ud.extend_from_slice(tail);
            ud.push(0xaa);
            let mut nud = vec![byte];
            nud.extend_from_slice(tail);
            nud.push(0xaa);
            let u = UserData::decode(&ud).unwrap();
            let n = NextUserData::decode(&nud).unwrap();
            assert_eq!(n.flags, u.flags, "flags {byte:#04x}");
            assert_eq!(n.options, u.options, "flags {byte:#04x}");
            assert_eq!(n.data, [0xaa]);
        }
    }

    // RFC 7016 2.3.11: sequence numbers have no upper bound and never wrap.
    // Numbers past 2^32 keep their exact value in User Data and in the Next
    // User Data chunks that follow it; past 2^64 - 1 (the VLU limit this
    // implementation handles, 2.1.2) the next number is refused, never wrapped to 0.
    // spec: 7016-2.3.11-j
    #[test]
    fn sequence_numbers_do_not_wrap() {
        let four_g = 1u64 << 32;
        let ud = UserData {
            flow_id: 3,
            sequence_number: four_g - 1,
            fsn_offset: 1,
            ..Default::default()
        };
        let mut bytes = Vec::new();
        ud.encode(&mut bytes);
        // 2^32 - 1 as a VLU: 0x8f 0xff 0xff 0xff 0x7f.
        assert_eq!(&bytes[2..7], &[0x8f, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(UserData::decode(&bytes).unwrap(), ud);
        let mut r = Resolver::new();
        r.user_data(&ud);
        assert_eq!(r.next_user_data(0).unwrap().sequence_number, four_g);
        assert_eq!(r.next_user_data(0).unwrap().sequence_number, four_g + 1);
        let top = UserData {
            sequence_number: u64::MAX,
            ..ud
        };
        let mut bytes = Vec::new();
        top.encode(&mut bytes);
        assert_eq!(UserData::decode(&bytes).unwrap().sequence_number, u64::MAX);
        r.user_data(&top);
        assert!(r.next_user_data(0).is_err());
    }

    payload_props!(NextUserData, arb_next_user_data());
}
