"""How parameters are laid out over the server shards.

A tensor with at least as many rows as there are shards is cut by rows into one block per
shard, so no shard serves all of a large matrix (the hot spot of a naive by-key layout);
smaller tensors go whole to the least-loaded shard, in key order. Pure functions: tested
without Ray.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Piece:
    """Rows [start, stop) of parameter `key` (a 0-d tensor is one row), held by `shard`."""
    key: str
    start: int
    stop: int
    shard: int

    @property
    def name(self) -> str:
        return f"{self.key}[{self.start}:{self.stop}]"

    def cut(self, array: np.ndarray) -> np.ndarray:
        return array if array.ndim == 0 else array[self.start:self.stop]

    def shape(self, full: tuple) -> tuple:
        """This piece's shape, cut from a parameter of shape `full`."""
        return (self.stop - self.start,) + tuple(full[1:]) if full else ()


class Layout:
    """The pieces of every parameter, and the inverse: assembling pulled pieces."""

    def __init__(self, shapes: Mapping[str, tuple], num_shards: int) -> None:
        if num_shards < 1:
            raise ValueError(f"need at least one shard, got {num_shards}")
        self.shapes = {k: tuple(s) for k, s in shapes.items()}
        self.num_shards = num_shards
        self.pieces: dict[str, list[Piece]] = {}
        load = [0] * num_shards
        for key in sorted(self.shapes):
            shape = self.shapes[key]
            rows = shape[0] if shape else 1
            row_size = int(np.prod(shape[1:])) if shape else 1
            if rows >= num_shards:
                bounds = np.linspace(0, rows, num_shards + 1).astype(int)
                self.pieces[key] = [Piece(key, int(a), int(b), s)
                                    for s, (a, b) in enumerate(zip(bounds, bounds[1:]))]
                for s, (a, b) in enumerate(zip(bounds, bounds[1:])):
                    load[s] += (b - a) * row_size
            else:
                s = int(np.argmin(load))
                self.pieces[key] = [Piece(key, 0, rows, s)]
                load[s] += rows * row_size
        self.load = load

    def shape_of(self, key: str) -> tuple:
        if key not in self.shapes:
            raise KeyError(f"unknown parameter key {key!r}; the server holds "
                           f"{sorted(self.shapes)}")
        return self.shapes[key]

    def check(self, key: str, value: np.ndarray) -> None:
        if tuple(value.shape) != self.shape_of(key):
            raise ValueError(f"value for {key!r} has shape {tuple(value.shape)}, the "
                             f"parameter has shape {self.shapes[key]}")

    def split(self, values: Mapping[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        """{key: full array} -> one {piece name: rows} dict per shard."""
        out: list[dict] = [{} for _ in range(self.num_shards)]
        for key, value in values.items():
            value = np.asarray(value)
            self.check(key, value)
            for piece in self.pieces[key]:
                out[piece.shard][piece.name] = piece.cut(value)
        return out

    def join(self, keys, per_shard: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Pulled pieces -> {key: full array} for `keys`."""
        out = {}
        for key in keys:
            parts = [per_shard[p.shard][p.name] for p in self.pieces[key]]
            out[key] = parts[0].copy() if len(parts) == 1 else np.concatenate(parts)
        return out

    def pieces_on(self, shard: int) -> list[Piece]:
        return [p for pieces in self.pieces.values() for p in pieces if p.shard == shard]

    def shards_of(self, keys) -> set[int]:
        return {p.shard for k in keys for p in self.pieces[k]}
