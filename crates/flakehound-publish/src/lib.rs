//! CI outputs of a wrapped run (`flakehound run`): turns a [`WrappedRun`] into
//! - one merged JUnit XML report, surefire dialect ([`write_merged`]),
//! - the Markdown job summary for `$GITHUB_STEP_SUMMARY` ([`step_summary`]),
//! - GitHub Actions annotations ([`github_annotations`], [`locate`]),
//! - the terminal summary printed after the runner's output ([`terminal_summary`]).
//!
//! Every function is pure (no I/O besides the writer it is given, no environment) and never
//! panics on any input: test names, messages and output are untrusted text, cleaned of
//! terminal escape sequences and control characters and escaped for each format. Each module
//! documents its format decisions.

#![warn(missing_docs)]

mod common;
#[cfg(test)]
mod fixture;

pub mod annotations;
pub mod junit;
pub mod markdown;
pub mod text;

pub use annotations::{github as github_annotations, locate};
pub use flakehound_model::WrappedRun;
pub use junit::write_merged;
pub use markdown::step_summary;
pub use text::terminal_summary;
