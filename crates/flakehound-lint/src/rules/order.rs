//! Unordered collections: `set-order-assert` (a test compares an ordered view of a set with a
//! sequence) and `set-iteration-order` (code turns a set into ordered output). The iteration
//! order of a set of strings follows `PYTHONHASHSEED`, which differs per process.

use super::{SET_ITERATION, SET_ORDER_ASSERT};
use crate::python::{Cx, dotted, positional};
use tree_sitter::Node;

/// An expression whose value is a set.
fn is_set(cx: &Cx, node: Node) -> bool {
    is_set_d(cx, node, 0)
}

fn is_set_d(cx: &Cx, node: Node, depth: usize) -> bool {
    if depth > crate::python::SHAPE_DEPTH {
        return false;
    }
    match node.kind() {
        "set" | "set_comprehension" => true,
        "identifier" => cx.set_vars.contains(cx.text(node)),
        "parenthesized_expression" => node
            .named_child(0)
            .is_some_and(|n| is_set_d(cx, n, depth + 1)),
        "call" => {
            let Some(f) = node.child_by_field_name("function") else {
                return false;
            };
            match dotted(f, cx.src).as_deref() {
                Some("set" | "frozenset") => true,
                _ if f.kind() == "attribute" => {
                    let m = f
                        .child_by_field_name("attribute")
                        .map(|a| cx.text(a))
                        .unwrap_or("");
                    matches!(
                        m,
                        "union" | "intersection" | "difference" | "symmetric_difference"
                    ) && f
                        .child_by_field_name("object")
                        .is_some_and(|o| is_set_d(cx, o, depth + 1))
                }
                _ => false,
            }
        }
        "binary_operator" => {
            let op = node
                .child_by_field_name("operator")
                .map(|o| cx.text(o))
                .unwrap_or("");
            matches!(op, "|" | "&" | "-" | "^")
                && (node
                    .child_by_field_name("left")
                    .is_some_and(|n| is_set_d(cx, n, depth + 1))
                    && node
                        .child_by_field_name("right")
                        .is_some_and(|n| is_set_d(cx, n, depth + 1)))
        }
        _ => false,
    }
}

/// A comprehension or generator iterating a set.
fn iterates_set(cx: &Cx, node: Node) -> bool {
    if !matches!(node.kind(), "generator_expression" | "list_comprehension") {
        return false;
    }
    let mut c = node.walk();
    node.named_children(&mut c).any(|ch| {
        ch.kind() == "for_in_clause"
            && ch
                .child_by_field_name("right")
                .is_some_and(|r| is_set(cx, r))
    })
}

/// An ordered view of a set: `list(s)`, `tuple(s)`, `"…".join(s)`, `[f(x) for x in s]`,
/// `next(iter(s))`. Returns what to show.
fn ordered_view(cx: &Cx, node: Node) -> Option<String> {
    if node.kind() == "list_comprehension" && iterates_set(cx, node) {
        return Some("a list built from a set".into());
    }
    if node.kind() == "list" {
        // `[*s]`
        let mut c = node.walk();
        let splat = node.named_children(&mut c).any(|ch| {
            ch.kind() == "list_splat" && ch.named_child(0).is_some_and(|n| is_set(cx, n))
        });
        return splat.then(|| "a list unpacked from a set".into());
    }
    if node.kind() != "call" {
        return None;
    }
    let f = node.child_by_field_name("function")?;
    let args = positional(node);
    let arg = *args.first()?;
    let from_set = is_set(cx, arg) || iterates_set(cx, arg);
    if !from_set {
        return None;
    }
    match dotted(f, cx.src).as_deref() {
        Some("list" | "tuple") => Some(format!("`{}(…)` of a set", cx.text(f))),
        Some("next") => Some("the first element of a set".into()),
        _ if f.kind() == "attribute"
            && f.child_by_field_name("attribute")
                .is_some_and(|a| cx.text(a) == "join")
            && f.child_by_field_name("object")
                .is_some_and(|o| matches!(o.kind(), "string" | "identifier")) =>
        {
            Some("a string joined from a set".into())
        }
        _ => None,
    }
}

pub(crate) fn call(cx: &mut Cx, node: Node) {
    // `next(iter(s))`
    if let Some(f) = node.child_by_field_name("function")
        && dotted(f, cx.src).as_deref() == Some("next")
        && let Some(inner) = positional(node).first()
        && inner.kind() == "call"
        && inner
            .child_by_field_name("function")
            .and_then(|g| dotted(g, cx.src))
            .as_deref()
            == Some("iter")
        && positional(*inner).first().is_some_and(|s| is_set(cx, *s))
    {
        cx.hit(&SET_ITERATION, node, "the first element of a set");
        return;
    }
    // unittest: assertEqual(list(s), [...])
    if cx.test_code
        && let Some(f) = node.child_by_field_name("function")
        && f.kind() == "attribute"
        && f.child_by_field_name("attribute").is_some_and(|a| {
            matches!(
                cx.text(a),
                "assertEqual" | "assertListEqual" | "assertSequenceEqual" | "assertTupleEqual"
            )
        })
    {
        let args = positional(node);
        if args.len() >= 2
            && let Some(v) = args.iter().find_map(|a| ordered_view(cx, *a))
        {
            cx.hit(&SET_ORDER_ASSERT, node, v);
            return;
        }
    }
    if cx.asserts > 0 && cx.test_code {
        return;
    }
    if let Some(v) = ordered_view(cx, node) {
        // `list(s)` alone is fine when sorted or counted later; report joins and lists that
        // leave the function (returned or joined), which is where order becomes visible.
        let shown = v;
        let visible = node.parent().is_some_and(|p| {
            matches!(p.kind(), "return_statement" | "interpolation" | "subscript")
        }) || shown.starts_with("a string");
        if visible {
            // In the code under test, an order it only returns is judged where it is used
            // (a caller that keeps it, a test that compares it unsorted); see
            // `FnFacts::returns_order`.
            if !cx.test_code && super::random::returned(cx, node) {
                let h = cx.make_hit(&SET_ITERATION, node, shown);
                cx.out.returns_order.push(h);
            } else {
                let mut h = cx.make_hit(&SET_ITERATION, node, shown);
                if in_message(cx, node) {
                    // An exception's message, a warning, a log line, a skip's reason: text
                    // that describes; a test that matches it in full is rare.
                    h.weaken(", in a message (an exception's, a warning's, a log line)");
                } else if !cx.test_code {
                    // Used by the code under test itself (see `project::INNER_ORDER`).
                    h.weaken(crate::project::INNER_ORDER);
                }
                cx.out.hits.push(h);
            }
        }
    }
}

/// Whether `node` is part of a message: the exception a `raise` raises, the arguments of a
/// warning or a log call (`warnings.warn(…)`, `log.info(…)`), a `reason=`/`msg=` (a skip's).
fn in_message(cx: &Cx, node: Node) -> bool {
    let mut cur = node.parent();
    while let Some(n) = cur {
        match n.kind() {
            "raise_statement" => return true,
            "keyword_argument"
                if n.child_by_field_name("name")
                    .is_some_and(|k| matches!(cx.text(k), "reason" | "msg" | "message")) =>
            {
                return true;
            }
            "call" => {
                let name = n
                    .child_by_field_name("function")
                    .and_then(|f| match f.kind() {
                        "attribute" => f.child_by_field_name("attribute"),
                        "identifier" => Some(f),
                        _ => None,
                    });
                if name.is_some_and(|f| {
                    matches!(
                        cx.text(f),
                        "warn"
                            | "debug"
                            | "info"
                            | "warning"
                            | "error"
                            | "exception"
                            | "critical"
                            | "skip"
                            | "xfail"
                            | "fail"
                    )
                }) {
                    return true;
                }
            }
            "expression_statement"
            | "return_statement"
            | "assignment"
            | "function_definition"
            | "class_definition"
            | "lambda"
            | "block" => return false,
            _ => {}
        }
        cur = n.parent();
    }
    false
}

pub(crate) fn assign(cx: &mut Cx, node: Node) {
    let (Some(l), Some(r)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return;
    };
    if l.kind() != "identifier" {
        return;
    }
    let name = cx.text(l).to_string();
    if is_set(cx, r) {
        cx.set_vars.insert(name);
    } else if node.kind() == "assignment" {
        cx.set_vars.remove(&name);
    }
}

pub(crate) fn assert(cx: &mut Cx, node: Node) {
    if !cx.test_code {
        return;
    }
    let Some(cond) = node.named_child(0) else {
        return;
    };
    if cond.kind() != "comparison_operator" {
        return;
    }
    let mut c = cond.walk();
    let eq = cond
        .children(&mut c)
        .any(|ch| matches!(ch.kind(), "==" | "!="));
    if !eq {
        return;
    }
    let mut c = cond.walk();
    let sides: Vec<Node> = cond.named_children(&mut c).collect();
    if sides.iter().any(|s| is_set(cx, *s)) {
        // Comparing with a set is order-free.
        return;
    }
    if let Some(v) = sides.iter().find_map(|s| ordered_view(cx, *s)) {
        cx.hit(&SET_ORDER_ASSERT, cond, v);
    }
}
