"""Reports and comparisons built from stored result records only (docs/reports.md).

`load` reads any set of record files or directories, from any machine;
`tables` and `charts` turn them into figures; `pages` writes the HTML and
Markdown; `compare` pairs two sets cell by cell. Nothing here reads a run's
memory, so a report can be rebuilt, or merged with other machines', later.
"""
