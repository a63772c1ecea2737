//! The cluster half of a lab: k3s nodes in Docker.
//!
//! - [`names`]: every object's name and labels;
//! - [`plan`]: desired lab + observed Docker state → ordered phases (pure);
//! - [`up`]: gathers the observed state, plans, and executes (with rollback of a fresh lab);
//! - [`readiness`]: waits on a node's log line while watching it for crashes;
//! - [`inventory`]: finds labs by labels alone (`list`, `status`);
//! - [`lifecycle`]: `suspend`, `resume`, `drop`.

pub mod inventory;
pub mod lifecycle;
pub mod names;
pub mod plan;
pub mod readiness;
pub mod up;
