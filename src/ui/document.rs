//! The envelope of every document `playground` prints for scripts: `apiVersion` and `kind`
//! first, then the document's own fields. A command's result (`-o json|yaml`) and every event
//! of `up -o json`'s stream carry it, so one parser reads them all and a field can change
//! behind a new `apiVersion` without breaking the scripts that read the old one.
//!
//! It lives here, at the bottom layer, because both the printer (`commands::output`) and the
//! event stream of the [`super::Ui`] wrap what they print in it.

use serde::Serialize;

/// The version of every document's schema.
pub(crate) const API_VERSION: &str = "playground.dev/v1alpha1";

/// A document type and the `kind` it is printed as. The printer takes only `Kind`s, so no
/// command can print a document without its envelope.
pub(crate) trait Kind: Serialize {
    const KIND: &'static str;
}

/// `value` inside its envelope, ready to serialize.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Document<'a, T> {
    api_version: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

impl<'a, T: Kind> Document<'a, T> {
    pub(crate) fn new(body: &'a T) -> Self {
        Document {
            api_version: API_VERSION,
            kind: T::KIND,
            body,
        }
    }
}

/// The body of a list document (`LabList`, `CacheList`): the entries under `items`, as a
/// Kubernetes list has them, so the list can grow fields of its own later.
#[derive(Serialize)]
pub(crate) struct Items<'a, T> {
    pub(crate) items: &'a [T],
}
