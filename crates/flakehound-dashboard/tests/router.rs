//! The dashboard's router over a real SQLite store holding a synthetic history with planted
//! verdicts (`flakehound-synth`), requests sent straight to the router (no socket): the pages
//! show what `report` says, the cache follows the store's generation, and the sign-in mode's
//! sessions, CSRF tokens and admin forms behave.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use flakehound_dashboard::{Access, Backend, BoxFuture, Identity, router};
use flakehound_store::{QuarantineRecord, Store};
use flakehound_store_sqlite::SqliteStore;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const PROJECT: &str = "synth";

struct TestBackend {
    path: PathBuf,
    generation: AtomicU64,
    quarantine: Mutex<Vec<QuarantineRecord>>,
}

impl Backend for TestBackend {
    fn open(&self, project: &str) -> anyhow::Result<Box<dyn Store>> {
        Ok(Box::new(
            SqliteStore::open(&self.path)?.with_project(project)?,
        ))
    }
    fn generation(&self, _: &str) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
    fn quarantine(&self, _: &str) -> anyhow::Result<Vec<QuarantineRecord>> {
        Ok(self.quarantine.lock().unwrap().clone())
    }
    fn put_quarantine(&self, _: &str, e: &QuarantineRecord, _: &str) -> anyhow::Result<()> {
        self.quarantine.lock().unwrap().push(e.clone());
        Ok(())
    }
    fn remove_quarantine(&self, _: &str, test: &str, _: &str) -> anyhow::Result<bool> {
        let mut q = self.quarantine.lock().unwrap();
        let before = q.len();
        q.retain(|e| e.test != test);
        Ok(q.len() < before)
    }
    fn sign_in<'a>(&'a self, secret: &'a str) -> BoxFuture<'a, Result<Identity, String>> {
        Box::pin(async move {
            match secret {
                "read-secret" | "admin-secret" => Ok(Identity {
                    project: PROJECT.into(),
                    admin: secret == "admin-secret",
                    actor: secret.into(),
                }),
                _ => Err("unknown token".into()),
            }
        })
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    backend: Arc<TestBackend>,
    report: flakehound_analysis::Report,
    history: flakehound_synth::History,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let history = flakehound_synth::generate(&flakehound_synth::Config::small(3));
    let mut store = SqliteStore::open(&path)
        .unwrap()
        .with_project(PROJECT)
        .unwrap();
    flakehound_synth::write_to_store(&history, &mut store).unwrap();
    store.flush().unwrap();
    let report = flakehound_analysis::report_from_store(&mut store, false).unwrap();
    drop(store);
    Fixture {
        _dir: dir,
        backend: Arc::new(TestBackend {
            path,
            generation: AtomicU64::new(1),
            quarantine: Mutex::default(),
        }),
        report,
        history,
    }
}

async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = axum::body::to_bytes(r.into_body(), 10 << 20).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn get(
    app: &axum::Router,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut r = Request::get(uri);
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    send(app, r.body(Body::empty()).unwrap()).await
}

async fn post(
    app: &axum::Router,
    uri: &str,
    cookie: Option<&str>,
    form: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut r =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    send(app, r.body(Body::from(form.to_string())).unwrap()).await
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn ids(html: &str) -> Vec<String> {
    unescape(html)
        .split("<tr data-id=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_show_what_report_says() {
    let f = fixture();
    let app = router(
        f.backend.clone(),
        Access::Open {
            project: PROJECT.into(),
        },
    );
    let (status, _, home) = get(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK, "{home}");
    for verdict in ["flaky", "broken", "regression"] {
        let want = f
            .report
            .entries
            .iter()
            .filter(|e| e.verdict.as_str() == verdict)
            .count();
        assert!(
            home.contains(&format!(
                "data-verdict=\"{verdict}\"><span class=\"n\">{want}</span>"
            )),
            "{verdict}: {want}"
        );
        // The filter lists exactly the report's tests of that verdict (all on one page here).
        let (_, _, page) = get(&app, &format!("/tests?verdict={verdict}"), None).await;
        let mut shown = ids(&page);
        shown.sort();
        let mut expected: Vec<String> = f
            .report
            .entries
            .iter()
            .filter(|e| e.verdict.as_str() == verdict)
            .map(|e| e.ranked.id.clone())
            .collect();
        expected.sort();
        assert_eq!(shown, expected, "{verdict}");
    }
    // The whole table pages by 50 and counts every test.
    let (_, _, all) = get(&app, "/tests?sort=id&dir=asc", None).await;
    let total = f.history.truth.len();
    assert!(
        all.contains(&format!("{total} of {total} tests")),
        "{total}"
    );
    assert_eq!(ids(&all).len(), total.min(50));
    // Each broken test's page marks the report's culprit on its timeline.
    for e in f
        .report
        .entries
        .iter()
        .filter(|e| e.verdict.as_str() == "broken")
    {
        let (status, _, page) = get(&app, &format!("/test?id={}", enc(&e.ranked.id)), None).await;
        assert_eq!(status, StatusCode::OK);
        let culprit = e.culprit.as_ref().unwrap();
        let short = flakehound_analysis::verdict::short_commit(&culprit.commit);
        assert!(
            page.contains(&format!("data-culprit=\"{short}\"")),
            "{}",
            e.ranked.id
        );
    }
    // Every incident has its page.
    for i in &f.report.incidents {
        let (status, _, page) = get(&app, &format!("/incident?run={}", enc(&i.run)), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&format!("{} of {}", i.failed_tests, i.tests_executed)));
    }
    // A page that does not parse its query still answers.
    assert_eq!(get(&app, "/tests?page=x", None).await.0, StatusCode::OK);
    assert_eq!(get(&app, "/test", None).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_generation_is_served_once_rebuilt() {
    let f = fixture();
    let app = router(
        f.backend.clone(),
        Access::Open {
            project: PROJECT.into(),
        },
    );
    let (_, _, first) = get(&app, "/", None).await;
    assert!(!first.contains("being rebuilt"));
    // The same generation: served from the cache.
    assert!(!get(&app, "/", None).await.2.contains("being rebuilt"));
    f.backend.generation.fetch_add(1, Ordering::SeqCst);
    // The next page is the previous analysis, said so, while the new one is built.
    let (status, _, stale) = get(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(stale.contains("being rebuilt"));
    let mut fresh = false;
    for _ in 0..200 {
        if !get(&app, "/", None).await.2.contains("being rebuilt") {
            fresh = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(fresh, "the rebuilt analysis was never served");
}

fn cookie_of(headers: &axum::http::HeaderMap) -> String {
    headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_sessions_and_admin_forms() {
    let f = fixture();
    let app = router(f.backend.clone(), Access::SignIn);
    let test = f.report.entries[0].ranked.id.clone();
    let test_uri = format!("/test?id={}", enc(&test));

    let (status, headers, _) = get(&app, &test_uri, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/signin?next=%2Ftest%3Fid%3D")
    );
    let (status, headers, page) = post(&app, "/signin", None, "token=wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert!(page.contains("unknown token"));

    let (status, headers, _) = post(&app, "/signin", None, "token=read-secret&next=%2Ftests").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(
        !set.contains("read-secret"),
        "the token never goes to the browser"
    );
    let reader = cookie_of(&headers);
    let (status, _, page) = get(&app, &test_uri, Some(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("/actions/quarantine"));
    let reader_csrf = csrf(&page);
    let form = format!("test={}&reason=flaky&csrf={reader_csrf}", enc(&test));
    assert_eq!(
        post(&app, "/actions/quarantine", Some(&reader), &form)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let (_, headers, _) = post(&app, "/signin", None, "token=admin-secret").await;
    let admin = cookie_of(&headers);
    let (_, _, page) = get(&app, &test_uri, Some(&admin)).await;
    assert!(page.contains("action=\"/actions/quarantine\""));
    let admin_csrf = csrf(&page);
    assert_ne!(admin_csrf, reader_csrf);
    // Another session's CSRF token, or none, is refused.
    assert_eq!(
        post(&app, "/actions/quarantine", Some(&admin), &form)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let no_csrf = format!("test={}&reason=flaky", enc(&test));
    assert_eq!(
        post(&app, "/actions/quarantine", Some(&admin), &no_csrf)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let bad_date = format!(
        "test={}&reason=flaky&expires=tomorrow&csrf={admin_csrf}",
        enc(&test)
    );
    let (status, _, page) = post(&app, "/actions/quarantine", Some(&admin), &bad_date).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a date"));
    let good = format!(
        "test={}&reason=flaky&expires=2099-12-31&csrf={admin_csrf}",
        enc(&test)
    );
    let (status, _, _) = post(&app, "/actions/quarantine", Some(&admin), &good).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let q = f.backend.quarantine.lock().unwrap().clone();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (
            q[0].test.as_str(),
            q[0].owner.as_str(),
            q[0].expires.as_str()
        ),
        (test.as_str(), "admin-secret", "2099-12-31")
    );
    let (_, _, page) = get(&app, &test_uri, Some(&admin)).await;
    assert!(page.contains("id=\"release\""));
    let release = format!("test={}&csrf={admin_csrf}", enc(&test));
    assert_eq!(
        post(&app, "/actions/release", Some(&admin), &release)
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(&app, "/actions/release", Some(&admin), &release)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert!(f.backend.quarantine.lock().unwrap().is_empty());

    // Sign-out ends only that session.
    let (status, _, _) = post(
        &app,
        "/signout",
        Some(&admin),
        &format!("csrf={admin_csrf}"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, "/", Some(&admin)).await.0, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, "/", Some(&reader)).await.0, StatusCode::OK);
}

#[test]
fn every_template_compiles_and_assets_are_embedded() {
    // The router builds every template at construction (a broken one panics here).
    let f = fixture();
    let _ = router(f.backend, Access::SignIn);
}

#[test]
fn a_large_store_lists_the_failing_tests_first() {
    use flakehound_dashboard::model::{AllTests, build};
    let f = fixture();
    let mut store = f.backend.open(PROJECT).unwrap();
    let quick = build(
        store.as_mut(),
        &|_, _| Vec::new(),
        &[],
        AllTests::IfAtMost(0),
    )
    .unwrap();
    let full = build(store.as_mut(), &|_, _| Vec::new(), &[], AllTests::Always).unwrap();
    assert!(!quick.complete && full.complete);
    assert_eq!(full.rows.len(), f.history.truth.len());
    // The quick one: every test that ever failed, with the same verdicts as the full one.
    assert_eq!(quick.rows.len(), quick.ev.tests.len());
    assert!(quick.rows.len() < full.rows.len());
    // Completed with an earlier full analysis's other tests: the same rows.
    let mut adopted = build(
        store.as_mut(),
        &|_, _| Vec::new(),
        &[],
        AllTests::IfAtMost(0),
    )
    .unwrap();
    adopted.adopt(&full);
    assert!(adopted.complete);
    let ids = |s: &flakehound_dashboard::model::Snapshot| {
        s.rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&adopted), ids(&full));
    for r in &quick.rows {
        let same = full.row(&r.id).unwrap();
        assert_eq!(
            (r.verdict, r.runs, r.failed_runs),
            (same.verdict, same.runs, same.failed_runs),
            "{}",
            r.id
        );
    }
}
