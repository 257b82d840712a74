"""Atomic file writes: the content goes to a temporary file in the target's folder, which
then replaces the target in one rename, so a crash never leaves a half-written file under
the real name (checkpoints, exported ONNX models)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
    """A temporary path to write; on leaving the block it replaces `path` (or is removed if
    the block raised)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
