//! libtest's human output: the merged stdout + stderr stream of `cargo test` (stable Rust has
//! no machine-readable test output), or of a test binary run by hand.
//!
//! This is not a report format of [`parse_reader`](crate::parse_reader): the runner adapter of
//! `cargo test` captures the stream and calls [`parse`] (see `flakehound_runner`'s `cargo`
//! module for how the command is changed so that the stream can be read).
//!
//! # What the stream looks like
//! cargo announces each test binary on stderr (`Running unittests src/lib.rs
//! (target/debug/deps/foo-0123abcd)`, `Running tests/it.rs (...)`, `Doc-tests foo`); the binary
//! then prints on stdout `running N tests`, one `test path ... ok|FAILED|ignored[, reason]` line
//! per test, a `failures:` section with one `---- path stdout ----` block per failed test, the
//! list of failed tests, and `test result: ...`. Both streams must be one pipe to keep that
//! order.
//!
//! # Test ids
//! Ids match the ones nextest's JUnit gives (classname = nextest's *binary id*, id
//! `binary-id::test::path`), so that `cargo test` and `cargo nextest run` histories agree:
//! `package` for a library's unit tests, `package::target` for an integration test,
//! `package::bin/name`, `package::bench/name`, `package::example/name` for the others
//! ([`binary_id`]). Doc tests, which nextest does not run, get `package::doctest` (their names,
//! `src/lib.rs - item (line 5)`, cannot clash with a Rust test path).
//!
//! The package and target of a binary are not in libtest's output, and neither the source path
//! cargo prints (relative to its package: every library is `src/lib.rs`) nor the target name
//! (two packages of a workspace may both have `tests/cli.rs`) is unique in a workspace. The only
//! exact link is the executable's hashed file name: with `--message-format
//! json-render-diagnostics` cargo prints one JSON `compiler-artifact` line per built target on
//! stdout (package id, target kind and name, executable path), and the parser names each binary
//! from them ([`Binary::Known`]). A binary no such line explains is [`Binary::Unknown`], with the
//! crate name of its executable and the source path cargo printed, for the caller to name
//! otherwise ([`Parsed::name_binaries`], e.g. from `cargo metadata`); a binary left unnamed has
//! no classname and its tests' ids are the bare test paths (what the libtest JSON parser gives
//! for `cargo test`).
//!
//! # Records
//! One record per test result line (the ` - should panic` / ` - compile fail` mode suffix
//! dropped), plus the tests listed as failed without a result line. A test's
//! `---- name stdout ----` block is its attempt's stdout and, for a failure, the details; the
//! message, kind and source location come from the block (the first panic, refined by
//! libtest's `should_panic` notes; a test's `Error: ...`; a doc test's compile error). A doc
//! test's file and line are those in its name. A binary that ends without `test result:` (it
//! crashed) leaves its pending tests errored, or gives one errored `[crashed]` record when no
//! test was pending. The report duration is the sum of the binaries' `finished in` times.

use std::borrow::Cow;
use std::collections::HashMap;

use flakehound_model::{
    Attempt, Dialect, Failure, Outcome, TestCase, canonical_id, parse_seconds, trim_text,
};

use crate::gojson::one_line;

/// What the stream is the output of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A test run: result lines and failure blocks.
    Run,
    /// `-- --list --format terse`: `path: test` lines.
    List,
}

/// How a test binary is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binary {
    /// nextest's binary id.
    Known(String),
    /// Not explained by the stream: the crate name of the executable (`foo-0123abcd` →
    /// `foo`, or the `Doc-tests foo` name) and the source path cargo printed.
    Unknown {
        crate_name: String,
        src: Option<String>,
        doc: bool,
    },
    /// No name at all (output of a test binary run by hand, or naming failed).
    Nameless,
}

impl Binary {
    /// The binary id, when the binary is named.
    pub fn id(&self) -> Option<&str> {
        match self {
            Binary::Known(id) => Some(id),
            _ => None,
        }
    }
}

/// A test of a binary.
#[derive(Debug)]
struct Test {
    name: String,
    /// `None` while a result is pending (`--nocapture` with one thread prints the result
    /// after the test's own output).
    outcome: Option<Outcome>,
    reason: Option<String>,
    duration: Option<f64>,
    /// Range of the test's `---- name stdout ----` block in the stream's lines.
    block: Option<(usize, usize)>,
}

/// The output of one test binary.
#[derive(Debug)]
pub struct Section {
    binary: Binary,
    tests: Vec<Test>,
    index: HashMap<String, usize>,
    /// Names in the closing `failures:` list.
    failed: Vec<String>,
    /// Saw `test result:`.
    completed: bool,
    /// cargo's `process didn't exit successfully: ...` for this binary.
    crash: Option<String>,
    listed: Vec<String>,
}

impl Section {
    /// How the binary is named.
    pub fn binary(&self) -> &Binary {
        &self.binary
    }

    /// The test names of a listing ([`Mode::List`]), in order.
    pub fn listed(&self) -> &[String] {
        &self.listed
    }

    fn new(binary: Binary) -> Self {
        Section {
            binary,
            tests: Vec::new(),
            index: HashMap::new(),
            failed: Vec::new(),
            completed: false,
            crash: None,
            listed: Vec::new(),
        }
    }

    fn test_mut(&mut self, name: &str) -> &mut Test {
        let at = *self.index.entry(name.to_string()).or_insert_with(|| {
            self.tests.push(Test {
                name: name.to_string(),
                outcome: None,
                reason: None,
                duration: None,
                block: None,
            });
            self.tests.len() - 1
        });
        &mut self.tests[at]
    }
}

/// A parsed stream: one section per test binary.
pub struct Parsed {
    sections: Vec<Section>,
    /// Sum of the binaries' `finished in` times.
    duration: Option<f64>,
    lines: Vec<String>,
    /// First `error:` line of cargo (a failed build), for the error message.
    first_error: Option<String>,
}

/// Parses a whole stream. Never fails: what is not recognised is skipped (see
/// [`Parsed::why_empty`] for a stream without any test binary).
pub fn parse(text: &str, mode: Mode) -> Parsed {
    let lines: Vec<String> = text
        .lines()
        .map(|l| strip_ansi(l.strip_suffix('\r').unwrap_or(l)).into_owned())
        .collect();
    let mut p = Parser {
        mode,
        lines: &lines,
        sections: Vec::new(),
        artifacts: HashMap::new(),
        libs: HashMap::new(),
        duration: None,
        first_error: None,
        in_failures: false,
        block: None,
    };
    p.run();
    let (sections, duration, first_error) = (p.sections, p.duration, p.first_error);
    Parsed {
        sections,
        duration,
        lines,
        first_error,
    }
}

struct Parser<'l> {
    mode: Mode,
    lines: &'l [String],
    sections: Vec<Section>,
    /// Test executable file name → binary id, from compiler-artifact lines.
    artifacts: HashMap<String, String>,
    /// Library crate name → package name (for `Doc-tests crate`).
    libs: HashMap<String, String>,
    duration: Option<f64>,
    first_error: Option<String>,
    /// Between the first `failures:`/`successes:` header and the closing list.
    in_failures: bool,
    /// The open block: test index and first line.
    block: Option<(usize, usize)>,
}

impl Parser<'_> {
    fn run(&mut self) {
        let mut i = 0;
        while i < self.lines.len() {
            i = self.line(i);
        }
        self.close_block(self.lines.len());
    }

    fn cur(&mut self) -> Option<&mut Section> {
        self.sections.last_mut()
    }

    fn start(&mut self, binary: Binary) {
        self.close_block(usize::MAX);
        self.in_failures = false;
        self.sections.push(Section::new(binary));
    }

    fn close_block(&mut self, end: usize) {
        if let Some((test, start)) = self.block.take() {
            let end = end.min(self.lines.len());
            if let Some(s) = self.sections.last_mut() {
                s.tests[test].block = Some((start, end.max(start)));
            }
        }
    }

    /// Handles line `i`; returns the index of the next line to handle.
    fn line(&mut self, i: usize) -> usize {
        let lines = self.lines;
        let line = lines[i].as_str();
        // Inside a failure block everything is the test's output, even what looks like
        // cargo's own lines (a test may print a nested cargo run).
        if self.block.is_some() {
            return self.in_block(i);
        }
        if line.starts_with("{\"reason\":") {
            self.artifact(line);
            return i + 1;
        }
        if let Some(binary) = self.status(line) {
            self.start(binary);
            return i + 1;
        }
        if self.first_error.is_none() && line.starts_with("error") {
            self.first_error = Some(line.to_string());
        }
        if self.sections.is_empty() {
            if running_line(line) {
                self.start(Binary::Nameless);
            }
            return i + 1;
        }
        let trimmed = line.trim();
        if running_line(line) {
            return i + 1;
        }
        if let Some(summary) = line.strip_prefix("test result: ") {
            self.finish(summary);
            return i + 1;
        }
        if trimmed == "failures:" || trimmed == "successes:" {
            if line == trimmed {
                if let Some(next) = self.name_list(i, false) {
                    return next;
                }
                self.in_failures = true;
            }
            return i + 1;
        }
        if self.in_failures {
            if let Some(test) = self.block_header(line) {
                self.block = Some((test, i + 1));
            }
            return i + 1;
        }
        if let Some(rest) = line.strip_prefix("test ") {
            self.result(rest);
            return i + 1;
        }
        if self.mode == Mode::List {
            let entry = line
                .strip_suffix(": test")
                .or_else(|| line.strip_suffix(": benchmark"));
            if let Some(name) = entry {
                if let Some(s) = self.cur() {
                    s.listed.push(name.to_string());
                }
                return i + 1;
            }
        }
        if let Some(msg) = trimmed.strip_prefix("process didn't exit successfully: ") {
            if let Some(s) = self.cur().filter(|s| !s.completed) {
                s.crash = Some(msg.to_string());
            }
            return i + 1;
        }
        // A pending result printed after the test's own output (`--nocapture`).
        if let Some((outcome, reason, duration)) = parse_result(trimmed) {
            if let Some(s) = self.cur() {
                if let Some(t) = s.tests.iter_mut().rev().find(|t| t.outcome.is_none()) {
                    t.outcome = Some(outcome);
                    t.reason = reason;
                    t.duration = duration;
                }
            }
        }
        i + 1
    }

    /// Inside a failure block: a line ends it only when it is the next block's header,
    /// the closing name list or (after that list) `test result:`; anything else, even a
    /// nested `cargo test` output, is the test's output.
    fn in_block(&mut self, i: usize) -> usize {
        let lines = self.lines;
        let line = lines[i].as_str();
        if let Some(test) = self.block_header(line) {
            self.close_block(i);
            self.block = Some((test, i + 1));
            return i + 1;
        }
        if line == "failures:" || line == "successes:" {
            if let Some(next) = self.name_list(i, true) {
                self.close_block(i);
                return next;
            }
        }
        i + 1
    }

    /// `---- name stdout ----` for a test of this binary that has no block yet.
    fn block_header(&self, line: &str) -> Option<usize> {
        let name = line
            .strip_prefix("---- ")?
            .strip_suffix(" stdout ----")
            .or_else(|| line.strip_prefix("---- ")?.strip_suffix(" stderr ----"))?;
        let s = self.sections.last()?;
        let &at = s.index.get(name)?;
        (s.tests[at].block.is_none()).then_some(at)
    }

    /// At a `failures:` / `successes:` line: when the lines after it are the closing list
    /// of names (indented by four spaces, followed by a blank line, `test result:` or the
    /// end), reads it and returns the index after it. Each name must be a failed (resp.
    /// passed) or still pending test of this binary; when `strict` is false (no block is
    /// open, e.g. `--nocapture` output) names without a result line are accepted too.
    /// Inside a block, that check is what tells the real list from a nested cargo output.
    fn name_list(&mut self, i: usize, strict: bool) -> Option<usize> {
        let failures = self.lines[i] == "failures:";
        let wanted = if failures {
            Outcome::Failed
        } else {
            Outcome::Passed
        };
        let s = self.sections.last()?;
        let mut j = i + 1;
        let mut names = Vec::new();
        while let Some(name) = self.lines.get(j).and_then(|l| l.strip_prefix("    ")) {
            let fits = match s.index.get(name) {
                Some(&t) => s.tests[t].outcome.is_none_or(|o| o == wanted),
                None => !strict,
            };
            if !fits || name.trim().is_empty() {
                return None;
            }
            names.push(name.to_string());
            j += 1;
        }
        let closes = self
            .lines
            .get(j)
            .is_none_or(|l| l.trim().is_empty() || l.starts_with("test result: "));
        if names.is_empty() || !closes {
            return None;
        }
        let s = self.sections.last_mut()?;
        if failures {
            s.failed.extend(names);
        }
        self.in_failures = false;
        Some(j)
    }

    fn finish(&mut self, summary: &str) {
        self.close_block(usize::MAX);
        self.in_failures = false;
        if let Some(d) = summary
            .rsplit_once("finished in ")
            .and_then(|(_, t)| t.trim().strip_suffix('s'))
            .and_then(parse_seconds)
        {
            *self.duration.get_or_insert(0.0) += d;
        }
        if let Some(s) = self.cur() {
            s.completed = true;
        }
    }

    /// `test NAME ... RESULT` (the `test ` prefix removed).
    fn result(&mut self, rest: &str) {
        let Some((name, result)) = rest.split_once(" ... ") else {
            return;
        };
        let name = strip_mode(name);
        let Some(s) = self.cur() else { return };
        let t = s.test_mut(name);
        if let Some((outcome, reason, duration)) = parse_result(result.trim()) {
            t.outcome = Some(outcome);
            t.reason = reason;
            t.duration = duration;
        }
    }

    /// A cargo `Running ...` / `Doc-tests ...` status line naming a test binary.
    fn status(&self, line: &str) -> Option<Binary> {
        if !line.starts_with(' ') {
            return None;
        }
        let t = line.trim_start();
        if let Some(krate) = t.strip_prefix("Doc-tests ") {
            let krate = krate.trim();
            if krate.is_empty() {
                return None;
            }
            return Some(match self.libs.get(krate) {
                Some(pkg) => Binary::Known(format!("{pkg}::doctest")),
                None => Binary::Unknown {
                    crate_name: krate.to_string(),
                    src: None,
                    doc: true,
                },
            });
        }
        let what = t.strip_prefix("Running ")?;
        let (src, exe) = if let Some(cmd) = what.strip_prefix('`') {
            // `cargo test -v`: Running `/path/to/foo-0123abcd --exact name`.
            let cmd = cmd.strip_suffix('`').unwrap_or(cmd);
            let exe = cmd.split(' ').next()?.trim_matches(['\'', '"']);
            (None, exe)
        } else {
            let what = what.strip_suffix(')')?;
            let (src, exe) = what.rsplit_once(" (")?;
            (Some(src.strip_prefix("unittests ").unwrap_or(src)), exe)
        };
        let file = exe.rsplit(['/', '\\']).next()?;
        let file = file.strip_suffix(".exe").unwrap_or(file);
        if let Some(id) = self.artifacts.get(file) {
            return Some(Binary::Known(id.clone()));
        }
        let krate = match file.rsplit_once('-') {
            Some((k, hash)) if is_hash(hash) => k,
            // In verbose mode, a `Running` line without a hashed executable is a compiler
            // or build-script run, not a test binary.
            _ if src.is_none() => return None,
            _ => file,
        };
        Some(Binary::Unknown {
            crate_name: krate.to_string(),
            src: src.map(String::from),
            doc: false,
        })
    }

    /// A cargo JSON message: remembers test executables and libraries.
    fn artifact(&mut self, line: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return;
        };
        if v.get("reason").and_then(|r| r.as_str()) != Some("compiler-artifact") {
            return;
        }
        let Some(pkg) = v
            .get("package_id")
            .and_then(|p| p.as_str())
            .and_then(package_name)
        else {
            return;
        };
        let Some(target) = v.get("target") else {
            return;
        };
        let name = target.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let kind = target
            .get("kind")
            .and_then(|k| k.as_array())
            .and_then(|k| k.first())
            .and_then(|k| k.as_str())
            .unwrap_or("");
        if name.is_empty() || kind.is_empty() {
            return;
        }
        if is_lib_kind(kind) {
            self.libs
                .entry(name.replace('-', "_"))
                .or_insert_with(|| pkg.to_string());
        }
        let exe = v.get("executable").and_then(|e| e.as_str());
        if let Some(file) = exe.and_then(|e| e.rsplit(['/', '\\']).next()) {
            let file = file.strip_suffix(".exe").unwrap_or(file);
            self.artifacts
                .insert(file.to_string(), binary_id(pkg, kind, name));
        }
    }
}

/// `running 3 tests` / `running 1 test`.
fn running_line(line: &str) -> bool {
    line.strip_prefix("running ")
        .and_then(|r| r.strip_suffix(" tests").or_else(|| r.strip_suffix(" test")))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_hash(s: &str) -> bool {
    s.len() >= 8 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Drops libtest's ` - should panic` / ` - compile fail` / ` - compile` mode suffix.
fn strip_mode(name: &str) -> &str {
    for suffix in [" - should panic", " - compile fail", " - compile"] {
        if let Some(n) = name.strip_suffix(suffix) {
            return n;
        }
    }
    name
}

type ParsedResult = (Outcome, Option<String>, Option<f64>);

/// `ok`, `FAILED`, `ignored`, `ignored, reason`, `bench: ...`, each optionally followed by
/// `<0.001s>` (`--report-time`).
fn parse_result(s: &str) -> Option<ParsedResult> {
    let (word, time) = match s.rsplit_once(" <") {
        Some((w, t)) if t.ends_with("s>") => (w, t.strip_suffix("s>")),
        _ => (s, None),
    };
    let duration = time.and_then(parse_seconds);
    let (outcome, reason) = match word {
        "ok" => (Outcome::Passed, None),
        "FAILED" => (Outcome::Failed, None),
        "ignored" => (Outcome::Skipped, None),
        w if w.starts_with("ignored, ") => {
            (Outcome::Skipped, Some(w["ignored, ".len()..].to_string()))
        }
        w if w.starts_with("bench:") => (Outcome::Passed, None),
        _ => return None,
    };
    Some((outcome, reason, duration))
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final` and OSC `ESC ] ... BEL|ESC \`), in
/// case the user forces colours (`CARGO_TERM_COLOR=always`, `--color always`).
fn strip_ansi(line: &str) -> Cow<'_, str> {
    if !line.contains('\x1b') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// What a failure block tells: a one-line message, its kind and the source location.
#[derive(Debug, Default, PartialEq, Eq)]
struct Why {
    kind: Option<String>,
    message: Option<String>,
    file: Option<String>,
    line: Option<u32>,
}

/// Reads a failure block. In order of preference: the first panic (`thread 'x' panicked
/// at src/lib.rs:10:5:` + message, or before Rust 1.73 `thread 'x' panicked at 'message',
/// src/lib.rs:10:5`), refined by libtest's `should_panic` notes; the `Error: ...` of a test
/// returning `Err`; the compiler error of a doc test that did not compile; the first line.
fn why(block: &[String]) -> Why {
    let mut why = Why::default();
    let trimmed = || block.iter().map(|l| l.trim());
    for (i, line) in trimmed().enumerate() {
        let Some((at, inline)) = panic_line(line) else {
            continue;
        };
        why.kind = Some("panic".into());
        why.message = match inline {
            Some(msg) => Some(msg),
            None => trimmed()
                .skip(i + 1)
                .find(|l| !l.is_empty())
                .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
                .filter(|l| *l != "stack backtrace:")
                .map(one_line),
        };
        (why.file, why.line) = location(at);
        break;
    }
    for (i, line) in trimmed().enumerate() {
        if let Some(note) = line.strip_prefix("note: test did not panic as expected") {
            why.kind = Some("should_panic".into());
            why.message = Some("test did not panic as expected".into());
            if let Some(at) = note.trim().strip_prefix("at ") {
                (why.file, why.line) = location(at);
            }
        } else if line == "note: panic did not contain expected string" {
            why.kind = Some("should_panic".into());
            let details: Vec<&str> = trimmed()
                .skip(i + 1)
                .take_while(|l| {
                    l.starts_with("panic message:") || l.starts_with("expected substring:")
                })
                .collect();
            why.message = Some(if details.is_empty() {
                "panic did not contain expected string".into()
            } else {
                one_line(&format!(
                    "panic did not contain expected string ({})",
                    details.join(", ")
                ))
            });
        }
    }
    if why.message.is_some() {
        return why;
    }
    if let Some(err) = trimmed().find(|l| l.starts_with("Error: ")) {
        why.kind = Some("error".into());
        why.message = Some(one_line(err));
    } else if let Some(err) = trimmed()
        .any(|l| l == "Couldn't compile the test.")
        .then(|| trimmed().find(|l| l.starts_with("error[") || l.starts_with("error: ")))
        .flatten()
    {
        why.kind = Some("compile error".into());
        why.message = Some(one_line(err));
    } else {
        why.message = trimmed().find(|l| !l.is_empty()).map(one_line);
    }
    why
}

/// `thread 'name' [(id) ]panicked at LOCATION:` → (location, None);
/// `thread 'name' panicked at 'message', LOCATION` → (location, Some(message)).
fn panic_line(line: &str) -> Option<(&str, Option<String>)> {
    let rest = line.strip_prefix("thread '")?;
    let (_, after) = rest.split_once("' ")?;
    let at = after.find("panicked at ")?;
    let tail = &after[at + "panicked at ".len()..];
    if let Some(quoted) = tail.strip_prefix('\'') {
        let (msg, loc) = quoted.rsplit_once("', ")?;
        return Some((loc, Some(one_line(msg))));
    }
    Some((tail.strip_suffix(':').unwrap_or(tail), None))
}

/// `src/lib.rs:10:5` → file and line.
fn location(at: &str) -> (Option<String>, Option<u32>) {
    let mut parts = at.trim().rsplitn(3, ':');
    let (col, line, file) = (parts.next(), parts.next(), parts.next());
    match (file, line, col) {
        (Some(f), Some(l), Some(c))
            if !f.is_empty() && c.parse::<u32>().is_ok() && l.parse::<u32>().is_ok() =>
        {
            (Some(f.to_string()), l.parse().ok())
        }
        _ => (None, None),
    }
}

impl Parsed {
    /// The test binaries, in the order they ran.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The sum of the binaries' `finished in` times, when any was printed.
    pub fn duration(&self) -> Option<f64> {
        self.duration
    }

    /// Names the binaries the stream did not name ([`Binary::Unknown`]): `name` gets the crate
    /// name of the executable, the source path cargo printed and whether these are doc tests,
    /// and returns the binary id; a binary it cannot name becomes [`Binary::Nameless`].
    pub fn name_binaries(
        &mut self,
        mut name: impl FnMut(&str, Option<&str>, bool) -> Option<String>,
    ) {
        for section in &mut self.sections {
            if let Binary::Unknown {
                crate_name,
                src,
                doc,
            } = &section.binary
            {
                section.binary = match name(crate_name, src.as_deref(), *doc) {
                    Some(id) => Binary::Known(id),
                    None => Binary::Nameless,
                };
            }
        }
    }

    /// Why the stream holds no test binary at all (for an error message).
    pub fn why_empty(&self) -> String {
        match &self.first_error {
            Some(e) => format!("no test binary ran; cargo said: {e}"),
            None if self.lines.iter().all(|l| l.trim().is_empty()) => "the output is empty".into(),
            None => "no libtest output in it (no `running N tests` line)".into(),
        }
    }

    /// The records (see the module docs).
    pub fn into_cases(self) -> Vec<TestCase> {
        let mut cases = Vec::new();
        for s in &self.sections {
            let classname = s.binary.id();
            let mut crash_blamed = false;
            for t in &s.tests {
                let outcome = match t.outcome {
                    Some(o) => o,
                    None if !s.completed => {
                        crash_blamed = true;
                        Outcome::Errored
                    }
                    None if s.failed.contains(&t.name) => Outcome::Failed,
                    None => Outcome::Passed,
                };
                cases.push(self.case(classname, t, outcome, s));
            }
            // Listed as failed without a result line (e.g. terse output).
            for name in &s.failed {
                if !s.index.contains_key(name) {
                    let t = Test {
                        name: name.clone(),
                        outcome: Some(Outcome::Failed),
                        reason: None,
                        duration: None,
                        block: None,
                    };
                    cases.push(self.case(classname, &t, Outcome::Failed, s));
                }
            }
            if !s.completed && !crash_blamed && s.listed.is_empty() {
                // The binary died without naming a culprit (a test aborted the process,
                // a stack overflow, a missing shared library): one record says so, rather
                // than a run that looks clean.
                let message = match &s.crash {
                    Some(c) => format!("test binary crashed: {c}"),
                    None => "test binary ended without a `test result:` line".into(),
                };
                let mut attempt = Attempt::new(Outcome::Errored);
                attempt.failure = Some(Failure {
                    kind: Some("crash".into()),
                    message: Some(one_line(&message)),
                    details: None,
                });
                cases.push(TestCase {
                    id: canonical_id(Dialect::Other, classname, "[crashed]", None, None),
                    classname: classname.map(String::from),
                    name: "[crashed]".into(),
                    file: None,
                    line: None,
                    suite: classname.map(String::from).into_iter().collect(),
                    outcome: Outcome::Errored,
                    attempts: vec![attempt],
                    properties: Vec::new(),
                    timestamp: None,
                });
            }
        }
        cases
    }

    fn case(&self, classname: Option<&str>, t: &Test, outcome: Outcome, s: &Section) -> TestCase {
        let block = t.block.map(|(a, b)| &self.lines[a..b]).unwrap_or(&[]);
        let text = trim_text(&block.join("\n"));
        let mut attempt = Attempt::new(outcome);
        attempt.duration = t.duration;
        let mut file = None;
        let mut line = None;
        match outcome {
            Outcome::Failed | Outcome::Errored => {
                let why = why(block);
                file = why.file;
                line = why.line;
                let message = match (outcome, why.message) {
                    (Outcome::Errored, m) => Some(match m {
                        Some(m) => format!("no test result (the test binary crashed): {m}"),
                        None => match &s.crash {
                            Some(c) => one_line(&format!("no test result: {c}")),
                            None => "no test result (the test binary crashed)".into(),
                        },
                    }),
                    (_, m) => m,
                };
                let failure = Failure {
                    kind: why.kind,
                    message,
                    details: text.clone(),
                };
                attempt.failure = (!failure.is_empty()).then_some(failure);
            }
            Outcome::Skipped => {
                attempt.failure = t.reason.as_ref().map(|r| Failure {
                    message: Some(one_line(r)),
                    ..Failure::default()
                });
            }
            Outcome::Passed => {}
        }
        attempt.stdout = text;
        // A doc test's own file and line are in its name (its panic location is a
        // temporary file of rustdoc).
        if let Some((f, l)) = doc_test_location(&t.name) {
            file = Some(f.to_string());
            line = Some(l);
        }
        TestCase {
            id: canonical_id(Dialect::Other, classname, &t.name, None, None),
            classname: classname.map(String::from),
            name: t.name.clone(),
            file,
            line,
            suite: classname.map(String::from).into_iter().collect(),
            outcome,
            attempts: vec![attempt],
            properties: Vec::new(),
            timestamp: None,
        }
    }
}

/// nextest's binary id of a target (see the module docs): `kind` is the target's first kind
/// in cargo's JSON (`lib`, `bin`, `test`, ...).
pub fn binary_id(package: &str, kind: &str, target: &str) -> String {
    match kind {
        k if is_lib_kind(k) => package.to_string(),
        "test" => format!("{package}::{target}"),
        k => format!("{package}::{k}/{target}"),
    }
}

/// Whether a cargo target kind is a library's (whose unit tests and doc tests are the
/// package's own).
pub fn is_lib_kind(kind: &str) -> bool {
    matches!(
        kind,
        "lib" | "rlib" | "dylib" | "cdylib" | "staticlib" | "proc-macro"
    )
}

/// The package name in a cargo package id: `path+file:///x/foo#0.1.0` (name = last path
/// segment), `path+file:///x/y#foo@0.1.0`, `registry+https://...#foo@1.0.0`, or the old
/// `foo 0.1.0 (path+file:///x/foo)`.
pub fn package_name(id: &str) -> Option<&str> {
    if let Some((url, fragment)) = id.rsplit_once('#') {
        if let Some((name, _)) = fragment.split_once('@') {
            return Some(name);
        }
        if !fragment.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(fragment);
        }
        let path = url.split(['?']).next().unwrap_or(url);
        return path.rsplit('/').find(|s| !s.is_empty());
    }
    id.split_whitespace().next()
}

/// A doc test's file and line, from its name: `src/lib.rs - item (line 5)` →
/// `("src/lib.rs", 5)`.
pub fn doc_test_location(name: &str) -> Option<(&str, u32)> {
    let (file, rest) = name.split_once(" - ")?;
    let at = rest.rfind("(line ")?;
    let line = rest[at + 6..].split(')').next()?.trim().parse().ok()?;
    Some((file, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compiler-artifact line as cargo prints it (`reason` first).
    fn artifact(pkg_id: &str, kind: &str, name: &str, exe: Option<&str>) -> String {
        format!(
            r#"{{"reason":"compiler-artifact","package_id":{},"manifest_path":"/x/Cargo.toml","target":{{"kind":[{}],"crate_types":["lib"],"name":{},"src_path":"/x"}},"profile":{{"test":{}}},"features":[],"filenames":[],"executable":{},"fresh":true}}"#,
            serde_json::json!(pkg_id),
            serde_json::json!(kind),
            serde_json::json!(name),
            exe.is_some(),
            serde_json::json!(exe),
        )
    }

    /// Parses a stream without metadata fallback.
    fn cases(text: &str) -> Vec<TestCase> {
        parse(text, Mode::Run).into_cases()
    }

    fn outcomes(cases: &[TestCase]) -> Vec<(String, Outcome)> {
        cases.iter().map(|c| (c.id.clone(), c.outcome)).collect()
    }

    /// A real `cargo test --no-fail-fast --message-format json-render-diagnostics` stream
    /// (Rust 1.95), trimmed: lib unit tests, a bin, an integration test and doc tests.
    fn full_stream() -> String {
        let lib = artifact(
            "path+file:///tmp/p#my-pkg@0.1.0",
            "lib",
            "my_pkg",
            Some("/tmp/p/target/debug/deps/my_pkg-c93b59a92189d5d2"),
        );
        let rlib = artifact("path+file:///tmp/p#my-pkg@0.1.0", "lib", "my_pkg", None);
        let bin = artifact(
            "path+file:///tmp/p#my-pkg@0.1.0",
            "bin",
            "tool",
            Some("/tmp/p/target/debug/deps/tool-83ed23d4899bfe91"),
        );
        let it = artifact(
            "path+file:///tmp/p#my-pkg@0.1.0",
            "test",
            "it",
            Some("/tmp/p/target/debug/deps/it-6a64749ae52f1dfe"),
        );
        format!(
            "{rlib}\n{lib}\n{bin}\n{it}\n{}",
            r#"{"reason":"build-finished","success":true}
   Compiling my-pkg v0.1.0 (/tmp/p)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.61s
     Running unittests src/lib.rs (target/debug/deps/my_pkg-c93b59a92189d5d2)

running 9 tests
test tests::ignored_plain ... ignored
test tests::ignored_reason ... ignored, slow one
test tests::multiline ... FAILED
test tests::fails ... FAILED
test tests::passes ... ok
test tests::result_err ... FAILED
test tests::sp_none - should panic ... FAILED
test tests::sp_ok - should panic ... ok
test tests::sp_wrong - should panic ... FAILED

failures:

---- tests::multiline stdout ----

thread 'tests::multiline' (9220) panicked at src/lib.rs:37:22:
line one
line two
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- tests::fails stdout ----
some stdout
some stderr

thread 'tests::fails' (9219) panicked at src/lib.rs:20:69:
assertion `left == right` failed: math is broken
  left: 2
 right: 3
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/panicking.rs:689:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.

---- tests::result_err stdout ----
Error: "bad result"

---- tests::sp_none stdout ----
note: test did not panic as expected at src/lib.rs:35:8
---- tests::sp_wrong stdout ----

thread 'tests::sp_wrong' (9225) panicked at src/lib.rs:32:21:
bang
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
note: panic did not contain expected string
      panic message: "bang"
 expected substring: "boom"

failures:
    tests::fails
    tests::multiline
    tests::result_err
    tests::sp_none
    tests::sp_wrong

test result: FAILED. 2 passed; 5 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.13s

error: test failed, to rerun pass `--lib`
     Running unittests src/bin/tool.rs (target/debug/deps/tool-83ed23d4899bfe91)

running 1 test
test bin_test ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/it.rs (target/debug/deps/it-6a64749ae52f1dfe)

running 3 tests
test it_passes ... ok
test m::inner ... ok
test it_fails ... FAILED

failures:

---- it_fails stdout ----

thread 'it_fails' (9229) panicked at tests/it.rs:4:17:
assertion failed: false
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    it_fails

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s

error: test failed, to rerun pass `--test it`
   Doc-tests my_pkg

running 3 tests
test src/lib.rs - (line 2) ... ok
test src/lib.rs - noop (line 10) ... ok
test src/lib.rs - (line 5) ... FAILED

failures:

---- src/lib.rs - (line 5) stdout ----
Test executable failed (exit status: 101).

stderr:

thread 'main' (9274) panicked at /tmp/rustdoctestbbRi7f/doctest_bundle_2024.rs:14:1:
assertion `left == right` failed
  left: 2
 right: 3
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace



failures:
    src/lib.rs - (line 5)

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.27s

all doctests ran in 0.79s; merged doctests compilation took 0.52s
error: doctest failed, to rerun pass `--doc`
error: 3 targets failed:
    `--lib`
    `--test it`
    `--doc`
"#
        )
    }

    #[test]
    fn parses_a_full_run_with_ids_like_nextest() {
        let parsed = parse(&full_stream(), Mode::Run);
        assert!((parsed.duration.unwrap() - 0.50).abs() < 1e-9);
        let cases = parsed.into_cases();
        assert_eq!(
            outcomes(&cases),
            vec![
                ("my-pkg::tests::ignored_plain".into(), Outcome::Skipped),
                ("my-pkg::tests::ignored_reason".into(), Outcome::Skipped),
                ("my-pkg::tests::multiline".into(), Outcome::Failed),
                ("my-pkg::tests::fails".into(), Outcome::Failed),
                ("my-pkg::tests::passes".into(), Outcome::Passed),
                ("my-pkg::tests::result_err".into(), Outcome::Failed),
                ("my-pkg::tests::sp_none".into(), Outcome::Failed),
                ("my-pkg::tests::sp_ok".into(), Outcome::Passed),
                ("my-pkg::tests::sp_wrong".into(), Outcome::Failed),
                ("my-pkg::bin/tool::bin_test".into(), Outcome::Passed),
                ("my-pkg::it::it_passes".into(), Outcome::Passed),
                ("my-pkg::it::m::inner".into(), Outcome::Passed),
                ("my-pkg::it::it_fails".into(), Outcome::Failed),
                (
                    "my-pkg::doctest::src/lib.rs - (line 2)".into(),
                    Outcome::Passed
                ),
                (
                    "my-pkg::doctest::src/lib.rs - noop (line 10)".into(),
                    Outcome::Passed
                ),
                (
                    "my-pkg::doctest::src/lib.rs - (line 5)".into(),
                    Outcome::Failed
                ),
            ]
        );
        let by_id = |id: &str| cases.iter().find(|c| c.id == id).unwrap();
        let failure = |id: &str| by_id(id).attempts[0].failure.clone().unwrap();

        let fails = by_id("my-pkg::tests::fails");
        assert_eq!(fails.classname.as_deref(), Some("my-pkg"));
        assert_eq!(fails.name, "tests::fails");
        assert_eq!(fails.suite, vec!["my-pkg".to_string()]);
        assert_eq!(
            (fails.file.as_deref(), fails.line),
            (Some("src/lib.rs"), Some(20))
        );
        let f = failure("my-pkg::tests::fails");
        assert_eq!(f.kind.as_deref(), Some("panic"));
        assert_eq!(
            f.message.as_deref(),
            Some("assertion `left == right` failed: math is broken")
        );
        let details = f.details.unwrap();
        assert!(details.starts_with("some stdout\nsome stderr"), "{details}");
        assert!(details.contains(" right: 3"), "{details}");
        assert!(details.ends_with("verbose backtrace."), "{details}");
        assert_eq!(fails.attempts[0].stdout.as_deref(), Some(details.as_str()));

        assert_eq!(
            failure("my-pkg::tests::multiline").message.as_deref(),
            Some("line one")
        );
        let f = failure("my-pkg::tests::result_err");
        assert_eq!(
            (f.kind.as_deref(), f.message.as_deref()),
            (Some("error"), Some("Error: \"bad result\""))
        );
        let sp_none = by_id("my-pkg::tests::sp_none");
        assert_eq!(
            (sp_none.file.as_deref(), sp_none.line),
            (Some("src/lib.rs"), Some(35))
        );
        assert_eq!(
            failure("my-pkg::tests::sp_none").message.as_deref(),
            Some("test did not panic as expected")
        );
        let f = failure("my-pkg::tests::sp_wrong");
        assert_eq!(f.kind.as_deref(), Some("should_panic"));
        assert_eq!(
            f.message.as_deref(),
            Some(
                "panic did not contain expected string (panic message: \"bang\", \
                 expected substring: \"boom\")"
            )
        );
        assert_eq!(by_id("my-pkg::tests::sp_wrong").line, Some(32));
        assert_eq!(
            failure("my-pkg::tests::ignored_reason").message.as_deref(),
            Some("slow one")
        );
        assert!(
            by_id("my-pkg::tests::ignored_plain").attempts[0]
                .failure
                .is_none()
        );
        assert!(by_id("my-pkg::tests::passes").attempts[0].failure.is_none());

        let it = by_id("my-pkg::it::it_fails");
        assert_eq!(
            (it.file.as_deref(), it.line),
            (Some("tests/it.rs"), Some(4))
        );
        // The block ends before the closing list.
        let details = failure("my-pkg::it::it_fails").details.unwrap();
        assert!(!details.contains("failures:"), "{details}");

        let doc = by_id("my-pkg::doctest::src/lib.rs - (line 5)");
        assert_eq!(
            (doc.file.as_deref(), doc.line),
            (Some("src/lib.rs"), Some(5))
        );
        assert_eq!(
            failure("my-pkg::doctest::src/lib.rs - (line 5)")
                .message
                .as_deref(),
            Some("assertion `left == right` failed")
        );
    }

    #[test]
    fn old_panic_format_and_compile_errors() {
        let w = why(&argv_lines(&[
            "thread 'a::b' panicked at 'called `Option::unwrap()` on a `None` value', src/a.rs:7:9",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ]));
        assert_eq!(
            w.message.as_deref(),
            Some("called `Option::unwrap()` on a `None` value")
        );
        assert_eq!((w.file.as_deref(), w.line), (Some("src/a.rs"), Some(7)));

        let w = why(&argv_lines(&[
            "Couldn't compile the test.",
            "error[E0425]: cannot find value `x` in this scope",
        ]));
        assert_eq!(w.kind.as_deref(), Some("compile error"));
        assert_eq!(
            w.message.as_deref(),
            Some("error[E0425]: cannot find value `x` in this scope")
        );

        // A panic in a spawned thread, then the test's own panic: the first one tells.
        let w = why(&argv_lines(&[
            "thread '<unnamed>' panicked at src/w.rs:3:5:",
            "worker died",
            "thread 't' panicked at src/t.rs:9:1:",
            "join failed",
        ]));
        assert_eq!(
            (w.message.as_deref(), w.line),
            (Some("worker died"), Some(3))
        );
        let w = why(&argv_lines(&["", "just text"]));
        assert_eq!((w.kind, w.message.as_deref()), (None, Some("just text")));
        assert_eq!(why(&[]), Why::default());
    }

    fn argv_lines(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn nested_cargo_output_in_a_block_stays_in_the_block() {
        // A test that runs `cargo test` itself and fails, printing the nested output.
        let text = "     Running unittests src/lib.rs (target/debug/deps/outer-0123456789abcdef)

running 2 tests
test outer_fails ... FAILED
test outer_ok ... ok

failures:

---- outer_fails stdout ----
nested:
running 1 test
test inner ... FAILED

failures:

---- inner stdout ----
inner boom

failures:
    inner

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

thread 'outer_fails' panicked at src/lib.rs:5:5:
nested run failed

failures:
    outer_fails

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s
";
        let cases = cases(text);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("outer_fails".into(), Outcome::Failed),
                ("outer_ok".into(), Outcome::Passed)
            ]
        );
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("nested run failed"));
        assert!(f.details.as_ref().unwrap().contains("inner boom"));
    }

    #[test]
    fn unknown_binaries_keep_their_crate_for_the_fallback() {
        let text = "     Running unittests src/lib.rs (target/debug/deps/foo_bar-0123456789abcdef)

running 1 test
test t ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests foo_bar

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
     Running `/abs/target/debug/deps/it-0123456789abcdef --exact t`
     Running `rustc --crate-name x`
";
        let parsed = parse(text, Mode::Run);
        let bins: Vec<&Binary> = parsed.sections.iter().map(|s| &s.binary).collect();
        assert_eq!(
            bins,
            vec![
                &Binary::Unknown {
                    crate_name: "foo_bar".into(),
                    src: Some("src/lib.rs".into()),
                    doc: false
                },
                &Binary::Unknown {
                    crate_name: "foo_bar".into(),
                    src: None,
                    doc: true
                },
                &Binary::Unknown {
                    crate_name: "it".into(),
                    src: None,
                    doc: false
                },
            ]
        );
        // Without names, the id is the bare test path.
        assert_eq!(
            outcomes(&parse(text, Mode::Run).into_cases())[0],
            ("t".into(), Outcome::Passed)
        );
        // The caller names what it can; the rest stays nameless.
        let mut parsed = parsed;
        let mut asked = Vec::new();
        parsed.name_binaries(|krate, src, doc| {
            asked.push((krate.to_string(), src.map(String::from), doc));
            (krate == "foo_bar" && !doc).then(|| "foo-bar".to_string())
        });
        assert_eq!(asked.len(), 3);
        let bins: Vec<&Binary> = parsed.sections().iter().map(Section::binary).collect();
        assert_eq!(
            bins,
            vec![
                &Binary::Known("foo-bar".into()),
                &Binary::Nameless,
                &Binary::Nameless
            ]
        );
        assert_eq!(
            outcomes(&parsed.into_cases())[0],
            ("foo-bar::t".into(), Outcome::Passed)
        );
    }

    #[test]
    fn crashed_binary_and_pending_results() {
        let text = "     Running tests/crash.rs (target/debug/deps/crash-0123456789abcdef)

running 2 tests
test fine ... ok
error: test failed, to rerun pass `--test crash`

Caused by:
  process didn't exit successfully: `/t/crash-0123456789abcdef` (signal: 6, SIGABRT: process abort signal)
     Running tests/serial.rs (target/debug/deps/serial-0123456789abcdef)

running 2 tests
test a ... some output of a
ok
test b ... printing without newline
more output

failures:
    b

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
     Running tests/hang.rs (target/debug/deps/hang-0123456789abcdef)

running 1 test
test slow ... 
";
        let cases = cases(text);
        assert_eq!(
            outcomes(&cases),
            vec![
                ("fine".into(), Outcome::Passed),
                ("[crashed]".into(), Outcome::Errored),
                ("a".into(), Outcome::Passed),
                ("b".into(), Outcome::Failed),
                ("slow".into(), Outcome::Errored),
            ]
        );
        let crash = cases[1].attempts[0].failure.as_ref().unwrap();
        assert!(
            crash.message.as_ref().unwrap().contains("SIGABRT"),
            "{crash:?}"
        );
        assert_eq!(
            cases[4].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("no test result (the test binary crashed)")
        );
    }

    #[test]
    fn show_output_colours_and_report_time() {
        let text = "\
\x1b[0m\x1b[1m\x1b[92m     Running\x1b[0m unittests src/lib.rs (target/debug/deps/x-0123456789abcdef)

running 2 tests
test a ... \x1b[32mok\x1b[0m <0.250s>
test b ... ok

successes:

---- a stdout ----
hello from a

---- b stdout ----
hello from b


successes:
    a
    b

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.30s
";
        let cases = cases(text);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].attempts[0].duration, Some(0.25));
        assert_eq!(cases[0].attempts[0].stdout.as_deref(), Some("hello from a"));
        assert_eq!(cases[1].attempts[0].stdout.as_deref(), Some("hello from b"));
        assert!(cases.iter().all(|c| c.outcome == Outcome::Passed));
    }

    #[test]
    fn very_long_output_is_capped() {
        let mut text = String::from(
            "running 1 test\ntest big ... FAILED\n\nfailures:\n\n---- big stdout ----\nfirst line\n",
        );
        for i in 0..200_000 {
            text.push_str(&format!("noise line {i}\n"));
        }
        text.push_str(
            "thread 'big' panicked at src/lib.rs:1:1:\nthe end\n\nfailures:\n    big\n\n",
        );
        text.push_str("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s\n");
        let cases = cases(&text);
        assert_eq!(outcomes(&cases), vec![("big".into(), Outcome::Failed)]);
        let f = cases[0].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.message.as_deref(), Some("the end"));
        let details = f.details.as_ref().unwrap();
        assert!(details.len() < flakehound_model::MAX_TEXT + 200);
        assert!(details.starts_with("first line") && details.ends_with("the end"));
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            "",
            "\u{0}\u{1}\x1b[",
            "test  ... ",
            "running 1 test\ntest ... ok\n---- x stdout ----\nfailures:\n    \n",
            "     Running \n     Running (\n     Running `\n   Doc-tests \n",
            "{\"reason\":\"compiler-artifact\",\"package_id\":5}\n{\"reason\":",
            "failures:\nfailures:\n    x\ntest result: \nthread '",
            "thread 'x' panicked at ', :::\nthread 'x' panicked at",
        ] {
            let _ = parse(input, Mode::Run).into_cases();
            let _ = parse(input, Mode::List).into_cases();
            let _ = why(&input.lines().map(String::from).collect::<Vec<_>>());
        }
    }

    #[test]
    fn package_names_from_ids() {
        for (id, name) in [
            ("path+file:///tmp/probe/p#0.1.0", "p"),
            ("path+file:///w/crates/x#my-crate@0.1.0", "my-crate"),
            (
                "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
                "serde",
            ),
            ("git+https://github.com/a/b?branch=x#b@0.1.0", "b"),
            ("git+https://github.com/a/repo?branch=x#0.1.0", "repo"),
            ("foo 0.1.0 (path+file:///x/foo)", "foo"),
        ] {
            assert_eq!(package_name(id), Some(name), "{id}");
        }
        assert_eq!(binary_id("p", "proc-macro", "p"), "p");
        assert_eq!(binary_id("p", "example", "e"), "p::example/e");
        assert!(is_lib_kind("cdylib") && !is_lib_kind("bin"));
    }
}
