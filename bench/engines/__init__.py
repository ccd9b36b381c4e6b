"""Everything that knows which database engine a run uses.
"""
