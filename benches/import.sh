#!/usr/bin/env bash
# `flakehound import github` benchmark (issue 19): N workflow runs with artifacts served by the
# local fixture server (crates/flakehound-import/examples/fixture_server.rs, shaped as GitHub's
# REST API: pages of 100 runs through `Link`, run attempts, attempt jobs, run artifacts, 302 to
# the zip), imported into a fresh SQLite store. For each size it prints:
#   - wall time and peak RSS of the import (goal: 10,000 runs <= 5 minutes; memory bounded:
#     the RSS at 10,000 runs about the RSS at 1,000);
#   - the same-run baseline: `flakehound ingest` of the same report files from disk (what the
#     import costs beyond the ingest itself: listing, downloading, unzipping, job evidence);
#   - the wall time of importing again (nothing new: only the run list is read).
# N runs are N `CI` runs (a quarter of them re-run: 2 attempts) plus N/5 `Lint` runs (2
# attempts, no artifacts), so 1.65 N run attempts and 1.25 N report artifacts.
#
# Usage: benches/import.sh [SIZES...]   (default: 1000 10000)   JOBS=8 sets -j.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
sizes=("${@:-1000 10000}")
read -r -a sizes <<<"${sizes[*]}"
jobs="${JOBS:-8}"

release_flakehound
cargo build --release -q -p flakehound-import --features fixture --example fixture_server \
  --manifest-path "$root/Cargo.toml"
server="$root/target/release/examples/fixture_server"
scratch_dir

# Peak RSS (MB) and wall seconds of a command, in $rss and $wall.
measure() {
  /usr/bin/time -o "$work/time" -f '%M %e' "$@" >"$work/out" 2>"$work/err" || {
    cat "$work/err" >&2
    exit 1
  }
  read -r kb wall < <(tail -1 "$work/time")
  rss=$((kb / 1024))
}

printf '%8s %9s %9s %8s %10s %9s %8s %9s\n' runs attempts import_s rss_MB ingest_s ratio rss_ing again_s
for n in "${sizes[@]}"; do
  rm -f "$work/url"
  "$server" "$n" >"$work/url" 2>/dev/null &
  pid=$!
  trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do [[ -s $work/url ]] && break; sleep 0.1; done
  url="$(cat "$work/url")"
  measure env GITHUB_TOKEN=bench "$fh" --db "$work/import-$n.db" --project bench \
    import github --repo acme/shop --api-url "$url" --since 30d -j "$jobs"
  import_s=$wall import_rss=$rss
  attempts=$(sed -n 's/^Imported \([0-9]*\) run attempts.*/\1/p' "$work/out")
  measure env GITHUB_TOKEN=bench "$fh" --db "$work/import-$n.db" --project bench \
    import github --repo acme/shop --api-url "$url" --since 30d -j "$jobs"
  again_s=$wall
  grep -q "^Imported 0 run attempts" "$work/out" || { echo "re-import changed something" >&2; exit 1; }
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  # Baseline: the same report files from disk.
  rm -rf "$work/reports"
  "$server" "$n" --dump "$work/reports"
  measure "$fh" --db "$work/ingest-$n.db" --project bench ingest --quiet --run-per dir "$work/reports"
  ingest_s=$wall ingest_rss=$rss
  ratio=$(awk -v a="$import_s" -v b="$ingest_s" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '%8s %9s %9s %8s %10s %9s %8s %9s\n' "$n" "$attempts" "$import_s" "$import_rss" "$ingest_s" "$ratio" "$ingest_rss" "$again_s"
  rm -rf "$work/reports"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
