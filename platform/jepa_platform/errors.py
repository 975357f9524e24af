"""The one exception type the command line turns into a clear message and a non-zero exit."""


class JepaError(Exception):
    """Bad input or configuration, explained for the user (names the file or key and the problem)."""
