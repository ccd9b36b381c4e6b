"""The report as Markdown with its charts as PNG files beside it (for a repository or a wiki)."""

from __future__ import annotations

from pathlib import Path

from .build import Report
from .profiles import FileLinks, href
from .tables import Table

CHART_DIR = "charts"


def render_markdown(report: Report, out: Path | None = None) -> str:
    """The page; `out` is the directory it is written into (links to profiles' files are relative to it)."""
    lines = ["# %s" % report.title, "",
             "Built %s by `migbench report` from %s: %s." % (
                 report.generated_at, report.described, ", ".join("`%s`" % s for s in report.sources)), ""]
    for section in report.sections:
        lines += ["## %s" % section.title, "", section.intro, ""]
        for block in section.blocks:
            lines += ["### %s" % _escape(block.title), ""] + ["- %s" % _escape(line) for line in block.lines] + [""]
        if section.links:
            lines += _links(section.links, out)
        for chart in section.charts:
            lines += ["![%s](%s/%s.png)" % (_escape(chart.title), CHART_DIR, chart.slug), "",
                      "**%s.** %s" % (_escape(chart.title), _escape(chart.caption)), ""]
        for table in section.tables:
            lines += _table(table)
        lines += ["- %s" % _escape(line) for line in section.lines]
        if section.lines:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _links(links: list[FileLinks], out: Path | None) -> list[str]:
    lines = ["**Exported files**", ""]
    for link in links:
        files = ", ".join("[%s](%s) (%s)" % (_escape(path.name), href(path, out), kind) if present
                          else "%s (%s, missing)" % (_escape(path.name), kind) for kind, path, present in link.files)
        lines.append("- %s: %s" % (_escape(link.label), files))
    return lines + [""]


def _table(table: Table) -> list[str]:
    lines = ["**%s**" % _escape(table.title), "",
             "| %s |" % " | ".join(_cell(c) for c in table.columns),
             "|%s|" % "|".join("---:" if i in table.numeric else "---" for i in range(len(table.columns)))]
    lines += ["| %s |" % " | ".join(_cell(v) for v in row) for row in table.rows]
    lines.append("")
    if table.note:
        lines += ["*%s*" % _escape(table.note), ""]
    return lines


def _cell(text: str) -> str:
    return _escape(text).replace("|", "\\|") or " "


def _escape(text: str) -> str:
    """Keep Markdown from reading model names like `__old` or `*` as emphasis."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
