//! Option, Marker and Option List, RFC 7016 sections 2.1.3 and 2.1.4.
//!
//! An Option is `length` (VLU) followed by `length` bytes holding `type` (VLU)
//! and the value. A zero length is a Marker. An Option List is zero or more
//! non-empty Options ended by a Marker. The Flash profile (RFC 7425) also
//! uses bare sequences of Options and Markers that run to the end of a field;
//! [`decode_sequence`] reads those.

use super::error::{WireError, WireErrorKind};
use super::reader::Reader;
use super::vlu;

/// A non-empty Option: a type code and its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtmfpOption {
    /// The option type code.
    pub option_type: u64,
    /// The option value (may be empty).
    pub value: Vec<u8>,
}

/// One element of an option sequence: an Option or a Marker (an empty Option).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OptionItem {
    /// A non-empty Option.
    Option(RtmfpOption),
    /// A Marker: length zero, no type, no value.
    Marker,
}

impl RtmfpOption {
    /// An option of `option_type` holding `value`.
    pub fn new(option_type: u64, value: impl Into<Vec<u8>>) -> Self {
        RtmfpOption {
            option_type,
            value: value.into(),
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let payload = vlu::encoded_len(self.option_type) + self.value.len();
        vlu::encoded_len(payload as u64) + payload
    }

    /// Appends this option's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let payload = vlu::encoded_len(self.option_type) + self.value.len();
        vlu::encode(payload as u64, out);
        vlu::encode(self.option_type, out);
        out.extend_from_slice(&self.value);
    }

    /// Reads a VLU from the value, as used by options whose value is a single VLU
    /// (for example Return Flow Association). Trailing bytes are ignored.
    pub fn value_as_vlu(&self) -> Option<u64> {
        vlu::decode(&self.value).ok().map(|(v, _)| v)
    }
}

/// Reads one Option or Marker from `r`.
pub fn decode_item(r: &mut Reader<'_>) -> Result<OptionItem, WireError> {
    let length = r.vlu("option length")?;
    if length == 0 {
        return Ok(OptionItem::Marker);
    }
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    let mut payload = r.sub(length, "option payload", "Option")?;
    let option_type = payload.vlu("option type")?;
    let value = payload.rest().to_vec();
    Ok(OptionItem::Option(RtmfpOption { option_type, value }))
}

/// Reads an Option List (section 2.1.4): non-empty Options up to and including a Marker.
pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<RtmfpOption>, WireError> {
    let mut options = Vec::new();
    loop {
        if r.is_empty() {
            return Err(r.error(
                "option list marker",
                WireErrorKind::Truncated {
                    needed: 1,
                    available: 0,
                },
            ));
        }
        match decode_item(r)? {
            OptionItem::Marker => return Ok(options),
            OptionItem::Option(o) => options.push(o),
        }
    }
}

/// Appends an Option List: each option, then a Marker.
pub fn encode_list(options: &[RtmfpOption], out: &mut Vec<u8>) {
    for o in options {
        o.encode(out);
    }
    out.push(0);
}

/// The number of bytes [`encode_list`] writes.
pub fn list_encoded_len(options: &[RtmfpOption]) -> usize {
    options.iter().map(RtmfpOption::encoded_len).sum::<usize>() + 1
}

/// Reads Options and Markers until the input ends (RFC 7425's certificates,
/// endpoint discriminators, keying components and signatures).
pub fn decode_sequence(r: &mut Reader<'_>) -> Result<Vec<OptionItem>, WireError> {
    let mut items = Vec::new();
    while !r.is_empty() {
        items.push(decode_item(r)?);
    }
    Ok(items)
}

/// Appends a sequence of Options and Markers with no terminator.
pub fn encode_sequence(items: &[OptionItem], out: &mut Vec<u8>) {
    for item in items {
        match item {
            OptionItem::Option(o) => o.encode(out),
            OptionItem::Marker => out.push(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn option_layout_is_length_type_value() {
        // Return Flow Association naming flow 5: length 2, type 0x0a, VLU 5.
        let o = RtmfpOption::new(0x0a, vec![0x05]);
        let mut out = Vec::new();
        o.encode(&mut out);
        assert_eq!(out, [0x02, 0x0a, 0x05]);
        assert_eq!(o.value_as_vlu(), Some(5));
        let mut r = Reader::new(&out, "test");
        assert_eq!(decode_item(&mut r).unwrap(), OptionItem::Option(o));
    }

    #[test]
    fn list_needs_its_marker() {
        let mut r = Reader::new(&[0x01, 0x00], "test");
        // One option of type 0 with an empty value, then end of input: no marker.
        let e = decode_list(&mut r).unwrap_err();
        assert_eq!(e.field, "option list marker");
        assert_eq!(e.offset, 2);
        let mut r = Reader::new(&[0x01, 0x00, 0x00], "test");
        assert_eq!(
            decode_list(&mut r).unwrap(),
            vec![RtmfpOption::new(0, vec![])]
        );
    }

    // spec: 7425-3-e
    #[test]
    fn option_whose_type_overruns_its_length_is_an_error() {
        // length 1 but the type VLU continues past it.
        let mut r = Reader::new(&[0x01, 0x81, 0x00], "test");
        let e = decode_item(&mut r).unwrap_err();
        assert_eq!(e.structure, "Option");
        assert_eq!(e.field, "option type");
        assert_eq!(e.offset, 1);
    }

    fn arb_option() -> impl Strategy<Value = RtmfpOption> {
        (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(t, v)| RtmfpOption::new(t, v))
    }

    proptest! {
        #[test]
        fn list_round_trip(options in proptest::collection::vec(arb_option(), 0..6)) {
            let mut out = Vec::new();
            encode_list(&options, &mut out);
            prop_assert_eq!(out.len(), list_encoded_len(&options));
            let mut r = Reader::new(&out, "test");
            prop_assert_eq!(decode_list(&mut r).unwrap(), options);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn sequence_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes, "test");
            let _ = decode_sequence(&mut r);
        }
    }
}
