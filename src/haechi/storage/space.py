"""Whether an error means the storage ran out of space: a full disk, a quota, a size limit.

The database reports it in its own words (SQLite's ``SQLITE_FULL``, or
``SQLITE_IOERR_SHMSIZE`` when a connection cannot grow the WAL index of a full file
system; PostgreSQL's SQLSTATE 53100 ``disk_full``, or ``XX000`` for a quota or a file
size limit, see below); a file Haechi writes itself (an epoch key, a lock file) fails
with ``ENOSPC``, ``EDQUOT`` or, past a file size limit, ``EFBIG``. Every surface asks
this one function, so a full disk is answered the same way everywhere.
"""

from __future__ import annotations

import errno

__all__ = ["FULL_ERRNOS", "out_of_space"]

#: The ``errno`` values of a write refused for want of space.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

# SQLite documents SHMSIZE as "may indicate that the underlying filesystem volume is
# out of space"; a short write (SQLITE_IOERR_WRITE) may be a failing disk: not listed.
_SQLITE_FULL = frozenset({"SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"})
_POSTGRES_DISK_FULL = "53100"
# PostgreSQL gives 53100 for ENOSPC only: EDQUOT and EFBIG fall to XX000 internal_error
# ("could not extend file …: File too large"). Its message is translated, the function
# that raised it is not: one that extends a relation's file failed for want of room.
_POSTGRES_INTERNAL = "XX000"
_POSTGRES_EXTENDING = frozenset({"mdextend", "mdzeroextend"})


def out_of_space(error: BaseException) -> bool:
    """Whether ``error`` (an ``OSError`` or a wrapped driver error) reports no space left."""
    if isinstance(error, OSError):
        return error.errno in FULL_ERRNOS
    original = getattr(error, "orig", None)
    if getattr(original, "sqlite_errorname", None) in _SQLITE_FULL:
        return True
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate == _POSTGRES_DISK_FULL:
        return True
    if sqlstate != _POSTGRES_INTERNAL:
        return False
    raised_in = getattr(getattr(original, "diag", None), "source_function", None)
    return raised_in in _POSTGRES_EXTENDING
