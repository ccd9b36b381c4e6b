"""Container images per (Python, Django) environment, built offline and cached in the engine's store.

No registry is needed. The offline image is built in two steps:

1. the base, once per engine and root filesystem: the debootstrapped Debian
   root (rootfs.ensure("container"): minbase + python3's shared libraries +
   libmariadb3 + libpq5) piped through `tar | <engine> import - migbench-base:<rootfs digest>`;
2. one image per environment, `<engine> build` FROM the base: the
   interpreter's prefix (the marker's interpreter's sys.prefix: a pyenv
   build links only libc and libraries the base has) and the environment
   directory, COPYed to the SAME paths as on the host. The host's argv (the
   env's bin/python, the worker script's path on a mount) then works
   unchanged inside. The prefix's own site-packages (when the venv does not
   see it) and its test suite are left out: nothing in a venv imports them,
   and they are most of a pyenv prefix's size.

The build context is a temporary tree of hard links (a copy across
filesystems), deleted afterwards. Each path is its own COPY, so two
environments of one Python share the prefix's layer (the builder's cache).
The image is verified (Django and every driver imported, `--network none`)
before it is used.

The tag migbench-env:<env key>-<digest> changes with the base, the env's
marker, every driver marker (a driver installed later = a new image; the old
tag is removed) and the generated Dockerfile. A user's image built from
docker/Dockerfile (official Python images, for machines with a registry) and
tagged migbench-env:<env key> with label migbench.source=dockerfile wins
when present.

Side effects: reads the rootfs (building it on first use), writes a build
context under <cache>/guests, imports, builds, verifies and removes images in
the engine's store. Builds are locked (<cache>/locks), so two processes build once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.env import environments
from migbench.errors import MigbenchError

from . import rootfs
from .runtime import Runtime, tail

BASE_REPOSITORY = "migbench-base"
REPOSITORY = "migbench-env"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_BUILD_TIMEOUT = 1800  # seconds; a build copies a few hundred MB (~40 s here)
_SYSTEM_PREFIXES = ("/", "/usr")  # copying these over the base would replace the base itself
# Imports Django and the drivers the env's markers name, with the env's python, inside the image.
_VERIFY = "import django, sys\nfor name in sys.argv[1:]:\n    __import__(name)\nprint(django.get_version())"


@dataclass(frozen=True)
class Image:
    """An image a child can run in (built now or found in the engine's store)."""

    runtime: str  # "docker" | "podman"
    tag: str
    python: str  # the interpreter to run inside; offline: the env's bin/python, at the host's path
    source: str  # "offline" | "dockerfile"
    digest: str
    built_now: bool = False
    build_seconds: float | None = None


@dataclass(frozen=True)
class Plan:
    """What the offline image of one environment holds, and its Dockerfile."""

    key: str
    python: str
    dockerfile: str  # without the LABEL line (the digest is computed over it)
    digest: str
    sources: tuple[tuple[Path, str, frozenset], ...]  # (host path, context dir, relative paths left out)
    modules: tuple[str, ...]  # driver modules to import when verifying

    @property
    def tag(self) -> str:
        return "%s:%s-%s" % (REPOSITORY, self.key, self.digest)


def base_tag() -> str:
    """The base image's reference: named after the root filesystem's digest (no build needed to know it)."""
    return "%s:%s" % (BASE_REPOSITORY, rootfs.digest("container"))


def user_tag(key: str) -> str:
    """Where ensure_image looks for an image the user built from docker/Dockerfile."""
    return "%s:%s" % (REPOSITORY, key)


def ensure_image(runtime: Runtime, env_dir: Path) -> Image:
    """The image to run environment `env_dir`'s children in, built on first use."""
    env_dir = Path(env_dir)
    runtime.require()
    found = user_image(runtime, env_dir.name)
    if found is not None:
        return found
    plan = plan_image(env_dir)
    if runtime.inspect_image(plan.tag) is not None:
        return _image(runtime, plan)
    with environments.locked("image-%s-%s" % (runtime.name, plan.key)):
        if runtime.inspect_image(plan.tag) is not None:  # built while we waited
            return _image(runtime, plan)
        started = time.monotonic()
        ensure_base(runtime)
        _build(runtime, plan)
        _verify(runtime, plan)
        _drop_stale(runtime, plan)
        return _image(runtime, plan, built_now=True, seconds=round(time.monotonic() - started, 1))


def user_image(runtime: Runtime, key: str) -> Image | None:
    """The image built from docker/Dockerfile for environment `key`, if the store has one."""
    tag = user_tag(key)
    found = runtime.inspect_image(tag)
    if found is None or found["labels"].get("migbench.source") != "dockerfile":
        return None
    labels = found["labels"]
    if labels.get("migbench.key") != key:
        raise MigbenchError("image %s is labelled for environment %s, not %s; rebuild it with the "
                            "matching --build-arg PYTHON and DJANGO (docker/README.md) or remove it: "
                            "%s rmi %s" % (tag, labels.get("migbench.key"), key, runtime.name, tag))
    return Image(runtime=runtime.name, tag=tag, python=labels.get("migbench.python") or "/usr/local/bin/python",
                 source="dockerfile", digest=str(found.get("id", "")).split(":")[-1][:12])


def ensure_base(runtime: Runtime) -> str:
    """The base image (the container rootfs imported), imported on first use; its tag."""
    tag = base_tag()
    if runtime.inspect_image(tag) is not None:
        return tag
    with environments.locked("image-%s-base" % runtime.name):
        if runtime.inspect_image(tag) is not None:
            return tag
        root = rootfs.ensure("container")
        tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            runtime.check("import", "--change", "LABEL migbench.rootfs=%s" % rootfs.digest("container"),
                          "--change", "ENV PATH=%s" % PATH, "-", tag, stdin=tar.stdout,
                          what="importing the root filesystem %s as %s" % (root, tag), timeout=_BUILD_TIMEOUT,
                          fix="check the space in the engine's store (`%s system df`) and retry" % runtime.name)
        finally:
            tar.stdout.close()
            tar.wait()
        if tar.returncode != 0:
            runtime.remove_image(tag)
            raise MigbenchError("reading the root filesystem %s failed (tar exit %d); delete %s and retry"
                                % (root, tar.returncode, root.parent))
    return tag


def _marker(env_dir: Path) -> tuple[str, dict]:
    """(text, data) of an environment's marker, or one line saying it is not a built environment."""
    try:
        text = (env_dir / environments.MARKER).read_text()
        return text, json.loads(text)
    except (OSError, ValueError):
        raise MigbenchError("%s is not a built migbench environment (no readable %s); build it with "
                            "`migbench envs --create LINE`" % (env_dir, environments.MARKER)) from None


def interpreter_dirs(env_dir: Path) -> list[Path]:
    """The host directories the environment's interpreter runs from (besides env_dir itself):
    what an image copies, and what the VM limiter shares read-only with its guest."""
    _, marker = _marker(env_dir)
    return interpreter_prefixes(str(marker.get("interpreter", "")), env_dir)


def plan_image(env_dir: Path) -> Plan:
    """The offline image of `env_dir`: what is copied where, its Dockerfile and digest (no engine needed)."""
    marker_text, marker = _marker(env_dir)
    key, python = env_dir.name, env_dir / "bin" / "python"
    prefixes = interpreter_dirs(env_dir)
    minor = ".".join(str(marker.get("python_version", "")).split(".")[:2])
    skipped = _left_out(env_dir, minor)
    sources = [(prefix, "prefix-%d" % index, skipped) for index, prefix in enumerate(prefixes)]
    sources.append((env_dir, "env", frozenset()))
    lines = ["# migbench offline image of environment %s (bench/guests/images.py): no registry, "
             "no network" % key, "FROM %s" % base_tag()]
    for host, context, skip in sources:
        what = "the environment" if context == "env" else "the interpreter's prefix"
        left = " (left out: %s)" % ", ".join(sorted(skip)) if skip else ""
        lines += ["# %s, at the host's path%s" % (what, left),
                  "COPY %s" % json.dumps([context + "/", str(host).rstrip("/") + "/"])]
    dockerfile = "\n".join(lines) + "\n"
    digest = hashlib.sha256()
    digest.update(dockerfile.encode())
    digest.update(marker_text.encode())
    modules = []
    for driver in sorted(env_dir.glob("migbench-driver-*.json")):
        text = driver.read_text()
        digest.update(driver.name.encode() + b"\0" + text.encode())
        try:
            modules.append(str(json.loads(text)["module"]))
        except (ValueError, KeyError, TypeError):
            pass  # a half-written marker: environments.ensure_driver reinstalls it
    return Plan(key=key, python=str(python), dockerfile=dockerfile, digest=digest.hexdigest()[:12],
                sources=tuple(sources), modules=tuple(modules))


def interpreter_prefixes(interpreter: str, env_dir: Path) -> list[Path]:
    """The directories the env's interpreter runs from: sys.prefix, exec_prefix, base/real prefix,
    and a Python 2.7 virtualenv's orig-prefix.txt; outermost only, never the env itself."""
    if not interpreter or not os.path.exists(interpreter):
        raise MigbenchError("environment %s: its interpreter %s is gone; rebuild the environment "
                            "(`migbench envs --prune`, then --create)" % (env_dir.name, interpreter or "(none)"))
    probe = ("import sys, json; print(json.dumps([sys.prefix, sys.exec_prefix, "
             "getattr(sys, 'base_prefix', sys.prefix), getattr(sys, 'real_prefix', sys.prefix)]))")
    child_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    try:
        done = subprocess.run([interpreter, "-c", probe], capture_output=True, text=True, timeout=60,
                              env=child_env, stdin=subprocess.DEVNULL)
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        raise MigbenchError("environment %s: asking %s for its prefix failed; check that it runs: "
                            "%s -V" % (env_dir.name, interpreter, interpreter)) from None
    for orig in env_dir.glob("lib/python*/orig-prefix.txt"):
        found.append(orig.read_text().strip())
    env_real = env_dir.resolve()
    prefixes: list[Path] = []
    for text in found:
        path = Path(text).resolve()
        if path == env_real or env_real in path.parents:
            continue  # a venv's own sys.prefix: copied as the environment
        if str(path) in _SYSTEM_PREFIXES:
            raise MigbenchError("environment %s runs on the system Python under %s, which an offline image "
                                "cannot copy; use a pyenv-built Python, or build docker/Dockerfile "
                                "(docker/README.md) and tag it %s" % (env_dir.name, path, user_tag(env_dir.name)))
        prefixes.append(path)
    outer = sorted(set(prefixes), key=lambda p: len(p.parts))
    return [p for i, p in enumerate(outer) if not any(q in p.parents for q in outer[:i])]


def _left_out(env_dir: Path, minor: str) -> frozenset:
    """Relative paths of a prefix not worth copying: its test suite, and its site-packages when
    the venv cannot see it (pyvenv.cfg, or an old virtualenv's no-global-site-packages.txt)."""
    if not minor:
        return frozenset()
    stdlib = "lib/python%s" % minor
    skip = {stdlib + "/test"}
    cfg = env_dir / "pyvenv.cfg"
    if cfg.is_file():
        settings = dict(line.split("=", 1) for line in cfg.read_text().splitlines() if "=" in line)
        system = {k.strip(): v.strip().lower() for k, v in settings.items()}.get("include-system-site-packages")
        if system != "true":
            skip.add(stdlib + "/site-packages")
    elif (env_dir / stdlib / "no-global-site-packages.txt").is_file():
        skip.add(stdlib + "/site-packages")
    return frozenset(skip)


def _build(runtime: Runtime, plan: Plan) -> None:
    """Make the context (hard links), `<engine> build` it, delete it."""
    scratch = environments.cache_root() / "guests"
    scratch.mkdir(parents=True, exist_ok=True)
    prefix = ".build-%s-%s-" % (runtime.name, plan.key)
    for stale in scratch.glob(prefix + "*"):  # a killed build (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    context = scratch / ("%s%d" % (prefix, os.getpid()))
    try:
        context.mkdir()
        for host, name, skip in plan.sources:
            _place(host, context / name, skip)
        labels = {"migbench.python": plan.python, "migbench.key": plan.key,
                  "migbench.source": "offline", "migbench.digest": plan.digest}
        label_line = "LABEL " + " ".join("%s=%s" % (k, json.dumps(v)) for k, v in labels.items())
        (context / "Dockerfile").write_text(plan.dockerfile + label_line + "\n")
        env = dict(os.environ)
        if runtime.name == "docker":
            # Docker's CLI needs the buildx plugin for BuildKit; the classic builder is enough for
            # COPY and LABEL, and the only one a plain `docker.io` install has.
            env.setdefault("DOCKER_BUILDKIT", "0")
        runtime.check("build", "-q", "--force-rm", "-t", plan.tag, "-f", str(context / "Dockerfile"),
                      str(context), env=env, timeout=_BUILD_TIMEOUT,
                      what="building image %s" % plan.tag,
                      fix="check the space in the engine's store (`%s system df`) and retry with "
                          "`migbench image build --runtime %s`" % (runtime.name, runtime.name))
    finally:
        shutil.rmtree(context, ignore_errors=True)


def _place(source: Path, target: Path, skip: frozenset, relative: str = "") -> None:
    """Hard-link `source`'s tree into `target`, leaving out the relative paths in `skip`."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copystat(source, target, follow_symlinks=False)
    whole = []
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        path = relative + entry.name
        if path in skip:
            continue
        if entry.is_dir(follow_symlinks=False) and any(s.startswith(path + "/") for s in skip):
            _place(Path(entry.path), target / entry.name, skip, path + "/")
        else:
            whole.append(entry.path)
    if whole and subprocess.run(["cp", "-al", *whole, str(target)], capture_output=True).returncode != 0:
        done = subprocess.run(["cp", "-a", *whole, str(target)], capture_output=True, text=True, errors="replace")
        if done.returncode != 0:  # not only another filesystem: out of space, unreadable
            raise MigbenchError("copying %s into an image's build context failed: %s; check the space "
                                "under %s" % (source, tail(done.stderr), target.parent))


def _verify(runtime: Runtime, plan: Plan) -> None:
    """Run the env's python inside the new image, offline; a failure removes the tag."""
    argv = ["run", "--rm", "--network", "none", *runtime.run_flags(), plan.tag, plan.python, "-c",
            _VERIFY, *plan.modules]
    try:
        runtime.check(*argv, what="checking image %s (importing Django%s)"
                      % (plan.tag, "".join(", " + m for m in plan.modules)), timeout=300,
                      fix="the host's interpreter needs a library the base image lacks: report it "
                          "with this line, and use docker/Dockerfile meanwhile")
    except MigbenchError:
        runtime.remove_image(plan.tag)
        raise


def _drop_stale(runtime: Runtime, plan: Plan) -> None:
    """Untag this environment's older offline images (layers the new one shares stay; one in use stays)."""
    mine = "%s:%s-" % (REPOSITORY, plan.key)
    for ref in runtime.images("migbench.key=%s" % plan.key, "migbench.source=offline"):
        if ref != plan.tag and ref.startswith(mine):
            runtime.remove_image(ref)


def _image(runtime: Runtime, plan: Plan, built_now: bool = False, seconds: float | None = None) -> Image:
    return Image(runtime=runtime.name, tag=plan.tag, python=plan.python, source="offline",
                 digest=plan.digest, built_now=built_now, build_seconds=seconds)


def list_images(runtime: Runtime) -> list[dict]:
    """Every migbench image in the engine's store: {"tag", "key", "source", "python", "size"}."""
    found = []
    for ref in _ours(runtime):
        info = runtime.inspect_image(ref)
        if info is None:
            continue  # removed meanwhile
        labels, base = info["labels"], ref.startswith(BASE_REPOSITORY + ":")
        found.append({"tag": ref, "key": "(base)" if base else labels.get("migbench.key", ""),
                      "source": "rootfs" if base else labels.get("migbench.source", ""),
                      "python": "" if base else labels.get("migbench.python", ""), "size": info.get("size")})
    return found


def remove_images(runtime: Runtime, key: str | None = None) -> list[tuple[str, str | None]]:
    """Untag migbench's images (of one environment key, or all, bases last): [(tag, refusal)]."""
    refs = runtime.images("migbench.key=%s" % key) if key else _ours(runtime)
    return [(ref, runtime.remove_image(ref)) for ref in refs]


def _ours(runtime: Runtime) -> list[str]:
    """migbench's references: environment images, then the bases (which the others inherit labels from)."""
    envs = set(runtime.images("migbench.key"))
    bases = {ref for ref in runtime.images("migbench.rootfs") if ref.startswith(BASE_REPOSITORY + ":")}
    return sorted(envs - bases) + sorted(bases)


__all__ = ["BASE_REPOSITORY", "Image", "Plan", "REPOSITORY", "base_tag", "ensure_base", "ensure_image",
           "interpreter_dirs", "interpreter_prefixes", "list_images", "plan_image", "remove_images",
           "user_image", "user_tag"]
