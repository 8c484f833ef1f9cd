//! Alerting configured through the server's API: a real `flakehound serve` process on a random
//! port (SQLite, and PostgreSQL when the test database is there), real uploads, a real local
//! HTTP receiver checking the webhook's signature. The project's own configuration (PUT
//! /api/v1/alerts/config) replaces the server's file for that project; a bad one is refused
//! with a 400 naming the channel and the key; mutes and the delivery log through the API.

mod dashboard_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn install() {
    flakehound_store::install(&flakehound_store_sqlite::BACKEND);
    flakehound_store::install(&flakehound_store_postgres::BACKEND);
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A real HTTP receiver on a random local port answering 200 to every POST, recording each.
/// Written on std (one thread, one request per connection): the binary's tests have no async
/// HTTP server among their dependencies, and HTTP/1.1 with `Content-Length` is all a webhook
/// sender speaks.
struct Receiver {
    base: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let g = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                g.lock().unwrap().push(Got {
                    path,
                    headers,
                    body,
                });
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Receiver { base, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

/// `flakehound serve` on a random port.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(dir: &Path, database: &str, extra: &[&str]) -> Serve {
        let bin = assert_cmd::cargo::cargo_bin("flakehound");
        let (child, url) = dashboard_support::spawn_serving(
            std::process::Command::new(bin)
                .current_dir(dir)
                .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
                .args(extra)
                .env("FLAKEHOUND_LOG", "warn")
                .env_remove("FLAKEHOUND_ALERTS")
                .env_remove("FLAKEHOUND_TEST_UNSET_SECRET"),
        );
        Serve { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn token(
    location: &flakehound_store::Location,
    project: &str,
    scope: flakehound_store::Scope,
) -> String {
    let mut admin = flakehound_store::open_admin(location).unwrap();
    flakehound_server::tokens::create(admin.as_mut(), project, scope, Some("ops-admin"), None)
        .unwrap()
        .secret
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn answer(r: reqwest::blocking::RequestBuilder) -> (u16, serde_json::Value) {
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn put_config(url: &str, token: &str, text: &str) -> (u16, serde_json::Value) {
    answer(
        http()
            .put(format!("{url}/api/v1/alerts/config"))
            .bearer_auth(token)
            .header("content-type", "application/toml")
            .body(text.to_string()),
    )
}

/// Run `i`: three tests; `test_refund` and `test_total` fail when `fail`.
fn upload(url: &str, token: &str, dir: &Path, i: usize, fail: bool) {
    let failure = if fail {
        r#"<failure message="AssertionError: assert 1 == 3">assert 1 == 3</failure>"#
    } else {
        ""
    };
    let started = jiff::Timestamp::from_second(1_790_000_000 + 3600 * i as i64).unwrap();
    let xml = format!(
        r#"<?xml version="1.0"?><testsuite name="pytest" tests="3" timestamp="{started}"><testcase classname="tests.test_payments" name="test_refund" file="tests/test_payments.py" time="0.1">{failure}</testcase><testcase classname="tests.test_orders" name="test_total" file="tests/test_orders.py" time="0.1">{failure}</testcase><testcase classname="tests.test_ok" name="test_ok" file="tests/test_ok.py" time="0.1"/></testsuite>"#
    );
    let path = dir.join(format!("junit-{i}.xml"));
    std::fs::write(&path, xml).unwrap();
    let meta = flakehound_model::RunMeta {
        commit: Some(format!("{:040x}", i + 1)),
        branch: Some("main".into()),
        provider: Some("github-actions".into()),
        job: Some("test".into()),
        run_id: Some((7000 + i).to_string()),
        run_attempt: Some(1),
        started_at: Some(started.to_string()),
        ..Default::default()
    };
    flakehound_client::Server::new(url, token)
        .upload(&meta, &[path])
        .expect("upload");
}

fn scenario(dir: &Path, database: &str, location: &flakehound_store::Location) {
    use flakehound_store::Scope;
    let admin = token(location, "acme/shop", Scope::Admin);
    let upload_token = token(location, "acme/shop", Scope::Upload);
    let read = token(location, "acme/shop", Scope::Read);
    let other = token(location, "acme/other", Scope::Admin);
    let rx = Receiver::start();
    // The server's file sends to /file: the project's own configuration must replace it.
    std::fs::write(
        dir.join("alerts.toml"),
        format!(
            "[channels.ops]\ntype = \"webhook\"\nurl = \"{}/file\"\n\
             [monitors.uploads_stopped]\nenabled = false\n[monitors.digest]\nenabled = false\n",
            rx.base
        ),
    )
    .unwrap();
    let serve = Serve::start(
        dir,
        database,
        &["--rate-limit", "0", "--alerts", "alerts.toml"],
    );
    let url = &serve.url;

    // Before: the server's file.
    let (s, v) = answer(
        http()
            .get(format!("{url}/api/v1/alerts/config"))
            .bearer_auth(&admin),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["source"], "file");
    assert!(v["config"].as_str().unwrap().contains("/file"), "{v}");

    // Refused: a read token, no content type, bad configurations (named channel and key).
    let (s, v) = put_config(url, &read, "");
    assert_eq!(s, 403, "{v}");
    let (s, v) = answer(
        http()
            .put(format!("{url}/api/v1/alerts/config"))
            .bearer_auth(&admin)
            .body("baseline = false\n"),
    );
    assert_eq!(s, 415, "{v}");
    let (s, v) = put_config(
        url,
        &admin,
        "[channels.ops]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\nsecret_env = \"FLAKEHOUND_TEST_UNSET_SECRET\"\n",
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "alerts configuration: channel `ops`: key `secret_env`: the variable FLAKEHOUND_TEST_UNSET_SECRET is not set"
    );
    let (s, v) = put_config(
        url,
        &admin,
        "[channels.ops]\ntype = \"webhook\"\nurl = \"ftp://x\"\n",
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "alerts configuration: channel `ops`: key `url`: ftp is not an http(s) URL"
    );
    let (s, v) = put_config(
        url,
        &admin,
        "[monitors.new_flaky]\nalarm_confidense = 0.9\n",
    );
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alarm_confidense"),
        "{v}"
    );
    // Nothing stored by the refusals.
    let (_, v) = answer(
        http()
            .get(format!("{url}/api/v1/alerts/config"))
            .bearer_auth(&admin),
    );
    assert_eq!(v["source"], "file");

    // The project's own configuration.
    let config = format!(
        "baseline = false\nserver_url = \"https://flakehound.example.com\"\n\
         [channels.team]\ntype = \"webhook\"\nurl = \"{}/api\"\nsecret = \"s3cret\"\n\
         [monitors.uploads_stopped]\nenabled = false\n[monitors.digest]\nenabled = false\n",
        rx.base
    );
    let (s, v) = put_config(url, &admin, &config);
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["source"].as_str(),
            v["updated_by"].as_str(),
            v["config"].as_str()
        ),
        (Some("api"), Some("ops-admin"), Some(config.as_str()))
    );
    // Another project still has the file.
    let (_, v) = answer(
        http()
            .get(format!("{url}/api/v1/alerts/config"))
            .bearer_auth(&other),
    );
    assert_eq!(v["source"], "file");

    // Mutes: add two, list, remove one (twice: 404 the second time).
    let mute = |subject: &str, body: serde_json::Value| {
        answer(
            http()
                .put(format!("{url}/api/v1/alerts/mutes/{subject}"))
                .bearer_auth(&admin)
                .json(&body),
        )
    };
    let (s, v) = mute(
        "tests%2Ftest_orders.py%3A%3Atest_total",
        serde_json::json!({"for": "7d", "reason": "fix in review"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["subject"], "tests/test_orders.py::test_total");
    assert!(v["until"].as_str().is_some(), "{v}");
    let (s, v) = mute("digest%3A%2A", serde_json::json!({"until": "2030-01-31"}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["until"], "2030-01-31T23:59:59Z");
    let (s, v) = mute("x", serde_json::json!({"for": "7d", "until": "2030-01-31"}));
    assert_eq!(s, 400, "{v}");
    let (s, v) = mute("x", serde_json::json!({"for": "soon"}));
    assert_eq!(s, 400, "{v}");
    let (s, v) = answer(
        http()
            .get(format!("{url}/api/v1/alerts/mutes"))
            .bearer_auth(&read),
    );
    assert_eq!(s, 200, "{v}");
    let subjects: Vec<&str> = v["mutes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["digest:*", "tests/test_orders.py::test_total"]);
    let del = |subject: &str| {
        answer(
            http()
                .delete(format!("{url}/api/v1/alerts/mutes/{subject}"))
                .bearer_auth(&admin),
        )
        .0
    };
    assert_eq!(del("digest%3A%2A"), 204);
    assert_eq!(del("digest%3A%2A"), 404);

    // Evidence: 60 clean runs, both tests fail once, then pass: each is newly flaky.
    for i in 0..62 {
        upload(url, &upload_token, dir, i, i == 60);
    }
    // The evaluation runs in the background after the upload was answered: wait for the log.
    let started = Instant::now();
    let log = loop {
        let (s, v) = answer(
            http()
                .get(format!("{url}/api/v1/alerts/deliveries?limit=10"))
                .bearer_auth(&read),
        );
        assert_eq!(s, 200, "{v}");
        let log = v["deliveries"].as_array().unwrap().clone();
        if log.len() >= 2 || started.elapsed() > Duration::from_secs(60) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut seen: Vec<(String, String, String, String)> = log
        .iter()
        .map(|d| {
            (
                d["monitor"].as_str().unwrap().to_string(),
                d["subject"].as_str().unwrap().to_string(),
                d["channel"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "new_flaky".to_string(),
                "tests/test_orders.py::test_total".to_string(),
                String::new(),
                "muted".to_string()
            ),
            (
                "new_flaky".to_string(),
                "tests/test_payments.py::test_refund".to_string(),
                "team".to_string(),
                "sent".to_string()
            ),
        ],
        "{log:#?}"
    );
    // The receiver got that one, on the project's channel (not the file's), signed.
    let got = rx.got();
    assert_eq!(got.len(), 1, "{got:#?}");
    let g = &got[0];
    assert_eq!(g.path, "/api");
    let ts: i64 = g.header("x-flakehound-timestamp").unwrap().parse().unwrap();
    assert_eq!(
        g.header("x-flakehound-signature").unwrap(),
        flakehound_alerts::notify::signature(b"s3cret", ts, &g.body)
    );
    let body: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!(body["subject"], "tests/test_payments.py::test_refund");
    assert_eq!(
        body["link"],
        "https://flakehound.example.com/tests/tests%2Ftest_payments.py%3A%3Atest_refund"
    );

    // Removing the project's configuration: the file applies again.
    let gone = |t: &str| {
        answer(
            http()
                .delete(format!("{url}/api/v1/alerts/config"))
                .bearer_auth(t),
        )
        .0
    };
    assert_eq!(gone(&read), 403);
    assert_eq!(gone(&admin), 204);
    assert_eq!(gone(&admin), 404);
    let (_, v) = answer(
        http()
            .get(format!("{url}/api/v1/alerts/config"))
            .bearer_auth(&admin),
    );
    assert_eq!(v["source"], "file");
}

#[test]
fn alerts_configured_through_the_api_over_sqlite() {
    install();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let location = flakehound_store::Location::Sqlite(db.clone());
    scenario(dir.path(), db.to_str().unwrap(), &location);
}

#[test]
fn alerts_configured_through_the_api_over_postgres() {
    install();
    let Some(server) = flakehound_testkit::test_postgres() else {
        return;
    };
    let schema = flakehound_testkit::PgSchema::new(&server, "alerts_api");
    let location = flakehound_store::Location::Postgres(schema.url());
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path(), &schema.url(), &location);
}
