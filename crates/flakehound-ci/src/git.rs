//! Run metadata from a local git checkout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flakehound_model::RunMeta;

use crate::env::normalize_branch;

/// Answers of git about the directories given to [`prefetch`], by arguments. Only those
/// directories are answered from memory: library callers and tests that change a repository
/// between queries always ask git again.
type Memo =
    std::collections::HashMap<PathBuf, std::collections::HashMap<Vec<String>, Option<Vec<u8>>>>;
static MEMO: std::sync::Mutex<Option<Memo>> = std::sync::Mutex::new(None);

/// Asks git what a command needs about the checkout of `dir` (the work-tree root, `HEAD`, its
/// branch and committer time, the remotes and their URLs) in three concurrent calls, and
/// remembers every answer about `dir` for the rest of the process: a command's view of its
/// checkout is the one it had when it started.
///
/// Why: resolving a command's context, its project and the ingest metadata made eight `git`
/// calls one after the other (the root three times): 26 ms per command. Six concurrent calls
/// made once took 12–15 ms; three (root, `HEAD` and branch in one `rev-parse`; the remotes in
/// one `config --get-regexp`) save about 3 ms more (50 runs each, interleaved: 7.2 vs 4.6 ms).
/// The answers are stored under the questions the callers ask ([`from_git`], [`git_root`],
/// [`head_time`], `project_of`), which stay correct without a prefetch.
pub fn prefetch(dir: &Path) {
    MEMO.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(Memo::new)
        .entry(dir.to_path_buf())
        .or_default();
    std::thread::scope(|scope| {
        scope.spawn(|| prefetch_checkout(dir));
        scope.spawn(|| git(dir, &["log", "-1", "--format=%ct", "HEAD"]));
        scope.spawn(|| prefetch_remotes(dir));
    });
}

/// Stores `answer` as what `git <args>` in the prefetched `dir` says.
fn remember(dir: &Path, args: &[&str], answer: Option<Vec<u8>>) {
    if let Some(answers) = MEMO
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|m| m.get_mut(dir))
    {
        answers.insert(args.iter().map(|a| a.to_string()).collect(), answer);
    }
}

/// Root, `HEAD` and branch in one `rev-parse`. It fails as a whole outside a work tree or
/// before the first commit: then each question is asked on its own, as callers would.
fn prefetch_checkout(dir: &Path) {
    let out = run_git(
        dir,
        &[
            "rev-parse",
            "--show-toplevel",
            "HEAD",
            "--abbrev-ref",
            "HEAD",
        ],
    );
    let lines: Option<Vec<&[u8]>> = out.as_deref().map(|o| {
        o.strip_suffix(b"\n")
            .unwrap_or(o)
            .split(|&b| b == b'\n')
            .collect()
    });
    match lines.as_deref() {
        // A root with a line break in its name would make more lines: asked on its own then.
        Some([root, head, branch]) => {
            let line = |l: &[u8]| Some([l, b"\n"].concat());
            remember(dir, &["rev-parse", "--show-toplevel"], line(root));
            remember(dir, &["rev-parse", "HEAD"], line(head));
            remember(dir, &["rev-parse", "--abbrev-ref", "HEAD"], line(branch));
        }
        _ => {
            git(dir, &["rev-parse", "--show-toplevel"]);
            git(dir, &["rev-parse", "HEAD"]);
        }
    }
}

/// Every remote's URL in one `config --get-regexp`, stored as the answers of `git remote` (the
/// names, sorted as it sorts them) and of `git config --get remote.<name>.url` (the last value,
/// as `--get` gives). No match (no remotes) is what those questions answer without remotes.
fn prefetch_remotes(dir: &Path) {
    let out = run_git(dir, &["config", "--get-regexp", r"^remote\..*\.url$"]).unwrap_or_default();
    let mut urls: Vec<(String, String)> = Vec::new();
    for line in String::from_utf8_lossy(&out).lines() {
        let Some((key, url)) = line.split_once(' ') else {
            continue;
        };
        let Some(name) = key
            .strip_prefix("remote.")
            .and_then(|k| k.strip_suffix(".url"))
        else {
            continue;
        };
        match urls.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = url.to_string(),
            None => urls.push((name.to_string(), url.to_string())),
        }
    }
    let mut names: Vec<&str> = urls.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let listing: String = names.iter().map(|n| format!("{n}\n")).collect();
    remember(dir, &["remote"], Some(listing.into_bytes()));
    let origin = urls.iter().find(|(n, _)| n == "origin");
    remember(
        dir,
        &["config", "--get", "remote.origin.url"],
        origin.map(|(_, u)| format!("{u}\n").into_bytes()),
    );
    for (name, url) in &urls {
        let key = format!("remote.{name}.url");
        remember(
            dir,
            &["config", "--get", &key],
            Some(format!("{url}\n").into_bytes()),
        );
    }
}

/// Runs `git <args>` in `dir`; the raw stdout when git ran and exited with success. Answered
/// from memory for a directory given to [`prefetch`].
fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    {
        let memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        let Some(answers) = memo.as_ref().and_then(|m| m.get(dir)) else {
            drop(memo);
            return run_git(dir, args);
        };
        let key: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if let Some(answer) = answers.get(&key) {
            return answer.clone();
        }
    }
    let answer = run_git(dir, args);
    remember(dir, args, answer.clone());
    answer
}

fn run_git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// `git <args>` output as one trimmed, non-empty UTF-8 line.
pub(crate) fn git_line(dir: &Path, args: &[&str]) -> Option<String> {
    let out = String::from_utf8(git(dir, args)?).ok()?;
    let line = out.trim();
    (!line.is_empty()).then(|| line.to_string())
}

fn is_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Commit and branch of the git checkout containing `dir`, from `git rev-parse HEAD` and
/// `git rev-parse --abbrev-ref HEAD`.
///
/// Never fails: when git is missing, `dir` is not in a repository (or does not exist), the
/// repository has no commit yet, or git refuses it (e.g. "dubious ownership" of a checkout owned
/// by another user), the corresponding fields stay `None`, so the result may be entirely empty.
///
/// * `branch` is `None` on a detached HEAD (git prints `HEAD`), which is how most CI systems
///   check out.
/// * `provider` is `"local"` exactly when a commit was found, i.e. the metadata really describes
///   a local checkout; an empty result stays entirely empty so it can be merged with
///   [`RunMeta::fill_from`] without inventing anything. ([`crate::detect`] separately labels a
///   run `"local"` when no CI provider was detected.)
/// * All other fields are `None`.
pub fn from_git(dir: &Path) -> RunMeta {
    let commit = git_line(dir, &["rev-parse", "HEAD"]).filter(|c| is_object_id(c));
    let branch = match commit {
        // Without a commit `--abbrev-ref HEAD` fails anyway (unborn branch).
        Some(_) => {
            git_line(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).and_then(|b| normalize_branch(&b))
        }
        None => None,
    };
    RunMeta {
        provider: commit.as_ref().map(|_| "local".to_string()),
        commit,
        branch,
        ..RunMeta::default()
    }
}

/// Top-level directory of the git work tree containing `dir` (`git rev-parse --show-toplevel`);
/// `None` when git is missing, `dir` is not inside a work tree (a bare repository or its `.git`
/// directory included), or anything else fails.
pub fn git_root(dir: &Path) -> Option<PathBuf> {
    let mut out = git(dir, &["rev-parse", "--show-toplevel"])?;
    // Only the line terminator is removed: a path may legitimately end in spaces.
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    if out.last() == Some(&b'\r') {
        out.pop();
    }
    if out.is_empty() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(out).ok().map(PathBuf::from)
    }
}

/// Committer time (unix seconds) of `HEAD` in the checkout containing `dir`; `None` when there
/// is no commit or git is unavailable.
pub fn head_time(dir: &Path) -> Option<i64> {
    git_line(dir, &["log", "-1", "--format=%ct", "HEAD"])?
        .parse()
        .ok()
}

/// The branch `refs/remotes/origin/HEAD` points at (`main` for `origin/main`): the remote's
/// default branch as `git clone` recorded it. `None` when it is not set (CI checkouts often
/// fetch one ref only) or git is unavailable.
pub(crate) fn origin_head(dir: &Path) -> Option<String> {
    let r = git_line(dir, &["symbolic-ref", "-q", "refs/remotes/origin/HEAD"])?;
    r.strip_prefix("refs/remotes/origin/")
        .filter(|b| !b.is_empty())
        .map(str::to_string)
}
