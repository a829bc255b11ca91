"""The one exception type for user mistakes: the CLI prints its message and exits 2."""


class UserError(Exception):
    """A mistake the user can fix (bad flag, missing file, invalid value). Never a traceback."""


class Diverged(UserError):
    """Training produced a non-finite loss or weight. Exit code 2 like a user mistake: rerunning the
    same config would diverge again, so a supervisor must not blindly restart it; the fix is a
    config change (a lower learning rate), and the last good checkpoint is intact to resume from."""
