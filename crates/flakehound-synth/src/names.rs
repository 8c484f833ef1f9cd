//! Test identities of a pytest suite: modules, classes, functions and parameters, laid out the
//! way pytest collects them (modules in path order, tests in definition order).

use crate::rng::Rng;
use flakehound_model::{Dialect, canonical_id};
use std::collections::BTreeSet;

const AREAS: &[&str] = &[
    "orders",
    "payments",
    "checkout",
    "cart",
    "cache",
    "users",
    "auth",
    "search",
    "reports",
    "inventory",
    "shipping",
    "notifications",
    "billing",
    "invoices",
    "coupons",
    "catalog",
    "reviews",
    "webhooks",
    "exports",
    "imports",
    "analytics",
    "admin",
    "api",
    "sessions",
    "emails",
    "scheduler",
    "queue",
    "storage",
    "uploads",
    "media",
    "pricing",
    "tax",
    "currency",
    "loyalty",
    "subscriptions",
    "accounts",
    "permissions",
    "audit",
    "settings",
    "i18n",
    "flags",
    "recommendations",
    "wishlist",
    "returns",
    "fraud",
    "ledger",
    "refunds",
    "addresses",
    "tokens",
    "sync",
];
const DIRS: &[&str] = &["unit", "integration", "functional"];
const VERBS: &[&str] = &[
    "create",
    "update",
    "delete",
    "list",
    "get",
    "apply",
    "cancel",
    "validate",
    "parse",
    "render",
    "export",
    "import",
    "sync",
    "retry",
    "expire",
    "merge",
    "split",
    "compute",
    "send",
    "schedule",
    "lock",
    "archive",
    "restore",
    "filter",
    "sort",
    "paginate",
    "refresh",
    "resolve",
    "reconcile",
    "load",
];
pub(crate) const NOUNS: &[&str] = &[
    "order", "item", "total", "discount", "token", "session", "invoice", "report", "record",
    "batch", "payload", "limit", "quota", "address", "receipt", "cursor", "snapshot", "customer",
    "product", "price", "balance", "refund", "coupon", "user", "account", "event", "message",
    "webhook", "file", "job",
];
const QUALIFIERS: &[&str] = &[
    "", "", "", "", "_empty", "_invalid", "_large", "_twice", "_missing", "_expired", "_partial",
    "_default", "_unicode", "_bulk", "_noop",
];
const CLASS_SUFFIXES: &[&str] = &[
    "Api",
    "Model",
    "Service",
    "View",
    "Flow",
    "Validation",
    "Permissions",
    "Edges",
];
const PARAMS: &[&[&str]] = &[
    &["csv", "json"],
    &["csv", "json", "xml"],
    &["EUR", "USD", "JPY"],
    &["sqlite", "postgres"],
    &["1", "10", "100"],
    &["empty", "single", "many"],
    &["admin", "guest"],
    &["v1", "v2"],
];

/// One test's identity, as pytest's JUnit XML writes it.
#[derive(Clone, Debug)]
pub(crate) struct TestName {
    /// Canonical id (`tests/test_x.py::TestY::test_z[p]`).
    pub id: String,
    /// Dotted module path, plus the class when there is one.
    pub classname: String,
    /// Function name with its parameter.
    pub name: String,
    pub file: String,
    pub line: u32,
    /// The object the test is about (`order`), used in messages.
    pub noun: &'static str,
}

fn camel(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// `n` tests in collection order. Paths are `tests/test_<area>.py`, or
/// `tests/<dir>/test_<area>.py` when `nested`.
pub(crate) fn generate(rng: &mut Rng, n: usize, nested: bool) -> Vec<TestName> {
    let mut modules: Vec<(String, Vec<TestName>)> = Vec::new();
    let mut paths = BTreeSet::new();
    let mut total = 0;
    while total < n {
        let path = loop {
            let area = rng.pick(AREAS);
            let p = if nested {
                format!("tests/{}/test_{area}.py", rng.pick(DIRS))
            } else {
                format!("tests/test_{area}.py")
            };
            let p = if paths.len() >= AREAS.len() * if nested { DIRS.len() } else { 1 } {
                // Every plain name is taken: number the modules.
                format!("{}_{}.py", p.trim_end_matches(".py"), paths.len())
            } else {
                p
            };
            if paths.insert(p.clone()) {
                break p;
            }
        };
        let module = path.trim_end_matches(".py").replace('/', ".");
        let want = (rng.range(5, 16) as usize).min(n - total);
        let mut tests = Vec::with_capacity(want);
        let mut line = rng.range(8, 30) as u32;
        let mut functions = BTreeSet::new();
        let mut classes = BTreeSet::new();
        while tests.len() < want {
            let class = rng.chance(0.3).then(|| {
                format!(
                    "Test{}{}",
                    camel(rng.pick::<&str>(NOUNS)),
                    rng.pick(CLASS_SUFFIXES)
                )
            });
            let (class, count) = match class {
                Some(c) if classes.insert(c.clone()) => {
                    line += rng.range(3, 12) as u32;
                    (Some(c), rng.range(2, 5))
                }
                _ => (None, 1),
            };
            for _ in 0..count {
                if tests.len() >= want {
                    break;
                }
                let noun = *rng.pick(NOUNS);
                let func = format!("test_{}_{noun}{}", rng.pick(VERBS), rng.pick(QUALIFIERS));
                if !functions.insert((class.clone(), func.clone())) {
                    continue;
                }
                let classname = match &class {
                    Some(c) => format!("{module}.{c}"),
                    None => module.clone(),
                };
                line += rng.range(5, 40) as u32;
                let params: &[&str] = if rng.chance(0.25) {
                    rng.pick::<&[&str]>(PARAMS)
                } else {
                    &[""]
                };
                for p in params {
                    if tests.len() >= want {
                        break;
                    }
                    let name = if p.is_empty() {
                        func.clone()
                    } else {
                        format!("{func}[{p}]")
                    };
                    let id =
                        canonical_id(Dialect::Pytest, Some(&classname), &name, Some(&path), None);
                    tests.push(TestName {
                        id,
                        classname: classname.clone(),
                        name,
                        file: path.clone(),
                        line,
                        noun,
                    });
                }
            }
        }
        total += tests.len();
        modules.push((path, tests));
    }
    modules.sort_by(|a, b| a.0.cmp(&b.0));
    modules.into_iter().flat_map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_pytest_node_ids() {
        for (n, nested) in [(60, false), (600, true), (2000, false)] {
            let tests = generate(&mut Rng::new(3, "names", 0), n, nested);
            assert_eq!(tests.len(), n);
            let ids: BTreeSet<_> = tests.iter().map(|t| &t.id).collect();
            assert_eq!(ids.len(), n);
            for t in &tests {
                assert!(t.id.starts_with(&format!("{}::", t.file)), "{}", t.id);
                assert!(t.id.ends_with(&format!("::{}", t.name)), "{}", t.id);
            }
            // Collection order: modules sorted by path.
            assert!(tests.windows(2).all(|w| w[0].file <= w[1].file));
        }
    }
}
