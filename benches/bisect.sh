#!/usr/bin/env bash
# Benchmark of `flakehound bisect` against the usual workaround, in the same run: `git bisect
# run` with a script that runs the test 20 times per step and calls the commit bad if any run
# fails.
#
# 1. Simulated (crates/flakehound-bisect/examples/bisect_bench.rs): the search engine itself
#    against simulated tests, 32 commits, a grid of scenarios (a commit raises the failure rate
#    from 0 to always, from 0 to 10%, from 10% to 50%, at the start, middle and end of the
#    range; and ranges where no commit does), REPS repetitions each, both methods on the same
#    scenarios.
# 2. Generated repositories: real git histories (16 commits) whose `t.sh` fails at the rate
#    its commit's `rate` file says, drawn from /dev/urandom; `flakehound bisect --exit-status`
#    with the release binary, and `git bisect run` with the 20-runs script, REAL_REPS times per
#    scenario. Executions are counted by the test script itself.
#
# A right answer is the culprit commit, or "no culprit" where no commit changed the rate (git
# bisect always names a commit, so it is never right there).
#
# Usage: benches/bisect.sh [REPS] [REAL_REPS]   (default 200 and 5)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
reps="${1:-200}"
real_reps="${2:-5}"

cargo build --release -q -p flakehound-bisect --example bisect_bench --manifest-path "$root/Cargo.toml"
echo "## Simulated"
echo
"$root/target/release/examples/bisect_bench" "$reps" 32
echo

release_flakehound
scratch_dir

# A repository of 1 + 16 commits; commit `culprit` (1-16, 0 for none) changes the rate from
# `before` to `after` (per mille).
make_repo() {
    local dir="$1" culprit="$2" before="$3" after="$4"
    rm -rf "$dir"
    mkdir -p "$dir"
    (
        cd "$dir"
        git init -q -b main
        git config user.email bench@example.com
        git config user.name Bench
        cat >t.sh <<'EOF'
echo x >>"$BENCH_COUNTER"
r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
[ $((r % 1000)) -lt "$(cat rate)" ] && exit 1
exit 0
EOF
        for i in $(seq 0 16); do
            if [ "$culprit" -gt 0 ] && [ "$i" -ge "$culprit" ]; then
                echo "$after" >rate
            else
                echo "$before" >rate
            fi
            echo "$i" >work.txt
            git add -A
            git commit -q -m "commit $i"
        done
    )
}

cat >"$work/any20.sh" <<'EOF'
fail=
for i in $(seq 20); do sh t.sh || fail=1; done
[ -z "$fail" ]
EOF

echo "## Generated repositories"
echo
echo "16 commits in the range, $real_reps repetitions per scenario"
echo
echo "| Scenario | bisect: right | bisect: mean executions | git bisect ×20: right | git bisect ×20: mean executions |"
echo "|---|---:|---:|---:|---:|"
tot_ok=0 tot_runs=0 tot_bok=0 tot_bruns=0 tot_n=0
for scenario in "0 → always, culprit at commit 3:3:0:1000" \
    "0 → 30%, culprit at commit 12:12:0:300" \
    "10% → 50%, culprit at commit 8:8:100:500" \
    "no culprit, 20% all along:0:200:200"; do
    IFS=: read -r name culprit before after <<<"$scenario"
    ok=0 runs=0 bok=0 bruns=0
    for rep in $(seq "$real_reps"); do
        repo="$work/repo"
        make_repo "$repo" "$culprit" "$before" "$after"
        cd "$repo"
        good=$(git rev-parse HEAD~16)
        bad=$(git rev-parse HEAD)
        truth=null
        [ "$culprit" -gt 0 ] && truth=$(git rev-parse "HEAD~$((16 - culprit))")
        export BENCH_COUNTER="$work/count-$rep"
        : >"$BENCH_COUNTER"
        "$fh" bisect t --good "$good" --bad "$bad" --json --no-record --exit-status -- sh t.sh \
            >"$work/out.json" 2>/dev/null || true
        got=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(v["culprit"] or "null")' "$work/out.json")
        runs=$((runs + $(wc -l <"$BENCH_COUNTER")))
        [ "$got" = "$truth" ] && ok=$((ok + 1))
        : >"$BENCH_COUNTER"
        git bisect start "$bad" "$good" >/dev/null
        got=$(git bisect run sh "$work/any20.sh" 2>/dev/null | grep -o '^[0-9a-f]\{40\} is the first bad commit' | cut -d' ' -f1 || true)
        git bisect reset -q >/dev/null 2>&1 || true
        bruns=$((bruns + $(wc -l <"$BENCH_COUNTER")))
        [ "$got" = "$truth" ] && bok=$((bok + 1))
        cd "$work"
    done
    python3 -c 'import sys; n,ok,r,bok,br=sys.argv[2:]; n=int(n); print(f"| {sys.argv[1]} | {100*int(ok)/n:.0f}% | {int(r)/n:.1f} | {100*int(bok)/n:.0f}% | {int(br)/n:.1f} |")' \
        "$name" "$real_reps" "$ok" "$runs" "$bok" "$bruns"
    tot_ok=$((tot_ok + ok)) tot_runs=$((tot_runs + runs)) tot_bok=$((tot_bok + bok)) tot_bruns=$((tot_bruns + bruns))
    tot_n=$((tot_n + real_reps))
done
python3 -c 'import sys; n,ok,r,bok,br=map(int,sys.argv[1:]); print(f"| **all** | **{100*ok/n:.0f}%** | **{r/n:.1f}** | **{100*bok/n:.0f}%** | **{br/n:.1f}** |"); print(); print(f"Executions, bisect / baseline: {r/max(br,1):.2f}")' \
    "$tot_n" "$tot_ok" "$tot_runs" "$tot_bok" "$tot_bruns"
