"""How an eager tensor prints: as PyTorch prints it, since PyTorch programs print tensors and
their readers compare the text. The rules (PyTorch's): one format for all elements, chosen
from the nonzero finite magnitudes — `1.` when all are integral, four decimals otherwise,
`1.0000e+09` when they span more than 1000× or pass 1e8 (or go below 1e-4); elements padded to
one width and wrapped to 80 columns under `tensor(`; past 1000 elements only 3 at each edge of
every dimension; the dtype named unless it is float32, int64 or bool."""
from __future__ import annotations

import math

import numpy as np

_PREFIX = "tensor("
_UNNAMED = {"float32", "int64", "bool"}
# PyTorch's print options (torch.set_printoptions): digits after the point, how many elements
# print in full, how many show at each edge past that, the line width, None/True/False for
# scientific notation when the values call for it / always / never
OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80,
           "sci_mode": None}
_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """PyTorch's `torch.set_printoptions`: a profile ("default", "short", "full") first,
    then each option given; sci_mode is always set (None: as the values call for)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of "
                             f"{sorted(_PROFILES)}, got {profile!r}")
        OPTIONS.update(_PROFILES[profile])
    given = dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                 linewidth=linewidth)
    OPTIONS.update({k: v for k, v in given.items() if v is not None}, sci_mode=sci_mode)


def format_tensor(array: np.ndarray, dtype_name: str, float_view: bool,
                  requires_grad: bool = False, grad_fn: str | None = None) -> str:
    """`tensor([...], dtype=torch.float64, requires_grad=True)`; `float_view`: format the
    values as float32 (ml_dtypes' bfloat16 and fp8)."""
    values = array.astype(np.float32) if float_view else array
    summarize = values.size > OPTIONS["threshold"]
    if values.size == 0:
        body = "[]"
    else:
        fmt, width = _formatter(_edges(values) if summarize else values.reshape(-1))
        body = _lay_out(values, fmt, width, len(_PREFIX), summarize)
    # the shape is printed for an empty tensor (but [0]) and, as PyTorch, for all with edgeitems=0
    shown = values.ndim != 1 if values.size == 0 else not OPTIONS["edgeitems"]
    extras = [f"size={tuple(values.shape)}"] if shown else []
    if dtype_name not in _UNNAMED:
        extras.append(f"dtype=torch.{dtype_name}")
    if grad_fn is not None:
        extras.append(f"grad_fn=<{grad_fn}Backward0>")
    elif requires_grad:
        extras.append("requires_grad=True")
    return _with_extras(_PREFIX + body, extras)


def _with_extras(text: str, extras: list) -> str:
    """Append `, dtype=...`, `, grad_fn=...`: each on a new line under the values when it
    would pass the line width (PyTorch's count, which takes the last line as 2 longer)."""
    last = len(text) - text.rfind("\n") + 1
    for extra in extras:
        if last + len(extra) + 2 > OPTIONS["linewidth"]:
            text += ",\n" + " " * len(_PREFIX) + extra
            last = len(_PREFIX) + len(extra)
        else:
            text += ", " + extra
            last += len(extra) + 2
    return text + ")"


def _edges(values: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows (the formatter is chosen from them only)."""
    if values.ndim == 0:
        return values.reshape(-1)
    edge = OPTIONS["edgeitems"]
    if values.shape[0] > 2 * edge:
        parts = [values[:edge], values[-edge:]]
    else:
        parts = [values]
    return np.concatenate([_edges(row) for part in parts for row in part]) if values.ndim > 1 \
        else np.concatenate(parts)


def _formatter(flat: np.ndarray):
    """(one element -> its text padded to the shared width, that width)."""
    if flat.dtype.kind in "biuO":   # "O": tf.string's bytes, as repr shows them
        as_text = {"b": lambda v: str(bool(v)), "O": repr}.get(flat.dtype.kind,
                                                             lambda v: str(int(v)))
        width = max(len(as_text(v)) for v in flat)
        return (lambda v: as_text(v).rjust(width)), width
    finite = flat[np.isfinite(flat)].astype(np.float64)
    nonzero = finite[finite != 0]
    integral = bool(np.all(finite == np.ceil(finite)))
    if nonzero.size:
        lo, hi = np.abs(nonzero).min(), np.abs(nonzero).max()
        sci = hi / lo > 1000.0 or hi > 1e8 or (not integral and lo < 1e-4)
    else:
        sci = False
    sci = sci if OPTIONS["sci_mode"] is None else OPTIONS["sci_mode"]
    digits = OPTIONS["precision"]

    def text(v) -> str:
        v = float(v)
        if sci:
            return f"{v:.{digits}e}"
        if integral:
            return f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        return f"{v:.{digits}f}"
    width = max((len(text(v)) for v in nonzero), default=1)
    return (lambda v: text(v).rjust(width)), width


def _lay_out(values: np.ndarray, fmt, width: int, indent: int, summarize: bool) -> str:
    if values.ndim == 0:
        return fmt(values[()])
    n = values.shape[0]
    edge = OPTIONS["edgeitems"]
    cut = summarize and n > 2 * edge
    rows = list(range(edge)) + [None] + list(range(n - edge, n)) if cut else range(n)
    if values.ndim == 1:
        gap = " ..." if edge else "..."   # (edgeitems=0: `[...]`, as PyTorch)
        items = [gap if i is None else fmt(values[i]) for i in rows]
        per_line = max(1, (OPTIONS["linewidth"] - indent) // (width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
    parts = ["..." if i is None else _lay_out(values[i], fmt, width, indent + 1, summarize)
             for i in rows]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(parts) + "]"
