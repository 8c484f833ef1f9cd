//! The store under concurrency and on read-only media, through the binary: real processes on a
//! real SQLite file. Assertions are about exit statuses and stored data, never about timing.

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn fh(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("flakehound").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLAKEHOUND_DB")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("CI");
    cmd
}

/// `dir/reports-N/` with `files` JUnit reports of distinct content.
fn write_reports(dir: &Path, n: usize, files: usize) -> PathBuf {
    let d = dir.join(format!("reports-{n}"));
    std::fs::create_dir_all(&d).unwrap();
    for f in 0..files {
        let cases: String = (0..20)
            .map(|c| format!("<testcase classname=\"m{n}\" name=\"t{f}_{c}\" time=\"0.1\"/>"))
            .collect();
        std::fs::write(
            d.join(format!("r{f}.xml")),
            format!("<testsuite name=\"s{n}\">{cases}</testsuite>"),
        )
        .unwrap();
    }
    d
}

fn totals(db: &Path) -> flakehound_store::Totals {
    use flakehound_store::Store;
    open_store(db).totals().unwrap()
}

/// The store the binary wrote, read as its one project (the binary derives the project from
/// the directory it ran in; a library handle reads `default` unless told).
fn open_store(db: &Path) -> flakehound_store_sqlite::SqliteStore {
    use flakehound_store::Store;
    let mut store = flakehound_store_sqlite::SqliteStore::open(db).unwrap();
    match store.projects().unwrap().as_slice() {
        [only] => {
            let only = only.clone();
            store.with_project(&only).unwrap()
        }
        _ => store,
    }
}

/// Starts `n` ingests of `dirs[i % dirs.len()]` into `db` at once and waits for all of them.
fn ingest_concurrently(work: &Path, db: &Path, dirs: &[PathBuf], n: usize) -> Vec<(i32, String)> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            std::process::Command::cargo_bin("flakehound")
                .unwrap()
                .current_dir(work)
                .env("NO_COLOR", "1")
                .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
                .arg(&dirs[i % dirs.len()])
                .args(["--run-id", &format!("r{}", i % dirs.len())])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

#[test]
fn concurrent_ingests_into_a_new_store_all_succeed_and_keep_every_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..4).map(|i| write_reports(tmp.path(), i, 3)).collect();
    for round in 0..3 {
        let db = tmp.path().join(format!("new-{round}/fh.db"));
        for (code, err) in ingest_concurrently(tmp.path(), &db, &dirs, 4) {
            assert_eq!(code, 0, "round {round}: {err}");
        }
        let t = totals(&db);
        assert_eq!(
            (t.runs, t.reports, t.results),
            (4, 12, 240),
            "round {round}"
        );
    }
}

#[test]
fn concurrent_ingests_of_the_same_directory_both_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![write_reports(tmp.path(), 0, 40)];
    let db = tmp.path().join("fh.db");
    // The store exists: only the reports race.
    fh(tmp.path())
        .args(["--db".as_ref(), db.as_os_str(), "merge".as_ref()])
        .arg(tmp.path().join("none.db"))
        .assert()
        .code(1);
    for (code, err) in ingest_concurrently(tmp.path(), &db, &dirs, 3) {
        assert_eq!(code, 0, "{err}");
    }
    let t = totals(&db);
    assert_eq!((t.runs, t.reports, t.results), (1, 40, 800));
}

/// A command that runs `flakehound` as an unprivileged user: permissions mean nothing to root,
/// so as root it goes through `setpriv` to `nobody`. `None` when that is impossible.
fn fh_unprivileged(dir: &Path) -> Option<std::process::Command> {
    let bin = assert_cmd::cargo::cargo_bin("flakehound");
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut cmd = if root {
        let ok = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        c
    } else {
        std::process::Command::new(bin)
    };
    cmd.current_dir(dir).env("NO_COLOR", "1");
    Some(cmd)
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn read_commands_open_a_store_they_cannot_write_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dir = write_reports(work, 0, 1);
    let db = work.join("ro/fh.db");
    fh(work)
        .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
        .arg(&dir)
        .assert()
        .success();
    // Read-only directory and file, as on a read-only mount: no -wal/-shm can be created.
    for f in std::fs::read_dir(work.join("ro")).unwrap() {
        chmod(&f.unwrap().path(), 0o444);
    }
    chmod(&work.join("ro"), 0o555);
    chmod(work, 0o755);
    let Some(mut report) = fh_unprivileged(work) else {
        eprintln!("skipping: running as root without setpriv");
        return;
    };
    let out = report
        .args([
            "--db".as_ref(),
            db.as_os_str(),
            "report".as_ref(),
            "--all".as_ref(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("m0::t0_0"), "{stdout}");
    // Writing is refused with the store's path and why.
    let out = fh_unprivileged(work)
        .unwrap()
        .args(["--db".as_ref(), db.as_os_str(), "ingest".as_ref()])
        .arg(write_reports(work, 1, 1))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("not writable"), "{stderr}");
    chmod(&work.join("ro"), 0o755);
}

#[test]
fn the_default_store_directory_gets_a_gitignore_so_only_reviewed_files_show() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(work)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q"]);
    let dir = write_reports(work, 0, 1);
    fh(work).arg("ingest").arg(&dir).assert().success();
    assert!(work.join(".flakehound/flakehound.db").exists());
    fh(work)
        .args([
            "quarantine",
            "add",
            "m0::t0_0",
            "--reason",
            "r",
            "--owner",
            "@o",
        ])
        .assert()
        .success();
    let status = git(&[
        "status",
        "--porcelain",
        "--untracked-files=all",
        ".flakehound",
    ]);
    assert_eq!(
        status,
        "?? .flakehound/.gitignore\n?? .flakehound/quarantine.toml\n"
    );
    // A .gitignore of the user's is never replaced.
    std::fs::write(work.join(".flakehound/.gitignore"), "mine\n").unwrap();
    std::fs::remove_file(work.join(".flakehound/flakehound.db")).unwrap();
    fh(work).arg("ingest").arg(&dir).assert().success();
    assert_eq!(
        std::fs::read_to_string(work.join(".flakehound/.gitignore")).unwrap(),
        "mine\n"
    );
}

/// Runs `cmd` in a thread so that a hang fails the test after a minute instead of stalling it.
fn output_or_hang(mut cmd: std::process::Command) -> std::process::Output {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cmd.output().unwrap());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("flakehound hung")
}

#[test]
fn a_quarantine_path_that_is_a_fifo_or_a_device_is_refused_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let zero = work.join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let mut paths = vec![zero];
    let fifo = work.join("fifo.toml");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        paths.push(fifo);
    }
    for q in paths {
        let mut cmd = std::process::Command::cargo_bin("flakehound").unwrap();
        cmd.current_dir(work)
            .env("NO_COLOR", "1")
            .args(["run", "--no-record", "--quarantine"])
            .arg(&q)
            .args(["--", "true"]);
        let out = output_or_hang(cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The command's own status stands; the warning names the file and why.
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(&q.display().to_string()) && stderr.contains("not a regular file"),
            "{stderr}"
        );
        let mut cmd = std::process::Command::cargo_bin("flakehound").unwrap();
        cmd.current_dir(work)
            .args(["quarantine", "--file"])
            .arg(&q)
            .arg("list");
        let out = output_or_hang(cmd);
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn a_malformed_quarantine_entry_is_skipped_and_reported_the_rest_still_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q.toml");
    std::fs::write(
        &q,
        "version = 1\n\n[[test]]\nid = \"a\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-11-01\n\
         expires = 2026-12-01\n\n[[test]]\nid = \"b\"\nreason = \"r\"\nadded = 2026-11-01\n\
         expires = 2026-12-01\n",
    )
    .unwrap();
    let out = fh(tmp.path())
        .env("FLAKEHOUND_TODAY", "2026-11-22")
        .args(["quarantine", "--file"])
        .arg(&q)
        .args(["list", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], "a");
    assert!(
        stderr.contains("q.toml:10:") && stderr.contains("missing required key `owner`"),
        "{stderr}"
    );
    // Editing would drop entry b: refused, the file untouched.
    let before = std::fs::read_to_string(&q).unwrap();
    fh(tmp.path())
        .args(["quarantine", "--file"])
        .arg(&q)
        .args(["add", "c", "--reason", "r", "--owner", "o"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("fix the file by hand first"));
    assert_eq!(std::fs::read_to_string(&q).unwrap(), before);
}

#[test]
fn quarantine_add_finds_the_owner_of_a_cargo_test_as_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=Alice",
                "-c",
                "user.email=alice@example.com",
            ])
            .args(args)
            .current_dir(work)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(work.join("src")).unwrap();
    std::fs::write(work.join("src/lib.rs"), "#[test]\nfn it_works() {}\n").unwrap();
    git(&["add", "src/lib.rs"]);
    git(&["commit", "-qm", "lib"]);
    // First seen passing (no file known), then failing with the panic location (as `run`
    // records a cargo test): the store learns the file from the later record.
    let reports = work.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(
        reports.join("1.xml"),
        r#"<testsuite name="my-crate"><testcase classname="my-crate" name="tests::it_works"/></testsuite>"#,
    )
    .unwrap();
    std::fs::write(
        reports.join("2.xml"),
        r#"<testsuite name="my-crate"><testcase classname="my-crate" name="tests::it_works" file="src/lib.rs"><failure message="boom"/></testcase></testsuite>"#,
    )
    .unwrap();
    for f in ["1.xml", "2.xml"] {
        fh(work)
            .args(["ingest", &format!("reports/{f}")])
            .assert()
            .success();
    }
    fh(work)
        .args([
            "quarantine",
            "add",
            "my-crate::tests::it_works",
            "--reason",
            "r",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("owner Alice <alice@example.com>"));
}

#[test]
fn export_leaves_out_ids_of_another_runner_and_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q.toml");
    let add = |id: &str| {
        fh(tmp.path())
            .args(["quarantine", "--file"])
            .arg(&q)
            .args(["add", id, "--reason", "r", "--owner", "@o"])
            .assert()
            .success();
    };
    add("tests/test_a.py::test_x");
    add("my-crate::tests::it_works");
    let export = |format: &str| {
        fh(tmp.path())
            .args(["quarantine", "--file"])
            .arg(&q)
            .args(["export", "--format", format])
            .assert()
    };
    export("pytest")
        .success()
        .stdout("--deselect tests/test_a.py::test_x\n")
        .stderr(predicates::str::contains(
            "1 quarantined id(s) left out, not pytest test ids: my-crate::tests::it_works",
        ));
    // Nothing fits: most likely the wrong format.
    export("jest")
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains("2 quarantined id(s) left out"));
}
