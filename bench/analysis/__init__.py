"""Pure numbers over records: medians and spreads, ratio intervals, power-law fits.

No I/O and no side effects: used by the sweep (its budget estimate), by
`compare` and by the report alike.
"""
