//! The dashboard: server-rendered HTML pages (minijinja templates compiled into the binary) with
//! SVG charts drawn in Rust, one CSS file and a small script that only enhances (every sort and
//! filter is a plain link or form). No CDN and no Node.js: everything is in the binary.
//!
//! [`router`] serves the pages over a [`Backend`]: `flakehound dashboard` uses [`LocalBackend`]
//! (a local store, no sign-in); `flakehound serve` mounts the same router with its own backend,
//! where a browser signs in with a read or admin token.
//!
//! # Analysis cache
//! The pages are drawn from a [`model::Snapshot`] per project: the failing evidence, the same
//! analysis `report`/`explain`/`incidents`/`clusters` print, and every test's aggregates. It is
//! built once per store *generation* ([`Backend::generation`]) and kept; when the generation
//! moves on (an upload) or the snapshot is older than [`Backend::max_age`], the next request
//! starts a rebuild in the background and is served the previous snapshot meanwhile (the page
//! says it is updating). Only the very first request of a project waits for the build.
//!
//! # Sessions (server)
//! The sign-in page takes a token; it is checked exactly as the API checks a bearer token
//! ([`Backend::sign_in`]). The browser gets a random 256-bit session id in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` when the request came over HTTPS through a proxy that
//! says so); the server keeps id → token in memory and checks the token again on every page,
//! so a revoked or expired token ends its sessions at the next click. The backend keeps the
//! session too ([`Backend::keep_session`]: the server stores the SHA-256 of the id and of the
//! token), so a session outlives a restart and works on every replica of one database
//! ([`Backend::resume_session`] checks the token by its hash). Sessions end after 12 hours
//! without a request and on sign-out. Forms that change something (sign
//! out, quarantine, release) carry a per-session CSRF token, compared in constant time, on top
//! of the `SameSite=Strict` cookie.

pub mod model;
mod pages;
pub mod svg;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use flakehound_store::{Location, QuarantineRecord, Store};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Who is looking: the project they may read and whether they may change the quarantine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub project: String,
    pub admin: bool,
    /// How changes are logged (the token's label).
    pub actor: String,
}

/// A future answered by a [`Backend`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the dashboard's data comes from. Blocking methods are called on blocking threads.
pub trait Backend: Send + Sync + 'static {
    /// Opens the evidence of `project` (blocking).
    fn open(&self, project: &str) -> anyhow::Result<Box<dyn Store>>;
    /// A number that changes whenever `project`'s evidence may have changed.
    fn generation(&self, project: &str) -> u64;
    /// Longest a snapshot is used without a rebuild (for writers the generation cannot see).
    fn max_age(&self) -> Duration {
        Duration::from_secs(3600 * 24 * 365)
    }
    /// Owners of a test (blocking; called for the report's tests when a snapshot is built).
    fn owners(&self, id: &str, file: Option<&str>) -> Vec<String> {
        let _ = (id, file);
        Vec::new()
    }
    /// A CODEOWNERS kept for `project` (blocking; the server's, set by an admin): when there is
    /// one, owners come from it instead of [`Backend::owners`].
    fn codeowners(&self, project: &str) -> Option<flakehound_owners::CodeOwners> {
        let _ = project;
        None
    }
    /// The project's quarantine (blocking).
    fn quarantine(&self, project: &str) -> anyhow::Result<Vec<QuarantineRecord>>;
    /// Adds or replaces a quarantine entry (blocking; only asked for admins).
    fn put_quarantine(
        &self,
        project: &str,
        entry: &QuarantineRecord,
        actor: &str,
    ) -> anyhow::Result<()> {
        let _ = (project, entry, actor);
        anyhow::bail!("the quarantine cannot be changed here")
    }
    /// Removes a quarantine entry (blocking; only asked for admins); `false` when absent.
    fn remove_quarantine(&self, project: &str, test: &str, actor: &str) -> anyhow::Result<bool> {
        let _ = (project, test, actor);
        anyhow::bail!("the quarantine cannot be changed here")
    }
    /// Checks a token typed on the sign-in page (or kept by a session): who it is, or why not.
    fn sign_in<'a>(&'a self, secret: &'a str) -> BoxFuture<'a, Result<Identity, String>> {
        let _ = secret;
        Box::pin(async { Err("this dashboard has no sign-in".to_string()) })
    }
    /// Keeps a new session where it outlives this process and is seen by other replicas
    /// (blocking; the server's store). The default keeps sessions in this process only.
    fn keep_session(&self, id: &str, secret: &str, csrf: &str) -> anyhow::Result<()> {
        let _ = (id, secret, csrf);
        Ok(())
    }
    /// A kept session this process does not hold (after a restart, or opened through another
    /// replica): who it is and its CSRF token, or why it ended (idle too long, signed out, its
    /// token revoked or expired).
    fn resume_session<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(Identity, String), String>> {
        let _ = id;
        Box::pin(async { Err("the session ended".to_string()) })
    }
    /// Ends a kept session (blocking).
    fn forget_session(&self, id: &str) {
        let _ = id;
    }
}

/// Who may look.
#[derive(Clone, Debug)]
pub enum Access {
    /// Everyone who reaches the address, read-only, on one project (`flakehound dashboard`,
    /// listening on the loopback interface).
    Open { project: String },
    /// A session from the sign-in page ([`Backend::sign_in`]).
    SignIn,
}

/// The local store of `flakehound dashboard`: no sign-in, owners from CODEOWNERS (or git blame)
/// of the repository, the quarantine from `.flakehound/quarantine.toml`.
pub struct LocalBackend {
    pub location: Location,
    /// The repository root (owners).
    pub root: PathBuf,
    /// The quarantine file.
    pub quarantine_file: PathBuf,
    owners: flakehound_owners::Owners,
}

impl LocalBackend {
    pub fn new(location: Location, root: PathBuf, quarantine_file: PathBuf) -> LocalBackend {
        LocalBackend {
            owners: flakehound_owners::Owners::load(&root),
            location,
            root,
            quarantine_file,
        }
    }
}

/// Size and modification time of a file, folded into a number (0 when absent).
fn file_stamp(path: &std::path::Path) -> u64 {
    std::fs::metadata(path)
        .ok()
        .map(|m| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ m.len().rotate_left(32)
        })
        .unwrap_or(0)
}

impl Backend for LocalBackend {
    fn open(&self, project: &str) -> anyhow::Result<Box<dyn Store>> {
        Ok(flakehound_store::open_existing(&self.location, project)?)
    }

    /// A SQLite store changes its file or its write-ahead log on every write; a PostgreSQL one
    /// is re-read after [`Backend::max_age`].
    fn generation(&self, _project: &str) -> u64 {
        match self.location.path() {
            Some(p) => {
                let mut wal = p.as_os_str().to_owned();
                wal.push("-wal");
                let wal = std::path::Path::new(&wal);
                // An empty write-ahead log holds nothing: SQLite truncates it again (a new
                // modification time) when a reader's connection closes, which must not count
                // as new evidence (the dashboard's own analysis would start the next one).
                let wal_stamp = match std::fs::metadata(wal) {
                    Ok(m) if m.len() > 0 => file_stamp(wal),
                    _ => 0,
                };
                file_stamp(p) ^ wal_stamp.rotate_left(7)
            }
            None => 0,
        }
    }

    fn max_age(&self) -> Duration {
        if self.location.path().is_some() {
            Duration::from_secs(3600 * 24 * 365)
        } else {
            Duration::from_secs(30)
        }
    }

    fn owners(&self, id: &str, file: Option<&str>) -> Vec<String> {
        self.owners.of(id, file)
    }

    fn quarantine(&self, _project: &str) -> anyhow::Result<Vec<QuarantineRecord>> {
        if !self.quarantine_file.exists() {
            return Ok(Vec::new());
        }
        let file = flakehound_quarantine::QuarantineFile::load(&self.quarantine_file)?;
        Ok(file
            .entries()
            .iter()
            .map(|e| QuarantineRecord {
                test: e.id.clone(),
                reason: e.reason.clone(),
                owner: e.owner.clone(),
                added: e.added.to_string(),
                expires: e.expires.to_string(),
                issue: e.issue.clone(),
            })
            .collect())
    }
}

/// A snapshot in the cache.
struct Cached {
    generation: u64,
    at: Instant,
    snapshot: Arc<model::Snapshot>,
}

struct Session {
    secret: String,
    csrf: String,
    last: Instant,
}

/// On a large store, every test's aggregates are read again at most this often (see
/// [`model::Snapshot::adopt`]).
const RECOUNT: Duration = Duration::from_secs(600);

/// Sessions end after this long without a request.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// The session cookie's name.
pub const COOKIE: &str = "flakehound_session";

pub(crate) struct Dashboard {
    backend: Arc<dyn Backend>,
    access: Access,
    cache: Mutex<HashMap<String, Cached>>,
    /// Projects whose snapshot is being built.
    building: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    sessions: Mutex<HashMap<String, Session>>,
    templates: minijinja::Environment<'static>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// 32 random bytes, hex.
fn random_id() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Who is looking at a page, resolved per request.
#[derive(Clone, Debug)]
pub(crate) struct Viewer {
    pub project: String,
    pub admin: bool,
    pub actor: String,
    /// The session's CSRF token (sign-in mode).
    pub csrf: Option<String>,
}

/// A page, or what stands instead: a redirect to sign in, an error page.
pub(crate) type PageResult = Result<Response, Response>;

impl Dashboard {
    fn cookie_of(headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_string())
    }

    /// The viewer, or (sign-in mode, no valid session) a redirect to the sign-in page for GET
    /// pages and 401 for forms.
    pub(crate) async fn viewer(&self, headers: &HeaderMap, back: &str, get: bool) -> ViewerResult {
        match &self.access {
            Access::Open { project } => Ok(Viewer {
                project: project.clone(),
                admin: false,
                actor: "local".into(),
                csrf: None,
            }),
            Access::SignIn => {
                let refuse = |why: &str| -> Response {
                    if get {
                        let to = format!(
                            "/signin?next={}",
                            percent_encoding::utf8_percent_encode(back, pages::QUERY)
                        );
                        Redirect::to(&to).into_response()
                    } else {
                        (StatusCode::UNAUTHORIZED, format!("sign in first ({why})\n"))
                            .into_response()
                    }
                };
                let Some(id) = Self::cookie_of(headers) else {
                    return Err(refuse("no session"));
                };
                let found = {
                    let mut sessions = lock(&self.sessions);
                    sessions.retain(|_, s| s.last.elapsed() < SESSION_IDLE);
                    sessions.get_mut(&id).map(|s| {
                        s.last = Instant::now();
                        (s.secret.clone(), s.csrf.clone())
                    })
                };
                let Some((secret, csrf)) = found else {
                    // Not in this process: a session kept by the backend (a restart, another
                    // replica), checked again there.
                    return match self.backend.resume_session(&id).await {
                        Ok((who, csrf)) => Ok(Viewer {
                            project: who.project,
                            admin: who.admin,
                            actor: who.actor,
                            csrf: Some(csrf),
                        }),
                        Err(why) => Err(refuse(&why)),
                    };
                };
                match self.backend.sign_in(&secret).await {
                    Ok(who) => Ok(Viewer {
                        project: who.project,
                        admin: who.admin,
                        actor: who.actor,
                        csrf: Some(csrf),
                    }),
                    Err(why) => {
                        lock(&self.sessions).remove(&id);
                        self.forget_in_background(&id);
                        Err(refuse(&why))
                    }
                }
            }
        }
    }

    /// Starts a session for a token (sign-in page): the cookie's value.
    pub(crate) async fn start_session(&self, secret: &str) -> Result<String, String> {
        self.backend.sign_in(secret).await?;
        let id = random_id();
        let csrf = random_id();
        // Kept by the backend too (it survives a restart); a backend that cannot keep it
        // leaves the session to this process.
        let backend = self.backend.clone();
        let (i, s, c) = (id.clone(), secret.to_string(), csrf.clone());
        match tokio::task::spawn_blocking(move || backend.keep_session(&i, &s, &c)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "dashboard: session kept in memory only"),
            Err(e) => tracing::warn!(error = %e, "dashboard: session kept in memory only"),
        }
        lock(&self.sessions).insert(
            id.clone(),
            Session {
                secret: secret.to_string(),
                csrf,
                last: Instant::now(),
            },
        );
        Ok(id)
    }

    pub(crate) fn end_session(&self, headers: &HeaderMap) {
        if let Some(id) = Self::cookie_of(headers) {
            lock(&self.sessions).remove(&id);
            self.forget_in_background(&id);
        }
    }

    fn forget_in_background(&self, id: &str) {
        let backend = self.backend.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || backend.forget_session(&id));
    }

    /// The project's snapshot (see the module documentation on the cache), and whether a
    /// newer one is being built.
    pub(crate) async fn snapshot(
        self: &Arc<Self>,
        project: &str,
    ) -> Result<(Arc<model::Snapshot>, bool), String> {
        let backend = self.backend.clone();
        let p = project.to_string();
        let generation = tokio::task::spawn_blocking(move || backend.generation(&p))
            .await
            .map_err(|e| e.to_string())?;
        let cached = lock(&self.cache).get(project).map(|c| {
            (
                c.snapshot.clone(),
                c.generation == generation && c.at.elapsed() < self.backend.max_age(),
            )
        });
        match cached {
            Some((snapshot, true)) => Ok((snapshot, false)),
            Some((snapshot, false)) => {
                // Stale: rebuild in the background, serve this one meanwhile.
                let me = self.clone();
                let p = project.to_string();
                tokio::spawn(async move {
                    if let Err(e) = me.rebuild(&p, generation).await {
                        tracing::warn!(project = %p, error = %e, "dashboard: rebuilding the analysis failed");
                    }
                });
                Ok((snapshot, true))
            }
            None => Ok((self.rebuild(project, generation).await?, false)),
        }
    }

    /// Builds the project's snapshot unless another request is building it (then waits for
    /// that one).
    async fn rebuild(
        self: &Arc<Self>,
        project: &str,
        generation: u64,
    ) -> Result<Arc<model::Snapshot>, String> {
        let gate = lock(&self.building)
            .entry(project.to_string())
            .or_default()
            .clone();
        let _turn = gate.lock().await;
        if let Some(c) = lock(&self.cache).get(project) {
            if c.generation == generation && c.at.elapsed() < self.backend.max_age() {
                return Ok(c.snapshot.clone());
            }
        }
        let mut snapshot = self
            .build(project, model::AllTests::IfAtMost(model::LARGE))
            .await?;
        if !snapshot.complete {
            // The other tests' aggregates of the previous analysis, unless they are old.
            let earlier = lock(&self.cache).get(project).map(|c| c.snapshot.clone());
            if let Some(earlier) = earlier.filter(|e| e.counted_at.elapsed() < RECOUNT) {
                snapshot.adopt(&earlier);
            }
        }
        let snapshot = self.keep(project, generation, snapshot);
        if !snapshot.complete || snapshot.days_pending {
            // A large store: the tests that never failed are counted in the background (the
            // pages say so meanwhile), and the trend's days not analysed yet are.
            let me = self.clone();
            let p = project.to_string();
            tokio::spawn(async move {
                match me.build(&p, model::AllTests::Always).await {
                    Ok(full) => {
                        let current = lock(&me.cache).get(&p).map(|c| c.generation);
                        if current == Some(generation) {
                            me.keep(&p, generation, full);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(project = %p, error = %e, "dashboard: counting every test failed")
                    }
                }
            });
        }
        Ok(snapshot)
    }

    async fn build(&self, project: &str, all: model::AllTests) -> Result<model::Snapshot, String> {
        let backend = self.backend.clone();
        let p = project.to_string();
        // The previous snapshot's verdicts per day: only the days whose evidence changed are
        // analysed again.
        let earlier = lock(&self.cache)
            .get(project)
            .map(|c| c.snapshot.day_verdicts.clone())
            .unwrap_or_default();
        let snapshot = tokio::task::spawn_blocking(move || -> anyhow::Result<model::Snapshot> {
            let quarantine = backend.quarantine(&p).unwrap_or_default();
            let mut store = backend.open(&p)?;
            let codeowners = backend.codeowners(&p);
            let owners = |id: &str, file: Option<&str>| match &codeowners {
                Some(c) => flakehound_owners::test_file(id, file)
                    .and_then(|f| c.owners_of(&f).map(<[String]>::to_vec))
                    .unwrap_or_default(),
                None => backend.owners(id, file),
            };
            model::build_with(store.as_mut(), &owners, &quarantine, all, &earlier)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{e:#}"))?;
        tracing::info!(
            project,
            ms = snapshot.built_ms,
            complete = snapshot.complete,
            "dashboard: analysis built"
        );
        Ok(snapshot)
    }

    fn keep(
        &self,
        project: &str,
        generation: u64,
        snapshot: model::Snapshot,
    ) -> Arc<model::Snapshot> {
        let snapshot = Arc::new(snapshot);
        lock(&self.cache).insert(
            project.to_string(),
            Cached {
                generation,
                at: Instant::now(),
                snapshot: snapshot.clone(),
            },
        );
        snapshot
    }

    pub(crate) fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    pub(crate) fn signs_in(&self) -> bool {
        matches!(self.access, Access::SignIn)
    }

    pub(crate) fn csrf_ok(viewer: &Viewer, given: &str) -> bool {
        viewer.csrf.as_deref().is_some_and(|c| same(c, given))
    }
}

pub(crate) type ViewerResult = Result<Viewer, Response>;

/// The dashboard's routes (`/`, `/tests`, `/test`, `/incident`, `/cluster`, `/run`,
/// `/assets/…`, and with [`Access::SignIn`] `/signin`, `/signout` and the quarantine forms).
pub fn router(backend: Arc<dyn Backend>, access: Access) -> Router {
    let warm = match &access {
        Access::Open { project } => Some(project.clone()),
        Access::SignIn => None,
    };
    let state = Arc::new(Dashboard {
        backend,
        access,
        cache: Mutex::default(),
        building: Mutex::default(),
        sessions: Mutex::default(),
        templates: pages::templates(),
    });
    // One project: build its analysis now, not on the first request.
    if let (Some(project), Ok(rt)) = (warm, tokio::runtime::Handle::try_current()) {
        let me = state.clone();
        rt.spawn(async move {
            if let Err(e) = me.snapshot(&project).await {
                tracing::warn!(%project, error = %e, "dashboard: building the analysis failed");
            }
        });
    }
    Router::new()
        .route("/", get(pages::overview))
        .route("/tests", get(pages::tests))
        .route("/test", get(pages::test))
        .route("/incident", get(pages::incident))
        .route("/cluster", get(pages::cluster))
        .route("/run", get(pages::run))
        .route("/assets/{file}", get(pages::asset))
        .route("/signin", get(pages::signin_page).post(pages::signin))
        .route("/signout", post(pages::signout))
        .route("/actions/quarantine", post(pages::quarantine))
        .route("/actions/release", post(pages::release))
        .with_state(state)
}

/// Serves the dashboard of one project of a local store on `listen` until Ctrl-C or SIGTERM,
/// on a runtime of its own: what `flakehound dashboard` calls. `ready` gets the bound address.
pub fn serve_local(
    listen: &str,
    backend: LocalBackend,
    project: &str,
    ready: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let app = router(
            Arc::new(backend),
            Access::Open {
                project: project.to_string(),
            },
        );
        ready(addr);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        anyhow::Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
