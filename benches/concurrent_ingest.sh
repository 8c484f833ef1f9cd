#!/usr/bin/env bash
# Concurrent ingest benchmark (issue 12: "a small ingest next to a long streaming one fails with
# 'database is locked' after 30 s"). For the baseline binary and this checkout's, in the same
# run on the same files:
#   - a large generated JUnit report (--big-mb) is ingested into a fresh store;
#   - while it runs, small ingests (one 2-test report each, distinct content) start one after
#     another into the same store; each one's wall time and exit status are recorded;
#   - reported: the small ingests' worst and median latency and failures, the large ingest's
#     total time and peak RSS, and the ratios new/baseline.
#
# With --warm, the store first gets another run of the same suite (same tests, other content),
# untimed: the usual CI case, where a large report's tests are already known.
#
# Usage: benches/concurrent_ingest.sh --baseline /tmp/fh-old [--big-mb 300] [--gap 0.5] [--warm]
#   --baseline  a flakehound binary built from the merge-base (required: building one here would
#               take minutes; e.g. `git worktree add /tmp/base $(git merge-base HEAD main)` and
#               `cargo build --release` there).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/benches/lib.sh"
baseline="" big_mb=300 gap=0.5 warm=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --baseline) baseline=$2; shift 2 ;;
    --big-mb) big_mb=$2; shift 2 ;;
    --gap) gap=$2; shift 2 ;;
    --warm) warm=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $baseline ]] || { echo "--baseline BIN is required (an executable flakehound)" >&2; exit 2; }
release_flakehound
scratch_dir

big="$work/big.xml"
python3 - "$big" "$big_mb" <<'EOF'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
limit = mb * 1024 * 1024
with open(path, "w") as f:
    f.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n<testsuite name="pytest">\n')
    i, size = 0, 0
    while size < limit:
        body = '<failure message="AssertionError: boom" type="AssertionError">trace</failure>' if i % 50 == 0 else ''
        out = '<system-out>' + ('log line %d with some captured output\n' % i) * 3 + '</system-out>'
        rec = (f'<testcase classname="tests.test_big.TestBig{i % 100}" name="test_case_{i}" '
               f'file="tests/test_big.py" line="{i % 500}" time="0.{i % 1000:03d}">{body}{out}</testcase>\n')
        f.write(rec)
        size += len(rec)
        i += 1
    f.write('</testsuite>\n</testsuites>\n')
EOF
echo "large report: $(( $(stat -c %s "$big") / 1024 / 1024 )) MiB, $(grep -c '<testcase' "$big") test cases"
if [[ $warm == 1 ]]; then
  sed 's/log line/earlier run log line/' "$big" > "$work/warm.xml"
  echo "warm: the store first holds another run of the same $(grep -c '<testcase' "$big") tests"
fi

now() { date +%s.%N; }

# run_one NAME BIN: prints "NAME big_s big_rss_mib small_n small_failed small_max_s small_median_s"
run_one() {
  local name=$1 bin=$2 db="$work/$1.db" n=0
  rm -f "$db" "$db"-*
  if [[ $warm == 1 ]]; then
    "$bin" --db "$db" ingest --quiet "$work/warm.xml" --run-id warm >/dev/null
  fi
  local lat="$work/$name.lat"
  : > "$lat"
  local s e
  s=$(now)
  /usr/bin/time -f '%M' -o "$work/$name.rss" "$bin" --db "$db" ingest --quiet "$big" --run-id big \
    >/dev/null 2>"$work/$name.big.err" &
  local pid=$!
  # Small ingests for as long as the large one runs.
  while kill -0 "$pid" 2>/dev/null; do
    sleep "$gap"
    kill -0 "$pid" 2>/dev/null || break
    n=$((n + 1))
    printf '<testsuite name="s%d"><testcase classname="small%d" name="a"/><testcase classname="small%d" name="b"/></testsuite>' \
      "$n" "$n" "$n" > "$work/small-$n.xml"
    local ss se st=0
    ss=$(now)
    "$bin" --db "$db" ingest --quiet "$work/small-$n.xml" --run-id "small-$n" >/dev/null 2>>"$work/$name.small.err" || st=$?
    se=$(now)
    echo "$(echo "$se - $ss" | bc) $st" >> "$lat"
  done
  local big_status=0
  wait "$pid" || big_status=$?
  e=$(now)
  local big_s rss
  big_s=$(echo "$e - $s" | bc)
  rss=$(( $(cat "$work/$name.rss") / 1024 ))
  if [[ $big_status -ne 0 ]]; then
    echo "$name: the large ingest failed ($big_status): $(head -3 "$work/$name.big.err")" >&2
  fi
  local failed max median
  failed=$(awk '$2 != 0' "$lat" | wc -l)
  max=$(sort -n "$lat" | tail -1 | cut -d' ' -f1)
  median=$(sort -n "$lat" | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}')
  echo "$name ${big_s} ${rss} $(wc -l < "$lat") ${failed} ${max:-0} ${median}"
  if [[ $failed -gt 0 ]]; then
    echo "$name: first small-ingest error: $(grep -v '^$' "$work/$name.small.err" | head -3 | tr '\n' ' ')" >&2
  fi
}

read -r _ b_big b_rss b_n b_fail b_max b_med < <(run_one baseline "$baseline")
read -r _ n_big n_rss n_n n_fail n_max n_med < <(run_one new "$fh")

printf '%-9s %12s %9s %8s %8s %14s %15s\n' binary "large (s)" "RSS MiB" smalls failed "small max (s)" "small median (s)"
printf '%-9s %12.2f %9d %8d %8d %14.2f %15.2f\n' baseline "$b_big" "$b_rss" "$b_n" "$b_fail" "$b_max" "$b_med"
printf '%-9s %12.2f %9d %8d %8d %14.2f %15.2f\n' new "$n_big" "$n_rss" "$n_n" "$n_fail" "$n_max" "$n_med"
echo "large ingest time new/baseline = $(echo "scale=2; $n_big / $b_big" | bc)"
echo "worst small-ingest latency new/baseline = $(echo "scale=3; $n_max / $b_max" | bc)"
