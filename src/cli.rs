//! The command line: clap types only. The candidates shell completion offers for a lab NAME
//! are looked up on each Tab by `commands/completions.rs` (see there for the flow), which
//! hands them in through [`offer_lab_names`].
//! [`crate::commands`] turns the types into core types, so clap never leaks into the rest of
//! the crate.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::{ArgValueCandidates, CompletionCandidate};

use crate::config::duration::parse_duration;

/// A deadline: a duration above zero. A zero deadline could only ever fail, after creating
/// things it would then roll back, so it is refused as the usage error it is.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("a timeout must be longer than 0s, e.g. 90s or 5m".into()),
        d => Ok(d),
    }
}

/// A local Kubernetes lab, run the GitOps way: k3s nodes in Docker, Argo CD, and an app of
/// apps from Git.
///
/// Quick start: `playground up` creates the sample lab; `playground list` shows your labs;
/// `playground suspend` frees CPU and memory; `playground resume` brings it back;
/// `playground drop` throws it away.

#[derive(Debug, Parser)]
#[command(
    name = "playground",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print nothing but results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the lab, or converge it to its file.
    ///
    /// Create the lab, or converge an existing one: start what is stopped, repair what is
    /// missing, and apply a changed lab file node by node, or a changed Argo CD release in
    /// place, after showing the diff (`--yes` where there is no terminal to ask on). Never
    /// duplicates anything.
    #[command(after_help = EX_UP)]
    Up(UpArgs),
    /// Stop the lab's nodes to free CPU and memory.
    ///
    /// Stop the lab's nodes (agents first) to free every CPU and byte they used. Volumes and
    /// state are kept; a suspended lab stays suspended across a Docker restart.
    #[command(after_help = EX_SUSPEND)]
    Suspend {
        /// The lab (default: the one in ./playground.yaml, or the only lab).
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// Freeze the nodes with `docker pause` instead: memory stays in use, resume is instant.
        #[arg(long)]
        pause: bool,
        /// Suspend even if the Secrets in `keep.secrets` cannot be exported first.
        #[arg(long)]
        force: bool,
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Start a suspended or paused lab.
    ///
    /// Start a suspended or paused lab: servers first, then agents, then wait for the API.
    #[command(after_help = EX_RESUME)]
    Resume {
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// How long to wait for the lab to be ready, e.g. 90s or 3m.
        #[arg(long, value_parser = parse_timeout, default_value = "180s")]
        timeout: Duration,
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Remove the lab; its record stays for `restore`.
    ///
    /// Remove every container, network and volume of the lab, and its kube context.
    /// Works on half-made labs and without any local state. The Secrets in `keep.secrets` are
    /// exported first, and the lab's record is kept, so `playground restore` brings it back.
    #[command(after_help = EX_DROP)]
    Drop {
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
        /// Drop even if the Secrets in `keep.secrets` cannot be exported (they are lost).
        #[arg(long)]
        force: bool,
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Bring a dropped lab back from Git.
    ///
    /// Bring a dropped lab back from Git: from its record (`playground restore NAME`), or on a
    /// new machine from the lab repository itself (`playground restore --from URL_OR_PATH`),
    /// which must hold playground.yaml at its top. Kept Secrets are re-applied before Argo CD
    /// syncs. A lab that exists is left as it is.
    #[command(after_help = EX_RESTORE)]
    Restore(RestoreArgs),
    /// List the labs, running and dropped.
    ///
    /// List the labs Docker knows of, and the dropped labs on record (which `restore` brings
    /// back).
    #[command(after_help = EX_LIST)]
    List {
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Show a lab: nodes, API, and its apps as a tree.
    ///
    /// Show one lab: its state, its nodes, the API URL, and its Applications as a tree with the
    /// last commit that touched each.
    #[command(after_help = EX_STATUS)]
    Status {
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Print the lab's kubeconfig.
    ///
    /// Print the lab's kubeconfig (context, cluster and user `playground-<name>`).
    #[command(after_help = EX_KUBECONFIG)]
    Kubeconfig {
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
    },
    /// Print the Argo CD admin password.
    ///
    /// Print the Argo CD admin password (from `argocd-initial-admin-secret`). The UI is at
    /// http://127.0.0.1:<argocd.ui.port>, user `admin`.
    #[command(after_help = EX_PASSWORD)]
    Password {
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
    },
    /// Run the Argo CD CLI against the lab, logged in as admin.
    ///
    /// Run the Argo CD CLI against the lab, logged in as admin: `playground argocd -- ARGS`.
    ///
    /// The CLI comes from the lab's own Argo CD server (`/download/argocd-<os>-<arch>`), so
    /// its version always matches the server's. It is downloaded once per server version into
    /// the user cache dir (`playground/argocd/<version>/argocd`). The login uses the initial
    /// admin password for a session token, handed to the CLI in its environment: no secret is
    /// ever on a command line. The exit status is the CLI's.
    #[command(after_help = ARGOCD_EXAMPLES)]
    Argocd {
        /// The lab (default: the one in ./playground.yaml, or the only lab).
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// Arguments for `argocd`, after `--`, passed on verbatim.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Make Argo CD look at Git now.
    ///
    /// Make Argo CD look at Git now (the refresh annotation), instead of waiting for its poll.
    #[command(after_help = EX_REFRESH)]
    Refresh {
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// The Application to refresh (default: the root).
        #[arg(long)]
        app: Option<String>,
        /// Also regenerate manifests (Argo CD's hard refresh).
        #[arg(long)]
        hard: bool,
    },
    /// Write a new lab repository.
    ///
    /// Write a new lab repository: a playground.yaml and an apps/ example like the sample lab,
    /// as a Git repo with one commit. `playground up` there works at once.
    #[command(after_help = EX_INIT)]
    Init {
        /// Where (default: the current directory, which must be empty).
        dir: Option<PathBuf>,
        /// Convert a k3d config (`kind: Simple`, k3d.io/v1alpha4 or v1alpha5) into the lab file.
        ///
        /// Servers, agents, image, kubeAPI.hostIP/hostPort, ports, env, k3s extraArgs (one
        /// entry per node filter) and registries.create.hostPort are converted; every other
        /// key is listed, on stderr and as comments at the top of the new playground.yaml.
        /// The rest of the sample lab (apps/, gitops:) comes along. A directory that already
        /// holds a lab is refused.
        ///
        /// Example: `playground init --from-k3d k3d-config.yml mylab`
        #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
        from_k3d: Option<PathBuf>,
    },
    /// Check a lab offline, without Docker.
    ///
    /// Check a lab offline, without Docker: the lab file, every YAML file under gitops.path,
    /// Application and AppProject fields, and that every local path they name exists.
    #[command(after_help = EX_VALIDATE)]
    Validate {
        /// The lab file. Default: ./playground.yaml.
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Manage the shared image caches.
    ///
    /// The shared image cache: one pull-through registry per upstream (docker.io, ghcr.io,
    /// quay.io, registry.k8s.io), used by every lab with `cluster.imageCache: true` (the
    /// default) and kept when a lab is dropped, so a recreated lab downloads nothing it pulled
    /// before. `drop` also keeps each lab's images (public.ecr.aws's too) for the next lab of
    /// its name, which imports them at start, offline too.
    ///
    /// The caches are containers named `playground-cache-UPSTREAM` with a volume each; they
    /// join every lab network and nodes get /etc/rancher/k3s/registries.yaml mirrors pointing
    /// at them. Nothing is published on the host. Offline, `up` warns once and goes on
    /// without the cache. Turn it off per lab with `cluster.imageCache: false`.
    #[command(after_help = EX_CACHE)]
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Manage the lab registry you push to.
    ///
    /// The lab registry (`cluster.registry: { port: 5001 }`): a plain registry on
    /// 127.0.0.1:PORT that the host pushes to as `localhost:PORT/app` and pods pull from under
    /// the same name. Shared by labs and kept by `drop`; `cache prune` removes it too.
    #[command(after_help = EX_REGISTRY)]
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Check that this host can run a lab.
    ///
    /// Check that this host can run a lab: the Docker endpoint (and where it came from), the
    /// engine, cgroups, userns-remap and Enhanced Container Isolation, privileged containers,
    /// free disk against kubelet's eviction thresholds, the lab's ports, and whether Argo CD
    /// (uid 999) can read the lab's repository. Exits 1 when a check fails.
    #[command(after_help = EX_DOCTOR)]
    Doctor {
        /// The lab file. Default: ./playground.yaml if present (without one, the lab's ports
        /// and repository are not checked).
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Import images into your labs' nodes.
    ///
    /// Images in your labs' nodes.
    #[command(after_help = EX_IMAGE)]
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Print the nodes' logs.
    ///
    /// Print the lab's node logs (what `docker logs` shows: k3s's output), each line prefixed
    /// with its node, e.g. `server-0 | …`. Without --node, every node's lines interleave as
    /// they arrive. Ctrl-C ends --follow.
    #[command(after_help = EX_LOGS)]
    Logs(LogsArgs),
    /// Collect what a bug report needs into one archive.
    ///
    /// Collect what a bug report needs into one archive.
    #[command(after_help = EX_EXPORT)]
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Run a command in a node.
    ///
    /// Run a command in a node (default: `sh` in server-0), with the terminal attached when
    /// there is one: `playground exec -- crictl ps`. The exit status is the command's.
    #[command(after_help = EX_EXEC)]
    Exec {
        /// The lab (default: the one in ./playground.yaml, or the only lab).
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// The node, e.g. server-0 or agent-1.
        #[arg(long, default_value = "server-0")]
        node: String,
        /// The command and its arguments, after `--` (default: sh).
        #[arg(last = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
    /// Print versions, pinned releases and the Docker endpoint.
    ///
    /// Print this build's version, the default k3s image, the pinned Argo CD release and its
    /// manifest's SHA-256, and the Docker endpoint in use with whether it answers (never
    /// fails when Docker is down).
    #[command(after_help = EX_VERSION)]
    Version {
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Print a shell completion script.
    ///
    /// Print the shell script that completes playground's commands, flags and lab names:
    /// `source <(playground completions bash)` (see docs/commands.md for zsh, fish and PowerShell).
    /// Lab names are looked up when you press Tab, from Docker and the dropped labs on record.
    #[command(after_help = EX_COMPLETIONS)]
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the JSON Schema of playground.yaml.
    ///
    /// Print the JSON Schema of playground.yaml, for editors and CI. The lab file's first line
    /// `# yaml-language-server: $schema=URL` points editors at the published copy.
    #[command(after_help = EX_SCHEMA)]
    Schema,
    /// Write the man pages (playground.1, and one per subcommand) into DIR (default: .).
    #[command(hide = true)]
    Man {
        /// Where to write them.
        dir: Option<PathBuf>,
    },
}

/// A shell `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// `playground logs`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The lab (default: the one in ./playground.yaml, or the only lab).
    #[arg(add = ArgValueCandidates::new(lab_candidates))]
    pub name: Option<String>,
    /// Only this node, e.g. server-0, agent-1 or serverlb.
    #[arg(long)]
    pub node: Option<String>,
    /// Keep printing new lines until the nodes stop or Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines since a duration ago (e.g. 10m, 1h30m) or an RFC 3339 time
    /// (e.g. 2026-01-02T15:04:05Z).
    #[arg(long, value_name = "DURATION_OR_TIME", value_parser = parse_since)]
    pub since: Option<jiff::Timestamp>,
}

/// `--since`: a duration back from now, or a point in time. (clap shows the error's text.)
fn parse_since(s: &str) -> Result<jiff::Timestamp, Box<dyn std::error::Error + Send + Sync>> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let d = parse_duration(s)
        .map_err(|e| format!("{e}; or give a time such as 2026-01-02T15:04:05Z"))?;
    let d = jiff::SignedDuration::try_from(d)?;
    Ok(jiff::Timestamp::now()
        .checked_sub(d)
        .map_err(|e| format!("{s} ago: {e}"))?)
}

/// `playground export …`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write one archive for a bug report (as `kind export logs` does):
    /// `playground-logs-<lab>-<UTC time>.tar.gz` with, per node, `docker inspect`, its logs
    /// and k3s's log files; the cluster's Events, the Argo CD Applications and pods' logs; and
    /// the lab file. Secret values and tokens are masked, and no Secret is exported. A
    /// MANIFEST lists what is in it and what was skipped, and why. Prints the archive's path.
    Logs {
        /// The lab (default: the one in ./playground.yaml, or the only lab).
        #[arg(add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
        /// Where to write the archive (default: the current directory).
        dir: Option<PathBuf>,
    },
}

/// `playground cache …`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Each cache: its upstream, container state, bytes cached, and the labs using it.
    Status {
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Remove every cache container and its volume (the cached images), and the lab registry
    /// (`cluster.registry`) with what was pushed to it. Labs using them go on pulling from the
    /// upstreams directly; their next `playground up` brings back empty ones. Asks on a terminal.
    Prune {
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
}

/// `playground registry …`
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Remove the lab registry and its volume, with every image pushed to it. Labs keep
    /// running; the next `playground up` of a lab with `cluster.registry` makes it again,
    /// empty. Asks on a terminal.
    Rm {
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
}

/// `playground image …`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Copy images from the host's Docker into every node of a running lab (like `k3d image
    /// import`), so pods can use locally built images without a registry. Give pods
    /// `imagePullPolicy: IfNotPresent` (or a tag other than `latest`) so the kubelet uses the
    /// imported image instead of pulling.
    ///
    /// Example: `docker build -t myapp:dev . && playground image import myapp:dev`
    Import {
        /// Images as `docker images` lists them, e.g. myapp:dev or nginx:1.29-alpine.
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<String>,
        /// The lab (default: the one in ./playground.yaml, or the only lab).
        #[arg(long, add = ArgValueCandidates::new(lab_candidates))]
        name: Option<String>,
    },
}

const EX_UP: &str = "Examples:
  playground up                  # ./playground.yaml, or the sample lab
  playground up --dry-run        # print the plan; change nothing
  playground up --yes --timeout 15m
  playground up --context prod   # the GitOps half, into a real cluster";
const EX_SUSPEND: &str = "Examples:
  playground suspend
  playground suspend mylab --pause";
const EX_RESUME: &str = "Example:
  playground resume mylab";
const EX_DROP: &str = "Example:
  playground drop mylab --yes";
const EX_RESTORE: &str = "Examples:
  playground restore mylab
  playground restore --from https://github.com/me/lab.git";
const EX_LIST: &str = "Example:
  playground list -o json";
const EX_STATUS: &str = "Examples:
  playground status mylab
  playground status -o json";
const EX_KUBECONFIG: &str = "Example:
  playground kubeconfig mylab > mylab.kubeconfig";
const EX_PASSWORD: &str = "Example:
  playground password mylab";
const EX_REFRESH: &str = "Examples:
  playground refresh
  playground refresh --app hello --hard";
const EX_INIT: &str = "Examples:
  playground init mylab
  playground init --from-k3d k3d-config.yml mylab";
const EX_VALIDATE: &str = "Examples:
  playground validate
  playground validate -f labs/dev/playground.yaml -o json";
const EX_CACHE: &str = "Examples:
  playground cache status
  playground cache prune --yes";
const EX_REGISTRY: &str = "Examples:
  docker push localhost:5001/app:dev
  playground registry rm --yes";
const EX_DOCTOR: &str = "Examples:
  playground doctor
  playground doctor -f playground.yaml -o json";
const EX_IMAGE: &str = "Example:
  playground image import myapp:dev";
const EX_LOGS: &str = "Example:
  playground logs --node agent-0 --since 10m --follow";
const EX_EXPORT: &str = "Example:
  playground export logs mylab /tmp";
const EX_EXEC: &str = "Example:
  playground exec --node agent-0 -- crictl ps";
const EX_VERSION: &str = "Example:
  playground version -o json";
const EX_COMPLETIONS: &str = "Example:
  source <(playground completions bash)";
const EX_SCHEMA: &str = "Example:
  playground schema > playground.schema.json";

const ARGOCD_EXAMPLES: &str = "Examples:
  playground argocd -- app list
  playground argocd -- app get root --show-operation
  playground argocd mylab -- app sync hello
  playground argocd -- version

Everything after `--` goes to argocd unchanged, flags included (`-- app list --help`).";

/// Output format: `table` for people, `json` and `yaml` for scripts (stdout carries only the
/// document; progress and warnings go to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// When to pull the node image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pull {
    /// Pull only images that are not present.
    Missing,
    /// Always pull (picks up a moved tag).
    Always,
    /// Never pull; fail if an image is missing.
    Never,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Skip Docker: bootstrap Argo CD and the seed into this existing kube context instead
    /// (a real cluster, for labs that outgrow one machine). Needs a remote gitops.repo.
    #[arg(long, value_name = "CTX", conflicts_with_all = ["servers", "agents", "image", "api_port", "cluster_only"])]
    pub context: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Which lab `up` makes: the file, and flags that override it.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// The lab file. Default: ./playground.yaml if present, else the built-in sample lab.
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Overrides metadata.name in the file.
    #[arg(long)]
    pub name: Option<String>,
    /// Overrides cluster.servers in the file.
    #[arg(long)]
    pub servers: Option<u32>,
    /// Overrides cluster.agents in the file.
    #[arg(long)]
    pub agents: Option<u32>,
    /// Overrides cluster.image in the file.
    #[arg(long)]
    pub image: Option<String>,
    /// Overrides cluster.api.port in the file.
    #[arg(long, value_name = "PORT")]
    pub api_port: Option<u16>,
}

/// How `up` and `restore` run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// When to pull images.
    #[arg(long, value_enum, default_value_t = Pull::Missing)]
    pub pull: Pull,
    /// One deadline for the whole run, e.g. 90s or 15m. Default: 10m, which leaves room to
    /// pull k3s and Argo CD's images on a first run; 3m with --cluster-only.
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Do not make the lab's context the current kube context.
    #[arg(long)]
    pub no_switch_context: bool,
    /// Stop after the cluster (skip the GitOps bootstrap).
    #[arg(long)]
    pub cluster_only: bool,
    /// Print the ordered steps, and the changes to existing nodes as a diff, and exit without
    /// changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep a failed new lab for debugging instead of removing it.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Apply changes to existing nodes (recreate the changed ones, remove agents beyond the
    /// count) and a changed Argo CD release (upgrade in place) without asking. Without a
    /// terminal, `up` refuses such changes unless given this.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Stay in the foreground and refresh Argo CD whenever the local repo's HEAD moves.
    #[arg(long, conflicts_with = "cluster_only")]
    pub watch: bool,
    /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
    /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

impl RunArgs {
    /// `--timeout`, or the default for what this run does: the GitOps half pulls Argo CD's
    /// images and waits for every app, which on a first run takes minutes.
    pub fn deadline_after(&self) -> Duration {
        self.timeout.unwrap_or(if self.cluster_only {
            Duration::from_secs(180)
        } else {
            Duration::from_secs(600)
        })
    }
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The dropped lab (default: the one in ./playground.yaml, or the only dropped lab).
    #[arg(add = ArgValueCandidates::new(dropped_lab_candidates))]
    pub name: Option<String>,
    /// Restore with no local record: clone this lab repository (https or ssh URL, or a local
    /// path, bare or not) into the user cache and bring up the playground.yaml at its top.
    #[arg(long, value_name = "GIT_URL_OR_PATH", conflicts_with = "name")]
    pub from: Option<String>,
    /// Deploy this commit, branch or tag instead of the recorded revision.
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The variable that switches the binary into completion mode (clap_complete's default).
pub const COMPLETE_VAR: &str = "COMPLETE";

/// Where shell completion finds lab names: the lookups of `commands/completions.rs`, which
/// reach Docker and the records (this module holds clap types only).
#[derive(Debug, Clone, Copy)]
pub struct LabNames {
    /// The labs the engine knows of, each with its state as help.
    pub labs: fn() -> Vec<CompletionCandidate>,
    /// The dropped labs `restore` can bring back.
    pub dropped: fn() -> Vec<CompletionCandidate>,
}

static LAB_NAMES: OnceLock<LabNames> = OnceLock::new();

/// Give completion its lab-name lookups; before this (or without it) it offers none. The first
/// call wins.
pub fn offer_lab_names(names: LabNames) {
    let _ = LAB_NAMES.set(names);
}

/// Candidates for a lab NAME.
fn lab_candidates() -> Vec<CompletionCandidate> {
    LAB_NAMES.get().map_or_else(Vec::new, |n| (n.labs)())
}

/// Candidates for `restore`'s NAME.
fn dropped_lab_candidates() -> Vec<CompletionCandidate> {
    LAB_NAMES.get().map_or_else(Vec::new, |n| (n.dropped)())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("playground").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        // Catches conflicts_with naming an argument that a flatten renamed or dropped.
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn short_help_fits_a_screen_and_every_command_shows_an_example() {
        let mut cmd = <Cli as clap::CommandFactory>::command().term_width(100);
        let top = cmd.render_help().to_string();
        assert!(
            top.lines().count() <= 40,
            "`playground -h` is {} lines:\n{top}",
            top.lines().count()
        );
        for sub in cmd.get_subcommands_mut() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            let name = sub.get_name().to_string();
            // One line in the list: a short first paragraph, the rest kept for `--help`.
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(
                !about.contains('\n') && about.len() <= 60,
                "{name}: about is {about:?}"
            );
            let help = sub.render_help().to_string();
            let has_example = help.contains("Example");
            let nested = sub.get_subcommands().any(|s| !s.is_hide_set());
            assert!(
                has_example || nested,
                "`playground {name} -h` shows no example:\n{help}"
            );
        }
    }

    #[test]
    fn restore_takes_ups_run_flags_and_from_excludes_a_name() {
        match parse(&[
            "restore",
            "lab",
            "--revision",
            "abc",
            "--cluster-only",
            "--timeout",
            "5m",
        ]) {
            Command::Restore(r) => {
                assert_eq!(
                    (r.name.as_deref(), r.revision.as_deref()),
                    (Some("lab"), Some("abc"))
                );
                assert!(r.run.cluster_only);
                assert_eq!(r.run.timeout, Some(Duration::from_secs(300)));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["playground", "restore", "lab", "--from", "/x"]).is_err());
        assert!(
            Cli::try_parse_from(["playground", "up", "--context", "c", "--agents", "2"]).is_err(),
            "--context conflicts with the cluster flags"
        );
    }

    #[test]
    fn the_default_deadline_leaves_room_for_the_gitops_half() {
        let run = |args: &[&str]| match parse(args) {
            Command::Up(u) => u.run.deadline_after(),
            other => panic!("{other:?}"),
        };
        assert_eq!(run(&["up"]), Duration::from_secs(600));
        assert_eq!(run(&["up", "--cluster-only"]), Duration::from_secs(180));
        assert_eq!(run(&["up", "--timeout", "90s"]), Duration::from_secs(90));
    }

    #[test]
    fn logs_since_takes_a_duration_ago_or_a_time() {
        let t = parse_since("2026-01-02T15:04:05Z").unwrap();
        assert_eq!(t.as_second(), 1_767_366_245);
        let ago = jiff::Timestamp::now().as_second() - parse_since("10m").unwrap().as_second();
        assert!((599..=601).contains(&ago), "{ago}");
        let e = parse_since("10").unwrap_err().to_string();
        assert!(e.contains("2026-01-02T15:04:05Z"), "{e}");
    }

    #[test]
    fn argocd_passes_everything_after_the_separator_verbatim() {
        match parse(&[
            "argocd", "--", "app", "list", "-o", "json", "--help", "-v", "--",
        ]) {
            Command::Argocd { name, args } => {
                assert_eq!(name, None);
                assert_eq!(args, ["app", "list", "-o", "json", "--help", "-v", "--"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["argocd", "lab", "--", "version"]) {
            Command::Argocd { name, args } => {
                assert_eq!(name.as_deref(), Some("lab"));
                assert_eq!(args, ["version"]);
            }
            other => panic!("{other:?}"),
        }
        // Without `--`, a second word is an error, not silently the lab name or an argument.
        assert!(Cli::try_parse_from(["playground", "argocd", "app", "list"]).is_err());
    }
}
