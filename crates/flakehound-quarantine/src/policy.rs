//! `[quarantine]` policy of `.flakehound/config.toml` and the pure `sync` planner.

use jiff::civil::Date;
use toml_edit::Item;

use crate::file::{Entry, Error, Locator};

/// Sync policy, read from the `[quarantine]` table of `.flakehound/config.toml`:
///
/// ```toml
/// [quarantine]
/// auto = true                 # let `sync` add entries (default true)
/// min_confidence = 0.8        # add: verdict flaky with confidence >= this (default 0.8)
/// strikes = 3                 # add: or after this many strikes; 0 disables (default 3)
/// release_after_passes = 20   # release: consecutive passes; 0 disables (default 20)
/// release_after_days = 14     # release: days without failure; 0 disables (default 14)
/// expiry_days = 30            # `expires` of new entries = today + this (default 30)
/// owner = "@team/qa"          # owner of new entries (default "unassigned")
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub auto: bool,
    pub min_confidence: f64,
    pub strikes: Option<u32>,
    pub release_after_passes: Option<u32>,
    pub release_after_days: Option<u32>,
    pub expiry_days: u32,
    pub owner: String,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            auto: true,
            min_confidence: 0.8,
            strikes: Some(3),
            release_after_passes: Some(20),
            release_after_days: Some(14),
            expiry_days: 30,
            owner: "unassigned".into(),
        }
    }
}

impl Policy {
    /// Parses the `[quarantine]` table of a config file (defaults when absent).
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_named(text, "<input>")
    }

    /// Like [`Self::parse`], naming `origin` in errors.
    pub fn parse_named(text: &str, origin: &str) -> Result<Self, Error> {
        let at = Locator::new(text, origin);
        let doc = at.parse()?;
        let mut p = Policy::default();
        let Some(item) = doc.get("quarantine") else {
            return Ok(p);
        };
        let Some(table) = item.as_table_like() else {
            return Err(at.item_error(item, "`quarantine` must be a table".into()));
        };
        let count = |key: &str, item: &Item, max: i64| -> Result<u32, Error> {
            match item.as_integer() {
                Some(n) if (0..=max).contains(&n) => Ok(n as u32),
                _ => Err(at.item_error(item, format!("`{key}` must be an integer 0..={max}"))),
            }
        };
        let opt = |n: u32| (n > 0).then_some(n);
        for (key, item) in table.iter() {
            match key {
                "auto" => {
                    p.auto = item
                        .as_bool()
                        .ok_or_else(|| at.item_error(item, "`auto` must be true or false".into()))?
                }
                "min_confidence" => {
                    let v = item
                        .as_float()
                        .or_else(|| item.as_integer().map(|i| i as f64))
                        .filter(|v| (0.0..=1.0).contains(v));
                    p.min_confidence = v.ok_or_else(|| {
                        at.item_error(item, "`min_confidence` must be a number in 0..=1".into())
                    })?;
                }
                "strikes" => p.strikes = opt(count(key, item, 10_000)?),
                "release_after_passes" => p.release_after_passes = opt(count(key, item, 100_000)?),
                "release_after_days" => p.release_after_days = opt(count(key, item, 3650)?),
                "expiry_days" => {
                    p.expiry_days = count(key, item, 3650)?;
                    if p.expiry_days == 0 {
                        return Err(at.item_error(item, "`expiry_days` must be at least 1".into()));
                    }
                }
                "owner" => {
                    p.owner = item
                        .as_str()
                        .filter(|s| !s.trim().is_empty())
                        .ok_or_else(|| {
                            at.item_error(item, "`owner` must be a non-empty string".into())
                        })?
                        .to_string()
                }
                other => {
                    return Err(
                        at.item_error(item, format!("unknown key `{other}` in [quarantine]"))
                    );
                }
            }
        }
        Ok(p)
    }
}

/// What `sync` knows about one test (from the store's verdicts).
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub id: String,
    /// Verdict name (`stable`, `flaky`, `broken`, ...), compared case-insensitively.
    pub verdict: String,
    pub confidence: f64,
    /// Failures saved by a retry (or other "strike" events) counted by the caller.
    pub strikes: u32,
    /// Passing runs since the last failure.
    pub consecutive_passes: u32,
    pub last_failure: Option<Date>,
}

impl Observation {
    /// What `sync` knows about a test from its verdict and its history: `retry_passes` are the
    /// runs where it failed and then passed on a retry, `last_failure` the start (RFC 3339) of
    /// the newest run where it failed.
    ///
    /// The rule: a real bug must keep failing the build, so the strikes of a test whose
    /// verdict is `broken` or `regression` do not count towards quarantining it.
    pub fn new(
        id: &str,
        verdict: &str,
        confidence: f64,
        retry_passes: u32,
        consecutive_passes: u32,
        last_failure: Option<&str>,
    ) -> Observation {
        let real_bug =
            verdict.eq_ignore_ascii_case("broken") || verdict.eq_ignore_ascii_case("regression");
        Observation {
            id: id.to_string(),
            verdict: verdict.to_string(),
            confidence,
            strikes: if real_bug { 0 } else { retry_passes },
            consecutive_passes,
            last_failure: last_failure
                .and_then(|t| t.get(..10))
                .and_then(|d| d.parse().ok()),
        }
    }
}

/// An entry `sync` proposes to release, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub id: String,
    pub reason: String,
}

/// What `sync` would change; applying it is the caller's job (`add`/`remove` on the file).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncPlan {
    pub add: Vec<Entry>,
    pub release: Vec<Release>,
    /// Ids of entries past expiry that are not being released.
    pub expired: Vec<String>,
}

/// Decides what `quarantine sync` does. Pure: same inputs, same plan.
///
/// - add (when `auto`): not yet quarantined and verdict `flaky` with confidence ≥
///   `min_confidence`, or strikes ≥ `strikes`. New entries get `policy.owner`, `added = today`,
///   `expires = today + expiry_days`.
/// - release: quarantined, observed, and consecutive passes ≥ `release_after_passes`, or at least
///   one pass since and `release_after_days` days since `max(last_failure, added)`. Entries with no
///   observation are never released (no evidence: fail open).
/// - expired: remaining entries past expiry.
pub fn plan_sync(
    policy: &Policy,
    entries: &[Entry],
    observations: &[Observation],
    today: Date,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    for entry in entries {
        let obs = observations.iter().find(|o| o.id == entry.id);
        let release = obs.and_then(|o| release_reason(policy, entry, o, today));
        match release {
            Some(reason) => plan.release.push(Release {
                id: entry.id.clone(),
                reason,
            }),
            None if entry.is_expired(today) => plan.expired.push(entry.id.clone()),
            None => {}
        }
    }
    if policy.auto {
        for o in observations {
            if entries.iter().any(|e| e.id == o.id) || plan.add.iter().any(|e| e.id == o.id) {
                continue;
            }
            let reason = if o.verdict.eq_ignore_ascii_case("flaky")
                && o.confidence >= policy.min_confidence
            {
                format!(
                    "auto: flaky verdict, confidence {:.2} >= {:.2}",
                    o.confidence, policy.min_confidence
                )
            } else if let Some(n) = policy.strikes.filter(|&n| o.strikes >= n) {
                format!("auto: {} strikes (threshold {n})", o.strikes)
            } else {
                continue;
            };
            plan.add.push(Entry {
                id: o.id.clone(),
                reason,
                owner: policy.owner.clone(),
                added: today,
                expires: today
                    .checked_add(jiff::Span::new().days(i64::from(policy.expiry_days)))
                    .unwrap_or(today),
                issue: None,
            });
        }
    }
    plan.add.sort_by(|a, b| a.id.cmp(&b.id));
    plan.release.sort_by(|a, b| a.id.cmp(&b.id));
    plan.expired.sort();
    plan
}

fn release_reason(policy: &Policy, entry: &Entry, o: &Observation, today: Date) -> Option<String> {
    if let Some(m) = policy
        .release_after_passes
        .filter(|&m| o.consecutive_passes >= m)
    {
        return Some(format!(
            "{} consecutive passes (threshold {m})",
            o.consecutive_passes
        ));
    }
    let d = policy.release_after_days?;
    if o.consecutive_passes == 0 {
        return None;
    }
    let since = o.last_failure.map_or(entry.added, |f| f.max(entry.added));
    let days = (today - since).get_days();
    (days >= d as i32).then(|| format!("{days} days without failure (threshold {d})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn defaults_and_parse() {
        assert_eq!(Policy::parse("").unwrap(), Policy::default());
        assert_eq!(
            Policy::parse("[other]\nx = 1\n").unwrap(),
            Policy::default()
        );
        let p = Policy::parse(
            "# cfg\n[quarantine]\nauto = false\nmin_confidence = 1\nstrikes = 0\nrelease_after_passes = 5\nrelease_after_days = 0\nexpiry_days = 7\nowner = \"@qa\"\n",
        )
        .unwrap();
        assert_eq!(
            p,
            Policy {
                auto: false,
                min_confidence: 1.0,
                strikes: None,
                release_after_passes: Some(5),
                release_after_days: None,
                expiry_days: 7,
                owner: "@qa".into(),
            }
        );
    }

    #[test]
    fn validation_errors_have_lines() {
        let e = |t: &str| Policy::parse_named(t, "c.toml").unwrap_err().to_string();
        assert_eq!(
            e("[quarantine]\nmin_confidence = 1.5\n"),
            "c.toml:2:18: `min_confidence` must be a number in 0..=1"
        );
        assert_eq!(
            e("[quarantine]\nstrike = 3\n"),
            "c.toml:2:10: unknown key `strike` in [quarantine]"
        );
        assert!(e("[quarantine]\nexpiry_days = 0\n").contains("at least 1"));
        assert!(e("[quarantine]\nstrikes = -1\n").contains("integer"));
        assert!(e("[quarantine]\nowner = \"\"\n").contains("owner"));
        assert!(e("quarantine = 3\n").contains("must be a table"));
        assert!(e("[quarantine\n").starts_with("c.toml:1:"));
    }

    fn obs(id: &str, verdict: &str, confidence: f64, strikes: u32, passes: u32) -> Observation {
        Observation {
            id: id.into(),
            verdict: verdict.into(),
            confidence,
            strikes,
            consecutive_passes: passes,
            last_failure: None,
        }
    }

    fn entry(id: &str, added: Date, expires: Date) -> Entry {
        Entry {
            id: id.into(),
            reason: "r".into(),
            owner: "o".into(),
            added,
            expires,
            issue: None,
        }
    }

    #[test]
    fn plan() {
        let today = date(2026, 11, 22);
        let policy = Policy::default();
        let entries = vec![
            entry("q/passes", date(2026, 11, 20), date(2026, 12, 20)),
            entry("q/days", date(2026, 11, 1), date(2026, 12, 1)),
            entry("q/recent-fail", date(2026, 11, 1), date(2026, 12, 1)),
            entry("q/expired", date(2026, 10, 1), date(2026, 10, 31)),
            entry("q/unobserved", date(2026, 10, 1), date(2026, 10, 31)),
        ];
        let mut recent = obs("q/recent-fail", "flaky", 0.9, 0, 2);
        recent.last_failure = Some(date(2026, 11, 20));
        let mut expired = obs("q/expired", "flaky", 0.9, 0, 0);
        expired.last_failure = Some(date(2026, 11, 21));
        let observations = vec![
            obs("new/flaky", "Flaky", 0.85, 0, 0),
            obs("new/low", "flaky", 0.5, 1, 0),
            obs("new/strikes", "stable", 0.9, 3, 0),
            obs("new/broken", "broken", 0.99, 0, 0),
            obs("q/passes", "flaky", 0.9, 0, 20),
            obs("q/days", "stable", 0.9, 0, 1),
            recent,
            expired,
        ];
        let plan = plan_sync(&policy, &entries, &observations, today);
        let added: Vec<&str> = plan.add.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(added, ["new/flaky", "new/strikes"]);
        assert_eq!(plan.add[0].expires, date(2026, 12, 22));
        assert_eq!(plan.add[0].owner, "unassigned");
        assert!(plan.add[1].reason.contains("3 strikes"));
        let released: Vec<&str> = plan.release.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(released, ["q/days", "q/passes"]);
        assert_eq!(plan.expired, ["q/expired", "q/unobserved"]);

        let off = Policy {
            auto: false,
            ..Policy::default()
        };
        assert!(
            plan_sync(&off, &entries, &observations, today)
                .add
                .is_empty()
        );
    }

    #[test]
    fn real_bugs_earn_no_strikes() {
        let o = Observation::new("t", "flaky", 0.9, 3, 1, Some("2026-02-03T04:05:06Z"));
        assert_eq!(o.strikes, 3);
        assert_eq!(o.last_failure, Some(jiff::civil::date(2026, 2, 3)));
        for verdict in ["broken", "regression", "Broken"] {
            let o = Observation::new("t", verdict, 0.9, 3, 0, None);
            assert_eq!(o.strikes, 0, "{verdict}");
            assert_eq!(o.last_failure, None);
        }
        assert_eq!(
            Observation::new("t", "infra", 0.5, 2, 0, Some("bad")).last_failure,
            None
        );
    }
}
