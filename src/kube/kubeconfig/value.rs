//! A generic YAML value that keeps mapping order and non-string keys.
//!
//! `serde_json::Value` would do for most kubeconfigs, but without serde_json's
//! `preserve_order` feature it sorts every mapping (the user's file would come
//! back reshuffled), and it cannot hold a non-string key or a non-finite float.
//! This type holds everything `serde-saphyr`'s `deserialize_any` reports, in
//! document order, so an edit touches only what it means to touch.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// Why a kubeconfig could not be read or rendered as YAML. Never carries serde-saphyr's
/// source snippet: a kubeconfig's text holds client keys and tokens, which the snippet would
/// quote into an error message.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    // Boxed here and below: serde-saphyr's errors are large, and these travel in every Result.
    #[error("{0}")]
    Parse(#[source] Box<serde_saphyr::Error>),
    #[error("the file is not UTF-8 text")]
    // `Utf8Error`, not `FromUtf8Error`: that one keeps the file's bytes, keys and all.
    NotUtf8(#[source] std::str::Utf8Error),
    #[error("{0}")]
    Serialize(#[source] Box<serde_saphyr::SerializeError>),
    #[error("the rendered YAML does not parse: {0}")]
    ReadBack(#[source] Box<serde_saphyr::Error>),
    #[error("the rendered YAML does not read back as the same document")]
    NotSame,
}

impl YamlError {
    /// A parse error, its snippet dropped.
    pub(crate) fn parse(e: serde_saphyr::Error) -> Self {
        YamlError::Parse(Box::new(without_snippet(e)))
    }

    /// A parse error of YAML we rendered ourselves, its snippet dropped.
    pub(crate) fn read_back(e: serde_saphyr::Error) -> Self {
        YamlError::ReadBack(Box::new(without_snippet(e)))
    }
}

/// The error itself, without the cropped input text it carries for rendering.
fn without_snippet(e: serde_saphyr::Error) -> serde_saphyr::Error {
    match e {
        serde_saphyr::Error::WithSnippet { error, .. } => without_snippet(*error),
        other => other,
    }
}

/// One YAML node, after alias expansion and tag resolution.
#[derive(Debug, Clone)]
pub(crate) enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    String(String),
    Seq(Vec<Yaml>),
    /// Entries in document order; YAML allows any node as a key.
    Map(Vec<(Yaml, Yaml)>),
}

impl Yaml {
    /// The value under the string key `key`, if this is a mapping that has one.
    pub(crate) fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Mutable access to the value under `key`, if this is a mapping that has one.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Yaml> {
        match self {
            Yaml::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Set `key` to `value` in a mapping: in place if present (its position
    /// kept), appended otherwise. Does nothing on a non-mapping.
    pub(crate) fn set(&mut self, key: &str, value: Yaml) {
        if let Some(slot) = self.get_mut(key) {
            *slot = value;
        } else if let Yaml::Map(entries) = self {
            entries.push((Yaml::String(key.to_owned()), value));
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::String(s) => Some(s),
            _ => None,
        }
    }

    /// Convert any serializable value (such as kube's typed kubeconfig
    /// structs) by rendering it as YAML and reading it back, which keeps the
    /// struct's field order.
    pub(crate) fn from_serialize<T: Serialize>(value: &T) -> Result<Yaml, YamlError> {
        let text = serde_saphyr::to_string(value).map_err(|e| YamlError::Serialize(Box::new(e)))?;
        serde_saphyr::from_str(&text).map_err(YamlError::read_back)
    }
}

/// Structural equality, except that integers compare by value and NaN equals NaN: a document holding `.nan`
/// must compare equal to itself after a round trip.
impl PartialEq for Yaml {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Yaml::Null, Yaml::Null) => true,
            (Yaml::Bool(a), Yaml::Bool(b)) => a == b,
            (Yaml::Int(a), Yaml::Int(b)) => a == b,
            (Yaml::UInt(a), Yaml::UInt(b)) => a == b,
            // The same number, however the parser chose to report it.
            (Yaml::Int(i), Yaml::UInt(u)) | (Yaml::UInt(u), Yaml::Int(i)) => {
                u64::try_from(*i) == Ok(*u)
            }
            (Yaml::Float(a), Yaml::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Yaml::String(a), Yaml::String(b)) => a == b,
            (Yaml::Seq(a), Yaml::Seq(b)) => a == b,
            (Yaml::Map(a), Yaml::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for Yaml {
    fn from(s: &str) -> Self {
        Yaml::String(s.to_owned())
    }
}

impl Serialize for Yaml {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Yaml::Null => serializer.serialize_unit(),
            Yaml::Bool(b) => serializer.serialize_bool(*b),
            Yaml::Int(i) => serializer.serialize_i64(*i),
            Yaml::UInt(u) => serializer.serialize_u64(*u),
            Yaml::Float(f) => serializer.serialize_f64(*f),
            Yaml::String(s) => serializer.serialize_str(s),
            Yaml::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Yaml::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Yaml, E> {
        Ok(Yaml::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Yaml, E> {
        // Refuse rather than round: a changed number would break our promise.
        i64::try_from(v)
            .map(Yaml::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large to keep exactly")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Yaml, E> {
        u64::try_from(v)
            .map(Yaml::UInt)
            .map_err(|_| E::custom(format!("integer {v} is too large to keep exactly")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::String(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Yaml, E> {
        // `!!binary` would come back as a plain string: refuse instead.
        Err(E::custom("binary (!!binary) values are not supported"))
    }
    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Yaml::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Yaml::Map(entries))
    }
}
