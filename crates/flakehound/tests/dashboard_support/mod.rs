//! Shared by the dashboard tests: the bundled demo history ingested once per test binary, and a
//! real `flakehound dashboard` / `flakehound serve` process on a random local port (whose
//! start, [`spawn_serving`], the server and alerts tests use too).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;

/// The project the fixture's runs belong to.
pub const PROJECT: &str = "acme/shop";

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/history")
}

pub fn fh(dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("flakehound"));
    c.current_dir(dir)
        .env_remove("FLAKEHOUND_DB")
        .env_remove("FLAKEHOUND_DATABASE")
        .env_remove("FLAKEHOUND_PROJECT")
        .env_remove("FLAKEHOUND_SERVER")
        .env_remove("FLAKEHOUND_TOKEN")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI");
    c
}

/// Runs `c`, failing the test with its stderr when it fails; its stdout.
pub fn ok(c: &mut std::process::Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A SQLite store holding `examples/history` (project [`PROJECT`]), ingested as
/// `examples/demo.sh` does, once per test binary; each caller gets its own copy in `dir`.
pub fn demo_store(dir: &Path) -> PathBuf {
    static FIXTURE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_keep, db) = FIXTURE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("demo.db");
        let runs = std::fs::read_to_string(examples().join("runs.tsv")).unwrap();
        for line in runs
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let f: Vec<&str> = line.split('\t').collect();
            let [sub, commit, branch, runner, run_id, attempt, timestamp, job] = f[..] else {
                panic!("bad runs.tsv line {line:?}");
            };
            ok(fh(tmp.path())
                .arg("--db")
                .arg(&db)
                .args(["--project", PROJECT, "ingest", "--quiet"])
                .args(["--provider", "github-actions", "--commit", commit])
                .args(["--branch", branch, "--runner", runner, "--run-id", run_id])
                .args(["--attempt", attempt, "--timestamp", timestamp, "--job", job])
                .arg(examples().join(sub)));
        }
        (tmp, db)
    });
    let copy = dir.join("demo.db");
    // Every writer has exited: the WAL was checkpointed into the file when the last closed.
    std::fs::copy(db, &copy).unwrap();
    for ext in ["-wal", "-shm"] {
        let mut from = db.as_os_str().to_owned();
        from.push(ext);
        let mut to = copy.as_os_str().to_owned();
        to.push(ext);
        if Path::new(&from).exists() {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    copy
}

/// A running `flakehound dashboard` or `flakehound serve`, stopped (SIGTERM, then waited for)
/// when dropped.
pub struct Process {
    child: Child,
    pub url: String,
}

/// Spawns `cmd` (standard output read here, standard error inherited) and returns the child
/// and the URL from its first line, which `flakehound serve` and `flakehound dashboard` print
/// once they accept connections (without a trailing `/`).
pub fn spawn_serving(cmd: &mut std::process::Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

impl Process {
    /// Starts `flakehound ARGS` in `dir` and reads the URL from its first line.
    pub fn start(dir: &Path, args: &[&str]) -> Process {
        let (child, url) = spawn_serving(fh(dir).args(args).env("FLAKEHOUND_LOG", "warn"));
        Process { child, url }
    }

    /// `flakehound --db DB dashboard` on a random port.
    pub fn dashboard(dir: &Path, db: &Path) -> Process {
        Process::start(
            dir,
            &[
                "--db",
                db.to_str().unwrap(),
                "dashboard",
                "--listen",
                "127.0.0.1:0",
            ],
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
