//! Serves the fixture history (GitHub Actions runs and GitLab pipelines shaped as their REST
//! APIs answer) on a local port until killed: for the README's transcript, the benchmark
//! (`benches/import.sh`) and trying `flakehound import` by hand.
//!
//! `cargo run -p flakehound-import --features fixture --example fixture_server -- RUNS [ADDR]`
//! prints the URL to pass as `--api-url` (GitLab: URL/api/v4).
//!
//! `… -- RUNS --dump DIR` writes the report files of every GitHub run attempt's artifacts to
//! `DIR/RUN-ATTEMPT/…` instead (the benchmark's baseline: ingesting the same reports from disk).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(40);
    let mut scenario = flakehound_import::fixture::Scenario::github(runs);
    if args.get(1).map(String::as_str) == Some("--dump") {
        let dir = std::path::PathBuf::from(args.get(2).expect("--dump DIR"));
        for run in &scenario.runs {
            for (i, attempt) in run.attempts.iter().enumerate() {
                for artifact in attempt.artifacts.iter().filter(|a| !a.expired) {
                    for (path, content) in &artifact.files {
                        let to = dir.join(format!("{}-{}", run.id, i + 1)).join(path);
                        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
                        std::fs::write(&to, content).expect("write");
                    }
                }
            }
        }
        return;
    }
    let addr = args.get(1).cloned().unwrap_or_else(|| "127.0.0.1:0".into());
    let gitlab = flakehound_import::fixture::Scenario::gitlab(runs);
    scenario.project = gitlab.project;
    scenario.pipelines = gitlab.pipelines;
    let fixture = flakehound_import::fixture::Fixture::start_on(&addr, scenario);
    println!("{}", fixture.url);
    loop {
        std::thread::park();
    }
}
