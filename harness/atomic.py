"""Writing a user's file so that a failure leaves the previous file intact.

Every file the project writes for users (report, baselines, exports, artifacts) goes through
:func:`atomic_path`: the content is written to a temporary file in the same folder, closed, and
moved over the target with ``os.replace``, which is atomic on POSIX and Windows. A crash, a full
disk or an exception while writing leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "write_atomic", "make_folder", "check_writable"]


def check_writable(target: str | os.PathLike) -> None:
    """Raise ``OSError`` (naming the path) when ``target`` cannot be written: it is a folder, a
    file stands where a folder must be, or the nearest existing folder is not writable. Nothing
    is created; this lets a session refuse a bad path before its expensive work."""
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    for existing in target.parents:
        if existing.exists():
            if not existing.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
            if not os.access(existing, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(existing))
            return


def make_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` with its parents. A file where a folder must be is a
    ``NotADirectoryError`` naming that file (``mkdir`` itself says "File exists", which misleads)."""
    folder = Path(folder)
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
            break
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on a clean exit move it over ``target``.

    The parent folder is created if needed. On an exception the temporary file is removed and
    ``target`` is untouched.

    Examples
    --------
    >>> with atomic_path("reports/out.png") as tmp:     # doctest: +SKIP
    ...     image.save(tmp, format="PNG")
    """
    target = Path(target)
    make_folder(target.parent)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        os.chmod(tmp, _mode_of(target))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _mode_of(target: Path) -> int:
    """The existing file's permissions, else the default for a new file under the umask."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(target: str | os.PathLike, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text or bytes) to ``target`` atomically; return ``target`` as a Path."""
    with atomic_path(target) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding=encoding)
        else:
            tmp.write_bytes(data)
    return Path(target)
