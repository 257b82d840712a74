"""`torch.distributions`: the probability distributions reinforcement-learning and VAE code
samples from and scores with (`Categorical`, `Normal`), built from tensor ops so log_prob and
entropy are differentiable."""
from .categorical import Categorical
from .distribution import Distribution
from .normal import Normal

__all__ = ["Categorical", "Distribution", "Normal"]
