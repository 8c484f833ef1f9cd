//! Who owns a test: CODEOWNERS first (GitHub rules), else `git blame`.
//!
//! Pure library: no network, no writes; git is run read-only through
//! [`std::process::Command`] and every failure degrades to `None`.
//!
//! # CODEOWNERS semantics ([`CodeOwners`])
//!
//! * **Location** ([`CodeOwners::discover`]): `.github/CODEOWNERS`, then
//!   `CODEOWNERS`, then `docs/CODEOWNERS` under the repository root; the first
//!   found is used. A file of 3 MB or more is ignored, as GitHub does.
//! * **Lines**: `pattern owner…`. Blank lines and lines starting with `#` are
//!   comments; an owner token starting with `#` starts an inline comment
//!   (`*.js @js-owner # comment`). Owners are `@user`, `@org/team` or an
//!   e-mail address (checked syntactically only).
//! * **Last matching pattern wins** ([`CodeOwners::owners_of`]). A matching
//!   entry with no owners *un-assigns* the path (`owners_of` returns `None`,
//!   [`CodeOwners::matching_rule`] still returns that rule).
//! * **Patterns** are gitignore-like, matched case-sensitively against the
//!   repository-relative path (`\` is accepted as a separator; a leading `./`
//!   or `/` on the queried path is ignored):
//!   - `*` matches any run of characters except `/`; `?` one character except `/`.
//!   - A pattern with no `/` (other than a trailing one) matches at any depth
//!     (`*.js`, `apps/`); a leading or middle `/` anchors it to the root
//!     (`/build/logs/`, `docs/*`).
//!   - A pattern matches a file or any directory containing it
//!     (`/docs` owns everything under `docs/`, `**/logs` any `logs` dir).
//!   - A trailing `/` matches directories only, i.e. their whole contents.
//!   - A final lone `*` after a `/` matches direct children only
//!     (`docs/*` owns `docs/a.md`, not `docs/sub/b.md`), as GitHub documents.
//!   - `**` as a whole segment: leading `**/` any depth, `/**/` zero or more
//!     directories, trailing `/**` everything inside; elsewhere it acts as `*`.
//!   - `\` escapes the next character: `\#foo` is a pattern for a file named
//!     `#foo` (GitHub documents this as unsupported; it is harmless here),
//!     `\ ` keeps a space inside the pattern.
//! * **Invalid lines are skipped and reported** with their 1-based line
//!   number ([`CodeOwners::errors`]), never failing the whole file, like
//!   GitHub: `!negation` and `[ ]` character ranges (which GitHub does not
//!   support), malformed owners, empty path segments (`a//b`).
//! * **GitLab sections** (`[Section]`, `^[Optional]`, `[Section][2]`,
//!   optionally followed by default owners) are tolerated: the header is not a
//!   rule; its default owners are given to owner-less entries in that section.
//!   Matching stays GitHub's single "last match wins" over the whole file
//!   (GitLab's per-section union of owners is not modelled).
//!
//! # Blame fallback ([`blame_owner`])
//!
//! `git blame --line-porcelain -L N,+1 -- file` for a line, or the author of
//! most lines of the file when no line is known. Uncommitted lines are skipped.
//!
//! # Combined ([`resolve`])
//!
//! CODEOWNERS owners when the last matching rule has owners; otherwise (no
//! file, no match, un-assigned) the blamed author as `Name <email>`.

mod blame;
mod cache;
mod codeowners;
pub mod committed;

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

pub use blame::{Owner, blame_owner};
pub use cache::Owners;
pub use codeowners::{CODEOWNERS_LOCATIONS, CodeOwners, MAX_CODEOWNERS_BYTES, ParseError, Rule};

/// Where an [`Ownership`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnershipSource {
    Codeowners,
    Blame,
}

impl OwnershipSource {
    /// `"codeowners"` or `"blame"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Codeowners => "codeowners",
            Self::Blame => "blame",
        }
    }
}

impl std::fmt::Display for OwnershipSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The owners of a test and how they were found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    /// CODEOWNERS owners (`@user`, `@org/team`, e-mail) or one `Name <email>`.
    pub owners: Vec<String>,
    pub source: OwnershipSource,
}

/// Owners of `file` (relative to `repo_root`, or absolute inside it): from
/// CODEOWNERS when a rule with owners matches, else from `git blame` of `line`
/// (or of the whole file). `None` when neither yields anyone.
pub fn resolve(
    repo_root: impl AsRef<Path>,
    file: impl AsRef<Path>,
    line: Option<u32>,
) -> Option<Ownership> {
    let root = repo_root.as_ref();
    resolve_with(
        root,
        CodeOwners::discover(root).ok().flatten().as_ref(),
        file,
        line,
    )
}

/// Like [`resolve`] with an already-loaded CODEOWNERS (for resolving many
/// tests without re-reading the file).
pub fn resolve_with(
    repo_root: impl AsRef<Path>,
    codeowners: Option<&CodeOwners>,
    file: impl AsRef<Path>,
    line: Option<u32>,
) -> Option<Ownership> {
    let root = repo_root.as_ref();
    let file = file.as_ref();
    if let (Some(co), Some(rel)) = (codeowners, repo_relative(root, file)) {
        if let Some(owners) = co.owners_of(&rel) {
            return Some(Ownership {
                owners: owners.to_vec(),
                source: OwnershipSource::Codeowners,
            });
        }
    }
    blame_owner(root, file, line).map(|o| Ownership {
        owners: vec![o.display()],
        source: OwnershipSource::Blame,
    })
}

/// `file` as a `/`-separated path relative to `root`, or `None` when it lies
/// outside (or climbs out with `..`).
fn repo_relative(root: &Path, file: &Path) -> Option<String> {
    let rel = if file.is_absolute() {
        match file.strip_prefix(root) {
            Ok(r) => r.to_path_buf(),
            Err(_) => {
                let croot = root.canonicalize().ok()?;
                let cfile = file.canonicalize().ok()?;
                cfile.strip_prefix(&croot).ok()?.to_path_buf()
            }
        }
    } else {
        file.to_path_buf()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The source file of a test, for owner lookup: the report's `file` when given, else the path
/// part of a canonical id that starts with one (`tests/test_x.py::TestY::t`,
/// `src/app.test.ts › suite › t`). `None` for ids that name no file (go packages, Rust paths).
pub fn test_file(id: &str, file: Option<&str>) -> Option<String> {
    if let Some(f) = file.map(str::trim).filter(|f| !f.is_empty()) {
        return Some(f.to_string());
    }
    let head = id
        .split("::")
        .next()
        .unwrap_or(id)
        .split(" › ")
        .next()
        .unwrap_or(id)
        .trim();
    let name = head.rsplit('/').next().unwrap_or(head);
    let looks_like_file = name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    (looks_like_file && (head != id || head.contains('/'))).then(|| head.to_string())
}

#[cfg(test)]
mod test_file_tests {
    use super::test_file;

    #[test]
    fn finds_the_file_of_an_id() {
        assert_eq!(test_file("x", Some("a/b.py")).as_deref(), Some("a/b.py"));
        assert_eq!(
            test_file("tests/test_x.py::TestY::t[a::b]", None).as_deref(),
            Some("tests/test_x.py")
        );
        assert_eq!(
            test_file("src/app.test.ts › suite › t", None).as_deref(),
            Some("src/app.test.ts")
        );
        assert_eq!(test_file("github.com/acme/pkg::TestX/sub", None), None);
        assert_eq!(test_file("my-crate::tests::it_works", None), None);
        assert_eq!(test_file("test_name", None), None);
    }
}
