//! The plain (decrypted) packet: common header, chunks and padding, RFC 7016 section 2.2.4.
//!
//! # Decoding, chunk by chunk
//!
//! [`PlainPacket::decode`] reads only the common header; it fails when the
//! header is truncated or the packet mode is 0 (forbidden, the packet must be
//! discarded). Framing the chunks after it cannot fail: by the padding rules of
//! section 2.2.4, fewer than 3 bytes left, or a `chunkLength` longer than what
//! is left, mean that the rest of the packet is padding. So
//! [`PlainPacket::chunks`] yields [`RawChunk`]s (type, payload, byte offset)
//! and then stops; [`PlainPacket::padding`] is what it stopped at.
//!
//! Each raw chunk is decoded on its own with [`RawChunk::decode`] into a typed
//! [`Chunk`]. A chunk with a syntax error gives an `Err` for that chunk only
//! (section 2.3: it is ignored and processing goes on with the next chunk), so
//! a session can count and skip bad chunks while keeping the good ones, and
//! still knows each bad chunk's type and offset. [`PlainPacket::decoded_chunks`]
//! does both steps and also resolves every Next User Data chunk to its flow
//! position (section 2.3.12). Nothing on this path allocates beyond the
//! decoded chunks' own byte fields.
//!
//! # Encoding
//!
//! [`Packet`] is the owned form a sender builds: header plus chunks. Encoding
//! writes exactly those; padding to the cipher block is the cryptography
//! profile's job (section 2.2.3). A `0xff` fill decodes as padding because its
//! `chunkLength` (0xffff) never fits in the bytes that remain.

use super::chunk::next_user_data::{FlowPosition, Resolver};
use super::chunk::{self, Chunk};
use super::error::{EncodeError, WireError, WireErrorKind};
use super::fields::{Fields, Record, Value};
use super::reader::Reader;

/// Time Critical Forward Notification flag (`TC`).
pub const FLAG_TIME_CRITICAL: u8 = 0x80;
/// Time Critical Reverse Notification flag (`TCR`).
pub const FLAG_TIME_CRITICAL_REVERSE: u8 = 0x40;
/// The two reserved header bits (`rsv`).
pub const RESERVED_MASK: u8 = 0x30;
/// Timestamp present flag (`TS`).
pub const FLAG_TIMESTAMP: u8 = 0x08;
/// Timestamp echo present flag (`TSE`).
pub const FLAG_TIMESTAMP_ECHO: u8 = 0x04;
/// The packet mode bits (`MOD`).
pub const MODE_MASK: u8 = 0x03;

/// The largest common header: flags, timestamp and timestamp echo (1 + 2 + 2 bytes).
pub const MAX_HEADER_LEN: usize = 5;

/// The packet mode (`MOD`); the forbidden value 0 has no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// 1: sent by a session's original initiator ("Initiator Mark").
    Initiator,
    /// 2: sent by a session's original responder ("Responder Mark").
    Responder,
    /// 3: session startup.
    Startup,
}

impl Mode {
    /// The two-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Mode::Initiator => 1,
            Mode::Responder => 2,
            Mode::Startup => 3,
        }
    }

    /// The mode for a two-bit value; `None` for the forbidden mode 0.
    pub fn from_bits(bits: u8) -> Option<Self> {
        match bits & MODE_MASK {
            1 => Some(Mode::Initiator),
            2 => Some(Mode::Responder),
            3 => Some(Mode::Startup),
            _ => None,
        }
    }

    /// A short lower-case name (`initiator`, `responder`, `startup`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Initiator => "initiator",
            Mode::Responder => "responder",
            Mode::Startup => "startup",
        }
    }
}

/// The common packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// `TC`: this packet carries real-time user data.
    pub time_critical: bool,
    /// `TCR`: the sender is receiving time-critical packets on other sessions.
    pub time_critical_reverse: bool,
    /// The two reserved bits as a value 0..=3. Senders should use 0; kept so
    /// a decode/encode round trip is faithful and testers can set them.
    pub reserved: u8,
    /// The packet mode.
    pub mode: Mode,
    /// The low 16 bits of the sender's 4 ms clock, when `TS` is set.
    pub timestamp: Option<u16>,
    /// The echoed timestamp, when `TSE` is set.
    pub timestamp_echo: Option<u16>,
}

impl Header {
    /// A header with the given mode, no flags and no timestamps.
    pub fn new(mode: Mode) -> Self {
        Header {
            time_critical: false,
            time_critical_reverse: false,
            reserved: 0,
            mode,
            timestamp: None,
            timestamp_echo: None,
        }
    }

    /// The flags byte this header encodes to.
    pub fn flags(&self) -> u8 {
        let mut flags = self.mode.bits() | ((self.reserved << 4) & RESERVED_MASK);
        if self.time_critical {
            flags |= FLAG_TIME_CRITICAL;
        }
        if self.time_critical_reverse {
            flags |= FLAG_TIME_CRITICAL_REVERSE;
        }
        if self.timestamp.is_some() {
            flags |= FLAG_TIMESTAMP;
        }
        if self.timestamp_echo.is_some() {
            flags |= FLAG_TIMESTAMP_ECHO;
        }
        flags
    }

    /// Reads the header from the front of a packet.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let flags_at = r.offset();
        let flags = r.u8("flags")?;
        // RFC 7016 2.2.4: mode 0 is forbidden; such packets are discarded.
        let mode = Mode::from_bits(flags).ok_or_else(|| {
            r.error_at(
                "mode",
                flags_at,
                WireErrorKind::Invalid("packet mode 0 is forbidden"),
            )
        })?;
        let timestamp = if flags & FLAG_TIMESTAMP != 0 {
            Some(r.u16("timestamp")?)
        } else {
            None
        };
        let timestamp_echo = if flags & FLAG_TIMESTAMP_ECHO != 0 {
            Some(r.u16("timestampEcho")?)
        } else {
            None
        };
        Ok(Header {
            time_critical: flags & FLAG_TIME_CRITICAL != 0,
            time_critical_reverse: flags & FLAG_TIME_CRITICAL_REVERSE != 0,
            reserved: (flags & RESERVED_MASK) >> 4,
            mode,
            timestamp,
            timestamp_echo,
        })
    }

    /// Appends the header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.flags());
        if let Some(ts) = self.timestamp {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        if let Some(tse) = self.timestamp_echo {
            out.extend_from_slice(&tse.to_be_bytes());
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes (1, 3 or 5).
    pub fn encoded_len(&self) -> usize {
        1 + 2 * usize::from(self.timestamp.is_some())
            + 2 * usize::from(self.timestamp_echo.is_some())
    }
}

impl Fields for Header {
    fn fields(&self) -> Record {
        Record::new()
            .with("flags", self.flags())
            .with("timeCritical", self.time_critical)
            .with("timeCriticalReverse", self.time_critical_reverse)
            .with("reserved", self.reserved)
            .with("timestampPresent", self.timestamp.is_some())
            .with("timestampEchoPresent", self.timestamp_echo.is_some())
            .with("mode", self.mode.name())
            .with("timestamp", self.timestamp)
            .with("timestampEcho", self.timestamp_echo)
    }
}

/// One chunk as framed in a packet, not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChunk<'a> {
    /// The `chunkType` code.
    pub chunk_type: u8,
    /// The `chunkPayload` (exactly `chunkLength` bytes).
    pub payload: &'a [u8],
    /// Absolute offset of the chunk's first (type) byte.
    pub offset: usize,
}

impl<'a> RawChunk<'a> {
    /// Absolute offset of the payload's first byte.
    pub fn payload_offset(&self) -> usize {
        self.offset + chunk::HEADER_LEN
    }

    /// Decodes the payload into a typed chunk; errors carry absolute offsets.
    pub fn decode(&self) -> Result<Chunk, WireError> {
        Chunk::decode(self.chunk_type, self.payload, self.payload_offset())
    }

    /// The RFC name of this chunk's type.
    pub fn name(&self) -> &'static str {
        chunk::name_of(self.chunk_type)
    }
}

/// Iterator over the chunks of a packet body; stops where padding begins.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Chunks<'a> {
    /// Frames the chunks of `body` (a packet after its header), which starts at absolute offset `offset`.
    pub fn new(body: &'a [u8], offset: usize) -> Self {
        Chunks { rest: body, offset }
    }

    /// What is left: after the iterator has returned `None`, the padding.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Absolute offset of [`remaining`](Self::remaining).
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = RawChunk<'a>;

    fn next(&mut self) -> Option<RawChunk<'a>> {
        // RFC 7016 2.2.4 padding rules. Fewer than three bytes left: padding.
        let [chunk_type, len_hi, len_lo, after @ ..] = self.rest else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*len_hi, *len_lo]));
        // A chunk that would not fit: padding.
        let (payload, rest) = after.split_at_checked(len)?;
        let raw = RawChunk {
            chunk_type: *chunk_type,
            payload,
            offset: self.offset,
        };
        self.rest = rest;
        self.offset += chunk::HEADER_LEN + len;
        Some(raw)
    }
}

/// A decoded plain packet borrowing its bytes: the header and a lazily framed body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainPacket<'a> {
    /// The common header.
    pub header: Header,
    body: &'a [u8],
    body_offset: usize,
}

impl<'a> PlainPacket<'a> {
    /// Decodes the header of a plain packet starting at absolute offset 0.
    pub fn decode(packet: &'a [u8]) -> Result<Self, WireError> {
        Self::decode_at(packet, 0)
    }

    /// Decodes the header of a plain packet that starts at absolute offset `base`.
    pub fn decode_at(packet: &'a [u8], base: usize) -> Result<Self, WireError> {
        let mut r = Reader::with_base(packet, base, "Packet");
        let header = Header::decode_from(&mut r)?;
        let body_offset = r.offset();
        Ok(PlainPacket {
            header,
            body: r.rest(),
            body_offset,
        })
    }

    /// The chunks, in order; framing never fails (see the module documentation).
    pub fn chunks(&self) -> Chunks<'a> {
        Chunks {
            rest: self.body,
            offset: self.body_offset,
        }
    }

    /// The padding after the last chunk, with its absolute offset.
    pub fn padding(&self) -> (usize, &'a [u8]) {
        let mut chunks = self.chunks();
        for _ in chunks.by_ref() {}
        (chunks.offset(), chunks.remaining())
    }

    /// Every chunk decoded, with Next User Data chunks resolved to their flow positions.
    pub fn decoded_chunks(&self) -> DecodedChunks<'a> {
        DecodedChunks {
            chunks: self.chunks(),
            resolver: Resolver::new(),
        }
    }

    /// Decodes every chunk, failing at the first malformed one. Meant for
    /// tests and tools; a session should use [`decoded_chunks`](Self::decoded_chunks)
    /// so one bad chunk does not lose the others.
    pub fn to_packet(&self) -> Result<Packet, WireError> {
        let chunks = self
            .chunks()
            .map(|raw| raw.decode())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Packet {
            header: self.header,
            chunks,
        })
    }
}

/// A chunk of a packet after decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedChunk<'a> {
    /// Where it was and what type it said it was.
    pub raw: RawChunk<'a>,
    /// The typed chunk, or why it is to be ignored (section 2.3).
    pub chunk: Result<Chunk, WireError>,
    /// For User Data and (resolved) Next User Data chunks: flow, sequence number and FSN.
    pub position: Option<FlowPosition>,
}

impl Fields for DecodedChunk<'_> {
    /// Offset and type, then either the chunk's fields and its flow position or the error.
    fn fields(&self) -> Record {
        let mut rec = Record::new()
            .with("offset", self.raw.offset)
            .with("chunkType", self.raw.chunk_type)
            .with("name", self.raw.name())
            .with("chunkLength", self.raw.payload.len());
        match &self.chunk {
            Ok(c) => {
                // The chunk's own header fields are already listed.
                rec.0.extend(c.fields().0.into_iter().skip(3));
                if let Some(p) = &self.position {
                    rec.push("position", p.fields());
                }
            }
            Err(e) => {
                rec.push("chunkPayload", self.raw.payload);
                rec.push("error", e.fields());
            }
        }
        rec
    }
}

/// Iterator produced by [`PlainPacket::decoded_chunks`].
#[derive(Debug, Clone)]
pub struct DecodedChunks<'a> {
    chunks: Chunks<'a>,
    resolver: Resolver,
}

impl<'a> DecodedChunks<'a> {
    /// Decodes the chunks framed by `chunks`, resolving Next User Data chunks
    /// against the User Data chunks among them.
    pub fn new(chunks: Chunks<'a>) -> Self {
        DecodedChunks {
            chunks,
            resolver: Resolver::new(),
        }
    }

    /// The underlying framing iterator (for [`Chunks::remaining`] once done).
    pub fn framing(&self) -> &Chunks<'a> {
        &self.chunks
    }
}

impl<'a> Iterator for DecodedChunks<'a> {
    type Item = DecodedChunk<'a>;

    fn next(&mut self) -> Option<DecodedChunk<'a>> {
        let raw = self.chunks.next()?;
        let (chunk, position) = match raw.decode() {
            Ok(Chunk::UserData(ud)) => {
                let position = self.resolver.user_data(&ud);
                (Ok(Chunk::UserData(ud)), Some(position))
            }
            Ok(Chunk::NextUserData(nud)) => match self.resolver.next_user_data(raw.offset) {
                Ok(position) => (Ok(Chunk::NextUserData(nud)), Some(position)),
                Err(e) => (Err(e), None),
            },
            Err(e) if matches!(raw.chunk_type, chunk::USER_DATA | chunk::NEXT_USER_DATA) => {
                self.resolver.malformed();
                (Err(e), None)
            }
            other => (other, None),
        };
        Some(DecodedChunk {
            raw,
            chunk,
            position,
        })
    }
}

/// An owned plain packet: what a sender builds and encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The common header.
    pub header: Header,
    /// The chunks, in order.
    pub chunks: Vec<Chunk>,
}

impl Packet {
    /// A packet with no chunks.
    pub fn new(header: Header) -> Self {
        Packet {
            header,
            chunks: Vec::new(),
        }
    }

    /// Decodes a whole packet, failing at the first malformed chunk (see [`PlainPacket::to_packet`]).
    pub fn decode(packet: &[u8]) -> Result<Self, WireError> {
        PlainPacket::decode(packet)?.to_packet()
    }

    /// Appends the header and every chunk. No padding is written.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        // Check every chunk before writing anything, so a failure leaves `out` untouched.
        for c in &self.chunks {
            c.check_len()?;
        }
        self.header.encode(out);
        for c in &self.chunks {
            c.encode(out)?;
        }
        Ok(())
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len() + self.chunks.iter().map(Chunk::encoded_len).sum::<usize>()
    }
}

impl Fields for Packet {
    fn fields(&self) -> Record {
        let chunks = self
            .chunks
            .iter()
            .map(|c| Value::Record(c.fields()))
            .collect::<Vec<_>>();
        Record::new()
            .with("header", self.header.fields())
            .with("chunks", chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::ping::Ping;
    use crate::wire::chunk::testing::arb_chunk;
    use crate::wire::chunk::{Padding, PaddingType};
    use proptest::prelude::*;

    fn arb_header() -> impl Strategy<Value = Header> {
        (
            any::<bool>(),
            any::<bool>(),
            0u8..4,
            prop_oneof![
                Just(Mode::Initiator),
                Just(Mode::Responder),
                Just(Mode::Startup)
            ],
            any::<Option<u16>>(),
            any::<Option<u16>>(),
        )
            .prop_map(|(tc, tcr, reserved, mode, ts, tse)| Header {
                time_critical: tc,
                time_critical_reverse: tcr,
                reserved,
                mode,
                timestamp: ts,
                timestamp_echo: tse,
            })
    }

    // RFC 7016 2.2.4: flags TC TCR rsv rsv TS TSE MOD MOD.
    // spec: 7016-2-b, 7016-2.1.1-a, 7016-2.2.4-d
    #[test]
    fn header_layout() {
        let h = Header {
            time_critical: true,
            time_critical_reverse: false,
            reserved: 0,
            mode: Mode::Initiator,
            timestamp: Some(0x1234),
            timestamp_echo: Some(0xabcd),
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [0x8d, 0x12, 0x34, 0xab, 0xcd]);
        assert_eq!(out.len(), MAX_HEADER_LEN);
        let p = PlainPacket::decode(&out).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.chunks().count(), 0);
    }

    // RFC 7016 2.2.4: packet mode 0 is forbidden.
    // spec: 7016-2.2.4-j
    #[test]
    fn mode_zero_is_invalid() {
        let e = PlainPacket::decode(&[0x0c, 0, 1, 0, 2]).unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset, e.kind.name()),
            ("Packet", "mode", 0, "invalid")
        );
    }

    // spec: 7016-2-e, 7016-2-f, 7016-2.2.4-d
    #[test]
    fn truncated_timestamps_name_their_field() {
        let e = PlainPacket::decode(&[0x0b, 0x01]).unwrap_err();
        assert_eq!((e.field, e.offset), ("timestamp", 1));
        let e = PlainPacket::decode(&[0x0f, 0x00, 0x01, 0x02]).unwrap_err();
        assert_eq!((e.field, e.offset), ("timestampEcho", 3));
        let e = PlainPacket::decode(&[]).unwrap_err();
        assert_eq!((e.field, e.offset), ("flags", 0));
    }

    // RFC 7016 2.2.4: what counts as padding.
    // spec: 7016-2.2.4-a, 7016-2.2.4-e, 7016-2.3-b
    #[test]
    fn padding_rules() {
        // Ping "ab", then two bytes: fewer than three left is padding.
        let bytes = [0x03, 0x01, 0x00, 0x02, 0xaa, 0xbb, 0xff, 0xff];
        let p = PlainPacket::decode(&bytes).unwrap();
        let chunks: Vec<_> = p.chunks().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].chunk_type, chunks[0].offset), (0x01, 1));
        assert_eq!(p.padding(), (6, &[0xff, 0xff][..]));

        // A chunkLength longer than what is left is padding, even for a known type.
        let bytes = [0x01, 0x01, 0x00, 0x05, 0xaa];
        let p = PlainPacket::decode(&bytes).unwrap();
        assert_eq!(p.chunks().count(), 0);
        assert_eq!(p.padding(), (1, &bytes[1..]));

        // 0xff fill: chunkLength 0xffff never fits.
        let bytes = [0x02, 0x0c, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff];
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(p.chunks, vec![Chunk::Close(Default::default())]);

        // A 0x00 chunk that fits is a padding chunk and keeps its length.
        let bytes = [0x02, 0x00, 0x00, 0x02, 0x00, 0x00, 0x0c, 0x00, 0x00];
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(
            p.chunks,
            vec![
                Chunk::Padding(Padding {
                    chunk_type: PaddingType::Zero,
                    payload: vec![0, 0]
                }),
                Chunk::Close(Default::default())
            ]
        );
    }

    // RFC 7016 2.3: a chunk with a syntax error is ignored; the next is processed.
    // spec: 7016-2.3-e, 7016-2.3-f
    #[test]
    fn a_malformed_chunk_does_not_lose_the_others() {
        // Ping, Buffer Probe with a truncated VLU, Close.
        let bytes = [
            0x01, 0x01, 0x00, 0x01, 0x07, 0x18, 0x00, 0x01, 0x81, 0x0c, 0x00, 0x00,
        ];
        let p = PlainPacket::decode(&bytes).unwrap();
        let decoded: Vec<_> = p.decoded_chunks().collect();
        assert_eq!(decoded.len(), 3);
        assert_eq!(
            decoded[0].chunk,
            Ok(Chunk::Ping(Ping {
                message: vec![0x07]
            }))
        );
        let e = decoded[1].chunk.clone().unwrap_err();
        assert_eq!(decoded[1].raw.chunk_type, 0x18);
        assert_eq!(decoded[1].raw.offset, 5);
        assert_eq!(
            (e.structure, e.field, e.offset, e.kind.name()),
            ("Buffer Probe chunk", "flowID", 8, "truncated")
        );
        assert_eq!(decoded[2].chunk, Ok(Chunk::Close(Default::default())));
        assert!(Packet::decode(&bytes).is_err());
    }

    // spec: 7016-2.3-a
    #[test]
    fn oversized_chunks_cannot_be_encoded() {
        let mut p = Packet::new(Header::new(Mode::Initiator));
        p.chunks.push(Chunk::Ping(Ping {
            message: vec![0; 65536],
        }));
        let mut out = Vec::new();
        let e = p.encode(&mut out).unwrap_err();
        assert_eq!((e.field, e.len, e.max), ("chunkLength", 65536, 65535));
        assert!(out.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        // spec: 7016-2.2.4-d
        #[test]
        fn header_round_trip(h in arb_header()) {
            let mut out = Vec::new();
            h.encode(&mut out);
            prop_assert_eq!(out.len(), h.encoded_len());
            prop_assert_eq!(PlainPacket::decode(&out).unwrap().header, h);
        }

        // spec: 7016-2.2.4-a, 7016-2.3-a
        #[test]
        fn packet_round_trip(h in arb_header(), chunks in proptest::collection::vec(arb_chunk(), 0..5), pad in 0usize..3) {
            let p = Packet { header: h, chunks };
            let mut out = Vec::new();
            p.encode(&mut out).unwrap();
            prop_assert_eq!(out.len(), p.encoded_len());
            // Append 0xff padding as a cryptography profile would.
            let chunk_end = out.len();
            out.extend(std::iter::repeat_n(0xff, pad));
            prop_assert_eq!(&Packet::decode(&out).unwrap(), &p);
            let plain = PlainPacket::decode(&out).unwrap();
            prop_assert_eq!(plain.padding().0, chunk_end);
        }

        // spec: 7016-2-e, 7016-2.2.4-e
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Ok(p) = PlainPacket::decode(&bytes) {
                let mut end = p.header.encoded_len();
                for d in p.decoded_chunks() {
                    prop_assert_eq!(d.raw.offset, end);
                    end += 3 + d.raw.payload.len();
                    if let Err(e) = d.chunk {
                        prop_assert!(e.offset <= bytes.len());
                    }
                }
                let (pad_at, pad) = p.padding();
                prop_assert_eq!(pad_at, end);
                prop_assert_eq!(pad_at + pad.len(), bytes.len());
            }
        }
    }
}
