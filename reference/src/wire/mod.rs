//! The RTMFP wire format, RFC 7016 section 2.
//!
//! Every structure is a typed value with `decode` and `encode`, in the manner of
//! smoltcp's `Repr` types. Decoders never panic and never read past their
//! input; what they allocate is proportional to the input actually present
//! (copied byte fields, and lists whose every element consumed input bytes),
//! never sized from a length field. Errors name the structure, the field and
//! the absolute byte offset.
//!
//! Layers, outside in: [`multiplex`] (session ID, 2.2.2), [`packet`] (plain
//! packet header, chunk framing and padding, 2.2.4), [`chunk`] (one module per
//! chunk type, 2.3), built from [`vlu`], [`option`] and [`address`] (2.1).
//! [`fields`] gives every structure a field-by-field view in RFC field names,
//! used by `rtmfp decode` and by the vectors under `vectors/wire/`.

pub mod address;
pub mod chunk;
pub mod error;
pub mod fields;
pub mod multiplex;
pub mod option;
pub mod packet;
pub mod reader;
pub mod vlu;

pub use address::{Address, AddressOrigin};
pub use chunk::{Chunk, ChunkPayload};
pub use error::{EncodeError, WireError, WireErrorKind};
pub use fields::{Fields, Record, Value};
pub use multiplex::Multiplex;
pub use option::{OptionItem, RtmfpOption};
pub use packet::{Header, Mode, Packet, PlainPacket, RawChunk};
pub use reader::Reader;
