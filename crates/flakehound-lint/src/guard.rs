//! Guards: a place in a function of the code under test that runs only for some values of one
//! of its parameters, and the arguments a call gives those parameters.
//!
//! `day = day or date.today()` reads the clock only when the caller gives no `day`;
//! `if jitter: … random.random()` draws only when it gives a true `jitter`. A test that calls
//! `daily(orders, day=date(2024, 1, 1))` or `backoff(1, 16)` does not reach the read or the
//! draw, and a finding there would be a false positive.
//!
//! A guard is the innermost condition around a place that tests one parameter in one of three
//! ways: its truth (`p`, `not p`, `p and …`, `… or …`), whether it is `None` (`p is None`,
//! `p is not None`, `p == None`), or whether it equals a literal (`p == "/"`, `p != 0`). The
//! arguments a function is reached with are known only as far as that needs: a literal as
//! written (`False`, `None`, `"/"`, `-0.01`), a parameter of the caller passed on as it is
//! (`jitter=jitter`, resolved through the caller's own arguments), or another expression,
//! which counts as a value of the caller's choosing: true, not `None`, equal to no literal
//! (mostly what a caller means when it writes an argument out). A parameter not given takes
//! its default. Where the outcome is unknown (a parameter without a default and no argument
//! for it), the place counts as reached.

use tree_sitter::Node;

/// What a condition tests of the parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// `p`: its truth.
    Truthy,
    /// `p is None`, `p == None`.
    IsNone,
    /// `p == LITERAL` (the literal as written).
    Equals(String),
    /// Whether the call gives an argument for it at all: a default value's expression is
    /// evaluated for the calls that give none.
    Given,
}

/// A value as far as guards go.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// A literal as written: `None`, `False`, `0`, `"/"`, `-0.01`, `()`.
    Literal(String),
    /// A parameter of the calling function passed on as it is (its position there).
    Param(usize),
    /// Any other expression: a value of the caller's choosing.
    Other,
}

impl Arg {
    /// The value of an argument or a default: a literal, a parameter of the function it is
    /// written in (`params`), or other.
    pub fn of(node: Node, src: &[u8], params: &[String]) -> Arg {
        let text = node.utf8_text(src).unwrap_or("");
        match node.kind() {
            "none" | "true" | "false" | "integer" | "float" => Arg::Literal(text.to_string()),
            "string" if !has_interpolation(node) => Arg::Literal(text.to_string()),
            "unary_operator"
                if node
                    .child_by_field_name("argument")
                    .is_some_and(|a| matches!(a.kind(), "integer" | "float")) =>
            {
                Arg::Literal(text.to_string())
            }
            "tuple" | "list" | "dictionary" if node.named_child_count() == 0 => {
                Arg::Literal(text.to_string())
            }
            "identifier" => params
                .iter()
                .position(|p| p == text)
                .map_or(Arg::Other, Arg::Param),
            _ => Arg::Other,
        }
    }

    /// The test's outcome for this value, when known.
    fn outcome(&self, test: &Test) -> Option<bool> {
        match (test, self) {
            (Test::Given, _) | (_, Arg::Param(_)) => None,
            (Test::Truthy, Arg::Literal(t)) => Some(truthy(t)),
            (Test::IsNone, Arg::Literal(t)) => Some(t == "None"),
            (Test::Equals(l), Arg::Literal(t)) => Some(same_literal(l, t)),
            (Test::Truthy, Arg::Other) => Some(true),
            (Test::IsNone | Test::Equals(_), Arg::Other) => Some(false),
        }
    }
}

fn has_interpolation(node: Node) -> bool {
    let mut c = node.walk();
    node.named_children(&mut c)
        .any(|k| k.kind() == "interpolation")
}

/// Python's truth of a literal as written.
fn truthy(t: &str) -> bool {
    let t = t.trim();
    if matches!(t, "None" | "False" | "()" | "[]" | "{}") {
        return false;
    }
    if let Some(body) = string_body(t) {
        return !body.is_empty();
    }
    let num = t.trim_start_matches(['-', '+']).replace('_', "");
    match num.parse::<f64>() {
        Ok(v) => v != 0.0,
        // Hex, octal, complex literals: rare in defaults; taken as non-zero.
        Err(_) => true,
    }
}

/// The text of a plain string literal between its quotes (prefixes `b`, `r`, `u` allowed).
fn string_body(t: &str) -> Option<&str> {
    let t = t.trim_start_matches(['b', 'B', 'r', 'R', 'u', 'U']);
    for q in ["\"\"\"", "'''", "\"", "'"] {
        if t.len() >= 2 * q.len() && t.starts_with(q) && t.ends_with(q) {
            return Some(&t[q.len()..t.len() - q.len()]);
        }
    }
    None
}

fn same_literal(a: &str, b: &str) -> bool {
    match (string_body(a), string_body(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a == b,
        _ => false,
    }
}

/// A parameter of the enclosing function on whose value alone a place depends: the place
/// runs when `test` of the parameter comes out `when`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    pub param: String,
    pub index: usize,
    pub test: Test,
    pub when: bool,
    /// The parameter's default (what it is when a call gives no argument for it).
    pub default: Option<Arg>,
}

impl Guard {
    /// Whether a place behind this guard is reached by a call with these arguments (`offset`:
    /// 1 when the callee is a method, whose first parameter is not in the call). Without a
    /// call (the walk started at this function), every parameter has its default.
    pub fn reached(&self, args: Option<&Args>, offset: usize) -> bool {
        if self.test == Test::Given {
            let given = args.is_some_and(|a| a.get(&self.param, self.index, offset).is_some());
            return given == self.when;
        }
        let value = args
            .and_then(|a| a.get(&self.param, self.index, offset))
            .or(self.default.as_ref());
        match value.and_then(|v| v.outcome(&self.test)) {
            Some(o) => o == self.when,
            None => true,
        }
    }
}

/// The arguments a call gives (keyword, positional), as [`Arg`]s.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Args {
    pub kw: Vec<(String, Arg)>,
    pub pos: Vec<Arg>,
}

const GIVEN: Arg = Arg::Other;

impl Args {
    /// The argument given for parameter `param` at `index`, if any.
    pub fn get(&self, param: &str, index: usize, offset: usize) -> Option<&Arg> {
        if let Some((_, a)) = self.kw.iter().find(|(k, _)| k == param) {
            return Some(a);
        }
        if index < offset {
            // `self`/`cls`.
            return Some(&GIVEN);
        }
        self.pos.get(index - offset)
    }

    /// These arguments (of a call made in a function with `params` and `defaults`) with every
    /// parameter passed on resolved through `outer`, what that function was reached with
    /// (`offset`: that function's, as in [`Guard::reached`]).
    pub fn resolved(
        &self,
        outer: Option<&Args>,
        params: &[String],
        defaults: &[Option<Arg>],
        offset: usize,
    ) -> Args {
        let resolve = |a: &Arg| -> Arg {
            let Arg::Param(i) = a else {
                return a.clone();
            };
            let given = params
                .get(*i)
                .and_then(|name| outer.and_then(|o| o.get(name, *i, offset)));
            match given.or_else(|| defaults.get(*i).and_then(Option::as_ref)) {
                // A default naming another parameter is not resolved further.
                Some(Arg::Param(_)) | None => Arg::Other,
                Some(v) => v.clone(),
            }
        };
        Args {
            kw: self
                .kw
                .iter()
                .map(|(k, a)| (k.clone(), resolve(a)))
                .collect(),
            pos: self.pos.iter().map(resolve).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_of_literals() {
        for f in [
            "None", "False", "0", "0.0", "-0.0", "''", "\"\"", "b''", "()", "[]", "{}",
        ] {
            assert!(!truthy(f), "{f}");
        }
        for t in ["True", "1", "-0.01", "'x'", "\"/\"", "0x10"] {
            assert!(truthy(t), "{t}");
        }
    }

    #[test]
    fn outcomes() {
        let g = |test, when, default: Option<&str>| Guard {
            param: "p".into(),
            index: 0,
            test,
            when,
            default: default.map(|d| Arg::Literal(d.into())),
        };
        let call = |a: Arg| Args {
            kw: vec![("p".into(), a)],
            pos: vec![],
        };
        // `if p: draw` (default False): not given, given False, given something.
        let if_p = g(Test::Truthy, true, Some("False"));
        assert!(!if_p.reached(None, 0));
        assert!(!if_p.reached(Some(&call(Arg::Literal("False".into()))), 0));
        assert!(if_p.reached(Some(&call(Arg::Other)), 0));
        // `p = p or today()` (default None).
        let or = g(Test::Truthy, false, Some("None"));
        assert!(or.reached(Some(&Args::default()), 0));
        assert!(!or.reached(Some(&call(Arg::Other)), 0));
        // `if _root == "/":` compared with its default, `'/'` the same literal.
        let root = g(Test::Equals("\"/\"".into()), true, Some("\"/\""));
        assert!(root.reached(None, 0));
        assert!(root.reached(Some(&call(Arg::Literal("'/'".into()))), 0));
        assert!(!root.reached(Some(&call(Arg::Other)), 0));
        // Unknown: a parameter without a default, not given.
        assert!(g(Test::IsNone, true, None).reached(Some(&Args::default()), 0));
    }

    #[test]
    fn passed_on_parameters_resolve_through_the_outer_call() {
        let params = ["start".to_string(), "jitter".to_string()];
        let defaults = [None, Some(Arg::Literal("False".into()))];
        let inner = Args {
            kw: vec![("jitter".into(), Arg::Param(1))],
            pos: vec![Arg::Param(0)],
        };
        let outer = Args {
            kw: vec![],
            pos: vec![Arg::Literal("1".into())],
        };
        let r = inner.resolved(Some(&outer), &params, &defaults, 0);
        assert_eq!(r.kw, [("jitter".to_string(), Arg::Literal("False".into()))]);
        assert_eq!(r.pos, [Arg::Literal("1".into())]);
        let outer = Args {
            kw: vec![("jitter".into(), Arg::Other)],
            pos: vec![],
        };
        let r = inner.resolved(Some(&outer), &params, &defaults, 0);
        assert_eq!(r.kw, [("jitter".to_string(), Arg::Other)]);
        // `start` has no default and was not given: other.
        assert_eq!(r.pos, [Arg::Other]);
    }
}
