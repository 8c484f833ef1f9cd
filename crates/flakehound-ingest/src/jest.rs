//! jest's JSON results (`jest --json --outputFile=x.json`), also written by vitest's `json`
//! reporter: `{"numTotalTests": .., "startTime": .., "testResults": [{"name": "/abs/a.test.js",
//! "status", "message", "assertionResults": [{"ancestorTitles", "title", "fullName", "status",
//! "duration", "failureMessages", "location", "invocations", "retryReasons"}]}]}`.
//!
//! `testResults` is streamed one assertion at a time (a file's entries are never built whole;
//! assertions read before the file's `name` wait in memory, then in a temporary file). Mapping
//! choices:
//!
//! - **Records**: one per `assertionResults` entry. An entry with neither `title` nor `fullName`
//!   is dropped.
//! - **Outcome** from `status`: `passed` → passed, `failed` → failed (jest does not tell an
//!   assertion from an exception; jest-junit writes both as `<failure>`), `pending`, `skipped`,
//!   `todo`, `disabled` → skipped. An unknown status is failed when the entry has failure
//!   messages, else skipped. `invocations: 0` means the test was collected but not run
//!   (`jest --collectTests` reports those as `passed`) → skipped.
//! - **Retries** (`jest.retryTimes`): `invocations: n` means the test ran `n` times and jest only
//!   retries after a failure, so `n - 1` failed attempts precede the final one. Their failures
//!   come from `retryReasons` when jest kept them (`logErrorsBeforeRetry`), else they have no
//!   details. vitest's JSON has no `invocations`: the errors of failed tries of a test that
//!   finally passed stay in its `failureMessages`, one per earlier attempt. At most 100 earlier
//!   attempts are added.
//! - **Names**: `name` = `title`; `suite` = `ancestorTitles` (describe blocks, outermost first);
//!   `classname` = the describe blocks joined by ` › ` (`None` for a top-level test), as jest
//!   prints them. `line` = `location.line` (only with `--testLocationInResults`).
//! - **File**: `testResults[].name` is absolute. It is made relative to the current directory
//!   when it lies under it (jest's `rootDir` is not in the report; flakehound normally runs where
//!   the tests run, so this gives the paths users see in jest's output), else kept as written.
//!   Backslashes of a relative Windows path become `/`.
//! - **Id**: the jest dialect `path › describe › … › title`. It is built from the path and
//!   the whole ` › `-joined title, not from `classname` and `name`: the dialect's jest-junit rule
//!   (leave the classname out when the name starts with it) would otherwise lose a describe block
//!   whose title is a prefix of its test's (`describe('parse')` › `it('parses x')`).
//! - **Failure**: the first failure message with ANSI codes stripped: its first line is the
//!   message, the rest (stack) plus any further messages are the details; the kind is the error
//!   class the message starts with (`TypeError`, or `Error` for expect's failures).
//! - **Test files that failed as a whole**: a file whose `message` has jest's `● Test suite
//!   failed to run` section (a syntax error, a missing module, a failing `afterAll`), or whose
//!   `status` is `failed` without any failed test, gives one more record, errored, for the file:
//!   id and name = the file path, no suite. Its failure is that section (or the whole message).
//! - **Report**: tool `jest` (`vitest` when entries carry vitest's `meta`); timestamp =
//!   `startTime` (ms since epoch) as RFC 3339; duration = latest `endTime` of a file minus
//!   `startTime`.

use crate::ctrf::json::{self, JsonDoc, Want};
use crate::spill::Spill;
use crate::{Error, Result, Sink};
use flakehound_model::{
    Attempt, Dialect, Failure, Format, Outcome, ReportInfo, TestCase, canonical_id, trim_text,
};
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::Path;

/// Most earlier (retried) attempts added to one record.
const MAX_RETRIES: usize = 100;

pub(crate) fn sniff(head: &str) -> bool {
    let Some(keys) = json::head_keys(head, 3) else {
        return false;
    };
    let top_number = |k: &str| {
        keys.iter()
            .any(|h| h.path.is_empty() && h.key == k && h.value.is_ascii_digit())
    };
    // jest writes the counts first (alphabetically); the first file's results follow.
    let counts = top_number("numTotalTests")
        && ["numTotalTestSuites", "numFailedTests", "numPassedTests"]
            .iter()
            .any(|k| top_number(k));
    let results = keys
        .iter()
        .any(|h| h.path == "testResults.[]" && h.key == "assertionResults" && h.value == b'[');
    counts || results
}

pub(crate) fn parse<R: BufRead>(input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    let cwd = std::env::current_dir().ok();
    parse_relative_to(input, cwd.as_deref(), sink)
}

/// [`parse`], making file paths relative to `base`.
pub(crate) fn parse_relative_to<R: BufRead>(
    mut input: R,
    base: Option<&Path>,
    sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    json::skip_bom(&mut input)?;
    let mut doc = JestDoc {
        sink,
        bases: bases(base),
        saw_results: false,
        start: None,
        end: None,
        vitest: false,
        file: FileEntry::default(),
    };
    json::stream_doc(input, "jest JSON", &mut doc)?;
    if !doc.saw_results {
        return Err(Error::parse(
            "not jest JSON: no top-level \"testResults\" array",
        ));
    }
    let duration = match (doc.start, doc.end) {
        (Some(a), Some(b)) if b >= a => json::ms_to_secs(Some(b - a)),
        _ => None,
    };
    Ok(ReportInfo {
        format: Some(Format::JestJson),
        tool: Some(if doc.vitest { "vitest" } else { "jest" }.into()),
        timestamp: doc.start.and_then(json::epoch_ms_to_rfc3339),
        duration,
        ..ReportInfo::default()
    })
}

/// The prefixes to strip from absolute paths: `base` as given and canonicalised (a symlinked
/// working directory, such as macOS's `/tmp`), each ending with a separator.
fn bases(base: Option<&Path>) -> Vec<String> {
    let Some(base) = base else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let canonical = std::fs::canonicalize(base).ok();
    for b in std::iter::once(base).chain(canonical.as_deref()) {
        let mut s = b.to_string_lossy().into_owned();
        if s.is_empty() {
            continue;
        }
        if !s.ends_with(['/', '\\']) {
            s.push(if s.contains('\\') && !s.contains('/') {
                '\\'
            } else {
                '/'
            });
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// `path` relative to the first of `bases` it lies under, else as written.
fn relativize(path: &str, bases: &[String]) -> String {
    for b in bases {
        if let Some(rest) = path.strip_prefix(b.as_str()).filter(|r| !r.is_empty()) {
            return if b.ends_with('\\') {
                rest.replace('\\', "/")
            } else {
                rest.to_string()
            };
        }
    }
    path.to_string()
}

struct JestDoc<'a, 's> {
    sink: &'a mut Sink<'s>,
    bases: Vec<String>,
    saw_results: bool,
    /// `startTime` and the latest file `endTime`, ms since the epoch.
    start: Option<f64>,
    end: Option<f64>,
    vitest: bool,
    /// The `testResults` entry being read.
    file: FileEntry,
}

/// What is known of the `testResults` entry being streamed. jest writes its keys in
/// alphabetical order, so `assertionResults` comes before the `name` every record's id needs:
/// assertions read before it wait in a [`Spill`] (memory, then a temporary file).
struct FileEntry {
    path: Option<String>,
    saw_name: bool,
    status: Option<String>,
    message: Option<String>,
    any_failed: bool,
    waiting: Spill<Value>,
}

impl Default for FileEntry {
    fn default() -> Self {
        FileEntry {
            path: None,
            saw_name: false,
            status: None,
            message: None,
            any_failed: false,
            waiting: Spill::new(1_000),
        }
    }
}

impl JsonDoc for JestDoc<'_, '_> {
    fn want(&mut self, path: &[String], key: &str) -> Want {
        if path.len() == 1 {
            // Inside a `testResults` entry.
            return match key {
                "assertionResults" => Want::Elements,
                "name" | "status" | "message" | "endTime" => Want::Value,
                _ => Want::Skip,
            };
        }
        if !path.is_empty() {
            return Want::Skip;
        }
        match key {
            "testResults" => {
                self.saw_results = true;
                Want::ObjectElements
            }
            "startTime" => Want::Value,
            _ => Want::Skip,
        }
    }

    fn value(&mut self, path: &[String], key: &str, v: Value) -> Result<()> {
        if path.len() == 1 {
            match key {
                "name" => {
                    self.file.path = json::string_of(Some(&v)).map(|p| relativize(&p, &self.bases));
                    self.file.saw_name = true;
                    let mut waiting = std::mem::replace(&mut self.file.waiting, Spill::new(0));
                    waiting.drain(|entry| self.assertion(entry))?;
                }
                "status" => self.file.status = json::string_of(Some(&v)),
                "message" => self.file.message = json::string_of(Some(&v)),
                "endTime" => {
                    if let Some(end) = json::number_of(Some(&v)).filter(|n| *n > 0.0) {
                        self.end = Some(self.end.map_or(end, |e| e.max(end)));
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        if key == "startTime" {
            self.start = json::number_of(Some(&v)).filter(|n| *n > 0.0);
        }
        Ok(())
    }

    fn element(&mut self, _path: &[String], _key: &str, v: Value) -> Result<()> {
        if self.file.saw_name {
            self.assertion(v)
        } else {
            self.file.waiting.push(v)
        }
    }

    fn element_start(&mut self, _path: &[String], _key: &str) -> Result<()> {
        self.file = FileEntry::default();
        Ok(())
    }

    fn element_end(&mut self, _path: &[String], _key: &str) -> Result<()> {
        // A file without a name: its assertions still count, without a path.
        self.file.saw_name = true;
        let mut waiting = std::mem::replace(&mut self.file.waiting, Spill::new(0));
        waiting.drain(|entry| self.assertion(entry))?;
        self.file_end()
    }
}

impl JestDoc<'_, '_> {
    /// Emits the record of one `assertionResults` entry.
    fn assertion(&mut self, entry: Value) -> Result<()> {
        let Value::Object(entry) = entry else {
            return Ok(());
        };
        self.vitest |= entry.contains_key("meta");
        if let Some(case) = test_case(&entry, self.file.path.as_deref()) {
            self.file.any_failed |= case.outcome.is_failure();
            (self.sink)(case)?;
        }
        Ok(())
    }

    /// The record of a test file that failed as a whole, if it did.
    fn file_end(&mut self) -> Result<()> {
        let path = self.file.path.clone();
        let message = self.file.message.as_deref().map(json::strip_ansi);
        let section = message.as_deref().and_then(suite_failure_section);
        let failed = self.file.status.as_deref() == Some("failed");
        // A failed file without a failed test failed for a reason of its own.
        let unexplained = failed && !self.file.any_failed;
        if section.is_none() && !unexplained {
            return Ok(());
        }
        let text = section.or(message);
        let failure = text.as_deref().and_then(failure_from_text).or_else(|| {
            Some(Failure {
                message: Some("test file failed without a failed test".into()),
                ..Failure::default()
            })
        });
        let name = path.clone().unwrap_or_else(|| "(unnamed test file)".into());
        let mut attempt = Attempt::new(Outcome::Errored);
        attempt.failure = failure;
        (self.sink)(TestCase {
            id: canonical_id(Dialect::Jest, None, &name, None, None),
            classname: None,
            name,
            file: path,
            line: None,
            suite: Vec::new(),
            outcome: Outcome::Errored,
            attempts: vec![attempt],
            properties: Vec::new(),
            timestamp: None,
        })
    }
}

/// The record of one `assertionResults` entry; `None` when it has no title at all.
fn test_case(entry: &Map<String, Value>, path: Option<&str>) -> Option<TestCase> {
    let suite: Vec<String> = match entry.get("ancestorTitles") {
        Some(Value::Array(a)) => a.iter().filter_map(|t| json::string_of(Some(t))).collect(),
        _ => Vec::new(),
    };
    let name = match json::string_of(entry.get("title")) {
        Some(t) => t,
        None => json::own_title(&json::string_of(entry.get("fullName"))?, &suite),
    };
    let messages = strings(entry.get("failureMessages"));
    let reasons = strings(entry.get("retryReasons"));
    let invocations = json::number_of(entry.get("invocations")).filter(|n| *n >= 0.0);
    let status = json::string_of(entry.get("status")).unwrap_or_default();
    let outcome = match status.as_str() {
        _ if invocations == Some(0.0) => Outcome::Skipped,
        "passed" => Outcome::Passed,
        "failed" => Outcome::Failed,
        "pending" | "skipped" | "todo" | "disabled" => Outcome::Skipped,
        _ if !messages.is_empty() => Outcome::Failed,
        _ => Outcome::Skipped,
    };

    // Earlier attempts: jest counts them in `invocations`; vitest leaves the errors of the
    // failed tries of a test that finally passed in `failureMessages`.
    let vitest_retries = invocations.is_none() && outcome == Outcome::Passed;
    let (reasons, final_messages) = if reasons.is_empty() && vitest_retries {
        (messages, Vec::new())
    } else {
        (reasons, messages)
    };
    let counted = invocations.map_or(0, |n| (n.min(1e6) as usize).saturating_sub(1));
    let earlier = if outcome == Outcome::Skipped {
        0
    } else {
        counted.max(reasons.len()).min(MAX_RETRIES)
    };
    let mut attempts: Vec<Attempt> = (0..earlier)
        .map(|i| {
            let mut a = Attempt::new(Outcome::Failed);
            a.failure = reasons.get(i).and_then(|r| failure_from_text(r));
            a
        })
        .collect();
    let mut last = Attempt::new(outcome);
    last.duration = json::ms_to_secs(json::number_of(entry.get("duration")));
    if outcome != Outcome::Passed {
        last.failure = failure_from_messages(&final_messages);
    }
    attempts.push(last);

    let line = match entry.get("location") {
        Some(Value::Object(loc)) => json::line_of_value(loc.get("line")),
        _ => None,
    };
    // The id: the path, then every title (see the module docs for why not `classname`).
    let titles: Vec<&str> = suite
        .iter()
        .map(String::as_str)
        .chain([name.as_str()])
        .filter(|t| !t.trim().is_empty())
        .collect();
    let id = canonical_id(Dialect::Jest, None, &titles.join(" › "), path, None);
    Some(TestCase {
        id,
        classname: (!suite.is_empty()).then(|| suite.join(" › ")),
        name,
        file: path.map(str::to_string),
        line,
        suite,
        outcome,
        attempts,
        properties: Vec::new(),
        timestamp: None,
    })
}

/// The strings of an array value (other elements are ignored).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|m| json::string_of(Some(m))).collect(),
        Some(v @ Value::String(_)) => json::string_of(Some(v)).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A failure from jest's failure messages: the first one's first line is the message, its other
/// lines and the further messages the details.
fn failure_from_messages(messages: &[String]) -> Option<Failure> {
    let (first, more) = messages.split_first()?;
    let mut failure = failure_from_text(first)?;
    if !more.is_empty() {
        let mut details = failure.details.take().unwrap_or_default();
        for m in more {
            let m = json::strip_ansi(m);
            if !details.is_empty() {
                details.push_str("\n\n");
            }
            details.push_str(m.trim());
        }
        failure.details = trim_text(&details);
    }
    Some(failure)
}

/// A failure from one error text (ANSI codes removed): first non-blank line = message, the
/// lines after it (common indentation removed) = details.
fn failure_from_text(text: &str) -> Option<Failure> {
    let text = json::strip_ansi(text);
    let mut lines = text.lines();
    let first = lines.by_ref().find(|l| !l.trim().is_empty())?;
    let rest: Vec<&str> = lines.collect();
    let f = Failure {
        kind: json::js_error_kind(first),
        message: json::first_line(first),
        details: trim_text(&dedent(&rest)),
    };
    (!f.is_empty()).then_some(f)
}

/// `lines` joined, without the indentation they all share (jest indents its report sections).
fn dedent(lines: &[&str]) -> String {
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or_else(|| l.trim_start()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of the `● Test suite failed to run` section of a test file's message (up to the
/// next `●` section), without its heading.
fn suite_failure_section(message: &str) -> Option<String> {
    let mut lines = message.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "● Test suite failed to run")?;
    let body: Vec<&str> = lines
        .take_while(|l| !l.trim_start().starts_with("● "))
        .collect();
    Some(dedent(&body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    /// Captured from jest 30.5 (`jest --json --testLocationInResults`), trimmed stacks, with
    /// the file paths under `/w/proj`.
    const REPORT: &str = include_str!("../tests/data/jest-30.json");

    fn parse_in(doc: &str, base: &str) -> (ReportInfo, Vec<TestCase>) {
        let mut cases = Vec::new();
        let info = parse_relative_to(doc.as_bytes(), Some(Path::new(base)), &mut |c| {
            cases.push(c);
            Ok(())
        })
        .unwrap();
        (info, cases)
    }

    fn outcomes(case: &TestCase) -> Vec<Outcome> {
        case.attempts.iter().map(|a| a.outcome).collect()
    }

    #[test]
    fn sniffs_jest_only() {
        assert!(sniff(REPORT));
        assert!(sniff(
            r#"{"numFailedTestSuites":0,"numFailedTests":0,"numPassedTestSuites":1,"numPassedTests":2,"numTotalTests":2"#
        ));
        assert!(sniff(
            r#"{"testResults":[{"assertionResults":[{"ancestorTitles":[]"#
        ));
        // vitest's json reporter.
        assert!(sniff(
            r#"{"numTotalTestSuites":6,"numPassedTestSuites":2,"numTotalTests":11,"snapshot":{}"#
        ));
        assert!(!sniff(r#"{"numTotalTests":"x","numFailedTests":1}"#));
        assert!(!sniff(r#"{"testResults":[{"name":"a"}]}"#));
        assert!(!sniff(r#"{"stats":{"tests":1},"tests":[]}"#));
        assert!(!sniff(r#"{"results":{"tool":{"name":"jest"},"tests":[]}}"#));
        assert!(!sniff(r#"{"x":{"numTotalTests":1,"numFailedTests":1}}"#));
        assert!(!sniff("numTotalTests numFailedTests"));
    }

    #[test]
    fn maps_a_real_jest_report() {
        let (info, cases) = parse_in(REPORT, "/w/proj");
        assert_eq!(info.format, Some(Format::JestJson));
        assert_eq!(info.tool.as_deref(), Some("jest"));
        assert_eq!(info.timestamp.as_deref(), Some("2026-11-22T05:16:28.050Z"));
        assert!(
            info.duration.is_some_and(|d| d > 0.0 && d < 10.0),
            "{info:?}"
        );
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                ("jest/math.test.js › math › adds numbers", Outcome::Passed),
                (
                    "jest/math.test.js › math › edge (cases)|[x] › divides by $0.50 * 2?",
                    Outcome::Passed
                ),
                (
                    "jest/math.test.js › math › edge (cases)|[x] › fails on purpose",
                    Outcome::Failed
                ),
                ("jest/math.test.js › math › sum 1 + 2 = 3", Outcome::Passed),
                ("jest/math.test.js › math › sum 2 + 3 = 5", Outcome::Passed),
                ("jest/math.test.js › math › skipped one", Outcome::Skipped),
                ("jest/math.test.js › math › write more", Outcome::Skipped),
                ("jest/math.test.js › top level test", Outcome::Passed),
                ("jest/math.test.js › math adds numbers", Outcome::Passed),
                ("jest/math.test.js › parse › parses x", Outcome::Passed),
                (
                    "jest/nested/flaky.test.js › flaky › passes on the second try",
                    Outcome::Passed
                ),
                (
                    "jest/nested/flaky.test.js › flaky › adds numbers",
                    Outcome::Passed
                ),
                (
                    "jest/nested/retry.test.js › retry › always fails",
                    Outcome::Failed
                ),
                (
                    "jest/hooks.test.js › after all fails › ok one",
                    Outcome::Passed
                ),
                ("jest/hooks.test.js", Outcome::Errored),
                ("jest/broken.test.js", Outcome::Errored),
            ]
        );
        let edge = &cases[2];
        assert_eq!(edge.name, "fails on purpose");
        assert_eq!(edge.suite, ["math", "edge (cases)|[x]"]);
        assert_eq!(edge.classname.as_deref(), Some("math › edge (cases)|[x]"));
        assert_eq!(edge.file.as_deref(), Some("jest/math.test.js"));
        assert_eq!(edge.line, Some(10));
        let f = edge.attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.kind.as_deref(), Some("Error"));
        assert_eq!(
            f.message.as_deref(),
            Some("Error: expect(received).toBe(expected) // Object.is equality")
        );
        let details = f.details.as_deref().unwrap();
        assert!(
            details.starts_with("Expected: 3\nReceived: 2\n"),
            "{details}"
        );
        assert!(details.contains("math.test.js:11:21"), "{details}");
        assert!(!details.contains('\u{1b}'), "{details}");
        assert_eq!(edge.attempts[0].duration, Some(0.002));

        let top = &cases[7];
        assert_eq!((top.classname.as_deref(), top.suite.len()), (None, 0));
        assert_eq!(cases[5].attempts[0].duration, None);
    }

    #[test]
    fn invocations_and_retry_reasons_become_attempts() {
        let (_, cases) = parse_in(REPORT, "/w/proj");
        let flaky = &cases[10];
        assert_eq!(outcomes(flaky), [Outcome::Failed, Outcome::Passed]);
        assert_eq!(flaky.attempts[0].failure, None);
        let always = &cases[12];
        assert_eq!(
            outcomes(always),
            [
                Outcome::Failed,
                Outcome::Failed,
                Outcome::Failed,
                Outcome::Failed
            ]
        );
        let msg = |i: usize| always.attempts[i].failure.as_ref().unwrap().message.clone();
        assert_eq!(msg(0).as_deref(), Some("Error: fail #1"));
        assert_eq!(msg(2).as_deref(), Some("Error: fail #3"));
        assert_eq!(msg(3).as_deref(), Some("Error: fail #4"));
    }

    #[test]
    fn files_that_failed_to_run_are_errored_records() {
        let (_, cases) = parse_in(REPORT, "/w/proj");
        let broken = &cases[15];
        assert_eq!(broken.name, "jest/broken.test.js");
        assert_eq!(broken.file.as_deref(), Some("jest/broken.test.js"));
        assert!(broken.suite.is_empty());
        let f = broken.attempts[0].failure.as_ref().unwrap();
        assert_eq!(
            f.message.as_deref(),
            Some("Cannot find module './does-not-exist' from 'jest/broken.test.js'")
        );
        assert!(
            f.details
                .as_deref()
                .unwrap()
                .contains("| require('./does-not-exist');"),
            "{f:?}"
        );
        // A failing afterAll: the tests passed, the file did not.
        let hooks = &cases[14];
        let f = hooks.attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("teardown broke"));
        // Failed status without a failed test and without a message.
        let doc = r#"{"testResults":[{"name":"/a/x.test.js","status":"failed","message":"",
            "assertionResults":[{"title":"t","status":"passed"}]}]}"#;
        let (_, cases) = parse_in(doc, "/a");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[1].outcome, Outcome::Errored);
        assert_eq!(cases[1].id, "x.test.js");
        let f = cases[1].attempts[0].failure.as_ref().unwrap();
        assert!(
            f.message
                .as_deref()
                .unwrap()
                .contains("without a failed test")
        );
    }

    #[test]
    fn reads_vitest_json_retries() {
        let doc = r#"{"numTotalTestSuites":1,"numTotalTests":2,"startTime":1795324394467,"success":true,
          "testResults":[{"assertionResults":[
            {"ancestorTitles":["flaky"],"fullName":"flaky passes on the second try","status":"passed",
             "title":"passes on the second try","duration":5.15,"failureMessages":["Error: first try fails 1\n    at /w/v/flaky.test.mjs:6:26"],"meta":{}},
            {"ancestorTitles":[],"fullName":"t","status":"failed","title":"t","duration":1,
             "failureMessages":["\u001b[31mAssertionError: expected 2 to be 3\u001b[39m\n    at x"],"meta":{}}],
            "startTime":1795324394500,"endTime":1795324394600,"status":"passed","message":"","name":"/w/v/flaky.test.mjs"},
           {"assertionResults":[],"status":"failed","name":"/w/v/broken.test.mjs",
            "message":"Cannot find module './nope.mjs' imported from /w/v/broken.test.mjs"}]}"#;
        let (info, cases) = parse_in(doc, "/w");
        assert_eq!(info.tool.as_deref(), Some("vitest"));
        assert_eq!(info.duration, Some(0.133));
        assert_eq!(cases.len(), 3);
        assert_eq!(outcomes(&cases[0]), [Outcome::Failed, Outcome::Passed]);
        assert_eq!(
            cases[0].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("Error: first try fails 1")
        );
        assert_eq!(cases[0].attempts[1].failure, None);
        assert_eq!(outcomes(&cases[1]), [Outcome::Failed]);
        // ANSI colour codes are removed.
        let f = cases[1].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.kind.as_deref(), Some("AssertionError"));
        assert_eq!(
            f.message.as_deref(),
            Some("AssertionError: expected 2 to be 3")
        );
        assert_eq!(f.details.as_deref(), Some("at x"));
        assert_eq!(cases[2].id, "v/broken.test.mjs");
        assert_eq!(cases[2].outcome, Outcome::Errored);
    }

    #[test]
    fn statuses_and_collect_only() {
        let doc = r#"{"testResults":[{"name":"rel/a.test.js","assertionResults":[
            {"title":"p","status":"pending"},{"title":"s","status":"skipped"},
            {"title":"t","status":"todo"},{"title":"d","status":"disabled"},
            {"title":"c","status":"passed","invocations":0,"wouldRun":true},
            {"title":"u","status":"weird"},{"title":"v","status":"weird","failureMessages":["x"]},
            {"fullName":"Outer only full","ancestorTitles":["Outer"],"status":"passed"},
            {"status":"passed"}]}]}"#;
        let (_, cases) = parse_in(doc, "/elsewhere");
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                ("rel/a.test.js › p", Outcome::Skipped),
                ("rel/a.test.js › s", Outcome::Skipped),
                ("rel/a.test.js › t", Outcome::Skipped),
                ("rel/a.test.js › d", Outcome::Skipped),
                ("rel/a.test.js › c", Outcome::Skipped),
                ("rel/a.test.js › u", Outcome::Skipped),
                ("rel/a.test.js › v", Outcome::Failed),
                ("rel/a.test.js › Outer › only full", Outcome::Passed),
            ]
        );
    }

    #[test]
    fn paths_outside_the_base_stay_absolute() {
        let doc = r#"{"testResults":[{"name":"/other/a.test.js","assertionResults":[{"title":"t","status":"passed"}]},
            {"name":"C:\\w\\src\\b.test.js","assertionResults":[{"title":"t","status":"passed"}]}]}"#;
        let (_, cases) = parse_in(doc, "/w");
        assert_eq!(cases[0].id, "/other/a.test.js › t");
        assert_eq!(cases[1].file.as_deref(), Some("C:\\w\\src\\b.test.js"));
        let (_, cases) = parse_in(doc, "C:\\w");
        assert_eq!(cases[1].file.as_deref(), Some("src/b.test.js"));
        // A base without a trailing separator must not strip a sibling's prefix.
        let (_, cases) = parse_in(doc, "/oth");
        assert_eq!(cases[0].file.as_deref(), Some("/other/a.test.js"));
    }

    #[test]
    fn rejects_broken_documents() {
        let cut = &REPORT[..REPORT.find("\"jest/nested").unwrap_or(REPORT.len() / 2)];
        let err = collect_bytes(cut.as_bytes(), None).unwrap_err().to_string();
        assert!(err.contains("jest JSON report is truncated"), "{err}");
        assert!(err.starts_with("line "), "{err}");
        let err = collect_bytes(br#"{"numTotalTests":1,"numFailedTests":0}"#, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no top-level \"testResults\""), "{err}");
        let err = collect_bytes(
            b"{\"numTotalTests\":1,\"numFailedTests\":0,\n\"testResults\":{}}",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("line 2: jest JSON report has an unexpected structure"),
            "{err}"
        );
        assert!(
            err.contains("expected an array as \"testResults\""),
            "{err}"
        );
    }

    #[test]
    fn never_panics_on_prefixes_or_odd_values() {
        for n in 0..REPORT.len() {
            if REPORT.is_char_boundary(n) {
                let _ = collect_bytes(&REPORT.as_bytes()[..n], Some(Format::JestJson));
            }
        }
        let odd = r#"{"startTime":"x","testResults":[1,null,"s",{"name":5,"status":[],"message":{},
            "assertionResults":[1,{"title":7,"ancestorTitles":"no","status":null,"duration":-3,
            "invocations":1e300,"retryReasons":[1,null],"location":{"line":-1}},
            {"title":"t","invocations":-2,"failureMessages":"boom","status":"failed"}]}]}"#;
        let (_, cases) = collect_bytes(odd.as_bytes(), Some(Format::JestJson)).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].name, "7");
        assert_eq!(cases[0].attempts.len(), 1);
        assert_eq!(cases[0].attempts[0].duration, None);
        assert_eq!(cases[0].line, None);
        assert_eq!(cases[1].outcome, Outcome::Failed);
        assert_eq!(
            cases[1].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("boom")
        );
    }
}
