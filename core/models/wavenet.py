"""A WaveNet for characters: a stack of dilated causal 1-D convolutions.

Follows van den Oord et al. (2016), "WaveNet: A Generative Model for Raw Audio": every layer is a
convolution of kernel size 2 whose taps are ``dilation`` positions apart, with gated activations
(tanh * sigmoid), a residual connection and a skip connection to the output. Dilations 1, 2, 4, ...
double the reach at every layer, so L layers see 2^L positions; karpathy's makemore lecture 5
builds the same tree for names. Simplified for teaching: one stack, no conditioning, dropout for
training only.

Causality comes from where the kernel sits: a causal convolution at position t reads x_t and x_{t-d}
only (the input is padded on the left by d, the kernel "shifted" so it never reads to the right),
exactly as PixelCNN's masks do over pixels. ``causal=False`` trains the same stack with centred
kernels of size 3 (reading x_{t-d}, x_t, x_{t+d}): the pitfall, like the unmasked transformer.

The receptive field of a prediction is 1 + (kernel_size - 1) * sum(dilations) tokens. Decoding
token by token keeps, per layer, the last ``dilation`` inputs that layer will read again
(``ConvQueues``, after Paine et al. 2016, "Fast Wavenet Generation Algorithm"): a fixed amount of
memory, whatever the length of the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ForwardOutput, ModelConfig, count_parameters


@dataclass
class WaveNetConfig(ModelConfig):
    block_size: int = 16  # longest text read in one pass (the scoring windows)
    vocab_size: int = 27  # number of symbols, specials included
    n_embd: int = 64  # residual channels
    n_skip: int = 128  # skip channels, summed over layers, then the output head
    dilations: tuple[int, ...] = (1, 2, 4)  # one layer each; the receptive field doubles per layer
    kernel_size: int = 2  # taps per layer (3 when causal=False: centred on t)
    dropout: float = 0.0  # training only; eval() turns it off
    causal: bool = True  # False = centred kernels that read the future (the pitfall)
    input_only_ids: tuple[int, ...] = ()  # tokens read but never predicted (a start token)


class ConvQueues:
    """What a WaveNet step carries to the next: per layer, the last (kernel_size - 1) * dilation inputs.

    ``queues[i]`` is (B, n_embd, (k - 1) * d_i); zeros where the text has not reached yet (the same
    zeros a whole-sequence pass pads with).
    """

    def __init__(self, config: WaveNetConfig, batch: int = 1):
        k = config.kernel_size
        self.queues = [torch.zeros(batch, config.n_embd, (k - 1) * d) for d in config.dilations]
        self.length = 0  # tokens read so far

    def clear(self) -> None:
        for q in self.queues:
            q.zero_()
        self.length = 0

    @property
    def nbytes(self) -> int:
        return sum(q.numel() * q.element_size() for q in self.queues)


class GatedLayer(nn.Module):
    """One dilated convolution with a gated activation, a residual and a skip output."""

    def __init__(self, config: WaveNetConfig, dilation: int):
        super().__init__()
        C = config.n_embd
        self.dilation = dilation
        self.kernel_size = config.kernel_size
        self.causal = config.causal
        self.conv = nn.Conv1d(C, 2 * C, config.kernel_size, dilation=dilation)  # filter and gate at once
        self.res = nn.Conv1d(C, C, 1)
        self.skip = nn.Conv1d(C, config.n_skip, 1)
        self.drop = nn.Dropout(config.dropout)

    @property
    def reach(self) -> int:
        """How many earlier inputs the kernel reads (the left padding of a causal layer)."""
        return (self.kernel_size - 1) * self.dilation

    def forward(self, x: torch.Tensor, queue: torch.Tensor | None = None):
        """x: (B, C, T). With ``queue`` (B, C, reach), the inputs before x. Returns x, skip, the new queue."""
        T = x.size(2)
        if self.causal:
            past = queue if queue is not None else x.new_zeros(x.size(0), x.size(1), self.reach)
            padded = torch.cat([past, x], dim=2)  # (B, C, reach + T): the kernel never reads past t
        else:
            half = self.reach // 2
            padded = F.pad(x, (half, self.reach - half))  # centred: position t also reads t + d
        f, g = self.conv(padded).chunk(2, dim=1)  # (B, C, T) each
        z = self.drop(torch.tanh(f) * torch.sigmoid(g))  # the gated activation
        new_queue = padded[:, :, T:] if self.causal else None  # (B, C, reach): the newest inputs
        return x + self.res(z), self.skip(z), new_queue  # (B, C, T), (B, S, T), queue


class WaveNetLM(nn.Module):
    """Character WaveNet with makemore's contract: ``forward(idx, targets=None) -> (logits, loss)``."""

    def __init__(self, config: WaveNetConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.layers = nn.ModuleList(GatedLayer(config, d) for d in config.dilations)
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(config.n_skip, config.n_skip, 1),
            nn.ReLU(),
            nn.Conv1d(config.n_skip, config.vocab_size, 1),
        )
        logit_bias = torch.zeros(config.vocab_size)
        logit_bias[list(config.input_only_ids)] = float("-inf")  # read-only tokens get probability exactly 0
        self.register_buffer("logit_bias", logit_bias, persistent=False)

    @property
    def block_size(self) -> int:
        return self.config.block_size

    @property
    def receptive_field(self) -> int:
        """Tokens a prediction can depend on, the current one included: 1 + (k - 1) * sum(dilations)."""
        return 1 + (self.config.kernel_size - 1) * sum(self.config.dilations)

    @property
    def supports_cache(self) -> bool:
        # centred kernels read later tokens: a new token changes earlier outputs, nothing to keep
        return self.config.causal

    def new_cache(self, batch: int = 1) -> ConvQueues:
        return ConvQueues(self.config, batch)

    def num_params(self) -> int:
        return count_parameters(self)

    def forward_detailed(self, idx, cache: ConvQueues | None = None, need_weights: bool = False) -> ForwardOutput:
        """idx: (B, T) token ids, after what ``cache`` holds (if given). Returns every position's logits."""
        x = self.wte(idx).transpose(1, 2)  # (B, C, T): channels first, as Conv1d reads them
        skips = 0
        for i, layer in enumerate(self.layers):
            x, s, q = layer(x, cache.queues[i] if cache is not None else None)
            skips = skips + s  # (B, S, T)
            if cache is not None:
                cache.queues[i] = q
        logits = self.head(skips).transpose(1, 2).contiguous() + self.logit_bias  # (B, T, V)
        if cache is not None:
            cache.length += idx.size(1)
        return ForwardOutput(logits=logits, attention=None)

    def forward(self, idx, targets=None):
        """idx, targets: (B, T). Returns logits (B, T, V) and the mean cross-entropy (targets -1 ignored)."""
        logits = self.forward_detailed(idx).logits
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
