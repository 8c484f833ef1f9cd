//! `quarantine`, `note` and `notes`: the team's knowledge kept in the repository and the store.

use crate::context::Context;
use anyhow::{Context as _, Result, bail};
use flakehound_model::exit;
use flakehound_owners::Owners;
use flakehound_quarantine::{Entry, Observation, Policy, QuarantineFile, Runner};
use jiff::civil::Date;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum QuarantineCmd {
    /// Quarantine a test: it still runs and is recorded, but its failures stop failing the build.
    Add {
        /// Test id as shown by `report`.
        test: String,
        /// Why (shown on every run that it protects).
        #[arg(long)]
        reason: String,
        /// Owner; default: CODEOWNERS or git blame of the test's file, else the policy's owner.
        #[arg(long)]
        owner: Option<String>,
        /// Last day the entry is current (YYYY-MM-DD); default: today + the policy's expiry_days.
        #[arg(long, conflicts_with = "days")]
        expires: Option<Date>,
        /// Days until expiry.
        #[arg(long)]
        days: Option<u32>,
        /// Issue link.
        #[arg(long)]
        issue: Option<String>,
        /// Replace an existing entry for the test.
        #[arg(long)]
        replace: bool,
    },
    /// Release a test from quarantine.
    Remove {
        /// Test id as in the quarantine file.
        test: String,
    },
    /// The quarantined tests, with owner and expiry.
    List {
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
        /// List the server's quarantine of the project instead of the file.
        #[command(flatten)]
        remote: crate::RemoteOpt,
    },
    /// Apply the policies of .flakehound/config.toml: add confidently flaky tests, release
    /// healed ones, flag expired entries.
    Sync {
        /// Show what would change without writing the file.
        #[arg(long)]
        dry_run: bool,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the runner-native arguments that skip the quarantined tests.
    Export {
        /// The runner to export for: pytest, nextest, go, jest.
        #[arg(long, short = 'f', value_parser = parse_runner)]
        format: Runner,
    },
}

fn parse_runner(s: &str) -> Result<Runner, String> {
    s.parse()
}

/// Loads the quarantine; entries skipped for being malformed are reported on stderr (the
/// editing commands then refuse to save, which would drop them).
fn load_file(path: &Path) -> Result<QuarantineFile> {
    let q = QuarantineFile::load(path)?;
    for p in q.problems() {
        eprintln!("flakehound: warning: quarantine entry skipped: {p}");
    }
    Ok(q)
}

/// Saves the quarantine; a `.flakehound/` directory gets its `.gitignore` (store ignored).
fn save(q: &QuarantineFile, file: &Path) -> Result<()> {
    q.save(file)?;
    if let Some(dir) = file.parent() {
        flakehound_store::ensure_gitignore(dir);
    }
    Ok(())
}

fn load_policy(root: &Path) -> Result<Policy> {
    let path = root.join(flakehound_quarantine::CONFIG_FILE);
    // A regular file of bounded size only: a FIFO or a link to a device must not hang us.
    match flakehound_quarantine::read_small_file(&path, flakehound_quarantine::MAX_FILE_BYTES)? {
        Some(text) => Ok(Policy::parse_named(&text, &path.display().to_string())?),
        None => Ok(Policy::default()),
    }
}

pub fn cmd_quarantine(ctx: &Context, cmd: QuarantineCmd, file: &Path) -> Result<ExitCode> {
    let root = &ctx.root;
    let today = ctx.today()?;
    let mut out = std::io::stdout().lock();
    // Set when entries were skipped as malformed: the command did its work with the rest, and
    // exits 1 like `ingest` with a rejected file, so that scripts notice.
    let mut skipped = false;
    match cmd {
        QuarantineCmd::Add {
            test,
            reason,
            owner,
            expires,
            days,
            issue,
            replace,
        } => {
            let policy = load_policy(root)?;
            let mut q = load_file(file)?;
            // A typo would quarantine nothing: warn when the store has never seen the id.
            let stored = stored_test(ctx, &test);
            if let Some(None) = stored {
                eprintln!(
                    "flakehound: warning: no test {test:?} in the store {}; quarantining it anyway",
                    ctx.location
                );
            }
            // The file as the store knows it, as `run` has it from the report: a Rust or Go id
            // names no file, and without it the owner fell back to the policy's.
            let test_file = stored.flatten().and_then(|t| t.file);
            let owner = owner.unwrap_or_else(|| {
                let found = Owners::load(root).of(&test, test_file.as_deref());
                if found.is_empty() {
                    policy.owner.clone()
                } else {
                    found.join(" ")
                }
            });
            let expires = match (expires, days) {
                (Some(d), _) => d,
                (None, days) => {
                    let days = days.unwrap_or(policy.expiry_days);
                    today
                        .checked_add(jiff::Span::new().days(i64::from(days)))
                        .context("expiry date out of range")?
                }
            };
            if expires < today {
                bail!("--expires {expires} is before today ({today})");
            }
            q.add(
                Entry {
                    id: test.clone(),
                    reason,
                    owner: owner.clone(),
                    added: today,
                    expires,
                    issue,
                },
                replace,
            )?;
            save(&q, file)?;
            writeln!(
                out,
                "Quarantined {test} (owner {owner}, expires {expires}) in {}",
                file.display()
            )?;
        }
        QuarantineCmd::Remove { test } => {
            let mut q = load_file(file)?;
            q.remove(&test)?;
            save(&q, file)?;
            writeln!(out, "Released {test} from {}", file.display())?;
        }
        QuarantineCmd::List { json, remote } => {
            let (q, file) = match remote.server()? {
                Some(server) => {
                    let mut q = flakehound_quarantine::QuarantineFile::new();
                    for e in crate::run::server_quarantine(&server)? {
                        let _ = q.add(e, true);
                    }
                    (q, std::path::PathBuf::from(&server.url))
                }
                None => (load_file(file)?, file.to_path_buf()),
            };
            let file = file.as_path();
            skipped = !q.problems().is_empty();
            if json {
                let list: Vec<_> = q
                    .entries()
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "id": e.id, "reason": e.reason, "owner": e.owner,
                            "added": e.added.to_string(), "expires": e.expires.to_string(),
                            "expired": e.is_expired(today), "issue": e.issue,
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
            } else if q.is_empty() {
                writeln!(out, "No tests are quarantined ({}).", file.display())?;
            } else {
                crate::output::quarantine_table(&mut out, q.entries(), today)?;
                let s = q.summary(today);
                writeln!(
                    out,
                    "{} quarantined, {} past expiry ({}).",
                    s.total,
                    s.expired.len(),
                    file.display()
                )?;
            }
        }
        QuarantineCmd::Sync { dry_run, json } => {
            let policy = load_policy(root)?;
            let mut q = load_file(file)?;
            let (observations, files) = match observations(ctx) {
                Ok(o) => o,
                Err(e) => {
                    // Fail open: without evidence only expiry can be checked.
                    eprintln!(
                        "flakehound: warning: {e:#}; no evidence to sync from, checking expiry only"
                    );
                    (Vec::new(), Files::new())
                }
            };
            let mut plan =
                flakehound_quarantine::plan_sync(&policy, q.entries(), &observations, today);
            let owners = Owners::load(root);
            for e in &mut plan.add {
                let found = owners.of(&e.id, files.get(&e.id).map(String::as_str));
                if !found.is_empty() {
                    e.owner = found.join(" ");
                }
            }
            if !dry_run {
                for e in &plan.add {
                    q.add(e.clone(), false)?;
                }
                for r in &plan.release {
                    q.remove(&r.id)?;
                }
                if !plan.add.is_empty() || !plan.release.is_empty() {
                    save(&q, file)?;
                }
            }
            if json {
                let v = serde_json::json!({
                    "dry_run": dry_run,
                    "added": plan.add.iter().map(|e| serde_json::json!({
                        "id": e.id, "reason": e.reason, "owner": e.owner,
                        "expires": e.expires.to_string()})).collect::<Vec<_>>(),
                    "released": plan.release.iter().map(|r| serde_json::json!({
                        "id": r.id, "reason": r.reason})).collect::<Vec<_>>(),
                    "expired": plan.expired,
                });
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
            } else {
                let verb = if dry_run { "would " } else { "" };
                for e in &plan.add {
                    writeln!(
                        out,
                        "+ {verb}quarantine {} ({}; owner {}, expires {})",
                        e.id, e.reason, e.owner, e.expires
                    )?;
                }
                for r in &plan.release {
                    writeln!(out, "- {verb}release {} ({})", r.id, r.reason)?;
                }
                for id in &plan.expired {
                    writeln!(out, "! past expiry: {id} (still protects; renew or fix it)")?;
                }
                writeln!(
                    out,
                    "{} added, {} released, {} past expiry{}.",
                    plan.add.len(),
                    plan.release.len(),
                    plan.expired.len(),
                    if dry_run { " (dry run)" } else { "" }
                )?;
            }
        }
        QuarantineCmd::Export { format } => {
            let q = load_file(file)?;
            skipped = !q.problems().is_empty();
            // One quarantine serves every suite of the repository: ids that cannot be this
            // runner's are left out (the runner would reject them) and named. Nothing left to
            // export from a non-empty quarantine is most likely the wrong --format: exit 1.
            let foreign = flakehound_quarantine::foreign(q.entries(), format);
            if !foreign.is_empty() {
                eprintln!(
                    "flakehound: warning: {} quarantined id(s) left out, not {} test ids: {}",
                    foreign.len(),
                    format!("{format:?}").to_lowercase(),
                    foreign.join(", ")
                );
            }
            let text = flakehound_quarantine::export(q.entries(), format);
            if !text.is_empty() {
                writeln!(out, "{text}")?;
            } else if !foreign.is_empty() {
                skipped = true;
            }
        }
    }
    Ok(ExitCode::from(if skipped {
        exit::FINDINGS
    } else {
        exit::OK
    }))
}

/// What the store knows of `test` (`Some(None)`: not in the store); `None` without a readable
/// store.
fn stored_test(ctx: &Context, test: &str) -> Option<Option<flakehound_store::TestStats>> {
    if !ctx.exists() {
        return None;
    }
    let mut store = ctx.open_existing().ok()?;
    let stats = store.test_stats().ok()?;
    Some(stats.into_iter().find(|s| s.id == test))
}

/// What `sync` learns from the store: verdicts joined with pass streaks.
/// Test files by id, for owners (see `quarantine add`).
type Files = std::collections::HashMap<String, String>;

fn observations(ctx: &Context) -> Result<(Vec<Observation>, Files)> {
    if !ctx.exists() {
        bail!("no store at {}", ctx.location);
    }
    let mut store = ctx.open_existing()?;
    let report = flakehound_analysis::report_from_store(store.as_mut(), true)?;
    let ev = store.evidence()?;
    let streaks: std::collections::HashMap<String, flakehound_analysis::Streak> =
        flakehound_analysis::streaks(&ev)
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
    let files: Files = report
        .entries
        .iter()
        .filter_map(|e| Some((e.ranked.id.clone(), e.ranked.file.clone()?)))
        .collect();
    let observations = report
        .entries
        .iter()
        .map(|e| {
            let s = streaks.get(&e.ranked.id);
            Observation::new(
                &e.ranked.id,
                e.verdict.as_str(),
                e.confidence,
                s.map_or(0, |s| s.retry_passes),
                s.map_or(0, |s| s.consecutive_passes),
                s.and_then(|s| s.last_failure.as_deref()),
            )
        })
        .collect();
    Ok((observations, files))
}

pub fn cmd_note(
    ctx: &Context,
    test: String,
    category: Option<String>,
    text: String,
    link: Option<String>,
) -> Result<ExitCode> {
    if text.trim().is_empty() {
        bail!("--text is empty");
    }
    let category = match &category {
        Some(c) => match flakehound_model::Category::parse(c) {
            Some(c) => Some(c),
            None => {
                let names: Vec<_> = flakehound_model::Category::ALL
                    .iter()
                    .map(|c| c.as_str())
                    .collect();
                bail!("unknown category {c:?}; known: {}", names.join(", "));
            }
        },
        None => None,
    };
    let mut store = ctx.open()?;
    let author = git_user().or_else(|| std::env::var("USER").ok());
    let id = store.add_note(&flakehound_store::Note {
        test: test.clone(),
        kind: flakehound_store::NoteKind::Note,
        category,
        text,
        link,
        author,
        ..Default::default()
    })?;
    println!("Note #{id} added to {test}");
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_notes(
    ctx: &Context,
    test: Option<String>,
    remove: Option<i64>,
    json: bool,
) -> Result<ExitCode> {
    if !ctx.exists() {
        bail!("no store at {}", ctx.location);
    }
    // Listing only reads: it works on a read-only store too.
    let mut store = if remove.is_some() {
        ctx.open()?
    } else {
        ctx.open_existing()?
    };
    if let Some(id) = remove {
        if !store.remove_note(id)? {
            bail!("no note #{id}");
        }
        println!("Note #{id} removed");
        return Ok(ExitCode::SUCCESS);
    }
    let notes = store.notes(test.as_deref())?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &notes)?;
        writeln!(out)?;
    } else if notes.is_empty() {
        writeln!(out, "No notes.")?;
    } else {
        for n in &notes {
            writeln!(out, "#{} {}: {}", n.id, n.test, crate::output::note_line(n))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn git_user() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["config", "user.name"])
        .output()
        .ok()?;
    let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}
