//! The bisection as evidence: every execution is a run (source `bisect`) at the commit it
//! tested, and the result is a note on the test, which `explain` shows. The default range comes
//! from the store.

use crate::exec::{Bisection, Execution};
use crate::git::short;
use flakehound_model::{ReportInfo, RunMeta, RunSource};
use flakehound_store::{Note, NoteKind, Store};

/// Records the executions, one run each (`bisect/{session}/{n}`, its commit the tested one, its
/// job `bisect {short sha}`; see [`flakehound_evidence::own`]), and flushes the store.
pub fn record(
    store: &mut dyn Store,
    session: &str,
    meta: &RunMeta,
    runs: &[Execution],
) -> flakehound_store::Result<()> {
    use flakehound_evidence::own;
    for (i, e) in runs.iter().enumerate() {
        let mut meta = meta.clone();
        meta.commit = Some(e.commit.clone());
        // The branch checked out is not what ran.
        meta.branch = None;
        let batch = own::Session {
            source: &RunSource::Bisect,
            id: session,
            meta: &meta,
            runs: own::Runs::Each,
        };
        let execution = own::Execution {
            number: i as u32 + 1,
            command: &e.command,
            label: Some(format!("bisect {}", short(&e.commit))),
            started: jiff::Timestamp::try_from(e.started)
                .ok()
                .map(|t| t.to_string()),
            seconds: Some(e.seconds),
            info: ReportInfo {
                properties: vec![("flakehound.commit".into(), e.commit.clone())],
                ..Default::default()
            },
            cases: &e.cases,
            ..Default::default()
        };
        own::record(store, &batch, [execution])?;
    }
    store.flush()
}

/// The result in one line, as the note says it.
pub fn summary(b: &Bisection) -> String {
    let pct = |r: &flakehound_analysis::stats::Rate| {
        format!(
            "{:.0}% [{:.0}–{:.0}%] ({} of {})",
            100.0 * r.mean,
            100.0 * r.low,
            100.0 * r.high,
            r.failures,
            r.trials
        )
    };
    let runs = format!("{} executions over {} commits", b.executions, b.commits);
    match (&b.culprit, &b.culprit_commit) {
        (Some(sha), commit) if b.candidates.is_empty() => format!(
            "bisect: culprit {} {:?} (probability {:.3}{}); failure rate before {}, after {}; {runs}",
            short(sha),
            commit.as_ref().map_or("", |c| c.subject.as_str()),
            b.probability,
            if b.decided { "" } else { ", undecided" },
            pct(&b.rate_before),
            pct(&b.rate_after),
        ),
        (Some(_), _) => format!(
            "bisect: the culprit is one of {} (skipped commits could not be tested; probability {:.3}); failure rate before {}, after {}; {runs}",
            b.candidates
                .iter()
                .map(|c| short(c))
                .collect::<Vec<_>>()
                .join(", "),
            b.probability,
            pct(&b.rate_before),
            pct(&b.rate_after),
        ),
        (None, _) => format!(
            "bisect: no culprit between {} and {} (probability {:.3}{}): flaky all along, failure rate {}; {runs}",
            short(&b.good),
            short(&b.bad),
            b.probability,
            if b.decided { "" } else { ", undecided" },
            pct(&b.rate_before),
        ),
    }
}

/// Stores the result as a note on the test (kind `diagnosis`, author `flakehound bisect`).
pub fn note(store: &mut dyn Store, b: &Bisection) -> flakehound_store::Result<i64> {
    store.add_note(&Note {
        test: b.test.clone(),
        kind: NoteKind::Diagnosis,
        text: summary(b),
        author: Some("flakehound bisect".into()),
        ..Default::default()
    })
}

/// Where the store says the change is: the verdict's culprit range (its first commit's parent
/// and its last commit), else the last commit where the test only passed before its first
/// failure and the newest commit where it failed. `None` when the store cannot tell (the
/// test never failed, or no run has a commit); an error when it does not know the test.
pub fn default_range(store: &mut dyn Store, test: &str) -> crate::Result<Option<(String, String)>> {
    let report = flakehound_analysis::report_from_store(store, true)?;
    let Some(entry) = report.entries.iter().find(|e| e.ranked.id == test) else {
        return Err(crate::Error::Usage(format!(
            "no test {test:?} in the store (ids are listed by `flakehound report --all`); pass --good and --bad"
        )));
    };
    if let Some(c) = &entry.culprit {
        return Ok(Some((format!("{}^", c.range.0), c.range.1.clone())));
    }
    let ev = store.evidence()?;
    let Some(t) = ev.tests.iter().position(|t| t.id == test) else {
        return Ok(None);
    };
    // (start, commit, failed) of every stored result of the test at a known commit.
    let mut seen: Vec<(&str, &str, bool)> = ev
        .results
        .iter()
        .filter(|r| r.test as usize == t)
        .filter_map(|r| {
            let run = ev.runs.get(r.run as usize)?;
            // The history: not flakehound's own experiments (earlier bisections included).
            if run.source.is_experiment() {
                return None;
            }
            let commit = run.commit.as_deref()?;
            Some((run.started_at.as_str(), commit, r.outcome.is_failure()))
        })
        .collect();
    seen.sort();
    let Some(first_fail) = seen.iter().position(|s| s.2) else {
        return Ok(None);
    };
    let bad = seen.iter().rev().find(|s| s.2).map(|s| s.1);
    let failing: std::collections::HashSet<&str> =
        seen.iter().filter(|s| s.2).map(|s| s.1).collect();
    let good = seen[..first_fail]
        .iter()
        .rev()
        .find(|s| !failing.contains(s.1))
        .map(|s| s.1);
    Ok(match (good, bad) {
        (Some(g), Some(b)) if g != b => Some((g.to_string(), b.to_string())),
        _ => None,
    })
}
