#!/usr/bin/env bash
# Dashboard benchmark (issue 16): page latency with the analysis cached, bytes per page, and first
# contentful paint in headless chromium, over a large store.
#   Store: the synthetic history of benches/report.sh (RUNS runs x TESTS tests, 10M results by
#   default), generated and ingested once into target/bench/report-RUNSxTESTS.db (shared with
#   report.sh).
#   Baseline, same run: `flakehound report --json` over the same store (what every page would
#   cost without the cache), best of 3.
#   Then `flakehound dashboard` on it: the first request (cold: builds the analysis), then
#   REQUESTS requests of each page (overview, tests table, a filtered and sorted tests table, the
#   test page of the costliest test): p50 and max latency, bytes. Goals: <= 200 ms per page,
#   <= 300 KB per page, first contentful paint <= 1 s.
#   FCP: crates/flakehound-dashboard/browser/dashboard.test.mjs --fcp (needs node, chromium and
#   `npm ci` in that directory; skipped otherwise).
# Usage: benches/dashboard.sh [--runs 2500] [--tests 4000] [--requests 20] [--trend-only]
#   --trend-only: only the last part (the trend as of each day against today's verdicts).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=2500 tests=4000 requests=20 trend_only=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --trend-only) trend_only=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release --quiet -p flakehound --bin flakehound
fh=target/release/flakehound
data=target/bench/history-${runs}x${tests}
db=target/bench/report-${runs}x${tests}.db
mkdir -p target/bench
if [[ ! -f $data/runs.tsv ]]; then
  rm -rf "$data"
  python3 benches/gen_history.py bench "$data" --runs "$runs" --tests "$tests"
fi
if [[ ! -f $db ]]; then
  /usr/bin/time -f 'ingest: %e s, peak RSS %M KB' "$fh" --db "$db" ingest --quiet "$data/runs"
fi
echo "results in store: $(sqlite3 "$db" 'select count(*) from results') ($runs runs x $tests tests)"

out=target/bench/dashboard.out
if [[ -z $trend_only ]]; then
best=""
for _ in 1 2 3; do
  /usr/bin/time -f '%e' -o target/bench/dashboard-report.time "$fh" --db "$db" report --json > /dev/null
  secs=$(cat target/bench/dashboard-report.time)
  if [[ -z $best ]] || (( $(echo "$secs < $best" | bc) )); then best=$secs; fi
done
echo "baseline: report --json (the analysis, uncached): best of 3 ${best} s"

out=target/bench/dashboard.out
"$fh" --db "$db" dashboard --listen 127.0.0.1:0 > "$out" 2> target/bench/dashboard.err &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q http "$out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$out")
# The first request waits for the analysis (started at launch).
cold=$(curl -s -o /dev/null -w '%{time_total}' "$url/")
echo "first request (cold: waits for the analysis built at start): ${cold} s"
# A large store's first analysis lists the tests that ever failed; every test follows.
started=$(date +%s.%N)
while [[ $(curl -s "$url/") == *'still being counted'* ]]; do sleep 0.5; done
echo "every test counted after another $(echo "$(date +%s.%N) - $started" | bc | cut -c1-5) s (in the background; pages are served meanwhile)"
top=$(curl -s "$url/tests" | grep -o 'data-id="[^"]*"' | head -1 | sed -e 's/data-id="//' -e 's/"$//' -e 's|&#x2f;|/|g')
enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$top")
pages=("/" "/tests" "/tests?verdict=stable&sort=id&dir=desc&page=3&q=test" "/test?id=$enc")
worst=0 biggest=0
printf '%-60s %9s %9s %9s\n' page p50_ms max_ms bytes
for p in "${pages[@]}"; do
  times=()
  for _ in $(seq "$requests"); do
    read -r t size < <(curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$url$p")
    times+=("$t")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  p50=$(echo "$sorted" | sed -n "$(( (requests + 1) / 2 ))p")
  max=$(echo "$sorted" | tail -1)
  printf '%-60s %9.1f %9.1f %9d\n' "${p:0:60}" "$(echo "$p50 * 1000" | bc)" "$(echo "$max * 1000" | bc)" "$size"
  if (( $(echo "$max > $worst" | bc) )); then worst=$max; fi
  if (( size > biggest )); then biggest=$size; fi
done
echo "slowest page (max of $requests): $(echo "$worst * 1000" | bc) ms (goal <= 200 ms); against the uncached analysis: $(echo "scale=4; $worst / $best" | bc)x"
echo "largest page: $biggest bytes (goal <= 300 KB)"
echo "server RSS: $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB, peak $(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 )) MiB"

browser=crates/flakehound-dashboard/browser
if command -v node >/dev/null 2>&1 && [[ -d $browser/node_modules/playwright-core ]] \
  && [[ -x ${FLAKEHOUND_CHROMIUM:-/usr/bin/chromium} ]]; then
  echo "first contentful paint in headless chromium (a fresh context per page; goal <= 1000 ms):"
  urls=()
  for p in "${pages[@]}"; do urls+=("$url$p"); done
  (cd "$browser" && CHROMIUM=${FLAKEHOUND_CHROMIUM:-/usr/bin/chromium} node dashboard.test.mjs --fcp "${urls[@]}")
else
  echo "first contentful paint: skipped (needs node, chromium and npm ci in $browser)"
fi
fi

# The trend as of each day (the verdict engine over the evidence up to each of the last 90 days):
# the same store served with FLAKEHOUND_TREND_DAYS=0 (every day by today's verdicts: the
# dashboard before) and with the default, in this run. Per mode: the analysis build time shown
# in the footer (first complete analysis, then after one more run is ingested: only its day is
# analysed again) and the overview's latency with the analysis cached.
if [[ -z $trend_only ]]; then
  kill $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
fi
last=$data/runs/$(( runs - 1 ))/attempt-1.xml
trend_mode() {
  local days=$1 hour=$2
  FLAKEHOUND_TREND_DAYS=$days "$fh" --db "$db" dashboard --listen 127.0.0.1:0 > "$out" 2>> target/bench/dashboard.err &
  tpid=$!
  for _ in $(seq 100); do grep -q http "$out" 2>/dev/null && break; sleep 0.1; done
  local u
  u=$(grep -o 'http://[0-9.:]*' "$out")
  local cold
  cold=$(curl -s -o /dev/null -w '%{time_total}' "$u/")
  while [[ $(curl -s "$u/") == *'still being counted'* ]]; do sleep 0.5; done
  local built
  built=$(curl -s "$u/" | grep -o 'Analysis built in [0-9]* ms' | grep -o '[0-9]*')
  local times=()
  for _ in $(seq "$requests"); do times+=("$(curl -s -o /dev/null -w '%{time_total}' "$u/?days=90")"); done
  local sorted p50 max
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  p50=$(echo "$sorted" | sed -n "$(( (requests + 1) / 2 ))p")
  max=$(echo "$sorted" | tail -1)
  # One more run on the newest day.
  # (a new comment each time: reports are identified by content, and a second bench run must
  # add a run too)
  local nonce
  nonce=$(date +%s%N)
  { sed "s/timestamp=\"[^\"]*\"/timestamp=\"2026-04-15T${hour}:30:00\"/" "$last"; echo "<!-- $nonce -->"; } \
    > "target/bench/extra-$days.xml"
  "$fh" --db "$db" ingest --quiet --provider bench --branch main --job bench --run-id "9999$hour$nonce" \
    --commit "$(printf '%040d' "$hour")" --timestamp "2026-04-15T${hour}:30:00Z" "target/bench/extra-$days.xml"
  local started rebuilt=""
  started=$(date +%s.%N)
  local polls=0
  while :; do
    local html
    html=$(curl -s "$u/")
    rebuilt=$(echo "$html" | grep -o 'Analysis built in [0-9]* ms' | grep -o '[0-9]*')
    if [[ $html != *'being rebuilt'* && $rebuilt != "$built" ]]; then break; fi
    polls=$((polls + 1))
    if (( polls > 1500 )); then rebuilt="unsettled:$rebuilt"; break; fi
    sleep 0.2
  done
  printf '%-16s %14.1f %12s %14s %12.1f %12.1f\n' "trend days $days" "$cold" "$built" "$rebuilt" \
    "$(echo "$p50 * 1000" | bc)" "$(echo "$max * 1000" | bc)"
  kill $tpid 2>/dev/null || true
  wait $tpid 2>/dev/null || true
}
echo "trend as of each day against today's verdicts (same store, same run):"
printf '%-16s %14s %12s %14s %12s %12s\n' mode first_page_s complete_ms after_run_ms overview_p50 overview_max
trend_mode 0 04
trend_mode 90 05
