//! Alerts and digests: monitors evaluated over a project's evidence, one notification per
//! subject per change of state, sent to Slack, signed webhooks or e-mail.
//!
//! [`check`] is the one entry point, for `flakehound alerts check` (a local store, from cron or
//! a CI step) and for the server (after every upload, in the background):
//! 1. read the evidence ([`monitors::Snapshot`]) and the stored states ([`AlertStore`]);
//! 2. every monitor says, per subject, alarm / clear / hold ([`monitors::Level`]: the gap
//!    between a monitor's alarm and recover thresholds is the hysteresis);
//! 3. each change of state is a compare-and-set in the store: of two replicas evaluating the
//!    same upload, one wins and notifies (at most once: a crash between the change and the
//!    send loses that notification rather than sending it twice);
//! 4. notifications go through mutes and throttling to the channels their test's owners are
//!    routed to (CODEOWNERS team → channel), with retries; every attempt is logged.
//!
//! Delivery failures never fail the check (the caller decides, `--strict`).

pub mod background;
pub mod config;
pub mod monitors;
pub mod notify;

pub use config::Config;
use flakehound_store::{AlertState, AlertStore, Delivery, Mute, Store};
use monitors::{Level, Observation, Snapshot};
pub use notify::{Channel, Notification, Sent};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// How a [`check`] runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Evaluation time (the benchmark replays history with the runs' times).
    pub now: jiff::Timestamp,
    /// Evaluate and report, change nothing, send nothing.
    pub dry_run: bool,
    /// The repository: owners (CODEOWNERS) and culprit authors (git) come from it.
    pub repo: Option<PathBuf>,
    /// Send every notification, even on the first check of a project (see
    /// [`Config::baseline`]).
    pub no_baseline: bool,
}

impl Options {
    pub fn new() -> Options {
        Options {
            now: jiff::Timestamp::now(),
            dry_run: false,
            repo: None,
            no_baseline: false,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

/// What a notification became on one channel.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    pub channel: String,
    /// `sent`, `failed`, `muted`, `throttled`, `dry-run`, `baseline`, `no-channel`.
    pub status: String,
    pub attempts: u32,
    pub error: Option<String>,
}

/// One change of state and what was done about it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Change {
    pub notification: Notification,
    pub outcomes: Vec<Outcome>,
}

/// The result of a [`check`].
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Checked {
    pub project: String,
    pub changes: Vec<Change>,
    /// The first check of the project: changes recorded, nothing sent.
    pub baseline: bool,
    /// Changes another evaluator (replica) made first: not notified here.
    pub lost_races: u64,
    /// Subjects currently not `ok`.
    pub alarming: u64,
}

impl Checked {
    /// Notifications that failed on some channel.
    pub fn failed(&self) -> usize {
        self.changes
            .iter()
            .flat_map(|c| &c.outcomes)
            .filter(|o| o.status == "failed")
            .count()
    }
}

/// Sends notifications (the channels of a configuration); a test replaces it to count.
pub trait Deliver {
    /// Channel names a notification about a test with these owners goes to.
    fn route(&self, owners: &[String]) -> Vec<String>;
    fn send(&self, channel: &str, n: &Notification) -> Sent;
}

/// The channels of a configuration, built once (secrets read, certificates loaded).
pub struct Channels {
    channels: BTreeMap<String, Result<Channel, String>>,
    routes: Vec<config::Route>,
    default: Vec<String>,
}

impl Channels {
    /// Builds every channel; a channel that cannot be built fails at send time with its reason
    /// (logged), the others still work. [`Channels::errors`] lists them.
    pub fn new(cfg: &Config) -> Channels {
        let channels = cfg
            .channels
            .keys()
            .map(|n| (n.clone(), Channel::build(cfg, n)))
            .collect();
        Channels {
            channels,
            routes: cfg.routes.clone(),
            default: cfg
                .default_channels
                .clone()
                .unwrap_or_else(|| cfg.channels.keys().cloned().collect()),
        }
    }

    /// Channels that cannot be built and why (the reason names the channel and the key).
    pub fn errors(&self) -> Vec<String> {
        self.channels
            .values()
            .filter_map(|c| c.as_ref().err().cloned())
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.channels.keys().cloned().collect()
    }

    /// Sets every channel's first backoff (tests).
    pub fn set_backoff(&mut self, d: std::time::Duration) {
        for c in self.channels.values_mut().flatten() {
            c.backoff = d;
        }
    }
}

impl Deliver for Channels {
    fn route(&self, owners: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.routes {
            if owners.iter().any(|o| o.eq_ignore_ascii_case(&r.owner)) {
                for c in &r.channels {
                    if !out.contains(c) {
                        out.push(c.clone());
                    }
                }
            }
        }
        if out.is_empty() {
            out = self.default.clone();
        }
        out
    }

    fn send(&self, channel: &str, n: &Notification) -> Sent {
        match self.channels.get(channel) {
            Some(Ok(c)) => c.send(n),
            Some(Err(e)) => Sent {
                attempts: 0,
                error: Some(e.clone()),
            },
            None => Sent {
                attempts: 0,
                error: Some(format!("no channel named `{channel}`")),
            },
        }
    }
}

/// Checks an `alerts.toml` text as `flakehound serve` takes it through its API (`PUT
/// /api/v1/alerts/config`): it must parse and pass [`Config::check`], and every channel must
/// build (a secret variable that is unset on the server, a CA file missing). The error names
/// the channel or table and the key, prefixed with `origin`.
pub fn check_text(text: &str, origin: &str) -> Result<Config, String> {
    let cfg = Config::parse(text, origin).map_err(|e| e.to_string())?;
    if let Some(e) = Channels::new(&cfg).errors().first() {
        return Err(format!("{origin}: {e}"));
    }
    Ok(cfg)
}

/// Monitors that send a `fixed` notification when they recover.
const RECOVERING: [&str; 3] = ["new_flaky", "failure_rate", "broken"];

fn ts(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

/// ISO week of `t`: `2026-W49`.
pub fn iso_week(t: jiff::Timestamp) -> String {
    let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    let w = d.iso_week_date();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Quarantine entries to watch, besides the evidence.
#[derive(Clone, Debug, Default)]
pub struct Quarantines {
    pub file: Option<PathBuf>,
    pub server: Vec<flakehound_store::QuarantineRecord>,
}

/// Evaluates every monitor over `store`'s project and notifies the changes (see the crate
/// docs). Errors are the store's; delivery failures are in the result.
pub fn check(
    store: &mut dyn Store,
    alerts: &mut dyn AlertStore,
    cfg: &Config,
    opts: &Options,
    quarantines: &Quarantines,
    deliver: &dyn Deliver,
) -> anyhow::Result<Checked> {
    let mut snap = Snapshot::load(store, cfg)?;
    if let Some(path) = &quarantines.file {
        if path.exists() {
            match flakehound_quarantine::QuarantineFile::load(path) {
                Ok(f) => snap.add_quarantine_file(&f),
                Err(e) => tracing::warn!(error = %e, "quarantine file not read"),
            }
        }
    }
    snap.add_quarantine_records(&quarantines.server);
    check_snapshot(&snap, alerts, cfg, opts, deliver)
}

/// [`check`] over evidence already read.
pub fn check_snapshot(
    snap: &Snapshot,
    alerts: &mut dyn AlertStore,
    cfg: &Config,
    opts: &Options,
    deliver: &dyn Deliver,
) -> anyhow::Result<Checked> {
    let project = snap.project.clone();
    let states = alerts.alert_states(&project)?;
    let baseline = !opts.no_baseline
        && cfg.baseline.unwrap_or(true)
        && !states.iter().any(|s| s.monitor == "baseline");
    let mut observations = monitors::evaluate(snap, cfg, &states, opts.now);
    if cfg.monitors.digest.enabled {
        let z = opts.now.to_zoned(jiff::tz::TimeZone::UTC);
        let day = config::weekday(&cfg.monitors.digest.day);
        let week = iso_week(opts.now);
        if Some(z.weekday()) == day
            && z.hour() >= cfg.monitors.digest.hour
            && !states
                .iter()
                .any(|s| s.monitor == "digest" && s.subject == week)
        {
            observations.push(monitors::digest(snap, cfg, &states, opts.now, &week));
        }
    }
    let by_key: HashMap<(&str, &str), &AlertState> = states
        .iter()
        .map(|s| ((s.monitor.as_str(), s.subject.as_str()), s))
        .collect();
    let now = ts(opts.now);
    let cooldown = config::parse_duration(&cfg.throttle.cooldown)
        .unwrap_or_default()
        .as_secs() as i64;
    let owners = opts.repo.as_deref().map(flakehound_owners::Owners::load);
    let files: HashMap<&str, Option<&str>> = snap
        .tests
        .iter()
        .map(|s| (s.id.as_str(), s.file.as_deref()))
        .collect();
    let mut mutes: Vec<Mute> = alerts.mutes(&project)?;
    for m in &cfg.mutes {
        mutes.push(Mute {
            project: project.clone(),
            subject: m.test.clone(),
            until: m.until.as_deref().and_then(config::mute_until).map(ts),
            reason: m.reason.clone(),
            created_at: String::new(),
        });
    }
    let hour_ago = ts(opts.now - jiff::SignedDuration::from_hours(1));
    let mut sent_this_hour = if opts.dry_run {
        0
    } else {
        alerts.sent_since(&project, &hour_ago)?
    };
    let mut out = Checked {
        project: project.clone(),
        baseline,
        ..Default::default()
    };
    for o in observations {
        let current = by_key.get(&(o.monitor, o.subject.as_str()));
        let cur_state = current.map_or("ok", |s| s.state.as_str());
        let target = match o.level {
            Level::Hold => continue,
            Level::Alarm => o.state.clone(),
            Level::Clear => "ok".to_string(),
        };
        if cur_state == target {
            continue;
        }
        // Should the change be told?
        let notify_monitor = match o.level {
            Level::Clear if RECOVERING.contains(&o.monitor) => cfg.monitors.fixed.enabled,
            Level::Clear => o.monitor == "uploads_stopped",
            _ => true,
        };
        let cooled = o.level == Level::Alarm
            && current
                .and_then(|s| s.notified_at.as_deref())
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| opts.now.as_second() - t.as_second() < cooldown);
        let notify = notify_monitor && !baseline && !cooled;
        if !opts.dry_run {
            let won = alerts.transition(
                &project,
                o.monitor,
                &o.subject,
                current.map(|s| s.version),
                &target,
                &o.detail.to_string(),
                &now,
                notify,
            )?;
            if !won {
                out.lost_races += 1;
                continue;
            }
        }
        if !notify_monitor {
            continue;
        }
        let n = notification(
            snap,
            cfg,
            &o,
            cur_state,
            &target,
            &now,
            opts,
            owners.as_ref(),
            &files,
        );
        let mut outcomes = Vec::new();
        let subject_muted = mutes.iter().find(|m| {
            m.until
                .as_deref()
                .and_then(|u| u.parse::<jiff::Timestamp>().ok())
                .is_none_or(|u| u > opts.now)
                && (Some(&m.subject) == o.test.as_ref()
                    || m.subject == format!("{}:{}", n.monitor, o.subject)
                    || m.subject == format!("{}:*", n.monitor))
        });
        let status = if baseline {
            Some("baseline")
        } else if cooled {
            Some("throttled")
        } else if subject_muted.is_some() {
            Some("muted")
        } else if opts.dry_run {
            Some("dry-run")
        } else if sent_this_hour >= cfg.throttle.max_per_hour {
            Some("throttled")
        } else {
            None
        };
        if let Some(status) = status {
            outcomes.push(Outcome {
                channel: String::new(),
                status: status.to_string(),
                attempts: 0,
                error: None,
            });
        } else {
            let channels = deliver.route(&n.owners);
            if channels.is_empty() {
                outcomes.push(Outcome {
                    channel: String::new(),
                    status: "no-channel".into(),
                    attempts: 0,
                    error: None,
                });
            }
            for c in channels {
                let s = deliver.send(&c, &n);
                outcomes.push(Outcome {
                    channel: c,
                    status: if s.error.is_none() { "sent" } else { "failed" }.into(),
                    attempts: s.attempts,
                    error: s.error,
                });
            }
            sent_this_hour += 1;
        }
        if !opts.dry_run {
            for oc in &outcomes {
                alerts.log_delivery(&Delivery {
                    id: 0,
                    project: project.clone(),
                    monitor: n.monitor.clone(),
                    subject: n.subject.clone(),
                    channel: oc.channel.clone(),
                    status: oc.status.clone(),
                    attempts: oc.attempts,
                    error: oc.error.clone(),
                    title: n.title.clone(),
                    at: now.clone(),
                })?;
            }
        }
        out.changes.push(Change {
            notification: n,
            outcomes,
        });
    }
    if baseline && !opts.dry_run {
        alerts.transition(
            &project, "baseline", &project, None, "done", "{}", &now, false,
        )?;
    }
    out.alarming = alerts
        .alert_states(&project)?
        .iter()
        .filter(|s| {
            s.state != "ok" && !matches!(s.monitor.as_str(), "baseline" | "digest" | "incident")
        })
        .count() as u64;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn notification(
    snap: &Snapshot,
    cfg: &Config,
    o: &Observation,
    previous: &str,
    state: &str,
    now: &str,
    opts: &Options,
    owners: Option<&flakehound_owners::Owners>,
    files: &HashMap<&str, Option<&str>>,
) -> Notification {
    let monitor = if o.level == Level::Clear && RECOVERING.contains(&o.monitor) {
        "fixed"
    } else {
        o.monitor
    };
    let link = match (&cfg.server_url, &o.test) {
        (Some(base), Some(t)) => Some(format!(
            "{}/tests/{}",
            base.trim_end_matches('/'),
            percent_encode(t)
        )),
        _ => None,
    };
    let owners = match (owners, &o.test) {
        (Some(ow), Some(t)) => ow.of(t, files.get(t.as_str()).copied().flatten()),
        _ => Vec::new(),
    };
    let author = o
        .culprit
        .as_deref()
        .and_then(|c| opts.repo.as_deref().and_then(|r| git_author(r, c)));
    let mut title = o.title.clone();
    if let Some(a) = &author {
        if o.monitor == "broken" {
            title.push_str(&format!(" by {}", a.split(" <").next().unwrap_or(a)));
        }
    }
    let _ = snap;
    Notification {
        project: snap.project.clone(),
        monitor: monitor.to_string(),
        subject: o.subject.clone(),
        state: state.to_string(),
        previous_state: previous.to_string(),
        title,
        summary: o.summary.clone(),
        facts: o.facts.clone(),
        runs: o.runs.clone(),
        test: o.test.clone(),
        link,
        owners,
        culprit: o.culprit.clone(),
        author,
        at: now.to_string(),
    }
}

/// Percent-encodes a test id for a URL path segment (everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// `Name <email>` of `commit` in the repository at `repo`, when git knows it.
fn git_author(repo: &std::path::Path, commit: &str) -> Option<String> {
    if !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["log", "-1", "--format=%an <%ae>", commit, "--"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// A sample notification for `alerts test`.
pub fn sample(project: &str, cfg: &Config) -> Notification {
    let test = "tests/test_example.py::test_sample";
    Notification {
        project: project.to_string(),
        monitor: "test".into(),
        subject: test.into(),
        state: "alarm".into(),
        previous_state: "ok".into(),
        title: "flakehound test notification".into(),
        summary: "This is a sample sent by `flakehound alerts test`: the channel works.".into(),
        facts: vec![("recent".into(), "2/10 runs failed".into())],
        runs: vec!["github-actions/1/1/test".into()],
        test: Some(test.into()),
        link: cfg
            .server_url
            .as_ref()
            .map(|b| format!("{}/tests/{}", b.trim_end_matches('/'), percent_encode(test))),
        owners: Vec::new(),
        culprit: None,
        author: None,
        at: ts(jiff::Timestamp::now()),
    }
}
