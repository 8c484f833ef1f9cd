//! Normalised test-result records shared by every flakehound crate.
//!
//! A parser turns one report file into a [`ReportInfo`] plus a stream of [`TestCase`]s: one per
//! test-case *record* in the file (one `<testcase>` element, one TAP line, one JSON test entry).
//! Each record carries one or more [`Attempt`]s in execution order: surefire/nextest
//! `flakyFailure`/`rerunFailure` elements, CTRF `retryAttempts` and similar become extra attempts
//! of the same record. Repeated records for the same test in one run (pytest-rerunfailures,
//! gradle) are separate records; the store numbers their attempts across records.

use serde::{Deserialize, Serialize};
use std::fmt;

mod category;
pub mod exit;
mod id;
mod run;
mod source;
mod wrapped;

pub use category::Category;
pub use id::{Dialect, canonical_id, pytest_path_from_classname};
pub use run::RunMeta;
pub use source::RunSource;
pub use wrapped::{QuarantineInfo, RunStatus, WrappedRun, WrappedTest};

/// The outcome of one attempt or one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Skipped,
    Passed,
    Failed,
    Errored,
}

impl Outcome {
    /// Severity used when one record holds several result elements: the most severe wins
    /// (error > failure > success > skipped), per the corpus counting rules.
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Skipped => 0,
            Outcome::Passed => 1,
            Outcome::Failed => 2,
            Outcome::Errored => 3,
        }
    }

    /// Inverse of [`Outcome::severity`]; unknown values (from a newer store) read as errored.
    pub fn from_severity(v: u8) -> Outcome {
        match v {
            0 => Outcome::Skipped,
            1 => Outcome::Passed,
            2 => Outcome::Failed,
            _ => Outcome::Errored,
        }
    }

    /// The more severe of two outcomes.
    pub fn worst(self, other: Outcome) -> Outcome {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Skipped => "skipped",
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "skipped" => Outcome::Skipped,
            "passed" => Outcome::Passed,
            "failed" => Outcome::Failed,
            "errored" => Outcome::Errored,
            _ => return None,
        })
    }

    /// Failed or errored.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an attempt failed, errored or was skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Exception/assertion type (`AssertionError`, `java.lang.NullPointerException`).
    pub kind: Option<String>,
    /// One-line message.
    pub message: Option<String>,
    /// Stack trace or long description, trimmed with [`trim_text`].
    pub details: Option<String>,
}

impl Failure {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.message.is_none() && self.details.is_none()
    }
}

/// One execution of a test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub outcome: Outcome,
    /// Seconds; `None` when absent or unparseable. Never negative.
    pub duration: Option<f64>,
    pub failure: Option<Failure>,
    /// Captured stdout, trimmed with [`trim_text`].
    pub stdout: Option<String>,
    /// Captured stderr, trimmed with [`trim_text`].
    pub stderr: Option<String>,
}

impl Attempt {
    /// First line of the failure message, else the failure kind.
    pub fn failure_line(&self) -> Option<String> {
        let f = self.failure.as_ref()?;
        let m = f.message.as_deref().or(f.kind.as_deref())?;
        Some(message_line(m).into_owned())
    }

    pub fn new(outcome: Outcome) -> Self {
        Attempt {
            outcome,
            duration: None,
            failure: None,
            stdout: None,
            stderr: None,
        }
    }
}

/// One test-case record of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// Canonical, human-readable id, stable across runs (see [`canonical_id`]).
    pub id: String,
    pub classname: Option<String>,
    pub name: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Names of the enclosing suites, outermost first.
    pub suite: Vec<String>,
    /// The record's outcome under the counting rules (most severe result element wins;
    /// flaky attempts before a pass leave it passed).
    pub outcome: Outcome,
    /// Every attempt in execution order; never empty. The record's own result is one of them.
    pub attempts: Vec<Attempt>,
    /// Properties of the test case itself. Suite-level properties belong to the whole report
    /// (see [`ReportInfo::properties`]): surefire alone writes dozens per suite, and copying them
    /// onto every record would multiply the store's size.
    pub properties: Vec<(String, String)>,
    /// Start time as written in the report (RFC 3339 or naive local time), if any.
    pub timestamp: Option<String>,
}

impl TestCase {
    /// Sum of attempt durations, if any attempt has one.
    pub fn duration(&self) -> Option<f64> {
        let mut total = None;
        for a in &self.attempts {
            if let Some(d) = a.duration {
                *total.get_or_insert(0.0) += d;
            }
        }
        total
    }
}

/// The report formats flakehound reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Junit,
    Nunit2,
    Nunit3,
    Xunit,
    Trx,
    Ctrf,
    GoJson,
    MochaJson,
    DartJson,
    RspecJson,
    Tap,
    LibtestJson,
    JestJson,
}

impl Format {
    pub const ALL: [Format; 13] = [
        Format::Junit,
        Format::Nunit2,
        Format::Nunit3,
        Format::Xunit,
        Format::Trx,
        Format::Ctrf,
        Format::GoJson,
        Format::MochaJson,
        Format::DartJson,
        Format::RspecJson,
        Format::Tap,
        Format::LibtestJson,
        Format::JestJson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Junit => "junit",
            Format::Nunit2 => "nunit2",
            Format::Nunit3 => "nunit3",
            Format::Xunit => "xunit",
            Format::Trx => "trx",
            Format::Ctrf => "ctrf",
            Format::GoJson => "go-json",
            Format::MochaJson => "mocha-json",
            Format::DartJson => "dart-json",
            Format::RspecJson => "rspec-json",
            Format::Tap => "tap",
            Format::LibtestJson => "libtest-json",
            Format::JestJson => "jest-json",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "junit-xml" | "xml" => "junit",
            "nunit" => "nunit3",
            "xunit2" | "xunit-v2" => "xunit",
            "go" | "gojson" | "go-test-json" => "go-json",
            "mocha" => "mocha-json",
            "dart" => "dart-json",
            "rspec" => "rspec-json",
            "libtest" | "nextest" | "nextest-json" | "cargo-json" => "libtest-json",
            "jest" | "vitest-json" => "jest-json",
            other => other,
        };
        Format::ALL.into_iter().find(|f| f.as_str() == alias)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a report says about itself, gathered while parsing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportInfo {
    pub format: Option<Format>,
    /// Producing tool when recognisable (`pytest`, `jest`, `surefire`, `go`, ...).
    pub tool: Option<String>,
    /// Earliest suite/run timestamp in the report, as written.
    pub timestamp: Option<String>,
    /// Host name recorded in the report.
    pub hostname: Option<String>,
    /// Total duration recorded for the whole report, seconds.
    pub duration: Option<f64>,
    /// Suite- and report-level properties, outermost first (capped at [`MAX_PROPERTIES`]).
    pub properties: Vec<(String, String)>,
    /// Counts a report states only in aggregate: a JUnit file whose suites carry `tests=`,
    /// `failures=`... attributes but contain no test-case element at all. They count in `parse`
    /// totals and are stored with the report, but produce no per-test records (there is no test
    /// to attach them to).
    pub aggregate: Option<Counts>,
}

/// Most report-level properties kept per report.
pub const MAX_PROPERTIES: usize = 256;

/// Counts of records per outcome, with the counting rules of the corpus README.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
}

impl Counts {
    pub fn add(&mut self, outcome: Outcome) {
        self.tests += 1;
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Errored => self.errored += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }
}

/// Longest text kept for details and captured output, in bytes. Longer text keeps its head and
/// tail (where the assertion and the final error usually are) around a marker.
pub const MAX_TEXT: usize = 8 * 1024;

/// Trims surrounding whitespace and caps `text` at [`MAX_TEXT`] bytes (head + tail), on char
/// boundaries. Returns `None` for blank text.
pub fn trim_text(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.len() <= MAX_TEXT {
        return Some(t.to_string());
    }
    let half = MAX_TEXT / 2;
    let mut head_end = half;
    while !t.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = t.len() - half;
    while !t.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let cut = tail_start - head_end;
    Some(format!(
        "{}\n[... {cut} bytes trimmed by flakehound ...]\n{}",
        &t[..head_end],
        &t[tail_start..]
    ))
}

/// Parses a duration in seconds as written by the many JUnit dialects: `1.5`, `0,288`
/// (decimal comma), `2,503.1` (thousands separator), `1.2s`. Negative, NaN and infinite values
/// become `None`.
pub fn parse_seconds(raw: &str) -> Option<f64> {
    if let Some(v) = plain_decimal(raw.as_bytes()) {
        return Some(v);
    }
    let s = raw.trim().trim_end_matches('s').trim();
    if s.is_empty() {
        return None;
    }
    let v: f64 = if !s.contains(',') {
        // The common case, without allocating.
        s.parse().ok()?
    } else if s.contains('.') {
        // Thousands separators: "2,503.1".
        s.replace(',', "").parse().ok()?
    } else {
        s.replace(',', ".").parse().ok()?
    };
    if v.is_finite() && v >= 0.0 {
        Some(v)
    } else {
        None
    }
}

/// `digits[.digits]` with at most 15 digits, the form nearly every report writes (`0.146`),
/// parsed without the general float parser (a fifth of a JUnit record's parse went there).
/// The result is exactly the standard parser's: the digits form an integer below 2^53 and the
/// divisor a power of ten up to 10^15, both exact in an `f64`, and one IEEE division of exact
/// operands is correctly rounded (the fast path of Clinger's algorithm, which `str::parse` also
/// takes for such input). Anything else returns `None` and takes the general path.
fn plain_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut point: Option<usize> = None;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'.' if point.is_none() && i > 0 && i + 1 < b.len() => point = Some(digits),
            _ => return None,
        }
    }
    if digits > 15 {
        return None;
    }
    let fraction = point.map_or(0, |p| digits - p);
    Some(mantissa as f64 / POW10[fraction])
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The fast path gives exactly what the general parser gives, for any digits and point.
        #[test]
        fn plain_decimals_parse_exactly(int in 0u64..1_000_000_000, frac in "[0-9]{0,9}", dot in proptest::bool::ANY) {
            let text = if dot && !frac.is_empty() { format!("{int}.{frac}") } else { format!("{int}{frac}") };
            let general: f64 = text.parse().unwrap();
            proptest::prop_assert_eq!(plain_decimal(text.as_bytes()).map(f64::to_bits), (text.len() <= 16 && text.bytes().filter(u8::is_ascii_digit).count() <= 15).then_some(general.to_bits()));
            proptest::prop_assert_eq!(parse_seconds(&text).map(f64::to_bits), Some(general.to_bits()));
        }
    }

    #[test]
    fn plain_decimal_refuses_what_it_cannot_parse_exactly() {
        for s in [
            "",
            ".5",
            "5.",
            "1.2.3",
            "1e3",
            " 1",
            "1,5",
            "-1",
            "1234567890123456",
            "0.1234567890123456",
        ] {
            assert_eq!(plain_decimal(s.as_bytes()), None, "{s:?}");
        }
        assert_eq!(plain_decimal(b"0.146"), Some(0.146));
        assert_eq!(plain_decimal(b"80.000"), Some(80.0));
        assert_eq!(plain_decimal(b"007"), Some(7.0));
    }

    #[test]
    fn severity_order() {
        assert_eq!(Outcome::Skipped.worst(Outcome::Passed), Outcome::Passed);
        assert_eq!(Outcome::Failed.worst(Outcome::Errored), Outcome::Errored);
        assert_eq!(Outcome::Errored.worst(Outcome::Failed), Outcome::Errored);
        assert_eq!(Outcome::Passed.worst(Outcome::Skipped), Outcome::Passed);
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("0,288"), Some(0.288));
        assert_eq!(parse_seconds("2,503.1"), Some(2503.1));
        assert_eq!(parse_seconds("1.5"), Some(1.5));
        assert_eq!(parse_seconds("-3"), None);
        assert_eq!(parse_seconds("NaN"), None);
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds("abc"), None);
    }

    #[test]
    fn trims_long_text_on_char_boundaries() {
        let long = "é".repeat(MAX_TEXT);
        let t = trim_text(&long).unwrap();
        assert!(t.len() < MAX_TEXT + 100);
        assert!(t.contains("trimmed by flakehound"));
        assert_eq!(trim_text("  \n "), None);
        assert_eq!(trim_text(" x "), Some("x".into()));
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
        assert_eq!(Format::parse("JUnit"), Some(Format::Junit));
        assert_eq!(Format::parse("nope"), None);
    }
}

/// The line a failure message is known by (in the store's evidence, clusters, hunts): its
/// first line, trimmed; for matcher output that puts the values on later lines (Jest and
/// Vitest: `Expected: < 97` / `Received: 133`), those lines are appended (`first — Expected:
/// < 97, Received: 133`), so that values can be compared across failures.
pub fn message_line(message: &str) -> std::borrow::Cow<'_, str> {
    let first = message.lines().next().unwrap_or_default().trim();
    let mut values: Vec<String> = Vec::new();
    for line in message.lines().skip(1).take(40) {
        let t = line.trim();
        let labelled = (t.starts_with("Expected") || t.starts_with("Received"))
            && t.split_once(':')
                .is_some_and(|(label, _)| label.len() <= 40);
        if labelled && values.len() < 4 {
            values.push(t.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    if values.is_empty() {
        std::borrow::Cow::Borrowed(first)
    } else {
        std::borrow::Cow::Owned(format!("{first} — {}", values.join(", ")))
    }
}

#[cfg(test)]
mod message_line_tests {
    use super::message_line;

    #[test]
    fn matcher_values_on_later_lines_join_the_first() {
        assert_eq!(
            message_line(
                "Error: expect(received).toBeLessThan(expected)\n\nExpected: < 97\nReceived:   133\n\n    at Object.<anonymous> (t.test.js:3:5)"
            ),
            "Error: expect(received).toBeLessThan(expected) — Expected: < 97, Received: 133"
        );
        assert_eq!(
            message_line("AssertionError: assert 133 < 97\n  where 133 = f()"),
            "AssertionError: assert 133 < 97"
        );
        assert_eq!(message_line("  boom  "), "boom");
        assert_eq!(message_line(""), "");
    }
}
