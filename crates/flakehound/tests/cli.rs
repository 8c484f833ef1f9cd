//! End-to-end tests of the `flakehound` binary: `parse`, `ingest` and `report` as a user runs them.
//!
//! Every test works in its own temporary directory (also the working directory, so no git
//! repository is found), with the store at `<tmp>/x.db`, colours off, a fixed table width and the
//! CI variables that would change the detected run metadata removed. Report fixtures are written
//! by the tests themselves.

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt;
use predicates::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// One JUnit file exercising the counting rules: a `flakyFailure` inside a passing test case
/// leaves it passed; error > failure > skipped when a test case holds several result elements.
const JUNIT_RULES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="calc">
  <testsuite name="calc.AddTest" tests="6" failures="2" errors="1" skipped="1" timestamp="2024-05-01T10:00:00Z">
    <testcase classname="calc.AddTest" name="test_passes" time="0.010"/>
    <testcase classname="calc.AddTest" name="test_flaky_then_passes" time="0.020">
      <flakyFailure message="timeout after 1s" type="TimeoutError">at calc.AddTest.test_flaky</flakyFailure>
      <flakyError message="connection reset" type="IOError"/>
    </testcase>
    <testcase classname="calc.AddTest" name="test_fails" time="0.030">
      <failure message="expected 2 but was 3" type="AssertionError">at calc.AddTest.test_fails</failure>
    </testcase>
    <testcase classname="calc.AddTest" name="test_error_beats_failure">
      <failure message="assertion"/>
      <error message="NullPointerException" type="java.lang.NullPointerException"/>
    </testcase>
    <testcase classname="calc.AddTest" name="test_failure_beats_skip">
      <skipped message="flaky on CI"/>
      <failure message="still ran and failed"/>
    </testcase>
    <testcase classname="calc.AddTest" name="test_skipped"><skipped message="not on linux"/></testcase>
  </testsuite>
</testsuites>
"#;

/// `go test -json`: one pass, one failure, one skip.
const GO_JSON: &str = r#"{"Time":"2024-05-01T10:00:00Z","Action":"run","Package":"example.com/calc","Test":"TestAdd"}
{"Time":"2024-05-01T10:00:00Z","Action":"output","Package":"example.com/calc","Test":"TestAdd","Output":"=== RUN   TestAdd\n"}
{"Time":"2024-05-01T10:00:00Z","Action":"output","Package":"example.com/calc","Test":"TestAdd","Output":"--- PASS: TestAdd (0.01s)\n"}
{"Time":"2024-05-01T10:00:00Z","Action":"pass","Package":"example.com/calc","Test":"TestAdd","Elapsed":0.01}
{"Time":"2024-05-01T10:00:01Z","Action":"run","Package":"example.com/calc","Test":"TestDiv"}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Test":"TestDiv","Output":"=== RUN   TestDiv\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Test":"TestDiv","Output":"    calc_test.go:12: division by zero\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Test":"TestDiv","Output":"--- FAIL: TestDiv (0.02s)\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"fail","Package":"example.com/calc","Test":"TestDiv","Elapsed":0.02}
{"Time":"2024-05-01T10:00:01Z","Action":"run","Package":"example.com/calc","Test":"TestSkip"}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Test":"TestSkip","Output":"    calc_test.go:20: needs a GPU\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"skip","Package":"example.com/calc","Test":"TestSkip","Elapsed":0}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Output":"FAIL\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"output","Package":"example.com/calc","Output":"FAIL\texample.com/calc\t0.03s\n"}
{"Time":"2024-05-01T10:00:01Z","Action":"fail","Package":"example.com/calc","Elapsed":0.03}
"#;

/// TAP 13: `ok # TODO` counts as passed, `# SKIP` as skipped.
const TAP: &str = "TAP version 13
1..4
ok 1 - parses numbers
not ok 2 - divides numbers
  ---
  message: division by zero
  ...
ok 3 - uses the GPU # SKIP no GPU on this runner
ok 4 - rounds half to even # TODO not implemented
";

/// CTRF (jest): one pass, one failure, one skip.
const CTRF: &str = r#"{"reportFormat":"CTRF","specVersion":"0.0.0","results":{
  "tool":{"name":"jest"},
  "summary":{"tests":3,"passed":1,"failed":1,"skipped":1,"pending":0,"other":0,"start":1714557600000,"stop":1714557601000},
  "tests":[
    {"name":"adds","status":"passed","duration":5,"suite":["math"]},
    {"name":"divides","status":"failed","duration":7,"message":"division by zero","suite":["math"]},
    {"name":"later","status":"skipped","duration":0,"suite":["math"]}
  ]}}
"#;

/// NUnit 3: one pass, one failure, one skip.
const NUNIT3: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<test-run id="2" testcasecount="3" result="Failed" total="3" passed="1" failed="1" skipped="1" start-time="2024-05-01 10:00:00Z" duration="0.5">
  <test-suite type="Assembly" name="Calc.Tests.dll">
    <test-suite type="TestFixture" name="CalcTests" fullname="Calc.Tests.CalcTests">
      <test-case id="1" name="Adds" fullname="Calc.Tests.CalcTests.Adds" classname="Calc.Tests.CalcTests" result="Passed" duration="0.1"/>
      <test-case id="2" name="Divides" fullname="Calc.Tests.CalcTests.Divides" classname="Calc.Tests.CalcTests" result="Failed" duration="0.2">
        <failure><message>Expected 2 but was 3</message><stack-trace>at CalcTests.Divides()</stack-trace></failure>
      </test-case>
      <test-case id="3" name="Later" fullname="Calc.Tests.CalcTests.Later" classname="Calc.Tests.CalcTests" result="Skipped"><reason><message>not yet</message></reason></test-case>
    </test-suite>
  </test-suite>
</test-run>
"#;

/// Malformed XML: the `<failure>` element is never closed (the parser notices on line 4).
const BAD_XML: &str =
    "<testsuite name=\"broken\">\n  <testcase name=\"a\">\n    <failure>\n</testsuite>\n";

/// A JUnit report with the given (classname, name, failure message) test cases; `None` passes.
fn junit(timestamp: &str, cases: &[(&str, &str, Option<&str>)]) -> String {
    let mut s = format!("<testsuite name=\"suite\" timestamp=\"{timestamp}\">\n");
    for (class, name, failure) in cases {
        match failure {
            None => s.push_str(&format!(
                "  <testcase classname=\"{class}\" name=\"{name}\" time=\"0.01\"/>\n"
            )),
            Some(msg) => s.push_str(&format!(
                "  <testcase classname=\"{class}\" name=\"{name}\" time=\"0.01\">\
                 <failure message=\"{msg}\">trace</failure></testcase>\n"
            )),
        }
    }
    s.push_str("</testsuite>\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Variables that would make CI / git detection (and the table width) depend on where the tests
/// run.
const SCRUBBED_VARS: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "JENKINS_URL",
    "BUILD_ID",
    "JOB_NAME",
    "TF_BUILD",
    "FLAKEHOUND_DB",
    "NO_COLOR",
    "GIT_DIR",
    "GIT_WORK_TREE",
];

/// A temporary directory holding the store and the reports of one test.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("create temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("x.db")
    }

    /// Writes `content` to `rel` (creating directories), returning the absolute path.
    fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// `flakehound --color never`, without a store flag, in the sandbox.
    fn std_bare(&self) -> std::process::Command {
        let mut cmd = std::process::Command::cargo_bin("flakehound").expect("flakehound binary");
        cmd.current_dir(self.path());
        for var in SCRUBBED_VARS {
            cmd.env_remove(var);
        }
        // Git must not find a repository above the sandbox either.
        cmd.env("GIT_CEILING_DIRECTORIES", self.path().parent().unwrap());
        cmd.env("COLUMNS", "120");
        cmd.args(["--color", "never"]);
        cmd
    }

    fn bare(&self) -> Command {
        Command::from_std(self.std_bare())
    }

    /// `flakehound --color never --db <tmp>/x.db`.
    fn cmd(&self) -> Command {
        self.cmd_db(&self.db())
    }

    fn cmd_db(&self, db: &Path) -> Command {
        let mut cmd = self.bare();
        cmd.arg("--db").arg(db);
        cmd
    }

    /// `flakehound ingest --runner test-runner ARGS` on the sandbox store.
    fn ingest(&self, args: &[&str]) -> Command {
        self.ingest_db(&self.db(), args)
    }

    fn ingest_db(&self, db: &Path, args: &[&str]) -> Command {
        let mut cmd = self.cmd_db(db);
        cmd.args(["ingest", "--runner", "test-runner"]).args(args);
        cmd
    }

    /// `ingest --json ARGS`, expecting exit status `code`; the parsed summary.
    fn ingest_json(&self, db: &Path, args: &[&str], code: i32) -> Value {
        let out = self
            .ingest_db(db, args)
            .arg("--json")
            .assert()
            .code(code)
            .get_output()
            .clone();
        parse_json(&out.stdout)
    }

    /// `report --json ARGS` on `db`, which must succeed.
    fn report_json(&self, db: &Path, args: &[&str]) -> Vec<Value> {
        let out = self
            .cmd_db(db)
            .arg("report")
            .arg("--json")
            .args(args)
            .assert()
            .success()
            .get_output()
            .clone();
        match parse_json(&out.stdout) {
            Value::Array(a) => a,
            other => panic!("report --json is not an array: {other}"),
        }
    }

    /// The `store` line of a human ingest summary of `dir` (all already stored): store totals.
    fn store_totals(&self, db: &Path, dir: &str) -> String {
        let out = self.ingest_db(db, &[dir]).assert().success();
        let text = stdout(out.get_output());
        text.lines()
            .find(|l| l.trim_start().starts_with("store "))
            .unwrap_or_else(|| panic!("no store line in:\n{text}"))
            .trim()
            .to_string()
    }

    /// Asserts an insta snapshot of `text` with the sandbox path redacted as `[TMP]` and
    /// RFC 3339 timestamps as `[TIMESTAMP]`.
    fn assert_snapshot(&self, name: &str, text: &str) {
        let tmp = regex_escape(&self.path().display().to_string());
        // Printed commands name this binary by its path when it is not on PATH.
        let bin = assert_cmd::cargo::cargo_bin("flakehound");
        let bin = regex_escape(&bin.canonicalize().unwrap_or(bin).display().to_string());
        let filters = vec![
            (bin.as_str(), "flakehound"),
            (tmp.as_str(), "[TMP]"),
            (
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z",
                "[TIMESTAMP]",
            ),
        ];
        insta::with_settings!({filters => filters}, {
            insta::assert_snapshot!(name, text);
        });
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

fn parse_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}",
            String::from_utf8_lossy(bytes).into_owned()
        )
    })
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

/// The entry of `id` in a `report --json` array.
fn entry<'a>(report: &'a [Value], id: &str) -> &'a Value {
    report
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in report: {report:#?}"))
}

/// The given fields of a JSON object.
fn pick(v: &Value, fields: &[&str]) -> Value {
    let map: serde_json::Map<String, Value> = fields
        .iter()
        .map(|f| (f.to_string(), v[*f].clone()))
        .collect();
    Value::Object(map)
}

fn ids(report: &[Value]) -> Vec<&str> {
    report.iter().map(|t| t["id"].as_str().unwrap()).collect()
}

/// The ids of a report, sorted (the report itself is ordered by impact).
fn sorted_ids(report: &[Value]) -> Vec<&str> {
    let mut ids = ids(report);
    ids.sort_unstable();
    ids
}

// ---------------------------------------------------------------------------------------------
// 1. parse
// ---------------------------------------------------------------------------------------------

#[test]
fn parse_json_prints_one_object_per_file_with_exact_keys_and_counts() {
    let sb = Sandbox::new();
    sb.write("junit.xml", JUNIT_RULES);
    sb.write("go-test.json", GO_JSON);
    sb.write("results.tap", TAP);
    sb.write("ctrf-report.json", CTRF);
    sb.write("TestResult.xml", NUNIT3);
    let out = sb
        .cmd()
        .args(["parse", "--json"])
        .args([
            "junit.xml",
            "go-test.json",
            "results.tap",
            "ctrf-report.json",
            "TestResult.xml",
        ])
        .assert()
        .success()
        .stderr("")
        .get_output()
        .clone();
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| parse_json(l.as_bytes()))
        .collect();
    let expected = [
        json!({"file": "junit.xml", "format": "junit", "tests": 6, "passed": 2, "failed": 2, "errored": 1, "skipped": 1, "distinct_tests": 6, "retries": 2, "flaky": 1}),
        json!({"file": "go-test.json", "format": "go-json", "tests": 3, "passed": 1, "failed": 1, "errored": 0, "skipped": 1, "distinct_tests": 3, "retries": 0, "flaky": 0}),
        json!({"file": "results.tap", "format": "tap", "tests": 4, "passed": 2, "failed": 1, "errored": 0, "skipped": 1, "distinct_tests": 4, "retries": 0, "flaky": 0}),
        json!({"file": "ctrf-report.json", "format": "ctrf", "tests": 3, "passed": 1, "failed": 1, "errored": 0, "skipped": 1, "distinct_tests": 3, "retries": 0, "flaky": 0}),
        json!({"file": "TestResult.xml", "format": "nunit3", "tests": 3, "passed": 1, "failed": 1, "errored": 0, "skipped": 1, "distinct_tests": 3, "retries": 0, "flaky": 0}),
    ];
    assert_eq!(lines, expected);
    for line in &lines {
        assert_eq!(
            keys(line),
            set(&[
                "file",
                "format",
                "tests",
                "passed",
                "failed",
                "errored",
                "skipped",
                "distinct_tests",
                "retries",
                "flaky"
            ])
        );
    }
    // The store is not touched by parse.
    assert!(!sb.db().exists());
}

#[test]
fn parse_counting_rules_in_human_output() {
    let sb = Sandbox::new();
    sb.write("rules.xml", JUNIT_RULES);
    // flakyFailure/flakyError inside a passing test case: still passed (2 passed, not 1);
    // error + failure: errored; skipped + failure: failed.
    sb.cmd()
        .args(["parse", "rules.xml"])
        .assert()
        .success()
        .stdout(
            "rules.xml: junit: 6 tests, 2 passed, 2 failed, 1 errored, 1 skipped; \
             6 records: 6 tests, 2 retries, 1 flaky\n",
        );
}

/// Repeated records of one test: retries, as the JUnit conventions of the CI report actions
/// read them (publish-unit-test-result-action's runs vs tests, action-junit-report's retries).
const JUNIT_REPEATS: &str = r#"<testsuite name="s" tests="3">
  <testcase classname="app.Net" name="test_fetch" time="1.0"><failure message="timeout"/></testcase>
  <testcase classname="app.Net" name="test_fetch" time="1.1"><failure message="timeout"/></testcase>
  <testcase classname="app.Net" name="test_fetch" time="0.2"/>
</testsuite>
"#;

#[test]
fn parse_shows_repeated_records_of_one_test_as_retries() {
    let sb = Sandbox::new();
    sb.write("retried.xml", JUNIT_REPEATS);
    sb.write(
        "twice.xml",
        JUNIT_REPEATS
            .replace(
                "<testcase classname=\"app.Net\" name=\"test_fetch\" time=\"0.2\"/>",
                "",
            )
            .replace(
                "</testsuite>",
                "<testcase classname=\"app.Db\" name=\"t\"/></testsuite>",
            ),
    );
    sb.cmd()
        .args(["parse", "retried.xml", "twice.xml"])
        .assert()
        .success()
        .stdout(
            "retried.xml: junit: 3 tests, 1 passed, 2 failed, 0 errored, 0 skipped; \
             3 records: 1 test, 2 retries, flaky\n\
             twice.xml: junit: 3 tests, 1 passed, 2 failed, 0 errored, 0 skipped; \
             3 records: 2 tests, 1 retry\n",
        );
    let out = sb
        .cmd()
        .args(["parse", "--json", "retried.xml"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        parse_json(&out.stdout),
        json!({"file": "retried.xml", "format": "junit", "tests": 3, "passed": 1, "failed": 2,
               "errored": 0, "skipped": 0, "distinct_tests": 1, "retries": 2, "flaky": 1})
    );
}

/// A `<testcase status="disabled">` holding a `<failure>` ran and failed: the result element
/// wins over the status attribute.
#[test]
fn parse_counts_a_disabled_test_case_with_a_failure_as_failed() {
    let sb = Sandbox::new();
    sb.write(
        "disabled.xml",
        r#"<testsuite name="s" tests="2" disabled="2">
  <testcase classname="c" name="ran" status="disabled"><failure message="boom"/></testcase>
  <testcase classname="c" name="off" status="disabled"/>
</testsuite>
"#,
    );
    sb.cmd()
        .args(["parse", "disabled.xml"])
        .assert()
        .success()
        .stdout("disabled.xml: junit: 2 tests, 0 passed, 1 failed, 0 errored, 1 skipped\n");
}

#[test]
fn parse_bad_file_reports_error_with_line_and_exits_1() {
    let sb = Sandbox::new();
    sb.write("good.xml", JUNIT_RULES);
    sb.write("bad.xml", BAD_XML);
    let out = sb
        .cmd()
        .args(["parse", "--json", "good.xml", "bad.xml", "missing.xml"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| parse_json(l.as_bytes()))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let by_file = |f: &str| {
        lines
            .iter()
            .find(|l| l["file"] == f)
            .unwrap_or_else(|| panic!("no line for {f}: {lines:#?}"))
    };
    assert_eq!(by_file("good.xml")["tests"], 6);
    let bad = by_file("bad.xml");
    assert_eq!(keys(bad), set(&["file", "error"]));
    let reason = bad["error"].as_str().unwrap();
    assert!(reason.starts_with("line 4: "), "{reason}");
    assert!(reason.contains("failure"), "{reason}");
    let missing = by_file("missing.xml");
    assert_eq!(keys(missing), set(&["file", "error"]));
    assert_eq!(missing["error"], "no such file or directory");

    // Only good files: exit 0.
    sb.cmd()
        .args(["parse", "--json", "good.xml"])
        .assert()
        .success();
    // Human form of the error.
    sb.cmd()
        .args(["parse", "bad.xml"])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("bad.xml: error: line 4: "));
}

#[test]
fn parse_searches_directories_recursively_for_report_files_only() {
    let sb = Sandbox::new();
    sb.write("out/a/junit.xml", JUNIT_RULES);
    sb.write("out/b/c/results.tap", TAP);
    sb.write("out/screenshot.png", [0x89, b'P', b'N', b'G', 0, 1, 2]);
    sb.write("out/b/build.log", "compiling...\nerror: nope\n");
    sb.write("out/.cache/stale.xml", BAD_XML);
    let out = sb
        .cmd()
        .args(["parse", "--json", "out"])
        .assert()
        .success()
        .get_output()
        .clone();
    let files: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            parse_json(l.as_bytes())["file"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(files, ["out/a/junit.xml", "out/b/c/results.tap"]);
}

// ---------------------------------------------------------------------------------------------
// 2. ingest
// ---------------------------------------------------------------------------------------------

/// reports/ with report files at several depths, plus files that are not reports.
fn write_report_tree(sb: &Sandbox) {
    sb.write("reports/junit.xml", JUNIT_RULES);
    sb.write("reports/screenshot.png", [0x89, b'P', b'N', b'G', 0, 1, 2]);
    sb.write("reports/nested/go-test.json", GO_JSON);
    sb.write("reports/nested/deeper/results.tap", TAP);
    sb.write("reports/nested/deeper/trace.log", "GET /api 500\n");
    // Hidden directories are skipped (this file would be rejected otherwise).
    sb.write("reports/.cache/junit.xml", BAD_XML);
}

#[test]
fn ingest_files_directories_and_stdin_summary() {
    let sb = Sandbox::new();
    write_report_tree(&sb);
    sb.write("TestResult.xml", NUNIT3);
    let out = sb
        .ingest(&[
            "--commit",
            "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
            "--branch",
            "main",
            "reports",
            "-",
            "TestResult.xml",
        ])
        .write_stdin(CTRF)
        .assert()
        .success()
        .stderr("")
        .get_output()
        .clone();
    sb.assert_snapshot("ingest_files_directories_and_stdin", &stdout(&out));

    // 6 + 3 + 4 (junit, go, tap in the tree) + 3 (stdin) + 3 (nunit) distinct tests.
    let all = sb.report_json(&sb.db(), &["--all"]);
    assert_eq!(all.len(), 19, "{:#?}", ids(&all));
    assert!(ids(&all).contains(&"math › divides"), "stdin was ingested");
    assert!(ids(&all).contains(&"Calc.Tests.CalcTests::Divides"));
    assert!(ids(&all).contains(&"example.com/calc::TestDiv"));
}

#[test]
fn ingest_rejected_file_exits_1_and_the_others_are_stored() {
    let sb = Sandbox::new();
    sb.write("in/a.xml", JUNIT_RULES);
    sb.write("in/b.xml", BAD_XML);
    sb.write("in/c.tap", TAP);
    let out = sb
        .ingest(&["--commit", "abc123", "--branch", "main", "in"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    sb.assert_snapshot("ingest_rejected_file", &stdout(&out));

    let all = sb.report_json(&sb.db(), &["--all"]);
    let got: BTreeSet<&str> = ids(&all).into_iter().collect();
    assert_eq!(got.len(), 10, "{got:#?}");
    assert!(got.contains("calc.AddTest::test_fails"));
    assert!(got.contains("divides numbers"));
    // Nothing of the rejected report: no test named `a` from bad.xml.
    assert!(!got.contains("a"), "{got:#?}");

    // --quiet: only the rejected files, on stderr; still exit 1 (b.xml is not stored).
    sb.ingest(&["--quiet", "in"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("Rejected:\n  in/b.xml: line 4: "));
    // The same rejection with --json.
    let summary = sb.ingest_json(&sb.db(), &["in"], 1);
    let statuses: Vec<(&str, &str)> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("in/a.xml", "duplicate"),
            ("in/b.xml", "rejected"),
            ("in/c.tap", "duplicate")
        ]
    );
}

#[test]
fn ingesting_the_same_reports_twice_changes_nothing() {
    let sb = Sandbox::new();
    write_report_tree(&sb);
    let meta = ["--commit", "abc123", "--branch", "main"];
    let first = sb.ingest_json(&sb.db(), &[&meta[..], &["reports"]].concat(), 0);
    assert_eq!(first["records"], 13);
    let before = sb.report_json(&sb.db(), &["--all"]);
    assert_eq!(before.len(), 13);

    let out = sb
        .ingest(&[&meta[..], &["reports"]].concat())
        .assert()
        .success()
        .get_output()
        .clone();
    sb.assert_snapshot("ingest_twice_second_summary", &stdout(&out));
    assert!(stdout(&out).contains("3 read: 0 ingested, 3 already stored, 0 rejected"));

    let second = sb.ingest_json(&sb.db(), &[&meta[..], &["reports"]].concat(), 0);
    assert_eq!(second["records"], 0);
    assert_eq!(second["results"], 0);
    assert_eq!(second["runs_created"], 0);
    assert_eq!(second["runs"], first["runs"]);
    for f in second["files"].as_array().unwrap() {
        assert_eq!(f["status"], "duplicate", "{f}");
    }
    assert_eq!(sb.report_json(&sb.db(), &["--all"]), before);
}

#[test]
fn ingest_json_summary_shape() {
    let sb = Sandbox::new();
    sb.write("run/a.xml", JUNIT_RULES);
    sb.write("run/b.xml", BAD_XML);
    sb.write("run/c.json", GO_JSON);
    sb.write("again.xml", JUNIT_RULES); // same content as run/a.xml
    let db = sb.db();
    let v = sb.ingest_json(&db, &["--run-id", "7", "run", "again.xml"], 1);
    assert_eq!(
        keys(&v),
        set(&[
            "db",
            "runs",
            "runs_created",
            "records",
            "results",
            "files",
            "decision"
        ])
    );
    assert_eq!(v["db"], db.display().to_string());
    assert_eq!(v["runs"], json!(["local/7/1/"]));
    assert_eq!(v["runs_created"], 1);
    // junit: 6 records, 8 attempts (two flaky attempts before the pass); go: 3 records.
    assert_eq!(v["records"], 9);
    assert_eq!(v["results"], 11);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(
        files[0],
        json!({"file": "run/a.xml", "status": "ingested", "format": "junit", "records": 6, "results": 8})
    );
    assert_eq!(keys(&files[1]), set(&["file", "status", "error"]));
    assert_eq!(files[1]["status"], "rejected");
    assert!(
        files[1]["error"].as_str().unwrap().starts_with("line 4: "),
        "{}",
        files[1]
    );
    assert_eq!(
        files[2],
        json!({"file": "run/c.json", "status": "ingested", "format": "go-json", "records": 3, "results": 3})
    );
    // Same content given twice in one invocation: stored once.
    assert_eq!(
        files[3],
        json!({"file": "again.xml", "status": "duplicate"})
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Idempotency and crash safety
// ---------------------------------------------------------------------------------------------

/// A run directory whose reports only mean something together: a retry pair and other reports.
fn write_run_dir(sb: &Sandbox, dir: &str) {
    sb.write(
        &format!("{dir}/attempt-1.xml"),
        junit(
            "2024-05-01T10:00:00Z",
            &[
                ("pkg.Api", "test_flaky", Some("race: connection reset")),
                ("pkg.Api", "test_stable", None),
                ("pkg.Api", "test_broken", Some("expected 200, got 500")),
            ],
        ),
    );
    sb.write(
        &format!("{dir}/attempt-2.xml"),
        junit(
            "2024-05-01T10:05:00Z",
            &[
                ("pkg.Api", "test_flaky", None),
                ("pkg.Api", "test_broken", Some("expected 200, got 500")),
            ],
        ),
    );
    sb.write(&format!("{dir}/go-test.json"), GO_JSON);
    sb.write(&format!("{dir}/results.tap"), TAP);
}

/// Ingests `dir/attempt-1.xml` alone, then all of `dir`, into one store and all of `dir` into
/// another; both stores must end the same.
fn subset_then_all_matches_fresh(meta: &[&str]) {
    let sb = Sandbox::new();
    write_run_dir(&sb, "run");
    let partial_db = sb.path().join("partial.db");
    let fresh_db = sb.path().join("fresh.db");
    let args = |paths: &[&'static str]| [meta, paths].concat();

    let first = sb.ingest_json(&partial_db, &args(&["run/attempt-1.xml"]), 0);
    let rest = sb.ingest_json(&partial_db, &args(&["run"]), 0);
    let fresh = sb.ingest_json(&fresh_db, &args(&["run"]), 0);

    let num = |v: &Value, k: &str| v[k].as_u64().unwrap();
    for k in ["records", "results", "runs_created"] {
        assert_eq!(
            num(&first, k) + num(&rest, k),
            num(&fresh, k),
            "{k}: {first:#} + {rest:#} vs {fresh:#}"
        );
    }
    assert_eq!(rest["runs"], fresh["runs"]);
    assert_eq!(
        sb.store_totals(&partial_db, "run"),
        sb.store_totals(&fresh_db, "run")
    );
    let partial_report = sb.report_json(&partial_db, &["--all"]);
    assert_eq!(partial_report, sb.report_json(&fresh_db, &["--all"]));
    assert_eq!(
        entry(&partial_report, "pkg.Api::test_flaky")["retry_passes"],
        1
    );
}

#[test]
fn interrupted_ingest_completed_later_matches_a_single_ingest() {
    subset_then_all_matches_fresh(&[
        "--run-id",
        "4711",
        "--commit",
        "abc123",
        "--timestamp",
        "2024-05-01T10:00:00Z",
    ]);
}

/// A large JUnit report: `n` test cases `big.C<k>::t<i>`, one in 1000 failing.
fn big_junit(n: usize) -> String {
    let mut s = String::with_capacity(n * 64);
    s.push_str("<testsuite name=\"big\" timestamp=\"2024-05-01T10:00:00Z\">\n");
    for i in 0..n {
        if i % 1000 == 0 {
            s.push_str(&format!(
                "<testcase classname=\"big.C{}\" name=\"t{i}\"><failure message=\"boom {i}\"/></testcase>\n",
                i % 20
            ));
        } else {
            s.push_str(&format!(
                "<testcase classname=\"big.C{}\" name=\"t{i}\" time=\"0.001\"/>\n",
                i % 20
            ));
        }
    }
    s.push_str("</testsuite>\n");
    s
}

#[test]
fn killed_ingest_leaves_a_consistent_store_and_rerunning_completes_it() {
    const N: usize = 25_000;
    let sb = Sandbox::new();
    sb.write("reports/big.xml", big_junit(N));
    sb.write(
        "reports/small.xml",
        junit(
            "2024-05-01T10:00:00Z",
            &[("small.S", "ok", None), ("small.S", "bad", Some("nope"))],
        ),
    );
    let db = sb.db();
    let ref_db = sb.path().join("ref.db");

    // A clean single ingest, timed to place the second kill.
    let start = Instant::now();
    let clean = sb.ingest_json(&ref_db, &["reports"], 0);
    let clean_time = start.elapsed();
    assert_eq!(clean["records"], N as u64 + 2);

    let mut killed_running = 0;
    for delay in [Duration::from_millis(150), clean_time.mul_f64(0.6)] {
        let mut child = sb
            .std_bare()
            .arg("--db")
            .arg(&db)
            .args(["ingest", "--runner", "test-runner", "reports"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn flakehound ingest");
        let spawned = Instant::now();
        // Kill after the delay, but not before the store was created.
        while !db.exists() && spawned.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(rest) = delay.checked_sub(spawned.elapsed()) {
            std::thread::sleep(rest);
        }
        if child.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        let _ = child.kill(); // SIGKILL on Unix
        child.wait().unwrap();

        // The store opens and is consistent: reports are all-or-nothing (big.xml has one
        // failing test in 1000, small.xml one).
        let report = sb.report_json(&db, &[]);
        let big = report
            .iter()
            .filter(|t| t["id"].as_str().unwrap().starts_with("big."))
            .count();
        assert!(
            big == 0 || big == N / 1000,
            "half a report stored: {big} of {} failing tests",
            N / 1000
        );
        assert!(report.len() - big <= 1, "{:#?}", ids(&report));
    }
    assert!(
        killed_running > 0,
        "ingest finished before it could be killed (clean ingest took {clean_time:?}); \
         make the report larger"
    );

    // Running the same ingest again completes it.
    let rerun = sb.ingest_json(&db, &["reports"], 0);
    for f in rerun["files"].as_array().unwrap() {
        assert!(
            f["status"] == "ingested" || f["status"] == "duplicate",
            "{f}"
        );
    }
    assert_eq!(rerun["runs"], clean["runs"]);
    assert_eq!(
        sb.store_totals(&db, "reports"),
        sb.store_totals(&ref_db, "reports")
    );
    assert_eq!(
        sb.store_totals(&ref_db, "reports"),
        format!(
            "store    1 runs, 2 reports, {} tests, {} results",
            N + 2,
            N + 2
        )
    );
    // (Failing tests only: `--all` lists all 25,000 tests, slow to print and compare.)
    let report = sb.report_json(&db, &[]);
    assert_eq!(report.len(), N / 1000 + 1);
    assert_eq!(report, sb.report_json(&ref_db, &[]));
}

// ---------------------------------------------------------------------------------------------
// 4. Run grouping and attempts
// ---------------------------------------------------------------------------------------------

#[test]
fn reports_in_one_directory_form_one_run_and_a_pass_on_retry_is_flaky() {
    let sb = Sandbox::new();
    sb.write(
        "ci/attempt-1.xml",
        junit(
            "2024-05-01T10:00:00Z",
            &[
                ("pkg.T", "test_flaky", Some("race")),
                ("pkg.T", "test_ok", None),
            ],
        ),
    );
    sb.write(
        "ci/attempt-2.xml",
        junit("2024-05-01T10:05:00Z", &[("pkg.T", "test_flaky", None)]),
    );
    let v = sb.ingest_json(&sb.db(), &["--commit", "c1", "ci"], 0);
    assert_eq!(v["runs"].as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(v["runs_created"], 1);

    let report = sb.report_json(&sb.db(), &[]);
    assert_eq!(ids(&report), ["pkg.T::test_flaky"]);
    let t = &report[0];
    assert_eq!(t["runs"], 1);
    assert_eq!(t["passes"], 1);
    assert_eq!(t["failures"], 1);
    assert_eq!(t["failed_runs"], 1);
    assert_eq!(t["retry_passes"], 1);
    assert!(t["flaky_signals"].as_u64().unwrap() >= 1, "{t:#}");
    assert_eq!(t["failure_rate"], 0.5);
}

#[test]
fn reports_in_different_directories_are_different_runs() {
    let sb = Sandbox::new();
    sb.write(
        "a/attempt-1.xml",
        junit("2024-05-01T10:00:00Z", &[("pkg.T", "test_x", Some("race"))]),
    );
    sb.write(
        "b/attempt-2.xml",
        junit("2024-05-01T10:05:00Z", &[("pkg.T", "test_x", None)]),
    );
    let v = sb.ingest_json(&sb.db(), &["a", "b"], 0);
    assert_eq!(v["runs"].as_array().unwrap().len(), 2, "{v:#}");
    assert_eq!(v["runs_created"], 2);
    let report = sb.report_json(&sb.db(), &[]);
    let t = entry(&report, "pkg.T::test_x");
    assert_eq!(t["runs"], 2);
    // Not a retry: the pass was in another run. No commit known: no commit evidence either.
    assert_eq!(t["retry_passes"], 0);
    assert_eq!(t["flaky_commits"], 0);
    assert_eq!(t["flaky_signals"], 0);
}

#[test]
fn pass_and_failure_on_the_same_commit_in_two_runs_is_a_flaky_commit() {
    let sb = Sandbox::new();
    sb.write(
        "fail.xml",
        junit(
            "2024-05-01T10:00:00Z",
            &[
                ("pkg.T", "test_x", Some("timeout")),
                ("pkg.T", "test_y", Some("bug")),
            ],
        ),
    );
    sb.write(
        "pass.xml",
        junit(
            "2024-05-01T11:00:00Z",
            &[("pkg.T", "test_x", None), ("pkg.T", "test_y", Some("bug"))],
        ),
    );
    let sha = "0123456789abcdef0123456789abcdef01234567";
    sb.ingest(&["--commit", sha, "--run-id", "1", "fail.xml"])
        .assert()
        .success();
    sb.ingest(&["--commit", sha, "--run-id", "2", "pass.xml"])
        .assert()
        .success();
    let report = sb.report_json(&sb.db(), &[]);
    let x = entry(&report, "pkg.T::test_x");
    assert_eq!(x["runs"], 2);
    assert_eq!(x["flaky_commits"], 1);
    assert_eq!(x["retry_passes"], 0);
    assert_eq!(x["flaky_signals"], 1);
    // Always failing: no flakiness evidence.
    let y = entry(&report, "pkg.T::test_y");
    assert_eq!(y["flaky_commits"], 0);
    assert_eq!(y["failure_rate"], 1.0);
    assert_eq!(sorted_ids(&report), ["pkg.T::test_x", "pkg.T::test_y"]);

    // The same results on different commits: no commit evidence.
    let sb = Sandbox::new();
    sb.write(
        "fail.xml",
        junit("2024-05-01T10:00:00Z", &[("pkg.T", "test_x", Some("t"))]),
    );
    sb.write(
        "pass.xml",
        junit("2024-05-01T11:00:00Z", &[("pkg.T", "test_x", None)]),
    );
    sb.ingest(&["--commit", "aaaa", "--run-id", "1", "fail.xml"])
        .assert()
        .success();
    sb.ingest(&["--commit", "bbbb", "--run-id", "2", "pass.xml"])
        .assert()
        .success();
    let x = sb.report_json(&sb.db(), &[]);
    assert_eq!(entry(&x, "pkg.T::test_x")["flaky_commits"], 0);
}

/// Documented: "inputs are ingested in the order given" — stdin too.
#[test]
fn stdin_is_ingested_in_argument_order() {
    let sb = Sandbox::new();
    sb.write(
        "attempt-1.xml",
        junit("2024-05-01T10:00:00Z", &[("pkg.T", "test_x", Some("race"))]),
    );
    let retry = junit("2024-05-01T10:05:00Z", &[("pkg.T", "test_x", None)]);
    sb.ingest(&["--run-id", "9", "attempt-1.xml", "-"])
        .write_stdin(retry)
        .assert()
        .success();
    let report = sb.report_json(&sb.db(), &[]);
    assert_eq!(entry(&report, "pkg.T::test_x")["retry_passes"], 1);
}

// ---------------------------------------------------------------------------------------------
// 5. report
// ---------------------------------------------------------------------------------------------

/// Three runs: 101 and 102 on one commit (101 with a retry report), 103 on another.
fn write_small_history(sb: &Sandbox) {
    let c1 = "c0ffee0000000000000000000000000000000001";
    let c2 = "c0ffee0000000000000000000000000000000002";
    sb.write(
        "run1/attempt-1.xml",
        junit(
            "2024-05-01T10:00:00Z",
            &[
                ("pkg.Api", "test_flaky", Some("race: connection reset")),
                ("pkg.Api", "test_broken", Some("expected 200, got 500")),
                ("pkg.Db", "test_sometimes", None),
                ("pkg.Api", "test_stable", None),
            ],
        ),
    );
    sb.write(
        "run1/attempt-2.xml",
        junit(
            "2024-05-01T10:05:00Z",
            &[
                ("pkg.Api", "test_flaky", None),
                ("pkg.Api", "test_broken", Some("expected 200, got 500")),
            ],
        ),
    );
    sb.write(
        "run2/attempt-1.xml",
        junit(
            "2024-05-02T10:00:00Z",
            &[
                ("pkg.Api", "test_flaky", None),
                ("pkg.Api", "test_broken", Some("expected 200, got 500")),
                (
                    "pkg.Db",
                    "test_sometimes",
                    Some("deadlock detected while waiting for a lock on table orders (pid 4242)"),
                ),
                ("pkg.Api", "test_stable", None),
            ],
        ),
    );
    sb.write(
        "run3/attempt-1.xml",
        junit(
            "2024-05-03T10:00:00Z",
            &[
                ("pkg.Api", "test_flaky", None),
                (
                    "pkg.Api",
                    "test_broken",
                    Some("expected 200, got 503&#10;body: {}"),
                ),
                ("pkg.Db", "test_sometimes", None),
                ("pkg.Api", "test_stable", None),
            ],
        ),
    );
    for (dir, commit, run_id) in [
        ("run1", c1, "101"),
        ("run2", c1, "102"),
        ("run3", c2, "103"),
    ] {
        sb.ingest(&[
            "--commit", commit, "--branch", "main", "--run-id", run_id, dir,
        ])
        .assert()
        .success();
    }
}

#[test]
fn report_json_fields_values_and_limit() {
    let sb = Sandbox::new();
    write_small_history(&sb);
    let report = sb.report_json(&sb.db(), &[]);
    assert_eq!(
        sorted_ids(&report),
        [
            "pkg.Api::test_broken",
            "pkg.Api::test_flaky",
            "pkg.Db::test_sometimes",
        ]
    );
    // Each entry carries its verdict.
    for t in &report {
        assert!(t["verdict"].is_string(), "{t}");
        assert!(
            t["confidence"]
                .as_f64()
                .is_some_and(|c| (0.0..=1.0).contains(&c)),
            "{t}"
        );
    }
    for t in &report {
        let k = keys(t);
        for required in [
            "id",
            "classname",
            "name",
            "file",
            "runs",
            "passes",
            "failures",
            "failure_rate",
            "flaky_signals",
        ] {
            assert!(k.contains(required), "{required} missing in {t:#}");
        }
    }
    let flaky = entry(&report, "pkg.Api::test_flaky");
    assert_eq!(flaky["classname"], "pkg.Api");
    assert_eq!(flaky["name"], "test_flaky");
    assert_eq!(flaky["file"], Value::Null);
    // The pass on retry inside run 101 is a retry pass, not a disagreement between the runs of
    // the commit: run 101's verdict (its last attempt) is a pass, like run 102's.
    assert_eq!(
        pick(
            flaky,
            &[
                "runs",
                "passes",
                "failures",
                "failed_runs",
                "retry_passes",
                "flaky_commits",
                "flaky_signals"
            ]
        ),
        json!({"runs": 3, "passes": 3, "failures": 1, "failed_runs": 1, "retry_passes": 1, "flaky_commits": 0, "flaky_signals": 1})
    );
    assert_eq!(flaky["failure_rate"], 0.25);
    assert_eq!(flaky["last_failure"], "race: connection reset");
    // Passed in run 101, failed in run 102: same commit, different verdicts.
    let sometimes = entry(&report, "pkg.Db::test_sometimes");
    assert_eq!(
        pick(
            sometimes,
            &[
                "runs",
                "failures",
                "retry_passes",
                "flaky_commits",
                "flaky_signals"
            ]
        ),
        json!({"runs": 3, "failures": 1, "retry_passes": 0, "flaky_commits": 1, "flaky_signals": 1})
    );
    let broken = entry(&report, "pkg.Api::test_broken");
    assert_eq!(broken["verdict"], "broken");
    assert_eq!(flaky["verdict"], "flaky");
    assert_eq!(broken["failures"], 4);
    assert_eq!(broken["failure_rate"], 1.0);
    assert_eq!(broken["flaky_signals"], 0);
    // The newest failure, from run 103.
    assert!(
        broken["last_failure"]
            .as_str()
            .unwrap()
            .starts_with("expected 200, got 503"),
        "{broken:#}"
    );
    assert_eq!(broken["last_seen"], "2024-05-03T10:00:00Z");

    let top = sb.report_json(&sb.db(), &["--limit", "1"]);
    assert_eq!(top, report[..1]);
    let two = sb.report_json(&sb.db(), &["--limit", "2"]);
    assert_eq!(two, report[..2]);
    let more = sb.report_json(&sb.db(), &["--limit", "10"]);
    assert_eq!(more, report);
    // --all adds the tests that never failed (test_stable; skip-only tests of no run).
    let all = sb.report_json(&sb.db(), &["--all"]);
    assert_eq!(all.len(), 4, "{:#?}", ids(&all));
    assert_eq!(entry(&all, "pkg.Api::test_stable")["failures"], 0);
}

#[test]
fn report_table_snapshot() {
    let sb = Sandbox::new();
    write_small_history(&sb);
    let out = sb
        .cmd()
        .arg("report")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "no colour with --color never");
    sb.assert_snapshot("report_table", &text);

    let out = sb
        .cmd()
        .args(["report", "--limit", "1"])
        .assert()
        .success()
        .get_output()
        .clone();
    sb.assert_snapshot("report_table_limit_1", &stdout(&out));
}

/// Documented flag: "Show at most N tests" — 0 shows none, but must not claim there are none.
#[test]
fn report_limit_zero_does_not_claim_an_empty_store() {
    let sb = Sandbox::new();
    write_small_history(&sb);
    sb.cmd()
        .args(["report", "--limit", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No failing tests").not());
}

#[test]
fn a_history_without_commits_names_culprit_runs_by_their_start() {
    // The bundled history as a downloaded folder: no commits, so a regression's culprit is a
    // run. It used to be shown as the first characters of a run key ("run:local/").
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/history/runs");
    let sb = Sandbox::new();
    sb.cmd()
        .args(["ingest", "--quiet"])
        .arg(&examples)
        .assert()
        .success();
    let out = sb
        .cmd()
        .args(["explain", "tests/test_orders.py::test_order_total"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(
        text.contains("Culprit: run 2026-10-18T02:37:00Z (posterior"),
        "{text}"
    );
    assert!(!text.contains("run:"), "{text}");
    let report = stdout(
        &sb.cmd()
            .args(["report"])
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    assert!(report.contains("run 2026-10-18T02:37:00Z"), "{report}");
}

#[test]
fn report_on_the_bundled_history() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/history");
    let runs = std::fs::read_to_string(examples.join("runs.tsv")).expect("examples/history");
    let sb = Sandbox::new();
    for line in runs
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        let [dir, commit, branch, runner, run_id, attempt, timestamp, job] = f[..] else {
            panic!("bad runs.tsv line {line:?}");
        };
        sb.cmd()
            .arg("ingest")
            .args(["--quiet", "--provider", "github-actions"])
            .args(["--commit", commit, "--branch", branch, "--runner", runner])
            .args(["--run-id", run_id, "--attempt", attempt])
            .args(["--timestamp", timestamp, "--job", job])
            .arg(examples.join(dir))
            .assert()
            .success()
            .stdout("")
            .stderr("");
    }
    let out = sb
        .cmd()
        .args(["report", "--limit", "10"])
        .assert()
        .success()
        .get_output()
        .clone();
    sb.assert_snapshot("report_bundled_history", &stdout(&out));

    // The verdicts match what was planted (examples/history/truth.txt).
    let report = sb.report_json(&sb.db(), &[]);
    let verdict = |id: &str| entry(&report, id)["verdict"].as_str().unwrap().to_string();
    for flaky in [
        "tests/test_checkout.py::test_checkout_timeout",
        "tests/test_cache.py::test_cache_ttl_expiry",
        "tests/test_search.py::test_search_ranking",
        "tests/test_users.py::test_session_refresh",
        "tests/test_reports.py::test_report_timezone",
    ] {
        assert_eq!(verdict(flaky), "flaky", "{flaky}");
    }
    assert_eq!(
        verdict("tests/test_payments.py::TestRefunds::test_partial_refund"),
        "broken"
    );
    assert_eq!(
        verdict("tests/test_orders.py::test_order_total"),
        "regression"
    );
    // Timeouts on one runner: the mechanism is the category, the runner a factor (issue 13).
    let timeout = entry(&report, "tests/test_checkout.py::test_checkout_timeout");
    assert_eq!(timeout["category"], "timeout");
    assert_eq!(timeout["factors"][0]["kind"], "runner");
    assert_eq!(timeout["factors"][0]["value"], "gha-runner-3");

    // classify: the verdict block, and an unknown test is an error.
    let out = sb
        .cmd()
        .args(["classify", "tests/test_orders.py::test_order_total"])
        .assert()
        .success();
    let text = stdout(out.get_output());
    assert!(
        text.contains("Verdict: REGRESSION (intermittent)"),
        "{text}"
    );
    assert!(text.contains("Culprit: "), "{text}");
    sb.cmd().args(["classify", "no::such"]).assert().code(2);
    let all: Vec<Value> = serde_json::from_slice(
        &sb.cmd()
            .args(["classify", "--all", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(all.len(), report.len());
    // explain: every section of the dossier.
    let out = sb
        .cmd()
        .args(["explain", "tests/test_checkout.py::test_checkout_timeout"])
        .assert()
        .success();
    let text = stdout(out.get_output());
    for section in [
        "Verdict: FLAKY",
        "Notes:",
        "Timeline",
        "Failure message clusters:",
        "Runners",
        "Hour of day",
    ] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    // incidents: the planted database outage, run 0041.
    let incidents: Vec<Value> = serde_json::from_slice(
        &sb.cmd()
            .args(["incidents", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["run"], "github-actions/9000041/1/test (3.11)");
    // clusters: no failure message is shared outside the incident.
    let clusters: Vec<Value> = serde_json::from_slice(
        &sb.cmd()
            .args(["clusters", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert!(clusters.is_empty(), "{clusters:#?}");
    assert_eq!(
        entry(&report, "tests/test_users.py::test_session_refresh")["runs"],
        90
    );
}

#[test]
fn report_without_a_store_is_an_error() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .arg("report")
        .assert()
        .code(2)
        .stdout("")
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(err.starts_with("flakehound: error: no store at "), "{err}");
    assert!(err.contains("x.db"), "{err}");
    assert!(err.contains("flakehound ingest"), "{err}");
    // Asking for a report does not create a store.
    assert!(!sb.db().exists());
    sb.cmd().args(["report", "--json"]).assert().code(2);
}

// ---------------------------------------------------------------------------------------------
// 6. Metadata flags and store location
// ---------------------------------------------------------------------------------------------

#[test]
fn metadata_flags_show_in_the_ingest_summary() {
    let sb = Sandbox::new();
    sb.write("junit.xml", JUNIT_RULES);
    let out = sb
        .cmd()
        .arg("ingest")
        .args(["--commit", "9b1f0e3c5a7d2e4f6a8b0c1d3e5f7a9b2c4d6e8f"])
        .args(["--branch", "feature/retry-budget"])
        .args(["--runner", "ci-runner-7"])
        .args(["--job", "unit tests"])
        .args(["--run-id", "123456"])
        .args(["--attempt", "3"])
        .args(["--timestamp", "2024-05-01 12:34:56"])
        .arg("junit.xml")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = stdout(&out);
    sb.assert_snapshot("ingest_metadata_flags", &text);
    // Run key: provider/run id/attempt/job; commit shortened to 12 characters.
    assert!(
        text.contains("  run      local/123456/3/unit tests (new)\n"),
        "{text}"
    );
    assert!(
        text.contains("commit 9b1f0e3c5a7d  branch feature/retry-budget  runner ci-runner-7\n"),
        "{text}"
    );
    // The timestamp (naive: UTC) is the run's start; it wins over the report's own timestamp.
    let report = sb.report_json(&sb.db(), &[]);
    assert_eq!(report[0]["last_seen"], "2024-05-01T12:34:56Z");

    // --provider names the run key's provider.
    let v = sb.ingest_json(
        &sb.path().join("p.db"),
        &[
            "--provider",
            "buildkite",
            "--run-id",
            "5",
            "--job",
            "lint",
            "junit.xml",
        ],
        0,
    );
    assert_eq!(v["runs"], json!(["buildkite/5/1/lint"]));
}

#[test]
fn invalid_timestamp_is_an_error() {
    let sb = Sandbox::new();
    sb.write("junit.xml", JUNIT_RULES);
    let out = sb
        .ingest(&["--timestamp", "last tuesday", "junit.xml"])
        .assert()
        .code(2)
        .stdout("")
        .get_output()
        .clone();
    let err = stderr(&out);
    assert_eq!(
        err,
        "flakehound: error: --timestamp \"last tuesday\" is not a date-time (use RFC 3339)\n"
    );
    assert!(!sb.db().exists(), "nothing stored");
    // An impossible date is no better.
    sb.ingest(&["--timestamp", "2024-02-30T10:00:00Z", "junit.xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--timestamp"));
}

#[test]
fn flakehound_db_environment_variable_is_honoured() {
    let sb = Sandbox::new();
    sb.write("junit.xml", JUNIT_RULES);
    let env_db = sb.path().join("from-env").join("store.db");
    let out = sb
        .bare()
        .env("FLAKEHOUND_DB", &env_db)
        .args(["ingest", "--runner", "r", "junit.xml"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout(&out).starts_with(&format!("Ingested into {}\n", env_db.display())),
        "{}",
        stdout(&out)
    );
    assert!(env_db.exists());
    assert!(!sb.db().exists());
    assert!(!sb.path().join(".flakehound").exists());
    let out = sb
        .bare()
        .env("FLAKEHOUND_DB", &env_db)
        .args(["report", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(parse_json(&out.stdout).as_array().unwrap().len(), 4);
    // --db wins over the variable.
    sb.bare()
        .env("FLAKEHOUND_DB", &env_db)
        .arg("--db")
        .arg(sb.db())
        .args(["report"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no store at"));
}

#[test]
fn default_store_outside_git_is_in_the_current_directory() {
    let sb = Sandbox::new();
    sb.write("junit.xml", JUNIT_RULES);
    let out = sb
        .bare()
        .args(["ingest", "--runner", "r", "junit.xml"])
        .assert()
        .success()
        .get_output()
        .clone();
    let expected = sb.path().join(".flakehound").join("flakehound.db");
    assert!(
        stdout(&out).starts_with(&format!("Ingested into {}\n", expected.display())),
        "{}",
        stdout(&out)
    );
    assert!(expected.exists());
    sb.bare().arg("report").assert().success();
}

/// `--db` and `--color` are offered only by the commands they apply to, after the command's
/// name as well as before it; the one after the name wins.
#[test]
fn store_and_colour_flags_only_where_they_apply() {
    let help = |args: &[&str]| {
        let out = std::process::Command::cargo_bin("flakehound")
            .unwrap()
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let parse = help(&["parse"]);
    assert!(
        !parse.contains("--db") && !parse.contains("--color"),
        "{parse}"
    );
    let classify = help(&["classify"]);
    assert!(
        classify.contains("--db") && !classify.contains("--color"),
        "{classify}"
    );
    for cmd in ["report", "run", "hunt"] {
        let text = help(&[cmd]);
        assert!(
            text.contains("--db") && text.contains("--color"),
            "{cmd}: {text}"
        );
    }
    for cmd in [
        "ingest", "diagnose", "polluter", "repro", "verify", "merge", "note", "notes",
    ] {
        assert!(help(&[cmd]).contains("--db"), "{cmd}");
    }
    assert!(help(&["quarantine", "sync"]).contains("--db"));

    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.xml");
    std::fs::write(
        &report,
        r#"<testsuite name="s"><testcase classname="c" name="t"/></testsuite>"#,
    )
    .unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::cargo_bin("flakehound")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("FLAKEHOUND_DB")
            .args(args)
            .output()
            .unwrap()
    };
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    // Before the name, after it, and both (the one after wins).
    let out = run(&[
        "--db".as_ref(),
        a.as_os_str(),
        "ingest".as_ref(),
        report.as_os_str(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(a.exists());
    let out = run(&[
        "--db".as_ref(),
        a.as_os_str(),
        "report".as_ref(),
        "--db".as_ref(),
        b.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "no store at b.db: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("b.db"));
    let out = run(&[
        "report".as_ref(),
        "--db".as_ref(),
        a.as_os_str(),
        "--color".as_ref(),
        "never".as_ref(),
    ]);
    assert!(out.status.success(), "{out:?}");
}
