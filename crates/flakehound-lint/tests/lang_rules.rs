//! The JavaScript/TypeScript and Rust rules, one by one: a fixture that triggers each and one
//! that must not.

use flakehound_lint::{Config, scan};

/// Writes `src` as `path` under a fresh project (`package.json` and `Cargo.toml` at its root)
/// and scans it; returns `(rule, test id)` pairs.
fn lint(path: &str, src: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), "{}").unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    let p = dir.path().join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, src).unwrap();
    // Every rule, the pedantic tier included.
    let mut config = Config::default();
    config.pedantic = true;
    let s = scan(&[dir.path().to_path_buf()], &config, None);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let mut out = Vec::new();
    for f in s.findings {
        for t in f.tests {
            out.push((f.rule.to_string(), t));
        }
    }
    out.sort();
    out
}

fn js(body: &str) -> Vec<(String, String)> {
    lint("tests/a.test.js", body)
}

fn rs(body: &str) -> Vec<(String, String)> {
    let src = format!("#[cfg(test)]\nmod tests {{\n    use super::*;\n{body}\n}}\n");
    lint("src/lib.rs", &src)
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(r, t)| ((*r).to_string(), (*t).to_string()))
        .collect()
}

// JavaScript / TypeScript.

#[test]
fn js_sleep_wait() {
    let found = js(
        "test('t', async () => {\n  start();\n  await new Promise(r => setTimeout(r, 500));\n  expect(done()).toBe(true);\n});\n",
    );
    assert_eq!(found, pairs(&[("sleep-wait", "tests/a.test.js › t")]));
    // In a polling loop, under 10 ms, or with fake timers: not a sleep-wait.
    assert!(js("test('t', async () => {\n  while (!done()) { await sleep(50); }\n  await delay(5);\n  await waitFor(() => setTimeout(f, 100));\n});\n").is_empty());
    assert!(js("jest.useFakeTimers();\ntest('t', () => { setTimeout(f, 500); });\n").is_empty());
}

#[test]
fn js_unseeded_random() {
    let found = js(
        "describe('cart', () => {\n  it('adds', () => {\n    const qty = Math.floor(Math.random() * 5);\n    const cart = new Cart();\n    cart.add(qty);\n    expect(cart.count()).toBe(3);\n  });\n});\n",
    );
    assert_eq!(
        found,
        pairs(&[("unseeded-random", "tests/a.test.js › cart › adds")])
    );
    // A round trip holds for any value; a random value no assertion sees; a seeded file.
    assert!(js("test('t', () => {\n  const n = Math.random();\n  expect(decode(encode(n))).toBe(n);\n  const id = Math.random();\n  save(id);\n  expect(1).toBe(1);\n});\n").is_empty());
    assert!(js("jest.spyOn(Math, 'random').mockReturnValue(0.5);\ntest('t', () => { expect(Math.random()).toBe(0.5); });\n").is_empty());
}

#[test]
fn js_wall_clock_compare() {
    let found = lint(
        "src/__tests__/date.ts",
        "test('today', () => {\n  const now: Date = new Date();\n  expect(now.getDay()).toBe(2);\n});\n",
    );
    assert_eq!(
        found,
        pairs(&[("wall-clock-compare", "src/__tests__/date.ts › today")])
    );
    // Compared with another reading of the clock, or under a frozen clock.
    assert!(
        js("test('t', () => {\n  const a = Date.now();\n  expect(stamp(a)).toBe(a);\n});\n")
            .is_empty()
    );
    assert!(js("vi.setSystemTime(new Date('2024-01-02'));\ntest('t', () => { expect(new Date().getDay()).toBe(2); });\n").is_empty());
}

#[test]
fn js_timing_assert() {
    let found = js(
        "test('quick', async () => {\n  const start = performance.now();\n  await run();\n  const took = performance.now() - start;\n  expect(took).toBeLessThan(50);\n});\n",
    );
    assert_eq!(
        found,
        pairs(&[("timing-assert", "tests/a.test.js › quick")])
    );
    // A lower bound cannot fail on a slow machine.
    // Neither does a budget of 5 s or more: a guard against a hang.
    assert!(js("test('t', async () => {\n  const start = Date.now();\n  await run();\n  expect(Date.now() - start).toBeLessThan(10000);\n});\n").is_empty());
    assert!(js("test('t', async () => {\n  const start = Date.now();\n  await wait();\n  expect(Date.now() - start).toBeGreaterThanOrEqual(100);\n  assert(Date.now() - start >= 100);\n});\n").is_empty());
}

#[test]
fn js_real_network() {
    let found = lint(
        "tests/api.spec.tsx",
        "it('prices', async () => {\n  const r = await axios.get('https://api.example.com/p');\n  expect(r.status).toBe(200);\n});\n",
    );
    assert_eq!(
        found,
        pairs(&[("real-network", "tests/api.spec.tsx › prices")])
    );
    assert!(js("test('t', async () => { await fetch('http://localhost:3000/x'); await fetch(url); });\n").is_empty());
    assert!(js("import nock from 'nock';\ntest('t', async () => { await fetch('https://api.example.com/'); });\n").is_empty());
}

#[test]
fn js_fixed_tmp_path() {
    let found = js(
        "const OUT = path.join(os.tmpdir(), 'export.json');\ntest('a', () => { fs.writeFileSync(OUT, '{}'); });\ntest('b', () => { fs.writeFileSync('/tmp/b.json', '{}'); });\n",
    );
    assert_eq!(
        found,
        pairs(&[
            ("fixed-tmp-path", "tests/a.test.js › a"),
            ("fixed-tmp-path", "tests/a.test.js › b"),
        ])
    );
    assert!(
        js("test('t', () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'x-')); });\n")
            .is_empty()
    );
}

#[test]
fn js_shared_module_state() {
    let found = js(
        "const seen = [];\ntest('a', () => { seen.push(1); });\ntest('b', () => { expect(seen.length).toBe(0); });\n",
    );
    assert_eq!(
        found,
        pairs(&[("shared-module-state", "tests/a.test.js › b")])
    );
    // Reset by a hook, or written before it is read: no dependence.
    assert!(js("let seen = [];\nbeforeEach(() => { seen = []; });\ntest('a', () => { seen.push(1); });\ntest('b', () => { expect(seen.length).toBe(0); });\n").is_empty());
    assert!(js("let user;\ntest('a', () => { user = make(); expect(user).toBeTruthy(); });\ntest('b', () => { user = make(); expect(user.id).toBe(1); });\n").is_empty());
}

#[test]
fn js_retry_marker() {
    let found = js(
        "describe('s', () => {\n  jest.retryTimes(3);\n  test('a', () => {});\n});\ntest('b', () => {});\n",
    );
    assert_eq!(found, pairs(&[("retry-marker", "tests/a.test.js › s › a")]));
    assert!(js("describe('s', () => { test('a', () => {}); });\n").is_empty());
}

#[test]
fn js_suppression() {
    assert!(js("test('t', () => {\n  // flakehound: ignore[sleep-wait]\n  setTimeout(f, 500);\n  setTimeout(g, 600); // flakehound: ignore\n});\n").is_empty());
}

// Rust.

#[test]
fn rust_sleep_wait() {
    let found = rs(
        "#[test]\nfn waits() {\n    start();\n    std::thread::sleep(Duration::from_millis(200));\n    assert!(done());\n}\n",
    );
    assert_eq!(found, pairs(&[("sleep-wait", "tests::waits")]));
    assert!(rs("#[test]\nfn polls() {\n    while !done() { thread::sleep(Duration::from_millis(20)); }\n    thread::sleep(Duration::from_millis(1));\n}\n#[tokio::test(start_paused = true)]\nasync fn paused() { tokio::time::sleep(Duration::from_secs(5)).await; }\n").is_empty());
}

#[test]
fn rust_unseeded_random() {
    let found = rs(
        "#[test]\nfn key() {\n    let k: u32 = rand::random();\n    assert_eq!(lookup(k), 7);\n}\n",
    );
    assert_eq!(found, pairs(&[("unseeded-random", "tests::key")]));
    assert!(rs("#[test]\nfn round_trip() {\n    let k: u32 = rand::random();\n    assert_eq!(decode(encode(k)), k);\n    let mut rng = StdRng::seed_from_u64(7);\n    let v: u32 = rng.gen();\n    assert_eq!(lookup(v), 7);\n}\n").is_empty());
}

#[test]
fn rust_wall_clock_compare() {
    let found = rs(
        "#[test]\nfn year() {\n    let now = chrono::Utc::now();\n    assert_eq!(now.year(), 2024);\n}\n",
    );
    assert_eq!(found, pairs(&[("wall-clock-compare", "tests::year")]));
    assert!(rs("#[test]\nfn same() {\n    let now = Utc::now();\n    assert_eq!(parse(&now.to_string()), now);\n}\n").is_empty());
}

#[test]
fn rust_timing_assert() {
    let found = rs(
        "#[test]\nfn fast() {\n    let start = Instant::now();\n    run();\n    assert!(start.elapsed() < Duration::from_millis(5));\n}\n",
    );
    assert_eq!(found, pairs(&[("timing-assert", "tests::fast")]));
    assert!(rs("#[test]\nfn no_hang() {\n    let t = Instant::now();\n    run();\n    assert!(t.elapsed() < Duration::from_secs(6));\n    assert!(t.elapsed().as_secs() < 20);\n}\n").is_empty());
    assert!(rs("#[test]\nfn slow_enough() {\n    let start = Instant::now();\n    run();\n    assert!(start.elapsed() >= Duration::from_millis(5));\n}\n").is_empty());
}

#[test]
fn rust_real_network() {
    let found = rs(
        "#[test]\nfn api() {\n    let r = reqwest::blocking::get(\"https://api.example.com/x\").unwrap();\n    assert!(r.status().is_success());\n}\n",
    );
    assert_eq!(found, pairs(&[("real-network", "tests::api")]));
    assert!(rs("#[test]\nfn local() {\n    let _ = reqwest::blocking::get(\"http://127.0.0.1:8080/\");\n    let _ = map.get(\"https://example.com\");\n}\n").is_empty());
}

#[test]
fn rust_fixed_tmp_path() {
    let found =
        rs("#[test]\nfn writes() {\n    std::fs::write(\"/tmp/x.bin\", b\"x\").unwrap();\n}\n");
    assert_eq!(found, pairs(&[("fixed-tmp-path", "tests::writes")]));
    assert!(rs("#[test]\nfn own_dir() {\n    let d = tempfile::tempdir().unwrap();\n    std::fs::write(d.path().join(\"x\"), b\"x\").unwrap();\n}\n").is_empty());
}

#[test]
fn rust_shared_state() {
    let src = "static SEEN: Mutex<Vec<u32>> = Mutex::new(Vec::new());\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { SEEN.lock().unwrap().push(1); }\n    #[test]\n    fn counts() { assert_eq!(SEEN.lock().unwrap().len(), 0); }\n    #[test]\n    fn sets_env() { unsafe { std::env::set_var(\"MODE\", \"x\") }; }\n    #[test]\n    fn reads_env() { assert!(std::env::var(\"MODE\").is_err()); }\n}\n";
    let found = lint("src/cache.rs", src);
    assert_eq!(
        found,
        pairs(&[
            ("shared-module-state", "cache::tests::counts"),
            ("shared-module-state", "cache::tests::reads_env"),
        ])
    );
    // Read-only statics are not shared state.
    let clean = "static NAMES: &[&str] = &[\"a\"];\n#[test]\nfn a() { assert_eq!(NAMES.len(), 1); }\n#[test]\nfn b() { assert_eq!(NAMES[0], \"a\"); }\n";
    assert!(lint("tests/it.rs", clean).is_empty());
}

#[test]
fn rust_thread_no_join() {
    let found =
        rs("#[test]\nfn fire() {\n    std::thread::spawn(|| work());\n    assert!(done());\n}\n");
    assert_eq!(found, pairs(&[("thread-no-join", "tests::fire")]));
    assert!(rs("#[test]\nfn joined() {\n    let h = std::thread::spawn(|| work());\n    h.join().unwrap();\n    std::thread::scope(|s| { s.spawn(|| work()); });\n}\n").is_empty());
}

#[test]
fn rust_hash_order_assert() {
    let found = rs(
        "#[test]\nfn keys() {\n    let mut m = HashMap::new();\n    m.insert(\"a\", 1);\n    let k: Vec<_> = m.keys().collect();\n    assert_eq!(k, vec![\"a\"]);\n}\n",
    );
    assert_eq!(found, pairs(&[("set-order-assert", "tests::keys")]));
    assert!(rs("#[test]\nfn sorted() {\n    let mut m = HashMap::new();\n    let mut k: Vec<_> = m.keys().collect();\n    k.sort();\n    assert_eq!(k, vec![\"a\"]);\n    assert_eq!(m.len(), 1);\n    let s: HashSet<_> = m.keys().collect();\n    assert_eq!(s, [\"a\"].into_iter().collect());\n}\n").is_empty());
}

#[test]
fn rust_suppression_and_non_tests() {
    assert!(rs("#[test]\nfn quiet() {\n    // flakehound: ignore[sleep-wait]\n    std::thread::sleep(Duration::from_secs(1));\n}\nfn helper() { std::thread::sleep(Duration::from_secs(1)); }\n").is_empty());
}

/// The README's transcripts scan these fixtures: what they find, test by test.
#[test]
fn readme_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let found = |sub: &str| {
        let mut config = Config::default();
        config.pedantic = true;
        let s = scan(&[dir.join(sub)], &config, None);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let mut v: Vec<(String, String)> = s
            .findings
            .into_iter()
            .flat_map(|f| f.tests.into_iter().map(move |t| (f.rule.to_string(), t)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        found("js-shop"),
        pairs(&[
            (
                "fixed-tmp-path",
                "tests/cart.test.ts › cart › exports the cart"
            ),
            (
                "shared-module-state",
                "tests/cart.test.ts › cart › starts with no open carts"
            ),
            (
                "sleep-wait",
                "tests/cart.test.ts › cart › waits for the price feed"
            ),
            (
                "timing-assert",
                "tests/cart.test.ts › cart › checks out quickly"
            ),
            (
                "unseeded-random",
                "tests/cart.test.ts › cart › adds a random quantity"
            ),
            (
                "wall-clock-compare",
                "tests/cart.test.ts › cart › shows today's delivery day"
            ),
        ])
    );
    assert_eq!(
        found("rust-cache"),
        pairs(&[
            ("fixed-tmp-path", "tests::evicts_the_oldest"),
            ("set-order-assert", "tests::lists_keys"),
            ("shared-module-state", "tests::starts_with_no_evictions"),
            ("sleep-wait", "tests::refreshes_in_the_background"),
            ("thread-no-join", "tests::refreshes_in_the_background"),
            ("timing-assert", "tests::lookups_are_fast"),
        ])
    );
}
