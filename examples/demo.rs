//! The sessionscope demo: a small service on loopback, driven by a scripted client.
//!
//! ```text
//! cargo run --example demo               # the request-by-request report
//! cargo run --example demo -- --logs     # plus human-readable logs on stderr
//! cargo run --example demo -- --json-logs  # plus JSON logs on stderr
//! ```
//!
//! It logs a user in (creating a session in the embedded in-memory store), then sends
//! requests carrying the session id by header, by query, in a JSON body the layer peeks, in
//! a typed body read by `#[with_session_context]`, one with no session and one with a
//! session the store does not know. For each request it prints what
//! the handler, a service function it calls, and a task it spawns saw of the request
//! context, and checks that they agree. It exits non-zero if anything disagrees.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sessionscope::{
    CachedLookup, MemoryStore, SessionContextLayer, SessionIdSource, SessionRecord, with_session_context,
};

/// What one piece of code saw of the request context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct View {
    correlation_id: String,
    session: Option<String>,
    source: Option<String>,
    user: Option<String>,
    outcome: String,
    phase: Option<String>,
    investigation: Option<String>,
}

impl View {
    fn now() -> Self {
        let ctx = sessionscope::current().expect("inside a request");
        Self {
            correlation_id: ctx.correlation_id().to_string(),
            // The fingerprint, as logs show it: the raw id is never printed.
            session: ctx.session_id().map(|id| id.fingerprint().to_string()),
            source: ctx.session_source().map(|s| s.to_string()),
            user: ctx.user_id().map(str::to_owned),
            outcome: ctx.lookup_outcome().to_string(),
            phase: ctx.agent_phase().map(|p| p.to_string()),
            investigation: ctx.investigation_id().map(|i| i.to_string()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    handler: View,
    service: View,
    spawned: View,
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

#[derive(Serialize, Deserialize)]
struct LoginAnswer {
    session_id: String,
}

/// Creates a session for the user. (A real service checks a password first.)
async fn login(State(store): State<MemoryStore>, Json(login): Json<Login>) -> Json<LoginAnswer> {
    let id = store.create(SessionRecord::for_user(&login.user), Duration::from_secs(3600));
    tracing::info!(user = %login.user, "session created");
    Json(LoginAnswer { session_id: id.expose().to_owned() })
}

/// The handler: reads the context, calls a service, spawns a task.
async fn report() -> Json<Report> {
    tracing::info!("building report");
    let handler = View::now();
    let service = reports::summarize().await;
    let spawned = sessionscope::spawn(async {
        tracing::info!("auditing in a spawned task");
        View::now()
    })
    .await
    .expect("task ran");
    Json(Report { handler, service, spawned })
}

/// A request body that names its session and investigation. The derive tells
/// `#[with_session_context]` which fields they are, so the body is parsed once, by axum.
#[derive(Deserialize, SessionIdSource)]
struct StartInvestigation {
    #[serde(rename = "sessionId")]
    #[session_id]
    session: String,
    #[investigation_id]
    investigation: String,
    goal: String,
}

/// The macro runs the handler inside the request context, takes the session id from the
/// typed body (the layer found none: this body calls it `sessionId`), looks the user up once,
/// answers 401 for a request without a user, and starts the agent phase at `planning`.
#[with_session_context(require_user, operation = "start_investigation", phase = "planning")]
async fn start_investigation(Json(body): Json<StartInvestigation>) -> Json<Report> {
    tracing::info!(goal = %body.goal, "investigation started");
    report().await
}

mod reports {
    /// A service function: no context parameter, yet it knows the request.
    pub async fn summarize() -> super::View {
        tokio::task::yield_now().await;
        tracing::info!("summarizing");
        super::View::now()
    }
}

fn app(store: MemoryStore) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/report", get(report).post(report))
        .route("/investigations", post(start_investigation))
        .with_state(store.clone())
        .layer(SessionContextLayer::new(CachedLookup::new(store)))
}

fn init_logging() {
    let args: Vec<String> = std::env::args().collect();
    let json =
        args.iter().any(|a| a == "--json-logs") || std::env::var("SESSIONSCOPE_DEMO_LOG").as_deref() == Ok("json");
    let text = args.iter().any(|a| a == "--logs");
    let filter = || tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if json {
        // sessionscope's JSON output: the request context at the top level of every line.
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let layer = sessionscope::logging::json_layer_with_writer(std::io::stderr);
        tracing_subscriber::registry().with(filter()).with(layer).init();
    } else if text {
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter()).init();
    }
}

struct Step {
    title: &'static str,
    request: reqwest::RequestBuilder,
    expect_user: Option<&'static str>,
    expect_source: Option<&'static str>,
    expect_outcome: &'static str,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        axum::serve(listener, app(MemoryStore::new()).into_make_service_with_connect_info::<SocketAddr>()).await
    });
    println!("sessionscope demo: service on http://{addr}\n");

    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = |path: &str| format!("http://{addr}{path}");

    let login: LoginAnswer =
        client.post(url("/login")).json(&serde_json::json!({"user": "alice"})).send().await?.json().await?;
    let sid = login.session_id;
    let fingerprint = sessionscope::Fingerprint::of(&sid);
    println!("1. POST /login as alice: session created (fingerprint {fingerprint}; the raw id is never logged)\n");

    let steps = [
        Step {
            title: "GET /report, session id in the X-Session-ID header",
            request: client.get(url("/report")).header("x-session-id", &sid).header("x-correlation-id", "demo-header"),
            expect_user: Some("alice"),
            expect_source: Some("header"),
            expect_outcome: "found",
        },
        Step {
            title: "GET /report?session_id=..., session id in the query",
            request: client.get(url("/report")).query(&[("session_id", &sid)]),
            expect_user: Some("alice"),
            expect_source: Some("query"),
            expect_outcome: "found",
        },
        Step {
            title: "POST /report, session id in the JSON body (peeked by the layer)",
            request: client.post(url("/report")).json(&serde_json::json!({"session_id": sid, "format": "short"})),
            expect_user: Some("alice"),
            expect_source: Some("body"),
            expect_outcome: "found",
        },
        Step {
            title: "POST /investigations, #[with_session_context] reads the typed body",
            request: client.post(url("/investigations")).json(&serde_json::json!({
                "sessionId": sid, "investigation": "inv-checkout-latency", "goal": "find the slow query"
            })),
            expect_user: Some("alice"),
            expect_source: Some("typed_body"),
            expect_outcome: "found",
        },
        Step {
            title: "GET /report with no session",
            request: client.get(url("/report")),
            expect_user: None,
            expect_source: None,
            expect_outcome: "no_session",
        },
        Step {
            title: "GET /report with a session the store does not know",
            request: client.get(url("/report")).header("x-session-id", "bogus-session-123"),
            expect_user: None,
            expect_source: Some("header"),
            expect_outcome: "unknown",
        },
    ];

    let mut failures = 0;
    for (n, step) in steps.into_iter().enumerate() {
        let response = step.request.send().await?;
        let correlation =
            response.headers().get("x-correlation-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
        let status = response.status();
        let report: Report = response.json().await?;
        println!("{}. {} -> {status}, x-correlation-id: {correlation}", n + 2, step.title);
        for (who, view) in
            [("handler", &report.handler), ("service", &report.service), ("spawned task", &report.spawned)]
        {
            println!(
                "     {who:<13} user={:<7} session={:<17} source={:<10} outcome={:<10} phase={:<9} investigation={}",
                view.user.as_deref().unwrap_or("-"),
                view.session.as_deref().unwrap_or("-"),
                view.source.as_deref().unwrap_or("-"),
                view.outcome,
                view.phase.as_deref().unwrap_or("-"),
                view.investigation.as_deref().unwrap_or("-"),
            );
        }
        let continuous = report.handler == report.service && report.handler == report.spawned;
        let expected = report.handler.user.as_deref() == step.expect_user
            && report.handler.source.as_deref() == step.expect_source
            && report.handler.outcome == step.expect_outcome
            && report.handler.correlation_id == correlation;
        println!(
            "     continuity: {}   expected identity: {}\n",
            if continuous { "same context everywhere" } else { "MISMATCH" },
            if expected { "yes" } else { "NO" }
        );
        failures += usize::from(!continuous || !expected);
    }

    server.abort();
    if failures > 0 {
        eprintln!("demo: {failures} request(s) did not behave as expected");
        std::process::exit(1);
    }
    println!("demo: every request kept one context from handler to spawned task.");
    Ok(())
}
