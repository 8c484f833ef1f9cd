//! Background work that must run once across replicas: retention (and any later job). Each job
//! has a leader, elected through the store ([`flakehound_store::try_lead`]: a PostgreSQL
//! advisory try-lock held on a connection of its own, or a file lock beside a SQLite store).
//! The leader keeps its lease while it lives; the other replicas try again every interval and
//! one of them takes over when the leader's session ends (it stopped, died, or lost its
//! connection). The job runs on a thread of its own: the store's clients block.

use crate::Shared;
use flakehound_store::{Lease, Location, Pruned};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What a retention pass did to one project: its name, its days, and what its prune removed
/// or why it failed.
pub type ProjectPass = (String, u32, Result<Pruned, String>);

/// One retention pass over every project with a retention: prunes what is older than its days
/// at `now`. Returns what each project's prune removed. A project whose prune fails is reported
/// in its place and the others still run (each prune is all-or-nothing).
pub fn retention_pass(
    location: &Location,
    now: jiff::Timestamp,
) -> anyhow::Result<Vec<ProjectPass>> {
    let mut admin = flakehound_store::open_admin(location)?;
    let settings = admin.retentions()?;
    drop(admin);
    let mut done = Vec::new();
    for (project, days) in settings {
        let cutoff = flakehound_store::retention::cutoff(now, days);
        let r = flakehound_store::open(location, &project)
            .and_then(|mut s| s.prune(&cutoff))
            .map_err(|e| e.to_string());
        done.push((project, days, r));
    }
    Ok(done)
}

/// A background job's thread; stopped and joined on drop.
pub(crate) struct Job {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Job {
    fn drop(&mut self) {
        *crate::lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the retention job: every `interval`, the leader runs [`retention_pass`].
pub(crate) fn start_retention(state: Arc<Shared>, interval: Duration) -> Job {
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("flakehound-retention".into())
        .spawn(move || retention_loop(&state, interval, &flag))
        .expect("spawn the retention thread");
    Job {
        stop,
        thread: Some(thread),
    }
}

fn retention_loop(state: &Shared, interval: Duration, stop: &(Mutex<bool>, Condvar)) {
    let location = state.config.location.clone();
    let mut lease: Option<Box<dyn Lease>> = None;
    let logged_wait = AtomicBool::new(false);
    loop {
        if lease.as_mut().is_some_and(|l| !l.held()) {
            tracing::warn!(job = "retention", "lost the lead (the store session ended)");
            lease = None;
            state.metrics.retention_leader.set(0);
        }
        if lease.is_none() {
            match flakehound_store::try_lead(&location, "retention") {
                Ok(Some(l)) => {
                    tracing::info!(job = "retention", "leading the job on this replica");
                    state.metrics.retention_leader.set(1);
                    lease = Some(l);
                }
                Ok(None) => {
                    if !logged_wait.swap(true, Ordering::Relaxed) {
                        tracing::info!(job = "retention", "another replica leads the job");
                    }
                }
                Err(e) => tracing::warn!(job = "retention", error = %e, "cannot try to lead"),
            }
        }
        if lease.is_some() {
            run_pass(state, &location);
        }
        // A follower tries for the lead at least every minute, so that a replica takes over
        // soon after the leader stops; the leader runs a pass every interval.
        let pause = if lease.is_some() {
            interval
        } else {
            interval.min(Duration::from_secs(60))
        };
        let guard = crate::lock(&stop.0);
        let (guard, _) = stop
            .1
            .wait_timeout_while(guard, pause, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        if *guard {
            break;
        }
    }
}

fn run_pass(state: &Shared, location: &Location) {
    match retention_pass(location, jiff::Timestamp::now()) {
        Ok(done) => {
            state.metrics.retention_passes.inc();
            for (project, days, r) in done {
                match r {
                    Ok(p) => {
                        state.metrics.retention_runs.inc_by(p.runs);
                        if p.runs > 0 {
                            state.changed(&project);
                        }
                        tracing::info!(
                            job = "retention",
                            project = %project,
                            days,
                            runs = p.runs,
                            reports = p.reports,
                            results = p.results,
                            "retention pass"
                        );
                    }
                    Err(e) => tracing::warn!(
                        job = "retention",
                        project = %project,
                        error = %e,
                        "retention pass failed (nothing of this project was pruned)"
                    ),
                }
            }
        }
        Err(e) => tracing::warn!(job = "retention", error = %e, "retention pass failed"),
    }
}
