//! Go: `_test.go` files parsed with tree-sitter-go. Four rules, inside `Test…` functions only
//! (calls are not followed into the package yet):
//!
//! - `sleep-wait`: `time.Sleep(…)` of 10 ms or more, not inside a `for` loop (polling);
//! - `unseeded-random`: `math/rand` (or `math/rand/v2`) package-level draws, when the file never
//!   calls `rand.Seed`/`rand.New(rand.NewSource(…))`;
//! - `fixed-tmp-path`: a `"/tmp/…"` literal passed to a call (`t.TempDir()` is the fix);
//! - `real-network`: `http.Get`/`Post`/`Head`/`net.Dial` with a literal address outside the
//!   machine.
//!
//! Test ids are `go test -json`'s as flakehound stores them: `import/path::TestName`.

use crate::python::Hit;
use crate::rules::{FIXED_TMP_PATH, REAL_NETWORK, SLEEP_WAIT, UNSEEDED_RANDOM};
use std::collections::HashMap;
use tree_sitter::{Node, Parser};

const MAX_DEPTH: usize = 300;

/// What the rules found in a file: (test function, hit).
pub struct GoFacts {
    pub hits: Vec<(String, Hit)>,
    pub tests: usize,
    pub syntax_error: bool,
}

struct Walk<'a> {
    src: &'a [u8],
    /// Local package name → import path.
    imports: HashMap<String, String>,
    loops: usize,
    out: Vec<Hit>,
    seeds: bool,
}

impl Walk<'_> {
    fn text(&self, n: Node) -> &str {
        n.utf8_text(self.src).unwrap_or("")
    }

    /// `pkg.Name` with `pkg` resolved to its import path: `time.Sleep`, `math/rand.Intn`.
    fn callee(&self, call: Node) -> Option<String> {
        let f = call.child_by_field_name("function")?;
        if f.kind() != "selector_expression" {
            return None;
        }
        let operand = f.child_by_field_name("operand")?;
        if operand.kind() != "identifier" {
            return None;
        }
        let path = self.imports.get(self.text(operand))?;
        let field = self.text(f.child_by_field_name("field")?);
        Some(format!("{path}.{field}"))
    }

    fn hit(&mut self, rule: &'static crate::Rule, node: Node, detail: String) {
        let (line, col, end_col) = crate::python::span(node);
        self.out.push(Hit {
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

    fn walk(&mut self, node: Node, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let is_loop = node.kind() == "for_statement";
        if node.kind() == "call_expression" {
            self.call(node);
        }
        self.loops += usize::from(is_loop);
        let mut c = node.walk();
        let kids: Vec<Node> = node.named_children(&mut c).collect();
        for k in kids {
            self.walk(k, depth + 1);
        }
        self.loops -= usize::from(is_loop);
    }

    fn args(call: Node) -> Vec<Node> {
        let Some(list) = call.child_by_field_name("arguments") else {
            return Vec::new();
        };
        let mut c = list.walk();
        list.named_children(&mut c).collect()
    }

    fn literal(&self, n: Node) -> Option<String> {
        matches!(
            n.kind(),
            "interpreted_string_literal" | "raw_string_literal"
        )
        .then(|| {
            let t = self.text(n);
            t.trim_matches(|c| c == '"' || c == '`').to_string()
        })
    }

    fn call(&mut self, call: Node) {
        let args = Self::args(call);
        if let Some(q) = self.callee(call) {
            match q.as_str() {
                "time.Sleep" if self.loops == 0 => {
                    // `time.Sleep(time.Millisecond)` and literals under 10 ms tick.
                    let a = args.first().map(|a| self.text(*a)).unwrap_or("");
                    let tick = a == "time.Millisecond"
                        || a == "time.Microsecond"
                        || a == "time.Nanosecond"
                        || a.parse::<f64>().is_ok_and(|v| v < 10_000_000.0);
                    if !tick {
                        self.hit(&SLEEP_WAIT, call, format!("`time.Sleep({a})`"));
                    }
                }
                q if q.starts_with("math/rand.") || q.starts_with("math/rand/v2.") => {
                    let f = q.rsplit('.').next().unwrap_or("");
                    if matches!(f, "Seed" | "New" | "NewSource" | "NewPCG") {
                        self.seeds = true;
                    } else if f.chars().next().is_some_and(char::is_uppercase) {
                        let shown = format!("`rand.{f}(…)`");
                        self.hit(&UNSEEDED_RANDOM, call, shown);
                    }
                }
                "net/http.Get" | "net/http.Post" | "net/http.Head" | "net.Dial"
                | "net.DialTimeout" => {
                    let addr = args
                        .iter()
                        .filter_map(|a| self.literal(*a))
                        .find(|s| s.contains('.') || s.contains("://"));
                    if let Some(addr) = addr {
                        let host = addr
                            .split("://")
                            .last()
                            .unwrap_or("")
                            .split(['/', ':'])
                            .next()
                            .unwrap_or("")
                            .to_ascii_lowercase();
                        let local = host == "localhost"
                            || host.starts_with("127.")
                            || host.is_empty()
                            || host == "0.0.0.0";
                        if !local {
                            self.hit(&REAL_NETWORK, call, format!("`{q}` to {host}"));
                        }
                    }
                }
                _ => {}
            }
        }
        for a in &args {
            if let Some(s) = self.literal(*a)
                && (s.starts_with("/tmp/") || s.starts_with("/var/tmp/"))
            {
                self.hit(&FIXED_TMP_PATH, *a, format!("`{s}`"));
            }
        }
    }
}

fn suppression(text: &str) -> Option<Vec<String>> {
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

/// Parses one `_test.go` file and runs the Go rules over its `Test…` functions.
pub fn analyse(src: &[u8]) -> Result<GoFacts, String> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_go::LANGUAGE.into())
        .map_err(|e| format!("cannot load the Go grammar: {e}"))?;
    let tree = crate::lang::parse_bounded(&mut parser, src)
        .ok_or_else(|| "the parser gave up".to_string())?;
    let root = tree.root_node();
    let mut w = Walk {
        src,
        imports: HashMap::new(),
        loops: 0,
        out: Vec::new(),
        seeds: false,
    };
    let mut suppressed: HashMap<u32, Vec<String>> = HashMap::new();
    let mut funcs = Vec::new();
    // Imports, comments and functions are top-level (comments anywhere: a stack).
    let mut stack = vec![(root, 0usize)];
    while let Some((n, depth)) = stack.pop() {
        match n.kind() {
            "comment" => {
                if let Some(ids) = suppression(w.text(n)) {
                    suppressed
                        .entry(crate::python::span(n).0)
                        .or_default()
                        .extend(ids);
                }
                continue;
            }
            "import_spec" => {
                if let Some(p) = n.child_by_field_name("path") {
                    let path = w.text(p).trim_matches(|c| c == '"' || c == '`').to_string();
                    let name = n
                        .child_by_field_name("name")
                        .map(|x| w.text(x).to_string())
                        .unwrap_or_else(|| {
                            let last = path.rsplit('/').next().unwrap_or(&path);
                            // `math/rand/v2` is package `rand`.
                            if last.starts_with('v') && last[1..].parse::<u32>().is_ok() {
                                path.rsplit('/').nth(1).unwrap_or(last).to_string()
                            } else {
                                last.to_string()
                            }
                        });
                    w.imports.insert(name, path);
                }
                continue;
            }
            "function_declaration" => funcs.push(n),
            _ => {}
        }
        if depth < MAX_DEPTH {
            let mut c = n.walk();
            let kids: Vec<Node> = n.children(&mut c).collect();
            stack.extend(kids.into_iter().rev().map(|k| (k, depth + 1)));
        }
    }
    let mut hits = Vec::new();
    let mut tests = 0;
    for f in funcs {
        let Some(name) = f.child_by_field_name("name").map(|n| w.text(n).to_string()) else {
            continue;
        };
        let is_test =
            name.starts_with("Test") && name[4..].chars().next().is_none_or(|c| !c.is_lowercase());
        if let Some(body) = f.child_by_field_name("body") {
            w.out.clear();
            w.walk(body, 0);
            if is_test {
                tests += 1;
                hits.extend(w.out.drain(..).map(|h| (name.clone(), h)));
            }
        }
    }
    let keep = |rule: &str, line: u32| {
        ![line, line.saturating_sub(1)].iter().any(|l| {
            suppressed
                .get(l)
                .is_some_and(|ids| ids.iter().any(|i| i == "*" || i == rule))
        })
    };
    let seeded = w.seeds;
    hits.retain(|(_, h)| keep(h.rule.id, h.line) && !(seeded && h.rule.id == UNSEEDED_RANDOM.id));
    Ok(GoFacts {
        hits,
        tests,
        syntax_error: root.has_error(),
    })
}

/// The import path of the package in `dir`: go.mod's module path and the directory below it.
pub fn package_path(dir: &std::path::Path) -> Option<String> {
    for (up, a) in dir.ancestors().enumerate() {
        let d = if a.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            a
        };
        let gomod = d.join("go.mod");
        if let Ok(text) = std::fs::read_to_string(&gomod) {
            let module = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("module "))?
                .trim()
                .trim_matches('"')
                .to_string();
            let rel = dir.strip_prefix(a).ok()?;
            let rel = rel.to_string_lossy().replace('\\', "/");
            return Some(if rel.is_empty() {
                module
            } else {
                format!("{module}/{rel}")
            });
        }
        if up > 12 {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    fn rules(src: &str) -> Vec<(String, &'static str)> {
        super::analyse(src.as_bytes())
            .unwrap()
            .hits
            .into_iter()
            .map(|(t, h)| (t, h.rule.id))
            .collect()
    }

    #[test]
    fn go_rules_trigger_and_do_not() {
        let src = r#"package shop

import (
	"math/rand"
	"net/http"
	"os"
	"testing"
	"time"
)

func TestA(t *testing.T) {
	go work()
	time.Sleep(200 * time.Millisecond)
	n := rand.Intn(10)
	os.WriteFile("/tmp/shop.json", nil, 0o600)
	http.Get("https://api.example.com/x")
	_ = n
}

func TestB(t *testing.T) {
	for !done() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Millisecond)
	os.WriteFile(t.TempDir()+"/x", nil, 0o600)
	http.Get("http://127.0.0.1:8080/")
	time.Sleep(time.Second) // flakehound: ignore[sleep-wait]
}

func helper() { time.Sleep(time.Second) }
"#;
        assert_eq!(
            rules(src),
            [
                ("TestA".to_string(), "sleep-wait"),
                ("TestA".to_string(), "unseeded-random"),
                ("TestA".to_string(), "fixed-tmp-path"),
                ("TestA".to_string(), "real-network"),
            ]
        );
        let seeded = "package x\nimport (\"math/rand\"; \"testing\")\nfunc TestS(t *testing.T) {\n\tr := rand.New(rand.NewSource(1))\n\t_ = rand.Intn(3) + r.Intn(2)\n}\n";
        assert!(rules(seeded).is_empty());
    }
}
