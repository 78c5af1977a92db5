//! Test helpers: capture every event with the fields of its spans, and assert continuity.
//!
//! Install the capture once per test binary with [`capture()`]; it is a global subscriber,
//! so it sees events from every thread and task of a multi-threaded server. Tests that run
//! side by side tell their events apart by correlation id.
//!
//! ```
//! use sessionscope::testing;
//!
//! let capture = testing::capture();
//! let ctx = sessionscope::RequestContext::builder()
//!     .span(tracing::info_span!("request", correlation_id = "doc-1", user.id = "alice"))
//!     .build();
//! let _in_span = ctx.span().enter();
//! tracing::info!("hello");
//! let events = capture.events_for("doc-1");
//! testing::assert_every_event_has(&events, &[("user.id", "alice")]);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// One event as a test sees it: its own fields and those of every span it was in.
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    /// The event's level.
    pub level: tracing::Level,
    /// The event's target.
    pub target: String,
    /// The event's own fields (the message is under `message`).
    pub fields: BTreeMap<String, String>,
    /// The spans the event was in, outermost first: name and fields.
    pub spans: Vec<(String, BTreeMap<String, String>)>,
}

impl CapturedEvent {
    /// A field of the event, else of the innermost span that has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .or_else(|| self.spans.iter().rev().find_map(|(_, fields)| fields.get(name)))
            .map(String::as_str)
    }

    /// The event's message.
    pub fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }

    /// Every field of the event and its spans, as one line (for assertion messages and for
    /// checking that a value appears nowhere).
    pub fn render(&self) -> String {
        let mut out = format!("{} {} {:?}", self.level, self.target, self.fields);
        for (name, fields) in &self.spans {
            out.push_str(&format!(" {name}{fields:?}"));
        }
        out
    }
}

/// The events captured so far. Cloning gives another handle to the same record.
#[derive(Clone, Default)]
pub struct Capture {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture").field("events", &self.all().len()).finish()
    }
}

impl Capture {
    /// A new, empty capture and the layer that fills it (for composing your own subscriber).
    pub fn new() -> (Self, CaptureLayer) {
        let capture = Self::default();
        let layer = CaptureLayer { capture: capture.clone() };
        (capture, layer)
    }

    /// Every event captured so far.
    pub fn all(&self) -> Vec<CapturedEvent> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The events whose `correlation_id` (on the event or a span) is `id`.
    pub fn events_for(&self, id: &str) -> Vec<CapturedEvent> {
        self.all().into_iter().filter(|e| e.field("correlation_id") == Some(id)).collect()
    }

    fn push(&self, event: CapturedEvent) {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).push(event);
    }
}

/// Installs (once per process) a global subscriber that captures every event at every level,
/// and returns its capture.
///
/// # Panics
/// If another global subscriber was installed first.
pub fn capture() -> Capture {
    static GLOBAL: OnceLock<Capture> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let (capture, layer) = Capture::new();
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
            capture
        })
        .clone()
}

/// Asserts that there is at least one event and that every event carries each `(field, value)`.
///
/// # Panics
/// With the offending event rendered, when one lacks a field or holds another value.
pub fn assert_every_event_has(events: &[CapturedEvent], expected: &[(&str, &str)]) {
    assert!(!events.is_empty(), "no events were captured");
    for event in events {
        for (name, value) in expected {
            assert_eq!(event.field(name), Some(*value), "field `{name}` on event: {}", event.render());
        }
    }
}

/// The [`tracing_subscriber::Layer`] behind [`Capture`].
#[derive(Debug, Clone)]
pub struct CaptureLayer {
    capture: Capture,
}

#[derive(Default)]
struct SpanFields(BTreeMap<String, String>);

struct Collect<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        attrs.record(&mut Collect(&mut fields.0));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Collect(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Collect(&mut fields));
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| {
                        let fields = span.extensions().get::<SpanFields>().map(|f| f.0.clone()).unwrap_or_default();
                        (span.name().to_owned(), fields)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let meta = event.metadata();
        self.capture.push(CapturedEvent { level: *meta.level(), target: meta.target().to_owned(), fields, spans });
    }
}

/// The session id the layer's body peek finds in a complete JSON body (top-level field
/// `session_id`), for benchmarks and property tests that measure or check the peek alone.
///
/// ```
/// let id = sessionscope::testing::peek_body_session_id(br#"{"session_id":"s-1","n":1}"#);
/// assert_eq!(id.unwrap().expose(), "s-1");
/// ```
pub fn peek_body_session_id(body: &[u8]) -> Option<crate::ids::SessionId> {
    match crate::request::body_peek::peek_body(body, "session_id") {
        crate::request::body_peek::BodyPeek::Found(id) => Some(id),
        _ => None,
    }
}
