//! Decoding errors (RFC 7016 section 2: parsers must detect truncation and bad syntax).

use core::fmt;

/// Why a structure could not be decoded.
///
/// The [`name`](WireErrorKind::name) of each kind is stable: test vectors
/// under `vectors/` refer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireErrorKind {
    /// The field needs `needed` bytes but only `available` remain in its enclosing structure.
    Truncated { needed: usize, available: usize },
    /// A VLU's value does not fit in 64 bits.
    VluOverflow,
    /// The field holds a value the RFC forbids (for example packet mode 0).
    Invalid(&'static str),
    /// Bytes remain after a structure that must fill its container exactly.
    TrailingBytes { count: usize },
}

impl WireErrorKind {
    /// A short, stable identifier for this kind of error.
    pub fn name(&self) -> &'static str {
        match self {
            WireErrorKind::Truncated { .. } => "truncated",
            WireErrorKind::VluOverflow => "vlu_overflow",
            WireErrorKind::Invalid(_) => "invalid",
            WireErrorKind::TrailingBytes { .. } => "trailing_bytes",
        }
    }
}

impl fmt::Display for WireErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireErrorKind::Truncated { needed, available } => {
                write!(
                    f,
                    "truncated: needs {needed} byte(s), {available} available"
                )
            }
            WireErrorKind::VluOverflow => write!(f, "VLU value exceeds 64 bits"),
            WireErrorKind::Invalid(why) => write!(f, "invalid: {why}"),
            WireErrorKind::TrailingBytes { count } => {
                write!(f, "{count} unexpected trailing byte(s)")
            }
        }
    }
}

/// A decoding error naming the structure, the field and the byte offset.
///
/// `offset` counts from the start of the buffer handed to the outermost decoder,
/// so an error deep inside a chunk points at the exact byte of the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The structure being decoded, e.g. `"Range Ack chunk"`.
    pub structure: &'static str,
    /// The field being decoded, e.g. `"cumulativeAck"`.
    pub field: &'static str,
    /// Byte offset of the field from the start of the outermost input.
    pub offset: usize,
    /// What was wrong.
    pub kind: WireErrorKind,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, field {} at byte {}: {}",
            self.structure, self.field, self.offset, self.kind
        )
    }
}

impl std::error::Error for WireError {}

/// A value that cannot be encoded because a length field would overflow
/// (for example a chunk payload longer than the 16-bit `chunkLength`, RFC 7016 section 2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// The structure being encoded, e.g. `"Chunk"`.
    pub structure: &'static str,
    /// The length field that cannot hold the value, e.g. `"chunkLength"`.
    pub field: &'static str,
    /// The length that was asked for.
    pub len: usize,
    /// The largest length the field can hold.
    pub max: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, field {}: length {} exceeds the maximum {}",
            self.structure, self.field, self.len, self.max
        )
    }
}

impl std::error::Error for EncodeError {}
