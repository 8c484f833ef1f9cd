"""Generates a synthetic pytest project for benches/lint.sh: N test files of about 60 lines each
(five tests per file, a mix of clean code and the shapes `flakehound lint` looks for) that import
a small `app` package, so the scan also follows calls into project modules.

Usage: python3 benches/lint_gen.py DIR N
"""

import os
import sys

APP = {
    "app/__init__.py": "",
    "app/clock.py": (
        "from datetime import date, datetime, timezone\n\n"
        "def today(day=None):\n    return day or date.today()\n\n"
        "def stamp():\n    return datetime.now(timezone.utc).isoformat()\n"
    ),
    "app/ids.py": (
        "import random\n\n"
        "def new_id(prefix='ID'):\n    return f'{prefix}-{random.randint(1, 10**8)}'\n\n"
        "def fixed_id(n):\n    return f'ID-{n:08d}'\n"
    ),
    "app/store.py": (
        "_items = []\nsettings = {'mode': 'normal'}\n\n"
        "def add(item):\n    _items.append(item)\n    return len(_items)\n\n"
        "def items():\n    return list(_items)\n\n"
        "def mode():\n    return settings['mode']\n\n"
        "def configure(**kw):\n    settings.update(kw)\n"
    ),
    "app/text.py": (
        "def tags(words):\n    return ','.join(sorted(set(words)))\n\n"
        "def loose_tags(words):\n    return ','.join(w for w in set(words))\n"
    ),
}

TEMPLATE = '''import time
import threading
from decimal import Decimal

import pytest

from app import store
from app.clock import today, stamp
from app.ids import new_id, fixed_id
from app.text import tags, loose_tags

RATE = Decimal("0.19")


def helper_{n}(x):
    return [x * i for i in range({m})]


def test_sum_{n}():
    assert sum(helper_{n}(2)) == {total}


def test_ids_{n}():
    assert fixed_id({n}) == "ID-{n:08d}"
    if {n} % 7 == 0:
        assert new_id().startswith("ID-")


def test_tags_{n}():
    assert tags(["b", "a", "b"]) == "a,b"
    if {n} % 11 == 0:
        assert loose_tags(["b", "a"]) == "a,b"


class TestStore{n}:
    def setup_method(self):
        self.base = {n}

    def test_mode(self):
        assert store.mode() == "normal"

    def test_timing(self):
        started = time.perf_counter()
        helper_{n}(3)
        elapsed = time.perf_counter() - started
        if {n} % 13 == 0:
            assert elapsed < 0.5
        assert elapsed >= 0


def test_worker_{n}(tmp_path):
    out = []
    t = threading.Thread(target=out.append, args=(1,))
    t.start()
    t.join(timeout=5)
    (tmp_path / "x.txt").write_text(str(out))
    assert out == [1]
    assert today(day=None) is not None or stamp()
'''


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "pytest.ini"), "w") as f:
        f.write("[pytest]\n")
    for path, text in APP.items():
        p = os.path.join(root, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    per_dir = 500
    for i in range(n):
        d = os.path.join(root, "tests", f"group{i // per_dir:03d}")
        os.makedirs(d, exist_ok=True)
        m = 3 + i % 5
        total = sum(2 * k for k in range(m))
        with open(os.path.join(d, f"test_mod{i:05d}.py"), "w") as f:
            f.write(TEMPLATE.format(n=i, m=m, total=total))


if __name__ == "__main__":
    main()
