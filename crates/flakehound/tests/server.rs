//! The team server through the command line: a real `flakehound serve` process on a random
//! local port, over SQLite and over the real PostgreSQL (`FLAKEHOUND_TEST_POSTGRES`; a schema per
//! test, dropped at its end), driven by `flakehound upload`, `flakehound server …` and plain HTTP.

mod dashboard_support;

use assert_cmd::Command;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Child;

/// The store a test's server uses: a SQLite file in its directory, or a PostgreSQL schema of
/// its own (dropped with it).
struct Db {
    location: String,
    /// The schema (dropped with it), when on PostgreSQL.
    pg: Option<flakehound_testkit::PgSchema>,
}

impl Db {
    fn sqlite(dir: &Path) -> Db {
        Db {
            location: dir.join("server.db").display().to_string(),
            pg: None,
        }
    }

    fn postgres(tag: &str) -> Option<Db> {
        let schema = flakehound_testkit::PgSchema::new(&flakehound_testkit::test_postgres()?, tag);
        Some(Db {
            location: schema.url(),
            pg: Some(schema),
        })
    }
}

fn fh(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("flakehound").unwrap();
    c.current_dir(dir)
        .env_remove("FLAKEHOUND_DB")
        .env_remove("FLAKEHOUND_DATABASE")
        .env_remove("FLAKEHOUND_SERVER")
        .env_remove("FLAKEHOUND_TOKEN")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI")
        .env("COLUMNS", "200");
    c
}

/// `server token create` on `db`: the secret.
fn token(dir: &Path, db: &Db, project: &str, scope: &str) -> String {
    let out = fh(dir)
        .args(["server", "--database", &db.location, "token", "create"])
        .args(["--project", project, "--scope", scope])
        .output()
        .unwrap();
    flakehound_testkit::success_stdout(&out).trim().to_string()
}

/// One story, `fn(Db, &Path)`, as a test per engine: `$sqlite` on a SQLite file, `$postgres`
/// on a PostgreSQL schema of its own (tagged `$tag`; skipped without a PostgreSQL server).
macro_rules! on_both_engines {
    ($story:ident, $sqlite:ident, $postgres:ident, $tag:literal) => {
        #[test]
        fn $sqlite() {
            let dir = tempfile::tempdir().unwrap();
            $story(Db::sqlite(dir.path()), dir.path());
        }

        #[test]
        fn $postgres() {
            let Some(db) = Db::postgres($tag) else {
                return;
            };
            let dir = tempfile::tempdir().unwrap();
            $story(db, dir.path());
        }
    };
}

/// A running `flakehound serve`, stopped (SIGTERM, then waited for) when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(dir: &Path, db: &Db, extra: &[&str]) -> Serve {
        Serve::start_at(dir, db, "127.0.0.1:0", extra)
    }

    fn start_at(dir: &Path, db: &Db, listen: &str, extra: &[&str]) -> Serve {
        let bin = assert_cmd::cargo::cargo_bin("flakehound");
        let (child, url) = dashboard_support::spawn_serving(
            std::process::Command::new(bin)
                .current_dir(dir)
                .args(["serve", "--listen", listen, "--database", &db.location])
                .args(extra)
                .env("FLAKEHOUND_LOG", "warn"),
        );
        Serve { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Graceful: SIGTERM lets the server finish what it is doing.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

fn get(url: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut r = http().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Parts of a multipart upload: (part name, file name, bytes).
type Parts<'a> = Vec<(&'a str, &'a str, Vec<u8>)>;

/// A raw multipart upload.
fn post_parts(
    url: &str,
    token: &str,
    parts: Parts<'_>,
) -> (u16, serde_json::Value, Option<String>) {
    let mut form = reqwest::blocking::multipart::Form::new();
    for (name, file, bytes) in parts {
        form = form.part(
            name.to_string(),
            reqwest::blocking::multipart::Part::bytes(bytes).file_name(file.to_string()),
        );
    }
    let r = http()
        .post(format!("{url}/api/v1/uploads"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        retry,
    )
}

/// Run `i` of a small suite: a stable test, a flaky one (failing in runs 1, 4, 5, 8; retried to
/// a pass in run 4) and one broken from run 6.
fn junit(i: usize) -> String {
    let flaky = if [1, 4, 5, 8].contains(&i) {
        let retry = if i == 4 {
            r#"<testcase classname="m" name="flaky" time="0.2"/>"#
        } else {
            ""
        };
        format!(
            r#"<testcase classname="m" name="flaky" time="0.2"><failure message="timeout waiting for db">trace</failure></testcase>{retry}"#
        )
    } else {
        r#"<testcase classname="m" name="flaky" time="0.2"/>"#.to_string()
    };
    let broken = if i >= 6 {
        r#"<testcase classname="m" name="broken" time="0.1"><failure message="assert 1 == 2">x</failure></testcase>"#
    } else {
        r#"<testcase classname="m" name="broken" time="0.1"/>"#
    };
    format!(
        r#"<testsuite name="s" timestamp="2026-11-{:02}T10:00:00"><testcase classname="m" name="stable" time="0.1"/>{flaky}{broken}</testsuite>"#,
        i + 1
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write_runs(dir: &Path) -> Vec<PathBuf> {
    (0..10)
        .map(|i| {
            let p = dir.join(format!("runs/{i}/junit.xml"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, junit(i)).unwrap();
            p
        })
        .collect()
}

fn verdicts(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// CI uploads a history through `flakehound upload`; uploading it again stores nothing; the API
/// answers what `report --json` answers over the same database; a test's page is `explain`'s.
fn uploads_build_one_history(db: Db, dir: &Path) {
    let up = token(dir, &db, "acme/web", "upload");
    let read = token(dir, &db, "acme/web", "read");
    let serve = Serve::start(dir, &db, &[]);
    let runs = write_runs(dir);
    for (i, run) in runs.iter().enumerate() {
        let out = fh(dir)
            .args(["upload", "--server", &serve.url, "--token", &up, "--json"])
            .args([
                "--run-id",
                &i.to_string(),
                "--commit",
                &format!("c{}", i / 2),
            ])
            .arg(run)
            .output()
            .unwrap();
        assert!(out.status.success());
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["files"][0]["status"], "stored", "{answer}");
        assert_eq!(answer["project"], "acme/web");
    }
    // The same files again: duplicates, nothing changes.
    let out = fh(dir)
        .args(["upload", "--server", &serve.url, "--token", &up, "--json"])
        .args(["--run-id", "0", "--commit", "c0"])
        .arg(&runs[0])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["files"][0]["status"], "duplicate", "{answer}");
    assert_eq!(answer["warnings"].as_array().unwrap().len(), 0);
    let id = answer["id"].as_str().unwrap().to_string();
    let (status, again) = get(&format!("{}/api/v1/uploads/{id}", serve.url), Some(&up));
    assert_eq!((status, &again), (200, &answer));

    let (status, api) = get(
        &format!("{}/api/v1/report?all=true", serve.url),
        Some(&read),
    );
    assert_eq!(status, 200, "{api}");
    let local = fh(dir)
        .args(["--db", &db.location, "--project", "acme/web"])
        .args(["report", "--json", "--all"])
        .output()
        .unwrap();
    let local: serde_json::Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(verdicts(&api), verdicts(&local));
    let v = verdicts(&api);
    assert!(v.contains(&("m::flaky".into(), "flaky".into())), "{v:?}");
    assert!(v.contains(&("m::stable".into(), "stable".into())), "{v:?}");

    let (status, test) = get(&format!("{}/api/v1/tests/m::flaky", serve.url), Some(&read));
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["verdict"]["verdict"], "flaky");
    let (status, missing) = get(&format!("{}/api/v1/tests/m::nope", serve.url), Some(&read));
    assert_eq!(status, 404);
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("m::nope")
    );
    // The command line reads the same from the server (`--server`): the same verdicts as the
    // local store's, the same text.
    let remote = fh(dir)
        .args([
            "report", "--json", "--all", "--server", &serve.url, "--token", &read,
        ])
        .output()
        .unwrap();
    assert!(remote.status.code().is_some_and(|c| c <= 1));
    let remote: serde_json::Value = serde_json::from_slice(&remote.stdout).unwrap();
    assert_eq!(verdicts(&remote), verdicts(&local));
    let text_of = |args: &[&str]| {
        let out = fh(dir).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let local_args = ["--db", db.location.as_str(), "--project", "acme/web"];
    let remote_args = ["--server", serve.url.as_str(), "--token", read.as_str()];
    let commands: [&[&str]; 6] = [
        &["report"],
        &["explain", "m::flaky"],
        &["classify", "m::flaky"],
        &["classify", "--all"],
        &["incidents"],
        &["clusters"],
    ];
    for cmd in commands {
        let here = text_of(&[&local_args[..], cmd].concat());
        let there = text_of(&[cmd, &remote_args[..]].concat());
        // The printed follow-up commands name where the evidence is.
        let here = here.replace(&format!(" --db {} --project acme/web", db.location), "");
        let here = here.replace(&format!(" --db '{}' --project acme/web", db.location), "");
        let there = there.replace(&format!(" --server {}", serve.url), "");
        assert_eq!(here, there, "{cmd:?}");
        assert!(!there.is_empty(), "{cmd:?}");
    }
    // An upload token cannot read.
    let out = fh(dir)
        .args(["report", "--server", &serve.url, "--token", &up])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scope is upload"));
    for path in ["/api/v1/incidents", "/api/v1/clusters"] {
        let (status, v) = get(&format!("{}{path}", serve.url), Some(&read));
        assert_eq!(status, 200, "{path}: {v}");
        assert!(v.is_array());
    }
    // Metrics count what happened.
    let metrics = http()
        .get(format!("{}/metrics", serve.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("flakehound_uploads_total 11"), "{metrics}");
    // 10 runs of 3 tests, and the retry in run 4.
    assert!(metrics.contains("flakehound_results_total 31"), "{metrics}");
}

on_both_engines!(
    uploads_build_one_history,
    uploads_build_one_history_on_sqlite,
    uploads_build_one_history_on_postgres,
    "history"
);

/// Wrong, unknown, revoked, expired and other-project tokens get 401/403 and write nothing.
#[test]
fn tokens_are_checked_and_refusals_write_nothing() {
    use flakehound_store::Admin;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let up = token(dir, &db, "acme/web", "upload");
    let read = token(dir, &db, "acme/web", "read");
    let revoked = token(dir, &db, "acme/web", "upload");
    // An expired one, written directly (the command line makes none that are expired).
    let expired = "fhk_expired-token-for-the-test";
    {
        let mut admin =
            flakehound_store_sqlite::SqliteStore::open(Path::new(&db.location)).unwrap();
        admin
            .create_token(&flakehound_store::NewToken {
                project: "acme/web",
                scope: flakehound_store::Scope::Upload,
                label: None,
                hash: &flakehound_server::tokens::hash_secret(expired),
                prefix: "fhk_ex",
                created_at: "2020-01-01T00:00:00Z",
                expires_at: Some("2020-02-01T00:00:00Z"),
            })
            .unwrap();
    }
    let list = fh(dir)
        .args([
            "server",
            "--database",
            &db.location,
            "token",
            "list",
            "--json",
        ])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let revoked_id = list[2]["id"].as_i64().unwrap();
    // Secrets are never listed.
    assert!(!list.to_string().contains(&up[10..]));
    fh(dir)
        .args(["server", "--database", &db.location, "token", "revoke"])
        .arg(revoked_id.to_string())
        .assert()
        .success();
    let serve = Serve::start(dir, &db, &[]);
    let report = || vec![("report", "r.xml", junit(0).into_bytes())];
    let cases: Vec<(&str, u16, &str)> = vec![
        ("fhk_unknown", 401, "unknown token"),
        (revoked.as_str(), 401, "revoked"),
        (expired, 401, "expired"),
        (read.as_str(), 403, "scope is read"),
    ];
    for (t, want, says) in cases {
        let (status, body, _) = post_parts(&serve.url, t, report());
        assert_eq!(status, want, "{body}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{msg}");
    }
    // No Authorization header at all.
    let r = http()
        .post(format!("{}/api/v1/uploads", serve.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A token of another project than the request names.
    let r = http()
        .get(format!("{}/api/v1/report", serve.url))
        .bearer_auth(&read)
        .header("X-Flakehound-Project", "acme/other")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Nothing was written by any of them.
    let (_, v) = get(
        &format!("{}/api/v1/report?all=true", serve.url),
        Some(&read),
    );
    assert_eq!(v, serde_json::json!([]));
    // The good token works, and is marked used.
    let (status, body, _) = post_parts(&serve.url, &up, report());
    assert_eq!(status, 200, "{body}");
    let list = fh(dir)
        .args([
            "server",
            "--database",
            &db.location,
            "token",
            "list",
            "--json",
        ])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(list[0]["last_used_at"].is_string(), "{list}");
    assert!(list[2]["revoked_at"].is_string(), "{list}");
}

/// A bad file is rejected with its reason while the others land; requests that are not uploads
/// get a 4xx that says why.
#[test]
fn bad_parts_are_rejected_with_reasons_and_the_rest_lands() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let up = token(dir, &db, "acme/web", "upload");
    let serve = Serve::start(dir, &db, &["--max-upload-mb", "1"]);
    let good = junit(1).into_bytes();
    let mut truncated = gzip(junit(2).as_bytes());
    truncated.truncate(truncated.len() / 2);
    let xxe = br#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite><testcase classname="m" name="x"><failure message="&x;"/></testcase></testsuite>"#.to_vec();
    let (status, body, _) = post_parts(
        &serve.url,
        &up,
        vec![
            (
                "meta",
                "meta.json",
                br#"{"commit": "abc", "run_id": "7"}"#.to_vec(),
            ),
            ("report", "good.xml", good.clone()),
            ("report", "broken.xml", b"<testsuite><testcase".to_vec()),
            ("report", "cut.xml.gz", truncated),
            ("report", "zipped.xml.gz", gzip(junit(3).as_bytes())),
            ("report", "xxe.xml", xxe),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let files = body["files"].as_array().unwrap();
    let status_of = |name: &str| {
        files
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing in {body}"))
    };
    assert_eq!(status_of("good.xml")["status"], "stored");
    assert_eq!(status_of("zipped.xml.gz")["status"], "stored");
    assert_eq!(status_of("broken.xml")["status"], "rejected");
    assert_eq!(status_of("cut.xml.gz")["status"], "rejected");
    assert!(
        status_of("cut.xml.gz")["reason"]
            .as_str()
            .unwrap()
            .contains("gzip"),
        "{body}"
    );
    // The entity is never expanded: the report is refused or stored without the file's text.
    assert!(!body.to_string().contains("root:"), "{body}");
    // Only rejects: still a well-formed upload, answered 200 with the reasons.
    let (status, body, _) = post_parts(
        &serve.url,
        &up,
        vec![("report", "broken.xml", b"not a report".to_vec())],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["status"], "rejected");
    // No report part: nothing stored, a warning.
    let (status, body, _) = post_parts(
        &serve.url,
        &up,
        vec![("meta", "m", br#"{"commit": "x"}"#.to_vec())],
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no test results")
    );
    // Requests that are not uploads.
    let cases: Vec<(Parts<'_>, u16, &str)> = vec![
        (
            vec![
                ("meta", "m", br#"{"comit": "x"}"#.to_vec()),
                ("report", "r.xml", good.clone()),
            ],
            400,
            "comit",
        ),
        (vec![("other", "o", b"x".to_vec())], 400, "unknown part"),
    ];
    for (parts, want, says) in cases {
        let (status, body, _) = post_parts(&serve.url, &up, parts);
        assert_eq!(status, want, "{body}");
        let msg = body["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{says}: {msg}");
    }
    // A 1 GB body is refused from its announced length, before any of it is sent.
    let addr = serve.url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "POST /api/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {up}\r\n\
         Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 1073741824\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    while !answer.contains("}}") {
        let n = std::io::Read::read(&mut conn, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("larger than this server accepts"),
        "{answer}"
    );
    // Without a length (chunked), the limit stops the read.
    let big = reqwest::blocking::Body::new(std::io::Cursor::new(vec![b'x'; 3 * 1024 * 1024]));
    let r = http()
        .post(format!("{}/api/v1/uploads", serve.url))
        .bearer_auth(&up)
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body(big)
        .send();
    if let Ok(r) = r {
        // The server may answer before the client has sent everything (then the client sees
        // the connection close instead).
        assert!([400, 413].contains(&r.status().as_u16()), "{}", r.status());
    }
    let r = http()
        .post(format!("{}/api/v1/uploads", serve.url))
        .bearer_auth(&up)
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nContent-Disposition: form-data; name=\"report\"\r\n\r\ntrunc")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http()
        .post(format!("{}/api/v1/uploads", serve.url))
        .bearer_auth(&up)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

/// A server that is down never fails the CI step: the files are spooled, and a later `upload`
/// sends them (and removes them from the spool).
#[test]
fn a_server_that_is_down_keeps_ci_green_and_the_spool_sends_later() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let up = token(dir, &db, "acme/web", "upload");
    let runs = write_runs(dir);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = fh(dir)
        .args(["upload", "--server", &format!("http://127.0.0.1:{port}")])
        .args(["--token", &up, "--retries", "1", "--run-id", "1"])
        .arg(&runs[1])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a server that is down must not fail the step"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spooled in"), "{err}");
    // `--strict` makes it fail (exit 1) for those who want that.
    fh(dir)
        .args([
            "upload",
            "--strict",
            "--server",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(["--token", &up, "--retries", "0", "--run-id", "2"])
        .arg(&runs[2])
        .assert()
        .code(1);
    let spool = dir.join(".flakehound/spool");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 2);
    let serve = Serve::start(dir, &db, &[]);
    let out = fh(dir)
        .args(["upload", "--server", &serve.url, "--token", &up])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("1 files stored").count(), 2, "{text}");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    // The spooled metadata came along: two runs, by their run ids.
    let read = token(dir, &db, "acme/web", "read");
    let (_, v) = get(
        &format!("{}/api/v1/report?all=true", serve.url),
        Some(&read),
    );
    let flaky = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "m::flaky")
        .unwrap();
    assert_eq!(flaky["runs"], 2, "{flaky}");
}

/// Past its rate a token gets 429 with Retry-After; health, readiness and the API document need
/// no token.
#[test]
fn rate_limit_health_and_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let read = token(dir, &db, "acme/web", "read");
    let serve = Serve::start(dir, &db, &["--rate-limit", "2"]);
    let url = format!("{}/api/v1/report", serve.url);
    assert_eq!(get(&url, Some(&read)).0, 200);
    assert_eq!(get(&url, Some(&read)).0, 200);
    let r = http().get(&url).bearer_auth(&read).send().unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(get(&format!("{}/healthz", serve.url), None).0, 200);
    assert_eq!(get(&format!("{}/readyz", serve.url), None).0, 200);
    let (status, doc) = get(&format!("{}/api/v1/openapi.json", serve.url), None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/api/v1/uploads",
        "/api/v1/uploads/{id}",
        "/api/v1/report",
        "/api/v1/tests/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} undocumented");
    }
    let (status, body) = get(&format!("{}/api/v1/nope", serve.url), None);
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("openapi")
    );
}

/// A database that cannot be opened is one clear error at startup (exit 2), not a server that
/// fails every request.
#[test]
fn serve_with_an_unreachable_database_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = fh(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("postgres://nobody:secret@127.0.0.1:{port}/x"))
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1"), "{err}");
    assert!(
        !err.contains("secret"),
        "the password is never shown: {err}"
    );
}

/// Uploads `count` distinct reports from 8 threads, each retried until it is answered 200 (the
/// server may be killed or lose its database meanwhile); returns the answers' statuses seen.
fn upload_until_stored(url: &str, token: &str, count: usize) -> Vec<u16> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let seen = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let body = junit(i % 10).replace(
                        "</testsuite>",
                        &format!("<system-out>upload {i}</system-out></testsuite>"),
                    );
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
                    loop {
                        let form = reqwest::blocking::multipart::Form::new()
                            .text("meta", format!(r#"{{"run_id": "r{i}"}}"#))
                            .part(
                                "report",
                                reqwest::blocking::multipart::Part::text(body.clone())
                                    .file_name("junit.xml"),
                            );
                        let status = http()
                            .post(format!("{url}/api/v1/uploads"))
                            .bearer_auth(token)
                            .multipart(form)
                            .send()
                            .map_or(0, |r| r.status().as_u16());
                        seen.lock().unwrap().push(status);
                        if status == 200 {
                            break;
                        }
                        assert!(
                            status == 0 || status == 503,
                            "upload {i}: unexpected {status}"
                        );
                        assert!(
                            std::time::Instant::now() < deadline,
                            "upload {i} never stored"
                        );
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                }
            });
        }
    });
    seen.into_inner().unwrap()
}

/// Each upload's report stored exactly once and whole: (reports, results, reports whose result
/// count differs from what they say).
fn check_whole(dir: &Path, db: &Db, read: &str, count: usize) {
    let serve = Serve::start(dir, db, &[]);
    let (_, v) = get(&format!("{}/api/v1/report?all=true", serve.url), Some(read));
    let runs: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["runs"].as_u64().unwrap())
        .collect();
    // Every test ran once per upload: no upload lost, none stored twice.
    assert_eq!(runs, vec![count as u64; 3], "{v}");
}

/// `kill -9` of the server in the middle of uploads: no partial report, and the clients'
/// retries against the restarted server store everything exactly once.
#[test]
fn a_killed_server_loses_nothing_and_retries_complete() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let up = token(dir, &db, "acme/web", "upload");
    let read = token(dir, &db, "acme/web", "read");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let count = 120;
    std::thread::scope(|s| {
        let uploads = s.spawn(|| upload_until_stored(&url, &up, count));
        let mut first = Serve::start_at(dir, &db, &listen, &[]);
        // Let some uploads land, then kill it without warning.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _ = first.child.kill();
        let _ = first.child.wait();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _second = Serve::start_at(dir, &db, &listen, &[]);
        let seen = uploads.join().unwrap();
        eprintln!(
            "statuses: {} x 200, {} x 503, {} x no answer",
            seen.iter().filter(|&&s| s == 200).count(),
            seen.iter().filter(|&&s| s == 503).count(),
            seen.iter().filter(|&&s| s == 0).count()
        );
        assert!(seen.iter().filter(|&&s| s == 200).count() == count);
    });
    check_whole(dir, &db, &read, count);
}

/// PostgreSQL connections killed under load (`pg_terminate_backend`): uploads are answered 503
/// (never a 200 for a report that was not stored) and succeed when sent again.
#[test]
fn lost_database_connections_answer_503_and_retries_store_everything() {
    let Some(mut db) = Db::postgres("terminate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let app = db.pg.as_ref().unwrap().name.clone();
    db.location = format!("{}&application_name={app}", db.location);
    let up = token(dir, &db, "acme/web", "upload");
    let read = token(dir, &db, "acme/web", "read");
    let serve = Serve::start(dir, &db, &[]);
    let count = 60;
    let server = db.pg.as_ref().unwrap().server.clone();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let killer = s.spawn(|| {
            let mut c = postgres::Client::connect(&server, postgres::NoTls).unwrap();
            let mut killed = 0;
            // Kills first, then every 150 ms: the server holds a connection from its start, so
            // at least one is killed however fast the uploads go (no race with the machine).
            let mut first = true;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if !first {
                    std::thread::sleep(std::time::Duration::from_millis(150));
                }
                first = false;
                killed += c
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = $1",
                        &[&app],
                    )
                    .unwrap()
                    .len();
            }
            killed
        });
        let seen = upload_until_stored(&serve.url, &up, count);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(killer.join().unwrap() > 0, "no connection was killed");
        seen
    });
    eprintln!(
        "statuses: {} x 200, {} x 503, {} x no answer",
        seen.iter().filter(|&&s| s == 200).count(),
        seen.iter().filter(|&&s| s == 503).count(),
        seen.iter().filter(|&&s| s == 0).count()
    );
    drop(serve);
    check_whole(dir, &db, &read, count);
}

/// `flakehound run` with a server: the server's quarantine protects the build, every attempt is
/// uploaded, and a server that is down changes nothing about the exit status (the results are
/// spooled).
#[cfg(unix)]
#[test]
fn run_reads_the_servers_quarantine_and_uploads_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let up = token(dir, &db, "acme/web", "upload");
    let admin = token(dir, &db, "acme/web", "admin");
    let read = token(dir, &db, "acme/web", "read");
    let serve = Serve::start(dir, &db, &[]);
    // An admin quarantines m::q on the server; upload tokens may not.
    let put = |t: &str| {
        http()
            .put(format!("{}/api/v1/quarantine/m::q", serve.url))
            .bearer_auth(t)
            .json(&serde_json::json!({"reason": "flaky: shared port", "expires": "2099-01-01"}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(put(&up), 403);
    assert_eq!(put(&admin), 200);
    let (_, audit) = get(
        &format!("{}/api/v1/audit/quarantine", serve.url),
        Some(&read),
    );
    assert_eq!(audit["changes"][0]["action"], "put", "{audit}");
    // `quarantine list --server` reads it (an upload token may: it is what CI holds).
    let list = fh(dir)
        .args(["quarantine", "list", "--server", &serve.url, "--token", &up])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{text}");
    assert!(
        text.contains("m::q") && text.contains("flaky: shared port"),
        "{text}"
    );
    assert!(
        text.contains(&format!("1 quarantined, 0 past expiry ({})", serve.url)),
        "{text}"
    );
    let list = fh(dir)
        .args(["quarantine", "list", "--json", "--server", &serve.url])
        .env("FLAKEHOUND_TOKEN", &read)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(json[0]["id"], "m::q", "{json}");
    assert_eq!(json[0]["expires"], "2099-01-01", "{json}");
    let list = fh(dir)
        .args([
            "quarantine",
            "list",
            "--server",
            &serve.url,
            "--token",
            "fhk_wrong",
        ])
        .output()
        .unwrap();
    assert_eq!(list.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&list.stderr).contains("unknown token"));
    // The suite: m::ok passes, m::q always fails.
    let script = r#"printf '<testsuite><testcase classname="m" name="ok"/><testcase classname="m" name="q"><failure message="port in use"/></testcase></testsuite>' > r.xml; exit 1"#;
    let run = |server: &str| {
        fh(dir)
            .env("FLAKEHOUND_DB", dir.join("local.db"))
            .env("FLAKEHOUND_SERVER", server)
            .env("FLAKEHOUND_TOKEN", &up)
            .args([
                "run",
                "--retries",
                "1",
                "--report",
                "r.xml",
                "--",
                "sh",
                "-c",
                script,
            ])
            .output()
            .unwrap()
    };
    let out = run(&serve.url);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "quarantined on the server: {text}"
    );
    assert!(text.contains("uploaded to acme/web"), "{text}");
    let (_, v) = get(
        &format!("{}/api/v1/report?all=true", serve.url),
        Some(&read),
    );
    let q = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "m::q")
        .unwrap_or_else(|| panic!("m::q not uploaded: {v}"));
    // Every attempt reached the server as it happened (a failure, not the skip the merged
    // CI report shows for a quarantined test): what the local store recorded.
    let local = fh(dir)
        .args(["--db", &dir.join("local.db").display().to_string()])
        .args(["report", "--json", "--all"])
        .output()
        .unwrap();
    let local: serde_json::Value = serde_json::from_slice(&local.stdout).unwrap();
    let lq = local
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "m::q")
        .unwrap();
    assert!(q["failures"].as_u64().unwrap() >= 1, "{q}");
    assert_eq!(
        (&q["failures"], &q["passes"], &q["skips"]),
        (&lq["failures"], &lq["passes"], &lq["skips"])
    );
    // Released on the server: the same failure fails the build.
    let r = http()
        .delete(format!("{}/api/v1/quarantine/m::q?reason=fixed", serve.url))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(run(&serve.url).status.code(), Some(1));
    // The server is gone: the exit status is the one without a server, and the results wait in
    // the spool.
    drop(serve);
    let out = run("http://127.0.0.1:9");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spooled in"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("quarantine is unavailable"), "{text}");
}

/// The real schemathesis (PyPI) against the OpenAPI document of a running server, every check
/// (no 5xx, responses as documented, valid requests accepted and invalid ones refused),
/// stateful phase included. A fixed seed: the same requests every run. Its venv is its own
/// (`target/test-venv-schemathesis`): schemathesis brings a pytest plugin the shared venv must
/// not have.
#[test]
fn schemathesis_finds_nothing_against_the_openapi_document() {
    let root = flakehound_testkit::workspace_root();
    let venv = root.join("target/test-venv-schemathesis");
    let built = std::process::Command::new("bash")
        .arg(root.join("scripts/test-venv.sh"))
        .env("FLAKEHOUND_TEST_VENV", &venv)
        .env("FLAKEHOUND_TEST_VENV_REQUIREMENTS", "schemathesis==4.32.5")
        .output();
    match built {
        Ok(o) if o.status.success() => {}
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            assert!(
                std::env::var_os("FLAKEHOUND_REQUIRE_PYTEST").is_none_or(|v| v != "1"),
                "FLAKEHOUND_REQUIRE_PYTEST=1 but the schemathesis venv cannot be built: {why}"
            );
            eprintln!("skipping: cannot build a venv with schemathesis: {why}");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let admin = token(dir, &db, "acme/web", "admin");
    let serve = Serve::start(dir, &db, &["--rate-limit", "0"]);
    // An alerts configuration is TOML whose validity (keys, ranges, channels that build) no
    // JSON Schema of a string can say: the document promises a 400 for a bad one, and any
    // string that fits `type: string` is not a valid configuration.
    std::fs::write(
        dir.join("schemathesis.toml"),
        "[[operations]]\ninclude-operation-id = \"alertsConfigPut\"\n\
         checks.positive_data_acceptance.expected-statuses = [\"2xx\", \"400\", \"401\", \"403\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(venv.join("bin/schemathesis"))
        .current_dir(dir)
        .args(["run", &format!("{}/api/v1/openapi.json", serve.url)])
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .args(["--checks", "all", "--max-examples", "60"])
        .args(["--seed", "20261205", "--no-color"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("23/23"),
        "not every operation was tested:\n{text}"
    );
}

/// A refused upload is still answered with its refusal when the client is sending a sizeable
/// body: the server reads it (up to a bound) before answering, so the client sees "unknown
/// token" (401) instead of a broken pipe, which it would take for an unavailable server.
#[test]
fn a_refused_upload_of_a_sizeable_body_gets_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Db::sqlite(dir);
    let serve = Serve::start(dir, &db, &[]);
    // About 2 MB of JUnit: written by the client long after the server could have answered.
    let mut big = junit(0);
    big.push_str(&format!("<!-- {} -->", "x".repeat(2 << 20)));
    for _ in 0..10 {
        let (status, body, _) = post_parts(
            &serve.url,
            "fhk_unknown",
            vec![("report", "r.xml", big.clone().into_bytes())],
        );
        assert_eq!(status, 401, "{body}");
    }
}

/// A metric's value from `/metrics` (0 when absent).
fn metric(url: &str, name: &str) -> f64 {
    let text = http()
        .get(format!("{url}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(' ')?;
            (n == name).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}

/// Waits (at most 60 s) until `check` holds.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Uploads an old history (6 runs in 2024 on 5 commits; a test that failed only then) and the
/// recent one of [`junit`] (10 runs in the last days).
fn upload_old_and_recent(dir: &Path, url: &str, up: &str) -> Vec<PathBuf> {
    let now = jiff::Timestamp::now();
    let mut old = Vec::new();
    for i in 0..6 {
        let p = dir.join(format!("old/{i}/junit.xml"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let gone = if i % 2 == 0 {
            r#"<testcase classname="m" name="gone"><failure message="old failure">x</failure></testcase>"#
        } else {
            r#"<testcase classname="m" name="gone"/>"#
        };
        std::fs::write(
            &p,
            format!(
                r#"<testsuite name="s" timestamp="2024-01-{:02}T10:00:00"><testcase classname="m" name="stable"/><testcase classname="m" name="flaky"/>{gone}</testsuite>"#,
                i + 1
            ),
        )
        .unwrap();
        let out = fh(dir)
            .args(["upload", "--server", url, "--token", up, "--strict"])
            .args([
                "--run-id",
                &format!("old{i}"),
                "--commit",
                &format!("o{}", i.min(4)),
            ])
            .args(["--timestamp", &format!("2024-01-{:02}T10:00:00Z", i + 1)])
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        old.push(p);
    }
    for (i, run) in write_runs(dir).iter().enumerate() {
        let at = now - jiff::SignedDuration::from_hours(48 - i as i64);
        let out = fh(dir)
            .args(["upload", "--server", url, "--token", up, "--strict"])
            .args([
                "--run-id",
                &i.to_string(),
                "--commit",
                &format!("c{}", i / 2),
            ])
            .args([
                "--timestamp",
                &at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ])
            .arg(run)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    old
}

/// (verdict, runs, passes, failures, failed runs, retry passes, commits, flaky commits) by test.
type Counted = std::collections::BTreeMap<String, (String, [u64; 7])>;

fn counted(v: &serde_json::Value) -> Counted {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64().unwrap();
            (
                e["id"].as_str().unwrap().to_string(),
                (
                    e["verdict"].as_str().unwrap().to_string(),
                    [
                        n("runs"),
                        n("passes"),
                        n("failures"),
                        n("failed_runs"),
                        n("retry_passes"),
                        n("commits"),
                        n("flaky_commits"),
                    ],
                ),
            )
        })
        .collect()
}

/// Retention on a running server: `server retention set` and `server run pin`, then the
/// server's background pass prunes the old runs by commit (not the pinned one), the report
/// keeps every count and gives the same verdicts for the tests with history in the window
/// (over the API and locally), and an old file uploaded again is still a duplicate.
fn retention_prunes_in_the_background(db: Db, dir: &Path) {
    let up = token(dir, &db, "acme/web", "upload");
    let read = token(dir, &db, "acme/web", "read");
    let serve = Serve::start(dir, &db, &["--retention-interval", "1"]);
    let old = upload_old_and_recent(dir, &serve.url, &up);
    let report = |all: bool| {
        let (status, v) = get(
            &format!("{}/api/v1/report?all={all}", serve.url),
            Some(&read),
        );
        assert_eq!(status, 200, "{v}");
        counted(&v)
    };
    let before = report(true);
    let unstable_before = report(false);
    assert_eq!(before["m::flaky"].0, "flaky", "{before:?}");

    let server = |args: &[&str]| {
        let out = fh(dir)
            .args(["server", "--database", &db.location])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let pinned = server(&["run", "pin", "--project", "acme/web", "ci/old5/1/"]);
    assert!(pinned.contains("pinned"), "{pinned}");
    assert_eq!(
        server(&["run", "pinned", "--project", "acme/web"]).trim(),
        "ci/old5/1/"
    );
    let out = fh(dir)
        .args(["server", "--database", &db.location])
        .args(["run", "pin", "--project", "acme/web", "ci/nope/1/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run \"ci/nope/1/\""));
    assert_eq!(
        metric(&serve.url, "flakehound_retention_pruned_runs_total"),
        0.0
    );
    let set = server(&["retention", "set", "--project", "acme/web", "--days", "30"]);
    assert!(set.contains("keeps raw results for 30 days"), "{set}");
    assert_eq!(server(&["retention", "list"]).trim(), "acme/web\t30 days");

    // Runs old0..old4 go (commits o0..o4; old4 and the pinned old5 share o4, so o4 stays).
    wait_for("the background retention pass", || {
        metric(&serve.url, "flakehound_retention_pruned_runs_total") >= 4.0
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        metric(&serve.url, "flakehound_retention_pruned_runs_total"),
        4.0
    );
    assert_eq!(metric(&serve.url, "flakehound_retention_leader"), 1.0);

    let after = report(true);
    for (id, (verdict, counts)) in &before {
        if id == "m::gone" {
            // Its only failures were pruned: judged on the window (the pinned run), where it
            // passed; its counts still hold everything.
            assert_eq!(&after[id].1, counts, "{id}");
            continue;
        }
        assert_eq!(after.get(id), Some(&(verdict.clone(), *counts)), "{id}");
    }
    assert_eq!(
        report(false).get("m::flaky"),
        unstable_before.get("m::flaky")
    );
    assert_eq!(
        report(false).get("m::broken"),
        unstable_before.get("m::broken")
    );
    // The local report over the same database agrees.
    let local = fh(dir)
        .args(["--db", &db.location, "--project", "acme/web"])
        .args(["report", "--json", "--all"])
        .output()
        .unwrap();
    let local: serde_json::Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(counted(&local), after);
    // An old file again: a duplicate, not a new run.
    let out = fh(dir)
        .args(["upload", "--server", &serve.url, "--token", &up, "--json"])
        .args(["--run-id", "old0", "--commit", "o0"])
        .args(["--timestamp", "2024-01-01T10:00:00Z"])
        .arg(&old[0])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["files"][0]["status"], "duplicate", "{answer}");
    // A pass by hand finds nothing more to prune.
    let run = server(&["retention", "run"]);
    assert!(run.contains("acme/web (30 days): pruned 0 runs"), "{run}");
    assert_eq!(counted(&local), report(true));
}

on_both_engines!(
    retention_prunes_in_the_background,
    retention_prunes_in_the_background_on_sqlite,
    retention_prunes_in_the_background_on_postgres,
    "retention"
);

/// Two replicas on one PostgreSQL schema: one leads the retention job (an advisory lock) and
/// runs every pass; the other runs none, and takes the lead when the first stops.
#[test]
fn background_work_runs_once_across_replicas() {
    let Some(db) = Db::postgres("replicas") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let up = token(dir, &db, "acme/web", "upload");
    let first = Serve::start(dir, &db, &["--retention-interval", "1"]);
    wait_for("a leader", || {
        metric(&first.url, "flakehound_retention_leader") == 1.0
    });
    let second = Serve::start(dir, &db, &["--retention-interval", "1"]);
    upload_old_and_recent(dir, &second.url, &up);
    let out = fh(dir)
        .args(["server", "--database", &db.location])
        .args(["retention", "set", "--project", "acme/web", "--days", "30"])
        .output()
        .unwrap();
    assert!(out.status.success());
    wait_for("the pass", || {
        metric(&first.url, "flakehound_retention_pruned_runs_total") >= 6.0
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(metric(&first.url, "flakehound_retention_passes_total") >= 3.0);
    assert_eq!(
        metric(&first.url, "flakehound_retention_pruned_runs_total"),
        6.0
    );
    assert_eq!(metric(&second.url, "flakehound_retention_leader"), 0.0);
    assert_eq!(
        metric(&second.url, "flakehound_retention_passes_total"),
        0.0
    );
    assert_eq!(
        metric(&second.url, "flakehound_retention_pruned_runs_total"),
        0.0
    );
    // The leader stops: its session ends, and the other replica takes over.
    drop(first);
    wait_for("the second replica to lead", || {
        metric(&second.url, "flakehound_retention_leader") == 1.0
    });
    wait_for("its first pass", || {
        metric(&second.url, "flakehound_retention_passes_total") >= 1.0
    });
    assert_eq!(
        metric(&second.url, "flakehound_retention_pruned_runs_total"),
        0.0
    );
}

/// A request with a public upload id instead of a token: (status, body, Retry-After).
fn public_request(
    method: reqwest::Method,
    url: &str,
    id: &str,
    project: Option<&str>,
) -> (u16, serde_json::Value, Option<String>) {
    let mut r = http()
        .request(method, url)
        .header("X-Flakehound-Upload-Id", id);
    if let Some(p) = project {
        r = r.header("X-Flakehound-Project", p);
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        retry,
    )
}

/// Public upload ids (fork pull requests): off by default; once on, `upload --public-id` (or
/// FLAKEHOUND_PUBLIC_ID) stores reports and the quarantine reads without a token, nothing else
/// does; requests are rate-limited per id (429); a rotated or turned-off id stops working and
/// writes nothing.
fn public_upload_ids(db: Db, dir: &Path) {
    let read = token(dir, &db, "acme/web", "read");
    let serve = Serve::start(dir, &db, &["--public-rate-limit", "5"]);
    let server = |args: &[&str]| {
        let out = fh(dir)
            .args([
                "server",
                "--database",
                &db.location,
                "project",
                "public-upload",
            ])
            .args(args)
            .output()
            .unwrap();
        flakehound_testkit::success_stdout(&out).trim().to_string()
    };
    let runs = write_runs(dir);
    // Off by default: an id means nothing.
    let (status, body, _) = public_request(
        reqwest::Method::GET,
        &format!("{}/api/v1/quarantine", serve.url),
        "fhp_00000000000000000000000000000000",
        None,
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown public upload id")
    );
    let id = server(&["--project", "acme/web", "on"]);
    assert!(id.starts_with("fhp_") && id.len() == 36, "{id}");
    assert_eq!(
        server(&["--project", "acme/web", "on"]),
        id,
        "on again keeps the id"
    );

    let upload = |args: &[&str], env: Option<&str>, run: &Path| {
        let mut c = fh(dir);
        c.args(["upload", "--server", &serve.url, "--json", "--retries", "0"]);
        if let Some(id) = env {
            c.env("FLAKEHOUND_PUBLIC_ID", id);
        }
        c.args(args).arg(run).output().unwrap()
    };
    let out = upload(&["--public-id", &id, "--run-id", "1"], None, &runs[0]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["project"], "acme/web");
    assert_eq!(answer["files"][0]["status"], "stored", "{answer}");
    let out = upload(&["--run-id", "2"], Some(&id), &runs[1]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["files"][0]["status"], "stored", "{answer}");
    let (status, body, _) = public_request(
        reqwest::Method::GET,
        &format!("{}/api/v1/quarantine", serve.url),
        &id,
        None,
    );
    assert_eq!(
        (status, &body["entries"]),
        (200, &serde_json::json!([])),
        "{body}"
    );
    // Nothing else: every other endpoint wants a token, and refusals take no rate.
    let upload_id = answer["id"].as_str().unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/report".to_string()),
        (reqwest::Method::GET, format!("/api/v1/uploads/{upload_id}")),
        (reqwest::Method::GET, "/api/v1/audit/quarantine".to_string()),
        (
            reqwest::Method::PUT,
            "/api/v1/quarantine/m::flaky".to_string(),
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/quarantine/m::flaky".to_string(),
        ),
    ] {
        let (status, body, _) =
            public_request(method.clone(), &format!("{}{path}", serve.url), &id, None);
        assert_eq!(status, 401, "{method} {path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("may only upload"), "{message}");
    }
    let (status, body, _) = public_request(
        reqwest::Method::GET,
        &format!("{}/api/v1/quarantine", serve.url),
        &id,
        Some("acme/other"),
    );
    assert_eq!(status, 403, "{body}");
    // Rate-limited per id: 5 a minute, 3 taken.
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..4 {
        let (status, _, r) = public_request(
            reqwest::Method::GET,
            &format!("{}/api/v1/quarantine", serve.url),
            &id,
            None,
        );
        statuses.push(status);
        retry = retry.or(r);
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
    // A token is not limited by the id's rate.
    let (status, v) = get(
        &format!("{}/api/v1/report?all=true", serve.url),
        Some(&read),
    );
    assert_eq!(status, 200);
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    // Rotated: the old id stops working and writes nothing; the new one works.
    let new = server(&["--project", "acme/web", "on", "--rotate"]);
    assert_ne!(new, id);
    let out = upload(
        &["--public-id", &id, "--run-id", "3", "--strict"],
        None,
        &runs[2],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown public upload id"));
    let out = upload(&["--public-id", &new, "--run-id", "3"], None, &runs[2]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["files"][0]["status"], "stored", "{answer}");
    assert!(server(&["--project", "acme/web", "off"]).contains("are off"));
    let out = upload(
        &["--public-id", &new, "--run-id", "4", "--strict"],
        None,
        &runs[3],
    );
    assert!(!out.status.success());
    let (_, v) = get(
        &format!("{}/api/v1/report?all=true", serve.url),
        Some(&read),
    );
    let runs_of_stable = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "m::stable")
        .unwrap()["runs"]
        .as_u64();
    assert_eq!(runs_of_stable, Some(3), "{v}");
}

on_both_engines!(
    public_upload_ids,
    public_upload_ids_on_sqlite,
    public_upload_ids_on_postgres,
    "public"
);

/// Commits `text` as the repository's .github/CODEOWNERS at `date`; returns the commit.
fn commit_codeowners(repo: &Path, text: &str, date: &str) -> String {
    std::fs::create_dir_all(repo.join(".github")).unwrap();
    std::fs::write(repo.join(".github/CODEOWNERS"), text).unwrap();
    flakehound_testkit::git_at(repo, date, &["add", ".github/CODEOWNERS"]);
    flakehound_testkit::git_at(repo, date, &["commit", "-q", "-m", "owners"]);
    flakehound_testkit::git_at(repo, date, &["rev-parse", "HEAD"])
}

/// The repository's CODEOWNERS travels with uploads: an upload of the default branch from a
/// checkout sets the project's (the API and the dashboard's owners show it, its skipped lines
/// are warnings); the same file again writes nothing; uploads of another branch, of a pull
/// request, with a public upload id or of an older commit change nothing; an admin's PUT pins
/// until deleted; `--no-codeowners` opts out; a spooled upload carries it later; `run` carries
/// it too.
fn codeowners_travel_with_uploads(db: Db, dir: &Path) {
    let up = token(dir, &db, "acme/web", "upload");
    let read = token(dir, &db, "acme/web", "read");
    let admin = token(dir, &db, "acme/web", "admin");
    let serve = Serve::start(dir, &db, &["--rate-limit", "0"]);
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    flakehound_testkit::git_at(&repo, "2026-11-01T10:00:00Z", &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("junit.xml"), junit(0)).unwrap();
    let v1 = "# the core team\n* @acme/core\nm/ @acme/qa [wiki]\n";
    let c1 = commit_codeowners(&repo, v1, "2026-11-02T10:00:00+01:00");
    let upload = |args: &[&str], run_id: &str| {
        let out = fh(&repo)
            .env("FLAKEHOUND_SERVER", &serve.url)
            .env("FLAKEHOUND_TOKEN", &up)
            .env_remove("FLAKEHOUND_PUBLIC_ID")
            .env_remove("FLAKEHOUND_NO_CODEOWNERS")
            .env_remove("FLAKEHOUND_DEFAULT_BRANCH")
            .env_remove("GITHUB_REF")
            .args(["upload", "--retries", "0", "--run-id", run_id])
            .args(args)
            .arg("junit.xml")
            .output()
            .unwrap();
        flakehound_testkit::success_stdout(&out)
    };
    let kept = || get(&format!("{}/api/v1/codeowners", serve.url), Some(&read)).1;
    assert_eq!(kept()["text"], serde_json::Value::Null);

    // The default branch: kept, with its commit; the bad line is a warning.
    let text = upload(&["--branch", "main"], "1");
    assert!(
        text.contains("CODEOWNERS .github/CODEOWNERS kept for acme/web: 1 rules"),
        "{text}"
    );
    assert!(
        text.contains(
            "warning: CODEOWNERS .github/CODEOWNERS: line 3: invalid owner `[wiki]`: m/ @acme/qa [wiki] (skipped)"
        ),
        "{text}"
    );
    let k = kept();
    assert_eq!(k["text"], v1, "{k}");
    assert_eq!(
        (&k["source"], &k["path"], &k["branch"]),
        (
            &serde_json::json!("upload"),
            &serde_json::json!(".github/CODEOWNERS"),
            &serde_json::json!("main")
        ),
        "{k}"
    );
    assert_eq!(k["commit"], c1.as_str());
    assert_eq!(k["commit_time"], "2026-11-02T09:00:00Z");
    assert_eq!(k["rules"], 1);

    // The same file again (a CI retry, another job of the commit): nothing written, no word.
    let json = |args: &[&str], run_id: &str| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(upload(&all, run_id).trim()).unwrap()
    };
    let a = json(&["--branch", "main"], "2");
    assert_eq!(a["codeowners"]["status"], "unchanged", "{a}");
    assert_eq!(a["warnings"], serde_json::json!([]), "{a}");
    assert_eq!(kept()["updated_at"], k["updated_at"]);

    // A branch commits another file: its upload changes nothing, nor does a pull request's
    // upload (branch main as CI would name a PR's base is not enough).
    flakehound_testkit::git_at(
        &repo,
        "2026-11-03T10:00:00Z",
        &["checkout", "-q", "-b", "feature"],
    );
    let v2 = "* @acme/feature-team\n";
    commit_codeowners(&repo, v2, "2026-11-03T10:00:00Z");
    let a = json(&["--branch", "feature"], "3");
    assert_eq!(a["codeowners"]["status"], "not_default_branch", "{a}");
    let out = fh(&repo)
        .env("FLAKEHOUND_SERVER", &serve.url)
        .env("FLAKEHOUND_TOKEN", &up)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF", "refs/pull/7/merge")
        .args(["upload", "--json", "--retries", "0", "--run-id", "4"])
        .args(["--branch", "main", "junit.xml"])
        .output()
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["codeowners"]["status"], "pull_request", "{a}");
    assert_eq!(kept()["text"], v1);
    // A public upload id (fork pull requests) never changes it: the client does not send it,
    // and the server refuses it when sent by hand.
    let id = {
        let out = fh(dir)
            .args([
                "server",
                "--database",
                &db.location,
                "project",
                "public-upload",
            ])
            .args(["--project", "acme/web", "on"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let out = fh(&repo)
        .env("FLAKEHOUND_SERVER", &serve.url)
        .env("FLAKEHOUND_PUBLIC_ID", &id)
        .args(["upload", "--json", "--retries", "0", "--run-id", "5"])
        .args(["--branch", "main", "junit.xml"])
        .output()
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // (The same report as before: a duplicate.)
    assert_eq!(a["files"][0]["status"], "duplicate", "{a}");
    assert_eq!(a.get("codeowners"), None, "{a}");
    let by_hand = |auth: (&str, &str), meta: serde_json::Value, part: serde_json::Value| {
        let form = reqwest::blocking::multipart::Form::new()
            .text("meta", meta.to_string())
            .text("codeowners", part.to_string());
        let r = http()
            .post(format!("{}/api/v1/uploads", serve.url))
            .header(auth.0, auth.1)
            .multipart(form)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<serde_json::Value>().unwrap())
    };
    let part = |text: &str, time: &str| {
        serde_json::json!({"text": text, "path": "CODEOWNERS", "commit": "f00d",
                           "commit_time": time, "default_branch": "main"})
    };
    let (status, a) = by_hand(
        ("X-Flakehound-Upload-Id", &id),
        serde_json::json!({"branch": "main", "run_id": "6"}),
        part(v2, "2026-11-04T00:00:00Z"),
    );
    assert_eq!(
        (status, &a["codeowners"]["status"]),
        (200, &serde_json::json!("public_id")),
        "{a}"
    );
    assert_eq!(kept()["text"], v1);
    // A part that is not the documented JSON is refused (400), as a bad `meta` is.
    let (status, a) = by_hand(
        ("Authorization", &format!("Bearer {up}")),
        serde_json::json!({"branch": "main"}),
        serde_json::json!({"text": v2, "owner": "x"}),
    );
    assert_eq!(status, 400, "{a}");
    // An upload of CODEOWNERS alone (no report) carries no zero-results warning; a commit time
    // far ahead of the clock is refused.
    let (status, a) = by_hand(
        ("Authorization", &format!("Bearer {up}")),
        serde_json::json!({"branch": "main"}),
        part(v2, "2999-01-01T00:00:00Z"),
    );
    assert_eq!(
        (status, &a["codeowners"]["status"]),
        (200, &serde_json::json!("invalid")),
        "{a}"
    );
    assert_eq!(a["warnings"], serde_json::json!([]), "{a}");
    assert_eq!(kept()["text"], v1);

    // Back on main: an older commit (a re-run of an old pipeline) does not roll it back ...
    flakehound_testkit::git_at(&repo, "2026-11-05T10:00:00Z", &["checkout", "-q", "main"]);
    commit_codeowners(&repo, "* @acme/old\n", "2026-10-01T10:00:00Z");
    let text = upload(&["--branch", "main"], "7");
    assert!(
        text.contains("note: CODEOWNERS not kept: the kept CODEOWNERS comes from a newer commit (committed 2026-11-02T09:00:00Z)"),
        "{text}"
    );
    assert_eq!(kept()["text"], v1);
    // ... a newer one changes it; --no-codeowners sends nothing.
    let v3 = "* @acme/core\nm/ @acme/qa\n";
    let c3 = commit_codeowners(&repo, v3, "2026-11-06T10:00:00Z");
    let a = json(&["--branch", "main", "--no-codeowners"], "8");
    assert_eq!(a.get("codeowners"), None, "{a}");
    assert_eq!(kept()["text"], v1);
    let a = json(&["--branch", "main"], "9");
    assert_eq!(a["codeowners"]["status"], "stored", "{a}");
    assert_eq!(
        (&kept()["text"], &kept()["commit"]),
        (&serde_json::json!(v3), &serde_json::json!(c3))
    );

    // An admin pins a file: uploads leave it (and say why) until it is deleted.
    let r = http()
        .put(format!("{}/api/v1/codeowners", serve.url))
        .bearer_auth(&admin)
        .header("Content-Type", "text/plain")
        .body("* @acme/admins\n")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    commit_codeowners(&repo, "* @acme/newer\n", "2026-11-07T10:00:00Z");
    let text = upload(&["--branch", "main"], "10");
    assert!(
        text.contains("note: CODEOWNERS not kept: an admin pinned"),
        "{text}"
    );
    assert_eq!(
        (&kept()["text"], &kept()["source"]),
        (
            &serde_json::json!("* @acme/admins\n"),
            &serde_json::json!("admin")
        )
    );
    let r = http()
        .delete(format!("{}/api/v1/codeowners", serve.url))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    // The server is down: the upload (and its CODEOWNERS) is spooled, the step stays green,
    // and the next `upload` sends both.
    let out = fh(&repo)
        .env("FLAKEHOUND_SERVER", "http://127.0.0.1:9")
        .env("FLAKEHOUND_TOKEN", &up)
        .args([
            "upload",
            "--retries",
            "0",
            "--run-id",
            "11",
            "--branch",
            "main",
            "junit.xml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("spooled in"));
    assert_eq!(kept()["text"], serde_json::Value::Null);
    let out = fh(&repo)
        .env("FLAKEHOUND_SERVER", &serve.url)
        .env("FLAKEHOUND_TOKEN", &up)
        .args(["upload", "--retries", "0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CODEOWNERS .github/CODEOWNERS kept for acme/web"),
        "{text}"
    );
    assert_eq!(kept()["text"], "* @acme/newer\n");

    // `run` with a server carries it as well.
    let v4 = "* @acme/runners\n";
    commit_codeowners(&repo, v4, "2026-11-08T10:00:00Z");
    let out = fh(&repo)
        .env("FLAKEHOUND_DB", dir.join("local.db"))
        .env("FLAKEHOUND_SERVER", &serve.url)
        .env("FLAKEHOUND_TOKEN", &up)
        .args([
            "run", "--branch", "main", "--run-id", "12", "--report", "r.xml",
        ])
        .args(["--", "cp", "junit.xml", "r.xml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("flakehound: CODEOWNERS .github/CODEOWNERS kept for acme/web: 1 rules"),
        "{text}"
    );
    assert_eq!(kept()["text"], v4);
}

on_both_engines!(
    codeowners_travel_with_uploads,
    codeowners_travel_with_uploads_on_sqlite,
    codeowners_travel_with_uploads_on_postgres,
    "codeowners"
);
