//! The team commands: `serve`, `server project|token …` and `upload`. Flags and printing only:
//! the server is `flakehound-server`, the client `flakehound-client`.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use flakehound_client::{ClientError, Server};
use flakehound_model::{RunMeta, exit};
use flakehound_store::{Location, Scope};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The server's store when `--database` and `FLAKEHOUND_DATABASE` are unset: `server.db` in
/// the data directory (`FLAKEHOUND_DATA_DIR`, else `$XDG_DATA_HOME/flakehound`, else
/// `~/.local/share/flakehound`).
fn default_database() -> Result<Location> {
    let dir = if let Some(d) = std::env::var_os("FLAKEHOUND_DATA_DIR") {
        PathBuf::from(d)
    } else if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(d).join("flakehound")
    } else if let Some(h) = std::env::var_os("HOME") {
        PathBuf::from(h).join(".local/share/flakehound")
    } else {
        bail!("no data directory: set --database, FLAKEHOUND_DATABASE or FLAKEHOUND_DATA_DIR");
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    Ok(Location::Sqlite(dir.join("server.db")))
}

fn database(given: Option<&str>) -> Result<Location> {
    match given {
        Some(d) => Ok(Location::parse(d)),
        None => default_database(),
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", env = "FLAKEHOUND_LISTEN")]
    listen: String,
    /// The store: a PostgreSQL URL (postgres://…) or a SQLite file. Default: server.db in the
    /// data directory (FLAKEHOUND_DATA_DIR, else ~/.local/share/flakehound).
    #[arg(long, env = "FLAKEHOUND_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// Largest upload accepted, in MiB (413 beyond).
    #[arg(long, default_value_t = 100, value_name = "MIB")]
    max_upload_mb: u64,
    /// Requests per minute per token (429 beyond); 0: no limit.
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// Requests per minute per public upload id (429 beyond); 0: no limit.
    #[arg(long, default_value_t = 60)]
    public_rate_limit: u32,
    /// Store operations at once (each holds a database connection).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Longest an analysis answer is served from the cache, in seconds (uploads through this
    /// server invalidate it at once; through other replicas after this long).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    cache_ttl: u64,
    /// Log lines as text (key=value) or JSON objects (FLAKEHOUND_LOG sets the level filter).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormatArg,
    /// Alerts: evaluate the monitors of this file's format (.flakehound/alerts.toml) after
    /// every upload, in the background, and every 10 minutes (see the README's Alerts section).
    /// A project with its own configuration (PUT /api/v1/alerts/config) uses that instead.
    #[arg(long, env = "FLAKEHOUND_ALERTS", value_name = "FILE")]
    alerts: Option<PathBuf>,
    /// How often the retention job prunes projects with a retention (`server retention set`),
    /// in seconds; one replica (the job's leader) runs it; 0: never on this replica.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    retention_interval: u64,
}

pub fn cmd_serve(args: ServeArgs) -> Result<ExitCode> {
    flakehound_server::no_huge_pages();
    let location = database(args.database.as_deref())?;
    let mut config = flakehound_server::Config::new(location);
    config.body_limit =
        usize::try_from(args.max_upload_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    config.rate_limit = args.rate_limit;
    config.public_rate_limit = args.public_rate_limit;
    config.workers = args.workers.max(1);
    config.cache_ttl = std::time::Duration::from_secs(args.cache_ttl);
    config.retention_interval = (args.retention_interval > 0)
        .then(|| std::time::Duration::from_secs(args.retention_interval));
    let shown = config.location.to_string();
    // Alerting: a channel that cannot be built is an error at startup, naming it. The
    // evaluator runs without a file too: projects configured through the API
    // (`PUT /api/v1/alerts/config`) use their own configuration instead of the file.
    let file = match &args.alerts {
        Some(path) => {
            let cfg = flakehound_alerts::Config::load(path)?;
            if let Some(e) = flakehound_alerts::Channels::new(&cfg).errors().first() {
                bail!("{}: {e}", path.display());
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some((cfg, path.display().to_string(), text))
        }
        None => None,
    };
    config.alerts = Some(flakehound_server::AlertsApi {
        check: std::sync::Arc::new(|text: &str| {
            flakehound_alerts::check_text(text, "alerts configuration").map(|_| ())
        }),
        file: file.as_ref().map(|(_, p, t)| (p.clone(), t.clone())),
    });
    let evaluator = std::sync::Arc::new(flakehound_alerts::background::Evaluator::start_with(
        config.location.clone(),
        file.map(|(cfg, _, _)| cfg),
        std::time::Duration::from_secs(600),
    ));
    config.after_commit = Some(flakehound_server::CommitHook(std::sync::Arc::new(
        evaluator.hook(),
    )));
    let _evaluator = evaluator;
    let log = match args.log_format {
        LogFormatArg::Text => flakehound_server::LogFormat::Text,
        LogFormatArg::Json => flakehound_server::LogFormat::Json,
    };
    flakehound_server::run(&args.listen, config, log, |addr| {
        // The first line on stdout: scripts (and tests) read the address from it.
        println!("flakehound server listening on http://{addr} (store: {shown})");
        let _ = std::io::stdout().flush();
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum ServerCmd {
    /// Projects the server serves.
    Project {
        #[command(subcommand)]
        cmd: ProjectCmd,
    },
    /// Access tokens: shown once, stored hashed.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Retention: how long a project's raw results are kept (per-test counts are kept for good).
    Retention {
        #[command(subcommand)]
        cmd: RetentionCmd,
    },
    /// Stored runs: pin one to keep it (and its commit's runs) from retention.
    Run {
        #[command(subcommand)]
        cmd: RunCmd,
    },
}

#[derive(Subcommand)]
pub enum RetentionCmd {
    /// Keep a project's raw results for DAYS days (`off`: keep everything, the default).
    Set {
        /// The project.
        #[arg(long)]
        project: String,
        /// Days to keep raw results, or `off`.
        #[arg(long, value_name = "DAYS|off")]
        days: String,
    },
    /// The projects with a retention.
    List,
    /// Run one retention pass now (what the server's leader does every --retention-interval).
    Run,
}

#[derive(Subcommand)]
pub enum RunCmd {
    /// Pin a run (by key, as `explain` and the API show it): it is never pruned.
    Pin {
        /// The run's project.
        #[arg(long)]
        project: String,
        /// The run's key (e.g. github/123456/1/test).
        key: String,
    },
    /// Unpin a run: retention may prune it again.
    Unpin {
        /// The run's project.
        #[arg(long)]
        project: String,
        /// The run's key.
        key: String,
    },
    /// List a project's pinned runs.
    Pinned {
        /// The project.
        #[arg(long)]
        project: String,
    },
}

#[derive(Subcommand)]
pub enum ProjectCmd {
    /// Register a project (tokens are made for a project).
    Create {
        /// The project's name (e.g. github.com/acme/shop, or what `--project` names).
        name: String,
    },
    /// List the registered projects.
    List,
    /// Turn the project's public upload id on or off: with it, uploads (and quarantine reads)
    /// need no token, for fork pull requests that have no secrets. Off by default.
    PublicUpload {
        /// The project.
        #[arg(long)]
        project: String,
        /// `on` prints the id (the current one, or a new one); `off` removes it.
        #[arg(value_enum)]
        state: OnOff,
        /// With `on`: replace the current id by a new one (the old one stops working).
        #[arg(long)]
        rotate: bool,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OnOff {
    /// Turn it on.
    On,
    /// Turn it off.
    Off,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ScopeArg {
    /// Upload runs and read the quarantine (for CI).
    Upload,
    /// Every read endpoint.
    Read,
    /// Quarantine changes and tokens, and everything else.
    Admin,
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create a token and print it (once: only its hash is kept).
    Create {
        /// The project the token belongs to (registered when new).
        #[arg(long)]
        project: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Lifetime: e.g. 90d, 12h, 2w; `never` (the default) for none.
        #[arg(long, default_value = "never")]
        expires: String,
        /// Who holds it (e.g. github-actions).
        #[arg(long)]
        label: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        /// Only the tokens of this project.
        #[arg(long)]
        project: Option<String>,
        /// Print the tokens as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id: it stops working on the next request, on every replica.
    Revoke {
        /// The token's id (`token list` shows them).
        id: i64,
    },
}

pub fn cmd_server(database_arg: Option<&str>, cmd: ServerCmd) -> Result<ExitCode> {
    let location = database(database_arg)?;
    let mut admin = flakehound_store::open_admin(&location)?;
    let now = flakehound_server::tokens::stamp(jiff::Timestamp::now());
    let mut out = std::io::stdout().lock();
    match cmd {
        ServerCmd::Project {
            cmd: ProjectCmd::Create { name },
        } => {
            let name = flakehound_store::valid_project(&name)?;
            if admin.create_project(name, &now)? {
                writeln!(out, "project {name} created")?;
            } else {
                writeln!(out, "project {name} exists already")?;
            }
        }
        ServerCmd::Project {
            cmd:
                ProjectCmd::PublicUpload {
                    project,
                    state,
                    rotate,
                },
        } => {
            match flakehound_server::tokens::set_public_upload(
                admin.as_mut(),
                &project,
                state == OnOff::On,
                rotate,
            )? {
                Some(id) => {
                    writeln!(out, "{id}")?;
                    writeln!(
                        std::io::stderr(),
                        "public upload id of {project}: not a secret (put it in the workflow file as FLAKEHOUND_PUBLIC_ID); it may upload to {project} and read its quarantine, nothing else, rate-limited per id (serve --public-rate-limit)"
                    )?;
                }
                None => writeln!(
                    out,
                    "public uploads to {project} are off: uploads need a token"
                )?,
            }
        }
        ServerCmd::Project {
            cmd: ProjectCmd::List,
        } => {
            for (name, created) in admin.server_projects()? {
                writeln!(out, "{name}\tcreated {created}")?;
            }
        }
        ServerCmd::Token {
            cmd:
                TokenCmd::Create {
                    project,
                    scope,
                    expires,
                    label,
                },
        } => {
            let scope = match scope {
                ScopeArg::Upload => Scope::Upload,
                ScopeArg::Read => Scope::Read,
                ScopeArg::Admin => Scope::Admin,
            };
            let expires = flakehound_server::tokens::parse_expiry(&expires)
                .map_err(|e| anyhow::anyhow!("--expires: {e}"))?;
            let t = flakehound_server::tokens::create(
                admin.as_mut(),
                &project,
                scope,
                label.as_deref(),
                expires,
            )?;
            writeln!(out, "{}", t.secret)?;
            let mut err = std::io::stderr().lock();
            writeln!(
                err,
                "token {} for project {project} with scope {scope}, {}; shown once, keep it in a CI secret (FLAKEHOUND_TOKEN)",
                t.id,
                t.expires_at
                    .map_or_else(|| "never expires".to_string(), |e| format!("expires {e}"))
            )?;
        }
        ServerCmd::Token {
            cmd: TokenCmd::List { project, json },
        } => {
            let tokens = admin.tokens(project.as_deref())?;
            if json {
                serde_json::to_writer_pretty(&mut out, &tokens)?;
                writeln!(out)?;
            } else {
                let mut table = comfy_table::Table::new();
                table.load_preset(comfy_table::presets::NOTHING);
                table.set_header([
                    "id",
                    "project",
                    "scope",
                    "label",
                    "prefix",
                    "created",
                    "expires",
                    "state",
                    "last used",
                ]);
                for t in &tokens {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else if t.expires_at.as_ref().is_some_and(|e| *e <= now) {
                        "expired"
                    } else {
                        "active"
                    };
                    table.add_row([
                        t.id.to_string(),
                        t.project.clone(),
                        t.scope.to_string(),
                        t.label.clone().unwrap_or_default(),
                        format!("{}…", t.prefix),
                        t.created_at.clone(),
                        t.expires_at.clone().unwrap_or_else(|| "never".into()),
                        state.to_string(),
                        t.last_used_at.clone().unwrap_or_else(|| "never".into()),
                    ]);
                }
                writeln!(out, "{table}")?;
            }
        }
        ServerCmd::Retention {
            cmd: RetentionCmd::Set { project, days },
        } => {
            let project = flakehound_store::valid_project(&project)?;
            let days = match days.trim() {
                "off" | "never" => None,
                d => Some(d.parse::<u32>().ok().filter(|d| *d > 0).with_context(|| {
                    format!("--days {d:?}: a number of days (at least 1) or `off`")
                })?),
            };
            admin.set_retention(project, days, &now)?;
            match days {
                Some(d) => writeln!(
                    out,
                    "project {project} keeps raw results for {d} days; the server prunes older runs (not pinned ones) every --retention-interval and keeps their per-test counts"
                )?,
                None => writeln!(out, "project {project} keeps every raw result")?,
            }
        }
        ServerCmd::Retention {
            cmd: RetentionCmd::List,
        } => {
            for (project, days) in admin.retentions()? {
                writeln!(out, "{project}\t{days} days")?;
            }
        }
        ServerCmd::Retention {
            cmd: RetentionCmd::Run,
        } => {
            drop(admin);
            let mut failed = false;
            for (project, days, r) in
                flakehound_server::background::retention_pass(&location, jiff::Timestamp::now())?
            {
                match r {
                    Ok(p) => writeln!(
                        out,
                        "{project} ({days} days): pruned {} runs, {} reports, {} results; per-test counts kept ({} test/commit rows)",
                        p.runs, p.reports, p.results, p.history_rows
                    )?,
                    Err(e) => {
                        failed = true;
                        writeln!(
                            std::io::stderr(),
                            "error: {project}: {e} (nothing of it was pruned)"
                        )?;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::from(exit::ERROR));
            }
        }
        ServerCmd::Run { cmd } => {
            drop(admin);
            let (project, key, pin) = match cmd {
                RunCmd::Pin { project, key } => (project, key, true),
                RunCmd::Unpin { project, key } => (project, key, false),
                RunCmd::Pinned { project } => {
                    let mut store = flakehound_store::open_existing(&location, &project)?;
                    for k in store.pinned_runs()? {
                        writeln!(out, "{k}")?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let mut store = flakehound_store::open_existing(&location, &project)?;
            if !store.pin_run(&key, pin)? {
                bail!("no run {key:?} in project {project} (it may have been pruned already)");
            }
            if pin {
                writeln!(
                    out,
                    "run {key} of {project} pinned: retention keeps it and its commit's runs"
                )?;
            } else {
                writeln!(out, "run {key} of {project} unpinned")?;
            }
        }
        ServerCmd::Token {
            cmd: TokenCmd::Revoke { id },
        } => {
            if admin.revoke_token(id, &now)? {
                writeln!(out, "token {id} revoked")?;
            } else {
                bail!("no active token {id} (`flakehound server token list` shows them)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct UploadArgs {
    /// Report files or directories (searched for reports). With none, only the uploads spooled
    /// earlier are sent.
    pub files: Vec<PathBuf>,
    /// The server's URL.
    #[arg(long, env = "FLAKEHOUND_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// An upload-scope token.
    #[arg(long, env = "FLAKEHOUND_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The project's public upload id, for CI without secrets (fork pull requests); used
    /// when no token is given (`server project public-upload` makes one).
    #[arg(long, env = "FLAKEHOUND_PUBLIC_ID", value_name = "ID")]
    pub public_id: Option<String>,
    /// Bound on each request, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
    /// Retries of a failed request (network errors, 5xx, 429), with exponential backoff.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Exit 1 when the upload is not stored (by default a server problem never fails the CI
    /// step: the files are spooled and a later `upload` sends them).
    #[arg(long)]
    pub strict: bool,
    /// Print the server's answers as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Do not send the repository's CODEOWNERS with the upload (by default the committed
    /// .github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS goes along, and the server keeps it
    /// for the project's owners when the upload is of the default branch).
    #[arg(long, env = "FLAKEHOUND_NO_CODEOWNERS")]
    pub no_codeowners: bool,
}

/// The repository's CODEOWNERS for an upload from the checkout at `root`: the committed file
/// of `HEAD` (see `flakehound_owners::committed`) with the repository's default branch. `None`
/// when there is none, or it cannot be used (said on stderr: the upload goes on without it).
pub(crate) fn upload_codeowners(root: &std::path::Path) -> Option<flakehound_client::Codeowners> {
    match flakehound_owners::committed::committed(root)? {
        Ok(c) => Some(flakehound_client::Codeowners {
            text: c.text,
            path: c.path.to_string(),
            commit: c.commit,
            commit_time: c.commit_time,
            default_branch: flakehound_ci::default_branch(root, &|name| std::env::var(name).ok()),
        }),
        Err(e) => {
            eprintln!("warning: CODEOWNERS not sent: {e}");
            None
        }
    }
}

/// What to say about the `codeowners` of an upload's answer: a line when the server kept it,
/// a note when it did not for a reason worth knowing (pinned by an admin, an older commit, a
/// file it cannot use); nothing when it was unchanged, or the upload was not of the default
/// branch (every pull request would say so).
pub(crate) fn codeowners_line(body: &serde_json::Value) -> Option<String> {
    let c = body.get("codeowners")?;
    let path = c
        .get("path")
        .and_then(|v| v.as_str())
        .unwrap_or("CODEOWNERS");
    let reason = c.get("reason").and_then(|v| v.as_str()).unwrap_or_default();
    match c.get("status").and_then(|v| v.as_str())? {
        "stored" => Some(format!(
            "CODEOWNERS {path} kept for {}: {} rules",
            body.get("project").and_then(|v| v.as_str()).unwrap_or("?"),
            c.get("rules").and_then(|v| v.as_u64()).unwrap_or(0)
        )),
        "pinned" | "older" | "invalid" => Some(format!("note: CODEOWNERS not kept: {reason}")),
        _ => None,
    }
}

/// Sends the spooled uploads, then `files`. Fail-open: a server that is down or refuses keeps
/// the CI step green (unless `--strict`); unsent files are spooled under `spool_dir`.
pub fn cmd_upload(
    args: UploadArgs,
    meta: RunMeta,
    spool_dir: PathBuf,
    root: &std::path::Path,
) -> Result<ExitCode> {
    let mut server = match (
        args.server.as_deref(),
        args.token.as_deref(),
        args.public_id.as_deref(),
    ) {
        (Some(url), Some(token), _) => Server::new(url, token),
        (Some(url), None, Some(id)) => Server::public(url, id),
        _ => bail!(
            "no server to upload to: set --server and --token (or FLAKEHOUND_SERVER and FLAKEHOUND_TOKEN; --public-id or FLAKEHOUND_PUBLIC_ID without a token)"
        ),
    };
    server.timeout = std::time::Duration::from_secs(args.timeout.max(1));
    server.retries = args.retries;
    let mut files = Vec::new();
    if !args.files.is_empty() {
        let gathered = flakehound_evidence::gather(&args.files)?;
        for (name, reason) in &gathered.missing {
            eprintln!("warning: {name}: {reason}");
        }
        for input in &gathered.inputs {
            if let flakehound_evidence::Input::File(p) = input {
                files.push(p.clone());
            }
        }
        if files.is_empty() {
            eprintln!(
                "warning: no report files found in {}: nothing to upload",
                args.files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    // What an earlier upload could not send goes first, oldest first.
    let spooled = flakehound_client::spooled(&spool_dir).unwrap_or_default();
    for s in spooled {
        match server.upload_with(&s.meta, &s.files, s.codeowners.as_ref()) {
            Ok(answer) => {
                show_answer(&mut out, &answer, args.json, Some(&s.dir))?;
                let _ = std::fs::remove_dir_all(&s.dir);
            }
            Err(e) => {
                eprintln!(
                    "warning: the upload spooled in {} is still unsent: {e}",
                    s.dir.display()
                );
                failed = true;
                if matches!(e, ClientError::Unavailable(_)) {
                    // The server is down: the rest would wait as long.
                    break;
                }
            }
        }
    }
    if !files.is_empty() {
        let codeowners = if args.no_codeowners {
            None
        } else {
            upload_codeowners(root)
        };
        match server.upload_with(&meta, &files, codeowners.as_ref()) {
            Ok(answer) => {
                // Nothing stored nor stored already: every file was rejected.
                let usable = answer.body["files"].as_array().is_some_and(|files| {
                    files
                        .iter()
                        .any(|f| f["status"] == "stored" || f["status"] == "duplicate")
                });
                failed |= answer.status >= 300 || !usable;
                show_answer(&mut out, &answer, args.json, None)?;
            }
            Err(e) => {
                failed = true;
                let kept = match &e {
                    ClientError::Unavailable(_) => flakehound_client::spool_with(
                        &spool_dir,
                        &meta,
                        &files,
                        codeowners.as_ref(),
                    )
                    .map(|d| {
                        format!(
                            "; spooled in {} (a later `flakehound upload` sends it)",
                            d.display()
                        )
                    })
                    .unwrap_or_else(|s| format!("; could not spool it either: {s}")),
                    _ => String::new(),
                };
                eprintln!("warning: upload failed: {e}{kept}");
            }
        }
    }
    Ok(if failed && args.strict {
        ExitCode::from(exit::FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

fn show_answer(
    out: &mut impl Write,
    a: &flakehound_client::Answer,
    json: bool,
    spooled: Option<&std::path::Path>,
) -> Result<()> {
    if json {
        writeln!(out, "{}", a.body)?;
        return Ok(());
    }
    let b = &a.body;
    let n = |k: &str| b.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let files = b
        .get("files")
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    let count = |s: &str| {
        files
            .iter()
            .filter(|f| f.get("status").and_then(|v| v.as_str()) == Some(s))
            .count()
    };
    writeln!(
        out,
        "uploaded{} to {}: {} files stored, {} duplicate, {} rejected; {} results, {} new runs (upload {})",
        spooled.map_or_else(String::new, |d| format!(" {}", d.display())),
        b.get("project").and_then(|v| v.as_str()).unwrap_or("?"),
        count("stored"),
        count("duplicate"),
        count("rejected"),
        n("results"),
        n("runs_created"),
        b.get("id").and_then(|v| v.as_str()).unwrap_or("?"),
    )?;
    for f in &files {
        if let Some(reason) = f.get("reason").and_then(|v| v.as_str()) {
            writeln!(
                out,
                "  rejected {}: {reason}",
                f.get("name").and_then(|v| v.as_str()).unwrap_or("?")
            )?;
        }
    }
    if let Some(line) = codeowners_line(b) {
        writeln!(out, "{line}")?;
    }
    for w in b
        .get("warnings")
        .and_then(|w| w.as_array())
        .into_iter()
        .flatten()
    {
        writeln!(out, "warning: {}", w.as_str().unwrap_or_default())?;
    }
    Ok(())
}
