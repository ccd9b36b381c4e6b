"""Scripts run *inside* target environments (Python 2.7 to 3.13, stdlib + Django only).

They are shipped as files and executed by path, never imported by the parent.
"""
