//! Responder Redirect chunk (0x71), RFC 7016 section 2.3.5: other addresses to try for an opening session.

use super::ChunkPayload;
use crate::wire::address::Address;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record, Value};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// A Redirect. With no destinations it is an Implied Redirect: the address to
/// use is the source address of the packet that carried it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Redirect {
    /// `tagEcho`: the IHello's tag, unaltered.
    pub tag_echo: Vec<u8>,
    /// `redirectDestination`s, in order (possibly none).
    pub destinations: Vec<Address>,
}

impl Redirect {
    /// Whether this is an Implied Redirect (no addresses listed).
    pub fn is_implied(&self) -> bool {
        self.destinations.is_empty()
    }
}

impl ChunkPayload for Redirect {
    const TYPE: u8 = super::REDIRECT;
    const NAME: &'static str = "Redirect chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let tag_echo = r.vlu_prefixed("tagLength", "tagEcho")?.to_vec();
        // Each address takes at least 7 input bytes, so this vector stays
        // proportional to the input.
        let mut destinations = Vec::new();
        while !r.is_empty() {
            destinations.push(Address::decode(r)?);
        }
        Ok(Redirect {
            tag_echo,
            destinations,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.tag_echo.len() as u64, out);
        out.extend_from_slice(&self.tag_echo);
        for a in &self.destinations {
            a.encode(out);
        }
    }

    fn encoded_len(&self) -> usize {
        let t = self.tag_echo.len();
        vlu::encoded_len(t as u64)
            + t
            + self
                .destinations
                .iter()
                .map(Address::encoded_len)
                .sum::<usize>()
    }
}

impl Fields for Redirect {
    fn fields(&self) -> Record {
        let destinations: Vec<Value> = self
            .destinations
            .iter()
            .map(|a| Value::Record(a.fields()))
            .collect();
        Record::new()
            .with("tagLength", self.tag_echo.len())
            .with("tagEcho", &self.tag_echo)
            .with("redirectDestinations", destinations)
            .with("impliedRedirect", self.is_implied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-e, 7016-2-f, 7016-2.3.5-b
    #[test]
    fn implied_and_explicit() {
        let r = Redirect::decode(&[0x01, 0x55]).unwrap();
        assert!(r.is_implied());
        let r =
            Redirect::decode(&[0x00, 0x01, 10, 0, 0, 1, 0, 80, 0x03, 10, 0, 0, 2, 0, 81]).unwrap();
        assert_eq!(r.destinations.len(), 2);
        assert!(!r.is_implied());
        // A partial second address is a syntax error for the whole chunk.
        let e = Redirect::decode(&[0x00, 0x01, 10, 0, 0, 1, 0, 80, 0x03, 10]).unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset),
            ("Redirect chunk", "ipAddress", 9)
        );
    }

    payload_props!(Redirect, arb_redirect());
}
