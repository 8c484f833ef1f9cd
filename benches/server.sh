#!/usr/bin/env bash
# Server benchmark (issue 15), in one run on one PostgreSQL:
#   (a) N concurrent uploads (default 200, all at once) of a 400-test JUnit report each, through
#       `flakehound serve`: latency p50/p95/p99 (goal p99 <= 250 ms), and the database checked
#       afterwards for 0 lost and 0 duplicated reports and results;
#   (b) baseline: local `flakehound ingest` of the same files into the same PostgreSQL (a fresh
#       schema): results per second; the upload throughput must be >= 50% of it.
# Needs FLAKEHOUND_BENCH_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test) and psql.
# Usage: benches/server.sh [--uploads 200] [--concurrency 200] [--tests 400] [--workers 8]
set -euo pipefail
cd "$(dirname "$0")/.."
uploads=200 concurrency=200 tests=400 workers=8
while [[ $# -gt 0 ]]; do
  case $1 in
    --uploads) uploads=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
pg=${FLAKEHOUND_BENCH_POSTGRES:?set FLAKEHOUND_BENCH_POSTGRES to a PostgreSQL URL}
cargo build --release --quiet -p flakehound --bin flakehound
cargo build --release --quiet -p flakehound-server --example loadgen
fh=target/release/flakehound
gen=target/release/examples/loadgen
work=target/bench/server
rm -rf "$work" && mkdir -p "$work"
sep='?'; [[ $pg == *\?* ]] && sep='&'
srv_schema=flakehound_bench_server base_schema=flakehound_bench_ingest
drop() { psql -q "$pg" -c "DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null 2>&1; }
drop $srv_schema; drop $base_schema
srv_db="${pg}${sep}options=-csearch_path%3D${srv_schema}"
base_db="${pg}${sep}options=-csearch_path%3D${base_schema}"

token=$("$fh" server --database "$srv_db" token create --project bench --scope upload 2>/dev/null)
FLAKEHOUND_LOG=warn "$fh" serve --listen 127.0.0.1:0 --database "$srv_db" --workers "$workers" \
  --rate-limit 0 > "$work/serve.out" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; drop $srv_schema; drop $base_schema' EXIT
for _ in $(seq 100); do grep -q http "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")

echo "== (a) $uploads uploads, $concurrency at a time, $tests tests each, server workers $workers"
line=$("$gen" --url "$url" --token "$token" --uploads "$uploads" --concurrency "$concurrency" --tests "$tests")
echo "$line"
read -r reports results dups < <(psql -qAt -F' ' "$pg" -c "SELECT (SELECT count(*) FROM $srv_schema.reports),
  (SELECT count(*) FROM $srv_schema.results),
  (SELECT count(*) FROM (SELECT run_id, test_id, attempt FROM $srv_schema.results
                         GROUP BY 1, 2, 3 HAVING count(*) > 1) d)")
echo "stored: $reports reports (want $uploads), $results results (want $((uploads * tests))), $dups duplicated results"
upload_rate=$(echo "$line" | grep -o 'results/s [0-9]*' | cut -d' ' -f2)

echo "== (b) baseline: local ingest of the same files into the same PostgreSQL"
"$gen" --write "$work/files" --uploads "$uploads" --tests "$tests"
s=$(date +%s.%N)
"$fh" --db "$base_db" --project bench ingest --quiet --run-per file "$work/files"
e=$(date +%s.%N)
ingest_rate=$(echo "$uploads * $tests / ($e - $s)" | bc)
printf 'ingest: %.3f s, %s results/s\n' "$(echo "$e - $s" | bc)" "$ingest_rate"
printf 'upload throughput / ingest throughput = %.2f (goal >= 0.5)   load average: %s\n' \
  "$(echo "$upload_rate / $ingest_rate" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
