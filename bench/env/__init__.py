"""Provisioning: which interpreters exist, the cached (Python, Django) environments, the shim.

- interpreters: discovers Pythons (pyenv, uv, PATH); never hard-codes one.
- environments: one cached virtualenv per (interpreter, Django release) under
  the cache root, built on first use, locked while building.
- shim/: the compatibility shim that lets Django 1.7-1.11 run on Python 3.8+.
- child: the environment and result of a child that runs a project's manage.py.

Side effects: environments creates and deletes directories under the cache
root (`$MIGBENCH_CACHE`, `$XDG_CACHE_HOME/migbench`, `~/.cache/migbench`) and
runs pip; nothing here measures.
"""
