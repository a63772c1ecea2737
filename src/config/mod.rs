//! The lab configuration: the `playground.yaml` file format, its parsing with line:col errors,
//! and the validated core types the rest of the crate works with.
//!
//! The flow of [`load`] / [`parse`]:
//! 1. serde-saphyr deserializes the text into the raw schema of `file.rs` (`deny_unknown_fields`,
//!    camelCase keys). YAML syntax errors, unknown keys, missing keys and wrong types come back
//!    from it with a line and column, and are turned into a [`ConfigError`] here, with a list of
//!    allowed keys and a "did you mean" for unknown ones;
//! 2. `file.rs` validates values (name, counts, ports, node filters, env, …). The raw schema
//!    wraps such values in `serde_saphyr::Spanned`, so these errors point at the offending
//!    value's own line and column too;
//! 3. the result is a [`Lab`] with every default filled in: nothing downstream re-checks it.
//!
//! Everything an error needs to be acted on is in its text: `file:line:col: message`, then a
//! `hint:` line saying what was expected.

pub(crate) mod duration;
mod error;
mod file;
mod filter;
pub(crate) mod k3d;
pub(crate) mod model;
pub(crate) mod overrides;
mod ports;
pub(crate) mod repo;

use std::path::Path;

use serde_saphyr::{Error as YamlError, MessageFormatter, UserMessageFormatter};

pub use crate::lab::{LabName, MAX_NAME_LEN, NAME_HINT, NameError};
pub use duration::parse_duration;
pub use error::ConfigError;
pub use file::{API_VERSION, KIND, SCHEMA_URL, json_schema};
pub use model::*;
pub(crate) use overrides::{OverrideError, Overrides};
pub(crate) use repo::RepoError;

use crate::diag::Located;
use error::closest;
use file::{SECTIONS, line_col};

/// Reads and validates the lab file at `path`.
pub(crate) fn load(path: &Path) -> Result<Lab, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates lab-file `text`; `origin` is the path named in errors and kept in
/// [`Lab::source`]. `${env:NAME}` values are read from this process's environment.
pub(crate) fn parse(text: &str, origin: &Path) -> Result<Lab, ConfigError> {
    parse_with_env(text, origin, &|name| std::env::var(name).ok())
}

/// [`parse`], with the host environment `${env:NAME}` values are read from given.
pub(crate) fn parse_with_env(
    text: &str,
    origin: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Lab, ConfigError> {
    // A file of nothing but comments is valid YAML (a null document); say what is missing
    // instead of serde's "invalid type: null".
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(ConfigError::Schema(Located {
            path: origin.to_path_buf(),
            line: 1,
            column: 1,
            message: "the lab file is empty".to_string(),
            hint: Some(format!(
                "a lab file starts with `apiVersion: {API_VERSION}`, `kind: {KIND}` and `metadata: {{ name: … }}`"
            )),
        }));
    }
    // Only `true`/`false` are booleans: YAML 1.1's `yes`/`no`/`on`/`off` surprise people.
    let options = serde_saphyr::options! { strict_booleans: true };
    let raw: file::RawFile = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| yaml_error(&e, text, origin))?;
    file::validate(raw, origin, env)
}

/// The lab used when there is no file: one server, no agents, nothing published but the API.
#[cfg(test)]
pub(crate) fn default_lab() -> Lab {
    Lab {
        name: LabName::default(),
        cluster: ClusterSpec {
            image: DEFAULT_K3S_IMAGE.to_string(),
            servers: 1,
            agents: 0,
            privileged: true,
            api: ApiEndpoint {
                host: ports::DEFAULT_HOST_IP,
                port: None,
            },
            ports: Vec::new(),
            k3s_args: Vec::new(),
            env: Vec::new(),
            image_cache: true,
            registry: None,
            mounts: Vec::new(),
            ca_certs: Vec::new(),
            proxy: None,
            registries: None,
        },
        argocd: ArgoCdSpec::default(),
        gitops: GitOpsSpec::default(),
        keep: KeepSpec::default(),
        source: None,
    }
}

/// Turns a serde-saphyr error into a [`ConfigError`] at the same place. Its own wording is
/// kept (through its user-facing formatter, without its location suffix and source snippet,
/// since we render the location ourselves) except for unknown and missing keys, where we can
/// say more.
fn yaml_error(err: &YamlError, text: &str, origin: &Path) -> ConfigError {
    let err = err.without_snippet();
    let (line, column) = err.location().map(line_col).unwrap_or((1, 1));
    let path = origin.to_path_buf();
    match err {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let section = expected
                .first()
                .and_then(|first| SECTIONS.iter().find(|(key, _)| key == first))
                .map_or("in this mapping", |(_, section)| section);
            let allowed = expected.join(", ");
            let hint = match closest(field, expected) {
                Some(near) => format!("did you mean `{near}`? allowed keys: {allowed}"),
                None => format!("allowed keys: {allowed}"),
            };
            ConfigError::Schema(Located {
                path,
                line,
                column,
                message: format!("unknown key `{field}` {section}"),
                hint: Some(hint),
            })
        }
        YamlError::SerdeMissingField { field, .. } => {
            let hint = match *field {
                "apiVersion" => Some(format!("add `apiVersion: {API_VERSION}`")),
                "kind" => Some(format!("add `kind: {KIND}`")),
                "metadata" => Some("add `metadata: { name: <lab name> }`".to_string()),
                _ => None,
            };
            ConfigError::Schema(Located {
                path,
                line,
                column,
                message: format!("missing required key `{field}`"),
                hint,
            })
        }
        YamlError::InvalidScalar { ty, location } => {
            let (expected, hint) = match *ty {
                "u16" => ("a number from 0 to 65535", None),
                "u32" | "u64" => ("a whole number", None),
                "bool" => ("true or false", None),
                other => (other, None::<&str>),
            };
            expected_error(path, line, column, expected, found(text, *location), hint)
        }
        YamlError::Unexpected { expected, location } => {
            let (expected, hint) = match *expected {
                "sequence start" => (
                    "a list",
                    Some("write `[a, b]`, or one `- item` per line below the key"),
                ),
                "mapping start" => ("a mapping (`key: value` lines)", None),
                "string scalar" | "scalar" => {
                    ("a single value", Some("quote it if it is meant as text"))
                }
                other => (other, None),
            };
            expected_error(path, line, column, expected, found(text, *location), hint)
        }
        YamlError::NullIntoString { .. } => ConfigError::Schema(Located {
            path,
            line,
            column,
            message: "missing value".to_string(),
            hint: Some("this key is required and needs a value after the `:`".to_string()),
        }),
        YamlError::SerdeInvalidType { .. }
        | YamlError::SerdeInvalidValue { .. }
        | YamlError::SerdeInvalidLength { .. }
        | YamlError::SerdeUnknownVariant { .. }
        | YamlError::InvalidBooleanStrict { .. } => ConfigError::Schema(Located {
            path,
            line,
            column,
            message: UserMessageFormatter.format_message(err).into_owned(),
            hint: None,
        }),
        _ => ConfigError::Syntax(Located {
            path,
            line,
            column,
            message: UserMessageFormatter.format_message(err).into_owned(),
            hint: None,
        }),
    }
}

/// What the node at `location` is, for "found …" in messages: `a list`, `a mapping`, or its
/// text in backquotes; `None` when that is not a short single line. serde-saphyr's span of a
/// flow collection covers only its opening bracket, hence the special cases.
fn found(text: &str, location: serde_saphyr::Location) -> Option<String> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let piece = text.get(start..start.checked_add(len)?)?.trim();
    match piece {
        "[" => Some("a list".to_string()),
        "{" => Some("a mapping".to_string()),
        _ if !piece.is_empty() && piece.len() <= 60 && !piece.contains('\n') => {
            Some(format!("`{piece}`"))
        }
        _ => None,
    }
}

/// "expected X, found Y" at a position, with an optional hint.
fn expected_error(
    path: std::path::PathBuf,
    line: u32,
    column: u32,
    expected: &str,
    found: Option<String>,
    hint: Option<&str>,
) -> ConfigError {
    let message = match found {
        Some(found) => format!("expected {expected}, found {found}"),
        None => format!("expected {expected}"),
    };
    ConfigError::Schema(Located {
        path,
        line,
        column,
        message,
        hint: hint.map(str::to_string),
    })
}

#[cfg(test)]
mod tests;

// A bad lab name is bad input, and says what a name must look like. (`LabName` lives in
// `lab`, below `diag`'s layer-mates' users; its diagnostics are said here.)
impl crate::diag::Hinted for NameError {
    fn hint(&self) -> Option<String> {
        Some(NAME_HINT.to_string())
    }
}

impl crate::diag::Classified for NameError {
    fn kind(&self) -> crate::diag::Kind {
        crate::diag::Kind::Usage
    }
}
