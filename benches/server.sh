#!/usr/bin/env bash
# Server benchmark (issue 15), in one run on one PostgreSQL:
#   (a) N concurrent uploads (default 200, all at once) of a 400-test JUnit report each, through
#       `flakehound serve`: latency p50/p95/p99 (goal p99 <= 250 ms), and the database checked
#       afterwards for 0 lost and 0 duplicated reports and results;
#   (b) baseline: local `flakehound ingest` of the same files into the same PostgreSQL (a fresh
#       schema): results per second; the upload throughput must be >= 50% of it.
# Needs FLAKEHOUND_BENCH_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test) and psql.
# Rounds: --repeat (default 3) rounds of (a), each into a project of its own; the best round's
# throughput is compared with the best of as many local ingests.
# Usage: benches/server.sh [--uploads 200] [--concurrency 200] [--tests 400] [--workers 8] [--repeat 3]
#        [--bin PATH]   (another flakehound binary, e.g. a baseline build, instead of target/release's)
set -euo pipefail
cd "$(dirname "$0")/.."
uploads=200 concurrency=200 tests=400 workers=8 repeat=3 bin=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --uploads) uploads=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
pg=${FLAKEHOUND_BENCH_POSTGRES:?set FLAKEHOUND_BENCH_POSTGRES to a PostgreSQL URL}
cargo build --release --quiet -p flakehound --bin flakehound
cargo build --release --quiet -p flakehound-server --example loadgen
fh=${bin:-target/release/flakehound}
echo "binary: $fh"
gen=target/release/examples/loadgen
work=target/bench/server
rm -rf "$work" && mkdir -p "$work"
sep='?'; [[ $pg == *\?* ]] && sep='&'
srv_schema=flakehound_bench_server base_schema=flakehound_bench_ingest
drop() { psql -q "$pg" -c "DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null 2>&1; }
drop $srv_schema; drop $base_schema
srv_db="${pg}${sep}options=-csearch_path%3D${srv_schema}"
base_db="${pg}${sep}options=-csearch_path%3D${base_schema}"

tokens=()
for r in $(seq "$repeat"); do
  tokens+=("$("$fh" server --database "$srv_db" token create --project "bench$r" --scope upload 2>/dev/null)")
done
FLAKEHOUND_LOG=warn "$fh" serve --listen 127.0.0.1:0 --database "$srv_db" --workers "$workers" \
  --rate-limit 0 > "$work/serve.out" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; drop $srv_schema; drop $base_schema' EXIT
for _ in $(seq 100); do grep -q http "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")

echo "== (a) $uploads uploads, $concurrency at a time, $tests tests each, server workers $workers; $repeat rounds, each into a project of its own"
best_rate=0 best_line=""
for r in $(seq "$repeat"); do
  line=$("$gen" --url "$url" --token "${tokens[$((r - 1))]}" --uploads "$uploads" --concurrency "$concurrency" --tests "$tests")
  echo "round $r: $line"
  rate=$(echo "$line" | grep -o 'results/s [0-9]*' | cut -d' ' -f2)
  if (( rate > best_rate )); then best_rate=$rate best_line=$line; fi
done
read -r reports results dups < <(psql -qAt -F' ' "$pg" -c "SELECT (SELECT count(*) FROM $srv_schema.reports),
  (SELECT count(*) FROM $srv_schema.results),
  (SELECT count(*) FROM (SELECT run_id, test_id, attempt FROM $srv_schema.results
                         GROUP BY 1, 2, 3 HAVING count(*) > 1) d)")
echo "stored: $reports reports (want $((uploads * repeat))), $results results (want $((uploads * tests * repeat))), $dups duplicated results"
echo "best round: $best_line"
upload_rate=$best_rate

echo "== (b) baseline: local ingest of the same files into the same PostgreSQL"
"$gen" --write "$work/files" --uploads "$uploads" --tests "$tests"
best_t=""
for r in $(seq "$repeat"); do
  s=$(date +%s.%N)
  "$fh" --db "$base_db" --project "bench$r" ingest --quiet --run-per file "$work/files"
  e=$(date +%s.%N)
  t=$(echo "$e - $s" | bc)
  if [[ -z $best_t ]] || (( $(echo "$t < $best_t" | bc) )); then best_t=$t; fi
done
ingest_rate=$(echo "$uploads * $tests / $best_t" | bc)
printf 'ingest (best of %s): %.3f s, %s results/s\n' "$repeat" "$best_t" "$ingest_rate"
printf 'upload throughput / ingest throughput = %.2f (goal >= 0.5)   load average: %s\n' \
  "$(echo "$upload_rate / $ingest_rate" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== (c) GET /api/v1/report over 10M results (the store benches/report.sh --db fills)"
big_schema=flakehound_report_2500x4000
if [[ $(psql -qAt "$pg" -c "SELECT count(*) FROM $big_schema.results" 2>/dev/null || echo 0) == 0 ]]; then
  echo "skipped: run benches/report.sh --db $pg first"
  exit 0
fi
big_db="${pg}${sep}options=-csearch_path%3D${big_schema}"
project=$(psql -qAt "$pg" -c "SELECT project FROM $big_schema.runs LIMIT 1")
read_token=$("$fh" server --database "$big_db" token create --project "$project" --scope read 2>/dev/null)
FLAKEHOUND_LOG=warn "$fh" serve --listen 127.0.0.1:0 --database "$big_db" > "$work/serve-big.out" &
big_pid=$!
trap 'kill $server_pid $big_pid 2>/dev/null || true; drop $srv_schema; drop $base_schema' EXIT
for _ in $(seq 100); do grep -q http "$work/serve-big.out" 2>/dev/null && break; sleep 0.1; done
big_url=$(grep -o 'http://[0-9.:]*' "$work/serve-big.out")
for what in cold cached cached; do
  curl -s -o /dev/null -w "$what: %{http_code} %{time_total} s\n" \
    -H "Authorization: Bearer $read_token" "$big_url/api/v1/report"
done
echo "server peak RSS: $(grep VmHWM /proc/$big_pid/status | awk '{print int($2 / 1024)}') MiB (goal <= 300)"
