//! Rust: `.rs` files parsed with tree-sitter-rust; the tests are functions with a test attribute
//! (`#[test]`, `#[tokio::test]`, `#[rstest]`, `#[test_case(…)]`, …), in nested `mod`s. Macro
//! arguments (`assert_eq!(…)`, `vec![…]`, `format!(…)`) are token trees to tree-sitter: they are
//! parsed again as an argument list, so the rules see inside assertions. Rules:
//!
//! - `sleep-wait`: `thread::sleep`/`tokio::time::sleep` of a literal `Duration` of 10 ms or more,
//!   outside loops; not under a paused tokio clock;
//! - `unseeded-random`: `rand::random`, `thread_rng()`/`rand::rng()`, `from_entropy`, `fastrand`
//!   whose value reaches an assertion comparing it with a value of another origin (a round trip
//!   `assert_eq!(decode(encode(x)), x)` holds for any value and is not reported);
//! - `wall-clock-compare`: `SystemTime::now()`, chrono's `Utc::now()`/`Local::now()`, time's
//!   `OffsetDateTime::now_utc()` compared with a fixed value;
//! - `timing-assert`: an upper bound on a measured duration (`assert!(start.elapsed() <
//!   Duration::from_millis(50))`); lower bounds cannot fail on a slow machine;
//! - `real-network`: `reqwest`/`ureq`/`client.get(…)` with a literal URL outside the machine,
//!   `TcpStream::connect("host:port")`; not when the file uses mockito/wiremock/httpmock;
//! - `fixed-tmp-path`: a `"/tmp/…"` literal, `env::temp_dir().join("name")`;
//! - `shared-module-state`: a `static mut`, or a `static` `Mutex`/`RwLock`/atomic/`OnceLock`, or
//!   an environment variable (`env::set_var`), that one test changes and another reads: cargo
//!   runs the tests of a binary in parallel threads of one process;
//! - `thread-no-join`: `thread::spawn` whose handle is dropped or never used again;
//! - `set-order-assert`: a `HashMap`/`HashSet`'s iteration order (`keys()`, `iter()`, `{:?}`)
//!   asserted as a sequence, without sorting.
//!
//! Test ids are cargo's: the module path in the crate (`parser::tests::name`; integration test
//! files start at their own root), added by the caller from the file's place in the crate.

use crate::lang::{
    Access, FileFacts, MAX_DEPTH, Origin, Span, StateUse, Suppressions, TestHit, record_access,
    taint,
};
use crate::python::Hit;
use crate::rules::{
    FIXED_TMP_PATH, REAL_NETWORK, Rule, SET_ORDER_ASSERT, SHARED_STATE, SLEEP_WAIT, THREAD_NO_JOIN,
    TIMING_ASSERT, UNSEEDED_RANDOM, WALL_CLOCK,
};
use std::collections::HashMap;
use std::path::Path;
use tree_sitter::{Node, Parser, Tree};

/// Prefix of a macro's arguments parsed again as a call.
const PREFIX: &str = "fn __fh() { __fh(";
const SUFFIX: &str = "\n); }";

const MUTATORS: &[&str] = &[
    "store",
    "fetch_add",
    "fetch_sub",
    "fetch_or",
    "fetch_and",
    "fetch_xor",
    "fetch_max",
    "fetch_min",
    "fetch_update",
    "swap",
    "compare_exchange",
    "compare_exchange_weak",
    "set",
    "push",
    "push_str",
    "insert",
    "remove",
    "clear",
    "extend",
    "pop",
    "retain",
    "truncate",
    "append",
    "drain",
    "take",
    "replace",
];

/// Where a node's text lives: the file, or a macro's arguments parsed again (`shift` maps its
/// byte offsets back to the file).
#[derive(Clone, Copy)]
struct Frame<'s> {
    src: &'s [u8],
    shift: isize,
}

struct Test {
    name: String,
    hits: Vec<Hit>,
    state: HashMap<String, StateUse>,
}

struct W<'f> {
    file: &'f [u8],
    lines: &'f [usize],
    parser: Parser,
    statics: &'f HashMap<String, bool>,
    mocks_net: bool,
    paused: bool,
    loops: usize,
    taints: HashMap<String, Origin>,
    hits: Vec<Hit>,
    state: HashMap<String, StateUse>,
    /// Spawned threads bound to a name: (name, span of the spawn, used again).
    spawned: Vec<(String, Span, bool)>,
    /// Macros being parsed again, one inside the other (at most [`MAX_NEST`]).
    nest: usize,
}

/// Deepest macro-in-macro parsed again; deeper ones are opaque.
const MAX_NEST: usize = 6;

fn named(n: Node) -> Vec<Node> {
    let mut c = n.walk();
    n.named_children(&mut c).collect()
}

fn text<'s>(f: Frame<'s>, n: Node) -> &'s str {
    n.utf8_text(f.src).unwrap_or("")
}

fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The milliseconds of a literal duration: `Duration::from_millis(100)`, `from_secs(1)`, …
fn duration_ms(t: &str) -> Option<f64> {
    let t = compact(t);
    let (f, rest) = t.split_once('(')?;
    let arg = rest.strip_suffix(')')?;
    let v = crate::lang::number(arg)?;
    let unit = f.rsplit("::").next()?;
    Some(match unit {
        "from_secs" | "from_secs_f64" | "from_secs_f32" => v * 1000.0,
        "from_millis" => v,
        "from_micros" => v / 1000.0,
        "from_nanos" => v / 1_000_000.0,
        _ => return None,
    })
}

fn is_literal(kind: &str) -> bool {
    matches!(
        kind,
        "string_literal"
            | "raw_string_literal"
            | "integer_literal"
            | "float_literal"
            | "boolean_literal"
            | "char_literal"
    )
}

fn string_value(f: Frame, n: Node) -> Option<String> {
    matches!(n.kind(), "string_literal" | "raw_string_literal").then(|| {
        let t = text(f, n);
        let t = t.trim_start_matches('r').trim_matches('#');
        t.trim_matches('"').to_string()
    })
}

impl W<'_> {
    fn span(&self, f: Frame, n: Node) -> Span {
        let start = (n.start_byte() as isize + f.shift).max(0) as usize;
        let len = n.end_byte().saturating_sub(n.start_byte());
        let line = self.lines.partition_point(|&s| s <= start);
        let line_start = self.lines[line.saturating_sub(1)];
        let col = start - line_start + 1;
        let one_line = !self.file[start.min(self.file.len())..(start + len).min(self.file.len())]
            .contains(&b'\n');
        let end = if one_line { col + len } else { col + 1 };
        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        (c(line), c(col), c(end))
    }

    fn hit(&mut self, rule: &'static Rule, sp: Span, detail: String) {
        self.hits.push(Hit {
            rule,
            line: sp.0,
            col: sp.1,
            end_col: sp.2,
            detail,
            guard: None,
            pedantic: false,
            in_cwd: false,
        });
    }

    /// Parses a macro's token tree again as the arguments of a call; the tree and its frame.
    fn reparse<'s>(
        &mut self,
        f: Frame,
        tt: Node,
        buf: &'s mut Vec<u8>,
    ) -> Option<(Tree, Frame<'s>)> {
        let t = text(f, tt);
        if t.len() < 2 || t.len() > 64 * 1024 || self.nest >= MAX_NEST {
            return None;
        }
        let inner = t.get(1..t.len() - 1)?;
        buf.clear();
        buf.extend_from_slice(PREFIX.as_bytes());
        buf.extend_from_slice(inner.as_bytes());
        buf.extend_from_slice(SUFFIX.as_bytes());
        let tree = crate::lang::parse_bounded(&mut self.parser, &buf[..])?;
        let shift = f.shift + tt.start_byte() as isize + 1 - PREFIX.len() as isize;
        Some((tree, Frame { src: buf, shift }))
    }

    /// The argument nodes of a reparsed macro.
    fn macro_args<'t>(tree: &'t Tree) -> Vec<Node<'t>> {
        let mut out = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            if n.kind() == "arguments" {
                out = named(n);
                break;
            }
            stack.extend(named(n));
        }
        out
    }

    fn walk(&mut self, f: Frame, n: Node, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let kind = n.kind();
        let is_loop = matches!(
            kind,
            "loop_expression" | "while_expression" | "for_expression"
        );
        match kind {
            "let_declaration" => {
                if let Some(v) = n.child_by_field_name("value") {
                    self.walk(f, v, depth + 1);
                    let pat = n.child_by_field_name("pattern");
                    let name =
                        pat.map(|p| compact(text(f, p)).trim_start_matches("mut").to_string());
                    let ty = n
                        .child_by_field_name("type")
                        .map(|t| text(f, t))
                        .unwrap_or("");
                    if self.is_spawn(f, v) {
                        let sp = self.span(f, v);
                        match name.as_deref() {
                            Some("_") | None => self.hit(
                                &THREAD_NO_JOIN,
                                sp,
                                "`thread::spawn(…)` (handle dropped)".into(),
                            ),
                            Some(name) => self.spawned.push((name.to_string(), sp, false)),
                        }
                    }
                    if let Some(name) = name {
                        let (mut bits, origin) = self.eval(f, v, 0);
                        if ty.contains("HashMap") || ty.contains("HashSet") {
                            bits |= taint::HASH;
                        }
                        if ty.contains("BTree") || ty.contains("HashSet") || ty.contains("HashMap")
                        {
                            bits &= !taint::HASH_ORDER;
                        }
                        let origin = origin.or_else(|| {
                            (bits != 0).then(|| Origin {
                                bits,
                                span: self.span(f, v),
                                text: text(f, v).chars().take(60).collect(),
                            })
                        });
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
                    return;
                }
            }
            "expression_statement" => {
                if let Some(e) = n.named_child(0)
                    && self.is_spawn(f, e)
                {
                    let sp = self.span(f, e);
                    self.hit(
                        &THREAD_NO_JOIN,
                        sp,
                        "`thread::spawn(…)` (handle dropped)".into(),
                    );
                }
            }
            "call_expression" => self.call(f, n),
            "macro_invocation" => {
                self.mac(f, n, depth);
                return;
            }
            "identifier" => {
                self.ident(f, n);
                return;
            }
            "assignment_expression" => {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) && l.kind() == "identifier"
                {
                    self.walk(f, r, depth + 1);
                    let name = text(f, l).to_string();
                    if self.statics.contains_key(&name) {
                        self.access(&name, Access::Write, self.span(f, l));
                    }
                    let (bits, o) = self.eval(f, r, 0);
                    match o {
                        Some(mut o) if bits != 0 => {
                            o.bits = bits;
                            self.taints.insert(name, o);
                        }
                        _ => {
                            self.taints.remove(&name);
                        }
                    }
                    return;
                }
            }
            _ => {}
        }
        self.loops += usize::from(is_loop);
        for k in named(n) {
            self.walk(f, k, depth + 1);
        }
        self.loops -= usize::from(is_loop);
    }

    fn is_spawn(&self, f: Frame, n: Node) -> bool {
        n.kind() == "call_expression"
            && n.child_by_field_name("function").is_some_and(|g| {
                matches!(
                    compact(text(f, g)).as_str(),
                    "std::thread::spawn" | "thread::spawn"
                )
            })
    }

    fn access(&mut self, name: &str, kind: Access, sp: Span) {
        record_access(&mut self.state, name, kind, sp);
    }

    fn ident(&mut self, f: Frame, id: Node) {
        let name = text(f, id);
        for s in &mut self.spawned {
            if s.0 == name {
                s.2 = true;
            }
        }
        let Some(&mutable) = self.statics.get(name) else {
            return;
        };
        if !mutable {
            return;
        }
        // Up the chain `X.lock().unwrap().push(…)`, `X.fetch_add(…)`, `X[0] = …`.
        let mut kind = Access::Read;
        let mut cur = id;
        for _ in 0..12 {
            let Some(p) = cur.parent() else { break };
            match p.kind() {
                "field_expression" => {
                    let field = p.child_by_field_name("field").map_or("", |x| text(f, x));
                    if MUTATORS.contains(&field) {
                        kind = Access::Mutate;
                        break;
                    }
                }
                "call_expression"
                | "try_expression"
                | "index_expression"
                | "reference_expression"
                | "unary_expression"
                | "parenthesized_expression" => {}
                "assignment_expression" | "compound_assignment_expr" => {
                    if p.child_by_field_name("left") == Some(cur) {
                        kind = Access::Mutate;
                    }
                    break;
                }
                _ => break,
            }
            cur = p;
        }
        let sp = self.span(f, id);
        self.access(name, kind, sp);
    }

    fn call(&mut self, f: Frame, call: Node) {
        let Some(g) = call.child_by_field_name("function") else {
            return;
        };
        let ft = compact(text(f, g));
        let args = call
            .child_by_field_name("arguments")
            .map(named)
            .unwrap_or_default();
        let last = ft.rsplit([':', '.']).next().unwrap_or("");
        // `cart.add(x)` with a random or clock value: `cart` holds it now.
        if g.kind() == "field_expression"
            && let Some(o) = g.child_by_field_name("value")
            && o.kind() == "identifier"
        {
            let mut bits = 0;
            let mut origin = None;
            for a in &args {
                let (b, og) = self.eval(f, *a, 0);
                bits |= b & (taint::RANDOM | taint::WALL);
                origin = origin.or(og);
            }
            if let Some(mut og) = origin.filter(|_| bits != 0) {
                let name = text(f, o).to_string();
                og.bits = bits | self.taints.get(&name).map_or(0, |t| t.bits);
                self.taints.entry(name).or_insert(og);
            }
        }
        // Sleeps.
        if matches!(
            ft.as_str(),
            "std::thread::sleep"
                | "thread::sleep"
                | "sleep"
                | "tokio::time::sleep"
                | "time::sleep"
                | "async_std::task::sleep"
                | "task::sleep"
        ) && self.loops == 0
            && !self.paused
            && let Some(a) = args.first()
            && duration_ms(text(f, *a)).is_some_and(|ms| ms >= 10.0)
        {
            let sp = self.span(f, call);
            self.hit(
                &SLEEP_WAIT,
                sp,
                format!("`{}({})`", ft, compact(text(f, *a))),
            );
        }
        if ft.ends_with("time::pause") {
            self.paused = true;
        }
        // `v.sort()`: `v` is no longer in hash order.
        if last.starts_with("sort")
            && g.kind() == "field_expression"
            && let Some(o) = g.child_by_field_name("value")
            && let Some(t) = self.taints.get_mut(text(f, o))
        {
            t.bits &= !taint::HASH_ORDER;
        }
        // Network: a path call (`reqwest::get`, `TcpStream::connect`) or a method of an HTTP
        // client (`client.get(…)`), not `map.get("https://…")`.
        let receiver = ft
            .rsplit_once('.')
            .map_or("", |(r, _)| r)
            .to_ascii_lowercase();
        let http_call = g.kind() == "scoped_identifier"
            || [
                "client", "reqwest", "ureq", "http", "agent", "hyper", "surf",
            ]
            .iter()
            .any(|c| receiver.contains(c));
        if !self.mocks_net
            && http_call
            && matches!(
                last,
                "get"
                    | "post"
                    | "put"
                    | "patch"
                    | "delete"
                    | "head"
                    | "request"
                    | "connect"
                    | "call"
            )
            && let Some(s) = args.first().and_then(|a| string_value(f, *a))
        {
            let host = if last == "connect" && !s.contains("://") {
                let h = crate::lang::host_of(&s);
                (!crate::lang::is_local(&h) && h.contains('.')).then_some(h)
            } else {
                crate::lang::remote_url(&s)
            };
            if let Some(host) = host {
                let sp = self.span(f, call);
                self.hit(&REAL_NETWORK, sp, format!("`{ft}(…)` to {host}"));
            }
        }
        // Fixed temporary paths.
        for a in &args {
            if let Some(s) = string_value(f, *a)
                && crate::lang::is_tmp_path(&s)
            {
                let sp = self.span(f, *a);
                self.hit(&FIXED_TMP_PATH, sp, format!("`\"{s}\"`"));
            }
        }
        if last == "join"
            && ft.contains("temp_dir()")
            && args.len() == 1
            && string_value(f, args[0]).is_some()
        {
            let sp = self.span(f, call);
            self.hit(&FIXED_TMP_PATH, sp, format!("`{}`", compact(text(f, call))));
        }
        // Environment variables are process-wide state.
        let key = args.first().and_then(|a| string_value(f, *a));
        if let Some(k) = key {
            let sp = self.span(f, call);
            if ft.ends_with("set_var") || ft.ends_with("remove_var") {
                self.access(&format!("env:{k}"), Access::Mutate, sp);
            } else if matches!(
                ft.as_str(),
                "env::var" | "std::env::var" | "env::var_os" | "std::env::var_os"
            ) {
                self.access(&format!("env:{k}"), Access::Read, sp);
            }
        }
    }

    fn mac(&mut self, f: Frame, n: Node, depth: usize) {
        let name = n
            .child_by_field_name("macro")
            .map(|m| text(f, m))
            .unwrap_or("");
        let name = name.rsplit("::").next().unwrap_or(name).to_string();
        if name == "macro_rules" {
            return;
        }
        let Some(tt) = named(n).into_iter().find(|k| k.kind() == "token_tree") else {
            return;
        };
        let mut buf = Vec::new();
        let Some((tree, inner)) = self.reparse(f, tt, &mut buf) else {
            return;
        };
        let args = Self::macro_args(&tree);
        self.nest += 1;
        if name.contains("assert") {
            self.check(f, n, &name, inner, &args);
        }
        for a in args {
            self.walk(inner, a, depth + 1);
        }
        self.nest -= 1;
    }

    fn source(&self, f: Frame, n: Node, bits: u8) -> (u8, Option<Origin>) {
        (
            bits,
            Some(Origin {
                bits,
                span: self.span(f, n),
                text: compact(text(f, n)).chars().take(60).collect(),
            }),
        )
    }

    fn eval(&mut self, f: Frame, n: Node, depth: usize) -> (u8, Option<Origin>) {
        if depth > 60 {
            return (0, None);
        }
        match n.kind() {
            "identifier" => {
                return self
                    .taints
                    .get(text(f, n))
                    .map_or((0, None), |o| (o.bits, Some(o.clone())));
            }
            "closure_expression" => return (0, None),
            "macro_invocation" => {
                let name = n
                    .child_by_field_name("macro")
                    .map(|m| text(f, m))
                    .unwrap_or("");
                let fmt = matches!(name, "format" | "format_args" | "write" | "writeln");
                let Some(tt) = named(n).into_iter().find(|k| k.kind() == "token_tree") else {
                    return (0, None);
                };
                let mut buf = Vec::new();
                let Some((tree, inner)) = self.reparse(f, tt, &mut buf) else {
                    return (0, None);
                };
                let mut bits = 0;
                let mut origin = None;
                self.nest += 1;
                for a in Self::macro_args(&tree) {
                    let (b, o) = self.eval(inner, a, depth + 1);
                    bits |= b;
                    origin = origin.or(o);
                }
                self.nest -= 1;
                if fmt && bits & taint::HASH != 0 {
                    bits |= taint::HASH_ORDER;
                }
                return (bits, origin);
            }
            "call_expression" => {
                let g = n.child_by_field_name("function");
                let ft = g.map(|g| compact(text(f, g))).unwrap_or_default();
                let path = ft.split("::<").next().unwrap_or("").to_string();
                let last = path.rsplit([':', '.']).next().unwrap_or("").to_string();
                let args: Vec<Node> = n
                    .child_by_field_name("arguments")
                    .map(named)
                    .unwrap_or_default();
                if last == "seed_from_u64" || last == "from_seed" {
                    return (0, None);
                }
                if matches!(
                    path.as_str(),
                    "rand::random" | "random" | "thread_rng" | "rand::thread_rng" | "rand::rng"
                ) || last == "from_entropy"
                    || last == "from_os_rng"
                    || (path.starts_with("fastrand::") && last != "seed")
                {
                    return self.source(f, n, taint::RANDOM);
                }
                if path.ends_with("SystemTime::now")
                    || path.ends_with("Utc::now")
                    || path.ends_with("Local::now")
                    || path.ends_with("Local::today")
                    || path.ends_with("Utc::today")
                    || path.ends_with("OffsetDateTime::now_utc")
                    || path.ends_with("OffsetDateTime::now_local")
                    || path.ends_with("Zoned::now")
                    || path.ends_with("Timestamp::now")
                {
                    return self.source(f, n, taint::WALL | taint::CLOCK);
                }
                if path.ends_with("Instant::now") && !self.paused {
                    return self.source(f, n, taint::CLOCK);
                }
                if path.starts_with("HashMap::") || path.starts_with("HashSet::") {
                    return self.source(f, n, taint::HASH);
                }
                let (mut bits, mut origin) = match g {
                    Some(g) => self.eval(f, g, depth + 1),
                    None => (0, None),
                };
                let mut arg_bits = 0;
                for a in &args {
                    let (b, o) = self.eval(f, *a, depth + 1);
                    arg_bits |= b;
                    origin = origin.or(o);
                }
                match last.as_str() {
                    "elapsed" if bits & taint::CLOCK != 0 => {
                        bits = (bits & !(taint::WALL | taint::CLOCK)) | taint::DURATION;
                    }
                    "duration_since" | "signed_duration_since"
                        if bits & taint::CLOCK != 0 && arg_bits & taint::CLOCK != 0 =>
                    {
                        bits = (bits & !(taint::WALL | taint::CLOCK)) | taint::DURATION;
                        arg_bits = 0;
                    }
                    "keys" | "values" | "iter" | "into_iter" | "drain" | "values_mut"
                    | "iter_mut" | "into_keys" | "into_values"
                        if bits & taint::HASH != 0 =>
                    {
                        bits = (bits & !taint::HASH) | taint::HASH_ORDER;
                    }
                    "len" | "count" | "is_empty" | "contains" | "contains_key" | "get" | "sum"
                    | "min" | "max" | "any" | "all" | "product" => {
                        bits &= !(taint::HASH | taint::HASH_ORDER);
                    }
                    l if l.starts_with("sort") => bits &= !taint::HASH_ORDER,
                    "collect" => {
                        if ft.contains("BTree") || ft.contains("HashSet") || ft.contains("HashMap")
                        {
                            bits &= !taint::HASH_ORDER;
                        }
                        if ft.contains("HashSet") || ft.contains("HashMap") {
                            bits |= taint::HASH;
                        }
                    }
                    _ => {}
                }
                return (bits | arg_bits, origin);
            }
            "binary_expression" => {
                let op = n.child_by_field_name("operator").map_or("", |o| text(f, o));
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    let (lb, lo) = self.eval(f, l, depth + 1);
                    let (rb, ro) = self.eval(f, r, depth + 1);
                    if op == "-" && lb & taint::CLOCK != 0 && rb & taint::CLOCK != 0 {
                        let keep = (lb | rb) & !(taint::WALL | taint::CLOCK);
                        return (keep | taint::DURATION, lo.or(ro));
                    }
                    return (lb | rb, lo.or(ro));
                }
            }
            _ => {}
        }
        let mut bits = 0;
        let mut origin = None;
        for k in named(n) {
            let (b, o) = self.eval(f, k, depth + 1);
            bits |= b;
            origin = origin.or(o);
        }
        (bits, origin)
    }

    fn fixed(&mut self, f: Frame, n: Node) -> bool {
        fn has_literal(n: Node, depth: usize) -> bool {
            depth < 40
                && (is_literal(n.kind()) || named(n).into_iter().any(|k| has_literal(k, depth + 1)))
        }
        has_literal(n, 0) && self.eval(f, n, 0).0 == 0
    }

    fn report(&mut self, rule: &'static Rule, at: Span, origin: Option<Origin>, what: &str) {
        let (sp, shown) = match origin {
            Some(o) => (o.span, o.text),
            None => (at, String::new()),
        };
        let detail = match (shown.is_empty(), sp.0 == at.0) {
            (true, _) => what.to_string(),
            (false, true) => format!("`{shown}` {what}"),
            (false, false) => format!("`{shown}` {what} (line {})", at.0),
        };
        self.hit(rule, sp, detail);
    }

    /// `assert_eq!(l, r)`, `assert!(l < r)`, `assert!(l == r)`.
    fn check(&mut self, outer: Frame, mac: Node, name: &str, f: Frame, args: &[Node]) {
        let at = self.span(outer, mac);
        let mut cmp: Option<(String, Node, Node)> = None;
        if name.contains("_eq") || name.contains("_ne") {
            if let (Some(l), Some(r)) = (args.first(), args.get(1)) {
                cmp = Some(("==".into(), *l, *r));
            }
        } else if let Some(c) = args.first()
            && c.kind() == "binary_expression"
            && let (Some(l), Some(r)) = (
                c.child_by_field_name("left"),
                c.child_by_field_name("right"),
            )
        {
            let op = c.child_by_field_name("operator").map_or("", |o| text(f, o));
            cmp = Some((op.to_string(), l, r));
        }
        let Some((op, l, r)) = cmp else { return };
        let (lb, lo) = self.eval(f, l, 0);
        let (rb, ro) = self.eval(f, r, 0);
        let upper = (matches!(op.as_str(), "<" | "<=")
            && lb & taint::DURATION != 0
            && rb & taint::DURATION == 0)
            || (matches!(op.as_str(), ">" | ">=")
                && rb & taint::DURATION != 0
                && lb & taint::DURATION == 0);
        // A budget of 5 s or more guards against a hang; it is not a timing test.
        let (dur, bound) = if matches!(op.as_str(), "<" | "<=") {
            (l, r)
        } else {
            (r, l)
        };
        let bound_ms = duration_ms(text(f, bound)).or_else(|| {
            let v = crate::lang::number(text(f, bound))?;
            let d = compact(text(f, dur));
            if d.ends_with("as_secs()") || d.ends_with("as_secs_f64()") {
                Some(v * 1000.0)
            } else if d.ends_with("as_millis()") {
                Some(v)
            } else {
                None
            }
        });
        if upper && bound_ms.is_none_or(|ms| ms < 5000.0) {
            self.report(
                &TIMING_ASSERT,
                at,
                None,
                "an upper bound on a measured duration",
            );
        }
        if !matches!(op.as_str(), "==" | "!=") {
            return;
        }
        if (lb ^ rb) & taint::RANDOM != 0 {
            let o = if lb & taint::RANDOM != 0 {
                lo.clone()
            } else {
                ro.clone()
            };
            self.report(
                &UNSEEDED_RANDOM,
                at,
                o,
                "reaches an assertion that compares it with a value of another origin",
            );
        }
        let wall = |b: u8| b & taint::WALL != 0 && b & taint::DURATION == 0;
        let (lf, rf) = (self.fixed(f, l), self.fixed(f, r));
        if (wall(lb) && rf) || (wall(rb) && lf) {
            let o = if wall(lb) { lo.clone() } else { ro.clone() };
            self.report(&WALL_CLOCK, at, o, "is compared with a fixed value");
        }
        if (lb ^ rb) & taint::HASH_ORDER != 0 {
            let o = if lb & taint::HASH_ORDER != 0 { lo } else { ro };
            self.report(
                &SET_ORDER_ASSERT,
                at,
                o,
                "in its iteration order is asserted as a sequence",
            );
        }
    }
}

/// A test attribute: `#[test]`, `#[tokio::test(…)]`, `#[rstest]`, `#[test_case(…)]`, ….
fn test_attr(attr: &str) -> bool {
    let inner = attr
        .trim_start_matches("#[")
        .split(['(', ']'])
        .next()
        .unwrap_or("");
    let last = inner.rsplit("::").next().unwrap_or("").trim();
    matches!(
        last,
        "test" | "rstest" | "test_case" | "wasm_bindgen_test" | "quickcheck"
    )
}

/// Whether a path is a Rust source file to scan (not under `target/`).
pub fn is_rust_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "rs")
}

/// Parses one Rust file and runs the Rust rules over its tests.
pub fn analyse(src: &[u8]) -> Result<FileFacts, String> {
    let lang: tree_sitter::Language = tree_sitter_rust::LANGUAGE.into();
    let mut parser = Parser::new();
    parser
        .set_language(&lang)
        .map_err(|e| format!("cannot load the Rust grammar: {e}"))?;
    let tree = crate::lang::parse_bounded(&mut parser, src)
        .ok_or_else(|| "the parser gave up".to_string())?;
    let root = tree.root_node();
    let file = Frame { src, shift: 0 };
    // Pass 1: comments, statics, test functions (with their module path), mocks.
    let mut sup = Suppressions::default();
    let mut statics: HashMap<String, bool> = HashMap::new();
    let mut fns: Vec<(String, Node, bool)> = Vec::new();
    let mut stack: Vec<(Node, Vec<String>, usize)> = vec![(root, Vec::new(), 0)];
    let whole = String::from_utf8_lossy(src);
    let mocks_net = ["mockito", "wiremock", "httpmock", "MockServer"]
        .iter()
        .any(|m| whole.contains(m));
    while let Some((n, path, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            continue;
        }
        match n.kind() {
            "line_comment" | "block_comment" => {
                sup.add(n, text(file, n));
                continue;
            }
            "static_item" => {
                if let Some(name) = n.child_by_field_name("name") {
                    let is_mut = named(n).iter().any(|k| k.kind() == "mutable_specifier");
                    let ty = n.child_by_field_name("type").map_or("", |t| text(file, t));
                    let interior = [
                        "Mutex", "RwLock", "Atomic", "RefCell", "Cell", "OnceLock", "OnceCell",
                        "Lazy",
                    ]
                    .iter()
                    .any(|m| ty.contains(m));
                    statics.insert(text(file, name).to_string(), is_mut || interior);
                }
                continue;
            }
            "function_item" => {
                let mut is_test = false;
                let mut paused = false;
                let mut prev = n.prev_named_sibling();
                while let Some(p) = prev {
                    match p.kind() {
                        "attribute_item" => {
                            let t = compact(text(file, p));
                            is_test |= test_attr(&t);
                            paused |= t.contains("start_paused=true");
                        }
                        "line_comment" | "block_comment" => {}
                        _ => break,
                    }
                    prev = p.prev_named_sibling();
                }
                if is_test && let Some(name) = n.child_by_field_name("name") {
                    let mut p = path.clone();
                    p.push(text(file, name).to_string());
                    fns.push((p.join("::"), n, paused));
                }
            }
            "mod_item" => {
                if let (Some(name), Some(body)) =
                    (n.child_by_field_name("name"), n.child_by_field_name("body"))
                {
                    let mut p = path.clone();
                    p.push(text(file, name).to_string());
                    stack.push((body, p, depth + 1));
                }
                continue;
            }
            _ => {}
        }
        for k in named(n).into_iter().rev() {
            stack.push((k, path.clone(), depth + 1));
        }
    }
    // Line starts, for the places of nodes parsed again from macros.
    let mut lines = vec![0usize];
    lines.extend(
        src.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    let mut tests: Vec<Test> = Vec::new();
    for (name, func, paused) in &fns {
        let mut inner = Parser::new();
        inner
            .set_language(&lang)
            .map_err(|e| format!("cannot load the Rust grammar: {e}"))?;
        let mut w = W {
            file: src,
            lines: &lines,
            parser: inner,
            statics: &statics,
            mocks_net,
            paused: *paused,
            loops: 0,
            taints: HashMap::new(),
            hits: Vec::new(),
            state: HashMap::new(),
            spawned: Vec::new(),
            nest: 0,
        };
        if let Some(body) = func.child_by_field_name("body") {
            w.walk(file, body, 0);
        }
        for (var, sp, used) in std::mem::take(&mut w.spawned) {
            if !used {
                w.hit(
                    &THREAD_NO_JOIN,
                    sp,
                    format!("`thread::spawn(…)` into `{var}`, never joined"),
                );
            }
        }
        tests.push(Test {
            name: name.clone(),
            hits: w.hits,
            state: w.state,
        });
    }
    let mut out: Vec<TestHit> = Vec::new();
    let mut add = |test: &str, hit: Hit, related: Option<(u32, u32, String)>| {
        if sup.hides(hit.rule.id, hit.line) {
            return;
        }
        if let Some(e) = out.iter_mut().find(|e| {
            e.hit.rule.id == hit.rule.id && e.hit.line == hit.line && e.hit.col == hit.col
        }) {
            if !e.tests.iter().any(|t| t == test) {
                e.tests.push(test.to_string());
            }
            return;
        }
        let fix = fix_for(hit.rule.id);
        out.push(TestHit {
            tests: vec![test.to_string()],
            hit,
            related,
            fix,
        });
    };
    for t in &tests {
        for h in &t.hits {
            add(&t.name, h.clone(), None);
        }
    }
    // Shared state: a test reads (or changes) what another test changes.
    let mut names: Vec<&String> = tests.iter().flat_map(|t| t.state.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let changers: Vec<(&Test, Span)> = tests
            .iter()
            .filter_map(|t| t.state.get(name).and_then(|e| e.2).map(|sp| (t, sp)))
            .collect();
        for t in &tests {
            let Some((first, sp, _)) = t.state.get(name) else {
                continue;
            };
            if *first == Access::Write {
                continue;
            }
            let Some((other, at)) = changers.iter().find(|(o, _)| o.name != t.name) else {
                continue;
            };
            let shown = match name.strip_prefix("env:") {
                Some(k) => format!("the environment variable `{k}`"),
                None => format!("`static {name}`"),
            };
            let hit = Hit {
                rule: &SHARED_STATE,
                line: sp.0,
                col: sp.1,
                end_col: sp.2,
                detail: format!(
                    "uses {shown}, which `{}` changes (line {}); cargo runs tests in parallel threads of one process",
                    other.name, at.0
                ),
                guard: None,
                pedantic: false,
                in_cwd: false,
            };
            let related = Some((at.0, at.1, format!("`{}` changes {shown} here", other.name)));
            add(&t.name, hit, related);
        }
    }
    out.sort_by_key(|e| (e.hit.line, e.hit.col, e.hit.rule.id));
    Ok(FileFacts {
        hits: out,
        tests: tests.len(),
        syntax_error: root.has_error(),
    })
}

/// The module path of a file's items in its crate (`src/a/b.rs` → `a::b`; `src/lib.rs`,
/// `tests/x.rs` → ``), from the nearest directory up with a `Cargo.toml`.
pub fn module_prefix(path: &Path) -> String {
    let mut dir = path.parent();
    let mut parts: Vec<String> = Vec::new();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    for _ in 0..12 {
        let Some(d) = dir else { break };
        let name = d.file_name().and_then(|s| s.to_str()).unwrap_or("");
        if d.join("Cargo.toml").is_file() || name.is_empty() {
            break;
        }
        parts.push(name.to_string());
        dir = d.parent();
    }
    parts.reverse();
    // parts: ["src", "a"] or ["tests"] …
    let Some(top) = parts.first().cloned() else {
        return String::new();
    };
    if top != "src" {
        // Integration tests (`tests/x.rs`): each file is the root of its own test binary.
        return String::new();
    }
    let mut m: Vec<String> = parts[1..].to_vec();
    match stem.as_str() {
        "lib" | "main" if m.is_empty() => {}
        "mod" => {}
        _ => m.push(stem),
    }
    m.join("::")
}

/// The fix in Rust's words.
fn fix_for(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "sleep-wait" => {
            "wait for the condition with a timeout (a channel's `recv_timeout`, a `Condvar`, polling with a deadline) or pause tokio's clock"
        }
        "unseeded-random" => "use a seeded generator (`StdRng::seed_from_u64(…)`) or fixed inputs",
        "wall-clock-compare" => {
            "pass the time in (a clock parameter or trait), or compare with a value derived from the same reading"
        }
        "timing-assert" => {
            "assert on the work done, not wall time; or move the budget to a benchmark with a generous margin"
        }
        "real-network" => {
            "serve the requests locally (a server on 127.0.0.1:0, mockito/wiremock) or mark the test #[ignore] with a reason"
        }
        "fixed-tmp-path" => "use a directory of the test's own: `tempfile::tempdir()`",
        "shared-module-state" => {
            "give each test its own state (pass it in), or serialise the tests that share it (`serial_test`) and restore it"
        }
        "thread-no-join" => {
            "keep the `JoinHandle` and `join()` it before asserting, or use `thread::scope`"
        }
        "set-order-assert" => {
            "sort before comparing, compare as sets, or use a BTreeMap/BTreeSet/IndexMap"
        }
        _ => return None,
    })
}
