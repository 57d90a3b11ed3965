"""The one base class for user mistakes: the magic, the CLI and the server show its message, never a traceback."""


class UserError(ValueError):
    """Something the user can fix; the message says what is wrong, where, and what to do."""
