//! Label and field selectors for list and watch.
//!
//! Labels: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k`.
//! Fields: `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`, the only
//! fields the real server supports for every kind; and a pod's `spec.nodeName` (kubernetes
//! `pkg/registry/core/pod/strategy.go`, `PodToSelectableFields`), which `kubectl drain` and
//! `playground up` list a node's pods by. [`Selector::check_kind`] refuses it on other kinds.

use serde_json::Value;

use super::status::ApiError;

#[derive(Debug, Clone)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, Default)]
pub struct Selector {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

/// Split on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn set_values(s: &str) -> Result<Vec<String>, ApiError> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: found '{s}', expected: '('"
            ))
        })?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn parse_term(t: &str, allow_sets: bool) -> Result<Req, ApiError> {
    if let Some(k) = t.strip_prefix('!') {
        return Ok(Req::NotExists(k.trim().into()));
    }
    if let Some((k, v)) = t.split_once("!=") {
        return Ok(Req::NotEq(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = t.split_once("==") {
        return Ok(Req::Eq(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = t.split_once('=') {
        return Ok(Req::Eq(k.trim().into(), v.trim().into()));
    }
    if allow_sets {
        if let Some((k, v)) = t.split_once(" notin ") {
            return Ok(Req::NotIn(k.trim().into(), set_values(v)?));
        }
        if let Some((k, v)) = t.split_once(" in ") {
            return Ok(Req::In(k.trim().into(), set_values(v)?));
        }
        if !t.contains(' ') {
            return Ok(Req::Exists(t.into()));
        }
    }
    Err(ApiError::bad_request(format!(
        "unable to parse requirement: {t:?}"
    )))
}

fn matches(req: &Req, get: impl Fn(&str) -> Option<String>) -> bool {
    match req {
        Req::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
        Req::NotEq(k, v) => get(k).as_deref() != Some(v.as_str()),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    }
}

/// The one kind-specific field the double selects on: a pod's node.
const NODE_NAME: &str = "spec.nodeName";

impl Selector {
    /// Refuse a field only pods have on another kind, as the real server does.
    pub fn check_kind(&self, plural: &str) -> Result<(), ApiError> {
        let node_name = self
            .fields
            .iter()
            .any(|f| matches!(f, Req::Eq(k, _) | Req::NotEq(k, _) if k == NODE_NAME));
        if node_name && plural != "pods" {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {NODE_NAME}"
            )));
        }
        Ok(())
    }

    pub fn parse(label: Option<&str>, field: Option<&str>) -> Result<Self, ApiError> {
        let labels = split_terms(label.unwrap_or(""))
            .iter()
            .map(|t| parse_term(t, true))
            .collect::<Result<_, _>>()?;
        let fields: Vec<Req> = split_terms(field.unwrap_or(""))
            .iter()
            .map(|t| parse_term(t, false))
            .collect::<Result<_, _>>()?;
        for f in &fields {
            let (Req::Eq(k, _) | Req::NotEq(k, _)) = f else {
                unreachable!("fields only parse (in)equalities")
            };
            if !matches!(
                k.as_str(),
                "metadata.name" | "metadata.namespace" | NODE_NAME
            ) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
        }
        Ok(Self { labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.labels.iter().all(|r| {
            matches(r, |k| {
                labels.get(k).and_then(Value::as_str).map(String::from)
            })
        }) && self.fields.iter().all(|r| {
            matches(r, |k| {
                // An unset field selects as "" (as `fields.Set` does upstream).
                let value = k.split('.').fold(obj, |v, part| &v[part]);
                Some(value.as_str().unwrap_or("").to_string())
            })
        })
    }
}
