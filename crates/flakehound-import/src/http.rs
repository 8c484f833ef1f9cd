//! The REST client both providers share: authentication, pagination, rate limits and retries.
//!
//! Blocking `reqwest` (as `flakehound-client`), called from a few worker threads at once: an
//! import is a batch job bounded by the API, and one blocking client with a connection pool
//! serves the threads without bringing an async runtime to every caller.
//!
//! Rate limits, as GitHub documents them (GitLab answers 429 with `Retry-After` and the same
//! `RateLimit-Reset` idea):
//! - primary: `x-ratelimit-remaining: 0` on a 403/429 → wait until `x-ratelimit-reset` (epoch
//!   seconds), then send again; a success with `remaining: 0` makes every thread wait for the
//!   reset before its next request;
//! - secondary: 403/429 with `retry-after` → wait that many seconds; without it (the body says
//!   "secondary rate limit") → wait one minute;
//! - every wait is shared by all threads (one pause), and Ctrl-C ends it at once.
//!
//! Network errors and 5xx answers are retried a few times with a short backoff; other statuses
//! are errors naming the request ([`ApiError::Status`]).

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::HeaderMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API answered with an error status.
    #[error("GET {url}: {status}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        message: Option<String>,
    },
    /// The API could not be reached, or kept failing (5xx) after retries.
    #[error("GET {url}: {reason}")]
    Network { url: String, reason: String },
    /// The answer was not what the API documents.
    #[error("GET {url}: unexpected answer: {reason}")]
    Decode { url: String, reason: String },
    /// Stopped by the user (Ctrl-C) while waiting or before sending.
    #[error("stopped")]
    Stopped,
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (network, server errors): such a unit is left
    /// for the next import instead of being recorded.
    pub fn transient(&self) -> bool {
        matches!(self, ApiError::Network { .. } | ApiError::Stopped)
            || self.status().is_some_and(|s| s >= 500 || s == 429)
    }
}

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    None,
    /// GitHub: `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// GitLab: `PRIVATE-TOKEN: TOKEN`.
    PrivateToken(String),
}

/// Retries and waits; tests shorten them.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Extra tries after a network error or 5xx.
    pub retries: u32,
    /// First backoff (doubles each retry).
    pub backoff: Duration,
    /// Wait after a secondary rate limit without `Retry-After` (GitHub: one minute).
    pub secondary_wait: Duration,
    /// Longest single rate-limit wait accepted; a reset further away is an error (so an
    /// import never sleeps for hours without saying so).
    pub max_wait: Duration,
    /// Rate-limit waits in a row for one request before giving up.
    pub max_waits: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            retries: 3,
            backoff: Duration::from_millis(500),
            secondary_wait: Duration::from_secs(60),
            max_wait: Duration::from_secs(3600 + 60),
            max_waits: 30,
        }
    }
}

/// One API, shared by the import's threads.
pub struct Api {
    client: Client,
    base: String,
    auth: Auth,
    stop: Arc<AtomicBool>,
    pause_until: Mutex<Option<Instant>>,
    notice: Box<dyn Fn(String) + Send + Sync>,
    pub tuning: Tuning,
}

impl Api {
    /// `base`: the API root (`https://api.github.com`, `https://gitlab.example/api/v4`).
    /// `notice` hears about rate-limit waits and retries.
    pub fn new(
        base: &str,
        auth: Auth,
        stop: Arc<AtomicBool>,
        notice: Box<dyn Fn(String) + Send + Sync>,
    ) -> Result<Api, ApiError> {
        // Redirects are followed by `get`, which sends the token only to the API's own origin
        // (GitHub's artifact downloads redirect to storage elsewhere, and reqwest would keep a
        // custom header such as GitLab's PRIVATE-TOKEN across origins).
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("flakehound/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Network {
                url: base.to_string(),
                reason: format!("cannot make an HTTP client: {e}"),
            })?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_string(),
            auth,
            stop,
            pause_until: Mutex::new(None),
            notice,
            tuning: Tuning::default(),
        })
    }

    /// The absolute URL of `path` (`/repos/…`), or `path` itself when it is a URL already.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps until `until`, in slices, ending early (with [`ApiError::Stopped`]) on Ctrl-C.
    fn sleep_until(&self, until: Instant) -> Result<(), ApiError> {
        loop {
            if self.stopped() {
                return Err(ApiError::Stopped);
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }

    fn pause(&self, wait: Duration, why: String) {
        let until = Instant::now() + wait;
        let mut p = self.pause_until.lock().unwrap_or_else(|e| e.into_inner());
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
            (self.notice)(format!("{why}: waiting {} s", wait.as_secs_f64().ceil()));
        }
    }

    fn wait_pause(&self) -> Result<(), ApiError> {
        let until = *self.pause_until.lock().unwrap_or_else(|e| e.into_inner());
        match until {
            Some(t) => self.sleep_until(t),
            None => Ok(()),
        }
    }

    /// GET `path` and the response, once its status is a success; rate limits waited out,
    /// transient failures retried.
    pub fn get(&self, path: &str) -> Result<Response, ApiError> {
        let mut url = self.url(path);
        let mut tries = 0;
        let mut waits = 0;
        let mut redirects = 0;
        loop {
            self.wait_pause()?;
            let mut req = self.client.get(&url);
            let auth = if same_origin(&url, &self.base) {
                &self.auth
            } else {
                &Auth::None
            };
            req = match auth {
                Auth::None => req,
                Auth::Bearer(t) => req
                    .bearer_auth(t)
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28"),
                Auth::PrivateToken(t) => req.header("PRIVATE-TOKEN", t),
            };
            let resp = match req.send() {
                Ok(r) => r,
                Err(e) => {
                    if tries < self.tuning.retries {
                        tries += 1;
                        self.retry_sleep(tries, &url, &e.to_string())?;
                        continue;
                    }
                    return Err(ApiError::Network {
                        url,
                        reason: describe(&e),
                    });
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            // The last request of the quota (any answer but a refusal): every thread waits for
            // the reset before its next request.
            if status != StatusCode::FORBIDDEN
                && status != StatusCode::TOO_MANY_REQUESTS
                && header_u64(&headers, "x-ratelimit-remaining") == Some(0)
            {
                if let Some(wait) = reset_wait(&headers) {
                    self.pause(wait, "rate limit used up (X-RateLimit-Remaining: 0)".into());
                }
            }
            if status.is_redirection() {
                let to = headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| resp.url().join(l).ok());
                match to {
                    Some(to) if redirects < 5 => {
                        redirects += 1;
                        url = to.to_string();
                        continue;
                    }
                    _ => {
                        return Err(ApiError::Decode {
                            url,
                            reason: format!(
                                "{status} without a usable Location, or too many redirects"
                            ),
                        });
                    }
                }
            }
            if status.is_success() {
                return Ok(resp);
            }
            if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
                let body = resp.text().unwrap_or_default();
                if let Some(wait) = self.rate_limit_wait(status, &headers, &body) {
                    waits += 1;
                    if waits > self.tuning.max_waits {
                        return Err(ApiError::Status {
                            url,
                            status: status.as_u16(),
                            message: Some(format!(
                                "still rate limited after {} waits",
                                self.tuning.max_waits
                            )),
                        });
                    }
                    if wait > self.tuning.max_wait {
                        return Err(ApiError::Status {
                            url,
                            status: status.as_u16(),
                            message: Some(format!(
                                "rate limited for {} s more; run the import again later",
                                wait.as_secs()
                            )),
                        });
                    }
                    self.pause(wait, format!("rate limited ({})", status.as_u16()));
                    continue;
                }
                return Err(ApiError::Status {
                    url,
                    status: status.as_u16(),
                    message: message_of(&body),
                });
            }
            if status.is_server_error() && tries < self.tuning.retries {
                tries += 1;
                self.retry_sleep(tries, &url, &status.to_string())?;
                continue;
            }
            let body = resp.text().unwrap_or_default();
            return Err(ApiError::Status {
                url,
                status: status.as_u16(),
                message: message_of(&body),
            });
        }
    }

    fn retry_sleep(&self, tries: u32, url: &str, why: &str) -> Result<(), ApiError> {
        let wait = self.tuning.backoff * 2u32.pow(tries - 1);
        (self.notice)(format!(
            "GET {url}: {why}; retrying in {:.1} s",
            wait.as_secs_f64()
        ));
        self.sleep_until(Instant::now() + wait)
    }

    /// How long a 403/429 asks to wait, when it is a rate limit (else `None`: a real refusal).
    fn rate_limit_wait(&self, status: StatusCode, h: &HeaderMap, body: &str) -> Option<Duration> {
        if let Some(secs) = header_u64(h, "retry-after") {
            return Some(Duration::from_secs(secs.max(1)));
        }
        if header_u64(h, "x-ratelimit-remaining") == Some(0)
            || header_u64(h, "ratelimit-remaining") == Some(0)
        {
            return Some(reset_wait(h).unwrap_or(self.tuning.secondary_wait));
        }
        let lower = body.to_ascii_lowercase();
        if lower.contains("secondary rate limit") || status == StatusCode::TOO_MANY_REQUESTS {
            return Some(self.tuning.secondary_wait);
        }
        None
    }

    /// GET `path` as JSON.
    pub fn get_json(&self, path: &str) -> Result<(serde_json::Value, HeaderMap), ApiError> {
        let resp = self.get(path)?;
        let url = resp.url().to_string();
        let headers = resp.headers().clone();
        let value = resp.json().map_err(|e| ApiError::Decode {
            url,
            reason: e.to_string(),
        })?;
        Ok((value, headers))
    }

    /// Every page of a list: `items` picks the page's items out of its JSON (GitHub wraps them
    /// in an object, GitLab answers an array). Follows `Link: <…>; rel="next"`, else GitLab's
    /// `X-Next-Page`.
    pub fn get_all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        items: &dyn Fn(serde_json::Value) -> Option<serde_json::Value>,
        each: &mut dyn FnMut(T) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let mut next = Some(self.url(path));
        let mut pages = 0u32;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 100_000 {
                return Err(ApiError::Decode {
                    url,
                    reason: "more than 100,000 pages: the pagination does not end".into(),
                });
            }
            let (value, headers) = self.get_json(&url)?;
            let list = items(value).ok_or_else(|| ApiError::Decode {
                url: url.clone(),
                reason: "no list of items where the API documents one".into(),
            })?;
            let list: Vec<T> = serde_json::from_value(list).map_err(|e| ApiError::Decode {
                url: url.clone(),
                reason: e.to_string(),
            })?;
            for item in list {
                each(item)?;
            }
            next = next_link(&headers).or_else(|| next_page(&url, &headers));
        }
        Ok(())
    }
}

/// Whether `url` is on the API's origin (scheme, host and port), where the token may go.
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

/// The `message` of a JSON error body (GitHub and GitLab both use it), else its first line.
fn message_of(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(m) = v.get("message").or_else(|| v.get("error")) {
            return Some(match m {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
    }
    let line = body.lines().next()?.trim();
    (!line.is_empty()).then(|| line.chars().take(200).collect())
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Time until `x-ratelimit-reset` (epoch seconds; GitLab: `ratelimit-reset`), plus a margin.
fn reset_wait(h: &HeaderMap) -> Option<Duration> {
    let reset = header_u64(h, "x-ratelimit-reset").or_else(|| header_u64(h, "ratelimit-reset"))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let at = Duration::from_secs(reset);
    Some(at.saturating_sub(now) + Duration::from_millis(250))
}

/// The `rel="next"` target of a `Link` header (RFC 8288, as GitHub and GitLab send it).
pub fn next_link(h: &HeaderMap) -> Option<String> {
    for value in h.get_all("link") {
        let value = value.to_str().ok()?;
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            let is_next = pieces.any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next {
                let t = target.strip_prefix('<')?.strip_suffix('>')?;
                return Some(t.to_string());
            }
        }
    }
    None
}

/// GitLab's `X-Next-Page` (empty on the last page) applied to `url`'s `page` parameter.
fn next_page(url: &str, h: &HeaderMap) -> Option<String> {
    let page: u64 = h.get("x-next-page")?.to_str().ok()?.trim().parse().ok()?;
    let mut u = reqwest::Url::parse(url).ok()?;
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("page", &page.to_string());
    Some(u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn link_header_next() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/actions/runs?page=2>; rel=\"next\", \
                 <https://api.github.com/repositories/1/actions/runs?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/actions/runs?page=2")
        );
        h.insert(
            "link",
            HeaderValue::from_static("<https://x/runs?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn gitlab_next_page() {
        let mut h = HeaderMap::new();
        h.insert("x-next-page", HeaderValue::from_static("3"));
        assert_eq!(
            next_page(
                "http://h/api/v4/projects/1/pipelines?per_page=100&page=2",
                &h
            )
            .as_deref(),
            Some("http://h/api/v4/projects/1/pipelines?per_page=100&page=3")
        );
        h.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(next_page("http://h/x?page=2", &h), None);
    }

    #[test]
    fn the_token_stays_on_the_api_origin() {
        assert!(same_origin(
            "https://api.github.com/repos/o/r",
            "https://api.github.com"
        ));
        assert!(same_origin(
            "https://api.github.com:443/x",
            "https://api.github.com"
        ));
        assert!(!same_origin(
            "https://pipelines.actions.githubusercontent.com/x",
            "https://api.github.com"
        ));
        assert!(!same_origin(
            "http://api.github.com/x",
            "https://api.github.com"
        ));
        assert!(!same_origin("http://127.0.0.1:2/x", "http://127.0.0.1:1"));
    }

    proptest::proptest! {
        /// Any `Link` or `X-Next-Page` value is read without panicking; a `next` found is the
        /// bracketed target.
        #[test]
        fn pagination_headers_never_panic(link in ".{0,200}", page in ".{0,12}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&link) {
                h.insert("link", v);
            }
            if let Ok(v) = HeaderValue::from_str(&page) {
                h.insert("x-next-page", v);
            }
            if let Some(next) = next_link(&h) {
                let bracketed = format!("<{next}>");
                proptest::prop_assert!(link.contains(&bracketed));
            }
            let _ = next_page("http://h/x?page=1", &h);
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            message_of(r#"{"message":"Resource not accessible by integration"}"#).as_deref(),
            Some("Resource not accessible by integration")
        );
        assert_eq!(message_of("").as_deref(), None);
    }
}
