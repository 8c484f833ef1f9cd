//! The three views of a scan: a terminal view with the code excerpt (like a compiler
//! diagnostic), JSON, and SARIF 2.1.0 for GitHub code scanning.

use crate::project::{Finding, Scan};
use crate::rules::RULES;
use serde_json::{Value, json};
use std::io::{self, Write};

/// The terminal view. `color` adds ANSI colours.
pub fn text(out: &mut dyn Write, scan: &Scan, color: bool) -> io::Result<()> {
    let (yellow, blue, bold, reset) = if color {
        ("\x1b[33m", "\x1b[34m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    for f in &scan.findings {
        finding(out, f, (yellow, blue, bold, reset))?;
        writeln!(out)?;
    }
    for (file, reason) in &scan.errors {
        writeln!(out, "{yellow}note{reset}: {file}: {reason}")?;
    }
    let flagged: std::collections::HashSet<&str> = scan
        .findings
        .iter()
        .flat_map(|f| f.tests.iter().map(String::as_str))
        .collect();
    writeln!(
        out,
        "{bold}{} finding{} in {} test{}{reset} ({} test files, {} tests, {} project modules followed)",
        scan.findings.len(),
        if scan.findings.len() == 1 { "" } else { "s" },
        flagged.len(),
        if flagged.len() == 1 { "" } else { "s" },
        scan.files,
        scan.tests,
        scan.modules
    )
}

fn finding(out: &mut dyn Write, f: &Finding, c: (&str, &str, &str, &str)) -> io::Result<()> {
    let (yellow, blue, bold, reset) = c;
    // A pedantic rule's finding, or a default rule's pedantic form (shown only when asked
    // for), is a note, as in SARIF.
    let level = finding_level(f);
    writeln!(
        out,
        "{yellow}{bold}{level}[{}]{reset}{bold}: {}{reset}",
        f.rule, f.message
    )?;
    let num = f.line.to_string();
    let pad = " ".repeat(num.len());
    writeln!(
        out,
        "{pad}{blue}-->{reset} {}:{}:{}",
        f.file, f.line, f.column
    )?;
    writeln!(out, "{pad} {blue}|{reset}")?;
    writeln!(out, "{blue}{num} |{reset} {}", f.snippet)?;
    // The caret line, under the span (tabs kept so it lines up).
    let start = f.column.saturating_sub(1) as usize;
    let width = f.end_column.saturating_sub(f.column).max(1) as usize;
    let lead: String = f
        .snippet
        .chars()
        .take(start)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let width = width.min(f.snippet.chars().count().saturating_sub(start).max(1));
    writeln!(
        out,
        "{pad} {blue}|{reset} {lead}{yellow}{}{reset}",
        "^".repeat(width)
    )?;
    writeln!(out, "{pad} {blue}={reset} category: {}", f.category)?;
    match f.tests.len() {
        0 => writeln!(out, "{pad} {blue}={reset} test: none reaches it")?,
        n => {
            let via = if f.via.is_empty() {
                String::new()
            } else {
                format!(" (via {})", f.via.join(" → "))
            };
            let more = if n > 1 {
                format!(" and {} more", n - 1)
            } else {
                String::new()
            };
            writeln!(out, "{pad} {blue}={reset} test: {}{via}{more}", f.tests[0])?;
        }
    }
    for r in &f.related {
        writeln!(
            out,
            "{pad} {blue}={reset} see: {}:{}: {}",
            r.file, r.line, r.message
        )?;
    }
    writeln!(out, "{pad} {blue}={reset} fix: {}", f.fix)
}

/// The JSON view: the findings, the files that could not be parsed, and counts.
pub fn json(scan: &Scan) -> Value {
    json!({
        "findings": scan.findings,
        "errors": scan.errors.iter().map(|(f, r)| json!({"file": f, "reason": r})).collect::<Vec<_>>(),
        "files": scan.files,
        "modules": scan.modules,
        "tests": scan.tests,
    })
}

/// A rule's SARIF level: `note` for the pedantic tier (shown only when opted into, and less
/// often a real flake), `warning` for the default set.
fn level(r: &crate::Rule) -> &'static str {
    match r.tier {
        crate::rules::Tier::Pedantic => "note",
        crate::rules::Tier::Default => "warning",
    }
}

/// One finding's level: its rule's, or `note` for a default rule's pedantic form.
fn finding_level(f: &Finding) -> &'static str {
    if f.pedantic {
        return "note";
    }
    crate::rules::by_id(f.rule).map_or("warning", level)
}

/// The SARIF 2.1.0 log: one run, the rules in the driver, a result per finding (the tests in
/// its properties, the shared-state partner as a related location).
pub fn sarif(scan: &Scan, version: &str) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": format!("{} (root-cause category: {})", r.summary, r.category.as_str())},
                "help": {"text": r.fix, "markdown": format!("**Fix:** {}", r.fix)},
                "defaultConfiguration": {"level": level(r)},
                "properties": {"category": r.category.as_str(), "tags": ["flaky-test", r.category.as_str()]},
            })
        })
        .collect();
    let results: Vec<Value> = scan
        .findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
            let mut text = f.message.clone();
            if let Some(t) = f.tests.first() {
                text.push_str(&format!(" Test: {t}."));
            }
            text.push_str(&format!(" Fix: {}", f.fix));
            let related: Vec<Value> = f
                .related
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    json!({
                        "id": i,
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri(&r.file)},
                            "region": {"startLine": r.line, "startColumn": r.column},
                        },
                        "message": {"text": r.message},
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": finding_level(f),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&f.file)},
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endColumn": f.end_column,
                            "snippet": {"text": f.snippet},
                        },
                    },
                }],
                "partialFingerprints": {
                    "flakehound/v1": format!("{}:{}:{}", f.rule, f.file, f.snippet.trim()),
                },
                "properties": {"category": f.category, "tests": f.tests, "via": f.via},
            });
            if !related.is_empty() {
                result["relatedLocations"] = Value::Array(related);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "flakehound",
                "informationUri": "https://github.com/flakehound/flakehound",
                "semanticVersion": version,
                "rules": rules,
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    })
}

/// A relative URI for a path (`/`-separated, spaces and `%` escaped).
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for ch in path.replace('\\', "/").chars() {
        match ch {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out
}
