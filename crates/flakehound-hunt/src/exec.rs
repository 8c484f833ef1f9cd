//! Runs one hunt execution so that Ctrl-C can stop it: each execution is a process group of
//! its own, which the hunt ends (SIGTERM, then SIGKILL after [`GRACE`]) when told to stop.
//!
//! Why not the runner's `execute_logged`: it waits for the child to end, so an interrupted
//! hunt waited for every running execution (minutes for a slow suite, forever for a hung
//! test). Why a group: the test command's own children (pytest-xdist workers, `cargo test`'s
//! test binary, `go test`'s package binaries) must end too. The group also keeps a terminal's
//! Ctrl-C from reaching the children before the hunt decides what to do: the hunt ends them.

use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flakehound_runner::Plan;

/// Time a stopped execution gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);
/// How often a running execution checks the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// How an execution ended.
pub enum Ended {
    /// Exit code (128 + signal when killed by a signal).
    Exited(i32),
    /// Stopped by the hunt (Ctrl-C): not evidence.
    Stopped,
}

/// Runs `plan.cmd` in the background as [`flakehound_runner::exec::execute_logged`] does (stdin
/// closed; stdout to the capture file when it is the report, else to `log`; stderr to `log`
/// unless merged), and ends it early when `stop` is set.
pub fn execute(plan: &Plan, log: &Path, stop: &AtomicBool) -> Result<Ended, String> {
    let cmd = &plan.cmd;
    let mut command =
        flakehound_runner::exec::logged_command(plan, log).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", cmd.program))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Ended::Exited(code(status))),
            Ok(None) => {}
            Err(e) => return Err(format!("cannot wait for `{}`: {e}", cmd.program)),
        }
        if stop.load(Ordering::Relaxed) {
            end(&mut child);
            return Ok(Ended::Stopped);
        }
        std::thread::sleep(POLL);
    }
}

fn code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return flakehound_model::exit::signalled(sig);
    }
    status
        .code()
        .unwrap_or(i32::from(flakehound_model::exit::FINDINGS))
}

/// Ends the execution's process group: SIGTERM (a test runner may clean up), SIGKILL after
/// [`GRACE`], and reaps the child.
fn end(child: &mut Child) {
    use flakehound_runner::exec::signals;
    let group = child.id();
    signals::kill_group(group, signals::SIGTERM);
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            // The leader is gone; its group may not be: make sure.
            break;
        }
        std::thread::sleep(POLL);
    }
    signals::kill_group(group, signals::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}
