"""An exclusive ``flock`` on a file, for work that one process at a time may do (writing demo data, shards, a store).

It sits in the lowest layer of the core, so every wing, the plugin contract included, can hold one.
"""

from __future__ import annotations

import fcntl
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import JepaError


@contextmanager
def exclusive(lock: Path | None, busy: str | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file ``lock`` (none: nothing to hold), waiting for its holder.

    ``busy`` is printed to stderr once when another process holds it, so a wait never looks like a hang.
    """
    if lock is None:
        yield
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")
    except OSError as exc:
        raise JepaError(f"cannot create the lock file {lock}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if busy:
                print(busy, file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:  # a filesystem without flock (some network mounts): go on, and say so
            warnings.warn(f"cannot lock {lock} ({exc.strerror or exc}); processes writing there at once would collide")
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
