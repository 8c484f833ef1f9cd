//! Runner-native skip arguments for quarantined tests.

use crate::file::Entry;

/// Target runner of [`export`]. Each output is shell-ready text (single-quoted where needed); an
/// empty entry list exports an empty string.
///
/// - `Pytest`: `--deselect 'ID' ...`; the canonical id is the pytest node id.
/// - `Nextest`: `-E 'not (...)'`. A Rust canonical id is `binary-id::test::path` (nextest's
///   JUnit classname is the binary id, e.g. `my-crate` or `my-crate::integration`), and the split
///   between binary id and test name is ambiguous, so each id becomes `test(=ID)` (for ids without
///   a binary id, as from plain `cargo test`) plus `(binary_id(=PREFIX) & test(=REST))` for every
///   `::` split. Exact-match matchers only; `\`, `)` and `,` are backslash-escaped (nextest rejects an escaped `(`).
/// - `Go`: one `go test -skip 'REGEX' PACKAGE` line per package (id `package::TestX/sub`; ids
///   without a package go to `./...`). Each test becomes `^TestX$/^sub$` (go matches `-skip`
///   per `/`-separated level, alternatives split on top-level `|`), RE2-escaped. Needs Go 1.20+.
/// - `Jest`: `--testNamePattern '^(?!(?:NAME|...)$)'` where NAME is the id's describe blocks and
///   test title joined by spaces (jest's full test name), regex-escaped. Limits: jest applies the
///   pattern case-insensitively and to every file, so a same-named test in another file is
///   skipped too; it replaces any `-t` the user passes. (`--testPathIgnorePatterns` would skip
///   whole files, too coarse for one test.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    Pytest,
    Nextest,
    Go,
    Jest,
}

impl std::str::FromStr for Runner {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pytest" => Ok(Self::Pytest),
            "nextest" => Ok(Self::Nextest),
            "go" => Ok(Self::Go),
            "jest" => Ok(Self::Jest),
            _ => Err(format!(
                "unknown runner `{s}` (expected pytest, nextest, go or jest)"
            )),
        }
    }
}

impl Runner {
    /// Whether `id` can be a canonical id of this runner's tests. One quarantine serves a whole
    /// repository, which may hold several suites (a Python package with a Rust extension):
    /// exporting a Rust id as `--deselect` would make pytest fail with "not found", so such ids
    /// are left out of the export ([`foreign`]).
    ///
    /// - pytest: the part before the first `::` is a `.py` file (`tests/test_x.py::T::t[p]`).
    /// - nextest: a Rust path, binary id first (`my-crate::tests::t`, `my-crate::bin/x::t`);
    ///   custom harnesses name tests freely, so only ids whose first `::` part has a `.` (a
    ///   file, a Go import path) are refused.
    /// - go: the test (after the last `::`, the package) is a `Test`/`Example`/`Fuzz`/`Benchmark`
    ///   function, maybe with subtests (`pkg::TestX/sub`).
    /// - jest: describe blocks and title joined by ` › ` (`src/a.test.js › Widget › renders`).
    pub fn accepts(self, id: &str) -> bool {
        let python = id
            .split("::")
            .next()
            .is_some_and(|head| head.ends_with(".py"));
        let jest = id.contains(" › ");
        match self {
            Runner::Pytest => python && !jest,
            Runner::Jest => jest,
            // Custom harnesses name tests freely, so only what is surely another runner's is
            // refused: a binary id or Rust module never contains a `.`.
            Runner::Nextest => {
                !python && !jest && id.split("::").next().is_some_and(|h| !h.contains('.'))
            }
            Runner::Go => {
                let name = id.rsplit_once("::").map_or(id, |(_, n)| n);
                let func = name.split('/').next().unwrap_or(name);
                !python
                    && !jest
                    && ["Test", "Example", "Fuzz", "Benchmark"]
                        .iter()
                        .any(|p| func.starts_with(p))
            }
        }
    }
}

/// Ids of `entries` that cannot be `runner`'s tests ([`Runner::accepts`]), sorted: [`export`]
/// leaves them out, and the command says so.
pub fn foreign(entries: &[Entry], runner: Runner) -> Vec<String> {
    let mut ids: Vec<String> = entries
        .iter()
        .filter(|e| !runner.accepts(&e.id))
        .map(|e| e.id.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The runner-native way to skip `entries` (see [`Runner`]). Ids that cannot be the runner's
/// ([`foreign`]) are left out.
pub fn export(entries: &[Entry], runner: Runner) -> String {
    let mut ids: Vec<&str> = entries
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| runner.accepts(id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return String::new();
    }
    match runner {
        Runner::Pytest => ids
            .iter()
            .map(|id| format!("--deselect {}", shell_quote(id)))
            .collect::<Vec<_>>()
            .join(" "),
        Runner::Nextest => {
            let terms: Vec<String> = ids.iter().map(|id| nextest_term(id)).collect();
            format!(
                "-E {}",
                shell_quote(&format!("not ({})", terms.join(" | ")))
            )
        }
        Runner::Go => {
            let mut packages: Vec<(&str, Vec<String>)> = Vec::new();
            for id in ids {
                let (pkg, name) = id.rsplit_once("::").unwrap_or(("./...", id));
                let pattern = name
                    .split('/')
                    .map(|level| format!("^{}$", regex_escape(level, r"\.+*?()|[]{}^$")))
                    .collect::<Vec<_>>()
                    .join("/");
                match packages.iter_mut().find(|(p, _)| *p == pkg) {
                    Some((_, v)) => v.push(pattern),
                    None => packages.push((pkg, vec![pattern])),
                }
            }
            packages.sort();
            packages
                .iter()
                .map(|(pkg, pats)| {
                    format!(
                        "go test -skip {} {}",
                        shell_quote(&pats.join("|")),
                        shell_quote(pkg)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        Runner::Jest => {
            let names: Vec<String> = ids
                .iter()
                .map(|id| {
                    let parts: Vec<&str> = id.split(" › ").collect();
                    let name = if parts.len() > 1 {
                        parts[1..].join(" ")
                    } else {
                        id.to_string()
                    };
                    regex_escape(&name, r"\^$.*+?()[]{}|/-")
                })
                .collect();
            format!(
                "--testNamePattern {}",
                shell_quote(&format!("^(?!(?:{})$)", names.join("|")))
            )
        }
    }
}

fn nextest_term(id: &str) -> String {
    let esc = |s: &str| regex_escape(s, r"\),");
    let mut alts = vec![format!("test(={})", esc(id))];
    for (i, _) in id.match_indices("::") {
        let (binary, test) = (&id[..i], &id[i + 2..]);
        if !binary.is_empty() && !test.is_empty() {
            alts.push(format!(
                "(binary_id(={}) & test(={}))",
                esc(binary),
                esc(test)
            ));
        }
    }
    alts.join(" | ")
}

fn regex_escape(s: &str, special: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// POSIX-shell quoting: bare when only safe characters, else single quotes (`'` as `'\''`).
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn entries(ids: &[&str]) -> Vec<Entry> {
        ids.iter()
            .map(|id| Entry {
                id: id.to_string(),
                reason: "r".into(),
                owner: "o".into(),
                added: date(2026, 1, 1),
                expires: date(2026, 2, 1),
                issue: None,
            })
            .collect()
    }

    #[test]
    fn empty() {
        for r in [Runner::Pytest, Runner::Nextest, Runner::Go, Runner::Jest] {
            assert_eq!(export(&[], r), "");
        }
        assert_eq!("Go".parse::<Runner>(), Ok(Runner::Go));
        assert!("mocha".parse::<Runner>().is_err());
    }

    #[test]
    fn pytest() {
        let e = entries(&["tests/t.py::test_a", "tests/t.py::T::test_b[it's 1]"]);
        assert_eq!(
            export(&e, Runner::Pytest),
            r"--deselect 'tests/t.py::T::test_b[it'\''s 1]' --deselect tests/t.py::test_a"
        );
    }

    #[test]
    fn nextest() {
        let e = entries(&["my-crate::tests::a", "odd(name,x)"]);
        assert_eq!(
            export(&e, Runner::Nextest),
            "-E 'not (test(=my-crate::tests::a) | (binary_id(=my-crate) & test(=tests::a)) \
             | (binary_id(=my-crate::tests) & test(=a)) | test(=odd(name\\,x\\)))'"
        );
    }

    #[test]
    fn go() {
        let e = entries(&[
            "github.com/x/pkg::TestA",
            "github.com/x/pkg::TestB/sub_case.1",
            "other::TestC[x]",
            "TestLoose",
        ]);
        assert_eq!(
            export(&e, Runner::Go),
            "go test -skip '^TestLoose$' ./...\n\
             go test -skip '^TestA$|^TestB$/^sub_case\\.1$' github.com/x/pkg\n\
             go test -skip '^TestC\\[x\\]$' other"
        );
    }

    #[test]
    fn jest() {
        let e = entries(&[
            "src/w.test.js › Widget › renders (a|b)?",
            "src/w.test.js › Widget it's",
        ]);
        assert_eq!(
            export(&e, Runner::Jest),
            r"--testNamePattern '^(?!(?:Widget it'\''s|Widget renders \(a\|b\)\?)$)'"
        );
    }

    #[test]
    fn ids_of_another_runner_are_left_out_and_listed() {
        let e = entries(&[
            "tests/t.py::test_a",
            "my-crate::tests::it_works",
            "github.com/x/pkg::TestA/sub",
            "src/w.test.js › Widget › renders",
        ]);
        assert_eq!(export(&e, Runner::Pytest), "--deselect tests/t.py::test_a");
        assert_eq!(
            foreign(&e, Runner::Pytest),
            [
                "github.com/x/pkg::TestA/sub",
                "my-crate::tests::it_works",
                "src/w.test.js › Widget › renders"
            ]
        );
        assert_eq!(
            foreign(&e, Runner::Nextest),
            [
                "github.com/x/pkg::TestA/sub",
                "src/w.test.js › Widget › renders",
                "tests/t.py::test_a"
            ]
        );
        assert_eq!(
            foreign(&e, Runner::Go),
            [
                "my-crate::tests::it_works",
                "src/w.test.js › Widget › renders",
                "tests/t.py::test_a"
            ]
        );
        assert_eq!(foreign(&e, Runner::Jest).len(), 3);
        assert!(Runner::Nextest.accepts("my-crate::bin/tool::tests::t"));
        assert!(Runner::Go.accepts("TestLoose"));
        assert!(!Runner::Pytest.accepts("tests/t.js::x"));
    }
}
