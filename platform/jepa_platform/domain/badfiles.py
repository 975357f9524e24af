"""The ``data.on_bad_file`` policy: one unreadable file among many stops the run (``fail``) or is skipped and
counted (``skip``), so a long data set with a few broken files still trains."""

from __future__ import annotations

from typing import Callable, Literal, TypeVar

from ..errors import JepaError

BadFilePolicy = Literal["fail", "skip"]
T = TypeVar("T")


class BadFiles:
    """Reads files under a policy and counts those skipped.

    Args:
        policy: ``fail`` lets a file's JepaError through; ``skip`` records it and goes on.
        what: What a file is, for the log line (``ECG records``).
    """

    def __init__(self, policy: BadFilePolicy, what: str) -> None:
        self.policy, self.what = policy, what
        self.read_count = 0
        self.skipped: list[str] = []

    def read(self, reader: Callable[..., T], *args: object, keep: tuple[type[JepaError], ...] = ()) -> T | None:
        """``reader(*args)``, or ``None`` for a file skipped under ``skip``; errors of the ``keep`` types are
        never skipped here (a reader's own way of saying "nothing for us in this file")."""
        self.read_count += 1
        try:
            return reader(*args)
        except JepaError as exc:
            if self.policy == "fail" or isinstance(exc, keep):
                raise
            self.skipped.append(str(exc))
            return None

    def line(self) -> str | None:
        """``skipped 2 of 900 ECG records that could not be read ...`` for the log, or ``None``."""
        if not self.skipped:
            return None
        return (f"skipped {len(self.skipped)} of {self.read_count} {self.what} that could not be read "
                f"(data.on_bad_file: skip); the first: {self.skipped[0]}")

    def stats(self) -> dict[str, int]:
        """Under ``skip``: ``bad_files_skipped``, logged to the run's tracker as ``data/bad_files_skipped``."""
        return {"bad_files_skipped": len(self.skipped)} if self.policy == "skip" else {}
