//! What every command works in, resolved once by `main`: the store's location and project, the
//! repository root, today, colour. Commands open the store through it and never look at `--db`
//! themselves.
//!
//! # The project
//!
//! Every run in a store belongs to a project, and every read sees one project. The project is
//! `--project` (after the command's name, else before it), else `FLAKEHOUND_PROJECT`: then it is
//! *explicit*. Else it is derived from the checkout ([`flakehound_ci::project_of`]: the git
//! remote as `host/owner/name`, else the git root's name, else the directory's name).
//!
//! A store that already holds runs decides for a derived project (see [`choose`]):
//! - it holds exactly one project: that one is used, whatever was derived (a local store keeps
//!   working from any directory, and the first project written claims a fresh store);
//! - it holds several, and the derived one is among them: that one;
//! - it holds several, and not the derived one: a command that reads fails, naming them; one
//!   that writes starts the derived project.
//!
//! An explicit project is used as given; a command that reads fails when the store holds runs
//! but none of that project (a typo would otherwise show an empty report).

use anyhow::{Context as _, Result, bail};
use flakehound_store::{Location, Store};
use jiff::civil::Date;
use std::path::{Path, PathBuf};

/// The project a command works on, and whether the user named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    /// Named by `--project` or `FLAKEHOUND_PROJECT` (else derived from the checkout).
    pub explicit: bool,
}

pub struct Context {
    /// Where the store is.
    pub location: Location,
    /// `--db` or `FLAKEHOUND_DB` as given; `None` for the default location.
    given_db: Option<String>,
    pub project: Project,
    /// The git root, else the current directory.
    pub root: PathBuf,
    /// Today's date: local, or `FLAKEHOUND_TODAY` (`YYYY-MM-DD`) for reproducible runs; the
    /// error when that variable is malformed.
    today: std::result::Result<Date, String>,
    /// Whether to colour output.
    pub color: bool,
}

impl Context {
    /// Resolves the context: `db` and `project` are the flags (after the command's name, else
    /// before it, else the environment), as given.
    pub fn resolve(db: Option<String>, project: Option<String>, color: bool) -> Result<Context> {
        let cwd = std::env::current_dir().context("cannot determine the current directory")?;
        // Everything this command will ask git about the checkout, at once.
        flakehound_ci::prefetch(&cwd);
        let root = flakehound_ci::git_root(&cwd).unwrap_or_else(|| cwd.clone());
        let location = match &db {
            Some(db) => Location::parse(db),
            None => Location::Sqlite(root.join(flakehound_store::DIR_NAME).join("flakehound.db")),
        };
        let project = match project {
            Some(name) => Project {
                name: flakehound_store::valid_project(&name)?.to_string(),
                explicit: true,
            },
            None => Project {
                name: flakehound_ci::project_of(&cwd)
                    .unwrap_or_else(|| flakehound_store::DEFAULT_PROJECT.to_string()),
                explicit: false,
            },
        };
        Ok(Context {
            location,
            given_db: db,
            project,
            root,
            today: today(),
            color,
        })
    }

    /// Today (see [`Context::today`]'s field); an error when `FLAKEHOUND_TODAY` is malformed.
    pub fn today(&self) -> Result<Date> {
        self.today.clone().map_err(anyhow::Error::msg)
    }

    /// Whether there is a store to read: the SQLite file exists (a server is always there).
    pub fn exists(&self) -> bool {
        self.location.path().is_none_or(Path::exists)
    }

    /// Opens the store to write, creating it (and its directory) when needed, scoped to the
    /// project (see the module documentation).
    pub fn open(&self) -> Result<Box<dyn Store>> {
        if let Some(dir) = self.location.path().and_then(Path::parent) {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
        }
        self.scoped(false, |p| flakehound_store::open(&self.location, p))
    }

    /// Opens the existing store to read (read-only when it cannot be written), scoped to the
    /// project (see the module documentation). The caller checks [`Context::exists`] first,
    /// with its own message.
    pub fn open_existing(&self) -> Result<Box<dyn Store>> {
        self.scoped(true, |p| flakehound_store::open_existing(&self.location, p))
    }

    fn scoped(
        &self,
        reading: bool,
        open: impl Fn(&str) -> flakehound_store::Result<Box<dyn Store>>,
    ) -> Result<Box<dyn Store>> {
        let mut store = open(&self.project.name)?;
        let stored = store.projects()?;
        match choose(&self.project, &stored, reading) {
            Ok(None) => Ok(store),
            Ok(Some(other)) => {
                drop(store);
                Ok(open(&other)?)
            }
            Err(why) => bail!("{why} (store {})", self.location),
        }
    }

    /// How a printed `flakehound …` line must start to read the same store and project:
    /// `--db` when the location was given, `--project` when it was.
    pub fn hint_prefix(&self) -> String {
        self.prefix(self.given_db.as_deref())
    }

    /// Like [`Context::hint_prefix`], without `--db` when the location came from
    /// `FLAKEHOUND_DB` (the variable carries over to the pasted line by itself).
    pub fn self_program(&self) -> String {
        let from_env = self.given_db.as_deref().is_some_and(|db| {
            std::env::var_os("FLAKEHOUND_DB").is_some_and(|e| e.to_str() == Some(db))
        });
        self.prefix(self.given_db.as_deref().filter(|_| !from_env))
    }

    fn prefix(&self, db: Option<&str>) -> String {
        let mut s = self_command();
        if let Some(db) = db {
            s.push_str(" --db ");
            s.push_str(&flakehound_runner::shell_quote(db));
        }
        if self.project.explicit {
            s.push_str(" --project ");
            s.push_str(&flakehound_runner::shell_quote(&self.project.name));
        }
        s
    }
}

/// The project to switch to (`Ok(None)`: the one asked for) given the projects `stored`, or why
/// the command cannot go on; the rule is the module documentation's.
pub fn choose(
    project: &Project,
    stored: &[String],
    reading: bool,
) -> std::result::Result<Option<String>, String> {
    let name = &project.name;
    if stored.is_empty() || stored.contains(name) {
        return Ok(None);
    }
    let list = stored.join(", ");
    if project.explicit {
        return if reading {
            Err(format!(
                "no project {name:?} in the store; it holds {}: {list}",
                if stored.len() == 1 {
                    "one project"
                } else {
                    "these projects"
                }
            ))
        } else {
            Ok(None)
        };
    }
    match stored {
        [only] => Ok(Some(only.clone())),
        _ if reading => Err(format!(
            "the store holds several projects and none is {name:?} (derived from this \
             checkout); pass --project with one of: {list}"
        )),
        _ => Ok(None),
    }
}

/// Today's date (local), or `FLAKEHOUND_TODAY` (`YYYY-MM-DD`) for reproducible runs and tests.
fn today() -> std::result::Result<Date, String> {
    if let Ok(s) = std::env::var("FLAKEHOUND_TODAY") {
        return s
            .parse()
            .map_err(|_| format!("FLAKEHOUND_TODAY={s:?} is not a YYYY-MM-DD date"));
    }
    Ok(jiff::Zoned::now().date())
}

/// How to call this very binary in a printed command, so that the line runs as printed (from
/// the directory it was printed in): `flakehound` when that name on PATH is this program, else
/// the path it was called by (`target/release/flakehound`) when that leads here, else its full
/// path.
pub fn self_command() -> String {
    let Some(me) = std::env::current_exe().and_then(|p| p.canonicalize()).ok() else {
        return "flakehound".into();
    };
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("flakehound"))
            .find(|p| p.is_file())
            .and_then(|p| p.canonicalize().ok())
    });
    if on_path.as_ref() == Some(&me) {
        return "flakehound".into();
    }
    let typed = std::env::args_os().next().map(PathBuf::from);
    if let Some(typed) =
        typed.filter(|t| t.components().count() > 1 && t.canonicalize().ok().as_ref() == Some(&me))
    {
        if let Some(t) = typed.to_str() {
            return flakehound_runner::shell_quote(t).into_owned();
        }
    }
    flakehound_runner::shell_quote(&me.display().to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{Project, choose};

    fn p(name: &str, explicit: bool) -> Project {
        Project {
            name: name.into(),
            explicit,
        }
    }

    fn s(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_derived_project_yields_to_the_only_one_stored() {
        let derived = p("github.com/acme/shop", false);
        for reading in [true, false] {
            assert_eq!(choose(&derived, &[], reading), Ok(None));
            assert_eq!(
                choose(&derived, &s(&["default"]), reading),
                Ok(Some("default".into()))
            );
            assert_eq!(
                choose(&derived, &s(&["a", "github.com/acme/shop"]), reading),
                Ok(None)
            );
        }
        let err = choose(&derived, &s(&["a", "b"]), true).unwrap_err();
        assert!(
            err.contains("several projects") && err.contains("a, b"),
            "{err}"
        );
        assert!(err.contains("--project"), "{err}");
        // A write starts the derived project beside the others.
        assert_eq!(choose(&derived, &s(&["a", "b"]), false), Ok(None));
    }

    #[test]
    fn an_explicit_project_is_used_as_given() {
        let named = p("b", true);
        assert_eq!(choose(&named, &s(&["a"]), false), Ok(None));
        assert_eq!(choose(&named, &s(&["a", "b"]), true), Ok(None));
        assert_eq!(choose(&named, &[], true), Ok(None));
        let err = choose(&named, &s(&["a"]), true).unwrap_err();
        assert!(
            err.contains("no project \"b\"") && err.contains(": a"),
            "{err}"
        );
    }
}
