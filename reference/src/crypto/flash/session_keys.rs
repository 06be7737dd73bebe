//! Session key computation, RFC 7425 section 4.6.
//!
//! Public key selection (4.6.1) decides where each end's Diffie-Hellman public
//! key comes from: the certificate (static) or the keying component
//! (ephemeral). The shared secret (4.6.2) then keys everything else:
//!
//! - ENCRYPT_KEY = HMAC-SHA256(DH_SECRET, HMAC-SHA256(SKFC, SKNC)), DECRYPT_KEY
//!   the same with SKNC and SKFC swapped (4.6.3); AES-128 uses their first 16 bytes;
//! - HMAC_SEND_KEY = HMAC-SHA256(DH_SECRET, ENCRYPT_KEY), HMAC_RECV_KEY from
//!   DECRYPT_KEY (4.6.4);
//! - NEAR_NONCE = HMAC-SHA256(DH_SECRET, SKNC), FAR_NONCE from SKFC (4.6.5).
//!
//! SKNC is the component this end sent, SKFC the one it received.

use hmac::{KeyInit, Mac};

use crate::crypto::error::CryptoError;

use super::HmacSha256;
use super::certificate::{Certificate, KeyMode};
use super::dh::{DhGroup, PrivateKey};
use super::keying::{self, KeyingComponent, Negotiated, Requirements};
use super::packet::{FlashPacketCipher, PacketKey};

/// Which end of the handshake this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sent the IIKeying.
    Initiator,
    /// Sent the RIKeying.
    Responder,
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Every value derived from DH_SECRET, SKNC and SKFC (RFC 7425 4.6.3 to 4.6.5).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    /// ENCRYPT_KEY, all 256 bits; AES uses the first 128.
    pub encrypt_key: [u8; 32],
    /// DECRYPT_KEY, all 256 bits.
    pub decrypt_key: [u8; 32],
    /// HMAC_SEND_KEY.
    pub hmac_send_key: [u8; 32],
    /// HMAC_RECV_KEY.
    pub hmac_recv_key: [u8; 32],
    /// NEAR_NONCE.
    pub near_nonce: [u8; 32],
    /// FAR_NONCE.
    pub far_nonce: [u8; 32],
}

impl core::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyMaterial { .. }")
    }
}

impl KeyMaterial {
    /// Derives the keys and nonces (RFC 7425 4.6.3 to 4.6.5).
    pub fn derive(dh_secret: &[u8], sknc: &[u8], skfc: &[u8]) -> KeyMaterial {
        let encrypt_key = hmac_sha256(dh_secret, &[&hmac_sha256(skfc, &[sknc])]);
        let decrypt_key = hmac_sha256(dh_secret, &[&hmac_sha256(sknc, &[skfc])]);
        KeyMaterial {
            encrypt_key,
            decrypt_key,
            hmac_send_key: hmac_sha256(dh_secret, &[&encrypt_key]),
            hmac_recv_key: hmac_sha256(dh_secret, &[&decrypt_key]),
            near_nonce: hmac_sha256(dh_secret, &[sknc]),
            far_nonce: hmac_sha256(dh_secret, &[skfc]),
        }
    }

    /// The AES-128 encryption key: the first 16 bytes of ENCRYPT_KEY (4.6.3).
    pub fn aes_encrypt_key(&self) -> [u8; 16] {
        first16(&self.encrypt_key)
    }

    /// The AES-128 decryption key: the first 16 bytes of DECRYPT_KEY (4.6.3).
    pub fn aes_decrypt_key(&self) -> [u8; 16] {
        first16(&self.decrypt_key)
    }
}

fn first16(k: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&k[..16]);
    out
}

/// Where the far end's public key is and which group is in use (RFC 7425 4.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The group selected by the Initiator.
    pub group: DhGroup,
    /// The far end's public key in that group.
    pub far_public_key: Vec<u8>,
}

fn supported(group: u64) -> Result<DhGroup, CryptoError> {
    DhGroup::from_id(group).ok_or(CryptoError::UnsupportedGroup { group })
}

/// The group an initiator's SKIC selects, checked against the initiator's
/// certificate mode (RFC 7425 4.5.2.1, 4.5.2.3, 4.6.1).
///
/// A static initiator must send DH Group Select and no ephemeral key; an
/// ephemeral one must send an Ephemeral DH Public Key and no group select.
pub fn skic_group(
    initiator: &Certificate,
    skic: &KeyingComponent,
) -> Result<(u64, Option<Vec<u8>>), CryptoError> {
    match initiator.key_mode() {
        KeyMode::Static => {
            if skic.ephemeral_public_key.is_some() {
                return Err(CryptoError::UnexpectedKeyingOption {
                    option: "ephemeral DH public key (the initiator's certificate is static)",
                });
            }
            let group = skic.group_select.ok_or(CryptoError::MissingKeyingOption {
                option: "DH group select",
            })?;
            Ok((group, None))
        }
        KeyMode::Ephemeral => {
            if skic.group_select.is_some() {
                return Err(CryptoError::UnexpectedKeyingOption {
                    option: "DH group select (the initiator's certificate is ephemeral)",
                });
            }
            let (group, key) =
                skic.ephemeral_public_key
                    .clone()
                    .ok_or(CryptoError::MissingKeyingOption {
                        option: "ephemeral DH public key",
                    })?;
            Ok((group, Some(key)))
        }
        KeyMode::None => Err(CryptoError::NoCommonGroup),
    }
}

/// Responder side of public key selection (RFC 7425 4.6.1): the group and the
/// initiator's public key, from the initiator's certificate and SKIC.
pub fn responder_selection(
    initiator: &Certificate,
    skic: &KeyingComponent,
) -> Result<Selection, CryptoError> {
    let (group_id, ephemeral) = skic_group(initiator, skic)?;
    let group = supported(group_id)?;
    let far_public_key = match ephemeral {
        Some(key) => key,
        None => initiator
            .static_key(group_id)
            .ok_or(CryptoError::MissingStaticKey { group: group_id })?
            .to_vec(),
    };
    Ok(Selection {
        group,
        far_public_key,
    })
}

/// Initiator side of public key selection (RFC 7425 4.6.1): the responder's
/// public key in the group the SKIC selected, from the responder's certificate
/// (static) or its SKRC (ephemeral).
pub fn initiator_selection(
    near: &Certificate,
    skic: &KeyingComponent,
    responder: &Certificate,
    skrc: &KeyingComponent,
) -> Result<Selection, CryptoError> {
    let (group_id, _) = skic_group(near, skic)?;
    let group = supported(group_id)?;
    let far_public_key = match responder.key_mode() {
        KeyMode::Static => {
            if skrc.ephemeral_public_key.is_some() {
                return Err(CryptoError::UnexpectedKeyingOption {
                    option: "ephemeral DH public key (the responder's certificate is static)",
                });
            }
            responder
                .static_key(group_id)
                .ok_or(CryptoError::MissingStaticKey { group: group_id })?
                .to_vec()
        }
        KeyMode::Ephemeral => match &skrc.ephemeral_public_key {
            Some((g, key)) if *g == group_id => key.clone(),
            Some(_) => {
                return Err(CryptoError::UnexpectedKeyingOption {
                    option: "ephemeral DH public key in a group other than the one selected",
                });
            }
            None => {
                return Err(CryptoError::MissingKeyingOption {
                    option: "ephemeral DH public key",
                });
            }
        },
        KeyMode::None => return Err(CryptoError::NoCommonGroup),
    };
    Ok(Selection {
        group,
        far_public_key,
    })
}

/// The whole key computation of RFC 7425 4.6 for one end, once both
/// components are known: public key selection (4.6.1) for `role`, negotiation
/// (4.6.4, 4.6.6), the shared secret (4.6.2) with `near_private`, and the keys
/// and nonces (4.6.3 to 4.6.5).
///
/// `near_private` must be in the selected group: the near end's static key
/// for it, or the ephemeral key whose public half is in the near component.
pub fn agree(
    role: Role,
    near_private: &PrivateKey,
    near_certificate: &Certificate,
    far_certificate: &Certificate,
    skic: &[u8],
    skrc: &[u8],
    require: Requirements,
) -> Result<FlashSessionKeys, CryptoError> {
    let skic_decoded = KeyingComponent::decode(skic)?;
    let skrc_decoded = KeyingComponent::decode(skrc)?;
    let (selection, near, far, sknc, skfc) = match role {
        Role::Initiator => (
            initiator_selection(
                near_certificate,
                &skic_decoded,
                far_certificate,
                &skrc_decoded,
            )?,
            &skic_decoded,
            &skrc_decoded,
            skic,
            skrc,
        ),
        Role::Responder => (
            responder_selection(far_certificate, &skic_decoded)?,
            &skrc_decoded,
            &skic_decoded,
            skrc,
            skic,
        ),
    };
    if selection.group != near_private.group() {
        return Err(CryptoError::UnsupportedGroup {
            group: selection.group.id(),
        });
    }
    let negotiated = keying::negotiate(near, far, require)?;
    let dh_secret = near_private.shared_secret(&selection.far_public_key)?;
    Ok(FlashSessionKeys::new(
        role,
        selection.group,
        dh_secret,
        sknc,
        skfc,
        negotiated,
    ))
}

/// A finished Flash key exchange: everything a session and a key log need.
#[derive(Clone)]
pub struct FlashSessionKeys {
    /// This end's role.
    pub role: Role,
    /// The Diffie-Hellman group used.
    pub group: DhGroup,
    /// DH_SECRET (4.6.2).
    pub dh_secret: Vec<u8>,
    /// The derived keys and nonces.
    pub material: KeyMaterial,
    /// The per-direction settings.
    pub negotiated: Negotiated,
}

impl core::fmt::Debug for FlashSessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FlashSessionKeys")
            .field("role", &self.role)
            .field("group", &self.group)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl FlashSessionKeys {
    /// Derives the session's keys from DH_SECRET and the two components (4.6.3 to 4.6.5).
    pub fn new(
        role: Role,
        group: DhGroup,
        dh_secret: Vec<u8>,
        sknc: &[u8],
        skfc: &[u8],
        negotiated: Negotiated,
    ) -> FlashSessionKeys {
        let material = KeyMaterial::derive(&dh_secret, sknc, skfc);
        FlashSessionKeys {
            role,
            group,
            dh_secret,
            material,
            negotiated,
        }
    }

    /// The session's packet cipher (4.7).
    pub fn cipher(&self) -> FlashPacketCipher {
        FlashPacketCipher::new(
            PacketKey::new(
                &self.material.aes_encrypt_key(),
                &self.material.hmac_send_key,
                self.negotiated.send,
            ),
            PacketKey::new(
                &self.material.aes_decrypt_key(),
                &self.material.hmac_recv_key,
                self.negotiated.receive,
            ),
        )
    }

    /// The key log entry for this session.
    pub fn key_log(&self) -> super::keylog::KeyLog {
        super::keylog::KeyLog::from_session(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ends_keys_mirror_the_other() {
        // RFC 7425 4.6.3 to 4.6.5: my encrypt key is your decrypt key, and so on.
        let (secret, a, b) = (b"secret".as_slice(), b"skic".as_slice(), b"skrc".as_slice());
        let i = KeyMaterial::derive(secret, a, b);
        let r = KeyMaterial::derive(secret, b, a);
        assert_eq!(i.encrypt_key, r.decrypt_key);
        assert_eq!(i.decrypt_key, r.encrypt_key);
        assert_eq!(i.hmac_send_key, r.hmac_recv_key);
        assert_eq!(i.hmac_recv_key, r.hmac_send_key);
        assert_eq!(i.near_nonce, r.far_nonce);
        assert_eq!(i.far_nonce, r.near_nonce);
        assert_ne!(i.encrypt_key, i.decrypt_key);
    }
}
