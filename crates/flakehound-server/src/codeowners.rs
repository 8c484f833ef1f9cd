//! A project's CODEOWNERS on the server: the server has no repository, so uploads of the
//! default branch carry the repository's file (the `codeowners` part of `POST
//! /api/v1/uploads`, see [`offer`]), and an admin may pin one instead (`PUT
//! /api/v1/codeowners`). The dashboard's owner column and filter use it.
//!
//! # Which text the server keeps
//! - Only an upload with a token (upload or admin scope) of the project's default branch, not
//!   of a pull request, offers its file: a public upload id (fork pull requests), a pull
//!   request's upload (same repository or fork) and a push to another branch never change it.
//!   The default branch is the one the upload's `codeowners` part names (`default_branch`,
//!   detected by the client from CI or `origin/HEAD`), else `main` or `master`.
//! - The newest commit wins, by the committer time the part carries: a re-run of an old
//!   commit, or an upload that was spooled and sent late, does not bring back an older file.
//!   A time more than an hour ahead of the server's clock is refused (it would freeze the file).
//! - The same text as kept writes nothing (its change time stays; only the newer commit that
//!   carried it is recorded, so that a late upload of a commit in between cannot roll back).
//! - An admin's `PUT` pins its text: uploads leave it alone (and say so) until an admin
//!   `DELETE`s it; then the next upload of the default branch sets it again.
//! - Lines that are not CODEOWNERS syntax are skipped (as GitHub skips them) and listed in
//!   the upload's `warnings` whenever the text differs from the kept one; a file of 3 MB or
//!   more is refused (GitHub ignores it too). None of this ever fails the upload itself.

use crate::{ADMIN, ApiError, ApiResult, AppState, READ, tokens};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flakehound_store::{CodeownersOffer, CodeownersOutcome, CodeownersRecord, TokenInfo};

pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/v1/codeowners",
        get(get_text).put(put_text).delete(delete_text),
    )
}

/// What the kept text says: its rules, the lines skipped (GitHub skips them too), and where it
/// came from.
fn describe(kept: Option<CodeownersRecord>) -> serde_json::Value {
    match kept {
        Some(k) => {
            let parsed = flakehound_owners::CodeOwners::parse(&k.text);
            let errors: Vec<String> = parsed.errors().iter().map(|e| e.to_string()).collect();
            serde_json::json!({
                "text": k.text, "rules": parsed.rules().len(), "errors": errors,
                "source": k.source.as_str(), "path": k.path, "commit": k.commit,
                "branch": k.branch, "commit_time": k.commit_time, "updated_at": k.updated_at,
            })
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
    let kept = state
        .blocking(move |s| {
            s.with_admin(|a| {
                a.set_codeowners(&project, Some(&text), &at)?;
                a.codeowners(&project)
            })
        })
        .await?;
    // The dashboard's next analysis reads it.
    state.changed(&token.project);
    Ok(Json(describe(kept)).into_response())
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

/// The `codeowners` part of an upload: the repository's CODEOWNERS at the uploaded commit.
/// Unknown fields are refused (as in `meta`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadCodeowners {
    /// The file's text.
    pub text: String,
    /// Where it is in the repository (`.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`).
    pub path: Option<String>,
    /// The commit it was read at, and that commit's committer time (RFC 3339).
    pub commit: Option<String>,
    pub commit_time: Option<String>,
    /// The repository's default branch, as the client knows it.
    pub default_branch: Option<String>,
}

/// The largest `codeowners` part read (JSON escapes included); a larger one is refused whole.
pub(crate) const MAX_PART_BYTES: usize = 4 * flakehound_owners::MAX_CODEOWNERS_BYTES as usize;

/// A commit time may be at most this far ahead of the server's clock.
const FUTURE_SLACK: jiff::SignedDuration = jiff::SignedDuration::from_secs(3600);

/// At most this many skipped lines are listed in an upload's warnings.
const LISTED_ERRORS: usize = 20;

/// What became of an upload's CODEOWNERS: the `codeowners` object of the answer, and the
/// warnings (skipped lines) to add to it.
pub(crate) struct Answered {
    pub body: serde_json::Value,
    pub warnings: Vec<String>,
}

fn shown(s: Option<&str>, max: usize) -> Option<String> {
    s.map(|s| {
        s.trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(max)
            .collect::<String>()
    })
    .filter(|s| !s.is_empty())
}

/// Offers an upload's CODEOWNERS (see the module's rules). `Err` only when the store failed
/// (the upload is then answered 503 and its retry offers it again).
pub(crate) async fn offer(
    state: &AppState,
    token: &TokenInfo,
    branch: Option<&str>,
    pull_request: Option<&str>,
    part: Result<UploadCodeowners, String>,
) -> ApiResult<Answered> {
    let answer = |status: &str, reason: Option<String>, path: Option<&str>, rules: usize| {
        let mut o = serde_json::json!({ "status": status, "rules": rules });
        if let Some(r) = reason {
            o["reason"] = r.into();
        }
        if let Some(p) = path {
            o["path"] = p.into();
        }
        o
    };
    let part = match part {
        Ok(p) => p,
        Err(reason) => {
            return Ok(Answered {
                body: answer("invalid", Some(reason), None, 0),
                warnings: vec![],
            });
        }
    };
    let path = shown(part.path.as_deref(), 200);
    let path = path.as_deref();
    let size = part.text.len() as u64;
    if size >= flakehound_owners::MAX_CODEOWNERS_BYTES {
        let reason = format!(
            "the file is {size} bytes: CODEOWNERS files of 3 MB or more are ignored (by GitHub too)"
        );
        return Ok(Answered {
            body: answer("invalid", Some(reason), path, 0),
            warnings: vec![],
        });
    }
    let parsed = flakehound_owners::CodeOwners::parse(&part.text);
    let rules = parsed.rules().len();
    let mut warnings: Vec<String> = parsed
        .errors()
        .iter()
        .take(LISTED_ERRORS)
        .map(|e| format!("CODEOWNERS {}: {e} (skipped)", path.unwrap_or("file")))
        .collect();
    if parsed.errors().len() > LISTED_ERRORS {
        warnings.push(format!(
            "CODEOWNERS {}: {} more lines skipped",
            path.unwrap_or("file"),
            parsed.errors().len() - LISTED_ERRORS
        ));
    }
    let default_branch = shown(part.default_branch.as_deref(), 200);
    let branch = branch.map(str::trim).filter(|b| !b.is_empty());
    // Why this upload may not change the project's CODEOWNERS, if it may not.
    let refusal: Option<(&str, String)> = if token.id == 0 {
        // `check_public` gives a public upload id the token id 0 (tokens count from 1).
        Some((
            "public_id",
            "an upload with a public upload id (fork pull requests) does not change CODEOWNERS"
                .into(),
        ))
    } else if let Some(pr) = pull_request.map(str::trim).filter(|p| !p.is_empty()) {
        Some((
            "pull_request",
            format!("an upload of pull request {pr} does not change CODEOWNERS"),
        ))
    } else {
        let is_default = match (branch, default_branch.as_deref()) {
            (Some(b), Some(d)) => b == d,
            (Some(b), None) => b == "main" || b == "master",
            (None, _) => false,
        };
        let named = default_branch
            .clone()
            .unwrap_or_else(|| "main or master".into());
        if is_default {
            None
        } else {
            Some((
                "not_default_branch",
                match branch {
                    Some(b) => format!(
                        "branch {b} is not the default branch ({named}): only its uploads change CODEOWNERS"
                    ),
                    None => format!(
                        "the upload names no branch: only uploads of the default branch ({named}) change CODEOWNERS"
                    ),
                },
            ))
        }
    };
    let commit_time = match part.commit_time.as_deref().map(str::trim) {
        None | Some("") => Err("no commit_time: uploads are ordered by their commit's time".into()),
        Some(t) => match t.parse::<jiff::Timestamp>() {
            Err(e) => Err(format!("commit_time {t:?} is not an RFC 3339 time: {e}")),
            Ok(ts) if ts > jiff::Timestamp::now() + FUTURE_SLACK => Err(format!(
                "commit_time {t} is ahead of the server's clock (by more than an hour)"
            )),
            Ok(ts) => Ok(tokens::stamp(ts)),
        },
    };
    let project = token.project.clone();
    if let Some((status, reason)) = refusal.or_else(|| {
        commit_time
            .as_ref()
            .err()
            .map(|r: &String| ("invalid", r.clone()))
    }) {
        // Skipped lines are news only when the text is not the kept one (a pull request that
        // changes the file hears of its mistakes; every upload of an unchanged file does not).
        let text = part.text;
        let same = state
            .blocking(move |s| s.with_admin(|a| a.codeowners(&project)))
            .await?
            .is_some_and(|k| k.text == text);
        return Ok(Answered {
            body: answer(status, Some(reason), path, rules),
            warnings: if same { vec![] } else { warnings },
        });
    }
    let commit_time = commit_time.unwrap_or_default();
    let commit = shown(part.commit.as_deref(), 100);
    let branch = branch.map(str::to_string);
    let at = tokens::stamp(jiff::Timestamp::now());
    let path_owned = path.map(str::to_string);
    let text = part.text;
    let outcome = state
        .blocking(move |s| {
            s.with_admin(|a| {
                a.offer_codeowners(
                    &project,
                    &CodeownersOffer {
                        text: &text,
                        path: path_owned.as_deref(),
                        commit: commit.as_deref(),
                        branch: branch.as_deref(),
                        commit_time: &commit_time,
                        at: &at,
                    },
                )
            })
        })
        .await?;
    let (status, reason, warnings) = match outcome {
        CodeownersOutcome::Stored => {
            state.changed(&token.project);
            ("stored", None, warnings)
        }
        CodeownersOutcome::Unchanged => ("unchanged", None, vec![]),
        CodeownersOutcome::Pinned { since } => (
            "pinned",
            Some(format!(
                "an admin pinned the project's CODEOWNERS at {since} (PUT /api/v1/codeowners): uploads do not change it until an admin DELETEs it"
            )),
            warnings,
        ),
        CodeownersOutcome::Older { kept } => (
            "older",
            Some(format!(
                "the kept CODEOWNERS comes from a newer commit (committed {kept})"
            )),
            warnings,
        ),
    };
    Ok(Answered {
        body: answer(status, reason, path, rules),
        warnings,
    })
}
