//! Human and JSON output of the commands.

use comfy_table::{
    Attribute, Cell, CellAlignment, Color, ContentArrangement, Table, modifiers, presets,
};
use flakehound_analysis::verdict::{Dossier, RunIncident, SharedCluster, Verdict};
use flakehound_analysis::{Report, ReportEntry};
use flakehound_evidence::{FileStatus, Summary};
use flakehound_ingest::Retries;
use flakehound_model::Counts;
use flakehound_runner::shell_quote;
use flakehound_store::Totals;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Most rejected files listed by name in the ingest summary (the rest are counted).
const MAX_LISTED: usize = 20;

pub fn parse_line(
    out: &mut impl Write,
    json: bool,
    file: &str,
    result: Result<(&str, Counts, Retries), &str>,
) -> io::Result<()> {
    /// Field order as documented: file, format, the counts of records, then the records read
    /// as tests and retries.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        file: &'a str,
        format: &'a str,
        tests: u64,
        passed: u64,
        failed: u64,
        errored: u64,
        skipped: u64,
        distinct_tests: u64,
        retries: u64,
        flaky: u64,
    }
    #[derive(serde::Serialize)]
    struct ErrorLine<'a> {
        file: &'a str,
        error: &'a str,
    }
    match (json, result) {
        (true, Ok((format, c, r))) => {
            let line = Line {
                file,
                format,
                tests: c.tests,
                passed: c.passed,
                failed: c.failed,
                errored: c.errored,
                skipped: c.skipped,
                distinct_tests: r.tests,
                retries: r.retries,
                flaky: r.flaky,
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)
        }
        (true, Err(error)) => writeln!(
            out,
            "{}",
            serde_json::to_string(&ErrorLine { file, error })?
        ),
        (false, Ok((format, c, r))) => {
            write!(
                out,
                "{file}: {format}: {} tests, {} passed, {} failed, {} errored, {} skipped",
                c.tests, c.passed, c.failed, c.errored, c.skipped
            )?;
            // Retries (repeated records of one test, retry elements in a record) are read as
            // the CI report actions read them, besides the raw counts.
            if r.retries > 0 {
                let plural = |n: u64, one: &str, many: &str| {
                    format!("{n} {}", if n == 1 { one } else { many })
                };
                let flaky = match (r.tests, r.flaky) {
                    (_, 0) => String::new(),
                    (1, 1) => ", flaky".to_string(),
                    (_, n) => format!(", {n} flaky"),
                };
                write!(
                    out,
                    "; {}: {}, {}{flaky}",
                    plural(c.tests, "record", "records"),
                    plural(r.tests, "test", "tests"),
                    plural(r.retries, "retry", "retries"),
                )?;
            }
            writeln!(out)
        }
        (false, Err(e)) => writeln!(out, "{file}: error: {e}"),
    }
}

pub fn ingest_summary(
    out: &mut impl Write,
    s: &Summary,
    db: &impl std::fmt::Display,
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
    if ingested > 0 {
        writeln!(out, "Ingested into {db}")?;
    } else {
        writeln!(out, "Nothing new ingested into {db}")?;
    }
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
    let d = &s.decision;
    if ingested + duplicate > 0 {
        writeln!(out, "           {}", d.text)?;
        let meta = &d.meta;
        let short =
            |v: &Option<String>| v.as_deref().map(|c| c.chars().take(12).collect::<String>());
        writeln!(
            out,
            "           commit {}  branch {}  runner {}",
            short(&meta.commit).unwrap_or_else(|| "-".into()),
            meta.branch.as_deref().unwrap_or("-"),
            meta.runner.as_deref().unwrap_or("-"),
        )?;
    }
    // What was attached to the runs written now (stored runs keep what they had).
    if ingested > 0 {
        for a in &d.assumed {
            writeln!(out, "           assumed: {a}")?;
        }
    }
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

pub fn ingest_json(
    out: &mut impl Write,
    s: &Summary,
    db: &impl std::fmt::Display,
) -> io::Result<()> {
    let files: Vec<_> = s
        .files
        .iter()
        .map(|f| match &f.status {
            FileStatus::Ingested {
                format,
                records,
                results,
                ..
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
        "db": db.to_string(), "runs": s.runs, "runs_created": s.runs_created,
        "records": s.records, "results": s.results, "files": files,
        "decision": {
            "rule": s.decision.rule, "files": s.decision.files, "runs": s.decision.runs,
            "text": s.decision.text, "assumed": s.decision.assumed,
            "commit": s.decision.meta.commit, "branch": s.decision.meta.branch,
            "runner": s.decision.meta.runner,
        },
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)
}

/// What the report's entries are drawn from, for its closing line.
pub struct ReportCounts {
    /// Tests in the store.
    pub tests: u64,
    /// Non-stable tests (flaky, broken, regression, fixed, infra), before `--limit`.
    pub unstable: usize,
    /// With `--all`: stable and never-run tests, before `--limit`.
    pub stable: Option<usize>,
    pub not_run: Option<usize>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The closing line: how many of what is shown, counted right in every case (no unstable
/// test, `--all`, `--limit`).
pub fn report_counts_line(counts: &ReportCounts, entries: &[ReportEntry]) -> String {
    let shown_unstable = entries.iter().filter(|e| e.verdict.is_unstable()).count();
    let mut line = if counts.unstable == 0 {
        format!(
            "No unstable tests among {}.",
            plural(counts.tests as usize, "test", "tests")
        )
    } else if shown_unstable == counts.unstable {
        format!(
            "{}, most costly first.",
            plural(counts.unstable, "non-stable test", "non-stable tests")
        )
    } else {
        format!(
            "{shown_unstable} of {} non-stable tests shown, most costly first.",
            counts.unstable
        )
    };
    if let (Some(stable), Some(not_run)) = (counts.stable, counts.not_run) {
        line.push_str(&format!(" Also listed: {stable} stable"));
        if not_run > 0 {
            line.push_str(&format!(
                ", {not_run} never run (skipped in every run; neither stable nor unstable)"
            ));
        }
        let shown = entries.len();
        let listed = counts.unstable + stable + not_run;
        if shown < listed {
            line.push_str(&format!(" ({shown} of {listed} rows shown)"));
        }
        line.push('.');
    }
    line
}

pub fn report_table(
    out: &mut impl Write,
    report: &Report,
    counts: &ReportCounts,
    color: bool,
    // How the printed commands call us (`flakehound [--db PATH] explain X`, or with
    // `--server URL` after), so they run as printed.
    hint: &Hint,
) -> io::Result<()> {
    let entries = &report.entries;
    let incidents = report.incidents.len();
    if entries.is_empty() {
        writeln!(out, "{}", report_counts_line(counts, entries))?;
        return incidents_line(out, incidents, hint);
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(modifiers::UTF8_ROUND_CORNERS);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    let with_owner = entries.iter().any(|e| !e.owners.is_empty());
    // Local experiments (hunt, diagnose, ...) are evidence, not CI cost: their own column, shown
    // only when some test has any.
    let with_experiments = entries.iter().any(|e| e.experiments.runs > 0);
    let mut header = vec![
        "#",
        "Test",
        "Verdict",
        "Conf",
        "Cause / culprit",
        "Fail",
        "Runs",
        "Retry✓",
        "Red builds",
        "CI min",
    ];
    if with_experiments {
        header.push("Local fail/runs");
    }
    if with_owner {
        header.push("Owner");
    }
    table.set_header(
        header
            .into_iter()
            .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
    );
    // One line per test: the id never wraps (it is what users copy).
    table.set_content_arrangement(ContentArrangement::Disabled);
    for (i, e) in entries.iter().enumerate() {
        let r = &e.ranked;
        let verdict = if e.intermittent {
            format!("{} (intermittent)", e.verdict)
        } else {
            e.verdict.to_string()
        };
        let cause = match (&e.category, &e.culprit_commit) {
            (Some(c), _) => c.to_string(),
            (None, Some(commit)) => commit_shown(commit),
            (None, None) => String::new(),
        };
        let mut row = vec![
            Cell::new(i + 1),
            Cell::new(&r.id).fg(verdict_color(e.verdict)),
            Cell::new(verdict).fg(verdict_color(e.verdict)),
            Cell::new(format!("{:.2}", e.confidence)).set_alignment(CellAlignment::Right),
            Cell::new(cause),
            Cell::new(e.failed_runs()).set_alignment(CellAlignment::Right),
            Cell::new(r.runs).set_alignment(CellAlignment::Right),
            signal_cell(r.retry_passes),
            Cell::new(e.impact.broken_builds).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.1}", e.impact.ci_minutes)).set_alignment(CellAlignment::Right),
        ];
        if with_experiments {
            let x = &e.experiments;
            row.push(
                Cell::new(if x.runs == 0 {
                    String::new()
                } else {
                    format!("{}/{}", x.failed_runs, x.runs)
                })
                .set_alignment(CellAlignment::Right),
            );
        }
        if with_owner {
            row.push(Cell::new(e.owners.join(" ")));
        }
        table.add_row(row);
    }
    writeln!(out, "{table}")?;
    let noted: Vec<&ReportEntry> = entries.iter().filter(|e| !e.notes.is_empty()).collect();
    if !noted.is_empty() {
        writeln!(out, "Notes:")?;
        for e in noted {
            for n in &e.notes {
                writeln!(out, "  {}: {}", e.ranked.id, note_line(n))?;
            }
        }
    }
    // Real commands on the first row, one a line, rather than a `TEST` placeholder: they
    // run as printed (any other id from the table works the same way).
    let first = shell_quote(&entries[0].ranked.id);
    writeln!(
        out,
        "{} Why, and the evidence, for the first one:",
        report_counts_line(counts, entries)
    )?;
    writeln!(out, "  {}", hint.command(&format!("classify {first}")))?;
    writeln!(out, "  {}", hint.command(&format!("explain {first}")))?;
    if with_experiments {
        writeln!(
            out,
            "Red builds and CI minutes count CI runs only; local experiments (hunt, diagnose, \
             repro, verify) are in \"Local fail/runs\"."
        )?;
    }
    incidents_line(out, incidents, hint)
}

/// Failure clusters shared by several tests.
pub fn shared_clusters(out: &mut impl Write, clusters: &[SharedCluster]) -> io::Result<()> {
    if clusters.is_empty() {
        return writeln!(out, "No failure message is shared by several tests.");
    }
    for c in clusters {
        writeln!(
            out,
            "{} tests, {} failures: {}",
            c.test_count, c.failures, c.fingerprint
        )?;
        writeln!(out, "  e.g. {}", one_line(&c.example, 120))?;
        for t in &c.tests {
            writeln!(out, "  - {t}")?;
        }
        if c.test_count as usize > c.tests.len() {
            writeln!(
                out,
                "  ... and {} more",
                c.test_count as usize - c.tests.len()
            )?;
        }
    }
    Ok(())
}

/// How a printed command line calls flakehound: what comes before the subcommand and after it.
pub struct Hint {
    pub before: String,
    pub after: String,
}

impl Hint {
    pub fn command(&self, subcommand: &str) -> String {
        format!("{} {subcommand}{}", self.before, self.after)
    }
}

fn incidents_line(out: &mut impl Write, incidents: usize, hint: &Hint) -> io::Result<()> {
    if incidents > 0 {
        writeln!(
            out,
            "{incidents} infrastructure incident(s) found; their failures are not held against tests:"
        )?;
        writeln!(out, "  {}", hint.command("incidents"))?;
    }
    Ok(())
}

fn verdict_color(v: Verdict) -> Color {
    match v {
        Verdict::Flaky => Color::Yellow,
        Verdict::Broken | Verdict::Regression => Color::Red,
        Verdict::Infra => Color::Magenta,
        Verdict::Fixed => Color::Green,
        Verdict::Stable | Verdict::NotRun => Color::Reset,
    }
}

/// The verdict block of `classify`.
pub fn verdict_block(out: &mut impl Write, e: &ReportEntry) -> io::Result<()> {
    writeln!(out, "Test: {}", e.ranked.id)?;
    let label = e.verdict.as_str().to_uppercase();
    let label = if e.intermittent {
        format!("{label} (intermittent)")
    } else {
        label
    };
    writeln!(out, "Verdict: {label}   confidence {:.2}", e.confidence)?;
    if let Some(c) = &e.category {
        writeln!(out, "Category: {c}")?;
    }
    for f in &e.factors {
        writeln!(out, "Factor: {} {} ({})", f.kind, f.value, f.evidence)?;
    }
    writeln!(out, "Reasons:")?;
    for r in &e.reasons {
        writeln!(out, "  - {r}")?;
    }
    if let Some(c) = &e.culprit {
        let short = commit_shown;
        let what = if e.verdict == Verdict::Fixed {
            "Fixed in"
        } else {
            "Culprit"
        };
        writeln!(
            out,
            "{what}: {} (posterior {:.2}), range {}..{}",
            short(&c.commit),
            c.posterior,
            short(&c.range.0),
            short(&c.range.1)
        )?;
    }
    let i = &e.impact;
    writeln!(
        out,
        "Impact: {} red build(s), {} rerun(s), {:.1} CI minutes, {} branch(es), {} PR(s), last seen {}",
        i.broken_builds,
        i.reruns,
        i.ci_minutes,
        i.branches,
        i.pull_requests,
        i.last_seen.as_deref().unwrap_or("-")
    )?;
    if e.experiments.runs > 0 {
        // Apart from the impact: experiments are evidence for the verdict, not CI cost.
        writeln!(
            out,
            "Local experiments (hunt, diagnose, repro, verify): failed {} of {} runs; not counted in the impact",
            e.experiments.failed_runs, e.experiments.runs
        )?;
    }
    if !e.recommendation.is_empty() {
        writeln!(out, "Recommendation: {}", e.recommendation)?;
    }
    if !e.owners.is_empty() {
        writeln!(out, "Owner: {}", e.owners.join(", "))?;
    }
    notes(out, &e.notes)
}

/// One note on one line: `[category] text (link) — author, date`.
pub fn note_line(n: &flakehound_store::Note) -> String {
    let mut s = String::new();
    if n.kind != flakehound_store::NoteKind::Note {
        s.push_str(n.kind.as_str());
        s.push(' ');
    }
    if let Some(c) = &n.category {
        s.push_str(&format!("[{c}] "));
    }
    s.push_str(&one_line(&n.text, 200));
    if let Some(l) = &n.link {
        s.push_str(&format!(" ({l})"));
    }
    let date = n.created_at.get(..10).unwrap_or(&n.created_at);
    match &n.author {
        Some(a) => s.push_str(&format!(" — {a}, {date}")),
        None => s.push_str(&format!(" — {date}")),
    }
    s
}

/// The `Notes:` section of a test (nothing when it has none).
pub fn notes(out: &mut impl Write, notes: &[flakehound_store::Note]) -> io::Result<()> {
    if notes.is_empty() {
        return Ok(());
    }
    writeln!(out, "Notes:")?;
    for n in notes {
        writeln!(out, "  #{} {}", n.id, note_line(n))?;
    }
    Ok(())
}

/// The evidence dossier of `explain`.
pub fn dossier(out: &mut impl Write, d: &Dossier) -> io::Result<()> {
    if !d.notes.is_empty() {
        writeln!(out, "Notes:")?;
        for n in &d.notes {
            writeln!(out, "  - {n}")?;
        }
    }
    writeln!(
        out,
        "Timeline (commit: runs; . pass, x fail, r passed on retry, ! incident):"
    )?;
    for (commit, runs) in &d.timeline {
        writeln!(out, "  {commit} {runs}")?;
    }
    if !d.clusters.is_empty() {
        writeln!(out, "Failure message clusters:")?;
        for c in &d.clusters {
            writeln!(out, "  {:>4} × {}", c.count, c.fingerprint)?;
            writeln!(out, "         e.g. {}", c.example)?;
        }
    }
    writeln!(out, "Runners (runs, failed):")?;
    for (runner, runs, failed) in &d.runners {
        writeln!(out, "  {runner:<24} {runs:>5} {failed:>5}")?;
    }
    writeln!(out, "Hour of day, UTC (failed/runs):")?;
    let cells: Vec<String> = d
        .hours
        .iter()
        .enumerate()
        .filter(|(_, (runs, _))| *runs > 0)
        .map(|(h, (runs, failed))| format!("{h:02}h {failed}/{runs}"))
        .collect();
    for chunk in cells.chunks(6) {
        writeln!(out, "  {}", chunk.join("   "))?;
    }
    if d.preceding.is_empty() {
        writeln!(
            out,
            "Order: no test that ran before it tells failing runs from passing ones."
        )?;
    } else {
        writeln!(
            out,
            "Tests that ran before it (share of failing runs vs passing runs):"
        )?;
        for (t, f, p) in &d.preceding {
            writeln!(out, "  {:>4.0}% vs {:>4.0}%  {t}", 100.0 * f, 100.0 * p)?;
        }
    }
    Ok(())
}

/// The incidents table.
pub fn incidents(out: &mut impl Write, incidents: &[RunIncident]) -> io::Result<()> {
    if incidents.is_empty() {
        return writeln!(out, "No infrastructure incidents found.");
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(modifiers::UTF8_ROUND_CORNERS)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(
        [
            "Started",
            "Run",
            "Commit",
            "Runner",
            "Failed",
            "Infra msgs",
            "Top message",
        ]
        .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
    );
    for i in incidents {
        table.add_row(vec![
            Cell::new(&i.started_at),
            Cell::new(&i.run),
            Cell::new(
                i.commit
                    .as_deref()
                    .map(|c| c.chars().take(10).collect::<String>())
                    .unwrap_or_default(),
            ),
            Cell::new(i.runner.as_deref().unwrap_or("-")),
            Cell::new(format!("{}/{}", i.failed_tests, i.tests_executed)),
            Cell::new(format!("{:.0}%", 100.0 * i.infra_share)),
            Cell::new(one_line(&i.top_fingerprint, 60)),
        ]);
    }
    writeln!(out, "{table}")
}

fn signal_cell(n: u64) -> Cell {
    let c = Cell::new(n).set_alignment(CellAlignment::Right);
    if n > 0 {
        c.fg(Color::Yellow).add_attribute(Attribute::Bold)
    } else {
        c
    }
}

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

/// `quarantine list`.
pub fn quarantine_table(
    out: &mut impl Write,
    entries: &[flakehound_quarantine::Entry],
    today: jiff::civil::Date,
) -> io::Result<()> {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(modifiers::UTF8_ROUND_CORNERS)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(
            ["Test", "Owner", "Added", "Expires", "Reason", "Issue"]
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    for e in entries {
        let expires = if e.is_expired(today) {
            format!("{} (expired)", e.expires)
        } else {
            e.expires.to_string()
        };
        table.add_row(vec![
            Cell::new(&e.id),
            Cell::new(&e.owner),
            Cell::new(e.added),
            Cell::new(expires),
            Cell::new(one_line(&e.reason, 60)),
            Cell::new(e.issue.as_deref().unwrap_or("")),
        ]);
    }
    writeln!(out, "{table}")
}

/// A commit in tables and verdicts: 10 characters of a sha, or `run <start>` for a run without a
/// commit ([`flakehound_analysis::verdict::short_commit`]).
fn commit_shown(commit: &str) -> String {
    if commit.starts_with(flakehound_analysis::verdict::RUN_PREFIX) {
        flakehound_analysis::verdict::short_commit(commit).to_string()
    } else {
        commit.chars().take(10).collect()
    }
}
