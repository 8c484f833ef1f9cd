//! `flakehound alerts check|test|mute|unmute|log`: flags and printing; the monitors and the
//! channels are `flakehound-alerts`.

use crate::context::Context;
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use flakehound_alerts::{Channels, Config, Deliver, Options, Quarantines};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct AlertsArgs {
    /// The alerts configuration. Default: FLAKEHOUND_ALERTS, else .flakehound/alerts.toml at
    /// the repository root (every monitor on with its defaults, no channels, when missing).
    #[arg(long, global = true, env = "FLAKEHOUND_ALERTS", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Store location (as for `report`).
    #[arg(long, global = true, value_name = "LOCATION")]
    pub db: Option<String>,
    /// Project (as for `report`).
    #[arg(long, global = true, value_name = "NAME")]
    pub project: Option<String>,
    #[command(subcommand)]
    cmd: AlertsCmd,
}

#[derive(Subcommand)]
enum AlertsCmd {
    /// Evaluate every monitor over the store, notify each change of state once, record it.
    /// The exit status does not depend on delivery failures (see --strict).
    Check {
        /// Show what would be notified; change and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// The changes and deliveries as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 when a notification could not be delivered.
        #[arg(long)]
        strict: bool,
        /// Notify on the first check too (by default it records what already alarms, silently).
        #[arg(long)]
        notify_existing: bool,
    },
    /// Send a sample notification to every channel; report each channel's result.
    Test {
        /// Each channel's result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop notifications about a test (or `monitor:subject`, `monitor:*`).
    Mute {
        /// Test id (as `report` shows it), or `monitor:subject`, or `monitor:*`.
        test: String,
        /// How long (`7d`, `12h`, `2w`); forever when absent.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Why, kept with the mute.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove a mute.
    Unmute {
        /// What was muted: the test id, or `monitor:subject`, or `monitor:*`.
        test: String,
    },
    /// The delivery log, newest first.
    Log {
        /// How many deliveries to show.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: u32,
        /// The log as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn load_config(ctx: &Context, given: Option<&PathBuf>, required: bool) -> Result<Config> {
    let path = given
        .cloned()
        .unwrap_or_else(|| ctx.root.join(flakehound_alerts::config::DEFAULT_PATH));
    if given.is_none() && !path.exists() && !required {
        return Ok(Config::default());
    }
    Ok(Config::load(&path)?)
}

pub fn cmd_alerts(ctx: &Context, args: AlertsArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.cmd {
        AlertsCmd::Check {
            dry_run,
            json,
            strict,
            notify_existing,
        } => {
            let cfg = load_config(ctx, args.config.as_ref(), false)?;
            if !ctx.exists() {
                bail!(
                    "no store at {}: ingest or run some tests first",
                    ctx.location
                );
            }
            let mut store = ctx.open_existing()?;
            let mut alerts = flakehound_store::open_alerts(&ctx.location)?;
            let channels = Channels::new(&cfg);
            for e in channels.errors() {
                eprintln!("warning: {e}");
            }
            let opts = Options {
                dry_run,
                repo: Some(ctx.root.clone()),
                no_baseline: notify_existing,
                ..Options::new()
            };
            let quarantines = Quarantines {
                file: Some(ctx.root.join(flakehound_quarantine::QUARANTINE_FILE)),
                server: Vec::new(),
            };
            let checked = flakehound_alerts::check(
                store.as_mut(),
                alerts.as_mut(),
                &cfg,
                &opts,
                &quarantines,
                &channels,
            )?;
            if json {
                serde_json::to_writer_pretty(&mut out, &checked)?;
                writeln!(out)?;
            } else {
                let verb = if dry_run { "would notify" } else { "notified" };
                writeln!(
                    out,
                    "alerts for {}: {} change{} of state, {} subject{} alarming{}",
                    checked.project,
                    checked.changes.len(),
                    if checked.changes.len() == 1 { "" } else { "s" },
                    checked.alarming,
                    if checked.alarming == 1 { "" } else { "s" },
                    if checked.baseline {
                        " (first check: recorded as the baseline, nothing sent; --notify-existing sends them)"
                    } else {
                        ""
                    }
                )?;
                for c in &checked.changes {
                    let n = &c.notification;
                    let outcomes: Vec<String> = c
                        .outcomes
                        .iter()
                        .map(|o| {
                            let mut s = if o.channel.is_empty() {
                                o.status.clone()
                            } else {
                                format!("{} {}", o.channel, o.status)
                            };
                            if o.attempts > 1 {
                                s.push_str(&format!(" after {} attempts", o.attempts));
                            }
                            if let Some(e) = &o.error {
                                s.push_str(&format!(" ({e})"));
                            }
                            s
                        })
                        .collect();
                    writeln!(out, "  {:<15} {}", n.monitor, n.title)?;
                    writeln!(
                        out,
                        "  {:<15} {}",
                        "",
                        n.summary.replace('\n', "\n                  ")
                    )?;
                    if !n.runs.is_empty() {
                        writeln!(out, "  {:<15} runs: {}", "", n.runs.join(", "))?;
                    }
                    if let Some(l) = &n.link {
                        writeln!(out, "  {:<15} {l}", "")?;
                    }
                    writeln!(out, "  {:<15} {verb}: {}", "", outcomes.join(", "))?;
                }
                if checked.lost_races > 0 {
                    writeln!(
                        out,
                        "{} change(s) were made by another evaluator first (not notified here)",
                        checked.lost_races
                    )?;
                }
            }
            let failed = checked.failed();
            if failed > 0 {
                eprintln!(
                    "warning: {failed} notification(s) not delivered (see `flakehound alerts log`)"
                );
                if strict {
                    return Ok(ExitCode::from(1));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Test { json } => {
            let cfg = load_config(ctx, args.config.as_ref(), true)?;
            if cfg.channels.is_empty() {
                bail!("{}: no channels configured ([channels.NAME])", cfg.path);
            }
            let mut channels = Channels::new(&cfg);
            channels.set_backoff(std::time::Duration::from_millis(200));
            let sample = flakehound_alerts::sample(&ctx.project.name, &cfg);
            let mut failed = 0;
            let mut results = Vec::new();
            for name in channels.names() {
                let s = channels.send(&name, &sample);
                if s.error.is_some() {
                    failed += 1;
                }
                results.push(serde_json::json!({"channel": name, "ok": s.error.is_none(), "attempts": s.attempts, "error": s.error}));
                if !json {
                    match &s.error {
                        None => writeln!(out, "{name}: ok")?,
                        Some(e) => writeln!(out, "{name}: error: {e}")?,
                    }
                }
            }
            if json {
                serde_json::to_writer_pretty(&mut out, &results)?;
                writeln!(out)?;
            }
            Ok(if failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        AlertsCmd::Mute {
            test,
            duration,
            reason,
        } => {
            let now = jiff::Timestamp::now();
            let until = match &duration {
                Some(d) => {
                    let d = flakehound_alerts::config::parse_duration(d)
                        .with_context(|| format!("--for {d:?}: not a duration (like 7d, 12h)"))?;
                    Some(now + jiff::SignedDuration::try_from(d)?)
                }
                None => None,
            };
            let project = project_name(ctx)?;
            let mut alerts = flakehound_store::open_alerts(&ctx.location)?;
            alerts.mute(&flakehound_store::Mute {
                project: project.clone(),
                subject: test.clone(),
                until: until.map(|u| u.round(jiff::Unit::Second).unwrap_or(u).to_string()),
                reason,
                created_at: flakehound_store::time::now(),
            })?;
            match until {
                Some(u) => writeln!(
                    out,
                    "muted {test} in {project} until {}",
                    u.round(jiff::Unit::Second).unwrap_or(u)
                )?,
                None => writeln!(out, "muted {test} in {project} until unmuted")?,
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCmd::Unmute { test } => {
            let project = project_name(ctx)?;
            let mut alerts = flakehound_store::open_alerts(&ctx.location)?;
            if alerts.unmute(&project, &test)? {
                writeln!(out, "unmuted {test} in {project}")?;
                Ok(ExitCode::SUCCESS)
            } else {
                bail!("{test} is not muted in {project}")
            }
        }
        AlertsCmd::Log { limit, json } => {
            let project = project_name(ctx)?;
            let mut alerts = flakehound_store::open_alerts(&ctx.location)?;
            let log = alerts.deliveries(&project, limit)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &log)?;
                writeln!(out)?;
            } else {
                let mutes = alerts.mutes(&project)?;
                for d in &log {
                    let mut line = format!(
                        "{}  {:<10} {:<15} {:<12}",
                        d.at,
                        d.status,
                        d.monitor,
                        if d.channel.is_empty() {
                            "-"
                        } else {
                            &d.channel
                        }
                    );
                    line.push_str(&d.title);
                    if d.attempts > 1 {
                        line.push_str(&format!(" [{} attempts]", d.attempts));
                    }
                    if let Some(e) = &d.error {
                        line.push_str(&format!(" ({e})"));
                    }
                    writeln!(out, "{line}")?;
                }
                if log.is_empty() {
                    writeln!(out, "no notifications yet for {project}")?;
                }
                for m in mutes {
                    writeln!(
                        out,
                        "muted: {} until {}",
                        m.subject,
                        m.until.as_deref().unwrap_or("unmuted")
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The project the store holds for this repository (as `report` picks it).
fn project_name(ctx: &Context) -> Result<String> {
    if ctx.exists() {
        let store = ctx.open_existing()?;
        return Ok(store.project().to_string());
    }
    Ok(ctx.project.name.clone())
}
