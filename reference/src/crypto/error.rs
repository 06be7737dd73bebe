//! Why a cryptographic operation refused its input (RFC 7016 2.2.3: discard what fails verification).
//!
//! Every rejection is a typed value with a stable [`kind`](CryptoError::kind)
//! name, so statistics can count drops by reason and test vectors can name the
//! expected failure. Nothing in `crypto` panics on input.

use crate::wire::WireError;
use thiserror::Error;

/// The structures the profile decodes, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// A certificate (RFC 7425 4.3.1).
    Certificate,
    /// An Endpoint Discriminator (RFC 7425 4.4.1).
    EndpointDiscriminator,
    /// A Session Keying Component (RFC 7425 4.5.1).
    KeyingComponent,
    /// An Initial Keying signature (RFC 7425 4.3.5).
    Signature,
}

impl Structure {
    /// A short, stable name: `certificate`, `epd`, `keying_component`, `signature`.
    pub fn name(self) -> &'static str {
        match self {
            Structure::Certificate => "certificate",
            Structure::EndpointDiscriminator => "epd",
            Structure::KeyingComponent => "keying_component",
            Structure::Signature => "signature",
        }
    }
}

impl core::fmt::Display for Structure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A rejected packet, structure, keying exchange or key-log line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    // --- Packets (RFC 7425 4.7) ---
    /// The encrypted packet cannot hold one cipher block plus the negotiated HMAC.
    #[error("encrypted packet of {len} byte(s) is shorter than the minimum {min}")]
    TooShort { len: usize, min: usize },
    /// The cipher-block part is not a whole number of 16-byte AES blocks.
    #[error("{len} byte(s) of cipher blocks is not a whole number of 16-byte blocks")]
    NotBlockAligned { len: usize },
    /// The truncated HMAC does not match (RFC 7425 4.7.3.2).
    #[error("HMAC verification failed")]
    BadHmac,
    /// The simple checksum does not match (RFC 7425 4.7.3.1).
    #[error("checksum mismatch: packet says {found:#06x}, contents sum to {computed:#06x}")]
    BadChecksum { found: u16, computed: u16 },
    /// The decrypted packet is too short for its session sequence number or checksum.
    #[error("decrypted packet too short for its {field}")]
    PlainTooShort { field: &'static str },
    /// The session sequence number is not a valid VLU of at most 64 bits.
    #[error("malformed session sequence number: {0}")]
    BadSequenceNumber(WireError),
    /// This session sequence number was already received (RFC 7425 4.7.3.3).
    #[error("session sequence number {seq} was already received")]
    DuplicateSequence { seq: u64 },
    /// This session sequence number is below the anti-replay window (RFC 7425 4.7.3.3).
    #[error("session sequence number {seq} is below the anti-replay window (lowest {lowest})")]
    StaleSequence { seq: u64, lowest: u64 },
    /// The session sequence number space (64 bits) is used up; the session must end.
    #[error("session sequence numbers exhausted")]
    SequenceExhausted,

    // --- Certificates, EPDs, keying components, signatures (RFC 7425 4.3-4.5) ---
    /// The bytes are not a well-formed option sequence.
    #[error("malformed {structure}: {error}")]
    Malformed {
        structure: Structure,
        error: WireError,
    },
    /// An option's value does not have the form its type requires.
    #[error("{structure} option {option_type:#x}: {reason}")]
    BadOption {
        structure: Structure,
        option_type: u64,
        reason: &'static str,
    },
    /// An option the RFC allows at most once appears again.
    #[error("{structure} option {option_type:#x} appears more than once")]
    DuplicateOption {
        structure: Structure,
        option_type: u64,
    },
    /// A certificate has both static DH public keys and ephemeral DH groups (RFC 7425 4.3.3.4, 4.3.3.5).
    #[error("certificate has both static Diffie-Hellman keys and ephemeral Diffie-Hellman groups")]
    MixedKeyModes,

    // --- Session keying (RFC 7425 4.5, 4.6) ---
    /// The ends have no Diffie-Hellman group in common.
    #[error("no Diffie-Hellman group in common")]
    NoCommonGroup,
    /// The far end chose a group the near end does not support.
    #[error("Diffie-Hellman group {group} is not supported here")]
    UnsupportedGroup { group: u64 },
    /// A keying component lacks an option its sender's mode requires (RFC 7425 4.6.1).
    #[error("keying component lacks its {option}")]
    MissingKeyingOption { option: &'static str },
    /// A keying component holds an option its sender's mode forbids (RFC 7425 4.5.2.1, 4.5.2.3).
    #[error("keying component must not hold {option}")]
    UnexpectedKeyingOption { option: &'static str },
    /// A static certificate has no public key for the selected group.
    #[error("certificate has no static public key for group {group}")]
    MissingStaticKey { group: u64 },
    /// A far Diffie-Hellman public key fails the checks of RFC 7425 4.6.2.
    #[error("unacceptable Diffie-Hellman public key: {reason}")]
    UnacceptablePublicKey { reason: &'static str },
    /// The far end will not send an HMAC but this end requires one (RFC 7425 4.6.4).
    #[error("far end will not send an HMAC, which this end requires")]
    HmacRefused,
    /// The far end will send an HMAC of a length outside 4..=32 (RFC 7425 4.5.2.4).
    #[error("far end's HMAC length {length} is outside 4..=32")]
    BadHmacLength { length: u64 },
    /// The far end will not send session sequence numbers but this end requires them (RFC 7425 4.6.6).
    #[error("far end will not send session sequence numbers, which this end requires")]
    SequenceNumbersRefused,

    // --- Signatures (RFC 7425 4.3.5) ---
    /// No signature option this end recognises, but it requires one.
    #[error("signature required but none recognised")]
    SignatureRequired,
    /// A Simple Password option names a known password but its HMAC is wrong.
    #[error("simple password HMAC wrong for password id {id:?}")]
    BadPassword { id: String },

    // --- Key logs ---
    /// A key-log line could not be parsed.
    #[error("key log field {field}: {reason}")]
    KeyLog {
        field: &'static str,
        reason: &'static str,
    },
}

impl CryptoError {
    /// A short, stable identifier for this kind of error, used by statistics and test vectors.
    pub fn kind(&self) -> &'static str {
        match self {
            CryptoError::TooShort { .. } => "too_short",
            CryptoError::NotBlockAligned { .. } => "not_block_aligned",
            CryptoError::BadHmac => "bad_hmac",
            CryptoError::BadChecksum { .. } => "bad_checksum",
            CryptoError::PlainTooShort { .. } => "plain_too_short",
            CryptoError::BadSequenceNumber(_) => "bad_sequence_number",
            CryptoError::DuplicateSequence { .. } => "duplicate_sequence",
            CryptoError::StaleSequence { .. } => "stale_sequence",
            CryptoError::SequenceExhausted => "sequence_exhausted",
            CryptoError::Malformed { .. } => "malformed",
            CryptoError::BadOption { .. } => "bad_option",
            CryptoError::DuplicateOption { .. } => "duplicate_option",
            CryptoError::MixedKeyModes => "mixed_key_modes",
            CryptoError::NoCommonGroup => "no_common_group",
            CryptoError::UnsupportedGroup { .. } => "unsupported_group",
            CryptoError::MissingKeyingOption { .. } => "missing_keying_option",
            CryptoError::UnexpectedKeyingOption { .. } => "unexpected_keying_option",
            CryptoError::MissingStaticKey { .. } => "missing_static_key",
            CryptoError::UnacceptablePublicKey { .. } => "unacceptable_public_key",
            CryptoError::HmacRefused => "hmac_refused",
            CryptoError::BadHmacLength { .. } => "bad_hmac_length",
            CryptoError::SequenceNumbersRefused => "sequence_numbers_refused",
            CryptoError::SignatureRequired => "signature_required",
            CryptoError::BadPassword { .. } => "bad_password",
            CryptoError::KeyLog { .. } => "key_log",
        }
    }

    /// Every kind name, for documentation and for checking vectors name real kinds.
    pub const KINDS: &'static [&'static str] = &[
        "too_short",
        "not_block_aligned",
        "bad_hmac",
        "bad_checksum",
        "plain_too_short",
        "bad_sequence_number",
        "duplicate_sequence",
        "stale_sequence",
        "sequence_exhausted",
        "malformed",
        "bad_option",
        "duplicate_option",
        "mixed_key_modes",
        "no_common_group",
        "unsupported_group",
        "missing_keying_option",
        "unexpected_keying_option",
        "missing_static_key",
        "unacceptable_public_key",
        "hmac_refused",
        "bad_hmac_length",
        "sequence_numbers_refused",
        "signature_required",
        "bad_password",
        "key_log",
    ];

    /// Whether this error is about a received packet (counted as a dropped packet).
    pub fn is_packet_error(&self) -> bool {
        matches!(
            self,
            CryptoError::TooShort { .. }
                | CryptoError::NotBlockAligned { .. }
                | CryptoError::BadHmac
                | CryptoError::BadChecksum { .. }
                | CryptoError::PlainTooShort { .. }
                | CryptoError::BadSequenceNumber(_)
                | CryptoError::DuplicateSequence { .. }
                | CryptoError::StaleSequence { .. }
        )
    }

    pub(crate) fn malformed(structure: Structure, error: WireError) -> Self {
        CryptoError::Malformed { structure, error }
    }
}
