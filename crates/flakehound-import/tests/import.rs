//! The importers against the local server answering as GitHub's and GitLab's REST APIs
//! (`flakehound_import::fixture`), writing real SQLite stores.

use flakehound_import::fixture::{Fixture, GhArtifact, Scenario};
use flakehound_import::{Api, Auth, Event, Options, Summary, github::GitHub, gitlab::GitLab};
use flakehound_store::{Store, Totals};
use flakehound_store_sqlite::SqliteStore;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn store(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

fn api(url: &str, stop: &Arc<AtomicBool>) -> Api {
    let mut api = Api::new(
        url,
        Auth::Bearer("t0ken".into()),
        stop.clone(),
        Box::new(|_| {}),
    )
    .unwrap();
    api.tuning.retries = 1;
    api.tuning.backoff = Duration::from_millis(10);
    api.tuning.secondary_wait = Duration::from_secs(1);
    api
}

fn github(fx: &Fixture, stop: &Arc<AtomicBool>) -> GitHub {
    GitHub {
        api: api(&fx.url, stop),
        repo: "acme/shop".into(),
        since: None,
        workflow: None,
        branch: None,
        artifacts: flakehound_import::artifact_globs(flakehound_import::DEFAULT_ARTIFACTS).unwrap(),
    }
}

fn opts(stop: &Arc<AtomicBool>) -> Options {
    Options {
        jobs: 4,
        scratch: None,
        stop: stop.clone(),
    }
}

/// Everything the store holds: totals, jobs, imported units.
fn contents(s: &mut SqliteStore, provider: &str) -> (Totals, Vec<flakehound_store::CiJob>, usize) {
    let t = s.totals().unwrap();
    let j = s.job_evidence().unwrap();
    let jobs = j.jobs().unwrap();
    let units = j.imported_units(provider).unwrap().len();
    (t, jobs, units)
}

fn scenario(runs: usize) -> Scenario {
    let mut s = Scenario::github(runs);
    s.token = Some("t0ken".into());
    s
}

fn run_import(fx: &Fixture, s: &mut SqliteStore) -> Summary {
    let stop = Arc::new(AtomicBool::new(false));
    flakehound_import::import(&github(fx, &stop), s, &opts(&stop), &|_| {}).unwrap()
}

/// What a clean import of `scenario` stores.
fn clean(scenario: Scenario, dir: &Path) -> (Totals, Vec<flakehound_store::CiJob>, usize) {
    let fx = Fixture::start(scenario);
    let mut s = store(&dir.join("clean.db"));
    run_import(&fx, &mut s);
    contents(&mut s, "github-actions")
}

#[test]
fn pages_every_run_and_attempt_and_imports_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = scenario(30);
    // Small pages: the 36 runs come in 6 pages, followed through `Link`.
    sc.page_size = 7;
    let attempts: usize = sc.runs.iter().map(|r| r.attempts.len()).sum();
    let reports: usize = sc
        .runs
        .iter()
        .flat_map(|r| &r.attempts)
        .map(|a| a.artifacts.iter().filter(|a| !a.expired).count())
        .sum();
    let fx = Fixture::start(sc);
    let mut s = store(&dir.path().join("s.db"));
    let first = run_import(&fx, &mut s);
    assert_eq!(first.units, attempts);
    assert_eq!(first.imported, attempts);
    assert_eq!(first.failed, 0);
    assert_eq!(first.reports, reports);
    assert_eq!(first.jobs, attempts, "one job per attempt in this scenario");
    let (totals, jobs, units) = contents(&mut s, "github-actions");
    assert_eq!(totals.reports as usize, reports);
    assert_eq!(
        totals.runs as usize, reports,
        "each report is its attempt's run"
    );
    assert_eq!(jobs.len(), attempts);
    assert_eq!(units, attempts);
    // Re-runs are evidence: attempt 2 of run 10001 is there with its own job.
    assert!(
        jobs.iter()
            .any(|j| j.run_id == "10001" && j.attempt == 2 && j.passed())
    );
    assert!(
        jobs.iter()
            .any(|j| j.run_id == "10001" && j.attempt == 1 && j.failed())
    );
    let requests = fx.requests();
    let downloads = fx.downloads();
    // Again: nothing changes, nothing is downloaded.
    let second = run_import(&fx, &mut s);
    assert_eq!((second.imported, second.already), (0, attempts));
    assert_eq!(contents(&mut s, "github-actions"), (totals, jobs, units));
    assert_eq!(fx.downloads(), downloads);
    // The archives were fetched from the storage origin the API redirected to, without the token.
    assert_eq!(fx.downloads() as usize, reports);
    assert_eq!(fx.leaked_tokens(), 0);
    assert_eq!(
        fx.requests() - requests,
        6,
        "only the run list's pages are read again"
    );
}

#[test]
fn more_runs_than_a_search_serves_are_listed_in_windows() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = scenario(30);
    // GitHub serves 1,000 runs of a filtered list at most; here 10, of 36.
    sc.search_cap = 10;
    let attempts: usize = sc.runs.iter().map(|r| r.attempts.len()).sum();
    let fx = Fixture::start(sc);
    let mut s = store(&dir.path().join("s.db"));
    let summary = run_import(&fx, &mut s);
    assert_eq!((summary.units, summary.imported), (attempts, attempts));
}

#[test]
fn reports_carry_the_runs_ci_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::start(scenario(4));
    let mut s = store(&dir.path().join("s.db"));
    run_import(&fx, &mut s);
    let ev = s.evidence().unwrap();
    let run = ev
        .runs
        .iter()
        .find(|r| r.key == "github-actions/10001/2/test")
        .expect("attempt 2 of run 10001 is a run of its own");
    assert_eq!(run.run_attempt, Some(2));
    assert_eq!(run.branch.as_deref(), Some("main"));
    assert_eq!(
        run.commit.as_deref(),
        Some(format!("{:040x}", 0xc0ffee_u64).as_str())
    );
    assert_eq!(run.runner.as_deref(), Some("runner-0"));
    let pr = ev
        .runs
        .iter()
        .find(|r| r.branch.as_deref() == Some("feature/cart"))
        .unwrap();
    assert_eq!(pr.pull_request.as_deref(), Some("102"));
}

#[test]
fn rate_limits_are_waited_out() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(12);
    let expected = clean(sc.clone(), dir.path());
    let fx = Fixture::start(sc);
    // A primary limit (403, remaining 0, reset 1–2 s ahead) early, a secondary one (429,
    // Retry-After: 1) later.
    fx.rate_limit_at(4);
    fx.retry_after_at(30);
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut gh = github(&fx, &stop);
    gh.api = {
        let n = notices.clone();
        let mut api = Api::new(
            &fx.url,
            Auth::Bearer("t0ken".into()),
            stop.clone(),
            Box::new(move |s| n.lock().unwrap().push(s)),
        )
        .unwrap();
        api.tuning.retries = 0;
        api
    };
    let mut s = store(&dir.path().join("s.db"));
    let started = std::time::Instant::now();
    let summary = flakehound_import::import(&gh, &mut s, &opts(&stop), &|_| {}).unwrap();
    let took = started.elapsed();
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert!(fx.refused() >= 2, "both limits were hit: {}", fx.refused());
    // The reset is 1–2 s ahead and Retry-After is 1 s: the import waited for them instead of
    // hammering the server (each refused request would otherwise be retried at once).
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(
        fx.refused() <= 2 * 4 + 2,
        "requests were sent while limited: {}",
        fx.refused()
    );
    let notices = notices.lock().unwrap().join("\n");
    assert!(notices.contains("rate limited (403): waiting"), "{notices}");
    assert!(notices.contains("rate limited (429): waiting"), "{notices}");
    assert_eq!(contents(&mut s, "github-actions"), expected);
}

#[test]
fn a_used_up_quota_is_waited_for_before_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(6);
    let expected = clean(sc.clone(), dir.path());
    let fx = Fixture::start(sc);
    // Request 5 is answered with `x-ratelimit-remaining: 0`: the importer must not send
    // another before the reset (one worker, so nothing else is in flight).
    fx.exhaust_at(5);
    let stop = Arc::new(AtomicBool::new(false));
    let mut s = store(&dir.path().join("s.db"));
    let started = std::time::Instant::now();
    let one = Options {
        jobs: 1,
        scratch: None,
        stop: stop.clone(),
    };
    let summary = flakehound_import::import(&github(&fx, &stop), &mut s, &one, &|_| {}).unwrap();
    assert_eq!(summary.failed, 0);
    assert_eq!(fx.refused(), 0, "a request was sent before the reset");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(contents(&mut s, "github-actions"), expected);
}

#[test]
fn an_interrupted_import_resumes_to_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(20);
    let expected = clean(sc.clone(), dir.path());
    let fx = Fixture::start(sc);
    // The API fails from the 60th request on: some attempts are recorded, then the import
    // gives up.
    fx.fail_from(60);
    let mut s = store(&dir.path().join("s.db"));
    let stop = Arc::new(AtomicBool::new(false));
    let first = flakehound_import::import(&github(&fx, &stop), &mut s, &opts(&stop), &|_| {});
    let (_, _, recorded) = contents(&mut s, "github-actions");
    match &first {
        Err(e) => assert!(e.to_string().contains("import again to resume"), "{e}"),
        Ok(sum) => assert!(sum.failed > 0, "{sum:?}"),
    }
    assert!(
        recorded > 0 && recorded < expected.2,
        "{recorded} of {}",
        expected.2
    );
    fx.fail_from(u64::MAX);
    let second = run_import(&fx, &mut s);
    assert_eq!(second.already, recorded);
    assert_eq!(contents(&mut s, "github-actions"), expected);
}

#[test]
fn stopping_keeps_what_is_recorded_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(20);
    let expected = clean(sc.clone(), dir.path());
    let fx = Fixture::start(sc);
    let mut s = store(&dir.path().join("s.db"));
    let stop = Arc::new(AtomicBool::new(false));
    // Ctrl-C after the third unit.
    let n = std::sync::atomic::AtomicUsize::new(0);
    let first = flakehound_import::import(&github(&fx, &stop), &mut s, &opts(&stop), &|e| {
        if matches!(e, Event::Imported { .. }) && n.fetch_add(1, Ordering::SeqCst) == 2 {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(first.stopped);
    assert!(
        first.imported >= 3 && first.imported < expected.2,
        "{first:?}"
    );
    let second = run_import(&fx, &mut s);
    assert_eq!(second.already, first.imported);
    assert_eq!(contents(&mut s, "github-actions"), expected);
}

#[test]
fn stopping_while_listing_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::start(scenario(5));
    // The first request is rate limited; Ctrl-C comes during the wait.
    fx.rate_limit_at(1);
    let stop = Arc::new(AtomicBool::new(false));
    let gh = github(&fx, &stop);
    let mut s = store(&dir.path().join("s.db"));
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, Ordering::SeqCst);
        })
    };
    let summary = flakehound_import::import(&gh, &mut s, &opts(&stop), &|_| {}).unwrap();
    stopper.join().unwrap();
    assert!(summary.stopped);
    assert_eq!((summary.units, summary.imported), (0, 0));
    assert_eq!(contents(&mut s, "github-actions").2, 0);
}

#[test]
fn expired_and_forbidden_artifacts_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = scenario(6);
    // Run 10002's artifact cannot be read with this token; run 10004's answers 410.
    sc.runs[1].attempts[0].artifacts[0].refuse = Some(403);
    sc.runs[3].attempts[0].artifacts.push(GhArtifact {
        name: "test-results-extra".into(),
        files: vec![],
        expired: false,
        refuse: Some(410),
    });
    let attempts: usize = sc.runs.iter().map(|r| r.attempts.len()).sum();
    let fx = Fixture::start(sc);
    let mut s = store(&dir.path().join("s.db"));
    let summary = run_import(&fx, &mut s);
    assert_eq!(summary.imported, attempts);
    assert_eq!(summary.failed, 0);
    let all = summary.problems.join("\n");
    assert!(
        all.contains("run 10002 attempt 1: artifact \"junit-results\" cannot be downloaded"),
        "{all}"
    );
    assert!(all.contains("actions:read"), "{all}");
    assert!(
        all.contains("\"test-results-extra\" has expired (410 Gone)"),
        "{all}"
    );
    assert!(all.contains("\"coverage-report\" has expired"), "{all}");
    // The jobs of the run whose artifact was refused are still there.
    let (_, jobs, _) = contents(&mut s, "github-actions");
    assert!(jobs.iter().any(|j| j.run_id == "10002"));
}

#[test]
fn a_wrong_token_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::start(scenario(2));
    let stop = Arc::new(AtomicBool::new(false));
    let mut gh = github(&fx, &stop);
    gh.api = Api::new(
        &fx.url,
        Auth::Bearer("wrong".into()),
        stop.clone(),
        Box::new(|_| {}),
    )
    .unwrap();
    let mut s = store(&dir.path().join("s.db"));
    let e = flakehound_import::import(&gh, &mut s, &opts(&stop), &|_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("/repos/acme/shop/actions/runs"), "{msg}");
    assert!(
        msg.contains("401") && msg.contains("Bad credentials"),
        "{msg}"
    );
}

#[test]
fn job_flakiness_and_cost_from_imported_history() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::start(scenario(20));
    let mut s = store(&dir.path().join("s.db"));
    run_import(&fx, &mut s);
    let jobs = s.job_evidence().unwrap().jobs().unwrap();
    let ev = s.failing_evidence().unwrap();
    let r = flakehound_import::cost::jobs_report(&jobs, Some(&ev));
    let names: Vec<&str> = r.flaky_jobs.iter().map(|j| j.name.as_str()).collect();
    // `test` fails on every 4th run and passes on its re-run (5 of 20); `lint` always fails
    // first (every 5th run from the 2nd: 4); `test` costs more (5 × 5+ min vs 4 × 2 min).
    assert_eq!(names, ["test", "lint"]);
    assert_eq!(r.flaky_jobs[0].flaky_commits, 5);
    assert_eq!(r.flaky_jobs[1].flaky_commits, 4);
    // The test that failed in those attempts carries their cost.
    assert_eq!(r.tests[0].test, "app.net::test_fetch_with_retry");
    assert!(
        r.totals.reruns == 9 && r.totals.minutes_lost > 30.0,
        "{:?}",
        r.totals
    );
}

#[test]
fn gitlab_pipelines_retried_jobs_and_test_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = Scenario::gitlab(9);
    sc.page_size = 4;
    sc.token = Some("glpat".into());
    let fx = Fixture::start(sc);
    let stop = Arc::new(AtomicBool::new(false));
    let gl = |artifacts: Option<&str>| GitLab {
        api: {
            let mut api = Api::new(
                &fx.gitlab_url(),
                Auth::PrivateToken("glpat".into()),
                stop.clone(),
                Box::new(|_| {}),
            )
            .unwrap();
            api.tuning.retries = 0;
            api
        },
        project: "acme/shop".into(),
        since: None,
        branch: None,
        artifacts: artifacts.map(|a| flakehound_import::artifact_globs(a).unwrap()),
    };
    let mut s = store(&dir.path().join("s.db"));
    let summary = flakehound_import::import(&gl(None), &mut s, &opts(&stop), &|_| {}).unwrap();
    assert_eq!((summary.units, summary.imported, summary.failed), (9, 9, 0));
    // 9 lint + 9 rspec + 3 retried rspec.
    assert_eq!(summary.jobs, 21);
    // One test report suite (rspec, its latest execution) per pipeline.
    assert_eq!(summary.reports, 9);
    let (totals, jobs, units) = contents(&mut s, "gitlab-ci");
    assert_eq!((totals.runs, units), (9, 9));
    let retried: Vec<_> = jobs
        .iter()
        .filter(|j| j.name == "rspec" && j.attempt == 2)
        .collect();
    assert_eq!(retried.len(), 3);
    assert!(retried.iter().all(|j| j.passed()));
    assert!(
        jobs.iter()
            .any(|j| j.name == "rspec" && j.attempt == 1 && j.failed())
    );
    let ev = s.evidence().unwrap();
    assert!(
        ev.runs.iter().any(|r| r.key == "gitlab-ci/500/2/rspec"),
        "{:?}",
        ev.runs[0].key
    );
    let r = flakehound_import::cost::jobs_report(&jobs, Some(&s.failing_evidence().unwrap()));
    assert_eq!(r.flaky_jobs.len(), 1);
    assert_eq!(
        (r.flaky_jobs[0].name.as_str(), r.flaky_jobs[0].flaky_commits),
        ("rspec", 3)
    );
    // Again: nothing changes.
    let again = flakehound_import::import(&gl(None), &mut s, &opts(&stop), &|_| {}).unwrap();
    assert_eq!((again.imported, again.already), (0, 9));
    // With the rspec archives (a fresh store): the failed first executions' reports too.
    let mut s2 = store(&dir.path().join("s2.db"));
    let with =
        flakehound_import::import(&gl(Some("rspec")), &mut s2, &opts(&stop), &|_| {}).unwrap();
    assert_eq!(with.artifacts, 12);
    assert_eq!(with.reports, 12, "the archives replace the test report");
    let failing = s2.failing_evidence().unwrap();
    assert!(
        failing
            .runs
            .iter()
            .any(|r| r.key == "gitlab-ci/500/1/rspec")
    );
}
