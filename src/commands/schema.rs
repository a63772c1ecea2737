//! `playground schema`: print the JSON Schema of `playground.yaml` (see [`crate::config::json_schema`]).
//!
//! The copy at `schema/playground.schema.json` is what editors load; a test fails when it and
//! this output differ (`playground schema > schema/playground.schema.json` brings it up to date).

use super::error::Result;

/// Print the JSON Schema of playground.yaml.
///
/// Print the JSON Schema of playground.yaml, for editors and CI. The lab file's first line
/// `# yaml-language-server: $schema=URL` points editors at the published copy.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {}

const EXAMPLES: &str = "Example:
  playground schema > playground.schema.json";

pub(crate) fn run(args: Args) -> Result<()> {
    let Args {} = args;
    print!("{}", crate::config::json_schema());
    Ok(())
}
