//! Hostile values in every source, sent as raw bytes over TCP: no panic, no raw value in any
//! log line, and a documented outcome for each (absent, or 400 when a session is required).

use crate::common;

use axum::Router;
use common::{Probe, TestServer, probe_routes, seeded_store};
use sessionscope::SessionContextLayer;
use sessionscope::testing;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A marker that must never reach a log line.
const MARK: &str = "HOSTILEmark";

struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn probe(&self) -> Probe {
        assert_eq!(self.status, 200, "{}", self.head);
        serde_json::from_slice(&self.body).expect("probe JSON")
    }

    /// The HTTP parser itself refused the request: nothing of ours (or the handler) ran.
    fn refused_by_parser(&self) -> bool {
        self.status == 400 && self.header("x-correlation-id").is_none()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends raw request bytes and reads the whole answer (the request says `Connection: close`).
async fn raw(srv: &TestServer, request: &[u8]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = answer[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

fn get(path: &str, headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n").into_bytes();
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request
}

fn post_json(body: &[u8], correlation: &str) -> Vec<u8> {
    let mut request = format!(
        "POST /probe HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-type: application/json\r\nx-correlation-id: {correlation}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

async fn servers() -> (TestServer, TestServer) {
    let open = TestServer::start(probe_routes().layer(SessionContextLayer::new(seeded_store()))).await;
    let strict: Router = probe_routes().layer(SessionContextLayer::new(seeded_store()).require_session());
    (open, TestServer::start(strict).await)
}

fn assert_never_logged(capture: &testing::Capture, needle: &str) {
    for event in capture.all() {
        assert!(!event.render().contains(needle), "a hostile value reached a log line: {}", event.render());
    }
}

#[tokio::test]
async fn hostile_session_ids_are_absent_or_400_and_never_logged() {
    let capture = testing::capture();
    let (open, strict) = servers().await;
    let long = format!("{MARK}{}", "x".repeat(64 * 1024));
    let at_limit = "a".repeat(256);
    let past_limit = format!("{MARK}{}", "a".repeat(257 - MARK.len()));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("non-UTF-8 bytes", format!("{MARK}-").into_bytes().into_iter().chain([0xff, 0xfe, 0x80]).collect()),
        ("DEL control byte", format!("{MARK}\x7f").into_bytes()),
        ("tab inside", format!("{MARK}\tx").into_bytes()),
        ("64 KiB value", long.into_bytes()),
        ("257 bytes", past_limit.into_bytes()),
        ("quote and backslash are visible ASCII: valid", br#"a"b\c"#.to_vec()),
    ];
    for (name, value) in &cases {
        let answer = raw(&open, &get("/probe", &[("x-session-id", value)])).await;
        if *name == "DEL control byte" {
            assert!(answer.refused_by_parser(), "{name}: {}", answer.head);
            continue;
        }
        let probe = answer.probe();
        let valid = name.ends_with("valid");
        assert_eq!(probe.handler.session_id.is_some(), valid, "{name}");
        assert_eq!(probe.handler.user_id, None, "{name}");
        let strict_answer = raw(&strict, &get("/probe", &[("x-session-id", value)])).await;
        assert_eq!(strict_answer.status, if valid { 200 } else { 400 }, "{name}: {}", strict_answer.head);
        assert!(strict_answer.header("x-correlation-id").is_some(), "{name}");
    }
    let ok = raw(&open, &get("/probe", &[("x-session-id", at_limit.as_bytes())])).await.probe();
    assert_eq!(ok.handler.session_id.as_deref(), Some(at_limit.as_str()), "256 bytes is the limit, inclusive");
    assert_never_logged(&capture, MARK);
}

#[tokio::test]
async fn line_breaks_in_headers_are_refused_before_any_handler_runs() {
    let (open, _) = servers().await;
    for value in [&b"s-anon\r\nx-user-id: admin"[..], b"a\rb", b"a\nb", b"a\x00b", b"s-anon\nx-user-id: admin"] {
        let mut request = get("/probe", &[]);
        // Splice the header in by hand: the request helper writes values verbatim.
        let at = request.len() - 2;
        let mut header = b"x-session-id: ".to_vec();
        header.extend_from_slice(value);
        header.extend_from_slice(b"\r\n");
        request.splice(at..at, header);
        let answer = raw(&open, &request).await;
        if answer.status == 200 {
            // The line break ended the header: what follows is just another header, and a
            // header never sets the user.
            let probe = answer.probe();
            assert_eq!(probe.handler.user_id, None, "{value:?}");
            assert_ne!(probe.handler.session_id.as_deref(), Some(std::str::from_utf8(value).unwrap_or_default()));
        } else {
            assert!(answer.refused_by_parser(), "{value:?}: {}", answer.head);
        }
    }
    // The server is still serving.
    let probe = raw(&open, &get("/probe", &[("x-session-id", b"s-alice")])).await.probe();
    assert_eq!(probe.handler.user_id.as_deref(), Some("alice"));
}

#[tokio::test]
async fn hostile_correlation_ids_and_user_agents_are_replaced_or_escaped() {
    let capture = testing::capture();
    let (open, _) = servers().await;
    let refused = raw(&open, &get("/probe", &[("x-correlation-id", format!("{MARK}\x7f").as_bytes())])).await;
    assert!(refused.refused_by_parser(), "DEL never gets past the HTTP parser");
    for value in [
        format!("{MARK} space").into_bytes(),
        format!("{MARK}\tx").into_bytes(),
        [MARK.as_bytes(), &[0xc3, 0x28]].concat(),
    ] {
        let answer = raw(&open, &get("/probe", &[("x-correlation-id", &value)])).await;
        let echoed = answer.header("x-correlation-id").unwrap().to_owned();
        assert!(!echoed.contains(MARK), "a malformed correlation id is replaced, not echoed");
        assert_eq!(echoed.len(), 36);
    }
    let agent = [b"agent/1 ".as_slice(), &[0xff, b'\t', 0xc3], b" end"].concat();
    let probe = raw(&open, &get("/probe", &[("user-agent", &agent), ("x-correlation-id", b"ua-1")])).await.probe();
    let shown = probe.handler.user_agent.unwrap();
    assert!(shown.starts_with("agent/1 ") && shown.ends_with(" end"), "{shown:?}");
    assert!(!shown.chars().any(char::is_control), "control characters escaped: {shown:?}");
    for event in capture.events_for("ua-1") {
        let agent = event.field("user_agent.original").unwrap();
        assert!(!agent.chars().any(char::is_control), "{agent:?}");
    }
    assert_never_logged(&capture, MARK);
}

#[tokio::test]
async fn invisible_characters_in_logs_are_escaped() {
    let capture = testing::capture();
    let (open, _) = servers().await;
    // "admin" written right to left after U+202E, and a U+2028 line separator, as UTF-8 bytes.
    let agent = "evil\u{202e}nimda\u{2028}INFO forged".as_bytes();
    let probe =
        raw(&open, &get("/probe", &[("user-agent", agent), ("x-correlation-id", b"invisible-1")])).await.probe();
    let shown = probe.handler.user_agent.unwrap();
    assert_eq!(shown, "evil\\u{202e}nimda\\u{2028}INFO forged", "escaped where the handler reads it");
    let events = capture.events_for("invisible-1");
    assert!(!events.is_empty());
    for event in events {
        let line = event.render();
        assert!(!line.contains('\u{202e}') && !line.contains('\u{2028}'), "escaped in every line: {line:?}");
    }
}

#[tokio::test]
async fn thousands_of_query_pairs() {
    let (open, _) = servers().await;
    let mut query: String = (0..5000).map(|n| format!("k{n}=v{n}&")).collect();
    query.push_str("session_id=s-alice");
    let probe = raw(&open, &get(&format!("/probe?{query}"), &[])).await.probe();
    assert_eq!(
        (probe.handler.session_source.as_deref(), probe.handler.user_id.as_deref()),
        (Some("query"), Some("alice"))
    );

    // The first occurrence of the name is the query's value; a bad first one is not skipped.
    let probe = raw(&open, &get("/probe?session_id=bad%20id&session_id=s-alice", &[])).await.probe();
    assert_eq!(probe.handler.session_id, None);
}

#[tokio::test]
async fn hostile_json_bodies() {
    let capture = testing::capture();
    let (open, strict) = servers().await;
    let deep = "[".repeat(20_000) + &"]".repeat(20_000);
    let cases: Vec<(String, Option<&str>, u16)> = vec![
        // Nesting past serde_json's depth limit: no full parse accepts it, so no id (400).
        (format!(r#"{{"a":{deep},"session_id":"s-alice"}}"#), None, 400),
        (deep.clone(), None, 401),
        (format!(r#"{{"session_id":{deep}}}"#), None, 400),
        (r#"{"session_id":12345}"#.into(), None, 400),
        (r#"{"session_id":["s-alice"]}"#.into(), None, 400),
        (r#"{"session_id":{"id":"s-alice"}}"#.into(), None, 400),
        (r#"{"session_id":"s-alice","session_id":"s-bob"}"#.into(), None, 400),
        (format!(r#"{{"session_id":"{MARK} with space"}}"#), None, 400),
        (format!(r#"{{"session_id":"{MARK}\u0000"}}"#), None, 400),
        // Cut short: not JSON, so a malformed source (400), no id taken.
        (r#"{"session_id":"s-alice""#.into(), None, 400),
    ];
    for (n, (body, expected, strict_status)) in cases.iter().enumerate() {
        let answer = raw(&open, &post_json(body.as_bytes(), &format!("hb-{n}"))).await;
        let probe = answer.probe();
        assert_eq!(probe.handler.session_id.as_deref(), *expected, "case {n}");
        assert_eq!(probe.body_sha, common::digest(body.as_bytes()), "case {n}: body arrives whole");
        let strict_answer = raw(&strict, &post_json(body.as_bytes(), &format!("hbs-{n}"))).await;
        assert_eq!(strict_answer.status, *strict_status, "case {n}: {}", String::from_utf8_lossy(&strict_answer.body));
    }
    assert_never_logged(&capture, MARK);
}
