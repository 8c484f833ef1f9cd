"""flakehound's pytest plugin: runs a chosen set of tests, in a chosen order, a chosen number of times.

flakehound writes this file to a scratch directory, puts that directory on PYTHONPATH and loads it
with `-p flakehound_pytest`. It is driven by environment variables, all optional:

FLAKEHOUND_PYTEST_SELECT=<file>
    Run only the tests named in the file (UTF-8, one entry a line). A line names a test when it
    equals the test's node id, or equals `<classname>\t<name>` as pytest's JUnit XML report writes
    them (the fallback for tests whose report `file` is not their node id's path, e.g. a test
    method inherited from a class in another file). Other tests are deselected.
FLAKEHOUND_PYTEST_ORDER=shuffle:<seed> | reverse | given
    shuffle: a random order, the same for the same seed and collection (PYTHONHASHSEED has no
    effect: the generator is seeded with an integer, which is never hashed); reverse: the
    collection order reversed; given: the order of the lines of the select file.
FLAKEHOUND_PYTEST_REPEAT=<n>
    Run each test n times in a row in this process. Each run is a separate JUnit record with the
    same classname and name, so flakehound counts them as attempts of one test.
FLAKEHOUND_PYTEST_RANDOM_SEED=<n>
    Before each test, seed Python's `random` (and numpy's global generator, when numpy is
    imported) with n: `flakehound diagnose` fixes or varies it to test the randomness suspect.
FLAKEHOUND_PYTEST_THREADS=serial | interleave
    How threads take turns, for `flakehound diagnose`'s thread-race experiment:
    serial: a thread runs 1 s before it is asked to hand over the GIL (CPython's default is
    5 ms), so threads rarely interleave; interleave: every thread started from now on hands
    the GIL over at each line it runs (a trace function that sleeps 0 s), so a read-modify-write
    spread over two lines or a call is almost always interleaved. Either way the switch interval
    is held: a test calling sys.setswitchinterval does not change it for the run. Interleaving
    slows the traced threads down (about 8x on a tight loop); threads started before pytest
    configured this plugin are not traced.

FLAKEHOUND_PYTEST_STATUS=<file>
    At the end of the session, write what pytest's exit status is made of, as JSON, for
    `flakehound run` to tell a test failure from any other: the status pytest computed from its
    tests and the one it ends with (a pytest_sessionfinish hook can change it), the failures
    pytest counted against the failed reports it saw (pytest-cov's --cov-fail-under adds one of
    its own), an exception raised by a pytest_sessionfinish hook, the active plugins flakehound
    cares about (pytest-randomly and its seed, pytest-rerunfailures, pytest-cov, xdist), and
    pytest-rerunfailures' reruns (failed attempts it hides from the JUnit report). Written by the
    main process only (not by xdist workers), replaced atomically.

Kept compatible with Python 3.8 and pytest 7+.
"""

import os
import random
import sys
import threading
import time

import pytest

SELECT_VAR = "FLAKEHOUND_PYTEST_SELECT"
ORDER_VAR = "FLAKEHOUND_PYTEST_ORDER"
REPEAT_VAR = "FLAKEHOUND_PYTEST_REPEAT"
RANDOM_SEED_VAR = "FLAKEHOUND_PYTEST_RANDOM_SEED"
THREADS_VAR = "FLAKEHOUND_PYTEST_THREADS"
STATUS_VAR = "FLAKEHOUND_PYTEST_STATUS"


def junit_names(nodeid):
    """The (classname, name) pytest's junitxml plugin writes for a node id.

    The same computation as `_pytest.junitxml.mangle_test_address` (without --junit-prefix):
    parameters are split off first, so `::`, `/` or `.` inside them are left alone.
    """
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = names[0].replace("/", ".")
    if names[0].endswith(".py"):
        names[0] = names[0][: -len(".py")]
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


class Settings:
    def __init__(self):
        self.select = None  # {line: first line number}, or None to keep every test
        self.order = None  # None, "reverse", "given" or ("shuffle", seed)
        self.repeat = 1
        self.threads = None  # None, "serial" or "interleave"

    @classmethod
    def from_env(cls):
        s = cls()
        path = os.environ.get(SELECT_VAR)
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise pytest.UsageError(f"{SELECT_VAR}: cannot read {path}: {e}")
            s.select = {}
            # Split on "\n" only: str.splitlines() would also split on characters such as
            # U+2028 that may legitimately appear in a test id.
            for number, line in enumerate(text.split("\n")):
                line = line.rstrip("\r")
                if line and line not in s.select:
                    s.select[line] = number

        order = os.environ.get(ORDER_VAR, "").strip()
        if order in ("reverse", "given"):
            s.order = order
        elif order.startswith("shuffle:"):
            try:
                s.order = ("shuffle", int(order[len("shuffle:") :]))
            except ValueError:
                raise pytest.UsageError(f"{ORDER_VAR}: bad seed in {order!r}")
        elif order:
            raise pytest.UsageError(
                f"{ORDER_VAR}: unknown order {order!r} (expected shuffle:<seed>, reverse or given)"
            )

        repeat = os.environ.get(REPEAT_VAR, "").strip()
        if repeat:
            try:
                s.repeat = int(repeat)
            except ValueError:
                s.repeat = 0
            if s.repeat < 1:
                raise pytest.UsageError(f"{REPEAT_VAR}: expected a positive number, got {repeat!r}")
        threads = os.environ.get(THREADS_VAR, "").strip()
        if threads in ("serial", "interleave"):
            s.threads = threads
        elif threads:
            raise pytest.UsageError(
                f"{THREADS_VAR}: unknown mode {threads!r} (expected serial or interleave)"
            )
        return s

    def rank(self, item):
        """Line number of the first select line naming `item`, or None."""
        ranks = [self.select.get(item.nodeid)]
        classname, name = junit_names(item.nodeid)
        if classname:
            ranks.append(self.select.get(classname + "\t" + name))
        ranks = [r for r in ranks if r is not None]
        return min(ranks) if ranks else None


_settings = None


def pytest_configure(config):
    global _settings
    _settings = Settings.from_env()
    if _settings.repeat > 1:
        config.pluginmanager.register(Repeater(_settings.repeat), "flakehound-repeat")
    if _settings.threads is not None:
        control_threads(_settings.threads)


def _hand_over(frame, event, arg):
    """Trace function of the interleave mode: give the GIL away at every call and line."""
    time.sleep(0)
    return _hand_over


def control_threads(mode):
    sys.setswitchinterval(1.0 if mode == "serial" else 0.005)
    # Hold the setting: the experiment, not the test, decides how often threads switch.
    sys.setswitchinterval = lambda interval: None
    if mode == "interleave":
        threading.settrace(_hand_over)


def pytest_report_header(config):
    s = _settings
    if s is None:
        return None
    parts = []
    if s.select is not None:
        parts.append("selection from " + os.environ.get(SELECT_VAR, ""))
    if s.order is not None:
        parts.append("order " + (s.order if isinstance(s.order, str) else "shuffle:%d" % s.order[1]))
    if s.repeat > 1:
        parts.append("repeat %d" % s.repeat)
    if s.threads is not None:
        parts.append("threads " + s.threads)
    return "flakehound: " + ", ".join(parts) if parts else None


# trylast: select and order the final list, after -k/-m deselection and after any plugin that
# reorders items (pytest-randomly...), so the order asked for is the order run.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    s = _settings
    if s is None:
        return
    kept = items
    if s.select is not None:
        kept, deselected, ranks = [], [], {}
        for item in items:
            rank = s.rank(item)
            if rank is None:
                deselected.append(item)
            else:
                kept.append(item)
                ranks[id(item)] = rank
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        if s.order == "given":
            # Stable: items named by the same line (cannot normally happen) keep their order.
            kept.sort(key=lambda item: ranks[id(item)])
    if s.order == "reverse":
        kept = kept[::-1]
    elif isinstance(s.order, tuple):
        kept = list(kept)
        random.Random(s.order[1]).shuffle(kept)
    items[:] = kept


def pytest_runtest_setup(item):
    seed = os.environ.get(RANDOM_SEED_VAR)
    if not seed:
        return
    try:
        n = int(seed)
    except ValueError:
        return
    random.seed(n)
    numpy = __import__("sys").modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed(n % (2**32))
        except Exception:  # an exotic numpy: leave it unseeded rather than fail the test
            pass


class Repeater:
    """Runs each test `n` times in a row, each run a complete protocol with its own reports."""

    def __init__(self, n):
        self.n = n

    # tryfirst, returning True: this replaces pytest's own protocol for each item (hook wrappers
    # such as logging, warnings and faulthandler still wrap it).
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        # The same entry point pytest-rerunfailures uses to run an item again.
        from _pytest.runner import runtestprotocol

        # A doctest empties its namespace when it finishes (doctest's clear_globs): keep a copy
        # to give every run the namespace the first one had.
        globs = getattr(getattr(item, "dtest", None), "globs", None)
        saved_globs = dict(globs) if isinstance(globs, dict) else None

        for run in range(self.n):
            last = run == self.n - 1
            if run > 0 and saved_globs is not None:
                item.dtest.globs.clear()
                item.dtest.globs.update(saved_globs)
            # Between runs, tear the item down as if the next test were a sibling: its parent
            # (module, class) is passed as "next", so only the item's own (function-scoped)
            # fixtures are finalized and set up again, while module and class fixtures live on.
            # Passing the item itself would tear down nothing, and its next run would reuse
            # stale fixtures. After the last run, the real next item decides as usual.
            following = nextitem if last else item.parent
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            # runtestprotocol re-initialises the item's fixture request on a re-run. Each run ends
            # with a teardown report, which makes the junitxml plugin close the record, so the
            # next run opens a new <testcase> with the same classname and name.
            runtestprotocol(item, log=True, nextitem=following)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            if item.session.shouldfail or item.session.shouldstop:
                # -x / --maxfail: pytest stops after this item; so do the repeats. runtestprotocol
                # already tore everything down (it passes nextitem=None in that case).
                break
        return True


# What the exit status is made of (FLAKEHOUND_PYTEST_STATUS).
_failed_reports = 0
_reruns = []
# Plugin names (as registered by their entry points) worth knowing about.
_WATCHED = ("randomly", "rerunfailures", "pytest_cov", "xdist.plugin")


def _first_line(report):
    text = getattr(report, "longreprtext", "") or ""
    lines = [line for line in text.splitlines() if line.strip()]
    # pytest puts the exception line ("E   AssertionError: ...") last among the E lines.
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    line = errors[0] if errors else (lines[-1] if lines else "")
    return line[:2000]


def pytest_runtest_logreport(report):
    global _failed_reports
    # The same count pytest's Session keeps in `testsfailed`.
    if report.failed and not hasattr(report, "wasxfail"):
        _failed_reports += 1
    if getattr(report, "outcome", None) == "rerun" and len(_reruns) < 100000:
        _reruns.append({"nodeid": report.nodeid, "when": report.when, "message": _first_line(report)})


def pytest_collectreport(report):
    global _failed_reports
    if report.failed:
        _failed_reports += 1


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    before = int(session.exitstatus)
    outcome = yield
    path = os.environ.get(STATUS_VAR)
    config = session.config
    if not path or hasattr(config, "workerinput"):
        return
    error = None
    excinfo = getattr(outcome, "excinfo", None)
    if excinfo is not None and excinfo[1] is not None:
        error = "%s: %s" % (type(excinfo[1]).__name__, excinfo[1])
    plugins = [name for name in _WATCHED if config.pluginmanager.has_plugin(name)]
    seed = getattr(config.option, "randomly_seed", None)
    data = {
        "exit_before_hooks": before,
        "exit": int(session.exitstatus),
        "testsfailed": int(getattr(session, "testsfailed", 0)),
        "failed_reports": _failed_reports,
        "sessionfinish_error": error,
        "plugins": plugins,
        "randomly_seed": seed if isinstance(seed, int) else None,
        "reruns": _reruns,
    }
    import json

    try:
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)
    except OSError:
        pass  # flakehound reads a missing file as "nothing known"
