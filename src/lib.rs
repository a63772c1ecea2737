//! `playground`: a local Kubernetes lab, run the GitOps way.
//!
//! The flow of `up`:
//! 1. [`config`] reads `playground.yaml` into a validated [`config::Lab`] (or reports
//!    `file:line:col` and stops before anything is created);
//! 2. [`cluster::plan`] turns the lab into an ordered, printable list of steps (pure, no I/O);
//! 3. [`cluster`] executes the steps against the Docker Engine through the [`docker::Engine`]
//!    trait and waits for readiness through [`kube`];
//! 4. [`kube::kubeconfig`] merges the lab's context into the user's kubeconfig, under a lock.

pub mod app;
pub mod argocd;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod diag;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod fsutil;
pub mod interrupt;
pub mod kube;
pub mod lab;
pub mod repo;
pub mod state;
pub mod ui;
pub mod validate;
