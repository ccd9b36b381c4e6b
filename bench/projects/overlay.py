"""The files migbench adds to its copy of a real project, so every child runs it unchanged.

Every child migbench runs (the measured worker, the baseline, the checks, the
transformations' makemigrations) expects a generated project's contract: a
`manage.py` at the root and the settings module `benchproject.settings`, whose
database comes from MIGBENCH_DATABASE_URL (bench/env/child.py). For a real
project the copy gets exactly that, and nothing of the user's files changes:

- `benchproject/settings.py` imports the user's settings module after applying
  the user's --env variables, takes every UPPERCASE name from it, then replaces
  DATABASES with the one database migbench made for the run (the same parser as
  a generated project's, `generator.project.DATABASE_FROM_URL`). Other aliases
  the project had are dropped: a run measures one database.
- `manage.py` (the copy's; the user's stays in their tree) forces that settings
  module, so a manage.py that sets its own cannot reach the user's database; with
  a launcher (--manage) it runs the launcher instead of Django's command line and
  refuses, in one line, a launcher that chose another settings module.

Pure: text in, text out; bench/projects/copy.py writes the files.
"""

from __future__ import annotations

from migbench.generator.project import DATABASE_FROM_URL

SETTINGS_PACKAGE = "benchproject"
SETTINGS_MODULE = SETTINGS_PACKAGE + ".settings"


def settings_text(user_settings: str, env: dict[str, str], postgres_backend: str = "postgresql",
                  paths: tuple = ()) -> str:
    """`paths`: directories of the copy (relative) put first on sys.path, e.g. `src` for a src layout."""
    lines = [
        '"""Written by migbench into its copy of your project: your settings (%s) with migbench\'s database.' %
        user_settings,
        "",
        "Your tree is never written; this file exists only in the copy.",
        '"""',
        "import importlib",
        "import os",
        "",
        "BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))",
        "_POSTGRES_BACKEND = %r" % postgres_backend,
        DATABASE_FROM_URL,
        "import sys",
        "for _path in reversed(%r):" % list(paths),
        "    sys.path.insert(0, os.path.join(BASE_DIR, _path))",
        "# --env, applied before your settings are imported (they may read them)",
        "_MIGBENCH_ENV = %r" % dict(sorted(env.items())),
        "_MIGBENCH_REDIS = os.environ.get('MIGBENCH_REDIS_URL', '')",
        "os.environ.update(dict((k, v.replace('{redis}', _MIGBENCH_REDIS)) for k, v in _MIGBENCH_ENV.items()))",
        "if _MIGBENCH_REDIS:",
        "    os.environ.setdefault('REDIS_URL', _MIGBENCH_REDIS)",
        "_migbench_user = importlib.import_module(%r)" % user_settings,
        "for _name in dir(_migbench_user):",
        "    if _name.isupper():",
        "        globals()[_name] = getattr(_migbench_user, _name)",
        "if not os.environ.get('MIGBENCH_DATABASE_URL'):",
        "    raise RuntimeError('migbench: MIGBENCH_DATABASE_URL is not set; this copy only runs under migbench')",
        "DATABASES = {'default': _database_from_url(os.environ['MIGBENCH_DATABASE_URL'])}",
        "",
    ]
    return "\n".join(lines)


def manage_text(launcher: tuple = ()) -> str:
    """The copy's manage.py: Django's command line, or the user's launcher, always on the overlay."""
    head = [
        "#!/usr/bin/env python",
        '"""Written by migbench into its copy of your project (your manage.py stays in your tree)."""',
        "import os",
        "import sys",
        "",
        "os.environ['DJANGO_SETTINGS_MODULE'] = %r" % SETTINGS_MODULE,
        "",
    ]
    if not launcher:
        body = [
            "if __name__ == '__main__':",
            "    from django.core.management import execute_from_command_line",
            "    execute_from_command_line(sys.argv)",
        ]
    else:
        if launcher[:2] == ("python", "-m"):
            run = "runpy.run_module(%r, run_name='__main__', alter_sys=True)" % launcher[2]
            argv0, extra = launcher[2], list(launcher[3:])
        else:
            run = "runpy.run_path(%r, run_name='__main__')" % launcher[0]
            argv0, extra = launcher[0], list(launcher[1:])
        body = [
            "def _guard():",
            "    import django",
            "    original = django.setup",
            "",
            "    def setup(*args, **kwargs):",
            "        from django.conf import settings",
            "        chosen = getattr(settings, 'SETTINGS_MODULE', None)",
            "        if chosen != %r:" % SETTINGS_MODULE,
            "            sys.stderr.write('migbench: your launcher chose the settings %s, so migbench cannot give it '",
            "                             'its own database; make it honour DJANGO_SETTINGS_MODULE\\n' % (chosen,))",
            "            sys.exit(2)",
            "        django.setup = original",
            "        return original(*args, **kwargs)",
            "",
            "    django.setup = setup",
            "",
            "",
            "if __name__ == '__main__':",
            "    import runpy",
            "    _guard()",
            "    sys.argv = [%r] + %r + sys.argv[1:]" % (argv0, extra),
            "    " + run,
        ]
    return "\n".join(head + body) + "\n"
