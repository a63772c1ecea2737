//! The cluster module's own tests that span several of its files (unit tests of the lib: they
//! use crate-private items).

pub(crate) mod scenarios;
