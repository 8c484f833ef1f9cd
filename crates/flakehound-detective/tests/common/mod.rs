//! What the integration tests share: pytest's adapter for a project and the tests it lists.

use std::path::Path;

use flakehound_runner::{Adapter, TestRef, detect, exec};

/// The pytest adapter (`python -m pytest -q -p no:cacheprovider`) for the project in `dir`,
/// and the tests it collects there, in collection order.
pub fn pytest_tests(python: &Path, dir: &Path) -> (Box<dyn Adapter>, Vec<TestRef>) {
    let argv: Vec<String> = [
        python.display().to_string(),
        "-m".into(),
        "pytest".into(),
        "-q".into(),
        "-p".into(),
        "no:cacheprovider".into(),
    ]
    .to_vec();
    let adapter = detect(&argv, None, None).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // The adapter's own listing, run in the project.
    let mut plan = adapter.list(scratch.path()).unwrap().unwrap();
    plan.cmd.cwd = Some(dir.to_path_buf());
    exec::execute(adapter.as_ref(), &plan, &mut std::io::sink()).unwrap();
    let flakehound_runner::ReportSource::Stdout { capture, .. } = &plan.report else {
        panic!("pytest lists on stdout");
    };
    let tests = adapter
        .parse_list(&std::fs::read_to_string(capture).unwrap())
        .unwrap();
    (adapter, tests)
}
