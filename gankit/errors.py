"""The one exception type for user mistakes: the CLI prints its message and exits 2."""


class UserError(Exception):
    """A mistake the user can fix (bad flag, missing file, invalid value). Never a traceback."""
