#!/usr/bin/env bash
# `flakehound diagnose` on every planted flaky test of examples/flaky-shop (issue 6's proof):
# does it name the planted kind, with a reproduction? Prints one line per test (expected
# category, diagnosis, confidence, runs, seconds, reproduction) and the count of right answers.
# The real bug is left out: it is not flaky.
#
# Usage: benches/diagnose_example.sh [RUNS_PER_CONDITION]   (default 8)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/benches/lib.sh"
runs="${1:-8}"
py="$("$root/scripts/test-venv.sh")"
release_flakehound
scratch_dir
enter_flaky_shop
export FLAKEHOUND_DB="$work/store.db"

# test id <TAB> the category a right diagnosis names
expected="tests/test_shipping.py::test_split_shipment_labels	randomness
tests/test_catalog.py::test_product_card_badges	unordered
tests/test_reports.py::test_daily_sales_report_counts_new_order	time
tests/test_invoices.py::test_invoice_total_line	order
tests/test_export.py::test_nightly_order_export	filesystem
tests/test_payments.py::test_default_payment_providers	order
tests/test_quotes.py::test_quote_for_large_cart	timeout
tests/test_checkout.py::test_checkout_reserves_stock	concurrency"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
right=0
total=0
while IFS=$'\t' read -r test want; do
  "$fh" diagnose "$test" --runs "$runs" --json -- "$py" -m pytest -q -p no:cacheprovider \
    >"$work/d.json" 2>/dev/null
  line="$(python3 - "$work/d.json" "$want" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
got = d.get("category") or "-"
ok = "RIGHT" if got == sys.argv[2] else "WRONG"
rep = d.get("reproduction") or "-"
rate = d.get("reproduction_rate")
rate = f" (failed {rate[0]}/{rate[1]})" if rate else ""
print(f"{ok}\t{d['test']}\twant {sys.argv[2]}\tgot {got} ({d['confidence']:.3f})\t{d['runs']} runs\t{d['seconds']:.0f} s\t{rep}{rate}")
PY
)"
  echo "$line"
  total=$((total + 1))
  case "$line" in RIGHT*) right=$((right + 1)) ;; esac
done <<<"$expected"
echo "named right: $right of $total (load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
