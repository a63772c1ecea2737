//! What Argo CD reads from the lab's Git repository, known once for `up` and `validate`:
//!
//! - [`source`]: how the root folder renders (a Helm chart, a kustomization, plain
//!   manifests), as the lab file says or as Argo CD's repo-server would detect it;
//! - [`resources`]: `argocd.resources`, the objects applied before the root Application
//!   (AppProjects, ConfigMaps, …), read and checked from the lab's folder.
//!
//! Pure knowledge and file reading; the cluster side (applying, waiting) is `argocd`'s.

pub(crate) mod children;
pub(crate) mod helm;
pub(crate) mod resources;
pub(crate) mod source;
pub(crate) mod yaml;
