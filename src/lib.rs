//! `playground`: a local Kubernetes lab, run the GitOps way.
//!
//! The flow of `up`:
//! 1. [`source`] reads the lab: [`config`] parses `playground.yaml` once into typed values
//!    ([`config::Lab`], its [`config::RepoLocation`]), or reports `file:line:col` and stops
//!    before anything is created;
//! 2. [`cluster::plan`] turns the lab into an ordered, printable list of steps (pure, no I/O);
//! 3. [`cluster`] executes the steps against the Docker Engine through the [`docker::Engine`]
//!    trait, waits for readiness through [`kube`], and merges the lab's context into the
//!    user's kubeconfig under a lock ([`kube::kubeconfig`]);
//! 4. [`argocd`] installs Argo CD, seeds the app of apps from the lab's repository ([`repo`])
//!    and waits until every app is Synced and Healthy.
//!
//! The layers, top to bottom; a module imports only from layers below its own, never from its
//! own (so `cluster` and `argocd` never import each other), and `tests/it/layers.rs` checks it:
//!
//! ```text
//! cli (and main)                 the top-level parser: one variant per subcommand, and its dispatch
//! commands                       one file per subcommand, its Args beside its run; the error →
//!                                message, hint, exit code
//! ops                            the use cases: up, drop, suspend, resume, restore, keep, hub
//! doctor                         host checks
//! cluster · argocd · validate · source
//! gitops                         what Argo CD reads from Git: source types, the lab's resources
//! kube · docker · repo
//! state                          records, kept Secrets, locks in the user data dir
//! config                         the lab file, typed
//! lab · ui · interrupt · fsutil · diag
//! ```
//!
//! Glossary: a [`config::Lab`] is the lab as desired (from its file); a
//! [`cluster::inventory::LabSummary`] is the lab as observed (from Docker's labels); a
//! [`state::record::LabRecord`] is the lab as stored (`state.yaml`, for `restore`); a
//! [`source::LabSource`] is a lab to bring up and where it came from.

#![warn(unreachable_pub)]
// The library serves its binary and tests, and most of it is `pub(crate)`: its docs are read
// with `cargo doc --document-private-items`, where links to crate-private items resolve.
#![allow(rustdoc::private_intra_doc_links)]

pub mod argocd;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod diag;
pub(crate) mod docker;
pub(crate) mod doctor;
pub(crate) mod fsutil;
pub(crate) mod gitops;
pub mod interrupt;
pub mod kube;
pub(crate) mod lab;
pub(crate) mod ops;
pub mod repo;
pub(crate) mod source;
pub(crate) mod state;
pub mod ui;
pub(crate) mod validate;
