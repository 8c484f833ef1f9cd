//! What alerting keeps beside the evidence (`flakehound-alerts`): the state of every monitor's
//! subject, the log of notifications sent, and mutes. Both engines implement [`AlertStore`] in
//! the same database as the evidence, so that every `flakehound serve` replica on one
//! PostgreSQL sees one state, and a change of state is notified once: [`AlertStore::transition`]
//! is a compare-and-set that exactly one of several concurrent callers wins.

use crate::Result;

/// The state of one (project, monitor, subject).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertState {
    pub project: String,
    /// `new_flaky`, `failure_rate`, `broken`, `incident`, `quarantine`, `uploads_stopped`,
    /// `digest`, …
    pub monitor: String,
    /// A test id, a run key, a week (`2026-W49`), the project…
    pub subject: String,
    /// `ok`, `alarm`, or a monitor's own name for a state (`expiring`, `expired`).
    pub state: String,
    /// Bumped by every transition: what [`AlertStore::transition`] compares.
    pub version: i64,
    /// RFC 3339 UTC of the last transition.
    pub changed_at: String,
    /// RFC 3339 UTC of the last notification sent about this subject, if any.
    pub notified_at: Option<String>,
    /// The monitor's own JSON (numbers at the last transition).
    pub detail: String,
}

/// One notification to one channel, as it went.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// Assigned by [`AlertStore::log_delivery`].
    pub id: i64,
    pub project: String,
    pub monitor: String,
    pub subject: String,
    /// The channel's name in the configuration (empty for notifications sent nowhere).
    pub channel: String,
    /// `sent`, `failed`, `muted`, `throttled`, `dry-run`.
    pub status: String,
    /// Attempts made (retries included).
    pub attempts: u32,
    /// Why it failed (the last attempt's error), when it did.
    pub error: Option<String>,
    /// The notification's title.
    pub title: String,
    /// RFC 3339 UTC.
    pub at: String,
}

/// A mute: notifications whose test (or `monitor:subject`, or `monitor:*`) is `subject` are
/// logged as `muted` instead of sent, until `until` (forever when `None`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mute {
    pub project: String,
    pub subject: String,
    /// RFC 3339 UTC.
    pub until: Option<String>,
    pub reason: Option<String>,
    pub created_at: String,
}

/// A project's alerts configuration set through the server's API (`PUT /api/v1/alerts/config`):
/// the text of an `alerts.toml`, used for that project instead of `flakehound serve --alerts`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertConfig {
    pub project: String,
    /// The TOML text, as given (checked by `flakehound-alerts` before it is stored).
    pub config: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Who set it (the token's label).
    pub updated_by: String,
}

/// Alerting's records. Methods other than reads commit before they return.
pub trait AlertStore: Send {
    /// Every state of `project`, by monitor then subject.
    fn alert_states(&mut self, project: &str) -> Result<Vec<AlertState>>;
    /// Moves (project, monitor, subject) to `state` when its version is still `expected`
    /// (`None`: no row yet), bumping the version; records `detail` and `at`, and `notified_at`
    /// = `at` when `notify`. Returns whether this call made the change: of several callers that
    /// read the same version, exactly one gets `true` (the one that notifies).
    #[allow(clippy::too_many_arguments)]
    fn transition(
        &mut self,
        project: &str,
        monitor: &str,
        subject: &str,
        expected: Option<i64>,
        state: &str,
        detail: &str,
        at: &str,
        notify: bool,
    ) -> Result<bool>;
    /// Appends to the delivery log; returns the entry's id.
    fn log_delivery(&mut self, delivery: &Delivery) -> Result<i64>;
    /// The newest `limit` deliveries of `project`, newest first.
    fn deliveries(&mut self, project: &str, limit: u32) -> Result<Vec<Delivery>>;
    /// Deliveries of `project` logged with status `sent` at or after `since` (RFC 3339 UTC).
    fn sent_since(&mut self, project: &str, since: &str) -> Result<u64>;
    /// Adds or replaces a mute.
    fn mute(&mut self, mute: &Mute) -> Result<()>;
    /// Removes a mute; `false` when there was none.
    fn unmute(&mut self, project: &str, subject: &str) -> Result<bool>;
    /// Mutes of `project` (expired ones included), by subject.
    fn mutes(&mut self, project: &str) -> Result<Vec<Mute>>;
    /// The configuration set for `project` through the API, if any.
    fn alert_config(&mut self, project: &str) -> Result<Option<AlertConfig>>;
    /// Sets (replaces) a project's configuration.
    fn set_alert_config(&mut self, config: &AlertConfig) -> Result<()>;
    /// Removes a project's configuration; `false` when there was none.
    fn remove_alert_config(&mut self, project: &str) -> Result<bool>;
}
