//! What the single-file languages (JavaScript/TypeScript, Rust) share: the facts a file gives,
//! suppression comments, the small value analysis ("taint") that tells whether a
//! nondeterministic value reaches an assertion, and helpers on literals.
//!
//! These languages are scanned one file at a time: a test and the hooks/helpers in its own file,
//! without following calls into other modules (Python does that; see [`crate::project`]).

use crate::python::Hit;
use std::collections::HashMap;
use tree_sitter::Node;

/// Deepest node visited; deeper trees are cut (generated code), never a stack overflow.
pub(crate) const MAX_DEPTH: usize = 300;

/// How a test uses a shared (module-level or static) name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    Read,
    Write,
    Mutate,
}

/// (line, column, end column) of a node.
pub(crate) type Span = (u32, u32, u32);

/// A test's use of a shared name: its first access, where, and where it first changes it.
pub(crate) type StateUse = (Access, Span, Option<Span>);

/// Records an access of `name` at `sp` in a test's `state`: the first access stays the first,
/// and the first change is kept.
pub(crate) fn record_access(
    state: &mut HashMap<String, StateUse>,
    name: &str,
    kind: Access,
    sp: Span,
) {
    let e = state.entry(name.to_string()).or_insert((kind, sp, None));
    if kind != Access::Read && e.2.is_none() {
        e.2 = Some(sp);
    }
}

/// One finding of a rule, with the tests (ids within the file: `describe › title`,
/// `module::test`) that reach it.
#[derive(Clone, Debug)]
pub struct TestHit {
    pub tests: Vec<String>,
    pub hit: Hit,
    /// Another place the finding refers to: (line, column, message).
    pub related: Option<(u32, u32, String)>,
    /// A fix in the language's own words, instead of the rule's (Python) one.
    pub fix: Option<&'static str>,
}

/// What the rules found in one file.
#[derive(Debug, Default)]
pub struct FileFacts {
    pub hits: Vec<TestHit>,
    pub tests: usize,
    pub syntax_error: bool,
}

/// The rule ids of a `flakehound: ignore[...]` comment (`*` for all), if it is one.
pub(crate) fn suppression(text: &str) -> Option<Vec<String>> {
    let rest = text.split_once("flakehound:")?.1.trim_start();
    let rest = rest.strip_prefix("ignore")?;
    Some(match rest.strip_prefix('[') {
        Some(list) => list
            .split(']')
            .next()
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => vec!["*".to_string()],
    })
}

/// Suppressions by line, collected from comment nodes.
#[derive(Default)]
pub(crate) struct Suppressions(HashMap<u32, Vec<String>>);

impl Suppressions {
    pub(crate) fn add(&mut self, comment: Node, text: &str) {
        if let Some(ids) = suppression(text) {
            let line = crate::python::span(comment).0;
            self.0.entry(line).or_default().extend(ids);
        }
    }

    /// Whether `rule` is suppressed at `line` (a comment on the line or the line before).
    pub(crate) fn hides(&self, rule: &str, line: u32) -> bool {
        [line, line.saturating_sub(1)].iter().any(|l| {
            self.0
                .get(l)
                .is_some_and(|ids| ids.iter().any(|i| i == "*" || i == rule))
        })
    }
}

/// Bits of what a value is derived from.
pub(crate) mod taint {
    /// An unseeded random generator.
    pub const RANDOM: u8 = 1;
    /// The wall clock (date, time of day).
    pub const WALL: u8 = 2;
    /// A clock reading (wall or monotonic), as a start or end point.
    pub const CLOCK: u8 = 4;
    /// A measured duration (the difference of two clock readings).
    pub const DURATION: u8 = 8;
    /// A hash map or set (Rust), whose iteration order is random per process.
    pub const HASH: u8 = 16;
    /// A sequence in a hash container's iteration order.
    pub const HASH_ORDER: u8 = 32;
}

/// Where a tainted local got its value: bits and the node's (line, col, end col) and text.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    pub bits: u8,
    pub span: (u32, u32, u32),
    pub text: String,
}

/// A number literal (`100`, `1_000`, `1e3`, `0.5`, `100u64`, `10n`), if the text is one.
pub(crate) fn number(text: &str) -> Option<f64> {
    let t: String = text.chars().filter(|c| *c != '_').collect();
    let cut = t.find(['u', 'i', 'f', 'n']).unwrap_or(t.len());
    t[..cut].parse::<f64>().ok()
}

/// The host of a URL or `host:port` literal, lower-case.
pub(crate) fn host_of(addr: &str) -> String {
    addr.split("://")
        .last()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split(['/', ':', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether a host is this machine (or no host at all).
pub(crate) fn is_local(host: &str) -> bool {
    host.is_empty()
        || host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "0.0.0.0"
        || host == "[" // `[::1]` splits at the first colon
        || host.starts_with("[::1")
        || host.contains('$')
        || host.contains('{')
}

/// A literal URL outside the machine (`http(s)://`, `ws(s)://`).
pub(crate) fn remote_url(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let is_url = ["http://", "https://", "ws://", "wss://"]
        .iter()
        .any(|p| lower.starts_with(p));
    let host = host_of(s);
    (is_url && !is_local(&host) && host.contains('.')).then_some(host)
}

/// A fixed path under the shared temporary directory.
pub(crate) fn is_tmp_path(s: &str) -> bool {
    (s.starts_with("/tmp/") || s.starts_with("/var/tmp/")) && s.len() > "/tmp/".len()
}

/// How long one file (or macro body) may take to parse. tree-sitter's error recovery can
/// explode on a pathological token soup (the never-panics property test once spent minutes on
/// 300 random words of TypeScript); past this the parse is given up and the file reported as
/// unparseable, so one hostile file cannot stop the scan.
pub const PARSE_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// `parser.parse(src)` within [`PARSE_BUDGET`]; `None` when the parser gave up or ran out of
/// time (the parser is reset then, ready for the next file).
pub(crate) fn parse_bounded(
    parser: &mut tree_sitter::Parser,
    src: &[u8],
) -> Option<tree_sitter::Tree> {
    parse_within(parser, src, PARSE_BUDGET)
}

fn parse_within(
    parser: &mut tree_sitter::Parser,
    src: &[u8],
    budget: std::time::Duration,
) -> Option<tree_sitter::Tree> {
    let start = std::time::Instant::now();
    let mut within = |_: &tree_sitter::ParseState| {
        if start.elapsed() > budget {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut within);
    let tree = parser.parse_with_options(
        &mut |i, _| src.get(i..).unwrap_or_default(),
        None,
        Some(options),
    );
    if tree.is_none() {
        parser.reset();
    }
    tree
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn a_parse_past_its_budget_gives_up_and_the_parser_is_ready_again() {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_python::LANGUAGE.into())
            .unwrap();
        let src = "def test_a():\n    assert f(1) == [1, 2, 3]\n".repeat(20_000);
        assert!(parse_within(&mut parser, src.as_bytes(), std::time::Duration::ZERO).is_none());
        let tree = parse_bounded(&mut parser, b"x = 1\n").unwrap();
        assert_eq!(tree.root_node().kind(), "module");
        assert!(!tree.root_node().has_error());
    }
}
