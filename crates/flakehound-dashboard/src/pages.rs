//! The page handlers: each reads the project's [`Snapshot`], shapes what its template shows, and
//! renders it.

use crate::model::{Row, Snapshot, TestRun};
use crate::svg;
use crate::{Dashboard, PageResult, Viewer};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use flakehound_analysis::stats::Rate;
use flakehound_analysis::verdict::short_commit;
use flakehound_store::QuarantineRecord;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

type Dash = State<Arc<Dashboard>>;

/// What is percent-encoded in a query value.
pub(crate) const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY).to_string()
}

pub(crate) fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    for (name, src) in [
        ("base.html", include_str!("../templates/base.html")),
        ("macros.html", include_str!("../templates/macros.html")),
        ("overview.html", include_str!("../templates/overview.html")),
        ("tests.html", include_str!("../templates/tests.html")),
        ("test.html", include_str!("../templates/test.html")),
        ("incident.html", include_str!("../templates/incident.html")),
        ("cluster.html", include_str!("../templates/cluster.html")),
        ("run.html", include_str!("../templates/run.html")),
        ("signin.html", include_str!("../templates/signin.html")),
        ("error.html", include_str!("../templates/error.html")),
    ] {
        env.add_template(name, src)
            .expect("the embedded templates are valid (tested)");
    }
    env.add_filter("short", |s: String| short_commit(&s).to_string());
    env.add_filter("pct", |v: f64| format!("{:.0}%", v * 100.0));
    env.add_filter("pct1", |v: f64| format!("{:.1}%", v * 100.0));
    env.add_filter("num1", |v: f64| format!("{v:.1}"));
    env.add_filter("truncate", |s: String, n: usize| {
        if s.chars().count() <= n {
            s
        } else {
            let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
            t.push('…');
            t
        }
    });
    env.add_filter("num2", |v: f64| format!("{v:.2}"));
    env
}

/// Security headers of every page: nothing but this server's own files may load.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

impl Dashboard {
    fn render(
        &self,
        status: StatusCode,
        name: &str,
        viewer: Option<&Viewer>,
        ctx: Value,
    ) -> Response {
        let mut ctx = ctx;
        if let Value::Object(m) = &mut ctx {
            m.insert(
                "viewer".into(),
                json!({
                    "project": viewer.map(|v| v.project.clone()),
                    "admin": viewer.is_some_and(|v| v.admin),
                    "csrf": viewer.and_then(|v| v.csrf.clone()),
                    "signs_in": self.signs_in(),
                }),
            );
        }
        let html = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(&ctx));
        match html {
            Ok(h) => secure((status, Html(h)).into_response()),
            Err(e) => {
                tracing::error!(template = name, error = %e, "dashboard: template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("template {name} failed: {e}\n"),
                )
                    .into_response()
            }
        }
    }

    fn error(&self, status: StatusCode, viewer: Option<&Viewer>, message: &str) -> Response {
        self.render(
            status,
            "error.html",
            viewer,
            json!({ "title": status.canonical_reason().unwrap_or("Error"), "status": status.as_u16(), "message": message }),
        )
    }

    /// The viewer and the project's snapshot, or the page that stands instead.
    async fn load(
        self: &Arc<Self>,
        headers: &HeaderMap,
        back: &str,
    ) -> Result<(Viewer, Arc<Snapshot>, bool), Response> {
        let viewer = self.viewer(headers, back, true).await?;
        match self.snapshot(&viewer.project).await {
            Ok((s, updating)) => Ok((viewer, s, updating)),
            Err(e) => Err(self.error(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&viewer),
                &format!("the store could not be read: {e}"),
            )),
        }
    }

    async fn quarantine_of(&self, project: &str) -> Vec<QuarantineRecord> {
        let backend = self.backend();
        let p = project.to_string();
        tokio::task::spawn_blocking(move || backend.quarantine(&p))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

fn today() -> jiff::civil::Date {
    jiff::Zoned::now().date()
}

fn common(s: &Snapshot, updating: bool) -> Value {
    json!({
        "updating": updating, "built_ms": s.built_ms, "project": s.project,
        "complete": s.complete,
    })
}

/// Keys of the daily trend: the verdicts of the tests that failed (as of that day), and
/// incidents. `stable`: a failure the verdict engine did not (yet) call unstable that day.
const TREND: [(&str, &str); 7] = [
    ("broken", svg::RED),
    ("regression", svg::PURPLE),
    ("flaky", svg::AMBER),
    ("infra", "#24292f"),
    ("incident", svg::GREY),
    ("fixed", svg::BLUE),
    ("stable", svg::GREEN),
];

/// Keys of the tests-by-verdict trend: the unstable verdicts.
const VERDICT_TREND: [(&str, &str); 5] = [
    ("broken", svg::RED),
    ("regression", svg::PURPLE),
    ("flaky", svg::AMBER),
    ("infra", "#24292f"),
    ("fixed", svg::BLUE),
];

#[derive(serde::Deserialize, Default)]
pub(crate) struct OverviewQuery {
    days: Option<u32>,
}

pub(crate) async fn overview(
    State(d): Dash,
    headers: HeaderMap,
    q: Result<Query<OverviewQuery>, QueryRejection>,
) -> PageResult {
    let (viewer, s, updating) = d.load(&headers, "/").await?;
    let days = match q.ok().and_then(|q| q.0.days) {
        Some(90) => 90,
        _ => 30,
    };
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &s.rows {
        *counts.entry(r.verdict.as_str()).or_default() += 1;
    }
    let order = [
        "broken",
        "regression",
        "flaky",
        "infra",
        "fixed",
        "stable",
        "not-run",
    ];
    let verdicts: Vec<Value> = order
        .iter()
        .map(|v| json!({ "verdict": v, "count": counts.get(v).copied().unwrap_or(0) }))
        .collect();
    // The window: `days` days up to the newest run.
    let by_day: HashMap<&str, &crate::model::Day> =
        s.days.iter().map(|d| (d.day.as_str(), d)).collect();
    let mut labels: Vec<String> = Vec::new();
    if let Some(last) = s
        .days
        .last()
        .and_then(|d| d.day.parse::<jiff::civil::Date>().ok())
    {
        let mut day = last
            .checked_sub(jiff::Span::new().days(i64::from(days) - 1))
            .unwrap_or(last);
        while day <= last {
            labels.push(day.to_string());
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
    }
    let series: Vec<(&str, &str, Vec<u64>)> = TREND
        .iter()
        .map(|(k, c)| {
            (
                *k,
                *c,
                labels
                    .iter()
                    .map(|l| {
                        by_day
                            .get(l.as_str())
                            .and_then(|d| d.failures.get(*k))
                            .copied()
                            .unwrap_or(0)
                    })
                    .collect(),
            )
        })
        .collect();
    let trend = svg::stacked_bars(
        &format!("Failed tests per day by verdict, {days} days up to the newest run"),
        &labels,
        &series,
    );
    // Tests by verdict as of each day: the newest analysed day at or before it (a day without
    // runs keeps the day before's verdicts).
    // Counted once per analysed day, not once per label and verdict.
    let counts: Vec<std::collections::HashMap<&str, u64>> = s
        .day_verdicts
        .iter()
        .map(|d| {
            let mut c = std::collections::HashMap::new();
            for v in d.verdicts.values() {
                *c.entry(v.as_str()).or_default() += 1;
            }
            c
        })
        .collect();
    let as_of: Vec<Option<&std::collections::HashMap<&str, u64>>> = labels
        .iter()
        .map(|l| {
            s.day_verdicts
                .iter()
                .rposition(|d| d.day.as_str() <= l.as_str())
                .map(|i| &counts[i])
        })
        .collect();
    let verdict_series: Vec<(&str, &str, Vec<u64>)> = VERDICT_TREND
        .iter()
        .map(|(k, c)| {
            (
                *k,
                *c,
                as_of
                    .iter()
                    .map(|d| d.and_then(|c| c.get(*k)).copied().unwrap_or(0))
                    .collect(),
            )
        })
        .collect();
    let verdict_trend = svg::stacked_bars(
        &format!(
            "Unstable tests per day by their verdict as of that day, {days} days up to the newest run"
        ),
        &labels,
        &verdict_series,
    );
    let verdicts_last: Vec<Value> = verdict_series
        .iter()
        .map(|(k, _, v)| json!({"verdict": k, "first": v.first().copied().unwrap_or(0), "last": v.last().copied().unwrap_or(0)}))
        .collect();
    let window: Vec<&crate::model::Day> = labels
        .iter()
        .filter_map(|l| by_day.get(l.as_str()).copied())
        .collect();
    let share = |a: u64, b: u64| {
        if b == 0 {
            None
        } else {
            Some(a as f64 / b as f64)
        }
    };
    let health_lines = svg::share_lines(
        "Main branch: share of runs green on the first attempt and after retries, per day",
        &labels,
        &[
            (
                "green after retries",
                svg::GREEN,
                labels
                    .iter()
                    .map(|l| {
                        by_day
                            .get(l.as_str())
                            .and_then(|d| share(d.main_green_final, d.main_runs))
                    })
                    .collect(),
            ),
            (
                "green on the first attempt",
                svg::AMBER,
                labels
                    .iter()
                    .map(|l| {
                        by_day
                            .get(l.as_str())
                            .and_then(|d| share(d.main_green_first, d.main_runs))
                    })
                    .collect(),
            ),
        ],
    );
    let main_runs: u64 = window.iter().map(|d| d.main_runs).sum();
    let main_first: u64 = window.iter().map(|d| d.main_green_first).sum();
    let main_final: u64 = window.iter().map(|d| d.main_green_final).sum();
    let window_runs: u64 = window.iter().map(|d| d.runs).sum();
    let window_failures: u64 = window
        .iter()
        .map(|d| d.failures.values().sum::<u64>())
        .sum();
    let minutes: f64 = s.report.entries.iter().map(|e| e.impact.ci_minutes).sum();
    let reruns: u64 = s.report.entries.iter().map(|e| e.impact.reruns).sum();
    let red: u64 = s
        .report
        .entries
        .iter()
        .map(|e| e.impact.broken_builds)
        .sum();
    let top: Vec<Value> = s
        .report
        .entries
        .iter()
        .take(10)
        .map(|e| {
            json!({
                "id": e.ranked.id, "href": format!("/test?id={}", enc(&e.ranked.id)),
                "verdict": e.verdict.as_str(), "category": e.category.map(|c| c.as_str()),
                "minutes": e.impact.ci_minutes, "reruns": e.impact.reruns,
                "red": e.impact.broken_builds, "failed": e.ranked.failed_runs, "runs": e.ranked.runs,
            })
        })
        .collect();
    let incidents: Vec<Value> = s
        .report
        .incidents
        .iter()
        .rev()
        .take(10)
        .map(|i| {
            json!({
                "run": i.run, "href": format!("/incident?run={}", enc(&i.run)),
                "started_at": i.started_at, "failed_tests": i.failed_tests,
                "tests_executed": i.tests_executed, "fingerprint": i.top_fingerprint,
                "runner": i.runner,
            })
        })
        .collect();
    let clusters: Vec<Value> = s
        .report
        .shared_clusters
        .iter()
        .take(8)
        .map(|c| {
            json!({
                "href": format!("/cluster?fp={}", enc(&c.fingerprint)),
                "example": c.example, "tests": c.test_count, "failures": c.failures,
            })
        })
        .collect();
    let today = today();
    let quarantine: Vec<Value> = d
        .quarantine_of(&viewer.project)
        .await
        .into_iter()
        .map(|q| {
            let expired = q
                .expires
                .parse::<jiff::civil::Date>()
                .is_ok_and(|e| today > e);
            json!({
                "test": q.test, "href": format!("/test?id={}", enc(&q.test)),
                "owner": q.owner, "reason": q.reason, "expires": q.expires,
                "expired": expired, "issue": q.issue,
            })
        })
        .collect();
    let expired = quarantine.iter().filter(|q| q["expired"] == true).count();
    let mut ctx = common(&s, updating);
    let m = ctx.as_object_mut().expect("an object");
    m.extend(
        json!({
            "title": "Overview",
            "nav": "overview",
            "days": days,
            "verdicts": verdicts,
            "tests": s.rows.len(),
            "runs": s.ci_runs,
            "window_runs": window_runs,
            "window_failures": window_failures,
            "first_day": labels.first(),
            "last_day": labels.last(),
            "trend": trend,
            "trend_keys": TREND.iter().map(|(k, c)| json!({"key": k, "colour": c})).collect::<Vec<_>>(),
            "verdict_trend": verdict_trend,
            "trend_pending": s.days_pending,
            "verdict_trend_keys": VERDICT_TREND.iter().map(|(k, c)| json!({"key": k, "colour": c})).collect::<Vec<_>>(),
            "verdict_trend_ends": verdicts_last,
            "main_branch": s.main_branch,
            "main_runs": main_runs,
            "main_first": share(main_first, main_runs),
            "main_final": share(main_final, main_runs),
            "health": health_lines,
            "minutes": minutes,
            "reruns": reruns,
            "red": red,
            "top": top,
            "incidents": incidents,
            "incident_count": s.report.incidents.len(),
            "clusters": clusters,
            "quarantine": quarantine,
            "expired": expired,
        })
        .as_object()
        .expect("an object")
        .clone(),
    );
    Ok(d.render(StatusCode::OK, "overview.html", Some(&viewer), ctx))
}

#[derive(serde::Deserialize, Default, Clone, serde::Serialize)]
pub(crate) struct TestsQuery {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    runner: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    page: Option<usize>,
}

/// Rows per page of the tests table.
pub const PAGE: usize = 50;

const SORTS: [(&str, &str); 8] = [
    ("id", "Test"),
    ("verdict", "Verdict"),
    ("runs", "Runs"),
    ("failed", "Failed runs"),
    ("retry", "Passed on retry"),
    ("rate", "Failure rate"),
    ("minutes", "CI minutes"),
    ("cost", "Cost"),
];

fn verdict_rank(v: &str) -> u8 {
    match v {
        "broken" => 0,
        "regression" => 1,
        "flaky" => 2,
        "infra" => 3,
        "fixed" => 4,
        "stable" => 5,
        _ => 6,
    }
}

pub(crate) async fn tests(
    State(d): Dash,
    headers: HeaderMap,
    q: Result<Query<TestsQuery>, QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let (viewer, s, updating) = d.load(&headers, "/tests").await?;
    let needle = q.q.trim().to_lowercase();
    let branch = s.branches.iter().position(|b| *b == q.branch);
    let runner = s.runners.iter().position(|b| *b == q.runner);
    let mut rows: Vec<&Row> = s
        .rows
        .iter()
        .filter(|r| q.verdict.is_empty() || r.verdict.as_str() == q.verdict)
        .filter(|r| q.category.is_empty() || r.category.is_some_and(|c| c.as_str() == q.category))
        .filter(|r| q.owner.is_empty() || r.owners.contains(&q.owner))
        .filter(|r| {
            q.branch.is_empty() || branch.is_some_and(|b| r.failed_branches.contains(&(b as u32)))
        })
        .filter(|r| {
            q.runner.is_empty() || runner.is_some_and(|b| r.failed_runners.contains(&(b as u32)))
        })
        .filter(|r| needle.is_empty() || r.needle.contains(&needle))
        .collect();
    let sort = if SORTS.iter().any(|(k, _)| *k == q.sort) {
        q.sort.as_str()
    } else {
        "cost"
    };
    let desc = match q.dir.as_str() {
        "asc" => false,
        "desc" => true,
        _ => !matches!(sort, "id" | "verdict"),
    };
    // The rows are in the report's order (cost), then by id: a stable sort keeps it for ties.
    match sort {
        "id" => rows.sort_by(|a, b| a.id.cmp(&b.id)),
        "verdict" => rows.sort_by_key(|r| verdict_rank(r.verdict.as_str())),
        "runs" => rows.sort_by_key(|r| r.runs),
        "failed" => rows.sort_by_key(|r| r.failed_runs),
        "retry" => rows.sort_by_key(|r| r.retry_passes),
        "rate" => rows.sort_by(|a, b| a.failure_rate.total_cmp(&b.failure_rate)),
        "minutes" => rows.sort_by(|a, b| a.ci_minutes.total_cmp(&b.ci_minutes)),
        _ => {}
    }
    // Each sort above is ascending, except the report's order (cost), which is descending.
    if desc != (sort == "cost") {
        rows.reverse();
    }
    let total = rows.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown: Vec<Value> = rows
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|r| {
            json!({
                "id": r.id, "href": format!("/test?id={}", enc(&r.id)),
                "verdict": r.verdict.as_str(), "intermittent": r.intermittent,
                "category": r.category.map(|c| c.as_str()), "owners": r.owners,
                "runs": r.runs, "failed": r.failed_runs, "retry": r.retry_passes,
                "rate": r.failure_rate, "minutes": r.ci_minutes, "cost": r.cost,
            })
        })
        .collect();
    // Links keep the filters and change one thing.
    let link = |sort: &str, dir: &str, page: usize| -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("verdict", &q.verdict),
            ("category", &q.category),
            ("owner", &q.owner),
            ("branch", &q.branch),
            ("runner", &q.runner),
            ("q", &q.q),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        parts.push(format!("sort={sort}"));
        parts.push(format!("dir={dir}"));
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        format!("/tests?{}", parts.join("&"))
    };
    let columns: Vec<Value> = SORTS
        .iter()
        .map(|(k, label)| {
            let active = *k == sort;
            let next = if active {
                if desc { "asc" } else { "desc" }
            } else if matches!(*k, "id" | "verdict") {
                "asc"
            } else {
                "desc"
            };
            json!({
                "key": k, "label": label, "href": link(k, next, 1),
                "aria": if active { if desc { "descending" } else { "ascending" } } else { "none" },
            })
        })
        .collect();
    let dir = if desc { "desc" } else { "asc" };
    let mut ctx = common(&s, updating);
    let m = ctx.as_object_mut().expect("an object");
    m.extend(
        json!({
            "title": "Tests",
            "nav": "tests",
            "q": q,
            "rows": shown,
            "total": total,
            "all": s.rows.len(),
            "page": page,
            "pages": pages,
            "prev": (page > 1).then(|| link(sort, dir, page - 1)),
            "next": (page < pages).then(|| link(sort, dir, page + 1)),
            "columns": columns,
            "verdicts": ["broken", "regression", "flaky", "infra", "fixed", "stable", "not-run"],
            "categories": flakehound_model::Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "owners": s.owners,
            "branches": s.branches,
            "runners": s.runners,
        })
        .as_object()
        .expect("an object")
        .clone(),
    );
    Ok(d.render(StatusCode::OK, "tests.html", Some(&viewer), ctx))
}

#[derive(serde::Deserialize)]
pub(crate) struct IdQuery {
    id: Option<String>,
}

/// Most runs drawn on a timeline (the newest).
const TIMELINE_RUNS: usize = 600;

fn weekday(ts: &str) -> Option<&'static str> {
    let t: jiff::Timestamp = ts.parse().ok()?;
    let d = t.to_zoned(jiff::tz::TimeZone::UTC).weekday();
    Some(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][d.to_monday_zero_offset() as usize])
}

/// Failure rates of one dimension: (value, runs, failed) with Jeffreys intervals.
fn rates(groups: BTreeMap<String, (u64, u64)>, order_by_rate: bool) -> Vec<Value> {
    let mut v: Vec<(String, Rate)> = groups
        .into_iter()
        .map(|(k, (n, f))| (k, Rate::new(f, n)))
        .collect();
    if order_by_rate {
        v.sort_by(|a, b| b.1.mean.total_cmp(&a.1.mean).then(a.0.cmp(&b.0)));
    }
    v.into_iter()
        .map(|(k, r)| {
            json!({
                "value": k, "runs": r.trials, "failed": r.failures, "mean": r.mean,
                "low": r.low, "high": r.high, "bar": svg::rate_bar(r.mean, r.low, r.high),
            })
        })
        .collect()
}

/// Failed attempts searched for a pattern's example trace (newest first).
const TRACE_SEARCH: usize = 200;
/// An example trace is cut after this many characters.
const TRACE_CHARS: usize = 4000;

/// `s` cut to at most `n` characters (on a character boundary), with `…` when cut.
fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

pub(crate) async fn test(State(d): Dash, headers: HeaderMap, q: Query<IdQuery>) -> PageResult {
    let Some(id) = q.0.id.filter(|i| !i.is_empty()) else {
        return Ok(Redirect::to("/tests").into_response());
    };
    let back = format!("/test?id={}", enc(&id));
    let (viewer, s, updating) = d.load(&headers, &back).await?;
    let Some(row) = s.row(&id) else {
        return Err(d.error(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            &format!("no test {id:?} in project {}", viewer.project),
        ));
    };
    let entry = s.entry(&id);
    let runs: &[TestRun] = s.test_runs(&id);
    let ev = &s.ev;
    let in_incident = |r: &TestRun| s.incident_of.contains_key(&r.run);
    // Timeline.
    let start = runs.len().saturating_sub(TIMELINE_RUNS);
    let cells: Vec<svg::Cell> = runs[start..]
        .iter()
        .map(|r| {
            let run = &ev.runs[r.run as usize];
            let commit = run.commit.as_deref().unwrap_or("?");
            let state = if !r.failed_first {
                "pass"
            } else if in_incident(r) {
                "incident"
            } else if r.retry_pass() {
                "retry"
            } else {
                "fail"
            };
            let what = match state {
                "pass" => "passed",
                "incident" => "failed during an incident",
                "retry" => "failed, passed on retry",
                _ => "failed",
            };
            svg::Cell {
                commit: short_commit(commit).to_string(),
                state,
                tip: format!(
                    "{} · {} · {} · {}",
                    short_commit(commit),
                    run.started_at,
                    run.runner.as_deref().unwrap_or("?"),
                    what
                ),
            }
        })
        .collect();
    let culprit = entry.and_then(|e| e.culprit.as_ref());
    let culprit_short = culprit.map(|c| {
        (
            short_commit(&c.range.0).to_string(),
            short_commit(&c.range.1).to_string(),
            short_commit(&c.commit).to_string(),
        )
    });
    let notes = entry.map(|e| e.notes.as_slice()).unwrap_or_default();
    let marks: Vec<(usize, String)> = notes
        .iter()
        .filter_map(|n| {
            let i = runs[start..]
                .iter()
                .position(|r| ev.runs[r.run as usize].started_at.as_str() >= n.created_at.as_str())
                .unwrap_or(cells.len().saturating_sub(1));
            (!cells.is_empty()).then(|| (i, format!("{} #{}: {}", n.kind, n.id, n.text)))
        })
        .collect();
    let timeline = (!cells.is_empty()).then(|| {
        svg::timeline(
            &format!(
                "Timeline of {} runs along commits: passed, failed, passed on retry, failed during an incident",
                cells.len()
            ),
            &cells,
            culprit_short
                .as_ref()
                .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())),
            &marks,
        )
    });
    let commits = {
        let mut c: Vec<&str> = cells.iter().map(|c| c.commit.as_str()).collect();
        c.dedup();
        c.len()
    };
    let timeline_counts = json!({
        "pass": cells.iter().filter(|c| c.state == "pass").count(),
        "fail": cells.iter().filter(|c| c.state == "fail").count(),
        "retry": cells.iter().filter(|c| c.state == "retry").count(),
        "incident": cells.iter().filter(|c| c.state == "incident").count(),
        "commits": commits,
        "shown": cells.len(), "all": runs.len(),
    });
    // Failure patterns: clusters of this test's first-attempt failures.
    struct Clu {
        count: u64,
        first: String,
        last: String,
        example: String,
    }
    let mut clusters: BTreeMap<u32, Clu> = BTreeMap::new();
    let mut unclustered = 0u64;
    for r in runs.iter().filter(|r| r.failed_first && !in_incident(r)) {
        let when = &ev.runs[r.run as usize].started_at;
        match s.fingerprint_of(r.message) {
            Some(fp) => {
                let c = clusters.entry(fp).or_insert_with(|| Clu {
                    count: 0,
                    first: when.clone(),
                    last: when.clone(),
                    example: r
                        .message
                        .and_then(|m| ev.messages.get(m as usize))
                        .cloned()
                        .unwrap_or_default(),
                });
                c.count += 1;
                c.last = when.clone();
            }
            None => unclustered += 1,
        }
    }
    let mut clusters: Vec<(u32, Clu)> = clusters.into_iter().collect();
    clusters.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    // An example trace per pattern: the evidence keeps each message's line, the store the
    // whole text (message and details) of the newest failures, read here for this test only.
    let texts: Vec<flakehound_store::FailureText> = if clusters.is_empty() {
        Vec::new()
    } else {
        let (backend, project, test) = (d.backend(), viewer.project.clone(), id.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            Ok(backend.open(&project)?.failure_texts(&test, TRACE_SEARCH)?)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
    };
    // Each text's pattern, computed once for all the clusters.
    let texts: Vec<(String, &flakehound_store::FailureText)> = texts
        .iter()
        .filter_map(|t| {
            let m = t.message.as_deref()?;
            let fp =
                flakehound_analysis::fingerprint::fingerprint(&flakehound_model::message_line(m));
            Some((fp, t))
        })
        .collect();
    let trace_of = |fp: &str| -> Option<String> {
        let (_, t) = texts.iter().find(|(f, _)| f == fp)?;
        let mut text = t.message.clone().unwrap_or_default();
        if let Some(d) = t.details.as_deref().filter(|d| !d.trim().is_empty()) {
            text.push_str("\n\n");
            text.push_str(d);
        }
        Some(truncate_chars(&text, TRACE_CHARS))
    };
    let clusters: Vec<Value> = clusters
        .into_iter()
        .map(|(fp, c)| {
            let fp = &s.fingerprints[fp as usize];
            json!({
                "href": format!("/cluster?fp={}", enc(fp)), "fingerprint": fp,
                "count": c.count, "first": c.first, "last": c.last, "example": c.example,
                "trace": trace_of(fp),
            })
        })
        .collect();
    // Cross-test correlation.
    let me = s.ev_test_of.get(&id).copied();
    let mut together: HashMap<u32, u64> = HashMap::new();
    let mut failing = 0u64;
    let mut incidents: Vec<Value> = Vec::new();
    for r in runs.iter().filter(|r| r.failed_first) {
        if let Some(&i) = s.incident_of.get(&r.run) {
            let inc = &s.report.incidents[i];
            incidents.push(json!({
                "href": format!("/incident?run={}", enc(&inc.run)), "run": inc.run,
                "started_at": inc.started_at, "failed_tests": inc.failed_tests,
            }));
            continue;
        }
        failing += 1;
        for &t in &s.run_failed_first[r.run as usize] {
            if Some(t) != me {
                *together.entry(t).or_default() += 1;
            }
        }
    }
    let mut together: Vec<(u32, u64)> = together.into_iter().collect();
    together.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let together: Vec<Value> = together
        .into_iter()
        .take(10)
        .map(|(t, n)| {
            let tid = &ev.tests[t as usize].id;
            json!({
                "id": tid, "href": format!("/test?id={}", enc(tid)), "runs": n,
                "share": n as f64 / failing.max(1) as f64,
                "verdict": s.row(tid).map(|r| r.verdict.as_str()),
            })
        })
        .collect();
    // Environment.
    let mut by: [BTreeMap<String, (u64, u64)>; 5] = Default::default();
    for r in runs.iter().filter(|r| !in_incident(r)) {
        let run = &ev.runs[r.run as usize];
        let f = u64::from(r.failed_first);
        let keys = [
            run.runner.clone().unwrap_or_else(|| "?".into()),
            run.os.clone().unwrap_or_else(|| "?".into()),
            run.job.clone().unwrap_or_else(|| "?".into()),
            run.started_at
                .get(11..13)
                .map_or("?".into(), |h| format!("{h}:00")),
            weekday(&run.started_at).unwrap_or("?").to_string(),
        ];
        for (i, k) in keys.into_iter().enumerate() {
            let e = by[i].entry(k).or_default();
            e.0 += 1;
            e.1 += f;
        }
    }
    let [runner, os, job, hour, day] = by;
    let mut weekday_sorted: Vec<(String, (u64, u64))> = day.into_iter().collect();
    let wd = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "?"];
    weekday_sorted.sort_by_key(|(k, _)| wd.iter().position(|w| w == k));
    let day_rates: Vec<Value> = {
        let ordered: Vec<Value> = weekday_sorted
            .into_iter()
            .map(|(k, (n, f))| {
                let r = Rate::new(f, n);
                json!({
                    "value": k, "runs": n, "failed": f, "mean": r.mean, "low": r.low,
                    "high": r.high, "bar": svg::rate_bar(r.mean, r.low, r.high),
                })
            })
            .collect();
        ordered
    };
    let hour_columns: Vec<(String, f64, f64, f64, u64)> = (0..24)
        .map(|h| {
            let label = format!("{h:02}:00");
            let (n, f) = hour.get(&label).copied().unwrap_or((0, 0));
            let r = Rate::new(f, n);
            (format!("{h:02}"), r.mean, r.low, r.high, n)
        })
        .collect();
    let hour_chart = (!hour.is_empty()).then(|| {
        svg::rate_columns(
            "First-attempt failure rate by hour of day (UTC), with 95% intervals",
            &hour_columns,
        )
    });
    let environment = json!([
        { "name": "Runner", "rows": rates(runner, true) },
        { "name": "OS", "rows": rates(os, true) },
        { "name": "CI job", "rows": rates(job, true) },
        { "name": "Weekday (UTC)", "rows": day_rates },
        { "name": "Hour of day (UTC)", "rows": rates(hour, false), "chart": hour_chart, "folded": true },
    ]);
    let failing_runs: Vec<Value> = runs
        .iter()
        .rev()
        .filter(|r| r.failed_first)
        .take(15)
        .map(|r| {
            let run = &ev.runs[r.run as usize];
            json!({
                "key": run.key, "href": format!("/run?key={}", enc(&run.key)),
                "commit": run.commit, "started_at": run.started_at, "runner": run.runner,
                "retry_pass": r.retry_pass(), "incident": in_incident(r),
                "message": r.message.and_then(|m| ev.messages.get(m as usize)),
            })
        })
        .collect();
    let quarantine = d
        .quarantine_of(&viewer.project)
        .await
        .into_iter()
        .find(|q| q.test == id);
    let today = today();
    let expired = quarantine.as_ref().is_some_and(|q| {
        q.expires
            .parse::<jiff::civil::Date>()
            .is_ok_and(|e| today > e)
    });
    let quoted = shell_quote(&id);
    let mut ctx = common(&s, updating);
    let m = ctx.as_object_mut().expect("an object");
    m.extend(
        json!({
            "title": id,
            "nav": "tests",
            "id": id,
            "row": row,
            "entry": entry,
            "verdict": row.verdict.as_str(),
            "culprit": culprit.map(|c| json!({
                "commit": c.commit, "short": short_commit(&c.commit), "posterior": c.posterior,
                "first": c.range.0, "last": c.range.1,
            })),
            "timeline": timeline,
            "timeline_counts": timeline_counts,
            "clusters": clusters,
            "unclustered": unclustered,
            "together": together,
            "failing_with_others": failing,
            "shared_incidents": incidents,
            "environment": environment,
            "failing_runs": failing_runs,
            "notes": notes,
            "quarantine": quarantine,
            "quarantine_expired": expired,
            "default_expiry": today.checked_add(jiff::Span::new().days(30)).unwrap_or(today).to_string(),
            "repro": format!("flakehound repro {quoted} --until-fail -- <your test command>"),
            "diagnose": format!("flakehound diagnose {quoted} -- <your test command>"),
            "explain": format!("flakehound explain {quoted}"),
        })
        .as_object()
        .expect("an object")
        .clone(),
    );
    Ok(d.render(StatusCode::OK, "test.html", Some(&viewer), ctx))
}

/// Quotes a test id for a shell command line (POSIX single quotes when needed).
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=+,@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct RunQuery {
    run: Option<String>,
    key: Option<String>,
}

fn failed_in_run(s: &Snapshot, run: u32) -> Vec<Value> {
    let mut v: Vec<Value> = s.run_failed_first[run as usize]
        .iter()
        .map(|&t| {
            let id = &s.ev.tests[t as usize].id;
            let tr = s.runs_of[t as usize].iter().find(|r| r.run == run).copied();
            json!({
                "id": id, "href": format!("/test?id={}", enc(id)),
                "verdict": s.row(id).map(|r| r.verdict.as_str()),
                "retry_pass": tr.is_some_and(|r| r.retry_pass()),
                "message": tr.and_then(|r| r.message).and_then(|m| s.ev.messages.get(m as usize)),
            })
        })
        .collect();
    v.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    v
}

pub(crate) async fn incident(State(d): Dash, headers: HeaderMap, q: Query<RunQuery>) -> PageResult {
    let key = q.0.run.unwrap_or_default();
    let back = format!("/incident?run={}", enc(&key));
    let (viewer, s, updating) = d.load(&headers, &back).await?;
    let Some(inc) = s.report.incidents.iter().find(|i| i.run == key) else {
        return Err(d.error(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            &format!("no incident in run {key:?}"),
        ));
    };
    let failed = s
        .run_of_key
        .get(&key)
        .map(|&r| failed_in_run(&s, r))
        .unwrap_or_default();
    let mut ctx = common(&s, updating);
    let m = ctx.as_object_mut().expect("an object");
    m.extend(
        json!({
            "title": format!("Incident in run {key}"),
            "nav": "overview",
            "incident": inc,
            "run_href": format!("/run?key={}", enc(&key)),
            "failed": failed,
        })
        .as_object()
        .expect("an object")
        .clone(),
    );
    Ok(d.render(StatusCode::OK, "incident.html", Some(&viewer), ctx))
}

#[derive(serde::Deserialize)]
pub(crate) struct FpQuery {
    fp: Option<String>,
}

pub(crate) async fn cluster(State(d): Dash, headers: HeaderMap, q: Query<FpQuery>) -> PageResult {
    let fp = q.0.fp.unwrap_or_default();
    let back = format!("/cluster?fp={}", enc(&fp));
    let (viewer, s, updating) = d.load(&headers, &back).await?;
    let Some(&want) = s.fp_index.get(&fp) else {
        return Err(d.error(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            &format!("no failure has the fingerprint {fp:?}"),
        ));
    };
    let mut example = String::new();
    let mut tests: Vec<Value> = Vec::new();
    let mut total = 0u64;
    let mut in_incidents = 0u64;
    for (t, runs) in s.runs_of.iter().enumerate() {
        let mut n = 0u64;
        let mut first: Option<&str> = None;
        let mut last: Option<&str> = None;
        for r in runs.iter().filter(|r| r.failed_first) {
            if s.fingerprint_of(r.message) != Some(want) {
                continue;
            }
            if s.incident_of.contains_key(&r.run) {
                in_incidents += 1;
                continue;
            }
            if example.is_empty() {
                example = r
                    .message
                    .and_then(|m| s.ev.messages.get(m as usize))
                    .cloned()
                    .unwrap_or_default();
            }
            let when = s.ev.runs[r.run as usize].started_at.as_str();
            first.get_or_insert(when);
            last = Some(when);
            n += 1;
        }
        if n > 0 {
            total += n;
            let id = &s.ev.tests[t].id;
            tests.push(json!({
                "id": id, "href": format!("/test?id={}", enc(id)), "failures": n,
                "first": first, "last": last, "verdict": s.row(id).map(|r| r.verdict.as_str()),
            }));
        }
    }
    tests.sort_by(|a, b| b["failures"].as_u64().cmp(&a["failures"].as_u64()));
    let mut ctx = common(&s, updating);
    let m = ctx.as_object_mut().expect("an object");
    m.extend(
        json!({
            "title": "Failure cluster",
            "nav": "overview",
            "fingerprint": fp,
            "example": example,
            "tests": tests,
            "total": total,
            "in_incidents": in_incidents,
        })
        .as_object()
        .expect("an object")
        .clone(),
    );
    Ok(d.render(StatusCode::OK, "cluster.html", Some(&viewer), ctx))
}

pub(crate) async fn run(State(d): Dash, headers: HeaderMap, q: Query<RunQuery>) -> PageResult {
    let key = q.0.key.unwrap_or_default();
    let back = format!("/run?key={}", enc(&key));
    let (viewer, s, updating) = d.load(&headers, &back).await?;
    let Some(&r) = s.run_of_key.get(&key) else {
        return Err(d.error(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            &format!("no run {key:?} in project {}", viewer.project),
        ));
    };
    let run = &s.ev.runs[r as usize];
    // Only http(s) links are offered.
    let url = run
        .url
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let failed = failed_in_run(&s, r);
    let incident = s.incident_of.get(&r).map(|&i| &s.report.incidents[i]);
    let mut ctx = common(&s, updating);
    let m = ctx.as_object_mut().expect("an object");
    m.extend(
        json!({
            "title": format!("Run {key}"),
            "nav": "overview",
            "run": {
                "key": run.key, "source": run.source.as_str(), "commit": run.commit,
                "branch": run.branch, "job": run.job, "attempt": run.run_attempt,
                "runner": run.runner, "os": run.os, "pull_request": run.pull_request,
                "started_at": run.started_at, "url": url,
            },
            "executed": s.ev.run_sizes.get(r as usize),
            "failed": failed,
            "failed_last": s.run_failed_last[r as usize],
            "incident": incident.map(|i| json!({ "href": format!("/incident?run={}", enc(&i.run)), "reason": i.reason })),
        })
        .as_object()
        .expect("an object")
        .clone(),
    );
    Ok(d.render(StatusCode::OK, "run.html", Some(&viewer), ctx))
}

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static str, &str) = match file.as_str() {
        "style.css" => (
            include_str!("../assets/style.css"),
            "text/css; charset=utf-8",
        ),
        "icon.svg" => (include_str!("../assets/icon.svg"), "image/svg+xml"),
        "app.js" => (
            include_str!("../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// Where to go after signing in: a path on this site only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

pub(crate) async fn signin_page(
    State(d): Dash,
    q: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    if !d.signs_in() {
        return Redirect::to("/").into_response();
    }
    let next = safe_next(q.ok().and_then(|q| q.0.next).as_deref());
    d.render(
        StatusCode::OK,
        "signin.html",
        None,
        json!({ "title": "Sign in", "next": next, "error": null }),
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

fn cookie(headers: &HeaderMap, value: &str, max_age: Option<u64>) -> HeaderValue {
    // Behind a TLS-terminating proxy that says so, the cookie is HTTPS-only.
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let mut c = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict",
        crate::COOKIE
    );
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if https {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("a cookie of hex digits is a valid header")
}

pub(crate) async fn signin(
    State(d): Dash,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !d.signs_in() {
        return Redirect::to("/").into_response();
    }
    let (token, next) = match form {
        Ok(Form(f)) => (f.token, safe_next(f.next.as_deref())),
        Err(e) => (String::new(), format!("/?{}", enc(&e.body_text()))),
    };
    let token = token.trim();
    let failed = |why: String, next: String| {
        d.render(
            StatusCode::UNAUTHORIZED,
            "signin.html",
            None,
            json!({ "title": "Sign in", "next": next, "error": why }),
        )
    };
    if token.is_empty() {
        return failed("enter a token".into(), next);
    }
    match d.start_session(token).await {
        Ok(id) => {
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut()
                .insert(header::SET_COOKIE, cookie(&headers, &id, None));
            r
        }
        Err(why) => failed(why, next),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn signout(
    State(d): Dash,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let viewer = d.viewer(&headers, "/", false).await?;
    if !form.is_ok_and(|f| Dashboard::csrf_ok(&viewer, &f.0.csrf)) {
        return Err(d.error(
            StatusCode::FORBIDDEN,
            Some(&viewer),
            "the form's CSRF token is wrong: reload the page",
        ));
    }
    d.end_session(&headers);
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, cookie(&headers, "", Some(0)));
    Ok(r)
}

#[derive(serde::Deserialize)]
pub(crate) struct QuarantineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    test: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    issue: String,
}

/// The viewer of a quarantine form: an admin with the session's CSRF token.
async fn admin_form(
    d: &Arc<Dashboard>,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Viewer, Response> {
    let viewer = d.viewer(headers, "/", false).await?;
    if !viewer.admin {
        return Err(d.error(
            StatusCode::FORBIDDEN,
            Some(&viewer),
            "changing the quarantine needs an admin token",
        ));
    }
    if !Dashboard::csrf_ok(&viewer, csrf) {
        return Err(d.error(
            StatusCode::FORBIDDEN,
            Some(&viewer),
            "the form's CSRF token is wrong: reload the page",
        ));
    }
    Ok(viewer)
}

pub(crate) async fn quarantine(
    State(d): Dash,
    headers: HeaderMap,
    form: Result<Form<QuarantineForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let Form(f) = form.map_err(|e| (StatusCode::BAD_REQUEST, e.body_text()).into_response())?;
    let viewer = admin_form(&d, &headers, &f.csrf).await?;
    let bad = |m: String| d.error(StatusCode::BAD_REQUEST, Some(&viewer), &m);
    if f.test.trim().is_empty() {
        return Err(bad("which test? (the form had no test)".into()));
    }
    if f.reason.trim().is_empty() {
        return Err(bad("a quarantine entry needs a reason".into()));
    }
    let today = today();
    let expires = if f.expires.trim().is_empty() {
        today
            .checked_add(jiff::Span::new().days(30))
            .unwrap_or(today)
    } else {
        f.expires.trim().parse::<jiff::civil::Date>().map_err(|e| {
            bad(format!(
                "expires {:?} is not a date (YYYY-MM-DD): {e}",
                f.expires
            ))
        })?
    };
    let entry = QuarantineRecord {
        test: f.test.clone(),
        reason: f.reason.trim().to_string(),
        owner: if f.owner.trim().is_empty() {
            viewer.actor.clone()
        } else {
            f.owner.trim().to_string()
        },
        added: today.to_string(),
        expires: expires.to_string(),
        issue: Some(f.issue.trim().to_string()).filter(|i| !i.is_empty()),
    };
    let backend = d.backend();
    let (project, actor) = (viewer.project.clone(), viewer.actor.clone());
    let done =
        tokio::task::spawn_blocking(move || backend.put_quarantine(&project, &entry, &actor))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| format!("{e:#}")));
    if let Err(e) = done {
        return Err(d.error(StatusCode::SERVICE_UNAVAILABLE, Some(&viewer), &e));
    }
    Ok(Redirect::to(&format!("/test?id={}", enc(&f.test))).into_response())
}

pub(crate) async fn release(
    State(d): Dash,
    headers: HeaderMap,
    form: Result<Form<QuarantineForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let Form(f) = form.map_err(|e| (StatusCode::BAD_REQUEST, e.body_text()).into_response())?;
    let viewer = admin_form(&d, &headers, &f.csrf).await?;
    let backend = d.backend();
    let (project, actor, test) = (viewer.project.clone(), viewer.actor.clone(), f.test.clone());
    let done =
        tokio::task::spawn_blocking(move || backend.remove_quarantine(&project, &test, &actor))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| format!("{e:#}")));
    match done {
        Ok(true) => Ok(Redirect::to(&format!("/test?id={}", enc(&f.test))).into_response()),
        Ok(false) => Err(d.error(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            &format!("{:?} is not quarantined", f.test),
        )),
        Err(e) => Err(d.error(StatusCode::SERVICE_UNAVAILABLE, Some(&viewer), &e)),
    }
}
