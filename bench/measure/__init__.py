"""Measuring one child process: the cap, the samples, the outcome.

- limiters: how a child's memory is capped and its peak read back (cgroup v1/v2,
  systemd scopes, RLIMIT_AS, none).
- supervisor: spawns the child, samples its process tree, reaps it with wait4.
- outcome: classifies how it ended (ok, oom-killed, segfault, memory-error,
  timeout, error).
- timeline: the worker's events as phases.
- step: one measured step (a manage.py command or the floor's replay) under
  its own limiter; host: what machine measured it.
- worker/: the scripts that run inside the target environment (never imported).

Side effects: creates and removes cgroups (cleaning stale ones of dead
runs), spawns and kills processes. Knows nothing of strategies or engines:
a step gets its argv's environment (database included) from its caller.
"""
