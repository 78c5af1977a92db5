//! Where a layer's custom fields come from: request headers, session record attributes, a
//! hook over the request head.

use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::request::Parts;

use crate::context::{FieldValues, MAX_CUSTOM_FIELDS, SessionFields, check_field_name, mark_custom_fields};

/// A hook that writes custom fields from the request head.
pub(crate) type FieldsHook = Arc<dyn Fn(&Parts, &mut FieldValues) + Send + Sync>;

/// A hook that makes a span of the service's own from the request head.
#[derive(Clone)]
pub(crate) struct MakeSpan(pub(crate) Arc<dyn Fn(&Parts) -> tracing::Span + Send + Sync>);

impl fmt::Debug for MakeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MakeSpan")
    }
}

impl MakeSpan {
    /// The service's span for this request, made inside the request span so that it is its
    /// child.
    pub(crate) fn make(&self, request_span: &tracing::Span, parts: &Parts) -> tracing::Span {
        request_span.in_scope(|| (self.0)(parts))
    }
}

/// The custom fields one layer records.
#[derive(Clone, Default)]
pub(crate) struct FieldSources {
    headers: Vec<(HeaderName, Arc<str>)>,
    session: SessionFields,
    hook: Option<FieldsHook>,
}

impl FieldSources {
    /// Records the value of `header` as `field`.
    ///
    /// # Panics
    /// If `field` is refused by `check_field_name` or the layer already has
    /// `MAX_CUSTOM_FIELDS` fields.
    pub(crate) fn add_header(&mut self, header: HeaderName, field: &str) {
        self.check_new(field);
        self.headers.push((header, Arc::from(field)));
    }

    /// Records the session record's attribute `attribute` as `field`.
    ///
    /// # Panics
    /// As [`add_header`](Self::add_header).
    pub(crate) fn add_session(&mut self, attribute: &str, field: &str) {
        self.check_new(field);
        let mut all = self.session.as_deref().unwrap_or_default().to_vec();
        all.push((Arc::from(attribute), Arc::from(field)));
        self.session = Some(all.into());
    }

    pub(crate) fn set_hook(&mut self, hook: FieldsHook) {
        mark_custom_fields();
        self.hook = Some(hook);
    }

    fn check_new(&self, field: &str) {
        mark_custom_fields();
        if let Err(error) = check_field_name(field) {
            panic!("custom field `{field}`: {error}");
        }
        let names =
            self.headers.iter().map(|(_, f)| f).chain(self.session.iter().flat_map(|s| s.iter().map(|(_, f)| f)));
        let count = self.headers.len() + self.session.as_deref().map_or(0, <[_]>::len);
        assert!(names.into_iter().all(|name| &**name != field), "custom field `{field}` is configured twice");
        assert!(count < MAX_CUSTOM_FIELDS, "at most {MAX_CUSTOM_FIELDS} custom fields");
    }

    /// The fields of this request's head: its headers' (the first value of each; one that
    /// is not visible text is left out), then the hook's.
    pub(crate) fn read(&self, parts: &Parts) -> FieldValues {
        let mut values = FieldValues::default();
        for (header, field) in &self.headers {
            if let Some(value) = parts.headers.get(header).and_then(|value| value.to_str().ok()) {
                values.insert(field, value);
            }
        }
        if let Some(hook) = &self.hook {
            hook(parts, &mut values);
        }
        values
    }

    /// Which session attributes become fields, for the context.
    pub(crate) fn session(&self) -> SessionFields {
        self.session.clone()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.session.is_none() && self.hook.is_none()
    }
}

impl fmt::Debug for FieldSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldSources")
            .field("headers", &self.headers)
            .field("session", &self.session)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}
