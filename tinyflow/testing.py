"""`torch.testing.assert_close`: tensors (or numbers, or sequences and mappings of them) equal
within tolerances chosen by dtype, with PyTorch's defaults, so tests written for PyTorch
check the same thing here."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .core.tensor import Tensor

__all__ = ["assert_close", "assert_allclose"]

# (rtol, atol) by dtype when neither is given: PyTorch's documented defaults
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5),
               "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _as_array(value, where: str):
    if isinstance(value, Tensor):
        return value.detach().numpy(), value.dtype.name
    if isinstance(value, (bool, int, float, complex, np.number, np.ndarray)):
        array = np.asarray(value)
        return array, "float64" if array.dtype.kind == "f" else array.dtype.name
    raise TypeError(f"assert_close: {where} is a {type(value).__name__}, not a tensor, "
                    f"number, sequence or mapping")


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol=None, atol=None,
                 equal_nan: bool = False, check_device: bool = True, check_dtype: bool = True,
                 check_layout: bool = True, check_stride: bool = False, msg=None,
                 _where: str = "value") -> None:
    """Raise AssertionError unless |actual - expected| <= atol + rtol * |expected| everywhere,
    with the same shapes (and dtypes, unless check_dtype=False). rtol and atol go together:
    give both or neither."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"assert_close: give both rtol and atol or neither, got rtol={rtol} "
                         f"and atol={atol}")
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            raise AssertionError(f"assert_close: the keys of {_where} differ: "
                                 f"{sorted(map(str, actual))} vs {sorted(map(str, expected))}")
        for key in actual:
            assert_close(actual[key], expected[key], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg, _where=f"{_where}[{key!r}]")
        return
    if (isinstance(actual, Sequence) and isinstance(expected, Sequence)
            and not isinstance(actual, str) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise AssertionError(f"assert_close: {_where} has {len(actual)} items, expected "
                                 f"{len(expected)}")
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg, _where=f"{_where}[{k}]")
        return
    a, a_dtype = _as_array(actual, f"actual {_where}")
    e, e_dtype = _as_array(expected, f"expected {_where}")
    problem = None
    if a.shape != e.shape:
        problem = f"shapes differ: {a.shape} vs {e.shape}"
    elif check_dtype and a_dtype != e_dtype:
        problem = f"dtypes differ: {a_dtype} vs {e_dtype}"
    else:
        if rtol is None:
            rtol, atol = max(_TOLERANCES.get(a_dtype, (0.0, 0.0)),
                             _TOLERANCES.get(e_dtype, (0.0, 0.0)))
        a64, e64 = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64), \
            e.astype(np.complex128 if e.dtype.kind == "c" else np.float64)
        close = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
        if not close.all():
            bad = ~close
            diff = np.abs(a64 - e64)
            score = np.where(bad, np.nan_to_num(diff, nan=np.inf), -1.0)
            worst = np.unravel_index(int(np.argmax(score)), bad.shape)
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = score[worst] / abs(e64[worst])
            problem = (f"{int(bad.sum())} of {bad.size} elements differ beyond rtol={rtol}, "
                       f"atol={atol}; the largest difference is {score[worst]} at index "
                       f"{tuple(int(i) for i in worst)} ({relative} relative)")
    if problem is not None:
        text = f"assert_close: {_where}: {problem}"
        raise AssertionError(msg(text) if callable(msg) else msg or text)


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan: bool = True,
                    msg: str = "") -> None:
    """The older `torch.testing.assert_allclose` (dtypes may differ; NaNs compare equal)."""
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=False, msg=msg or None)

