//! Integration tests: one binary, one module per area.

#[path = "../support/mod.rs"]
mod support;

mod action;
mod argocd_cli;
mod argocd_upgrade;
mod cache;
mod cluster;
mod day2;
mod doctor;
mod double_argocd;
mod double_binary;
mod double_drain;
mod double_kube_rs;
mod double_kubectl;
mod double_simulation;
mod double_tokens;
mod double_util;
mod e2e_real;
mod faults;
mod from_k3d;
mod gitops_apply;
mod gitops_apps;
mod gitops_up;
mod ha;
mod harness_bounds;
mod hub;
mod json_keys;
mod layers;
mod live_view;
mod mounts;
mod no_labs;
mod plumbing;
mod registry;
mod restore;
mod seed_lab;
mod standin;
mod strict;
