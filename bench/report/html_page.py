"""The report as one self-contained HTML file: charts embedded as data: URIs, CSS inline.

It must open offline, from an e-mail attachment or a CI artifact, so it
references nothing outside itself; the one exception is a plain link to a
profiled run's exported files (relative to the report's directory, so they
resolve where the records are, and harmlessly not elsewhere).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from .build import Report, Section
from .profiles import FileLinks, href
from .tables import Table

_CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222;
       max-width: 1180px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
.meta { color: #555; font-size: .9em; } .note { color: #555; font-size: .85em; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .92em; color: #333; margin-top: .3em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .85em; display: block; overflow-x: auto; }
caption { text-align: left; font-weight: 600; padding-bottom: .3em; }
th, td { border: 1px solid #ddd; padding: .25em .5em; white-space: nowrap; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.answer { background: #f6f8fa; border-left: 4px solid #2e9d3a; padding: .2em 1em; margin: 1em 0; }
.answer h3 { margin: .5em 0 .2em; }
nav ul { columns: 2; font-size: .9em; } code { background: #f3f3f3; padding: 0 .2em; }
"""


def render_html(report: Report, out: Path | None = None) -> str:
    """The page; `out` is the directory it is written into (links to profiles' files are relative to it)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>%s</title><style>%s</style></head><body>" % (html.escape(report.title), _CSS),
             "<h1>%s</h1>" % html.escape(report.title),
             '<p class="meta">Built %s by <code>migbench report</code> from %s: %s.</p>' % (
                 html.escape(report.generated_at), html.escape(report.described),
                 ", ".join("<code>%s</code>" % html.escape(s) for s in report.sources)),
             "<nav><ul>%s</ul></nav>" % "".join(
                 '<li><a href="#%s">%s</a></li>' % (_anchor(s.title), html.escape(s.title)) for s in report.sections)]
    for section in report.sections:
        parts.append(_section(section, out))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _section(section: Section, out: Path | None = None) -> str:
    parts = ['<section id="%s"><h2>%s</h2>' % (_anchor(section.title), html.escape(section.title)),
             "<p>%s</p>" % _inline(section.intro)]
    for block in section.blocks:
        parts.append('<div class="answer"><h3>%s</h3><ul>%s</ul></div>' % (
            html.escape(block.title), "".join("<li>%s</li>" % html.escape(line) for line in block.lines)))
    if section.links:
        parts.append(_links(section.links, out))
    for chart in section.charts:
        parts.append('<figure id="%s"><img alt="%s" src="data:image/png;base64,%s">'
                     "<figcaption><b>%s.</b> %s</figcaption></figure>" % (
                         html.escape(chart.slug), html.escape(chart.title, quote=True),
                         base64.b64encode(chart.png).decode("ascii"),
                         html.escape(chart.title), html.escape(chart.caption)))
    for table in section.tables:
        parts.append(_table(table))
    if section.lines:
        parts.append("<ul>%s</ul>" % "".join("<li>%s</li>" % html.escape(line) for line in section.lines))
    parts.append("</section>")
    return "\n".join(parts)


def _links(links: list[FileLinks], out: Path | None) -> str:
    items = []
    for link in links:
        files = ", ".join(
            '<a href="%s">%s</a> (%s)' % (html.escape(href(path, out), quote=True), html.escape(path.name),
                                         html.escape(kind)) if present
            else "%s (%s, missing)" % (html.escape(path.name), html.escape(kind)) for kind, path, present in link.files)
        items.append("<li>%s: %s</li>" % (html.escape(link.label), files))
    return '<p class="files"><b>Exported files</b></p><ul>%s</ul>' % "".join(items)


def _table(table: Table) -> str:
    head = "".join("<th>%s</th>" % html.escape(c) for c in table.columns)
    rows = []
    for row in table.rows:
        rows.append("<tr>%s</tr>" % "".join(
            '<td class="num">%s</td>' % html.escape(v) if i in table.numeric else "<td>%s</td>" % html.escape(v)
            for i, v in enumerate(row)))
    note = '<p class="note">%s</p>' % html.escape(table.note) if table.note else ""
    return "<table><caption>%s</caption><thead><tr>%s</tr></thead><tbody>%s</tbody></table>%s" % (
        html.escape(table.title), head, "".join(rows), note)


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>: the intros quote commands."""
    pieces = html.escape(text).split("`")
    return "".join(("<code>%s</code>" % p) if i % 2 else p for i, p in enumerate(pieces))


def _anchor(title: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")
