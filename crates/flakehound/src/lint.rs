//! `flakehound lint`: flags and printing of the static scan (`flakehound_lint`), and the
//! findings that `explain` and `report --json` show as evidence for a flaky test's category.

use crate::context::Context;
use anyhow::Result;
use clap::{Args, ValueEnum};
use flakehound_analysis::verdict::Verdict;
use flakehound_lint::{Config, Finding, Scan};
use flakehound_model::exit;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct LintArgs {
    /// Files or directories to scan (default: the current directory). Test files are
    /// test_*.py, *_test.py, conftest.py and .py files under tests/ (the project modules they
    /// import are followed), and *_test.go.
    pub paths: Vec<PathBuf>,
    /// Output: text (with the code excerpt), json, or sarif (SARIF 2.1.0 for code scanning).
    #[arg(long, value_enum, default_value_t = LintFormat::Text, value_name = "FORMAT")]
    pub format: LintFormat,
    /// Scan only the tests the store calls flaky, ranked as `report` ranks them, and say which
    /// findings agree with each test's category.
    #[arg(long)]
    pub flaky: bool,
    /// Config file with a [lint] table (disable, exclude, pedantic, enable). Default:
    /// .flakehound/config.toml in the current directory, else at the repository root.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Also report the pedantic rules (sleep-wait, retry-marker, thread-no-join): findings
    /// measured to be real flakes too rarely to report by default (shown as notes, SARIF level
    /// `note`), and the pedantic forms of default rules, each saying why it is weaker (a clock
    /// read compared with a value the code under test computes, a budget of a second or more,
    /// a draw the code checks and draws again, …). `--flaky` includes them.
    #[arg(long)]
    pub pedantic: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LintFormat {
    Text,
    Json,
    Sarif,
}

fn config(ctx: &Context, given: Option<&Path>) -> Config {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => {
            let here = Path::new(flakehound_quarantine::CONFIG_FILE);
            if here.is_file() {
                here.to_path_buf()
            } else {
                ctx.root.join(flakehound_quarantine::CONFIG_FILE)
            }
        }
    };
    let (config, problems) = Config::load(&path);
    for p in problems {
        eprintln!("flakehound lint: {p}");
    }
    config
}

/// A flaky test of the store, in report order.
struct FlakyTest {
    id: String,
    category: Option<String>,
    confidence: f64,
}

fn flaky_tests(ctx: &Context) -> Result<Vec<FlakyTest>> {
    let mut store = crate::open_existing(ctx)?;
    let report = flakehound_analysis::report_from_store(store.as_mut(), false)?;
    Ok(report
        .entries
        .iter()
        .filter(|e| e.verdict == Verdict::Flaky)
        .map(|e| FlakyTest {
            id: e.ranked.id.clone(),
            category: e.category.map(|c| c.as_str().to_string()),
            confidence: e.confidence,
        })
        .collect())
}

pub fn cmd_lint(ctx: &Context, args: LintArgs) -> Result<ExitCode> {
    let mut config = config(ctx, args.config.as_deref());
    // `--flaky` looks inside tests that already flake: every rule's findings are evidence
    // there, as for `explain`.
    config.pedantic |= args.pedantic || args.flaky;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let flaky = if args.flaky {
        Some(flaky_tests(ctx)?)
    } else {
        None
    };
    let only: Option<HashSet<String>> = flaky
        .as_ref()
        .map(|f| f.iter().map(|t| t.id.clone()).collect());
    let scan = flakehound_lint::scan(&paths, &config, only.as_ref());
    let mut out = std::io::stdout().lock();
    match (args.format, &flaky) {
        (LintFormat::Sarif, _) => {
            let log = flakehound_lint::output::sarif(&scan, env!("CARGO_PKG_VERSION"));
            serde_json::to_writer_pretty(&mut out, &log).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        (LintFormat::Json, None) => {
            serde_json::to_writer_pretty(&mut out, &flakehound_lint::output::json(&scan))
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        (LintFormat::Json, Some(flaky)) => {
            let ranked = ranked(&scan, flaky);
            serde_json::to_writer_pretty(&mut out, &json!({ "tests": ranked, "errors": flakehound_lint::output::json(&scan)["errors"] }))
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        (LintFormat::Text, None) => flakehound_lint::output::text(&mut out, &scan, ctx.color)?,
        (LintFormat::Text, Some(flaky)) => ranked_text(&mut out, &scan, flaky, ctx.color)?,
    }
    if let Some(f) = &flaky
        && f.is_empty()
    {
        eprintln!("flakehound lint: the store calls no test flaky");
    }
    Ok(ExitCode::from(if scan.findings.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    }))
}

/// The flaky tests with their findings, those with findings first (in report order), then the
/// others.
fn ranked(scan: &Scan, flaky: &[FlakyTest]) -> Vec<Value> {
    let by_test = scan.by_test();
    let mut with: Vec<Value> = Vec::new();
    let mut without: Vec<Value> = Vec::new();
    for t in flaky {
        let findings: Vec<&Finding> = by_test.get(t.id.as_str()).cloned().unwrap_or_default();
        let agrees = t
            .category
            .as_deref()
            .is_some_and(|c| findings.iter().any(|f| f.category == c));
        let v = json!({
            "id": t.id,
            "category": t.category,
            "confidence": t.confidence,
            "agrees": agrees,
            "findings": findings,
        });
        if findings.is_empty() {
            without.push(v);
        } else {
            with.push(v);
        }
    }
    with.extend(without);
    with
}

fn ranked_text(out: &mut dyn Write, scan: &Scan, flaky: &[FlakyTest], color: bool) -> Result<()> {
    let (bold, reset) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let ranked = ranked(scan, flaky);
    let mut shown = 0;
    for (i, t) in ranked.iter().enumerate() {
        let findings = t["findings"].as_array().map_or(0, Vec::len);
        let category = t["category"].as_str().unwrap_or("unknown");
        writeln!(
            out,
            "{bold}{}. {}{reset}  flaky, {category} ({:.0}% confidence): {} finding{}{}",
            i + 1,
            t["id"].as_str().unwrap_or(""),
            t["confidence"].as_f64().unwrap_or(0.0) * 100.0,
            findings,
            if findings == 1 { "" } else { "s" },
            if t["agrees"].as_bool() == Some(true) {
                ", one agrees with the category"
            } else {
                ""
            }
        )?;
        for f in t["findings"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "   {}:{}: [{}] ({}) {}\n      {}\n      fix: {}",
                f["file"].as_str().unwrap_or(""),
                f["line"],
                f["rule"].as_str().unwrap_or(""),
                f["category"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or(""),
                f["snippet"].as_str().unwrap_or("").trim(),
                f["fix"].as_str().unwrap_or("")
            )?;
        }
        shown += usize::from(findings > 0);
    }
    writeln!(
        out,
        "{shown} of {} flaky test{} with findings",
        flaky.len(),
        if flaky.len() == 1 { "" } else { "s" }
    )?;
    for (file, reason) in &scan.errors {
        writeln!(out, "note: {file}: {reason}")?;
    }
    Ok(())
}

/// How much a finding that agrees with the verdict's category raises its confidence: a quarter
/// of the way to certainty, once (0.6 → 0.7, 0.8 → 0.85).
pub const AGREEMENT_GAIN: f64 = 0.25;

/// The findings inside each of the given tests (ids as the store has them), from the test
/// files found relative to the current directory or the repository root (their directories are
/// scanned). Files that are not there (another checkout, a CI-only path) give no findings.
pub fn findings_for(ctx: &Context, ids: &[&str]) -> HashMap<String, Vec<Finding>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for id in ids {
        // pytest ids (`tests/test_x.py::test`) and jest ids (`tests/x.test.js › describe › t`)
        // name their file; cargo's (`module::tests::t`) do not.
        let file = match (id.split_once(" › "), id.split_once("::")) {
            (Some((f, _)), _)
                if flakehound_lint::javascript::test_file_dialect(Path::new(f)).is_some() =>
            {
                f
            }
            (_, Some((f, _))) if f.ends_with(".py") => f,
            _ => continue,
        };
        for base in [Path::new("."), ctx.root.as_path()] {
            let p = base.join(file);
            if p.is_file() {
                files.push(p);
                break;
            }
        }
    }
    if files.is_empty() {
        return HashMap::new();
    }
    // Their directories, not only the files: state another test changes (the polluter of an
    // order-dependent victim) is found in the other tests.
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            f.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut config = config(ctx, None);
    // Evidence for a test that already flakes: the pedantic rules' findings count too (a
    // sleep inside a test diagnose calls a concurrency flake is the line to look at).
    config.pedantic = true;
    let only: HashSet<String> = ids.iter().map(|s| s.to_string()).collect();
    let scan = flakehound_lint::scan(&dirs, &config, Some(&only));
    let mut out: HashMap<String, Vec<Finding>> = HashMap::new();
    for f in scan.findings {
        for t in &f.tests {
            out.entry(t.clone()).or_default().push(f.clone());
        }
    }
    out
}

/// A `report --json` entry: the entry as before, then `lint_findings` when the test is flaky
/// and the scan found something inside it (serialized in the entry's own key order).
#[derive(serde::Serialize)]
pub struct WithFindings {
    #[serde(flatten)]
    entry: flakehound_analysis::ReportEntry,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lint_findings: Vec<Finding>,
}

/// The entries with the findings inside their flaky tests; the confidence of those whose
/// findings agree with their category is raised ([`AGREEMENT_GAIN`]).
pub fn attach(ctx: &Context, entries: &[flakehound_analysis::ReportEntry]) -> Vec<WithFindings> {
    let ids: Vec<&str> = entries
        .iter()
        .filter(|e| e.verdict == Verdict::Flaky)
        .map(|e| e.ranked.id.as_str())
        .collect();
    let mut found = if ids.is_empty() {
        HashMap::new()
    } else {
        findings_for(ctx, &ids)
    };
    entries
        .iter()
        .map(|e| {
            let mut entry = e.clone();
            let lint_findings = if e.verdict == Verdict::Flaky {
                found.remove(&e.ranked.id).unwrap_or_default()
            } else {
                Vec::new()
            };
            if e.category
                .is_some_and(|c| lint_findings.iter().any(|f| f.category == c.as_str()))
            {
                entry.confidence = raised(e.confidence);
            }
            WithFindings {
                entry,
                lint_findings,
            }
        })
        .collect()
}

/// A confidence raised by a finding that agrees with the category.
fn raised(confidence: f64) -> f64 {
    confidence + (1.0 - confidence) * AGREEMENT_GAIN
}

fn add_findings(v: &mut Value, e: &flakehound_analysis::ReportEntry, fs: &[Finding]) {
    let agrees = e
        .category
        .is_some_and(|c| fs.iter().any(|f| f.category == c.as_str()));
    if agrees {
        v["confidence"] = json!(raised(e.confidence));
    }
    v["lint_findings"] = serde_json::to_value(fs).unwrap_or(Value::Null);
}

/// `explain`: the entry's JSON with its findings, and the findings for the text view.
pub fn explain(
    ctx: &Context,
    entry: Option<&flakehound_analysis::ReportEntry>,
) -> (Option<Value>, Vec<Finding>) {
    let Some(e) = entry else {
        return (None, Vec::new());
    };
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if e.verdict != Verdict::Flaky {
        return (Some(v), Vec::new());
    }
    let fs = findings_for(ctx, &[e.ranked.id.as_str()])
        .remove(&e.ranked.id)
        .unwrap_or_default();
    if !fs.is_empty() {
        add_findings(&mut v, e, &fs);
    }
    (Some(v), fs)
}

/// The text view of a flaky test's findings, under `explain`.
pub fn explain_text(
    out: &mut dyn Write,
    entry: &flakehound_analysis::ReportEntry,
    fs: &[Finding],
) -> std::io::Result<()> {
    if fs.is_empty() {
        return Ok(());
    }
    let category = entry.category.map(|c| c.as_str());
    writeln!(
        out,
        "Static scan (flakehound lint): {} finding{}",
        fs.len(),
        if fs.len() == 1 { "" } else { "s" }
    )?;
    for f in fs {
        let agree = if Some(f.category) == category {
            " (agrees with the category)"
        } else {
            ""
        };
        writeln!(
            out,
            "  {}:{}: [{}] {}{agree}\n    {}\n    fix: {}",
            f.file,
            f.line,
            f.rule,
            f.message,
            f.snippet.trim(),
            f.fix
        )?;
    }
    if fs.iter().any(|f| Some(f.category) == category) {
        writeln!(
            out,
            "  a finding agrees with the verdict's category: confidence {:.0}% → {:.0}%",
            entry.confidence * 100.0,
            raised(entry.confidence) * 100.0
        )?;
    }
    writeln!(out)
}
