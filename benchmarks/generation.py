#!/usr/bin/env python
"""Generation throughput, and the generator against `makemigrations`.

Two measurements, run once each (``--rounds`` to repeat; the median is reported):

1. **Write a large project**: a shipped scenario (``long-history`` by default:
   every operation kind) resized to ``--apps`` x ``--models`` (fixed per app) x
   ``--migrations`` (fixed per app) is built by ``build_project`` and written
   by ``write_project`` into a fresh directory. Timed: build + write, the whole
   project (models.py, migrations, settings, manifest). Target: 500 x 20 x 10
   in under 15 s on one core.

2. **Generator vs makemigrations** on a smaller project of the same scenario
   whose history is one initial migration per app (``makemigrations`` can only
   write initial migrations from models, so that is the like-for-like case):

   (i)   the generator builds and writes the *whole* project (not just its
         migration files: an upper bound on what producing the migrations
         costs), timed in this process after a tiny warm-up build (imports and
         Faker's one-time set-up are not timed); and, for a cold-start
         comparison, the same in a fresh child interpreter (interpreter start
         and every import included);
   (ii)  every generated migration file is deleted and
         ``python manage.py makemigrations`` (a real child process running the
         Django installed in this interpreter) writes them again from models.py;
   then ``makemigrations --check --dry-run`` must find no changes both against
   the generator's migrations (before the deletion) and against
   makemigrations' own (after): both migration sets describe the models
   exactly, so they are equivalent. Reported: (ii) / (i). Target: >= 50x.

Both measurements run pinned to one CPU (``os.sched_setaffinity``, inherited by
the child processes) where the OS allows it: the generator is single-threaded.

    python benchmarks/generation.py
    python benchmarks/generation.py --apps 500 --models 20 --migrations 10 \\
        --compare-apps 20 --compare-models 10 --json results/generation.json

`benchmarks/test_generation.py` runs the same functions under pytest-benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from migbench import __version__ as MIGBENCH_VERSION
from migbench.errors import MigbenchError
from migbench.generator import build_project, resolve_scenario, write_project
from migbench.generator.scenario import Scenario
from migbench.provenance import git_commit
from migbench.targets import DjangoLine, resolve_line

HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO = "long-history"
TARGET_SECONDS = 15.0  # the 10,000-model project, written, on one core
TARGET_RATIO = 50.0  # makemigrations / generator


# -- scenarios -----------------------------------------------------------------


def sized_scenario(name: str, apps: int, models: int, migrations: int, seed: int | None = None) -> Scenario:
    """A shipped scenario (or a TOML path) resized to exactly apps x models x migrations.

    `models` is the number of models each app's initial migration creates and
    `migrations` the number of migrations per app (both fixed, not ranges); the
    final model count also includes through models and proxies the scenario's
    mix adds, and models created or deleted by later migrations.
    """
    scenario = sized_scenario_of(resolve_scenario(name), apps, models, migrations)
    return scenario.with_seed(seed) if seed is not None else scenario


# -- measurement 1: build + write --------------------------------------------------


@dataclass
class Generation:
    scenario: str
    seed: int
    django: str
    apps: int
    models_per_app: int
    migrations_per_app: int
    build_seconds: float
    write_seconds: float
    migrations_seconds: float  # render + write only the migration files of the built history
    models: int  # final state, from the summary
    migrations: int
    operations: int
    files: int
    bytes: int
    out: str

    @property
    def seconds(self) -> float:
        return self.build_seconds + self.write_seconds

    @property
    def models_per_second(self) -> float:
        return self.models / self.seconds if self.seconds else float("inf")

    def as_dict(self) -> dict:
        return dict(asdict(self), seconds=self.seconds, models_per_second=self.models_per_second)


def generate(scenario: Scenario, target: DjangoLine, out: str | Path) -> Generation:
    """build_project + write_project into `out` (which should not exist yet), timed."""
    started = time.perf_counter()
    project = build_project(scenario, target)
    built = time.perf_counter()
    write_project(project, out, force=True)
    written = time.perf_counter()
    migrations_seconds = produce_migrations(project, out)
    summary = project.summary
    params = scenario.generator
    return Generation(
        scenario=scenario.name,
        seed=params.seed,
        django=target.line,
        apps=params.apps,
        models_per_app=params.models_per_app[0],
        migrations_per_app=params.history.migrations_per_app[0],
        build_seconds=built - started,
        write_seconds=written - built,
        migrations_seconds=migrations_seconds,
        models=summary.models,
        migrations=summary.migrations,
        operations=sum(summary.operations.values()),
        files=len(project.files),
        bytes=sum(len(text.encode("utf-8")) for text in project.files.values()),
        out=str(out),
    )


def produce_migrations(project, out: str | Path) -> float:
    """Time the step makemigrations replaces: render every migration file of the
    already designed history and write it (over the identical file) in `out`.

    Designing the schema (the history) is needed by both ways of making a
    project; what differs is how its migrations are produced."""
    from migbench.generator.writer import APPS_PACKAGE, MigrationWriter

    settle()
    started = time.perf_counter()
    for migration in project.history.migrations:
        text = MigrationWriter(migration, project.target).as_string()
        path = Path(out) / APPS_PACKAGE / migration.app / "migrations" / (migration.name + ".py")
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return time.perf_counter() - started


def settle() -> None:
    """Flush dirty pages (untimed) so one step's writeback is not billed to the next."""
    if hasattr(os, "sync"):
        os.sync()


def warm_up(scenario: Scenario, target: DjangoLine) -> None:
    """Pay the generator's one-time costs (Faker's provider scan and imports,
    ~25 ms) before an in-process timing; the fresh-process timing includes them."""
    build_project(sized_scenario_of(scenario, apps=1, models=1, migrations=1), target)


def sized_scenario_of(scenario: Scenario, apps: int, models: int, migrations: int) -> Scenario:
    generator = scenario.generator
    return replace(scenario, generator=replace(
        generator, apps=apps, models_per_app=(models, models),
        history=replace(generator.history, migrations_per_app=(migrations, migrations)),
    ))


def generate_in_child(base: str, apps: int, models: int, migrations: int, seed: int | None,
                      target: DjangoLine, out: str | Path) -> float:
    """`generate` in a fresh interpreter; wall time including start-up and imports."""
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from generation import generate, sized_scenario\n"
        "from migbench.targets import resolve_line\n"
        "generate(sized_scenario(%r, %d, %d, %d, %r), resolve_line(%r), %r)\n"
    ) % (str(HERE), base, apps, models, migrations, seed, target.line, str(out))
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", code], env=_child_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode:
        raise ComparisonError("generator child process failed:\n%s" % _tail(completed.stdout))
    return seconds


# -- measurement 2: the generator against makemigrations ---------------------------


@dataclass
class Comparison:
    generation: Generation
    makemigrations_seconds: float
    generator_child_seconds: float | None  # cold start: interpreter + imports + build + write
    generated_check: str  # "No changes detected" expected
    makemigrations_check: str
    generated_layout: dict[str, list[str]]  # app -> migration names
    makemigrations_layout: dict[str, list[str]]

    @property
    def ratio(self) -> float:
        return self.makemigrations_seconds / self.generation.seconds

    @property
    def migrations_ratio(self) -> float:
        return self.makemigrations_seconds / self.generation.migrations_seconds

    @property
    def cold_ratio(self) -> float | None:
        if self.generator_child_seconds is None:
            return None
        return self.makemigrations_seconds / self.generator_child_seconds

    @property
    def same_layout(self) -> bool:
        return self.generated_layout == self.makemigrations_layout

    def as_dict(self) -> dict:
        return {
            "generation": self.generation.as_dict(),
            "generator_seconds": self.generation.seconds,
            "generator_child_seconds": self.generator_child_seconds,
            "makemigrations_seconds": self.makemigrations_seconds,
            "ratio": self.ratio,
            "migrations_seconds": self.generation.migrations_seconds,
            "migrations_ratio": self.migrations_ratio,
            "cold_ratio": self.cold_ratio,
            "generated_check": self.generated_check,
            "makemigrations_check": self.makemigrations_check,
            "same_layout": self.same_layout,
        }


class ComparisonError(RuntimeError):
    pass


def require_django(target: DjangoLine) -> str:
    """The Django version this interpreter has; it must be on the target line."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        installed = version("Django")
    except PackageNotFoundError:
        raise ComparisonError(
            "the makemigrations comparison needs Django in this interpreter: "
            "pip install 'Django>=%s,<%s'" % (target.line, _next_line(target.line))
        ) from None
    line = ".".join(installed.split(".")[:2])
    if line != target.line:
        raise ComparisonError(
            "Django %s is installed but the comparison targets %s; pass --django %s "
            "or pip install 'Django>=%s,<%s'"
            % (installed, target.line, line, target.line, _next_line(target.line))
        )
    return installed


def _next_line(line: str) -> str:
    major, minor = line.split(".")
    return "%s.%d" % (major, int(minor) + 1)


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MIGBENCH_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # every child compiles what it imports: no warm .pyc
    return env


def _manage(project: Path, *args: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "manage.py", *args], cwd=project, env=_child_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
    return completed.returncode, completed.stdout, time.perf_counter() - started


def _tail(output: str, lines: int = 8) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def _check(project: Path, whose: str) -> str:
    code, output, _ = _manage(project, "makemigrations", "--check", "--dry-run")
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if code or "No changes detected" not in output:
        raise ComparisonError(
            "makemigrations --check --dry-run found differences against %s migrations (exit %d):\n%s"
            % (whose, code, _tail(output))
        )
    return last


def migration_layout(project: Path) -> dict[str, list[str]]:
    apps = project / "apps"
    return {
        app.name: sorted(p.stem for p in (app / "migrations").glob("[0-9]*.py"))
        for app in sorted(apps.iterdir()) if (app / "migrations").is_dir()
    }


def delete_migrations(project: Path) -> int:
    removed = 0
    for path in (project / "apps").glob("*/migrations/[0-9]*.py"):
        path.unlink()
        removed += 1
    for cache in (project / "apps").glob("*/migrations/__pycache__"):
        shutil.rmtree(cache)
    return removed


def makemigrations_comparison(generation: Generation, child_seconds: float | None = None) -> Comparison:
    """Given a project `generate` just wrote: check it, delete its migrations, time
    makemigrations writing them again, check again."""
    project = Path(generation.out)
    generated_check = _check(project, "the generator's")
    generated_layout = migration_layout(project)
    if delete_migrations(project) != generation.migrations:
        raise ComparisonError("expected %d migration files in %s" % (generation.migrations, project))
    settle()
    code, output, seconds = _manage(project, "makemigrations", "--noinput")
    if code:
        raise ComparisonError("makemigrations failed (exit %d):\n%s" % (code, _tail(output)))
    makemigrations_check = _check(project, "makemigrations'")
    return Comparison(
        generation=generation,
        makemigrations_seconds=seconds,
        generator_child_seconds=child_seconds,
        generated_check=generated_check,
        makemigrations_check=makemigrations_check,
        generated_layout=generated_layout,
        makemigrations_layout=migration_layout(project),
    )


def compare(base: str, apps: int, models: int, seed: int | None, target: DjangoLine,
            workdir: str | Path, cold: bool = True, timer=None) -> Comparison:
    """One round of measurement 2 in `workdir` (created if needed).

    `timer(function, *args)` runs the in-process generation (pytest-benchmark
    passes its own, so the generator is the benchmarked call); the figures in
    the result come from `generate`'s own clock either way.
    """
    require_django(target)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    child_seconds = None
    if cold:
        settle()
        child_seconds = generate_in_child(base, apps, models, 1, seed, target, workdir / "cold")
        shutil.rmtree(workdir / "cold")
    scenario = sized_scenario(base, apps, models, 1, seed)
    warm_up(scenario, target)
    settle()
    timer = timer or (lambda function, *args: function(*args))
    generation = timer(generate, scenario, target, workdir / "project")
    return makemigrations_comparison(generation, child_seconds)


# -- one core ----------------------------------------------------------------------


@contextlib.contextmanager
def one_core(enabled: bool = True):
    """Pin this process (and the children it starts) to one CPU; yields the CPU or None."""
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = max(before)  # away from CPU 0, which takes most interrupts
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


# -- provenance --------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def provenance(out_root: Path | None = None, cpu: int | None = None) -> dict:
    try:
        from importlib.metadata import version

        django = version("Django")
    except Exception:  # PackageNotFoundError, or no metadata at all
        django = "not installed"
    try:
        import faker

        faker_version = faker.VERSION
    except ImportError:  # pragma: no cover - a hard dependency
        faker_version = "?"
    commit = git_commit()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
        "django": django,
        "migbench": MIGBENCH_VERSION + (" (%s)" % commit if commit else ""),
        "faker": faker_version,
        "cpu": "%s, %d logical CPUs, pinned to CPU %s" % (
            cpu_model(), os.cpu_count() or 0, cpu if cpu is not None else "none (not pinned)"),
        "os": platform.platform(),
        "load": "%.2f %.2f %.2f (1/5/15 min, at start)" % os.getloadavg() if hasattr(os, "getloadavg") else "",
        "output": str(out_root) if out_root else "",
    }


# -- the command -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Measure generation throughput and compare the generator with makemigrations.",
    )
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO,
                        help="shipped scenario name or TOML path (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    parser.add_argument("--django", default="5.2", help="target Django line (default: %(default)s)")
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--models", type=int, default=20, help="models per app (fixed)")
    parser.add_argument("--migrations", type=int, default=10, help="migrations per app (fixed)")
    parser.add_argument("--compare-scenario", default=None,
                        help="scenario for the makemigrations comparison (default: --scenario)")
    parser.add_argument("--compare-apps", type=int, default=20)
    parser.add_argument("--compare-models", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="repeat each measurement; report the median")
    parser.add_argument("--skip-large", action="store_true", help="only the makemigrations comparison")
    parser.add_argument("--skip-compare", action="store_true", help="only the large project")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the child-process (cold start) generator timing")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    parser.add_argument("--workdir", default=None,
                        help="where projects are written (default: a temporary directory, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the written projects")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    return parser


def _fmt_bytes(count: int) -> str:
    return "%.1f MB" % (count / 1e6)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure_large(args, target: DjangoLine, root: Path) -> dict:
    scenario = sized_scenario(args.scenario, args.apps, args.models, args.migrations, args.seed)
    runs = []
    for index in range(args.rounds):
        out = root / ("large-%d" % index)
        settle()
        runs.append(generate(scenario, target, out))
        if not args.keep:
            shutil.rmtree(out)
    seconds = _median([r.seconds for r in runs])
    return {
        "runs": [r.as_dict() for r in runs],
        "seconds": seconds,
        "build_seconds": _median([r.build_seconds for r in runs]),
        "write_seconds": _median([r.write_seconds for r in runs]),
        "target_seconds": TARGET_SECONDS,
        "met": seconds < TARGET_SECONDS,
    }


def measure_compare(args, target: DjangoLine, root: Path) -> dict:
    comparisons = []
    for index in range(args.rounds):
        work = root / ("compare-%d" % index)
        comparisons.append(compare(args.compare_scenario or args.scenario, args.compare_apps,
                                   args.compare_models, args.seed, target, work, cold=not args.no_cold))
        if not args.keep:
            shutil.rmtree(work)
    ratio = _median([c.ratio for c in comparisons])
    cold = [c.cold_ratio for c in comparisons if c.cold_ratio is not None]
    return {
        "runs": [c.as_dict() for c in comparisons],
        "generator_seconds": _median([c.generation.seconds for c in comparisons]),
        "generator_child_seconds": (
            _median([c.generator_child_seconds for c in comparisons]) if cold else None),
        "makemigrations_seconds": _median([c.makemigrations_seconds for c in comparisons]),
        "ratio": ratio,
        "migrations_seconds": _median([c.generation.migrations_seconds for c in comparisons]),
        "migrations_ratio": _median([c.migrations_ratio for c in comparisons]),
        "cold_ratio": _median(cold) if cold else None,
        "same_layout": all(c.same_layout for c in comparisons),
        "target_ratio": TARGET_RATIO,
        # like for like: makemigrations replaces producing the migration files only
        "met": _median([c.migrations_ratio for c in comparisons]) >= TARGET_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when both targets are met, 1 when one is missed, 2 when a measurement failed."""
    args = _parser().parse_args(argv)
    target = resolve_line(args.django)
    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="migbench-speed-"))
    root.mkdir(parents=True, exist_ok=True)
    given = sys.argv[1:] if argv is None else list(argv)
    results: dict = {"command": shlex.join(["python", "benchmarks/generation.py", *given])}
    status = 0
    try:
        with one_core(not args.no_pin) as cpu:
            results["provenance"] = provenance(root, cpu)
            for key, skip, measure in (("large", args.skip_large, measure_large),
                                       ("compare", args.skip_compare, measure_compare)):
                if skip:
                    continue
                try:
                    results[key] = measure(args, target, root)
                except (ComparisonError, MigbenchError) as error:
                    results[key + "_error"] = str(error)
                    status = 2
                    continue
                if not results[key]["met"]:
                    status = max(status, 1)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    print(report(results, args))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return status


def report(results: dict, args) -> str:
    compare_scenario = args.compare_scenario or args.scenario
    lines = ["migbench generation speed (scenario %s%s; Django target %s)" % (
        args.scenario, "" if compare_scenario == args.scenario else
        ", comparison scenario %s" % compare_scenario, args.django), ""]
    rows = [("measurement", "size", "models", "seconds", "models/s", "target", "")]
    if "large" in results:
        large = results["large"]
        run = large["runs"][0]
        rows.append((
            "build + write project",
            "%d x %d x %d" % (run["apps"], run["models_per_app"], run["migrations_per_app"]),
            str(run["models"]),
            "%.2f" % large["seconds"],
            "%.0f" % (run["models"] / large["seconds"]),
            "< %.0f s" % large["target_seconds"],
            "met" if large["met"] else "MISSED",
        ))
    if "compare" in results:
        compare_ = results["compare"]
        run = compare_["runs"][0]["generation"]
        size = "%d x %d x 1" % (run["apps"], run["models_per_app"])
        rows.append(("generator (in process)", size, str(run["models"]),
                     "%.3f" % compare_["generator_seconds"],
                     "%.0f" % (run["models"] / compare_["generator_seconds"]), "", ""))
        if compare_["generator_child_seconds"] is not None:
            rows.append(("generator (fresh process)", size, str(run["models"]),
                         "%.3f" % compare_["generator_child_seconds"],
                         "%.0f" % (run["models"] / compare_["generator_child_seconds"]), "", ""))
        rows.append(("manage.py makemigrations", size, str(run["models"]),
                     "%.3f" % compare_["makemigrations_seconds"],
                     "%.0f" % (run["models"] / compare_["makemigrations_seconds"]), "", ""))
        rows.append(("ratio makemigrations/generator", "", "", "%.1fx" % compare_["ratio"], "", "", ""))
        if compare_["cold_ratio"] is not None:
            rows.append(("  ... vs fresh-process generator", "", "", "%.1fx" % compare_["cold_ratio"],
                         "", "", ""))
        rows.append(("generator, migration files only", size, str(run["models"]),
                     "%.3f" % compare_["migrations_seconds"], "", "", ""))
        rows.append(("  ratio makemigrations/that", "", "", "%.1fx" % compare_["migrations_ratio"], "",
                     ">= %.0fx" % compare_["target_ratio"], "met" if compare_["met"] else "MISSED"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    if "large" in results:
        run = results["large"]["runs"][0]
        lines += ["", "large project: %d migrations, %d operations, %d files, %s; build %.2f s + write %.2f s"
                  % (run["migrations"], run["operations"], run["files"], _fmt_bytes(run["bytes"]),
                     results["large"]["build_seconds"], results["large"]["write_seconds"])]
    if "compare" in results:
        compare_ = results["compare"]
        lines += ["comparison: 'generator' times build_project + write_project of the whole project "
                  "(designing the schema included); 'migration files only' times rendering and writing "
                  "the migration files of the designed history, the step makemigrations replaces; "
                  "makemigrations --check --dry-run: %r after the generator, %r after makemigrations; "
                  "same migration files per app: %s"
                  % (compare_["runs"][0]["generated_check"], compare_["runs"][0]["makemigrations_check"],
                     "yes" if compare_["same_layout"] else "no")]
    for key in ("large_error", "compare_error"):
        if key in results:
            lines += ["", "%s FAILED: %s" % (key.split("_")[0], results[key])]
    lines += ["", "command: %s" % results["command"]]
    lines += ["%-9s %s" % (key + ":", value) for key, value in results["provenance"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
