//! `playground cache status|prune`: the shared image caches (and the lab registry, which
//! `prune` removes with them).

use super::error::Result;
use crate::cluster::cache::{self, CacheSettings, CacheStatus};
use crate::cluster::registry::RegistrySettings;
use crate::docker::Engine;

use super::Ctx;
use super::args::Output;
use super::output::{self, Items, Kind};

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
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub(crate) command: CacheCommand,
}

/// `playground cache …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CacheCommand {
    /// Each cache: its upstream, container state, bytes cached, and the labs using it.
    Status {
        /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
        /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Print the table's rows without its header line (for `awk` and `cut`).
        #[arg(long)]
        no_headers: bool,
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

const EXAMPLES: &str = "Examples:
  playground cache status
  playground cache prune --yes";

/// `cache status -o json|yaml`: every cache under `items`.
impl Kind for Items<'_, CacheStatus> {
    const KIND: &'static str = "CacheList";
}

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { command } = args;
    let engine = ctx.engine().await?;
    let settings = CacheSettings::from_env();
    let caches = cache::status(engine, &settings).await?;
    match command {
        CacheCommand::Status {
            output: out,
            no_headers,
        } => output::emit(out, &Items { items: &caches }, || {
            cache::render_table(&caches, !no_headers)
        }),
        CacheCommand::Prune { yes } => {
            let mut labs: Vec<&str> = caches
                .iter()
                .flat_map(|c| c.labs.iter().map(String::as_str))
                .collect();
            labs.sort_unstable();
            labs.dedup();
            // The lab registry goes too, with what was pushed to it: say so.
            let registry = RegistrySettings::from_env().container();
            let has_registry = engine.inspect_container(&registry).await?.is_some();
            let question = if has_registry {
                format!(
                    "Remove the image caches and the lab registry {registry}, with every image cached and every image pushed to it?"
                )
            } else if labs.is_empty() {
                "Remove the image caches and every image they hold?".to_string()
            } else {
                format!(
                    "Labs {} use the image caches; they will pull from the upstreams directly. Remove the caches and every image they hold?",
                    labs.join(", ")
                )
            };
            ctx.confirm(yes, &question, "pruned")?;
            let s = ctx.ui.step("remove the image caches");
            let pruned = cache::prune(engine, &settings).await?;
            s.done_with(&format!(
                "{} container(s), {} volume(s)",
                pruned.containers, pruned.volumes
            ));
            Ok(())
        }
    }
}
