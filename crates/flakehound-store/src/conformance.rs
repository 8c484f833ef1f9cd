//! The one definition of what a store engine must do: every engine runs these cases against
//! itself (`tests/conformance.rs` of each engine crate, one `#[test]` per case through
//! [`conformance_tests!`](crate::conformance_tests)).
//!
//! A case gets a [`Harness`] that opens handles on fresh, empty stores: `open(db, project)` is a
//! handle on the case's store number `db` (0 to 3, each empty until the case writes to it),
//! scoped to `project`. Handles on the same `db` share its data, like two processes on one store.
//! Only the [`Store`] trait is used, so a case that passes on one engine and fails on another
//! has found a difference in meaning. Cases panic on failure, like `#[test]`s.

use crate::{
    Evidence, NewReport, Note, NoteKind, Result, RunKey, Store, TestStats, Totals, Written,
};
use flakehound_model::{
    Attempt, Category, Counts, Failure, Format, Outcome, ReportInfo, RunMeta, RunSource, TestCase,
};

/// Opens store handles for a case.
pub trait Harness {
    /// A handle on store `db` (0..4; each starts empty), scoped to `project`.
    fn open(&mut self, db: usize, project: &str) -> Box<dyn Store>;
    /// The server's records ([`crate::Admin`]) in store `db`; `None` when the harness has no
    /// way to open them (the admin case then fails).
    fn admin(&mut self, db: usize) -> Option<Box<dyn crate::Admin>> {
        let _ = db;
        None
    }
    /// Alerting's records ([`crate::AlertStore`]) in store `db`; each call is a new handle (a
    /// new connection: another replica). `None` when the harness cannot open them (the alerts
    /// case then fails).
    fn alerts(&mut self, db: usize) -> Option<Box<dyn crate::AlertStore>> {
        let _ = db;
        None
    }
}

impl<F: FnMut(usize, &str) -> Box<dyn Store>> Harness for F {
    fn open(&mut self, db: usize, project: &str) -> Box<dyn Store> {
        self(db, project)
    }
}

/// One `#[test]` per case of the suite. The argument is an expression evaluated in each test,
/// giving `Option<impl Harness>`; `None` skips the test (the harness says why).
#[macro_export]
macro_rules! conformance_tests {
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let Some(mut harness) = $harness else { return };
                $crate::conformance::$case(&mut harness);
            }
        )*
    };
    ($harness:expr) => {
        $crate::conformance_tests!(@cases $harness;
            atomic_reports,
            idempotent_by_content_hash,
            numbering_across_reports_of_a_run,
            test_stats_aggregates,
            evidence_is_ordered_and_interned,
            failing_evidence_lists_every_run,
            run_order,
            notes_add_list_remove,
            totals,
            projects_do_not_see_each_other,
            timestamps_are_utc,
            test_file_learned_later,
            merge_replays_and_is_idempotent,
            merging_shards_equals_writing_one,
            export_round_trips,
            admin_tokens_and_uploads,
            alert_states_compare_and_set,
            ci_jobs_imported_once,
            failure_texts_newest_first,
            retention_prunes_by_commit_and_keeps_stats,
            public_upload_ids,
            alert_configs_per_project,
            dashboard_sessions_and_codeowners,
            codeowners_offers,
            announced_reports_are_written_as_unannounced,
        );
    };
}

/// A test case record with one attempt per outcome.
pub fn case(id: &str, outcomes: &[Outcome]) -> TestCase {
    TestCase {
        id: id.into(),
        classname: None,
        name: id.into(),
        file: None,
        line: None,
        suite: vec![],
        outcome: outcomes.iter().fold(Outcome::Skipped, |a, &o| a.worst(o)),
        attempts: outcomes.iter().map(|&o| Attempt::new(o)).collect(),
        properties: vec![],
        timestamp: None,
    }
}

fn failing(id: &str, message: &str, then: &[Outcome]) -> TestCase {
    let mut c = case(id, &[&[Outcome::Failed], then].concat());
    c.attempts[0].failure = Some(Failure {
        message: Some(message.into()),
        ..Default::default()
    });
    c
}

/// A report of run `run` on `commit` (None: no commit), written with every record, committed
/// and flushed (so another handle on the store sees it and may write).
fn write(
    s: &mut dyn Store,
    hash: &str,
    run: &str,
    commit: Option<&str>,
    cases: &[TestCase],
) -> Written {
    let meta = RunMeta {
        commit: commit.map(str::to_string),
        ..Default::default()
    };
    write_meta(s, hash, run, &meta, cases, &ReportInfo::default())
}

fn write_meta(
    s: &mut dyn Store,
    hash: &str,
    run: &str,
    meta: &RunMeta,
    cases: &[TestCase],
    info: &ReportInfo,
) -> Written {
    let key = RunKey(run.into());
    let nr = NewReport::ci_junit(hash, &key, meta);
    let written = (|| -> Result<Written> {
        let mut w = s.begin_report(&nr)?;
        for c in cases {
            w.add(c.clone())?;
        }
        let written = w.commit(info)?;
        s.flush()?;
        Ok(written)
    })();
    written.unwrap_or_else(|e| panic!("writing report {hash}: {e}"))
}

fn stats(s: &mut dyn Store) -> Vec<TestStats> {
    let mut v = s.test_stats().expect("test_stats");
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

fn stat<'a>(v: &'a [TestStats], id: &str) -> &'a TestStats {
    v.iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("no stats for {id}"))
}

/// Results as (run key, test id, attempt, position, outcome, message), in evidence order.
type Flat = Vec<(String, String, u32, u32, Outcome, Option<String>)>;

fn flat(ev: &Evidence) -> Flat {
    ev.results
        .iter()
        .map(|r| {
            (
                ev.runs[r.run as usize].key.clone(),
                ev.tests[r.test as usize].id.clone(),
                r.attempt,
                r.position,
                r.outcome,
                r.message.map(|m| ev.messages[m as usize].clone()),
            )
        })
        .collect()
}

/// Everything a store tells about a project, with engine-assigned ids and interning order
/// removed: two stores holding the same evidence compare equal.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub stats: Vec<TestStats>,
    pub totals: Totals,
    pub runs: Vec<(String, String, Option<String>, u64)>,
    pub results: Flat,
    pub notes: Vec<(String, NoteKind, Option<Category>, String, String)>,
}

pub fn snapshot(s: &mut dyn Store) -> Snapshot {
    let ev = s.evidence().expect("evidence");
    let mut results = flat(&ev);
    results.sort();
    Snapshot {
        stats: stats(s),
        totals: s.totals().expect("totals"),
        runs: ev
            .runs
            .iter()
            .zip(&ev.run_sizes)
            .map(|(r, n)| (r.key.clone(), r.started_at.clone(), r.commit.clone(), *n))
            .collect(),
        results,
        notes: s
            .notes(None)
            .expect("notes")
            .into_iter()
            .map(|n| (n.test, n.kind, n.category, n.text, n.created_at))
            .collect(),
    }
}

/// Dropping a writer without committing leaves nothing: no report, run, test or result, and
/// the run's numbering is not advanced.
pub fn atomic_reports(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    {
        let meta = RunMeta::default();
        let key = RunKey("r".into());
        let nr = NewReport::ci_junit("h", &key, &meta);
        let mut w = s.begin_report(&nr).unwrap();
        w.add(case("x", &[Passed])).unwrap();
        w.add(case("y", &[Failed])).unwrap();
        // Dropped: rolled back.
    }
    s.flush().unwrap();
    assert!(!s.has_report("h").unwrap());
    assert_eq!(s.totals().unwrap(), Totals::default());
    assert!(s.test_stats().unwrap().is_empty());
    assert!(s.evidence().unwrap().runs.is_empty());
    // Writing it for real works, and sees no trace of the dropped attempt.
    let w = write(s.as_mut(), "h", "r", None, &[case("x", &[Passed])]);
    assert_eq!(
        (w.records, w.results, w.new_run, w.duplicate),
        (1, 1, true, false)
    );
    assert!(s.has_report("h").unwrap());
    assert_eq!(stats(s.as_mut()).len(), 1);
    // A dropped second report of an existing run does not advance its numbering.
    {
        let meta = RunMeta::default();
        let key = RunKey("r".into());
        let nr = NewReport::ci_junit("h2", &key, &meta);
        let mut w = s.begin_report(&nr).unwrap();
        w.add(case("x", &[Failed])).unwrap();
    }
    write(s.as_mut(), "h3", "r", None, &[case("x", &[Passed])]);
    let got: Vec<_> = flat(&s.evidence().unwrap())
        .into_iter()
        .map(|r| (r.2, r.3, r.4))
        .collect();
    assert_eq!(got, vec![(1, 0, Passed), (2, 1, Passed)]);
    let t = s.totals().unwrap();
    assert_eq!((t.runs, t.reports, t.tests, t.results), (1, 2, 1, 2));
}

/// A report is identified by its content hash within a project: a second write is a no-op,
/// a concurrent writer that stored it meanwhile makes the commit a duplicate (success), and
/// another project stores its own copy.
pub fn idempotent_by_content_hash(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    write(s.as_mut(), "h1", "r1", Some("c"), &[case("x", &[Passed])]);
    let before = s.totals().unwrap();
    let key = RunKey("r1".into());
    let meta = RunMeta::default();
    let again = crate::write_report(
        s.as_mut(),
        &NewReport::ci_junit("h1", &key, &meta),
        &[case("x", &[Failed])],
        &ReportInfo::default(),
    )
    .unwrap();
    assert_eq!(again, None);
    assert_eq!(s.totals().unwrap(), before);

    // Two writers that both checked before either wrote.
    let mut a = h.open(0, "p");
    let mut b = h.open(0, "p");
    assert!(!a.has_report("same").unwrap());
    assert!(!b.has_report("same").unwrap());
    let first = write(a.as_mut(), "same", "r2", None, &[case("y", &[Passed])]);
    assert!(!first.duplicate);
    assert_eq!(first.results, 1);
    let second = write(b.as_mut(), "same", "r2", None, &[case("y", &[Passed])]);
    assert!(second.duplicate, "{second:?}");
    assert_eq!(
        (second.records, second.results, second.new_run),
        (0, 0, false)
    );
    drop((a, b));
    let t = s.totals().unwrap();
    assert_eq!((t.runs, t.reports, t.results), (2, 2, 2));

    // The same report in another project is stored there too.
    let mut q = h.open(0, "q");
    assert!(!q.has_report("h1").unwrap());
    let w = write(q.as_mut(), "h1", "r1", Some("c"), &[case("x", &[Passed])]);
    assert!(!w.duplicate && w.new_run);
    assert!(q.has_report("h1").unwrap());
    let t = q.totals().unwrap();
    assert_eq!((t.runs, t.reports, t.results), (1, 1, 1));
    assert_eq!(s.totals().unwrap().reports, 2);

    // Many hashes in one question: one answer each, in order, for this project only.
    assert_eq!(
        s.stored_reports(&["same", "nope", "h1", "h1"]).unwrap(),
        [true, false, true, true]
    );
    assert_eq!(q.stored_reports(&["same", "h1"]).unwrap(), [false, true]);
    assert!(q.stored_reports(&[]).unwrap().is_empty());
}

/// Attempt numbers of a test continue across records and reports of one run; positions count
/// every result of the run in order; a new run starts again at attempt 1, position 0.
pub fn numbering_across_reports_of_a_run(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    write(
        s.as_mut(),
        "h1",
        "r1",
        Some("c1"),
        &[
            case("a", &[Failed, Passed]),
            case("b", &[Passed]),
            // A repeated record of a (pytest-rerunfailures): attempt 3.
            case("a", &[Passed]),
        ],
    );
    let w = write(s.as_mut(), "h2", "r1", Some("c1"), &[case("b", &[Failed])]);
    assert_eq!((w.records, w.results, w.new_run), (1, 1, false));
    write(
        s.as_mut(),
        "h3",
        "r2",
        Some("c2"),
        &[case("b", &[Passed]), case("a", &[Passed])],
    );
    let got: Vec<_> = flat(&s.evidence().unwrap())
        .into_iter()
        .map(|r| (r.0, r.1, r.2, r.3))
        .collect();
    let row = |run: &str, t: &str, a, p| (run.to_string(), t.to_string(), a, p);
    assert_eq!(
        got,
        vec![
            row("r1", "a", 1, 0),
            row("r1", "a", 2, 1),
            row("r1", "b", 1, 2),
            row("r1", "a", 3, 3),
            row("r1", "b", 2, 4),
            row("r2", "b", 1, 0),
            row("r2", "a", 1, 1),
        ]
    );
}

/// The per-test aggregates, including retries, commits and the newest failure.
pub fn test_stats_aggregates(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    write(
        s.as_mut(),
        "h1",
        "r1",
        Some("c1"),
        &[
            failing("a", "first\ntrace", &[Passed]),
            case("b", &[Passed]),
        ],
    );
    // A second report of the same run: a rerun of b that fails.
    write(s.as_mut(), "h2", "r1", Some("c1"), &[case("b", &[Failed])]);
    write(
        s.as_mut(),
        "h3",
        "r2",
        Some("c2"),
        &[
            case("a", &[Passed]),
            case("b", &[Passed]),
            case("z", &[Skipped]),
        ],
    );
    let v = stats(s.as_mut());
    let a = stat(&v, "a");
    assert_eq!(
        (
            a.runs,
            a.passes,
            a.failures,
            a.skips,
            a.failed_runs,
            a.retry_passes,
            a.flaky_commits,
            a.commits
        ),
        // The retry pass in r1 is not a same-commit disagreement between runs...
        (2, 2, 1, 0, 1, 1, 0, 2)
    );
    assert_eq!(a.last_failure.as_deref(), Some("first\ntrace"));
    let b = stat(&v, "b");
    assert_eq!(
        (
            b.runs,
            b.passes,
            b.failures,
            b.retry_passes,
            b.flaky_commits
        ),
        (2, 2, 1, 0, 0)
    );
    // A failure without a message is no newest message.
    assert_eq!(b.last_failure, None);
    let z = stat(&v, "z");
    assert_eq!(
        (z.runs, z.skips, z.commits, z.last_seen.as_deref()),
        (0, 1, 0, None)
    );
    // ...but another run of c1 that fails it is; a run without a commit counts for no commit.
    write(
        s.as_mut(),
        "h4",
        "r3",
        Some("c1"),
        &[failing("a", "second", &[])],
    );
    write(s.as_mut(), "h5", "r4", None, &[case("a", &[Failed])]);
    // The newest failure with a message (or failure type) names it: a later failure with only
    // captured output does not hide it.
    let mut quiet = case("a", &[Failed]);
    quiet.attempts[0].stdout = Some("noise".into());
    write(s.as_mut(), "h6", "r5", None, &[quiet]);
    let v = stats(s.as_mut());
    let a = stat(&v, "a");
    assert_eq!(
        (a.runs, a.failed_runs, a.flaky_commits, a.commits),
        (5, 4, 1, 2)
    );
    assert_eq!(a.last_failure.as_deref(), Some("second"));
    let mut typed = case("a", &[Errored]);
    typed.attempts[0].failure = Some(Failure {
        kind: Some("Timeout".into()),
        ..Default::default()
    });
    write(s.as_mut(), "h7", "r6", None, &[typed]);
    assert_eq!(
        stat(&stats(s.as_mut()), "a").last_failure.as_deref(),
        Some("Timeout")
    );
    assert!(a.last_seen.is_some());
    assert_eq!(v.len(), 3);
    assert_eq!((v[0].name.as_str(), v[0].classname.as_deref()), ("a", None));
}

/// Evidence: runs by start time, results by run then position then attempt, distinct first
/// lines of failure messages interned once.
pub fn evidence_is_ordered_and_interned(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    let f = failing("a", "boom 1\nstack", &[Passed]);
    let meta = |t: &str, c: &str| RunMeta {
        commit: Some(c.into()),
        started_at: Some(t.into()),
        branch: Some("main".into()),
        ..Default::default()
    };
    // Stored out of time order: evidence lists runs by start.
    write_meta(
        s.as_mut(),
        "h2",
        "r2",
        &meta("2024-05-02T00:00:00Z", "c2"),
        &[case("b", &[Skipped]), f.clone()],
        &ReportInfo::default(),
    );
    write_meta(
        s.as_mut(),
        "h1",
        "r1",
        &meta("2024-05-01T00:00:00Z", "c1"),
        &[f, case("b", &[Passed])],
        &ReportInfo::default(),
    );
    let ev = s.evidence().unwrap();
    assert_eq!(ev.runs.len(), 2);
    assert_eq!(ev.runs[0].key, "r1");
    assert_eq!(ev.runs[0].commit.as_deref(), Some("c1"));
    assert_eq!(ev.runs[0].branch.as_deref(), Some("main"));
    assert_eq!(ev.runs[0].source, RunSource::Ci);
    assert_eq!(ev.runs[0].started_at, "2024-05-01T00:00:00Z");
    assert_eq!(ev.tests.len(), 2);
    assert_eq!(ev.results.len(), 6);
    // One distinct message (first line only), shared by both failures.
    assert_eq!(ev.messages, vec!["boom 1".to_string()]);
    let order: Vec<_> = ev
        .results
        .iter()
        .map(|r| (r.run, r.position, r.attempt, r.outcome))
        .collect();
    assert_eq!(
        order,
        vec![
            (0, 0, 1, Failed),
            (0, 1, 2, Passed),
            (0, 2, 1, Passed),
            (1, 0, 1, Skipped),
            (1, 1, 1, Failed),
            (1, 2, 2, Passed),
        ]
    );
    assert_eq!(ev.results[0].message, Some(0));
    assert_eq!(ev.results[1].message, None);
    assert_eq!(ev.results[4].message, Some(0));
    assert_eq!(
        ev.tests[ev.results[0].test as usize].id, "a",
        "test indices point into tests"
    );
    // run_sizes: tests executed per run (skips are not executions).
    assert_eq!(ev.run_sizes, vec![2, 1]);
}

/// failing_evidence: only tests that ever failed, every run (with its size), same ordering.
pub fn failing_evidence_lists_every_run(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    write(
        s.as_mut(),
        "h1",
        "r1",
        Some("c1"),
        &[case("ok", &[Passed]), case("other", &[Passed])],
    );
    write(
        s.as_mut(),
        "h2",
        "r2",
        Some("c2"),
        &[
            case("ok", &[Passed]),
            failing("bad", "kaput", &[Passed]),
            case("err", &[Errored]),
        ],
    );
    write(
        s.as_mut(),
        "h3",
        "r3",
        Some("c3"),
        &[case("bad", &[Passed])],
    );
    let ev = s.failing_evidence().unwrap();
    let mut tests: Vec<_> = ev.tests.iter().map(|t| t.id.as_str()).collect();
    tests.sort();
    assert_eq!(tests, ["bad", "err"]);
    let keys: Vec<_> = ev.runs.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(ev.run_sizes.len(), 3);
    let size = |k: &str| ev.run_sizes[keys.iter().position(|x| *x == k).unwrap()];
    assert_eq!((size("r1"), size("r2"), size("r3")), (2, 3, 1));
    let got: Vec<_> = flat(&ev)
        .into_iter()
        .map(|r| (r.0, r.1, r.2, r.4, r.5))
        .collect();
    let row = |run: &str, t: &str, a, o, m: Option<&str>| {
        (run.to_string(), t.to_string(), a, o, m.map(str::to_string))
    };
    assert_eq!(
        got,
        vec![
            row("r2", "bad", 1, Failed, Some("kaput")),
            row("r2", "bad", 2, Passed, None),
            row("r2", "err", 1, Errored, None),
            row("r3", "bad", 1, Passed, None),
        ]
    );
    // The full evidence has the same failing rows.
    let all = flat(&s.evidence().unwrap());
    assert_eq!(all.len(), 7);
}

/// run_order: first executed attempt of each test of the run, with its position.
pub fn run_order(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    write(
        s.as_mut(),
        "h1",
        "r1",
        None,
        &[
            case("a", &[Failed, Passed]),
            case("s", &[Skipped]),
            case("b", &[Passed]),
        ],
    );
    write(
        s.as_mut(),
        "h2",
        "r1",
        None,
        &[case("c", &[Passed]), case("a", &[Passed])],
    );
    write(s.as_mut(), "h3", "r2", None, &[case("z", &[Passed])]);
    let mut order = s.run_order("r1").unwrap();
    order.sort_by_key(|(_, p)| *p);
    assert_eq!(
        order,
        vec![
            ("a".to_string(), 0),
            ("b".to_string(), 3),
            ("c".to_string(), 4)
        ]
    );
    assert!(s.run_order("missing").unwrap().is_empty());
}

/// Notes: ids, kinds, categories, filters, removal, UTC creation times.
pub fn notes_add_list_remove(h: &mut dyn Harness) {
    let mut s = h.open(0, "p");
    let id = s
        .add_note(&Note {
            test: "tests/a.py::t".into(),
            category: Some(Category::Time),
            text: "fails after 23:00 UTC".into(),
            link: Some("https://example.com/1".into()),
            author: Some("ann".into()),
            ..Note::default()
        })
        .unwrap();
    let id2 = s
        .add_note(&Note {
            test: "other".into(),
            kind: NoteKind::Diagnosis,
            text: "x".into(),
            created_at: "2024-05-01T12:00:00+02:00".into(),
            ..Note::default()
        })
        .unwrap();
    assert_ne!(id, id2);
    let notes = s.notes(Some("tests/a.py::t")).unwrap();
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert_eq!(n.id, id);
    assert_eq!(n.kind, NoteKind::Note);
    assert_eq!(n.category, Some(Category::Time));
    assert_eq!(n.link.as_deref(), Some("https://example.com/1"));
    assert_eq!(n.author.as_deref(), Some("ann"));
    assert_eq!(
        crate::time::canonical(&n.created_at).as_deref(),
        Some(n.created_at.as_str()),
        "created_at is canonical UTC"
    );
    let all = s.notes(None).unwrap();
    assert_eq!(
        all.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![id, id2],
        "oldest first"
    );
    assert_eq!(all[1].created_at, "2024-05-01T10:00:00Z");
    assert_eq!(all[1].kind, NoteKind::Diagnosis);
    assert!(s.remove_note(id).unwrap());
    assert!(!s.remove_note(id).unwrap());
    assert!(s.notes(Some("tests/a.py::t")).unwrap().is_empty());
    assert_eq!(s.notes(None).unwrap().len(), 1);
}

/// Totals: runs, reports, tests, results and counts stated only in aggregate.
pub fn totals(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    assert_eq!(s.totals().unwrap(), Totals::default());
    write(
        s.as_mut(),
        "h1",
        "r1",
        None,
        &[case("a", &[Failed, Passed]), case("b", &[Passed])],
    );
    let info = ReportInfo {
        format: Some(Format::Junit),
        aggregate: Some(Counts {
            tests: 5,
            passed: 3,
            failed: 1,
            errored: 0,
            skipped: 1,
        }),
        ..Default::default()
    };
    let w = write_meta(s.as_mut(), "h2", "r2", &RunMeta::default(), &[], &info);
    assert_eq!((w.records, w.results, w.new_run), (0, 0, true));
    let t = s.totals().unwrap();
    assert_eq!(
        t,
        Totals {
            runs: 2,
            reports: 2,
            tests: 2,
            results: 3,
            aggregate: Counts {
                tests: 5,
                passed: 3,
                failed: 1,
                errored: 0,
                skipped: 1
            },
        }
    );
}

/// Two projects in one store: each handle sees only its project's runs, tests and notes;
/// `projects()` lists every project with a run or a note.
pub fn projects_do_not_see_each_other(h: &mut dyn Harness) {
    use Outcome::*;
    let mut p = h.open(0, "p");
    let mut q = h.open(0, "q");
    assert_eq!(p.project(), "p");
    write(
        p.as_mut(),
        "hp",
        "run",
        Some("c"),
        &[failing("t", "p fails", &[]), case("only-p", &[Passed])],
    );
    // Same run key and test ids in q: separate runs and numbering.
    write(q.as_mut(), "hq", "run", Some("c"), &[case("t", &[Passed])]);
    q.add_note(&Note {
        test: "t".into(),
        text: "q's note".into(),
        ..Note::default()
    })
    .unwrap();
    let pid = p
        .add_note(&Note {
            test: "t".into(),
            text: "p's note".into(),
            ..Note::default()
        })
        .unwrap();
    let tp = p.totals().unwrap();
    assert_eq!((tp.runs, tp.reports, tp.tests, tp.results), (1, 1, 2, 2));
    let tq = q.totals().unwrap();
    assert_eq!((tq.runs, tq.reports, tq.tests, tq.results), (1, 1, 1, 1));
    let sq = stats(q.as_mut());
    assert_eq!(sq.len(), 1);
    assert_eq!((sq[0].passes, sq[0].failures), (1, 0));
    assert_eq!(sq[0].last_failure, None);
    let sp = stats(p.as_mut());
    assert_eq!(stat(&sp, "t").failures, 1);
    let eq = q.evidence().unwrap();
    assert_eq!(eq.runs.len(), 1);
    assert_eq!(eq.tests.len(), 1);
    assert_eq!(flat(&eq)[0].2, 1, "attempts are numbered per project");
    assert!(q.failing_evidence().unwrap().tests.is_empty());
    assert_eq!(p.failing_evidence().unwrap().tests.len(), 1);
    assert_eq!(q.run_order("run").unwrap(), vec![("t".to_string(), 0)]);
    assert_eq!(p.run_order("run").unwrap().len(), 2);
    let nq = q.notes(None).unwrap();
    assert_eq!(nq.len(), 1);
    assert_eq!(nq[0].text, "q's note");
    assert_eq!(q.notes(Some("t")).unwrap().len(), 1);
    // A note of p is not q's to remove.
    assert!(!q.remove_note(pid).unwrap());
    assert_eq!(p.notes(None).unwrap().len(), 1);
    // A project with only a note is listed too.
    let mut n = h.open(0, "n");
    n.add_note(&Note {
        test: "x".into(),
        text: "y".into(),
        ..Note::default()
    })
    .unwrap();
    let all = vec!["n".to_string(), "p".to_string(), "q".to_string()];
    for s in [&mut p, &mut q, &mut n] {
        assert_eq!(s.projects().unwrap(), all);
    }
    // Another store knows none of them.
    assert!(h.open(1, "p").projects().unwrap().is_empty());
}

/// Timestamps are stored in canonical UTC: "last seen" and run order compare instants.
pub fn timestamps_are_utc(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    let mut w = |hash: &str, run: &str, started: &str, ok: bool| {
        let meta = RunMeta {
            started_at: Some(started.into()),
            ..Default::default()
        };
        let mut c = case("t", &[if ok { Passed } else { Failed }]);
        c.timestamp = Some(started.into());
        write_meta(s.as_mut(), hash, run, &meta, &[c], &ReportInfo::default());
    };
    // 12:00+02:00 is 10:00 UTC: earlier than 11:30 UTC although it sorts later as text.
    w("h1", "r1", "2024-05-01T11:30:00Z", true);
    w("h2", "r2", "2024-05-01T12:00:00+02:00", false);
    // Fractions (hunt writes nanoseconds) must not break the order either.
    w("h3", "r3", "2024-05-01T09:00:00.123456789Z", true);
    let v = stats(s.as_mut());
    assert_eq!(v[0].last_seen.as_deref(), Some("2024-05-01T11:30:00Z"));
    let ev = s.evidence().unwrap();
    let starts: Vec<_> = ev.runs.iter().map(|r| r.started_at.as_str()).collect();
    assert_eq!(
        starts,
        [
            "2024-05-01T09:00:00Z",
            "2024-05-01T10:00:00Z",
            "2024-05-01T11:30:00Z"
        ]
    );
    // A run without a start time takes the report's timestamp, else when it was stored.
    let info = ReportInfo {
        timestamp: Some("2024-05-01T05:00:00-02:00".into()),
        ..Default::default()
    };
    write_meta(
        s.as_mut(),
        "h4",
        "r4",
        &RunMeta::default(),
        &[case("u", &[Passed])],
        &info,
    );
    write(s.as_mut(), "h5", "r5", None, &[case("u", &[Passed])]);
    let ev = s.evidence().unwrap();
    let r4 = ev.runs.iter().find(|r| r.key == "r4").unwrap();
    assert_eq!(r4.started_at, "2024-05-01T07:00:00Z");
    let r5 = ev.runs.iter().find(|r| r.key == "r5").unwrap();
    assert_eq!(
        crate::time::canonical(&r5.started_at).as_deref(),
        Some(r5.started_at.as_str())
    );
    assert!(r5.started_at.as_str() > "2024-05-02", "{}", r5.started_at);
}

/// A test first stored without a file gets the one a later record names.
pub fn test_file_learned_later(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    write(s.as_mut(), "h1", "r1", None, &[case("t", &[Passed])]);
    assert_eq!(stats(s.as_mut())[0].file, None);
    let mut c = case("t", &[Failed]);
    c.file = Some("src/lib.rs".into());
    c.line = Some(7);
    c.classname = Some("ignored later".into());
    write(s.as_mut(), "h2", "r2", None, &[c]);
    let v = stats(s.as_mut());
    assert_eq!(v[0].file.as_deref(), Some("src/lib.rs"));
    assert_eq!(v[0].classname, None, "the first record names the test");
    assert_eq!(
        s.evidence().unwrap().tests[0].file.as_deref(),
        Some("src/lib.rs")
    );
}

fn history(s: &mut dyn Store, tag: &str) {
    use Outcome::*;
    let meta = |t: &str, c: &str| RunMeta {
        commit: Some(c.into()),
        branch: Some("main".into()),
        started_at: Some(t.into()),
        job: Some("test".into()),
        ..Default::default()
    };
    let mut with_output = failing("flaky", &format!("{tag} boom\nat x"), &[Passed]);
    with_output.attempts[0].stdout = Some("out".into());
    with_output.attempts[0].duration = Some(1.5);
    with_output.properties = vec![("k".into(), "v".into())];
    with_output.file = Some("t.py".into());
    let info = ReportInfo {
        format: Some(Format::Junit),
        tool: Some("pytest".into()),
        hostname: Some("host".into()),
        properties: vec![("suite".into(), "x".into())],
        ..Default::default()
    };
    let m1 = meta("2024-05-01T00:00:00Z", "c1");
    write_meta(
        s,
        &format!("{tag}1"),
        "r1",
        &m1,
        &[with_output, case("ok", &[Passed])],
        &info,
    );
    write_meta(
        s,
        &format!("{tag}2"),
        "r1",
        &m1,
        &[case("ok", &[Failed]), case("flaky", &[Passed])],
        &info,
    );
    write_meta(
        s,
        &format!("{tag}3"),
        "r2",
        &meta("2024-05-02T00:00:00Z", "c1"),
        &[case("flaky", &[Errored]), case("skip", &[Skipped])],
        &ReportInfo::default(),
    );
    s.add_note(&Note {
        test: "flaky".into(),
        category: Some(Category::Time),
        text: format!("{tag} note"),
        created_at: "2024-06-01T00:00:00Z".into(),
        ..Note::default()
    })
    .unwrap();
}

/// `merge` copies every report and note of a project through the writer: the copy reads the
/// same as the original, and merging again changes nothing.
pub fn merge_replays_and_is_idempotent(h: &mut dyn Harness) {
    let mut src = h.open(0, "p");
    history(src.as_mut(), "a");
    let mut src_q = h.open(0, "q");
    history(src_q.as_mut(), "b");
    let mut dst = h.open(1, "p");
    let m = crate::merge(dst.as_mut(), src.as_mut()).unwrap();
    assert_eq!(
        (m.reports, m.skipped, m.runs, m.results, m.notes),
        (3, 0, 2, 7, 1)
    );
    let expect = snapshot(src.as_mut());
    assert_eq!(snapshot(dst.as_mut()), expect);
    // Failure text and outputs come across: the newest failure has no message, so an earlier
    // one is shown.
    let f = dst
        .test_stats()
        .unwrap()
        .into_iter()
        .find(|t| t.id == "flaky")
        .unwrap();
    assert_eq!(f.file.as_deref(), Some("t.py"));
    // Again: nothing new.
    let m = crate::merge(dst.as_mut(), src.as_mut()).unwrap();
    assert_eq!((m.reports, m.skipped, m.notes), (0, 3, 0));
    assert_eq!(snapshot(dst.as_mut()), expect);
    // Project q merged into q of the same store: p is untouched.
    let mut dst_q = h.open(1, "q");
    crate::merge(dst_q.as_mut(), src_q.as_mut()).unwrap();
    assert_eq!(snapshot(dst_q.as_mut()), snapshot(src_q.as_mut()));
    assert_eq!(snapshot(dst.as_mut()), expect);
    assert_eq!(dst.projects().unwrap(), ["p", "q"]);
}

/// Shards of one history (parallel jobs' stores, one run split across them) merged into one
/// store equal the history written into one store.
pub fn merging_shards_equals_writing_one(h: &mut dyn Harness) {
    use Outcome::*;
    let mut with_failure = case("y", &[Failed, Passed]);
    with_failure.attempts[0].failure = Some(Failure {
        message: Some("boom".into()),
        ..Default::default()
    });
    let reports: Vec<(&str, &str, &str, Vec<TestCase>)> = vec![
        (
            "h1",
            "r1",
            "c1",
            vec![case("x", &[Failed]), case("y", &[Passed])],
        ),
        ("h2", "r1", "c1", vec![case("x", &[Passed])]),
        (
            "h3",
            "r2",
            "c2",
            vec![case("x", &[Passed]), case("z", &[Skipped])],
        ),
        ("h4", "r3", "c2", vec![with_failure]),
    ];
    // Start times given: a run without one is dated when it is stored, which differs between
    // the stores.
    let write = |s: &mut dyn Store, hash: &str, run: &str, commit: &str, cases: &[TestCase]| {
        let meta = RunMeta {
            commit: Some(commit.into()),
            started_at: Some(format!("2024-05-01T00:00:0{}Z", &run[1..])),
            ..Default::default()
        };
        write_meta(s, hash, run, &meta, cases, &ReportInfo::default())
    };
    let mut whole = h.open(0, "p");
    for (hash, r, c, cases) in &reports {
        write(whole.as_mut(), hash, r, c, cases);
    }
    // Shard a has h1 and h3; shard b has h2 (same run r1 as h1), h3 again, and h4.
    let mut a = h.open(1, "p");
    let mut b = h.open(2, "p");
    for i in [0, 2] {
        let (hash, r, c, cases) = &reports[i];
        write(a.as_mut(), hash, r, c, cases);
    }
    for i in [1, 2, 3] {
        let (hash, r, c, cases) = &reports[i];
        write(b.as_mut(), hash, r, c, cases);
    }
    let m = crate::merge(a.as_mut(), b.as_mut()).unwrap();
    assert_eq!((m.reports, m.skipped, m.runs, m.results), (2, 1, 1, 3));
    let (sa, sw) = (snapshot(a.as_mut()), snapshot(whole.as_mut()));
    assert_eq!(sa.stats, sw.stats);
    assert_eq!(sa.totals, sw.totals);
    assert_eq!(sa.results, sw.results);
    assert_eq!(a.evidence().unwrap().messages, vec!["boom".to_string()]);
    let m = crate::merge(a.as_mut(), b.as_mut()).unwrap();
    assert_eq!((m.reports, m.skipped), (0, 3));
    assert_eq!(snapshot(a.as_mut()).stats, sw.stats);
}

/// `export` gives back what was written (as far as the store keeps it), in write order.
pub fn export_round_trips(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    let mut c = failing("t", "msg\nmore", &[Passed]);
    c.classname = Some("C".into());
    c.file = Some("f.rs".into());
    c.line = Some(3);
    c.properties = vec![("k".into(), "v".into())];
    c.timestamp = Some("2024-05-01T10:00:00Z".into());
    {
        let f = c.attempts[0].failure.as_mut().unwrap();
        f.kind = Some("AssertionError".into());
        f.details = Some("trace".into());
    }
    c.attempts[0].stdout = Some("so".into());
    c.attempts[0].stderr = Some("se".into());
    c.attempts[1].duration = Some(0.25);
    let meta = RunMeta {
        commit: Some("abc".into()),
        branch: Some("main".into()),
        provider: Some("github-actions".into()),
        job: Some("test".into()),
        run_id: Some("42".into()),
        run_attempt: Some(2),
        runner: Some("box".into()),
        os: Some("linux".into()),
        started_at: Some("2024-05-01T10:00:00Z".into()),
        duration: Some(12.5),
        url: Some("https://ci/42".into()),
        pull_request: Some("7".into()),
    };
    let info = ReportInfo {
        format: Some(Format::Junit),
        tool: Some("pytest".into()),
        timestamp: Some("2024-05-01T10:00:01Z".into()),
        hostname: Some("host".into()),
        duration: Some(3.0),
        properties: vec![("a".into(), "1".into())],
        aggregate: None,
    };
    write_meta(
        s.as_mut(),
        "h1",
        "r1",
        &meta,
        &[c.clone(), case("u", &[Skipped])],
        &info,
    );
    write(s.as_mut(), "h2", "r1", None, &[case("u", &[Passed])]);
    let mut got = Vec::new();
    s.export(&mut |r| {
        got.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(got.len(), 2);
    let r = &got[0];
    assert_eq!(
        (r.hash.as_str(), r.run_key.0.as_str(), &r.source, r.format),
        ("h1", "r1", &RunSource::Ci, Some(Format::Junit))
    );
    assert_eq!(r.run, meta);
    assert_eq!(r.info, info);
    assert_eq!(r.cases.len(), 2);
    let mut want = c;
    want.suite = vec![];
    assert_eq!(r.cases[0].attempts, want.attempts);
    assert_eq!(
        (
            &r.cases[0].id,
            &r.cases[0].classname,
            &r.cases[0].file,
            r.cases[0].line,
            &r.cases[0].properties,
            &r.cases[0].timestamp
        ),
        (
            &want.id,
            &want.classname,
            &want.file,
            want.line,
            &want.properties,
            &want.timestamp
        )
    );
    assert_eq!(r.cases[1].attempts, vec![Attempt::new(Skipped)]);
    assert_eq!(got[1].hash, "h2");
    assert_eq!(got[1].cases[0].attempts, vec![Attempt::new(Passed)]);
    // Stopping early is the callback's error.
    let mut n = 0;
    let e = s.export(&mut |_| {
        n += 1;
        Err(crate::StoreError::Backend("stop".into()))
    });
    assert!(e.is_err());
    assert_eq!(n, 1);
}

/// The server's records: projects, tokens (found by hash, listed by project, revoked once,
/// touched) and uploads (found by project and id only).
pub fn admin_tokens_and_uploads(h: &mut dyn Harness) {
    use crate::{NewToken, Scope, UploadRecord};
    let mut a = h.admin(0).expect("this harness opens the server's records");
    assert!(
        a.create_project("acme/web", "2026-01-01T00:00:00Z")
            .unwrap()
    );
    assert!(
        !a.create_project("acme/web", "2026-01-02T00:00:00Z")
            .unwrap()
    );
    assert!(
        a.create_project("acme/api", "2026-01-03T00:00:00Z")
            .unwrap()
    );
    assert_eq!(
        a.server_projects().unwrap(),
        [
            ("acme/api".to_string(), "2026-01-03T00:00:00Z".to_string()),
            ("acme/web".to_string(), "2026-01-01T00:00:00Z".to_string()),
        ]
    );
    let new = |project, scope, hash, expires_at| NewToken {
        project,
        scope,
        label: Some("ci"),
        hash,
        prefix: "fh_ab",
        created_at: "2026-01-01T00:00:00Z",
        expires_at,
    };
    let t1 = a
        .create_token(&new("acme/web", Scope::Upload, "h1", None))
        .unwrap();
    let t2 = a
        .create_token(&new(
            "acme/api",
            Scope::Admin,
            "h2",
            Some("2026-04-01T00:00:00Z"),
        ))
        .unwrap();
    assert_ne!(t1, t2);
    // The hash is unique: a second token with it is refused.
    assert!(
        a.create_token(&new("acme/web", Scope::Read, "h1", None))
            .is_err()
    );
    let got = a.token_by_hash("h2").unwrap().unwrap();
    assert_eq!(
        (got.id, got.project.as_str(), got.scope),
        (t2, "acme/api", Scope::Admin)
    );
    assert_eq!(got.expires_at.as_deref(), Some("2026-04-01T00:00:00Z"));
    assert_eq!(got.label.as_deref(), Some("ci"));
    assert!(a.token_by_hash("nope").unwrap().is_none());
    assert_eq!(a.tokens(None).unwrap().len(), 2);
    let web = a.tokens(Some("acme/web")).unwrap();
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].id, t1);
    a.touch_token(t1, "2026-01-05T00:00:00Z").unwrap();
    assert!(a.revoke_token(t1, "2026-01-06T00:00:00Z").unwrap());
    assert!(!a.revoke_token(t1, "2026-01-07T00:00:00Z").unwrap());
    assert!(!a.revoke_token(999_999, "2026-01-07T00:00:00Z").unwrap());
    let t = a.token_by_hash("h1").unwrap().unwrap();
    assert_eq!(t.revoked_at.as_deref(), Some("2026-01-06T00:00:00Z"));
    assert_eq!(t.last_used_at.as_deref(), Some("2026-01-05T00:00:00Z"));
    let up = UploadRecord {
        id: "u1".into(),
        project: "acme/web".into(),
        token_id: Some(t1),
        received_at: "2026-01-05T00:00:00Z".into(),
        response: r#"{"files":[]}"#.into(),
    };
    a.record_upload(&up).unwrap();
    assert_eq!(a.upload("acme/web", "u1").unwrap(), Some(up));
    assert_eq!(a.upload("acme/api", "u1").unwrap(), None);
    // The quarantine: put (insert, then replace), list by project, remove once, audited.
    let entry = crate::QuarantineRecord {
        test: "t::a".into(),
        reason: "flaky: timeout".into(),
        owner: "@web".into(),
        added: "2026-01-05".into(),
        expires: "2026-02-04".into(),
        issue: None,
    };
    a.put_quarantine("acme/web", &entry, "ci", "2026-01-05T00:00:00Z")
        .unwrap();
    let replaced = crate::QuarantineRecord {
        issue: Some("https://example.com/1".into()),
        ..entry.clone()
    };
    a.put_quarantine("acme/web", &replaced, "alice", "2026-01-06T00:00:00Z")
        .unwrap();
    assert_eq!(a.quarantine("acme/web").unwrap(), [replaced]);
    assert!(a.quarantine("acme/api").unwrap().is_empty());
    assert!(
        !a.remove_quarantine("acme/api", "t::a", "bob", None, "2026-01-07T00:00:00Z")
            .unwrap()
    );
    assert!(
        a.remove_quarantine(
            "acme/web",
            "t::a",
            "bob",
            Some("fixed"),
            "2026-01-07T00:00:00Z"
        )
        .unwrap()
    );
    assert!(a.quarantine("acme/web").unwrap().is_empty());
    let log: Vec<(String, String, Option<String>)> = a
        .quarantine_changes("acme/web", Some("t::a"))
        .unwrap()
        .into_iter()
        .map(|c| (c.action, c.actor, c.reason))
        .collect();
    assert_eq!(
        log,
        [
            ("put".into(), "ci".into(), Some("flaky: timeout".into())),
            ("put".into(), "alice".into(), Some("flaky: timeout".into())),
            ("delete".into(), "bob".into(), Some("fixed".into())),
        ]
    );
    assert!(a.quarantine_changes("acme/api", None).unwrap().is_empty());
    // Another handle on the same store sees the same records.
    drop(a);
    let mut b = h.admin(0).unwrap();
    assert_eq!(b.tokens(None).unwrap().len(), 2);
    // The evidence side is untouched by them.
    let mut s = h.open(0, "acme/web");
    assert_eq!(s.totals().unwrap(), Totals::default());
    drop(b);
}

/// Alerting's records: a transition is a compare-and-set that one of two handles (two server
/// replicas) wins; the delivery log, newest first; mutes; projects apart.
pub fn alert_states_compare_and_set(h: &mut dyn Harness) {
    use crate::{Delivery, Mute};
    let mut a = h.alerts(0).expect("this harness opens alerting's records");
    let mut b = h.alerts(0).expect("a second handle");
    assert!(a.alert_states("p").unwrap().is_empty());
    // Both replicas saw no row: one insert wins.
    let t = "tests/a.py::test_x";
    assert!(
        a.transition(
            "p",
            "new_flaky",
            t,
            None,
            "alarm",
            "{\"n\":1}",
            "2026-01-01T00:00:00Z",
            true
        )
        .unwrap()
    );
    assert!(
        !b.transition(
            "p",
            "new_flaky",
            t,
            None,
            "alarm",
            "{}",
            "2026-01-01T00:00:01Z",
            true
        )
        .unwrap()
    );
    let s = b.alert_states("p").unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].state.as_str(), s[0].version, s[0].detail.as_str()),
        ("alarm", 1, "{\"n\":1}")
    );
    assert_eq!(s[0].notified_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    // Both read version 1: one update wins, the other changes nothing.
    assert!(
        b.transition(
            "p",
            "new_flaky",
            t,
            Some(1),
            "ok",
            "{}",
            "2026-01-02T00:00:00Z",
            false
        )
        .unwrap()
    );
    assert!(
        !a.transition(
            "p",
            "new_flaky",
            t,
            Some(1),
            "ok",
            "{}",
            "2026-01-02T00:00:00Z",
            true
        )
        .unwrap()
    );
    let s = a.alert_states("p").unwrap();
    assert_eq!((s[0].state.as_str(), s[0].version), ("ok", 2));
    // Not notified: the last notification stays.
    assert_eq!(s[0].notified_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    assert_eq!(s[0].changed_at, "2026-01-02T00:00:00Z");
    assert!(a.alert_states("other").unwrap().is_empty());

    let d = |status: &str, at: &str| Delivery {
        project: "p".into(),
        monitor: "new_flaky".into(),
        subject: t.into(),
        channel: "team".into(),
        status: status.into(),
        attempts: 3,
        error: (status == "failed").then(|| "HTTP 500".to_string()),
        title: "x turned flaky".into(),
        at: at.into(),
        ..Default::default()
    };
    let id1 = a.log_delivery(&d("sent", "2026-01-01T00:00:00Z")).unwrap();
    let id2 = b
        .log_delivery(&d("failed", "2026-01-01T01:00:00Z"))
        .unwrap();
    assert!(id2 > id1);
    b.log_delivery(&d("sent", "2026-01-01T02:00:00Z")).unwrap();
    let log = a.deliveries("p", 2).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].at, "2026-01-01T02:00:00Z");
    assert_eq!(log[1].id, id2);
    assert_eq!(log[1].error.as_deref(), Some("HTTP 500"));
    assert_eq!(log[1].attempts, 3);
    assert_eq!(a.sent_since("p", "2026-01-01T00:00:00Z").unwrap(), 2);
    assert_eq!(a.sent_since("p", "2026-01-01T00:30:00Z").unwrap(), 1);
    assert_eq!(a.sent_since("other", "2000-01-01T00:00:00Z").unwrap(), 0);

    let m = Mute {
        project: "p".into(),
        subject: t.into(),
        until: Some("2026-01-08T00:00:00Z".into()),
        reason: None,
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    a.mute(&m).unwrap();
    // Muting again replaces.
    a.mute(&Mute {
        until: None,
        reason: Some("known".into()),
        ..m.clone()
    })
    .unwrap();
    let mutes = b.mutes("p").unwrap();
    assert_eq!(mutes.len(), 1);
    assert_eq!(mutes[0].until, None);
    assert_eq!(mutes[0].reason.as_deref(), Some("known"));
    assert!(b.mutes("other").unwrap().is_empty());
    assert!(b.unmute("p", t).unwrap());
    assert!(!a.unmute("p", t).unwrap());
    assert!(a.mutes("p").unwrap().is_empty());
}

/// A CI job row for [`ci_jobs_imported_once`].
pub fn ci_job(run: &str, attempt: u32, name: &str, conclusion: &str) -> crate::CiJob {
    crate::CiJob {
        provider: "github".into(),
        run_id: run.into(),
        attempt,
        job_id: format!("{run}{attempt}{name}"),
        name: name.into(),
        workflow: Some("CI".into()),
        commit: Some("abc123".into()),
        branch: Some("main".into()),
        pull_request: None,
        conclusion: conclusion.into(),
        started_at: Some("2026-01-01T10:00:00Z".into()),
        completed_at: Some("2026-01-01T10:05:00Z".into()),
        duration_secs: Some(300.0),
        runner: Some("ubuntu-latest".into()),
    }
}

/// Job-level evidence: a unit is recorded once (its jobs with it), units and jobs are per
/// project, and a handle opened later sees them.
pub fn ci_jobs_imported_once(h: &mut dyn Harness) {
    let mut s = h.open(0, "p");
    let jobs = s
        .job_evidence()
        .expect("the engine keeps job-level evidence");
    let first = [
        ci_job("7", 1, "test", "failure"),
        ci_job("7", 1, "lint", "success"),
    ];
    assert!(jobs.record_import("github", "o/r/7/1", &first).unwrap());
    // The same unit again changes nothing, even with other jobs.
    assert!(
        !jobs
            .record_import("github", "o/r/7/1", &[ci_job("7", 1, "other", "success")])
            .unwrap()
    );
    assert!(
        jobs.record_import("github", "o/r/7/2", &[ci_job("7", 2, "test", "success")])
            .unwrap()
    );
    drop(s);
    let mut s = h.open(0, "p");
    let jobs = s.job_evidence().unwrap();
    let units = jobs.imported_units("github").unwrap();
    assert_eq!(units.len(), 2);
    assert!(units.contains("o/r/7/1") && units.contains("o/r/7/2"));
    assert!(jobs.imported_units("gitlab").unwrap().is_empty());
    let all = jobs.jobs().unwrap();
    let names: Vec<(u32, &str, &str)> = all
        .iter()
        .map(|j| (j.attempt, j.name.as_str(), j.conclusion.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (1, "lint", "success"),
            (1, "test", "failure"),
            (2, "test", "success")
        ]
    );
    assert_eq!(all[1], ci_job("7", 1, "test", "failure"));
    // Another project sees none of it.
    let mut other = h.open(0, "q");
    let jobs = other.job_evidence().unwrap();
    assert!(jobs.jobs().unwrap().is_empty());
    assert!(jobs.imported_units("github").unwrap().is_empty());
}

/// The whole text of a test's failed attempts (message and details), newest run first, at
/// most the limit, this project's only; passes and other tests are not in it.
pub fn failure_texts_newest_first(h: &mut dyn Harness) {
    use Outcome::*;
    let traced = |id: &str, message: &str, details: &str| {
        let mut c = failing(id, message, &[]);
        if let Some(f) = c.attempts[0].failure.as_mut() {
            f.details = Some(details.into());
        }
        c
    };
    let mut s = h.open(0, "p");
    write(
        s.as_mut(),
        "h1",
        "r1",
        None,
        &[
            traced("x", "AssertionError: one\nmore", "trace one"),
            case("y", &[Passed]),
        ],
    );
    write(s.as_mut(), "h2", "r2", None, &[case("x", &[Passed])]);
    write(
        s.as_mut(),
        "h3",
        "r3",
        None,
        &[
            traced("x", "AssertionError: two", "trace two"),
            traced("y", "other", "t"),
        ],
    );
    let texts = s.failure_texts("x", 10).unwrap();
    let got: Vec<(Option<&str>, Option<&str>)> = texts
        .iter()
        .map(|t| (t.message.as_deref(), t.details.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("AssertionError: two"), Some("trace two")),
            (Some("AssertionError: one\nmore"), Some("trace one")),
        ]
    );
    assert_eq!(s.failure_texts("x", 1).unwrap().len(), 1);
    assert!(s.failure_texts("unknown", 10).unwrap().is_empty());
    let mut other = h.open(0, "q");
    write(
        other.as_mut(),
        "h4",
        "r4",
        None,
        &[traced("x", "AssertionError: elsewhere", "t")],
    );
    assert_eq!(
        s.failure_texts("x", 10).unwrap().len(),
        2,
        "other projects are not in it"
    );
}

/// Retention: a prune drops the old runs by commit (never a pinned run, nor its commit's other
/// runs, nor a commit with a run in the window), keeps per-test aggregates so that the stats are
/// the same as before, keeps the window's evidence as it was, keeps pruned reports duplicates,
/// and touches no other project. A second prune changes nothing.
pub fn retention_prunes_by_commit_and_keeps_stats(h: &mut dyn Harness) {
    use Outcome::*;
    let mut s = h.open(0, "p");
    let meta = |t: &str, c: Option<&str>| RunMeta {
        commit: c.map(str::to_string),
        started_at: Some(t.into()),
        ..Default::default()
    };
    let info = ReportInfo::default();
    let w = |s: &mut dyn Store, hash: &str, run: &str, m: &RunMeta, cases: &[TestCase]| {
        write_meta(s, hash, run, m, cases, &info);
    };
    // c1: old, flaky (a fails then passes on retry in r1, passes in r2).
    w(
        s.as_mut(),
        "h1",
        "r1",
        &meta("2024-01-01T00:00:00Z", Some("c1")),
        &[failing("a", "old boom", &[Passed]), case("b", &[Passed])],
    );
    w(
        s.as_mut(),
        "h2",
        "r2",
        &meta("2024-01-01T01:00:00Z", Some("c1")),
        &[case("a", &[Passed]), case("b", &[Passed, Skipped])],
    );
    // No commit: pruned on its own.
    w(
        s.as_mut(),
        "h5",
        "r5",
        &meta("2024-01-03T00:00:00Z", None),
        &[failing("a", "nocommit boom", &[]), case("b", &[Skipped])],
    );
    // c2: one old run and one in the window: the commit stays whole.
    w(
        s.as_mut(),
        "h3",
        "r3",
        &meta("2024-01-02T00:00:00Z", Some("c2")),
        &[failing("a", "c2 boom", &[])],
    );
    w(
        s.as_mut(),
        "h4",
        "r4",
        &meta("2024-03-01T00:00:00Z", Some("c2")),
        &[case("a", &[Passed])],
    );
    // Old but pinned.
    w(
        s.as_mut(),
        "h6",
        "r6",
        &meta("2024-01-04T00:00:00Z", Some("c3")),
        &[case("a", &[Passed]), case("b", &[Failed])],
    );
    // The window.
    w(
        s.as_mut(),
        "h7",
        "r7",
        &meta("2024-03-02T00:00:00Z", Some("c4")),
        &[
            case("a", &[Errored]),
            case("b", &[Passed]),
            case("c", &[Passed]),
        ],
    );
    let mut q = h.open(0, "q");
    w(
        q.as_mut(),
        "h1",
        "r1",
        &meta("2024-01-01T00:00:00Z", Some("c1")),
        &[case("a", &[Passed])],
    );
    let q_before = snapshot(q.as_mut());

    assert!(s.pin_run("r6", true).unwrap());
    assert!(!s.pin_run("no-such-run", true).unwrap());
    assert_eq!(s.pinned_runs().unwrap(), vec!["r6".to_string()]);
    let before = snapshot(s.as_mut());
    let pruned = s.prune("2024-02-01T00:00:00Z").unwrap();
    assert_eq!(
        (pruned.runs, pruned.reports, pruned.results),
        (3, 3, 8),
        "{pruned:?}"
    );
    let after = snapshot(s.as_mut());
    assert_eq!(after.stats, before.stats, "the stats count the pruned runs");
    let keys: Vec<&str> = after.runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(keys, ["r3", "r6", "r4", "r7"]);
    let kept: Flat = before
        .results
        .iter()
        .filter(|r| keys.contains(&r.0.as_str()))
        .cloned()
        .collect();
    assert_eq!(after.results, kept, "the window's evidence is as it was");
    assert_eq!(after.totals.runs, 4);
    let history = s.history().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.test == "a" && h.commit.as_deref() == Some("c1") && h.retry_passes == 1),
        "{history:?}"
    );
    // A pruned report is still stored as far as uploads are concerned.
    assert!(s.has_report("h1").unwrap());
    assert_eq!(
        s.stored_reports(&["h1", "h7", "new"]).unwrap(),
        [true, true, false]
    );
    let key = RunKey("r1".into());
    let m = meta("2024-01-01T00:00:00Z", Some("c1"));
    let again = crate::write_report(
        s.as_mut(),
        &NewReport::ci_junit("h1", &key, &m),
        &[case("a", &[Passed])],
        &info,
    )
    .unwrap();
    assert_eq!(again, None);
    // Again: nothing to do.
    assert_eq!(s.prune("2024-02-01T00:00:00Z").unwrap().runs, 0);
    assert_eq!(snapshot(s.as_mut()).stats, before.stats);
    // Unpinned, the run goes at the next prune, and the counts still hold.
    assert!(s.pin_run("r6", false).unwrap());
    assert_eq!(s.prune("2024-02-01T00:00:00Z").unwrap().runs, 1);
    assert_eq!(snapshot(s.as_mut()).stats, before.stats);
    drop(s);
    assert_eq!(
        snapshot(q.as_mut()),
        q_before,
        "another project is untouched"
    );
    // The settings live with the server's records.
    if let Some(mut admin) = h.admin(0) {
        admin
            .set_retention("p", Some(30), "2024-03-01T00:00:00Z")
            .unwrap();
        admin
            .set_retention("q", Some(7), "2024-03-01T00:00:00Z")
            .unwrap();
        admin
            .set_retention("q", Some(90), "2024-03-01T00:00:00Z")
            .unwrap();
        assert_eq!(
            admin.retentions().unwrap(),
            [("p".to_string(), 30), ("q".to_string(), 90)]
        );
        admin
            .set_retention("p", None, "2024-03-01T00:00:00Z")
            .unwrap();
        assert_eq!(admin.retentions().unwrap(), [("q".to_string(), 90)]);
    } else {
        panic!("this harness cannot open the server's records");
    }
}

/// Public upload ids: off by default, one per project (a new one replaces the old), found by
/// id, and turned off again.
pub fn public_upload_ids(h: &mut dyn Harness) {
    let mut a = h
        .admin(0)
        .expect("this harness cannot open the server's records");
    let at = "2024-03-01T00:00:00Z";
    assert_eq!(a.public_upload("p").unwrap(), None);
    a.set_public_upload("p", Some("fhp_1"), at).unwrap();
    a.set_public_upload("q", Some("fhp_q"), at).unwrap();
    assert_eq!(a.public_upload("p").unwrap().as_deref(), Some("fhp_1"));
    assert_eq!(
        a.public_upload_project("fhp_1").unwrap().as_deref(),
        Some("p")
    );
    a.set_public_upload("p", Some("fhp_2"), at).unwrap();
    assert_eq!(a.public_upload_project("fhp_1").unwrap(), None);
    assert_eq!(
        a.public_upload_project("fhp_2").unwrap().as_deref(),
        Some("p")
    );
    // Another handle (another replica) sees it.
    let mut b = h.admin(0).unwrap();
    assert_eq!(
        b.public_upload_project("fhp_q").unwrap().as_deref(),
        Some("q")
    );
    a.set_public_upload("p", None, at).unwrap();
    assert_eq!(b.public_upload_project("fhp_2").unwrap(), None);
    assert_eq!(b.public_upload("q").unwrap().as_deref(), Some("fhp_q"));
}

/// For the engines' own tests of a prune that fails half-way (each breaks one of its tables):
/// two old runs on two commits and one new run; returns the cutoff between them.
pub fn retention_fixture(s: &mut dyn Store) -> &'static str {
    use Outcome::*;
    for (i, (t, c)) in [
        ("2024-01-01T00:00:00Z", "c1"),
        ("2024-01-02T00:00:00Z", "c2"),
        ("2024-03-01T00:00:00Z", "c3"),
    ]
    .into_iter()
    .enumerate()
    {
        let meta = RunMeta {
            commit: Some(c.into()),
            started_at: Some(t.into()),
            ..Default::default()
        };
        write_meta(
            s,
            &format!("fixture{i}"),
            &format!("r{i}"),
            &meta,
            &[failing("a", "boom", &[Passed]), case("b", &[Passed])],
            &ReportInfo::default(),
        );
    }
    "2024-02-01T00:00:00Z"
}

/// A project's alerts configuration set through the API: one per project, replaced by a second
/// put, seen by another handle (another replica), removed once.
pub fn alert_configs_per_project(h: &mut dyn Harness) {
    use crate::AlertConfig;
    let mut a = h.alerts(0).expect("this harness opens alerting's records");
    let mut b = h.alerts(0).expect("a second handle");
    assert_eq!(a.alert_config("p").unwrap(), None);
    let c = |text: &str, at: &str| AlertConfig {
        project: "p".into(),
        config: text.into(),
        updated_at: at.into(),
        updated_by: "ops-admin".into(),
    };
    let first = c(
        "[channels.ops]\ntype = \"webhook\"\nurl = \"http://x/\"\n",
        "2026-01-01T00:00:00Z",
    );
    a.set_alert_config(&first).unwrap();
    assert_eq!(b.alert_config("p").unwrap().as_ref(), Some(&first));
    let second = c("baseline = false\n", "2026-01-02T00:00:00Z");
    b.set_alert_config(&second).unwrap();
    assert_eq!(a.alert_config("p").unwrap().as_ref(), Some(&second));
    assert_eq!(a.alert_config("other").unwrap(), None);
    assert!(!a.remove_alert_config("other").unwrap());
    assert!(a.remove_alert_config("p").unwrap());
    assert!(!b.remove_alert_config("p").unwrap());
    assert_eq!(b.alert_config("p").unwrap(), None);
}

/// The server's dashboard sessions (by the SHA-256 of their id) seen by another handle (another
/// replica, or the same server after a restart), touched, ended one by one and when idle; a
/// project's CODEOWNERS text set, replaced and removed.
pub fn dashboard_sessions_and_codeowners(h: &mut dyn Harness) {
    use crate::SessionRecord;
    let mut a = h.admin(0).expect("this harness opens the server's records");
    let mut b = h.admin(0).expect("a second handle");
    let s = |id: &str, at: &str| SessionRecord {
        id_hash: id.into(),
        token_hash: format!("token-of-{id}"),
        csrf: format!("csrf-{id}"),
        last_seen: at.into(),
    };
    assert_eq!(a.session("s1").unwrap(), None);
    a.put_session(&s("s1", "2026-01-01T00:00:00Z")).unwrap();
    a.put_session(&s("s2", "2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        b.session("s1").unwrap(),
        Some(s("s1", "2026-01-01T00:00:00Z"))
    );
    b.touch_session("s1", "2026-01-02T00:00:00Z").unwrap();
    assert_eq!(
        a.session("s1").unwrap().unwrap().last_seen,
        "2026-01-02T00:00:00Z"
    );
    assert_eq!(a.end_idle_sessions("2026-01-01T12:00:00Z").unwrap(), 1);
    assert_eq!(b.session("s2").unwrap(), None);
    assert!(b.end_session("s1").unwrap());
    assert!(!a.end_session("s1").unwrap());
    assert_eq!(a.session("s1").unwrap(), None);

    assert_eq!(a.codeowners("p").unwrap(), None);
    a.set_codeowners("p", Some("* @acme/core\n"), "2026-01-01T00:00:00Z")
        .unwrap();
    b.set_codeowners("p", Some("tests/ @acme/qa\n"), "2026-01-02T00:00:00Z")
        .unwrap();
    let kept = a.codeowners("p").unwrap().unwrap();
    assert_eq!(kept.text, "tests/ @acme/qa\n");
    assert_eq!(kept.source, crate::CodeownersSource::Admin);
    assert_eq!(kept.updated_at, "2026-01-02T00:00:00Z");
    assert_eq!(a.codeowners("other").unwrap(), None);
    b.set_codeowners("p", None, "2026-01-03T00:00:00Z").unwrap();
    assert_eq!(a.codeowners("p").unwrap(), None);
}

/// Uploads' CODEOWNERS offered through two handles (two replicas): the first is kept; a newer
/// commit replaces it, an older one does not; the same text writes nothing but records a newer
/// commit (so a late older commit cannot roll back); an admin's text is pinned until removed;
/// projects apart.
pub fn codeowners_offers(h: &mut dyn Harness) {
    use crate::{CodeownersOffer, CodeownersOutcome as O, CodeownersSource};
    let mut a = h.admin(0).expect("this harness opens the server's records");
    let mut b = h.admin(0).expect("a second handle");
    let offer = |text: &'static str, commit: &'static str, time: &'static str| CodeownersOffer {
        text,
        path: Some(".github/CODEOWNERS"),
        commit: Some(commit),
        branch: Some("main"),
        commit_time: time,
        at: "2026-03-01T00:00:00Z",
    };
    let v1 = "* @acme/core\n";
    let v2 = "* @acme/core\ntests/ @acme/qa\n";
    assert_eq!(
        a.offer_codeowners("p", &offer(v1, "c1", "2026-01-01T00:00:00Z"))
            .unwrap(),
        O::Stored
    );
    let kept = b.codeowners("p").unwrap().unwrap();
    assert_eq!(
        (kept.text.as_str(), kept.source, kept.commit.as_deref()),
        (v1, CodeownersSource::Upload, Some("c1"))
    );
    assert_eq!(kept.path.as_deref(), Some(".github/CODEOWNERS"));
    assert_eq!(kept.branch.as_deref(), Some("main"));
    assert_eq!(kept.updated_at, "2026-03-01T00:00:00Z");
    // The same text again (a retried upload): nothing changes.
    assert_eq!(
        b.offer_codeowners("p", &offer(v1, "c1", "2026-01-01T00:00:00Z"))
            .unwrap(),
        O::Unchanged
    );
    assert_eq!(a.codeowners("p").unwrap().unwrap(), kept);
    // The same text at a newer commit c3: the text and its change time stay, the commit moves.
    let mut at_c3 = offer(v1, "c3", "2026-01-03T00:00:00Z");
    at_c3.at = "2026-03-02T00:00:00Z";
    assert_eq!(b.offer_codeowners("p", &at_c3).unwrap(), O::Unchanged);
    let moved = a.codeowners("p").unwrap().unwrap();
    assert_eq!(moved.commit.as_deref(), Some("c3"));
    assert_eq!(moved.commit_time.as_deref(), Some("2026-01-03T00:00:00Z"));
    assert_eq!(moved.updated_at, "2026-03-01T00:00:00Z");
    // c2 (between c1 and c3) arrives late with another text: c3 is newer.
    assert_eq!(
        a.offer_codeowners("p", &offer(v2, "c2", "2026-01-02T00:00:00Z"))
            .unwrap(),
        O::Older {
            kept: "2026-01-03T00:00:00Z".into()
        }
    );
    assert_eq!(b.codeowners("p").unwrap().unwrap().text, v1);
    // c4 changes it.
    assert_eq!(
        b.offer_codeowners("p", &offer(v2, "c4", "2026-01-04T00:00:00Z"))
            .unwrap(),
        O::Stored
    );
    assert_eq!(a.codeowners("p").unwrap().unwrap().text, v2);
    assert_eq!(a.codeowners("other").unwrap(), None);
    // An admin pins a text: uploads, however new, leave it.
    a.set_codeowners("p", Some("* @acme/admins\n"), "2026-03-03T00:00:00Z")
        .unwrap();
    assert_eq!(
        b.offer_codeowners("p", &offer(v1, "c9", "2027-01-01T00:00:00Z"))
            .unwrap(),
        O::Pinned {
            since: "2026-03-03T00:00:00Z".into()
        }
    );
    let pinned = a.codeowners("p").unwrap().unwrap();
    assert_eq!(
        (pinned.text.as_str(), pinned.source, pinned.commit),
        ("* @acme/admins\n", CodeownersSource::Admin, None)
    );
    // Removed: the next upload fills it, whatever its commit time.
    b.set_codeowners("p", None, "2026-03-04T00:00:00Z").unwrap();
    assert_eq!(
        a.offer_codeowners("p", &offer(v1, "c0", "2025-01-01T00:00:00Z"))
            .unwrap(),
        O::Stored
    );
    assert_eq!(b.codeowners("p").unwrap().unwrap().text, v1);
}

/// Reports announced with [`Store::expect_reports`] (as an ingest does) are stored exactly as
/// the same writes without the announcement: new runs and runs of several reports, a run stored
/// before, a report stored by another handle after the announcement, the same content twice,
/// tests learned and given a file on the way, and reports large enough to be streamed. The
/// announcement is a hint; it changes neither what is stored nor what a write returns.
pub fn announced_reports_are_written_as_unannounced(h: &mut dyn Harness) {
    use Outcome::*;
    // Run "old" holds a report before the ingest; "other" writes h7 after the announcement.
    // Runs get a start time: otherwise the time of writing is theirs, which differs.
    let at = |commit: Option<&str>| RunMeta {
        commit: commit.map(str::to_string),
        started_at: Some("2026-01-02T03:04:05Z".into()),
        ..Default::default()
    };
    let setup = |s: &mut dyn Store| {
        let info = ReportInfo::default();
        write_meta(
            s,
            "h0",
            "old",
            &at(Some("c0")),
            &[case("t0", &[Passed])],
            &info,
        );
    };
    let big = |n: usize, tag: &str| -> Vec<TestCase> {
        (0..n)
            .map(|i| {
                if i % 7 == 0 {
                    failing(&format!("big::{tag}::{i}"), &"x".repeat(200), &[Passed])
                } else {
                    case(&format!("big::{tag}::{i}"), &[Passed])
                }
            })
            .collect()
    };
    // (hash, run, cases); 40 reports so that an engine's threshold for using the hint is met.
    let mut plan: Vec<(String, String, Vec<TestCase>)> = Vec::new();
    for i in 1..=40 {
        let run = match i {
            3 | 4 => "shared".to_string(),
            5 => "old".to_string(),
            _ => format!("r{i}"),
        };
        let mut cases = vec![
            case("t0", &[Passed]),
            case(&format!("t{i}"), &[Failed, Passed]),
        ];
        if i == 9 {
            let mut c = case("t0", &[Failed]);
            c.file = Some("tests/t0.py".into());
            cases = vec![c];
        }
        if i == 11 || i == 12 {
            cases.extend(big(3000, &i.to_string()));
        }
        plan.push((format!("h{i}"), run, cases));
    }
    // h3 again at the end (the same content twice in one ingest).
    plan.push(("h3".into(), "shared".into(), plan[2].2.clone()));
    let mut outcomes = Vec::new();
    for db in [0, 1] {
        let mut s = h.open(db, "p");
        setup(s.as_mut());
        let keys: Vec<RunKey> = plan.iter().map(|(_, r, _)| RunKey(r.clone())).collect();
        if db == 1 {
            let announced: Vec<(&str, &RunKey)> = plan
                .iter()
                .zip(&keys)
                .take(40)
                .map(|((hash, _, _), k)| (hash.as_str(), k))
                .collect();
            s.expect_reports(&announced);
        }
        // Another writer stores h7 before this handle writes anything.
        let mut other = h.open(db, "p");
        let t7 = [case("t7", &[Failed, Passed])];
        write_meta(
            other.as_mut(),
            "h7",
            "r7",
            &at(None),
            &t7,
            &ReportInfo::default(),
        );
        drop(other);
        let mut got = Vec::new();
        for ((hash, _, cases), key) in plan.iter().zip(&keys) {
            let meta = at(Some(&format!("c-{}", key.0)));
            let nr = NewReport::ci_junit(hash, key, &meta);
            let mut w = s.begin_report(&nr).unwrap();
            for c in cases {
                w.add(c.clone()).unwrap();
            }
            let info = ReportInfo {
                tool: Some(format!("tool {hash}")),
                hostname: Some(format!("host-{}", key.0)),
                timestamp: Some("2026-01-02T03:04:06Z".into()),
                duration: Some(1.5),
                properties: vec![("k".into(), hash.clone())],
                ..Default::default()
            };
            got.push((hash.clone(), w.commit(&info).unwrap()));
        }
        s.expect_reports(&[]);
        s.flush().unwrap();
        let t = s.totals().unwrap();
        // Every report as stored, run and report fields included (in hash order).
        let mut stored = Vec::new();
        s.export(&mut |r| {
            stored.push(format!("{r:?}"));
            Ok(())
        })
        .unwrap();
        stored.sort();
        outcomes.push((got, snapshot(s.as_mut()), t, stored));
    }
    let (b, a) = (outcomes.pop().unwrap(), outcomes.pop().unwrap());
    assert_eq!(a.0, b.0, "what each write returned");
    assert_eq!(a.2, b.2, "totals");
    assert_eq!(a.1.runs, b.1.runs, "runs");
    for (x, y) in a.1.results.iter().zip(&b.1.results) {
        assert_eq!(x, y, "results");
    }
    for (x, y) in a.1.stats.iter().zip(&b.1.stats) {
        assert_eq!(x, y, "test stats");
    }
    assert!(a.1 == b.1, "the stored evidence differs");
    assert_eq!(a.3.len(), b.3.len());
    for (x, y) in a.3.iter().zip(&b.3) {
        assert_eq!(x, y, "an exported report");
    }
    let dup: Vec<&str> =
        a.0.iter()
            .filter(|(_, w)| w.duplicate)
            .map(|(h, _)| h.as_str())
            .collect();
    assert_eq!(dup, ["h7", "h3"]);
    assert_eq!((a.2.runs, a.2.reports), (39, 41));
}
