"""Reports and comparisons built from stored result records only (docs/reports.md).

`load` reads any set of record files or directories, from any machine;
`tables` and `charts` turn them into figures; `pages` writes the HTML and
Markdown; `compare` pairs two sets cell by cell. Nothing here reads a run's
memory, so a report can be rebuilt, or merged with other machines', later; it
imports only bench/records and bench/analysis of the rest of migbench.

Side effects: `pages` writes the report files (built beside the target and
swapped in whole); `terminal` prints the run's summary. The rest is pure.
"""
