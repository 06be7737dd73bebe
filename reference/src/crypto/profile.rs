//! The Cryptography Profile interface, RFC 7016 sections 2.2.3, 3.2 and 3.5.1.
//!
//! RFC 7016 fixes the handshake but leaves every cryptographic decision to a
//! profile: what a certificate and an Endpoint Discriminator are, how keying
//! components combine into session keys, and how packets are encrypted and
//! verified. A session state machine holds a `&dyn CryptoProfile` (or an
//! `Arc<dyn CryptoProfile>`) and a `Box<dyn PacketCipher>` per session, and never
//! learns which profile it drives.
//!
//! Certificates and EPDs cross this interface as the bytes carried on the wire:
//! the session keeps the far certificate it received, compares it bytewise
//! where RFC 7016 asks for identical certificates, and asks the profile
//! everything else. The profile's own decoders ([`crate::crypto::flash`]) give
//! typed views for callers that know the profile.

use super::error::CryptoError;
use crate::random::Random;

/// Everything RFC 7016 delegates to the Cryptography Profile (RFC 7016 3.2 and 3.5.1).
///
/// Every test is deterministic (RFC 7016 3.2): the same inputs give the same answer.
/// Randomness, where needed, is injected.
pub trait CryptoProfile: Send + Sync {
    /// A short name for logs and traces, e.g. `"flash"`.
    fn name(&self) -> &'static str;

    /// The near end's certificate, as sent in RHello and IIKeying (RFC 7016 2.3.4, 2.3.7).
    fn near_certificate(&self) -> &[u8];

    /// Tests whether a far certificate is authentic (RFC 7016 3.2; RFC 7425 4.3.4).
    /// The error says what was malformed.
    fn check_certificate(&self, certificate: &[u8]) -> Result<(), CryptoError>;

    /// Tests whether `epd` selects `certificate` (RFC 7016 3.2; RFC 7425 4.4.3).
    /// `Ok(false)` means a well-formed EPD that does not select it.
    fn epd_selects_certificate(&self, epd: &[u8], certificate: &[u8]) -> Result<bool, CryptoError>;

    /// Tests whether `epd` selects the near end (RFC 7016 3.2 and 3.5.1.1.2; RFC 7425 4.4.3).
    fn epd_selects_near(&self, epd: &[u8]) -> Result<bool, CryptoError>;

    /// The Canonical Endpoint Discriminator of a certificate (RFC 7016 3.2 and 3.5.1.1.1;
    /// RFC 7425 4.4.4), used to find duplicate sessions to one identity.
    fn canonical_epd(&self, certificate: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Signs a message as the near identity (RFC 7016 3.2; RFC 7425 4.3.5).
    ///
    /// The message is the concatenation of `parts`: for IIKeying, the
    /// initiatorSignedParameters (RFC 7016 2.3.7); for RIKeying, the
    /// responderSignedParametersPortion followed by the Session Key Initiator
    /// Component it answers (RFC 7016 2.3.8). `far_certificate` is the recipient's.
    fn sign(&self, parts: &[&[u8]], far_certificate: &[u8]) -> Vec<u8>;

    /// Verifies a far end's signature over the concatenation of `parts`
    /// (RFC 7016 3.2, 3.5.1.1.1 and 3.5.1.1.2; RFC 7425 4.3.5).
    fn verify(
        &self,
        far_certificate: &[u8],
        parts: &[&[u8]],
        signature: &[u8],
    ) -> Result<(), CryptoError>;

    /// In startup glare, whether the near end prevails as Initiator against
    /// `far_certificate` (RFC 7016 3.2 and 3.5.1.3; RFC 7425 4.3.6). The far end,
    /// asking the same question, always reaches the opposite answer unless the
    /// certificates are identical.
    fn near_prevails_in_glare(&self, far_certificate: &[u8]) -> bool;

    /// Whether a new incoming session with certificate `incoming` overrides an
    /// existing session with certificate `existing` (RFC 7016 3.2, 3.5.1.1.2 and
    /// 3.5.1.3; RFC 7425 4.3.7).
    fn overrides_session(&self, existing: &[u8], incoming: &[u8]) -> bool;

    /// A packet cipher using the Default Session Key (RFC 7016 2.2.3; RFC 7425 4.1),
    /// for session ID 0 and for a session's startup packets before keying completes.
    fn default_cipher(&self) -> Box<dyn PacketCipher>;

    /// Initiator: computes a Session Key Initiator Component appropriate to the
    /// responder's certificate (RFC 7016 3.5.1.1.1 step 2) and keeps what it needs
    /// to finish keying when the RIKeying arrives.
    fn initiator_keying(
        &self,
        responder_certificate: &[u8],
        rng: &mut dyn Random,
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError>;

    /// Responder: checks that the Session Key Initiator Component is acceptable,
    /// computes the Session Key Responder Component and the session keys and
    /// nonces (RFC 7016 3.5.1.1.2 step 3).
    fn responder_keying(
        &self,
        initiator_certificate: &[u8],
        skic: &[u8],
        rng: &mut dyn Random,
    ) -> Result<ResponderKeying, CryptoError>;
}

/// An initiator's half-finished keying, from IIKeying until RIKeying (RFC 7016 3.5.1.1.1).
pub trait InitiatorKeying: Send {
    /// The Session Key Initiator Component to send in IIKeying (and to resend,
    /// unchanged, in retransmissions and after a cookie change).
    fn skic(&self) -> &[u8];

    /// Combines the responder's component with this one into the session keys
    /// and nonces (RFC 7016 3.5.1.1.1, last paragraph). On error the keying state
    /// is unchanged, so a forged or damaged RIKeying can be ignored while the
    /// real one is still awaited.
    fn complete(&self, skrc: &[u8]) -> Result<SessionKeys, CryptoError>;
}

/// What a responder's keying produces (RFC 7016 3.5.1.1.2 step 3).
pub struct ResponderKeying {
    /// The Session Key Responder Component to send in RIKeying.
    pub skrc: Vec<u8>,
    /// The session's keys.
    pub keys: SessionKeys,
}

/// A session's negotiated cryptographic state (RFC 7016 3.5 session context).
pub struct SessionKeys {
    /// Encrypts and verifies every packet of the session once it is open.
    pub cipher: Box<dyn PacketCipher>,
    /// The near nonce (RFC 7016 3.5; RFC 7425 4.6.5): the far end's far nonce.
    pub near_nonce: Vec<u8>,
    /// The far nonce: the far end's near nonce.
    pub far_nonce: Vec<u8>,
    /// One line describing the keys, for decrypting captures (`RTMFP_KEYLOG ...`),
    /// if the profile has keys worth logging.
    pub key_log: Option<String>,
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Keys stay out of debug output; the key log is for explicit use only.
        f.debug_struct("SessionKeys")
            .field("near_nonce_len", &self.near_nonce.len())
            .field("far_nonce_len", &self.far_nonce.len())
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for ResponderKeying {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResponderKeying")
            .field("skrc_len", &self.skrc.len())
            .field("keys", &self.keys)
            .finish()
    }
}

/// What decryption learned besides the plain packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decrypted {
    /// The packet's session sequence number, when the session uses them (RFC 7425 4.6.6).
    pub session_sequence_number: Option<u64>,
}

/// Packet encryption and verification for one session and key (RFC 7016 2.2.3).
///
/// Works on the `encryptedPacket` field of a Multiplex packet (RFC 7016 2.2.2):
/// the session ID scrambling around it is the session layer's.
pub trait PacketCipher: Send {
    /// Encrypts one plain RTMFP packet (RFC 7016 2.2.4) into `out`, which is
    /// cleared first. The profile adds its own framing and padding.
    fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError>;

    /// Verifies and decrypts an encrypted packet into `plain` (cleared first).
    /// `plain` holds the plain RTMFP packet and any padding, which the packet
    /// parser skips (RFC 7016 2.2.4). A packet that fails verification is
    /// rejected and leaves no trace in the cipher's state (RFC 7016 2.2.3).
    fn decrypt(&mut self, encrypted: &[u8], plain: &mut Vec<u8>) -> Result<Decrypted, CryptoError>;

    /// The largest plain packet whose encryption fits in `max_encrypted` bytes,
    /// for the next packet this cipher encrypts (for path-MTU budgeting).
    fn max_plain_len(&self, max_encrypted: usize) -> usize;
}
