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
//! Each report is one transaction: its run row is locked (`FOR UPDATE`) so that reports of one
//! run written concurrently number their results one after the other, the report row is
//! inserted with `ON CONFLICT DO NOTHING` so that a concurrent writer of the same content makes
//! this one a duplicate (see [`flakehound_store::Written::duplicate`]), and results go in with one
//! binary `COPY`. Commits are asynchronous (`synchronous_commit = off`): a server crash may lose
//! the last reports committed before [`flakehound_store::Store::flush`] (never half of one),
//! which is the promise the trait makes and what SQLite's batches do; `flush` waits for them to
//! be durable. A transaction the server aborts for a deadlock or a serialization failure is
//! retried, since the report is still in memory. Reports larger than 16 MiB of records are
//! streamed instead, in a transaction held open while they are parsed.

mod export;
mod store;
mod writer;

pub use store::PostgresStore;

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
}
