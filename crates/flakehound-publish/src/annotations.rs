//! GitHub Actions annotations (workflow commands) for a wrapped run, and where a test lives.
//!
//! Format decisions:
//! - One `::error` per failed test; one `::warning` per quarantined failure (naming reason,
//!   owner, expiry and issue), per flaky test, and per expired quarantine entry, in that order,
//!   so that a cap keeps the annotations that matter most.
//! - `file`/`line` come from [`locate`]; an annotation without a location has neither.
//! - Messages are the one-line failure message, then for failed tests the head of the last
//!   failure's details (at most 40 lines and 4 KiB; GitHub shows little more). Titles are at
//!   most 200 characters.
//! - Escaping follows the runner's rules: data `%` `\r` `\n` → `%25` `%0D` `%0A`; properties
//!   also `:` `,` → `%3A` `%2C`. ANSI sequences and control characters are removed first.
//! - The cap: at most `max` error/warning lines, then, if some were left out, one `::notice`
//!   saying how many (GitHub limits each annotation type separately, so the notice does not
//!   take the place of an error).

use crate::common::{
    clean, escape_chars, failed_attempts, first_failure_message, head_tail, last_failure,
    last_failure_message, passing_attempt, plural, quarantine_phrase, truncate_chars,
};
use flakehound_model::{RunStatus, TestCase, WrappedRun};

/// Lines of details kept in a failed test's annotation.
const DETAIL_LINES: usize = 40;
/// Bytes of details kept in a failed test's annotation.
const DETAIL_BYTES: usize = 4096;
/// Longest title, in characters.
const TITLE_CHARS: usize = 200;

/// GitHub workflow commands annotating the run: errors for failed tests, warnings for
/// quarantined failures, flaky tests and expired quarantine entries; at most `max` of them,
/// followed by a `::notice` line when some were left out.
pub fn github(run: &WrappedRun, max: usize) -> Vec<String> {
    let mut all: Vec<Annotation> = Vec::new();
    for t in run.tests.iter().filter(|t| t.status == RunStatus::Failed) {
        let c = &t.case;
        let n = c.attempts.len();
        let mut message = match last_failure_message(c) {
            Some(m) => format!("failed on {}: {m}", every(n)),
            None => format!("failed on {}", every(n)),
        };
        if let Some(d) = last_failure(c)
            .and_then(|a| a.failure.as_ref())
            .and_then(|f| f.details.as_deref())
        {
            let d = clean(d);
            let head: Vec<&str> = d.lines().take(DETAIL_LINES).collect();
            let head = head.join("\n");
            let head = head_tail(head.trim(), DETAIL_BYTES);
            if !head.is_empty() {
                message.push_str("\n\n");
                message.push_str(&head);
            }
        }
        all.push(Annotation {
            level: "error",
            location: locate(c),
            title: format!("Failed: {}", c.id),
            message,
        });
    }
    for t in run
        .tests
        .iter()
        .filter(|t| t.status == RunStatus::Quarantined)
    {
        let c = &t.case;
        let mut message = format!("failed on {} but is quarantined", every(c.attempts.len()));
        match &t.quarantine {
            Some(q) => {
                message.push_str(": ");
                message.push_str(&quarantine_phrase(q));
                if q.expired {
                    message
                        .push_str(". The quarantine is past its expiry date: renew or remove it");
                }
            }
            None => message.push_str(" (no quarantine details)"),
        }
        if let Some(m) = last_failure_message(c) {
            message.push_str(&format!("\nFailure: {m}"));
        }
        all.push(Annotation {
            level: "warning",
            location: locate(c),
            title: format!("Quarantined test failed: {}", c.id),
            message,
        });
    }
    for t in run.tests.iter().filter(|t| t.status == RunStatus::Flaky) {
        let c = &t.case;
        let n = c.attempts.len();
        let failed = failed_attempts(c).count();
        let mut message = match passing_attempt(c) {
            Some(k) => format!("passed on attempt {k} of {n}"),
            None => format!("passed on retry ({n} attempts)"),
        };
        message.push_str(&format!(
            " after {}",
            plural(failed, "failed attempt", "failed attempts")
        ));
        if let Some(m) = first_failure_message(c) {
            message.push_str(&format!(": {m}"));
        }
        all.push(Annotation {
            level: "warning",
            location: locate(c),
            title: format!("Flaky test: {}", c.id),
            message,
        });
    }
    for id in &run.quarantine_expired {
        let known = run
            .tests
            .iter()
            .find(|t| &t.case.id == id)
            .and_then(|t| t.quarantine.as_ref());
        let mut message = format!(
            "the quarantine entry of {id} is past its expiry date: fix the test and remove the \
             entry, or renew it"
        );
        if let Some(q) = known {
            message.push_str(&format!(". Entry: {}", quarantine_phrase(q)));
        }
        all.push(Annotation {
            level: "warning",
            location: None,
            title: format!("Quarantine expired: {id}"),
            message,
        });
    }

    let left_out = all.len().saturating_sub(max);
    let mut lines: Vec<String> = all.iter().take(max).map(Annotation::render).collect();
    if left_out > 0 {
        let errors = all.iter().skip(max).filter(|a| a.level == "error").count();
        let warnings = left_out - errors;
        let mut parts = Vec::new();
        if errors > 0 {
            parts.push(plural(errors, "error", "errors"));
        }
        if warnings > 0 {
            parts.push(plural(warnings, "warning", "warnings"));
        }
        lines.push(format!(
            "::notice title={}::{}",
            escape_property("flakehound"),
            escape_data(&format!(
                "{} left out ({}): see the step summary or the merged JUnit report",
                plural(left_out, "annotation", "annotations"),
                parts.join(", ")
            ))
        ));
    }
    lines
}

/// "every attempt" / "all 3 attempts".
fn every(n: usize) -> String {
    if n <= 1 {
        "its only attempt".into()
    } else {
        format!("all {n} attempts")
    }
}

struct Annotation {
    level: &'static str,
    location: Option<(String, u32)>,
    title: String,
    message: String,
}

impl Annotation {
    fn render(&self) -> String {
        let mut props = Vec::new();
        if let Some((file, line)) = &self.location {
            props.push(format!("file={}", escape_property(file)));
            props.push(format!("line={line}"));
        }
        let title = clean(&self.title);
        let title = title.lines().next().unwrap_or("");
        props.push(format!(
            "title={}",
            escape_property(&truncate_chars(title, TITLE_CHARS))
        ));
        format!(
            "::{} {}::{}",
            self.level,
            props.join(","),
            escape_data(&clean(&self.message))
        )
    }
}

/// Escapes a command's message (`%`, `\r`, `\n`).
pub(crate) fn escape_data(s: &str) -> String {
    escape_chars(s, &[('%', "%25"), ('\r', "%0D"), ('\n', "%0A")])
}

/// Escapes a command's property value (data escapes plus `:` and `,`).
pub(crate) fn escape_property(s: &str) -> String {
    escape_chars(
        s,
        &[
            ('%', "%25"),
            ('\r', "%0D"),
            ('\n', "%0A"),
            (':', "%3A"),
            (',', "%2C"),
        ],
    )
}

/// A source location found in a stack trace or failure text.
#[derive(Debug, Clone, PartialEq)]
struct Frame {
    path: String,
    line: u32,
    /// Declaring class of a JVM frame (`a.b.C` in `at a.b.C.m(C.java:12)`).
    class: Option<String>,
}

/// Where a test lives, as (file, line).
///
/// The test's own `file` and `line` when both are known. Otherwise the failure texts of its
/// failed attempts (last attempt first: details, message, stderr, stdout) are searched for
/// locations in the forms runners print:
/// - pytest `tests/test_x.py:12: AssertionError` and Python `File "x.py", line 12, in f`;
/// - Rust `panicked at src/lib.rs:10:5` (also the older `panicked at 'msg', src/lib.rs:10:5`);
/// - go `    x_test.go:12: message`;
/// - node/jest `at Object.<anonymous> (/path/x.test.js:12:5)` or `at /path/x.test.js:12:5`;
/// - JVM `at a.b.C.m(C.java:12)` (the file only as given: stack traces have no directory);
/// - .NET `at A.B() in /path/C.cs:line 12`.
///
/// A location inside the test's own file is preferred: its `file`, the path its pytest or jest
/// id starts with, or for JVM frames its class. Python tracebacks are read innermost first,
/// like the other languages' stacks. Frames in `node_modules`, node internals and the Rust
/// standard library are ignored. When nothing is found but the test's file is known, its
/// `line` or else line 1 is returned.
pub fn locate(case: &TestCase) -> Option<(String, u32)> {
    let own = own_file(case);
    let mut frames = Vec::new();
    for a in failed_attempts(case).rev() {
        let f = a.failure.as_ref();
        let texts = [
            f.and_then(|f| f.details.as_deref()),
            f.and_then(|f| f.message.as_deref()),
            a.stderr.as_deref(),
            a.stdout.as_deref(),
        ];
        for t in texts.into_iter().flatten() {
            frames.extend(frames_in(t));
        }
    }
    // The failing line in the test's own file beats the line the test is defined on.
    if let Some(own) = &own {
        if let Some(f) = frames.iter().find(|f| in_own_file(f, own, case)) {
            return Some((own.clone(), f.line));
        }
        if let Some(l) = case.line {
            return Some((own.clone(), l));
        }
    }
    // A JVM frame of the test's own class is its own file even when the file is unknown.
    if let Some(f) = frames
        .iter()
        .find(|f| class_matches(f, case.classname.as_deref()))
    {
        return Some((f.path.clone(), f.line));
    }
    if let Some(f) = frames.first() {
        return Some((f.path.clone(), f.line));
    }
    own.map(|f| (f, case.line.unwrap_or(1)))
}

/// The test's own file: its `file`, else the path a pytest (`x.py::...`) or jest
/// (`x.test.js › ...`) id starts with.
fn own_file(case: &TestCase) -> Option<String> {
    if let Some(f) = case
        .file
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        return Some(f.to_string());
    }
    if let Some((prefix, _)) = case.id.split_once("::") {
        if prefix.ends_with(".py") && !prefix.contains(char::is_whitespace) {
            return Some(prefix.to_string());
        }
    }
    if let Some((prefix, _)) = case.id.split_once(" › ") {
        let code = [".js", ".ts", ".jsx", ".tsx", ".mjs", ".cjs", ".mts", ".cts"];
        if code.iter().any(|e| prefix.ends_with(e)) && !prefix.contains(char::is_whitespace) {
            return Some(prefix.to_string());
        }
    }
    None
}

fn normalise(p: &str) -> String {
    let p = p.replace('\\', "/");
    let mut p = p.as_str();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.to_string()
}

fn same_file(a: &str, b: &str) -> bool {
    let (a, b) = (normalise(a), normalise(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

fn class_matches(f: &Frame, classname: Option<&str>) -> bool {
    match (&f.class, classname.map(str::trim)) {
        (Some(fc), Some(c)) if !c.is_empty() => {
            fc == c || fc.strip_prefix(c).is_some_and(|r| r.starts_with('$'))
        }
        _ => false,
    }
}

fn in_own_file(f: &Frame, own: &str, case: &TestCase) -> bool {
    same_file(&f.path, own) || class_matches(f, case.classname.as_deref())
}

/// Every location in `text`, innermost first.
fn frames_in(text: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut python = 0;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let found = rust_panic(line)
            .or_else(|| python_traceback(line).inspect(|_| python += 1))
            .or_else(|| at_frame(line))
            .or_else(|| suffix_location(line, ".py").inspect(|_| python += 1))
            .or_else(|| suffix_location(line, ".go"));
        if let Some(f) = found.filter(|f| f.line > 0 && !ignored(&f.path)) {
            frames.push(f);
        }
    }
    // Python prints the outermost frame first; everything else innermost first.
    if python > 0 && python == frames.len() {
        frames.reverse();
    }
    frames
}

fn ignored(path: &str) -> bool {
    path.contains("node_modules")
        || path.starts_with("node:")
        || path.starts_with("internal/")
        || path.starts_with("/rustc/")
        || path.contains("/.cargo/registry/")
}

/// `path:line` or `path:line:col`, the path being non-empty.
fn path_line_col(token: &str) -> Option<(String, u32)> {
    let token = token.strip_prefix("file://").unwrap_or(token);
    let (rest, last) = token.rsplit_once(':')?;
    let last: u32 = last.parse().ok()?;
    if let Some((path, line)) = rest.rsplit_once(':') {
        if let Ok(line) = line.parse::<u32>() {
            return (!path.is_empty()).then(|| (path.to_string(), line));
        }
    }
    (!rest.is_empty()).then(|| (rest.to_string(), last))
}

/// Rust: `thread 't' panicked at src/lib.rs:10:5:` or `panicked at 'msg', src/lib.rs:10:5`.
fn rust_panic(line: &str) -> Option<Frame> {
    let at = line.find("panicked at ")?;
    let mut rest = &line[at + "panicked at ".len()..];
    if rest.starts_with('\'') {
        let end = rest.rfind("', ")?;
        rest = &rest[end + 3..];
    }
    let token = rest.split_whitespace().next()?;
    let token = token.trim_end_matches([':', ',']);
    let (path, line) = path_line_col(token)?;
    Some(Frame {
        path,
        line,
        class: None,
    })
}

/// Python: `File "tests/test_x.py", line 12, in test_a`.
fn python_traceback(line: &str) -> Option<Frame> {
    let rest = line.strip_prefix("File \"")?;
    let (path, rest) = rest.split_once('"')?;
    let rest = rest.strip_prefix(", line ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Frame {
        path: path.to_string(),
        line: digits.parse().ok()?,
        class: None,
    })
}

/// `at ...` stack frames of node, the JVM and .NET.
fn at_frame(line: &str) -> Option<Frame> {
    let rest = line.strip_prefix("at ")?;
    // .NET: `at A.B.C() in /path/File.cs:line 12`.
    if let Some(i) = rest.rfind(" in ") {
        if let Some((path, n)) = rest[i + 4..].rsplit_once(":line ") {
            if let Ok(line) = n.trim().parse() {
                return Some(Frame {
                    path: path.to_string(),
                    line,
                    class: None,
                });
            }
        }
    }
    match (rest.rfind('('), rest.ends_with(')')) {
        (Some(open), true) => {
            let inner = &rest[open + 1..rest.len() - 1];
            let (path, line) = path_line_col(inner)?;
            // A JVM frame names only the file; the text before `(` is `class.method`.
            let class = if path.contains(['/', '\\']) {
                None
            } else {
                rest[..open]
                    .trim()
                    .rsplit_once('.')
                    .map(|(class, _method)| class.to_string())
            };
            Some(Frame { path, line, class })
        }
        _ => {
            let (path, line) = path_line_col(rest.trim())?;
            Some(Frame {
                path,
                line,
                class: None,
            })
        }
    }
}

/// `path.py:12: ...` (pytest) or `path.go:12: ...` (go), the path starting the line.
fn suffix_location(line: &str, ext: &str) -> Option<Frame> {
    let needle = format!("{ext}:");
    let end = line.find(&needle)? + ext.len();
    let path = &line[..end];
    if path.len() == ext.len() || path.contains(char::is_whitespace) || path.contains("://") {
        return None;
    }
    let rest = &line[end + 1..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = rest[digits.len()..].chars().next();
    // `x.go:12: msg`, `x.go:12 +0x1d` (panic traces), `x.py:12: Error`, or the line's end.
    if digits.is_empty() || !matches!(after, None | Some(':') | Some(' ')) {
        return None;
    }
    Some(Frame {
        path: path.to_string(),
        line: digits.parse().ok()?,
        class: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{attempt, case, sample_run, test};
    use flakehound_model::{Dialect, Outcome};

    fn failing(
        dialect: Dialect,
        classname: Option<&str>,
        name: &str,
        file: Option<&str>,
        details: &str,
    ) -> TestCase {
        case(
            dialect,
            classname,
            name,
            file,
            vec![attempt(Outcome::Failed, 1.0, Some(("", "", details)))],
        )
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape_data("50% done\r\nnext: a,b"),
            "50%25 done%0D%0Anext: a,b"
        );
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn annotations_for_every_kind_in_priority_order() {
        let lines = github(&sample_run(), 50);
        assert_eq!(lines.len(), 6);
        assert_eq!(
            lines[0],
            "::error file=tests/test_math.py,line=12,title=Failed%3A tests/test_math.py%3A%3ATestDiv%3A%3Atest_div::\
             failed on all 3 attempts: AssertionError: assert 1 == 2%0A%0Adef test_div():%0A>       \
             assert divide(1, 0) == 2%0AE       assert 1 == 2%0A%0Atests/test_math.py:12: AssertionError"
        );
        // Colour codes are gone, `%` is escaped, the panic location is found.
        assert!(lines[1].starts_with("::error file=src/evil.rs,line=7,title=Failed%3A evil|suite%3A%3Aweird <name> `tick` ]]> & red::"), "{}", lines[1]);
        assert!(lines[1].contains("pipe %25done%0A"), "{}", lines[1]);
        assert_eq!(
            lines[2],
            "::warning file=CartTest.java,line=57,title=Quarantined test failed%3A com.acme.CartTest%3A%3Acheckout::\
             failed on all 2 attempts but is quarantined: races on the shared DB (owner @team-cart, expired 2024-01-01, \
             issue https://github.com/acme/shop/issues/42). The quarantine is past its expiry date: renew or remove it\
             %0AFailure: java.sql.SQLException: database is locked"
        );
        assert_eq!(
            lines[3],
            "::warning file=cart_test.go,line=41,title=Flaky test%3A example.com/shop/cart%3A%3ATestCheckout/slow::\
             passed on attempt 2 of 2 after 1 failed attempt: timed out waiting for the cart"
        );
        assert!(lines[4].starts_with(
            "::warning title=Quarantine expired%3A com.acme.CartTest%3A%3Acheckout::"
        ));
        assert!(lines[4].ends_with(". Entry: races on the shared DB (owner @team-cart, expired 2024-01-01, issue https://github.com/acme/shop/issues/42)"), "{}", lines[4]);
        assert_eq!(
            lines[5],
            "::warning title=Quarantine expired%3A tests/test_old.py%3A%3Atest_gone::the quarantine entry of \
             tests/test_old.py::test_gone is past its expiry date: fix the test and remove the entry, or renew it"
        );
        // No raw line break can end a command early.
        assert!(lines.iter().all(|l| !l.contains('\n') && !l.contains('\r')));
    }

    #[test]
    fn cap_adds_a_notice() {
        let lines = github(&sample_run(), 2);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("::error ") && lines[1].starts_with("::error "));
        assert_eq!(
            lines[2],
            "::notice title=flakehound::4 annotations left out (4 warnings): see the step summary or the merged JUnit report"
        );
        let lines = github(&sample_run(), 0);
        assert_eq!(
            lines,
            vec![
                "::notice title=flakehound::6 annotations left out (2 errors, 4 warnings): see the step summary or the merged JUnit report"
            ]
        );
        assert!(github(&WrappedRun::default(), 10).is_empty());
    }

    #[test]
    fn locate_prefers_the_test_file() {
        // Known file and line win.
        let mut c = failing(
            Dialect::Pytest,
            Some("tests.test_x"),
            "test_a",
            Some("tests/test_x.py"),
            "",
        );
        c.line = Some(7);
        assert_eq!(locate(&c), Some(("tests/test_x.py".into(), 7)));

        // pytest: the frame in the test's own file, even though the helper frame is innermost.
        let pytest =
            "tests/test_x.py:12: in test_a\n    helper()\ntests/helpers.py:5: AssertionError";
        let c = failing(
            Dialect::Pytest,
            Some("tests.test_x"),
            "test_a",
            None,
            pytest,
        );
        assert_eq!(locate(&c), Some(("tests/test_x.py".into(), 12)));
        // Without a known file, the innermost location.
        let c = failing(Dialect::Other, None, "t", None, pytest);
        assert_eq!(locate(&c), Some(("tests/helpers.py".into(), 5)));

        // Python tracebacks.
        let tb = "Traceback (most recent call last):\n  File \"tests/test_y.py\", line 30, in test_b\n    run()\n  File \"app/run.py\", line 3, in run\n    raise ValueError\nValueError";
        let c = failing(Dialect::Other, None, "t", None, tb);
        assert_eq!(locate(&c), Some(("app/run.py".into(), 3)));
        let c = failing(Dialect::Pytest, None, "test_b", Some("tests/test_y.py"), tb);
        assert_eq!(locate(&c), Some(("tests/test_y.py".into(), 30)));
    }

    #[test]
    fn locate_reads_every_runner() {
        let at = |details: &str| locate(&failing(Dialect::Other, None, "t", None, details));
        for (details, want) in [
            // Rust, current and pre-1.73 panic messages.
            (
                "thread 'tests::x' panicked at src/lib.rs:10:5:\nassertion failed",
                Some(("src/lib.rs", 10)),
            ),
            (
                "thread 'x' panicked at 'boom, really', tests/it.rs:3:9\nnote: run with RUST_BACKTRACE",
                Some(("tests/it.rs", 3)),
            ),
            // go
            (
                "=== RUN TestX\n    x_test.go:12: got 1, want 2\n--- FAIL",
                Some(("x_test.go", 12)),
            ),
            (
                "goroutine 7 [running]:\n\t/home/u/pkg/x_test.go:40 +0x1d",
                Some(("/home/u/pkg/x_test.go", 40)),
            ),
            // jest / node, skipping node_modules and internals.
            (
                "Error: expect(received).toBe(expected)\n    at Object.<anonymous> (/repo/src/x.test.js:12:5)\n    at node:internal/process:1:1",
                Some(("/repo/src/x.test.js", 12)),
            ),
            (
                "Error\n    at fn (/repo/node_modules/jest/a.js:1:1)\n    at /repo/src/y.test.ts:8:3",
                Some(("/repo/src/y.test.ts", 8)),
            ),
            (
                "    at file:///repo/z.test.mjs:4:2",
                Some(("/repo/z.test.mjs", 4)),
            ),
            // Java: the file as given.
            (
                "java.lang.AssertionError\n\tat org.junit.Assert.fail(Assert.java:89)\n\tat a.b.CTest.m(CTest.java:12)",
                Some(("Assert.java", 89)),
            ),
            // .NET
            (
                "Assert.Equal() Failure\n   at Acme.Tests.CartTests.Adds() in /src/Acme.Tests/CartTests.cs:line 42",
                Some(("/src/Acme.Tests/CartTests.cs", 42)),
            ),
            // Nothing to find.
            ("just text: no location 12", None),
            ("", None),
            ("at :1:2\n x.go:0: zero line\n.py:3: no path", None),
        ] {
            let want = want.map(|(file, line): (&str, u32)| (file.to_string(), line));
            assert_eq!(at(details), want, "{details:?}");
        }
    }

    #[test]
    fn locate_uses_class_and_id() {
        // JVM: the frame of the test's own class, not the assertion library's.
        let java = "java.lang.AssertionError\n\tat org.junit.Assert.fail(Assert.java:89)\n\tat a.b.CTest$Inner.m(CTest.java:12)";
        let c = failing(Dialect::Other, Some("a.b.CTest"), "m", None, java);
        assert_eq!(locate(&c), Some(("CTest.java".into(), 12)));
        let c = failing(
            Dialect::Other,
            Some("a.b.CTest"),
            "m",
            Some("src/test/java/a/b/CTest.java"),
            java,
        );
        assert_eq!(
            locate(&c),
            Some(("src/test/java/a/b/CTest.java".into(), 12))
        );
        // jest: the path the id starts with, matched against an absolute frame.
        let mut c = failing(
            Dialect::Other,
            None,
            "t",
            None,
            "Error\n    at helper (/repo/src/util.js:3:1)\n    at Object.<anonymous> (/repo/src/x.test.js:9:5)",
        );
        c.id = "src/x.test.js › suite › t".into();
        assert_eq!(locate(&c), Some(("src/x.test.js".into(), 9)));
        // Known file without any location in the text: line 1 of the file.
        let c = failing(Dialect::Other, None, "t", Some("t.rb"), "no frames");
        assert_eq!(locate(&c), Some(("t.rb".into(), 1)));
        // Passing tests have no failure text to read.
        let c = test(
            case(
                Dialect::Other,
                None,
                "t",
                None,
                vec![attempt(Outcome::Passed, 0.1, None)],
            ),
            flakehound_model::RunStatus::Passed,
        );
        assert_eq!(locate(&c.case), None);
    }
}
