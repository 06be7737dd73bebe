//! A field-by-field view of decoded wire structures, keyed by RFC 7016 section 2 field names.
//!
//! Every typed structure can describe itself as a [`Record`] of named
//! [`Value`]s. The `rtmfp decode` command prints these records, and the test
//! vectors under `vectors/wire/` are compared against them, so a vector's
//! `expect` uses the RFC's own field names (`flowID`, `cumulativeAck`, ...).
//! Derived values (for example `forwardSequenceNumber` or the acknowledged
//! ranges of an ack) are included under names of their own.

/// One field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An unsigned integer (VLU, `uint8_t` .. `uint32_t`).
    Uint(u64),
    /// A flag.
    Bool(bool),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A named enumeration value or a formatted address.
    Text(String),
    /// An optional field that is not present (for example a timestamp whose flag is clear).
    Absent,
    /// A sequence of values.
    List(Vec<Value>),
    /// A nested structure.
    Record(Record),
}

/// Named fields in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record(pub Vec<(&'static str, Value)>);

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Record(Vec::new())
    }

    /// Appends a field (builder style).
    pub fn with(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.0.push((name, value.into()));
        self
    }

    /// Appends a field.
    pub fn push(&mut self, name: &'static str, value: impl Into<Value>) {
        self.0.push((name, value.into()));
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Uint(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Uint(u64::from(v))
    }
}

impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Uint(u64::from(v))
    }
}

impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Uint(u64::from(v))
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Uint(v as u64)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Self {
        Value::Bytes(v.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Record> for Value {
    fn from(v: Record) -> Self {
        Value::Record(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Absent, Into::into)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}

/// A structure that can describe itself field by field.
pub trait Fields {
    /// The structure's fields, in wire order, with derived values after them.
    fn fields(&self) -> Record;
}

impl Fields for super::Address {
    fn fields(&self) -> Record {
        let origin = match self.origin {
            super::AddressOrigin::Unknown => "unknown",
            super::AddressOrigin::Local => "local",
            super::AddressOrigin::Reflexive => "reflexive",
            super::AddressOrigin::Relay => "relay",
        };
        Record::new()
            .with("address", self.socket.to_string())
            .with("origin", origin)
    }
}

impl Fields for super::RtmfpOption {
    fn fields(&self) -> Record {
        Record::new()
            .with("type", self.option_type)
            .with("value", &self.value)
    }
}

impl Fields for super::OptionItem {
    fn fields(&self) -> Record {
        match self {
            super::OptionItem::Option(o) => o.fields(),
            super::OptionItem::Marker => Record::new().with("marker", true),
        }
    }
}

impl Fields for super::WireError {
    fn fields(&self) -> Record {
        Record::new()
            .with("structure", self.structure)
            .with("field", self.field)
            .with("offset", self.offset)
            .with("kind", self.kind.name())
            .with("message", self.kind.to_string())
    }
}
