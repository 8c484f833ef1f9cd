//! TAP (Test Anything Protocol) 12, 13 and 14 streams, including node-tap's output.
//!
//! # Mapping
//! - Every test point (`ok` / `not ok` line) is one record, at any nesting depth.
//!   - name = the description (escapes `\#` and `\\` undone, the `- ` separator dropped), or
//!     `test N` when there is none (N = the test number, or the position when it is missing).
//!     A description repeated in the same (sub)test gets ` (2)`, ` (3)`, ... appended, so
//!     repeated assertion messages (`should be equal`) do not look like reruns of one test.
//!   - classname = the names of the enclosing subtests joined with `::` (none at top level);
//!     suite = those names; id `outer::inner::name` ([`Dialect::Other`]).
//! - Outcome: `ok` → passed, `not ok` → failed, `# SKIP` (any case, `SKIPPED`...) → skipped,
//!   `not ok ... # TODO` → skipped (an expected failure is not a failure), `ok ... # TODO`
//!   → passed (property `tap.todo` = the reason).
//! - YAML diagnostics (`  ---` ... `  ...` right after a test point): `message` gives the
//!   failure message, `duration_ms` the duration, `at: {file, line}` (node-tap) the file and
//!   line, `type` the failure kind, `severity` a property (`tap.severity`). The whole block
//!   (dedented) is the failure details, or the stdout of a passing test. Only simple scalars
//!   and `|`/`>` blocks are read; the block is never evaluated as full YAML.
//! - `# comment` lines right after a failing test point (Test::More's `#   Failed test ...`
//!   diagnostics) are appended to its details; other comments are ignored.
//! - Duration: `# time=12.3ms` at the end of a test point (node-tap), else `duration_ms`.
//!   A top-level `# time=...` comment is the report duration.
//! - Failure message: YAML `message`, else the description, else the first diagnostic comment.
//!
//! # Subtests
//! Indented TAP (TAP 14, node-tap) is a subtest; its test points are records whose classname is
//! the subtest's name. The name comes from a `# Subtest: name` comment (at the parent's or the
//! child's indentation) or, failing that, from the parent's test point that closes the subtest
//! (children are then held back until that line; if it never comes they are named `[subtest]`).
//! The closing test point is a record too (the subtest as a whole), so a failing assertion in a
//! subtest counts once for the assertion and once for the subtest, like go subtests. TAP 14
//! `ok 1 - name {` ... `}` blocks are understood too.
//!
//! # Plans and bail out
//! - The plan `1..N` may come first or last; `1..0 # skip reason` means no tests (no record).
//! - `Bail out!` (any depth) stops the stream: pending records are flushed, then one errored
//!   record named `[bail out]` (message = the reason) stands for the rest of the run, because
//!   the tests that did not run have no names to report. Lines after it are not read.
//! - When fewer top-level test points than planned were seen by the end of the stream (a crashed
//!   or truncated run), one errored record `[plan mismatch]` says how many were planned and
//!   seen; the test points that were seen are all reported. More test points than planned are
//!   all reported and add no record (TAP harnesses call it a bad plan, but no test is missing).
//!
//! Lines that are not TAP (program output) are ignored, as the TAP specification asks. A stream
//! without any version line, plan, test point or bail out is an error.

use crate::gojson::{CappedText, LineReader, one_line};
use crate::{Error, Result, Sink, finish_case};
use flakehound_model::{
    Attempt, Dialect, Failure, Format, Outcome, ReportInfo, TestCase, parse_seconds, trim_text,
};
use std::collections::HashMap;
use std::io::BufRead;

/// Most YAML bytes kept per test point.
const MAX_YAML: usize = 64 * 1024;

/// Deepest subtest nesting followed; deeper lines count as part of the deepest subtest.
const MAX_DEPTH: usize = 64;

/// Placeholder name of a subtest whose name never appeared.
const UNNAMED_SUBTEST: &str = "[subtest]";

/// The first significant line (not blank, not a `#` comment) must be TAP.
pub(crate) fn sniff(head: &str) -> bool {
    for line in head.lines() {
        let content = line.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        return matches!(
            classify(content),
            Line::Version | Line::Plan { .. } | Line::Test(_) | Line::BailOut(_)
        );
    }
    false
}

#[derive(Clone, Debug, PartialEq)]
enum Directive {
    None,
    Skip(String),
    Todo(String),
}

#[derive(Debug)]
struct TestPoint {
    ok: bool,
    number: Option<u64>,
    description: String,
    directive: Directive,
    time: Option<f64>,
    /// TAP 14 `ok 1 - name {`: the subtest follows.
    opens_block: bool,
}

#[derive(Debug)]
enum Line {
    Version,
    Plan { count: u64, skip_all: bool },
    Test(TestPoint),
    BailOut(String),
    Subtest(String),
    Comment(String),
    Pragma,
    BlockEnd,
    Other,
}

fn classify(content: &str) -> Line {
    if let Some(rest) = content.strip_prefix("TAP version ") {
        if rest.trim().bytes().all(|b| b.is_ascii_digit()) && !rest.trim().is_empty() {
            return Line::Version;
        }
    }
    if let Some(tp) = parse_test_point(content) {
        return Line::Test(tp);
    }
    if let Some(plan) = parse_plan(content) {
        return plan;
    }
    if content
        .get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case("bail out!"))
    {
        return Line::BailOut(content.get(9..).unwrap_or("").trim().to_string());
    }
    if let Some(c) = content.strip_prefix('#') {
        let trimmed = c.trim();
        if let Some(name) = trimmed.strip_prefix("Subtest:") {
            return Line::Subtest(name.trim().to_string());
        }
        if trimmed == "Subtest" {
            return Line::Subtest(String::new());
        }
        // Keep the alignment of diagnostics (`#          got: 1`): drop one space only.
        let c = c.strip_prefix(' ').unwrap_or(c);
        return Line::Comment(c.trim_end().to_string());
    }
    if content.starts_with("pragma ") {
        return Line::Pragma;
    }
    if content == "}" {
        return Line::BlockEnd;
    }
    Line::Other
}

/// `N..M` with an optional `# reason`.
fn parse_plan(content: &str) -> Option<Line> {
    let n = content.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let rest = content[n..].strip_prefix("..")?;
    let m = rest.bytes().take_while(u8::is_ascii_digit).count();
    if m == 0 {
        return None;
    }
    let first: u64 = content[..n].parse().ok()?;
    let last: u64 = rest[..m].parse().ok()?;
    let tail = rest[m..].trim();
    if !(tail.is_empty() || tail.starts_with('#')) {
        return None;
    }
    let first = first.max(1);
    let count = if last >= first {
        (last - first).saturating_add(1)
    } else {
        0
    };
    let reason = tail.trim_start_matches('#').trim().to_ascii_lowercase();
    Some(Line::Plan {
        count,
        skip_all: count == 0 || reason.starts_with("skip"),
    })
}

fn parse_test_point(content: &str) -> Option<TestPoint> {
    let (ok, rest) = if let Some(r) = content.strip_prefix("not ok") {
        (false, r)
    } else if let Some(r) = content.strip_prefix("ok") {
        (true, r)
    } else {
        return None;
    };
    if let Some(c) = rest.chars().next() {
        if !(c.is_whitespace() || c == '-' || c == '#' || c.is_ascii_digit()) {
            return None;
        }
    }
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let after_digits = &rest[digits..];
    let (number, rest) = if digits > 0
        && after_digits
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || c == '-' || c == '#')
    {
        (rest[..digits].parse().ok(), after_digits)
    } else {
        (None, rest)
    };
    let mut rest = rest.trim_start();
    if let Some(r) = rest.strip_prefix('-') {
        rest = r.trim_start();
    }
    let (mut desc, directive, time) = split_directive(rest);
    let mut opens_block = false;
    if let Some(d) = desc
        .strip_suffix(" {")
        .or_else(|| (desc == "{").then_some(""))
    {
        desc = d;
        opens_block = true;
    }
    Some(TestPoint {
        ok,
        number,
        description: unescape(desc.trim()),
        directive,
        time,
        opens_block,
    })
}

/// Splits `description # DIRECTIVE reason` at the first unescaped `#` that starts a SKIP/TODO
/// directive or a node-tap `time=` note.
fn split_directive(rest: &str) -> (&str, Directive, Option<f64>) {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'#' => {
                let after = rest[i + 1..].trim();
                let word_len = after
                    .find(|c: char| c.is_whitespace())
                    .unwrap_or(after.len());
                let word = after[..word_len].to_ascii_lowercase();
                let reason = after[word_len..].trim().to_string();
                let desc = rest[..i].trim_end();
                if word.starts_with("skip") {
                    return (desc, Directive::Skip(reason), None);
                }
                if word.starts_with("todo") {
                    return (desc, Directive::Todo(reason), None);
                }
                if let Some(t) = word.strip_prefix("time=") {
                    if let Some(secs) = parse_time(t) {
                        return (desc, Directive::None, Some(secs));
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    (rest, Directive::None, None)
}

/// node-tap's `12.345ms` / `1.2s`.
fn parse_time(t: &str) -> Option<f64> {
    match t.strip_suffix("ms") {
        Some(ms) => parse_seconds(ms).map(|v| v / 1000.0),
        None => parse_seconds(t),
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('#' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

// ---------------------------------------------------------------------------------------------
// YAML diagnostics.
// ---------------------------------------------------------------------------------------------

#[derive(Default, Debug)]
struct Yaml {
    lines: Vec<String>,
    bytes: usize,
    truncated: bool,
}

#[derive(Default, Debug, PartialEq)]
struct YamlInfo {
    message: Option<String>,
    severity: Option<String>,
    kind: Option<String>,
    duration: Option<f64>,
    file: Option<String>,
    line: Option<u32>,
    text: Option<String>,
}

impl Yaml {
    fn push(&mut self, line: &str) {
        if self.bytes + line.len() > MAX_YAML {
            self.truncated = true;
            return;
        }
        self.bytes += line.len() + 1;
        self.lines.push(line.to_string());
    }

    fn info(&self) -> YamlInfo {
        let base = self
            .lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| indent_of(l))
            .min()
            .unwrap_or(0);
        let dedented: Vec<&str> = self
            .lines
            .iter()
            .map(|l| l.get(base..).unwrap_or_else(|| l.trim_start()))
            .collect();
        let mut info = YamlInfo::default();
        let mut text = dedented.join("\n");
        if self.truncated {
            text.push_str("\n[... YAML trimmed by flakehound ...]");
        }
        info.text = trim_text(&text);
        let mut i = 0;
        while i < dedented.len() {
            let line = dedented[i];
            i += 1;
            if line.starts_with([' ', '\t']) || line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim();
            let value = value.trim();
            // The lines of a nested block (mapping or `|`/`>` scalar) under this key.
            let start = i;
            while i < dedented.len()
                && (dedented[i].starts_with([' ', '\t']) || dedented[i].trim().is_empty())
            {
                i += 1;
            }
            let nested = &dedented[start..i];
            match key {
                "message" => info.message = scalar(value, nested).map(|m| one_line(&m)),
                "severity" => info.severity = scalar(value, nested),
                "type" | "errorType" => {
                    info.kind = scalar(value, nested).filter(|k| !k.contains(char::is_whitespace))
                }
                "duration_ms" => {
                    info.duration = scalar(value, nested)
                        .and_then(|v| parse_seconds(&v))
                        .map(|ms| ms / 1000.0)
                }
                "at" if value.is_empty() => {
                    for n in nested {
                        if let Some((k, v)) = n.trim().split_once(':') {
                            let v = unquote(v.trim());
                            match k.trim() {
                                "file" if !v.is_empty() => info.file = Some(v),
                                "line" => info.line = v.parse().ok(),
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        info
    }
}

/// The value of a scalar: inline (plain or quoted) or a `|` / `>` block.
fn scalar(value: &str, nested: &[&str]) -> Option<String> {
    if value.starts_with('|') || value.starts_with('>') {
        let base = nested
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| indent_of(l))
            .min()
            .unwrap_or(0);
        let text: Vec<&str> = nested.iter().map(|l| l.get(base..).unwrap_or("")).collect();
        return trim_text(&text.join("\n"));
    }
    let v = unquote(value);
    (!v.is_empty()).then_some(v)
}

fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].replace("''", "'");
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        return serde_json::from_str::<String>(v).unwrap_or_else(|_| v[1..v.len() - 1].into());
    }
    v.to_string()
}

// ---------------------------------------------------------------------------------------------
// Parser state.
// ---------------------------------------------------------------------------------------------

/// A test point waiting for its YAML block and diagnostic comments.
struct Pending {
    indent: usize,
    point: TestPoint,
    name: String,
    yaml: Option<Yaml>,
    yaml_open: bool,
    /// YAML may only start on the line right after the test point.
    yaml_allowed: bool,
    comments: CappedText,
}

/// A record whose classname is not known yet: `rel` are the subtest names below the unnamed
/// level that holds it.
struct Held {
    rel: Vec<String>,
    case: TestCase,
}

struct Level {
    indent: usize,
    name: Option<String>,
    /// The name came from `# Subtest:` or `{`: the parent's closing test point is still
    /// expected but needs no renaming.
    announced: bool,
    /// `ok 1 - name {` block: closed by `}`, no closing test point follows.
    block: bool,
    held: Vec<Held>,
    count: u64,
    plan: Option<(u64, bool)>,
    names: HashMap<String, u32>,
    /// A finished child subtest waiting for this level's next test point.
    awaiting: Option<Box<Level>>,
}

impl Level {
    fn new(indent: usize, name: Option<String>) -> Self {
        Level {
            indent,
            announced: name.is_some(),
            name,
            block: false,
            held: Vec::new(),
            count: 0,
            plan: None,
            names: HashMap::new(),
            awaiting: None,
        }
    }

    fn unique_name(&mut self, name: String) -> String {
        let n = self.names.entry(name.clone()).or_insert(0);
        *n = n.saturating_add(1);
        if *n == 1 {
            name
        } else {
            format!("{name} ({n})")
        }
    }
}

struct TapParser<'s, 'a> {
    sink: &'s mut Sink<'a>,
    levels: Vec<Level>,
    pending: Option<Pending>,
    /// `# Subtest: name` seen at this indentation, for the next deeper level.
    announced: Option<(usize, String)>,
    /// The next deeper level is the body of an `ok N - name {` block.
    block_next: bool,
    recognised: bool,
    bailed: Option<String>,
    report_duration: Option<f64>,
}

impl TapParser<'_, '_> {
    fn emit(&mut self, case: TestCase) -> Result<()> {
        (self.sink)(finish_case(case, Dialect::Other))
    }

    /// Names of levels `1..upto` (all known) as a classname path.
    fn path(&self, upto: usize) -> Vec<String> {
        self.levels
            .iter()
            .take(upto)
            .skip(1)
            .filter_map(|l| l.name.clone())
            .collect()
    }

    /// Sends a record to the sink, or holds it in the deepest level whose name is unknown.
    fn place(&mut self, rel: Vec<String>, mut case: TestCase) -> Result<()> {
        let unnamed = self
            .levels
            .iter()
            .rposition(|l| l.name.is_none())
            .filter(|&i| i > 0);
        match unnamed {
            Some(i) => {
                let mut below = self.path(self.levels.len());
                // `path` skips unnamed levels, so the names below `i` are the tail.
                let named_below = self.levels.len() - i - 1;
                let below = below.split_off(below.len().saturating_sub(named_below));
                let mut full = below;
                full.extend(rel);
                if let Some(level) = self.levels.get_mut(i) {
                    level.held.push(Held { rel: full, case });
                }
                Ok(())
            }
            None => {
                let mut suite = self.path(self.levels.len());
                suite.extend(rel);
                case.classname = (!suite.is_empty()).then(|| suite.join("::"));
                case.suite = suite;
                self.emit(case)
            }
        }
    }

    /// Gives a finished child level its name and releases what it held.
    fn resolve(&mut self, mut child: Level, name: Option<&str>) -> Result<()> {
        if let Some(awaiting) = child.awaiting.take() {
            self.resolve(*awaiting, None)?;
        }
        let name = child
            .name
            .clone()
            .or_else(|| name.map(str::to_string))
            .unwrap_or_else(|| UNNAMED_SUBTEST.to_string());
        for held in child.held {
            let mut rel = vec![name.clone()];
            rel.extend(held.rel);
            self.place(rel, held.case)?;
        }
        Ok(())
    }

    /// Resolves the finished child of the top level, if any, without a closing test point.
    fn resolve_awaiting(&mut self) -> Result<()> {
        if let Some(child) = self.levels.last_mut().and_then(|l| l.awaiting.take()) {
            self.resolve(*child, None)?;
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let case = build_case(p);
        self.place(Vec::new(), case)
    }

    /// Makes the level stack match a TAP line at `indent`.
    fn enter(&mut self, indent: usize) -> Result<()> {
        while self.levels.len() > 1 && self.levels.last().is_some_and(|l| l.indent > indent) {
            self.resolve_awaiting()?;
            let Some(done) = self.levels.pop() else { break };
            if done.block {
                self.resolve(done, None)?;
            } else if let Some(parent) = self.levels.last_mut() {
                if let Some(prev) = parent.awaiting.replace(Box::new(done)) {
                    self.resolve(*prev, None)?;
                }
            }
        }
        let top = self.levels.last().map_or(0, |l| l.indent);
        if indent > top && self.levels.len() < MAX_DEPTH {
            self.resolve_awaiting()?;
            let name = match self.announced.take() {
                Some((at, name)) if at <= indent && at >= top => Some(name),
                _ => None,
            };
            let mut level = Level::new(indent, name);
            level.block = std::mem::take(&mut self.block_next);
            self.levels.push(level);
        }
        Ok(())
    }

    fn line(&mut self, raw: &str) -> Result<()> {
        let indent = indent_of(raw);
        let content = raw.trim();

        // Inside a YAML block.
        if let Some(p) = self.pending.as_mut().filter(|p| p.yaml_open) {
            if content == "..." && indent > p.indent {
                p.yaml_open = false;
                return Ok(());
            }
            if content.is_empty() || indent > p.indent {
                if let Some(y) = p.yaml.as_mut() {
                    y.push(raw);
                }
                return Ok(());
            }
            // Dedent without `...`: the block was not closed.
            p.yaml_open = false;
        }
        if content.is_empty() {
            return Ok(());
        }
        if let Some(p) = self.pending.as_mut() {
            let allowed = std::mem::replace(&mut p.yaml_allowed, false);
            if allowed && content == "---" && indent > p.indent {
                p.yaml = Some(Yaml::default());
                p.yaml_open = true;
                return Ok(());
            }
        }

        match classify(content) {
            Line::Comment(text) => self.comment(indent, text),
            Line::Other | Line::Pragma => Ok(()),
            Line::Version => {
                self.recognised = true;
                Ok(())
            }
            Line::BlockEnd => {
                // `}` closes an `ok N - name {` block: pop the block level.
                self.flush_pending()?;
                self.block_next = false;
                if self
                    .levels
                    .last()
                    .is_some_and(|l| l.block && l.indent > indent)
                {
                    self.resolve_awaiting()?;
                    if let Some(done) = self.levels.pop() {
                        self.resolve(done, None)?;
                    }
                }
                Ok(())
            }
            Line::Subtest(name) => {
                self.flush_pending()?;
                self.enter(indent)?;
                self.resolve_awaiting()?;
                if name.is_empty() {
                    return Ok(());
                }
                let fresh = self.levels.len() > 1 && self.top_is_fresh();
                let Some(top) = self.levels.last_mut() else {
                    return Ok(());
                };
                if fresh && top.indent == indent && top.name.is_none() {
                    // TAP 14 style: the comment is at the child's indentation and names the
                    // level it opens.
                    top.name = Some(name);
                    top.announced = true;
                } else if !(fresh && top.indent == indent && top.name.as_ref() == Some(&name)) {
                    // node-tap style: at the parent's indentation, for the next deeper level.
                    self.announced = Some((indent, name));
                }
                Ok(())
            }
            Line::Plan { count, skip_all } => {
                self.recognised = true;
                self.flush_pending()?;
                self.enter(indent)?;
                self.resolve_awaiting()?;
                self.drop_stale_announcement(indent);
                if let Some(top) = self.levels.last_mut() {
                    top.plan = Some((count, skip_all));
                }
                Ok(())
            }
            Line::BailOut(reason) => {
                self.recognised = true;
                self.bailed = Some(reason);
                Ok(())
            }
            Line::Test(point) => {
                self.recognised = true;
                self.flush_pending()?;
                self.enter(indent)?;
                self.test_point(indent, point)
            }
        }
    }

    /// A `# Subtest:` announcement that no deeper level followed.
    fn drop_stale_announcement(&mut self, indent: usize) {
        if self.announced.as_ref().is_some_and(|(at, _)| *at >= indent) {
            self.announced = None;
        }
    }

    /// The top level has seen nothing yet (a `# Subtest:` comment may still name it).
    fn top_is_fresh(&self) -> bool {
        self.levels
            .last()
            .is_some_and(|l| l.count == 0 && l.plan.is_none() && l.held.is_empty())
    }

    fn comment(&mut self, indent: usize, text: String) -> Result<()> {
        if let Some(p) = self.pending.as_mut() {
            p.yaml_allowed = false;
            if !p.point.ok && indent == p.indent && !is_summary_comment(&text) {
                p.comments.push_line(&text);
                return Ok(());
            }
        }
        if self.levels.len() <= 1 && indent == 0 {
            if let Some(t) = text.trim().strip_prefix("time=") {
                if let Some(secs) = parse_time(t.trim()) {
                    self.report_duration = Some(secs);
                }
            }
        }
        Ok(())
    }

    fn test_point(&mut self, indent: usize, point: TestPoint) -> Result<()> {
        let child = self.levels.last_mut().and_then(|l| l.awaiting.take());
        let Some(level) = self.levels.last_mut() else {
            return Ok(());
        };
        level.count += 1;
        let number = point.number.unwrap_or(level.count);
        let base = if point.description.is_empty() {
            format!("test {number}")
        } else {
            point.description.clone()
        };
        let name = level.unique_name(base);
        if let Some(child) = child {
            self.resolve(*child, Some(&name))?;
        }
        self.drop_stale_announcement(indent);
        if point.opens_block {
            // The block's body follows, one level deeper, and ends with `}`.
            self.announced = Some((indent, name.clone()));
            self.block_next = true;
            self.pending = Some(new_pending(indent, point, name));
            return self.flush_pending();
        }
        self.pending = Some(new_pending(indent, point, name));
        Ok(())
    }

    fn finish(mut self) -> Result<ReportInfo> {
        self.flush_pending()?;
        while self.levels.len() > 1 {
            self.resolve_awaiting()?;
            if let Some(done) = self.levels.pop() {
                self.resolve(done, None)?;
            }
        }
        self.resolve_awaiting()?;
        if let Some(reason) = self.bailed.take() {
            let message = if reason.is_empty() {
                "Bail out! (the test run was aborted)".to_string()
            } else {
                format!("Bail out! {reason}")
            };
            self.emit(synthetic("[bail out]", message))?;
        } else if let Some(root) = self.levels.first() {
            if let Some((planned, skip_all)) = root.plan {
                let seen = root.count;
                if seen < planned && !skip_all {
                    let message = format!(
                        "planned {planned} tests but {seen} reported (the run crashed or the \
                         stream is truncated)"
                    );
                    self.emit(synthetic("[plan mismatch]", message))?;
                }
            }
        }
        Ok(ReportInfo {
            format: Some(Format::Tap),
            duration: self.report_duration,
            ..ReportInfo::default()
        })
    }
}

/// Run summaries (`# failed 4 of 10 tests`, `# tests 6`, `# skip: 2`, `# Looks like you...`).
fn is_summary_comment(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    if t.starts_with("looks like you") || t.starts_with("time=") {
        return true;
    }
    ["tests", "pass", "fail", "failed", "skip", "todo"]
        .iter()
        .any(|w| {
            t.strip_prefix(w).is_some_and(|rest| {
                let rest = rest.trim_start_matches(':').trim_start();
                rest.len() < t.len() - w.len() && rest.starts_with(|c: char| c.is_ascii_digit())
            })
        })
}

fn new_pending(indent: usize, point: TestPoint, name: String) -> Pending {
    Pending {
        indent,
        point,
        name,
        yaml: None,
        yaml_open: false,
        yaml_allowed: true,
        comments: CappedText::default(),
    }
}

fn synthetic(name: &str, message: String) -> TestCase {
    let attempt = Attempt {
        outcome: Outcome::Errored,
        duration: None,
        failure: Some(Failure {
            kind: None,
            message: Some(message),
            details: None,
        }),
        stdout: None,
        stderr: None,
    };
    TestCase {
        id: String::new(),
        classname: None,
        name: name.to_string(),
        file: None,
        line: None,
        suite: Vec::new(),
        outcome: Outcome::Errored,
        attempts: vec![attempt],
        properties: Vec::new(),
        timestamp: None,
    }
}

fn build_case(p: Pending) -> TestCase {
    let yaml = p.yaml.as_ref().map(Yaml::info).unwrap_or_default();
    let point = p.point;
    let mut properties = Vec::new();
    let outcome = match (&point.directive, point.ok) {
        (Directive::Skip(_), _) => Outcome::Skipped,
        (Directive::Todo(_), false) => Outcome::Skipped,
        (Directive::Todo(reason), true) => {
            properties.push(("tap.todo".to_string(), reason.clone()));
            Outcome::Passed
        }
        (Directive::None, true) => Outcome::Passed,
        (Directive::None, false) => Outcome::Failed,
    };
    if let Some(s) = &yaml.severity {
        properties.push(("tap.severity".to_string(), s.clone()));
    }
    let comments = p.comments.finish();
    let details = match (&yaml.text, &comments) {
        (Some(y), Some(c)) => Some(format!("{y}\n{c}")),
        (y, c) => y.clone().or_else(|| c.clone()),
    };
    let description = (!point.description.is_empty()).then(|| one_line(&point.description));
    let mut stdout = None;
    let failure = match (&point.directive, outcome) {
        (Directive::Skip(reason), _) => Some(Failure {
            kind: None,
            message: (!reason.is_empty()).then(|| reason.clone()),
            details: details.clone(),
        })
        .filter(|f| !f.is_empty()),
        (Directive::Todo(reason), Outcome::Skipped) => Some(Failure {
            kind: yaml.kind.clone(),
            message: Some(if reason.is_empty() {
                "TODO".to_string()
            } else {
                format!("TODO {reason}")
            }),
            details: details.clone(),
        }),
        (_, Outcome::Failed) => Some(Failure {
            kind: yaml.kind.clone(),
            message: yaml
                .message
                .clone()
                .or(description)
                .or_else(|| comments.as_deref().map(one_line)),
            details: details.clone(),
        }),
        _ => {
            stdout = details.clone();
            None
        }
    };
    let attempt = Attempt {
        outcome,
        duration: point.time.or(yaml.duration),
        failure,
        stdout,
        stderr: None,
    };
    TestCase {
        id: String::new(),
        classname: None,
        name: p.name,
        file: yaml.file,
        line: yaml.line,
        suite: Vec::new(),
        outcome,
        attempts: vec![attempt],
        properties,
        timestamp: None,
    }
}

pub(crate) fn parse<R: BufRead>(input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    let mut lines = LineReader::new(input);
    let mut p = TapParser {
        sink,
        levels: vec![Level::new(0, None)],
        pending: None,
        announced: None,
        block_next: false,
        recognised: false,
        bailed: None,
        report_duration: None,
    };
    while let Some(line) = lines.next_line()? {
        p.line(&line)?;
        if p.bailed.is_some() {
            break;
        }
    }
    if !p.recognised {
        let what = if lines.line_no() == 0 {
            "empty input"
        } else {
            "not a TAP stream"
        };
        return Err(Error::parse(format!(
            "{what}: no TAP version line, plan (1..N), test point (ok / not ok) or Bail out! \
             found"
        )));
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    fn parse_str(s: &str) -> (ReportInfo, Vec<TestCase>) {
        collect_bytes(s.as_bytes(), Some(Format::Tap)).unwrap()
    }

    fn outcomes(cases: &[TestCase]) -> Vec<(String, Outcome)> {
        cases.iter().map(|c| (c.id.clone(), c.outcome)).collect()
    }

    fn message(c: &TestCase) -> Option<&str> {
        c.attempts[0].failure.as_ref()?.message.as_deref()
    }

    #[test]
    fn outcome_mapping() {
        let (info, cases) = parse_str(
            "TAP version 13\n1..8\nok 1 - passes\nnot ok 2 - fails\nok 3 - skipped # SKIP no db\n\
             not ok 4 - todo # TODO later\nok 5 - bonus # todo fixed?\nok 6 # skip\n\
             not ok 7 - escaped \\# hash\nok 8 - issue #12 is fine\n",
        );
        assert_eq!(info.format, Some(Format::Tap));
        assert_eq!(
            outcomes(&cases),
            vec![
                ("passes".into(), Outcome::Passed),
                ("fails".into(), Outcome::Failed),
                ("skipped".into(), Outcome::Skipped),
                ("todo".into(), Outcome::Skipped),
                ("bonus".into(), Outcome::Passed),
                ("test 6".into(), Outcome::Skipped),
                ("escaped # hash".into(), Outcome::Failed),
                ("issue #12 is fine".into(), Outcome::Passed),
            ]
        );
        assert_eq!(message(&cases[1]), Some("fails"));
        assert_eq!(message(&cases[2]), Some("no db"));
        assert_eq!(message(&cases[3]), Some("TODO later"));
        assert_eq!(
            cases[4].properties,
            vec![("tap.todo".into(), "fixed?".into())]
        );
        assert!(cases[5].attempts[0].failure.is_none());
    }

    #[test]
    fn creative_test_lines() {
        let (_, cases) = parse_str(
            "ok 1 - description 1\nok 2-description 2\nok 3 description 3\nok - no number 4\n\
             ok-no number 5\nok no number 6\nnot ok-no number 7\nok\nok 15-# skip skip 15\n\
             okay this is not a test\nnot okay either\n",
        );
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "description 1",
                "description 2",
                "description 3",
                "no number 4",
                "no number 5",
                "no number 6",
                "no number 7",
                "test 8",
                "test 15"
            ]
        );
        assert_eq!(cases[8].outcome, Outcome::Skipped);
        assert_eq!(message(&cases[8]), Some("skip 15"));
    }

    #[test]
    fn yaml_diagnostics() {
        let (_, cases) = parse_str(
            "TAP version 13\nnot ok 1 - pinged quartz\n  ---\n  message: 'timeout ''x'''\n  \
             severity: fail\n  duration_ms: 1500\n  type: TimeoutError\n  at:\n    file: test.js\n    \
             line: 8\n  stack: |\n    one\n    two\n  ...\nok 2 - fine\n  ---\n  data: 1\n  ...\n1..2\n",
        );
        assert_eq!(cases.len(), 2);
        let c = &cases[0];
        let f = c.attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("timeout 'x'"));
        assert_eq!(f.kind.as_deref(), Some("TimeoutError"));
        assert!(
            f.details
                .as_deref()
                .unwrap()
                .contains("stack: |\n  one\n  two")
        );
        assert_eq!(c.duration(), Some(1.5));
        assert_eq!((c.file.as_deref(), c.line), (Some("test.js"), Some(8)));
        assert_eq!(c.properties, vec![("tap.severity".into(), "fail".into())]);
        assert_eq!(cases[1].attempts[0].stdout.as_deref(), Some("data: 1"));
    }

    #[test]
    fn diagnostics_comments_after_a_failure() {
        let (_, cases) = parse_str(
            "1..2\nnot ok 1 - first\n#   Failed test 'first'\n#   at t/a.t line 5.\n\
             ok 2 - second\n# Looks like you failed 1 test of 2.\n",
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("first"));
        assert_eq!(
            f.details.as_deref(),
            Some("Failed test 'first'\n  at t/a.t line 5.")
        );
        assert!(cases[1].attempts[0].stdout.is_none());
    }

    #[test]
    fn node_tap_subtests() {
        let input = "TAP version 13\n# Subtest: outer\n    # Subtest: inner\n        1..2\n        \
                     ok 1 - should be equal\n        not ok 2 - should be equal\n          ---\n          \
                     at:\n            file: t.js\n            line: 3\n          ...\n    \
                     not ok 1 - inner # time=3.5ms\n    1..1\nnot ok 1 - outer # time=10ms\n\
                     ok 2 - top\n1..2\n# time=20.5ms\n";
        let (info, cases) = parse_str(input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("outer::inner::should be equal".into(), Outcome::Passed),
                ("outer::inner::should be equal (2)".into(), Outcome::Failed),
                ("outer::inner".into(), Outcome::Failed),
                ("outer".into(), Outcome::Failed),
                ("top".into(), Outcome::Passed),
            ]
        );
        assert_eq!(
            cases[1].suite,
            vec!["outer".to_string(), "inner".to_string()]
        );
        assert_eq!(cases[1].classname.as_deref(), Some("outer::inner"));
        assert_eq!(cases[1].line, Some(3));
        assert_eq!(cases[2].duration(), Some(0.0035));
        assert_eq!(cases[3].duration(), Some(0.01));
        assert_eq!(info.duration, Some(0.0205));
    }

    #[test]
    fn tap14_subtests_without_announcement_are_named_by_the_parent_line() {
        let input = "TAP version 14\n    1..2\n    ok 1 - a\n        ok 1 - deep\n        1..1\n    \
                     ok 2 - middle\nok 1 - parent\n    ok 1 - orphan\n1..2\nok 2 - last\n";
        let (_, cases) = parse_str(input);
        let mut ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "[subtest]::orphan",
                "last",
                "parent",
                "parent::a",
                "parent::middle",
                "parent::middle::deep",
            ]
        );
    }

    #[test]
    fn tap14_brace_blocks() {
        let input =
            "TAP version 14\nok 1 - block {\n    ok 1 - inside\n    1..1\n}\nok 2 - after\n1..2\n";
        let (_, cases) = parse_str(input);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("block".into(), Outcome::Passed),
                ("block::inside".into(), Outcome::Passed),
                ("after".into(), Outcome::Passed),
            ]
        );
    }

    #[test]
    fn bail_out_stops_the_stream() {
        let (_, cases) = parse_str(
            "TAP version 13\n1..573\nnot ok 1 - database handle\nBail out! Couldn't connect.\nok 2 - never\n",
        );
        assert_eq!(
            outcomes(&cases),
            vec![
                ("database handle".into(), Outcome::Failed),
                ("[bail out]".into(), Outcome::Errored),
            ]
        );
        assert_eq!(message(&cases[1]), Some("Bail out! Couldn't connect."));
    }

    #[test]
    fn plans() {
        let (_, cases) = parse_str("TAP version 13\n1..0 # skip because no translator\n");
        assert!(cases.is_empty());
        let (_, cases) = parse_str("ok 1\nok 2\n1..2\n");
        assert_eq!(cases.len(), 2);
        let (_, cases) = parse_str("1..1\nok 1\nok 2\n");
        assert_eq!(cases.len(), 2);
        let (_, cases) = parse_str("1..3\nok 1\nok 2\n");
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[2].name, "[plan mismatch]");
        assert_eq!(
            message(&cases[2]),
            Some("planned 3 tests but 2 reported (the run crashed or the stream is truncated)")
        );
    }

    #[test]
    fn unterminated_yaml_block_and_truncation() {
        let (_, cases) = parse_str("not ok 1 - a\n  ---\n  message: boom\nok 2 - b\n");
        assert_eq!(message(&cases[0]), Some("boom"));
        assert_eq!(cases[1].outcome, Outcome::Passed);
        let (_, cases) = parse_str("not ok 1 - a\n  ---\n  message: bo");
        assert_eq!(message(&cases[0]), Some("bo"));
    }

    #[test]
    fn sniffing() {
        assert!(sniff("TAP version 14\n"));
        assert!(sniff("# comment\n1..3\n"));
        assert!(sniff("ok 1 - a\n"));
        assert!(sniff("\n# Subtest: x\n    1..1\n"));
        assert!(!sniff("okay\n"));
        assert!(!sniff("{\"a\": 1}\n"));
        assert!(!sniff("# only comments\n"));
        assert!(!sniff("=== RUN   TestA\n"));
    }

    #[test]
    fn nothing_recognisable_is_an_error() {
        let err = collect_bytes(b"hello\n# comment\n", Some(Format::Tap)).unwrap_err();
        assert!(err.to_string().contains("not a TAP stream"), "{err}");
        let err = collect_bytes(b"", Some(Format::Tap)).unwrap_err();
        assert!(err.to_string().contains("empty input"), "{err}");
    }

    #[test]
    fn deep_nesting_is_capped() {
        let mut input = String::new();
        for i in 0..200 {
            input.push_str(&" ".repeat(i * 4));
            input.push_str("ok 1 - x\n");
        }
        input.push_str("ok 2 - end\n");
        let (_, cases) = parse_str(&input);
        assert_eq!(cases.len(), 201);
        assert!(cases.iter().all(|c| c.suite.len() < MAX_DEPTH));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in [
            "ok 99999999999999999999999 - big\n",
            "1..99999999999999999999\n",
            "5..2\nok\n",
            "ok é\n  ---\n\t\t...\n",
            "    ok 1\n  ok 2\nok 3\n      }\n}\n{\nok {\n",
            "# Subtest: a\n# Subtest: b\n    # Subtest: c\n        ok\nBail out!",
            "not ok 1 # TODO\n# Failed\n# tests 3\n",
            "ok 1 - x # time=abcms # time=-1s # time=NaNms\n",
            "1..18446744073709551615\nok\n",
            "0..0\n",
        ] {
            let _ = collect_bytes(input.as_bytes(), Some(Format::Tap));
            let _ = sniff(input);
        }
    }
}
