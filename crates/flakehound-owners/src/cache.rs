//! Owners of many tests of one repository: CODEOWNERS read once, git blame only for the tests
//! asked about.

use std::path::{Path, PathBuf};

use crate::CodeOwners;

/// Owners of the tests of the repository at a root; CODEOWNERS loaded once.
#[derive(Debug, Clone)]
pub struct Owners {
    root: PathBuf,
    codeowners: Option<CodeOwners>,
}

impl Owners {
    /// Reads the CODEOWNERS of the repository at `root` (none, or an unreadable one, leaves
    /// git blame alone to answer).
    pub fn load(root: &Path) -> Owners {
        Owners {
            root: root.to_path_buf(),
            codeowners: CodeOwners::discover(root).ok().flatten(),
        }
    }

    /// Owners of a test, from its id and its file when known (empty when unknown).
    pub fn of(&self, id: &str, file: Option<&str>) -> Vec<String> {
        let Some(file) = crate::test_file(id, file) else {
            return Vec::new();
        };
        crate::resolve_with(&self.root, self.codeowners.as_ref(), &file, None)
            .map(|o| o.owners)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Owners;

    #[test]
    fn codeowners_are_read_once_and_answer_by_test_file() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(".github")).unwrap();
        std::fs::write(
            root.path().join(".github/CODEOWNERS"),
            "*.py @acme/python\ntests/api/ @acme/api\n",
        )
        .unwrap();
        let owners = Owners::load(root.path());
        // The file from the id (a pytest node id), or as given.
        assert_eq!(
            owners.of("tests/api/test_x.py::test_y", None),
            ["@acme/api"]
        );
        assert_eq!(
            owners.of("Suite::case", Some("lib/test_z.py")),
            ["@acme/python"]
        );
        // The file changes afterwards: the rules were read once.
        std::fs::write(root.path().join(".github/CODEOWNERS"), "* @someone-else\n").unwrap();
        assert_eq!(
            owners.of("tests/api/test_x.py::test_y", None),
            ["@acme/api"]
        );
        // No file to go by, and no git to blame: nobody.
        assert!(owners.of("crate::module::test", None).is_empty());
    }
}
