"""PyTorch's `torch.nn.utils`: gradient clipping, parameters to and from one vector, `rnn`
(padded and packed sequences), `parametrize` and `parametrizations` (weight and spectral
norm), their older hook spelling (`weight_norm`, `spectral_norm`), and `prune`."""
from . import parametrizations, parametrize, prune, rnn  # noqa: F401
from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "rnn", "parametrize", "parametrizations", "prune",
           "remove_spectral_norm", "remove_weight_norm", "spectral_norm", "weight_norm"]
