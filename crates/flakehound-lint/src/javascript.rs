//! JavaScript and TypeScript: test files (`*.test.js`, `*.spec.ts`, files under `__tests__/`, …)
//! parsed with tree-sitter-javascript / tree-sitter-typescript (TSX too). The tests are the
//! `it`/`test` calls (jest, vitest, mocha, node:test, playwright), inside `describe` blocks; the
//! hooks (`beforeEach`, `beforeAll`, …) count for every test of their block. Rules:
//!
//! - `sleep-wait`: `setTimeout(…, N)`, `await sleep(N)`/`delay`/`page.waitForTimeout`/`cy.wait`
//!   with a literal of 10 ms or more, outside loops and polling helpers; not with fake timers;
//! - `unseeded-random`: `Math.random()` (faker, chance, lodash's random) whose value reaches an
//!   assertion that compares it with a value of another origin (`expect(f(x)).toBe(x)`, a
//!   round trip, holds for any value and is not reported; nor are bounds);
//! - `wall-clock-compare`: `new Date()`/`Date.now()`/`moment()`/`dayjs()` whose value is compared
//!   with a fixed value (a literal or a snapshot); not with fake timers/`setSystemTime`/MockDate;
//! - `timing-assert`: an upper bound on a measured duration
//!   (`expect(Date.now() - start).toBeLessThan(100)`); lower bounds cannot fail on a slow machine;
//! - `real-network`: `fetch`/axios/got/http(s)/`page.goto`/`new WebSocket` with a literal URL
//!   outside the machine; not when the file stubs the network (nock, msw, fetch-mock, …);
//! - `fixed-tmp-path`: a `"/tmp/…"` literal or `path.join(os.tmpdir(), "name")` (not
//!   `mkdtemp`'s prefix), in a test or a constant a test uses;
//! - `shared-module-state`: a module- or `describe`-level `let`/`var` (or a `const` array, object,
//!   `Map`, `Set`) that one test changes and another reads before writing it, not reset by a
//!   hook;
//! - `retry-marker`: `jest.retryTimes`, mocha's `this.retries`, `{ retry: n }` options,
//!   playwright's `describe.configure({ retries })`.
//!
//! Test ids are jest's: `path › describe › … › title` (the path is added by the caller).

use crate::lang::{
    Access, FileFacts, MAX_DEPTH, Origin, StateUse, Suppressions, TestHit, record_access, taint,
};
use crate::python::{Hit, span};
use crate::rules::{
    FIXED_TMP_PATH, REAL_NETWORK, RETRY_MARKER, Rule, SHARED_STATE, SLEEP_WAIT, TIMING_ASSERT,
    UNSEEDED_RANDOM, WALL_CLOCK,
};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tree_sitter::{Node, Parser};

/// Which grammar a file needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    JavaScript,
    TypeScript,
    Tsx,
}

/// The dialect of a JavaScript/TypeScript test file, or `None` for other files.
pub fn test_file_dialect(path: &Path) -> Option<Dialect> {
    let name = path.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let dialect = match ext {
        "js" | "jsx" | "mjs" | "cjs" => Dialect::JavaScript,
        "ts" | "mts" | "cts" => Dialect::TypeScript,
        "tsx" => Dialect::Tsx,
        _ => return None,
    };
    if stem.ends_with(".d") {
        return None;
    }
    let test_name = stem.ends_with(".test")
        || stem.ends_with(".spec")
        || stem.ends_with("-test")
        || stem.ends_with("_test")
        || stem.ends_with(".e2e");
    let in_tests = path
        .components()
        .any(|c| matches!(c.as_os_str().to_str(), Some("__tests__")));
    (test_name || in_tests).then_some(dialect)
}

const TEST_FNS: &[&str] = &["it", "test", "specify", "fit", "ftest"];
const SUITE_FNS: &[&str] = &["describe", "context", "suite", "fdescribe"];
const HOOKS: &[&str] = &[
    "beforeEach",
    "afterEach",
    "beforeAll",
    "afterAll",
    "before",
    "after",
    "setup",
    "teardown",
    "suiteSetup",
    "suiteTeardown",
];
const SLEEPS: &[&str] = &[
    "sleep",
    "delay",
    "wait",
    "waitForTimeout",
    "pause",
    "setTimeout",
    "timeout",
];
const UPPER: &[&str] = &[
    "toBeLessThan",
    "toBeLessThanOrEqual",
    "below",
    "lessThan",
    "lt",
    "most",
    "lte",
    "isBelow",
    "isAtMost",
];
const EQUAL: &[&str] = &[
    "toBe",
    "toEqual",
    "toStrictEqual",
    "toMatch",
    "toContain",
    "toMatchSnapshot",
    "toMatchInlineSnapshot",
    "toHaveProperty",
    "equal",
    "equals",
    "eql",
    "strictEqual",
    "deepEqual",
    "deepStrictEqual",
    "notEqual",
    "notStrictEqual",
    "is",
    "same",
    "match",
    "include",
];
const MUTATORS: &[&str] = &[
    "push", "pop", "shift", "unshift", "splice", "set", "add", "delete", "clear", "sort",
    "reverse", "fill", "assign",
];

/// File-wide facts that switch rules off.
#[derive(Default)]
struct Env {
    fake_clock: bool,
    net_stub: bool,
    seeded: bool,
}

/// A name declared at module or `describe` level.
struct Shared {
    /// A fixed temporary path it holds: (span, text).
    tmp: Option<((u32, u32, u32), String)>,
    /// Mutable state (`let`/`var`, or a `const` container).
    mutable: bool,
    /// Assigned or changed by a hook: managed per test.
    managed: bool,
}

/// One test: its id within the file and what its body did.
struct Test {
    name: String,
    hits: Vec<Hit>,
    /// Shared names: (first access, its span, first change's span).
    state: HashMap<String, StateUse>,
    refs: HashSet<String>,
}

struct Cx<'a> {
    src: &'a [u8],
    env: Env,
    shared: HashMap<String, Shared>,
    tests: Vec<Test>,
    /// Hits of hooks and markers, for the tests of a block: (first test index, hits).
    scoped: Vec<(usize, usize, Hit)>,
}

fn text<'a>(src: &'a [u8], n: Node) -> &'a str {
    n.utf8_text(src).unwrap_or("")
}

fn named(n: Node) -> Vec<Node> {
    let mut c = n.walk();
    n.named_children(&mut c).collect()
}

/// The leftmost identifier of a callee (`it` of `it.each([...])`).
fn base_name<'a>(src: &'a [u8], mut n: Node) -> &'a str {
    for _ in 0..MAX_DEPTH {
        match n.kind() {
            "identifier" | "this" => return text(src, n),
            "member_expression" => match n.child_by_field_name("object") {
                Some(o) => n = o,
                None => return "",
            },
            "call_expression" => match n.child_by_field_name("function") {
                Some(f) => n = f,
                None => return "",
            },
            _ => return "",
        }
    }
    ""
}

/// The last property of a callee (`get` of `axios.get`), or the identifier.
fn last_name<'a>(src: &'a [u8], n: Node) -> &'a str {
    match n.kind() {
        "member_expression" => n
            .child_by_field_name("property")
            .map_or("", |p| text(src, p)),
        "identifier" => text(src, n),
        _ => "",
    }
}

/// The value of a string literal or a template without substitutions.
fn literal(src: &[u8], n: Node) -> Option<String> {
    match n.kind() {
        "string" => Some(
            text(src, n)
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string(),
        ),
        "template_string" => {
            let t = text(src, n).trim_matches('`');
            Some(t.to_string())
        }
        _ => None,
    }
}

fn args(call: Node) -> Vec<Node> {
    call.child_by_field_name("arguments")
        .map(named)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.kind() != "comment")
        .collect()
}

fn is_function(n: Node) -> bool {
    matches!(
        n.kind(),
        "arrow_function" | "function_expression" | "function" | "generator_function"
    )
}

/// The body of a test/hook callback: its statement block or expression.
fn fn_body(f: Node) -> Option<Node> {
    f.child_by_field_name("body")
}

/// An options object with a `retry`/`retries` key.
fn retry_option(src: &[u8], n: Node) -> bool {
    n.kind() == "object"
        && named(n).into_iter().any(|p| {
            p.kind() == "pair"
                && p.child_by_field_name("key")
                    .is_some_and(|k| matches!(text(src, k), "retry" | "retries"))
        })
}

impl Cx<'_> {
    fn hit(rule: &'static Rule, node: Node, detail: String) -> Hit {
        let (line, col, end_col) = span(node);
        Hit {
            rule,
            line,
            col,
            end_col,
            detail,
            guard: None,
            pedantic: false,
            in_cwd: false,
        }
    }

    /// The statements of a block (module, describe callback).
    fn block(&mut self, stmts: &[Node], titles: &[String], depth: usize) {
        if depth > 40 {
            return;
        }
        let first_test = self.tests.len();
        let mut scoped_here: Vec<Hit> = Vec::new();
        for s in stmts {
            match s.kind() {
                "lexical_declaration" | "variable_declaration" => self.declare(*s),
                "export_statement" => {
                    for d in named(*s) {
                        if matches!(d.kind(), "lexical_declaration" | "variable_declaration") {
                            self.declare(d);
                        }
                    }
                }
                "expression_statement" => {
                    let Some(e) = s.named_child(0) else { continue };
                    let e = if e.kind() == "await_expression" {
                        e.named_child(0).unwrap_or(e)
                    } else {
                        e
                    };
                    if e.kind() == "call_expression" {
                        self.top_call(e, titles, depth, &mut scoped_here);
                    }
                }
                _ => {}
            }
        }
        let end = self.tests.len();
        for h in scoped_here {
            self.scoped.push((first_test, end, h));
        }
    }

    fn declare(&mut self, decl: Node) {
        let is_const = decl.child(0).is_some_and(|k| text(self.src, k) == "const");
        for d in named(decl) {
            if d.kind() != "variable_declarator" {
                continue;
            }
            let Some(name) = d.child_by_field_name("name") else {
                continue;
            };
            if name.kind() != "identifier" {
                continue;
            }
            let value = d.child_by_field_name("value");
            let container = value.is_some_and(|v| match v.kind() {
                "array" | "object" => true,
                "new_expression" => v.child_by_field_name("constructor").is_some_and(|c| {
                    matches!(
                        text(self.src, c),
                        "Map" | "Set" | "WeakMap" | "Array" | "Object"
                    )
                }),
                _ => false,
            });
            let tmp = value.and_then(|v| self.tmp_value(v).map(|t| (span(v), t)));
            self.shared.insert(
                text(self.src, name).to_string(),
                Shared {
                    tmp,
                    mutable: !is_const || container,
                    managed: false,
                },
            );
        }
    }

    /// A fixed temporary path an expression spells: `"/tmp/x"`, `path.join(os.tmpdir(), "x")`.
    fn tmp_value(&self, v: Node) -> Option<String> {
        if let Some(s) = literal(self.src, v)
            && crate::lang::is_tmp_path(&s)
        {
            return Some(s);
        }
        let t = text(self.src, v);
        if v.kind() == "template_string" && t.contains("tmpdir()}") {
            let subs = named(v)
                .into_iter()
                .filter(|n| n.kind() == "template_substitution")
                .count();
            return (subs == 1).then(|| t.to_string());
        }
        if v.kind() == "call_expression"
            && let Some(f) = v.child_by_field_name("function")
            && matches!(
                text(self.src, f),
                "path.join" | "path.resolve" | "join" | "resolve"
            )
        {
            let a = args(v);
            let first_tmp = a.first().is_some_and(|x| {
                let t = text(self.src, *x);
                t.ends_with("tmpdir()") || t.ends_with("tmpdir")
            });
            let rest_literal =
                a.len() > 1 && a[1..].iter().all(|x| literal(self.src, *x).is_some());
            if first_tmp && rest_literal {
                return Some(t.to_string());
            }
        }
        None
    }

    fn top_call(&mut self, call: Node, titles: &[String], depth: usize, scoped: &mut Vec<Hit>) {
        let Some(f) = call.child_by_field_name("function") else {
            return;
        };
        let base = base_name(self.src, f);
        let ftext = text(self.src, f);
        let a = args(call);
        let skipped = ftext.contains(".skip") || ftext.contains(".todo") || base.starts_with('x');
        let last = last_name(self.src, f);
        // `test.describe(...)`, `test.beforeEach(...)` (playwright).
        let suite = SUITE_FNS.contains(&base)
            || (base == "test" && ftext.starts_with("test.describe") && last != "configure");
        let hook = HOOKS.contains(&base) || (base == "test" && HOOKS.contains(&last));
        if ftext == "jest.retryTimes"
            || ftext == "this.retries"
            || (last == "configure" && a.iter().any(|x| retry_option(self.src, *x)))
        {
            scoped.push(Self::hit(&RETRY_MARKER, call, format!("`{ftext}(…)`")));
            return;
        }
        let title = a
            .first()
            .map(|t| literal(self.src, *t).unwrap_or_else(|| text(self.src, *t).to_string()));
        let callback = a.iter().rev().find(|x| is_function(**x)).copied();
        if suite && !skipped {
            if let (Some(title), Some(cb)) = (title, callback)
                && let Some(body) = fn_body(cb)
            {
                let mut t = titles.to_vec();
                t.push(title);
                let stmts = if body.kind() == "statement_block" {
                    named(body)
                } else {
                    vec![body]
                };
                self.block(&stmts, &t, depth + 1);
            }
        } else if hook {
            if let Some(cb) = callback {
                let mut w = Body::new(self);
                w.walk_fn(cb);
                let Body { hits, state, .. } = w;
                for (name, (_, _, changed)) in state {
                    if changed.is_some()
                        && let Some(s) = self.shared.get_mut(&name)
                    {
                        s.managed = true;
                    }
                }
                scoped.extend(hits);
            }
        } else if TEST_FNS.contains(&base) && !skipped {
            let (Some(title), Some(cb)) = (title, callback) else {
                return;
            };
            let mut w = Body::new(self);
            w.walk_fn(cb);
            let Body {
                mut hits,
                state,
                refs,
                ..
            } = w;
            if a.iter().any(|x| retry_option(self.src, *x)) {
                hits.push(Self::hit(&RETRY_MARKER, call, "`{ retry }` option".into()));
            }
            let mut name = titles.to_vec();
            name.push(title);
            self.tests.push(Test {
                name: name.join(" › "),
                hits,
                state,
                refs,
            });
        }
    }
}

/// The walk of one test or hook body.
struct Body<'c, 'a> {
    cx: &'c Cx<'a>,
    loops: usize,
    taints: HashMap<String, Origin>,
    hits: Vec<Hit>,
    state: HashMap<String, StateUse>,
    refs: HashSet<String>,
}

impl<'c, 'a> Body<'c, 'a> {
    fn new(cx: &'c Cx<'a>) -> Self {
        Body {
            cx,
            loops: 0,
            taints: HashMap::new(),
            hits: Vec::new(),
            state: HashMap::new(),
            refs: HashSet::new(),
        }
    }

    fn t(&self, n: Node) -> &'a str {
        text(self.cx.src, n)
    }

    fn walk_fn(&mut self, f: Node) {
        if let Some(b) = fn_body(f) {
            self.walk(b, 0);
        }
    }

    fn walk(&mut self, n: Node, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let kind = n.kind();
        let is_loop = matches!(
            kind,
            "for_statement" | "for_in_statement" | "while_statement" | "do_statement"
        );
        match kind {
            "call_expression" if self.call(n) => {
                if let Some(f) = n.child_by_field_name("function") {
                    self.walk(f, depth + 1);
                }
                return;
            }
            "new_expression" => self.new_expr(n),
            "variable_declarator" => {
                if let (Some(name), Some(v)) = (
                    n.child_by_field_name("name"),
                    n.child_by_field_name("value"),
                ) {
                    self.walk(v, depth + 1);
                    self.assign(name, v);
                    return;
                }
            }
            "assignment_expression" => {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    self.walk(r, depth + 1);
                    self.assign(l, r);
                    if l.kind() == "identifier" {
                        self.access(l, Access::Write);
                    } else {
                        self.walk(l, depth + 1);
                    }
                    return;
                }
            }
            "identifier" => {
                self.access(n, Access::Read);
                return;
            }
            _ => {}
        }
        self.loops += usize::from(is_loop);
        for k in named(n) {
            self.walk(k, depth + 1);
        }
        self.loops -= usize::from(is_loop);
    }

    /// A use of a module-level name: classified by its parent.
    fn access(&mut self, id: Node, default: Access) {
        let name = self.t(id);
        let Some(shared) = self.cx.shared.get(name) else {
            return;
        };
        self.refs.insert(name.to_string());
        if !shared.mutable {
            return;
        }
        let mut kind = default;
        if let Some(p) = id.parent() {
            match p.kind() {
                "update_expression" | "augmented_assignment_expression" => kind = Access::Mutate,
                "unary_expression" if self.t(p).starts_with("delete") => kind = Access::Mutate,
                "member_expression" | "subscript_expression"
                    if p.child_by_field_name("object") == Some(id) =>
                {
                    let prop = p.child_by_field_name("property").map_or("", |x| self.t(x));
                    let gp = p.parent();
                    let assigned = gp.is_some_and(|g| {
                        matches!(
                            g.kind(),
                            "assignment_expression" | "augmented_assignment_expression"
                        ) && g.child_by_field_name("left") == Some(p)
                    });
                    let called = gp.is_some_and(|g| {
                        g.kind() == "call_expression"
                            && g.child_by_field_name("function") == Some(p)
                    });
                    if assigned || (called && MUTATORS.contains(&prop)) {
                        kind = Access::Mutate;
                    }
                }
                _ => {}
            }
        }
        record_access(&mut self.state, name, kind, span(id));
    }

    fn assign(&mut self, left: Node, value: Node) {
        if left.kind() != "identifier" {
            return;
        }
        let name = self.t(left).to_string();
        let (bits, origin) = self.eval(value, 0);
        match origin {
            Some(mut o) if bits != 0 => {
                o.bits = bits;
                self.taints.insert(name, o);
            }
            _ => {
                self.taints.remove(&name);
            }
        }
    }

    fn source(&self, n: Node, bits: u8) -> (u8, Option<Origin>) {
        let t = self.t(n);
        let shown: String = t.chars().take(60).collect();
        (
            bits,
            Some(Origin {
                bits,
                span: span(n),
                text: shown,
            }),
        )
    }

    /// What a value is derived from (the [`taint`] bits) and the first source.
    fn eval(&self, n: Node, depth: usize) -> (u8, Option<Origin>) {
        if depth > 60 {
            return (0, None);
        }
        let env = &self.cx.env;
        match n.kind() {
            "identifier" => {
                return self
                    .taints
                    .get(self.t(n))
                    .map_or((0, None), |o| (o.bits, Some(o.clone())));
            }
            "call_expression" => {
                let f = n.child_by_field_name("function");
                let ft = f.map_or("", |f| self.t(f));
                let noargs = args(n).is_empty();
                if !env.seeded
                    && (ft == "Math.random"
                        || ft.starts_with("faker.")
                        || ft.starts_with("chance.")
                        || matches!(
                            ft,
                            "_.random" | "_.sample" | "_.shuffle" | "crypto.randomInt"
                        ))
                {
                    return self.source(n, taint::RANDOM);
                }
                if !env.fake_clock
                    && (ft == "Date.now"
                        || (noargs && matches!(ft, "moment" | "dayjs" | "DateTime.now")))
                {
                    return self.source(n, taint::WALL | taint::CLOCK);
                }
                if matches!(ft, "performance.now" | "process.hrtime.bigint")
                    || (ft == "process.hrtime" && noargs)
                {
                    return self.source(n, taint::CLOCK);
                }
                if ft == "process.hrtime" {
                    return self.source(n, taint::DURATION);
                }
            }
            "new_expression" => {
                let c = n
                    .child_by_field_name("constructor")
                    .map_or("", |c| self.t(c));
                if c == "Date" && args(n).is_empty() && !env.fake_clock {
                    return self.source(n, taint::WALL | taint::CLOCK);
                }
            }
            "binary_expression" => {
                let op = n.child_by_field_name("operator").map_or("", |o| self.t(o));
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    let (lb, lo) = self.eval(l, depth + 1);
                    let (rb, ro) = self.eval(r, depth + 1);
                    if op == "-" && lb & taint::CLOCK != 0 && rb & taint::CLOCK != 0 {
                        let keep = (lb | rb) & !(taint::WALL | taint::CLOCK);
                        return (keep | taint::DURATION, lo.or(ro));
                    }
                    return (lb | rb, lo.or(ro));
                }
            }
            "arrow_function" | "function_expression" | "function" => return (0, None),
            _ => {}
        }
        let mut bits = 0;
        let mut origin = None;
        for k in named(n) {
            let (b, o) = self.eval(k, depth + 1);
            bits |= b;
            if origin.is_none() {
                origin = o;
            }
        }
        (bits, origin)
    }

    /// Whether a value is fixed: it holds a literal and nothing nondeterministic.
    fn fixed(&self, n: Node) -> bool {
        fn has_literal(n: Node, depth: usize) -> bool {
            depth < 40
                && (matches!(
                    n.kind(),
                    "string" | "number" | "template_string" | "regex" | "true" | "false"
                ) || named(n).into_iter().any(|k| has_literal(k, depth + 1)))
        }
        has_literal(n, 0) && self.eval(n, 0).0 == 0
    }

    fn new_expr(&mut self, n: Node) {
        let c = n
            .child_by_field_name("constructor")
            .map_or("", |c| self.t(c));
        if matches!(c, "WebSocket" | "EventSource")
            && !self.cx.env.net_stub
            && let Some(u) = args(n).first().and_then(|a| literal(self.cx.src, *a))
            && let Some(host) = crate::lang::remote_url(&u)
        {
            self.hits
                .push(Cx::hit(&REAL_NETWORK, n, format!("`new {c}(…)` to {host}")));
        }
        for a in args(n) {
            self.tmp_arg(a, "");
        }
    }

    fn tmp_arg(&mut self, a: Node, callee: &str) {
        if callee.contains("mkdtemp") {
            return;
        }
        if let Some(t) = self.cx.tmp_value(a) {
            self.hits
                .push(Cx::hit(&FIXED_TMP_PATH, a, format!("`{t}`")));
        }
    }

    /// Runs the rules on a call; true when its arguments were walked already.
    fn call(&mut self, call: Node) -> bool {
        let Some(f) = call.child_by_field_name("function") else {
            return false;
        };
        let ft = self.t(f);
        let last = last_name(self.cx.src, f);
        let base = base_name(self.cx.src, f);
        let a = args(call);
        let env = &self.cx.env;
        // Sleeps.
        if self.loops == 0 && !env.fake_clock && SLEEPS.contains(&last) {
            let ms = if last == "setTimeout" && a.len() >= 2 {
                crate::lang::number(self.t(a[1]))
            } else {
                a.first().and_then(|x| crate::lang::number(self.t(*x)))
            };
            if ms.is_some_and(|v| v >= 10.0) {
                let shown = if last == "setTimeout" && a.len() >= 2 {
                    format!("`setTimeout(…, {})`", self.t(a[1]))
                } else {
                    format!("`{ft}({})`", a.first().map_or("", |x| self.t(*x)))
                };
                self.hits.push(Cx::hit(&SLEEP_WAIT, call, shown));
            }
        }
        // Network.
        let net_callee = matches!(
            base,
            "fetch"
                | "axios"
                | "got"
                | "http"
                | "https"
                | "request"
                | "superagent"
                | "needle"
                | "ky"
                | "undici"
                | "$fetch"
                | "ofetch"
                | "page"
        ) && (base != "page" || last == "goto");
        if net_callee
            && !env.net_stub
            && let Some(u) = a.first().and_then(|x| literal(self.cx.src, *x))
            && let Some(host) = crate::lang::remote_url(&u)
        {
            self.hits
                .push(Cx::hit(&REAL_NETWORK, call, format!("`{ft}(…)` to {host}")));
        }
        // Fixed temporary paths (not the parts of a path.join that is itself reported).
        if !matches!(ft, "path.join" | "path.resolve" | "join" | "resolve")
            || self.cx.tmp_value(call).is_none()
        {
            for x in &a {
                self.tmp_arg(*x, ft);
            }
        }
        if ft == "jest.retryTimes" || ft == "this.retries" {
            self.hits
                .push(Cx::hit(&RETRY_MARKER, call, format!("`{ft}(…)`")));
        }
        // Polling helpers count as loops for the sleeps inside them.
        // `cart.add(x)` with a random or clock value: `cart` holds it now.
        if f.kind() == "member_expression"
            && let Some(o) = f.child_by_field_name("object")
            && o.kind() == "identifier"
        {
            let mut bits = 0;
            let mut origin = None;
            for x in &a {
                let (b, og) = self.eval(*x, 0);
                bits |= b & (taint::RANDOM | taint::WALL);
                origin = origin.or(og);
            }
            if let Some(mut og) = origin.filter(|_| bits != 0) {
                let name = self.t(o).to_string();
                og.bits = bits | self.taints.get(&name).map_or(0, |t| t.bits);
                self.taints.entry(name).or_insert(og);
            }
        }
        if let Some(assertion) = self.assertion(call, f, base, last) {
            self.check(call, assertion);
        }
        let lower = last.to_ascii_lowercase();
        if [
            "waitfor",
            "poll",
            "retry",
            "eventually",
            "until",
            "setinterval",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            self.loops += 1;
            for x in &a {
                self.walk(*x, 1);
            }
            self.loops -= 1;
            return true;
        }
        false
    }

    /// `expect(actual)…matcher(expected)` or `assert.x(actual, expected)`.
    fn assertion<'n>(
        &self,
        call: Node<'n>,
        f: Node<'n>,
        base: &str,
        last: &str,
    ) -> Option<Assertion<'n>> {
        let a = args(call);
        if base == "assert" || base == "t" && f.kind() == "member_expression" {
            let kind = if f.kind() == "identifier" || matches!(last, "ok" | "true" | "isTrue") {
                Kind::Truthy
            } else if UPPER.contains(&last) {
                Kind::Upper
            } else if EQUAL.contains(&last) {
                Kind::Equal
            } else {
                return None;
            };
            return Some(Assertion {
                actual: *a.first()?,
                expected: a.get(1).copied(),
                kind,
            });
        }
        if f.kind() != "member_expression" {
            return None;
        }
        // Down the chain to `expect(...)`.
        let mut o = f.child_by_field_name("object")?;
        for _ in 0..8 {
            match o.kind() {
                "call_expression" => {
                    let g = o.child_by_field_name("function")?;
                    if matches!(self.t(g), "expect" | "expect.soft" | "chai.expect") {
                        let actual = *args(o).first()?;
                        let kind = if UPPER.contains(&last) {
                            Kind::Upper
                        } else if EQUAL.contains(&last) {
                            Kind::Equal
                        } else if matches!(last, "toBeTruthy" | "true" | "ok") {
                            Kind::Truthy
                        } else {
                            return None;
                        };
                        let snapshot = last.contains("Snapshot");
                        let expected = a.first().copied();
                        if kind == Kind::Equal && expected.is_some_and(|e| self.t(e) == "true") {
                            return Some(Assertion {
                                actual,
                                expected: None,
                                kind: Kind::Truthy,
                            });
                        }
                        return Some(Assertion {
                            actual,
                            expected,
                            kind: if snapshot { Kind::Snapshot } else { kind },
                        });
                    }
                    return None;
                }
                "member_expression" => o = o.child_by_field_name("object")?,
                _ => return None,
            }
        }
        None
    }

    fn report(&mut self, rule: &'static Rule, at: Node, origin: Option<Origin>, what: &str) {
        let (line, col, end_col) = origin.as_ref().map_or_else(|| span(at), |o| o.span);
        let detail =
            origin.map_or_else(|| format!("`{}`", self.t(at)), |o| format!("`{}`", o.text));
        let (aline, ..) = span(at);
        let detail = if aline == line {
            format!("{detail} {what}")
        } else {
            format!("{detail} {what} (line {aline})")
        };
        self.hits.push(Hit {
            rule,
            line,
            col,
            end_col,
            detail,
            guard: None,
            pedantic: false,
            in_cwd: false,
        });
    }

    fn check(&mut self, call: Node, asn: Assertion) {
        let (ab, ao) = self.eval(asn.actual, 0);
        let (eb, eo) = asn.expected.map_or((0, None), |e| self.eval(e, 0));
        // A comparison inside `assert(x < y)` / `expect(x < y).toBe(true)`.
        let cmp = (asn.kind == Kind::Truthy && asn.actual.kind() == "binary_expression")
            .then(|| {
                let op = asn
                    .actual
                    .child_by_field_name("operator")
                    .map_or("", |o| self.t(o));
                let l = asn.actual.child_by_field_name("left")?;
                let r = asn.actual.child_by_field_name("right")?;
                Some((op, l, r))
            })
            .flatten();
        // timing-assert: only upper bounds on a duration.
        let upper = match (asn.kind, cmp) {
            (Kind::Upper, _) => ab & taint::DURATION != 0 && eb & taint::DURATION == 0,
            (Kind::Truthy, Some((op, l, r))) => {
                let (lb, rb) = (self.eval(l, 0).0, self.eval(r, 0).0);
                (matches!(op, "<" | "<=") && lb & taint::DURATION != 0 && rb & taint::DURATION == 0)
                    || (matches!(op, ">" | ">=")
                        && rb & taint::DURATION != 0
                        && lb & taint::DURATION == 0)
            }
            _ => false,
        };
        // A budget of 5 s or more guards against a hang; it is not a timing test.
        let bound = match (asn.kind, cmp) {
            (Kind::Upper, _) => asn.expected,
            (_, Some((op, l, r))) => Some(if matches!(op, "<" | "<=") { r } else { l }),
            _ => None,
        };
        let generous = bound
            .and_then(|b| crate::lang::number(self.t(b)))
            .is_some_and(|ms| ms >= 5000.0);
        if upper && !generous {
            self.report(
                &TIMING_ASSERT,
                call,
                None,
                "bounds a measured duration from above",
            );
        }
        // The two sides compared for equality.
        let sides = match (asn.kind, cmp) {
            (Kind::Equal | Kind::Snapshot, _) => Some((asn.actual, asn.expected)),
            (Kind::Truthy, Some(("==" | "===" | "!=" | "!==", l, r))) => Some((l, Some(r))),
            _ => None,
        };
        let Some((l, r)) = sides else { return };
        let (lb, lo) = if cmp.is_some() {
            self.eval(l, 0)
        } else {
            (ab, ao)
        };
        let (rb, ro) = match (cmp.is_some(), r) {
            (true, Some(r)) => self.eval(r, 0),
            _ => (eb, eo),
        };
        let r_fixed = asn.kind == Kind::Snapshot || r.is_some_and(|r| self.fixed(r));
        let l_fixed = self.fixed(l);
        // unseeded-random: random on one side only (a round trip holds for any value).
        if (lb ^ rb) & taint::RANDOM != 0 {
            let origin = if lb & taint::RANDOM != 0 {
                lo.clone()
            } else {
                ro.clone()
            };
            self.report(
                &UNSEEDED_RANDOM,
                call,
                origin,
                "reaches an assertion that compares it with a value of another origin",
            );
        }
        // wall-clock-compare: the wall clock against a fixed value.
        let wall = |b: u8| b & taint::WALL != 0 && b & taint::DURATION == 0;
        if (wall(lb) && r_fixed) || (wall(rb) && l_fixed) {
            let origin = if wall(lb) { lo } else { ro };
            self.report(&WALL_CLOCK, call, origin, "is compared with a fixed value");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `toBeLessThan`, `isBelow`, …
    Upper,
    /// `toBe`, `toEqual`, `equal`, …
    Equal,
    /// `toMatchSnapshot`: compared with a stored, fixed value.
    Snapshot,
    /// `assert(x)`, `toBeTruthy()`, `toBe(true)`.
    Truthy,
}

struct Assertion<'a> {
    actual: Node<'a>,
    expected: Option<Node<'a>>,
    kind: Kind,
}

/// Parses one test file and runs the JavaScript/TypeScript rules over its tests.
pub fn analyse(src: &[u8], dialect: Dialect) -> Result<FileFacts, String> {
    let mut parser = Parser::new();
    let lang: tree_sitter::Language = match dialect {
        Dialect::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        Dialect::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        Dialect::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
    };
    parser
        .set_language(&lang)
        .map_err(|e| format!("cannot load the JavaScript/TypeScript grammar: {e}"))?;
    let tree = crate::lang::parse_bounded(&mut parser, src)
        .ok_or_else(|| "the parser gave up".to_string())?;
    let root = tree.root_node();
    // Pass 1: suppressions and the file-wide switches.
    let mut sup = Suppressions::default();
    let mut env = Env::default();
    let mut stack = vec![(root, 0usize)];
    while let Some((n, depth)) = stack.pop() {
        match n.kind() {
            "comment" => {
                sup.add(n, text(src, n));
                continue;
            }
            "import_statement" => {
                if let Some(s) = n.child_by_field_name("source") {
                    note_module(&mut env, &literal(src, s).unwrap_or_default());
                }
            }
            "call_expression" => {
                let f = n
                    .child_by_field_name("function")
                    .map_or("", |f| text(src, f));
                let a = args(n);
                let first = a.first().and_then(|x| literal(src, *x)).unwrap_or_default();
                match f {
                    "require" | "jest.mock" | "vi.mock" | "jest.unstable_mockModule" => {
                        note_module(&mut env, &first);
                        if f != "require"
                            && matches!(
                                first.as_str(),
                                "axios" | "node-fetch" | "got" | "cross-fetch" | "undici"
                            )
                        {
                            env.net_stub = true;
                        }
                    }
                    "jest.useFakeTimers"
                    | "vi.useFakeTimers"
                    | "sinon.useFakeTimers"
                    | "jest.setSystemTime"
                    | "vi.setSystemTime"
                    | "MockDate.set"
                    | "tk.freeze"
                    | "timekeeper.freeze"
                    | "cy.clock"
                    | "FakeTimers.install"
                    | "FakeTimers.withGlobal"
                    | "useFakeTimers"
                    | "mock.timers.enable" => {
                        env.fake_clock = true;
                    }
                    "faker.seed" | "seedrandom" | "faker.setDefaultRefDate" => env.seeded = true,
                    "jest.spyOn" | "vi.spyOn" | "sinon.stub" => {
                        let t = text(src, n);
                        if t.contains("Math") && t.contains("random") {
                            env.seeded = true;
                        }
                        if t.contains("fetch") {
                            env.net_stub = true;
                        }
                    }
                    _ => {}
                }
            }
            "assignment_expression" => {
                let l = n.child_by_field_name("left").map_or("", |l| text(src, l));
                if matches!(l, "Math.random") {
                    env.seeded = true;
                }
                if l.ends_with(".fetch") || l == "fetch" {
                    env.net_stub = true;
                }
            }
            _ => {}
        }
        if depth < MAX_DEPTH {
            for k in named(n) {
                stack.push((k, depth + 1));
            }
        }
    }
    let mut cx = Cx {
        src,
        env,
        shared: HashMap::new(),
        tests: Vec::new(),
        scoped: Vec::new(),
    };
    cx.block(&named(root), &[], 0);
    // Findings per place, with the tests that reach them.
    let mut out: Vec<TestHit> = Vec::new();
    let mut add = |tests: Vec<String>, hit: Hit, related: Option<(u32, u32, String)>| {
        if tests.is_empty() || sup.hides(hit.rule.id, hit.line) {
            return;
        }
        if let Some(e) = out.iter_mut().find(|e| {
            e.hit.rule.id == hit.rule.id && e.hit.line == hit.line && e.hit.col == hit.col
        }) {
            for t in tests {
                if !e.tests.contains(&t) {
                    e.tests.push(t);
                }
            }
            return;
        }
        let fix = fix_for(hit.rule.id);
        out.push(TestHit {
            tests,
            hit,
            related,
            fix,
        });
    };
    for t in &cx.tests {
        for h in &t.hits {
            add(vec![t.name.clone()], h.clone(), None);
        }
        for r in &t.refs {
            if let Some(Shared {
                tmp: Some((sp, shown)),
                ..
            }) = cx.shared.get(r)
            {
                let hit = Hit {
                    rule: &FIXED_TMP_PATH,
                    line: sp.0,
                    col: sp.1,
                    end_col: sp.2,
                    detail: format!("`{shown}` (`{r}`)"),
                    guard: None,
                    pedantic: false,
                    in_cwd: false,
                };
                add(vec![t.name.clone()], hit, None);
            }
        }
    }
    for (from, to, h) in &cx.scoped {
        let tests: Vec<String> = cx.tests[*from..*to]
            .iter()
            .map(|t| t.name.clone())
            .collect();
        add(tests, h.clone(), None);
    }
    // Shared state: a test that reads what another changes.
    let mut names: Vec<&String> = cx.shared.keys().collect();
    names.sort();
    for name in names {
        let s = &cx.shared[name];
        if !s.mutable || s.managed {
            continue;
        }
        let changers: Vec<(&Test, (u32, u32, u32))> = cx
            .tests
            .iter()
            .filter_map(|t| t.state.get(name).and_then(|e| e.2).map(|sp| (t, sp)))
            .collect();
        for t in &cx.tests {
            let Some((first, sp, _)) = t.state.get(name) else {
                continue;
            };
            if *first == Access::Write {
                continue;
            }
            let Some((other, at)) = changers.iter().find(|(o, _)| o.name != t.name) else {
                continue;
            };
            let hit = Hit {
                rule: &SHARED_STATE,
                line: sp.0,
                col: sp.1,
                end_col: sp.2,
                detail: format!(
                    "reads `{name}`, which `{}` changes (line {}) and no hook resets",
                    other.name, at.0
                ),
                guard: None,
                pedantic: false,
                in_cwd: false,
            };
            let related = Some((
                at.0,
                at.1,
                format!("`{}` changes `{name}` here", other.name),
            ));
            add(vec![t.name.clone()], hit, related);
        }
    }
    out.sort_by_key(|e| (e.hit.line, e.hit.col, e.hit.rule.id));
    Ok(FileFacts {
        hits: out,
        tests: cx.tests.len(),
        syntax_error: root.has_error(),
    })
}

fn note_module(env: &mut Env, m: &str) {
    if matches!(
        m,
        "nock"
            | "msw"
            | "msw/node"
            | "fetch-mock"
            | "jest-fetch-mock"
            | "vitest-fetch-mock"
            | "axios-mock-adapter"
            | "@pollyjs/core"
            | "undici-mock"
            | "mock-socket"
            | "jest-websocket-mock"
    ) {
        env.net_stub = true;
    }
    if matches!(
        m,
        "mockdate" | "timekeeper" | "@sinonjs/fake-timers" | "jest-date-mock"
    ) {
        env.fake_clock = true;
    }
    if m == "seedrandom" {
        env.seeded = true;
    }
}

/// The fix in JavaScript's words.
fn fix_for(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "sleep-wait" => {
            "wait for the condition with a timeout (`await waitFor(…)`, `expect.poll`, an event or promise) or use fake timers (`jest.useFakeTimers()`)"
        }
        "unseeded-random" => {
            "use fixed inputs, seed the generator (`faker.seed(…)`, seedrandom) or stub `Math.random`"
        }
        "wall-clock-compare" => {
            "freeze the clock (`jest.useFakeTimers().setSystemTime(…)`, `vi.setSystemTime`) or pass the date in; compare in UTC"
        }
        "timing-assert" => {
            "assert on the work done, not wall time; or use fake timers, or give the budget a generous margin in a benchmark"
        }
        "real-network" => {
            "stub the service (msw, nock, a local server on port 0) or mark the test as needing the network"
        }
        "fixed-tmp-path" => {
            "use a directory of the test's own: `fs.mkdtempSync(path.join(os.tmpdir(), 'name-'))`"
        }
        "shared-module-state" => {
            "reset the state in `beforeEach`/`afterEach`, or build fresh state inside each test"
        }
        "retry-marker" => "find the cause (`flakehound diagnose`), fix it, then drop the retries",
        _ => return None,
    })
}
