#!/usr/bin/env bash
# Benchmark of the polluter search (flakehound-detective's `polluter::find`, driven by its
# example binary) against detect-test-pollution (PyPI) on the same cases: the fixture projects
# of crates/flakehound-detective/tests/fixtures plus a generated 600-test suite.
#
# For each case both tools get the same victim and the same candidates (the tests collected
# before the victim, in collection order) and run in a fresh copy of the project. Reported:
# pytest invocations (counted by a tiny pytest plugin loaded through PYTEST_ADDOPTS in every
# pytest process either tool starts), wall time (best of 3), and whether the answer is right.
# flakehound runs with its defaults minus the cleaner search (detect-test-pollution has none).
#
# The example binary is built once (`cargo build --release --example polluter`) and run
# directly, the equivalent of `cargo run --release -p flakehound-detective --example polluter`
# without cargo's start-up in the timings.
#
# Usage: benches/polluter_vs_dtp.sh [REPEATS]   (default 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
repeats="${1:-3}"
venv="$root/target/bench-venv"
stamp="$venv/.flakehound-requirements"
requirements="pytest==8.3.5 detect-test-pollution==1.2.0"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
    python3 -m venv "$venv" >&2
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements >&2
    echo "$requirements" >"$stamp"
fi
cargo build --release -q -p flakehound-detective --example polluter --manifest-path "$root/Cargo.toml"
fh="$root/target/release/examples/polluter"
scratch_dir

"$venv/bin/python" - "$root" "$venv" "$fh" "$work" "$repeats" <<'PY'
import json, os, shutil, subprocess, sys, time

root, venv, fh, work, repeats = sys.argv[1:6]
repeats = int(repeats)
py = os.path.join(venv, "bin", "python")
dtp = os.path.join(venv, "bin", "detect-test-pollution")
fixtures = os.path.join(root, "crates", "flakehound-detective", "tests", "fixtures")

# The counting plugin: one line per pytest process.
plugdir = os.path.join(work, "plug")
os.makedirs(plugdir)
with open(os.path.join(plugdir, "bench_count.py"), "w") as f:
    f.write(
        "import os\n"
        "def pytest_configure(config):\n"
        "    with open(os.environ['BENCH_COUNT_FILE'], 'a') as f:\n"
        "        f.write('x\\n')\n"
    )

# A generated suite: 30 modules of 20 tests, one polluter deep inside.
big = os.path.join(work, "big-src")
os.makedirs(big)
open(os.path.join(big, "pytest.ini"), "w").write("[pytest]\n")
open(os.path.join(big, "state.py"), "w").write("DIRTY = False\n")
for m in range(30):
    with open(os.path.join(big, "test_m%02d.py" % m), "w") as f:
        f.write("import state\n\n")
        for t in range(20):
            if (m, t) == (17, 11):
                f.write("def test_%d():\n    state.DIRTY = True\n\n" % t)
            else:
                f.write("def test_%d():\n    assert %d + 1 > %d\n\n" % (t, t, t))
with open(os.path.join(big, "test_zz_victim.py"), "w") as f:
    f.write("import state\n\ndef test_victim():\n    assert not state.DIRTY\n")

# (name, source dir, victim, expected culprits, ids to leave out of the candidates[, noise
# counter start: the noisy victim fails on its runs that bring the counter to a multiple of 5])
cases = [
    ("one of 30 (2nd)", "single", "test_victims.py::test_victim_a",
     ["test_alpha.py::test_enable_a"], ["test_victims.py"]),
    ("one of 30 (18th, in a class)", "single", "test_victims.py::test_victim_b",
     ["test_delta.py::TestGamma::test_enable_b"], ["test_victims.py"]),
    ("one of 30 (30th)", "single", "test_victims.py::test_victim_c",
     ["test_omega.py::test_enable_c"], ["test_victims.py"]),
    ("own module sibling", "sibling", "test_cache.py::test_lookup_miss",
     ["test_cache.py::test_warm_cache"], []),
    ("module-scoped fixture", "scoped", "test_settings.py::test_retries_default",
     ["test_settings.py::test_bump_retries"], []),
    ("two tests of a class together", "scoped", "test_zz_mode.py::test_default_mode",
     ["test_pipeline.py::TestPipeline::test_add_stage",
      "test_pipeline.py::TestPipeline::test_build"], []),
    ("two modules together", "pair", "test_z_victim.py::test_mode_normal",
     ["test_a_flags.py::test_turn_on_feature", "test_m_apply.py::test_apply_feature"], []),
    ("polluter with cleaners", "cleaner", "test_c_victim.py::test_production_mode",
     ["test_b_debug.py::test_set_debug_mode"], []),
    ("brittle (state-setter)", "brittle", "test_d_query.py::test_query_users",
     ["test_b_db.py::test_connect"], []),
    ("victim flaky too (fails on its 5th, 10th... run)", "noisy",
     "test_victim.py::test_flaky_victim", ["test_b.py::test_pollute"], []),
    ("victim flaky too (fails on its 3rd, 8th... run)", "noisy",
     "test_victim.py::test_flaky_victim", ["test_b.py::test_pollute"], [], 2),
    ("one of 600 (generated)", big, "test_zz_victim.py::test_victim",
     ["test_m17.py::test_11"], []),
]


def fresh_copy(src, dest, counter=()):
    if os.path.exists(dest):
        shutil.rmtree(dest)
    src = src if os.path.isabs(src) else os.path.join(fixtures, src)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", ".noise-counter"))
    for c in counter:
        open(os.path.join(dest, ".noise-counter"), "w").write(str(c))


def collect(dirname):
    out = subprocess.run([py, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=dirname, capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if "::" in l and not l.startswith(" ")]


def timed(cmd, cwd, count_file):
    env = dict(os.environ)
    env["PYTHONPATH"] = plugdir + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTEST_ADDOPTS"] = "-p bench_count"
    env["BENCH_COUNT_FILE"] = count_file
    if os.path.exists(count_file):
        os.remove(count_file)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    try:
        runs = sum(1 for _ in open(count_file))
    except FileNotFoundError:
        runs = 0
    return p, wall, runs


rows = []
for name, src, victim, expected, skip, *counter in cases:
    res = {"fh": [], "dtp": []}
    for rep in range(repeats):
        d = os.path.join(work, "case")
        fresh_copy(src, d)
        ids = collect(d)
        if victim not in ids:
            sys.exit("%s: victim %s not collected" % (name, victim))
        cands = [i for i in ids[:ids.index(victim)] if not any(s in i for s in skip)]
        cand_file = os.path.join(work, "candidates.txt")
        open(cand_file, "w").write("\n".join(cands) + "\n")
        dtp_file = os.path.join(work, "testids.txt")
        open(dtp_file, "w").write("\n".join(cands + [victim]) + "\n")

        fresh_copy(src, d, counter)
        p, wall, runs = timed([fh, "--victim", victim, "--candidates", cand_file, "--no-cleaners",
                               "--cwd", d, "--", py, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                              d, os.path.join(work, "count-fh"))
        try:
            r = json.loads(p.stdout)
            found = r["culprits"] if r["verdict"] == "found" else []
            assert r["runs"] == runs, (r["runs"], runs)
        except (ValueError, KeyError):
            found = []
            sys.stderr.write(p.stderr)
        res["fh"].append((wall, runs, found == expected, len(cands)))

        fresh_copy(src, d, counter)
        p, wall, runs = timed([dtp, "--failing-test", victim, "--testids-file", dtp_file],
                              d, os.path.join(work, "count-dtp"))
        marker = "the polluting test is: "
        got = [l.split(marker, 1)[1].strip() for l in p.stdout.splitlines() if marker in l]
        res["dtp"].append((wall, runs, got == expected, len(cands)))
    rows.append((name, res))


def cell(results):
    wall = min(r[0] for r in results)
    runs = sorted(r[1] for r in results)
    ok = all(r[2] for r in results)
    runs_s = str(runs[0]) if runs[0] == runs[-1] else "%d-%d" % (runs[0], runs[-1])
    return runs_s, "%.2f" % wall, "yes" if ok else "NO"


print("| case | candidates | flakehound runs | flakehound s | right | dtp runs | dtp s | right |")
print("|---|---:|---:|---:|:---:|---:|---:|:---:|")
for name, res in rows:
    n = res["fh"][0][3]
    print("| %s | %d | %s | %s | %s | %s | %s | %s |" % ((name, n) + cell(res["fh"]) + cell(res["dtp"])))
print()
print("runs: pytest processes started (range over the repetitions when they differ); "
      "s: best wall time of %d; right: every repetition named exactly the expected culprit(s). "
      "dtp = detect-test-pollution 1.2.0; flakehound without its cleaner search." % repeats)
PY
