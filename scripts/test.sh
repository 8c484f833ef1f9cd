#!/usr/bin/env bash
# The test command: prepares the Python venv with pytest that the integration tests drive, then
# runs every test of the workspace. Extra arguments go to `cargo test`. `--no-fail-fast` runs
# every test binary even after one fails, so a red run lists every failing test, not the first.
set -euo pipefail
cd "$(dirname "$0")/.."
FLAKEHOUND_TEST_PYTHON="$(scripts/test-venv.sh)"
export FLAKEHOUND_TEST_PYTHON
# With the venv ready, a pytest test that cannot find it is a failure, not a skip.
export FLAKEHOUND_REQUIRE_PYTEST=1
exec cargo test --workspace --no-fail-fast "$@"
