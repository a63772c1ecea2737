//! Cross-checks: each Application against the AppProject defined next to it (its repositories
//! and destination must be allowed). A project defined elsewhere is only a warning.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Validator, at};
use crate::gitops::yaml::Pos;

impl Validator {
    /// Applications against the projects defined next to them.
    pub(super) fn cross_check(&mut self) {
        let mut seen: BTreeMap<String, (PathBuf, u32)> = BTreeMap::new();
        let apps = std::mem::take(&mut self.apps);
        for (app, needs) in &apps {
            if !app.name.is_empty() {
                if let Some((first_file, first_line)) = seen.get(&app.name) {
                    self.error(
                        &app.file,
                        Pos {
                            line: app.line,
                            column: 1,
                        },
                        format!(
                            "a second Application named `{}` (the first is at {}:{first_line})",
                            app.name,
                            first_file.display()
                        ),
                        Some("Application names are unique in the Argo CD namespace; rename one"),
                    );
                } else {
                    seen.insert(app.name.clone(), (app.file.clone(), app.line));
                }
            }
            if app.project.is_empty() || app.project == "default" {
                continue;
            }
            let Some(project) = self.projects.get(&app.project) else {
                self.warnings.push(at(
                    &needs.file,
                    needs.project_pos,
                    format!("no AppProject `{}` is defined under gitops.path", app.project),
                    Some("Argo CD will not sync the app until that project exists; use `default` or define it"),
                ));
                continue;
            };
            let mut problems = Vec::new();
            for (repo, pos) in &needs.repos {
                if !project.source_repos.iter().any(|p| glob(p, repo)) {
                    problems.push(at(
                        &needs.file,
                        *pos,
                        format!(
                            "repository `{repo}` is not allowed by AppProject `{}`",
                            app.project
                        ),
                        Some("add it to the project's `spec.sourceRepos`"),
                    ));
                }
            }
            if let Some((target, ns, pos)) = &needs.destination
                && !project
                    .destinations
                    .iter()
                    .any(|(t, n)| glob(t, target) && glob(n, ns))
            {
                problems.push(at(
                    &needs.file,
                    *pos,
                    format!(
                        "destination `{target}`, namespace `{ns}` is not allowed by AppProject `{}`",
                        app.project
                    ),
                    Some("add it to the project's `spec.destinations`"),
                ));
            }
            self.errors.extend(problems);
        }
        self.apps = apps;
    }
}

/// Argo CD's project patterns: `*` matches anything (including `/`), the rest literally.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}
