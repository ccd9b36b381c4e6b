"""`migbench run --project PATH` (or `--manage "python -m yourproject"`): measure the user's own project.

Not a subcommand of its own: the options `run` adds for a real project, and the
part of `run` that differs for one (the copy, the user's environment, the
services it needs). Everything after planning is `run`'s: the same executor,
records, summary and report.

Side effects: copies the project into the cache, may start a redis-server (stopped
when the command ends), runs the user's interpreter; never writes into the user's
tree or environment.
"""

from __future__ import annotations

from pathlib import Path

from migbench.errors import MigbenchError


def add_project_options(parser) -> None:
    group = parser.add_argument_group("your own project (instead of a scenario)")
    group.add_argument("--project", help="your project's root (where manage.py is); migbench works on a copy "
                                         "and never writes into it; --python is then your environment")
    group.add_argument("--manage", help="the command that replaces `python manage.py` for an installed project, "
                                        "e.g. \"python -m yourproject\" or a console script of your environment")
    group.add_argument("--settings", help="your settings module (default: the one your manage.py sets)")
    group.add_argument("--env", action="append", metavar="KEY=VALUE",
                       help="an environment variable your settings read, applied before they load (repeatable; "
                            "{redis} stands for the --redis URL)")
    group.add_argument("--redis", help="embedded (migbench starts a throwaway redis-server on a Unix socket) or "
                                       "your redis:// URL; exported to your settings as REDIS_URL and {redis}")
    group.add_argument("--name", help="the name records and the cache use (default: the project directory's)")


def handle_project(args, measure_and_report) -> int:
    from migbench.bench import projects
    from migbench.bench.measure import limiters
    from migbench.bench.projects import services
    from migbench.bench.records import ResultStore
    from migbench.bench.run.matrix import available_engines, check_same_project
    from migbench.bench.run.options import default_out, resolve_options
    from migbench.bench.run.progress import Progress
    from migbench.bench.run.project import plan_project, scenario_of

    from .common import CELL_KEYS, check_out, cli_values

    if args.scenario:
        raise MigbenchError("give a scenario or --project, not both (%s was given with --project)" % args.scenario)
    if args.django:
        raise MigbenchError("--django: your environment decides Django's version on your project; give --python "
                            "of an environment with the version you want")
    if args.seed:
        raise MigbenchError("--seed is for generated scenarios; a real project has no seed")
    source = projects.resolve(args.project, args.manage, args.python, args.settings, args.env, args.name, args.redis)
    cli = cli_values(args, CELL_KEYS + ("memory", "repeat", "database", "dev_loop"))
    cli["python"] = cli["django"] = None  # the user's environment, not a version to build
    options = resolve_options(cli, {}, "the command line")
    if options.limiter in limiters.WALLED:
        raise MigbenchError("--limiter %s: a real project runs on the host for now (your environment is not in an "
                            "image); use cgroup1, cgroup2, systemd or rlimit" % options.limiter)
    out = Path(args.out) if args.out else default_out(source.name)
    check_out(out)
    progress = Progress()
    databases = available_engines(options)
    caps = [m for m in options.memories if m is not None]
    chosen = limiters.choose(options.limiter, max(caps) if caps else None)
    with services.redis(source.redis) as redis_url:
        if redis_url:
            progress.note("redis        %s" % redis_url)
        prepared = projects.prepare(source, on_note=progress.note)
        scenario = scenario_of(prepared)
        store = ResultStore(out)
        check_same_project(store, scenario, prepared.env.django_version, options.limiter)
        progress.note("limiter      %s: %s" % (chosen.name, chosen.why))
        matrix = plan_project(prepared, options, databases, on_note=progress.note)
        for reason in matrix.skipped:
            progress.note("skipped      %s" % reason)
        counts = prepared.manifest["counts"]
        progress.note("project      %s: %d apps (%d yours: %s), %d migrations (%d yours), copy in %s" % (
            source.tree, counts["apps"], counts["own_apps"], ", ".join(prepared.apps) or "none",
            counts["migrations"], counts["own_migrations"], prepared.path))
        return measure_and_report(args, scenario, options, matrix, store, progress)
