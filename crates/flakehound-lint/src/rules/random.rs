//! Randomness: `unseeded-random`, draws from the process-wide generators (`random`,
//! `numpy.random`) or from generators built without a seed. A test whose file (or the test
//! itself, or anything it calls) seeds the generator is not reported (see the project pass).

use super::UNSEEDED_RANDOM;
use crate::python::{Cx, positional};
use tree_sitter::Node;

const RANDOM_FNS: &[&str] = &[
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

pub(crate) fn call(cx: &mut Cx, node: Node) {
    let Some(func) = node.child_by_field_name("function") else {
        return;
    };
    let Some(q) = cx.qname(func) else { return };
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
    if unseeded && !token {
        let shown = format!("`{}(…)`", cx.text(func));
        // In test code, a draw matters when its value reaches an assertion (right there, or
        // through the variable it is assigned to): random test data that no assertion compares
        // passes with any value. In the code under test, any draw.
        if !cx.test_code || super::clock::assert_call_ok(cx, node) {
            cx.hit(&UNSEEDED_RANDOM, node, shown);
        } else if let Some(var) = super::clock::assigned_to(cx, node) {
            let h = cx.make_hit(&UNSEEDED_RANDOM, node, shown);
            cx.clock_reads.push((var, h));
        }
    }
}
