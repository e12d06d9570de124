"""The errors of the command line: problems the user can fix, printed as one line."""

from __future__ import annotations

import errno


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


# Errors of the machine, not of the program: the user can fix them (space, permissions).
ENVIRONMENT_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EFBIG,
    errno.EDQUOT,
    errno.ENOTDIR,
}


def environment_problem(exc: BaseException) -> str | None:
    """Return one line for an OSError the user can fix (full disk, read-only, permission)."""
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None
