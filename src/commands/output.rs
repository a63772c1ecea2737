//! The one printer: a command's document goes to stdout as a table for people, or as JSON or
//! YAML for scripts; nothing else goes to stdout. Progress, warnings and errors go to stderr
//! (or, for `up -o json`, stream as JSON events before the document: [`crate::ui`]).
//!
//! Every document is a [`Kind`] and is printed inside the envelope
//! (`apiVersion: playground.dev/v1alpha1`, `kind`): the printer takes nothing else, so no
//! command can forget it. The kinds: `LabList` (`list`), `LabStatus` (`status`), `CacheList`
//! (`cache status`), `DoctorReport` (`doctor`), `ValidationReport` (`validate`), `UpResult`
//! (`up`, `restore`), `LabResult` (`suspend`, `resume`, `drop`).

use serde::Serialize;

use super::args::Output;
use super::error::Result;
use crate::ui::document::Document;
pub(super) use crate::ui::document::{Items, Kind};
use crate::ui::{Mode, Ui};

/// Print a command's result on stdout: `table` is `table()`'s text, `json` and `yaml` the
/// document in its envelope. One place, so every command's document is whole or an error.
pub(super) fn emit<T: Kind>(
    output: Output,
    value: &T,
    table: impl FnOnce() -> String,
) -> Result<()> {
    let doc = Document::new(value);
    let text = match output {
        Output::Table => table(),
        Output::Json => serde_json::to_string_pretty(&doc)? + "\n",
        Output::Yaml => serde_saphyr::to_string(&doc)?,
    };
    print!("{text}");
    Ok(())
}

/// [`emit`], except that a command whose steps streamed as JSON events ends its stream with
/// the document on one line, so every line of stdout is one JSON object.
pub(super) fn result<T: Kind>(
    output: Output,
    ui: &Ui,
    value: &T,
    table: impl FnOnce() -> String,
) -> Result<()> {
    if ui.mode() == Mode::Json {
        crate::ui::print_line(value);
        return Ok(());
    }
    emit(output, value, table)
}

/// A command's one-line outcome: said on stderr for people (`table`), or the document on
/// stdout for scripts.
pub(super) fn outcome<T: Kind>(output: Output, ui: &Ui, value: &T, line: String) -> Result<()> {
    match output {
        Output::Table => {
            ui.line(&line);
            Ok(())
        }
        _ => result(output, ui, value, String::new),
    }
}

/// The result of `suspend`, `resume` and `drop` (kind `LabResult`): the lab and the state it
/// is in now; each command adds what it alone knows.
#[derive(Serialize)]
pub(super) struct LabResult<'a, T: Serialize> {
    pub(crate) name: &'a str,
    /// `suspended`, `paused`, `running` or `dropped`.
    pub(crate) state: &'static str,
    #[serde(flatten)]
    pub(crate) more: T,
}

impl<T: Serialize> Kind for LabResult<'_, T> {
    const KIND: &'static str = "LabResult";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Body {
        x: u8,
    }
    impl Kind for Body {
        const KIND: &'static str = "Body";
    }

    #[test]
    fn every_document_opens_with_its_envelope() {
        let json = serde_json::to_string(&Document::new(&Body { x: 1 })).unwrap();
        assert_eq!(
            json,
            r#"{"apiVersion":"playground.dev/v1alpha1","kind":"Body","x":1}"#
        );
        let yaml = serde_saphyr::to_string(&Document::new(&Body { x: 1 })).unwrap();
        assert_eq!(
            yaml,
            "apiVersion: playground.dev/v1alpha1\nkind: Body\nx: 1\n"
        );
        let list = Items { items: &[1, 2] };
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json, serde_json::json!({"items": [1, 2]}));
    }
}
