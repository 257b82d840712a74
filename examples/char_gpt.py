"""A character-level GPT trained on real English text: Python's own documentation.

A decoder-only transformer as GPT-2 and nanoGPT build it: token and learned position
embeddings, pre-LayerNorm blocks of causal self-attention
(`F.scaled_dot_product_attention(is_causal=True)`) and a 4x GELU MLP, a final LayerNorm and a
linear head over the characters. AdamW (weight decay on matrices only) with a linear warm-up
then a cosine decay (LambdaLR), gradients clipped to norm 1.0. The held-out loss is reported
in bits per character (cross-entropy in nats / ln 2) every `--eval-every` steps; training
stops after `--minutes` of wall time or `--max-steps` steps, whichever comes first, and the
cosine reaches its floor exactly then. The corpus is examples/text_corpus.py's.

    python examples/char_gpt.py --minutes 10 --plot gpt.png --save gpt.safetensors
    python examples/char_gpt.py --load gpt.safetensors --prompt "A class "   # evaluate, sample
    python examples/char_gpt.py --max-steps 300 --precision bfloat16   # under autocast
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from tqdm import tqdm

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F

from common import PRECISIONS, load_model, plot_curves, precision, save_model
from text_corpus import CharCorpus, load_text

LN2 = math.log(2)


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    """All heads' q, k, v from one Linear; each position attends to itself and the past."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
                   for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))


class Block(nn.Module):
    """x + attention(LN(x)), then x + MLP(LN(x)): pre-LayerNorm residual blocks."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Characters in, next-character logits out, each position seeing only its past."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size)
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2's: N(0, 0.02) weights, zero biases, and the projections that write into the
        residual stream scaled by 1/sqrt(2 n_layer) so its variance does not grow with depth."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp[2]):
                nn.init.normal_(proj.weight, 0.0, 0.02 / math.sqrt(2 * self.cfg.n_layer))

    def forward(self, idx):
        """Logits [batch, time, vocab] for every position of idx [batch, time]."""
        t = idx.shape[1]
        if t > self.cfg.block_size:
            raise ValueError(f"sequence of {t} exceeds block_size {self.cfg.block_size}")
        x = self.drop(self.tok_emb(idx) + self.pos_emb(torch.arange(t)))
        return self.head(self.ln_f(self.blocks(x)))


def loss_fn(model: GPT, x, y):
    logits = model(x)
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))


@torch.no_grad()
def evaluate(model: GPT, x: np.ndarray, y: np.ndarray, batch_size: int = 32) -> float:
    """Mean cross-entropy (nats per character) over all the given windows."""
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb, yb = torch.tensor(x[i:i + batch_size]), torch.tensor(y[i:i + batch_size])
        total += loss_fn(model, xb, yb).item() * yb.numel()
    model.train()
    return total / y.size


@torch.no_grad()
def generate(model: GPT, corpus: CharCorpus, prompt: str, max_new_tokens: int,
             temperature: float = 1.0, top_k: Optional[int] = None,
             rng: Optional[np.random.Generator] = None) -> str:
    """Sample `max_new_tokens` characters after `prompt`, one at a time, each from the
    softmax of the last position's logits / temperature, kept to the `top_k` likeliest."""
    rng = np.random.default_rng() if rng is None else rng
    model.eval()
    ids = list(corpus.encode(prompt or "\n"))  # an empty prompt starts a paragraph
    start = len(ids)
    for _ in range(max_new_tokens):
        context = torch.tensor(np.array([ids[-model.cfg.block_size:]]))
        ids.append(sample(model(context)[0, -1].numpy(), temperature, top_k, rng))
    model.train()
    return prompt + corpus.decode(ids[start:])


def sample(logits: np.ndarray, temperature: float, top_k: Optional[int],
           rng: np.random.Generator) -> int:
    """One token from softmax(logits / temperature) over the `top_k` likeliest."""
    logits = logits.astype(np.float64) / max(temperature, 1e-8)
    if top_k is not None and top_k < len(logits):
        logits[logits < np.sort(logits)[-top_k]] = -np.inf
    p = np.exp(logits - logits.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def decode_step(model: GPT, token, position, caches: list):
    """One position with a KV cache: `token` [batch, 1] at `position` (a [1] tensor, so
    a new position is a new value, not a new graph), `caches` one (keys, values) pair
    [batch, heads, t, head dim] per block for the t positions before. Returns the next
    token's logits [batch, vocab] and the caches grown to t + 1."""
    x = model.tok_emb(token) + model.pos_emb(position)
    b, _, c = x.shape
    grown = []
    for block, (past_k, past_v) in zip(model.blocks, caches):
        attn = block.attn
        q, k, v = (z.view(b, 1, attn.n_head, c // attn.n_head).transpose(1, 2)
                   for z in attn.qkv(block.ln1(x)).split(c, dim=2))
        k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v)   # one query sees every cached key
        x = x + attn.proj(y.transpose(1, 2).reshape(b, 1, c))
        x = x + block.mlp(block.ln2(x))
        grown.append((k, v))
    return model.head(model.ln_f(x))[:, -1], grown


def empty_caches(model: GPT, batch: int = 1) -> list:
    """Per block, keys and values for no position yet; their length (dim 2) is marked
    dynamic, so a compiled `decode_step` traces it as a symbol and never recompiles."""
    cfg = model.cfg
    shape = (batch, cfg.n_head, 0, cfg.n_embd // cfg.n_head)
    caches = [(torch.zeros(*shape), torch.zeros(*shape)) for _ in range(cfg.n_layer)]
    for k, v in caches:
        torch.mark_dynamic(k, 2)
        torch.mark_dynamic(v, 2)
    return caches


@torch.no_grad()
def generate_kv(model: GPT, corpus: CharCorpus, prompt: str, max_new_tokens: int,
                temperature: float = 1.0, top_k: Optional[int] = None,
                rng: Optional[np.random.Generator] = None, step=decode_step) -> str:
    """`generate` with a KV cache: each new character costs one position, not the whole
    context. `step` is `decode_step` or `torch.compile(decode_step)`. Prompt and sample
    together fit in the context (positions are absolute: no sliding window)."""
    rng = np.random.default_rng() if rng is None else rng
    ids = list(corpus.encode(prompt or "\n"))
    if len(ids) + max_new_tokens > model.cfg.block_size:
        raise ValueError(f"generate_kv: prompt ({len(ids)}) + {max_new_tokens} new tokens "
                         f"exceed block_size {model.cfg.block_size}")
    model.eval()
    caches, start = empty_caches(model), len(ids)
    for position in range(start + max_new_tokens - 1):
        token = torch.tensor(np.array([[ids[position]]]))
        logits, caches = step(model, token, torch.tensor(np.array([position])), caches)
        if position + 1 >= start:   # past the prompt: sample the next one
            ids.append(sample(logits[0].numpy(), temperature, top_k, rng))
    model.train()
    return prompt + corpus.decode(ids[start:])


class WarmupCosine:
    """LambdaLR factor: linear warm-up over `warmup` steps, then a half cosine from 1 down to
    `floor` over the rest of the budget, in steps or in wall time, whichever runs out
    first (so a time budget ends with the rate at its floor, as a step budget does)."""

    def __init__(self, warmup: int, max_steps: Optional[int], seconds: Optional[float],
                 floor: float = 0.1) -> None:
        self.warmup, self.max_steps, self.seconds, self.floor = warmup, max_steps, seconds, floor
        self.start = time.perf_counter()

    def progress(self, step: int) -> float:
        """How much of the budget after warm-up is used, from 0 to 1."""
        done = [0.0]
        if self.max_steps is not None:
            done.append((step - self.warmup) / max(self.max_steps - self.warmup, 1))
        if self.seconds is not None:
            done.append((time.perf_counter() - self.start) / self.seconds)
        return min(max(done), 1.0)

    def finished(self, step: int) -> bool:
        over_time = self.seconds is not None and \
            time.perf_counter() - self.start >= self.seconds
        return over_time or (self.max_steps is not None and step >= self.max_steps)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        cosine = 0.5 * (1 + math.cos(math.pi * self.progress(step)))
        return self.floor + (1 - self.floor) * cosine


def make_optimizer(model: GPT, lr: float, weight_decay: float):
    """AdamW; matrices (and embeddings) decay, biases and LayerNorm gains do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.99))


def train(model: GPT, corpus: CharCorpus, args) -> dict:
    """Train until the step or time budget ends, evaluating held-out bpc every
    `args.eval_every` steps; returns the curves."""
    cfg = model.cfg
    rng = np.random.default_rng(args.seed)
    val_x, val_y = (a[:args.eval_windows] for a in corpus.windows("val", cfg.block_size))
    opt = make_optimizer(model, args.lr, args.weight_decay)
    seconds = args.minutes * 60 if args.minutes else None
    schedule = WarmupCosine(args.warmup, args.max_steps, seconds)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    context, scaled = precision(args.precision)   # the forward passes' autocast, if any
    scaler = torch.amp.GradScaler("cpu", enabled=scaled)

    def held_out_bpc() -> float:
        with context:
            return evaluate(model, val_x, val_y) / LN2

    curve = {"step": [0], "val_bpc": [held_out_bpc()], "train_bpc": []}
    losses: list[float] = []
    step, start, eval_seconds = 0, time.perf_counter(), 0.0
    with tqdm(total=args.max_steps, desc="char-gpt", leave=False) as bar:
        while not schedule.finished(step):
            x, y = corpus.batch("train", args.batch_size, cfg.block_size, rng)
            with context:
                loss = loss_fn(model, torch.tensor(x), torch.tensor(y))
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.unscale_(opt)   # clip the true gradients
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            losses.append(loss.item())
            step += 1
            if step % args.eval_every == 0 or schedule.finished(step):
                tic = time.perf_counter()
                curve["step"].append(step)
                curve["val_bpc"].append(held_out_bpc())
                curve["train_bpc"].append(float(np.mean(losses[-args.eval_every:])) / LN2)
                eval_seconds += time.perf_counter() - tic
                tqdm.write(f"step {step:5d}  train {curve['train_bpc'][-1]:.3f} bpc (running)"
                           f"  held-out {curve['val_bpc'][-1]:.3f} bpc  "
                           f"lr {sched.get_last_lr()[0]:.2e}  {time.perf_counter() - start:.0f} s")
            train_seconds = time.perf_counter() - start - eval_seconds
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}",
                            tok_per_s=f"{step * x.size / train_seconds:.0f}",
                            val_bpc=f"{curve['val_bpc'][-1]:.3f}")
    curve["seconds"] = time.perf_counter() - start
    curve["losses"] = losses
    return curve


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", help="a UTF-8 text file (default: Python's documentation)")
    p.add_argument("--minutes", type=float, default=None, help="wall-time budget")
    p.add_argument("--max-steps", type=int, default=None, help="step budget")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--eval-windows", type=int, default=None,
                   help="evaluate on the first N held-out windows only (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="train under autocast (bfloat16, float16 with a GradScaler) or fp8")
    p.add_argument("--prompt", default="A class definition ")
    p.add_argument("--sample-chars", type=int, default=400)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--plot", metavar="PNG", help="save the loss curves")
    p.add_argument("--save", metavar="FILE", help="save the weights (safetensors)")
    p.add_argument("--load", metavar="FILE",
                   help="evaluate and sample from a checkpoint instead of training")
    args = p.parse_args(argv)
    if args.minutes is None and args.max_steps is None:
        args.minutes = 10.0
    return args


def main(argv=None) -> dict:
    """Train (or load) a character-level GPT, report held-out bits per character, sample."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    corpus = CharCorpus(load_text(args.corpus))
    print(corpus, f"unigram held-out {corpus.unigram_bits():.3f} bpc")
    cfg = GPTConfig(corpus.vocab_size, args.block_size, args.n_layer, args.n_head,
                    args.n_embd, args.dropout)
    model = GPT(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"GPT {cfg.n_layer} layers x {cfg.n_embd} wide, {cfg.n_head} heads, context "
          f"{cfg.block_size}: {n_params / 1e6:.2f} M parameters")
    if args.load:
        load_model(model, args.load)
        val_x, val_y = corpus.windows("val", cfg.block_size)
        curve = {"step": [0], "val_bpc": [evaluate(model, val_x, val_y) / LN2],
                 "train_bpc": [], "seconds": 0.0, "losses": []}
        print(f"{args.load}: held-out {curve['val_bpc'][-1]:.3f} bits per character")
    else:
        curve = train(model, corpus, args)
        steps = curve["step"][-1]
        print(f"held-out {curve['val_bpc'][-1]:.3f} bits per character after {steps} steps "
              f"({steps * args.batch_size * cfg.block_size} tokens, {curve['seconds']:.0f} s)")
    if args.save:
        save_model(model, args.save)
    if args.plot:
        plot_curves(args.plot, {"held-out bits per character, by step": (curve["step"],
                                                                          curve["val_bpc"]),
                                "train loss (nats), by step": curve["losses"]},
                    "char GPT")
    sample = generate(model, corpus, args.prompt, args.sample_chars, args.temperature,
                      args.top_k, np.random.default_rng(args.seed))
    print("---- sample ----\n" + sample + "\n----------------")
    return {"val_bpc": curve["val_bpc"][-1], "val_curve": list(zip(curve["step"],
                                                                   curve["val_bpc"])),
            "train_bpc": curve["train_bpc"], "steps": curve["step"][-1],
            "seconds": curve["seconds"],
            "unigram_bpc": corpus.unigram_bits(), "n_params": n_params, "sample": sample}


if __name__ == "__main__":
    main()
