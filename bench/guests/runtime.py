"""Docker and Podman: is one here, which flags every run needs, remove and inspect.

The container limiter and the image builder talk to an engine only through
its command line (no SDK: the CLI is what a user debugs with, and both
engines accept the same verbs for everything migbench does). This module
knows the differences that matter here:

- Podman (rootful, 4.x) raises a container's RLIMIT_NOFILE and RLIMIT_NPROC
  to its own defaults (about a million) when it starts it. Where root lacks
  CAP_SYS_RESOURCE (containers running CI jobs, this machine kind) runc then
  fails with "error setting rlimits ... operation not permitted", so every
  podman run gets limits a process may always set: 1024 (below any hard
  limit seen). A Django migrate opens a few dozen files; Docker's own
  default here is the daemon's limit, which is also not the host's.
- Podman reports State.OOMKilled=false even when the kernel killed the
  process (the limiter classifies from the exit status and the cgroup's OOM
  counter instead; state() returns what the engine says, nothing more).
- A missing image is exit 1 in docker and 125 in podman: both mean "no such
  image", which inspect_image() returns as None. Podman names local images
  localhost/NAME; images() gives them back as NAME, as docker does.

Side effects: runs `docker`/`podman` (info, inspect, rm, rmi); nothing here
builds or starts a container.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

from migbench.errors import MigbenchError

NAMES = ("docker", "podman")
# Podman on hosts where root lacks CAP_SYS_RESOURCE: see the module docstring.
PODMAN_ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
_INFO_TIMEOUT = 30  # seconds; `docker info` answers in ~0.1 s, a wedged daemon never
_TIMEOUT = 120
_MISSING = ("no such image", "image not known", "no such object", "no such container",
            "no container with name or id")
_INSTALL = {"docker": "apt-get install docker.io", "podman": "apt-get install podman"}


class RuntimeUnavailable(MigbenchError):
    """No usable container engine of the asked kind; the message names the fix."""


@dataclass(frozen=True)
class Runtime:
    """One container engine, driven through its command line."""

    name: str  # "docker" | "podman"
    binary: str  # its path, or the bare name when it is not installed

    def unavailable(self) -> str | None:
        """Why no container can run here (one line naming the fix), or None."""
        if shutil.which(self.binary) is None:
            return "%s is not installed: %s" % (self.name, _INSTALL[self.name])
        try:
            done = subprocess.run([self.binary, "info", "--format", "{{json .}}"], capture_output=True,
                                  text=True, errors="replace", timeout=_INFO_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            failed = "`%s info` did not answer in %d s" % (self.name, _INFO_TIMEOUT)
        except OSError as exc:
            failed = "`%s info` failed to start: %s" % (self.name, exc)
        else:
            if done.returncode == 0:
                return None
            failed = "%s info failed: %s" % (self.name, tail(done.stderr or done.stdout))
        if self.name == "docker":
            return ("no Docker engine answers (%s): start one with `dockerd --iptables=false "
                    "--bridge=none &` (or `systemctl start docker`)" % failed)
        return "podman cannot run here (%s): check `podman info` as the user running migbench" % failed

    def require(self) -> None:
        """Raise RuntimeUnavailable with unavailable()'s line, if any."""
        why = self.unavailable()
        if why:
            raise RuntimeUnavailable(why)

    def run_flags(self) -> list[str]:
        """Flags every `run` needs on this engine (podman: the two ulimits)."""
        return list(PODMAN_ULIMITS) if self.name == "podman" else []

    def command(self, *args: str) -> list[str]:
        """The argv of `<engine> args...`."""
        return [self.binary, *args]

    def call(self, *args: str, timeout: float = _TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
        """Run `<engine> args...`, capturing text output; never raises on a non-zero exit."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(self.command(*args), capture_output=True, text=True, errors="replace",
                              timeout=timeout, **kwargs)

    def check(self, *args: str, what: str, fix: str, timeout: float = _TIMEOUT, **kwargs) -> str:
        """Run `<engine> args...`; its stdout, or a one-line MigbenchError naming `what` and `fix`."""
        try:
            done = self.call(*args, timeout=timeout, **kwargs)
        except subprocess.TimeoutExpired:
            raise MigbenchError("%s: %s timed out after %d s; %s" % (self.name, what, timeout, fix)) from None
        except OSError as exc:
            raise MigbenchError("%s: %s failed to start (%s); %s" % (self.name, what, exc, fix)) from None
        if done.returncode != 0:
            raise MigbenchError("%s: %s failed (exit %d): %s; %s"
                                % (self.name, what, done.returncode, tail(done.stderr or done.stdout), fix))
        return done.stdout

    def remove(self, container: str) -> None:
        """`rm -f` the container, killing it at once; never raises (it may be gone, or the engine).

        Podman's rm -f stops first, with a 10 s grace that a PID 1 ignoring SIGTERM
        uses in full; --time 0 makes it kill as docker's does.
        """
        grace = ["--time", "0"] if self.name == "podman" else []
        try:
            self.call("rm", "-f", *grace, container, timeout=60)
        except (OSError, subprocess.SubprocessError):
            pass

    def containers(self, prefix: str) -> list[str]:
        """Names of the containers (running or not) whose name starts with `prefix`; [] if unknown."""
        try:
            done = self.call("ps", "-a", "--filter", "name=%s" % prefix, "--format", "{{.Names}}", timeout=60)
        except (OSError, subprocess.SubprocessError):
            return []
        return [name for name in done.stdout.split() if name.startswith(prefix)] if done.returncode == 0 else []

    def state(self, container: str) -> dict:
        """The container's `inspect` .State (Status, ExitCode, OOMKilled, ...), {} if it is gone."""
        try:
            done = self.call("container", "inspect", "--format", "{{json .State}}", container, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return {}
        if done.returncode != 0:
            return {}
        return _json_dict(done.stdout)

    def inspect_image(self, reference: str) -> dict | None:
        """{"labels": {...}, "size": bytes, "id": "sha256:..."} of the image, None when there is none."""
        ident = ".Id" if self.name == "docker" else ".ID"  # the one field the two spell differently
        template = '{"labels": {{json .Config.Labels}}, "size": {{.Size}}, "id": {{json %s}}}' % ident
        try:
            done = self.call("image", "inspect", "--format", template, reference, timeout=60)
        except subprocess.TimeoutExpired:
            raise MigbenchError("%s: inspecting image %s timed out; is the engine wedged? check `%s info`"
                                % (self.name, reference, self.name)) from None
        if done.returncode != 0:
            if any(word in done.stderr.lower() for word in _MISSING):
                return None
            raise MigbenchError("%s: inspecting image %s failed: %s; check `%s info`"
                                % (self.name, reference, tail(done.stderr), self.name))
        found = _json_dict(done.stdout)
        found["labels"] = found.get("labels") or {}
        return found

    def images(self, *labels: str) -> list[str]:
        """References (repository:tag) of the images carrying every label (a key or key=value).

        Podman 4.3 ORs repeated --filter label=..., so only the first goes to the
        engine; the others are checked against each image's labels here.
        """
        first, rest = labels[0], labels[1:]
        out = self.check("images", "--filter", "label=%s" % first, "--format", "{{.Repository}}:{{.Tag}}",
                         what="listing images", fix="check `%s info`" % self.name, timeout=60)
        found = set()
        for line in out.splitlines():
            line = line.strip()
            if line and not line.endswith(":<none>"):
                found.add(line.split("/", 1)[1] if line.startswith("localhost/") else line)
        if rest:
            found = {ref for ref in found if _has_labels(self.inspect_image(ref), rest)}
        return sorted(found)

    def remove_image(self, reference: str) -> str | None:
        """`rmi` the reference (the tag; layers other images use stay); the engine's refusal, if any."""
        try:
            done = self.call("rmi", reference, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        return None if done.returncode == 0 else tail(done.stderr or done.stdout)


def get(name: str) -> Runtime:
    """The runtime `name` ("docker" or "podman"), found on PATH (or not: see unavailable())."""
    if name not in NAMES:
        raise MigbenchError("unknown container runtime %r; use one of: %s" % (name, ", ".join(NAMES)))
    return Runtime(name=name, binary=shutil.which(name) or name)


def tail(text: str, lines: int = 2, width: int = 200) -> str:
    """The last meaningful lines of an engine's output, on one line."""
    kept = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    cut = [line if len(line) <= width else line[:width] + "..." for line in kept[-lines:]]
    return " | ".join(cut) or "no output"


def _has_labels(image: dict | None, labels: tuple[str, ...]) -> bool:
    if image is None:
        return False
    have = image["labels"]
    for label in labels:
        key, equals, value = label.partition("=")
        if key not in have or (equals and have[key] != value):
            return False
    return True


def _json_dict(text: str) -> dict:
    try:
        data = json.loads(text.strip() or "null")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


__all__ = ["NAMES", "PODMAN_ULIMITS", "Runtime", "RuntimeUnavailable", "get", "tail"]
