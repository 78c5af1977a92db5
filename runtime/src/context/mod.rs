//! The request context: what is known about one request, and the span schema it is written
//! to logs with.
//!
//! [`RequestContext`] is built once per request and shared (`Arc`) by all the code that runs
//! for it. This module holds the data only; finding the session, looking the user up and
//! running code inside the context happen in the modules above it.

mod fields;
mod http;
mod identity;
mod request_context;
mod span;
mod stats;

#[cfg(feature = "json")]
pub(crate) use fields::any_configured as any_custom_fields;
pub use fields::{
    FieldNameError, FieldValues, MAX_CUSTOM_FIELDS, MAX_FIELD_NAME_LEN, MAX_FIELD_VALUE_LEN, check_field_name,
};
pub(crate) use fields::{SessionFields, mark_configured as mark_custom_fields};
pub(crate) use http::{HttpAttributes, peer_address};
pub(crate) use identity::Identity;
pub use identity::{LookupOutcome, SessionSource};
pub use request_context::{MAX_SESSION_CHANGES, RequestContext, RequestContextBuilder};
pub use span::REQUEST_SPAN;
#[cfg(feature = "opentelemetry")]
pub(crate) use span::record_server_error;
pub(crate) use span::{record_session, request_span};
