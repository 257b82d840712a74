"""The sequence examples on small budgets: examples/mnist_lstm.py and examples/char_gpt.py
learn (the loss falls and a stated bar passes), sample text as asked, and come back from a
checkpoint with the same held-out numbers."""
import math
import pathlib
import sys

import numpy as np
import pytest

import tinyflow as torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import char_gpt  # noqa: E402
import mnist_lstm  # noqa: E402
from common import load_model  # noqa: E402
from text_corpus import CharCorpus, load_text  # noqa: E402

pytestmark = pytest.mark.slow  # trains a GPT and an LSTM: about 110 s here

# a small GPT (2 layers x 64, context 64): ~0.1 M parameters, a few seconds per 100 steps
TINY = ["--n-layer", "2", "--n-embd", "64", "--n-head", "4", "--block-size", "64"]
GPT_STEPS = 200


@pytest.fixture(scope="module")
def corpus():
    return CharCorpus(load_text())


@pytest.fixture(scope="module")
def tiny_gpt(tmp_path_factory):
    """Train the small GPT once: its metrics and the checkpoint it saved."""
    path = str(tmp_path_factory.mktemp("gpt") / "gpt.safetensors")
    metrics = char_gpt.main(TINY + ["--max-steps", str(GPT_STEPS), "--eval-every", "50",
                                    "--warmup", "20", "--lr", "3e-3", "--sample-chars", "20",
                                    "--save", path])
    return metrics, path


def _load_tiny(corpus, path):
    model = char_gpt.GPT(char_gpt.GPTConfig(corpus.vocab_size, 64, 2, 4, 64))
    return load_model(model, path)


def test_corpus_is_real_deduplicated_english(corpus):
    text = corpus.decode(np.concatenate([corpus.train, corpus.val]))
    assert len(text) > 300_000 and corpus.vocab_size < 128
    words = text.split()
    common = {"the", "of", "a", "is", "to", "and", "in", "be", "that", "object"}
    assert sum(w in common for w in words) / len(words) > 0.15  # English, not code
    paragraphs = [p for p in text.split("\n\n") if len(p) > 80]
    assert len(paragraphs) == len(set(paragraphs))
    assert len(corpus.val) == pytest.approx(0.1 * len(text), abs=1)
    x, y = corpus.batch("train", 4, 32, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 32) and np.array_equal(x[:, 1:], y[:, :-1])
    # a model that ignores context still beats a uniform guess, by less than 2.5 bits
    assert math.log2(corpus.vocab_size) - 2.5 < corpus.unigram_bits() < \
        math.log2(corpus.vocab_size)


def test_warmup_then_cosine_schedule():
    f = char_gpt.WarmupCosine(warmup=10, max_steps=110, seconds=None, floor=0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0, abs=0.01)
    assert f(60) == pytest.approx(0.55, abs=0.05)
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)


def test_gpt_held_out_bpc_falls_below_the_unigram_entropy(tiny_gpt):
    metrics, _ = tiny_gpt
    curve = [bpc for _, bpc in metrics["val_curve"]]
    assert metrics["steps"] == GPT_STEPS
    assert curve[0] > metrics["unigram_bpc"]  # untrained: about log2(vocab)
    assert all(b < a for a, b in zip(curve, curve[1:]))  # still falling at every evaluation
    assert metrics["val_bpc"] < metrics["unigram_bpc"] - 0.75
    assert metrics["train_bpc"][-1] < metrics["train_bpc"][0]


def test_gpt_checkpoint_round_trip_reproduces_held_out_loss(tiny_gpt):
    metrics, path = tiny_gpt
    again = char_gpt.main(TINY + ["--load", path, "--sample-chars", "5"])
    assert again["val_bpc"] == pytest.approx(metrics["val_bpc"], abs=1e-6)


def test_generate_length_vocabulary_and_top_k(tiny_gpt, corpus):
    model = _load_tiny(corpus, tiny_gpt[1])
    prompt, k = "The value ", 3
    text = char_gpt.generate(model, corpus, prompt, 40, temperature=1.5, top_k=k,
                             rng=np.random.default_rng(1))
    assert len(text) == len(prompt) + 40 and text.startswith(prompt)
    assert set(text) <= set(corpus.chars)
    ids = corpus.encode(text)
    with torch.no_grad():
        logits = model(torch.tensor(ids[None, :-1]))[0].numpy()
    for pos in range(len(prompt) - 1, len(ids) - 1):  # each sampled character is in the top k
        kth = np.sort(logits[pos])[-k]
        assert logits[pos, ids[pos + 1]] >= kth - 1e-4
    greedy = [char_gpt.generate(model, corpus, prompt, 20, top_k=1,
                                rng=np.random.default_rng(seed)) for seed in (0, 1)]
    assert greedy[0] == greedy[1]
    assert len(char_gpt.generate(model, corpus, "", 10, top_k=5)) == 10
    with pytest.raises(ValueError, match="not in the corpus vocabulary"):
        char_gpt.generate(model, corpus, "\u03bb", 5)


def test_lstm_reads_mnist_rows(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYFLOW_DATA_DIR", data_dir)
    path = str(tmp_path / "lstm.safetensors")
    flags = ["--hidden", "48", "--batch-size", "64", "--lr", "5e-3"]
    metrics = mnist_lstm.main(flags + ["--epochs", "1", "--max-steps", "150", "--save", path])
    losses = metrics["losses"]
    assert metrics["steps"] == 150
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])
    assert metrics["test_accuracy"] >= 0.6
    again = mnist_lstm.main(flags + ["--load", path])
    assert again["test_accuracy"] == metrics["test_accuracy"]
