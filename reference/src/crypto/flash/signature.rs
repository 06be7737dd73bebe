//! Signing and verifying Initial Keying messages, RFC 7425 section 4.3.5.
//!
//! A signature is a sequence of Options. The only option defined is Simple
//! Password (0x1d): 32 bytes of HMAC-SHA256 over the signed parameters, keyed
//! with a password, followed by the password's identifier. With nothing to
//! sign, a signer sends "X" (as rtmfp-cpp and Flash Player do); a verifier
//! reads "X", an empty field and a malformed field all as an empty signature.
//!
//! RFC 7425 says a verifier that does not require a signature SHALL accept any
//! signature, and also that a wrong HMAC for a recognised password SHOULD
//! invalidate the whole signature. We read the second as applying when a
//! signature is required: without `require`, every signature is accepted;
//! with it, at least one Simple Password option must name a known password
//! with a correct HMAC, and none may name a known password with a wrong one.

use hmac::{KeyInit, Mac};

use crate::crypto::error::CryptoError;
use crate::wire::Reader;
use crate::wire::option::{self, OptionItem, RtmfpOption};

use super::HmacSha256;

/// Signature option type codes (RFC 7425 4.3.5.1).
pub mod option_type {
    /// Simple Password (4.3.5.1.1).
    pub const SIMPLE_PASSWORD: u64 = 0x1d;
}

/// The signature sent when there is nothing to sign with (4.3.5).
pub const EMPTY_SIGNATURE: &[u8] = b"X";

/// A password and its identifier (RFC 7425 4.3.5.1.1).
#[derive(Clone, PartialEq, Eq)]
pub struct Password {
    /// The identifier sent in the clear, e.g. a user name.
    pub id: Vec<u8>,
    /// The secret, used as the HMAC key.
    pub secret: Vec<u8>,
}

impl core::fmt::Debug for Password {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Password")
            .field("id", &String::from_utf8_lossy(&self.id))
            .finish_non_exhaustive()
    }
}

impl Password {
    /// A password `secret` named `id`.
    pub fn new(id: impl Into<Vec<u8>>, secret: impl Into<Vec<u8>>) -> Self {
        Password {
            id: id.into(),
            secret: secret.into(),
        }
    }
}

/// What a verifier accepts (RFC 7425 4.3.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// Passwords to sign with: one Simple Password option each.
    pub sign_with: Vec<Password>,
    /// Passwords this end recognises when verifying.
    pub verify_with: Vec<Password>,
    /// Whether a far end must sign with a recognised password.
    pub require: bool,
}

fn password_hmac(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac
}

/// Signs the concatenation of `parts` with every password (4.3.5.1.1), or
/// returns "X" when there are none.
pub fn sign(parts: &[&[u8]], passwords: &[Password]) -> Vec<u8> {
    if passwords.is_empty() {
        return EMPTY_SIGNATURE.to_vec();
    }
    let mut out = Vec::new();
    for p in passwords {
        let mut value = password_hmac(&p.secret, parts)
            .finalize()
            .into_bytes()
            .to_vec();
        value.extend_from_slice(&p.id);
        RtmfpOption::new(option_type::SIMPLE_PASSWORD, value).encode(&mut out);
    }
    out
}

/// The Simple Password options of a signature, or none if it is "X" or malformed.
fn simple_passwords(signature: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    if signature == EMPTY_SIGNATURE {
        return Vec::new();
    }
    let mut r = Reader::new(signature, "signature");
    let Ok(items) = option::decode_sequence(&mut r) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        if let OptionItem::Option(o) = item
            && o.option_type == option_type::SIMPLE_PASSWORD
        {
            if o.value.len() < 32 {
                // A Simple Password too short for its HMAC makes the field malformed.
                return Vec::new();
            }
            let (mac, id) = o.value.split_at(32);
            out.push((mac.to_vec(), id.to_vec()));
        }
    }
    out
}

/// Verifies a signature over the concatenation of `parts` (4.3.5).
pub fn verify(
    parts: &[&[u8]],
    signature: &[u8],
    policy: &SignaturePolicy,
) -> Result<(), CryptoError> {
    if !policy.require {
        // 4.3.5: without a requirement, any signature field is valid.
        return Ok(());
    }
    let mut recognised = false;
    for (mac, id) in simple_passwords(signature) {
        // Unrecognised identifiers are ignored (4.3.5.1.1).
        let Some(p) = policy.verify_with.iter().find(|p| p.id == id) else {
            continue;
        };
        if password_hmac(&p.secret, parts).verify_slice(&mac).is_err() {
            return Err(CryptoError::BadPassword {
                id: String::from_utf8_lossy(&id).into_owned(),
            });
        }
        recognised = true;
    }
    if recognised {
        Ok(())
    } else {
        Err(CryptoError::SignatureRequired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(require: bool) -> SignaturePolicy {
        SignaturePolicy {
            sign_with: vec![Password::new("alice", "secret")],
            verify_with: vec![Password::new("alice", "secret")],
            require,
        }
    }

    #[test]
    fn sign_then_verify() {
        let p = policy(true);
        let sig = sign(&[b"abc", b"def"], &p.sign_with);
        assert_eq!(sig[1], 0x1d);
        verify(&[b"abcdef"], &sig, &p).unwrap();
        assert_eq!(
            verify(&[b"abcdeF"], &sig, &p).unwrap_err().kind(),
            "bad_password"
        );
    }

    #[test]
    fn x_empty_and_malformed_read_as_empty() {
        let p = policy(true);
        for sig in [&b"X"[..], &[], &[0x7f, 0x1d]] {
            assert_eq!(
                verify(&[b"m"], sig, &p).unwrap_err().kind(),
                "signature_required"
            );
            verify(&[b"m"], sig, &policy(false)).unwrap();
        }
        assert_eq!(sign(&[b"m"], &[]), b"X");
    }

    #[test]
    fn unknown_password_ids_are_ignored() {
        let p = policy(true);
        let mut sig = sign(&[b"m"], &[Password::new("bob", "other")]);
        assert_eq!(
            verify(&[b"m"], &sig, &p).unwrap_err().kind(),
            "signature_required"
        );
        sig.extend(sign(&[b"m"], &p.sign_with));
        verify(&[b"m"], &sig, &p).unwrap();
    }
}
