//! Where a store lives, and how a program reaches the engine for it.
//!
//! This crate knows no engine. Each backend crate exposes a [`Backend`] that the program
//! [`install`]s at startup (the binary installs SQLite and PostgreSQL); [`open`] then asks each
//! installed backend in turn. The same shape as `sqlx::any`'s installed drivers: library crates
//! that only read evidence compile no database client, and a program that links one engine only
//! is still correct (a location for a missing engine is a clear error, not a link failure).

use crate::{Result, Store, StoreError};
use std::fmt;
use std::path::PathBuf;
use std::sync::RwLock;

/// A store location as the user wrote it (`--db`, `FLAKEHOUND_DB`, `--database`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An embedded SQLite file: a path, or `sqlite://PATH` (`sqlite:///abs/path` for an
    /// absolute one).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://…` or `postgresql://…`), passed to the client
    /// as written.
    Postgres(String),
}

impl Location {
    /// Reads a location: the URL schemes `postgres://`, `postgresql://` and `sqlite://`, else a
    /// file path. Never fails: anything that is not a known URL is a path, and opening it says
    /// what is wrong with it.
    pub fn parse(s: &str) -> Location {
        let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else if lower.starts_with("sqlite://") {
            Location::Sqlite(PathBuf::from(&s["sqlite://".len()..]))
        } else {
            Location::Sqlite(PathBuf::from(s))
        }
    }

    /// The SQLite file, when this is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    /// The engine's name, for messages.
    pub fn engine(&self) -> &'static str {
        match self {
            Location::Sqlite(_) => "sqlite",
            Location::Postgres(_) => "postgres",
        }
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Location {
        match p.to_str() {
            Some(s) => Location::parse(s),
            None => Location::Sqlite(p),
        }
    }
}

impl From<&std::path::Path> for Location {
    fn from(p: &std::path::Path) -> Location {
        Location::from(p.to_path_buf())
    }
}

/// Shows the location for messages and logs: a PostgreSQL password is replaced by `***`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`. Key-value parameters
/// (`?password=…`) are redacted too.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let mut out = url[..scheme_end].to_string();
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    match tail.find('?') {
        Some(q) => {
            out.push_str(&tail[..=q]);
            let params: Vec<String> = tail[q + 1..]
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

/// How a command means to use the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the store (and run migrations) when it does not exist: commands that write.
    Create,
    /// Open what exists, read-only when it cannot be written (a read-only mount); commands that
    /// only read.
    Existing,
}

/// One engine. `open` answers `None` for a location it does not handle.
pub trait Backend: Sync {
    fn name(&self) -> &'static str;
    /// Opens the store at `location`, scoped to `project` (see [`crate::Store::project`]).
    fn open(
        &self,
        location: &Location,
        project: &str,
        mode: OpenMode,
    ) -> Option<Result<Box<dyn Store>>>;
    /// Opens the server's records ([`crate::Admin`]) in the store at `location`, creating it
    /// (and running migrations) when needed; `None` for a location this engine does not handle.
    fn open_admin(&self, location: &Location) -> Option<Result<Box<dyn crate::Admin>>> {
        let _ = location;
        None
    }
    /// Opens alerting's records ([`crate::AlertStore`]) in the store at `location`, creating it
    /// when needed; `None` for a location this engine does not handle.
    fn open_alerts(&self, location: &Location) -> Option<Result<Box<dyn crate::AlertStore>>> {
        let _ = location;
        None
    }
    /// Tries to become the one process running `job` among every process on `location` (see
    /// [`try_lead`]); `None` for a location this engine does not handle.
    fn try_lead(&self, location: &Location, job: &str) -> Option<Result<Option<Box<dyn Lease>>>> {
        let _ = (location, job);
        None
    }
}

/// Leadership of a background job across the processes sharing a store (server replicas):
/// held until dropped, or until the process (or its database connection) dies.
pub trait Lease: Send {
    /// Whether the lease is still held (PostgreSQL: its session is alive).
    fn held(&mut self) -> bool;
}

/// Tries to become the leader of `job` on `location`: `Some` when this process now holds it,
/// `None` when another process does. PostgreSQL: a session-level advisory lock (try-lock) on a
/// connection of its own, released when the lease is dropped or the connection dies. SQLite: an
/// exclusive lock on a file beside the database.
pub fn try_lead(location: &Location, job: &str) -> Result<Option<Box<dyn Lease>>> {
    let all = BACKENDS.read().unwrap_or_else(|e| e.into_inner());
    for b in all.iter() {
        if let Some(r) = b.try_lead(location, job) {
            return r;
        }
    }
    Err(StoreError::Open {
        path: location.to_string(),
        reason: format!(
            "this program has no {} backend installed",
            location.engine()
        ),
    })
}

static BACKENDS: RwLock<Vec<&'static dyn Backend>> = RwLock::new(Vec::new());

/// Makes `backend` available to [`open`]. Installing the same backend (by name) twice is a
/// no-op, so every entry point (the binary, a test) may install what it needs.
pub fn install(backend: &'static dyn Backend) {
    let mut all = BACKENDS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|b| b.name() == backend.name()) {
        all.push(backend);
    }
}

fn open_with(location: &Location, project: &str, mode: OpenMode) -> Result<Box<dyn Store>> {
    let project = crate::valid_project(project)?;
    let all = BACKENDS.read().unwrap_or_else(|e| e.into_inner());
    for b in all.iter() {
        if let Some(r) = b.open(location, project, mode) {
            return r;
        }
    }
    Err(StoreError::Open {
        path: location.to_string(),
        reason: format!(
            "this program has no {} backend installed (installed: {})",
            location.engine(),
            if all.is_empty() {
                "none".to_string()
            } else {
                all.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
            }
        ),
    })
}

/// Opens (creating if needed) the store at `location`, scoped to `project`.
pub fn open(location: &Location, project: &str) -> Result<Box<dyn Store>> {
    open_with(location, project, OpenMode::Create)
}

/// Opens the server's records ([`crate::Admin`]) in the store at `location` (created when
/// missing).
pub fn open_admin(location: &Location) -> Result<Box<dyn crate::Admin>> {
    let all = BACKENDS.read().unwrap_or_else(|e| e.into_inner());
    for b in all.iter() {
        if let Some(r) = b.open_admin(location) {
            return r;
        }
    }
    Err(StoreError::Open {
        path: location.to_string(),
        reason: format!(
            "this program has no {} backend installed",
            location.engine()
        ),
    })
}

/// Opens alerting's records ([`crate::AlertStore`]) in the store at `location` (created when
/// missing).
pub fn open_alerts(location: &Location) -> Result<Box<dyn crate::AlertStore>> {
    let all = BACKENDS.read().unwrap_or_else(|e| e.into_inner());
    for b in all.iter() {
        if let Some(r) = b.open_alerts(location) {
            return r;
        }
    }
    Err(StoreError::Open {
        path: location.to_string(),
        reason: format!(
            "this program has no {} backend installed",
            location.engine()
        ),
    })
}

/// Opens an existing store for commands that only read it: writable when it can be (so pending
/// migrations run), else read-only.
pub fn open_existing(location: &Location, project: &str) -> Result<Box<dyn Store>> {
    open_with(location, project, OpenMode::Existing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_dispatch_on_scheme() {
        assert_eq!(
            Location::parse("postgres://u@h/db"),
            Location::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Location::parse("PostgreSQL://h/db"),
            Location::Postgres("PostgreSQL://h/db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db"),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Location::parse("sqlite://rel/x.db"),
            Location::Sqlite("rel/x.db".into())
        );
        assert_eq!(Location::parse("x.db"), Location::Sqlite("x.db".into()));
        assert_eq!(
            Location::parse("postgres.db"),
            Location::Sqlite("postgres.db".into())
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        let l = Location::parse("postgres://fh:s3cret@db.example:5432/flaky?sslmode=require");
        assert_eq!(
            l.to_string(),
            "postgres://fh:***@db.example:5432/flaky?sslmode=require"
        );
        let l = Location::parse("postgresql://db/flaky?user=fh&password=s3cret");
        assert_eq!(l.to_string(), "postgresql://db/flaky?user=fh&password=***");
        assert!(
            !Location::parse("postgres://a:b@c@d/e")
                .to_string()
                .contains(":b")
        );
    }

    #[test]
    fn a_location_without_its_backend_is_a_clear_error() {
        let e = open(&Location::Postgres("postgres://nowhere/x".into()), "p")
            .err()
            .expect("no backend installed in this test binary");
        let msg = e.to_string();
        assert!(msg.contains("no postgres backend installed"), "{msg}");
    }
}
