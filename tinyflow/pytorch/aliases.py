"""`torch.f(x, ...)` where PyTorch's function is another spelling of a Tensor method
(`torch.clone(x)`, `torch.select`, the in-place `torch.relu_(x)`), and Tensor methods that
are another spelling of a torch.* function (`x.dist(y)`). Each is that spelling's own
function, so the two cannot drift apart. (The torch.* spellings of torch.nn.functional's,
`torch.conv2d`, are nn/torch_functions.py's: nn is a layer above.)
"""
from __future__ import annotations

from ..ops import abs as absolute, atan2 as arctan2
from ..ops import copy as clone   # (the method x.clone(); no memory_format, as it)
from . import inplace
from .diagonal import diag_embed, diagflat
from .elementwise import acosh as arccosh, asinh as arcsinh, atanh as arctanh
from .linalg import matrix_power, pinverse, torch_qr
from .logic import positive
from .math import true_divide, vdot
from .movement import expand, select, unflatten
from .scatter_gather import index_put, index_put_
from .statistics import dist
from .tensor_info import is_conj as is_neg, is_same_size, is_signed

# the in-place elementwise functions: torch.relu_(x) is x.relu_()
IN_PLACE = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_",
    "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "detach_", "erf_", "erfc_", "exp2_",
    "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_", "log10_",
    "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_",
    "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_",
    "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")
globals().update({name: inplace.METHODS[name] for name in IN_PLACE})

# Tensor methods that are the torch.* function with x first
METHODS = {"absolute": absolute, "arctan2": arctan2, "true_divide": true_divide,
           "broadcast_to": expand, "diag_embed": diag_embed, "diagflat": diagflat,
           "dist": dist, "matrix_power": matrix_power, "pinverse": pinverse, "qr": torch_qr,
           "vdot": vdot, "is_same_size": is_same_size}

__all__ = [*IN_PLACE, "clone", "select", "unflatten", "index_put", "index_put_", "positive",
           "is_neg", "is_signed", "absolute", "arctan2", "arccosh", "arcsinh", "arctanh"]
