//! Property: whatever the body, content type, size or framing, the handler receives exactly
//! the bytes sent, and the session id chosen follows the documented rule.
//!
//! The rule, as a model: the body counts only when no header gave an id, the content type is
//! JSON, the body (declared length or chunked) is within the peek limit, and it is one JSON object
//! with exactly one top-level `session_id` field (keys compared after unescaping) holding a
//! valid id string.

use crate::common;

use std::net::SocketAddr;
use std::sync::OnceLock;

use common::{Probe, digest, probe_routes, seeded_store};
use proptest::prelude::*;
use sessionscope::SessionContextLayer;

const LIMIT: usize = 512;

/// One server and client for all cases, on a runtime of their own.
fn harness() -> &'static (tokio::runtime::Runtime, SocketAddr, reqwest::Client) {
    static HARNESS: OnceLock<(tokio::runtime::Runtime, SocketAddr, reqwest::Client)> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let addr = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = probe_routes().layer(SessionContextLayer::new(seeded_store()).body_peek_limit(LIMIT));
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            addr
        });
        (rt, addr, reqwest::Client::builder().no_proxy().build().unwrap())
    })
}

#[derive(Debug, Clone)]
enum Value {
    Id(&'static str),
    Text(String),
    Number(i64),
    Array,
    Object,
    Null,
}

impl Value {
    fn render(&self) -> String {
        match self {
            Self::Id(id) => format!("\"{id}\""),
            Self::Text(text) => serde_json::to_string(text).unwrap(),
            Self::Number(n) => n.to_string(),
            Self::Array => r#"["s-alice", 1]"#.into(),
            Self::Object => r#"{"session_id": "s-alice"}"#.into(),
            Self::Null => "null".into(),
        }
    }

    fn as_id(&self) -> Option<&str> {
        match self {
            Self::Id(id) => Some(id),
            Self::Text(text) if !text.is_empty() && text.len() <= 256 && text.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(text)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: &'static str,
    is_session_key: bool,
    value: Value,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["s-alice", "s-bob", "s-anon", "s-nobody"]).prop_map(Value::Id),
        1 => "[ -~]{0,12}".prop_map(Value::Text),
        1 => "\\PC{0,6}".prop_map(Value::Text),
        1 => any::<i64>().prop_map(Value::Number),
        1 => Just(Value::Array),
        1 => Just(Value::Object),
        1 => Just(Value::Null),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    let session_keys = prop::sample::select(vec![r#""session_id""#, r#""session\u005fid""#, r#""\u0073ession_id""#]);
    let other_keys =
        prop::sample::select(vec![r#""user_id""#, r#""session_idx""#, r#""Session_id""#, r#""pad""#, r#""sessionId""#]);
    prop_oneof![
        (session_keys, value()).prop_map(|(key, value)| Entry { key, is_session_key: true, value }),
        (other_keys, value()).prop_map(|(key, value)| Entry { key, is_session_key: false, value }),
    ]
}

#[derive(Debug, Clone)]
enum Body {
    Object { entries: Vec<Entry>, padding: usize, spaced: bool },
    Bytes(Vec<u8>),
}

impl Body {
    fn render(&self) -> Vec<u8> {
        match self {
            Self::Object { entries, padding, spaced } => {
                let sep = if *spaced { " , " } else { "," };
                let mut parts: Vec<String> =
                    entries.iter().map(|e| format!("{}:{}", e.key, e.value.render())).collect();
                parts.push(format!(r#""padding":"{}""#, "x".repeat(*padding)));
                format!("{{{}}}", parts.join(sep)).into_bytes()
            }
            Self::Bytes(bytes) => bytes.clone(),
        }
    }

    /// The model: the id the documented rule picks from this body, if it were peeked.
    fn model_id(&self) -> Option<&str> {
        let Self::Object { entries, .. } = self else { return None };
        let mut sessions = entries.iter().filter(|e| e.is_session_key);
        let first = sessions.next()?;
        if sessions.next().is_some() {
            return None;
        }
        first.value.as_id()
    }
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => (prop::collection::vec(entry(), 0..5), 0..700usize, any::<bool>())
            .prop_map(|(entries, padding, spaced)| Body::Object { entries, padding, spaced }),
        1 => prop::collection::vec(any::<u8>(), 0..900).prop_map(Body::Bytes),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    ContentLength,
    Chunked(usize),
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![3 => Just(Framing::ContentLength), 1 => (1..4usize).prop_map(Framing::Chunked)]
}

fn content_type() -> impl Strategy<Value = (&'static str, bool)> {
    prop::sample::select(vec![
        ("application/json", true),
        ("application/json; charset=utf-8", true),
        ("application/problem+json", true),
        ("text/plain", false),
        ("application/octet-stream", false),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn body_arrives_byte_identical_and_the_id_follows_the_rule(
        body in body(),
        (content_type, is_json) in content_type(),
        framing in framing(),
        header in prop::option::weighted(0.2, prop::sample::select(vec!["s-bob", "s-anon"])),
    ) {
        let (rt, addr, client) = harness();
        let bytes = body.render();
        let probe: Probe = rt.block_on(async {
            let mut request = client.post(format!("http://{addr}/probe")).header("content-type", content_type);
            if let Some(header) = header {
                request = request.header("x-session-id", header);
            }
            request = match framing {
                Framing::ContentLength => request.body(bytes.clone()),
                Framing::Chunked(pieces) => {
                    let size = bytes.len().div_ceil(pieces).max(1);
                    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(size).map(|c| Ok(c.to_vec())).collect();
                    request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
                }
            };
            request.send().await.unwrap().json().await.unwrap()
        });

        prop_assert_eq!(&probe.body_sha, &digest(&bytes), "the handler got other bytes");
        // Declared length or chunked, a JSON body within the limit is peeked alike.
        let peeked = header.is_none() && is_json && !bytes.is_empty() && bytes.len() <= LIMIT;
        let expected = match header {
            Some(id) => Some(id),
            None if peeked => body.model_id(),
            None => None,
        };
        prop_assert_eq!(probe.handler.session_id.as_deref(), expected);
        if expected.is_some() {
            let source = if header.is_some() { "header" } else { "body" };
            prop_assert_eq!(probe.handler.session_source.as_deref(), Some(source));
        }
    }
}
