//! Mocha's built-in JSON reporter (`mocha --reporter json`):
//! `{"stats":{..},"tests":[..],"pending":[..],"failures":[..],"passes":[..]}`, each entry
//! `{title, fullTitle, file, duration, currentRetry, err}`.
//!
//! The arrays are read as a stream, but records are emitted at the end: whether a `tests` entry
//! was pending is only known from the `pending` array that follows it. Entries waiting for the
//! end are kept compact, the first 2,000 in memory and the rest in a temporary file. Mapping
//! choices:
//!
//! - **Records**: the `tests` array is authoritative when present (one record per entry;
//!   pending tests are in it too). A `failures` entry that matches no `tests` entry (by
//!   `fullTitle` and `file`) is a hook or uncaught failure (`"before each" hook for "x"`):
//!   Mocha never lists it in `tests`, so it becomes a record of its own, errored. Without a
//!   `tests` array, `passes`, `failures` and `pending` give the records.
//! - **Outcome**: listed in `pending` (or `pending: true`/`state: "pending"`) → skipped; a
//!   non-empty `err` → failed when it is an assertion failure, errored otherwise (JUnit's
//!   failure/error split). Assertion failures are errors whose class (`name`, or the class the
//!   `stack` starts with) contains `Assert`/`Expectation` or is unexpected.js's
//!   `UnexpectedError`, or that carry assertion fields (`actual`+`expected`, `operator`,
//!   `showDiff: true`, `code: "ERR_ASSERTION"`); an `err` with no class at all counts as a
//!   failure. So a thrown `Error: Required` or a timeout is errored. (The corpus's JUnit
//!   conversion instead marks errors with unexpected.js's `errorMode` as errors; the counts are
//!   the same.) Hook failures → errored. Anything else → passed.
//! - **Retries**: `currentRetry: n` means the test ran `n` times before its final result, each
//!   of them failing (Mocha only retries failures): `n` failed attempts without details precede
//!   the final one (at most 100).
//! - **Names**: the JSON reporter does not keep describe boundaries, only `fullTitle` =
//!   describes and title joined by spaces. `name` = `title`; the enclosing describes
//!   (`fullTitle` minus the title) form one suite entry and the classname. `file` as written.
//!   Ids use the jest style (`file › describes › title`).
//! - **Failure**: `err.message` (first line) and `err.stack`; kind = `err.name` or the class the
//!   stack starts with. ANSI colour codes are removed.
//! - **Report**: tool `mocha`; timestamp = `stats.start`; duration = `stats.duration` (ms).

use crate::ctrf::json::{self, JsonDoc, Want};
use crate::spill::Spill;
use crate::{Error, Result, Sink};
use flakehound_model::{Attempt, Failure, Format, Outcome, ReportInfo, TestCase};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::BufRead;

pub(crate) fn sniff(head: &str) -> bool {
    let Some(keys) = json::head_keys(head, 1) else {
        return false;
    };
    let has = |k: &str, v: u8| keys.iter().any(|h| h.key == k && h.value == v);
    has("stats", b'{')
        && ["tests", "passes", "failures", "pending"]
            .iter()
            .any(|k| has(k, b'['))
}

pub(crate) fn parse<R: BufRead>(mut input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    json::skip_bom(&mut input)?;
    let mut doc = MochaDoc::default();
    json::stream_doc(input, "Mocha JSON", &mut doc)?;
    let MochaDoc {
        stats,
        tests,
        pending,
        failures,
        passes,
    } = doc;
    if tests.is_none() && pending.is_none() && failures.is_none() && passes.is_none() {
        return Err(Error::parse(
            "not Mocha JSON reporter output: no \"tests\", \"passes\", \"failures\" or \
             \"pending\" array (mochawesome and other reporters are not supported)",
        ));
    }
    let info = ReportInfo {
        format: Some(Format::MochaJson),
        tool: Some("mocha".into()),
        timestamp: stats.as_ref().and_then(|s| json::string_of(s.get("start"))),
        duration: json::ms_to_secs(
            stats
                .as_ref()
                .and_then(|s| json::number_of(s.get("duration"))),
        ),
        ..ReportInfo::default()
    };
    let pending = pending.unwrap_or_default();
    let failures = failures.unwrap_or_default();

    let Some(mut tests) = tests else {
        if let Some(mut passes) = passes {
            passes.drain(|t| emit(sink, &t, Outcome::Passed, None))?;
        }
        for t in &failures {
            let (outcome, failure) = failed_outcome(t);
            emit(sink, t, outcome, failure)?;
        }
        for t in &pending {
            emit(sink, t, Outcome::Skipped, None)?;
        }
        return Ok(info);
    };

    let mut pending_left: HashMap<Key, usize> = HashMap::new();
    for t in &pending {
        *pending_left.entry(t.key()).or_default() += 1;
    }
    let mut failures_left: HashMap<Key, VecDeque<usize>> = HashMap::new();
    for (i, t) in failures.iter().enumerate() {
        failures_left.entry(t.key()).or_default().push_back(i);
    }
    tests.drain(|t| {
        let key = t.key();
        let listed_pending = match pending_left.get_mut(&key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        let listed_failure = failures_left.get_mut(&key).and_then(VecDeque::pop_front);
        let (outcome, failure) = if listed_pending || t.pending || t.state_is("pending") {
            (Outcome::Skipped, None)
        } else if t.err.is_some() || t.is_hook() {
            failed_outcome(&t)
        } else if let Some(i) = listed_failure {
            failed_outcome(&failures[i])
        } else if t.state_is("failed") {
            (Outcome::Failed, None)
        } else {
            (Outcome::Passed, None)
        };
        emit(sink, &t, outcome, failure)
    })?;
    // Failures of hooks (and uncaught errors) are not in `tests`.
    let mut leftover: Vec<usize> = failures_left.into_values().flatten().collect();
    leftover.sort_unstable();
    for i in leftover {
        let (_, failure) = failed_outcome(&failures[i]);
        emit(sink, &failures[i], Outcome::Errored, failure)?;
    }
    Ok(info)
}

/// Identity of an entry across the arrays: full title and file.
type Key = (String, Option<String>);

/// One entry of the `tests`/`pending`/`failures`/`passes` arrays (serialisable: `tests` and
/// `passes` wait in a [`Spill`] until the arrays after them are read).
#[derive(serde::Serialize, serde::Deserialize)]
struct MochaTest {
    title: Option<String>,
    full_title: Option<String>,
    file: Option<String>,
    /// Seconds.
    duration: Option<f64>,
    current_retry: u64,
    /// The classified `err`, when it says anything.
    err: Option<(Outcome, Option<Failure>)>,
    state: Option<String>,
    pending: bool,
}

impl MochaTest {
    fn from_value(v: &Value) -> MochaTest {
        MochaTest {
            title: json::string_of(v.get("title")).map(|s| s.trim().to_string()),
            full_title: json::string_of(v.get("fullTitle")).map(|s| s.trim().to_string()),
            file: json::string_of(v.get("file")),
            duration: json::ms_to_secs(json::number_of(v.get("duration"))),
            current_retry: json::number_of(v.get("currentRetry"))
                .filter(|n| *n >= 0.0)
                .map_or(0, |n| n as u64),
            err: v.get("err").and_then(classify_err),
            state: json::string_of(v.get("state")),
            pending: v.get("pending").and_then(Value::as_bool) == Some(true),
        }
    }

    fn key(&self) -> Key {
        (
            self.full_title
                .clone()
                .or_else(|| self.title.clone())
                .unwrap_or_default(),
            self.file.clone(),
        )
    }

    fn state_is(&self, s: &str) -> bool {
        self.state.as_deref() == Some(s)
    }

    /// `"before each" hook for "x"`, `"after all" hook in "Suite"`, ...
    fn is_hook(&self) -> bool {
        self.title.as_deref().is_some_and(|t| {
            (t.starts_with("\"before") || t.starts_with("\"after")) && t.contains(" hook")
        })
    }
}

#[derive(Default)]
struct MochaDoc {
    stats: Option<Value>,
    tests: Option<Spill<MochaTest>>,
    pending: Option<Vec<MochaTest>>,
    failures: Option<Vec<MochaTest>>,
    passes: Option<Spill<MochaTest>>,
}

/// Entries of `tests` (or `passes`) kept in memory; the rest wait in a temporary file.
const IN_MEMORY: usize = 2_000;

impl MochaDoc {
    fn open(&mut self, key: &str) {
        match key {
            "tests" => {
                self.tests.get_or_insert_with(|| Spill::new(IN_MEMORY));
            }
            "passes" => {
                self.passes.get_or_insert_with(|| Spill::new(IN_MEMORY));
            }
            "pending" => {
                self.pending.get_or_insert_with(Vec::new);
            }
            "failures" => {
                self.failures.get_or_insert_with(Vec::new);
            }
            _ => {}
        }
    }
}

impl JsonDoc for MochaDoc {
    fn want(&mut self, path: &[String], key: &str) -> Want {
        if !path.is_empty() {
            return Want::Skip;
        }
        match key {
            "stats" => Want::Value,
            // `passes` repeats `tests`; it is only needed when there is no `tests` array.
            "passes" if self.tests.is_some() => Want::Skip,
            "tests" | "pending" | "failures" | "passes" => {
                self.open(key);
                Want::Elements
            }
            _ => Want::Skip,
        }
    }

    fn value(&mut self, _path: &[String], key: &str, v: Value) -> Result<()> {
        if key == "stats" {
            self.stats = Some(v);
        }
        Ok(())
    }

    fn element(&mut self, _path: &[String], key: &str, v: Value) -> Result<()> {
        let t = MochaTest::from_value(&v);
        match key {
            "tests" => self
                .tests
                .get_or_insert_with(|| Spill::new(IN_MEMORY))
                .push(t)?,
            "passes" => self
                .passes
                .get_or_insert_with(|| Spill::new(IN_MEMORY))
                .push(t)?,
            "pending" => self.pending.get_or_insert_with(Vec::new).push(t),
            "failures" => self.failures.get_or_insert_with(Vec::new).push(t),
            _ => {}
        }
        Ok(())
    }
}

/// Outcome and failure of an entry that failed: hooks are errored, otherwise by error class.
fn failed_outcome(t: &MochaTest) -> (Outcome, Option<Failure>) {
    let (outcome, failure) = t.err.clone().unwrap_or((Outcome::Failed, None));
    if t.is_hook() {
        (Outcome::Errored, failure)
    } else {
        (outcome, failure)
    }
}

/// Classifies a non-empty `err`: assertion failure → failed, other error → errored.
fn classify_err(err: &Value) -> Option<(Outcome, Option<Failure>)> {
    let (name, message, stack, assertion_fields) = match err {
        Value::String(s) if !s.trim().is_empty() => (None, Some(s.clone()), None, false),
        Value::Object(m) => {
            let fields = (m.contains_key("actual") && m.contains_key("expected"))
                || m.contains_key("operator")
                || m.get("showDiff").and_then(Value::as_bool) == Some(true)
                || json::string_of(m.get("code")).as_deref() == Some("ERR_ASSERTION");
            (
                json::string_of(m.get("name")),
                json::string_of(m.get("message")),
                json::string_of(m.get("stack")),
                fields,
            )
        }
        _ => return None,
    };
    if name.is_none() && message.is_none() && stack.is_none() {
        return None;
    }
    let kind = name.or_else(|| stack.as_deref().and_then(json::js_error_kind));
    let outcome = match kind.as_deref() {
        _ if assertion_fields => Outcome::Failed,
        Some(k) if !json::is_assertion_kind(k) => Outcome::Errored,
        _ => Outcome::Failed,
    };
    let failure = json::failure(kind, message.as_deref(), stack.as_deref());
    Some((outcome, failure))
}

fn emit(
    sink: &mut Sink<'_>,
    t: &MochaTest,
    outcome: Outcome,
    failure: Option<Failure>,
) -> Result<()> {
    let title = t.title.clone().unwrap_or_default();
    let full = t.full_title.clone().unwrap_or_default();
    let (classname, name) = if title.is_empty() {
        (None, full)
    } else {
        match full.strip_suffix(title.as_str()).map(str::trim_end) {
            Some(prefix) if !prefix.is_empty() => (Some(prefix.to_string()), title),
            Some(_) => (None, title),
            // A full title that does not end with the title: keep the full title as the name.
            None if !full.is_empty() => (None, full),
            None => (None, title),
        }
    };
    if name.is_empty() && classname.is_none() {
        return Ok(());
    }
    let mut attempts: Vec<Attempt> = Vec::new();
    if outcome != Outcome::Skipped {
        attempts.extend(json::synthetic_failures(t.current_retry));
    }
    attempts.push(Attempt {
        outcome,
        duration: t.duration,
        failure,
        stdout: None,
        stderr: None,
    });
    let case = TestCase {
        id: String::new(),
        suite: classname.iter().cloned().collect(),
        classname,
        name,
        file: t.file.clone(),
        line: None,
        outcome,
        attempts,
        properties: Vec::new(),
        timestamp: None,
    };
    sink(json::finish_js_case(case))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    fn parse_doc(doc: &str) -> (ReportInfo, Vec<TestCase>) {
        collect_bytes(doc.as_bytes(), None).unwrap()
    }

    const REPORT: &str = r#"{
  "stats": { "suites": 2, "tests": 6, "passes": 2, "pending": 1, "failures": 4,
             "start": "2024-03-01T10:00:00.000Z", "end": "2024-03-01T10:00:01.000Z", "duration": 1250 },
  "tests": [
    { "title": "adds", "fullTitle": "Calc adds", "file": "/w/test/calc.spec.js", "duration": 3,
      "currentRetry": 0, "speed": "fast", "err": {} },
    { "title": "retries then passes", "fullTitle": "Calc net retries then passes",
      "file": "/w/test/calc.spec.js", "duration": 8, "currentRetry": 2, "err": {} },
    { "title": "divides", "fullTitle": "Calc divides", "file": "/w/test/calc.spec.js",
      "currentRetry": 0, "err": {} },
    { "title": "compares", "fullTitle": "Calc compares", "file": "/w/test/calc.spec.js",
      "duration": 2, "currentRetry": 0,
      "err": { "name": "AssertionError", "message": "expected 1 to equal 2", "showDiff": true,
               "actual": "1", "expected": "2",
               "stack": "AssertionError: expected 1 to equal 2\n    at Context.<anonymous> (test/calc.spec.js:9:12)" } },
    { "title": "throws", "fullTitle": "Calc throws", "file": "/w/test/calc.spec.js",
      "duration": 1, "currentRetry": 0,
      "err": { "message": "Cannot read properties of undefined (reading 'x')",
               "stack": "TypeError: Cannot read properties of undefined (reading 'x')\n    at Context.<anonymous> (test/calc.spec.js:12:5)" } },
    { "title": "top level", "fullTitle": "top level", "duration": 1, "currentRetry": 0, "err": {} }
  ],
  "pending": [
    { "title": "divides", "fullTitle": "Calc divides", "file": "/w/test/calc.spec.js",
      "currentRetry": 0, "err": {} }
  ],
  "failures": [
    { "title": "compares", "fullTitle": "Calc compares", "file": "/w/test/calc.spec.js",
      "duration": 2, "currentRetry": 0, "err": { "name": "AssertionError", "message": "expected 1 to equal 2" } },
    { "title": "throws", "fullTitle": "Calc throws", "file": "/w/test/calc.spec.js",
      "duration": 1, "currentRetry": 0, "err": { "message": "Cannot read properties" } },
    { "title": "\"before each\" hook for \"saves\"", "fullTitle": "Store \"before each\" hook for \"saves\"",
      "file": "/w/test/store.spec.js", "currentRetry": 0,
      "err": { "name": "AssertionError", "message": "db not ready", "stack": "AssertionError: db not ready\n    at Context.<anonymous> (test/store.spec.js:3:9)" } },
    { "title": "\"after all\" hook in \"Store\"", "fullTitle": "Store \"after all\" hook in \"Store\"",
      "file": "/w/test/store.spec.js", "currentRetry": 0, "err": { "message": "close failed" } }
  ],
  "passes": [
    { "title": "adds", "fullTitle": "Calc adds", "file": "/w/test/calc.spec.js", "duration": 3,
      "currentRetry": 0, "err": {} },
    { "title": "retries then passes", "fullTitle": "Calc net retries then passes",
      "file": "/w/test/calc.spec.js", "duration": 8, "currentRetry": 2, "err": {} }
  ]
}"#;

    #[test]
    fn sniffs_mocha_only() {
        assert!(sniff(REPORT));
        assert!(sniff(
            r#"{"stats":{"suites":1,"tests":1},"tests":[{"title":"a","fullTi"#
        ));
        // mochawesome has stats but no test arrays at the top.
        assert!(!sniff(
            r#"{"stats":{"suites":1,"tests":1,"passes":1},"results":[{"uuid":"x","tests":[]}]}"#
        ));
        assert!(!sniff(r#"{"examples":[],"summary":{},"stats":1}"#));
        assert!(!sniff(r#"{"tests":[{"title":"a"}]}"#));
        assert!(!sniff("stats tests passes"));
    }

    #[test]
    fn maps_every_outcome() {
        let (info, cases) = parse_doc(REPORT);
        assert_eq!(info.format, Some(Format::MochaJson));
        assert_eq!(info.tool.as_deref(), Some("mocha"));
        assert_eq!(info.timestamp.as_deref(), Some("2024-03-01T10:00:00.000Z"));
        assert_eq!(info.duration, Some(1.25));
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                ("/w/test/calc.spec.js › Calc › adds", Outcome::Passed),
                (
                    "/w/test/calc.spec.js › Calc net › retries then passes",
                    Outcome::Passed
                ),
                ("/w/test/calc.spec.js › Calc › divides", Outcome::Skipped),
                ("/w/test/calc.spec.js › Calc › compares", Outcome::Failed),
                ("/w/test/calc.spec.js › Calc › throws", Outcome::Errored),
                ("top level", Outcome::Passed),
                (
                    "/w/test/store.spec.js › Store › \"before each\" hook for \"saves\"",
                    Outcome::Errored
                ),
                (
                    "/w/test/store.spec.js › Store › \"after all\" hook in \"Store\"",
                    Outcome::Errored
                ),
            ]
        );
        let adds = &cases[0];
        assert_eq!(adds.name, "adds");
        assert_eq!(adds.classname.as_deref(), Some("Calc"));
        assert_eq!(adds.suite, ["Calc"]);
        assert_eq!(adds.file.as_deref(), Some("/w/test/calc.spec.js"));
        assert_eq!(adds.attempts[0].duration, Some(0.003));

        let compares = cases[3].attempts[0].failure.as_ref().unwrap();
        assert_eq!(compares.kind.as_deref(), Some("AssertionError"));
        assert_eq!(compares.message.as_deref(), Some("expected 1 to equal 2"));
        assert!(
            compares
                .details
                .as_deref()
                .unwrap()
                .contains("calc.spec.js:9:12")
        );

        let throws = cases[4].attempts[0].failure.as_ref().unwrap();
        assert_eq!(throws.kind.as_deref(), Some("TypeError"));
        let hook = cases[6].attempts[0].failure.as_ref().unwrap();
        assert_eq!(hook.message.as_deref(), Some("db not ready"));
        assert_eq!(cases[5].classname, None);
        assert_eq!(cases[5].name, "top level");
    }

    #[test]
    fn current_retry_adds_failed_attempts() {
        let (_, cases) = parse_doc(REPORT);
        let flaky = &cases[1];
        let outcomes: Vec<Outcome> = flaky.attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(
            outcomes,
            [Outcome::Failed, Outcome::Failed, Outcome::Passed]
        );
        assert_eq!(flaky.outcome, Outcome::Passed);
        assert_eq!(flaky.attempts[2].duration, Some(0.008));
    }

    #[test]
    fn uses_passes_failures_pending_without_tests() {
        let doc = r#"{"stats":{"duration":5},
          "pending":[{"title":"p","fullTitle":"S p","file":"f.js","err":{}}],
          "failures":[{"title":"f","fullTitle":"S f","file":"f.js",
                       "err":{"message":"boom","stack":"Error: boom\n  at x"}},
                      {"title":"g","fullTitle":"S g","file":"f.js",
                       "err":{"message":"1 == 2","code":"ERR_ASSERTION","name":"AssertionError"}}],
          "passes":[{"title":"ok","fullTitle":"S ok","file":"f.js","duration":1,"err":{}}]}"#;
        let (_, cases) = parse_doc(doc);
        let got: Vec<(&str, Outcome)> =
            cases.iter().map(|c| (c.name.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                ("ok", Outcome::Passed),
                ("f", Outcome::Errored),
                ("g", Outcome::Failed),
                ("p", Outcome::Skipped)
            ]
        );
    }

    #[test]
    fn error_classification() {
        let class = |v: &str| classify_err(&serde_json::from_str(v).unwrap()).map(|(o, _)| o);
        assert_eq!(class("{}"), None);
        assert_eq!(class("null"), None);
        assert_eq!(class(r#"{"message":"x"}"#), Some(Outcome::Failed));
        assert_eq!(class(r#""thrown string""#), Some(Outcome::Failed));
        assert_eq!(
            class(
                r#"{"message":"Timeout of 2000ms exceeded.","code":"ERR_MOCHA_TIMEOUT","stack":"Error: Timeout of 2000ms exceeded."}"#
            ),
            Some(Outcome::Errored)
        );
        assert_eq!(
            class(r#"{"name":"UnexpectedError","message":"expected"}"#),
            Some(Outcome::Failed)
        );
        assert_eq!(
            class(r#"{"message":"x","stack":"Error: x","operator":"strictEqual"}"#),
            Some(Outcome::Failed)
        );
    }

    #[test]
    fn rejects_broken_documents() {
        let cut = &REPORT[..REPORT.find("\"pending\": [").unwrap()];
        let line = cut.lines().count();
        let err = collect_bytes(cut.as_bytes(), None).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("line {line}: Mocha JSON report is truncated")),
            "{err}"
        );
        let err = collect_bytes(br#"{"stats":{},"results":[]}"#, Some(Format::MochaJson))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not Mocha JSON reporter output"), "{err}");
        let err = collect_bytes(br#"{"stats":{},"tests":[1,]}"#, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("line 1: Mocha JSON report is not valid JSON"),
            "{err}"
        );
        let err = collect_bytes(br#"{"stats":{},"tests":{}}"#, Some(Format::MochaJson))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected an array as \"tests\""), "{err}");
    }

    #[test]
    fn never_panics_on_prefixes_or_odd_values() {
        for n in 0..REPORT.len() {
            let _ = collect_bytes(&REPORT.as_bytes()[..n], None);
        }
        let odd = r#"{"stats":[],"tests":[1,"x",null,{"title":5,"fullTitle":[],"file":{},
            "duration":"-3","currentRetry":-1,"err":[]},{"title":"t","fullTitle":"","err":"boom"}]}"#;
        let (_, cases) = collect_bytes(odd.as_bytes(), Some(Format::MochaJson)).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].name, "5");
        assert_eq!(cases[0].attempts[0].duration, None);
        assert_eq!(cases[1].outcome, Outcome::Failed);
    }
}
