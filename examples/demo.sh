#!/usr/bin/env bash
# Quick start: builds flakehound, ingests the bundled synthetic CI history (90 GitHub Actions runs of
# a shop service's pytest suite, see examples/history/truth.txt for what was planted) into a fresh
# embedded store, prints the flakiness report and the command that opens the dashboard. Then, when
# Python 3 is available, hunts the bundled example project examples/flaky-shop (one flaky test of
# each usual kind, see its README) with `flakehound hunt`, in a venv with pytest
# (scripts/test-venv.sh), and diagnoses one of the flaky tests it finds with
# `flakehound diagnose --quick`. HUNT=0 skips both; HUNT_RUNS sets the hunt's
# rounds (default 12).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin flakehound
fh=target/release/flakehound
db=${FLAKEHOUND_DB:-target/demo/flakehound.db}
rm -f "$db" "$db-wal" "$db-shm"
echo "Ingesting examples/history into $db ..."
while IFS=$'\t' read -r dir commit branch runner run_id attempt timestamp job; do
  [[ $dir == \#* ]] && continue
  "$fh" --db "$db" ingest --quiet --provider github-actions --commit "$commit" --branch "$branch" \
    --runner "$runner" --run-id "$run_id" --attempt "$attempt" --timestamp "$timestamp" --job "$job" \
    "examples/history/$dir"
done < examples/history/runs.tsv
echo "Ingesting run 0000 again changes nothing (reports are identified by content):"
first=$(grep -m1 '^runs/0000' examples/history/runs.tsv | cut -f2)
"$fh" --db "$db" ingest examples/history/runs/0000 --provider github-actions --run-id 9000000 \
  --attempt 1 --job "test (3.11)" --commit "$first" --branch feature/faster-checkout \
  --runner gha-runner-1 | sed -n '2,5p'
echo
"$fh" --db "$db" report --limit "${LIMIT:-10}" "$@"
echo
echo "The same evidence in a browser (timelines, culprits, incidents; Ctrl-C stops it):"
echo "  $fh --db $db dashboard --open"

if [[ ${HUNT:-1} != 0 ]] && command -v python3 >/dev/null 2>&1; then
  echo
  echo "Hunting examples/flaky-shop (flakehound hunt --runs ${HUNT_RUNS:-12} --seed 1) ..."
  py=$(scripts/test-venv.sh)
  hunt_db=target/demo/hunt.db
  rm -f "$hunt_db" "$hunt_db-wal" "$hunt_db-shm"
  (cd examples/flaky-shop && "../../$fh" --db "../../$hunt_db" hunt --runs "${HUNT_RUNS:-12}" --seed 1 \
    -- "$py" -m pytest -q -p no:cacheprovider)
  echo
  echo "Diagnosing one of them (flakehound diagnose --quick): the hunt's failure messages say which"
  echo "experiment to run first, and --quick stops at the first clear answer ..."
  (cd examples/flaky-shop && "../../$fh" --db "../../$hunt_db" diagnose --quick \
    tests/test_catalog.py::test_product_card_badges -- "$py" -m pytest -q -p no:cacheprovider)
fi
