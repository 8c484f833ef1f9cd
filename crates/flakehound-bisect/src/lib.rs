//! `flakehound bisect`: finds the commit that made a test flaky or broken, knowing that the
//! test may fail by chance on either side of it.
//!
//! - [`search`]: the pure engine, a Bayesian posterior over where the change is (or that there
//!   is none), the next commit and number of runs by expected information per execution, and the
//!   stop rule.
//! - [`git`]: the range in first-parent order, detached worktrees that are always removed, and
//!   the merged branch of a merge commit.
//! - [`exec`]: runs `--setup` once per worktree and the command per execution, tells pass, fail
//!   and skip apart, and drives the search with progress events.

pub mod evidence;
pub mod exec;
pub mod git;
pub mod search;

pub use exec::{Bisection, Execution, Judge, Options, Tested, bisect};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Git(String),
    #[error(transparent)]
    Runner(#[from] flakehound_runner::Error),
    #[error(transparent)]
    Store(#[from] flakehound_store::StoreError),
    /// Stopped by Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
