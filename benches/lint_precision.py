"""The per-rule table of benches/lint_precision.sh: how often a `flakehound lint` finding sits
on a test that really flakes.

Corpora: examples/flaky-shop (its truth: benches/flaky-shop-truth.txt; every planted test but
the real bug is flaky) and the test suites of real projects from PyPI sdists. In a real project a
test counts as flaky only when confirmed: with --rerun N each flagged test is run N times alone
in fresh pytest processes (a new PYTHONHASHSEED each time) and N times in the full suite of its
file, and a test one of whose cases (parametrized cases apart) both passed and failed is a
confirmed flake. Every other finding on a real
project is a false positive (its stable tests are the negatives).

Unit: a (rule, test) pair. Precision = pairs on really flaky tests / pairs. Recall = known flaky
tests with at least one finding / known flaky tests (per rule: those this rule finds).

Usage: python3 benches/lint_precision.py FLAKEHOUND WORKDIR [--rerun N] [--python PY]
       [--baseline FLAKEHOUND2] SPEC...
With --baseline, a second binary is scored against the same reruns (the union of the tests
either flags), so the before/after tables come from one run.
where SPEC is `name==version` (a PyPI sdist) and WORKDIR caches the downloads.
"""

import collections
import json
import os
import pathlib
import random
import subprocess
import sys
import tarfile

RULES = [
    "sleep-wait", "unseeded-random", "wall-clock-compare", "timing-assert", "real-network",
    "fixed-tmp-path", "set-order-assert", "set-iteration-order", "shared-module-state",
    "thread-no-join", "retry-marker",
]


def lint(fh, cwd):
    out = subprocess.run([fh, "lint", "--format", "json", "."], cwd=cwd, capture_output=True,
                         text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"lint failed in {cwd}: {out.stderr}")
    data = json.loads(out.stdout)
    pairs = set()
    for f in data["findings"]:
        for t in f["tests"]:
            pairs.add((f["rule"], t))
    return data, pairs


def rerun(python, cwd, test, n):
    """Runs `test` n times alone and n times with its whole file, in fresh processes; returns
    (passes, failures, flaky) where flaky says whether one case (a parametrized case counts on
    its own) both passed and failed."""
    import xml.etree.ElementTree as ET
    file = test.split("::")[0]
    name = test.split("::")[-1]
    seen = collections.defaultdict(lambda: [0, 0])  # case -> [passes, failures]
    env = dict(os.environ)
    report = pathlib.Path(cwd) / ".lint-rerun.xml"
    for _ in range(n):
        for target in ([test], [file]):
            env["PYTHONHASHSEED"] = str(random.randint(1, 2**31))
            report.unlink(missing_ok=True)
            # `-o addopts=`: the project's own options (coverage plugins) are not installed.
            cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                   f"--junitxml={report}", *target]
            subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
            try:
                root = ET.fromstring(report.read_text())
            except (OSError, ET.ParseError):
                continue
            for case in root.iter("testcase"):
                case_name = case.get("name") or ""
                if case_name == name or case_name.startswith(name + "["):
                    if case.find("failure") is not None or case.find("error") is not None:
                        seen[case_name][1] += 1
                    elif case.find("skipped") is None:
                        seen[case_name][0] += 1
    passes = sum(p for p, _ in seen.values())
    fails = sum(f for _, f in seen.values())
    return passes, fails, any(p and f for p, f in seen.values())


def main():
    args = sys.argv[1:]
    fh, work = args[0], pathlib.Path(args[1])
    n, python, specs, baseline = 0, sys.executable, [], None
    i = 2
    while i < len(args):
        if args[i] == "--rerun":
            n = int(args[i + 1]); i += 2
        elif args[i] == "--python":
            python = args[i + 1]; i += 2
        elif args[i] == "--baseline":
            baseline = args[i + 1]; i += 2
        else:
            specs.append(args[i]); i += 1
    root = pathlib.Path(__file__).resolve().parent.parent
    # One tally per binary: with --baseline, the same flaky labels (one set of reruns, of the
    # union of the tests either flags) score the baseline and the new scan.
    bins = [("this build", fh)] + ([("baseline", baseline)] if baseline else [])
    tallies = {label: {"rows": collections.defaultdict(lambda: [0, 0]),
                       "found_by": collections.defaultdict(set), "findings": []}
               for label, _ in bins}
    known_flaky = set()
    corpora = []

    def tally(label, name, pairs, flaky):
        t = tallies[label]
        t["findings"].append(len(pairs))
        for rule, test in pairs:
            t["rows"][rule][0] += 1
            if test in flaky:
                t["rows"][rule][1] += 1
                t["found_by"][rule].add((name, test))

    # flaky-shop
    truth = {}
    for line in (root / "benches/flaky-shop-truth.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            tid, kind = line.split("\t")
            truth[tid] = kind
    shop_flaky = {t for t, k in truth.items() if k != "real bug"}
    known_flaky |= {("flaky-shop", t) for t in shop_flaky}
    data = None
    for label, binary in bins:
        d, pairs = lint(binary, root / "examples/flaky-shop")
        data = data or d
        tally(label, "flaky-shop", pairs, shop_flaky)
    corpora.append(("examples/flaky-shop", data["files"], data["tests"], len(shop_flaky)))
    # real projects
    for spec in specs:
        name = spec.split("==")[0]
        sd = work / "sdists"
        sd.mkdir(parents=True, exist_ok=True)
        have = [p for p in sd.iterdir() if p.name.lower().replace("_", "-").startswith(
            spec.replace("==", "-").lower().replace("_", "-"))]
        if not have:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:",
                            "--no-deps", spec, "-d", str(sd)], check=True)
            have = [p for p in sd.iterdir() if p.name.lower().replace("_", "-").startswith(
                spec.replace("==", "-").lower().replace("_", "-"))]
        src = work / "src"
        src.mkdir(exist_ok=True)
        with tarfile.open(have[0]) as tar:
            top = tar.getnames()[0].split("/")[0]
            if not (src / top).exists():
                tar.extractall(src, filter="data")
        proj = src / top
        linted = [(label, *lint(binary, proj)) for label, binary in bins]
        data = linted[0][1]
        flaky = set()
        if n:
            for t in sorted({t for _, _, pairs in linted for _, t in pairs}):
                p, f, flips = rerun(python, proj, t, n)
                print(f"  rerun {name} {t}: {p} passed, {f} failed"
                      f"{', flaky' if flips else ''}", file=sys.stderr)
                if flips:
                    flaky.add(t)
        known_flaky |= {(name, t) for t in flaky}
        corpora.append((spec, data["files"], data["tests"], len(flaky)))
        for label, _, pairs in linted:
            tally(label, name, pairs, flaky)

    heads = " | ".join(f"findings ({label})" for label, _ in bins)
    print(f"| corpus | test files | tests | known flaky | {heads} |")
    print("|---|---:|---:|---:|" + "---:|" * len(bins))
    for i, c in enumerate(corpora):
        counts = " | ".join(str(tallies[label]["findings"][i]) for label, _ in bins)
        print(f"| {c[0]} | {c[1]} | {c[2]} | {c[3]} | {counts} |")
    for label, _ in bins:
        rows, found_by = tallies[label]["rows"], tallies[label]["found_by"]
        print()
        print(f"{label}:")
        print()
        print("| rule | findings | on really flaky tests | precision | recall (flaky tests it finds) |")
        print("|---|---:|---:|---:|---:|")
        total = [0, 0]
        for rule in RULES:
            f, ok = rows[rule]
            total[0] += f
            total[1] += ok
            prec = f"{ok / f:.2f}" if f else "–"
            rec = f"{len(found_by[rule])}/{len(known_flaky)}"
            print(f"| `{rule}` | {f} | {ok} | {prec} | {rec} |")
        found = set().union(*found_by.values()) if found_by else set()
        prec = f"{total[1] / total[0]:.2f}" if total[0] else "–"
        recall = len(found) / len(known_flaky) if known_flaky else 0
        print(f"| **all** | {total[0]} | {total[1]} | {prec} | {len(found)}/{len(known_flaky)} = {recall:.2f} |")


if __name__ == "__main__":
    main()
