"""Outcome classification, with small purpose-made children that really allocate,
segfault, raise MemoryError, sleep past a timeout or fail, run through the same
supervisor the bench uses. Plus the pure rules on synthetic observations."""

from __future__ import annotations

import signal
import sys

import pytest

from migbench.bench.measure import limiters
from migbench.bench.measure.outcome import MEMORY_ERROR_EXIT, classify
from migbench.bench.measure.supervisor import supervise

ALLOCATE = "import time; blob = bytearray(%d); blob[::4096] = b'x' * len(blob[::4096]); time.sleep(0.3)"
SEGFAULT = "import ctypes; ctypes.string_at(0)"
RAISE_MEMORY_ERROR = "raise MemoryError('purpose-made')"
BIG_LIST = "x = [0] * (2 ** 40)"  # an 8 TiB list: MemoryError under any RLIMIT_AS
SLEEP = "import time; time.sleep(30)"
FAIL = "import sys; sys.stderr.write('Traceback...\\nValueError: broken\\n'); sys.exit(4)"


def observe(tmp_path, code, limiter=None, timeout=None):
    limiter = limiter or limiters.choose("none", None)
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        with limiter:
            child = supervise(limiter.command([sys.executable, "-c", code]), cwd=tmp_path, env={},
                              stdout=out, stderr=err, preexec=limiter.preexec, timeout=timeout)
            reading = limiter.read()
    stderr = (tmp_path / "err").read_text(errors="replace")
    outcome = classify(exit_code=child.exit_code, signal_number=child.signal, timed_out=child.timed_out,
                       oom_kills=reading.oom_kills, stderr_tail=stderr,
                       limit_bytes=limiter.limit_bytes, peak_bytes=reading.peak_bytes or child.peak_rss_bytes)
    return outcome, child, reading


def test_ok_and_peak_rss(tmp_path):
    outcome, child, _ = observe(tmp_path, ALLOCATE % (60 * 2**20))
    assert outcome.name == "ok"
    assert child.peak_rss_bytes >= 60 * 2**20
    assert child.samples, "the supervisor sampled the child's RSS"
    assert child.cpu_user_s + child.cpu_sys_s > 0


def test_segfault(tmp_path):
    outcome, child, _ = observe(tmp_path, SEGFAULT)
    assert child.signal == signal.SIGSEGV
    assert outcome.name == "segfault"


def test_memory_error_raised(tmp_path):
    outcome, child, _ = observe(tmp_path, RAISE_MEMORY_ERROR)
    assert child.exit_code == 1
    assert outcome.name == "memory-error"


def test_memory_error_under_rlimit(tmp_path):
    limiter = limiters.choose("rlimit", 256 * 2**20)
    outcome, _, _ = observe(tmp_path, BIG_LIST, limiter)
    assert outcome.name == "memory-error"


def test_timeout(tmp_path):
    outcome, child, _ = observe(tmp_path, SLEEP, timeout=0.5)
    assert child.timed_out and child.signal == signal.SIGKILL
    assert outcome.name == "timeout"


def test_error_keeps_the_last_line(tmp_path):
    outcome, child, _ = observe(tmp_path, FAIL)
    assert child.exit_code == 4
    assert outcome.name == "error" and "ValueError: broken" in outcome.reason


def _cgroup1_or_skip():
    try:
        limiter = limiters.choose("cgroup1", 64 * 2**20)
    except limiters.LimiterError as error:
        pytest.skip("cgroup v1 memory controller not usable here: %s" % error)
    return limiter


def test_oom_killed_under_cgroup(tmp_path):
    outcome, child, reading = observe(tmp_path, ALLOCATE % (300 * 2**20), _cgroup1_or_skip())
    assert child.signal == signal.SIGKILL
    assert reading.oom_kills and reading.oom_kills >= 1
    assert outcome.name == "oom-killed"


@pytest.mark.parametrize("observed, expected", [
    (dict(exit_code=0, signal_number=None, timed_out=False, oom_kills=0), "ok"),
    (dict(exit_code=None, signal_number=9, timed_out=False, oom_kills=2), "oom-killed"),
    (dict(exit_code=None, signal_number=9, timed_out=False, oom_kills=0), "error"),
    (dict(exit_code=None, signal_number=9, timed_out=False, oom_kills=None,
          limit_bytes=100, peak_bytes=97), "oom-killed"),
    (dict(exit_code=None, signal_number=9, timed_out=False, oom_kills=None,
          limit_bytes=100, peak_bytes=40), "error"),
    (dict(exit_code=137, signal_number=None, timed_out=False, oom_kills=1), "oom-killed"),
    (dict(exit_code=139, signal_number=None, timed_out=False, oom_kills=0), "segfault"),
    (dict(exit_code=None, signal_number=7, timed_out=False, oom_kills=0), "segfault"),
    (dict(exit_code=MEMORY_ERROR_EXIT, signal_number=None, timed_out=False, oom_kills=None), "memory-error"),
    (dict(exit_code=None, signal_number=9, timed_out=True, oom_kills=1), "timeout"),
    (dict(exit_code=1, signal_number=None, timed_out=False, oom_kills=0,
          stderr_tail="Traceback\n  raise MemoryError\nValueError: not memory"), "error"),
])
def test_rules(observed, expected):
    observed.setdefault("stderr_tail", "")
    assert classify(**observed).name == expected


def test_a_cap_too_small_to_start_python_says_so(tmp_path):
    """Under a 4M RLIMIT_AS the dynamic loader cannot map the interpreter's libraries (exit 127):
    the cap refused memory, so it is a memory error, and the reason says the cap was too small."""
    outcome, child, _ = observe(tmp_path, "pass", limiters.choose("rlimit", 4 * 2**20))
    assert child.exit_code != 0
    assert outcome.name == "memory-error"
    assert outcome.reason.startswith("the cap of 4M is too small to start Python: "), outcome.reason


# What real children printed under tiny RLIMIT_AS caps (`migbench run quick --limiter rlimit
# --memory 4M..40M`, Django 5.2 on Python 3.11 and 1.8 on 2.7), and the reason each now gets.
LOADER = ("/root/.cache/migbench/envs/py3.11.7-django5.2.19/bin/python: error while loading shared libraries: "
          "libc.so.6: failed to map segment from shared object")
FATAL = ("Traceback (most recent call last):\n  File \"<frozen importlib._bootstrap>\", line 1363, in "
         "_install_external_importers\nMemoryError\nFatal Python error: init_importlib_external: external "
         "importer setup failed\nPython runtime state: core initialized\n\nCurrent thread 0x7f (most recent "
         "call first):\n  <no Python frame>")
MAPPING = ("Traceback (most recent call last):\n  File \"django/utils/http.py\", line 4, in <module>\n    import "
           "unicodedata\nImportError: /lib/python3.11/lib-dynload/unicodedata.so: failed to map segment from "
           "shared object")
ENOMEM = ("Traceback (most recent call last):\n  File \"<frozen importlib._bootstrap_external>\", line 1659, in "
          "_fill_cache\nOSError: [Errno 12] Cannot allocate memory: '/site-packages/django/urls'")
TRACEBACK = "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nMemoryError"


@pytest.mark.parametrize("exit_code, stderr, expected, reason", [
    (127, LOADER, "memory-error", "the cap of 8M is too small to start Python: error while loading shared "
                                  "libraries: libc.so.6: failed to map segment from shared object"),
    (1, FATAL, "memory-error", "the cap of 8M is too small to start Python: Fatal Python error: "
                               "init_importlib_external: external importer setup failed (MemoryError)"),
    (1, "no mem to add parser accelerators", "memory-error",
     "the cap of 8M is too small to start Python: no mem to add parser accelerators"),
    (1, "MemoryError", "memory-error", "the cap of 8M is too small to start Python: MemoryError while the "
                                       "interpreter started"),
    (1, MAPPING, "memory-error", "the cap of 8M is too small: ImportError: /lib/python3.11/lib-dynload/"
                                 "unicodedata.so: failed to map segment from shared object"),
    (1, ENOMEM, "memory-error", "the cap of 8M is too small: OSError: [Errno 12] Cannot allocate memory: "
                                "'/site-packages/django/urls'"),
    (MEMORY_ERROR_EXIT, TRACEBACK, "memory-error", "Python raised MemoryError: the cap of 8M is too small"),
    # no evidence that memory was refused: the cap is not blamed
    (1, "Traceback...\nImportError: cannot import name 'md5' from 'hashlib'", "error",
     "exit status 1: ImportError: cannot import name 'md5' from 'hashlib'"),
    (127, "python: error while loading shared libraries: libfoo.so: cannot open shared object file", "error",
     "exit status 127: python: error while loading shared libraries: libfoo.so: cannot open shared object file"),
    (1, "Fatal Python error: Cannot recover from MemoryErrors while normalizing exceptions.\nMemoryError",
     "memory-error", "Python raised MemoryError: the cap of 8M is too small"),
])
def test_a_tiny_cap_is_named_in_the_reason(exit_code, stderr, expected, reason):
    outcome = classify(exit_code=exit_code, signal_number=None, timed_out=False, oom_kills=None,
                       stderr_tail=stderr, limit_bytes=8 * 2**20, peak_bytes=7 * 2**20)
    assert (outcome.name, outcome.reason) == (expected, reason)


@pytest.mark.parametrize("stderr", [LOADER, MAPPING, ENOMEM, "no mem to add parser accelerators"])
def test_memory_refused_without_a_cap_is_not_blamed_on_one(stderr):
    outcome = classify(exit_code=1, signal_number=None, timed_out=False, oom_kills=None, stderr_tail=stderr)
    assert outcome.name == "error" and "cap" not in outcome.reason


def test_without_a_cap_memory_error_reasons_are_unchanged():
    for stderr in ("MemoryError", FATAL, TRACEBACK):
        outcome = classify(exit_code=1, signal_number=None, timed_out=False, oom_kills=None, stderr_tail=stderr)
        assert (outcome.name, outcome.reason) == ("memory-error", "Python raised MemoryError")


def test_a_segfault_under_a_cap_names_the_cap():
    outcome = classify(exit_code=None, signal_number=signal.SIGSEGV, timed_out=False, oom_kills=None,
                       stderr_tail="", limit_bytes=8 * 2**20)
    assert (outcome.name, outcome.reason) == ("segfault", "killed by SIGSEGV under the cap of 8M")
    assert classify(exit_code=None, signal_number=signal.SIGSEGV, timed_out=False, oom_kills=None,
                    stderr_tail="").reason == "killed by SIGSEGV"


def test_a_big_parent_does_not_inflate_the_childs_peak(tmp_path):
    """The kernel carries the pre-exec high-water mark across exec: a child forked
    from a 300 MB parent reports ru_maxrss >= 300 MB. The record must not."""
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    _, child, _ = observe(tmp_path, ALLOCATE % (30 * 2**20))
    assert child.maxrss_bytes >= 300 * 2**20 and not child.maxrss_trusted
    assert 30 * 2**20 <= child.peak_rss_bytes < 150 * 2**20
    del ballast
