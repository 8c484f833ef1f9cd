//! The client of `flakehound serve`: uploads a CI job's reports (gzip-compressed, retried with
//! backoff) and reads the API. Fail-open by design: the caller gets a typed error and decides
//! (the binary spools the files with [`spool`] and never changes a build's exit status for it).

use flakehound_model::RunMeta;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request (4xx other than 429): sending it again will not help.
    #[error("the server refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The server could not be reached or kept failing (network, timeout, 5xx, 429).
    #[error("the server is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Local(String),
}

/// A server and the token to use.
#[derive(Clone, Debug)]
pub struct Server {
    /// Base URL, without a trailing slash.
    pub url: String,
    token: String,
    /// `token` is a project's public upload id (sent as `X-Flakehound-Upload-Id`), not a token.
    public: bool,
    /// Bound on each request.
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// First backoff; doubled per retry.
    pub backoff: Duration,
}

/// The server's answer to an upload.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

/// The repository's CODEOWNERS as an upload carries it (the `codeowners` part, JSON): the
/// server keeps it for the project when the upload is of the default branch and its commit is
/// the newest (see the server's rules).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Codeowners {
    pub text: String,
    /// Where it is in the repository.
    pub path: String,
    /// The commit it was read at and that commit's committer time (RFC 3339).
    pub commit: String,
    pub commit_time: String,
    /// The repository's default branch, when the CI or the checkout says.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default_branch: Option<String>,
}

/// The warning added to an answer when the server is older than `codeowners` parts.
pub const OLD_SERVER: &str = "this server does not keep CODEOWNERS from uploads (an older version): the reports were sent without it";

impl Server {
    pub fn new(url: &str, token: &str) -> Server {
        Server {
            url: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            public: false,
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }

    /// A server reached with a project's public upload id instead of a token (fork pull
    /// requests): it may upload and read the quarantine.
    pub fn public(url: &str, id: &str) -> Server {
        Server {
            public: true,
            ..Server::new(url, id)
        }
    }

    fn http(&self) -> Result<reqwest::blocking::Client, ClientError> {
        reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("flakehound/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Local(format!("cannot make an HTTP client: {e}")))
    }

    /// Sends `make()`'s request, retrying network errors, 5xx and 429 with exponential backoff
    /// (429 and 503 wait as long as `Retry-After` says, up to 30 s).
    fn send(
        &self,
        make: &dyn Fn(
            &reqwest::blocking::Client,
        ) -> Result<reqwest::blocking::RequestBuilder, ClientError>,
    ) -> Result<(u16, serde_json::Value), ClientError> {
        let http = self.http()?;
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
            let request = make(&http)?;
            let request = if self.public {
                request.header("X-Flakehound-Upload-Id", &self.token)
            } else {
                request.bearer_auth(&self.token)
            };
            let response = match request.send() {
                Ok(r) => r,
                Err(e) => {
                    last = describe(&e);
                    continue;
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let text = response.text().unwrap_or_default();
            let body: serde_json::Value =
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            let message = body
                .pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string());
            match status {
                200..=299 | 422 => return Ok((status, body)),
                429 | 500..=599 => {
                    last = format!("{status}: {message}");
                    if let Some(s) = retry_after {
                        wait = wait.max(Duration::from_secs(s.min(30)));
                    }
                }
                _ => return Err(ClientError::Refused { status, message }),
            }
        }
        Err(ClientError::Unavailable(format!(
            "{} after {} attempts: {last}",
            self.url,
            self.retries + 1
        )))
    }

    /// Uploads the reports of one CI job with its metadata. Files are gzip-compressed on the
    /// way (read again for each retry).
    pub fn upload(&self, meta: &RunMeta, files: &[PathBuf]) -> Result<Answer, ClientError> {
        self.upload_with(meta, files, None)
    }

    /// [`Server::upload`] carrying the repository's CODEOWNERS. A server older than the
    /// `codeowners` part refuses it (400 naming the part): the upload is then sent again
    /// without it, and the answer says so in its warnings (the reports must not be lost to a
    /// newer client).
    pub fn upload_with(
        &self,
        meta: &RunMeta,
        files: &[PathBuf],
        codeowners: Option<&Codeowners>,
    ) -> Result<Answer, ClientError> {
        // A public upload id never changes the project's CODEOWNERS: not sent.
        let codeowners = codeowners.filter(|_| !self.public);
        match self.send_upload(meta, files, codeowners) {
            Err(ClientError::Refused {
                status: 400,
                message,
            }) if codeowners.is_some() && message.contains("codeowners") => {
                let mut answer = self.send_upload(meta, files, None)?;
                if let Some(w) = answer
                    .body
                    .get_mut("warnings")
                    .and_then(|w| w.as_array_mut())
                {
                    w.push(OLD_SERVER.into());
                }
                Ok(answer)
            }
            other => other,
        }
    }

    fn send_upload(
        &self,
        meta: &RunMeta,
        files: &[PathBuf],
        codeowners: Option<&Codeowners>,
    ) -> Result<Answer, ClientError> {
        let meta_json = meta_json(meta).to_string();
        let codeowners_json = codeowners
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ClientError::Local(e.to_string()))?;
        for f in files {
            std::fs::metadata(f)
                .map_err(|e| ClientError::Local(format!("cannot read {}: {e}", f.display())))?;
        }
        let url = format!("{}/api/v1/uploads", self.url);
        let (status, body) = self.send(&|http| {
            let mut form = reqwest::blocking::multipart::Form::new().part(
                "meta",
                reqwest::blocking::multipart::Part::text(meta_json.clone())
                    .mime_str("application/json")
                    .map_err(|e| ClientError::Local(e.to_string()))?,
            );
            for f in files {
                let file = std::fs::File::open(f)
                    .map_err(|e| ClientError::Local(format!("cannot read {}: {e}", f.display())))?;
                let gz = flate2::read::GzEncoder::new(
                    std::io::BufReader::new(file),
                    flate2::Compression::fast(),
                );
                let name = f
                    .file_name()
                    .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
                form = form.part(
                    "report",
                    reqwest::blocking::multipart::Part::reader(gz)
                        .file_name(name)
                        .mime_str("application/gzip")
                        .map_err(|e| ClientError::Local(e.to_string()))?,
                );
            }
            if let Some(c) = &codeowners_json {
                form = form.part(
                    "codeowners",
                    reqwest::blocking::multipart::Part::text(c.clone())
                        .mime_str("application/json")
                        .map_err(|e| ClientError::Local(e.to_string()))?,
                );
            }
            Ok(http.post(&url).multipart(form))
        })?;
        Ok(Answer { status, body })
    }

    /// `GET` of an API path (e.g. `/api/v1/report`), as JSON.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        let url = format!("{}{path}", self.url);
        self.send(&|http| Ok(http.get(&url))).map(|(_, b)| b)
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

/// The `meta` part of an upload.
pub fn meta_json(m: &RunMeta) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    let mut put = |k: &str, v: Option<serde_json::Value>| {
        if let Some(v) = v {
            o.insert(k.to_string(), v);
        }
    };
    let s = |v: &Option<String>| v.clone().map(serde_json::Value::String);
    put("commit", s(&m.commit));
    put("branch", s(&m.branch));
    put("run_id", s(&m.run_id));
    put("attempt", m.run_attempt.map(|a| a.into()));
    put("job", s(&m.job));
    put("runner", s(&m.runner));
    put("os", s(&m.os));
    put("pull_request", s(&m.pull_request));
    put("started_at", s(&m.started_at));
    put("provider", s(&m.provider));
    put("url", s(&m.url));
    put(
        "duration",
        m.duration
            .and_then(|d| serde_json::Number::from_f64(d).map(Into::into)),
    );
    serde_json::Value::Object(o)
}

fn meta_from_json(v: &serde_json::Value) -> RunMeta {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    RunMeta {
        commit: s("commit"),
        branch: s("branch"),
        provider: s("provider"),
        job: s("job"),
        run_id: s("run_id"),
        run_attempt: v
            .get("attempt")
            .and_then(|x| x.as_u64())
            .and_then(|a| u32::try_from(a).ok()),
        runner: s("runner"),
        os: s("os"),
        started_at: s("started_at"),
        duration: v.get("duration").and_then(|x| x.as_f64()),
        url: s("url"),
        pull_request: s("pull_request"),
    }
}

/// Keeps an upload that could not be sent: a directory under `spool_dir` with the files and
/// their metadata, sent by a later [`spooled`] + [`Server::upload`]. Returns that directory.
pub fn spool(spool_dir: &Path, meta: &RunMeta, files: &[PathBuf]) -> std::io::Result<PathBuf> {
    spool_with(spool_dir, meta, files, None)
}

/// [`spool`] with the CODEOWNERS the upload carried (`codeowners.json`): sent later, it is
/// still ordered by its commit's time on the server.
pub fn spool_with(
    spool_dir: &Path,
    meta: &RunMeta,
    files: &[PathBuf],
    codeowners: Option<&Codeowners>,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(spool_dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = spool_dir.join(format!(".partial-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("files"))?;
    for (i, f) in files.iter().enumerate() {
        let name = f
            .file_name()
            .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
        // Numbered: two files of one upload may share a name.
        std::fs::copy(f, tmp.join("files").join(format!("{i:04}-{name}")))?;
    }
    std::fs::write(tmp.join("meta.json"), meta_json(meta).to_string())?;
    if let Some(c) = codeowners {
        std::fs::write(tmp.join("codeowners.json"), serde_json::to_vec(c)?)?;
    }
    // Complete or absent: a later `upload` never sends half a spooled upload.
    let done = spool_dir.join(format!("upload-{stamp}-{}", std::process::id()));
    std::fs::rename(&tmp, &done)?;
    Ok(done)
}

/// A spooled upload: its directory, metadata and files (original names restored for display).
pub struct Spooled {
    pub dir: PathBuf,
    pub meta: RunMeta,
    pub files: Vec<PathBuf>,
    pub codeowners: Option<Codeowners>,
}

/// The complete spooled uploads under `spool_dir`, oldest first.
pub fn spooled(spool_dir: &Path) -> std::io::Result<Vec<Spooled>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(spool_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("upload-"))
        })
        .collect();
    dirs.sort();
    for dir in dirs {
        let meta: serde_json::Value = std::fs::read(dir.join("meta.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("files"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        let codeowners = std::fs::read(dir.join("codeowners.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        out.push(Spooled {
            dir,
            meta: meta_from_json(&meta),
            files,
            codeowners,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spooled_uploads_come_back_whole_with_their_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.xml");
        std::fs::write(&a, "<testsuite/>").unwrap();
        let meta = RunMeta {
            commit: Some("abc".into()),
            run_attempt: Some(2),
            ..Default::default()
        };
        let spool_dir = dir.path().join("spool");
        let co = Codeowners {
            text: "* @acme/core\n".into(),
            path: ".github/CODEOWNERS".into(),
            commit: "abc".into(),
            commit_time: "2026-11-20T10:00:00+01:00".into(),
            default_branch: Some("main".into()),
        };
        spool_with(&spool_dir, &meta, &[a.clone(), a], Some(&co)).unwrap();
        // A partial one (a crash while spooling) is not listed.
        std::fs::create_dir_all(spool_dir.join(".partial-1-1/files")).unwrap();
        let got = spooled(&spool_dir).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].meta, meta);
        assert_eq!(got[0].files.len(), 2);
        assert_eq!(got[0].codeowners.as_ref(), Some(&co));
        assert_eq!(
            std::fs::read_to_string(&got[0].files[1]).unwrap(),
            "<testsuite/>"
        );
        assert!(spooled(&dir.path().join("none")).unwrap().is_empty());
    }

    #[test]
    fn an_unreachable_server_is_unavailable_not_refused() {
        // A port nothing listens on: connection refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut s = Server::new(&format!("http://127.0.0.1:{port}/"), "t");
        s.retries = 1;
        s.backoff = Duration::from_millis(10);
        let e = s.upload(&RunMeta::default(), &[]).unwrap_err();
        assert!(matches!(e, ClientError::Unavailable(_)), "{e}");
        assert!(e.to_string().contains("after 2 attempts"), "{e}");
    }
}
