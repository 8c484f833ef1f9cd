//! Time: `wall-clock-compare` (local clock reads), `timing-assert` (asserting a measured
//! duration) and `sleep-wait` (a fixed sleep in a test instead of waiting for the event).

use super::{SLEEP_WAIT, TIMING_ASSERT, WALL_CLOCK};
use crate::python::{Cx, positional};
use tree_sitter::Node;

/// Clock reads whose value is the local date or time (a naive datetime or the local zone).
fn local_clock(q: &str, call: Node, cx: &Cx) -> bool {
    let npos = positional(call).len();
    let has_tz = crate::python::kwarg(call, "tz", cx.src).is_some()
        || crate::python::kwarg(call, "tzinfo", cx.src).is_some();
    match q {
        "datetime.date.today" | "datetime.datetime.today" | "datetime.datetime.utcnow" => true,
        "datetime.datetime.now" => npos == 0 && !has_tz,
        "datetime.datetime.fromtimestamp" | "datetime.date.fromtimestamp" => npos == 1 && !has_tz,
        "time.localtime" | "time.ctime" => npos == 0,
        "time.strftime" => npos == 1,
        "pendulum.today" | "arrow.now" => true,
        _ => false,
    }
}

/// Calls that start a stopwatch.
fn stopwatch(q: &str) -> bool {
    matches!(
        q,
        "time.time"
            | "time.perf_counter"
            | "time.monotonic"
            | "time.process_time"
            | "time.perf_counter_ns"
            | "time.monotonic_ns"
            | "time.time_ns"
            | "timeit.default_timer"
            | "datetime.datetime.now"
            | "datetime.datetime.utcnow"
    )
}

fn is_clock_call(cx: &Cx, node: Node) -> bool {
    node.kind() == "call"
        && node
            .child_by_field_name("function")
            .and_then(|f| cx.qname(f))
            .is_some_and(|q| stopwatch(&q))
}

/// An expression that is a measured duration: an elapsed variable, `clock() - start`,
/// `end - start` with clock variables, `(…).total_seconds()`.
fn is_duration(cx: &Cx, node: Node) -> bool {
    match node.kind() {
        "identifier" => cx.elapsed_vars.contains(cx.text(node)),
        "parenthesized_expression" => node.named_child(0).is_some_and(|n| is_duration(cx, n)),
        "binary_operator" => {
            let op = node
                .child_by_field_name("operator")
                .map(|o| cx.text(o))
                .unwrap_or("");
            let l = node.child_by_field_name("left");
            let r = node.child_by_field_name("right");
            let timed = |n: Option<Node>| {
                n.is_some_and(|n| {
                    is_clock_call(cx, n)
                        || (n.kind() == "identifier" && cx.clock_vars.contains(cx.text(n)))
                        || is_duration(cx, n)
                })
            };
            match op {
                "-" => timed(l) && timed(r),
                "*" | "/" | "//" => is_duration_opt(cx, l) || is_duration_opt(cx, r),
                _ => false,
            }
        }
        "call" => {
            // `(end - start).total_seconds()`
            node.child_by_field_name("function").is_some_and(|f| {
                f.kind() == "attribute"
                    && f.child_by_field_name("attribute")
                        .is_some_and(|a| cx.text(a) == "total_seconds")
                    && f.child_by_field_name("object")
                        .is_some_and(|o| is_duration(cx, o))
            })
        }
        _ => false,
    }
}

fn is_duration_opt(cx: &Cx, n: Option<Node>) -> bool {
    n.is_some_and(|n| is_duration(cx, n))
}

fn in_loop(node: Node) -> bool {
    let mut cur = node.parent();
    while let Some(n) = cur {
        match n.kind() {
            "while_statement" | "for_statement" => return true,
            "function_definition" | "lambda" => return false,
            _ => {}
        }
        cur = n.parent();
    }
    false
}

pub(crate) fn call(cx: &mut Cx, node: Node) {
    let Some(func) = node.child_by_field_name("function") else {
        return;
    };
    let Some(q) = cx.qname(func) else { return };
    if local_clock(&q, node, cx) {
        let shown = format!("`{}()`", cx.text(func));
        cx.hit(&WALL_CLOCK, node, shown);
        return;
    }
    if cx.test_code
        && matches!(
            q.as_str(),
            "time.sleep" | "asyncio.sleep" | "gevent.sleep" | "trio.sleep" | "anyio.sleep"
        )
        && !in_loop(node)
    {
        let arg = positional(node).first().copied();
        let zero = arg.is_some_and(|a| {
            matches!(a.kind(), "integer" | "float")
                && cx.text(a).parse::<f64>().is_ok_and(|v| v == 0.0)
        });
        if arg.is_some() && !zero {
            let shown = format!("`{}({})`", cx.text(func), arg.map_or("", |a| cx.text(a)));
            cx.hit(&SLEEP_WAIT, node, shown);
        }
        return;
    }
    // unittest's comparisons of a duration.
    if cx.test_code && func.kind() == "attribute" {
        let name = func
            .child_by_field_name("attribute")
            .map(|a| cx.text(a))
            .unwrap_or("");
        if matches!(
            name,
            "assertLess" | "assertLessEqual" | "assertGreater" | "assertGreaterEqual"
        ) && positional(node).iter().any(|a| is_duration(cx, *a))
        {
            cx.hit(&TIMING_ASSERT, node, format!("`{name}` on a measured duration"));
        }
    }
}

pub(crate) fn assign(cx: &mut Cx, node: Node) {
    let (Some(l), Some(r)) = (node.child_by_field_name("left"), node.child_by_field_name("right"))
    else {
        return;
    };
    if l.kind() != "identifier" {
        return;
    }
    let name = cx.text(l).to_string();
    if is_clock_call(cx, r) {
        cx.clock_vars.insert(name);
    } else if is_duration(cx, r) {
        cx.elapsed_vars.insert(name);
    }
}

pub(crate) fn assert(cx: &mut Cx, node: Node) {
    if !cx.test_code {
        return;
    }
    let Some(cond) = node.named_child(0) else {
        return;
    };
    let mut stack = vec![cond];
    while let Some(n) = stack.pop() {
        match n.kind() {
            "comparison_operator" => {
                let mut c = n.walk();
                let ordered = n
                    .children(&mut c)
                    .any(|ch| matches!(ch.kind(), "<" | "<=" | ">" | ">="));
                let mut c = n.walk();
                let timed = n.named_children(&mut c).any(|ch| is_duration(cx, ch));
                if ordered && timed {
                    let shown = format!("`{}`", cx.text(n));
                    cx.hit(&TIMING_ASSERT, n, shown);
                    return;
                }
            }
            "boolean_operator" | "parenthesized_expression" | "not_operator" => {
                let mut c = n.walk();
                stack.extend(n.named_children(&mut c));
            }
            _ => {}
        }
    }
}
