//! Pieces several adapters share: building commands and plans, refusing what a runner cannot
//! do, and getting at the report of a plan.
//!
//! The argv helpers of one family stay with it: cargo's flag helpers (also nextest's) in
//! `cargo`, the jest ones (also vitest's) in `jest`; the stale-report guard in `generic`.

use std::path::PathBuf;
use std::time::SystemTime;

use flakehound_model::Format;

use crate::{Capabilities, Cmd, Error, Order, Plan, ReportSource, Request, Result, RunnerKind};

/// What a runner that can select and list tests, but neither order nor repeat them in one
/// process, can do (cargo test, nextest, jest, vitest).
pub(crate) const SELECT_AND_LIST: Capabilities = Capabilities {
    select: true,
    list: true,
    order: false,
    repeat: false,
};

/// [`Error::Unsupported`] for `kind`.
pub(crate) fn unsupported(kind: RunnerKind, what: impl Into<String>) -> Error {
    Error::Unsupported {
        runner: kind.name(),
        what: what.into(),
    }
}

/// Refuses a request to repeat tests in one process, then one to order them, for a runner
/// that can do neither (cargo test, nextest); `order_what` says what ordering would be.
pub(crate) fn refuse_repeat_and_order(
    kind: RunnerKind,
    req: &Request,
    order_what: &str,
) -> Result<()> {
    if req.repeat > 1 {
        return Err(unsupported(kind, "repeat tests within one process"));
    }
    if req.order != Order::AsWritten {
        return Err(unsupported(kind, order_what));
    }
    Ok(())
}

/// The command line of `words` (program first; `default_program` when there are no words),
/// with the environment changes and working directory of `base`.
pub(crate) fn cmd_from_words(
    words: impl IntoIterator<Item = String>,
    default_program: &str,
    base: &Cmd,
) -> Cmd {
    let mut words = words.into_iter();
    Cmd {
        program: words.next().unwrap_or_else(|| default_program.into()),
        args: words.collect(),
        env: base.env.clone(),
        env_remove: base.env_remove.clone(),
        cwd: base.cwd.clone(),
    }
}

/// A plan whose report is the command's standard output, captured to `capture`.
pub(crate) fn stdout_plan(cmd: Cmd, capture: PathBuf, merge_stderr: bool) -> Plan {
    Plan {
        cmd,
        report: ReportSource::Stdout {
            capture,
            merge_stderr,
        },
    }
}

/// A plan whose report is the file `report`, stale unless written after `fresh_after`.
pub(crate) fn file_plan(
    cmd: Cmd,
    report: PathBuf,
    format: Option<Format>,
    fresh_after: SystemTime,
) -> Plan {
    Plan {
        cmd,
        report: ReportSource::Files {
            paths: vec![report],
            format,
            fresh_after: Some(fresh_after),
        },
    }
}

/// The report files of `plan`, their format and the instant they must be newer than;
/// `Error::Command(not_files)` when the plan's report is its standard output.
pub(crate) fn report_files<'a>(
    plan: &'a Plan,
    not_files: &str,
) -> Result<(&'a [PathBuf], Option<Format>, Option<SystemTime>)> {
    match &plan.report {
        ReportSource::Files {
            paths,
            format,
            fresh_after,
        } => Ok((paths, *format, *fresh_after)),
        ReportSource::Stdout { .. } => Err(Error::Command(not_files.into())),
    }
}

/// The file `plan` captures the standard output to; `Error::Command(not_stdout)` when the
/// plan's report is made of files.
pub(crate) fn captured<'a>(plan: &'a Plan, not_stdout: &str) -> Result<&'a PathBuf> {
    match &plan.report {
        ReportSource::Stdout { capture, .. } => Ok(capture),
        ReportSource::Files { .. } => Err(Error::Command(not_stdout.into())),
    }
}
