"""Kernels that make new arrays."""
import numpy as np

from ...core.random import generator
from ...ops import creation as c
from .registry import kernel


@kernel(c.ZerosLike, c.OnesLike, out=True, shape_only=(0,))
def filled_like(op, x, out=None):
    """zeros_like / ones_like: `x` is read for its shape (and dtype, unless the op sets one)."""
    value = 1 if isinstance(op, c.OnesLike) else 0
    if out is None:
        return np.full(x.shape, value, dtype=(op.dtype.np if op.dtype else x.dtype))
    out.fill(value)
    return out


@kernel(c.OneHot, out=True)
def one_hot(op, indices, like=None, out=None):
    """Into a planned buffer when given one, so that a product with the one-hot labels (a
    loss's gradient) may overwrite them in place."""
    depth = op.depth if like is None else like.shape[-1]
    hits = indices[..., None] == np.arange(depth)
    if out is None:
        return hits.astype(op.dtype.np)
    out[...] = hits
    return out


def _shape(op, dims):
    return op.shape if dims is None else tuple(int(d) for d in dims)


@kernel(c.RandomNormal)
def random_normal(op, dims=None):
    rng = generator()
    out = rng.standard_normal(_shape(op, dims))
    if op.truncated:  # TF1: redraw samples more than two standard deviations out
        bad = np.abs(out) > 2
        while bad.any():
            out[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(out) > 2
    return (out * op.stddev + op.mean).astype(op.dtype.np)


@kernel(c.RandomUniform)
def random_uniform(op, dims=None):
    rng = generator()
    shape = _shape(op, dims)
    if op.dtype.is_integer:
        return rng.integers(op.minval, op.maxval, size=shape, dtype=op.dtype.np)
    return rng.uniform(op.minval, op.maxval, size=shape).astype(op.dtype.np)


@kernel(c.RandomMask)
def random_mask(op, x, keep=None):
    keep_prob = op.keep_prob if keep is None else float(keep)
    if keep is not None and not 0 < keep_prob <= 1:
        raise ValueError(f"random_mask: keep_prob must be in (0, 1], got {keep_prob}")
    return (generator().random(x.shape) < keep_prob).astype(x.dtype)


@kernel(c.Multinomial)
def multinomial(op, probs):
    rows = np.atleast_2d(probs).astype(np.float64)
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise ValueError("multinomial: probabilities must be finite and non-negative")
    sums = rows.sum(-1, keepdims=True)
    if (sums <= 0).any():
        raise ValueError("multinomial: every row needs a positive total weight")
    if not op.replacement and op.num_samples > (rows > 0).sum(-1).min():
        raise ValueError(f"multinomial: cannot draw {op.num_samples} samples without "
                         f"replacement from rows with fewer non-zero weights")
    rng = generator()
    out = np.stack([rng.choice(row.size, op.num_samples, replace=op.replacement, p=row / s)
                    for row, s in zip(rows, sums[:, 0])])
    return out if probs.ndim == 2 else out[0]


@kernel(c.Fill)
def fill(op, value, dims):
    if dims.ndim != 1 or (dims < 0).any():
        raise ValueError(f"fill: dims must be non-negative, got {dims.tolist()}")
    return np.full(tuple(int(d) for d in dims), value, dtype=value.dtype)


@kernel(c.Range)
def range_(op, start, limit, delta):
    if delta == 0:
        raise ValueError("range: delta must not be zero")
    return np.arange(start, limit, delta, dtype=op.dtype.np)


@kernel(c.LogUniformCandidates)
def log_uniform_candidates(op):
    """TF1's sampler: floor(exp(u * log(range_max + 1)) - 1) mod range_max per draw; with
    `unique`, draws repeat until num_sampled distinct ids are found (their first-draw order)."""
    rng = generator()
    log_range = np.log1p(op.range_max)
    picked, seen, tries = [], set(), 0
    while len(picked) < op.num_sampled:
        draws = (np.exp(rng.random(2 * op.num_sampled) * log_range) - 1.0).astype(np.int64)
        for value in (draws % op.range_max).tolist():
            tries += 1
            if not op.unique or value not in seen:
                seen.add(value)
                picked.append(value)
                if len(picked) == op.num_sampled:
                    break
    return np.array(picked + [tries], dtype=np.int64)
