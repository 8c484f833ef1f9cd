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
    // `value`); in the code under test, any draw.
    if !cx.test_code
        && let Some(shown) = draw(cx, node)
    {
        cx.hit(&UNSEEDED_RANDOM, node, shown);
    }
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
