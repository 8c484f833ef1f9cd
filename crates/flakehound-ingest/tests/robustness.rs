//! Robustness properties of the parsers: no input, however broken, may make them panic.
//!
//! - random bytes, random "almost structured" text and random bytes behind a format-like
//!   prefix, parsed with auto-detection and with every forced format;
//! - mutated real documents (byte flips, truncation, inserted bytes, NUL and control characters,
//!   markup/JSON tokens, duplicated and deleted slices). Seeds are small files of the shared
//!   corpus (`../shared/corpus` or `$FLAKEHOUND_CORPUS`, read at test time) plus inline seeds for
//!   every format, so the test means something without the corpus too;
//! - truncation of valid documents at every byte: `Ok`, or an error that says what is wrong;
//! - generated JUnit documents: exactly one record per `<testcase>`, with the most severe result
//!   element winning (error > failure > success > skipped) and names surviving XML escaping.
//!
//! An `Err` is always acceptable for broken input (parsers for some formats may be stubs); its
//! message must not be empty. Failure persistence is off so nothing is written next to this file;
//! a failing case is printed (shrunk) by proptest instead.

use flakehound_ingest::{Format, TestCase, parse_bytes};
use flakehound_model::Outcome;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

/// What a parse ended with, when it did not panic.
#[derive(Debug)]
enum Parsed {
    Ok(usize),
    Err(String),
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

fn show(bytes: &[u8]) -> String {
    const MAX: usize = 400;
    let shown = &bytes[..bytes.len().min(MAX)];
    let more = if bytes.len() > MAX { "..." } else { "" };
    format!("{} bytes: b\"{}\"{more}", bytes.len(), shown.escape_ascii())
}

/// Parses `bytes` with a sink that only counts, turning a panic into a test failure that names
/// the format and the input.
fn parse_counting(bytes: &[u8], format: Option<Format>) -> Result<Parsed, TestCaseError> {
    let run = catch_unwind(AssertUnwindSafe(|| {
        let mut records = 0usize;
        let mut sink = |_case: TestCase| {
            records += 1;
            Ok(())
        };
        parse_bytes(bytes, format, &mut sink).map(|_| records)
    }));
    match run {
        Ok(Ok(n)) => Ok(Parsed::Ok(n)),
        Ok(Err(e)) => {
            let msg = e.to_string();
            if msg.trim().is_empty() {
                return Err(TestCaseError::fail(format!(
                    "{format:?}: parse error with an empty message ({e:?}) for input {}",
                    show(bytes)
                )));
            }
            Ok(Parsed::Err(msg))
        }
        Err(payload) => Err(TestCaseError::fail(format!(
            "PANIC in parse_bytes(format = {format:?}): {} -- input {}",
            panic_message(payload.as_ref()),
            show(bytes)
        ))),
    }
}

/// Parses with auto-detection and with every forced format.
fn parse_all_ways(bytes: &[u8]) -> Result<(), TestCaseError> {
    parse_counting(bytes, None)?;
    for f in Format::ALL {
        parse_counting(bytes, Some(f))?;
    }
    Ok(())
}

/// Runs a plain `#[test]` check that returns `TestCaseError`s.
fn check(r: Result<(), TestCaseError>) {
    if let Err(e) = r {
        panic!("{e}");
    }
}

/// Words that make an error message about a broken/truncated document useful.
const USEFUL: &[&str] = &[
    "truncated",
    "end of file",
    "eof",
    "malformed",
    "empty",
    "unexpected",
    "unclosed",
    "not a test report",
    "unknown root",
    "expected",
    "invalid",
    "missing",
    "not allowed",
];

fn is_useful(msg: &str) -> bool {
    let lower = msg.to_lowercase();
    USEFUL.iter().any(|w| lower.contains(w))
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

struct Seed {
    name: String,
    format: Option<Format>,
    bytes: Vec<u8>,
}

const INLINE_JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- written by hand -->
<testsuites name="all" tests="5" failures="1" errors="1" skipped="1" time="1.5">
  <testsuite name="pytest" tests="5" failures="1" errors="1" skipped="1" time="1,5" timestamp="2024-01-02T03:04:05" hostname="ci">
    <properties><property name="python" value="3.12"/><property name="os">linux</property></properties>
    <testcase classname="tests.test_a.TestA" name="test_ok[1-&lt;x&gt;]" file="tests/test_a.py" line="10" time="0.001"/>
    <testcase classname="tests.test_a.TestA" name="test_fail &amp; más 中文" time="0.25">
      <failure message="assert 1 == 2" type="AssertionError"><![CDATA[def test_fail():
>       assert 1 == 2
E       assert 1 == 2]]></failure>
      <system-out>stdout &#x1F600; line</system-out>
    </testcase>
    <testcase classname="tests.test_b" name="test_error" time="abc"><error message="boom" type="RuntimeError">Traceback</error></testcase>
    <testcase classname="tests.test_b" name="test_skip"><skipped message="not on CI" type="pytest.skip"/></testcase>
    <testcase classname="tests.test_c" name="test_flaky" time="2">
      <flakyFailure message="first try" type="T"><stackTrace>at x</stackTrace><system-err>err</system-err></flakyFailure>
    </testcase>
  </testsuite>
</testsuites>
"#;

const INLINE_NUNIT2: &str = r#"<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-results name="Tests.dll" total="4" errors="0" failures="1" not-run="1" inconclusive="0" ignored="1" skipped="0" invalid="0" date="2012-01-14" time="10:43:31">
  <environment nunit-version="2.5.10.11092" clr-version="2.0.50727.5448" os-version="Windows" platform="Win32NT" cwd="C:\" machine-name="BOX" user="u" user-domain="d"/>
  <culture-info current-culture="en-US" current-uiculture="en-US"/>
  <test-suite type="Assembly" name="Tests.dll" executed="True" result="Failure" success="False" time="0.109" asserts="0">
    <results>
      <test-suite type="TestFixture" name="Fixture" executed="True" result="Failure" success="False" time="0.05" asserts="0">
        <results>
          <test-case name="Ns.Fixture.Passes" executed="True" result="Success" success="True" time="0.010" asserts="1"/>
          <test-case name="Ns.Fixture.Fails" executed="True" result="Failure" success="False" time="0.002" asserts="1">
            <failure><message><![CDATA[Expected: 2 But was: 1]]></message><stack-trace><![CDATA[at Ns.Fixture.Fails()]]></stack-trace></failure>
          </test-case>
          <test-case name="Ns.Fixture.Ignored" executed="False" result="Ignored"><reason><message><![CDATA[later]]></message></reason></test-case>
          <test-case name="Ns.Fixture.Errors" executed="True" result="Error" success="False" time="0.001"><failure><message>System.Exception : boom</message></failure></test-case>
        </results>
      </test-suite>
    </results>
  </test-suite>
</test-results>
"#;

const INLINE_NUNIT3: &str = r#"<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-run id="2" testcasecount="4" result="Failed" total="4" passed="1" failed="2" inconclusive="0" skipped="1" asserts="3" engine-version="3.10.0" start-time="2020-01-01 10:00:00Z" end-time="2020-01-01 10:00:01Z" duration="0.5">
  <test-suite type="Assembly" id="0-1005" name="Tests.dll" fullname="C:\Tests.dll" runstate="Runnable" testcasecount="4" result="Failed" total="4" passed="1" failed="2" skipped="1">
    <properties><property name="_PID" value="1234"/></properties>
    <test-suite type="TestFixture" id="0-1000" name="Fixture" fullname="Ns.Fixture" classname="Ns.Fixture" result="Failed">
      <test-case id="0-1001" name="Passes" fullname="Ns.Fixture.Passes" methodname="Passes" classname="Ns.Fixture" runstate="Runnable" result="Passed" start-time="2020-01-01 10:00:00Z" duration="0.012" asserts="1"/>
      <test-case id="0-1002" name="Fails(1,&quot;x&quot;)" fullname="Ns.Fixture.Fails(1,&quot;x&quot;)" methodname="Fails" classname="Ns.Fixture" result="Failed" label="" duration="0.003">
        <failure><message><![CDATA[  Expected: 2
  But was:  1]]></message><stack-trace><![CDATA[at Ns.Fixture.Fails()]]></stack-trace></failure>
        <output><![CDATA[some output]]></output>
      </test-case>
      <test-case id="0-1003" name="Errors" fullname="Ns.Fixture.Errors" classname="Ns.Fixture" result="Failed" label="Error"><failure><message>System.Exception</message></failure></test-case>
      <test-case id="0-1004" name="Ignored" fullname="Ns.Fixture.Ignored" classname="Ns.Fixture" runstate="Ignored" result="Skipped" label="Ignored"><reason><message>later</message></reason></test-case>
    </test-suite>
  </test-suite>
</test-run>
"#;

const INLINE_XUNIT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<assemblies timestamp="06/07/2018 20:33:39">
  <assembly name="C:\Tests.dll" environment="64-bit .NET" test-framework="xUnit.net 2.4.1" run-date="2018-06-07" run-time="20:33:38" total="4" passed="1" failed="1" skipped="1" time="0.100" errors="1">
    <errors><error type="assembly-cleanup" name="x"><failure exception-type="System.Exception"><message>cleanup</message></failure></error></errors>
    <collection total="4" passed="1" failed="1" skipped="1" name="Test collection for Ns.Tests" time="0.050">
      <test name="Ns.Tests.Passes" type="Ns.Tests" method="Passes" time="0.0010" result="Pass"><traits><trait name="Category" value="Unit"/></traits></test>
      <test name="Ns.Tests.Fails(x: &quot;é&quot;)" type="Ns.Tests" method="Fails" time="0.002" result="Fail">
        <failure exception-type="Xunit.Sdk.EqualException"><message><![CDATA[Assert.Equal() Failure]]></message><stack-trace><![CDATA[at Ns.Tests.Fails()]]></stack-trace></failure>
        <output>captured</output>
      </test>
      <test name="Ns.Tests.Skipped" type="Ns.Tests" method="Skipped" time="0" result="Skip"><reason><![CDATA[not now]]></reason></test>
      <test name="Ns.Tests.NotRun" type="Ns.Tests" method="NotRun" time="0" result="NotRun"/>
    </collection>
  </assembly>
</assemblies>
"#;

const INLINE_TRX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<TestRun id="0f3a5b2c-1111-2222-3333-444455556666" name="user@HOST 2020-01-01 10:00:00" runUser="user" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Times creation="2020-01-01T10:00:00.000+00:00" queuing="2020-01-01T10:00:00.000+00:00" start="2020-01-01T10:00:00.000+00:00" finish="2020-01-01T10:00:01.000+00:00"/>
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="Passes" computerName="HOST" duration="00:00:00.0120000" startTime="2020-01-01T10:00:00.000+00:00" endTime="2020-01-01T10:00:00.012+00:00" testType="13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b" outcome="Passed" testListId="l1" relativeResultsDirectory="e1"/>
    <UnitTestResult executionId="e2" testId="t2" testName="Fails(&quot;a&quot;)" computerName="HOST" duration="00:00:00.0030000" outcome="Failed" testListId="l1">
      <Output><StdOut>out</StdOut><ErrorInfo><Message>Assert.AreEqual failed. Expected:&lt;2&gt;. Actual:&lt;1&gt;.</Message><StackTrace>at Ns.Tests.Fails() in C:\Tests.cs:line 12</StackTrace></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult executionId="e3" testId="t3" testName="Skipped" computerName="HOST" duration="00:00:00" outcome="NotExecuted" testListId="l1"/>
    <UnitTestResult executionId="e4" testId="t4" testName="Timeout" computerName="HOST" outcome="Timeout" testListId="l1"/>
  </Results>
  <TestDefinitions>
    <UnitTest name="Passes" storage="c:\tests.dll" id="t1"><Execution id="e1"/><TestMethod codeBase="C:\Tests.dll" adapterTypeName="executor://mstestadapter/v2" className="Ns.Tests" name="Passes"/></UnitTest>
    <UnitTest name="Fails(&quot;a&quot;)" storage="c:\tests.dll" id="t2"><Execution id="e2"/><TestMethod codeBase="C:\Tests.dll" className="Ns.Tests" name="Fails"/></UnitTest>
    <UnitTest name="Skipped" storage="c:\tests.dll" id="t3"><Execution id="e3"/><TestMethod codeBase="C:\Tests.dll" className="Ns.Tests" name="Skipped"/></UnitTest>
    <UnitTest name="Timeout" storage="c:\tests.dll" id="t4"><Execution id="e4"/><TestMethod codeBase="C:\Tests.dll" className="Ns.Tests" name="Timeout"/></UnitTest>
  </TestDefinitions>
  <TestEntries><TestEntry testId="t1" executionId="e1" testListId="l1"/></TestEntries>
  <TestLists><TestList name="Results Not in a List" id="l1"/></TestLists>
  <ResultSummary outcome="Failed"><Counters total="4" executed="3" passed="1" failed="1" error="0" timeout="1" aborted="0" inconclusive="0" notExecuted="1"/></ResultSummary>
</TestRun>
"#;

const INLINE_CTRF: &str = r#"{
  "reportFormat": "CTRF",
  "specVersion": "0.0.0",
  "results": {
    "tool": { "name": "jest", "version": "29.7.0" },
    "summary": { "tests": 4, "passed": 1, "failed": 1, "pending": 0, "skipped": 1, "other": 1, "start": 1706828654274, "stop": 1706828655782 },
    "tests": [
      { "name": "adds \"1\" + 2 é", "status": "passed", "duration": 12, "suite": "math > add", "filePath": "src/add.test.js", "line": 3 },
      { "name": "subtracts", "status": "failed", "duration": 4, "message": "expected 1 to be 2", "trace": "at sub.test.js:7:5", "retries": 2, "flaky": false, "rawStatus": "failed" },
      { "name": "later", "status": "skipped", "duration": 0 },
      { "name": "weird", "status": "other", "duration": -1, "extra": { "tags": ["a", null, 1.5e3] } }
    ],
    "environment": { "appName": "app", "buildName": "b" }
  }
}
"#;

const INLINE_GOJSON: &str = r#"=== build output before the stream
{"Time":"2024-01-02T03:04:05.000000001Z","Action":"start","Package":"example.com/p"}
{"Time":"2024-01-02T03:04:05.1Z","Action":"run","Package":"example.com/p","Test":"TestOK"}
{"Time":"2024-01-02T03:04:05.1Z","Action":"output","Package":"example.com/p","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Time":"2024-01-02T03:04:05.2Z","Action":"output","Package":"example.com/p","Test":"TestOK","Output":"--- PASS: TestOK (0.10s)\n"}
{"Time":"2024-01-02T03:04:05.2Z","Action":"pass","Package":"example.com/p","Test":"TestOK","Elapsed":0.1}
{"Time":"2024-01-02T03:04:05.3Z","Action":"run","Package":"example.com/p","Test":"TestFail"}
{"Time":"2024-01-02T03:04:05.3Z","Action":"run","Package":"example.com/p","Test":"TestFail/sub_1"}
{"Time":"2024-01-02T03:04:05.3Z","Action":"output","Package":"example.com/p","Test":"TestFail/sub_1","Output":"    p_test.go:12: got 1, want 2 \u00e9\n"}
{"Time":"2024-01-02T03:04:05.4Z","Action":"fail","Package":"example.com/p","Test":"TestFail/sub_1","Elapsed":0}
{"Time":"2024-01-02T03:04:05.4Z","Action":"fail","Package":"example.com/p","Test":"TestFail","Elapsed":0.01}
{"Time":"2024-01-02T03:04:05.5Z","Action":"run","Package":"example.com/p","Test":"TestSkip"}
{"Time":"2024-01-02T03:04:05.5Z","Action":"skip","Package":"example.com/p","Test":"TestSkip","Elapsed":0}
{"Time":"2024-01-02T03:04:05.6Z","Action":"output","Package":"example.com/p","Output":"FAIL\n"}
{"Time":"2024-01-02T03:04:05.6Z","Action":"fail","Package":"example.com/p","Elapsed":0.6}
{"Time":"2024-01-02T03:04:05.7Z","Action":"output","Package":"example.com/q","Output":"?   \texample.com/q\t[no test files]\n"}
{"Time":"2024-01-02T03:04:05.7Z","Action":"skip","Package":"example.com/q","Elapsed":0}
"#;

const INLINE_MOCHA: &str = r#"{
  "stats": { "suites": 2, "tests": 4, "passes": 1, "pending": 1, "failures": 2, "start": "2023-01-14T21:18:12.420Z", "end": "2023-01-14T21:18:16.042Z", "duration": 12 },
  "tests": [
    { "title": "works", "fullTitle": "Suite works", "file": "/t/a.spec.js", "duration": 3, "currentRetry": 0, "speed": "fast", "err": {} },
    { "title": "fails \"é\"", "fullTitle": "Suite fails \"é\"", "file": "/t/a.spec.js", "duration": 1, "currentRetry": 1, "err": { "message": "expected 1 to equal 2", "stack": "AssertionError: expected\n    at Context.<anonymous>", "actual": "1", "expected": "2", "operator": "strictEqual" } },
    { "title": "pending", "fullTitle": "Suite pending", "file": "/t/a.spec.js", "currentRetry": 0, "err": {} },
    { "title": "\"before each\" hook", "fullTitle": "Suite \"before each\" hook", "duration": 0, "err": { "message": "hook failed", "stack": "Error: hook failed" } }
  ],
  "pending": [ { "title": "pending", "fullTitle": "Suite pending", "file": "/t/a.spec.js", "currentRetry": 0, "err": {} } ],
  "failures": [ { "title": "fails \"é\"", "fullTitle": "Suite fails \"é\"", "duration": 1, "err": { "message": "expected 1 to equal 2" } } ],
  "passes": [ { "title": "works", "fullTitle": "Suite works", "duration": 3, "err": {} } ]
}
"#;

const INLINE_DART: &str = r#"{"protocolVersion":"0.1.1","runnerVersion":"1.23.1","pid":1719,"type":"start","time":0}
{"suite":{"id":0,"platform":"vm","path":"test/a_test.dart"},"type":"suite","time":0}
{"test":{"id":1,"name":"loading test/a_test.dart","suiteID":0,"groupIDs":[],"metadata":{"skip":false,"skipReason":null},"line":null,"column":null,"url":null},"type":"testStart","time":2}
{"count":1,"time":16,"type":"allSuites"}
{"testID":1,"result":"success","skipped":false,"hidden":true,"type":"testDone","time":90}
{"group":{"id":2,"suiteID":0,"parentID":null,"name":"","metadata":{"skip":false,"skipReason":null},"testCount":3,"line":null,"column":null,"url":null},"type":"group","time":95}
{"group":{"id":3,"suiteID":0,"parentID":2,"name":"math","metadata":{"skip":false,"skipReason":null},"testCount":3,"line":5,"column":3,"url":"file:///t/a_test.dart"},"type":"group","time":96}
{"test":{"id":4,"name":"math adds","suiteID":0,"groupIDs":[2,3],"metadata":{"skip":false,"skipReason":null},"line":6,"column":5,"url":"file:///t/a_test.dart"},"type":"testStart","time":97}
{"testID":4,"result":"success","skipped":false,"hidden":false,"type":"testDone","time":99}
{"test":{"id":5,"name":"math fails é","suiteID":0,"groupIDs":[2,3],"metadata":{"skip":false,"skipReason":null},"line":9,"column":5,"url":"file:///t/a_test.dart"},"type":"testStart","time":100}
{"testID":5,"messageType":"print","message":"hello","type":"print","time":101}
{"testID":5,"error":"Expected: <2>\n  Actual: <1>\n","stackTrace":"package:test_api expect\ntest/a_test.dart 10:7 main.<fn>\n","isFailure":true,"type":"error","time":102}
{"testID":5,"result":"failure","skipped":false,"hidden":false,"type":"testDone","time":103}
{"test":{"id":6,"name":"math errors","suiteID":0,"groupIDs":[2,3],"metadata":{"skip":false,"skipReason":null},"line":12,"column":5,"url":"file:///t/a_test.dart"},"type":"testStart","time":104}
{"testID":6,"error":"Bad state: boom","stackTrace":"","isFailure":false,"type":"error","time":105}
{"testID":6,"result":"error","skipped":false,"hidden":false,"type":"testDone","time":106}
{"test":{"id":7,"name":"math skipped","suiteID":0,"groupIDs":[2,3],"metadata":{"skip":true,"skipReason":"later"},"line":14,"column":5,"url":"file:///t/a_test.dart"},"type":"testStart","time":107}
{"testID":7,"result":"success","skipped":true,"hidden":false,"type":"testDone","time":108}
{"success":false,"type":"done","time":110}
"#;

const INLINE_RSPEC: &str = r#"{"version":"3.12.0","seed":1234,"examples":[
{"id":"./spec/a_spec.rb[1:1]","description":"works","full_description":"A works","status":"passed","file_path":"./spec/a_spec.rb","line_number":2,"run_time":0.001,"pending_message":null},
{"id":"./spec/a_spec.rb[1:2]","description":"fails \"é\"","full_description":"A fails \"é\"","status":"failed","file_path":"./spec/a_spec.rb","line_number":5,"run_time":0.002,"pending_message":null,"exception":{"class":"RSpec::Expectations::ExpectationNotMetError","message":"\nexpected: 2\n     got: 1\n","backtrace":["./spec/a_spec.rb:6:in `block (2 levels) in <top (required)>'"]}},
{"id":"./spec/a_spec.rb[1:3]","description":"later","full_description":"A later","status":"pending","file_path":"./spec/a_spec.rb","line_number":8,"run_time":0.0,"pending_message":"Not yet implemented"}
],"summary":{"duration":0.01,"example_count":3,"failure_count":1,"pending_count":1,"errors_outside_of_examples_count":0},"summary_line":"3 examples, 1 failure, 1 pending"}
"#;

const INLINE_TAP: &str = "TAP version 13
# a comment
1..6
ok 1 - works
not ok 2 - fails é
  ---
  message: 'expected 1 to equal 2'
  severity: fail
  data:
    got: 1
    expect: 2
  ...
ok 3 - later # SKIP not on CI
not ok 4 - todo # TODO not done
ok 5
# Subtest: nested
    1..1
    ok 1 - inner
ok 6 - nested
# tests 6
";

const INLINE_LIBTEST: &str = r#"{ "type": "suite", "event": "started", "test_count": 4 }
{ "type": "test", "event": "started", "name": "tests::ok" }
{ "type": "test", "event": "started", "name": "tests::fails" }
{ "type": "test", "name": "tests::ok", "event": "ok", "exec_time": 0.001 }
{ "type": "test", "name": "tests::fails", "event": "failed", "exec_time": 0.002, "stdout": "thread 'tests::fails' panicked at src/lib.rs:10:9:\nassertion `left == right` failed\n  left: 1\n right: 2 é\n" }
{ "type": "test", "event": "ignored", "name": "tests::ignored", "message": "slow" }
{ "type": "test", "event": "started", "name": "tests::timeout" }
{ "type": "test", "event": "timeout", "name": "tests::timeout" }
{ "type": "bench", "name": "benches::b", "median": 10, "deviation": 1 }
{ "type": "suite", "event": "failed", "passed": 1, "failed": 1, "ignored": 1, "measured": 0, "filtered_out": 0, "exec_time": 0.005 }
"#;

const INLINE_JEST: &str = r#"{"numFailedTests":1,"numPassedTests":1,"numTotalTests":3,"startTime":1700000000000,
 "testResults":[{"name":"/w/a.test.js","status":"failed","startTime":1700000000100,"endTime":1700000000200,"message":"",
  "assertionResults":[
   {"ancestorTitles":["A","b (c)|[d]"],"title":"works é","fullName":"A b (c)|[d] works é","status":"passed","duration":3,"invocations":2,"retryReasons":[],"failureMessages":[],"location":{"line":4,"column":3}},
   {"ancestorTitles":[],"title":"fails","fullName":"fails","status":"failed","duration":1,"invocations":1,"failureMessages":["\u001b[31mError: expect(received).toBe(expected)\u001b[39m\n\nExpected: 3\n    at Object.toBe (/w/a.test.js:10:21)"]},
   {"ancestorTitles":["A"],"title":"todo","fullName":"A todo","status":"todo","duration":null,"failureMessages":[]}]},
  {"name":"/w/broken.test.js","status":"failed","assertionResults":[],"message":"  ● Test suite failed to run\n\n    Cannot find module 'x'\n"}]}
"#;

/// One inline seed per format, plus a few encoding variants of JUnit.
fn inline_seeds() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = [
        (Format::Junit, INLINE_JUNIT),
        (Format::Nunit2, INLINE_NUNIT2),
        (Format::Nunit3, INLINE_NUNIT3),
        (Format::Xunit, INLINE_XUNIT),
        (Format::Trx, INLINE_TRX),
        (Format::Ctrf, INLINE_CTRF),
        (Format::GoJson, INLINE_GOJSON),
        (Format::MochaJson, INLINE_MOCHA),
        (Format::DartJson, INLINE_DART),
        (Format::RspecJson, INLINE_RSPEC),
        (Format::Tap, INLINE_TAP),
        (Format::LibtestJson, INLINE_LIBTEST),
        (Format::JestJson, INLINE_JEST),
    ]
    .into_iter()
    .map(|(format, text)| Seed {
        name: format!("inline:{}", format.as_str()),
        format: Some(format),
        bytes: text.as_bytes().to_vec(),
    })
    .collect();

    // Encoding variants: UTF-8 BOM + CRLF, UTF-16LE/BE with BOM, declared ISO-8859-1.
    let small = "<testsuite name=\"s\"><testcase classname=\"c\" name=\"caf\u{e9}\"><failure message=\"m\"/></testcase><testcase name=\"b\"/></testsuite>";
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(INLINE_JUNIT.replace('\n', "\r\n").as_bytes());
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for u in small.encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
        be.extend_from_slice(&u.to_be_bytes());
    }
    let mut latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".to_vec();
    latin1.extend(small.chars().map(|c| c as u32 as u8));
    for (name, bytes) in [
        ("inline:junit-bom-crlf", bom),
        ("inline:junit-utf16le", le),
        ("inline:junit-utf16be", be),
        ("inline:junit-latin1", latin1),
    ] {
        seeds.push(Seed {
            name: name.into(),
            format: Some(Format::Junit),
            bytes,
        });
    }
    seeds
}

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("FLAKEHOUND_CORPUS") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.is_dir().then_some(dir)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Guesses the format of a corpus file from its name and content (not with the parsers, which
/// may be unfinished), so that mutations of it are also parsed with that format forced.
fn guess_format(path: &Path, bytes: &[u8]) -> Option<Format> {
    let p = path.to_string_lossy().to_lowercase();
    if p.ends_with(".trx") {
        return Some(Format::Trx);
    }
    if p.ends_with(".tap") {
        return Some(Format::Tap);
    }
    if p.contains(".gojson") {
        return Some(Format::GoJson);
    }
    if p.ends_with(".json") && p.contains("/dart/") {
        return Some(Format::DartJson);
    }
    if p.ends_with(".json") && p.contains("/mocha/") {
        return Some(Format::MochaJson);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned();
    [
        ("<test-results", Format::Nunit2),
        ("<test-run", Format::Nunit3),
        ("<test-suite", Format::Nunit3),
        ("<assemblies", Format::Xunit),
        ("<assembly", Format::Xunit),
        ("<TestRun", Format::Trx),
        ("<testsuites", Format::Junit),
        ("<testsuite", Format::Junit),
    ]
    .into_iter()
    .filter_map(|(tag, f)| head.find(tag).map(|i| (i, f)))
    .min_by_key(|&(i, _)| i)
    .map(|(_, f)| f)
}

/// Up to this many corpus files of at most [`CORPUS_SEED_MAX_BYTES`] per (guessed) format are
/// used as seeds.
const CORPUS_SEEDS_PER_FORMAT: usize = 10;
const CORPUS_SEED_MAX_BYTES: u64 = 16 * 1024;

fn corpus_seeds() -> Vec<Seed> {
    let Some(dir) = corpus_dir() else {
        eprintln!("note: corpus not found; robustness tests use inline seeds only");
        return Vec::new();
    };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let mut candidates: Vec<Seed> = files
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            !matches!(name.as_ref(), "expected.json" | "README.md" | "COMMIT")
        })
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= CORPUS_SEED_MAX_BYTES))
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            Some(Seed {
                name: p.strip_prefix(&dir).unwrap_or(&p).display().to_string(),
                format: guess_format(&p, &bytes),
                bytes,
            })
        })
        .collect();
    candidates.sort_by(|a, b| (a.bytes.len(), &a.name).cmp(&(b.bytes.len(), &b.name)));
    // Per guessed format, files spread evenly over the size range (not just the smallest,
    // which are mostly empty reports).
    let mut groups: Vec<Vec<Seed>> = Vec::new();
    for seed in candidates {
        match groups.iter_mut().find(|g| g[0].format == seed.format) {
            Some(group) => group.push(seed),
            None => groups.push(vec![seed]),
        }
    }
    let mut seeds = Vec::new();
    for group in groups {
        let n = group.len();
        let k = n.min(CORPUS_SEEDS_PER_FORMAT);
        let picks: Vec<usize> = (0..k)
            .map(|i| if k == 1 { 0 } else { i * (n - 1) / (k - 1) })
            .collect();
        seeds.extend(
            group
                .into_iter()
                .enumerate()
                .filter(|(i, _)| picks.contains(i))
                .map(|(_, seed)| seed),
        );
    }
    seeds
}

static SEEDS: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    let mut seeds = inline_seeds();
    seeds.extend(corpus_seeds());
    seeds
});

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Byte sequences that are meaningful to some parser: markup, JSON and TAP syntax, encodings,
/// entities and numbers that are out of range.
const TOKENS: &[&[u8]] = &[
    b"\0",
    b"\x01",
    b"\x08",
    b"\x1b[31m",
    b"\x7f",
    b"\xff",
    b"\xfe\xff",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"<",
    b">",
    b"</",
    b"/>",
    b"<a>",
    b"</testcase>",
    b"</testsuite>",
    b"<testcase name=\"x\">",
    b"<testsuite>",
    b"<failure>",
    b"<error/>",
    b"<skipped/>",
    b"<flakyFailure>",
    b"<test-case result=\"Failed\">",
    b"<test result=\"Fail\">",
    b"<UnitTestResult outcome=\"Failed\" duration=\"99:99:99.9\">",
    b"&",
    b"&amp;",
    b"&lt;",
    b"&#0;",
    b"&#x0;",
    b"&#xD800;",
    b"&#x110000;",
    b"&#99999999999999999999;",
    b"&unknown;",
    b"&#",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
    b"<?xml version=\"1.0\" encoding=\"bogus\"?>",
    b"<!DOCTYPE x [<!ENTITY a \"&a;&a;\">]>",
    b"xmlns:a=\"u\" a:name=\"n\"",
    b" time=\"-1\"",
    b" time=\"1,234.5\"",
    b" time=\"NaN\"",
    b" time=\"1e400\"",
    b" tests=\"18446744073709551616\"",
    b" duration=\"-00:00:01\"",
    b" line=\"-1\"",
    b"\"",
    b"'",
    b"=",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\"\\uDFFF\"",
    b"null",
    b"true",
    b"-1",
    b"-0.0",
    b"1e999",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\"status\":\"failed\"",
    b"\"Action\":\"fail\"",
    b"\"Test\":\"\"",
    b"\"type\":\"testDone\"",
    b"\"event\":\"failed\"",
    b"{}",
    b"[]",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b"    ",
    b"ok",
    b"not ok",
    b"ok 99999999999999999999",
    b"1..",
    b"1..0",
    b"1..18446744073709551616",
    b"# SKIP",
    b"# TODO",
    b"---\n",
    b"  ...\n",
    b"Bail out!",
    b"TAP version 13\n",
    b"TAP version 14\n",
    b"# Subtest: x\n",
    b"pragma +strict\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    InsertBytes(Index, Vec<u8>),
    InsertToken(Index, Index),
    InsertControl(Index, u8),
    Duplicate(Index, usize, Index),
    Delete(Index, usize),
    Repeat(Index, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        2 => (any::<Index>(), prop_oneof![Just(0u8), 1u8..0x20, Just(0x7f)])
            .prop_map(|(i, b)| Mutation::InsertControl(i, b)),
        2 => (any::<Index>(), 1usize..256, any::<Index>())
            .prop_map(|(f, n, t)| Mutation::Duplicate(f, n, t)),
        2 => (any::<Index>(), 1usize..128).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1usize..64, 2usize..64)
            .prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
    ]
}

fn apply(buf: &mut Vec<u8>, m: &Mutation) {
    let len = buf.len();
    // Insertion points range over 0..=len; positions of existing bytes over 0..len.
    let at = |i: &Index| i.index(len + 1);
    match m {
        Mutation::FlipBit(i, bit) if len > 0 => buf[i.index(len)] ^= 1 << bit,
        Mutation::SetByte(i, b) if len > 0 => buf[i.index(len)] = *b,
        Mutation::FlipBit(..) | Mutation::SetByte(..) => {}
        Mutation::Truncate(i) => buf.truncate(at(i)),
        Mutation::InsertBytes(i, bytes) => {
            let p = at(i);
            buf.splice(p..p, bytes.iter().copied());
        }
        Mutation::InsertToken(i, t) => {
            let p = at(i);
            let token = TOKENS[t.index(TOKENS.len())];
            buf.splice(p..p, token.iter().copied());
        }
        Mutation::InsertControl(i, b) => buf.insert(at(i), *b),
        Mutation::Duplicate(from, n, to) => {
            let start = at(from);
            let end = (start + n).min(len);
            let slice = buf[start..end].to_vec();
            let p = at(to);
            buf.splice(p..p, slice);
        }
        Mutation::Delete(i, n) => {
            let start = at(i);
            let end = (start + n).min(len);
            buf.drain(start..end);
        }
        Mutation::Repeat(i, n, times) => {
            let start = at(i);
            let end = (start + n).min(len);
            let slice = buf[start..end].to_vec();
            for _ in 0..*times {
                buf.splice(end..end, slice.iter().copied());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (a) random input
// ---------------------------------------------------------------------------------------------

/// Starts of documents of each family, so that random tails get past format detection.
const PREFIXES: &[&str] = &[
    "",
    "<?xml version=\"1.0\"?>",
    "<testsuites>",
    "<testsuite name=\"s\"><testcase name=\"t\">",
    "<test-results>",
    "<test-run><test-suite>",
    "<assemblies><assembly><collection>",
    "<TestRun xmlns=\"http://microsoft.com/schemas/VisualStudio/TeamTest/2010\"><Results>",
    "{\"results\":{\"tool\":{\"name\":\"x\"},\"tests\":[",
    "{\"Time\":\"2024-01-01T00:00:00Z\",\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"T\"}\n",
    "{\"stats\":{},\"tests\":[",
    "{\"protocolVersion\":\"0.1.1\",\"type\":\"start\",\"time\":0}\n",
    "{\"version\":\"3.12.0\",\"examples\":[",
    "{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 1 }\n",
    "TAP version 13\n1..2\n",
    "\u{feff}",
];

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..1024)) {
        parse_all_ways(&bytes)?;
    }

    #[test]
    fn random_tail_after_format_prefix_never_panics(
        prefix in 0..PREFIXES.len(),
        tail in vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = PREFIXES[prefix].as_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        parse_all_ways(&bytes)?;
    }

    #[test]
    fn random_markup_text_never_panics(
        prefix in 0..PREFIXES.len(),
        text in "[<>/=\"' a-zA-Z0-9_.:,{}\\[\\]\n\t#&;!?-]{0,400}",
    ) {
        let mut bytes = PREFIXES[prefix].as_bytes().to_vec();
        bytes.extend_from_slice(text.as_bytes());
        parse_all_ways(&bytes)?;
    }
}

#[test]
fn pathological_inputs_never_panic() {
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b" \n\t\r".to_vec(),
        vec![0xEF, 0xBB, 0xBF],
        vec![0xFF, 0xFE],
        vec![0xFE, 0xFF],
        vec![0xFF, 0xFE, b'<'],
        vec![0xFE, 0xFF, 0, b'<', 0xD8],
        vec![0],
        vec![0xFF; 64],
        b"<".to_vec(),
        b"{".to_vec(),
        b"[".to_vec(),
        b"ok".to_vec(),
        b"1..".to_vec(),
        b"null".to_vec(),
        b"\"\"".to_vec(),
        b"<testsuites/>".to_vec(),
        b"<testsuite></testsuites>".to_vec(),
        b"<testsuite><testcase/></testsuite><testsuite/>".to_vec(),
        b"<a:testsuite xmlns:a='x'><a:testcase a:name='n'/></a:testsuite>".to_vec(),
    ];
    // Deep nesting (iterative parsers must not overflow the stack; serde_json has a limit).
    for open in ["<testsuite>", "<test-suite>", "<a>", "[", "{\"a\":"] {
        inputs.push(open.repeat(20_000).into_bytes());
    }
    let mut deep = "<testsuites>".to_string();
    deep.push_str(&"<testsuite name=\"n\">".repeat(5_000));
    deep.push_str("<testcase name=\"t\"><failure/></testcase>");
    deep.push_str(&"</testsuite>".repeat(5_000));
    deep.push_str("</testsuites>");
    inputs.push(deep.into_bytes());
    // Very long lines, attributes and names; many attributes; a head exactly at the 16 KiB
    // detection boundary with a multi-byte character cut in the middle.
    inputs.push(format!("<testsuite name=\"{}\"/>", "x".repeat(300_000)).into_bytes());
    inputs.push(
        format!(
            "<testsuite><testcase {}/></testsuite>",
            (0..5_000)
                .map(|i| format!("a{i}=\"{i}\""))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .into_bytes(),
    );
    let mut boundary = " ".repeat(16 * 1024 - 1).into_bytes();
    boundary.extend_from_slice("é{\"results\":{}}".as_bytes());
    inputs.push(boundary);
    inputs.push("ok 1 - é\n".repeat(10_000).into_bytes());
    inputs.push(
        format!(
            "{{\"Action\":\"output\",\"Output\":\"{}\"}}",
            "y".repeat(200_000)
        )
        .into_bytes(),
    );
    for input in &inputs {
        check(parse_all_ways(input));
    }
}

// ---------------------------------------------------------------------------------------------
// (b) mutated seed documents
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(320))]

    #[test]
    fn mutated_seeds_never_panic(
        seed in any::<Index>(),
        mutations in vec(mutation(), 1..6),
        other in 0..Format::ALL.len(),
    ) {
        let seed = &SEEDS[seed.index(SEEDS.len())];
        let mut bytes = seed.bytes.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let name = &seed.name;
        let tag = |r: Result<Parsed, TestCaseError>| {
            r.map_err(|e| TestCaseError::fail(format!("seed {name}: {e}")))
        };
        tag(parse_counting(&bytes, None))?;
        if let Some(f) = seed.format {
            tag(parse_counting(&bytes, Some(f)))?;
        }
        tag(parse_counting(&bytes, Some(Format::ALL[other])))?;
    }
}

#[test]
fn unmutated_seeds_never_panic() {
    assert!(SEEDS.len() >= 12);
    for seed in SEEDS.iter() {
        check(parse_counting(&seed.bytes, None).map(|_| ()));
        if let Some(f) = seed.format {
            check(parse_counting(&seed.bytes, Some(f)).map(|_| ()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) truncation
// ---------------------------------------------------------------------------------------------

/// Every prefix of a valid JUnit document parses or is rejected with a useful message; a
/// prefix that stops before the root element is closed is never accepted.
#[test]
fn junit_truncated_at_every_byte() {
    let doc = INLINE_JUNIT.as_bytes();
    let end_of_root = INLINE_JUNIT.find("</testsuites>").unwrap() + "</testsuites>".len();
    for cut in 0..=doc.len() {
        let prefix = &doc[..cut];
        for format in [None, Some(Format::Junit)] {
            match parse_counting(prefix, format) {
                Err(e) => panic!("cut at {cut}: {e}"),
                Ok(Parsed::Ok(n)) => assert!(
                    cut >= end_of_root,
                    "cut at {cut} of {} ({format:?}): truncated JUnit accepted with {n} records",
                    doc.len()
                ),
                Ok(Parsed::Err(msg)) => {
                    assert!(
                        cut < end_of_root,
                        "cut at {cut} ({format:?}): complete document rejected: {msg}"
                    );
                    assert!(
                        is_useful(&msg),
                        "cut at {cut} ({format:?}): unhelpful error message {msg:?}"
                    );
                }
            }
        }
    }
}

/// Every prefix of every inline seed, with auto-detection and the seed's format forced.
#[test]
fn inline_seeds_truncated_at_every_byte() {
    for seed in inline_seeds() {
        for cut in 0..=seed.bytes.len() {
            let prefix = &seed.bytes[..cut];
            for format in [None, seed.format] {
                if let Err(e) = parse_counting(prefix, format) {
                    panic!("seed {} cut at {cut}: {e}", seed.name);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Truncated seeds (corpus included) at random points, with the seed's format forced.
    #[test]
    fn seeds_truncated_at_random_points(seed in any::<Index>(), cut in any::<Index>()) {
        let seed = &SEEDS[seed.index(SEEDS.len())];
        let prefix = &seed.bytes[..cut.index(seed.bytes.len() + 1)];
        match parse_counting(prefix, seed.format)? {
            Parsed::Err(msg) if seed.format == Some(Format::Junit) => {
                prop_assert!(is_useful(&msg), "seed {}: unhelpful error {msg:?}", seed.name);
            }
            _ => {}
        }
        parse_counting(prefix, None)?;
    }
}

// ---------------------------------------------------------------------------------------------
// (d) generated JUnit documents
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResultElem {
    Failure,
    Error,
    Skipped,
}

#[derive(Debug, Clone)]
struct GenCase {
    classname: String,
    name: String,
    results: Vec<ResultElem>,
    message: String,
    body: Option<String>,
    cdata: bool,
    stdout: Option<String>,
}

impl GenCase {
    /// Most severe result element wins: error > failure > success (no element) > skipped.
    fn expected(&self) -> Outcome {
        let mut outcome: Option<Outcome> = None;
        for r in &self.results {
            let o = match r {
                ResultElem::Failure => Outcome::Failed,
                ResultElem::Error => Outcome::Errored,
                ResultElem::Skipped => Outcome::Skipped,
            };
            if outcome.is_none_or(|cur| o.severity() > cur.severity()) {
                outcome = Some(o);
            }
        }
        outcome.unwrap_or(Outcome::Passed)
    }
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Names with XML specials, non-ASCII letters, emoji and inner spaces; never blank at the ends.
fn name_strategy() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_<>&\"'.\\[\\]()éüßøçñ中文日本😀🚀Ωж-][a-zA-Z0-9_ <>&\"'.\\[\\]()éüßøçñ中文日本😀🚀Ωж:/-]{0,20}"
        .prop_map(|s| s.trim_end().to_string())
}

fn text_strategy() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&\"'\n\té中😀=:;()\\[\\]-]{0,60}"
}

fn gen_case() -> impl Strategy<Value = GenCase> {
    (
        name_strategy(),
        name_strategy(),
        vec(
            prop_oneof![
                Just(ResultElem::Failure),
                Just(ResultElem::Error),
                Just(ResultElem::Skipped)
            ],
            0..4,
        ),
        text_strategy(),
        proptest::option::of(text_strategy()),
        any::<bool>(),
        proptest::option::of(text_strategy()),
    )
        .prop_map(
            |(classname, name, results, message, body, cdata, stdout)| GenCase {
                classname,
                name,
                results,
                message,
                body,
                cdata,
                stdout,
            },
        )
}

fn render_junit(cases: &[GenCase], root: u8, time_digits: &[u16]) -> String {
    let mut doc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let (open, close) = match root {
        0 => ("<testsuite name=\"bare &amp; suite\">", "</testsuite>"),
        1 => (
            "<testsuites name=\"all\"><testsuite name=\"s1\">",
            "</testsuite></testsuites>",
        ),
        _ => (
            "<testsuites><testsuite name=\"outer\"><!-- c --><testsuite name=\"inner é\">",
            "</testsuite></testsuite></testsuites>",
        ),
    };
    doc.push_str(open);
    doc.push('\n');
    for (i, c) in cases.iter().enumerate() {
        let time = time_digits.get(i).copied().unwrap_or(0);
        doc.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{}.{:03}\">",
            escape_xml(&c.classname),
            escape_xml(&c.name),
            time / 1000,
            time % 1000
        ));
        for r in &c.results {
            let tag = match r {
                ResultElem::Failure => "failure",
                ResultElem::Error => "error",
                ResultElem::Skipped => "skipped",
            };
            let attrs = format!(
                " message=\"{}\" type=\"T&lt;{}&gt;\"",
                escape_xml(&c.message),
                tag
            );
            match &c.body {
                None => doc.push_str(&format!("<{tag}{attrs}/>")),
                Some(b) if c.cdata && !b.contains("]]>") => {
                    doc.push_str(&format!("<{tag}{attrs}><![CDATA[{b}]]></{tag}>"))
                }
                Some(b) => doc.push_str(&format!("<{tag}{attrs}>{}</{tag}>", escape_xml(b))),
            }
        }
        if let Some(out) = &c.stdout {
            doc.push_str(&format!("<system-out>{}</system-out>", escape_xml(out)));
        }
        doc.push_str("</testcase>\n");
    }
    doc.push_str(close);
    doc.push('\n');
    doc
}

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn generated_junit_records_and_outcomes(
        cases in vec(gen_case(), 0..24),
        root in 0u8..3,
        times in vec(0u16..60_000, 24),
        force in any::<bool>(),
    ) {
        let doc = render_junit(&cases, root, &times);
        let format = force.then_some(Format::Junit);
        let run = catch_unwind(AssertUnwindSafe(|| {
            flakehound_ingest::collect_bytes(doc.as_bytes(), format)
        }));
        let (info, records) = match run {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                return Err(TestCaseError::fail(format!("valid document rejected: {e}\n{doc}")))
            }
            Err(p) => {
                return Err(TestCaseError::fail(format!(
                    "PANIC: {}\n{doc}",
                    panic_message(p.as_ref())
                )))
            }
        };
        prop_assert_eq!(info.format, Some(Format::Junit));
        prop_assert_eq!(records.len(), cases.len(), "record count\n{}", doc);
        for (i, (rec, want)) in records.iter().zip(&cases).enumerate() {
            prop_assert_eq!(rec.outcome, want.expected(), "outcome of case {} {:?}\n{}", i, want, doc);
            prop_assert_eq!(&rec.name, want.name.trim(), "name of case {}", i);
            prop_assert_eq!(
                rec.classname.as_deref(),
                Some(want.classname.trim()),
                "classname of case {}",
                i
            );
            prop_assert!(!rec.attempts.is_empty(), "case {} has no attempt", i);
            let d = rec.duration();
            let t = f64::from(times[i]) / 1000.0;
            prop_assert!(
                d.is_some_and(|d| (d - t).abs() < 1e-9),
                "duration of case {}: {:?}, want {}",
                i,
                d,
                t
            );
        }
    }
}

/// Lists the seeds and how they parse today: `cargo test --test robustness -- --ignored
/// --nocapture seed_inventory`.
#[test]
#[ignore = "diagnostic listing, not a check"]
fn seed_inventory() {
    for seed in SEEDS.iter() {
        let show = |format: Option<Format>| match parse_counting(&seed.bytes, format) {
            Ok(Parsed::Ok(n)) => format!("ok({n})"),
            Ok(Parsed::Err(e)) => format!("err({})", e.chars().take(70).collect::<String>()),
            Err(e) => format!("PANIC {e}"),
        };
        println!(
            "{:<12} {:>6}  auto: {:<24} forced: {}  {}",
            seed.format.map_or("?", Format::as_str),
            seed.bytes.len(),
            show(None),
            show(seed.format),
            seed.name
        );
    }
}

/// A UTF-16 report cut inside its first characters (1 or 3 bytes) says why it cannot be read;
/// random truncation found these two cuts rarely, which made the proptest above flaky.
#[test]
fn utf16_cut_inside_its_first_character_says_so() {
    let seed = SEEDS
        .iter()
        .find(|s| s.name == "inline:junit-utf16le")
        .expect("the UTF-16 seed");
    for cut in 0..=seed.bytes.len().min(64) {
        if let Ok(Parsed::Err(msg)) = parse_counting(&seed.bytes[..cut], seed.format) {
            assert!(is_useful(&msg), "cut at {cut}: unhelpful error {msg:?}");
        }
    }
}
