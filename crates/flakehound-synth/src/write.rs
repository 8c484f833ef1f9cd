//! JUnit output in the layout of `examples/history`.

use crate::generator::JOB;
use crate::{Detail, History, Truth};
use flakehound_model::{Outcome, TestCase};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `history` under `dir`:
/// - `runs/NNNN/attempt-1.xml`: the run's session (pytest JUnit XML), `NNNN` its index in
///   [`History::runs`];
/// - `runs/NNNN/attempt-2.xml`: the retries of failed tests in that job, when there are any;
/// - `runs.tsv`: one line per run, `dir commit branch runner run_id attempt timestamp job`
///   (tab-separated, after a `#` header line), `attempt` being the whole-job re-run number;
/// - `truth.json`: seed, bad runner, incident run directories and every test's truth with its
///   details.
///
/// Ingesting each directory with `flakehound ingest --provider github-actions --commit ...
/// --run-id ... --attempt ... --job ...` (as `examples/demo.sh` does) reproduces the runs.
pub fn write_junit(history: &History, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir.join("runs"))?;
    let mut tsv = String::from("# dir\tcommit\tbranch\trunner\trun_id\tattempt\ttimestamp\tjob\n");
    for (i, run) in history.runs.iter().enumerate() {
        let rel = format!("runs/{i:04}");
        let d = dir.join(&rel);
        fs::create_dir_all(&d)?;
        let m = &run.meta;
        let started = m.started_at.as_deref().unwrap_or("");
        let start: i64 = started
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .unwrap_or(0);
        let host = m.runner.as_deref().unwrap_or("");
        let split = run.session_len;
        let (session, retries) = run.cases.split_at(split);
        let busy: f64 = session.iter().filter_map(TestCase::duration).sum();
        suite(&d.join("attempt-1.xml"), session, Some(start), host)?;
        if !retries.is_empty() {
            suite(
                &d.join("attempt-2.xml"),
                retries,
                Some(start + busy as i64 + 30),
                host,
            )?;
        }
        let row = [
            rel.as_str(),
            m.commit.as_deref().unwrap_or(""),
            m.branch.as_deref().unwrap_or(""),
            host,
            m.run_id.as_deref().unwrap_or(""),
            &m.run_attempt.unwrap_or(1).to_string(),
            started,
            m.job.as_deref().unwrap_or(JOB),
        ];
        tsv.push_str(&row.join("\t"));
        tsv.push('\n');
    }
    fs::write(dir.join("runs.tsv"), tsv)?;
    write_truth(history, &dir.join("truth.json"))
}

/// Writes `history` as a folder of downloaded CI artifacts that carry no metadata at all:
/// `dir/run-NNNN.xml` per run (the session, then the retries as later records of the same
/// tests, as pytest-rerunfailures writes them), without timestamps or host names, in run order;
/// plus `dir/../truth.json`-style truth at `truth` when given. This is what a user gets by
/// downloading old reports into one folder: only the file layout says which records form a run.
pub fn write_junit_bare(history: &History, dir: &Path, truth: Option<&Path>) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for (i, run) in history.runs.iter().enumerate() {
        suite(&dir.join(format!("run-{i:04}.xml")), &run.cases, None, "")?;
    }
    match truth {
        Some(path) => write_truth(history, path),
        None => Ok(()),
    }
}

#[derive(Serialize)]
struct TruthFile<'a> {
    seed: u64,
    bad_runner: &'a Option<String>,
    incidents: Vec<String>,
    commits: &'a [String],
    tests: BTreeMap<&'a str, Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    truth: &'a Truth,
    #[serde(flatten)]
    detail: Option<&'a Detail>,
}

fn write_truth(history: &History, path: &Path) -> io::Result<()> {
    let file = TruthFile {
        seed: history.seed,
        bad_runner: &history.bad_runner,
        incidents: history
            .incidents
            .iter()
            .map(|i| format!("runs/{i:04}"))
            .collect(),
        commits: &history.commits,
        tests: history
            .truth
            .iter()
            .map(|(id, truth)| {
                let detail = history.details.get(id);
                (id.as_str(), Entry { truth, detail })
            })
            .collect(),
    };
    let mut out = BufWriter::new(fs::File::create(path)?);
    serde_json::to_writer_pretty(&mut out, &file)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn escape(s: &str, out: &mut String, attr: bool) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// One `<testsuite>` of `cases`; `start` (unix seconds) and `host` are written when given.
fn suite(path: &Path, cases: &[TestCase], start: Option<i64>, host: &str) -> io::Result<()> {
    let mut counts = [0usize; 3]; // failures, errors, skipped
    let mut time = 0.0;
    for c in cases {
        match c.outcome {
            Outcome::Failed => counts[0] += 1,
            Outcome::Errored => counts[1] += 1,
            Outcome::Skipped => counts[2] += 1,
            Outcome::Passed => {}
        }
        time += c.duration().unwrap_or(0.0);
    }
    let stamp = match start.map(jiff::Timestamp::from_second) {
        Some(Ok(t)) => format!(" timestamp=\"{}\"", t.strftime("%Y-%m-%dT%H:%M:%S")),
        _ => String::new(),
    };
    let mut s = String::with_capacity(cases.len() * 160 + 256);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites>\n");
    s.push_str(&format!(
        "  <testsuite name=\"pytest\" errors=\"{}\" failures=\"{}\" skipped=\"{}\" tests=\"{}\" time=\"{time:.3}\"{stamp}",
        counts[1],
        counts[0],
        counts[2],
        cases.len()
    ));
    if !host.is_empty() {
        s.push_str(" hostname=\"");
        escape(host, &mut s, true);
        s.push('"');
    }
    s.push_str(">\n");
    for c in cases {
        s.push_str("    <testcase classname=\"");
        escape(c.classname.as_deref().unwrap_or(""), &mut s, true);
        s.push_str("\" name=\"");
        escape(&c.name, &mut s, true);
        let attempt = &c.attempts[0];
        s.push_str(&format!(
            "\" time=\"{:.3}\"",
            attempt.duration.unwrap_or(0.0)
        ));
        if let Some(file) = &c.file {
            s.push_str(" file=\"");
            escape(file, &mut s, true);
            s.push('"');
        }
        if let Some(line) = c.line {
            // Written as pytest does: its item locations are 0-based (the parser adds 1).
            s.push_str(&format!(" line=\"{}\"", line.saturating_sub(1)));
        }
        let element = match c.outcome {
            Outcome::Passed => None,
            Outcome::Failed => Some("failure"),
            Outcome::Errored => Some("error"),
            Outcome::Skipped => Some("skipped"),
        };
        match (element, &attempt.failure) {
            (Some(el), Some(f)) => {
                s.push_str(&format!(">\n      <{el}"));
                if let Some(kind) = &f.kind {
                    s.push_str(" type=\"");
                    escape(kind, &mut s, true);
                    s.push('"');
                }
                if let Some(message) = &f.message {
                    s.push_str(" message=\"");
                    escape(message, &mut s, true);
                    s.push('"');
                }
                s.push('>');
                escape(f.details.as_deref().unwrap_or(""), &mut s, false);
                s.push_str(&format!("</{el}>\n    </testcase>\n"));
            }
            (Some(el), None) => s.push_str(&format!(">\n      <{el}/>\n    </testcase>\n")),
            (None, _) => s.push_str("/>\n"),
        }
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    fs::write(path, s)
}
