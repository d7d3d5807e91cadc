"""Where commands write: one check of an output path, run before any work and shared by
`fit`, `predict` and `report`; whole-file writes; and a lock, so that two runs never write
one file at once.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from automl_meta.core.errors import InvalidParameterError


def check_output(path: str | Path, parameter: str = "output",
                 taken: Mapping[str, str | Path] | None = None) -> Path:
    """`path` as a Path, once sure it can take the file the command will write.

    Fails when it is a directory, its folder is missing or takes no new file (tried for
    real: root passes every permission check, and /proc takes no file whatever its mode),
    or it is one of the `taken` files (what the command reads: {"the input table": path}).
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidParameterError(
            f"The '{parameter}' parameter '{path}' is a directory; give a file name.")
    for what, other in (taken or {}).items():
        if _same_file(path, Path(other)):
            raise InvalidParameterError(
                f"The '{parameter}' parameter would write '{path}' over {what}; give another "
                "file name.")
    folder = path.parent
    if not folder.is_dir():
        raise InvalidParameterError(
            f"The '{parameter}' parameter '{path}' cannot be written: the folder '{folder}' "
            "does not exist.")
    if path.exists() and not os.access(path, os.W_OK):
        raise InvalidParameterError(
            f"The '{parameter}' parameter '{path}' cannot be written: permission denied.")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    except OSError as exc:
        raise InvalidParameterError(
            f"The '{parameter}' parameter '{path}' cannot be written: the folder '{folder}' "
            f"takes no new file ({(exc.strerror or str(exc)).lower()}).") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)  # hard links and symbolic links too
    return a.resolve() == b.resolve()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written file,
    and on failure no temporary file left, nor named."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise InvalidParameterError(f"Cannot write '{path}': {exc.strerror or exc}.") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would make it; mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InvalidParameterError(f"Cannot write '{path}': {exc.strerror or exc}.") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def output_lock(path: str | Path, parameter: str = "output") -> Iterator[None]:
    """Hold `path`'s lock while inside: a second run that would write the same file is
    refused at once, instead of both reporting success. The lock is a hidden file beside
    `path`, removed on the way out; the kernel releases it when a run ends however it ends
    (a file left by a kill -9 is taken over)."""
    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InvalidParameterError(
                f"The '{parameter}' parameter '{path}' is being written by another run; wait "
                "for it to end, or give another file name.") from None
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the run that held it removed it meanwhile: take the new one
    try:
        yield
    finally:
        Path(lock).unlink(missing_ok=True)
        os.close(fd)
