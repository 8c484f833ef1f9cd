//! The dashboard in a real browser: `flakehound dashboard` over the bundled demo history,
//! driven by `crates/flakehound-dashboard/browser/dashboard.test.mjs` (playwright-core and
//! axe-core from npm, Debian's chromium). It checks the planted verdicts, the regression's
//! culprit on its timeline, filters and sorting, the incident page, keyboard access, no console
//! errors and no serious axe-core violations, and writes a screenshot of each page to
//! `target/dashboard-screenshots/`.
//!
//! Needs `node`, chromium (`/usr/bin/chromium` or `FLAKEHOUND_CHROMIUM`) and the test
//! directory's `node_modules` (`npm ci` there): skipped with a message when one is missing,
//! unless `FLAKEHOUND_REQUIRE_BROWSER=1` (set by `.ci/run` when they are present).

mod dashboard_support;

use dashboard_support::{Process, demo_store};
use std::path::{Path, PathBuf};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../flakehound-dashboard/browser")
}

/// What is missing to run the browser tests, if anything.
fn missing() -> Option<String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        return Some("node is not installed".into());
    }
    let chromium = chromium();
    if !chromium.exists() {
        return Some(format!("no chromium at {}", chromium.display()));
    }
    for module in ["playwright-core", "axe-core"] {
        if !browser_dir().join("node_modules").join(module).exists() {
            return Some(format!(
                "{module} is not installed (run `npm ci` in {})",
                browser_dir().display()
            ));
        }
    }
    None
}

fn chromium() -> PathBuf {
    std::env::var_os("FLAKEHOUND_CHROMIUM")
        .map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

#[test]
fn dashboard_in_chromium() {
    if let Some(why) = missing() {
        if std::env::var_os("FLAKEHOUND_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
            panic!("FLAKEHOUND_REQUIRE_BROWSER=1 but {why}");
        }
        eprintln!("skipping the browser tests: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let d = Process::dashboard(dir.path(), &db);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots");
    let out = std::process::Command::new("node")
        .arg("dashboard.test.mjs")
        .current_dir(browser_dir())
        .env("DASHBOARD_URL", &d.url)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", chromium())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all browser checks passed"), "{stdout}");
    for page in [
        "overview",
        "tests",
        "test-regression",
        "incident",
        "cluster",
        "run",
    ] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "no screenshot of {page}"
        );
    }
}
