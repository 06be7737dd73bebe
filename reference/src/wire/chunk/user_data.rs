//! User Data chunk (0x10), RFC 7016 section 2.3.11, with its options (2.3.11.1).
//!
//! Also holds what User Data shares with Next User Data (2.3.12): the flags
//! byte, the optional option list and the user data.

use super::{ChunkPayload, invalid};
use crate::wire::error::{WireError, WireErrorKind};
use crate::wire::fields::{Fields, Record, Value};
use crate::wire::option::{self, OptionItem, RtmfpOption};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// `OPT`: an option list follows the header fields.
pub const FLAG_OPTIONS_PRESENT: u8 = 0x80;
/// `ABN`: the sequence number has been abandoned.
pub const FLAG_ABANDON: u8 = 0x02;
/// `FIN`: the last sequence number of the flow.
pub const FLAG_FINAL: u8 = 0x01;
/// The `FRA` bits.
pub const FRAGMENT_CONTROL_MASK: u8 = 0x30;
/// The reserved bits (`rsv` at bit 6 and bits 3-2).
pub const RESERVED_MASK: u8 = 0x4c;

/// Option type: User's Per-Flow Metadata (2.3.11.1.1).
pub const OPTION_PER_FLOW_METADATA: u64 = 0x00;
/// Option type: Return Flow Association (2.3.11.1.2).
pub const OPTION_RETURN_FLOW_ASSOCIATION: u64 = 0x0a;
/// Unknown option types below this make the receiver reject the flow; at or above it they are ignored.
pub const MANDATORY_OPTION_LIMIT: u64 = 0x2000;

/// `FRA`: how a fragment fits into its message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FragmentControl {
    /// 0: a complete message.
    #[default]
    Whole,
    /// 1: the first fragment of a message.
    Begin,
    /// 2: the last fragment of a message.
    End,
    /// 3: a fragment in the middle of a message.
    Middle,
}

impl FragmentControl {
    /// The two-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            FragmentControl::Whole => 0,
            FragmentControl::Begin => 1,
            FragmentControl::End => 2,
            FragmentControl::Middle => 3,
        }
    }

    /// The value for two bits (higher bits ignored).
    pub fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => FragmentControl::Whole,
            1 => FragmentControl::Begin,
            2 => FragmentControl::End,
            _ => FragmentControl::Middle,
        }
    }

    /// `whole`, `begin`, `end` or `middle`.
    pub fn name(self) -> &'static str {
        match self {
            FragmentControl::Whole => "whole",
            FragmentControl::Begin => "begin",
            FragmentControl::End => "end",
            FragmentControl::Middle => "middle",
        }
    }
}

/// The flags of a User Data or Next User Data chunk, except `OPT` (which is
/// whether `options` is `Some`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct UserDataFlags {
    /// `FRA`.
    pub fragment_control: FragmentControl,
    /// `ABN`: the user data, if any, must be ignored.
    pub abandon: bool,
    /// `FIN`.
    pub fin: bool,
    /// The reserved bits, in place (mask [`RESERVED_MASK`]); zero from a conforming sender.
    pub reserved: u8,
}

impl UserDataFlags {
    /// Splits a flags byte into the flags and `OPT`.
    pub fn from_byte(byte: u8) -> (Self, bool) {
        (
            UserDataFlags {
                fragment_control: FragmentControl::from_bits((byte & FRAGMENT_CONTROL_MASK) >> 4),
                abandon: byte & FLAG_ABANDON != 0,
                fin: byte & FLAG_FINAL != 0,
                reserved: byte & RESERVED_MASK,
            },
            byte & FLAG_OPTIONS_PRESENT != 0,
        )
    }

    /// The flags byte, with `OPT` as given.
    pub fn to_byte(self, options_present: bool) -> u8 {
        let mut b = (self.fragment_control.bits() << 4) | (self.reserved & RESERVED_MASK);
        if options_present {
            b |= FLAG_OPTIONS_PRESENT;
        }
        if self.abandon {
            b |= FLAG_ABANDON;
        }
        if self.fin {
            b |= FLAG_FINAL;
        }
        b
    }

    fn push_fields(&self, rec: &mut Record, options_present: bool) {
        rec.push("optionsPresent", options_present);
        rec.push("fragmentControl", self.fragment_control.name());
        rec.push("abandon", self.abandon);
        rec.push("final", self.fin);
        rec.push("reserved", self.reserved);
    }
}

/// An option of a User Data option list (2.3.11.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserDataOption {
    /// Type 0x00: the user's per-flow metadata (may be empty).
    PerFlowMetadata(Vec<u8>),
    /// Type 0x0a: the receive flow this new flow answers. Bytes after the
    /// VLU in the option's value are ignored, as rtmfp-cpp does.
    ReturnFlowAssociation(u64),
    /// Any other type, kept as is.
    Other(RtmfpOption),
}

impl UserDataOption {
    /// Types an option whose value starts at absolute offset `value_offset`.
    pub fn from_option(o: RtmfpOption, value_offset: usize) -> Result<Self, WireError> {
        Ok(match o.option_type {
            OPTION_PER_FLOW_METADATA => UserDataOption::PerFlowMetadata(o.value),
            OPTION_RETURN_FLOW_ASSOCIATION => {
                let mut r =
                    Reader::with_base(&o.value, value_offset, "Return Flow Association option");
                UserDataOption::ReturnFlowAssociation(r.vlu("flowID")?)
            }
            _ => UserDataOption::Other(o),
        })
    }

    /// The generic option this encodes as.
    pub fn to_option(&self) -> RtmfpOption {
        match self {
            UserDataOption::PerFlowMetadata(m) => {
                RtmfpOption::new(OPTION_PER_FLOW_METADATA, m.clone())
            }
            UserDataOption::ReturnFlowAssociation(id) => {
                RtmfpOption::new(OPTION_RETURN_FLOW_ASSOCIATION, vlu::to_vec(*id))
            }
            UserDataOption::Other(o) => o.clone(),
        }
    }

    /// Whether a flow receiver must reject the flow because of this option:
    /// an option it does not understand with a type below 0x2000 (2.3.11.1).
    pub fn must_reject_flow(&self) -> bool {
        matches!(self, UserDataOption::Other(o) if o.option_type < MANDATORY_OPTION_LIMIT)
    }

    fn fields(&self) -> Record {
        match self {
            UserDataOption::PerFlowMetadata(m) => Record::new()
                .with("type", OPTION_PER_FLOW_METADATA)
                .with("name", "User's Per-Flow Metadata")
                .with("userMetadata", m),
            UserDataOption::ReturnFlowAssociation(id) => Record::new()
                .with("type", OPTION_RETURN_FLOW_ASSOCIATION)
                .with("name", "Return Flow Association")
                .with("flowID", *id),
            UserDataOption::Other(o) => Record::new()
                .with("type", o.option_type)
                .with("name", "Unknown")
                .with("value", &o.value),
        }
    }
}

/// Reads an option list (2.1.4) of User Data options.
pub(crate) fn decode_options(r: &mut Reader<'_>) -> Result<Vec<UserDataOption>, WireError> {
    // Every option takes at least one input byte, so the vector stays
    // proportional to the input.
    let mut options = Vec::new();
    loop {
        if r.is_empty() {
            return Err(r.error(
                "options",
                WireErrorKind::Truncated {
                    needed: 1,
                    available: 0,
                },
            ));
        }
        match option::decode_item(r)? {
            OptionItem::Marker => return Ok(options),
            OptionItem::Option(o) => {
                let value_offset = r.offset() - o.value.len();
                options.push(UserDataOption::from_option(o, value_offset)?);
            }
        }
    }
}

pub(crate) fn encode_options(options: &[UserDataOption], out: &mut Vec<u8>) {
    for o in options {
        o.to_option().encode(out);
    }
    out.push(0);
}

pub(crate) fn options_len(options: &[UserDataOption]) -> usize {
    options
        .iter()
        .map(|o| o.to_option().encoded_len())
        .sum::<usize>()
        + 1
}

pub(crate) fn options_fields(options: &Option<Vec<UserDataOption>>) -> Value {
    match options {
        None => Value::Absent,
        Some(list) => Value::List(list.iter().map(|o| Value::Record(o.fields())).collect()),
    }
}

/// A User Data chunk: one fragment of a user message of a flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserData {
    /// `flowID`.
    pub flow_id: u64,
    /// `sequenceNumber` (`seq#`).
    pub sequence_number: u64,
    /// `fsnOffset`: sequence number minus the Forward Sequence Number; never more than `sequence_number`.
    pub fsn_offset: u64,
    /// `FRA`, `ABN`, `FIN` and the reserved bits.
    pub flags: UserDataFlags,
    /// The option list: `None` when `OPT` is clear, `Some` (possibly empty) when set.
    pub options: Option<Vec<UserDataOption>>,
    /// `userData`.
    pub data: Vec<u8>,
}

impl UserData {
    /// The Forward Sequence Number: `sequenceNumber - fsnOffset`.
    pub fn forward_sequence_number(&self) -> u64 {
        self.sequence_number.saturating_sub(self.fsn_offset)
    }

    /// The per-flow metadata option's value, if present.
    pub fn metadata(&self) -> Option<&[u8]> {
        self.options.iter().flatten().find_map(|o| match o {
            UserDataOption::PerFlowMetadata(m) => Some(m.as_slice()),
            _ => None,
        })
    }

    /// The return flow association option's flow ID, if present.
    pub fn return_flow_association(&self) -> Option<u64> {
        self.options.iter().flatten().find_map(|o| match o {
            UserDataOption::ReturnFlowAssociation(id) => Some(*id),
            _ => None,
        })
    }
}

impl ChunkPayload for UserData {
    const TYPE: u8 = super::USER_DATA;
    const NAME: &'static str = "User Data chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (flags, options_present) = UserDataFlags::from_byte(r.u8("flags")?);
        let flow_id = r.vlu("flowID")?;
        let sequence_number = r.vlu("sequenceNumber")?;
        let fsn_at = r.offset();
        let fsn_offset = r.vlu("fsnOffset")?;
        // RFC 7016 2.3.11: fsnOffset must not exceed the sequence number; without
        // that the Forward Sequence Number is meaningless, so the chunk is
        // malformed (rtmfp-cpp drops it too).
        if fsn_offset > sequence_number {
            return Err(invalid(
                r,
                "fsnOffset",
                fsn_at,
                "fsnOffset exceeds sequenceNumber",
            ));
        }
        let options = if options_present {
            Some(decode_options(r)?)
        } else {
            None
        };
        Ok(UserData {
            flow_id,
            sequence_number,
            fsn_offset,
            flags,
            options,
            data: r.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.flags.to_byte(self.options.is_some()));
        vlu::encode(self.flow_id, out);
        vlu::encode(self.sequence_number, out);
        vlu::encode(self.fsn_offset, out);
        if let Some(options) = &self.options {
            encode_options(options, out);
        }
        out.extend_from_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        1 + vlu::encoded_len(self.flow_id)
            + vlu::encoded_len(self.sequence_number)
            + vlu::encoded_len(self.fsn_offset)
            + self.options.as_deref().map_or(0, options_len)
            + self.data.len()
    }
}

impl Fields for UserData {
    fn fields(&self) -> Record {
        let mut rec = Record::new();
        self.flags.push_fields(&mut rec, self.options.is_some());
        rec.push("flowID", self.flow_id);
        rec.push("sequenceNumber", self.sequence_number);
        rec.push("fsnOffset", self.fsn_offset);
        rec.push("forwardSequenceNumber", self.forward_sequence_number());
        rec.push("options", options_fields(&self.options));
        rec.push("userData", &self.data);
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // RFC 7016 2.3.12 Figure 3, first chunk: flowID 2, seq# 5, fsnOffset 3, data 00 01 02.
    // spec: 7016-2.3.11-b, 7016-2.3.11-c
    #[test]
    fn figure_3_user_data() {
        let u = UserData::decode(&[0x00, 0x02, 0x05, 0x03, 0x00, 0x01, 0x02]).unwrap();
        assert_eq!(
            (u.flow_id, u.sequence_number, u.forward_sequence_number()),
            (2, 5, 2)
        );
        assert_eq!(u.flags, UserDataFlags::default());
        assert_eq!(u.options, None);
        assert_eq!(u.data, [0, 1, 2]);
    }

    // RFC 7016 2.3.11: OPT set with an empty list is a lone marker, and must round-trip.
    // spec: 7016-2.1.4-a, 7016-2.3.11-b
    #[test]
    fn empty_option_list_round_trips() {
        let bytes = [0x80, 0x01, 0x01, 0x00, 0x00, 0xaa];
        let u = UserData::decode(&bytes).unwrap();
        assert_eq!(u.options, Some(vec![]));
        let mut out = Vec::new();
        u.encode(&mut out);
        assert_eq!(out, bytes);
    }

    // RFC 7016 2.3.11.1: metadata (0x00), return association (0x0a), unknown types kept.
    // spec: 7016-2.3.11-b, 7016-2.3.11.1-a, 7016-2.3.11.1.1-a, 7016-2.3.11.1.2-a
    #[test]
    fn typed_options() {
        let bytes = [
            0x90, 0x03, 0x01, 0x01, // OPT, FRA=begin; flow 3, seq 1, fsnOffset 1
            0x03, 0x00, 0x6d, 0x64, // metadata "md"
            0x02, 0x0a, 0x05, // return association: flow 5
            0x04, 0xc0, 0x00, 0x01, 0x02, // option type 0x2000, value 01 02
            0x02, 0x21, 0xff, // option type 0x21, value ff
            0x00, // marker
            0x68, 0x69,
        ];
        let u = UserData::decode(&bytes).unwrap();
        assert_eq!(u.flags.fragment_control, FragmentControl::Begin);
        assert_eq!(u.metadata(), Some(&b"md"[..]));
        assert_eq!(u.return_flow_association(), Some(5));
        let opts = u.options.as_ref().unwrap();
        assert_eq!(opts.len(), 4);
        assert!(!opts[2].must_reject_flow());
        assert!(opts[3].must_reject_flow());
        assert_eq!(u.data, b"hi");
        let mut out = Vec::new();
        u.encode(&mut out);
        assert_eq!(out, bytes);
    }

    // spec: 7016-2-e, 7016-2-f, 7016-2.1.4-a, 7016-2.3.11.1.2-a
    #[test]
    fn malformed_user_data() {
        // fsnOffset 6 > seq# 5.
        let e = UserData::decode_at(&[0x00, 0x02, 0x05, 0x06], 3).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind.name()),
            ("fsnOffset", 6, "invalid")
        );
        // OPT set but no marker.
        let e = UserData::decode(&[0x80, 0x02, 0x05, 0x01]).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind.name()),
            ("options", 4, "truncated")
        );
        // Return Flow Association with an empty value.
        let e = UserData::decode_at(&[0x80, 0x02, 0x05, 0x01, 0x01, 0x0a, 0x00], 100).unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset),
            ("Return Flow Association option", "flowID", 106)
        );
    }

    // spec: 7016-2-d
    #[test]
    fn reserved_bits_are_kept_but_ignored() {
        let u = UserData::decode(&[0x4c | 0x03, 0x01, 0x01, 0x00]).unwrap();
        assert!(u.flags.abandon && u.flags.fin);
        assert_eq!(u.flags.reserved, 0x4c);
        assert_eq!(u.flags.fragment_control, FragmentControl::Whole);
    }

    // RFC 7016 2.3.11.1.1: metadata may be empty. An empty metadata option
    // (length 1, type 0) is present with no bytes, unlike a missing one.
    // spec: 7016-2.3.11.1.1-h
    #[test]
    fn empty_metadata_is_not_missing_metadata() {
        let empty = UserData::decode(&[0x80, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00]).unwrap();
        assert_eq!(empty.metadata(), Some(&[][..]));
        let none = UserData::decode(&[0x80, 0x01, 0x01, 0x01, 0x00]).unwrap();
        assert_eq!(none.metadata(), None);
        let no_list = UserData::decode(&[0x00, 0x01, 0x01, 0x01]).unwrap();
        assert_eq!(no_list.metadata(), None);
    }

    payload_props!(UserData, arb_user_data());
}
