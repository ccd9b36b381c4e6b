"""Edits of migration files: squash-final's follow-up (repoint dependencies, drop `replaces`)
and zero's `replaces` for the old names other apps' migrations still depend on."""

from __future__ import annotations

import ast

from .porting import PortingError, parse_lenient


def rewrite_dependencies(text: str, mapping: dict[tuple[str, str], tuple[str, str] | None]) -> str:
    """Point `dependencies` / `run_before` entries named in `mapping` at their new target (None: drop it)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise PortingError("cannot parse a migration: %s" % error)
    edits = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for statement in cls.body:
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and statement.targets[0].id in ("dependencies", "run_before")
                    and isinstance(statement.value, (ast.List, ast.Tuple))):
                continue
            value = statement.value
            items, changed, seen = [], False, set()
            for element in value.elts:
                pair = _pair(element)
                if pair in mapping:
                    pair, changed = mapping[pair], True
                    if pair is None:
                        continue
                    piece = "('%s', '%s')" % pair
                else:
                    piece = _segment(text, element)
                if pair is not None:
                    if pair in seen:
                        changed = True
                        continue
                    seen.add(pair)
                items.append(piece)
            if not changed:
                continue
            open_, close = ("[", "]") if isinstance(value, ast.List) else ("(", ")")
            if value.lineno != value.end_lineno and items:
                indent = " " * (statement.col_offset + 4)
                body = "".join("%s%s,\n" % (indent, item) for item in items)
                new = "%s\n%s%s%s" % (open_, body, " " * statement.col_offset, close)
            else:
                new = open_ + ", ".join(items) + ("," if close == ")" and len(items) == 1 else "") + close
            edits.append((value, new))
    return _apply(text, edits)


def remove_replaces(text: str) -> str:
    """Drop the `replaces = [...]` attribute of the Migration class (and a blank line after it)."""
    tree = parse_lenient(text)
    lines = text.splitlines(keepends=True)
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for statement in cls.body:
            if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "replaces"):
                start, end = statement.lineno - 1, statement.end_lineno
                if end < len(lines) and not lines[end].strip() and start > 0 and not lines[start - 1].strip():
                    end += 1
                return "".join(lines[:start] + lines[end:])
    return text


def add_replaces(text: str, pairs: list[tuple[str, str]], initial: bool = False) -> str:
    """Give the Migration class a `replaces = [...]` of `pairs` (and `initial = True` if asked and
    missing), as its first statements.

    Migrations zero deletes names that migrations of apps it cannot edit (third-party) depend
    on; a migration that replaces them is what those dependencies resolve to (Django's loader
    repoints dependencies on replaced migrations, present or not, on every line 1.8-6.0)."""
    tree = parse_lenient(text)
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"):
        first = cls.body[0]
        indent = " " * first.col_offset
        block = "%sreplaces = [\n%s%s]\n\n" % (indent, "".join(
            "%s    (%r, %r),\n" % (indent, str(app), str(name)) for app, name in pairs), indent)
        if initial and not any(isinstance(s, ast.Assign) and [getattr(t, "id", "") for t in s.targets] == ["initial"]
                               for s in cls.body):
            block = "%sinitial = True\n\n%s" % (indent, block)
        lines = text.splitlines(keepends=True)
        return "".join(lines[:first.lineno - 1]) + block + "".join(lines[first.lineno - 1:])
    raise PortingError("no `class Migration(` to add replaces to")


def _pair(node) -> tuple[str, str] | None:
    if isinstance(node, ast.Tuple) and len(node.elts) == 2 and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return node.elts[0].value, node.elts[1].value
    return None


def _segment(text: str, node) -> str:
    return ast.get_source_segment(text, node)


def _apply(text: str, edits) -> str:
    """Replace each node's source span (byte offsets) by its new text."""
    if not edits:
        return text
    lines = [line.encode("utf-8") for line in text.splitlines(keepends=True)]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    data = b"".join(lines)
    for node, new in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        data = data[:start] + new.encode("utf-8") + data[end:]
    return data.decode("utf-8")
