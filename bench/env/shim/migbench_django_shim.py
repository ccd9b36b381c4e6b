"""Lets Django 1.7, 1.8, 1.9, 1.10 and 1.11 run on CPython 3.8 to 3.13.

migbench copies this file and a one-line ``migbench_django_shim.pth``
(``import migbench_django_shim``) into the site-packages of the environments
that need it, so every Python process of such an environment (manage.py, the
bench's worker scripts, the user's own commands) loads it at start-up; the
generated projects are not touched. Stdlib only; it must also parse on
Python 2.7, where (like on every Python < 3.8) importing it does nothing.

Nothing is patched eagerly except what is already imported: a meta path finder
wraps the loader of the few modules below so the patch runs right after the
module body (the module keeps its real loader), and a second finder, last on
sys.meta_path, serves a stand-in for a removed stdlib module only when nothing
else provides it. Every patch checks that the thing is really missing (or, for
Django, that the version needs it) and marks what it replaced, so it is a no-op
where it is not needed and importing this module twice changes nothing.
APPLIED lists the patches this process applied.

Patches, each found necessary by running Django 1.8.19, 1.9.13, 1.10.8 and
1.11.29 on Python 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (a
project's check, makemigrations, migrate, migrate to zero and back, writes,
plus the admin, the test client and runner, runserver's WSGI server, i18n,
templates with custom tags, serializers, caches and sessions) with that one
patch left out (Django 1.7.11's four: its import, setup and generated projects'
check, makemigrations, migrate to zero and back and writes, on the same Pythons;
"all four lines" below means 1.8-1.11, and 1.7 needs those patches too):

``collections`` (all four lines, Python >= 3.10)
    The ABC aliases ``collections.Iterator``, ``Mapping``, ``Sequence``... were
    removed in 3.10; Django does ``from collections import Iterator, Mapping``
    (db/models/sql/query.py) and ``class Page(collections.Sequence)``. They are
    set back to the ``collections.abc`` classes.
``gettext`` (all four lines, Python >= 3.11)
    3.11 removed ``translation(codeset=...)`` and
    ``NullTranslations.set_output_charset``; Django calls both as soon as a
    language is activated with USE_I18N on (trans_real.DjangoTranslation). The
    argument is accepted and ignored (it only ever affected the l*gettext
    functions, which Django never calls), the method stores the value.
``django.db.models.base`` (Django 1.8-1.10, Python >= 3.8)
    ``ModelBase.__new__`` builds the class from a fresh dict and drops
    ``__classcell__``; since 3.8 a class body using ``__class__`` or zero-argument
    ``super()`` then raises "RuntimeError: __class__ not set defining ..." (1.9
    and 1.10 fail on their own AbstractBaseUser, 1.8 on any user model calling
    ``super()``). The wrapper takes the cell out of the attributes and fills it
    with the new class, which is what Django 1.11 does itself.
``django.utils.six`` (all four lines, Python >= 3.12)
    The vendored six 1.10 registers a meta path importer with only
    ``find_module``/``load_module``, which the import system no longer calls
    since 3.12, so ``django.utils.six.moves`` is not found. The importer gets
    ``find_spec``/``create_module``/``exec_module``, as in six 1.16.
``html.parser`` (Django 1.7, Python >= 3.5)
    ``HTMLParseError`` was removed in 3.5; Django 1.7's utils/html_parser.py
    re-exports it at import (django.utils.html, so every template and form). The
    stand-in is a plain exception class: nothing raises it on Python 3.
``inspect`` (Django 1.7, Python >= 3.11)
    ``getargspec`` was removed in 3.11; Django 1.7 imports it by name in
    template/base.py and calls it in the signal dispatcher, the migration
    writer and the template tag helpers. It is rebuilt from ``getfullargspec``
    as Python 3.10 had it (ValueError on keyword-only arguments or annotations).
``django.utils.module_loading`` (Django 1.7, Python >= 3.8)
    ``module_has_submodule`` asks every ``sys.meta_path`` finder for
    ``find_module``, which the shim's own finders (and, from 3.12, Python's)
    do not have, then falls back on ``imp``: django.setup() fails in
    AppConfig.import_models. It is replaced by Django 1.8's, which asks
    ``importlib.util.find_spec``.
``imp`` stand-in (Django 1.7, Python >= 3.12)
    ``imp`` was removed in 3.12; Django 1.7's module_loading.py imports it
    (only the replaced module_has_submodule used it). The stand-in is empty and
    served only when the process's Django is older than 1.8, so code that tries
    ``import imp`` elsewhere still gets the ImportError it expects.
``cgi`` stand-in (all four lines, Python >= 3.13)
    ``cgi`` was removed in 3.13; Django imports it in core/handlers/wsgi.py and
    http/multipartparser.py for ``parse_header`` and ``valid_boundary``. The
    stand-in has just those two, copied from the 3.12 standard library; it is
    served only when no real ``cgi`` (e.g. the legacy-cgi package) is found.

Not patched, because Django 1.8-1.11 never reach them on Python 3 (1.7 does
reach ``inspect.getargspec`` and ``imp``: patched above):
``inspect.getargspec`` (removed in 3.11: Django uses ``inspect.signature`` on
Python 3), ``HTMLParser.unescape`` (removed in 3.9: only Django's workaround
parser for Python < 3.2.3 calls it), ``imp`` (removed in 3.12: imported only
on Python < 3.3), ``pkgutil.ImpImporter``, ``distutils`` and
``asynchat``/``asyncore`` (removed in 3.12: not used by Django), the
``unittest`` aliases (removed in 3.12: Django's test case and runner do not use
them), ``locale.getdefaultlocale`` (deprecated, still there in 3.13).

Known gaps, left alone on purpose: sending mail over SMTP with EMAIL_USE_TLS or
EMAIL_USE_SSL on Python >= 3.12 (Django passes ``keyfile``/``certfile``, which
smtplib no longer takes), and ``CryptPasswordHasher`` on 3.13 (``crypt`` is
gone). Neither is on the path of anything migbench runs. On 1.7 only what
migbench runs was checked (not the admin, runserver, i18n or the test client
beyond creating a test database).
"""

import sys

_MARK = "_migbench_django_shim"
APPLIED = []  # names of the patches applied in this process, in order


def _mark(obj):
    setattr(obj, _MARK, True)
    return obj


def _marked(obj):
    return getattr(obj, _MARK, False)


# -- the patches -------------------------------------------------------------------


def _patch_collections(collections):
    """collections.Iterator & co. (aliases of collections.abc; removed in 3.10)."""
    if sys.version_info < (3, 10):
        return
    import _collections_abc

    added = False
    for name in _collections_abc.__all__:
        if name not in collections.__dict__:
            setattr(collections, name, getattr(_collections_abc, name))
            added = True
    if added:
        APPLIED.append("collections-abc-aliases")


def _patch_gettext(gettext):
    """translation(codeset=) and NullTranslations.set_output_charset (removed in 3.11)."""
    code = getattr(gettext.translation, "__code__", None)
    if _marked(gettext.translation) or code is None or "codeset" in code.co_varnames:
        return
    original = gettext.translation

    def translation(domain, localedir=None, languages=None, class_=None, fallback=False,
                    codeset=None):
        return original(domain, localedir, languages, class_, fallback)

    translation.__doc__ = original.__doc__
    gettext.translation = _mark(translation)
    null = gettext.NullTranslations
    if not hasattr(null, "set_output_charset"):
        def set_output_charset(self, charset):
            self._output_charset = charset

        def output_charset(self):
            return getattr(self, "_output_charset", None)

        null.set_output_charset = set_output_charset
        null.output_charset = output_charset
    APPLIED.append("gettext-codeset")


def _patch_model_base(base):
    """Django < 1.11's ModelBase.__new__ drops __classcell__ (an error since 3.8)."""
    if sys.version_info < (3, 8):
        return
    import django

    model_base = base.ModelBase
    if django.VERSION[:2] >= (1, 11) or _marked(model_base.__new__):
        return
    original = model_base.__new__

    def __new__(cls, name, bases, attrs, **kwargs):
        classcell = attrs.pop("__classcell__", None)
        new_class = original(cls, name, bases, attrs, **kwargs)
        if classcell is not None:
            classcell.cell_contents = new_class
        return new_class

    model_base.__new__ = staticmethod(_mark(__new__))
    APPLIED.append("modelbase-classcell")


def _patch_six(six):
    """Django's vendored six 1.10 meta path importer only has find_module/load_module,
    which the import system stopped calling in 3.12: give it find_spec & co, as six
    1.16 did."""
    importer = getattr(six, "_SixMetaPathImporter", None)
    if sys.version_info < (3, 12) or importer is None or hasattr(importer, "find_spec"):
        return
    import importlib.util

    def find_spec(self, fullname, path, target=None):
        if fullname in self.known_modules:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return self.load_module(spec.name)

    def exec_module(self, module):
        pass

    importer.find_spec = find_spec
    importer.create_module = create_module
    importer.exec_module = exec_module
    APPLIED.append("six-find-spec")


def _patch_html_parser(html_parser):
    """html.parser.HTMLParseError (removed in 3.5), which Django 1.7 re-exports."""
    if hasattr(html_parser, "HTMLParseError"):
        return

    class HTMLParseError(Exception):
        """Stand-in for the exception Python 3.5 removed; nothing raises it any more."""

        def __init__(self, msg, position=(None, None)):
            Exception.__init__(self, msg)
            self.msg = msg
            self.lineno, self.offset = position

    html_parser.HTMLParseError = _mark(HTMLParseError)
    APPLIED.append("html-parse-error")


def _patch_inspect(inspect):
    """inspect.getargspec (removed in 3.11), which Django 1.7 imports by name."""
    if hasattr(inspect, "getargspec"):
        return
    import collections

    ArgSpec = collections.namedtuple("ArgSpec", "args varargs keywords defaults")

    def getargspec(func):
        """As in Python 3.10: getfullargspec without keyword-only arguments or annotations."""
        args, varargs, varkw, defaults, kwonlyargs, _kwonlydefaults, annotations = \
            inspect.getfullargspec(func)
        if kwonlyargs or annotations:
            raise ValueError("Function has keyword-only parameters or annotations, use "
                             "inspect.signature() API which can support them")
        return ArgSpec(args, varargs, varkw, defaults)

    inspect.ArgSpec = ArgSpec
    inspect.getargspec = _mark(getargspec)
    APPLIED.append("inspect-getargspec")


def _patch_module_loading(module_loading):
    """Django 1.7's module_has_submodule asks every sys.meta_path finder find_module(),
    which the shim's finders (and Python >= 3.12's own) do not have: ask
    importlib.util.find_spec instead, as Django 1.8 does."""
    import django

    if django.VERSION[:2] >= (1, 8) or _marked(module_loading.module_has_submodule):
        return
    import importlib.util

    def module_has_submodule(package, module_name):
        """See if 'module' is in 'package'."""
        name = ".".join([package.__name__, module_name])
        try:
            return sys.modules[name] is not None  # None: a cached miss
        except KeyError:
            pass
        try:
            package_path = package.__path__
        except AttributeError:
            return False  # not a package
        return importlib.util.find_spec(name, package_path) is not None

    module_loading.module_has_submodule = _mark(module_has_submodule)
    APPLIED.append("module-has-submodule")


# Module name -> patch, applied right after the module is first executed.
_AFTER_IMPORT = {
    "inspect": _patch_inspect,
    "collections": _patch_collections,
    "html.parser": _patch_html_parser,
    "gettext": _patch_gettext,
    "django.db.models.base": _patch_model_base,
    "django.utils.six": _patch_six,
    "django.utils.module_loading": _patch_module_loading,
}


# -- modules Python removed, served only when nothing else provides them ------------


def _cgi_parseparam(s):
    while s[:1] == ";":
        s = s[1:]
        end = s.find(";")
        while end > 0 and (s.count('"', 0, end) - s.count('\\"', 0, end)) % 2:
            end = s.find(";", end + 1)
        if end < 0:
            end = len(s)
        f = s[:end]
        yield f.strip()
        s = s[end:]


def _cgi_parse_header(line):
    """Parse a Content-type like header: the main value and a dict of parameters."""
    parts = _cgi_parseparam(";" + line)
    key = next(parts)
    pdict = {}
    for p in parts:
        i = p.find("=")
        if i >= 0:
            name = p[:i].strip().lower()
            value = p[i + 1:].strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
                value = value.replace("\\\\", "\\").replace('\\"', '"')
            pdict[name] = value
    return key, pdict


def _cgi_valid_boundary(s):
    import re

    if isinstance(s, bytes):
        return re.match(b"^[ -~]{0,200}[!-~]$", s)
    return re.match("^[ -~]{0,200}[!-~]$", s)


def _fill_cgi(module):
    """The two functions of cgi (removed in 3.13) that Django 1.8-1.11 call."""
    module.parse_header = _cgi_parse_header
    module.valid_boundary = _cgi_valid_boundary
    module._parseparam = _cgi_parseparam
    module.__doc__ = ("Stand-in for the cgi module removed in Python 3.13, from "
                      "migbench_django_shim: parse_header and valid_boundary only.")
    APPLIED.append("cgi-stand-in")


def _fill_imp(module):
    """An empty `imp` (removed in 3.12): Django 1.7's module_loading imports it, and only
    its module_has_submodule used it, which the shim replaces."""
    module.__doc__ = ("Stand-in for the imp module removed in Python 3.12, from "
                      "migbench_django_shim: empty (Django 1.7 only imports it).")
    APPLIED.append("imp-stand-in")


def _any_django():
    return True


def _django_before_1_8():
    """Only Django 1.7 imports imp on Python 3; anyone else asking for it gets the real
    ModuleNotFoundError (code that tries `import imp` first must not get an empty one)."""
    django = sys.modules.get("django")
    return django is not None and tuple(getattr(django, "VERSION", (99,))[:2]) < (1, 8)


# Module name -> (first Python without it, filler, whether this process wants it); found
# only after every other finder.
_STAND_INS = {
    "cgi": ((3, 13), _fill_cgi, _any_django),
    "imp": ((3, 12), _fill_imp, _django_before_1_8),
}


# -- the import hooks -----------------------------------------------------------------


class _PatchingLoader(object):
    """Runs the real loader, then the patch; the module keeps the real loader."""

    def __init__(self, loader, patch):
        self.loader = loader
        self.patch = patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self.loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self.loader
        self.loader.exec_module(module)
        self.patch(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _AfterImportFinder(object):
    """A meta path finder that finds nothing itself: it wraps the loader of the few
    modules in _AFTER_IMPORT so their patch runs as soon as they are executed."""

    _migbench_django_shim = True

    def find_spec(self, fullname, path=None, target=None):
        patch = _AFTER_IMPORT.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or _marked(finder):
                continue
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


class _StandInLoader(object):
    def __init__(self, fill):
        self.fill = fill

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        self.fill(module)


class _StandInFinder(object):
    """Last on sys.meta_path: serves _STAND_INS only when no other finder found them
    (a real `cgi`, say from the legacy-cgi package, wins)."""

    _migbench_django_shim = True

    def find_spec(self, fullname, path=None, target=None):
        entry = _STAND_INS.get(fullname)
        if entry is None or path is not None or sys.version_info < entry[0] or not entry[2]():
            return None
        import importlib.util

        return importlib.util.spec_from_loader(fullname, _StandInLoader(entry[1]))


def install():
    """Install the hook once per process and patch what is already imported."""
    if sys.version_info < (3, 8) or any(_marked(f) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _AfterImportFinder())
    sys.meta_path.append(_StandInFinder())
    for name, patch in _AFTER_IMPORT.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)


install()
