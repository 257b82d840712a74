"""torch.jit's spellings (script, trace, the decorators) and a compiled module's attributes:
programs written for TorchScript or `model = torch.compile(model)` run unchanged."""
import numpy as np
import pytest

import tinyflow as torch
import tinyflow.nn as nn


def test_compiled_module_forwards_the_modules_attributes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    compiled = torch.compile(model)
    compiled.eval()                                  # the pattern of training scripts
    assert not model.training
    assert [tuple(p.shape) for p in compiled.parameters()] == [(3, 4), (3,)]
    assert list(compiled.state_dict()) == ["0.weight", "0.bias"]
    x = torch.ones(2, 4)
    np.testing.assert_array_equal(compiled(x).detach().numpy(), model(x).detach().numpy())
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        compiled.missing
    with pytest.raises(AttributeError, match="CompiledFunction object has no attribute 'eval'"):
        torch.compile(lambda v: v).eval


def test_script_keeps_the_object_and_trace_compiles_it():
    model = nn.Linear(4, 2)
    assert torch.jit.script(model) is model

    @torch.jit.script
    def double(v):
        return v * 2
    np.testing.assert_array_equal(double(torch.ones(3)).numpy(), [2, 2, 2])
    traced = torch.jit.trace(model, torch.ones(1, 4))
    x = torch.randn(5, 4)                            # another batch size: traced again
    np.testing.assert_allclose(traced(x).detach().numpy(), model(x).detach().numpy(),
                               rtol=1e-6)
    assert traced.stats.calls == 2                   # the example ran once
    module_traced = torch.jit.trace_module(model, {"forward": torch.ones(1, 4)})
    np.testing.assert_allclose(module_traced(x).detach().numpy(),
                               model(x).detach().numpy(), rtol=1e-6)


def test_decorators_annotations_and_refusals():
    class Net(nn.Module):
        @torch.jit.ignore
        def helper(self):
            return 1

        @torch.jit.ignore(drop=True)
        def dropped(self):
            return 2

        @torch.jit.export
        def exported(self):
            return 3

        @torch.jit.unused
        def spare(self):
            return 4
    net = Net()
    assert (net.helper(), net.dropped(), net.exported(), net.spare()) == (1, 2, 3, 4)
    assert torch.jit.annotate(list, []) == []
    assert not torch.jit.is_scripting() and not torch.jit.is_tracing()
    seen = []
    torch.compile(lambda v: seen.append(torch.jit.is_tracing()) or v * 1)(torch.ones(2))
    assert seen == [True]
    with pytest.raises(NotImplementedError, match="jit.save .*state_dict"):
        torch.jit.save(net, "/nonexistent/x.pt")
    with pytest.raises(NotImplementedError, match="jit.load"):
        torch.jit.load("/nonexistent/x.pt")
    assert not isinstance(net, torch.jit.ScriptModule)
