//! Kinds of `vectors/wire/` (RFC 7016 section 2).
//!
//! Every kind decodes the vector's `hex`, then either compares the decoded
//! field view (RFC field names, see `rtmfp::wire::fields`) with `expect`, or
//! the error (structure, field, offset, kind) with `error`. Unless the vector
//! says `canonical: false`, the decoded value is also encoded again and must
//! give back the input bytes (for packets and chunk sequences: up to where
//! padding starts).

use rtmfp::wire::chunk::Chunk;
use rtmfp::wire::fields::{Fields, Record, Value};
use rtmfp::wire::packet::{Chunks, DecodedChunks, Packet, PlainPacket};
use rtmfp::wire::{Address, Multiplex, Reader, WireError, multiplex, option, vlu};
use serde_json::Value as Json;

use crate::Check;
use crate::compare::{canonical, check_keys, matches_record, vector_bytes};

/// The check for a file's `kind`.
pub fn kind(kind: &str) -> Option<Check> {
    Some(match kind {
        "vlu" => |v| run(v, decode_vlu),
        "option_list" => |v| run(v, decode_option_list),
        "option_sequence" => |v| run(v, decode_option_sequence),
        "address" => |v| run(v, decode_address),
        "multiplex" => |v| run(v, decode_multiplex),
        "packet" => |v| run(v, decode_packet),
        "chunk" => |v| run(v, decode_chunk),
        "chunk_sequence" => |v| run(v, decode_chunk_sequence),
        _ => return None,
    })
}

/// A successful decode: the field view, and (when the input can be rebuilt)
/// the re-encoding together with the part of the input it must equal.
struct Decoded {
    fields: Record,
    reencoded: Option<(Vec<u8>, Vec<u8>)>,
}

/// A decode that failed for a reason outside the wire format (for example
/// bytes left over where the vector promises one structure).
enum Failure {
    Wire(WireError),
    Harness(String),
}

impl From<WireError> for Failure {
    fn from(e: WireError) -> Self {
        Failure::Wire(e)
    }
}

fn run(v: &Json, decode: fn(&[u8]) -> Result<Decoded, Failure>) -> Result<(), String> {
    check_keys(v, &["hex", "expect", "error", "canonical"])?;
    let bytes = vector_bytes(v)?;
    match (v.get("expect"), v.get("error")) {
        (Some(expect), None) => {
            let decoded = match decode(&bytes) {
                Ok(d) => d,
                Err(Failure::Wire(e)) => {
                    return Err(format!("expected a value, decoding failed: {e}"));
                }
                Err(Failure::Harness(why)) => return Err(why),
            };
            matches_record(expect, &decoded.fields, "")?;
            if canonical(v)?
                && let Some((again, original)) = decoded.reencoded
                && again != original
            {
                return Err(format!(
                    "re-encoding differs: {} instead of {} (set `canonical: false` if the input is not in canonical form)",
                    hex::encode(&again),
                    hex::encode(&original)
                ));
            }
            Ok(())
        }
        (None, Some(error)) => match decode(&bytes) {
            Ok(d) => Err(format!("expected an error, decoded {:?}", d.fields)),
            Err(Failure::Wire(e)) => matches_record(error, &e.fields(), "error"),
            Err(Failure::Harness(why)) => Err(why),
        },
        _ => Err("a vector needs exactly one of `expect` and `error`".into()),
    }
}

fn same(encoded: Vec<u8>, input: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    Some((encoded, input.to_vec()))
}

fn decode_vlu(bytes: &[u8]) -> Result<Decoded, Failure> {
    let mut r = Reader::new(bytes, "VLU");
    let value = r.vlu("value")?;
    r.finish("value")?;
    Ok(Decoded {
        fields: Record::new().with("value", value),
        reencoded: same(vlu::to_vec(value), bytes),
    })
}

fn decode_option_list(bytes: &[u8]) -> Result<Decoded, Failure> {
    let mut r = Reader::new(bytes, "Option List");
    let options = option::decode_list(&mut r)?;
    r.finish("option list")?;
    let mut out = Vec::new();
    option::encode_list(&options, &mut out);
    let list: Vec<Value> = options.iter().map(|o| Value::Record(o.fields())).collect();
    Ok(Decoded {
        fields: Record::new().with("options", list),
        reencoded: same(out, bytes),
    })
}

fn decode_option_sequence(bytes: &[u8]) -> Result<Decoded, Failure> {
    let mut r = Reader::new(bytes, "Option sequence");
    let items = option::decode_sequence(&mut r)?;
    let mut out = Vec::new();
    option::encode_sequence(&items, &mut out);
    let list: Vec<Value> = items.iter().map(|o| Value::Record(o.fields())).collect();
    Ok(Decoded {
        fields: Record::new().with("items", list),
        reencoded: same(out, bytes),
    })
}

fn decode_address(bytes: &[u8]) -> Result<Decoded, Failure> {
    let mut r = Reader::new(bytes, "Address");
    let a = Address::decode(&mut r)?;
    r.finish("port")?;
    let mut out = Vec::new();
    a.encode(&mut out);
    Ok(Decoded {
        fields: a.fields(),
        reencoded: same(out, bytes),
    })
}

fn decode_multiplex(bytes: &[u8]) -> Result<Decoded, Failure> {
    let m = Multiplex::decode(bytes)?;
    let mut out = Vec::new();
    multiplex::encode(m.session_id(), m.encrypted_packet, &mut out);
    Ok(Decoded {
        fields: Record::new()
            .with("scrambledSessionID", m.scrambled_session_id)
            .with("sessionID", m.session_id())
            .with("encryptedPacket", m.encrypted_packet),
        reencoded: same(out, bytes),
    })
}

/// Decodes framed chunks; re-encodes them when every one decoded.
fn chunk_list(chunks: DecodedChunks<'_>) -> (Vec<Value>, Option<Vec<Chunk>>) {
    let mut list = Vec::new();
    let mut good = Some(Vec::new());
    for d in chunks {
        list.push(Value::Record(d.fields()));
        match (&d.chunk, good.as_mut()) {
            (Ok(c), Some(g)) => g.push(c.clone()),
            _ => good = None,
        }
    }
    (list, good)
}

fn decode_packet(bytes: &[u8]) -> Result<Decoded, Failure> {
    let p = PlainPacket::decode(bytes)?;
    let (list, good) = chunk_list(p.decoded_chunks());
    let (pad_at, pad) = p.padding();
    let reencoded = match good {
        Some(chunks) => {
            let mut out = Vec::new();
            Packet {
                header: p.header,
                chunks,
            }
            .encode(&mut out)
            .map_err(|e| Failure::Harness(e.to_string()))?;
            Some((out, bytes[..pad_at].to_vec()))
        }
        None => None,
    };
    Ok(Decoded {
        fields: Record::new()
            .with("header", p.header.fields())
            .with("chunks", list)
            .with(
                "padding",
                Record::new().with("offset", pad_at).with("bytes", pad),
            ),
        reencoded,
    })
}

fn decode_chunk(bytes: &[u8]) -> Result<Decoded, Failure> {
    let (chunk, used) = Chunk::decode_one(bytes, 0)?;
    if used != bytes.len() {
        return Err(Failure::Harness(format!(
            "{} byte(s) after the chunk; a `chunk` vector holds exactly one chunk",
            bytes.len() - used
        )));
    }
    let mut out = Vec::new();
    chunk
        .encode(&mut out)
        .map_err(|e| Failure::Harness(e.to_string()))?;
    Ok(Decoded {
        fields: chunk.fields(),
        reencoded: same(out, bytes),
    })
}

fn decode_chunk_sequence(bytes: &[u8]) -> Result<Decoded, Failure> {
    let decoded = DecodedChunks::new(Chunks::new(bytes, 0));
    let (list, good) = chunk_list(decoded);
    let mut framing = Chunks::new(bytes, 0);
    for _ in framing.by_ref() {}
    let end = framing.offset();
    let reencoded = match good {
        Some(chunks) => {
            let mut out = Vec::new();
            for c in &chunks {
                c.encode(&mut out)
                    .map_err(|e| Failure::Harness(e.to_string()))?;
            }
            Some((out, bytes[..end].to_vec()))
        }
        None => None,
    };
    Ok(Decoded {
        fields: Record::new()
            .with("chunks", list)
            .with("unframed", framing.remaining()),
        reencoded,
    })
}
