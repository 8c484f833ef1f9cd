#!/usr/bin/env bash
# Precision and recall of `flakehound lint` per rule (issue 20): examples/flaky-shop (truth in
# benches/flaky-shop-truth.txt) and the test suites of real projects from PyPI sdists, whose
# stable tests are the negatives. Prints the README's tables. See benches/lint_precision.py.
#
# Usage: benches/lint_precision.sh [--rerun N] [--diagnose N] [--python PY] [--work DIR]
#                                  [--baseline FH] [--no-pedantic] [--diagnose-rules R,…]
#                                  [--hunt N] [--hunt-rules R,…] [SPEC[@OPTS]...]
#   --rerun N   run each flagged test of a real project N times alone and N times with its file
#               (needs PY with pytest and the project's test dependencies); 0 = no reruns, every
#               finding on a real project counts as a false positive
#   --diagnose N  also confirm each flagged test of a real project with `flakehound diagnose
#               --only SUSPECTS --runs N` (the experiments of the categories of the rules that
#               flag it; faketime installed for the clock conditions); reported as a second
#               labelling ("reruns or diagnose") beside the plain reruns
#   --hunt N    also hunt each project's flagged tests together (`flakehound hunt
#               --runs N --workers 4`): a flagged test hunt finds flaky (flaky, parallel,
#               order-dependent, non-idempotent) is confirmed ("reruns, diagnose or hunt")
#   --hunt-rules R1,R2  hunt only these rules' flagged tests
#   --baseline FH  also score another flakehound binary (an older build) against the same reruns
#   --no-pedantic  score the default rule set only (not also every rule with --pedantic), so the
#               pedantic rules' findings are neither rerun nor diagnosed
#   --diagnose-rules R1,R2  diagnose only the findings of these rules (suites whose flagged
#               tests are many and slow)
#   SPEC        name==version of a PyPI sdist (default: the projects of the README table);
#               name==version@OPTS adds pytest options the project needs to every run of it
#               (quoted: 'humanfriendly==10.0@-o python_files=tests.py')
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
rerun=0 diag=0 python=python3 work="$root/target/bench/lint-corpus" specs=() baseline=() nopedantic=()
diagrules=() huntargs=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --rerun) rerun=$2; shift 2 ;;
    --diagnose) diag=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --baseline) baseline=(--baseline "$2"); shift 2 ;;
    --no-pedantic) nopedantic=(--no-pedantic); shift ;;
    --diagnose-rules) diagrules=(--diagnose-rules "$2"); shift 2 ;;
    --hunt|--hunt-rules) huntargs+=("$1" "$2"); shift 2 ;;
    *) specs+=("$1"); shift ;;
  esac
done
if [[ ${#specs[@]} -eq 0 ]]; then
  specs=(toolz==1.0.0 more-itertools==10.5.0 attrs==24.2.0 schedule==1.2.2 cachetools==5.5.0
         filelock==3.16.1 humanize==4.11.0 tenacity==9.0.0 freezegun==1.5.1 portalocker==2.10.1)
fi
fh="${FLAKEHOUND:-}"
[[ -n $fh ]] || release_flakehound
mkdir -p "$work"
python3 "$root/benches/lint_precision.py" "$fh" "$work" --rerun "$rerun" --diagnose "$diag" --python "$python" "${baseline[@]}" "${nopedantic[@]}" "${diagrules[@]}" "${huntargs[@]}" "${specs[@]}"
