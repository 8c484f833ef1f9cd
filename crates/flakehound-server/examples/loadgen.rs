//! Load generator for `benches/server.sh`: N uploads of a generated JUnit report of T tests,
//! C at a time, against a running server. Prints latency percentiles, throughput and what the
//! server answered; with `--write DIR` it only writes the reports (the baseline ingests them).
//!
//! Usage: loadgen --url URL --token TOKEN [--uploads 200] [--concurrency 200] [--tests 400]
//!        loadgen --write DIR [--uploads 200] [--tests 400]

use std::time::{Duration, Instant};

fn report(i: usize, tests: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\"?>\n<testsuite name=\"load\" tests=\"{tests}\" timestamp=\"2026-11-01T10:{:02}:{:02}\" hostname=\"runner-{}\">\n",
        (i / 60) % 60,
        i % 60,
        i % 7
    );
    for t in 0..tests {
        let fail = (i * 31 + t * 17).is_multiple_of(97);
        s.push_str(&format!(
            "<testcase classname=\"tests.test_mod{}\" name=\"test_{t}\" time=\"0.{:03}\">",
            t % 20,
            (i + t) % 1000
        ));
        if fail {
            s.push_str("<failure message=\"AssertionError: assert 1 == 2\">trace</failure>");
        }
        s.push_str("</testcase>\n");
    }
    // Unique content per upload: its number.
    s.push_str(&format!(
        "<system-out>upload {i}</system-out>\n</testsuite>\n"
    ));
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num = |k: &str, d: usize| get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let uploads = num("--uploads", 200);
    let concurrency = num("--concurrency", 200).max(1);
    let tests = num("--tests", 400);
    if let Some(dir) = get("--write") {
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..uploads {
            let d = std::path::Path::new(&dir).join(format!("{i:04}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("junit.xml"), report(i, tests)).unwrap();
        }
        return;
    }
    let url = get("--url").expect("--url");
    let token = get("--token").expect("--token");
    let bodies: Vec<String> = (0..uploads).map(|i| report(i, tests)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, Duration, u16, String)>> = Default::default();
    // Each sender builds its own client (a CI runner's: its own connection pool and runtime)
    // before the clock starts. Built inside the timed round (as at first), 200 clients took
    // CPU on the server's two cores that a real fleet of runners spends on its own machines.
    // (One client shared by every sender was tried too: its single runtime thread then queues
    // the 200 requests on the client side, p99 284-297 ms against 197-250 ms here.)
    let senders = concurrency.min(uploads);
    let ready = std::sync::Barrier::new(senders + 1);
    let started: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    std::thread::scope(|s| {
        for _ in 0..senders {
            let (ready, started, next, results, bodies) =
                (&ready, &started, &next, &results, &bodies);
            let (url, token) = (&url, &token);
            s.spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()
                    .unwrap();
                ready.wait();
                // The first sender past the barrier starts the clock (the main thread may be
                // scheduled after 200 woken senders: measured, 0.1 s late).
                started.get_or_init(Instant::now);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= uploads {
                        break;
                    }
                    let form = reqwest::blocking::multipart::Form::new()
                        .text(
                            "meta",
                            format!("{{\"run_id\": \"load-{i}\", \"commit\": \"c{}\"}}", i / 10),
                        )
                        .part(
                            "report",
                            reqwest::blocking::multipart::Part::text(bodies[i].clone())
                                .file_name("junit.xml"),
                        );
                    let t = Instant::now();
                    let (status, text) = match http
                        .post(format!("{url}/api/v1/uploads"))
                        .bearer_auth(token)
                        .multipart(form)
                        .send()
                    {
                        Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
                        Err(e) => (0, e.to_string()),
                    };
                    results.lock().unwrap().push((i, t.elapsed(), status, text));
                }
            });
        }
        ready.wait();
        started.get_or_init(Instant::now);
    });
    let wall = started.get().map_or(Duration::ZERO, Instant::elapsed);
    let results = results.into_inner().unwrap();
    let mut lat: Vec<Duration> = results.iter().map(|r| r.1).collect();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    let ok = results.iter().filter(|r| r.2 == 200).count();
    let stored: usize = results
        .iter()
        .filter(|r| r.3.contains("\"status\":\"stored\""))
        .count();
    for r in results.iter().filter(|r| r.2 != 200).take(3) {
        eprintln!("upload {} answered {}: {}", r.0, r.2, r.3);
    }
    println!(
        "uploads {uploads} concurrency {concurrency} tests {tests}: ok {ok} stored {stored} wall {:.3} s p50 {:.0} ms p95 {:.0} ms p99 {:.0} ms max {:.0} ms results/s {:.0}",
        wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.95).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        lat.last().unwrap().as_secs_f64() * 1000.0,
        (stored * tests) as f64 / wall.as_secs_f64()
    );
}
