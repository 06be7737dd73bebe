//! RHello Cookie Change chunk (0x79), RFC 7016 section 2.3.6: replaces a cookie the responder no longer accepts.

use super::ChunkPayload;
use crate::wire::error::WireError;
use crate::wire::fields::{Fields, Record};
use crate::wire::reader::Reader;
use crate::wire::vlu;

/// An RHello Cookie Change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RHelloCookieChange {
    /// `oldCookie`: the cookie from the RHello and IIKeying.
    pub old_cookie: Vec<u8>,
    /// `newCookie`: to be signed in a new IIKeying.
    pub new_cookie: Vec<u8>,
}

impl ChunkPayload for RHelloCookieChange {
    const TYPE: u8 = super::RHELLO_COOKIE_CHANGE;
    const NAME: &'static str = "RHello Cookie Change chunk";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let old_cookie = r.vlu_prefixed("oldCookieLen", "oldCookie")?.to_vec();
        let new_cookie = r.rest().to_vec();
        Ok(RHelloCookieChange {
            old_cookie,
            new_cookie,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        vlu::encode(self.old_cookie.len() as u64, out);
        out.extend_from_slice(&self.old_cookie);
        out.extend_from_slice(&self.new_cookie);
    }

    fn encoded_len(&self) -> usize {
        let o = self.old_cookie.len();
        vlu::encoded_len(o as u64) + o + self.new_cookie.len()
    }
}

impl Fields for RHelloCookieChange {
    fn fields(&self) -> Record {
        Record::new()
            .with("oldCookieLen", self.old_cookie.len())
            .with("oldCookie", &self.old_cookie)
            .with("newCookie", &self.new_cookie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::testing::*;

    // spec: 7016-2-e, 7016-2.3.6-c
    #[test]
    fn layout_and_errors() {
        let c = RHelloCookieChange::decode(&[0x01, 0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!((c.old_cookie, c.new_cookie), (vec![0xaa], vec![0xbb, 0xcc]));
        let e = RHelloCookieChange::decode(&[0x03, 0xaa]).unwrap_err();
        assert_eq!((e.field, e.offset), ("oldCookie", 1));
    }

    payload_props!(RHelloCookieChange, arb_rhello_cookie_change());
}
