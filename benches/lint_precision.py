"""The per-rule table of benches/lint_precision.sh: how often a `flakehound lint` finding sits
on a test that really flakes.

Corpora: examples/flaky-shop (its truth: benches/flaky-shop-truth.txt; every planted test but
the real bug is flaky) and the test suites of real projects from PyPI sdists. In a real project a
test counts as flaky only when confirmed: with --rerun N each flagged test is run N times alone
in fresh pytest processes (a new PYTHONHASHSEED each time) and N times in the full suite of its
file, and a test one of whose cases (parametrized cases apart) both passed and failed is a
confirmed flake. Every other finding on a real
project is a false positive (its stable tests are the negatives).

With --diagnose N each flagged test of a real project is also given to `flakehound diagnose
TEST --only SUSPECTS --runs N`, where SUSPECTS are the experiments of the root-cause categories of
the rules that flag it (RULE_SUSPECTS: a fixed /tmp path -> several instances at once, a sleep or
a timing assert -> a loaded or pinned machine, the wall clock -> time zones and a shifted clock
(libfaketime), ...). A test that diagnose gives a category (a condition fails significantly more
than its control, Holm-adjusted, and the reproduction under it failed again; never an
"inconclusive") is a flake that shows when that condition occurs in CI: the issue's "confirmed by
hunt or diagnose". Tests the plain reruns already confirmed are not diagnosed.

With --hunt N each real project's flagged tests (those of the rules in
--hunt-rules, default every rule) are also hunted together: `flakehound hunt --runs N
--workers 4 --json TESTS -- pytest FILES`: the flagged tests (of those rules) in four
executions at once, in shuffled orders, under other time zones and hash seeds (hunt's own
follow-ups decide). Every test that touches a fixed path is flagged, so the neighbours that
write and delete it are among them. A flagged test hunt puts in
a class other than stable and broken (flaky, parallel, order-dependent, non-idempotent) is
confirmed by hunt. Where diagnose runs one test in four instances at once, hunt runs the
flagged tests of their files beside each other: tests that share a fixed file in the working directory collide when
their neighbours write and delete it (paramiko's `hostfile.temp`, written by every test of two
classes and a test of another file, collides in hunt and never did in 13 diagnose runs of one
test, whose window is a few milliseconds).

Both labels are reported side by side: plain reruns only, and plain reruns or the experiments
(diagnose, hunt).

Unit: a (rule, test) pair. Precision = pairs on really flaky tests / pairs. Recall = known flaky
tests with at least one finding / known flaky tests (per rule: those this rule finds).

Usage: python3 benches/lint_precision.py FLAKEHOUND WORKDIR [--rerun N] [--python PY]
       [--diagnose N] [--diagnose-rules R1,R2] [--hunt N] [--hunt-rules R1,R2]
       [--baseline FLAKEHOUND2] [--no-pedantic] SPEC...
This build is scored twice, its default rule set and every rule (`--pedantic`); with
--baseline, a second binary is scored against the same reruns (the union of the tests any of
them flags), so the before/after tables come from one run.
where SPEC is `name==version` (a PyPI sdist), optionally `name==version@OPTS` with pytest
options the project needs (`humanfriendly==10.0@-o python_files=tests.py`), and WORKDIR caches
the downloads.
"""

import collections
import json
import os
import shlex
import pathlib
import random
import re
import subprocess
import sys
import tarfile

RULES = [
    "sleep-wait", "unseeded-random", "wall-clock-compare", "timing-assert", "real-network",
    "fixed-tmp-path", "set-order-assert", "set-iteration-order", "shared-module-state",
    "thread-no-join", "retry-marker",
]

# The diagnose experiments that test the condition a rule names (its root-cause category, as
# `diagnose` names them): the confirmation of a finding is a failure under that condition.
RULE_SUSPECTS = {
    "sleep-wait": ["load", "threads"],
    "unseeded-random": ["randomness"],
    "wall-clock-compare": ["time"],
    "timing-assert": ["load"],
    "real-network": ["network"],
    "fixed-tmp-path": ["parallel"],
    "set-order-assert": ["hashing"],
    "set-iteration-order": ["hashing"],
    "shared-module-state": ["order", "repetition"],
    "thread-no-join": ["threads", "load"],
    "retry-marker": ["load", "threads"],
}


# Every pytest run of the labelling: no cache, not the project's own options (coverage plugins
# are not installed), and no rerun plugin, so that a test marked `@flaky`/`@pytest.mark.flaky`
# shows its own failures (watchdog marks 21 tests `@flaky(max_runs=5)`). `-p no:NAME` is
# harmless when the plugin is not installed.
# The project's own pytest options from its SPEC (`name==version@OPTS`), for the project being
# labelled: e.g. humanfriendly's tests live in `humanfriendly/tests.py`, which pytest collects
# (for diagnose's listing) only with `-o python_files=tests.py`.
_EXTRA = []
PYTEST_OPTS = ["-p", "no:cacheprovider", "-o", "addopts=", "-p", "no:flaky",
               "-p", "no:rerunfailures"]


def expanded(name):
    """Whether a collected case name is a case of the test function `name`: pytest's
    parametrized `name[…]`, or the methods `parameterized.expand` generates, `name_0`,
    `name_1_label` (dateparser's tests)."""
    return lambda case: (case == name or case.startswith(name + "[")
                         or re.fullmatch(re.escape(name) + r"_\d+(_.*)?", case) is not None)


def cases(python, cwd, test, limit=4):
    """The ids diagnose takes for `test`: the test itself, or its parametrized cases (the first
    `limit` of them, as `pytest --collect-only` lists them; all of them with `limit=None`)."""
    out = subprocess.run([python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "-o", "addopts=", *_EXTRA, test.split("::")[0]], cwd=cwd,
                         capture_output=True,
                         text=True, timeout=600)
    head, _, name = test.rpartition("::")
    of = expanded(name)
    ids = [i for i in (line.strip() for line in out.stdout.splitlines())
           if i.startswith(test + "[")
           or (i.rpartition("::")[0] == head and i != test and of(i.rpartition("::")[2]))]
    return ids[:limit] or [test]


def diagnose(fh, python, cwd, test, suspects, runs, db):
    """`flakehound diagnose TEST --only SUSPECTS --runs N --json`; returns (category, suspect,
    verdict) with category None when no suspect was implicated (or only inconclusively)."""
    cmd = [fh, "--db", str(db), "diagnose", test, "--only", ",".join(suspects), "--runs",
           str(runs), "--json", "--", python, "-m", "pytest", "-q", *PYTEST_OPTS, *_EXTRA]
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=3600)
    try:
        d = json.loads(out.stdout)
    except json.JSONDecodeError:
        return None, None, f"diagnose failed (exit {out.returncode}): {out.stderr.strip()[-300:]}"
    if isinstance(d, list):
        d = d[0] if d else {}
    return (d.get("category"), d.get("suspect"),
            d.get("verdict") or d.get("inconclusive") or "")


# The classes of `flakehound hunt` that confirm a flake (a test that failed and passed).
HUNT_FLAKY = {"flaky", "parallel", "order-dependent", "non-idempotent"}


def hunt(fh, python, cwd, tests, runs, db):
    """`flakehound hunt --runs N --workers 4 --json TESTS -- pytest FILES` in `cwd` (the
    tests, of their files, and nothing else); returns {test id: (class, claim)} for every test
    hunt reports, or an error string."""
    files = sorted({t.split("::")[0] for t in tests})
    cmd = [fh, "--db", str(db), "hunt", "--runs", str(runs), "--workers", "4", "--seed", "1",
           "--json", *tests, "--", python, "-m", "pytest", "-q", *PYTEST_OPTS, *_EXTRA, *files]
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        return "hunt timed out after an hour"
    try:
        d = json.loads(out.stdout)
    except json.JSONDecodeError:
        return f"hunt failed (exit {out.returncode}): {out.stderr.strip()[-300:]}"
    return {f["id"]: (f["class"], f["claim"]) for f in d.get("findings", [])}


def unpacked(work, spec):
    """The unpacked sdist of `spec` (`name==version`) under `work`, downloaded when missing."""
    sd = work / "sdists"
    sd.mkdir(parents=True, exist_ok=True)
    # Names compare as PyPI normalizes them (`flufl.lock` ships `flufl_lock-8.1.0.tar.gz`).
    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()  # noqa: E731
    name, _, version = spec.partition("==")

    def matches(p):
        stem = p.name
        for ext in (".tar.gz", ".tar.bz2", ".zip"):
            stem = stem.removesuffix(ext)
        n, _, v = stem.rpartition("-")
        return norm(n) == norm(name) and v == version

    have = lambda: [p for p in sd.iterdir() if matches(p)]  # noqa: E731
    if not have():
        # The file straight from the index's JSON API: `pip download` prepares the metadata
        # too, which builds some projects (zeroconf compiles its Cython for over ten minutes).
        try:
            import urllib.request
            req = urllib.request.Request(f"https://pypi.org/simple/{norm(name)}/",
                                         headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                files = json.load(r)["files"]
            for f in files:
                if matches(pathlib.Path(f["filename"])):
                    urllib.request.urlretrieve(f["url"], sd / f["filename"])
                    break
        except (OSError, ValueError, KeyError):
            pass
    if not have():
        # pip saves the sdist before it prepares its metadata, which may fail with a build
        # backend newer than pip (tinydb 4.8.0's poetry-core 2 writes `||` requirements that
        # pip 23 cannot parse): the file is what counts.
        out = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary",
                              ":all:", "--no-deps", spec, "-d", str(sd)])
        if not have():
            raise SystemExit(f"pip download {spec} failed (exit {out.returncode})")
    src = work / "src"
    src.mkdir(exist_ok=True)
    with tarfile.open(have()[0]) as tar:
        top = tar.getnames()[0].split("/")[0]
        if not (src / top).exists():
            tar.extractall(src, filter="data")
    return src / top


def lint(fh, cwd, extra=()):
    out = subprocess.run([fh, "lint", "--format", "json", *extra, "."], cwd=cwd,
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"lint failed in {cwd}: {out.stderr}")
    data = json.loads(out.stdout)
    pairs = set()
    for f in data["findings"]:
        for t in f["tests"]:
            pairs.add((f["rule"], t))
    return data, pairs


# The runs of a whole file, shared by the flagged tests of that file: (cwd, file, n) -> one
# list of (case name, passed, failed) per run. The file's runs are the same experiment for every
# test in it, so they are made once (a slow file with many flagged tests would otherwise be run
# n times per test).
_FILE_RUNS = {}


def _pytest_cases(python, cwd, target):
    """Runs pytest on `target` once in a fresh process (a new PYTHONHASHSEED); returns the
    cases of its JUnit report as (name, failed, skipped)."""
    import xml.etree.ElementTree as ET
    env = dict(os.environ)
    report = pathlib.Path(cwd) / ".lint-rerun.xml"
    env["PYTHONHASHSEED"] = str(random.randint(1, 2**31))
    report.unlink(missing_ok=True)
    # `-o addopts=`: the project's own options (coverage plugins) are not installed.
    cmd = [python, "-m", "pytest", "-q", *PYTEST_OPTS, *_EXTRA, f"--junitxml={report}", *target]
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    try:
        root = ET.fromstring(report.read_text())
    except (OSError, ET.ParseError):
        return []
    return [(case.get("name") or "",
             case.find("failure") is not None or case.find("error") is not None,
             case.find("skipped") is not None)
            for case in root.iter("testcase")]


def rerun(python, cwd, test, n):
    """Runs `test` n times alone and n times with its whole file, in fresh processes; returns
    (passes, failures, flaky) where flaky says whether one case (a parametrized case counts on
    its own) both passed and failed."""
    file = test.split("::")[0]
    name = test.split("::")[-1]
    seen = collections.defaultdict(lambda: [0, 0])  # case -> [passes, failures]
    key = (str(cwd), file, n)
    if key not in _FILE_RUNS:
        _FILE_RUNS[key] = [_pytest_cases(python, cwd, [file]) for _ in range(n)]
    # A test `parameterized.expand` generates has no id of its own: its cases run alone.
    alone = [test] if "[" in test else cases(python, cwd, test, limit=None)
    runs = [_pytest_cases(python, cwd, alone) for _ in range(n)] + _FILE_RUNS[key]
    of = expanded(name)
    for cases_run in runs:
        for case_name, failed, skipped in cases_run:
            if of(case_name):
                if failed:
                    seen[case_name][1] += 1
                elif not skipped:
                    seen[case_name][0] += 1
    passes = sum(p for p, _ in seen.values())
    fails = sum(f for _, f in seen.values())
    return passes, fails, any(p and f for p, f in seen.values())


def main():
    args = sys.argv[1:]
    fh, work = args[0], pathlib.Path(args[1]).resolve()
    n, python, specs, baseline, dn, pedantic = 0, sys.executable, [], None, 0, True
    diag_rules = hunt_rules = None
    hn = 0
    i = 2
    while i < len(args):
        if args[i] == "--rerun":
            n = int(args[i + 1]); i += 2
        elif args[i] == "--python":
            python = args[i + 1]; i += 2
        elif args[i] == "--diagnose":
            dn = int(args[i + 1]); i += 2
        elif args[i] == "--baseline":
            baseline = args[i + 1]; i += 2
        elif args[i] == "--no-pedantic":
            pedantic = False; i += 1
        elif args[i] == "--diagnose-rules":
            diag_rules = set(args[i + 1].split(",")); i += 2
        elif args[i] == "--hunt":
            hn = int(args[i + 1]); i += 2
        elif args[i] == "--hunt-rules":
            hunt_rules = set(args[i + 1].split(",")); i += 2
        else:
            specs.append(args[i]); i += 1
    root = pathlib.Path(__file__).resolve().parent.parent
    # The binaries and the Python run in other directories: make relative paths absolute.
    absolute = lambda x: os.path.abspath(x) if x and os.sep in x else x  # noqa: E731
    fh, python, baseline = absolute(fh), absolute(python), absolute(baseline)
    # One tally per binary: with --baseline, the same flaky labels (one set of reruns, of the
    # union of the tests either flags) score the baseline and the new scan. Two labellings of
    # the real projects' tests: "reruns" (plain reruns only) and, with --diagnose, "reruns or
    # diagnose" (also the tests diagnose confirms under the condition a rule names, and those
    # hunt finds flaky, with --hunt: "reruns, diagnose or hunt").
    exps = (["diagnose"] if dn else []) + (["hunt"] if hn else [])
    conf = "reruns or " + " or ".join(exps) if len(exps) < 2 else "reruns, diagnose or hunt"
    labs = ["reruns"] + ([conf] if exps else [])
    # This build twice: its default rule set, and every rule (`--pedantic`, the tier shown only
    # on request), so the per-rule numbers behind the tiers come from the same labels.
    # (--no-pedantic: the default set only, so the pedantic rules' many findings are neither
    # rerun nor diagnosed.)
    bins = [("this build", fh, ())]
    bins += [("this build, every rule (--pedantic)", fh, ("--pedantic",))] if pedantic else []
    bins += [("baseline", baseline, ())] if baseline else []
    tallies = {label: {"rows": collections.defaultdict(lambda: [0] * (1 + len(labs))),
                       "found_by": {lab: collections.defaultdict(set) for lab in labs},
                       "agree": 0, "findings": []}
               for label, *_ in bins}
    known_flaky = {lab: set() for lab in labs}
    corpora = []
    confirmed_lines = []
    # Flagged tests whose reruns read no result at all (a collection error, a plugin's
    # warning turned into an error by the project's `filterwarnings = error`): they count as
    # stable without having run, so they are listed.
    never_ran = []

    def tally(label, name, pairs, flaky, suspect_of=None):
        """flaky: lab -> set of flaky tests; suspect_of: test -> the diagnose suspect that
        implicated it (for the count of findings confirmed under their own rule's condition)."""
        t = tallies[label]
        t["findings"].append(len(pairs))
        for rule, test in pairs:
            row = t["rows"][rule]
            row[0] += 1
            for k, lab in enumerate(labs):
                if test in flaky[lab]:
                    row[1 + k] += 1
                    t["found_by"][lab][rule].add((name, test))
            if suspect_of is not None and suspect_of.get(test) in RULE_SUSPECTS[rule]:
                t["agree"] += 1

    # flaky-shop
    truth = {}
    for line in (root / "benches/flaky-shop-truth.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            tid, kind = line.split("\t")
            truth[tid] = kind
    shop_flaky = {t for t, k in truth.items() if k != "real bug"}
    for lab in labs:
        known_flaky[lab] |= {("flaky-shop", t) for t in shop_flaky}
    data = None
    for label, binary, extra in bins:
        d, pairs = lint(binary, root / "examples/flaky-shop", extra)
        data = data or d
        tally(label, "flaky-shop", pairs, {lab: shop_flaky for lab in labs})
    corpora.append(("examples/flaky-shop", data["files"], data["tests"],
                    [len(shop_flaky)] * len(labs)))
    # real projects
    for spec in specs:
        spec, _, opts = spec.partition("@")
        _EXTRA[:] = shlex.split(opts)
        name = spec.split("==")[0]
        proj = unpacked(work, spec)
        linted = [(label, *lint(binary, proj, extra)) for label, binary, extra in bins]
        data = linted[0][1]
        flaky = {lab: set() for lab in labs}
        suspect_of = {}
        rules_of = collections.defaultdict(set)
        for _, _, pairs in linted:
            for rule, t in pairs:
                rules_of[t].add(rule)
        for t in sorted(rules_of):
            if n:
                p, f, flips = rerun(python, proj, t, n)
                print(f"  rerun {name} {t}: {p} passed, {f} failed"
                      f"{', flaky' if flips else ''}", file=sys.stderr)
                if p + f == 0:
                    never_ran.append(f"{name} {t}")
                if flips:
                    for lab in labs:
                        flaky[lab].add(t)
            # A flake the plain reruns caught needs no experiment to count (and one that fails
            # under every condition, as it does, would run diagnose's longest course).
            # --diagnose-rules: only the findings of those rules are diagnosed (a suite with
            # many slow flagged tests: rq's took minutes a diagnosis).
            rules = rules_of[t] if diag_rules is None else rules_of[t] & diag_rules
            if dn and rules and t not in flaky["reruns"]:
                suspects = sorted({s for r in rules for s in RULE_SUSPECTS[r]})
                db = work / "diagnose" / f"{name}.db"
                db.parent.mkdir(parents=True, exist_ok=True)
                # A parametrized test is confirmed when one of its cases is.
                for case in cases(python, proj, t):
                    cat, suspect, verdict = diagnose(fh, python, proj, case, suspects, dn, db)
                    line = (f"{name} {case} [{', '.join(sorted(rules_of[t]))}] --only "
                            f"{','.join(suspects)}: {verdict}")
                    print(f"  diagnose {line}", file=sys.stderr)
                    if cat:
                        flaky[conf].add(t)
                        suspect_of[t] = suspect
                        confirmed_lines.append(line)
                        break
        # Hunt the flagged tests not yet confirmed, together (tests of one file, or of two
        # files, that share a path collide only beside each other).
        hunted = sorted(t for t in rules_of if t not in flaky[labs[-1]]
                        and (hunt_rules is None or rules_of[t] & hunt_rules))
        if hn and hunted:
            db = work / "hunt" / f"{name}.db"
            db.parent.mkdir(parents=True, exist_ok=True)
            got = hunt(fh, python, proj, hunted, hn, db)
            if isinstance(got, str):
                print(f"  hunt {name}: {got}", file=sys.stderr)
                got = {}
            for t in hunted:
                mine = {i: c for i, c in got.items() if i == t or i.startswith(t + "[")}
                worst = next((c for c in mine.values() if c[0] in HUNT_FLAKY), None)
                shown = worst or next(iter(mine.values()), ("not hunted", ""))
                print(f"  hunt {name} {t}: {shown[0]} {shown[1]}".rstrip(), file=sys.stderr)
                if worst:
                    flaky[conf].add(t)
        for lab in labs:
            known_flaky[lab] |= {(name, t) for t in flaky[lab]}
        corpora.append((spec, data["files"], data["tests"], [len(flaky[lab]) for lab in labs]))
        for label, _, pairs in linted:
            tally(label, name, pairs, flaky, suspect_of if dn else None)

    heads = " | ".join(f"findings ({label})" for label, *_ in bins)
    kf = " | ".join(f"known flaky ({lab})" for lab in labs)
    print(f"| corpus | test files | tests | {kf} | {heads} |")
    print("|---|---:|---:|" + "---:|" * (len(labs) + len(bins)))
    for i, c in enumerate(corpora):
        counts = " | ".join(str(tallies[label]["findings"][i]) for label, *_ in bins)
        kfs = " | ".join(str(k) for k in c[3])
        print(f"| {c[0]} | {c[1]} | {c[2]} | {kfs} | {counts} |")
    for label, *_ in bins:
        rows, found_by = tallies[label]["rows"], tallies[label]["found_by"]
        print()
        print(f"{label}:")
        print()
        on = " | ".join(f"on flaky tests ({lab})" for lab in labs)
        pr = " | ".join(f"precision ({lab})" for lab in labs)
        rc = " | ".join(f"recall ({lab})" for lab in labs)
        print(f"| rule | findings | {on} | {pr} | {rc} |")
        print("|---|---:|" + "---:|" * (3 * len(labs)))
        total = [0] * (1 + len(labs))
        for rule in RULES:
            row = rows[rule]
            total = [a + b for a, b in zip(total, row)]
            ons = " | ".join(str(x) for x in row[1:])
            precs = " | ".join(f"{x / row[0]:.2f}" if row[0] else "–" for x in row[1:])
            recs = " | ".join(f"{len(found_by[lab][rule])}/{len(known_flaky[lab])}"
                              for lab in labs)
            print(f"| `{rule}` | {row[0]} | {ons} | {precs} | {recs} |")
        ons = " | ".join(str(x) for x in total[1:])
        precs = " | ".join(f"{x / total[0]:.2f}" if total[0] else "–" for x in total[1:])
        recs = []
        for lab in labs:
            found = set().union(*found_by[lab].values()) if found_by[lab] else set()
            k = len(known_flaky[lab])
            recs.append(f"{len(found)}/{k} = {len(found) / k if k else 0:.2f}")
        print(f"| **all** | {total[0]} | {ons} | {precs} | {' | '.join(recs)} |")
        if dn:
            print(f"\n{label}: {tallies[label]['agree']} findings confirmed by diagnose under "
                  "their own rule's condition")
    if never_ran:
        print(f"\n{len(never_ran)} flagged tests read no result in their reruns (counted as "
              "stable without having run; check the project's pytest set-up):")
        for line in never_ran:
            print(f"  {line}")
    if confirmed_lines:
        print("\nconfirmed by diagnose:")
        for line in confirmed_lines:
            print(f"  {line}")

if __name__ == "__main__":
    main()
