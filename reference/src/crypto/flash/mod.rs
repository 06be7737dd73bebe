//! The Flash communication Cryptography Profile, RFC 7425 section 4.
//!
//! [`FlashProfile`] implements [`CryptoProfile`] from an endpoint's
//! [`FlashConfig`]; the submodules are the profile's parts, one per RFC
//! section, usable on their own (the conformance tester builds odd packets and
//! keying components from them directly).
//!
//! Defaults, chosen to interoperate with rtmfp-cpp (whose `fcclient` and
//! `echoserver` negotiate group 16, HMAC and session sequence numbers both
//! ways, as in `shared/captures/`):
//! - groups 16, 14, 5, 2, preferred in that order (strongest first; 2 is the
//!   mandatory one);
//! - HMAC: SND, SOR and REQ set, 16-byte HMACs (half of SHA-256, the
//!   truncation RFC 2104 section 5 recommends; rtmfp-cpp's default);
//! - session sequence numbers: SND, SOR and REQ set;
//! - neither is *required*: a far end that will not send them is still
//!   accepted, with checksums or without replay protection. Downgrading is no
//!   attack here, since the flags are inside the keying components that the
//!   session keys are derived from;
//! - no signature required, and "X" sent as the signature;
//! - 64 bytes of extra randomness where it is used (one SHA-256 input block,
//!   the upper bound RFC 7425 4.5.2.2 suggests; rtmfp-cpp uses 64 too).
//!
//! Clients should use static keys and servers ephemeral ones (RFC 7425
//! section 7): [`FlashConfig::client`] and [`FlashConfig::server`].

pub mod certificate;
pub mod checksum;
pub mod default_key;
pub mod dh;
pub mod endpoint_discriminator;
pub mod keying;
pub mod keylog;
pub mod packet;
pub mod sequence;
pub mod session_keys;
pub mod signature;

use crate::crypto::error::CryptoError;
use crate::crypto::profile::{
    CryptoProfile, InitiatorKeying, PacketCipher, ResponderKeying, SessionKeys,
};
use crate::random::Random;

use certificate::{Certificate, CertificateBuilder};
use dh::{DhGroup, PrivateKey};
use endpoint_discriminator::EndpointDiscriminator;
use keying::{HmacNegotiation, KeyingComponent, NegotiationFlags, Requirements};
use packet::FlashPacketCipher;
use session_keys::{FlashSessionKeys, Role};
use signature::SignaturePolicy;

/// HMAC-SHA256, used throughout the profile.
pub type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Whether an endpoint puts static Diffie-Hellman keys in its certificate or
/// makes an ephemeral key for each session (RFC 7425 4.3.3.4, 4.3.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhKeyMode {
    /// Static public keys in the certificate, one per group (clients, RFC 7425 section 7).
    Static,
    /// A fresh key per session (servers, for forward secrecy).
    Ephemeral,
}

/// How an end negotiates one verification feature (RFC 7425 4.5.2.4, 4.5.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiationPolicy {
    /// The flags sent: SND, SOR, REQ.
    pub flags: NegotiationFlags,
    /// Refuse a far end that will not send it.
    pub require: bool,
}

impl NegotiationPolicy {
    /// SND, SOR and REQ all set, not required.
    pub const fn offer_and_request() -> Self {
        NegotiationPolicy {
            flags: NegotiationFlags {
                send_always: true,
                send_on_request: true,
                request: true,
            },
            require: false,
        }
    }

    /// No flags: never send, never ask.
    pub const fn off() -> Self {
        NegotiationPolicy {
            flags: NegotiationFlags {
                send_always: false,
                send_on_request: false,
                request: false,
            },
            require: false,
        }
    }
}

/// An endpoint's Flash profile settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashConfig {
    /// Groups supported, in order of preference (RFC 7425 4.2).
    pub groups: Vec<DhGroup>,
    /// Static or ephemeral Diffie-Hellman keys.
    pub key_mode: DhKeyMode,
    /// Hostname option in the certificate (4.3.3.1).
    pub hostname: Option<Vec<u8>>,
    /// Accepts Ancillary Data option in the certificate (4.3.3.2): servers.
    pub accepts_ancillary_data: bool,
    /// HMAC negotiation (4.5.2.4).
    pub hmac: NegotiationPolicy,
    /// Length of the HMAC this end sends, 4..=32 (4.5.2.4).
    pub hmac_length: u8,
    /// Session sequence number negotiation (4.5.2.5).
    pub sseq: NegotiationPolicy,
    /// Signing and verifying (4.3.5).
    pub signature: SignaturePolicy,
    /// Bytes of extra randomness in an ephemeral certificate (4.3.3.3) and in
    /// a static end's keying components (4.5.2.2).
    pub extra_randomness: usize,
}

impl Default for FlashConfig {
    /// Ephemeral keys, no hostname, no ancillary data: a peer-to-peer endpoint.
    fn default() -> Self {
        FlashConfig {
            groups: DhGroup::ALL.to_vec(),
            key_mode: DhKeyMode::Ephemeral,
            hostname: None,
            accepts_ancillary_data: false,
            hmac: NegotiationPolicy::offer_and_request(),
            hmac_length: 16,
            sseq: NegotiationPolicy::offer_and_request(),
            signature: SignaturePolicy::default(),
            extra_randomness: 64,
        }
    }
}

impl FlashConfig {
    /// A Flash client: static keys (RFC 7425 section 7).
    pub fn client() -> Self {
        FlashConfig {
            key_mode: DhKeyMode::Static,
            ..FlashConfig::default()
        }
    }

    /// A Flash server: ephemeral keys, accepts ancillary data (the server URI, 4.4.2.2).
    pub fn server() -> Self {
        FlashConfig {
            accepts_ancillary_data: true,
            ..FlashConfig::default()
        }
    }

    fn requirements(&self) -> Requirements {
        Requirements {
            hmac: self.hmac.require,
            sequence_numbers: self.sseq.require,
        }
    }

    /// The negotiation options this end sends (4.5.2.4, 4.5.2.5). A
    /// requirement implies the request flag.
    fn negotiation_options(&self) -> (HmacNegotiation, NegotiationFlags) {
        let mut hmac_flags = self.hmac.flags;
        hmac_flags.request |= self.hmac.require;
        let sends = hmac_flags.send_always || hmac_flags.send_on_request;
        let mut sseq = self.sseq.flags;
        sseq.request |= self.sseq.require;
        (
            HmacNegotiation {
                flags: hmac_flags,
                // 4.5.2.4: zero if and only if this end will never send one.
                hmac_length: if sends {
                    u64::from(self.hmac_length)
                } else {
                    0
                },
            },
            sseq,
        )
    }
}

/// Why a [`FlashConfig`] cannot make a profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No Diffie-Hellman group is configured.
    #[error("no Diffie-Hellman group configured")]
    NoGroups,
    /// The HMAC length is outside 4..=32.
    #[error("HMAC length {0} is outside 4..=32")]
    HmacLength(u8),
    /// The random generator gave no usable key.
    #[error("could not generate a Diffie-Hellman key for group {0}")]
    KeyGeneration(u64),
    /// A given certificate does not decode.
    #[error("certificate: {0}")]
    Certificate(CryptoError),
}

/// The Flash profile for one endpoint identity (RFC 7425 section 4).
#[derive(Debug, Clone)]
pub struct FlashProfile {
    config: FlashConfig,
    certificate: Certificate,
    static_keys: Vec<PrivateKey>,
}

impl FlashProfile {
    /// Makes the endpoint's identity: static keys if configured, and the certificate.
    pub fn new(config: FlashConfig, rng: &mut dyn Random) -> Result<FlashProfile, ConfigError> {
        if config.groups.is_empty() {
            return Err(ConfigError::NoGroups);
        }
        if !(4..=32).contains(&config.hmac_length) {
            return Err(ConfigError::HmacLength(config.hmac_length));
        }
        let mut builder = CertificateBuilder {
            hostname: config.hostname.clone(),
            accepts_ancillary_data: config.accepts_ancillary_data,
            ..CertificateBuilder::default()
        };
        let mut static_keys = Vec::new();
        match config.key_mode {
            DhKeyMode::Static => {
                for &g in &config.groups {
                    let key =
                        PrivateKey::generate(g, rng).ok_or(ConfigError::KeyGeneration(g.id()))?;
                    builder
                        .static_keys
                        .push((g.id(), key.public_key().to_vec()));
                    static_keys.push(key);
                }
            }
            DhKeyMode::Ephemeral => {
                builder.ephemeral_groups = config.groups.iter().map(|g| g.id()).collect();
                // Unique fingerprints without any key in the certificate (4.3.3.3).
                let mut x = vec![0u8; config.extra_randomness];
                rng.fill(&mut x);
                builder.extra_randomness = Some(x);
            }
        }
        Self::with_certificate(config, builder.encode(), static_keys)
    }

    /// A profile from a ready certificate and its static private keys (for
    /// stored identities and test vectors). The certificate must decode.
    pub fn with_certificate(
        config: FlashConfig,
        certificate: Vec<u8>,
        static_keys: Vec<PrivateKey>,
    ) -> Result<FlashProfile, ConfigError> {
        let certificate = Certificate::decode(&certificate).map_err(ConfigError::Certificate)?;
        Ok(FlashProfile {
            config,
            certificate,
            static_keys,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FlashConfig {
        &self.config
    }

    /// The near certificate, decoded.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The near end's fingerprint (peer ID, 4.3.2).
    pub fn fingerprint(&self) -> &certificate::Fingerprint {
        &self.certificate.fingerprint
    }

    fn static_key(&self, group: DhGroup) -> Option<&PrivateKey> {
        self.static_keys.iter().find(|k| k.group() == group)
    }

    fn supports(&self, group: DhGroup) -> bool {
        match self.config.key_mode {
            DhKeyMode::Static => self.static_key(group).is_some(),
            DhKeyMode::Ephemeral => self.config.groups.contains(&group),
        }
    }

    /// The near private key to use in `group`: the static one, or a fresh one.
    fn private_key(&self, group: DhGroup, rng: &mut dyn Random) -> Result<PrivateKey, CryptoError> {
        match self.config.key_mode {
            DhKeyMode::Static => self
                .static_key(group)
                .cloned()
                .ok_or(CryptoError::UnsupportedGroup { group: group.id() }),
            DhKeyMode::Ephemeral => PrivateKey::generate(group, rng)
                .ok_or(CryptoError::UnsupportedGroup { group: group.id() }),
        }
    }

    /// The group an initiator picks: its first preference the responder supports (4.6.1).
    pub fn choose_group(&self, responder: &Certificate) -> Result<DhGroup, CryptoError> {
        self.config
            .groups
            .iter()
            .copied()
            .find(|g| self.supports(*g) && responder.supports_group(g.id()))
            .ok_or(CryptoError::NoCommonGroup)
    }

    /// This end's keying component for `group`: key material (4.6.1) then negotiation.
    fn component(&self, role: Role, private: &PrivateKey, rng: &mut dyn Random) -> KeyingComponent {
        let (hmac, sseq) = self.config.negotiation_options();
        let mut c = KeyingComponent {
            hmac: Some(hmac),
            sseq: Some(sseq),
            ..KeyingComponent::default()
        };
        match self.config.key_mode {
            DhKeyMode::Ephemeral => {
                c.ephemeral_public_key =
                    Some((private.group().id(), private.public_key().to_vec()));
            }
            DhKeyMode::Static => {
                if role == Role::Initiator {
                    c.group_select = Some(private.group().id());
                }
                let mut x = vec![0u8; self.config.extra_randomness];
                rng.fill(&mut x);
                c.extra_randomness = Some(x);
            }
        }
        c
    }

    fn session_keys(keys: &FlashSessionKeys) -> SessionKeys {
        SessionKeys {
            cipher: Box::new(keys.cipher()),
            near_nonce: keys.material.near_nonce.to_vec(),
            far_nonce: keys.material.far_nonce.to_vec(),
            key_log: Some(keys.key_log().to_string()),
        }
    }

    /// Initiator keying with the Flash types exposed (see [`CryptoProfile::initiator_keying`]).
    pub fn start_initiator(
        &self,
        responder_certificate: &[u8],
        rng: &mut dyn Random,
    ) -> Result<FlashInitiatorKeying, CryptoError> {
        let responder = Certificate::decode(responder_certificate)?;
        let group = self.choose_group(&responder)?;
        let private = self.private_key(group, rng)?;
        let component = self.component(Role::Initiator, &private, rng);
        Ok(FlashInitiatorKeying {
            skic: component.encode(),
            private,
            near: self.certificate.clone(),
            responder,
            requirements: self.config.requirements(),
        })
    }

    /// Responder keying with the Flash types exposed (see [`CryptoProfile::responder_keying`]).
    pub fn respond(
        &self,
        initiator_certificate: &[u8],
        skic: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, FlashSessionKeys), CryptoError> {
        let initiator = Certificate::decode(initiator_certificate)?;
        let skic_decoded = KeyingComponent::decode(skic)?;
        let selection = session_keys::responder_selection(&initiator, &skic_decoded)?;
        if !self.supports(selection.group) {
            return Err(CryptoError::UnsupportedGroup {
                group: selection.group.id(),
            });
        }
        // Cheap checks before the expensive Diffie-Hellman.
        let (hmac, sseq) = self.config.negotiation_options();
        let preview = KeyingComponent {
            hmac: Some(hmac),
            sseq: Some(sseq),
            ..KeyingComponent::default()
        };
        keying::negotiate(&preview, &skic_decoded, self.config.requirements())?;
        let private = self.private_key(selection.group, rng)?;
        let skrc = self.component(Role::Responder, &private, rng).encode();
        let keys = session_keys::agree(
            Role::Responder,
            &private,
            &self.certificate,
            &initiator,
            skic,
            &skrc,
            self.config.requirements(),
        )?;
        Ok((skrc, keys))
    }
}

/// An initiator's Flash keying state between IIKeying and RIKeying.
pub struct FlashInitiatorKeying {
    skic: Vec<u8>,
    private: PrivateKey,
    near: Certificate,
    responder: Certificate,
    requirements: Requirements,
}

impl FlashInitiatorKeying {
    /// The group selected.
    pub fn group(&self) -> DhGroup {
        self.private.group()
    }

    /// Finishes keying with the Flash types exposed.
    pub fn finish(&self, skrc: &[u8]) -> Result<FlashSessionKeys, CryptoError> {
        session_keys::agree(
            Role::Initiator,
            &self.private,
            &self.near,
            &self.responder,
            &self.skic,
            skrc,
            self.requirements,
        )
    }
}

impl InitiatorKeying for FlashInitiatorKeying {
    fn skic(&self) -> &[u8] {
        &self.skic
    }

    fn complete(&self, skrc: &[u8]) -> Result<SessionKeys, CryptoError> {
        Ok(FlashProfile::session_keys(&self.finish(skrc)?))
    }
}

impl CryptoProfile for FlashProfile {
    fn name(&self) -> &'static str {
        "flash"
    }

    fn near_certificate(&self) -> &[u8] {
        &self.certificate.bytes
    }

    fn check_certificate(&self, certificate: &[u8]) -> Result<(), CryptoError> {
        // 4.3.4: any properly encoded certificate is authentic.
        Certificate::decode(certificate).map(|_| ())
    }

    fn epd_selects_certificate(&self, epd: &[u8], certificate: &[u8]) -> Result<bool, CryptoError> {
        let epd = EndpointDiscriminator::decode(epd)?;
        Ok(epd.selects(&Certificate::decode(certificate)?))
    }

    fn epd_selects_near(&self, epd: &[u8]) -> Result<bool, CryptoError> {
        Ok(EndpointDiscriminator::decode(epd)?.selects(&self.certificate))
    }

    fn canonical_epd(&self, certificate: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(Certificate::decode(certificate)?.canonical_epd().to_vec())
    }

    fn sign(&self, parts: &[&[u8]], _far_certificate: &[u8]) -> Vec<u8> {
        signature::sign(parts, &self.config.signature.sign_with)
    }

    fn verify(
        &self,
        _far_certificate: &[u8],
        parts: &[&[u8]],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        signature::verify(parts, signature, &self.config.signature)
    }

    fn near_prevails_in_glare(&self, far_certificate: &[u8]) -> bool {
        certificate::near_prevails_in_glare(&self.certificate.bytes, far_certificate)
    }

    fn overrides_session(&self, existing: &[u8], incoming: &[u8]) -> bool {
        certificate::overrides_session(existing, incoming)
    }

    fn default_cipher(&self) -> Box<dyn PacketCipher> {
        Box::new(FlashPacketCipher::default_key())
    }

    fn initiator_keying(
        &self,
        responder_certificate: &[u8],
        rng: &mut dyn Random,
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError> {
        Ok(Box::new(self.start_initiator(responder_certificate, rng)?))
    }

    fn responder_keying(
        &self,
        initiator_certificate: &[u8],
        skic: &[u8],
        rng: &mut dyn Random,
    ) -> Result<ResponderKeying, CryptoError> {
        let (skrc, keys) = self.respond(initiator_certificate, skic, rng)?;
        Ok(ResponderKeying {
            skrc,
            keys: FlashProfile::session_keys(&keys),
        })
    }
}
