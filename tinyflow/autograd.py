"""`tinyflow.autograd`, importable by module path as `torch.autograd` is
(`from tinyflow.autograd import grad`): the names are defined in pytorch/autograd.py."""
from .pytorch.autograd import (GradcheckError, backward, detect_anomaly,  # noqa: F401
                               enable_grad, functional, grad, gradcheck, inference_mode,
                               is_anomaly_enabled, is_grad_enabled, no_grad,
                               set_detect_anomaly, set_grad_enabled)
from .pytorch.autograd import AutogradVariable as Variable  # noqa: F401  (TF1 has its own)
from .pytorch.autograd_function import (Function, FunctionCtx,  # noqa: F401
                                         once_differentiable)
