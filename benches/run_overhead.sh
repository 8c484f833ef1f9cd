#!/usr/bin/env bash
# Benchmark of `flakehound run` (issue 4), as ratios against baselines measured in the same run:
#
#   (a) raw pytest on a generated suite of N tests, all passing, writing its JUnit report
#   (b) `flakehound run -- pytest` on the same suite: wrapper overhead = b/a
#   (c) the suite with F flaky tests (fail on their first call), run as teams do without
#       flakehound: the whole suite, then the whole suite again (a CI re-run)
#   (d) `flakehound run -- pytest` on that suite: one full run plus a retry of the F failures;
#       saving = d/c
#
# Usage: benches/run_overhead.sh [N] [F]   (defaults 2000 tests, 10 flaky). Best of 3 each.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
n="${1:-2000}"
f="${2:-10}"
py="$("$root/scripts/test-venv.sh")"
release_flakehound
scratch_dir
mkdir -p "$work/tests"
python3 - "$work/tests" "$n" "$f" <<'PY'
import sys, os
d, n, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = 100
for m in range((n + per - 1) // per):
    with open(os.path.join(d, f"test_m{m:03}.py"), "w") as out:
        out.write("import os\n\n")
        for i in range(m * per, min(n, (m + 1) * per)):
            if i < f:
                out.write(
                    f"def test_{i}():\n"
                    f"    p = os.path.join(os.environ['BENCH_DIR'], 'c{i}')\n"
                    f"    first = os.environ.get('BENCH_FLAKY') and not os.path.exists(p)\n"
                    f"    open(p, 'w').close()\n"
                    f"    assert not first\n\n")
            else:
                out.write(f"def test_{i}():\n    assert {i} + 1 > {i}\n\n")
PY
cd "$work"
export BENCH_DIR="$work"
best() { # best wall and CPU (user+sys, children included) seconds of 5 runs of "$@"
  python3 - "$work" "$@" <<'PY'
import glob, os, resource, subprocess, sys, time
work, cmd = sys.argv[1], sys.argv[2:]
walls, cpus = [], []
for _ in range(5):
    for p in glob.glob(os.path.join(work, "c*")) + glob.glob(os.path.join(work, "fh.db*")):
        os.remove(p)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls.append(time.perf_counter() - t0)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
print(f"{min(walls):.3f} {min(cpus):.3f}")
PY
}
pytest=("$py" -m pytest -q -p no:cacheprovider tests)
a=$(best "${pytest[@]}" --junitxml=raw.xml)
b=$(best "$fh" --db "$work/fh.db" run -- "${pytest[@]}")
export BENCH_FLAKY=1
c=$(best sh -c '"$0" "$@" --junitxml=r1.xml; "$0" "$@" --junitxml=r2.xml' "${pytest[@]}")
d=$(best "$fh" --db "$work/fh.db" run -- "${pytest[@]}")
python3 - "$n" "$f" $a $b $c $d <<'PY'
import sys
n, f = sys.argv[1], sys.argv[2]
aw, ac, bw, bc, cw, cc, dw, dc = map(float, sys.argv[3:])
print(f"suite: {n} tests, {f} flaky (best of 5; wall s / CPU s incl. children)")
print(f"(a) pytest, all green                  {aw:6.2f} / {ac:6.2f}")
print(f"(b) flakehound run, all green          {bw:6.2f} / {bc:6.2f}   b/a = {bw/aw:.2f} wall, {bc/ac:.2f} CPU")
print(f"(c) pytest twice (whole-job re-run)    {cw:6.2f} / {cc:6.2f}")
print(f"(d) flakehound run, retries failures   {dw:6.2f} / {dc:6.2f}   d/c = {dw/cw:.2f} wall, {dc/cc:.2f} CPU")
PY
