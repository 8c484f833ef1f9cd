//! Runs [`flakehound_detective::polluter::find`] from the command line and prints its report as
//! JSON: the driver of `benches/polluter_vs_dtp.sh`, independent of the CLI's flags.
//!
//! ```text
//! cargo run --release -p flakehound-detective --example polluter -- \
//!     --victim ID --candidates FILE [--suite FILE] [--confirm] [--votes K] [--no-cleaners] \
//!     [--max-runs N] [--cwd DIR] -- <test command...>
//! ```
//!
//! `FILE`s hold one test id a line (blank lines and lines starting with `#` are skipped).
//! `--cwd` runs everything in `DIR` (the process changes into it, so the runner adapter sees it
//! too: pytest then gets the node ids on its command line and collects only their files).

use std::path::PathBuf;
use std::process::ExitCode;

use flakehound_detective::Lab;
use flakehound_detective::polluter::{self, Options};
use flakehound_runner::TestRef;

const USAGE: &str = "usage: polluter --victim ID --candidates FILE [--suite FILE] [--confirm] \
                     [--votes K] [--no-cleaners] [--max-runs N] [--cwd DIR] -- COMMAND...";

/// A test as named on the command line: the id, its file the part before the first `::`.
fn test_ref(id: &str) -> TestRef {
    TestRef {
        id: id.to_string(),
        classname: None,
        name: id.rsplit("::").next().unwrap_or(id).to_string(),
        file: id.split_once("::").map(|(f, _)| f.to_string()),
        suite: Vec::new(),
    }
}

fn read_ids(path: &str) -> Result<Vec<TestRef>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(test_ref)
        .collect())
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut victim = None;
    let mut candidates = None;
    let mut cwd: Option<PathBuf> = None;
    let mut opts = Options::default();
    let mut command = Vec::new();
    let value = |args: &mut dyn Iterator<Item = String>, flag: &str| {
        args.next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--victim" => victim = Some(value(&mut args, &a)?),
            "--candidates" => candidates = Some(read_ids(&value(&mut args, &a)?)?),
            "--suite" => opts.suite = read_ids(&value(&mut args, &a)?)?,
            "--confirm" => opts.confirm = true,
            "--no-cleaners" => opts.cleaners = false,
            "--votes" => {
                let v = value(&mut args, &a)?;
                opts.votes = v
                    .parse()
                    .map_err(|_| format!("--votes: not a number: {v}"))?;
            }
            "--max-runs" => {
                let v = value(&mut args, &a)?;
                opts.max_runs = Some(
                    v.parse()
                        .map_err(|_| format!("--max-runs: not a number: {v}"))?,
                );
            }
            "--cwd" => cwd = Some(PathBuf::from(value(&mut args, &a)?)),
            "--" => {
                command.extend(args.by_ref());
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let victim = victim.ok_or_else(|| format!("--victim is required\n{USAGE}"))?;
    let candidates = candidates.ok_or_else(|| format!("--candidates is required\n{USAGE}"))?;
    if command.is_empty() {
        return Err(format!("no test command after --\n{USAGE}"));
    }
    if let Some(dir) = &cwd {
        std::env::set_current_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let adapter = flakehound_runner::detect(&command, None, None).map_err(|e| e.to_string())?;
    let scratch = tempfile::tempdir().map_err(|e| format!("scratch directory: {e}"))?;
    let lab = Lab::new(adapter.as_ref(), scratch.path().to_path_buf());
    let report =
        polluter::find(&lab, &test_ref(&victim), &candidates, &opts).map_err(|e| e.to_string())?;
    eprintln!("{}", report.summary);
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("polluter: {e}");
            ExitCode::from(2)
        }
    }
}
