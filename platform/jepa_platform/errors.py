"""The one exception type the command line turns into a clear message and a non-zero exit."""


class JepaError(Exception):
    """Bad input or configuration, explained for the user (names the file or key and the problem)."""


def one_line(exc: BaseException) -> str:
    """A library's exception message on one line (its whitespace and line breaks collapsed)."""
    return " ".join(str(exc).split()) or type(exc).__name__
