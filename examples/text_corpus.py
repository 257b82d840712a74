"""A real English text corpus that ships with Python, as character ids for language models.

The default corpus is the prose of the Python Language Reference and Library Reference
topics that CPython installs as `pydoc_data/topics.py` (what `help("if")` prints): about
0.36 million characters of English written by people, with some code examples and grammar
rules, on every machine that runs this interpreter, so nothing is downloaded. Paragraphs
repeated across topics are kept once (they would leak from training into held-out text),
and lines that only draw headings and table borders ("=====", "+---+") are dropped.
Any UTF-8 text file can be used instead (`load_text(path)`).
"""
from __future__ import annotations

import math
import re
from typing import Optional

import numpy as np

RULE = re.compile(r"[\s=\-+*~^|]+")


def python_docs_text() -> str:
    """The pydoc topics, sorted by name, repeated paragraphs and rule lines removed."""
    from pydoc_data.topics import topics
    seen, kept = set(), []
    for name in sorted(topics):
        for para in topics[name].split("\n\n"):
            lines = [ln.rstrip() for ln in para.split("\n")]
            para = "\n".join(ln for ln in lines if ln and not RULE.fullmatch(ln))
            if para and para not in seen:
                seen.add(para)
                kept.append(para)
    return "\n\n".join(kept) + "\n"


def load_text(path: Optional[str] = None) -> str:
    """The text of a UTF-8 file, or the Python documentation corpus when no path is given."""
    if path is None:
        return python_docs_text()
    with open(path, encoding="utf-8") as f:
        return f.read()


class CharCorpus:
    """A text as int64 character ids, split into train and held-out parts (the last
    `held_out` share, so held-out text is unseen passages rather than shuffled lines)."""

    def __init__(self, text: str, held_out: float = 0.1) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        ids = self.encode(text)
        cut = int(len(ids) * (1 - held_out))
        self.train, self.val = ids[:cut], ids[cut:]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters not in the corpus vocabulary: {unknown}")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def batch(self, split: str, batch_size: int, block: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Random windows: inputs [batch, block] and the next characters as targets."""
        data = self.train if split == "train" else self.val
        starts = rng.integers(0, len(data) - block - 1, batch_size)
        rows = starts[:, None] + np.arange(block + 1)
        windows = data[rows]
        return windows[:, :-1], windows[:, 1:]

    def windows(self, split: str, block: int) -> tuple[np.ndarray, np.ndarray]:
        """Every non-overlapping window of a split (a fixed, complete evaluation set)."""
        data = self.train if split == "train" else self.val
        n = (len(data) - 1) // block
        x = data[:n * block].reshape(n, block)
        y = data[1:n * block + 1].reshape(n, block)
        return x, y

    def unigram_bits(self) -> float:
        """Held-out bits per character under the training text's character frequencies
        (add-one smoothed): the best a model that ignores context can do."""
        counts = np.bincount(self.train, minlength=self.vocab_size) + 1.0
        logp = np.log2(counts / counts.sum())
        return float(-logp[self.val].mean())

    def __repr__(self) -> str:
        return (f"CharCorpus({len(self.train) + len(self.val)} characters, vocabulary "
                f"{self.vocab_size}, train {len(self.train)}, held-out {len(self.val)}, "
                f"log2(vocab) {math.log2(self.vocab_size):.2f} bits)")
