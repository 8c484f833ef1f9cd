//! Human and JSON output of the commands.

use comfy_table::{
    Attribute, Cell, CellAlignment, Color, ContentArrangement, Table, modifiers, presets,
};
use flakehound_analysis::Ranked;
use flakehound_evidence::{FileStatus, Summary};
use flakehound_model::{Counts, RunMeta};
use flakehound_store::Totals;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

/// Most rejected files listed by name in the ingest summary (the rest are counted).
const MAX_LISTED: usize = 20;

pub fn parse_line(
    out: &mut impl Write,
    json: bool,
    file: &str,
    result: Result<(&str, Counts), &str>,
) -> io::Result<()> {
    /// Field order as documented: file, format, then the counts.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        file: &'a str,
        format: &'a str,
        tests: u64,
        passed: u64,
        failed: u64,
        errored: u64,
        skipped: u64,
    }
    #[derive(serde::Serialize)]
    struct ErrorLine<'a> {
        file: &'a str,
        error: &'a str,
    }
    match (json, result) {
        (true, Ok((format, c))) => {
            let line = Line {
                file,
                format,
                tests: c.tests,
                passed: c.passed,
                failed: c.failed,
                errored: c.errored,
                skipped: c.skipped,
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)
        }
        (true, Err(error)) => writeln!(
            out,
            "{}",
            serde_json::to_string(&ErrorLine { file, error })?
        ),
        (false, Ok((format, c))) => writeln!(
            out,
            "{file}: {format}: {} tests, {} passed, {} failed, {} errored, {} skipped",
            c.tests, c.passed, c.failed, c.errored, c.skipped
        ),
        (false, Err(e)) => writeln!(out, "{file}: error: {e}"),
    }
}

pub fn ingest_summary(
    out: &mut impl Write,
    s: &Summary,
    meta: &RunMeta,
    db: &Path,
    totals: &Totals,
) -> io::Result<()> {
    let ingested = s.count(|f| matches!(f, FileStatus::Ingested { .. }));
    let duplicate = s.count(|f| matches!(f, FileStatus::Duplicate));
    let rejected_count = s.count(|f| matches!(f, FileStatus::Rejected { .. }));
    let mut formats: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &s.files {
        if let FileStatus::Ingested { format, .. } = &f.status {
            *formats.entry(format.as_str()).or_default() += 1;
        }
    }
    writeln!(out, "Ingested into {}", db.display())?;
    writeln!(
        out,
        "  files    {} read: {ingested} ingested, {duplicate} already stored, {rejected_count} rejected",
        s.files.len()
    )?;
    if !formats.is_empty() {
        let list: Vec<String> = formats.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "  formats  {}", list.join(", "))?;
    }
    match s.runs.as_slice() {
        // Nothing was stored: no run to speak of.
        _ if ingested + duplicate == 0 => {}
        [one] => {
            let state = if s.runs_created > 0 {
                "new"
            } else if ingested > 0 {
                "existing, extended"
            } else {
                "unchanged"
            };
            writeln!(out, "  run      {one} ({state})")?;
        }
        many => writeln!(out, "  runs     {} ({} new)", many.len(), s.runs_created)?,
    }
    let short = |v: &Option<String>| v.as_deref().map(|c| c.chars().take(12).collect::<String>());
    writeln!(
        out,
        "           commit {}  branch {}  runner {}",
        short(&meta.commit).unwrap_or_else(|| "-".into()),
        meta.branch.as_deref().unwrap_or("-"),
        meta.runner.as_deref().unwrap_or("-"),
    )?;
    writeln!(
        out,
        "  results  {} test records, {} attempts",
        s.records, s.results
    )?;
    writeln!(
        out,
        "  store    {} runs, {} reports, {} tests, {} results",
        totals.runs, totals.reports, totals.tests, totals.results
    )?;
    rejected(out, s)
}

/// Lists rejected files with their reasons (at most [`MAX_LISTED`], then a count).
pub fn rejected(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    let count = s.count(|f| matches!(f, FileStatus::Rejected { .. }));
    if count > 0 {
        writeln!(out, "Rejected:")?;
        for (name, reason) in s.rejected().take(MAX_LISTED) {
            writeln!(out, "  {name}: {reason}")?;
        }
        if count > MAX_LISTED {
            writeln!(out, "  ... and {} more", count - MAX_LISTED)?;
        }
    }
    Ok(())
}

pub fn ingest_json(out: &mut impl Write, s: &Summary, db: &Path) -> io::Result<()> {
    let files: Vec<_> = s
        .files
        .iter()
        .map(|f| match &f.status {
            FileStatus::Ingested {
                format,
                records,
                results,
            } => serde_json::json!({
                "file": f.name, "status": "ingested", "format": format.as_str(),
                "records": records, "results": results,
            }),
            FileStatus::Duplicate => serde_json::json!({ "file": f.name, "status": "duplicate" }),
            FileStatus::Rejected { reason } => {
                serde_json::json!({ "file": f.name, "status": "rejected", "error": reason })
            }
        })
        .collect();
    let v = serde_json::json!({
        "db": db.display().to_string(), "runs": s.runs, "runs_created": s.runs_created,
        "records": s.records, "results": s.results, "files": files,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)
}

pub fn report_table(
    out: &mut impl Write,
    ranked: &[Ranked],
    total: usize,
    color: bool,
) -> io::Result<()> {
    if total == 0 {
        return writeln!(out, "No failing tests in the store: nothing looks flaky.");
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(modifiers::UTF8_ROUND_CORNERS)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table.set_width(out_width());
    table.set_header(
        [
            "#",
            "Test",
            "Runs",
            "Fail",
            "Rate",
            "Retry✓",
            "Commits±",
            "Last failure",
        ]
        .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
    );
    // One line per test: the id never wraps (it is what users copy) and the failure message is
    // cut to the width that is left.
    table.set_content_arrangement(ContentArrangement::Disabled);
    let id_width = ranked
        .iter()
        .map(|r| r.id.chars().count())
        .max()
        .unwrap_or(4);
    let message_width = (usize::from(out_width()))
        .saturating_sub(id_width + FIXED_COLUMNS)
        .max(16);
    for (i, r) in ranked.iter().enumerate() {
        let rate = format!("{:.1}%", r.failure_rate * 100.0);
        let strong = r.flaky_signals > 0;
        let name_color = if strong {
            Color::Yellow
        } else if r.failure_rate >= 0.999 {
            Color::Red
        } else {
            Color::Reset
        };
        table.add_row(vec![
            Cell::new(i + 1),
            Cell::new(&r.id).fg(name_color),
            Cell::new(r.runs).set_alignment(CellAlignment::Right),
            Cell::new(r.failures).set_alignment(CellAlignment::Right),
            Cell::new(rate).set_alignment(CellAlignment::Right),
            signal_cell(r.retry_passes),
            signal_cell(r.flaky_commits),
            Cell::new(
                r.last_failure
                    .as_deref()
                    .map(|m| one_line(m, message_width))
                    .unwrap_or_default(),
            ),
        ]);
    }
    writeln!(out, "{table}")?;
    writeln!(
        out,
        "{} of {total} tests with failures. Retry✓: runs where it failed, then passed on retry. \
         Commits±: commits where some runs passed it and others failed it.",
        ranked.len()
    )
}

fn signal_cell(n: u64) -> Cell {
    let c = Cell::new(n).set_alignment(CellAlignment::Right);
    if n > 0 {
        c.fg(Color::Yellow).add_attribute(Attribute::Bold)
    } else {
        c
    }
}

/// Width taken by the report table's columns other than the test id and the message, with
/// borders and padding.
const FIXED_COLUMNS: usize = 54;

/// First line of `s`, cut to `width` characters with an ellipsis.
fn one_line(s: &str, width: usize) -> String {
    let line = s.lines().next().unwrap_or_default().trim();
    if line.chars().count() > width {
        format!(
            "{}…",
            line.chars()
                .take(width.saturating_sub(1))
                .collect::<String>()
        )
    } else {
        line.to_string()
    }
}

/// Table width: $COLUMNS, else the terminal's, else 140 so piped output stays readable.
fn out_width() -> u16 {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| Table::new().width())
        .unwrap_or(140)
}
