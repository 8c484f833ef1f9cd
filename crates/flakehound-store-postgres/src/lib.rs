//! The PostgreSQL backend of the evidence store: one database for a team, its CI and the
//! server, holding many projects.
//!
//! [`PostgresStore`] implements [`flakehound_store::Store`] with the same meaning as the SQLite
//! engine (both run `flakehound_store::conformance`); [`BACKEND`] is what a program installs so
//! that [`flakehound_store::open`] reaches it for `postgres://` and `postgresql://` locations.
//!
//! # Client
//! The synchronous [`postgres`] crate: a blocking wrapper over `tokio-postgres` by the same
//! maintainers, with binary `COPY` (how results are written). The [`flakehound_store::Store`]
//! trait is synchronous and shared with SQLite; an async client (`sqlx`, `tokio-postgres` itself)
//! would bring a runtime and async signatures to every caller for no gain in a batch job, and
//! `sqlx`'s compile-time-checked macros need a database (or checked-in query data) at build time.
//!
//! **Callers inside a tokio runtime** (the server) must call this engine from
//! `tokio::task::spawn_blocking`: the blocking client drives its own runtime and panics when
//! used from within another one's worker thread.
//!
//! # Locations
//! A libpq-style URL: `postgres://user:password@host:port/database?params`. The connect timeout
//! is 10 s unless the URL sets `connect_timeout`. To keep the store in a schema of its own (one
//! database, several stores; how the tests isolate themselves), set the search path:
//! `postgres://host/db?options=-csearch_path%3Dflakehound`. The first schema of the search path
//! is created when it does not exist (when the store is opened for writing).
//!
//! # Writing
//! Reports are batched as SQLite's are: the reports committed since the last
//! [`flakehound_store::Store::flush`] share one transaction, which holds the project's write lock
//! (an advisory lock; [`flakehound_store::Store::flush_due`] asks for a flush after
//! [`BATCH_HOLD`]). A report is sent only at its commit: its run (locked `FOR UPDATE`) and
//! report row in one prepared statement (one round trip, planned once per connection), the report row inserted with `ON CONFLICT DO NOTHING` so that
//! content stored already makes the commit a duplicate (see
//! [`flakehound_store::Written::duplicate`]); its results are encoded for one binary `COPY` per
//! batch. A failure rolls back the batch ([`flakehound_store::StoreError::BatchLost`] when it held
//! earlier reports). `flush` commits the batch and waits for it to be durable; other commits are
//! asynchronous (`synchronous_commit = off`). Reports larger than 16 MiB of records are streamed
//! instead, in a transaction of their own held open while they are parsed.

mod admin;
mod alerts;
mod conn;
mod export;
mod jobs;
mod retention;
mod store;
mod writer;

pub use store::{BATCH_HOLD, PostgresStore};

use flakehound_store::{Backend, Location, OpenMode, Result, Store};

/// The PostgreSQL backend, for [`flakehound_store::install`].
pub static BACKEND: PostgresBackend = PostgresBackend;

/// Opens [`Location::Postgres`] URLs.
pub struct PostgresBackend;

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn open(
        &self,
        location: &Location,
        project: &str,
        mode: OpenMode,
    ) -> Option<Result<Box<dyn Store>>> {
        let Location::Postgres(url) = location else {
            return None;
        };
        Some(PostgresStore::open(url, project, mode).map(|s| Box::new(s) as Box<dyn Store>))
    }

    fn open_admin(&self, location: &Location) -> Option<Result<Box<dyn flakehound_store::Admin>>> {
        let Location::Postgres(url) = location else {
            return None;
        };
        Some(
            PostgresStore::open(url, flakehound_store::DEFAULT_PROJECT, OpenMode::Create)
                .map(|s| Box::new(s) as Box<dyn flakehound_store::Admin>),
        )
    }

    fn open_alerts(
        &self,
        location: &Location,
    ) -> Option<Result<Box<dyn flakehound_store::AlertStore>>> {
        let Location::Postgres(url) = location else {
            return None;
        };
        Some(
            PostgresStore::open(url, flakehound_store::DEFAULT_PROJECT, OpenMode::Create)
                .map(|s| Box::new(s) as Box<dyn flakehound_store::AlertStore>),
        )
    }

    fn try_lead(
        &self,
        location: &Location,
        job: &str,
    ) -> Option<Result<Option<Box<dyn flakehound_store::Lease>>>> {
        let Location::Postgres(url) = location else {
            return None;
        };
        Some(
            retention::try_lead(url, job)
                .map(|l| l.map(|l| Box::new(l) as Box<dyn flakehound_store::Lease>)),
        )
    }
}
