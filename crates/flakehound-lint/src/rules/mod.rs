//! The rules: one module per family. Each rule has an id, the root-cause category `diagnose`
//! names for the same mechanism, what it finds and how to fix it.
//!
//! The families see every node of a Python function body (and of module-level assignments)
//! through [`visit`], in source order, and keep per-function state in [`crate::python::Cx`].

use flakehound_model::Category;

pub mod clock;
pub mod fs;
pub mod network;
pub mod order;
pub mod random;
pub mod retry;
pub mod state;
pub mod threads;
pub mod value;

/// How often a rule's findings are real flakes, measured (README, "Static scan (lint)" →
/// "Measured"): the default set is reported; a pedantic rule only when asked for (`--pedantic`,
/// `[lint] pedantic = true` or `enable = ["id"]`), as clippy separates its default lints from
/// the pedantic ones. `explain` and `report --json` use every rule's findings as evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Default,
    /// Precision measured too low to report by default: the hazard is real but rarely fails.
    Pedantic,
}

/// A rule of the static scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, used in suppressions (`# flakehound: ignore[ID]`) and the config file.
    pub id: &'static str,
    /// Root-cause category, as `diagnose` and `classify` name it.
    pub category: Category,
    /// What the rule finds (one line).
    pub summary: &'static str,
    /// How to fix what it finds.
    pub fix: &'static str,
    pub tier: Tier,
}

pub const SLEEP_WAIT: Rule = Rule {
    id: "sleep-wait",
    category: Category::Concurrency,
    summary: "the test sleeps a fixed time instead of waiting for the event it needs",
    fix: "wait for the condition with a timeout (poll it, or wait on an Event/future) instead of sleeping",
    tier: Tier::Pedantic,
};
pub const UNSEEDED_RANDOM: Rule = Rule {
    id: "unseeded-random",
    category: Category::Randomness,
    summary: "draws from an unseeded random generator, so every run tests other values",
    fix: "seed the generator in the test (random.seed(…), a seeded random.Random(…)) or inject the values",
    tier: Tier::Default,
};
pub const WALL_CLOCK: Rule = Rule {
    id: "wall-clock-compare",
    category: Category::Time,
    summary: "reads the local wall clock, so the outcome depends on the time zone and the moment of the run",
    fix: "freeze the clock (freezegun, time-machine) or pass the date in; use aware UTC datetimes",
    tier: Tier::Default,
};
pub const TIMING_ASSERT: Rule = Rule {
    id: "timing-assert",
    category: Category::Timeout,
    summary: "asserts on a measured duration, which a busy machine stretches",
    fix: "assert on the work done, not on wall time; or give the budget a generous margin and mark the test as a benchmark",
    tier: Tier::Default,
};
pub const REAL_NETWORK: Rule = Rule {
    id: "real-network",
    category: Category::Network,
    summary: "calls a real network service",
    fix: "stub the service (responses, respx, a local server fixture) or mark the test as needing the network",
    tier: Tier::Default,
};
pub const FIXED_TMP_PATH: Rule = Rule {
    id: "fixed-tmp-path",
    category: Category::Filesystem,
    summary: "uses a fixed file path that parallel runs share",
    fix: "use `tmp_path` (pytest) or tempfile.mkdtemp()/NamedTemporaryFile for a path of the test's own",
    tier: Tier::Default,
};
pub const SET_ORDER_ASSERT: Rule = Rule {
    id: "set-order-assert",
    category: Category::Unordered,
    summary: "asserts the order of a set, which follows the hash seed",
    fix: "compare sets (or sorted(...)) instead of ordered sequences",
    tier: Tier::Default,
};
pub const SET_ITERATION: Rule = Rule {
    id: "set-iteration-order",
    category: Category::Unordered,
    summary: "turns a set into ordered output (join, list, tuple), whose order follows the hash seed",
    fix: "iterate sorted(...) or keep the order with dict.fromkeys(...)",
    tier: Tier::Default,
};
pub const SHARED_STATE: Rule = Rule {
    id: "shared-module-state",
    category: Category::Order,
    summary: "module-level state that a test changes and a test reads: the outcome depends on which tests ran before",
    fix: "restore the state after the test (monkeypatch, a fixture with teardown) or build fresh state per test",
    tier: Tier::Default,
};
pub const THREAD_NO_JOIN: Rule = Rule {
    id: "thread-no-join",
    category: Category::Concurrency,
    summary: "starts a thread and never joins it, so the test checks results that may not exist yet",
    fix: "join the thread (with a timeout) before asserting, or wait for its result on a queue with a timeout",
    // Pedantic since round 7 (README, "Measured"): over seven rounds of labelled corpora not one
    // of its findings was on a test that failed in reruns or under diagnose's load and thread
    // conditions; most threads it finds are servers a fixture stops, signal senders and timers
    // whose work the test waits for another way.
    tier: Tier::Pedantic,
};
pub const RETRY_MARKER: Rule = Rule {
    id: "retry-marker",
    category: Category::Unknown,
    summary: "a retry marker hides the test's failures instead of fixing them",
    fix: "find the cause (`flakehound diagnose`), fix it, then drop the marker",
    // Pedantic since round 5 (README, "Measured"): a marker is the team saying it already
    // knows; it points at no line that causes anything, and on the third held-out set none of
    // watchdog's 21 `@flaky(max_runs=5)` tests failed here (21 of 27 false positives).
    tier: Tier::Pedantic,
};

/// Every rule, in the order the README lists them.
pub const RULES: &[Rule] = &[
    SLEEP_WAIT,
    UNSEEDED_RANDOM,
    WALL_CLOCK,
    TIMING_ASSERT,
    REAL_NETWORK,
    FIXED_TMP_PATH,
    SET_ORDER_ASSERT,
    SET_ITERATION,
    SHARED_STATE,
    THREAD_NO_JOIN,
    RETRY_MARKER,
];

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Runs every family on one node.
pub(crate) fn visit(cx: &mut crate::python::Cx, node: tree_sitter::Node) {
    match node.kind() {
        "call" => {
            clock::call(cx, node);
            random::call(cx, node);
            network::call(cx, node);
            fs::call(cx, node);
            order::call(cx, node);
            state::call(cx, node);
            threads::call(cx, node);
            value::call(cx, node);
        }
        "assert_statement" => {
            clock::assert(cx, node);
            order::assert(cx, node);
            value::assert(cx, node);
        }
        "assignment" | "augmented_assignment" => {
            clock::assign(cx, node);
            order::assign(cx, node);
            state::assign(cx, node);
            threads::assign(cx, node);
            fs::assign(cx, node);
            value::assign(cx, node);
        }
        "return_statement" => clock::ret(cx, node),
        "for_statement" => value::for_stmt(cx, node),
        "with_item" => value::with_item(cx, node),
        "delete_statement" => state::delete(cx, node),
        "yield" => cx.seen_yield = true,
        "identifier" | "attribute" => state::reference(cx, node),
        _ => {}
    }
}

/// Whether the subtree of `n` holds a call whose callee's text satisfies `callee` (looked at
/// up to 100,000 nodes: a pathological tree is not searched to its end).
pub(crate) fn calls(
    cx: &crate::python::Cx,
    n: tree_sitter::Node,
    callee: &dyn Fn(&str) -> bool,
) -> bool {
    let mut stack = vec![n];
    let mut seen = 0usize;
    while let Some(x) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            return false;
        }
        if x.kind() == "call"
            && x.child_by_field_name("function")
                .is_some_and(|f| callee(cx.text(f)))
        {
            return true;
        }
        let mut c = x.walk();
        stack.extend(x.named_children(&mut c));
    }
    false
}

/// Walks up from `node` through the `with` statements around it, up to the first ancestor of
/// a kind in `stop`: `Ok(())` when one of their clauses calls a callee satisfying `callee`,
/// else the ancestor where the walk stopped (`None` at the module).
pub(crate) fn with_calling<'t>(
    cx: &crate::python::Cx,
    node: tree_sitter::Node<'t>,
    stop: &[&str],
    callee: &dyn Fn(&str) -> bool,
) -> Result<(), Option<tree_sitter::Node<'t>>> {
    let mut cur = node.parent();
    while let Some(n) = cur {
        if n.kind() == "with_statement" {
            let mut c = n.walk();
            let clause = n.named_children(&mut c).find(|k| k.kind() == "with_clause");
            if clause.is_some_and(|k| calls(cx, k, callee)) {
                return Ok(());
            }
        } else if stop.contains(&n.kind()) {
            return Err(Some(n));
        }
        cur = n.parent();
    }
    Err(None)
}

/// Whether `node` runs only in the body of an `if` of its function whose condition `holds`
/// (`if not X: X.append(…)`, `if not os.path.exists(p): open(p, "w")`).
pub(crate) fn under_if<'t>(
    node: tree_sitter::Node<'t>,
    holds: impl Fn(tree_sitter::Node<'t>) -> bool,
) -> bool {
    let mut child = node;
    let mut cur = node.parent();
    while let Some(n) = cur {
        match n.kind() {
            "if_statement"
                if n.child_by_field_name("consequence") == Some(child)
                    && n.child_by_field_name("condition").is_some_and(&holds) =>
            {
                return true;
            }
            "function_definition" | "lambda" | "class_definition" => return false,
            _ => {}
        }
        child = n;
        cur = n.parent();
    }
    false
}

/// The uses of `name` after `assignment` in its function; `None` outside a function or in
/// one too large to tell (see [`answer_in`]).
pub(crate) fn later_uses<'t>(
    cx: &crate::python::Cx,
    assignment: tree_sitter::Node<'t>,
    name: &str,
) -> Option<Vec<tree_sitter::Node<'t>>> {
    let f = enclosing_function(assignment)?;
    let mut uses = Vec::new();
    let too_large = answer_in(f, |n| {
        if n.kind() == "identifier" && n.start_byte() >= assignment.end_byte() && cx.text(n) == name
        {
            uses.push(n);
        }
        None
    });
    too_large.is_none().then_some(uses)
}

/// The function definition enclosing `n` (or `n` itself), if any.
pub(crate) fn enclosing_function(n: tree_sitter::Node<'_>) -> Option<tree_sitter::Node<'_>> {
    let mut f = n;
    while f.kind() != "function_definition" {
        f = f.parent()?;
    }
    Some(f)
}

/// Visits the nodes of `root` depth first until `visit` gives an answer, which is returned;
/// `None` when every node was visited without one. A subtree of more than 100,000 nodes is too
/// large to tell: `Some(false)`.
pub(crate) fn answer_in<'t>(
    root: tree_sitter::Node<'t>,
    mut visit: impl FnMut(tree_sitter::Node<'t>) -> Option<bool>,
) -> Option<bool> {
    let mut stack = vec![root];
    let mut seen = 0usize;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            return Some(false);
        }
        if let Some(answer) = visit(n) {
            return Some(answer);
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    None
}
