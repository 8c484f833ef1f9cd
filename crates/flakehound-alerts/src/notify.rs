//! Notifications and the channels that carry them: Slack incoming webhooks (Block Kit), generic
//! JSON webhooks signed with HMAC-SHA256, and e-mail over SMTP (STARTTLS). Every send is retried
//! with exponential backoff; what happened is returned for the delivery log.
//!
//! # Webhook signature
//! A webhook request carries `X-Flakehound-Timestamp: <unix seconds>` and
//! `X-Flakehound-Signature: sha256=<hex>`, the HMAC-SHA256 under the channel's secret of
//! `<timestamp>.<body>` (the timestamp, a dot, the raw body bytes). A receiver recomputes it,
//! compares in constant time and refuses timestamps older than a few minutes (replays).

use crate::config::{ChannelConfig, Config, parse_duration};
use hmac::{KeyInit, Mac};
use serde::Serialize;
use std::time::Duration;

/// What a monitor's change of state tells people.
#[derive(Clone, Debug, Serialize)]
pub struct Notification {
    pub project: String,
    /// The monitor that changed (`fixed` for a recovery).
    pub monitor: String,
    pub subject: String,
    /// The subject's new state.
    pub state: String,
    pub previous_state: String,
    pub title: String,
    pub summary: String,
    pub facts: Vec<(String, String)>,
    /// Run keys of the evidence, newest first.
    pub runs: Vec<String>,
    pub test: Option<String>,
    /// `{server_url}/tests/{id}` when a server URL is configured and the subject is a test.
    pub link: Option<String>,
    pub owners: Vec<String>,
    pub culprit: Option<String>,
    /// `Name <email>` of the culprit commit, when known.
    pub author: Option<String>,
    /// RFC 3339 UTC.
    pub at: String,
}

impl Notification {
    /// The generic webhook's body.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "version": 1,
            "project": self.project,
            "monitor": self.monitor,
            "subject": self.subject,
            "state": self.state,
            "previous_state": self.previous_state,
            "title": self.title,
            "summary": self.summary,
            "facts": self.facts.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "runs": self.runs,
            "test": self.test,
            "link": self.link,
            "owners": self.owners,
            "culprit": self.culprit,
            "author": self.author,
            "at": self.at,
        })
    }

    /// A Slack message in Block Kit: a header, the summary, up to 10 facts as fields, the runs
    /// as context, and a button to the test's page.
    pub fn to_slack(&self) -> serde_json::Value {
        let mut blocks = vec![
            serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&self.title, 150), "emoji": false}}),
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&self.summary), 3000)}}),
        ];
        let mut facts: Vec<(String, String)> = self.facts.clone();
        if let Some(a) = &self.author {
            facts.push(("author".into(), a.clone()));
        }
        if !self.owners.is_empty() {
            facts.push(("owners".into(), self.owners.join(", ")));
        }
        if !facts.is_empty() {
            let fields: Vec<serde_json::Value> = facts
                .iter()
                .take(10)
                .map(|(k, v)| {
                    serde_json::json!({"type": "mrkdwn", "text": truncate(&format!("*{}*\n{}", slack_escape(k), slack_escape(v)), 2000)})
                })
                .collect();
            blocks.push(serde_json::json!({"type": "section", "fields": fields}));
        }
        let mut context = format!("{} · {} · {}", self.project, self.monitor, self.at);
        if !self.runs.is_empty() {
            context.push_str(&format!(" · runs: {}", self.runs.join(", ")));
        }
        blocks.push(serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(&slack_escape(&context), 3000)}]}));
        if let Some(link) = &self.link {
            blocks.push(serde_json::json!({"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in flakehound"}, "url": link}]}));
        }
        serde_json::json!({"text": self.title, "blocks": blocks})
    }

    /// The e-mail's plain-text body.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n\n{}\n\n", self.title, self.summary);
        for (k, v) in &self.facts {
            s.push_str(&format!("{k}: {v}\n"));
        }
        if let Some(a) = &self.author {
            s.push_str(&format!("author: {a}\n"));
        }
        if !self.owners.is_empty() {
            s.push_str(&format!("owners: {}\n", self.owners.join(", ")));
        }
        if !self.runs.is_empty() {
            s.push_str(&format!("runs: {}\n", self.runs.join(", ")));
        }
        if let Some(l) = &self.link {
            s.push_str(&format!("\n{l}\n"));
        }
        s.push_str(&format!(
            "\n-- \nflakehound alerts: {} / {} / {}\n",
            self.project, self.monitor, self.at
        ));
        s
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `sha256=<hex>` of `<timestamp>.<body>` under `secret` (see the module docs).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in bytes {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The outcome of delivering to one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub attempts: u32,
    pub error: Option<String>,
}

/// A configured channel, ready to send.
pub struct Channel {
    pub name: String,
    kind: Kind,
    retries: u32,
    timeout: Duration,
    /// First backoff; doubled after each failed attempt.
    pub backoff: Duration,
}

enum Kind {
    Slack {
        url: String,
    },
    Webhook {
        url: String,
        secret: Option<Vec<u8>>,
    },
    Email {
        transport: Box<lettre::SmtpTransport>,
        from: lettre::message::Mailbox,
        to: Vec<lettre::message::Mailbox>,
    },
}

fn env_value(channel: &str, key: &str, var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "channel `{channel}`: key `{key}`: the variable {var} is not set"
        )),
    }
}

impl Channel {
    /// Builds the channel `name` of `cfg` (reading secrets from the environment and the CA
    /// file): an error names the channel and the key.
    pub fn build(cfg: &Config, name: &str) -> Result<Channel, String> {
        let Some(c) = cfg.channels.get(name) else {
            return Err(format!("no channel named `{name}`"));
        };
        let (retries, timeout) = match c {
            ChannelConfig::Slack {
                retries, timeout, ..
            }
            | ChannelConfig::Webhook {
                retries, timeout, ..
            }
            | ChannelConfig::Email {
                retries, timeout, ..
            } => (
                retries.unwrap_or(3),
                timeout
                    .as_deref()
                    .and_then(parse_duration)
                    .unwrap_or(Duration::from_secs(10)),
            ),
        };
        let kind = match c {
            ChannelConfig::Slack {
                webhook_url,
                webhook_url_env,
                ..
            } => Kind::Slack {
                url: match (webhook_url, webhook_url_env) {
                    (Some(u), _) => u.clone(),
                    (None, Some(var)) => env_value(name, "webhook_url_env", var)?,
                    (None, None) => return Err(format!("channel `{name}`: no webhook_url")),
                },
            },
            ChannelConfig::Webhook {
                url,
                secret,
                secret_env,
                ..
            } => Kind::Webhook {
                url: url.clone(),
                secret: match (secret, secret_env) {
                    (Some(s), _) => Some(s.clone().into_bytes()),
                    (None, Some(var)) => Some(env_value(name, "secret_env", var)?.into_bytes()),
                    (None, None) => None,
                },
            },
            ChannelConfig::Email {
                smtp_host,
                smtp_port,
                security,
                username,
                password_env,
                from,
                to,
                ca_file,
                ..
            } => {
                use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
                let mut params = TlsParameters::builder(smtp_host.clone());
                if let Some(f) = ca_file {
                    let pem = std::fs::read(f).map_err(|e| {
                        format!("channel `{name}`: key `ca_file`: cannot read {f}: {e}")
                    })?;
                    let cert = Certificate::from_pem(&pem).map_err(|e| {
                        format!(
                            "channel `{name}`: key `ca_file`: {f} is not a PEM certificate: {e}"
                        )
                    })?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build()
                    .map_err(|e| format!("channel `{name}`: TLS setup failed: {e}"))?;
                let security = security.as_deref().unwrap_or("starttls");
                let (tls, default_port) = match security {
                    "tls" => (Tls::Wrapper(params), 465),
                    "none" => (Tls::None, 25),
                    _ => (Tls::Required(params), 587),
                };
                let mut b = lettre::SmtpTransport::builder_dangerous(smtp_host.clone())
                    .port(smtp_port.unwrap_or(default_port))
                    .tls(tls)
                    .timeout(Some(timeout));
                if let Some(user) = username {
                    let password = match password_env {
                        Some(var) => env_value(name, "password_env", var)?,
                        None => String::new(),
                    };
                    b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                        user.clone(),
                        password,
                    ));
                }
                Kind::Email {
                    transport: Box::new(b.build()),
                    from: from
                        .parse()
                        .map_err(|e| format!("channel `{name}`: key `from`: {e}"))?,
                    to: to
                        .iter()
                        .map(|t| {
                            t.parse()
                                .map_err(|e| format!("channel `{name}`: key `to`: {t}: {e}"))
                        })
                        .collect::<Result<_, _>>()?,
                }
            }
        };
        Ok(Channel {
            name: name.to_string(),
            kind,
            retries,
            timeout,
            backoff: Duration::from_millis(500),
        })
    }

    /// Sends with retries (exponential backoff); never panics, never waits longer than
    /// `(retries + 1) · timeout` plus the backoffs.
    pub fn send(&self, n: &Notification) -> Sent {
        let mut attempts = 0;
        let mut delay = self.backoff;
        loop {
            attempts += 1;
            match self.send_once(n) {
                Ok(()) => {
                    return Sent {
                        attempts,
                        error: None,
                    };
                }
                Err((e, retryable)) => {
                    if !retryable || attempts > self.retries {
                        tracing::warn!(channel = %self.name, attempts, error = %e, "notification not delivered");
                        return Sent {
                            attempts,
                            error: Some(e),
                        };
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn client(&self) -> Result<reqwest::blocking::Client, (String, bool)> {
        reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("flakehound/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| (format!("HTTP client: {e}"), false))
    }

    fn send_once(&self, n: &Notification) -> Result<(), (String, bool)> {
        match &self.kind {
            Kind::Slack { url } => {
                let body = serde_json::to_vec(&n.to_slack()).unwrap_or_default();
                post(&self.client()?, url, body, Vec::new())
            }
            Kind::Webhook { url, secret } => {
                let body = serde_json::to_vec(&n.to_json()).unwrap_or_default();
                let ts = jiff::Timestamp::now().as_second();
                let mut headers = vec![("X-Flakehound-Timestamp", ts.to_string())];
                if let Some(s) = secret {
                    headers.push(("X-Flakehound-Signature", signature(s, ts, &body)));
                }
                headers.push(("X-Flakehound-Event", n.monitor.clone()));
                post(&self.client()?, url, body, headers)
            }
            Kind::Email {
                transport,
                from,
                to,
            } => {
                use lettre::Transport;
                let mut m = lettre::Message::builder()
                    .from(from.clone())
                    .subject(format!("[flakehound] {}", n.title));
                for t in to {
                    m = m.to(t.clone());
                }
                let message = m
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(n.to_text())
                    .map_err(|e| (format!("cannot build the message: {e}"), false))?;
                transport.send(&message).map(|_| ()).map_err(|e| {
                    // Permanent SMTP answers (5xx) are not retried.
                    let permanent = e.is_permanent();
                    (format!("SMTP: {e}"), !permanent)
                })
            }
        }
    }
}

fn post(
    client: &reqwest::blocking::Client,
    url: &str,
    body: Vec<u8>,
    headers: Vec<(&str, String)>,
) -> Result<(), (String, bool)> {
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    match req.send() {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let status = r.status();
            let text: String = r.text().unwrap_or_default().chars().take(200).collect();
            // 4xx other than 408/429 will not get better by retrying.
            let retryable = status.is_server_error()
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::REQUEST_TIMEOUT;
            Err((
                format!("HTTP {status} from {}: {}", redact(url), text.trim()),
                retryable,
            ))
        }
        Err(e) => Err((format!("{}: {}", redact(url), describe(&e)), true)),
    }
}

/// A URL for messages: Slack webhook URLs are secrets, so only scheme, host and port are shown.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(invalid URL)".into(),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(&format!(": {x}"));
        src = x.source();
    }
    // reqwest repeats the URL; keep the secret path out.
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), &redact(u.as_str()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 style check against a value computed independently (Python's hmac module):
        // hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature(b"key", 1_700_000_000, b"{}"),
            "sha256=".to_string() + &independent(b"key", b"1700000000.{}")
        );
        assert_ne!(signature(b"key", 1, b"{}"), signature(b"key", 2, b"{}"));
    }

    /// HMAC-SHA256 from its definition (RFC 2104) over sha2, to check the `hmac` crate's use.
    fn independent(key: &[u8], msg: &[u8]) -> String {
        use sha2::Digest;
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = sha2::Sha256::new()
            .chain_update(&ipad)
            .chain_update(msg)
            .finalize();
        let outer = sha2::Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize();
        outer.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn slack_urls_never_reach_messages() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
    }
}
