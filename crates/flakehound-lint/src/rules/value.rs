//! Where a random draw or a local-clock read goes in test code, and whether an assertion is
//! sensitive to it (`unseeded-random`, `wall-clock-compare`).
//!
//! A draw (or clock read) makes a test flaky only when the assertion's outcome depends on
//! which value it was. An assertion that compares the value with a value **derived from the
//! same draw** holds for any value: random data put into a queue and read back
//! (`q.put(x)` … `assert q.get() == x`), written to a file and read again, `decode(encode(x))
//! == x`, `sorted(f(d) for d in delays)` against `sorted(delays)`. So, as the JavaScript and
//! Rust rules do, each function of a test file follows its values by name: a variable holds
//! the *origins* (draws, clock reads) of the expression assigned to it; an object a value is
//! passed to (`q.put(x)`, `cache.set(k, v)`, `write(path, data)`) holds it from then on, as do
//! the plain names passed beside it (the path, the key: what the value was stored under); a
//! `for` target and a `with … as` alias hold what they iterate or open. An assertion reports
//! the origins of the two sides it compares only when they share none (a truthy assertion,
//! `assert f(x)`, compares with a fixed `True`). Identity checks (`is`, `is not`,
//! `assertIsNone`) and type checks (`isinstance`, `type(…)`) do not look at the value.
//!
//! A draw that only steers control flow (`if random.random() < 0.5: q.put(…) else: q.get()`)
//! is not compared in an assertion; what is stored under such a condition (`n += 1`, the
//! value put) holds the condition's origins too, so the test's own bookkeeping of its random
//! steps counts as derived from the same draws (persist-queue's random read/write tests).
//! What this cannot see: a property a function has for most inputs but not all
//! (`assert sqrt(x) ** 2 == x`): both sides derive from `x`.
//!
//! The code under test is not modelled: there any unseeded draw or local-clock read is
//! reported (its value reaches the test through returns the scan does not follow).

use super::{UNSEEDED_RANDOM, WALL_CLOCK};
use crate::python::{Cx, positional};
use tree_sitter::Node;

/// Deepest expression evaluated (a deeper one counts as holding nothing).
const DEPTH: usize = 64;

/// Origin indices (into `Cx::origins`), sorted and unique, each with whether the value is
/// *strongly* derived from it (the value itself, a function of it: `x`, `x * 2`, `now.hour`,
/// `f(x)`) or only *may* hold it (an object it was stored in: `q` after `q.put(x)`, and what
/// its methods return). Both count for a shared origin; only a strong one is reported: what a
/// queue or a file object returns after random data went in is rarely that data's function
/// (boltons' `seek` positions after writing a random string).
pub(crate) type Origins = Vec<(usize, bool)>;

fn union(a: &mut Origins, b: &[(usize, bool)]) {
    if b.is_empty() {
        return;
    }
    a.extend_from_slice(b);
    a.sort_unstable();
    // Sorted by (index, strength): of equal indices the strong one comes last; keep it.
    let mut out: Origins = Vec::with_capacity(a.len());
    for &(i, s) in a.iter() {
        match out.last_mut() {
            Some(last) if last.0 == i => last.1 |= s,
            _ => out.push((i, s)),
        }
    }
    *a = out;
}

fn weak(o: &[(usize, bool)]) -> Origins {
    o.iter().map(|&(i, _)| (i, false)).collect()
}

fn shares(a: &[(usize, bool)], b: &[(usize, bool)]) -> bool {
    a.iter().any(|x| b.iter().any(|y| y.0 == x.0))
}

/// The origin a call is, if it is an unseeded draw or a local-clock read (registered once per
/// node: the same call may be evaluated as an assignment's value and as a call's argument).
fn source(cx: &mut Cx, call: Node) -> Option<usize> {
    if !maybe_source(cx, call) {
        return None;
    }
    let (rule, shown) = match super::random::draw(cx, call) {
        Some(s) => (&UNSEEDED_RANDOM, s),
        None => (&WALL_CLOCK, super::clock::wall_read(cx, call)?),
    };
    if let Some(&i) = cx.origin_at.get(&call.id()) {
        return Some(i);
    }
    if rule.id == WALL_CLOCK.id && injects_clock(cx, call) {
        return None;
    }
    let zone = rule.id == WALL_CLOCK.id && zone_conversion(cx, call);
    if zone && let Some(i) = cx.zone_origin {
        cx.origin_at.insert(call.id(), i);
        return Some(i);
    }
    let hit = cx.make_hit(rule, call, shown);
    cx.origins.push((hit, false));
    let i = cx.origins.len() - 1;
    cx.origin_at.insert(call.id(), i);
    if rule.id == UNSEEDED_RANDOM.id && bulk(cx, call) {
        cx.bulk_origins.insert(i);
    }
    if zone {
        cx.zone_origin = Some(i);
    }
    Some(i)
}

/// `datetime.fromtimestamp(ts)`: not a read of the moment but a given timestamp put into the
/// local zone. Its value is the timestamp's and the zone's: every such conversion shares one
/// origin, the zone, so `fromtimestamp(a).date() == fromtimestamp(b).date()` compares two
/// values in the same zone, which holds in every zone (Faker's `_parse_date_time` test),
/// while `fromtimestamp(0).hour == 0` (against a fixed value) is still reported.
fn zone_conversion(cx: &Cx, call: Node) -> bool {
    call.child_by_field_name("function")
        .is_some_and(|f| cx.text(f).ends_with("fromtimestamp"))
        && !positional(call).is_empty()
}

/// The last names of the draws and clock reads `source` recognizes (a superset, with
/// [`super::random::RANDOM_FNS`]): most calls are ruled out by their name, without resolving it
/// through the imports.
const SOURCE_NAMES: &[&str] = &[
    "Random",
    "rand",
    "randn",
    "random_sample",
    "permutation",
    "normal",
    "binomial",
    "poisson",
    "default_rng",
    "RandomState",
    "today",
    "now",
    "utcnow",
    "fromtimestamp",
    "localtime",
    "ctime",
    "strftime",
];

/// Whether a subtree holds a call that may be a draw or a clock read (used for the parts of a
/// function `collect_locals` does not look into: parameter defaults, nested definitions).
pub(crate) fn any_source(cx: &Cx, n: Node) -> bool {
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        if n.kind() == "call" && maybe_source(cx, n) {
            return true;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

pub(crate) fn maybe_source(cx: &Cx, call: Node) -> bool {
    let Some(f) = call.child_by_field_name("function") else {
        return false;
    };
    let last = match f.kind() {
        "attribute" => f
            .child_by_field_name("attribute")
            .map_or("", |a| cx.text(a)),
        // `from random import randint as ri`: the imported name counts.
        "identifier" => {
            let t = cx.text(f);
            cx.imports
                .get(t)
                .map_or(t, |q| q.rsplit('.').next().unwrap_or(q))
        }
        _ => return false,
    };
    SOURCE_NAMES.contains(&last)
        || super::random::RANDOM_FNS.contains(&last)
        || is_project_call(cx, call)
}

/// Modules that are not the project's: a call into them returns no draw of the project's (the
/// project pass would find none; skipping them here keeps the model off most test functions).
const NOT_PROJECT: &[&str] = &[
    "pytest",
    "unittest",
    "mock",
    "os",
    "sys",
    "time",
    "datetime",
    "random",
    "re",
    "json",
    "math",
    "itertools",
    "functools",
    "collections",
    "pathlib",
    "tempfile",
    "shutil",
    "subprocess",
    "threading",
    "asyncio",
    "io",
    "logging",
    "string",
    "uuid",
    "hashlib",
    "base64",
    "struct",
    "socket",
    "signal",
    "copy",
    "typing",
    "contextlib",
    "operator",
    "decimal",
    "fractions",
    "numpy",
    "pandas",
    "textwrap",
    "inspect",
    "warnings",
    "gc",
    "platform",
    "pickle",
    "queue",
    "multiprocessing",
    "hypothesis",
    "freezegun",
];

/// A call in test code of a function that may be the project's (imported by name from a
/// module that is not a known library's, and not a class: a constructor returns its object):
/// an origin whose kind the project pass learns from the callee ([`FnFacts::returns_draw`]).
/// Decided without building the name (this runs for every call of a test function).
fn is_project_call(cx: &Cx, call: Node) -> bool {
    if !cx.test_code {
        return false;
    }
    let Some(f) = call.child_by_field_name("function") else {
        return false;
    };
    // The root name of `a.b.c` and the last part.
    let mut root = f;
    let mut depth = 0;
    while root.kind() == "attribute" {
        let Some(o) = root.child_by_field_name("object") else {
            return false;
        };
        root = o;
        depth += 1;
        if depth > crate::python::SHAPE_DEPTH {
            return false;
        }
    }
    if root.kind() != "identifier" {
        return false;
    }
    let first = cx.text(root);
    let Some(q) = cx.imports.get(first) else {
        return false;
    };
    if !cx.is_global(first) {
        return false;
    }
    let module = q.split('.').next().unwrap_or(q);
    let last = match f.kind() {
        "attribute" => f
            .child_by_field_name("attribute")
            .map_or("", |a| cx.text(a)),
        _ => q.rsplit('.').next().unwrap_or(q),
    };
    !NOT_PROJECT.contains(&module) && !last.starts_with(|c: char| c.is_ascii_uppercase())
}

/// An origin that is a call of the project (`Cx::call_origins`).
#[derive(Clone, Debug)]
pub(crate) struct CallOrigin {
    pub target: crate::python::Target,
    /// Whether the order of its value counts (not once seen through `sorted(…)`, …).
    pub ordered: bool,
    /// The origin of the call itself, which an order-free one stands for.
    pub base: usize,
}

/// The origin a call of the project is (registered once per node), if it may be one.
fn call_origin(cx: &mut Cx, call: Node) -> Option<usize> {
    if let Some(&i) = cx.origin_at.get(&call.id()) {
        return Some(i);
    }
    // Part of a file name (`os.path.join(directory, random_string())`), as for a draw.
    if !is_project_call(cx, call) || super::random::names_a_file(cx, call) {
        return None;
    }
    let func = call.child_by_field_name("function")?;
    let target = cx.target(func)?;
    let shown = format!("`{}(…)`", cx.text(func));
    let hit = cx.make_hit(&UNSEEDED_RANDOM, call, shown);
    cx.origins.push((hit, false));
    let i = cx.origins.len() - 1;
    cx.origin_at.insert(call.id(), i);
    cx.call_origins.insert(
        i,
        CallOrigin {
            target,
            ordered: true,
            base: i,
        },
    );
    Some(i)
}

/// The origins an expression's value is derived from.
pub(crate) fn eval(cx: &mut Cx, n: Node) -> Origins {
    eval_d(cx, n, 0)
}

fn eval_d(cx: &mut Cx, n: Node, depth: usize) -> Origins {
    if depth > DEPTH {
        return Vec::new();
    }
    match n.kind() {
        "identifier" => cx.taints.get(cx.text(n)).cloned().unwrap_or_default(),
        // `obj.attr`: what was stored there (`self.value = …`), and what the object holds.
        "attribute" => {
            let mut o = cx.taints.get(cx.text(n)).cloned().unwrap_or_default();
            if let Some(obj) = n.child_by_field_name("object") {
                let b = eval_d(cx, obj, depth + 1);
                union(&mut o, &b);
            }
            o
        }
        "call" => {
            if let Some(o) = source(cx, n) {
                let mut v = vec![(o, true)];
                // A conversion's value is also its timestamp's.
                if zone_conversion(cx, n)
                    && let Some(args) = n.child_by_field_name("arguments")
                {
                    let b = eval_d(cx, args, depth + 1);
                    union(&mut v, &b);
                }
                return v;
            }
            // Its type, its length: not its value. (A set of draws can collapse duplicates,
            // but `len` of test data is the test's own count far more often.)
            if super::clock::type_check(cx, n)
                || n.child_by_field_name("function")
                    .is_some_and(|f| cx.text(f) == "len")
            {
                return Vec::new();
            }
            let func = n.child_by_field_name("function");
            let mut o = func.map(|f| eval_d(cx, f, depth + 1)).unwrap_or_default();
            if let Some(args) = n.child_by_field_name("arguments") {
                // Each argument on its own, for the look-up below.
                let mut parts: Vec<Origins> = vec![o.clone()];
                let mut b = Vec::new();
                let mut c = args.walk();
                let items: Vec<Node> = args.named_children(&mut c).collect();
                for a in items {
                    let x = eval_d(cx, a, depth + 1);
                    union(&mut b, &x);
                    parts.push(x);
                }
                if func.is_some_and(|f| method_of_another_object(cx, f, &o)) {
                    only_may_hold_clock(cx, &mut b);
                }
                union(&mut o, &b);
                // A look-up of a value in what holds it (`os.path.join(directory, name)` with
                // `directory` made for `name`, `d.get(k)` after `d[k] = …`): one part gives the
                // value, another holds it; the result only may hold it, as a round trip.
                for (i, strong) in o.iter_mut() {
                    if *strong
                        && parts.iter().any(|p| p.contains(&(*i, true)))
                        && parts.iter().any(|p| p.contains(&(*i, false)))
                    {
                        *strong = false;
                    }
                }
            }
            // What a call that looks a name up returns (whether a file of that name exists,
            // the process started by it) only may hold the name: a random file or program
            // name is picked to be unique, and which one it was is not what comes back
            // (humanfriendly's `os.path.isfile(os.path.join(directory, random_string()))`).
            if func
                .and_then(|f| cx.qname(f))
                .is_some_and(|q| USES_A_NAME.contains(&q.as_str()))
            {
                o = weak(&o);
            }
            if func.is_some_and(|f| ORDER_FREE_CALLS.contains(&cx.text(f))) {
                order_free(cx, &mut o);
            }
            // A call of the project's may return a draw of its own.
            if let Some(i) = call_origin(cx, n) {
                union(&mut o, &[(i, true)]);
            }
            o
        }
        // A closure holds what it captures (`run(lambda: out.write(text))`): it may hand it on.
        "lambda" => n
            .child_by_field_name("body")
            .map(|b| weak(&eval_d(cx, b, depth + 1)))
            .unwrap_or_default(),
        // `now - then` with `then = now - timedelta(hours=23)`: the shift, not the moment.
        "binary_operator"
            if n.child_by_field_name("operator")
                .is_some_and(|o| cx.text(o) == "-")
                && n.child_by_field_name("left").is_some_and(|l| {
                    n.child_by_field_name("right").is_some_and(|r| {
                        let a = shift_base(cx, l, depth + 1);
                        a.is_some() && a == shift_base(cx, r, depth + 1)
                    })
                }) =>
        {
            Vec::new()
        }
        // `(date.today() - dob).days` with `dob = fake.passport_dob()`: the clock read relative
        // to a value the code under test computes, from a clock the scan does not see (as in
        // `pair`): the difference only *may* hold the clock. Against a fixed value
        // (`date.today() - timedelta(days=30)`) it stays the clock's.
        "binary_operator"
            if n.child_by_field_name("operator")
                .is_some_and(|o| cx.text(o) == "-") =>
        {
            let (Some(l), Some(r)) = (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ) else {
                return Vec::new();
            };
            let mut a = eval_d(cx, l, depth + 1);
            let mut b = eval_d(cx, r, depth + 1);
            // `utcnow() - begin` with `begin = utcnow()`: two reads of one clock, their
            // difference a duration, the same in every zone and on every date (beaker's check
            // that `get_value` blocked for a second). Each side is a read itself or a name
            // holding one as it was (not shifted, not another view of the same read:
            // `now - now.replace(hour=0)` is the time of day).
            let read = |n: Node, o: &Origins| -> Option<(usize, &str)> {
                let plain = plain_read(cx, n);
                let [(i, true)] = o.as_slice() else {
                    return None;
                };
                let (h, _) = cx.origins.get(*i)?;
                (plain && !cx.call_origins.contains_key(i) && h.rule.id == WALL_CLOCK.id)
                    .then_some((*i, h.detail.as_str()))
            };
            if let (Some((i, x)), Some((j, y))) = (read(l, &a), read(r, &b))
                && i != j
                && x == y
            {
                return Vec::new();
            }
            let (opaque_l, opaque_r) = (
                no_origin(cx, &a) && !fixed(cx, l, 0),
                no_origin(cx, &b) && !fixed(cx, r, 0),
            );
            if opaque_r {
                only_may_hold_clock(cx, &mut a);
            }
            if opaque_l {
                only_may_hold_clock(cx, &mut b);
            }
            union(&mut a, &b);
            a
        }
        "string_content" | "integer" | "float" | "true" | "false" | "none" => Vec::new(),
        // `f(key=value)`: the value (the keyword's name is no variable).
        "keyword_argument" => n
            .child_by_field_name("value")
            .map(|v| eval_d(cx, v, depth + 1))
            .unwrap_or_default(),
        _ => {
            let mut o = Vec::new();
            let mut c = n.walk();
            for k in n.named_children(&mut c) {
                let b = eval_d(cx, k, depth + 1);
                union(&mut o, &b);
            }
            o
        }
    }
}

/// The name a value is that name's value shifted by something of no origin: `now`,
/// `now - timedelta(hours=23)`, `then` after `then = now + delta`; `None` for anything else.
fn shift_base(cx: &mut Cx, n: Node, depth: usize) -> Option<String> {
    if depth > DEPTH {
        return None;
    }
    match n.kind() {
        "identifier" => {
            let name = cx.text(n).to_string();
            if let Some(b) = cx.shifts.get(&name) {
                return Some(b.clone());
            }
            cx.taints.contains_key(&name).then_some(name)
        }
        "parenthesized_expression" => shift_base(cx, n.named_child(0)?, depth + 1),
        "binary_operator" => {
            let op = cx.text(n.child_by_field_name("operator")?).to_string();
            let (l, r) = (
                n.child_by_field_name("left")?,
                n.child_by_field_name("right")?,
            );
            match op.as_str() {
                "-" => {
                    let o = eval_d(cx, r, depth + 1);
                    no_origin(cx, &o)
                        .then(|| shift_base(cx, l, depth + 1))
                        .flatten()
                }
                "+" => {
                    let or = eval_d(cx, r, depth + 1);
                    if no_origin(cx, &or) {
                        return shift_base(cx, l, depth + 1);
                    }
                    let ol = eval_d(cx, l, depth + 1);
                    if no_origin(cx, &ol) {
                        shift_base(cx, r, depth + 1)
                    } else {
                        None
                    }
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether a call's function is a method of an object other than the value it is about
/// (`scheduler.ready_to_run(task, now)`, `self.s.read_schedule(now)`), not a function
/// (`f(now)`), a module's or a class's (`datetime.combine(d, t)`, `time.mktime(…)`), nor a
/// method of a value with an origin of its own (`now.replace(…)`, `"{}".format(now)`).
/// `receiver` holds the origins of the function expression.
fn method_of_another_object(cx: &Cx, func: Node, receiver: &[(usize, bool)]) -> bool {
    func.kind() == "attribute"
        && func.child_by_field_name("object").is_some_and(|obj| {
            matches!(
                obj.kind(),
                "identifier" | "attribute" | "call" | "subscript"
            ) && !names_module_or_class(cx, obj)
        })
        && !receiver
            .iter()
            .any(|&(i, strong)| strong && !cx.call_origins.contains_key(&i))
}

/// Calls whose value does not depend on the order of their argument's items.
const ORDER_FREE_CALLS: &[&str] = &[
    "sorted",
    "set",
    "frozenset",
    "sum",
    "min",
    "max",
    "any",
    "all",
    "Counter",
    "collections.Counter",
];

/// A set or a set's constructor (what it is compared with makes order not count).
fn a_set(cx: &Cx, n: Node) -> bool {
    match n.kind() {
        "set" | "set_comprehension" => true,
        "call" => n
            .child_by_field_name("function")
            .is_some_and(|f| matches!(cx.text(f), "set" | "frozenset")),
        _ => false,
    }
}

/// The origins with each call of the project's whose order counted replaced by the same call
/// with its order not counting (`sorted(names())`).
fn order_free(cx: &mut Cx, o: &mut Origins) {
    let mut changed = false;
    for (i, _) in o.iter_mut() {
        let Some(c) = cx.call_origins.get(i).filter(|c| c.ordered).cloned() else {
            continue;
        };
        let j = match cx.order_free_of.get(i) {
            Some(&j) => j,
            None => {
                let hit = cx.origins[*i].0.clone();
                cx.origins.push((hit, false));
                let j = cx.origins.len() - 1;
                let free = CallOrigin {
                    ordered: false,
                    ..c
                };
                cx.call_origins.insert(j, free);
                cx.order_free_of.insert(*i, j);
                j
            }
        };
        *i = j;
        changed = true;
    }
    if changed {
        let taken = std::mem::take(o);
        union(o, &taken);
    }
}

/// Whether a value has no origin but calls of the project (whose kind only the project pass
/// knows): for the decisions about clocks and shifts, as if it had none.
fn no_origin(cx: &Cx, o: &[(usize, bool)]) -> bool {
    o.iter().all(|(i, _)| cx.call_origins.contains_key(i))
}

/// A clock value handed to a method of another object: what the method returns only *may*
/// hold it. Objects that take a time (schedulers, caches, rate limiters, expiring tokens)
/// nearly always measure it against their own reads of the clock, so the zone and the moment
/// cancel out (huey's `ready_to_run(task, datetime.now() + timedelta(seconds=60))`, its
/// `read_schedule(now)`, the ids of tasks scheduled at `eta=now + …`). A random value handed to
/// a method stays strong: nothing on the other side cancels it.
fn only_may_hold_clock(cx: &Cx, o: &mut Origins) {
    for (i, strong) in o.iter_mut() {
        if *strong
            && cx
                .origins
                .get(*i)
                .is_some_and(|(hit, _)| hit.rule.id == WALL_CLOCK.id)
        {
            *strong = false;
        }
    }
}

/// The key a target is stored under: a plain name or a dotted one (`self.queue`).
fn key(cx: &Cx, target: Node) -> Option<String> {
    matches!(target.kind(), "identifier" | "attribute")
        .then(|| crate::python::dotted(target, cx.src))
        .flatten()
}

/// Binds a target (a name, a tuple of names, `obj.attr`, `d[k]`) to origins: a name or an
/// attribute is replaced, a container an item is stored in (`d[k] = v`) holds it too.
fn bind(cx: &mut Cx, target: Node, o: &Origins, replace: bool) {
    match target.kind() {
        "identifier" | "attribute" => {
            if let Some(k) = key(cx, target) {
                if replace {
                    if o.is_empty() {
                        cx.taints.remove(&k);
                    } else {
                        cx.taints.insert(k, o.clone());
                    }
                } else if !o.is_empty() {
                    // Stored in it: it may hold the value now. What is written to `f` of
                    // `with open(path) as f` is in `path` too.
                    let mut keys = cx.aliases.get(&k).cloned().unwrap_or_default();
                    keys.push(k);
                    let o = weak(o);
                    for k in keys {
                        union(cx.taints.entry(k).or_default(), &o);
                    }
                }
            }
        }
        "subscript" => {
            if let Some(v) = target.child_by_field_name("value") {
                bind(cx, v, o, false);
            }
        }
        "pattern_list"
        | "tuple_pattern"
        | "list_pattern"
        | "tuple"
        | "list"
        | "as_pattern_target"
        | "parenthesized_expression" => {
            let mut c = target.walk();
            let kids: Vec<Node> = target.named_children(&mut c).collect();
            for k in kids {
                bind(cx, k, o, replace);
            }
        }
        _ => {}
    }
}

/// The origins of the conditions a statement runs under (`if random.random() < 0.5: n += 1`):
/// what it stores depends on them. A value compared with a count the test keeps of its own
/// random steps is derived from the same draws.
fn control(cx: &mut Cx, node: Node) -> Origins {
    let mut o = Vec::new();
    let mut child = node;
    let mut cur = node.parent();
    while let Some(p) = cur {
        match p.kind() {
            "function_definition" | "lambda" | "class_definition" | "module" => break,
            "if_statement" | "elif_clause" | "while_statement" | "conditional_expression" => {
                let cond = if p.kind() == "conditional_expression" {
                    p.named_child(1)
                } else {
                    p.child_by_field_name("condition")
                };
                if let Some(c) = cond
                    && c.id() != child.id()
                {
                    let b = weak(&eval(cx, c));
                    union(&mut o, &b);
                }
            }
            _ => {}
        }
        child = p;
        cur = p.parent();
    }
    o
}

/// `x = …`, `x += …`, `a, b = …`, `d[k] = …`.
pub(crate) fn assign(cx: &mut Cx, node: Node) {
    if !cx.test_code || !cx.value_sources {
        return;
    }
    let (Some(l), Some(r)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return;
    };
    let mut o = eval(cx, r);
    let c = control(cx, node);
    union(&mut o, &c);
    // `d[k] = v`: the container holds the key too.
    if l.kind() == "subscript"
        && let Some(k) = l.child_by_field_name("subscript")
    {
        let b = eval(cx, k);
        union(&mut o, &b);
    }
    // A name assigned again is no longer what others were shifted from.
    if node.kind() == "assignment" && l.kind() == "identifier" {
        let name = cx.text(l).to_string();
        if fixed(cx, r, 0) {
            cx.fixed_vars.insert(name.clone());
        } else {
            cx.fixed_vars.remove(&name);
        }
        cx.shifts.retain(|k, b| *k != name && *b != name);
        if let Some(b) = shift_base(cx, r, 0)
            && b != name
        {
            cx.shifts.insert(name, b);
        }
    }
    // `try: val = f(x)` … `except: val = None`: the handler's value is the other path's
    // alternative, not what the name holds after the `try` (beaker's cookie test compares
    // `val` with the value it put in).
    if node.kind() == "assignment"
        && l.kind() == "identifier"
        && in_handler(node)
        && let Some(k) = key(cx, l)
        && let Some(before) = cx.taints.get(&k)
    {
        let before = before.clone();
        union(&mut o, &before);
    }
    bind(cx, l, &o, node.kind() == "assignment");
}

/// A clock read itself (`utcnow()`), or a name the function last assigned one to, as it was
/// (`begin = utcnow()`; not `then = now - timedelta(…)` nor `now.replace(hour=0)`).
fn plain_read(cx: &Cx, n: Node) -> bool {
    let source = |c: Node| c.kind() == "call" && cx.origin_at.contains_key(&c.id());
    match n.kind() {
        "call" => source(n),
        "identifier" => {
            let Some(f) = super::enclosing_function(n) else {
                return false;
            };
            let name = cx.text(n);
            let mut latest: Option<Node> = None;
            super::answer_in(f, |a| {
                if a.kind() == "assignment"
                    && a.end_byte() <= n.start_byte()
                    && a.child_by_field_name("left")
                        .is_some_and(|l| l.kind() == "identifier" && cx.text(l) == name)
                    && latest.is_none_or(|l| l.start_byte() < a.start_byte())
                {
                    latest = Some(a);
                }
                None
            });
            latest
                .and_then(|a| a.child_by_field_name("right"))
                .is_some_and(source)
        }
        _ => false,
    }
}

/// Whether `node` is in an `except` handler of its function.
fn in_handler(node: Node) -> bool {
    let mut cur = node.parent();
    while let Some(n) = cur {
        match n.kind() {
            "except_clause" | "except_group_clause" => return true,
            "function_definition" | "lambda" | "class_definition" => return false,
            _ => {}
        }
        cur = n.parent();
    }
    false
}

/// `for x in xs:` (and comprehensions' `for` clauses, which [`eval`] covers by their names).
pub(crate) fn for_stmt(cx: &mut Cx, node: Node) {
    if !cx.test_code || !cx.value_sources {
        return;
    }
    if let (Some(l), Some(r)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) {
        let o = eval(cx, r);
        bind(cx, l, &o, true);
    }
}

/// `with open(path) as f:`: `f` holds what `path` holds.
pub(crate) fn with_item(cx: &mut Cx, node: Node) {
    if !cx.test_code || !cx.value_sources {
        return;
    }
    let Some(v) = node.child_by_field_name("value") else {
        return;
    };
    if v.kind() == "as_pattern"
        && let (Some(e), Some(alias)) = (v.named_child(0), v.child_by_field_name("alias"))
    {
        let o = eval(cx, e);
        bind(cx, alias, &o, true);
        // `with open(path, "w") as f`: a value written to `f` is stored under `path` (the
        // names among the call's arguments), where a later `open(path)` reads it back.
        let target = if alias.kind() == "as_pattern_target" {
            alias.named_child(0).unwrap_or(alias)
        } else {
            alias
        };
        if e.kind() == "call"
            && let Some(a) = key(cx, target)
            && let Some(list) = e.child_by_field_name("arguments")
        {
            let mut c = list.walk();
            let names: Vec<String> = list
                .named_children(&mut c)
                .filter_map(|n| key(cx, n))
                .collect();
            cx.aliases.insert(a, names);
        }
    }
}

/// unittest's methods that compare two values (`assertEqual(a, b)`, `assertIn`, …).
fn two_sided(method: &str) -> bool {
    method.starts_with("assert")
        && !method.starts_with("assertRaises")
        && !method.starts_with("assertWarns")
        && !method.starts_with("assertLogs")
        && !method.starts_with("assertNoLogs")
        && !matches!(
            method,
            "assertTrue"
                | "assertFalse"
                | "assert_"
                | "assertIs"
                | "assertIsNot"
                | "assertIsNone"
                | "assertIsNotNone"
                | "assertIsInstance"
                | "assertNotIsInstance"
        )
}

/// A call in test code: a unittest assertion is checked; any other call with a value among
/// its arguments stores it in the object it is called on and in the names passed beside it.
pub(crate) fn call(cx: &mut Cx, node: Node) {
    if !cx.test_code || !cx.value_sources {
        return;
    }
    let Some(func) = node.child_by_field_name("function") else {
        return;
    };
    let method = func
        .child_by_field_name("attribute")
        .map(|a| cx.text(a))
        .filter(|_| func.kind() == "attribute");
    if let Some(m) = method
        && m.starts_with("assert")
    {
        let args = positional(node);
        if two_sided(m) {
            if let (Some(a), Some(b)) = (args.first(), args.get(1)) {
                let unordered = matches!(
                    m,
                    "assertCountEqual"
                        | "assertItemsEqual"
                        | "assertSetEqual"
                        | "assertIn"
                        | "assertNotIn"
                );
                pair(cx, *a, *b, unordered, m == "assertNotEqual");
            }
        } else if matches!(m, "assertTrue" | "assertFalse" | "assert_")
            && let Some(a) = args.first()
        {
            truth(cx, *a);
        }
        return;
    }
    if super::clock::type_check(cx, node) {
        return;
    }
    let Some(list) = node.child_by_field_name("arguments") else {
        return;
    };
    let mut held = Vec::new();
    let mut names = Vec::new();
    let mut c = list.walk();
    let args: Vec<Node> = list.named_children(&mut c).collect();
    for a in args {
        let v = if a.kind() == "keyword_argument" {
            a.child_by_field_name("value")
        } else {
            Some(a)
        };
        let Some(v) = v else { continue };
        let o = eval(cx, v);
        union(&mut held, &o);
        if matches!(v.kind(), "identifier" | "attribute") {
            names.push(v);
        }
    }
    if held.is_empty() {
        return;
    }
    let c = control(cx, node);
    union(&mut held, &c);
    // The object called on holds the values now (not a module or a class: `time.f(x)`).
    if func.kind() == "attribute"
        && let Some(obj) = func.child_by_field_name("object")
        && !names_module_or_class(cx, obj)
    {
        bind(cx, obj, &held, false);
    }
    for n in names {
        bind(cx, n, &held, false);
    }
}

/// `assert …`.
pub(crate) fn assert(cx: &mut Cx, node: Node) {
    if !cx.test_code || !cx.value_sources {
        return;
    }
    if let Some(cond) = node.named_child(0) {
        truth(cx, cond);
    }
}

/// An expression whose truth is asserted.
fn truth(cx: &mut Cx, e: Node) {
    match e.kind() {
        "parenthesized_expression" | "not_operator" | "boolean_operator" => {
            let mut c = e.walk();
            let kids: Vec<Node> = e.named_children(&mut c).collect();
            for k in kids {
                truth(cx, k);
            }
        }
        "comparison_operator" => {
            let mut c = e.walk();
            let kids: Vec<Node> = e.children(&mut c).collect();
            // Operands at even places of the named children, operators between them.
            let mut operands = Vec::new();
            let mut ops: Vec<String> = Vec::new();
            let mut op = String::new();
            for k in kids {
                if k.is_named() {
                    if !operands.is_empty() {
                        ops.push(std::mem::take(&mut op));
                    }
                    operands.push(k);
                } else {
                    if !op.is_empty() {
                        op.push(' ');
                    }
                    op.push_str(cx.text(k));
                }
            }
            for (i, o) in ops.iter().enumerate() {
                // `x is None`, `a is b`: identity, not the value.
                if o == "is" || o == "is not" {
                    continue;
                }
                if let (Some(l), Some(r)) = (operands.get(i), operands.get(i + 1)) {
                    pair(cx, *l, *r, o == "in" || o == "not in", o == "!=");
                }
            }
        }
        // `assert [u >= j for u, j in pairs]`, `assert (a, b)`: a container's truth is whether
        // it has items, not what they are (boltons' backoff jitter test asserts a list of
        // comparisons, true whatever they say). A comprehension's `if` filters by value.
        "list" | "tuple" | "set" | "dictionary" => {}
        "list_comprehension"
        | "set_comprehension"
        | "dictionary_comprehension"
        | "generator_expression"
            if {
                let mut c = e.walk();
                !e.named_children(&mut c).any(|k| k.kind() == "if_clause")
            } => {}
        // `assert f(x)`: compared with a fixed `True`.
        _ => {
            let o = eval(cx, e);
            report(cx, &o);
        }
    }
}

/// Two values compared: their origins count unless both sides share one (a round trip).
///
/// A local-clock read compared with a value the code under test computes (`assert
/// fake.past_date() < date.today()`, `assertEqual(job.day, date.today())`) is reported only
/// with `--pedantic`: the code made its value from a clock too, and whether that is the same
/// local clock (then the relation holds at any moment and in any zone) or another one (a UTC
/// stamp against the local date) is in code the scan does not follow. Measured: Faker's 32 such
/// comparisons and structlog's 3 never failed under diagnose's shifted clocks and time zones.
/// Compared with a fixed value (`date(2024, 1, 1)`, a literal, a constant) or with another
/// clock read, or asserted as it is (`assert is_weekday(date.today())`), it is reported.
fn pair(cx: &mut Cx, l: Node, r: Node, unordered: bool, unequal: bool) {
    let mut a = eval(cx, l);
    let mut b = eval(cx, r);
    // Membership, a comparison with a set, `assertCountEqual`: no order is looked at.
    if unordered || a_set(cx, l) || a_set(cx, r) {
        order_free(cx, &mut a);
        order_free(cx, &mut b);
    }
    // (The same call with its order counting or not is one origin.)
    let base = |cx: &Cx, o: &Origins| -> Origins {
        o.iter()
            .map(|&(i, s)| (cx.call_origins.get(&i).map_or(i, |c| c.base), s))
            .collect()
    };
    let (ba, bb) = (base(cx, &a), base(cx, &b));
    if shares(&ba, &bb) {
        if !unequal {
            cx.round_trips.extend(
                ba.iter()
                    .filter(|x| bb.iter().any(|y| y.0 == x.0))
                    .map(|x| x.0),
            );
        }
        return;
    }
    // `"__type__" not in dumps({"now": now})` (kombu): a moment renders as digits, separators
    // and names of months, days and zones; text with an underscore, a quote, a bracket or `=`
    // is never part of it, so whether such text is in a value made from a clock read does
    // not depend on the moment. (`"." in now.isoformat()` does: no fraction at microsecond 0.)
    if unordered && markup(cx, l) {
        b.retain(|&(i, _)| {
            cx.origins
                .get(cx.call_origins.get(&i).map_or(i, |c| c.base))
                .is_none_or(|(h, _)| h.rule.id != WALL_CLOCK.id)
        });
    }
    let known = |cx: &Cx, o: &Origins, n: Node| {
        o.iter().any(|x| x.1 && !cx.call_origins.contains_key(&x.0)) || fixed(cx, n, 0)
    };
    let (ka, kb) = (known(cx, &a, l), known(cx, &b, r));
    // For a call of the project (whose value may be a draw the callee returns), another such
    // call's value counts too: `label() != label()` compares two draws.
    let any = |o: &Origins, n: Node| o.iter().any(|x| x.1) || fixed(cx, n, 0);
    let (ca, cb) = (any(&a, l), any(&b, r));
    // `date.today() != date(2013, 4, 9)`: the read itself unequal to one fixed moment fails
    // only at that moment (freezegun's check that its clock is not frozen there).
    let one_moment = |cx: &Cx, side: Node, other: Node| {
        unequal
            && side.kind() == "call"
            && fixed(cx, other, 0)
            && cx
                .origin_at
                .get(&side.id())
                .and_then(|&i| cx.origins.get(i))
                .is_some_and(|(h, _)| h.rule.id == WALL_CLOCK.id)
    };
    const ONE_MOMENT: &str = ", unequal to one fixed moment: fails only at that moment";
    for (o, side, other, k, kc) in [(&a, l, r, kb, cb), (&b, r, l, ka, ca)] {
        if one_moment(cx, side, other) {
            report_weak(cx, o, Some(ONE_MOMENT), kc);
        } else {
            report_against(cx, o, k, kc);
        }
    }
}

/// At the end of a test function: a random draw the test saw come back unchanged (`assert
/// result.stdout == data` after `run_process(cat, stdin=data)`) is a payload the test carries
/// through the code under test, so the other checks on what carried it (`result.returncode ==
/// 0`, `result.args == CAT`, before or after the round trip) check the carrying, for any value
/// as the round trip does, when the draw is data ([`bulk`]: random bytes or text): trio's `test_run` sends 256 KiB of random bytes through `cat` and
/// never failed under diagnose. A draw only compared with fixed values (`assert run(data)
/// .returncode == 0` alone) is still reported, and a clock read is a moment, not a payload:
/// `now` round-tripped and `now.year == 2024` still counts.
pub(crate) fn finish(cx: &mut Cx) {
    if cx.round_trips.is_empty() {
        return;
    }
    let payloads: Vec<(u32, u32)> = cx
        .round_trips
        .iter()
        .filter(|i| cx.bulk_origins.contains(i))
        .filter_map(|&i| cx.origins.get(i))
        .map(|(h, _)| (h.line, h.col))
        .collect();
    cx.out
        .hits
        .retain(|h| h.rule.id != UNSEEDED_RANDOM.id || !payloads.contains(&(h.line, h.col)));
}

/// A draw of many values made into one (random bytes, a random string: a draw inside a
/// comprehension or generator, `randbytes`, `choices`): data whose content, not size, is
/// random, unlike a scalar (`x = random.random()`, `round(x) < 1` depends on it).
fn bulk(cx: &Cx, call: Node) -> bool {
    let named = call
        .child_by_field_name("function")
        .and_then(|f| cx.qname(f))
        .is_some_and(|q| matches!(q.as_str(), "random.randbytes" | "random.choices"));
    let mut cur = call.parent();
    while let Some(n) = cur {
        match n.kind() {
            "generator_expression" | "list_comprehension" => return true,
            "expression_statement" | "assignment" | "function_definition" => break,
            _ => cur = n.parent(),
        }
    }
    named
}

/// A string literal holding text no rendered moment contains (see [`pair`]).
fn markup(cx: &Cx, n: Node) -> bool {
    n.kind() == "string"
        && crate::python::string_value(n, cx.src)
            .is_some_and(|v| v.contains(['_', '"', '\'', '{', '}', '[', ']', '<', '>', '=']))
}

fn report(cx: &mut Cx, o: &[(usize, bool)]) {
    report_against(cx, o, true, true);
}

const COMPUTED: &str = ", compared with a value the code under test computes";

/// Reports the strong origins of a compared value; `known`: what it is compared with is a
/// fixed value or another draw or clock read (not a value the code under test computes);
/// `known_to_calls`: the same for the calls of the project among them, for which the value
/// of another such call counts too.
fn report_against(cx: &mut Cx, o: &[(usize, bool)], known: bool, known_to_calls: bool) {
    report_weak(cx, o, (!known).then_some(COMPUTED), known_to_calls);
}

/// Reports the strong origins of a compared value; a local-clock read as the weaker form (a
/// pedantic note) when `weak` gives the reason, and a call of the project as compared weakly
/// when what it is compared with is not `known_to_calls`.
fn report_weak(cx: &mut Cx, o: &[(usize, bool)], weak_reason: Option<&str>, known_to_calls: bool) {
    for &(i, strong) in o {
        if !strong {
            continue;
        }
        if let Some(c) = cx.call_origins.get(&i) {
            // Compared with a value the code under test computes (`assert text in
            // capturer.get_text()` after `show_pager(text)`): a round trip through code the
            // scan does not follow, as for a clock read: the weaker form.
            let compared = crate::python::ComparedCall {
                target: c.target.clone(),
                ordered: c.ordered,
                weak: !known_to_calls,
            };
            if !cx.out.compared_calls.contains(&compared) {
                cx.out.compared_calls.push(compared);
            }
            continue;
        }
        let Some((hit, done)) = cx.origins.get_mut(i) else {
            continue;
        };
        let weak = weak_reason.is_some() && hit.rule.id == WALL_CLOCK.id;
        if *done {
            if !weak {
                // Reported before as the weaker form; compared with a fixed value now.
                let original = hit.clone();
                if let Some(h) = cx.out.hits.iter_mut().find(|h| {
                    h.pedantic
                        && h.rule.id == original.rule.id
                        && (h.line, h.col) == (original.line, original.col)
                }) {
                    *h = original;
                }
            }
            continue;
        }
        *done = true;
        // Two draws compared on one line (`label() != label()`): one finding for the line.
        if !weak
            && cx
                .out
                .hits
                .iter()
                .any(|h| h.rule.id == hit.rule.id && h.line == hit.line && !h.pedantic)
        {
            continue;
        }
        let mut h = hit.clone();
        if weak {
            h.weaken(weak_reason.unwrap_or_default());
        }
        cx.out.hits.push(h);
    }
}

/// Calls whose value is about what a name names, not the name (see `eval_d`).
const USES_A_NAME: &[&str] = &[
    "open",
    "io.open",
    "os.path.exists",
    "os.path.lexists",
    "os.path.isfile",
    "os.path.isdir",
    "os.path.islink",
    "os.stat",
    "os.lstat",
    "os.access",
    "os.listdir",
    "shutil.which",
    "subprocess.Popen",
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
];

/// Calls that make a fixed value of fixed arguments.
const FIXED_CALLS: &[&str] = &[
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "int",
    "float",
    "str",
    "bool",
    "tuple",
    "list",
    "frozenset",
    "set",
];

/// Whether an expression is a fixed value: literals, names bound to one (or spelled as
/// constants, `CUTOFF`), `datetime(2024, 1, 1)`, and what operators make of them.
fn fixed(cx: &Cx, n: Node, depth: usize) -> bool {
    if depth > DEPTH {
        return false;
    }
    let all = |n: Node| {
        let mut c = n.walk();
        n.named_children(&mut c).all(|k| fixed(cx, k, depth + 1))
    };
    match n.kind() {
        "integer" | "float" | "true" | "false" | "none" | "string_content" | "string_start"
        | "string_end" | "escape_sequence" => true,
        "string"
        | "concatenated_string"
        | "parenthesized_expression"
        | "unary_operator"
        | "binary_operator"
        | "tuple"
        | "list"
        | "set"
        | "expression_list"
        | "argument_list"
        | "interpolation" => all(n),
        "keyword_argument" => n
            .child_by_field_name("value")
            .is_some_and(|v| fixed(cx, v, depth + 1)),
        "identifier" => {
            let t = cx.text(n);
            cx.fixed_vars.contains(t)
                || (t.len() > 1
                    && t.chars().any(|c| c.is_ascii_uppercase())
                    && t.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        }
        // `CUTOFF.year`, `date(2024, 1, 1).isoformat()`'s object.
        "attribute" => n
            .child_by_field_name("object")
            .is_some_and(|o| fixed(cx, o, depth + 1)),
        "call" => {
            let Some(f) = n.child_by_field_name("function") else {
                return false;
            };
            let args_fixed = n
                .child_by_field_name("arguments")
                .is_none_or(|a| fixed(cx, a, depth + 1));
            args_fixed
                && (cx.qname(f).is_some_and(|q| FIXED_CALLS.contains(&q.as_str()))
                    // A method of a fixed value (`date(2024, 1, 1).isoformat()`).
                    || (f.kind() == "attribute"
                        && f.child_by_field_name("object")
                            .is_some_and(|o| fixed(cx, o, depth + 1))))
        }
        _ => false,
    }
}

/// An imported module or a class (`time`, `os.path`, `Queue`): calling a function of it with a
/// value stores nothing in it.
fn names_module_or_class(cx: &Cx, obj: Node) -> bool {
    let Some(path) = crate::python::dotted(obj, cx.src) else {
        return false;
    };
    let first = path.split('.').next().unwrap_or("");
    (cx.imports.contains_key(first) && cx.is_global(first))
        || path
            .rsplit('.')
            .next()
            .is_some_and(|l| l.chars().next().is_some_and(char::is_uppercase))
}

/// Whether the test hands the same clock function to the code under test (`TTLCache(…,
/// timer=datetime.now)`, cachetools' `test_ttl_datetime`): its own reads of that clock are
/// then the code's time base, and what it compares is their difference.
fn injects_clock(cx: &Cx, call: Node) -> bool {
    let Some(q) = call
        .child_by_field_name("function")
        .and_then(|f| cx.qname(f))
    else {
        return false;
    };
    let Some(f) = super::enclosing_function(call) else {
        return false;
    };
    super::answer_in(f, |n| {
        (matches!(n.kind(), "attribute" | "identifier")
            && n.parent()
                .is_some_and(|p| matches!(p.kind(), "argument_list" | "keyword_argument"))
            && cx.qname(n).is_some_and(|r| r == q))
        .then_some(true)
    })
    .unwrap_or(false)
}
