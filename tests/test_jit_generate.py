"""The character GPT's KV-cache decoder (examples/char_gpt.py: decode_step, generate_kv)
compiled once with a symbolic cache length: it samples the same characters as the eager
decoder and, greedily, as the full-context `generate`, without a graph per token."""
import pathlib
import sys

import numpy as np
import pytest

import tinyflow as torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import char_gpt  # noqa: E402
from text_corpus import CharCorpus, load_text  # noqa: E402


@pytest.fixture(scope="module")
def gpt():
    corpus = CharCorpus(load_text())
    torch.manual_seed(0)
    model = char_gpt.GPT(char_gpt.GPTConfig(corpus.vocab_size, 64, 2, 4, 32))
    with torch.no_grad():   # sharper than the N(0, 0.02) start, so samples differ by seed
        for p in model.parameters():
            p.mul_(8.0)
    return corpus, model


def test_compiled_decoder_equals_eager_token_for_token(gpt):
    corpus, model = gpt
    step = torch.compile(char_gpt.decode_step)
    texts = []
    for seed, temperature, top_k in ((0, 1.0, None), (1, 0.8, 10), (2, 1.3, 5)):
        eager = char_gpt.generate_kv(model, corpus, "The value ", 40, temperature, top_k,
                                     np.random.default_rng(seed))
        compiled = char_gpt.generate_kv(model, corpus, "The value ", 40, temperature, top_k,
                                        np.random.default_rng(seed), step=step)
        assert compiled == eager and len(compiled) == len("The value ") + 40
        texts.append(compiled)
    assert len(set(texts)) == 3
    # 150 positions of growing caches: one graph, no recompile per token
    assert (step.stats.compiles, step.stats.recompiles, step.stats.calls) == (1, 0, 147)


def test_kv_decoder_equals_full_context_generation(gpt):
    corpus, model = gpt
    step = torch.compile(char_gpt.decode_step)
    full = char_gpt.generate(model, corpus, "A class ", 30, top_k=1)
    assert char_gpt.generate_kv(model, corpus, "A class ", 30, top_k=1, step=step) == full
    assert char_gpt.generate_kv(model, corpus, "A class ", 30, top_k=1) == full
    with pytest.raises(ValueError, match="exceed block_size 64"):
        char_gpt.generate_kv(model, corpus, "A class ", 60, step=step)
