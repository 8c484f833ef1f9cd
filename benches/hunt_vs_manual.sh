#!/usr/bin/env bash
# Benchmark of `flakehound hunt` (issue 5) against the hand-made way, on examples/flaky-shop, with
# the same wall-clock budget, measured in the same run:
#
#   (a) hand-made: half the budget in `pytest -p no:randomly --count=N` (pytest-repeat: every test
#       N times in one process), the other half in a loop of fresh `pytest` processes (with
#       pytest-randomly shuffling and reseeding, as people chain them);
#   (b) `flakehound hunt --budget B` (its own orders, hash seeds, repeats and follow-ups).
#
# Reported: which tests each found failing, checked against benches/flaky-shop-truth.txt (the
# project's flaky tests and its real bug): hunt must find every flaky test (a) finds, and report
# no stable test as flaky.
#
# Per-execution overhead: (c) K fresh `pytest` processes of the stable tests against (d)
# `flakehound hunt --runs K --workers 1` of the same tests; time per test execution, d/c must
# stay within 1.10.
#
# Usage: benches/hunt_vs_manual.sh [BUDGET_SECONDS] [K]   (defaults 120, 20)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
budget="${1:-120}"
k="${2:-20}"
venv="$root/target/bench-hunt-venv"
if ! "$venv/bin/python" -c "import pytest_repeat, pytest_randomly" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pytest==8.3.5 pytest-repeat==0.9.3 pytest-randomly==3.16.0
fi
py="$venv/bin/python"
release_flakehound
scratch_dir
enter_flaky_shop

half=$((budget / 2))
# One in-process repetition round takes about one suite run: measure it to size --count.
t0=$(date +%s.%N)
"$py" -m pytest -q -p no:randomly -p no:cacheprovider >/dev/null 2>&1 || true
t1=$(date +%s.%N)
count=$(python3 -c "print(max(1, int($half / max(0.05, $t1 - $t0))))")
echo "(a) pytest-repeat --count=$count, then fresh pytest processes for ${half}s"
timeout $((half + 30)) "$py" -m pytest -q -p no:randomly -p no:cacheprovider --count="$count" \
  --junitxml="$work/a-repeat.xml" >/dev/null 2>&1 || true
end=$(( $(date +%s) + half ))
i=0
while (( $(date +%s) < end )); do
  i=$((i + 1))
  "$py" -m pytest -q -p no:cacheprovider --junitxml="$work/a-loop-$i.xml" >/dev/null 2>&1 || true
done
echo "    $i fresh processes"

echo "(b) flakehound hunt --budget ${budget}s"
"$fh" --db "$work/hunt.db" hunt --budget "${budget}s" --seed 1 --json \
  -- "$py" -m pytest -q -p no:randomly -p no:cacheprovider >"$work/hunt.json" 2>/dev/null

echo "(c)/(d) per-execution overhead on the stable tests, $k runs each"
mapfile -t truth < <(grep -v '^#' "$root/benches/flaky-shop-truth.txt" | cut -f1 | sed '/^$/d')
"$py" -m pytest -q -p no:randomly -p no:cacheprovider --collect-only 2>/dev/null \
  | grep '::' | sort >"$work/all.txt"
printf '%s\n' "${truth[@]}" | sort >"$work/truth.txt"
comm -23 "$work/all.txt" "$work/truth.txt" >"$work/stable.txt"
mapfile -t stable <"$work/stable.txt"
t0=$(date +%s.%N)
for _ in $(seq "$k"); do
  "$py" -m pytest -q -p no:randomly -p no:cacheprovider "${stable[@]}" >/dev/null 2>&1 || true
done
t1=$(date +%s.%N)
"$fh" --db "$work/overhead.db" hunt --runs "$k" --workers 1 --seed 2 --json \
  -- "$py" -m pytest -q -p no:randomly -p no:cacheprovider "${stable[@]}" >"$work/overhead.json" 2>/dev/null
t2=$(date +%s.%N)

python3 - "$work" "$root/benches/flaky-shop-truth.txt" "$t0" "$t1" "$t2" "$k" <<'PY'
import glob, json, re, sys, xml.etree.ElementTree as ET
work, truth_file, t0, t1, t2, k = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6]), int(sys.argv[6])
truth = {}
for line in open(truth_file):
    if line.strip() and not line.startswith("#"):
        tid, kind = line.rstrip("\n").split("\t")[:2]
        truth[tid] = kind

def node_id(tc):
    cls, name = tc.get("classname", ""), tc.get("name", "")
    name = re.sub(r"\[(.*?-)?\d+-\d+\]$", lambda m: "[" + m.group(1)[:-1] + "]" if m.group(1) else "", name)
    parts = cls.split(".")
    # module path, then classes (capitalised)
    i = next((j for j, p in enumerate(parts) if p[:1].isupper()), len(parts))
    return "/".join(parts[:i]) + ".py" + "".join("::" + c for c in parts[i:]) + "::" + name

manual = set()
for f in glob.glob(work + "/a-*.xml"):
    for tc in ET.parse(f).iter("testcase"):
        if tc.find("failure") is not None or tc.find("error") is not None:
            manual.add(node_id(tc))
hunt = json.load(open(work + "/hunt.json"))
found = {f["id"]: f["class"] for f in hunt["findings"] if f["class"] != "stable"}
flaky_truth = {t for t, kind in truth.items() if kind != "real bug"}
print()
print(f"{'test':62} {'kind':28} {'(a) manual':11} {'(b) hunt'}")
for t in sorted(set(truth) | manual | set(found)):
    print(f"{t:62} {truth.get(t, 'STABLE'):28} {'found' if t in manual else '-':11} {found.get(t, '-')}")
missed = (manual & flaky_truth) - set(found)
false_pos = {t for t in found if t not in truth}
print()
print(f"(a) found {len(manual & flaky_truth)} of {len(flaky_truth)} flaky tests; (b) found {len(set(found) & flaky_truth)}; "
      f"hunt missed {len(missed)} that (a) found; stable tests reported by hunt: {len(false_pos)}")
print(f"(b) {hunt['executions']} executions, {hunt['rounds']} rounds, {hunt['seconds']:.0f}s on {hunt['workers']} workers")
ov = json.load(open(work + "/overhead.json"))
raw_execs = sum(1 for _ in open(work + "/stable.txt")) * k
hunt_execs = sum(f["runs"] for f in ov["findings"])
raw = (t1 - t0) / raw_execs
fh = (t2 - t1) / hunt_execs
print(f"per test execution: raw pytest {raw*1000:.2f} ms, hunt {fh*1000:.2f} ms, ratio d/c = {fh/raw:.2f} "
      f"({raw_execs} vs {hunt_execs} test executions)")
PY
