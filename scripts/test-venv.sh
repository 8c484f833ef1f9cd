#!/usr/bin/env bash
# Creates (once) the Python venv the integration tests drive real pytest with, and prints the
# path of its python. Tests find it through FLAKEHOUND_TEST_PYTHON (set by .ci/run) or at
# target/test-venv/bin/python. FLAKEHOUND_TEST_VENV (another directory) and
# FLAKEHOUND_TEST_VENV_EXTRA (more requirements) build other venvs, for the tests that need a
# plugin the shared venv must not have (pytest-randomly changes every other test's behaviour);
# FLAKEHOUND_TEST_VENV_REQUIREMENTS replaces the base requirements (a tool that is not pytest:
# schemathesis, whose pytest pin differs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${FLAKEHOUND_TEST_VENV:-$root/target/test-venv}"
stamp="$venv/.flakehound-requirements"
requirements="${FLAKEHOUND_TEST_VENV_REQUIREMENTS:-pytest==8.3.5}${FLAKEHOUND_TEST_VENV_EXTRA:+ $FLAKEHOUND_TEST_VENV_EXTRA}"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements >&2
    echo "$requirements" >"$stamp"
fi
echo "$venv/bin/python"
