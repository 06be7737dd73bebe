//! Key logs: one line per session with the Flash profile's keys (RFC 7425 4.6), for decrypting captures.
//!
//! The format is the one of `shared/captures/README.md` (written by an
//! instrumented rtmfp-cpp): the word `RTMFP_KEYLOG`, then space-separated
//! `name=value` fields: `role` (`client` = initiator, `server` = responder),
//! `dh_group`, `near_nonce`, `far_nonce`, `enc_key`, `dec_key` (AES-128 keys),
//! `hmac_tx_key`, `hmac_rx_key`, `hmac_send`, `hmac_recv`, `sseq_send`,
//! `sseq_recv` (0 or 1) and `dh_secret`, binary values in lowercase hex.
//!
//! The format does not record HMAC lengths. We append `hmac_send_len` and
//! `hmac_recv_len` when a direction uses HMAC; the parser accepts lines with or
//! without them (and ignores any other unknown field), and a reader without a
//! length can infer it (see [`crate::crypto::inspect`]).

use core::fmt;

use crate::crypto::error::CryptoError;

use super::packet::{DirectionSettings, PacketKey};
use super::session_keys::{FlashSessionKeys, Role};

/// The word that starts every key-log line.
pub const PREFIX: &str = "RTMFP_KEYLOG";

/// One session's keys, as logged.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyLog {
    /// The logging end's role.
    pub role: Role,
    /// The Diffie-Hellman group ID.
    pub dh_group: u64,
    /// NEAR_NONCE of the logging end (4.6.5).
    pub near_nonce: Vec<u8>,
    /// FAR_NONCE of the logging end.
    pub far_nonce: Vec<u8>,
    /// AES-128 key for packets the logging end sends.
    pub enc_key: [u8; 16],
    /// AES-128 key for packets the logging end receives.
    pub dec_key: [u8; 16],
    /// HMAC_SEND_KEY (4.6.4).
    pub hmac_tx_key: Vec<u8>,
    /// HMAC_RECV_KEY.
    pub hmac_rx_key: Vec<u8>,
    /// Whether the logging end sends an HMAC.
    pub hmac_send: bool,
    /// Whether the logging end receives an HMAC.
    pub hmac_recv: bool,
    /// Whether the logging end sends session sequence numbers.
    pub sseq_send: bool,
    /// Whether the logging end receives session sequence numbers.
    pub sseq_recv: bool,
    /// DH_SECRET (4.6.2).
    pub dh_secret: Vec<u8>,
    /// The length of the HMAC the logging end sends, if logged.
    pub hmac_send_len: Option<usize>,
    /// The length of the HMAC the logging end receives, if logged.
    pub hmac_recv_len: Option<usize>,
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLog")
            .field("role", &self.role)
            .field("dh_group", &self.dh_group)
            .finish_non_exhaustive()
    }
}

impl KeyLog {
    /// The key log of a finished key exchange.
    pub fn from_session(keys: &FlashSessionKeys) -> KeyLog {
        let m = &keys.material;
        let n = &keys.negotiated;
        KeyLog {
            role: keys.role,
            dh_group: keys.group.id(),
            near_nonce: m.near_nonce.to_vec(),
            far_nonce: m.far_nonce.to_vec(),
            enc_key: m.aes_encrypt_key(),
            dec_key: m.aes_decrypt_key(),
            hmac_tx_key: m.hmac_send_key.to_vec(),
            hmac_rx_key: m.hmac_recv_key.to_vec(),
            hmac_send: n.send.hmac_length.is_some(),
            hmac_recv: n.receive.hmac_length.is_some(),
            sseq_send: n.send.sequence_numbers,
            sseq_recv: n.receive.sequence_numbers,
            dh_secret: keys.dh_secret.clone(),
            hmac_send_len: n.send.hmac_length,
            hmac_recv_len: n.receive.hmac_length,
        }
    }

    /// Parses one line. Unknown fields are ignored; every field of the
    /// capture format is required.
    pub fn parse(line: &str) -> Result<KeyLog, CryptoError> {
        let bad = |field, reason| CryptoError::KeyLog { field, reason };
        let mut words = line.split_whitespace();
        if words.next() != Some(PREFIX) {
            return Err(bad("prefix", "line does not start with RTMFP_KEYLOG"));
        }
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for w in words {
            let Some((name, value)) = w.split_once('=') else {
                return Err(bad("line", "a field is not name=value"));
            };
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(bad("line", "a field appears twice"));
            }
            fields.push((name, value));
        }
        let get = |field: &'static str| {
            fields
                .iter()
                .find(|(n, _)| *n == field)
                .map(|(_, v)| *v)
                .ok_or(bad(field, "missing"))
        };
        let hex_field = |field: &'static str| {
            let v = get(field)?;
            hex::decode(v).map_err(|_| bad(field, "not hex"))
        };
        let key16 = |field: &'static str| -> Result<[u8; 16], CryptoError> {
            hex_field(field)?
                .try_into()
                .map_err(|_| bad(field, "not 16 bytes"))
        };
        let flag = |field: &'static str| match get(field)? {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(bad(field, "not 0 or 1")),
        };
        let optional_len = |field: &'static str| -> Result<Option<usize>, CryptoError> {
            match fields.iter().find(|(n, _)| *n == field) {
                None => Ok(None),
                Some((_, v)) => match v.parse::<usize>() {
                    Ok(n) if (4..=32).contains(&n) => Ok(Some(n)),
                    _ => Err(bad(field, "not a number in 4..=32")),
                },
            }
        };
        let role = match get("role")? {
            "client" | "initiator" => Role::Initiator,
            "server" | "responder" => Role::Responder,
            _ => return Err(bad("role", "not client or server")),
        };
        let dh_group = get("dh_group")?
            .parse::<u64>()
            .map_err(|_| bad("dh_group", "not a number"))?;
        Ok(KeyLog {
            role,
            dh_group,
            near_nonce: hex_field("near_nonce")?,
            far_nonce: hex_field("far_nonce")?,
            enc_key: key16("enc_key")?,
            dec_key: key16("dec_key")?,
            hmac_tx_key: hex_field("hmac_tx_key")?,
            hmac_rx_key: hex_field("hmac_rx_key")?,
            hmac_send: flag("hmac_send")?,
            hmac_recv: flag("hmac_recv")?,
            sseq_send: flag("sseq_send")?,
            sseq_recv: flag("sseq_recv")?,
            dh_secret: hex_field("dh_secret")?,
            hmac_send_len: optional_len("hmac_send_len")?,
            hmac_recv_len: optional_len("hmac_recv_len")?,
        })
    }

    /// Parses every key-log line of a text, skipping lines that do not start
    /// with `RTMFP_KEYLOG`; reports the 1-based line number of a bad one.
    pub fn parse_all(text: &str) -> Result<Vec<KeyLog>, (usize, CryptoError)> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with(PREFIX))
            .map(|(i, l)| KeyLog::parse(l).map_err(|e| (i + 1, e)))
            .collect()
    }

    /// The key for packets the logging end sent, with HMAC length `hmac_len`
    /// when the logged length is unknown.
    pub fn send_key(&self, hmac_len: usize) -> PacketKey {
        PacketKey::new(
            &self.enc_key,
            &self.hmac_tx_key,
            DirectionSettings {
                hmac_length: self
                    .hmac_send
                    .then(|| self.hmac_send_len.unwrap_or(hmac_len)),
                sequence_numbers: self.sseq_send,
            },
        )
    }

    /// The key for packets the logging end received.
    pub fn receive_key(&self, hmac_len: usize) -> PacketKey {
        PacketKey::new(
            &self.dec_key,
            &self.hmac_rx_key,
            DirectionSettings {
                hmac_length: self
                    .hmac_recv
                    .then(|| self.hmac_recv_len.unwrap_or(hmac_len)),
                sequence_numbers: self.sseq_recv,
            },
        )
    }
}

impl fmt::Display for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Initiator => "client",
            Role::Responder => "server",
        };
        write!(
            f,
            "{PREFIX} role={role} dh_group={} near_nonce={} far_nonce={} enc_key={} dec_key={} \
             hmac_tx_key={} hmac_rx_key={} hmac_send={} hmac_recv={} sseq_send={} sseq_recv={} \
             dh_secret={}",
            self.dh_group,
            hex::encode(&self.near_nonce),
            hex::encode(&self.far_nonce),
            hex::encode(self.enc_key),
            hex::encode(self.dec_key),
            hex::encode(&self.hmac_tx_key),
            hex::encode(&self.hmac_rx_key),
            u8::from(self.hmac_send),
            u8::from(self.hmac_recv),
            u8::from(self.sseq_send),
            u8::from(self.sseq_recv),
            hex::encode(&self.dh_secret),
        )?;
        if let Some(n) = self.hmac_send_len {
            write!(f, " hmac_send_len={n}")?;
        }
        if let Some(n) = self.hmac_recv_len {
            write!(f, " hmac_recv_len={n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "RTMFP_KEYLOG role=client dh_group=2 near_nonce=01 far_nonce=02 \
        enc_key=000102030405060708090a0b0c0d0e0f dec_key=101112131415161718191a1b1c1d1e1f \
        hmac_tx_key=aa hmac_rx_key=bb hmac_send=1 hmac_recv=0 sseq_send=0 sseq_recv=1 dh_secret=0123";

    #[test]
    fn parse_and_format_round_trip() {
        let k = KeyLog::parse(LINE).unwrap();
        assert_eq!(k.role, Role::Initiator);
        assert!(k.hmac_send && !k.hmac_recv && !k.sseq_send && k.sseq_recv);
        assert_eq!(
            k.to_string(),
            LINE.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        let mut with_len = k.clone();
        with_len.hmac_send_len = Some(10);
        assert_eq!(KeyLog::parse(&with_len.to_string()).unwrap(), with_len);
    }

    #[test]
    fn bad_lines_name_their_field() {
        let field = |l: &str| match KeyLog::parse(l) {
            Err(CryptoError::KeyLog { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field("nope"), "prefix");
        assert_eq!(field(&LINE.replace("enc_key=00", "enc_key=zz")), "enc_key");
        assert_eq!(field(&LINE.replace("dec_key=10", "dec_key=")), "dec_key");
        assert_eq!(
            field(&LINE.replace("hmac_send=1", "hmac_send=2")),
            "hmac_send"
        );
        assert_eq!(field(&LINE.replace(" dh_secret=0123", "")), "dh_secret");
        assert_eq!(field(&LINE.replace("role=client", "role=x")), "role");
        assert_eq!(field(&format!("{LINE} role=server")), "line");
        // Unknown fields are fine.
        KeyLog::parse(&format!("{LINE} extra=1")).unwrap();
    }
}
