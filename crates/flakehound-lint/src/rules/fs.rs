//! Filesystem: `fixed-tmp-path`, a fixed path in the shared temporary directory (`/tmp/x`,
//! `os.path.join(tempfile.gettempdir(), "x")`) or, in a test, a fixed file written in the
//! working directory: parallel runs of the suite (xdist workers, CI jobs on one machine) share
//! it.

use super::FIXED_TMP_PATH;
use crate::python::{Cx, positional, string_prefix, string_value};
use tree_sitter::Node;

/// Functions that take a path.
const PATH_FNS: &[&str] = &[
    "open",
    "Path",
    "PurePath",
    "makedirs",
    "mkdir",
    "remove",
    "unlink",
    "rmtree",
    "copy",
    "copyfile",
    "copytree",
    "move",
    "rename",
    "replace",
    "listdir",
    "connect",
    "FileHandler",
    "mkfifo",
    "symlink",
    "chdir",
    "dump",
    "savetxt",
    "save",
    "to_csv",
    "write_text",
    "write_bytes",
];

fn tmp_literal(cx: &Cx, node: Node) -> Option<String> {
    let s = string_prefix(node, cx.src)?;
    (s.starts_with("/tmp/") || s.starts_with("/var/tmp/") || s.starts_with("/dev/shm/"))
        .then_some(s)
}

fn is_gettempdir(cx: &Cx, node: Node) -> bool {
    node.kind() == "call"
        && node
            .child_by_field_name("function")
            .and_then(|f| cx.qname(f))
            .is_some_and(|q| q == "tempfile.gettempdir")
}

/// `tempfile.gettempdir() + "/x"`, `Path(tempfile.gettempdir()) / "x"`.
fn tmp_join(cx: &Cx, node: Node) -> bool {
    if node.kind() != "binary_operator" {
        return false;
    }
    let (Some(l), Some(r)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return false;
    };
    let left_tmp = is_gettempdir(cx, l)
        || (l.kind() == "call" && positional(l).first().is_some_and(|a| is_gettempdir(cx, *a)));
    left_tmp && string_value(r, cx.src).is_some()
}

pub(crate) fn call(cx: &mut Cx, node: Node) {
    let Some(func) = node.child_by_field_name("function") else {
        return;
    };
    let Some(q) = cx.qname(func) else { return };
    let last = q.rsplit('.').next().unwrap_or(&q);
    let args = positional(node);
    if q == "os.path.join" || q == "posixpath.join" {
        if compared(cx, node) {
            return;
        }
        if args.first().is_some_and(|a| is_gettempdir(cx, *a))
            && args
                .get(1)
                .is_some_and(|a| string_value(*a, cx.src).is_some())
        {
            let shown = format!("`{}`", cx.text(node));
            cx.hit(&FIXED_TMP_PATH, node, shown);
            return;
        }
        if let Some(s) = args.first().and_then(|a| tmp_literal(cx, *a)) {
            cx.hit(&FIXED_TMP_PATH, node, format!("`{s}`"));
        }
        return;
    }
    if matches!(last, "chdir" | "as_cwd" | "isolated_filesystem") && enters_temp_dir(cx, node) {
        cx.out.enters_temp_dir = true;
    }
    if !PATH_FNS.contains(&last) {
        return;
    }
    if q == "sqlite3.connect" && read_only_db(cx, node) {
        return;
    }
    for a in &args {
        if let Some(s) = tmp_literal(cx, *a) {
            path_hit(cx, node, *a, format!("`{s}`"), false);
            return;
        }
        if tmp_join(cx, *a) {
            let shown = format!("`{}`", cx.text(*a));
            path_hit(cx, node, *a, shown, false);
            return;
        }
    }
    // A test writing a fixed file in the working directory.
    if cx.test_code && q == "open" && args.len() >= 2 {
        let path = string_value(args[0], cx.src);
        let mode = string_value(args[1], cx.src);
        if let (Some(p), Some(m)) = (path, mode)
            && !p.starts_with('/')
            && !p.is_empty()
            && m.contains(['w', 'a', 'x'])
            && !in_own_directory(cx, node)
        {
            let shown = format!("`{p}` written in the working directory");
            path_hit(cx, node, args[0], shown, true);
        }
    }
}

/// String methods that compare or search, taking the other string as their argument.
const COMPARING_METHODS: &[&str] = &[
    "startswith",
    "endswith",
    "find",
    "rfind",
    "index",
    "rindex",
    "count",
];

/// Whether the path made at `node` is only compared as a string, where it is made: an
/// operand of a comparison (`==`, `in`), the argument of `startswith` and its kin, or of a
/// `self.assert…` method. pyfakefs checks that `mkstemp()` names a file under
/// `os.path.join(tempfile.gettempdir(), "tmp")`: the path names no file the test touches.
fn compared(cx: &Cx, node: Node) -> bool {
    let mut cur = node.parent();
    while let Some(p) = cur {
        match p.kind() {
            "parenthesized_expression" => {}
            "comparison_operator" => return true,
            "argument_list" => {
                let Some(f) = p
                    .parent()
                    .filter(|c| c.kind() == "call")
                    .and_then(|c| c.child_by_field_name("function"))
                else {
                    return false;
                };
                let method = (f.kind() == "attribute")
                    .then(|| f.child_by_field_name("attribute"))
                    .flatten()
                    .map(|a| cx.text(a))
                    .unwrap_or("");
                return COMPARING_METHODS.contains(&method)
                    || (method.starts_with("assert")
                        && f.child_by_field_name("object")
                            .is_some_and(|o| cx.text(o) == "self"));
            }
            _ => return false,
        }
        cur = p.parent();
    }
    false
}

/// A fixed path handed to `call`; written only while the file is missing (`if not
/// os.path.exists("testfile.txt"): with open("testfile.txt", "w") …`, sarge's fixture files),
/// the pedantic form: every run after the first finds the same file and leaves it, so
/// parallel runs race only while the first one writes it. `in_cwd`: a relative path
/// (`Hit::in_cwd`).
fn path_hit(cx: &mut Cx, call: Node, path: Node, shown: String, in_cwd: bool) {
    let mut h = cx.make_hit(&FIXED_TMP_PATH, path, shown);
    h.in_cwd = in_cwd;
    if written_once(cx, call, cx.text(path)) {
        h.weaken(", written only while it is missing");
    }
    cx.out.hits.push(h);
}

/// Whether `call` runs only when the file at `path` (as spelled) does not exist: inside the
/// body of `if not os.path.exists(path):` (or `isfile`, `lexists`) of its function.
fn written_once(cx: &Cx, call: Node, path: &str) -> bool {
    super::under_if(call, |c| missing(cx, c, path))
}

/// `not os.path.exists(path)`.
fn missing(cx: &Cx, cond: Node, path: &str) -> bool {
    let Some(arg) = (cond.kind() == "not_operator")
        .then(|| cond.child_by_field_name("argument"))
        .flatten()
        .filter(|a| a.kind() == "call")
    else {
        return false;
    };
    arg.child_by_field_name("function")
        .and_then(|f| cx.qname(f))
        .is_some_and(|q| {
            matches!(
                q.as_str(),
                "os.path.exists" | "os.path.isfile" | "os.path.lexists"
            )
        })
        && positional(arg).first().is_some_and(|a| cx.text(*a) == path)
}

pub(crate) fn assign(cx: &mut Cx, node: Node) {
    let (Some(l), Some(r)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return;
    };
    let name = cx.text(l).to_ascii_lowercase();
    let pathish = [
        "path", "file", "dir", "tmp", "temp", "log", "db", "out", "socket", "sock",
    ]
    .iter()
    .any(|w| name.contains(w));
    if !pathish {
        return;
    }
    if let Some(s) = tmp_literal(cx, r) {
        cx.hit(&FIXED_TMP_PATH, r, format!("`{s}`"));
    } else if tmp_join(cx, r) {
        let shown = format!("`{}`", cx.text(r));
        cx.hit(&FIXED_TMP_PATH, r, shown);
    }
}

/// Whether the test runs in a directory of its own, so a relative path is its own: inside
/// `with runner.isolated_filesystem():`, `with tmp_path.as_cwd():`, `with chdir(…):`, or in a
/// function that calls `monkeypatch.chdir(…)`/`os.chdir(…)`/`tmpdir.chdir()`.
fn in_own_directory(cx: &Cx, node: Node) -> bool {
    let own = |callee: &str| {
        callee.ends_with("isolated_filesystem")
            || callee.ends_with("chdir")
            || callee.ends_with("as_cwd")
    };
    match super::with_calling(cx, node, &["function_definition"], &own) {
        Ok(()) => true,
        Err(Some(function)) => super::calls(cx, function, &own),
        Err(None) => false,
    }
}

/// Whether a `chdir`, `as_cwd` or `isolated_filesystem` call enters a fresh temporary
/// directory: `tmpdir.chdir()`, `tmp_path.as_cwd()`, `runner.isolated_filesystem()`,
/// `os.chdir(tempfile.mkdtemp())`, `monkeypatch.chdir(tmp_path)`, or a name the function
/// assigned such a directory to (plumbum's `cleandir` fixture: `newpath = tempfile.mkdtemp()`,
/// `os.chdir(newpath)`). Temporary directories are told by name (`tmp`, `temp`): a `chdir`
/// into the project's own directories shares it.
fn enters_temp_dir(cx: &Cx, call: Node) -> bool {
    let temp = |n: Node| {
        let t = cx.text(n).to_ascii_lowercase();
        t.contains("tmp") || t.contains("temp")
    };
    let Some(func) = call.child_by_field_name("function") else {
        return false;
    };
    if func.kind() == "attribute"
        && func
            .child_by_field_name("attribute")
            .is_some_and(|a| cx.text(a) == "isolated_filesystem")
    {
        return true;
    }
    let Some(arg) = positional(call).first().copied() else {
        // `tmpdir.chdir()`, `tmp_path.as_cwd()`: the object is the directory.
        return func.child_by_field_name("object").is_some_and(&temp);
    };
    if temp(arg) {
        return true;
    }
    // A name assigned a temporary directory in the same function.
    arg.kind() == "identifier"
        && super::enclosing_function(call).is_some_and(|f| {
            let name = cx.text(arg);
            super::answer_in(f, |n| {
                (n.kind() == "assignment"
                    && n.child_by_field_name("left")
                        .is_some_and(|l| cx.text(l) == name)
                    && n.child_by_field_name("right").is_some_and(&temp))
                .then_some(true)
            })
            .unwrap_or(false)
        })
}

/// `db = sqlite3.connect("/tmp/foo")` used only for `db.execute("select …")` (and `close()`) in
/// its function: parallel runs open the same file, but none writes it, and SQLite locks it
/// anyway (freezegun's `test_fake_datetime_select`). A connection that is passed on, used in a
/// `with`, or runs anything else (`create table`, `insert`) is reported.
fn read_only_db(cx: &Cx, call: Node) -> bool {
    let Some(assign) = call.parent().filter(|p| p.kind() == "assignment") else {
        return false;
    };
    let Some(left) = assign
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")
    else {
        return false;
    };
    let var = cx.text(left);
    let Some(f) = super::enclosing_function(assign) else {
        return false;
    };
    super::answer_in(f, |n| {
        if n.kind() != "identifier" || n.id() == left.id() || cx.text(n) != var {
            return None;
        }
        let ok = n
            .parent()
            .filter(|a| a.kind() == "attribute" && a.child_by_field_name("object") == Some(n))
            .and_then(|a| {
                let method = cx.text(a.child_by_field_name("attribute")?);
                let c = a.parent().filter(|c| {
                    c.kind() == "call" && c.child_by_field_name("function") == Some(a)
                })?;
                Some(match method {
                    "close" => true,
                    "execute" | "executemany" => positional(c)
                        .first()
                        .and_then(|q| string_value(*q, cx.src))
                        .is_some_and(|q| q.trim_start().to_ascii_lowercase().starts_with("select")),
                    _ => false,
                })
            })
            .unwrap_or(false);
        (!ok).then_some(false)
    })
    .unwrap_or(true)
}
