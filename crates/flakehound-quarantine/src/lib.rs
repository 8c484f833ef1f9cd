//! Quarantine: the reviewable list of tests whose failures must not fail the build.
//!
//! This crate is the library core behind `flakehound quarantine add|remove|list|sync|export`. It
//! does no I/O beyond reading and writing the two files below and never touches the store, so it
//! works offline ("fails open": the file in the repository is enough).
//!
//! # `.flakehound/quarantine.toml` ([`QuarantineFile`])
//!
//! One `[[test]]` table per test, kept sorted by `id` so that PR diffs are one hunk per test:
//!
//! ```toml
//! # Tests whose failures do not fail the build. Reviewed in PRs.
//! version = 1
//!
//! [[test]]
//! id = "tests/test_x.py::TestY::test_z[p]"
//! reason = "races the cache warm-up"
//! owner = "@shop/payments"
//! added = 2026-11-01
//! expires = 2026-12-01
//! issue = "https://github.com/acme/shop/issues/42"   # optional
//! ```
//!
//! Choices:
//! - `[[test]]` tables rather than `["test id"]` tables: ids contain `::`, `[`, `/`, `›` and
//!   quotes, which would all need key quoting; as an `id` value they read as-is and the keys of an
//!   entry line up.
//! - Dates are native TOML local dates (`2026-12-01`); a quoted `"2026-12-01"` is accepted too.
//! - Loading validates everything (required keys, types, dates, `expires >= added`, duplicate ids)
//!   and reports the 1-based line and column of the offending item. A missing file is an empty
//!   quarantine ([`QuarantineFile::load`]).
//! - Saving edits the parsed document in place with `toml_edit`: comments, blank lines, unknown
//!   top-level keys and unknown keys inside an entry survive `add`, replace and `remove`. New
//!   entries are inserted at their sorted position (the file is not re-sorted as a whole, so a
//!   hand-ordered file keeps its order).
//! - **Expiry.** An entry protects through its `expires` date inclusive and is *past expiry* from
//!   the next day on. A past-expiry entry **still protects** (a forgotten date must not suddenly
//!   turn builds red), but every run reports it ([`QuarantineFile::summary`],
//!   [`QuarantineFile::expired`]) and `sync` lists it in [`SyncPlan::expired`].
//!   [`QuarantineFile::status`] distinguishes [`Status::Active`] from [`Status::Expired`].
//!
//! # `.flakehound/config.toml` ([`Policy`])
//!
//! Only the `[quarantine]` table is read (other tables belong to other commands); unknown keys in
//! it are errors so typos do not silently disable a policy. See [`Policy`] for keys and defaults.
//! [`plan_sync`] is the pure decision function behind `quarantine sync`.
//!
//! # Export ([`export`])
//!
//! Runner-native skipping for teams that prefer it to "run but ignore"; see [`Runner`] for the
//! exact shape and limits of each format.

mod export;
mod file;
mod policy;

pub use export::{Runner, export, foreign};
pub use file::{Entry, Error, MAX_FILE_BYTES, QuarantineFile, Status, Summary, read_small_file};
pub use policy::{Observation, Policy, Release, SyncPlan, plan_sync};

/// Path of the quarantine file, relative to the repository root.
pub const QUARANTINE_FILE: &str = ".flakehound/quarantine.toml";
/// Path of the configuration file, relative to the repository root.
pub const CONFIG_FILE: &str = ".flakehound/config.toml";
