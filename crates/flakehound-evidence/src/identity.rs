//! Run identity: which reports of an ingest are attempts (or parts) of the same CI run, and
//! which metadata of this process's surroundings may be attached to them.
//!
//! Precedence, first match wins:
//! 1. `--run-id` (explicit metadata naming the run): every input is that run.
//! 2. `--run-per file|dir|one`: one run per file, per directory, or one for everything.
//! 3. The CI environment names a run ([`flakehound_ci::from_env`]) **and plausibly describes
//!    these reports**: they form a single run by rule 4 and every file was written within
//!    [`CI_FRESH_SECS`] (a CI job does not outlive that; a downloaded history of reports of the
//!    same tests fails the single-run test). Then every input is the CI job's run.
//! 4. Layout and content, per directory in path order (stdin is its own directory): a file
//!    joins the run of the files before it when it is a later attempt by name (`attempt-2`,
//!    `rerun`, `retry`; `attempt-1`/`attempt-0` start a run) or when it holds *other* tests
//!    (shards, one file per class as surefire and gradle write, another tool's report). A file
//!    holding the same tests again (a test id in common, or at least half of its classes)
//!    starts a new run (`TEST-<class>.xml` files, surefire's and gradle's one file per class,
//!    are taken as parts by name without being read). So a folder of historical reports is
//!    one run per report, a surefire directory is one run, `run-7/attempt-1.xml` +
//!    `attempt-2.xml` is one run, and `run-7/attempt-2/` (a directory: a re-run of the whole
//!    job, as GitHub numbers run attempts) is a run of its own. Files are
//!    compared on their first [`SAMPLE`] records (reading whole files twice would cost 40% of
//!    the ingest); only when those say "other tests" for files that have more records are the
//!    files read in full before they are joined (shuffled runs of a large suite can start with
//!    different tests; shards of a big suite pay for that second read).
//!
//! Metadata: flags apply to every run. This checkout's commit and branch are attached only to
//! a single run whose files lie inside the checkout and were written after `HEAD` was committed
//! (less [`GIT_SLACK_SECS`]: tests run just before committing); the host name and OS only to a
//! single run written within [`CI_FRESH_SECS`]. Anything else would tag old reports with today's
//! commit and machine. Reports' own timestamps still become their runs' start times (store).
//! What was decided and assumed is returned as text for the summary.

use crate::Input;
use flakehound_ci::Surroundings;
use flakehound_model::{Format, RunMeta, TestCase};
use flakehound_store::RunKey;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Records read per file to compare files. 16, not 64: a repeated suite shares its first test
/// ids in either case, and shuffled or sharded files are read in full before they are joined
/// whatever the sample said; 64 cost the flat folder of `benches/ingest.sh` 12% of its
/// instructions (3,150 M → 2,944 M for 400 files, callgrind), all in the serial prefix that runs
/// before the first write.
pub const SAMPLE: usize = 16;
/// Most records read from one file when its first [`SAMPLE`] records cannot tell (bounds the
/// memory of the comparison to a few MB per file).
pub const FULL_SAMPLE: usize = 200_000;
/// How old (by modification time) a report may be to count as written by the current CI job or
/// on this host: GitHub-hosted jobs end within 6 hours; two days leaves room for slow runners.
pub const CI_FRESH_SECS: i64 = 2 * 24 * 3600;
/// A report written up to this long before `HEAD` was committed still counts as coming from it
/// (run the tests, then commit).
pub const GIT_SLACK_SECS: i64 = 3600;

/// How inputs are grouped into runs when the user chooses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunPer {
    /// Decided from metadata, layout and content (see the module docs).
    #[default]
    Auto,
    File,
    Dir,
    One,
}

/// What was decided, for the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// `run-id`, `ci`, `file`, `dir`, `one` (flags) or `auto`.
    pub rule: String,
    pub files: usize,
    pub runs: usize,
    /// One line: "448 files → 448 runs (one run per file: ...)".
    pub text: String,
    /// What was attached from the surroundings, or deliberately not.
    pub assumed: Vec<String>,
    /// Metadata given to every run (flags, plus what was assumed).
    pub meta: RunMeta,
}

/// Run key and metadata of every input.
pub(crate) struct Plan {
    pub keys: Vec<RunKey>,
    pub metas: Vec<RunMeta>,
    pub decision: Decision,
}

/// Test ids and classes of a file (hashed): its first records, or all of them.
#[derive(Default)]
pub(crate) struct Sample {
    ids: HashSet<u64>,
    classes: HashSet<u64>,
    /// Every record of the file was read.
    complete: bool,
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Reads up to `limit` records of `input`.
fn sample(input: &Input, format: Option<Format>, limit: usize) -> Sample {
    sample_with(limit, |sink| match input {
        Input::File(p) | Input::Spooled { path: p, .. } => {
            flakehound_ingest::parse_file(p, format, sink)
        }
        Input::Bytes { bytes, .. } => flakehound_ingest::parse_bytes(bytes, format, sink),
    })
}

/// The first [`SAMPLE`] records of a report being read from `input` (the hashing pass reads it
/// through here, so that the sample costs no second read of the file).
pub(crate) fn sample_reader(input: impl std::io::Read, format: Option<Format>) -> Sample {
    sample_with(SAMPLE, |sink| {
        flakehound_ingest::parse_reader(input, format, sink)
    })
}

/// Up to `limit` records of what `parse` parses.
fn sample_with(
    limit: usize,
    parse: impl FnOnce(
        &mut flakehound_ingest::Sink<'_>,
    ) -> flakehound_ingest::Result<flakehound_model::ReportInfo>,
) -> Sample {
    let mut s = Sample::default();
    let mut n = 0;
    let mut sink = |case: TestCase| {
        s.classes.insert(hash(
            case.classname
                .as_deref()
                .or(case.file.as_deref())
                .unwrap_or_default(),
        ));
        s.ids.insert(hash(&case.id));
        n += 1;
        if n >= limit {
            // Stops the parser: the sample is complete.
            return Err(flakehound_ingest::Error::sink("sampled"));
        }
        Ok(())
    };
    // A file that does not parse is rejected later; as a sample it is what was read.
    let result = parse(&mut sink);
    s.complete = result.is_ok() || n < limit;
    s
}

/// Which inputs [`plan`] compares by their first records: with no flag deciding, the files of
/// a directory of several, except `TEST-<class>.xml` files (parts by name).
pub(crate) fn to_sample(inputs: &[Input], run_per: RunPer, explicit: &RunMeta) -> Vec<bool> {
    let mut which = vec![false; inputs.len()];
    if explicit.run_id.is_some() || run_per != RunPer::Auto {
        return which;
    }
    for members in by_directory(inputs) {
        if members.len() > 1 {
            for i in members {
                which[i] = !is_per_class_report(&inputs[i].name());
            }
        }
    }
    which
}

/// Samples of the inputs at `which`: those already taken (`taken`, by input), the others read
/// now, on two threads.
fn samples(
    inputs: &[Input],
    which: &[usize],
    format: Option<Format>,
    taken: &mut [Option<Sample>],
) -> Vec<Sample> {
    let missing: Vec<usize> = which
        .iter()
        .copied()
        .filter(|&i| taken.get(i).is_none_or(Option::is_none))
        .collect();
    let mut read = read_samples(inputs, &missing, format).into_iter();
    which
        .iter()
        .map(|&i| match taken.get_mut(i).and_then(Option::take) {
            Some(s) => s,
            None => read.next().unwrap_or_default(),
        })
        .collect()
}

/// Samples the inputs at `which`, on two threads.
fn read_samples(inputs: &[Input], which: &[usize], format: Option<Format>) -> Vec<Sample> {
    let one = |i: &usize| sample(&inputs[*i], format, SAMPLE);
    if which.len() < 8 {
        return which.iter().map(one).collect();
    }
    let (first, second) = which.split_at(which.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| second.iter().map(one).collect::<Vec<_>>());
        let mut out: Vec<Sample> = first.iter().map(one).collect();
        match other.join() {
            Ok(rest) => out.extend(rest),
            Err(_) => out.extend(second.iter().map(one)),
        }
        out
    })
}

/// The attempt number a file name states: `Some(n)` for `attempt-n`/`retry-n`/`rerun-n`,
/// `Some(2)` for a bare `rerun`/`retry`, `None` when the name says nothing about attempts.
pub fn attempt_in_name(name: &str) -> Option<u32> {
    let stem = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // Whole words only: `RetryPolicyTest` names a class, not a retry.
    for word in ["attempt", "rerun", "re-run", "retry", "retries"] {
        for (at, _) in stem.match_indices(word) {
            let before = stem[..at].chars().next_back();
            let rest = &stem[at + word.len()..];
            if before.is_some_and(char::is_alphabetic)
                || rest.chars().next().is_some_and(char::is_alphabetic)
            {
                continue;
            }
            let rest = rest.trim_start_matches(['-', '_', ' ', '.', '#']);
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return Some(digits.parse().unwrap_or(2));
        }
    }
    None
}

/// `TEST-<class>.xml`: surefire's and gradle's file per test class.
fn is_per_class_report(name: &str) -> bool {
    Path::new(name)
        .file_name()
        .and_then(|f| f.to_str())
        .is_some_and(|f| f.starts_with("TEST-") && f.ends_with(".xml"))
}

fn directory(input: &Input) -> String {
    match input {
        Input::File(p) => p
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        other => other.name(),
    }
}

/// Splits the inputs of one directory (indexes, path order) into runs. Files are compared on
/// their samples; before a file joins a run as "other tests" on evidence from incomplete
/// samples, the files involved are read in full (up to [`FULL_SAMPLE`] records), so two
/// shuffled runs of a large suite are not taken for shards of one.
fn segment(
    inputs: &[Input],
    members: &[usize],
    mut samples: Vec<Sample>,
    format: Option<Format>,
) -> Vec<Vec<usize>> {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    // Union of the current run's samples, and whether all of them are complete.
    let mut ids: HashSet<u64> = HashSet::new();
    let mut classes: HashSet<u64> = HashSet::new();
    let mut complete = true;
    // Positions (in `members`) of the current run.
    let mut current: Vec<usize> = Vec::new();
    for k in 0..members.len() {
        let i = members[k];
        let joins = if current.is_empty() {
            false
        } else if attempt_in_name(&inputs[i].name()).is_some_and(|n| n >= 2) {
            true
        } else {
            let mut other_tests = disjoint(&samples[k], &ids, &classes);
            if other_tests && !(complete && samples[k].complete) {
                for &m in current.iter().chain(std::iter::once(&k)) {
                    if !samples[m].complete {
                        samples[m] = sample(&inputs[members[m]], format, FULL_SAMPLE);
                        samples[m].complete = true;
                    }
                }
                ids = current
                    .iter()
                    .flat_map(|&m| samples[m].ids.iter().copied())
                    .collect();
                complete = true;
                other_tests = !samples[k].ids.iter().any(|id| ids.contains(id));
            }
            other_tests
        };
        if !joins {
            runs.push(Vec::new());
            current.clear();
            ids.clear();
            classes.clear();
            complete = true;
        }
        runs.last_mut().expect("a run was pushed").push(i);
        current.push(k);
        ids.extend(samples[k].ids.iter().copied());
        classes.extend(samples[k].classes.iter().copied());
        complete &= samples[k].complete;
    }
    runs
}

/// A file holds other tests than a run: no test id in common, and less than half of its
/// classes.
fn disjoint(s: &Sample, ids: &HashSet<u64>, classes: &HashSet<u64>) -> bool {
    let same_ids = s.ids.iter().any(|id| ids.contains(id));
    let shared = s.classes.iter().filter(|c| classes.contains(c)).count();
    !same_ids && (s.classes.is_empty() || shared * 2 < s.classes.len())
}

/// Groups inputs by directory, keeping first-seen order.
fn by_directory(inputs: &[Input]) -> Vec<Vec<usize>> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, input) in inputs.iter().enumerate() {
        let d = directory(input);
        if !groups.contains_key(&d) {
            order.push(d.clone());
        }
        groups.entry(d).or_default().push(i);
    }
    order
        .into_iter()
        .map(|d| groups.remove(&d).unwrap_or_default())
        .collect()
}

/// Key of a run without CI identity: the hashes of its reports, so that re-running an
/// interrupted ingest of the same files finds the same run.
fn content_key(members: &[usize], hashes: &[std::io::Result<String>]) -> RunKey {
    let mut hs: Vec<&str> = members
        .iter()
        .filter_map(|&i| hashes[i].as_ref().ok().map(String::as_str))
        .collect();
    if hs.is_empty() {
        return RunKey("local/unreadable".into());
    }
    hs.sort_unstable();
    let mut h = blake3::Hasher::new();
    for s in hs {
        h.update(s.as_bytes());
    }
    RunKey(format!("local/{}", &h.finalize().to_hex()[..16]))
}

/// Modification time (unix seconds) of a file input; `None` for standard input, which is
/// being produced right now.
fn mtime(input: &Input) -> Option<i64> {
    let Input::File(p) = input else { return None };
    let t = std::fs::metadata(p).and_then(|m| m.modified()).ok()?;
    Some(match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    })
}

/// Whether every input lies under `root`, which the caller canonicalised (once, not per input).
/// A file's canonical path is its directory's (canonicalised once per directory: a folder of
/// reports is hundreds of files in a few directories, and canonicalising each file cost a
/// `readlink` per path component, a few milliseconds of every ingest) joined with its name,
/// unless the name itself is a symbolic link, which is resolved in full.
fn all_inside(inputs: &[Input], root: &Path) -> bool {
    let mut dirs: std::collections::HashMap<PathBuf, Option<PathBuf>> =
        std::collections::HashMap::new();
    inputs.iter().all(|input| match input {
        Input::File(p) => {
            let Ok(abs) = std::path::absolute(p) else {
                return false;
            };
            let canonical = match (abs.parent(), abs.file_name()) {
                (Some(dir), Some(name))
                    if !std::fs::symlink_metadata(&abs)
                        .is_ok_and(|m| m.file_type().is_symlink()) =>
                {
                    dirs.entry(dir.to_path_buf())
                        .or_insert_with(|| dir.canonicalize().ok())
                        .as_ref()
                        .map(|d| d.join(name))
                        .or_else(|| Some(abs.clone()))
                }
                _ => abs.canonicalize().ok().or(Some(abs.clone())),
            };
            canonical.is_some_and(|c| c.starts_with(root))
        }
        // Piped from a command running here and now.
        _ => true,
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Decides the run of every input. `explicit` is what flags say; `local` what the environment
/// and checkout say (attached only where plausible); `now` is unix seconds. `taken` holds the
/// samples already taken while hashing (by input; the others are read here).
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    inputs: &[Input],
    hashes: &[std::io::Result<String>],
    mut taken: Vec<Option<Sample>>,
    format: Option<Format>,
    run_per: RunPer,
    explicit: &RunMeta,
    local: Option<&Surroundings>,
    now: i64,
) -> Plan {
    let n = inputs.len();
    let files = plural(n, "file", "files");
    let mut assumed = Vec::new();
    // 1-2. Flags.
    let (groups, rule, why): (Vec<Vec<usize>>, &str, String) = if explicit.run_id.is_some() {
        (vec![(0..n).collect()], "run-id", "named by --run-id".into())
    } else {
        match run_per {
            RunPer::File => (
                (0..n).map(|i| vec![i]).collect(),
                "file",
                "one run per file: --run-per file".into(),
            ),
            RunPer::Dir => (
                by_directory(inputs),
                "dir",
                "one run per directory: --run-per dir".into(),
            ),
            RunPer::One => (
                vec![(0..n).collect()],
                "one",
                "one run: --run-per one".into(),
            ),
            RunPer::Auto => {
                let dirs = by_directory(inputs);
                let mut groups = Vec::new();
                for members in &dirs {
                    if members.len() == 1 {
                        groups.push(members.clone());
                    } else {
                        // Surefire and gradle write one `TEST-<class>.xml` per test class of a
                        // run: parts by name, not worth reading twice (a big Java project has
                        // thousands of them).
                        let by_name: Vec<bool> = members
                            .iter()
                            .map(|&i| is_per_class_report(&inputs[i].name()))
                            .collect();
                        let rest: Vec<usize> = members
                            .iter()
                            .zip(&by_name)
                            .filter(|(_, part)| !**part)
                            .map(|(&i, _)| i)
                            .collect();
                        let mut sampled = samples(inputs, &rest, format, &mut taken).into_iter();
                        let s: Vec<Sample> = by_name
                            .iter()
                            .map(|&part| {
                                if part {
                                    Sample {
                                        complete: true,
                                        ..Sample::default()
                                    }
                                } else {
                                    sampled.next().unwrap_or_default()
                                }
                            })
                            .collect();
                        groups.extend(segment(inputs, members, s, format));
                    }
                }
                // Runs started because a file held the same tests again.
                let repeats = groups.len() - dirs.len();
                let why = if n == 1 {
                    "one report".to_string()
                } else if groups.len() == 1 {
                    "parts or attempts of one run: different tests, or named attempt-N/rerun; \
                     use --run-per file to split"
                        .to_string()
                } else if repeats == 0 {
                    "one run per directory: the files of a directory hold different tests or \
                     are named attempt-N/rerun; --run-per file|one to choose"
                        .to_string()
                } else if groups.len() == n {
                    "one run per file: they hold the same tests again and no run metadata says \
                     they belong together; use --run-per dir to group"
                        .to_string()
                } else {
                    format!(
                        "a file holding the same tests again starts a new run ({repeats} times); \
                         different tests or attempt-N/rerun names join one; \
                         --run-per file|dir|one to choose"
                    )
                };
                (groups, "auto", why)
            }
        }
    };
    let single = groups.len() == 1;
    let fresh_for = |limit: i64| inputs.iter().all(|i| mtime(i).is_none_or(|t| t >= limit));
    let mut meta = explicit.clone();
    let mut ci_run: Option<RunKey> = None;
    let mut rule = rule.to_string();
    let mut why = why;
    if let Some(local) = local {
        let fresh = fresh_for(now - CI_FRESH_SECS);
        // 3. The CI job's run.
        if let Some(provider) = local.ci.provider.as_deref() {
            let ci_names_run = local.ci.run_id.is_some();
            if single && fresh && explicit.run_id.is_none() {
                meta.fill_from(&local.ci);
                if ci_names_run && matches!(run_per, RunPer::Auto | RunPer::One) {
                    ci_run = RunKey::from_meta(&meta);
                    rule = "ci".into();
                    why = format!(
                        "this CI job: {provider} run {}",
                        local.ci.run_id.as_deref().unwrap_or("?")
                    );
                }
            } else if explicit.run_id.is_some() && fresh {
                meta.fill_from(&local.ci);
            } else {
                assumed.push(format!(
                    "not from this {provider} job: {}; its metadata is not attached",
                    if fresh {
                        "the reports are several runs"
                    } else {
                        "some reports are older than 2 days"
                    }
                ));
            }
        }
        // The checkout's commit.
        if let (Some(commit), Some(root)) = (&local.git.commit, &local.git_root) {
            let same = meta
                .commit
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(commit));
            let after_head = local
                .head_time
                .is_none_or(|t| fresh_for(t - GIT_SLACK_SECS));
            let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            let in_repo = all_inside(inputs, &root);
            if meta.commit.is_none() {
                if single && after_head && in_repo {
                    meta.commit = Some(commit.clone());
                    assumed.push(format!(
                        "commit {} of the checkout (reports written in it after its last commit)",
                        &commit[..commit.len().min(12)]
                    ));
                } else {
                    assumed.push(format!(
                        "no commit: {}; pass --commit to set one",
                        if !single {
                            "several runs cannot all be the checkout's commit"
                        } else if !in_repo {
                            "the reports are outside this checkout"
                        } else {
                            "the reports are older than the checkout's last commit"
                        }
                    ));
                }
            }
            if same && meta.commit.as_deref() == Some(commit.as_str()) {
                meta.fill_from(&RunMeta {
                    branch: local.git.branch.clone(),
                    ..RunMeta::default()
                });
            }
        }
        // This machine.
        if single && fresh {
            meta.fill_from(&local.host);
            if meta.provider.is_none() {
                meta.provider = Some("local".into());
            }
        }
    }
    let mut keys = vec![RunKey(String::new()); n];
    for members in &groups {
        let key = match &ci_run {
            Some(k) => k.clone(),
            None if rule == "run-id" => {
                RunKey::from_meta(&meta).unwrap_or_else(|| content_key(members, hashes))
            }
            None => content_key(members, hashes),
        };
        for &i in members {
            keys[i] = key.clone();
        }
    }
    let runs = groups.len();
    Plan {
        keys,
        metas: vec![meta.clone(); n],
        decision: Decision {
            text: format!("{files} → {} ({why})", plural(runs, "run", "runs")),
            rule,
            files: n,
            runs,
            assumed,
            meta,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file is under the root by its directory's canonical path; a symbolic link by its
    /// target's, as canonicalising the whole path says.
    #[test]
    fn inputs_inside_the_root_by_canonical_path() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let croot = root.path().canonicalize().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        let a = root.path().join("sub/a.xml");
        let b = outside.path().join("b.xml");
        std::fs::write(&a, "<testsuite/>").unwrap();
        std::fs::write(&b, "<testsuite/>").unwrap();
        let via_dots = root.path().join("sub/../sub/a.xml");
        assert!(all_inside(
            &[Input::File(a.clone()), Input::File(via_dots)],
            &croot
        ));
        assert!(!all_inside(
            &[Input::File(a.clone()), Input::File(b.clone())],
            &croot
        ));
        #[cfg(unix)]
        {
            // A link inside the root to a file outside it is outside; a link outside to a file
            // inside is inside.
            let link_in = root.path().join("sub/link.xml");
            std::os::unix::fs::symlink(&b, &link_in).unwrap();
            assert!(!all_inside(&[Input::File(link_in)], &croot));
            let link_out = outside.path().join("link.xml");
            std::os::unix::fs::symlink(&a, &link_out).unwrap();
            assert!(all_inside(&[Input::File(link_out)], &croot));
            // A directory reached through a link counts where it really is.
            let dir_link = outside.path().join("dir");
            std::os::unix::fs::symlink(root.path().join("sub"), &dir_link).unwrap();
            assert!(all_inside(&[Input::File(dir_link.join("a.xml"))], &croot));
        }
    }

    /// A JUnit file of tests `t<i>` for `ids`, each in a class of its own.
    fn junit(dir: &Path, name: &str, ids: impl Iterator<Item = usize>) -> Input {
        let mut s = String::from("<testsuite>\n");
        for i in ids {
            s.push_str(&format!(
                "<testcase classname=\"pkg.C{i}\" name=\"t{i}\"/>\n"
            ));
        }
        s.push_str("</testsuite>\n");
        let path = dir.join(name);
        std::fs::write(&path, s).unwrap();
        Input::File(path)
    }

    fn runs(inputs: &[Input]) -> usize {
        let hashes: Vec<_> = (0..inputs.len()).map(|i| Ok(format!("h{i}"))).collect();
        let p = plan(
            inputs,
            &hashes,
            Vec::new(),
            None,
            RunPer::Auto,
            &RunMeta::default(),
            None,
            0,
        );
        assert_eq!(p.keys.len(), inputs.len());
        p.decision.runs
    }

    #[test]
    fn files_whose_first_records_differ_are_read_in_full_before_they_are_joined() {
        let tmp = tempfile::tempdir().unwrap();
        let n = 4 * SAMPLE;
        // The same suite in another order (shuffled): its first records share nothing with
        // the first file's, yet it is the same tests again.
        let shuffled = [
            junit(tmp.path(), "a.xml", 0..n),
            junit(tmp.path(), "b.xml", (0..n).rev()),
        ];
        assert_eq!(runs(&shuffled), 2);
        // Two halves of the suite (shards): one run.
        let shards = [
            junit(tmp.path(), "s1.xml", 0..n / 2),
            junit(tmp.path(), "s2.xml", n / 2..n),
        ];
        assert_eq!(runs(&shards), 1);
        // Small files compared in full from the start.
        let small = [
            junit(tmp.path(), "x1.xml", 0..3),
            junit(tmp.path(), "x2.xml", 0..3),
            junit(tmp.path(), "x3.xml", 3..6),
        ];
        assert_eq!(runs(&small), 2);
    }

    #[test]
    fn attempt_numbers_in_names() {
        assert_eq!(attempt_in_name("ci/attempt-1.xml"), Some(1));
        assert_eq!(attempt_in_name("attempt_2.xml"), Some(2));
        assert_eq!(attempt_in_name("junit-rerun.xml"), Some(2));
        assert_eq!(attempt_in_name("Retry3.xml"), Some(3));
        assert_eq!(attempt_in_name("run-0003.xml"), None);
        assert_eq!(attempt_in_name("TEST-com.acme.RetryPolicyTest.xml"), None);
        assert_eq!(attempt_in_name("report.rerun.xml"), Some(2));
    }
}
