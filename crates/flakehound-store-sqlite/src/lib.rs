//! The embedded SQLite backend of the evidence store: the default, a file in `.flakehound/`.
//!
//! [`SqliteStore`] implements [`flakehound_store::Store`]; [`BACKEND`] is what the binary installs
//! so that [`flakehound_store::open`] reaches it for a path or a `sqlite://` location.

mod admin;
mod alerts;
mod export;
mod jobs;
mod retention;
mod staging;
mod store;
mod writer;

pub use store::{BATCH_HOLD, SqliteStore};

use flakehound_store::{Backend, Location, OpenMode, Result, Store};

/// The SQLite backend, for [`flakehound_store::install`].
pub static BACKEND: SqliteBackend = SqliteBackend;

/// Opens [`Location::Sqlite`] paths.
pub struct SqliteBackend;

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn open(
        &self,
        location: &Location,
        project: &str,
        mode: OpenMode,
    ) -> Option<Result<Box<dyn Store>>> {
        let Location::Sqlite(path) = location else {
            return None;
        };
        let store = match mode {
            OpenMode::Create => SqliteStore::open(path),
            OpenMode::Existing => match SqliteStore::open(path) {
                Ok(s) => Ok(s),
                Err(e @ flakehound_store::StoreError::TooNew { .. }) => Err(e),
                // Read-only mounts, directories or files the user cannot write: read what is
                // there. The error of the writable open is the one reported when neither works.
                Err(e) => SqliteStore::open_read_only(path).map_err(|_| e),
            },
        };
        Some(
            store
                .and_then(|s| s.with_project(project))
                .map(|s| Box::new(s) as Box<dyn Store>),
        )
    }

    fn open_admin(&self, location: &Location) -> Option<Result<Box<dyn flakehound_store::Admin>>> {
        let Location::Sqlite(path) = location else {
            return None;
        };
        Some(SqliteStore::open(path).map(|s| Box::new(s) as Box<dyn flakehound_store::Admin>))
    }

    fn open_alerts(
        &self,
        location: &Location,
    ) -> Option<Result<Box<dyn flakehound_store::AlertStore>>> {
        let Location::Sqlite(path) = location else {
            return None;
        };
        Some(SqliteStore::open(path).map(|s| Box::new(s) as Box<dyn flakehound_store::AlertStore>))
    }

    fn try_lead(
        &self,
        location: &Location,
        job: &str,
    ) -> Option<Result<Option<Box<dyn flakehound_store::Lease>>>> {
        let Location::Sqlite(path) = location else {
            return None;
        };
        Some(
            retention::try_lead(path, job)
                .map(|l| l.map(|l| Box::new(l) as Box<dyn flakehound_store::Lease>)),
        )
    }
}
