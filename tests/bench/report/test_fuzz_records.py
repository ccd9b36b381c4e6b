"""Damaged record files against `migbench report`, `migbench compare` and the end of `migbench run`.

Property-based (hypothesis): real records (tests/data/results) are copied and
one is damaged the ways files get damaged: truncated at a byte, bytes flipped,
a value anywhere in the tree replaced by a JSON value of another type, NaN or
Infinity put in a number, a key deleted, a value nested up to 100,000 deep,
bytes that are not UTF-8 inserted. Then:

- `migbench report` and `migbench compare` (migbench.cli.main, in-process)
  either succeed or refuse with exit status 2 and exactly one stderr line
  `migbench: error: ...` naming the damaged file, whether it was named on the
  command line or found in a directory; never a traceback, never `nan` or
  `inf` in what they print or write, nothing written when they refuse, and
  every input file byte-identical afterwards;
- the end of `migbench run` (what commands/run.py calls: terminal.py's
  records_by_cell and tables, then common.report_after_run) never raises,
  keeps every intact record in its summary, and names the damaged file when
  it leaves it out.

No Django runs. About 10 s for the three tests together (150, 150 and 100 examples).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, event, given, settings, strategies as st
from support import DATA

from migbench.bench.records import ResultStore, load_record
from migbench.bench.report.terminal import invalid_lines, records_by_cell, strategy_lines, summary_lines
from migbench.cli import main
from migbench.commands.common import report_after_run

# Real records, chosen for what they hold: a crash (oom-killed, error tails), a strategy with
# every later field (steps, validation, transform, dev_loop, deploy), a bisect probe.
SOURCES = (
    DATA / "versions" / "crash-small--c69e804c--all--django1.8.19--py2.7.18--mem128M--sqlite--r1.json",
    DATA / "strategies" / "quick--233a049e--zero--django5.2.19--py3.11.7--memnone--sqlite--r1.json",
    DATA / "bisect" / "crash-small--c69e804c--all--django1.9.13--py3.11.7--mem54M--sqlite--r1.json",
)
TEXTS = {path: path.read_bytes() for path in SOURCES}

# MIGBENCH_FUZZ_EXAMPLES=2000 fuzzes longer (the default keeps the suite fast). No shrinking:
# shrinking a 10 kB damaged file takes minutes, and a failure already says what was done where.
EXAMPLES = int(os.environ.get("MIGBENCH_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                phases=(Phase.explicit, Phase.reuse, Phase.generate),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NOT_A_NUMBER = re.compile(r"\b(nan|inf|infinity)\b", re.IGNORECASE)
_NEST = "\x00nest\x00"  # a placeholder string, replaced by the nested text after json.dumps


# -- damage -------------------------------------------------------------------------------------

def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


@st.composite
def walk(draw, data) -> list:
    """A path (keys and indexes) to a value inside `data`, not the root: top-level fields most
    often, each level deeper half as likely."""
    path, here = [], data
    while True:
        keys = list(here) if isinstance(here, dict) else list(range(len(here))) if isinstance(here, list) else []
        if not keys or (path and draw(st.booleans())):
            return path
        key = draw(st.sampled_from(keys))
        path.append(key)
        here = here[key]


def numbers(value, path=()):
    """Paths to every number inside `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from numbers(item, path + (index,))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path


def _at(data, path):
    for key in path:
        data = data[key]
    return data


def _dumped(data, nested: str | None = None) -> bytes:
    text = json.dumps(data)  # allow_nan: NaN and Infinity the way Python's json writes them
    if nested is not None:
        text = text.replace(json.dumps(_NEST), nested)
    return text.encode("utf-8")


@st.composite
def damaged(draw) -> tuple[Path, bytes, str]:
    """(the real record it came from, the damaged bytes, what was done)."""
    source = draw(st.sampled_from(SOURCES))
    raw = TEXTS[source]
    data = json.loads(raw)
    how = draw(st.sampled_from(("truncate", "flip", "retype", "not finite", "delete", "nest", "not utf-8")))
    if how == "truncate":
        return source, raw[:draw(st.integers(0, len(raw) - 1))], how
    if how == "flip":
        edited = bytearray(raw)
        for _ in range(draw(st.integers(1, 3))):
            edited[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
        return source, bytes(edited), how
    if how == "not utf-8":
        at = draw(st.integers(0, len(raw)))
        bad = draw(st.sampled_from((b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")))
        return source, raw[:at] + bad + raw[at:], how
    if how == "not finite":
        path = draw(st.sampled_from(list(numbers(data))))
        literal = draw(st.sampled_from(("NaN", "Infinity", "-Infinity", "1e999", "-1e999")))
        _at(data, path[:-1])[path[-1]] = _NEST
        return source, _dumped(data, literal), "%s at %s" % (literal, path)
    path = draw(walk(data))
    parent, key = _at(data, path[:-1]), path[-1]
    if how == "delete":
        del parent[key]
    elif how == "retype":
        old = parent[key]
        parent[key] = draw(JSON_VALUES.filter(lambda new: _kind(new) != _kind(old)))
    else:  # nest
        depth = draw(st.sampled_from((2, 100, 990, 1010, 5000, 100_000)) | st.integers(1, 1500))
        inner = json.dumps(parent[key])
        parent[key] = _NEST
        return source, _dumped(data, "[" * depth + inner + "]" * depth), "nest %d at %s" % (depth, path)
    return source, _dumped(data), "%s at %s" % (how, path)


# -- what must hold -----------------------------------------------------------------------------

def snapshot(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("*.json")}


def check_output(rc: int, out: str, err: str, damaged_file: Path, allowed: tuple[int, ...],
                 other_refusals: tuple[str, ...] = ()) -> None:
    event("exit status %d" % rc)  # --hypothesis-show-statistics: how often each way out was taken
    assert rc in allowed, (rc, out, err)
    assert "Traceback" not in err
    assert not NOT_A_NUMBER.search(out), out
    if rc == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("migbench: error: "), err
        assert str(damaged_file) in lines[0] or any(words in lines[0] for words in other_refusals), lines[0]
    else:
        assert err == "", err


def no_number_words(report: Path) -> None:
    if report.exists():
        text = (report / "report.md").read_text(encoding="utf-8")
        assert not NOT_A_NUMBER.search(text), NOT_A_NUMBER.search(text)


# -- report -------------------------------------------------------------------------------------

@FUZZ
@given(damage=damaged(), in_directory=st.booleans())
def test_report_of_a_damaged_record_succeeds_or_refuses_in_one_line(capsys, damage, in_directory):
    source, content, how = damage
    event(how.split(" at ")[0].split(" ")[0])
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        results.mkdir()
        intact = results / "intact.json"
        shutil.copyfile(SOURCES[0] if source != SOURCES[0] else SOURCES[1], intact)
        bad = results / source.name
        bad.write_bytes(content)
        before = snapshot(results)
        out = Path(tmp) / "out"
        rc = main(["report", str(results if in_directory else bad), "--out", str(out), "--format", "md"])
        captured = capsys.readouterr()
        check_output(rc, captured.out, captured.err, bad, (0, 2))
        assert (rc == 0) == out.exists(), "written only when it succeeds"
        no_number_words(out)
        assert snapshot(results) == before, "the records are never touched"


# -- compare ------------------------------------------------------------------------------------

@FUZZ
@given(damage=damaged(), damaged_side=st.sampled_from(("baseline", "candidate")), in_directory=st.booleans())
def test_compare_with_a_damaged_record_succeeds_or_refuses_in_one_line(capsys, damage, damaged_side, in_directory):
    source, content, how = damage
    event(how.split(" at ")[0].split(" ")[0])
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as tmp:
        good, bad_dir = Path(tmp) / "good", Path(tmp) / "bad"
        good.mkdir()
        bad_dir.mkdir()
        shutil.copyfile(source, good / source.name)
        bad = bad_dir / source.name
        bad.write_bytes(content)
        before = snapshot(Path(tmp))
        damaged_arg = str(bad_dir if in_directory else bad)
        sides = [str(good), damaged_arg] if damaged_side == "candidate" else [damaged_arg, str(good)]
        rc = main(["compare", *sides])
        captured = capsys.readouterr()
        # A damage that leaves a valid record of another cell (a flipped letter in a version)
        # pairs nothing: that refusal names the cells, not the file, and is right.
        check_output(rc, captured.out, captured.err, bad, (0, 2), other_refusals=("no cell in common",))
        if rc == 2 and "no cell in common" not in captured.err:
            assert captured.err.startswith("migbench: error: %s: %s" % (damaged_side, bad_dir if in_directory
                                                                         else bad))
        assert snapshot(Path(tmp)) == before


# -- the end of `migbench run` ------------------------------------------------------------------

@settings(FUZZ, max_examples=max(1, EXAMPLES * 2 // 3))
@given(damage=damaged())
def test_the_end_of_a_run_names_a_damaged_file_and_keeps_every_intact_record(capsys, damage):
    source, content, how = damage
    event(how.split(" at ")[0].split(" ")[0])
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "quick"
        out.mkdir()
        fresh = [load_record(path) for path in SOURCES[1:]]  # the runs just measured, written whole
        store = ResultStore(out)
        for record in fresh:
            store.write(record)
        bad = out / ("older--" + source.name)
        bad.write_bytes(content)
        before = snapshot(out)
        cells = [record.cell() for record in fresh]

        by_cell, left_out = records_by_cell(store, cells)  # what commands/run.py's finish() does
        lines = summary_lines(by_cell, cells) + strategy_lines(by_cell, cells) + invalid_lines(by_cell)
        report_after_run(out)
        captured = capsys.readouterr()

        for record in fresh:
            assert any(r.run_id == record.run_id for r in by_cell[record.cell()]), "a fresh run is never lost"
        assert len(left_out) <= 1
        if left_out:
            assert left_out[0].startswith("left out of the summary: %s: " % bad) and "\n" not in left_out[0]
            assert captured.err.startswith("migbench: report not written: %s: " % bad), captured.err
            assert len(captured.err.splitlines()) == 1
        else:
            assert captured.err == "" and captured.out.startswith("report in "), captured
            no_number_words(out / "report")
        assert "Traceback" not in captured.err
        assert not NOT_A_NUMBER.search("\n".join(lines + [captured.out]))
        assert {p: b for p, b in snapshot(out).items() if p.parent == out} == before
