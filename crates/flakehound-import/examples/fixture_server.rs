//! Serves the fixture history (GitHub Actions runs and GitLab pipelines shaped as their REST
//! APIs answer) on a local port until killed: for the README's transcript and for trying
//! `flakehound import` by hand.
//!
//! `cargo run -p flakehound-import --features fixture --example fixture_server -- [RUNS] [ADDR]`
//! prints the URL to pass as `--api-url`.

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let mut scenario = flakehound_import::fixture::Scenario::github(runs);
    let gitlab = flakehound_import::fixture::Scenario::gitlab(runs);
    scenario.project = gitlab.project;
    scenario.pipelines = gitlab.pipelines;
    let fixture = flakehound_import::fixture::Fixture::start_on(&addr, scenario);
    println!("{}", fixture.url);
    loop {
        std::thread::park();
    }
}
