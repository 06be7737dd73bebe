//! A bounds-checked cursor over input bytes (RFC 7016 section 2 parsing rules).
//!
//! Every read names the field it is for, so an error says exactly what was
//! missing and where. Nothing here panics or allocates.

use super::error::{WireError, WireErrorKind};
use super::vlu;

/// A cursor over a byte slice that tracks its absolute offset in the outermost input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    structure: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, decoding `structure`, at absolute offset 0.
    pub fn new(buf: &'a [u8], structure: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
            structure,
        }
    }

    /// A reader over `buf`, which starts at absolute offset `base` of the outermost input.
    pub fn with_base(buf: &'a [u8], base: usize, structure: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            base,
            structure,
        }
    }

    /// The structure this reader decodes, as named in errors.
    pub fn structure(&self) -> &'static str {
        self.structure
    }

    /// The absolute offset of the next byte to be read.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error about `field` at the current offset.
    pub fn error(&self, field: &'static str, kind: WireErrorKind) -> WireError {
        WireError {
            structure: self.structure,
            field,
            offset: self.offset(),
            kind,
        }
    }

    /// An error about `field` at absolute offset `offset`.
    pub fn error_at(&self, field: &'static str, offset: usize, kind: WireErrorKind) -> WireError {
        WireError {
            structure: self.structure,
            field,
            offset,
            kind,
        }
    }

    fn need(&self, field: &'static str, needed: usize) -> Result<(), WireError> {
        if self.remaining() < needed {
            Err(self.error(
                field,
                WireErrorKind::Truncated {
                    needed,
                    available: self.remaining(),
                },
            ))
        } else {
            Ok(())
        }
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        self.need(field, n)?;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    /// Reads everything that remains (possibly nothing).
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Looks at the next byte without consuming it.
    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Reads a `uint8_t`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// Reads a big-endian `uint16_t`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `uint32_t`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a VLU (RFC 7016 section 2.1.2) of at most 64 bits.
    pub fn vlu(&mut self, field: &'static str) -> Result<u64, WireError> {
        match vlu::decode(&self.buf[self.pos..]) {
            Ok((value, len)) => {
                self.pos += len;
                Ok(value)
            }
            Err(kind) => Err(self.error(field, kind)),
        }
    }

    /// Reads a VLU length followed by that many bytes.
    pub fn vlu_prefixed(
        &mut self,
        length_field: &'static str,
        field: &'static str,
    ) -> Result<&'a [u8], WireError> {
        let len = self.vlu(length_field)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.bytes(len, field)
    }

    /// Splits off the next `n` bytes as a nested reader for `structure`.
    pub fn sub(
        &mut self,
        n: usize,
        field: &'static str,
        structure: &'static str,
    ) -> Result<Reader<'a>, WireError> {
        let base = self.offset();
        let bytes = self.bytes(n, field)?;
        Ok(Reader::with_base(bytes, base, structure))
    }

    /// Fails with [`WireErrorKind::TrailingBytes`] unless every byte has been read.
    pub fn finish(&self, field: &'static str) -> Result<(), WireError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(
                field,
                WireErrorKind::TrailingBytes {
                    count: self.remaining(),
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // spec: 7425-3-e
    #[test]
    fn reads_report_absolute_offsets() {
        let data = [0u8, 1, 2, 3, 4];
        let mut r = Reader::with_base(&data, 100, "test");
        assert_eq!(r.u16("a").unwrap(), 1);
        let e = r.u32("b").unwrap_err();
        assert_eq!(e.offset, 102);
        assert_eq!(e.field, "b");
        assert_eq!(
            e.kind,
            WireErrorKind::Truncated {
                needed: 4,
                available: 3
            }
        );
        let mut sub = r.sub(2, "inner", "inner struct").unwrap();
        assert_eq!(sub.offset(), 102);
        assert_eq!(sub.u8("x").unwrap(), 2);
        assert_eq!(sub.u16("y").unwrap_err().offset, 103);
        assert!(r.finish("end").is_err());
    }

    // spec: 7425-3-e
    #[test]
    fn a_huge_vlu_prefixed_length_is_truncation_not_allocation() {
        // length = 2^63, followed by two bytes.
        let data = [
            0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0xaa, 0xbb,
        ];
        let mut r = Reader::new(&data, "test");
        let e = r.vlu_prefixed("len", "payload").unwrap_err();
        assert_eq!(e.field, "payload");
        assert_eq!(e.kind.name(), "truncated");
    }
}
