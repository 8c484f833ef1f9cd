//! Canonical test ids.
//!
//! The id is what users type (`flakehound classify ID`) and what runner adapters turn back into a
//! selection, so it follows each ecosystem's own notion of a runnable test:
//! - pytest: the node id `path/to/test_x.py::TestClass::test_name[param]`. When the report has no
//!   `file` attribute (pytest's default `xunit2` family), the path is derived from the dotted
//!   classname: segments up to the first one starting with an upper-case letter form the module
//!   path, the rest are classes (`tests.test_x.TestY` → `tests/test_x.py::TestY`).
//! - go: `package/path::TestX/sub` (go-junit-report's classname is the package).
//! - jest: `path › describe › name`, the path being the file attribute or the suite name.
//! - anything else: `classname::name`, or just the name when there is no classname.

use serde::{Deserialize, Serialize};

/// Which runner family wrote a record; decides the shape of its canonical id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Dialect {
    Pytest,
    Go,
    Jest,
    #[default]
    Other,
}

/// Builds the canonical id of a record (see the module docs).
pub fn canonical_id(
    dialect: Dialect,
    classname: Option<&str>,
    name: &str,
    file: Option<&str>,
    suite: Option<&str>,
) -> String {
    let classname = classname.map(str::trim).filter(|c| !c.is_empty());
    match dialect {
        Dialect::Pytest => pytest_id(classname, name, file),
        Dialect::Jest => {
            let path = file.or(suite).map(str::trim).filter(|p| !p.is_empty());
            let mut parts: Vec<&str> = Vec::new();
            if let Some(p) = path {
                parts.push(p);
            }
            if let Some(c) = classname {
                // jest-junit's default title template repeats the describe block in the name.
                if !name.starts_with(c) && Some(c) != path {
                    parts.push(c);
                }
            }
            parts.push(name);
            parts.join(" › ")
        }
        Dialect::Go | Dialect::Other => match classname {
            Some(c) if name.is_empty() => c.to_string(),
            Some(c) if c != name => format!("{c}::{name}"),
            _ => name.to_string(),
        },
    }
}

fn pytest_id(classname: Option<&str>, name: &str, file: Option<&str>) -> String {
    let file = file.map(str::trim).filter(|f| !f.is_empty());
    let Some(classname) = classname else {
        return match file {
            Some(f) => format!("{f}::{name}"),
            None => name.to_string(),
        };
    };
    // Built in one pre-sized string: this runs once per record of every pytest report.
    let mut id = String::with_capacity(classname.len() + name.len() + file.map_or(0, str::len) + 8);
    let classes = match file {
        Some(file) => {
            let stem = file.strip_suffix(".py").unwrap_or(file);
            if file.contains('\\') {
                id.push_str(&file.replace('\\', "/"));
            } else {
                id.push_str(file);
            }
            strip_module(classname, stem).unwrap_or_else(|| &classname[first_class(classname)..])
        }
        None => {
            let at = first_class(classname);
            let module = classname[..at].trim_end_matches('.');
            for (i, part) in module.split('.').enumerate() {
                if i > 0 {
                    id.push('/');
                }
                id.push_str(part);
            }
            id.push_str(".py");
            &classname[at..]
        }
    };
    for class in classes.split('.').filter(|c| !c.is_empty()) {
        id.push_str("::");
        id.push_str(class);
    }
    id.push_str("::");
    id.push_str(name);
    id
}

/// If `classname` starts with the module named by the path `stem` (`a/b/test_c` ~ `a.b.test_c`),
/// the rest (the classes), else `None`.
fn strip_module<'c>(classname: &'c str, stem: &str) -> Option<&'c str> {
    let (c, s) = (classname.as_bytes(), stem.as_bytes());
    if c.len() < s.len() {
        return None;
    }
    let same = c
        .iter()
        .zip(s)
        .all(|(&a, &b)| a == b || (a == b'.' && (b == b'/' || b == b'\\')));
    match (same, c.get(s.len())) {
        (true, None) => Some(""),
        (true, Some(b'.')) => Some(&classname[s.len() + 1..]),
        _ => None,
    }
}

/// Byte index where the classes of a dotted pytest classname start: the first segment after the
/// first that starts with an upper-case letter (the end when there is none).
fn first_class(classname: &str) -> usize {
    let mut start = 0;
    for (i, seg) in classname.split('.').enumerate() {
        if i > 0 && seg.chars().next().is_some_and(char::is_uppercase) {
            return start;
        }
        start += seg.len() + 1;
    }
    classname.len()
}

/// `tests.test_x.TestY` → `("tests/test_x.py", "TestY")`.
fn split_classname(classname: &str) -> (String, String) {
    let at = first_class(classname);
    let module = classname[..at].trim_end_matches('.').replace('.', "/");
    (format!("{module}.py"), classname[at..].to_string())
}

/// The module path pytest would use for a dotted classname (`a.b.test_c.TestD` → `a/b/test_c.py`).
pub fn pytest_path_from_classname(classname: &str) -> String {
    split_classname(classname).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_with_and_without_file() {
        assert_eq!(
            canonical_id(
                Dialect::Pytest,
                Some("tests.test_x.TestY"),
                "test_z[1]",
                Some("tests/test_x.py"),
                None
            ),
            "tests/test_x.py::TestY::test_z[1]"
        );
        assert_eq!(
            canonical_id(
                Dialect::Pytest,
                Some("tests.test_x.TestY"),
                "test_z[1]",
                None,
                None
            ),
            "tests/test_x.py::TestY::test_z[1]"
        );
        assert_eq!(
            canonical_id(Dialect::Pytest, Some("tests.test_x"), "test_z", None, None),
            "tests/test_x.py::test_z"
        );
        assert_eq!(
            canonical_id(
                Dialect::Pytest,
                Some("test_x"),
                "test_z",
                Some("test_x.py"),
                None
            ),
            "test_x.py::test_z"
        );
    }

    #[test]
    fn go_jest_other() {
        assert_eq!(
            canonical_id(Dialect::Go, Some("pkg/a"), "TestX/sub", None, None),
            "pkg/a::TestX/sub"
        );
        assert_eq!(
            canonical_id(
                Dialect::Jest,
                Some("Widget"),
                "renders",
                None,
                Some("src/w.test.js")
            ),
            "src/w.test.js › Widget › renders"
        );
        assert_eq!(
            canonical_id(
                Dialect::Jest,
                Some("Widget"),
                "Widget renders",
                None,
                Some("src/w.test.js")
            ),
            "src/w.test.js › Widget renders"
        );
        assert_eq!(canonical_id(Dialect::Other, Some(""), "t", None, None), "t");
        assert_eq!(
            canonical_id(Dialect::Other, Some("C"), "t", None, None),
            "C::t"
        );
    }
}
