//! A YAML document tree that remembers where every node is, for [`super`]'s checks.
//!
//! Manifests are open-ended (any Kubernetes kind, any fields), so instead of a typed schema
//! this builds a small value tree straight from the parser's events (the parser serde-saphyr
//! itself uses, re-exported by it: no new dependency) and keeps each node's line and column.
//! Scalars are resolved with the YAML 1.2 core schema, as Kubernetes does, so `6.7` is a
//! number while `6.7.1` is a string.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle, ScanError};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl Pos {
    fn from_marker(m: &Marker) -> Pos {
        // granit's lines are 1-based, its columns 0-based.
        Pos {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX).max(1),
            column: u32::try_from(m.col()).unwrap_or(u32::MAX).saturating_add(1),
        }
    }
}

/// One node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) pos: Pos,
}

/// A node's content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    List(Vec<Node>),
    /// Keys in document order, each with the key's own node (for its position).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value at `key` when this is a mapping with a string key `key`, with the key's node.
    pub(crate) fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The value at `key` (see [`Node::entry`]).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The node as JSON, as the API server would read it: map keys as strings (a later
    /// duplicate replaces an earlier one), numbers as JSON numbers when they are ones.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => serde_json::from_str::<serde_json::Number>(n)
                .map(J::Number)
                .unwrap_or_else(|_| J::String(n.clone())),
            Value::String(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match &k.value {
                            Value::String(s) | Value::Number(s) => s.clone(),
                            Value::Bool(b) => b.to_string(),
                            _ => String::new(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// What this node is, for "expected …, found …" messages.
    pub(crate) fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing (null)".to_string(),
            Value::Bool(b) => format!("`{b}` (true/false)"),
            Value::Number(n) => format!("the number `{n}`"),
            Value::String(s) if s.chars().count() <= 40 && !s.contains('\n') => {
                format!("the string `{s}`")
            }
            Value::String(_) => "a string".to_string(),
            Value::List(_) => "a list".to_string(),
            Value::Map(_) => "a mapping".to_string(),
        }
    }
}

/// A YAML problem in a file: a syntax error or a duplicate key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlProblem {
    pub(crate) pos: Pos,
    pub(crate) message: String,
    /// A key given twice in one mapping (the text parses; what a reader does with it is the
    /// reader's rule), as opposed to a syntax error.
    pub(crate) duplicate: bool,
}

/// Parses every document in `text`. Empty documents come back as [`Value::Null`] nodes.
/// After a syntax error the rest of that document is skipped and parsing resumes at the next
/// `---`, so one file can report several problems.
pub(crate) fn parse_documents(text: &str) -> (Vec<Node>, Vec<YamlProblem>) {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    let mut builder = Builder::default();
    loop {
        match parser.next_event() {
            None => break,
            Some(Ok((event, span))) => {
                if let Some(doc) =
                    builder.event(event, Pos::from_marker(&span.start), &mut problems)
                {
                    docs.push(doc);
                }
            }
            Some(Err(err)) => {
                problems.push(syntax_problem(&err));
                builder = Builder::default();
                match parser.proceed_next_document() {
                    Ok(true) => continue,
                    _ => break,
                }
            }
        }
    }
    (docs, problems)
}

fn syntax_problem(err: &ScanError) -> YamlProblem {
    let info = err.info();
    YamlProblem {
        pos: Pos::from_marker(err.marker()),
        message: if info.is_empty() {
            "invalid YAML".to_string()
        } else {
            format!("invalid YAML: {info}")
        },
        duplicate: false,
    }
}

/// Turns the event stream into trees, one per document.
#[derive(Default)]
struct Builder {
    /// Open collections: a list, or a mapping with the key waiting for its value.
    stack: Vec<Open>,
    /// Anchored nodes by id, for aliases.
    anchors: HashMap<usize, Node>,
}

enum Open {
    List {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

impl Builder {
    /// Feeds one event; returns a document when one is complete.
    fn event(
        &mut self,
        event: Event<'_>,
        pos: Pos,
        problems: &mut Vec<YamlProblem>,
    ) -> Option<Node> {
        let node = match event {
            Event::DocumentStart(..) => {
                self.stack.clear();
                return None;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let forced_string = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let value = if quoted || forced_string {
                    Value::String(text.into_owned())
                } else {
                    resolve_plain(&text)
                };
                let node = Node { value, pos };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => Node {
                    value: node.value.clone(),
                    pos,
                },
                None => Node {
                    value: Value::Null,
                    pos,
                },
            },
            Event::SequenceStart(_, anchor, _) => {
                self.stack.push(Open::List {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                return None;
            }
            Event::MappingStart(_, anchor, _) => {
                self.stack.push(Open::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                return None;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop()? {
                    Open::List { pos, anchor, items } => (
                        Node {
                            value: Value::List(items),
                            pos,
                        },
                        anchor,
                    ),
                    Open::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    } => (
                        Node {
                            value: Value::Map(entries),
                            pos,
                        },
                        anchor,
                    ),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                node
            }
            _ => return None,
        };
        self.add(node, problems)
    }

    /// Puts a finished node into the open collection, or returns it as a whole document.
    fn add(&mut self, node: Node, problems: &mut Vec<YamlProblem>) -> Option<Node> {
        match self.stack.last_mut() {
            None => Some(node),
            Some(Open::List { items, .. }) => {
                items.push(node);
                None
            }
            Some(Open::Map { entries, key, .. }) => {
                match key.take() {
                    None => *key = Some(node),
                    Some(k) => {
                        // Kubernetes' YAML decoding rejects duplicate keys; so does Argo CD.
                        if let Some(name) = k.as_str()
                            && let Some((first, _)) =
                                entries.iter().find(|(e, _)| e.as_str() == Some(name))
                        {
                            problems.push(YamlProblem {
                                pos: k.pos,
                                message: format!(
                                    "duplicate key `{name}` (first at line {})",
                                    first.pos.line
                                ),
                                duplicate: true,
                            });
                        }
                        entries.push((k, node));
                    }
                }
                None
            }
        }
    }
}

/// The YAML 1.2 core schema's reading of a plain scalar.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ if is_number(text) => Value::Number(text.to_string()),
        _ => Value::String(text.to_string()),
    }
}

fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if let Some(hex) = digits.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = digits.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| c.is_digit(8));
    }
    if matches!(digits, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // [0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)? with at least one digit before the exponent.
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(i) => (&digits[..i], Some(&digits[i + 1..])),
        None => (digits, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok =
        all_digits(whole) && all_digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let (mut docs, problems) = parse_documents(text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let doc = one("a: 1\nb:\n  c: [x, \"y\"]\n  d: ~\n");
        let (key, value) = doc.entry("a").unwrap();
        assert_eq!(key.pos, Pos { line: 1, column: 1 });
        assert_eq!(value.pos, Pos { line: 1, column: 4 });
        assert_eq!(value.value, Value::Number("1".into()));
        let c = doc.get("b").unwrap().get("c").unwrap();
        let Value::List(items) = &c.value else {
            panic!("{c:?}")
        };
        assert_eq!(
            items[1].pos,
            Pos {
                line: 3,
                column: 10
            }
        );
        assert_eq!(items[1].as_str(), Some("y"));
        assert!(doc.get("b").unwrap().get("d").unwrap().is_null());
    }

    #[test]
    fn resolves_scalars_like_kubernetes() {
        let doc = one(
            "a: 6.7.1\nb: 6.7\nc: \"6.7\"\nd: yes\ne: true\nf: 1e3\ng: !!str 12\nh: 0x1F\ni: .5\nj: a-b\n",
        );
        let v = |k| doc.get(k).unwrap().value.clone();
        assert_eq!(v("a"), Value::String("6.7.1".into()));
        assert_eq!(v("b"), Value::Number("6.7".into()));
        assert_eq!(v("c"), Value::String("6.7".into()));
        assert_eq!(v("d"), Value::String("yes".into()));
        assert_eq!(v("e"), Value::Bool(true));
        assert_eq!(v("f"), Value::Number("1e3".into()));
        assert_eq!(v("g"), Value::String("12".into()));
        assert_eq!(v("h"), Value::Number("0x1F".into()));
        assert_eq!(v("i"), Value::Number(".5".into()));
        assert_eq!(v("j"), Value::String("a-b".into()));
    }

    #[test]
    fn reads_every_document_and_resolves_aliases() {
        let (docs, problems) = parse_documents("a: &x {k: v}\nb: *x\n---\n---\nc: 1\n");
        assert!(problems.is_empty());
        assert_eq!(docs.len(), 3);
        assert_eq!(
            docs[0].get("b").unwrap().get("k").unwrap().as_str(),
            Some("v")
        );
        assert!(docs[1].is_null());
        assert_eq!(docs[2].pos.line, 5);
    }

    #[test]
    fn reports_syntax_errors_and_duplicate_keys_and_goes_on() {
        let (docs, problems) = parse_documents("a: [1, 2\n---\nb: 1\nb: 2\n---\nc: \"x\n");
        assert_eq!(docs.len(), 1, "{docs:?}");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].message.starts_with("invalid YAML"),
            "{problems:?}"
        );
        assert_eq!(problems[1].pos, Pos { line: 4, column: 1 });
        assert_eq!(problems[1].message, "duplicate key `b` (first at line 3)");
        assert_eq!(problems[2].pos.line, 6);
    }
}
