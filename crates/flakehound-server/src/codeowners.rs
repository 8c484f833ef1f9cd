//! A project's CODEOWNERS on the server (`/api/v1/codeowners`): the server has no repository,
//! so an admin gives it the repository's CODEOWNERS text (a CI step can send it after each
//! change); the dashboard's owner column and filter use it.

use crate::{ADMIN, ApiError, ApiResult, AppState, READ, tokens};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/v1/codeowners",
        get(get_text).put(put_text).delete(delete_text),
    )
}

/// What the text says: its rules, and the lines skipped (GitHub skips them too).
fn describe(text: Option<String>) -> serde_json::Value {
    match text {
        Some(t) => {
            let parsed = flakehound_owners::CodeOwners::parse(&t);
            let errors: Vec<String> = parsed.errors().iter().map(|e| e.to_string()).collect();
            serde_json::json!({ "text": t, "rules": parsed.rules().len(), "errors": errors })
        }
        None => serde_json::json!({ "text": null, "rules": 0, "errors": [] }),
    }
}

async fn get_text(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize(&headers, READ).await?;
    let project = token.project;
    let text = state
        .blocking(move |s| s.with_admin(|a| a.codeowners(&project)))
        .await?;
    Ok(Json(describe(text)).into_response())
}

async fn put_text(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let plain = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/plain"));
    if !plain {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is the CODEOWNERS text: send it with Content-Type: text/plain",
        ));
    }
    if body.len() > flakehound_owners::MAX_CODEOWNERS_BYTES as usize {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a CODEOWNERS file is at most {} bytes (GitHub ignores larger ones)",
                flakehound_owners::MAX_CODEOWNERS_BYTES
            ),
        ));
    }
    let text = String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the CODEOWNERS text is not UTF-8: {e}"),
        )
    })?;
    let project = token.project.clone();
    let at = tokens::stamp(jiff::Timestamp::now());
    let stored = text.clone();
    state
        .blocking(move |s| s.with_admin(|a| a.set_codeowners(&project, Some(&stored), &at)))
        .await?;
    // The dashboard's next analysis reads it.
    state.changed(&token.project);
    Ok(Json(describe(Some(text))).into_response())
}

async fn delete_text(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = state.authorize(&headers, ADMIN).await?;
    let project = token.project.clone();
    let at = tokens::stamp(jiff::Timestamp::now());
    let had = state
        .blocking(move |s| {
            s.with_admin(|a| {
                let had = a.codeowners(&project)?.is_some();
                a.set_codeowners(&project, None, &at)?;
                Ok(had)
            })
        })
        .await?;
    if had {
        state.changed(&token.project);
    }
    crate::deleted(had, "this project has no CODEOWNERS on the server")
}
