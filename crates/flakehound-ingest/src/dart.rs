//! Dart's JSON reporter event stream (`dart test --reporter json`, `flutter test --machine`):
//! one JSON object per line (`start`, `suite`, `group`, `testStart`, `print`, `error`,
//! `testDone`, `done`, ...), see dart-lang/test's `json_reporter.md`.
//!
//! Events are read line by line; a record is built at its `testDone` and pushed shortly after
//! (a small window of finished tests is kept, so that an `error` event arriving after
//! `testDone`, as Dart reports errors of tests that already completed, still counts). Mapping:
//!
//! - **Outcome** from `testDone.result`: `success` → passed (skipped when `skipped: true`),
//!   `failure` (only `TestFailure`s, i.e. `expect`) → failed, `error` (any other exception) →
//!   errored. A later `error` event makes the record at least failed (`isFailure`) or errored.
//!   A test started but never done (the run was killed or timed out) → errored.
//! - **Hidden tests**: the synthetic `loading <path>` tests (`hidden: true`) are dropped when
//!   they succeeded and kept (as `loading <path>`, errored/failed) when the suite failed to load.
//! - **Names**: Dart's names are cumulative (`group` = `"Outer inner"`, test =
//!   `"Outer inner does x"`); each group's own title is its name minus its parent's, and the
//!   test's own title is its name minus its innermost group's. `suite` = own group titles
//!   (outermost first), `classname` = them joined by ` › `, `name` = the own title. When the
//!   suite's platform is not `vm` (e.g. `chrome`), it is put first in `suite`/`classname` so the
//!   same test on two platforms gets two ids. `file` = the suite's `path`; `line` =
//!   `root_line` (the line in the test file when the test is declared elsewhere, as
//!   `testWidgets` is) or `line` when `url` is a `file:` URL. Ids use the jest style
//!   (`path › group › name`).
//! - **Failure**: `error` events: the first line of the first error is the message, every error
//!   with its `stackTrace` goes to the details; kind `TestFailure` for `isFailure` errors, else
//!   the class the error text starts with (`Exception`, `StateError`...). Skipped tests keep the
//!   skip reason (`print` event of type `skip`, or `metadata.skipReason`).
//! - **Output**: `print` events go to stdout.
//! - **Duration**: `testDone.time - testStart.time` (ms). Report duration = `done.time`; tool
//!   `dart test`, or `flutter test` when the runner version is null (as Flutter writes it).
//! - Lines that are not JSON objects (Flutter tool noise such as `[{"event":...}]` or
//!   "Resolving dependencies...") are skipped; a line starting with `{` that is not valid JSON
//!   (a truncated last line) is an error with its line and column.

use crate::ctrf::json;
use crate::{Error, Result, Sink};
use flakehound_model::{
    Attempt, Failure, Format, MAX_TEXT, Outcome, ReportInfo, TestCase, trim_text,
};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::BufRead;

/// Finished records kept back to catch errors reported after `testDone`.
const WINDOW: usize = 256;

pub(crate) fn sniff(head: &str) -> bool {
    // Flutter may print tool noise before the first event; the first JSON line decides.
    for line in head.lines().take(200) {
        let t = line.trim().trim_start_matches('\u{feff}');
        if !t.starts_with('{') {
            continue;
        }
        return serde_json::from_str::<Value>(t).is_ok_and(|v| is_dart_event(&v));
    }
    false
}

/// Whether `v` is one of the Dart reporter's own events.
fn is_dart_event(v: &Value) -> bool {
    let has = |k: &str| v.get(k).is_some();
    let obj_has = |o: &str, k: &str| {
        v.get(o)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key(k))
    };
    match v.get("type").and_then(Value::as_str) {
        Some("start") => has("protocolVersion"),
        Some("suite") => obj_has("suite", "platform") || obj_has("suite", "path"),
        Some("testStart") => obj_has("test", "suiteID") || obj_has("test", "groupIDs"),
        Some("group") => obj_has("group", "suiteID"),
        Some("allSuites") => has("count"),
        Some("testDone") => has("testID") && has("result"),
        _ => false,
    }
}

pub(crate) fn parse<R: BufRead>(mut input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    let mut st = State {
        info: ReportInfo {
            format: Some(Format::DartJson),
            ..ReportInfo::default()
        },
        ..State::default()
    };
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let bytes = buf.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(&buf);
        let text = String::from_utf8_lossy(bytes);
        let t = text.trim_start();
        if !t.starts_with('{') {
            continue;
        }
        let indent = text.len() - t.len();
        let event: Value = serde_json::from_str(t.trim_end()).map_err(|e| {
            let msg = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
            let what = if e.is_eof() {
                "is truncated"
            } else {
                "is not valid JSON"
            };
            Error::at_line(
                format!(
                    "Dart JSON event {what}: {msg} (column {})",
                    e.column() + indent
                ),
                line_no,
            )
        })?;
        st.event(&event, sink)?;
    }
    if !st.recognised {
        return Err(Error::parse(
            "no Dart test events (start, suite, testStart, testDone) found",
        ));
    }
    st.finish(sink)?;
    Ok(st.info)
}

#[derive(Default)]
struct Group {
    /// Cumulative name (`"Outer inner"`).
    name: String,
}

#[derive(Default)]
struct Suite {
    path: Option<String>,
    platform: Option<String>,
}

/// A test between `testStart` and `testDone`.
#[derive(Default)]
struct Running {
    name: String,
    suite_id: Option<i64>,
    group_ids: Vec<i64>,
    line: Option<u32>,
    url_file: Option<String>,
    start_ms: Option<f64>,
    /// `(error, stackTrace, isFailure)`.
    errors: Vec<(String, Option<String>, bool)>,
    stdout: String,
    skip_reason: Option<String>,
}

#[derive(Default)]
struct State {
    info: ReportInfo,
    recognised: bool,
    suites: HashMap<i64, Suite>,
    groups: HashMap<i64, Group>,
    running: HashMap<i64, Running>,
    /// Finished records not pushed yet, with their test id.
    done: VecDeque<(i64, TestCase)>,
}

fn id_of(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

impl State {
    fn event(&mut self, ev: &Value, sink: &mut Sink<'_>) -> Result<()> {
        let time = json::number_of(ev.get("time"));
        match ev.get("type").and_then(Value::as_str) {
            Some("start") => {
                self.recognised = true;
                let tool = match ev.get("runnerVersion") {
                    Some(Value::Null) => "flutter test",
                    _ => "dart test",
                };
                self.info.tool = Some(tool.into());
            }
            Some("suite") => {
                let s = ev.get("suite");
                if let Some(id) = id_of(s.and_then(|s| s.get("id"))) {
                    self.recognised = true;
                    self.suites.insert(
                        id,
                        Suite {
                            path: json::string_of(s.and_then(|s| s.get("path"))),
                            platform: json::string_of(s.and_then(|s| s.get("platform"))),
                        },
                    );
                }
            }
            Some("group") => {
                let g = ev.get("group");
                if let Some(id) = id_of(g.and_then(|g| g.get("id"))) {
                    let name = json::string_of(g.and_then(|g| g.get("name")))
                        .map(|n| n.trim().to_string())
                        .unwrap_or_default();
                    self.groups.insert(id, Group { name });
                }
            }
            Some("testStart") => {
                let Some(t) = ev.get("test") else {
                    return Ok(());
                };
                let Some(id) = id_of(t.get("id")) else {
                    return Ok(());
                };
                self.recognised = true;
                let url_file = json::string_of(t.get("root_url"))
                    .or_else(|| json::string_of(t.get("url")))
                    .filter(|u| u.starts_with("file:"));
                let line = json::line_of_value(t.get("root_line")).or_else(|| {
                    url_file
                        .as_ref()
                        .and_then(|_| json::line_of_value(t.get("line")))
                });
                let meta = t.get("metadata");
                let skip_reason = meta
                    .filter(|m| m.get("skip").and_then(Value::as_bool) == Some(true))
                    .and_then(|m| json::string_of(m.get("skipReason")));
                self.running.insert(
                    id,
                    Running {
                        name: json::string_of(t.get("name"))
                            .map(|n| n.trim().to_string())
                            .unwrap_or_default(),
                        suite_id: id_of(t.get("suiteID")),
                        group_ids: t
                            .get("groupIDs")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_i64).collect())
                            .unwrap_or_default(),
                        line,
                        url_file,
                        start_ms: time,
                        skip_reason,
                        ..Running::default()
                    },
                );
            }
            Some("print") => {
                let Some(r) = id_of(ev.get("testID")).and_then(|id| self.running.get_mut(&id))
                else {
                    return Ok(());
                };
                let message = json::string_of(ev.get("message")).unwrap_or_default();
                if ev.get("messageType").and_then(Value::as_str) == Some("skip") {
                    r.skip_reason = Some(message);
                } else {
                    r.stdout.push_str(&message);
                    r.stdout.push('\n');
                    if r.stdout.len() > 2 * MAX_TEXT {
                        r.stdout = trim_text(&r.stdout).unwrap_or_default();
                        r.stdout.push('\n');
                    }
                }
            }
            Some("error") => {
                let Some(id) = id_of(ev.get("testID")) else {
                    return Ok(());
                };
                let error = json::string_of(ev.get("error")).unwrap_or_default();
                let stack = json::string_of(ev.get("stackTrace"));
                let is_failure = ev.get("isFailure").and_then(Value::as_bool) == Some(true);
                if let Some(r) = self.running.get_mut(&id) {
                    if r.errors.len() < 100 {
                        r.errors.push((error, stack, is_failure));
                    }
                } else if let Some((_, case)) = self.done.iter_mut().find(|(i, _)| *i == id) {
                    late_error(case, &error, stack.as_deref(), is_failure);
                }
            }
            Some("testDone") => {
                let Some(id) = id_of(ev.get("testID")) else {
                    return Ok(());
                };
                let Some(r) = self.running.remove(&id) else {
                    return Ok(());
                };
                self.recognised = true;
                let result = json::string_of(ev.get("result"));
                let hidden = ev.get("hidden").and_then(Value::as_bool) == Some(true);
                if hidden && result.as_deref() == Some("success") && r.errors.is_empty() {
                    return Ok(());
                }
                let skipped = ev.get("skipped").and_then(Value::as_bool) == Some(true);
                let outcome = match result.as_deref() {
                    Some("success") if skipped => Outcome::Skipped,
                    Some("success") => Outcome::Passed,
                    Some("failure") => Outcome::Failed,
                    _ => Outcome::Errored,
                };
                let duration = match (r.start_ms, time) {
                    (Some(a), Some(b)) if b >= a => json::ms_to_secs(Some(b - a)),
                    _ => None,
                };
                if let Some(case) = self.build(r, outcome, duration, None) {
                    self.done.push_back((id, case));
                    let overflow = if self.done.len() > WINDOW {
                        self.done.pop_front()
                    } else {
                        None
                    };
                    if let Some((_, case)) = overflow {
                        sink(json::finish_js_case(case))?;
                    }
                }
            }
            Some("done") => {
                self.recognised = true;
                self.info.duration = json::ms_to_secs(time);
            }
            _ => {}
        }
        Ok(())
    }

    /// Pushes what is left: finished records, then tests that never finished (errored).
    fn finish(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        while let Some((_, case)) = self.done.pop_front() {
            sink(json::finish_js_case(case))?;
        }
        let mut unfinished: Vec<(i64, Running)> = self.running.drain().collect();
        unfinished.sort_by_key(|(id, _)| *id);
        for (_, r) in unfinished {
            let note = "the test never finished: the report ends before its testDone event";
            if let Some(case) = self.build(r, Outcome::Errored, None, Some(note)) {
                sink(json::finish_js_case(case))?;
            }
        }
        Ok(())
    }

    fn build(
        &self,
        r: Running,
        outcome: Outcome,
        duration: Option<f64>,
        note: Option<&str>,
    ) -> Option<TestCase> {
        let suite = r.suite_id.and_then(|id| self.suites.get(&id));
        // Own titles of the enclosing groups; the root group has an empty name.
        let mut titles: Vec<String> = Vec::new();
        let mut parent = String::new();
        for g in r.group_ids.iter().filter_map(|id| self.groups.get(id)) {
            if g.name.is_empty() {
                continue;
            }
            titles.push(strip_parent(&g.name, &parent));
            parent = g.name.clone();
        }
        let name = strip_parent(&r.name, &parent);
        if let Some(p) = suite
            .and_then(|s| s.platform.as_deref())
            .filter(|p| *p != "vm")
        {
            titles.insert(0, p.to_string());
        }
        let classname = (!titles.is_empty()).then(|| titles.join(" › "));
        if name.is_empty() && classname.is_none() {
            return None;
        }
        let file = suite
            .and_then(|s| s.path.clone())
            .or_else(|| r.url_file.as_deref().map(file_url_path));

        let failure = match outcome {
            Outcome::Passed => None,
            Outcome::Skipped => json::failure(None, r.skip_reason.as_deref(), None),
            _ => errors_failure(&r.errors, note),
        };
        let mut properties = Vec::new();
        if let Some(p) = suite.and_then(|s| s.platform.clone()) {
            properties.push(("platform".to_string(), p));
        }
        Some(TestCase {
            id: String::new(),
            classname,
            name,
            file,
            line: r.line,
            suite: titles,
            outcome,
            attempts: vec![Attempt {
                outcome,
                duration,
                failure,
                stdout: trim_text(&r.stdout),
                stderr: None,
            }],
            properties,
            timestamp: None,
        })
    }
}

/// `"Outer inner"` minus its parent `"Outer"` → `"inner"`.
fn strip_parent(name: &str, parent: &str) -> String {
    if parent.is_empty() {
        return name.to_string();
    }
    match name.strip_prefix(parent) {
        Some(rest) if rest.starts_with(' ') && !rest.trim().is_empty() => rest.trim().to_string(),
        _ => name.to_string(),
    }
}

/// `file:///w/test/a_test.dart` → `/w/test/a_test.dart`.
fn file_url_path(url: &str) -> String {
    url.strip_prefix("file://").unwrap_or(url).to_string()
}

fn errors_failure(
    errors: &[(String, Option<String>, bool)],
    note: Option<&str>,
) -> Option<Failure> {
    let Some((first, _, first_is_failure)) = errors.first() else {
        return json::failure(None, note, None);
    };
    let kind = if *first_is_failure {
        Some("TestFailure".to_string())
    } else {
        json::js_error_kind(first)
    };
    let mut details = String::new();
    for (error, stack, _) in errors {
        if !details.is_empty() {
            details.push_str("\n\n");
        }
        details.push_str(error.trim());
        if let Some(s) = stack {
            details.push('\n');
            details.push_str(s.trim_end());
        }
    }
    if let Some(n) = note {
        details.push_str("\n\n");
        details.push_str(n);
    }
    json::failure(kind, Some(first), Some(&details))
}

/// An error reported after the test's `testDone`: the record becomes at least failed.
fn late_error(case: &mut TestCase, error: &str, stack: Option<&str>, is_failure: bool) {
    let outcome = if is_failure {
        Outcome::Failed
    } else {
        Outcome::Errored
    };
    case.outcome = case.outcome.worst(outcome);
    let Some(attempt) = case.attempts.last_mut() else {
        return;
    };
    attempt.outcome = attempt.outcome.worst(outcome);
    let mut details = attempt
        .failure
        .as_ref()
        .and_then(|f| f.details.clone())
        .unwrap_or_default();
    if !details.is_empty() {
        details.push_str("\n\n");
    }
    details.push_str("error after the test had completed: ");
    details.push_str(error.trim());
    if let Some(s) = stack {
        details.push('\n');
        details.push_str(s.trim_end());
    }
    let failure = attempt.failure.get_or_insert_with(Failure::default);
    if failure.message.is_none() {
        failure.message = json::first_line(error);
    }
    if failure.kind.is_none() {
        failure.kind = if is_failure {
            Some("TestFailure".into())
        } else {
            json::js_error_kind(error)
        };
    }
    failure.details = trim_text(&details);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    const STREAM: &str = r#"{"protocolVersion":"0.1.1","runnerVersion":"1.25.0","pid":1,"type":"start","time":0}
{"suite":{"id":0,"platform":"vm","path":"test/calc_test.dart"},"type":"suite","time":0}
{"test":{"id":1,"name":"loading test/calc_test.dart","suiteID":0,"groupIDs":[],"metadata":{"skip":false,"skipReason":null},"line":null,"column":null,"url":null},"type":"testStart","time":1}
{"testID":1,"result":"success","skipped":false,"hidden":true,"type":"testDone","time":50}
{"group":{"id":2,"suiteID":0,"parentID":null,"name":"","metadata":{"skip":false,"skipReason":null},"testCount":5},"type":"group","time":51}
{"group":{"id":3,"suiteID":0,"parentID":2,"name":"Calc","metadata":{"skip":false,"skipReason":null},"testCount":5,"line":5,"column":3,"url":"file:///w/test/calc_test.dart"},"type":"group","time":51}
{"group":{"id":4,"suiteID":0,"parentID":3,"name":"Calc add","metadata":{"skip":false,"skipReason":null},"testCount":2,"line":6,"column":5,"url":"file:///w/test/calc_test.dart"},"type":"group","time":51}
{"test":{"id":5,"name":"Calc add positives","suiteID":0,"groupIDs":[2,3,4],"metadata":{"skip":false,"skipReason":null},"line":7,"column":7,"url":"file:///w/test/calc_test.dart"},"type":"testStart","time":52}
{"testID":5,"messageType":"print","message":"adding 1 + 1","type":"print","time":53}
{"testID":5,"result":"success","skipped":false,"hidden":false,"type":"testDone","time":60}
{"test":{"id":6,"name":"Calc add negatives","suiteID":0,"groupIDs":[2,3,4],"metadata":{"skip":false,"skipReason":null},"line":10,"column":7,"url":"file:///w/test/calc_test.dart"},"type":"testStart","time":61}
{"testID":6,"error":"Expected: <0>\n  Actual: <-2>\n","stackTrace":"package:matcher expect\ntest/calc_test.dart 11:9  main.<fn>.<fn>.<fn>\n","isFailure":true,"type":"error","time":70}
{"testID":6,"result":"failure","skipped":false,"hidden":false,"type":"testDone","time":71}
{"test":{"id":7,"name":"Calc divides","suiteID":0,"groupIDs":[2,3],"metadata":{"skip":false,"skipReason":null},"line":14,"column":5,"url":"file:///w/test/calc_test.dart"},"type":"testStart","time":72}
{"testID":7,"error":"StateError: Bad state: no divisor","stackTrace":"test/calc_test.dart 15:7  main.<fn>.<fn>\n","isFailure":false,"type":"error","time":75}
{"testID":7,"result":"error","skipped":false,"hidden":false,"type":"testDone","time":76}
{"test":{"id":8,"name":"Calc rounds","suiteID":0,"groupIDs":[2,3],"metadata":{"skip":true,"skipReason":"not yet"},"line":18,"column":5,"url":"file:///w/test/calc_test.dart"},"type":"testStart","time":77}
{"testID":8,"messageType":"skip","message":"Skip: not yet","type":"print","time":77}
{"testID":8,"result":"success","skipped":true,"hidden":false,"type":"testDone","time":78}
{"test":{"id":9,"name":"Calc leaks","suiteID":0,"groupIDs":[2,3],"metadata":{"skip":false,"skipReason":null},"line":21,"column":5,"url":"file:///w/test/calc_test.dart"},"type":"testStart","time":79}
{"testID":9,"result":"success","skipped":false,"hidden":false,"type":"testDone","time":80}
{"testID":9,"error":"This test failed after it had already completed.\nTimeoutException","stackTrace":"","isFailure":false,"type":"error","time":90}
{"suite":{"id":10,"platform":"chrome","path":"test/web_test.dart"},"type":"suite","time":100}
{"test":{"id":11,"name":"loading test/web_test.dart","suiteID":10,"groupIDs":[],"metadata":{"skip":false,"skipReason":null},"line":null,"column":null,"url":null},"type":"testStart","time":100}
{"testID":11,"error":"Failed to load \"test/web_test.dart\": compilation failed","stackTrace":"","isFailure":false,"type":"error","time":150}
{"testID":11,"result":"error","skipped":false,"hidden":true,"type":"testDone","time":151}
{"suite":{"id":12,"platform":"chrome","path":"test/widget_test.dart"},"type":"suite","time":160}
{"test":{"id":13,"name":"renders","suiteID":12,"groupIDs":[],"metadata":{"skip":false,"skipReason":null},"line":120,"column":5,"url":"package:flutter_test/src/widget_tester.dart","root_line":8,"root_column":3,"root_url":"file:///w/test/widget_test.dart"},"type":"testStart","time":161}
{"testID":13,"result":"success","skipped":false,"hidden":false,"type":"testDone","time":170}
{"test":{"id":14,"name":"hangs","suiteID":12,"groupIDs":[],"metadata":{"skip":false,"skipReason":null},"line":12,"column":5,"url":"package:flutter_test/src/widget_tester.dart"},"type":"testStart","time":171}
"#;

    fn outcomes(cases: &[TestCase]) -> Vec<(&str, Outcome)> {
        cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect()
    }

    #[test]
    fn sniffs_dart_only() {
        assert!(sniff(STREAM));
        assert!(sniff(
            "Resolving dependencies...\n[{\"event\":\"test.startedProcess\"}]\n{\"suite\":{\"id\":0,\"platform\":\"vm\",\"path\":\"a_test.dart\"},\"type\":\"suite\",\"time\":0}\n"
        ));
        assert!(!sniff(
            r#"{"type":"suite","event":"started","test_count":2}"#
        )); // libtest
        assert!(!sniff(
            r#"{"Time":"2021-01-01T00:00:00Z","Action":"run","Test":"TestA"}"#
        ));
        assert!(!sniff("{\n  \"stats\": {}\n}"));
        assert!(!sniff(r#"{"protocolVersion":"0.1.1","type":"sta"#));
        assert!(!sniff("not json"));
    }

    #[test]
    fn maps_events_to_records() {
        let (info, cases) = collect_bytes(STREAM.as_bytes(), None).unwrap();
        assert_eq!(info.format, Some(Format::DartJson));
        assert_eq!(info.tool.as_deref(), Some("dart test"));
        assert_eq!(
            outcomes(&cases),
            [
                (
                    "test/calc_test.dart › Calc › add › positives",
                    Outcome::Passed
                ),
                (
                    "test/calc_test.dart › Calc › add › negatives",
                    Outcome::Failed
                ),
                ("test/calc_test.dart › Calc › divides", Outcome::Errored),
                ("test/calc_test.dart › Calc › rounds", Outcome::Skipped),
                ("test/calc_test.dart › Calc › leaks", Outcome::Errored),
                (
                    "test/web_test.dart › chrome › loading test/web_test.dart",
                    Outcome::Errored
                ),
                ("test/widget_test.dart › chrome › renders", Outcome::Passed),
                ("test/widget_test.dart › chrome › hangs", Outcome::Errored),
            ]
        );
        let pos = &cases[0];
        assert_eq!(pos.name, "positives");
        assert_eq!(pos.suite, ["Calc", "add"]);
        assert_eq!(pos.classname.as_deref(), Some("Calc › add"));
        assert_eq!(pos.file.as_deref(), Some("test/calc_test.dart"));
        assert_eq!(pos.line, Some(7));
        assert_eq!(pos.attempts[0].duration, Some(0.008));
        assert_eq!(pos.attempts[0].stdout.as_deref(), Some("adding 1 + 1"));
        assert_eq!(pos.properties, [("platform".to_string(), "vm".to_string())]);

        let neg = cases[1].attempts[0].failure.as_ref().unwrap();
        assert_eq!(neg.kind.as_deref(), Some("TestFailure"));
        assert_eq!(neg.message.as_deref(), Some("Expected: <0>"));
        assert!(neg.details.as_deref().unwrap().contains("11:9"));

        let div = cases[2].attempts[0].failure.as_ref().unwrap();
        assert_eq!(div.kind.as_deref(), Some("StateError"));

        let skip = cases[3].attempts[0].failure.as_ref().unwrap();
        assert_eq!(skip.message.as_deref(), Some("Skip: not yet"));

        // An error after testDone still counts.
        let leak = cases[4].attempts[0].failure.as_ref().unwrap();
        assert!(
            leak.details
                .as_deref()
                .unwrap()
                .contains("after the test had completed")
        );

        // testWidgets: the line is the root line in the test file, not the framework's.
        assert_eq!(cases[6].line, Some(8));
        // Never finished: no line (the url is the framework's), errored with a note.
        assert_eq!(cases[7].line, None);
        let hang = cases[7].attempts[0].failure.as_ref().unwrap();
        assert!(hang.message.as_deref().unwrap().contains("never finished"));
    }

    #[test]
    fn flutter_noise_and_truncation() {
        let noisy = format!(
            "Downloading tools...\n[{{\"event\":\"test.startedProcess\",\"params\":{{}}}}]\n\n{STREAM}"
        );
        let (info, cases) = collect_bytes(noisy.as_bytes(), None).unwrap();
        assert_eq!(cases.len(), 8);
        assert_eq!(info.tool.as_deref(), Some("dart test"));

        let flutter = STREAM.replace("\"runnerVersion\":\"1.25.0\"", "\"runnerVersion\":null");
        let (info, _) = collect_bytes(flutter.as_bytes(), None).unwrap();
        assert_eq!(info.tool.as_deref(), Some("flutter test"));

        let cut = &STREAM[..STREAM.find("\"result\":\"failure\"").unwrap()];
        let line = cut.lines().count();
        let err = collect_bytes(cut.as_bytes(), None).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("line {line}: Dart JSON event is truncated")),
            "{err}"
        );
        assert!(err.contains("column"), "{err}");

        let err = collect_bytes(b"{\"a\":1}\n", Some(Format::DartJson))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no Dart test events"), "{err}");

        for n in (0..STREAM.len()).step_by(3) {
            let _ = collect_bytes(&STREAM.as_bytes()[..n], None);
            let _ = collect_bytes(&STREAM.as_bytes()[..n], Some(Format::DartJson));
        }
    }

    #[test]
    fn group_title_stripping() {
        assert_eq!(strip_parent("Calc add", "Calc"), "add");
        assert_eq!(strip_parent("Calculator", "Calc"), "Calculator");
        assert_eq!(strip_parent("Calc ", "Calc"), "Calc ");
        assert_eq!(strip_parent("x", ""), "x");
    }
}
