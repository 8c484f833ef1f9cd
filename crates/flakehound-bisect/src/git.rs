//! Git plumbing: revisions, the range in first-parent order, a merge's branch, and detached
//! worktrees that are always removed (also when the bisection is interrupted or fails).

use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A repository, by its top-level directory.
#[derive(Clone, Debug)]
pub struct Repo {
    pub root: PathBuf,
}

/// What the output says about a commit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Commit {
    pub sha: String,
    pub author: String,
    /// Author date, ISO 8601.
    pub date: String,
    pub subject: String,
    #[serde(skip)]
    pub parents: Vec<String>,
}

impl Commit {
    pub fn short(&self) -> &str {
        short(&self.sha)
    }
}

/// The first 10 characters of a sha.
pub fn short(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}

impl Repo {
    /// The repository containing `dir`.
    pub fn discover(dir: &Path) -> Result<Repo> {
        let out = git_in(dir, &["rev-parse", "--show-toplevel"]).map_err(|_| {
            Error::Usage(format!("{} is not inside a git repository", dir.display()))
        })?;
        Ok(Repo {
            root: PathBuf::from(out.trim()),
        })
    }

    /// Runs git in the repository; its trimmed stdout, or an error with its stderr.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        git_in(&self.root, args)
    }

    /// The full sha of the commit `rev` names.
    pub fn resolve(&self, rev: &str) -> Result<String> {
        if rev.starts_with('-') {
            return Err(Error::Usage(format!("{rev:?} is not a revision")));
        }
        self.git(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .map(|s| s.trim().to_string())
        .map_err(|_| {
            Error::Usage(format!(
                "{rev:?} does not name a commit in {}",
                self.root.display()
            ))
        })
    }

    /// Whether `a` is an ancestor of `b` (or `b` itself).
    pub fn is_ancestor(&self, a: &str, b: &str) -> bool {
        Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(["merge-base", "--is-ancestor", a, b])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The range from `good` to `bad` in first-parent order: `good` first, `bad` last.
    pub fn range(&self, good: &str, bad: &str) -> Result<Vec<String>> {
        if good == bad {
            return Err(Error::Usage(format!(
                "the good and the bad commit are the same ({}): nothing to bisect",
                short(good)
            )));
        }
        if !self.is_ancestor(good, bad) {
            return Err(Error::Usage(format!(
                "the good commit {} is not an ancestor of the bad commit {}",
                short(good),
                short(bad)
            )));
        }
        let list = self.git(&[
            "rev-list",
            "--first-parent",
            "--reverse",
            bad,
            &format!("^{good}"),
        ])?;
        let mut range = vec![good.to_string()];
        range.extend(
            list.lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty()),
        );
        if range.len() < 2 {
            return Err(Error::Usage(format!(
                "no commits between {} and {} in first-parent order",
                short(good),
                short(bad)
            )));
        }
        Ok(range)
    }

    /// Sha, author, date, subject and parents of `sha`.
    pub fn commit(&self, sha: &str) -> Result<Commit> {
        let out = self.git(&["show", "-s", "--format=%H%x00%an%x00%aI%x00%s%x00%P", sha])?;
        let mut f = out.trim_end_matches('\n').split('\0');
        let mut next = || f.next().unwrap_or_default().to_string();
        let (sha, author, date, subject, parents) = (next(), next(), next(), next(), next());
        Ok(Commit {
            sha,
            author,
            date,
            subject,
            parents: parents.split_whitespace().map(String::from).collect(),
        })
    }

    /// For a merge commit: the merge base and the merged branch's commits in first-parent order
    /// (the base first, the merged parent last). `None` for a commit with one parent.
    pub fn merged_branch(&self, merge: &Commit) -> Result<Option<Vec<String>>> {
        let [first, second, ..] = merge.parents.as_slice() else {
            return Ok(None);
        };
        let base = self.git(&["merge-base", first, second])?.trim().to_string();
        if base.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.range(&base, second)?))
    }
}

fn git_in(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Usage(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Error::Git(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Detached worktrees of tested commits under one temporary directory. Dropping it removes
/// every worktree and prunes git's records of them, so the user's repository ends as it was.
pub struct Worktrees {
    repo: Repo,
    dir: Option<tempfile::TempDir>,
    made: Vec<PathBuf>,
}

impl Worktrees {
    pub fn new(repo: &Repo) -> Result<Worktrees> {
        let dir = tempfile::Builder::new()
            .prefix("flakehound-bisect-")
            .tempdir()
            .map_err(|e| Error::Usage(format!("cannot create a temporary directory: {e}")))?;
        Ok(Worktrees {
            repo: repo.clone(),
            dir: Some(dir),
            made: Vec::new(),
        })
    }

    /// The temporary directory holding the worktrees.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// Checks `sha` out, detached, in a new worktree; its path.
    pub fn add(&mut self, sha: &str) -> Result<PathBuf> {
        let path = self
            .path()
            .join(format!("{}-{}", short(sha), self.made.len()));
        let p = path.to_string_lossy().into_owned();
        self.repo
            .git(&["worktree", "add", "--detach", "--quiet", &p, sha])?;
        self.made.push(path.clone());
        Ok(path)
    }

    /// Removes every worktree now (what dropping does).
    pub fn remove_all(&mut self) {
        for path in self.made.drain(..) {
            let p = path.to_string_lossy().into_owned();
            let _ = self
                .repo
                .git(&["worktree", "remove", "--force", "--force", &p]);
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
        let _ = self.repo.git(&["worktree", "prune"]);
    }
}

impl Drop for Worktrees {
    fn drop(&mut self) {
        self.remove_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(commits: usize) -> (tempfile::TempDir, Repo, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("git")
                .current_dir(dir.path())
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        run(&["init", "-q"]);
        run(&["config", "user.email", "t@example.com"]);
        run(&["config", "user.name", "T"]);
        let mut shas = Vec::new();
        for i in 0..commits {
            std::fs::write(dir.path().join("f"), i.to_string()).unwrap();
            run(&["add", "-A"]);
            run(&["commit", "-q", "-m", &format!("c{i}")]);
            shas.push(run(&["rev-parse", "HEAD"]));
        }
        let repo = Repo::discover(dir.path()).unwrap();
        (dir, repo, shas)
    }

    #[test]
    fn ranges_and_their_errors() {
        let (_dir, repo, shas) = repo(4);
        assert_eq!(repo.range(&shas[0], &shas[3]).unwrap(), shas);
        assert_eq!(repo.resolve("HEAD~3").unwrap(), shas[0]);
        let e = repo.resolve("no-such-rev").unwrap_err().to_string();
        assert!(e.contains("does not name a commit"), "{e}");
        assert!(repo.resolve("--all").is_err());
        let e = repo.range(&shas[3], &shas[0]).unwrap_err().to_string();
        assert!(e.contains("not an ancestor"), "{e}");
        let e = repo.range(&shas[1], &shas[1]).unwrap_err().to_string();
        assert!(e.contains("nothing to bisect"), "{e}");
        let c = repo.commit(&shas[2]).unwrap();
        assert_eq!((c.subject.as_str(), c.author.as_str()), ("c2", "T"));
        assert_eq!(c.parents, [shas[1].clone()]);
        assert!(repo.merged_branch(&c).unwrap().is_none());
    }

    #[test]
    fn worktrees_are_removed_when_dropped() {
        let (_dir, repo, shas) = repo(2);
        let path;
        {
            let mut w = Worktrees::new(&repo).unwrap();
            path = w.add(&shas[0]).unwrap();
            assert_eq!(std::fs::read_to_string(path.join("f")).unwrap(), "0");
            assert_eq!(repo.git(&["worktree", "list"]).unwrap().lines().count(), 2);
        }
        assert!(!path.exists());
        assert_eq!(repo.git(&["worktree", "list"]).unwrap().lines().count(), 1);
    }
}
