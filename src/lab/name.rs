//! [`LabName`]: a lab's name, checked once. It names every Docker object of the lab, its kube
//! context and its folder in the data dir, so one rule holds everywhere: a DNS-1123 label of
//! at most [`MAX_NAME_LEN`] characters, starting with a letter (Docker and k3s node names are
//! built from it, and a leading digit is refused by some of them).

use std::fmt;
use std::ops::Deref;

/// Longest lab name: it prefixes every Docker object (`<name>-server-0`, `<name>-net`, …),
/// and those end up in hostnames, which are limited to 63 characters.
pub const MAX_NAME_LEN: usize = 32;

/// The lab name used when no file names one.
pub const DEFAULT_LAB_NAME: &str = "playground";

/// What a lab name must look like, for hints.
pub const NAME_HINT: &str = "expected a DNS-1123 label: lowercase letters, digits and '-', \
    starting with a letter, not ending with '-', at most 32 characters (not 63: the name goes \
    into every node's host name, such as `playground-<name>-server-0`, which must fit in 63)";

/// A valid lab name (see the module docs).
///
/// It reads from YAML or JSON through [`LabName::parse`] (`try_from = "String"`), so a record
/// or label that names no valid lab fails where it is read, not where its name is used.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct LabName(String);

/// A string that is not a lab name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lab name `{0}`")]
pub struct NameError(pub String);

impl LabName {
    pub(crate) fn parse(name: &str) -> Result<LabName, NameError> {
        let bytes = name.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= MAX_NAME_LEN
            && bytes[0].is_ascii_lowercase()
            && !name.ends_with('-')
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if valid {
            Ok(LabName(name.to_string()))
        } else {
            Err(NameError(name.to_string()))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LabName {
    type Error = NameError;
    fn try_from(name: String) -> Result<LabName, NameError> {
        LabName::parse(&name)
    }
}

/// [`DEFAULT_LAB_NAME`], the name of a lab whose file names none.
impl Default for LabName {
    fn default() -> Self {
        LabName(DEFAULT_LAB_NAME.to_string())
    }
}

impl Deref for LabName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for LabName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for LabName {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_ref()
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<LabName> for String {
    fn from(name: LabName) -> String {
        name.0
    }
}

impl PartialEq<str> for LabName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for LabName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for LabName {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<LabName> for String {
    fn eq(&self, other: &LabName) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_a_lab_name() {
        assert_eq!(LabName::parse(DEFAULT_LAB_NAME), Ok(LabName::default()));
        for good in ["a", "lab", "lab-2", "a1b2", &"a".repeat(MAX_NAME_LEN)] {
            assert_eq!(LabName::parse(good).unwrap(), *good);
        }
        for bad in [
            "",
            "1lab",
            "-lab",
            "lab-",
            "Lab",
            "my_lab",
            "lab.x",
            &"a".repeat(MAX_NAME_LEN + 1),
        ] {
            let e = LabName::parse(bad).unwrap_err();
            assert!(
                crate::diag::Report(&e).to_string().contains(NAME_HINT),
                "{bad}: {e}"
            );
        }
    }
}
