//! Streaming parsers for every mainstream test-report format.
//!
//! Every parser pushes [`TestCase`] records into a caller-supplied sink as it reads, so a report
//! of any size is processed in bounded memory and the caller (usually the store) can write records
//! in batches. Formats are auto-detected from content ([`detect`]), or forced by the caller.
//!
//! Parsers never panic on input: bad input is an [`Error::Parse`] with a reason and, when known,
//! a byte offset or line.

pub mod cap;
pub mod error;
pub mod libtest_human;
pub mod xml;

mod ctrf;
mod dart;
mod extsort;
mod gojson;
mod jest;
mod junit;
mod libtest;
mod mocha;
mod nunit;
mod rspec;
mod spill;
mod tap;
mod trx;
mod xunit;

pub use error::{Error, Result, line_of};
pub use flakehound_model::{Counts, Format, ReportInfo, TestCase};

use std::io::{BufRead, Cursor, Read};
use std::path::Path;

/// Receives records as they are parsed. Returning an error stops parsing.
pub type Sink<'a> = dyn FnMut(TestCase) -> Result<()> + 'a;

/// How many bytes of the input are looked at to detect its format.
const HEAD: usize = 16 * 1024;

/// What the first bytes of an input look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Xml,
    Json,
    Tap,
}

/// Guesses the family of an input from its first bytes. XML formats are told apart by their
/// root element while parsing (see [`parse_reader`]); JSON and TAP formats are decided here.
pub fn detect(head: &[u8]) -> std::result::Result<(Shape, Option<Format>), String> {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Ok((Shape::Xml, None));
    }
    let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(head);
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
        return Ok((Shape::Xml, None));
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err("empty file: no test report in it".into());
    }
    if trimmed.starts_with('<') {
        return Ok((Shape::Xml, None));
    }
    // JSON and JSON-lines formats; go's stream may start with plain build output.
    for (format, sniff) in [
        (Format::GoJson, gojson::sniff as fn(&str) -> bool),
        (Format::LibtestJson, libtest::sniff),
        (Format::DartJson, dart::sniff),
        (Format::Ctrf, ctrf::sniff),
        (Format::RspecJson, rspec::sniff),
        (Format::MochaJson, mocha::sniff),
        (Format::JestJson, jest::sniff),
    ] {
        if sniff(&text) {
            return Ok((Shape::Json, Some(format)));
        }
    }
    if tap::sniff(&text) {
        return Ok((Shape::Tap, Some(Format::Tap)));
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Err(
            "JSON, but not a known test-report format (expected CTRF, go test -json, Mocha, \
                    jest, Dart, RSpec or libtest JSON)"
                .into(),
        );
    }
    Err("not a test report: content is neither XML, JSON nor TAP".into())
}

/// Parses one report from `input`, pushing records to `sink`. `format` forces a parser;
/// otherwise the format is detected from content.
pub fn parse_reader<R: Read>(
    mut input: R,
    format: Option<Format>,
    sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    let mut head = Vec::with_capacity(HEAD);
    (&mut input).take(HEAD as u64).read_to_end(&mut head)?;
    let shape_format = match format {
        Some(
            f @ (Format::Junit | Format::Nunit2 | Format::Nunit3 | Format::Xunit | Format::Trx),
        ) => (Shape::Xml, Some(f)),
        Some(f) => (Shape::Json, Some(f)),
        None => detect(&head).map_err(Error::parse)?,
    };
    // Text formats do not expect a byte-order mark; XML handles its own.
    if shape_format.0 != Shape::Xml && head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        head.drain(..3);
    }
    let full = Cursor::new(head).chain(input);
    let mut info = match shape_format {
        // The XML reader buffers on its own.
        (Shape::Xml, forced) => parse_xml(full, forced, sink)?,
        // Long strings and lines are cut while streaming (see [`cap`]); whole-document JSON
        // may legitimately be one long line, line-oriented formats may not.
        (_, Some(f @ Format::Tap)) => parse_text(cap::LineCap::new(full), f, sink)?,
        (_, Some(f @ (Format::GoJson | Format::LibtestJson | Format::DartJson))) => {
            parse_text(cap::LineCap::new(cap::JsonCap::new(full)), f, sink)?
        }
        (_, Some(f)) => parse_text(cap::JsonCap::new(full), f, sink)?,
        (_, None) => return Err(Error::parse("unknown format")),
    };
    if info.format.is_none() {
        info.format = shape_format.1;
    }
    Ok(info)
}

fn parse_xml<R: Read>(input: R, forced: Option<Format>, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    let mut xml = xml::XmlReader::new(input);
    let root = xml.root()?;
    let format = match forced {
        Some(f) => f,
        None => match root.name.as_str() {
            "testsuites" | "testsuite" => Format::Junit,
            // A bare <test-suite> root (no test-run/test-results wrapper): the nunit parser tells
            // NUnit 2 from NUnit 3 by its attributes.
            "test-run" | "test-suite" => Format::Nunit3,
            "test-results" => Format::Nunit2,
            "assemblies" | "assembly" => Format::Xunit,
            "TestRun" => Format::Trx,
            other => {
                return Err(Error::at_byte(
                    format!(
                        "unknown root element <{other}>: not a test report (expected <testsuites>, \
                         <testsuite>, <test-run>, <test-results>, <assemblies> or <TestRun>)"
                    ),
                    xml.position(),
                ));
            }
        },
    };
    let mut info = match format {
        Format::Junit => junit::parse(&mut xml, root, sink)?,
        Format::Nunit2 | Format::Nunit3 => nunit::parse(&mut xml, root, sink)?,
        Format::Xunit => xunit::parse(&mut xml, root, sink)?,
        Format::Trx => trx::parse(&mut xml, root, sink)?,
        other => return Err(Error::parse(format!("{other} is not an XML format"))),
    };
    xml.finish()?;
    info.format.get_or_insert(format);
    Ok(info)
}

fn parse_text<R: BufRead>(input: R, format: Format, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    let mut info = match format {
        Format::Ctrf => ctrf::parse(input, sink)?,
        Format::GoJson => gojson::parse(input, sink)?,
        Format::MochaJson => mocha::parse(input, sink)?,
        Format::DartJson => dart::parse(input, sink)?,
        Format::RspecJson => rspec::parse(input, sink)?,
        Format::Tap => tap::parse(input, sink)?,
        Format::LibtestJson => libtest::parse(input, sink)?,
        Format::JestJson => jest::parse(input, sink)?,
        xml_format => parse_xml(input, Some(xml_format), sink)?,
    };
    info.format.get_or_insert(format);
    Ok(info)
}

/// Parses an in-memory report; errors carry a line number when the parser gave a byte offset.
pub fn parse_bytes(
    bytes: &[u8],
    format: Option<Format>,
    sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    parse_reader(bytes, format, sink).map_err(|e| e.with_line_from(bytes))
}

/// Parses a report file in streaming fashion; on error with a byte offset, the file is read
/// again up to that offset to report the line.
pub fn parse_file(path: &Path, format: Option<Format>, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    // Callers check inputs when they find them; checked again here because opening a FIFO
    // blocks and a device never ends, and the path may have changed since.
    if !std::fs::metadata(path)?.is_file() {
        return Err(Error::parse(
            "not a regular file (a FIFO or a device): refused, reading it could block or never end",
        ));
    }
    let file = std::fs::File::open(path)?;
    parse_reader(file, format, sink).map_err(|e| match e {
        Error::Parse {
            byte: Some(b),
            line: None,
            ..
        } => match read_prefix(path, b) {
            Ok(prefix) => e.with_line_from(&prefix),
            Err(_) => e,
        },
        e => e,
    })
}

fn read_prefix(path: &Path, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?.take(len).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Parses a report file and counts its records with the corpus counting rules.
pub fn count_file(path: &Path, format: Option<Format>) -> Result<(ReportInfo, Counts)> {
    let mut counts = Counts::default();
    let info = parse_file(path, format, &mut |case: TestCase| {
        counts.add(case.outcome);
        Ok(())
    })?;
    if let Some(agg) = &info.aggregate {
        counts.tests += agg.tests;
        counts.passed += agg.passed;
        counts.failed += agg.failed;
        counts.errored += agg.errored;
        counts.skipped += agg.skipped;
    }
    Ok((info, counts))
}

/// Repeated records of one test in one report read as retries, the way the JUnit conventions
/// of the common CI report actions read them (several `<testcase>` elements with the same
/// classname and name are one test run several times).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retries {
    /// Distinct tests (records grouped by canonical id). A record with neither name nor
    /// classname is a test of its own; a report stating only aggregate counts adds its `tests`.
    pub tests: u64,
    /// Attempts beyond each test's first: repeated records, and retry elements inside a record
    /// (`flakyFailure`, `rerunFailure`, …).
    pub retries: u64,
    /// Distinct tests with both a passing and a failing (or erroring) attempt.
    pub flaky: u64,
}

/// Memory held by the grouping of records into tests before it spills to temporary files.
const RETRY_SORT_BUDGET: usize = 4 << 20;

/// [`count_file`], with the records also grouped into tests and retries ([`Retries`]). Memory
/// stays bounded: past a few hundred thousand distinct tests the grouping is an external sort.
pub fn count_file_retries(
    path: &Path,
    format: Option<Format>,
) -> Result<(ReportInfo, Counts, Retries)> {
    count_retries(path, format, RETRY_SORT_BUDGET)
}

fn count_retries(
    path: &Path,
    format: Option<Format>,
    budget: usize,
) -> Result<(ReportInfo, Counts, Retries)> {
    use std::hash::{Hash, Hasher};
    const PASSED: u8 = 1;
    const FAILED: u8 = 2;
    let mut counts = Counts::default();
    // (hash of the test's id, attempts, outcome flags), one per record, grouped by sorting.
    let mut records: extsort::ExtSort<(u64, u32, u8)> = extsort::ExtSort::new(budget);
    let mut seq: u64 = 0;
    let info = parse_file(path, format, &mut |case: TestCase| {
        counts.add(case.outcome);
        seq += 1;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if case.classname.is_none() && case.name.is_empty() {
            // Nameless records are not repeats of each other.
            (0u8, seq).hash(&mut h);
        } else {
            (1u8, case.id.as_str()).hash(&mut h);
        }
        let mut flags = 0;
        for a in &case.attempts {
            flags |= match a.outcome {
                flakehound_model::Outcome::Passed => PASSED,
                flakehound_model::Outcome::Failed | flakehound_model::Outcome::Errored => FAILED,
                flakehound_model::Outcome::Skipped => 0,
            };
        }
        let attempts = u32::try_from(case.attempts.len().max(1)).unwrap_or(u32::MAX);
        records.push((h.finish(), attempts, flags), 0)
    })?;
    let mut retries = Retries::default();
    let mut current: Option<(u64, u8)> = None;
    let close = |group: Option<(u64, u8)>, r: &mut Retries| {
        if let Some((_, flags)) = group {
            r.tests += 1;
            if flags == PASSED | FAILED {
                r.flaky += 1;
            }
        }
    };
    for item in records.finish()? {
        let (hash, attempts, flags) = item?;
        match &mut current {
            Some((h, f)) if *h == hash => {
                *f |= flags;
                retries.retries += u64::from(attempts);
            }
            _ => {
                close(current.take(), &mut retries);
                current = Some((hash, flags));
                retries.retries += u64::from(attempts) - 1;
            }
        }
    }
    close(current, &mut retries);
    if let Some(agg) = &info.aggregate {
        counts.tests += agg.tests;
        counts.passed += agg.passed;
        counts.failed += agg.failed;
        counts.errored += agg.errored;
        counts.skipped += agg.skipped;
        retries.tests += agg.tests;
    }
    Ok((info, counts, retries))
}

/// Parses in-memory bytes and collects every record (for tests and small inputs).
pub fn collect_bytes(bytes: &[u8], format: Option<Format>) -> Result<(ReportInfo, Vec<TestCase>)> {
    let mut cases = Vec::new();
    let info = parse_bytes(bytes, format, &mut |c| {
        cases.push(c);
        Ok(())
    })?;
    Ok((info, cases))
}

/// Sets the canonical id of a record built by a parser (see [`flakehound_model::canonical_id`]).
pub(crate) fn finish_case(mut case: TestCase, dialect: flakehound_model::Dialect) -> TestCase {
    case.id = flakehound_model::canonical_id(
        dialect,
        case.classname.as_deref(),
        &case.name,
        case.file.as_deref(),
        case.suite.last().map(String::as_str),
    );
    case
}

/// Outermost suites kept per record when suites nest deeper than [`MAX_SUITE_DEPTH`].
pub const SUITE_HEAD: usize = 8;
/// Most enclosing suite names kept per record: the [`SUITE_HEAD`] outermost, a marker, and the
/// innermost (the one ids are built from). Copying a 20,000-deep path into each of 20,000
/// records would make nesting quadratic in time and memory.
pub const MAX_SUITE_DEPTH: usize = 32;

/// A record's suite path from the names of its enclosing suites (outermost first), of which
/// there are `total`: the whole path, or its head and tail around a marker. Only the names kept
/// are visited, so the cost per record is bounded whatever the depth.
pub(crate) fn suite_path<'a, I>(names: I, total: usize) -> Vec<String>
where
    I: DoubleEndedIterator<Item = &'a str> + Clone,
{
    if total <= MAX_SUITE_DEPTH {
        return names.map(str::to_string).collect();
    }
    let tail = MAX_SUITE_DEPTH - SUITE_HEAD - 1;
    let mut path: Vec<String> = names.clone().take(SUITE_HEAD).map(str::to_string).collect();
    path.push(format!(
        "[... {} suites cut by flakehound ...]",
        total - SUITE_HEAD - tail
    ));
    let mut inner: Vec<String> = names.rev().take(tail).map(str::to_string).collect();
    inner.reverse();
    path.extend(inner);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retries_of(doc: &str, budget: usize) -> (Counts, Retries) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xml");
        std::fs::write(&path, doc).unwrap();
        let (_, counts, retries) = count_retries(&path, None, budget).unwrap();
        (counts, retries)
    }

    #[test]
    fn repeated_records_are_retries_of_one_test() {
        let doc = r#"<testsuite name="s">
            <testcase classname="c" name="flaky"><failure message="1"/></testcase>
            <testcase classname="c" name="flaky"><failure message="2"/></testcase>
            <testcase classname="c" name="flaky"/>
            <testcase classname="c" name="fails"><failure/></testcase>
            <testcase classname="c" name="fails"><failure/></testcase>
            <testcase classname="c" name="nextest"><flakyFailure/></testcase>
            <testcase classname="c" name="once"/>
            <testcase classname="c" name="skip"><skipped/></testcase>
            <testcase/>
            <testcase/>
        </testsuite>"#;
        for budget in [RETRY_SORT_BUDGET, 16] {
            let (counts, r) = retries_of(doc, budget);
            assert_eq!(counts.tests, 10);
            assert_eq!(
                r,
                Retries {
                    tests: 7,
                    retries: 4,
                    flaky: 2
                },
                "budget {budget}"
            );
        }
    }

    #[test]
    fn no_repeats_no_retries() {
        let doc = r#"<testsuite name="s">
            <testcase classname="c" name="a"/><testcase classname="c" name="b"><failure/></testcase>
        </testsuite>"#;
        let (_, r) = retries_of(doc, RETRY_SORT_BUDGET);
        assert_eq!(
            r,
            Retries {
                tests: 2,
                retries: 0,
                flaky: 0
            }
        );
    }
}
