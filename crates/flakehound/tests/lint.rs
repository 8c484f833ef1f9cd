//! `flakehound lint`: the three formats (SARIF validated against the official 2.1.0 schema),
//! suppressions, the config file, `--flaky` on a store built from a JUnit history, and the
//! findings `explain` and `report --json` show for a flaky test.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn shop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flaky-shop")
}

fn fh(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("flakehound").unwrap();
    c.current_dir(dir)
        .env("FLAKEHOUND_DB", dir.join(".flakehound-test.db"))
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI");
    c
}

fn run(c: &mut Command, code: i32) -> String {
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The planted flaky tests of flaky-shop that the scan finds, and where.
#[test]
fn json_names_the_planted_flaky_tests_with_their_categories() {
    let text = run(fh(&shop()).args(["lint", "--format", "json"]), 1);
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut got: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["tests"].as_array().unwrap().iter().map(move |t| {
                (
                    t.as_str().unwrap().to_string(),
                    f["rule"].as_str().unwrap().to_string(),
                    f["category"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    got.sort();
    let want = [
        (
            "tests/test_catalog.py::test_product_card_badges",
            "set-iteration-order",
            "unordered",
        ),
        (
            "tests/test_export.py::test_nightly_order_export",
            "fixed-tmp-path",
            "filesystem",
        ),
        (
            "tests/test_invoices.py::test_invoice_total_line",
            "shared-module-state",
            "order",
        ),
        (
            "tests/test_payments.py::test_default_payment_providers",
            "shared-module-state",
            "order",
        ),
        (
            "tests/test_quotes.py::test_quote_for_large_cart",
            "timing-assert",
            "timeout",
        ),
        (
            "tests/test_reports.py::test_daily_sales_report_counts_new_order",
            "wall-clock-compare",
            "time",
        ),
        (
            "tests/test_shipping.py::test_split_shipment_labels",
            "unseeded-random",
            "randomness",
        ),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(v["tests"], 33);
    assert!(v["errors"].as_array().unwrap().is_empty());
}

#[test]
fn text_view_shows_the_code_excerpt() {
    let text = run(fh(&shop()).args(["lint"]), 1);
    insta::assert_snapshot!("lint_flaky_shop_text", text);
}

#[test]
fn json_view_snapshot() {
    let text = run(fh(&shop()).args(["lint", "--format", "json"]), 1);
    let v: Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!("lint_flaky_shop_json", v);
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let text = run(fh(&shop()).args(["lint", "--format", "sarif"]), 1);
    let log: Value = serde_json::from_str(&text).unwrap();
    let schema_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif/sarif-schema-2.1.0.json");
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_file).unwrap()).unwrap();
    // The official schema's `language` patterns have a stray `]`, a literal in ECMA-262
    // regular expressions but an error for Rust's regex engines: escape it (same meaning).
    fn escape(v: &mut Value, n: &mut usize) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "pattern" && x == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" {
                        *x = Value::from(r"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\]?$");
                        *n += 1;
                    } else {
                        escape(x, n);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| escape(x, n)),
            _ => {}
        }
    }
    let mut escaped = 0;
    escape(&mut schema, &mut escaped);
    assert!(escaped >= 1);
    let validator = jsonschema::draft7::new(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    // The shared-state finding points at the test that changes the state.
    let shared = results
        .iter()
        .find(|r| r["relatedLocations"].is_array())
        .unwrap();
    assert_eq!(shared["ruleId"], "shared-module-state");
    // JavaScript/TypeScript and Rust findings (the lint crate's fixtures) validate too, the
    // pedantic rules' notes among them.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flakehound-lint/tests/fixtures");
    let other = run(
        fh(&fixtures).args([
            "lint",
            "--format",
            "sarif",
            "--pedantic",
            "js-shop",
            "rust-cache",
        ]),
        1,
    );
    let other: Value = serde_json::from_str(&other).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&other)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let results = other["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 12);
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "sleep-wait" && r["level"] == "note"),
        "{results:?}"
    );
    // An invalid log is rejected (the validator is not vacuous).
    let mut bad = log.clone();
    bad["runs"][0]["results"][0]["level"] = Value::from("loud");
    assert!(!validator.is_valid(&bad));
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pytest.ini"), "[pytest]\n").unwrap();
    for (p, src) in files {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, src).unwrap();
    }
    dir
}

#[test]
fn suppression_and_config() {
    let dir = project(&[
        (
            "tests/test_a.py",
            "import time, random\n\ndef test_a():\n    time.sleep(1)  # flakehound: ignore[sleep-wait]\n    assert random.random() < 2\n",
        ),
        (
            "tests/vendor/test_v.py",
            "import time\n\ndef test_v():\n    time.sleep(1)\n",
        ),
    ]);
    let rules = |args: &[&str]| -> Vec<String> {
        let text = run(
            fh(dir.path()).args(["lint", "--format", "json"]).args(args),
            1,
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    // sleep-wait is pedantic: only with --pedantic (or the config's `pedantic`/`enable`).
    assert_eq!(rules(&[]), ["unseeded-random"]);
    assert_eq!(rules(&["--pedantic"]), ["unseeded-random", "sleep-wait"]);
    std::fs::create_dir_all(dir.path().join(".flakehound")).unwrap();
    std::fs::write(
        dir.path().join(".flakehound/config.toml"),
        "[lint]\nenable = [\"sleep-wait\"]\n",
    )
    .unwrap();
    assert_eq!(rules(&[]), ["unseeded-random", "sleep-wait"]);

    std::fs::create_dir_all(dir.path().join(".flakehound")).unwrap();
    std::fs::write(
        dir.path().join(".flakehound/config.toml"),
        "[run]\nretries = 1\n\n[lint]\ndisable = [\"unseeded-random\"]\nexclude = [\"tests/vendor\"]\npedantic = true\n",
    )
    .unwrap();
    let out = fh(dir.path())
        .args(["lint", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["findings"].as_array().unwrap().is_empty());

    // A mistake in the table is reported and the rest still applies.
    std::fs::write(
        dir.path().join(".flakehound/config.toml"),
        "[lint]\ndisable = [\"sleep-wiat\"]\n",
    )
    .unwrap();
    let out = fh(dir.path()).args(["lint"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule `sleep-wiat`"));
}

#[test]
fn a_default_rules_pedantic_form_is_a_note() {
    // test_a compares the clock with what the code computes (the pedantic form), test_b with a
    // fixed value (the default form).
    let dir = project(&[(
        "tests/test_a.py",
        "from datetime import date\n\ndef test_a():\n    assert report().day == date.today()\n\ndef test_b():\n    assert date.today().year == 2024\n",
    )]);
    // Exit 1 either way: test_b's warning.
    let text = run(fh(dir.path()).args(["lint"]), 1);
    assert!(text.contains("warning[wall-clock-compare]"), "{text}");
    assert!(!text.contains("note["), "{text}");
    let text = run(fh(dir.path()).args(["lint", "--pedantic"]), 1);
    assert!(text.contains("note[wall-clock-compare]"), "{text}");
    assert!(text.contains("warning[wall-clock-compare]"), "{text}");
    let json = run(
        fh(dir.path()).args(["lint", "--pedantic", "--format", "json"]),
        1,
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    let flags: Vec<(u64, Option<bool>)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["line"].as_u64().unwrap(), f["pedantic"].as_bool()))
        .collect();
    assert_eq!(flags, [(4, Some(true)), (7, None)]);
    let sarif = run(
        fh(dir.path()).args(["lint", "--pedantic", "--format", "sarif"]),
        1,
    );
    let v: Value = serde_json::from_str(&sarif).unwrap();
    let levels: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["note", "warning"]);
}

#[test]
fn unparseable_files_are_reported_and_the_scan_goes_on() {
    let dir = project(&[
        ("tests/test_bad.py", "def test_x(:\n  pass\n"),
        (
            "tests/test_ok.py",
            "import time\n\ndef test_ok():\n    time.sleep(2)\n",
        ),
    ]);
    let text = run(fh(dir.path()).args(["lint", "--pedantic"]), 1);
    assert!(
        text.contains("tests/test_bad.py: syntax error near line 1"),
        "{text}"
    );
    // A pedantic rule's finding is a note.
    assert!(text.contains("note[sleep-wait]"), "{text}");
}

/// A JUnit history where `test_sleepy` flakes and `test_steady` (which also has a finding)
/// passes every time.
fn history(dir: &Path) {
    for i in 1..=6 {
        let run = dir.join(format!("reports/r{i}"));
        std::fs::create_dir_all(&run).unwrap();
        let fail = if i % 2 == 0 {
            r#"<failure message="AssertionError: worker not done">trace</failure>"#
        } else {
            ""
        };
        std::fs::write(
            run.join("junit.xml"),
            format!(
                r#"<testsuites><testsuite name="pytest" tests="2">
<testcase classname="tests.test_jobs" name="test_sleepy" time="1.1">{fail}</testcase>
<testcase classname="tests.test_jobs" name="test_steady" time="0.1"/>
</testsuite></testsuites>"#
            ),
        )
        .unwrap();
        fh(dir)
            .args([
                "ingest",
                "--quiet",
                "--run-id",
                &i.to_string(),
                "--commit",
                "c1",
            ])
            .args(["--timestamp", &format!("2026-11-0{i}T10:00:00Z")])
            .arg(&run)
            .assert()
            .success();
    }
}

#[test]
fn flaky_scans_only_the_flaky_tests_and_explain_shows_the_findings() {
    let dir = project(&[(
        "tests/test_jobs.py",
        "import threading, time\n\ndef test_sleepy():\n    t = threading.Thread(target=print)\n    t.start()\n    time.sleep(1)\n    assert True\n\ndef test_steady():\n    time.sleep(0.5)\n    assert True\n",
    )]);
    history(dir.path());
    let text = run(fh(dir.path()).args(["lint", "--flaky"]), 1);
    assert!(
        text.contains("1. tests/test_jobs.py::test_sleepy"),
        "{text}"
    );
    assert!(!text.contains("test_steady"), "{text}");
    assert!(
        text.contains("[sleep-wait]") && text.contains("[thread-no-join]"),
        "{text}"
    );

    let v: Value = serde_json::from_str(&run(
        fh(dir.path()).args(["lint", "--flaky", "--format", "json"]),
        1,
    ))
    .unwrap();
    let tests = v["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0]["id"], "tests/test_jobs.py::test_sleepy");
    assert_eq!(tests[0]["findings"].as_array().unwrap().len(), 2);

    // explain and report --json carry the findings inside the flaky test.
    let explain: Value = serde_json::from_str(&run(
        fh(dir.path()).args(["explain", "tests/test_jobs.py::test_sleepy", "--json"]),
        0,
    ))
    .unwrap();
    let found = explain["verdict"]["lint_findings"].as_array().unwrap();
    assert_eq!(found.len(), 2);
    let text = run(
        fh(dir.path()).args(["explain", "tests/test_jobs.py::test_sleepy"]),
        0,
    );
    assert!(
        text.contains("Static scan (flakehound lint): 2 findings"),
        "{text}"
    );

    let report_text = run(fh(dir.path()).args(["report", "--json"]), 0);
    // The entry keeps its own key order (`id` first), `lint_findings` last.
    let first_keys: Vec<&str> = report_text
        .lines()
        .filter(|l| l.starts_with("    \""))
        .take(2)
        .collect();
    assert!(first_keys[0].contains("\"id\""), "{first_keys:?}");
    let report: Value = serde_json::from_str(&report_text).unwrap();
    let entry = report
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "tests/test_jobs.py::test_sleepy")
        .unwrap();
    assert_eq!(entry["lint_findings"].as_array().unwrap().len(), 2);
    for (name, value) in [("explain", &explain), ("report", &report)] {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("tests/schemas/{name}.schema.json")),
            )
            .unwrap(),
        )
        .unwrap();
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn agreement_with_the_category_raises_confidence() {
    // A flaky test whose failures say "timed out" (category timeout) and whose code asserts on
    // a duration (timing-assert, category timeout).
    let dir = project(&[(
        "tests/test_t.py",
        "import time\n\ndef test_fast():\n    t0 = time.monotonic()\n    work()\n    assert time.monotonic() - t0 < 0.05\n",
    )]);
    for i in 1..=6 {
        let run = dir.path().join(format!("reports/r{i}"));
        std::fs::create_dir_all(&run).unwrap();
        let fail = if i % 2 == 0 {
            r#"<failure message="AssertionError: took too long, timed out">x</failure>"#
        } else {
            ""
        };
        std::fs::write(
            run.join("junit.xml"),
            format!(
                r#"<testsuites><testsuite name="pytest" tests="1"><testcase classname="tests.test_t" name="test_fast" time="0.1">{fail}</testcase></testsuite></testsuites>"#
            ),
        )
        .unwrap();
        fh(dir.path())
            .args([
                "ingest",
                "--quiet",
                "--run-id",
                &i.to_string(),
                "--commit",
                "c1",
            ])
            .args(["--timestamp", &format!("2026-11-0{i}T10:00:00Z")])
            .arg(&run)
            .assert()
            .success();
    }
    let classify: Value = serde_json::from_str(&run(
        fh(dir.path()).args(["classify", "tests/test_t.py::test_fast", "--json"]),
        0,
    ))
    .unwrap();
    let before = classify[0]["confidence"].as_f64().unwrap();
    assert_eq!(classify[0]["category"], "timeout");
    let report: Value =
        serde_json::from_str(&run(fh(dir.path()).args(["report", "--json"]), 0)).unwrap();
    let after = report[0]["confidence"].as_f64().unwrap();
    assert!(
        (after - (before + (1.0 - before) * 0.25)).abs() < 1e-9,
        "{before} → {after}"
    );
}
