//! The lab configuration: the `playground.yaml` file format, its parsing with line:col errors,
//! and the validated core types the rest of the crate works with.

pub mod model;
pub use model::*;
