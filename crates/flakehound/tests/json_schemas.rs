//! Every `--json` output of the CLI, validated against its JSON Schema (draft 2020-12) in
//! `tests/schemas/<command>.schema.json`, and checked for repeated keys: serde_json keeps the
//! last of two equal keys without a word, and so do most consumers, so a repeated key is a
//! silent lie about one of the values.
//!
//! To cover a new command: write `schemas/<command>.schema.json` (closed objects:
//! `additionalProperties: false`), then call [`check`] on the command's real output.

use assert_cmd::Command;
use flakehound_testkit::{QUIET_PYTEST, pytest_python};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A JSON value parsed with a check that no object repeats a key.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strict;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
                Ok(Strict(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
                Ok(Strict(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
                Ok(Strict(Value::String(v.into())))
            }
            fn visit_string<E>(self, v: String) -> Result<Strict, E> {
                Ok(Strict(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
                let mut v = Vec::new();
                while let Some(Strict(x)) = seq.next_element()? {
                    v.push(x);
                }
                Ok(Strict(Value::Array(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
                let mut m = Map::new();
                while let Some(k) = map.next_key::<String>()? {
                    let Strict(v) = map.next_value()?;
                    if m.insert(k.clone(), v).is_some() {
                        return Err(de::Error::custom(format!("duplicate key {k:?}")));
                    }
                }
                Ok(Strict(Value::Object(m)))
            }
        }
        d.deserialize_any(V)
    }
}

fn schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/schemas/{name}.schema.json"))
}

/// Parses `text` (no repeated keys) and validates it against `schemas/<name>.schema.json`.
fn check(name: &str, text: &str) -> Value {
    let Strict(value) = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{name}: not valid JSON or a repeated key: {e}\n{text}"));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path(name)).unwrap()).unwrap();
    let validator = jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("{name}.schema.json is not a valid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name} --json does not match schemas/{name}.schema.json:\n{}\n{text}",
        errors.join("\n")
    );
    value
}

fn fh(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("flakehound").unwrap();
    c.current_dir(dir)
        .env("FLAKEHOUND_DB", dir.join("x.db"))
        .env("FLAKEHOUND_QUARANTINE", dir.join("quarantine.toml"))
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI");
    c
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Six CI runs on three commits: a stable, a flaky, a broken and a never-run (skipped) test.
fn history(dir: &Path) {
    for i in 1..=6 {
        let run = dir.join(format!("r{i}"));
        std::fs::create_dir_all(&run).unwrap();
        let flaky = if i % 2 == 0 {
            format!(r#"<failure message="boom {i}">trace</failure>"#)
        } else {
            String::new()
        };
        std::fs::write(
            run.join("report.xml"),
            format!(
                r#"<testsuites><testsuite name="s" tests="4">
<testcase classname="m" name="test_ok" time="0.1"/>
<testcase classname="m" name="test_flaky" time="0.2">{flaky}</testcase>
<testcase classname="m" name="test_broken" time="0.3"><failure message="always">x</failure></testcase>
<testcase classname="m" name="test_skipped" time="0"><skipped message="no gpu"/></testcase>
</testsuite></testsuites>"#
            ),
        )
        .unwrap();
        fh(dir)
            .args([
                "ingest",
                "--quiet",
                "--provider",
                "github-actions",
                "--job",
                "t",
            ])
            .args([
                "--run-id",
                &i.to_string(),
                "--commit",
                &format!("c{}", i / 3),
            ])
            .args(["--timestamp", &format!("2026-11-0{i}T10:00:00Z")])
            .arg(&run)
            .assert()
            .success();
    }
}

#[test]
fn analysis_outputs_match_their_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    history(dir);
    fh(dir)
        .args([
            "note",
            "m::test_flaky",
            "--category",
            "time",
            "--text",
            "tz",
        ])
        .assert()
        .success();

    let all = check(
        "report",
        &stdout(fh(dir).args(["report", "--json", "--all"])),
    );
    assert_eq!(all.as_array().unwrap().len(), 4);
    check("report", &stdout(fh(dir).args(["report", "--json"])));
    check(
        "classify",
        &stdout(fh(dir).args(["classify", "--all", "--json"])),
    );
    check(
        "classify",
        &stdout(fh(dir).args(["classify", "m::test_ok", "--json"])),
    );
    for t in ["m::test_flaky", "m::test_ok", "m::test_skipped"] {
        check("explain", &stdout(fh(dir).args(["explain", t, "--json"])));
    }
    check("incidents", &stdout(fh(dir).args(["incidents", "--json"])));
    check("clusters", &stdout(fh(dir).args(["clusters", "--json"])));
    check("notes", &stdout(fh(dir).args(["notes", "--json"])));
    check(
        "quarantine-sync",
        &stdout(fh(dir).args(["quarantine", "sync", "--dry-run", "--json"])),
    );
}

#[test]
fn shared_clusters_and_incidents_match_their_schemas() {
    // Ten tests failing together in one run of ten (an incident), and two tests sharing one
    // failure message in other runs (a shared cluster).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for i in 1..=8 {
        let run = dir.join(format!("r{i}"));
        std::fs::create_dir_all(&run).unwrap();
        let cases: String = (0..10)
            .map(|t| {
                let fail = if i == 4 {
                    r#"<failure message="ConnectionError: could not connect to database at 10.0.0.1:5432"/>"#
                        .to_string()
                } else if i % 2 == 0 && t < 2 {
                    format!(r#"<failure message="fixture db_seed failed: {i} rows missing"/>"#)
                } else {
                    String::new()
                };
                format!(r#"<testcase classname="m" name="test_{t}" time="0.1">{fail}</testcase>"#)
            })
            .collect();
        std::fs::write(
            run.join("report.xml"),
            format!(r#"<testsuites><testsuite name="s">{cases}</testsuite></testsuites>"#),
        )
        .unwrap();
        fh(dir)
            .args(["ingest", "--quiet", "--run-id", &i.to_string()])
            .args(["--commit", &format!("c{i}")])
            .args(["--timestamp", &format!("2026-11-0{i}T10:00:00Z")])
            .arg(&run)
            .assert()
            .success();
    }
    let inc = check("incidents", &stdout(fh(dir).args(["incidents", "--json"])));
    assert_eq!(inc.as_array().unwrap().len(), 1, "{inc:#}");
    let cl = check("clusters", &stdout(fh(dir).args(["clusters", "--json"])));
    assert_eq!(cl.as_array().unwrap().len(), 1, "{cl:#}");
}

#[test]
fn parse_and_ingest_outputs_match_their_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("ok.xml"),
        r#"<testsuite name="s"><testcase classname="m" name="a"/></testsuite>"#,
    )
    .unwrap();
    std::fs::write(dir.join("bad.xml"), "not a report").unwrap();
    let text = stdout(fh(dir).args(["parse", "--json", "ok.xml", "bad.xml", "missing.xml"]));
    assert_eq!(text.lines().count(), 3, "{text}");
    for line in text.lines() {
        check("parse", line);
    }
    let first = check(
        "ingest",
        &stdout(fh(dir).args(["ingest", "--json", "ok.xml", "bad.xml"])),
    );
    assert_eq!(first["files"][0]["status"], "ingested", "{first:#}");
    let again = check(
        "ingest",
        &stdout(fh(dir).args(["ingest", "--json", "ok.xml"])),
    );
    assert_eq!(again["files"][0]["status"], "duplicate", "{again:#}");
}

#[test]
fn quarantine_list_matches_its_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fh(dir)
        .args(["quarantine", "add", "m::test_flaky", "--reason", "races"])
        .args(["--owner", "@team", "--issue", "https://example.invalid/1"])
        .assert()
        .success();
    let list = check(
        "quarantine-list",
        &stdout(fh(dir).args(["quarantine", "list", "--json"])),
    );
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn hunt_output_matches_its_schema_without_repeated_keys() {
    let Some(py) = pytest_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt-py");
    let out = Command::cargo_bin("flakehound")
        .unwrap()
        .current_dir(&fixture)
        .env("FLAKEHOUND_DB", tmp.path().join("h.db"))
        .args([
            "hunt",
            "--runs",
            "2",
            "--workers",
            "1",
            "--seed",
            "7",
            "--json",
            "--",
        ])
        .arg(&py)
        .args(QUIET_PYTEST)
        .output()
        .unwrap();
    let h = check("hunt", &String::from_utf8(out.stdout).unwrap());
    // `--runs` ends the hunt by rounds, not by a time budget.
    assert_eq!(h["stopped"], "rounds", "{h:#}");
}

#[test]
fn the_duplicate_key_check_works() {
    assert!(serde_json::from_str::<Strict>(r#"{"a": 1, "b": {"c": 1, "c": 2}}"#).is_err());
    assert!(serde_json::from_str::<Strict>(r#"[{"a": 1}, {"a": 2}]"#).is_ok());
}

#[test]
fn import_and_report_jobs_match_their_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let mut scenario = flakehound_import::fixture::Scenario::github(8);
    scenario.token = Some("t".into());
    let fx = flakehound_import::fixture::Fixture::start(scenario);
    let import = stdout(
        fh(dir.path())
            .env("GITHUB_TOKEN", "t")
            .args(["import", "github", "--repo", "acme/shop", "--json"])
            .args(["--api-url", &fx.url]),
    );
    let v = check("import", &import);
    assert!(v["imported"].as_u64() > Some(0), "{v}");
    let jobs = stdout(fh(dir.path()).args(["report", "--jobs", "--json"]));
    let v = check("report-jobs", &jobs);
    assert!(!v["flaky_jobs"].as_array().unwrap().is_empty(), "{v}");
    assert!(!v["tests"].as_array().unwrap().is_empty(), "{v}");
}
