//! A session record's attributes as the store gave them, escaped: shared by the stores that
//! make them and the context that reads them.

use std::sync::Arc;

/// A session record's attributes: few, so a slice searched in order beats a map.
pub(crate) type Attributes = Option<Arc<[(Arc<str>, Arc<str>)]>>;

/// The value under `key` in `attributes`.
pub(crate) fn attribute<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a str> {
    attributes.as_deref()?.iter().find(|(k, _)| &**k == key).map(|(_, v)| &**v)
}
