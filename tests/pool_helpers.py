"""Tests of kernels on the kernel pool: force it on and record which kernels it ran."""
import os

from tinyflow.backend.numpy import parallel


def force_pool(monkeypatch, min_elements: int, calls: list) -> list:
    """Two kernel threads, arrays from `min_elements` cut; `calls` gets the source file of
    each kernel call the pool ran (one entry per call)."""
    run = parallel.run

    def counted(piece, length, pieces=0, **options):
        calls.append(os.path.basename(piece.__code__.co_filename))
        return run(piece, length, pieces, **options)
    monkeypatch.setattr(parallel, "run", counted)
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", min_elements)
    return calls
