//! The executor: checks commits out, runs `--setup` once per worktree and the command once per
//! execution, tells pass, fail and skip apart, and drives the [`Search`] with progress events.

use crate::git::{Commit, Repo, Worktrees, short};
use crate::search::{Answer, Config, Counts, Search};
use crate::{Error, Result};
use flakehound_analysis::stats::Rate;
use flakehound_events::{Emitter, Ending, Engine, EventKind, Sink};
use flakehound_model::{Attempt, Outcome, TestCase};
use flakehound_runner::{Adapter, Cmd, Order, Request};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How an execution's result is read.
pub enum Judge {
    /// Through the runner adapter: the test's own outcome in the results; a commit where the
    /// test is not in the results (it does not build or collect) is skipped.
    Adapter(Box<dyn Adapter>),
    /// The command's exit status: 0 passes, 125 skips the commit (as for `git bisect run`),
    /// anything else fails.
    ExitStatus,
}

/// What to bisect and how.
pub struct Options<'a> {
    /// The test id (as `report` shows it).
    pub test: String,
    pub command: Vec<String>,
    /// Run once in each worktree before its first execution (`sh -c`); failing skips the commit.
    pub setup: Option<String>,
    pub judge: Judge,
    pub config: Config,
    /// Narrow a merge culprit into the merged branch.
    pub narrow_merges: bool,
    /// Where in the repository the command and the setup run (the user's directory relative to
    /// the top level; empty for the top level).
    pub subdir: PathBuf,
    /// Raised by Ctrl-C: the execution in flight is stopped and the bisection ends.
    pub stop: Option<&'a AtomicBool>,
}

/// A tested (or skipped) commit.
#[derive(Clone, Debug, Serialize)]
pub struct Tested {
    pub sha: String,
    pub subject: String,
    pub runs: u64,
    pub failures: u64,
    /// Why the commit was skipped.
    pub skipped: Option<String>,
    /// Posterior probability that this commit is the culprit.
    pub probability: f64,
    /// On the merged branch of a merge culprit (not on the first-parent history).
    pub branch: bool,
}

/// One execution, for the evidence.
#[derive(Clone, Debug)]
pub struct Execution {
    pub commit: String,
    pub failed: bool,
    pub cases: Vec<TestCase>,
    pub command: String,
    pub started: SystemTime,
    pub seconds: f64,
}

/// A merge culprit narrowed into its branch.
#[derive(Clone, Debug, Serialize)]
pub struct Merge {
    /// The merge commit the first-parent search found.
    pub merge: String,
    /// Whether a commit of the merged branch was found (else the merge itself is the culprit).
    pub narrowed: bool,
}

/// The result of a bisection.
#[derive(Clone, Debug, Serialize)]
pub struct Bisection {
    pub test: String,
    pub good: String,
    pub bad: String,
    /// Commits in the first-parent range, the good one included.
    pub commits: usize,
    /// The full sha of the culprit, or `None`: no commit of the range changed the rate.
    pub culprit: Option<String>,
    pub culprit_commit: Option<Commit>,
    /// When skipped commits hide which one it is: every commit it may be, in order.
    pub candidates: Vec<String>,
    /// Posterior probability of the answer (the culprit, or none).
    pub probability: f64,
    /// Whether the answer reached the confidence asked for.
    pub decided: bool,
    pub executions: u64,
    /// Failure rates before and after the culprit (both the range's rate when none).
    pub rate_before: Rate,
    pub rate_after: Rate,
    pub merge: Option<Merge>,
    pub tested: Vec<Tested>,
    pub interrupted: bool,
    pub seconds: f64,
    #[serde(skip)]
    pub runs: Vec<Execution>,
}

/// What became of one execution.
enum Ran {
    Passed,
    Failed,
    /// The test gave no result (the reason).
    Missing(String),
}

struct Driver<'a, 'o> {
    repo: &'a Repo,
    opts: &'a Options<'o>,
    worktrees: Worktrees,
    scratch: tempfile::TempDir,
    /// Worktree path, or why the commit is skipped.
    prepared: HashMap<String, std::result::Result<PathBuf, String>>,
    counts: HashMap<String, Counts>,
    runs: Vec<Execution>,
    emitter: Emitter<'a>,
    executions: u64,
}

/// Bisects `range` (first-parent order, good first, bad last): see the crate documentation.
pub fn bisect(
    repo: &Repo,
    range: &[String],
    opts: &Options<'_>,
    sink: Sink<'_>,
) -> Result<Bisection> {
    if range.len() < 2 {
        return Err(Error::Usage(
            "nothing to bisect: the range has one commit".into(),
        ));
    }
    let started = Instant::now();
    let scratch = tempfile::Builder::new()
        .prefix("flakehound-bisect-runs-")
        .tempdir()
        .map_err(|e| Error::Usage(format!("cannot create a scratch directory: {e}")))?;
    let mut d = Driver {
        repo,
        opts,
        worktrees: Worktrees::new(repo)?,
        scratch,
        prepared: HashMap::new(),
        counts: HashMap::new(),
        runs: Vec::new(),
        emitter: Emitter::new(sink),
        executions: 0,
    };
    d.emitter.emit(EventKind::Started {
        engine: Engine::Bisect,
        subject: Some(opts.test.clone()),
        tests: Some(1),
        planned: Some(range.len() as u64),
        unit: Some("commits".into()),
    });
    let result = d.run(range, started);
    // Worktrees go before anything else happens, whatever the result.
    d.worktrees.remove_all();
    let (ending, summary) = match &result {
        Ok(b) if b.interrupted => (Ending::Interrupted, "interrupted".to_string()),
        Ok(b) => (
            Ending::Completed,
            match &b.culprit {
                Some(c) => format!("culprit {} (p {:.3})", short(c), b.probability),
                None => format!("no culprit (p {:.3})", b.probability),
            },
        ),
        Err(e) => (Ending::Completed, format!("error: {e}")),
    };
    d.emitter.emit(EventKind::Finished {
        engine: Engine::Bisect,
        ending,
        summary,
    });
    result
}

impl Driver<'_, '_> {
    fn run(&mut self, range: &[String], started: Instant) -> Result<Bisection> {
        let config = self.opts.config;
        let (main, mut interrupted) = self.search(range, config.max_runs)?;
        if self.executions == 0 && !interrupted {
            // Every commit tried was skipped: a wrong test id, a setup that never works.
            let why = range
                .iter()
                .find_map(|sha| match self.prepared.get(sha) {
                    Some(Err(why)) => Some(format!("{}: {why}", short(sha))),
                    _ => None,
                })
                .unwrap_or_default();
            return Err(Error::Usage(format!(
                "no commit gave a result for {:?}: every one tried was skipped ({why}); is the test id right (as `report` shows it), and does --setup work?",
                self.opts.test
            )));
        }
        let post = main.posterior();
        let answer = main.answer_of(&post);
        let mut tested: Vec<Tested> = Vec::new();
        for (i, sha) in range.iter().enumerate() {
            if let Some(t) = self.tested(sha, post.culprit[i], false)? {
                tested.push(t);
            }
        }
        let counts = main.counts();
        let sum = |r: std::ops::Range<usize>| {
            counts[r]
                .iter()
                .fold((0, 0), |a, c| (a.0 + c.failures, a.1 + c.runs))
        };
        let (mut culprit, mut candidates, mut probability, rates) = match &answer {
            Answer::None { probability } => {
                let (f, n) = sum(0..range.len());
                (
                    None,
                    Vec::new(),
                    *probability,
                    (Rate::new(f, n), Rate::new(f, n)),
                )
            }
            Answer::Culprit {
                positions,
                probability,
            } => {
                let k = positions[0];
                let last = positions[positions.len() - 1];
                let (fb, nb) = sum(0..k);
                let (fa, na) = sum(last..range.len());
                (
                    Some(range[last].clone()),
                    if positions.len() > 1 {
                        positions.iter().map(|&p| range[p].clone()).collect()
                    } else {
                        Vec::new()
                    },
                    *probability,
                    (Rate::new(fb, nb), Rate::new(fa, na)),
                )
            }
        };
        let decided = probability >= config.confidence;
        let mut merge = None;
        if let (Some(sha), true, true, false) = (
            culprit.clone(),
            candidates.is_empty(),
            self.opts.narrow_merges,
            interrupted,
        ) {
            let commit = self.repo.commit(&sha)?;
            if let Some(branch) = self.repo.merged_branch(&commit)? {
                let left = config.max_runs.saturating_sub(self.executions);
                let (sub, stopped) = self.search(&branch, left.max(1))?;
                interrupted |= stopped;
                let sub_post = sub.posterior();
                // The merge base is on the first-parent side; the merged parent is the last.
                for (i, b) in branch.iter().enumerate().skip(1) {
                    if let Some(t) = self.tested(b, sub_post.culprit[i], true)? {
                        tested.push(t);
                    }
                }
                let narrowed = match sub.answer_of(&sub_post) {
                    Answer::Culprit {
                        positions,
                        probability: p,
                    } if positions.len() == 1 && p >= config.confidence => {
                        culprit = Some(branch[positions[0]].clone());
                        candidates = Vec::new();
                        probability *= p;
                        true
                    }
                    _ => false,
                };
                merge = Some(Merge {
                    merge: sha,
                    narrowed,
                });
            }
        }
        let culprit_commit = match &culprit {
            Some(sha) => Some(self.repo.commit(sha)?),
            None => None,
        };
        Ok(Bisection {
            test: self.opts.test.clone(),
            good: range[0].clone(),
            bad: range[range.len() - 1].clone(),
            commits: range.len(),
            culprit,
            culprit_commit,
            candidates,
            probability,
            decided,
            executions: self.executions,
            rate_before: rates.0,
            rate_after: rates.1,
            merge,
            tested,
            interrupted,
            seconds: started.elapsed().as_secs_f64(),
            runs: std::mem::take(&mut self.runs),
        })
    }

    /// The row of the table for `sha`, when it was tested or skipped.
    fn tested(&self, sha: &str, probability: f64, branch: bool) -> Result<Option<Tested>> {
        let c = self.counts.get(sha).copied().unwrap_or_default();
        let skipped = match self.prepared.get(sha) {
            Some(Err(why)) => Some(why.clone()),
            _ => None,
        };
        if c.runs == 0 && skipped.is_none() {
            return Ok(None);
        }
        Ok(Some(Tested {
            sha: sha.to_string(),
            subject: self.repo.commit(sha)?.subject,
            runs: c.runs,
            failures: c.failures,
            skipped,
            probability,
            branch,
        }))
    }

    fn stopped(&self) -> bool {
        self.opts.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Searches one range with at most `budget` executions; the search and whether it was
    /// interrupted. What is known of a commit from an earlier search counts here too.
    fn search(&mut self, range: &[String], budget: u64) -> Result<(Search, bool)> {
        // The budget is for new executions: what an earlier search ran counts here for free.
        let known: u64 = range
            .iter()
            .filter_map(|sha| self.counts.get(sha))
            .map(|c| c.runs)
            .sum();
        let config = Config {
            max_runs: budget.saturating_add(known),
            ..self.opts.config
        };
        let mut s = Search::new(range.len(), config);
        for (i, sha) in range.iter().enumerate() {
            if let Some(c) = self.counts.get(sha) {
                for n in 0..c.runs {
                    s.observe(i, n < c.failures);
                }
            }
            match self.prepared.get(sha) {
                Some(Ok(_)) => s.prepare(i),
                Some(Err(_)) => s.skip(i),
                None => {}
            }
        }
        let mut pending: Option<String> = None;
        while let Some(step) = s.next() {
            if self.stopped() {
                return Ok((s, true));
            }
            // Three commits skipped and no result yet: the test id or the setup is wrong, and
            // trying every commit of a long range would only take long to say so.
            let skipped = self.prepared.values().filter(|p| p.is_err()).count();
            if self.executions == 0 && skipped >= 3 {
                break;
            }
            let sha = range[step.commit].clone();
            let path = match self.prepare(&sha)? {
                Ok(path) => path,
                Err(why) => {
                    s.skip(step.commit);
                    self.skipped_event(&sha, why, &s);
                    continue;
                }
            };
            s.prepare(step.commit);
            for _ in 0..step.runs {
                let ran = match self.execute(&sha, &path) {
                    Err(Error::Interrupted) => return Ok((s, true)),
                    other => other?,
                };
                let failed = match ran {
                    Ran::Passed => false,
                    Ran::Failed => true,
                    Ran::Missing(why) => {
                        self.prepared.insert(sha.clone(), Err(why.clone()));
                        s.skip(step.commit);
                        self.skipped_event(&sha, why, &s);
                        break;
                    }
                };
                let c = self.counts.entry(sha.clone()).or_default();
                c.runs += 1;
                c.failures += u64::from(failed);
                s.observe(step.commit, failed);
                let (leader, probability) = leader(&s, range);
                self.emitter.emit(EventKind::BisectRun {
                    commit: short(&sha).to_string(),
                    failed: Some(failed),
                    skipped: None,
                    executions: self.executions,
                    leader,
                    probability,
                });
                if s.done() {
                    break;
                }
            }
            // One line a visit: when the search moves on to another commit (or ends).
            if let Some(prev) = pending.replace(sha.clone())
                && prev != sha
            {
                self.step_event(&prev, &s, range)?;
            }
        }
        if let Some(prev) = pending {
            self.step_event(&prev, &s, range)?;
        }
        Ok((s, false))
    }

    /// The line for a visit to `sha`: its failures of runs so far, and the leading answer.
    fn step_event(&mut self, sha: &str, s: &Search, range: &[String]) -> Result<()> {
        let Some(c) = self.counts.get(sha).copied().filter(|c| c.runs > 0) else {
            return Ok(());
        };
        let (leader, probability) = leader(s, range);
        let subject = self.repo.commit(sha)?.subject;
        self.emitter.emit(EventKind::BisectStep {
            commit: short(sha).to_string(),
            subject,
            failures: c.failures,
            runs: c.runs,
            leader,
            probability,
        });
        Ok(())
    }

    fn skipped_event(&mut self, sha: &str, why: String, s: &Search) {
        let _ = s;
        self.emitter.emit(EventKind::BisectRun {
            commit: short(sha).to_string(),
            failed: None,
            skipped: Some(why),
            executions: self.executions,
            leader: String::new(),
            probability: 0.0,
        });
    }

    /// The worktree of `sha`, checked out and set up (once); `Err(reason)` when it is skipped.
    fn prepare(&mut self, sha: &str) -> Result<std::result::Result<PathBuf, String>> {
        if let Some(p) = self.prepared.get(sha) {
            return Ok(p.clone());
        }
        let path = self.worktrees.add(sha)?.join(&self.opts.subdir);
        let ready = match &self.opts.setup {
            _ if !path.is_dir() => Err(format!(
                "no directory {} at this commit",
                self.opts.subdir.display()
            )),
            None => Ok(path),
            Some(setup) => {
                let log = self
                    .scratch
                    .path()
                    .join(format!("setup-{}.log", short(sha)));
                let mut cmd = std::process::Command::new("sh");
                cmd.arg("-c").arg(setup).current_dir(&path);
                let code = self.spawn(cmd, &log)?;
                if code == 0 {
                    Ok(path)
                } else {
                    Err(format!(
                        "--setup failed (exit {code}){}",
                        last_line(&log).map_or(String::new(), |l| format!(": {l}"))
                    ))
                }
            }
        };
        self.prepared.insert(sha.to_string(), ready.clone());
        Ok(ready)
    }

    /// One execution of the command in `dir` (the worktree of `sha`).
    fn execute(&mut self, sha: &str, dir: &Path) -> Result<Ran> {
        let n = u32::try_from(self.executions + 1).unwrap_or(u32::MAX);
        let run_dir = self.scratch.path().join(format!("run-{n:05}"));
        std::fs::create_dir_all(&run_dir)
            .map_err(|e| Error::Usage(format!("{}: {e}", run_dir.display())))?;
        let log = run_dir.join("output.log");
        let started = SystemTime::now();
        let t0 = Instant::now();
        let first = self.counts.get(sha).is_none_or(|c| c.runs == 0);
        let test = &self.opts.test;
        let (ran, cases, command) = match &self.opts.judge {
            Judge::Adapter(adapter) => {
                let req = Request {
                    selection: None,
                    order: Order::AsWritten,
                    repeat: 1,
                    env: Vec::new(),
                    invocation: n,
                };
                let mut plan = adapter.plan(&req, &run_dir)?;
                plan.cmd.cwd = Some(dir.to_path_buf());
                let command = plan.cmd.display();
                let process = flakehound_runner::exec::logged_command(&plan, &log)?;
                let code = self.spawn(process, &log)?;
                let cases = adapter.read(&plan).map(|r| r.cases).unwrap_or_default();
                let found = find(&cases, test).and_then(|c| match c.outcome {
                    Outcome::Skipped => None,
                    o => Some(o.is_failure()),
                });
                let ran = match found {
                    Some(true) => Ran::Failed,
                    Some(false) => Ran::Passed,
                    // A crash that lost the results, once the commit is known to run the test.
                    None if !first && code != 0 => Ran::Failed,
                    None => Ran::Missing(format!(
                        "the test is not in the results (exit {code}): it does not build or collect here"
                    )),
                };
                let cases: Vec<TestCase> = cases
                    .into_iter()
                    .filter(|c| c.id == test.as_str() || found.is_some() && matches(c, test))
                    .collect();
                (ran, cases, command)
            }
            Judge::ExitStatus => {
                let cmd = Cmd::from_argv(&self.opts.command)
                    .ok_or_else(|| Error::Usage("empty test command".into()))?;
                let command = cmd.display();
                let mut process = std::process::Command::new(&cmd.program);
                process.args(&cmd.args).current_dir(dir);
                let code = self.spawn(process, &log)?;
                let ran = match code {
                    0 => Ran::Passed,
                    125 => Ran::Missing("the command exited 125 (skip)".into()),
                    _ => Ran::Failed,
                };
                let outcome = match ran {
                    Ran::Passed => Outcome::Passed,
                    _ => Outcome::Failed,
                };
                let case = TestCase {
                    id: test.clone(),
                    classname: None,
                    name: test.clone(),
                    file: None,
                    line: None,
                    suite: Vec::new(),
                    outcome,
                    attempts: vec![Attempt::new(outcome)],
                    properties: Vec::new(),
                    timestamp: None,
                };
                (ran, vec![case], command)
            }
        };
        let _ = std::fs::remove_dir_all(&run_dir);
        if !matches!(ran, Ran::Missing(_)) {
            self.executions += 1;
            self.runs.push(Execution {
                commit: sha.to_string(),
                failed: matches!(ran, Ran::Failed),
                cases,
                command,
                started,
                seconds: t0.elapsed().as_secs_f64(),
            });
        }
        Ok(ran)
    }

    /// Runs `cmd` in a process group of its own (stdin closed; output to `log` unless the
    /// command already has its streams), stopping it with its group when the stop flag rises.
    fn spawn(&self, mut cmd: std::process::Command, log: &Path) -> Result<i32> {
        let io = |e: std::io::Error| Error::Usage(format!("cannot run the command: {e}"));
        if std::fs::metadata(log).is_err() {
            let file = std::fs::File::create(log).map_err(io)?;
            let err = file.try_clone().map_err(io)?;
            cmd.stdout(file).stderr(err);
        }
        cmd.stdin(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(io)?;
        let mut wait = Duration::from_millis(1);
        loop {
            if let Some(status) = child.try_wait().map_err(io)? {
                #[cfg(unix)]
                let signal = std::os::unix::process::ExitStatusExt::signal(&status);
                #[cfg(not(unix))]
                let signal: Option<i32> = None;
                if self.stopped() {
                    return Err(Error::Interrupted);
                }
                return Ok(match (status.code(), signal) {
                    (Some(c), _) => c,
                    (None, Some(s)) => flakehound_model::exit::signalled(s),
                    (None, None) => 1,
                });
            }
            if self.stopped() {
                use flakehound_runner::exec::signals;
                signals::kill_group(child.id(), signals::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline {
                    if child.try_wait().map_err(io)?.is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                signals::kill_group(child.id(), signals::SIGKILL);
                let _ = child.wait();
                return Err(Error::Interrupted);
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(20));
        }
    }
}

/// The leading answer, as a short sha or `none`, and its probability.
fn leader(s: &Search, range: &[String]) -> (String, f64) {
    match s.answer() {
        Answer::None { probability } => ("none".into(), probability),
        Answer::Culprit {
            positions,
            probability,
        } => (
            short(&range[positions[positions.len() - 1]]).to_string(),
            probability,
        ),
    }
}

/// Whether `case` is the test named `test`: the same id, or an id that ends with it after a
/// separator (`tests/test_a.py::test_x` for `test_a.py::test_x`, `crate::tests::x` for
/// `tests::x`).
fn matches(case: &TestCase, test: &str) -> bool {
    case.id == test
        || ["::", "/", ".", " "]
            .iter()
            .any(|sep| case.id.ends_with(&format!("{sep}{test}")))
}

/// The test's case in the results: by exact id, else the one case whose id ends with it.
fn find<'c>(cases: &'c [TestCase], test: &str) -> Option<&'c TestCase> {
    if let Some(c) = cases.iter().rev().find(|c| c.id == test) {
        return Some(c);
    }
    let mut found = cases.iter().filter(|c| matches(c, test));
    let first = found.next()?;
    // Ambiguous: several tests end with the name.
    if found.any(|c| c.id != first.id) {
        return None;
    }
    cases.iter().rev().find(|c| c.id == first.id)
}

fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str) -> TestCase {
        TestCase {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            line: None,
            suite: Vec::new(),
            outcome: Outcome::Passed,
            attempts: Vec::new(),
            properties: Vec::new(),
            timestamp: None,
        }
    }

    #[test]
    fn tests_are_found_by_id_or_unique_suffix() {
        let cases = [case("tests/test_a.py::test_x"), case("tiny::tests::flaky")];
        assert_eq!(
            find(&cases, "tests/test_a.py::test_x").unwrap().id,
            cases[0].id
        );
        assert_eq!(find(&cases, "test_a.py::test_x").unwrap().id, cases[0].id);
        assert_eq!(find(&cases, "tests::flaky").unwrap().id, cases[1].id);
        assert!(find(&cases, "flak").is_none());
        let two = [case("a::x"), case("b::x")];
        assert!(find(&two, "x").is_none());
    }
}
