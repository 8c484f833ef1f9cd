//! Real local receivers for the channel tests: an HTTP server (axum) recording every request, and
//! an SMTP sink speaking enough SMTP (EHLO, STARTTLS with a self-signed certificate from rcgen,
//! MAIL, RCPT, DATA, QUIT) to take a message from lettre. Plus evidence builders.
//!
//! The sink is hand-written (about 100 lines over tokio-rustls) because no maintained Rust crate
//! is an SMTP server for tests with STARTTLS, and aiosmtpd (PyPI) would make these tests need the
//! Python venv.
#![allow(dead_code)]

use flakehound_model::{Attempt, Failure, Outcome, ReportInfo, RunMeta, TestCase};
use flakehound_store::{NewReport, RunKey, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One request the HTTP receiver got.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A real HTTP server on a random local port: `/ok` answers 200, `/fail` 500, `/slow` after
/// 3 s. Every request is recorded.
pub struct Receiver {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
    _rt: tokio::runtime::Runtime,
}

impl Receiver {
    pub fn start() -> Receiver {
        use axum::extract::{Request as AxRequest, State};
        use axum::http::StatusCode;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        async fn record(
            State(reqs): State<Arc<Mutex<Vec<Request>>>>,
            req: AxRequest,
        ) -> (StatusCode, &'static str) {
            let path = req.uri().path().to_string();
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            reqs.lock().unwrap().push(Request {
                path: path.clone(),
                headers,
                body,
            });
            match path.as_str() {
                "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance"),
                "/slow" => {
                    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                    (StatusCode::OK, "ok")
                }
                _ => (StatusCode::OK, "ok"),
            }
        }
        let app = axum::Router::new()
            .fallback(record)
            .with_state(requests.clone());
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            base: format!("http://{addr}"),
            requests,
            _rt: rt,
        }
    }

    pub fn got(&self, path: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

/// A port nothing listens on.
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = l.local_addr().expect("address").port();
    drop(l);
    p
}

/// A message the SMTP sink took.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// Whether the session had switched to TLS (STARTTLS) before MAIL FROM.
    pub tls: bool,
}

/// A real SMTP server on a random local port, offering STARTTLS with a self-signed certificate
/// for 127.0.0.1 (its PEM in `ca_pem`, what the channel's `ca_file` points at).
pub struct SmtpSink {
    pub port: u16,
    pub ca_pem: String,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    _rt: tokio::runtime::Runtime,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let cert = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .expect("certificate");
        let ca_pem = cert.cert.pem();
        let der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()),
        );
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            #[allow(deprecated)]
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let m = mails.clone();
        rt.spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let m = m.clone();
                tokio::spawn(async move {
                    let _ = session(sock, acceptor, m).await;
                });
            }
        });
        SmtpSink {
            port,
            ca_pem,
            mails,
            _rt: rt,
        }
    }
}

/// One SMTP session: plain until STARTTLS, then the rest over TLS.
async fn session(
    sock: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    mails: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut plain = tokio::io::BufStream::new(sock);
    plain.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    plain.flush().await?;
    match converse(&mut plain, false, &mails).await? {
        Next::StartTls => {
            let sock = plain.into_inner();
            let tls = acceptor.accept(sock).await?;
            let mut tls = tokio::io::BufStream::new(tls);
            converse(&mut tls, true, &mails).await?;
        }
        Next::Done => {}
    }
    Ok(())
}

enum Next {
    StartTls,
    Done,
}

async fn converse<S: tokio::io::AsyncBufRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    tls: bool,
    mails: &Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<Next> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Ok(Next::Done);
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if tls {
                b"250-sink.test\r\n250 8BITMIME\r\n"
            } else {
                b"250-sink.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
            }
        } else if upper == "STARTTLS" {
            s.write_all(b"220 go ahead\r\n").await?;
            s.flush().await?;
            return Ok(Next::StartTls);
        } else if upper.starts_with("MAIL FROM:") {
            from = cmd[10..].trim().to_string();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().to_string());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            s.write_all(b"354 end with .\r\n").await?;
            s.flush().await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if s.read_line(&mut l).await? == 0 {
                    return Ok(Next::Done);
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            mails.lock().unwrap().push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
                tls,
            });
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            s.write_all(b"221 bye\r\n").await?;
            s.flush().await?;
            return Ok(Next::Done);
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        s.write_all(reply).await?;
        s.flush().await?;
    }
}

/// A run of the test history: `(test id, outcomes of its attempts)`.
pub fn write_run(store: &mut dyn Store, i: usize, tests: &[(&str, &[Outcome])]) {
    let started = start() + jiff::SignedDuration::from_hours(i as i64);
    let meta = RunMeta {
        commit: Some(format!("{:040x}", i + 1)),
        branch: Some("main".into()),
        provider: Some("github-actions".into()),
        job: Some("test".into()),
        run_id: Some((1000 + i).to_string()),
        run_attempt: Some(1),
        started_at: Some(started.to_string()),
        ..Default::default()
    };
    let key = RunKey::from_meta(&meta).expect("a run key");
    let hash = format!("run-{i}");
    let report = NewReport::ci_junit(&hash, &key, &meta);
    let cases: Vec<TestCase> = tests
        .iter()
        .map(|(id, outcomes)| {
            let (file, _) = id.split_once("::").unwrap_or((id, ""));
            TestCase {
                id: id.to_string(),
                classname: None,
                name: id.to_string(),
                file: Some(file.to_string()),
                line: None,
                suite: vec![],
                outcome: outcomes.iter().fold(Outcome::Skipped, |a, &o| a.worst(o)),
                attempts: outcomes
                    .iter()
                    .map(|&o| Attempt {
                        outcome: o,
                        duration: Some(0.1),
                        failure: o.is_failure().then(|| Failure {
                            kind: Some("AssertionError".into()),
                            message: Some(format!("AssertionError: assert {} == 3", i % 7)),
                            details: None,
                        }),
                        stdout: None,
                        stderr: None,
                    })
                    .collect(),
                properties: vec![],
                timestamp: None,
            }
        })
        .collect();
    flakehound_store::write_report(store, &report, &cases, &ReportInfo::default())
        .expect("write a run");
    store.flush().expect("flush");
}

pub fn start() -> jiff::Timestamp {
    "2026-11-02T08:00:00Z".parse().expect("a time")
}

/// When the check after run `i` happens.
pub fn after_run(i: usize) -> jiff::Timestamp {
    start() + jiff::SignedDuration::from_hours(i as i64) + jiff::SignedDuration::from_mins(5)
}

pub const FLAKY: &str = "tests/test_payments.py::test_refund";
pub const STEADY: &str = "tests/test_orders.py::test_total";

/// 60 clean runs of two tests, then `FLAKY` fails once (passing on retry) and passes again:
/// one `new_flaky` change. Returns the index of the last run.
pub fn turning_flaky(store: &mut dyn Store) -> usize {
    use Outcome::*;
    for i in 0..60 {
        write_run(store, i, &[(FLAKY, &[Passed]), (STEADY, &[Passed])]);
    }
    write_run(
        store,
        60,
        &[(FLAKY, &[Failed, Passed]), (STEADY, &[Passed])],
    );
    write_run(store, 61, &[(FLAKY, &[Passed]), (STEADY, &[Passed])]);
    61
}

/// HMAC-SHA256 of `<timestamp>.<body>`, computed here from the `hmac` crate to check the
/// receiver-side recipe the README gives.
pub fn verify_signature(secret: &str, req: &Request) -> bool {
    use hmac::{KeyInit, Mac};
    let ts = &req.headers["x-flakehound-timestamp"];
    let sig = &req.headers["x-flakehound-signature"];
    let Some(hex) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&req.body);
    mac.verify_slice(&bytes).is_ok()
}
