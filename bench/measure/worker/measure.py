# -*- coding: utf-8 -*-
"""Run one ``manage.py`` command inside a target environment and record events.

Runs INSIDE a target environment (a virtualenv holding only Django).  Stdlib
only, one file, valid Python 2.7 .. 3.13, Django 1.7 .. 6.1: no f-strings, no
annotations, no keyword-only arguments, no imports beyond
sys/os/json/time/traceback on the normal path.

Usage (cwd = the project directory, as for ``python manage.py``)::

    python measure.py [--project DIR] [--settings MODULE] [--events FILE] -- COMMAND [ARG ...]

It behaves exactly like ``python manage.py COMMAND ARG ...``: the command runs
through ``django.core.management.execute_from_command_line(["manage.py", ...])``
with the same stdout, stderr and exit status (an uncaught exception is
re-raised, so Python prints its traceback and exits 1; the traceback starts
with the worker's frames instead of manage.py's, plus one frame of the
django.setup hook when setup itself raises).  The one deliberate difference: a top-level
MemoryError exits with EXIT_MEMORY_ERROR (3), see below.

``--project DIR`` (default: the working directory) replaces ``sys.path[0]``
(the worker's own directory) with DIR, as running ``DIR/manage.py`` would;
``--settings MODULE`` sets DJANGO_SETTINGS_MODULE (otherwise the environment's
value is used); the working directory is left alone.  ``--script FILE`` runs FILE
as ``__main__`` with ``sys.argv = [FILE, COMMAND, ...]`` instead of calling
execute_from_command_line itself: a real project's launcher (bench/projects/overlay.py).  Without ``--events`` nothing is hooked and
nothing is written: a plain run to compare against.

Events: one JSON object per line, appended to FILE with one unbuffered
``os.write`` each (O_APPEND), so every line written before a SIGKILL is
complete and readable.  Every event has

    "event"  its name
    "t"      time.time() (epoch seconds, float; Python 2.7 has no monotonic)
    "rss"    this process's current RSS in bytes (/proc/self/statm resident
             pages x page size); where /proc is missing, the PEAK RSS so far
             (getrusage ru_maxrss), or null if neither exists: "rss_kind" in
             `start` says which ("statm", "ru_maxrss", "none")
    "pid"    only on events written by a forked child (not the worker itself)

and, in order:

    start              python ("3.11.7"), pid, argv (the manage.py argv run,
                       ["manage.py", "migrate", ...]), rss_kind
    setup_end          django ("1.8.19"): django.setup() returned (the first
                       call, made by execute_from_command_line)
    -- only while Django's migrate command runs (directly or via call_command,
       e.g. from `test`): --
    pre_migrate_start / pre_migrate_end    around emit_pre_migrate_signal
    render_start / render_success          "Rendering model states"
    apply_start / apply_success            migration ("app_label.name"), fake (bool)
    unapply_start / unapply_success        migration, fake
    progress           action, [migration, fake]: any other progress action
                       (none exists in 1.7 .. 6.1; kept for future versions)
    post_migrate_start / post_migrate_end  around emit_post_migrate_signal
    -- at the end: --
    error              type (exception class name), message (<= 500 chars):
                       an uncaught exception, or a SystemExit with a non-zero
                       status, where type/message describe the exception being
                       handled when sys.exit was called (CommandError for
                       `migrate nosuchapp`), else type "SystemExit"
    memory_error       where ("file:line in function" of the innermost frame),
                       message; written after the references are dropped
    end                exit: the process's exit status (0, the SystemExit
                       status, 1 for an uncaught exception, 3 after MemoryError;
                       an uncaught KeyboardInterrupt is reported as 1 although
                       Python >= 3.8 then ends by SIGINT)

A `*_end`/`*_success` event is missing when its step raised.  Rendering, by
version: 1.7 reports none, either way (it renders nothing up front: each apply
or unapply rebuilds the project state from the graph, inside its *_start ..
*_success span, #24554).  On 1.8 and 1.9 a forward migrate reports render_start/render_success
through the callback (1.8 renders every state up front, before any apply;
1.9 renders lazily, right before the first apply, so only when something is
applied).  From 1.10 on the command renders the pre-migration state itself,
with no callback, just before the pre_migrate signal (the gap before
pre_migrate_start), so a forward migrate has no render events there; it also
re-renders the real apps after the last apply (the gap before
post_migrate_start).  A backward migrate reports render_start/render_success
before its first unapply on every version from 1.8.

The hooks wrap, and always call, the originals: ``django.setup``,
``django.core.management.load_command_class`` (only until Django's migrate
command module is loaded, which is then hooked: nothing is imported for other
commands), ``migrate.Command.migration_progress_callback`` (called by the
executor at every verbosity) and the migrate module's
``emit_pre_migrate_signal`` / ``emit_post_migrate_signal``.
"""
from __future__ import absolute_import, division, print_function

import time

# The profile's clock starts here, before anything else of the worker runs (--profile).
_CLOCK = getattr(time, "perf_counter", time.time)
_STARTED = _CLOCK()
_STARTED_EPOCH = time.time()  # the same instant on the parent's clock: start-up = this minus the spawn

import json  # noqa: E402 (after the clock, on purpose)
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

#: Exit status after an uncaught MemoryError.  The parent classifies exit 3,
#: or "MemoryError" on stderr, as the outcome "memory-error"; the last line of
#: the traceback printed on stderr always contains "MemoryError".
EXIT_MEMORY_ERROR = 3
#: Bad worker options (one line on stderr).
EXIT_USAGE = 2

USAGE = ("usage: measure.py [--project DIR] [--settings MODULE] [--events FILE] [--script FILE] "
         "[--profile time|memory --profile-dir DIR] -- COMMAND [ARG ...]")
MIGRATE_MODULE = "django.core.management.commands.migrate"
PROGRESS_ACTIONS = frozenset([
    "render_start", "render_success", "apply_start", "apply_success",
    "unapply_start", "unapply_success",
])
MESSAGE_CHARS = 500
# Written as they are if formatting a full event fails after a MemoryError.
_BARE_MEMORY_ERROR = b'{"event": "memory_error"}\n'
_BARE_END = b'{"event": "end", "exit": 3}\n'


class UsageError(Exception):
    pass


def _text(value):
    try:
        text = "%s" % (value,)
    except Exception:  # Python 2: non-ASCII byte-string message
        try:
            text = str(value).decode("utf-8", "replace")
        except Exception:
            text = repr(value)
    if len(text) > MESSAGE_CHARS:
        text = text[:MESSAGE_CHARS - 3] + "..."
    return text


def _label(migration):
    try:
        return "%s.%s" % (migration.app_label, migration.name)
    except AttributeError:
        return _text(migration)


class Events(object):
    """The events file plus this process's RSS reader."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.pid = self.statm_pid = os.getpid()
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.statm = self._open_statm()
        if self.statm is not None:
            self.kind = "statm"
        else:
            try:
                import resource  # noqa: only where /proc is missing
                self.resource = resource
                self.kind = "ru_maxrss"
            except ImportError:
                self.kind = "none"

    @staticmethod
    def _open_statm():
        try:
            return os.open("/proc/self/statm", os.O_RDONLY)
        except (OSError, IOError, AttributeError):
            return None

    def rss(self):
        if self.statm is not None:
            os.lseek(self.statm, 0, 0)
            return int(os.read(self.statm, 128).split()[1]) * self.page
        if self.kind == "ru_maxrss":
            peak = self.resource.getrusage(self.resource.RUSAGE_SELF).ru_maxrss
            return peak if sys.platform == "darwin" else peak * 1024
        return None

    def emit(self, event, fields=None):
        now = time.time()
        pid = os.getpid()
        if pid != self.pid:  # written by a forked child (test --parallel, ...)
            if pid != self.statm_pid and self.statm is not None:
                os.close(self.statm)  # the parent's /proc/self, opened before the fork
                self.statm = self._open_statm()
                self.statm_pid = pid
            fields = dict(fields or {})
            fields["pid"] = pid
        rss = self.rss()
        line = '{"event": "%s", "t": %r, "rss": %s' % (
            event, now, "null" if rss is None else "%d" % rss)
        if fields:
            line += ", " + json.dumps(fields, sort_keys=True)[1:] + "\n"
        else:
            line += "}\n"
        self.write(line.encode("utf-8"))

    def write(self, data):
        while data:
            data = data[os.write(self.fd, data):]


# -- hooks: each wraps the original and calls it -------------------------------------


def _hook_setup(django, events, profile=None):
    original = django.setup

    def setup(*args, **kwargs):
        django.setup = original  # once: later calls (test workers) go straight through
        if profile is None:
            result = original(*args, **kwargs)
        else:
            profile.timer.push("django.setup", "setup")
            try:
                result = original(*args, **kwargs)
            finally:
                profile.timer.pop()
            profile.after_setup()
        if events is not None:
            events.emit("setup_end", {"django": django.get_version()})
        return result

    django.setup = setup


def _hook_command_loading(management, events, profile=None):
    """Hook the migrate command the first time its module is loaded, then unwrap."""
    original = management.load_command_class

    def load_command_class(app_name, name):
        command = original(app_name, name)
        module = sys.modules.get(MIGRATE_MODULE)
        if module is not None:
            management.load_command_class = original
            _hook_migrate(module, events, profile)
        return command

    management.load_command_class = load_command_class


def _hook_migrate(module, events, profile=None):
    _wrap_signal(module, "emit_pre_migrate_signal", "pre_migrate", events, profile)
    _wrap_signal(module, "emit_post_migrate_signal", "post_migrate", events, profile)
    command = getattr(module, "Command", None)
    original = getattr(command, "migration_progress_callback", None)  # Py2: unbound
    if original is None:  # 1.7 .. 6.1 all have it; a future version may not
        return

    def migration_progress_callback(self, action, *args, **kwargs):
        migration = args[0] if args else kwargs.get("migration")
        fields = None
        if migration is not None:
            fake = args[1] if len(args) > 1 else kwargs.get("fake", False)
            fields = {"migration": _label(migration), "fake": bool(fake)}
        if action in PROGRESS_ACTIONS:
            events.emit(action, fields)
        else:
            fields = fields or {}
            fields["action"] = _text(action)
            events.emit("progress", fields)
        return original(self, action, *args, **kwargs)

    command.migration_progress_callback = migration_progress_callback


def _wrap_signal(module, attr, name, events, profile=None):
    original = getattr(module, attr, None)
    if original is None:
        return
    start, end = name + "_start", name + "_end"
    if profile is not None:  # the stage timer's frame sits inside the events: their writes are not its
        original = profile.wrap_callable(original, attr, "signals")

    def emit_signal(*args, **kwargs):
        events.emit(start)
        result = original(*args, **kwargs)
        events.emit(end)
        return result

    setattr(module, attr, emit_signal)


# -- exits -----------------------------------------------------------------------------


def _exit_status(code):
    """What Python makes of SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int) or type(code).__name__ == "long":
        return int(code)
    return 1  # Python prints the object on stderr


def _exit_cause(exc, tb):
    """The exception being handled when sys.exit() was called, if any."""
    cause = getattr(exc, "__context__", None)  # Python 3
    if cause is None and tb is not None and sys.version_info[0] == 2:
        # Python 2 has no __context__: look in the frame that called sys.exit
        # (Django's run_from_argv: `except Exception as e: ... sys.exit(1)`).
        while tb.tb_next is not None:
            tb = tb.tb_next
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, BaseException) and value is not exc:
                cause = value
                break
    return cause


def _quietly(function, *args):
    """Exit paths: a failing events file must never mask the command's outcome."""
    try:
        function(*args)
    except Exception:
        pass


def _release(info):
    """Drop every reference a MemoryError holds; return what is left to report.

    The traceback keeps every frame alive, and with them the state that
    exhausted memory: clear the frames' locals first (Python 3), then keep
    only (file, line, function) per frame, then let go of the traceback.
    """
    etype, value, tb = info
    del info
    clear = getattr(traceback, "clear_frames", None)  # Python >= 3.4
    if clear is not None:
        try:
            clear(tb)
        except Exception:
            pass
    entries = []
    message = ""
    try:
        walk = tb
        while walk is not None:
            code = walk.tb_frame.f_code
            entries.append((code.co_filename, walk.tb_lineno, code.co_name))
            walk = walk.tb_next
        walk = None
        message = _text(value)
    except Exception:
        pass
    try:
        value.__traceback__ = None
        value.__context__ = None
    except Exception:
        pass
    del etype, value, tb
    return entries, message


def _memory_exit(events, entries, message):
    """Report a MemoryError and leave with EXIT_MEMORY_ERROR, whatever fails."""
    try:
        import gc  # builtin; only on this path
        gc.collect()  # the released state is full of reference cycles
    except Exception:
        pass
    where = ""
    if entries:
        where = "%s:%d in %s" % entries[-1]
    if events is not None:
        try:
            events.emit("memory_error", {"where": where, "message": message})
        except Exception:
            _quietly(events.write, _BARE_MEMORY_ERROR)
        try:
            events.emit("end", {"exit": EXIT_MEMORY_ERROR})
        except Exception:
            _quietly(events.write, _BARE_END)
    last = "MemoryError: %s\n" % message if message else "MemoryError\n"
    try:
        import linecache  # already loaded by traceback
        lines = ["Traceback (most recent call last):\n"]
        for filename, lineno, name in entries:
            lines.append('  File "%s", line %d, in %s\n' % (filename, lineno, name))
            source = linecache.getline(filename, lineno).strip()
            if source:
                lines.append("    %s\n" % source)
        lines.append(last)
        text = "".join(lines)
    except Exception:
        text = last
    _quietly(sys.stdout.flush)  # what the command printed so far, first
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:
        _quietly(os.write, 2, b"MemoryError\n")
    os._exit(EXIT_MEMORY_ERROR)  # no interpreter teardown that could fail again


# -- main ------------------------------------------------------------------------------


def parse(argv):
    """(options, command): options has project, settings, events (None if absent)."""
    options = {"project": None, "settings": None, "events": None, "script": None, "profile": None,
               "profile-dir": None}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return options, argv[i + 1:]
        if arg in ("-h", "--help"):
            raise UsageError(None)
        name, eq, value = arg.partition("=")
        key = name[2:] if name.startswith("--") else None
        if key in options:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError("%s needs a value" % name)
                value = argv[i]
            options[key] = value
            i += 1
            continue
        if arg.startswith("-"):
            raise UsageError("unknown option %s (put manage.py options after --)" % arg)
        return options, argv[i:]
    return options, []


def main(argv=None):
    try:
        options, command = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        if exc.args[0] is None:
            print(USAGE)
            return 0
        sys.stderr.write("measure.py: %s\n%s\n" % (exc.args[0], USAGE))
        return EXIT_USAGE
    if options["profile"] not in (None, "time", "memory") or bool(options["profile"]) != bool(
            options["profile-dir"]) or (options["profile"] and not options["events"]):
        sys.stderr.write("measure.py: --profile takes time or memory, with --profile-dir and --events\n%s\n"
                         % USAGE)
        return EXIT_USAGE
    manage_argv = ["manage.py"] + list(command)
    # python manage.py puts the project directory first on sys.path; the worker
    # would put its own directory there instead.
    sys.path[0] = os.path.abspath(options["project"] or os.curdir)
    if options["settings"]:
        os.environ["DJANGO_SETTINGS_MODULE"] = options["settings"]

    events = None
    if options["events"]:
        try:
            events = Events(options["events"])
        except (OSError, IOError) as exc:
            sys.stderr.write("measure.py: cannot open the events file: %s\n" % (exc,))
            return EXIT_USAGE
    profile = None
    if options["profile"]:
        profiling = _load_sibling("profiling")
        profile = profiling.Profile(options["profile"], options["profile-dir"], _STARTED, _load_sibling)
        profile.started_epoch = _STARTED_EPOCH
    released = None
    try:
        if events is not None:
            events.emit("start", {
                "python": "%d.%d.%d" % tuple(sys.version_info[:3]),
                "pid": os.getpid(),
                "argv": manage_argv,
                "rss_kind": events.kind,
            })
        if profile is not None:
            profile.start()
        import django
        from django.core import management
        if events is not None:
            _hook_setup(django, events, profile)
            _hook_command_loading(management, events, profile)
        if options["script"]:
            # A real project's launcher (migbench's manage.py in its copy): run as
            # `python manage.py ...` would, so the launcher's own set-up runs too.
            import runpy
            sys.argv = [options["script"]] + list(command)
            runpy.run_path(options["script"], run_name="__main__")
        else:
            management.execute_from_command_line(manage_argv)
    except SystemExit as exc:
        status = _exit_status(exc.code)
        if events is not None:
            if status != 0:
                cause = _exit_cause(exc, sys.exc_info()[2])
                if cause is None:
                    _quietly(events.emit, "error", {"type": "SystemExit",
                                                    "message": _text(exc.code)})
                else:
                    _quietly(events.emit, "error", {"type": type(cause).__name__,
                                                    "message": _text(cause)})
            _quietly(events.emit, "end", {"exit": status})
        _finish_profile(profile, "exit %d" % status)
        if profile is not None:
            _exit_now(status)
        raise
    except MemoryError:
        released = _release(sys.exc_info())
        if hasattr(sys, "exc_clear"):  # Python 2 keeps the traceback until then
            sys.exc_clear()
    except BaseException as exc:
        if events is not None:
            _quietly(events.emit, "error", {"type": type(exc).__name__, "message": _text(exc)})
            _quietly(events.emit, "end", {"exit": 1})
        _finish_profile(profile, "exception")
        raise  # Python prints the traceback and exits 1, as under manage.py
    if released is not None:
        _memory_exit(events, released[0], released[1])
    if events is not None:
        events.emit("end", {"exit": 0})
    if profile is not None:
        _finish_profile(profile, "exit 0")
        _exit_now(0)
    return 0


def _exit_now(status):
    """A profiled run skips the interpreter's teardown (0.1 s of unattributed time on a small
    project, more on a large one): its output is flushed, its database connection simply closes."""
    _quietly(sys.stdout.flush)
    _quietly(sys.stderr.flush)
    os._exit(status)


def _finish_profile(profile, outcome):
    """Write the profile; a failure is said on stderr, never changes the command's outcome."""
    if profile is None:
        return
    try:
        profile.finish(outcome)
    except Exception as exc:
        _quietly(sys.stderr.write, "measure.py: the profile could not be written: %s\n" % (exc,))


def _load_sibling(name):
    """A module of the worker's directory, loaded by path: sys.path[0] is the project's, not ours."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    module_name = "_migbench_" + name
    if module_name in sys.modules:
        return sys.modules[module_name]
    try:
        import importlib.util as util
        spec = util.spec_from_file_location(module_name, path)
        module = util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module
    except ImportError:  # Python 2.7 has no importlib.util
        import imp
        return imp.load_source(module_name, path)


if __name__ == "__main__":
    sys.exit(main())
