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
    // A call to a function of the project that returns a draw (`random_string()`), in test
    // code scanned knowing them.
    let factory = cx.test_code && cx.draws.contains(&q);
    let unseeded = if factory {
        true
    } else if let Some(f) = q.strip_prefix("random.") {
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
    // `value`); in the code under test, any draw.
    if !cx.test_code
        && let Some(shown) = draw(cx, node)
    {
        cx.hit(&UNSEEDED_RANDOM, node, shown);
    }
}

/// Whether a call's value is only a name: part of a file name (below), or a unique token
/// (`str(…)`, an f-string's part), as for the draws above.
pub(crate) fn unique_name(cx: &Cx, node: Node) -> bool {
    names_a_file(cx, node)
        || node.parent().is_some_and(|p| {
            p.kind() == "interpolation"
                || (p.kind() == "argument_list"
                    && p.parent()
                        .and_then(|c| c.child_by_field_name("function"))
                        .is_some_and(|f| cx.text(f) == "str"))
        })
}

/// A function of the code under test whose every unseeded draw goes into what it returns:
/// made in a `return` (`return ''.join(random.choice(cs) for _ in range(n))`), or bound to a
/// name a `return` uses (`n = random.randint(a, b)`). It changes no module state (checked by
/// the caller). Where it is called, its value is the draw: in test code the value model
/// follows it to the assertions, as a draw made there (see `project.rs`).
pub(crate) fn returns_draw(cx: &Cx, def: Node) -> bool {
    let Some(body) = def.child_by_field_name("body") else {
        return false;
    };
    // The names the `return` statements use, and the draws, in the function's own body (not
    // nested definitions).
    let mut returned: Vec<&str> = Vec::new();
    let mut draws: Vec<Node> = Vec::new();
    let mut stack = vec![body];
    let mut seen = 0usize;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > 20_000 {
            return false;
        }
        match n.kind() {
            "function_definition" | "class_definition" | "lambda" => continue,
            "call" if draw(cx, n).is_some() => draws.push(n),
            "identifier" if has_ancestor(n, "return_statement", def) => returned.push(cx.text(n)),
            _ => {}
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    // A draw behind a guard (`if seed is not None: return random.choice(xs)`) is made only for
    // some arguments, which the call site's value does not tell: not such a function.
    !draws.is_empty()
        && cx
            .out
            .hits
            .iter()
            .all(|h| h.rule.id != super::UNSEEDED_RANDOM.id || h.guard.is_none())
        && draws.iter().all(|d| {
            has_ancestor(*d, "return_statement", def)
                || bound_name(*d).is_some_and(|name| returned.contains(&cx.text(name)))
        })
}

fn has_ancestor(n: Node, kind: &str, stop: Node) -> bool {
    let mut cur = n.parent();
    while let Some(p) = cur {
        if p.id() == stop.id() {
            return false;
        }
        if p.kind() == kind {
            return true;
        }
        cur = p.parent();
    }
    false
}

/// `name = <draw>`: the name the draw is bound to.
fn bound_name(call: Node) -> Option<Node> {
    let a = call.parent().filter(|p| p.kind() == "assignment")?;
    (a.child_by_field_name("right") == Some(call))
        .then(|| a.child_by_field_name("left"))
        .flatten()
        .filter(|l| l.kind() == "identifier")
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
fn names_a_file(cx: &Cx, node: Node) -> bool {
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
