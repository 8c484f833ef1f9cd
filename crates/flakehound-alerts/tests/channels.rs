//! Every channel against a real local receiver: signed webhooks, Slack's Block Kit, SMTP with
//! STARTTLS; receivers that fail or are down; one notification per change of state; mutes and
//! routing by owner. Evidence is a real SQLite store.

mod common;

use common::*;
use flakehound_alerts::{Channels, Config, Options, Quarantines};
use flakehound_store::{AlertStore, Store};
use flakehound_store_sqlite::SqliteStore;
use std::time::{Duration, Instant};

fn stores(dir: &std::path::Path) -> (SqliteStore, SqliteStore) {
    let path = dir.join("f.db");
    let store = SqliteStore::open(&path)
        .and_then(|s| s.with_project("acme/shop"))
        .unwrap();
    let alerts = SqliteStore::open(&path).unwrap();
    (store, alerts)
}

fn check(
    store: &mut dyn Store,
    alerts: &mut dyn AlertStore,
    cfg: &Config,
    now: jiff::Timestamp,
    repo: Option<&std::path::Path>,
) -> flakehound_alerts::Checked {
    let mut channels = Channels::new(cfg);
    channels.set_backoff(Duration::from_millis(20));
    let opts = Options {
        now,
        no_baseline: true,
        repo: repo.map(|r| r.to_path_buf()),
        ..Options::new()
    };
    flakehound_alerts::check(
        store,
        alerts,
        cfg,
        &opts,
        &Quarantines::default(),
        &channels,
    )
    .unwrap()
}

#[test]
fn webhook_and_slack_get_one_signed_notification_per_change() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut alerts) = stores(dir.path());
    let last = turning_flaky(&mut store);
    let cfg = Config::parse(
        &format!(
            r#"
server_url = "https://flakehound.example.com/"
[channels.ops]
type = "webhook"
url = "{0}/hook"
secret = "s3cret"
[channels.team]
type = "slack"
webhook_url = "{0}/slack"
"#,
            rx.base
        ),
        "alerts.toml",
    )
    .unwrap();
    let checked = check(&mut store, &mut alerts, &cfg, common::after_run(last), None);
    assert_eq!(checked.changes.len(), 1, "{checked:#?}");
    let n = &checked.changes[0].notification;
    assert_eq!(n.monitor, "new_flaky");
    assert_eq!(n.test.as_deref(), Some(FLAKY));

    let hooks = rx.got("/hook");
    assert_eq!(hooks.len(), 1);
    let h = &hooks[0];
    assert!(verify_signature("s3cret", h), "signature: {:?}", h.headers);
    assert!(!verify_signature("other", h));
    let ts: i64 = h.headers["x-flakehound-timestamp"].parse().unwrap();
    assert!((jiff::Timestamp::now().as_second() - ts).abs() < 60);
    assert_eq!(h.headers["content-type"], "application/json");
    let body = h.json();
    assert_eq!(body["monitor"], "new_flaky");
    assert_eq!(body["state"], "alarm");
    assert_eq!(body["previous_state"], "ok");
    assert_eq!(body["test"], FLAKY);
    assert_eq!(
        body["link"],
        "https://flakehound.example.com/tests/tests%2Ftest_payments.py%3A%3Atest_refund"
    );
    // Why: the numbers and the runs.
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("after 0 failures in the 60 runs before"),
        "{body}"
    );
    assert_eq!(body["runs"][0], "github-actions/1060/1/test");

    let slack = rx.got("/slack");
    assert_eq!(slack.len(), 1);
    let s = slack[0].json();
    assert!(s["text"].as_str().unwrap().contains(FLAKY));
    let blocks = s["blocks"].as_array().unwrap();
    let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["header", "section", "section", "context", "actions"]
    );
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    assert!(blocks[2]["fields"].as_array().unwrap().len() <= 10);
    assert_eq!(blocks[4]["elements"][0]["type"], "button");
    assert_eq!(blocks[4]["elements"][0]["url"], body["link"]);
    // Slack gets no signature headers.
    assert!(!slack[0].headers.contains_key("x-flakehound-signature"));

    let log = alerts.deliveries("acme/shop", 10).unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d.status == "sent" && d.attempts == 1));

    // The same evidence again: no change of state, nothing sent.
    let again = check(&mut store, &mut alerts, &cfg, common::after_run(last), None);
    assert!(again.changes.is_empty(), "{again:#?}");
    assert_eq!(rx.got("/hook").len(), 1);
    assert_eq!(again.alarming, 1);
}

#[test]
fn a_receiver_answering_500_gets_retries_and_the_check_still_succeeds() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut alerts) = stores(dir.path());
    let last = turning_flaky(&mut store);
    let cfg = Config::parse(
        &format!(
            "[channels.ops]\ntype = \"webhook\"\nurl = \"{}/fail\"\nretries = 2\n",
            rx.base
        ),
        "alerts.toml",
    )
    .unwrap();
    let checked = check(&mut store, &mut alerts, &cfg, common::after_run(last), None);
    assert_eq!(rx.got("/fail").len(), 3, "one attempt and two retries");
    let o = &checked.changes[0].outcomes[0];
    assert_eq!((o.status.as_str(), o.attempts), ("failed", 3));
    let e = o.error.as_deref().unwrap();
    assert!(
        e.contains("HTTP 500") && e.contains("down for maintenance"),
        "{e}"
    );
    assert_eq!(checked.failed(), 1);
    let log = alerts.deliveries("acme/shop", 10).unwrap();
    assert_eq!(log[0].status, "failed");
    assert_eq!(log[0].channel, "ops");
    // The change is recorded: the next check does not send it again.
    let again = check(&mut store, &mut alerts, &cfg, common::after_run(last), None);
    assert!(again.changes.is_empty());
    assert_eq!(rx.got("/fail").len(), 3);
}

#[test]
fn a_receiver_that_is_down_or_hangs_never_blocks_for_long() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut alerts) = stores(dir.path());
    let last = turning_flaky(&mut store);
    let cfg = Config::parse(
        &format!(
            "[channels.dead]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\nretries = 3\n\
             [channels.slow]\ntype = \"slack\"\nwebhook_url = \"{}/slow\"\nretries = 0\ntimeout = \"1s\"\n",
            dead_port(),
            rx.base
        ),
        "alerts.toml",
    )
    .unwrap();
    let t = Instant::now();
    let checked = check(&mut store, &mut alerts, &cfg, common::after_run(last), None);
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    let by: std::collections::HashMap<&str, &flakehound_alerts::Outcome> = checked.changes[0]
        .outcomes
        .iter()
        .map(|o| (o.channel.as_str(), o))
        .collect();
    assert_eq!(by["dead"].status, "failed");
    assert_eq!(by["dead"].attempts, 4);
    assert!(
        by["dead"].error.as_deref().unwrap().contains("127.0.0.1"),
        "{:?}",
        by["dead"].error
    );
    assert_eq!(by["slow"].status, "failed");
    assert!(
        by["slow"].error.as_deref().unwrap().contains("timed out"),
        "{:?}",
        by["slow"].error
    );
}

#[test]
fn email_goes_through_starttls_to_a_real_smtp_sink() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &sink.ca_pem).unwrap();
    let (mut store, mut alerts) = stores(dir.path());
    let last = turning_flaky(&mut store);
    let cfg = Config::parse(
        &format!(
            r#"
[channels.mail]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
from = "flakehound <ci@acme.test>"
to = ["payments@acme.test", "Lead <lead@acme.test>"]
ca_file = "{}"
"#,
            sink.port,
            ca.display()
        ),
        "alerts.toml",
    )
    .unwrap();
    let checked = check(&mut store, &mut alerts, &cfg, common::after_run(last), None);
    assert_eq!(
        checked.changes[0].outcomes[0].status, "sent",
        "{:?}",
        checked.changes[0].outcomes
    );
    let mails = sink.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.tls, "the message was sent after STARTTLS");
    assert_eq!(m.from, "<ci@acme.test>");
    assert_eq!(m.to, ["<payments@acme.test>", "<lead@acme.test>"]);
    // Unfolded headers, quoted-printable soft breaks joined.
    let text = m.data.replace("\r\n ", " ").replace("=\r\n", "");
    assert!(
        text.contains("Subject: [flakehound] tests/test_payments.py::test_refund started failing intermittently"),
        "{text}"
    );
    assert!(text.contains("runs: github-actions/1060/1/test"), "{text}");

    // A certificate the channel does not trust: the send fails and says why.
    let other = dir.path().join("other.pem");
    std::fs::write(
        &other,
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
            .unwrap()
            .cert
            .pem(),
    )
    .unwrap();
    let cfg = Config::parse(
        &format!(
            "[channels.mail]\ntype = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"ci@acme.test\"\nto = [\"a@acme.test\"]\nca_file = \"{}\"\nretries = 0\n",
            sink.port,
            other.display()
        ),
        "alerts.toml",
    )
    .unwrap();
    let channels = Channels::new(&cfg);
    let n = flakehound_alerts::sample("acme/shop", &cfg);
    let sent = flakehound_alerts::Deliver::send(&channels, "mail", &n);
    assert!(sent.error.as_deref().unwrap().contains("SMTP"), "{sent:?}");
    assert_eq!(sink.mails.lock().unwrap().len(), 1);
}

#[test]
fn broken_channel_configurations_name_the_channel() {
    let cfg = Config::parse(
        "[channels.ops]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\nsecret_env = \"FLAKEHOUND_TEST_NO_SUCH_SECRET\"\n\
         [channels.mail]\ntype = \"email\"\nsmtp_host = \"127.0.0.1\"\nfrom = \"a@b.test\"\nto = [\"c@d.test\"]\nca_file = \"/nonexistent/ca.pem\"\n",
        "alerts.toml",
    )
    .unwrap();
    let channels = Channels::new(&cfg);
    let errors = channels.errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e
        == "channel `ops`: key `secret_env`: the variable FLAKEHOUND_TEST_NO_SUCH_SECRET is not set"));
    assert!(
        errors.iter().any(
            |e| e.starts_with("channel `mail`: key `ca_file`: cannot read /nonexistent/ca.pem")
        )
    );
    // Sending through it says the same, logged as a failure rather than a crash.
    let sent =
        flakehound_alerts::Deliver::send(&channels, "ops", &flakehound_alerts::sample("p", &cfg));
    assert!(sent.error.unwrap().contains("channel `ops`"));
}

#[test]
fn mutes_and_routing_by_codeowners_team() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".github")).unwrap();
    std::fs::write(
        repo.join(".github/CODEOWNERS"),
        // The last matching rule wins, as on GitHub.
        "* @acme/everyone\ntests/test_payments.py @acme/payments\n",
    )
    .unwrap();
    let (mut store, mut alerts) = stores(dir.path());
    let last = turning_flaky(&mut store);
    let cfg_text = format!(
        r#"
default_channels = ["general"]
[channels.general]
type = "webhook"
url = "{0}/general"
[channels.payments]
type = "webhook"
url = "{0}/payments"
[[route]]
owner = "@acme/payments"
channels = ["payments"]
"#,
        rx.base
    );
    // Muted for a week: logged, not sent.
    alerts
        .mute(&flakehound_store::Mute {
            project: "acme/shop".into(),
            subject: FLAKY.into(),
            until: Some(
                (common::after_run(last) + jiff::SignedDuration::from_hours(24 * 7)).to_string(),
            ),
            reason: Some("known, fix in review".into()),
            created_at: common::after_run(last).to_string(),
        })
        .unwrap();
    let cfg = Config::parse(&cfg_text, "alerts.toml").unwrap();
    let checked = check(
        &mut store,
        &mut alerts,
        &cfg,
        common::after_run(last),
        Some(&repo),
    );
    assert_eq!(checked.changes[0].outcomes[0].status, "muted");
    assert!(rx.requests.lock().unwrap().is_empty());
    assert_eq!(
        alerts.deliveries("acme/shop", 5).unwrap()[0].status,
        "muted"
    );

    // Another store, no mute: the payments team's channel gets it, the default does not.
    let dir2 = tempfile::tempdir().unwrap();
    let (mut store, mut alerts) = stores(dir2.path());
    turning_flaky(&mut store);
    let checked = check(
        &mut store,
        &mut alerts,
        &cfg,
        common::after_run(last),
        Some(&repo),
    );
    assert_eq!(checked.changes[0].notification.owners, ["@acme/payments"]);
    assert_eq!(rx.got("/payments").len(), 1);
    assert_eq!(rx.got("/general").len(), 0);
}
