//! Alerting on the server: real `flakehound-server` instances (in this process, on random
//! ports) with the background evaluator on their commit hook, real uploads through the client,
//! a real receiver. A dead receiver never slows an upload; two replicas on one PostgreSQL
//! schema deliver a change once.

mod common;

use common::Receiver;
use flakehound_alerts::Config;
use flakehound_alerts::background::Evaluator;
use flakehound_model::RunMeta;
use flakehound_store::{Location, Scope};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn install() {
    flakehound_store::install(&flakehound_store_sqlite::BACKEND);
    flakehound_store::install(&flakehound_store_postgres::BACKEND);
}

/// A server on a random port with alerting from `cfg`; dropped with its runtime.
struct Replica {
    url: String,
    evaluator: Arc<Evaluator>,
    _rt: tokio::runtime::Runtime,
}

fn replica(location: &Location, cfg: &Config) -> Replica {
    let evaluator = Arc::new(Evaluator::start(
        location.clone(),
        cfg.clone(),
        Duration::from_secs(3600),
    ));
    let mut config = flakehound_server::Config::new(location.clone());
    config.after_commit = Some(flakehound_server::CommitHook(Arc::new(evaluator.hook())));
    let router = flakehound_server::router(config).expect("router");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Replica {
        url,
        evaluator,
        _rt: rt,
    }
}

fn token(location: &Location) -> String {
    let mut admin = flakehound_store::open_admin(location).unwrap();
    flakehound_server::tokens::create(admin.as_mut(), "acme/shop", Scope::Upload, None, None)
        .unwrap()
        .secret
}

/// Run `i` as a JUnit file: two tests, `tests/test_payments.py::test_refund` failing when asked.
fn upload(url: &str, token: &str, dir: &std::path::Path, i: usize, fail: bool) -> Duration {
    let failure = if fail {
        r#"<failure message="AssertionError: assert 1 == 3">assert 1 == 3</failure>"#
    } else {
        ""
    };
    let started = common::start() + jiff::SignedDuration::from_hours(i as i64);
    // A real report carries its time: every run's file is different content.
    let xml = format!(
        r#"<?xml version="1.0"?><testsuite name="pytest" tests="2" timestamp="{started}"><testcase classname="tests.test_payments" name="test_refund" file="tests/test_payments.py" time="0.1">{failure}</testcase><testcase classname="tests.test_orders" name="test_total" file="tests/test_orders.py" time="0.1"/></testsuite>"#
    );
    let path = dir.join(format!("junit-{i}.xml"));
    std::fs::write(&path, xml).unwrap();
    let meta = RunMeta {
        commit: Some(format!("{:040x}", i + 1)),
        branch: Some("main".into()),
        provider: Some("github-actions".into()),
        job: Some("test".into()),
        run_id: Some((7000 + i).to_string()),
        run_attempt: Some(1),
        started_at: Some(started.to_string()),
        ..Default::default()
    };
    let client = flakehound_client::Server::new(url, token);
    let t = Instant::now();
    client.upload(&meta, &[path]).expect("upload");
    t.elapsed()
}

fn webhook(url: &str) -> Config {
    Config::parse(
        &format!(
            "[channels.ops]\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = \"k\"\n\
             [monitors.uploads_stopped]\nenabled = false\n[monitors.digest]\nenabled = false\n"
        ),
        "alerts.toml",
    )
    .unwrap()
}

#[test]
fn a_dead_receiver_never_slows_an_upload() {
    install();
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("server.db"));
    let token = token(&location);
    // Retries 3 with backoff 0.5 s, 1 s, 2 s: 3.5 s per notification at least.
    let cfg = webhook(&format!("http://127.0.0.1:{}/hook", common::dead_port()));
    let r = replica(&location, &cfg);
    let mut slowest = Duration::ZERO;
    for i in 0..62 {
        slowest = slowest.max(upload(&r.url, &token, dir.path(), i, i == 60));
    }
    // The alarm's delivery is retrying in the background meanwhile.
    assert!(
        slowest < Duration::from_secs(2),
        "slowest upload {slowest:?}"
    );
    // The commit hook runs after the upload is answered: the last upload's evaluation may not
    // be queued yet when the client returns. Asking once more makes sure an evaluation sees
    // every commit before waiting for the evaluator to be idle (CI once saw an empty log).
    r.evaluator.notify("acme/shop");
    assert!(r.evaluator.wait_idle(Duration::from_secs(60)));
    let mut alerts = flakehound_store::open_alerts(&location).unwrap();
    let log = alerts.deliveries("acme/shop", 10).unwrap();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!((log[0].status.as_str(), log[0].attempts), ("failed", 4));
    assert_eq!(log[0].monitor, "new_flaky");
}

#[test]
fn two_replicas_on_one_postgres_schema_deliver_a_change_once() {
    install();
    let Some(server) = flakehound_testkit::test_postgres() else {
        return;
    };
    let schema = flakehound_testkit::PgSchema::new(&server, "alerts_replicas");
    let location = Location::Postgres(schema.url());
    let token = token(&location);
    let rx = Receiver::start();
    let cfg = webhook(&format!("{}/hook", rx.base));
    let a = replica(&location, &cfg);
    let b = replica(&location, &cfg);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..60 {
        let r = if i % 2 == 0 { &a } else { &b };
        upload(&r.url, &token, dir.path(), i, false);
    }
    // The failure through one replica, the pass that makes it intermittent through the other.
    upload(&a.url, &token, dir.path(), 60, true);
    upload(&b.url, &token, dir.path(), 61, false);
    // And both evaluate the same state at once, again.
    a.evaluator.notify("acme/shop");
    b.evaluator.notify("acme/shop");
    assert!(a.evaluator.wait_idle(Duration::from_secs(60)));
    assert!(b.evaluator.wait_idle(Duration::from_secs(60)));
    let hooks = rx.got("/hook");
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    assert!(common::verify_signature("k", &hooks[0]));
    let body = hooks[0].json();
    assert_eq!(body["monitor"], "new_flaky");
    assert_eq!(body["test"], "tests/test_payments.py::test_refund");
    let mut alerts = flakehound_store::open_alerts(&location).unwrap();
    let sent: Vec<_> = alerts
        .deliveries("acme/shop", 10)
        .unwrap()
        .into_iter()
        .filter(|d| d.status == "sent")
        .collect();
    assert_eq!(sent.len(), 1);
}

/// The periodic pass over every project runs on one replica: the one holding the "alerts"
/// lease; when it stops, another takes over. (Two evaluators on one SQLite store, as two
/// `serve` processes; the lease is the store's, as retention's.)
#[test]
fn the_periodic_pass_runs_on_one_replica_and_moves_when_it_stops() {
    install();
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("server.db"));
    let _ = token(&location);
    let cfg = webhook("http://127.0.0.1:9/hook");
    let every = Duration::from_millis(100);
    let a = Evaluator::start(location.clone(), cfg.clone(), every);
    let b = Evaluator::start(location.clone(), cfg, every);
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.periodic_passes() + b.periodic_passes() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (pa, pb) = (a.periodic_passes(), b.periodic_passes());
    assert!(pa + pb >= 5, "passes {pa} + {pb}");
    assert!(
        pa == 0 || pb == 0,
        "both replicas ran the pass: {pa} and {pb}"
    );
    // The leader stops: the other one leads from its next turn.
    let (leader, other) = if pa > 0 { (a, b) } else { (b, a) };
    // Read while the leader still holds the lease: once it is dropped, the other may take the
    // lease and run a pass at once (seen in CI under load, when it was read after the drop).
    let before = other.periodic_passes();
    assert_eq!(before, 0);
    drop(leader);
    let deadline = Instant::now() + Duration::from_secs(20);
    while other.periodic_passes() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(other.periodic_passes() >= 3, "no replica took over");
}
