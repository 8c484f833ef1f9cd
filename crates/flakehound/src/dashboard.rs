//! `flakehound dashboard`: the dashboard of the local store in a browser (see
//! `flakehound-dashboard`). Flags and printing only.

use crate::context::Context;
use anyhow::{Result, bail};
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

#[derive(Args)]
pub struct DashboardArgs {
    /// Address to listen on. Default: the loopback interface on a free port. There is no
    /// sign-in: anyone who can reach the address reads the evidence (use `flakehound serve`
    /// for a team).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: String,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    open: bool,
}

pub fn cmd_dashboard(ctx: &Context, args: DashboardArgs) -> Result<ExitCode> {
    if !ctx.exists() {
        bail!(
            "no store at {}; run `flakehound ingest` first",
            ctx.location
        );
    }
    // The project as every reading command resolves it.
    let project = ctx.open_existing()?.project().to_string();
    let backend = flakehound_dashboard::LocalBackend::new(
        ctx.location.clone(),
        ctx.root.clone(),
        ctx.root.join(flakehound_quarantine::QUARANTINE_FILE),
    );
    let store = ctx.location.to_string();
    let open = args.open;
    let loopback = args
        .listen
        .parse::<std::net::SocketAddr>()
        .map_or(args.listen.starts_with("localhost:"), |a| {
            a.ip().is_loopback()
        });
    flakehound_dashboard::serve_local(&args.listen, backend, &project, |addr| {
        let url = format!("http://{addr}/");
        // The first line on stdout: scripts (and tests) read the address from it.
        println!("flakehound dashboard of {project} at {url} (store: {store}); Ctrl-C stops it");
        if !loopback {
            println!(
                "warning: listening beyond this machine without sign-in: anyone who reaches {addr} reads the evidence"
            );
        }
        let _ = std::io::stdout().flush();
        if open {
            open_browser(&url);
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Opens `url` with the desktop's opener; says so when there is none.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!("flakehound: cannot open a browser ({opener}: {e}); open {url} yourself");
    }
}
