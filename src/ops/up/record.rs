//! The use-case half of `up` (and `restore`), so far: the lab's record, written once the
//! cluster exists and again once GitOps is deployed, and what it says was installed of Argo CD.

use crate::argocd::bootstrap::Prepared;
use crate::argocd::seed;
use crate::config::LabName;
use crate::source::LabSource;
use crate::state::record;
use crate::ui::Ui;

/// What the lab's record says playground installed of Argo CD, and its version. A record from
/// before playground recorded it gives the version its lab file named, when the lab was
/// bootstrapped (it has a deployed commit). None for a dropped lab: its Argo CD went with it.
pub(crate) fn recorded_argocd(name: &LabName) -> (Option<record::ArgoCdRecord>, Option<String>) {
    let Some(rec) = record::read(name)
        .ok()
        .flatten()
        .filter(|r| r.times.dropped.is_none())
    else {
        return (None, None);
    };
    let version = match &rec.argocd {
        Some(a) => Some(a.version.clone()),
        None if rec.git.deployed.is_some() => rec.lab().ok().map(|l| l.argocd.version),
        None => None,
    };
    (rec.argocd, version)
}

/// Write the lab's state record; a failure is a warning (the lab itself is fine, only
/// `restore` would miss it). Returns whether it was written.
pub(crate) fn write_record(
    ui: &Ui,
    source: &LabSource,
    prepared: Option<&Prepared>,
    deployed: Option<String>,
) -> bool {
    let lab = &source.lab;
    let git = match prepared {
        Some(p) => record::GitRecord {
            repo: match &p.repo {
                seed::RepoSource::Local { root } => root.display().to_string(),
                seed::RepoSource::Remote { url, .. } => url.clone(),
            },
            path: p.path.clone(),
            revision: p.revision.clone(),
            deployed,
        },
        None => record::GitRecord {
            repo: match lab.gitops.repo.local_dir() {
                Some(dir) => dir.display().to_string(),
                None => lab.gitops.repo.to_string(),
            },
            path: lab.gitops.path.clone(),
            revision: lab.gitops.revision.clone(),
            deployed,
        },
    };
    let result = record::read_or_set_aside(&lab.name).and_then(|(previous, aside)| {
        if let Some(aside) = aside {
            ui.warn(&format!(
                "the lab's record did not parse; moved it aside to {} and writing a fresh one",
                aside.display()
            ));
        }
        let rec = record::LabRecord::new(
            lab,
            &source.text,
            &source.overrides,
            source.origin.clone(),
            git,
            previous.as_ref(),
        );
        record::write(&rec)
    });
    match result {
        Ok(()) => true,
        Err(e) => {
            ui.warn(&format!(
                "could not record the lab for `playground restore`: {}",
                crate::diag::Report(&e)
            ));
            false
        }
    }
}
