//! `rtmfp decode`: a readable, field-by-field view of an RTMFP datagram or plain packet.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rtmfp::wire::fields::{Fields, Record, Value};
use rtmfp::wire::{Multiplex, PlainPacket};

use crate::print::{Printer, bytes_count};

/// Decode an RTMFP datagram (or, with --plain, a decrypted packet) and print every field.
///
/// Without --plain the input is a whole UDP payload: the 4-byte scrambled
/// session ID followed by the encrypted packet (RFC 7016 section 2.2.2). The
/// session ID is unscrambled and printed; the packet itself is encrypted
/// (section 2.2.3), so decoding stops there unless the packet can be
/// decrypted.
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
///   rtmfp decode --file datagram.bin
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

    /// Decrypt with this session key (hex). Not available yet: decryption
    /// arrives with the cryptography profile (RFC 7425); until then use --plain.
    #[arg(long, value_name = "HEX", conflicts_with = "plain")]
    key: Option<String>,

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
    let mut p = Printer::new(args.full);
    let mut stderr = String::new();
    let code = if args.plain {
        if plain_packet(&mut p, &bytes) { 0 } else { 1 }
    } else {
        let code = datagram(&mut p, &bytes);
        match &args.key {
            // Decryption is wired in here once the cryptography profile (RFC 7425,
            // `rtmfp::crypto`) provides a decrypt function; until then say so
            // rather than pretend.
            Some(_) => {
                stderr.push_str(
                    "error: --key: decryption is not available in this build yet; \
                     decode already decrypted bytes with --plain\n",
                );
                2
            }
            None => {
                if code == 0 {
                    p.line(
                        0,
                        "The packet is encrypted (RFC 7016 2.2.3) and no key was given; nothing more to decode. \
                         Use --plain for bytes that are already decrypted.",
                    );
                }
                code
            }
        }
    };
    Outcome {
        stdout: p.finish(),
        stderr,
        code: ExitCode::from(code),
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
