"""migbench: generate synthetic Django projects and measure what `migrate` costs."""

__version__ = "0.1.0"
