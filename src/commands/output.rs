//! The one printer: a command's document goes to stdout as a table for people, or as JSON or
//! YAML for scripts; nothing else goes to stdout. Progress, warnings and errors go to stderr.

use serde::Serialize;

use super::error::Result;
use crate::cli::Output;
use crate::ui::Ui;

/// Print a command's result on stdout: `table` is `table()`'s text, `json` and `yaml` the
/// serialized value. One place, so every command's document is whole or an error.
pub fn emit<T: Serialize>(output: Output, value: &T, table: impl FnOnce() -> String) -> Result<()> {
    let text = match output {
        Output::Table => table(),
        Output::Json => serde_json::to_string_pretty(value)? + "\n",
        Output::Yaml => serde_saphyr::to_string(value)?,
    };
    print!("{text}");
    Ok(())
}

/// A command's one-line outcome: said on stderr for people (`table`), or the document on
/// stdout for scripts.
pub fn outcome<T: Serialize>(output: Output, ui: &Ui, value: &T, line: String) -> Result<()> {
    match output {
        Output::Table => {
            ui.line(&line);
            Ok(())
        }
        _ => emit(output, value, String::new),
    }
}
