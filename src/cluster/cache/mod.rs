//! The shared image cache, so that a lab made again (`drop`, then `up`) downloads nothing it
//! pulled before, a month later and offline too. Two mechanisms, because neither does it
//! alone:
//! - **pull-through caches**: one `registry:3` proxy per upstream ([`UPSTREAMS`]: docker.io,
//!   ghcr.io, quay.io, registry.k8s.io), shared by every lab and kept across `drop`, with
//!   expiry turned off ([`PROXY_TTL_ENV`](proxy::PROXY_TTL_ENV); `registry:2` deletes what it cached after 7 days,
//!   see [`CACHE_IMAGE`](proxy::CACHE_IMAGE)). They serve every lab, running or new, while the host is online.
//! - **the lab's image export**: `drop` writes what each running node's containerd holds into
//!   a volume kept for the next lab of that name ([`keep_lab_images`]), mounted in its nodes at
//!   k3s's airgap folder ([`super::k3s::AIRGAP_IMAGES`]), which k3s imports at start with no network. This
//!   covers what no proxy can serve: public.ecr.aws (Argo CD's redis; distribution#4383), and
//!   everything when offline, where a registry proxy cannot even start (it panics when its
//!   upstream does not answer; see [`CacheSettings::container_spec`]).
//!
//! The flow, with `cluster.imageCache: true` (the default):
//! 1. the planner ([`super::plan`]) adds the lab's export volume before the nodes (and a bind
//!    of it in every server and agent), an optional "cache image" step when the image is not
//!    local, one [`super::plan::Step::EnsureCache`] per upstream that is not yet running and
//!    attached to the lab's network, and, for every node it creates, a
//!    [`super::plan::Step::WriteMirrors`] with the output of [`super::k3s::registries::registries_yaml`];
//! 2. the executor ([`super::up`]) runs [`ensure`] for each cache: its labelled volume at
//!    `/var/lib/registry`, its container (created once, then reused by every lab), started,
//!    and attached to the lab network;
//! 3. it writes `registries.yaml` ([`super::k3s::REGISTRIES_YAML`]) into each new node after create and before
//!    its first start: k3s reads it at start and points containerd's mirrors at the caches,
//!    and imports the tars of the export;
//! 4. `drop` of a running lab first runs [`keep_lab_images`], then removes the lab.
//!
//! If the cache image is absent and cannot be pulled (offline, no registry), or any cache step
//! fails, `up` warns once and goes on without the caches: nodes then get no `registries.yaml`
//! (the export needs no cache image and stays). The lab never fails for the cache. A cache
//! that later stops or is pruned does not break a lab either: containerd falls back to the
//! upstream when a mirror does not answer.
//!
//! Why these choices:
//! - **Wiring: the cache joins each lab network**, at a static address near the top of the
//!   lab's subnet ([`super::plan::cache_ip`]) and under its container name as alias, and nodes
//!   reach it as `http://<name>:5000`. Publishing a host port instead would expose a cache on
//!   the host (a 127.0.0.1 port is not reachable from nodes; 0.0.0.0 is reachable from the
//!   network), and a second network on every node would give k3s two interfaces to choose its
//!   node IP from. The address is static because node addresses are handed out statically from
//!   the bottom of the subnet: a cache attached with a dynamic address could take a node's
//!   address before that node is created, or after a Docker restart.
//! - **`registries.yaml` is written into the created container**, as k3d does, not bind
//!   mounted: the node's own layer keeps it as long as the node lives, while a bind-mounted
//!   host file that went missing would make Docker create a directory in its place.
//! - **Shared, never dropped**: caches are labelled [`super::names::LABEL_CACHE`] (the upstream) and
//!   [`super::names::LABEL_CACHE_NAMESPACE`], never `playground.cluster`, so `drop`'s label sweep
//!   leaves them; `drop` detaches them from the lab's network ([`detach_all`]) so that the
//!   network can go. Export volumes carry the same namespace label (and [`LABEL_EXPORT_LAB`](export::LABEL_EXPORT_LAB)).
//!   `playground cache prune` removes them all but the exports of labs that exist: removing a
//!   container detaches it from every lab network, and labs then pull from the upstreams.
//! - **An export per lab name**, not one for all labs: k3s imports and pins every tar in the
//!   folder at every start, so a node gets only what a lab of its name had.
//! - **No published ports** and no privileges: only nodes on a lab network reach a cache.
//!
//! Test-only knobs: `PLAYGROUND_CACHE_IMAGE` replaces `registry:3` (tests run a double and
//! Debian's real registry 2.8: this machine and CI reach no registry), and
//! `PLAYGROUND_CACHE_NAMESPACE` gives a test its own set of caches (names and labels), so
//! parallel tests never share or prune each other's. Users need neither.
//!
//! One file per job: `settings` (which cache image and which set of caches), `proxy` (the
//! pull-through caches: their upstreams, containers, and making them ready for a lab),
//! `export` (the lab's image export, kept across `drop`), `status` (`cache status` and
//! `cache prune`).

mod export;
mod proxy;
mod settings;
mod status;

pub(crate) use export::{EXPORT_KIND, keep_lab_images};
pub(super) use proxy::ensure_shared;
pub(crate) use proxy::{
    CacheStep, REGISTRY_DATA, REGISTRY_PORT, UPSTREAMS, Upstream, detach_all, ensure,
};
pub(crate) use settings::{CacheSettings, DEFAULT_NAMESPACE, ENV_IMAGE};
pub(crate) use status::{CacheStatus, human_size, prune, render_table, status};

#[cfg(test)]
mod tests;
