//! Concurrency: `thread-no-join`, a test that starts a thread (or process) and never joins it
//! nor waits for it (a barrier, an event, a future's result, a blocking queue read): what it
//! asserts may not have happened yet, and the thread outlives the test.

use super::THREAD_NO_JOIN;
use crate::python::{Cx, kwarg, positional};
use tree_sitter::Node;

fn is_thread_ctor(cx: &Cx, node: Node) -> bool {
    node.kind() == "call"
        && node
            .child_by_field_name("function")
            .and_then(|f| cx.qname(f))
            .is_some_and(|q| {
                matches!(
                    q.as_str(),
                    "threading.Thread"
                        | "threading.Timer"
                        | "multiprocessing.Process"
                        | "Thread"
                        | "Process"
                )
            })
}

pub(crate) fn assign(cx: &mut Cx, node: Node) {
    let (Some(l), Some(r)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return;
    };
    let ctor = if is_thread_ctor(cx, r) {
        Some(r)
    } else if r.kind() == "list_comprehension" {
        r.named_child(0).filter(|b| is_thread_ctor(cx, *b))
    } else {
        None
    };
    if let Some(ctor) = ctor {
        let h = cx.make_hit(&THREAD_NO_JOIN, ctor, format!("`{}`", cx.text(l)));
        let name = cx.text(l).to_string();
        cx.threads.push((name, h));
    }
}

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
    match cx.text(attr) {
        "start" => {
            if is_thread_ctor(cx, obj) {
                let h = cx.make_hit(&THREAD_NO_JOIN, obj, "an unnamed thread");
                cx.threads.push((String::new(), h));
                cx.started.insert(String::new());
            } else {
                let name = cx.text(obj).to_string();
                cx.started.insert(name);
            }
        }
        "join" => {
            // str.join takes one iterable; Thread.join takes nothing or a timeout.
            let args = positional(node);
            let thread_join = args.is_empty()
                || kwarg(node, "timeout", cx.src).is_some()
                || (args.len() == 1 && matches!(args[0].kind(), "integer" | "float"));
            if thread_join {
                cx.joined = true;
            }
        }
        // Waiting for the thread another way, as the fix advises: a barrier, an event, a
        // condition or a process waited on (`.wait()`), a future's `.result()`, a queue read
        // that blocks (`q.get()`, `q.get(timeout=5)`; `d.get(key)` is a dict's).
        "wait" | "result" => cx.joined = true,
        "get"
            if positional(node).is_empty()
                || kwarg(node, "timeout", cx.src).is_some()
                || kwarg(node, "block", cx.src).is_some() =>
        {
            cx.joined = true;
        }
        _ => {}
    }
}

/// At the end of a test function: threads created and started, and nothing joined. A thread
/// the function returns or yields (rq's `start_worker_process()` helper, whose callers join the
/// process) is the caller's to join: the scan does not follow it there, so it is not reported.
pub(crate) fn finish(cx: &mut Cx, def: Node) {
    cx.out.joins = cx.joined;
    if !cx.test_code || cx.joined || cx.started.is_empty() {
        return;
    }
    let threads = std::mem::take(&mut cx.threads);
    let mut escaped = Vec::new();
    if let Some(body) = def.child_by_field_name("body") {
        handed_back(cx, body, &mut escaped, 0);
    }
    for (name, hit) in threads {
        if !name.is_empty() && escaped.contains(&name) {
            continue;
        }
        // Started by name, or (a list of threads) started in a loop.
        if cx.started.contains(&name) || !cx.started.is_empty() {
            cx.out.hits.push(hit);
        }
    }
}

/// The names a function returns or yields (`return p`, `return p, q`, `yield p`), not looking
/// into functions or classes defined inside it.
fn handed_back(cx: &Cx, node: Node, out: &mut Vec<String>, depth: usize) {
    if depth > crate::python::MAX_DEPTH {
        return;
    }
    match node.kind() {
        "function_definition" | "class_definition" | "lambda" => return,
        "return_statement" | "yield" => {
            let mut c = node.walk();
            for e in node.named_children(&mut c) {
                let items: Vec<Node> = if matches!(e.kind(), "expression_list" | "tuple" | "list") {
                    let mut c2 = e.walk();
                    e.named_children(&mut c2).collect()
                } else {
                    vec![e]
                };
                out.extend(
                    items
                        .into_iter()
                        .filter(|i| i.kind() == "identifier")
                        .map(|i| cx.text(i).to_string()),
                );
            }
            return;
        }
        _ => {}
    }
    let mut c = node.walk();
    let kids: Vec<Node> = node.named_children(&mut c).collect();
    for k in kids {
        handed_back(cx, k, out, depth + 1);
    }
}
