//! One merged JUnit XML report for a wrapped run, in the Jenkins/Maven surefire dialect.
//!
//! Format decisions:
//! - Layout: `<testsuites>` (counts, `time` = the run's wall-clock seconds) holding one
//!   `<testsuite>` per classname, or per innermost suite name for tests without one, in
//!   first-seen order. A suite's `time` is the sum of every attempt of its tests (the time the
//!   suite really cost, retries included). The first suite carries the run's facts as
//!   `flakehound.*` properties (command, runner, invocations, exit statuses).
//! - Retries follow surefire's `rerunFailingTestsCount` output exactly, which is also what
//!   flakehound's own parser reads back in execution order:
//!   - passed: a plain `<testcase>`;
//!   - flaky: a passing `<testcase>` whose `time` is the passing attempt's, with one
//!     `<flakyFailure>`/`<flakyError>` per failed attempt before it;
//!   - failed: `<failure>`/`<error>` for the *first* failed attempt (the testcase's `time` is
//!     that attempt's, as surefire writes it), then `<rerunFailure>`/`<rerunError>` for each
//!     later one. Writing the last attempt as the main element instead would make every
//!     surefire-aware reader, flakehound's included, read the attempts in the wrong order;
//!   - skipped: `<skipped message>` (earlier failed attempts, if any, as `<flakyFailure>`).
//! - Quarantined tests (failed every attempt, do not fail the build) must not fail downstream
//!   publishers, which fail on any `<failure>`/`<error>`, and must not hide the failure. So:
//!   `<skipped message="quarantined: REASON (owner O, expires D, issue I): MESSAGE"
//!   type="KIND">` with the first attempt's details as the element's text and its output as the
//!   testcase's `<system-out>`/`<system-err>`, then `<rerunFailure>`/`<rerunError>` for the
//!   later attempts (ignored by Jenkins' JUnit plugin and the GitHub publishers, read as
//!   attempts by flakehound). Read back, such a test is skipped with as many attempts as it had.
//! - Retry elements carry `message`, `type`, `time` and `<stackTrace>`, `<system-out>`,
//!   `<system-err>` children; main elements carry the details as text and the attempt's output
//!   at testcase level.
//! - Test-case properties: the test's own, then `flakehound.id`, `flakehound.status`,
//!   `flakehound.attempts`, `flakehound.owner` and `flakehound.quarantine.{reason,owner,expires,
//!   expired,issue}`.
//! - Ids: attributes are chosen so that flakehound's parser rebuilds each test's canonical id:
//!   the root is named `jest tests (merged by flakehound)` when the ids are jest-style (jest ids
//!   depend on it), and a pytest test without a `file` gets the path its id starts with.
//! - Escaping: everything is escaped by hand (`&`, `<`, `>`, quotes; tab, line feed and carriage
//!   return as character references in attributes so they survive attribute normalisation;
//!   carriage return also in text). ANSI escape sequences and characters invalid in XML 1.0 are
//!   removed. No CDATA, so `]]>` needs no special case. Non-finite or negative durations are
//!   left out.

use crate::common::{attempt_message, clean, escape_chars, quarantine_phrase};
use flakehound_model::{
    Attempt, Dialect, Outcome, RunStatus, WrappedRun, WrappedTest, canonical_id,
};
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};

/// Writes the merged JUnit XML report of `run` to `w` (see the module docs for the format).
///
/// Fails only when `w` does.
pub fn write_merged(run: &WrappedRun, w: impl Write) -> io::Result<()> {
    let mut out = BufWriter::new(w);
    let jest = jest_mode(run);
    let plans: Vec<Plan<'_>> = run.tests.iter().map(plan).collect();

    // Suites in first-seen order.
    let mut suites: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    let mut index: HashMap<Option<&str>, usize> = HashMap::new();
    for (i, t) in run.tests.iter().enumerate() {
        let key = suite_key(t, jest);
        let at = *index.entry(key).or_insert_with(|| {
            suites.push((key.map(str::to_string), Vec::new()));
            suites.len() - 1
        });
        suites[at].1.push(i);
    }

    let total = Tally::of(plans.iter());
    out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    let root_name = if jest {
        // flakehound's parser (like jest-junit readers) keys jest ids on this name.
        "jest tests (merged by flakehound)"
    } else {
        "flakehound"
    };
    write!(
        out,
        "<testsuites name=\"{root_name}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
        total.tests, total.failures, total.errors, total.skipped
    )?;
    if let Some(t) = seconds(Some(run.wall_seconds)) {
        write!(out, " time=\"{t}\"")?;
    }
    out.write_all(b">\n")?;

    for (n, (name, members)) in suites.iter().enumerate() {
        let tally = Tally::of(members.iter().map(|&i| &plans[i]));
        out.write_all(b"  <testsuite")?;
        if let Some(name) = name {
            write!(out, " name=\"{}\"", attr(name))?;
        }
        write!(
            out,
            " tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
            tally.tests, tally.failures, tally.errors, tally.skipped
        )?;
        let spent: Option<f64> = members
            .iter()
            .filter_map(|&i| run.tests[i].duration())
            .reduce(|a, b| a + b);
        if let Some(t) = seconds(spent) {
            write!(out, " time=\"{t}\"")?;
        }
        out.write_all(b">\n")?;
        if n == 0 {
            write_properties(
                &mut out,
                "    ",
                &[
                    ("flakehound.command", run.command.clone()),
                    ("flakehound.runner", run.runner.clone()),
                    ("flakehound.invocations", run.invocations.to_string()),
                    ("flakehound.runner_exit", run.runner_exit.to_string()),
                    ("flakehound.exit", run.exit.to_string()),
                ],
            )?;
        }
        for &i in members {
            write_case(&mut out, &run.tests[i], &plans[i], jest)?;
        }
        out.write_all(b"  </testsuite>\n")?;
    }
    out.write_all(b"</testsuites>\n")?;
    out.flush()
}

/// What the `<testcase>` element of one test holds.
struct Plan<'a> {
    main: Main<'a>,
    /// `flakyFailure`/`flakyError` elements (attempts before the main result).
    before: Vec<&'a Attempt>,
    /// `rerunFailure`/`rerunError` elements (attempts after the main result).
    after: Vec<&'a Attempt>,
    /// Duration of the attempt the testcase element itself stands for.
    time: Option<f64>,
    /// Attempt whose output goes to the testcase's `<system-out>`/`<system-err>`.
    output: Option<&'a Attempt>,
}

enum Main<'a> {
    Pass,
    /// `<failure>` or `<error>` for this attempt.
    Fail(&'a Attempt),
    /// A failed test without any failed attempt on record: still a `<failure>`, so that the
    /// report never shows a passing build for a failed test.
    FailUnknown,
    Skipped {
        message: Option<String>,
        kind: Option<String>,
        body: Option<String>,
    },
}

fn plan(t: &WrappedTest) -> Plan<'_> {
    let attempts = &t.case.attempts;
    let last = attempts.last();
    let fails: Vec<&Attempt> = attempts.iter().filter(|a| a.outcome.is_failure()).collect();
    let last_ok = last.filter(|a| !a.outcome.is_failure());
    match t.status {
        RunStatus::Passed | RunStatus::Flaky => Plan {
            main: Main::Pass,
            time: last_ok.and_then(|a| a.duration),
            output: last_ok,
            before: fails,
            after: Vec::new(),
        },
        RunStatus::Skipped => Plan {
            main: Main::Skipped {
                message: last_ok.and_then(full_message),
                kind: last_ok
                    .and_then(|a| a.failure.as_ref())
                    .and_then(|f| f.kind.clone()),
                body: last_ok
                    .and_then(|a| a.failure.as_ref())
                    .and_then(|f| f.details.clone()),
            },
            time: last_ok.and_then(|a| a.duration),
            output: last_ok,
            before: fails,
            after: Vec::new(),
        },
        RunStatus::Failed => match fails.split_first() {
            Some((first, rest)) => Plan {
                main: Main::Fail(first),
                time: first.duration,
                output: Some(first),
                before: Vec::new(),
                after: rest.to_vec(),
            },
            None => Plan {
                main: Main::FailUnknown,
                time: last.and_then(|a| a.duration),
                output: last,
                before: Vec::new(),
                after: Vec::new(),
            },
        },
        RunStatus::Quarantined => {
            let mut message = match &t.quarantine {
                Some(q) => format!("quarantined: {}", quarantine_phrase(q)),
                None => "quarantined".to_string(),
            };
            let first = fails.first().copied();
            let failure = first.and_then(|a| a.failure.as_ref());
            if let Some(text) = first.and_then(full_message) {
                message.push_str(": ");
                message.push_str(&text);
            }
            Plan {
                main: Main::Skipped {
                    message: Some(message),
                    kind: failure.and_then(|f| f.kind.clone()),
                    body: failure.and_then(|f| f.details.clone()),
                },
                time: first.or(last).and_then(|a| a.duration),
                output: first.or(last),
                before: Vec::new(),
                after: fails.get(1..).unwrap_or_default().to_vec(),
            }
        }
    }
}

/// The attempt's whole message (not only its first line: in a skip message it is the
/// failure's only trace for readers that show nothing else), else its one-line summary.
fn full_message(a: &Attempt) -> Option<String> {
    a.failure
        .as_ref()
        .and_then(|f| f.message.as_deref())
        .map(|m| clean(m).trim().to_string())
        .filter(|m| !m.is_empty())
        .or_else(|| attempt_message(a))
}

#[derive(Default)]
struct Tally {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Tally {
    fn of<'p, 'a: 'p>(plans: impl Iterator<Item = &'p Plan<'a>>) -> Tally {
        let mut t = Tally::default();
        for p in plans {
            t.tests += 1;
            match p.main {
                Main::Pass => {}
                Main::Fail(a) if a.outcome == Outcome::Errored => t.errors += 1,
                Main::Fail(_) | Main::FailUnknown => t.failures += 1,
                Main::Skipped { .. } => t.skipped += 1,
            }
        }
        t
    }
}

/// Whether the ids are jest-style: jest ids are only rebuilt by flakehound's parser when the
/// root is named like jest-junit's, so the whole report switches to that naming.
fn jest_mode(run: &WrappedRun) -> bool {
    run.tests.iter().any(|t| {
        let c = &t.case;
        let classname = c.classname.as_deref();
        let jest = canonical_id(
            Dialect::Jest,
            classname,
            &c.name,
            c.file.as_deref(),
            c.suite.last().map(String::as_str),
        );
        c.id == jest && c.id != canonical_id(Dialect::Other, classname, &c.name, None, None)
    })
}

/// The suite a test is written in. Jest ids may use the innermost suite name as the test's
/// path, so jest reports keep it (and write no name when there is none).
fn suite_key(t: &WrappedTest, jest: bool) -> Option<&str> {
    let c = &t.case;
    let nonblank = |s: &&String| !s.trim().is_empty();
    if jest {
        return c.suite.last().filter(nonblank).map(String::as_str);
    }
    c.classname
        .as_ref()
        .filter(nonblank)
        .or_else(|| c.suite.last().filter(nonblank))
        .map(String::as_str)
}

/// The `file` attribute: the test's own, or for a pytest id without one, the path the id starts
/// with (flakehound's parser recognises pytest records by a `.py` file).
fn file_attr(t: &WrappedTest, jest: bool) -> Option<String> {
    let c = &t.case;
    if let Some(f) = c.file.as_ref().filter(|f| !f.trim().is_empty()) {
        return Some(f.clone());
    }
    if jest {
        return None;
    }
    let (prefix, _) = c.id.split_once("::")?;
    if !prefix.ends_with(".py") {
        return None;
    }
    let classname = c.classname.as_deref();
    if canonical_id(Dialect::Other, classname, &c.name, None, None) == c.id {
        return None;
    }
    (canonical_id(Dialect::Pytest, classname, &c.name, Some(prefix), None) == c.id)
        .then(|| prefix.to_string())
}

fn write_case(out: &mut impl Write, t: &WrappedTest, p: &Plan<'_>, jest: bool) -> io::Result<()> {
    let c = &t.case;
    out.write_all(b"    <testcase")?;
    if let Some(cl) = &c.classname {
        write!(out, " classname=\"{}\"", attr(cl))?;
    }
    write!(out, " name=\"{}\"", attr(&c.name))?;
    if let Some(f) = file_attr(t, jest) {
        write!(out, " file=\"{}\"", attr(&f))?;
    }
    if let Some(l) = c.line {
        write!(out, " line=\"{l}\"")?;
    }
    if let Some(s) = seconds(p.time) {
        write!(out, " time=\"{s}\"")?;
    }
    out.write_all(b">\n")?;

    let mut props: Vec<(&str, String)> = c
        .properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    props.push(("flakehound.id", c.id.clone()));
    props.push(("flakehound.status", t.status.as_str().to_string()));
    props.push(("flakehound.attempts", c.attempts.len().to_string()));
    if let Some(o) = &t.owner {
        props.push(("flakehound.owner", o.clone()));
    }
    if let Some(q) = &t.quarantine {
        props.push(("flakehound.quarantine.reason", q.reason.clone()));
        props.push(("flakehound.quarantine.owner", q.owner.clone()));
        props.push(("flakehound.quarantine.expires", q.expires.clone()));
        props.push(("flakehound.quarantine.expired", q.expired.to_string()));
        if let Some(i) = &q.issue {
            props.push(("flakehound.quarantine.issue", i.clone()));
        }
    }
    write_properties(out, "      ", &props)?;

    for a in &p.before {
        let tag = if a.outcome == Outcome::Errored {
            "flakyError"
        } else {
            "flakyFailure"
        };
        write_retry(out, tag, a)?;
    }
    match &p.main {
        Main::Pass => {}
        Main::Fail(a) => {
            let tag = if a.outcome == Outcome::Errored {
                "error"
            } else {
                "failure"
            };
            let f = a.failure.as_ref();
            write_result(
                out,
                tag,
                f.and_then(|f| f.message.as_deref()),
                f.and_then(|f| f.kind.as_deref()),
                f.and_then(|f| f.details.as_deref()),
            )?;
        }
        Main::FailUnknown => write_result(
            out,
            "failure",
            Some("failed on every attempt (the runner recorded no failure details)"),
            None,
            None,
        )?,
        Main::Skipped {
            message,
            kind,
            body,
        } => write_result(
            out,
            "skipped",
            message.as_deref(),
            kind.as_deref(),
            body.as_deref(),
        )?,
    }
    for a in &p.after {
        let tag = if a.outcome == Outcome::Errored {
            "rerunError"
        } else {
            "rerunFailure"
        };
        write_retry(out, tag, a)?;
    }
    if let Some(a) = p.output {
        write_text_elem(out, "      ", "system-out", a.stdout.as_deref())?;
        write_text_elem(out, "      ", "system-err", a.stderr.as_deref())?;
    }
    out.write_all(b"    </testcase>\n")
}

fn write_properties(
    out: &mut impl Write,
    indent: &str,
    props: &[(&str, String)],
) -> io::Result<()> {
    if props.is_empty() {
        return Ok(());
    }
    writeln!(out, "{indent}<properties>")?;
    for (k, v) in props {
        writeln!(
            out,
            "{indent}  <property name=\"{}\" value=\"{}\"/>",
            attr(k),
            attr(v)
        )?;
    }
    writeln!(out, "{indent}</properties>")
}

/// `<tag message type>text</tag>` (self-closing without text).
fn write_result(
    out: &mut impl Write,
    tag: &str,
    message: Option<&str>,
    kind: Option<&str>,
    body: Option<&str>,
) -> io::Result<()> {
    write!(out, "      <{tag}")?;
    if let Some(m) = message {
        write!(out, " message=\"{}\"", attr(m))?;
    }
    if let Some(k) = kind {
        write!(out, " type=\"{}\"", attr(k))?;
    }
    match body.map(text).filter(|b| !b.is_empty()) {
        Some(b) => writeln!(out, ">{b}</{tag}>"),
        None => writeln!(out, "/>"),
    }
}

/// A surefire retry element: `message`, `type`, `time`, then `stackTrace`, `system-out`,
/// `system-err` children.
fn write_retry(out: &mut impl Write, tag: &str, a: &Attempt) -> io::Result<()> {
    let f = a.failure.as_ref();
    write!(out, "      <{tag}")?;
    if let Some(m) = f.and_then(|f| f.message.as_deref()) {
        write!(out, " message=\"{}\"", attr(m))?;
    }
    if let Some(k) = f.and_then(|f| f.kind.as_deref()) {
        write!(out, " type=\"{}\"", attr(k))?;
    }
    if let Some(s) = seconds(a.duration) {
        write!(out, " time=\"{s}\"")?;
    }
    let details = f.and_then(|f| f.details.as_deref());
    if details.is_none() && a.stdout.is_none() && a.stderr.is_none() {
        return writeln!(out, "/>");
    }
    out.write_all(b">\n")?;
    write_text_elem(out, "        ", "stackTrace", details)?;
    write_text_elem(out, "        ", "system-out", a.stdout.as_deref())?;
    write_text_elem(out, "        ", "system-err", a.stderr.as_deref())?;
    writeln!(out, "      </{tag}>")
}

fn write_text_elem(
    out: &mut impl Write,
    indent: &str,
    tag: &str,
    content: Option<&str>,
) -> io::Result<()> {
    match content.map(text).filter(|t| !t.is_empty()) {
        Some(t) => writeln!(out, "{indent}<{tag}>{t}</{tag}>"),
        None => Ok(()),
    }
}

/// A duration for a `time` attribute: shortest exact decimal, never negative or non-finite.
fn seconds(d: Option<f64>) -> Option<String> {
    d.filter(|d| d.is_finite() && *d >= 0.0)
        .map(|d| d.to_string())
}

/// Attribute value: cleaned, with markup and whitespace other than spaces escaped.
pub(crate) fn attr(s: &str) -> String {
    escape_chars(
        &clean(s),
        &[
            ('&', "&amp;"),
            ('<', "&lt;"),
            ('>', "&gt;"),
            ('"', "&quot;"),
            ('\'', "&apos;"),
            // Literal whitespace in attributes is normalised to spaces by conforming parsers.
            ('\t', "&#9;"),
            ('\n', "&#10;"),
            ('\r', "&#13;"),
        ],
    )
}

/// Element text: cleaned, markup escaped; `\r` as a reference (parsers turn `\r\n` into `\n`).
pub(crate) fn text(s: &str) -> String {
    escape_chars(
        &clean(s),
        &[
            ('&', "&amp;"),
            ('<', "&lt;"),
            ('>', "&gt;"),
            ('\r', "&#13;"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::clean;
    use crate::fixture::{attempt, case, sample_run, test};
    use flakehound_model::{Dialect, TestCase};
    use proptest::prelude::*;

    fn write(run: &WrappedRun) -> String {
        let mut buf = Vec::new();
        write_merged(run, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn read_back(xml: &str) -> Vec<TestCase> {
        flakehound_ingest::collect_bytes(xml.as_bytes(), None)
            .unwrap_or_else(|e| panic!("{e}\n{xml}"))
            .1
    }

    /// Checks that `xml` is well-formed with quick-xml's strict checks, and that it holds no
    /// character XML 1.0 forbids.
    fn assert_well_formed(xml: &str) {
        for c in xml.chars() {
            let ok = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
                || c >= '\u{10000}';
            assert!(ok, "invalid XML char {c:?}");
        }
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut depth = 0usize;
        let mut roots = 0;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(e)) => {
                    if depth == 0 {
                        roots += 1;
                    }
                    depth += 1;
                    for a in e.attributes() {
                        let a = a.expect("attribute");
                        a.unescape_value().expect("attribute value");
                        assert!(!a.value.contains(&b'<'), "raw < in attribute");
                        // Conforming parsers turn literal tabs and line breaks into spaces.
                        assert!(
                            !a.value.iter().any(|b| matches!(b, b'\t' | b'\n' | b'\r')),
                            "raw whitespace in attribute {:?}",
                            String::from_utf8_lossy(&a.value)
                        );
                    }
                }
                Ok(quick_xml::events::Event::Empty(e)) => {
                    if depth == 0 {
                        roots += 1;
                    }
                    for a in e.attributes() {
                        a.expect("attribute").unescape_value().expect("value");
                    }
                }
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Text(t)) => {
                    // `]]>` is forbidden in content; a raw `\r` would be read as `\n`.
                    let raw = String::from_utf8_lossy(&t).to_string();
                    assert!(!raw.contains("]]>") && !raw.contains('\r'), "{raw:?}");
                    let t = t.unescape().expect("text");
                    assert!(depth > 0 || t.trim().is_empty(), "text outside the root");
                }
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}\n{xml}"),
            }
        }
        assert_eq!((depth, roots), (0, 1));
    }

    fn outcomes(c: &TestCase) -> Vec<Outcome> {
        c.attempts.iter().map(|a| a.outcome).collect()
    }

    #[test]
    fn round_trip_keeps_ids_outcomes_and_attempts() {
        let run = sample_run();
        let xml = write(&run);
        assert_well_formed(&xml);
        let back = read_back(&xml);
        assert_eq!(back.len(), run.tests.len());
        for (t, b) in run.tests.iter().zip(&back) {
            let name = clean(&t.case.name).trim().to_string();
            assert_eq!(b.name, name);
            if !t.case.id.contains('\u{1b}') {
                assert_eq!(b.id, t.case.id, "{xml}");
            }
            assert_eq!(b.attempts.len(), t.case.attempts.len(), "{}", t.case.id);
            let mut want = outcomes(&t.case);
            if t.status == RunStatus::Quarantined {
                // The first failure is written as the skip that keeps the build green.
                want[0] = Outcome::Skipped;
            }
            assert_eq!(outcomes(b), want, "{}", t.case.id);
        }
        // The pytest test without a file got the one its id names, so its id survived.
        assert_eq!(back[1].file.as_deref(), Some("tests/test_math.py"));
        assert_eq!(back[1].id, "tests/test_math.py::TestDiv::test_div");
        // Durations, messages, output and properties survive.
        assert_eq!(back[1].attempts[0].duration, Some(1.5));
        assert_eq!(back[1].attempts[2].duration, Some(1.0));
        assert_eq!(
            back[1].attempts[0].stdout.as_deref(),
            Some("dividing 1 by 0")
        );
        assert_eq!(back[2].attempts[1].duration, Some(0.5));
        let f = back[2].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("timed out waiting for the cart"));
        assert_eq!(
            f.details.as_deref(),
            Some("cart_test.go:41: timed out waiting for the cart")
        );
        for (i, key, value) in [
            (2, "flakehound.status", "flaky"),
            (1, "flakehound.owner", "@alice"),
            (3, "flakehound.quarantine.expires", "2024-01-01"),
            (
                3,
                "flakehound.quarantine.issue",
                "https://github.com/acme/shop/issues/42",
            ),
            (
                5,
                "flakehound.id",
                "evil|suite::weird <name> `tick` ]]> & red",
            ),
        ] {
            let got = back[i].properties.iter().find(|(n, _)| n == key);
            assert_eq!(got.map(|(_, v)| v.as_str()), Some(value), "{key}");
        }
        // The hostile failure message came back intact, colour codes aside.
        assert_eq!(
            back[5].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("boom ]]> & <tag> | pipe %done")
        );
    }

    #[test]
    fn quarantined_failures_are_skips_that_keep_the_failure_text() {
        let run = sample_run();
        let xml = write(&run);
        let start = xml.find("name=\"checkout\"").unwrap();
        let end = start + xml[start..].find("</testcase>").unwrap();
        let element = &xml[start..end];
        assert!(
            !element.contains("<failure") && !element.contains("<error"),
            "{element}"
        );
        assert!(
            element.contains(
                "<skipped message=\"quarantined: races on the shared DB (owner @team-cart, \
                 expired 2024-01-01, issue https://github.com/acme/shop/issues/42): \
                 expected:&lt;3&gt; but was:&lt;2&gt;\" type=\"java.lang.AssertionError\">\
                 java.lang.AssertionError"
            ),
            "{element}"
        );
        assert!(
            element.contains("<rerunError message=\"database is locked\""),
            "{element}"
        );
        let back = read_back(&xml);
        assert_eq!(back[3].outcome, Outcome::Skipped);
        let details = back[3].attempts[0]
            .failure
            .as_ref()
            .unwrap()
            .details
            .clone();
        assert!(details.unwrap().contains("CartTest.java:57"));
    }

    #[test]
    fn counts_and_layout_follow_surefire() {
        let xml = write(&sample_run());
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flakehound\" tests=\"6\" failures=\"1\" errors=\"1\" skipped=\"2\" time=\"12.34\">"), "{xml}");
        // One suite per classname, first-seen order; the failed test's first attempt is the
        // <failure>, later ones are reruns; the flaky test's failure comes before the pass.
        let suites: Vec<&str> = xml
            .lines()
            .filter(|l| l.trim_start().starts_with("<testsuite "))
            .collect();
        assert_eq!(suites.len(), 6);
        assert!(suites[0].contains("name=\"tests.test_math\""));
        assert!(suites[1].contains("name=\"tests.test_math.TestDiv\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"3.75\""), "{}", suites[1]);
        let failed = &xml[xml.find("name=\"test_div\"").unwrap()..];
        let first = failed.find("<failure").unwrap();
        let rerun = failed.find("<rerunFailure").unwrap();
        assert!(first < rerun);
        assert!(failed.starts_with("name=\"test_div\" file=\"tests/test_math.py\" time=\"1.5\""));
        assert_eq!(
            failed[..failed.find("</testcase>").unwrap()]
                .matches("<rerunFailure")
                .count(),
            2
        );
        let flaky = &xml[xml.find("TestCheckout/slow").unwrap()..];
        let flaky = &flaky[..flaky.find("</testcase>").unwrap()];
        assert!(flaky.contains("time=\"0.5\""), "{flaky}");
        assert!(
            flaky.contains("<flakyFailure message=\"timed out waiting for the cart\" time=\"3\">"),
            "{flaky}"
        );
        assert!(!flaky.contains("<failure"), "{flaky}");
        assert!(
            xml.contains("<skipped message=\"no IPv6 on this runner\" type=\"pytest.skip\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            attr("a\"b'<&>\t\n\r"),
            "a&quot;b&apos;&lt;&amp;&gt;&#9;&#10;&#13;"
        );
        assert_eq!(text("]]> <x> & \r\n"), "]]&gt; &lt;x&gt; &amp; &#13;\n");
        assert_eq!(text("\u{1b}[1mbold\u{1b}[0m\u{0}"), "bold");
    }

    #[test]
    fn jest_ids_survive() {
        let mut c = case(
            Dialect::Jest,
            Some("App renders"),
            "App renders the title",
            Some("src/App.test.js"),
            vec![attempt(Outcome::Passed, 0.1, None)],
        );
        c.suite = vec!["src/App.test.js".into()];
        let mut d = case(
            Dialect::Jest,
            Some("menu"),
            "opens",
            None,
            vec![
                attempt(Outcome::Failed, 0.1, Some(("", "nope", ""))),
                attempt(Outcome::Passed, 0.1, None),
            ],
        );
        d.suite = vec!["src/Menu.test.js".into()];
        d.id = canonical_id(
            Dialect::Jest,
            Some("menu"),
            "opens",
            None,
            Some("src/Menu.test.js"),
        );
        let run = WrappedRun {
            tests: vec![test(c, RunStatus::Passed), test(d, RunStatus::Flaky)],
            ..WrappedRun::default()
        };
        let xml = write(&run);
        assert!(xml.contains("<testsuites name=\"jest tests (merged by flakehound)\""));
        let back = read_back(&xml);
        assert_eq!(back[0].id, "src/App.test.js › App renders the title");
        assert_eq!(back[1].id, "src/Menu.test.js › menu › opens");
        assert_eq!(back[1].attempts.len(), 2);
    }

    #[test]
    fn degenerate_runs_do_not_panic() {
        // No tests at all.
        let xml = write(&WrappedRun::default());
        assert_well_formed(&xml);
        assert!(read_back(&xml).is_empty());
        // A failed test without attempts still fails downstream; bad durations are left out.
        let mut c = case(Dialect::Other, None, "t", None, Vec::new());
        c.attempts.clear();
        let mut q = case(
            Dialect::Other,
            None,
            "q",
            None,
            vec![attempt(Outcome::Failed, f64::NAN, None)],
        );
        q.attempts[0].duration = Some(-1.0);
        let run = WrappedRun {
            tests: vec![test(c, RunStatus::Failed), test(q, RunStatus::Quarantined)],
            wall_seconds: f64::INFINITY,
            ..WrappedRun::default()
        };
        let xml = write(&run);
        assert_well_formed(&xml);
        assert!(xml.contains("<failure message=\"failed on every attempt (the runner recorded no failure details)\"/>"));
        assert!(xml.contains("<skipped message=\"quarantined\"/>"), "{xml}");
        assert!(!xml.contains("time=\"-") && !xml.contains("NaN") && !xml.contains("inf"));
        let back = read_back(&xml);
        assert_eq!(back[0].outcome, Outcome::Failed);
        assert_eq!(back[1].outcome, Outcome::Skipped);
    }

    #[test]
    fn writer_errors_are_returned() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::other("disk full"))
            }
        }
        let err = write_merged(&sample_run(), Broken).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }

    /// Text with everything that breaks naive XML writers.
    fn nasty() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            any::<char>().prop_map(|c| c.to_string()),
            Just("]]>".to_string()),
            Just("\u{1b}[31m".to_string()),
            Just("&amp;".to_string()),
            Just("<!--".to_string()),
            Just("\"'".to_string()),
            Just("\r\n".to_string()),
            Just("\u{0}\u{8}\u{b}\u{fffe}\u{ffff}".to_string()),
            Just("é✓𝄞".to_string()),
            "[a-z]{1,8}",
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    fn status_attempts() -> impl Strategy<Value = (RunStatus, Vec<Outcome>)> {
        prop_oneof![
            Just((RunStatus::Passed, vec![Outcome::Passed])),
            (1..4usize).prop_map(|n| {
                let mut v = vec![Outcome::Failed; n];
                v.push(Outcome::Passed);
                (RunStatus::Flaky, v)
            }),
            proptest::collection::vec(
                prop_oneof![Just(Outcome::Failed), Just(Outcome::Errored)],
                1..4
            )
            .prop_map(|v| (RunStatus::Failed, v)),
            proptest::collection::vec(
                prop_oneof![Just(Outcome::Failed), Just(Outcome::Errored)],
                1..4
            )
            .prop_map(|v| (RunStatus::Quarantined, v)),
            Just((RunStatus::Skipped, vec![Outcome::Skipped])),
        ]
    }

    fn trimmed(s: &str) -> Option<String> {
        Some(clean(s).trim().to_string()).filter(|s| !s.is_empty())
    }

    proptest! {
        #[test]
        fn arbitrary_text_gives_well_formed_xml(
            tests in proptest::collection::vec(
                (proptest::option::of(nasty()), nasty(), nasty(), nasty(), status_attempts()),
                1..5,
            ),
            command in nasty(),
        ) {
            let run = WrappedRun {
                command,
                tests: tests
                    .iter()
                    .map(|(classname, name, message, details, (status, outs))| {
                        let attempts = outs
                            .iter()
                            .map(|&o| {
                                let failure = (o != Outcome::Passed)
                                    .then_some(("T", message.as_str(), details.as_str()));
                                let mut a = attempt(o, 0.5, failure);
                                a.stdout = Some(details.clone());
                                a
                            })
                            .collect();
                        let mut t = test(case(Dialect::Other, classname.as_deref(), name, None, attempts), *status);
                        t.owner = Some(message.clone());
                        t
                    })
                    .collect(),
                ..WrappedRun::default()
            };
            let xml = write(&run);
            assert_well_formed(&xml);
            let back = read_back(&xml);
            prop_assert_eq!(back.len(), run.tests.len());
            // Tests come back grouped by suite, suites in first-seen order.
            let keys: Vec<Option<&str>> = run.tests.iter().map(|t| suite_key(t, false)).collect();
            let mut order: Vec<usize> = (0..tests.len()).collect();
            order.sort_by_key(|&i| keys.iter().position(|k| *k == keys[i]));
            for (&i, b) in order.iter().zip(&back) {
                let (classname, name, message, details, (status, outs)) = &tests[i];
                prop_assert_eq!(&b.name, &trimmed(name).unwrap_or_default());
                prop_assert_eq!(&b.classname, &classname.as_deref().and_then(trimmed));
                prop_assert_eq!(b.attempts.len(), outs.len());
                let failures = b.attempts.iter().filter(|a| a.outcome.is_failure()).count();
                let expected = outs.iter().filter(|o| o.is_failure()).count()
                    - usize::from(*status == RunStatus::Quarantined);
                prop_assert_eq!(failures, expected);
                // Every failed attempt kept its message and details.
                for a in b.attempts.iter().filter(|a| a.outcome.is_failure()) {
                    let f = a.failure.as_ref();
                    if let Some(m) = trimmed(message) {
                        prop_assert_eq!(f.and_then(|f| f.message.clone()), Some(m));
                    }
                    prop_assert_eq!(f.and_then(|f| f.details.clone()), trimmed(details));
                }
            }
        }
    }
}
