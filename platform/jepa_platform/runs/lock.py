"""One process per run folder: a lock file holding the owner's PID and host, and a writability check first.

The lock is a file created exclusively (``O_EXCL``) in the run folder. A lock
left by a process that died is stale: on the same host its PID no longer
runs, and the next run takes the folder over. A lock held by another host
cannot be checked from here; it names that host so the user can.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from ..errors import JepaError

LOCK_FILE = ".run.lock"


def check_writable(out: Path) -> None:
    """Stop with one line when ``out`` cannot become a run folder (a file, a read-only or missing parent)."""
    if out.exists() and not out.is_dir():
        raise JepaError(f"--out {out} is a file, not a folder; choose another --out")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise JepaError(f"--out {out}: {parent} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JepaError(f"--out {out}: cannot create the run folder: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise JepaError(f"--out {out}: the folder is not writable")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, under another user
        return True
    return True


def _owner(lock: Path) -> dict:
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return {}


def _describe(owner: dict) -> str:
    return f"PID {owner.get('pid', '?')} on {owner.get('host', '?')} (started {owner.get('started', '?')})"


def acquire(out: Path) -> Path:
    """Create ``out``'s lock file for this process, taking over a stale one; the lock's path."""
    lock = out / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": f"{datetime.now():%Y-%m-%d %H:%M:%S}"}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            if owner.get("host") != me["host"] or not isinstance(owner.get("pid"), int) or pid_alive(owner["pid"]):
                if not owner:  # being written by a process that started this very moment
                    raise JepaError(f"{out} is in use by another run (lock file {lock}); choose another --out")
                raise JepaError(f"{out} is in use by the run of {_describe(owner)}; wait for it or choose another --out")
            rank_zero_warn(f"{out}: taking over the lock of a run that no longer runs ({_describe(owner)})")
            lock.unlink(missing_ok=True)
            continue
        except OSError as exc:
            raise JepaError(f"--out {out}: cannot write the lock file: {exc.strerror or exc}") from None
        with os.fdopen(fd, "w") as handle:
            json.dump(me, handle)
        return lock
    raise JepaError(f"{out} is in use by another run (lock file {lock}); choose another --out")


def release(lock: Path) -> None:
    """Remove ``lock`` if this process holds it."""
    if _owner(lock).get("pid") == os.getpid():
        lock.unlink(missing_ok=True)


@contextmanager
def locked_run_folder(out: Path, primary: bool = True) -> Iterator[None]:
    """Check ``out`` is writable and hold its lock while the block runs (on the ``primary`` process only).

    A folder this call created is removed again when the block fails before
    anything but the lock was written, so a failed start leaves no run folder.
    """
    if not primary:
        yield
        return
    created = not out.exists()
    check_writable(out)
    lock = acquire(out)
    try:
        yield
    except BaseException:
        release(lock)
        if created and not [p for p in out.iterdir() if p.name != LOCK_FILE]:
            shutil.rmtree(out, ignore_errors=True)
        raise
    release(lock)
