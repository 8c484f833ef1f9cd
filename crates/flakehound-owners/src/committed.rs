//! The CODEOWNERS file of the checked-out commit, read from git (what `flakehound upload`
//! sends the team server).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::codeowners::{CODEOWNERS_LOCATIONS, MAX_CODEOWNERS_BYTES};

/// The CODEOWNERS of `HEAD`, with the commit it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Where it is (`.github/CODEOWNERS`, `CODEOWNERS` or `docs/CODEOWNERS`).
    pub path: &'static str,
    /// Its text (bytes that are not UTF-8 replaced, as [`crate::CodeOwners::discover`] does).
    pub text: String,
    /// `HEAD`'s commit id and committer time (RFC 3339, as git prints it: `%cI`).
    pub commit: String,
    pub commit_time: String,
}

/// Why the committed CODEOWNERS cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// 3 MB or more: GitHub ignores it, and so does the server.
    TooLarge { path: &'static str, size: u64 },
    /// git failed to read a file it listed.
    Unreadable { path: &'static str, reason: String },
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::TooLarge { path, size } => write!(
                f,
                "{path} is {size} bytes: CODEOWNERS files of 3 MB or more are ignored (by GitHub too)"
            ),
            Unusable::Unreadable { path, reason } => write!(f, "cannot read {path}: {reason}"),
        }
    }
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["-c", "core.quotePath=false"])
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The CODEOWNERS file of the commit checked out in the work tree at `repo_root`, looked up
/// where GitHub looks ([`CODEOWNERS_LOCATIONS`], first found wins) in `HEAD`'s tree: the
/// committed file, not the work tree's (an uncommitted edit is not the repository's
/// ownership, and the commit's time orders uploads on the server). Symbolic links and
/// submodules are not files there.
///
/// `None` when `repo_root` is not a git work tree with a commit, or `HEAD` has no CODEOWNERS
/// (or git is missing); `Some(Err)` when the file cannot be used. Never panics.
pub fn committed(repo_root: impl AsRef<Path>) -> Option<Result<Committed, Unusable>> {
    let root = repo_root.as_ref();
    let head = git(root, &["log", "-1", "--format=%H%n%cI", "HEAD"]).ok()?;
    let head = String::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let (commit, commit_time) = (lines.next()?.to_string(), lines.next()?.to_string());
    let mut args = vec!["ls-tree", "--full-tree", "-l", "-z", "HEAD", "--"];
    args.extend(CODEOWNERS_LOCATIONS);
    let listing = git(root, &args).ok()?;
    // `<mode> blob <id> <size>\t<path>` entries, NUL-terminated.
    let mut found: Vec<(&'static str, String, u64)> = Vec::new();
    for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((head, path)) = entry.split_once('\t') else {
            continue;
        };
        let fields: Vec<&str> = head.split_whitespace().collect();
        let [mode, "blob", id, size] = fields[..] else {
            continue;
        };
        if !matches!(mode, "100644" | "100755") {
            continue;
        }
        if let Some(&location) = CODEOWNERS_LOCATIONS.iter().find(|l| **l == path) {
            found.push((location, id.to_string(), size.parse().unwrap_or(u64::MAX)));
        }
    }
    let (path, id, size) = CODEOWNERS_LOCATIONS
        .iter()
        .find_map(|l| found.iter().find(|(p, _, _)| p == l).cloned())?;
    if size >= MAX_CODEOWNERS_BYTES {
        return Some(Err(Unusable::TooLarge { path, size }));
    }
    Some(
        git(root, &["cat-file", "blob", &id])
            .map(|bytes| Committed {
                path,
                text: String::from_utf8_lossy(&bytes).into_owned(),
                commit,
                commit_time,
            })
            .map_err(|reason| Unusable::Unreadable { path, reason }),
    )
}
