//! `git blame` fallback and `resolve`, in a throwaway git repository.

use std::path::Path;
use std::process::Command;

use flakehound_owners::{CodeOwners, Owner, OwnershipSource, blame_owner, resolve, resolve_with};

fn git(root: &Path, who: Option<(&str, &str)>, args: &[&str]) {
    let mut cmd = Command::new("git");
    cmd.current_dir(root)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    let (name, email) = who.unwrap_or(("Setup", "setup@example.com"));
    for (k, v) in [
        ("GIT_AUTHOR_NAME", name),
        ("GIT_AUTHOR_EMAIL", email),
        ("GIT_COMMITTER_NAME", name),
        ("GIT_COMMITTER_EMAIL", email),
    ] {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const ADA: (&str, &str) = ("Ada Lovelace", "ada@example.com");
const BOB: (&str, &str) = ("Bob Builder", "bob@example.com");

/// Ada writes lines 1-3 of tests/test_a.py, Bob then adds line 4.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, None, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(
        root.join("tests/test_a.py"),
        "import os\n\ndef test_one():\n",
    )
    .unwrap();
    git(root, Some(ADA), &["add", "."]);
    git(root, Some(ADA), &["commit", "-q", "-m", "ada"]);
    std::fs::write(
        root.join("tests/test_a.py"),
        "import os\n\ndef test_one():\n    assert os.sep\n",
    )
    .unwrap();
    git(root, Some(BOB), &["commit", "-q", "-am", "bob"]);
    dir
}

fn owner((name, email): (&str, &str)) -> Owner {
    Owner {
        name: name.into(),
        email: email.into(),
    }
}

#[test]
fn blames_lines_and_whole_files() {
    let dir = repo();
    let root = dir.path();
    assert_eq!(
        blame_owner(root, "tests/test_a.py", Some(3)),
        Some(owner(ADA))
    );
    assert_eq!(
        blame_owner(root, "tests/test_a.py", Some(4)),
        Some(owner(BOB))
    );
    // Absolute paths work too.
    assert_eq!(
        blame_owner(root, root.join("tests/test_a.py"), Some(4)),
        Some(owner(BOB))
    );
    // Whole file: Ada wrote 3 of 4 lines.
    assert_eq!(blame_owner(root, "tests/test_a.py", None), Some(owner(ADA)));
    assert_eq!(owner(ADA).display(), "Ada Lovelace <ada@example.com>");
}

#[test]
fn blame_failures_are_none() {
    let dir = repo();
    let root = dir.path();
    assert_eq!(blame_owner(root, "tests/test_a.py", Some(0)), None);
    assert_eq!(blame_owner(root, "tests/test_a.py", Some(99)), None);
    assert_eq!(blame_owner(root, "missing.py", None), None);
    std::fs::write(root.join("untracked.py"), "x\n").unwrap();
    assert_eq!(blame_owner(root, "untracked.py", Some(1)), None);
    // An uncommitted edit is not attributed to anyone.
    std::fs::write(
        root.join("tests/test_a.py"),
        "import os\n\ndef test_one():\n    pass\n",
    )
    .unwrap();
    assert_eq!(blame_owner(root, "tests/test_a.py", Some(4)), None);
    assert_eq!(
        blame_owner(root, "tests/test_a.py", Some(1)),
        Some(owner(ADA))
    );
    // Not a repository at all.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("a.py"), "x\n").unwrap();
    assert_eq!(blame_owner(plain.path(), "a.py", Some(1)), None);
    assert_eq!(resolve(plain.path(), "a.py", Some(1)), None);
}

#[test]
fn resolve_prefers_codeowners_then_blame() {
    let dir = repo();
    let root = dir.path();
    // No CODEOWNERS: blame.
    let got = resolve(root, "tests/test_a.py", Some(4)).unwrap();
    assert_eq!(got.source, OwnershipSource::Blame);
    assert_eq!(got.owners, vec!["Bob Builder <bob@example.com>"]);

    // CODEOWNERS matching: it wins (even uncommitted; discover reads the work tree).
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::write(
        root.join(".github/CODEOWNERS"),
        "/tests/ @qa @org/testers\n/tests/legacy/\n",
    )
    .unwrap();
    let got = resolve(root, "tests/test_a.py", Some(4)).unwrap();
    assert_eq!(got.source, OwnershipSource::Codeowners);
    assert_eq!(got.owners, vec!["@qa", "@org/testers"]);
    assert_eq!(got.source.to_string(), "codeowners");
    // Absolute path inside the repo is made relative for matching.
    let got = resolve(root, root.join("tests/test_a.py"), None).unwrap();
    assert_eq!(got.source, OwnershipSource::Codeowners);

    // Un-assigned by CODEOWNERS: falls back to blame.
    std::fs::create_dir_all(root.join("tests/legacy")).unwrap();
    std::fs::write(root.join("tests/legacy/test_old.py"), "def test_old():\n").unwrap();
    git(root, Some(BOB), &["add", "tests/legacy"]);
    git(root, Some(BOB), &["commit", "-q", "-m", "legacy"]);
    let got = resolve(root, "tests/legacy/test_old.py", Some(1)).unwrap();
    assert_eq!(got.source, OwnershipSource::Blame);
    assert_eq!(got.owners, vec!["Bob Builder <bob@example.com>"]);

    // resolve_with reuses a loaded file; serde uses the lowercase source names.
    let co = CodeOwners::discover(root).unwrap().unwrap();
    let got = resolve_with(root, Some(&co), "./tests/test_a.py", Some(1)).unwrap();
    assert_eq!(got.source, OwnershipSource::Codeowners);
    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(json["source"], "codeowners");
    assert_eq!(json["owners"][0], "@qa");
}
