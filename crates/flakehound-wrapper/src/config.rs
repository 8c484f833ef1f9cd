//! Settings of `flakehound run` from the `[run]` table of `.flakehound/config.toml` and from
//! environment variables. Precedence: command-line flag > environment variable > config file >
//! built-in default (the caller applies the flags).
//!
//! ```toml
//! [run]
//! retries = 2                 # extra invocations for the tests that failed
//! retry_delay = "5s"          # pause before each retry
//! only_rerun = ["ConnectionError", "Timeout"]  # retry only failures whose message matches
//! timeout = "30m"             # the whole wrapped run, retries included
//! attempt_timeout = "10m"     # each invocation
//! fail_on_flaky = false       # a test that passes only on retry fails the build
//! ```
//!
//! Durations are `90`, `"90s"`, `"1m30s"`, `"500ms"`, `"2h"`. The matching variables are
//! `FLAKEHOUND_RETRIES`, `FLAKEHOUND_RETRY_DELAY`, `FLAKEHOUND_ONLY_RERUN` (one regular
//! expression; use `|` for several), `FLAKEHOUND_TIMEOUT`, `FLAKEHOUND_ATTEMPT_TIMEOUT` and
//! `FLAKEHOUND_FAIL_ON_FLAKY` (`true`/`false`/`1`/`0`).
//!
//! A mistake in the file or a variable (unknown key, bad value, invalid TOML) is reported with
//! the file, line and column or the variable's name, and that setting is ignored: the test
//! command still runs, so a typo in a config file never decides a build's status by itself.
//! Other tables (`[quarantine]`) belong to other commands and are left alone.

use std::path::Path;
use std::time::Duration;

/// Settings where each `None` means "not set at this level".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    pub retries: Option<u32>,
    pub retry_delay: Option<Duration>,
    pub only_rerun: Option<Vec<String>>,
    pub timeout: Option<Duration>,
    pub attempt_timeout: Option<Duration>,
    pub fail_on_flaky: Option<bool>,
}

impl Settings {
    /// `self` where set, else `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            retries: self.retries.or(lower.retries),
            retry_delay: self.retry_delay.or(lower.retry_delay),
            only_rerun: self.only_rerun.or(lower.only_rerun),
            timeout: self.timeout.or(lower.timeout),
            attempt_timeout: self.attempt_timeout.or(lower.attempt_timeout),
            fail_on_flaky: self.fail_on_flaky.or(lower.fail_on_flaky),
        }
    }
}

/// Largest config file read: a config is a few lines; anything bigger is not one.
const MAX_CONFIG: u64 = 1024 * 1024;

/// Reads the `[run]` table of the config file at `path` (absent file: nothing set). Problems
/// go to `problems`.
pub fn load(path: &Path, problems: &mut Vec<String>) -> Settings {
    let shown = path.display().to_string();
    // Only a regular file: a FIFO would hang the run, a device would never end.
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
        Err(e) => {
            problems.push(format!(
                "{shown}: cannot read: {e}; its [run] settings are ignored"
            ));
            return Settings::default();
        }
        Ok(m) if !m.is_file() => {
            problems.push(format!(
                "{shown}: not a regular file; its [run] settings are ignored"
            ));
            return Settings::default();
        }
        Ok(m) if m.len() > MAX_CONFIG => {
            problems.push(format!(
                "{shown}: {} bytes, more than a config file can be ({MAX_CONFIG}); its [run] \
                 settings are ignored",
                m.len()
            ));
            return Settings::default();
        }
        Ok(_) => {}
    }
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &shown, problems),
        Err(e) => {
            problems.push(format!(
                "{shown}: cannot read: {e}; its [run] settings are ignored"
            ));
            Settings::default()
        }
    }
}

/// Parses the `[run]` table of a config file's text; `origin` names it in problems.
pub fn parse(text: &str, origin: &str, problems: &mut Vec<String>) -> Settings {
    let at = |offset: Option<usize>| {
        let offset = offset.unwrap_or(0).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        format!("{origin}:{line}:{column}")
    };
    let doc = match toml_edit::Document::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let first = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_string();
            problems.push(format!(
                "{}: invalid TOML: {first}; its [run] settings are ignored",
                at(e.span().map(|s| s.start))
            ));
            return Settings::default();
        }
    };
    let mut s = Settings::default();
    let Some(item) = doc.get("run") else {
        return s;
    };
    let Some(table) = item.as_table_like() else {
        problems.push(format!(
            "{}: `run` must be a table ([run]); ignored",
            at(item.span().map(|r| r.start))
        ));
        return s;
    };
    for (key, item) in table.iter() {
        let here = at(item.span().map(|r| r.start));
        let bad = |problems: &mut Vec<String>, what: &str| {
            problems.push(format!("{here}: `{key}` must be {what}; ignored"));
        };
        match key {
            "retries" => match item.as_integer().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if n <= MAX_RETRIES => s.retries = Some(n),
                _ => bad(problems, &format!("an integer 0..={MAX_RETRIES}")),
            },
            "retry_delay" | "timeout" | "attempt_timeout" => {
                let d = match (item.as_integer(), item.as_str()) {
                    (Some(n), _) => u64::try_from(n).ok().map(Duration::from_secs),
                    (_, Some(t)) => parse_duration(t).ok(),
                    _ => None,
                };
                match d {
                    Some(d) if key != "retry_delay" && d.is_zero() => bad(
                        problems,
                        "a duration above zero (leave it out for no limit)",
                    ),
                    Some(d) => match key {
                        "retry_delay" => s.retry_delay = Some(d),
                        "timeout" => s.timeout = Some(d),
                        _ => s.attempt_timeout = Some(d),
                    },
                    None => bad(
                        problems,
                        "a duration such as 90, \"90s\", \"5m\" or \"1h30m\"",
                    ),
                }
            }
            "only_rerun" => {
                let patterns: Option<Vec<String>> = match (item.as_str(), item.as_array()) {
                    (Some(one), _) => Some(vec![one.to_string()]),
                    (_, Some(list)) => list.iter().map(|v| v.as_str().map(String::from)).collect(),
                    _ => None,
                };
                match patterns {
                    Some(p) => match p.iter().find_map(|re| regex::Regex::new(re).err()) {
                        None => s.only_rerun = Some(p),
                        Some(e) => problems.push(format!(
                            "{here}: `only_rerun`: invalid regular expression: {}; ignored",
                            e.to_string().lines().last().unwrap_or_default().trim()
                        )),
                    },
                    None => bad(problems, "a regular expression or a list of them"),
                }
            }
            "fail_on_flaky" => match item.as_bool() {
                Some(b) => s.fail_on_flaky = Some(b),
                None => bad(problems, "true or false"),
            },
            other => problems.push(format!(
                "{here}: unknown key `{other}` in [run] (known: retries, retry_delay, \
                 only_rerun, timeout, attempt_timeout, fail_on_flaky); ignored"
            )),
        }
    }
    s
}

/// Most retries accepted from a file or variable (a typo such as 1000 would hold CI hostage).
pub const MAX_RETRIES: u32 = 100;

/// The settings in `FLAKEHOUND_*` variables, read through `var` (the process environment in
/// production).
pub fn from_env(var: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Settings {
    let mut s = Settings::default();
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(v) = get("FLAKEHOUND_RETRIES") {
        match v.trim().parse::<u32>() {
            Ok(n) if n <= MAX_RETRIES => s.retries = Some(n),
            _ => problems.push(format!(
                "FLAKEHOUND_RETRIES={v:?}: not an integer 0..={MAX_RETRIES}; ignored"
            )),
        }
    }
    for (name, slot, zero_ok) in [
        ("FLAKEHOUND_RETRY_DELAY", &mut s.retry_delay, true),
        ("FLAKEHOUND_TIMEOUT", &mut s.timeout, false),
        ("FLAKEHOUND_ATTEMPT_TIMEOUT", &mut s.attempt_timeout, false),
    ] {
        if let Some(v) = get(name) {
            match parse_duration(&v) {
                Ok(d) if zero_ok || !d.is_zero() => *slot = Some(d),
                Ok(_) => problems.push(format!("{name}={v:?}: must be above zero; ignored")),
                Err(e) => problems.push(format!("{name}={v:?}: {e}; ignored")),
            }
        }
    }
    if let Some(v) = get("FLAKEHOUND_ONLY_RERUN") {
        match regex::Regex::new(&v) {
            Ok(_) => s.only_rerun = Some(vec![v]),
            Err(e) => problems.push(format!(
                "FLAKEHOUND_ONLY_RERUN={v:?}: invalid regular expression: {}; ignored",
                e.to_string().lines().last().unwrap_or_default().trim()
            )),
        }
    }
    if let Some(v) = get("FLAKEHOUND_FAIL_ON_FLAKY") {
        match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => s.fail_on_flaky = Some(true),
            "0" | "false" | "no" | "off" => s.fail_on_flaky = Some(false),
            _ => problems.push(format!(
                "FLAKEHOUND_FAIL_ON_FLAKY={v:?}: not true or false; ignored"
            )),
        }
    }
    s
}

/// `90` (seconds), `90s`, `1m30s`, `500ms`, `2h`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let err = || format!("{text:?} is not a duration such as 90, 90s, 5m, 1h30m or 500ms");
    if t.is_empty() {
        return Err(err());
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let n: f64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    // A week is more than any CI job runs; past it, the value is a mistake.
    if !total.is_finite() || total > 7.0 * 86_400.0 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |t: &str| parse_duration(t).map(|d| d.as_millis());
        assert_eq!(d("90"), Ok(90_000));
        assert_eq!(d("90s"), Ok(90_000));
        assert_eq!(d("1m30s"), Ok(90_000));
        assert_eq!(d("500ms"), Ok(500));
        assert_eq!(d("2h"), Ok(7_200_000));
        assert_eq!(d("1.5s"), Ok(1_500));
        for bad in ["", "s", "10x", "-5", "1e9s", "m5"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_run_table_is_read_and_mistakes_name_file_and_line() {
        let text = "[quarantine]\nauto = true\n\n[run]\nretries = 3\nretry_delay = \"2s\"\n\
                    only_rerun = [\"Timeout\", \"Connection(Error|Refused)\"]\ntimeout = 600\n\
                    attempt_timeout = \"5m\"\nfail_on_flaky = true\n";
        let mut problems = vec![];
        let s = parse(text, "c.toml", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            s,
            Settings {
                retries: Some(3),
                retry_delay: Some(Duration::from_secs(2)),
                only_rerun: Some(vec!["Timeout".into(), "Connection(Error|Refused)".into()]),
                timeout: Some(Duration::from_secs(600)),
                attempt_timeout: Some(Duration::from_secs(300)),
                fail_on_flaky: Some(true),
            }
        );

        let text = "[run]\nretries = 2\nretrys = 5\ntimeout = \"soon\"\nonly_rerun = \"(\"\n";
        let s = parse(text, "c.toml", &mut problems);
        assert_eq!(s.retries, Some(2), "the good keys still count");
        assert_eq!((s.timeout, s.only_rerun), (None, None));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].starts_with("c.toml:3:10: unknown key `retrys` in [run]"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("c.toml:4:11: `timeout` must be a duration"),
            "{problems:?}"
        );
        assert!(
            problems[2].starts_with("c.toml:5:14: `only_rerun`: invalid regular expression"),
            "{problems:?}"
        );

        let mut problems = vec![];
        parse("[run\nretries = 1\n", "c.toml", &mut problems);
        assert!(problems[0].starts_with("c.toml:1:"), "{problems:?}");
    }

    #[test]
    fn environment_and_precedence() {
        let env = |name: &str| match name {
            "FLAKEHOUND_RETRIES" => Some("5".to_string()),
            "FLAKEHOUND_TIMEOUT" => Some("nope".to_string()),
            "FLAKEHOUND_FAIL_ON_FLAKY" => Some("false".to_string()),
            _ => None,
        };
        let mut problems = vec![];
        let from_env = from_env(&env, &mut problems);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("FLAKEHOUND_TIMEOUT=\"nope\""),
            "{problems:?}"
        );
        let file = parse(
            "[run]\nretries = 1\ntimeout = 60\nfail_on_flaky = true\n",
            "c",
            &mut problems,
        );
        let flags = Settings {
            fail_on_flaky: Some(true),
            ..Settings::default()
        };
        let s = flags.or(from_env).or(file);
        assert_eq!(s.retries, Some(5), "env over file");
        assert_eq!(
            s.timeout,
            Some(Duration::from_secs(60)),
            "file when env is bad"
        );
        assert_eq!(s.fail_on_flaky, Some(true), "flag over env");
    }

    #[test]
    fn a_config_that_is_not_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut problems = vec![];
        assert_eq!(
            load(&dir.path().join("missing.toml"), &mut problems),
            Settings::default()
        );
        assert!(problems.is_empty());
        load(dir.path(), &mut problems);
        assert!(problems[0].contains("not a regular file"), "{problems:?}");
    }
}
