//! JUnit XML in all its dialects (pytest, jest-junit, mocha, surefire/failsafe, gradle, nextest,
//! go-junit-report, gotestsum, bazel, PHPUnit, Catch2, rspec_junit_formatter, xunit-written).
//!
//! Mapping choices:
//! - One record per `<testcase>`, wherever it is nested (root `<testsuites>` or bare
//!   `<testsuite>`, suites nested to any depth). A record with neither `name` nor `classname`
//!   (or `class`) is dropped.
//! - Record outcome: the most severe result element wins (`error` > `failure` > success >
//!   `skipped`); with no result element, a `status`/`result` attribute of `disabled`, `ignored`,
//!   `notrun`, `skipped`… makes it skipped, `failed`/`error`… failed/errored; otherwise passed.
//!   A result element always wins over the attribute: `<testcase status="disabled">` holding a
//!   `<failure>` ran and failed.
//! - Retries are attempts of the record, in execution order: `flakyFailure`/`flakyError`
//!   happened *before* the record's own result (they are the failed tries of a test that
//!   finally passed, or — with fail-on-flaky — the tries before the reported failure);
//!   `rerunFailure`/`rerunError` happened *after* the first failure.
//! - Durations: `time` (or `duration`), with decimal commas and thousands separators accepted;
//!   negative or garbage values become unknown.
//! - Suite properties go to [`ReportInfo::properties`]; test-case properties to the record.
//! - Dialect (for the canonical id): pytest when a suite is named `pytest` or the file ends in
//!   `.py`; jest when the root is jest-junit's `jest tests`; otherwise `classname::name`.

use crate::xml::{Elem, Ev, XmlReader};
use crate::{Result, Sink, finish_case};
use flakehound_model::{
    Attempt, Counts, Dialect, Failure, MAX_PROPERTIES, Outcome, ReportInfo, TestCase,
    parse_seconds, trim_text,
};
use std::io::Read;

struct Suite {
    has_child_suite: bool,
    /// Whether `name` was pushed onto [`Parser::names`].
    named: bool,
    /// Stated `tests`, `failures`, `errors`, `skipped` attributes.
    stated: Counts,
    name: Option<String>,
    /// The file of this suite or of the nearest enclosing suite that names one (inherited when
    /// the suite opens, so a record finds it without walking the stack).
    file: Option<String>,
}

struct Parser<'s, 'a> {
    sink: &'s mut Sink<'a>,
    info: ReportInfo,
    suites: Vec<Suite>,
    /// Names of the open suites that have one, outermost first.
    names: Vec<String>,
    /// Open suites named `pytest`.
    pytest_suites: usize,
    jest: bool,
    cases: u64,
    /// Sum of the stated counts of leaf suites, used when the report has no test case at all.
    stated: Counts,
}

pub(crate) fn parse<R: Read>(
    xml: &mut XmlReader<R>,
    root: Elem,
    sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    let mut p = Parser {
        sink,
        info: ReportInfo::default(),
        suites: Vec::new(),
        names: Vec::new(),
        pytest_suites: 0,
        jest: false,
        cases: 0,
        stated: Counts::default(),
    };
    p.info.duration = root.get("time").and_then(parse_seconds);
    if root.name == "testsuites" {
        p.jest = root.get("name").is_some_and(|n| n.contains("jest"));
        if p.jest {
            p.info.tool = Some("jest".into());
        }
    }
    p.open_suite(&root);
    let root_depth = xml.depth();
    loop {
        match xml.next()? {
            Ev::Start(e) => match e.name.as_str() {
                "testsuite" | "testsuites" => p.open_suite(&e),
                "testcase" => p.testcase(xml, e)?,
                "properties" => read_properties(xml, &mut p.info.properties)?,
                _ => xml.skip()?,
            },
            Ev::End(name) => {
                if name == "testsuite" || name == "testsuites" {
                    p.close_suite();
                }
                if xml.depth() < root_depth {
                    if p.cases == 0 && p.stated.tests > 0 {
                        p.info.aggregate = Some(p.stated);
                    }
                    return Ok(p.info);
                }
            }
            Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

impl Parser<'_, '_> {
    fn open_suite(&mut self, e: &Elem) {
        let name = e.get_nonblank("name").map(str::to_string);
        if name.as_deref() == Some("pytest") {
            self.info.tool.get_or_insert_with(|| "pytest".into());
        }
        if self.info.timestamp.is_none() {
            self.info.timestamp = e.get_nonblank("timestamp").map(str::to_string);
        }
        if self.info.hostname.is_none() {
            self.info.hostname = e.get_nonblank("hostname").map(str::to_string);
        }
        let file = e
            .get_nonblank("file")
            .or_else(|| e.get_nonblank("filepath"))
            .map(str::to_string)
            .or_else(|| self.suites.last().and_then(|s| s.file.clone()));
        // The root <testsuites> is a container, not a suite users think of.
        let name = if e.name == "testsuite" || !self.suites.is_empty() {
            name
        } else {
            None
        };
        if let Some(parent) = self.suites.last_mut() {
            parent.has_child_suite = true;
        }
        let stated = stated_counts(e);
        if name.as_deref() == Some("pytest") {
            self.pytest_suites += 1;
        }
        if let Some(n) = &name {
            self.names.push(n.clone());
        }
        self.suites.push(Suite {
            has_child_suite: false,
            named: name.is_some(),
            stated,
            name,
            file,
        });
    }

    fn close_suite(&mut self) {
        if let Some(s) = self.suites.pop() {
            if s.named {
                self.names.pop();
            }
            if s.name.as_deref() == Some("pytest") {
                self.pytest_suites -= 1;
            }
            if !s.has_child_suite {
                let t = &mut self.stated;
                t.tests += s.stated.tests;
                t.passed += s.stated.passed;
                t.failed += s.stated.failed;
                t.errored += s.stated.errored;
                t.skipped += s.stated.skipped;
            }
        }
    }

    fn dialect(&self, file: Option<&str>) -> Dialect {
        if self.jest {
            Dialect::Jest
        } else if file.is_some_and(|f| f.ends_with(".py")) || self.pytest_suites > 0 {
            Dialect::Pytest
        } else {
            Dialect::Other
        }
    }

    fn testcase<R: Read>(&mut self, xml: &mut XmlReader<R>, e: Elem) -> Result<()> {
        let mut result: Option<Outcome> = None;
        let mut failure: Option<Failure> = None;
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut stdout = None;
        let mut stderr = None;
        let mut properties = Vec::new();
        let depth = xml.depth();
        loop {
            match xml.next()? {
                Ev::Start(child) => {
                    let outcome = match child.name.as_str() {
                        "failure" => Some(Outcome::Failed),
                        "error" => Some(Outcome::Errored),
                        "skipped" => Some(Outcome::Skipped),
                        _ => None,
                    };
                    if let Some(outcome) = outcome {
                        let text = xml.read_text()?;
                        let f = failure_from(&child, text);
                        if result.is_none_or(|r| outcome.severity() > r.severity()) {
                            failure = Some(f);
                        }
                        result = Some(result.map_or(outcome, |r| r.worst(outcome)));
                        continue;
                    }
                    match child.name.as_str() {
                        "flakyFailure" => before.push(retry(xml, &child, Outcome::Failed)?),
                        "flakyError" => before.push(retry(xml, &child, Outcome::Errored)?),
                        "rerunFailure" => after.push(retry(xml, &child, Outcome::Failed)?),
                        "rerunError" => after.push(retry(xml, &child, Outcome::Errored)?),
                        "system-out" => stdout = xml.read_text()?,
                        "system-err" => stderr = xml.read_text()?,
                        "properties" => read_properties(xml, &mut properties)?,
                        _ => xml.skip()?,
                    }
                }
                Ev::End(_) if xml.depth() < depth => break,
                Ev::End(_) | Ev::Text(_) => {}
                Ev::Eof => return Err(xml.error("unexpected end of file inside <testcase>")),
            }
        }

        let a = CaseAttrs::of(&e);
        let classname = nonblank(a.classname)
            .or_else(|| nonblank(a.class))
            .map(str::to_string);
        let name = nonblank(a.name).map(str::to_string);
        self.cases += 1;
        let outcome = result.unwrap_or_else(|| status_outcome(a.status.or(a.result)));
        let failure = failure.filter(|f| !f.is_empty());
        let main = Attempt {
            outcome,
            duration: a.time.or(a.duration).and_then(parse_seconds),
            failure: failure.filter(|_| outcome != Outcome::Passed),
            stdout,
            stderr,
        };
        let mut attempts = Vec::with_capacity(before.len() + 1 + after.len());
        attempts.append(&mut before);
        attempts.push(main);
        attempts.append(&mut after);
        for attempt in &mut attempts {
            complete_panic_message(attempt);
        }

        let file = nonblank(a.file)
            .map(str::to_string)
            .or_else(|| self.suites.last().and_then(|s| s.file.clone()));
        let line: Option<u32> = a.line.and_then(|l| l.trim().parse().ok());
        let suite = crate::suite_path(self.names.iter().map(String::as_str), self.names.len());
        // Only the test case's own start time: the suite's is the report's (ReportInfo).
        let timestamp = nonblank(a.timestamp).map(str::to_string);
        let dialect = self.dialect(file.as_deref());
        // pytest (xunit1 family) writes its item location, which is 0-based; every other
        // writer and every consumer (editors, CI annotations) count lines from 1.
        let line = match dialect {
            Dialect::Pytest => line.map(|l| l.saturating_add(1)),
            _ => line,
        };
        let case = TestCase {
            id: String::new(),
            classname,
            name: name.unwrap_or_default(),
            file,
            line,
            suite,
            outcome,
            attempts,
            properties,
            timestamp,
        };
        let mut case = finish_case(case, dialect);
        if case.id.is_empty() {
            // A record with neither name nor classname still counts (corpus rule for JUnit);
            // it gets a placeholder id under its suite.
            case.id = match case.suite.last() {
                Some(s) => format!("{s}::(unnamed)"),
                None => "(unnamed)".to_string(),
            };
        }
        (self.sink)(case)
    }
}

fn stated_counts(e: &Elem) -> Counts {
    let n = |k: &str| {
        e.get(k)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (tests, failed, errored) = (n("tests"), n("failures"), n("errors"));
    let skipped = n("skipped").max(n("skip")).max(n("disabled"));
    Counts {
        tests,
        passed: tests.saturating_sub(failed + errored + skipped),
        failed,
        errored,
        skipped,
    }
}

/// Outcome from a `status`/`result` attribute when the test case has no result element.
/// The attributes of a `<testcase>` that records are built from, found in one pass over its
/// attributes (the first of each name, as [`Elem::get`] finds it) instead of one search per name:
/// a record reads up to ten of them.
#[derive(Default)]
struct CaseAttrs<'e> {
    classname: Option<&'e str>,
    class: Option<&'e str>,
    name: Option<&'e str>,
    time: Option<&'e str>,
    duration: Option<&'e str>,
    file: Option<&'e str>,
    line: Option<&'e str>,
    timestamp: Option<&'e str>,
    status: Option<&'e str>,
    result: Option<&'e str>,
}

impl<'e> CaseAttrs<'e> {
    fn of(e: &'e Elem) -> Self {
        let mut a = CaseAttrs::default();
        for (key, value) in e.attrs() {
            let slot = match key {
                "classname" => &mut a.classname,
                "class" => &mut a.class,
                "name" => &mut a.name,
                "time" => &mut a.time,
                "duration" => &mut a.duration,
                "file" => &mut a.file,
                "line" => &mut a.line,
                "timestamp" => &mut a.timestamp,
                "status" => &mut a.status,
                "result" => &mut a.result,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        a
    }
}

/// The value trimmed, unless blank (as [`Elem::get_nonblank`]).
fn nonblank(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn status_outcome(status: Option<&str>) -> Outcome {
    let Some(status) = status else {
        return Outcome::Passed;
    };
    match status.trim().to_ascii_lowercase().as_str() {
        "disabled" | "ignored" | "notrun" | "not_run" | "notexecuted" | "skipped" | "skip"
        | "pending" => Outcome::Skipped,
        "failed" | "failure" | "fail" => Outcome::Failed,
        "error" | "errored" => Outcome::Errored,
        _ => Outcome::Passed,
    }
}

fn failure_from(e: &Elem, text: Option<String>) -> Failure {
    let message = e.get_nonblank("message").map(|m| m.to_string());
    Failure {
        kind: e.get_nonblank("type").map(str::to_string),
        // Some dialects only write the message as text; use its first line then.
        message: message.or_else(|| text.as_deref().and_then(first_line)),
        details: text,
    }
}

/// nextest (and other Rust JUnit writers) put only the panic's location in `message`
/// (`thread 'x' (123) panicked at src/lib.rs:19:9`) and the panic message (the assertion) in
/// the failure's text, or only in `<system-err>`/`<system-out>`. A location alone says nothing
/// about what failed, so the message becomes the panic message's first line (the location
/// stays in the details, which keep the whole text).
fn complete_panic_message(attempt: &mut Attempt) {
    let Some(failure) = attempt.failure.as_mut() else {
        return;
    };
    let Some(message) = failure.message.as_deref() else {
        return;
    };
    if !is_bare_panic_location(message) {
        return;
    }
    let found = [&failure.details, &attempt.stderr, &attempt.stdout]
        .into_iter()
        .flatten()
        .find_map(|text| crate::libtest::panic_message(text).filter(|m| m.as_str() != message));
    if let Some(found) = found.filter(|m| !is_bare_panic_location(m)) {
        failure.message = Some(found);
    }
}

/// `thread 'x' panicked at src/lib.rs:19:9` (with or without a thread id or a final colon):
/// a location and nothing else.
fn is_bare_panic_location(message: &str) -> bool {
    let Some(pos) = message.find("panicked at ") else {
        return false;
    };
    let location = message[pos + "panicked at ".len()..]
        .trim()
        .trim_end_matches(':');
    !location.starts_with('\'')
        && location.rsplitn(3, ':').count() == 3
        && location
            .rsplitn(3, ':')
            .take(2)
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(500).collect())
}

/// A `flakyFailure`/`rerunError`-style element: its own message, type, stack trace and output.
fn retry<R: Read>(xml: &mut XmlReader<R>, e: &Elem, outcome: Outcome) -> Result<Attempt> {
    let depth = xml.depth();
    let mut text = crate::xml::TextAcc::default();
    let mut stack = None;
    let mut stdout = None;
    let mut stderr = None;
    loop {
        match xml.next()? {
            Ev::Start(child) => match child.name.as_str() {
                "stackTrace" => stack = xml.read_text()?,
                "system-out" => stdout = xml.read_text()?,
                "system-err" => stderr = xml.read_text()?,
                _ => xml.skip()?,
            },
            Ev::Text(t) => text.push(&t),
            Ev::End(_) if xml.depth() < depth => break,
            Ev::End(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file inside a retry element")),
        }
    }
    let description = text.finish();
    let mut failure = failure_from(e, description.clone());
    if let Some(stack) = stack {
        failure.details = trim_text(&match description {
            Some(d) => format!("{d}\n{stack}"),
            None => stack,
        });
    }
    Ok(Attempt {
        outcome,
        duration: e.get("time").and_then(parse_seconds),
        failure: Some(failure).filter(|f| !f.is_empty()),
        stdout,
        stderr,
    })
}

/// Reads `<property name= value=/>` children (value as attribute or text) into `out`, which
/// holds at most [`MAX_PROPERTIES`]: the rest are skipped without being kept (5 million
/// properties must not cost memory).
fn read_properties<R: Read>(xml: &mut XmlReader<R>, out: &mut Vec<(String, String)>) -> Result<()> {
    let depth = xml.depth();
    loop {
        match xml.next()? {
            Ev::Start(_) if out.len() >= MAX_PROPERTIES => xml.skip()?,
            Ev::Start(p) if p.name == "property" => {
                let name = p.get("name").unwrap_or_default().to_string();
                match p.get("value") {
                    Some(v) => {
                        let v = v.to_string();
                        xml.skip()?;
                        out.push((name, v));
                    }
                    None => out.push((name, xml.read_text()?.unwrap_or_default())),
                }
            }
            Ev::Start(_) => xml.skip()?,
            Ev::End(_) if xml.depth() < depth => return Ok(()),
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file inside <properties>")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::collect_bytes;
    use flakehound_model::{Format, Outcome};

    #[test]
    fn nextest_flaky_and_rerun_attempts() {
        let doc = br#"<testsuites><testsuite name="s">
            <testcase name="flaky" classname="c" time="1.5">
              <flakyFailure message="boom" type="T">desc<stackTrace>st</stackTrace></flakyFailure>
              <flakyError type="E"/>
            </testcase>
            <testcase name="rerun" classname="c">
              <failure message="first"/>
              <rerunFailure message="second"/>
              <rerunError message="third"/>
            </testcase>
            <testcase name="ff" classname="c">
              <failure message="passed on attempt 3 but fail-on-flaky"/>
              <flakyFailure message="a"/>
            </testcase>
        </testsuite></testsuites>"#;
        let (info, cases) = collect_bytes(doc, None).unwrap();
        assert_eq!(info.format, Some(Format::Junit));
        let outcomes = |i: usize| {
            cases[i]
                .attempts
                .iter()
                .map(|a| a.outcome)
                .collect::<Vec<_>>()
        };
        assert_eq!(cases[0].outcome, Outcome::Passed);
        assert_eq!(
            outcomes(0),
            vec![Outcome::Failed, Outcome::Errored, Outcome::Passed]
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("boom"));
        assert_eq!(f.details.as_deref(), Some("desc\nst"));
        assert_eq!(cases[1].outcome, Outcome::Failed);
        assert_eq!(
            outcomes(1),
            vec![Outcome::Failed, Outcome::Failed, Outcome::Errored]
        );
        assert_eq!(
            cases[1].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("first")
        );
        assert_eq!(cases[2].outcome, Outcome::Failed);
        assert_eq!(outcomes(2), vec![Outcome::Failed, Outcome::Failed]);
        assert_eq!(cases[0].attempts[2].duration, Some(1.5));
    }

    /// As cargo-nextest 0.9.143 writes them (trimmed backtraces): the message attribute holds
    /// only the panic location; the assertion is in the body, or only in system-err.
    #[test]
    fn nextest_panic_messages_keep_the_assertion() {
        let doc = br#"<testsuites name="nextest-run"><testsuite name="nxt">
        <testcase name="tests::fails_eq" classname="nxt" time="0.141">
            <failure message="thread &apos;tests::fails_eq&apos; (30159) panicked at src/lib.rs:6:21" type="test failure with exit code 101">thread &apos;tests::fails_eq&apos; (30159) panicked at src/lib.rs:6:21:
assertion `left == right` failed: math is hard
  left: 4
 right: 5
stack backtrace:
   0: __rustc::rust_begin_unwind</failure>
            <system-out>
running 1 test
test tests::fails_eq ... FAILED
</system-out>
        </testcase>
        <testcase name="tests::only_stderr" classname="nxt">
            <flakyFailure message="thread &apos;tests::only_stderr&apos; panicked at src/lib.rs:8:24" type="test failure">
              <system-err>thread &apos;tests::only_stderr&apos; panicked at src/lib.rs:8:24:
boom
second line</system-err>
            </flakyFailure>
        </testcase>
        <testcase name="tests::old" classname="nxt">
            <failure message="thread &apos;x&apos; panicked at &apos;explicit&apos;, src/lib.rs:1:1"/>
        </testcase>
        </testsuite></testsuites>"#;
        let (_, cases) = collect_bytes(doc, None).unwrap();
        let message = |c: usize| {
            let f = cases[c].attempts[0].failure.as_ref().unwrap();
            (
                f.message.clone().unwrap(),
                f.details.clone().unwrap_or_default(),
            )
        };
        let (m, d) = message(0);
        assert_eq!(m, "assertion `left == right` failed: math is hard");
        assert!(
            d.contains("panicked at src/lib.rs:6:21") && d.contains("left: 4"),
            "{d}"
        );
        assert_eq!(message(1).0, "boom");
        assert_eq!(
            message(2).0,
            "thread 'x' panicked at 'explicit', src/lib.rs:1:1"
        );
    }

    #[test]
    fn result_element_wins_over_status_attribute() {
        // A disabled (or skipped/passed-by-status) test case that holds a failure or error
        // element ran and failed: the element is what happened, the attribute is metadata.
        let doc = br#"<testsuite name="x">
            <testcase name="a" classname="c" status="disabled"><failure message="boom"/></testcase>
            <testcase name="b" classname="c" status="disabled">
              <failure message="first">trace</failure>
            </testcase>
            <testcase name="c" classname="c" status="ignored"><error message="e"/></testcase>
            <testcase name="d" classname="c" status="passed"><failure/></testcase>
            <testcase name="e" classname="c" result="skipped"><failure message="f"/></testcase>
            <testcase name="f" classname="c" status="disabled"><skipped/></testcase>
            <testcase name="g" classname="c" status="failed"><skipped/></testcase>
        </testsuite>"#;
        let (_, cases) = collect_bytes(doc, None).unwrap();
        let o: Vec<_> = cases.iter().map(|c| c.outcome).collect();
        assert_eq!(
            o,
            vec![
                Outcome::Failed,
                Outcome::Failed,
                Outcome::Errored,
                Outcome::Failed,
                Outcome::Failed,
                Outcome::Skipped,
                Outcome::Skipped,
            ]
        );
        let message = |i: usize| {
            cases[i].attempts[0]
                .failure
                .as_ref()
                .and_then(|f| f.message.clone())
        };
        assert_eq!(message(0).as_deref(), Some("boom"));
        assert_eq!(message(1).as_deref(), Some("first"));
        assert_eq!(message(4).as_deref(), Some("f"));
    }

    #[test]
    fn severity_and_status_attributes() {
        let doc = br#"<testsuite name="x">
            <testcase name="a" classname="c"><skipped/><failure/></testcase>
            <testcase name="b" classname="c"><failure/><error message="e"/></testcase>
            <testcase name="c" classname="c" status="disabled"/>
            <testcase name="d" classname="c"><skipped message="why"/></testcase>
            <testcase/>
            <testcase classname="only-class" time="-1"/>
        </testsuite>"#;
        // Records without name and classname still count (corpus rule).
        let (_, cases) = collect_bytes(doc, None).unwrap();
        let o: Vec<_> = cases.iter().map(|c| c.outcome).collect();
        assert_eq!(
            o,
            vec![
                Outcome::Failed,
                Outcome::Errored,
                Outcome::Skipped,
                Outcome::Skipped,
                Outcome::Passed,
                Outcome::Passed
            ]
        );
        assert_eq!(cases[4].id, "x::(unnamed)");
        assert_eq!(
            cases[1].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("e")
        );
        assert_eq!(
            cases[3].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("why")
        );
        assert_eq!(cases[5].id, "only-class");
        assert_eq!(cases[5].attempts[0].duration, None);
    }

    #[test]
    fn pytest_ids_nested_suites_and_properties() {
        let doc = br#"<?xml version="1.0"?><testsuites><testsuite name="pytest" timestamp="2020-09-04T16:18:04">
            <properties><property name="env" value="ci"/></properties>
            <testsuite name="inner">
            <testcase classname="tests.test_x.TestY" name="test_z[1]" file="tests/test_x.py" line="12" time="0,5">
              <properties><property name="p">v</property></properties>
              <system-out>out</system-out>
            </testcase></testsuite>
            <testcase classname="tests.test_a" name="test_b"/>
        </testsuite></testsuites>"#;
        let (info, cases) = collect_bytes(doc, None).unwrap();
        assert_eq!(info.tool.as_deref(), Some("pytest"));
        assert_eq!(info.properties, vec![("env".to_string(), "ci".to_string())]);
        assert_eq!(cases[0].id, "tests/test_x.py::TestY::test_z[1]");
        assert_eq!(cases[0].suite, vec!["pytest", "inner"]);
        // pytest writes 0-based lines.
        assert_eq!(cases[0].line, Some(13));
        assert_eq!(cases[0].attempts[0].duration, Some(0.5));
        assert_eq!(cases[0].attempts[0].stdout.as_deref(), Some("out"));
        assert_eq!(
            cases[0].properties,
            vec![("p".to_string(), "v".to_string())]
        );
        assert_eq!(cases[0].timestamp, None);
        assert_eq!(info.timestamp.as_deref(), Some("2020-09-04T16:18:04"));
        assert_eq!(cases[1].id, "tests/test_a.py::test_b");
    }

    #[test]
    fn aggregate_counts_only_when_no_case_at_all() {
        let doc =
            br#"<testsuites><testsuite name="a" tests="6" failures="1" skipped="2"/></testsuites>"#;
        let (info, cases) = collect_bytes(doc, None).unwrap();
        assert!(cases.is_empty());
        let agg = info.aggregate.unwrap();
        assert_eq!(
            (agg.tests, agg.passed, agg.failed, agg.skipped),
            (6, 3, 1, 2)
        );
        let doc = br#"<testsuites><testsuite name="a" tests="6"/><testsuite><testcase name="x"/></testsuite></testsuites>"#;
        let (info, cases) = collect_bytes(doc, None).unwrap();
        assert_eq!(cases.len(), 1);
        assert!(info.aggregate.is_none());
    }

    #[test]
    fn truncated_and_unknown_roots_are_errors() {
        assert!(collect_bytes(b"<testsuites><testsuite><testcase name='a'>", None).is_err());
        let err = collect_bytes(b"<suites/>", None).unwrap_err().to_string();
        assert!(err.contains("unknown root element <suites>"), "{err}");
        let err = collect_bytes(b"", None).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = collect_bytes(
            b"<testsuite>\n<testcase name='a'>\x01</testcase></testsuite>",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
