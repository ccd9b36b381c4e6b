"""migbench's measuring and reporting side, importable as `migbench.bench`.

This folder sits at the top of the repository (the design card's `bench/`),
but it is installed as the subpackage `migbench.bench`: pyproject.toml maps
`migbench.bench` onto `bench/` (and `migbench.generator` onto `generator/`), so
imports inside it name `migbench.bench...` absolutely whenever they leave their
own subpackage. Layers, top to bottom; an import only ever points down
(docs/architecture.md):

    run/         orchestrates: options, the matrix, one run, bisect, sweep, check
    strategies/  what is migrated and how (registry, transforms, baseline, validation)
    measure/     one measured child: limiters, supervisor, outcome, timeline, worker/
    engines/     everything that knows which database it is (sqlite)
    env/         interpreters, cached environments, the shim, child-process plumbing
    records.py   the record contract and store; analysis/ (stats, growth) is pure

report/ reads records (and the pure analysis/) only: never the measuring side.
Importing this package has no side effects.
"""
