//! The `[lint]` table of `.flakehound/config.toml`:
//!
//! ```toml
//! [lint]
//! disable = ["set-iteration-order"] # rule ids not to report
//! exclude = ["vendor/**", "tests/legacy/*.py"]  # globs (relative to the scanned path) to skip
//! pedantic = true                   # also the pedantic rules (low measured precision)
//! enable = ["sleep-wait"]           # or only these pedantic rules
//! ```
//!
//! A mistake (unknown key, unknown rule id, bad glob, invalid TOML) is reported and that
//! setting ignored; other tables belong to other commands and are left alone.

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Rule ids not reported.
    pub disable: Vec<String>,
    /// Pedantic rules reported too ([`crate::rules::Tier`]): all of them, or these ids.
    pub pedantic: bool,
    pub enable: Vec<String>,
    /// Globs of paths (relative to the scanned path, `/`-separated) not scanned.
    pub exclude: Vec<String>,
    exclude_set: Option<GlobSet>,
}

impl Config {
    /// Builds a config from rule ids and globs; problems (unknown rule, bad glob) are returned.
    pub fn new(disable: Vec<String>, exclude: Vec<String>) -> (Config, Vec<String>) {
        let mut problems = Vec::new();
        for id in &disable {
            if crate::rules::by_id(id).is_none() {
                problems.push(format!("unknown rule `{id}` in [lint] disable"));
            }
        }
        let mut b = GlobSetBuilder::new();
        let mut any = false;
        for g in &exclude {
            // `dir/` and `dir` exclude everything below too.
            let pats = [g.clone(), format!("{}/**", g.trim_end_matches('/'))];
            for p in pats {
                match Glob::new(&p) {
                    Ok(glob) => {
                        b.add(glob);
                        any = true;
                    }
                    Err(e) => {
                        problems.push(format!("bad glob `{g}` in [lint] exclude: {e}"));
                        break;
                    }
                }
            }
        }
        let exclude_set = if any { b.build().ok() } else { None };
        (
            Config {
                disable,
                exclude,
                exclude_set,
                ..Config::default()
            },
            problems,
        )
    }

    /// Whether a rule is on: not disabled, and in the default set or opted into.
    pub fn enabled(&self, id: &str) -> bool {
        if self.disable.iter().any(|d| d == id) {
            return false;
        }
        match crate::rules::by_id(id).map(|r| r.tier) {
            Some(crate::rules::Tier::Pedantic) => {
                self.pedantic || self.enable.iter().any(|e| e == id)
            }
            _ => true,
        }
    }

    /// Whether a finding that is a rule's weaker form (`Hit::pedantic`) is reported: with
    /// `pedantic`, or with the rule enabled by name.
    pub fn weak_enabled(&self, id: &str) -> bool {
        self.enabled(id) && (self.pedantic || self.enable.iter().any(|e| e == id))
    }

    /// Whether a path (relative to the scanned root) is excluded.
    pub fn excluded(&self, rel: &Path) -> bool {
        let s = rel.to_string_lossy().replace('\\', "/");
        self.exclude_set
            .as_ref()
            .is_some_and(|set| set.is_match(s.trim_start_matches("./")))
    }

    /// Reads the `[lint]` table of the config file at `path` (absent file: defaults).
    pub fn load(path: &Path) -> (Config, Vec<String>) {
        let shown = path.display().to_string();
        let text = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Config::default(), Vec::new());
            }
            Ok(m) if !m.is_file() || m.len() > 1024 * 1024 => {
                return (
                    Config::default(),
                    vec![format!(
                        "{shown}: not a config file; its [lint] settings are ignored"
                    )],
                );
            }
            _ => match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    return (
                        Config::default(),
                        vec![format!(
                            "{shown}: cannot read: {e}; its [lint] settings are ignored"
                        )],
                    );
                }
            },
        };
        Config::parse(&text, &shown)
    }

    /// Parses config text; `shown` names the file in problems.
    pub fn parse(text: &str, shown: &str) -> (Config, Vec<String>) {
        let doc = match text.parse::<toml_edit::DocumentMut>() {
            Ok(d) => d,
            Err(e) => {
                return (
                    Config::default(),
                    vec![format!(
                        "{shown}: invalid TOML ({}); its [lint] settings are ignored",
                        e.message()
                    )],
                );
            }
        };
        let mut problems = Vec::new();
        let mut disable = Vec::new();
        let mut exclude = Vec::new();
        let mut enable = Vec::new();
        let mut pedantic = false;
        if let Some(table) = doc.get("lint").and_then(|t| t.as_table_like()) {
            for (key, item) in table.iter() {
                let list = item.as_array().map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect::<Vec<_>>()
                });
                match (key, list) {
                    ("pedantic", _) => match item.as_bool() {
                        Some(b) => pedantic = b,
                        None => problems.push(format!(
                            "{shown}: [lint] pedantic must be true or false; ignored"
                        )),
                    },
                    ("disable", Some(l)) => disable = l,
                    ("exclude", Some(l)) => exclude = l,
                    ("enable", Some(l)) => enable = l,
                    ("disable" | "exclude" | "enable", None) => problems.push(format!(
                        "{shown}: [lint] {key} must be a list of strings; ignored"
                    )),
                    _ => problems.push(format!("{shown}: unknown key `{key}` in [lint]; ignored")),
                }
            }
        }
        let (mut config, mut more) = Config::new(disable, exclude);
        for id in &enable {
            if crate::rules::by_id(id).is_none() {
                more.push(format!("unknown rule `{id}` in [lint] enable"));
            }
        }
        config.enable = enable;
        config.pedantic = pedantic;
        problems.extend(more.into_iter().map(|p| format!("{shown}: {p}")));
        (config, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::Config;
    use std::path::Path;

    #[test]
    fn reads_the_lint_table_and_reports_mistakes() {
        let (c, problems) = Config::parse(
            "[run]\nretries = 2\n[lint]\ndisable = [\"sleep-wait\", \"nope\"]\nexclude = [\"vendor\"]\ncolour = 1\n",
            "config.toml",
        );
        assert!(!c.enabled("sleep-wait"));
        assert!(c.enabled("unseeded-random"));
        assert!(c.excluded(Path::new("vendor/x/test_a.py")));
        assert!(!c.excluded(Path::new("tests/test_a.py")));
        assert_eq!(problems.len(), 2, "{problems:?}");
        let (_, bad) = Config::parse("[lint\n", "c.toml");
        assert!(bad[0].contains("invalid TOML"));
    }

    #[test]
    fn pedantic_rules_only_when_opted_into() {
        let (c, problems) = Config::parse("", "c.toml");
        assert!(problems.is_empty());
        assert!(!c.enabled("sleep-wait"), "sleep-wait is pedantic");
        assert!(c.enabled("unseeded-random"));
        let (all, _) = Config::parse("[lint]\npedantic = true\n", "c.toml");
        assert!(all.enabled("sleep-wait"));
        let (one, problems) =
            Config::parse("[lint]\nenable = [\"sleep-wait\", \"nope\"]\n", "c.toml");
        assert!(one.enabled("sleep-wait"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        let (off, _) = Config::parse(
            "[lint]\npedantic = true\ndisable = [\"sleep-wait\"]\n",
            "c.toml",
        );
        assert!(!off.enabled("sleep-wait"), "disable wins");
        let (bad, problems) = Config::parse("[lint]\npedantic = \"yes\"\n", "c.toml");
        assert!(!bad.pedantic);
        assert_eq!(problems.len(), 1, "{problems:?}");
    }
}
