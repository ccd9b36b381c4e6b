"""User-facing errors.

Every problem a user can fix (bad scenario, unknown Django version, missing
interpreter...) is raised as a MigbenchError whose message is one line naming
the problem and the fix. The CLI prints it without a traceback.
"""


class MigbenchError(Exception):
    """A problem the user can fix; str(error) is the one line shown to them."""

    def __init__(self, message: str):
        # Keys and values quoted from user input may carry newlines: keep one line.
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


class ScenarioError(MigbenchError):
    """A scenario file is malformed or asks for something impossible."""
