//! `POST /api/v1/uploads`: a `meta` part (JSON) and `report` parts, stored as `ingest` stores
//! files, and optionally a `codeowners` part (JSON: the repository's CODEOWNERS, kept for the
//! project by the rules of [`crate::codeowners`]).

use crate::{ApiError, ApiResult, AppState};
use axum::Json;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flakehound_evidence::{FileOutcome, FileStatus, Input};
use flakehound_model::RunMeta;
use flakehound_store::{Scope, UploadRecord};
use std::io::Read;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// The `meta` part: the fields of `ingest`'s metadata flags. Unknown fields are refused (a typo
/// would otherwise lose the metadata silently).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadMeta {
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub run_id: Option<String>,
    pub attempt: Option<u32>,
    pub job: Option<String>,
    pub runner: Option<String>,
    pub os: Option<String>,
    pub pull_request: Option<String>,
    pub started_at: Option<String>,
    pub provider: Option<String>,
    pub url: Option<String>,
    pub duration: Option<f64>,
}

impl UploadMeta {
    fn into_run_meta(self) -> RunMeta {
        RunMeta {
            commit: self.commit,
            branch: self.branch,
            provider: self.provider,
            job: self.job,
            run_id: self.run_id,
            run_attempt: self.attempt,
            runner: self.runner,
            os: self.os,
            started_at: self.started_at,
            duration: self.duration,
            url: self.url,
            pull_request: self.pull_request,
        }
    }
}

const UPLOADERS: &[Scope] = &[Scope::Upload, Scope::Admin];

fn multipart_error(e: MultipartError) -> ApiError {
    let status = e.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "the upload is larger than this server accepts: {}",
            e.body_text()
        )
    } else {
        format!("malformed multipart body: {}", e.body_text())
    };
    ApiError::new(status, message)
}

/// A part's file name as shown in answers: its last path component, printable, at most 200
/// characters.
fn shown_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.is_empty() {
        "report".into()
    } else {
        clean
    }
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let token = match state.authorize_public(&headers, UPLOADERS).await {
        Ok(t) => t,
        Err(e) => {
            // Answering before reading the body closes the connection under a client that is
            // still sending it, which then sees a broken pipe instead of the refusal ("server
            // unavailable" and a retry, instead of "unknown token"). A usual upload is read to
            // its end, up to a bound, so the client can read the answer.
            drain(multipart, &headers).await;
            return Err(e);
        }
    };
    // A body announced larger than the limit is refused before a byte of it is read.
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = state.config.body_limit as u64;
    let r = match announced {
        Some(n) if n > limit => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is larger than this server accepts: {n} bytes, the limit is {limit} (serve --max-upload-mb)"
            ),
        )),
        _ => receive(&state, token, multipart).await,
    };
    if let Err(e) = &r {
        state.metrics.reject(match e.status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::SERVICE_UNAVAILABLE => "store_unavailable",
            _ => "bad_request",
        });
    }
    r
}

/// Most of a refused upload's body read and dropped: at most this much, for at most this long.
const DRAIN_BYTES: usize = 16 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and drops a refused upload's body, when it is announced (or turns out) small enough.
async fn drain(multipart: Result<Multipart, MultipartRejection>, headers: &HeaderMap) {
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > DRAIN_BYTES) {
        return;
    }
    let Ok(mut multipart) = multipart else { return };
    let _ = tokio::time::timeout(DRAIN_TIME, async move {
        let mut read = 0usize;
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                read += chunk.len();
                if read > DRAIN_BYTES {
                    return;
                }
            }
        }
    })
    .await;
}

async fn receive(
    state: &AppState,
    token: flakehound_store::TokenInfo,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "an upload is multipart/form-data with a `meta` part and `report` parts: {}",
                e.body_text()
            ),
        )
    })?;
    // Made when a part goes to a file (a small upload is kept in memory and needs none).
    let mut dir: Option<tempfile::TempDir> = None;
    let io_error = |e: std::io::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot keep the upload: {e}"),
        )
    };
    let mut meta: Option<UploadMeta> = None;
    let mut parts: Vec<(String, Part)> = Vec::new();
    // The memory the upload's parts hold, returned when the upload is written.
    let mut lease = Lease::default();
    let mut codeowners: Option<Result<crate::codeowners::UploadCodeowners, String>> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "meta" => {
                if meta.is_some() {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "more than one `meta` part",
                    ));
                }
                let text = field.text().await.map_err(multipart_error)?;
                let m: UploadMeta = serde_json::from_str(&text).map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("the `meta` part is not valid upload metadata: {e}"),
                    )
                })?;
                if m.attempt.is_some_and(|a| a > i32::MAX as u32) {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "the `meta` part's attempt is beyond 2147483647",
                    ));
                }
                meta = Some(m);
            }
            "report" => {
                let shown = field
                    .file_name()
                    .map(shown_name)
                    .unwrap_or_else(|| format!("report-{}", parts.len() + 1));
                // In memory while small and the server's budget allows (no file to create,
                // write and remove: on this VM's ext4 that was a tenth of the server's CPU
                // under 200 concurrent uploads), else in a file of the upload's directory.
                let mut buf: Vec<u8> = Vec::new();
                let mut file: Option<(tokio::fs::File, PathBuf)> = None;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if let Some((f, _)) = file.as_mut() {
                        f.write_all(&chunk).await.map_err(io_error)?;
                        continue;
                    }
                    if buf.len() + chunk.len() <= IN_MEMORY_PART && lease.grow(chunk.len()) {
                        buf.extend_from_slice(&chunk);
                        continue;
                    }
                    if dir.is_none() {
                        dir = Some(tempfile::tempdir().map_err(|e| {
                            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                        })?);
                    }
                    let Some(d) = dir.as_ref() else { continue };
                    let path = d.path().join(format!("part-{}", parts.len()));
                    let mut f = tokio::fs::File::create(&path).await.map_err(io_error)?;
                    f.write_all(&buf).await.map_err(io_error)?;
                    f.write_all(&chunk).await.map_err(io_error)?;
                    lease.shrink(buf.len());
                    buf = Vec::new();
                    file = Some((f, path));
                }
                match file {
                    Some((mut f, path)) => {
                        f.flush().await.map_err(io_error)?;
                        parts.push((shown, Part::File(path)));
                    }
                    None => parts.push((shown, Part::Memory(buf))),
                }
            }
            "codeowners" => {
                if codeowners.is_some() {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "more than one `codeowners` part",
                    ));
                }
                // Read up to a bound: a larger part is drained and refused (not the upload).
                let mut bytes = Vec::new();
                let mut size = 0usize;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    size += chunk.len();
                    if size <= crate::codeowners::MAX_PART_BYTES {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                codeowners = Some(if size > crate::codeowners::MAX_PART_BYTES {
                    Err(format!(
                        "the codeowners part is {size} bytes: CODEOWNERS files of 3 MB or more are ignored (by GitHub too)"
                    ))
                } else {
                    Ok(serde_json::from_slice(&bytes).map_err(|e| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "the `codeowners` part is not valid: {e} (JSON: text, path, commit, commit_time, default_branch)"
                            ),
                        )
                    })?)
                });
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown part {other:?}: an upload has one `meta` part (JSON), a `report` part per file and optionally a `codeowners` part (JSON)"
                    ),
                ));
            }
        }
    }
    // No report part: nothing to store, answered with the zero-results warning (the CI step's
    // report paths matched nothing; the uploader should hear of it, not fail).
    let meta = meta.unwrap_or_default().into_run_meta();
    let only_codeowners = parts.is_empty() && codeowners.is_some();
    let project = token.project.clone();
    let token_id = token.id;
    // Gunzipped and hashed off the runtime; written by the project's writer; answered here.
    let ((inputs, kept, unreadable), dir, lease) = state
        .blocking(move |_| {
            let mut lease = lease;
            Ok((prepare(parts, &mut lease), dir, lease))
        })
        .await?;
    let (branch, pull_request) = (meta.branch.clone(), meta.pull_request.clone());
    let summary = if inputs.is_empty() {
        flakehound_evidence::Summary::default()
    } else {
        let (reply, answer) = tokio::sync::oneshot::channel();
        state.writers.submit(
            &project,
            crate::writer::Job {
                inputs,
                kept,
                parts: dir,
                lease,
                meta,
                reply,
            },
        )?;
        answer
            .await
            .map_err(|_| ApiError::unavailable("the writer stopped"))??
    };
    // After the reports: a store failure here is a 503, and the retry's reports are
    // duplicates while its CODEOWNERS is offered again.
    let codeowners = match codeowners {
        Some(part) => Some(
            crate::codeowners::offer(
                state,
                &token,
                branch.as_deref(),
                pull_request.as_deref(),
                part,
            )
            .await?,
        ),
        None => None,
    };
    let (status, body) = state
        .blocking(move |s| {
            Ok(respond(
                s,
                &project,
                token_id,
                summary,
                unreadable,
                codeowners,
                only_codeowners,
            ))
        })
        .await??;
    state.changed(&token.project);
    Ok((status, Json(body)).into_response())
}

/// A part's content and hash: a gzip part gunzipped into a spooled file (kept until written);
/// any other part hashed where it was received (its upload directory lives until written).
fn open_part(
    path: &std::path::Path,
) -> std::io::Result<(Option<tempfile::NamedTempFile>, PathBuf, String)> {
    let mut magic = [0u8; 2];
    let n = std::fs::File::open(path)?.read(&mut magic)?;
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    if n == 2 && magic == [0x1f, 0x8b] {
        let (tmp, hash) = flakehound_evidence::spool(flate2::bufread::MultiGzDecoder::new(file))
            .map_err(|e| std::io::Error::new(e.kind(), format!("not a valid gzip stream: {e}")))?;
        let spooled = tmp.path().to_path_buf();
        Ok((Some(tmp), spooled, hash))
    } else {
        // The hash `ingest` gives the same content (see `flakehound_evidence::spool`).
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(file)?;
        Ok((
            None,
            path.to_path_buf(),
            hasher.finalize().to_hex().to_string(),
        ))
    }
}

/// A received `report` part: in memory, or in a file of the upload's directory.
pub(crate) enum Part {
    Memory(Vec<u8>),
    File(PathBuf),
}

/// Largest part kept in memory as received, and as gunzipped; larger ones go to files.
const IN_MEMORY_PART: usize = 4 << 20;
const IN_MEMORY_REPORT: usize = 16 << 20;

/// Bytes of report content all uploads in flight may hold in memory (received parts, gunzipped
/// content); past it, parts go to files as large ones do. The parsed records of an in-memory
/// report take about three times its size, so this bounds the memory uploads take to a few
/// hundred MiB whatever the number of clients.
const IN_MEMORY_BUDGET: usize = 64 << 20;

static IN_MEMORY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// An upload's share of [`IN_MEMORY_BUDGET`], returned when dropped (after the upload's write).
#[derive(Default)]
pub(crate) struct Lease(usize);

impl Lease {
    /// Takes `n` more bytes of the budget, when it has them.
    fn grow(&mut self, n: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let taken = IN_MEMORY.fetch_update(Relaxed, Relaxed, |used| {
            (used + n <= IN_MEMORY_BUDGET).then_some(used + n)
        });
        if taken.is_ok() {
            self.0 += n;
        }
        taken.is_ok()
    }

    fn shrink(&mut self, n: usize) {
        let n = n.min(self.0);
        IN_MEMORY.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
        self.0 -= n;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shrink(self.0);
    }
}

/// An in-memory part as an input: gunzipped when it is gzip (in memory while it fits the
/// limits, else spooled to a file), hashed, and parsed here, on the request's thread (see
/// [`flakehound_evidence::Preparsed`]).
fn memory_input(
    name: String,
    bytes: Vec<u8>,
    lease: &mut Lease,
) -> std::io::Result<(Input, Option<tempfile::NamedTempFile>)> {
    let gzip_error =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("not a valid gzip stream: {e}"));
    let content = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let mut decoder = flate2::bufread::MultiGzDecoder::new(&bytes[..]);
        (&mut decoder)
            .take(IN_MEMORY_REPORT as u64 + 1)
            .read_to_end(&mut out)
            .map_err(gzip_error)?;
        if out.len() > IN_MEMORY_REPORT || !lease.grow(out.len()) {
            // Too large to keep: spooled, as a part received in a file is (what was gunzipped
            // already, then the rest of the stream).
            let rest = std::io::Cursor::new(out).chain(decoder);
            let (tmp, hash) = flakehound_evidence::spool(rest).map_err(gzip_error)?;
            lease.shrink(bytes.len());
            let path = tmp.path().to_path_buf();
            return Ok((Input::Spooled { name, path, hash }, Some(tmp)));
        }
        // The gunzipped content is held now, not the received bytes.
        lease.shrink(bytes.len());
        out
    } else {
        bytes
    };
    // The hash `ingest` gives the same content (see `flakehound_evidence::spool`).
    let hash = blake3::hash(&content).to_hex().to_string();
    let parsed = flakehound_evidence::Preparsed::parse(&content, None);
    let input = Input::Bytes {
        name,
        bytes: content.into(),
        hash: Some(hash),
        parsed: Some(parsed),
    };
    Ok((input, None))
}

/// The parts as inputs (spooled or in memory, hashed), and the ones that could not be read,
/// with their position among the parts.
#[allow(clippy::type_complexity)]
fn prepare(
    parts: Vec<(String, Part)>,
    lease: &mut Lease,
) -> (
    Vec<Input>,
    Vec<tempfile::NamedTempFile>,
    Vec<(usize, FileOutcome)>,
) {
    let mut inputs = Vec::new();
    let mut kept = Vec::new();
    let mut unreadable: Vec<(usize, FileOutcome)> = Vec::new();
    for (i, (name, part)) in parts.into_iter().enumerate() {
        let opened = match part {
            Part::Memory(bytes) => memory_input(name.clone(), bytes, lease),
            Part::File(path) => open_part(&path).map(|(tmp, path, hash)| {
                (
                    Input::Spooled {
                        name: name.clone(),
                        path,
                        hash,
                    },
                    tmp,
                )
            }),
        };
        match opened {
            Ok((input, tmp)) => {
                inputs.push(input);
                kept.extend(tmp);
            }
            Err(e) => unreadable.push((
                i,
                FileOutcome {
                    name,
                    status: FileStatus::Rejected {
                        reason: e.to_string(),
                    },
                },
            )),
        }
    }
    (inputs, kept, unreadable)
}

/// The answer to an upload (logged for `GET /api/v1/uploads/{id}`).
fn respond(
    s: &crate::Shared,
    project: &str,
    token_id: i64,
    mut summary: flakehound_evidence::Summary,
    unreadable: Vec<(usize, FileOutcome)>,
    codeowners: Option<crate::codeowners::Answered>,
    only_codeowners: bool,
) -> ApiResult<(StatusCode, serde_json::Value)> {
    // Answers in the order of the parts.
    for (i, o) in unreadable {
        summary.files.insert(i.min(summary.files.len()), o);
    }
    let mut stored = 0u64;
    let files: Vec<serde_json::Value> = summary
        .files
        .iter()
        .map(|f| match &f.status {
            FileStatus::Ingested {
                format,
                records,
                results,
                ..
            } => {
                stored += 1;
                serde_json::json!({
                    "name": f.name, "status": "stored", "format": format.as_str(),
                    "records": records, "results": results,
                })
            }
            FileStatus::Duplicate => serde_json::json!({ "name": f.name, "status": "duplicate" }),
            FileStatus::Rejected { reason } => {
                s.metrics.reject("bad_report");
                serde_json::json!({ "name": f.name, "status": "rejected", "reason": reason })
            }
        })
        .collect();
    let duplicates = summary.count(|st| matches!(st, FileStatus::Duplicate));
    let rejected = summary.count(|st| matches!(st, FileStatus::Rejected { .. }));
    let mut warnings = Vec::new();
    // (An upload of a CODEOWNERS alone carries no report on purpose.)
    if summary.results == 0 && duplicates == 0 && !only_codeowners {
        warnings.push(
            "this upload carried no test results: check the report paths of the CI step"
                .to_string(),
        );
    }
    let id = crate::tokens::new_secret()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        [crate::tokens::SECRET_PREFIX.len()..][..24]
        .to_string();
    let mut codeowners_body = None;
    if let Some(c) = codeowners {
        warnings.extend(c.warnings);
        codeowners_body = Some(c.body);
    }
    let mut body = serde_json::json!({
        "id": id,
        "project": project,
        "files": files,
        "runs": summary.runs,
        "runs_created": summary.runs_created,
        "records": summary.records,
        "results": summary.results,
        "warnings": warnings,
    });
    if let Some(c) = codeowners_body {
        body["codeowners"] = c;
    }
    s.metrics.uploads.inc();
    s.metrics.reports.inc_by(stored);
    s.metrics.results.inc_by(summary.results);
    let record = UploadRecord {
        id,
        project: project.to_string(),
        token_id: (token_id > 0).then_some(token_id),
        received_at: crate::tokens::stamp(jiff::Timestamp::now()),
        response: body.to_string(),
    };
    if let Err(e) = s.with_admin(|a| a.record_upload(&record)) {
        // The reports are stored; only the log entry is missing.
        tracing::warn!(upload = %record.id, error = %e.message, "cannot log the upload");
    }
    // Rejected files are part of a successful answer (each with its reason), even when every
    // file was: the request itself was well-formed.
    if stored == 0 && duplicates == 0 && rejected > 0 {
        tracing::info!(upload = %record.id, rejected, "nothing stored: every file rejected");
    }
    Ok((StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn part_names_are_shown_safely() {
        assert_eq!(super::shown_name("dir/sub/junit.xml"), "junit.xml");
        assert_eq!(super::shown_name("C:\\x\\r.xml"), "r.xml");
        assert_eq!(super::shown_name("a\u{0}b\nc.xml"), "abc.xml");
        assert_eq!(super::shown_name("/"), "report");
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn junit(tests: usize, pad: usize) -> Vec<u8> {
        let mut s = String::from("<testsuite name=\"s\">");
        for i in 0..tests {
            s.push_str(&format!(
                "<testcase classname=\"c\" name=\"t{i}\"><system-out>{}</system-out></testcase>",
                "x".repeat(pad)
            ));
        }
        s.push_str("</testsuite>");
        s.into_bytes()
    }

    /// A small part stays in memory, hashed as `ingest` hashes the content and parsed already;
    /// a gzip part is gunzipped first (same hash as the plain content).
    #[test]
    fn small_parts_are_kept_in_memory_and_parsed_here() {
        let content = junit(3, 10);
        let want = blake3::hash(&content).to_hex().to_string();
        for bytes in [content.clone(), gzip(&content)] {
            let mut lease = super::Lease::default();
            let (input, tmp) = super::memory_input("r.xml".into(), bytes, &mut lease).unwrap();
            assert!(tmp.is_none());
            match input {
                super::Input::Bytes {
                    hash,
                    parsed,
                    bytes,
                    ..
                } => {
                    assert_eq!(hash.as_deref(), Some(want.as_str()));
                    assert!(parsed.is_some());
                    assert_eq!(&bytes[..], &content[..]);
                }
                other => panic!("not in memory: {other:?}"),
            }
        }
    }

    /// A gzip part that unpacks beyond the in-memory limit goes to a file, with the same hash;
    /// a truncated one is refused with its reason.
    #[test]
    fn large_gzip_parts_go_to_files_and_truncated_ones_are_refused() {
        let content = junit(2000, 10_000);
        assert!(content.len() > super::IN_MEMORY_REPORT);
        let want = blake3::hash(&content).to_hex().to_string();
        let mut lease = super::Lease::default();
        let (input, tmp) =
            super::memory_input("big.xml.gz".into(), gzip(&content), &mut lease).unwrap();
        assert!(tmp.is_some());
        match input {
            super::Input::Spooled { hash, path, .. } => {
                assert_eq!(hash, want);
                assert_eq!(std::fs::read(path).unwrap(), content);
            }
            other => panic!("not spooled: {other:?}"),
        }
        let mut cut = gzip(&junit(50, 10));
        cut.truncate(cut.len() / 2);
        let err = super::memory_input("cut.xml.gz".into(), cut, &mut lease).unwrap_err();
        assert!(err.to_string().contains("not a valid gzip stream"), "{err}");
    }

    /// The in-memory budget is shared by every upload in flight and returned when a lease is
    /// dropped.
    #[test]
    fn the_memory_budget_is_shared_and_returned() {
        let mut a = super::Lease::default();
        let mut b = super::Lease::default();
        assert!(a.grow(super::IN_MEMORY_BUDGET / 2));
        // Other tests of this binary may hold a little of the budget meanwhile.
        assert!(!b.grow(super::IN_MEMORY_BUDGET / 2 + super::IN_MEMORY_BUDGET / 4));
        drop(a);
        assert!(b.grow(super::IN_MEMORY_BUDGET / 2 + super::IN_MEMORY_BUDGET / 4));
    }
}
