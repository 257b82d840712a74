"""What every workload does the same way, in PyTorch spelling (run under torch, or under
tinyflow with `torch` aliased to it by bench/harness.py)."""
import torch

from models.data import param_array


def load_parameters(model):
    """Overwrite every parameter with param_array(name): the same start in both libraries."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(param_array(name, p.shape)))
    return model


def train_step(model, opt, loss_fn, *inputs):
    """The everyday loop body: zero_grad, forward, loss, backward, step."""
    def step():
        opt.zero_grad()
        loss = loss_fn(model(*inputs))
        loss.backward()
        opt.step()
        return loss.item()
    return step
