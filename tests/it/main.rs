//! The integration tests: one binary, a module per feature. Feature-gated modules compile
//! only with their feature (`cargo test --workspace --all-features` runs them all).

mod common;
mod macro_common;
#[cfg(feature = "redis")]
mod redis_support;

mod body_deadline;
mod body_integrity;
mod body_properties;
mod client_address;
mod continuity;
mod custom_fields;
mod hostile_input;
mod isolation_under_load;
mod json_logs;
mod keyed_fingerprints;
mod layout;
mod login_logout;
mod lookup_outcomes;
mod macro_error_response;
mod macro_policy;
mod macro_standalone;
mod macro_typed_body;
mod macro_with_layer;
mod panics;
mod quiet_routes;
mod request_summary;
mod services;
mod sources;
mod store_faults;
mod targeted_tracing;

#[cfg(all(feature = "redis", feature = "reqwest"))]
mod across_services;
#[cfg(all(feature = "redis", feature = "reqwest", feature = "opentelemetry"))]
mod otel;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "reqwest-middleware")]
mod outgoing_middleware;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "tower-sessions")]
mod tower_sessions;
#[cfg(all(feature = "opentelemetry", feature = "reqwest"))]
mod trace_context_conformance;
