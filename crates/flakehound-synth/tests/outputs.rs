//! The history reaches the store and JUnit files intact.

use flakehound_ingest::{collect_bytes, count_file};
use flakehound_model::{Counts, Format, Outcome};
use flakehound_store::Store;
use flakehound_store_sqlite::SqliteStore;
use flakehound_synth::{Config, generate, write_junit, write_to_store};
use std::collections::BTreeMap;

#[test]
fn store_totals_match() {
    let h = generate(&Config::small(21));
    let mut store = SqliteStore::in_memory().unwrap();
    write_to_store(&h, &mut store).unwrap();
    let totals = store.totals().unwrap();
    assert_eq!(totals.runs as usize, h.runs.len());
    assert_eq!(totals.reports as usize, h.runs.len());
    assert_eq!(totals.tests as usize, h.truth.len());
    assert_eq!(totals.results as usize, h.attempts());

    // Per-test aggregates agree with the history.
    let mut failures: BTreeMap<&str, u64> = BTreeMap::new();
    let mut retry_passes: BTreeMap<&str, u64> = BTreeMap::new();
    for run in &h.runs {
        for (i, c) in run.cases.iter().enumerate() {
            *failures.entry(&c.id).or_default() += u64::from(c.outcome.is_failure());
            if i >= run.session_len && c.outcome == Outcome::Passed {
                *retry_passes.entry(&c.id).or_default() += 1;
            }
        }
    }
    let stats = store.test_stats().unwrap();
    assert_eq!(stats.len(), h.truth.len());
    for s in &stats {
        assert_eq!(s.failures, failures[s.id.as_str()], "{}", s.id);
        assert_eq!(
            s.retry_passes,
            retry_passes.get(s.id.as_str()).copied().unwrap_or(0),
            "{}",
            s.id
        );
        let skipped_on_macos = h.truth[&s.id] == flakehound_synth::Truth::Stable
            && h.details.get(&s.id).is_some_and(|d| d.os.is_some());
        if !skipped_on_macos {
            assert_eq!(s.commits as usize, h.commits.len(), "{}", s.id);
        }
    }

    // Writing again changes nothing; another seed adds its own runs.
    write_to_store(&h, &mut store).unwrap();
    assert_eq!(store.totals().unwrap(), totals);
    let other = generate(&Config::small(22));
    write_to_store(&other, &mut store).unwrap();
    assert_eq!(
        store.totals().unwrap().reports as usize,
        h.runs.len() + other.runs.len()
    );
}

#[test]
fn junit_files_parse_back_to_the_same_records() {
    let h = generate(&Config::small(8));
    let dir = tempfile::tempdir().unwrap();
    write_junit(&h, dir.path()).unwrap();

    let mut total = Counts::default();
    let mut want = Counts::default();
    for (i, run) in h.runs.iter().enumerate() {
        let d = dir.path().join(format!("runs/{i:04}"));
        let (session, retries) = run.cases.split_at(run.session_len);
        for (file, cases) in [("attempt-1.xml", session), ("attempt-2.xml", retries)] {
            let path = d.join(file);
            if cases.is_empty() {
                assert!(!path.exists(), "{}", path.display());
                continue;
            }
            let (info, counts) = count_file(&path, None).unwrap();
            assert_eq!(info.format, Some(Format::Junit));
            assert_eq!(counts.tests as usize, cases.len());
            for c in cases {
                want.add(c.outcome);
            }
            total.tests += counts.tests;
            total.passed += counts.passed;
            total.failed += counts.failed;
            total.errored += counts.errored;
            total.skipped += counts.skipped;
            // Record for record, the parser gives back what was generated.
            let (_, parsed) = collect_bytes(&std::fs::read(&path).unwrap(), None).unwrap();
            assert_eq!(parsed.as_slice(), cases, "{}", path.display());
        }
    }
    assert_eq!(total, want);
    assert!(total.failed > 0 && total.errored > 0 && total.skipped > 0);

    let tsv = std::fs::read_to_string(dir.path().join("runs.tsv")).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(
        lines[0],
        "# dir\tcommit\tbranch\trunner\trun_id\tattempt\ttimestamp\tjob"
    );
    assert_eq!(lines.len(), h.runs.len() + 1);
    for (line, run) in lines[1..].iter().zip(&h.runs) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 8);
        assert_eq!(Some(cols[1]), run.meta.commit.as_deref());
        assert_eq!(Some(cols[3]), run.meta.runner.as_deref());
        assert_eq!(Some(cols[4]), run.meta.run_id.as_deref());
        assert_eq!(cols[5], run.meta.run_attempt.unwrap().to_string());
        assert_eq!(Some(cols[6]), run.meta.started_at.as_deref());
        assert_eq!(Some(cols[7]), run.meta.job.as_deref());
    }

    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
    let tests = truth["tests"].as_object().unwrap();
    assert_eq!(tests.len(), h.truth.len());
    let flaky = tests
        .values()
        .filter(|t| t["verdict"] == "flaky")
        .collect::<Vec<_>>();
    assert!(
        flaky
            .iter()
            .all(|t| t["category"].is_string() && t["rate"].is_number())
    );
    assert!(
        flaky
            .iter()
            .any(|t| t["category"] == "order" && t["polluter"].is_string())
    );
    assert_eq!(
        truth["incidents"].as_array().unwrap().len(),
        h.incidents.len()
    );
}
