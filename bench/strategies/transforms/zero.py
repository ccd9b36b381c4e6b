"""`zero` ("migrations zero"): delete every migration of the project apps and make them again."""

from __future__ import annotations

import shutil

from .base import Backup, Job
from .graphinfo import last_line, used
from .report import AppResult


class Zero(Job):
    kind = "zero"

    def apply(self) -> list[AppResult]:
        original = self.makemigrations_clean()
        if not original.ok:
            self.note("the original migrations do not match the models on Django %s (makemigrations finds "
                      "changes: %s): the regenerated ones follow the models, so the schema will differ"
                      % (self.env.django_version, _first_change(original.output)))
        backup = Backup((self.migrations_dir(a) for a in self.labels), self.scratch)
        for app in self.labels:
            for path in self.migrations_dir(app).iterdir():
                if path.name == "__pycache__":
                    shutil.rmtree(path)
                elif path.name != "__init__.py" and path.suffix in (".py", ".pyc"):
                    path.unlink()
        step = self.manage("makemigrations", "makemigrations", *self.labels)
        after, error = self.check() if step.ok else (None, "makemigrations failed: " + last_line(step.output))
        if after is not None:
            clean = self.makemigrations_clean()
            if not clean.ok:
                after, error = None, ("makemigrations still finds changes after regenerating: "
                                      + last_line(clean.output))
        if after is not None:
            failure = self.verify()
            if failure is not None and not failure.by_app:
                after, error = None, "the regenerated migrations do not migrate (%s): %s" % (failure.node, failure.error)
            elif failure is not None:  # what makemigrations writes is zero: the difference is the finding
                self.note("the regenerated migrations migrate to another schema than the original's: " + failure.error)
        if after is None:
            backup.restore()
            self.note("zero failed, migrations restored: " + error)
            return [self.result(a, "failed", error, self.before, self.before) for a in self.labels]
        results, dropped = [], {"RunPython": 0, "RunSQL": 0}
        for app in self.labels:
            names = used(self.before, app)
            data = 0
            for key, counts in self.before.get("data_operations", {}).items():
                label, name = key.split(".", 1)
                if label == app and name in names:
                    for kind, n in counts.items():
                        dropped[kind] = dropped.get(kind, 0) + n
                        data += n
            reason = "data operations dropped: %d" % data if data else ""
            results.append(self.result(app, "regenerated", reason, self.before, after))
        self.note("zero drops the data migrations by design: %d RunPython and %d RunSQL operations"
                  % (dropped["RunPython"], dropped["RunSQL"]))
        return results


def _first_change(output: str) -> str:
    """The first "~ Alter field id on x" / "- Add field" line of a makemigrations dry run."""
    for line in output.splitlines():
        if line.strip()[:2] in ("- ", "~ ", "+ "):
            return line.strip()
    return last_line(output)
