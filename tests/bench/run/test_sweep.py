"""`migbench sweep`: the power-law fits, --vary, sized scenarios, the budget, one real tiny sweep."""

from __future__ import annotations

import io
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from migbench.bench.analysis.growth import estimate, fit_series, series_of
from migbench.bench.analysis.stats import power_law_fit, power_law_fit2
from migbench.bench.records import Cell, ResultStore, RunRecord, load_record
from migbench.bench.run.matrix import Matrix, PlannedCell
from migbench.bench.run.options import resolve_options
from migbench.bench.run.progress import Progress
from migbench.bench.run.sweep import SCHEMA, Sweep, dominates, fit_variables, grid, parse_vary, sized_scenario
from migbench.cli import main
from migbench.errors import MigbenchError
from migbench.generator import build_project, resolve_scenario
from migbench.targets import resolve_line

MB = 2**20


# -- the fits ------------------------------------------------------------------------------------


def test_power_law_fit_recovers_a_known_exponent_exactly():
    xs = [10, 20, 40, 80, 160]
    fit = power_law_fit(xs, [3 * x ** 1.9 for x in xs])
    assert fit.exponent == pytest.approx(1.9, abs=1e-9)
    assert fit.coefficient == pytest.approx(3, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12) and fit.n == 5


def test_power_law_fit_with_noise_is_close_and_r2_below_one():
    rng = random.Random(7)
    xs = [10, 14, 20, 28, 40, 56, 80, 113]
    ys = [3 * x ** 1.9 * math.exp(rng.gauss(0, 0.05)) for x in xs]
    fit = power_law_fit(xs, ys)
    assert fit.exponent == pytest.approx(1.9, abs=0.1)
    assert 0.95 < fit.r2 < 1.0


def test_two_variable_fit_recovers_both_exponents():
    xs1, xs2 = zip(*[(a, m) for a in (10, 20, 40, 80) for m in (1, 5, 20)])
    exact = power_law_fit2(xs1, xs2, [3 * a ** 1.9 * m ** 0.5 for a, m in zip(xs1, xs2)])
    assert exact.exponents == pytest.approx((1.9, 0.5), abs=1e-9)
    assert exact.coefficient == pytest.approx(3, rel=1e-9) and exact.r2 == pytest.approx(1.0) and exact.n == 12
    assert exact.predict(160, 10) == pytest.approx(3 * 160 ** 1.9 * 10 ** 0.5)
    rng = random.Random(3)
    noisy = power_law_fit2(xs1, xs2, [3 * a ** 1.9 * m ** 0.5 * math.exp(rng.gauss(0, 0.05))
                                      for a, m in zip(xs1, xs2)])
    assert noisy.exponents[0] == pytest.approx(1.9, abs=0.1) and noisy.exponents[1] == pytest.approx(0.5, abs=0.1)
    assert 0.95 < noisy.r2 < 1.0


def test_two_variable_fit_refuses_what_cannot_separate_the_variables():
    assert power_law_fit2([10, 20], [1, 5], [1, 2]) is None  # fewer than three points
    assert power_law_fit2([10, 20, 40], [2, 4, 8], [1, 2, 4]) is None  # both double together
    assert power_law_fit2([10, 20, 40], [5, 5, 5], [1, 2, 4]) is None  # one is constant


# -- --vary and the sizes -----------------------------------------------------------------------------


def test_parse_vary_orders_axes_and_values():
    assert parse_vary(["migrations=20,1,5", "apps=40,10,20,10"]) == {"apps": (10, 20, 40), "migrations": (1, 5, 20)}
    assert parse_vary(["models = 3, 6"]) == {"models": (3, 6)}
    assert parse_vary(["apps=10", "migrations=1,5"]) == {"apps": (10,), "migrations": (1, 5)}


@pytest.mark.parametrize("specs, message", [
    ([], "give what to vary"),
    (["apps"], "expected NAME=V1,V2"),
    (["apps="], "expected NAME=V1,V2"),
    (["tables=1,2"], "cannot vary 'tables'; vary one of apps, models, migrations"),
    (["apps=1,x"], "'x' is not a whole number >= 1"),
    (["apps=0,2"], "'0' is not a whole number >= 1"),
    (["apps=1,,2"], "'' is not a whole number"),
    (["apps=-1,2"], "'-1' is not a whole number"),
    (["migrations=1,10000"], "migrations is at most 9999"),
    (["apps=1,2", "apps=3"], "given twice"),
    (["apps=10"], "at least two sizes"),
])
def test_parse_vary_errors_are_one_line(specs, message):
    with pytest.raises(MigbenchError, match=message) as error:
        parse_vary(specs)
    assert "\n" not in str(error.value)


def test_grid_runs_smallest_first_and_dominance():
    points = grid({"apps": (10, 20), "migrations": (1, 5)})
    assert points == [{"apps": 10, "migrations": 1}, {"apps": 20, "migrations": 1},
                      {"apps": 10, "migrations": 5}, {"apps": 20, "migrations": 5}]
    assert dominates(points[3], points[1]) and not dominates(points[2], points[1])
    assert fit_variables({"apps": (10, 20)}) == ("models",)
    assert fit_variables({"apps": (10,), "migrations": (1, 5)}) == ("migrations",)
    assert fit_variables({"models": (3, 6), "migrations": (1, 5)}) == ("models", "migrations")


def test_sized_scenario_keeps_name_and_seed_and_gets_its_own_identity():
    quick = resolve_scenario("quick").with_seed(11)
    small, large = sized_scenario(quick, {"apps": 2, "migrations": 3}), sized_scenario(quick, {"apps": 3})
    assert small.name == large.name == "quick" and small.generator.seed == large.generator.seed == 11
    assert len({quick.sha256, small.sha256, large.sha256}) == 3
    assert sized_scenario(quick, {"migrations": 3, "apps": 2}).sha256 == small.sha256  # deterministic
    assert small.vary == {"apps": 2, "migrations": 3} and quick.vary == {}
    assert small.generator.history.migrations_per_app == (3, 3)
    assert sized_scenario(quick, {"models": 4}).generator.models_per_app == (4, 4)

    project = build_project(small, resolve_line("5.2"))
    assert project.summary.apps == 2
    assert set(Counter(m.app for m in project.history.migrations).values()) == {3}
    again = build_project(sized_scenario(quick, {"apps": 2, "migrations": 3}), resolve_line("5.2"))
    assert again.files == project.files, "same sizes, same bytes"


# -- the budget, with a fake runner --------------------------------------------------------------------


def _record(cell: Cell, repeat: int, models: int, wall: float, outcome: str = "ok",
            migrations: int | None = None) -> RunRecord:
    return RunRecord(
        run_id="%s-%d" % (cell.scenario_sha256[:8], repeat), repeat=repeat, outcome=outcome,
        outcome_reason="exit status 0", exit_code=0, signal=None, wall_s=wall, cpu_user_s=wall, cpu_sys_s=0.0,
        peak_rss_bytes=int(50 * MB * models ** 0.4), peak_rss_detail={}, limit_peak_bytes=None,
        memory_limit_bytes=cell.memory_limit_bytes, limiter={"name": "none"}, strategy=cell.strategy,
        django_version=cell.django_version, python_version=cell.python_version, shim=False,
        database={"engine": cell.database}, scenario={"name": cell.scenario, "sha256": cell.scenario_sha256},
        project={"apps": models // 10, "models": models, "migrations": migrations or models // 10}, phases={},
        failed_during=None, last_migration=None, events=[], samples={"interval_s": 0.02, "t": [], "rss": []},
        error=None, command={}, host={}, started_at="2026-11-22T10:00:00+00:00", migbench_version="0.1.0")


class FakeBench:
    """plan/run/clock for Sweep: a run at N apps and M migrations per app "takes"
    0.01 * (10 N models)^2 * M^0.5 seconds of a fake clock."""

    def __init__(self, root: Path):
        self.root, self.now, self.started = root, 0.0, []

    def plan(self, scenario, options, on_note):
        project = self.root / ("project-%s" % scenario.sha256[:8])
        project.mkdir(parents=True, exist_ok=True)
        apps, per_app = scenario.generator.apps, scenario.vary.get("migrations", 1)
        (project / "migbench.json").write_text(json.dumps({"counts": {"models": 10 * apps,
                                                                      "migrations": apps * per_app}}))
        cell = Cell(scenario.name, scenario.sha256, "all", "5.2.19", "3.11.7", None, "sqlite")
        return Matrix([PlannedCell(cell, env=None)], [], project, "5.2")

    def run(self, scenario, options, matrix, store, command, progress):
        models, per_app = 10 * scenario.generator.apps, scenario.vary.get("migrations", 1)
        for repeat in range(1, options.repeat + 1):
            for planned in matrix.cells:
                if store.done(planned.cell, repeat):
                    continue
                self.started.append(scenario.vary["apps"] if len(scenario.vary) == 1 else scenario.vary)
                wall = 0.01 * models ** 2 * per_app ** 0.5
                self.now += wall
                store.write(_record(planned.cell, repeat, models, wall, migrations=models // 10 * per_app))

    def sweep(self, out: Path, budget_s, axes=None):
        log = io.StringIO()
        options = resolve_options({"django": "5.2"}, {}, "test")
        sweep = Sweep(resolve_scenario("quick"), axes or {"apps": (1, 2, 4, 8, 16)}, options, ResultStore(out),
                      ["migbench", "sweep"],
                      Progress(stream=log), budget_s, plan=self.plan, run=self.run, clock=lambda: self.now)
        return sweep.run(), log.getvalue()


def test_budget_skips_a_size_estimated_not_to_fit_and_never_starts_it(tmp_path):
    bench = FakeBench(tmp_path / "projects")
    # apps 1, 2, 4 take 1 + 4 + 16 = 21 s; apps=8 would take 64 s, 19 s are left of 40 s.
    result, log = bench.sweep(tmp_path / "out", budget_s=40)
    assert bench.started == [1, 2, 4], "apps=8 and apps=16 never started"
    assert "no estimate yet" in log  # the first two sizes run without a fit
    assert "skipped apps=8: estimated 64s (time ~ models^2.00 from 3 sizes) > 19s left of the budget" in log
    assert "skipped apps=16: at least as large as apps=8, which was skipped" in log
    statuses = {p.label: (p.status, p.estimate_s) for p in result.points}
    assert statuses == {"apps=1": ("run", None), "apps=2": ("run", None), "apps=4": ("run", 16.0),
                        "apps=8": ("skipped", 64.0), "apps=16": ("skipped", None)}
    text = "\n".join(result.lines())
    assert "time grows as models^2.00 (R² 1.00, 3 sizes); peak as models^0.40 (R² 1.00)" in text
    assert "skipped apps=8: estimated 64s" in text
    assert result.status == 0

    summary = json.loads(result.summary_path.read_text())
    assert summary["schema"] == SCHEMA and summary["vary"] == {"apps": [1, 2, 4, 8, 16]}
    assert summary["budget_s"] == 40 and summary["variables"] == ["models"]
    assert [p["status"] for p in summary["points"]] == ["run", "run", "run", "skipped", "skipped"]
    assert summary["fits"][0]["time"]["exponents"] == [2.0]
    assert summary["migbench_version"] and summary["host"]["hostname"]

    # The same sweep without a budget resumes: only the sizes not recorded yet run.
    bench.started.clear()
    result, log = bench.sweep(tmp_path / "out", budget_s=None)
    assert bench.started == [8, 16]
    assert [p.status for p in result.points] == ["recorded", "recorded", "recorded", "run", "run"]
    assert result.fits[series_of(result.points[0].cells[0])].time.n == 5


def test_two_axes_fit_both_counts_and_estimate_only_once_they_separate(tmp_path):
    bench = FakeBench(tmp_path / "projects")
    result, log = bench.sweep(tmp_path / "out", budget_s=3600, axes={"apps": (1, 2, 4), "migrations": (1, 4)})
    # smallest first: (1,1) (2,1) (1,4) (4,1) (2,4) (4,4); the fit needs three sizes off one line
    assert [p.label for p in result.points][:3] == ["apps=1 migrations=1", "apps=2 migrations=1",
                                                    "apps=1 migrations=4"]
    assert [p.estimate_s is None for p in result.points] == [True, True, True, False, False, False]
    fit = next(iter(result.fits.values()))
    # wall = 0.01 * models^2 * (migrations per app)^0.5, and per app = total * 10 / models
    assert fit.time.variables == ("models", "migrations")
    assert fit.time.exponents == pytest.approx((1.5, 0.5))
    assert result.points[-1].estimate_s == pytest.approx(0.01 * 40 ** 2 * 2)
    assert "time grows as models^1.50 · migrations^0.50 (R² 1.00, 6 sizes)" in "\n".join(result.lines())


def test_fit_series_uses_medians_of_ok_runs_per_size_and_estimate_sums_pending_runs():
    cell = Cell("s", "", "all", "5.2.19", "3.11.7", None, "sqlite")
    records = []
    for models in (10, 20, 40):
        sized = Cell("s", "sha%d" % models, "all", "5.2.19", "3.11.7", None, "sqlite")
        records += [_record(sized, 1, models, 0.01 * models ** 2 * 0.9),
                    _record(sized, 2, models, 0.01 * models ** 2),
                    _record(sized, 3, models, 0.01 * models ** 2 * 1.5),
                    _record(sized, 4, models, 999.0, outcome="oom-killed")]
    fits = fit_series(records, ("models",))
    assert list(fits) == [series_of(cell)]
    assert fits[series_of(cell)].time.exponents[0] == pytest.approx(2.0)
    guess = estimate([cell, cell], {"models": 80}, fits, overhead=1.5)
    assert guess.seconds == pytest.approx(2 * 64 * 1.5) and guess.runs == 2
    assert "x1.5 for setup and validation" in guess.basis
    other = Cell("s", "", "all", "4.2.30", "3.11.7", None, "sqlite")
    assert estimate([other], {"models": 80}, fits) is None, "no fit for that series: no estimate"


# -- one real sweep --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_real_tiny_sweep_through_the_cli(tmp_path, environment_for, capsys):
    environment_for("5.2")
    out = tmp_path / "sweep"
    assert main(["sweep", "quick", "--vary", "apps=1,2", "--django", "5.2", "--out", str(out), "--profile"]) == 0
    printed = capsys.readouterr().out
    assert "time grows as models^" in printed and "too few sizes for an R²" in printed

    records = [load_record(p) for p in sorted(out.glob("*.json"))]
    assert len(records) == 2 and all(r.outcome == "ok" for r in records)
    assert {r.scenario["name"] for r in records} == {"quick"}
    assert len({r.scenario["sha256"] for r in records}) == 2
    assert sorted(r.scenario["vary"]["apps"] for r in records) == [1, 2]
    assert sorted(r.project["apps"] for r in records) == [1, 2]
    assert len({r.project["models"] for r in records}) == 2

    summary = json.loads((out / "sweep" / "quick.json").read_text())
    assert summary["schema"] == "migbench.sweep/1" and summary["interrupted"] is False
    assert [p["vary"] for p in summary["points"]] == [{"apps": 1}, {"apps": 2}]
    assert (out / "report" / "report.html").is_file()

    from migbench.bench.report.load import load_results

    loaded = load_results([out])
    assert len(loaded.records) == 2 and out / "sweep" / "quick.json" in loaded.skipped
    # --profile: one profiled run per size, so the stage shares can be read against size
    assert sorted(r.project["apps"] for r in loaded.profiled) == [1, 2]
    assert all(r.profile["stages"]["state"] > 0 for r in loaded.profiled)
