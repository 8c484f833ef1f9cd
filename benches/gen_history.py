#!/usr/bin/env python3
"""Generates a synthetic, deterministic CI history of JUnit reports (pytest dialect).

Two profiles:
  demo   a realistic small history for the README quick start: a shop service with ~40 tests,
         90 CI runs over 30 commits on 3 runners, with planted flaky tests (retry passes, a
         runner-specific timeout, a time-of-day test), a regression that starts at a known commit
         and fails intermittently, a test broken since a commit, and one infrastructure outage.
  bench  volume for the ingest benchmark: --runs files of --tests test cases each.
         With --bare: one flat folder of reports without timestamps or host names (a folder of
         downloaded CI artifacts), OUT/reports/run-NNNN.xml, and no runs.tsv.

Layout written under OUT:
  OUT/runs/NNNN/attempt-1.xml        the CI run's report
  OUT/runs/NNNN/attempt-2.xml        re-run of the failed tests (pytest-rerunfailures style), if any
  OUT/runs.tsv                       one line per run: dir commit branch runner run_id attempt timestamp job

Only the standard library is used; the same seed always writes the same bytes.
"""
import argparse
import datetime as dt
import hashlib
import os
import random
from xml.sax.saxutils import quoteattr, escape

MODULES = {
    "tests/test_orders.py": ["test_create_order", "test_order_total", "test_cancel_order", "test_list_orders",
                             "test_order_history_pagination", "test_bulk_import[csv]", "test_bulk_import[json]"],
    "tests/test_payments.py": ["TestRefunds::test_full_refund", "TestRefunds::test_partial_refund",
                               "TestCharges::test_charge_card", "TestCharges::test_charge_declined",
                               "test_payment_webhook_signature", "test_currency_rounding[EUR]",
                               "test_currency_rounding[JPY]"],
    "tests/test_checkout.py": ["test_checkout_happy_path", "test_checkout_timeout", "test_checkout_out_of_stock",
                               "test_apply_coupon", "test_coupon_expired", "test_shipping_estimate"],
    "tests/test_cache.py": ["test_cache_hit", "test_cache_ttl_expiry", "test_cache_eviction", "test_cache_warmup"],
    "tests/test_users.py": ["test_signup", "test_login", "test_password_reset", "test_profile_update",
                            "test_delete_account", "test_session_refresh"],
    "tests/test_search.py": ["test_search_by_name", "test_search_ranking", "test_search_facets",
                             "test_search_empty_query", "test_search_unicode"],
    "tests/test_reports.py": ["test_daily_report", "test_monthly_totals", "test_export_pdf",
                              "test_report_timezone"],
}
RUNNERS = ["gha-runner-1", "gha-runner-2", "gha-runner-3"]


def classname(path, test):
    mod = path[:-3].replace("/", ".")
    parts = test.split("::")
    return (mod + "." + ".".join(parts[:-1])) if len(parts) > 1 else mod, parts[-1]


def sha(i, salt="commit"):
    return hashlib.sha1(f"{salt}-{i}".encode()).hexdigest()


class Planted:
    """Ground truth of the demo history (also printed to OUT/truth.txt)."""

    def __init__(self, commits):
        self.regression_commit = commits[18]
        self.broken_commit = commits[24]
        self.outage_run = 41


def demo_outcome(rng, test, run, commit_idx, runner, hour, truth, commits, attempt):
    """Returns None (pass) or (kind, type, message) for one attempt of one test."""
    if run == truth.outage_run and rng.random() < 0.6:
        return ("error", "ConnectionRefusedError",
                f"psycopg2.OperationalError: could not connect to server: Connection refused "
                f"(host=db-{rng.randint(1, 3)}.internal port=5432)")
    if test == "test_checkout_timeout" and runner == "gha-runner-3" and rng.random() < 0.45:
        return ("failure", "TimeoutError", f"TimeoutError: checkout did not complete within 5.0s "
                                           f"(took {5 + rng.random() * 2:.2f}s)")
    if test == "test_cache_ttl_expiry" and rng.random() < 0.2:
        return ("failure", "AssertionError",
                f"AssertionError: assert cache.get('k') is None (entry still alive after "
                f"{rng.randint(990, 1010)}ms)")
    if test == "test_search_ranking" and rng.random() < 0.12:
        a, b = rng.sample(["apple", "apricot", "avocado", "banana"], 2)
        return ("failure", "AssertionError", f"AssertionError: assert ['{a}', '{b}'] == ['{b}', '{a}']")
    if test == "test_report_timezone" and hour >= 22 and rng.random() < 0.9:
        return ("failure", "AssertionError",
                "AssertionError: assert report.date == date(2026, 3, 14) (got 2026-03-15)")
    if test == "test_order_total" and commit_idx >= commits.index(truth.regression_commit) and rng.random() < 0.3:
        return ("failure", "AssertionError",
                f"AssertionError: assert order.total == {rng.randint(100, 999)}.00")
    if test == "TestRefunds::test_partial_refund" and commit_idx >= commits.index(truth.broken_commit):
        return ("failure", "KeyError", "KeyError: 'refund_reason'")
    if test == "test_session_refresh" and attempt == 1 and rng.random() < 0.08:
        return ("error", "RuntimeError", "RuntimeError: event loop is closed")
    return None


def testcase_xml(path, test, outcome, rng, file_attr=True):
    cls, name = classname(path, test)
    t = f"{rng.random() * (6 if 'timeout' in test else 0.4):.3f}"
    attrs = f'classname={quoteattr(cls)} name={quoteattr(name)} time="{t}"'
    if file_attr:
        attrs += f' file={quoteattr(path)} line="{rng.randint(10, 300)}"'
    if outcome is None:
        return f"    <testcase {attrs}/>\n"
    kind, typ, msg = outcome
    trace = f"{path}:{rng.randint(10, 300)}: in {name}\n    {msg}\nE   {msg}"
    return (f"    <testcase {attrs}>\n      <{kind} type={quoteattr(typ)} message={quoteattr(msg)}>"
            f"{escape(trace)}</{kind}>\n    </testcase>\n")


def suite_xml(cases, ts, host):
    """A pytest <testsuite>; `ts` and `host` are left out when None."""
    n = len(cases)
    fails = sum(1 for c in cases if "<failure" in c)
    errs = sum(1 for c in cases if "<error" in c)
    meta = (f' timestamp="{ts}"' if ts is not None else "") + (f' hostname="{host}"' if host is not None else "")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n'
            f'  <testsuite name="pytest" errors="{errs}" failures="{fails}" skipped="0" tests="{n}" '
            f'time="{n * 0.2:.3f}"{meta}>\n' + "".join(cases) +
            "  </testsuite>\n</testsuites>\n")


def demo(out, seed):
    rng = random.Random(seed)
    commits = [sha(i) for i in range(30)]
    truth = Planted(commits)
    tests = [(p, t) for p, ts in MODULES.items() for t in ts]
    start = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.timezone.utc)
    rows = []
    for run in range(90):
        commit_idx = min(run // 3, len(commits) - 1)
        commit = commits[commit_idx]
        runner = RUNNERS[run % 3]
        when = start + dt.timedelta(hours=run * 7 + rng.randint(0, 3), minutes=rng.randint(0, 59))
        ts = when.strftime("%Y-%m-%dT%H:%M:%S")
        d = os.path.join(out, "runs", f"{run:04d}")
        os.makedirs(d, exist_ok=True)
        cases, failed = [], []
        for path, test in tests:
            o = demo_outcome(rng, test, run, commit_idx, runner, when.hour, truth, commits, 1)
            cases.append(testcase_xml(path, test, o, rng))
            if o:
                failed.append((path, test))
        with open(os.path.join(d, "attempt-1.xml"), "w") as f:
            f.write(suite_xml(cases, ts, runner))
        if failed and run != truth.outage_run:
            # pytest-rerunfailures style: failed tests rerun once in the same job.
            rerun = []
            for path, test in failed:
                o = demo_outcome(rng, test, run, commit_idx, runner, when.hour, truth, commits, 2)
                rerun.append(testcase_xml(path, test, o, rng))
            later = (when + dt.timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S")
            with open(os.path.join(d, "attempt-2.xml"), "w") as f:
                f.write(suite_xml(rerun, later, runner))
        branch = "main" if run % 10 else "feature/faster-checkout"
        rows.append([f"runs/{run:04d}", commit, branch, runner, str(9_000_000 + run), "1",
                     when.strftime("%Y-%m-%dT%H:%M:%SZ"), "test (3.11)"])
    with open(os.path.join(out, "runs.tsv"), "w") as f:
        f.write("# dir\tcommit\tbranch\trunner\trun_id\tattempt\ttimestamp\tjob\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    with open(os.path.join(out, "truth.txt"), "w") as f:
        f.write("Planted ground truth of this synthetic history (seed %d):\n" % seed)
        f.write("- flaky: tests/test_checkout.py::test_checkout_timeout (timeouts on gha-runner-3 only)\n")
        f.write("- flaky: tests/test_cache.py::test_cache_ttl_expiry (20%, timing)\n")
        f.write("- flaky: tests/test_search.py::test_search_ranking (12%, unordered results)\n")
        f.write("- flaky: tests/test_users.py::test_session_refresh (8% on first attempt, passes on retry)\n")
        f.write("- time of day: tests/test_reports.py::test_report_timezone (fails in runs after 22:00 UTC)\n")
        f.write(f"- regression (intermittent, 30%): tests/test_orders.py::test_order_total from {truth.regression_commit}\n")
        f.write(f"- broken: tests/test_payments.py::TestRefunds::test_partial_refund from {truth.broken_commit}\n")
        f.write(f"- infra outage: run {truth.outage_run:04d} (database connection refused)\n")


def bench(out, seed, runs, ntests, bare=False):
    """Many runs of a large suite: mostly passing, a few percent flaky failures, long messages."""
    rng = random.Random(seed)
    tests = [(f"tests/pkg{i % 40}/test_mod{i % 97}.py", f"TestCase{i % 13}::test_case_{i}[param-{i % 7}]")
             for i in range(ntests)]
    flaky = set(rng.sample(range(ntests), max(1, ntests // 50)))
    rows = []
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for run in range(runs):
        when = start + dt.timedelta(hours=run)
        d = os.path.join(out, "reports") if bare else os.path.join(out, "runs", f"{run:04d}")
        os.makedirs(d, exist_ok=True)
        cases = []
        for i, (path, test) in enumerate(tests):
            o = None
            if i in flaky and rng.random() < 0.1:
                o = ("failure", "AssertionError", f"AssertionError: assert {rng.randint(0, 99)} == 42")
            cases.append(testcase_xml(path, test, o, rng))
        if bare:
            with open(os.path.join(d, f"run-{run:04d}.xml"), "w") as f:
                f.write(suite_xml(cases, None, None))
            continue
        with open(os.path.join(d, "attempt-1.xml"), "w") as f:
            f.write(suite_xml(cases, when.strftime("%Y-%m-%dT%H:%M:%S"), RUNNERS[run % 3]))
        rows.append([f"runs/{run:04d}", sha(run // 4), "main", RUNNERS[run % 3], str(run), "1",
                     when.strftime("%Y-%m-%dT%H:%M:%SZ"), "bench"])
    if bare:
        return
    with open(os.path.join(out, "runs.tsv"), "w") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", choices=["demo", "bench"])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--tests", type=int, default=400)
    ap.add_argument("--bare", action="store_true", help="bench: one flat folder, no timestamps or hosts")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.profile == "demo":
        demo(a.out, a.seed)
    else:
        bench(a.out, a.seed, a.runs, a.tests, a.bare)


if __name__ == "__main__":
    main()
