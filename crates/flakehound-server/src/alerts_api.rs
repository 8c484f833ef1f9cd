//! Alerting through the API, per project: the configuration (an `alerts.toml`, kept in the
//! store, used for the project instead of the server's `--alerts` file), mutes, and the
//! delivery log. The monitors themselves run in `flakehound-alerts` (its background evaluator
//! reads what these routes store); this crate only checks a configuration through
//! [`AlertsApi::check`], which `flakehound serve` gives it.

use crate::{ADMIN, ApiError, ApiResult, AppState, READ, actor, bad_path, bad_query, tokens};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flakehound_store::{AlertConfig, Mute};
use std::sync::Arc;

/// Checks the text of an `alerts.toml`: `Err` names the channel or table and the key.
pub type ConfigCheck = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// What the server knows of alerting (see [`crate::Config::alerts`]).
#[derive(Clone)]
pub struct AlertsApi {
    /// Checks the text of an `alerts.toml` (parses, values in range, every channel buildable);
    /// the error names the channel or table and the key.
    pub check: ConfigCheck,
    /// The server's own file (`serve --alerts FILE`): its path and text, what projects without
    /// a configuration of their own use.
    pub file: Option<(String, String)>,
}

impl std::fmt::Debug for AlertsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsApi")
            .field("file", &self.file.as_ref().map(|(p, _)| p))
            .finish_non_exhaustive()
    }
}

pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/alerts/config",
            get(config_get).put(config_put).delete(config_delete),
        )
        .route("/api/v1/alerts/mutes", get(mutes_list))
        .route(
            "/api/v1/alerts/mutes/{*subject}",
            axum::routing::put(mute_put).delete(mute_delete),
        )
        .route("/api/v1/alerts/deliveries", get(deliveries))
}

fn with_alerts<T>(
    s: &crate::Shared,
    f: impl FnOnce(&mut dyn flakehound_store::AlertStore) -> flakehound_store::Result<T>,
) -> ApiResult<T> {
    let mut a = flakehound_store::open_alerts(&s.config.location).map_err(ApiError::unavailable)?;
    f(a.as_mut()).map_err(ApiError::unavailable)
}

/// The configuration a project's evaluations use, and where it comes from.
fn describe(api: Option<&AlertsApi>, stored: Option<AlertConfig>) -> serde_json::Value {
    match (stored, api.and_then(|a| a.file.as_ref())) {
        (Some(c), _) => serde_json::json!({
            "source": "api", "config": c.config, "path": null,
            "updated_at": c.updated_at, "updated_by": c.updated_by,
        }),
        (None, Some((path, text))) => serde_json::json!({
            "source": "file", "config": text, "path": path,
            "updated_at": null, "updated_by": null,
        }),
        (None, None) => serde_json::json!({
            "source": "none", "config": null, "path": null,
            "updated_at": null, "updated_by": null,
        }),
    }
}

/// Queues an evaluation of `project` (the same hook as after an upload).
fn evaluate_soon(state: &AppState, project: &str) {
    if let Some(h) = &state.config.after_commit {
        (h.0)(project);
    }
}

async fn config_get(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let project = token.project;
    let stored = state
        .blocking(move |s| with_alerts(s, |a| a.alert_config(&project)))
        .await?;
    Ok(Json(describe(state.config.alerts.as_ref(), stored)).into_response())
}

async fn config_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let Some(api) = state.config.alerts.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "alerting does not run on this server",
        ));
    };
    let toml = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            matches!(
                v.as_str(),
                "text/plain" | "application/toml" | "text/x-toml"
            )
        });
    if !toml {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is the text of an alerts.toml: send it with Content-Type: application/toml (or text/plain)",
        ));
    }
    let text = String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is the text of an alerts.toml, in UTF-8: {e}"),
        )
    })?;
    // Checked off the runtime: building a channel may read a CA file.
    let checked = text.clone();
    tokio::task::spawn_blocking(move || (api.check)(&checked))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let record = AlertConfig {
        project: token.project.clone(),
        config: text,
        updated_at: tokens::stamp(jiff::Timestamp::now()),
        updated_by: actor(&token),
    };
    let stored = record.clone();
    state
        .blocking(move |s| with_alerts(s, |a| a.set_alert_config(&stored)))
        .await?;
    evaluate_soon(&state, &token.project);
    Ok(Json(describe(state.config.alerts.as_ref(), Some(record))).into_response())
}

async fn config_delete(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let project = token.project.clone();
    let removed = state
        .blocking(move |s| with_alerts(s, |a| a.remove_alert_config(&project)))
        .await?;
    if removed {
        evaluate_soon(&state, &token.project);
    }
    crate::deleted(
        removed,
        "this project has no alerts configuration of its own",
    )
}

async fn mutes_list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let project = token.project;
    let mutes = state
        .blocking(move |s| with_alerts(s, |a| a.mutes(&project)))
        .await?;
    Ok(Json(serde_json::json!({ "mutes": mutes })).into_response())
}

/// The body of `PUT /api/v1/alerts/mutes/{subject}`: at most one of `for` and `until`;
/// neither mutes until the mute is removed.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MuteBody {
    /// `7d`, `12h`, `2w`, `90m`, `30s`.
    #[serde(rename = "for")]
    duration: Option<String>,
    /// Through that day (UTC), `YYYY-MM-DD`.
    until: Option<String>,
    reason: Option<String>,
}

/// `7d` and the like (the units of `alerts.toml`, up to 99,999 of them).
fn duration(s: &str) -> Option<jiff::SignedDuration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    if n.is_empty() || n.len() > 5 {
        return None;
    }
    let n: i64 = n.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    Some(jiff::SignedDuration::from_secs(n * secs))
}

async fn mute_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    subject: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Result<Json<MuteBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let Path(subject) = subject.map_err(bad_path)?;
    let Json(body) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is JSON {{\"for\": \"7d\", \"until\": \"YYYY-MM-DD\", \"reason\": …}} (at most one of for and until): {}",
                e.body_text()
            ),
        )
    })?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let now = jiff::Timestamp::now();
    let until = match (&body.duration, &body.until) {
        (Some(_), Some(_)) => {
            return Err(bad("give `for` or `until`, not both".into()));
        }
        (Some(d), None) => {
            let d = duration(d)
                .ok_or_else(|| bad(format!("for {d:?} is not a duration (like 7d, 12h, 2w)")))?;
            Some(
                now.checked_add(d)
                    .map_err(|e| bad(format!("for: too long: {e}")))?,
            )
        }
        (None, Some(u)) => {
            let day: jiff::civil::Date = u
                .parse()
                .map_err(|e| bad(format!("until {u:?} is not a date (YYYY-MM-DD): {e}")))?;
            // Through that day: its last second (the last day of the calendar has no tomorrow).
            Some(
                day.at(23, 59, 59, 0)
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .map_err(|e| bad(format!("until {u:?}: {e}")))?
                    .timestamp(),
            )
        }
        (None, None) => None,
    };
    let mute = Mute {
        project: token.project,
        subject,
        until: until.map(tokens::stamp),
        reason: body.reason.filter(|r| !r.trim().is_empty()),
        created_at: tokens::stamp(now),
    };
    let stored = mute.clone();
    state
        .blocking(move |s| with_alerts(s, |a| a.mute(&stored)))
        .await?;
    Ok(Json(mute).into_response())
}

async fn mute_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    subject: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let Path(subject) = subject.map_err(bad_path)?;
    let project = token.project;
    let shown = subject.clone();
    let removed = state
        .blocking(move |s| with_alerts(s, |a| a.unmute(&project, &subject)))
        .await?;
    crate::deleted(removed, format!("{shown:?} is not muted in this project"))
}

#[derive(serde::Deserialize)]
struct LogQuery {
    limit: Option<u32>,
}

async fn deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let Query(q) = q.map_err(bad_query)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "limit is 1 to 1000"));
    }
    let project = token.project;
    let log = state
        .blocking(move |s| with_alerts(s, |a| a.deliveries(&project, limit)))
        .await?;
    Ok(Json(serde_json::json!({ "deliveries": log })).into_response())
}
