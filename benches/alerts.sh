#!/usr/bin/env bash
# Benchmark of alerting (crates/flakehound-alerts/examples/replay.rs): histories with planted
# changes from flakehound-synth (`changes`: 120 tests, 300 runs; 16 tests turn flaky, 8 of them
# at 20%; 4 rates rise; 4 tests break; 4 recover; 5 infrastructure outages hitting 40% of the
# tests) are replayed run by run into a SQLite store, and the same check as `flakehound alerts
# check` runs after every run with the default configuration. Notifications are scored against
# the plant: recall of the planted changes, alerts about stable tests, alerts per incident, and
# the delay from a change's onset to its alert, in runs. The cost of a check is printed beside
# the cost of `report` over the final store, measured in the same run.
#
# Usage: benches/alerts.sh [SEEDS] [RUNS]   (default 3 histories of 300 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
runs=${2:-300}
nice -n 10 cargo build --release --quiet -p flakehound-alerts --example replay
target/release/examples/replay "$seeds" "$runs"
