//! OTLP's protobuf messages, written by hand: the few messages certless sends
//! (`ExportMetricsServiceRequest`, `ExportTraceServiceRequest`) need a writer of varints,
//! fixed-width numbers and length-delimited fields, not a protobuf runtime in every wheel and
//! addon. Field numbers are those of opentelemetry-proto's `.proto` files (docs/telemetry.md,
//! "Wire format"); the tests decode what this writes with the official definitions.

/// A protobuf message being written.
#[derive(Default)]
pub(super) struct Message {
    bytes: Vec<u8>,
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LENGTH_DELIMITED: u32 = 2;
const FIXED32: u32 = 5;

impl Message {
    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(u64::from((field << 3) | wire_type));
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    /// A `uint32`, `uint64`, `int64` or enum field (zero, the default, is not written).
    pub(super) fn uint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(value);
        }
    }

    pub(super) fn bool(&mut self, field: u32, value: bool) {
        self.uint(field, u64::from(value));
    }

    /// A `fixed64` or `sfixed64` field.
    pub(super) fn fixed64(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, FIXED64);
            self.bytes.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A `fixed64` or `sfixed64` field written even when zero (a `oneof` member, or a count
    /// that is part of a point).
    pub(super) fn key_fixed64(&mut self, field: u32, value: u64) {
        self.key(field, FIXED64);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The fields of `other`, as if written here.
    pub(super) fn append(&mut self, other: &Message) {
        self.bytes.extend_from_slice(&other.bytes);
    }

    pub(super) fn fixed32(&mut self, field: u32, value: u32) {
        if value != 0 {
            self.key(field, FIXED32);
            self.bytes.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A `double` field, written even when zero: OTLP's `oneof` values and `optional` doubles
    /// are told apart from absent ones by their presence.
    pub(super) fn double(&mut self, field: u32, value: f64) {
        self.key(field, FIXED64);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn bytes(&mut self, field: u32, value: &[u8]) {
        if !value.is_empty() {
            self.key(field, LENGTH_DELIMITED);
            self.varint(value.len() as u64);
            self.bytes.extend_from_slice(value);
        }
    }

    pub(super) fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    /// An embedded message, written even when empty (an empty `AnyValue` still means a value).
    pub(super) fn message(&mut self, field: u32, write: impl FnOnce(&mut Message)) {
        let mut inner = Message::default();
        write(&mut inner);
        self.key(field, LENGTH_DELIMITED);
        self.varint(inner.bytes.len() as u64);
        self.bytes.extend_from_slice(&inner.bytes);
    }

    /// A packed `repeated fixed64`.
    pub(super) fn packed_fixed64(
        &mut self,
        field: u32,
        values: impl ExactSizeIterator<Item = u64>,
    ) {
        if values.len() == 0 {
            return;
        }
        self.key(field, LENGTH_DELIMITED);
        self.varint(values.len() as u64 * 8);
        for v in values {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A packed `repeated double`.
    pub(super) fn packed_double(&mut self, field: u32, values: &[f64]) {
        self.packed_fixed64(field, values.iter().map(|v| v.to_bits()));
    }
}

/// An attribute's value (`AnyValue`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Str(std::borrow::Cow<'static, str>),
    Bool(bool),
    Int(i64),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Value::Str(std::borrow::Cow::Borrowed(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(std::borrow::Cow::Owned(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

/// One attribute (`KeyValue`).
pub(crate) type Attribute = (&'static str, Value);

/// `KeyValue { string key = 1; AnyValue value = 2; }`;
/// `AnyValue { string string_value = 1; bool bool_value = 2; int64 int_value = 3; }`.
pub(super) fn key_value(m: &mut Message, field: u32, key: &str, value: &Value) {
    m.message(field, |kv| {
        kv.string(1, key);
        kv.message(2, |v| match value {
            Value::Str(s) => {
                // An empty string is still a string value, not an absent one.
                v.key(1, LENGTH_DELIMITED);
                v.varint(s.len() as u64);
                v.bytes.extend_from_slice(s.as_bytes());
            }
            Value::Bool(b) => {
                v.key(2, VARINT);
                v.varint(u64::from(*b));
            }
            Value::Int(i) => {
                v.key(3, VARINT);
                v.varint(*i as u64);
            }
        });
    });
}

pub(super) fn attributes<'a>(
    m: &mut Message,
    field: u32,
    attrs: impl IntoIterator<Item = (&'a str, &'a Value)>,
) {
    for (key, value) in attrs {
        key_value(m, field, key, value);
    }
}

/// `InstrumentationScope { string name = 1; string version = 2; }`.
pub(super) fn scope(m: &mut Message, field: u32, name: &str, version: &str) {
    m.message(field, |s| {
        s.string(1, name);
        s.string(2, version);
    });
}

/// `Resource { repeated KeyValue attributes = 1; }`.
pub(super) fn resource(m: &mut Message, field: u32, attrs: &[(String, Value)]) {
    m.message(field, |r| {
        attributes(r, 1, attrs.iter().map(|(k, v)| (k.as_str(), v)));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fixed_fields_are_encoded_as_protobuf_does() {
        let mut m = Message::default();
        m.uint(1, 150);
        assert_eq!(m.into_bytes(), [0x08, 0x96, 0x01]);
        let mut m = Message::default();
        m.string(2, "testing");
        assert_eq!(m.into_bytes(), b"\x12\x07testing");
        let mut m = Message::default();
        m.fixed64(3, 1);
        assert_eq!(m.into_bytes(), [0x19, 1, 0, 0, 0, 0, 0, 0, 0]);
        let mut m = Message::default();
        m.uint(1, 0);
        m.string(2, "");
        assert!(m.into_bytes().is_empty(), "defaults are not written");
    }

    #[test]
    fn an_empty_string_attribute_keeps_its_type() {
        let mut m = Message::default();
        key_value(&mut m, 1, "k", &Value::from(""));
        // KeyValue { key "k", value AnyValue { string_value "" } }
        assert_eq!(
            m.into_bytes(),
            [0x0a, 0x07, 0x0a, 0x01, b'k', 0x12, 0x02, 0x0a, 0x00]
        );
    }
}
