//! `go test -json` streams (test2json events, one JSON object per line).
//!
//! # Counting: what go-junit-report does
//!
//! Records are counted exactly like go-junit-report v2 (`-parser gojson`), whose reports are the
//! reference (`jstemmer+go-junit-report/testdata`). Like it, this parser rebuilds the plain
//! `go test -v` text from the `Output` of every event (plus any non-JSON line: `go build` writes
//! build errors as plain text into the same stream) and runs go-junit-report's line state
//! machine over it:
//! - `=== RUN`, `=== PAUSE`, `=== CONT`, `=== NAME` and `--- PASS/FAIL/SKIP: name (1.23s)` lines
//!   create, activate and end tests; output lines go to the active test of their package.
//!   Subtests are records of their own (`TestX/sub`) and so are their parents.
//! - Benchmarks come from `BenchmarkX` / `BenchmarkX-8  100  12 ns/op` / `--- FAIL: BenchmarkX`
//!   lines (old test2json versions attribute them to the wrong test, or to none); benchmarks of
//!   the same name in one package are grouped into one record (`-count=N`), any failure wins.
//! - The package summary line (`ok  \tpkg\t0.1s`, `FAIL\tpkg [build failed]`) closes the package:
//!   a build error (`# pkg` header + the plain-text compiler output) becomes one errored record
//!   named after the summary's status (`[build failed]`); a package that failed without any
//!   failing test (panic in `init`/`TestMain`, panic after the tests) gets an errored record named
//!   `Failure` holding the package output; a test with no result line (killed by a panic or a
//!   timeout, or a truncated stream) is errored ("no test result found").
//!
//! Deliberate deviations, none of which changes the counts of the reference reports:
//! - Output that test2json attributes (`Test`) to a test that already failed, while no test is
//!   active, goes to that test: a panic printed after `--- FAIL: TestX` stays with `TestX`
//!   instead of going to the package output.
//! - JSON `pass`/`fail`/`skip` actions of a test are honoured too: they give the duration
//!   (`Elapsed`), settle a test that has no result line, and create the record when the stream's
//!   output events were filtered away. A package-level action stands in for a missing summary
//!   line in the same way.
//! - A summary line only counts when the event has no `Test` (a test printing `ok foo` does not
//!   close its package), and `# pkg` build headers only when the line belongs to no package (raw
//!   text or Go 1.24 `build-output` events), so test output cannot fake a build error.
//! - Tests left without a summary at the end of the stream (truncated file) are still reported,
//!   with their own package as classname.
//!
//! # Mapping
//! - classname = package import path, name = test name (`TestX/sub`): id `pkg::TestX/sub`
//!   ([`Dialect::Go`]); suite = `[pkg]`.
//! - outcome: pass → passed, fail → failed, skip → skipped, no result → errored; build and
//!   runtime errors → errored.
//! - attempt stdout = the test's output (framing lines removed), trimmed with [`trim_text`];
//!   failures get a [`Failure`] whose message is the first `file_test.go:NN: ...` line (or the
//!   `panic:` line, or the first output line; for a parent without output, the failed subtest)
//!   and whose details are the output. Skips carry the skip message.
//! - duration = `Elapsed` (else the `(1.23s)` of the result line; benchmarks: iterations × ns/op).
//! - timestamp = `Time` of the event that created the test; report timestamp = first `Time`.
//!
//! Plain `go test -v` text (no JSON at all) goes through the same state machine and is accepted
//! too. A stream with neither go events nor go test lines is an error.
//!
//! This module also holds two helpers shared with the other line-based parsers
//! ([`LineReader`], [`CappedText`]).

use crate::{Error, Result, Sink, finish_case};
use flakehound_model::{
    Attempt, Dialect, Failure, Format, MAX_TEXT, Outcome, ReportInfo, TestCase, trim_text,
};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, ErrorKind};

// ---------------------------------------------------------------------------------------------
// Shared helpers (also used by `tap` and `libtest`).
// ---------------------------------------------------------------------------------------------

/// Longest line kept by [`LineReader`]; the rest of a longer line is skipped.
pub(crate) const MAX_LINE: usize = 4 * 1024 * 1024;

/// Reads lines in bounded memory: strips `\n` / `\r\n` and a UTF-8 BOM on the first line,
/// decodes lossily, truncates lines longer than [`MAX_LINE`].
pub(crate) struct LineReader<R> {
    input: R,
    buf: Vec<u8>,
    line_no: u64,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(input: R) -> Self {
        LineReader {
            input,
            buf: Vec::new(),
            line_no: 0,
        }
    }

    /// 1-based number of the line last returned.
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    pub(crate) fn next_line(&mut self) -> Result<Option<String>> {
        self.buf.clear();
        let mut any = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            let room = MAX_LINE.saturating_sub(self.buf.len());
            let keep = chunk.len().min(room);
            self.buf.extend_from_slice(&chunk[..keep]);
            self.input.consume(used);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let mut bytes = &self.buf[..];
        if self.line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }
}

/// Accumulates lines of output in bounded memory (head and tail of [`MAX_TEXT`] bytes each) and
/// yields what [`trim_text`] would make of the whole text.
#[derive(Default, Debug)]
pub(crate) struct CappedText {
    head: String,
    tail: String,
    total: usize,
    lines: usize,
}

impl CappedText {
    pub(crate) fn push_line(&mut self, line: &str) {
        if self.lines > 0 {
            self.push_str("\n");
        }
        self.lines += 1;
        self.push_str(line);
    }

    fn push_str(&mut self, s: &str) {
        self.total += s.len();
        let mut rest = s;
        if self.tail.is_empty() {
            let room = MAX_TEXT.saturating_sub(self.head.len());
            let cut = floor_boundary(rest, room.min(rest.len()));
            self.head.push_str(&rest[..cut]);
            rest = &rest[cut..];
        }
        if rest.is_empty() {
            return;
        }
        if rest.len() > 2 * MAX_TEXT {
            rest = &rest[ceil_boundary(rest, rest.len() - MAX_TEXT)..];
        }
        self.tail.push_str(rest);
        if self.tail.len() > 2 * MAX_TEXT {
            let cut = ceil_boundary(&self.tail, self.tail.len() - MAX_TEXT);
            self.tail.drain(..cut);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Appends everything of `other` (as far as it was kept).
    pub(crate) fn append(&mut self, other: &CappedText) {
        if other.is_empty() {
            return;
        }
        if let Some(text) = other.finish() {
            self.push_line(&text);
        } else {
            self.push_line("");
        }
    }

    /// The text, trimmed with [`trim_text`]; `None` when blank.
    pub(crate) fn finish(&self) -> Option<String> {
        if self.head.len() + self.tail.len() == self.total {
            let mut all = String::with_capacity(self.total);
            all.push_str(&self.head);
            all.push_str(&self.tail);
            return trim_text(&all);
        }
        let half = MAX_TEXT / 2;
        let head = &self.head[..floor_boundary(&self.head, half.min(self.head.len()))];
        let tail = &self.tail[ceil_boundary(&self.tail, self.tail.len().saturating_sub(half))..];
        let cut = self.total - head.len() - tail.len();
        Some(format!(
            "{}\n[... {cut} bytes trimmed by flakehound ...]\n{}",
            head.trim_start(),
            tail.trim_end()
        ))
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// First line of `text`, trimmed and capped at 500 bytes, for [`Failure::message`].
pub(crate) fn one_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    if line.len() <= 500 {
        return line.to_string();
    }
    format!("{}…", &line[..floor_boundary(line, 500)])
}

// ---------------------------------------------------------------------------------------------
// Detection.
// ---------------------------------------------------------------------------------------------

/// A test2json event (only the fields used).
#[derive(Deserialize, Default)]
struct Event {
    #[serde(rename = "Time")]
    time: Option<String>,
    #[serde(rename = "Action")]
    action: Option<String>,
    #[serde(rename = "Package")]
    package: Option<String>,
    #[serde(rename = "ImportPath")]
    import_path: Option<String>,
    #[serde(rename = "Test")]
    test: Option<String>,
    #[serde(rename = "Elapsed")]
    elapsed: Option<f64>,
    #[serde(rename = "Output")]
    output: Option<String>,
    #[serde(rename = "FailedBuild")]
    failed_build: Option<String>,
}

impl Event {
    fn is_go_event(&self) -> bool {
        self.action.is_some()
            && (self.package.is_some() || self.import_path.is_some() || self.test.is_some())
    }
}

/// The first top-level JSON object line decides (a test2json event has `Action` and `Package`,
/// `ImportPath` or `Test`); a stream without JSON lines is accepted when it holds `go test`
/// lines (summary `ok  \tpkg`, `FAIL\tpkg [build failed]`, `=== RUN`, `--- FAIL: X (0.00s)`).
pub(crate) fn sniff(head: &str) -> bool {
    let mut text_hint = false;
    for line in head.lines() {
        if line.starts_with('{') {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                if !v.is_object() {
                    continue;
                }
                return serde_json::from_value::<Event>(v).is_ok_and(|e| e.is_go_event());
            }
            continue;
        }
        if !text_hint {
            text_hint = is_go_text_hint(line);
        }
    }
    text_hint
}

fn is_go_text_hint(line: &str) -> bool {
    if line.starts_with("=== RUN   ") {
        return true;
    }
    if let Some(m) = parse_end_test(line) {
        return m.start == 0;
    }
    // `go test` separates the summary's result from the package with a tab.
    let tabbed = ["ok  \t", "FAIL\t", "?   \t"]
        .iter()
        .any(|p| line.starts_with(p));
    tabbed && parse_summary(line).is_some()
}

// ---------------------------------------------------------------------------------------------
// go test line grammar (a port of go-junit-report's regular expressions).
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GoResult {
    Unknown,
    Pass,
    Fail,
    Skip,
}

fn parse_result(s: &str) -> GoResult {
    match s {
        "PASS" | "BENCH" => GoResult::Pass,
        "FAIL" => GoResult::Fail,
        "SKIP" => GoResult::Skip,
        _ => GoResult::Unknown,
    }
}

/// Go's `\s`.
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

fn skip_ws(s: &str) -> (&str, bool) {
    let t = s.trim_start_matches(is_ws);
    (t, t.len() != s.len())
}

/// `\d+`: the digits at the start of `s` and the rest.
fn digits(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| s.split_at(n))
}

/// `\d+\.\d+`
fn decimal(s: &str) -> Option<(f64, &str)> {
    let (int, rest) = digits(s)?;
    let rest = rest.strip_prefix('.')?;
    let (frac, rest) = digits(rest)?;
    let v: f64 = format!("{int}.{frac}").parse().ok()?;
    Some((v.is_finite().then_some(v)?, rest))
}

/// `(\d+|\d+\.\d+)`
fn number(s: &str) -> Option<(f64, &str)> {
    if let Some(r) = decimal(s) {
        return Some(r);
    }
    let (int, rest) = digits(s)?;
    let v: f64 = int.parse().ok()?;
    Some((v.is_finite().then_some(v)?, rest))
}

struct EndTest<'a> {
    /// Byte offset where the match (indentation included) starts.
    start: usize,
    result: &'a str,
    name: &'a str,
    duration: f64,
}

/// `((?:    )*)--- (PASS|FAIL|SKIP): ([^ ]+) \((\d+\.\d+)(?: seconds|s)\)`, unanchored.
fn parse_end_test(line: &str) -> Option<EndTest<'_>> {
    for (p, _) in line.match_indices("--- ") {
        let after = &line[p + 4..];
        let Some(result) = ["PASS", "FAIL", "SKIP"]
            .into_iter()
            .find(|r| after.starts_with(r) && after[r.len()..].starts_with(": "))
        else {
            continue;
        };
        let rest = &after[result.len() + 2..];
        let name_len = rest.find(' ').unwrap_or(rest.len());
        if name_len == 0 {
            continue;
        }
        let (name, rest) = rest.split_at(name_len);
        let Some(rest) = rest.strip_prefix(" (") else {
            continue;
        };
        let Some((duration, rest)) = decimal(rest) else {
            continue;
        };
        if !(rest.starts_with("s)") || rest.starts_with(" seconds)")) {
            continue;
        }
        let spaces = line[..p].bytes().rev().take_while(|&b| b == b' ').count();
        return Some(EndTest {
            start: p - spaces / 4 * 4,
            result,
            name,
            duration,
        });
    }
    None
}

struct Summary<'a> {
    result: &'a str,
    name: &'a str,
    duration: Option<f64>,
    /// `(cached)` and `[status]` (`[build failed]`, `[no test files]`), space separated.
    data: String,
}

/// go-junit-report's `regexSummary`:
/// `^(\?|ok|FAIL)\s+([^ \t]+)(?:\s+(\d+\.\d+)s)?(?:\s+(\(cached\)))?`
/// `(?:\s+coverage:\s+(?:\[no\sstatements\]|(\d+\.\d+)%\sof\sstatements(?:\sin\s(.+))?))?`
/// `(?:\s+(\[[^\]]+\]))?$`
fn parse_summary(line: &str) -> Option<Summary<'_>> {
    let (result, rest) = ["?", "ok", "FAIL"]
        .into_iter()
        .find_map(|r| line.strip_prefix(r).map(|rest| (r, rest)))?;
    let (rest, ws) = skip_ws(rest);
    if !ws {
        return None;
    }
    let name_len = rest.find([' ', '\t']).unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let (name, mut rest) = rest.split_at(name_len);
    let mut duration = None;
    let mut cached = "";
    let mut status = "";
    // Each optional group starts with `\s+`; they are told apart by their first character, so
    // trying them in order is what the regular expression does.
    if let (r, true) = skip_ws(rest) {
        if let Some((d, after)) = decimal(r).and_then(|(d, a)| Some((d, a.strip_prefix('s')?))) {
            if after.is_empty() || after.starts_with(is_ws) {
                duration = Some(d);
                rest = after;
            }
        }
    }
    if let (r, true) = skip_ws(rest) {
        if let Some(after) = r.strip_prefix("(cached)") {
            if after.is_empty() || after.starts_with(is_ws) {
                cached = "(cached)";
                rest = after;
            }
        }
    }
    if let (r, true) = skip_ws(rest) {
        if let Some(after) = r.strip_prefix("coverage:") {
            let (after, ws) = skip_ws(after);
            if ws {
                if let Some(a) = strip_no_statements(after) {
                    rest = a;
                } else if let Some(a) = strip_coverage_pct(after) {
                    rest = a;
                }
            }
        }
    }
    if let (r, true) = skip_ws(rest) {
        if let Some(inner) = r.strip_prefix('[') {
            if let Some(close) = inner.find(']') {
                if close > 0 {
                    status = &r[..close + 2];
                    rest = &inner[close + 1..];
                }
            }
        }
    }
    if !rest.is_empty() {
        return None;
    }
    Some(Summary {
        result,
        name,
        duration,
        data: format!("{cached} {status}").trim().to_string(),
    })
}

/// `\[no\sstatements\]`
fn strip_no_statements(s: &str) -> Option<&str> {
    let r = s.strip_prefix("[no")?;
    let mut chars = r.chars();
    if !chars.next().is_some_and(is_ws) {
        return None;
    }
    chars.as_str().strip_prefix("statements]")
}

/// `(\d+\.\d+)%\sof\sstatements(?:\sin\s(.+))?` (the package list swallows the rest).
fn strip_coverage_pct(s: &str) -> Option<&str> {
    let (_, r) = decimal(s)?;
    let r = r.strip_prefix('%')?;
    let r = strip_one_ws(r)?.strip_prefix("of")?;
    let r = strip_one_ws(r)?.strip_prefix("statements")?;
    if let Some(list) = strip_one_ws(r)
        .and_then(|r| r.strip_prefix("in"))
        .and_then(strip_one_ws)
    {
        if !list.is_empty() {
            return Some("");
        }
    }
    Some(r)
}

fn strip_one_ws(s: &str) -> Option<&str> {
    let mut chars = s.chars();
    chars.next().filter(|&c| is_ws(c))?;
    Some(chars.as_str())
}

/// `^coverage:\s+(\d+|\d+\.\d+)%\s+of\s+statements(?:\sin\s(.+))?$`
fn is_coverage(line: &str) -> bool {
    let Some(r) = line.strip_prefix("coverage:") else {
        return false;
    };
    let parse = || -> Option<()> {
        let (r, ws) = skip_ws(r);
        ws.then_some(())?;
        let (_, r) = number(r)?;
        let r = r.strip_prefix('%')?;
        let (r, ws) = skip_ws(r);
        ws.then_some(())?;
        let r = r.strip_prefix("of")?;
        let (r, ws) = skip_ws(r);
        ws.then_some(())?;
        let r = r.strip_prefix("statements")?;
        if r.is_empty() {
            return Some(());
        }
        let r = strip_one_ws(r)?.strip_prefix("in")?;
        let r = strip_one_ws(r)?;
        (!r.is_empty()).then_some(())
    };
    parse().is_some()
}

/// `^(Benchmark[^ -]+)$`
fn parse_run_bench(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("Benchmark")?;
    (!rest.is_empty() && !rest.contains([' ', '-'])).then_some(line)
}

/// `^(Benchmark[^ -]+)(?:-\d+\s+|\s+)(\d+)\s+(\d+|\d+\.\d+)\sns\/op` (the rest is optional).
/// Returns the name, iterations and ns/op.
fn parse_bench_summary(line: &str) -> Option<(&str, f64, f64)> {
    let rest = line.strip_prefix("Benchmark")?;
    let limit = rest.find([' ', '-']).unwrap_or(rest.len());
    // The name may contain whitespace other than spaces (the regexp backtracks over tabs):
    // try the longest candidate first.
    let mut ends: Vec<usize> = rest[..limit]
        .char_indices()
        .filter(|&(i, c)| i > 0 && is_ws(c))
        .map(|(i, _)| i)
        .collect();
    if limit > 0 {
        ends.push(limit);
    }
    for &end in ends.iter().rev() {
        let after = &rest[end..];
        let tries = [
            after
                .strip_prefix('-')
                .and_then(digits)
                .map(|(_, r)| r)
                .and_then(|r| match skip_ws(r) {
                    (r, true) => Some(r),
                    _ => None,
                }),
            match skip_ws(after) {
                (r, true) => Some(r),
                _ => None,
            },
        ];
        for r in tries.into_iter().flatten() {
            let Some((iters, r)) = digits(r) else {
                continue;
            };
            let (r, true) = skip_ws(r) else { continue };
            let Some((ns, r)) = number(r) else { continue };
            let Some(r) = strip_one_ws(r) else { continue };
            if r.starts_with("ns/op") {
                let iterations: f64 = iters.parse().unwrap_or(0.0);
                let name = line[..9 + end].trim_end_matches(is_ws);
                return Some((name, iterations, ns));
            }
        }
    }
    None
}

/// `^--- (BENCH|FAIL|SKIP): (Benchmark[^ -]+)(?:-\d+)?$`
fn parse_end_bench(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("--- ")?;
    let result = ["BENCH", "FAIL", "SKIP"]
        .into_iter()
        .find(|r| rest.starts_with(r) && rest[r.len()..].starts_with(": "))?;
    let name_part = &rest[result.len() + 2..];
    let after_prefix = name_part.strip_prefix("Benchmark")?;
    let end = after_prefix.find([' ', '-']).unwrap_or(after_prefix.len());
    if end == 0 {
        return None;
    }
    let tail = &after_prefix[end..];
    let ok = tail.is_empty()
        || tail
            .strip_prefix('-')
            .and_then(digits)
            .is_some_and(|(_, r)| r.is_empty());
    ok.then(|| (result, &name_part[..9 + end]))
}

enum LineEvent<'a> {
    RunTest(&'a str),
    PauseTest,
    ContTest(&'a str),
    EndTest(EndTest<'a>),
    Status,
    Summary(Summary<'a>),
    Coverage,
    RunBench(&'a str),
    Bench(&'a str, f64, f64),
    EndBench(&'a str, &'a str),
    BuildOutput(&'a str),
    Output,
}

/// go-junit-report's `parseLine`, in its order.
fn classify(line: &str) -> LineEvent<'_> {
    if line.len() > 64 * 1024 {
        return LineEvent::Output;
    }
    if let Some(r) = line.strip_prefix("=== RUN ") {
        return LineEvent::RunTest(r.trim());
    }
    if line.starts_with("=== PAUSE ") {
        return LineEvent::PauseTest;
    }
    if let Some(r) = line
        .strip_prefix("=== CONT ")
        .or_else(|| line.strip_prefix("=== NAME "))
    {
        return LineEvent::ContTest(r.trim());
    }
    if let Some(m) = parse_end_test(line) {
        return LineEvent::EndTest(m);
    }
    if matches!(line, "PASS" | "FAIL" | "SKIP") {
        return LineEvent::Status;
    }
    if let Some(s) = parse_summary(line) {
        return LineEvent::Summary(s);
    }
    if is_coverage(line) {
        return LineEvent::Coverage;
    }
    if let Some(name) = parse_run_bench(line) {
        return LineEvent::RunBench(name);
    }
    if let Some((name, iterations, ns)) = parse_bench_summary(line) {
        return LineEvent::Bench(name, iterations, ns);
    }
    if let Some((result, name)) = parse_end_bench(line) {
        return LineEvent::EndBench(result, name);
    }
    if let Some(rest) = line.strip_prefix("# ") {
        let mut fields = rest.split_whitespace();
        if let (Some(first), n) = (fields.next(), fields.count()) {
            if n <= 1 {
                return LineEvent::BuildOutput(first);
            }
        }
    }
    LineEvent::Output
}

// ---------------------------------------------------------------------------------------------
// Report builder (a port of go-junit-report's reportBuilder / packageBuilder).
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct GoTest {
    name: String,
    result: GoResult,
    duration: Option<f64>,
    timestamp: Option<String>,
}

/// Output lines per id; id 0 is the package's own output.
#[derive(Default)]
struct Collector {
    active: usize,
    out: HashMap<usize, CappedText>,
}

impl Collector {
    fn append(&mut self, line: &str) {
        self.out.entry(self.active).or_default().push_line(line);
    }
    fn contains(&self, id: usize) -> bool {
        self.out.get(&id).is_some_and(|c| !c.is_empty())
    }
    fn take(&mut self, id: usize) -> CappedText {
        self.out.remove(&id).unwrap_or_default()
    }
}

#[derive(Default)]
struct PkgBuilder {
    tests: BTreeMap<usize, GoTest>,
    /// Most recently created test of each name.
    latest: HashMap<String, usize>,
}

impl PkgBuilder {
    fn find(&self, name: &str) -> Option<usize> {
        self.latest.get(name).copied()
    }
    fn contains_failures(&self) -> bool {
        self.tests
            .values()
            .any(|t| matches!(t.result, GoResult::Fail | GoResult::Unknown))
    }
}

/// One record ready to be pushed.
struct Rec {
    classname: String,
    name: String,
    kind: RecKind,
    duration: Option<f64>,
    timestamp: Option<String>,
    output: Option<String>,
}

enum RecKind {
    Test(GoResult),
    BuildError,
    RunError,
}

struct GoParser {
    next_id: usize,
    /// Report-level output: build errors and the package without a name (raw text).
    global: Collector,
    collectors: HashMap<String, Collector>,
    builders: HashMap<String, PkgBuilder>,
    builder_order: Vec<String>,
    build_errors: BTreeMap<usize, String>,
    /// Ids of the pending build errors by package name.
    build_error_ids: HashMap<String, BTreeSet<usize>>,
    summarized: HashSet<String>,
    recognised: bool,
    package_durations: Vec<f64>,
}

impl GoParser {
    fn new() -> Self {
        GoParser {
            next_id: 1,
            global: Collector::default(),
            collectors: HashMap::new(),
            builders: HashMap::new(),
            builder_order: Vec::new(),
            build_errors: BTreeMap::new(),
            build_error_ids: HashMap::new(),
            summarized: HashSet::new(),
            recognised: false,
            package_durations: Vec::new(),
        }
    }

    fn builder(&mut self, pkg: &str) -> &mut PkgBuilder {
        if !self.builders.contains_key(pkg) {
            self.builder_order.push(pkg.to_string());
        }
        self.builders.entry(pkg.to_string()).or_default()
    }

    fn collector(&mut self, pkg: &str) -> &mut Collector {
        if pkg.is_empty() {
            &mut self.global
        } else {
            self.collectors.entry(pkg.to_string()).or_default()
        }
    }

    fn create_test(&mut self, pkg: &str, name: &str, ts: Option<&str>) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.collector(pkg).active = id;
        let b = self.builder(pkg);
        b.tests.insert(
            id,
            GoTest {
                name: name.to_string(),
                result: GoResult::Unknown,
                duration: None,
                timestamp: ts.map(str::to_string),
            },
        );
        b.latest.insert(name.to_string(), id);
        id
    }

    fn end_test(
        &mut self,
        pkg: &str,
        name: &str,
        result: GoResult,
        duration: Option<f64>,
        ts: Option<&str>,
    ) {
        let id = match self.builder(pkg).find(name) {
            Some(id) => id,
            None => self.create_test(pkg, name, ts),
        };
        if let Some(t) = self.builder(pkg).tests.get_mut(&id) {
            t.result = result;
            if duration.is_some() {
                t.duration = duration;
            }
        }
        self.collector(pkg).active = 0;
    }

    fn bench_result(&mut self, pkg: &str, name: &str, iterations: f64, ns: f64, ts: Option<&str>) {
        let existing = self.builder(pkg).find(name).filter(|id| {
            self.builders
                .get(pkg)
                .and_then(|b| b.tests.get(id))
                .is_some_and(|t| t.result == GoResult::Unknown)
        });
        let id = match existing {
            Some(id) => id,
            None => self.create_test(pkg, name, ts),
        };
        self.collector(pkg).active = id;
        let secs = iterations * ns / 1e9;
        if let Some(t) = self.builder(pkg).tests.get_mut(&id) {
            t.result = GoResult::Pass;
            t.duration = (secs.is_finite() && secs >= 0.0).then_some(secs);
        }
    }

    /// A JSON `pass`/`fail`/`skip` action of a test.
    fn json_test_result(
        &mut self,
        pkg: &str,
        name: &str,
        result: GoResult,
        elapsed: Option<f64>,
        ts: Option<&str>,
    ) {
        let id = match self.builder(pkg).find(name) {
            Some(id) => id,
            None => {
                // Output events were filtered away: create the record without stealing the
                // active test.
                let active = self.collector(pkg).active;
                let id = self.create_test(pkg, name, ts);
                self.collector(pkg).active = active;
                id
            }
        };
        if let Some(t) = self.builder(pkg).tests.get_mut(&id) {
            if t.result == GoResult::Unknown {
                t.result = result;
            }
            if let Some(e) = elapsed.filter(|e| e.is_finite() && *e >= 0.0) {
                t.duration = Some(e);
            }
        }
    }

    fn process_line(
        &mut self,
        line: &str,
        pkg: &str,
        test: Option<&str>,
        ts: Option<&str>,
    ) -> Vec<Rec> {
        let has_test = test.is_some();
        match classify(line) {
            LineEvent::RunTest(name) | LineEvent::RunBench(name) => {
                self.recognised = true;
                self.create_test(pkg, name, ts);
            }
            LineEvent::PauseTest | LineEvent::Status => {
                self.recognised = true;
                self.builder(pkg);
                self.collector(pkg).active = 0;
            }
            LineEvent::ContTest(name) => {
                self.recognised = true;
                let id = self.builder(pkg).find(name).unwrap_or(0);
                self.collector(pkg).active = id;
            }
            LineEvent::EndTest(m) => {
                self.recognised = true;
                if m.start > 0 {
                    self.output(pkg, &line[..m.start]);
                }
                self.end_test(pkg, m.name, parse_result(m.result), Some(m.duration), ts);
            }
            LineEvent::EndBench(result, name) => {
                self.recognised = true;
                self.end_test(pkg, name, parse_result(result), None, ts);
            }
            LineEvent::Bench(name, iterations, ns) => {
                self.recognised = true;
                self.bench_result(pkg, name, iterations, ns, ts);
            }
            LineEvent::Coverage => {
                self.builder(pkg);
            }
            LineEvent::Summary(s) if !has_test => {
                self.recognised = true;
                let name = s.name.to_string();
                self.summarized.insert(pkg.to_string());
                self.summarized.insert(name.clone());
                if let Some(d) = s.duration {
                    self.package_durations.push(d);
                }
                return self.create_package(pkg, &name, parse_result(s.result), s.data);
            }
            LineEvent::BuildOutput(name) if pkg.is_empty() => {
                self.recognised = true;
                let id = self.next_id;
                self.next_id += 1;
                self.global.active = id;
                self.build_errors.insert(id, name.to_string());
                self.build_error_ids
                    .entry(name.to_string())
                    .or_default()
                    .insert(id);
            }
            LineEvent::Summary(_) | LineEvent::BuildOutput(_) | LineEvent::Output => {
                if !self.output_to_failed_test(pkg, test, line) {
                    self.output(pkg, line)
                }
            }
        }
        Vec::new()
    }

    /// Output that test2json attributes to a test that already failed, while no test is active
    /// (a panic printed after `--- FAIL: TestX`): it goes to that test rather than to the
    /// package output, so the failure keeps its panic message.
    fn output_to_failed_test(&mut self, pkg: &str, test: Option<&str>, line: &str) -> bool {
        let (Some(name), false) = (test, pkg.is_empty()) else {
            return false;
        };
        if self.collector(pkg).active != 0 {
            return false;
        }
        let failed = self.builders.get(pkg).and_then(|b| {
            let id = b.find(name)?;
            (b.tests.get(&id)?.result == GoResult::Fail).then_some(id)
        });
        let Some(id) = failed else {
            return false;
        };
        self.collector(pkg)
            .out
            .entry(id)
            .or_default()
            .push_line(line);
        true
    }

    fn output(&mut self, pkg: &str, line: &str) {
        if !pkg.is_empty() {
            self.builder(pkg);
        }
        self.collector(pkg).append(line);
    }

    /// go-junit-report's `CreatePackage`: the records of one finished package.
    fn create_package(
        &mut self,
        pkg: &str,
        new_name: &str,
        result: GoResult,
        data: String,
    ) -> Vec<Rec> {
        let mut recs = Vec::new();
        // A build error of the package or of its external test package (`pkg_test`).
        let build_error = [new_name.to_string(), format!("{new_name}_test")]
            .iter()
            .filter_map(|n| self.build_error_ids.get(n)?.first().copied())
            .min();
        if let Some(id) = build_error {
            let be_name = self.build_errors.remove(&id).unwrap_or_default();
            if let Some(ids) = self.build_error_ids.get_mut(&be_name) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.build_error_ids.remove(&be_name);
                }
            }
            let output = self.global.take(id).finish();
            self.global.active = 0;
            recs.push(Rec {
                classname: be_name,
                name: if data.is_empty() {
                    "[build failed]".to_string()
                } else {
                    data
                },
                kind: RecKind::BuildError,
                duration: None,
                timestamp: None,
                output,
            });
            return recs;
        }

        let pb = self.builders.remove(pkg).unwrap_or_default();
        let mut owned;
        let coll: &mut Collector = if pkg.is_empty() {
            &mut self.global
        } else {
            owned = self.collectors.remove(pkg).unwrap_or_default();
            &mut owned
        };
        coll.active = 0;
        let failed = result == GoResult::Fail;
        let run_error = |output: Option<String>| Rec {
            classname: new_name.to_string(),
            name: "Failure".to_string(),
            kind: RecKind::RunError,
            duration: None,
            timestamp: None,
            output,
        };
        if pb.tests.is_empty() {
            let output = coll.take(0);
            if failed {
                recs.push(run_error(output.finish()));
            }
            return recs;
        }
        let mut trailing = None;
        if failed && !pb.contains_failures() {
            trailing = Some(run_error(coll.take(0).finish()));
        }
        coll.take(0);

        // Benchmarks of the same name are grouped into one record.
        let mut bench_index: HashMap<String, usize> = HashMap::new();
        let mut grouped: Vec<(GoTest, CappedText)> = Vec::new();
        for (id, test) in pb.tests {
            let out = coll.take(id);
            if test.name.starts_with("Benchmark") {
                if let Some(&i) = bench_index.get(&test.name) {
                    if let Some((g, gout)) = grouped.get_mut(i) {
                        g.result = group_result(g.result, test.result);
                        g.duration = match (g.duration, test.duration) {
                            (Some(a), Some(b)) => Some(a + b),
                            (a, b) => a.or(b),
                        };
                        gout.append(&out);
                    }
                    continue;
                }
                bench_index.insert(test.name.clone(), grouped.len());
            }
            grouped.push((test, out));
        }
        for (test, out) in grouped {
            recs.push(Rec {
                classname: new_name.to_string(),
                name: test.name,
                kind: RecKind::Test(test.result),
                duration: test.duration,
                timestamp: test.timestamp,
                output: out.finish(),
            });
        }
        recs.extend(trailing);
        recs
    }

    /// go-junit-report's `Build`: packages left without a summary, then build errors left
    /// without one.
    fn finish(&mut self) -> Vec<Rec> {
        let mut recs = Vec::new();
        for pkg in std::mem::take(&mut self.builder_order) {
            let Some(b) = self.builders.get(&pkg) else {
                continue;
            };
            let has_output = if pkg.is_empty() {
                self.global.contains(0)
            } else {
                self.collectors.get(&pkg).is_some_and(|c| c.contains(0))
            };
            if b.tests.is_empty() && !has_output {
                continue;
            }
            recs.extend(self.create_package(&pkg, &pkg, GoResult::Unknown, String::new()));
        }
        let names: Vec<String> = self.build_errors.values().cloned().collect();
        for name in names {
            recs.extend(self.create_package("", &name, GoResult::Unknown, String::new()));
        }
        recs
    }
}

/// go-junit-report's `groupResults`: a failure wins, otherwise the first pass sticks.
fn group_result(acc: GoResult, next: GoResult) -> GoResult {
    if acc == GoResult::Fail || next == GoResult::Fail {
        return GoResult::Fail;
    }
    if acc == GoResult::Pass { acc } else { next }
}

// ---------------------------------------------------------------------------------------------
// Records.
// ---------------------------------------------------------------------------------------------

/// `file_test.go:12: message` (go's `t.Log`/`t.Error` prefix), after indentation.
fn is_go_log_line(line: &str) -> bool {
    let Some(colon) = line.find(": ") else {
        return false;
    };
    let loc = &line[..colon];
    let Some((file, num)) = loc.rsplit_once(':') else {
        return false;
    };
    file.ends_with(".go")
        && !file.contains(char::is_whitespace)
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
}

fn panic_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("panic: ") || l.starts_with("fatal error: "))
}

/// The most useful single line of a test's output.
fn go_message(text: &str) -> Option<String> {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| is_go_log_line(l))
        .or_else(|| panic_line(text))
        .or_else(|| lines().find(|l| !l.bytes().all(|b| b == b'=')))
        .map(one_line)
}

fn to_case(rec: Rec, failed_child: Option<&str>) -> TestCase {
    let output = rec.output;
    let (outcome, failure) = match rec.kind {
        RecKind::Test(GoResult::Pass) => (Outcome::Passed, None),
        RecKind::Test(GoResult::Skip) => (
            Outcome::Skipped,
            output.as_deref().and_then(go_message).map(|m| Failure {
                message: Some(m),
                ..Failure::default()
            }),
        ),
        RecKind::Test(GoResult::Fail) => {
            let message = output
                .as_deref()
                .and_then(go_message)
                .or_else(|| failed_child.map(|c| format!("subtest {c} failed")));
            let kind = output
                .as_deref()
                .and_then(panic_line)
                .filter(|l| l.starts_with("panic: "))
                .map(|_| "panic".to_string());
            (
                Outcome::Failed,
                Some(Failure {
                    kind,
                    message,
                    details: output.clone(),
                }),
            )
        }
        RecKind::Test(GoResult::Unknown) => {
            let panic = output.as_deref().and_then(panic_line);
            (
                Outcome::Errored,
                Some(Failure {
                    kind: panic.map(|_| "panic".to_string()),
                    message: Some(match panic {
                        Some(p) => format!("no test result found: {}", one_line(p)),
                        None => "no test result found (the test did not finish)".to_string(),
                    }),
                    details: output.clone(),
                }),
            )
        }
        RecKind::BuildError => (
            Outcome::Errored,
            Some(Failure {
                kind: Some("build error".to_string()),
                message: Some(
                    output
                        .as_deref()
                        .map(one_line)
                        .unwrap_or_else(|| "build failed".to_string()),
                ),
                details: output.clone(),
            }),
        ),
        RecKind::RunError => {
            let panic = output.as_deref().and_then(panic_line);
            (
                Outcome::Errored,
                Some(Failure {
                    kind: panic
                        .filter(|l| l.starts_with("panic: "))
                        .map(|_| "panic".to_string()),
                    message: Some(
                        panic
                            .map(one_line)
                            .or_else(|| output.as_deref().map(one_line))
                            .unwrap_or_else(|| "package failed".to_string()),
                    ),
                    details: output.clone(),
                }),
            )
        }
    };
    let classname = (!rec.classname.is_empty()).then_some(rec.classname);
    let attempt = Attempt {
        outcome,
        duration: rec.duration,
        failure,
        stdout: output,
        stderr: None,
    };
    finish_case(
        TestCase {
            id: String::new(),
            suite: classname.iter().cloned().collect(),
            classname,
            name: rec.name,
            file: None,
            line: None,
            outcome,
            attempts: vec![attempt],
            properties: Vec::new(),
            timestamp: rec.timestamp,
        },
        Dialect::Go,
    )
}

fn push_records(recs: Vec<Rec>, sink: &mut Sink<'_>) -> Result<()> {
    // A failing parent without output of its own points at a failing subtest.
    let failing: BTreeSet<(String, String)> = recs
        .iter()
        .filter(|r| matches!(r.kind, RecKind::Test(GoResult::Fail)))
        .map(|r| (r.classname.clone(), r.name.clone()))
        .collect();
    for rec in recs {
        let child = if matches!(rec.kind, RecKind::Test(GoResult::Fail)) && rec.output.is_none() {
            let prefix = format!("{}/", rec.name);
            failing
                .range((rec.classname.clone(), prefix.clone())..)
                .next()
                .filter(|(c, n)| *c == rec.classname && n.starts_with(&prefix))
                .map(|(_, n)| n.clone())
        } else {
            None
        };
        sink(to_case(rec, child.as_deref()))?;
    }
    Ok(())
}

pub(crate) fn parse<R: BufRead>(input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    let mut lines = LineReader::new(input);
    let mut p = GoParser::new();
    let mut info = ReportInfo {
        format: Some(Format::GoJson),
        tool: Some("go".to_string()),
        ..ReportInfo::default()
    };
    let mut first_bad_json: Option<u64> = None;
    while let Some(line) = lines.next_line()? {
        if !line.starts_with('{') {
            // Plain text: `go build` output or plain `go test -v` output.
            let recs = p.process_line(&line, "", None, None);
            push_records(recs, sink)?;
            continue;
        }
        let ev = match serde_json::from_str::<Event>(&line) {
            Ok(ev) if ev.action.is_some() => ev,
            _ => {
                // A corrupted or truncated event: skip it.
                first_bad_json.get_or_insert(lines.line_no());
                continue;
            }
        };
        p.recognised = true;
        if info.timestamp.is_none() {
            info.timestamp = ev.time.clone();
        }
        let pkg = ev.package.as_deref().unwrap_or("");
        let test = ev.test.as_deref().filter(|t| !t.is_empty());
        let ts = ev.time.as_deref();
        if let Some(out) = ev.output.as_deref().filter(|o| !o.is_empty()) {
            let out = out.strip_suffix('\n').unwrap_or(out);
            let recs = p.process_line(out, pkg, test, ts);
            push_records(recs, sink)?;
        }
        let result = match ev.action.as_deref() {
            Some("pass") => GoResult::Pass,
            Some("fail") => GoResult::Fail,
            Some("skip") => GoResult::Skip,
            _ => continue,
        };
        match test {
            Some(name) => p.json_test_result(pkg, name, result, ev.elapsed, ts),
            None if !pkg.is_empty() && !p.summarized.contains(pkg) => {
                // No summary line was seen for this package: the action closes it.
                p.summarized.insert(pkg.to_string());
                if let Some(e) = ev.elapsed.filter(|e| e.is_finite() && *e >= 0.0) {
                    p.package_durations.push(e);
                }
                let data = if ev.failed_build.is_some() {
                    "[build failed]".to_string()
                } else {
                    String::new()
                };
                let result = match result {
                    GoResult::Fail => "FAIL",
                    _ => "ok",
                };
                let recs = p.create_package(pkg, pkg, parse_result(result), data);
                push_records(recs, sink)?;
            }
            None => {}
        }
    }
    if !p.recognised {
        return Err(match first_bad_json {
            Some(line) => Error::at_line(
                "not a go test -json stream: invalid test2json event (expected an object with \
                 \"Action\" and \"Package\"), and no go test output found",
                line,
            ),
            None if lines.line_no() == 0 => {
                Error::parse("empty input: no go test -json events in it")
            }
            None => Error::parse(
                "not a go test -json stream: no test2json event (expected lines like \
                 {\"Action\":\"run\",\"Package\":...}) and no go test output found",
            ),
        });
    }
    let recs = p.finish();
    push_records(recs, sink)?;
    if let [d] = p.package_durations[..] {
        info.duration = Some(d);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    fn parse_str(s: &str) -> (ReportInfo, Vec<TestCase>) {
        collect_bytes(s.as_bytes(), Some(Format::GoJson)).unwrap()
    }

    fn ev(action: &str, pkg: &str, test: Option<&str>, output: Option<&str>) -> String {
        let mut v = serde_json::json!({
            "Time": "2024-01-01T00:00:00Z",
            "Action": action,
            "Package": pkg,
        });
        if let Some(t) = test {
            v["Test"] = t.into();
        }
        if let Some(o) = output {
            v["Output"] = o.into();
        }
        v.to_string()
    }

    fn out(pkg: &str, test: Option<&str>, text: &str) -> String {
        ev("output", pkg, test, Some(text))
    }

    fn outcomes(cases: &[TestCase]) -> Vec<(String, Outcome)> {
        cases.iter().map(|c| (c.id.clone(), c.outcome)).collect()
    }

    #[test]
    fn pass_fail_skip_mapping() {
        let p = "example.com/p";
        let input = [
            ev("run", p, Some("TestA"), None),
            out(p, Some("TestA"), "=== RUN   TestA\n"),
            out(p, Some("TestA"), "--- PASS: TestA (0.25s)\n"),
            r#"{"Time":"2024-01-01T00:00:01Z","Action":"pass","Package":"example.com/p","Test":"TestA","Elapsed":0.25}"#.to_string(),
            ev("run", p, Some("TestB"), None),
            out(p, Some("TestB"), "=== RUN   TestB\n"),
            out(p, Some("TestB"), "    b_test.go:12: got 1, want 2\n"),
            out(p, Some("TestB"), "    b_test.go:13: more\n"),
            out(p, Some("TestB"), "--- FAIL: TestB (0.01s)\n"),
            ev("fail", p, Some("TestB"), None),
            ev("run", p, Some("TestC"), None),
            out(p, Some("TestC"), "=== RUN   TestC\n"),
            out(p, Some("TestC"), "    c_test.go:5: not on this OS\n"),
            out(p, Some("TestC"), "--- SKIP: TestC (0.00s)\n"),
            ev("skip", p, Some("TestC"), None),
            out(p, None, "FAIL\n"),
            out(p, None, "FAIL\texample.com/p\t0.300s\n"),
            ev("fail", p, None, None),
        ]
        .join("\n");
        let (info, cases) = parse_str(&input);
        assert_eq!(info.format, Some(Format::GoJson));
        assert_eq!(info.tool.as_deref(), Some("go"));
        assert_eq!(info.timestamp.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(info.duration, Some(0.3));
        assert_eq!(
            outcomes(&cases),
            vec![
                ("example.com/p::TestA".into(), Outcome::Passed),
                ("example.com/p::TestB".into(), Outcome::Failed),
                ("example.com/p::TestC".into(), Outcome::Skipped),
            ]
        );
        assert_eq!(cases[0].duration(), Some(0.25));
        assert_eq!(cases[0].classname.as_deref(), Some("example.com/p"));
        assert_eq!(cases[0].timestamp.as_deref(), Some("2024-01-01T00:00:00Z"));
        let b = &cases[1].attempts[0];
        let f = b.failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("b_test.go:12: got 1, want 2"));
        assert_eq!(
            f.details.as_deref(),
            Some("b_test.go:12: got 1, want 2\n    b_test.go:13: more")
        );
        assert_eq!(b.stdout, f.details);
        let c = &cases[2].attempts[0];
        assert_eq!(
            c.failure.as_ref().unwrap().message.as_deref(),
            Some("c_test.go:5: not on this OS")
        );
    }

    #[test]
    fn subtests_are_records_and_parent_points_at_failed_child() {
        let p = "pkg";
        let input = [
            out(p, Some("TestM"), "=== RUN   TestM\n"),
            out(p, Some("TestM/a"), "=== RUN   TestM/a\n"),
            out(p, Some("TestM/b"), "=== RUN   TestM/b\n"),
            out(p, Some("TestM/b"), "    m_test.go:9: boom\n"),
            out(p, Some("TestM"), "--- FAIL: TestM (0.00s)\n"),
            out(p, Some("TestM/a"), "    --- PASS: TestM/a (0.00s)\n"),
            ev("pass", p, Some("TestM/a"), None),
            out(p, Some("TestM/b"), "    --- FAIL: TestM/b (0.00s)\n"),
            ev("fail", p, Some("TestM/b"), None),
            ev("fail", p, Some("TestM"), None),
            out(p, None, "FAIL\tpkg\t0.001s\n"),
            ev("fail", p, None, None),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("pkg::TestM".into(), Outcome::Failed),
                ("pkg::TestM/a".into(), Outcome::Passed),
                ("pkg::TestM/b".into(), Outcome::Failed),
            ]
        );
        let parent = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(parent.message.as_deref(), Some("subtest TestM/b failed"));
        assert_eq!(cases[0].attempts[0].stdout, None);
    }

    #[test]
    fn build_failure_in_plain_text() {
        let input = "# example.com/broken [example.com/broken.test]\n\
                     ./x_test.go:4:6: undefined: foo\n\
                     FAIL\texample.com/broken [build failed]\n";
        assert!(sniff(input));
        let (_, cases) = parse_str(input);
        assert_eq!(cases.len(), 1);
        let c = &cases[0];
        assert_eq!(c.id, "example.com/broken::[build failed]");
        assert_eq!(c.outcome, Outcome::Errored);
        let f = c.attempts[0].failure.as_ref().unwrap();
        assert_eq!(
            f.message.as_deref(),
            Some("./x_test.go:4:6: undefined: foo")
        );
        assert_eq!(f.kind.as_deref(), Some("build error"));
    }

    #[test]
    fn build_failure_go_1_24_events() {
        let input = [
            r##"{"ImportPath":"m/broken [m/broken.test]","Action":"build-output","Output":"# m/broken [m/broken.test]\n"}"##,
            r##"{"ImportPath":"m/broken [m/broken.test]","Action":"build-output","Output":"./a_test.go:3:1: syntax error\n"}"##,
            r##"{"ImportPath":"m/broken [m/broken.test]","Action":"build-fail"}"##,
            r##"{"Time":"2025-01-01T00:00:00Z","Action":"start","Package":"m/broken"}"##,
            r##"{"Time":"2025-01-01T00:00:00Z","Action":"output","Package":"m/broken","Output":"FAIL\tm/broken [build failed]\n"}"##,
            r##"{"Time":"2025-01-01T00:00:00Z","Action":"fail","Package":"m/broken","Elapsed":0,"FailedBuild":"m/broken [m/broken.test]"}"##,
        ]
        .join("\n");
        assert!(sniff(&input));
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![("m/broken::[build failed]".into(), Outcome::Errored)]
        );
    }

    #[test]
    fn panic_in_init_and_after_tests() {
        let p = "pkg";
        let input = [
            out(p, None, "panic: init\n"),
            out(p, None, "\n"),
            out(p, None, "goroutine 1 [running]:\n"),
            out(p, None, "FAIL\tpkg\t0.003s\n"),
            ev("fail", p, None, None),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![("pkg::Failure".into(), Outcome::Errored)]
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("panic: init"));
        assert_eq!(f.kind.as_deref(), Some("panic"));

        let input = [
            out(p, Some("TestOne"), "=== RUN   TestOne\n"),
            out(p, Some("TestOne"), "--- PASS: TestOne (0.00s)\n"),
            ev("pass", p, Some("TestOne"), None),
            out(p, None, "PASS\n"),
            out(p, None, "panic: late\n"),
            out(p, None, "FAIL\tpkg\t0.003s\n"),
            ev("fail", p, None, None),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("pkg::TestOne".into(), Outcome::Passed),
                ("pkg::Failure".into(), Outcome::Errored)
            ]
        );
    }

    #[test]
    fn panic_inside_test_without_result_is_errored() {
        let p = "pkg";
        let input = [
            out(p, Some("TestA"), "=== RUN   TestA\n"),
            out(p, Some("TestA"), "panic: test timed out after 1s\n"),
            out(p, None, "FAIL\tpkg\t1.003s\n"),
            ev("fail", p, None, None),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![("pkg::TestA".into(), Outcome::Errored)]
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(
            f.message.as_deref(),
            Some("no test result found: panic: test timed out after 1s")
        );
    }

    #[test]
    fn panic_after_fail_line_stays_with_the_test() {
        let p = "pkg";
        let input = [
            out(p, Some("TestP"), "=== RUN   TestP\n"),
            out(p, Some("TestP"), "--- FAIL: TestP (0.00s)\n"),
            out(p, Some("TestP"), "panic: boom [recovered]\n"),
            out(p, Some("TestP"), "\tpanic: boom\n"),
            ev("fail", p, Some("TestP"), None),
            out(p, None, "FAIL\tpkg\t0.005s\n"),
            ev("fail", p, None, None),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![("pkg::TestP".into(), Outcome::Failed)]
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("panic: boom [recovered]"));
        assert_eq!(f.kind.as_deref(), Some("panic"));
    }

    #[test]
    fn truncated_stream_keeps_what_was_seen() {
        let p = "pkg";
        let input = [
            out(p, Some("TestA"), "=== RUN   TestA\n"),
            out(p, Some("TestA"), "--- PASS: TestA (0.00s)\n"),
            ev("pass", p, Some("TestA"), None),
            out(p, Some("TestB"), "=== RUN   TestB\n"),
            r#"{"Time":"2024-01-01T00:00:00Z","Action":"outp"#.to_string(),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("pkg::TestA".into(), Outcome::Passed),
                ("pkg::TestB".into(), Outcome::Errored)
            ]
        );
    }

    #[test]
    fn benchmarks_are_grouped_by_name() {
        let p = "pkg";
        let input = [
            out(p, None, "BenchmarkX\n"),
            out(p, None, "BenchmarkX-8   \t     100\t      1000 ns/op\n"),
            out(p, None, "BenchmarkX\n"),
            out(p, None, "BenchmarkX-8   \t     100\t      3000 ns/op\n"),
            out(p, None, "BenchmarkY\t     10\t      5.5 ns/op\n"),
            out(p, None, "--- FAIL: BenchmarkZ\n"),
            out(p, None, "FAIL\tpkg\t0.5s\n"),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("pkg::BenchmarkX".into(), Outcome::Passed),
                ("pkg::BenchmarkY".into(), Outcome::Passed),
                ("pkg::BenchmarkZ".into(), Outcome::Failed),
            ]
        );
        let d = cases[0].duration().unwrap();
        assert!((d - 0.0004).abs() < 1e-12, "{d}");
    }

    #[test]
    fn parallel_output_follows_cont_lines() {
        let p = "pkg";
        let input = [
            out(p, Some("TestP1"), "=== RUN   TestP1\n"),
            out(p, Some("TestP1"), "=== PAUSE TestP1\n"),
            out(p, Some("TestP2"), "=== RUN   TestP2\n"),
            out(p, Some("TestP2"), "=== PAUSE TestP2\n"),
            out(p, Some("TestP2"), "=== CONT  TestP2\n"),
            out(p, Some("TestP2"), "    p_test.go:2: two\n"),
            out(p, Some("TestP1"), "=== NAME  TestP1\n"),
            out(p, Some("TestP1"), "    p_test.go:1: one\n"),
            out(p, Some("TestP1"), "--- PASS: TestP1 (0.00s)\n"),
            out(p, Some("TestP2"), "--- PASS: TestP2 (0.00s)\n"),
            out(p, None, "ok  \tpkg\t0.1s\n"),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(cases.len(), 2);
        assert_eq!(
            cases[0].attempts[0].stdout.as_deref(),
            Some("p_test.go:1: one")
        );
        assert_eq!(
            cases[1].attempts[0].stdout.as_deref(),
            Some("p_test.go:2: two")
        );
    }

    #[test]
    fn actions_only_stream_still_counts() {
        let input = [
            ev("run", "pkg", Some("TestA"), None),
            ev("pass", "pkg", Some("TestA"), None),
            ev("run", "pkg", Some("TestB"), None),
            ev("fail", "pkg", Some("TestB"), None),
            ev("fail", "pkg", None, None),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("pkg::TestA".into(), Outcome::Passed),
                ("pkg::TestB".into(), Outcome::Failed)
            ]
        );
    }

    #[test]
    fn test_output_cannot_fake_a_summary_or_build_error() {
        let p = "pkg";
        let input = [
            out(p, Some("TestA"), "=== RUN   TestA\n"),
            out(p, Some("TestA"), "ok  \tsomething\t0.1s\n"),
            out(p, Some("TestA"), "# header\n"),
            out(p, Some("TestA"), "--- PASS: TestA (0.00s)\n"),
            out(p, None, "ok  \tpkg\t0.1s\n"),
        ]
        .join("\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(
            outcomes(&cases),
            vec![("pkg::TestA".into(), Outcome::Passed)]
        );
        assert_eq!(
            cases[0].attempts[0].stdout.as_deref(),
            Some("ok  \tsomething\t0.1s\n# header")
        );
    }

    #[test]
    fn sniffing() {
        assert!(sniff(&ev("run", "p", Some("TestA"), None)));
        assert!(sniff("FAIL\tpkg [build failed]\n"));
        assert!(sniff("=== RUN   TestA\n--- PASS: TestA (0.00s)\n"));
        assert!(!sniff(
            r#"{"type":"suite","event":"started","test_count":1}"#
        ));
        assert!(!sniff("{\n  \"results\": {}\n}\n"));
        assert!(!sniff("TAP version 13\nok 1 - a\n"));
        assert!(!sniff("ok 1 - a\n1..1\n"));
    }

    #[test]
    fn nothing_recognisable_is_an_error() {
        let err = collect_bytes(b"hello\nworld\n", Some(Format::GoJson)).unwrap_err();
        assert!(
            err.to_string().contains("not a go test -json stream"),
            "{err}"
        );
        let err = collect_bytes(b"{\"a\":1}\n", Some(Format::GoJson)).unwrap_err();
        assert!(err.to_string().starts_with("line 1:"), "{err}");
    }

    #[test]
    fn line_grammar() {
        let s = parse_summary("ok  \tpkg/a\t0.012s\tcoverage: 50.0% of statements").unwrap();
        assert_eq!((s.result, s.name, s.duration), ("ok", "pkg/a", Some(0.012)));
        let s = parse_summary("?   \tpkg/b\t[no test files]").unwrap();
        assert_eq!(s.data, "[no test files]");
        let s = parse_summary("ok  \tpkg/c\t(cached)").unwrap();
        assert_eq!(s.data, "(cached)");
        assert!(parse_summary("ok 1 - foo").is_none());
        assert!(parse_summary("okay pkg").is_none());
        let m = parse_end_test("    --- FAIL: TestA/b (1.50s)").unwrap();
        assert_eq!(
            (m.start, m.result, m.name, m.duration),
            (0, "FAIL", "TestA/b", 1.5)
        );
        let m = parse_end_test("output--- PASS: TestA (0.00s)").unwrap();
        assert_eq!(m.start, 6);
        assert!(parse_end_test("--- PASS: TestA").is_none());
        assert_eq!(
            parse_bench_summary("BenchmarkA-8 \t 100\t 12.5 ns/op\t 3 B/op").map(|b| b.0),
            Some("BenchmarkA")
        );
        assert!(parse_bench_summary("BenchmarkA-8 fast").is_none());
        assert_eq!(
            parse_end_bench("--- BENCH: BenchmarkA-4"),
            Some(("BENCH", "BenchmarkA"))
        );
        assert!(is_coverage("coverage: 12.5% of statements"));
        assert!(!is_coverage("coverage: lots"));
    }

    #[test]
    fn capped_text_keeps_head_and_tail() {
        let mut t = CappedText::default();
        t.push_line("first");
        for _ in 0..10_000 {
            t.push_line("0123456789");
        }
        t.push_line("last");
        let s = t.finish().unwrap();
        assert!(s.starts_with("first\n"));
        assert!(s.ends_with("\nlast"));
        assert!(s.contains("bytes trimmed by flakehound"));
        assert!(s.len() < MAX_TEXT + 100);

        let mut small = CappedText::default();
        small.push_line("  a");
        small.push_line("b  ");
        assert_eq!(small.finish().as_deref(), Some("a\nb"));
        assert!(!small.is_empty());
    }

    #[test]
    fn line_reader_strips_bom_and_crlf_and_caps() {
        let data = b"\xEF\xBB\xBFone\r\ntwo\nthree";
        let mut r = LineReader::new(&data[..]);
        assert_eq!(r.next_line().unwrap().as_deref(), Some("one"));
        assert_eq!(r.next_line().unwrap().as_deref(), Some("two"));
        assert_eq!(r.next_line().unwrap().as_deref(), Some("three"));
        assert_eq!(r.line_no(), 3);
        assert_eq!(r.next_line().unwrap(), None);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in [
            "".to_string(),
            "\u{0}\u{1}".to_string(),
            "--- PASS: (0.00s)".to_string(),
            "=== RUN \n=== CONT \n--- FAIL: X (9.9s)\nFAIL\t\n".to_string(),
            "# \n# a b c\nFAIL\tx [".to_string(),
            "Benchmark\nBenchmark-\nBenchmarkA\t\t1\t1 ns/opé".to_string(),
            r#"{"Action":"pass","Package":"p","Test":"T","Elapsed":-1}"#.to_string(),
            r#"{"Action":"output","Package":"p","Output":"ok  \tp\t1e999s\n"}"#.to_string(),
            "é".repeat(70_000),
        ] {
            let _ = collect_bytes(input.as_bytes(), Some(Format::GoJson));
            let _ = sniff(&input);
        }
    }
}
