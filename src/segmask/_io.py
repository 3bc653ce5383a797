"""Writing files whole or not at all: a temporary file beside the target, then a rename.

A reader (or a crash) never sees a half-written file. The temporary name comes
from ``tempfile.mkstemp`` and carries the writer's process id, so threads and
processes writing the same target at once never share one; the last rename
wins, with a whole file. The data reaches the disk (``fsync``) before the
rename, and the file gets the mode an ordinary ``open`` would give it under
the process's umask (``mkstemp`` alone makes every file 0600). A writer killed
half way leaves its temporary file; :func:`remove_stale` takes away those of
processes that are gone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "file_mode", "remove_stale"]


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting it back at once
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0666 less the umask (0644 under 022)."""
    return 0o666 & ~_umask()


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; it becomes ``path`` when the block ends without error."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | bytearray) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def remove_stale(folder: str | os.PathLike[str], names: str = "*") -> int:
    """Remove the temporary files of writers that died before their rename; returns how many.

    Only files named as :func:`atomic_open` names them (``.{name}.{pid}.*.tmp``)
    whose process no longer runs. On Windows nothing is removed (a process
    cannot be probed there without side effects).
    """
    if os.name != "posix":
        return 0
    removed = 0
    for tmp in Path(folder).glob(f".{names}.*.tmp"):
        pid = tmp.name[: -len(".tmp")].rsplit(".", 2)[-2]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
