//! libtest JSON: `cargo test -- -Z unstable-options --format json [--report-time]`, and
//! nextest's `--message-format libtest-json` / `libtest-json-plus` imitation of it.
//!
//! One JSON object per line:
//! `{"type":"suite","event":"started","test_count":2}`,
//! `{"type":"test","event":"started","name":"tests::a"}`,
//! `{"type":"test","name":"tests::a","event":"ok","exec_time":0.001}`,
//! `{"type":"test","name":"tests::b","event":"failed","stdout":"thread ... panicked at ..."}`,
//! `{"type":"test","name":"tests::c","event":"ignored","message":"slow"}`,
//! `{"type":"bench","name":"b","median":10,"deviation":1}`,
//! `{"type":"suite","event":"failed","passed":1,"failed":1,...,"exec_time":0.003}`.
//! Other lines (`--nocapture` output, cargo's own messages) are ignored.
//!
//! # Mapping
//! - One record per test result event (`ok`, `failed`, `ignored`) and per `bench` line.
//!   `started` and `timeout` (the "running for over 60 seconds" warning) are not results.
//! - cargo test: classname none, name = the full test path (`module::tests::a`), id = the path.
//!   The binary a test belongs to is not in the stream, so the same path in two test binaries
//!   of one run gives two records with the same id.
//! - nextest names are `crate::binary$module::test`: classname = `crate::binary`, name = the
//!   test path, id `crate::binary::module::test` ([`Dialect::Other`]); suite = `[crate::binary]`.
//!   A stress-run suffix (`crate::bin@stress-3$...`) is dropped from the classname (property
//!   `nextest.stress_index`). A retry suffix (`...$test#3`: the 3rd attempt) becomes attempts:
//!   `ok` after retries = the earlier attempts failed, then one passed (outcome passed: flaky);
//!   `failed` = every attempt failed; `"reason":"flaky test treated as failure"` = earlier
//!   attempts failed, the last passed, outcome failed.
//! - Outcome: `ok` → passed, `failed` → failed, `ignored` (and the old `allowed_failure`) →
//!   skipped, `bench` → passed.
//! - Duration: `exec_time` (seconds; old libtest wrote strings like `"1.2ms"`), on the last
//!   attempt. Report duration: the sum of the suites' `exec_time` (cargo test runs test binaries
//!   one after another; for nextest, which runs them in parallel, it is left out).
//! - `stdout` (libtest puts stdout and stderr there) → attempt stdout, and for a failure its
//!   details. Failure message: `message` / `reason` if present (`should_panic` mismatch,
//!   `time limit exceeded`), else the panic message (the line after
//!   `thread 'x' panicked at src/lib.rs:10:5:`, or the quoted one of older Rust), else the first
//!   output line; kind `panic` for panics. Ignored tests carry the `#[ignore = "reason"]` message.
//! - Tool `cargo`, or `nextest` when nextest names or its `nextest` object appear.
//!
//! A test that started but has no result when the stream ends (the test binary crashed, or the
//! file is truncated) is reported as errored ("no result"). A stream with no libtest event at
//! all is an error.
//!
//! libtest's human output (what stable `cargo test` prints) is read by [`crate::libtest_human`].

use crate::gojson::{LineReader, one_line};
use crate::{Error, Result, Sink, finish_case};
use flakehound_model::{
    Attempt, Dialect, Failure, Format, Outcome, ReportInfo, TestCase, parse_seconds, trim_text,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::BufRead;

/// The first top-level JSON object line decides: a libtest event has `"type"` `suite`/`test`
/// with an `"event"`, or `bench` with a `"name"` (Dart's `"type":"suite"` lines have no
/// `"event"`).
pub(crate) fn sniff(head: &str) -> bool {
    for line in head.lines() {
        let line = line.trim_end();
        if !line.starts_with('{') {
            continue;
        }
        if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) {
            return is_event(&obj);
        }
    }
    false
}

fn is_event(obj: &Map<String, Value>) -> bool {
    let has = |k: &str| obj.get(k).is_some_and(Value::is_string);
    match obj.get("type").and_then(Value::as_str) {
        Some("suite") => has("event"),
        Some("test") => has("event") && has("name"),
        Some("bench") => has("name"),
        _ => false,
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// `exec_time`: a number of seconds, or older libtest's debug-formatted `"1.2ms"`.
fn seconds(v: Option<&Value>) -> Option<f64> {
    let secs = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => {
            let s = s.trim();
            let (num, scale) = if let Some(n) = s.strip_suffix("ns") {
                (n, 1e-9)
            } else if let Some(n) = s.strip_suffix("µs").or_else(|| s.strip_suffix("us")) {
                (n, 1e-6)
            } else if let Some(n) = s.strip_suffix("ms") {
                (n, 1e-3)
            } else {
                (s, 1.0)
            };
            parse_seconds(num)? * scale
        }
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then_some(secs)
}

/// The panic message in a failed test's output, and whether it is a panic.
pub(crate) fn panic_message(stdout: &str) -> Option<String> {
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        let Some(pos) = line.find("panicked at ") else {
            continue;
        };
        let after = line[pos + "panicked at ".len()..].trim_end();
        // Rust >= 1.73: `thread 'x' panicked at src/lib.rs:10:5:` then the message.
        if after.ends_with(':') && !after.starts_with('\'') {
            let msg = lines.find(|l| !l.trim().is_empty()).map(one_line);
            return Some(msg.unwrap_or_else(|| one_line(line)));
        }
        // Older: `thread 'x' panicked at 'message', src/lib.rs:10:5`.
        if let Some(quoted) = after.strip_prefix('\'') {
            if let Some(end) = quoted.rfind("', ") {
                return Some(one_line(&quoted[..end]));
            }
        }
        return Some(one_line(line));
    }
    None
}

/// Splits a nextest name `crate::binary[@stress-N]$test[#retries]`.
struct Name {
    classname: Option<String>,
    name: String,
    stress: Option<String>,
    attempts: u32,
}

fn split_name(raw: &str) -> Name {
    let Some((binary, test)) = raw.split_once('$') else {
        return Name {
            classname: None,
            name: raw.to_string(),
            stress: None,
            attempts: 1,
        };
    };
    let (binary, stress) = match binary.rsplit_once("@stress-") {
        Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            (b, Some(n.to_string()))
        }
        _ => (binary, None),
    };
    let (test, attempts) = match test.rsplit_once('#') {
        Some((t, n)) if !t.is_empty() => match n.parse::<u32>() {
            Ok(k) if k >= 1 => (t, k.min(1000)),
            _ => (test, 1),
        },
        _ => (test, 1),
    };
    Name {
        classname: (!binary.is_empty()).then(|| binary.to_string()),
        name: test.to_string(),
        stress,
        attempts,
    }
}

/// The name a test started under: nextest adds `#N` to the result of a retried test only.
fn start_key(raw: &str) -> &str {
    if !raw.contains('$') {
        return raw;
    }
    match raw.rsplit_once('#') {
        Some((t, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => t,
        _ => raw,
    }
}

fn record(raw_name: &str, obj: &Map<String, Value>, event: &str) -> TestCase {
    let n = split_name(raw_name);
    let duration = seconds(obj.get("exec_time"));
    let stdout = str_field(obj, "stdout").and_then(trim_text);
    let reason = str_field(obj, "reason");
    let message_field = str_field(obj, "message");
    let flaky_fail =
        event == "failed" && n.attempts > 1 && reason.is_some_and(|r| r.contains("flaky"));
    let mut properties = Vec::new();
    if let Some(s) = &n.stress {
        properties.push(("nextest.stress_index".to_string(), s.clone()));
    }
    let (outcome, failure) = match event {
        "ok" | "bench" => (Outcome::Passed, None),
        "ignored" | "allowed_failure" | "allowed_fail" => (
            Outcome::Skipped,
            message_field.map(|m| Failure {
                message: Some(one_line(m)),
                ..Failure::default()
            }),
        ),
        _ => {
            let panic = stdout.as_deref().and_then(panic_message);
            let message = message_field
                .or(reason)
                .map(one_line)
                .or_else(|| panic.clone())
                .or_else(|| stdout.as_deref().map(one_line));
            (
                Outcome::Failed,
                Some(Failure {
                    kind: panic.is_some().then(|| "panic".to_string()),
                    message,
                    details: stdout.clone(),
                }),
            )
        }
    };
    if event == "bench" {
        for key in ["median", "deviation", "mib_per_second"] {
            if let Some(v) = obj.get(key).filter(|v| v.is_number()) {
                properties.push((format!("bench.{key}"), v.to_string()));
            }
        }
    }
    // Earlier attempts of a nextest retry: only their outcome is known.
    let mut attempts: Vec<Attempt> = Vec::new();
    let earlier = n.attempts.saturating_sub(1);
    for _ in 0..earlier {
        attempts.push(Attempt::new(Outcome::Failed));
    }
    let last_outcome = if flaky_fail { Outcome::Passed } else { outcome };
    attempts.push(Attempt {
        outcome: last_outcome,
        duration,
        failure: if flaky_fail { None } else { failure.clone() },
        stdout,
        stderr: None,
    });
    if flaky_fail {
        if let Some(first) = attempts.first_mut() {
            if first.outcome == Outcome::Failed {
                first.failure = failure;
            }
        }
    }
    let suite: Vec<String> = n.classname.iter().cloned().collect();
    finish_case(
        TestCase {
            id: String::new(),
            classname: n.classname,
            name: n.name,
            file: None,
            line: None,
            suite,
            outcome,
            attempts,
            properties,
            timestamp: None,
        },
        Dialect::Other,
    )
}

fn unfinished(raw_name: &str) -> TestCase {
    let mut obj = Map::new();
    obj.insert(
        "message".to_string(),
        "no result: the test started but never finished (the test binary crashed or the stream \
         is truncated)"
            .into(),
    );
    let mut case = record(raw_name, &obj, "failed");
    case.outcome = Outcome::Errored;
    for a in &mut case.attempts {
        a.outcome = Outcome::Errored;
    }
    case
}

pub(crate) fn parse<R: BufRead>(input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    let mut lines = LineReader::new(input);
    // Tests started and not finished yet, with their start order.
    let mut running: HashMap<String, u64> = HashMap::new();
    let mut seq = 0u64;
    let mut events = 0u64;
    let mut nextest = false;
    let mut suite_time: Option<f64> = None;
    let mut first_bad: Option<u64> = None;
    while let Some(line) = lines.next_line()? {
        let trimmed = line.trim();
        if !trimmed.starts_with('{') {
            continue;
        }
        let obj = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(obj)) if is_event(&obj) => obj,
            _ => {
                first_bad.get_or_insert(lines.line_no());
                continue;
            }
        };
        events += 1;
        if obj.contains_key("nextest") {
            nextest = true;
        }
        let ty = str_field(&obj, "type").unwrap_or_default();
        let event = str_field(&obj, "event").unwrap_or_default();
        let name = str_field(&obj, "name").unwrap_or_default();
        if name.contains('$') {
            nextest = true;
        }
        match (ty, event) {
            ("suite", "ok" | "failed") => {
                if let Some(t) = seconds(obj.get("exec_time")) {
                    *suite_time.get_or_insert(0.0) += t;
                }
            }
            ("test", "started") => {
                // Started again without a result: the earlier run never finished.
                if running.contains_key(name) {
                    sink(unfinished(name))?;
                }
                seq += 1;
                running.insert(name.to_string(), seq);
            }
            ("test", "ok" | "failed" | "ignored" | "allowed_failure" | "allowed_fail") => {
                running.remove(start_key(name));
                sink(record(name, &obj, event))?;
            }
            ("bench", _) => {
                running.remove(start_key(name));
                sink(record(name, &obj, "bench"))?;
            }
            _ => {}
        }
    }
    if events == 0 {
        let what = if lines.line_no() == 0 {
            "empty input"
        } else {
            "not libtest JSON"
        };
        let reason = format!(
            "{what}: no libtest event found (expected lines like \
             {{\"type\":\"test\",\"event\":\"ok\",\"name\":\"tests::a\"}} from `cargo test -- \
             -Z unstable-options --format json` or `cargo nextest run --message-format \
             libtest-json`)"
        );
        return Err(match first_bad {
            Some(l) => Error::at_line(reason, l),
            None => Error::parse(reason),
        });
    }
    let mut left: Vec<(String, u64)> = running.into_iter().collect();
    left.sort_by_key(|(_, s)| *s);
    for (name, _) in left {
        sink(unfinished(&name))?;
    }
    Ok(ReportInfo {
        format: Some(Format::LibtestJson),
        tool: Some(if nextest { "nextest" } else { "cargo" }.to_string()),
        duration: if nextest { None } else { suite_time },
        ..ReportInfo::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    fn parse_str(s: &str) -> (ReportInfo, Vec<TestCase>) {
        collect_bytes(s.as_bytes(), Some(Format::LibtestJson)).unwrap()
    }

    fn outcomes(cases: &[TestCase]) -> Vec<(String, Outcome)> {
        cases.iter().map(|c| (c.id.clone(), c.outcome)).collect()
    }

    const CARGO: &str = r#"   Compiling foo v0.1.0
{ "type": "suite", "event": "started", "test_count": 4 }
{ "type": "test", "event": "started", "name": "tests::ok" }
{ "type": "test", "event": "started", "name": "tests::fails" }
{ "type": "test", "name": "tests::ok", "event": "ok", "exec_time": 0.001 }
printed with --nocapture
{ "type": "test", "name": "tests::fails", "event": "failed", "exec_time": 0.002, "stdout": "thread 'tests::fails' panicked at src/lib.rs:10:9:\nassertion `left == right` failed\n  left: 1\n right: 2\nnote: run with `RUST_BACKTRACE=1`\n" }
{ "type": "test", "event": "ignored", "name": "tests::slow", "message": "too slow" }
{ "type": "test", "event": "started", "name": "tests::should_panic" }
{ "type": "test", "name": "tests::should_panic", "event": "failed", "message": "test did not panic as expected" }
{ "type": "test", "event": "started", "name": "tests::hangs" }
{ "type": "test", "event": "timeout", "name": "tests::hangs" }
{ "type": "bench", "name": "benches::b", "median": 10, "deviation": 1 }
{ "type": "suite", "event": "failed", "passed": 1, "failed": 2, "ignored": 1, "measured": 0, "filtered_out": 0, "exec_time": 0.5 }
{ "type": "suite", "event": "started", "test_count": 1 }
{ "type": "test", "name": "it::works", "event": "ok", "exec_time": "1.5ms" }
{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0, "measured": 0, "filtered_out": 0, "exec_time": 0.25 }
"#;

    #[test]
    fn cargo_test_outcomes() {
        assert!(sniff(CARGO));
        let (info, cases) = parse_str(CARGO);
        assert_eq!(info.format, Some(Format::LibtestJson));
        assert_eq!(info.tool.as_deref(), Some("cargo"));
        assert_eq!(info.duration, Some(0.75));
        assert_eq!(
            outcomes(&cases),
            vec![
                ("tests::ok".into(), Outcome::Passed),
                ("tests::fails".into(), Outcome::Failed),
                ("tests::slow".into(), Outcome::Skipped),
                ("tests::should_panic".into(), Outcome::Failed),
                ("benches::b".into(), Outcome::Passed),
                ("it::works".into(), Outcome::Passed),
                ("tests::hangs".into(), Outcome::Errored),
            ]
        );
        assert_eq!(cases[0].classname, None);
        assert_eq!(cases[0].duration(), Some(0.001));
        let failed = &cases[1].attempts[0];
        let f = failed.failure.as_ref().unwrap();
        assert_eq!(
            f.message.as_deref(),
            Some("assertion `left == right` failed")
        );
        assert_eq!(f.kind.as_deref(), Some("panic"));
        assert!(
            f.details
                .as_deref()
                .unwrap()
                .starts_with("thread 'tests::fails'")
        );
        assert_eq!(failed.stdout, f.details);
        assert_eq!(
            cases[2].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("too slow")
        );
        assert_eq!(
            cases[3].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("test did not panic as expected")
        );
        assert_eq!(
            cases[4].properties,
            vec![
                ("bench.median".to_string(), "10".to_string()),
                ("bench.deviation".to_string(), "1".to_string())
            ]
        );
        assert_eq!(cases[5].duration(), Some(0.0015));
        let hang = cases[6].attempts[0].failure.as_ref().unwrap();
        assert!(hang.message.as_deref().unwrap().starts_with("no result"));
    }

    #[test]
    fn old_panic_format() {
        let (_, cases) = parse_str(
            r#"{"type":"test","name":"a","event":"failed","stdout":"thread 'a' panicked at 'boom, really', src/lib.rs:3:5\n"}"#,
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("boom, really"));
    }

    #[test]
    fn nextest_names_and_retries() {
        let input = r#"{"type":"suite","event":"started","test_count":3,"nextest":{"crate":"my-crate","test_binary":"my_crate","kind":"lib"}}
{"type":"test","event":"started","name":"my-crate::my_crate$tests::a"}
{"type":"test","event":"ok","name":"my-crate::my_crate$tests::a","exec_time":0.003}
{"type":"test","event":"started","name":"my-crate::my_crate$tests::flaky"}
{"type":"test","event":"ok","name":"my-crate::my_crate$tests::flaky#3","exec_time":0.01}
{"type":"test","event":"started","name":"my-crate::my_crate$tests::broken"}
{"type":"test","event":"failed","name":"my-crate::my_crate$tests::broken#2","exec_time":0.02,"stdout":"thread 'tests::broken' panicked at src/lib.rs:1:1:\nnope\n"}
{"type":"test","event":"started","name":"my-crate::my_crate@stress-2$tests::a"}
{"type":"test","event":"ok","name":"my-crate::my_crate@stress-2$tests::a","exec_time":0.003}
{"type":"test","event":"started","name":"my-crate::my_crate$tests::ff"}
{"type":"test","event":"failed","name":"my-crate::my_crate$tests::ff#2","exec_time":0.02,"reason":"flaky test treated as failure"}
{"type":"suite","event":"failed","passed":2,"failed":1,"ignored":0,"measured":0,"filtered_out":0,"exec_time":0.03,"nextest":{"crate":"my-crate","test_binary":"my_crate","kind":"lib"}}
"#;
        let (info, cases) = parse_str(input);
        assert_eq!(info.tool.as_deref(), Some("nextest"));
        assert_eq!(info.duration, None);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("my-crate::my_crate::tests::a".into(), Outcome::Passed),
                ("my-crate::my_crate::tests::flaky".into(), Outcome::Passed),
                ("my-crate::my_crate::tests::broken".into(), Outcome::Failed),
                ("my-crate::my_crate::tests::a".into(), Outcome::Passed),
                ("my-crate::my_crate::tests::ff".into(), Outcome::Failed),
            ]
        );
        assert_eq!(cases[0].classname.as_deref(), Some("my-crate::my_crate"));
        assert_eq!(cases[0].name, "tests::a");
        assert_eq!(cases[0].suite, vec!["my-crate::my_crate".to_string()]);
        let flaky: Vec<Outcome> = cases[1].attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(flaky, [Outcome::Failed, Outcome::Failed, Outcome::Passed]);
        assert_eq!(cases[1].attempts[2].duration, Some(0.01));
        let broken: Vec<Outcome> = cases[2].attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(broken, [Outcome::Failed, Outcome::Failed]);
        assert_eq!(
            cases[2].attempts[1]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("nope")
        );
        assert_eq!(
            cases[3].properties,
            vec![("nextest.stress_index".to_string(), "2".to_string())]
        );
        let ff: Vec<Outcome> = cases[4].attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(ff, [Outcome::Failed, Outcome::Passed]);
        assert_eq!(
            cases[4].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("flaky test treated as failure")
        );
    }

    #[test]
    fn truncated_stream_reports_what_was_seen() {
        let input = "{\"type\":\"suite\",\"event\":\"started\",\"test_count\":2}\n\
                     {\"type\":\"test\",\"event\":\"started\",\"name\":\"a\"}\n\
                     {\"type\":\"test\",\"event\":\"started\",\"name\":\"b\"}\n\
                     {\"type\":\"test\",\"name\":\"a\",\"event\":\"ok\"}\n\
                     {\"type\":\"test\",\"name\":\"b\",\"ev";
        let (_, cases) = parse_str(input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("a".into(), Outcome::Passed),
                ("b".into(), Outcome::Errored)
            ]
        );
    }

    #[test]
    fn sniffing() {
        assert!(sniff(
            r#"{ "type": "suite", "event": "started", "test_count": 2 }"#
        ));
        assert!(sniff(
            "running 2 tests\n{\"type\":\"test\",\"event\":\"started\",\"name\":\"a\"}\n"
        ));
        assert!(!sniff(
            r#"{"suite":{"id":0,"platform":"vm","path":"a.dart"},"type":"suite","time":0}"#
        ));
        assert!(!sniff(
            r#"{"protocolVersion":"0.1.1","runnerVersion":"1.23.1","pid":1,"type":"start","time":0}"#
        ));
        assert!(!sniff(r#"{"Action":"run","Package":"p","Test":"T"}"#));
        assert!(!sniff(
            "{\n  \"type\": \"suite\",\n  \"event\": \"started\"\n}\n"
        ));
        assert!(!sniff("ok 1 - a\n"));
    }

    #[test]
    fn nothing_recognisable_is_an_error() {
        let err = collect_bytes(b"hello\n", Some(Format::LibtestJson)).unwrap_err();
        assert!(err.to_string().contains("not libtest JSON"), "{err}");
        let err =
            collect_bytes(b"x\n{\"type\":\"start\"}\n", Some(Format::LibtestJson)).unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
        let err = collect_bytes(b"", Some(Format::LibtestJson)).unwrap_err();
        assert!(err.to_string().contains("empty input"), "{err}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in [
            r#"{"type":"test","event":"ok","name":"$"}"#,
            r#"{"type":"test","event":"ok","name":"a$#"}"#,
            r#"{"type":"test","event":"ok","name":"a$b#99999999999"}"#,
            r#"{"type":"test","event":"failed","name":"a","stdout":"panicked at '"}"#,
            r#"{"type":"test","event":"failed","name":"a","stdout":"panicked at x:\n"}"#,
            r#"{"type":"test","event":"ok","name":"a","exec_time":-1}"#,
            r#"{"type":"test","event":"ok","name":"a","exec_time":"NaNµs"}"#,
            r#"{"type":"suite","event":"ok","exec_time":1e400}"#,
            r#"{"type":"test","event":"started","name":"a"}{"type":"test"}"#,
        ] {
            let _ = collect_bytes(input.as_bytes(), Some(Format::LibtestJson));
            let _ = sniff(input);
        }
    }
}
