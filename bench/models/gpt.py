"""A nanoGPT-style decoder in four spellings of attention: F.scaled_dot_product_attention
causal and with a mask, nn.MultiheadAttention, and written out by hand; GELU tanh or exact;
AdamW. The `gpt4_b16` rows are issue 13's size (4 layers, batch 16), eager and compiled."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common import load_parameters
from models.data import Workload, integers

VOCAB, D, HEADS, LAYERS, SEQ, BATCH = 256, 256, 4, 2, 128, 8


class SelfAttention(nn.Module):
    """nanoGPT's CausalSelfAttention: one Linear(C, 3C), split, view, transpose."""
    def __init__(self, spelling):
        super().__init__()
        self.spelling = spelling
        self.c_attn = nn.Linear(D, 3 * D)
        self.c_proj = nn.Linear(D, D)
        self.register_buffer("bias", torch.tril(torch.ones(SEQ, SEQ)).view(1, 1, SEQ, SEQ))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(D, dim=2)
        q = q.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        k = k.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        v = v.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        if self.spelling == "sdpa_causal":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif self.spelling == "sdpa_mask":
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias[:, :, :T, :T] > 0)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class TorchAttention(nn.Module):
    """nn.MultiheadAttention with a boolean causal mask (True = masked out)."""
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(D, HEADS, batch_first=True)
        self.register_buffer("mask", torch.triu(torch.ones(SEQ, SEQ), 1).bool())

    def forward(self, x):
        return self.attn(x, x, x, attn_mask=self.mask, need_weights=False)[0]


class Block(nn.Module):
    def __init__(self, spelling, approximate):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = TorchAttention() if spelling == "mha" else SelfAttention(spelling)
        self.c_fc, self.c_proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
        self.approximate = approximate

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate=self.approximate))


class GPT(nn.Module):
    def __init__(self, spelling, approximate, layers=LAYERS):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, D), nn.Embedding(SEQ, D)
        self.h = nn.ModuleList([Block(spelling, approximate) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(D)
        self.lm_head = nn.Linear(D, VOCAB, bias=False)

    def forward(self, idx, targets):
        pos = torch.arange(0, idx.size(1), dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def gpt_step(spelling, approximate, compiled=False, layers=LAYERS, batch=BATCH):
    """One training step; `compiled`: the step under `torch.compile` (tinyflow.compile when
    torch is tinyflow), the loss read outside it."""
    model = load_parameters(GPT(spelling, approximate, layers))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    data = torch.from_numpy(integers(0, VOCAB, batch, SEQ + 1))
    idx, targets = data[:, :-1].contiguous(), data[:, 1:].contiguous()

    def train(idx, targets):
        opt.zero_grad(set_to_none=True)
        loss = model(idx, targets)
        loss.backward()
        opt.step()
        return loss
    if compiled:
        train = torch.compile(train)
    return lambda: train(idx, targets).item()


WORKLOADS = {
    "gpt_sdpa_causal_tanh": Workload(lambda: gpt_step("sdpa_causal", "tanh"), 5),
    "gpt_sdpa_mask_exact": Workload(lambda: gpt_step("sdpa_mask", "none"), 5),
    "gpt_mha_exact": Workload(lambda: gpt_step("mha", "none"), 5),
    "gpt_manual_tanh": Workload(lambda: gpt_step("manual", "tanh"), 5),
    "gpt_sdpa_causal_tanh_compiled": Workload(lambda: gpt_step("sdpa_causal", "tanh", True), 5),
    "gpt4_b16_sdpa_causal_tanh": Workload(
        lambda: gpt_step("sdpa_causal", "tanh", False, layers=4, batch=16), 4),
    "gpt4_b16_sdpa_causal_tanh_compiled": Workload(
        lambda: gpt_step("sdpa_causal", "tanh", True, layers=4, batch=16), 4),
}
