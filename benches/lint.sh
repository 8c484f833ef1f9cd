#!/usr/bin/env bash
# Static-scan benchmark (issue 20): `flakehound lint` over N generated test files (default
# 10 000, about 60 lines and 6 tests each, importing a small `app` package the scan follows).
# Baseline in the same run: Python's own parser (`ast.parse`) over the same files, one process.
# Prints both times (best of REPEAT) and their ratio. Goal: <= 5 s for 10 000 files.
#
# Usage: benches/lint.sh [--files 10000] [--repeat 3] [--baseline FH]
#   --baseline FH  also time another flakehound binary (an older build) on the same files
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
files=10000 repeat=3 baseline=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --files) files=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
release_flakehound
scratch_dir
python3 "$root/benches/lint_gen.py" "$work/proj" "$files"
bytes=$(cat "$work"/proj/tests/*/*.py | wc -c)
echo "generated $files test files ($((bytes / 1024)) KiB) in $work/proj; $(nproc) cores"

best() { sort -n | head -1; }
lint_times=() ast_times=() old_times=()
for _ in $(seq "$repeat"); do
  if [[ -n $baseline ]]; then
    t0=$(date +%s.%N)
    (cd "$work/proj" && "$baseline" lint --format json . > /dev/null) || [[ $? -eq 1 ]]
    t1=$(date +%s.%N)
    old_times+=("$(echo "$t1 - $t0" | bc)")
  fi
  t0=$(date +%s.%N)
  (cd "$work/proj" && "$fh" lint --format json . > "$work/out.json") || [[ $? -eq 1 ]]
  t1=$(date +%s.%N)
  lint_times+=("$(echo "$t1 - $t0" | bc)")
  ast_times+=("$(python3 - "$work/proj" <<'PY'
import ast, pathlib, sys, time
files = sorted(pathlib.Path(sys.argv[1]).rglob("test_*.py"))
t0 = time.perf_counter()
for f in files:
    ast.parse(f.read_bytes())
print(f"{time.perf_counter() - t0:.3f}")
PY
)")
done
lint=$(printf '%s\n' "${lint_times[@]}" | best)
if [[ -n $baseline ]]; then
  old=$(printf '%s\n' "${old_times[@]}" | best)
  echo "baseline $baseline: $old s (best of $repeat)"
fi
base=$(printf '%s\n' "${ast_times[@]}" | best)
python3 - "$work/out.json" "$lint" "$base" "$files" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
lint, base, n = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
flagged = {t for f in out["findings"] for t in f["tests"]}
print(f"flakehound lint: {lint:.2f} s for {out['files']} test files, {out['tests']} tests, "
      f"{len(out['findings'])} findings in {len(flagged)} tests (goal <= 5 s)")
print(f"python ast.parse (parse only, 1 process): {base:.2f} s")
print(f"ratio lint / ast.parse: {lint / base:.2f}")
PY
