//! The generic adapter: a command flakehound does not know, plus the report it writes.
//!
//! It can only run the whole command again (no selection, order or repetition), and reads the
//! user-given report: one file, or a directory whose `*.xml` and `*.json` files written by the run
//! are read in name order (a runner writing one file per suite or per module).
//!
//! Also home of the stale-report guard shared by the file-based adapters ([`check_fresh`]).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::shared::{file_plan, report_files, unsupported};
use crate::{
    Adapter, Capabilities, Cmd, Error, Order, Plan, Request, Result, Results, RunnerKind,
    read_files,
};

pub struct Generic {
    cmd: Cmd,
    /// A report file, or a directory of reports; relative to the command's working directory.
    report: PathBuf,
}

impl Generic {
    pub fn new(cmd: Cmd, report: PathBuf) -> Self {
        Self { cmd, report }
    }

    fn unsupported(&self, what: &str) -> Error {
        unsupported(
            self.kind(),
            format!("{what}: without a known test runner only the whole command can run"),
        )
    }
}

impl Adapter for Generic {
    fn kind(&self) -> RunnerKind {
        RunnerKind::Generic
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    fn plan(&self, req: &Request, scratch: &Path) -> Result<Plan> {
        if req.selection.is_some() {
            return Err(self.unsupported("select tests"));
        }
        if req.order != Order::AsWritten {
            return Err(self.unsupported("order tests"));
        }
        if req.repeat > 1 {
            return Err(self.unsupported("repeat tests in one process"));
        }
        let mut cmd = self.cmd.clone();
        cmd.env.extend(req.env.iter().cloned());
        // The command writes the report relative to its own working directory.
        let path = match &cmd.cwd {
            Some(cwd) if self.report.is_relative() => cwd.join(&self.report),
            _ => self.report.clone(),
        };
        Ok(file_plan(cmd, path, None, run_start(scratch)))
    }

    fn read(&self, plan: &Plan) -> Result<Results> {
        let (paths, format, fresh_after) = report_files(
            plan,
            "the generic adapter reads report files, not standard output",
        )?;
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                let found = reports_in(path, fresh_after)?;
                if found.is_empty() {
                    return Err(Error::MissingReport {
                        runner: self.kind().name(),
                        detail: format!(
                            "no *.xml or *.json file in {} was written by this run",
                            path.display()
                        ),
                    });
                }
                files.extend(found);
            } else {
                check_fresh(self.kind(), path, fresh_after)?;
                files.push(path.clone());
            }
        }
        read_files(self.kind(), &files, format)
    }
}

/// The `*.xml` and `*.json` files directly in `dir` (not in subdirectories), sorted by name,
/// leaving out those last modified before `fresh_after`.
fn reports_in(dir: &Path, fresh_after: Option<SystemTime>) -> Result<Vec<PathBuf>> {
    let io_error = |source| Error::Io {
        context: format!("cannot list the report directory {}", dir.display()),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        let is_report = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml") || e.eq_ignore_ascii_case("json"));
        if !is_report {
            continue;
        }
        // `metadata` follows symlinks: a link to a report counts, a link to a directory does not.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            // Removed meanwhile, or a dangling link.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(Error::Io {
                    context: format!("cannot inspect {}", path.display()),
                    source,
                });
            }
        };
        if !meta.is_file() {
            continue;
        }
        if let (Some(after), Ok(modified)) = (fresh_after, meta.modified()) {
            if !is_fresh(modified, after) {
                continue;
            }
        }
        found.push(path);
    }
    found.sort();
    Ok(found)
}

/// Checks that the report `path` exists and, with `fresh_after`, was written after that instant;
/// a missing or stale report is [`Error::MissingReport`].
pub(crate) fn check_fresh(
    runner: RunnerKind,
    path: &Path,
    fresh_after: Option<SystemTime>,
) -> Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::MissingReport {
                runner: runner.name(),
                detail: format!("{} was not written", path.display()),
            });
        }
        Err(source) => {
            return Err(Error::Io {
                context: format!("cannot inspect the report {}", path.display()),
                source,
            });
        }
    };
    // A filesystem without modification times cannot tell; the report is then trusted.
    if let (Some(after), Ok(modified)) = (fresh_after, meta.modified()) {
        if !is_fresh(modified, after) {
            return Err(Error::MissingReport {
                runner: runner.name(),
                detail: format!(
                    "{} was not written by this run (it is older: left by an earlier run)",
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// [`check_fresh`] for each of `paths`, stopping at the first missing or stale one.
pub(crate) fn check_all_fresh(
    runner: RunnerKind,
    paths: &[PathBuf],
    fresh_after: Option<SystemTime>,
) -> Result<()> {
    for path in paths {
        check_fresh(runner, path, fresh_after)?;
    }
    Ok(())
}

/// The instant to give as `fresh_after` for a run about to start.
///
/// Not simply the clock's "now": Linux stamps files with a coarse clock that lags the precise one
/// by up to a scheduler tick, so a report written a few milliseconds after `now` could look older
/// than it. The modification time of a file we write in `scratch` right now is on the
/// filesystem's clock, and every later write is stamped at or after it.
pub(crate) fn run_start(scratch: &Path) -> SystemTime {
    let now = SystemTime::now();
    let marker = scratch.join(".flakehound-clock");
    // On failure (read-only scratch...) the precise clock is still a sound, if stricter, bound.
    let stamped = std::fs::write(&marker, b"run start\n")
        .and_then(|()| std::fs::metadata(&marker))
        .and_then(|m| m.modified());
    match stamped {
        Ok(t) => t.min(now),
        Err(_) => now,
    }
}

/// Whether a file last modified at `modified` was written at or after `after`.
///
/// Some filesystems keep coarse timestamps (FAT: 2 s; HFS+, some network filesystems: 1 s), which
/// round a file written just after `after` down to before it. Such a timestamp has no sub-second
/// part, so a whole-second timestamp up to 2 s early is still taken as fresh; a fine-grained one
/// (ext4, APFS, NTFS, tmpfs) is compared exactly. The odds of a fine-grained timestamp falling
/// exactly on a whole second are negligible.
pub(crate) fn is_fresh(modified: SystemTime, after: SystemTime) -> bool {
    if modified >= after {
        return true;
    }
    let whole_second = modified
        .duration_since(UNIX_EPOCH)
        .is_ok_and(|d| d.subsec_nanos() == 0);
    whole_second
        && after
            .duration_since(modified)
            .is_ok_and(|early| early <= Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReportSource;
    use crate::TestRef;
    use std::fs::File;

    const REPORT: &str = r#"<testsuite name="s"><testcase classname="C" name="t"/></testsuite>"#;

    fn generic(report: &Path) -> Generic {
        Generic::new(
            Cmd {
                program: "true".into(),
                ..Cmd::default()
            },
            report.to_path_buf(),
        )
    }

    /// Writes `content` to `path` and dates it `age` ago.
    fn write_aged(path: &Path, content: &str, age: Duration) {
        std::fs::write(path, content).unwrap();
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn only_a_whole_run_is_possible() {
        let g = generic(Path::new("r.xml"));
        assert_eq!(g.capabilities(), Capabilities::default());
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path();
        let t = TestRef {
            id: "C::t".into(),
            classname: Some("C".into()),
            name: "t".into(),
            file: None,
            suite: vec![],
        };
        for req in [
            Request {
                selection: Some(vec![t]),
                ..Request::default()
            },
            Request {
                order: Order::Reversed,
                ..Request::default()
            },
            Request {
                repeat: 3,
                ..Request::default()
            },
        ] {
            let err = g.plan(&req, scratch).unwrap_err();
            assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        }
        let req = Request {
            env: vec![("TZ".into(), "UTC".into())],
            repeat: 1,
            invocation: 2,
            ..Request::default()
        };
        let plan = g.plan(&req, scratch).unwrap();
        assert_eq!(plan.cmd.program, "true");
        assert_eq!(plan.cmd.env, req.env);
        let ReportSource::Files {
            paths, fresh_after, ..
        } = &plan.report
        else {
            panic!("{:?}", plan.report)
        };
        assert_eq!(paths, &[PathBuf::from("r.xml")]);
        assert!(fresh_after.is_some());
    }

    #[test]
    fn a_relative_report_follows_the_working_directory() {
        let mut g = generic(Path::new("out/r.xml"));
        g.cmd.cwd = Some(PathBuf::from("/project"));
        let dir = tempfile::tempdir().unwrap();
        let plan = g.plan(&Request::default(), dir.path()).unwrap();
        let ReportSource::Files { paths, .. } = &plan.report else {
            panic!()
        };
        assert_eq!(paths, &[PathBuf::from("/project/out/r.xml")]);
    }

    #[test]
    fn reads_a_fresh_file_and_refuses_a_stale_or_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xml");
        let g = generic(&path);
        let plan = g.plan(&Request::default(), dir.path()).unwrap();

        let err = g.read(&plan).unwrap_err();
        assert!(err.to_string().contains("was not written"), "{err}");

        write_aged(&path, REPORT, Duration::from_secs(3600));
        let err = g.read(&plan).unwrap_err();
        assert!(matches!(err, Error::MissingReport { .. }), "{err:?}");
        assert!(err.to_string().contains("earlier run"), "{err}");

        std::fs::write(&path, REPORT).unwrap();
        let results = g.read(&plan).unwrap();
        assert_eq!(results.cases.len(), 1);
        assert_eq!(results.cases[0].id, "C::t");
    }

    #[test]
    fn a_directory_gives_its_fresh_reports_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("reports");
        std::fs::create_dir(&reports).unwrap();
        let g = generic(&reports);
        let plan = g.plan(&Request::default(), dir.path()).unwrap();

        let err = g.read(&plan).unwrap_err();
        assert!(matches!(err, Error::MissingReport { .. }), "{err:?}");

        let case = |name: &str| {
            format!(r#"<testsuite name="s"><testcase classname="C" name="{name}"/></testsuite>"#)
        };
        write_aged(
            &reports.join("0-old.xml"),
            &case("old"),
            Duration::from_secs(60),
        );
        let err = g.read(&plan).unwrap_err();
        assert!(matches!(err, Error::MissingReport { .. }), "{err:?}");

        std::fs::write(reports.join("b.XML"), case("b")).unwrap();
        std::fs::write(reports.join("a.xml"), case("a")).unwrap();
        std::fs::write(reports.join("notes.txt"), "not a report").unwrap();
        std::fs::create_dir(reports.join("sub.xml")).unwrap();
        std::fs::create_dir(reports.join("nested")).unwrap();
        std::fs::write(reports.join("nested/c.xml"), case("c")).unwrap();
        let results = g.read(&plan).unwrap();
        let ids: Vec<&str> = results.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["C::a", "C::b"]);
        assert_eq!(results.info.len(), 2);
    }

    #[test]
    fn a_bad_report_in_the_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let g = generic(dir.path());
        let plan = g.plan(&Request::default(), dir.path()).unwrap();
        std::fs::write(dir.path().join("r.json"), "{\"not\": \"a report\"}").unwrap();
        let err = g.read(&plan).unwrap_err();
        assert!(matches!(err, Error::BadReport { .. }), "{err:?}");
    }

    #[test]
    fn freshness_allows_coarse_timestamps_only() {
        let after = UNIX_EPOCH + Duration::new(1_000, 500_000_000);
        assert!(is_fresh(after, after));
        assert!(is_fresh(after + Duration::from_millis(1), after));
        // Fine-grained and earlier: stale.
        assert!(!is_fresh(after - Duration::from_millis(1), after));
        // Whole seconds (a coarse filesystem rounding down): fresh up to 2 s early.
        assert!(is_fresh(UNIX_EPOCH + Duration::from_secs(1_000), after));
        assert!(is_fresh(UNIX_EPOCH + Duration::from_secs(999), after));
        assert!(!is_fresh(UNIX_EPOCH + Duration::from_secs(998), after));
    }
}
