//! Command-line overrides of the lab file (`up --name/--servers/--agents/--image/--api-port`).
//! They live here, not in the CLI, because the state record keeps them too: `restore` must
//! rebuild the lab `up` made, flags included.

use serde::{Deserialize, Serialize};

use super::{Lab, LabName, MAX_AGENTS, MAX_SERVERS, NAME_HINT};

/// Values given on the command line that replace the file's. Each is checked as the file's
/// value would be.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) servers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agents: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api_port: Option<u16>,
}

/// A flag whose value the lab file would not accept either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {value}: {expected}")]
pub struct OverrideError {
    /// The flag, as typed: `--servers`.
    pub(crate) flag: &'static str,
    /// Its value, as shown back (a name is quoted).
    pub(crate) value: String,
    /// What it takes.
    pub(crate) expected: String,
}

impl Overrides {
    /// Whether no flag was given.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// Apply to `lab`; the error names the flag and the range it takes.
    pub(crate) fn apply(&self, lab: &mut Lab) -> Result<(), OverrideError> {
        let refuse = |flag, value: String, expected: String| {
            Err(OverrideError {
                flag,
                value,
                expected,
            })
        };
        if let Some(n) = &self.name {
            match LabName::parse(n) {
                Ok(name) => lab.name = name,
                Err(_) => return refuse("--name", format!("{n:?}"), NAME_HINT.to_string()),
            }
        }
        if let Some(s) = self.servers {
            if !(1..=MAX_SERVERS).contains(&s) {
                return refuse(
                    "--servers",
                    s.to_string(),
                    format!("expected 1 to {MAX_SERVERS}"),
                );
            }
            lab.cluster.servers = s;
        }
        if let Some(a) = self.agents {
            if a > MAX_AGENTS {
                return refuse(
                    "--agents",
                    a.to_string(),
                    format!("expected 0 to {MAX_AGENTS}"),
                );
            }
            lab.cluster.agents = a;
        }
        if let Some(i) = &self.image {
            lab.cluster.image = i.clone();
        }
        if let Some(p) = self.api_port {
            if p == 0 {
                return refuse("--api-port", "0".into(), "expected 1 to 65535".into());
            }
            lab.cluster.api.port = Some(p);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_each_flag_and_rejects_out_of_range_values() {
        let mut lab = super::super::default_lab();
        let o = Overrides {
            name: Some("demo".into()),
            servers: Some(3),
            agents: Some(2),
            image: Some("rancher/k3s:v1".into()),
            api_port: Some(6555),
        };
        o.apply(&mut lab).unwrap();
        assert_eq!(
            (lab.name.as_str(), lab.cluster.servers, lab.cluster.agents),
            ("demo", 3, 2)
        );
        assert_eq!(lab.cluster.image, "rancher/k3s:v1");
        assert_eq!(lab.cluster.api.port, Some(6555));
        let bad = Overrides {
            servers: Some(0),
            ..Default::default()
        };
        assert_eq!(
            bad.apply(&mut lab).unwrap_err().to_string(),
            format!("--servers 0: expected 1 to {MAX_SERVERS}")
        );
        let bad = Overrides {
            name: Some("Not_A_Label".into()),
            ..Default::default()
        };
        assert!(
            bad.apply(&mut lab)
                .unwrap_err()
                .to_string()
                .starts_with("--name \"Not_A_Label\"")
        );
        assert!(!o.is_empty() && Overrides::default().is_empty());
    }
}
