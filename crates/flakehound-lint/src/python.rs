//! Python: one file parsed with tree-sitter into [`ModuleFacts`], plain data (no tree) that the
//! project pass ([`crate::project`]) joins across files: the functions with what each rule found
//! in them, the calls they make, the module-level state they change or read, and the tests.

use crate::naming::Naming;
use crate::rules::{self, Rule};
use std::collections::{HashMap, HashSet};
use tree_sitter::{Node, Parser};

/// Deepest nesting walked; deeper code (generated, hostile) is skipped, never a stack overflow.
pub(crate) const MAX_DEPTH: usize = 300;
/// Deepest expression the shape checks (`is a set`, `is a duration`, dotted names) look into.
pub(crate) const SHAPE_DEPTH: usize = 32;

/// What a rule found at one place.
#[derive(Clone, Debug)]
pub struct Hit {
    pub rule: &'static Rule,
    /// 1-based line and column (byte column + 1), end column on the same line.
    pub line: u32,
    pub col: u32,
    pub end_col: u32,
    /// What exactly was found, for the message (e.g. "`random.randint(…)`").
    pub detail: String,
    /// Only reached when a parameter of the enclosing function is not passed
    /// (`day = day or date.today()`), or only when it is (`if jitter: … random() …`).
    pub guard: Option<Guard>,
    /// Reported only with `--pedantic` (or the rule enabled by name), though its rule is in the
    /// default set: a weaker form of it (a test's clock read compared with a value the code
    /// under test computes, see `rules::value`).
    pub pedantic: bool,
    /// A relative path in the working directory: the test's own when a fixture or function
    /// it reaches moves it into a fresh temporary directory ([`FnFacts::enters_temp_dir`]).
    pub in_cwd: bool,
}

impl Hit {
    /// Makes this the rule's pedantic form, `why` (", which bounds a wait: …") added to what
    /// it shows.
    pub fn weaken(&mut self, why: &str) {
        self.detail.push_str(why);
        self.pedantic = true;
    }
}

pub use crate::guard::{Arg, Args, Guard, Test};

/// Module-level state touched by a function.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StateOp {
    /// Changed; `accumulating` for append/extend/add/+=, which grow with every run.
    Mutate { accumulating: bool },
    /// Emptied or replaced with a fresh value (`clear()`, `global x; x = {}`).
    Reset,
    /// Read.
    Read,
}

#[derive(Clone, Debug)]
pub struct StateFact {
    /// `module.NAME`, the dotted module name and the global's name.
    pub key: String,
    pub op: StateOp,
    /// Which part of the value: an entry under a literal key, or what an attribute gives.
    pub part: Part,
    pub line: u32,
    pub col: u32,
    pub end_col: u32,
    pub guard: Option<Guard>,
}

/// The part of a module-level value a change or a read touches (see `rules::state`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Part {
    /// The whole value, or a part the scan cannot name (`X[k]`, `X.keys()`, `X == Y`).
    #[default]
    Whole,
    /// The entry under a literal key: `X["HOME"] = …`, `X["HOME"]`, `X.get("HOME")`,
    /// `"HOME" in X`.
    Item(String),
    /// Read only: what an attribute of it gives (`local.env.home`): some part, not an entry a
    /// test added under a key of its own (unless the key is the attribute's name: a mapping
    /// that also answers by attribute, `settings.debug` after `settings["debug"] = True`).
    Attr(String),
    /// Read only, in test code: the whole value, compared only with values that are not fixed
    /// (another view of the same state, what a command prints: plumbum's `async_local.env ==
    /// local.env`, `set(local.env.keys())` against the keys `printenv` shows). An entry another
    /// test added under a key of its own shows on both sides; a change of an existing entry,
    /// or of the whole value, may not.
    Live,
    /// The first entry: read as `X[0]`; added by `X.insert(0, …)` or `X.appendleft(…)`.
    Front,
    /// The last entry: read as `X[-1]`; added by `X.append(…)`.
    Back,
}

impl Part {
    /// Whether a change of part `self` can be seen by a read of part `read`.
    pub fn seen_by(&self, read: &Part) -> bool {
        match (self, read) {
            (Part::Item(a), Part::Item(b) | Part::Attr(b)) => a == b,
            (Part::Item(_), Part::Live) => false,
            _ => true,
        }
    }
}

/// What a call or a reference points at, resolved later by the project pass.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A dotted name through the imports (`shop.shipping.new_label`, `random.randint`).
    Qualified(String),
    /// A name of this module (`helper`, `Class`, `Class.method`).
    Local(String),
}

#[derive(Clone, Debug)]
pub struct Call {
    pub target: Target,
    /// Made only when a parameter of the caller is passed or not (see [`Hit::guard`]).
    pub guard: Option<Guard>,
    /// Keyword arguments passed, and how many positional ones.
    /// The arguments given (a parameter of the caller passed on as it is is an
    /// [`Arg::Param`], resolved when the call is followed).
    pub args: Args,
    /// Made inside `with pytest.raises(…)` / `self.assertRaises(…)`: expected to fail, so
    /// what it would change is not taken as changed.
    pub expects_error: bool,
    /// Not a call but a reference (`EXPORT_PATH`, a callback `f`): a class referenced is not
    /// constructed (`isinstance(x, Rule)`, a tuple of names), so it reaches no `__init__`.
    pub reference: bool,
    /// Handed to a new process as its target: what it changes stays in the child.
    pub other_process: bool,
    /// Code under test: the value only goes on to be returned (see
    /// `rules::random::returned`), or names a file; a draw the callee returns is not used here.
    pub returned: bool,
    /// Code under test: the value is kept in a name whose uses never see its order but for
    /// these arguments of calls (`meta_variables = find_meta_variables(…)` only tested with
    /// `in` and passed on); `None` when a use may see it ([`OrderUse`]).
    pub kept: OrderUse,
}

/// An argument of a call: by position (after `self`), or by keyword.
#[derive(Clone, Debug, PartialEq)]
pub enum Slot {
    Pos(usize),
    Kw(String),
}

/// Whether the uses of a value (a parameter, a name a call's result is kept in) can see the
/// order of its items: `None` when one may (it is iterated, indexed, returned, joined, …);
/// otherwise the arguments of calls it is passed to, whose parameters decide (empty: no use
/// sees it: `x in names`, `len(names)`, `set(names)`, `sorted(names)`).
pub type OrderUse = Option<Vec<(Target, Slot)>>;

#[derive(Clone, Debug, Default)]
pub struct FnFacts {
    pub line: u32,
    pub hits: Vec<Hit>,
    pub calls: Vec<Call>,
    pub state: Vec<StateFact>,
    /// Names (decorators, parameters) that tell the analysis about the test's set-up.
    pub decorators: Vec<String>,
    /// Its own decorators that may be the project's functions: their wrappers run around
    /// every call of it (tqdm's `@restore_sys` saves and restores `sys.stdin`).
    pub decorated_by: Vec<Target>,
    /// Defines a function inside it (a decorator's wrapper, which runs at each call; the rest
    /// of a decorator runs once, when the module is imported: rq's `slow` only marks).
    pub defines_fn: bool,
    pub params: Vec<String>,
    /// Each parameter's default, beside `params`.
    pub defaults: Vec<Option<Arg>>,
    /// Code under test: whether each parameter's uses see the order of its items
    /// ([`OrderUse`]), beside `params`.
    pub param_order: Vec<OrderUse>,
    pub is_fixture: bool,
    /// Fixtures it asks for by name without taking them as parameters:
    /// `@pytest.mark.usefixtures("db")` on it or its class, or its class's `pytestmark`.
    pub usefixtures: Vec<String>,
    /// Joins or waits for a thread or process (`t.join()`, `done.wait()`).
    pub joins: bool,
    /// Moves the process into a fresh temporary directory (`os.chdir(tempfile.mkdtemp())`,
    /// `monkeypatch.chdir(tmp_path)`, `tmpdir.chdir()`, `with tmp_path.as_cwd():`): a fixture
    /// that does gives the tests using it a working directory of their own.
    pub enters_temp_dir: bool,
    /// Every path through it ends the process (`os.execv(…)`, `os._exit(…)`): what it changes
    /// no later test of the process sees ([`rules::state::ends_process`]).
    pub ends_process: bool,
    /// Calls `random.seed` / `numpy.random.seed`.
    pub seeds_random: bool,
    /// The local-clock reads it makes (`datetime.datetime.now`, `datetime.date.today`, …),
    /// whether or not they were reported: see `project.rs`, a test that computes its expected
    /// value from the same clock.
    pub local_clocks: Vec<String>,
    /// The clock names of modules it replaces with `mock.patch("pkg.mod.datetime", …)` or
    /// `monkeypatch.setattr("pkg.mod.time", …)`, as (`pkg.mod`, `datetime`): a test that
    /// reaches it runs that module's clock reads on a fake clock
    /// ([`rules::clock::clock_patch`]).
    pub clock_patches: Vec<(String, String)>,
    /// Returns a measured duration (`return elapsed`, `return ok, cost_ms`): which item.
    pub returns_duration: Option<ReturnedDuration>,
    /// Code under test: the unseeded draws whose value only leaves the function as what it
    /// returns (`return f"ID-{random.randint(…)}"`): reported where a caller uses the value
    /// (see [`Call::returned`]), or where a test compares it with a fixed value.
    pub returns_draw: Vec<Hit>,
    /// Code under test: the unseeded draws kept in an attribute (`self.max_requests =
    /// cfg.max_requests + jitter`), with the attribute's name: reported in full for a test
    /// that reads that attribute, in the pedantic form for one that does not.
    pub kept_draws: Vec<(Hit, String)>,
    /// Test code: the names of the attributes it reads (`parcel.label`), not the methods it
    /// calls nor the attributes it assigns.
    pub attrs_read: HashSet<String>,
    /// Likewise, a set's order it only returns (`return list(names)`): a test that sorts the
    /// value, counts it or compares it with a set does not see the order.
    pub returns_order: Vec<Hit>,
    /// Test code: calls of the project whose value an assertion compares with a fixed value
    /// (`assert new_id() == "ID-1"`), found by the value model, each with whether the value's
    /// order counted (it was not sorted, counted or compared with a set first); what the
    /// callee returns is reported for the test.
    pub compared_calls: Vec<ComparedCall>,
    /// Upper bounds asserted on what a call returned (`ok, cost = acquire(…)`, `assert cost
    /// <= 50`): a `timing-assert` when the project pass finds that the callee returns a
    /// measured duration there.
    pub bounds_on_results: Vec<BoundOnResult>,
}

/// A call of the project whose value a test's assertion compares (`FnFacts::compared_calls`).
#[derive(Clone, Debug, PartialEq)]
pub struct ComparedCall {
    pub target: Target,
    /// Its value's order counted (it was not sorted, counted or compared with a set first).
    pub ordered: bool,
    /// Compared only with a value the code under test computes, not with a fixed one: what
    /// the callee returns is reported as the weaker form (with `--pedantic`).
    pub weak: bool,
}

/// Where in its return value a function returns a measured duration.
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnedDuration {
    /// The item of a returned tuple, or `None` for the value itself.
    pub item: Option<usize>,
    /// In seconds (a hang guard's bound applies), not scaled to milliseconds.
    pub seconds: bool,
    /// The measured code waits ([`crate::rules::clock::bounds_a_wait`]): a bound on it is the
    /// rule's pedantic form.
    pub waits: bool,
}

/// An upper bound asserted on (an item of) a call's result.
#[derive(Clone, Debug)]
pub struct BoundOnResult {
    pub target: Target,
    pub item: Option<usize>,
    /// The bound, when it is a number.
    pub bound: Option<f64>,
    /// The timing-assert hit it becomes.
    pub hit: Hit,
}

/// A test found in the module.
#[derive(Clone, Debug)]
pub struct TestFn {
    /// `Class::method` or `function` (joined to the file for the test id).
    pub name: String,
    /// The function's key in [`ModuleFacts::functions`] (`Class.method`).
    pub key: String,
    /// Set-up methods of its class, run before it.
    pub setup: Vec<String>,
    /// The module that holds `key` when it is not the test's own: a test method inherited
    /// from a class of another module (set by the project pass, which knows the modules).
    pub module: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct ModuleFacts {
    /// Dotted module name (`shop.config`, `tests.test_x`).
    pub name: String,
    pub functions: HashMap<String, FnFacts>,
    pub classes: HashSet<String>,
    /// The bases of each top-level class that are classes of this module.
    pub class_bases: HashMap<String, Vec<String>>,
    /// The bases of each top-level class that are not (imported: `fixtures.SuiteBase`), for
    /// the project pass to find in other modules.
    pub foreign_bases: HashMap<String, Vec<Target>>,
    /// The top-level classes pytest collects tests from, and whether each is a
    /// `unittest.TestCase` (its `test…` methods) rather than a class `python_classes` names.
    pub test_classes: HashMap<String, bool>,
    /// Module-level assignments: what the rules found in each right-hand side.
    pub globals: HashMap<String, FnFacts>,
    pub tests: Vec<TestFn>,
    pub fixtures: HashSet<String>,
    /// Fixtures every test of the module uses: `pytestmark = pytest.mark.usefixtures(…)`.
    pub usefixtures: Vec<String>,
    /// Fixtures with `autouse=True` (keys; `Class.name` inside a class).
    pub autouse: Vec<String>,
    pub imports: HashMap<String, String>,
    pub seeds_random: bool,
    /// Hits outside any function or referenced global (module-level statements).
    pub loose: Vec<Hit>,
    pub syntax_error: Option<u32>,
}

/// Per-function state of the walk, shared by the rule families.
pub(crate) struct Cx<'a> {
    pub src: &'a [u8],
    pub imports: &'a HashMap<String, String>,
    /// Dotted modules imported whole (`import aiofiles.os`): `aiofiles.os.remove(…)` calls a
    /// function of a module, it changes no state of `aiofiles`.
    pub submodules: &'a HashSet<String>,
    /// Module-level names bound to mutable containers.
    pub mutables: &'a HashSet<String>,
    /// Module-level names (any value).
    pub module_names: &'a HashSet<String>,
    pub module: &'a str,
    /// In a test file (test code), not code under test.
    pub test_code: bool,
    pub class: Option<String>,
    pub params: Vec<String>,
    /// Each parameter's default value (`None`, `"/"`), beside `params`.
    pub defaults: Vec<Option<Arg>>,
    pub locals: HashSet<String>,
    pub global_decl: HashSet<String>,
    /// Families' scratch: clock start variables, elapsed variables, set-valued variables,
    /// thread variables and whether anything was joined.
    pub clock_vars: HashSet<String>,
    pub elapsed_vars: HashSet<String>,
    /// Names bound to a number literal (`block_seconds = 5`), for the bounds of timing asserts.
    pub numbers: HashMap<String, f64>,
    /// Names bound to a fixed value (literals, `datetime(2024, 1, 1)`, sums of them), for
    /// what a clock read is compared with (`rules::value`).
    pub fixed_vars: HashSet<String>,
    /// Elapsed names not in seconds (`ms = (t1 - t0) * 1000`, `*_ns` clocks).
    pub scaled_vars: HashSet<String>,
    pub set_vars: HashSet<String>,
    /// Names bound to what a call returned (`cost` in `ok, cost = acquire(…)`): the callee
    /// and the item of its result.
    pub result_vars: HashMap<String, (Target, Option<usize>)>,
    pub threads: Vec<(String, Hit)>,
    /// Test code's values (see `rules::value`): the random draws and local-clock reads seen
    /// (each hit, and whether it was reported), by node id, and the origins each name holds.
    pub origins: Vec<(Hit, bool)>,
    pub origin_at: HashMap<usize, usize>,
    /// Origins that are calls of the project (by origin index): what the callee returns is
    /// known only to the project pass (`FnFacts::compared_calls`).
    pub call_origins: HashMap<usize, rules::value::CallOrigin>,
    /// A call origin → the same call seen through `sorted(…)`, `set(…)`, …, whose order does
    /// not count (`rules::value::order_free`).
    pub order_free_of: HashMap<usize, usize>,
    /// The one origin every conversion of a given timestamp into local time
    /// (`datetime.fromtimestamp(ts)`) in the file shares: the process's zone.
    pub zone_origin: Option<usize>,
    /// Origins some assertion saw come back unchanged (a round trip: both sides share it).
    pub round_trips: HashSet<usize>,
    /// Origins that are many draws made into one value (`rules::value::bulk`).
    pub bulk_origins: HashSet<usize>,
    pub taints: HashMap<String, rules::value::Origins>,
    /// `with open(path) as f`: `f` → the names the file was opened with.
    pub aliases: HashMap<String, Vec<String>>,
    /// `then = now - timedelta(hours=23)`: `then` → `now`, a name it is shifted from by a
    /// value of no origin (`now - then` is the shift, whatever `now` was).
    pub shifts: HashMap<String, String>,
    /// The walked function may hold a draw or a clock read (`rules::value::any_source`).
    pub value_sources: bool,
    pub started: HashSet<String>,
    pub joined: bool,
    /// Walking the default value of this parameter: what it reaches is guarded by it.
    pub default_of: Option<Guard>,
    /// A `yield` was seen: in a fixture, what follows is teardown.
    pub seen_yield: bool,
    /// Where the walk is, kept by [`walk`] (cheaper than asking tree-sitter for parents):
    /// inside how many asserts, loops, `with …raises…`, `with` faking the clock, `finally:`,
    /// and function definitions nested in the walked one.
    pub asserts: usize,
    pub loops: usize,
    pub raises: usize,
    pub fake_clock: usize,
    pub finally: usize,
    pub nested_fns: usize,
    /// Code under test: calls whose result is assigned to a name (index in `out.calls`, the
    /// name, where the assignment ends), for [`Call::kept`] once the function is walked.
    pub kept_names: Vec<(usize, String, usize)>,
    pub out: FnFacts,
}

impl<'a> Cx<'a> {
    pub fn text(&self, node: Node) -> &'a str {
        node.utf8_text(self.src).unwrap_or("")
    }

    /// A hit of `rule` spanning `node` (its first line).
    pub fn hit(&mut self, rule: &'static Rule, node: Node, detail: impl Into<String>) {
        let h = self.make_hit(rule, node, detail);
        self.out.hits.push(h);
    }

    pub fn make_hit(&self, rule: &'static Rule, node: Node, detail: impl Into<String>) -> Hit {
        let (line, col, end_col) = span(node);
        Hit {
            rule,
            line,
            col,
            end_col,
            detail: detail.into(),
            guard: self.guard(node),
            pedantic: false,
            in_cwd: false,
        }
    }

    pub fn state(&mut self, key: String, op: StateOp, node: Node) {
        self.state_part(key, op, Part::Whole, node);
    }

    pub fn state_part(&mut self, key: String, op: StateOp, part: Part, node: Node) {
        let (line, col, end_col) = span(node);
        // A change in a fixture's teardown (after `yield`) or in a `finally:` block restores.
        let op = match op {
            StateOp::Mutate { .. }
                if (self.out.is_fixture && self.seen_yield) || self.finally > 0 =>
            {
                StateOp::Reset
            }
            op => op,
        };
        let guard = self.guard(node);
        self.out.state.push(StateFact {
            key,
            op,
            part,
            line,
            col,
            end_col,
            guard,
        });
    }

    /// The dotted name an expression stands for, through the imports: `random.randint`,
    /// `datetime.datetime.now` (for `datetime.now` after `from datetime import datetime`).
    pub fn qname(&self, node: Node) -> Option<String> {
        let path = dotted(node, self.src)?;
        let (first, rest) = match path.split_once('.') {
            Some((f, r)) => (f, Some(r)),
            None => (path.as_str(), None),
        };
        let base = match self.imports.get(first) {
            Some(q) if !self.locals.contains(first) || self.module_names.contains(first) => {
                q.clone()
            }
            _ => first.to_string(),
        };
        Some(match rest {
            Some(r) => format!("{base}.{r}"),
            None => base,
        })
    }

    /// Whether `name` is the module-level `name` here (not a local or parameter).
    pub fn is_global(&self, name: &str) -> bool {
        self.global_decl.contains(name)
            || (!self.locals.contains(name) && !self.params.iter().any(|p| p == name))
    }

    /// The state key of an expression naming module-level state: a global mutable of this
    /// module, or `module.NAME` of an imported module.
    pub fn state_key(&self, node: Node) -> Option<String> {
        match node.kind() {
            "identifier" => {
                let name = self.text(node);
                (self.mutables.contains(name) && self.is_global(name))
                    .then(|| format!("{}.{name}", self.module))
            }
            "attribute" => {
                let obj = node.child_by_field_name("object")?;
                if obj.kind() != "identifier" {
                    return None;
                }
                let alias = self.text(obj);
                let q = self.imports.get(alias)?;
                if !self.is_global(alias) {
                    return None;
                }
                // `mod.NAME` where `mod` is a module (not a class or function imported by name:
                // those start with an upper-case letter or are called).
                let attr = self.text(node.child_by_field_name("attribute")?);
                let last = q.rsplit('.').next().unwrap_or(q);
                if last.chars().next().is_some_and(char::is_uppercase)
                    || attr.chars().next().is_some_and(char::is_uppercase)
                {
                    return None;
                }
                let key = format!("{q}.{attr}");
                (!self.submodules.contains(&key)).then_some(key)
            }
            _ => None,
        }
    }

    /// The parameter on whose being passed or not alone `node` depends: `p or node`, `node if
    /// p is None else p`, `if p is None: … node …` (reached only when `p` is not passed);
    /// `p and node`, `if p: … node …`, `elif p:` (only when it is). The innermost condition
    /// that names a parameter decides.
    pub fn guard(&self, node: Node) -> Option<Guard> {
        if let Some(g) = &self.default_of {
            return Some(g.clone());
        }
        // Tests are not called with arguments (their parameters are fixtures).
        if self.params.is_empty() || self.test_code {
            return None;
        }
        // `cond` decides whether `child` runs: it runs when `cond` is `when`.
        let decide = |cond: Node, when: bool| -> Option<Guard> {
            let (index, test, positive) = self.param_in(cond)?;
            Some(Guard {
                param: self.params[index].clone(),
                default: self.defaults.get(index).cloned().flatten(),
                index,
                test,
                when: when == positive,
            })
        };
        let mut nested = self.nested_fns;
        let mut child = node;
        let mut cur = node.parent();
        while let Some(n) = cur {
            let found = match n.kind() {
                "function_definition" | "lambda" if nested > 0 => {
                    nested -= 1;
                    None
                }
                "function_definition" | "lambda" | "class_definition" | "module" => break,
                "boolean_operator" => {
                    let left = n.child_by_field_name("left")?;
                    let op = n.child_by_field_name("operator").map(|o| o.kind());
                    if left.id() != child.id() {
                        // `left or child`: child runs when left is false; `and`: when true.
                        decide(left, op == Some("and"))
                    } else {
                        None
                    }
                }
                "conditional_expression" => {
                    let mut c = n.walk();
                    let parts: Vec<Node> = n.named_children(&mut c).collect();
                    if parts.len() == 3 && parts[1].id() != child.id() {
                        decide(parts[1], parts[0].id() == child.id())
                    } else {
                        None
                    }
                }
                "if_statement" | "elif_clause" => match n.child_by_field_name("condition") {
                    Some(cond) if cond.id() != child.id() => {
                        // The consequence runs when the condition holds; an `elif` or `else`
                        // of an `if` only when it does not.
                        let in_consequence = n
                            .child_by_field_name("consequence")
                            .is_some_and(|b| b.id() == child.id());
                        decide(cond, in_consequence)
                    }
                    _ => None,
                },
                _ => None,
            };
            if found.is_some() {
                return found;
            }
            child = n;
            cur = n.parent();
        }
        None
    }

    /// A parameter tested by a condition (`p`, `not p`, `p is None`, `p is not None`, `p ==
    /// "/"`): its position, the test, and whether the condition holds when the test does
    /// (`false` for `not p`, `is not`, `!=`). Other conditions (`p > 3`, `p.x`) guard nothing.
    fn param_in(&self, cond: Node) -> Option<(usize, Test, bool)> {
        let param = |n: Node| -> Option<usize> {
            (n.kind() == "identifier")
                .then(|| self.params.iter().position(|p| p == self.text(n)))
                .flatten()
        };
        match cond.kind() {
            "identifier" => Some((param(cond)?, Test::Truthy, true)),
            "parenthesized_expression" => self.param_in(cond.named_child(0)?),
            "not_operator" => {
                let (i, t, positive) = self.param_in(cond.child_by_field_name("argument")?)?;
                Some((i, t, !positive))
            }
            "comparison_operator" => {
                let mut c = cond.walk();
                let parts: Vec<Node> = cond.children(&mut c).collect();
                let [left, op @ .., right] = parts.as_slice() else {
                    return None;
                };
                let i = param(*left)?;
                let Arg::Literal(lit) = Arg::of(*right, self.src, &[]) else {
                    return None;
                };
                let test = if lit == "None" {
                    Test::IsNone
                } else {
                    Test::Equals(lit)
                };
                let ops: Vec<&str> = op.iter().map(|o| self.text(*o)).collect();
                let positive = match ops.as_slice() {
                    ["is"] | ["=="] => true,
                    ["is not"] | ["is", "not"] | ["!="] => false,
                    _ => return None,
                };
                Some((i, test, positive))
            }
            _ => None,
        }
    }

    /// What a call's function points at.
    pub fn target(&self, func: Node) -> Option<Target> {
        // `super().method(…)`, `super(Class, self).method(…)`: the bases' method (resolved by
        // the project pass, which knows the bases of other modules).
        if func.kind() == "attribute"
            && let Some(obj) = func.child_by_field_name("object")
            && obj.kind() == "call"
            && obj
                .child_by_field_name("function")
                .is_some_and(|f| self.text(f) == "super")
            && let (Some(class), Some(attr)) =
                (self.class.as_ref(), func.child_by_field_name("attribute"))
        {
            return Some(Target::Local(format!(
                "{class}.super().{}",
                self.text(attr)
            )));
        }
        let path = dotted(func, self.src)?;
        let (first, rest) = match path.split_once('.') {
            Some((f, r)) => (f, Some(r)),
            None => (path.as_str(), None),
        };
        if first == "self" || first == "cls" {
            let class = self.class.as_ref()?;
            let rest = rest?;
            return (!rest.contains('.')).then(|| Target::Local(format!("{class}.{rest}")));
        }
        if self.is_global(first)
            && let Some(q) = self.imports.get(first)
        {
            return Some(Target::Qualified(match rest {
                Some(r) => format!("{q}.{r}"),
                None => q.clone(),
            }));
        }
        (self.is_global(first) && self.module_names.contains(first)).then_some(Target::Local(path))
    }
}

/// 1-based line, column and end column (on the first line) of a node.
pub(crate) fn span(node: Node) -> (u32, u32, u32) {
    let s = node.start_position();
    let e = node.end_position();
    let line = u32::try_from(s.row).unwrap_or(u32::MAX).saturating_add(1);
    let col = u32::try_from(s.column)
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let end = if e.row == s.row {
        u32::try_from(e.column)
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    } else {
        col.saturating_add(1)
    };
    (line, col, end.max(col.saturating_add(1)))
}

/// `a.b.c` for an identifier or a chain of attributes on one, else `None`.
pub(crate) fn dotted(node: Node, src: &[u8]) -> Option<String> {
    dotted_d(node, src, 0)
}

fn dotted_d(node: Node, src: &[u8], depth: usize) -> Option<String> {
    if depth > SHAPE_DEPTH {
        return None;
    }
    match node.kind() {
        "identifier" => node.utf8_text(src).ok().map(str::to_string),
        "attribute" => {
            let obj = dotted_d(node.child_by_field_name("object")?, src, depth + 1)?;
            let attr = node.child_by_field_name("attribute")?.utf8_text(src).ok()?;
            Some(format!("{obj}.{attr}"))
        }
        _ => None,
    }
}

/// The text of a plain string literal (no interpolation), `None` for anything else.
pub(crate) fn string_value(node: Node, src: &[u8]) -> Option<String> {
    match node.kind() {
        "string" => {
            let mut out = String::new();
            let mut c = node.walk();
            for ch in node.named_children(&mut c) {
                match ch.kind() {
                    "string_content" => out.push_str(ch.utf8_text(src).ok()?),
                    "interpolation" => return None,
                    _ => {}
                }
            }
            Some(out)
        }
        "concatenated_string" => {
            let mut out = String::new();
            let mut c = node.walk();
            for ch in node.named_children(&mut c) {
                out.push_str(&string_value(ch, src)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// The first literal string in a string node, f-strings included (`f"/tmp/{x}"` → `/tmp/`).
pub(crate) fn string_prefix(node: Node, src: &[u8]) -> Option<String> {
    if node.kind() == "concatenated_string" {
        return node.named_child(0).and_then(|n| string_prefix(n, src));
    }
    if node.kind() != "string" {
        return None;
    }
    let mut c = node.walk();
    let mut out = String::new();
    for ch in node.named_children(&mut c) {
        match ch.kind() {
            "string_content" => out.push_str(ch.utf8_text(src).ok()?),
            "interpolation" => break,
            _ => {}
        }
    }
    Some(out)
}

/// The call's positional arguments (a generator argument counts as one).
pub(crate) fn positional(call: Node) -> Vec<Node> {
    let mut pos = Vec::new();
    let Some(list) = call.child_by_field_name("arguments") else {
        return pos;
    };
    if list.kind() == "generator_expression" {
        pos.push(list);
        return pos;
    }
    let mut c = list.walk();
    for a in list.named_children(&mut c) {
        if !matches!(
            a.kind(),
            "keyword_argument" | "comment" | "list_splat" | "dictionary_splat"
        ) {
            pos.push(a);
        }
    }
    pos
}

/// The value of keyword argument `name`.
pub(crate) fn kwarg<'t>(call: Node<'t>, name: &str, src: &[u8]) -> Option<Node<'t>> {
    let list = call.child_by_field_name("arguments")?;
    let mut c = list.walk();
    for a in list.named_children(&mut c) {
        if a.kind() == "keyword_argument"
            && a.child_by_field_name("name")
                .and_then(|n| n.utf8_text(src).ok())
                == Some(name)
        {
            return a.child_by_field_name("value");
        }
    }
    None
}

/// Whether an expression builds a mutable container (`[]`, `{}`, `set()`, `dict(...)`, ...).
fn is_mutable_container(node: Node, src: &[u8]) -> bool {
    match node.kind() {
        "list"
        | "dictionary"
        | "set"
        | "list_comprehension"
        | "dictionary_comprehension"
        | "set_comprehension" => true,
        "call" => node
            .child_by_field_name("function")
            .and_then(|f| dotted(f, src))
            .is_some_and(|f| {
                matches!(
                    f.rsplit('.').next().unwrap_or(""),
                    "list" | "dict" | "set" | "defaultdict" | "OrderedDict" | "Counter" | "deque"
                )
            }),
        _ => false,
    }
}

/// Suppressions from comments: line → rule ids (`*` for all).
fn suppression(text: &str) -> Option<Vec<String>> {
    let at = text.find("flakehound:")?;
    let rest = text[at + "flakehound:".len()..].trim_start();
    let rest = rest.strip_prefix("ignore")?;
    match rest.strip_prefix('[') {
        Some(list) => {
            let list = list.split(']').next().unwrap_or("");
            Some(
                list.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            )
        }
        None => Some(vec!["*".to_string()]),
    }
}

/// Parses and analyses one Python file. `name` is its dotted module name; `test_code` whether
/// it is a test file (test-only rules apply).
pub fn analyse(src: &[u8], name: &str, test_code: bool) -> Result<ModuleFacts, String> {
    analyse_with(src, name, test_code, &Naming::default())
}

/// [`analyse`] with the project's pytest collection settings.
pub fn analyse_with(
    src: &[u8],
    name: &str,
    test_code: bool,
    naming: &Naming,
) -> Result<ModuleFacts, String> {
    // One parser per thread, reused from file to file.
    thread_local! {
        static PARSER: std::cell::RefCell<Option<Parser>> = const { std::cell::RefCell::new(None) };
    }
    let tree = PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut p = Parser::new();
            p.set_language(&tree_sitter_python::LANGUAGE.into())
                .map_err(|e| format!("cannot load the Python grammar: {e}"))?;
            *slot = Some(p);
        }
        let parser = slot.as_mut().ok_or_else(|| "no parser".to_string())?;
        crate::lang::parse_bounded(parser, src).ok_or_else(|| "the parser gave up".to_string())
    })?;
    let root = tree.root_node();
    let mut m = ModuleFacts {
        name: name.to_string(),
        ..Default::default()
    };
    if root.has_error() {
        m.syntax_error = Some(first_error(root).map_or(1, |n| span(n).0));
    }
    // Imports and suppression comments, anywhere in the file.
    let mut pre = Prepass::default();
    prepass(root, src, name, &mut m.imports, &mut pre, 0);
    let Prepass {
        suppressed,
        declared_global,
        submodules,
    } = pre;

    // Module-level names, mutable containers among them.
    let mut module_names = HashSet::new();
    let mut mutables = HashSet::new();
    let mut c = root.walk();
    let top: Vec<Node> = root.named_children(&mut c).collect();
    for stmt in &top {
        let stmt = unwrap_decorated(*stmt);
        match stmt.kind() {
            "expression_statement" => {
                if let Some(a) = stmt.named_child(0)
                    && a.kind() == "assignment"
                    && let (Some(l), Some(r)) = (
                        a.child_by_field_name("left"),
                        a.child_by_field_name("right"),
                    )
                    && l.kind() == "identifier"
                {
                    let n = l.utf8_text(src).unwrap_or("").to_string();
                    if is_mutable_container(r, src) {
                        mutables.insert(n.clone());
                    }
                    module_names.insert(n);
                }
            }
            "function_definition" | "class_definition" => {
                if let Some(n) = stmt.child_by_field_name("name") {
                    module_names.insert(n.utf8_text(src).unwrap_or("").to_string());
                }
            }
            _ => {}
        }
    }
    // A module-level name some function rebinds with `global` is state too (a flag, a counter).
    for n in &declared_global {
        if module_names.contains(n) {
            mutables.insert(n.clone());
        }
    }
    let env = Env {
        src,
        imports: &m.imports.clone(),
        submodules: &submodules,
        mutables: &mutables,
        module_names: &module_names,
        module: name,
        test_code,
        naming,
    };
    for stmt in top {
        top_level(&env, &mut m, stmt, None);
    }
    // Drop what a comment suppresses (on the line or the line before).
    let keep = |rule: &str, line: u32| {
        ![line, line.saturating_sub(1)].iter().any(|l| {
            suppressed
                .get(l)
                .is_some_and(|ids| ids.iter().any(|i| i == "*" || i == rule))
        })
    };
    let shared = rules::SHARED_STATE.id;
    for f in m.functions.values_mut().chain(m.globals.values_mut()) {
        f.hits.retain(|h| keep(h.rule.id, h.line));
        f.state.retain(|s| keep(shared, s.line));
    }
    m.loose.retain(|h| keep(h.rule.id, h.line));
    m.seeds_random =
        m.functions.values().any(|f| f.seeds_random) || m.globals.values().any(|f| f.seeds_random);
    Ok(m)
}

fn first_error(root: Node) -> Option<Node> {
    // Iterative: a file nested 50 000 levels deep must not overflow the stack.
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        let mut c = node.walk();
        let kids: Vec<Node> = node.children(&mut c).filter(|ch| ch.has_error()).collect();
        stack.extend(kids.into_iter().rev().take(1));
    }
    None
}

struct Env<'a> {
    src: &'a [u8],
    imports: &'a HashMap<String, String>,
    submodules: &'a HashSet<String>,
    mutables: &'a HashSet<String>,
    module_names: &'a HashSet<String>,
    module: &'a str,
    test_code: bool,
    naming: &'a Naming,
}

/// Whether pytest collects the methods of a class, and by which rule.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Collect {
    No,
    /// A class `python_classes` names: methods `python_functions` names.
    Pytest,
    /// A `unittest.TestCase`: its `test…` methods.
    Unittest,
}

impl<'a> Env<'a> {
    fn cx(&self, class: Option<String>) -> Cx<'a> {
        Cx {
            src: self.src,
            imports: self.imports,
            submodules: self.submodules,
            mutables: self.mutables,
            module_names: self.module_names,
            module: self.module,
            test_code: self.test_code,
            class,
            params: Vec::new(),
            defaults: Vec::new(),
            locals: HashSet::new(),
            global_decl: HashSet::new(),
            clock_vars: HashSet::new(),
            fixed_vars: HashSet::new(),
            elapsed_vars: HashSet::new(),
            numbers: HashMap::new(),
            scaled_vars: HashSet::new(),
            set_vars: HashSet::new(),
            result_vars: HashMap::new(),
            threads: Vec::new(),
            origins: Vec::new(),
            origin_at: HashMap::new(),
            call_origins: HashMap::new(),
            order_free_of: HashMap::new(),
            zone_origin: None,
            round_trips: HashSet::new(),
            bulk_origins: HashSet::new(),
            taints: HashMap::new(),
            aliases: HashMap::new(),
            shifts: HashMap::new(),
            value_sources: true,
            started: HashSet::new(),
            joined: false,
            default_of: None,
            seen_yield: false,
            asserts: 0,
            loops: 0,
            raises: 0,
            fake_clock: 0,
            finally: 0,
            nested_fns: 0,
            kept_names: Vec::new(),
            out: FnFacts::default(),
        }
    }
}

fn unwrap_decorated(node: Node) -> Node {
    if node.kind() == "decorated_definition" {
        node.child_by_field_name("definition").unwrap_or(node)
    } else {
        node
    }
}

/// What the pass over the whole file collects besides the imports.
#[derive(Default)]
struct Prepass {
    /// Suppression comments, by line.
    suppressed: HashMap<u32, Vec<String>>,
    /// Names some function declares `global`.
    declared_global: HashSet<String>,
    /// Dotted modules imported whole (`import aiofiles.os`).
    submodules: HashSet<String>,
}

fn prepass(
    node: Node,
    src: &[u8],
    module: &str,
    imports: &mut HashMap<String, String>,
    pre: &mut Prepass,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match node.kind() {
        "global_statement" => {
            let mut c = node.walk();
            for n in node.named_children(&mut c) {
                pre.declared_global
                    .insert(n.utf8_text(src).unwrap_or("").to_string());
            }
            return;
        }
        "comment" => {
            if let Some(ids) = node.utf8_text(src).ok().and_then(suppression) {
                pre.suppressed.entry(span(node).0).or_default().extend(ids);
            }
            return;
        }
        "import_statement" => {
            let mut c = node.walk();
            for n in node.named_children(&mut c) {
                match n.kind() {
                    "dotted_name" => {
                        let full = n.utf8_text(src).unwrap_or("");
                        let first = full.split('.').next().unwrap_or(full);
                        imports.insert(first.to_string(), first.to_string());
                        if full.contains('.') {
                            pre.submodules.insert(full.to_string());
                        }
                    }
                    "aliased_import" => {
                        if let (Some(name), Some(alias)) = (
                            n.child_by_field_name("name"),
                            n.child_by_field_name("alias"),
                        ) {
                            imports.insert(
                                alias.utf8_text(src).unwrap_or("").to_string(),
                                name.utf8_text(src).unwrap_or("").to_string(),
                            );
                        }
                    }
                    _ => {}
                }
            }
            return;
        }
        "import_from_statement" => {
            let Some(mname) = node.child_by_field_name("module_name") else {
                return;
            };
            let base = if mname.kind() == "relative_import" {
                let text = mname.utf8_text(src).unwrap_or("");
                let dots = text.chars().take_while(|c| *c == '.').count();
                let rest = &text[dots..];
                let mut parts: Vec<&str> = module.split('.').collect();
                for _ in 0..dots {
                    parts.pop();
                }
                if !rest.is_empty() {
                    parts.push(rest);
                }
                parts.join(".")
            } else {
                mname.utf8_text(src).unwrap_or("").to_string()
            };
            let mut c = node.walk();
            for n in node.children_by_field_name("name", &mut c) {
                let (name, alias) = match n.kind() {
                    "aliased_import" => (
                        n.child_by_field_name("name")
                            .and_then(|x| x.utf8_text(src).ok())
                            .unwrap_or(""),
                        n.child_by_field_name("alias")
                            .and_then(|x| x.utf8_text(src).ok())
                            .unwrap_or(""),
                    ),
                    _ => {
                        let t = n.utf8_text(src).unwrap_or("");
                        (t, t)
                    }
                };
                if !alias.is_empty() {
                    let q = if base.is_empty() {
                        name.to_string()
                    } else {
                        format!("{base}.{name}")
                    };
                    imports.insert(alias.to_string(), q);
                }
            }
            return;
        }
        _ => {}
    }
    let mut c = node.walk();
    for ch in node.children(&mut c) {
        prepass(ch, src, module, imports, pre, depth + 1);
    }
}

/// A statement at module or class level.
fn top_level(env: &Env, m: &mut ModuleFacts, stmt: Node, class: Option<(&str, Collect)>) {
    let (def, decorators) = if stmt.kind() == "decorated_definition" {
        let mut c = stmt.walk();
        let decos: Vec<Node> = stmt
            .named_children(&mut c)
            .filter(|n| n.kind() == "decorator")
            .collect();
        (unwrap_decorated(stmt), decos)
    } else {
        (stmt, Vec::new())
    };
    match def.kind() {
        "function_definition" => {
            let Some(name) = def
                .child_by_field_name("name")
                .and_then(|n| n.utf8_text(env.src).ok())
            else {
                return;
            };
            let key = match class {
                Some((c, _)) => format!("{c}.{name}"),
                None => name.to_string(),
            };
            let mut cx = env.cx(class.map(|(c, _)| c.to_string()));
            cx.out.line = span(def).0;
            for d in &decorators {
                usefixtures_in(*d, env.src, &mut cx.out.usefixtures, 0);
                let expr = d.named_child(0);
                let target = expr.map(|e| {
                    if e.kind() == "call" {
                        e.child_by_field_name("function").unwrap_or(e)
                    } else {
                        e
                    }
                });
                if let Some(t) = target.and_then(|t| cx.target(t)) {
                    cx.out.decorated_by.push(t);
                }
                if let Some(q) = target.and_then(|t| cx.qname(t)) {
                    if q.ends_with("fixture") {
                        cx.out.is_fixture = true;
                    }
                    cx.out.decorators.push(q);
                }
            }
            function(&mut cx, def);
            cx.out.ends_process = rules::state::ends_process(&cx, def);
            let is_test = match class {
                None | Some((_, Collect::Pytest)) => env.naming.is_test_function(name),
                Some((_, Collect::Unittest)) => name.starts_with("test"),
                Some((_, Collect::No)) => false,
            };
            if cx.out.is_fixture {
                m.fixtures.insert(name.to_string());
                m.fixtures.insert(key.clone());
                if decorators
                    .iter()
                    .any(|d| cx.text(*d).replace(' ', "").contains("autouse=True"))
                {
                    m.autouse.push(key.clone());
                }
            }
            if is_test && env.test_code && !cx.out.is_fixture {
                rules::retry::decorators(&mut cx, &decorators);
                m.tests.push(TestFn {
                    name: key.replace('.', "::"),
                    key: key.clone(),
                    setup: Vec::new(),
                    module: None,
                });
            }
            m.functions.insert(key, cx.out);
        }
        "class_definition" => {
            let Some(name) = def
                .child_by_field_name("name")
                .and_then(|n| n.utf8_text(env.src).ok())
            else {
                return;
            };
            let qual = match class {
                Some((c, _)) => format!("{c}.{name}"),
                None => name.to_string(),
            };
            let bases = def
                .child_by_field_name("superclasses")
                .and_then(|b| b.utf8_text(env.src).ok())
                .unwrap_or("");
            let dataclass = decorators
                .iter()
                .any(|d| d.utf8_text(env.src).is_ok_and(|t| t.contains("dataclass")));
            m.classes.insert(qual.clone());
            if class.is_none()
                && let Some(sup) = def.child_by_field_name("superclasses")
            {
                let mut c = sup.walk();
                let local: Vec<String> = sup
                    .named_children(&mut c)
                    .filter(|b| b.kind() == "identifier")
                    .filter_map(|b| b.utf8_text(env.src).ok())
                    .filter(|b| m.classes.contains(*b) && *b != qual)
                    .map(str::to_string)
                    .collect();
                if !local.is_empty() {
                    m.class_bases.insert(qual.clone(), local);
                }
                let cx = env.cx(None);
                let mut c = sup.walk();
                let foreign: Vec<Target> = sup
                    .named_children(&mut c)
                    .filter(|b| matches!(b.kind(), "identifier" | "attribute"))
                    .filter(|b| !m.classes.contains(cx.text(*b)))
                    .filter_map(|b| cx.target(b))
                    .filter(|t| matches!(t, Target::Qualified(_)))
                    .collect();
                if !foreign.is_empty() {
                    m.foreign_bases.insert(qual.clone(), foreign);
                }
            }
            // A subclass of a unittest class of this module (`class Unfrozen(Base)` where
            // `class Base(unittest.TestCase)`) is a unittest class whatever its name.
            let local_unittest_base = m.class_bases.get(&qual).is_some_and(|local| {
                local
                    .iter()
                    .any(|b| m.test_classes.get(b).copied().unwrap_or(false))
            });
            let collect = if !env.test_code || dataclass {
                Collect::No
            } else if bases.contains("TestCase") || local_unittest_base {
                Collect::Unittest
            } else if env.naming.is_test_class(name) {
                Collect::Pytest
            } else {
                Collect::No
            };
            if class.is_none() && collect != Collect::No {
                m.test_classes
                    .insert(qual.clone(), collect == Collect::Unittest);
            }
            let before = m.tests.len();
            // Class decorators (`@freeze_time(…)` on a TestCase) apply to every method.
            let class_marks: Vec<String> = {
                let cx = env.cx(None);
                decorators
                    .iter()
                    .filter_map(|d| d.named_child(0))
                    .filter_map(|e| {
                        let t = if e.kind() == "call" {
                            e.child_by_field_name("function").unwrap_or(e)
                        } else {
                            e
                        };
                        cx.qname(t)
                    })
                    .collect()
            };
            let methods_before: HashSet<String> = m.functions.keys().cloned().collect();
            if let Some(body) = def.child_by_field_name("body") {
                let mut c = body.walk();
                let stmts: Vec<Node> = body.named_children(&mut c).collect();
                for s in stmts {
                    top_level(env, m, s, Some((&qual, collect)));
                }
            }
            let setup = class_setup(m, &qual);
            // A thread started in set-up and joined in tear-down (pexpect's socket server
            // process) is waited for: the set-up's `thread-no-join` is withdrawn.
            let teardowns = class_teardown(m, &qual);
            let teardown_joins = teardowns.iter().any(|k| m.functions[k].joins);
            // Module state changed in set-up and written again in tear-down (sqlitedict's
            // `sys.meta_path.insert(…)` in `setUp`, `sys.meta_path = self.orig_meta_path` in
            // `tearDown`) is restored around every test: the set-up's change is withdrawn.
            let restored: HashSet<String> = teardowns
                .iter()
                .flat_map(|k| m.functions[k].state.iter())
                .filter(|st| st.op != StateOp::Read)
                .map(|st| st.key.clone())
                .collect();
            // A tear-down's writes put the state back: they reset it (the tests are followed
            // into their class's tear-down).
            for k in &teardowns {
                if let Some(f) = m.functions.get_mut(k) {
                    for st in &mut f.state {
                        if st.op != StateOp::Read {
                            st.op = StateOp::Reset;
                        }
                    }
                }
            }
            if !restored.is_empty() {
                for k in &setup {
                    if let Some(f) = m.functions.get_mut(k) {
                        f.state
                            .retain(|st| st.op == StateOp::Read || !restored.contains(&st.key));
                    }
                }
            }
            if teardown_joins {
                for k in &setup {
                    if let Some(f) = m.functions.get_mut(k) {
                        f.hits.retain(|h| h.rule.id != rules::THREAD_NO_JOIN.id);
                    }
                }
            }
            // What runs around each test: its set-up, and its tear-down after it (a clock read,
            // a sleep or a change there is the test's as much as its body's).
            let around: Vec<String> = setup.iter().chain(&teardowns).cloned().collect();
            for t in &mut m.tests[before..] {
                t.setup.extend(around.iter().cloned());
            }
            if collect != Collect::No && class.is_none() {
                inherited_tests(env, m, &qual, collect, &around);
            }
            // `@pytest.mark.usefixtures(…)` on the class and its `pytestmark`: every method's.
            let mut class_fixtures = Vec::new();
            for d in &decorators {
                usefixtures_in(*d, env.src, &mut class_fixtures, 0);
            }
            if let Some(body) = def.child_by_field_name("body") {
                let mut c = body.walk();
                for st in body.named_children(&mut c) {
                    if st.kind() == "expression_statement" {
                        class_fixtures.extend(pytestmark_fixtures(st, env.src));
                    }
                }
            }
            if !class_marks.is_empty() || !class_fixtures.is_empty() {
                for (k, f) in m.functions.iter_mut() {
                    if !methods_before.contains(k) {
                        f.decorators.extend(class_marks.iter().cloned());
                        f.usefixtures.extend(class_fixtures.iter().cloned());
                    }
                }
            }
        }
        "expression_statement" if class.is_none() => {
            m.usefixtures.extend(pytestmark_fixtures(def, env.src));
            let Some(a) = def.named_child(0) else { return };
            let mut cx = env.cx(None);
            cx.out.line = span(def).0;
            walk(&mut cx, a, 0);
            let name = (a.kind() == "assignment")
                .then(|| a.child_by_field_name("left"))
                .flatten()
                .filter(|l| l.kind() == "identifier")
                .and_then(|l| l.utf8_text(env.src).ok());
            match name {
                Some(n) => {
                    m.globals.insert(n.to_string(), cx.out);
                }
                None => {
                    m.seeds_random |= cx.out.seeds_random;
                    m.loose.extend(cx.out.hits);
                }
            }
        }
        _ => {}
    }
}

/// The fixture names `pytest.mark.usefixtures("a", "b")` calls in an expression ask for (a
/// decorator, a `pytestmark` value, a list of marks).
fn usefixtures_in(node: Node, src: &[u8], out: &mut Vec<String>, depth: usize) {
    if depth > SHAPE_DEPTH {
        return;
    }
    if node.kind() == "call"
        && node
            .child_by_field_name("function")
            .and_then(|f| f.utf8_text(src).ok())
            .is_some_and(|f| f == "usefixtures" || f.ends_with(".usefixtures"))
    {
        if let Some(args) = node.child_by_field_name("arguments") {
            let mut c = args.walk();
            for a in args.named_children(&mut c) {
                if a.kind() == "string"
                    && let Some(t) = string_value(a, src)
                {
                    out.push(t);
                }
            }
        }
        return;
    }
    let mut c = node.walk();
    for k in node.named_children(&mut c) {
        usefixtures_in(k, src, out, depth + 1);
    }
}

/// The fixtures a `pytestmark = …` statement asks for, if it is one.
fn pytestmark_fixtures(stmt: Node, src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(a) = stmt.named_child(0)
        && a.kind() == "assignment"
        && a.child_by_field_name("left")
            .and_then(|l| l.utf8_text(src).ok())
            .is_some_and(|l| l == "pytestmark")
        && let Some(r) = a.child_by_field_name("right")
    {
        usefixtures_in(r, src, &mut out, 0);
    }
    out
}

/// Walks one function: parameters (defaults), body; then the families' end-of-function checks.
fn function(cx: &mut Cx, def: Node) {
    // Whether the value model has anything to follow here: a call that may be a draw or a
    // clock read, in the defaults (below) or the body (`collect_locals`). Most test functions
    // have none, and the model's walks are skipped for them.
    cx.value_sources = false;
    if let Some(params) = def.child_by_field_name("parameters") {
        cx.value_sources = cx.test_code && rules::value::any_source(cx, params);
        let mut c = params.walk();
        for p in params.named_children(&mut c) {
            let name = match p.kind() {
                "identifier" => Some(p),
                "default_parameter" | "typed_default_parameter" => p.child_by_field_name("name"),
                "typed_parameter" => p.named_child(0),
                _ => None,
            };
            if let Some(n) = name.and_then(|n| n.utf8_text(cx.src).ok()) {
                cx.params.push(n.to_string());
                let default = p
                    .child_by_field_name("value")
                    .map(|v| Arg::of(v, cx.src, &[]));
                cx.defaults.push(default);
            }
            if let Some(v) = p.child_by_field_name("value") {
                cx.default_of = cx.params.last().map(|n| Guard {
                    param: n.clone(),
                    index: cx.params.len() - 1,
                    test: Test::Given,
                    when: false,
                    default: None,
                });
                walk(cx, v, 0);
                cx.default_of = None;
            }
        }
    }
    // Names bound in the body are locals (unless declared global).
    if let Some(body) = def.child_by_field_name("body") {
        collect_locals(cx, body, 0);
        walk(cx, body, 0);
        rules::value::finish(cx);
    }
    // The test's own parameters are fixtures or the class instance: not function parameters
    // that a caller passes.
    cx.out.params = cx.params.clone();
    cx.out.defaults = cx.defaults.clone();
    if !cx.test_code
        && let Some(body) = def.child_by_field_name("body")
    {
        let kept = std::mem::take(&mut cx.kept_names);
        if !kept.is_empty() {
            let names: Vec<(&str, usize)> = kept
                .iter()
                .map(|(_, n, after)| (n.as_str(), *after))
                .collect();
            let uses = order_uses(cx, body, &names);
            for ((i, _, _), u) in kept.iter().zip(uses) {
                cx.out.calls[*i].kept = u;
            }
        }
        let names: Vec<(&str, usize)> = cx.params.iter().map(|p| (p.as_str(), 0)).collect();
        let order = order_uses(cx, body, &names);
        cx.out.param_order = order;
    }
    rules::threads::finish(cx, def);
}

fn collect_locals(cx: &mut Cx, node: Node, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match node.kind() {
        "global_statement" => {
            let mut c = node.walk();
            for n in node.named_children(&mut c) {
                cx.global_decl.insert(cx.text(n).to_string());
            }
        }
        "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
            if node.kind() != "augmented_assignment"
                && let Some(l) = node.child_by_field_name("left")
            {
                bind(cx, l);
            }
        }
        "function_definition" | "class_definition" => {
            if let Some(n) = node.child_by_field_name("name") {
                let n = cx.text(n).to_string();
                cx.locals.insert(n);
            }
            // The walk goes into nested definitions; so does the value model.
            if cx.test_code && !cx.value_sources {
                cx.value_sources = rules::value::any_source(cx, node);
            }
            return;
        }
        "call" if cx.test_code && !cx.value_sources => {
            cx.value_sources = rules::value::maybe_source(cx, node);
        }
        "with_clause" | "as_pattern" => {
            if let Some(a) = node.child_by_field_name("alias") {
                bind(cx, a);
            }
        }
        _ => {}
    }
    let mut c = node.walk();
    for ch in node.named_children(&mut c) {
        collect_locals(cx, ch, depth + 1);
    }
}

fn bind(cx: &mut Cx, target: Node) {
    match target.kind() {
        "identifier" => {
            let n = cx.text(target).to_string();
            cx.locals.insert(n);
        }
        "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "list"
        | "as_pattern_target" => {
            let mut c = target.walk();
            let kids: Vec<Node> = target.named_children(&mut c).collect();
            for k in kids {
                bind(cx, k);
            }
        }
        _ => {}
    }
}

/// `x.name` read in test code (not called as a method, not assigned to).
fn read_attribute(cx: &mut Cx, node: Node) {
    let Some(parent) = node.parent() else { return };
    let called = parent.kind() == "call" && parent.child_by_field_name("function") == Some(node);
    let assigned = matches!(parent.kind(), "assignment" | "augmented_assignment")
        && parent.child_by_field_name("left") == Some(node);
    if !called
        && !assigned
        && let Some(a) = node.child_by_field_name("attribute")
    {
        let name = cx.text(a);
        if !cx.out.attrs_read.contains(name) {
            cx.out.attrs_read.insert(name.to_string());
        }
    }
}

/// Pre-order walk: every family sees every node, in source order.
pub(crate) fn walk(cx: &mut Cx, node: Node, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let kind = node.kind();
    if kind == "call" {
        record_call(cx, node);
    }
    if kind == "attribute" && cx.test_code {
        read_attribute(cx, node);
    }
    rules::visit(cx, node);
    let (mut raises, mut fake) = (false, false);
    if kind == "with_statement" {
        let mut c = node.walk();
        for ch in node.children(&mut c) {
            if ch.kind() == "with_clause" {
                let t = cx.text(ch).to_ascii_lowercase();
                raises |= t.contains("raises");
                fake |= ["freeze", "mock", "patch", "travel", "frozen", "fake"]
                    .iter()
                    .any(|w| t.contains(w));
            }
        }
    }
    let counter = |cx: &mut Cx, up: bool| {
        let step = |n: &mut usize| {
            if up {
                *n += 1;
            } else {
                *n -= 1;
            }
        };
        match kind {
            "assert_statement" => step(&mut cx.asserts),
            "while_statement" | "for_statement" => step(&mut cx.loops),
            "finally_clause" => step(&mut cx.finally),
            "function_definition" | "lambda" => step(&mut cx.nested_fns),
            _ => {}
        }
        cx.out.defines_fn |= up && kind == "function_definition";
        if raises {
            step(&mut cx.raises);
        }
        if fake {
            step(&mut cx.fake_clock);
        }
    };
    counter(cx, true);
    let mut c = node.walk();
    for k in node.named_children(&mut c) {
        walk(cx, k, depth + 1);
    }
    counter(cx, false);
}

/// Whether `state` is what a `getstate()`/`get_state()` returned: the call itself, or a name
/// the enclosing function binds to one.
fn saved_state(cx: &Cx, call: Node, state: Node) -> bool {
    let getter = |n: Node| {
        n.kind() == "call"
            && n.child_by_field_name("function")
                .and_then(|f| f.child_by_field_name("attribute"))
                .is_some_and(|a| matches!(cx.text(a), "getstate" | "get_state"))
    };
    if getter(state) {
        return true;
    }
    if state.kind() != "identifier" && state.kind() != "attribute" {
        return false;
    }
    let name = cx.text(state);
    let Some(f) = rules::enclosing_function(call) else {
        return false;
    };
    rules::answer_in(f, |n| {
        (n.kind() == "assignment"
            && n.child_by_field_name("left")
                .is_some_and(|l| cx.text(l) == name)
            && n.child_by_field_name("right").is_some_and(getter))
        .then_some(true)
    })
    .unwrap_or(false)
}

fn record_call(cx: &mut Cx, call: Node) {
    let Some(func) = call.child_by_field_name("function") else {
        return;
    };
    if let Some(q) = cx.qname(func)
        && matches!(
            q.as_str(),
            "random.seed" | "numpy.random.seed" | "faker.Faker.seed" | "hypothesis.seed"
        )
    {
        cx.out.seeds_random = true;
    }
    // A generator of its own seeded with a value (`rng.seed(42)`, `self.random.seed(seed)`,
    // `fake.seed_instance(0)`): the draws the test reaches are most likely that generator's.
    // A `seed()` without a value seeds from the OS and is not counted here.
    if func.kind() == "attribute"
        && func
            .child_by_field_name("attribute")
            .is_some_and(|a| matches!(cx.text(a), "seed" | "seed_instance"))
        && !positional(call).is_empty()
    {
        cx.out.seeds_random = true;
    }
    // `random.setstate(state)`, `np.random.set_state(state)`, `rng.setstate(state)`: a given
    // state is a seed by another name (Faker's distribution test loads one from a JSON file).
    // Not a restore of what `getstate()` saved (`old = random.getstate()` … `setstate(old)`):
    // that puts back an unseeded generator.
    if func.kind() == "attribute"
        && func
            .child_by_field_name("attribute")
            .is_some_and(|a| matches!(cx.text(a), "setstate" | "set_state"))
        && let Some(state) = positional(call).first()
        && !saved_state(cx, call, *state)
    {
        cx.out.seeds_random = true;
    }
    if let Some(target) = cx.target(func) {
        let guard = cx.guard(call);
        let expects_error = cx.test_code && (cx.raises > 0 || in_assert_raises(cx, call));
        let returned = !cx.test_code
            && (rules::random::returned(cx, call) || rules::random::names_a_file(cx, call));
        cx.out.calls.push(Call {
            target,
            guard,
            expects_error,
            args: call_args(cx, call, None),
            reference: false,
            other_process: false,
            returned,
            kept: None,
        });
        // `names = find(…)`: how `names` is used decides whether its order is (see
        // `function`).
        if !cx.test_code
            && !returned
            && cx.nested_fns == 0
            && let Some(a) = call.parent().filter(|p| p.kind() == "assignment")
            && a.child_by_field_name("right") == Some(call)
            && let Some(l) = a
                .child_by_field_name("left")
                .filter(|l| l.kind() == "identifier")
        {
            let name = cx.text(l).to_string();
            cx.kept_names
                .push((cx.out.calls.len() - 1, name, a.end_byte()));
        }
    }
}

/// Calls that see no order in their argument.
const ORDER_FREE_FNS: &[&str] = &[
    "set",
    "frozenset",
    "sorted",
    "len",
    "any",
    "all",
    "min",
    "max",
    "sum",
    "bool",
];

/// How the uses of each name of `names` (each from its byte on) in `body` (not in functions
/// or classes defined there) see the order of its items ([`OrderUse`]).
fn order_uses(cx: &Cx, body: Node, names: &[(&str, usize)]) -> Vec<OrderUse> {
    let mut out: Vec<OrderUse> = vec![Some(Vec::new()); names.len()];
    if names.is_empty() {
        return out;
    }
    // (node, parent, grandparent, great-grandparent): tree-sitter finds a parent by walking
    // down from the root, so the walk keeps them.
    let mut stack: Vec<[Option<Node>; 4]> = vec![[Some(body), None, None, None]];
    let mut seen = 0usize;
    while let Some([Some(n), p, g, gg]) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            return vec![None; names.len()];
        }
        if n.kind() == "identifier"
            && let Some(i) = names
                .iter()
                .position(|(name, after)| cx.text(n) == *name && n.start_byte() >= *after)
            && out[i].is_some()
        {
            match order_use(cx, n, p, g, gg) {
                Use::Free => {}
                Use::Passed(t, slot) => {
                    if let Some(v) = &mut out[i] {
                        v.push((t, slot));
                    }
                }
                Use::Ordered => out[i] = None,
            }
            continue;
        }
        if matches!(
            n.kind(),
            "function_definition" | "class_definition" | "lambda"
        ) {
            continue;
        }
        let mut c = n.walk();
        for ch in n.named_children(&mut c) {
            stack.push([Some(ch), Some(n), p, g]);
        }
    }
    out
}

enum Use {
    /// Sees no order (or is no use of the value: the name rebound, a keyword's name).
    Free,
    Passed(Target, Slot),
    Ordered,
}

/// One use of a name, from its parents.
fn order_use(cx: &Cx, n: Node, p: Option<Node>, g: Option<Node>, gg: Option<Node>) -> Use {
    let Some(p) = p else { return Use::Ordered };
    // The callee a call's arguments go to: `functools.partial(f, …)` hands its keywords to `f`.
    let callee = |call: Node, keyword: bool| -> Option<Target> {
        let f = call.child_by_field_name("function")?;
        let partial = cx
            .qname(f)
            .is_some_and(|q| q == "functools.partial" || q == "partial");
        if partial {
            return if keyword {
                positional(call).first().and_then(|a| cx.target(*a))
            } else {
                None
            };
        }
        cx.target(f)
    };
    match p.kind() {
        "assignment" if p.child_by_field_name("left") == Some(n) => Use::Free,
        // A keyword's or an attribute's name, not the value.
        "keyword_argument" if p.child_by_field_name("name") == Some(n) => Use::Free,
        "attribute" if p.child_by_field_name("attribute") == Some(n) => Use::Free,
        "comparison_operator" => {
            let mut c = p.walk();
            let kids: Vec<Node> = p.children(&mut c).collect();
            let at = kids.iter().position(|k| *k == n);
            let op = at.and_then(|i| i.checked_sub(1)).map(|i| cx.text(kids[i]));
            if at.is_some_and(|i| i > 0) && matches!(op, Some("in" | "not in")) {
                Use::Free
            } else {
                Use::Ordered
            }
        }
        "argument_list" => {
            let Some(call) = g.filter(|g| g.kind() == "call") else {
                return Use::Ordered;
            };
            if call
                .child_by_field_name("function")
                .is_some_and(|f| f.kind() == "identifier" && ORDER_FREE_FNS.contains(&cx.text(f)))
            {
                return Use::Free;
            }
            let Some(i) = positional(call).iter().position(|a| *a == n) else {
                return Use::Ordered;
            };
            match callee(call, false) {
                Some(t) => Use::Passed(t, Slot::Pos(i)),
                None => Use::Ordered,
            }
        }
        "keyword_argument" if p.child_by_field_name("value") == Some(n) => {
            let (Some(call), Some(name)) = (
                gg.filter(|c| c.kind() == "call"),
                p.child_by_field_name("name"),
            ) else {
                return Use::Ordered;
            };
            match callee(call, true) {
                Some(t) => Use::Passed(t, Slot::Kw(cx.text(name).to_string())),
                None => Use::Ordered,
            }
        }
        _ => Use::Ordered,
    }
}

/// The arguments of a call as far as guards go ([`Args`]); with `after`, only the positional
/// ones after that argument (`assertRaises(E, f, *args)` calls `f` with what follows it).
pub(crate) fn call_args(cx: &Cx, call: Node, after: Option<usize>) -> Args {
    let mut out = Args::default();
    let Some(list) = call.child_by_field_name("arguments") else {
        return out;
    };
    // A test's parameters are fixtures, never passed on by a caller.
    let params: &[String] = if cx.test_code { &[] } else { &cx.params };
    let mut started = after.is_none();
    let mut c = list.walk();
    for a in list.named_children(&mut c) {
        match a.kind() {
            "keyword_argument" => {
                if let (Some(n), Some(v)) = (
                    a.child_by_field_name("name"),
                    a.child_by_field_name("value"),
                ) {
                    out.kw
                        .push((cx.text(n).to_string(), Arg::of(v, cx.src, params)));
                }
            }
            "list_splat" | "dictionary_splat" | "comment" => {}
            _ if !started => started = Some(a.id()) == after,
            _ => out.pos.push(Arg::of(a, cx.src, params)),
        }
    }
    out
}

/// Whether a call is an argument of `assertRaises(…)` (the `with …raises…` case is counted by
/// the walk).
fn in_assert_raises(cx: &Cx, call: Node) -> bool {
    raises_call(cx, call).is_some()
}

/// The `self.assertRaises(E, …)` / `pytest.raises(E, …)` call a node is an argument of: in
/// `assertRaises(E, f, *args, **kwargs)` the function `f` is called with the arguments after
/// it, expected to raise.
pub(crate) fn raises_call<'t>(cx: &Cx, node: Node<'t>) -> Option<Node<'t>> {
    node.parent()
        .filter(|p| p.kind() == "argument_list")
        .and_then(|p| p.parent())
        .filter(|call| {
            call.child_by_field_name("function").is_some_and(|f| {
                let t = cx.text(f);
                t.contains("assertRaises") || t == "raises" || t.ends_with(".raises")
            })
        })
}

/// unittest's and pytest's names of the methods run before each test of a class.
pub(crate) const SETUP_METHODS: &[&str] = &[
    "setUp",
    "setup_method",
    "setUpClass",
    "setup_class",
    "asyncSetUp",
    "setup",
];

/// And after it.
pub(crate) const TEARDOWN_METHODS: &[&str] = &[
    "tearDown",
    "teardown_method",
    "tearDownClass",
    "teardown_class",
    "asyncTearDown",
    "teardown",
];

/// Those of `names` that a class defines, as function keys.
fn class_methods(m: &ModuleFacts, class: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|s| format!("{class}.{s}"))
        .filter(|k| m.functions.contains_key(k))
        .collect()
}

/// The set-up methods a class defines, as function keys.
pub(crate) fn class_setup(m: &ModuleFacts, class: &str) -> Vec<String> {
    class_methods(m, class, SETUP_METHODS)
}

/// The tear-down methods a class defines, as function keys.
pub(crate) fn class_teardown(m: &ModuleFacts, class: &str) -> Vec<String> {
    class_methods(m, class, TEARDOWN_METHODS)
}

/// The methods a class defines that run around each of its tests: set-up, then tear-down.
pub(crate) fn class_around(m: &ModuleFacts, class: &str) -> Vec<String> {
    let mut v = class_setup(m, class);
    v.extend(class_teardown(m, class));
    v
}

/// The test methods a test class inherits from classes of its own module (pytest collects
/// them under the derived class: `ProxyRegionTest(RegionTest)` runs every `RegionTest` test
/// again, as `tests/…::ProxyRegionTest::test_x`). The method is followed where it is defined;
/// the derived class's set-up runs first, else the base's. Bases from other modules are the
/// project pass's (`World::foreign_tests`): their modules are parsed only when imported.
fn inherited_tests(env: &Env, m: &mut ModuleFacts, qual: &str, collect: Collect, setup: &[String]) {
    let mut bases: Vec<String> = m.class_bases.get(qual).cloned().unwrap_or_default();
    // A base's own bases too (a short chain; cycles are impossible in valid Python but bounded).
    let mut i = 0;
    while i < bases.len() && bases.len() < 16 {
        let more: Vec<String> = m
            .class_bases
            .get(&bases[i])
            .map(|v| v.iter().filter(|b| !bases.contains(b)).cloned().collect())
            .unwrap_or_default();
        bases.extend(more);
        i += 1;
    }
    // The methods the class defines itself (they override), then each inherited one once.
    let own = format!("{qual}.");
    let mut seen: HashSet<String> = m
        .functions
        .keys()
        .filter_map(|k| k.strip_prefix(&own).map(str::to_string))
        .collect();
    let mut add = Vec::new();
    for base in &bases {
        let prefix = format!("{base}.");
        let mut methods: Vec<(&String, &FnFacts)> = m
            .functions
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('.'))
            })
            .collect();
        methods.sort_by_key(|(_, f)| f.line);
        for (key, f) in methods {
            let method = &key[base.len() + 1..];
            let is_test = match collect {
                Collect::Unittest => method.starts_with("test"),
                _ => env.naming.is_test_function(method),
            };
            if !is_test || f.is_fixture || !seen.insert(method.to_string()) {
                continue;
            }
            let mut setup: Vec<String> = setup.to_vec();
            if setup.is_empty() {
                setup = class_around(m, base);
            }
            add.push(TestFn {
                name: format!("{qual}::{method}"),
                key: key.clone(),
                setup,
                module: None,
            });
        }
    }
    m.tests.extend(add);
}
