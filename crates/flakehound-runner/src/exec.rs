//! Runs a [`Plan`]: spawns its command and, when the runner's stdout is the report, captures it
//! while streaming what the adapter wants shown.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
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

/// Runs `plan.cmd` without showing anything: for background executions (hunting), where many
/// run at once. Stdin is closed. Stdout goes to the capture file when it is the report (with
/// stderr too when `merge_stderr`), otherwise to `log`; stderr goes to `log`.
pub fn execute_logged(plan: &Plan, log: &std::path::Path) -> Result<Execution> {
    let cmd = &plan.cmd;
    let mut command = command_of(cmd);
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
        (None, Some(sig)) => 128 + sig,
        // Neither a code nor a signal (not possible on unix or windows): a generic failure.
        (None, None) => 1,
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
}
