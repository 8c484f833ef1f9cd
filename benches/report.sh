#!/usr/bin/env bash
# Report benchmark (issue 3): `flakehound report` over a store of ~10M results.
# Builds (once) a synthetic history of RUNS runs x TESTS tests with benches/gen_history.py,
# ingests it into a fresh store, then times `report --json` (best of REPEAT) and reports peak RSS.
# Goal: <= 2 s for 10M results (SQLite).
# With --db URL (a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/test), the store
# is the schema flakehound_report_RUNSxTESTS of that database instead (needs psql): filled once
# (that takes a while: kept for later runs), then `report --json` is timed the same way.
# Goal on PostgreSQL: <= 3 s for 10M results.
#
# Usage: benches/report.sh [--runs 2500] [--tests 4000] [--repeat 3] [--db URL]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=2500 tests=4000 repeat=3 url=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --db) url=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release --quiet --bin flakehound
fh=target/release/flakehound
data=target/bench/history-${runs}x${tests}
db=target/bench/report-${runs}x${tests}.db
if [[ ! -f $data/runs.tsv ]]; then
  rm -rf "$data"
  python3 benches/gen_history.py bench "$data" --runs "$runs" --tests "$tests"
fi
if [[ -n $url ]]; then
  schema=flakehound_report_${runs}x${tests}
  sep='?'; [[ $url == *\?* ]] && sep='&'
  db="${url}${sep}options=-csearch_path%3D${schema}"
  count() { psql -qAt "$url" -c "SELECT count(*) FROM $schema.results" 2>/dev/null || echo 0; }
  if [[ $(count) == 0 ]]; then
    psql -q "$url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
    /usr/bin/time -f 'ingest: %e s, peak RSS %M KB' "$fh" --db "$db" ingest --quiet "$data/runs"
    psql -q "$url" -c "VACUUM ANALYZE $schema.results" >/dev/null
  fi
  echo "results in store: $(count)"
else
  if [[ ! -f $db ]]; then
    /usr/bin/time -f 'ingest: %e s, peak RSS %M KB' "$fh" --db "$db" ingest --quiet "$data/runs"
  fi
  echo "results in store: $(sqlite3 "$db" 'select count(*) from results')"
fi
best=""
for _ in $(seq "$repeat"); do
  /usr/bin/time -f '%e %M' -o target/bench/report.time "$fh" --db "$db" report --json > /dev/null
  read -r secs rss < target/bench/report.time
  if [[ -z $best ]] || (( $(echo "$secs < $best" | bc) )); then best=$secs; best_rss=$rss; fi
done
goal=2; [[ -n $url ]] && goal=3
echo "report --json: best ${best} s, peak RSS $((best_rss / 1024)) MiB (goal <= ${goal} s)"
