"""Manual porting: what Django's "Functions from the following migrations need manual
copying" comment asks for, done the way a Django engineer does it by hand.

Every Django line from 1.7 to 6.1 serializes a RunPython function defined in a
migration module as `apps.shop.migrations.0003_x.forwards` (not importable: a
module name starts with a digit) and lists those modules in the comment. For
each listed module the source is parsed (`ast`), the referenced functions and
the closure of module-level names they use (rows constants, helpers, imports;
names shadowed by locals are left alone) are copied verbatim, in source order,
under names suffixed with the migration's number, and the operations are
pointed at the copies. Copied, not regenerated: the file stays valid on the
target's Python (2.7 for Django 1.8-1.11).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path


class PortingError(Exception):
    """The squashed file cannot be ported automatically (the reason is one line)."""


_PORTING_COMMENT = re.compile(
    r"\n*# Functions from the following migrations need manual copying\.\n(?:#.*\n)*?"
    r"# RunPython operations to refer to the local versions:\n((?:# .*\n)+)")


_MODULE_REFERENCE = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)+\d\w*)\.[A-Za-z_]\w*")


def port_file(path: Path, project: Path, locate=None) -> int:
    """Port the functions a squashed (or optimized) file references in place; return how many.

    A referenced module is found by `locate(module)` (a path, or None), else under `project`
    by its dotted name (a generated project: `apps.shop.migrations.0003_x`)."""
    text = path.read_text(encoding="utf-8")
    modules = referenced_modules(text)
    if not modules:
        return 0
    sources = {}
    for module in modules:
        source = (locate(module) if locate else None) or project.joinpath(*module.split(".")).with_suffix(".py")
        if not source.is_file():
            raise PortingError("the migration module %s is not at %s" % (module, source))
        sources[module] = source.read_text(encoding="utf-8")
    new, count = port_functions(text, sources)
    path.write_text(new, encoding="utf-8")
    return count


def referenced_modules(text: str) -> list[str]:
    """The migration modules Django's "need manual copying" comment lists (every line 1.8-6.0
    writes it whenever an operation refers to a function of a migration module)."""
    match = _PORTING_COMMENT.search(text)
    return sorted({line[2:].strip() for line in match.group(1).splitlines()}) if match else []


def port_functions(text: str, sources: dict[str, str]) -> tuple[str, int]:
    """Copy what `text` references in `sources` (module name -> source) into `text`.

    Every `module.name` reference is replaced by a local copy of `name`; the
    module-level definitions it needs (functions, constants, classes, imports)
    come along in source order, non-import names suffixed with the migration's
    number (`_0003`, or its whole name when two numbers clash) so copies from
    different migrations cannot collide. Returns (new text, references ported).
    """
    numbers = [m.rsplit(".", 1)[-1].split("_", 1)[0] for m in sources]
    suffixes = {}
    for module in sorted(sources):
        migration = module.rsplit(".", 1)[-1]
        number = migration.split("_", 1)[0]
        suffixes[module] = "_" + (number if numbers.count(number) == 1 else re.sub(r"\W", "_", migration))
    squashed = _Module(text, "<squashed>")
    taken = set(squashed.bindings)
    imported = {n: o for n, o in squashed.bindings.items() if isinstance(o, tuple)}
    blocks, imports, future, count = [], [], set(), 0
    for module in sorted(sources):
        pattern = re.compile(r"(?<![\w.])%s\.([A-Za-z_]\w*)" % re.escape(module))
        wanted = sorted(set(pattern.findall(text)))
        if not wanted:
            continue
        parsed = _Module(sources[module], module)
        missing = [w for w in wanted if w not in parsed.bindings]
        if missing:
            raise PortingError("%s has no top-level %s" % (module, ", ".join(missing)))
        future |= parsed.future
        needed = parsed.closure(wanted)
        for name in sorted(n for n in needed if parsed.is_import(n)):
            origin = parsed.bindings[name]
            if name in taken and not _same_binding(imported.get(name), origin):
                raise PortingError("%s imports %r, which the squashed file binds otherwise" % (module, name))
            plain = origin[1].startswith("import ") and " as " not in origin[1]
            present = _has_line(text, origin[1]) if plain else imported.get(name) == origin
            if origin[1] not in imports and not present:
                imports.append(origin[1])
            imported[name] = origin
            taken.add(name)
        renames = {}
        for name in sorted(n for n in needed if not parsed.is_import(n)):
            new = name + suffixes[module]
            while new in taken:
                new += "_"
            renames[name] = new
            taken.add(new)
        blocks.append("# Ported from %s\n%s" % (module, parsed.copy(needed, renames).rstrip("\n") + "\n"))
        text = pattern.sub(lambda m: renames.get(m.group(1), m.group(1)), text)
        count += len(wanted)
    left = [m for m in sources if re.search(r"(?<![\w.])%s\." % re.escape(m), text)]
    if left:
        raise PortingError("references left to %s" % ", ".join(left))
    text = _PORTING_COMMENT.sub(
        lambda m: "\n\n# RunPython functions ported by hand (by migbench) from:\n"
        + "".join("# %s\n" % module for module in sorted(sources)), text, count=1)
    ported = "\n".join(imports) + ("\n\n\n" if imports else "") + "\n\n".join(blocks)
    match = re.search(r"^class Migration\(", text, re.M)
    if not match:
        raise PortingError("no `class Migration(` in the squashed file")
    head = text[:match.start()].rstrip("\n")
    text = head + "\n" + ("\n" if imports else "\n\n") + ported.rstrip("\n") + "\n\n\n" + text[match.start():]
    text = _add_future(text, future - _Module(text, "").future)
    if any(ord(c) > 127 for c in text) and not re.search(r"coding[:=]", "\n".join(text.split("\n")[:2])):
        text = "# -*- coding: utf-8 -*-\n" + text
    return text, count


def _same_binding(a, b) -> bool:
    """Two imports bind a name to the same object: same line, or both `import pkg...` of one root."""
    if a is None or b is None:
        return False
    if a == b:
        return True
    plain = [x[1].startswith("import ") and " as " not in x[1] for x in (a, b)]
    return all(plain)


def _has_line(text: str, statement: str) -> bool:
    return re.search(r"^%s$" % re.escape(statement), text, re.M) is not None


def _add_future(text: str, features: set[str]) -> str:
    if not features:
        return text
    line = "from __future__ import %s\n" % ", ".join(sorted(features))
    lines = text.splitlines(keepends=True)
    at = 0
    while at < len(lines) and (lines[at].startswith("#") or not lines[at].strip()):
        at += 1
    tree = ast.parse(text)
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(getattr(tree.body[0], "value", None), ast.Constant) \
            and isinstance(tree.body[0].value.value, str):
        at = tree.body[0].end_lineno
    return "".join(lines[:at]) + line + "".join(lines[at:])


def parse_lenient(source: str) -> ast.Module:
    """ast.parse; a squashed file Django left unimportable (`code=apps.x.migrations.0003_y.f`)
    is read with those references blanked out (same lines, other columns)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        try:
            return ast.parse(_MODULE_REFERENCE.sub("None", source))
        except SyntaxError as error:
            raise PortingError("cannot parse the migration: %s" % error)


class _Module:
    """Top-level bindings of one module's source and what each needs."""

    def __init__(self, source: str, name: str):
        self.tree = parse_lenient(source)
        self.lines = source.splitlines(keepends=True)
        self.name = name
        self.bindings: dict[str, object] = {}  # name -> ("import", text) or the defining statement
        self.statements: dict[str, list[ast.stmt]] = {}
        self.future: set[str] = set()
        for statement in self.tree.body:
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                self.future |= {a.name for a in statement.names}
                continue
            for bound, origin in _bound(statement):
                self.bindings[bound] = origin
                self.statements.setdefault(bound, []).append(statement)

    def is_import(self, name: str) -> bool:
        return isinstance(self.bindings.get(name), tuple)

    def closure(self, wanted) -> set[str]:
        needed, todo = set(), list(wanted)
        while todo:
            name = todo.pop()
            if name in needed or name not in self.bindings:
                continue
            needed.add(name)
            if self.is_import(name):
                continue
            for statement in self.statements[name]:
                todo.extend(n for n in _free_names(statement) if n in self.bindings)
        return needed

    def import_lines(self, needed) -> list[str]:
        return [self.bindings[n][1] for n in sorted(needed) if self.is_import(n)]

    def copy(self, needed, renames: dict[str, str]) -> str:
        """The defining statements of `needed` (source order), renamed."""
        chosen = [s for s in self.tree.body
                  if not isinstance(s, (ast.Import, ast.ImportFrom))
                  and any(b in needed for b, _ in _bound(s))]
        out = []
        for statement in chosen:
            declared = {n for node in ast.walk(statement) if isinstance(node, ast.Global) for n in node.names}
            if declared & set(renames):
                raise PortingError("%s uses `global %s`" % (self.name, ", ".join(sorted(declared & set(renames)))))
            start = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", [])])
            end = statement.end_lineno
            edits = []  # (line, byte column, old, new)
            for node, name in _global_refs(statement):
                if name in renames:
                    edits.append((node[0], node[1], name, renames[name]))
            chunk = [line.encode("utf-8") for line in self.lines[start - 1:end]]
            for lineno, column, old, new in sorted(edits, reverse=True):
                row = chunk[lineno - start]
                if row[column:column + len(old.encode())] != old.encode():
                    raise PortingError("cannot rename %s in %s line %d" % (old, self.name, lineno))
                chunk[lineno - start] = row[:column] + new.encode() + row[column + len(old.encode()):]
            out.append(b"".join(chunk).decode("utf-8").rstrip("\n") + "\n")
        return "\n\n".join(out)


def _bound(statement: ast.stmt):
    """(name, origin) pairs a top-level statement binds; imports carry ("import", normalised line)."""
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            if alias.asname:
                yield alias.asname, ("import", "import %s as %s" % (alias.name, alias.asname))
            else:
                yield alias.name.split(".")[0], ("import", "import %s" % alias.name)
    elif isinstance(statement, ast.ImportFrom):
        module = "." * statement.level + (statement.module or "")
        for alias in statement.names:
            bound = alias.asname or alias.name
            yield bound, ("import", "from %s import %s%s" % (module, alias.name,
                                                            " as %s" % alias.asname if alias.asname else ""))
    elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement.name, statement
    else:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                yield node.id, statement
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                yield node.name, statement


def _free_names(statement: ast.stmt) -> set[str]:
    return {name for _, name in _global_refs(statement)}


def _global_refs(statement: ast.stmt):
    """((line, byte column), name) of every module-scope name in a top-level statement:
    its own binding (def/class name included) and every use not shadowed by a local."""
    found = []

    def locals_of(function) -> set[str]:
        args = function.args
        names = {a.arg for a in args.args + args.kwonlyargs + getattr(args, "posonlyargs", [])}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        if isinstance(function, ast.Lambda):
            return names
        declared = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Global):
                declared |= set(node.names)
        for node in _walk_scope(function.body):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        return names - declared

    def visit(node, shadowed: set[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not shadowed and node is statement:
                found.append(((node.lineno, _def_column(node)), node.name))
            for child in getattr(node, "decorator_list", []):
                visit(child, shadowed)
            if isinstance(node, ast.ClassDef):
                for child in node.bases + node.keywords:
                    visit(child, shadowed)
                for child in node.body:
                    visit(child, shadowed)  # class bodies see module names (good enough here)
                return
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                visit(default, shadowed)
            inner = shadowed | locals_of(node)
            for child in node.body:
                visit(child, inner)
            return
        if isinstance(node, ast.Lambda):
            inner = shadowed | locals_of(node)
            visit(node.body, inner)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            inner = set(shadowed)
            for generator in node.generators:
                visit(generator.iter, inner)
                inner |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
                for condition in generator.ifs:
                    visit(condition, inner)
            for part in ("elt", "key", "value"):
                if hasattr(node, part):
                    visit(getattr(node, part), inner)
            return
        if isinstance(node, ast.Name):
            if node.id not in shadowed:
                found.append(((node.lineno, node.col_offset), node.id))
            return
        if isinstance(node, ast.Global):
            return  # renamed with the names it declares, below
        for child in ast.iter_child_nodes(node):
            visit(child, shadowed)

    visit(statement, set())
    return found


def _walk_scope(body):
    """Nodes of a function body, not descending into nested functions, lambdas or classes."""
    todo = list(body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        todo.extend(ast.iter_child_nodes(node))


def _def_column(node) -> int:
    """Byte column of the name in `def name(` / `class name(` on the node's first line."""
    return node.col_offset + (len("async def ") if isinstance(node, ast.AsyncFunctionDef)
                              else len("def ") if isinstance(node, ast.FunctionDef) else len("class "))
