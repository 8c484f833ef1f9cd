//! `.flakehound/alerts.toml`: monitors, channels, routes, mutes and throttling. Every key is
//! optional except a channel's `type` and its address; unknown keys are errors (a typo must not
//! silently disable an alert). Errors name the file, the channel or table, and the key.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Where `alerts check` looks when no `--config` is given, relative to the repository root.
pub const DEFAULT_PATH: &str = ".flakehound/alerts.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("{path}: channel `{channel}`: {reason}")]
    Channel {
        path: String,
        channel: String,
        reason: String,
    },
    #[error("{path}: {table}: key `{key}`: {reason}")]
    Key {
        path: String,
        table: String,
        key: String,
        reason: String,
    },
}

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The dashboard's URL: notifications about a test link to `{server_url}/tests/{id}`.
    pub server_url: Option<String>,
    /// Branches whose runs count for `broken` (default `main` and `master`; runs without a
    /// branch count too).
    pub main_branches: Option<Vec<String>>,
    /// Channels for notifications no route claims (default: every channel).
    pub default_channels: Option<Vec<String>>,
    /// The first check of a project records what is already alarming without notifying
    /// (default true): turning alerts on does not page about last year's flaky tests.
    pub baseline: Option<bool>,
    #[serde(default)]
    pub monitors: Monitors,
    #[serde(default)]
    pub throttle: Throttle,
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelConfig>,
    #[serde(default, rename = "route")]
    pub routes: Vec<Route>,
    #[serde(default, rename = "mute")]
    pub mutes: Vec<MuteConfig>,
    /// Where the file was read from (for messages).
    #[serde(skip)]
    pub path: String,
}

/// Thresholds of each monitor. `alarm_*` starts an alarm, `recover_*` ends it: the gap between
/// them (hysteresis) keeps a test near a threshold from flapping.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitors {
    #[serde(default)]
    pub new_flaky: NewFlaky,
    #[serde(default)]
    pub failure_rate: FailureRate,
    #[serde(default)]
    pub broken: Broken,
    #[serde(default)]
    pub incident: Incident,
    #[serde(default)]
    pub quarantine: Quarantine,
    #[serde(default)]
    pub fixed: Fixed,
    #[serde(default)]
    pub uploads_stopped: UploadsStopped,
    #[serde(default)]
    pub digest: Digest,
}

/// A stable test starts failing intermittently.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewFlaky {
    pub enabled: bool,
    /// Confidence that the recent failures are not explained by the test's earlier failure rate
    /// (1 − the binomial tail probability) needed to alarm.
    pub alarm_confidence: f64,
    /// Or: the verdict engine calls the test flaky with at least this confidence.
    pub verdict_confidence: f64,
    /// Earlier failure rate at most this much counts as "was stable".
    pub stable_rate: f64,
    /// Runs of history needed before the change.
    pub min_history: u64,
    /// Recovered when a clean streak this long would have probability below `recover_p` at
    /// the failure rate seen at the alarm...
    pub recover_p: f64,
    /// ...and is at least this many runs.
    pub recover_runs: u64,
}

impl Default for NewFlaky {
    fn default() -> Self {
        NewFlaky {
            enabled: true,
            alarm_confidence: 0.99,
            verdict_confidence: 0.9,
            stable_rate: 0.01,
            min_history: 10,
            recover_p: 0.001,
            recover_runs: 10,
        }
    }
}

/// A test that already failed sometimes fails much more often.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailureRate {
    pub enabled: bool,
    pub alarm_confidence: f64,
    /// The recent rate must be at least this many times the earlier one.
    pub alarm_factor: f64,
    /// And at least this many recent failures...
    pub min_failures: u64,
    /// ...over at least this many runs...
    pub min_runs: u64,
    /// ...against an earlier rate measured over at least this many runs.
    pub min_history: u64,
    /// Recovered when the rate over the last `recover_runs` runs is at most `recover_factor`
    /// times the earlier rate.
    pub recover_factor: f64,
    pub recover_runs: u64,
}

impl Default for FailureRate {
    fn default() -> Self {
        FailureRate {
            enabled: true,
            alarm_confidence: 0.999,
            alarm_factor: 2.0,
            min_failures: 3,
            min_runs: 10,
            min_history: 30,
            recover_factor: 1.5,
            recover_runs: 30,
        }
    }
}

/// A test fails every run on the main branch.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Broken {
    pub enabled: bool,
    /// Consecutive failed runs on the main branch (last attempt failed too) to alarm.
    pub alarm_runs: u64,
    /// Consecutive passing runs on the main branch to recover.
    pub recover_runs: u64,
    /// Runs on the main branch before the failing streak that must have failed at most
    /// `monitors.new_flaky.stable_rate` of the time (a flaky test failing twice in a row is not
    /// broken), unless the verdict engine calls the test broken.
    pub history_runs: u64,
}

impl Default for Broken {
    fn default() -> Self {
        Broken {
            enabled: true,
            alarm_runs: 2,
            recover_runs: 2,
            history_runs: 30,
        }
    }
}

/// Many tests fail together in one run (one alert per run; its failures are kept out of the
/// per-test monitors).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Incident {
    pub enabled: bool,
    /// Failed tests in one run...
    pub min_tests: u64,
    /// ...and this share of the run's tests.
    pub min_share: f64,
    /// Only incidents among the project's newest runs are notified.
    pub recent_runs: u64,
}

impl Default for Incident {
    fn default() -> Self {
        Incident {
            enabled: true,
            min_tests: 5,
            min_share: 0.2,
            recent_runs: 10,
        }
    }
}

/// Quarantine entries near or past their expiry date.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quarantine {
    pub enabled: bool,
    /// Days before the expiry date to warn.
    pub warn_days: i64,
}

impl Default for Quarantine {
    fn default() -> Self {
        Quarantine {
            enabled: true,
            warn_days: 7,
        }
    }
}

/// A test whose alarm (new flaky, failure rate, broken) recovered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fixed {
    pub enabled: bool,
}

impl Default for Fixed {
    fn default() -> Self {
        Fixed { enabled: true }
    }
}

/// No results uploaded for a while.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadsStopped {
    pub enabled: bool,
    /// Alarm after this long without a new run (`3d`, `36h`).
    pub after: String,
}

impl Default for UploadsStopped {
    fn default() -> Self {
        UploadsStopped {
            enabled: true,
            after: "3d".into(),
        }
    }
}

/// The weekly digest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Digest {
    pub enabled: bool,
    /// Day of the week (`monday` … `sunday`) and UTC hour from which it is sent, once a week.
    pub day: String,
    pub hour: i8,
    /// Tests listed by cost.
    pub top: usize,
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            enabled: true,
            day: "monday".into(),
            hour: 9,
            top: 5,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Throttle {
    /// Notifications sent per project per hour at most; the rest are logged as `throttled`.
    pub max_per_hour: u64,
    /// A subject that alarms again this soon after its last notification is not notified again.
    pub cooldown: String,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            max_per_hour: 30,
            cooldown: "6h".into(),
        }
    }
}

/// A channel: `type` is `slack`, `webhook` or `email`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChannelConfig {
    Slack {
        /// The incoming webhook URL, or `webhook_url_env`: the variable holding it.
        webhook_url: Option<String>,
        webhook_url_env: Option<String>,
        #[serde(default)]
        retries: Option<u32>,
        #[serde(default)]
        timeout: Option<String>,
    },
    Webhook {
        url: String,
        /// The HMAC-SHA256 key, or `secret_env`: the variable holding it.
        secret: Option<String>,
        secret_env: Option<String>,
        #[serde(default)]
        retries: Option<u32>,
        #[serde(default)]
        timeout: Option<String>,
    },
    Email {
        smtp_host: String,
        /// Default 587.
        smtp_port: Option<u16>,
        /// `starttls` (default: required), `tls` (implicit TLS, port 465) or `none` (local
        /// relays only).
        security: Option<String>,
        username: Option<String>,
        password_env: Option<String>,
        from: String,
        to: Vec<String>,
        /// A PEM file of an extra root certificate (a private CA).
        ca_file: Option<String>,
        #[serde(default)]
        retries: Option<u32>,
        #[serde(default)]
        timeout: Option<String>,
    },
}

/// Notifications about tests owned by `owner` (a CODEOWNERS owner: `@org/team`, `@user`, an
/// e-mail) go to `channels`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub owner: String,
    pub channels: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteConfig {
    /// A test id, `monitor:subject` or `monitor:*`.
    pub test: String,
    /// `YYYY-MM-DD` (muted through that day) or RFC 3339; forever when absent.
    pub until: Option<String>,
    pub reason: Option<String>,
}

/// Parses `3d`, `36h`, `90m`, `30s`, `2w`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs).map(Duration::from_secs)
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and checks `text`, naming it `origin` in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            reason: e.to_string().trim_end().replace('\n', " "),
        })?;
        c.path = origin.to_string();
        c.check()?;
        Ok(c)
    }

    fn key_err(&self, table: &str, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            path: self.path.clone(),
            table: table.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn channel_err(&self, channel: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Channel {
            path: self.path.clone(),
            channel: channel.into(),
            reason: reason.into(),
        }
    }

    /// What serde cannot say: values in range, durations that parse, channels that exist,
    /// addresses that are addresses.
    pub fn check(&self) -> Result<(), ConfigError> {
        let m = &self.monitors;
        let unit = |table: &str, key: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(self.key_err(table, key, format!("{v} is not between 0 and 1")))
            }
        };
        unit(
            "monitors.new_flaky",
            "alarm_confidence",
            m.new_flaky.alarm_confidence,
        )?;
        unit(
            "monitors.new_flaky",
            "verdict_confidence",
            m.new_flaky.verdict_confidence,
        )?;
        unit("monitors.new_flaky", "stable_rate", m.new_flaky.stable_rate)?;
        unit("monitors.new_flaky", "recover_p", m.new_flaky.recover_p)?;
        unit(
            "monitors.failure_rate",
            "alarm_confidence",
            m.failure_rate.alarm_confidence,
        )?;
        unit("monitors.incident", "min_share", m.incident.min_share)?;
        if m.failure_rate.recover_factor > m.failure_rate.alarm_factor {
            return Err(self.key_err(
                "monitors.failure_rate",
                "recover_factor",
                "must not exceed alarm_factor (the recover threshold is the lower one)",
            ));
        }
        if m.broken.alarm_runs == 0 {
            return Err(self.key_err("monitors.broken", "alarm_runs", "must be at least 1"));
        }
        if parse_duration(&m.uploads_stopped.after).is_none() {
            return Err(self.key_err(
                "monitors.uploads_stopped",
                "after",
                format!(
                    "{:?} is not a duration (like 3d, 36h, 90m)",
                    m.uploads_stopped.after
                ),
            ));
        }
        if weekday(&m.digest.day).is_none() {
            return Err(self.key_err(
                "monitors.digest",
                "day",
                format!("{:?} is not a day of the week", m.digest.day),
            ));
        }
        if !(0..24).contains(&m.digest.hour) {
            return Err(self.key_err("monitors.digest", "hour", "must be 0 to 23"));
        }
        if parse_duration(&self.throttle.cooldown).is_none() {
            return Err(self.key_err(
                "throttle",
                "cooldown",
                format!("{:?} is not a duration", self.throttle.cooldown),
            ));
        }
        if let Some(url) = &self.server_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(self.key_err("top level", "server_url", "must be an http(s) URL"));
            }
        }
        for (name, ch) in &self.channels {
            let timeout = match ch {
                ChannelConfig::Slack {
                    webhook_url,
                    webhook_url_env,
                    timeout,
                    ..
                } => {
                    match (webhook_url, webhook_url_env) {
                        (None, None) => {
                            return Err(
                                self.channel_err(name, "needs `webhook_url` or `webhook_url_env`")
                            );
                        }
                        (Some(_), Some(_)) => {
                            return Err(self.channel_err(
                                name,
                                "has both `webhook_url` and `webhook_url_env`; keep one",
                            ));
                        }
                        (Some(u), None) => check_url(u).map_err(|r| {
                            self.channel_err(name, format!("key `webhook_url`: {r}"))
                        })?,
                        (None, Some(_)) => {}
                    }
                    timeout
                }
                ChannelConfig::Webhook {
                    url,
                    secret,
                    secret_env,
                    timeout,
                    ..
                } => {
                    check_url(url)
                        .map_err(|r| self.channel_err(name, format!("key `url`: {r}")))?;
                    if secret.is_some() && secret_env.is_some() {
                        return Err(
                            self.channel_err(name, "has both `secret` and `secret_env`; keep one")
                        );
                    }
                    if secret.as_deref() == Some("") {
                        return Err(self.channel_err(name, "key `secret`: empty"));
                    }
                    timeout
                }
                ChannelConfig::Email {
                    smtp_host,
                    security,
                    from,
                    to,
                    timeout,
                    ..
                } => {
                    if smtp_host.trim().is_empty() {
                        return Err(self.channel_err(name, "key `smtp_host`: empty"));
                    }
                    if let Some(s) = security {
                        if !matches!(s.as_str(), "starttls" | "tls" | "none") {
                            return Err(self.channel_err(
                                name,
                                format!("key `security`: {s:?} is not starttls, tls or none"),
                            ));
                        }
                    }
                    from.parse::<lettre::message::Mailbox>().map_err(|e| {
                        self.channel_err(
                            name,
                            format!("key `from`: {from:?} is not an address: {e}"),
                        )
                    })?;
                    if to.is_empty() {
                        return Err(self.channel_err(name, "key `to`: no recipients"));
                    }
                    for t in to {
                        t.parse::<lettre::message::Mailbox>().map_err(|e| {
                            self.channel_err(
                                name,
                                format!("key `to`: {t:?} is not an address: {e}"),
                            )
                        })?;
                    }
                    timeout
                }
            };
            if let Some(t) = timeout {
                if parse_duration(t).is_none() {
                    return Err(self.channel_err(
                        name,
                        format!("key `timeout`: {t:?} is not a duration (like 10s)"),
                    ));
                }
            }
        }
        let known = |c: &String| self.channels.contains_key(c);
        for (i, r) in self.routes.iter().enumerate() {
            if let Some(c) = r.channels.iter().find(|c| !known(c)) {
                return Err(self.key_err(
                    &format!("route {} (owner {})", i + 1, r.owner),
                    "channels",
                    format!("no channel named `{c}` in [channels]"),
                ));
            }
        }
        if let Some(c) = self.default_channels.iter().flatten().find(|c| !known(c)) {
            return Err(self.key_err(
                "top level",
                "default_channels",
                format!("no channel named `{c}` in [channels]"),
            ));
        }
        for (i, m) in self.mutes.iter().enumerate() {
            if let Some(u) = &m.until {
                if mute_until(u).is_none() {
                    return Err(self.key_err(
                        &format!("mute {} ({})", i + 1, m.test),
                        "until",
                        format!("{u:?} is not a date (YYYY-MM-DD) or RFC 3339 time"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn main_branches(&self) -> Vec<String> {
        self.main_branches
            .clone()
            .unwrap_or_else(|| vec!["main".into(), "master".into()])
    }
}

fn check_url(u: &str) -> Result<(), String> {
    match reqwest::Url::parse(u) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        Ok(url) => Err(format!("{} is not an http(s) URL", url.scheme())),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

/// `monday` … `sunday` (or their first three letters).
pub fn weekday(s: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    let s = s.trim().to_ascii_lowercase();
    let all = [
        ("monday", Monday),
        ("tuesday", Tuesday),
        ("wednesday", Wednesday),
        ("thursday", Thursday),
        ("friday", Friday),
        ("saturday", Saturday),
        ("sunday", Sunday),
    ];
    all.iter()
        .find(|(n, _)| *n == s || (s.len() == 3 && n.starts_with(&s)))
        .map(|(_, d)| *d)
}

/// A mute's end: a date means the end of that day (UTC).
pub fn mute_until(s: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let d: jiff::civil::Date = s.parse().ok()?;
    d.tomorrow()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_every_default() {
        let c = Config::parse("", "alerts.toml").unwrap();
        assert!(c.monitors.new_flaky.enabled);
        assert_eq!(c.main_branches(), ["main", "master"]);
        assert!(c.channels.is_empty());
    }

    #[test]
    fn errors_name_the_channel_and_the_key() {
        let e = Config::parse(
            "[channels.ops]\ntype = \"webhook\"\nurl = \"ftp://x\"\n",
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "a.toml: channel `ops`: key `url`: ftp is not an http(s) URL"
        );
        let e = Config::parse("[channels.team]\ntype = \"slack\"\n", "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("channel `team`: needs `webhook_url`"), "{e}");
        let e = Config::parse(
            "[channels.mail]\ntype = \"email\"\nsmtp_host = \"h\"\nfrom = \"not an address\"\nto = [\"a@b.c\"]\n",
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("channel `mail`: key `from`"), "{e}");
        let e = Config::parse("[channels.x]\ntype = \"pager\"\n", "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.toml") && e.contains("pager"), "{e}");
        let e = Config::parse(
            "[channels.ops]\ntype = \"webhook\"\nurl = \"http://x\"\nsecrett = \"s\"\n",
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("secrett"), "{e}");
        let e = Config::parse(
            "[[route]]\nowner = \"@a/b\"\nchannels = [\"nope\"]\n",
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no channel named `nope`"), "{e}");
        let e = Config::parse("[monitors.uploads_stopped]\nafter = \"soon\"\n", "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("monitors.uploads_stopped: key `after`"), "{e}");
    }

    #[test]
    fn durations_and_days() {
        assert_eq!(parse_duration("3d"), Some(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("3 parsecs"), None);
        assert_eq!(weekday("Mon"), Some(jiff::civil::Weekday::Monday));
        assert_eq!(
            mute_until("2026-12-31").unwrap().to_string(),
            "2027-01-01T00:00:00Z"
        );
    }
}
