//! Helpers shared by every publisher: cleaning untrusted text, picking the message of an
//! attempt, formatting durations and counts, and stating the verdict.
//!
//! Format decisions shared by all outputs:
//! - Test output often carries terminal colour codes; every publisher removes ANSI escape
//!   sequences and control characters (other than tab, line feed and carriage return) before
//!   writing anything, so that no output can be corrupted or spoofed by a test's text.
//! - The one-line message of a failed attempt is `kind: message` (the kind is left out when the
//!   message already starts with it), else the kind, else the first line of the details.
//! - Durations are seconds with two decimals under 10 s, one under a minute, then `1m 05s` and
//!   `1h 02m`.
//! - The verdict reason is derived from the counts and the exit statuses, never from the
//!   process's own state, so every output states the same reason.

use flakehound_model::{Attempt, QuarantineInfo, RunStatus, TestCase, WrappedRun, WrappedTest};
use std::borrow::Cow;

/// Removes ANSI escape sequences, C0 controls other than `\t`, `\n`, `\r`, DEL, C1 controls
/// and the non-characters U+FFFE/U+FFFF (invalid in XML 1.0). Borrows when nothing is removed.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unwanted) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            match chars.peek() {
                // CSI: parameters and intermediates up to a final byte in @..~.
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC (hyperlinks, window titles): up to BEL or ESC \.
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                // Two-character sequences (charset selection and the like).
                Some(&n) if ('@'..='_').contains(&n) || n == '(' || n == ')' => {
                    chars.next();
                    if n == '(' || n == ')' {
                        chars.next();
                    }
                }
                _ => {}
            }
            continue;
        }
        if !is_unwanted(c) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unwanted(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
        || c == '\u{fffe}'
        || c == '\u{ffff}'
}

/// `s` cut to at most `max` characters, with `…` when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((at, _)) => {
            // Leave room for the ellipsis within `max` characters.
            let keep = s[..at].char_indices().last().map_or(0, |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..keep]))
        }
    }
}

/// `s` cut to at most `max` bytes on a char boundary (no marker).
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Head and tail of `s` within about `max` bytes, with a marker saying how much was cut.
pub(crate) fn head_tail(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let head = truncate_bytes(s, max / 2);
    let mut tail_start = s.len() - max / 2;
    while !s.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let cut = tail_start - head.len();
    Cow::Owned(format!(
        "{head}\n[... {cut} bytes cut by flakehound ...]\n{}",
        &s[tail_start..]
    ))
}

/// `s` cleaned, on one line: every run of whitespace becomes one space, none at either end.
pub(crate) fn single_line(s: &str) -> String {
    clean(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` with every character that `table` lists replaced by its escape.
pub(crate) fn escape_chars(s: &str, table: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match table.iter().find(|(special, _)| *special == c) {
            Some((_, escape)) => out.push_str(escape),
            None => out.push(c),
        }
    }
    out
}

/// First non-blank line of `s`, cleaned and trimmed.
pub(crate) fn first_line(s: &str) -> String {
    let s = clean(s);
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// One-line message of a failed (or skipped) attempt: `kind: message`, the kind, or the first
/// line of the details. `None` when the attempt says nothing.
pub(crate) fn attempt_message(a: &Attempt) -> Option<String> {
    let f = a.failure.as_ref()?;
    let kind = f.kind.as_deref().map(first_line).filter(|k| !k.is_empty());
    let message = f
        .message
        .as_deref()
        .map(first_line)
        .filter(|m| !m.is_empty());
    let text = match (kind, message) {
        (Some(k), Some(m)) if !m.starts_with(&k) => format!("{k}: {m}"),
        (_, Some(m)) => m,
        (Some(k), None) => k,
        (None, None) => f
            .details
            .as_deref()
            .map(first_line)
            .filter(|d| !d.is_empty())?,
    };
    Some(text)
}

/// Failed or errored attempts of a test, in execution order.
pub(crate) fn failed_attempts(case: &TestCase) -> impl DoubleEndedIterator<Item = &Attempt> {
    case.attempts.iter().filter(|a| a.outcome.is_failure())
}

/// Message of the first failed attempt that has one.
pub(crate) fn first_failure_message(case: &TestCase) -> Option<String> {
    failed_attempts(case).find_map(attempt_message)
}

/// Message of the last failed attempt that has one.
pub(crate) fn last_failure_message(case: &TestCase) -> Option<String> {
    failed_attempts(case).rev().find_map(attempt_message)
}

/// The last failed attempt (the one a failed test's report should show in full).
pub(crate) fn last_failure(case: &TestCase) -> Option<&Attempt> {
    failed_attempts(case).next_back()
}

/// 1-based number of the attempt that passed after a failure, for flaky tests.
pub(crate) fn passing_attempt(case: &TestCase) -> Option<usize> {
    let first_fail = case.attempts.iter().position(|a| a.outcome.is_failure())?;
    case.attempts[first_fail..]
        .iter()
        .position(|a| a.outcome == flakehound_model::Outcome::Passed)
        .map(|p| first_fail + p + 1)
}

/// Human-readable duration (see the module docs).
pub(crate) fn fmt_secs(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

/// `1 test` / `2 tests`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `reason (owner X, expires D, expired, issue I)`: quarantine facts in one phrase.
pub(crate) fn quarantine_phrase(q: &QuarantineInfo) -> String {
    let mut s = first_line(&q.reason);
    if s.is_empty() {
        s.push_str("no reason given");
    }
    let mut facts = Vec::new();
    let owner = first_line(&q.owner);
    if !owner.is_empty() {
        facts.push(format!("owner {owner}"));
    }
    let expires = first_line(&q.expires);
    match (expires.is_empty(), q.expired) {
        (false, false) => facts.push(format!("expires {expires}")),
        (false, true) => facts.push(format!("expired {expires}")),
        (true, true) => facts.push("expired".into()),
        (true, false) => {}
    }
    if let Some(issue) = q.issue.as_deref().map(first_line).filter(|i| !i.is_empty()) {
        facts.push(format!("issue {issue}"));
    }
    if !facts.is_empty() {
        s.push_str(&format!(" ({})", facts.join(", ")));
    }
    s
}

/// Tests sorted by total duration over their attempts, longest first (first-seen order on
/// ties), without tests of unknown or zero duration.
pub(crate) fn slowest(run: &WrappedRun, n: usize) -> Vec<(&WrappedTest, f64)> {
    let mut timed: Vec<(&WrappedTest, f64)> = run
        .tests
        .iter()
        .filter_map(|t| t.duration().map(|d| (t, d)))
        .filter(|(_, d)| d.is_finite() && *d > 0.0)
        .collect();
    // Stable sort: ties keep first-seen order.
    timed.sort_by(|a, b| b.1.total_cmp(&a.1));
    timed.truncate(n);
    timed
}

/// The test with the most failed attempts (first seen on ties), if any attempt failed.
pub(crate) fn worst(run: &WrappedRun) -> Option<(&WrappedTest, usize)> {
    let mut best: Option<(&WrappedTest, usize)> = None;
    for t in &run.tests {
        let n = failed_attempts(&t.case).count();
        if n > 0 && best.is_none_or(|(_, b)| n > b) {
            best = Some((t, n));
        }
    }
    best
}

/// Whether the build passes, and why, in a phrase (`1 test failed on every attempt`).
pub(crate) struct Verdict {
    pub ok: bool,
    pub reason: String,
}

pub(crate) fn verdict(run: &WrappedRun) -> Verdict {
    let failed = run.count(RunStatus::Failed);
    let flaky = run.count(RunStatus::Flaky);
    let quarantined = run.count(RunStatus::Quarantined);
    let ok = run.exit == 0;
    let reason = if ok {
        if failed > 0 {
            // Not produced by the wrapper's own rules; say so rather than hide it.
            format!(
                "{} failed on every attempt, but the build is not failed (see warnings)",
                plural(failed, "test", "tests")
            )
        } else if flaky > 0 && quarantined > 0 {
            "every failure passed on retry or is quarantined".into()
        } else if flaky > 0 {
            "every failure passed on retry".into()
        } else if quarantined > 0 {
            "every failing test is quarantined".into()
        } else if run.tests.is_empty() {
            "the test command succeeded (no test results were read)".into()
        } else {
            "no test failed".into()
        }
    } else if let Some(reason) = &run.reason {
        reason.clone()
    } else if failed > 0 {
        format!(
            "{} failed on every attempt",
            plural(failed, "test", "tests")
        )
    } else if run.runner_exit != 0 {
        let mut s = format!(
            "the test command failed (exit {}) without a failed test flakehound could retry",
            run.runner_exit
        );
        if !run.warnings.is_empty() {
            s.push_str(" (see warnings)");
        }
        s
    } else if !run.warnings.is_empty() {
        "flakehound could not check the results (see warnings)".into()
    } else {
        "flakehound failed the build".into()
    };
    Verdict { ok, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_ansi_and_controls() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(clean("a\u{0}b\u{7}c\td\r\ne"), "abc\td\r\ne");
        assert_eq!(
            clean("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{7}"),
            "link"
        );
        assert_eq!(clean("x\u{fffe}\u{ffff}y\u{85}"), "xy");
        assert_eq!(clean("é✓"), "é✓");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        // A lone escape at the end is dropped, not a panic.
        assert_eq!(clean("a\u{1b}"), "a");
        assert_eq!(clean("a\u{1b}["), "a");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
        assert_eq!(truncate_bytes("é", 1), "");
        let long = "é".repeat(100);
        let ht = head_tail(&long, 20);
        assert!(ht.contains("bytes cut"), "{ht}");
        assert!(ht.starts_with("éééé"));
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_secs(0.123), "0.12s");
        assert_eq!(fmt_secs(12.34), "12.3s");
        assert_eq!(fmt_secs(65.0), "1m 05s");
        assert_eq!(fmt_secs(3720.0), "1h 02m");
        assert_eq!(fmt_secs(f64::NAN), "?");
    }

    #[test]
    fn messages() {
        let mut a = Attempt::new(flakehound_model::Outcome::Failed);
        assert_eq!(attempt_message(&a), None);
        a.failure = Some(flakehound_model::Failure {
            kind: Some("AssertionError".into()),
            message: Some("assert 1 == 2\nmore".into()),
            details: None,
        });
        assert_eq!(
            attempt_message(&a).as_deref(),
            Some("AssertionError: assert 1 == 2")
        );
        a.failure.as_mut().unwrap().message = Some("AssertionError: boom".into());
        assert_eq!(attempt_message(&a).as_deref(), Some("AssertionError: boom"));
        a.failure = Some(flakehound_model::Failure {
            kind: None,
            message: None,
            details: Some("\n  first\nsecond".into()),
        });
        assert_eq!(attempt_message(&a).as_deref(), Some("first"));
    }
}
