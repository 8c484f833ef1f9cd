//! One writer thread per project: uploads queue to it, and it writes every upload waiting at
//! that moment in one batch with one durable commit (group commit). Writers of a project take
//! turns on the store's write lock anyway (see `flakehound-store`), so a thread per upload would
//! only wait; and the commit's flush (a WAL sync) is the cost that grouping shares. The thread
//! keeps its store handle (its database connection) between groups.

use crate::{ApiError, lock};
use flakehound_evidence::{Input, Options, RunPer, Summary};
use flakehound_model::RunMeta;
use flakehound_store::Location;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender};

/// Uploads written in one group at most (their reports share one commit).
const MAX_GROUP: usize = 64;

/// An upload for a writer: its inputs (kept on disk until written) and where the answer goes.
pub(crate) struct Job {
    pub inputs: Vec<Input>,
    /// The spooled files of `inputs`, removed when the job is dropped (after its write).
    #[allow(dead_code)]
    pub kept: Vec<tempfile::NamedTempFile>,
    /// The upload's received parts, some of which `inputs` read in place: removed when the
    /// job is dropped.
    #[allow(dead_code)]
    pub parts: Option<tempfile::TempDir>,
    /// The memory the upload's in-memory parts hold, returned when the job is dropped.
    #[allow(dead_code)]
    pub lease: crate::upload::Lease,
    pub meta: RunMeta,
    pub reply: tokio::sync::oneshot::Sender<Result<Summary, ApiError>>,
}

pub(crate) struct Writers {
    location: Location,
    senders: Mutex<HashMap<String, Sender<Job>>>,
    after_commit: Option<crate::CommitHook>,
}

impl Writers {
    pub(crate) fn new(location: Location, after_commit: Option<crate::CommitHook>) -> Writers {
        Writers {
            location,
            senders: Mutex::default(),
            after_commit,
        }
    }

    /// Queues `job` for `project`'s writer (started when it has none, or when it stopped).
    pub(crate) fn submit(&self, project: &str, job: Job) -> Result<(), ApiError> {
        let mut senders = lock(&self.senders);
        let job = match senders.get(project) {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(std::sync::mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let tx = spawn(
            self.location.clone(),
            project.to_string(),
            self.after_commit.clone(),
        )?;
        tx.send(job)
            .map_err(|_| ApiError::unavailable("the writer stopped"))?;
        senders.insert(project.to_string(), tx);
        Ok(())
    }
}

fn spawn(
    location: Location,
    project: String,
    after_commit: Option<crate::CommitHook>,
) -> Result<Sender<Job>, ApiError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("writer {project}"))
        .spawn(move || run(&location, &project, &rx, after_commit.as_ref()))
        .map_err(ApiError::unavailable)?;
    Ok(tx)
}

fn run(
    location: &Location,
    project: &str,
    rx: &Receiver<Job>,
    after_commit: Option<&crate::CommitHook>,
) {
    let mut store: Option<Box<dyn flakehound_store::Store>> = None;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        if store.is_none() {
            match flakehound_store::open(location, project) {
                Ok(s) => store = Some(s),
                Err(e) => {
                    let message = e.to_string();
                    for j in group {
                        let _ = j.reply.send(Err(ApiError::unavailable(&message)));
                    }
                    continue;
                }
            }
        }
        let Some(s) = store.as_mut() else { continue };
        let started = std::time::Instant::now();
        let uploads = group.len();
        let (done, mut failure) = write_group(s.as_mut(), group);
        if failure.is_none() {
            if let Err(e) = s.flush() {
                failure = Some(format!("store commit failed: {e}"));
            }
        }
        tracing::debug!(
            project,
            uploads,
            ms = started.elapsed().as_millis() as u64,
            "group written"
        );
        match failure {
            // The group's uncommitted reports are rolled back: every upload of it is answered
            // 503, and its retry stores what is missing (what was committed is a duplicate).
            Some(reason) => {
                tracing::warn!(project, error = %reason, "store write failed; reconnecting");
                store = None;
                for (j, _) in done {
                    let _ = j.reply.send(Err(ApiError::unavailable(&reason)));
                }
            }
            None => {
                for (j, summary) in done {
                    let _ = j.reply.send(Ok(summary.unwrap_or_default()));
                }
                // After the answers: whatever the hook does never delays an upload.
                if let Some(hook) = after_commit {
                    (hook.0)(project);
                }
            }
        }
    }
}

/// Writes a group's uploads into the open batch (not flushed). The uploads that name their run
/// (a CI run id: what CI uploads do) share one ingest pipeline; the others are ingested one by
/// one, each with `ingest`'s own run decision. Returns each upload's summary (`None` when a
/// store failure before it stopped the group) and the failure.
#[allow(clippy::type_complexity)]
fn write_group(
    s: &mut dyn flakehound_store::Store,
    group: Vec<Job>,
) -> (Vec<(Job, Option<Summary>)>, Option<String>) {
    let failed = |summary: &Summary| {
        summary.store_failed.then(|| {
            summary
                .rejected()
                .map(|(_, r)| r)
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    let (named, other): (Vec<Job>, Vec<Job>) = group
        .into_iter()
        .partition(|j| flakehound_store::RunKey::from_meta(&j.meta).is_some());
    let mut done = Vec::with_capacity(named.len() + other.len());
    let mut failure = None;
    if !named.is_empty() {
        let mut inputs = Vec::new();
        let mut runs = Vec::new();
        for j in &named {
            let key = flakehound_store::RunKey::from_meta(&j.meta).unwrap_or_default();
            for input in &j.inputs {
                inputs.push(input.clone());
                runs.push((key.clone(), j.meta.clone()));
            }
        }
        let all = flakehound_evidence::ingest_runs_unflushed(
            s,
            &inputs,
            runs,
            None,
            flakehound_model::RunSource::Ci,
        );
        failure = failed(&all);
        let mut files = all.files.into_iter();
        for j in named {
            let mut summary = Summary::default();
            for _ in 0..j.inputs.len() {
                let Some(f) = files.next() else { break };
                if let flakehound_evidence::FileStatus::Ingested {
                    records,
                    results,
                    new_run,
                    ..
                } = f.status
                {
                    summary.records += records;
                    summary.results += results;
                    summary.runs_created += u64::from(new_run);
                }
                summary.files.push(f);
            }
            if let Some(key) = flakehound_store::RunKey::from_meta(&j.meta) {
                summary.runs.push(key.0);
            }
            done.push((j, Some(summary)));
        }
    }
    for j in other {
        let summary = if failure.is_none() {
            let opts = Options {
                format: None,
                meta: &j.meta,
                local: None,
                run_per: RunPer::Auto,
                source: flakehound_model::RunSource::Ci,
            };
            let summary = flakehound_evidence::ingest_unflushed(s, &j.inputs, &opts, &mut |_| {});
            failure = failed(&summary);
            Some(summary)
        } else {
            None
        };
        done.push((j, summary));
    }
    (done, failure)
}
