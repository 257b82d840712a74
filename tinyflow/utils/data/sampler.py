"""`torch.utils.data.sampler`: the samplers by their module path."""
from . import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
               SubsetRandomSampler)
