//! Secrets never reach a log line.
//!
//! With `-vv` our dependencies log what they send and receive: the Docker client logs every
//! request body and answer, so a node's `K3S_TOKEN` would be printed twice per node (the create
//! body, the inspect answer). Whatever a command learns is secret is [`register`]ed here the
//! moment it is known, and [`super::LogWriter`] masks every occurrence before a byte leaves.
//!
//! A secret rarely appears as itself. JSON writes `"` and `\` escaped, Docker's Go encoder also
//! writes `&<>` as `\u0026`-style escapes, and a JSON body inside a logged Debug string is
//! escaped twice; a multi-line value (a PEM key) is compared and printed line by line. So
//! [`register`] masks every one of these forms, and each line of a multi-line value on its own.

use std::sync::RwLock;

/// The mask that replaces a secret.
pub(crate) const MASK: &str = "***";

/// Values shorter than this are not masked: a 3-letter secret would mask half the log, and no
/// secret we handle is that short (tokens are 32 characters).
const MIN_LEN: usize = 6;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Mask `secret` in every log line from now on, in each of its [`encodings`], and (when it has
/// several lines) each of its lines too: a diff or a log shows one line of a PEM key at a time.
pub(crate) fn register(secret: &str) {
    let mut forms = encodings(secret);
    if secret.contains('\n') {
        for line in secret.lines() {
            forms.extend(encodings(line.trim()));
        }
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    let mut added = false;
    for form in forms {
        if form.len() >= MIN_LEN && !all.contains(&form) {
            all.push(form);
            added = true;
        }
    }
    if added {
        // Longest first, so a secret that contains another is masked whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// The forms `secret` takes in what we log and archive: itself; inside a JSON string (`\"`,
/// `\\`, `\n`); as Go's `encoding/json` writes it (the Docker daemon's answers), which also
/// escapes `&`, `<` and `>`; and each of those JSON forms escaped once more, as a JSON body
/// shows inside a Debug-printed string (the Docker client's `-vv` request log).
fn encodings(secret: &str) -> Vec<String> {
    let json = json_escape(secret);
    let go = json
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let mut forms = vec![secret.to_string()];
    for form in [json_escape(&json), json_escape(&go), json, go] {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// `text` as it stands between the quotes of a JSON string.
fn json_escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(text)
        .to_string()
}

/// Whether an environment variable of this name holds a secret, by the names people give them.
pub(crate) fn is_secret_name(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    [
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "CREDENTIAL",
        "PRIVATE",
        "APIKEY",
        "API_KEY",
    ]
    .iter()
    .any(|w| key.contains(w))
        || key.ends_with("_KEY")
}

/// `text` with every registered secret, and the value of every `NAME=value` whose name holds a
/// secret ([`is_secret_name`]), replaced by [`MASK`]. The second catches a secret before any
/// code of ours has seen it: the client logs the inspect answer that brings an existing node's
/// token before it returns it to us.
pub(crate) fn mask(text: &str) -> std::borrow::Cow<'_, str> {
    let assigned = mask_assignments(text);
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| assigned.contains(s.as_str())) {
        return assigned;
    }
    let mut out = assigned.into_owned();
    for s in all.iter() {
        out = out.replace(s.as_str(), MASK);
    }
    std::borrow::Cow::Owned(out)
}

/// Mask the values of `NAME=value` assignments whose name holds a secret, as they appear in
/// Docker's JSON (`"Env":["K3S_TOKEN=…"]`, also escaped inside another string) and in argv.
fn mask_assignments(text: &str) -> std::borrow::Cow<'_, str> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ends_value = |b: u8| {
        matches!(
            b,
            b'"' | b'\\' | b'\'' | b',' | b']' | b'}' | b' ' | b'\n' | b'\t'
        )
    };
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let mut start = i;
            while start > 0 && is_name(bytes[start - 1]) {
                start -= 1;
            }
            if start < i && is_secret_name(&text[start..i]) {
                let mut end = i + 1;
                while end < bytes.len() && !ends_value(bytes[end]) {
                    end += 1;
                }
                if end > i + 1 {
                    let o = out.get_or_insert_with(String::new);
                    o.push_str(&text[copied..=i]);
                    o.push_str(MASK);
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_longest_first() {
        register("tok3n-abcdef");
        register("tok3n-abcdef-and-more");
        register("abc"); // too short to mask
        let line = r#"{"Env":["K3S_TOKEN=tok3n-abcdef-and-more","X=tok3n-abcdef"]} abc"#;
        assert_eq!(mask(line), r#"{"Env":["K3S_TOKEN=***","X=***"]} abc"#);
        assert!(matches!(
            mask("nothing here"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn secret_assignments_are_masked_before_anyone_registered_them() {
        let answer = r#"{"Config":{"Env":["K3S_TOKEN=aB3dE5fG7h","K3S_URL=https://s:6443","GIT_PASSWORD=p4ss,w"]}}"#;
        assert_eq!(
            mask(answer),
            r#"{"Config":{"Env":["K3S_TOKEN=***","K3S_URL=https://s:6443","GIT_PASSWORD=***,w"]}}"#
        );
        let escaped = r#"data: Some(b"{\"Env\":[\"K3S_TOKEN=aB3dE5fG7h\"]}")"#;
        assert_eq!(
            mask(escaped),
            r#"data: Some(b"{\"Env\":[\"K3S_TOKEN=***\"]}")"#
        );
        assert!(matches!(mask("a == b, x=1"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn secrets_are_masked_in_every_encoding_and_line_by_line() {
        let secret = r#"pa"ss\w&<rd>-x"#;
        register(secret);
        let json =
            serde_json::to_string(&serde_json::json!({ "Env": [format!("G={secret}")] })).unwrap();
        assert_eq!(mask(&json), r#"{"Env":["G=***"]}"#);
        let go = r#"{"Env":["G=pa\"ss\\w\u0026\u003crd\u003e-x"]}"#;
        assert_eq!(mask(go), r#"{"Env":["G=***"]}"#);
        // A JSON body inside a Debug-printed string: escaped twice.
        let debug = format!("body: {:?}", json);
        assert_eq!(mask(&debug), r#"body: "{\"Env\":[\"G=***\"]}""#);
        let debug_go = format!("body: {:?}", go);
        assert_eq!(mask(&debug_go), r#"body: "{\"Env\":[\"G=***\"]}""#);

        let pem = "-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ\nQC7VJTUt9Us8cKjMzEfYyjiWA4\n-----END TEST KEY-----\n";
        register(pem);
        assert_eq!(mask("…QC7VJTUt9Us8cKjMzEfYyjiWA4…"), "…***…");
        assert_eq!(
            mask(&serde_json::to_string(pem).unwrap()),
            r#""***""#,
            "whole, as JSON"
        );
        // A line alone, as JSON shows it when the value is split differently.
        assert_eq!(mask("\"MIIEvQIBADANBgkqhkiG9w0BAQ\\nX\""), "\"***\\nX\"");
    }

    #[test]
    fn secret_names() {
        for k in [
            "K3S_TOKEN",
            "GIT_PASSWORD",
            "aws_secret_access_key",
            "SSH_KEY",
            "ApiKey",
        ] {
            assert!(is_secret_name(k), "{k}");
        }
        for k in ["K3S_URL", "HTTP_PROXY", "KEYBOARD"] {
            assert!(!is_secret_name(k), "{k}");
        }
    }
}
