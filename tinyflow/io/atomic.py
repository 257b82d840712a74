"""Atomic file writes: the content goes to a temporary file in the target's folder, which
then replaces the target in one rename, so a crash never leaves a half-written file under
the real name (checkpoints, exported ONNX models)."""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import Iterator


def creation_mode(path: str) -> int:
    """The permission bits `open(path, "w")` would leave: an existing file's own, else 0666
    less the process's umask (as `torch.save` and every plain write). `mkstemp` makes 0600
    files, so the temporary gets these bits before it replaces `path`."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0o022)   # reading the umask means setting it; put it back at once
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
    """A temporary path to write; on leaving the block it replaces `path` (or is removed if
    the block raised)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, creation_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
