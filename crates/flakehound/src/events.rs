//! The one renderer of the engines' event stream ([`flakehound_events`]): `run`, `hunt`,
//! `diagnose`, `polluter` and `bisect` hand every event to a [`Renderer`], which shows it in the mode the
//! command chose, and copies it as a JSON line to `--events-json FILE` when asked.
//!
//! - [`Mode::Progress`] (a terminal): a progress bar for a hunt, a spinner for a diagnosis, the
//!   lines above them.
//! - [`Mode::Text`] (anything else): the same lines, no bar.
//!
//! The lines go to stderr, except `run`'s, which go to stdout between the test command's own
//! output (where they always were). Warnings and summaries are not lines here: the commands
//! print them with their results. The JSON lines never go to stdout, so they never mix with a
//! `--json` result.

use anyhow::{Context as _, Result};
use flakehound_events::{Engine, Event, EventKind};
use std::io::Write;
use std::time::Duration;

/// How events are shown to a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Bars and spinners on a terminal (stderr), lines printed above them.
    Progress,
    /// Plain lines only.
    Text,
}

/// Where the human lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    Stdout,
    Stderr,
}

/// `--events-json FILE`, on the commands that run an engine.
#[derive(clap::Args, Clone, Default)]
pub struct EventsOpt {
    /// Also write every progress event as a JSON object, one a line, to FILE (created or
    /// truncated; `/dev/stderr` works too). Never to stdout, so never into `--json` output.
    #[arg(long, value_name = "FILE")]
    pub events_json: Option<std::path::PathBuf>,
}

struct JsonLines {
    out: std::io::BufWriter<std::fs::File>,
    path: String,
    broken: bool,
}

pub struct Renderer {
    mode: Mode,
    lines: Lines,
    bar: Option<indicatif::ProgressBar>,
    /// The hunt's bar counts rounds (else seconds).
    rounds: bool,
    /// Failed runs in the diagnosis experiment in flight.
    failed: u64,
    json: Option<JsonLines>,
}

impl Renderer {
    /// Opens `--events-json`'s file when given (an error when it cannot be created).
    pub fn new(mode: Mode, lines: Lines, opt: &EventsOpt) -> Result<Renderer> {
        let json = match &opt.events_json {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("cannot create the events file {}", path.display()))?;
                Some(JsonLines {
                    out: std::io::BufWriter::new(file),
                    path: path.display().to_string(),
                    broken: false,
                })
            }
            None => None,
        };
        Ok(Renderer {
            mode,
            lines,
            bar: None,
            rounds: true,
            failed: 0,
            json,
        })
    }

    /// Shows (and copies) one event.
    pub fn event(&mut self, e: &Event) {
        self.json(e);
        match &e.kind {
            EventKind::Started {
                engine: Engine::Hunt,
                planned,
                unit,
                ..
            } => {
                self.rounds = unit.as_deref() != Some("seconds");
                if self.mode == Mode::Progress {
                    self.bar = Some(hunt_bar(planned.unwrap_or(0), self.rounds));
                }
            }
            EventKind::Started {
                engine: Engine::Diagnose | Engine::Bisect,
                ..
            } if self.mode == Mode::Progress => self.bar = Some(spinner()),
            EventKind::BisectRun {
                commit,
                failed,
                skipped,
                executions,
                leader,
                probability,
            } => match (failed, skipped) {
                (_, Some(why)) => self.line(format!("  {commit}: skipped ({why})")),
                (failed, None) => {
                    if let Some(bar) = &self.bar {
                        bar.set_message(format!(
                            "{commit}: {} — {executions} executions, leading {leader} (p {probability:.3})",
                            if *failed == Some(true) { "failed" } else { "passed" }
                        ));
                    }
                }
            },
            EventKind::BisectStep {
                commit,
                subject,
                failures,
                runs,
                leader,
                probability,
            } => {
                let subject: String = subject.chars().take(40).collect();
                self.line(format!(
                    "  {commit} {subject:<40} {failures:>3} of {runs:<3} failed; leading: {leader} (p {probability:.3})"
                ))
            }
            EventKind::Progress {
                executions,
                rounds,
                failing_tests,
            } => {
                let Some(bar) = &self.bar else { return };
                bar.set_position(if self.rounds {
                    u64::from(*rounds)
                } else {
                    e.at as u64
                });
                let rate = f64::from(*executions) / e.at.max(0.001);
                bar.set_message(format!(
                    "{executions} executions, {rate:.1}/s, {failing_tests} failing test{}",
                    if *failing_tests == 1 { "" } else { "s" }
                ));
            }
            EventKind::RetryDelay { retry, seconds } => {
                let d = Duration::from_nanos((seconds * 1e9).round() as u64);
                self.line(format!(
                    "flakehound: waiting {} before retry {retry}",
                    secs(d)
                ));
            }
            EventKind::RetryScheduled {
                retry,
                retries,
                tests,
                whole_command,
            } => self.line(format!(
                "flakehound: retry {retry}/{retries}: {tests} failed test{}{}",
                if *tests == 1 { "" } else { "s" },
                if *whole_command {
                    " (this runner cannot select tests: re-running the whole command)"
                } else {
                    ""
                }
            )),
            EventKind::ExperimentStarted {
                suspect,
                conditions,
            } => {
                self.failed = 0;
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{suspect}: {} conditions", conditions.len()));
                }
            }
            EventKind::ConditionRan {
                suspect,
                condition,
                failed,
                runs,
            } => {
                if *failed == Some(true) {
                    self.failed += 1;
                }
                if let Some(bar) = &self.bar {
                    bar.set_message(format!(
                        "{suspect}: {condition} — {runs} runs so far, {} failed in this experiment",
                        self.failed
                    ));
                }
            }
            EventKind::ExperimentDecided { .. } => {
                if let Some(line) = experiment_line(&e.kind) {
                    self.line(line);
                }
            }
            EventKind::Finished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            _ => {}
        }
    }

    fn line(&self, text: String) {
        match (self.lines, &self.bar) {
            (Lines::Stdout, _) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            (Lines::Stderr, Some(bar)) if !bar.is_hidden() => bar.println(text),
            (Lines::Stderr, _) => eprintln!("{text}"),
        }
    }

    fn json(&mut self, e: &Event) {
        let Some(j) = &mut self.json else { return };
        if j.broken {
            return;
        }
        let res = serde_json::to_writer(&mut j.out, e)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(j.out))
            .and_then(|()| j.out.flush());
        if let Err(err) = res {
            j.broken = true;
            eprintln!(
                "flakehound: warning: cannot write the events to {}: {err}",
                j.path
            );
        }
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(j) = &mut self.json {
            let _ = j.out.flush();
        }
    }
}

use flakehound_events::secs;

fn hunt_bar(len: u64, rounds: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let unit = if rounds {
        "{pos}/{len} rounds"
    } else {
        "{pos}/{len}s"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {unit} (ETA {{eta}}) {{msg}}"
    )) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

fn spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One decided experiment in a line: `time: 4 conditions, 24 runs, 6 failed; p = 0.0022
/// (implicates it)`.
fn experiment_line(kind: &EventKind) -> Option<String> {
    let EventKind::ExperimentDecided {
        suspect,
        conditions,
        runs,
        failures,
        p_value,
        significant,
        skipped,
        stopped,
    } = kind
    else {
        return None;
    };
    if let Some(why) = skipped {
        return Some(format!("  {suspect}: skipped ({why})"));
    }
    Some(format!(
        "  {suspect}: {conditions} conditions, {runs} runs, {failures} failed; p {}{}{}",
        match flakehound_detective::diagnose::p_text(*p_value) {
            t if t.starts_with('<') => t,
            t => format!("= {t}"),
        },
        if *significant { " (implicates it)" } else { "" },
        stopped
            .as_ref()
            .map(|w| format!("; stopped: {w}"))
            .unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_wrapper_wrote_them() {
        let d = |s: f64| secs(Duration::from_nanos((s * 1e9).round() as u64));
        assert_eq!(d(0.01), "10ms");
        assert_eq!(d(5.0), "5s");
        assert_eq!(d(2.5), "2.5s");
    }

    #[test]
    fn experiment_lines() {
        let k = EventKind::ExperimentDecided {
            suspect: "time".into(),
            conditions: 4,
            runs: 24,
            failures: 6,
            p_value: 0.0022,
            significant: true,
            skipped: None,
            stopped: None,
        };
        let line = experiment_line(&k).unwrap();
        assert!(
            line.starts_with("  time: 4 conditions, 24 runs, 6 failed; p "),
            "{line}"
        );
        assert!(line.ends_with(" (implicates it)"), "{line}");
    }
}
