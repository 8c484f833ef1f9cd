//! The committed CODEOWNERS of `HEAD` (what `flakehound upload` sends), in a throwaway git
//! repository.

use std::path::Path;

use flakehound_owners::committed::{Unusable, committed};

/// `git` in the throwaway repository, committing at a fixed time.
fn git(root: &Path, args: &[&str]) -> String {
    flakehound_testkit::git_at(root, "2026-11-20T10:00:00+01:00", args)
}

#[test]
fn the_committed_file_where_github_looks_with_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Not a repository, then a repository without a commit: nothing.
    assert_eq!(committed(root), None);
    git(root, &["init", "-q", "-b", "main"]);
    assert_eq!(committed(root), None);
    std::fs::write(root.join("README"), "x\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "one"]);
    assert_eq!(committed(root), None);

    // docs/ and the root: the root's wins; an uncommitted .github/ one is not the commit's.
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/CODEOWNERS"), "* @docs\n").unwrap();
    std::fs::write(root.join("CODEOWNERS"), "* @root\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "two"]);
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::write(root.join(".github/CODEOWNERS"), "* @uncommitted\n").unwrap();
    let head = git(root, &["rev-parse", "HEAD"]);
    let got = committed(root).unwrap().unwrap();
    assert_eq!(got.path, "CODEOWNERS");
    assert_eq!(got.text, "* @root\n");
    assert_eq!(got.commit, head);
    assert_eq!(got.commit_time, "2026-11-20T10:00:00+01:00");

    // Committed under .github/: that one; from a subdirectory too.
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "three"]);
    let got = committed(root.join("docs")).unwrap().unwrap();
    assert_eq!(
        (got.path, got.text.as_str()),
        (".github/CODEOWNERS", "* @uncommitted\n")
    );

    // 3 MB or more: not used, and said so.
    let big = "# padding\n".repeat(320_000);
    std::fs::write(root.join(".github/CODEOWNERS"), &big).unwrap();
    git(root, &["commit", "-q", "-am", "big"]);
    assert_eq!(
        committed(root),
        Some(Err(Unusable::TooLarge {
            path: ".github/CODEOWNERS",
            size: big.len() as u64
        }))
    );
}
