//! `playground schema`: print the JSON Schema of `playground.yaml` (see [`crate::config::json_schema`]).
//!
//! The copy at `schema/playground.schema.json` is what editors load; a test fails when it and
//! this output differ (`playground schema > schema/playground.schema.json` brings it up to date).

use super::error::Result;

pub fn run() -> Result<()> {
    print!("{}", crate::config::json_schema());
    Ok(())
}
