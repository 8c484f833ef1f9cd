//! A trial that runs past the lab's time limit (a test that hangs) is killed with its process
//! group and counts as a failure of the selected tests, instead of stopping the experiment
//! for good. Real pytest on a project written to a temporary directory; the python as in
//! `polluter.rs` (`$FLAKEHOUND_TEST_PYTHON`, skipped without one unless
//! `FLAKEHOUND_REQUIRE_PYTEST=1`).

use std::time::{Duration, Instant};

use flakehound_detective::Lab;
use flakehound_runner::TestRef;

mod common;
use flakehound_testkit::pytest_python as python;

#[test]
fn a_hung_trial_is_killed_and_counts_as_failed() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test_hang.py"),
        "import time\n\ndef test_quick():\n    pass\n\ndef test_hang():\n    time.sleep(300)\n",
    )
    .unwrap();
    let (adapter, tests) = common::pytest_tests(&python, dir.path());
    let find = |name: &str| -> TestRef {
        tests
            .iter()
            .find(|t| t.id.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not collected: {tests:?}"))
            .clone()
    };
    let (quick, hang) = (find("test_quick"), find("test_hang"));

    let work = tempfile::tempdir().unwrap();
    let mut lab = Lab::new(adapter.as_ref(), work.path().to_path_buf());
    lab.cwd = Some(dir.path().to_path_buf());
    lab.first_limit = Duration::from_secs(4);
    lab.floor = Duration::from_secs(4);
    lab.factor = 2;
    assert_eq!(lab.limit(1), Duration::from_secs(4));
    // A trial of more tests gets more time.
    assert_eq!(lab.limit(3), Duration::from_secs(12));

    let t0 = Instant::now();
    let trial = lab
        .run(std::slice::from_ref(&hang), Default::default(), 1, &[])
        .unwrap();
    assert!(trial.timed_out);
    assert_eq!(trial.failed(&hang.id), Some(true));
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
    // A hung trial does not stretch the limit; a finished one sets it.
    assert_eq!(lab.limit(1), Duration::from_secs(4));

    // The quick test must not race the 4 s limit on a busy machine: until a trial has
    // finished, the first limit holds, so it gets ample time.
    lab.first_limit = Duration::from_secs(600);
    let trial = lab
        .run(std::slice::from_ref(&quick), Default::default(), 1, &[])
        .unwrap();
    assert!(!trial.timed_out);
    assert_eq!(trial.failed(&quick.id), Some(false));
    assert!(lab.limit(1) >= Duration::from_secs(4));
    // factor × the trial's time a test × 100 tests (to the microsecond it is kept in).
    assert!(lab.limit(100).as_millis() + 1 >= (trial.duration * 200).as_millis());
}
