//! `git blame` fallback: who wrote a test's line (or most of its file).

use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// A commit author as reported by `git blame`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    pub name: String,
    /// Without the angle brackets; may be empty.
    pub email: String,
}

impl Owner {
    /// `Name <email>`, or just the name when there is no e-mail.
    pub fn display(&self) -> String {
        if self.email.is_empty() {
            self.name.clone()
        } else {
            format!("{} <{}>", self.name, self.email)
        }
    }
}

/// The author of `file`'s line `line` (1-based), or — with no line — the
/// author of most of the file's lines (ties go to the author seen first).
///
/// Runs `git -C repo_root blame --line-porcelain [-L line,+1] -- file`.
/// `file` is relative to `repo_root` or absolute. Returns `None` on any failure
/// (no git, not a repository, untracked file, line out of range, line 0) and
/// for lines not committed yet. Never panics.
pub fn blame_owner(
    repo_root: impl AsRef<Path>,
    file: impl AsRef<Path>,
    line: Option<u32>,
) -> Option<Owner> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo_root.as_ref()).args([
        "-c",
        "core.quotePath=false",
        "blame",
        "--line-porcelain",
    ]);
    if let Some(l) = line {
        if l == 0 {
            return None;
        }
        cmd.arg("-L").arg(format!("{l},+1"));
    }
    cmd.arg("--")
        .arg(file.as_ref())
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    most_frequent(&parse_line_porcelain(&String::from_utf8_lossy(&out.stdout)))
}

/// One `Owner` per blamed line, skipping uncommitted lines.
fn parse_line_porcelain(text: &str) -> Vec<Owner> {
    let mut owners = Vec::new();
    let mut name: Option<&str> = None;
    let mut email: Option<&str> = None;
    let mut uncommitted = false;
    let mut header = true;
    for l in text.lines() {
        if l.starts_with('\t') {
            // Content line: ends this line's record.
            if let (false, Some(n)) = (uncommitted, name) {
                owners.push(Owner {
                    name: n.to_string(),
                    email: email.unwrap_or("").to_string(),
                });
            }
            name = None;
            email = None;
            uncommitted = false;
            header = true;
            continue;
        }
        if header {
            header = false;
            // "<sha> <orig> <final> [<count>]"; the all-zero sha marks uncommitted lines.
            let sha = l.split(' ').next().unwrap_or("");
            uncommitted = !sha.is_empty() && sha.bytes().all(|b| b == b'0');
            continue;
        }
        if let Some(v) = l.strip_prefix("author ") {
            name = Some(v);
        } else if let Some(v) = l.strip_prefix("author-mail ") {
            email = Some(v.trim_start_matches('<').trim_end_matches('>'));
        }
    }
    owners
}

fn most_frequent(owners: &[Owner]) -> Option<Owner> {
    let mut counts: Vec<(&Owner, usize)> = Vec::new();
    for o in owners {
        match counts.iter_mut().find(|(k, _)| *k == o) {
            Some((_, c)) => *c += 1,
            None => counts.push((o, 1)),
        }
    }
    // max_by_key returns the last maximum; iterate reversed so ties go to the first seen.
    counts
        .into_iter()
        .rev()
        .max_by_key(|(_, c)| *c)
        .map(|(o, _)| o.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_porcelain_and_skips_uncommitted() {
        let text = "\
1111111111111111111111111111111111111111 1 1 2
author Ada
author-mail <ada@example.com>
author-time 1
filename a.rs
\tfn a() {}
1111111111111111111111111111111111111111 2 2
author Ada
author-mail <ada@example.com>
filename a.rs
\tfn b() {}
0000000000000000000000000000000000000000 3 3 1
author Not Committed Yet
author-mail <not.committed.yet>
filename a.rs
\tfn c() {}
";
        let owners = parse_line_porcelain(text);
        assert_eq!(owners.len(), 2);
        assert_eq!(owners[0].email, "ada@example.com");
    }

    #[test]
    fn ties_go_to_first_seen() {
        let a = Owner {
            name: "A".into(),
            email: "a@x.io".into(),
        };
        let b = Owner {
            name: "B".into(),
            email: "b@x.io".into(),
        };
        assert_eq!(most_frequent(&[a.clone(), b.clone()]), Some(a.clone()));
        assert_eq!(most_frequent(&[a.clone(), b.clone(), b.clone()]), Some(b));
        assert_eq!(most_frequent(&[]), None);
    }
}
