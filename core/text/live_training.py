"""Train a tiny text model live: the Training page's job, through the one harness (core.training).

``train_live`` prepares the data (a shipped corpus by name, or any text: its characters are the
vocabulary and its last ``heldout_fraction`` is held out), builds a small causal transformer (or a
bigram count table, which "trains" in one pass) and yields a ``LiveEvent`` after every step:
training loss, and every ``eval_every`` steps the held-out loss and a few samples drawn with fixed
seeds, so the same samples visibly improve. The last event carries the model as a ``TextModel``
that ``core.score`` and ``core.generate`` use like a shipped one. Breaking out of the iterator stops.

The held-out loss is always computed the honest way: each prediction reads only the tokens before
it (``prefix_nll``). For a causal model that is what one forward pass gives; for a model trained
without the causal mask it is not, and the gap between its training loss (it could copy the
answer from its input) and this honest held-out loss is the lesson.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from core.errors import InputError
from core.models.bigram import BigramConfig, BigramLM
from core.models.gru import GRULM, GRUConfig
from core.models.mlp import MLPLM, MLPConfig
from core.models.transformer import GPT, GPTConfig
from core.models.wavenet import WaveNetConfig, WaveNetLM
from core.text.corpora import CORPORA, load_corpus
from core.text.data import name_examples, text_batch, text_windows
from core.text.language_model import TextModel, generate, heldout_nll
from core.text.vocab import Vocab, names_vocab, text_vocab
from core.training import Schedule, adamw, train_steps

NAMES_BLOCK = 16  # every name fits (15 letters at most, plus the end token)
MIN_TEXT = 200  # characters: below this there is nothing to learn and nothing to hold out
MAX_TEXT = 2_000_000
LIMITS = dict(n_layer=(1, 4), n_embd=(16, 128), block_size=(4, 64), steps=(1, 5000), batch_size=(1, 128))
EVAL_ROWS = 256  # held-out sequences scored at each evaluation (all of them at the end)


@dataclass
class LiveEvent:
    step: int
    train_loss: float  # this step's training-batch loss, nats per character
    heldout_loss: float | None  # honest held-out NLL, nats per character (None between evaluations)
    samples: list[str]  # seeded samples (the same seeds every time); empty between evaluations
    elapsed_s: float
    model: TextModel | None = None  # the last event only
    snapshot: TextModel | None = None  # at every evaluation: the model as it was then (a stopped run keeps it)
    probe: list[tuple[str, float]] = field(default_factory=list)  # a held-out example: (token, −log p) each
    reference: dict = field(default_factory=dict)  # "bigram" and "uniform" held-out NLLs (first event)


@dataclass(frozen=True)
class LiveData:
    vocab: Vocab
    train_x: torch.Tensor  # names: (N, 16) examples; text: (n,) token ids
    train_y: torch.Tensor | None
    heldout_x: torch.Tensor  # (M, T) held-out inputs
    heldout_y: torch.Tensor  # (M, T) targets, -1 = padding
    is_names: bool
    description: str


def decode_upload(raw: bytes, max_bytes: int = 200_000) -> str:
    """An uploaded file as text: InputError in words for one too large or not UTF-8 (a binary file)."""
    if len(raw) > max_bytes:
        raise InputError(f"The file has {len(raw):,} bytes; at most {max_bytes:,} are allowed here.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("The file is not UTF-8 text (is it a binary file?). Save it as plain UTF-8 text.") from None


def prepare(text: str, block_size: int, heldout_fraction: float = 0.1) -> LiveData:
    """The data of a run: ``text`` is "names", "shakespeare", or the text itself."""
    if text == "names":
        train, heldout = load_corpus("names")
        vocab = names_vocab()
        tx, ty = name_examples(train.split(), vocab, NAMES_BLOCK)
        hx, hy = name_examples(heldout.split(), vocab, NAMES_BLOCK)
        return LiveData(vocab, tx, ty, hx, hy, True, CORPORA["names"])
    if text == "shakespeare":
        train, heldout = load_corpus("shakespeare")
        vocab = text_vocab(train + heldout)
        description = CORPORA["shakespeare"]
    else:
        if not isinstance(text, str) or len(text.strip()) == 0:
            raise InputError("The text is empty: paste or upload some text (at least 200 characters).")
        if len(text) > MAX_TEXT:
            raise InputError(f"The text has {len(text):,} characters; at most {MAX_TEXT:,} can be trained on here.")
        if len(text) < MIN_TEXT:
            raise InputError(f"The text has {len(text)} characters; at least {MIN_TEXT} are needed to learn anything.")
        if len(set(text)) < 2:
            raise InputError("The text is one character repeated: there is nothing to predict.")
        if not 0.01 <= heldout_fraction <= 0.5:
            raise InputError(f"The held-out fraction must be between 0.01 and 0.5, got {heldout_fraction}.")
        n = int(len(text) * (1 - heldout_fraction))
        train, heldout = text[:n], text[n:]
        vocab = text_vocab(text)
        description = (
            f"your text: {len(text):,} characters, {vocab.size - 1} distinct; the last {len(heldout):,} held out"
        )
    if len(heldout) < block_size + 1 or len(train) < block_size + 2:
        raise InputError(
            f"The held-out tail ({len(heldout)} characters) or the training part ({len(train)}) is shorter than one "
            f"context window of {block_size} + 1: use a longer text or a shorter context."
        )
    hx, hy = text_windows(torch.tensor(vocab.encode(heldout)), block_size)
    return LiveData(vocab, torch.tensor(vocab.encode(train)), None, hx, hy, False, description)


@torch.no_grad()
def prefix_costs_table(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, T) −log p(y_t | x_0..x_t) in nats, each prediction reading only its prefix (honest for any mask);
    NaN where the target is padding (-1)."""
    out = torch.full(y.shape, math.nan, dtype=torch.float64)
    for t in range(x.shape[1]):
        logits, _ = net(x[:, : t + 1])  # (B, t+1, V): the last position sees x_0..x_t and nothing after
        keep = y[:, t] >= 0
        if keep.any():
            logp = torch.log_softmax(logits[keep, -1].double(), dim=-1)  # (b, V)
            out[keep, t] = -logp[torch.arange(int(keep.sum())), y[keep, t]]
    return out


def prefix_nll(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean of ``prefix_costs_table`` over the real targets (equals ``heldout_nll`` for a causal model)."""
    costs = prefix_costs_table(net, x, y)
    return float(costs[y >= 0].mean())


def prefix_costs(net: nn.Module, vocab: Vocab, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, float]]:
    """(token, −log p) for each target of one held-out row (x, y: (T,)), every prediction from its prefix only."""
    keep = y >= 0
    costs = prefix_costs_table(net, x[None], y[None])[0]
    return [(vocab.token_text(int(t)), float(c)) for t, c in zip(y[keep], costs[keep], strict=True)]


def _check(name: str, value) -> int:
    lo, hi = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InputError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}.")
    return value


def _bigram(data: LiveData) -> BigramLM:
    """The count table of every (previous, next) pair of the training data (one pass, add-one smoothed)."""
    V = data.vocab.size
    bigram = BigramLM(BigramConfig(vocab_size=V, input_only_ids=tuple(data.vocab.input_only_ids)))
    if data.is_names:
        keep = data.train_y >= 0  # each target and the token before it, within a name
        prev, nxt = data.train_x[keep], data.train_y[keep]
    else:
        ids = torch.cat([torch.tensor([data.vocab.bos_id]), data.train_x])
        prev, nxt = ids[:-1], ids[1:]
    bigram.counts.copy_(torch.bincount(prev * V + nxt, minlength=V * V).reshape(V, V).double())
    return bigram


# What the page can train (kind -> what it is); "bigram" is counted, not trained.
LIVE_KINDS = {
    "transformer": "tiny transformer",
    "mlp": "MLP over a window",
    "wavenet": "WaveNet",
    "gru": "GRU",
    "bigram": "bigram counts",
}
MLP_WINDOW = 5  # the MLP reads the last 5 tokens, as the shipped names-mlp does


def build_net(kind: str, vocab: Vocab, block: int, n_layer: int, n_embd: int, causal: bool = True) -> nn.Module:
    """A fresh network of ``kind`` for the page's settings: ``n_layer`` and ``n_embd`` read per family
    (transformer blocks and width; GRU layers and state size; WaveNet layers, dilations 1, 2, 4, ..., and
    channels; the MLP's hidden layer is 4 x the width). ``causal=False``: no mask / centred kernels."""
    common = dict(block_size=block, vocab_size=vocab.size, input_only_ids=tuple(vocab.input_only_ids))
    if kind == "transformer":
        return GPT(GPTConfig(n_layer=n_layer, n_head=n_embd // 16, n_embd=n_embd, causal=causal, **common))
    if kind == "mlp":
        return MLPLM(MLPConfig(context=min(MLP_WINDOW, block), n_embd=16, n_hidden=4 * n_embd, **common))
    if kind == "gru":
        return GRULM(GRUConfig(n_embd=n_embd // 2, n_hidden=n_embd, n_layer=n_layer, **common))
    if kind == "wavenet":
        dilations = tuple(2**i for i in range(n_layer))
        return WaveNetLM(WaveNetConfig(n_embd=n_embd, n_skip=2 * n_embd, dilations=dilations, causal=causal,
                                       kernel_size=2 if causal else 3, **common))  # fmt: skip
    raise InputError(f"The model must be one of {', '.join(LIVE_KINDS)}, got {kind!r}.")


def parameter_count(kind: str, vocab: Vocab, block: int, n_layer: int, n_embd: int) -> int:
    """How many parameters ``build_net`` would give these settings, counted without building them:
    on the meta device there are shapes only (no memory, no initialisation), cheap on every rerun."""
    with torch.device("meta"):
        return build_net(kind, vocab, block, n_layer, n_embd).num_params()


def train_live(
    text: str,
    *,
    n_layer: int = 2,
    n_embd: int = 64,
    block_size: int = 32,
    causal: bool = True,
    steps: int = 600,
    lr: float | None = None,
    batch_size: int = 32,
    seed: int = 0,
    heldout_fraction: float = 0.1,
    kind: str = "transformer",
    eval_every: int = 50,
    n_samples: int = 4,
    sample_tokens: int = 40,
    name: str = "my-model",
) -> Iterator[LiveEvent]:
    """Train on ``text`` ("names", "shakespeare" or any text); one LiveEvent per step (see the module doc).

    ``kind="bigram"``: the count table, one event. Settings out of range raise InputError in words.
    """
    for key, value in dict(
        n_layer=n_layer, n_embd=n_embd, block_size=block_size, steps=steps, batch_size=batch_size
    ).items():
        _check(key, value)
    if n_embd % 16:
        raise InputError(f"The width must be a multiple of 16 (16 per attention head), got {n_embd}.")
    if kind not in LIVE_KINDS:
        raise InputError(f"The model must be one of {', '.join(LIVE_KINDS)}, got {kind!r}.")
    lr = 3e-3 if lr is None else lr
    if not (isinstance(lr, float | int) and 1e-5 <= lr <= 0.1):
        raise InputError(f"The learning rate must be between 1e-5 and 0.1, got {lr!r}.")
    t0 = time.perf_counter()
    data = prepare(text, block_size, heldout_fraction)
    block = NAMES_BLOCK if data.is_names else block_size
    hx, hy = data.heldout_x, data.heldout_y
    bigram = _bigram(data)
    reference = {
        "bigram": heldout_nll(bigram, hx, hy),
        "uniform": math.log(data.vocab.size - len(data.vocab.input_only_ids)),
    }
    card = {"data": data.description, "vocab": data.vocab.to_dict(), "trained_live": True}

    def as_model(net: nn.Module, kind_: str) -> TextModel:
        net.eval()
        return TextModel(
            name=name, vocab=data.vocab, net=net, card={**card, "kind": kind_, "config": net.config.to_dict()}
        )

    def samples(lm: TextModel) -> list[str]:
        out = []
        for s in range(n_samples):
            out.append("".join(step.token for step in generate(lm, "", sample_tokens, seed=s) if not step.is_end))
        return out

    if kind == "bigram":
        lm = as_model(bigram, "bigram")
        lm.card["metrics"] = {"heldout_nll": reference["bigram"], "steps": 1}
        elapsed = time.perf_counter() - t0
        probe = prefix_costs(bigram, data.vocab, hx[0], hy[0])
        yield LiveEvent(1, reference["bigram"], reference["bigram"], samples(lm), elapsed, lm, lm, probe, reference)
        return
    causal = causal or kind in ("mlp", "gru")  # a window and a recurrence are causal by construction
    torch.manual_seed(seed)
    net = build_net(kind, data.vocab, block, n_layer, n_embd, causal)
    g = torch.Generator().manual_seed(seed)

    def step_loss(it: int) -> torch.Tensor:
        if data.is_names:
            ix = torch.randint(len(data.train_x), (batch_size,), generator=g)
            return net(data.train_x[ix], data.train_y[ix])[1]
        x, y = text_batch(data.train_x, block, batch_size, data.vocab.bos_id, g)
        return net(x, y)[1]

    rows = torch.randperm(len(hx), generator=torch.Generator().manual_seed(0))[:EVAL_ROWS]
    score = prefix_nll if not causal else heldout_nll

    def evaluate() -> dict:
        return {"heldout": score(net, hx[rows], hy[rows])}

    optimizer = adamw(net, lr, 0.01, betas=(0.9, 0.99), decay_matrices_only=True)
    schedule = Schedule(lr, min(50, steps // 10 + 1), steps)
    first = True
    for p in train_steps(net, step_loss, optimizer, schedule, steps, evaluate, eval_every):
        event = LiveEvent(p.step, p.loss, None, [], time.perf_counter() - t0, reference=reference if first else {})
        first = False
        if p.evaluation is not None:
            final = p.step == steps
            event.heldout_loss = score(net, hx, hy) if final else p.evaluation["heldout"]  # final: every sequence
            event.snapshot = as_model(copy.deepcopy(net).requires_grad_(False), kind)
            event.snapshot.card["metrics"] = {"heldout_nll": event.heldout_loss, "steps": p.step}
            event.samples = samples(event.snapshot)
            event.probe = prefix_costs(net, data.vocab, hx[0], hy[0])
            event.model = event.snapshot if final else None
            net.train(not final)
        yield event
