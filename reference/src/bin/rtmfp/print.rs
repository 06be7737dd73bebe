//! Indented, Wireshark-like text for field records.

use std::fmt::Write as _;

use rtmfp::wire::WireError;
use rtmfp::wire::fields::{Record, Value};

/// Byte strings longer than this are shortened unless `--full` is given.
const SHORT_BYTES: usize = 32;

/// Fields whose integers read better in hex.
const HEX_FIELDS: &[&str] = &["flags", "chunkType", "type"];

/// Fields shown in decimal and hex: session IDs and 16-bit timestamps.
const SESSION_ID_FIELDS: &[&str] = &["sessionID", "initiatorSessionID", "responderSessionID"];
const TIMESTAMP_FIELDS: &[&str] = &["timestamp", "timestampEcho"];

/// "1 byte" or "N bytes".
pub fn bytes_count(n: usize) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

/// Accumulates the output text.
pub struct Printer {
    out: String,
    full: bool,
}

impl Printer {
    pub fn new(full: bool) -> Self {
        Printer {
            out: String::new(),
            full,
        }
    }

    pub fn finish(self) -> String {
        self.out
    }

    pub fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.out, "{:width$}{text}", "", width = indent * 2);
    }

    pub fn error(&mut self, indent: usize, e: &WireError) {
        self.line(indent, &format!("error: {e}"));
    }

    fn bytes(&self, b: &[u8]) -> String {
        if b.is_empty() {
            return "(empty)".into();
        }
        let shown = if self.full {
            b
        } else {
            &b[..b.len().min(SHORT_BYTES)]
        };
        let mut text = shown
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        if shown.len() < b.len() {
            let _ = write!(
                text,
                " ... (+{} more; --full shows all)",
                b.len() - shown.len()
            );
        }
        format!("[{}] {text}", bytes_count(b.len()))
    }

    fn scalar(&self, name: &str, v: &Value) -> Option<String> {
        Some(match v {
            Value::Uint(n) if HEX_FIELDS.contains(&name) => format!("0x{n:02x}"),
            Value::Uint(n) if name == "scrambledSessionID" => format!("0x{n:08x}"),
            Value::Uint(n) if SESSION_ID_FIELDS.contains(&name) => format!("{n} (0x{n:08x})"),
            Value::Uint(n) if TIMESTAMP_FIELDS.contains(&name) => {
                format!("{n} (0x{n:04x}, 4 ms ticks)")
            }
            Value::Uint(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Text(t) => t.clone(),
            Value::Absent => "(absent)".into(),
            Value::Bytes(b) => self.bytes(b),
            Value::List(items) if items.is_empty() => "(none)".into(),
            Value::List(items) => ranges(items)?,
            Value::Record(_) => return None,
        })
    }

    pub fn record(&mut self, indent: usize, rec: &Record) {
        for (name, value) in &rec.0 {
            if let Some(text) = self.scalar(name, value) {
                self.line(indent, &format!("{name}: {text}"));
                continue;
            }
            match value {
                Value::Record(r) => {
                    self.line(indent, &format!("{name}:"));
                    self.record(indent + 1, r);
                }
                Value::List(items) => {
                    self.line(indent, &format!("{name}: {} item(s)", items.len()));
                    for (i, item) in items.iter().enumerate() {
                        match item {
                            Value::Record(r) => {
                                self.line(indent + 1, &format!("[{i}]"));
                                self.record(indent + 2, r);
                            }
                            other => {
                                let text = self.scalar("", other).unwrap_or_default();
                                self.line(indent + 1, &format!("[{i}] {text}"));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// A list of `[first, last]` pairs as "0-16, 18, 21-24"; `None` for other lists.
fn ranges(items: &[Value]) -> Option<String> {
    let parts = items
        .iter()
        .map(|item| match item {
            Value::List(pair) => match pair.as_slice() {
                [Value::Uint(a), Value::Uint(b)] if a == b => Some(a.to_string()),
                [Value::Uint(a), Value::Uint(b)] => Some(format!("{a}-{b}")),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(parts.join(", "))
}
