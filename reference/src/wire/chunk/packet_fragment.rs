//! Packet Fragment chunk (0x7f), RFC 7016 section 2.3.1: one segment of a plain packet too large for the path MTU.

use super::{ChunkPayload, invalid};
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// The `M` (more fragments) flag.
pub const FLAG_MORE_FRAGMENTS: u8 = 0x80;
/// The seven reserved bits after `M`.
pub const RESERVED_MASK: u8 = 0x7f;

/// A Packet Fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketFragment {
    /// `moreFragments`: clear on the last fragment of the packet.
    pub more_fragments: bool,
    /// The seven reserved bits (zero from a conforming sender).
    pub reserved: u8,
    /// `packetID`: the same for all fragments of one packet.
    pub packet_id: u64,
    /// `fragmentNum`: 0 for the first fragment, then consecutive.
    pub fragment_num: u64,
    /// `packetFragment`: never empty.
    pub fragment: Vec<u8>,
}

impl ChunkPayload for PacketFragment {
    const TYPE: u8 = super::PACKET_FRAGMENT;
    const NAME: &'static str = "Packet Fragment chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let flags = r.u8("flags")?;
        let packet_id = r.vlu("packetID")?;
        let fragment_num = r.vlu("fragmentNum")?;
        let at = r.offset();
        let fragment = r.rest();
        // RFC 7016 2.3.1: a packetFragment must not be empty.
        if fragment.is_empty() {
            return Err(invalid(
                r,
                "packetFragment",
                at,
                "a packet fragment must not be empty",
            ));
        }
        Ok(PacketFragment {
            more_fragments: flags & FLAG_MORE_FRAGMENTS != 0,
            reserved: flags & RESERVED_MASK,
            packet_id,
            fragment_num,
            fragment: fragment.to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let m = if self.more_fragments {
            FLAG_MORE_FRAGMENTS
        } else {
            0
        };
        out.push(m | (self.reserved & RESERVED_MASK));
        vlu::encode(self.packet_id, out);
        vlu::encode(self.fragment_num, out);
        out.extend_from_slice(&self.fragment);
    }

    fn encoded_len(&self) -> usize {
        1 + vlu::encoded_len(self.packet_id)
            + vlu::encoded_len(self.fragment_num)
            + self.fragment.len()
    }
}

impl Fields for PacketFragment {
    fn fields(&self) -> Record {
        Record::new()
            .with("moreFragments", self.more_fragments)
            .with("reserved", self.reserved)
            .with("packetID", self.packet_id)
            .with("fragmentNum", self.fragment_num)
            .with("packetFragment", &self.fragment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-d, 7016-2-e, 7016-2.3.1-a, 7016-3.4-g
    #[test]
    fn layout_and_errors() {
        let f = PacketFragment::decode(&[0x80, 0x07, 0x00, 0xaa, 0xbb]).unwrap();
        assert!(f.more_fragments);
        assert_eq!(
            (f.packet_id, f.fragment_num, f.fragment),
            (7, 0, vec![0xaa, 0xbb])
        );
        // Reserved bits are kept but do not change the meaning.
        let f = PacketFragment::decode(&[0x01, 0x07, 0x01, 0xaa]).unwrap();
        assert!(!f.more_fragments);
        assert_eq!(f.reserved, 1);
        let e = PacketFragment::decode_at(&[0x00, 0x07, 0x01], 3).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind.name()),
            ("packetFragment", 6, "invalid")
        );
        let e = PacketFragment::decode(&[0x00, 0x87]).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind.name()),
            ("packetID", 1, "truncated")
        );
    }

    payload_props!(PacketFragment, arb_packet_fragment());
}
