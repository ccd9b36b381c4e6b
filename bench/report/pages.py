"""Write a report directory: report.html (self-contained), report.md + charts/*.png.

Both pages link a profiled run's exported files where they are (beside the
records, under `profiles/`), relative to the report's final directory: the
files are not copied, so the report directory stays a report and nothing else.

A report is derived data, so rebuilding replaces the previous one, but it is
written beside the target and swapped in whole: an interrupted build leaves
the old report (or nothing), never a mix. A directory that holds anything
other than a report is never replaced.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from migbench.errors import MigbenchError

from .build import Report
from .html_page import render_html
from .markdown_page import CHART_DIR, render_markdown

FORMATS = ("html", "md")
HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"


def parse_formats(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise MigbenchError("--format %r: unknown format %s; choose from %s (comma-separated)"
                            % (text, ", ".join(unknown) or "(none given)", ", ".join(FORMATS)))
    return chosen


def default_out(paths: list[str]) -> Path:
    """RESULTS/report for a single directory (the report lives with its records), else ./migbench-report."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        return Path(paths[0]) / "report"
    return Path("migbench-report")


def write_report(report: Report, out: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    """The written files by format; raises MigbenchError when `out` is not ours to replace."""
    out = Path(out)
    if out.exists() and not _is_report_dir(out):
        raise MigbenchError("%s exists and holds files that are not a migbench report; "
                            "choose another --out" % out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(".%s.tmp-%d" % (out.name, os.getpid()))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        if "html" in formats:
            (staging / HTML_NAME).write_text(render_html(report, out), encoding="utf-8")
        if "md" in formats:
            (staging / MARKDOWN_NAME).write_text(render_markdown(report, out), encoding="utf-8")
            charts = staging / CHART_DIR
            charts.mkdir()
            for chart in report.charts():
                (charts / (chart.slug + ".png")).write_bytes(chart.png)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    names = {"html": HTML_NAME, "md": MARKDOWN_NAME}
    return {fmt: out / names[fmt] for fmt in formats}


def _is_report_dir(path: Path) -> bool:
    if not path.is_dir():
        return False
    for entry in path.iterdir():
        if entry.name in (HTML_NAME, MARKDOWN_NAME):
            continue
        if entry.name == CHART_DIR and entry.is_dir() and all(p.suffix == ".png" for p in entry.iterdir()):
            continue
        return False
    return True


def _swap(staging: Path, out: Path) -> None:
    old = out.with_name(".%s.old-%d" % (out.name, os.getpid()))
    if out.exists():
        os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)
