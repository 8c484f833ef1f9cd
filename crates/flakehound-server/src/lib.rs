//! The team server (`flakehound serve`): CI uploads reports with a token into one shared store
//! (PostgreSQL for a team, SQLite by default), and the read API serves the same verdicts as the
//! command line.
//!
//! # Shape
//! - axum on tokio. The store is synchronous (see `flakehound-store`): every store call runs in
//!   `spawn_blocking`, at most [`Config::workers`] at a time (a semaphore), so 200 concurrent
//!   uploads queue here instead of opening 200 database connections.
//! - Tokens ([`tokens`]) are checked per request against the store's [`Admin`] records (a small
//!   pool of handles), so every replica on one database agrees on them at once: a revoked token
//!   stops working on the next request everywhere.
//! - Analysis answers (`/api/v1/report`, incidents, clusters) are cached per project: an upload
//!   to this replica invalidates its project's entries, and entries live at most
//!   [`Config::cache_ttl`] so that uploads through other replicas show up after that long.
//! - Uploads keep `ingest`'s guarantees: each report all-or-nothing, idempotent by content, a
//!   bad file rejected with its reason while the others land. When the store fails the answer is
//!   503 with `Retry-After`: a retry of the whole upload completes it (stored reports are
//!   duplicates the second time).

mod alerts_api;
pub mod background;
mod codeowners;
mod dashboard;
pub mod metrics;
pub mod tokens;
mod upload;
mod writer;

pub use alerts_api::AlertsApi;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flakehound_store::QuarantineRecord;
use flakehound_store::{Admin, Location, Scope, TokenInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The header naming a project's public upload id (see [`Shared::authorize_public`]).
pub const PUBLIC_ID_HEADER: &str = "x-flakehound-upload-id";

/// The OpenAPI 3 description of API v1, served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The store: a SQLite file or a PostgreSQL URL.
    pub location: Location,
    /// Largest request body accepted (413 beyond).
    pub body_limit: usize,
    /// Requests per minute per token (429 beyond); 0: no limit.
    pub rate_limit: u32,
    /// Requests per minute per public upload id (429 beyond); 0: no limit.
    pub public_rate_limit: u32,
    /// Store operations at once (each holds a database connection while it runs).
    pub workers: usize,
    /// Longest an analysis answer is served from the cache.
    pub cache_ttl: Duration,
    /// Called with the project's name after each group of uploads is committed, from the
    /// project's writer thread, after the uploads were answered. It must return at once (hand
    /// the work to another thread): alerting (`flakehound serve --alerts`) queues an evaluation.
    pub after_commit: Option<CommitHook>,
    /// How often the retention job runs (see [`background`]); `None`: never on this replica.
    pub retention_interval: Option<Duration>,
    /// Alerting's configuration per project through the API (`/api/v1/alerts/…`): how a
    /// configuration is checked, and the server's own file. Without it, `PUT
    /// /api/v1/alerts/config` answers 503.
    pub alerts: Option<AlertsApi>,
}

/// See [`Config::after_commit`].
#[derive(Clone)]
pub struct CommitHook(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for CommitHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitHook")
    }
}

impl Config {
    pub fn new(location: Location) -> Config {
        Config {
            location,
            body_limit: 100 * 1024 * 1024,
            rate_limit: 600,
            public_rate_limit: 60,
            workers: 8,
            cache_ttl: Duration::from_secs(60),
            after_commit: None,
            retention_interval: Some(Duration::from_secs(3600)),
            alerts: None,
        }
    }
}

/// An error answer: JSON `{"error": {"status": …, "message": …}}`, with `Retry-After` when a
/// retry can succeed.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The store failed: the client should retry.
    pub fn unavailable(e: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the store is unavailable, retry later: {e}"),
            retry_after: Some(5),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "status": self.status.as_u16(), "message": self.message }
        });
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// A token bucket of one token's requests.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A cached analysis answer.
struct Cached {
    generation: u64,
    at: Instant,
    body: Arc<String>,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) metrics: metrics::Metrics,
    gate: tokio::sync::Semaphore,
    admins: Mutex<Vec<Box<dyn Admin>>>,
    buckets: Mutex<HashMap<i64, Bucket>>,
    touched: Mutex<HashMap<i64, Instant>>,
    cache: Mutex<HashMap<(String, &'static str), Cached>>,
    generations: Mutex<HashMap<String, u64>>,
    pub(crate) writers: writer::Writers,
}

pub(crate) type AppState = Arc<Shared>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Runs `f` on a blocking thread once a worker slot is free.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Shared) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }

    /// Runs `f` with a handle on the server's records (pooled; a handle whose call failed is
    /// dropped, since its connection may be broken).
    pub(crate) fn with_admin<T>(
        &self,
        f: impl FnOnce(&mut dyn Admin) -> flakehound_store::Result<T>,
    ) -> ApiResult<T> {
        let pooled = lock(&self.admins).pop();
        let mut admin = match pooled {
            Some(a) => a,
            None => flakehound_store::open_admin(&self.config.location)
                .map_err(ApiError::unavailable)?,
        };
        match f(admin.as_mut()) {
            Ok(v) => {
                let mut pool = lock(&self.admins);
                if pool.len() < self.config.workers {
                    pool.push(admin);
                }
                Ok(v)
            }
            Err(e) => Err(ApiError::unavailable(e)),
        }
    }

    /// Opens the evidence of `project` (for one request, on a blocking thread).
    pub(crate) fn store(&self, project: &str) -> ApiResult<Box<dyn flakehound_store::Store>> {
        flakehound_store::open(&self.config.location, project).map_err(ApiError::unavailable)
    }

    /// Notes that `project`'s evidence changed: its cached answers are stale.
    pub(crate) fn changed(&self, project: &str) {
        *lock(&self.generations)
            .entry(project.to_string())
            .or_default() += 1;
    }

    pub(crate) fn generation(&self, project: &str) -> u64 {
        lock(&self.generations)
            .get(project)
            .copied()
            .unwrap_or_default()
    }

    /// Checks the request's token: it must exist, be neither revoked nor expired, have one of
    /// `scopes`, belong to the project the request names (`X-Flakehound-Project`, when given),
    /// and be within its rate.
    pub(crate) async fn authorize(
        self: &Arc<Self>,
        headers: &HeaderMap,
        scopes: &'static [Scope],
    ) -> ApiResult<TokenInfo> {
        let r = self.check_token(headers, scopes).await;
        if let Err(e) = &r {
            self.metrics.reject(match e.status {
                StatusCode::UNAUTHORIZED => "unauthorized",
                StatusCode::FORBIDDEN => "forbidden",
                StatusCode::TOO_MANY_REQUESTS => "rate_limited",
                _ => "store_unavailable",
            });
        }
        r
    }

    /// [`Shared::authorize`], or, for a request without `Authorization`, the project's public
    /// upload id in `X-Flakehound-Upload-Id` (fork pull requests have no secrets): what it may
    /// do is upload and read the quarantine, at most [`Config::public_rate_limit`] requests a
    /// minute per id. The answer stands for an upload-scope token numbered 0.
    pub(crate) async fn authorize_public(
        self: &Arc<Self>,
        headers: &HeaderMap,
        scopes: &'static [Scope],
    ) -> ApiResult<TokenInfo> {
        let public = headers.get(PUBLIC_ID_HEADER);
        if headers.contains_key(header::AUTHORIZATION) || public.is_none() {
            return self.authorize(headers, scopes).await;
        }
        let r = self.check_public(headers, public).await;
        if let Err(e) = &r {
            self.metrics.reject(match e.status {
                StatusCode::UNAUTHORIZED => "unauthorized",
                StatusCode::FORBIDDEN => "forbidden",
                StatusCode::TOO_MANY_REQUESTS => "rate_limited",
                _ => "store_unavailable",
            });
        }
        r
    }

    async fn check_public(
        self: &Arc<Self>,
        headers: &HeaderMap,
        public: Option<&HeaderValue>,
    ) -> ApiResult<TokenInfo> {
        let id = public
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    format!("the {PUBLIC_ID_HEADER} header must be a public upload id"),
                )
            })?
            .to_string();
        let lookup = id.clone();
        let project = self
            .blocking(move |s| s.with_admin(|a| a.public_upload_project(&lookup)))
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unknown public upload id (turned off, or replaced by a new one: `flakehound server project public-upload`)",
                )
            })?;
        if let Some(p) = headers
            .get("x-flakehound-project")
            .and_then(|v| v.to_str().ok())
            .filter(|p| *p != project)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this public upload id belongs to project {project:?}, not {p:?}"),
            ));
        }
        // A bucket per id, apart from the tokens' (ids are positive).
        let digest = tokens::hash_secret(&id);
        let key = -1 - i64::from_str_radix(&digest[..15], 16).unwrap_or(0);
        self.take_rate_at(key, self.config.public_rate_limit, "public upload id")?;
        let prefix = tokens::shown_prefix(&id);
        Ok(TokenInfo {
            id: 0,
            project,
            scope: Scope::Upload,
            label: Some(format!("public upload id {prefix}")),
            prefix,
            created_at: String::new(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        })
    }

    async fn check_token(
        self: &Arc<Self>,
        headers: &HeaderMap,
        scopes: &'static [Scope],
    ) -> ApiResult<TokenInfo> {
        let unauthorized = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            if headers.contains_key(PUBLIC_ID_HEADER) {
                return Err(unauthorized(
                    "a public upload id may only upload and read the quarantine; this endpoint needs `Authorization: Bearer TOKEN`".into(),
                ));
            }
            return Err(unauthorized(
                "missing `Authorization: Bearer TOKEN` header (create a token with `flakehound server token create`)".into(),
            ));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                unauthorized("the Authorization header must be `Bearer TOKEN`".into())
            })?;
        let hash = tokens::hash_secret(secret);
        let project = headers
            .get("x-flakehound-project")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        self.check_hash(hash, project.as_deref(), scopes).await
    }

    /// [`Shared::authorize`] for a token known by its hash (a dashboard session kept in the
    /// store keeps only that), naming the project the request asks for, if any.
    pub(crate) async fn check_hash(
        self: &Arc<Self>,
        hash: String,
        asked_project: Option<&str>,
        scopes: &'static [Scope],
    ) -> ApiResult<TokenInfo> {
        let unauthorized = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let token = self
            .blocking(move |s| s.with_admin(|a| a.token_by_hash(&hash)))
            .await?
            .ok_or_else(|| unauthorized("unknown token".into()))?;
        let now = tokens::stamp(jiff::Timestamp::now());
        if let Some(at) = &token.revoked_at {
            return Err(unauthorized(format!(
                "token {} was revoked at {at}",
                token.prefix
            )));
        }
        if let Some(at) = token.expires_at.as_ref().filter(|at| **at <= now) {
            return Err(unauthorized(format!(
                "token {} expired at {at}; create a new one",
                token.prefix
            )));
        }
        if !scopes.contains(&token.scope) {
            let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this token's scope is {}; this endpoint needs {}",
                    token.scope,
                    wanted.join(" or ")
                ),
            ));
        }
        if let Some(p) = asked_project.filter(|p| *p != token.project) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this token belongs to project {:?}, not {p:?}",
                    token.project
                ),
            ));
        }
        self.take_rate(token.id)?;
        // Last use, at most once a minute per token per replica (a write per request would
        // put the token table on every upload's path).
        let due = {
            let mut touched = lock(&self.touched);
            let due = touched
                .get(&token.id)
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
            if due {
                touched.insert(token.id, Instant::now());
            }
            due
        };
        if due {
            let id = token.id;
            // Best effort: a failure to note the use does not refuse the request.
            let _ = self
                .blocking(move |s| s.with_admin(|a| a.touch_token(id, &now)))
                .await;
        }
        Ok(token)
    }

    fn take_rate(&self, id: i64) -> ApiResult<()> {
        self.take_rate_at(id, self.config.rate_limit, "token")
    }

    fn take_rate_at(&self, id: i64, rate: u32, what: &str) -> ApiResult<()> {
        if rate == 0 {
            return Ok(());
        }
        let per_sec = f64::from(rate) / 60.0;
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(id).or_insert(Bucket {
            tokens: f64::from(rate),
            at: Instant::now(),
        });
        let now = Instant::now();
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(f64::from(rate));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - b.tokens) / per_sec).ceil() as u64;
        Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("rate limit of {rate} requests per minute for this {what} reached"),
            retry_after: Some(wait.max(1)),
        })
    }

    /// A cached analysis answer of `project`, or `make`'s (then cached).
    async fn cached(
        self: &Arc<Self>,
        project: String,
        kind: &'static str,
        make: impl FnOnce(&mut dyn flakehound_store::Store) -> ApiResult<String> + Send + 'static,
    ) -> ApiResult<Arc<String>> {
        let generation = self.generation(&project);
        let key = (project.clone(), kind);
        if let Some(c) = lock(&self.cache).get(&key) {
            if c.generation == generation && c.at.elapsed() < self.config.cache_ttl {
                return Ok(c.body.clone());
            }
        }
        let body = Arc::new(
            self.blocking(move |s| {
                let mut store = s.store(&project)?;
                make(store.as_mut())
            })
            .await?,
        );
        lock(&self.cache).insert(
            key,
            Cached {
                generation,
                at: Instant::now(),
                body: body.clone(),
            },
        );
        Ok(body)
    }
}

/// The server's routes over `config`'s store. Fails when the store cannot be opened (a wrong
/// URL is an error at startup, not on the first request). Call it outside an async runtime:
/// the PostgreSQL client blocks (see `flakehound-store-postgres`).
pub fn router(config: Config) -> anyhow::Result<Router> {
    Ok(app(config)?.0)
}

/// The routes and their shared state (kept by [`run`] to close the store handles off the
/// runtime's threads at shutdown).
fn app(config: Config) -> anyhow::Result<(Router, AppState)> {
    let admin = flakehound_store::open_admin(&config.location)?;
    let body_limit = config.body_limit;
    let writers = writer::Writers::new(config.location.clone(), config.after_commit.clone());
    let state: AppState = Arc::new(Shared {
        gate: tokio::sync::Semaphore::new(config.workers.max(1)),
        admins: Mutex::new(vec![admin]),
        config,
        metrics: metrics::Metrics::default(),
        buckets: Mutex::default(),
        touched: Mutex::default(),
        cache: Mutex::default(),
        generations: Mutex::default(),
        writers,
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/uploads", post(upload::upload))
        .route("/api/v1/uploads/{id}", get(get_upload))
        .route("/api/v1/report", get(report))
        .route("/api/v1/tests/{*id}", get(test))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/clusters", get(clusters))
        .route("/api/v1/quarantine", get(quarantine_list))
        .route(
            "/api/v1/quarantine/{*test}",
            axum::routing::put(quarantine_put).delete(quarantine_delete),
        )
        .route("/api/v1/audit/quarantine", get(quarantine_audit))
        .merge(alerts_api::routes())
        .merge(codeowners::routes())
        .fallback(not_found)
        .with_state(state.clone())
        // The dashboard's pages at `/` (a browser signs in with a read or admin token).
        .merge(flakehound_dashboard::router(
            Arc::new(dashboard::ServerBackend(state.clone())),
            flakehound_dashboard::Access::SignIn,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), track));
    Ok((router, state))
}

/// Counts and logs every request: route, status, latency.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let uri = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    let labels = metrics::RouteLabels { route, status };
    state.metrics.requests.get_or_create(&labels).inc();
    state.metrics.latency.get_or_create(&labels).observe(secs);
    tracing::info!(
        method = %method,
        path = %uri,
        status,
        ms = (secs * 1000.0).round() as u64,
        "request"
    );
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the store answers.
async fn readyz(State(state): State<AppState>) -> ApiResult<&'static str> {
    state
        .blocking(|s| s.with_admin(|a| a.server_projects().map(|_| ())))
        .await?;
    Ok("ready\n")
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {} (the API is described at /api/v1/openapi.json)",
            req.method(),
            req.uri().path()
        ),
    )
}

pub(crate) const READ: &[Scope] = &[Scope::Read, Scope::Admin];

/// The answer of a DELETE: 204 when `removed`, else 404 with `missing` (what was not there).
pub(crate) fn deleted(removed: bool, missing: impl Into<String>) -> ApiResult<Response> {
    if removed {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, missing))
    }
}

pub(crate) fn bad_query(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("invalid query string: {}", e.body_text()),
    )
}

pub(crate) fn bad_path(e: axum::extract::rejection::PathRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("invalid path: {}", e.body_text()),
    )
}
const UPLOAD_OR_READ: &[Scope] = &[Scope::Upload, Scope::Read, Scope::Admin];

fn json_response(body: Arc<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.as_str().to_string(),
    )
        .into_response()
}

async fn get_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, UPLOAD_OR_READ).await?;
    let Path(id) = id.map_err(bad_path)?;
    let project = token.project.clone();
    let found = state
        .blocking(move |s| s.with_admin(|a| a.upload(&project, &id)))
        .await?;
    match found {
        Some(u) => Ok(json_response(Arc::new(u.response))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no such upload in this token's project",
        )),
    }
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    /// Every test, stable ones included.
    #[serde(default)]
    all: bool,
    limit: Option<usize>,
}

/// The JSON of `flakehound report --json` (with `all`: `--all`).
async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let Query(q) = q.map_err(bad_query)?;
    if q.limit.is_some_and(|n| n > 1_000_000_000) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "limit is at most 1000000000",
        ));
    }
    let all = q.all;
    let kind = if all { "report-all" } else { "report" };
    let body = state
        .cached(token.project, kind, move |store| {
            let mut report = flakehound_analysis::report_from_store(store, all)
                .map_err(ApiError::unavailable)?;
            if !all {
                report.entries.retain(|e| e.verdict.is_unstable());
            }
            serde_json::to_string(&report.entries)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await?;
    match q.limit {
        None => Ok(json_response(body)),
        Some(n) => {
            let mut v: Vec<serde_json::Value> = serde_json::from_str(&body)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            v.truncate(n);
            Ok(Json(v).into_response())
        }
    }
}

/// The JSON of `flakehound explain TEST --json`.
async fn test(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let Path(id) = id.map_err(bad_path)?;
    let project = token.project;
    let body = state
        .blocking(move |s| {
            let mut store = s.store(&project)?;
            let stats = store.test_stats().map_err(ApiError::unavailable)?;
            let ev = store.evidence().map_err(ApiError::unavailable)?;
            let Some(dossier) = flakehound_analysis::verdict::dossier(&ev, &id) else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no test {id:?} in this project (ids are listed by /api/v1/report?all=true)"
                    ),
                ));
            };
            let mut entries = flakehound_analysis::report(stats, &ev, true).entries;
            entries.retain(|e| e.ranked.id == id);
            let notes = store.notes(Some(&id)).map_err(ApiError::unavailable)?;
            flakehound_analysis::attach_notes(&mut entries, notes);
            Ok(serde_json::json!({ "verdict": entries.pop(), "dossier": dossier }).to_string())
        })
        .await?;
    Ok(json_response(Arc::new(body)))
}

async fn incidents(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let body = state
        .cached(token.project, "incidents", |store| {
            let r = flakehound_analysis::report_from_store(store, false)
                .map_err(ApiError::unavailable)?;
            serde_json::to_string(&r.incidents)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await?;
    Ok(json_response(body))
}

async fn clusters(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let body = state
        .cached(token.project, "clusters", |store| {
            let r = flakehound_analysis::report_from_store(store, false)
                .map_err(ApiError::unavailable)?;
            serde_json::to_string(&r.shared_clusters)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await?;
    Ok(json_response(body))
}

/// How `flakehound serve` logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Connections waiting to be accepted. `TcpListener::bind` (mio's, as the standard library's)
/// asks for 128: 200 CI jobs uploading at once overflowed it, and the kernel dropped the
/// connections that did not fit, whose clients sent their SYN again a second later (measured:
/// a round of 200 uploads took 1.1-1.2 s instead of 0.4 s, the kernel counting 72 listen-queue
/// overflows per round). The kernel caps it at `net.core.somaxconn` (4096 on Debian).
const BACKLOG: u32 = 2048;

/// A listener on the first address `listen` resolves to that accepts one, with [`BACKLOG`].
async fn bind(listen: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(listen).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As `TcpListener::bind`: a restarted server rebinds at once.
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    }))
}

/// Runs the server on `listen` until Ctrl-C or SIGTERM, on a runtime of its own: what the binary
/// calls. `ready` is called with the bound address once the server accepts connections.
pub fn run(
    listen: &str,
    config: Config,
    log: LogFormat,
    ready: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLAKEHOUND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second call (tests running servers in one process) keeps the first subscriber.
    let _ = match log {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Opened here, off the runtime: the store's clients block.
    let (app, state) = app(config.clone())?;
    let retention = config
        .retention_interval
        .map(|every| background::start_retention(state.clone(), every));
    let served = runtime.block_on(async move {
        let listener = bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, store = %config.location, "serving");
        ready(addr);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        anyhow::Ok(())
    });
    // The background jobs stop (a pass under way finishes) and release their leases.
    drop(retention);
    // The pooled store handles close here, on this thread: dropping a PostgreSQL client on a
    // runtime thread would panic.
    lock(&state.admins).clear();
    drop(runtime);
    tracing::info!("stopped");
    served
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

pub(crate) const ADMIN: &[Scope] = &[Scope::Admin];

/// Who a change is logged as: the token's label, else its number.
pub(crate) fn actor(t: &TokenInfo) -> String {
    t.label
        .clone()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| format!("token {}", t.id))
}

/// The project's quarantine: what `flakehound run` reads (upload tokens may).
async fn quarantine_list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize_public(&headers, UPLOAD_OR_READ).await?;
    let project = token.project;
    let entries = state
        .blocking(move |s| s.with_admin(|a| a.quarantine(&project)))
        .await?;
    Ok(Json(serde_json::json!({ "entries": entries })).into_response())
}

/// The body of `PUT /api/v1/quarantine/{test}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct QuarantineBody {
    // `null` for an optional field means absent.
    reason: String,
    owner: Option<String>,
    /// Last day, `YYYY-MM-DD`; default 30 days from today.
    expires: Option<String>,
    issue: Option<String>,
}

fn day(s: &str, what: &str) -> ApiResult<jiff::civil::Date> {
    s.parse::<jiff::civil::Date>().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{what} {s:?} is not a date (YYYY-MM-DD): {e}"),
        )
    })
}

async fn quarantine_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    test: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Result<Json<QuarantineBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let Path(test) = test.map_err(bad_path)?;
    let Json(body) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is JSON {{\"reason\": …, \"owner\": …, \"expires\": \"YYYY-MM-DD\", \"issue\": …}}: {}",
                e.body_text()
            ),
        )
    })?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a quarantine entry needs a reason",
        ));
    }
    let today = jiff::Zoned::now().date();
    let expires = match &body.expires {
        Some(e) => day(e, "expires")?,
        None => today
            .checked_add(jiff::Span::new().days(30))
            .unwrap_or(today),
    };
    // A past expiry is kept as given: the entry lists as expired at once (as in the file).
    let who = actor(&token);
    let entry = QuarantineRecord {
        test,
        reason: body.reason,
        owner: body.owner.unwrap_or_else(|| who.clone()),
        added: today.to_string(),
        expires: expires.to_string(),
        issue: body.issue,
    };
    let project = token.project;
    let at = tokens::stamp(jiff::Timestamp::now());
    let stored = entry.clone();
    state
        .blocking(move |s| s.with_admin(|a| a.put_quarantine(&project, &stored, &who, &at)))
        .await?;
    Ok(Json(entry).into_response())
}

#[derive(serde::Deserialize)]
struct ReasonQuery {
    reason: Option<String>,
}

async fn quarantine_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    test: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: Result<Query<ReasonQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let Path(test) = test.map_err(bad_path)?;
    let Query(q) = q.map_err(bad_query)?;
    let who = actor(&token);
    let project = token.project;
    let at = tokens::stamp(jiff::Timestamp::now());
    let shown = test.clone();
    let removed = state
        .blocking(move |s| {
            s.with_admin(|a| a.remove_quarantine(&project, &test, &who, q.reason.as_deref(), &at))
        })
        .await?;
    deleted(
        removed,
        format!("{shown:?} is not quarantined in this project"),
    )
}

#[derive(serde::Deserialize)]
struct AuditQuery {
    test: Option<String>,
}

async fn quarantine_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let Query(q) = q.map_err(bad_query)?;
    let project = token.project;
    let changes = state
        .blocking(move |s| s.with_admin(|a| a.quarantine_changes(&project, q.test.as_deref())))
        .await?;
    Ok(Json(serde_json::json!({ "changes": changes })).into_response())
}

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing). The allocator
/// (mimalloc) asks for huge pages on its arenas and returns memory it has not used for a few
/// milliseconds; a server that receives, parses and frees uploads all the time then faults
/// 2 MiB pages back in, each zeroed by the kernel: measured under 200 concurrent uploads, the
/// kernel's page clearing was 18% of the server's CPU, and a round of uploads took 0.40-0.52 s
/// without huge pages against 0.64-1.09 s with them (the same build, alternating, a loaded
/// machine). Command-line ingests showed no difference and keep the default.
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only how the kernel backs
    // this process's future page faults; no memory is read or written through pointers.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
