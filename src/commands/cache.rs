//! `playground cache status|prune`: the shared image caches (and the lab registry, which
//! `prune` removes with them).

use super::error::Result;
use crate::cli::CacheCommand;
use crate::cluster::cache::{self, CacheSettings, CacheStatus};
use crate::cluster::registry::RegistrySettings;
use crate::docker::Engine;

use super::Ctx;
use super::output::{self, Items, Kind};

/// `cache status -o json|yaml`: every cache under `items`.
impl Kind for Items<'_, CacheStatus> {
    const KIND: &'static str = "CacheList";
}

pub async fn run(ctx: &Ctx<'_>, command: CacheCommand) -> Result<()> {
    let engine = ctx.engine().await?;
    let settings = CacheSettings::from_env();
    let caches = cache::status(engine, &settings).await?;
    match command {
        CacheCommand::Status { output: out } => {
            output::emit(out, &Items { items: &caches }, || {
                cache::render_table(&caches)
            })
        }
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
