//! A local server answering like GitHub's and GitLab's REST APIs, for tests, the benchmark and
//! the README's transcript (no machine here reaches the real ones).
//!
//! It serves a [`Scenario`] with the documented shapes: GitHub's workflow runs, run attempts,
//! attempt jobs, run artifacts and artifact archives (a `302` to the download, `410` once
//! expired), `Link` pagination honouring `per_page` (capped by [`Scenario::page_size`]) and the
//! `created`, `branch`, `status` filters; GitLab's pipelines, pipeline jobs (retried ones only
//! with `include_retried=true`), pipeline test reports and job artifacts, with `Link` and
//! `X-Next-Page`/`X-Page`/`X-Total` pagination. Archives are zipped at request time from small
//! JUnit documents.
//!
//! Failure modes the importer must survive are switched on through [`Fixture`]: a primary rate
//! limit (`403` with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` a moment ahead, every
//! request refused until then), a secondary one (`429` with `Retry-After`), and `500` from a
//! given request on.

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// One test case of a JUnit document: (classname, name, passed).
pub type Case = (String, String, bool);

#[derive(Clone, Debug)]
pub struct GhJob {
    pub name: String,
    /// `success`, `failure`, `cancelled`, `skipped`.
    pub conclusion: String,
    pub secs: i64,
    pub runner: String,
}

#[derive(Clone, Debug)]
pub struct GhArtifact {
    pub name: String,
    /// Files of the archive: (path, content).
    pub files: Vec<(String, String)>,
    /// Listed with `expired: true` (and its download answers 410).
    pub expired: bool,
    /// The download answers this status instead (403 without permission, 404, 410).
    pub refuse: Option<u16>,
}

#[derive(Clone, Debug)]
pub struct GhAttempt {
    pub jobs: Vec<GhJob>,
    pub artifacts: Vec<GhArtifact>,
}

#[derive(Clone, Debug)]
pub struct GhRun {
    pub id: u64,
    /// Workflow name; its file is `.github/workflows/{lowercase name}.yml`.
    pub workflow: String,
    pub sha: String,
    pub branch: String,
    pub pull_request: Option<u64>,
    /// When the first attempt started (epoch seconds); attempt n starts 20 minutes per
    /// attempt later.
    pub created: i64,
    pub attempts: Vec<GhAttempt>,
}

#[derive(Clone, Debug)]
pub struct GlJob {
    pub name: String,
    /// `success`, `failed`, `canceled`, `skipped`.
    pub status: String,
    pub secs: i64,
    pub runner: String,
    pub cases: Vec<Case>,
    /// Whether the job has an artifact archive (holding `junit.xml` of its cases).
    pub archive: bool,
}

#[derive(Clone, Debug)]
pub struct GlPipeline {
    pub id: u64,
    pub sha: String,
    pub git_ref: String,
    pub status: String,
    pub created: i64,
    /// In execution order; a later job of the same name is a retry of an earlier one.
    pub jobs: Vec<GlJob>,
}

#[derive(Clone, Debug, Default)]
pub struct Scenario {
    /// GitHub `owner/name`.
    pub repo: String,
    pub runs: Vec<GhRun>,
    /// GitLab project path (its id is 42).
    pub project: String,
    pub pipelines: Vec<GlPipeline>,
    /// Largest page served.
    pub page_size: usize,
    /// Runs a filtered list serves at most (GitHub: 1,000).
    pub search_cap: usize,
    /// Token required (`Authorization: Bearer` for GitHub, `PRIVATE-TOKEN` for GitLab).
    pub token: Option<String>,
}

/// A JUnit document of `cases`, run at `timestamp` (epoch seconds; real reports say when they
/// ran, so no two runs' reports are the same bytes).
pub fn junit(suite: &str, cases: &[Case], timestamp: i64) -> String {
    let failures = cases.iter().filter(|c| !c.2).count();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" timestamp=\"{}\">\n",
        cases.len(),
        rfc3339(timestamp)
    );
    for (classname, name, passed) in cases {
        if *passed {
            s.push_str(&format!(
                "  <testcase classname=\"{classname}\" name=\"{name}\" time=\"0.01\"/>\n"
            ));
        } else {
            s.push_str(&format!(
                "  <testcase classname=\"{classname}\" name=\"{name}\" time=\"1.5\"><failure message=\"timed out after 1.5s\">TimeoutError: timed out after 1.5s</failure></testcase>\n"
            ));
        }
    }
    s.push_str("</testsuite>\n");
    s
}

fn cases(flaky_fails: bool, run: usize) -> Vec<Case> {
    let c = |cl: &str, n: &str, ok: bool| (cl.to_string(), n.to_string(), ok);
    vec![
        c("app.billing", "test_invoice_total", true),
        c("app.billing", "test_refund", true),
        c("app.net", "test_fetch_with_retry", !flaky_fails),
        c("app.users", "test_signup", true),
        c("app.users", "test_login_rate_limit", run % 7 != 3),
    ]
}

impl Scenario {
    /// `runs` GitHub workflow runs of `acme/shop` over the last two weeks: a `CI` workflow with
    /// a `test` job uploading `junit-results` (every 4th run fails `app.net.test_fetch_with_retry`
    /// and passes on a re-run attempt; `test_login_rate_limit` fails now and then without a
    /// re-run), and every 5th run a `Lint` workflow whose job failed then passed on a re-run
    /// (job-level flakiness, no reports). Run 3 also has an expired `coverage-report`.
    pub fn github(runs: usize) -> Scenario {
        // Anchored to the day, so that scenarios built moments apart are equal.
        let today = now_secs() - now_secs() % 86_400;
        let start = today - 14 * 86_400;
        let step = (14 * 86_400 / runs.max(1) as i64).max(1);
        let mut out = Vec::new();
        let mut id = 10_000_u64;
        for i in 0..runs {
            let created = start + i as i64 * step;
            let sha = format!("{:040x}", 0xc0ffee_u64 * (i as u64 + 1));
            let branch = if i % 3 == 2 { "feature/cart" } else { "main" };
            let flaky = i % 4 == 0;
            let job = |ok: bool| GhJob {
                name: "test".into(),
                conclusion: if ok { "success" } else { "failure" }.into(),
                secs: 300 + (i as i64 % 5) * 30,
                runner: format!("runner-{}", i % 3),
            };
            let art = |flaky_fails: bool, attempt: i64| GhArtifact {
                name: "junit-results".into(),
                files: vec![
                    (
                        "reports/TEST-app.xml".into(),
                        junit(
                            "app",
                            &cases(flaky_fails, i),
                            created + (attempt - 1) * 1200 + 10,
                        ),
                    ),
                    ("reports/screenshot.png".into(), "png".into()),
                ],
                expired: false,
                refuse: None,
            };
            let mut attempts = vec![GhAttempt {
                jobs: vec![job(!flaky && i % 7 != 3)],
                artifacts: vec![art(flaky, 1)],
            }];
            if i == 3 {
                attempts[0].artifacts.push(GhArtifact {
                    name: "coverage-report".into(),
                    files: vec![],
                    expired: true,
                    refuse: None,
                });
            }
            if flaky {
                attempts.push(GhAttempt {
                    jobs: vec![job(true)],
                    artifacts: vec![art(false, 2)],
                });
            }
            id += 1;
            out.push(GhRun {
                id,
                workflow: "CI".into(),
                sha: sha.clone(),
                branch: branch.into(),
                pull_request: (branch != "main").then_some(100 + i as u64),
                created,
                attempts,
            });
            if i % 5 == 1 {
                id += 1;
                let lint = |ok: bool| GhAttempt {
                    jobs: vec![GhJob {
                        name: "lint".into(),
                        conclusion: if ok { "success" } else { "failure" }.into(),
                        secs: 120,
                        runner: "runner-lint".into(),
                    }],
                    artifacts: vec![],
                };
                out.push(GhRun {
                    id,
                    workflow: "Lint".into(),
                    sha,
                    branch: branch.into(),
                    pull_request: None,
                    created: created + 5,
                    attempts: vec![lint(false), lint(true)],
                });
            }
        }
        Scenario {
            repo: "acme/shop".into(),
            runs: out,
            page_size: 100,
            search_cap: 1000,
            ..Scenario::default()
        }
    }

    /// `pipelines` GitLab pipelines of `acme/shop`: a `rspec` job whose first execution fails
    /// `spec.cart.adds_items` in every 3rd pipeline and is retried (include_retried shows both),
    /// and a `lint` job.
    pub fn gitlab(pipelines: usize) -> Scenario {
        let today = now_secs() - now_secs() % 86_400;
        let start = today - 7 * 86_400;
        let step = (7 * 86_400 / pipelines.max(1) as i64).max(1);
        let mut out = Vec::new();
        for i in 0..pipelines {
            let flaky = i % 3 == 0;
            let c = |n: &str, ok: bool| ("spec.cart".to_string(), n.to_string(), ok);
            let rspec = |ok: bool| GlJob {
                name: "rspec".into(),
                status: if ok { "success" } else { "failed" }.into(),
                secs: 240,
                runner: "gitlab-runner-1".into(),
                cases: vec![c("adds_items", ok), c("removes_items", true)],
                archive: true,
            };
            let mut jobs = vec![GlJob {
                name: "lint".into(),
                status: "success".into(),
                secs: 60,
                runner: "gitlab-runner-2".into(),
                cases: vec![],
                archive: false,
            }];
            jobs.push(rspec(!flaky));
            if flaky {
                jobs.push(rspec(true));
            }
            out.push(GlPipeline {
                id: 500 + i as u64,
                sha: format!("{:040x}", 0xbeef_u64 * (i as u64 + 1)),
                git_ref: "main".into(),
                status: "success".into(),
                created: start + i as i64 * step,
                jobs,
            });
        }
        Scenario {
            project: "acme/shop".into(),
            pipelines: out,
            page_size: 100,
            ..Scenario::default()
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

struct Shared {
    scenario: Scenario,
    base: String,
    runs_by_id: HashMap<u64, usize>,
    pipelines_by_id: HashMap<u64, usize>,
    requests: AtomicU64,
    /// Request numbers (1-based) answered with a primary rate limit.
    limit_at: Mutex<HashSet<u64>>,
    /// Request numbers answered with a secondary rate limit (`Retry-After: 1`).
    retry_after_at: Mutex<HashSet<u64>>,
    /// Request numbers answered normally but with the last of the quota
    /// (`x-ratelimit-remaining: 0`): requests before the reset are refused.
    exhaust_at: Mutex<HashSet<u64>>,
    /// Every request is refused until then (epoch ms), after a rate-limit answer.
    blocked_until: Mutex<Option<(u128, bool)>>,
    /// Requests refused for a rate limit.
    refused: AtomicU64,
    /// Requests from this number on answer 500.
    fail_from: AtomicU64,
    downloads: AtomicU64,
    /// Downloads that arrived with a token (the storage a download redirects to is another
    /// origin, which must never see it).
    leaked: AtomicU64,
}

/// A running fixture server; stops when dropped.
pub struct Fixture {
    pub url: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fixture {
    /// Serves `scenario` on a random local port.
    pub fn start(scenario: Scenario) -> Fixture {
        Fixture::start_on("127.0.0.1:0", scenario)
    }

    /// Serves `scenario` on `addr`.
    pub fn start_on(addr: &str, scenario: Scenario) -> Fixture {
        let listener = std::net::TcpListener::bind(addr).expect("bind the fixture server");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let shared = Arc::new(Shared {
            runs_by_id: scenario
                .runs
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id, i))
                .collect(),
            pipelines_by_id: scenario
                .pipelines
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id, i))
                .collect(),
            scenario,
            base: url.clone(),
            requests: AtomicU64::new(0),
            limit_at: Mutex::default(),
            retry_after_at: Mutex::default(),
            exhaust_at: Mutex::default(),
            blocked_until: Mutex::default(),
            refused: AtomicU64::new(0),
            fail_from: AtomicU64::new(u64::MAX),
            downloads: AtomicU64::new(0),
            leaked: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/repos/{o}/{r}/actions/runs", get(gh_runs))
            .route(
                "/repos/{o}/{r}/actions/workflows/{w}/runs",
                get(gh_workflow_runs),
            )
            .route(
                "/repos/{o}/{r}/actions/runs/{id}/attempts/{n}",
                get(gh_attempt),
            )
            .route(
                "/repos/{o}/{r}/actions/runs/{id}/attempts/{n}/jobs",
                get(gh_jobs),
            )
            .route(
                "/repos/{o}/{r}/actions/runs/{id}/artifacts",
                get(gh_artifacts),
            )
            .route(
                "/repos/{o}/{r}/actions/artifacts/{id}/zip",
                get(gh_artifact_zip),
            )
            .route("/download/artifacts/{id}", get(gh_download))
            .route("/api/v4/projects/{p}/pipelines", get(gl_pipelines))
            .route("/api/v4/projects/{p}/pipelines/{id}/jobs", get(gl_jobs))
            .route(
                "/api/v4/projects/{p}/pipelines/{id}/test_report",
                get(gl_test_report),
            )
            .route(
                "/api/v4/projects/{p}/jobs/{id}/artifacts",
                get(gl_artifacts),
            )
            .layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        Fixture {
            url,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The GitLab API root (`--api-url` of `import gitlab`).
    pub fn gitlab_url(&self) -> String {
        format!("{}/api/v4", self.url)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests refused for a rate limit so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Archives downloaded so far.
    pub fn downloads(&self) -> u64 {
        self.shared.downloads.load(Ordering::SeqCst)
    }

    /// Downloads that arrived with the API token.
    pub fn leaked_tokens(&self) -> u64 {
        self.shared.leaked.load(Ordering::SeqCst)
    }

    /// Request number `n` (1-based, counting from the server's start) hits the primary rate
    /// limit: 403 with `x-ratelimit-remaining: 0` and a reset 1–2 s ahead, every request until
    /// then refused the same way.
    pub fn rate_limit_at(&self, n: u64) {
        self.shared.limit_at.lock().unwrap().insert(n);
    }

    /// Request number `n` succeeds with the quota's last request (`x-ratelimit-remaining: 0`,
    /// reset 1–2 s ahead); requests before the reset are refused.
    pub fn exhaust_at(&self, n: u64) {
        self.shared.exhaust_at.lock().unwrap().insert(n);
    }

    /// Request number `n` hits a secondary rate limit: 429 with `Retry-After: 1`.
    pub fn retry_after_at(&self, n: u64) {
        self.shared.retry_after_at.lock().unwrap().insert(n);
    }

    /// Requests from number `n` on answer 500 (`u64::MAX`: never).
    pub fn fail_from(&self, n: u64) {
        self.shared.fail_from.store(n, Ordering::SeqCst);
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn message(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"message": msg, "documentation_url": "https://docs.github.com/rest"}).to_string(),
    )
        .into_response()
}

fn limited(until_ms: u128, secondary: bool) -> Response {
    let reset = until_ms.div_ceil(1000);
    let mut r = if secondary {
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        )
    } else {
        message(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for installation ID 1.",
        )
    };
    let h = r.headers_mut();
    if secondary {
        let secs = (until_ms.saturating_sub(now_ms())).div_ceil(1000).max(1);
        h.insert("retry-after", HeaderValue::from(secs as u64));
    } else {
        h.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-used", HeaderValue::from_static("5000"));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset as u64));
        h.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    }
    r
}

/// Counts requests, checks the token, and plays rate limits and failures.
async fn gate(
    State(s): State<Arc<Shared>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(token) = &s.scenario.token {
        let h = req.headers();
        let bearer = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let private = h.get("private-token").and_then(|v| v.to_str().ok());
        let downloading = req.uri().path().starts_with("/download/");
        if downloading && (bearer.is_some() || private.is_some()) {
            s.leaked.fetch_add(1, Ordering::SeqCst);
        }
        if !downloading && bearer != Some(token) && private != Some(token) {
            return message(StatusCode::UNAUTHORIZED, "Bad credentials");
        }
    }
    {
        let mut blocked = s.blocked_until.lock().unwrap();
        if let Some((until, secondary)) = *blocked {
            if now_ms() < until {
                s.refused.fetch_add(1, Ordering::SeqCst);
                return limited(until, secondary);
            }
            *blocked = None;
        }
        if s.limit_at.lock().unwrap().contains(&n) {
            // A reset 1–2 s ahead, on a whole second as GitHub's epoch-seconds header says.
            let until = (now_ms() / 1000 + 2) * 1000;
            *blocked = Some((until, false));
            s.refused.fetch_add(1, Ordering::SeqCst);
            return limited(until, false);
        }
        if s.retry_after_at.lock().unwrap().contains(&n) {
            let until = now_ms() + 1000;
            *blocked = Some((until, true));
            s.refused.fetch_add(1, Ordering::SeqCst);
            return limited(until, true);
        }
    }
    if n >= s.fail_from.load(Ordering::SeqCst) {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    if s.exhaust_at.lock().unwrap().contains(&n) {
        let until = (now_ms() / 1000 + 2) * 1000;
        *s.blocked_until.lock().unwrap() = Some((until, false));
        h.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from((until / 1000) as u64),
        );
    }
    if !h.contains_key("x-ratelimit-remaining") {
        h.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from((now_secs() + 3600) as u64),
        );
    }
    r
}

type Q = Query<HashMap<String, String>>;

/// (page, per_page) of a request.
fn paging(s: &Shared, q: &HashMap<String, String>, default: usize) -> (usize, usize) {
    let per = q
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, s.scenario.page_size.max(1));
    let page = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (page, per)
}

/// A `Link` header for `path` (query `q` without `page`) as GitHub writes it.
fn link(s: &Shared, path: &str, q: &HashMap<String, String>, page: usize, last: usize) -> String {
    let mut params: Vec<(&String, &String)> = q.iter().filter(|(k, _)| *k != "page").collect();
    params.sort();
    let query: String = params
        .iter()
        .map(|(k, v)| format!("{k}={}&", enc(v)))
        .collect();
    let at = |p: usize| format!("<{}{path}?{query}page={p}>", s.base);
    let mut parts = Vec::new();
    if page < last {
        parts.push(format!("{}; rel=\"next\"", at(page + 1)));
        parts.push(format!("{}; rel=\"last\"", at(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", at(1)));
        parts.push(format!("{}; rel=\"prev\"", at(page - 1)));
    }
    parts.join(", ")
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One page of `items` as GitHub answers a list: `{"total_count": n, key: [...]}` and `Link`.
fn gh_page(
    s: &Shared,
    path: &str,
    q: &HashMap<String, String>,
    key: &str,
    items: Vec<Value>,
) -> Response {
    let total = items.len();
    gh_page_of(s, path, q, key, items, total)
}

/// [`gh_page`] saying `total_count: total` (more than it serves, for a capped search).
fn gh_page_of(
    s: &Shared,
    path: &str,
    q: &HashMap<String, String>,
    key: &str,
    items: Vec<Value>,
    total_count: usize,
) -> Response {
    let (page, per) = paging(s, q, 30);
    let total = items.len();
    let last = total.div_ceil(per).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let mut r = axum::Json(json!({"total_count": total_count, key: slice})).into_response();
    let l = link(s, path, q, page, last);
    if !l.is_empty() {
        r.headers_mut()
            .insert(header::LINK, HeaderValue::from_str(&l).expect("link"));
    }
    r
}

fn attempt_start(run: &GhRun, n: usize) -> i64 {
    run.created + (n as i64 - 1) * 1200
}

fn attempt_end(run: &GhRun, n: usize) -> i64 {
    let a = &run.attempts[n - 1];
    attempt_start(run, n) + 10 + a.jobs.iter().map(|j| j.secs).max().unwrap_or(0)
}

fn gh_run_json(s: &Shared, run: &GhRun, n: usize) -> Value {
    let a = &run.attempts[n - 1];
    let conclusion = if a.jobs.iter().all(|j| j.conclusion != "failure") {
        "success"
    } else {
        "failure"
    };
    let (o, r) = s.scenario.repo.split_once('/').unwrap_or(("o", "r"));
    json!({
        "id": run.id,
        "name": run.workflow,
        "node_id": format!("WFR_{}", run.id),
        "head_branch": run.branch,
        "head_sha": run.sha,
        "path": format!(".github/workflows/{}.yml", run.workflow.to_lowercase()),
        "display_title": format!("Commit {}", &run.sha[..7]),
        "run_number": run.id - 10_000,
        "event": if run.pull_request.is_some() { "pull_request" } else { "push" },
        "status": "completed",
        "conclusion": conclusion,
        "workflow_id": if run.workflow == "CI" { 161335 } else { 161336 },
        "url": format!("{}/repos/{o}/{r}/actions/runs/{}", s.base, run.id),
        "html_url": format!("https://github.com/{o}/{r}/actions/runs/{}", run.id),
        "pull_requests": run.pull_request.map(|p| vec![json!({"number": p, "id": p * 7})]).unwrap_or_default(),
        "created_at": rfc3339(run.created),
        "updated_at": rfc3339(attempt_end(run, n)),
        "run_attempt": n,
        "run_started_at": rfc3339(attempt_start(run, n)),
        "jobs_url": format!("{}/repos/{o}/{r}/actions/runs/{}/jobs", s.base, run.id),
        "artifacts_url": format!("{}/repos/{o}/{r}/actions/runs/{}/artifacts", s.base, run.id),
    })
}

/// A time of GitHub's search syntax: an RFC 3339 time or a date.
fn search_time(v: &str) -> Option<i64> {
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    v.parse::<jiff::civil::Date>()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// The `created` filter (`>=A`, `A..B`) as an inclusive range of epoch seconds.
fn created_filter(q: &HashMap<String, String>) -> (Option<i64>, Option<i64>) {
    let Some(c) = q.get("created") else {
        return (None, None);
    };
    if let Some(v) = c.strip_prefix(">=") {
        return (search_time(v), None);
    }
    match c.split_once("..") {
        Some((a, b)) => (search_time(a), search_time(b)),
        None => (None, None),
    }
}

fn list_runs(
    s: &Shared,
    path: &str,
    q: &HashMap<String, String>,
    workflow: Option<&str>,
) -> Response {
    let (from, to) = created_filter(q);
    let mut runs: Vec<&GhRun> = s
        .scenario
        .runs
        .iter()
        .filter(|r| from.is_none_or(|t| r.created >= t) && to.is_none_or(|t| r.created <= t))
        .filter(|r| q.get("branch").is_none_or(|b| &r.branch == b))
        .filter(|r| {
            workflow.is_none_or(|w| {
                w == format!("{}.yml", r.workflow.to_lowercase())
                    || w == if r.workflow == "CI" {
                        "161335"
                    } else {
                        "161336"
                    }
            })
        })
        .collect();
    // GitHub lists newest first. Every run here is completed.
    runs.sort_by_key(|r| std::cmp::Reverse(r.id));
    if q.get("status").is_some_and(|st| st != "completed") {
        runs.clear();
    }
    // Only the page asked for is rendered (the benchmark lists 12,000 runs).
    let (page, per) = paging(s, q, 30);
    let total = runs.len();
    // "This API will return up to 1,000 results for each search when using the following
    // parameters: actor, branch, check_suite_id, created, event, head_sha, status."
    let searched = [
        "actor",
        "branch",
        "check_suite_id",
        "created",
        "event",
        "head_sha",
        "status",
    ]
    .iter()
    .any(|k| q.contains_key(*k));
    if searched {
        runs.truncate(s.scenario.search_cap);
    }
    let mut items: Vec<Value> = vec![Value::Null; total];
    for (i, r) in runs.iter().enumerate().skip((page - 1) * per).take(per) {
        items[i] = gh_run_json(s, r, r.attempts.len());
    }
    items.truncate(runs.len());
    // `total_count` is the whole count; only the first 1,000 are served.
    gh_page_of(s, path, q, "workflow_runs", items, total)
}

async fn gh_runs(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    if format!("{o}/{r}") != s.scenario.repo {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    list_runs(&s, &format!("/repos/{o}/{r}/actions/runs"), &q, None)
}

async fn gh_workflow_runs(
    State(s): State<Arc<Shared>>,
    Path((o, r, w)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    if format!("{o}/{r}") != s.scenario.repo {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    list_runs(
        &s,
        &format!("/repos/{o}/{r}/actions/workflows/{w}/runs"),
        &q,
        Some(&w),
    )
}

fn find_run<'s>(s: &'s Shared, o: &str, r: &str, id: u64) -> Option<&'s GhRun> {
    if format!("{o}/{r}") != s.scenario.repo {
        return None;
    }
    s.runs_by_id.get(&id).map(|&i| &s.scenario.runs[i])
}

async fn gh_attempt(
    State(s): State<Arc<Shared>>,
    Path((o, r, id, n)): Path<(String, String, u64, usize)>,
) -> Response {
    match find_run(&s, &o, &r, id) {
        Some(run) if n >= 1 && n <= run.attempts.len() => {
            axum::Json(gh_run_json(&s, run, n)).into_response()
        }
        _ => message(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn gh_jobs(
    State(s): State<Arc<Shared>>,
    Path((o, r, id, n)): Path<(String, String, u64, usize)>,
    Query(q): Q,
) -> Response {
    let Some(run) = find_run(&s, &o, &r, id).filter(|run| n >= 1 && n <= run.attempts.len()) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let start = attempt_start(run, n) + 10;
    let items = run.attempts[n - 1]
        .jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            json!({
                "id": run.id * 1000 + n as u64 * 100 + j as u64,
                "run_id": run.id,
                "run_attempt": n,
                "workflow_name": run.workflow,
                "head_branch": run.branch,
                "head_sha": run.sha,
                "status": "completed",
                "conclusion": job.conclusion,
                "created_at": rfc3339(start - 5),
                "started_at": rfc3339(start),
                "completed_at": rfc3339(start + job.secs),
                "name": job.name,
                "steps": [],
                "labels": ["ubuntu-latest"],
                "runner_id": 7,
                "runner_name": job.runner,
                "runner_group_id": 1,
                "runner_group_name": "GitHub Actions",
            })
        })
        .collect();
    gh_page(
        &s,
        &format!("/repos/{o}/{r}/actions/runs/{id}/attempts/{n}/jobs"),
        &q,
        "jobs",
        items,
    )
}

fn zip_of(files: &[(String, String)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    for (name, content) in files {
        w.start_file(name.as_str(), o).expect("zip entry");
        w.write_all(content.as_bytes()).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

async fn gh_artifacts(
    State(s): State<Arc<Shared>>,
    Path((o, r, id)): Path<(String, String, u64)>,
    Query(q): Q,
) -> Response {
    let Some(run) = find_run(&s, &o, &r, id) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let mut items = Vec::new();
    for (ai, a) in run.attempts.iter().enumerate() {
        let n = ai + 1;
        for (k, art) in a.artifacts.iter().enumerate() {
            let aid = run.id * 1000 + n as u64 * 100 + 50 + k as u64;
            let created = attempt_end(run, n);
            items.push(json!({
                "id": aid,
                "node_id": format!("MDg6QXJ0aWZhY3Q{aid}"),
                "name": art.name,
                "size_in_bytes": art.files.iter().map(|f| f.1.len()).sum::<usize>(),
                "url": format!("{}/repos/{o}/{r}/actions/artifacts/{aid}", s.base),
                "archive_download_url": format!("{}/repos/{o}/{r}/actions/artifacts/{aid}/zip", s.base),
                "expired": art.expired,
                "created_at": rfc3339(created),
                "updated_at": rfc3339(created),
                "expires_at": rfc3339(created + 90 * 86_400),
                "workflow_run": {
                    "id": run.id,
                    "repository_id": 1296269,
                    "head_repository_id": 1296269,
                    "head_branch": run.branch,
                    "head_sha": run.sha,
                },
            }));
        }
    }
    gh_page(
        &s,
        &format!("/repos/{o}/{r}/actions/runs/{id}/artifacts"),
        &q,
        "artifacts",
        items,
    )
}

fn artifact(s: &Shared, aid: u64) -> Option<&GhArtifact> {
    let run = &s.scenario.runs[*s.runs_by_id.get(&(aid / 1000))?];
    let n = ((aid % 1000) / 100) as usize;
    let k = (aid % 100).checked_sub(50)? as usize;
    run.attempts.get(n.checked_sub(1)?)?.artifacts.get(k)
}

async fn gh_artifact_zip(
    State(s): State<Arc<Shared>>,
    Path((o, r, id)): Path<(String, String, u64)>,
) -> Response {
    if format!("{o}/{r}") != s.scenario.repo {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    let Some(a) = artifact(&s, id) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    if a.expired {
        return message(StatusCode::GONE, "Artifact has expired");
    }
    match a.refuse {
        Some(403) => {
            return message(
                StatusCode::FORBIDDEN,
                "Resource not accessible by integration",
            );
        }
        Some(code) => {
            return message(
                StatusCode::from_u16(code).unwrap_or(StatusCode::NOT_FOUND),
                "Not Found",
            );
        }
        None => {}
    }
    // GitHub answers with a short-lived URL on another origin (here: `localhost` instead of
    // `127.0.0.1`, the same server under another name).
    let storage = s.base.replace("127.0.0.1", "localhost");
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("{storage}/download/artifacts/{id}?sig=fixture"))
            .expect("location"),
    );
    r
}

async fn gh_download(State(s): State<Arc<Shared>>, Path(id): Path<u64>) -> Response {
    let Some(a) = artifact(&s, id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    s.downloads.fetch_add(1, Ordering::SeqCst);
    (
        [(header::CONTENT_TYPE, "application/zip")],
        zip_of(&a.files),
    )
        .into_response()
}

fn project_ok(s: &Shared, p: &str) -> bool {
    p == "42" || p == s.scenario.project
}

/// One page of a GitLab list: an array, with `Link`, `X-Next-Page`, `X-Page`, `X-Per-Page`,
/// `X-Total`, `X-Total-Pages`.
fn gl_page(s: &Shared, path: &str, q: &HashMap<String, String>, items: Vec<Value>) -> Response {
    let (page, per) = paging(s, q, 20);
    let total = items.len();
    let last = total.div_ceil(per).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let mut r = axum::Json(Value::Array(slice)).into_response();
    let h: &mut HeaderMap = r.headers_mut();
    let next = if page < last {
        (page + 1).to_string()
    } else {
        String::new()
    };
    h.insert("x-next-page", HeaderValue::from_str(&next).expect("h"));
    h.insert("x-page", HeaderValue::from(page));
    h.insert("x-per-page", HeaderValue::from(per));
    h.insert("x-total", HeaderValue::from(total));
    h.insert("x-total-pages", HeaderValue::from(last));
    let l = link(s, path, q, page, last);
    if !l.is_empty() {
        h.insert(header::LINK, HeaderValue::from_str(&l).expect("link"));
    }
    r
}

async fn gl_pipelines(
    State(s): State<Arc<Shared>>,
    Path(p): Path<String>,
    Query(q): Q,
) -> Response {
    if !project_ok(&s, &p) {
        return message(StatusCode::NOT_FOUND, "404 Project Not Found");
    }
    let after = q
        .get("updated_after")
        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second());
    let mut list: Vec<&GlPipeline> = s
        .scenario
        .pipelines
        .iter()
        .filter(|pl| after.is_none_or(|t| pl.created >= t))
        .filter(|pl| q.get("ref").is_none_or(|r| &pl.git_ref == r))
        .collect();
    if q.get("sort").map(String::as_str) != Some("asc") {
        list.reverse();
    }
    let items = list
        .into_iter()
        .map(|pl| {
            json!({
                "id": pl.id,
                "iid": pl.id - 499,
                "project_id": 42,
                "sha": pl.sha,
                "ref": pl.git_ref,
                "status": pl.status,
                "source": "push",
                "created_at": rfc3339(pl.created),
                "updated_at": rfc3339(pl.created + 900),
                "web_url": format!("https://gitlab.example.com/{}/-/pipelines/{}", s.scenario.project, pl.id),
            })
        })
        .collect();
    gl_page(
        &s,
        &format!("/api/v4/projects/{}/pipelines", enc(&p)),
        &q,
        items,
    )
}

fn find_pipeline<'s>(s: &'s Shared, p: &str, id: u64) -> Option<&'s GlPipeline> {
    if !project_ok(s, p) {
        return None;
    }
    s.pipelines_by_id
        .get(&id)
        .map(|&i| &s.scenario.pipelines[i])
}

/// Ids of a pipeline's jobs and whether each was retried (a later job has its name).
fn gl_job_ids(pl: &GlPipeline) -> Vec<(u64, bool, i64)> {
    let mut t = pl.created + 10;
    pl.jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let retried = pl.jobs[i + 1..].iter().any(|k| k.name == j.name);
            let start = t;
            t += j.secs + 5;
            (pl.id * 100 + i as u64, retried, start)
        })
        .collect()
}

async fn gl_jobs(
    State(s): State<Arc<Shared>>,
    Path((p, id)): Path<(String, u64)>,
    Query(q): Q,
) -> Response {
    let Some(pl) = find_pipeline(&s, &p, id) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    let include_retried = q.get("include_retried").map(String::as_str) == Some("true");
    let items = pl
        .jobs
        .iter()
        .zip(gl_job_ids(pl))
        .filter(|(_, (_, retried, _))| include_retried || !retried)
        .map(|(j, (jid, retried, start))| {
            json!({
                "id": jid,
                "name": j.name,
                "stage": if j.name == "lint" { "lint" } else { "test" },
                "status": j.status,
                "ref": pl.git_ref,
                "tag": false,
                "retried": retried,
                "allow_failure": false,
                "created_at": rfc3339(pl.created),
                "started_at": rfc3339(start),
                "finished_at": rfc3339(start + j.secs),
                "duration": j.secs as f64,
                "queued_duration": 1.5,
                "commit": {"id": pl.sha, "short_id": &pl.sha[..8]},
                "pipeline": {"id": pl.id, "project_id": 42, "ref": pl.git_ref, "sha": pl.sha, "status": pl.status},
                "runner": {"id": 1, "description": j.runner, "active": true, "is_shared": true},
                "artifacts_file": if j.archive { json!({"filename": "artifacts.zip", "size": 1000}) } else { Value::Null },
                "artifacts": if j.archive { json!([{"file_type": "archive", "size": 1000, "filename": "artifacts.zip", "file_format": "zip"}, {"file_type": "junit", "size": 200, "filename": "junit.xml.gz", "file_format": "gzip"}]) } else { json!([]) },
                "web_url": format!("https://gitlab.example.com/{}/-/jobs/{jid}", s.scenario.project),
            })
        })
        .collect();
    gl_page(
        &s,
        &format!("/api/v4/projects/{}/pipelines/{id}/jobs", enc(&p)),
        &q,
        items,
    )
}

async fn gl_test_report(
    State(s): State<Arc<Shared>>,
    Path((p, id)): Path<(String, u64)>,
) -> Response {
    let Some(pl) = find_pipeline(&s, &p, id) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    let mut suites = Vec::new();
    let ids = gl_job_ids(pl);
    for (j, (_, retried, _)) in pl.jobs.iter().zip(&ids) {
        if *retried || j.cases.is_empty() {
            continue;
        }
        let cases: Vec<Value> = j
            .cases
            .iter()
            .map(|(cl, n, ok)| {
                json!({
                    "status": if *ok { "success" } else { "failed" },
                    "name": n,
                    "classname": cl,
                    "file": "spec/cart_spec.rb",
                    "execution_time": if *ok { 0.05 } else { 1.5 },
                    "system_output": if *ok { Value::Null } else { json!("Failure/Error: expected 3 items, got 2") },
                    "stack_trace": if *ok { Value::Null } else { json!("spec/cart_spec.rb:12") },
                    "recent_failures": null,
                })
            })
            .collect();
        let failed = j.cases.iter().filter(|c| !c.2).count();
        suites.push(json!({
            "name": j.name,
            "total_time": 1.6,
            "total_count": j.cases.len(),
            "success_count": j.cases.len() - failed,
            "failed_count": failed,
            "skipped_count": 0,
            "error_count": 0,
            "suite_error": null,
            "test_cases": cases,
        }));
    }
    let total: usize = pl
        .jobs
        .iter()
        .zip(&ids)
        .filter(|(_, i)| !i.1)
        .map(|(j, _)| j.cases.len())
        .sum();
    axum::Json(json!({
        "total_time": 1.6,
        "total_count": total,
        "success_count": total,
        "failed_count": 0,
        "skipped_count": 0,
        "error_count": 0,
        "test_suites": suites,
    }))
    .into_response()
}

async fn gl_artifacts(
    State(s): State<Arc<Shared>>,
    Path((p, id)): Path<(String, u64)>,
) -> Response {
    if !project_ok(&s, &p) {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    }
    let Some(&pi) = s.pipelines_by_id.get(&(id / 100)) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    let pl = &s.scenario.pipelines[pi];
    match pl.jobs.get((id % 100) as usize) {
        Some(j) if j.archive => {
            s.downloads.fetch_add(1, Ordering::SeqCst);
            let files = vec![(
                "rspec/junit.xml".to_string(),
                junit(&j.name, &j.cases, pl.created + (id % 100) as i64),
            )];
            ([(header::CONTENT_TYPE, "application/zip")], zip_of(&files)).into_response()
        }
        _ => message(StatusCode::NOT_FOUND, "404 Not found"),
    }
}
