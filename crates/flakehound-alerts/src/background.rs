//! Alerting on the server: a thread that evaluates a project's monitors after its uploads are
//! committed ([`Evaluator::notify`], what the server's commit hook calls), and every project's
//! on a timer (uploads that stopped, quarantine expiry and the weekly digest need no upload).
//!
//! Never on an upload's request path: `notify` only queues the project's name; requests for a
//! project already queued merge into one evaluation. A channel that is down costs this thread
//! its retries, never an upload. Several replicas may evaluate the same project at once: the
//! store's compare-and-set lets one of them notify each change.
//!
//! Which configuration: a project's own, set through the API (`PUT /api/v1/alerts/config`,
//! kept in the store), replaces the server's file (`serve --alerts FILE`) for that project;
//! projects without one use the file, and without a file they are not evaluated. The API's
//! configuration is read again at every evaluation (cheap: one row), so a change takes effect
//! at the next one on every replica; its channels are rebuilt only when it changed.

use crate::{Channels, Config, Options, Quarantines};
use flakehound_store::Location;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Queue {
    pending: BTreeSet<String>,
    /// Evaluations queued or running.
    busy: usize,
    /// Every project, on the next turn (the timer).
    all: bool,
    stop: bool,
    /// Periodic passes over every project this replica ran (it led them).
    passes: u64,
}

/// The background evaluator. Dropping it stops the thread after the evaluation in progress.
pub struct Evaluator {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Evaluator {
    /// Starts the thread over the store at `location` with the server's configuration `cfg`;
    /// every `interval` it also evaluates every project the server knows.
    pub fn start(location: Location, cfg: Config, interval: Duration) -> Evaluator {
        Evaluator::start_with(location, Some(cfg), interval)
    }

    /// [`Evaluator::start`] with the server's configuration optional: without one, only the
    /// projects configured through the API are evaluated.
    pub fn start_with(location: Location, cfg: Option<Config>, interval: Duration) -> Evaluator {
        let shared: Arc<(Mutex<Queue>, Condvar)> = Arc::default();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("alerts".into())
            .spawn(move || work(&location, cfg.as_ref(), interval, &s))
            .expect("spawn the alerts thread");
        Evaluator {
            shared,
            thread: Some(thread),
        }
    }

    /// Queues an evaluation of `project` (returns at once).
    pub fn notify(&self, project: &str) {
        let (m, cv) = &*self.shared;
        let mut q = m.lock().unwrap_or_else(|e| e.into_inner());
        if q.pending.insert(project.to_string()) {
            q.busy += 1;
        }
        cv.notify_all();
    }

    /// The hook for `flakehound_server::Config::after_commit`.
    pub fn hook(self: &Arc<Self>) -> impl Fn(&str) + Send + Sync + 'static {
        let me = Arc::downgrade(self);
        move |project: &str| {
            if let Some(e) = me.upgrade() {
                e.notify(project);
            }
        }
    }

    /// Periodic passes over every project this replica ran: only the replica leading the
    /// "alerts" job runs them.
    pub fn periodic_passes(&self) -> u64 {
        let (m, _) = &*self.shared;
        m.lock().unwrap_or_else(|e| e.into_inner()).passes
    }

    /// Waits until nothing is queued or running (tests, shutdown); `false` on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let (m, cv) = &*self.shared;
        let q = m.lock().unwrap_or_else(|e| e.into_inner());
        let (q, _) = cv
            .wait_timeout_while(q, timeout, |q| q.busy > 0)
            .unwrap_or_else(|e| e.into_inner());
        q.busy == 0
    }
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        let (m, cv) = &*self.shared;
        m.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The server's file and its channels, built once.
struct FileConfig {
    cfg: Config,
    channels: Channels,
}

/// A project's configuration from the API and its channels, kept while it is unchanged.
struct ApiConfig {
    updated_at: String,
    text: String,
    cfg: Config,
    channels: Channels,
}

fn work(
    location: &Location,
    cfg: Option<&Config>,
    interval: Duration,
    shared: &(Mutex<Queue>, Condvar),
) {
    let (m, cv) = shared;
    let file = cfg.map(|cfg| {
        let channels = Channels::new(cfg);
        for e in channels.errors() {
            tracing::error!(error = %e, "alerts channel unusable");
        }
        FileConfig {
            cfg: cfg.clone(),
            channels,
        }
    });
    let mut api: HashMap<String, ApiConfig> = HashMap::new();
    let mut handles = Handles::default();
    let mut next_tick = std::time::Instant::now() + interval;
    let mut lease: Option<Box<dyn flakehound_store::Lease>> = None;
    let mut told = false;
    loop {
        let (project, all) = {
            let mut q = m.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if q.stop {
                    return;
                }
                if let Some(p) = q.pending.pop_first() {
                    break (Some(p), false);
                }
                if q.all {
                    q.all = false;
                    break (None, true);
                }
                let now = std::time::Instant::now();
                if now >= next_tick {
                    next_tick = now + interval;
                    q.all = true;
                    q.busy += 1;
                    continue;
                }
                q = cv
                    .wait_timeout(q, next_tick - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        };
        let projects: Vec<String> = match (project, all) {
            (Some(p), _) => vec![p],
            // The periodic pass over every project runs on one replica only: the one holding
            // the "alerts" lease (as retention's; see `flakehound_store::try_lead`). A commit's
            // own project is evaluated by the replica that took the upload, whichever it is
            // (its notifications go out once anyway, through the states' compare-and-set).
            _ if !leading(location, &mut lease, &mut told) => Vec::new(),
            _ => {
                m.lock().unwrap_or_else(|e| e.into_inner()).passes += 1;
                flakehound_store::open_admin(location)
                    .and_then(|mut a| a.server_projects())
                    .map(|ps| ps.into_iter().map(|(p, _)| p).collect())
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "alerts: cannot list projects");
                        Vec::new()
                    })
            }
        };
        for p in projects {
            if let Err(e) = evaluate(location, file.as_ref(), &mut api, &mut handles, &p) {
                tracing::warn!(project = %p, error = %e, "alerts: evaluation failed");
                // Reconnect next time.
                handles = Handles::default();
            }
        }
        let mut q = m.lock().unwrap_or_else(|e| e.into_inner());
        q.busy = q.busy.saturating_sub(1);
        cv.notify_all();
    }
}

/// Whether this replica leads the periodic pass: it holds the "alerts" lease, or takes it now.
/// `told`: whether "another replica leads" was logged already (once).
fn leading(
    location: &Location,
    lease: &mut Option<Box<dyn flakehound_store::Lease>>,
    told: &mut bool,
) -> bool {
    if lease.as_mut().is_some_and(|l| !l.held()) {
        tracing::warn!(job = "alerts", "lost the lead (the store session ended)");
        *lease = None;
    }
    if lease.is_none() {
        match flakehound_store::try_lead(location, "alerts") {
            Ok(Some(l)) => {
                tracing::info!(job = "alerts", "leading the job on this replica");
                *lease = Some(l);
                *told = false;
            }
            Ok(None) => {
                if !std::mem::replace(told, true) {
                    tracing::info!(job = "alerts", "another replica leads the job");
                }
            }
            Err(e) => tracing::warn!(job = "alerts", error = %e, "cannot try to lead"),
        }
    }
    lease.is_some()
}

/// Connections kept between evaluations.
#[derive(Default)]
struct Handles {
    alerts: Option<Box<dyn flakehound_store::AlertStore>>,
    admin: Option<Box<dyn flakehound_store::Admin>>,
}

fn evaluate(
    location: &Location,
    file: Option<&FileConfig>,
    api: &mut HashMap<String, ApiConfig>,
    handles: &mut Handles,
    project: &str,
) -> anyhow::Result<()> {
    if handles.alerts.is_none() {
        handles.alerts = Some(flakehound_store::open_alerts(location)?);
    }
    if handles.admin.is_none() {
        handles.admin = Some(flakehound_store::open_admin(location)?);
    }
    let (Some(a), Some(admin)) = (handles.alerts.as_mut(), handles.admin.as_mut()) else {
        return Ok(());
    };
    let (cfg, channels) = match a.alert_config(project)? {
        Some(rec) => {
            let fresh = api
                .get(project)
                .is_some_and(|c| c.updated_at == rec.updated_at && c.text == rec.config);
            if !fresh {
                // Checked when it was stored; a variable unset since then fails at send time,
                // named in the delivery log.
                let cfg = Config::parse(
                    &rec.config,
                    &format!("alerts configuration of {project} (API)"),
                )?;
                let channels = Channels::new(&cfg);
                for e in channels.errors() {
                    tracing::error!(project, error = %e, "alerts channel unusable");
                }
                api.insert(
                    project.to_string(),
                    ApiConfig {
                        updated_at: rec.updated_at,
                        text: rec.config,
                        cfg,
                        channels,
                    },
                );
            }
            let c = &api[project];
            (&c.cfg, &c.channels)
        }
        None => {
            api.remove(project);
            match file {
                Some(f) => (&f.cfg, &f.channels),
                None => return Ok(()),
            }
        }
    };
    let mut store = flakehound_store::open_existing(location, project)?;
    let server = admin.quarantine(project)?;
    let checked = crate::check(
        store.as_mut(),
        a.as_mut(),
        cfg,
        &Options::new(),
        &Quarantines { file: None, server },
        channels,
    )?;
    for c in &checked.changes {
        for o in &c.outcomes {
            tracing::info!(
                project,
                monitor = %c.notification.monitor,
                subject = %c.notification.subject,
                channel = %o.channel,
                status = %o.status,
                attempts = o.attempts,
                "alert"
            );
        }
    }
    Ok(())
}
