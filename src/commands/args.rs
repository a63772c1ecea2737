//! What several commands' arguments share: the `-o` format, the deadline parser and how `up`
//! and `restore` run ([`RunArgs`]). Each
//! command's own `Args` (clap derive: flags, help, examples) sits in its file, beside its
//! `run`; a lab NAME argument names its completer there too ([`super::completions`]).

use std::time::Duration;

use clap::ValueEnum;

use crate::cluster::plan::PullPolicy;
use crate::config::duration::parse_duration;
use crate::ops::up::UpOpts;

/// Output format: `table` for people, `json` and `yaml` for scripts (stdout carries only the
/// document; progress and warnings go to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// A deadline: a duration above zero. A zero deadline could only ever fail, after creating
/// things it would then roll back, so it is refused as the usage error it is.
pub(crate) fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("a timeout must be longer than 0s, e.g. 90s or 5m".into()),
        d => Ok(d),
    }
}

/// How `up` and `restore` run.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// When to pull images.
    #[arg(long, value_enum, default_value_t = Pull::Missing)]
    pub(crate) pull: Pull,
    /// One deadline for the whole run, e.g. 90s or 15m. Default: 10m, which leaves room to
    /// pull k3s and Argo CD's images on a first run; 3m with --cluster-only.
    #[arg(long, value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    /// Do not make the lab's context the current kube context.
    #[arg(long)]
    pub(crate) no_switch_context: bool,
    /// Stop after the cluster (skip the GitOps bootstrap).
    #[arg(long)]
    pub(crate) cluster_only: bool,
    /// Print the ordered steps, and the changes to existing nodes as a diff, and exit without
    /// changing anything.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Keep a failed new lab for debugging instead of removing it.
    #[arg(long)]
    pub(crate) keep_on_failure: bool,
    /// Apply changes to existing nodes (recreate the changed ones, remove agents beyond the
    /// count) and a changed Argo CD release (upgrade in place) without asking. Without a
    /// terminal, `up` refuses such changes unless given this.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Stay in the foreground and refresh Argo CD whenever the local repo's HEAD moves.
    #[arg(long, conflicts_with = "cluster_only")]
    pub(crate) watch: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

/// `-o`: the one output flag of every command that prints a document.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct OutputArg {
    /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
    /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

impl RunArgs {
    /// `--timeout`, or the default for what this run does: the GitOps half pulls Argo CD's
    /// images and waits for every app, which on a first run takes minutes.
    pub(crate) fn deadline_after(&self) -> Duration {
        self.timeout.unwrap_or(if self.cluster_only {
            Duration::from_secs(180)
        } else {
            Duration::from_secs(600)
        })
    }
}

/// When to pull the node image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Pull {
    /// Pull only images that are not present.
    Missing,
    /// Always pull (picks up a moved tag).
    Always,
    /// Never pull; fail if an image is missing.
    Never,
}

impl RunArgs {
    /// The use case's options; `context`: `up --context`.
    pub(crate) fn opts(&self, context: Option<String>) -> UpOpts {
        UpOpts {
            pull: match self.pull {
                Pull::Missing => PullPolicy::Missing,
                Pull::Always => PullPolicy::Always,
                Pull::Never => PullPolicy::Never,
            },
            timeout: self.deadline_after(),
            switch_context: !self.no_switch_context,
            cluster_only: self.cluster_only,
            dry_run: self.dry_run,
            keep_on_failure: self.keep_on_failure,
            yes: self.yes,
            watch: self.watch,
            context,
            kubeconfig: None,
        }
    }
}
