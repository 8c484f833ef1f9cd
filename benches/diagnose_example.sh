#!/usr/bin/env bash
# `flakehound diagnose` on every planted flaky test of examples/flaky-shop (issue 6's proof):
# does it name the planted kind, with a reproduction? Prints one line per test (expected
# category, diagnosis, confidence, runs, seconds, reproduction) and the count of right answers.
# The real bug is left out: it is not flaky.
#
# With a baseline binary (BASELINE=/path/to/old/flakehound), each test is diagnosed by both, one
# right after the other (the same machine load for both), and the script ends with the median
# wall time per test of each and their ratio (issue 11's goal: at most 1/2, same verdicts).
#
# Usage: [BASELINE=old-binary] [FLAKEHOUND_BIN=binary] benches/diagnose_example.sh [RUNS]
#        (RUNS per condition, default 8)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
runs="${1:-8}"
py="$("$root/scripts/test-venv.sh")"
if [ -n "${FLAKEHOUND_BIN:-}" ]; then fh="$FLAKEHOUND_BIN"; else release_flakehound; fi
scratch_dir
enter_flaky_shop

# test id <TAB> the category a right diagnosis names
expected="tests/test_shipping.py::test_split_shipment_labels	randomness
tests/test_catalog.py::test_product_card_badges	unordered
tests/test_reports.py::test_daily_sales_report_counts_new_order	time
tests/test_invoices.py::test_invoice_total_line	order
tests/test_export.py::test_nightly_order_export	filesystem
tests/test_payments.py::test_default_payment_providers	order
tests/test_quotes.py::test_quote_for_large_cart	timeout
tests/test_checkout.py::test_checkout_reserves_stock	concurrency"

# diagnose BINARY LABEL TEST WANT: one line (RIGHT/WRONG ...), seconds appended to $work/LABEL.
diagnose() {
  local bin="$1" label="$2" test="$3" want="$4"
  # A fresh store each time: neither diagnosis learns from the other's runs.
  rm -f "$work/$label.db"
  FLAKEHOUND_DB="$work/$label.db" "$bin" diagnose "$test" --runs "$runs" --json \
    -- "$py" -m pytest -q -p no:cacheprovider >"$work/d.json" 2>/dev/null || true
  python3 - "$work/d.json" "$want" "$label" "$work/$label.secs" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
got = d.get("category") or "-"
ok = "RIGHT" if got == sys.argv[2] else "WRONG"
rep = d.get("reproduction") or "-"
rate = d.get("reproduction_rate")
rate = f" (failed {rate[0]}/{rate[1]})" if rate else ""
open(sys.argv[4], "a").write(f"{d['seconds']}\n")
print(f"{ok}\t{sys.argv[3]}\t{d['test']}\twant {sys.argv[2]}\tgot {got} ({d['confidence']:.3f})\t{d['runs']} runs\t{d['seconds']:.0f} s\t{rep}{rate}")
PY
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
right=0
base_right=0
total=0
while IFS=$'\t' read -r test want; do
  line="$(diagnose "$fh" new "$test" "$want")"
  echo "$line"
  case "$line" in RIGHT*) right=$((right + 1)) ;; esac
  if [ -n "${BASELINE:-}" ]; then
    line="$(diagnose "$BASELINE" baseline "$test" "$want")"
    echo "$line"
    case "$line" in RIGHT*) base_right=$((base_right + 1)) ;; esac
  fi
  total=$((total + 1))
done <<<"$expected"
echo "named right: $right of $total (load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
if [ -n "${BASELINE:-}" ]; then
  echo "baseline named right: $base_right of $total"
  python3 - "$work/new.secs" "$work/baseline.secs" <<'PY'
import statistics, sys
new = [float(x) for x in open(sys.argv[1])]
old = [float(x) for x in open(sys.argv[2])]
mn, mo = statistics.median(new), statistics.median(old)
print(f"median wall time per test: {mn:.1f} s (baseline {mo:.1f} s), ratio {mn / mo:.2f}")
print(f"total: {sum(new):.0f} s (baseline {sum(old):.0f} s), ratio {sum(new) / sum(old):.2f}")
PY
fi
