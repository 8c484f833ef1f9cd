//! `quarantine`, `note` and `notes` through the binary, in throwaway git repositories.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            assert!(
                std::process::Command::new("git")
                    .args(args)
                    .current_dir(dir.path())
                    .output()
                    .unwrap()
                    .status
                    .success()
            )
        };
        git(&["init", "-q"]);
        std::fs::create_dir_all(dir.path().join(".github")).unwrap();
        std::fs::write(
            dir.path().join(".github/CODEOWNERS"),
            "*.py @acme/everyone\ntests/payments/ @acme/payments\n",
        )
        .unwrap();
        Repo { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("store.db")
    }

    fn fh(&self) -> Command {
        let mut cmd = Command::cargo_bin("flakehound").unwrap();
        cmd.current_dir(self.path())
            .env("FLAKEHOUND_DB", self.db())
            .env("FLAKEHOUND_TODAY", "2026-11-22")
            .env_remove("FLAKEHOUND_QUARANTINE")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `flakehound ingest --quiet reports`, which must succeed.
    fn ingest(&self) {
        self.fh()
            .args(["ingest", "--quiet", "reports"])
            .assert()
            .success();
    }

    /// `flakehound quarantine add t --reason x --expires DATE`.
    fn add_expiring(&self, expires: &str) -> assert_cmd::assert::Assert {
        self.fh()
            .args([
                "quarantine",
                "add",
                "t",
                "--reason",
                "x",
                "--expires",
                expires,
            ])
            .assert()
    }

    fn quarantine_text(&self) -> String {
        std::fs::read_to_string(self.path().join(".flakehound/quarantine.toml")).unwrap()
    }

    /// One run per directory: `attempt-N.xml` per attempt, each with `(name, passed)` cases.
    fn write_run(&self, run: usize, attempts: &[&[(&str, bool)]]) {
        let dir = self.path().join(format!("reports/run-{run:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, cases) in attempts.iter().enumerate() {
            let mut xml = format!(
                "<testsuite name=\"pytest\" timestamp=\"2026-11-01T{:02}:{:02}:00\">",
                run / 60,
                run % 60
            );
            for (name, ok) in *cases {
                let (module, test) = name.rsplit_once("::").unwrap();
                let classname = module.trim_end_matches(".py").replace('/', ".");
                xml.push_str(&format!(
                    "<testcase classname=\"{classname}\" name=\"{test}\" time=\"0.1\">{}</testcase>",
                    if *ok { "" } else { "<failure message=\"boom\"/>" }
                ));
            }
            xml.push_str("</testsuite>");
            std::fs::write(dir.join(format!("attempt-{}.xml", i + 1)), xml).unwrap();
        }
    }
}

#[test]
fn add_list_export_remove_round_trip_with_owners_from_codeowners() {
    let r = Repo::new();
    r.fh()
        .args([
            "quarantine",
            "add",
            "tests/payments/test_refund.py::test_partial",
        ])
        .args(["--reason", "races the ledger", "--days", "10"])
        .args(["--issue", "https://example.com/issues/7"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "owner @acme/payments, expires 2026-12-02",
        ));
    r.fh()
        .args([
            "quarantine",
            "add",
            "tests/test_ui.py::test_render[dark mode]",
        ])
        .args([
            "--reason",
            "font loading",
            "--owner",
            "@bob",
            "--expires",
            "2026-11-25",
        ])
        .assert()
        .success();
    let text = r.quarantine_text();
    assert!(
        text.contains("id = \"tests/payments/test_refund.py::test_partial\""),
        "{text}"
    );
    assert!(text.contains("owner = \"@bob\""), "{text}");
    // Listing on a later day marks the expired entry.
    let out = r
        .fh()
        .env("FLAKEHOUND_TODAY", "2026-11-30")
        .args(["quarantine", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("2026-11-25 (expired)"), "{out}");
    assert!(out.contains("2 quarantined, 1 past expiry"), "{out}");
    let json: serde_json::Value = serde_json::from_slice(
        &r.fh()
            .args(["quarantine", "list", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["owner"], "@acme/payments");
    r.fh()
        .args(["quarantine", "export", "--format", "pytest"])
        .assert()
        .success()
        .stdout(
            "--deselect tests/payments/test_refund.py::test_partial \
             --deselect 'tests/test_ui.py::test_render[dark mode]'\n",
        );
    r.fh()
        .args([
            "quarantine",
            "remove",
            "tests/test_ui.py::test_render[dark mode]",
        ])
        .assert()
        .success();
    assert!(!r.quarantine_text().contains("test_render"));
    // Removing what is not there is an error that names the test.
    r.fh()
        .args(["quarantine", "remove", "tests/nope.py::t"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tests/nope.py::t"));
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let r = Repo::new();
    r.add_expiring("2026-01-01")
        .code(2)
        .stderr(predicate::str::contains("before today"));
    r.add_expiring("soon").code(2);
    std::fs::create_dir_all(r.path().join(".flakehound")).unwrap();
    std::fs::write(
        r.path().join(".flakehound/quarantine.toml"),
        "version = 1\n[[test]]\nid = \"t\"\nreason = 3\n",
    )
    .unwrap();
    // The malformed entry is skipped and reported (exit 1); the rest of the file would count.
    r.fh().args(["quarantine", "list"]).assert().code(1).stderr(
        predicate::str::contains("quarantine.toml")
            .and(predicate::str::contains("quarantine.toml:4:")),
    );
    r.fh()
        .args(["note", "t", "--category", "weather", "--text", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown category"));
}

#[test]
fn sync_quarantines_flaky_tests_and_releases_healed_ones() {
    let r = Repo::new();
    // Three runs in which test_flaky failed and passed on retry (3 strikes); test_healed failed
    // long ago and then passed 20 runs in a row.
    for run in 0..3 {
        r.write_run(
            run,
            &[
                &[
                    ("tests/test_a.py::test_flaky", false),
                    ("tests/test_a.py::test_ok", true),
                ],
                &[("tests/test_a.py::test_flaky", true)],
            ],
        );
    }
    r.write_run(3, &[&[("tests/test_a.py::test_healed", false)]]);
    for run in 4..24 {
        r.write_run(
            run,
            &[&[
                ("tests/test_a.py::test_healed", true),
                ("tests/test_a.py::test_flaky", true),
                ("tests/test_a.py::test_ok", true),
            ]],
        );
    }
    r.ingest();
    r.fh()
        .args([
            "quarantine",
            "add",
            "tests/test_a.py::test_healed",
            "--reason",
            "was flaky",
        ])
        .assert()
        .success();
    std::fs::write(
        r.path().join(".flakehound/config.toml"),
        "[quarantine]\nstrikes = 3\nmin_confidence = 0.999\nrelease_after_passes = 20\nowner = \"@qa\"\n",
    )
    .unwrap();
    let dry = r
        .fh()
        .args(["quarantine", "sync", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(dry.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        plan["added"][0]["id"], "tests/test_a.py::test_flaky",
        "{plan:#}"
    );
    assert_eq!(plan["added"][0]["owner"], "@acme/everyone", "{plan:#}");
    assert_eq!(
        plan["released"][0]["id"], "tests/test_a.py::test_healed",
        "{plan:#}"
    );
    assert!(
        r.quarantine_text().contains("test_healed"),
        "dry run writes nothing"
    );
    r.fh()
        .args(["quarantine", "sync"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 added, 1 released"));
    let text = r.quarantine_text();
    assert!(
        text.contains("test_flaky") && !text.contains("test_healed"),
        "{text}"
    );
}

#[test]
fn sync_without_a_store_fails_open_and_checks_expiry() {
    let r = Repo::new();
    r.add_expiring("2026-11-23").success();
    r.fh()
        .env("FLAKEHOUND_TODAY", "2026-12-01")
        .args(["quarantine", "sync"])
        .assert()
        .success()
        .stdout(predicate::str::contains("past expiry: t"))
        .stderr(predicate::str::contains("no evidence"));
}

#[test]
fn notes_show_in_explain_and_report_and_can_be_removed() {
    let r = Repo::new();
    r.write_run(
        0,
        &[
            &[("tests/test_a.py::test_flaky", false)],
            &[("tests/test_a.py::test_flaky", true)],
        ],
    );
    r.ingest();
    r.fh()
        .args(["note", "tests/test_a.py::test_flaky", "--category", "time"])
        .args([
            "--text",
            "fails across midnight UTC",
            "--link",
            "https://example.com/9",
        ])
        .assert()
        .success()
        .stdout("Note #1 added to tests/test_a.py::test_flaky\n");
    r.fh()
        .args(["explain", "tests/test_a.py::test_flaky"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("[time] fails across midnight UTC (https://example.com/9)")
                .and(predicate::str::contains("Owner: @acme/everyone")),
        );
    r.fh()
        .args(["report"])
        .assert()
        .success()
        .stdout(predicate::str::contains("fails across midnight UTC"));
    let json: serde_json::Value =
        serde_json::from_slice(&r.fh().args(["report", "--json"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(json[0]["notes"][0]["category"], "time");
    assert_eq!(json[0]["owners"][0], "@acme/everyone");
    r.fh().args(["notes", "--remove", "1"]).assert().success();
    r.fh()
        .args(["notes", "--remove", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no note #1"));
    r.fh()
        .args(["notes"])
        .assert()
        .success()
        .stdout("No notes.\n");
}
