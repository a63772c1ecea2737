//! The use cases over the fake engine.

mod scenarios;
