//! Which inputs `parse` and `ingest` accept (issue 12): regular files only, with a size cap,
//! symlinks followed inside directories with loops named, and an exit status that does not
//! depend on whether anyone reads the output.
//!
//! Inputs that used to hang (a FIFO) run under a deadline that is only a safety net: the
//! assertion is on the refusal message, never on how fast it came.

use assert_cmd::cargo::CommandCargoExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const REPORT: &str = r#"<testsuite name="s"><testcase classname="c" name="t"/></testsuite>"#;

fn flakehound(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("flakehound").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLAKEHOUND_MAX_REPORT_SIZE")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI");
    cmd
}

/// Runs `cmd` to completion, killing it (and failing) if it is still running after a minute:
/// a hang must fail the test, not the whole suite.
fn finish(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("flakehound hung: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_is_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    mkfifo(&tmp.path().join("pipe.xml"));
    std::fs::write(tmp.path().join("ok.xml"), REPORT).unwrap();

    let mut cmd = flakehound(tmp.path());
    cmd.args(["parse", "pipe.xml", "ok.xml"]);
    let out = finish(cmd);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("pipe.xml: error: a named pipe (FIFO), not a regular file"),
        "{all}"
    );
    assert!(all.contains("ok.xml: junit: 1 tests"), "{all}");

    // Found inside a directory, too; the other report is still ingested.
    let mut cmd = flakehound(tmp.path());
    cmd.args(["--db", "x.db", "ingest", "."]);
    let out = finish(cmd);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("pipe.xml: a named pipe (FIFO)"), "{all}");
    assert!(all.contains("1 ingested"), "{all}");
}

#[test]
fn a_device_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd_args in [
        &["parse", "/dev/zero"][..],
        &["--db", "x.db", "ingest", "/dev/zero"],
    ] {
        let mut cmd = flakehound(tmp.path());
        cmd.args(cmd_args);
        let out = finish(cmd);
        let all = text(&out);
        assert_ne!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("/dev/zero"), "{all}");
        assert!(
            all.contains("a character device, not a regular file"),
            "{all}"
        );
    }
}

#[test]
fn symlinked_reports_in_a_directory_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("elsewhere")).unwrap();
    std::fs::create_dir(tmp.path().join("reports")).unwrap();
    std::fs::write(tmp.path().join("elsewhere/real.xml"), REPORT).unwrap();
    std::os::unix::fs::symlink("../elsewhere/real.xml", tmp.path().join("reports/link.xml"))
        .unwrap();
    std::os::unix::fs::symlink("../elsewhere", tmp.path().join("reports/linked-dir")).unwrap();
    std::os::unix::fs::symlink("../nowhere.xml", tmp.path().join("reports/dangling.xml")).unwrap();
    // Not a report name: a dangling link among the logs is not ours to judge.
    std::os::unix::fs::symlink("../nowhere.log", tmp.path().join("reports/x.log")).unwrap();

    let mut cmd = flakehound(tmp.path());
    cmd.args(["parse", "reports"]);
    let out = finish(cmd);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("reports/link.xml: junit: 1 tests"), "{all}");
    assert!(
        all.contains("reports/linked-dir/real.xml: junit: 1 tests"),
        "{all}"
    );
    assert!(
        all.contains("reports/dangling.xml: error: broken symlink: its target does not exist"),
        "{all}"
    );
    assert!(!all.contains("x.log"), "{all}");
}

#[test]
fn symlink_loops_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("reports")).unwrap();
    std::fs::write(tmp.path().join("reports/a.xml"), REPORT).unwrap();
    std::os::unix::fs::symlink("..", tmp.path().join("reports/up")).unwrap();
    std::os::unix::fs::symlink("b.xml", tmp.path().join("a.xml")).unwrap();
    std::os::unix::fs::symlink("a.xml", tmp.path().join("b.xml")).unwrap();

    let mut cmd = flakehound(tmp.path());
    cmd.args(["parse", "reports", "a.xml"]);
    let out = finish(cmd);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("reports/a.xml: junit: 1 tests"), "{all}");
    assert!(all.contains("reports/up: error: symlink loop"), "{all}");
    assert!(all.contains("a.xml: error: symlink loop"), "{all}");
    assert!(!all.contains("no such file"), "{all}");
}

#[test]
fn reports_over_the_size_cap_are_refused_with_the_way_out() {
    let tmp = tempfile::tempdir().unwrap();
    let big = format!("{REPORT}{}", " ".repeat(200 - REPORT.len()));
    std::fs::write(tmp.path().join("big.xml"), big).unwrap();
    std::fs::write(tmp.path().join("small.xml"), REPORT).unwrap();
    let mut cmd = flakehound(tmp.path());
    cmd.env("FLAKEHOUND_MAX_REPORT_SIZE", "100")
        .args(["parse", "big.xml", "small.xml"]);
    let out = finish(cmd);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("big.xml: error: 200 bytes is over the 100 bytes limit on a report's size"),
        "{all}"
    );
    assert!(all.contains("FLAKEHOUND_MAX_REPORT_SIZE"), "{all}");
    assert!(all.contains("small.xml: junit: 1 tests"), "{all}");

    let mut cmd = flakehound(tmp.path());
    cmd.env("FLAKEHOUND_MAX_REPORT_SIZE", "lots")
        .args(["parse", "small.xml"]);
    let out = finish(cmd);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("is not a size"), "{all}");

    let mut cmd = flakehound(tmp.path());
    cmd.env("FLAKEHOUND_MAX_REPORT_SIZE", "1k")
        .args(["parse", "big.xml"]);
    assert_eq!(finish(cmd).status.code(), Some(0));
}

#[test]
fn a_closed_pipe_does_not_hide_a_rejected_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.xml"), REPORT).unwrap();
    std::fs::write(tmp.path().join("b.xml"), "not a report").unwrap();
    // The reader is gone before flakehound writes anything (like `| head -0`), so every write
    // fails with a broken pipe, deterministically.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = flakehound(tmp.path())
        .args(["parse", "a.xml", "b.xml"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Nothing rejected: a closed pipe is still success.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = flakehound(tmp.path())
        .args(["parse", "a.xml"])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
