//! Run metadata from a local git checkout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flakehound_model::RunMeta;

use crate::env::normalize_branch;

/// Runs `git <args>` in `dir`; the raw stdout when git ran and exited with success.
fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
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
