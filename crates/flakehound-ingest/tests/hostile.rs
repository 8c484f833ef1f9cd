//! Hostile inputs (issue 12): each shape that used to make a parser hold memory in proportion
//! to its input, generated at test time, in a size that would show the growth.
//!
//! Memory is asserted structurally, not by timing or RSS: this test binary counts heap bytes
//! with its own global allocator, and each parse must stay under a peak far below its input's
//! size (the inputs are produced lazily by a generator reader, so the test itself holds none of
//! them). The kept text is checked for its head, its tail and the marker saying what was cut;
//! nesting is checked to cost a bounded amount per record. Peak RSS per MB of input, for real
//! sizes, is measured by `benches/hostile_rss.sh`.

use flakehound_ingest::{Format, ReportInfo, Result, TestCase, parse_reader};
use flakehound_model::MAX_TEXT;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;

// ---------------------------------------------------------------------------------------------
// Heap accounting
// ---------------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    /// Heap accounting of this thread: (measuring, live bytes, peak live bytes). Only the
    /// measuring thread counts, so that other tests (a failing one symbolising its backtrace)
    /// cannot disturb a measurement.
    static ACCOUNT: std::cell::Cell<(bool, isize, isize)> = const { std::cell::Cell::new((false, 0, 0)) };
}

fn account(delta: isize) {
    let _ = ACCOUNT.try_with(|a| {
        let (on, live, peak) = a.get();
        if on {
            a.set((on, live + delta, peak.max(live + delta)));
        }
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged
// (so `System`'s guarantees hold); the accounting beside it does not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MB: usize = 1_000_000;

/// What a parse produced, and the most heap it held above what was live when it started.
struct Measured {
    result: Result<ReportInfo>,
    records: usize,
    /// Records kept by `keep` (the first few, and any the test asks for).
    kept: Vec<TestCase>,
    /// Longest suite path of any record.
    deepest_path: usize,
    peak: usize,
}

fn measure(
    input: impl Read,
    format: Option<Format>,
    mut keep: impl FnMut(usize, &TestCase) -> bool,
) -> Measured {
    let mut records = 0;
    let mut kept = Vec::new();
    let mut deepest_path = 0;
    ACCOUNT.with(|a| a.set((true, 0, 0)));
    let result = parse_reader(input, format, &mut |case: TestCase| {
        deepest_path = deepest_path.max(case.suite.len());
        if keep(records, &case) {
            kept.push(case);
        }
        records += 1;
        Ok(())
    });
    let (_, _, peak) = ACCOUNT.with(|a| a.replace((false, 0, 0)));
    let peak = peak.max(0) as usize;
    Measured {
        result,
        records,
        kept,
        deepest_path,
        peak,
    }
}

/// A report produced on the fly: `head`, then `body` repeated `times`, then `tail`.
struct Gen {
    parts: Vec<(Vec<u8>, usize)>,
    part: usize,
    done_in_part: usize,
    pos: usize,
}

impl Gen {
    fn new(head: &str, body: &str, times: usize, tail: &str) -> Gen {
        Gen::parts(vec![
            (head.into(), 1),
            (body.into(), times),
            (tail.into(), 1),
        ])
    }
    fn parts(parts: Vec<(Vec<u8>, usize)>) -> Gen {
        Gen {
            parts,
            part: 0,
            done_in_part: 0,
            pos: 0,
        }
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let Some((bytes, times)) = self.parts.get(self.part) else {
                break;
            };
            if self.done_in_part == *times || bytes.is_empty() {
                self.part += 1;
                self.done_in_part = 0;
                self.pos = 0;
                continue;
            }
            let take = (bytes.len() - self.pos).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&bytes[self.pos..self.pos + take]);
            n += take;
            self.pos += take;
            if self.pos == bytes.len() {
                self.pos = 0;
                self.done_in_part += 1;
            }
        }
        Ok(n)
    }
}

/// A long text of `size` bytes: a recognisable head, filler, a recognisable tail.
fn long_text(size: usize) -> Vec<(Vec<u8>, usize)> {
    let filler = "lorem ipsum é ".as_bytes().to_vec();
    vec![
        (b"HEAD-OF-TEXT ".to_vec(), 1),
        (filler.clone(), size / filler.len()),
        (b" TAIL-OF-TEXT".to_vec(), 1),
    ]
}

fn with_long_text(head: &str, size: usize, tail: &str) -> Gen {
    let mut parts = vec![(head.as_bytes().to_vec(), 1)];
    parts.extend(long_text(size));
    parts.push((tail.as_bytes().to_vec(), 1));
    Gen::parts(parts)
}

/// Text cut while streaming: bounded, its two ends kept, the cut said.
fn assert_cut(text: Option<&str>, what: &str) {
    let text = text.unwrap_or_else(|| panic!("{what}: no text kept"));
    assert!(text.len() <= MAX_TEXT, "{what}: {} bytes kept", text.len());
    assert!(
        text.starts_with("HEAD-OF-TEXT"),
        "{what}: head lost: {:.80}",
        text
    );
    assert!(text.ends_with("TAIL-OF-TEXT"), "{what}: tail lost");
    assert!(
        text.contains(" MB cut by flakehound ...]"),
        "{what}: no marker"
    );
}

/// The heap a parse may hold, whatever its input: the readers' buffers, a record or two with
/// capped texts, and the spill buffers' in-memory part.
const BOUNDED: usize = 8 * MB;

// ---------------------------------------------------------------------------------------------
// Long text
// ---------------------------------------------------------------------------------------------

#[test]
fn junit_long_system_out_and_failure_text() {
    let size = 16 * MB;
    let m = measure(
        with_long_text(
            r#"<testsuites><testsuite name="s"><testcase classname="c" name="t"><failure message="m">x</failure><system-out>"#,
            size,
            "</system-out></testcase></testsuite></testsuites>",
        ),
        None,
        |_, _| true,
    );
    m.result.unwrap();
    assert!(
        m.peak < BOUNDED,
        "peak heap {} for {size} bytes of text",
        m.peak
    );
    assert_cut(m.kept[0].attempts[0].stdout.as_deref(), "system-out");

    let m = measure(
        with_long_text(
            r#"<testsuite name="s"><testcase classname="c" name="t"><error type="E"><![CDATA["#,
            size,
            "]]></error></testcase></testsuite>",
        ),
        None,
        |_, _| true,
    );
    m.result.unwrap();
    assert!(m.peak < BOUNDED, "peak heap {}", m.peak);
    let f = m.kept[0].attempts[0].failure.clone().unwrap();
    assert_cut(f.details.as_deref(), "CDATA failure body");
}

#[test]
fn junit_long_message_attribute() {
    let size = 16 * MB;
    let m = measure(
        with_long_text(
            r#"<testsuite name="s"><testcase classname="c" name="t"><failure message=""#,
            size,
            r#""/></testcase></testsuite>"#,
        ),
        None,
        |_, _| true,
    );
    m.result.unwrap();
    assert!(m.peak < BOUNDED, "peak heap {}", m.peak);
    let f = m.kept[0].attempts[0].failure.clone().unwrap();
    assert_cut(f.message.as_deref(), "message attribute");
}

#[test]
fn junit_millions_of_properties_keep_a_bounded_number() {
    let m = measure(
        Gen::new(
            r#"<testsuite name="s"><properties>"#,
            r#"<property name="k" value="v"/>"#,
            1_000_000,
            r#"</properties><testcase classname="c" name="t"><properties>"#,
        )
        .chain(Gen::new(
            "",
            r#"<property name="k" value="v"/>"#,
            1_000_000,
            "</properties></testcase></testsuite>",
        )),
        None,
        |_, _| true,
    );
    let info = m.result.unwrap();
    assert!(m.peak < BOUNDED, "peak heap {}", m.peak);
    assert_eq!(info.properties.len(), flakehound_model::MAX_PROPERTIES);
    assert_eq!(m.kept[0].properties.len(), flakehound_model::MAX_PROPERTIES);
}

#[test]
fn a_start_tag_with_a_million_attributes_is_refused_with_a_reason() {
    let mut attrs = Vec::new();
    for i in 0..1_000 {
        attrs.push(format!(" a{i}=\"1\""));
    }
    let m = measure(
        Gen::new(
            "<testsuite name=\"s\">\n<testcase",
            &attrs.concat(),
            1_000,
            "/></testsuite>",
        ),
        None,
        |_, _| true,
    );
    let err = m.result.unwrap_err().to_string();
    assert!(err.contains("start tag longer than"), "{err}");
    assert!(m.peak < BOUNDED, "peak heap {}", m.peak);
}

#[test]
fn json_and_line_formats_cut_long_strings_and_lines() {
    let size = 16 * MB;
    type Case = (&'static str, Gen, fn(&TestCase) -> Option<String>);
    let cases: Vec<Case> = vec![
        (
            "jest failure message",
            with_long_text(
                r#"{"numTotalTests":1,"testResults":[{"assertionResults":[{"ancestorTitles":[],"title":"t","status":"failed","failureMessages":["Error: x\n"#,
                size,
                r#""]}],"name":"/src/a.test.js","status":"failed"}]}"#,
            ),
            |c| c.attempts.last()?.failure.as_ref()?.details.clone(),
        ),
        (
            "dart print",
            with_long_text(
                "{\"protocolVersion\":\"0.1.1\",\"runnerVersion\":\"1.24.0\",\"pid\":1,\"type\":\"start\",\"time\":0}\n{\"test\":{\"id\":1,\"name\":\"t\",\"suiteID\":0,\"groupIDs\":[]},\"type\":\"testStart\",\"time\":1}\n{\"testID\":1,\"messageType\":\"print\",\"message\":\"",
                size,
                "\",\"type\":\"print\",\"time\":2}\n{\"testID\":1,\"result\":\"success\",\"skipped\":false,\"hidden\":false,\"type\":\"testDone\",\"time\":3}\n{\"success\":true,\"type\":\"done\",\"time\":4}\n",
            ),
            |c| c.attempts.last()?.stdout.clone(),
        ),
        (
            "go test output",
            with_long_text(
                "{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"TestA\"}\n{\"Action\":\"output\",\"Package\":\"p\",\"Test\":\"TestA\",\"Output\":\"=== RUN   TestA\\n\"}\n{\"Action\":\"output\",\"Package\":\"p\",\"Test\":\"TestA\",\"Output\":\"",
                size,
                "\"}\n{\"Action\":\"fail\",\"Package\":\"p\",\"Test\":\"TestA\",\"Elapsed\":0.1}\n{\"Action\":\"fail\",\"Package\":\"p\",\"Elapsed\":0.1}\n",
            ),
            |c| c.attempts.last()?.stdout.clone(),
        ),
        (
            "libtest stdout",
            with_long_text(
                "{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 1 }\n{ \"type\": \"test\", \"event\": \"started\", \"name\": \"t\" }\n{ \"type\": \"test\", \"name\": \"t\", \"event\": \"failed\", \"stdout\": \"",
                size,
                "\" }\n{ \"type\": \"suite\", \"event\": \"failed\", \"passed\": 0, \"failed\": 1 }\n",
            ),
            |c| c.attempts.last()?.stdout.clone(),
        ),
        (
            "ctrf message",
            with_long_text(
                r#"{"results":{"tool":{"name":"x"},"summary":{"tests":1},"tests":[{"name":"t","status":"failed","duration":1,"trace":""#,
                size,
                r#""}]}}"#,
            ),
            |c| c.attempts.last()?.failure.as_ref()?.details.clone(),
        ),
    ];
    for (what, input, text) in cases {
        let m = measure(input, None, |_, _| true);
        m.result.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(m.peak < BOUNDED, "{what}: peak heap {}", m.peak);
        let case = m
            .kept
            .iter()
            .find(|c| c.name.ends_with('t') || c.name.ends_with("TestA"));
        let got = case.and_then(text);
        assert_cut(got.as_deref(), what);
    }

    // A TAP line: cut too (TAP keeps the description on the record's name).
    let m = measure(
        with_long_text("TAP version 13\n1..1\nnot ok 1 - ", size, "\n"),
        None,
        |_, _| true,
    );
    m.result.unwrap();
    assert!(m.peak < BOUNDED, "tap: peak heap {}", m.peak);
    assert_eq!(m.records, 1);
}

// ---------------------------------------------------------------------------------------------
// Many records that wait for something later in the file
// ---------------------------------------------------------------------------------------------

#[test]
fn jest_file_with_many_assertions_before_its_name() {
    let n = 200_000;
    let m = measure(
        Gen::new(
            r#"{"numTotalTests":1,"testResults":[{"assertionResults":["#,
            r#"{"ancestorTitles":["d"],"title":"t","fullName":"d t","status":"passed","failureMessages":[]},"#,
            n,
            r#"{"ancestorTitles":["d"],"title":"last","status":"failed","failureMessages":["boom"]}],"name":"/elsewhere/a.test.js","status":"failed"}]}"#,
        ),
        Some(Format::JestJson),
        |i, _| i == 0,
    );
    m.result.unwrap();
    assert_eq!(m.records, n + 1);
    // The path, read after the assertions, is in every id.
    assert_eq!(m.kept[0].id, "/elsewhere/a.test.js › d › t");
    assert!(m.peak < BOUNDED, "peak heap {} for {n} assertions", m.peak);
}

#[test]
fn trx_results_before_their_definitions() {
    let n = 100_000;
    let mut results = String::new();
    let mut defs = String::new();
    // 100 distinct tests, each run many times: what waits is the results, not the definitions.
    for i in 0..100 {
        results.push_str(&format!(
            r#"<UnitTestResult executionId="e{i}" testId="t{i}" testName="Test{i}" outcome="Failed"><Output><ErrorInfo><Message>boom {i}</Message></ErrorInfo></Output></UnitTestResult>"#
        ));
        defs.push_str(&format!(
            r#"<UnitTest name="Test{i}" id="t{i}"><Execution id="e{i}"/><TestMethod className="Ns.Class{i}" name="Test{i}"/></UnitTest>"#
        ));
    }
    let m = measure(
        Gen::parts(vec![
            (br#"<TestRun><Results>"#.to_vec(), 1),
            (results.into_bytes(), n / 100),
            (b"</Results><TestDefinitions>".to_vec(), 1),
            (defs.into_bytes(), 1),
            (b"</TestDefinitions></TestRun>".to_vec(), 1),
        ]),
        None,
        |i, _| i == n - 1,
    );
    m.result.unwrap();
    assert_eq!(m.records, n);
    // Definitions still apply to results read long before them.
    assert_eq!(m.kept[0].classname.as_deref(), Some("Ns.Class99"));
    assert!(
        m.peak < BOUNDED,
        "peak heap {} for {n} waiting results",
        m.peak
    );
}

/// A report produced on the fly, item by item: `f(0)`, `f(1)`, ... until it returns `None`
/// (for inputs whose items differ, such as distinct test ids).
struct Items<F> {
    f: F,
    next: usize,
    buf: Vec<u8>,
    pos: usize,
}

impl<F: FnMut(usize) -> Option<String>> Items<F> {
    fn new(f: F) -> Self {
        Items {
            f,
            next: 0,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl<F: FnMut(usize) -> Option<String>> Read for Items<F> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let Some(item) = (self.f)(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            self.buf = item.into_bytes();
            self.pos = 0;
        }
        let take = (self.buf.len() - self.pos).min(out.len());
        out[..take].copy_from_slice(&self.buf[self.pos..self.pos + take]);
        self.pos += take;
        Ok(take)
    }
}

/// A TRX of `n` distinct tests, each run once; `results_first` puts `<Results>` before
/// `<TestDefinitions>`. Definitions are written in reverse order (a join cannot rely on order),
/// with 2010-style GUIDs, result `i` naming test `i` by `testId`.
fn trx_distinct(n: usize, results_first: bool) -> impl Read {
    let guid = |i: usize, kind: u8| format!("{i:08x}-0000-4000-8000-00000000000{kind}");
    let result = move |i: usize| {
        format!(
            r#"<UnitTestResult executionId="{}" testId="{}" testName="Test{i}" outcome="{}" duration="00:00:00.01"/>"#,
            guid(i, 1),
            guid(i, 2),
            if i.is_multiple_of(3) {
                "Failed"
            } else {
                "Passed"
            }
        )
    };
    let definition = move |i: usize| {
        format!(
            r#"<UnitTest name="Test{i}" storage="/x/a{}.dll" id="{}"><Execution id="{}"/><TestMethod className="Ns.Class{i}" name="Test{i}"/></UnitTest>"#,
            i % 7,
            guid(i, 2),
            guid(i, 1)
        )
    };
    Items::new(move |k| {
        // Items: 0 = head, 1..=n first section, n+1 = between, ..., 2n+2 = tail.
        let section = |j: usize, first: bool| {
            if first == results_first {
                result(j)
            } else {
                definition(n - 1 - j)
            }
        };
        Some(match k {
            0 if results_first => "<TestRun><Results>".to_string(),
            0 => "<TestRun><TestDefinitions>".to_string(),
            k if k <= n => section(k - 1, true),
            k if k == n + 1 && results_first => "</Results><TestDefinitions>".to_string(),
            k if k == n + 1 => "</TestDefinitions><Results>".to_string(),
            k if k <= 2 * n + 1 => section(k - n - 2, false),
            k if k == 2 * n + 2 && results_first => "</TestDefinitions></TestRun>".to_string(),
            k if k == 2 * n + 2 => "</Results></TestRun>".to_string(),
            _ => return None,
        })
    })
}

/// Every test distinct: a join has as many definitions as results to hold. Whichever section
/// comes first, the heap must not grow with the number of tests (two sizes, the same bound),
/// every result must get its own definition, and records must keep the results' order.
#[test]
fn trx_many_distinct_tests_either_order() {
    for results_first in [true, false] {
        let mut peaks = Vec::new();
        for n in [15_000, 60_000] {
            let mut out_of_order = 0usize;
            let mut wrong_def = 0usize;
            let m = measure(trx_distinct(n, results_first), None, |i, case| {
                // Compare without allocating: the closure runs inside the measurement.
                let name_ok = case.name.strip_prefix("Test") == Some(&*itoa(i));
                let class_ok = case
                    .classname
                    .as_deref()
                    .and_then(|c| c.strip_prefix("Ns.Class"))
                    == Some(&*itoa(i));
                out_of_order += usize::from(!name_ok);
                wrong_def += usize::from(!class_ok || case.suite.len() != 1);
                i == 0 || i == n - 1
            });
            m.result.unwrap();
            assert_eq!(m.records, n);
            assert_eq!((out_of_order, wrong_def), (0, 0), "n = {n}");
            assert_eq!(m.kept[1].suite, vec![format!("a{}.dll", (n - 1) % 7)]);
            assert_eq!(m.kept[0].outcome, flakehound_model::Outcome::Failed);
            assert!(
                m.peak < BOUNDED,
                "results first: {results_first}: peak heap {} for {n} distinct tests",
                m.peak
            );
            peaks.push(m.peak);
        }
        eprintln!("results first: {results_first}: peak heap {peaks:?}");
        // Four times the tests, (almost) the same heap: not merely under a generous bound.
        assert!(
            peaks[1] < peaks[0] + MB,
            "results first: {results_first}: peak heap grows with the tests: {peaks:?}"
        );
    }
}

/// `i` in decimal, in a buffer on the stack (a test's `keep` runs inside the measurement).
fn itoa(mut i: usize) -> ItoaBuf {
    let mut b = ItoaBuf([0; 20], 20);
    loop {
        b.1 -= 1;
        b.0[b.1] = b'0' + (i % 10) as u8;
        i /= 10;
        if i == 0 {
            return b;
        }
    }
}

struct ItoaBuf([u8; 20], usize);

impl std::ops::Deref for ItoaBuf {
    type Target = str;
    fn deref(&self) -> &str {
        std::str::from_utf8(&self.0[self.1..]).unwrap_or_default()
    }
}

#[test]
fn mocha_tests_waiting_for_the_pending_array() {
    let n = 100_000;
    let m = measure(
        Gen::new(
            r#"{"stats":{"tests":1},"tests":["#,
            r#"{"title":"t","fullTitle":"d t","file":"/a.js","duration":1,"currentRetry":0,"err":{}},"#,
            n,
            r#"{"title":"p","fullTitle":"d p","file":"/a.js","err":{}}],"pending":[{"title":"p","fullTitle":"d p","file":"/a.js"}],"failures":[],"passes":[]}"#,
        ),
        Some(Format::MochaJson),
        |_, c| c.name == "p",
    );
    m.result.unwrap();
    assert_eq!(m.records, n + 1);
    assert_eq!(m.kept[0].outcome, flakehound_model::Outcome::Skipped);
    assert!(m.peak < BOUNDED, "peak heap {} for {n} tests", m.peak);
}

// ---------------------------------------------------------------------------------------------
// Nesting
// ---------------------------------------------------------------------------------------------

/// 20,000 nested suites with a test case in each (the issue's 1.5 MB file, which took 25 s):
/// every record's suite path is bounded, so the work per record is too.
#[test]
fn deeply_nested_suites_cost_a_bounded_amount_per_record() {
    let depth = 20_000;
    let m = measure(
        Gen::parts(vec![
            (b"<testsuites>".to_vec(), 1),
            (
                br#"<testsuite name="s"><testcase classname="c" name="t"/>"#.to_vec(),
                depth,
            ),
            (b"</testsuite>".to_vec(), depth),
            (b"</testsuites>".to_vec(), 1),
        ]),
        None,
        |i, _| i == depth - 1,
    );
    m.result.unwrap();
    assert_eq!(m.records, depth);
    assert!(m.deepest_path <= flakehound_ingest::MAX_SUITE_DEPTH);
    let path = &m.kept[0].suite;
    assert_eq!(path.len(), flakehound_ingest::MAX_SUITE_DEPTH);
    assert_eq!(
        path[flakehound_ingest::SUITE_HEAD],
        format!(
            "[... {} suites cut by flakehound ...]",
            depth - flakehound_ingest::MAX_SUITE_DEPTH + 1
        )
    );
    // The open-suite stack is the only thing that grows with depth.
    assert!(m.peak < BOUNDED, "peak heap {} at depth {depth}", m.peak);

    // NUnit nests test-suite elements the same way.
    let m = measure(
        Gen::parts(vec![
            (b"<test-run>".to_vec(), 1),
            (
                br#"<test-suite type="TestFixture" name="s" fullname="Ns.S"><test-case name="t" fullname="Ns.S.t" result="Passed"/>"#.to_vec(),
                depth,
            ),
            (b"</test-suite>".to_vec(), depth),
            (b"</test-run>".to_vec(), 1),
        ]),
        None,
        |_, _| false,
    );
    m.result.unwrap();
    assert_eq!(m.records, depth);
    assert!(m.deepest_path <= flakehound_ingest::MAX_SUITE_DEPTH);

    // And xUnit collections.
    let m = measure(
        Gen::parts(vec![
            (br#"<assemblies><assembly name="a.dll">"#.to_vec(), 1),
            (
                br#"<collection name="c"><test name="Ns.C.T" type="Ns.C" method="T" result="Pass"/>"#.to_vec(),
                depth,
            ),
            (b"</collection>".to_vec(), depth),
            (b"</assembly></assemblies>".to_vec(), 1),
        ]),
        None,
        |_, _| false,
    );
    m.result.unwrap();
    assert_eq!(m.records, depth);
    assert!(m.deepest_path <= flakehound_ingest::MAX_SUITE_DEPTH);
}

#[test]
fn nesting_beyond_the_limit_is_refused_with_a_reason() {
    let depth = flakehound_ingest::xml::MAX_DEPTH + 1;
    let m = measure(
        Gen::parts(vec![
            (b"<testsuites>".to_vec(), 1),
            (br#"<testsuite name="s">"#.to_vec(), depth),
            (b"</testsuite>".to_vec(), depth),
            (b"</testsuites>".to_vec(), 1),
        ]),
        None,
        |_, _| false,
    );
    let err = m.result.unwrap_err().to_string();
    assert!(err.contains("nested more than 50000 deep"), "{err}");
}
