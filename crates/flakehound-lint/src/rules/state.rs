//! Order: `shared-module-state`. Functions record the module-level state they change, reset
//! or read ([`StateOp`]); the project pass then reports (a) a test that grows module state
//! (append, add, +=) and reads it back: a second run in the same process sees the first run's
//! entries; (b) a test that reads module state another test changes and never restores: it
//! depends on which tests ran before it. References to module-level names are recorded too, so
//! that a test reaching a constant (`EXPORT_PATH = …`) reaches what the rules found in it.

use crate::python::{Call, Cx, Part, StateOp, Target};
use tree_sitter::Node;

const GROWING: &[&str] = &[
    "append",
    "extend",
    "insert",
    "add",
    "appendleft",
    "extendleft",
];
const CHANGING: &[&str] = &[
    "update",
    "pop",
    "popitem",
    "remove",
    "discard",
    "setdefault",
    "sort",
    "reverse",
    "__setitem__",
];

pub(crate) fn call(cx: &mut Cx, node: Node) {
    let Some(f) = node.child_by_field_name("function") else {
        return;
    };
    if f.kind() != "attribute" {
        return;
    }
    let (Some(obj), Some(attr)) = (
        f.child_by_field_name("object"),
        f.child_by_field_name("attribute"),
    ) else {
        return;
    };
    let m = cx.text(attr);
    let op = if GROWING.contains(&m) {
        StateOp::Mutate {
            accumulating: !grows_once(cx, node, obj) && !adds_constant(cx, node, m),
        }
    } else if CHANGING.contains(&m) {
        StateOp::Mutate {
            accumulating: false,
        }
    } else if m == "clear" {
        StateOp::Reset
    } else {
        return;
    };
    if let Some(key) = cx.state_key(obj) {
        // Where a list grows: the end a read of `X[0]` or `X[-1]` sees.
        let end = match m {
            "insert"
                if crate::python::positional(node)
                    .first()
                    .is_some_and(|i| cx.text(*i) == "0") =>
            {
                Part::Front
            }
            "appendleft" => Part::Front,
            "append" => Part::Back,
            _ => Part::Whole,
        };
        cx.state_part(key, op, end, node);
    }
}

/// The node kinds of a constant scalar (a string, a number, `True`, `None`).
const SCALAR_LITERALS: &[&str] = &[
    "string",
    "concatenated_string",
    "integer",
    "float",
    "true",
    "false",
    "none",
];

/// `X.add("application/json")`: a set given a constant holds it once, however often the
/// test runs (kombu's `_disabled_content_types`); a list given one grows.
fn adds_constant(cx: &Cx, call: Node, method: &str) -> bool {
    method == "add"
        && matches!(
            crate::python::positional(call).as_slice(),
            [a] if SCALAR_LITERALS.contains(&a.kind())
                && !(a.kind() == "string" && cx.text(*a).starts_with(['f', 'F']))
        )
}

/// `if len(X) == 0: X.append(…)`, `if not X: X.append(…)` (a lazy singleton: dateutil's
/// `_CLASS_ZONE_INSTANCE`), `if v not in X: X.append(v)` (a registry without duplicates): the
/// container grows only while it lacks the entry, so a second run adds nothing. Such a write
/// counts as a change, not as growth (with a read beside it in the code under test, a cache).
fn grows_once(cx: &Cx, call: Node, obj: Node) -> bool {
    let target = cx.text(obj);
    super::under_if(call, |c| lacks(cx, c, target))
}

/// A condition that holds only while `target` lacks what is added: `not X`, `len(X) == 0`,
/// `len(X) < 1`, `X == []`, `v not in X`.
fn lacks(cx: &Cx, cond: Node, target: &str) -> bool {
    let is_target = |n: Node| cx.text(n) == target;
    let len_of_target = |n: Node| {
        n.kind() == "call"
            && n.child_by_field_name("function")
                .is_some_and(|f| cx.text(f) == "len")
            && crate::python::positional(n)
                .first()
                .is_some_and(|a| is_target(*a))
    };
    match cond.kind() {
        "parenthesized_expression" => cond.named_child(0).is_some_and(|c| lacks(cx, c, target)),
        "not_operator" => cond
            .child_by_field_name("argument")
            .is_some_and(|a| is_target(a) || len_of_target(a)),
        "comparison_operator" => {
            // Operands are the named children, the operator the rest (`not in` is two tokens).
            let mut c = cond.walk();
            let (parts, ops): (Vec<Node>, Vec<Node>) =
                cond.children(&mut c).partition(|k| k.is_named());
            let [l, r] = parts.as_slice() else {
                return false;
            };
            let op: Vec<&str> = ops.iter().map(|k| cx.text(*k)).collect();
            match op.join(" ").as_str() {
                "not in" => is_target(*r),
                "==" => {
                    (len_of_target(*l) && cx.text(*r) == "0")
                        || (is_target(*l) && matches!(cx.text(*r), "[]" | "set()" | "{}"))
                }
                "<" => len_of_target(*l) && cx.text(*r) == "1",
                _ => false,
            }
        }
        _ => false,
    }
}

pub(crate) fn assign(cx: &mut Cx, node: Node) {
    let Some(l) = node.child_by_field_name("left") else {
        return;
    };
    let augmented = node.kind() == "augmented_assignment";
    match l.kind() {
        "subscript" => {
            // A test storing under a key of its own (a local object) adds an entry no other
            // test looks up; a literal key overwrites a shared setting.
            let own_key = cx.test_code
                && l.child_by_field_name("subscript").is_some_and(|i| {
                    !matches!(
                        i.kind(),
                        "string" | "integer" | "float" | "true" | "false" | "none"
                    )
                });
            if !own_key
                && let Some(v) = l.child_by_field_name("value")
                && let Some(key) = cx.state_key(v)
            {
                let part = literal_key(cx, l.child_by_field_name("subscript"));
                cx.state_part(
                    key,
                    StateOp::Mutate {
                        accumulating: false,
                    },
                    part,
                    node,
                );
            }
        }
        "attribute" => assign_attribute(cx, l, node, augmented),
        // `sys.stdout, sys.stderr = saved` (tqdm's `std_out_err_redirect_tqdm` restores both
        // streams so, in a `finally:`): each element.
        "pattern_list" | "tuple_pattern" | "tuple" => {
            let mut c = l.walk();
            let parts: Vec<Node> = l.named_children(&mut c).collect();
            for part in parts {
                if part.kind() == "attribute" {
                    assign_attribute(cx, part, node, augmented);
                }
            }
        }
        "identifier" => {
            let name = cx.text(l);
            if cx.global_decl.contains(name) && cx.mutables.contains(name) {
                let key = format!("{}.{name}", cx.module);
                let fresh = node
                    .child_by_field_name("right")
                    .is_some_and(|r| matches!(r.kind(), "list" | "dictionary" | "set"));
                let op = if augmented {
                    StateOp::Mutate { accumulating: true }
                } else if fresh {
                    StateOp::Reset
                } else {
                    StateOp::Mutate {
                        accumulating: false,
                    }
                };
                cx.state(key, op, node);
            } else if augmented && let Some(key) = cx.state_key(l) {
                cx.state(key, StateOp::Mutate { accumulating: true }, node);
            }
        }
        _ => {}
    }
}

/// `module.NAME = value`: patching by hand (in a test, never restored unless in a `finally:`
/// or a fixture's teardown).
fn assign_attribute(cx: &mut Cx, target: Node, node: Node, augmented: bool) {
    if let Some(key) = cx.state_key(target)
        && !streams_restored(cx, &key, node)
    {
        cx.state(
            key,
            StateOp::Mutate {
                accumulating: augmented,
            },
            node,
        );
    }
}

/// Whether `key` is one of the standard streams and `node` sits inside a `with` block whose
/// context manager saves and restores them on exit: click's `CliRunner.isolation()`,
/// `contextlib.redirect_stdout`/`redirect_stderr`. (click's `test_echo_no_streams` sets
/// `sys.stdout = None` inside `runner.isolation()`; no later test sees it.)
fn streams_restored(cx: &Cx, key: &str, node: Node) -> bool {
    if !matches!(key, "sys.stdout" | "sys.stderr" | "sys.stdin") {
        return false;
    }
    let restores = |t: &str| {
        t.ends_with("isolation") || t.ends_with("redirect_stdout") || t.ends_with("redirect_stderr")
    };
    super::with_calling(
        cx,
        node,
        &["function_definition", "class_definition"],
        &restores,
    )
    .is_ok()
}

pub(crate) fn delete(cx: &mut Cx, node: Node) {
    let mut c = node.walk();
    let targets: Vec<Node> = node.named_children(&mut c).collect();
    for t in targets {
        let own_key = cx.test_code
            && t.child_by_field_name("subscript")
                .is_some_and(|i| !matches!(i.kind(), "string" | "integer"));
        if t.kind() == "subscript"
            && !own_key
            && let Some(v) = t.child_by_field_name("value")
            && let Some(key) = cx.state_key(v)
        {
            let part = literal_key(cx, t.child_by_field_name("subscript"));
            cx.state_part(
                key,
                StateOp::Mutate {
                    accumulating: false,
                },
                part,
                node,
            );
        }
    }
}

/// Whether `node` is written rather than read: the object of a mutating method call, the
/// container of an assigned or deleted item, an assignment's target.
fn written(cx: &Cx, node: Node) -> bool {
    let Some(p) = node.parent() else { return false };
    match p.kind() {
        "attribute" => {
            if p.child_by_field_name("object").map(|o| o.id()) != Some(node.id()) {
                return true; // the attribute's name, not a reference
            }
            let m = p
                .child_by_field_name("attribute")
                .map(|a| cx.text(a))
                .unwrap_or("");
            let called = p.parent().is_some_and(|g| {
                g.kind() == "call"
                    && g.child_by_field_name("function").map(|f| f.id()) == Some(p.id())
            });
            called && (GROWING.contains(&m) || CHANGING.contains(&m) || m == "clear")
        }
        "subscript" => p.parent().is_some_and(|g| {
            (matches!(g.kind(), "assignment" | "augmented_assignment")
                && g.child_by_field_name("left").map(|l| l.id()) == Some(p.id()))
                || g.kind() == "delete_statement"
        }),
        "assignment" | "augmented_assignment" => {
            p.child_by_field_name("left").map(|l| l.id()) == Some(node.id())
        }
        "keyword_argument" => p.child_by_field_name("name").map(|n| n.id()) == Some(node.id()),
        "default_parameter" | "typed_default_parameter" => {
            p.child_by_field_name("name").map(|n| n.id()) == Some(node.id())
        }
        "global_statement"
        | "nonlocal_statement"
        | "parameters"
        | "typed_parameter"
        | "function_definition"
        | "class_definition"
        | "aliased_import"
        | "dotted_name"
        | "import_from_statement"
        | "import_statement" => true,
        _ => false,
    }
}

pub(crate) fn reference(cx: &mut Cx, node: Node) {
    // Most names are locals or builtins: only module-level and imported names matter (checked
    // first: looking at a node's parent costs a walk from the root in tree-sitter).
    let head = if node.kind() == "attribute" {
        match node.child_by_field_name("object") {
            Some(o) if o.kind() == "identifier" => o,
            _ => return,
        }
    } else {
        node
    };
    let name = cx.text(head);
    if !(cx.mutables.contains(name)
        || cx.module_names.contains(name)
        || cx.imports.contains_key(name))
    {
        return;
    }
    // The attribute name in `x.name` is no reference of its own.
    if node.kind() == "identifier"
        && let Some(p) = node.parent()
        && p.kind() == "attribute"
        && p.child_by_field_name("attribute").map(|a| a.id()) == Some(node.id())
    {
        return;
    }
    if written(cx, node) {
        return;
    }
    // Reads of module state.
    if let Some(key) = cx.state_key(node) {
        let mut part = read_part(cx, node);
        if part == Part::Whole && cx.test_code && live(cx, node) {
            part = Part::Live;
        }
        cx.state_part(key, StateOp::Read, part, node);
    }
    // A reference (not a call, which is recorded already) to a module-level name or an
    // imported one: what the rules found in its value is reached too.
    let is_callee = node.parent().is_some_and(|p| {
        p.kind() == "call" && p.child_by_field_name("function").map(|f| f.id()) == Some(node.id())
    });
    if is_callee || node.parent().is_some_and(|p| p.kind() == "attribute") {
        return;
    }
    if let Some(target) = cx.target(node) {
        let t = match &target {
            Target::Local(n) | Target::Qualified(n) => n,
        };
        if !cx.out.calls.iter().any(|c| match &c.target {
            Target::Local(x) | Target::Qualified(x) => x == t,
        }) {
            let guard = cx.guard(node);
            // `assertRaises(E, f, *args, **kwargs)`: `f` is called with what follows it.
            let raises = crate::python::raises_call(cx, node);
            cx.out.calls.push(Call {
                target,
                guard,
                args: raises
                    .map(|c| crate::python::call_args(cx, c, Some(node.id())))
                    .unwrap_or_default(),
                expects_error: raises.is_some() && cx.test_code,
                reference: !handed_to_a_call(cx, node),
                other_process: handed_to_a_process(cx, node),
                returned: false,
                kept: None,
            });
        }
    }
}

/// The entry a subscript names when its key is a string literal (`X["HOME"]`); any other key
/// may be any entry.
fn literal_key(cx: &Cx, key: Option<Node>) -> Part {
    key.and_then(|k| crate::python::string_value(k, cx.src))
        .map_or(Part::Whole, Part::Item)
}

/// What part of module state a read looks at: an entry under a literal key (`X["HOME"]`,
/// `X.get("HOME")`, `"HOME" in X`), what an attribute gives (`X.home`) or a call of it
/// (`X(…)`), or the whole value (passed on, compared, iterated, `X.keys()`). A test that adds an entry under a key
/// of its own (plumbum's `local.env["FOOBAR72"] = "spAm"`) changes what the whole value
/// looks like, not another entry nor an attribute (`local.env["HOME"]`, `local.env.home`).
fn read_part(cx: &Cx, node: Node) -> Part {
    let Some(p) = node.parent() else {
        return Part::Whole;
    };
    match p.kind() {
        "subscript" if p.child_by_field_name("value") == Some(node) => {
            match p.child_by_field_name("subscript").map(|i| cx.text(i)) {
                Some("0") => Part::Front,
                Some("-1") => Part::Back,
                _ => literal_key(cx, p.child_by_field_name("subscript")),
            }
        }
        "attribute" if p.child_by_field_name("object") == Some(node) => {
            let m = p
                .child_by_field_name("attribute")
                .map(|a| cx.text(a))
                .unwrap_or("");
            let call = p
                .parent()
                .filter(|c| c.kind() == "call" && c.child_by_field_name("function") == Some(p));
            match call {
                None => Part::Attr(m.to_string()),
                Some(c) if matches!(m, "get" | "__getitem__" | "__contains__") => {
                    literal_key(cx, crate::python::positional(c).first().copied())
                }
                Some(_) => Part::Whole,
            }
        }
        // `with local.env(FOO="1"):`: calling it is one of its behaviours (plumbum's scoped
        // change of the environment), not a look at every entry.
        "call" if p.child_by_field_name("function") == Some(node) => {
            Part::Attr("__call__".to_string())
        }
        "comparison_operator" => {
            // `"HOME" in X`
            let mut c = p.walk();
            let kids: Vec<Node> = p.children(&mut c).collect();
            match kids.as_slice() {
                [l, op, r] if *r == node && matches!(cx.text(*op), "in") => {
                    literal_key(cx, Some(*l))
                }
                _ => Part::Whole,
            }
        }
        _ => Part::Whole,
    }
}

/// `assertEqual` and its kin: their first two positional arguments are compared with `==`.
const ASSERT_EQUAL: &[&str] = &[
    "assertEqual",
    "assertNotEqual",
    "assertEquals",
    "assertDictEqual",
    "assertSetEqual",
    "assertListEqual",
    "assertCountEqual",
    "assertSequenceEqual",
];

/// What the expression a read is part of is compared with, climbing through what derives a
/// value from it (a method's result, a call of it or on it, a comprehension over it, an item).
enum Compared<'t> {
    /// An operand of `==`/`!=` (or of `assertEqual` and its kin): the other operand.
    With(Node<'t>),
    /// Assigned to a local name (`localenv = {x[0] for x in local.env}`): its later uses decide.
    Kept(&'t str, Node<'t>),
    /// Anything else: asserted true, passed on, iterated by the test.
    No,
}

fn compared<'t>(cx: &Cx<'t>, node: Node<'t>) -> Compared<'t> {
    let mut child = node;
    let mut cur = node.parent();
    while let Some(p) = cur {
        match p.kind() {
            "comparison_operator" => {
                let mut c = p.walk();
                let (parts, ops): (Vec<Node>, Vec<Node>) =
                    p.children(&mut c).partition(|k| k.is_named());
                return match (parts.as_slice(), ops.as_slice()) {
                    ([l, r], [op]) if matches!(cx.text(*op), "==" | "!=") => {
                        Compared::With(if *l == child { *r } else { *l })
                    }
                    _ => Compared::No,
                };
            }
            "argument_list" => {
                if let Some(call) = p.parent().filter(|c| {
                    c.kind() == "call"
                        && c.child_by_field_name("function")
                            .and_then(|f| f.child_by_field_name("attribute"))
                            .is_some_and(|m| ASSERT_EQUAL.contains(&cx.text(m)))
                }) {
                    return match crate::python::positional(call).as_slice() {
                        [a, b, ..] if *a == child => Compared::With(*b),
                        [a, b, ..] if *b == child => Compared::With(*a),
                        _ => Compared::No,
                    };
                }
            }
            "assignment" => {
                return match p.child_by_field_name("left") {
                    Some(l)
                        if l.kind() == "identifier"
                            && p.child_by_field_name("right") == Some(child) =>
                    {
                        Compared::Kept(cx.text(l), p)
                    }
                    _ => Compared::No,
                };
            }
            "attribute"
            | "call"
            | "parenthesized_expression"
            | "subscript"
            | "set_comprehension"
            | "list_comprehension"
            | "dictionary_comprehension"
            | "generator_expression"
            | "for_in_clause" => {}
            _ => return Compared::No,
        }
        child = p;
        cur = p.parent();
    }
    Compared::No
}

/// Whether an operand is a fixed value: a literal, a module-level name that is not module
/// state itself (`config.DEFAULTS`), or a container built of such (`set(["a"])`). Not
/// `value::fixed`, which knows names by their spelling (`CUTOFF`) and the values a test
/// bound, not which module-level names are state.
fn fixed(cx: &Cx, node: Node) -> bool {
    match node.kind() {
        k if SCALAR_LITERALS.contains(&k) => true,
        "list" | "tuple" | "dictionary" | "set" | "unary_operator" => true,
        "parenthesized_expression" => node.named_child(0).is_some_and(|c| fixed(cx, c)),
        "identifier" | "attribute" => {
            let head = if node.kind() == "attribute" {
                match node.child_by_field_name("object") {
                    Some(o) if o.kind() == "identifier" => o,
                    _ => return false,
                }
            } else {
                node
            };
            let name = cx.text(head);
            (cx.module_names.contains(name) || cx.imports.contains_key(name))
                && cx.is_global(name)
                && cx.state_key(node).is_none()
        }
        "call" => {
            node.child_by_field_name("function").is_some_and(|f| {
                matches!(cx.text(f), "dict" | "set" | "frozenset" | "list" | "tuple")
            }) && crate::python::positional(node)
                .iter()
                .all(|a| fixed(cx, *a))
        }
        _ => false,
    }
}

/// Whether a read of the whole value in test code is compared only with values that are not
/// fixed ([`Part::Live`]): directly, or through a local name every later use of which is such
/// a comparison (or is printed). A rough test, which does not prove the other side a view of
/// the same state (plumbum compares `local.env` with what `printenv` prints, `async_local.env` with
/// `local.env`); a comparison with a fixed value, a count, or any other use keeps the read a
/// look at the whole value.
fn live(cx: &Cx, node: Node) -> bool {
    let with_other = |n: Node| matches!(compared(cx, n), Compared::With(o) if !fixed(cx, o));
    // `print(actual, localenv)` shows the value; it decides nothing.
    let printed = |n: Node| {
        argument_of(n)
            .and_then(|c| c.child_by_field_name("function"))
            .is_some_and(|f| cx.text(f) == "print")
    };
    match compared(cx, node) {
        Compared::With(o) => !fixed(cx, o),
        Compared::Kept(name, assignment) => {
            super::later_uses(cx, assignment, name).is_some_and(|uses| {
                uses.iter().any(|u| with_other(*u))
                    && uses.iter().all(|u| printed(*u) || with_other(*u))
            })
        }
        Compared::No => false,
    }
}

/// The call a node is an argument of (positional or keyword), if any.
fn argument_of(node: Node) -> Option<Node> {
    let mut arg = node;
    if let Some(p) = node.parent()
        && p.kind() == "keyword_argument"
    {
        arg = p;
    }
    arg.parent()
        .filter(|p| p.kind() == "argument_list")
        .and_then(|p| p.parent())
}

/// Whether a reference is the target of a new process (`multiprocessing.Process(target=f)`,
/// `ctx.Process(…, f)`): it runs in the child, whose changes to module state the test's
/// process never sees (rq's worker that points `sys.stderr` at a log file).
fn handed_to_a_process(cx: &Cx, node: Node) -> bool {
    argument_of(node)
        .and_then(|call| call.child_by_field_name("function"))
        .is_some_and(|f| {
            let t = cx.text(f);
            t == "Process" || t.ends_with(".Process")
        })
}

/// Whether a reference is handed to a call that may call it (`assertRaises(E, Rule, …)`,
/// `Thread(target=work)`, `map(Rule, xs)`): a class handed over is a factory, constructed
/// there. Not a type check's (`isinstance(x, Rule)`, `assertIsInstance(x, Rule)`) nor
/// `super(Rule, self)` (python-dateutil's `rrule.__init__`, which would otherwise construct
/// its own class again): those only name the class.
fn handed_to_a_call(cx: &Cx, node: Node) -> bool {
    argument_of(node).is_some_and(|call| {
        !super::clock::type_check(cx, call)
            && !call
                .child_by_field_name("function")
                .is_some_and(|f| matches!(cx.text(f), "super" | "getattr" | "setattr" | "vars"))
            && !call
                .child_by_field_name("function")
                .and_then(|f| f.child_by_field_name("attribute"))
                .is_some_and(|m| matches!(cx.text(m), "assertIsInstance" | "assertNotIsInstance"))
    })
}

/// Calls that end the process there and then: the image replaced (`os.exec*`) or left without
/// unwinding (`os._exit`, `os.abort`). Not `sys.exit`, whose `SystemExit` a test runner
/// catches, nor `os.kill`, whose signal may be handled.
const PROCESS_ENDS: &[&str] = &[
    "os._exit",
    "os.abort",
    "os.execl",
    "os.execle",
    "os.execlp",
    "os.execlpe",
    "os.execv",
    "os.execve",
    "os.execvp",
    "os.execvpe",
];

/// Whether every path through a function ends the process: its last statement is such a
/// call, or an `if` each of whose branches (an `else` among them) ends so. tornado's
/// autoreload `_reload()` sets `_reload_attempted = True`, then re-executes the interpreter
/// with `os.execv` (or `os._exit(0)` after spawning it): no later test of that process reads
/// the flag, and a test that reached it would not finish.
pub(crate) fn ends_process(cx: &Cx, def: Node) -> bool {
    def.child_by_field_name("body")
        .is_some_and(|b| block_ends(cx, b, 0))
}

fn block_ends(cx: &Cx, block: Node, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    let mut c = block.walk();
    let Some(last) = block
        .named_children(&mut c)
        .filter(|n| n.kind() != "comment")
        .last()
    else {
        return false;
    };
    match last.kind() {
        "expression_statement" => last.named_child(0).is_some_and(|call| {
            call.kind() == "call"
                && call
                    .child_by_field_name("function")
                    .and_then(|f| cx.qname(f))
                    .is_some_and(|q| PROCESS_ENDS.contains(&q.as_str()))
        }),
        "if_statement" => {
            let mut c = last.walk();
            let alternatives: Vec<Node> =
                last.children_by_field_name("alternative", &mut c).collect();
            let has_else = alternatives.iter().any(|a| a.kind() == "else_clause");
            has_else
                && last
                    .child_by_field_name("consequence")
                    .is_some_and(|b| block_ends(cx, b, depth + 1))
                && alternatives.iter().all(|a| {
                    a.child_by_field_name(if a.kind() == "else_clause" {
                        "body"
                    } else {
                        "consequence"
                    })
                    .is_some_and(|b| block_ends(cx, b, depth + 1))
                })
        }
        _ => false,
    }
}
