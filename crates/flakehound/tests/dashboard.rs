//! The dashboard over HTTP: `flakehound dashboard` on the bundled demo history (the planted
//! story on its pages, filters, sorting, links, limits), and the same pages mounted by
//! `flakehound serve` behind its sign-in (session cookie, CSRF, admin-only quarantine forms).
//! Real processes on random local ports; the browser half is `dashboard_browser.rs`.

mod dashboard_support;

use dashboard_support::{PROJECT, Process, demo_store, fh, ok};

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// GET: status, headers, body.
fn get(url: &str, cookie: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    let mut r = client().get(url);
    if let Some(c) = cookie {
        r = r.header("Cookie", c);
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().unwrap())
}

fn page(url: &str) -> String {
    let (status, headers, body) = get(url, None);
    assert_eq!(status, 200, "{url}: {body}");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"),
        "{url}"
    );
    assert!(body.len() < 300 * 1024, "{url} is {} bytes", body.len());
    body
}

/// HTML-unescaped text (minijinja escapes `/` and quotes).
fn text(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `data-id="…" data-verdict="…"` of the rows of a tests page.
fn rows(html: &str) -> Vec<(String, String)> {
    let html = text(html);
    html.split("<tr data-id=\"")
        .skip(1)
        .map(|r| {
            let id = r.split('"').next().unwrap().to_string();
            let v = r
                .split("data-verdict=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            (id, v)
        })
        .collect()
}

const REGRESSION: &str = "tests/test_orders.py::test_order_total";
const BROKEN: &str = "tests/test_payments.py::TestRefunds::test_partial_refund";
const FLAKY: [&str; 5] = [
    "tests/test_checkout.py::test_checkout_timeout",
    "tests/test_cache.py::test_cache_ttl_expiry",
    "tests/test_search.py::test_search_ranking",
    "tests/test_users.py::test_session_refresh",
    "tests/test_reports.py::test_report_timezone",
];
const OUTAGE_RUN: &str = "github-actions/9000041/1/test (3.11)";

#[test]
fn local_dashboard_shows_the_planted_story() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let d = Process::dashboard(dir.path(), &db);

    let home = text(&page(&format!("{}/", d.url)));
    for (verdict, n) in [
        ("broken", 1),
        ("regression", 1),
        ("flaky", 5),
        ("stable", 32),
    ] {
        assert!(
            home.contains(&format!(
                "data-verdict=\"{verdict}\"><span class=\"n\">{n}</span>"
            )),
            "{verdict}: {home}"
        );
    }
    assert!(
        home.contains("39 tests, 90 CI runs, 1 incident(s)"),
        "{home}"
    );
    assert!(home.contains("<svg class=\"chart\""));
    assert!(home.contains("On <code>main</code>"));
    assert!(home.contains(&format!("/incident?run={}", enc(OUTAGE_RUN))));
    // The 90-day window.
    assert!(text(&page(&format!("{}/?days=90", d.url))).contains("90 days up to the newest run"));

    // Filters.
    let flaky = rows(&page(&format!("{}/tests?verdict=flaky", d.url)));
    let mut ids: Vec<&str> = flaky.iter().map(|(i, _)| i.as_str()).collect();
    ids.sort_unstable();
    let mut want = FLAKY.to_vec();
    want.sort_unstable();
    assert_eq!(ids, want);
    assert!(flaky.iter().all(|(_, v)| v == "flaky"));
    let broken = rows(&page(&format!("{}/tests?verdict=broken", d.url)));
    assert_eq!(broken, [(BROKEN.to_string(), "broken".to_string())]);
    let searched = rows(&page(&format!("{}/tests?q=ORDER_TOTAL", d.url)));
    assert_eq!(
        searched,
        [(REGRESSION.to_string(), "regression".to_string())]
    );
    let runner3 = rows(&page(&format!(
        "{}/tests?runner=gha-runner-3&verdict=flaky",
        d.url
    )));
    assert!(runner3.iter().any(|(i, _)| i == FLAKY[0]), "{runner3:?}");
    let timeouts = rows(&page(&format!("{}/tests?category=time", d.url)));
    assert_eq!(timeouts.len(), 1, "{timeouts:?}");
    assert!(page(&format!("{}/tests?verdict=fixed", d.url)).contains("No test matches"));

    // Sorting: the default is the report's order (cost); by id both ways; pages of 50.
    let by_cost = rows(&page(&format!("{}/tests", d.url)));
    assert_eq!(by_cost[0].0, BROKEN);
    let by_id = rows(&page(&format!("{}/tests?sort=id&dir=asc", d.url)));
    let mut sorted = by_id.clone();
    sorted.sort();
    assert_eq!(by_id, sorted);
    assert_eq!(by_id.len(), 39);
    let by_id_desc = rows(&page(&format!("{}/tests?sort=id&dir=desc", d.url)));
    assert_eq!(by_id_desc.first(), by_id.last());
    let by_failures = rows(&page(&format!("{}/tests?sort=failed&dir=desc", d.url)));
    assert!(by_failures[0].1 != "stable", "{by_failures:?}");
    let sorted_page = page(&format!("{}/tests?sort=id&dir=asc", d.url));
    assert!(sorted_page.contains("aria-sort=\"ascending\""));

    // The regression's test page marks its culprit on the timeline.
    let reg = text(&page(&format!("{}/test?id={}", d.url, enc(REGRESSION))));
    assert!(reg.contains("regression (intermittent)"), "{reg}");
    assert!(reg.contains("data-culprit=\"8fd1be4\""), "{reg}");
    assert!(reg.contains("class=\"culprit-range\""));
    assert!(reg.contains("Culprit: <code title=\"8fd1be4da9"));
    assert_eq!(reg.matches("class=\"cell ").count(), 90);
    assert!(reg.contains("AssertionError: assert order.total =="));
    // Each failure pattern shows an example trace: the stored details, not only the line.
    assert!(reg.contains("<summary>Example trace</summary>"), "{reg}");
    assert!(
        reg.contains("tests/test_orders.py:") && reg.contains(" in test_order_total"),
        "the trace's frame line: {reg}"
    );
    assert!(reg.contains("Runner</caption>") && reg.contains("Weekday (UTC)</caption>"));
    assert!(reg.contains("flakehound repro tests/test_orders.py::test_order_total --until-fail"));
    // It failed during the outage too: marked, and not held against it.
    assert!(reg.contains("class=\"cell incident\""));
    assert!(reg.contains(&format!("/incident?run={}", enc(OUTAGE_RUN))));
    // No admin forms locally.
    assert!(!reg.contains("/actions/quarantine"));

    // The runner-specific test's environment table names its runner first.
    let env = text(&page(&format!("{}/test?id={}", d.url, enc(FLAKY[0]))));
    let runner_table = env.split("Runner</caption>").nth(1).unwrap();
    let first_row = runner_table.split("<tbody>").nth(1).unwrap();
    assert!(
        first_row.starts_with("<tr><td>gha-runner-3</td>"),
        "{first_row}"
    );

    // The incident page lists the outage's failures.
    let inc = text(&page(&format!(
        "{}/incident?run={}",
        d.url,
        enc(OUTAGE_RUN)
    )));
    assert!(inc.contains("23 of 39"), "{inc}");
    assert!(inc.contains("Connection refused"));
    assert!(inc.contains(&format!("/test?id={}", enc(BROKEN))));
    // Its run, and a cluster.
    let run = text(&page(&format!("{}/run?key={}", d.url, enc(OUTAGE_RUN))));
    assert!(run.contains("infrastructure incident") && run.contains("gha-runner"));
    assert!(!run.contains("id=\"ci-link\""));
    let cluster_href = reg
        .split("href=\"/cluster?fp=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let cluster = text(&page(&format!("{}/cluster?fp={cluster_href}", d.url)));
    assert!(cluster.contains(REGRESSION), "{cluster}");

    // Stable tests have a page too; unknown ones are 404 pages.
    let stable = &by_id.iter().find(|(_, v)| v == "stable").unwrap().0;
    assert!(page(&format!("{}/test?id={}", d.url, enc(stable))).contains("never failed"));
    for bad in [
        "/test?id=nope",
        "/incident?run=nope",
        "/run?key=nope",
        "/cluster?fp=nope",
    ] {
        let (status, _, body) = get(&format!("{}{bad}", d.url), None);
        assert_eq!(status, 404, "{bad}");
        assert!(body.contains("role=\"alert\""), "{bad}");
    }
    // The embedded assets.
    let (status, headers, css) = get(&format!("{}/assets/style.css", d.url), None);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    assert!(css.contains(":focus-visible"));
    assert_eq!(get(&format!("{}/assets/nope.js", d.url), None).0, 404);
    // Sign-in is for the server only.
    assert_eq!(get(&format!("{}/signin", d.url), None).0, 303);
}

#[test]
fn the_tests_table_is_stable_for_review() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let d = Process::dashboard(dir.path(), &db);
    let table: Vec<String> = rows(&page(&format!("{}/tests", d.url)))
        .into_iter()
        .filter(|(_, v)| v != "stable")
        .map(|(i, v)| format!("{v:<11} {i}"))
        .collect();
    insta::assert_snapshot!("dashboard_unstable_tests", table.join("\n"));
}

#[test]
fn a_run_links_to_its_ci_page_and_new_evidence_shows() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let d = Process::dashboard(dir.path(), &db);
    let before = text(&page(&format!("{}/", d.url)));
    assert!(before.contains("39 tests, 90 CI runs"));
    let report = dir.path().join("new.xml");
    std::fs::write(
        &report,
        r#"<testsuite name="s" tests="1" failures="1"><testcase classname="tests.test_new" name="test_brand_new" file="tests/test_new.py"><failure message="boom">trace</failure></testcase></testsuite>"#,
    )
    .unwrap();
    ok(fh(dir.path())
        .arg("--db")
        .arg(&db)
        .args([
            "--project",
            PROJECT,
            "ingest",
            "--quiet",
            "--provider",
            "github-actions",
        ])
        .args(["--run-id", "777", "--job", "extra", "--commit", "abc1234"])
        .args(["--timestamp", "2026-10-28T10:00:00Z"])
        .args(["--url", "https://ci.example.com/acme/shop/runs/777"])
        .arg(&report));
    // The store changed: the next requests see the new run (the first may still be served from
    // the previous analysis while the new one is built).
    let mut after = String::new();
    for _ in 0..100 {
        after = text(&page(&format!("{}/", d.url)));
        if after.contains("40 tests, 91 CI runs") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(after.contains("40 tests, 91 CI runs"), "{after}");
    let id = "tests/test_new.py::test_brand_new";
    let t = text(&page(&format!("{}/test?id={}", d.url, enc(id))));
    let run_href = t
        .split("href=\"/run?key=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let run = text(&page(&format!("{}/run?key={run_href}", d.url)));
    assert!(
        run.contains(r#"<a href="https://ci.example.com/acme/shop/runs/777" id="ci-link""#),
        "{run}"
    );

    // A root-cause note is marked on the timeline and listed, and names the cause.
    ok(fh(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["--project", PROJECT, "note", REGRESSION])
        .args([
            "-t",
            "race between the cart and the discount job",
            "-c",
            "concurrency",
        ]));
    let uri = format!("{}/test?id={}", d.url, enc(REGRESSION));
    let mut t = String::new();
    for _ in 0..100 {
        t = text(&page(&uri));
        if t.contains("race between the cart") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(t.contains("class=\"note-mark\""), "{t}");
    assert!(t.contains("note #1"), "{t}");
    assert!(t.contains("cause <strong>concurrency</strong>"), "{t}");
}

// --- The server's mount ---

struct Server {
    process: Process,
    db: String,
    dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path()).display().to_string();
    let process = Process::start(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0", "--database", &db],
    );
    Server { process, db, dir }
}

impl Server {
    fn token(&self, scope: &str) -> String {
        ok(fh(self.dir.path())
            .args(["server", "--database", &self.db, "token", "create"])
            .args(["--project", PROJECT, "--scope", scope, "--label", scope]))
        .trim()
        .to_string()
    }

    /// POSTs a form: status, headers, body.
    fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        let mut r = client()
            .post(format!("{}{path}", self.process.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        if let Some(c) = cookie {
            r = r.header("Cookie", c);
        }
        let r = r.send().unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().unwrap())
    }

    /// Signs in: the `Cookie` header value.
    fn sign_in(&self, token: &str) -> String {
        let (status, headers, body) =
            self.post("/signin", None, &[("token", token), ("next", "/tests")]);
        assert_eq!(status, 303, "{body}");
        assert_eq!(headers["location"], "/tests");
        let set = headers["set-cookie"].to_str().unwrap().to_string();
        assert!(set.contains("HttpOnly"), "{set}");
        assert!(set.contains("SameSite=Strict"), "{set}");
        assert!(set.contains("Path=/"), "{set}");
        set.split(';').next().unwrap().to_string()
    }

    fn get(&self, path: &str, cookie: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
        get(&format!("{}{path}", self.process.url), cookie)
    }
}

fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a form with a CSRF token")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn server_dashboard_needs_a_session_and_admin_for_the_quarantine() {
    let s = server();
    let read = s.token("read");
    let admin = s.token("admin");
    let upload = s.token("upload");

    // Without a session: pages redirect to the sign-in page, forms are refused.
    let (status, headers, _) = s.get("/tests?verdict=flaky", None);
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/signin?next=%2Ftests");
    let (status, _, body) = s.post(
        "/actions/quarantine",
        None,
        &[("test", BROKEN), ("reason", "x"), ("csrf", "x")],
    );
    assert_eq!(status, 401, "{body}");
    let (status, _, signin) = s.get("/signin?next=/tests", None);
    assert_eq!(status, 200);
    assert!(signin.contains("<label for=\"token\">Token</label>"));
    // A forged session id is no session.
    assert_eq!(s.get("/", Some("flakehound_session=00ff")).0, 303);
    // The API is where it was.
    assert_eq!(s.get("/api/v1/report", None).0, 401);

    // Wrong tokens are refused with the API's reasons.
    let (status, headers, body) = s.post("/signin", None, &[("token", "fhk_nope")]);
    assert_eq!(status, 401);
    assert!(headers.get("set-cookie").is_none());
    assert!(text(&body).contains("unknown token"), "{body}");
    let (status, _, body) = s.post("/signin", None, &[("token", &upload)]);
    assert_eq!(status, 401);
    assert!(text(&body).contains("scope is upload"), "{body}");
    // The sign-in goes back to the page asked for, never off the site.
    let (status, headers, _) = s.post(
        "/signin",
        None,
        &[("token", &read), ("next", "//evil.example.com/")],
    );
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/");

    // A read session sees the pages, without the quarantine forms.
    let reader = s.sign_in(&read);
    let (status, _, home) = s.get("/", Some(&reader));
    assert_eq!(status, 200);
    assert!(text(&home).contains("39 tests, 90 CI runs"), "{home}");
    assert!(home.contains("read-only"));
    let test_path = format!("/test?id={}", enc(BROKEN));
    let (_, _, t) = s.get(&test_path, Some(&reader));
    assert!(!t.contains("/actions/quarantine"));
    let reader_csrf = csrf(&t); // the sign-out form's
    let (status, _, _) = s.post(
        "/actions/quarantine",
        Some(&reader),
        &[("test", BROKEN), ("reason", "x"), ("csrf", &reader_csrf)],
    );
    assert_eq!(status, 403);

    // An admin session has the buttons; the forms need the session's CSRF token.
    let boss = s.sign_in(&admin);
    let (_, _, t) = s.get(&test_path, Some(&boss));
    assert!(t.contains("action=\"/actions/quarantine\""), "{t}");
    assert!(t.contains("<label for=\"q-reason\">Reason</label>"));
    let token = csrf(&t);
    let (status, _, _) = s.post(
        "/actions/quarantine",
        Some(&boss),
        &[
            ("test", BROKEN),
            ("reason", "broken"),
            ("csrf", &reader_csrf),
        ],
    );
    assert_eq!(status, 403);
    let (status, headers, body) = s.post(
        "/actions/quarantine",
        Some(&boss),
        &[
            ("test", BROKEN),
            ("reason", "broken since bf00b10"),
            ("owner", "@payments"),
            ("expires", "2099-01-31"),
            ("csrf", &token),
        ],
    );
    assert_eq!(status, 303, "{body}");
    assert_eq!(headers["location"], test_path.as_str());
    // The server's quarantine has it (what `flakehound run --server` reads), logged.
    let q: serde_json::Value = client()
        .get(format!("{}/api/v1/quarantine", s.process.url))
        .bearer_auth(&read)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(q["entries"][0]["test"], BROKEN, "{q}");
    assert_eq!(q["entries"][0]["owner"], "@payments");
    assert_eq!(q["entries"][0]["expires"], "2099-01-31");
    let (_, _, t) = s.get(&test_path, Some(&boss));
    assert!(text(&t).contains("Quarantined by @payments until 2099-01-31"));
    let (_, _, home) = s.get("/", Some(&boss));
    assert!(text(&home).contains("1 quarantined"), "{home}");
    let (status, _, _) = s.post(
        "/actions/release",
        Some(&boss),
        &[("test", BROKEN), ("csrf", &token)],
    );
    assert_eq!(status, 303);
    let audit: serde_json::Value = client()
        .get(format!("{}/api/v1/audit/quarantine", s.process.url))
        .bearer_auth(&read)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let actions: Vec<&str> = audit["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["put", "delete"], "{audit}");
    assert_eq!(audit["changes"][0]["actor"], "admin");

    // A revoked token ends its sessions at the next page.
    let list: serde_json::Value = serde_json::from_str(&ok(fh(s.dir.path()).args([
        "server",
        "--database",
        &s.db,
        "token",
        "list",
        "--json",
    ])))
    .unwrap();
    let read_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scope"] == "read")
        .unwrap()["id"]
        .to_string();
    ok(fh(s.dir.path()).args(["server", "--database", &s.db, "token", "revoke", &read_id]));
    assert_eq!(s.get("/", Some(&reader)).0, 303);

    // Signing out ends the session.
    let (status, headers, _) = s.post("/signout", Some(&boss), &[("csrf", &token)]);
    assert_eq!(status, 303);
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(s.get("/", Some(&boss)).0, 303);
}

/// Sessions are kept in the server's store (hashed): one survives a restart of the server, its
/// CSRF token still works, and signing out ends it in the store too. CODEOWNERS given to the
/// server through the API, then carried by an upload from a checkout, names the owners in the
/// dashboard's table and filter.
#[test]
fn server_sessions_survive_a_restart_and_codeowners_reach_the_dashboard() {
    let mut s = server();
    let admin = s.token("admin");
    let cookie = s.sign_in(&admin);
    assert_eq!(s.get("/tests", Some(&cookie)).0, 200);

    // Restart: a new process on the same store.
    drop(std::mem::replace(
        &mut s.process,
        Process::start(
            s.dir.path(),
            &["serve", "--listen", "127.0.0.1:0", "--database", &s.db],
        ),
    ));
    let (status, _, html) = s.get(&format!("/test?id={}", enc(BROKEN)), Some(&cookie));
    assert_eq!(status, 200, "the session did not survive the restart");
    assert!(
        html.contains("Quarantine"),
        "admin buttons after the restart"
    );

    // CODEOWNERS through the API: the payments tests belong to @acme/payments.
    let put = |content_type: &str, text: &str| {
        let r = client()
            .put(format!("{}/api/v1/codeowners", s.process.url))
            .bearer_auth(&admin)
            .header("Content-Type", content_type)
            .body(text.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    assert_eq!(put("application/json", "{}").0, 415);
    let (status, body) = put(
        "text/plain",
        "# owners\n* @acme/core\ntests/test_payments.py @acme/payments\nnot[ valid\n",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["rules"], 2, "{v}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v}");
    // The next analysis (in the background after the change) names the owners.
    let mut owned = Vec::new();
    for _ in 0..100 {
        let (_, _, html) = s.get("/tests?owner=%40acme%2Fpayments", Some(&cookie));
        owned = rows(&html);
        if !owned.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(owned.iter().any(|(id, _)| id == BROKEN), "{owned:?}");
    assert!(
        owned
            .iter()
            .all(|(id, _)| id.starts_with("tests/test_payments.py")),
        "{owned:?}"
    );

    // Without the admin's pin, CI's upload from a checkout of the default branch carries the
    // repository's CODEOWNERS: the orders tests now belong to @acme/orders.
    let r = client()
        .delete(format!("{}/api/v1/codeowners", s.process.url))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let repo = s.dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".github")).unwrap();
    std::fs::write(
        repo.join(".github/CODEOWNERS"),
        "* @acme/core\ntests/test_orders.py @acme/orders\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("junit.xml"),
        r#"<testsuite name="s"><testcase classname="tests.test_orders" name="test_list_orders" file="tests/test_orders.py"/></testsuite>"#,
    )
    .unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", ".github/CODEOWNERS"],
        &[
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@example.com",
            "commit",
            "-q",
            "-m",
            "owners",
        ],
    ] {
        ok(std::process::Command::new("git")
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(args));
    }
    let up = s.token("upload");
    let out = ok(fh(&repo)
        .env("FLAKEHOUND_SERVER", &s.process.url)
        .env("FLAKEHOUND_TOKEN", &up)
        .args([
            "upload",
            "--branch",
            "main",
            "--run-id",
            "owners-1",
            "junit.xml",
        ]));
    assert!(
        out.contains("CODEOWNERS .github/CODEOWNERS kept for"),
        "{out}"
    );
    let mut owned = Vec::new();
    for _ in 0..100 {
        let (_, _, html) = s.get("/tests?owner=%40acme%2Forders", Some(&cookie));
        owned = rows(&html);
        if !owned.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(owned.iter().any(|(id, _)| id == REGRESSION), "{owned:?}");
    assert!(
        owned
            .iter()
            .all(|(id, _)| id.starts_with("tests/test_orders.py")),
        "{owned:?}"
    );

    // Signing out after the restart (the CSRF token came from the store) ends the session for
    // good: another restart does not bring it back.
    let (_, _, page) = s.get("/", Some(&cookie));
    let token = csrf(&page);
    let (status, _, _) = s.post("/signout", Some(&cookie), &[("csrf", &token)]);
    assert_eq!(status, 303);
    drop(std::mem::replace(
        &mut s.process,
        Process::start(
            s.dir.path(),
            &["serve", "--listen", "127.0.0.1:0", "--database", &s.db],
        ),
    ));
    assert_eq!(s.get("/", Some(&cookie)).0, 303);
}
