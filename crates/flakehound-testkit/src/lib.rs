//! Helpers shared by the integration tests of flakehound's crates (a dev-dependency only; not
//! published).
//!
//! Several tests drive real tools: pytest (from a venv), go, cargo-nextest. When a tool is
//! missing, the helper that looks for it says so on stderr and the test skips itself (returns
//! early), unless the CI requires the tool, in which case the test fails:
//!
//! | tool | found at | required by |
//! |---|---|---|
//! | python with pytest | `$FLAKEHOUND_TEST_PYTHON`, else `<workspace>/target/test-venv/bin/python` (`scripts/test-venv.sh` creates it) | `FLAKEHOUND_REQUIRE_PYTEST=1` (`scripts/test.sh`) |
//! | go | `go` on `PATH` | `FLAKEHOUND_REQUIRE_GO=1` (`.ci/run`, when go is installed) |
//! | cargo-nextest | `cargo nextest` | `FLAKEHOUND_REQUIRE_NEXTEST=1` (`.ci/run`, when it is installed) |
//!
//! Also: copies of fixture projects ([`copy_to_tempdir`], [`copy_dir`]), the JSON output of a
//! successful command ([`success_json`]), and the outcomes of a run by id ([`outcomes`]).
//!
//! ```no_run
//! // In a test that needs pytest:
//! let Some(python) = flakehound_testkit::pytest_python() else { return };
//! // ... run `python -m pytest` ...
//! # let _ = python;
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flakehound_model::{Outcome, TestCase};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The arguments after the python for a quiet pytest run that writes no `.pytest_cache` (some
/// tests run pytest in a fixture directory itself).
pub const QUIET_PYTEST: [&str; 5] = ["-m", "pytest", "-q", "-p", "no:cacheprovider"];

/// Whether the environment variable `var` is `1`.
fn required(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

/// The python with pytest the tests drive: `$FLAKEHOUND_TEST_PYTHON` when it exists, else the
/// workspace's `target/test-venv/bin/python` when that exists. `None` (with a note on stderr)
/// when neither does; a panic instead when `FLAKEHOUND_REQUIRE_PYTEST=1`.
pub fn pytest_python() -> Option<PathBuf> {
    let given = std::env::var_os("FLAKEHOUND_TEST_PYTHON").map(PathBuf::from);
    let venv = workspace_root().join("target/test-venv/bin/python");
    if let Some(found) = given.iter().chain([&venv]).find(|p| p.exists()) {
        return Some(found.clone());
    }
    let looked_at = match &given {
        Some(p) => format!(
            "{} (FLAKEHOUND_TEST_PYTHON) or {}",
            p.display(),
            venv.display()
        ),
        None => venv.display().to_string(),
    };
    if required("FLAKEHOUND_REQUIRE_PYTEST") {
        panic!(
            "FLAKEHOUND_REQUIRE_PYTEST=1 but there is no python with pytest at {looked_at}: run \
             scripts/test-venv.sh or set FLAKEHOUND_TEST_PYTHON"
        );
    }
    eprintln!(
        "skipping: no python with pytest at {looked_at} (run scripts/test-venv.sh or set \
         FLAKEHOUND_TEST_PYTHON)"
    );
    None
}

/// Whether `go version` runs. When it does not: a note on stderr, or a panic when
/// `FLAKEHOUND_REQUIRE_GO=1`.
pub fn go_available() -> bool {
    tool_available(
        "go",
        Command::new("go").arg("version"),
        "FLAKEHOUND_REQUIRE_GO",
        " (apt-get install golang-go)",
    )
}

/// Whether `cargo nextest --version` runs. When it does not: a note on stderr, or a panic when
/// `FLAKEHOUND_REQUIRE_NEXTEST=1`.
pub fn nextest_available() -> bool {
    tool_available(
        "cargo-nextest",
        Command::new("cargo").args(["nextest", "--version"]),
        "FLAKEHOUND_REQUIRE_NEXTEST",
        "",
    )
}

/// Whether `probe` runs and succeeds (its output discarded); see [`go_available`].
fn tool_available(tool: &str, probe: &mut Command, require_var: &str, hint: &str) -> bool {
    let ok = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !required(require_var),
            "{tool} is not installed, and {require_var}=1"
        );
        eprintln!("skipping: {tool} is not installed{hint}");
    }
    ok
}

/// Copies the directory `from` into `to` (created when missing), recursively, leaving out the
/// `__pycache__` and `.pytest_cache` directories running pytest in a fixture leaves behind.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fresh temporary directory holding a copy of `fixture` (see [`copy_dir`]).
pub fn copy_to_tempdir(fixture: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(fixture, dir.path());
    dir
}

/// The standard output of a command that must have succeeded (else a panic showing its
/// stderr), parsed as JSON.
pub fn success_json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&success_stdout(out)).unwrap()
}

/// The standard output of a command that must have succeeded (else a panic showing its
/// stderr).
pub fn success_stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `git args` in `dir` with no user or system configuration, authored and committed by a
/// fixed identity at `date`; its trimmed standard output (a panic showing stderr on failure).
pub fn git_at(dir: &Path, date: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The outcome of each record, by id; panics when two records have the same id.
pub fn outcomes(cases: &[TestCase]) -> BTreeMap<String, Outcome> {
    let mut map = BTreeMap::new();
    for c in cases {
        assert!(
            map.insert(c.id.clone(), c.outcome).is_none(),
            "duplicate id {}",
            c.id
        );
    }
    map
}

/// CI variables and settings that would change what `flakehound` detects about a run.
const SCRUBBED_VARS: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "JENKINS_URL",
    "BUILD_ID",
    "JOB_NAME",
    "TF_BUILD",
    "FLAKEHOUND_DB",
    "NO_COLOR",
    "GIT_DIR",
    "GIT_WORK_TREE",
];

/// The `flakehound` binary run in `dir` as if outside any CI job and any enclosing git
/// repository, colours off, with its store at `dir/x.db`.
pub fn flakehound_in(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("flakehound").expect("flakehound binary");
    cmd.current_dir(dir);
    for var in SCRUBBED_VARS {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir));
    cmd.args(["--color", "never", "--db"]).arg(dir.join("x.db"));
    cmd
}

/// The PostgreSQL server the tests may create schemas in: `FLAKEHOUND_TEST_POSTGRES` (e.g.
/// `postgres://postgres@127.0.0.1:5432/test`). `None` (the test skips, saying so) when unset;
/// a panic instead when `FLAKEHOUND_REQUIRE_POSTGRES=1` (`.ci/run`, when a server answers).
pub fn test_postgres() -> Option<String> {
    match std::env::var("FLAKEHOUND_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FLAKEHOUND_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "FLAKEHOUND_REQUIRE_POSTGRES=1 but FLAKEHOUND_TEST_POSTGRES is not set"
            );
            eprintln!("skipped: set FLAKEHOUND_TEST_POSTGRES=postgres://… to run");
            None
        }
    }
}

/// A PostgreSQL schema of one test on the [`test_postgres`] server, dropped (with everything
/// in it) when this is dropped, also when the test fails.
pub struct PgSchema {
    pub server: String,
    pub name: String,
}

impl PgSchema {
    /// A schema named after `tag`, the process and the clock (unique across parallel tests).
    pub fn new(server: &str, tag: &str) -> PgSchema {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PgSchema {
            server: server.to_string(),
            name: format!("fh_{tag}_{}_{n}_{nanos}", std::process::id()),
        }
    }

    /// The store's location: the server, with this schema first on the search path.
    pub fn url(&self) -> String {
        let sep = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.server, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
