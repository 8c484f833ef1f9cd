#!/usr/bin/env python3
"""Pooled precision and recall of `flakehound lint` over every labelled corpus (issue 20).

The labels are `benches/lint-labels.json`: for each real project (a PyPI sdist, `name==version`),
the flagged tests that the rounds' reruns and diagnoses found flaky, and those they found
stable (every test any measured build flagged by default was labelled in its round; see the
README's "Measured"). examples/flaky-shop's truth is `benches/flaky-shop-truth.txt`. This
lints every corpus with the given build, with no reruns, so a new build's pooled number comes
in a minute; pairs on tests no round labelled are counted apart ("unlabelled"), not guessed.

Usage: python3 benches/lint_pool.py FLAKEHOUND [--work DIR] [--pedantic]
  --work DIR   where the sdists are downloaded and unpacked (default target/bench/lint-corpus,
               shared with benches/lint_precision.sh)
  --pedantic   score every rule, not the default set (the pedantic rules' findings were mostly
               not labelled: expect many unlabelled pairs)
"""

import json
import pathlib
import sys

# The sdists and the scan as benches/lint_precision.py handles them (this directory is on the
# path when the script runs).
from lint_precision import lint, unpacked


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    root = pathlib.Path(__file__).resolve().parent.parent
    fh = str(pathlib.Path(args[0]).resolve()) if "/" in args[0] else args[0]
    work = root / "target" / "bench" / "lint-corpus"
    pedantic = "--pedantic" in args
    if "--work" in args:
        work = pathlib.Path(args[args.index("--work") + 1]).resolve()
    labels = json.loads((root / "benches" / "lint-labels.json").read_text())
    truth = [line.split("\t") for line in
             (root / "benches" / "flaky-shop-truth.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    corpora = [("examples/flaky-shop", root / "examples" / "flaky-shop",
                {t for t, kind in truth if kind != "real bug"},
                {t for t, kind in truth if kind == "real bug"}, True)]
    corpora += [(spec, None, set(lab["flaky"]), set(lab["stable"]), False)
                for spec, lab in sorted(labels.items(), key=lambda kv: kv[0].lower())]
    print("| corpus | findings | on flaky tests | unlabelled | known flaky found |")
    print("|---|---:|---:|---:|---:|")
    tot = hit = unl = known = found = 0
    real = real_hit = 0
    places = [0, 0, 0]  # labelled places, places on a flake, unlabelled places
    per_rule = {}  # rule -> [labelled pairs, pairs on a flake]
    for name, path, flaky, stable, shop in corpora:
        path = path or unpacked(work, name)
        data, pairs = lint(fh, path, ["--pedantic"] if pedantic else [])
        # The same scan counted by place (one finding as the tool prints it, with every test
        # that reaches it): on a flake when one of its tests is a confirmed flake; unlabelled
        # when it is not and one of its tests has no label.
        for f in data["findings"]:
            ts = set(f["tests"])
            if ts & flaky:
                places[0] += 1
                places[1] += 1
            elif shop or ts <= stable:
                places[0] += 1
            else:
                places[2] += 1
        for rule, t in pairs:
            if shop or t in flaky | stable:
                row = per_rule.setdefault(rule, [0, 0])
                row[0] += 1
                row[1] += t in flaky
        on_flaky = sum(1 for _, t in pairs if t in flaky)
        # flaky-shop's truth names every test: what is not flaky is a negative.
        unlabelled = 0 if shop else sum(1 for _, t in pairs if t not in flaky | stable)
        got = len({t for _, t in pairs if t in flaky})
        tot += len(pairs)
        hit += on_flaky
        unl += unlabelled
        known += len(flaky)
        found += got
        if not shop:
            real += len(pairs)
            real_hit += on_flaky
        if pairs or flaky:
            print(f"| {name} | {len(pairs)} | {on_flaky} | {unlabelled} | {got}/{len(flaky)} |")
    labelled = tot - unl
    print(f"| **all** | {tot} | {hit} | {unl} | {found}/{known} |")
    print()
    prec = hit / labelled if labelled else float("nan")
    print(f"pooled precision {hit}/{labelled} = {prec:.2f} (unlabelled pairs left out: {unl}); "
          f"recall {found}/{known} = {found / known:.2f}; real projects alone: "
          f"{real_hit} of {real} findings on a confirmed flake")
    print(f"by place (one finding as printed, with all the tests that reach it): "
          f"{places[1]}/{places[0]} = {places[1] / max(places[0], 1):.2f} "
          f"(unlabelled places left out: {places[2]})")
    print()
    print("| rule | findings | on flaky tests | precision |")
    print("|---|---:|---:|---:|")
    for rule, (n, k) in sorted(per_rule.items(), key=lambda kv: -kv[1][0]):
        print(f"| `{rule}` | {n} | {k} | {k / n:.2f} |")


if __name__ == "__main__":
    main()
