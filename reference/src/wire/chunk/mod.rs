//! Chunks, RFC 7016 section 2.3: one module per chunk type, and the [`Chunk`] enum over them.
//!
//! A chunk is `chunkType` (1 byte), `chunkLength` (2 bytes) and that many
//! payload bytes. Each typed struct here decodes and encodes the *payload*
//! only (the RFC's `...ChunkPayload_t`), through the [`ChunkPayload`] trait:
//! `X::decode(payload)` reverses `x.encode(&mut buf)`. [`Chunk::encode`] adds
//! the 3-byte chunk header.
//!
//! Design choice for error handling (section 2.3 says a malformed chunk is
//! ignored and the next one processed): a packet is first framed into raw
//! chunks (type, payload, offset; see [`crate::wire::packet`]), then each raw
//! chunk is decoded on its own into a `Result<Chunk, WireError>`. The `Chunk`
//! enum itself only holds well-formed chunks; a bad chunk is an `Err` that
//! still comes with its raw type and offset. Chunk types this implementation
//! does not know decode to [`Chunk::Unknown`], keeping their bytes; the two
//! padding types 0x00 and 0xff decode to [`Chunk::Padding`], keeping theirs.
//!
//! Decoders ignore bytes left over after the last field of a fixed-layout
//! payload (Buffer Probe, Flow Exception Report, Close, Close Ack), as
//! rtmfp-cpp does: RFC 7016 declares those structures `:chunkLength*8` but does
//! not say extra bytes are an error, and a tolerant peer interoperates with
//! future extensions. Reserved bits are kept in the typed values (senders
//! leave them zero; a conformance tester may set them), and ignored otherwise.

use super::error::{EncodeError, WireError, WireErrorKind};
use super::fields::{Fields, Record};
use super::packet::Mode;
use super::reader::Reader;

pub mod ack;
pub mod bitmap_ack;
pub mod buffer_probe;
pub mod close;
pub mod close_ack;
pub mod fihello;
pub mod flow_exception_report;
pub mod ihello;
pub mod iikeying;
pub mod next_user_data;
pub mod packet_fragment;
pub mod ping;
pub mod ping_reply;
pub mod range_ack;
pub mod redirect;
pub mod rhello;
pub mod rhello_cookie_change;
pub mod rikeying;
pub mod user_data;

#[cfg(test)]
pub(crate) mod testing;

pub use bitmap_ack::BitmapAck;
pub use buffer_probe::BufferProbe;
pub use close::Close;
pub use close_ack::CloseAck;
pub use fihello::FIHello;
pub use flow_exception_report::FlowExceptionReport;
pub use ihello::IHello;
pub use iikeying::IIKeying;
pub use next_user_data::NextUserData;
pub use packet_fragment::PacketFragment;
pub use ping::Ping;
pub use ping_reply::PingReply;
pub use range_ack::RangeAck;
pub use redirect::Redirect;
pub use rhello::RHello;
pub use rhello_cookie_change::RHelloCookieChange;
pub use rikeying::RIKeying;
pub use user_data::UserData;

/// Packet Fragment (2.3.1).
pub const PACKET_FRAGMENT: u8 = 0x7f;
/// Initiator Hello (2.3.2).
pub const IHELLO: u8 = 0x30;
/// Forwarded Initiator Hello (2.3.3).
pub const FIHELLO: u8 = 0x0f;
/// Responder Hello (2.3.4).
pub const RHELLO: u8 = 0x70;
/// Responder Redirect (2.3.5).
pub const REDIRECT: u8 = 0x71;
/// RHello Cookie Change (2.3.6).
pub const RHELLO_COOKIE_CHANGE: u8 = 0x79;
/// Initiator Initial Keying (2.3.7).
pub const IIKEYING: u8 = 0x38;
/// Responder Initial Keying (2.3.8).
pub const RIKEYING: u8 = 0x78;
/// Ping (2.3.9).
pub const PING: u8 = 0x01;
/// Ping Reply (2.3.10).
pub const PING_REPLY: u8 = 0x41;
/// User Data (2.3.11).
pub const USER_DATA: u8 = 0x10;
/// Next User Data (2.3.12).
pub const NEXT_USER_DATA: u8 = 0x11;
/// Data Acknowledgement Bitmap (2.3.13).
pub const BITMAP_ACK: u8 = 0x50;
/// Data Acknowledgement Ranges (2.3.14).
pub const RANGE_ACK: u8 = 0x51;
/// Buffer Probe (2.3.15).
pub const BUFFER_PROBE: u8 = 0x18;
/// Flow Exception Report (2.3.16).
pub const FLOW_EXCEPTION_REPORT: u8 = 0x5e;
/// Session Close Request (2.3.17).
pub const CLOSE: u8 = 0x0c;
/// Session Close Acknowledgement (2.3.18).
pub const CLOSE_ACK: u8 = 0x4c;
/// Ignore/Padding, zero fill (2.3).
pub const PADDING_00: u8 = 0x00;
/// Ignore/Padding, 0xff fill (2.3).
pub const PADDING_FF: u8 = 0xff;

/// Size of the chunk header: `chunkType` and `chunkLength`.
pub const HEADER_LEN: usize = 3;
/// The largest payload `chunkLength` can describe.
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize;

/// The RFC name of a chunk type ("Unknown" for codes RFC 7016 does not define).
pub fn name_of(chunk_type: u8) -> &'static str {
    match chunk_type {
        PACKET_FRAGMENT => "Packet Fragment",
        IHELLO => "Initiator Hello",
        FIHELLO => "Forwarded Initiator Hello",
        RHELLO => "Responder Hello",
        REDIRECT => "Responder Redirect",
        RHELLO_COOKIE_CHANGE => "RHello Cookie Change",
        IIKEYING => "Initiator Initial Keying",
        RIKEYING => "Responder Initial Keying",
        PING => "Ping",
        PING_REPLY => "Ping Reply",
        USER_DATA => "User Data",
        NEXT_USER_DATA => "Next User Data",
        BITMAP_ACK => "Data Acknowledgement Bitmap",
        RANGE_ACK => "Data Acknowledgement Ranges",
        BUFFER_PROBE => "Buffer Probe",
        FLOW_EXCEPTION_REPORT => "Flow Exception Report",
        CLOSE => "Session Close Request",
        CLOSE_ACK => "Session Close Acknowledgement",
        PADDING_00 | PADDING_FF => "Padding",
        _ => "Unknown",
    }
}

/// Whether RFC 7016 defines this chunk type code.
pub fn is_known(chunk_type: u8) -> bool {
    name_of(chunk_type) != "Unknown"
}

/// Whether a chunk type is a session startup chunk, allowed only in mode 3 (section 2.2.4).
pub fn is_startup(chunk_type: u8) -> bool {
    matches!(
        chunk_type,
        IHELLO | RHELLO | REDIRECT | RHELLO_COOKIE_CHANGE | IIKEYING | RIKEYING
    )
}

/// Whether a chunk of this type may appear in a packet of this mode (sections
/// 2.2.4 and 2.3.x); a receiver ignores it otherwise.
///
/// Packet Fragment and padding are allowed in every mode: RFC 7016 does not
/// restrict them (fragments carry whole packets, startup ones included).
/// Unknown types are reported as allowed: they are ignored anyway.
pub fn allowed_in(chunk_type: u8, mode: Mode) -> bool {
    match chunk_type {
        PACKET_FRAGMENT | PADDING_00 | PADDING_FF => true,
        t if is_startup(t) => mode == Mode::Startup,
        t if is_known(t) => mode != Mode::Startup,
        _ => true,
    }
}

/// A typed chunk payload (the RFC's `...ChunkPayload_t` structures).
pub trait ChunkPayload: Sized {
    /// The `chunkType` code.
    const TYPE: u8;
    /// The structure name used in errors, e.g. `"Range Ack chunk"`.
    const NAME: &'static str;

    /// Reads the payload from `r`, which holds exactly `chunkLength` bytes.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, WireError>;

    /// Appends the payload (without the chunk header).
    fn encode(&self, out: &mut Vec<u8>);

    /// The number of bytes [`encode`](Self::encode) writes.
    fn encoded_len(&self) -> usize;

    /// Decodes a payload; error offsets count from the payload's first byte.
    fn decode(payload: &[u8]) -> Result<Self, WireError> {
        Self::decode_at(payload, 0)
    }

    /// Decodes a payload found at absolute offset `base` of a larger input
    /// (normally the packet), so errors point at the byte in that input.
    fn decode_at(payload: &[u8], base: usize) -> Result<Self, WireError> {
        let mut r = Reader::with_base(payload, base, Self::NAME);
        Self::decode_from(&mut r)
    }
}

/// Padding fill type: the two "Ignore/Padding" chunk type codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaddingType {
    /// Type 0x00.
    Zero,
    /// Type 0xff.
    Ff,
}

impl PaddingType {
    /// The chunk type code.
    pub fn code(self) -> u8 {
        match self {
            PaddingType::Zero => PADDING_00,
            PaddingType::Ff => PADDING_FF,
        }
    }
}

/// An Ignore/Padding chunk (types 0x00 and 0xff) that fits in its packet; its bytes are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Padding {
    /// Which of the two padding codes.
    pub chunk_type: PaddingType,
    /// The payload, ignored by receivers.
    pub payload: Vec<u8>,
}

/// A chunk of a type RFC 7016 does not define; receivers ignore it (section 2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unknown {
    /// The `chunkType` code.
    pub chunk_type: u8,
    /// The payload, unparsed.
    pub payload: Vec<u8>,
}

/// Any chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// 0x7f, section 2.3.1.
    PacketFragment(PacketFragment),
    /// 0x30, section 2.3.2.
    IHello(IHello),
    /// 0x0f, section 2.3.3.
    FIHello(FIHello),
    /// 0x70, section 2.3.4.
    RHello(RHello),
    /// 0x71, section 2.3.5.
    Redirect(Redirect),
    /// 0x79, section 2.3.6.
    RHelloCookieChange(RHelloCookieChange),
    /// 0x38, section 2.3.7.
    IIKeying(IIKeying),
    /// 0x78, section 2.3.8.
    RIKeying(RIKeying),
    /// 0x01, section 2.3.9.
    Ping(Ping),
    /// 0x41, section 2.3.10.
    PingReply(PingReply),
    /// 0x10, section 2.3.11.
    UserData(UserData),
    /// 0x11, section 2.3.12.
    NextUserData(NextUserData),
    /// 0x50, section 2.3.13.
    BitmapAck(BitmapAck),
    /// 0x51, section 2.3.14.
    RangeAck(RangeAck),
    /// 0x18, section 2.3.15.
    BufferProbe(BufferProbe),
    /// 0x5e, section 2.3.16.
    FlowExceptionReport(FlowExceptionReport),
    /// 0x0c, section 2.3.17.
    Close(Close),
    /// 0x4c, section 2.3.18.
    CloseAck(CloseAck),
    /// 0x00 or 0xff.
    Padding(Padding),
    /// Any other type code.
    Unknown(Unknown),
}

/// Calls `$body` with the typed payload bound to `$x` for every payload-carrying variant.
macro_rules! with_payload {
    ($chunk:expr, $x:ident => $body:expr, padding $p:ident => $pad:expr, unknown $u:ident => $unk:expr) => {
        match $chunk {
            Chunk::PacketFragment($x) => $body,
            Chunk::IHello($x) => $body,
            Chunk::FIHello($x) => $body,
            Chunk::RHello($x) => $body,
            Chunk::Redirect($x) => $body,
            Chunk::RHelloCookieChange($x) => $body,
            Chunk::IIKeying($x) => $body,
            Chunk::RIKeying($x) => $body,
            Chunk::Ping($x) => $body,
            Chunk::PingReply($x) => $body,
            Chunk::UserData($x) => $body,
            Chunk::NextUserData($x) => $body,
            Chunk::BitmapAck($x) => $body,
            Chunk::RangeAck($x) => $body,
            Chunk::BufferProbe($x) => $body,
            Chunk::FlowExceptionReport($x) => $body,
            Chunk::Close($x) => $body,
            Chunk::CloseAck($x) => $body,
            Chunk::Padding($p) => $pad,
            Chunk::Unknown($u) => $unk,
        }
    };
}

fn type_of<T: ChunkPayload>(_: &T) -> u8 {
    T::TYPE
}

impl Chunk {
    /// Decodes a payload of the given type found at absolute offset `base`.
    pub fn decode(chunk_type: u8, payload: &[u8], base: usize) -> Result<Chunk, WireError> {
        Ok(match chunk_type {
            PACKET_FRAGMENT => Chunk::PacketFragment(PacketFragment::decode_at(payload, base)?),
            IHELLO => Chunk::IHello(IHello::decode_at(payload, base)?),
            FIHELLO => Chunk::FIHello(FIHello::decode_at(payload, base)?),
            RHELLO => Chunk::RHello(RHello::decode_at(payload, base)?),
            REDIRECT => Chunk::Redirect(Redirect::decode_at(payload, base)?),
            RHELLO_COOKIE_CHANGE => {
                Chunk::RHelloCookieChange(RHelloCookieChange::decode_at(payload, base)?)
            }
            IIKEYING => Chunk::IIKeying(IIKeying::decode_at(payload, base)?),
            RIKEYING => Chunk::RIKeying(RIKeying::decode_at(payload, base)?),
            PING => Chunk::Ping(Ping::decode_at(payload, base)?),
            PING_REPLY => Chunk::PingReply(PingReply::decode_at(payload, base)?),
            USER_DATA => Chunk::UserData(UserData::decode_at(payload, base)?),
            NEXT_USER_DATA => Chunk::NextUserData(NextUserData::decode_at(payload, base)?),
            BITMAP_ACK => Chunk::BitmapAck(BitmapAck::decode_at(payload, base)?),
            RANGE_ACK => Chunk::RangeAck(RangeAck::decode_at(payload, base)?),
            BUFFER_PROBE => Chunk::BufferProbe(BufferProbe::decode_at(payload, base)?),
            FLOW_EXCEPTION_REPORT => {
                Chunk::FlowExceptionReport(FlowExceptionReport::decode_at(payload, base)?)
            }
            CLOSE => Chunk::Close(Close::decode_at(payload, base)?),
            CLOSE_ACK => Chunk::CloseAck(CloseAck::decode_at(payload, base)?),
            PADDING_00 | PADDING_FF => Chunk::Padding(Padding {
                chunk_type: if chunk_type == PADDING_00 {
                    PaddingType::Zero
                } else {
                    PaddingType::Ff
                },
                payload: payload.to_vec(),
            }),
            other => Chunk::Unknown(Unknown {
                chunk_type: other,
                payload: payload.to_vec(),
            }),
        })
    }

    /// Decodes one complete chunk (header and payload) from the front of `bytes`,
    /// which start at absolute offset `base`. Returns the chunk and the bytes it used.
    ///
    /// Unlike packet framing, where a chunk that does not fit is padding
    /// (section 2.2.4), this is strict: a short header or payload is an error.
    pub fn decode_one(bytes: &[u8], base: usize) -> Result<(Chunk, usize), WireError> {
        let mut r = Reader::with_base(bytes, base, "Chunk");
        let chunk_type = r.u8("chunkType")?;
        let len = usize::from(r.u16("chunkLength")?);
        let payload_at = r.offset();
        let payload = r.bytes(len, "chunkPayload")?;
        let chunk = Chunk::decode(chunk_type, payload, payload_at)?;
        Ok((chunk, HEADER_LEN + len))
    }

    /// The `chunkType` code.
    pub fn chunk_type(&self) -> u8 {
        with_payload!(self, x => type_of(x), padding p => p.chunk_type.code(), unknown u => u.chunk_type)
    }

    /// The RFC name of this chunk's type.
    pub fn name(&self) -> &'static str {
        name_of(self.chunk_type())
    }

    /// The payload length (`chunkLength`).
    pub fn payload_len(&self) -> usize {
        with_payload!(self, x => x.encoded_len(), padding p => p.payload.len(), unknown u => u.payload.len())
    }

    /// The encoded length including the 3-byte chunk header.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Appends the payload only.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        with_payload!(self, x => x.encode(out), padding p => out.extend_from_slice(&p.payload), unknown u => out.extend_from_slice(&u.payload))
    }

    /// Fails when the payload is too long for `chunkLength`.
    pub fn check_len(&self) -> Result<(), EncodeError> {
        let len = self.payload_len();
        if len > MAX_PAYLOAD_LEN {
            return Err(EncodeError {
                structure: "Chunk",
                field: "chunkLength",
                len,
                max: MAX_PAYLOAD_LEN,
            });
        }
        Ok(())
    }

    /// Appends the chunk header and payload; fails, writing nothing, when the
    /// payload is longer than 65535 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.check_len()?;
        let len = self.payload_len() as u16;
        out.push(self.chunk_type());
        out.extend_from_slice(&len.to_be_bytes());
        self.encode_payload(out);
        Ok(())
    }
}

impl Fields for Chunk {
    fn fields(&self) -> Record {
        let head = Record::new()
            .with("chunkType", self.chunk_type())
            .with("name", self.name())
            .with("chunkLength", self.payload_len());
        let body = with_payload!(self, x => x.fields(),
            padding p => Record::new().with("padding", &p.payload),
            unknown u => Record::new().with("chunkPayload", &u.payload));
        let mut all = head;
        all.0.extend(body.0);
        all
    }
}

/// An error for a field whose value the RFC forbids.
pub(crate) fn invalid(
    r: &Reader<'_>,
    field: &'static str,
    offset: usize,
    why: &'static str,
) -> WireError {
    r.error_at(field, offset, WireErrorKind::Invalid(why))
}

#[cfg(test)]
mod tests {
    use super::testing::arb_chunk;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn type_codes_and_names() {
        assert_eq!(name_of(0x51), "Data Acknowledgement Ranges");
        assert!(is_known(0x00) && is_known(0xff) && !is_known(0xec));
        assert!(allowed_in(IHELLO, Mode::Startup));
        assert!(!allowed_in(IHELLO, Mode::Initiator));
        assert!(allowed_in(USER_DATA, Mode::Responder));
        assert!(!allowed_in(USER_DATA, Mode::Startup));
        assert!(allowed_in(PACKET_FRAGMENT, Mode::Startup));
        assert!(!allowed_in(FIHELLO, Mode::Startup));
    }

    // spec: 7016-2-e, 7016-2.3-a, 7016-2.3-c
    #[test]
    fn decode_one_is_strict_about_framing() {
        let e = Chunk::decode_one(&[0x51, 0x00], 10).unwrap_err();
        assert_eq!(
            (e.structure, e.field, e.offset),
            ("Chunk", "chunkLength", 11)
        );
        let e = Chunk::decode_one(&[0x01, 0x00, 0x02, 0xaa], 0).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind.name()),
            ("chunkPayload", 3, "truncated")
        );
        let (c, used) = Chunk::decode_one(&[0xec, 0x00, 0x01, 0x07, 0x99], 0).unwrap();
        assert_eq!(
            c,
            Chunk::Unknown(Unknown {
                chunk_type: 0xec,
                payload: vec![7]
            })
        );
        assert_eq!(used, 4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        // spec: 7016-2.3-a
        #[test]
        fn chunk_round_trip(chunk in arb_chunk()) {
            let mut out = Vec::new();
            chunk.encode(&mut out).unwrap();
            prop_assert_eq!(out.len(), chunk.encoded_len());
            let (decoded, used) = Chunk::decode_one(&out, 0).unwrap();
            prop_assert_eq!(used, out.len());
            prop_assert_eq!(decoded, chunk);
        }

        // spec: 7016-2-e
        #[test]
        fn arbitrary_payloads_never_panic(chunk_type: u8, payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            match Chunk::decode(chunk_type, &payload, 100) {
                Ok(c) => prop_assert_eq!(c.chunk_type(), chunk_type),
                Err(e) => prop_assert!(e.offset >= 100 && e.offset <= 100 + payload.len()),
            }
        }
    }
}
