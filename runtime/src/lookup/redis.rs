//! A session store in Redis, shared by every instance of a service (feature `redis`).

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::{LookupError, Revocations, Revoked, SessionLookup, SessionRecord, json_record, with_attributes};
use crate::ids::{SessionId, Throttle, error_chain, sanitize};

/// How a session is stored under its key.
///
/// ```
/// use sessionscope::lookup::RecordFormat;
///
/// // `HSET session:<id> user_id alice` (the default)
/// let hash = RecordFormat::hash("user_id");
/// // `SET session:<id> '{"uid": "alice", ...}'`
/// let json = RecordFormat::json("uid");
/// assert_ne!(hash, json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFormat {
    /// A Redis hash; the user id is the value of one field. A session whose field is missing
    /// or empty has no user. The other fields are the record's attributes
    /// ([`SessionRecord::with_attribute`]).
    Hash {
        /// The hash field holding the user id.
        user_field: String,
    },
    /// A string holding a JSON object; the user id is one top-level member (a string or an
    /// integer). A session whose member is missing or `null` has no user. The other
    /// top-level strings, numbers and booleans are the record's attributes.
    Json {
        /// The JSON member holding the user id.
        user_field: String,
    },
}

impl RecordFormat {
    /// A hash whose field `user_field` holds the user id.
    pub fn hash(user_field: impl Into<String>) -> Self {
        Self::Hash { user_field: user_field.into() }
    }

    /// A JSON object whose member `user_field` holds the user id.
    pub fn json(user_field: impl Into<String>) -> Self {
        Self::Json { user_field: user_field.into() }
    }
}

impl Default for RecordFormat {
    fn default() -> Self {
        Self::hash("user_id")
    }
}

/// What went wrong talking to Redis. Messages never contain a session id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The connection URL could not be parsed.
    #[error("invalid redis url")]
    InvalidUrl(#[source] redis::RedisError),
    /// Redis could not be reached, or it answered with an error.
    #[error("redis request failed")]
    Redis(#[from] redis::RedisError),
    /// A stored record does not have the configured format.
    #[error("malformed session record: {0}")]
    Malformed(&'static str),
}

/// Sessions in Redis: a [`SessionLookup`] that many instances share, plus helpers to create
/// and delete sessions with a time-to-live.
///
/// Each session lives under `key_prefix + id` (default prefix `session:`) in the chosen
/// [`RecordFormat`]. One multiplexed connection serves every request and reconnects by itself
/// after Redis restarts. Building the store never needs Redis to be up: the connection is made
/// on first use, and while Redis is down lookups fail fast, so requests go on without a user
/// (outcome `failed`, or `timed_out` when Redis hangs) and recover as soon as Redis is back,
/// without a restart. Failures log a warning at most once per `warn_interval` (default 10 s)
/// with the number of failures since the last one.
///
/// Put a [`CachedLookup`](super::CachedLookup) in front of it: cache hits never reach Redis.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionscope::lookup::RedisStoreError> {
/// use std::time::Duration;
/// use axum::Router;
/// use sessionscope::lookup::{RecordFormat, RedisStore};
/// use sessionscope::{CachedLookup, SessionContextLayer, SessionRecord};
///
/// let store = RedisStore::builder("redis://127.0.0.1:6379")
///     .key_prefix("app:session:")
///     .format(RecordFormat::json("user_id"))
///     .build()?;
/// let id = store.create(&SessionRecord::for_user("alice"), Duration::from_secs(3600)).await?;
/// // hand `id.expose()` to the client (a cookie, say)
///
/// let app: Router = Router::new().layer(SessionContextLayer::new(CachedLookup::new(store.clone())));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    config: ConnectionManagerConfig,
    connection: OnceCell<ConnectionManager>,
    key_prefix: String,
    format: RecordFormat,
    warnings: RateLimitedWarning,
    revocation_channel: String,
    revocations: Revocations,
}

/// Configures a [`RedisStore`]. Made by [`RedisStore::builder`].
#[derive(Debug, Clone)]
pub struct RedisStoreBuilder {
    url: String,
    key_prefix: String,
    format: RecordFormat,
    connection_timeout: Duration,
    response_timeout: Duration,
    warn_interval: Duration,
    revocation_channel: Option<String>,
}

impl RedisStoreBuilder {
    /// The Redis channel deleted sessions are announced on, for every instance's cache
    /// (default: the key prefix followed by `revoked`, so `session:revoked`). Instances that
    /// share sessions must share the channel.
    pub fn revocation_channel(mut self, channel: impl Into<String>) -> Self {
        self.revocation_channel = Some(channel.into());
        self
    }

    /// The prefix of every session key (default `session:`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How sessions are stored (default: a hash with field `user_id`).
    pub fn format(mut self, format: RecordFormat) -> Self {
        self.format = format;
        self
    }

    /// How long one connection attempt may take (default 1 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long Redis may take to answer one command (default 1 s). Requests are bounded
    /// sooner by the layer's lookup timeout; this bounds `create` and `delete`.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The shortest time between two warnings about Redis failures (default 10 s).
    pub fn warn_interval(mut self, interval: Duration) -> Self {
        self.warn_interval = interval;
        self
    }

    /// Builds the store. It does not connect yet, so this succeeds while Redis is down.
    ///
    /// # Errors
    /// If the URL is not a valid Redis URL.
    pub fn build(self) -> Result<RedisStore, RedisStoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(RedisStoreError::InvalidUrl)?;
        // One attempt per (re)connection: a request waits on at most one attempt, and the
        // next request tries again, so recovery needs no backoff schedule to run out.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(self.connection_timeout)
            .set_response_timeout(self.response_timeout);
        let revocation_channel = self.revocation_channel.unwrap_or_else(|| format!("{}revoked", self.key_prefix));
        let revocations = {
            let (client, channel) = (client.clone(), revocation_channel.clone());
            Revocations::started_by(move |sender| {
                tokio::spawn(follow_revocations(client.clone(), channel.clone(), sender));
            })
        };
        let inner = Inner {
            client,
            config,
            connection: OnceCell::new(),
            key_prefix: self.key_prefix,
            format: self.format,
            warnings: RateLimitedWarning::new(self.warn_interval),
            revocation_channel,
            revocations,
        };
        Ok(RedisStore { inner: std::sync::Arc::new(inner) })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.key_prefix)
            .field("format", &self.inner.format)
            .field("connected", &self.inner.connection.initialized())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Starts configuring a store for the Redis at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            key_prefix: "session:".into(),
            format: RecordFormat::default(),
            connection_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            warn_interval: Duration::from_secs(10),
            revocation_channel: None,
        }
    }

    /// A store for the Redis at `url` with the default settings.
    ///
    /// # Errors
    /// If the URL is not a valid Redis URL.
    pub fn new(url: impl Into<String>) -> Result<Self, RedisStoreError> {
        Self::builder(url).build()
    }

    /// Connects now instead of on first use, so the first request does not pay for it.
    /// Failing is harmless: later calls try again.
    ///
    /// # Errors
    /// If Redis cannot be reached.
    pub async fn connect(&self) -> Result<(), RedisStoreError> {
        let result = self.connection().await.map(drop);
        self.observe(result)
    }

    /// Creates a session with a fresh random id ([`SessionId::generate`]), kept for `ttl`.
    ///
    /// # Errors
    /// If Redis cannot be reached or refuses the write.
    pub async fn create(&self, record: &SessionRecord, ttl: Duration) -> Result<SessionId, RedisStoreError> {
        let id = SessionId::generate();
        self.insert(&id, record, ttl).await?;
        Ok(id)
    }

    /// Stores `record` under `id` for `ttl` (at least 1 ms), replacing any earlier record.
    ///
    /// # Errors
    /// If Redis cannot be reached or refuses the write.
    pub async fn insert(&self, id: &SessionId, record: &SessionRecord, ttl: Duration) -> Result<(), RedisStoreError> {
        let key = self.key(id);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut pipe = redis::pipe();
        match &self.inner.format {
            RecordFormat::Hash { user_field } => {
                let user = record.user_id().unwrap_or_default();
                let mut fields = vec![(user_field.as_str(), user)];
                fields.extend(record.attributes().filter(|(k, _)| k != user_field));
                pipe.atomic().del(&key).ignore().hset_multiple(&key, &fields).ignore().pexpire(&key, ttl_ms).ignore();
            }
            RecordFormat::Json { user_field } => {
                let mut object = serde_json::Map::new();
                for (attribute, value) in record.attributes() {
                    object.insert(attribute.to_owned(), value.into());
                }
                object.insert(user_field.clone(), record.user_id().map_or(serde_json::Value::Null, Into::into));
                let value = serde_json::Value::Object(object).to_string();
                pipe.cmd("SET").arg(&key).arg(value).arg("PX").arg(ttl_ms).ignore();
            }
        }
        let result = self.query::<()>(&pipe).await;
        self.observe(result)
    }

    /// Deletes the session and announces it on the revocation channel, so every instance's
    /// [`CachedLookup`](super::CachedLookup) in front of a store on this Redis drops it;
    /// returns whether it existed. Later lookups report it unknown.
    ///
    /// # Errors
    /// If Redis cannot be reached.
    pub async fn delete(&self, id: &SessionId) -> Result<bool, RedisStoreError> {
        let pipe =
            redis::pipe().atomic().del(self.key(id)).publish(&self.inner.revocation_channel, id.expose()).clone();
        let result = self.query::<(u64, u64)>(&pipe).await;
        self.observe(result.map(|(n, _)| n > 0))
    }

    /// The record under `id`, or `None` when Redis does not hold it (unknown or expired).
    ///
    /// # Errors
    /// If Redis cannot be reached or the record does not have the configured format.
    pub async fn get(&self, id: &SessionId) -> Result<Option<SessionRecord>, RedisStoreError> {
        let result = self.read(id).await;
        self.observe(result)
    }

    async fn read(&self, id: &SessionId) -> Result<Option<SessionRecord>, RedisStoreError> {
        let key = self.key(id);
        match &self.inner.format {
            RecordFormat::Hash { user_field } => {
                // The whole hash: the user field and the attributes. No hash, no session (a
                // record without a user still holds its empty user field).
                // Bytes, not strings: a field that is not UTF-8 is skipped, not fatal to the
                // lookup; only the user field must be text.
                let (fields,): (Vec<(Vec<u8>, Vec<u8>)>,) = self.query(redis::pipe().hgetall(&key)).await?;
                if fields.is_empty() {
                    return Ok(None);
                }
                let text = |bytes: &[u8]| std::str::from_utf8(bytes).ok().map(str::to_owned);
                let user = match fields.iter().find(|(k, _)| k.as_slice() == user_field.as_bytes()) {
                    Some((_, user)) => Some(text(user).ok_or(RedisStoreError::Malformed("the user id is not UTF-8"))?),
                    None => None,
                };
                let attributes: Vec<(String, String)> = fields
                    .iter()
                    .filter(|(k, _)| k.as_slice() != user_field.as_bytes())
                    .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
                    .collect();
                let attributes = attributes.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                Ok(Some(with_attributes(record_for(user.filter(|u| !u.is_empty())), attributes)))
            }
            RecordFormat::Json { user_field } => {
                let (value,): (Option<String>,) = self.query(redis::pipe().get(&key)).await?;
                value.map(|text| parse_json_record(&text, user_field)).transpose()
            }
        }
    }

    /// Runs `pipe`, once more when the connection turned out to be broken: the first call
    /// after Redis restarts then already gets the fresh connection the manager makes.
    async fn query<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, RedisStoreError> {
        let mut conn = self.connection().await?;
        match pipe.query_async(&mut conn).await {
            Err(error) if is_broken_connection(&error) => Ok(pipe.query_async(&mut conn).await?),
            result => Ok(result?),
        }
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.inner.key_prefix, id.expose())
    }

    /// The shared connection, made on first use. A failed attempt leaves nothing behind,
    /// so the next call tries again; concurrent callers share one attempt.
    async fn connection(&self) -> Result<ConnectionManager, RedisStoreError> {
        let inner = &*self.inner;
        let made = inner
            .connection
            .get_or_try_init(|| inner.client.get_connection_manager_with_config(inner.config.clone()))
            .await;
        Ok(made?.clone())
    }

    /// Feeds the outcome of one Redis call to the rate-limited warning.
    fn observe<T>(&self, result: Result<T, RedisStoreError>) -> Result<T, RedisStoreError> {
        match &result {
            Ok(_) => self.inner.warnings.success(),
            Err(RedisStoreError::Malformed(_)) => {}
            Err(error) => self.inner.warnings.failure(error),
        }
        result
    }
}

/// Follows the revocation channel for as long as a cache listens: every announced session
/// goes to the caches; on each (re)subscription they drop everything, since what was
/// announced while there was no subscription is lost (a cache keeps serving while Redis is
/// down, and starts afresh when it is back). Reconnects with a growing pause.
async fn follow_revocations(client: redis::Client, channel: String, caches: tokio::sync::broadcast::Sender<Revoked>) {
    use futures_util::StreamExt as _;

    let mut pause = Duration::from_millis(100);
    while caches.receiver_count() > 0 {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match subscribed.await {
            Ok(pubsub) => {
                pause = Duration::from_millis(100);
                let _ = caches.send(Revoked::All);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    if caches.receiver_count() == 0 {
                        return;
                    }
                    // Only a valid id: anything else on the channel is not ours to act on.
                    if let Ok(id) = SessionId::from_bytes(message.get_payload_bytes()) {
                        let _ = caches.send(Revoked::Session(std::sync::Arc::from(id.as_bytes())));
                    }
                }
                // The subscription ended (Redis went away). Caches keep serving meanwhile: no
                // session can be deleted through a Redis that is down, and whatever happens
                // before the next subscription is covered by the "drop everything" it sends.
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn is_broken_connection(error: &redis::RedisError) -> bool {
    !error.is_timeout() && (error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal())
}

fn record_for(user: Option<String>) -> SessionRecord {
    user.map_or_else(SessionRecord::anonymous, SessionRecord::for_user)
}

fn parse_json_record(text: &str, user_field: &str) -> Result<SessionRecord, RedisStoreError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| RedisStoreError::Malformed("not valid JSON"))?;
    let object = value.as_object().ok_or(RedisStoreError::Malformed("not a JSON object"))?;
    let others = object.iter().filter(|(key, _)| *key != user_field);
    json_record(object.get(user_field), others)
        .ok_or(RedisStoreError::Malformed("the user id is neither a string nor an integer"))
}

impl SessionLookup for RedisStore {
    async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        self.get(id).await.map_err(|error| LookupError::with_source("redis session store", error))
    }

    fn revocations(&self) -> Option<Revocations> {
        Some(self.inner.revocations.clone())
    }
}

/// Logs Redis failures at most once per interval, and once when Redis answers again.
struct RateLimitedWarning {
    throttle: Throttle,
    outage: Mutex<Outage>,
}

/// The failures since Redis was last reachable, for the recovery message.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
    failures: u64,
}

impl RateLimitedWarning {
    fn new(interval: Duration) -> Self {
        Self { throttle: Throttle::new(interval), outage: Mutex::default() }
    }

    fn failure(&self, error: &RedisStoreError) {
        {
            let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
            outage.since.get_or_insert_with(Instant::now);
            outage.failures += 1;
        }
        let Some(suppressed) = self.throttle.admit() else { return };
        let error = error_chain(error);
        tracing::warn!(
            target: "sessionscope::redis",
            error = %sanitize(&error),
            suppressed,
            "redis session store unavailable; sessions are looked up without it"
        );
    }

    fn success(&self) {
        let (since, failures) = {
            let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(since) = outage.since.take() else { return };
            (since, std::mem::take(&mut outage.failures))
        };
        self.throttle.reset();
        tracing::info!(
            target: "sessionscope::redis",
            failures,
            down_ms = since.elapsed().as_millis() as u64,
            "redis session store reachable again"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_records_accept_strings_integers_and_null() {
        assert_eq!(parse_json_record(r#"{"uid":"alice"}"#, "uid").unwrap(), SessionRecord::for_user("alice"));
        assert_eq!(parse_json_record(r#"{"uid":42}"#, "uid").unwrap(), SessionRecord::for_user("42"));
        assert_eq!(parse_json_record(r#"{"uid":null}"#, "uid").unwrap(), SessionRecord::anonymous());
        // The other top-level scalars are attributes; arrays and objects are not.
        assert_eq!(
            parse_json_record(r#"{"other":1,"org":"o-1","admin":true,"list":[1],"nested":{}}"#, "uid").unwrap(),
            SessionRecord::anonymous()
                .with_attribute("admin", "true")
                .with_attribute("org", "o-1")
                .with_attribute("other", "1")
        );
        assert!(matches!(parse_json_record("[1]", "uid"), Err(RedisStoreError::Malformed(_))));
        assert!(matches!(parse_json_record(r#"{"uid":true}"#, "uid"), Err(RedisStoreError::Malformed(_))));
        assert!(matches!(parse_json_record("{", "uid"), Err(RedisStoreError::Malformed(_))));
    }

    #[test]
    fn building_needs_no_server_but_a_valid_url() {
        assert!(RedisStore::new("redis://127.0.0.1:1").is_ok());
        assert!(matches!(RedisStore::new("not a url"), Err(RedisStoreError::InvalidUrl(_))));
    }

    #[test]
    fn warnings_are_rate_limited() {
        let warn = RateLimitedWarning::new(Duration::from_secs(60));
        let error = RedisStoreError::Malformed("x");
        for _ in 0..5 {
            warn.failure(&error);
        }
        assert_eq!(warn.outage.lock().unwrap().failures, 5);
        assert_eq!(warn.throttle.admit(), None, "the first was told, the next four held back");
    }
}
