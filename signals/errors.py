"""Expected failures: each carries a message a user can act on, so callers print it, not a traceback."""


class RotationError(Exception):
    """Base of the errors that mean bad input rather than a bug."""


class DataError(RotationError):
    """Market data that cannot be used: a missing folder, an unreadable file, a date outside the data."""


class ConfigError(RotationError):
    """Invalid detector settings; the message names the offending key."""


class Cancelled(RotationError):
    """Asked to stop (Ctrl-C, SIGTERM): the work stopped between two batches, nothing half-written."""
