//! The Markdown job summary (`$GITHUB_STEP_SUMMARY`) of a wrapped run.
//!
//! Format decisions:
//! - Headline `## ✅ flakehound: passed — why` or `## ❌ flakehound: failed — why`, then the
//!   command, runner and exit statuses, then one counts table (passed, failed, flaky,
//!   quarantined, skipped, invocations, wall time).
//! - Sections, each only when non-empty: failed tests (one `<details>` per test holding its
//!   location and last failure in a fenced block), flaky tests, quarantined failures (reason,
//!   owner, expiry, issue link), expired quarantine entries (a GitHub `[!WARNING]` alert), the
//!   5 slowest tests, flakehound's own warnings.
//! - Size: the whole summary stays within `limit_bytes` (GitHub accepts 1 MiB per step). The
//!   head is always kept. Then, breadth first: every entry of every section in its short form
//!   (failed tests on one line), sections by importance (failed, warnings, quarantined, expired
//!   entries, flaky, slowest); then depth: failed tests' `<details>` blocks, in order, while
//!   they fit. Entries are added whole, so a code fence or `<details>` block is never cut.
//!   Whatever was left out or shortened is named in a closing `[!NOTE]`, for which room is
//!   reserved up front. Sections still print in the order above.
//! - Escaping: in Markdown context, test-provided text has its whitespace collapsed, the
//!   characters that open inline syntax (`` \ ` * _ [ ] ~ $ ``) backslash-escaped, and `&`,
//!   `<`, `>`, `|` written as entities (so a pipe can never split a table cell, even after a
//!   backslash); ids and messages go in `<code>`, which also keeps GitHub from turning them
//!   into emoji, mentions or links; other Markdown syntax only acts at the start of a line,
//!   where such text never is. Inside the raw-HTML
//!   `<summary>` only HTML escaping applies. Fenced blocks use a fence longer than any backtick
//!   run in their content. ANSI sequences and control characters are removed everywhere.
//! - Fenced failure text is capped at 16 KiB per test (head and tail kept).

use crate::annotations::locate;
use crate::common::{
    attempt_message, clean, escape_chars, first_failure_message, fmt_secs, head_tail, last_failure,
    last_failure_message, passing_attempt, plural, single_line, slowest, truncate_bytes,
    truncate_chars, verdict,
};
use flakehound_model::{QuarantineInfo, RunStatus, WrappedRun, WrappedTest};

/// Bytes of failure text per fenced block.
const FENCE_BYTES: usize = 16 * 1024;
/// Characters kept of a one-line message.
const MESSAGE_CHARS: usize = 300;

/// The Markdown summary of `run`, at most `limit_bytes` long (see the module docs).
pub fn step_summary(run: &WrappedRun, limit_bytes: usize) -> String {
    let head = head(run);
    let sections = sections(run);
    let note_bound = note(&sections, &vec![(0, 0); sections.len()], limit_bytes, true).len();

    if head.len() + note_bound > limit_bytes {
        // Too small for anything but the headline.
        let headline = head.lines().next().unwrap_or("");
        let mut out = String::new();
        if headline.len() < limit_bytes {
            out.push_str(headline);
            out.push('\n');
        } else {
            out.push_str(truncate_bytes(headline, limit_bytes));
        }
        return out;
    }

    // Choose entries within the budget: first every entry of every section in its short form,
    // by importance (breadth: nothing is left unmentioned while there is room), then failed
    // tests' details, in order (depth).
    let mut room = limit_bytes - head.len() - note_bound;
    // Per section: (entries shown, how many of the first ones in full).
    let mut chosen: Vec<(usize, usize)> = vec![(0, 0); sections.len()];
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|&i| sections[i].priority);
    for &i in &order {
        let s = &sections[i];
        let mut overhead = s.heading.len() + s.footer.len();
        for item in &s.items {
            let short = item.compact.as_ref().unwrap_or(&item.full);
            if overhead + short.len() > room {
                break;
            }
            room -= overhead + short.len();
            overhead = 0;
            chosen[i].0 += 1;
            if item.compact.is_none() {
                chosen[i].1 += 1;
            }
        }
    }
    for &i in &order {
        let s = &sections[i];
        let (shown, full) = &mut chosen[i];
        for item in &s.items[*full..*shown] {
            let short = item.compact.as_ref().map_or(0, String::len);
            let extra = item.full.len().saturating_sub(short);
            if extra > room {
                break;
            }
            room -= extra;
            *full += 1;
        }
    }

    let mut out = head;
    for (s, &(shown, full)) in sections.iter().zip(&chosen) {
        if shown == 0 {
            continue;
        }
        out.push_str(&s.heading);
        for item in &s.items[..full] {
            out.push_str(&item.full);
        }
        for item in &s.items[full..shown] {
            out.push_str(item.compact.as_deref().unwrap_or(&item.full));
        }
        out.push_str(&s.footer);
    }
    out.push_str(&note(&sections, &chosen, limit_bytes, false));
    out
}

/// One entry of a section: in full and, when it has one, in a short form (one line).
struct Item {
    full: String,
    compact: Option<String>,
}

impl Item {
    /// An entry without a short form.
    fn whole(full: String) -> Item {
        Item {
            full,
            compact: None,
        }
    }
}

struct Section {
    heading: String,
    items: Vec<Item>,
    footer: String,
    /// Lower is kept first when space runs out.
    priority: u8,
    /// What an entry is, for the truncation note: (one, many).
    noun: (&'static str, &'static str),
}

/// The closing note naming what was left out; `bound` renders the longest possible one.
fn note(sections: &[Section], chosen: &[(usize, usize)], limit: usize, bound: bool) -> String {
    let mut cut = Vec::new();
    let mut shortened = 0;
    for (s, &(shown, full)) in sections.iter().zip(chosen) {
        let left = if bound {
            usize::MAX
        } else {
            s.items.len().saturating_sub(shown)
        };
        if left > 0 {
            cut.push(if left == 1 {
                format!("1 {}", s.noun.0)
            } else {
                format!("{left} {}", s.noun.1)
            });
        }
        if s.priority == 0 {
            shortened = if bound {
                usize::MAX
            } else {
                shown.saturating_sub(full)
            };
        }
    }
    let mut parts = Vec::new();
    if !cut.is_empty() {
        parts.push(format!("left out {}", cut.join(", ")));
    }
    if shortened > 0 {
        parts.push(format!(
            "listed {} without details",
            plural(shortened, "failed test", "failed tests")
        ));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "> [!NOTE]\n> This summary was shortened to stay under {limit} bytes: {}. The job log has \
         the full results.\n",
        parts.join("; ")
    )
}

fn head(run: &WrappedRun) -> String {
    let v = verdict(run);
    let mut s = format!(
        "## {} flakehound: {} — {}\n\n",
        if v.ok { "✅" } else { "❌" },
        if v.ok { "passed" } else { "failed" },
        md(&v.reason)
    );
    let mut facts = Vec::new();
    if !run.command.trim().is_empty() {
        facts.push(code(&run.command));
    }
    if !run.runner.trim().is_empty() {
        facts.push(format!("runner {}", md(&run.runner)));
    }
    facts.push(format!("test command exit {}", run.runner_exit));
    facts.push(format!("flakehound exit {}", run.exit));
    s.push_str(&facts.join(" · "));
    s.push_str("\n\n");
    s.push_str(
        "| ✅ Passed | ❌ Failed | 🔁 Flaky | 🔒 Quarantined | ⏭️ Skipped | Invocations | Wall time |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    s.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} | {} |\n\n",
        run.count(RunStatus::Passed),
        run.count(RunStatus::Failed),
        run.count(RunStatus::Flaky),
        run.count(RunStatus::Quarantined),
        run.count(RunStatus::Skipped),
        run.invocations,
        fmt_secs(run.wall_seconds)
    ));
    s
}

fn sections(run: &WrappedRun) -> Vec<Section> {
    let mut out = Vec::new();

    let failed = with_status(run, RunStatus::Failed);
    out.push(Section {
        heading: format!("### ❌ Failed on every attempt ({})\n\n", failed.len()),
        items: failed
            .iter()
            .map(|t| {
                let c = &t.case;
                let message = last_failure_message(c);
                let mut summary = format!("<code>{}</code>", html(&c.id));
                if let Some(m) = &message {
                    summary.push_str(&format!(" — {}", html(&truncate_chars(m, MESSAGE_CHARS))));
                }
                if c.attempts.len() > 1 {
                    summary.push_str(&format!(" ({} attempts)", c.attempts.len()));
                }
                let mut full = format!("<details>\n<summary>{summary}</summary>\n\n");
                if let Some((file, line)) = locate(c) {
                    full.push_str(&format!("At {}\n\n", code(&format!("{file}:{line}"))));
                }
                if let Some(owner) = t.owner.as_deref().filter(|o| !o.trim().is_empty()) {
                    full.push_str(&format!("Owner: {}\n\n", md(owner)));
                }
                full.push_str(&fence(&failure_text(c)));
                full.push_str("\n</details>\n\n");
                let mut compact = format!("- {}", code(&c.id));
                if let Some(m) = &message {
                    compact.push_str(&format!(" — {}", code(&truncate_chars(m, MESSAGE_CHARS))));
                }
                compact.push('\n');
                Item {
                    full,
                    compact: Some(compact),
                }
            })
            .collect(),
        footer: match &run.rerun {
            Some(cmd) => format!("Re-run them:\n\n{}\n", fence_as(cmd, "sh")),
            None => "\n".into(),
        },
        priority: 0,
        noun: ("failed test", "failed tests"),
    });

    let flaky = with_status(run, RunStatus::Flaky);
    out.push(Section {
        heading: format!(
            "### 🔁 Flaky: passed on retry ({})\n\n| Test | Passed on | First failure |\n| --- | --- | --- |\n",
            flaky.len()
        ),
        items: flaky
            .iter()
            .map(|t| {
                let c = &t.case;
                let n = c.attempts.len();
                let passed = match passing_attempt(c) {
                    Some(k) => format!("attempt {k} of {n}"),
                    None => format!("retry ({n} attempts)"),
                };
                let first = message_cell(first_failure_message(c));
                Item::whole(format!("| {} | {passed} | {first} |\n", code(&c.id)))
            })
            .collect(),
        footer: "\n".into(),
        priority: 4,
        noun: ("flaky test", "flaky tests"),
    });

    let quarantined = with_status(run, RunStatus::Quarantined);
    out.push(Section {
        heading: format!(
            "### 🔒 Quarantined failures ({})\n\nThese tests failed on every attempt but are quarantined, so they do not fail the build.\n\n\
             | Test | Reason | Owner | Expires | Issue | Failure |\n| --- | --- | --- | --- | --- | --- |\n",
            quarantined.len()
        ),
        items: quarantined
            .iter()
            .map(|t| {
                let c = &t.case;
                let (reason, owner, expires, issue) = match &t.quarantine {
                    Some(q) => quarantine_cells(q),
                    None => (String::new(), String::new(), String::new(), String::new()),
                };
                let failure = message_cell(last_failure_message(c));
                Item::whole(format!(
                    "| {} | {reason} | {owner} | {expires} | {issue} | {failure} |\n",
                    code(&c.id)
                ))
            })
            .collect(),
        footer: "\n".into(),
        priority: 2,
        noun: ("quarantined failure", "quarantined failures"),
    });

    let expired = &run.quarantine_expired;
    out.push(Section {
        heading: format!(
            "> [!WARNING]\n> {} past {} expiry date: fix the {}, or renew {}.\n>\n",
            plural(
                expired.len(),
                "quarantine entry is",
                "quarantine entries are"
            ),
            if expired.len() == 1 { "its" } else { "their" },
            if expired.len() == 1 {
                "test and remove the entry"
            } else {
                "tests and remove the entries"
            },
            if expired.len() == 1 { "it" } else { "them" },
        ),
        items: expired
            .iter()
            .map(|id| {
                let mut line = format!("> - {}", code(id));
                if let Some(q) = run
                    .tests
                    .iter()
                    .find(|t| &t.case.id == id)
                    .and_then(|t| t.quarantine.as_ref())
                {
                    let (reason, owner, expires, _) = quarantine_cells(q);
                    line.push_str(&format!(" — {reason}; owner {owner}; {expires}"));
                }
                line.push('\n');
                Item::whole(line)
            })
            .collect(),
        footer: "\n".into(),
        priority: 3,
        noun: ("expired quarantine entry", "expired quarantine entries"),
    });

    out.push(Section {
        heading: "### 🐢 Slowest tests\n\n| Test | Time | Attempts |\n| --- | ---: | ---: |\n"
            .into(),
        items: slowest(run, 5)
            .iter()
            .map(|(t, d)| {
                Item::whole(format!(
                    "| {} | {} | {} |\n",
                    code(&t.case.id),
                    fmt_secs(*d),
                    t.case.attempts.len()
                ))
            })
            .collect(),
        footer: "\n".into(),
        priority: 5,
        noun: ("slow test", "slow tests"),
    });

    out.push(Section {
        heading: "### ⚠️ flakehound warnings\n\n".into(),
        items: run
            .warnings
            .iter()
            .map(|w| Item::whole(format!("- {}\n", md(w))))
            .collect(),
        footer: "\n".into(),
        priority: 1,
        noun: ("warning", "warnings"),
    });

    out
}

/// The tests of `run` that ended with `status`, in order.
fn with_status(run: &WrappedRun, status: RunStatus) -> Vec<&WrappedTest> {
    run.tests.iter().filter(|t| t.status == status).collect()
}

/// A table cell holding a one-line failure message (empty without one).
fn message_cell(message: Option<String>) -> String {
    message
        .map(|m| code(&truncate_chars(&m, MESSAGE_CHARS)))
        .unwrap_or_default()
}

/// Reason, owner, expiry and issue cells of a quarantine entry.
fn quarantine_cells(q: &QuarantineInfo) -> (String, String, String, String) {
    let expires = if q.expired {
        format!("{} ⚠️ expired", md(&q.expires))
    } else {
        md(&q.expires)
    };
    let issue = q.issue.as_deref().map(issue_link).unwrap_or_default();
    (md(&q.reason), md(&q.owner), expires, issue)
}

/// A link for an issue URL (labelled `#N` for GitHub-style issue and pull URLs), or the text.
fn issue_link(issue: &str) -> String {
    let issue = clean(issue);
    let issue = issue.trim();
    let is_url = (issue.starts_with("https://") || issue.starts_with("http://"))
        && !issue.contains(char::is_whitespace);
    if !is_url {
        return md(issue);
    }
    let number = issue
        .trim_end_matches('/')
        .rsplit_once('/')
        .filter(|(head, n)| {
            (head.ends_with("/issues") || head.ends_with("/pull"))
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        })
        .map(|(_, n)| format!("#{n}"));
    let label = number.unwrap_or_else(|| "issue".to_string());
    // Percent-encode what could end the destination or split a table cell.
    let url = escape_chars(
        issue,
        &[('<', "%3C"), ('>', "%3E"), ('|', "%7C"), ('\\', "%5C")],
    );
    format!("[{}](<{url}>)", md(&label))
}

/// The fenced text of a failed test: the last failure's message, then its details unless they
/// already start with it.
fn failure_text(c: &flakehound_model::TestCase) -> String {
    let Some(a) = last_failure(c) else {
        return "(no failure details recorded)".into();
    };
    let f = a.failure.as_ref();
    let message = f
        .and_then(|f| f.message.as_deref())
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    let kind = f
        .and_then(|f| f.kind.as_deref())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let details = f
        .and_then(|f| f.details.as_deref())
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let headline = match (kind, &message) {
        (Some(k), Some(m)) if !m.starts_with(k) => Some(format!("{k}: {m}")),
        (_, Some(m)) => Some(m.clone()),
        (Some(k), None) => Some(k.to_string()),
        (None, None) => None,
    };
    // Details usually repeat the message; show it once.
    match (headline, details) {
        (Some(h), Some(d))
            if d.contains(h.as_str()) || message.as_deref().is_some_and(|m| d.starts_with(m)) =>
        {
            d.to_string()
        }
        (Some(h), Some(d)) => format!("{h}\n\n{d}"),
        (Some(h), None) => h,
        (None, Some(d)) => d.to_string(),
        (None, None) => {
            attempt_message(a).unwrap_or_else(|| "(no failure details recorded)".into())
        }
    }
}

/// A fenced block of `text` (cleaned, capped), with a fence no backtick run inside can close.
fn fence(text: &str) -> String {
    fence_as(text, "text")
}

/// A fenced block of `text` in `language`, the fence longer than any backtick run inside.
fn fence_as(text: &str, language: &str) -> String {
    let text = clean(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = head_tail(&text, FENCE_BYTES);
    let longest = longest_run(&text, '`');
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{language}\n{}\n{fence}\n", text.trim_end())
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// Untrusted text in Markdown context, on one line (see the module docs).
fn md(s: &str) -> String {
    escape_chars(
        &single_line(s),
        &[
            ('&', "&amp;"),
            ('<', "&lt;"),
            ('>', "&gt;"),
            ('|', "&#124;"),
            // What starts emphasis, code, links, strikethrough, math or an escape. Other
            // Markdown syntax only acts at the start of a line, where this text never is.
            ('\\', r"\\"),
            ('`', r"\`"),
            ('*', r"\*"),
            ('_', r"\_"),
            ('[', r"\["),
            (']', r"\]"),
            ('~', r"\~"),
            ('$', r"\$"),
        ],
    )
}

/// Untrusted text as inline code in Markdown context (safe in table cells).
fn code(s: &str) -> String {
    format!("<code>{}</code>", md(s))
}

/// Untrusted text in raw-HTML context (the `<summary>` line), on one line.
fn html(s: &str) -> String {
    escape_chars(
        &single_line(s),
        &[
            ('&', "&amp;"),
            ('<', "&lt;"),
            ('>', "&gt;"),
            ('"', "&quot;"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{attempt, case, sample_run, test};
    use flakehound_model::{Dialect, Outcome};
    use proptest::prelude::*;

    /// Fences open and close in pairs, `<details>` too, and every table row has as many cells
    /// as its header.
    fn assert_structure(md: &str) {
        let mut open: Option<usize> = None;
        for line in md.lines() {
            let ticks = line.chars().take_while(|&c| c == '`').count();
            match open {
                None if ticks >= 3 => open = Some(ticks),
                Some(n) if ticks >= n && line.trim_end().len() == ticks => open = None,
                _ => {}
            }
        }
        assert_eq!(open, None, "unclosed fence in\n{md}");
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count(),
            "{md}"
        );
        let mut width = None;
        for line in md.lines() {
            if line.starts_with('|') {
                let cells = line.matches('|').count();
                assert_eq!(*width.get_or_insert(cells), cells, "row {line:?} in\n{md}");
            } else {
                width = None;
            }
        }
    }

    #[test]
    fn snapshot_full_summary() {
        let md = step_summary(&sample_run(), 1 << 20);
        assert_structure(&md);
        insta::assert_snapshot!(md);
    }

    #[test]
    fn escaping() {
        assert_eq!(
            md("a|b <i>x</i> & *y* `z` [l](u) $m$ \\"),
            "a&#124;b &lt;i&gt;x&lt;/i&gt; &amp; \\*y\\* \\`z\\` \\[l\\](u) \\$m\\$ \\\\"
        );
        assert_eq!(md("multi\nline\r\n\ttext \u{1b}[1m!"), "multi line text !");
        assert_eq!(
            html("<b>\"x\" & y</b>\n`z`"),
            "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt; `z`"
        );
        assert_eq!(fence("a\n````\nb"), "`````text\na\n````\nb\n`````\n");
        assert_eq!(fence("plain"), "```text\nplain\n```\n");
        assert_eq!(
            issue_link("https://github.com/o/r/issues/12"),
            "[#12](<https://github.com/o/r/issues/12>)"
        );
        assert_eq!(
            issue_link("https://x.io/a|b<c>"),
            "[issue](<https://x.io/a%7Cb%3Cc%3E>)"
        );
        assert_eq!(issue_link("JIRA-7 [x]"), "JIRA-7 \\[x\\]");
    }

    #[test]
    fn passing_run_has_no_failure_sections() {
        let mut run = sample_run();
        run.tests
            .retain(|t| t.status == RunStatus::Passed || t.status == RunStatus::Flaky);
        run.quarantine_expired.clear();
        run.warnings.clear();
        run.exit = 0;
        let md = step_summary(&run, 1 << 20);
        assert!(
            md.starts_with("## ✅ flakehound: passed — every failure passed on retry\n"),
            "{md}"
        );
        assert!(!md.contains("Failed on every attempt") && !md.contains("Quarantined failures"));
        assert!(!md.contains("[!WARNING]") && !md.contains("[!NOTE]"));
        assert!(md.contains("### 🔁 Flaky: passed on retry (1)"));
    }

    #[test]
    fn truncation_keeps_structure_and_says_what_was_cut() {
        let mut run = sample_run();
        for i in 0..200 {
            let details = format!("line {i}\n```\n{}", "y".repeat(3000));
            run.tests.push(test(
                case(
                    Dialect::Other,
                    Some("big"),
                    &format!("t{i}"),
                    None,
                    vec![attempt(Outcome::Failed, 0.1, Some(("E", "boom", &details)))],
                ),
                RunStatus::Failed,
            ));
        }
        let full = step_summary(&run, usize::MAX);
        assert!(!full.contains("[!NOTE]"));
        let mut saw_note = false;
        for limit in [
            0,
            10,
            300,
            900,
            1500,
            3000,
            10_000,
            100_000,
            300_000,
            full.len() - 1,
            full.len(),
        ] {
            let md = step_summary(&run, limit);
            assert!(md.len() <= limit, "{} > {limit}", md.len());
            assert_structure(&md);
            if md.contains("[!NOTE]") {
                saw_note = true;
                assert!(
                    md.contains("This summary was shortened to stay under"),
                    "{md}"
                );
            }
        }
        assert!(saw_note);
        // With room for the head and some entries: failures first, the rest named in the note.
        let md = step_summary(&run, 50_000);
        assert!(md.starts_with("## ❌ flakehound: failed — 202 tests failed on every attempt"));
        assert!(md.contains("<summary><code>tests/test_math.py::TestDiv::test_div</code>"));
        assert!(
            md.contains(" failed tests without details. The job log"),
            "{md}"
        );
        assert!(
            md.contains("### ⚠️ flakehound warnings"),
            "warnings outrank the rest: {md}"
        );
        // Tiny limits keep the headline only, or part of it.
        assert_eq!(
            step_summary(&run, 300),
            "## ❌ flakehound: failed — 202 tests failed on every attempt\n"
        );
        assert_eq!(step_summary(&run, 10), "## ❌ fla");
        assert_eq!(step_summary(&run, 0), "");
    }

    proptest! {
        #[test]
        fn arbitrary_text_and_limits(
            names in proptest::collection::vec("(\\PC|[|`<>&\\n\\r\u{1b}*_\\[\\]])*", 1..6),
            limit in 0usize..20_000,
        ) {
            let mut run = sample_run();
            for (i, n) in names.iter().enumerate() {
                let status = [RunStatus::Failed, RunStatus::Flaky, RunStatus::Quarantined][i % 3];
                let outcomes = if status == RunStatus::Flaky { vec![Outcome::Failed, Outcome::Passed] } else { vec![Outcome::Failed] };
                let attempts = outcomes.into_iter().map(|o| attempt(o, 1.0, Some((n, n, n)))).collect();
                run.tests.push(test(case(Dialect::Other, Some(n), n, None, attempts), status));
                run.warnings.push(n.clone());
                run.quarantine_expired.push(n.clone());
            }
            let md = step_summary(&run, limit);
            prop_assert!(md.len() <= limit);
            assert_structure(&md);
            prop_assert!(!md.contains('\x1b'), "escape code in output");
        }
    }
}
