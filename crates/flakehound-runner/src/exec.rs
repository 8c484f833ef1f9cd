//! Runs a [`Plan`]: spawns its command and, when the runner's stdout is the report, captures it
//! while streaming what the adapter wants shown.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Adapter, Cmd, Error, Plan, ReportSource, Result};

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The exit code; 128 + signal number when the process was killed by a signal (the shell's
    /// convention), so a caller can always propagate it.
    pub code: i32,
    /// The signal that killed the process (unix only).
    pub signal: Option<i32>,
    /// Wall-clock time from spawn to exit.
    pub duration: Duration,
}

/// Size of the reads from the runner's stdout.
const CHUNK: usize = 64 * 1024;

/// Longest line handed whole to [`Adapter::display_line`]. A longer line is shown in pieces of
/// this size: the display is only for humans, while the capture file always gets every byte, so
/// the report stays intact and memory stays bounded whatever the runner prints.
const MAX_LINE: usize = 8 * 1024 * 1024;

/// Runs `plan.cmd` to completion. Stdin and stderr are inherited. For
/// [`ReportSource::Files`] stdout is inherited too (the runner keeps its terminal and colours,
/// and nothing sits in between). For [`ReportSource::Stdout`] stdout (and stderr with
/// `merge_stderr`) is read through a pipe: every byte goes to the `capture` file, and each line
/// goes through [`Adapter::display_line`] to `out`, flushed line by line so CI logs stream.
///
/// Writing to `out` is best effort: if it fails (e.g. a closed pipe), the display stops but the
/// capture and the run go on, since the report and the exit status are what matter.
pub fn execute(adapter: &dyn Adapter, plan: &Plan, out: &mut dyn Write) -> Result<Execution> {
    let cmd = &plan.cmd;
    let mut command = command_of(cmd);
    command.stdin(Stdio::inherit()).stderr(Stdio::inherit());
    let spawn_error = |source: io::Error| Error::Io {
        context: match &cmd.cwd {
            Some(cwd) => format!("cannot run `{}` in {}", cmd.program, cwd.display()),
            None => format!("cannot run `{}`", cmd.program),
        },
        source,
    };

    match &plan.report {
        ReportSource::Files { .. } => {
            command.stdout(Stdio::inherit());
            let start = Instant::now();
            let mut child = command.spawn().map_err(spawn_error)?;
            let status = wait(&mut child, &cmd.program)?;
            Ok(execution(status, start.elapsed()))
        }
        ReportSource::Stdout {
            capture,
            merge_stderr,
        } => {
            let capture_error = |source: io::Error| Error::Io {
                context: format!("cannot write the capture file {}", capture.display()),
                source,
            };
            let file = File::create(capture).map_err(capture_error)?;
            let start = Instant::now();
            let (mut child, reader): (Child, Box<dyn Read>) = if *merge_stderr {
                // One pipe for both streams: the runner's writes keep their order, which two
                // separate pipes read in turn could not guarantee.
                let (reader, writer) = io::pipe().map_err(|source| Error::Io {
                    context: "cannot create a pipe".into(),
                    source,
                })?;
                let writer2 = writer.try_clone().map_err(|source| Error::Io {
                    context: "cannot duplicate a pipe".into(),
                    source,
                })?;
                command.stdout(writer).stderr(writer2);
                let child = command.spawn().map_err(spawn_error)?;
                // The Command still holds our copies of the write end: drop them, or the reader
                // would never see end-of-file.
                drop(command);
                (child, Box::new(reader))
            } else {
                command.stdout(Stdio::piped());
                let mut child = command.spawn().map_err(spawn_error)?;
                let Some(stdout) = child.stdout.take() else {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Command(format!(
                        "no stdout pipe to `{}`",
                        cmd.program
                    )));
                };
                (child, Box::new(stdout))
            };
            let streamed = stream(reader, file, adapter, out);
            if let Err(Stream::Read(_)) = &streamed {
                // We can no longer drain the pipe: the runner could block writing to it forever.
                let _ = child.kill();
            }
            let status = wait(&mut child, &cmd.program)?;
            let elapsed = start.elapsed();
            match streamed {
                Ok(()) => Ok(execution(status, elapsed)),
                Err(Stream::Read(source)) => Err(Error::Io {
                    context: format!("cannot read the output of `{}`", cmd.program),
                    source,
                }),
                Err(Stream::Capture(source)) => Err(capture_error(source)),
            }
        }
    }
}

/// Limits of a foreground invocation run with [`run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Stop the command after this long: SIGTERM to its process group, then SIGKILL after
    /// `grace` if it is still there.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when stopping the command (timeout).
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: None,
            grace: Duration::from_secs(10),
        }
    }
}

/// How a foreground invocation run with [`run`] ended.
#[derive(Debug)]
pub struct Ran {
    pub execution: Execution,
    /// The runner's stdout report could not be captured (its file could not be created or
    /// written). The command ran all the same (its output went to the terminal): its exit status
    /// stands, its report is missing or incomplete.
    pub capture_error: Option<Error>,
    /// The command was stopped because [`Limits::timeout`] passed.
    pub timed_out: bool,
    /// A signal flakehound received while the command ran (SIGINT, SIGTERM or SIGHUP), forwarded
    /// to the command's process group. The caller should stop and exit 128 + the signal.
    pub interrupted: Option<i32>,
}

/// The shell's status for a command that could not be started: 126 when it was found but could
/// not be executed (permission, not an executable), 127 when it was not found.
pub fn spawn_status(error: &Error) -> i32 {
    const NOT_FOUND: i32 = flakehound_model::exit::NOT_FOUND as i32;
    const CANNOT_EXECUTE: i32 = flakehound_model::exit::CANNOT_EXECUTE as i32;
    match error {
        Error::Io { source, .. } if source.kind() == ErrorKind::NotFound => NOT_FOUND,
        Error::Io { source, .. }
            if source.kind() == ErrorKind::PermissionDenied
                || source.raw_os_error() == Some(8) /* ENOEXEC */ =>
        {
            CANNOT_EXECUTE
        }
        Error::Io { .. } => CANNOT_EXECUTE,
        _ => NOT_FOUND,
    }
}

/// Like [`execute`], for a command flakehound wraps in the foreground (`flakehound run`):
/// - the command runs in a process group of its own, and SIGINT, SIGTERM and SIGHUP received
///   by flakehound are forwarded to that whole group (pytest-xdist workers and other children
///   included), so nothing is left orphaned; [`Ran::interrupted`] says it happened. (Installs
///   flakehound's handlers for those signals on first use: from then on the caller decides when
///   to stop, see [`signals::received`].)
/// - [`Limits::timeout`] stops the group (SIGTERM, then SIGKILL after the grace period).
/// - a capture file that cannot be written is not a reason not to run the command: it runs with
///   its stdout on ours, and [`Ran::capture_error`] says the report is lost. An error is
///   returned only when the command could not be started ([`spawn_status`] gives the shell's
///   status for it).
///
/// The group of its own means the command is not in the terminal's foreground group: a test that
/// reads the terminal would be stopped (SIGTTIN). Test suites under CI do not.
pub fn run(
    adapter: &dyn Adapter,
    plan: &Plan,
    out: &mut dyn Write,
    limits: &Limits,
) -> Result<Ran> {
    signals::install();
    let cmd = &plan.cmd;
    let mut command = command_of(cmd);
    command.stdin(Stdio::inherit()).stderr(Stdio::inherit());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let spawn_error = |source: io::Error| Error::Io {
        context: match &cmd.cwd {
            Some(cwd) => format!("cannot run `{}` in {}", cmd.program, cwd.display()),
            None => format!("cannot run `{}`", cmd.program),
        },
        source,
    };
    let mut capture_error = None;
    // (capture file, merge stderr) when the stdout is the report and can be captured.
    let capture = match &plan.report {
        ReportSource::Files { .. } => None,
        ReportSource::Stdout {
            capture,
            merge_stderr,
        } => match File::create(capture) {
            Ok(f) => Some((f, *merge_stderr, capture.clone())),
            Err(source) => {
                capture_error = Some(Error::Io {
                    context: format!("cannot write the capture file {}", capture.display()),
                    source,
                });
                None
            }
        },
    };
    if let Some(sig) = signals::received() {
        // Stopped before it started: nothing ran.
        return Ok(Ran {
            execution: Execution {
                code: flakehound_model::exit::signalled(sig),
                signal: None,
                duration: Duration::ZERO,
            },
            capture_error,
            timed_out: false,
            interrupted: Some(sig),
        });
    }
    let start = Instant::now();
    let (mut child, reader): (Child, Option<Captured>) = match capture {
        None => {
            command.stdout(Stdio::inherit());
            (command.spawn().map_err(spawn_error)?, None)
        }
        Some((file, true, path)) => {
            let (reader, writer) = io::pipe().map_err(|source| Error::Io {
                context: "cannot create a pipe".into(),
                source,
            })?;
            let writer2 = writer.try_clone().map_err(|source| Error::Io {
                context: "cannot duplicate a pipe".into(),
                source,
            })?;
            command.stdout(writer).stderr(writer2);
            let child = command.spawn().map_err(spawn_error)?;
            drop(command);
            (child, Some((Box::new(reader) as Box<dyn Read>, file, path)))
        }
        Some((file, false, path)) => {
            command.stdout(Stdio::piped());
            let mut child = command.spawn().map_err(spawn_error)?;
            match child.stdout.take() {
                Some(stdout) => (child, Some((Box::new(stdout) as Box<dyn Read>, file, path))),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Command(format!(
                        "no stdout pipe to `{}`",
                        cmd.program
                    )));
                }
            }
        }
    };
    let group = signals::Group::enter(child.id());
    let watchdog = limits
        .timeout
        .map(|t| Watchdog::start(child.id(), t, limits.grace));
    let mut read_error = None;
    if let Some((reader, file, path)) = reader {
        match stream(reader, file, adapter, out) {
            Ok(()) => {}
            Err(Stream::Read(source)) => {
                // We can no longer drain the pipe: the runner could block writing to it forever.
                let _ = child.kill();
                read_error = Some(source);
            }
            Err(Stream::Capture(source)) => {
                capture_error = Some(Error::Io {
                    context: format!("cannot write the capture file {}", path.display()),
                    source,
                })
            }
        }
    }
    let status = wait(&mut child, &cmd.program);
    let timed_out = watchdog.is_some_and(Watchdog::finish);
    drop(group);
    let status = status?;
    if let Some(source) = read_error {
        return Err(Error::Io {
            context: format!("cannot read the output of `{}`", cmd.program),
            source,
        });
    }
    Ok(Ran {
        execution: execution(status, start.elapsed()),
        capture_error,
        timed_out,
        interrupted: signals::received(),
    })
}

/// The runner's stdout pipe, the capture file and its path.
type Captured = (Box<dyn Read>, File, PathBuf);

/// Stops a process group once a deadline passes (SIGTERM, then SIGKILL after the grace).
struct Watchdog {
    done: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(group: u32, timeout: Duration, grace: Duration) -> Watchdog {
        let (done, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            use std::sync::mpsc::RecvTimeoutError;
            match rx.recv_timeout(timeout) {
                Err(RecvTimeoutError::Timeout) => {}
                // Finished (or the caller is gone): nothing to stop.
                _ => return false,
            }
            signals::kill_group(group, signals::SIGTERM);
            if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(grace) {
                signals::kill_group(group, signals::SIGKILL);
            }
            true
        });
        Watchdog { done, thread }
    }

    /// Called once the command has exited; whether the watchdog had to stop it.
    fn finish(self) -> bool {
        let _ = self.done.send(());
        self.thread.join().unwrap_or(false)
    }
}

/// flakehound's own handling of SIGINT, SIGTERM and SIGHUP while it runs a command in the
/// foreground ([`run`]): the signal is remembered and forwarded to the command's process group.
/// A second signal kills the group (SIGKILL): a command that ignores the first cannot hold the
/// user hostage.
pub mod signals {
    use std::sync::atomic::{AtomicI32, Ordering};

    pub const SIGTERM: i32 = 15;
    pub const SIGKILL: i32 = 9;
    pub const SIGINT: i32 = 2;

    /// The first signal received (0: none).
    static RECEIVED: AtomicI32 = AtomicI32::new(0);
    /// The process group of the command running now (0: none).
    static GROUP: AtomicI32 = AtomicI32::new(0);

    /// The signal received since [`install`], if any.
    pub fn received() -> Option<i32> {
        match RECEIVED.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Installs the handlers (once).
    #[allow(unsafe_code)]
    pub fn install() {
        #[cfg(unix)]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    // SAFETY: the handler only does async-signal-safe work (atomics, kill).
                    unsafe {
                        let mut action: libc::sigaction = std::mem::zeroed();
                        action.sa_sigaction = handler as extern "C" fn(libc::c_int) as usize;
                        action.sa_flags = libc::SA_RESTART;
                        libc::sigemptyset(&mut action.sa_mask);
                        libc::sigaction(sig, &action, std::ptr::null_mut());
                    }
                }
            });
        }
    }

    #[cfg(unix)]
    #[allow(unsafe_code)]
    extern "C" fn handler(sig: libc::c_int) {
        let first = RECEIVED
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        let group = GROUP.load(Ordering::SeqCst);
        if group > 0 {
            // A second signal (Ctrl-C again) means "now": a command that ignores or takes its
            // time over the first is killed.
            let sig = if first { sig } else { libc::SIGKILL };
            // SAFETY: kill is async-signal-safe.
            unsafe {
                libc::kill(-group, sig);
            }
        }
    }

    /// Sends `sig` to the process group `group`.
    #[allow(unsafe_code)]
    pub fn kill_group(group: u32, sig: i32) {
        #[cfg(unix)]
        if let Ok(g) = i32::try_from(group) {
            if g > 0 {
                // SAFETY: plain system call.
                unsafe {
                    libc::kill(-g, sig);
                }
            }
        }
        #[cfg(not(unix))]
        let _ = (group, sig);
    }

    /// The command's process group while it runs: signals are forwarded to it.
    pub(crate) struct Group;

    impl Group {
        pub(crate) fn enter(pid: u32) -> Group {
            let pid = i32::try_from(pid).unwrap_or(0);
            GROUP.store(pid, Ordering::SeqCst);
            // A signal that came between the spawn and now was not forwarded.
            if let Some(sig) = received() {
                kill_group(pid as u32, sig);
            }
            Group
        }
    }

    impl Drop for Group {
        fn drop(&mut self) {
            GROUP.store(0, Ordering::SeqCst);
        }
    }
}

/// The process for a background execution of `plan` (hunt, the detective's lab, this module's
/// [`execute_logged`]): stdin closed; stdout to the capture file when it is the report (with
/// stderr too when `merge_stderr`), otherwise to `log`; stderr to `log`. Callers that must be
/// able to stop it add a process group of its own before spawning.
pub fn logged_command(plan: &Plan, log: &std::path::Path) -> Result<Command> {
    let mut command = command_of(&plan.cmd);
    let open = |path: &std::path::Path| {
        File::create(path).map_err(|source| Error::Io {
            context: format!("cannot write {}", path.display()),
            source,
        })
    };
    let log_file = open(log)?;
    let clone = |f: &File| {
        f.try_clone().map_err(|source| Error::Io {
            context: "cannot duplicate a file handle".into(),
            source,
        })
    };
    match &plan.report {
        ReportSource::Files { .. } => {
            command.stdout(clone(&log_file)?).stderr(log_file);
        }
        ReportSource::Stdout {
            capture,
            merge_stderr,
        } => {
            let out = open(capture)?;
            if *merge_stderr {
                command.stdout(clone(&out)?).stderr(out);
            } else {
                command.stdout(out).stderr(log_file);
            }
        }
    }
    command.stdin(Stdio::null());
    Ok(command)
}

/// Runs `plan.cmd` without showing anything: for background executions (hunting), where many
/// run at once. Stdin is closed. Stdout goes to the capture file when it is the report (with
/// stderr too when `merge_stderr`), otherwise to `log`; stderr goes to `log`.
pub fn execute_logged(plan: &Plan, log: &std::path::Path) -> Result<Execution> {
    let cmd = &plan.cmd;
    let mut command = logged_command(plan, log)?;
    let start = Instant::now();
    let mut child = command.spawn().map_err(|source| Error::Io {
        context: format!("cannot run `{}`", cmd.program),
        source,
    })?;
    let status = wait(&mut child, &cmd.program)?;
    Ok(execution(status, start.elapsed()))
}

/// The process to spawn for `cmd`: program, arguments, environment changes (removals first) and
/// working directory. Standard streams are left to the caller.
pub(crate) fn command_of(cmd: &Cmd) -> Command {
    let mut command = Command::new(&cmd.program);
    command.args(&cmd.args);
    for key in &cmd.env_remove {
        command.env_remove(key);
    }
    for (key, value) in &cmd.env {
        command.env(key, value);
    }
    if let Some(cwd) = &cmd.cwd {
        command.current_dir(cwd);
    }
    command
}

/// The standard output of a quick helper command (stdin closed, stderr discarded); `None` when
/// it cannot run or fails.
pub(crate) fn helper_output(cmd: &Cmd) -> Option<Vec<u8>> {
    let out = command_of(cmd)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

fn wait(child: &mut Child, program: &str) -> Result<ExitStatus> {
    child.wait().map_err(|source| Error::Io {
        context: format!("cannot wait for `{program}`"),
        source,
    })
}

fn execution(status: ExitStatus, duration: Duration) -> Execution {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    let code = match (status.code(), signal) {
        (Some(code), _) => code,
        (None, Some(sig)) => flakehound_model::exit::signalled(sig),
        // Neither a code nor a signal (not possible on unix or windows): a generic failure.
        (None, None) => i32::from(flakehound_model::exit::FINDINGS),
    };
    Execution {
        code,
        signal,
        duration,
    }
}

/// Why streaming stopped early.
enum Stream {
    Read(io::Error),
    Capture(io::Error),
}

/// Copies `reader` to `capture` and its lines, through the adapter, to `out`, until end-of-file.
/// A capture write error does not stop the draining (the runner must not block on a full pipe);
/// it is returned at the end.
fn stream(
    mut reader: Box<dyn Read>,
    capture: File,
    adapter: &dyn Adapter,
    out: &mut dyn Write,
) -> Result<(), Stream> {
    let mut capture = BufWriter::new(capture);
    let mut capture_error: Option<io::Error> = None;
    let mut display = Display {
        adapter,
        out,
        broken: false,
    };
    let mut chunk = vec![0u8; CHUNK];
    let mut line: Vec<u8> = Vec::new();
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stream::Read(e)),
        };
        let bytes = &chunk[..n];
        if capture_error.is_none() {
            if let Err(e) = capture.write_all(bytes) {
                capture_error = Some(e);
            }
        }
        let mut rest = bytes;
        // Invariant: `line` never holds more than MAX_LINE bytes.
        while !rest.is_empty() {
            let room = MAX_LINE - line.len();
            // A newline within reach ends the line (at most MAX_LINE bytes long).
            match rest.iter().take(room + 1).position(|&b| b == b'\n') {
                Some(at) => {
                    line.extend_from_slice(&rest[..at]);
                    display.line(&line);
                    line.clear();
                    rest = &rest[at + 1..];
                }
                // No newline within MAX_LINE bytes: show this much as a piece of its own.
                None if rest.len() > room => {
                    line.extend_from_slice(&rest[..room]);
                    display.line(&line);
                    line.clear();
                    rest = &rest[room..];
                }
                None => {
                    line.extend_from_slice(rest);
                    break;
                }
            }
        }
    }
    // A last line without a newline.
    if !line.is_empty() {
        display.line(&line);
    }
    if capture_error.is_none() {
        if let Err(e) = capture.flush() {
            capture_error = Some(e);
        }
    }
    match capture_error {
        Some(e) => Err(Stream::Capture(e)),
        None => Ok(()),
    }
}

struct Display<'a> {
    adapter: &'a dyn Adapter,
    out: &'a mut dyn Write,
    /// Set after the first write error: the display stops, the run goes on.
    broken: bool,
}

impl Display<'_> {
    fn line(&mut self, raw: &[u8]) {
        if self.broken {
            return;
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        if let Some(shown) = self.adapter.display_line(&text) {
            let written = self
                .out
                .write_all(shown.as_bytes())
                .and_then(|()| self.out.write_all(b"\n"))
                .and_then(|()| self.out.flush());
            if written.is_err() {
                self.broken = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capabilities, Cmd, Request, Results, RunnerKind};
    use std::borrow::Cow;
    use std::path::{Path, PathBuf};

    /// An adapter whose display hides lines starting with `#` and upper-cases the rest.
    struct Shouty;

    impl Adapter for Shouty {
        fn kind(&self) -> RunnerKind {
            RunnerKind::Generic
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        fn plan(&self, _req: &Request, _scratch: &Path) -> Result<Plan> {
            unreachable!("not used by these tests")
        }
        fn display_line<'a>(&self, line: &'a str) -> Option<Cow<'a, str>> {
            (!line.starts_with('#')).then(|| Cow::Owned(line.to_uppercase()))
        }
        fn read(&self, _plan: &Plan) -> Result<Results> {
            unreachable!("not used by these tests")
        }
    }

    fn sh(script: &str) -> Cmd {
        Cmd {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            ..Cmd::default()
        }
    }

    fn files_plan(cmd: Cmd) -> Plan {
        Plan {
            cmd,
            report: ReportSource::Files {
                paths: vec![],
                format: None,
                fresh_after: None,
            },
        }
    }

    fn stdout_plan(cmd: Cmd, capture: PathBuf, merge_stderr: bool) -> Plan {
        Plan {
            cmd,
            report: ReportSource::Stdout {
                capture,
                merge_stderr,
            },
        }
    }

    /// Runs a stdout plan; returns the execution, the capture and the display.
    fn run_captured(script: &str, merge_stderr: bool) -> (Execution, Vec<u8>, String) {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("out.txt");
        let plan = stdout_plan(sh(script), capture.clone(), merge_stderr);
        let mut out = Vec::new();
        let exec = execute(&Shouty, &plan, &mut out).unwrap();
        let captured = std::fs::read(&capture).unwrap();
        (exec, captured, String::from_utf8(out).unwrap())
    }

    #[test]
    fn exit_codes_are_returned() {
        let mut out = Vec::new();
        for code in [0, 1, 3, 42] {
            let exec =
                execute(&Shouty, &files_plan(sh(&format!("exit {code}"))), &mut out).unwrap();
            assert_eq!(exec.code, code);
            assert_eq!(exec.signal, None);
        }
        let (exec, _, _) = run_captured("echo hi; exit 7", false);
        assert_eq!(exec.code, 7);
        assert!(out.is_empty(), "files mode shows nothing itself");
    }

    #[cfg(unix)]
    #[test]
    fn a_signal_is_128_plus_its_number() {
        let mut out = Vec::new();
        let exec = execute(&Shouty, &files_plan(sh("kill -TERM $$")), &mut out).unwrap();
        assert_eq!(exec.signal, Some(15));
        assert_eq!(exec.code, 143);
        let (exec, _, shown) = run_captured("echo before; kill -KILL $$", true);
        assert_eq!((exec.code, exec.signal), (137, Some(9)));
        assert_eq!(shown, "BEFORE\n");
    }

    #[test]
    fn capture_is_raw_and_display_is_filtered_and_lossy() {
        let (exec, captured, shown) = run_captured(
            r"printf 'one\n# hidden\nb\377d\r\nlast without newline'",
            false,
        );
        assert_eq!(exec.code, 0);
        assert_eq!(
            captured,
            b"one\n# hidden\nb\xffd\r\nlast without newline".to_vec()
        );
        assert_eq!(shown, "ONE\nB\u{FFFD}D\nLAST WITHOUT NEWLINE\n");
    }

    #[test]
    fn stderr_is_not_captured_unless_merged() {
        let (_, captured, _) = run_captured("echo out; echo err >&2", false);
        assert_eq!(captured, b"out\n");
    }

    #[test]
    fn merged_streams_keep_their_order() {
        // Many alternations: with two pipes read in turn the order would come out scrambled.
        let script = "i=0; while [ $i -lt 200 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done";
        let (exec, captured, shown) = run_captured(script, true);
        assert_eq!(exec.code, 0);
        let expected: String = (0..200).map(|i| format!("out{i}\nerr{i}\n")).collect();
        assert_eq!(String::from_utf8(captured).unwrap(), expected);
        assert_eq!(shown, expected.to_uppercase());
    }

    #[test]
    fn very_long_lines_are_captured_whole() {
        let len = MAX_LINE * 2 + 10;
        let script = format!("head -c {len} /dev/zero | tr '\\000' x; echo; echo end");
        let (exec, captured, shown) = run_captured(&script, false);
        assert_eq!(exec.code, 0);
        assert_eq!(captured.len(), len + 1 + 4);
        assert!(captured[..len].iter().all(|&b| b == b'x'));
        assert!(captured.ends_with(b"\nend\n"));
        // Shown in bounded pieces, nothing lost.
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 4, "two full pieces, the tail, and `end`");
        assert_eq!(lines.iter().map(|l| l.len()).sum::<usize>(), len + 3);
        assert_eq!(lines[3], "END");
    }

    #[test]
    fn env_and_cwd_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = sh(r#"echo "$FH_A|${HOME-unset}|$(pwd)""#);
        cmd.env = vec![("FH_A".into(), "a value".into())];
        cmd.env_remove = vec!["HOME".into()];
        cmd.cwd = Some(dir.path().to_path_buf());
        let capture = dir.path().join("c.txt");
        let mut out = Vec::new();
        execute(&Shouty, &stdout_plan(cmd, capture.clone(), false), &mut out).unwrap();
        let captured = std::fs::read_to_string(capture).unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(captured, format!("a value|unset|{}\n", cwd.display()));
    }

    #[test]
    fn a_missing_program_is_an_io_error_naming_it() {
        let cmd = Cmd {
            program: "flakehound-no-such-program".into(),
            ..Cmd::default()
        };
        let err = execute(&Shouty, &files_plan(cmd), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(
            err.to_string().contains("flakehound-no-such-program"),
            "{err}"
        );
    }

    #[test]
    fn an_unwritable_capture_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("missing-dir").join("c.txt");
        let plan = stdout_plan(sh("echo hi"), capture, false);
        let err = execute(&Shouty, &plan, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("capture file"), "{err}");
    }

    /// A writer that always fails, like a closed pipe.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(ErrorKind::BrokenPipe, "closed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_broken_display_does_not_stop_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("c.txt");
        let plan = stdout_plan(sh("echo a; echo b; exit 2"), capture.clone(), false);
        let exec = execute(&Shouty, &plan, &mut Closed).unwrap();
        assert_eq!(exec.code, 2);
        assert_eq!(std::fs::read(capture).unwrap(), b"a\nb\n");
    }

    fn fast_limits(timeout: Option<Duration>) -> Limits {
        Limits {
            timeout,
            grace: Duration::from_secs(5),
        }
    }

    #[cfg(unix)]
    #[test]
    fn run_stops_the_whole_group_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        // A grandchild that would outlive its parent if only the parent were killed. The
        // timeout (1 s) is far from the sleeps (300 s): no race with the machine's speed.
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        let mut out = Vec::new();
        let ran = run(
            &Shouty,
            &files_plan(sh(&script)),
            &mut out,
            &fast_limits(Some(Duration::from_secs(1))),
        )
        .unwrap();
        assert!(ran.timed_out);
        assert_eq!(ran.execution.code, 143, "{ran:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let proc = Path::new("/proc").join(pid.trim());
        // Killed processes are reaped by init; give it a moment (far from the 300 s sleep).
        for _ in 0..100 {
            let alive = std::fs::read_to_string(proc.join("stat"))
                .is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"));
            if !alive {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the grandchild {} survived the timeout", pid.trim());
    }

    #[test]
    fn run_without_timeout_is_not_timed_out() {
        let mut out = Vec::new();
        let ran = run(
            &Shouty,
            &files_plan(sh("exit 3")),
            &mut out,
            &fast_limits(Some(Duration::from_secs(300))),
        )
        .unwrap();
        assert_eq!((ran.execution.code, ran.timed_out), (3, false));
        assert!(ran.capture_error.is_none() && ran.interrupted.is_none());
    }

    #[test]
    fn run_runs_the_command_even_when_the_capture_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("no-such-dir/out.txt");
        let marker = dir.path().join("ran");
        let script = format!("touch {}; exit 5", marker.display());
        let plan = stdout_plan(sh(&script), capture, false);
        let mut out = Vec::new();
        let ran = run(&Shouty, &plan, &mut out, &Limits::default()).unwrap();
        assert_eq!(ran.execution.code, 5, "the runner's own status");
        assert!(marker.exists(), "the command ran");
        let err = ran.capture_error.unwrap().to_string();
        assert!(err.contains("no-such-dir/out.txt"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn run_keeps_the_status_when_the_capture_fills_up() {
        // /dev/full accepts the open and fails every write (ENOSPC): a full filesystem.
        if !Path::new("/dev/full").exists() {
            return;
        }
        let plan = stdout_plan(sh("echo some output; exit 0"), "/dev/full".into(), false);
        let mut out = Vec::new();
        let ran = run(&Shouty, &plan, &mut out, &Limits::default()).unwrap();
        assert_eq!(ran.execution.code, 0);
        assert!(ran.capture_error.is_some());
        assert_eq!(String::from_utf8(out).unwrap(), "SOME OUTPUT\n");
    }

    #[cfg(unix)]
    #[test]
    fn spawn_failures_have_the_shells_statuses() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("not-executable.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        let mut out = Vec::new();
        let mut status = |program: &Path| {
            let cmd = Cmd {
                program: program.display().to_string(),
                ..Cmd::default()
            };
            let err = run(&Shouty, &files_plan(cmd), &mut out, &Limits::default()).unwrap_err();
            spawn_status(&err)
        };
        assert_eq!(status(&script), 126);
        assert_eq!(status(dir.path()), 126, "a directory");
        assert_eq!(status(&dir.path().join("missing")), 127);
    }

    #[cfg(unix)]
    #[test]
    fn run_kills_a_group_that_ignores_sigterm_after_the_grace() {
        let mut out = Vec::new();
        // Ignores SIGTERM (inherited by the sleep). 1 s timeout and grace against a 300 s sleep.
        let ran = run(
            &Shouty,
            &files_plan(sh("trap '' TERM; sleep 300")),
            &mut out,
            &Limits {
                timeout: Some(Duration::from_secs(1)),
                grace: Duration::from_secs(1),
            },
        )
        .unwrap();
        assert!(ran.timed_out);
        assert_eq!(ran.execution.signal, Some(9), "{ran:?}");
    }
}
