//! Comparing a vector's YAML expectations with a decoded structure's field view.

use rtmfp::wire::fields::{Record, Value};
use serde_json::Value as Json;

/// Parses hex that may contain whitespace and colons.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).map_err(|e| format!("bad hex {text:?}: {e}"))
}

/// The vector's `hex` field as bytes.
pub fn vector_bytes(v: &Json) -> Result<Vec<u8>, String> {
    let text = v
        .get("hex")
        .ok_or("vector has no `hex`")?
        .as_str()
        .ok_or("`hex` must be a string")?;
    parse_hex(text)
}

/// Fails on keys other than the common ones and `allowed`.
pub fn check_keys(v: &Json, allowed: &[&str]) -> Result<(), String> {
    let map = v.as_object().ok_or("a vector must be a mapping")?;
    for key in map.keys() {
        if !crate::COMMON_KEYS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            return Err(format!(
                "unknown key `{key}` (allowed: {:?} and {:?})",
                crate::COMMON_KEYS,
                allowed
            ));
        }
    }
    Ok(())
}

/// The `canonical` flag: whether re-encoding must give back the input bytes (default true).
pub fn canonical(v: &Json) -> Result<bool, String> {
    match v.get("canonical") {
        None => Ok(true),
        Some(Json::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("`canonical` must be true or false, not {other}")),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Uint(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Bytes(b) => format!("hex {:?}", hex::encode(b)),
        Value::Text(t) => format!("{t:?}"),
        Value::Absent => "absent (null)".into(),
        Value::List(l) => format!("a list of {}", l.len()),
        Value::Record(r) => format!(
            "a record with fields {:?}",
            r.0.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        ),
    }
}

/// Compares `expected` with `actual`. Records match when every field named in
/// `expected` exists in `actual` and matches; a field name `actual` does not
/// have is an error. Lists must have the same length. Byte strings are
/// written as hex strings, integers as numbers (or `"0x..."` strings).
pub fn matches(expected: &Json, actual: &Value, path: &str) -> Result<(), String> {
    let mismatch = || format!("{path}: expected {expected}, got {}", show(actual));
    match actual {
        Value::Uint(n) => {
            let want = match expected {
                Json::Number(num) => num.as_u64(),
                Json::String(s) => s
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok()),
                _ => None,
            };
            (want == Some(*n)).then_some(()).ok_or_else(mismatch)
        }
        Value::Bool(b) => (expected.as_bool() == Some(*b))
            .then_some(())
            .ok_or_else(mismatch),
        Value::Text(t) => (expected.as_str() == Some(t.as_str()))
            .then_some(())
            .ok_or_else(mismatch),
        Value::Absent => expected.is_null().then_some(()).ok_or_else(mismatch),
        Value::Bytes(b) => {
            let text = expected.as_str().ok_or_else(mismatch)?;
            let want = parse_hex(text).map_err(|e| format!("{path}: {e}"))?;
            (want == *b).then_some(()).ok_or_else(mismatch)
        }
        Value::List(items) => {
            let want = expected.as_array().ok_or_else(mismatch)?;
            if want.len() != items.len() {
                return Err(format!(
                    "{path}: expected {} item(s), got {}",
                    want.len(),
                    items.len()
                ));
            }
            for (i, (w, a)) in want.iter().zip(items).enumerate() {
                matches(w, a, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::Record(rec) => matches_record(expected, rec, path),
    }
}

/// [`matches`] for a record.
pub fn matches_record(expected: &Json, actual: &Record, path: &str) -> Result<(), String> {
    let want = expected
        .as_object()
        .ok_or_else(|| format!("{path}: expected {expected}, got a record"))?;
    for (key, w) in want {
        let sub = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let a = actual.get(key).ok_or_else(|| {
            format!(
                "{sub}: no such field; the decoded value has {:?}",
                actual.0.iter().map(|(n, _)| *n).collect::<Vec<_>>()
            )
        })?;
        matches(w, a, &sub)?;
    }
    Ok(())
}
