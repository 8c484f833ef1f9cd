//! Randomness: `unseeded-random`, draws from the process-wide generators (`random`,
//! `numpy.random`) or from generators built without a seed. A test whose file (or the test
//! itself, or anything it calls) seeds the generator is not reported (see the project pass).

use super::UNSEEDED_RANDOM;
use crate::python::{Cx, positional};
use tree_sitter::Node;

/// The `random` module's draws, by name (also the value model's, `value::SOURCE_NAMES`).
pub(crate) const RANDOM_FNS: &[&str] = &[
    "random",
    "randint",
    "randrange",
    "choice",
    "choices",
    "shuffle",
    "sample",
    "uniform",
    "gauss",
    "normalvariate",
    "getrandbits",
    "triangular",
    "betavariate",
    "expovariate",
    "randbytes",
];

const NUMPY_FNS: &[&str] = &[
    "rand",
    "randn",
    "randint",
    "random",
    "random_sample",
    "choice",
    "shuffle",
    "permutation",
    "normal",
    "uniform",
    "binomial",
    "poisson",
];

/// The draw a call makes, shown for the message, when it is an unseeded one whose value is
/// data (not a unique token or file name).
pub(crate) fn draw(cx: &Cx, node: Node) -> Option<String> {
    let func = node.child_by_field_name("function")?;
    let q = cx.qname(func)?;
    let unseeded = if let Some(f) = q.strip_prefix("random.") {
        RANDOM_FNS.contains(&f) || (f == "Random" && positional(node).is_empty())
    } else if let Some(f) = q.strip_prefix("numpy.random.") {
        NUMPY_FNS.contains(&f)
            || (matches!(f, "default_rng" | "RandomState")
                && positional(node).is_empty()
                && crate::python::kwarg(node, "seed", cx.src).is_none())
    } else {
        false
    };
    if !unseeded {
        return None;
    }
    // `str(random.random())`, `f"{random.random()}"`: a unique token (a file or channel name),
    // whose value no assertion looks at. (Not every formatted draw: flaky-shop's parcel labels
    // `f"PCL-{random.randint(…)}"` are compared by its test.)
    let token = q.ends_with(".random")
        && q.starts_with("random.")
        && node.parent().is_some_and(|p| {
            p.kind() == "interpolation"
                || (p.kind() == "argument_list"
                    && p.parent()
                        .and_then(|c| c.child_by_field_name("function"))
                        .is_some_and(|f| cx.text(f) == "str"))
        });
    (!token && !names_a_file(cx, node)).then(|| format!("`{}(…)`", cx.text(func)))
}

pub(crate) fn call(cx: &mut Cx, node: Node) {
    // In test code a draw matters only when an assertion is sensitive to its value (see
    // `value`); in the code under test, any draw, except one whose value is only returned
    // (humanfriendly's `random_string()`): that one matters where it is used (a caller that
    // stores or compares it, or a test's assertion).
    if !cx.test_code
        && let Some(shown) = draw(cx, node)
    {
        let generator = node
            .child_by_field_name("function")
            .map(|f| cx.text(f))
            .is_some_and(|f| f.ends_with("Random") || f.ends_with("default_rng"));
        if !generator && returned(cx, node) {
            let h = cx.make_hit(&UNSEEDED_RANDOM, node, shown);
            cx.out.returns_draw.push(h);
        } else if redrawn(cx, node, generator) {
            let mut h = cx.make_hit(&UNSEEDED_RANDOM, node, shown);
            h.weaken(REDRAWN);
            cx.out.hits.push(h);
        } else if let Some(attr) = (!generator).then(|| kept_in_attribute(cx, node)).flatten() {
            let h = cx.make_hit(&UNSEEDED_RANDOM, node, shown);
            cx.out.kept_draws.push((h, attr));
        } else {
            cx.hit(&UNSEEDED_RANDOM, node, shown);
        }
    }
}

const REDRAWN: &str = ", drawn again when the code rejects it (a search for a free port or name, as \
     `tempfile` searches)";

/// Kinds a value passes through unchanged in kind on its way to where it is kept.
const CARRIERS: &[&str] = &[
    "binary_operator",
    "unary_operator",
    "parenthesized_expression",
    "conditional_expression",
    "interpolation",
    "string",
    "string_content",
    "format_specifier",
];

/// The attribute a draw made at `node` is kept in, when that is all the function does with it:
/// `self.x = draw`, `self.x = base + draw` (through operators and conversions), or through
/// a local name whose every later use is such an assignment (gunicorn's `jitter =
/// randint(0, cfg.max_requests_jitter)` then `self.max_requests = cfg.max_requests + jitter`).
/// Its value reaches a test through that attribute; a test that never reads it can only see
/// what the code does with it (over nineteen rounds, no draw of the code under test was on a
/// flaky test but flaky-shop's parcel label, which its test reads).
fn kept_in_attribute(cx: &Cx, node: Node) -> Option<String> {
    kept_in_attribute_d(cx, node, 0)
}

fn kept_in_attribute_d(cx: &Cx, node: Node, depth: usize) -> Option<String> {
    if depth > 2 {
        return None;
    }
    let (p, child) = carried(cx, node)?;
    if p.kind() != "assignment" || p.child_by_field_name("right") != Some(child) {
        return None;
    }
    let l = p.child_by_field_name("left")?;
    match l.kind() {
        "attribute" => l
            .child_by_field_name("attribute")
            .map(|a| cx.text(a).to_string()),
        "identifier" => {
            let uses = super::later_uses(cx, p, cx.text(l))?;
            let mut attrs = uses.iter().map(|n| kept_in_attribute_d(cx, *n, depth + 1));
            let first = attrs.next()??;
            attrs.all(|a| a.as_ref() == Some(&first)).then_some(first)
        }
        _ => None,
    }
}

/// Whether the code checks each value it draws at `node` and draws again when it rejects one:
/// the draw is kept in a name (through conversions: `port = int(rng.randrange(…))`) inside a
/// loop whose body goes on to test that name in an `if` that leaves the loop (`return`,
/// `break`). portpicker's last resort draws ports until one is free; every value is one the
/// code itself accepts or rejects, so no particular draw decides a test (its tests count
/// successes). For a generator (`rng = random.Random()`), every draw made from it in the
/// function must be such a pick. Over seventeen held-out rounds no draw of this kind was on a
/// flaky test; a value kept without a check (flaky-shop's parcel label) is not one.
fn redrawn(cx: &Cx, node: Node, generator: bool) -> bool {
    if !generator {
        return picked_in_loop(cx, node);
    }
    let Some((name, assignment)) = kept_in(cx, node) else {
        return false;
    };
    let Some(uses) = super::later_uses(cx, assignment, &name) else {
        return false;
    };
    // `rng.randrange(…)`: every use is the receiver of a method call that is such a pick.
    !uses.is_empty()
        && uses.iter().all(|n| {
            n.parent()
                .filter(|a| a.kind() == "attribute" && a.child_by_field_name("object") == Some(*n))
                .and_then(|a| {
                    a.parent().filter(|c| {
                        c.kind() == "call" && c.child_by_field_name("function") == Some(a)
                    })
                })
                .is_some_and(|c| picked_in_loop(cx, c))
        })
}

/// The name a value made at `node` is assigned to (through conversions and parentheses) and
/// the assignment.
fn kept_in<'t>(cx: &Cx, node: Node<'t>) -> Option<(String, Node<'t>)> {
    let (p, child) = carried(cx, node)?;
    let l = p.child_by_field_name("left")?;
    (p.kind() == "assignment"
        && p.child_by_field_name("right") == Some(child)
        && l.kind() == "identifier")
        .then(|| (cx.text(l).to_string(), p))
}

/// Where the value made at `node` goes, past what carries it unchanged in kind ([`CARRIERS`],
/// arguments of conversions): the first other ancestor, with its child on the way. `None`
/// when a call of another kind takes it first.
fn carried<'t>(cx: &Cx, node: Node<'t>) -> Option<(Node<'t>, Node<'t>)> {
    let mut child = node;
    let mut cur = node.parent();
    while let Some(p) = cur {
        match p.kind() {
            k if CARRIERS.contains(&k) || k == "argument_list" => {}
            "call" => {
                let f = p.child_by_field_name("function")?;
                if f == child || f.kind() != "identifier" || !PASS_THROUGH.contains(&cx.text(f)) {
                    return None;
                }
            }
            _ => return Some((p, child)),
        }
        child = p;
        cur = p.parent();
    }
    None
}

/// A draw kept in a name inside a loop that tests the name in an `if` leaving the loop.
fn picked_in_loop(cx: &Cx, node: Node) -> bool {
    let Some((name, assignment)) = kept_in(cx, node) else {
        return false;
    };
    let mut cur = assignment.parent();
    let looped = loop {
        let Some(p) = cur else { return false };
        match p.kind() {
            "for_statement" | "while_statement" => break p,
            "function_definition" | "lambda" | "class_definition" => return false,
            _ => cur = p.parent(),
        }
    };
    let Some(body) = looped.child_by_field_name("body") else {
        return false;
    };
    let after = assignment.end_byte();
    super::answer_in(body, |n| {
        if n.kind() != "if_statement" || n.start_byte() < after {
            return None;
        }
        let tests_name = n.child_by_field_name("condition").is_some_and(|c| {
            super::answer_in(c, |m| {
                (m.kind() == "identifier" && cx.text(m) == name).then_some(true)
            }) == Some(true)
        });
        let leaves = tests_name
            && super::answer_in(n, |m| match m.kind() {
                "return_statement" | "break_statement" => Some(true),
                "function_definition" | "lambda" | "class_definition" => Some(false),
                _ => None,
            }) == Some(true);
        leaves.then_some(true)
    }) == Some(true)
}

/// Calls a value passes through on its way to a `return` unchanged in kind: conversions and
/// formatting (`str(x)`, `"".join(…)`, `range(n)` in a comprehension).
const PASS_THROUGH: &[&str] = &[
    "str", "int", "float", "round", "abs", "hex", "oct", "bin", "repr", "format", "range", "tuple",
    "list", "sorted", "min", "max", "bytes", "chr",
];
const PASS_THROUGH_METHODS: &[&str] = &[
    "join", "format", "upper", "lower", "strip", "replace", "encode", "decode", "hex", "zfill",
    "rjust", "ljust",
];

/// Whether the value made at `node` (a draw, a call) leaves its function only as what it
/// returns or yields: it is part of a `return`'s expression through operators, formatting,
/// containers and conversions, or assigned to a name whose every later use is. Then the
/// function hands its callers a random value, and whether that makes anything flaky depends
/// on what they do with it. Anything else (an argument of another call, a stored attribute, a
/// condition) uses the value here.
pub(crate) fn returned(cx: &Cx, node: Node) -> bool {
    returned_d(cx, node, 0)
}

fn returned_d(cx: &Cx, node: Node, depth: usize) -> bool {
    if depth > 3 {
        return false;
    }
    let mut child = node;
    let mut cur = node.parent();
    while let Some(p) = cur {
        match p.kind() {
            "return_statement" | "yield" => return true,
            "binary_operator"
            | "unary_operator"
            | "parenthesized_expression"
            | "interpolation"
            | "string"
            | "concatenated_string"
            | "conditional_expression"
            | "list"
            | "tuple"
            | "set"
            | "dictionary"
            | "pair"
            | "generator_expression"
            | "list_comprehension"
            | "set_comprehension"
            | "for_in_clause"
            | "argument_list"
            | "keyword_argument"
            | "expression_list"
            | "string_content"
            | "format_specifier" => {}
            // `new_id().lower()`: a conversion's receiver.
            "attribute"
                if p.child_by_field_name("object") == Some(child)
                    && p.child_by_field_name("attribute")
                        .is_some_and(|a| PASS_THROUGH_METHODS.contains(&cx.text(a)))
                    && p.parent().is_some_and(|c| {
                        c.kind() == "call" && c.child_by_field_name("function") == Some(p)
                    }) =>
            {
                child = p.parent().unwrap_or(p);
                cur = child.parent();
                continue;
            }
            "call" => {
                // The value is an argument of this call (not its callee).
                if p.child_by_field_name("function") == Some(child) {
                    return false;
                }
                let Some(f) = p.child_by_field_name("function") else {
                    return false;
                };
                let ok = match f.kind() {
                    "identifier" => PASS_THROUGH.contains(&cx.text(f)),
                    "attribute" => f
                        .child_by_field_name("attribute")
                        .is_some_and(|a| PASS_THROUGH_METHODS.contains(&cx.text(a))),
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
            "assignment" => {
                let (Some(l), Some(r)) = (
                    p.child_by_field_name("left"),
                    p.child_by_field_name("right"),
                ) else {
                    return false;
                };
                if r != child || l.kind() != "identifier" {
                    return false;
                }
                // Every later use of the name goes on to be returned (and there is one); a
                // rebinding is not a use.
                let Some(uses) = super::later_uses(cx, p, cx.text(l)) else {
                    return false;
                };
                let mut uses = uses
                    .into_iter()
                    .filter(|n| {
                        !n.parent().is_some_and(|a| {
                            a.kind() == "assignment" && a.child_by_field_name("left") == Some(*n)
                        })
                    })
                    .peekable();
                return uses.peek().is_some() && uses.all(|n| returned_d(cx, n, depth + 1));
            }
            _ => return false,
        }
        child = p;
        cur = p.parent();
    }
    false
}

/// Calls whose arguments name a file or directory.
const PATH_CALLS: &[&str] = &[
    "os.path.join",
    "open",
    "io.open",
    "os.open",
    "os.mkdir",
    "os.makedirs",
    "os.rename",
    "os.replace",
    "pathlib.Path",
    "pathlib.PurePath",
    "tempfile.mkdtemp",
    "tempfile.mkstemp",
    "tempfile.NamedTemporaryFile",
    "tempfile.TemporaryDirectory",
];

/// Whether the draw is part of a file name, within its expression: click's atomic writes open
/// `os.path.join(dir, f".__atomic-write{random.randrange(1 << 32):08x}")` with `O_EXCL` and
/// draw again on a clash. A random file name is picked to be unique, as `tempfile` picks
/// them; which name it was is not what a test checks. (A value that is returned or stored,
/// like flaky-shop's parcel label `f"PCL-{random.randint(…)}"`, is still reported.)
pub(crate) fn names_a_file(cx: &Cx, node: Node) -> bool {
    let mut cur = node.parent();
    while let Some(n) = cur {
        match n.kind() {
            "call"
                if n.child_by_field_name("function")
                    .and_then(|f| cx.qname(f))
                    .is_some_and(|q| PATH_CALLS.contains(&q.as_str())) =>
            {
                return true;
            }
            "expression_statement"
            | "return_statement"
            | "block"
            | "function_definition"
            | "lambda" => return false,
            _ => {}
        }
        cur = n.parent();
    }
    false
}
