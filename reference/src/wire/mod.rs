//! The RTMFP wire format, RFC 7016 section 2.
//!
//! Every structure is a typed value with `decode` and `encode`, in the manner of
//! smoltcp's `Repr` types. Decoders never panic, never read past their input,
//! never allocate more than their input's size, and report errors that name the
//! structure, the field and the byte offset.

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
