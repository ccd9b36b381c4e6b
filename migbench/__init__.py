"""migbench: generate synthetic Django projects and measure what `migrate` costs.

This folder holds the command (`cli`, `commands/`) and the foundation every
layer uses (`units`, `errors`, `targets`, `provenance`). The top-level folders
generator/, bench/ and scenarios/ are installed as its subpackages
`migbench.generator`, `migbench.bench` and `migbench.scenarios`
(pyproject.toml maps them; docs/architecture.md draws the layers).
Importing it has no side effects.
"""

__version__ = "0.1.0"
