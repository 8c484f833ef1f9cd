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
        "datetime.date.today" | "datetime.datetime.today" => true,
        // A naive UTC time: the same in every zone, so in the code under test (where the scan
        // cannot see what it is compared with) not the local clock the rule is about; in a
        // test, compared with a fixed value, its moment still decides (rq's `utcnow()` in
        // `rq.utils`, reached by 34 of its tests, none failing under any time condition).
        "datetime.datetime.utcnow" => cx.test_code,
        "datetime.datetime.now" => npos == 0 && !has_tz,
        "datetime.datetime.fromtimestamp" | "datetime.date.fromtimestamp" => npos == 1 && !has_tz,
        "time.localtime" | "time.ctime" => npos == 0,
        "time.strftime" => npos == 1,
        "pendulum.today" | "arrow.now" => true,
        _ => false,
    }
}

/// A naive datetime the scan can see is naive (`datetime.strptime` with a literal format that
/// has no `%z`/`%Z`, `datetime(…)` without `tzinfo`, `utcnow()`, `utcfromtimestamp(…)`)
/// converted as if it held local time: `.astimezone(…)` on any of them, `.timestamp()` on a
/// naive UTC time. Python takes a naive value for local time there, so the instant depends on
/// the machine's zone: dateparser's `datetime.strptime(utc, …).astimezone(timezone.utc)`,
/// whose test fails in every zone but UTC (diagnose, p < 0.0001), in a helper that hands it to
/// a mocked clock, where no comparison the scan can follow sees it. Reported where it is, in
/// a test or the code under test, outside a faked clock (time-machine sets the zone of an
/// aware destination). A receiver held in a name is not followed.
fn naive_conversion(cx: &Cx, func: Node) -> Option<String> {
    if cx.fake_clock > 0 || func.kind() != "attribute" {
        return None;
    }
    let method = cx.text(func.child_by_field_name("attribute")?);
    if method != "astimezone" && method != "timestamp" {
        return None;
    }
    let recv = func
        .child_by_field_name("object")
        .filter(|r| r.kind() == "call")?;
    let rf = recv.child_by_field_name("function")?;
    let rq = cx.qname(rf)?;
    let naive_utc = matches!(
        rq.as_str(),
        "datetime.datetime.utcnow" | "datetime.datetime.utcfromtimestamp"
    );
    let naive = naive_utc
        || match rq.as_str() {
            "datetime.datetime.strptime" => positional(recv)
                .get(1)
                .and_then(|f| crate::python::string_value(*f, cx.src))
                .is_some_and(|f| !f.contains("%z") && !f.contains("%Z")),
            "datetime.datetime" => {
                positional(recv).len() < 8 && crate::python::kwarg(recv, "tzinfo", cx.src).is_none()
            }
            _ => false,
        };
    let reads_zone = naive && (method == "astimezone" || naive_utc);
    reads_zone.then(|| {
        format!(
            "`{}(…).{method}()` takes a naive datetime for local time",
            cx.text(rf)
        )
    })
}

/// A read of the local wall clock outside a faked clock, shown for the message.
pub(crate) fn wall_read(cx: &Cx, call: Node) -> Option<String> {
    let func = call.child_by_field_name("function")?;
    let q = cx.qname(func)?;
    (cx.fake_clock == 0 && local_clock(&q, call, cx)).then(|| format!("`{}()`", cx.text(func)))
}

/// Calls that start a stopwatch.
fn stopwatch(q: &str) -> bool {
    matches!(
        q,
        "time.time"
            | "time.perf_counter"
            | "time.monotonic"
            | "time.process_time"
            | "time.process_time_ns"
            | "time.thread_time"
            | "time.thread_time_ns"
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
    is_duration_d(cx, node, 0)
}

fn is_duration_d(cx: &Cx, node: Node, depth: usize) -> bool {
    if depth > crate::python::SHAPE_DEPTH {
        return false;
    }
    match node.kind() {
        "identifier" => cx.elapsed_vars.contains(cx.text(node)),
        "parenthesized_expression" => node
            .named_child(0)
            .is_some_and(|n| is_duration_d(cx, n, depth + 1)),
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
                        || is_duration_d(cx, n, depth + 1)
                })
            };
            match op {
                "-" => timed(l) && timed(r),
                "*" | "/" | "//" => is_duration_opt(cx, l, depth) || is_duration_opt(cx, r, depth),
                _ => false,
            }
        }
        "call" => {
            // `(end - start).total_seconds()`, `int((time() - start) * 1000)`
            node.child_by_field_name("function").is_some_and(|f| {
                (f.kind() == "attribute"
                    && f.child_by_field_name("attribute")
                        .is_some_and(|a| cx.text(a) == "total_seconds")
                    && f.child_by_field_name("object")
                        .is_some_and(|o| is_duration_d(cx, o, depth + 1)))
                    || rounded(cx, node).is_some_and(|a| is_duration_d(cx, a, depth + 1))
            })
        }
        _ => false,
    }
}

/// `int(x)`, `round(x, 2)`, `float(x)`, `abs(x)`: the number `x` as it was (a duration stays
/// one, in its unit).
fn rounded<'t>(cx: &Cx, call: Node<'t>) -> Option<Node<'t>> {
    let f = call.child_by_field_name("function")?;
    (f.kind() == "identifier" && matches!(cx.text(f), "int" | "round" | "float" | "abs"))
        .then(|| positional(call).first().copied())
        .flatten()
}

/// A budget this long guards against a hang; a slow machine does not reach it (the Rust rule's
/// threshold too: pexpect's `assert end_time < 10`, rq's `assertLess(blocked_for,
/// block_seconds)` with `block_seconds = 5`).
pub(crate) const HANG_GUARD_SECONDS: f64 = 5.0;

/// Whether a duration is in seconds: a difference of clock reads (not `*_ns` ones), an elapsed
/// name assigned one, `(…).total_seconds()`; not one scaled (`* 1000`) or divided.
fn in_seconds(cx: &Cx, node: Node, depth: usize) -> bool {
    if depth > crate::python::SHAPE_DEPTH {
        return false;
    }
    match node.kind() {
        "identifier" => {
            let name = cx.text(node);
            cx.elapsed_vars.contains(name) && !cx.scaled_vars.contains(name)
        }
        "parenthesized_expression" => node
            .named_child(0)
            .is_some_and(|n| in_seconds(cx, n, depth + 1)),
        "binary_operator" => {
            let op = node
                .child_by_field_name("operator")
                .map(|o| cx.text(o))
                .unwrap_or("");
            op == "-"
                && is_duration(cx, node)
                && !cx.text(node).contains("_ns")
                && [
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ]
                .into_iter()
                .flatten()
                .all(|n| {
                    is_clock_call(cx, n)
                        || n.kind() == "identifier" && cx.clock_vars.contains(cx.text(n))
                        || in_seconds(cx, n, depth + 1)
                })
        }
        "call" => match rounded(cx, node) {
            Some(a) => in_seconds(cx, a, depth + 1),
            None => is_duration(cx, node),
        },
        _ => false,
    }
}

/// The number a bound is: a literal, or a name bound to one in the function (through
/// parentheses, a few levels: a file nested 50 000 deep must not overflow the stack).
fn number(cx: &Cx, node: Node) -> Option<f64> {
    let mut node = node;
    for _ in 0..crate::python::SHAPE_DEPTH {
        match node.kind() {
            "integer" | "float" => return cx.text(node).replace('_', "").parse().ok(),
            "identifier" => return cx.numbers.get(cx.text(node)).copied(),
            "parenthesized_expression" => node = node.named_child(0)?,
            _ => return None,
        }
    }
    None
}

/// A number above zero (a literal, or a name bound to one).
fn positive(cx: &Cx, n: Node) -> bool {
    number(cx, n).is_some_and(|v| v > 0.0)
}

/// A duration in seconds bounded by `seconds` or more.
fn bound_at_least(cx: &Cx, duration: Node, bound: Node, seconds: f64) -> bool {
    in_seconds(cx, duration, 0) && number(cx, bound).is_some_and(|b| b >= seconds)
}

/// A duration in seconds bounded by a hang guard (`elapsed < 10`).
fn hang_guard(cx: &Cx, duration: Node, bound: Node) -> bool {
    bound_at_least(cx, duration, bound, HANG_GUARD_SECONDS)
}

/// A budget of this many seconds or more on work is generous: a busy machine rarely stalls a
/// test that long, so it is the rule's pedantic form (reported with `--pedantic`). Measured:
/// none of the labelled corpora's budgets of 1 s to 5 s failed, rerun alone, with its file,
/// under load or hunted (stamina's `duration < 1`, watchdog's `elapsed < 1`); the budgets that
/// did were 15 ms and 100 ms (flaky-shop, stamina) and ratios of two timings (aiocache).
pub(crate) const GENEROUS_BUDGET_SECONDS: f64 = 1.0;

/// Why a timing assert is the rule's pedantic form, if it is: the detail it adds.
pub(crate) const BOUNDS_A_WAIT: &str =
    ", which bounds a wait: the measured code sleeps, joins or times out";
pub(crate) const GENEROUS: &str =
    ", a budget of a second or more, which a busy machine rarely exhausts";

/// The pedantic form a timing assert on `duration` bounded by `bound` takes, if any.
fn weaker(cx: &Cx, cmp: Node, duration: Node, bound: Node) -> Option<&'static str> {
    if bounds_a_wait(cx, cmp, duration, Some(bound)) {
        Some(BOUNDS_A_WAIT)
    } else if bound_at_least(cx, duration, bound, GENEROUS_BUDGET_SECONDS) {
        Some(GENEROUS)
    } else {
        None
    }
}

fn is_duration_opt(cx: &Cx, n: Option<Node>, depth: usize) -> bool {
    n.is_some_and(|n| is_duration_d(cx, n, depth + 1))
}

pub(crate) fn call(cx: &mut Cx, node: Node) {
    let Some(func) = node.child_by_field_name("function") else {
        return;
    };
    // Before the name: a method of a call's result has none.
    if let Some(shown) = naive_conversion(cx, func) {
        cx.hit(&WALL_CLOCK, node, shown);
        return;
    }
    let Some(q) = cx.qname(func) else { return };
    if cx.test_code
        && let Some(p) = clock_patch(cx, node, &q)
        && !cx.out.clock_patches.contains(&p)
    {
        cx.out.clock_patches.push(p);
    }
    if local_clock(&q, node, cx) {
        if !cx.out.local_clocks.contains(&q) {
            cx.out.local_clocks.push(q.clone());
        }
        // In a test, a clock read matters when an assertion is sensitive to its value (see
        // `value`: compared with a value of another origin). In the code under test, any read
        // of the local date or time.
        if !cx.test_code
            && let Some(shown) = wall_read(cx, node)
        {
            cx.hit(&WALL_CLOCK, node, shown);
        }
        return;
    }
    if cx.test_code
        && matches!(
            q.as_str(),
            "time.sleep" | "asyncio.sleep" | "gevent.sleep" | "trio.sleep" | "anyio.sleep"
        )
        && cx.loops == 0
        // A sleep in a helper defined inside the test (a slow generator, a thread's body)
        // simulates work; the test itself is not waiting.
        && cx.nested_fns == 0
    {
        let arg = positional(node).first().copied();
        // A literal shorter than 10 ms yields or lets the clock tick; it waits for nothing.
        let tick = arg.is_some_and(|a| {
            matches!(a.kind(), "integer" | "float")
                && cx.text(a).parse::<f64>().is_ok_and(|v| v < 0.01)
        });
        if arg.is_some() && !tick {
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
        // Only an upper bound fails on a slow machine: `assertLess(elapsed, x)`,
        // `assertGreater(x, elapsed)`.
        let args = positional(node);
        let at = |i: usize| args.get(i).is_some_and(|a| is_duration(cx, *a));
        let guard = |d: usize, b: usize| {
            args.get(d)
                .zip(args.get(b))
                .is_some_and(|(d, b)| hang_guard(cx, *d, *b))
        };
        let upper = match name {
            "assertLess" | "assertLessEqual" => at(0) && !at(1) && !guard(0, 1),
            "assertGreater" | "assertGreaterEqual" => at(1) && !at(0) && !guard(1, 0),
            _ => false,
        };
        if upper {
            let (d, b) = if at(0) { (0, 1) } else { (1, 0) };
            let weak = weaker(cx, node, args[d], args[b]);
            timing_hit(cx, node, format!("`{name}` on a measured duration"), weak);
        } else if args.len() >= 2 && !at(0) && !at(1) {
            match name {
                "assertLess" | "assertLessEqual" => {
                    bound_on_result(cx, node, args[0], args[1], false)
                }
                "assertGreater" | "assertGreaterEqual" => {
                    bound_on_result(cx, node, args[1], args[0], false)
                }
                _ => {}
            }
        }
    }
}

pub(crate) fn assign(cx: &mut Cx, node: Node) {
    let (Some(l), Some(r)) = (
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return;
    };
    results(cx, l, r);
    if l.kind() != "identifier" {
        return;
    }
    let name = cx.text(l).to_string();
    match number(cx, r).filter(|_| matches!(r.kind(), "integer" | "float")) {
        Some(v) => cx.numbers.insert(name.clone(), v),
        None => cx.numbers.remove(&name),
    };
    if is_clock_call(cx, r) {
        cx.clock_vars.insert(name);
    } else if is_duration(cx, r) {
        if in_seconds(cx, r, 0) {
            cx.scaled_vars.remove(&name);
        } else {
            cx.scaled_vars.insert(name.clone());
        }
        cx.elapsed_vars.insert(name);
    }
}

/// `x = f(…)`, `ok, x = await f(…)`: `x` holds (an item of) what `f` returned, for an upper
/// bound asserted on it (see [`ret`]). Any other value bound to a name forgets it.
fn results(cx: &mut Cx, l: Node, r: Node) {
    // Only a test's assertions read them (`bound_on_result`).
    if !cx.test_code {
        return;
    }
    let mut call = r;
    if call.kind() == "await" {
        call = call.named_child(0).unwrap_or(call);
    }
    let target = (call.kind() == "call")
        .then(|| call.child_by_field_name("function"))
        .flatten()
        .and_then(|f| cx.target(f));
    match l.kind() {
        "identifier" => {
            let name = cx.text(l).to_string();
            match target {
                Some(t) => cx.result_vars.insert(name, (t, None)),
                None => cx.result_vars.remove(&name),
            };
        }
        "pattern_list" | "tuple_pattern" => {
            let mut c = l.walk();
            let items: Vec<Node> = l.named_children(&mut c).collect();
            for (i, item) in items.into_iter().enumerate() {
                if item.kind() != "identifier" {
                    continue;
                }
                let name = cx.text(item).to_string();
                match &target {
                    Some(t) => cx.result_vars.insert(name, (t.clone(), Some(i))),
                    None => cx.result_vars.remove(&name),
                };
            }
        }
        _ => {}
    }
}

/// A function that returns a measured duration (pyrate-limiter's test helper `async_acquire`:
/// `return acquire, int((time() - start) * 1000)`): an upper bound a test asserts on that item
/// of its result is a timing assert, found when the project pass joins the two.
pub(crate) fn ret(cx: &mut Cx, node: Node) {
    if cx.nested_fns > 0 || cx.out.returns_duration.is_some() {
        return;
    }
    let Some(v) = node.named_child(0) else { return };
    let found = if matches!(v.kind(), "expression_list" | "tuple") {
        let mut c = v.walk();
        let items: Vec<Node> = v.named_children(&mut c).collect();
        items
            .into_iter()
            .enumerate()
            .find(|(_, n)| is_duration(cx, *n))
            .map(|(i, n)| (Some(i), n))
    } else {
        is_duration(cx, v).then_some((None, v))
    };
    if let Some((item, n)) = found {
        cx.out.returns_duration = Some(crate::python::ReturnedDuration {
            item,
            seconds: in_seconds(cx, n, 0),
            waits: bounds_a_wait(cx, node, n, None),
        });
    }
}

/// An upper bound asserted on a name holding a call's result (`assert cost <= 50`): kept for
/// the project pass, which reports it when the callee returns a duration there.
fn bound_on_result(cx: &mut Cx, cmp: Node, value: Node, bound: Node, lower: bool) {
    if value.kind() != "identifier" || is_duration(cx, bound) {
        return;
    }
    let Some((target, item)) = cx.result_vars.get(cx.text(value)).cloned() else {
        return;
    };
    let b = number(cx, bound);
    if b == Some(0.0) {
        return;
    }
    let callee = match &target {
        crate::python::Target::Qualified(q) | crate::python::Target::Local(q) => {
            q.rsplit('.').next().unwrap_or(q).to_string()
        }
    };
    let mut hit = cx.make_hit(
        &TIMING_ASSERT,
        cmp,
        format!("`{}`, a duration `{callee}` measures", cx.text(cmp)),
    );
    // `300 <= cost <= 1200`: bounded from below too, it measures a wait (see `bounds_a_wait`).
    if lower {
        hit.weaken(", which bounds a wait: the chain bounds it from below");
    }
    cx.out.bounds_on_results.push(crate::python::BoundOnResult {
        target,
        item,
        bound: b,
        hit,
    });
}

/// A call that looks at the type of its argument, not at its value: `isinstance(x, T)`,
/// `issubclass`, `type(x)`, `callable(x)`, `hasattr(x, …)`. A clock read or a random draw
/// whose only use in an assertion is such a check passes whatever value it had (freezegun's
/// `assert isinstance(datetime.now(), datetime.date)`).
pub(crate) fn type_check(cx: &Cx, node: Node) -> bool {
    node.kind() == "call"
        && node.child_by_field_name("function").is_some_and(|f| {
            f.kind() == "identifier"
                && matches!(
                    cx.text(f),
                    "isinstance" | "issubclass" | "type" | "callable" | "hasattr"
                )
        })
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
                // Only an upper bound on the duration fails on a slow machine:
                // `elapsed < x`, `x > elapsed` (not `elapsed >= 0.25`).
                let mut c = n.walk();
                let kids: Vec<Node> = n.children(&mut c).collect();
                let mut ordered = false;
                // The duration and its upper bound; whether the chain also bounds it from
                // below by a positive number (`2.10 > elapsed > 1.99`: it measures a wait).
                let mut upper: Option<(Node, Node)> = None;
                let mut lower = false;
                // A name holding a call's result bounded from below by a positive number
                // (`300 <= cost`, `cost >= 300`).
                let result_lower = kids.windows(3).any(|w| {
                    let named = |n: Node| n.kind() == "identifier";
                    match w[1].kind() {
                        "<" | "<=" => positive(cx, w[0]) && named(w[2]),
                        ">" | ">=" => named(w[0]) && positive(cx, w[2]),
                        _ => false,
                    }
                });
                for (i, op) in kids.iter().enumerate() {
                    let (Some(l), Some(r)) =
                        (i.checked_sub(1).and_then(|j| kids.get(j)), kids.get(i + 1))
                    else {
                        continue;
                    };
                    let (ld, rd) = (is_duration(cx, *l), is_duration(cx, *r));
                    let this = match op.kind() {
                        "<" | "<=" => (ld && !rd && !hang_guard(cx, *l, *r)).then_some((*l, *r)),
                        ">" | ">=" => (rd && !ld && !hang_guard(cx, *r, *l)).then_some((*r, *l)),
                        _ => None,
                    };
                    lower |= match op.kind() {
                        ">" | ">=" => ld && !rd && positive(cx, *r),
                        "<" | "<=" => rd && !ld && positive(cx, *l),
                        _ => false,
                    };
                    ordered |= this.is_some();
                    upper = upper.or(this);
                    if !ld && !rd {
                        match op.kind() {
                            "<" | "<=" => bound_on_result(cx, n, *l, *r, result_lower),
                            ">" | ">=" => bound_on_result(cx, n, *r, *l, result_lower),
                            _ => {}
                        }
                    }
                }
                let timed = ordered;
                // `elapsed >= 0` is a sanity check no machine fails.
                let mut c = n.walk();
                let zero = n.named_children(&mut c).any(|ch| {
                    matches!(ch.kind(), "integer" | "float")
                        && cx.text(ch).parse::<f64>() == Ok(0.0)
                });
                if ordered && timed && !zero {
                    let shown = format!("`{}`", cx.text(n));
                    let weak = if lower {
                        Some(BOUNDS_A_WAIT)
                    } else if cpu_timed(cx, n) {
                        Some(CPU_TIME)
                    } else {
                        upper.and_then(|(d, b)| weaker(cx, n, d, b))
                    };
                    timing_hit(cx, n, shown, weak);
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

const CPU_TIME: &str =
    ", measured in CPU time (`process_time`), which the load of other processes does not stretch";

/// Whether every clock the test function reads up to the assertion is the process's or the
/// thread's CPU time (anyio's `time.process_time() - process_time < hang_time`, a check that
/// the task did not spin): a busy machine slows the run but does not add to this process's
/// CPU time, so such a budget is the rule's pedantic form.
fn cpu_timed(cx: &Cx, cmp: Node) -> bool {
    let Some(func) = super::enclosing_function(cmp) else {
        return false;
    };
    // Most timing asserts read no CPU clock: a look at the text spares the walk.
    let text = cx.text(func);
    if !text.contains("process_time") && !text.contains("thread_time") {
        return false;
    }
    let end = cmp.end_byte();
    let (mut cpu, mut other) = (0, 0);
    super::answer_in(func, |n| {
        if n.start_byte() < end
            && n.kind() == "call"
            && let Some(q) = n.child_by_field_name("function").and_then(|f| cx.qname(f))
            && stopwatch(&q)
        {
            if q.starts_with("time.process_time") || q.starts_with("time.thread_time") {
                cpu += 1;
            } else {
                other += 1;
            }
        }
        None
    });
    cpu > 0 && other == 0
}

/// The names a module reads the clock through.
const CLOCK_NAMES: &[&str] = &["datetime", "date", "time"];

/// `patch("dateparser.date.datetime", new=fake)`, `mock.patch("app.jobs.time.time")`,
/// `monkeypatch.setattr("app.jobs.datetime", Fake)`: a test replacing the name a module of
/// the project reads the clock through (dateparser's `given_now`, whose fake's `now()` and
/// `today()` return a fixed moment). Gives the module and the name. Any object put there is
/// taken for a fake clock: a test that patches a module's `datetime` does so to control it.
pub(crate) fn clock_patch(cx: &Cx, call: Node, q: &str) -> Option<(String, String)> {
    let last = q.rsplit('.').next().unwrap_or(q);
    let setattr = last == "setattr"
        && cx
            .text(call.child_by_field_name("function")?)
            .contains("monkeypatch");
    if last != "patch" && !setattr {
        return None;
    }
    let target = crate::python::string_value(*crate::python::positional(call).first()?, cx.src)?;
    let mut parts: Vec<&str> = target.split('.').collect();
    // `mod.time.time`, `mod.datetime.now`: the function of the name.
    if parts.len() >= 3
        && CLOCK_NAMES.contains(&parts[parts.len() - 2])
        && matches!(
            parts[parts.len() - 1],
            "now" | "today" | "utcnow" | "time" | "time_ns" | "localtime" | "gmtime"
        )
    {
        parts.pop();
    }
    let name = parts.pop()?;
    (CLOCK_NAMES.contains(&name) && !parts.is_empty()).then(|| (parts.join("."), name.to_string()))
}

/// A timing assert; one that bounds a wait ([`bounds_a_wait`]) or is a generous budget
/// ([`GENEROUS_BUDGET_SECONDS`]) is the rule's pedantic form, with `weak` its detail.
fn timing_hit(cx: &mut Cx, node: Node, shown: String, weak: Option<&str>) {
    let mut h = cx.make_hit(&TIMING_ASSERT, node, shown);
    if let Some(why) = weak {
        h.weaken(why);
    }
    cx.out.hits.push(h);
}

/// Whether a timing assert bounds a wait rather than work: the code it measures, from the
/// clock read its duration starts at to the assertion, sleeps, joins or waits (directly, or
/// through a function defined in the test that does: a thread's body, a mock's side effect),
/// or its bound is the very duration the measured code was given to wait (`sleep(t)` …
/// `assertLess(elapsed, t)`, `fetch(timeout=timeout)` … `assertGreater(timeout, elapsed)`).
/// Such an assertion tells waiting from not waiting, or checks a wait's length, with a margin
/// on the scale of the wait, not a budget on work that a busy machine stretches: reported
/// only with `--pedantic` (measured: none of the 13 such bounds in the labelled corpora
/// failed, rerun, under load or hunted four at once; the budgets on work that did, flaky-shop's
/// `elapsed < 0.015` and aiocache's footprint ratios, measure code that never waits).
pub(crate) fn bounds_a_wait(cx: &Cx, cmp: Node, duration: Node, bound: Option<Node>) -> bool {
    let Some(func) = super::enclosing_function(cmp) else {
        return false;
    };
    let end = cmp.start_byte();
    // One walk of the function's own body: the names it assigns and the calls that wait
    // before the assertion (with the timeout a call was given), the functions it defines, and
    // whether another assertion bounds the same duration from below (`assert dt >= 0.05` …
    // `assert dt < 1.0`, pyrate-limiter's check that a blocking acquire waited and did not
    // spin).
    let mut assigns: Vec<(&str, Node)> = Vec::new();
    let mut defs: Vec<Node> = Vec::new();
    let mut waits: Vec<(usize, Option<&str>)> = Vec::new();
    let name = (duration.kind() == "identifier").then(|| cx.text(duration));
    let mut lower = false;
    in_body(func, 0, usize::MAX, &mut |n| match n.kind() {
        "assignment" if n.end_byte() <= end => {
            if let Some(l) = n.child_by_field_name("left")
                && l.kind() == "identifier"
            {
                assigns.push((cx.text(l), n));
            }
        }
        "function_definition" if n.id() != func.id() => defs.push(n),
        "call" => {
            if n.start_byte() < end
                && let Some(given) = wait_call(cx, n)
            {
                waits.push((n.start_byte(), given));
            }
            if let Some(name) = name {
                let m = n
                    .child_by_field_name("function")
                    .and_then(|f| f.child_by_field_name("attribute"))
                    .map(|a| cx.text(a));
                let args = positional(n);
                lower |= matches!(m, Some("assertGreater" | "assertGreaterEqual"))
                    && args.first().is_some_and(|a| cx.text(*a) == name)
                    && args.get(1).is_some_and(|b| positive(cx, *b));
            }
        }
        "comparison_operator" => {
            let Some(name) = name else { return };
            let mut c = n.walk();
            let kids: Vec<Node> = n.children(&mut c).collect();
            for w in kids.windows(3) {
                let (l, op, r) = (w[0], cx.text(w[1]), w[2]);
                lower |= (cx.text(l) == name && matches!(op, ">" | ">=") && positive(cx, r))
                    || (cx.text(r) == name && matches!(op, "<" | "<=") && positive(cx, l));
            }
        }
        _ => {}
    });
    if lower {
        return true;
    }
    // A helper (not a test: pytest runs those, nothing calls them) with parameters may time
    // a callable its callers pass ([`callers_pass_waits`]).
    let helper = !cx.params.is_empty()
        && func
            .child_by_field_name("name")
            .is_some_and(|n| !cx.text(n).starts_with("test"));
    if waits.is_empty() && defs.is_empty() && !helper {
        return false;
    }
    let Some(start) = region_start(cx, &assigns, duration, end, 0) else {
        return false;
    };
    let bound = bound.map(|b| cx.text(b));
    // A call that waits; one given a timeout waits only when the bound is that timeout (the
    // assertion says it returned before it ran out).
    if waits
        .iter()
        .any(|(at, given)| *at >= start && (given.is_none() || same_number(*given, bound)))
    {
        return true;
    }
    let waiters = waiting_fns(cx, &defs);
    let mut found = false;
    let mut passed: Vec<&str> = Vec::new();
    in_body(func, start, end, &mut |n| {
        if n.start_byte() >= start && n.kind() == "identifier" {
            let t = cx.text(n);
            found |= waiters.contains(t);
            // A parameter run in the measured code: called (`f()`, `await f()`) or handed
            // to a call (`outcome.acapture(f)`).
            let run = n.parent().is_some_and(|p| {
                p.kind() == "argument_list"
                    || (p.kind() == "call"
                        && p.child_by_field_name("function")
                            .is_some_and(|f| f.id() == n.id()))
            });
            if helper && run && cx.params.iter().any(|p| p == t) && !passed.contains(&t) {
                passed.push(t);
            }
        }
    });
    found || passed.iter().any(|p| callers_pass_waits(cx, func, p))
}

/// Whether a helper that times a callable its callers pass (`check_takes_about(f,
/// expected_dur)`: `start = perf_counter()`, `await f()`, `assert dur / expected_dur < 1.5`)
/// is given a wait by every call of it in its file: a function defined in the caller that
/// waits (trio's `sleep_2`, `async def sleep_2(): await sleep(TARGET)`) or a lambda that does.
/// Then the helper checks how long a wait takes, as a test that sleeps and bounds the sleep
/// does. A helper with no call in its file, or one caller passing anything else (a function
/// doing work, a name from elsewhere), is a budget on work.
fn callers_pass_waits(cx: &Cx, helper: Node, param: &str) -> bool {
    let Some(name) = helper.child_by_field_name("name").map(|n| cx.text(n)) else {
        return false;
    };
    let Some(index) = cx.params.iter().position(|p| p == param) else {
        return false;
    };
    let mut root = helper;
    while let Some(p) = root.parent() {
        root = p;
    }
    let mut calls = 0;
    let all = super::answer_in(root, |n| {
        if n.kind() != "call"
            || n.child_by_field_name("function")
                .is_none_or(|f| f.kind() != "identifier" || cx.text(f) != name)
        {
            return None;
        }
        calls += 1;
        let Some(arg) = positional(n)
            .get(index)
            .copied()
            .or_else(|| crate::python::kwarg(n, param, cx.src))
        else {
            return Some(false);
        };
        let waits = match arg.kind() {
            "lambda" => {
                let mut w = false;
                in_body(arg, 0, usize::MAX, &mut |x| {
                    w |= x.kind() == "call" && wait_call(cx, x) == Some(None);
                });
                w
            }
            "identifier" => super::enclosing_function(n).is_some_and(|caller| {
                let mut defs = Vec::new();
                in_body(caller, 0, usize::MAX, &mut |x| {
                    if x.kind() == "function_definition" && x.id() != caller.id() {
                        defs.push(x);
                    }
                });
                waiting_fns(cx, &defs).contains(cx.text(arg))
            }),
            _ => false,
        };
        (!waits).then_some(false)
    });
    all.is_none() && calls > 0
}

/// Whether a timeout and a bound are the same (`timeout` and `timeout`, `1` and `1.0`).
fn same_number(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b
                || a.parse::<f64>()
                    .is_ok_and(|x| b.parse::<f64>().is_ok_and(|y| x == y))
        }
        _ => false,
    }
}

/// Visits the nodes of a function's own body that overlap the bytes `from..to`, not those of
/// functions or classes defined in it (which are visited themselves, not their insides).
fn in_body<'t>(func: Node<'t>, from: usize, to: usize, visit: &mut impl FnMut(Node<'t>)) {
    let mut stack = vec![func];
    let mut seen = 0usize;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            return;
        }
        visit(n);
        if n.id() != func.id()
            && matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        {
            continue;
        }
        let mut c = n.walk();
        for ch in n.named_children(&mut c) {
            if ch.end_byte() > from && ch.start_byte() < to {
                stack.push(ch);
            }
        }
    }
}

/// A call that waits: a sleep of at least 10 ms (any `sleep`: `time.sleep`, `asyncio.sleep`,
/// `sh.sleep`), a thread or process joined or waited for (`t.join()`, `done.wait()`,
/// `p.wait()`). `Some(None)` for those; `Some(Some(text))` for a call given a timeout
/// (`fetch(timeout=t)`), with the timeout's text; `None` for any other call.
fn wait_call<'t>(cx: &Cx<'t>, call: Node) -> Option<Option<&'t str>> {
    let f = call.child_by_field_name("function")?;
    let name = match f.kind() {
        "identifier" => cx.text(f),
        "attribute" => cx.text(f.child_by_field_name("attribute")?),
        _ => return None,
    };
    let args = positional(call);
    match name {
        // trio's and anyio's: until a moment, or until cancelled.
        "sleep_until" | "sleep_forever" => Some(None),
        "sleep" => {
            let tick = args.first().is_some_and(|a| {
                matches!(a.kind(), "integer" | "float")
                    && cx.text(*a).parse::<f64>().is_ok_and(|v| v < 0.01)
            });
            (!tick && !args.is_empty()).then_some(None)
        }
        // `", ".join(names)` joins strings; `t.join()`, `t.join(5)` a thread.
        "join"
            if f.kind() == "attribute"
                && args
                    .first()
                    .is_none_or(|a| matches!(a.kind(), "integer" | "float")) =>
        {
            Some(None)
        }
        "wait" if f.kind() == "attribute" => Some(None),
        // `q.get(block=True)`, `lock.acquire(blocking=True)`: Python's spelling of a call
        // that waits for what it needs.
        // Also `blocking=blocking`, a parameter of the measuring function that defaults to
        // `True` (pyrate-limiter's `async_acquire(…, blocking: bool = True)` helper).
        _ if ["block", "blocking"].iter().any(|k| {
            crate::python::kwarg(call, k, cx.src).is_some_and(|v| {
                cx.text(v) == "True" || v.kind() == "identifier" && true_by_default(cx, v)
            })
        }) =>
        {
            Some(None)
        }
        _ => crate::python::kwarg(call, "timeout", cx.src).map(|t| Some(cx.text(t))),
    }
}

/// Whether a name is a parameter of its enclosing function that defaults to `True`.
fn true_by_default(cx: &Cx, name: Node) -> bool {
    let Some(params) =
        super::enclosing_function(name).and_then(|f| f.child_by_field_name("parameters"))
    else {
        return false;
    };
    let mut c = params.walk();
    let params: Vec<Node> = params.named_children(&mut c).collect();
    params.iter().any(|p| {
        matches!(p.kind(), "default_parameter" | "typed_default_parameter")
            && p.child_by_field_name("name")
                .is_some_and(|n| cx.text(n) == cx.text(name))
            && p.child_by_field_name("value")
                .is_some_and(|v| cx.text(v) == "True")
    })
}

/// Names of the functions defined in the measured function (`defs`, at any depth) whose own
/// body waits: a thread's target, a mock's `side_effect`, an inner coroutine.
fn waiting_fns<'t>(cx: &Cx<'t>, defs: &[Node<'t>]) -> std::collections::HashSet<&'t str> {
    let mut out = std::collections::HashSet::new();
    let mut inner = Vec::new();
    let mut todo: Vec<Node> = defs.to_vec();
    while let Some(d) = todo.pop() {
        let mut waits = false;
        in_body(d, 0, usize::MAX, &mut |n| {
            waits |= n.kind() == "call" && wait_call(cx, n) == Some(None);
            if n.kind() == "function_definition" && n.id() != d.id() {
                inner.push(n);
            }
        });
        todo.append(&mut inner);
        if waits && let Some(name) = d.child_by_field_name("name") {
            out.insert(cx.text(name));
        }
    }
    out
}

/// Where the measured code starts: the earliest clock read the duration is computed from,
/// through the names it is assigned to (`elapsed = time() - start`, `start = time()`), each
/// the latest assignment (of `assigns`, the function's) before its use.
fn region_start(
    cx: &Cx,
    assigns: &[(&str, Node)],
    expr: Node,
    before: usize,
    depth: usize,
) -> Option<usize> {
    if depth > 4 {
        return None;
    }
    let mut names = Vec::new();
    super::answer_in(expr, |n| {
        if n.kind() == "identifier" {
            names.push(cx.text(n));
        }
        None
    });
    names.sort_unstable();
    names.dedup();
    let mut start: Option<usize> = None;
    for name in names {
        let Some(a) = assigns
            .iter()
            .filter(|(n, a)| *n == name && a.end_byte() <= before)
            .map(|(_, a)| *a)
            .max_by_key(|a| a.start_byte())
        else {
            continue;
        };
        let Some(r) = a.child_by_field_name("right") else {
            continue;
        };
        let at = if is_clock_call(cx, r) {
            Some(a.start_byte())
        } else {
            region_start(cx, assigns, r, a.start_byte(), depth + 1)
        };
        if let Some(at) = at {
            start = Some(start.map_or(at, |s| s.min(at)));
        }
    }
    start
}
