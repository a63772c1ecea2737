//! Just enough Kubernetes protobuf to read the request bodies kubectl's typed commands
//! send (`kubectl create namespace|configmap|secret|serviceaccount`).
//!
//! kubectl encodes built-in kinds as `application/vnd.kubernetes.protobuf` and does not
//! fall back to JSON on 415, so the double decodes the `k8s\0` envelope
//! (`runtime.Unknown`: TypeMeta + raw object) and, for a few kinds, the object message
//! (field numbers from `k8s.io/api/core/v1/generated.proto`). Responses are always JSON,
//! which clients accept because they also list `application/json` in Accept.

use base64::Engine;
use serde_json::{Map, Value, json};

/// One decoded field: number and payload.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn fields(b: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i)?;
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((num, Field::Varint(varint(b, &mut i)?))),
            2 => {
                let len = usize::try_from(varint(b, &mut i)?).ok()?;
                let end = i.checked_add(len).filter(|e| *e <= b.len())?;
                out.push((num, Field::Bytes(&b[i..end])));
                i = end;
            }
            1 => i += 8,
            5 => i += 4,
            _ => return None,
        }
    }
    Some(out)
}

fn string(b: &[u8]) -> Value {
    json!(String::from_utf8_lossy(b))
}

/// A `map<string, string|bytes>` entry message (1: key, 2: value).
fn map_entry(b: &[u8], bytes_value: bool) -> Option<(String, Value)> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(b)? {
        if let Field::Bytes(x) = f {
            match n {
                1 => k = String::from_utf8_lossy(x).into_owned(),
                2 if bytes_value => v = json!(base64::engine::general_purpose::STANDARD.encode(x)),
                2 => v = string(x),
                _ => {}
            }
        }
    }
    Some((k, v))
}

fn object_meta(b: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => drop(m.insert("name".into(), string(x))),
            (2, Field::Bytes(x)) => drop(m.insert("generateName".into(), string(x))),
            (3, Field::Bytes(x)) => drop(m.insert("namespace".into(), string(x))),
            (6, Field::Bytes(x)) => drop(m.insert("resourceVersion".into(), string(x))),
            (11 | 12, Field::Bytes(x)) => {
                let key = if n == 11 { "labels" } else { "annotations" };
                let (k, v) = map_entry(x, false)?;
                m.entry(key).or_insert_with(|| json!({}))[k] = v;
            }
            (14, Field::Bytes(x)) => m
                .entry("finalizers")
                .or_insert_with(|| json!([]))
                .as_array_mut()?
                .push(string(x)),
            _ => {}
        }
    }
    Some(Value::Object(m))
}

/// Decode a protobuf request body into the JSON object it stands for, or None for an
/// unsupported kind or malformed input.
pub fn decode(body: &[u8]) -> Option<Value> {
    let envelope = body.strip_prefix(b"k8s\0")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(envelope)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (tn, tf) in fields(tm)? {
                    if let Field::Bytes(x) = tf {
                        match tn {
                            1 => api_version = String::from_utf8_lossy(x).into_owned(),
                            2 => kind = String::from_utf8_lossy(x).into_owned(),
                            _ => {}
                        }
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    for (n, f) in fields(raw)? {
        match (kind.as_str(), n, f) {
            (_, 1, Field::Bytes(x)) => obj["metadata"] = object_meta(x)?,
            ("Namespace", 2, Field::Bytes(x)) => {
                for (sn, sf) in fields(x)? {
                    if let (1, Field::Bytes(s)) = (sn, sf) {
                        obj["spec"]["finalizers"] = json!([]);
                        obj["spec"]["finalizers"].as_array_mut()?.push(string(s));
                    }
                }
            }
            ("ConfigMap", 2 | 3, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, n == 3)?;
                let key = if n == 2 { "data" } else { "binaryData" };
                obj.as_object_mut()?.entry(key).or_insert_with(|| json!({}))[k] = v;
            }
            ("Secret", 2 | 4, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, n == 2)?;
                let key = if n == 2 { "data" } else { "stringData" };
                obj.as_object_mut()?.entry(key).or_insert_with(|| json!({}))[k] = v;
            }
            ("Secret", 3, Field::Bytes(x)) => obj["type"] = string(x),
            ("ConfigMap", 4, Field::Varint(v)) | ("Secret", 5, Field::Varint(v)) => {
                obj["immutable"] = json!(v != 0)
            }
            ("ServiceAccount", 4, Field::Varint(v)) => {
                obj["automountServiceAccountToken"] = json!(v != 0)
            }
            ("Namespace" | "ConfigMap" | "Secret" | "ServiceAccount", _, _) => {}
            _ => return None,
        }
    }
    Some(obj)
}
