//! The store's connection, which an ingest may lend to a thread streaming results into one
//! `COPY` while it goes on parsing and encoding the next reports.
//!
//! Why a thread: the blocking client's `COPY` writer borrows the connection for as long as the
//! `COPY` is open, and a batch's `COPY` has to stay open across many calls of the
//! [`ReportWriter`](flakehound_store::ReportWriter) API. Measured before (a scheduler trace of
//! the benchmark history into PostgreSQL): the writer sent each batch's results at once and then
//! waited while the server inserted them (about 100 ms per 8 MB with both other threads idle),
//! and every report cost a round trip, so the writer and the server took turns instead of
//! working at the same time. With the rows streamed, the server inserts while the writer encodes
//! and the parser parses.
//!
//! Every other use of the connection goes through [`Conn::get`], which first ends the `COPY`
//! (its rows are in the batch's transaction from then on) and inserts the run and report rows
//! the writer deferred, so that whatever runs next sees everything written so far.

use crate::store::describe;
use flakehound_store::{Result, StoreError};
use postgres::{Client, Statement};
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Chunks of encoded rows in flight between the writer and the streaming thread (each about
/// [`crate::writer::STREAM_CHUNK`] bytes): enough to ride out a pause of either side.
const IN_FLIGHT: usize = 8;

/// The binary COPY header: signature, flags, header extension length.
pub(crate) const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The binary COPY trailer.
pub(crate) const COPY_TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// A run row the writer deferred: created by this batch, its id reserved from the sequence.
/// `meta` is as stored: texts without NUL, the start time in the store's canonical form, and
/// `run_attempt` already checked to fit.
pub(crate) struct RunRow {
    pub id: i64,
    pub key: String,
    pub source: String,
    pub meta: flakehound_model::RunMeta,
    pub created_at: String,
}

/// A report row the writer deferred, its id reserved from the sequence.
pub(crate) struct ReportRow {
    pub id: i64,
    pub run_id: i64,
    pub hash: String,
    pub path: Option<String>,
    pub format: String,
    pub tool: Option<String>,
    pub timestamp: Option<String>,
    pub hostname: Option<String>,
    pub duration: Option<f64>,
    pub properties: Option<String>,
    pub records: i64,
    pub results: i64,
    pub agg: [Option<i64>; 5],
    pub ingested_at: String,
}

/// Rows of the open batch not inserted yet: inserted, two statements for all of them, before
/// the connection does anything else.
#[derive(Default)]
pub(crate) struct Deferred {
    pub runs: Vec<RunRow>,
    pub reports: Vec<ReportRow>,
}

impl Deferred {
    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.reports.is_empty()
    }
}

/// A `COPY ... FROM STDIN` running on a thread that holds the connection.
struct Stream {
    tx: SyncSender<Vec<u8>>,
    handle: JoinHandle<(Client, std::result::Result<(), String>)>,
}

/// The store's connection: here, or lent to a streaming `COPY`.
pub(crate) struct Conn {
    /// None while a stream holds it (or after a streaming thread was lost, see [`Conn::get`]).
    client: Option<Client>,
    stream: Option<Stream>,
    pub(crate) deferred: Deferred,
    /// The store's project, which the deferred rows belong to.
    project: String,
}

impl Conn {
    pub(crate) fn new(client: Client, project: &str) -> Self {
        Conn {
            client: Some(client),
            stream: None,
            deferred: Deferred::default(),
            project: project.to_string(),
        }
    }

    /// The connection, after ending a streaming `COPY` and inserting the deferred rows. An
    /// error here means the open batch's transaction failed: the caller's next statement fails
    /// too and the batch is rolled back by the writer's usual error path.
    pub(crate) fn get(&mut self) -> Result<&mut Client> {
        let stopped = self.stop();
        let client = self.client.as_mut().ok_or_else(|| {
            StoreError::Backend("the connection to PostgreSQL was lost by a writer thread".into())
        })?;
        stopped?;
        if !self.deferred.is_empty() {
            let deferred = std::mem::take(&mut self.deferred);
            insert_deferred(client, &self.project, &deferred)
                .map_err(|e| StoreError::Backend(describe(&e)))?;
        }
        Ok(client)
    }

    /// The connection after a failure: the stream ended (its error ignored), the deferred rows
    /// dropped (the transaction holding them is about to be rolled back). None when a streaming
    /// thread lost it.
    pub(crate) fn reset(&mut self) -> Option<&mut Client> {
        let _ = self.stop();
        self.deferred.runs.clear();
        self.deferred.reports.clear();
        self.client.as_mut()
    }

    /// Whether a `COPY` is streaming.
    pub(crate) fn streaming(&self) -> bool {
        self.stream.is_some()
    }

    /// Sends encoded rows to the streaming `COPY`, starting it with `copy` (a prepared `COPY
    /// results ... FROM STDIN (FORMAT binary)`) when none runs. Rows sent are in the batch's
    /// transaction once the stream ends; a failure of the `COPY` is reported here or by the
    /// next [`Conn::get`].
    pub(crate) fn send(&mut self, rows: Vec<u8>, copy: &Statement) -> Result<()> {
        if self.stream.is_none() {
            let Some(client) = self.client.take() else {
                return Err(StoreError::Backend(
                    "the connection to PostgreSQL was lost by a writer thread".into(),
                ));
            };
            let (tx, rx) = sync_channel(IN_FLIGHT);
            let copy = copy.clone();
            let handle = std::thread::Builder::new()
                .name("flakehound-copy".into())
                .spawn(move || stream(client, &copy, rx))
                .map_err(|e| StoreError::Backend(format!("cannot start a writer thread: {e}")))?;
            self.stream = Some(Stream { tx, handle });
        }
        let Some(s) = self.stream.as_ref() else {
            return Ok(());
        };
        if s.tx.send(rows).is_err() {
            // The thread ended early: its COPY failed. Its error is the one to report (and
            // these rows were not sent, so this is an error whatever the thread said).
            self.stop()?;
            return Err(StoreError::Backend(
                "the COPY of results ended before all rows were sent".into(),
            ));
        }
        Ok(())
    }

    /// Ends the streaming `COPY`, if any, and takes the connection back.
    fn stop(&mut self) -> Result<()> {
        let Some(Stream { tx, handle }) = self.stream.take() else {
            return Ok(());
        };
        drop(tx);
        match handle.join() {
            Ok((client, r)) => {
                self.client = Some(client);
                r.map_err(StoreError::Backend)
            }
            // `stream` catches panics and always gives the connection back; this is only
            // reached if that promise is broken.
            Err(_) => Err(StoreError::Backend(
                "a writer thread stopped and took the connection to PostgreSQL with it".into(),
            )),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Ends the COPY (its transaction is rolled back with the connection unless committed).
        let _ = self.stop();
    }
}

/// The streaming thread: one `COPY` of every chunk received, each sent to the server as it
/// arrives, finished when the sender hangs up. Always returns the connection.
fn stream(
    mut client: Client,
    copy: &Statement,
    rx: Receiver<Vec<u8>>,
) -> (Client, std::result::Result<(), String>) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = client.copy_in(copy).map_err(|e| describe(&e))?;
        let io = |e: std::io::Error| e.to_string();
        w.write_all(COPY_HEADER).map_err(io)?;
        for chunk in rx {
            // One CopyData message per chunk, sent now: the server starts on it while the
            // writer encodes the next.
            w.write_all(&chunk).map_err(io)?;
            w.flush().map_err(io)?;
        }
        w.write_all(&COPY_TRAILER).map_err(io)?;
        w.finish().map(|_| ()).map_err(|e| describe(&e))
    }));
    let r = r.unwrap_or_else(|_| Err("the COPY of results stopped unexpectedly".into()));
    (client, r)
}

/// Inserts the deferred runs, then the reports, each as one statement over arrays.
fn insert_deferred(
    client: &mut Client,
    project: &str,
    d: &Deferred,
) -> std::result::Result<(), postgres::Error> {
    if !d.runs.is_empty() {
        let col = |f: fn(&flakehound_model::RunMeta) -> Option<&str>| -> Vec<Option<&str>> {
            d.runs.iter().map(|r| f(&r.meta)).collect()
        };
        let ids: Vec<i64> = d.runs.iter().map(|r| r.id).collect();
        let keys: Vec<&str> = d.runs.iter().map(|r| r.key.as_str()).collect();
        let sources: Vec<&str> = d.runs.iter().map(|r| r.source.as_str()).collect();
        let attempts: Vec<Option<i32>> = d
            .runs
            .iter()
            .map(|r| r.meta.run_attempt.and_then(|a| i32::try_from(a).ok()))
            .collect();
        let durations: Vec<Option<f64>> = d.runs.iter().map(|r| r.meta.duration).collect();
        let created: Vec<&str> = d.runs.iter().map(|r| r.created_at.as_str()).collect();
        client.execute(
            "INSERT INTO runs (id, project, key, source, commit_sha, branch, provider, job,
                 ci_run_id, run_attempt, runner, os, started_at, duration, url, pull_request,
                 created_at)
             OVERRIDING SYSTEM VALUE
             SELECT u.id, $1, u.key, u.source, u.commit_sha, u.branch, u.provider, u.job,
                 u.ci_run_id, u.run_attempt, u.runner, u.os, u.started_at, u.duration, u.url,
                 u.pull_request, u.created_at
             FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                 $8::text[], $9::text[], $10::int4[], $11::text[], $12::text[], $13::text[],
                 $14::float8[], $15::text[], $16::text[], $17::text[])
                 AS u(id, key, source, commit_sha, branch, provider, job, ci_run_id, run_attempt,
                      runner, os, started_at, duration, url, pull_request, created_at)
             ORDER BY u.id",
            &[
                &project,
                &ids,
                &keys,
                &sources,
                &col(|r| r.commit.as_deref()),
                &col(|r| r.branch.as_deref()),
                &col(|r| r.provider.as_deref()),
                &col(|r| r.job.as_deref()),
                &col(|r| r.run_id.as_deref()),
                &attempts,
                &col(|r| r.runner.as_deref()),
                &col(|r| r.os.as_deref()),
                &col(|r| r.started_at.as_deref()),
                &durations,
                &col(|r| r.url.as_deref()),
                &col(|r| r.pull_request.as_deref()),
                &created,
            ],
        )?;
    }
    if !d.reports.is_empty() {
        let col = |f: fn(&ReportRow) -> Option<&str>| -> Vec<Option<&str>> {
            d.reports.iter().map(f).collect()
        };
        let int = |f: fn(&ReportRow) -> Option<i64>| -> Vec<Option<i64>> {
            d.reports.iter().map(f).collect()
        };
        let ids: Vec<i64> = d.reports.iter().map(|r| r.id).collect();
        let runs: Vec<i64> = d.reports.iter().map(|r| r.run_id).collect();
        let hashes: Vec<&str> = d.reports.iter().map(|r| r.hash.as_str()).collect();
        let formats: Vec<&str> = d.reports.iter().map(|r| r.format.as_str()).collect();
        let durations: Vec<Option<f64>> = d.reports.iter().map(|r| r.duration).collect();
        let ingested: Vec<&str> = d.reports.iter().map(|r| r.ingested_at.as_str()).collect();
        client.execute(
            "INSERT INTO reports (id, project, run_id, hash, path, format, tool, timestamp,
                 hostname, duration, properties, records, results, agg_tests, agg_passed,
                 agg_failed, agg_errored, agg_skipped, ingested_at)
             OVERRIDING SYSTEM VALUE
             SELECT u.id, $1, u.run_id, u.hash, u.path, u.format, u.tool, u.timestamp,
                 u.hostname, u.duration, u.properties, u.records, u.results, u.agg_tests,
                 u.agg_passed, u.agg_failed, u.agg_errored, u.agg_skipped, u.ingested_at
             FROM unnest($2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
                 $8::text[], $9::text[], $10::float8[], $11::text[], $12::int8[], $13::int8[],
                 $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::text[])
                 AS u(id, run_id, hash, path, format, tool, timestamp, hostname, duration,
                      properties, records, results, agg_tests, agg_passed, agg_failed,
                      agg_errored, agg_skipped, ingested_at)
             ORDER BY u.id",
            &[
                &project,
                &ids,
                &runs,
                &hashes,
                &col(|r| r.path.as_deref()),
                &formats,
                &col(|r| r.tool.as_deref()),
                &col(|r| r.timestamp.as_deref()),
                &col(|r| r.hostname.as_deref()),
                &durations,
                &col(|r| r.properties.as_deref()),
                &int(|r| Some(r.records)),
                &int(|r| Some(r.results)),
                &int(|r| r.agg[0]),
                &int(|r| r.agg[1]),
                &int(|r| r.agg[2]),
                &int(|r| r.agg[3]),
                &int(|r| r.agg[4]),
                &ingested,
            ],
        )?;
    }
    Ok(())
}
