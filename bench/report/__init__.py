"""Reports and comparisons built from stored result records only (docs/reports.md).

`load` reads any set of record files or directories, from any machine;
`tables` and `charts` turn them into figures; `attribution` reads which apps
and migrations a run's time and memory went to from its events (`costs` makes
them tables); `headline` writes the answer the report opens with, for the
records `focus` picks; `pages` writes the HTML and Markdown; `compare` pairs
two sets cell by cell. Nothing here reads a run's memory, so a report can be
rebuilt, or merged with other machines', later; it imports only
bench/records and bench/analysis of the rest of migbench.

Side effects: `pages` writes the report files (built beside the target and
swapped in whole); `terminal` prints the run's summary. The rest is pure.
"""
