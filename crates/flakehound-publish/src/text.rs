//! The terminal summary `flakehound run` prints after the runner's own output.
//!
//! Format decisions:
//! - First line: the counts (`flakehound: 120 passed, 1 failed, 2 flaky (passed on retry),
//!   1 quarantined, 3 skipped in 2 invocations, 12.3s`); zero counts other than `passed` are
//!   left out.
//! - Then, each only when non-empty: failed tests (id — first line of the last failure),
//!   flaky tests (which attempt passed, first failure), quarantined failures (reason, owner,
//!   expiry, `[EXPIRED]`), the quarantine reminder (`5 tests quarantined, 1 past expiry: ...`),
//!   the 3 slowest tests (total over attempts), the test with the most failed attempts, and
//!   flakehound's own warnings.
//! - Lists stop after 20 entries with `... and N more`; messages are cut at 160 characters.
//! - Last line: the verdict, `exit N: why`.
//! - Colour (owo-colors) only when asked: red for failures, yellow for flaky, quarantined and
//!   warnings, green for passes, bold headings. Test-provided text is cleaned of escape
//!   sequences either way, so a test name cannot recolour or rewrite the terminal.

use crate::common::{
    first_failure_message, fmt_secs, last_failure_message, passing_attempt, plural,
    quarantine_phrase, single_line, slowest, truncate_chars, verdict, worst,
};
use flakehound_model::{RunStatus, WrappedRun};
use owo_colors::OwoColorize;

/// Entries shown per list.
const LIST_MAX: usize = 20;
/// Characters kept of a message.
const MESSAGE_CHARS: usize = 160;
/// Expired quarantine ids named in the reminder line.
const EXPIRED_NAMED: usize = 5;

#[derive(Clone, Copy)]
enum Paint {
    Red,
    Yellow,
    Green,
    Bold,
    Dim,
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, p: Paint, s: &str) -> String {
        if !self.color {
            return s.to_string();
        }
        match p {
            Paint::Red => s.red().to_string(),
            Paint::Yellow => s.yellow().to_string(),
            Paint::Green => s.green().to_string(),
            Paint::Bold => s.bold().to_string(),
            Paint::Dim => s.dimmed().to_string(),
        }
    }
}

/// One-line, escape-free rendering of untrusted text.
fn one_line(s: &str, max: usize) -> String {
    truncate_chars(&single_line(s), max).into_owned()
}

/// The summary printed after the test command's output (see the module docs). Ends with a
/// newline.
pub fn terminal_summary(run: &WrappedRun, color: bool) -> String {
    let p = Painter { color };
    let mut out = String::new();
    let passed = run.count(RunStatus::Passed);
    let failed = run.count(RunStatus::Failed);
    let flaky = run.count(RunStatus::Flaky);
    let quarantined = run.count(RunStatus::Quarantined);
    let skipped = run.count(RunStatus::Skipped);

    let mut counts = vec![p.paint(
        if passed > 0 { Paint::Green } else { Paint::Dim },
        &format!("{passed} passed"),
    )];
    if failed > 0 {
        counts.push(p.paint(Paint::Red, &format!("{failed} failed")));
    }
    if flaky > 0 {
        counts.push(p.paint(Paint::Yellow, &format!("{flaky} flaky (passed on retry)")));
    }
    if quarantined > 0 {
        counts.push(p.paint(Paint::Yellow, &format!("{quarantined} quarantined")));
    }
    if skipped > 0 {
        counts.push(format!("{skipped} skipped"));
    }
    out.push_str(&format!(
        "{} {} in {}, {}\n",
        p.paint(Paint::Bold, "flakehound:"),
        counts.join(", "),
        plural(run.invocations as usize, "invocation", "invocations"),
        fmt_secs(run.wall_seconds)
    ));

    let section = |out: &mut String, title: String, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        out.push('\n');
        out.push_str(&p.paint(Paint::Bold, &title));
        out.push('\n');
        let total = lines.len();
        for l in lines.into_iter().take(LIST_MAX) {
            out.push_str("  ");
            out.push_str(&l);
            out.push('\n');
        }
        if total > LIST_MAX {
            out.push_str(&format!("  ... and {} more\n", total - LIST_MAX));
        }
    };

    let failed_lines = run
        .tests
        .iter()
        .filter(|t| t.status == RunStatus::Failed)
        .map(|t| {
            let c = &t.case;
            let mut l = p.paint(Paint::Red, &one_line(&c.id, usize::MAX));
            if let Some(m) = last_failure_message(c) {
                l.push_str(" — ");
                l.push_str(&one_line(&m, MESSAGE_CHARS));
            }
            if c.attempts.len() > 1 {
                l.push_str(&p.paint(Paint::Dim, &format!(" ({} attempts)", c.attempts.len())));
            }
            if let Some(o) = &t.owner {
                l.push_str(&p.paint(Paint::Dim, &format!(" [owner {}]", one_line(o, 80))));
            }
            l
        })
        .collect();
    section(
        &mut out,
        format!("Failed on every attempt ({failed}):"),
        failed_lines,
    );
    if let Some(cmd) = run.rerun.as_deref().filter(|_| failed > 0) {
        out.push_str(&format!(
            "  {} {}\n",
            p.paint(Paint::Dim, "re-run them:"),
            one_line(cmd, usize::MAX)
        ));
    }

    let flaky_lines = run
        .tests
        .iter()
        .filter(|t| t.status == RunStatus::Flaky)
        .map(|t| {
            let c = &t.case;
            let n = c.attempts.len();
            let mut l = p.paint(Paint::Yellow, &one_line(&c.id, usize::MAX));
            match passing_attempt(c) {
                Some(k) => l.push_str(&format!(" — passed on attempt {k} of {n}")),
                None => l.push_str(&format!(" — passed on retry ({n} attempts)")),
            }
            if let Some(m) = first_failure_message(c) {
                l.push_str(&format!("; first failure: {}", one_line(&m, MESSAGE_CHARS)));
            }
            if let Some(o) = &t.owner {
                l.push_str(&p.paint(Paint::Dim, &format!(" [owner {}]", one_line(o, 80))));
            }
            l
        })
        .collect();
    section(
        &mut out,
        format!("Flaky, passed on retry ({flaky}):"),
        flaky_lines,
    );

    let quarantined_lines = run
        .tests
        .iter()
        .filter(|t| t.status == RunStatus::Quarantined)
        .map(|t| {
            let c = &t.case;
            let mut l = p.paint(Paint::Yellow, &one_line(&c.id, usize::MAX));
            match &t.quarantine {
                Some(q) => {
                    l.push_str(" — ");
                    l.push_str(&one_line(&quarantine_phrase(q), usize::MAX));
                    if q.expired {
                        l.push(' ');
                        l.push_str(&p.paint(Paint::Red, "[EXPIRED]"));
                    }
                }
                None => l.push_str(" — quarantined"),
            }
            if let Some(m) = last_failure_message(c) {
                l.push_str(&format!("; failure: {}", one_line(&m, MESSAGE_CHARS)));
            }
            l
        })
        .collect();
    section(
        &mut out,
        format!("Quarantined failures, not failing the build ({quarantined}):"),
        quarantined_lines,
    );

    if run.quarantine_total > 0 || !run.quarantine_expired.is_empty() {
        let expired = run.quarantine_expired.len();
        let mut l = format!(
            "{} quarantined, ",
            plural(run.quarantine_total.max(expired), "test", "tests")
        );
        if expired == 0 {
            l.push_str("none past expiry");
            out.push('\n');
            out.push_str(&l);
        } else {
            l.push_str(&format!("{expired} past expiry: "));
            let named: Vec<String> = run
                .quarantine_expired
                .iter()
                .take(EXPIRED_NAMED)
                .map(|id| one_line(id, usize::MAX))
                .collect();
            l.push_str(&named.join(", "));
            if expired > EXPIRED_NAMED {
                l.push_str(&format!(" and {} more", expired - EXPIRED_NAMED));
            }
            out.push('\n');
            out.push_str(&p.paint(Paint::Yellow, &l));
        }
        out.push('\n');
    }

    let slow = slowest(run, 3);
    if !slow.is_empty() {
        let lines = slow
            .iter()
            .map(|(t, d)| {
                let mut l = format!("{:>8}  {}", fmt_secs(*d), one_line(&t.case.id, usize::MAX));
                if t.case.attempts.len() > 1 {
                    l.push_str(&p.paint(
                        Paint::Dim,
                        &format!(" ({} attempts)", t.case.attempts.len()),
                    ));
                }
                l
            })
            .collect();
        section(&mut out, "Slowest:".into(), lines);
    }
    if let Some((t, n)) = worst(run) {
        out.push('\n');
        out.push_str(&format!(
            "{} {} ({} of {} failed)\n",
            p.paint(Paint::Bold, "Most failed attempts:"),
            one_line(&t.case.id, usize::MAX),
            n,
            plural(t.case.attempts.len(), "attempt", "attempts"),
        ));
    }

    let warnings = run
        .warnings
        .iter()
        .map(|w| p.paint(Paint::Yellow, &format!("! {}", one_line(w, usize::MAX))))
        .collect();
    section(&mut out, "flakehound warnings:".into(), warnings);

    let v = verdict(run);
    let line = format!("exit {}: {}", run.exit, v.reason);
    out.push('\n');
    out.push_str(&p.paint(
        Paint::Bold,
        &p.paint(if v.ok { Paint::Green } else { Paint::Red }, &line),
    ));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{attempt, case, sample_run, test};
    use flakehound_model::{Dialect, Outcome, QuarantineInfo};

    #[test]
    fn snapshot_every_status() {
        insta::assert_snapshot!(terminal_summary(&sample_run(), false));
    }

    #[test]
    fn colour_only_when_asked() {
        let run = sample_run();
        assert!(!terminal_summary(&run, false).contains('\u{1b}'));
        let coloured = terminal_summary(&run, true);
        assert!(coloured.contains("\u{1b}[31m"), "{coloured:?}");
        // Colour changes nothing but the escape codes.
        assert_eq!(
            crate::common::clean(&coloured),
            terminal_summary(&run, false)
        );
    }

    #[test]
    fn verdicts() {
        let last = |run: &WrappedRun| {
            terminal_summary(run, false)
                .lines()
                .last()
                .unwrap_or_default()
                .to_string()
        };
        let mut run = sample_run();
        // Only flaky and quarantined failures left: the build passes.
        run.tests.retain(|t| t.status != RunStatus::Failed);
        run.exit = 0;
        assert_eq!(
            last(&run),
            "exit 0: every failure passed on retry or is quarantined"
        );
        run.tests.retain(|t| t.status != RunStatus::Quarantined);
        assert_eq!(last(&run), "exit 0: every failure passed on retry");
        run.tests.retain(|t| t.status != RunStatus::Flaky);
        assert_eq!(last(&run), "exit 0: no test failed");
        // The runner failed but no test did: flakehound keeps the runner's status.
        run.exit = 2;
        run.runner_exit = 2;
        assert_eq!(
            last(&run),
            "exit 2: the test command failed (exit 2) without a failed test flakehound could retry (see warnings)"
        );
        let empty = WrappedRun::default();
        assert_eq!(
            last(&empty),
            "exit 0: the test command succeeded (no test results were read)"
        );
        assert_eq!(
            terminal_summary(&empty, false).lines().next(),
            Some("flakehound: 0 passed in 0 invocations, 0.00s")
        );
    }

    #[test]
    fn long_lists_are_capped_and_quarantine_reminder_counts() {
        let mut run = WrappedRun {
            invocations: 1,
            exit: 1,
            quarantine_total: 9,
            quarantine_expired: (0..7).map(|i| format!("q{i}")).collect(),
            ..WrappedRun::default()
        };
        for i in 0..25 {
            run.tests.push(test(
                case(
                    Dialect::Other,
                    None,
                    &format!("t{i}"),
                    None,
                    vec![attempt(
                        Outcome::Failed,
                        0.0,
                        Some(("", &"x".repeat(400), "")),
                    )],
                ),
                RunStatus::Failed,
            ));
        }
        let mut q = test(
            case(
                Dialect::Other,
                None,
                "q0",
                None,
                vec![attempt(Outcome::Failed, 0.0, None)],
            ),
            RunStatus::Quarantined,
        );
        q.quarantine = Some(QuarantineInfo {
            reason: "r".into(),
            owner: String::new(),
            expires: "2020-01-01".into(),
            expired: true,
            issue: None,
        });
        run.tests.push(q);
        let out = terminal_summary(&run, false);
        assert!(out.contains("  ... and 5 more\n"), "{out}");
        assert!(
            out.contains("9 tests quarantined, 7 past expiry: q0, q1, q2, q3, q4 and 2 more\n"),
            "{out}"
        );
        assert!(
            out.contains("q0 — r (expired 2020-01-01) [EXPIRED]\n"),
            "{out}"
        );
        // Messages are cut to one short line.
        assert!(
            out.contains(&format!("t0 — {}…\n", "x".repeat(159))),
            "{out}"
        );
        assert!(!out.contains("t20 —"));
    }
}
