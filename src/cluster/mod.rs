//! The cluster half of a lab: k3s nodes in Docker.
//!
//! - [`names`]: every object's name and labels;
//! - [`plan`]: desired lab + observed Docker state → ordered phases (pure);
//! - [`up`]: gathers the observed state, plans, and executes (with rollback of a fresh lab);
//! - [`readiness`]: waits on a node's log line while watching it for crashes;
//! - [`inventory`]: finds labs by labels alone (`list`, `status`);
//! - [`lifecycle`]: `suspend`, `resume`, `drop`;
//! - [`cache`]: the shared pull-through image caches (`cache status`, `cache prune`);
//! - [`import`]: `image import`, host images into every node's containerd.

pub mod cache;
pub mod import;
pub mod inventory;
pub mod lifecycle;
pub mod names;
pub mod plan;
pub mod readiness;
pub mod up;
