"""`torch.fft` as far as tinyflow goes without complex dtypes: the sample frequencies
(fftfreq, rfftfreq) and the shifts (fftshift, ifftshift: rolls, so differentiable). Every
transform returns or takes a complex tensor, which tinyflow does not have; each raises,
naming that, rather than return a real stand-in whose meaning would differ from PyTorch's
(`rfft(x).abs()` on a stand-in would be silently wrong)."""
from __future__ import annotations


import numpy as np

from ..core.op import as_tensor
from ..core.tensor import Tensor
from .creation import dtype_or, leaf
from .dtype import check_device
from .shared_names import roll


def fftfreq(n: int, d: float = 1.0, *, out=None, dtype=None, layout=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The frequencies of an n-point FFT's bins, in cycles per unit of the spacing d:
    [0, 1, ..., ceil(n/2) - 1, -floor(n/2), ..., -1] / (d n)."""
    return _frequencies("fftfreq", _fft_bins, n, d, out, dtype, device, requires_grad)


def _fft_bins(n: int) -> np.ndarray:
    return np.concatenate([np.arange((n - 1) // 2 + 1), np.arange(-(n // 2), 0)])


def rfftfreq(n: int, d: float = 1.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The frequencies of rfft's n // 2 + 1 bins: [0, 1, ..., n // 2] / (d n)."""
    return _frequencies("rfftfreq", lambda n: np.arange(n // 2 + 1), n, d, out, dtype, device,
                        requires_grad)


def _frequencies(name, bins, n, d, out, dtype, device, requires_grad) -> Tensor:
    """bins(n) / (d n); n = 0 gives what PyTorch's does (fftfreq: none, rfftfreq: [nan])."""
    if out is not None:
        raise NotImplementedError(f"fft.{name}: out= is not supported; use the result")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"fft.{name}: n must be an int, got {type(n).__name__} {n!r}")
    if n < 0:
        raise ValueError(f"fft.{name}: n must be a non-negative int, got {n!r}")
    check_device(device)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = bins(int(n)) / np.float64(d * n)
    return leaf(values.astype(dtype_or(dtype).np), requires_grad)


def fftshift(input: Tensor, dim=None) -> Tensor:  # noqa: A002
    """The zero-frequency bin moved to the middle: a roll by n // 2 along each of `dim`
    (every dim if None)."""
    return _shift("fftshift", input, dim, 1)


def ifftshift(input: Tensor, dim=None) -> Tensor:  # noqa: A002
    """fftshift undone: a roll by -(n // 2)."""
    return _shift("ifftshift", input, dim, -1)


def _shift(name: str, input, dim, sign: int) -> Tensor:  # noqa: A002
    x = as_tensor(input)
    dims = range(x.ndim) if dim is None else (dim if isinstance(dim, (tuple, list)) else (dim,))
    dims = tuple(dims)
    for d in dims:
        if not -x.ndim <= d < x.ndim:
            raise IndexError(f"fft.{name}: dim {d} is out of range for a tensor of shape "
                             f"{list(x.shape)}")
    if not dims:
        return x
    return roll(x, tuple(sign * (x.shape[d] // 2) for d in dims), dims)


def _needs_complex(name: str):
    def transform(input, *args, **kwargs):  # noqa: A002
        raise NotImplementedError(
            f"torch.fft.{name}: tinyflow has no complex dtypes, and every FFT transform "
            f"returns or takes a complex tensor; fftfreq, rfftfreq, fftshift and ifftshift "
            f"are available (for a real transform, write it as a matmul with a cos/sin basis)")
    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = f"`torch.fft.{name}`: refused (tinyflow has no complex dtypes)."
    return transform


fft, ifft, fft2, ifft2, fftn, ifftn = (_needs_complex(n) for n in (
    "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn"))
rfft, irfft, rfft2, irfft2, rfftn, irfftn = (_needs_complex(n) for n in (
    "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn"))
hfft, ihfft, hfft2, ihfft2, hfftn, ihfftn = (_needs_complex(n) for n in (
    "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn"))
