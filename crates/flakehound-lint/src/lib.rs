//! Static scan of test code for the causes of flaky tests (`flakehound lint`).
//!
//! # Model
//!
//! Python files are parsed with tree-sitter (no regular expressions over source text) into
//! plain facts per function ([`python::ModuleFacts`]): what each rule ([`rules::RULES`]) found,
//! the calls made, the module-level state changed or read. The project pass ([`project`]) then
//! follows every test through its fixtures, set-up methods and calls into the project's own
//! modules (imports resolved to files under the project root, up to [`project::MAX_DEPTH`]
//! calls deep), so a finding can sit in the code under test (`random.randint` in
//! `shop/shipping.py`) and still name the test that reaches it. Each finding names its rule,
//! the root-cause category `diagnose` uses for the same mechanism, the line, the tests and the
//! fix.
//!
//! Go (`*_test.go`) has four rules inside `Test…` functions, without call-following (see
//! [`golang`]). JavaScript/TypeScript test files ([`javascript`]) and Rust tests ([`rustlang`])
//! are scanned one file at a time, following values within a test to its assertions
//! ([`lang`] holds what they share).
//!
//! Test files: `test_*.py`, `*_test.py`, `conftest.py`, `.py` files under a `tests`/`test`
//! directory, and what the project's pytest settings name ([`naming`]). Test ids are pytest's: the file relative to the project root (the nearest
//! directory up with `pytest.ini`, `pyproject.toml`, `setup.cfg`, `tox.ini` or `setup.py`),
//! `::Class`, `::function`.
//!
//! Suppression: `# flakehound: ignore[rule-id, ...]` (or `# flakehound: ignore` for all rules)
//! on the line or the line before; `// flakehound: ignore[...]` in Go, JavaScript and Rust. Configuration: the `[lint]` table of
//! `.flakehound/config.toml` ([`Config`]).
//!
//! Unparseable files are reported ([`Scan::errors`]) and scanned for what parsed; nothing in a
//! file makes the scan panic.

pub mod config;
pub mod golang;
pub mod guard;
pub mod javascript;
pub mod lang;
pub mod naming;
pub mod output;
pub mod project;
pub mod python;
pub mod rules;
pub mod rustlang;

pub use config::Config;
pub use project::{Finding, Related, Scan, scan};
pub use rules::{RULES, Rule};

use std::path::Path;

/// Whether a path is a Go test file (`*_test.go`).
pub fn is_go_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with("_test.go"))
}

/// Whether a path is a Python test file (or a test helper: conftest, files under `tests/`).
pub fn is_test_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(stem) = name.strip_suffix(".py") else {
        return false;
    };
    stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem == "conftest"
        || stem == "tests"
        || path
            .components()
            .any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "test" | "testing")))
}
