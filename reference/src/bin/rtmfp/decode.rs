//! `rtmfp decode`: a readable, field-by-field view of an RTMFP datagram or plain packet.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::inspect::{self, InspectError, KeyUsed, Keys};
use rtmfp::wire::fields::{Fields, Record, Value};
use rtmfp::wire::{Multiplex, PlainPacket};

use crate::print::{Printer, bytes_count};

/// Decode an RTMFP datagram (or, with --plain, a decrypted packet) and print every field.
///
/// Without --plain the input is a whole UDP payload: the 4-byte scrambled
/// session ID followed by the encrypted packet (RFC 7016 section 2.2.2). The
/// session ID is unscrambled and printed, then the packet is decrypted and
/// verified (RFC 7425 section 4.7) with the first key that works: the Default
/// Session Key for session ID 0 (startup packets: IHello, RHello, IIKeying),
/// each --key, each line of each --keylog in both directions, and finally the
/// Default Session Key again for a non-zero session ID (RIKeying and RHello
/// Cookie Change travel under it). The decrypted packet is then printed as
/// with --plain.
///
/// With --plain the input is a plain (decrypted) packet (section 2.2.4): the
/// common header, the chunks (section 2.3) and any padding. Every chunk is
/// printed with all its fields, in RFC field names; a malformed chunk is shown
/// with the structure, field and byte offset of the problem, and the chunks
/// after it are still decoded, as a receiver would.
///
/// Exit status: 0 when everything decoded, 1 when the input holds a malformed
/// packet or chunk, 2 for a usage error.
///
/// Examples:
///   rtmfp decode --plain "01 51 00 07 05 7f 10 00 00 01 03"
///   rtmfp decode "11:22:33:43:01:02:03:04:10:20:30:40:aa"
///   rtmfp decode --file datagram.bin --keylog keys.log
///   rtmfp decode --key 000102030405060708090a0b0c0d0e0f HEX
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DecodeArgs {
    /// The bytes in hex; whitespace, colons and a leading 0x are allowed.
    #[arg(
        value_name = "HEX",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    hex: Option<String>,

    /// Read the raw bytes from a file instead of HEX.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,

    /// The input is a plain (decrypted) packet, without the session ID.
    #[arg(long)]
    plain: bool,

    /// Also try this 16-byte AES-128 session key (hex), in checksum mode
    /// without session sequence numbers. May be repeated.
    #[arg(long, value_name = "HEX", conflicts_with = "plain")]
    key: Vec<String>,

    /// Also try every RTMFP_KEYLOG line of this key-log file (format:
    /// spec/keylog.md), which also gives HMAC and sequence-number settings.
    /// May be repeated.
    #[arg(long, value_name = "PATH", conflicts_with = "plain")]
    keylog: Vec<PathBuf>,

    /// Print byte strings in full instead of shortening long ones.
    #[arg(long)]
    full: bool,
}

/// Parses hex that may contain whitespace, colons and a leading `0x`.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let trimmed = text.trim();
    let trimmed = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let clean: String = trimmed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).map_err(|e| match e {
        hex::FromHexError::OddLength => format!(
            "HEX has an odd number of digits ({}); every byte needs two",
            clean.len()
        ),
        hex::FromHexError::InvalidHexCharacter { c, index } => {
            format!(
                "HEX has a character that is not a hex digit: {c:?} (digit {})",
                index + 1
            )
        }
        other => format!("HEX is not valid hex: {other}"),
    })
}

fn input(args: &DecodeArgs) -> Result<Vec<u8>, String> {
    match (&args.hex, &args.file) {
        (Some(h), None) => parse_hex(h),
        (None, Some(path)) => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        // clap enforces exactly one of them; say so rather than panic.
        _ => Err("give either HEX or --file PATH".into()),
    }
}

/// What the command prints and its exit status.
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: ExitCode,
}

/// Runs the command.
pub fn run(args: &DecodeArgs) -> Outcome {
    let bytes = match input(args) {
        Ok(b) => b,
        Err(why) => {
            return Outcome {
                stdout: String::new(),
                stderr: format!("error: {why}\n"),
                code: ExitCode::from(2),
            };
        }
    };
    let keys = match keys(args) {
        Ok(k) => k,
        Err(why) => {
            return Outcome {
                stdout: String::new(),
                stderr: format!("error: {why}\n"),
                code: ExitCode::from(2),
            };
        }
    };
    let mut p = Printer::new(args.full);
    let code = if args.plain {
        if plain_packet(&mut p, &bytes) { 0 } else { 1 }
    } else {
        match datagram(&mut p, &bytes) {
            0 => decrypted(&mut p, &bytes, &keys),
            code => code,
        }
    };
    Outcome {
        stdout: p.finish(),
        stderr: String::new(),
        code: ExitCode::from(code),
    }
}

/// The keys given with --key and --keylog.
fn keys(args: &DecodeArgs) -> Result<Keys, String> {
    let mut keys = Keys::default();
    for k in &args.key {
        let raw = parse_hex(k).map_err(|e| format!("--key: {e}"))?;
        let raw: [u8; 16] = raw.as_slice().try_into().map_err(|_| {
            format!(
                "--key: an AES-128 key is 16 bytes (32 hex digits), got {} byte(s)",
                raw.len()
            )
        })?;
        keys.raw.push(raw);
    }
    for path in &args.keylog {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--keylog: cannot read {}: {e}", path.display()))?;
        let logs = KeyLog::parse_all(&text)
            .map_err(|(line, e)| format!("--keylog: {} line {line}: {e}", path.display()))?;
        keys.key_logs.extend(logs);
    }
    Ok(keys)
}

/// Decrypts the datagram with the first key that works and prints the plain
/// packet; returns the exit status.
fn decrypted(p: &mut Printer, bytes: &[u8], keys: &Keys) -> u8 {
    let given = !keys.raw.is_empty() || !keys.key_logs.is_empty();
    match inspect::decrypt_datagram(bytes, keys) {
        Ok(d) => {
            let key = match d.key {
                KeyUsed::Default => "the Default Session Key (RFC 7425 4.1)".to_string(),
                KeyUsed::Raw(i) => format!("--key #{}", i + 1),
                KeyUsed::KeyLog { index, sent } => format!(
                    "key-log line #{} ({} by that end)",
                    index + 1,
                    if sent { "sent" } else { "received" }
                ),
            };
            let verification = match d.settings.hmac_length {
                Some(n) => format!("HMAC-SHA256 truncated to {n} bytes"),
                None => "simple checksum".to_string(),
            };
            let mut rec = Record::new()
                .with("key", key)
                .with("verification", verification);
            if let Some(seq) = d.sequence {
                rec.push("sessionSequenceNumber", seq);
            }
            p.line(0, "Decrypted and verified (RFC 7425 4.7):");
            p.record(1, &rec);
            if plain_packet(p, &d.plain) { 0 } else { 1 }
        }
        Err(InspectError::TooShort(n)) => {
            p.line(0, &format!("Cannot decrypt: only {n} byte(s)."));
            1
        }
        Err(InspectError::NoKey { attempts, .. }) => {
            p.line(
                0,
                "No key decrypts and verifies this packet (RFC 7425 4.7); tried:",
            );
            for (key, err) in &attempts {
                p.line(1, &format!("{key:?}: {err}"));
            }
            if given {
                1
            } else {
                p.line(
                    0,
                    "It is not a Default Session Key packet: give --key or --keylog to decrypt it, \
                     or --plain for bytes that are already decrypted.",
                );
                0
            }
        }
    }
}

/// Prints the multiplex layer; returns the exit status.
fn datagram(p: &mut Printer, bytes: &[u8]) -> u8 {
    p.line(0, &format!("Datagram: {}", bytes_count(bytes.len())));
    let m = match Multiplex::decode(bytes) {
        Ok(m) => m,
        Err(e) => {
            p.error(1, &e);
            return 1;
        }
    };
    let session_id = m.session_id();
    let mut rec = Record::new()
        .with("scrambledSessionID", m.scrambled_session_id)
        .with("sessionID", session_id);
    if session_id == 0 {
        rec.push(
            "note",
            "session 0: startup pseudo-session, Default Session Key",
        );
    }
    rec.push("encryptedPacket", m.encrypted_packet);
    p.record(1, &rec);
    0
}

fn plain_packet(p: &mut Printer, bytes: &[u8]) -> bool {
    p.line(0, &format!("Plain packet: {}", bytes_count(bytes.len())));
    let packet = match PlainPacket::decode(bytes) {
        Ok(packet) => packet,
        Err(e) => {
            p.error(1, &e);
            return false;
        }
    };
    p.line(
        1,
        &format!("Header: {}", bytes_count(packet.header.encoded_len())),
    );
    p.record(2, &packet.header.fields());
    let mut ok = true;
    let mut count = 0;
    for (i, d) in packet.decoded_chunks().enumerate() {
        count += 1;
        let status = if d.chunk.is_err() {
            ok = false;
            " (malformed: ignored)"
        } else {
            ""
        };
        p.line(
            1,
            &format!(
                "Chunk {} at offset {}: {} (0x{:02x}), {}{status}",
                i + 1,
                d.raw.offset,
                d.raw.name(),
                d.raw.chunk_type,
                bytes_count(d.raw.payload.len())
            ),
        );
        let mut fields = d.fields();
        // Offset, type, name and length are in the line above.
        fields
            .0
            .retain(|(name, _)| !matches!(*name, "offset" | "chunkType" | "name" | "chunkLength"));
        p.record(2, &fields);
    }
    if count == 0 {
        p.line(1, "No chunks (RFC 7016 2.2.4 recommends at least one).");
    }
    let (at, padding) = packet.padding();
    if !padding.is_empty() {
        let mut rec = Record::new();
        rec.push("bytes", Value::Bytes(padding.to_vec()));
        p.line(
            1,
            &format!("Padding at offset {at}: {}", bytes_count(padding.len())),
        );
        p.record(2, &rec);
    }
    ok
}
