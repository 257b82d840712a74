"""`torch.distributions`: the probability distributions reinforcement-learning and VAE code
samples from and scores with (`Categorical`, `Normal`, `Bernoulli`, `Uniform`,
`Independent`) and `kl_divergence` between them, built from tensor ops so log_prob, entropy
and the divergences are differentiable."""
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Independent", "Normal", "Uniform",
           "constraints", "kl_divergence", "register_kl"]
