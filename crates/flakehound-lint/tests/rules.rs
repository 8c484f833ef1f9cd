//! Each rule, one by one: a fixture that triggers it and one that must not.

use flakehound_lint::{Config, RULES, scan};
use std::path::Path;

/// Writes `files` (path, source) under a fresh project (with a pytest.ini) and scans it;
/// returns `(rule, test id)` pairs, plus findings no test reaches as `(rule, "")`.
/// Every rule, the pedantic tier included (`pedantic_rules_need_opting_into` checks the
/// default set).
fn lint(files: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut config = Config::default();
    config.pedantic = true;
    lint_with(files, &config)
}

fn lint_with(files: &[(&str, &str)], config: &Config) -> Vec<(String, String)> {
    pairs(scan_with(files, config).findings.iter())
}

/// The `(rule, test id)` pairs of the findings flagged as a default rule's pedantic form (a
/// note, shown only with --pedantic), scanning with every rule.
fn pedantic_forms(files: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut config = Config::default();
    config.pedantic = true;
    pairs(
        scan_with(files, &config)
            .findings
            .iter()
            .filter(|f| f.pedantic),
    )
}

/// The tests of one rule's findings, in the order found.
fn tests_of(rule: &str, found: Vec<(String, String)>) -> Vec<String> {
    found
        .into_iter()
        .filter(|(r, _)| r == rule)
        .map(|(_, t)| t)
        .collect()
}

fn scan_with(files: &[(&str, &str)], config: &Config) -> flakehound_lint::Scan {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pytest.ini"), "[pytest]\n").unwrap();
    for (path, src) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, src).unwrap();
    }
    let s = scan(&[dir.path().to_path_buf()], config, None);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    s
}

fn pairs<'f>(
    findings: impl Iterator<Item = &'f flakehound_lint::Finding>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in findings {
        if f.tests.is_empty() {
            out.push((f.rule.to_string(), String::new()));
        }
        for t in &f.tests {
            out.push((f.rule.to_string(), t.clone()));
        }
    }
    out.sort();
    out
}

fn rules_of(found: &[(String, String)]) -> Vec<&str> {
    let mut v: Vec<&str> = found.iter().map(|(r, _)| r.as_str()).collect();
    v.dedup();
    v
}

fn one(src: &str) -> Vec<(String, String)> {
    lint(&[("tests/test_it.py", src)])
}

#[test]
fn sleep_wait() {
    let found =
        one("import time\n\ndef test_a():\n    start()\n    time.sleep(0.5)\n    assert done()\n");
    assert_eq!(
        found,
        [("sleep-wait".into(), "tests/test_it.py::test_a".into())]
    );
    // Polling in a loop is the fix; sleep(0) and sleeps under 10 ms yield or tick the clock.
    let clean = one(
        "import time\n\ndef test_a():\n    while not done():\n        time.sleep(0.01)\n    time.sleep(0)\n    time.sleep(0.001)\n",
    );
    assert!(clean.is_empty(), "{clean:?}");
}

#[test]
fn pedantic_rules_need_opting_into() {
    // sleep-wait is pedantic (measured precision too low for the default set): not reported by
    // default, reported with `pedantic` or `enable`.
    let files = [(
        "tests/test_it.py",
        "import time, random\n\ndef test_a():\n    time.sleep(0.5)\n    assert random.random() < 0.5\n",
    )];
    assert_eq!(
        lint_with(&files, &Config::default()),
        [(
            "unseeded-random".to_string(),
            "tests/test_it.py::test_a".to_string()
        )]
    );
    let mut enabled = Config::default();
    enabled.enable = vec!["sleep-wait".into()];
    assert_eq!(
        rules_of(&lint_with(&files, &enabled)),
        ["sleep-wait", "unseeded-random"]
    );
    // retry-marker is pedantic too: the team already knows the test flakes.
    let marked = [(
        "tests/test_it.py",
        "import pytest\n\n@pytest.mark.flaky(reruns=3)\ndef test_a():\n    assert go()\n",
    )];
    assert!(lint_with(&marked, &Config::default()).is_empty());
    let mut all = Config::default();
    all.pedantic = true;
    assert_eq!(rules_of(&lint_with(&marked, &all)), ["retry-marker"]);
    // thread-no-join too (round 7).
    let thread = [(
        "tests/test_it.py",
        "import threading\n\ndef test_a():\n    t = threading.Thread(target=work)\n    t.start()\n    assert result()\n",
    )];
    assert!(lint_with(&thread, &Config::default()).is_empty());
    assert_eq!(rules_of(&lint_with(&thread, &all)), ["thread-no-join"]);
}

#[test]
fn unseeded_random() {
    let found = one("import random\n\ndef test_a():\n    assert pick(random.choice([1, 2])) > 0\n");
    assert_eq!(rules_of(&found), ["unseeded-random"]);
    let from = one("from random import randint\n\ndef test_a():\n    assert randint(1, 6) <= 6\n");
    assert_eq!(rules_of(&from), ["unseeded-random"]);
    let seeded = one(
        "import random\n\ndef test_a():\n    random.seed(4)\n    assert random.randint(1, 6) <= 6\n\ndef test_b():\n    rng = random.Random(3)\n    assert rng.random() < 1\n",
    );
    assert!(seeded.is_empty(), "{seeded:?}");
    // A random unique name is no random input.
    let token = one(
        "import random\n\ndef test_a(tmp_path):\n    p = tmp_path / str(random.random())\n    q = f'ch-{random.random()}'\n    assert p != q\n",
    );
    assert!(token.is_empty(), "{token:?}");
    // Random test data that no assertion compares passes with any value (held-out lesson).
    let data = one(
        "import random, unittest\n\nclass T(unittest.TestCase):\n    def setUp(self):\n        self.level = random.choice([1, 2])\n\n    def test_a(self):\n        name = random.choice(['a', 'b'])\n        save(name)\n        self.assertIsNotNone(load())\n",
    );
    assert!(data.is_empty(), "{data:?}");
    let reaches = one(
        "import random\n\ndef test_a():\n    n = random.randint(1, 9)\n    save(n)\n    assert load() == n * 2\n",
    );
    assert_eq!(rules_of(&reaches), ["unseeded-random"]);
}

#[test]
fn unseeded_random_looked_up_or_captured_passes_with_any_value() {
    // A look-up of the draw in what holds it (`d.get(k)` after `d[k] = …`), a closure that
    // writes it: any value passes.
    let any = one(
        "import os, random\n\ndef test_lookup():\n    k = random.choice('abc')\n    d = {}\n    d[k] = 1\n    assert d.get(k) == 1\n\ndef test_captured(out):\n    text = str(random.randint(1, 9))\n    run(lambda: out.write(text))\n    assert out.getvalue() == text\n",
    );
    assert!(any.is_empty(), "{any:?}");
    // The draw itself against a fixed value, and two draws compared on one line (one finding).
    let fixed = one(
        "import random\n\ndef test_a():\n    k = random.choice('abc')\n    d = {}\n    d[k] = 1\n    assert d.get(k) == 1\n    assert k == 'a'\n\ndef test_b():\n    assert random.random() != random.random()\n",
    );
    assert_eq!(
        fixed,
        [
            (
                "unseeded-random".to_string(),
                "tests/test_it.py::test_a".to_string()
            ),
            (
                "unseeded-random".to_string(),
                "tests/test_it.py::test_b".to_string()
            )
        ]
    );
}

#[test]
fn unseeded_random_a_given_state_is_a_seed() {
    // Faker's distribution test loads a generator state from a file and sets it: seeded.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/dist.py",
            "import random\n\ndef pick(a):\n    return random.choice(a)\n",
        ),
        (
            "tests/test_dist.py",
            "import json, random\nfrom app.dist import pick\n\ndef test_given():\n    random.setstate(tuple(json.load(open('state.json'))))\n    assert pick('ab') == 'a'\n",
        ),
    ];
    let found = lint(&files);
    assert!(found.is_empty(), "{found:?}");
    // A state saved with getstate() and put back restores an unseeded generator: reported.
    let restored = [
        files[0],
        files[1],
        (
            "tests/test_dist.py",
            "import random\nfrom app.dist import pick\n\ndef test_saved():\n    old = random.getstate()\n    assert pick('ab') == 'a'\n    random.setstate(old)\n",
        ),
    ];
    assert_eq!(
        lint(&restored),
        [(
            "unseeded-random".to_string(),
            "tests/test_dist.py::test_saved".to_string()
        )]
    );
}

#[test]
fn unseeded_random_compared_only_with_itself_is_not_reported() {
    // Written and read back through a queue, a dict, a file: any value passes.
    let round_trip = one(
        "import random\n\ndef test_queue():\n    x = random.random()\n    q = Queue()\n    q.put(x)\n    assert q.get() == x\n\ndef test_dict():\n    d = {}\n    k = random.choice('abc')\n    d[k] = 1\n    assert k in d\n\ndef test_file(tmp_path):\n    data = random.randbytes(8)\n    p = tmp_path / 'f'\n    with open(p, 'wb') as f:\n        f.write(data)\n    with open(p, 'rb') as f:\n        assert f.read() == data\n\ndef test_helpers(tmp_path):\n    data = random.randbytes(8)\n    path = tmp_path / 'g'\n    write(path, data)\n    assert read(path) == data\n",
    );
    assert!(round_trip.is_empty(), "{round_trip:?}");
    // The value itself (or a function of it) compared with a fixed one: reported. What an
    // object it was stored in returns only may hold it (boltons' `seek` positions after
    // writing a random string): not reported.
    let fixed = one(
        "import random\n\ndef test_queue():\n    x = random.random()\n    q = Queue()\n    q.put(x)\n    assert q.get() == x\n    assert round(x) < 1\n",
    );
    assert_eq!(rules_of(&fixed), ["unseeded-random"]);
    // Random data carried through the code under test and seen back unchanged: the other
    // checks on what carried it hold for any content (trio's `cat` test). Without the round
    // trip, or a scalar draw, still reported.
    let carried = one(
        "import random\n\ndef test_cat():\n    data = bytes(random.randint(0, 255) for _ in range(64))\n    result = run(CAT, stdin=data)\n    assert result.returncode == 0\n    assert result.stdout == data\n\ndef test_status():\n    data = bytes(random.randint(0, 255) for _ in range(64))\n    result = run(CAT, stdin=data)\n    assert result.returncode == 0\n\ndef test_scalar():\n    x = random.randint(0, 255)\n    result = run(CAT, stdin=x)\n    assert result.returncode == 0\n    assert result.stdout == x\n",
    );
    let mut carried: Vec<&str> = carried.iter().map(|(_, t)| t.as_str()).collect();
    carried.sort();
    assert_eq!(
        carried,
        [
            "tests/test_it.py::test_scalar",
            "tests/test_it.py::test_status"
        ]
    );
    let stored = one(
        "import random\n\ndef test_seek():\n    s = ''.join(random.choice('ab') for _ in range(9))\n    f = Spooled()\n    f.write(s)\n    assert f.seek(3) == 3\n    assert f.tell() == len(s)\n",
    );
    assert!(stored.is_empty(), "{stored:?}");
    // Both sides derived from the same draws (tempora's delayed-command order); unittest's
    // two-sided methods too.
    let derived = one(
        "import random, unittest\n\ndef test_order():\n    delays = [random.randint(0, 99) for x in range(5)]\n    cmds = sorted(after(d) for d in delays)\n    assert [c.delay for c in cmds] == sorted(delays)\n\nclass T(unittest.TestCase):\n    def test_codec(self):\n        self.value = random.getrandbits(32)\n        self.assertEqual(decode(encode(self.value)), self.value)\n",
    );
    assert!(derived.is_empty(), "{derived:?}");
    let other = one(
        "import random\n\ndef test_order():\n    delays = [random.randint(0, 99) for x in range(5)]\n    cmds = sorted(after(d) for d in delays)\n    assert [c.delay for c in cmds] == [1, 2, 3, 4, 5]\n\ndef test_two_draws():\n    a = random.randint(0, 9)\n    b = random.randint(0, 9)\n    assert a != b\n",
    );
    assert_eq!(
        other,
        [
            (
                "unseeded-random".to_string(),
                "tests/test_it.py::test_order".to_string()
            ),
            // Both draws (two findings): two values of different origins can collide.
            (
                "unseeded-random".to_string(),
                "tests/test_it.py::test_two_draws".to_string()
            ),
            (
                "unseeded-random".to_string(),
                "tests/test_it.py::test_two_draws".to_string()
            ),
        ]
    );
    // A draw that only steers the test's steps, with its own bookkeeping (persist-queue's
    // random read/write), and identity checks: not compared.
    let steers = one(
        "import random\n\ndef test_rw():\n    q = Queue()\n    n = 0\n    for i in range(100):\n        if random.random() < 0.5:\n            if n > 0:\n                q.get()\n                n -= 1\n        else:\n            q.put('var%d' % random.getrandbits(16))\n            n += 1\n    assert q.qsize() == n\n\ndef test_gone():\n    k = random.choice('abc')\n    cache.set(k, 1)\n    cache.delete(k)\n    assert cache.get(k) is None\n",
    );
    assert!(steers.is_empty(), "{steers:?}");
    // A truthy assertion of the value compares it with `True`: reported.
    let truthy = one(
        "import random\n\ndef test_a():\n    x = random.randint(0, 9)\n    assert is_valid(x)\n",
    );
    assert_eq!(rules_of(&truthy), ["unseeded-random"]);
}

#[test]
fn a_generator_of_the_projects_own_seeded_with_a_value_is_seeded() {
    // The code under test draws from a module-level `random.Random()`; a test that seeds that
    // generator (directly, or through a helper) with a value is deterministic; one that seeds
    // it without a value (from the OS) or not at all is not.
    let module = (
        "app/gen.py",
        "import random\n\nrng = random.Random()\n\nclass Gen:\n    def __init__(self):\n        self.random = rng\n\n    def seed_instance(self, seed):\n        self.random.seed(seed)\n\n    def num(self):\n        return self.random.randint(1, 9)\n",
    );
    let test = |body: &str| {
        let src = format!(
            "from app.gen import Gen, rng\n\ndef test_num():\n{body}    assert Gen().num() < 5\n"
        );
        lint(&[("app/__init__.py", ""), module, ("tests/test_gen.py", &src)])
    };
    assert!(test("    rng.seed(4)\n").is_empty());
    assert!(test("    Gen().seed_instance(0)\n").is_empty());
    assert_eq!(rules_of(&test("    rng.seed()\n")), ["unseeded-random"]);
    assert_eq!(rules_of(&test("")), ["unseeded-random"]);
}

#[test]
fn unseeded_random_file_names_in_the_code_under_test() {
    // click's atomic write: a random name for a file opened with O_EXCL is a unique name, not
    // data; a random value the code returns (flaky-shop's parcel label) is data.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/io.py",
            "import os, random\n\ndef atomic(dirname):\n    tmp = os.path.join(dirname, f'.__atomic-write{random.randrange(1 << 32):08x}')\n    return os.open(tmp, os.O_CREAT | os.O_EXCL)\n\ndef label():\n    return f'PCL-{random.randint(1, 99)}'\n",
        ),
        (
            "tests/test_io.py",
            "from app.io import atomic, label\n\ndef test_atomic(tmp_path):\n    assert atomic(str(tmp_path))\n\ndef test_label():\n    assert label() != label()\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "unseeded-random".to_string(),
            "tests/test_io.py::test_label".to_string()
        )]
    );
}

#[test]
fn unseeded_random_redrawn_until_the_code_accepts_it_is_pedantic() {
    // portpicker's last resort: a generator of its own draws ports until one is free. Every
    // value is checked by the code and drawn again when rejected, so it is the pedantic form;
    // the same draw kept without a check, or checked without drawing again, is reported.
    let pick = "import random\n\nTAKEN = set()\n\ndef pick():\n    rng = random.Random()\n    for _ in range(10):\n        port = int(rng.randrange(15000, 25000))\n        if port not in TAKEN:\n            if free(port):\n                TAKEN.add(port)\n                return port\n    raise RuntimeError('no port')\n\ndef free(port):\n    return True\n";
    let test = "from app.ports import pick\n\ndef test_pick():\n    assert pick() > 0\n";
    let files = |src: &'static str| {
        [
            ("app/__init__.py", ""),
            ("app/ports.py", src),
            ("tests/test_ports.py", test),
        ]
    };
    // The module-level set the picks are kept in is `shared-module-state`'s: only this rule
    // is looked at.
    let random = |found| tests_of("unseeded-random", found);
    let pick_test = || vec!["tests/test_ports.py::test_pick".to_string()];
    assert!(random(lint_with(&files(pick), &Config::default())).is_empty());
    assert_eq!(random(pedantic_forms(&files(pick))), pick_test());
    // A module-level draw in the loop, tested with `while` and `break`: the same.
    let module = "import random\n\nTAKEN = set()\n\ndef pick():\n    while True:\n        port = random.randrange(15000, 25000)\n        if port not in TAKEN:\n            break\n    TAKEN.add(port)\n    return port\n";
    assert!(random(lint_with(&files(module), &Config::default())).is_empty());
    assert_eq!(random(pedantic_forms(&files(module))), pick_test());
    // Kept without a check: reported.
    let kept = "import random\n\nTAKEN = set()\n\ndef pick():\n    rng = random.Random()\n    for _ in range(10):\n        port = rng.randrange(15000, 25000)\n        TAKEN.add(port)\n    return port\n";
    assert_eq!(
        random(lint_with(&files(kept), &Config::default())),
        pick_test()
    );
    // Checked, but not in a loop that draws again: reported.
    let once = "import random\n\nTAKEN = set()\n\ndef pick():\n    port = random.randrange(15000, 25000)\n    if port not in TAKEN:\n        TAKEN.add(port)\n        return port\n";
    assert_eq!(
        random(lint_with(&files(once), &Config::default())),
        pick_test()
    );
    // A generator that also hands out a draw unchecked: reported.
    let leaks = "import random\n\nTAKEN = set()\n\ndef pick():\n    rng = random.Random()\n    for _ in range(10):\n        port = rng.randrange(15000, 25000)\n        if port not in TAKEN:\n            return port\n    TAKEN.add(rng.random())\n";
    assert_eq!(
        random(lint_with(&files(leaks), &Config::default())),
        pick_test()
    );
}

#[test]
fn unseeded_random_kept_in_an_attribute_no_test_reads_is_pedantic() {
    // gunicorn's worker: `jitter = randint(0, cfg.max_requests_jitter)`, then
    // `self.max_requests = cfg.max_requests + jitter`, which no test reads: the pedantic form.
    // A label kept in `self.label` is reported for the test that reads `.label`.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/worker.py",
            "import random\n\nclass Worker:\n    def __init__(self, n):\n        if n > 0:\n            jitter = random.randint(0, 10)\n            self.max_requests = n + jitter\n        self.label = f'W-{random.randint(1, 99)}'\n",
        ),
        (
            "tests/test_worker.py",
            "from app.worker import Worker\n\ndef test_boot():\n    assert Worker(5)\n\ndef test_label():\n    w = Worker(5)\n    assert w.label == 'W-7'\n",
        ),
    ];
    let found = lint_with(&files, &Config::default());
    assert_eq!(
        found,
        [(
            "unseeded-random".to_string(),
            "tests/test_worker.py::test_label".to_string()
        )]
    );
    // With `--pedantic`: the jitter's place in the weaker form for both tests; the label's
    // place in the full form (a place shows its strongest form), listing both.
    assert_eq!(
        tests_of("unseeded-random", pedantic_forms(&files)),
        [
            "tests/test_worker.py::test_boot",
            "tests/test_worker.py::test_label"
        ]
    );
    assert_eq!(tests_of("unseeded-random", lint(&files)).len(), 4);
}

#[test]
fn unseeded_random_returned_and_compared_with_what_the_code_computes_is_pedantic() {
    // humanfriendly's pager test: a random text the code under test returns, passed to the
    // code and looked for in its captured output; a round trip through code the scan does
    // not follow. Against a fixed value, or another draw of the callee, it is reported.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/text.py",
            "import random, string\n\ndef random_string(n=25):\n    return ''.join(random.choice(string.ascii_letters) for _ in range(n))\n",
        ),
        (
            "tests/test_text.py",
            "from app.text import random_string\n\ndef test_pager(capsys):\n    text = random_string()\n    show_pager(text)\n    assert text in capsys.readouterr().out\n\ndef test_fixed():\n    assert random_string() != 'abc'\n\ndef test_two():\n    assert random_string() != random_string()\n",
        ),
    ];
    let pair = |t: &str| {
        (
            "unseeded-random".to_string(),
            format!("tests/test_text.py::{t}"),
        )
    };
    assert_eq!(
        lint_with(&files, &Config::default()),
        [pair("test_fixed"), pair("test_two")]
    );
    // With `--pedantic` the place is one finding in the full form, listing all three tests;
    // reached only by the round trip, it is the weaker form.
    assert!(pedantic_forms(&files).is_empty());
    assert_eq!(lint(&files).len(), 3);
    let only = files[2].1.split("\n\ndef test_fixed").next().unwrap();
    let pager = [files[0], files[1], (files[2].0, only)];
    assert_eq!(pedantic_forms(&pager), [pair("test_pager")]);
    assert!(lint_with(&pager, &Config::default()).is_empty());
}

#[test]
fn wall_clock_difference_of_two_reads_is_a_duration() {
    // beaker's lock test: `begin = utcnow()` … `assert utcnow() - begin > timedelta(seconds=1)`.
    // A read against a fixed moment, or reads of two clocks, still count.
    let src = "import datetime\n\ndef test_blocked():\n    begin = datetime.datetime.utcnow()\n    work()\n    assert datetime.datetime.utcnow() - begin > datetime.timedelta(seconds=1)\n\ndef test_moment():\n    begin = datetime.datetime(2024, 1, 1)\n    assert datetime.datetime.now() - begin > datetime.timedelta(days=1)\n\ndef test_two_clocks():\n    begin = datetime.datetime.utcnow()\n    assert datetime.datetime.now() - begin < datetime.timedelta(seconds=1)\n";
    let mut tests: Vec<String> = one(src).into_iter().map(|(_, t)| t).collect();
    tests.sort();
    tests.dedup();
    assert_eq!(
        tests,
        [
            "tests/test_it.py::test_moment",
            "tests/test_it.py::test_two_clocks"
        ]
    );
}

#[test]
fn wall_clock_value_replaced_in_an_exception_handler_is_still_compared_with_itself() {
    // beaker's cookie test: `try: val = s.options[…]` / `except: val = None`, then
    // `assert val == expected[pos]`, where both came from the same `now`.
    let src = "import datetime\n\ndef test_round_trip():\n    now = datetime.datetime.now()\n    values = [300, now]\n    expected = [300, now]\n    for pos, v in enumerate(values):\n        try:\n            val = make(config={'k': v}).options['k']\n        except Exception:\n            val = None\n        assert val == expected[pos]\n\ndef test_fixed():\n    try:\n        val = datetime.datetime.now()\n    except Exception:\n        val = None\n    assert val == datetime.datetime(2024, 1, 1)\n";
    let tests: Vec<String> = one(src).into_iter().map(|(_, t)| t).collect();
    assert_eq!(tests, ["tests/test_it.py::test_fixed"]);
}

#[test]
fn wall_clock_naive_datetime_converted_as_local_time() {
    // dateparser's `given_time`: a UTC string parsed naive and then `astimezone(utc)`, taken
    // as local time (the test fails in every zone but UTC), in a helper the test reaches and
    // hands to a mock, so no comparison sees it. `utcnow().timestamp()` likewise.
    let src = "import datetime as dt\nfrom datetime import datetime\n\nclass TestOffset:\n    def given(self, s):\n        self.now = datetime.strptime(s, '%Y-%m-%d %H:%M').astimezone(dt.timezone.utc)\n\n    def test_offset(self):\n        self.given('2014-08-20 04:32')\n        check(self.now)\n\ndef test_epoch():\n    check(datetime.utcnow().timestamp())\n\ndef test_built():\n    check(datetime(2020, 1, 1, 12).astimezone(dt.timezone.utc))\n";
    let mut tests = tests_of("wall-clock-compare", one(src));
    tests.sort();
    assert_eq!(
        tests,
        [
            "tests/test_it.py::TestOffset::test_offset",
            "tests/test_it.py::test_built",
            "tests/test_it.py::test_epoch"
        ]
    );
    // Aware before the conversion (a `%z` format, `tzinfo=`, `replace` first), a naive local
    // time's own `timestamp()`, a name (not followed), or under a frozen clock: not reported.
    let fine = "import datetime as dt\nfrom datetime import datetime, timezone\nfrom freezegun import freeze_time\n\ndef test_zoned():\n    check(datetime.strptime(s, '%Y-%m-%d %H:%M%z').astimezone(timezone.utc))\n\ndef test_tzinfo():\n    check(datetime(2020, 1, 1, tzinfo=timezone.utc).astimezone(timezone.utc))\n\ndef test_replaced():\n    check(datetime(2020, 1, 1).replace(tzinfo=timezone.utc).astimezone(timezone.utc))\n\ndef test_stamp():\n    check(datetime(2020, 1, 1).timestamp())\n\n@freeze_time('2024-01-01')\ndef test_frozen():\n    check(datetime.utcnow().timestamp())\n";
    let found = one(fine);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn wall_clock_compare() {
    let found = one(
        "from datetime import date, datetime\n\ndef test_a():\n    assert report().day == date.today()\n",
    );
    assert_eq!(rules_of(&found), ["wall-clock-compare"]);
    let fixed = one(
        "from datetime import date, datetime\n\nCUTOFF = date(2030, 1, 1)\n\ndef test_a():\n    assert date.today() < date(2030, 1, 1)\n\ndef test_b():\n    end = date(2030, 1, 1)\n    assert date.today() < end\n\ndef test_c():\n    assert datetime.now().year == 2026\n\ndef test_d():\n    assert is_weekday(date.today())\n",
    );
    assert_eq!(
        fixed.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        [
            "tests/test_it.py::test_a",
            "tests/test_it.py::test_b",
            "tests/test_it.py::test_c",
            "tests/test_it.py::test_d"
        ]
    );
    let aware = one(
        "from datetime import datetime, timezone\n\ndef test_a():\n    assert stamp(datetime.now(timezone.utc))\n",
    );
    assert!(aware.is_empty(), "{aware:?}");
    // A frozen clock is fine.
    let frozen = one(
        "from datetime import date\nfrom freezegun import freeze_time\n\n@freeze_time('2024-01-01')\ndef test_a():\n    assert date.today().year == 2024\n",
    );
    assert!(frozen.is_empty(), "{frozen:?}");
}

#[test]
fn wall_clock_compared_with_what_the_code_computes_is_pedantic() {
    // The code's value comes from a clock the scan does not see (Faker's `past_date() <
    // date.today()`): only with --pedantic. The same read compared with a fixed value as well
    // is reported by default.
    let src = "from datetime import date, datetime\n\ndef test_a():\n    assert report().day == date.today()\n\ndef test_b(fake):\n    past = fake.past_date()\n    assert past < date.today()\n\ndef test_c():\n    today = date.today()\n    assert make().day == today\n    assert today.year > 2000\n";
    let default = lint_with(&[("tests/test_it.py", src)], &Config::default());
    assert_eq!(
        default,
        [(
            "wall-clock-compare".to_string(),
            "tests/test_it.py::test_c".to_string()
        )]
    );
    let mut enabled = Config::default();
    enabled.enable = vec!["wall-clock-compare".into()];
    assert_eq!(lint_with(&[("tests/test_it.py", src)], &enabled).len(), 3);
    assert_eq!(one(src).len(), 3);
    // Shown then as notes: the two weak forms, not test_c's.
    assert_eq!(
        pedantic_forms(&[("tests/test_it.py", src)]),
        [
            (
                "wall-clock-compare".to_string(),
                "tests/test_it.py::test_a".to_string()
            ),
            (
                "wall-clock-compare".to_string(),
                "tests/test_it.py::test_b".to_string()
            )
        ]
    );
    // The clock read relative to the code's value (an age from a generated birth date), then
    // bounded: the same; relative to a fixed shift, the clock's moment still decides.
    let age = "from datetime import date, timedelta\n\ndef test_a(fake):\n    dob = fake.dob()\n    age = (date.today() - dob).days // 365\n    assert age <= 115\n\ndef test_b():\n    start = date.today() - timedelta(days=30)\n    assert start.month == 1\n";
    assert_eq!(
        lint_with(&[("tests/test_it.py", age)], &Config::default()),
        [(
            "wall-clock-compare".to_string(),
            "tests/test_it.py::test_b".to_string()
        )]
    );
}

#[test]
fn local_conversions_compared_with_each_other_share_the_zone() {
    // Two timestamps put into the local zone and compared: the same zone on both sides, so
    // the comparison holds in every zone (Faker's `_parse_date_time` test).
    let both = one(
        "from datetime import datetime\n\ndef test_a():\n    ts = parse('+30d')\n    other = parse(ts)\n    assert datetime.fromtimestamp(other).date() == datetime.fromtimestamp(ts).date()\n",
    );
    assert!(both.is_empty(), "{both:?}");
    // One conversion against a fixed value: the zone decides.
    let fixed = one(
        "from datetime import datetime\n\ndef test_a():\n    assert datetime.fromtimestamp(0).hour == 0\n\ndef test_b():\n    a = datetime.fromtimestamp(stamp())\n    assert a.day == 1\n    assert datetime.fromtimestamp(stamp()) == a\n",
    );
    assert_eq!(
        fixed.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        ["tests/test_it.py::test_a", "tests/test_it.py::test_b"]
    );
    assert_eq!(rules_of(&fixed), ["wall-clock-compare"]);
}

#[test]
fn wall_clock_only_type_checked_is_not_compared() {
    // The value is asserted on, through its variable: reported.
    let compared = one(
        "import datetime\n\ndef test_a():\n    now = datetime.datetime.now()\n    assert isinstance(now, datetime.datetime)\n    assert now.hour < 23\n",
    );
    assert_eq!(rules_of(&compared), ["wall-clock-compare"]);
    let method = one(
        "import datetime, unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        today = datetime.date.today()\n        self.assertEqual(today.day, 1)\n",
    );
    assert_eq!(rules_of(&method), ["wall-clock-compare"]);
    // Only its type is checked (freezegun's `test_isinstance_without_active`): any moment
    // passes.
    let typed = one(
        "import datetime, unittest\n\ndef test_a():\n    now = datetime.datetime.now()\n    assert isinstance(now, datetime.datetime)\n    assert isinstance(now.date(), datetime.date)\n    assert isinstance(datetime.date.today(), datetime.date)\n    assert type(now) is datetime.datetime\n\nclass T(unittest.TestCase):\n    def test_b(self):\n        today = datetime.date.today()\n        self.assertIsInstance(today, datetime.date)\n        self.assertIsNotNone(today)\n",
    );
    assert!(typed.is_empty(), "{typed:?}");
}

#[test]
fn utc_reads_in_the_code_under_test_are_not_the_local_clock() {
    // rq's `utcnow()` helper: the same in every zone; the scan cannot see what the code
    // compares it with. The local `now()` beside it is reported, and so is `utcnow()` in a
    // test compared with a fixed value.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/clock.py",
            "import datetime\n\ndef utc():\n    return datetime.datetime.utcnow()\n\ndef local():\n    return datetime.datetime.now()\n",
        ),
        (
            "tests/test_clock.py",
            "import datetime\nfrom app.clock import utc, local\n\ndef test_utc():\n    assert utc().year > 2000\n\ndef test_local():\n    assert local().year > 2000\n\ndef test_own_utc():\n    assert datetime.datetime.utcnow().year == 2024\n",
        ),
    ];
    let rule = |t: &str| {
        (
            "wall-clock-compare".to_string(),
            format!("tests/test_clock.py::{t}"),
        )
    };
    assert_eq!(lint(&files), [rule("test_local"), rule("test_own_utc")]);
}

#[test]
fn wall_clock_text_no_moment_renders_is_not_looked_for_in_it() {
    // kombu: `"__type__" not in dumps({"now": now})`: a moment renders as digits, separators
    // and names; text with an underscore, a quote or a bracket is never part of it. A
    // separator (`"."`, absent at microsecond 0) or a name (`"Mon"`) can be.
    let case = |lit: &str| {
        one(Box::leak(
            format!(
                "import json\nfrom datetime import datetime\n\ndef test_dump():\n    now = datetime.now()\n    s = json.dumps({{'now': str(now)}})\n    assert {lit} not in s\n"
            )
            .into_boxed_str(),
        ))
    };
    for lit in ["'__type__'", "'\\\"x\\\"'", "'[1]'", "'a=b'"] {
        assert!(case(lit).is_empty(), "{lit}");
    }
    for lit in ["'.'", "'Mon'", "'2024'"] {
        assert_eq!(rules_of(&case(lit)), ["wall-clock-compare"], "{lit}");
    }
}

#[test]
fn wall_clock_of_a_module_whose_clock_the_test_patches_is_fake() {
    // dateparser: `given_now` patches `dateparser.date.datetime` with a mock whose `now()`
    // and `today()` return a fixed moment; the module's `datetime.today()` reads it. A patch
    // of another module, or of another name, leaves the read real.
    let case = |patch: &str| {
        let test = format!(
            "from unittest import TestCase\nfrom unittest.mock import patch, Mock\nfrom datetime import datetime\nfrom pkg import date as pdate\n\nclass T(TestCase):\n    def given_now(self):\n        {patch}\n\n    def test_year(self):\n        self.given_now()\n        assert pdate.this_year() == 2015\n"
        );
        lint(&[
            ("pkg/__init__.py", ""),
            (
                "pkg/date.py",
                "from datetime import datetime\n\ndef this_year():\n    return datetime.today().year\n",
            ),
            ("tests/test_date.py", Box::leak(test.into_boxed_str())),
        ])
    };
    for p in [
        "patch('pkg.date.datetime', new=Mock(today=lambda: datetime(2015, 2, 4))).start()",
        "patch('pkg.date.datetime.today').start()",
    ] {
        assert!(case(p).is_empty(), "{p}");
    }
    for p in [
        "patch('pkg.other.datetime').start()",
        "patch('pkg.date.time').start()",
        "pass",
    ] {
        assert_eq!(rules_of(&case(p)), ["wall-clock-compare"], "{p}");
    }
}

#[test]
fn wall_clock_compared_only_with_itself_is_not_reported() {
    // A clock read stored and read back, or formatted and parsed: any moment passes.
    let round_trip = one(
        "import datetime\n\ndef test_store():\n    now = datetime.datetime.now()\n    db.save('k', now)\n    assert db.load('k') == now\n\ndef test_parse():\n    today = datetime.date.today()\n    assert parse(today.isoformat()) == today\n",
    );
    assert!(round_trip.is_empty(), "{round_trip:?}");
    let fixed = one(
        "import datetime\n\ndef test_store():\n    now = datetime.datetime.now()\n    db.save('k', now)\n    assert db.load('k') == now\n    assert now.hour == 12\n",
    );
    assert_eq!(rules_of(&fixed), ["wall-clock-compare"]);
    // The same clock handed to the code under test (cachetools' `TTLCache(…,
    // timer=datetime.now)`): the test's reads are the code's time base.
    let injected = one(
        "from datetime import datetime, timedelta\n\ndef test_ttl():\n    cache = TTLCache(maxsize=1, ttl=timedelta(days=1), timer=datetime.now)\n    cache[1] = 1\n    items = cache.expire(datetime.now())\n    assert list(items) == []\n",
    );
    assert!(injected.is_empty(), "{injected:?}");
}

#[test]
fn the_difference_of_a_clock_value_and_its_own_shift_is_not_the_moment() {
    // humanfriendly's `format_timespan(now - then)` with `then = now - timedelta(hours=23)`.
    let shift = one(
        "import datetime\n\ndef test_span():\n    now = datetime.datetime.now()\n    then = now - datetime.timedelta(hours=23)\n    assert '23 hours' == format_timespan(now - then)\n\ndef test_ahead():\n    start = datetime.datetime.now()\n    end = start + datetime.timedelta(minutes=5)\n    assert format_timespan((end - start)) == '5 minutes'\n",
    );
    assert!(shift.is_empty(), "{shift:?}");
    // Must not hide: a shift by another reading of the value (`replace`), a name read again
    // after the shift was taken, a second read of the clock.
    let since_midnight = one(
        "import datetime\n\ndef test_since_midnight():\n    now = datetime.datetime.now()\n    midnight = now.replace(hour=0, minute=0)\n    assert format_timespan(now - midnight) == '1 hour'\n",
    );
    assert_eq!(rules_of(&since_midnight), ["wall-clock-compare"]);
    let reread = one(
        "import datetime\n\ndef test_reread():\n    now = datetime.datetime.now()\n    then = now - datetime.timedelta(hours=23)\n    now = datetime.datetime.now()\n    assert format_timespan(now - then) == '23 hours'\n",
    );
    assert_eq!(rules_of(&reread), ["wall-clock-compare"]);
}

#[test]
fn wall_clock_handed_to_another_objects_method_is_not_compared() {
    // huey's scheduler tests: a time handed to the scheduler, which compares it with its own
    // reads of the clock; what it returns only may hold the value.
    let scheduler = one(
        "import datetime, unittest\n\nclass T(unittest.TestCase):\n    def test_sched(self):\n        timestamp = datetime.datetime.now() + datetime.timedelta(seconds=60)\n        self.assertTrue(self.huey.ready_to_run(task, timestamp))\n        self.assertEqual(self.s.read_schedule(datetime.datetime.now()), [])\n        eta = datetime.datetime.now() + datetime.timedelta(seconds=60)\n        r = self.task.schedule((0,), eta=eta)\n        expected = {r.id: 1}\n        self.assertEqual(self.huey.priorities(), expected)\n",
    );
    assert!(scheduler.is_empty(), "{scheduler:?}");
    // A function of the value, or a method of the value itself, is still the value.
    let function = one(
        "import datetime\n\ndef test_f():\n    assert weekday_name(datetime.date.today()) == 'Monday'\n",
    );
    assert_eq!(rules_of(&function), ["wall-clock-compare"]);
    let own_method = one(
        "import datetime\n\ndef test_m():\n    now = datetime.datetime.now()\n    assert now.replace(minute=0) == datetime.datetime(2024, 1, 1, 10)\n",
    );
    assert_eq!(rules_of(&own_method), ["wall-clock-compare"]);
    // A random value handed to a method stays strong: nothing on the other side cancels it.
    let random_arg = one(
        "import random\n\ndef test_r():\n    assert codec.encode(random.randint(0, 9)) == b'7'\n",
    );
    assert_eq!(rules_of(&random_arg), ["unseeded-random"]);
}

#[test]
fn a_clock_read_reached_only_where_an_exception_is_expected_is_not_compared() {
    // python-dateutil's `rrule(…)`, whose `dtstart` defaults to `datetime.now()`, called with
    // contradictory arguments inside `assertRaises`: the test looks at the exception.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/rule.py",
            "from datetime import datetime\n\ndef rrule(freq, count=None, until=None, dtstart=None):\n    if not dtstart:\n        dtstart = datetime.now()\n    if count and until:\n        raise ValueError('count and until')\n    return [dtstart]\n",
        ),
        (
            "tests/test_rule.py",
            "import pytest, unittest\nfrom app.rule import rrule\n\ndef test_bad():\n    with pytest.raises(ValueError):\n        rrule(1, count=1, until=2)\n\nclass T(unittest.TestCase):\n    def test_bad_too(self):\n        with self.assertRaises(ValueError):\n            rrule(1, count=1, until=2)\n\ndef test_then_used():\n    with pytest.raises(ValueError):\n        rrule(1, count=1, until=2)\n    assert rrule(1)[0].year == 2024\n\ndef test_used_first():\n    assert rrule(1)[0].year == 2024\n    with pytest.raises(ValueError):\n        rrule(1, count=1, until=2)\n",
        ),
    ];
    // Reached both ways, in either order: reported.
    assert_eq!(
        lint(&files),
        [
            (
                "wall-clock-compare".to_string(),
                "tests/test_rule.py::test_then_used".to_string()
            ),
            (
                "wall-clock-compare".to_string(),
                "tests/test_rule.py::test_used_first".to_string()
            )
        ]
    );
}

#[test]
fn a_class_only_named_is_not_constructed() {
    // python-dateutil's rrule tests: the class handed to `assertRaises` with its arguments (a
    // call expected to raise, `dtstart` given), named in a type check or a tuple of names.
    // Handed to another call it is a factory, constructed there.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/rule.py",
            "from datetime import datetime\n\nclass rrule:\n    def __init__(self, freq, count=None, until=None, dtstart=None):\n        if not dtstart:\n            dtstart = datetime.now()\n        self.first = dtstart\n\ndef parse(s):\n    return rrule(1, dtstart=datetime(2024, 1, 1))\n",
        ),
        (
            "tests/test_rule.py",
            "import unittest\nfrom app.rule import rrule, parse\n\nclass T(unittest.TestCase):\n    def test_bad(self):\n        self.assertRaises(ValueError, rrule, 1, count=1, until=2)\n\n    def test_type(self):\n        x = object()\n        self.assertEqual(isinstance(x, rrule), False)\n\n    def test_type_too(self):\n        self.assertNotIsInstance(object(), rrule)\n\n    def test_names(self):\n        names = (rrule, parse)\n        assert len(names) == 2\n\n    def test_factory(self):\n        rules = list(map(rrule, [1, 2]))\n        assert rules[0].first.year == 2024\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "wall-clock-compare".to_string(),
            "tests/test_rule.py::T::test_factory".to_string()
        )]
    );
}

#[test]
fn tests_as_the_projects_pytest_settings_name_them() {
    // dogpile.cache: `python_classes = "*Test"`, a test class inheriting another's tests in the
    // same module; portalocker: `python_files` naming a directory's files.
    let files = [
        (
            "pytest.ini",
            "[pytest]\npython_files =\n    checks/*.py\npython_classes = *Test\n",
        ),
        (
            "checks/locking.py",
            "import time\n\nclass LockTest:\n    def test_quick(self):\n        t0 = time.time()\n        work()\n        assert time.time() - t0 < 0.1\n\n    def helper(self):\n        pass\n\nclass ProxyLockTest(LockTest):\n    def test_own(self):\n        pass\n\nclass TestIgnored:\n    def test_not_collected(self):\n        t0 = time.time()\n        assert time.time() - t0 < 0.1\n",
        ),
    ];
    // `TestIgnored` is not collected: its finding names no test.
    assert_eq!(
        lint(&files),
        [
            ("timing-assert".to_string(), String::new()),
            (
                "timing-assert".to_string(),
                "checks/locking.py::LockTest::test_quick".to_string()
            ),
            (
                "timing-assert".to_string(),
                "checks/locking.py::ProxyLockTest::test_quick".to_string()
            ),
        ]
    );
    // Without settings: pytest's defaults (`Test…` classes, inherited tests too).
    let defaults = [(
        "tests/test_lock.py",
        "import time\n\nclass TestLock:\n    def test_quick(self):\n        t0 = time.time()\n        assert time.time() - t0 < 0.1\n\nclass TestProxyLock(TestLock):\n    pass\n\nclass LockTest:\n    def test_not_collected(self):\n        t0 = time.time()\n        assert time.time() - t0 < 0.1\n",
    )];
    assert_eq!(
        lint(&defaults),
        [
            ("timing-assert".to_string(), String::new()),
            (
                "timing-assert".to_string(),
                "tests/test_lock.py::TestLock::test_quick".to_string()
            ),
            (
                "timing-assert".to_string(),
                "tests/test_lock.py::TestProxyLock::test_quick".to_string()
            ),
        ]
    );
}

#[test]
fn pytest_relaxed_collects_every_public_name_when_the_project_declares_it() {
    // invoke's and paramiko's layout: `tests/runners.py` (no `test_` prefix), plain functions
    // and classes, nested classes, `_`-prefixed helpers and files.
    let timed = "    t0 = time.time()\n    assert time.time() - t0 < 0.1\n";
    let module = format!(
        "import time\n\ndef runs_fast():\n{timed}\ndef _helper():\n{timed}\nclass Runner:\n    def setup(self):\n        pass\n\n    class when_pty:\n        def echoes_quickly(self):\n            t0 = time.time()\n            assert time.time() - t0 < 0.1\n\nclass _Private:\n    def hidden(self):\n        t0 = time.time()\n        assert time.time() - t0 < 0.1\n"
    );
    let util = format!("import time\n\ndef quick():\n{timed}");
    let relaxed = [
        ("dev-requirements.txt", "pytest>=7\npytest-relaxed>=2\n"),
        ("tests/runners.py", module.as_str()),
        ("tests/_util.py", util.as_str()),
    ];
    let unreached = ("timing-assert".to_string(), String::new());
    assert_eq!(
        lint(&relaxed),
        [
            unreached.clone(),
            unreached.clone(),
            unreached.clone(),
            (
                "timing-assert".to_string(),
                "tests/runners.py::Runner::when_pty::echoes_quickly".to_string()
            ),
            (
                "timing-assert".to_string(),
                "tests/runners.py::runs_fast".to_string()
            ),
        ]
    );
    // Must not: the same files without the plugin declared, or with it switched off.
    let plain = [relaxed[1], relaxed[2]];
    assert!(lint(&plain).iter().all(|(_, t)| t.is_empty()));
    let off = [
        relaxed[0],
        relaxed[1],
        relaxed[2],
        ("pytest.ini", "[pytest]\naddopts = -p no:relaxed\n"),
    ];
    assert!(lint(&off).iter().all(|(_, t)| t.is_empty()));
    // `testpaths` says where it applies: not in `tests/` when it names `integration/`.
    let elsewhere = format!("import time\n\ndef suite_is_quick():\n{timed}");
    let testpaths = [
        relaxed[0],
        relaxed[1],
        ("integration/suite.py", elsewhere.as_str()),
        ("pytest.ini", "[pytest]\ntestpaths = integration\n"),
    ];
    let found = lint(&testpaths);
    assert!(
        found.contains(&(
            "timing-assert".to_string(),
            "integration/suite.py::suite_is_quick".to_string()
        )),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(_, t)| t.starts_with("tests/")),
        "{found:?}"
    );
}

#[test]
fn methods_a_class_inherits_and_super_calls_are_followed_to_the_base() {
    // A base in another module of the code under test: `super().__init__()`, `super().label()`,
    // an inherited `__init__` (`Plain()`), `self.today()` on a method only the base defines. (A test class's own bases
    // are test support, read as test code: not this case.)
    let base = "import random, datetime\n\nclass Base:\n    def __init__(self):\n        self.seed = random.randint(1, 6)\n\n    def label(self):\n        return random.choice('abc')\n\n    def today(self):\n        return datetime.date.today().isoformat()\n";
    let child = |label: &str| {
        format!(
            "from app.base import Base\n\nclass Child(Base):\n    def __init__(self):\n        super().__init__()\n        self.name = self.label()\n        self.when = self.stamp()\n\n    def label(self):\n        {label}\n\n    def stamp(self):\n        return self.today()\n\nclass Plain(Base):\n    pass\n"
        )
    };
    let tests = "from app.child import Child, Plain\n\ndef test_label():\n    c = Child()\n    assert c.name == 'a!'\n\ndef test_plain():\n    assert Plain() is not None\n";
    let via_super = child("return super().label() + '!'");
    let found = lint(&[
        ("app/__init__.py", ""),
        ("app/base.py", base),
        ("app/child.py", via_super.as_str()),
        ("tests/test_it.py", tests),
    ]);
    let pairs = |rule: &str, test: &str, found: &[(String, String)]| {
        found
            .iter()
            .filter(|(r, t)| r == rule && t == &format!("tests/test_it.py::{test}"))
            .count()
    };
    // `test_label`: the inherited `__init__`'s draw and the base's `label` draw.
    assert_eq!(
        pairs("unseeded-random", "test_label", &found),
        2,
        "{found:?}"
    );
    assert_eq!(
        pairs("unseeded-random", "test_plain", &found),
        1,
        "{found:?}"
    );
    assert_eq!(
        pairs("wall-clock-compare", "test_label", &found),
        1,
        "{found:?}"
    );
    assert_eq!(
        pairs("wall-clock-compare", "test_plain", &found),
        0,
        "{found:?}"
    );
    // Must not: a method the class overrides without calling the base's.
    let own = child("return 'a'");
    let found = lint(&[
        ("app/__init__.py", ""),
        ("app/base.py", base),
        ("app/child.py", own.as_str()),
        ("tests/test_it.py", tests),
    ]);
    assert_eq!(
        pairs("unseeded-random", "test_label", &found),
        1,
        "{found:?}"
    );
    // A base under `@freeze_time` (freezegun's own tests): its `setUpClass`, reached by a
    // subclass's `super().setUpClass()`, reads a frozen clock.
    let frozen = |decorator: &str| {
        lint(&[(
            "tests/test_it.py",
            &format!(
                "import datetime, unittest\nfrom freezegun import freeze_time\n\n{decorator}\nclass TestBase(unittest.TestCase):\n    @classmethod\n    def setUpClass(cls):\n        super().setUpClass()\n        assert datetime.date(2013, 4, 9) == datetime.date.today()\n\nclass TestSub(TestBase):\n    @classmethod\n    def setUpClass(cls):\n        super().setUpClass()\n\n    def test_name(self):\n        assert TestSub.__name__ == 'TestSub'\n"
            ),
        )])
    };
    let found = frozen("@freeze_time('2013-04-09')");
    assert!(
        found.iter().all(|(r, _)| r != "wall-clock-compare"),
        "{found:?}"
    );
    let found = frozen("");
    assert!(
        found.contains(&(
            "wall-clock-compare".to_string(),
            "tests/test_it.py::TestSub::test_name".to_string()
        )),
        "{found:?}"
    );
}

#[test]
fn fixtures_asked_for_by_usefixtures_and_by_other_fixtures_are_followed() {
    // invoke: `pytestmark = pytest.mark.usefixtures("integration")`, whose fixture depends on
    // `reset_environ`, which restores `os.environ` after the test.
    let conftest = "import os, pytest\n\n@pytest.fixture\ndef reset_environ():\n    old = os.environ.copy()\n    yield\n    os.environ.clear()\n    os.environ.update(old)\n\n@pytest.fixture\ndef integration(reset_environ):\n    yield\n";
    let module = |mark: &str, class_deco: &str| {
        format!(
            "import os, pytest\n{mark}\n\n{class_deco}\nclass TestEnv:\n    def test_sets(self):\n        os.environ['X_PREFIX'] = 'bar'\n        assert load() == 'bar'\n\n    def test_reads(self):\n        assert os.environ.get('X_PREFIX') is None\n"
        )
    };
    let state = |found: &[(String, String)]| {
        found
            .iter()
            .filter(|(r, _)| r == "shared-module-state")
            .count()
    };
    for (mark, deco) in [
        ("pytestmark = pytest.mark.usefixtures('integration')", ""),
        (
            "pytestmark = [pytest.mark.usefixtures('reset_environ')]",
            "",
        ),
        ("", "@pytest.mark.usefixtures('integration')"),
    ] {
        let src = module(mark, deco);
        let found = lint(&[
            ("tests/conftest.py", conftest),
            ("tests/test_env.py", src.as_str()),
        ]);
        assert_eq!(state(&found), 0, "{mark}{deco}: {found:?}");
    }
    // Must not hide: no fixture asked for, so nothing restores the variable.
    let src = module("", "");
    let found = lint(&[
        ("tests/conftest.py", conftest),
        ("tests/test_env.py", src.as_str()),
    ]);
    assert!(state(&found) > 0, "{found:?}");
}

#[test]
fn state_changed_in_set_up_and_written_back_in_tear_down_is_restored() {
    // sqlitedict: `sys.meta_path.insert(0, …)` in `setUp`, the saved list assigned back in
    // `tearDown`. Without the tear-down the change outlives the test.
    let case = |teardown: &str| {
        one(&format!(
            "import sys, unittest\n\nclass TestImport(unittest.TestCase):\n    def setUp(self):\n        self.orig = list(sys.meta_path)\n        sys.meta_path.insert(0, Faux())\n{teardown}\n    def test_fallback(self):\n        assert load() is not None\n\ndef test_other():\n    assert len(sys.meta_path) > 0\n"
        ))
    };
    let restored = case("\n    def tearDown(self):\n        sys.meta_path = self.orig\n");
    assert!(
        restored.iter().all(|(r, _)| r != "shared-module-state"),
        "{restored:?}"
    );
    assert_eq!(rules_of(&case("")), ["shared-module-state"]);
}

#[test]
fn timing_assert_on_a_duration_a_helper_measures() {
    // pyrate-limiter: `ok, cost = await async_acquire(…)` where the helper returns
    // `int((time() - start) * 1000)`, then `assert cost <= 50`.
    let helpers = "from time import time\n\nasync def acquire(limiter, item):\n    start = time()\n    ok = await limiter.try_acquire(item)\n    cost = int((time() - start) * 1000)\n    return ok, cost\n\ndef measure(f):\n    t0 = time()\n    f()\n    return time() - t0\n\ndef plain(f):\n    return f(), 3\n";
    let tests = "from tests.helpers import acquire, measure, plain\n\nasync def test_bound(limiter):\n    ok, cost = await acquire(limiter, 'a')\n    assert cost <= 50\n\nasync def test_not_the_duration(limiter):\n    ok, cost = await acquire(limiter, 'a')\n    assert ok\n    assert cost >= 0\n\ndef test_hang_guard():\n    elapsed = measure(print)\n    assert elapsed < 10\n\ndef test_seconds():\n    elapsed = measure(print)\n    assert elapsed < 0.5\n\ndef test_no_duration():\n    a, b = plain(print)\n    assert b < 5\n\ndef test_reassigned():\n    ok, cost = await_it()\n    cost = 7\n    assert cost < 10\n";
    let found = lint(&[
        ("tests/__init__.py", ""),
        ("tests/helpers.py", helpers),
        ("tests/test_it.py", tests),
    ]);
    assert_eq!(
        found,
        [
            (
                "timing-assert".to_string(),
                "tests/test_it.py::test_bound".to_string()
            ),
            (
                "timing-assert".to_string(),
                "tests/test_it.py::test_seconds".to_string()
            )
        ]
    );
}

#[test]
fn a_subclass_of_a_unittest_class_of_the_module_is_collected_whatever_its_name() {
    // pytest collects every `unittest.TestCase` subclass (sh's `FunctionalTests(BaseTests)`);
    // a plain class of the same shape that is no TestCase is not collected.
    let found = one(
        "import datetime, unittest\n\nclass Base(unittest.TestCase):\n    pass\n\nclass Unfrozen(Base):\n    def test_a(self):\n        self.assertEqual(datetime.date(2013, 4, 9), datetime.date.today())\n\nclass Helper:\n    pass\n\nclass Other(Helper):\n    def test_b(self):\n        self.assertEqual(datetime.date(2013, 4, 9), datetime.date.today())\n",
    );
    assert_eq!(
        found,
        [
            ("wall-clock-compare".to_string(), String::new()),
            (
                "wall-clock-compare".to_string(),
                "tests/test_it.py::Unfrozen::test_a".to_string()
            )
        ]
    );
}

#[test]
fn a_tear_down_runs_with_each_test_and_puts_state_back() {
    // What the class's tear-down does is the test's: its clock read is reported for each test.
    let clock = one(
        "import datetime, unittest\n\nclass T(unittest.TestCase):\n    def tearDown(self):\n        assert datetime.date.today().year > 2020\n\n    def test_a(self):\n        pass\n\n    def test_b(self):\n        pass\n",
    );
    assert_eq!(
        clock,
        [
            (
                "wall-clock-compare".to_string(),
                "tests/test_it.py::T::test_a".to_string()
            ),
            (
                "wall-clock-compare".to_string(),
                "tests/test_it.py::T::test_b".to_string()
            )
        ]
    );
    // Under the class's fake clock, not reported (nor as a helper no test reaches).
    let frozen = one(
        "import datetime, unittest\nfrom freezegun import freeze_time\n\n@freeze_time('2013-04-09')\nclass T(unittest.TestCase):\n    def tearDown(self):\n        self.assertEqual(datetime.date(2013, 4, 9), datetime.date.today())\n\n    @classmethod\n    def tearDownClass(cls):\n        assert datetime.date(2013, 4, 9) == datetime.date.today()\n\n    def check(self):\n        assert datetime.date(2013, 4, 9) == datetime.date.today()\n\n    def test_a(self):\n        pass\n",
    );
    assert!(frozen.is_empty(), "{frozen:?}");
    // A tear-down that writes module state back resets it: the test changes nothing that
    // outlives it, so the reader after it is no victim; without the tear-down it is.
    let state = |teardown: &str| {
        lint_with(
            &[
                ("shop/__init__.py", ""),
                ("shop/config.py", "settings = {'currency': 'EUR'}\n"),
                (
                    "tests/test_a.py",
                    "from shop import config\n\ndef test_reads():\n    assert config.settings['currency']\n",
                ),
                (
                    "tests/test_b.py",
                    &format!(
                        "import unittest\nfrom shop import config\n\nclass T(unittest.TestCase):\n{teardown}\n    def test_us(self):\n        config.settings['currency'] = 'USD'\n"
                    ),
                ),
            ],
            &Config::default(),
        )
    };
    assert_eq!(
        state(""),
        [(
            "shared-module-state".to_string(),
            "tests/test_a.py::test_reads".to_string()
        )]
    );
    assert!(
        state("    def tearDown(self):\n        config.settings['currency'] = 'EUR'\n").is_empty()
    );
}

#[test]
fn wall_clock_in_the_code_under_test_unless_the_test_passes_the_date() {
    let files = [
        ("app/__init__.py", ""),
        (
            "app/report.py",
            "from datetime import date\n\ndef daily(orders, day=None):\n    day = day or date.today()\n    return [o for o in orders if o.day == day]\n",
        ),
        (
            "tests/test_report.py",
            "from datetime import date\nfrom app.report import daily\n\ndef test_today():\n    assert daily([]) == []\n\ndef test_given_day():\n    assert daily([], day=date(2024, 1, 1)) == []\n\ndef test_given_day_positional():\n    assert daily([], date(2024, 1, 1)) == []\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "wall-clock-compare".to_string(),
            "tests/test_report.py::test_today".to_string()
        )]
    );
}

#[test]
fn a_draw_behind_a_parameter_counts_only_when_the_call_takes_that_branch() {
    // boltons' `backoff_iter`: `if not jitter: … elif jitter: … random.random()`. The draw is
    // made only when `jitter` is passed; a test that does not pass it gets no draw. The
    // opposite polarities (`p and …`, `… if p else …`, `if p is not None:`, an `else:` of
    // `if p is None:`) likewise; a guard that is not about being passed (`p > 3`) is none.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/backoff.py",
            "import random\n\ndef delays(start, jitter=False):\n    if not jitter:\n        cur = start\n    elif jitter:\n        cur = start - start * jitter * random.random()\n    return [cur]\n\ndef spread(n, scale=None):\n    return [x * (scale and random.random()) for x in range(n)]\n\ndef pick(xs, seed=None):\n    if seed is None:\n        return xs[0]\n    else:\n        return random.choice(xs)\n\ndef pad(xs, width=0):\n    if width > 3:\n        return xs + [random.random()]\n    return xs\n",
        ),
        (
            "tests/test_backoff.py",
            "from app.backoff import delays, spread, pick, pad\n\ndef test_plain():\n    assert delays(1) == [1]\n\ndef test_jitter():\n    assert delays(1, jitter=0.5) == [1]\n\ndef test_jitter_positional():\n    assert delays(1, 0.5) == [1]\n\ndef test_spread_plain():\n    assert spread(2) == [0, 0]\n\ndef test_spread_scaled():\n    assert spread(2, scale=1) == [0, 0]\n\ndef test_pick_first():\n    assert pick([1, 2]) == 1\n\ndef test_pick_seeded():\n    assert pick([1, 2], seed=3) == 1\n\ndef test_pad():\n    assert pad([1]) == [1]\n",
        ),
    ];
    let rule = |t: &str| {
        (
            "unseeded-random".to_string(),
            format!("tests/test_backoff.py::{t}"),
        )
    };
    assert_eq!(
        lint(&files),
        [
            rule("test_jitter"),
            rule("test_jitter_positional"),
            rule("test_pad"),
            rule("test_pick_seeded"),
            rule("test_spread_scaled"),
        ]
    );
}

#[test]
fn a_function_reached_twice_with_other_arguments_is_followed_both_ways() {
    // Whichever call is followed first, the one that gives no `day` reaches the read. Through
    // a helper that passes its own parameter on, too. `super(Report, self)` names the class;
    // it does not construct it again (which would reach `__init__` without a `day`).
    let files = [
        ("app/__init__.py", ""),
        (
            "app/report.py",
            "from datetime import date\n\ndef daily(orders, day=None):\n    day = day or date.today()\n    return [o for o in orders if o.day == day]\n\ndef weekly(orders, day=None):\n    return daily(orders, day=day)\n\nclass Base:\n    def __init__(self):\n        pass\n\nclass Report(Base):\n    def __init__(self, day=None):\n        super(Report, self).__init__()\n        self.day = day or date.today()\n",
        ),
        (
            "tests/test_report.py",
            "from datetime import date\nfrom app.report import daily, weekly, Report\n\nD = date(2024, 1, 1)\n\ndef test_given_first():\n    assert daily([], day=D) == []\n    assert daily([]) == []\n\ndef test_given_last():\n    assert daily([]) == []\n    assert daily([], day=D) == []\n\ndef test_through_a_helper():\n    assert weekly([], day=D) == []\n    assert weekly([]) == []\n\ndef test_always_given():\n    assert weekly([], day=D) == daily([], D)\n\ndef test_report():\n    assert Report(day=D).day == D\n",
        ),
    ];
    let rule = |t: &str| {
        (
            "wall-clock-compare".to_string(),
            format!("tests/test_report.py::{t}"),
        )
    };
    assert_eq!(
        lint(&files),
        [
            rule("test_given_first"),
            rule("test_given_last"),
            rule("test_through_a_helper"),
        ]
    );
}

#[test]
fn test_classes_in_a_file_pytest_does_not_collect_run_as_their_subclasses() {
    // Beaker: `tests/test_managers/base.py` (not `test_*.py`) holds `CacheManagerBaseTests`, a
    // `TestCase` that `test_ext_redis.py` imports and subclasses; pytest collects only the
    // subclass. A file of that kind nobody inherits from is still a test file (humanfriendly's
    // `tests.py`, named on the command line).
    let files = [
        ("tests/__init__.py", ""),
        ("tests/managers/__init__.py", ""),
        (
            "tests/managers/base.py",
            "import unittest\n\nclass CacheManagerBaseTests(unittest.TestCase):\n    def test_write(self):\n        with open('/tmp/beaker.txt', 'w') as f:\n            f.write('x')\n",
        ),
        (
            "tests/managers/test_ext_redis.py",
            "from . import base\n\nclass TestRedis(base.CacheManagerBaseTests):\n    pass\n",
        ),
        (
            "tests/tests.py",
            "import unittest\n\nclass Suite(unittest.TestCase):\n    def test_write(self):\n        with open('/tmp/suite.txt', 'w') as f:\n            f.write('x')\n",
        ),
    ];
    let pair = |t: &str| ("fixed-tmp-path".to_string(), t.to_string());
    assert_eq!(
        lint(&files),
        [
            pair("tests/managers/test_ext_redis.py::TestRedis::test_write"),
            pair("tests/tests.py::Suite::test_write"),
        ]
    );
}

#[test]
fn directories_the_projects_norecursedirs_names_hold_no_tests() {
    // plumbum: `norecursedirs = ["examples", "experiments"]`; pytest never collects
    // `experiments/test_parallel.py` from the root.
    let src = "import time\n\ndef test_quick():\n    t0 = time.time()\n    work()\n    assert time.time() - t0 < 0.1\n";
    let files = [
        ("pytest.ini", "[pytest]\nnorecursedirs = examples exper*\n"),
        ("experiments/test_parallel.py", src),
        ("examples/deep/test_demo.py", src),
        ("tests/test_it.py", src),
    ];
    assert_eq!(
        lint(&files),
        [(
            "timing-assert".to_string(),
            "tests/test_it.py::test_quick".to_string()
        )]
    );
    // Without the setting they are tests.
    let mut open = files;
    open[0] = ("pytest.ini", "[pytest]\n");
    assert_eq!(lint(&open).len(), 3);
}

#[test]
fn test_methods_inherited_from_a_class_of_another_module() {
    // dogpile.cache's suites: `class RedisTest(_Conn, SuiteBase)` in a test file, the tests in
    // `SuiteBase` in the package's `testing` module. pytest runs them under the derived class;
    // so does the scan, reading the suite as test code. The suite's module is not a test
    // file: nothing is collected from it itself. A class pytest does not collect inherits
    // nothing; a method the derived class overrides is its own.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/testing.py",
            "import random\n\nclass SuiteBase:\n    def setup_method(self):\n        self.n = 1\n\n    def test_roll(self):\n        assert random.randint(1, 6) == 3\n\n    def test_plain(self):\n        assert self.n == 1\n\n    def test_mine(self):\n        assert random.random() < 0.5\n\nclass TestNotCollectedHere(SuiteBase):\n    pass\n",
        ),
        (
            "tests/test_backends.py",
            "from app.testing import SuiteBase\nfrom app import testing\n\nclass _Conn:\n    pass\n\nclass TestRedis(_Conn, SuiteBase):\n    def test_mine(self):\n        assert True\n\nclass TestMemory(testing.SuiteBase):\n    pass\n\nclass Helper(SuiteBase):\n    pass\n",
        ),
    ];
    let rule = |t: &str| {
        (
            "unseeded-random".to_string(),
            format!("tests/test_backends.py::{t}"),
        )
    };
    assert_eq!(
        lint(&files),
        [
            rule("TestMemory::test_mine"),
            rule("TestMemory::test_roll"),
            rule("TestRedis::test_roll"),
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pytest.ini"), "[pytest]\n").unwrap();
    for (path, src) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, src).unwrap();
    }
    let s = scan(&[dir.path().to_path_buf()], &Config::default(), None);
    // TestRedis: test_mine (own), test_roll, test_plain; TestMemory: three.
    assert_eq!(s.tests, 6);
}

#[test]
fn a_package_module_a_test_helper_subclasses_stays_code_under_test() {
    // waitress: a helper class of a test file subclasses the package's `dispatcher` (not a
    // test class's base); huey: a test-named helper subclasses the package's `Consumer`;
    // humanfriendly: `import app` beside `from app.testing import TestCase`, whose base is in
    // `app.testing`, not in the package's `__init__`. Each stays code under test, so the
    // sleeps in it are not a test's `sleep-wait`, on every scan: which import the scan met
    // first once decided it, and that order changed from run to run.
    let sleepy = "import time\n\nclass dispatcher:\n    def poll(self, timeout):\n        time.sleep(timeout)\n\nclass Consumer:\n    def run(self, delay):\n        time.sleep(delay)\n";
    let files = [
        (
            "app/__init__.py",
            "import time\n\ndef nap(s):\n    time.sleep(s)\n",
        ),
        ("app/loop.py", sleepy),
        ("app/compat.py", "X = 1\n"),
        (
            "app/testing.py",
            "import unittest\n\nclass TestCase(unittest.TestCase):\n    pass\n",
        ),
        (
            "tests/test_a.py",
            "import app\nfrom app import compat, loop as asyncore\nfrom app.loop import Consumer\nfrom app.testing import TestCase\n\nclass Server(asyncore.dispatcher):\n    pass\n\nclass TestConsumer(Consumer):\n    pass\n\nclass TestPoll(TestCase):\n    def test_poll(self):\n        Server().poll(1)\n        TestConsumer().run(1)\n        app.nap(1)\n",
        ),
        (
            "tests/test_b.py",
            "from app.loop import dispatcher\n\ndef test_b():\n    dispatcher().poll(0)\n",
        ),
    ];
    for _ in 0..20 {
        assert!(tests_of("sleep-wait", lint(&files)).is_empty());
    }
}

#[test]
fn directories_pytest_does_not_recurse_into_are_not_scanned() {
    // `pip install .` leaves a copy of the tests under `build/lib` (humanfriendly's
    // `build/lib/humanfriendly/tests.py`); pytest's `norecursedirs` skips it, and `dist`,
    // `*.egg`. A test file named `build_test.py` is still one.
    let src = "import random\n\ndef test_a():\n    assert random.random() < 0.5\n";
    let files = [
        ("build/lib/tests/test_a.py", src),
        ("dist/tests/test_a.py", src),
        ("pkg.egg/tests/test_a.py", src),
        ("tests/test_a.py", src),
        ("tests/build_test.py", src),
    ];
    assert_eq!(
        lint(&files),
        [
            (
                "unseeded-random".to_string(),
                "tests/build_test.py::test_a".to_string()
            ),
            (
                "unseeded-random".to_string(),
                "tests/test_a.py::test_a".to_string()
            ),
        ]
    );
}

#[test]
fn streams_restored_as_a_tuple_or_changed_in_a_child_process_are_not_shared_state() {
    // tqdm's `std_out_err_redirect_tqdm`: `sys.stdout, sys.stderr = saved` in a `finally:`
    // restores both. rq's worker that points `sys.stderr` at a log file runs as a
    // `Process(target=…)`: the test's process never sees the change. A test that sets it in
    // its own process and leaves it is reported.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/out.py",
            "import sys\n\ndef show(x):\n    sys.stderr.write(x)\n    return x\n",
        ),
        (
            "tests/test_out.py",
            "import sys\nfrom contextlib import contextmanager\nfrom multiprocessing import Process\nfrom app.out import show\n\n@contextmanager\ndef redirected(f):\n    saved = sys.stdout, sys.stderr\n    try:\n        sys.stdout = sys.stderr = f\n        yield\n    finally:\n        sys.stdout, sys.stderr = saved\n\ndef child():\n    sys.stderr = open('/dev/null', 'w')\n\ndef test_redirect():\n    with redirected(None):\n        pass\n\ndef test_child():\n    p = Process(target=child)\n    p.start()\n    p.join()\n\ndef test_show():\n    assert show('a') == 'a'\n",
        ),
    ];
    assert!(lint(&files).is_empty(), "{:?}", lint(&files));
    let mut leaky = files;
    leaky[2].1 = "import sys\nfrom app.out import show\n\ndef test_leak():\n    sys.stderr = open('/dev/null', 'w')\n\ndef test_show():\n    assert show('a') == 'a'\n";
    assert_eq!(
        lint(&leaky),
        [(
            "shared-module-state".to_string(),
            "tests/test_out.py::test_show".to_string()
        )]
    );
}

#[test]
fn unseeded_random_in_a_container_asserted_for_its_truth() {
    // boltons' `assert [u >= j for u, j in zip(plain, jittered)]`: a non-empty list is true
    // whatever its items say. A comprehension that filters by value is not.
    let quiet = "import random\n\ndef test_jitter():\n    xs = [random.random() for _ in range(3)]\n    assert [x <= 0.5 for x in xs]\n    assert (xs[0], 1)\n";
    assert!(lint(&[("tests/test_j.py", quiet)]).is_empty());
    let loud = "import random\n\ndef test_jitter():\n    xs = [random.random() for _ in range(3)]\n    assert [x for x in xs if x <= 0.5]\n";
    assert_eq!(
        lint(&[("tests/test_j.py", loud)]),
        [(
            "unseeded-random".to_string(),
            "tests/test_j.py::test_jitter".to_string()
        )]
    );
}

#[test]
fn unseeded_random_name_looked_up_is_not_its_value() {
    // A random file name checked for existence: whether the file is there does not depend on
    // which name was drawn. Its base name compared with a fixed one does.
    let quiet = "import os, random\n\ndef test_file(tmp_path):\n    name = 'f-%d' % random.randint(1, 9)\n    p = os.path.join(str(tmp_path), name)\n    open(p, 'w').close()\n    assert os.path.isfile(p)\n";
    assert!(lint(&[("tests/test_f.py", quiet)]).is_empty());
    let loud = format!("{quiet}    assert os.path.basename(p) == 'f-3'\n");
    assert_eq!(
        lint(&[("tests/test_f.py", loud.as_str())]),
        [(
            "unseeded-random".to_string(),
            "tests/test_f.py::test_file".to_string()
        )]
    );
}

#[test]
fn a_draw_the_code_under_test_returns_counts_where_its_value_is_compared_or_used() {
    // humanfriendly's `random_string()`: a draw the code under test only returns is a unique
    // token to a test that names a file with it, checks its type or its length, and a flake
    // to one that compares it with a fixed value. A caller in the code under test that keeps
    // the value (`Parcel(label=new_id())`, flaky-shop's labels) uses it: reported for every
    // test that reaches it, as any draw there.
    let lib = "import random\n\nclass Parcel:\n    def __init__(self, label):\n        self.label = label\n\ndef new_id():\n    n = random.randint(1, 10**8)\n    return f'ID-{n}'\n\ndef tagged():\n    return new_id().lower()\n\ndef parcel():\n    return Parcel(label=new_id())\n";
    let quiet = "import os\nfrom app.ids import new_id, tagged\n\ndef test_file(tmp_path):\n    p = os.path.join(str(tmp_path), new_id())\n    open(p, 'w').close()\n    assert os.path.isfile(p)\n\ndef test_type():\n    assert isinstance(tagged(), str)\n    assert len(new_id()) > 3\n\ndef test_round_trip():\n    d = {}\n    k = new_id()\n    d[k] = 1\n    assert list(d) == [k]\n";
    let files = [
        ("app/__init__.py", ""),
        ("app/ids.py", lib),
        ("tests/test_ids.py", quiet),
    ];
    assert!(lint(&files).is_empty(), "{:?}", lint(&files));
    let loud = "from app.ids import new_id, tagged, parcel\n\ndef test_fixed():\n    assert new_id() == 'ID-7'\n\ndef test_through():\n    assert tagged() == 'id-7'\n\ndef test_kept():\n    assert parcel() is not None\n";
    let files = [
        ("app/__init__.py", ""),
        ("app/ids.py", lib),
        ("tests/test_ids.py", loud),
    ];
    let mut got = lint(&files);
    got.sort();
    let want: Vec<(String, String)> = ["test_fixed", "test_kept", "test_through"]
        .iter()
        .map(|t| {
            (
                "unseeded-random".to_string(),
                format!("tests/test_ids.py::{t}"),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_set_order_the_code_under_test_returns_counts_where_a_test_compares_it_in_order() {
    // cheroot's `return list(unique_nums - missing)`: its test sorts the result, so the order
    // never shows. Compared unsorted, or through a caller that joins it, it does.
    let lib = "def names(xs):\n    return list(set(xs))\n\ndef shown(xs):\n    return ', '.join(names(xs))\n";
    let quiet = "import unittest\nfrom app.names import names, shown\n\ndef test_sorted():\n    assert sorted(names(['b', 'a'])) == ['a', 'b']\n    assert set(names(['a'])) == {'a'}\n    assert 'a' in names(['a', 'b'])\n    assert len(shown(['a'])) == 1\n\nclass T(unittest.TestCase):\n    def test_count(self):\n        self.assertCountEqual(names(['a', 'b']), ['b', 'a'])\n";
    let files = [
        ("app/__init__.py", ""),
        ("app/names.py", lib),
        ("tests/test_names.py", quiet),
    ];
    assert!(lint(&files).is_empty(), "{:?}", lint(&files));
    let loud = "from app.names import names, shown\n\ndef test_listed():\n    assert names(['b', 'a']) == ['a', 'b']\n\ndef test_joined():\n    assert shown(['b', 'a']) == 'a, b'\n";
    let files = [
        ("app/__init__.py", ""),
        ("app/names.py", lib),
        ("tests/test_names.py", loud),
    ];
    let mut got = lint(&files);
    got.sort();
    assert_eq!(
        got,
        [
            (
                "set-iteration-order".to_string(),
                "tests/test_names.py::test_joined".to_string()
            ),
            (
                "set-iteration-order".to_string(),
                "tests/test_names.py::test_listed".to_string()
            )
        ]
    );
}

#[test]
fn wall_clock_unequal_to_one_fixed_moment_is_a_note() {
    // freezegun's `assertNotEqual(date(2013, 4, 9), date.today())`: fails only on that day. A
    // part of the read (`.year`) unequal to a fixed value fails for a whole year: reported.
    let note = "import datetime, unittest\n\nclass T(unittest.TestCase):\n    def test_not_frozen(self):\n        self.assertNotEqual(datetime.date(2013, 4, 9), datetime.date.today())\n\ndef test_plain():\n    assert datetime.date.today() != datetime.date(2013, 4, 9)\n";
    let files = [("tests/test_now.py", note)];
    let mut config = Config::default();
    config.pedantic = false;
    assert!(
        lint_with(&files, &config).is_empty(),
        "{:?}",
        lint_with(&files, &config)
    );
    assert_eq!(
        pedantic_forms(&files).len(),
        2,
        "{:?}",
        pedantic_forms(&files)
    );
    let loud =
        "import datetime\n\ndef test_year():\n    assert datetime.date.today().year != 2013\n";
    assert_eq!(
        lint_with(&[("tests/test_now.py", loud)], &config),
        [(
            "wall-clock-compare".to_string(),
            "tests/test_now.py::test_year".to_string()
        )]
    );
}

#[test]
fn state_restored_by_a_decorator_of_the_project_is_not_shared_state() {
    // tqdm's `@restore_sys`: a decorator whose wrapper saves `sys.stdin` and puts it back in a
    // `finally:` around the test; the test that sets `sys.stdin` leaves nothing behind. The
    // same test without the decorator (or with one that restores nothing) is reported.
    let deco = "import sys\nfrom functools import wraps\n\ndef restore_sys(func):\n    @wraps(func)\n    def inner(*a):\n        saved = sys.stdin, sys.argv\n        try:\n            return func(*a)\n        finally:\n            sys.stdin, sys.argv = saved\n    return inner\n\ndef noted(func):\n    @wraps(func)\n    def inner(*a):\n        print(func.__name__)\n        return func(*a)\n    return inner\n\n";
    let tests = |mark: &str| {
        format!(
            "{deco}def test_read():\n    assert sys.stdin.isatty() in (True, False)\n\n{mark}\ndef test_set():\n    sys.stdin = ['a']\n    assert list(sys.stdin) == ['a']\n"
        )
    };
    let restored = tests("@restore_sys");
    let files = [("tests/test_cli.py", restored.as_str())];
    assert!(
        lint(&files).iter().all(|(r, _)| r != "shared-module-state"),
        "{:?}",
        lint(&files)
    );
    for mark in ["", "@noted"] {
        let leaky = tests(mark);
        let files = [("tests/test_cli.py", leaky.as_str())];
        assert!(
            lint(&files).contains(&(
                "shared-module-state".to_string(),
                "tests/test_cli.py::test_read".to_string()
            )),
            "{mark}: {:?}",
            lint(&files)
        );
    }
    // rq's `@slow` wraps nothing: it reads the environment once, at import, not at each run.
    let marking = "import os, unittest\n\ndef slow(f):\n    return unittest.skipUnless(os.environ.get('SLOW'), 'slow')(f)\n\n@slow\ndef test_slow():\n    pass\n\ndef test_sets():\n    os.environ['SLOW'] = '1'\n";
    let files = [("tests/test_env.py", marking)];
    assert!(lint(&files).is_empty(), "{:?}", lint(&files));
}

#[test]
fn wall_clock_in_the_code_under_test_against_the_same_clock_in_the_test() {
    // humanize's `test_date_and_delta`: the expected value comes from the same local clock the
    // code reads, so zone and day cancel (compared in a helper, as there; a read of the test's
    // own compared right in the test is still reported by itself). Another clock in the test,
    // or none, is reported.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/when.py",
            "import datetime as dt\n\ndef _now():\n    return dt.datetime.now()\n\ndef ago(seconds):\n    return _now() - dt.timedelta(seconds=seconds)\n",
        ),
        (
            "tests/test_when.py",
            "import datetime as dt\nfrom app.when import ago\n\ndef equal(a, b):\n    assert (a - b).seconds == 0\n\ndef test_same():\n    now = dt.datetime.now()\n    equal(ago(3), now - dt.timedelta(seconds=3))\n\ndef test_other():\n    today = dt.date.today()\n    assert ago(3).date() <= today\n\ndef test_none():\n    assert ago(3).year == 2024\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [
            (
                "wall-clock-compare".to_string(),
                "tests/test_when.py::test_none".to_string()
            ),
            // Twice: its own read, compared right there, and the code's.
            (
                "wall-clock-compare".to_string(),
                "tests/test_when.py::test_other".to_string()
            ),
            (
                "wall-clock-compare".to_string(),
                "tests/test_when.py::test_other".to_string()
            ),
        ]
    );
}

#[test]
fn timing_assert() {
    let found = one(
        "import time\n\ndef test_a():\n    t0 = time.perf_counter()\n    work()\n    elapsed = time.perf_counter() - t0\n    assert elapsed < 0.1\n",
    );
    assert_eq!(rules_of(&found), ["timing-assert"]);
    let unittest = one(
        "import time, unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        start = time.time()\n        work()\n        self.assertLess(time.time() - start, 0.5)\n",
    );
    assert_eq!(
        unittest,
        [("timing-assert".into(), "tests/test_it.py::T::test_a".into())]
    );
    let clean = one(
        "import time\n\ndef test_a():\n    t0 = time.perf_counter()\n    n = work()\n    assert n < 10\n    assert time.perf_counter() >= t0\n",
    );
    assert!(clean.is_empty(), "{clean:?}");
    // A lower bound cannot fail on a slow machine (held-out lesson).
    let lower = one(
        "import time, unittest\n\ndef test_a():\n    t0 = time.monotonic()\n    wait_for_expiry()\n    duration = time.monotonic() - t0\n    assert duration > 0.25\n    assert 0.25 <= duration\n\nclass T(unittest.TestCase):\n    def test_b(self):\n        start = time.time()\n        work()\n        self.assertGreater(time.time() - start, 1)\n",
    );
    assert!(lower.is_empty(), "{lower:?}");
    // A budget of 5 s or more guards against a hang (pexpect's `end_time < 10`, rq's
    // `assertLess(blocked_for, block_seconds)` with `block_seconds = 5`), as in the Rust rule.
    let guards = one(
        "import time, unittest\n\ndef test_a():\n    t0 = time.time()\n    work()\n    end_time = time.time() - t0\n    assert end_time < 10 and end_time > 2\n\nclass T(unittest.TestCase):\n    def test_b(self):\n        block_seconds = 5\n        started_at = time.time()\n        fetch(timeout=block_seconds)\n        blocked_for = time.time() - started_at\n        self.assertLess(blocked_for, block_seconds)\n",
    );
    assert!(guards.is_empty(), "{guards:?}");
    // Must not hide: a short budget through a name (`timeout = 0.5`: no hang guard), a
    // bound rebound to a short one, and a duration in milliseconds against 500. (Here the
    // budget is not the timeout the measured call was given; when it is, the assertion
    // bounds a wait: `timing_assert_on_a_wait_is_the_pedantic_form`.)
    let short_src = "import time, unittest\n\nclass T(unittest.TestCase):\n    def test_b(self):\n        timeout = 5\n        timeout = 0.5\n        started_at = time.time()\n        fetch(timeout=30)\n        blocked_for = time.time() - started_at\n        self.assertGreater(timeout, blocked_for)\n\ndef test_ms():\n    t0 = time.perf_counter()\n    work()\n    ms = (time.perf_counter() - t0) * 1000\n    assert ms < 500\n";
    let short = one(short_src);
    assert_eq!(
        short,
        [
            ("timing-assert".into(), "tests/test_it.py::T::test_b".into()),
            ("timing-assert".into(), "tests/test_it.py::test_ms".into())
        ]
    );
    let mut config = Config::default();
    config.pedantic = true;
    assert!(
        scan_with(&[("tests/test_it.py", short_src)], &config)
            .findings
            .iter()
            .all(|f| !f.pedantic)
    );
}

#[test]
fn timing_assert_on_a_wait_is_the_pedantic_form() {
    // Bounds that tell waiting from not waiting, or check a wait's length: the measured code
    // sleeps (sh's background `sleep`, tqdm's `asyncio.sleep`), runs a function of the test
    // that sleeps (dogpile's threads, a mock's side effect in requests-cache), or is given
    // the very timeout the bound is (rq), or the chain bounds it from below (watchdog).
    let waits = [(
        "tests/test_it.py",
        "import asyncio, threading, time, unittest\nfrom unittest.mock import patch\nfrom sh import sleep\n\nclass T(unittest.TestCase):\n    def test_bg(self):\n        start = time.time()\n        sleep_time = 0.5\n        p = sleep(sleep_time, _bg=True)\n        now = time.time()\n        self.assertLess(now - start, sleep_time)\n\n    def test_fetch(self):\n        timeout = 1\n        started_at = time.time()\n        fetch(job, timeout=timeout)\n        blocked_for = time.time() - started_at\n        self.assertGreater(timeout, blocked_for)\n\ndef test_threads():\n    def use():\n        time.sleep(0.1)\n    started_at = time.time()\n    t = threading.Thread(target=use)\n    t.start()\n    t.join()\n    actual = time.time() - started_at\n    assert actual <= 0.5\n\ndef test_side_effect():\n    def slow(*a):\n        time.sleep(0.1)\n    start = time.time()\n    with patch.object(Session, 'send', side_effect=slow):\n        get()\n        assert time.time() - start < 0.1\n\nasync def test_gather():\n    t = time.time()\n    for i in range(3):\n        await asyncio.sleep(0.01 * i)\n    t = time.time() - t\n    assert 0.27 < t < 0.33\n\ndef test_window():\n    q = DelayedQueue(2)\n    inserted = time.time()\n    q.get()\n    elapsed = time.time() - inserted\n    assert 2.10 > elapsed > 1.99\n",
    )];
    let all: Vec<String> = [
        "T::test_bg",
        "T::test_fetch",
        "test_gather",
        "test_side_effect",
        "test_threads",
        "test_window",
    ]
    .iter()
    .map(|t| format!("tests/test_it.py::{t}"))
    .collect();
    let timing = |found| tests_of("timing-assert", found);
    assert_eq!(timing(pedantic_forms(&waits)), all);
    assert!(timing(lint_with(&waits, &Config::default())).is_empty());
    // Budgets on work stay in the default set: a sleep before the clock starts, a function
    // of the test that sleeps but is not run in the measured code, a timeout that is not the
    // bound, a string joined, an `await` on work.
    let work = [(
        "tests/test_it.py",
        "import time\n\ndef test_before():\n    time.sleep(0.5)\n    t0 = time.perf_counter()\n    work()\n    elapsed = time.perf_counter() - t0\n    assert elapsed < 0.1\n\ndef test_unused_helper():\n    def slow():\n        time.sleep(1)\n    t0 = time.perf_counter()\n    work()\n    assert time.perf_counter() - t0 < 0.1\n    slow()\n\ndef test_timeout_not_the_bound():\n    t0 = time.perf_counter()\n    fetch(timeout=5)\n    assert time.perf_counter() - t0 < 0.1\n\ndef test_join():\n    t0 = time.perf_counter()\n    s = ', '.join(names())\n    assert time.perf_counter() - t0 < 0.1\n\nasync def test_await():\n    t0 = time.perf_counter()\n    await cache.get('k')\n    assert time.perf_counter() - t0 < 0.1\n",
    )];
    let default = timing(lint_with(&work, &Config::default()));
    assert_eq!(
        default,
        [
            "tests/test_it.py::test_await",
            "tests/test_it.py::test_before",
            "tests/test_it.py::test_join",
            "tests/test_it.py::test_timeout_not_the_bound",
            "tests/test_it.py::test_unused_helper"
        ]
    );
    assert!(timing(pedantic_forms(&work)).is_empty());
}

#[test]
fn timing_assert_in_a_helper_every_caller_gives_a_wait_is_the_pedantic_form() {
    // trio's `check_takes_about(f, expected_dur)`: it times a callable its callers pass, and
    // every caller passes a function of its own that sleeps (or a lambda that does): it checks
    // a wait's length. One caller passing work makes it a budget on work again.
    let helper = "import time, trio\n\nasync def check_takes_about(f, expected_dur):\n    start = time.perf_counter()\n    await f()\n    dur = time.perf_counter() - start\n    assert dur / expected_dur < 1.5\n\n";
    let waits = format!(
        "{helper}async def test_sleep():\n    async def sleep_1():\n        await trio.sleep_until(trio.current_time() + 1)\n    await check_takes_about(sleep_1, 1)\n\nasync def test_forever():\n    async def task():\n        with trio.fail_after(1):\n            await trio.sleep_forever()\n    await check_takes_about(task, 1)\n\nasync def test_lambda():\n    await check_takes_about(lambda: trio.sleep(1), 1)\n"
    );
    let files = [("tests/test_it.py", waits.as_str())];
    let timing = |found| tests_of("timing-assert", found);
    assert!(timing(lint_with(&files, &Config::default())).is_empty());
    assert_eq!(timing(pedantic_forms(&files)).len(), 3);
    let work = format!(
        "{waits}\nasync def test_work():\n    async def crunch():\n        sum(range(10**6))\n    await check_takes_about(crunch, 0.1)\n"
    );
    let files = [("tests/test_it.py", work.as_str())];
    assert_eq!(timing(lint_with(&files, &Config::default())).len(), 4);
}

#[test]
fn timing_assert_on_a_wait_inside_the_code_under_test_is_the_pedantic_form() {
    // pyrate-limiter: the measured call waits inside the library; the test says so by
    // bounding the duration from below in another assertion, by passing `blocking=True`, by
    // a bound equal to the timeout it gave (`timeout=1` … `dt < 1.0`), or by a chain on a
    // duration a helper returns (`300 <= cost <= 900`).
    let files = [
        ("app/__init__.py", ""),
        (
            "app/helpers.py",
            "import time\n\ndef acquire(lim):\n    start = time.time()\n    lim.take()\n    return int((time.time() - start) * 1000)\n",
        ),
        (
            "tests/test_it.py",
            "import time\nfrom app.helpers import acquire\n\ndef test_lower_elsewhere():\n    t0 = time.perf_counter()\n    lim.try_acquire('k')\n    dt = time.perf_counter() - t0\n    assert dt >= 0.05\n    assert dt < 1.0\n\ndef test_blocking():\n    t0 = time.perf_counter()\n    lim.try_acquire('k', blocking=True, timeout=0)\n    dt = time.perf_counter() - t0\n    assert dt < 0.05\n\ndef test_timeout_equal():\n    t0 = time.perf_counter()\n    lim.try_acquire('k', timeout=1)\n    dt = time.perf_counter() - t0\n    assert dt < 1.0\n\ndef test_helper_chain():\n    cost = acquire(lim)\n    assert 300 <= cost <= 900\n\ndef test_budget():\n    t0 = time.perf_counter()\n    lim.try_acquire('k', blocking=False)\n    dt = time.perf_counter() - t0\n    assert dt < 0.05\n",
        ),
    ];
    let timing = |found| tests_of("timing-assert", found);
    assert_eq!(
        timing(lint_with(&files, &Config::default())),
        ["tests/test_it.py::test_budget"]
    );
    assert_eq!(timing(pedantic_forms(&files)).len(), 4);
}

#[test]
fn timing_assert_with_a_generous_budget_is_the_pedantic_form() {
    // stamina's `duration < 1`, watchdog's `elapsed < 1`: a second or more on work a busy
    // machine rarely exhausts; `assertLess(elapsed, 2)` too, and a helper's duration in
    // seconds bounded by `1.5`. A budget under a second stays (`elapsed < 0.5`), and one in
    // milliseconds is not read as seconds (`cost < 50`).
    let files = [
        ("tests/__init__.py", ""),
        (
            "tests/helpers.py",
            "import time\n\ndef measure(f):\n    t0 = time.perf_counter()\n    f()\n    return time.perf_counter() - t0\n\ndef measure_ms(f):\n    t0 = time.perf_counter()\n    f()\n    return int((time.perf_counter() - t0) * 1000)\n",
        ),
        (
            "tests/test_it.py",
            "import time, unittest\nfrom tests.helpers import measure, measure_ms\n\ndef test_one_second():\n    t0 = time.perf_counter()\n    work()\n    elapsed = time.perf_counter() - t0\n    assert elapsed < 1\n\nclass T(unittest.TestCase):\n    def test_two(self):\n        t0 = time.monotonic()\n        work()\n        self.assertLess(time.monotonic() - t0, 2)\n\ndef test_helper():\n    assert measure(work) < 1.5\n\ndef test_tight():\n    t0 = time.perf_counter()\n    work()\n    elapsed = time.perf_counter() - t0\n    assert elapsed < 0.5\n\ndef test_millis():\n    cost = measure_ms(work)\n    assert cost < 50\n",
        ),
    ];
    let timing = |found| tests_of("timing-assert", found);
    assert_eq!(
        timing(lint_with(&files, &Config::default())),
        [
            "tests/test_it.py::test_millis",
            "tests/test_it.py::test_tight"
        ]
    );
    assert_eq!(timing(pedantic_forms(&files)).len(), 2);
}

#[test]
fn timing_assert_in_cpu_time_is_the_pedantic_form() {
    // anyio: `assert (time.process_time() - process_time) < hang_time`: the process's CPU
    // time, which other processes' load does not add to. The same bound on a wall clock, or
    // on a duration that also reads one, stays.
    let files = [(
        "tests/test_it.py",
        "import time\n\ndef test_cpu():\n    t0 = time.process_time()\n    work()\n    assert (time.process_time() - t0) < 0.2\n\ndef test_thread():\n    t0 = time.thread_time()\n    work()\n    assert time.thread_time() - t0 < 0.2\n\ndef test_wall():\n    t0 = time.perf_counter()\n    work()\n    assert (time.perf_counter() - t0) < 0.2\n\ndef test_mixed():\n    c0 = time.process_time()\n    t0 = time.monotonic()\n    work()\n    assert time.monotonic() - t0 < 0.2\n",
    )];
    let timing = |found| tests_of("timing-assert", found);
    assert_eq!(
        timing(lint_with(&files, &Config::default())),
        [
            "tests/test_it.py::test_mixed",
            "tests/test_it.py::test_wall"
        ]
    );
    assert_eq!(timing(pedantic_forms(&files)).len(), 2);
}

#[test]
fn timing_assert_on_a_helper_told_to_block_by_default_is_the_pedantic_form() {
    // pyrate-limiter's `async_acquire(limiter, item, blocking: bool = True)` measures
    // `try_acquire_async(item, blocking=blocking)`: the call may wait, and `cost <= 50` tells
    // waiting from not waiting. The same helper defaulting to `False` measures work.
    let helper = |default: &str| {
        format!(
            "from time import time\n\nasync def acquire(limiter, item, blocking: bool = {default}):\n    start = time()\n    ok = await limiter.try_acquire_async(item, blocking=blocking)\n    return ok, int((time() - start) * 1000)\n"
        )
    };
    let tests = "from tests.helpers import acquire\n\nasync def test_bound(limiter):\n    ok, cost = await acquire(limiter, 'a')\n    assert cost <= 50\n";
    for (default, expect) in [("True", 0), ("False", 1)] {
        let h = helper(default);
        let files = [
            ("tests/__init__.py", ""),
            ("tests/helpers.py", h.as_str()),
            ("tests/test_it.py", tests),
        ];
        let found = lint_with(&files, &Config::default());
        assert_eq!(
            found.iter().filter(|(r, _)| r == "timing-assert").count(),
            expect,
            "default {default}: {found:?}"
        );
        assert_eq!(
            pedantic_forms(&files).len(),
            1 - expect,
            "default {default}"
        );
    }
}

#[test]
fn real_network() {
    let found = one(
        "import requests\n\ndef test_a():\n    assert requests.get('https://api.github.com/zen').ok\n",
    );
    assert_eq!(rules_of(&found), ["real-network"]);
    let local = one(
        "import requests\n\ndef test_a(live_server):\n    assert requests.get('http://127.0.0.1:8000/').ok\n    assert requests.get(live_server.url).ok\n",
    );
    assert!(local.is_empty(), "{local:?}");
    // A scheme no client connects with raises before any connection (httpx's own test).
    let scheme = one(
        "import httpx, pytest\n\ndef test_a():\n    with pytest.raises(httpx.UnsupportedProtocol):\n        httpx.get('invalid://example.org')\n\ndef test_b():\n    httpx.get('HTTPS://example.org')\n",
    );
    assert_eq!(
        scheme,
        [(
            "real-network".to_string(),
            "tests/test_it.py::test_b".to_string()
        )]
    );
    // Resolving a numeric address asks no name server; connecting to it, or resolving a
    // name, goes out.
    let numeric = one(
        "import socket\n\ndef test_a():\n    socket.getaddrinfo('1.2.3.4', 0, family=socket.AF_INET6)\n    socket.gethostbyname('8.8.8.8')\n\ndef test_b():\n    socket.create_connection(('1.2.3.4', 80))\n\ndef test_c():\n    socket.getaddrinfo('example.com', 80)\n",
    );
    assert_eq!(
        numeric.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        ["tests/test_it.py::test_b", "tests/test_it.py::test_c"]
    );
    let mocked = one(
        "import requests, responses\n\n@responses.activate\ndef test_a():\n    assert requests.get('https://api.github.com/zen').ok\n",
    );
    assert!(mocked.is_empty(), "{mocked:?}");
    // httpretty's generated tests: the mocked body is defined inside a factory no test is.
    let generated = one(
        "import httpretty, requests\n\ndef make(name):\n    @httpretty.httprettified(allow_net_connect=False)\n    def test_func(self):\n        assert requests.post('https://github.com/foo').ok\n    return test_func\n\ndef make_real(name):\n    def test_func(self):\n        assert requests.post('https://github.com/foo').ok\n    return test_func\n",
    );
    assert_eq!(generated, [("real-network".to_string(), String::new())]);
    // responses' own tests mock in a `with` inside a nested `run()`; requests-mock's hand the
    // `Mocker` of a `with` to a helper that makes the requests.
    let within = one(
        "import requests, responses, requests_mock\n\ndef test_run():\n    def run():\n        with responses.RequestsMock() as rsps:\n            rsps.add('GET', 'http://example.com')\n            requests.get('http://example.com')\n    run()\n\ndef _do(m):\n    m.register_uri('GET', 'http://www.test.com', text='x')\n    return requests.get('http://www.test.com')\n\ndef test_helper():\n    with requests_mock.Mocker() as m:\n        _do(m)\n\ndef test_real():\n    assert requests.get('https://api.github.com/zen').ok\n",
    );
    assert_eq!(
        within,
        [(
            "real-network".to_string(),
            "tests/test_it.py::test_real".to_string()
        )]
    );
}

#[test]
fn fixed_tmp_path() {
    let found = one(
        "import os, tempfile\n\ndef test_a():\n    with open('/tmp/report.csv', 'w') as f:\n        f.write('x')\n\ndef test_b():\n    p = os.path.join(tempfile.gettempdir(), 'state.json')\n    assert not os.path.exists(p)\n",
    );
    assert_eq!(
        found,
        [
            ("fixed-tmp-path".into(), "tests/test_it.py::test_a".into()),
            ("fixed-tmp-path".into(), "tests/test_it.py::test_b".into())
        ]
    );
    let clean = one(
        "def test_a(tmp_path):\n    (tmp_path / 'report.csv').write_text('x')\n\ndef test_b():\n    assert parse_path('/tmp/x') == ['tmp', 'x']\n",
    );
    assert!(clean.is_empty(), "{clean:?}");
    // A test in a directory of its own (click's isolated_filesystem, a chdir to tmp_path).
    let own = one(
        "import os\n\ndef test_a(runner):\n    with runner.isolated_filesystem():\n        with open('foo.txt', 'w') as f:\n            f.write('x')\n\ndef test_b(tmp_path, monkeypatch):\n    monkeypatch.chdir(tmp_path)\n    with open('out.txt', 'w') as f:\n        f.write('x')\n",
    );
    assert!(own.is_empty(), "{own:?}");
}

#[test]
fn fixed_tmp_path_only_compared_as_a_string_names_no_file() {
    // pyfakefs: the name `mkstemp()` returns starts with `gettempdir()/tmp`; the joined path
    // is compared, never opened. Opened, or kept in a name, it is reported.
    let compared = one(
        "import os, tempfile\n\nclass TestT:\n    def test_a(self):\n        name = tempfile.mkstemp()[1]\n        assert name.startswith(os.path.join(tempfile.gettempdir(), 'tmp'))\n\n    def test_b(self):\n        assert make() == os.path.join(tempfile.gettempdir(), 'x')\n\n    def test_c(self):\n        self.assertEqual(make(), (os.path.join(tempfile.gettempdir(), 'x')))\n",
    );
    assert!(compared.is_empty(), "{compared:?}");
    let used = one(
        "import os, tempfile\n\ndef test_a():\n    with open(os.path.join(tempfile.gettempdir(), 'x'), 'w') as f:\n        f.write('x')\n\ndef test_b():\n    assert os.path.exists(os.path.join(tempfile.gettempdir(), 'x'))\n",
    );
    assert_eq!(
        tests_of("fixed-tmp-path", used),
        ["tests/test_it.py::test_a", "tests/test_it.py::test_b"]
    );
}

#[test]
fn fixed_tmp_path_relative_under_a_fixture_that_enters_a_temp_dir_is_the_tests_own() {
    // plumbum's `cleandir` fixture: `newpath = tempfile.mkdtemp(); os.chdir(newpath)`, asked
    // for with `usefixtures`; `monkeypatch.chdir(tmp_path)` in an autouse fixture. A fixture
    // that moves into the project's own directory shares it; `/tmp/x` stays shared anyway.
    let files = [
        (
            "tests/conftest.py",
            "import os, tempfile, pytest\n\n@pytest.fixture\ndef cleandir():\n    newpath = tempfile.mkdtemp()\n    os.chdir(newpath)\n\n@pytest.fixture\ndef here():\n    os.chdir(os.path.dirname(__file__))\n",
        ),
        (
            "tests/test_it.py",
            "import pytest\n\n@pytest.mark.usefixtures('cleandir')\ndef test_own():\n    with open('temp.txt', 'w') as f:\n        f.write('x')\n\ndef test_shared_tmp(cleandir):\n    with open('/tmp/temp.txt', 'w') as f:\n        f.write('x')\n\ndef test_here(here):\n    with open('temp.txt', 'w') as f:\n        f.write('x')\n",
        ),
        (
            "tests/test_auto.py",
            "import pytest\n\n@pytest.fixture(autouse=True)\ndef _cwd(tmp_path, monkeypatch):\n    monkeypatch.chdir(tmp_path)\n\ndef test_auto():\n    with open('out.txt', 'w') as f:\n        f.write('x')\n",
        ),
    ];
    assert_eq!(
        lint_with(&files, &Config::default()),
        [
            (
                "fixed-tmp-path".to_string(),
                "tests/test_it.py::test_here".to_string()
            ),
            (
                "fixed-tmp-path".to_string(),
                "tests/test_it.py::test_shared_tmp".to_string()
            )
        ]
    );
}

#[test]
fn fixed_tmp_path_written_only_while_missing_is_pedantic() {
    // sarge's fixture files: `if not os.path.exists('testfile.txt'): with open(…, 'w')`,
    // never deleted; every run after the first finds the same file.
    let once = [(
        "tests/test_it.py",
        "import os\n\ndef ensure():\n    if not os.path.exists('testfile.txt'):\n        with open('testfile.txt', 'w') as f:\n            f.write('x')\n\ndef test_a():\n    ensure()\n\ndef test_b():\n    if not os.path.isfile('/tmp/fixture.bin'):\n        with open('/tmp/fixture.bin', 'wb') as f:\n            f.write(b'x')\n",
    )];
    let pair = |t: &str| {
        (
            "fixed-tmp-path".to_string(),
            format!("tests/test_it.py::{t}"),
        )
    };
    assert_eq!(pedantic_forms(&once), [pair("test_a"), pair("test_b")]);
    assert!(lint_with(&once, &Config::default()).is_empty());
    // Written whatever is there, or under a check of another file: reported.
    let always = [(
        "tests/test_it.py",
        "import os\n\ndef test_a():\n    with open('testfile.txt', 'w') as f:\n        f.write('x')\n\ndef test_b():\n    if not os.path.exists('other.txt'):\n        with open('/tmp/fixture.bin', 'wb') as f:\n            f.write(b'x')\n",
    )];
    assert_eq!(
        lint_with(&always, &Config::default()),
        [pair("test_a"), pair("test_b")]
    );
}

#[test]
fn fixed_tmp_path_sqlite_only_read() {
    // freezegun's select-only connections: nothing is written to the shared file.
    let reads = one(
        "import sqlite3\n\ndef test_a():\n    db = sqlite3.connect('/tmp/foo')\n    db.execute(\"\"\"select ?\"\"\", (1,))\n    db.close()\n",
    );
    assert!(reads.is_empty(), "{reads:?}");
    // A table created (or the connection handed on) is shared by parallel runs.
    let writes = one(
        "import sqlite3\n\ndef test_a():\n    db = sqlite3.connect('/tmp/foo')\n    db.execute('create table t (x)')\n\ndef test_b():\n    db = sqlite3.connect('/tmp/bar')\n    fill(db)\n",
    );
    assert_eq!(
        writes,
        [
            (
                "fixed-tmp-path".to_string(),
                "tests/test_it.py::test_a".to_string()
            ),
            (
                "fixed-tmp-path".to_string(),
                "tests/test_it.py::test_b".to_string()
            ),
        ]
    );
}

#[test]
fn fixed_tmp_path_in_a_module_constant() {
    let files = [
        ("shop/__init__.py", ""),
        (
            "shop/export.py",
            "import os, tempfile\n\nEXPORT = os.path.join(tempfile.gettempdir(), 'export.csv')\n\ndef export(rows, path=EXPORT):\n    open(path, 'w').write(str(rows))\n",
        ),
        (
            "tests/test_export.py",
            "from shop.export import export\n\ndef test_export():\n    export([1])\n\ndef test_export_to(tmp_path):\n    export([1], path=tmp_path / 'x')\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "fixed-tmp-path".to_string(),
            "tests/test_export.py::test_export".to_string()
        )]
    );
}

#[test]
fn set_order_assert() {
    let found = one("def test_a():\n    assert list({'a', 'b'}) == ['a', 'b']\n");
    assert_eq!(rules_of(&found), ["set-order-assert"]);
    let var = one("def test_a():\n    tags = set(load())\n    assert ','.join(tags) == 'a,b'\n");
    assert_eq!(rules_of(&var), ["set-order-assert"]);
    let clean = one(
        "def test_a():\n    tags = set(load())\n    assert sorted(tags) == ['a', 'b']\n    assert tags == {'a', 'b'}\n    assert list(load()) == ['a', 'b']\n",
    );
    assert!(clean.is_empty(), "{clean:?}");
}

#[test]
fn set_iteration_order() {
    let files = [
        ("shop/__init__.py", ""),
        (
            "shop/catalog.py",
            "def badges(tags):\n    return ' · '.join(t.upper() for t in set(tags))\n\ndef sorted_badges(tags):\n    return ' · '.join(sorted(set(tags)))\n",
        ),
        (
            "tests/test_catalog.py",
            "from shop.catalog import badges, sorted_badges\n\ndef test_badges():\n    assert badges(['a', 'b']) == 'A · B'\n\ndef test_sorted():\n    assert sorted_badges(['b', 'a']) == 'a · b'\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "set-iteration-order".to_string(),
            "tests/test_catalog.py::test_badges".to_string()
        )]
    );
}

#[test]
fn set_iteration_order_kept_where_no_use_sees_the_order() {
    // humanfriendly's `format_usage`: `meta_variables = find_meta_variables(text)` (a
    // `list(set)`), passed to a function that hands it through `functools.partial` to a
    // callback testing `token not in meta_variables`. Kept and joined into what a test
    // compares, it is reported; passed to a function the scan cannot see, the code under test
    // uses the order itself: the pedantic form (`set_iteration_order_used_by_the_code_…`).
    let files = [
        ("app/__init__.py", ""),
        (
            "app/usage.py",
            "import functools, re\nimport textwrap\n\ndef find(text):\n    found = set(re.findall('[A-Z]+', text))\n    return list(found)\n\ndef callback(match, names):\n    return '*' if match.group(0) not in names else match.group(0)\n\ndef replace(text, names):\n    return re.sub('[A-Z]+', functools.partial(callback, names=names), text)\n\ndef highlight(text):\n    names = find(text)\n    if len(names) > 9:\n        return text\n    return replace(text, names)\n\ndef listing(text):\n    names = find(text)\n    return ', '.join(names)\n\ndef wrapped(text):\n    names = find(text)\n    return textwrap.fill(text, names)\n",
        ),
        (
            "tests/test_usage.py",
            "from app.usage import highlight, listing, wrapped\n\ndef test_highlight():\n    assert highlight('a B c') == 'a B c'\n\ndef test_listing():\n    assert listing('A B') == 'A, B'\n\ndef test_wrapped():\n    assert wrapped('A B') == 'A B'\n",
        ),
    ];
    let tests: Vec<String> = lint_with(&files, &Config::default())
        .into_iter()
        .filter(|(r, _)| r == "set-iteration-order")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(tests, ["tests/test_usage.py::test_listing"]);
}

#[test]
fn set_iteration_order_used_by_the_code_under_test_itself_is_pedantic() {
    // zeroconf: `get_all_addresses_ipv4` returns `list({addr.ip …})`, which
    // `normalize_interface_choice` extends into the interfaces it binds sockets to; no test
    // compares that order. A set joined into an attribute, likewise. Returned to a test that
    // compares it, the default form (`set_iteration_order`).
    let files = [
        ("app/__init__.py", ""),
        (
            "app/net.py",
            "def addresses(adapters):\n    return list({a.ip for a in adapters})\n\ndef interfaces(adapters):\n    result = []\n    result.extend(addresses(adapters))\n    return result\n\nclass Engine:\n    def __init__(self, adapters, tags):\n        self.socks = [bind(i) for i in interfaces(adapters)]\n        self.label = ', '.join(set(tags))\n",
        ),
        (
            "tests/test_net.py",
            "from app.net import Engine\n\ndef test_engine():\n    assert Engine([], ['a']).socks == []\n",
        ),
        (
            "tests/test_addresses.py",
            "from app.net import addresses\n\ndef test_addresses():\n    assert addresses([A('1'), A('2')]) == ['1', '2']\n",
        ),
    ];
    let order = |found| tests_of("set-iteration-order", found);
    assert_eq!(
        order(lint_with(&files[..3], &Config::default())),
        Vec::<String>::new()
    );
    assert_eq!(
        order(pedantic_forms(&files[..3])),
        [
            "tests/test_net.py::test_engine",
            "tests/test_net.py::test_engine"
        ]
    );
    // With a test comparing what `addresses` returns, that place is reported for it.
    assert_eq!(
        order(lint_with(&files, &Config::default())),
        ["tests/test_addresses.py::test_addresses"]
    );
}

#[test]
fn set_iteration_order_in_a_message_is_pedantic() {
    // plumbum's colorlib: `raise AttributeNotFound("…" + ", ".join(invalid))`, its conftest's
    // skip reasons: text that describes. Returned or printed, it is reported.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/style.py",
            "import logging, warnings\n\nlog = logging.getLogger(__name__)\n\ndef check(attrs, names):\n    bad = set(attrs) - set(names)\n    if bad:\n        raise ValueError('not valid: ' + ', '.join(bad))\n    warnings.warn('unused: {}'.format(', '.join(set(names))))\n    log.info('checked %s', ', '.join(set(attrs)))\n\ndef render(attrs):\n    return ', '.join(set(attrs))\n",
        ),
        (
            "tests/test_style.py",
            "import pytest\nfrom app.style import check, render\n\ndef test_check():\n    with pytest.raises(ValueError):\n        check(['x', 'y'], [])\n\ndef test_render():\n    assert render(['a']) == 'a'\n",
        ),
    ];
    let pair = |t: &str| {
        (
            "set-iteration-order".to_string(),
            format!("tests/test_style.py::{t}"),
        )
    };
    assert_eq!(lint_with(&files, &Config::default()), [pair("test_render")]);
    let notes = pedantic_forms(&files);
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes.iter().all(|p| *p == pair("test_check")));
}

#[test]
fn shared_module_state_streams_restored_by_a_context_manager() {
    // click's `test_echo_no_streams` sets `sys.stdout = None` inside `runner.isolation()`,
    // which restores the streams on exit; a bare `sys.stderr = None` is never restored.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/out.py",
            "import sys\n\ndef write_out(s):\n    sys.stdout.write(s)\n\ndef write_err(s):\n    sys.stderr.write(s)\n",
        ),
        (
            "tests/test_a_streams.py",
            "import contextlib, io, sys\n\ndef test_isolated(runner):\n    with runner.isolation():\n        sys.stdout = None\n\ndef test_redirected():\n    with contextlib.redirect_stdout(io.StringIO()):\n        sys.stdout = None\n\ndef test_bare():\n    sys.stderr = None\n",
        ),
        (
            "tests/test_b_readers.py",
            "from app.out import write_out, write_err\n\ndef test_out():\n    write_out('x')\n\ndef test_err():\n    write_err('x')\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "shared-module-state".to_string(),
            "tests/test_b_readers.py::test_err".to_string()
        )]
    );
}

#[test]
fn shared_module_state_reports_the_tests_that_run_before_the_change() {
    // pytest's default order: files by path, then definition order (a unittest class's methods
    // by name). A reader that runs before the test that changes the state passes with the
    // module's own value and fails when an order puts the change first (a victim): reported.
    // A reader that runs after it already passes with the change in place on every default
    // run: only with --pedantic.
    let files = [
        ("shop/__init__.py", ""),
        (
            "shop/config.py",
            "settings = {'currency': 'EUR'}\n\ndef get(key):\n    return settings[key]\n\ndef update(**kw):\n    settings.update(kw)\n",
        ),
        (
            "tests/test_a_early.py",
            "from shop import config\n\ndef test_early():\n    assert config.get('currency')\n",
        ),
        (
            "tests/test_b_polluter.py",
            "from shop import config\n\ndef test_before_in_file():\n    assert config.get('currency')\n\ndef test_us():\n    config.update(currency='USD')\n\ndef test_after_in_file():\n    assert config.get('currency')\n",
        ),
        (
            "tests/test_0_unit.py",
            "import unittest\nfrom shop import config\n\nclass T(unittest.TestCase):\n    def test_z_changes(self):\n        config.update(currency='GBP')\n\n    def test_a_reads(self):\n        assert config.get('currency')\n",
        ),
        (
            "tests/sub/test_late.py",
            "from shop import config\n\ndef test_late():\n    assert config.get('currency')\n",
        ),
        (
            "tests/test_c_late.py",
            "from shop import config\n\ndef test_later():\n    assert config.get('currency')\n",
        ),
    ];
    let default = lint_with(&files, &Config::default());
    let tests: Vec<&str> = default.iter().map(|(_, t)| t.as_str()).collect();
    // `tests/sub/` sorts before `tests/test_a_early.py` (entries by name).
    assert_eq!(
        tests,
        [
            "tests/sub/test_late.py::test_late",
            "tests/test_0_unit.py::T::test_a_reads",
            "tests/test_a_early.py::test_early",
            "tests/test_b_polluter.py::test_before_in_file",
        ]
    );
    let all: Vec<String> = lint(&files).into_iter().map(|(_, t)| t).collect();
    assert!(all.contains(&"tests/test_b_polluter.py::test_after_in_file".to_string()));
    assert!(all.contains(&"tests/test_c_late.py::test_later".to_string()));
    // Every reader here reads in `get`: one place, a warning, since victims read it.
    assert!(pedantic_forms(&files).is_empty());
    // A place only brittle readers read is a note under --pedantic.
    let own = [
        ("shop/__init__.py", ""),
        ("shop/config.py", "settings = {'currency': 'EUR'}\n"),
        (
            "tests/test_a.py",
            "from shop import config\n\ndef test_us():\n    config.settings['currency'] = 'USD'\n",
        ),
        (
            "tests/test_b.py",
            "from shop import config\n\ndef test_later():\n    assert config.settings['currency']\n",
        ),
    ];
    assert!(lint_with(&own, &Config::default()).is_empty());
    assert_eq!(
        pedantic_forms(&own),
        [(
            "shared-module-state".to_string(),
            "tests/test_b.py::test_later".to_string()
        )]
    );
}

#[test]
fn shared_module_state_a_function_of_a_submodule_is_no_state() {
    // `import aiofiles.os`, `aiofiles.os.remove(path)`: a call to a module's function, not a
    // `remove` on state called `aiofiles.os` (aiofiles' `test_remove`, `test_stat`).
    let module = [(
        "tests/test_os.py",
        "import pkg.fs\n\ndef test_a_stat():\n    assert pkg.fs.stat('x')\n\ndef test_b_remove():\n    pkg.fs.remove('x')\n",
    )];
    let found = lint(&module);
    assert!(found.is_empty(), "{found:?}");
    // A module-level list of an imported module, changed in place by one test and read by an
    // earlier one: reported.
    let state = [(
        "tests/test_os.py",
        "import pkg\n\ndef test_a_read():\n    assert pkg.handlers.index('x')\n\ndef test_b_remove():\n    pkg.handlers.remove('x')\n",
    )];
    assert_eq!(
        lint(&state),
        [(
            "shared-module-state".to_string(),
            "tests/test_os.py::test_a_read".to_string()
        )]
    );
}

#[test]
fn shared_module_state_an_entry_of_its_own_is_not_seen_by_reads_of_other_entries() {
    // plumbum: `test_env` adds `local.env["FOOBAR72"]` and leaves it; tests reading
    // `local.env["HOME"]`, `local.env.home` or `local.env.get("USER")` do not see it. One that
    // reads the same entry, the whole mapping, or the entry by attribute does.
    let files = [
        ("app/__init__.py", "env = {}\n"),
        (
            "tests/test_a_writer.py",
            "import app\n\ndef test_env():\n    app.env['FOOBAR72'] = 'spam'\n    assert app.env['FOOBAR72'] == 'spam'\n",
        ),
        (
            "tests/test_b_readers.py",
            "import app\n\ndef test_home():\n    assert app.env['HOME']\n\ndef test_attr():\n    assert app.env.home\n\ndef test_get():\n    assert app.env.get('USER')\n\ndef test_in():\n    assert 'PATH' in app.env\n\ndef test_same():\n    assert 'FOOBAR72' not in app.env\n\ndef test_keys():\n    assert set(app.env.keys()) == {'HOME'}\n\ndef test_by_attribute():\n    assert app.env.FOOBAR72 is None\n\ndef test_called():\n    with app.env(HOME='/'):\n        pass\n",
        ),
    ];
    let pair = |t: &str| {
        (
            "shared-module-state".to_string(),
            format!("tests/test_b_readers.py::{t}"),
        )
    };
    let mut config = Config::default();
    config.pedantic = true;
    let found: Vec<_> = lint_with(&files, &config)
        .into_iter()
        .filter(|(_, t)| t.starts_with("tests/test_b"))
        .collect();
    assert_eq!(
        found,
        [
            pair("test_by_attribute"),
            pair("test_keys"),
            pair("test_same")
        ]
    );
}

#[test]
fn shared_module_state_an_entry_of_its_own_is_not_seen_by_comparisons_of_live_views() {
    // plumbum: `test_env` leaves `local.env["FOOBAR72"]`; `async_local.env == local.env` and
    // the keys `printenv` shows against `local.env`'s compare two views of the same
    // environment, which both show the new entry. A comparison with a fixed value, or a
    // count, sees it; a change of the whole mapping is seen by every read.
    let readers = (
        "tests/test_b_readers.py",
        "import os\nimport app\n\ndef test_live():\n    assert set(app.env) == set(os.environ)\n\ndef test_kept():\n    keys = {k for k in app.env}\n    print(keys)\n    assert keys == set(app.printenv())\n\ndef test_assert_equal():\n    import unittest\n    unittest.TestCase().assertEqual(dict(app.env), app.printenv())\n\ndef test_kept_fixed():\n    keys = set(app.env)\n    assert keys == {'HOME'}\n\ndef test_count():\n    assert len(app.env) == 1\n\ndef test_constant():\n    assert app.env == app.DEFAULTS\n",
    );
    let files = [
        (
            "app/__init__.py",
            "import os\n\nDEFAULTS = {}\nenv = {}\n\ndef printenv():\n    return dict(os.environ)\n",
        ),
        (
            "tests/test_a_writer.py",
            "import app\n\ndef test_env():\n    app.env['FOOBAR72'] = 'spam'\n    assert app.env['FOOBAR72'] == 'spam'\n",
        ),
        readers,
    ];
    let pair = |t: &str| {
        (
            "shared-module-state".to_string(),
            format!("tests/test_b_readers.py::{t}"),
        )
    };
    let readers_found = |files: &[(&str, &str)]| -> Vec<(String, String)> {
        lint(files)
            .into_iter()
            .filter(|(_, t)| t.starts_with("tests/test_b"))
            .collect()
    };
    assert_eq!(
        readers_found(&files),
        [
            pair("test_constant"),
            pair("test_count"),
            pair("test_kept_fixed")
        ]
    );
    let whole = [
        files[0],
        (
            "tests/test_a_writer.py",
            "import app\n\ndef test_env():\n    app.env.update(HOME='/')\n    assert app.env['HOME'] == '/'\n",
        ),
        readers,
    ];
    assert_eq!(
        readers_found(&whole),
        [
            pair("test_assert_equal"),
            pair("test_constant"),
            pair("test_count"),
            pair("test_kept"),
            pair("test_kept_fixed"),
            pair("test_live")
        ]
    );
}

#[test]
fn shared_module_state_a_constant_added_to_a_set_does_not_accumulate() {
    // kombu: `registry._disabled_content_types.add('application/json')`: a set given a
    // constant holds it once however often the test runs. A value of the run's own, or a
    // constant appended to a list, accumulates.
    let case = |add: &str| {
        [
            ("lib/__init__.py", ""),
            (
                "lib/registry.py",
                "_disabled = set()\n_order = []\n\ndef disabled():\n    return set(_disabled)\n\ndef order():\n    return list(_order)\n",
            ),
            (
                "tests/test_registry.py",
                Box::leak(
                    format!(
                        "from lib import registry\n\ndef test_disable():\n    name = object()\n    {add}\n    assert registry.disabled() or registry.order()\n"
                    )
                    .into_boxed_str(),
                ),
            ),
        ]
    };
    assert!(lint(&case("registry._disabled.add('json')")).is_empty());
    assert!(lint(&case("registry._disabled.add(42)")).is_empty());
    assert_eq!(
        rules_of(&lint(&case("registry._disabled.add(name)"))),
        ["shared-module-state"]
    );
    assert_eq!(
        rules_of(&lint(&case("registry._order.append('json')"))),
        ["shared-module-state"]
    );
}

#[test]
fn shared_module_state_growth_read_back_only_at_the_end_it_grows() {
    // uvicorn: `--app-dir` does `sys.path.insert(0, app_dir)`; its test checks `sys.path[0] ==
    // str(app_dir)`, the entry this run put there, whatever earlier runs left behind. A read
    // of the other end, or of the whole list, sees them.
    let case = |grow: &str, read: &str| {
        let test = format!(
            "import sys\nfrom lib import paths\n\ndef test_dir(tmp_path):\n    paths.add(str(tmp_path))\n    assert {read} == str(tmp_path)\n"
        );
        let lib = format!("import sys\n\ndef add(d):\n    {grow}\n");
        lint(&[
            ("lib/__init__.py", ""),
            ("lib/paths.py", Box::leak(lib.into_boxed_str())),
            ("tests/test_paths.py", Box::leak(test.into_boxed_str())),
        ])
    };
    assert!(case("sys.path.insert(0, d)", "sys.path[0]").is_empty());
    assert!(case("sys.path.append(d)", "sys.path[-1]").is_empty());
    for (grow, read) in [
        ("sys.path.insert(0, d)", "sys.path[-1]"),
        ("sys.path.append(d)", "sys.path[0]"),
        ("sys.path.insert(0, d)", "':'.join(sys.path)"),
    ] {
        assert_eq!(
            rules_of(&case(grow, read)),
            ["shared-module-state"],
            "{grow} / {read}"
        );
    }
}

#[test]
fn shared_module_state_changed_where_the_process_ends_is_never_seen() {
    // tornado: autoreload's `_reload()` sets `_reload_attempted = True`, then replaces the
    // process (`os.execv`, or `os._exit(0)` after spawning a new one): no later test of the
    // process reads the flag. A function that may return keeps its change.
    let case = |end: &str| {
        let lib = format!(
            "import os\nimport sys\n\n_attempted = False\n\ndef attempted():\n    return _attempted\n\ndef restart():\n    global _attempted\n    _attempted = True\n{end}\n"
        );
        lint(&[
            ("lib/__init__.py", ""),
            ("lib/reload.py", Box::leak(lib.into_boxed_str())),
            (
                "tests/test_a.py",
                "from lib import reload\n\ndef test_fresh():\n    assert reload.attempted() is False\n",
            ),
            (
                "tests/test_b.py",
                "from lib import reload\n\ndef test_restart():\n    reload.restart()\n",
            ),
        ])
    };
    for end in [
        "    os.execv(sys.executable, [sys.executable] + sys.argv)",
        "    if sys.platform == 'win32':\n        os._exit(0)\n    else:\n        os.execv(sys.executable, sys.argv)",
        "    if a:\n        os.abort()\n    elif b:\n        os._exit(1)\n    else:\n        # replaced\n        os.execvp('python', sys.argv)",
    ] {
        assert!(case(end).is_empty(), "{end}");
    }
    for end in [
        "    sys.exit(0)",
        "    if sys.platform == 'win32':\n        os._exit(0)",
        "    if a:\n        os._exit(0)\n    else:\n        log()",
    ] {
        assert_eq!(rules_of(&case(end)), ["shared-module-state"], "{end}");
    }
}

#[test]
fn shared_module_state_reset_by_an_inherited_set_up() {
    // portpicker: `class PickUnusedPortTest(CommonTestMixin, unittest.TestCase)`, whose
    // mixin's `setUp` empties the module's port sets before each test; a base of another
    // module too. A class without one keeps the finding.
    let files = [
        ("shop/__init__.py", ""),
        (
            "shop/config.py",
            "_hooks = []\n\ndef register(h):\n    _hooks.append(h)\n\ndef hooks():\n    return list(_hooks)\n",
        ),
        ("tests/__init__.py", ""),
        (
            "tests/base.py",
            "from shop import config\n\nclass Clean:\n    def setUp(self):\n        config._hooks.clear()\n",
        ),
        (
            "tests/test_hooks.py",
            "import unittest\nfrom shop import config\nfrom tests.base import Clean\n\nclass Reset:\n    def setUp(self):\n        super().setUp()\n        config._hooks.clear()\n\nclass T(Reset, unittest.TestCase):\n    def test_hooks(self):\n        config.register(print)\n        assert config.hooks() == [print]\n\nclass V(Clean, unittest.TestCase):\n    def test_hooks(self):\n        config.register(print)\n        assert config.hooks() == [print]\n\nclass U(unittest.TestCase):\n    def test_hooks(self):\n        config.register(print)\n        assert config.hooks() == [print]\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "shared-module-state".to_string(),
            "tests/test_hooks.py::U::test_hooks".to_string()
        )]
    );
}

#[test]
fn shared_module_state() {
    let files = [
        ("shop/__init__.py", ""),
        (
            "shop/config.py",
            "settings = {'currency': 'EUR'}\n_hooks = []\n\ndef get(key):\n    return settings[key]\n\ndef update(**kw):\n    settings.update(kw)\n\ndef reset():\n    settings.clear()\n    settings['currency'] = 'EUR'\n\ndef register(h):\n    _hooks.append(h)\n\ndef hooks():\n    return list(_hooks)\n",
        ),
        (
            "tests/test_a_polluter.py",
            "from shop import config\n\ndef test_us():\n    config.update(currency='USD')\n    assert config.get('currency') == 'USD'\n",
        ),
        (
            "tests/test_b_victim.py",
            "from shop import config\n\ndef test_euro():\n    assert config.get('currency') == 'EUR'\n",
        ),
        (
            "tests/test_c_cleaner.py",
            "from shop import config\n\ndef test_reset():\n    config.update(currency='GBP')\n    config.reset()\n    assert config.get('currency') == 'EUR'\n",
        ),
        (
            "tests/test_d_hooks.py",
            "from shop import config\n\ndef test_hooks():\n    config.register(print)\n    assert config.hooks() == [print]\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [
            (
                "shared-module-state".to_string(),
                "tests/test_b_victim.py::test_euro".to_string()
            ),
            (
                "shared-module-state".to_string(),
                "tests/test_d_hooks.py::test_hooks".to_string()
            ),
        ]
    );
    // A cache (written after a lookup) is no shared state.
    let cache = [
        ("lib/__init__.py", ""),
        (
            "lib/memo.py",
            "_cache = {}\n\ndef fib(n):\n    if n in _cache:\n        return _cache[n]\n    _cache[n] = v = n if n < 2 else fib(n - 1) + fib(n - 2)\n    return v\n",
        ),
        (
            "tests/test_fib.py",
            "from lib.memo import fib\n\ndef test_a():\n    assert fib(10) == 55\n\ndef test_b():\n    assert fib(5) == 5\n",
        ),
    ];
    assert!(lint(&cache).is_empty());
    // Growth only while the entry is missing: a lazy singleton (dateutil's
    // `_CLASS_ZONE_INSTANCE`), a registry without duplicates. A second run adds nothing.
    let once = [
        ("lib/__init__.py", ""),
        (
            "lib/zones.py",
            "_INSTANCE = []\n_SEEN = []\n\ndef zones():\n    if len(_INSTANCE) == 0:\n        _INSTANCE.append(load())\n    return _INSTANCE[0]\n\ndef first():\n    if not _INSTANCE:\n        _INSTANCE.append(load())\n    return _INSTANCE[0]\n\ndef see(v):\n    if v not in _SEEN:\n        _SEEN.append(v)\n    return list(_SEEN)\n",
        ),
        (
            "tests/test_zones.py",
            "from lib.zones import zones, first, see\n\ndef test_a():\n    assert zones()\n    assert first()\n\ndef test_b():\n    assert see(1) == [1]\n",
        ),
    ];
    let found = lint(&once);
    assert!(found.is_empty(), "{found:?}");
    // Growth under any other condition still accumulates.
    let grows = [
        once[0],
        (
            "lib/zones.py",
            "_SEEN = []\n\ndef see(v):\n    if v:\n        _SEEN.append(v)\n    return list(_SEEN)\n",
        ),
        (
            "tests/test_zones.py",
            "from lib.zones import see\n\ndef test_b():\n    assert see(1) == [1]\n",
        ),
    ];
    assert_eq!(rules_of(&lint(&grows)), ["shared-module-state"]);
}

#[test]
fn thread_no_join() {
    let found = one(
        "import threading\n\ndef test_a():\n    t = threading.Thread(target=work)\n    t.start()\n    assert result()\n",
    );
    assert_eq!(rules_of(&found), ["thread-no-join"]);
    let joined = one(
        "import threading\n\ndef test_a():\n    t = threading.Thread(target=work)\n    t.start()\n    t.join(timeout=5)\n    assert ', '.join(['a']) == 'a'\n",
    );
    assert!(joined.is_empty(), "{joined:?}");
    // Waited for as the fix advises, without a join: a barrier or event, a blocking queue
    // read, a future's result (loguru's `test_no_error_if_multithreading`). A dict's
    // `get(key)` is no wait.
    for wait in [
        "barrier.wait()",
        "done.wait(5)",
        "q.get(timeout=5)",
        "q.get()",
        "fut.result()",
    ] {
        let waited = one(&format!(
            "import threading\n\ndef test_a():\n    t = threading.Thread(target=work)\n    t.start()\n    {wait}\n    assert result()\n"
        ));
        assert!(waited.is_empty(), "{wait}: {waited:?}");
    }
    // A service started in set-up and joined in tear-down (pexpect's socket server process):
    // its life is the test's. Without the join in tear-down it outlives the test.
    let service = |teardown: &str| {
        one(&format!(
            "import threading, unittest\n\nclass TestServer(unittest.TestCase):\n    def setUp(self):\n        self.t = threading.Thread(target=serve)\n        self.t.start()\n\n    def tearDown(self):\n        stop()\n        {teardown}\n\n    def test_a(self):\n        assert ping()\n"
        ))
    };
    let joined = service("self.t.join(timeout=5.0)");
    assert!(joined.is_empty(), "{joined:?}");
    assert_eq!(rules_of(&service("pass")), ["thread-no-join"]);
    let dict_get = one(
        "import threading\n\ndef test_a():\n    t = threading.Thread(target=work)\n    t.start()\n    assert results.get('a') == 1\n",
    );
    assert_eq!(rules_of(&dict_get), ["thread-no-join"]);
    // A helper that starts a process and returns it (rq's `start_worker_process`): its caller
    // joins it. A helper that starts one and returns something else is still reported.
    let helper = |ret: &str| {
        lint(&[(
            "tests/test_w.py",
            &format!(
                "from multiprocessing import Process\n\ndef start_worker(name):\n    p = Process(target=work, args=(name,))\n    p.start()\n    {ret}\n\ndef test_a():\n    w = start_worker('a')\n    w.join(5)\n    assert done()\n"
            ),
        )])
    };
    for ret in ["return p", "return p, name", "yield p"] {
        let handed = helper(ret);
        assert!(handed.is_empty(), "{ret}: {handed:?}");
    }
    assert_eq!(rules_of(&helper("return name")), ["thread-no-join"]);
}

#[test]
fn a_clock_read_in_a_closure_defined_under_a_condition_is_guarded_by_it() {
    // structlog's `_make_stamper`: `if utc: def now(): … now(tz=utc) … else: def now(): …
    // datetime.now()`; the local read is made only when `utc` is false. Its callers pass
    // their own `utc=True` on: a default that is neither `None` nor the callee's own, so a
    // value of their choosing.
    let files = [
        ("app/__init__.py", ""),
        (
            "app/stamp.py",
            "import datetime\n\ndef make(fmt, utc):\n    if utc:\n        def now():\n            return datetime.datetime.now(tz=datetime.timezone.utc)\n    else:\n        def now():\n            return datetime.datetime.now()\n    return lambda: now().strftime(fmt)\n\nclass Stamper:\n    def __init__(self, fmt='%Y', utc=True):\n        self.stamp = make(fmt, utc)\n",
        ),
        (
            "tests/test_stamp.py",
            "from app.stamp import Stamper\n\ndef test_utc():\n    assert Stamper().stamp()\n\ndef test_local():\n    assert Stamper(utc=False).stamp() == '2024'\n",
        ),
    ];
    assert_eq!(
        lint(&files),
        [(
            "wall-clock-compare".to_string(),
            "tests/test_stamp.py::test_local".to_string()
        )]
    );
}

#[test]
fn retry_marker() {
    let found =
        one("import pytest\n\n@pytest.mark.flaky(reruns=3)\ndef test_a():\n    assert True\n");
    assert_eq!(rules_of(&found), ["retry-marker"]);
    let clean = one("import pytest\n\n@pytest.mark.slow\ndef test_a():\n    assert True\n");
    assert!(clean.is_empty(), "{clean:?}");
}

#[test]
fn every_rule_has_a_test_above_and_a_known_category() {
    let src = include_str!("rules.rs");
    for r in RULES {
        let name = r.id.replace('-', "_");
        assert!(src.contains(&format!("fn {name}")), "no test for {}", r.id);
        assert!(
            flakehound_model::Category::parse(r.category.as_str()).is_some(),
            "{}",
            r.id
        );
    }
}

#[test]
fn suppressions_on_the_line_or_the_line_before() {
    let found = one(
        "import time, random\n\ndef test_a():\n    time.sleep(1)  # flakehound: ignore[sleep-wait]\n    # flakehound: ignore[unseeded-random]\n    random.random()\n    time.sleep(2)  # flakehound: ignore[unseeded-random]\n",
    );
    assert_eq!(
        found,
        [("sleep-wait".into(), "tests/test_it.py::test_a".into())]
    );
    let all = one("import time\n\ndef test_a():\n    time.sleep(1)  # flakehound: ignore\n");
    assert!(all.is_empty());
}

#[test]
fn config_disables_rules_and_excludes_paths() {
    let files = [
        (
            "tests/test_a.py",
            "import time\n\ndef test_a():\n    time.sleep(1)\n",
        ),
        (
            "tests/legacy/test_b.py",
            "import random\n\ndef test_b():\n    x = random.random()\n    assert f(x) == 1\n",
        ),
    ];
    let (config, problems) = Config::new(vec!["sleep-wait".into()], vec!["tests/legacy".into()]);
    assert!(problems.is_empty());
    assert!(lint_with(&files, &config).is_empty());
    assert_eq!(lint(&files).len(), 2);
}

#[test]
fn test_ids_follow_pytest() {
    let found = lint(&[(
        "pkg/tests/test_cls.py",
        "import time\n\nclass TestThing:\n    def setup_method(self):\n        time.sleep(1)\n\n    def test_one(self):\n        pass\n",
    )]);
    assert_eq!(
        found,
        [(
            "sleep-wait".into(),
            "pkg/tests/test_cls.py::TestThing::test_one".into()
        )]
    );
}

#[test]
fn unparseable_files_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test_bad.py"),
        "def test_a(:\n    import time\n    time.sleep(1)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("test_bin.py"), [0xff, 0xfe, 0, 1, 2, 0x80]).unwrap();
    let s = scan(&[dir.path().to_path_buf()], &Config::default(), None);
    assert!(
        s.errors
            .iter()
            .any(|(f, r)| f.ends_with("test_bad.py") && r.contains("syntax error"))
    );
    let missing = scan(
        &[Path::new("/nonexistent/flakehound").to_path_buf()],
        &Config::default(),
        None,
    );
    assert_eq!(missing.errors.len(), 1);
}

#[test]
fn go_test_files_get_go_test_ids() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("go.mod"),
        "module example.com/shop\n\ngo 1.22\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("cart")).unwrap();
    std::fs::write(
        dir.path().join("cart/cart_test.go"),
        "package cart\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestCheckout(t *testing.T) {\n\tgo run()\n\ttime.Sleep(2 * time.Second)\n}\n",
    )
    .unwrap();
    let mut config = Config::default();
    config.pedantic = true;
    let s = scan(&[dir.path().to_path_buf()], &config, None);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.findings.len(), 1);
    assert_eq!(s.findings[0].rule, "sleep-wait");
    assert_eq!(s.findings[0].tests, ["example.com/shop/cart::TestCheckout"]);
    assert!(s.findings[0].file.ends_with("cart/cart_test.go"));
}
